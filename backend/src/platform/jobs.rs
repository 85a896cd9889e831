//! A durable job queue in the application's own database, worked by a loop in the same process.
//!
//! Jobs are enqueued inside the transaction of the change that needs them, carry ids only (a mail job makes its
//! token when it runs), retry with exponential backoff and end `dead` after `JOB_MAX_ATTEMPTS`. Claiming is safe
//! with several instances: PostgreSQL uses `FOR UPDATE SKIP LOCKED`; SQLite has a single writer, and the claim is one
//! `UPDATE … RETURNING` inside a write transaction. A job whose worker died is claimed again when its lock lapses.
use serde::{Deserialize, Serialize};

use crate::{
    platform::config::MailDelivery,
    platform::crypto::new_id,
    platform::db::{DbKind, Tx},
    platform::mail::templates,
    signin::tokens::{self, Purpose},
    AppState, Unexpected,
};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Job {
    /// Confirmation link and code to the user's address; the token is made when the job runs.
    ConfirmEmail { user_id: String },
    /// "Someone tried to register with your e-mail" to an existing account.
    AlreadyRegistered { user_id: String },
    /// Password log in was paused after repeated failures; `until_reset`: the pause ends only by a mailed link.
    AccountLocked {
        user_id: String,
        #[serde(default)]
        until_reset: bool,
    },
    /// A password-reset link (the token is made when the job runs).
    PasswordReset { user_id: String },
    /// "Your password was changed" notice.
    PasswordChanged { user_id: String },
    /// A one-time sign-in link (the token is made when the job runs), which comes back to `return_to` (a page
    /// on this site, checked again when the link is used).
    MagicLink {
        user_id: String,
        #[serde(default)]
        return_to: Option<String>,
    },
    /// "New sign-in to your account" from a browser not seen before.
    NewDeviceSignIn { user_id: String, session_id: String },
    /// The link to the new address of an e-mail change. The job carries the address it was asked for: a request
    /// made a moment later replaces the pending address, and must not decide what this one's address hears.
    /// (Jobs queued before the field existed read the pending address.)
    EmailChangeConfirm {
        user_id: String,
        #[serde(default)]
        new_email: Option<String>,
    },
    /// The notice, with a cancel link, to the current address of an e-mail change.
    EmailChangeNotice { user_id: String },
    /// "Your e-mail was changed" to the address the account had before (not a secret; it is where the mail goes).
    EmailChanged { user_id: String, old_email: String },
    /// "Your account will be deleted" with the link that keeps it.
    AccountDeletionScheduled { user_id: String },
    /// Two-step verification was turned on or off.
    MfaChanged { user_id: String, enabled: bool },
    /// A sign-in provider was linked to the account or unlinked from it.
    IdentityChanged { user_id: String, provider: String, linked: bool },
    /// A passkey was added to the account or removed from it.
    PasskeyChanged { user_id: String, added: bool },
    /// A backup code was used (with the count left).
    BackupCodeUsed { user_id: String },
    /// Too many wrong second-factor codes: codes are refused for a while.
    MfaLocked {
        user_id: String,
        #[serde(default)]
        until_reset: bool,
    },
    /// An invitation to an organization (the link is made when the job runs; nothing is sent once it is closed).
    OrgInvitation { invitation_id: String },
    /// "Your role in {org} is now {role}".
    OrgRoleChanged { org_id: String, user_id: String },
    /// "You were removed from {org}".
    OrgMemberRemoved { org_id: String, user_id: String },
    /// An admin locked or unlocked the account, or reset its two-step verification.
    AdminChanged { user_id: String, change: templates::AdminChange },
    /// An admin deleted the account (the row is gone: the address it had is where the mail goes).
    AccountDeletedByAdmin { email: String },
    /// Removes an account whose deletion grace period has ended (does nothing if the owner cancelled).
    DeleteAccount { user_id: String },
}

impl Job {
    /// The account a mail carrying a new link (a token made when the job runs) is for.
    fn makes_link_for(&self) -> Option<&str> {
        match self {
            Job::ConfirmEmail { user_id }
            | Job::PasswordReset { user_id }
            | Job::MagicLink { user_id, .. }
            | Job::EmailChangeConfirm { user_id, .. }
            | Job::EmailChangeNotice { user_id }
            | Job::AccountDeletionScheduled { user_id } => Some(user_id),
            _ => None,
        }
    }

    /// A scheduled account deletion or a notice telling the user about a change to their account's security: an
    /// admin may not discard it while it waits (once dead, after its attempts, it may go), so an insider cannot
    /// quietly keep a user from hearing what was done to their account (L16).
    pub fn protected_while_queued(&self) -> bool {
        matches!(
            self,
            Job::DeleteAccount { .. }
                | Job::AccountLocked { .. }
                | Job::PasswordChanged { .. }
                | Job::NewDeviceSignIn { .. }
                | Job::EmailChangeNotice { .. }
                | Job::EmailChanged { .. }
                | Job::AccountDeletionScheduled { .. }
                | Job::MfaChanged { .. }
                | Job::IdentityChanged { .. }
                | Job::PasskeyChanged { .. }
                | Job::BackupCodeUsed { .. }
                | Job::MfaLocked { .. }
                | Job::AdminChanged { .. }
                | Job::AccountDeletedByAdmin { .. }
        )
    }

    fn kind(&self) -> &'static str {
        match self {
            Job::DeleteAccount { .. } => "account",
            _ => "mail",
        }
    }
}

/// How long a claimed job is held before another worker may take it over.
const LOCK_SECS: i64 = 300;
const MAX_BACKOFF_SECS: i64 = 6 * 3600;
/// How long the worker leaves an inline job to its request before treating it as undelivered.
const INLINE_GRACE_SECS: i64 = 60;

/// Queues `job` in `tx`. Returns its id: pass it to [`after_commit`] once the transaction is committed.
pub async fn enqueue(tx: &mut Tx, st: &AppState, job: &Job) -> Result<String, sqlx::Error> {
    let now = st.clock.now();
    // Inline delivery sends the job from the request itself (by id); the worker only takes it if that failed.
    let run_at = if st.config.mail_delivery == MailDelivery::Inline { now + INLINE_GRACE_SECS } else { now };
    enqueue_at(tx, st, job, run_at).await
}

/// Queues `job` for the worker at `run_at` (not for [`after_commit`]: that runs a job at once).
pub async fn enqueue_at(tx: &mut Tx, st: &AppState, job: &Job, run_at: i64) -> Result<String, sqlx::Error> {
    let id = new_id();
    let now = st.clock.now();
    sqlx::query(
        "INSERT INTO jobs (id, kind, payload, state, attempts, max_attempts, run_at, created_at, updated_at) \
         VALUES ($1, $6, $2, 'queued', 0, $3, $4, $5, $5)",
    )
    .bind(&id)
    .bind(serde_json::to_string(job).expect("jobs serialize"))
    .bind(st.config.job_max_attempts)
    .bind(run_at)
    .bind(now)
    .bind(job.kind())
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

/// Wakes the worker for a job queued to run now (mail that must not be sent from the request itself).
pub fn wake_worker(st: &AppState) {
    st.jobs_wakeup.notify_one();
}

/// After the enqueuing transaction committed: with inline delivery the job runs now, in this request;
/// with queue delivery the worker is woken. Failures stay in the queue for retry.
pub async fn after_commit(st: &AppState, job_ids: &[String]) {
    match st.config.mail_delivery {
        MailDelivery::Inline => {
            for id in job_ids {
                if let Err(e) = run_by_id(st, id).await {
                    tracing::error!(job_id = %id, error = %e.0, "inline job failed to run");
                }
            }
        }
        MailDelivery::Queue => st.jobs_wakeup.notify_one(),
    }
}

#[derive(Debug, sqlx::FromRow)]
struct Claimed {
    id: String,
    payload: String,
    attempts: i64,
    max_attempts: i64,
}

const RETURNING: &str = "RETURNING id, payload, attempts, max_attempts";

async fn claim_next(st: &AppState) -> Result<Option<Claimed>, sqlx::Error> {
    let now = st.clock.now();
    let skip_locked = if st.db.kind == DbKind::Postgres { "FOR UPDATE SKIP LOCKED" } else { "" };
    let sql = format!(
        "UPDATE jobs SET state = 'running', attempts = attempts + 1, locked_until = $1, updated_at = $2 \
         WHERE id = (SELECT id FROM jobs WHERE (state = 'queued' AND run_at <= $2) OR (state = 'running' AND locked_until < $2) \
         ORDER BY run_at LIMIT 1 {skip_locked}) {RETURNING}"
    );
    let mut tx = st.db.begin().await?;
    let claimed = sqlx::query_as(&sql).bind(now + LOCK_SECS).bind(now).fetch_optional(&mut *tx).await?;
    tx.commit().await?;
    Ok(claimed)
}

async fn claim_by_id(st: &AppState, id: &str) -> Result<Option<Claimed>, sqlx::Error> {
    let now = st.clock.now();
    let sql = format!(
        "UPDATE jobs SET state = 'running', attempts = attempts + 1, locked_until = $1, updated_at = $2 \
         WHERE id = $3 AND state = 'queued' {RETURNING}"
    );
    let mut tx = st.db.begin().await?;
    let claimed = sqlx::query_as(&sql).bind(now + LOCK_SECS).bind(now).bind(id).fetch_optional(&mut *tx).await?;
    tx.commit().await?;
    Ok(claimed)
}

pub async fn run_by_id(st: &AppState, id: &str) -> Result<bool, Unexpected> {
    match claim_by_id(st, id).await? {
        Some(job) => {
            finish(st, job).await?;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// Runs every due job, one at a time. Returns how many ran.
pub async fn run_due(st: &AppState) -> Result<usize, Unexpected> {
    let mut n = 0;
    while let Some(job) = claim_next(st).await? {
        finish(st, job).await?;
        n += 1;
    }
    Ok(n)
}

async fn finish(st: &AppState, job: Claimed) -> Result<(), Unexpected> {
    let now = st.clock.now();
    let outcome = match serde_json::from_str::<Job>(&job.payload) {
        Ok(j) => execute(st, &j).await,
        Err(e) => Err(format!("unreadable payload: {e}")),
    };
    match outcome {
        Ok(()) => {
            sqlx::query(
                "UPDATE jobs SET state = 'done', locked_until = NULL, last_error = NULL, updated_at = $1 WHERE id = $2",
            )
            .bind(now)
            .bind(&job.id)
            .execute(&st.db.pool)
            .await?;
        }
        Err(error) => {
            let dead = job.attempts >= job.max_attempts;
            let backoff =
                (st.config.job_retry_base_secs.max(1) << (job.attempts - 1).clamp(0, 20)).min(MAX_BACKOFF_SECS);
            tracing::warn!(job_id = %job.id, attempts = job.attempts, dead, %error, "job failed");
            sqlx::query(
                "UPDATE jobs SET state = $1, run_at = $2, locked_until = NULL, last_error = $3, updated_at = $4 WHERE id = $5",
            )
            .bind(if dead { "dead" } else { "queued" })
            .bind(now + backoff)
            .bind(error.chars().take(1000).collect::<String>())
            .bind(now)
            .bind(&job.id)
            .execute(&st.db.pool)
            .await?;
        }
    }
    Ok(())
}

async fn execute(st: &AppState, job: &Job) -> Result<(), String> {
    if let Some(user_id) = job.makes_link_for() {
        // An account an admin locked gets no new link, even from a mail queued before the lock.
        let locked: Option<(Option<i64>,)> = sqlx::query_as("SELECT locked_at FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&st.db.pool)
            .await
            .map_err(|e| e.to_string())?;
        if matches!(locked, Some((Some(_),))) {
            return Ok(());
        }
    }
    let app = &st.config.app_name;
    let base = &st.config.base_url;
    let mail = match job {
        Job::ConfirmEmail { user_id } => {
            let Some(email) = user_email(st, user_id, true).await? else {
                return Ok(()); // confirmed or deleted meanwhile: nothing to send
            };
            let issued = issue_link(st, user_id, &email, Purpose::Confirm, true).await?;
            let link = format!("{base}/users/confirm/{}", issued.token);
            templates::confirm_email(app, &email, &link, issued.code.as_deref().unwrap_or_default())
        }
        Job::AlreadyRegistered { user_id } => {
            let Some(email) = user_email(st, user_id, false).await? else {
                return Ok(());
            };
            templates::already_registered(app, &email, &format!("{base}/users/log-in"))
        }
        Job::AccountLocked { user_id, until_reset } => {
            let Some(email) = user_email(st, user_id, false).await? else { return Ok(()) };
            let minutes = (!until_reset).then_some(crate::signin::attempts::PAUSE_SECS / 60);
            templates::account_locked(app, &email, minutes, &format!("{base}/users/reset-password"))
        }
        Job::PasswordReset { user_id } => {
            let Some(email) = user_email(st, user_id, false).await? else { return Ok(()) };
            let providers = provider_only(st, user_id).await?;
            if providers.is_empty() {
                let issued = issue_link(st, user_id, &email, Purpose::ResetPassword, false).await?;
                templates::password_reset(app, &email, &format!("{base}/users/reset-password/{}", issued.token))
            } else {
                // No password to reset: say how this account signs in.
                templates::signs_in_with_provider(app, &email, &providers.join(" or "), &format!("{base}/users/log-in"))
            }
        }
        Job::MagicLink { user_id, return_to } => {
            let Some(email) = user_email(st, user_id, false).await? else { return Ok(()) };
            let issued = issue_link(st, user_id, &email, Purpose::MagicLink, false).await?;
            let link = format!("{base}/users/log-in/{}", issued.token);
            templates::magic_link(
                app,
                &email,
                &domain::validation::with_return_to(&link, return_to.as_deref().unwrap_or("")),
            )
        }
        Job::NewDeviceSignIn { user_id, session_id } => {
            let Some(email) = user_email(st, user_id, false).await? else { return Ok(()) };
            let row: Option<(Option<String>, Option<String>, i64)> =
                sqlx::query_as("SELECT ip, user_agent, created_at FROM sessions WHERE id = $1")
                    .bind(session_id)
                    .fetch_optional(&st.db.pool)
                    .await
                    .map_err(|e| e.to_string())?;
            let (device, ip, when) = match row {
                Some((ip, ua, at)) => {
                    (crate::account::devices::describe(ua.as_deref()), ip.unwrap_or_default(), crate::format_utc(at))
                }
                None => ("a new device".to_string(), String::new(), crate::format_utc(st.clock.now())),
            };
            templates::new_device(app, &email, &device, &ip, &when, &format!("{base}/users/sessions"))
        }
        Job::EmailChangeConfirm { user_id, new_email } => {
            let pending = pending_change(st, user_id).await?.and_then(|(_, p)| p);
            let Some(new_email) = new_email.clone().or_else(|| pending.clone()) else { return Ok(()) };
            let (taken,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users WHERE email = $1")
                .bind(&new_email)
                .fetch_one(&st.db.pool)
                .await
                .map_err(|e| e.to_string())?;
            if taken > 0 {
                // The address has an account: its owner hears that someone tried, and no link is made.
                let mail = templates::email_in_use(app, &new_email, &format!("{base}/users/log-in"));
                return st.mailer.send(mail).await.map_err(|e| e.to_string());
            }
            let Some(issued) = issue_change_link(st, user_id, &new_email).await? else {
                // A later request (or a cancel) replaced this one: its address gets no link.
                return Ok(());
            };
            templates::email_change_confirm(app, &new_email, &format!("{base}/users/settings/email/{}", issued.token))
        }
        Job::EmailChangeNotice { user_id } => {
            let Some((email, Some(new_email))) = pending_change(st, user_id).await? else { return Ok(()) };
            let issued = issue_link(st, user_id, &email, Purpose::CancelEmailChange, false).await?;
            let cancel = format!("{base}/users/settings/email/cancel/{}", issued.token);
            templates::email_change_notice(app, &email, &new_email, &cancel)
        }
        Job::EmailChanged { user_id, old_email } => {
            let Some(email) = user_email(st, user_id, false).await? else { return Ok(()) };
            templates::email_changed(app, old_email, &email)
        }
        Job::AccountDeletionScheduled { user_id } => {
            let Some(email) = user_email(st, user_id, false).await? else { return Ok(()) };
            let issued = issue_link(st, user_id, &email, Purpose::CancelDeletion, false).await?;
            let days = crate::account::settings::DELETION_GRACE_SECS / 86400;
            templates::deletion_scheduled(
                app,
                &email,
                days,
                &format!("{base}/users/settings/delete/cancel/{}", issued.token),
            )
        }
        Job::MfaChanged { user_id, enabled } => {
            let Some(email) = user_email(st, user_id, false).await? else { return Ok(()) };
            templates::mfa_changed(app, &email, *enabled, &format!("{base}/users/settings/security"))
        }
        Job::IdentityChanged { user_id, provider, linked } => {
            let Some(email) = user_email(st, user_id, false).await? else { return Ok(()) };
            let name = st.config.oauth_provider(provider).map(|p| p.name.clone()).unwrap_or_else(|| provider.clone());
            templates::identity_changed(app, &email, &name, *linked, &format!("{base}/users/settings/connections"))
        }
        Job::PasskeyChanged { user_id, added } => {
            let Some(email) = user_email(st, user_id, false).await? else { return Ok(()) };
            templates::passkey_changed(app, &email, *added, &format!("{base}/users/settings/security"))
        }
        Job::BackupCodeUsed { user_id } => {
            let Some(email) = user_email(st, user_id, false).await? else { return Ok(()) };
            let (left,): (i64,) =
                sqlx::query_as("SELECT COUNT(*) FROM backup_codes WHERE user_id = $1 AND used_at IS NULL")
                    .bind(user_id)
                    .fetch_one(&st.db.pool)
                    .await
                    .map_err(|e| e.to_string())?;
            templates::backup_code_used(app, &email, left, &format!("{base}/users/settings/security"))
        }
        Job::MfaLocked { user_id, until_reset } => {
            let Some(email) = user_email(st, user_id, false).await? else { return Ok(()) };
            let minutes = (!until_reset).then_some(crate::signin::attempts::PAUSE_SECS / 60);
            templates::mfa_locked(app, &email, minutes, &format!("{base}/users/reset-password"))
        }
        Job::OrgInvitation { invitation_id } => {
            use crate::orgs::invitations;
            let Some(inv) = invitations::find_open(st, invitation_id).await.map_err(|e| e.to_string())? else {
                return Ok(()); // accepted, revoked or replaced meanwhile
            };
            let link = invitations::link_for_mail(st, &inv.id).await.map_err(|e| e.to_string())?;
            let inviter = inv.inviter.as_deref().unwrap_or("Someone");
            let days = invitations::INVITATION_SECS / 86400;
            templates::org_invitation(app, &inv.email, inviter, &inv.org_name, inv.role.as_str(), &link, days)
        }
        Job::OrgRoleChanged { org_id, user_id } => {
            let Some(email) = user_email(st, user_id, false).await? else { return Ok(()) };
            let Some((org, slug)) = crate::orgs::org_name(st, org_id).await.map_err(|e| e.to_string())? else {
                return Ok(());
            };
            let role: Option<(String,)> =
                sqlx::query_as("SELECT role FROM memberships WHERE org_id = $1 AND user_id = $2")
                    .bind(org_id)
                    .bind(user_id)
                    .fetch_optional(&st.db.pool)
                    .await
                    .map_err(|e| e.to_string())?;
            let Some((role,)) = role else { return Ok(()) };
            templates::org_role_changed(app, &email, &org, &role, &format!("{base}/organizations/{slug}"))
        }
        Job::OrgMemberRemoved { org_id, user_id } => {
            let Some(email) = user_email(st, user_id, false).await? else { return Ok(()) };
            let Some((org, _)) = crate::orgs::org_name(st, org_id).await.map_err(|e| e.to_string())? else {
                return Ok(());
            };
            templates::org_member_removed(app, &email, &org)
        }
        Job::AdminChanged { user_id, change } => {
            let Some(email) = user_email(st, user_id, false).await? else { return Ok(()) };
            templates::admin_changed(app, &email, *change, base)
        }
        Job::AccountDeletedByAdmin { email } => templates::account_deleted_by_admin(app, email),
        Job::DeleteAccount { user_id } => {
            return crate::account::settings::delete_if_due(st, user_id).await.map_err(|e| e.to_string());
        }
        Job::PasswordChanged { user_id } => {
            let Some(email) = user_email(st, user_id, false).await? else { return Ok(()) };
            templates::password_changed(app, &email, &format!("{base}/users/reset-password"))
        }
    };
    st.mailer.send(mail).await.map_err(|e| e.to_string())
}

/// Makes the token (and code) a mail carries, in its own transaction, at the moment the mail is sent.
async fn issue_link(
    st: &AppState,
    user_id: &str,
    email: &str,
    purpose: Purpose,
    with_code: bool,
) -> Result<tokens::Issued, String> {
    let mut tx = st.db.begin().await.map_err(|e| e.to_string())?;
    let key = st.config.secret_key.expose();
    let issued = tokens::issue(&mut tx, key, user_id, email, purpose, with_code, st.clock.now())
        .await
        .map_err(|e| e.to_string())?;
    tx.commit().await.map_err(|e| e.to_string())?;
    Ok(issued)
}

/// The link for an e-mail change to `email`, made only while the account still waits on that address. The check
/// and the token are one transaction holding the account's row, so a request that replaces the address either
/// comes first (no link) or revokes the link it finds.
async fn issue_change_link(st: &AppState, user_id: &str, email: &str) -> Result<Option<tokens::Issued>, String> {
    let err = |e: sqlx::Error| e.to_string();
    let mut tx = st.db.begin().await.map_err(err)?;
    let lock = if st.db.kind == DbKind::Postgres { " FOR UPDATE" } else { "" };
    let pending: Option<(Option<String>,)> =
        sqlx::query_as(&format!("SELECT pending_email FROM users WHERE id = $1{lock}"))
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(err)?;
    if pending.and_then(|(p,)| p).as_deref() != Some(email) {
        return Ok(None);
    }
    let key = st.config.secret_key.expose();
    let issued =
        tokens::issue(&mut tx, key, user_id, email, Purpose::ChangeEmail, false, st.clock.now()).await.map_err(err)?;
    tx.commit().await.map_err(err)?;
    Ok(Some(issued))
}

/// The account's address and the address its e-mail change waits on.
async fn pending_change(st: &AppState, user_id: &str) -> Result<Option<(String, Option<String>)>, String> {
    sqlx::query_as("SELECT email, pending_email FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(&st.db.pool)
        .await
        .map_err(|e| e.to_string())
}

/// For an account without a password: the names of the providers it signs in with (empty when it has a password).
async fn provider_only(st: &AppState, user_id: &str) -> Result<Vec<String>, String> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT i.provider FROM user_identities i JOIN users u ON u.id = i.user_id \
         WHERE u.id = $1 AND u.password_hash IS NULL ORDER BY i.created_at",
    )
    .bind(user_id)
    .fetch_all(&st.db.pool)
    .await
    .map_err(|e| e.to_string())?;
    Ok(rows.into_iter().map(|(p,)| st.config.oauth_provider(&p).map(|c| c.name.clone()).unwrap_or(p)).collect())
}

async fn user_email(st: &AppState, user_id: &str, only_unconfirmed: bool) -> Result<Option<String>, String> {
    let row: Option<(String, Option<i64>)> = sqlx::query_as("SELECT email, confirmed_at FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(&st.db.pool)
        .await
        .map_err(|e| e.to_string())?;
    Ok(row.filter(|(_, c)| !(only_unconfirmed && c.is_some())).map(|(e, _)| e))
}

/// The worker: runs due jobs, then sleeps until woken or the poll interval passes. Stops when `shutdown` fires.
pub async fn worker(st: AppState, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let poll = std::time::Duration::from_millis(st.config.job_poll_interval_ms);
    let mut sweeps = 0u32;
    loop {
        if let Err(e) = run_due(&st).await {
            tracing::error!(error = %e.0, "job worker error");
        }
        sweeps += 1;
        if sweeps % 600 == 0 {
            st.limits.sweep();
            match crate::platform::housekeeping::purge_expired(&st).await {
                Ok(n) if n > 0 => tracing::info!(rows = n, "expired rows removed"),
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "housekeeping failed"),
            }
        }
        tokio::select! {
            _ = st.jobs_wakeup.notified() => {}
            _ = tokio::time::sleep(poll) => {}
            _ = shutdown.changed() => return,
        }
        if *shutdown.borrow() {
            return;
        }
    }
}
