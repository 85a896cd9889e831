//! Portcullis as the OAuth 2.1 authorization server and OpenID provider of its own apps: registered [`clients`] and
//! the [`keys`] that sign tokens, published at `/.well-known/openid-configuration` and `/oauth/jwks.json`, the
//! authorization code flow with PKCE and rotating refresh tokens ([`grants`]), the apps a person allowed
//! ([`consents`]), and organizations'
//! [`service_accounts`] with the client credentials grant.
pub mod clients;
pub mod consents;
pub mod grants;
pub mod keys;
pub mod service_accounts;

/// Scopes a client may ask for. `api:read` and `api:write` let its access tokens call the JSON API (`/api/v1`) as
/// the person, like a personal access token's `read` and `write`.
pub const SCOPES: [&str; 6] = ["openid", "profile", "email", "offline_access", "api:read", "api:write"];
/// How long an access token lives; a retired signing key stays published at least this long.
pub const ACCESS_TOKEN_SECS: i64 = 600;

/// What each scope lets an app do, in the consent page's and the API tokens page's words.
pub fn scope_text(scope: &str) -> &'static str {
    match scope {
        "openid" => "Know who you are on this site",
        "profile" => "See your display name",
        "email" => "See your e-mail address",
        "offline_access" => "Stay connected when you are not using it",
        "api:read" => "Read your account and signed-in browsers",
        "api:write" => "Sign your browsers out",
        _ => "",
    }
}
