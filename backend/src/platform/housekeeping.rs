//! Removes rows nothing can use any more: expired sessions (sign-in and visitor), challenges, passkey ceremonies, provider flows and held
//! links, trusted browsers, personal access tokens and mailed tokens, finished jobs, and the OpenID provider's
//! expired codes and refresh tokens and the grants that hold nothing live any more. Run by the worker about every ten minutes; each statement is one indexed-or-small DELETE.
use crate::AppState;

/// How long used or expired mailed tokens and finished jobs are kept (for support questions), in seconds.
pub const KEEP_SECS: i64 = 30 * 24 * 3600;

/// Deletes what has expired; returns how many rows went.
pub async fn purge_expired(st: &AppState) -> Result<u64, sqlx::Error> {
    let now = st.clock.now();
    let old = now - KEEP_SECS;
    // Visitor sessions expire by the wall clock (tower-sessions sets their expiry).
    let wall = time::OffsetDateTime::now_utc().unix_timestamp();
    let statements: [(&str, i64); 14] = [
        ("DELETE FROM visitor_sessions WHERE expires_at <= $1", wall),
        ("DELETE FROM sessions WHERE idle_expires_at <= $1 OR absolute_expires_at <= $1", now),
        ("DELETE FROM mfa_challenges WHERE expires_at <= $1", now),
        ("DELETE FROM webauthn_ceremonies WHERE expires_at <= $1", now),
        ("DELETE FROM oauth_flows WHERE expires_at <= $1", now),
        ("DELETE FROM pending_links WHERE expires_at <= $1", now),
        ("DELETE FROM org_slug_redirects WHERE expires_at <= $1", now),
        ("DELETE FROM trusted_browsers WHERE expires_at <= $1", now),
        ("DELETE FROM api_tokens WHERE expires_at <= $1", now),
        ("DELETE FROM user_tokens WHERE expires_at <= $1", old),
        ("DELETE FROM jobs WHERE state = 'done' AND updated_at <= $1", old),
        // A redeemed code is kept a day past its minute, so a second redemption still ends what it gave.
        ("DELETE FROM oauth_codes WHERE expires_at <= $1", now - 86400),
        // A used refresh token stays while it could be presented again (reuse ends its grant); an expired one cannot.
        ("DELETE FROM oauth_refresh_tokens WHERE expires_at <= $1", now),
        // A grant whose last access token has expired and that holds no refresh token to get another.
        (
            "DELETE FROM oauth_grants WHERE created_at <= $1 AND NOT EXISTS (SELECT 1 FROM oauth_refresh_tokens r \
             WHERE r.grant_id = oauth_grants.id AND (r.used_at IS NULL OR r.created_at > $1))",
            now - crate::provider::ACCESS_TOKEN_SECS,
        ),
    ];
    let mut removed = 0;
    for (sql, before) in statements {
        removed += sqlx::query(sql).bind(before).execute(&st.db.pool).await?.rows_affected();
    }
    Ok(removed)
}
