//! Trusted browsers: a signed cookie that skips the code step on this browser for 30 days, and revoking it.
use super::*;

fn trust_mac(st: &AppState, id: &str, user_id: &str, epoch: i64, expires: i64) -> String {
    keyed_digest(
        st.config.secret_key.expose(),
        &["trusted_browser", id, user_id, &epoch.to_string(), &expires.to_string()],
    )
}

/// Records this browser as trusted by the user for 30 days; returns the cookie value.
pub async fn trust_this_browser(
    tx: &mut Tx,
    st: &AppState,
    ctx: &RequestContext,
    user_id: &str,
) -> Result<String, sqlx::Error> {
    let now = st.clock.now();
    let id = new_id();
    let expires = now + TRUST_SECS;
    let (epoch,): (i64,) =
        sqlx::query_as("SELECT trust_epoch FROM users WHERE id = $1").bind(user_id).fetch_one(&mut **tx).await?;
    sqlx::query(
        "INSERT INTO trusted_browsers (id, user_id, user_agent, ip, created_at, last_used_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $5, $6)",
    )
    .bind(&id)
    .bind(user_id)
    .bind(ctx.user_agent.as_deref().map(|ua| ua.chars().take(256).collect::<String>()))
    .bind(ctx.ip.to_string())
    .bind(now)
    .bind(expires)
    .execute(&mut **tx)
    .await?;
    audit::record(tx, ctx, now, Event::by_user("mfa.browser_trusted", user_id)).await?;
    Ok(format!("{id}.{epoch}.{expires}.{}", trust_mac(st, &id, user_id, epoch, expires)))
}

/// Whether the trust cookie this request carries was issued to `user_id`, is unexpired, matches the user's trust
/// epoch and its row still exists (not revoked). Marks it used.
pub async fn trusted_browser(
    tx: &mut Tx,
    st: &AppState,
    ctx: &RequestContext,
    user_id: &str,
) -> Result<bool, sqlx::Error> {
    let Some(cookie) = ctx.trusted_browser.as_deref() else { return Ok(false) };
    let parts: Vec<&str> = cookie.split('.').collect();
    let [id, epoch, expires, mac] = parts[..] else { return Ok(false) };
    let (Ok(epoch), Ok(expires)) = (epoch.parse::<i64>(), expires.parse::<i64>()) else { return Ok(false) };
    let now = st.clock.now();
    if expires <= now || !digest_eq(mac, &trust_mac(st, id, user_id, epoch, expires)) {
        return Ok(false);
    }
    let r = sqlx::query(
        "UPDATE trusted_browsers SET last_used_at = $1 WHERE id = $2 AND user_id = $3 AND expires_at > $1 \
         AND EXISTS (SELECT 1 FROM users WHERE id = $3 AND trust_epoch = $4)",
    )
    .bind(now)
    .bind(id)
    .bind(user_id)
    .bind(epoch)
    .execute(&mut **tx)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Forgets every trusted browser of the user at once (a new epoch voids every cookie).
pub async fn revoke_all_trust(tx: &mut Tx, user_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM trusted_browsers WHERE user_id = $1").bind(user_id).execute(&mut **tx).await?;
    sqlx::query("UPDATE users SET trust_epoch = trust_epoch + 1 WHERE id = $1")
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Forgets one trusted browser of the user's own; false when there is no such row for this user.
pub async fn revoke_trust(
    st: &AppState,
    ctx: &RequestContext,
    session: &CurrentSession,
    id: Option<&str>,
) -> Result<bool, Error> {
    sudo::not_impersonating(session)?;
    let now = st.clock.now();
    let mut tx = st.db.begin().await?;
    let found = match id {
        Some(id) => {
            let r = sqlx::query("DELETE FROM trusted_browsers WHERE id = $1 AND user_id = $2")
                .bind(id)
                .bind(&session.user_id)
                .execute(&mut *tx)
                .await?;
            r.rows_affected() == 1
        }
        None => {
            revoke_all_trust(&mut tx, &session.user_id).await?;
            true
        }
    };
    if found {
        let detail = if id.is_some() { "one" } else { "all" };
        audit::record(&mut tx, ctx, now, Event::by_user("mfa.trust_revoked", &session.user_id).detail(detail)).await?;
    }
    tx.commit().await?;
    Ok(found)
}
