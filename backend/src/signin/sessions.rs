//! Sessions: one row per signed-in device, found by the digest of the cookie's random token.
//!
//! The only way to create a session is [`create`], and it takes a [`SignInGrant`], which only the sign-in gate
//! ([`crate::signin::gate`]) can make.
use crate::signin::jobs::NewDeviceSignIn;
use crate::{
    platform::audit::{self, Event},
    platform::crypto::{new_id, random_token, token_digest},
    platform::db::Tx,
    platform::request::{CurrentSession, Impersonator, RequestContext},
    signin::gate::SignInGrant,
    AppState,
};

/// An admin's session: no "remember me", 15 minutes idle, 12 hours at most (M7).
pub const ADMIN_IDLE_SECS: i64 = 15 * 60;
pub const ADMIN_ABSOLUTE_SECS: i64 = 12 * 3600;

/// A fresh session: the clear token goes in the cookie and nowhere else.
pub struct NewSession {
    pub token: String,
    pub max_age_secs: Option<i64>,
    /// Mail queued with the sign-in (new-device notice): run [`crate::platform::jobs::after_commit`] on them.
    pub job_ids: Vec<String>,
}

/// Creates the session in `tx`, replacing the session the browser presented (a new id at every sign-in), and
/// records the sign-in in the audit log in the same transaction.
pub async fn create(
    tx: &mut Tx,
    st: &AppState,
    ctx: &RequestContext,
    grant: SignInGrant,
) -> Result<NewSession, sqlx::Error> {
    let now = st.clock.now();
    let c = &st.config;
    let remember_me = grant.remember_me() && !grant.admin();
    let (idle, absolute) = if grant.admin() {
        (ADMIN_IDLE_SECS.min(c.session_idle_secs), ADMIN_ABSOLUTE_SECS.min(c.session_absolute_secs))
    } else if remember_me {
        (c.remember_me_idle_secs, c.remember_me_absolute_secs)
    } else {
        (c.session_idle_secs, c.session_absolute_secs)
    };
    if let Some(old) = &ctx.presented_session_digest {
        sqlx::query("DELETE FROM sessions WHERE token_digest = $1").bind(old).execute(&mut **tx).await?;
    }
    let token = random_token();
    let id = new_id();
    sqlx::query(
        "INSERT INTO sessions (id, user_id, token_digest, remember_me, ip, user_agent, created_at, last_active_at, \
         idle_expires_at, absolute_expires_at, sudo_at, sign_in_method) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $9, $10, $11)",
    )
    .bind(&id)
    .bind(grant.user_id())
    .bind(token_digest(&token))
    .bind(remember_me as i64)
    .bind(ctx.ip.to_string())
    .bind(ctx.user_agent.as_deref().map(|ua| ua.chars().take(256).collect::<String>()))
    .bind(now)
    .bind((now + idle).min(now + absolute))
    .bind(now + absolute)
    .bind(grant.reauthenticated().then_some(now))
    .bind(grant.method())
    .execute(&mut **tx)
    .await?;
    let mut job_ids = Vec::new();
    if is_new_device(tx, grant.user_id(), ctx.user_agent.as_deref()).await? {
        let job = NewDeviceSignIn { user_id: grant.user_id().to_string(), session_id: id.clone() };
        job_ids.push(crate::platform::jobs::enqueue(tx, st, job).await?);
    }
    audit::record(tx, ctx, now, Event::by_user("user.log_in", grant.user_id()).detail(grant.method())).await?;
    Ok(NewSession { token, max_age_secs: remember_me.then_some(absolute), job_ids })
}

/// A sign-in from a browser this account has never signed in from, when it has signed in before (the first
/// sign-in of a new account is not news to its owner). One query that stops at the first matching row of each kind,
/// so it costs the same after a thousand sign-ins as after one.
async fn is_new_device(tx: &mut Tx, user_id: &str, user_agent: Option<&str>) -> Result<bool, sqlx::Error> {
    let ua: String = user_agent.unwrap_or_default().chars().take(256).collect();
    let (before, same): (i64, i64) = sqlx::query_as(
        "SELECT \
         (SELECT COUNT(*) FROM (SELECT 1 FROM audit_events WHERE target_user_id = $1 AND action = 'user.log_in' \
           AND outcome = 'success' LIMIT 1) b), \
         (SELECT COUNT(*) FROM (SELECT 1 FROM audit_events WHERE target_user_id = $1 AND action = 'user.log_in' \
           AND outcome = 'success' AND COALESCE(user_agent, '') = $2 LIMIT 1) s)",
    )
    .bind(user_id)
    .bind(ua)
    .fetch_one(&mut **tx)
    .await?;
    Ok(before > 0 && same == 0)
}

/// The session behind a token digest (`$1`) at `$2`, with what every page needs of its user. The active
/// organization counts only through a membership: a removed member's session forgets it at once. An account an admin
/// locked has no live session; an impersonation lasts only while its admin is one.
const FIND_SESSION: &str =
    "SELECT s.id, s.user_id, u.email, u.display_name, u.confirmed_at, s.remember_me, s.last_active_at, \
         s.idle_expires_at, s.absolute_expires_at, s.sudo_at, \
         (SELECT COUNT(*) FROM user_totp t WHERE t.user_id = u.id AND t.enabled_at IS NOT NULL) AS mfa, \
         (SELECT COUNT(*) FROM passkeys p WHERE p.user_id = u.id) AS passkeys, s.created_at, \
         o.slug AS org_slug, o.name AS org_name, u.is_admin, s.impersonator_id, a.email AS impersonator_email, \
         s.impersonator_session_id \
         FROM sessions s JOIN users u ON u.id = s.user_id \
         LEFT JOIN memberships m ON m.org_id = s.active_org_id AND m.user_id = s.user_id \
         LEFT JOIN organizations o ON o.id = m.org_id \
         LEFT JOIN users a ON a.id = s.impersonator_id AND a.is_admin = 1 AND a.locked_at IS NULL \
           AND (EXISTS (SELECT 1 FROM user_totp t WHERE t.user_id = a.id AND t.enabled_at IS NOT NULL) \
             OR EXISTS (SELECT 1 FROM passkeys k WHERE k.user_id = a.id)) \
           AND EXISTS (SELECT 1 FROM sessions o WHERE o.id = s.impersonator_session_id AND o.user_id = a.id \
             AND o.absolute_expires_at > $2) \
         WHERE s.token_digest = $1 AND u.locked_at IS NULL \
           AND (s.impersonator_id IS NULL OR (a.id IS NOT NULL AND u.is_admin = 0))";

/// Looks up the session behind a cookie token, by the token's digest ([`token_digest`]). Expired rows are deleted;
/// a live one has its idle deadline moved (at most once a minute, to keep reads cheap).
pub async fn find_current(st: &AppState, digest: &str) -> Result<Option<CurrentSession>, sqlx::Error> {
    let now = st.clock.now();
    let query = || sqlx::query_as::<_, FoundSession>(FIND_SESSION).bind(digest).bind(now);
    // On SQLite, on this thread (`Db::read_direct`); on PostgreSQL, on a connection outside the pool (`Db::quick`).
    // If either fails, once more on the pool.
    let row = match st.db.read_direct(|conn| FoundSession::read(conn, digest, now)) {
        Some(Ok(row)) => row,
        Some(Err(e)) => {
            tracing::debug!(error = %e, "session lookup on this thread failed; asking the pool");
            query().fetch_optional(&st.db.pool).await?
        }
        None => {
            let mut quick = st.db.quick().await?;
            match query().fetch_optional(quick.conn()).await {
                Ok(row) => {
                    quick.keep();
                    row
                }
                Err(e) => {
                    drop(quick);
                    tracing::debug!(error = %e, "session lookup on a kept connection failed; asking the pool");
                    query().fetch_optional(&st.db.pool).await?
                }
            }
        }
    };

    let Some(r) = row else {
        return Ok(None);
    };
    let (id, remember, last_active, mut abs_exp) = (r.id, r.remember_me, r.last_active_at, r.absolute_expires_at);
    let admin = r.is_admin == 1 && r.impersonator_id.is_none();
    if admin {
        // An admin's session is short whatever it was made with (the role may have come after the sign-in).
        abs_exp = abs_exp.min(r.created_at + ADMIN_ABSOLUTE_SECS);
    }
    if now >= r.idle_expires_at || now >= abs_exp || (admin && now - last_active >= ADMIN_IDLE_SECS) {
        sqlx::query("DELETE FROM sessions WHERE id = $1").bind(&id).execute(&st.db.pool).await?;
        return Ok(None);
    }
    let impersonator = r.impersonator_id.zip(r.impersonator_email).map(|(user_id, email)| Impersonator {
        user_id,
        email,
        session_id: r.impersonator_session_id,
        ends_at: abs_exp,
    });
    if now - last_active >= 60 {
        let idle = if impersonator.is_some() {
            crate::admin::IMPERSONATION_IDLE_SECS
        } else if admin {
            ADMIN_IDLE_SECS
        } else if remember == 1 {
            st.config.remember_me_idle_secs
        } else {
            st.config.session_idle_secs
        };
        sqlx::query("UPDATE sessions SET last_active_at = $1, idle_expires_at = $2 WHERE id = $3")
            .bind(now)
            .bind((now + idle).min(abs_exp))
            .bind(&id)
            .execute(&st.db.pool)
            .await?;
    }
    Ok(Some(CurrentSession {
        session_id: id,
        user_id: r.user_id,
        email: r.email,
        display_name: r.display_name,
        confirmed: r.confirmed_at.is_some(),
        remember_me: remember == 1,
        sudo_at: r.sudo_at,
        has_mfa: r.mfa > 0,
        has_passkey: r.passkeys > 0,
        active_org: r.org_slug.zip(r.org_name),
        is_admin: r.is_admin == 1,
        impersonator,
    }))
}

/// A row of [`FIND_SESSION`].
#[derive(sqlx::FromRow)]
#[cfg_attr(test, derive(Debug, PartialEq))]
struct FoundSession {
    id: String,
    user_id: String,
    email: String,
    display_name: Option<String>,
    confirmed_at: Option<i64>,
    remember_me: i64,
    last_active_at: i64,
    idle_expires_at: i64,
    absolute_expires_at: i64,
    sudo_at: Option<i64>,
    mfa: i64,
    passkeys: i64,
    created_at: i64,
    org_slug: Option<String>,
    org_name: Option<String>,
    is_admin: i64,
    impersonator_id: Option<String>,
    impersonator_email: Option<String>,
    impersonator_session_id: Option<String>,
}

impl FoundSession {
    /// [`FIND_SESSION`] on a SQLite connection of this thread's (`Db::read_direct`). Read by position, in the order
    /// of the query's columns: rusqlite finds a column by name by comparing it with every column's name, which was an
    /// eighth of the instructions of a session check. A unit test reads one row both ways (by name through sqlx).
    fn read(conn: &rusqlite::Connection, digest: &str, now: i64) -> rusqlite::Result<Option<Self>> {
        use rusqlite::OptionalExtension;
        conn.prepare_cached(FIND_SESSION)?
            .query_row(rusqlite::named_params! { "$1": digest, "$2": now }, |r| {
                Ok(Self {
                    id: r.get(0)?,
                    user_id: r.get(1)?,
                    email: r.get(2)?,
                    display_name: r.get(3)?,
                    confirmed_at: r.get(4)?,
                    remember_me: r.get(5)?,
                    last_active_at: r.get(6)?,
                    idle_expires_at: r.get(7)?,
                    absolute_expires_at: r.get(8)?,
                    sudo_at: r.get(9)?,
                    mfa: r.get(10)?,
                    passkeys: r.get(11)?,
                    created_at: r.get(12)?,
                    org_slug: r.get(13)?,
                    org_name: r.get(14)?,
                    is_admin: r.get(15)?,
                    impersonator_id: r.get(16)?,
                    impersonator_email: r.get(17)?,
                    impersonator_session_id: r.get(18)?,
                })
            })
            .optional()
    }
}

/// Gives the current session a new token (the old cookie stops working), and with `sudo_at` opens its sudo
/// window. Used at re-authentication and after a password change.
pub async fn rotate(
    tx: &mut Tx,
    st: &AppState,
    session: &CurrentSession,
    sudo_at: Option<i64>,
) -> Result<NewSession, sqlx::Error> {
    let token = random_token();
    let (absolute,): (i64,) = sqlx::query_as(
        "UPDATE sessions SET token_digest = $1, sudo_at = COALESCE($2, sudo_at) WHERE id = $3 \
         RETURNING absolute_expires_at",
    )
    .bind(token_digest(&token))
    .bind(sudo_at)
    .bind(&session.session_id)
    .fetch_one(&mut **tx)
    .await?;
    let remaining = (absolute - st.clock.now()).max(0);
    Ok(NewSession { token, max_age_secs: session.remember_me.then_some(remaining), job_ids: Vec::new() })
}

/// Ends every session of the user but `keep` (if given) in `tx`. Returns how many ended.
/// Impersonations the user started as an admin end with them, and so do the user's sign-ins and passkey
/// ceremonies still in progress (a pending second-factor challenge would otherwise outlive a reset, a password or
/// e-mail change, a lock or a deletion).
pub async fn end_all_for_user(tx: &mut Tx, user_id: &str, keep: Option<&str>) -> Result<u64, sqlx::Error> {
    sqlx::query("DELETE FROM mfa_challenges WHERE user_id = $1").bind(user_id).execute(&mut **tx).await?;
    sqlx::query("DELETE FROM webauthn_ceremonies WHERE user_id = $1 AND (session_id IS NULL OR session_id <> $2)")
        .bind(user_id)
        .bind(keep.unwrap_or(""))
        .execute(&mut **tx)
        .await?;
    let r = sqlx::query("DELETE FROM sessions WHERE (user_id = $1 OR impersonator_id = $1) AND id <> $2")
        .bind(user_id)
        .bind(keep.unwrap_or(""))
        .execute(&mut **tx)
        .await?;
    Ok(r.rows_affected())
}

/// After a change to how the account signs in (a second factor or a provider added or removed, S36): every other
/// session of the user ends in `tx`, unless the owner deliberately chose to keep them. Returns how many ended.
pub async fn end_others_after_factor_change(
    tx: &mut Tx,
    session: &CurrentSession,
    keep_others: bool,
) -> Result<u64, sqlx::Error> {
    if keep_others {
        return Ok(0);
    }
    end_all_for_user(tx, &session.user_id, Some(&session.session_id)).await
}

/// Ends this session server-side: the cookie, if replayed, finds nothing.
/// Logging out of an impersonation logs the admin out too (their own session waits behind it).
pub async fn end(st: &AppState, ctx: &RequestContext, session: &CurrentSession) -> Result<(), sqlx::Error> {
    let mut tx = st.db.begin().await?;
    sqlx::query("DELETE FROM sessions WHERE id = $1").bind(&session.session_id).execute(&mut *tx).await?;
    if let Some(own) = session.impersonator.as_ref().and_then(|i| i.session_id.as_deref()) {
        sqlx::query("DELETE FROM sessions WHERE id = $1").bind(own).execute(&mut *tx).await?;
    }
    audit::record(&mut tx, ctx, st.clock.now(), Event::by_user("user.log_out", &session.user_id)).await?;
    tx.commit().await
}

/// The `Set-Cookie` value for a session token (or for clearing it, with `None`).
pub fn cookie(config: &crate::platform::config::Config, session: Option<&NewSession>) -> String {
    match session {
        Some(s) => crate::platform::cookies::set(config, config.session_cookie_name(), &s.token, s.max_age_secs),
        None => crate::platform::cookies::clear(config, config.session_cookie_name()),
    }
}

/// One of the user's sessions, as the sessions page shows it.
#[derive(Debug, sqlx::FromRow)]
pub struct SessionRow {
    pub id: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: i64,
    pub last_active_at: i64,
    /// The admin behind an impersonation session.
    pub impersonator_id: Option<String>,
}

/// The user's live sessions, the most recently active first.
pub async fn list_for_user(st: &AppState, user_id: &str) -> Result<Vec<SessionRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, ip, user_agent, created_at, last_active_at, impersonator_id FROM sessions \
         WHERE user_id = $1 AND idle_expires_at > $2 AND absolute_expires_at > $2 ORDER BY last_active_at DESC",
    )
    .bind(user_id)
    .bind(st.clock.now())
    .fetch_all(&st.db.pool)
    .await
}

/// Ends one of the user's own sessions by its public id. False when no such session belongs to this user
/// (another user's id included): the caller answers 404 either way.
pub async fn revoke(st: &AppState, ctx: &RequestContext, user_id: &str, session_id: &str) -> Result<bool, sqlx::Error> {
    let mut tx = st.db.begin().await?;
    let r = sqlx::query("DELETE FROM sessions WHERE id = $1 AND user_id = $2")
        .bind(session_id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    if r.rows_affected() == 1 {
        audit::record(&mut tx, ctx, st.clock.now(), Event::by_user("session.revoke", user_id).detail(session_id))
            .await?;
    }
    tx.commit().await?;
    Ok(r.rows_affected() == 1)
}

/// Ends every session of the user except `keep`. Returns how many ended.
pub async fn revoke_others(st: &AppState, ctx: &RequestContext, user_id: &str, keep: &str) -> Result<u64, sqlx::Error> {
    let mut tx = st.db.begin().await?;
    let ended = end_all_for_user(&mut tx, user_id, Some(keep)).await?;
    let n = ended.to_string();
    audit::record(&mut tx, ctx, st.clock.now(), Event::by_user("session.revoke_others", user_id).detail(&n)).await?;
    tx.commit().await?;
    Ok(ended)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::db::scratch_sqlite;

    /// The direct read takes [`FIND_SESSION`]'s columns by position; sqlx takes them by name. On a row where every
    /// column has a value of its own (an impersonated session in an organization, with a second factor and passkeys),
    /// both give the same session: a column read at the wrong position would differ.
    #[tokio::test]
    async fn the_direct_session_read_gives_what_the_pool_gives_column_by_column() {
        let (db, dir) = scratch_sqlite("found").await;
        db.migrate().await.unwrap();
        let now = 1_000_000;
        for sql in [
            "INSERT INTO users (id, email, password_hash, confirmed_at, created_at, updated_at, display_name, is_admin) \
             VALUES ('u', 'u@example.com', 'h', 11, 12, 13, 'Ursula', 0), ('a', 'a@example.com', 'h', 21, 22, 23, 'Ada', 1)",
            "INSERT INTO user_totp (user_id, secret_enc, enabled_at, created_at) VALUES ('u', 's', 31, 32), ('a', 's', 33, 34)",
            "INSERT INTO passkeys (id, user_id, credential_id, credential, name, created_at) \
             VALUES ('p1', 'u', 'c1', '{}', 'one', 41), ('p2', 'u', 'c2', '{}', 'two', 42)",
            "INSERT INTO organizations (id, name, slug, created_at, updated_at) VALUES ('o', 'Acme', 'acme', 51, 52)",
            "INSERT INTO memberships (org_id, user_id, role, created_at) VALUES ('o', 'u', 'member', 53)",
            "INSERT INTO sessions (id, user_id, token_digest, remember_me, created_at, last_active_at, idle_expires_at, \
             absolute_expires_at) VALUES ('sa', 'a', 'da', 0, 61, 62, 2000000, 3000000)",
            "INSERT INTO sessions (id, user_id, token_digest, remember_me, created_at, last_active_at, idle_expires_at, \
             absolute_expires_at, sudo_at, active_org_id, impersonator_id, impersonator_session_id) \
             VALUES ('s', 'u', 'd', 1, 71, 72, 1500000, 2500000, 73, 'o', 'a', 'sa')",
        ] {
            sqlx::query(sql).execute(&db.pool).await.unwrap();
        }
        let direct = db.read_direct(|c| FoundSession::read(c, "d", now)).expect("SQLite reads directly").unwrap();
        let by_name =
            sqlx::query_as::<_, FoundSession>(FIND_SESSION).bind("d").bind(now).fetch_optional(&db.pool).await.unwrap();
        let found = by_name.expect("the impersonated session is found");
        assert_eq!(direct.as_ref(), Some(&found));
        // Every column has a value, and no two columns of one type share one.
        assert_eq!(
            (found.id.as_str(), found.user_id.as_str(), found.email.as_str(), found.display_name.as_deref()),
            ("s", "u", "u@example.com", Some("Ursula"))
        );
        assert_eq!(
            (found.mfa, found.passkeys, found.is_admin, found.org_slug.as_deref(), found.org_name.as_deref()),
            (1, 2, 0, Some("acme"), Some("Acme"))
        );
        assert_eq!(
            (
                found.impersonator_id.as_deref(),
                found.impersonator_email.as_deref(),
                found.impersonator_session_id.as_deref()
            ),
            (Some("a"), Some("a@example.com"), Some("sa"))
        );
        assert_eq!(
            (found.confirmed_at, found.remember_me, found.last_active_at, found.idle_expires_at),
            (Some(11), 1, 72, 1_500_000)
        );
        assert_eq!((found.absolute_expires_at, found.sudo_at, found.created_at), (2_500_000, Some(73), 71));
        db.pool.close().await;
        let _ = std::fs::remove_dir_all(dir);
    }
}
