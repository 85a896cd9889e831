//! Typed configuration, read once from the environment at start-up.
//!
//! Every variable is listed, with its default, in `.env.example`. Development needs nothing set; `APP_ENV=production`
//! refuses to start with a weak secret, a plain-http base URL or the development mailbox, naming the variable at fault.
mod oauth;
mod secret;
mod webauthn;

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
    /// Requests allowed per personal access token per minute on the JSON API (`/api/v1`).
    pub rate_limit_api_per_minute: u32,
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
    /// Log lines as JSON objects (`LOG_FORMAT=json`) instead of text.
    pub log_json: bool,
    /// Where Prometheus metrics are served (`METRICS_ADDR`), on a listener of their own; none by default.
    pub metrics_addr: Option<SocketAddr>,
}

use oauth::oauth_providers;
pub use oauth::{OAuthKind, OAuthProvider};
use secret::DEV_SECRET;
pub use secret::{check_secret_strength, is_local_origin};
pub use webauthn::WebauthnSettings;

#[derive(Debug, thiserror::Error)]
#[error("configuration error in {var}: {reason}")]
pub struct ConfigError {
    pub var: &'static str,
    pub reason: String,
}

fn err(var: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError { var, reason: reason.into() }
}

impl Config {
    /// Whether the secret key is the published development one (allowed on localhost only).
    pub fn uses_development_secret(&self) -> bool {
        self.secret_key.expose().as_slice() == DEV_SECRET.as_bytes()
    }

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
        let app_name = get("APP_NAME").unwrap_or_else(|| crate::APP_NAME_DEFAULT.into());
        let mail_from = get("MAIL_FROM").unwrap_or_else(|| format!("{app_name} <no-reply@localhost>"));
        if mail_from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(err("MAIL_FROM", "is not a valid mailbox (e.g. \"Portcullis <no-reply@example.com>\")"));
        }

        let database_url = get("DATABASE_URL").unwrap_or_else(|| format!("sqlite://data/{}.db", crate::PROJECT));
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
            rate_limit_api_per_minute: parse(&get, "RATE_LIMIT_API_PER_MINUTE", "600")?,
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
            log_json: match get("LOG_FORMAT").as_deref() {
                None | Some("text") => false,
                Some("json") => true,
                Some(o) => return Err(err("LOG_FORMAT", format!("expected text or json, got {o:?}"))),
            },
            metrics_addr: match get("METRICS_ADDR") {
                None => None,
                Some(raw) => Some(raw.parse().map_err(|e| err("METRICS_ADDR", format!("cannot parse {raw:?}: {e}")))?),
            },
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
        if cfg.rate_limit_api_per_minute == 0 {
            return Err(err("RATE_LIMIT_API_PER_MINUTE", "must be at least 1"));
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
        self.host_cookie(concat!("__Host-", env!("LEPTOS_OUTPUT_NAME"), "_session"))
    }

    /// The visitor session (`platform/visitor.rs`): the forker's per-browser data and the one-shot flash.
    pub fn visitor_cookie_name(&self) -> &'static str {
        self.host_cookie(concat!("__Host-", env!("LEPTOS_OUTPUT_NAME"), "_visit"))
    }

    /// The pending second-factor challenge (5 minutes).
    pub fn mfa_cookie_name(&self) -> &'static str {
        self.host_cookie(concat!("__Host-", env!("LEPTOS_OUTPUT_NAME"), "_mfa"))
    }

    /// An OAuth sign-in in progress in this browser (10 minutes).
    pub fn oauth_cookie_name(&self) -> &'static str {
        self.host_cookie(concat!("__Host-", env!("LEPTOS_OUTPUT_NAME"), "_oauth"))
    }

    /// A provider identity waiting for its account's owner to sign in and link it (10 minutes).
    pub fn link_cookie_name(&self) -> &'static str {
        self.host_cookie(concat!("__Host-", env!("LEPTOS_OUTPUT_NAME"), "_link"))
    }

    pub fn oauth_provider(&self, id: &str) -> Option<&OAuthProvider> {
        self.oauth_providers.iter().find(|p| p.id == id)
    }

    /// "Trust this browser" (30 days).
    pub fn trust_cookie_name(&self) -> &'static str {
        self.host_cookie(concat!("__Host-", env!("LEPTOS_OUTPUT_NAME"), "_trust"))
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
mod tests;
