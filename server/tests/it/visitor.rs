//! The visitor session (tower-sessions on the app's database): the flash rides in it; its id is stored only as a
//! digest; it lasts only while it holds something; it gets a new id at every sign-in and is emptied at log out;
//! housekeeping removes expired ones.
use reqwest::{Client, Response, StatusCode};

use crate::common::*;

const ANN: &str = "ann@example.com";

/// The visitor session id a response sets (`None` when it sets none, `Some("")` when it removes it).
fn visit_cookie(r: &Response) -> Option<String> {
    cookie_map(r).get(&cookie("visit")).map(|line| line.split(';').next().unwrap().split_once('=').unwrap().1.into())
}

async fn rows(app: &TestApp) -> i64 {
    app.scalar_i64("SELECT COUNT(*) FROM visitor_sessions").await
}

async fn has_row(app: &TestApp, id: &str) -> bool {
    let digest = backend::platform::crypto::token_digest(id);
    app.i64("SELECT COUNT(*) FROM visitor_sessions WHERE id_digest = $1", &[&digest]).await == 1
}

/// A wrong password by a plain form: the error goes to the next page in a new visitor session.
async fn failed_log_in(app: &TestApp, browser: &Client) -> String {
    let r = app.post_form_with(browser, "/api/log_in", &[("email", ANN), ("password", "not the password!")]).await;
    assert_eq!(location(&r), "/users/log-in");
    assert_eq!(app.flash(&r).await["error"], "InvalidCredentials");
    visit_cookie(&r).expect("a visitor session for the flash")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_session_is_kept_as_a_digest_lives_while_it_holds_something_and_shows_its_flash_once() {
    let app = TestApp::spawn().await;
    app.confirmed_user(ANN, PASSWORD).await;
    let browser = new_client();
    // Pages that set nothing make no visitor session. (The helper's own browser left one: its flash from the
    // confirmation, not yet shown.)
    let before = rows(&app).await;
    let r = app.get_with(&browser, "/users/log-in").await;
    assert_eq!(visit_cookie(&r), None);
    assert_eq!(rows(&app).await, before);

    let id = failed_log_in(&app, &browser).await;
    assert_eq!(rows(&app).await, before + 1);
    assert!(has_row(&app, &id).await, "stored under the digest of the id");
    let raw = app
        .i64("SELECT COUNT(*) FROM visitor_sessions WHERE id_digest = $1 OR data LIKE $2", &[&id, &format!("%{id}%")])
        .await;
    assert_eq!(raw, 0, "the id itself is nowhere in the table");

    // The next page shows the flash, once; the session is then empty, so its row goes, and the cookie that finds
    // nothing is removed at the next request.
    let r = app.get_with(&browser, "/users/log-in").await;
    assert!(r.text().await.unwrap().contains("Invalid e-mail or password"));
    assert!(!has_row(&app, &id).await, "an empty session is deleted");
    assert_eq!(rows(&app).await, before);
    let again = app.get_with(&browser, "/users/log-in").await;
    assert_eq!(visit_cookie(&again).as_deref(), Some(""), "the cookie is removed");
    assert!(!again.text().await.unwrap().contains("Invalid e-mail or password"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_session_gets_a_new_id_at_sign_in_and_is_emptied_at_log_out() {
    let app = TestApp::spawn().await;
    app.confirmed_user(ANN, PASSWORD).await;
    let browser = new_client();
    let before = failed_log_in(&app, &browser).await;
    // The forker's own data, kept for this visitor.
    let digest = backend::platform::crypto::token_digest(&before);
    sqlx::query("UPDATE visitor_sessions SET data = $1 WHERE id_digest = $2")
        .bind(r#"{"cart":["tea"],"portcullis.flash":{"notice":null,"error":"InvalidCredentials","values":{}}}"#)
        .bind(&digest)
        .execute(&app.state().db.pool)
        .await
        .unwrap();

    let r = app.post_form_with(&browser, "/api/log_in", &[("email", ANN), ("password", PASSWORD)]).await;
    assert_eq!(location(&r), "/");
    let after = visit_cookie(&r).expect("the visitor session is sent again");
    assert_ne!(after, before, "a new id at sign-in: one planted before it is worthless");
    assert!(!has_row(&app, &before).await, "the old id is gone");
    let data = app
        .text(
            "SELECT data FROM visitor_sessions WHERE id_digest = $1",
            &[&backend::platform::crypto::token_digest(&after)],
        )
        .await;
    assert!(data.contains(r#""cart":["tea"]"#) && data.contains("LoggedIn"), "data kept, the new flash in: {data}");

    let r = app.post_form_with(&browser, "/api/log_out", &[]).await;
    assert_eq!(location(&r), "/");
    assert!(!has_row(&app, &after).await, "emptied at log out");
    let fresh = visit_cookie(&r).expect("a new visitor session for the log-out notice");
    let data = app
        .text(
            "SELECT data FROM visitor_sessions WHERE id_digest = $1",
            &[&backend::platform::crypto::token_digest(&fresh)],
        )
        .await;
    assert!(!data.contains("cart") && data.contains("LoggedOut"), "{data}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn housekeeping_removes_expired_visitor_sessions_and_an_expired_one_is_not_read() {
    let app = TestApp::spawn().await;
    app.confirmed_user(ANN, PASSWORD).await;
    let browser = new_client();
    let id = failed_log_in(&app, &browser).await;
    let digest = backend::platform::crypto::token_digest(&id);
    sqlx::query("UPDATE visitor_sessions SET expires_at = 1000 WHERE id_digest = $1")
        .bind(&digest)
        .execute(&app.state().db.pool)
        .await
        .unwrap();
    let page = app.get_with(&browser, "/users/log-in").await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(!page.text().await.unwrap().contains("Invalid e-mail or password"), "expired: not read");
    assert!(has_row(&app, &id).await);
    backend::platform::housekeeping::purge_expired(app.state()).await.unwrap();
    assert!(!has_row(&app, &id).await, "housekeeping removed it");
    app.stop().await;
}
