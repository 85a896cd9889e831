//! A durable job queue in the application's own database, worked by a loop in the same process.
//!
//! Jobs are enqueued inside the transaction of the change that needs them, carry ids only (a mail job makes its
//! token when it runs), retry with exponential backoff and end `dead` after `JOB_MAX_ATTEMPTS`. Claiming is safe
//! with several instances: PostgreSQL uses `FOR UPDATE SKIP LOCKED`; SQLite has a single writer, and the claim is one
//! `UPDATE … RETURNING` inside a write transaction. A job whose worker died is claimed again when its lock lapses.
use std::collections::HashMap;

use futures::future::BoxFuture;
use serde::{de::DeserializeOwned, Serialize};

use crate::{
    platform::config::MailDelivery,
    platform::crypto::new_ordered_id,
    platform::db::{DbKind, Tx},
    AppState, Unexpected,
};

/// A kind of background work: a mail, or a change that must happen later. Each feature declares its jobs beside
/// the code that queues them (`signin/jobs.rs`, `account/jobs.rs`, …) and registers them once ([`Registry`]). The
/// queue stores a job as its fields in JSON with its [`Job::NAME`] under `type`; it knows nothing else about it.
///
/// A job carries ids, not secrets (a mail that carries a link makes its token when it runs), and reads what it needs
/// when it runs: the account may have changed since it was queued.
/// A job is a struct with named fields (its payload is a JSON object); anything else panics when it is queued.
pub trait Job: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The payload's `type`. Never rename one that may still be queued somewhere.
    const NAME: &'static str;
    /// What the queue's `kind` column says: `mail`, or what else it does.
    const KIND: &'static str = "mail";
    /// Tells a user about their account's security, or carries out a scheduled deletion: an admin may not discard it
    /// while it waits (once dead, after its attempts, it may go), so an insider cannot quietly keep a user from
    /// hearing what was done to their account (L16).
    const PROTECTED: bool = false;
    /// The account a mail carrying a new link (a token made when the job runs) is for. The queue runs no such job
    /// for an account an admin locked, even one queued before the lock.
    fn makes_link_for(&self) -> Option<&str> {
        None
    }
    /// Does the work. An error is retried with backoff, and the job ends `dead` after its attempts.
    fn run(&self, st: &AppState) -> impl std::future::Future<Output = Result<(), String>> + Send;
}

/// A job ready for the queue: its name and its fields.
#[derive(Debug)]
pub struct Queued {
    kind: &'static str,
    payload: String,
}

impl<J: Job> From<J> for Queued {
    fn from(job: J) -> Self {
        let mut value = serde_json::to_value(&job).expect("jobs serialize");
        let fields = value.as_object_mut().expect("a job is a struct with named fields");
        fields.insert("type".into(), serde_json::Value::String(J::NAME.into()));
        Queued { kind: J::KIND, payload: value.to_string() }
    }
}

type RunFn = for<'a> fn(&'a AppState, serde_json::Value) -> BoxFuture<'a, Result<(), String>>;

struct Registered {
    run: RunFn,
    protected: bool,
}

/// Every kind of job this server runs, by name: filled once when the state is built.
#[derive(Default)]
pub struct Registry {
    jobs: HashMap<&'static str, Registered>,
}

impl Registry {
    /// Adds `J`. Two jobs with one name would run each other's payloads: that is a bug, caught at start-up.
    pub fn register<J: Job>(&mut self) -> &mut Self {
        fn run<J: Job>(st: &AppState, fields: serde_json::Value) -> BoxFuture<'_, Result<(), String>> {
            Box::pin(async move {
                let job: J = serde_json::from_value(fields).map_err(|e| format!("unreadable payload: {e}"))?;
                if let Some(user_id) = job.makes_link_for() {
                    if locked_by_admin(st, user_id).await? {
                        return Ok(());
                    }
                }
                job.run(st).await
            })
        }
        let before = self.jobs.insert(J::NAME, Registered { run: run::<J>, protected: J::PROTECTED });
        assert!(before.is_none(), "two jobs are named {:?}", J::NAME);
        self
    }

    /// Whether the queued payload is a job an admin may not discard while it waits ([`Job::PROTECTED`]).
    pub fn protected(&self, payload: &str) -> bool {
        split(payload).is_ok_and(|(name, _)| self.jobs.get(name.as_str()).is_some_and(|r| r.protected))
    }

    async fn run(&self, st: &AppState, payload: &str) -> Result<(), String> {
        let (name, fields) = split(payload)?;
        let Some(job) = self.jobs.get(name.as_str()) else {
            return Err(format!("no job is registered as {name:?}"));
        };
        (job.run)(st, fields).await
    }
}

/// Whether an admin locked the account (no mail carrying a new link goes to it).
async fn locked_by_admin(st: &AppState, user_id: &str) -> Result<bool, String> {
    let locked: Option<(Option<i64>,)> = sqlx::query_as("SELECT locked_at FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(&st.db.pool)
        .await
        .map_err(|e| e.to_string())?;
    Ok(matches!(locked, Some((Some(_),))))
}

/// A payload's name and its other fields.
fn split(payload: &str) -> Result<(String, serde_json::Value), String> {
    let mut value: serde_json::Value = serde_json::from_str(payload).map_err(|e| format!("unreadable payload: {e}"))?;
    let name = value
        .as_object_mut()
        .and_then(|o| o.remove("type"))
        .and_then(|t| t.as_str().map(str::to_string))
        .ok_or("unreadable payload: no type")?;
    Ok((name, value))
}

/// How long a claimed job is held before another worker may take it over.
const LOCK_SECS: i64 = 300;
const MAX_BACKOFF_SECS: i64 = 6 * 3600;
/// How long the worker leaves an inline job to its request before treating it as undelivered.
const INLINE_GRACE_SECS: i64 = 60;

/// Queues `job` in `tx`. Returns its id: pass it to [`after_commit`] once the transaction is committed.
pub async fn enqueue(tx: &mut Tx, st: &AppState, job: impl Into<Queued>) -> Result<String, sqlx::Error> {
    let now = st.clock.now();
    // Inline delivery sends the job from the request itself (by id); the worker only takes it if that failed.
    let run_at = if st.config.mail_delivery == MailDelivery::Inline { now + INLINE_GRACE_SECS } else { now };
    enqueue_at(tx, st, job, run_at).await
}

/// Queues `job` for the worker at `run_at` (not for [`after_commit`]: that runs a job at once).
pub async fn enqueue_at(
    tx: &mut Tx,
    st: &AppState,
    job: impl Into<Queued>,
    run_at: i64,
) -> Result<String, sqlx::Error> {
    let job = job.into();
    // Time-ordered, as audit ids are: the admin's job console lists jobs of the same second by id.
    let id = new_ordered_id();
    let now = st.clock.now();
    sqlx::query(
        "INSERT INTO jobs (id, kind, payload, state, attempts, max_attempts, run_at, created_at, updated_at) \
         VALUES ($1, $6, $2, 'queued', 0, $3, $4, $5, $5)",
    )
    .bind(&id)
    .bind(&job.payload)
    .bind(st.config.job_max_attempts)
    .bind(run_at)
    .bind(now)
    .bind(job.kind)
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

/// Wakes the worker for a job queued to run now (mail that must not be sent from the request itself).
/// How many jobs wait, run and are dead (retries used up), for the metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub queued: i64,
    pub running: i64,
    pub dead: i64,
}

pub async fn counts(st: &AppState) -> Result<Counts, sqlx::Error> {
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT state, COUNT(*) FROM jobs WHERE state <> 'done' GROUP BY state")
            .fetch_all(&st.db.pool)
            .await?;
    let mut counts = Counts::default();
    for (state, n) in rows {
        match state.as_str() {
            "queued" => counts.queued = n,
            "running" => counts.running = n,
            "dead" => counts.dead = n,
            _ => {}
        }
    }
    Ok(counts)
}

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
        // Nothing was queued (a sign-in from a known device, say): the worker is not woken for nothing (each wake-up
        // is a write transaction that claims no job).
        MailDelivery::Queue if !job_ids.is_empty() => st.jobs_wakeup.notify_one(),
        MailDelivery::Queue => {}
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
    let outcome = st.jobs.run(st, &job.payload).await;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signin::jobs::{ConfirmEmail, MfaChanged};

    fn backend_jobs() -> Registry {
        let mut r = Registry::default();
        crate::register_jobs(&mut r);
        r
    }

    #[test]
    fn every_payload_name_queued_before_the_registry_still_runs() {
        let mut names: Vec<_> = backend_jobs().jobs.keys().copied().collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "account_deleted_by_admin",
                "account_deletion_scheduled",
                "account_locked",
                "admin_changed",
                "already_registered",
                "api_token_created",
                "backup_code_used",
                "confirm_email",
                "delete_account",
                "email_change_confirm",
                "email_change_notice",
                "email_changed",
                "identity_changed",
                "magic_link",
                "mfa_changed",
                "mfa_locked",
                "new_device_sign_in",
                "org_invitation",
                "org_member_removed",
                "org_role_changed",
                "passkey_changed",
                "password_changed",
                "password_reset",
            ]
        );
    }

    #[test]
    fn l16_security_notices_are_protected_and_other_mail_is_not() {
        let r = backend_jobs();
        let notice = Queued::from(MfaChanged { user_id: "u1".into(), enabled: false });
        assert_eq!(notice.payload, r#"{"enabled":false,"type":"mfa_changed","user_id":"u1"}"#);
        assert!(r.protected(&notice.payload));
        assert!(!r.protected(&Queued::from(ConfirmEmail { user_id: "u1".into() }).payload));
        assert!(!r.protected(r#"{"type":"no_such_job"}"#) && !r.protected("not json"));
    }

    #[test]
    #[should_panic(expected = "two jobs are named \"confirm_email\"")]
    fn a_name_registered_twice_stops_the_server_starting() {
        backend_jobs().register::<ConfirmEmail>();
    }
}
