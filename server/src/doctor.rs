//! `portcullis doctor`: checks a configuration before a deploy — the variables, the keys, the base URL and the
//! passkey relying party, the database (reachable, migrated), mail (the SMTP server answers), the sign-in providers
//! (discovery) and the clock — and says for each part ok, warning or error, with what to do.
use std::{fmt, time::Duration};

use backend::platform::{
    config::{is_local_origin, Config, ConfigError, MailTransportKind, OAuthKind},
    db::{Db, DbKind},
    mail::Mailer,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Ok,
    Warning,
    Error,
}

#[derive(Debug)]
pub struct Finding {
    pub level: Level,
    pub part: &'static str,
    pub said: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.level {
            Level::Ok => "ok",
            Level::Warning => "warning",
            Level::Error => "error",
        };
        write!(f, "{level:<8} {:<14} {}", self.part, self.said)
    }
}

fn found(level: Level, part: &'static str, said: impl Into<String>) -> Finding {
    Finding { level, part, said: said.into() }
}

/// How long a check may wait on a server that does not answer.
const WAIT: Duration = Duration::from_secs(10);
/// Clock offsets: TOTP codes are accepted one 30-second step either side, so beyond a few seconds codes start to
/// fail at the edges, and beyond 30 seconds sign-ins with a code and session limits go wrong.
const CLOCK_WARN_SECS: f64 = 2.0;
const CLOCK_ERROR_SECS: f64 = 30.0;

/// The findings for a configuration that did not load: the one variable it stopped at.
pub fn config_failed(e: &ConfigError) -> Vec<Finding> {
    vec![found(Level::Error, "configuration", format!("{}: {}", e.var, e.reason))]
}

/// Every check, in order; none stops the others.
pub async fn check(config: &Config) -> Vec<Finding> {
    let mut out = vec![found(
        Level::Ok,
        "configuration",
        format!("APP_ENV={}, BASE_URL={}", format!("{:?}", config.app_env).to_lowercase(), config.base_url),
    )];
    out.extend(keys(config));
    out.push(passkeys(config));
    out.push(metrics(config));
    let db = database(config, &mut out).await;
    out.push(mail(config).await);
    out.extend(providers(config).await);
    out.push(clock(db.as_ref()).await);
    out
}

/// The secret key and the data keys: a development default is a warning with the command that makes a real one.
fn keys(config: &Config) -> Vec<Finding> {
    let default_or_set = |development: bool, part: &'static str, fix: &str, set: &str| match development {
        true => found(Level::Warning, part, fix),
        false => found(Level::Ok, part, set),
    };
    vec![
        default_or_set(
            config.uses_development_secret(),
            "secret key",
            "the published development key (localhost only): set SECRET_KEY=$(openssl rand -hex 32) before deploying",
            "set, and at least 256 random bits",
        ),
        default_or_set(
            config.data_keys.is_derived(),
            "data keys",
            "derived from SECRET_KEY (development only): set DATA_ENCRYPTION_KEYS=k1:$(openssl rand -base64 32)",
            "DATA_ENCRYPTION_KEYS set",
        ),
    ]
}

fn passkeys(config: &Config) -> Finding {
    let origins: Vec<&str> = config.webauthn.origins.iter().map(|o| o.as_str().trim_end_matches('/')).collect();
    let said = format!("relying party {} for {}", config.webauthn.rp_id, origins.join(", "));
    if config.base_url.starts_with("http://") && !is_local_origin(&config.base_url) {
        found(
            Level::Warning,
            "passkeys",
            format!("{said}; BASE_URL is http://: browsers allow passkeys on localhost only"),
        )
    } else {
        found(Level::Ok, "passkeys", said)
    }
}

/// `/metrics` has no authentication: on an address other machines reach, say so.
fn metrics(config: &Config) -> Finding {
    match config.metrics_addr {
        None => found(Level::Ok, "metrics", "off (METRICS_ADDR unset)"),
        Some(a) if a.ip().is_loopback() => found(Level::Ok, "metrics", format!("http://{a}/metrics")),
        Some(a) => found(
            Level::Warning,
            "metrics",
            format!("http://{a}/metrics answers anyone who reaches it: keep it behind a firewall, or bind 127.0.0.1"),
        ),
    }
}

/// Reachable and migrated; the connection is kept for the clock check. A SQLite file that does not exist yet is not
/// created here.
async fn database(config: &Config, out: &mut Vec<Finding>) -> Option<Db> {
    let url = &config.database_url;
    if let Some(path) = Db::missing_sqlite_file(url) {
        out.push(found(
            Level::Warning,
            "database",
            format!("{path} does not exist yet: `{} migrate` (or the first `serve`) creates it", backend::PROJECT),
        ));
        return None;
    }
    let db = match tokio::time::timeout(WAIT, Db::connect(url)).await {
        Ok(Ok(db)) => db,
        Ok(Err(e)) => {
            out.push(found(Level::Error, "database", format!("cannot connect: {e:#} (check DATABASE_URL)")));
            return None;
        }
        Err(_) => {
            out.push(found(Level::Error, "database", "no answer in 10 s (check DATABASE_URL and the network)"));
            return None;
        }
    };
    let kind = match db.kind {
        DbKind::Sqlite => "SQLite",
        DbKind::Postgres => "PostgreSQL",
    };
    if db.migrations_applied().await {
        out.push(found(Level::Ok, "database", format!("{kind}, reachable, every migration applied")));
    } else {
        out.push(found(
            Level::Warning,
            "database",
            format!(
                "{kind}, reachable, migrations not applied yet: `{} migrate` (serve also applies them)",
                backend::PROJECT
            ),
        ));
    }
    Some(db)
}

async fn mail(config: &Config) -> Finding {
    match config.mail_transport {
        MailTransportKind::DevMailbox => {
            return found(Level::Warning, "mail", "nothing is sent: mail shows at /dev/mailbox (development only)")
        }
        MailTransportKind::Capture => return found(Level::Warning, "mail", "nothing is sent: mail is kept in memory"),
        MailTransportKind::Smtp => {}
    }
    let mailer = match Mailer::new(config) {
        Ok(m) => m,
        Err(e) => return found(Level::Error, "mail", format!("{e:#}")),
    };
    match tokio::time::timeout(WAIT + Duration::from_secs(1), mailer.check_smtp()).await {
        Ok(Ok(_)) => found(Level::Ok, "mail", format!("the SMTP server answers; mail from {}", config.mail_from)),
        Ok(Err(e)) => found(Level::Error, "mail", format!("the SMTP server does not answer: {e} (check SMTP_URL)")),
        Err(_) => found(Level::Error, "mail", "the SMTP server did not answer in 10 s (check SMTP_URL)"),
    }
}

async fn providers(config: &Config) -> Vec<Finding> {
    if config.oauth_providers.is_empty() {
        return vec![found(Level::Ok, "providers", "none configured (sign-in with a provider is off)")];
    }
    let mut out = vec![];
    for p in &config.oauth_providers {
        out.push(match &p.kind {
            OAuthKind::Oidc { issuer } => match backend::signin::oauth::check_discovery(issuer).await {
                Ok(()) => found(Level::Ok, "providers", format!("{}: {issuer} answers discovery", p.name)),
                Err(e) => found(
                    Level::Error,
                    "providers",
                    format!("{}: discovery at {issuer} failed: {e} (check the issuer URL)", p.name),
                ),
            },
            OAuthKind::OAuth2 { auth_url, .. } => {
                found(Level::Ok, "providers", format!("{}: OAuth 2.0 at {auth_url} (nothing to discover)", p.name))
            }
        });
    }
    out
}

async fn clock(db: Option<&Db>) -> Finding {
    let Some(db) = db else {
        return found(Level::Warning, "clock", "not compared: no database to compare with");
    };
    match db.clock_offset().await {
        Ok(None) => {
            found(Level::Ok, "clock", "SQLite is a file on this machine: one clock (keep it synchronised by NTP)")
        }
        Ok(Some(off)) => {
            let said = format!("{off:+.2} s from the database server's");
            let fix = "synchronise both by NTP (chrony, systemd-timesyncd): codes and session limits depend on it";
            match clock_level(off) {
                Level::Ok => found(Level::Ok, "clock", said),
                level => found(level, "clock", format!("{said}: {fix}")),
            }
        }
        Err(e) => found(Level::Error, "clock", format!("the database did not say its time: {e}")),
    }
}

fn clock_level(offset_secs: f64) -> Level {
    match offset_secs.abs() {
        a if a > CLOCK_ERROR_SECS => Level::Error,
        a if a > CLOCK_WARN_SECS => Level::Warning,
        _ => Level::Ok,
    }
}

/// Prints the findings and a summary line; true when none is an error.
pub fn report(findings: &[Finding]) -> bool {
    for f in findings {
        println!("{f}");
    }
    let count = |l: Level| findings.iter().filter(|f| f.level == l).count();
    let (errors, warnings) = (count(Level::Error), count(Level::Warning));
    println!("{errors} error(s), {warnings} warning(s)");
    errors == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clock_a_few_seconds_off_is_a_warning_and_past_a_totp_step_an_error() {
        assert_eq!(clock_level(0.4), Level::Ok);
        assert_eq!(clock_level(-2.5), Level::Warning);
        assert_eq!(clock_level(29.0), Level::Warning);
        assert_eq!(clock_level(-31.0), Level::Error);
    }
}
