//! Benchmarks, as ratios measured in one run on one machine:
//!   1. log-in throughput against raw Argon2id throughput with the same parameters;
//!   2. an authenticated page against a bare axum handler;
//!   3. the smallest page Leptos serves (leptos_axum, one route, nothing else) against the same bare handler: the
//!      floor under every page of the app.
//! `cargo run -p bench --release [-- SECONDS]`. The app runs with its production defaults except the per-address
//! and per-account rate limits, which are raised so the benchmark measures the work and not the limiter.
//! The two sides of each ratio are measured in alternating one-second slices (SECONDS of each), so that a change in
//! the machine's speed during the run (another tenant of the host, say) weighs on both sides alike.
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

    // 1a. Raw Argon2id: verify on every core, each thread reusing one memory block, as the server's hashing workers do
    // (measured below, in slices alternating with 1b).
    let params =
        Params::new(config.argon2_m_kib, config.argon2_t, config.argon2_p, None).map_err(anyhow::Error::msg)?;
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let hash = argon
        .hash_password(PASSWORD.as_bytes(), &SaltString::generate(&mut argon2::password_hash::rand_core::OsRng))
        .map_err(anyhow::Error::msg)?
        .to_string();
    let hashers = RawHashers::start(cores, &argon, &params, &hash);

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
    let (raw, logins) = interleaved(secs, || hashers.run(SLICE), || measure(SLICE, cores * 4, log_in.clone())).await?;

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
    let bare_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let bare_addr = bare_listener.local_addr()?;
    let bare = tokio::spawn(async move {
        let app = axum::Router::new().route("/", axum::routing::get(|| async { "ok" }));
        let _ = axum::serve(bare_listener, app).await;
    });
    let bare_op = {
        let client = client.clone();
        move || {
            let (client, url) = (client.clone(), format!("http://{bare_addr}/"));
            async move {
                let body = client.get(url).send().await?.text().await?;
                anyhow::ensure!(body == "ok");
                Ok(())
            }
        }
    };
    let (pages, bare_rate) =
        interleaved(secs, || measure(SLICE, 16, page.clone()), || measure(SLICE, 16, bare_op.clone())).await?;

    // 3. The floor of the stack every page stands on: Leptos's smallest server-rendered page (a document, a router
    // with one route, a title), through leptos_axum's handler as the app's pages are, with no session, no
    // middleware and no data; against the same bare handler.
    let floor_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let floor_addr = floor_listener.local_addr()?;
    let floor = tokio::spawn(async move {
        let _ = axum::serve(floor_listener, leptos_floor::router()).await;
    });
    let floor_op = {
        let client = client.clone();
        move || {
            let (client, url) = (client.clone(), format!("http://{floor_addr}/"));
            async move {
                let body = client.get(url).send().await?.text().await?;
                anyhow::ensure!(body.contains("<p>ok</p>"), "not the floor page: {body}");
                Ok(())
            }
        }
    };
    let (floor_rate, bare_rate_2) =
        interleaved(secs, || measure(SLICE, 16, floor_op.clone()), || measure(SLICE, 16, bare_op.clone())).await?;
    floor.abort();
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
    println!();
    println!("bare axum handler requests/s        : {bare_rate_2:10.1}");
    println!("smallest Leptos page requests/s     : {floor_rate:10.1}");
    println!("ratio smallest Leptos page / bare   : {:10.3}", floor_rate / bare_rate_2);
    // For scripts: one line a ratio.
    println!();
    println!("ratio login_vs_argon2 {:.3}", logins / raw);
    println!("ratio page_vs_bare_axum {:.3}", pages / bare_rate);
    println!("ratio leptos_floor_vs_bare_axum {:.3}", floor_rate / bare_rate_2);
    Ok(())
}

/// Each side of a ratio is measured in slices of this length, alternating with the other side.
const SLICE: Duration = Duration::from_secs(1);

/// Operations done and the time they took, summed over slices.
#[derive(Clone, Copy, Default)]
struct Rate {
    ops: u64,
    elapsed: Duration,
}

impl Rate {
    fn add(&mut self, slice: Rate) {
        self.ops += slice.ops;
        self.elapsed += slice.elapsed;
    }

    fn per_sec(self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64()
    }
}

/// `slices` rounds of one slice of `a` and one of `b`, the order swapped every round; each side's operations per
/// second over all its slices.
async fn interleaved<A, FA, B, FB>(slices: u64, mut a: A, mut b: B) -> anyhow::Result<(f64, f64)>
where
    A: FnMut() -> FA,
    FA: std::future::Future<Output = anyhow::Result<Rate>>,
    B: FnMut() -> FB,
    FB: std::future::Future<Output = anyhow::Result<Rate>>,
{
    let (mut ra, mut rb) = (Rate::default(), Rate::default());
    for round in 0..slices.max(1) {
        if round % 2 == 0 {
            ra.add(a().await?);
            rb.add(b().await?);
        } else {
            rb.add(b().await?);
            ra.add(a().await?);
        }
    }
    Ok((ra.per_sec(), rb.per_sec()))
}

/// Argon2id verifications on every core, each thread reusing one memory block as the server's hashing workers do.
/// The threads live for the whole run and hash only during [`RawHashers::run`].
struct RawHashers {
    go: Vec<std::sync::mpsc::Sender<Instant>>,
    done: std::sync::mpsc::Receiver<u64>,
}

impl RawHashers {
    fn start(threads: usize, argon: &Argon2<'static>, params: &Params, hash: &str) -> Self {
        let (done_tx, done) = std::sync::mpsc::channel();
        let go = (0..threads)
            .map(|_| {
                let (go_tx, go_rx) = std::sync::mpsc::channel::<Instant>();
                let (done_tx, argon, params, hash) = (done_tx.clone(), argon.clone(), params.clone(), hash.to_string());
                std::thread::spawn(move || {
                    let parsed = argon2::PasswordHash::new(&hash).unwrap();
                    let expected = parsed.hash.unwrap();
                    let mut salt = [0u8; 64];
                    let salt = parsed.salt.unwrap().decode_b64(&mut salt).unwrap();
                    let mut blocks = vec![argon2::Block::default(); params.block_count()];
                    let mut out = vec![0u8; expected.len()];
                    for deadline in go_rx {
                        let mut n = 0;
                        while Instant::now() < deadline {
                            argon
                                .hash_password_into_with_memory(PASSWORD.as_bytes(), salt, &mut out, &mut blocks)
                                .unwrap();
                            assert_eq!(out, expected.as_bytes());
                            n += 1;
                        }
                        let _ = done_tx.send(n);
                    }
                });
                go_tx
            })
            .collect();
        Self { go, done }
    }

    /// Hashes on every thread for `slice`; the verifications done and the time they took (until the last thread's
    /// last hash ended).
    async fn run(&self, slice: Duration) -> anyhow::Result<Rate> {
        let start = Instant::now();
        for go in &self.go {
            go.send(start + slice)?;
        }
        let mut ops = 0;
        for _ in &self.go {
            ops += tokio::task::block_in_place(|| self.done.recv())?;
        }
        Ok(Rate { ops, elapsed: start.elapsed() })
    }
}

/// Runs `op` from `concurrency` tasks for `slice`; returns the successful operations and the time they took (until
/// the last one in flight at the deadline ended).
async fn measure<F, Fut>(slice: Duration, concurrency: usize, op: F) -> anyhow::Result<Rate>
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let start = Instant::now();
    let deadline = start + slice;
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
    let mut ops = 0;
    for t in tasks {
        ops += t.await??;
    }
    Ok(Rate { ops, elapsed: start.elapsed() })
}

/// The smallest server-rendered Leptos page, served the way the app's pages are (`leptos_routes` with the route's
/// `SsrMode::Async`), with nothing of the app's: no middleware, no session, no data.
mod leptos_floor {
    use leptos::prelude::*;
    use leptos_axum::{generate_route_list, LeptosRoutes};
    use leptos_meta::{provide_meta_context, MetaTags, Title};
    use leptos_router::{
        components::{Route, Router, Routes},
        path, SsrMode,
    };

    fn shell() -> impl IntoView {
        view! {
            <!DOCTYPE html>
            <html lang="en">
                <head>
                    <meta charset="utf-8"/>
                    <MetaTags/>
                </head>
                <body>
                    <Floor/>
                </body>
            </html>
        }
    }

    #[component]
    fn Floor() -> impl IntoView {
        provide_meta_context();
        view! {
            <Title text="Floor"/>
            <Router>
                <Routes fallback=|| "not found">
                    <Route path=path!("/") view=|| view! { <p>"ok"</p> } ssr=SsrMode::Async/>
                </Routes>
            </Router>
        }
    }

    pub fn router() -> axum::Router {
        let options = LeptosOptions::builder().output_name("floor").build();
        let routes = generate_route_list(Floor);
        axum::Router::new().leptos_routes(&options, routes, shell).with_state(options)
    }
}
