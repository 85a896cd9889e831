//! Service accounts: an organization's own clients, for its back ends and jobs. An owner makes one on the
//! organization's service accounts page (behind sudo) and gets its client id and secret, the secret once; the service account
//! then gets 10-minute access tokens with the `client_credentials` grant (RFC 6749 §4.4) and calls the JSON API as
//! itself, never as a person: it reads that organization (its members), and nothing else. (The API changes nothing
//! in an organization yet, so there is no write scope to give; the `scopes` column is there for it.)
//!
//! It is a row of `oauth_clients` with an organization and no redirect URI, so the client authentication of the
//! token endpoint is the apps' one, and no person can sign in through it. Revoking it, or deleting the
//! organization, ends its tokens at their next check. What it does is audited as it (`actor_client_id`).
use super::{
    clients::Client,
    grants::{AccessClaims, TokenError, Tokens},
    keys, ACCESS_TOKEN_SECS,
};
use crate::{
    orgs::{authorize, Action},
    platform::audit::{self, Event},
    platform::crypto::{new_id, random_token, token_digest},
    platform::db::DbKind,
    platform::request::{CurrentSession, RequestContext},
    signin::sudo,
    AppState, Error,
};

/// Service accounts one organization may hold at once.
pub const MAX_PER_ORG: i64 = 10;
/// The scope a service account is given: read its organization.
pub const READ: &str = "api:read";

/// A new service account, or a new secret: the secret goes to the page once and nowhere else.
pub struct Credentials {
    pub client_id: String,
    pub secret: String,
}

/// One of the organization's service accounts, as its settings list it.
#[derive(Clone, Debug)]
pub struct ServiceAccountRow {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    /// Who made it (their address), unless their account is gone.
    pub created_by: Option<String>,
    pub last_used_at: Option<i64>,
    pub last_used_ip: Option<String>,
}

/// Makes a service account for organization `slug` (owners, behind sudo, with a confirmed address). Audited in the
/// organization.
pub async fn create(
    st: &AppState,
    ctx: &RequestContext,
    me: &CurrentSession,
    slug: &str,
    name: &str,
) -> Result<Credentials, Error> {
    sudo::require_confirmed(me)?;
    let org = authorize(st, me, slug, Action::ManageServiceAccounts).await?;
    sudo::require(st, me)?;
    let name = crate::signin::passkeys::clean_name(name);
    if name.is_empty() {
        return Err(Error::Field("name", "Give it a name, so you can tell what uses it.".into()));
    }
    let now = st.clock.now();
    let mut tx = st.db.begin().await?;
    if st.db.kind == DbKind::Postgres {
        // One creation at a time per organization, so two at once cannot pass the limit together.
        sqlx::query("SELECT id FROM organizations WHERE id = $1 FOR UPDATE")
            .bind(&org.org_id)
            .execute(&mut *tx)
            .await?;
    }
    let (held,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM oauth_clients WHERE org_id = $1 AND revoked_at IS NULL")
        .bind(&org.org_id)
        .fetch_one(&mut *tx)
        .await?;
    if held >= MAX_PER_ORG {
        return Err(Error::Field(
            "name",
            format!("The organization has {MAX_PER_ORG} service accounts, the most it may hold: revoke one first."),
        ));
    }
    let id = new_id();
    let secret = random_token();
    let scopes = READ;
    sqlx::query(
        "INSERT INTO oauth_clients (id, name, secret_digest, redirect_uris, first_party, created_at, org_id, scopes, \
         created_by) VALUES ($1, $2, $3, '', 0, $4, $5, $6, $7)",
    )
    .bind(&id)
    .bind(&name)
    .bind(token_digest(&secret))
    .bind(now)
    .bind(&org.org_id)
    .bind(scopes)
    .bind(&me.user_id)
    .execute(&mut *tx)
    .await?;
    let detail = format!("{name} ({scopes})");
    let event = Event::in_org("org.service_account_created", &me.user_id, &org.org_id, None).detail(&detail);
    audit::record(&mut tx, ctx, now, event).await?;
    tx.commit().await?;
    Ok(Credentials { client_id: id, secret })
}

/// The caller's membership (an owner's) and the organization's live service accounts, the newest first.
pub async fn list(
    st: &AppState,
    me: &CurrentSession,
    slug: &str,
) -> Result<(crate::orgs::Membership, Vec<ServiceAccountRow>), Error> {
    let org = authorize(st, me, slug, Action::ManageServiceAccounts).await?;
    type Row = (String, String, i64, Option<String>, Option<i64>, Option<String>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT c.id, c.name, c.created_at, u.email, c.last_used_at, c.last_used_ip FROM oauth_clients c \
         LEFT JOIN users u ON u.id = c.created_by WHERE c.org_id = $1 AND c.revoked_at IS NULL \
         ORDER BY c.created_at DESC, c.id",
    )
    .bind(&org.org_id)
    .fetch_all(&st.db.pool)
    .await?;
    let rows = rows
        .into_iter()
        .map(|(id, name, created_at, created_by, last_used_at, last_used_ip)| ServiceAccountRow {
            id,
            name,
            created_at,
            created_by,
            last_used_at,
            last_used_ip,
        })
        .collect();
    Ok((org, rows))
}

/// A new secret for one of the organization's service accounts (owners, behind sudo): the old one stops working at
/// once; access tokens already issued live out their 10 minutes. Audited.
pub async fn new_secret(
    st: &AppState,
    ctx: &RequestContext,
    me: &CurrentSession,
    slug: &str,
    id: &str,
) -> Result<Credentials, Error> {
    let org = authorize(st, me, slug, Action::ManageServiceAccounts).await?;
    sudo::require(st, me)?;
    let secret = random_token();
    let mut tx = st.db.begin().await?;
    let name: Option<(String,)> = sqlx::query_as(
        "UPDATE oauth_clients SET secret_digest = $1 WHERE id = $2 AND org_id = $3 AND revoked_at IS NULL \
         RETURNING name",
    )
    .bind(token_digest(&secret))
    .bind(id)
    .bind(&org.org_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((name,)) = name else { return Err(Error::NotFound) };
    let event = Event::in_org("org.service_account_secret_replaced", &me.user_id, &org.org_id, None).detail(&name);
    audit::record(&mut tx, ctx, st.clock.now(), event).await?;
    tx.commit().await?;
    Ok(Credentials { client_id: id.to_string(), secret })
}

/// Revokes one of the organization's service accounts (owners): its secret and every access token it holds stop
/// working at once. Another organization's id is "not found". Audited.
pub async fn revoke(
    st: &AppState,
    ctx: &RequestContext,
    me: &CurrentSession,
    slug: &str,
    id: &str,
) -> Result<(), Error> {
    let org = authorize(st, me, slug, Action::ManageServiceAccounts).await?;
    let now = st.clock.now();
    let mut tx = st.db.begin().await?;
    let name: Option<(String,)> = sqlx::query_as(
        "UPDATE oauth_clients SET revoked_at = $1 WHERE id = $2 AND org_id = $3 AND revoked_at IS NULL RETURNING name",
    )
    .bind(now)
    .bind(id)
    .bind(&org.org_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((name,)) = name else { return Err(Error::NotFound) };
    let event = Event::in_org("org.service_account_revoked", &me.user_id, &org.org_id, None).detail(&name);
    audit::record(&mut tx, ctx, now, event).await?;
    tx.commit().await?;
    Ok(())
}

/// The `client_credentials` grant: an access token for a service account (already authenticated by its secret),
/// for the scopes it asks (by default all it was given). An app's client gets `unauthorized_client`: it acts for
/// people, through their sign-in. Audited as the service account, with the address it came from.
pub async fn issue_token(
    st: &AppState,
    ctx: &RequestContext,
    client: &Client,
    asked: Option<&str>,
) -> Result<Tokens, TokenError> {
    let Some(org_id) = client.org_id.as_deref() else { return Err(TokenError::UnauthorizedClient) };
    let mut scopes: Vec<&str> = match asked.map(str::trim).filter(|s| !s.is_empty()) {
        Some(asked) => asked.split(' ').filter(|s| !s.is_empty()).collect(),
        None => client.scopes.iter().map(String::as_str).collect(),
    };
    scopes.sort_unstable();
    scopes.dedup();
    if scopes.iter().any(|s| !client.scopes.iter().any(|g| g == s)) {
        return Err(TokenError::InvalidScope);
    }
    let scope = scopes.join(" ");
    let now = st.clock.now();
    let signer = keys::Signer::current(st).await?;
    let issuer = st.config.base_url.clone();
    let claims = AccessClaims {
        iss: issuer.clone(),
        sub: client.id.clone(),
        aud: issuer,
        client_id: client.id.clone(),
        scope: scope.clone(),
        iat: now,
        exp: now + ACCESS_TOKEN_SECS,
        jti: new_id(),
        sid: client.id.clone(),
        org: Some(org_id.to_string()),
    };
    let access_token = signer.sign("at+jwt", &claims)?;
    let mut tx = st.db.begin().await?;
    sqlx::query("UPDATE oauth_clients SET last_used_at = $1, last_used_ip = $2 WHERE id = $3")
        .bind(now)
        .bind(ctx.ip.to_string())
        .bind(&client.id)
        .execute(&mut *tx)
        .await?;
    let event = Event::by_service_account("service_account.token_issued", &client.id, org_id).detail(&scope);
    audit::record(&mut tx, ctx, now, event).await?;
    tx.commit().await?;
    Ok(Tokens {
        access_token,
        token_type: "Bearer",
        expires_in: ACCESS_TOKEN_SECS,
        scope,
        id_token: None,
        refresh_token: None,
    })
}

/// Whether a service account's access token still stands: the account not revoked, its organization not deleted.
pub async fn is_live(st: &AppState, claims: &AccessClaims, org_id: &str) -> Result<bool, sqlx::Error> {
    if claims.sub != claims.client_id {
        return Ok(false);
    }
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM oauth_clients c JOIN organizations o ON o.id = c.org_id \
         WHERE c.id = $1 AND c.org_id = $2 AND c.revoked_at IS NULL",
    )
    .bind(&claims.client_id)
    .bind(org_id)
    .fetch_one(&st.db.pool)
    .await?;
    Ok(n == 1)
}
