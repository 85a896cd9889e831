//! What an operator sees: the access log with the request id in every line of a request, JSON logs, Prometheus
//! metrics on their own listener, and a panicking handler answering 500.
use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{body::Body, http::Request, routing::get, Router};
use serde_json::Value;
use tower::ServiceExt;

use crate::{common::*, mail::free_port};

/// The release binary's `serve`, stopped by its PID when dropped; its stdout (the log) read line by line.
struct Served {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    base: String,
    metrics: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// As [`Served::start`], with these variables set too (or instead).
    async fn start_with(vars: &[(&str, &str)]) -> Self {
        let (port, metrics_port) = (free_port(), free_port());
        let mut child = Command::new(BIN)
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", fresh_database_url().await)
            .env("BIND_ADDR", format!("127.0.0.1:{port}"))
            .env("METRICS_ADDR", format!("127.0.0.1:{metrics_port}"))
            .env("LOG_FORMAT", "json")
            .env("RUST_LOG", "info")
            .env("ARGON2_M_KIB", "1024")
            .envs(vars.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let out = child.stdout.take().unwrap();
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let served = Self {
            child,
            lines,
            base: format!("http://localhost:{port}"),
            metrics: format!("http://127.0.0.1:{metrics_port}/metrics"),
        };
        for _ in 0..300 {
            if reqwest::get(format!("{}/healthz", served.base)).await.is_ok_and(|r| r.status().is_success()) {
                return served;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the server did not start; its log: {:?}", served.lines.lock().unwrap());
    }

    /// The JSON log lines of one request (by its id), waiting up to 5 s for `n` of them.
    async fn lines_of(&self, request_id: &str, n: usize) -> Vec<Value> {
        for _ in 0..50 {
            let found: Vec<Value> = self
                .lines
                .lock()
                .unwrap()
                .iter()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .filter(|v| logged_in(v, request_id))
                .collect();
            if found.len() >= n {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("fewer than {n} lines for request {request_id}: {:?}", self.lines.lock().unwrap());
    }
}

/// Whether a JSON log line was logged inside the request `request_id` (its span, or an inner one's).
fn logged_in(line: &Value, request_id: &str) -> bool {
    line["spans"].as_array().is_some_and(|spans| spans.iter().any(|s| s["request_id"] == request_id))
}

fn request_id(r: &reqwest::Response) -> String {
    r.headers().get("x-request-id").expect("x-request-id").to_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_logs_one_access_line_and_each_of_its_lines_carries_its_request_id() {
    let served = Served::start().await;
    let client = reqwest::Client::new();
    // A page, with a forwarding header from a peer that is not a trusted proxy: the server warns while serving it.
    let log_in_page = |header: (&'static str, &'static str)| {
        client
            .get(format!("{}/users/log-in", served.base))
            .header(header.0, header.1)
            .header("accept", "text/html")
            .send()
    };
    let r = log_in_page(("x-forwarded-for", "203.0.113.7")).await.unwrap();
    assert_eq!(r.status(), 200);
    let id = request_id(&r);
    let lines = served.lines_of(&id, 2).await;
    let access: Vec<&Value> = lines.iter().filter(|l| l["target"] == "access").collect();
    assert_eq!(access.len(), 1, "{lines:?}");
    let f = &access[0]["fields"];
    assert_eq!(
        (f["method"].as_str(), f["route"].as_str(), f["status"].as_u64()),
        (Some("GET"), Some("/users/log-in"), Some(200))
    );
    assert!(f["latency_ms"].as_f64().is_some_and(|ms| ms > 0.0), "{f}");
    assert!(
        lines
            .iter()
            .any(|l| l["level"] == "WARN"
                && l["fields"]["message"].as_str().is_some_and(|m| m.contains("X-Forwarded-For"))),
        "{lines:?}"
    );

    // A visitor cookie whose session is gone (a browser sends it once more after its flash was shown; anyone can send
    // one on every request) is answered normally and fills no log: tower-sessions' warning about it is off.
    let r = log_in_page(("cookie", "portcullis_visit=AAAAAAAAAAAAAAAAAAAAAA")).await.unwrap();
    assert_eq!(r.status(), 200);
    let lines = served.lines_of(&request_id(&r), 1).await;
    assert!(lines.iter().all(|l| l["level"] != "WARN"), "{lines:?}");
    assert!(!served.lines.lock().unwrap().iter().any(|l| l.contains("suspicious")));

    // A route with a token in its address is logged by its pattern, never the token.
    let r = client.get(format!("{}/users/reset-password/secret-token-123", served.base)).send().await.unwrap();
    let lines = served.lines_of(&request_id(&r), 1).await;
    let logged = serde_json::to_string(&lines).unwrap();
    assert!(!logged.contains("secret-token-123"), "{logged}");
    assert!(logged.contains("/users/reset-password/{"), "{logged}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_by_route_and_status_sign_ins_and_failed_passwords() {
    let served = Served::start().await;
    let client = reqwest::Client::new();
    for _ in 0..3 {
        assert!(client.get(format!("{}/healthz", served.base)).send().await.unwrap().status().is_success());
    }
    let r = client
        .post(format!("{}/api/log_in", served.base))
        .header("accept", "application/json")
        .header("sec-fetch-site", "same-origin")
        .form(&[("email", "nobody@example.com"), ("password", "not the password")])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());
    // A sign-up, then a sign-in with the right password (an unconfirmed account may sign in by default).
    for (path, status) in [("/api/register", 200), ("/api/log_in", 200)] {
        let r = client
            .post(format!("{}{path}", served.base))
            .header("accept", "application/json")
            .header("sec-fetch-site", "same-origin")
            .form(&[("email", "mia@example.com"), ("password", PASSWORD)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status, "{path}: {}", r.text().await.unwrap());
    }
    let text = client.get(&served.metrics).send().await.unwrap().text().await.unwrap();
    let value = |series: &str| -> Option<f64> {
        text.lines().find(|l| l.starts_with(series)).and_then(|l| l.rsplit(' ').next()?.parse().ok())
    };
    // The health checks of start-up count too: at least the three made here.
    let healthz = value(r#"http_requests_total{method="GET",route="/healthz",status="200"}"#);
    assert!(healthz.is_some_and(|n| n >= 3.0), "{text}");
    assert_eq!(value("password_checks_failed_total"), Some(1.0), "{text}");
    assert_eq!(value(r#"signins_total{method="password",outcome="session"}"#), Some(1.0), "{text}");
    assert!(text.contains(r#"http_request_duration_seconds_bucket{method="POST",route="/api/log_in""#), "{text}");
    assert_eq!(value("jobs_dead"), Some(0.0), "{text}");
    assert!(value("password_hash_waiting").is_some(), "{text}");
    // The metrics are not on the public listener.
    let r = client.get(format!("{}/metrics", served.base)).send().await.unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn a_panicking_handler_answers_500_and_the_panic_is_logged_with_the_request_id() {
    let logs = captured_logs();
    let app = server::observe::observed(
        Router::new()
            .route("/boom", get(|| async { panic!("the handler's own words") as &'static str }))
            .route("/fine", get(|| async { "ok" })),
    );
    let r = app.clone().oneshot(Request::get("/boom").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(r.status(), 500);
    let id = r.headers()["x-request-id"].to_str().unwrap().to_string();
    let logged = String::from_utf8_lossy(&logs.lock().unwrap()).to_string();
    let lines: Vec<&str> = logged.lines().filter(|l| l.contains(&id)).collect();
    assert!(
        lines.iter().any(|l| l.contains("a handler panicked") && l.contains("the handler's own words")),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.contains("access") && l.contains("route=/boom") && l.contains("status=500")),
        "{lines:?}"
    );
    // The service goes on answering.
    let r = app.oneshot(Request::get("/fine").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(r.status(), 200);
}

/// The server process's anonymous resident memory, in MiB (`RssAnon` in `/proc/PID/status`): what the process holds
/// of its own, not the binary's pages.
#[cfg(target_os = "linux")]
fn resident_anon_mib(served: &Served) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", served.child.id())).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("RssAnon:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("RssAnon in /proc/PID/status");
    kib / 1024
}

/// A burst of sign-ins does not leave the process holding the hashing memory: an idle worker's block leaves the
/// process (its resident memory, as the system counts it) once it has had nothing to do for `RELEASE_AFTER` (5 s).
/// The real binary, with its allocator, and a 64 MiB block so that it stands out from everything else.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_server_hands_its_hashing_memory_back_to_the_system() {
    let served = Served::start_with(&[("ARGON2_M_KIB", "65536"), ("ARGON2_T", "1"), ("HASH_CONCURRENCY", "1")]).await;
    let before = resident_anon_mib(&served);
    let r = bare_client()
        .post(format!("{}/api/register", served.base))
        .header("accept", "text/html")
        .form(&[("email", "ann@example.com"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302, "registered");
    let hashed = resident_anon_mib(&served);
    assert!(hashed >= before + 60, "the 64 MiB block is resident after the hash: {before} MiB before, {hashed} after");
    let mut now = hashed;
    for _ in 0..150 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        now = resident_anon_mib(&served);
        if now + 48 <= hashed {
            break;
        }
    }
    assert!(
        now + 48 <= hashed,
        "the idle worker's block stayed resident: {before} MiB before the hash, {hashed} after it, {now} 15 s later"
    );
}
