use backend::{platform::config::Config, platform::db::Db};
use clap::Parser;
use server::cli::{AdminCommand, Cli, Command, KeysCommand, OauthClientCommand, UserCommand};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() {
    // clap answers `help`, `--help` and `--version`, and refuses anything else it does not know (exit 2).
    let command = Cli::parse().command();
    // `.env` is a development convenience: a production process takes its configuration from the environment only.
    if std::env::var("APP_ENV").map_or(true, |v| v != "production" && v != "prod") {
        let _ = dotenvy::dotenv();
    }
    let config = Config::from_env();
    init_logging(config.as_ref().is_ok_and(|c| c.log_json));
    if command == Command::Doctor {
        let findings = match &config {
            Ok(c) => server::doctor::check(c).await,
            Err(e) => server::doctor::config_failed(e),
        };
        std::process::exit(if server::doctor::report(&findings) { 0 } else { 1 });
    }
    let config = match config {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{}: {e}", backend::PROJECT);
            std::process::exit(2);
        }
    };
    if let Err(e) = run(command, config).await {
        eprintln!("{}: {e:#}", backend::PROJECT);
        std::process::exit(1);
    }
}

async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Migrate => {
            let db = Db::connect(&config.database_url).await?;
            db.migrate().await?;
            println!("migrations applied");
        }
        Command::Serve => {
            let state = server::build_state(config).await?;
            if let Some(addr) = state.config.metrics_addr {
                let bound = server::observe::serve_metrics(addr, state.clone()).await?;
                tracing::info!("metrics on http://{bound}/metrics");
            }
            let running = server::start(state).await?;
            if running.state.config.precompress_assets {
                // Brotli and gzip variants of the bundle, made once, in the background, before anyone asks.
                server::routes::assets::Assets::get().precompress_all();
            }
            tracing::info!("listening on http://{} ({})", running.addr, running.state.config.base_url);
            shutdown_signal().await;
            tracing::info!("shutting down");
            running.stop().await;
        }
        Command::User(UserCommand::RequirePasswordChange { email }) => {
            use backend::{platform::request::RequestContext, signin::accounts};
            let email = domain::validation::EmailAddress::parse(&email).map_err(|m| anyhow::anyhow!("{m}"))?;
            let state = server::build_state(config).await?;
            match accounts::require_password_change(&state, &RequestContext::system(), &email).await {
                Ok(Some(ended)) => println!(
                    "{}: the next sign-in needs a new password (a reset link is mailed then); {ended} sessions ended",
                    email.as_str()
                ),
                Ok(None) => anyhow::bail!("no account has the e-mail {}", email.as_str()),
                Err(e) => anyhow::bail!("{e}"),
            }
        }
        Command::Backup { file } => {
            if let Some(path) = Db::missing_sqlite_file(&config.database_url) {
                anyhow::bail!("{path} does not exist: nothing to back up");
            }
            let db = Db::connect(&config.database_url).await?;
            db.backup_to(&file).await?;
            println!("backed up to {}", file.display());
        }
        Command::Keys(KeysCommand::Reseal) => {
            let state = server::build_state(config).await?;
            let newest = state.config.data_keys.newest_id().to_string();
            let mut done = backend::signin::mfa::reseal_all(&state).await?;
            let keys = backend::provider::keys::reseal_all(&state).await?;
            done.sealed += keys.sealed;
            done.current += keys.current;
            done.failed += keys.failed;
            println!("{} value(s) sealed again under {newest}; {} already were", done.sealed, done.current);
            anyhow::ensure!(
                done.failed == 0,
                "{} value(s) open with no listed key and were left as they were: list the key that sealed them",
                done.failed
            );
            println!("nothing needs the keys listed after {newest}: they can be dropped");
        }
        Command::Keys(KeysCommand::RotateSigning) => {
            let state = server::build_state(config).await?;
            let retired = backend::provider::keys::rotate(&state).await?;
            let (kid, _) = backend::provider::keys::signing_key(&state).await?;
            match retired {
                Some(old) => println!(
                    "signing key {old} retired (published {} s more, for the tokens it signed); new tokens are signed by {kid}",
                    backend::provider::ACCESS_TOKEN_SECS
                ),
                None => println!("there was no signing key; new tokens are signed by {kid}"),
            }
        }
        Command::Healthcheck => {
            // The server listens on BIND_ADDR; an address for every interface is asked on loopback.
            let mut addr = config.bind_addr;
            if addr.ip().is_unspecified() {
                addr.set_ip(match addr {
                    std::net::SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                    std::net::SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
                });
            }
            let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(5)).build()?;
            let status = client.get(format!("http://{addr}/healthz")).send().await?.status();
            anyhow::ensure!(status.is_success(), "http://{addr}/healthz answered {status}");
            println!("ok: http://{addr}/healthz answered {status}");
        }
        Command::OauthClient(c) => oauth_client(config, c).await?,
        Command::Admin(AdminCommand::Grant { email }) => set_admin(config, &email, true).await?,
        Command::Admin(AdminCommand::Revoke { email }) => set_admin(config, &email, false).await?,
        Command::Admin(AdminCommand::List) => {
            let state = server::build_state(config).await?;
            for (email, mfa) in backend::admin::list(&state).await? {
                println!("{email}\t{}", if mfa { "two-step verification on" } else { "two-step verification OFF" });
            }
        }
        // Answered in main: it reports a configuration that does not load instead of stopping at it.
        Command::Doctor => {}
    }
    Ok(())
}

/// `portcullis oauth-client …`
async fn oauth_client(config: backend::platform::config::Config, command: OauthClientCommand) -> anyhow::Result<()> {
    use backend::provider::clients;
    let state = server::build_state(config).await?;
    match command {
        OauthClientCommand::Create { name, redirect_uris, public, first_party } => {
            let new = clients::NewClient { name: &name, redirect_uris: &redirect_uris, public, first_party };
            let created = clients::create(&state, new).await.map_err(|e| match e {
                backend::Error::Field(_, message) => anyhow::anyhow!(message),
                e => anyhow::anyhow!(e),
            })?;
            println!("client_id: {}", created.id);
            match created.secret {
                Some(secret) => println!("client_secret: {secret}\n(shown this once: store it in the app's secrets)"),
                None => println!("public client: no secret; it must use PKCE"),
            }
        }
        OauthClientCommand::List => {
            for c in clients::list(&state).await? {
                let kind = if c.public { "public" } else { "confidential" };
                let party = if c.first_party { ", first-party" } else { "" };
                let revoked = if c.revoked_at.is_some() { ", REVOKED" } else { "" };
                println!("{}\t{}\t{kind}{party}{revoked}\t{}", c.id, c.name, c.redirect_uris.join(" "));
            }
        }
        OauthClientCommand::Revoke { client_id } => {
            anyhow::ensure!(clients::revoke(&state, &client_id).await?, "no live client has the id {client_id}");
            println!("revoked {client_id}");
        }
    }
    Ok(())
}

/// Text lines, or one JSON object per line (`LOG_FORMAT=json`) with the spans it was logged in (the request's, with
/// its request id, among them).
fn init_logging(json: bool) {
    let mut filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    // tower-sessions warns of "possibly suspicious activity" whenever a cookie names a session that is not stored.
    // Here that is the normal end of a visitor session (an emptied one is deleted and its cookie removed at the next
    // request), and anyone could fill the log with it by sending such a cookie; unless RUST_LOG names it, it is off.
    if !std::env::var("RUST_LOG").is_ok_and(|f| f.contains("tower_sessions")) {
        filter = filter.add_directive("tower_sessions_core::session=error".parse().expect("a valid directive"));
    }
    if json {
        tracing_subscriber::fmt().json().with_current_span(false).with_span_list(true).with_env_filter(filter).init();
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).init();
    }
}

async fn set_admin(config: Config, email: &str, grant: bool) -> anyhow::Result<()> {
    let email = domain::validation::EmailAddress::parse(email).map_err(|m| anyhow::anyhow!("{m}"))?;
    let state = server::build_state(config).await?;
    let changed = backend::admin::set_admin(&state, &email, grant).await?;
    let what = if grant { "is an admin" } else { "is not an admin" };
    println!("{} {what}{}", email.as_str(), if changed { "" } else { " (no change)" });
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
