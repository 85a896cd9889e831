use reqwest::{header, StatusCode};

use crate::common::*;

async fn signed_in_app() -> TestApp {
    let app = TestApp::spawn().await;
    app.confirmed_user("ann@example.com", PASSWORD).await;
    app
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s34_a_session_cookie_replayed_after_log_out_is_not_logged_in() {
    let app = signed_in_app().await;
    let r = app.log_in("ann@example.com", PASSWORD).await;
    let token = session_token(&r).expect("a session cookie");
    let replay = bare_client();
    let cookie = format!("{}={token}", cookie("session"));
    let page = replay.get(app.url("/")).header(header::COOKIE, &cookie).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("You are signed in as"), "the cookie works before log out");

    app.log_out().await;
    let page = replay.get(app.url("/")).header(header::COOKIE, &cookie).send().await.unwrap().text().await.unwrap();
    assert!(!page.contains("You are signed in as"), "the replayed cookie is dead");
    app.stop().await;
}

/// `GET /` with `cookie` from a client of its own: the status, and whether the page shows Ann signed in.
async fn signed_in_with(app: &TestApp, cookie: &str) -> (u16, bool) {
    let r = bare_client().get(app.url("/")).header(header::COOKIE, cookie).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.text().await.unwrap().contains("You are signed in as <strong>ann@example.com</strong>"))
}

// The session lookup runs on a few connections kept outside the pool (`Db::quick`): many requests at once share
// them, a request abandoned half-way leaves none broken, and a log out is seen by the very next request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s34_many_requests_at_once_see_the_session_then_its_log_out_and_abandoned_ones_break_nothing() {
    let app = signed_in_app().await;
    let token = session_token(&app.log_in("ann@example.com", PASSWORD).await).expect("a session cookie");
    let cookie = format!("{}={token}", cookie("session"));
    let seen = futures::future::join_all((0..40).map(|_| signed_in_with(&app, &cookie))).await;
    assert!(seen.iter().all(|s| *s == (200, true)), "{seen:?}");

    // Requests the client gives up on while the server looks up their session.
    let abandoned: Vec<_> = (0..40)
        .map(|_| {
            let (url, cookie) = (app.url("/"), cookie.clone());
            tokio::spawn(async move { bare_client().get(url).header(header::COOKIE, cookie).send().await })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    abandoned.iter().for_each(|t| t.abort());
    let seen = futures::future::join_all((0..40).map(|_| signed_in_with(&app, &cookie))).await;
    assert!(seen.iter().all(|s| *s == (200, true)), "after abandoned requests: {seen:?}");

    let r = bare_client()
        .post(app.url("/api/log_out"))
        .header(header::ACCEPT, "text/html")
        .header(header::COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FOUND);
    let seen = futures::future::join_all((0..40).map(|_| signed_in_with(&app, &cookie))).await;
    assert!(seen.iter().all(|s| *s == (200, false)), "a request after the log out was still signed in: {seen:?}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s31_the_cookie_is_opaque_and_only_its_digest_is_stored() {
    let app = signed_in_app().await;
    let token = session_token(&app.log_in("ann@example.com", PASSWORD).await).unwrap();
    assert!(token.len() >= 43, "at least 256 bits, base64url");
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT token_digest FROM sessions").fetch_all(&app.state().db.pool).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert!(!rows[0].0.contains(&token));
    // A forged cookie is nobody.
    let forged = bare_client()
        .get(app.url("/"))
        .header(header::COOKIE, format!("{}={}", cookie("session"), "A".repeat(43)))
        .send()
        .await
        .unwrap();
    assert!(!forged.text().await.unwrap().contains("You are signed in as"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s32_log_in_issues_a_new_session_and_the_planted_one_dies() {
    let app = signed_in_app().await;
    // An attacker signs in and plants their session cookie in the victim's browser.
    let planted = session_token(&app.log_in("ann@example.com", PASSWORD).await).unwrap();
    let victim = bare_client();
    let r = victim
        .post(app.url("/api/log_in"))
        .header(header::ACCEPT, "text/html")
        .header(header::COOKIE, format!("{}={planted}", cookie("session")))
        .form(&[("email", "ann@example.com"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    let fresh = session_token(&r).unwrap();
    assert_ne!(fresh, planted);
    let old = bare_client()
        .get(app.url("/"))
        .header(header::COOKIE, format!("{}={planted}", cookie("session")))
        .send()
        .await
        .unwrap();
    assert!(!old.text().await.unwrap().contains("You are signed in as"), "the pre-login session is gone");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s43_the_session_cookie_is_httponly_samesite_and_host_only() {
    let app = signed_in_app().await;
    let r = app.log_in("ann@example.com", PASSWORD).await;
    let line = cookie_map(&r).remove(&cookie("session")).unwrap();
    assert!(line.contains("HttpOnly"));
    assert!(line.contains("SameSite=Lax"));
    assert!(line.contains("Path=/"));
    assert!(!line.contains("Domain="), "host-only");
    assert!(!line.contains("Max-Age"), "without remember me it ends with the browser session");
    assert!(line.len() < 4096);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s43_production_cookies_are_secure_and_host_prefixed() {
    let mut config = backend::platform::config::Config::for_tests("sqlite::memory:");
    config.base_url = "https://auth.example.com".into();
    let line = backend::signin::sessions::cookie(
        &config,
        Some(&backend::signin::sessions::NewSession { token: "t".into(), max_age_secs: None, job_ids: vec![] }),
    );
    assert!(line.starts_with(&format!("__Host-{}=t;", cookie("session"))));
    assert!(
        line.contains("; Secure")
            && line.contains("HttpOnly")
            && line.contains("SameSite=Lax")
            && line.contains("Path=/")
    );
    assert!(!line.contains("Domain="));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remember_me_keeps_the_cookie_for_30_days() {
    let app = signed_in_app().await;
    let r = app
        .post_form("/api/log_in", &[("email", "ann@example.com"), ("password", PASSWORD), ("remember_me", "on")])
        .await;
    let line = cookie_map(&r).remove(&cookie("session")).unwrap();
    assert!(line.contains("Max-Age=2592000"), "{line}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s33_an_idle_session_expires_after_an_hour() {
    let app = signed_in_app().await;
    app.log_in("ann@example.com", PASSWORD).await;
    app.state().clock.advance(59 * 60);
    assert!(
        app.signed_in_as(&app.client).await.is_some(),
        "59 idle minutes: still in, and activity moves the deadline"
    );
    app.state().clock.advance(59 * 60);
    assert!(app.signed_in_as(&app.client).await.is_some());
    app.state().clock.advance(61 * 60);
    assert!(app.signed_in_as(&app.client).await.is_none(), "61 idle minutes: out");
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM sessions").await, 0, "the expired row is deleted");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s33_an_active_session_still_ends_at_the_absolute_timeout() {
    let app = signed_in_app().await;
    app.log_in("ann@example.com", PASSWORD).await;
    // Active every 50 minutes, so the idle timeout never fires: in until 23 h 20, out at 24 h 10.
    for _ in 0..28 {
        app.state().clock.advance(50 * 60);
        assert!(app.signed_in_as(&app.client).await.is_some());
    }
    app.state().clock.advance(50 * 60);
    assert!(app.signed_in_as(&app.client).await.is_none());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s33_remember_me_sessions_last_through_idle_days() {
    let app = signed_in_app().await;
    app.post_form("/api/log_in", &[("email", "ann@example.com"), ("password", PASSWORD), ("remember_me", "on")]).await;
    app.state().clock.advance(6 * 24 * 3600);
    assert!(app.signed_in_as(&app.client).await.is_some(), "6 idle days: still in");
    app.state().clock.advance(7 * 24 * 3600 + 60);
    assert!(app.signed_in_as(&app.client).await.is_none(), "7 idle days: out");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_out_needs_a_post() {
    let app = signed_in_app().await;
    app.log_in("ann@example.com", PASSWORD).await;
    let r = app.get("/users/log-out").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(app.signed_in_as(&app.client).await.is_some());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn housekeeping_removes_expired_sessions_and_tokens_and_keeps_live_ones() {
    let app = signed_in_app().await;
    let live = app.another_browser("ann@example.com", PASSWORD).await;
    app.post_form_with(&new_client(), "/api/request_password_reset", &[("email", "ann@example.com")]).await;
    app.mail_with_subject("ann@example.com", "Reset your").await;
    let tokens_before = app.scalar_i64("SELECT COUNT(*) FROM user_tokens").await;
    assert_eq!(
        backend::platform::housekeeping::purge_expired(app.state()).await.unwrap(),
        0,
        "nothing has expired yet"
    );
    assert_eq!(app.signed_in_as(&live).await.as_deref(), Some("ann@example.com"));

    // Two days on: the 1-hour session is gone; the tokens stay until they are 30 days past expiry.
    app.state().clock.advance(2 * 24 * 3600);
    let removed = backend::platform::housekeeping::purge_expired(app.state()).await.unwrap();
    assert!(removed >= 1);
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM sessions").await, 0);
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM user_tokens").await, tokens_before);
    app.state().clock.advance(backend::platform::housekeeping::KEEP_SECS);
    backend::platform::housekeeping::purge_expired(app.state()).await.unwrap();
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM user_tokens").await, 0);
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM users").await, 1, "accounts are never housekeeping's business");
    app.stop().await;
}
