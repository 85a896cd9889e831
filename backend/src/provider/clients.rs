//! Registered OAuth clients: made from the command line (`portcullis oauth-client create`), listed and revoked
//! there and in the admin console. A confidential client's secret is shown once and stored as its SHA-256.
use crate::{
    platform::crypto::{digest_eq, new_id, random_token, token_digest},
    AppState, Error,
};

/// What `portcullis oauth-client create` asks for.
pub struct NewClient<'a> {
    pub name: &'a str,
    pub redirect_uris: &'a [String],
    /// A native or browser app: no secret, PKCE alone.
    pub public: bool,
    /// The product's own app: no consent page.
    pub first_party: bool,
}

/// A new client: its id, and its secret (shown once) unless it is public.
pub struct Created {
    pub id: String,
    pub secret: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Client {
    pub id: String,
    pub name: String,
    pub public: bool,
    pub first_party: bool,
    pub redirect_uris: Vec<String>,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
    /// A service account's organization ([`super::service_accounts`]); `None` for an app people sign in to.
    pub org_id: Option<String>,
    /// What a service account may ask for (`api:read`, `api:write`).
    pub scopes: Vec<String>,
    secret_digest: Option<String>,
}

/// A redirect URI a client may register: `https`, or `http` on a loopback address (a native app, RFC 8252), or a
/// private-use scheme (`com.example.app:/callback`); never a fragment, never `http` to another host.
pub fn check_redirect_uri(raw: &str) -> Result<(), String> {
    let uri = url::Url::parse(raw).map_err(|e| format!("{raw:?} is not a URI: {e}"))?;
    if uri.fragment().is_some() {
        return Err(format!("{raw:?} has a fragment, which a redirect URI may not have"));
    }
    match uri.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(&uri) => Ok(()),
        "http" => Err(format!("{raw:?} is http to a host that is not loopback: use https")),
        scheme if scheme.contains('.') => Ok(()),
        _ => Err(format!("{raw:?}: use https, http on 127.0.0.1 or [::1], or a private-use scheme (com.example.app:)")),
    }
}

fn is_loopback(uri: &url::Url) -> bool {
    match uri.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        // RFC 8252 §8.3: `localhost` may not resolve to loopback; the literal addresses are asked for.
        _ => false,
    }
}

impl Client {
    /// Whether `raw` is one of the client's redirect URIs: the same string, or a loopback URI that differs from a
    /// registered loopback one only in its port (RFC 8252 §7.3).
    pub fn allows_redirect(&self, raw: &str) -> bool {
        if self.redirect_uris.iter().any(|r| r == raw) {
            return true;
        }
        let Ok(asked) = url::Url::parse(raw) else { return false };
        if asked.scheme() != "http" || !is_loopback(&asked) {
            return false;
        }
        self.redirect_uris.iter().filter_map(|r| url::Url::parse(r).ok()).any(|mut registered| {
            if !is_loopback(&registered) || registered.scheme() != "http" {
                return false;
            }
            let _ = registered.set_port(asked.port());
            registered == asked
        })
    }

    /// Checks a confidential client's secret (always false for a public client).
    pub fn secret_matches(&self, secret: &str) -> bool {
        self.secret_digest.as_deref().is_some_and(|d| digest_eq(d, &token_digest(secret)))
    }
}

/// Registers a client. Every redirect URI is checked ([`check_redirect_uri`]); at least one is needed.
pub async fn create(st: &AppState, new: NewClient<'_>) -> Result<Created, Error> {
    let name = crate::signin::passkeys::clean_name(new.name);
    if name.is_empty() {
        return Err(Error::Field("name", "Give the client a name: people see it on the consent page.".into()));
    }
    if new.redirect_uris.is_empty() {
        return Err(Error::Field("redirect_uri", "Give at least one redirect URI.".into()));
    }
    for uri in new.redirect_uris {
        check_redirect_uri(uri).map_err(|e| Error::Field("redirect_uri", e))?;
    }
    let id = new_id();
    let secret = (!new.public).then(random_token);
    sqlx::query(
        "INSERT INTO oauth_clients (id, name, secret_digest, redirect_uris, first_party, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&id)
    .bind(&name)
    .bind(secret.as_deref().map(token_digest))
    .bind(new.redirect_uris.join("\n"))
    .bind(new.first_party as i64)
    .bind(st.clock.now())
    .execute(&st.db.pool)
    .await?;
    Ok(Created { id, secret })
}

type Row = (String, String, Option<String>, String, i64, i64, Option<i64>, Option<String>, Option<String>);
const COLUMNS: &str = "SELECT id, name, secret_digest, redirect_uris, first_party, created_at, revoked_at, org_id, \
     scopes FROM oauth_clients";

fn from_row((id, name, secret_digest, uris, first_party, created_at, revoked_at, org_id, scopes): Row) -> Client {
    Client {
        id,
        name,
        public: secret_digest.is_none(),
        first_party: first_party != 0,
        redirect_uris: uris.lines().map(str::to_string).collect(),
        created_at,
        revoked_at,
        org_id,
        scopes: scopes.unwrap_or_default().split(' ').filter(|s| !s.is_empty()).map(str::to_string).collect(),
        secret_digest,
    }
}

/// A client that is not revoked.
pub async fn find(st: &AppState, id: &str) -> Result<Option<Client>, sqlx::Error> {
    let row: Option<Row> = sqlx::query_as(&format!("{COLUMNS} WHERE id = $1 AND revoked_at IS NULL"))
        .bind(id)
        .fetch_optional(&st.db.pool)
        .await?;
    Ok(row.map(from_row))
}

/// Every app, revoked ones too, the newest first (organizations' service accounts are theirs to list).
pub async fn list(st: &AppState) -> Result<Vec<Client>, sqlx::Error> {
    let rows: Vec<Row> = sqlx::query_as(&format!("{COLUMNS} WHERE org_id IS NULL ORDER BY created_at DESC, id"))
        .fetch_all(&st.db.pool)
        .await?;
    Ok(rows.into_iter().map(from_row).collect())
}

/// Revokes a client: it can no longer start a sign-in or redeem anything, and what it was given ends. False when
/// there is no such live client.
pub async fn revoke(st: &AppState, id: &str) -> Result<bool, sqlx::Error> {
    let mut tx = st.db.begin().await?;
    let r =
        sqlx::query("UPDATE oauth_clients SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL AND org_id IS NULL")
            .bind(st.clock.now())
            .bind(id)
            .execute(&mut *tx)
            .await?;
    sqlx::query("DELETE FROM oauth_grants WHERE client_id = $1").bind(id).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(r.rows_affected() == 1)
}

/// The clients, for the admin console (admins only).
pub async fn list_for_admin(
    st: &AppState,
    admin: &crate::platform::request::CurrentSession,
) -> Result<Vec<Client>, Error> {
    crate::admin::require_admin(admin)?;
    Ok(list(st).await?)
}

/// Revokes a client from the admin console (a fresh second-factor proof, audited with the admin as actor).
pub async fn revoke_by_admin(
    st: &AppState,
    ctx: &crate::platform::request::RequestContext,
    admin: &crate::platform::request::CurrentSession,
    id: &str,
) -> Result<(), Error> {
    use crate::platform::audit::{self, Event};
    crate::admin::require_admin_step_up(st, admin)?;
    let now = st.clock.now();
    let mut tx = st.db.begin().await?;
    let name: Option<(String,)> = sqlx::query_as(
        "UPDATE oauth_clients SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL AND org_id IS NULL \
         RETURNING name",
    )
    .bind(now)
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((name,)) = name else { return Err(Error::NotFound) };
    // What it was given ends with it.
    sqlx::query("DELETE FROM oauth_grants WHERE client_id = $1").bind(id).execute(&mut *tx).await?;
    audit::record(&mut tx, ctx, now, Event::admin("admin.oauth_client_revoked", &admin.user_id).detail(&name)).await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(uris: &[&str]) -> Client {
        Client {
            id: "c".into(),
            name: "n".into(),
            public: true,
            first_party: false,
            redirect_uris: uris.iter().map(|s| s.to_string()).collect(),
            created_at: 0,
            revoked_at: None,
            org_id: None,
            scopes: Vec::new(),
            secret_digest: None,
        }
    }

    #[test]
    fn s61_redirect_uris_match_exactly_except_a_loopback_port() {
        let c = client(&["https://app.example.com/cb", "http://127.0.0.1/callback", "com.example.app:/cb"]);
        assert!(c.allows_redirect("https://app.example.com/cb"));
        assert!(!c.allows_redirect("https://app.example.com/cb/"));
        assert!(!c.allows_redirect("https://app.example.com/cb?x=1"));
        assert!(!c.allows_redirect("https://evil.example.com/cb"));
        assert!(c.allows_redirect("http://127.0.0.1:53124/callback"));
        assert!(!c.allows_redirect("http://127.0.0.1:53124/other"));
        assert!(!c.allows_redirect("http://localhost:53124/callback"));
        assert!(c.allows_redirect("com.example.app:/cb"));
    }

    #[test]
    fn s61_only_https_loopback_http_and_private_schemes_may_be_registered() {
        for good in ["https://app.example.com/cb", "http://127.0.0.1/cb", "http://[::1]:8080/cb", "com.example.app:/cb"]
        {
            assert!(check_redirect_uri(good).is_ok(), "{good}");
        }
        for bad in ["http://app.example.com/cb", "https://app.example.com/cb#x", "javascript:alert(1)", "not a uri"] {
            assert!(check_redirect_uri(bad).is_err(), "{bad}");
        }
    }
}
