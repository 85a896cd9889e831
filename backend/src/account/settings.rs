//! Account settings: profile, password change and e-mail change. Password and e-mail changes need an open sudo
//! window (checked here, so no caller can forget it); every change writes its audit row in its own transaction.
use crate::account::jobs::{
    AccountDeletionScheduled, DeleteAccount, EmailChangeConfirm, EmailChangeNotice, EmailChanged,
};
use crate::signin::jobs::PasswordChanged;
use crate::signin::password_policy::{normalize_password, NewPassword, PasswordContext};
use crate::{
    platform::audit::{self, Event},
    platform::jobs,
    platform::request::{CurrentSession, RequestContext},
    signin::accounts,
    signin::sessions::{self, NewSession},
    signin::sudo,
    signin::tokens::{self, Purpose},
    AppState, Error,
};
use domain::validation::{DisplayName, EmailAddress};

/// Opens a transaction and uses the live mailed link `token` of `purpose` in it: once only, a concurrent use loses.
async fn use_link(
    st: &AppState,
    token: &str,
    purpose: Purpose,
    now: i64,
) -> Result<(crate::platform::db::Tx, tokens::Live), Error> {
    let live = tokens::find_by_link(&st.db.pool, token, purpose, now).await?.ok_or(Error::InvalidToken)?;
    let mut tx = st.db.begin().await?;
    if !tokens::consume(&mut tx, &live.id, now).await? {
        return Err(Error::InvalidToken);
    }
    Ok((tx, live))
}

/// What the settings page shows.
pub struct Settings {
    pub email: String,
    pub display_name: Option<String>,
    pub pending_email: Option<String>,
    pub has_password: bool,
}

pub async fn load(st: &AppState, user_id: &str) -> Result<Settings, Error> {
    let (email, display_name, pending_email, hash): (String, Option<String>, Option<String>, Option<String>) =
        sqlx::query_as("SELECT email, display_name, pending_email, password_hash FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_one(&st.db.pool)
            .await?;
    Ok(Settings { email, display_name, pending_email, has_password: hash.is_some() })
}

pub async fn update_profile(
    st: &AppState,
    ctx: &RequestContext,
    session: &CurrentSession,
    display_name: Option<&DisplayName>,
) -> Result<(), Error> {
    let now = st.clock.now();
    let mut tx = st.db.begin().await?;
    sqlx::query("UPDATE users SET display_name = $1, updated_at = $2 WHERE id = $3")
        .bind(display_name.map(DisplayName::as_str))
        .bind(now)
        .bind(&session.user_id)
        .execute(&mut *tx)
        .await?;
    audit::record(&mut tx, ctx, now, Event::by_user("user.profile_update", &session.user_id)).await?;
    tx.commit().await?;
    Ok(())
}

/// Changes the password: sudo, the current password (counted toward lockout when wrong), and a new one that meets
/// the policy. Every other session ends and this one gets a new token; outstanding reset and sign-in links die;
/// the owner is mailed.
pub async fn change_password(
    st: &AppState,
    ctx: &RequestContext,
    session: &CurrentSession,
    current: &str,
    new: &str,
) -> Result<NewSession, Error> {
    sudo::require(st, session)?;
    // An account without a password (made through a sign-in provider) sets its first one behind sudo alone.
    let has_password = accounts::has_password(st, &session.user_id).await?;
    if has_password && current.is_empty() {
        return Err(Error::Field("current_password", "Enter your current password.".into()));
    }
    let context = PasswordContext { app_name: &st.config.app_name, email: Some(&session.email) };
    let new = NewPassword::parse(new, &context).map_err(|m| Error::Field("password", m))?;
    if has_password {
        match accounts::verify_password_of(st, ctx, &session.user_id, current, "user.password_change").await {
            Err(Error::InvalidCredentials) => {
                return Err(Error::Field("current_password", "That is not your current password.".into()))
            }
            other => other?,
        }
        if normalize_password(current) == new.expose() {
            return Err(Error::Field("password", "Choose a password different from your current one.".into()));
        }
    }
    let hash = st.hasher.hash(new.expose()).await?;
    let now = st.clock.now();
    let mut tx = st.db.begin().await?;
    sqlx::query("UPDATE users SET password_hash = $1, password_change_required = 0, updated_at = $2 WHERE id = $3")
        .bind(&hash)
        .bind(now)
        .bind(&session.user_id)
        .execute(&mut *tx)
        .await?;
    let ended = sessions::end_all_for_user(&mut tx, &session.user_id, Some(&session.session_id)).await?;
    crate::signin::mfa::revoke_all_trust(&mut tx, &session.user_id).await?;
    let fresh = sessions::rotate(&mut tx, st, session, None).await?;
    for purpose in [Purpose::ResetPassword, Purpose::MagicLink] {
        tokens::revoke_all(&mut tx, &session.user_id, purpose, now).await?;
    }
    let detail = format!("{ended} other sessions ended");
    audit::record(&mut tx, ctx, now, Event::by_user("user.password_change", &session.user_id).detail(&detail)).await?;
    let job = jobs::enqueue(&mut tx, st, PasswordChanged { user_id: session.user_id.clone() }).await?;
    tx.commit().await?;
    jobs::after_commit(st, &[job]).await;
    Ok(fresh)
}

/// Starts an e-mail change: a link to the new address (24 h) and a notice with a cancel link to the current one.
/// Nothing changes until the link is used. An address that already has an account is handled the same way here —
/// it is kept as pending and both mails are queued — and only the mail job tells it apart (its owner is told that
/// someone tried, and no link is made), so neither the answer nor the page tells which addresses are registered
/// (S13, L3).
pub async fn request_email_change(
    st: &AppState,
    ctx: &RequestContext,
    session: &CurrentSession,
    new: &EmailAddress,
) -> Result<String, Error> {
    // An address not yet proven must not be moved elsewhere: that would carry a squatter's account past the owner's
    // recovery (M3).
    sudo::require_confirmed(session)?;
    sudo::require(st, session)?;
    if new.as_str() == session.email {
        return Err(Error::Field("email", "That is already your e-mail address.".into()));
    }
    st.limits.mail(new.as_str(), ctx.ip).map_err(Error::RateLimited)?;
    let now = st.clock.now();
    let mut tx = st.db.begin().await?;
    // The account's row first: on PostgreSQL this waits for a mail job that holds it while making the previous
    // address's link (`jobs::issue_change_link`), so the revocation below sees that link and ends it.
    sqlx::query("UPDATE users SET pending_email = $1, updated_at = $2 WHERE id = $3")
        .bind(new.as_str())
        .bind(now)
        .bind(&session.user_id)
        .execute(&mut *tx)
        .await?;
    for purpose in [Purpose::ChangeEmail, Purpose::CancelEmailChange] {
        tokens::revoke_all(&mut tx, &session.user_id, purpose, now).await?;
    }
    let user_id = session.user_id.clone();
    jobs::enqueue_at(
        &mut tx,
        st,
        EmailChangeConfirm { user_id: user_id.clone(), new_email: Some(new.as_str().to_string()) },
        now,
    )
    .await?;
    jobs::enqueue_at(&mut tx, st, EmailChangeNotice { user_id }, now).await?;
    audit::record(&mut tx, ctx, now, Event::by_user("user.email_change_requested", &session.user_id)).await?;
    tx.commit().await?;
    jobs::wake_worker(st);
    Ok(new.as_str().to_string())
}

/// How long a deleted account can still be kept (the mailed link works this long).
pub const DELETION_GRACE_SECS: i64 = 7 * 24 * 3600;

/// Schedules the account's deletion (sudo, and the address typed as confirmation): every session and mailed link
/// ends at once, sign-in is refused, the owner gets a mail with a link that keeps the account, and a job removes
/// it when the grace period ends.
pub async fn schedule_deletion(
    st: &AppState,
    ctx: &RequestContext,
    session: &CurrentSession,
    typed_email: &str,
) -> Result<(), Error> {
    sudo::require(st, session)?;
    if !typed_email.trim().eq_ignore_ascii_case(&session.email) {
        return Err(Error::Field("confirm_email", "Type your e-mail address exactly to confirm.".into()));
    }
    let now = st.clock.now();
    let due = now + DELETION_GRACE_SECS;
    let mut tx = st.db.begin().await?;
    let owned = crate::orgs::solely_owned_with_others(&mut tx, &session.user_id).await?;
    if !owned.is_empty() {
        return Err(Error::Field(
            "confirm_email",
            format!(
                "You are the only owner of {}: make another member owner (or delete the organization) first.",
                owned.join(", ")
            ),
        ));
    }
    sqlx::query("UPDATE users SET deletion_scheduled_at = $1, pending_email = NULL, updated_at = $2 WHERE id = $3")
        .bind(due)
        .bind(now)
        .bind(&session.user_id)
        .execute(&mut *tx)
        .await?;
    sessions::end_all_for_user(&mut tx, &session.user_id, None).await?;
    crate::api::tokens::revoke_all_for_user(&mut tx, &session.user_id).await?;
    crate::provider::grants::revoke_all_for_user(&mut tx, &session.user_id).await?;
    tokens::revoke_every_purpose(&mut tx, &session.user_id, now).await?;
    audit::record(&mut tx, ctx, now, Event::by_user("user.deletion_scheduled", &session.user_id)).await?;
    let user_id = session.user_id.clone();
    jobs::enqueue_at(&mut tx, st, DeleteAccount { user_id: user_id.clone() }, due).await?;
    let mail = jobs::enqueue(&mut tx, st, AccountDeletionScheduled { user_id }).await?;
    tx.commit().await?;
    jobs::after_commit(st, &[mail]).await;
    Ok(())
}

/// Keeps an account whose deletion is scheduled, from the mailed link. The owner then logs in again.
pub async fn cancel_deletion_by_link(st: &AppState, ctx: &RequestContext, token: &str) -> Result<(), Error> {
    let now = st.clock.now();
    let (mut tx, live) = use_link(st, token, Purpose::CancelDeletion, now).await?;
    let r = sqlx::query(
        "UPDATE users SET deletion_scheduled_at = NULL, updated_at = $1 \
         WHERE id = $2 AND email = $3 AND deletion_scheduled_at > $1",
    )
    .bind(now)
    .bind(&live.user_id)
    .bind(&live.sent_to)
    .execute(&mut *tx)
    .await?;
    if r.rows_affected() != 1 {
        return Err(Error::InvalidToken);
    }
    audit::record(&mut tx, ctx, now, Event::by_user("user.deletion_cancelled", &live.user_id)).await?;
    tx.commit().await?;
    Ok(())
}

/// The deletion job: removes the account (its sessions and tokens go with it) once the grace period is over,
/// unless the owner kept it. The audit trail stays, with the account's id.
pub async fn delete_if_due(st: &AppState, user_id: &str) -> Result<(), Error> {
    let now = st.clock.now();
    let ctx = RequestContext::system();
    let mut tx = st.db.begin().await?;
    let due: Option<(String,)> = sqlx::query_as(
        "SELECT id FROM users WHERE id = $1 AND deletion_scheduled_at IS NOT NULL AND deletion_scheduled_at <= $2",
    )
    .bind(user_id)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    if due.is_some() {
        crate::orgs::before_account_deletion(&mut tx, st, &ctx, user_id, now).await?;
    }
    let r = sqlx::query(
        "DELETE FROM users WHERE id = $1 AND deletion_scheduled_at IS NOT NULL AND deletion_scheduled_at <= $2",
    )
    .bind(user_id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    if r.rows_affected() == 1 {
        audit::record(&mut tx, &ctx, now, Event::on_user("user.deleted", user_id)).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The new address a live change link belongs to, without using it (for the landing page).
pub async fn change_link_address(st: &AppState, token: &str) -> Result<Option<String>, Error> {
    Ok(tokens::find_by_link(&st.db.pool, token, Purpose::ChangeEmail, st.clock.now()).await?.map(|l| l.sent_to))
}

/// Completes an e-mail change from the link mailed to the new address: the address changes (confirmed, since the
/// link proved it), every session ends, links sent to the old address die, and the old address is told.
pub async fn confirm_email_change(st: &AppState, ctx: &RequestContext, token: &str) -> Result<(), Error> {
    let now = st.clock.now();
    let (mut tx, live) = use_link(st, token, Purpose::ChangeEmail, now).await?;
    let (old_email,): (String,) = sqlx::query_as("SELECT email FROM users WHERE id = $1 AND pending_email = $2")
        .bind(&live.user_id)
        .bind(&live.sent_to)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(Error::InvalidToken)?;
    let (taken,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM users WHERE email = $1").bind(&live.sent_to).fetch_one(&mut *tx).await?;
    if taken > 0 {
        return Err(Error::Field(
            "token",
            "Another account registered this address in the meantime, so it cannot be yours.".into(),
        ));
    }
    sqlx::query(
        "UPDATE users SET email = $1, pending_email = NULL, confirmed_at = COALESCE(confirmed_at, $2), \
         updated_at = $2 WHERE id = $3",
    )
    .bind(&live.sent_to)
    .bind(now)
    .bind(&live.user_id)
    .execute(&mut *tx)
    .await?;
    for purpose in
        [Purpose::ChangeEmail, Purpose::CancelEmailChange, Purpose::Confirm, Purpose::ResetPassword, Purpose::MagicLink]
    {
        tokens::revoke_all(&mut tx, &live.user_id, purpose, now).await?;
    }
    sessions::end_all_for_user(&mut tx, &live.user_id, None).await?;
    // Browsers trusted under the old address skip no code under the new one (L1).
    crate::signin::mfa::revoke_all_trust(&mut tx, &live.user_id).await?;
    audit::record(&mut tx, ctx, now, Event::by_user("user.email_change", &live.user_id).detail(&old_email)).await?;
    let job = EmailChanged { user_id: live.user_id.clone(), old_email };
    let job_id = jobs::enqueue(&mut tx, st, job).await?;
    tx.commit().await?;
    jobs::after_commit(st, &[job_id]).await;
    Ok(())
}

/// Cancels a pending e-mail change from the link mailed to the current address.
pub async fn cancel_email_change_by_link(st: &AppState, ctx: &RequestContext, token: &str) -> Result<(), Error> {
    let now = st.clock.now();
    let (mut tx, live) = use_link(st, token, Purpose::CancelEmailChange, now).await?;
    cancel_in(&mut tx, ctx, &live.user_id, Some(&live.sent_to), now, "link from the old address").await?;
    tx.commit().await?;
    Ok(())
}

/// Cancels the pending change from the settings page.
pub async fn cancel_email_change(st: &AppState, ctx: &RequestContext, session: &CurrentSession) -> Result<(), Error> {
    sudo::not_impersonating(session)?;
    let now = st.clock.now();
    let mut tx = st.db.begin().await?;
    cancel_in(&mut tx, ctx, &session.user_id, None, now, "settings").await?;
    tx.commit().await?;
    Ok(())
}

async fn cancel_in(
    tx: &mut crate::platform::db::Tx,
    ctx: &RequestContext,
    user_id: &str,
    only_if_email: Option<&str>,
    now: i64,
    how: &str,
) -> Result<(), Error> {
    // The cancel link names the address it was sent to: it works only while that is still the account's address.
    let r = sqlx::query(
        "UPDATE users SET pending_email = NULL, updated_at = $1 \
         WHERE id = $2 AND pending_email IS NOT NULL AND email = COALESCE($3, email)",
    )
    .bind(now)
    .bind(user_id)
    .bind(only_if_email)
    .execute(&mut **tx)
    .await?;
    if r.rows_affected() != 1 {
        return Err(Error::InvalidToken);
    }
    for purpose in [Purpose::ChangeEmail, Purpose::CancelEmailChange] {
        tokens::revoke_all(tx, user_id, purpose, now).await?;
    }
    audit::record(tx, ctx, now, Event::by_user("user.email_change_cancelled", user_id).detail(how)).await?;
    Ok(())
}
