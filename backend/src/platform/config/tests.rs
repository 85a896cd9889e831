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
    assert_eq!(c.session_cookie_name(), format!("__Host-{}_session", crate::PROJECT));
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
    for public in
        ["https://auth.example.com", "http://localhost.example.com", "http://10.0.0.2", "http://user@localhost.evil"]
    {
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
    assert_eq!(c.visitor_cookie_name(), format!("__Host-{}_visit", crate::PROJECT));
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
