//! Sign in by a link mailed to the address: 10 minutes, single use, same answer for unknown addresses. The link
//! is a first factor like a password: it goes through the same gate (MFA, when it arrives, still applies).
use crate::signin::jobs::MagicLink;
use crate::{
    platform::request::RequestContext,
    signin::accounts,
    signin::gate::{self, FirstFactor, SignIn},
    signin::tokens::{self, Purpose},
    AppState, Error,
};
use domain::validation::EmailAddress;

pub async fn request(st: &AppState, ctx: &RequestContext, email: &EmailAddress, return_to: &str) -> Result<(), Error> {
    let return_to =
        Some(domain::validation::safe_return_to(return_to, "")).filter(|r| !r.is_empty()).map(str::to_string);
    accounts::mail_account(st, ctx, email, "user.magic_link_requested", |user_id, _| {
        Some(MagicLink { user_id, return_to }.into())
    })
    .await
}

/// Uses the link: the token is consumed, the address counts as confirmed and a password lock is lifted (the owner
/// proved the mailbox), and the session is created in the same transaction.
pub async fn log_in(st: &AppState, ctx: &RequestContext, token: &str) -> Result<SignIn, Error> {
    let now = st.clock.now();
    let live = tokens::find_by_link(&st.db.pool, token, Purpose::MagicLink, now).await?.ok_or(Error::InvalidToken)?;
    let mut tx = st.db.begin().await?;
    accounts::redeem_mailed_token(&mut tx, &live, Purpose::MagicLink, now, None).await?;
    let first = FirstFactor { user_id: live.user_id, method: "magic_link", remember_me: false };
    gate::sign_in(tx, st, ctx, first).await
}
