//! An admin acting as a user, to see what they see. The admin's browser gets a session of the user's that names
//! the admin (`impersonator_id`) and the admin's own session (kept aside, resumed at "stop"). It lasts 30 minutes at
//! most, 15 without a request, and only while the admin is an admin; it cannot reach another admin; the sensitive
//! changes (password, e-mail, two-step verification, passkeys, tokens, deletion: everything behind sudo) are refused
//! in it (`sudo::require`); every audit row written in it carries the admin too.
use super::{require_admin_step_up, Error, IMPERSONATION_IDLE_SECS, IMPERSONATION_SECS};
use crate::{
    platform::audit::{self, Event},
    platform::crypto::{new_id, random_token, token_digest},
    platform::request::{CurrentSession, RequestContext},
    signin::sessions::NewSession,
    AppState,
};

/// Starts impersonating `user_id`. The returned session goes in the admin's cookie.
pub async fn start(
    st: &AppState,
    ctx: &RequestContext,
    me: &CurrentSession,
    user_id: &str,
) -> Result<NewSession, Error> {
    require_admin_step_up(st, me)?;
    let now = st.clock.now();
    let mut tx = st.db.begin().await?;
    let target: (String, i64, Option<i64>, Option<i64>) =
        sqlx::query_as("SELECT email, is_admin, locked_at, deletion_scheduled_at FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(Error::NotFound)?;
    let (email, is_admin, locked_at, closing) = target;
    if is_admin == 1 {
        return Err(Error::Refused(format!("{email} is an admin: admins cannot be impersonated.")));
    }
    if locked_at.is_some() || closing.is_some() {
        return Err(Error::Refused(format!("{email} is locked or being deleted: it has no sessions to see.")));
    }
    let token = random_token();
    sqlx::query(
        "INSERT INTO sessions (id, user_id, token_digest, remember_me, ip, user_agent, created_at, last_active_at, \
         idle_expires_at, absolute_expires_at, sudo_at, impersonator_id, impersonator_session_id) \
         VALUES ($1, $2, $3, 0, $4, $5, $6, $6, $7, $8, NULL, $9, $10)",
    )
    .bind(new_id())
    .bind(user_id)
    .bind(token_digest(&token))
    .bind(ctx.ip.to_string())
    .bind(ctx.user_agent.as_deref().map(|ua| ua.chars().take(256).collect::<String>()))
    .bind(now)
    .bind(now + IMPERSONATION_IDLE_SECS)
    .bind(now + IMPERSONATION_SECS)
    .bind(&me.user_id)
    .bind(&me.session_id)
    .execute(&mut *tx)
    .await?;
    audit::record(&mut tx, ctx, now, Event::by_admin("admin.impersonation_started", &me.user_id, user_id)).await?;
    tx.commit().await?;
    Ok(NewSession { token, max_age_secs: None, job_ids: Vec::new() })
}

/// Ends the impersonation of this session. Returns the admin's own session again (with a new token) while it is
/// still live; `None` when it ended meanwhile (the admin logs in again). `NotFound` when this is no impersonation.
/// Returns the user's id too (the admin goes back to their page).
pub async fn stop(
    st: &AppState,
    ctx: &RequestContext,
    session: &CurrentSession,
) -> Result<(Option<NewSession>, String), Error> {
    let imp = session.impersonator.as_ref().ok_or(Error::NotFound)?;
    let now = st.clock.now();
    let mut tx = st.db.begin().await?;
    sqlx::query("DELETE FROM sessions WHERE id = $1").bind(&session.session_id).execute(&mut *tx).await?;
    let event = Event::by_admin("admin.impersonation_stopped", &imp.user_id, &session.user_id);
    audit::record(&mut tx, ctx, now, event).await?;
    let token = random_token();
    let resumed: Option<(i64, i64)> = sqlx::query_as(
        "UPDATE sessions SET token_digest = $1 WHERE id = $2 AND user_id = $3 AND impersonator_id IS NULL \
         AND idle_expires_at > $4 AND absolute_expires_at > $4 RETURNING remember_me, absolute_expires_at",
    )
    .bind(token_digest(&token))
    .bind(imp.session_id.as_deref().unwrap_or_default())
    .bind(&imp.user_id)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    let admin_session = resumed.map(|(remember, absolute)| NewSession {
        token,
        max_age_secs: (remember == 1).then_some((absolute - now).max(0)),
        job_ids: Vec::new(),
    });
    Ok((admin_session, session.user_id.clone()))
}
