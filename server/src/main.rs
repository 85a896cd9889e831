use backend::{platform::config::Config, platform::db::Db};
use clap::Parser;
use server::cli::{AdminCommand, Cli, Command, UserCommand};
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
            eprintln!("portcullis: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(command, config).await {
        eprintln!("portcullis: {e:#}");
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

/// Text lines, or one JSON object per line (`LOG_FORMAT=json`) with the spans it was logged in (the request's, with
/// its request id, among them).
fn init_logging(json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
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
