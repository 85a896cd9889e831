//! The apps a person allowed: their consent to an app that is not first-party, remembered so the consent page is
//! not shown again for the same scopes (asking for more asks again), and the list on the API tokens page, where
//! revoking an app forgets the consent and ends every grant it holds — its refresh tokens at once, its access tokens
//! at their next check.
use std::collections::BTreeMap;

use crate::{
    platform::audit::{self, Event},
    platform::db::Tx,
    platform::request::{CurrentSession, RequestContext},
    AppState, Error,
};

/// Whether the person already allowed `client_id` every scope in `scopes`.
pub async fn covers(st: &AppState, user_id: &str, client_id: &str, scopes: &[&str]) -> Result<bool, sqlx::Error> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT scope FROM oauth_consents WHERE user_id = $1 AND client_id = $2")
            .bind(user_id)
            .bind(client_id)
            .fetch_optional(&st.db.pool)
            .await?;
    Ok(row.is_some_and(|(given,)| scopes.iter().all(|s| given.split(' ').any(|g| g == *s))))
}

/// Remembers that the person allowed `scope` (added to what they allowed before), in `tx`.
pub async fn remember(tx: &mut Tx, user_id: &str, client_id: &str, scope: &str, now: i64) -> Result<(), sqlx::Error> {
    let before: Option<(String,)> =
        sqlx::query_as("SELECT scope FROM oauth_consents WHERE user_id = $1 AND client_id = $2")
            .bind(user_id)
            .bind(client_id)
            .fetch_optional(&mut **tx)
            .await?;
    let mut all: Vec<&str> = before.as_ref().map(|(s,)| s.split(' ').collect()).unwrap_or_default();
    all.extend(scope.split(' '));
    all.retain(|s| !s.is_empty());
    all.sort_unstable();
    all.dedup();
    sqlx::query(
        "INSERT INTO oauth_consents (user_id, client_id, scope, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (user_id, client_id) DO UPDATE SET scope = excluded.scope",
    )
    .bind(user_id)
    .bind(client_id)
    .bind(all.join(" "))
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// An app with access to the person's account, as the API tokens page lists it.
#[derive(Clone, Debug)]
pub struct AllowedApp {
    pub client_id: String,
    pub name: String,
    /// What it was allowed, or was given by the sign-ins that still hold tokens.
    pub scopes: Vec<String>,
    pub since: i64,
    /// It holds a refresh token: it stays connected when the person is away.
    pub offline: bool,
}

/// The apps the person allowed (remembered consent), and the apps holding a live grant (an access token that may
/// not have expired, or a refresh token), the first allowed first. Revoked apps and service accounts are not listed.
pub async fn list(st: &AppState, user_id: &str) -> Result<Vec<AllowedApp>, sqlx::Error> {
    let now = st.clock.now();
    let consents: Vec<(String, String, String, i64)> = sqlx::query_as(
        "SELECT c.id, c.name, k.scope, k.created_at FROM oauth_consents k JOIN oauth_clients c ON c.id = k.client_id \
         WHERE k.user_id = $1 AND c.revoked_at IS NULL AND c.org_id IS NULL",
    )
    .bind(user_id)
    .fetch_all(&st.db.pool)
    .await?;
    let grants: Vec<(String, String, String, i64, i64)> = sqlx::query_as(
        "SELECT c.id, c.name, g.scope, g.created_at, (SELECT COUNT(*) FROM oauth_refresh_tokens r \
           WHERE r.grant_id = g.id AND r.used_at IS NULL AND r.expires_at > $2) AS refresh \
         FROM oauth_grants g JOIN oauth_clients c ON c.id = g.client_id \
         WHERE g.user_id = $1 AND c.revoked_at IS NULL AND c.org_id IS NULL",
    )
    .bind(user_id)
    .bind(now)
    .fetch_all(&st.db.pool)
    .await?;
    let live = grants.into_iter().filter(|g| g.4 > 0 || g.3 > now - super::ACCESS_TOKEN_SECS);
    let mut apps: BTreeMap<String, AllowedApp> = BTreeMap::new();
    for (client_id, name, scope, at, refresh) in consents.into_iter().map(|(c, n, s, at)| (c, n, s, at, 0)).chain(live)
    {
        let app = apps.entry(client_id.clone()).or_insert_with(|| AllowedApp {
            client_id,
            name,
            scopes: Vec::new(),
            since: at,
            offline: false,
        });
        app.since = app.since.min(at);
        app.offline |= refresh > 0;
        app.scopes.extend(scope.split(' ').filter(|s| !s.is_empty()).map(str::to_string));
        // In the order the consent page shows them.
        app.scopes.sort_by_key(|s| super::SCOPES.iter().position(|k| k == s));
        app.scopes.dedup();
    }
    let mut apps: Vec<AllowedApp> = apps.into_values().collect();
    apps.sort_by(|a, b| a.since.cmp(&b.since).then_with(|| a.name.cmp(&b.name)));
    Ok(apps)
}

/// Takes an app's access away: forgets the consent, ends every grant (refresh tokens at once, access tokens at their
/// next check) and unredeemed code. Audited. An app the person never allowed is "not found".
pub async fn revoke(st: &AppState, ctx: &RequestContext, me: &CurrentSession, client_id: &str) -> Result<(), Error> {
    let now = st.clock.now();
    let mut tx = st.db.begin().await?;
    let mut ended = 0;
    for table in ["oauth_consents", "oauth_grants", "oauth_codes"] {
        ended += sqlx::query(&format!("DELETE FROM {table} WHERE user_id = $1 AND client_id = $2"))
            .bind(&me.user_id)
            .bind(client_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    }
    let name: Option<(String,)> =
        sqlx::query_as("SELECT name FROM oauth_clients WHERE id = $1").bind(client_id).fetch_optional(&mut *tx).await?;
    let (Some((name,)), true) = (name, ended > 0) else { return Err(Error::NotFound) };
    audit::record(&mut tx, ctx, now, Event::by_user("user.oauth_revoked", &me.user_id).detail(&name)).await?;
    tx.commit().await?;
    Ok(())
}
