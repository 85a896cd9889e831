//! Benchmarks, as ratios measured in one run on one machine:
//!   1. log-in throughput against raw Argon2id throughput with the same parameters;
//!   2. an authenticated page against a bare axum handler.
//! `cargo run -p bench --release [-- SECONDS]`. The app runs with its production defaults except the per-address
//! and per-account rate limits, which are raised so the benchmark measures the work and not the limiter.
use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use anyhow::Context;
use argon2::{password_hash::SaltString, Algorithm, Argon2, Params, PasswordHasher, Version};
use backend::platform::config::Config;

const PASSWORD: &str = "correct horse battery staple";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let secs: u64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(5);
    let dir = std::env::temp_dir().join(format!("portcullis-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let mut config = Config::for_tests(&format!("sqlite://{}/bench.db", dir.display()));
    let defaults = Config::from_map(&Default::default())?;
    config.argon2_m_kib = defaults.argon2_m_kib;
    config.argon2_t = defaults.argon2_t;
    config.argon2_p = defaults.argon2_p;
    config.rate_limit_anonymous_per_minute = 10_000_000;
    config.rate_limit_account_per_minute = 10_000_000;
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    println!(
        "machine: {cores} cores; Argon2id m={} KiB t={} p={}; {secs} s per measurement",
        config.argon2_m_kib, config.argon2_t, config.argon2_p
    );

    // 1a. Raw Argon2id: verify on every core, each thread reusing one memory block, as the server's hashing workers do.
    let params =
        Params::new(config.argon2_m_kib, config.argon2_t, config.argon2_p, None).map_err(anyhow::Error::msg)?;
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let hash = argon
        .hash_password(PASSWORD.as_bytes(), &SaltString::generate(&mut argon2::password_hash::rand_core::OsRng))
        .map_err(anyhow::Error::msg)?
        .to_string();
    let raw = {
        let count = Arc::new(AtomicU64::new(0));
        let deadline = Instant::now() + Duration::from_secs(secs);
        let threads: Vec<_> = (0..cores)
            .map(|_| {
                let (count, hash, argon, params) = (count.clone(), hash.clone(), argon.clone(), params.clone());
                std::thread::spawn(move || {
                    let parsed = argon2::PasswordHash::new(&hash).unwrap();
                    let expected = parsed.hash.unwrap();
                    let mut salt = [0u8; 64];
                    let salt = parsed.salt.unwrap().decode_b64(&mut salt).unwrap();
                    let mut blocks = vec![argon2::Block::default(); params.block_count()];
                    let mut out = vec![0u8; expected.len()];
                    while Instant::now() < deadline {
                        argon.hash_password_into_with_memory(PASSWORD.as_bytes(), salt, &mut out, &mut blocks).unwrap();
                        assert_eq!(out, expected.as_bytes());
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        count.load(Ordering::Relaxed) as f64 / secs as f64
    };

    // 1b. Log in over HTTP: the whole path (rate limit, CSRF check, lookup, verify, session insert, audit row).
    let state = server::build_state(config).await?;
    let running = server::start(state).await?;
    let base = format!("http://127.0.0.1:{}", running.addr.port());
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
    // Many people signing in at once, as in production: each attempt is claimed on its account before the hash,
    // so one account with several attempts in flight would meet its own lockout (five at once start a pause).
    let accounts: Arc<Vec<String>> = Arc::new((0..cores * 16).map(|i| format!("bench{i}@example.com")).collect());
    for email in accounts.iter() {
        client
            .post(format!("{base}/api/register"))
            .header("accept", "text/html")
            .form(&[("email", email.as_str()), ("password", PASSWORD)])
            .send()
            .await?;
    }
    let email = accounts[0].clone();
    let next = Arc::new(AtomicU64::new(0));
    let log_in = {
        let client = client.clone();
        let base = base.clone();
        let (accounts, next) = (accounts.clone(), next.clone());
        move || {
            let client = client.clone();
            let url = format!("{base}/api/log_in");
            let email = accounts[next.fetch_add(1, Ordering::Relaxed) as usize % accounts.len()].clone();
            async move {
                let r = client
                    .post(url)
                    .header("accept", "text/html")
                    .form(&[("email", email.as_str()), ("password", PASSWORD)])
                    .send()
                    .await?;
                anyhow::ensure!(
                    r.status() == 302 && r.headers().get("location").is_some_and(|l| l == "/"),
                    "log in failed: {}",
                    r.status()
                );
                Ok(())
            }
        }
    };
    let logins = measure(secs, cores * 4, log_in).await?;

    // 2. An authenticated page (session lookup + full SSR) against a bare axum handler, same client and concurrency.
    let r = client
        .post(format!("{base}/api/log_in"))
        .header("accept", "text/html")
        .form(&[("email", email.as_str()), ("password", PASSWORD)])
        .send()
        .await?;
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{}_session=", backend::PROJECT)))
        .context("no session cookie")?
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let page = {
        let (client, base, cookie) = (client.clone(), base.clone(), cookie.clone());
        move || {
            let (client, url, cookie) = (client.clone(), format!("{base}/"), cookie.clone());
            async move {
                let body = client.get(url).header("cookie", cookie).send().await?.text().await?;
                anyhow::ensure!(body.contains("You are signed in as"), "not signed in");
                Ok(())
            }
        }
    };
    let pages = measure(secs, 16, page).await?;

    let bare_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let bare_addr = bare_listener.local_addr()?;
    let bare = tokio::spawn(async move {
        let app = axum::Router::new().route("/", axum::routing::get(|| async { "ok" }));
        let _ = axum::serve(bare_listener, app).await;
    });
    let bare_rate = {
        let client = client.clone();
        measure(secs, 16, move || {
            let (client, url) = (client.clone(), format!("http://{bare_addr}/"));
            async move {
                let body = client.get(url).send().await?.text().await?;
                anyhow::ensure!(body == "ok");
                Ok(())
            }
        })
        .await?
    };
    bare.abort();
    running.stop().await;
    let _ = std::fs::remove_dir_all(&dir);

    println!();
    println!("raw Argon2id verifications/s ({cores} threads): {raw:10.1}");
    println!("log-ins/s over HTTP                 : {logins:10.1}");
    println!("ratio log-in / raw Argon2id         : {:10.3}", logins / raw);
    println!();
    println!("bare axum handler requests/s        : {bare_rate:10.1}");
    println!("authenticated page requests/s       : {pages:10.1}");
    println!("ratio authenticated page / bare     : {:10.3}", pages / bare_rate);
    // For scripts: one line a ratio.
    println!();
    println!("ratio login_vs_argon2 {:.3}", logins / raw);
    println!("ratio page_vs_bare_axum {:.3}", pages / bare_rate);
    Ok(())
}

/// Runs `op` from `concurrency` tasks for `secs` seconds; returns successful operations per second.
async fn measure<F, Fut>(secs: u64, concurrency: usize, op: F) -> anyhow::Result<f64>
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    let start = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let op = op.clone();
            tokio::spawn(async move {
                let mut n = 0u64;
                while Instant::now() < deadline {
                    op().await?;
                    n += 1;
                }
                anyhow::Ok(n)
            })
        })
        .collect();
    let mut total = 0;
    for t in tasks {
        total += t.await??;
    }
    Ok(total as f64 / start.elapsed().as_secs_f64())
}
