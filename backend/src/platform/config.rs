//! Typed configuration, read once from the environment at start-up.
//!
//! Every variable is listed, with its default, in `.env.example`. Development needs nothing set; `APP_ENV=production`
//! refuses to start with a weak secret, a plain-http base URL or the development mailbox, naming the variable at fault.
use std::{collections::HashMap, fmt, net::SocketAddr, path::PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppEnv {
    Development,
    Production,
    Test,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MailTransportKind {
    /// Kept in memory and shown at `/dev/mailbox`.
    DevMailbox,
    /// Real SMTP delivery (`SMTP_URL`).
    Smtp,
    /// Kept in memory for tests; not browsable.
    Capture,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MailDelivery {
    /// Sent right after the request commits; on failure the durable job retries it.
    Inline,
    /// Left to the background worker (any instance may claim it).
    Queue,
}

/// A value that never prints.
#[derive(Clone)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    pub fn new(value: T) -> Self {
        Self(value)
    }
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Clone, Debug)]
pub struct Config {
    pub app_env: AppEnv,
    pub app_name: String,
    /// Public origin, no trailing slash, e.g. `https://auth.example.com`.
    pub base_url: String,
    pub bind_addr: SocketAddr,
    pub database_url: String,
    pub secret_key: Secret<Vec<u8>>,
    /// Keys that encrypt secrets at rest (TOTP seeds); newest first.
    pub data_keys: crate::platform::keyring::KeyRing,
    pub mail_transport: MailTransportKind,
    pub smtp_url: Option<Secret<String>>,
    pub mail_delivery: MailDelivery,
    pub mail_from: String,
    pub require_confirmed_email: bool,
    /// The direct peer is a reverse proxy: the client is the rightmost `X-Forwarded-For` entry (`TRUST_PROXY`).
    pub trust_proxy: bool,
    /// Reverse proxies by address (`TRUSTED_PROXIES`): a peer in this list is believed, and so is every hop of
    /// `X-Forwarded-For` in it, read from the right; the client is the rightmost hop not in it.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Anonymous POSTs allowed per IP (or IPv6 /64) per minute.
    pub rate_limit_anonymous_per_minute: u32,
    /// Mail-sending actions allowed per e-mail address per hour.
    pub rate_limit_mail_per_hour: u32,
    /// Credential checks (passwords, codes) allowed per account per minute, from any address.
    pub rate_limit_account_per_minute: u32,
    pub job_max_attempts: i64,
    pub job_retry_base_secs: i64,
    pub job_poll_interval_ms: u64,
    pub argon2_m_kib: u32,
    pub argon2_t: u32,
    pub argon2_p: u32,
    pub hash_concurrency: usize,
    pub body_limit_bytes: usize,
    pub session_idle_secs: i64,
    pub session_absolute_secs: i64,
    pub remember_me_idle_secs: i64,
    pub remember_me_absolute_secs: i64,
    /// Every user must have two-step verification: those without it can only enrol until they do.
    pub require_mfa: bool,
    /// How long a re-authentication (sudo) lets sensitive settings change.
    pub sudo_window_secs: i64,
    /// The WebAuthn relying party: passkeys are bound to its id and accepted only from its origins.
    pub webauthn: WebauthnSettings,
    /// Sign-in providers that are configured (their buttons show on the log-in and register pages).
    pub oauth_providers: Vec<OAuthProvider>,
    pub site_root: PathBuf,
    /// Make brotli and gzip variants of the assets once per process (on by default in release builds).
    pub precompress_assets: bool,
}

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
fn oauth_providers(get: &impl Fn(&str) -> Option<String>, prod: bool) -> Result<Vec<OAuthProvider>, ConfigError> {
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

#[derive(Clone, Debug)]
pub struct WebauthnSettings {
    /// A domain (never an IP address): the base URL's host, or a parent domain of it.
    pub rp_id: String,
    /// Shown by the browser and the authenticator when a passkey is made.
    pub rp_name: String,
    /// Exact origins (scheme, host, port) the browser may report; the base URL's by default.
    pub origins: Vec<webauthn_rs::prelude::Url>,
}

impl WebauthnSettings {
    /// Reads `WEBAUTHN_RP_ID`, `WEBAUTHN_RP_NAME` and `WEBAUTHN_ORIGINS` and checks them against each other and the
    /// base URL, so a wrong domain fails at start-up with the variable named, not at a user's first passkey.
    fn from_env(
        get: &impl Fn(&str) -> Option<String>,
        base_url: &str,
        app_name: &str,
        prod: bool,
    ) -> Result<Self, ConfigError> {
        use webauthn_rs::prelude::Url;
        let base = Url::parse(base_url).map_err(|e| err("BASE_URL", format!("is not a URL: {e}")))?;
        let rp_id = match get("WEBAUTHN_RP_ID") {
            Some(id) => id.to_ascii_lowercase(),
            None => base.host_str().unwrap_or_default().to_string(),
        };
        if rp_id.parse::<std::net::IpAddr>().is_ok()
            || rp_id.trim_matches(['[', ']']).parse::<std::net::IpAddr>().is_ok()
        {
            let var = if get("WEBAUTHN_RP_ID").is_some() { "WEBAUTHN_RP_ID" } else { "BASE_URL" };
            return Err(err(
                var,
                format!(
                    "passkeys need a domain name, not the IP address {rp_id}; in development use http://localhost:PORT"
                ),
            ));
        }
        let origins = match get("WEBAUTHN_ORIGINS") {
            Some(list) => list
                .split(',')
                .map(|o| Url::parse(o.trim()).map_err(|e| err("WEBAUTHN_ORIGINS", format!("{o:?} is not a URL: {e}"))))
                .collect::<Result<Vec<_>, _>>()?,
            None => vec![base.clone()],
        };
        for o in &origins {
            let host = o.domain().unwrap_or_default();
            if !(host == rp_id || host.ends_with(&format!(".{rp_id}"))) {
                return Err(err(
                    "WEBAUTHN_RP_ID",
                    format!("{rp_id:?} must be the host of every WebAuthn origin or a parent domain of it; {o} is not under it"),
                ));
            }
            if prod && o.scheme() != "https" {
                return Err(err("WEBAUTHN_ORIGINS", format!("{o} must be https in production")));
            }
        }
        let rp_name = get("WEBAUTHN_RP_NAME").unwrap_or_else(|| app_name.to_string());
        let settings = WebauthnSettings { rp_id, rp_name, origins };
        settings.build().map_err(|e| err("WEBAUTHN_RP_ID", format!("rejected by WebAuthn: {e}")))?;
        Ok(settings)
    }

    /// The WebAuthn verifier for these settings.
    pub fn build(&self) -> Result<webauthn_rs::Webauthn, webauthn_rs::prelude::WebauthnError> {
        let mut builder = webauthn_rs::WebauthnBuilder::new(&self.rp_id, &self.origins[0])?.rp_name(&self.rp_name);
        for o in &self.origins[1..] {
            builder = builder.append_allowed_origin(o);
        }
        builder.build()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("configuration error in {var}: {reason}")]
pub struct ConfigError {
    pub var: &'static str,
    pub reason: String,
}

fn err(var: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError { var, reason: reason.into() }
}

/// The well-known development key: refused in production and on any origin but localhost.
const DEV_SECRET: &str = "portcullis-development-secret-key-do-not-use-in-production";

/// Whether `base_url` is a localhost or loopback origin (`http://localhost:3000`, `http://127.0.0.1`, `[::1]`,
/// `*.localhost`): the only origins where development defaults may apply.
pub fn is_local_origin(base_url: &str) -> bool {
    let Some(rest) = base_url.strip_prefix("http://").or_else(|| base_url.strip_prefix("https://")) else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return false;
    }
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    let host = host.to_ascii_lowercase();
    host == "localhost"
        || host.ends_with(".localhost")
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// `SECRET_KEY` must carry at least 256 bits of randomness: 64 hex digits or 43 base64 characters (32 bytes) at
/// least, or 64 other characters, and not made of a repeated pattern (a heuristic: the real guarantee is making it
/// with `openssl rand -hex 32`).
pub fn check_secret_strength(s: &str) -> Result<(), String> {
    use base64::{engine::general_purpose, Engine};
    const HOW: &str = "must carry at least 256 random bits (try: openssl rand -hex 32)";
    let bytes: Vec<u8> = if s.len() >= 64 && s.len() % 2 == 0 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        hex::decode(s).map_err(|_| HOW.to_string())?
    } else if let Some(b) = [
        &general_purpose::STANDARD,
        &general_purpose::STANDARD_NO_PAD,
        &general_purpose::URL_SAFE,
        &general_purpose::URL_SAFE_NO_PAD,
    ]
    .iter()
    .find_map(|e| e.decode(s).ok())
    .filter(|b| b.len() >= 32)
    {
        b
    } else if s.chars().count() >= 64 {
        s.as_bytes().to_vec()
    } else {
        return Err(format!("is too short: it {HOW}"));
    };
    let n = bytes.len();
    let periodic = (1..=n / 2).any(|p| (p..n).all(|i| bytes[i] == bytes[i - p]));
    let mut counts = std::collections::HashMap::new();
    for b in &bytes {
        *counts.entry(b).or_insert(0usize) += 1;
    }
    let most = counts.values().copied().max().unwrap_or(0);
    if periodic || counts.len() < n / 4 || most > n / 4 + 2 {
        return Err(format!("is a pattern, not random: it {HOW}"));
    }
    Ok(())
}

impl Config {
    /// Reads the process environment (after `.env` in development, loaded by the binary).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_map(&std::env::vars().collect())
    }

    pub fn from_map(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let get = |k: &str| vars.get(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let bind_addr: SocketAddr = parse(&get, "BIND_ADDR", "127.0.0.1:3000")?;
        // On loopback the default base URL names `localhost`: passkeys need a domain, and an IP address is not one.
        let base_url = get("BASE_URL").unwrap_or_else(|| match bind_addr.ip().is_loopback() {
            true => format!("http://localhost:{}", bind_addr.port()),
            false => format!("http://{bind_addr}"),
        });
        let base_url = base_url.trim_end_matches('/').to_string();
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(err("BASE_URL", "must start with http:// or https://"));
        }
        let local = is_local_origin(&base_url);
        // Fail closed (M5): without APP_ENV, anything but a localhost or loopback origin is production, so a
        // deployment that forgot the variable refuses to start without its secrets instead of running with the
        // published development key and an open mailbox.
        let app_env = match get("APP_ENV").as_deref() {
            None if local => AppEnv::Development,
            None => AppEnv::Production,
            Some("development") | Some("dev") => AppEnv::Development,
            Some("production") | Some("prod") => AppEnv::Production,
            Some("test") => AppEnv::Test,
            Some(other) => {
                return Err(err("APP_ENV", format!("expected development, production or test, got {other:?}")))
            }
        };
        let prod = app_env == AppEnv::Production;
        if prod && !base_url.starts_with("https://") {
            return Err(err("BASE_URL", "must be an https:// URL in production"));
        }

        let secret_key = match get("SECRET_KEY") {
            Some(s) if s == DEV_SECRET => {
                if prod || !local {
                    return Err(err("SECRET_KEY", "the published development key works only on a localhost BASE_URL"));
                }
                s.into_bytes()
            }
            Some(s) => {
                check_secret_strength(&s).map_err(|m| err("SECRET_KEY", m))?;
                s.into_bytes()
            }
            None if prod || !local => {
                return Err(err(
                    "SECRET_KEY",
                    "must be set in production and on any origin but localhost (try: openssl rand -hex 32)",
                ))
            }
            None => DEV_SECRET.as_bytes().to_vec(),
        };

        let data_keys = match get("DATA_ENCRYPTION_KEYS") {
            Some(raw) => crate::platform::keyring::KeyRing::parse(&raw).map_err(|m| err("DATA_ENCRYPTION_KEYS", m))?,
            None if prod => {
                return Err(err(
                    "DATA_ENCRYPTION_KEYS",
                    "must be set in production (try: DATA_ENCRYPTION_KEYS=k1:$(openssl rand -base64 32))",
                ))
            }
            None => crate::platform::keyring::KeyRing::derived(&secret_key),
        };

        let mail_transport = match get("MAIL_TRANSPORT").as_deref() {
            None if prod => MailTransportKind::Smtp,
            None => MailTransportKind::DevMailbox,
            Some("dev") | Some("dev-mailbox") => MailTransportKind::DevMailbox,
            Some("smtp") => MailTransportKind::Smtp,
            Some("capture") => MailTransportKind::Capture,
            Some(o) => return Err(err("MAIL_TRANSPORT", format!("expected dev, smtp or capture, got {o:?}"))),
        };
        if prod && mail_transport != MailTransportKind::Smtp {
            return Err(err("MAIL_TRANSPORT", "must be smtp in production"));
        }
        if mail_transport == MailTransportKind::DevMailbox && !local {
            return Err(err(
                "MAIL_TRANSPORT",
                "dev shows every mail (reset links included) at /dev/mailbox: only with a localhost or loopback BASE_URL",
            ));
        }
        let smtp_url = get("SMTP_URL").map(Secret::new);
        if mail_transport == MailTransportKind::Smtp && smtp_url.is_none() {
            return Err(err("SMTP_URL", "must be set when MAIL_TRANSPORT=smtp (e.g. smtp://user:pass@host:587)"));
        }
        let mail_delivery = match get("MAIL_DELIVERY").as_deref() {
            None if prod => MailDelivery::Queue,
            None => MailDelivery::Inline,
            Some("inline") => MailDelivery::Inline,
            Some("queue") => MailDelivery::Queue,
            Some(o) => return Err(err("MAIL_DELIVERY", format!("expected inline or queue, got {o:?}"))),
        };
        let app_name = get("APP_NAME").unwrap_or_else(|| "Portcullis".into());
        let mail_from = get("MAIL_FROM").unwrap_or_else(|| format!("{app_name} <no-reply@localhost>"));
        if mail_from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(err("MAIL_FROM", "is not a valid mailbox (e.g. \"Portcullis <no-reply@example.com>\")"));
        }

        let database_url = get("DATABASE_URL").unwrap_or_else(|| "sqlite://data/portcullis.db".into());
        if !(database_url.starts_with("sqlite:") || database_url.starts_with("postgres")) {
            return Err(err("DATABASE_URL", "must start with sqlite: or postgres://"));
        }

        let hash_concurrency = match get("HASH_CONCURRENCY") {
            Some(_) => parse(&get, "HASH_CONCURRENCY", "0")?,
            None => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2),
        };
        let webauthn = WebauthnSettings::from_env(&get, &base_url, &app_name, prod)?;
        let oauth_providers = oauth_providers(&get, prod)?;
        let cfg = Config {
            oauth_providers,
            webauthn,
            app_env,
            app_name,
            base_url,
            bind_addr,
            database_url,
            data_keys,
            secret_key: Secret::new(secret_key),
            mail_transport,
            smtp_url,
            mail_delivery,
            mail_from,
            require_confirmed_email: parse(&get, "REQUIRE_CONFIRMED_EMAIL", "false")?,
            trust_proxy: parse(&get, "TRUST_PROXY", "false")?,
            trusted_proxies: match get("TRUSTED_PROXIES") {
                None => Vec::new(),
                Some(raw) => raw
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| {
                        s.parse::<ipnet::IpNet>()
                            .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                            .map_err(|_| err("TRUSTED_PROXIES", format!("{s:?} is not an address or CIDR range")))
                    })
                    .collect::<Result<_, _>>()?,
            },
            rate_limit_anonymous_per_minute: parse(&get, "RATE_LIMIT_ANONYMOUS_PER_MINUTE", "30")?,
            rate_limit_mail_per_hour: parse(&get, "RATE_LIMIT_MAIL_PER_HOUR", "5")?,
            rate_limit_account_per_minute: parse(&get, "RATE_LIMIT_ACCOUNT_PER_MINUTE", "10")?,
            job_max_attempts: parse(&get, "JOB_MAX_ATTEMPTS", "8")?,
            job_retry_base_secs: parse(&get, "JOB_RETRY_BASE_SECS", "30")?,
            job_poll_interval_ms: parse(&get, "JOB_POLL_INTERVAL_MS", "1000")?,
            argon2_m_kib: parse(&get, "ARGON2_M_KIB", "19456")?,
            argon2_t: parse(&get, "ARGON2_T", "2")?,
            argon2_p: parse(&get, "ARGON2_P", "1")?,
            hash_concurrency: hash_concurrency.max(1),
            body_limit_bytes: parse(&get, "BODY_LIMIT_BYTES", "65536")?,
            session_idle_secs: parse(&get, "SESSION_IDLE_SECS", "3600")?,
            session_absolute_secs: parse(&get, "SESSION_ABSOLUTE_SECS", "86400")?,
            remember_me_idle_secs: parse(&get, "REMEMBER_ME_IDLE_SECS", "604800")?,
            remember_me_absolute_secs: parse(&get, "REMEMBER_ME_ABSOLUTE_SECS", "2592000")?,
            sudo_window_secs: parse(&get, "SUDO_WINDOW_SECS", "600")?,
            require_mfa: parse(&get, "REQUIRE_MFA", "false")?,
            site_root: get("LEPTOS_SITE_ROOT").unwrap_or_else(|| "target/site".into()).into(),
            precompress_assets: parse(
                &get,
                "PRECOMPRESS_ASSETS",
                if cfg!(debug_assertions) { "false" } else { "true" },
            )?,
        };
        if cfg.argon2_m_kib < 19456 && prod {
            return Err(err("ARGON2_M_KIB", "must be at least 19456 (OWASP) in production"));
        }
        if cfg.rate_limit_anonymous_per_minute == 0 {
            return Err(err("RATE_LIMIT_ANONYMOUS_PER_MINUTE", "must be at least 1"));
        }
        if cfg.rate_limit_account_per_minute == 0 {
            return Err(err("RATE_LIMIT_ACCOUNT_PER_MINUTE", "must be at least 1"));
        }
        if cfg.rate_limit_mail_per_hour == 0 {
            return Err(err("RATE_LIMIT_MAIL_PER_HOUR", "must be at least 1"));
        }
        if !(60..=3600).contains(&cfg.sudo_window_secs) {
            return Err(err("SUDO_WINDOW_SECS", "must be between 60 and 3600 seconds"));
        }
        if cfg.job_max_attempts < 1 {
            return Err(err("JOB_MAX_ATTEMPTS", "must be at least 1"));
        }
        Ok(cfg)
    }

    /// A valid configuration for tests: capture mailbox, small Argon2 cost, the given database.
    pub fn for_tests(database_url: &str) -> Self {
        let mut vars = HashMap::new();
        vars.insert("APP_ENV".into(), "test".into());
        vars.insert("DATABASE_URL".into(), database_url.into());
        vars.insert("MAIL_TRANSPORT".into(), "capture".into());
        vars.insert("BIND_ADDR".into(), "127.0.0.1:0".into());
        vars.insert("BASE_URL".into(), "http://localhost:3000".into());
        vars.insert("ARGON2_M_KIB".into(), "8192".into());
        vars.insert("ARGON2_T".into(), "1".into());
        vars.insert("JOB_RETRY_BASE_SECS".into(), "1".into());
        vars.insert("JOB_POLL_INTERVAL_MS".into(), "100".into());
        Self::from_map(&vars).expect("test configuration is valid")
    }

    /// Whether a request from `peer` may say, in forwarding headers, whom it came from: the peer is the one proxy
    /// in front (`TRUST_PROXY`) or one of the configured ones.
    pub fn believes_forwarding_from(&self, peer: std::net::IpAddr) -> bool {
        self.trust_proxy || self.is_trusted_proxy(peer)
    }

    /// Whether `ip` is one of the configured reverse proxies.
    pub fn is_trusted_proxy(&self, ip: std::net::IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.trusted_proxies.iter().any(|net| net.contains(&ip))
    }

    pub fn is_production(&self) -> bool {
        self.app_env == AppEnv::Production
    }

    /// Cookies are `Secure` and `__Host-` prefixed whenever the site is served over https.
    pub fn secure_cookies(&self) -> bool {
        self.base_url.starts_with("https://")
    }

    /// `name` (which starts `__Host-`) on https; without the prefix on plain http, where browsers refuse it.
    fn host_cookie(&self, name: &'static str) -> &'static str {
        if self.secure_cookies() {
            name
        } else {
            name.strip_prefix("__Host-").unwrap_or(name)
        }
    }

    pub fn session_cookie_name(&self) -> &'static str {
        self.host_cookie("__Host-portcullis_session")
    }

    /// The visitor session (`visitor.rs`): the forker's per-browser data and the one-shot flash.
    pub fn visitor_cookie_name(&self) -> &'static str {
        self.host_cookie("__Host-portcullis_visit")
    }

    /// The pending second-factor challenge (5 minutes).
    pub fn mfa_cookie_name(&self) -> &'static str {
        self.host_cookie("__Host-portcullis_mfa")
    }

    /// An OAuth sign-in in progress in this browser (10 minutes).
    pub fn oauth_cookie_name(&self) -> &'static str {
        self.host_cookie("__Host-portcullis_oauth")
    }

    /// A provider identity waiting for its account's owner to sign in and link it (10 minutes).
    pub fn link_cookie_name(&self) -> &'static str {
        self.host_cookie("__Host-portcullis_link")
    }

    pub fn oauth_provider(&self, id: &str) -> Option<&OAuthProvider> {
        self.oauth_providers.iter().find(|p| p.id == id)
    }

    /// "Trust this browser" (30 days).
    pub fn trust_cookie_name(&self) -> &'static str {
        self.host_cookie("__Host-portcullis_trust")
    }

    pub fn is_sqlite(&self) -> bool {
        self.database_url.starts_with("sqlite:")
    }
}

fn parse<T: std::str::FromStr>(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: &str,
) -> Result<T, ConfigError>
where
    T::Err: fmt::Display,
{
    let raw = get(var).unwrap_or_else(|| default.to_string());
    raw.parse::<T>().map_err(|e| err(var, format!("cannot parse {raw:?}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prod(extra: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut m: HashMap<String, String> = [
            ("APP_ENV", "production"),
            ("BASE_URL", "https://auth.example.com"),
            ("SECRET_KEY", "3f9c2a7e51b84d06a9e1c5f7d2b8e4a01c6f3e9d7b5a2c8e4f1d6b9a3c7e5f2a"),
            ("SMTP_URL", "smtp://mail.example.com:587"),
            ("DATA_ENCRYPTION_KEYS", "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (k, v) in extra {
            m.insert(k.to_string(), v.to_string());
        }
        Config::from_map(&m)
    }

    #[test]
    fn development_needs_nothing_set() {
        let c = Config::from_map(&HashMap::new()).unwrap();
        assert_eq!(c.app_env, AppEnv::Development);
        assert_eq!(c.mail_transport, MailTransportKind::DevMailbox);
        assert_eq!(c.base_url, "http://localhost:3000");
    }

    #[test]
    fn production_accepts_a_strong_configuration() {
        let c = prod(&[]).unwrap();
        assert!(c.secure_cookies());
        assert_eq!(c.session_cookie_name(), "__Host-portcullis_session");
        assert_eq!(c.mail_delivery, MailDelivery::Queue);
    }

    #[test]
    fn production_refuses_http_base_url_and_names_it() {
        let e = prod(&[("BASE_URL", "http://auth.example.com")]).unwrap_err();
        assert_eq!(e.var, "BASE_URL");
    }

    #[test]
    fn production_refuses_weak_or_missing_secret_and_names_it() {
        assert_eq!(prod(&[("SECRET_KEY", "short")]).unwrap_err().var, "SECRET_KEY");
        assert_eq!(prod(&[("SECRET_KEY", DEV_SECRET)]).unwrap_err().var, "SECRET_KEY");
        assert_eq!(prod(&[("SECRET_KEY", &"a".repeat(80))]).unwrap_err().var, "SECRET_KEY");
        let mut m = HashMap::new();
        m.insert("APP_ENV".to_string(), "production".to_string());
        m.insert("BASE_URL".to_string(), "https://x.example".to_string());
        assert_eq!(Config::from_map(&m).unwrap_err().var, "SECRET_KEY");
    }

    #[test]
    fn production_refuses_the_dev_mailbox() {
        assert_eq!(prod(&[("MAIL_TRANSPORT", "dev")]).unwrap_err().var, "MAIL_TRANSPORT");
    }

    #[test]
    fn webauthn_relying_party_defaults_to_the_base_url_and_is_checked_against_it() {
        let c = prod(&[]).unwrap();
        assert_eq!(c.webauthn.rp_id, "auth.example.com");
        assert_eq!(c.webauthn.origins[0].as_str(), "https://auth.example.com/");
        // A parent domain may be the RP ID (passkeys then work on its other subdomains too).
        assert_eq!(prod(&[("WEBAUTHN_RP_ID", "example.com")]).unwrap().webauthn.rp_id, "example.com");
        // Anything the origin is not under is refused at start-up, with the variable named.
        assert_eq!(prod(&[("WEBAUTHN_RP_ID", "other.example")]).unwrap_err().var, "WEBAUTHN_RP_ID");
        assert_eq!(prod(&[("WEBAUTHN_RP_ID", "ample.com")]).unwrap_err().var, "WEBAUTHN_RP_ID");
        let e = prod(&[("WEBAUTHN_ORIGINS", "https://auth.example.com,https://evil.example")]).unwrap_err();
        assert_eq!(e.var, "WEBAUTHN_RP_ID");
        assert!(e.reason.contains("evil.example"), "{e}");
        assert_eq!(prod(&[("WEBAUTHN_ORIGINS", "http://auth.example.com")]).unwrap_err().var, "WEBAUTHN_ORIGINS");
        // An IP address is not a valid RP ID: say so, and how to fix it in development.
        let mut m = HashMap::new();
        m.insert("BASE_URL".to_string(), "http://127.0.0.1:3000".to_string());
        let e = Config::from_map(&m).unwrap_err();
        assert_eq!(e.var, "BASE_URL");
        assert!(e.reason.contains("localhost"), "{e}");
    }

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    /// M5: without APP_ENV, a public origin is production, so a deployment that forgot the variable stops at start
    /// with the missing secret named instead of running with the published key and an open mailbox.
    #[test]
    fn s53_without_app_env_a_public_base_url_means_production() {
        let e = Config::from_map(&vars(&[("BASE_URL", "https://auth.example.com")])).unwrap_err();
        assert_eq!(e.var, "SECRET_KEY", "{e}");
        let e = Config::from_map(&vars(&[("BIND_ADDR", "0.0.0.0:3000")])).unwrap_err();
        assert_eq!(e.var, "BASE_URL", "a public bind address with the default http base URL: {e}");
        let c = Config::from_map(&vars(&[
            ("BASE_URL", "https://auth.example.com"),
            ("SECRET_KEY", "3f9c2a7e51b84d06a9e1c5f7d2b8e4a01c6f3e9d7b5a2c8e4f1d6b9a3c7e5f2a"),
            ("SMTP_URL", "smtp://mail.example.com:587"),
            ("DATA_ENCRYPTION_KEYS", "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="),
        ]))
        .unwrap();
        assert_eq!(c.app_env, AppEnv::Production);
        assert_eq!(c.mail_transport, MailTransportKind::Smtp);
        for local in ["http://localhost:3000", "http://127.0.0.1:8080", "http://[::1]:3000", "http://app.localhost"] {
            assert!(is_local_origin(local), "{local}");
        }
        for public in [
            "https://auth.example.com",
            "http://localhost.example.com",
            "http://10.0.0.2",
            "http://user@localhost.evil",
        ] {
            assert!(!is_local_origin(public), "{public}");
        }
    }

    /// M5: the development mailbox and the published key work only on a localhost origin, whatever APP_ENV says.
    #[test]
    fn s53_dev_mailbox_and_dev_key_only_on_localhost() {
        let public = [("APP_ENV", "development"), ("BASE_URL", "https://staging.example.com")];
        let e = Config::from_map(&vars(&public)).unwrap_err();
        assert_eq!(e.var, "SECRET_KEY", "{e}");
        let mut with_key = public.to_vec();
        with_key.push(("SECRET_KEY", "3f9c2a7e51b84d06a9e1c5f7d2b8e4a01c6f3e9d7b5a2c8e4f1d6b9a3c7e5f2a"));
        let e = Config::from_map(&vars(&with_key)).unwrap_err();
        assert_eq!(e.var, "MAIL_TRANSPORT", "{e}");
        let mut dev_key = public.to_vec();
        dev_key.push(("SECRET_KEY", DEV_SECRET));
        dev_key.push(("MAIL_TRANSPORT", "capture"));
        assert_eq!(Config::from_map(&vars(&dev_key)).unwrap_err().var, "SECRET_KEY");
    }

    /// L16: SECRET_KEY carries at least 256 random bits; patterns are refused.
    #[test]
    fn s53_secret_key_needs_256_random_bits() {
        assert!(check_secret_strength("3f9c2a7e51b84d06a9e1c5f7d2b8e4a01c6f3e9d7b5a2c8e4f1d6b9a3c7e5f2a").is_ok());
        assert!(check_secret_strength("q3Jm0v9XyZ1pL8sT2kR4wN6eB7cH5gA0fD9uI3oP1aE=").is_ok(), "base64 of 32 bytes");
        assert!(check_secret_strength(&"0123456789".repeat(7)).is_err(), "a repeated pattern");
        assert!(check_secret_strength(&"ab".repeat(40)).is_err());
        assert!(check_secret_strength("3f9c2a7e51b84d06a9e1c5f7d2b8e4a0").is_err(), "128 bits");
        assert!(check_secret_strength(&"x".repeat(100)).is_err());
        assert_eq!(prod(&[("SECRET_KEY", &"0123456789".repeat(7))]).unwrap_err().var, "SECRET_KEY");
    }

    /// L14: on https every cookie, the visitor session's (which carries the flash) too, is `Secure` with the
    /// `__Host-` prefix.
    #[test]
    fn s43_the_visitor_cookie_is_host_prefixed_and_secure_on_https() {
        let c = prod(&[]).unwrap();
        assert_eq!(c.visitor_cookie_name(), "__Host-portcullis_visit");
        assert!(c.secure_cookies(), "the visitor session's layer is built with Secure from this");
        let line = crate::platform::cookies::set(&c, c.session_cookie_name(), "v", Some(120));
        assert!(line.contains("; Secure") && line.contains("HttpOnly") && line.contains("Path=/"), "{line}");
    }

    #[test]
    fn unparsable_values_name_the_variable() {
        let mut m = HashMap::new();
        m.insert("RATE_LIMIT_ANONYMOUS_PER_MINUTE".to_string(), "lots".to_string());
        assert_eq!(Config::from_map(&m).unwrap_err().var, "RATE_LIMIT_ANONYMOUS_PER_MINUTE");
    }
}
