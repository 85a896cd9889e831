//! What a provider identity does to accounts: signs in (or creates an account), links to the signed-in user,
//! or re-authenticates them.
use super::*;

pub(super) async fn sign_in(
    st: &AppState,
    ctx: &RequestContext,
    provider: &OAuthProvider,
    p: Profile,
) -> Result<Outcome, Failure> {
    let now = st.clock.now();
    let mut tx = st.db.begin().await?;
    let known: Option<(String, Option<i64>)> = sqlx::query_as(
        "SELECT u.id, u.confirmed_at FROM user_identities i JOIN users u ON u.id = i.user_id \
         WHERE i.issuer = $1 AND i.subject = $2",
    )
    .bind(provider.issuer())
    .bind(&p.subject)
    .fetch_optional(&mut *tx)
    .await?;
    let user_id = match known {
        Some((user_id, confirmed_at)) => {
            sqlx::query("UPDATE user_identities SET last_used_at = $1, email = $2 WHERE issuer = $3 AND subject = $4")
                .bind(now)
                .bind(&p.email)
                .bind(provider.issuer())
                .bind(&p.subject)
                .execute(&mut *tx)
                .await?;
            if confirmed_at.is_none() && st.config.require_confirmed_email {
                return Err(Failure::Said(unconfirmed()));
            }
            user_id
        }
        None => {
            let Some(email) = p.email.clone() else {
                return Err(Failure::Said(format!(
                    "{} did not share an e-mail address, so no account can be made with it. Use another way to sign in.",
                    provider.name
                )));
            };
            if !p.email_verified {
                // An address the provider has not verified proves nothing: no account is made with it, and no link is
                // held for the account that has it (S55, M3, L8).
                audit::record(
                    &mut tx,
                    ctx,
                    now,
                    Event::failed("user.log_in", None).detail(&format!("{}: e-mail unverified", provider.id)),
                )
                .await?;
                tx.commit().await?;
                return Err(Failure::Said(format!(
                    "{} has not verified the e-mail address {email}, so it cannot sign you in here. Verify it with {}, \
                     or register with the address instead.",
                    provider.name, provider.name
                )));
            }
            let existing: Option<(String,)> =
                sqlx::query_as("SELECT id FROM users WHERE email = $1").bind(&email).fetch_optional(&mut *tx).await?;
            if let Some((owner,)) = existing {
                // Never signed in or linked by e-mail alone: the owner must prove the account first.
                let browser_token = random_token();
                sqlx::query(
                    "INSERT INTO pending_links (id, browser_digest, user_id, provider, issuer, subject, email, \
                     created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(new_id())
                .bind(token_digest(&browser_token))
                .bind(&owner)
                .bind(&provider.id)
                .bind(provider.issuer())
                .bind(&p.subject)
                .bind(&email)
                .bind(now)
                .bind(now + FLOW_SECS)
                .execute(&mut *tx)
                .await?;
                let detail = format!("{}: e-mail matches, link held for the owner", provider.id);
                audit::record(&mut tx, ctx, now, Event::failed("user.log_in", Some(&owner)).detail(&detail)).await?;
                tx.commit().await?;
                return Ok(Outcome::LinkPending { email, browser_token });
            }
            let user_id = new_id();
            sqlx::query(
                "INSERT INTO users (id, email, password_hash, confirmed_at, created_at, updated_at) \
                 VALUES ($1, $2, NULL, $3, $3, $3)",
            )
            .bind(&user_id)
            .bind(&email)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            insert_identity(&mut tx, now, &user_id, provider, &p).await?;
            let detail = format!("{} (e-mail verified)", provider.id);
            audit::record(&mut tx, ctx, now, Event::by_user("user.registered", &user_id).detail(&detail)).await?;
            user_id
        }
    };
    let signed_in = gate::sign_in(tx, st, ctx, FirstFactor { user_id, method: "oauth", remember_me: false }).await;
    Ok(Outcome::SignedIn { outcome: signed_in?, return_to: None })
}

pub(super) fn unconfirmed() -> String {
    "Confirm your e-mail address first: we have sent you a link.".into()
}

async fn insert_identity(
    tx: &mut crate::platform::db::Tx,
    now: i64,
    user_id: &str,
    provider: &OAuthProvider,
    p: &Profile,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO user_identities (id, user_id, provider, issuer, subject, email, created_at, last_used_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
    )
    .bind(new_id())
    .bind(user_id)
    .bind(&provider.id)
    .bind(provider.issuer())
    .bind(&p.subject)
    .bind(&p.email)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Adds the identity to `user_id`'s account: audited, mailed. An identity of another account is refused.
pub(super) async fn link(
    st: &AppState,
    ctx: &RequestContext,
    me: &CurrentSession,
    provider: &OAuthProvider,
    p: &Profile,
) -> Result<(), Failure> {
    let user_id = me.user_id.as_str();
    let now = st.clock.now();
    let mut tx = st.db.begin().await?;
    let owner: Option<(String,)> =
        sqlx::query_as("SELECT user_id FROM user_identities WHERE issuer = $1 AND subject = $2")
            .bind(provider.issuer())
            .bind(&p.subject)
            .fetch_optional(&mut *tx)
            .await?;
    match owner {
        Some((owner,)) if owner == user_id => return Ok(()),
        Some(_) => {
            return Err(Failure::Said(format!(
                "That {} account is already linked to another account here.",
                provider.name
            )))
        }
        None => {}
    }
    insert_identity(&mut tx, now, user_id, provider, p).await?;
    // A new way in: the account's other sessions end (S36).
    crate::signin::sessions::end_others_after_factor_change(&mut tx, me, false).await?;
    audit::record(&mut tx, ctx, now, Event::by_user("oauth.linked", user_id).detail(&provider.id)).await?;
    let job = jobs::enqueue(
        &mut tx,
        st,
        IdentityChanged { user_id: user_id.to_string(), provider: provider.id.clone(), linked: true },
    )
    .await?;
    tx.commit().await?;
    jobs::after_commit(st, &[job]).await;
    Ok(())
}

/// Sudo by provider: the identity must be one of this account's.
pub(super) async fn reauthenticate(
    st: &AppState,
    ctx: &RequestContext,
    me: &CurrentSession,
    provider: &OAuthProvider,
    p: &Profile,
    return_to: Option<String>,
) -> Result<Outcome, Failure> {
    if me.sudo_needs_second_factor() {
        // A provider proves only the first factor.
        return Err(Failure::Said(
            "Admins confirm it's them with a code from their authenticator app or a passkey.".into(),
        ));
    }
    let now = st.clock.now();
    let mut tx = st.db.begin().await?;
    let mine: Option<(String,)> =
        sqlx::query_as("SELECT id FROM user_identities WHERE issuer = $1 AND subject = $2 AND user_id = $3")
            .bind(provider.issuer())
            .bind(&p.subject)
            .bind(&me.user_id)
            .fetch_optional(&mut *tx)
            .await?;
    if mine.is_none() {
        let detail = format!("{}: not this account's", provider.id);
        audit::record(&mut tx, ctx, now, Event::failed("user.sudo", Some(&me.user_id)).detail(&detail)).await?;
        tx.commit().await?;
        return Err(Failure::Said(format!("That {} account is not linked to yours.", provider.name)));
    }
    let session = crate::signin::sessions::rotate(&mut tx, st, me, Some(now)).await?;
    audit::record(&mut tx, ctx, now, Event::by_user("user.sudo", &me.user_id).detail(&provider.id)).await?;
    tx.commit().await?;
    Ok(Outcome::Reauthenticated { session, return_to })
}
