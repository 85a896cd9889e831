//! Portcullis as the OAuth 2.1 authorization server and OpenID provider of its own apps: registered [`clients`] and
//! the [`keys`] that sign tokens, published at `/.well-known/openid-configuration` and `/oauth/jwks.json`, the
//! authorization code flow with PKCE and rotating refresh tokens ([`grants`]), and organizations'
//! [`service_accounts`] with the client credentials grant.
pub mod clients;
pub mod grants;
pub mod keys;
pub mod service_accounts;

/// Scopes a client may ask for. `api:read` and `api:write` let its access tokens call the JSON API (`/api/v1`) as
/// the person, like a personal access token's `read` and `write`.
pub const SCOPES: [&str; 6] = ["openid", "profile", "email", "offline_access", "api:read", "api:write"];
/// How long an access token lives; a retired signing key stays published at least this long.
pub const ACCESS_TOKEN_SECS: i64 = 600;
