//! Registration, confirmation and the password sign-in path.
mod password;
use crate::signin::jobs::{AccountLocked, AlreadyRegistered, ConfirmEmail, PasswordReset};
use crate::signin::password_policy::{normalize_password, NewPassword};
use crate::{
    platform::audit::{self, Event},
    platform::crypto::new_id,
    platform::jobs::{self, Queued},
    platform::request::RequestContext,
    signin::attempts::{self, Claim},
    signin::gate::{self, FirstFactor, SignIn},
    signin::passwords::Verified,
    signin::sessions,
    signin::tokens::{self, Purpose},
    AppState, Error,
};
use domain::validation::{parse_code6, EmailAddress};
pub use password::{flag_password_change, log_in_with_password, require_password_change, verify_password_of};

#[derive(sqlx::FromRow)]
struct UserRow {
    id: String,
    email: String,
    password_hash: Option<String>,
    confirmed_at: Option<i64>,
    password_change_required: i64,
    locked_at: Option<i64>,
    deletion_scheduled_at: Option<i64>,
}

/// The audit detail of a password tried on an account whose password must change (its owner is mailed a reset link).
const FLAGGED: &str = "password; password change required";

impl UserRow {
    /// Why no password may open this account now, whatever it is: such accounts are answered like a wrong
    /// password, after the same dummy hash, so a right password learns nothing (L4). `signed_in`: the check is the
    /// owner's own, from a session (sudo, a password change), where a flagged password may still be replaced.
    fn refused(&self, signed_in: bool) -> Option<&'static str> {
        if self.locked_at.is_some() {
            Some("password; locked by an admin")
        } else if self.deletion_scheduled_at.is_some() {
            Some("password; account closing")
        } else if self.password_change_required != 0 && !signed_in {
            Some(FLAGGED)
        } else {
            None
        }
    }
}

const USER_COLUMNS: &str = "SELECT id, email, password_hash, confirmed_at, password_change_required, locked_at, \
                            deletion_scheduled_at FROM users";

async fn find_user(st: &AppState, email: &EmailAddress) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as(&format!("{USER_COLUMNS} WHERE email = $1")).bind(email.as_str()).fetch_optional(&st.db.pool).await
}

async fn find_user_by_id(st: &AppState, user_id: &str) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as(&format!("{USER_COLUMNS} WHERE id = $1")).bind(user_id).fetch_optional(&st.db.pool).await
}

/// Registers `email`, answering the same way whether or not it already has an account: the new user gets a
/// confirmation mail, an existing owner a "someone tried to register" mail (both out of band, both hashed for the
/// same cost). Mail to one address is rate-limited; past the limit the request still succeeds and sends nothing.
pub async fn register(
    st: &AppState,
    ctx: &RequestContext,
    email: &EmailAddress,
    password: &NewPassword,
) -> Result<(), Error> {
    let hash = st.hasher.hash(password.expose()).await?;
    let may_mail = st.limits.mail(email.as_str(), ctx.ip).is_ok();
    let now = st.clock.now();
    let mut tx = st.db.begin().await?;
    let existing: Option<(String,)> =
        sqlx::query_as("SELECT id FROM users WHERE email = $1").bind(email.as_str()).fetch_optional(&mut *tx).await?;
    let mut job_ids = Vec::new();
    match existing {
        Some((user_id,)) => {
            audit::record(
                &mut tx,
                ctx,
                now,
                Event::failed("user.register", Some(&user_id)).detail("email already registered"),
            )
            .await?;
            if may_mail {
                job_ids.push(jobs::enqueue(&mut tx, st, AlreadyRegistered { user_id }).await?);
            }
        }
        None => {
            let user_id = new_id();
            sqlx::query(
                "INSERT INTO users (id, email, password_hash, failed_logins, created_at, updated_at) VALUES ($1, $2, $3, 0, $4, $4)",
            )
            .bind(&user_id)
            .bind(email.as_str())
            .bind(&hash)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            audit::record(&mut tx, ctx, now, Event::by_user("user.register", &user_id)).await?;
            if may_mail {
                job_ids.push(jobs::enqueue(&mut tx, st, ConfirmEmail { user_id }).await?);
            }
        }
    }
    tx.commit().await?;
    jobs::after_commit(st, &job_ids).await;
    Ok(())
}

/// Queues a mail for the account behind `email`, if there is one and `job` wants one for it, with its audit
/// row. Rate-limited per address and per client. The caller answers the same whether or not anything was sent, and
/// the request does the same work either way (one write transaction with an audit row; the mail goes to the worker,
/// never out of the request), so neither the answer nor its timing tells which addresses have accounts (S13, L9).
pub async fn mail_account(
    st: &AppState,
    ctx: &RequestContext,
    email: &EmailAddress,
    action: &str,
    job: impl FnOnce(String, bool) -> Option<Queued>,
) -> Result<(), Error> {
    st.limits.mail(email.as_str(), ctx.ip).map_err(Error::RateLimited)?;
    let user = find_user(st, email).await?;
    let job = user.as_ref().and_then(|u| job(u.id.clone(), u.confirmed_at.is_some()));
    let now = st.clock.now();
    let mut tx = st.db.begin().await?;
    let event = match (&user, &job) {
        (Some(u), Some(_)) => Event::by_user(action, &u.id),
        (Some(u), None) => Event::failed(action, Some(&u.id)).detail("nothing to send"),
        (None, _) => Event::failed(action, None).detail("no account"),
    };
    audit::record(&mut tx, ctx, now, event).await?;
    let queued = job.is_some();
    if let Some(job) = job {
        jobs::enqueue_at(&mut tx, st, job, now).await?;
    }
    tx.commit().await?;
    if queued {
        jobs::wake_worker(st);
    }
    Ok(())
}

/// Sends a new confirmation mail if the address has an unconfirmed account.
pub async fn resend_confirmation(st: &AppState, ctx: &RequestContext, email: &EmailAddress) -> Result<(), Error> {
    mail_account(st, ctx, email, "user.confirmation_resent", |user_id, confirmed| {
        (!confirmed).then_some(ConfirmEmail { user_id }.into())
    })
    .await
}

/// Whether a confirmation link is live, for the landing page (which must not consume it).
pub async fn confirmation_link_is_live(st: &AppState, token: &str) -> Result<bool, Error> {
    Ok(tokens::find_by_link(&st.db.pool, token, Purpose::Confirm, st.clock.now()).await?.is_some())
}

/// Confirms by the link's token (POSTed from the landing page).
pub async fn confirm_by_token(st: &AppState, ctx: &RequestContext, token: &str) -> Result<(), Error> {
    let now = st.clock.now();
    let live = tokens::find_by_link(&st.db.pool, token, Purpose::Confirm, now).await?.ok_or(Error::InvalidToken)?;
    let mut tx = st.db.begin().await?;
    confirm_in(&mut tx, ctx, &live, now, "link").await?;
    tx.commit().await?;
    Ok(())
}

/// Confirms by the 6-digit code (spaces and dashes allowed). Wrong codes count against the live tokens.
pub async fn confirm_by_code(
    st: &AppState,
    ctx: &RequestContext,
    email: &EmailAddress,
    code: &str,
) -> Result<(), Error> {
    st.limits.account(email.as_str()).map_err(Error::RateLimited)?;
    let code = parse_code6(code).map_err(|_| Error::InvalidToken)?;
    let now = st.clock.now();
    let Some(user) = find_user(st, email).await? else {
        return Err(Error::InvalidToken);
    };
    let mut tx = st.db.begin().await?;
    let matched =
        tokens::match_code(&mut tx, st.config.secret_key.expose(), &user.id, Purpose::Confirm, &code, now).await?;
    let result = match matched {
        Some(live) => confirm_in(&mut tx, ctx, &live, now, "code").await,
        None => {
            audit::record(&mut tx, ctx, now, Event::failed("user.confirm", Some(&user.id)).detail("wrong code"))
                .await?;
            Err(Error::InvalidToken)
        }
    };
    // Commit in both cases: a miss must count.
    tx.commit().await?;
    result
}

async fn confirm_in(
    tx: &mut crate::platform::db::Tx,
    ctx: &RequestContext,
    live: &tokens::Live,
    now: i64,
    how: &str,
) -> Result<(), Error> {
    // The confirming browser keeps its session if it is the account's own.
    let keep = ctx.session.as_ref().filter(|s| s.user_id == live.user_id).map(|s| s.session_id.as_str());
    redeem_mailed_token(tx, live, Purpose::Confirm, now, keep).await?;
    audit::record(tx, ctx, now, Event::by_user("user.confirm", &live.user_id).detail(how)).await?;
    Ok(())
}

/// Uses a mailed link's token in `tx`: once only (a concurrent use loses), only while the account still has the
/// address it was sent to, and every other live token of the same purpose ends with it. Opening the mail proved
/// the mailbox, so the address counts as confirmed and a password pause is lifted.
///
/// When this is the first proof of the address, whatever the account gathered before it is not the owner's to
/// trust: passkeys, linked providers, the authenticator, backup codes, trusted browsers, pending sign-ins and every
/// session but `keep` (the confirming browser's own) are removed (M3).
pub(crate) async fn redeem_mailed_token(
    tx: &mut crate::platform::db::Tx,
    live: &tokens::Live,
    purpose: Purpose,
    now: i64,
    keep: Option<&str>,
) -> Result<(), Error> {
    if !tokens::consume(tx, &live.id, now).await? {
        return Err(Error::InvalidToken);
    }
    let prior: Option<(Option<i64>,)> = sqlx::query_as("SELECT confirmed_at FROM users WHERE id = $1")
        .bind(&live.user_id)
        .fetch_optional(&mut **tx)
        .await?;
    let r = sqlx::query(&format!(
        "UPDATE users SET confirmed_at = COALESCE(confirmed_at, $1), {}, {}, updated_at = $1 \
         WHERE id = $2 AND email = $3",
        attempts::PASSWORD.reset_assignments(),
        attempts::SECOND_FACTOR.reset_assignments()
    ))
    .bind(now)
    .bind(&live.user_id)
    .bind(&live.sent_to)
    .execute(&mut **tx)
    .await?;
    if r.rows_affected() != 1 {
        return Err(Error::InvalidToken);
    }
    tokens::revoke_all(tx, &live.user_id, purpose, now).await?;
    if matches!(prior, Some((None,))) {
        first_proof(tx, &live.user_id, keep, now).await?;
    }
    Ok(())
}

/// The first proof of an account's address (a confirmation link or code, a password reset, a sign-in link, a mailed
/// invitation): whatever the account gathered before it is not the owner's to trust, so it goes — passkeys, linked
/// providers and held links, the authenticator and backup codes, trusted browsers, pending sign-ins, a pending
/// e-mail change and every other mailed link, and every session but `keep` (the confirming browser's own, M3).
/// Call it in the transaction that records the proof, after the proof was checked.
pub(crate) async fn first_proof(
    tx: &mut crate::platform::db::Tx,
    user_id: &str,
    keep: Option<&str>,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET pending_email = NULL WHERE id = $1").bind(user_id).execute(&mut **tx).await?;
    tokens::revoke_every_purpose(tx, user_id, now).await?;
    for table in ["passkeys", "user_identities", "pending_links"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE user_id = $1")).bind(user_id).execute(&mut **tx).await?;
    }
    crate::signin::mfa::remove_all(tx, user_id).await?;
    crate::api::tokens::revoke_all_for_user(tx, user_id).await?;
    crate::provider::grants::revoke_all_for_user(tx, user_id).await?;
    sessions::end_all_for_user(tx, user_id, keep).await?;
    Ok(())
}

/// Whether the user has a password at all (accounts made by a provider or a passkey may not).
/// Password, passkeys and linked providers: what the account can sign in with besides a mailed link. Removing the
/// last of them is refused.
pub async fn ways_to_sign_in(tx: &mut crate::platform::db::Tx, user_id: &str) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM passkeys WHERE user_id = $1) + \
         (SELECT COUNT(*) FROM user_identities WHERE user_id = $1) + \
         (SELECT COUNT(*) FROM users WHERE id = $1 AND password_hash IS NOT NULL)",
    )
    .bind(user_id)
    .fetch_one(&mut **tx)
    .await?;
    Ok(n)
}

/// A kind of sign-in method a user can remove: its table, the column that names a row (for the audit and the mail),
/// the audit action, and the message when it is the last way to sign in.
pub struct SignInMethod {
    pub table: &'static str,
    pub label: &'static str,
    pub audit: &'static str,
    pub field: &'static str,
    pub last_way: &'static str,
}

/// Removes one of the user's sign-in methods (a passkey, a linked provider): behind sudo, their own only (another
/// user's id is "not found"), never the last way to sign in; audited with the row's label, and `job(label)` mails
/// the owner.
pub async fn remove_sign_in_method(
    st: &AppState,
    ctx: &RequestContext,
    session: &crate::platform::request::CurrentSession,
    method: &SignInMethod,
    id: &str,
    keep_others: bool,
    job: impl FnOnce(String) -> Queued,
) -> Result<(), Error> {
    crate::signin::sudo::require(st, session)?;
    let now = st.clock.now();
    let mut tx = st.db.begin().await?;
    let row: Option<(String,)> =
        sqlx::query_as(&format!("SELECT {} FROM {} WHERE id = $1 AND user_id = $2", method.label, method.table))
            .bind(id)
            .bind(&session.user_id)
            .fetch_optional(&mut *tx)
            .await?;
    let Some((label,)) = row else { return Err(Error::NotFound) };
    if ways_to_sign_in(&mut tx, &session.user_id).await? <= 1 {
        return Err(Error::Field(method.field, method.last_way.into()));
    }
    sqlx::query(&format!("DELETE FROM {} WHERE id = $1 AND user_id = $2", method.table))
        .bind(id)
        .bind(&session.user_id)
        .execute(&mut *tx)
        .await?;
    sessions::end_others_after_factor_change(&mut tx, session, keep_others).await?;
    let event = crate::platform::audit::Event::by_user(method.audit, &session.user_id).detail(&label);
    crate::platform::audit::record(&mut tx, ctx, now, event).await?;
    let queued = crate::platform::jobs::enqueue(&mut tx, st, job(label)).await?;
    tx.commit().await?;
    crate::platform::jobs::after_commit(st, &[queued]).await;
    Ok(())
}

pub async fn has_password(st: &AppState, user_id: &str) -> Result<bool, Error> {
    Ok(find_user_by_id(st, user_id).await?.is_some_and(|u| u.password_hash.is_some()))
}
