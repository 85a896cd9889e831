//! Password reset by e-mailed link: same answer for every address, 1 h single-use token, and a reset ends every
//! session (remember-me included) and lifts a password lock.
use crate::signin::jobs::{PasswordChanged, PasswordReset};
use crate::signin::password_policy::{NewPassword, PasswordContext};
use crate::{
    platform::audit::{self, Event},
    platform::jobs,
    platform::request::RequestContext,
    signin::accounts,
    signin::tokens::{self, Purpose},
    AppState, Error,
};
use domain::validation::EmailAddress;

/// Mails a reset link if the address has an account. Rate-limited per address and per client; the answer is the
/// same whether or not the account exists.
pub async fn request(st: &AppState, ctx: &RequestContext, email: &EmailAddress) -> Result<(), Error> {
    accounts::mail_account(st, ctx, email, "user.password_reset_requested", |user_id, _| {
        Some(PasswordReset { user_id }.into())
    })
    .await
}

/// The address a live reset link belongs to (for the password rules on the landing page), without using it.
pub async fn link_email(st: &AppState, token: &str) -> Result<Option<String>, Error> {
    let live = tokens::find_by_link(&st.db.pool, token, Purpose::ResetPassword, st.clock.now()).await?;
    Ok(live.map(|l| l.sent_to))
}

/// Sets the new password. Every session of the user ends; the lock and failure count are cleared; the address is
/// confirmed (the link proved it); the owner gets a notice.
pub async fn reset(st: &AppState, ctx: &RequestContext, token: &str, password: &str) -> Result<(), ResetError> {
    let now = st.clock.now();
    let live = tokens::find_by_link(&st.db.pool, token, Purpose::ResetPassword, now)
        .await
        .map_err(Error::from)?
        .ok_or(ResetError::Account(Error::InvalidToken))?;
    let context = PasswordContext { app_name: &st.config.app_name, email: Some(&live.sent_to) };
    let password = NewPassword::parse(password, &context).map_err(ResetError::Password)?;
    let hash = st.hasher.hash(password.expose()).await.map_err(Error::from)?;
    let mut tx = st.db.begin().await.map_err(Error::from)?;
    let result: Result<String, Error> = async {
        accounts::redeem_mailed_token(&mut tx, &live, Purpose::ResetPassword, now, None).await?;
        sqlx::query("UPDATE users SET password_hash = $1, password_change_required = 0 WHERE id = $2")
            .bind(&hash)
            .bind(&live.user_id)
            .execute(&mut *tx)
            .await?;
        crate::signin::sessions::end_all_for_user(&mut tx, &live.user_id, None).await?;
        crate::provider::grants::revoke_all_for_user(&mut tx, &live.user_id).await?;
        crate::signin::mfa::revoke_all_trust(&mut tx, &live.user_id).await?;
        audit::record(&mut tx, ctx, now, Event::by_user("user.password_reset", &live.user_id)).await?;
        Ok(jobs::enqueue(&mut tx, st, PasswordChanged { user_id: live.user_id.clone() }).await?)
    }
    .await;
    let job = result.map_err(ResetError::Account)?;
    tx.commit().await.map_err(Error::from)?;
    jobs::after_commit(st, &[job]).await;
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum ResetError {
    #[error("the new password does not meet the policy: {0}")]
    Password(String),
    #[error(transparent)]
    Account(#[from] Error),
}
