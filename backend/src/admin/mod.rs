//! The operator role: granted and revoked only from the command line (no default accounts, no self-service), checked
//! on the server for every admin page and server function, and usable only with two-step verification on.
use crate::{
    platform::audit::{self, Event},
    platform::request::{CurrentSession, RequestContext},
    AppState, Error,
};
use domain::{validation::EmailAddress, views::AdminOverview};

pub mod actions;
pub mod audit_log;
pub mod impersonation;
pub mod jobs;
pub mod queue;
pub mod users;

/// An impersonation ends 30 minutes after it starts, or after 15 minutes without a request.
pub const IMPERSONATION_SECS: i64 = 30 * 60;
pub const IMPERSONATION_IDLE_SECS: i64 = 15 * 60;

/// How many rows a list page shows.
pub const PAGE_SIZE: i64 = 50;

/// One page of a keyset-paginated list, and the cursor of the next page if there is one.
#[derive(Debug)]
pub struct Page<T> {
    pub rows: Vec<T>,
    pub next: Option<String>,
}

impl<T> Page<T> {
    /// From `PAGE_SIZE + 1` fetched rows: the extra one only says that a next page exists.
    fn from_rows(mut rows: Vec<T>, cursor: impl Fn(&T) -> String) -> Self {
        let more = rows.len() as i64 > PAGE_SIZE;
        rows.truncate(PAGE_SIZE as usize);
        let next = if more { rows.last().map(cursor) } else { None };
        Page { rows, next }
    }
}

/// Parses a `{seconds}.{id}` cursor.
fn time_cursor(raw: &str) -> Option<(i64, String)> {
    let (at, id) = raw.split_once('.')?;
    let id: String = id.chars().filter(|c| c.is_ascii_hexdigit() || *c == '-').take(64).collect();
    Some((at.parse().ok()?, id))
}

/// Every admin page and server function starts here: not an admin → `Forbidden` (S46); an admin without a second
/// factor (an authenticator app or a passkey, S51) → `MfaEnrolmentRequired` (the pages send them to enrol).
pub fn require_admin(session: &CurrentSession) -> Result<(), Error> {
    if !session.is_admin || session.impersonator.is_some() {
        return Err(Error::Forbidden);
    }
    if !session.has_second_factor() {
        return Err(Error::MfaEnrolmentRequired);
    }
    Ok(())
}

/// Every admin action that changes something (and impersonation) also needs a fresh second-factor proof: the
/// sudo window, which for an admin only a code or a passkey opens (M7; see `sudo::reauthenticate`).
pub fn require_admin_step_up(st: &AppState, session: &CurrentSession) -> Result<(), Error> {
    require_admin(session)?;
    crate::signin::sudo::require(st, session)
}

#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    #[error("no account has the e-mail {0}")]
    NoSuchAccount(String),
    #[error("{0} has not confirmed its e-mail address yet")]
    Unconfirmed(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Grants (`true`) or revokes the admin role of the account behind `email`, audited. Returns whether it changed.
pub async fn set_admin(st: &AppState, email: &EmailAddress, admin: bool) -> Result<bool, GrantError> {
    let ctx = RequestContext::system();
    let now = st.clock.now();
    let mut tx = st.db.begin().await?;
    let row: Option<(String, Option<i64>, i64)> =
        sqlx::query_as("SELECT id, confirmed_at, is_admin FROM users WHERE email = $1")
            .bind(email.as_str())
            .fetch_optional(&mut *tx)
            .await?;
    let Some((user_id, confirmed_at, was)) = row else {
        return Err(GrantError::NoSuchAccount(email.as_str().to_string()));
    };
    if admin && confirmed_at.is_none() {
        return Err(GrantError::Unconfirmed(email.as_str().to_string()));
    }
    if (was == 1) == admin {
        return Ok(false);
    }
    sqlx::query("UPDATE users SET is_admin = $1, updated_at = $2 WHERE id = $3")
        .bind(admin as i64)
        .bind(now)
        .bind(&user_id)
        .execute(&mut *tx)
        .await?;
    let action = if admin { "admin.granted" } else { "admin.revoked" };
    audit::record(&mut tx, &ctx, now, Event::on_user(action, &user_id).detail("command line")).await?;
    tx.commit().await?;
    Ok(true)
}

/// The admins: e-mail and whether two-step verification is on.
pub async fn list(st: &AppState) -> Result<Vec<(String, bool)>, sqlx::Error> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT u.email, (SELECT COUNT(*) FROM user_totp t WHERE t.user_id = u.id AND t.enabled_at IS NOT NULL) \
         FROM users u WHERE u.is_admin = 1 ORDER BY u.email",
    )
    .fetch_all(&st.db.pool)
    .await?;
    Ok(rows.into_iter().map(|(e, mfa)| (e, mfa > 0)).collect())
}

/// Ends every session of every user but the admin's own (S38: after a breach, say). Returns how many ended.
pub async fn sign_out_everyone(st: &AppState, ctx: &RequestContext, admin: &CurrentSession) -> Result<u64, Error> {
    require_admin_step_up(st, admin)?;
    let mut tx = st.db.begin().await?;
    let r = sqlx::query("DELETE FROM sessions WHERE id <> $1").bind(&admin.session_id).execute(&mut *tx).await?;
    let n = r.rows_affected().to_string();
    let event = Event::admin("admin.sessions_revoked_everyone", &admin.user_id).detail(&n);
    audit::record(&mut tx, ctx, st.clock.now(), event).await?;
    tx.commit().await?;
    Ok(r.rows_affected())
}

/// The overview's figures.
pub async fn overview(st: &AppState) -> Result<AdminOverview, sqlx::Error> {
    let now = st.clock.now();
    let day = now - 24 * 3600;
    let (users, unconfirmed, sign_ins_24h, failed_sign_ins_24h, locked, admin_locked, dead_jobs, queued_jobs): (
        i64,
        i64,
        i64,
        i64,
        i64,
        i64,
        i64,
        i64,
    ) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM users), (SELECT COUNT(*) FROM users WHERE confirmed_at IS NULL), \
         (SELECT COUNT(*) FROM audit_events WHERE action = 'user.log_in' AND outcome = 'success' AND at > $1), \
         (SELECT COUNT(*) FROM audit_events WHERE action = 'user.log_in' AND outcome = 'failure' AND at > $1), \
         (SELECT COUNT(*) FROM users WHERE locked_until > $2), (SELECT COUNT(*) FROM users WHERE locked_at IS NOT NULL), \
         (SELECT COUNT(*) FROM jobs WHERE state = 'dead'), (SELECT COUNT(*) FROM jobs WHERE state = 'queued')",
    )
    .bind(day)
    .bind(now)
    .fetch_one(&st.db.pool)
    .await?;
    Ok(AdminOverview {
        users,
        unconfirmed,
        sign_ins_24h,
        failed_sign_ins_24h,
        locked,
        admin_locked,
        dead_jobs,
        queued_jobs,
    })
}
