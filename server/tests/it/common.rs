use std::{collections::HashMap, path::PathBuf, sync::Arc, time::Duration};

use app::error::AppError;

use backend::{
    platform::config::Config,
    platform::crypto::new_id,
    platform::mail::StoredMail,
    platform::request::RequestContext,
    signin::gate::{self, FirstFactor, SignIn},
    signin::sessions,
    AppState,
};
use leptos::server_fn::ServerFn;
use reqwest::{cookie::Jar, header, redirect::Policy, Client, Response, StatusCode};
use serde::{de::DeserializeOwned, Serialize};
use server::Running;

pub struct TestApp {
    pub base: String,
    pub client: Client,
    pub running: Option<Running>,
}

/// Runs `attempts` at once, for a claim that concurrent requests cannot pass a limit together. On PostgreSQL the
/// test holds, for 700 ms, a lock on `table` that lets every attempt read it but none write to it, so each has read
/// before any writes unless the code under test serialises them itself. On SQLite a write transaction holds the
/// database's one write lock from its start, so running them at once is the test.
pub async fn at_once_with_writes_held<T>(
    app: &TestApp,
    table: &str,
    attempts: impl IntoIterator<Item = impl std::future::Future<Output = T>>,
) -> Vec<T> {
    match app.state().db.kind {
        backend::platform::db::DbKind::Postgres => {
            use sqlx::{Connection, Executor};
            let mut blocker = sqlx::PgConnection::connect(&app.state().config.database_url).await.unwrap();
            blocker.execute("BEGIN").await.unwrap();
            blocker.execute(format!("LOCK TABLE {table} IN SHARE MODE").as_str()).await.unwrap();
            let release = async {
                tokio::time::sleep(Duration::from_millis(700)).await;
                blocker.execute("COMMIT").await.unwrap();
            };
            tokio::join!(futures::future::join_all(attempts), release).0
        }
        _ => futures::future::join_all(attempts).await,
    }
}

/// A fresh database: a new SQLite file, or a new PostgreSQL database on the server `TEST_DATABASE_URL` names.
pub async fn fresh_database_url() -> String {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(admin_url) if !admin_url.is_empty() => {
            use sqlx::Connection;
            let name = format!("portcullis_test_{}", uuid::Uuid::new_v4().simple());
            let mut conn = sqlx::PgConnection::connect(&admin_url).await.expect("connect to TEST_DATABASE_URL");
            sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.expect("create test database");
            let (prefix, _) = admin_url.rsplit_once('/').expect("TEST_DATABASE_URL has a database name");
            format!("{prefix}/{name}")
        }
        _ => {
            let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("sqlite");
            std::fs::create_dir_all(&dir).unwrap();
            format!("sqlite://{}/{}.db", dir.display(), uuid::Uuid::new_v4().simple())
        }
    }
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(tweak: impl FnOnce(&mut Config)) -> Self {
        let url = fresh_database_url().await;
        Self::spawn_on(&url, tweak).await
    }

    /// Starts the app on an existing database (to show what survives a restart).
    pub async fn spawn_on(database_url: &str, tweak: impl FnOnce(&mut Config)) -> Self {
        let mut config = Config::for_tests(database_url);
        tweak(&mut config);
        let state = server::build_state(config).await.expect("app state");
        let running = server::start(state).await.expect("server starts");
        let base = format!("http://127.0.0.1:{}", running.addr.port());
        Self { base, client: new_client(), running: Some(running) }
    }

    pub fn state(&self) -> &AppState {
        &self.running.as_ref().expect("running").state
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await;
        }
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).header(header::ACCEPT, "text/html").send().await.unwrap()
    }

    pub async fn get_with(&self, client: &Client, path: &str) -> Response {
        client.get(self.url(path)).header(header::ACCEPT, "text/html").send().await.unwrap()
    }

    /// A form post as a browser without JavaScript sends it: same-origin, accepting HTML.
    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> Response {
        self.post_form_with(&self.client, path, form).await
    }

    pub async fn post_form_with(&self, client: &Client, path: &str, form: &[(&str, &str)]) -> Response {
        client
            .post(self.url(path))
            .header(header::ACCEPT, "text/html,application/xhtml+xml")
            .header("sec-fetch-site", "same-origin")
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// A call as the WASM client makes it: the typed error comes back as JSON.
    pub async fn call_server_fn(&self, path: &str, form: &[(&str, &str)]) -> Response {
        self.call_server_fn_with(&self.client, path, form).await
    }

    pub async fn call_server_fn_with(&self, client: &Client, path: &str, form: &[(&str, &str)]) -> Response {
        self.server_fn_request(client, path, form).await
    }

    /// A POST to a server function, as the WASM client sends it, with any form-encodable body.
    async fn server_fn_request<B: Serialize + ?Sized>(&self, client: &Client, path: &str, form: &B) -> Response {
        client
            .post(self.url(path))
            .header(header::ACCEPT, "application/json")
            .header("sec-fetch-site", "same-origin")
            .form(form)
            .send()
            .await
            .unwrap()
    }

    pub async fn register(&self, email: &str, password: &str) -> Response {
        self.post_form("/api/register", &[("email", email), ("password", password)]).await
    }

    pub async fn log_in(&self, email: &str, password: &str) -> Response {
        self.post_form("/api/log_in", &[("email", email), ("password", password)]).await
    }

    /// A second browser (its own cookie jar) signed in as `email`.
    pub async fn another_browser(&self, email: &str, password: &str) -> Client {
        let client = new_client();
        let r = self.post_form_with(&client, "/api/log_in", &[("email", email), ("password", password)]).await;
        assert_eq!(location(&r), "/");
        client
    }

    pub async fn log_out(&self) -> Response {
        self.post_form("/api/log_out", &[]).await
    }

    /// Registers and confirms by the mailed link; returns nothing but a confirmed account.
    pub async fn confirmed_user(&self, email: &str, password: &str) {
        assert_eq!(self.register(email, password).await.status(), StatusCode::FOUND);
        let link = link_in(&self.last_mail_to(email).await.text);
        let token = link.rsplit('/').next().unwrap().to_string();
        let r = self.post_form("/api/confirm_with_link", &[("token", &token)]).await;
        assert_eq!(location(&r), "/users/log-in");
    }

    /// A confirmed user with [`PASSWORD`], inserted directly, and a browser of their own signed in through the
    /// sign-in gate: for tests about what a signed-in user may do, not about registering or signing in (those go
    /// through the pages: [`Self::confirmed_user`], [`Self::another_browser`]).
    pub async fn signed_in_user(&self, email: &str) -> Client {
        let st = self.state();
        let now = st.clock.now();
        let id = new_id();
        sqlx::query(
            "INSERT INTO users (id, email, password_hash, confirmed_at, failed_logins, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 0, $4, $4)",
        )
        .bind(&id)
        .bind(email)
        .bind(password_hash(st).await)
        .bind(now)
        .execute(&st.db.pool)
        .await
        .unwrap();
        let tx = st.db.begin().await.unwrap();
        let first = FirstFactor { user_id: id, method: "password", remember_me: false };
        let SignIn::Session(session) = gate::sign_in(tx, st, &RequestContext::system(), first).await.unwrap() else {
            panic!("{email} has no second factor: the gate grants a session");
        };
        let jar = Jar::default();
        jar.add_cookie_str(&sessions::cookie(&st.config, Some(&session)), &self.base.parse().unwrap());
        Client::builder().cookie_provider(Arc::new(jar)).redirect(Policy::none()).build().unwrap()
    }

    /// The id of the account registered for `email`.
    pub async fn user_id(&self, email: &str) -> String {
        self.text("SELECT id FROM users WHERE email = $1", &[email]).await
    }

    /// A server function called as the WASM client calls it, by its own argument type
    /// (`app::orgs::MyOrganizations {}`): the path, the encoding and the result's type all come from the app.
    /// Its result, or the status and the error the page would show.
    pub async fn call<F>(&self, client: &Client, args: F) -> Result<F::Output, (StatusCode, AppError)>
    where
        F: ServerFn + Serialize,
        F::Output: DeserializeOwned,
    {
        let r = self.server_fn_request(client, F::PATH, &args).await;
        let status = r.status();
        let body = r.bytes().await.unwrap();
        if status.is_success() {
            Ok(serde_json::from_slice(&body)
                .unwrap_or_else(|e| panic!("{}: {e}: {}", F::PATH, String::from_utf8_lossy(&body))))
        } else {
            Err((status, serde_json::from_slice(&body).unwrap_or_else(|e| panic!("{} {status}: {e}", F::PATH))))
        }
    }

    /// [`Self::call`] that must succeed.
    pub async fn ok<F>(&self, client: &Client, args: F) -> F::Output
    where
        F: ServerFn + Serialize,
        F::Output: DeserializeOwned,
    {
        self.call(client, args).await.unwrap_or_else(|(status, e)| panic!("{}: {status} {e:?}", F::PATH))
    }

    /// `/api/{name}` called with a hand-made form, as a client that does not follow the page would: the status
    /// and the body.
    pub async fn call_form(&self, client: &Client, name: &str, form: &[(&str, &str)]) -> (StatusCode, String) {
        let r = self.call_server_fn_with(client, &format!("/api/{name}"), form).await;
        (r.status(), r.text().await.unwrap())
    }

    /// The page the session cookie opens: the e-mail of the signed-in user, if any.
    pub async fn signed_in_as(&self, client: &Client) -> Option<String> {
        let body = self.get_with(client, "/").await.text().await.unwrap();
        let marker = "You are signed in as <strong>";
        body.find(marker).map(|i| {
            let rest = &body[i + marker.len()..];
            rest[..rest.find('<').unwrap()].to_string()
        })
    }

    /// The flash a plain HTML form's answer left for the next page (`Null` when there is none): read from the
    /// visitor session whose cookie the answer sets, as the next page will.
    pub async fn flash(&self, r: &Response) -> serde_json::Value {
        let Some(line) = cookie_map(r).remove(&cookie("visit")) else { return serde_json::Value::Null };
        let id = line.split(';').next().unwrap().split_once('=').unwrap().1.to_string();
        if id.is_empty() {
            return serde_json::Value::Null;
        }
        let digest = backend::platform::crypto::token_digest(&id);
        let data: Option<(String,)> = sqlx::query_as("SELECT data FROM visitor_sessions WHERE id_digest = $1")
            .bind(&digest)
            .fetch_optional(&self.state().db.pool)
            .await
            .unwrap();
        data.map_or(serde_json::Value::Null, |(d,)| {
            serde_json::from_str::<serde_json::Value>(&d).unwrap()["portcullis.flash"].clone()
        })
    }

    pub fn mails_to(&self, email: &str) -> Vec<StoredMail> {
        self.state().mailer.stored().into_iter().filter(|m| m.to == email).collect()
    }

    /// Waits (briefly) for the newest mail to `email`.
    pub async fn last_mail_to(&self, email: &str) -> StoredMail {
        for _ in 0..100 {
            if let Some(m) = self.mails_to(email).pop() {
                return m;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no mail to {email}");
    }

    /// Waits (briefly) for a mail to `email` whose subject contains `subject`: the job may be run by the worker
    /// rather than inline, a moment after the response.
    pub async fn mail_with_subject(&self, email: &str, subject: &str) -> StoredMail {
        for _ in 0..100 {
            if let Some(m) = self.mails_to(email).into_iter().rev().find(|m| m.subject.contains(subject)) {
                return m;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no mail to {email} with {subject:?}");
    }

    /// Runs the jobs that are due, as the worker does. The worker beside the app may have taken one first (it sees
    /// the moved clock too), so this also waits until none is left running.
    pub async fn run_due_jobs(&self) {
        backend::platform::jobs::run_due(self.state()).await.unwrap();
        self.wait_for_i64("SELECT COUNT(*) FROM jobs WHERE state = 'running'", &[], 0).await;
    }

    /// Waits (briefly) until `sql` returns `expected`, for state a background worker writes.
    pub async fn wait_for_i64(&self, sql: &str, binds: &[&str], expected: i64) {
        let mut last = 0;
        for _ in 0..100 {
            last = self.i64(sql, binds).await;
            if last == expected {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{sql} {binds:?} returned {last}, not {expected}");
    }

    pub async fn scalar_i64(&self, sql: &str) -> i64 {
        self.i64(sql, &[]).await
    }

    /// The one value `sql` returns, with `binds` for `$1`, `$2`… (never spliced into the SQL).
    pub async fn scalar<T>(&self, sql: &str, binds: &[&str]) -> T
    where
        T: Send + Unpin + for<'r> sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
    {
        let mut query = sqlx::query_as::<_, (T,)>(sql);
        for b in binds {
            query = query.bind(*b);
        }
        query.fetch_one(&self.state().db.pool).await.unwrap_or_else(|e| panic!("{sql} {binds:?}: {e}")).0
    }

    pub async fn i64(&self, sql: &str, binds: &[&str]) -> i64 {
        self.scalar(sql, binds).await
    }

    pub async fn text(&self, sql: &str, binds: &[&str]) -> String {
        self.scalar(sql, binds).await
    }

    pub async fn opt_i64(&self, sql: &str, binds: &[&str]) -> Option<i64> {
        self.scalar(sql, binds).await
    }
}

/// The stored hash of [`PASSWORD`], made once per test run with the test configuration's parameters.
async fn password_hash(st: &AppState) -> String {
    static HASH: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    HASH.get_or_init(|| async { st.hasher.hash(PASSWORD).await.unwrap() }).await.clone()
}

/// Makes every insert of `action` into the audit log fail, the way a full disk or a broken constraint would.
pub async fn break_audit_for(app: &TestApp, action: &str) {
    let pool = &app.state().db.pool;
    if app.state().db.kind == backend::platform::db::DbKind::Sqlite {
        sqlx::query(&format!(
            "CREATE TRIGGER break_audit BEFORE INSERT ON audit_events WHEN NEW.action = '{action}' \
             BEGIN SELECT RAISE(ABORT, 'audit unavailable'); END"
        ))
        .execute(pool)
        .await
        .unwrap();
    } else {
        sqlx::query(&format!(
            "CREATE FUNCTION break_audit() RETURNS trigger AS $$ BEGIN \
             IF NEW.action = '{action}' THEN RAISE EXCEPTION 'audit unavailable'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
        ))
        .execute(pool)
        .await
        .unwrap();
        sqlx::query(
            "CREATE TRIGGER break_audit BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION break_audit()",
        )
        .execute(pool)
        .await
        .unwrap();
    }
}

/// The path of the first link in `text` that contains `marker`.
pub fn link_path(text: &str, marker: &str) -> String {
    let link = text.split_whitespace().find(|w| w.contains(marker)).unwrap_or_else(|| panic!("a {marker} link"));
    link["http://localhost:3000".len()..].to_string()
}

pub fn token_of(path: &str) -> String {
    path.rsplit('/').next().unwrap().to_string()
}

/// The token of the first link in `text` that contains `marker`.
pub fn token_in(text: &str, marker: &str) -> String {
    token_of(&link_path(text, marker))
}

pub fn new_client() -> Client {
    Client::builder().cookie_store(true).redirect(Policy::none()).build().unwrap()
}

/// A client that sends no cookies at all, for replaying one by hand.
pub fn bare_client() -> Client {
    Client::builder().redirect(Policy::none()).build().unwrap()
}

pub fn location(r: &Response) -> String {
    r.headers().get(header::LOCATION).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default()
}

pub fn set_cookies(r: &Response) -> Vec<String> {
    r.headers().get_all(header::SET_COOKIE).iter().map(|v| v.to_str().unwrap().to_string()).collect()
}

/// name → full Set-Cookie line.
/// The server's binary, named after the project (`.cargo/config.toml`).
pub const BIN: &str = env!(concat!("CARGO_BIN_EXE_", env!("LEPTOS_OUTPUT_NAME")));

/// A cookie's name on plain http (the tests' base URL): the project's name and the cookie's own, `portcullis_session`
/// in this project (`Config::*_cookie_name`).
pub fn cookie(which: &str) -> String {
    format!("{}_{which}", backend::PROJECT)
}

pub fn cookie_map(r: &Response) -> HashMap<String, String> {
    set_cookies(r).into_iter().map(|c| (c.split('=').next().unwrap().to_string(), c)).collect()
}

pub fn session_token(r: &Response) -> Option<String> {
    cookie_map(r)
        .get(&cookie("session"))
        .map(|c| c.split(';').next().unwrap().split_once('=').unwrap().1.to_string())
        .filter(|v| !v.is_empty())
}

pub fn link_in(text: &str) -> String {
    text.split_whitespace().find(|w| w.contains("/users/confirm/")).expect("a confirmation link").to_string()
}

pub fn code_in(text: &str) -> String {
    let i = text.find("code on the confirmation page: ").expect("a code") + "code on the confirmation page: ".len();
    text[i..i + 7].to_string()
}

/// The median of some timings (the timing tests compare medians of interleaved samples).
pub fn median(mut times: Vec<f64>) -> f64 {
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    times[times.len() / 2]
}

pub const PASSWORD: &str = "correct horse battery staple";

/// Everything the server logs in this test binary, from the first call on (tests share one process).
pub fn captured_logs() -> &'static std::sync::Mutex<Vec<u8>> {
    static LOGS: std::sync::OnceLock<&'static std::sync::Mutex<Vec<u8>>> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let logs: &'static std::sync::Mutex<Vec<u8>> = Box::leak(Box::new(std::sync::Mutex::new(Vec::new())));
        struct Sink(&'static std::sync::Mutex<Vec<u8>>);
        impl std::io::Write for Sink {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let _ = tracing_subscriber::fmt().with_ansi(false).with_writer(move || Sink(logs)).try_init();
        logs
    })
}
