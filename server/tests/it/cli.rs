use std::{path::Path, process::Command};

use crate::common::*;

fn binary() -> Command {
    let mut c = Command::new(BIN);
    c.env_clear().env("PATH", std::env::var("PATH").unwrap_or_default());
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_creates_and_migrates_a_new_database() {
    let url = fresh_database_url().await;
    let out = binary().arg("migrate").env("DATABASE_URL", &url).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let db = backend::platform::db::Db::connect(&url).await.unwrap();
    assert!(db.migrations_applied().await);
    let users: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users").fetch_one(&db.pool).await.unwrap();
    assert_eq!(users.0, 0, "S11: a fresh database has no accounts");
}

#[test]
fn production_refuses_to_start_without_a_secret_and_names_the_variable() {
    let out = binary()
        .args(["serve"])
        .env("APP_ENV", "production")
        .env("BASE_URL", "https://auth.example.com")
        .env("SMTP_URL", "smtp://127.0.0.1:2525")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("SECRET_KEY"));
}

#[test]
fn production_refuses_a_plain_http_base_url() {
    let out = binary()
        .args(["serve"])
        .env("APP_ENV", "production")
        .env("BASE_URL", "http://auth.example.com")
        .env("SECRET_KEY", "3f9c2a7e51b84d06a9e1c5f7d2b8e4a01c6f3e9d7b5a2c8e4f1d6b9a3c7e5f2a")
        .env("SMTP_URL", "smtp://127.0.0.1:2525")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("BASE_URL"));
}

#[test]
fn an_unknown_command_prints_usage() {
    let out = binary().arg("frobnicate").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("unrecognized subcommand 'frobnicate'") && said.contains(&format!("Usage: {}", backend::PROJECT)),
        "{said}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s5_an_operator_can_make_the_next_sign_in_require_a_new_password() {
    let url = fresh_database_url().await;
    let app = TestApp::spawn_on(&url, |_| {}).await;
    let documented = include_str!("../../../.env.example").to_uppercase();
    assert!(!documented.contains("PASSWORD_EXPIR") && !documented.contains("PASSWORD_MAX_AGE"), "no periodic expiry");
    app.confirmed_user("ann@example.com", PASSWORD).await;
    let other = app.another_browser("ann@example.com", PASSWORD).await;

    let out = binary()
        .args(["user", "require-password-change", "ann@example.com"])
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 sessions ended"));
    assert_eq!(app.signed_in_as(&other).await, None, "every session ended at once");

    // The right password no longer opens a session, and is answered like a wrong one (it confirms nothing to
    // whoever holds it); a reset link is mailed instead.
    let r = app.call_server_fn("/api/log_in", &[("email", "ann@example.com"), ("password", PASSWORD)]).await;
    assert_eq!(r.status(), reqwest::StatusCode::UNAUTHORIZED);
    assert!(r.text().await.unwrap().contains("InvalidCredentials"));
    let mail = app.mail_with_subject("ann@example.com", "Reset your").await;
    let token = &token_in(&mail.text, "/users/reset-password/");
    let new_password = "purple elephants juggle quietly";
    let r = app.post_form("/api/reset_password", &[("token", token), ("password", new_password)]).await;
    assert_eq!(location(&r), "/users/log-in");
    assert_eq!(location(&app.log_in("ann@example.com", new_password).await), "/", "a new password opens it again");

    let out =
        binary().args(["user", "require-password-change", "nobody@example.com"]).env("DATABASE_URL", &url).output();
    assert_eq!(out.unwrap().status.code(), Some(1), "an unknown address is an error");
    app.stop().await;
}

/// `portcullis doctor` with `vars` (and nothing else from this process's environment): exit code and what it printed.
fn doctor(vars: &[(&str, &str)]) -> (Option<i32>, String) {
    let out = binary().arg("doctor").envs(vars.iter().copied()).output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The line `doctor` printed about `part`.
fn line<'a>(said: &'a str, part: &str) -> &'a str {
    said.lines().find(|l| l.split_whitespace().nth(1) == Some(part)).unwrap_or_else(|| panic!("no {part}: {said}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_passes_a_ready_configuration_and_says_what_is_for_development_only() {
    let url = fresh_database_url().await;
    let smtp_port = crate::mail::free_port();
    let _sink = crate::mail::SmtpSink::start(smtp_port).await;
    let provider = crate::oauth::Provider::start().await;
    let smtp = format!("smtp://127.0.0.1:{smtp_port}");
    let vars = [
        ("DATABASE_URL", url.as_str()),
        ("MAIL_TRANSPORT", "smtp"),
        ("SMTP_URL", &smtp),
        ("OIDC_ISSUER", &provider.issuer),
        ("OIDC_CLIENT_ID", "portcullis"),
        ("OIDC_CLIENT_SECRET", "s3cret"),
    ];
    // Before `migrate`: a SQLite file is not made by the check; a PostgreSQL database is reachable but empty.
    let (code, said) = doctor(&vars);
    assert_eq!(code, Some(0), "{said}");
    assert!(line(&said, "database").starts_with("warning"), "{said}");
    if let Some(path) = url.strip_prefix("sqlite://") {
        assert!(!Path::new(path).exists(), "the check made the file: {said}");
    }

    let out = binary().arg("migrate").env("DATABASE_URL", &url).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (code, said) = doctor(&vars);
    assert_eq!(code, Some(0), "{said}");
    for part in ["configuration", "database", "mail", "providers", "clock", "passkeys", "metrics"] {
        assert!(line(&said, part).starts_with("ok"), "{part}: {said}");
    }
    assert!(line(&said, "providers").contains(&provider.issuer), "{said}");
    // Development defaults are named, with the fix.
    assert!(line(&said, "secret").starts_with("warning") && said.contains("openssl rand"), "{said}");
    assert!(line(&said, "data").starts_with("warning") && said.contains("DATA_ENCRYPTION_KEYS="), "{said}");
    assert!(said.ends_with("0 error(s), 2 warning(s)\n"), "{said}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_names_each_part_that_would_fail_and_exits_1() {
    use crate::mail::closed_port;
    let ((_db, db), (_smtp, smtp), (_oidc, oidc)) = (closed_port(), closed_port(), closed_port());
    let (code, said) = doctor(&[
        ("DATABASE_URL", &format!("postgres://portcullis@127.0.0.1:{db}/portcullis")),
        ("MAIL_TRANSPORT", "smtp"),
        ("SMTP_URL", &format!("smtp://127.0.0.1:{smtp}")),
        ("OIDC_ISSUER", &format!("http://127.0.0.1:{oidc}")),
        ("OIDC_CLIENT_ID", "portcullis"),
        ("OIDC_CLIENT_SECRET", "s3cret"),
    ]);
    assert_eq!(code, Some(1), "{said}");
    assert!(line(&said, "database").starts_with("error") && said.contains("DATABASE_URL"), "{said}");
    assert!(line(&said, "mail").starts_with("error") && said.contains("SMTP_URL"), "{said}");
    assert!(line(&said, "providers").starts_with("error") && said.contains("discovery"), "{said}");
    assert!(line(&said, "clock").starts_with("warning"), "{said}");
    assert!(said.contains("3 error(s)"), "{said}");

    // Metrics on an address other machines reach: a warning (they have no authentication).
    let (code, said) = doctor(&[("METRICS_ADDR", "0.0.0.0:9090"), ("DATABASE_URL", "sqlite:///nonexistent/x.db")]);
    assert_eq!(code, Some(0), "{said}");
    assert!(line(&said, "metrics").starts_with("warning") && said.contains("firewall"), "{said}");

    // A configuration that does not load: the variable and what it needs.
    let (code, said) = doctor(&[("APP_ENV", "production"), ("BASE_URL", "https://auth.example.com")]);
    assert_eq!(code, Some(1), "{said}");
    assert!(line(&said, "configuration").starts_with("error") && said.contains("SECRET_KEY"), "{said}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_copies_the_database_while_the_server_runs_and_never_overwrites() {
    let url = fresh_database_url().await;
    let app = TestApp::spawn_on(&url, |_| {}).await;
    app.confirmed_user("ann@example.com", PASSWORD).await;
    let dir = std::env::temp_dir().join(format!("portcullis-backup-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let copy = dir.join("copy.db");

    let out = binary().arg("backup").arg(&copy).env("DATABASE_URL", &url).output().unwrap();
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    if url.starts_with("postgres") {
        // One copy per file is a SQLite notion; PostgreSQL has its own tool, and the command says which.
        assert_eq!(out.status.code(), Some(1), "{said}");
        assert!(said.contains("pg_dump"), "{said}");
        assert!(!copy.exists());
    } else {
        assert!(out.status.success(), "{said}");
        // The copy is a database of its own: it opens, is migrated, and has the account made before the backup.
        let db = backend::platform::db::Db::connect(&format!("sqlite://{}", copy.display())).await.unwrap();
        assert!(db.migrations_applied().await);
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users WHERE email = 'ann@example.com'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
        assert_eq!(n, 1);
        db.pool.close().await;

        // A second backup to the same file is refused and leaves the first copy as it was.
        let before = std::fs::read(&copy).unwrap();
        let out = binary().arg("backup").arg(&copy).env("DATABASE_URL", &url).output().unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&out.stderr).contains("exists already"));
        assert_eq!(std::fs::read(&copy).unwrap(), before, "nothing lost");
    }
    // A database that does not exist is not created to be backed up.
    let missing = dir.join("missing.db");
    let out = binary()
        .arg("backup")
        .arg(dir.join("other.db"))
        .env("DATABASE_URL", format!("sqlite://{}", missing.display()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to back up"));
    assert!(!missing.exists() && !dir.join("other.db").exists());
    app.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthcheck_answers_for_the_server_on_bind_addr() {
    let app = TestApp::spawn().await;
    let port = app.base.rsplit(':').next().unwrap().to_string();
    // The container's setting: every interface; the check asks on loopback.
    let out = binary()
        .arg("healthcheck")
        .env("BIND_ADDR", format!("0.0.0.0:{port}"))
        .env("BASE_URL", format!("http://localhost:{port}"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("/healthz answered 200"));
    app.stop().await;

    let (_held, closed) = crate::mail::closed_port();
    let out = binary().arg("healthcheck").env("BIND_ADDR", format!("127.0.0.1:{closed}")).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "nothing listens: unhealthy");
}

/// The stored TOTP seed of the only user who has one.
async fn stored_seed(url: &str) -> String {
    let db = backend::platform::db::Db::connect(url).await.unwrap();
    let (seed,): (String,) = sqlx::query_as("SELECT secret_enc FROM user_totp").fetch_one(&db.pool).await.unwrap();
    db.pool.close().await;
    seed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_reseal_moves_stored_secrets_to_the_new_key_so_the_old_one_can_go() {
    use backend::platform::keyring::KeyRing;
    const K1: &str = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const K2: &str = "k2:HxwdHhsaGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA=";
    let url = fresh_database_url().await;
    let app = TestApp::spawn_on(&url, |c| c.data_keys = KeyRing::parse(K1).unwrap()).await;
    let (auth, _) = crate::mfa::ann_with_totp(&app).await;
    let clock = app.state().clock.now();
    app.stop().await;
    let sealed_with_k1 = stored_seed(&url).await;
    assert!(sealed_with_k1.starts_with("k1:"));
    let reseal = |keys: &str| {
        binary().args(["keys", "reseal"]).env("DATABASE_URL", &url).env("DATA_ENCRYPTION_KEYS", keys).output().unwrap()
    };

    // Only the new key listed: the seed opens with none, so it is left as it was and the command fails.
    let out = reseal(K2);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 value(s) open with no listed key"));
    assert_eq!(stored_seed(&url).await, sealed_with_k1, "nothing lost");

    // The new key first, the old one after it: sealed again under k2.
    let out = reseal(&format!("{K2},{K1}"));
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{said}{}", String::from_utf8_lossy(&out.stderr));
    assert!(said.contains("1 value(s) sealed again under k2; 0 already were"), "{said}");
    assert!(stored_seed(&url).await.starts_with("k2:"));
    let out = reseal(&format!("{K2},{K1}"));
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 value(s) sealed again under k2; 1 already were"));

    // The old key dropped: Ann's authenticator still signs her in.
    let app = TestApp::spawn_on(&url, |c| c.data_keys = KeyRing::parse(K2).unwrap()).await;
    // Past the steps the first app used (its clock was moved forward; a used step is refused).
    app.state().clock.advance(clock - app.state().clock.now() + 90);
    let r = app.log_in("ann@example.com", PASSWORD).await;
    assert_eq!(location(&r), "/users/mfa");
    let r = app.post_form("/api/mfa_verify", &[("code", &auth.code(&app))]).await;
    assert_eq!(location(&r), "/");
    assert_eq!(app.signed_in_as(&app.client).await.as_deref(), Some("ann@example.com"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_client_create_prints_the_secret_once_list_shows_it_and_revoke_ends_it() {
    let url = fresh_database_url().await;
    let run = |args: &[&str]| binary().args(args).env("DATABASE_URL", &url).output().unwrap();
    let out = run(&["oauth-client", "create", "--name", "Notes", "--redirect-uri", "http://app.example.com/cb"]);
    assert_eq!(out.status.code(), Some(1), "http to another host is refused");
    assert!(String::from_utf8_lossy(&out.stderr).contains("use https"), "{}", String::from_utf8_lossy(&out.stderr));

    let out = run(&[
        "oauth-client",
        "create",
        "--name",
        "Notes",
        "--redirect-uri",
        "https://app.example.com/cb",
        "--first-party",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    let field = |name: &str| {
        said.lines().find_map(|l| l.strip_prefix(name)).unwrap_or_else(|| panic!("{name} in {said}")).trim().to_string()
    };
    let (id, secret) = (field("client_id:"), field("client_secret:"));
    let db = backend::platform::db::Db::connect(&url).await.unwrap();
    let (digest,): (String,) = sqlx::query_as("SELECT secret_digest FROM oauth_clients WHERE id = $1")
        .bind(&id)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(digest, backend::platform::crypto::token_digest(&secret), "only the secret's digest is kept");

    let listed = String::from_utf8_lossy(&run(&["oauth-client", "list"]).stdout).to_string();
    assert!(
        listed.contains(&id) && listed.contains("confidential, first-party") && !listed.contains(&secret),
        "{listed}"
    );
    assert!(run(&["oauth-client", "revoke", &id]).status.success());
    assert!(String::from_utf8_lossy(&run(&["oauth-client", "list"]).stdout).contains("REVOKED"));
    assert_eq!(run(&["oauth-client", "revoke", &id]).status.code(), Some(1), "already revoked");
}
