//! The job queue as admins see it: what waits, runs, failed (and will retry) or died, with a summary of the payload
//! that shows its kind and ids only (a payload never holds a token, but an address is not for this page either);
//! retry (a failed or dead job runs again now, with its attempts reset) and discard.
use super::{require_admin, Error};
use crate::{
    platform::audit::{self, Event},
    platform::jobs,
    platform::request::{CurrentSession, RequestContext},
    AppState,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Filter {
    /// Everything not done.
    Open,
    Queued,
    Running,
    /// Queued again after a failed attempt.
    Failed,
    Dead,
}

impl Filter {
    pub fn parse(s: &str) -> Self {
        match s {
            "queued" => Filter::Queued,
            "running" => Filter::Running,
            "failed" => Filter::Failed,
            "dead" => Filter::Dead,
            _ => Filter::Open,
        }
    }

    fn condition(self) -> &'static str {
        match self {
            Filter::Open => "state <> 'done'",
            Filter::Queued => "state = 'queued' AND last_error IS NULL",
            Filter::Running => "state = 'running'",
            Filter::Failed => "state = 'queued' AND last_error IS NOT NULL",
            Filter::Dead => "state = 'dead'",
        }
    }
}

#[derive(Debug, sqlx::FromRow)]
pub struct JobRow {
    pub id: String,
    pub payload: String,
    pub state: String,
    pub attempts: i64,
    pub max_attempts: i64,
    pub run_at: i64,
    pub last_error: Option<String>,
    pub created_at: i64,
}

impl JobRow {
    /// The job's type and the ids it carries (`org_invitation: invitation_id=…`).
    pub fn summary(&self) -> String {
        let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(&self.payload) else {
            return "unreadable payload".into();
        };
        let kind = map.get("type").and_then(|v| v.as_str()).unwrap_or("unknown").to_string();
        let ids: Vec<String> = map
            .iter()
            .filter(|(k, _)| k.ends_with("_id"))
            .filter_map(|(k, v)| v.as_str().map(|v| format!("{k}={v}")))
            .collect();
        if ids.is_empty() {
            kind
        } else {
            format!("{kind}: {}", ids.join(", "))
        }
    }

    /// A failed or dead job can be retried; a queued or dead one discarded (a running one belongs to its worker).
    pub fn can_retry(&self) -> bool {
        self.state == "dead" || (self.state == "queued" && self.last_error.is_some())
    }

    pub fn can_discard(&self) -> bool {
        self.state == "dead" || self.state == "queued"
    }
}

/// The newest 200 jobs the filter matches.
pub async fn list(st: &AppState, me: &CurrentSession, filter: Filter) -> Result<Vec<JobRow>, Error> {
    require_admin(me)?;
    let sql = format!(
        "SELECT id, payload, state, attempts, max_attempts, run_at, last_error, created_at FROM jobs WHERE {} \
         ORDER BY created_at DESC, id DESC LIMIT 200",
        filter.condition()
    );
    Ok(sqlx::query_as(&sql).fetch_all(&st.db.pool).await?)
}

/// Counts per state, for the filter tabs: (queued, running, failed, dead).
pub async fn counts(st: &AppState) -> Result<(i64, i64, i64, i64), sqlx::Error> {
    sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM jobs WHERE state = 'queued' AND last_error IS NULL), \
         (SELECT COUNT(*) FROM jobs WHERE state = 'running'), \
         (SELECT COUNT(*) FROM jobs WHERE state = 'queued' AND last_error IS NOT NULL), \
         (SELECT COUNT(*) FROM jobs WHERE state = 'dead')",
    )
    .fetch_one(&st.db.pool)
    .await
}

/// Runs a failed or dead job again now, with a full set of attempts.
pub async fn retry(st: &AppState, ctx: &RequestContext, me: &CurrentSession, id: &str) -> Result<(), Error> {
    super::require_admin_step_up(st, me)?;
    let now = st.clock.now();
    let mut tx = st.db.begin().await?;
    let r = sqlx::query(
        "UPDATE jobs SET state = 'queued', attempts = 0, run_at = $1, locked_until = NULL, last_error = NULL, updated_at = $1 \
         WHERE id = $2 AND (state = 'dead' OR (state = 'queued' AND last_error IS NOT NULL))",
    )
    .bind(now)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    if r.rows_affected() != 1 {
        return Err(Error::Refused("That job is not failed or dead any more.".into()));
    }
    audit::record(&mut tx, ctx, now, Event::admin("admin.job_retried", &me.user_id).detail(id)).await?;
    tx.commit().await?;
    jobs::after_commit(st, &[id.to_string()]).await;
    Ok(())
}

/// Removes a queued or dead job without running it.
pub async fn discard(st: &AppState, ctx: &RequestContext, me: &CurrentSession, id: &str) -> Result<(), Error> {
    super::require_admin_step_up(st, me)?;
    let now = st.clock.now();
    let mut tx = st.db.begin().await?;
    let row: Option<(String, String)> =
        sqlx::query_as("SELECT state, payload FROM jobs WHERE id = $1").bind(id).fetch_optional(&mut *tx).await?;
    let protected = row.as_ref().is_some_and(|(state, payload)| state == "queued" && st.jobs.protected(payload));
    if protected {
        return Err(Error::Refused(
            "That job tells a user about their account's security (or deletes an account as scheduled): it cannot be \
             discarded while it waits. Retry it, or discard it once it is dead."
                .into(),
        ));
    }
    let r = sqlx::query("DELETE FROM jobs WHERE id = $1 AND state IN ('queued', 'dead')")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    if r.rows_affected() != 1 {
        return Err(Error::Refused("That job is running or gone.".into()));
    }
    audit::record(&mut tx, ctx, now, Event::admin("admin.job_discarded", &me.user_id).detail(id)).await?;
    tx.commit().await?;
    Ok(())
}
