//! Sign-in providers from the environment: Google, GitHub and any OpenID Connect issuer.
use super::{err, ConfigError, Secret};

/// A sign-in provider: `/auth/{id}` starts a sign-in with it.
#[derive(Clone, Debug)]
pub struct OAuthProvider {
    pub id: String,
    /// On the button: "Continue with {name}".
    pub name: String,
    pub client_id: String,
    pub client_secret: Secret<String>,
    pub kind: OAuthKind,
}

#[derive(Clone, Debug)]
pub enum OAuthKind {
    /// OpenID Connect, by discovery from the issuer: a signed ID token says who the user is.
    Oidc { issuer: String },
    /// Plain OAuth 2.0 (GitHub): the provider's user API, called with the access token, says who the user is.
    /// `issuer` names the namespace of its user ids.
    OAuth2 {
        issuer: String,
        auth_url: String,
        token_url: String,
        user_url: String,
        /// GitHub's list of the user's addresses with their verified flags (when the user API does not say).
        emails_url: Option<String>,
        scopes: Vec<String>,
    },
}

impl OAuthProvider {
    pub fn issuer(&self) -> &str {
        match &self.kind {
            OAuthKind::Oidc { issuer } | OAuthKind::OAuth2 { issuer, .. } => issuer,
        }
    }
}

/// Google and any OpenID Connect issuer by discovery; GitHub by OAuth 2.0. A provider is on when its client id is
/// set; its secret must be set too.
pub(super) fn oauth_providers(
    get: &impl Fn(&str) -> Option<String>,
    prod: bool,
) -> Result<Vec<OAuthProvider>, ConfigError> {
    let mut providers = Vec::new();
    let credentials =
        |id_var: &'static str, secret_var: &'static str| -> Result<Option<(String, Secret<String>)>, ConfigError> {
            match (get(id_var), get(secret_var)) {
                (None, None) => Ok(None),
                (Some(id), Some(secret)) => Ok(Some((id, Secret::new(secret)))),
                (Some(_), None) => Err(err(secret_var, format!("must be set when {id_var} is"))),
                (None, Some(_)) => Err(err(id_var, format!("must be set when {secret_var} is"))),
            }
        };
    let url = |var: &'static str, default: &str| -> Result<String, ConfigError> {
        let value = get(var).unwrap_or_else(|| default.to_string());
        if !(value.starts_with("https://") || (!prod && value.starts_with("http://"))) {
            return Err(err(
                var,
                if prod { "must be an https:// URL in production" } else { "must be an http(s):// URL" },
            ));
        }
        Ok(value.trim_end_matches('/').to_string())
    };
    if let Some((client_id, client_secret)) = credentials("GOOGLE_CLIENT_ID", "GOOGLE_CLIENT_SECRET")? {
        let issuer = "https://accounts.google.com".to_string();
        providers.push(OAuthProvider {
            id: "google".into(),
            name: "Google".into(),
            client_id,
            client_secret,
            kind: OAuthKind::Oidc { issuer },
        });
    }
    if let Some((client_id, client_secret)) = credentials("GITHUB_CLIENT_ID", "GITHUB_CLIENT_SECRET")? {
        let emails = get("GITHUB_EMAILS_URL").unwrap_or_else(|| "https://api.github.com/user/emails".into());
        let kind = OAuthKind::OAuth2 {
            issuer: url("GITHUB_ISSUER", "https://github.com")?,
            auth_url: url("GITHUB_AUTH_URL", "https://github.com/login/oauth/authorize")?,
            token_url: url("GITHUB_TOKEN_URL", "https://github.com/login/oauth/access_token")?,
            user_url: url("GITHUB_USER_URL", "https://api.github.com/user")?,
            emails_url: match emails.as_str() {
                "none" => None,
                _ => Some(url("GITHUB_EMAILS_URL", &emails)?),
            },
            scopes: get("GITHUB_SCOPES")
                .unwrap_or_else(|| "read:user user:email".into())
                .split_whitespace()
                .map(str::to_string)
                .collect(),
        };
        providers.push(OAuthProvider { id: "github".into(), name: "GitHub".into(), client_id, client_secret, kind });
    }
    if let Some((client_id, client_secret)) = credentials("OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET")? {
        let Some(_) = get("OIDC_ISSUER") else { return Err(err("OIDC_ISSUER", "must be set when OIDC_CLIENT_ID is")) };
        let issuer = url("OIDC_ISSUER", "")?;
        let name = get("OIDC_NAME").unwrap_or_else(|| "single sign-on".into());
        providers.push(OAuthProvider {
            id: "oidc".into(),
            name,
            client_id,
            client_secret,
            kind: OAuthKind::Oidc { issuer },
        });
    }
    Ok(providers)
}
