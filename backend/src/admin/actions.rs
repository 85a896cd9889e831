//! What an admin can do to a user's account. Each action checks the role, runs in one transaction with its audit
//! row (actor: the admin; target: the user) and, where it affects the user, queues a mail to them. An admin never
//! sets or learns a password (S20): the password action mails the user a reset link.
use super::{require_admin_step_up, Error};
use crate::admin::jobs::{AccountDeletedByAdmin, AdminChange, AdminChanged};
use crate::signin::jobs::{ConfirmEmail, PasswordReset};
use crate::{
    platform::audit::{self, Event},
    platform::db::Tx,
    platform::jobs::{self, Queued},
    platform::request::{CurrentSession, RequestContext},
    signin::sessions,
    signin::tokens,
    AppState,
};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// No sign-in by any method; every session, mailed link and trusted browser ends at once (S35).
    Lock,
    Unlock,
    /// Ends every session of the user (S38).
    RevokeSessions,
    /// Ends one session of the user, by its id.
    RevokeSession(String),
    /// Mails the user a password-reset link.
    SendPasswordReset,
    /// The password stops signing in and every session ends until the user chooses a new one through a reset link
    /// (S5: the answer to evidence of compromise; there is no periodic expiry).
    RequirePasswordChange,
    /// Removes the authenticator, backup codes and trusted browsers (a user who lost their phone).
    ResetMfa,
    ResendConfirmation,
    /// Deletes the account now; `typed_email` must be the account's address.
    Delete {
        typed_email: String,
    },
}

impl Action {
    pub fn parse(name: &str, session_id: &str, typed_email: &str) -> Option<Self> {
        Some(match name {
            "lock" => Action::Lock,
            "unlock" => Action::Unlock,
            "revoke_sessions" => Action::RevokeSessions,
            "revoke_session" => Action::RevokeSession(session_id.to_string()),
            "send_password_reset" => Action::SendPasswordReset,
            "require_password_change" => Action::RequirePasswordChange,
            "reset_mfa" => Action::ResetMfa,
            "resend_confirmation" => Action::ResendConfirmation,
            "delete" => Action::Delete { typed_email: typed_email.to_string() },
            _ => return None,
        })
    }

    /// Actions that would let one admin take another admin's account out (or their own): those go through the
    /// command line (`admin revoke` first).
    fn spares_admins(&self) -> bool {
        matches!(
            self,
            Action::Lock
                | Action::SendPasswordReset
                | Action::RequirePasswordChange
                | Action::ResetMfa
                | Action::Delete { .. }
        )
    }
}

#[derive(sqlx::FromRow)]
struct Target {
    email: String,
    confirmed_at: Option<i64>,
    locked_at: Option<i64>,
    is_admin: i64,
    has_password: i64,
    password_change_required: i64,
}

/// Runs `action` on the account `user_id` for the admin `me`.
pub async fn act(
    st: &AppState,
    ctx: &RequestContext,
    me: &CurrentSession,
    user_id: &str,
    action: Action,
) -> Result<(), Error> {
    require_admin_step_up(st, me)?;
    let now = st.clock.now();
    let mut tx = st.db.begin().await?;
    let target: Target = sqlx::query_as(
        "SELECT email, confirmed_at, locked_at, is_admin, \
         CASE WHEN password_hash IS NULL THEN 0 ELSE 1 END AS has_password, password_change_required \
         FROM users WHERE id = $1",
    )
    .bind(user_id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(Error::NotFound)?;
    if target.is_admin == 1 && action.spares_admins() {
        return Err(Error::Refused(format!(
            "{} is an admin. Revoke the role from the command line first ({} admin revoke EMAIL).",
            target.email,
            crate::PROJECT
        )));
    }
    let admin = me.user_id.as_str();
    let mut mail = None;
    let (audit_action, detail) = match &action {
        Action::Lock => {
            if target.locked_at.is_some() {
                return Err(Error::Refused(format!("{} is already locked.", target.email)));
            }
            sqlx::query("UPDATE users SET locked_at = $1, updated_at = $1 WHERE id = $2")
                .bind(now)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            let ended = end_access(&mut tx, user_id, now).await?;
            mail = Some(Queued::from(AdminChanged { user_id: user_id.to_string(), change: AdminChange::Locked }));
            ("admin.user_locked", Some(sessions_ended(ended)))
        }
        Action::Unlock => {
            if target.locked_at.is_none() {
                return Err(Error::Refused(format!("{} is not locked.", target.email)));
            }
            // Unlocking also lifts a password lockout and its failure count.
            sqlx::query(&format!(
                "UPDATE users SET locked_at = NULL, {}, updated_at = $1 WHERE id = $2",
                crate::signin::attempts::PASSWORD.reset_assignments()
            ))
            .bind(now)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
            mail = Some(Queued::from(AdminChanged { user_id: user_id.to_string(), change: AdminChange::Unlocked }));
            ("admin.user_unlocked", None)
        }
        Action::RevokeSessions => {
            let ended = sessions::end_all_for_user(&mut tx, user_id, None).await?;
            ("admin.sessions_revoked", Some(sessions_ended(ended)))
        }
        Action::RevokeSession(id) => {
            let r = sqlx::query("DELETE FROM sessions WHERE id = $1 AND user_id = $2")
                .bind(id)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            if r.rows_affected() != 1 {
                return Err(Error::NotFound);
            }
            ("admin.session_revoked", Some(id.clone()))
        }
        Action::SendPasswordReset => {
            mail = Some(Queued::from(PasswordReset { user_id: user_id.to_string() }));
            ("admin.password_reset_sent", None)
        }
        Action::RequirePasswordChange => {
            if target.has_password == 0 {
                return Err(Error::Refused(format!(
                    "{} has no password: they sign in with a mailed link, a passkey or a provider.",
                    target.email
                )));
            }
            if target.password_change_required != 0 {
                return Err(Error::Refused(format!("{} already has to choose a new password.", target.email)));
            }
            let ended = crate::signin::accounts::flag_password_change(&mut tx, user_id, now).await?;
            mail = Some(Queued::from(AdminChanged {
                user_id: user_id.to_string(),
                change: AdminChange::PasswordChangeRequired,
            }));
            ("admin.password_change_required", Some(sessions_ended(ended)))
        }
        Action::ResetMfa => {
            if !crate::signin::mfa::remove_all(&mut tx, user_id).await? {
                return Err(Error::Refused(format!("{} has no two-step verification.", target.email)));
            }
            // A factor change: the account's sessions end with it (S36).
            let ended = sessions::end_all_for_user(&mut tx, user_id, None).await?;
            mail = Some(Queued::from(AdminChanged { user_id: user_id.to_string(), change: AdminChange::MfaReset }));
            ("admin.mfa_reset", Some(sessions_ended(ended)))
        }
        Action::ResendConfirmation => {
            if target.confirmed_at.is_some() {
                return Err(Error::Refused(format!("{} is already confirmed.", target.email)));
            }
            mail = Some(Queued::from(ConfirmEmail { user_id: user_id.to_string() }));
            ("admin.confirmation_resent", None)
        }
        Action::Delete { typed_email } => {
            if !typed_email.trim().eq_ignore_ascii_case(&target.email) {
                return Err(Error::Field("confirm_email", "Type the account's e-mail address exactly.".into()));
            }
            crate::orgs::before_account_deletion(&mut tx, st, ctx, user_id, now).await?;
            sqlx::query("DELETE FROM users WHERE id = $1").bind(user_id).execute(&mut *tx).await?;
            mail = Some(Queued::from(AccountDeletedByAdmin { email: target.email.clone() }));
            ("admin.user_deleted", None)
        }
    };
    let mut event = Event::by_admin(audit_action, admin, user_id);
    if let Some(d) = &detail {
        event = event.detail(d);
    }
    audit::record(&mut tx, ctx, now, event).await?;
    let job = match mail {
        Some(job) => Some(jobs::enqueue(&mut tx, st, job).await?),
        None => None,
    };
    tx.commit().await?;
    jobs::after_commit(st, job.as_slice()).await;
    Ok(())
}

/// The audit detail of an action that signed the user out.
fn sessions_ended(n: u64) -> String {
    format!("{n} session{} ended", if n == 1 { "" } else { "s" })
}

/// Ends everything that lets the account in without a new sign-in: sessions (impersonations included), personal
/// access tokens, mailed links, pending second-factor challenges and trusted browsers. Returns how many sessions ended.
async fn end_access(tx: &mut Tx, user_id: &str, now: i64) -> Result<u64, sqlx::Error> {
    let ended = sessions::end_all_for_user(tx, user_id, None).await?;
    crate::api::tokens::revoke_all_for_user(tx, user_id).await?;
    crate::provider::grants::revoke_all_for_user(tx, user_id).await?;
    tokens::revoke_every_purpose(tx, user_id, now).await?;
    sqlx::query("DELETE FROM mfa_challenges WHERE user_id = $1").bind(user_id).execute(&mut **tx).await?;
    crate::signin::mfa::revoke_all_trust(tx, user_id).await?;
    Ok(ended)
}
