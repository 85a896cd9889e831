use reqwest::StatusCode;

use crate::common::*;

const NEW_PASSWORD: &str = "violet tractors hum at dawn";

fn reset_link(text: &str) -> String {
    text.split_whitespace().find(|w| w.contains("/users/reset-password/")).expect("a reset link").to_string()
}

async fn request_reset(app: &TestApp, email: &str) -> reqwest::Response {
    app.post_form("/api/request_password_reset", &[("email", email)]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s36_a_password_reset_signs_out_every_device_and_mails_the_owner() {
    let app = TestApp::spawn().await;
    app.confirmed_user("ann@example.com", PASSWORD).await;
    let a = app.another_browser("ann@example.com", PASSWORD).await;
    let r = app
        .post_form_with(
            &new_client(),
            "/api/log_in",
            &[("email", "ann@example.com"), ("password", PASSWORD), ("remember_me", "on")],
        )
        .await;
    assert_eq!(location(&r), "/");

    let r = request_reset(&app, "ann@example.com").await;
    assert_eq!(location(&r), "/users/reset-password");
    let link = reset_link(&app.mail_with_subject("ann@example.com", "Reset your").await.text);
    let token = link.rsplit('/').next().unwrap().to_string();

    // Opening the link changes nothing.
    let page = app.get(&format!("/users/reset-password/{token}")).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("Choose a new password"));

    let r = app.post_form("/api/reset_password", &[("token", &token), ("password", NEW_PASSWORD)]).await;
    assert_eq!(location(&r), "/users/log-in");
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM sessions").await, 0, "every session, remember-me included, ended");
    assert!(app.signed_in_as(&a).await.is_none());
    assert!(app
        .mail_with_subject("ann@example.com", "password was changed")
        .await
        .subject
        .contains("password was changed"));

    assert_eq!(location(&app.log_in("ann@example.com", NEW_PASSWORD).await), "/");
    let old = app.call_server_fn("/api/log_in", &[("email", "ann@example.com"), ("password", PASSWORD)]).await;
    assert_eq!(old.status(), StatusCode::UNAUTHORIZED);

    // Single use.
    let again = app
        .call_server_fn("/api/reset_password", &[("token", &token), ("password", "another fresh passphrase here")])
        .await;
    assert!(again.text().await.unwrap().contains("InvalidToken"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s13_reset_requests_answer_the_same_for_unknown_addresses() {
    let app = TestApp::spawn().await;
    app.confirmed_user("bo@example.com", PASSWORD).await;
    let known = request_reset(&app, "bo@example.com").await;
    let unknown = request_reset(&app, "nobody@example.com").await;
    assert_eq!(known.status(), unknown.status());
    assert_eq!(location(&known), location(&unknown));
    assert!(app.mails_to("nobody@example.com").is_empty());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s17_reset_links_expire_after_an_hour_and_are_stored_as_digests() {
    let app = TestApp::spawn().await;
    app.confirmed_user("cy@example.com", PASSWORD).await;
    request_reset(&app, "cy@example.com").await;
    let link = reset_link(&app.mail_with_subject("cy@example.com", "Reset your").await.text);
    let token = link.rsplit('/').next().unwrap().to_string();
    let stored = app.i64("SELECT COUNT(*) FROM user_tokens WHERE token_digest = $1", &[&token]).await;
    assert_eq!(stored, 0, "the clear token is not in the database");
    app.state().clock.advance(3601);
    let r = app.call_server_fn("/api/reset_password", &[("token", &token), ("password", NEW_PASSWORD)]).await;
    assert!(r.text().await.unwrap().contains("InvalidToken"));
    // A confirmation token cannot be used as a reset token (purpose-bound).
    app.register("dee@example.com", PASSWORD).await;
    let confirm = link_in(&app.last_mail_to("dee@example.com").await.text);
    let confirm_token = confirm.rsplit('/').next().unwrap();
    let r = app.call_server_fn("/api/reset_password", &[("token", confirm_token), ("password", NEW_PASSWORD)]).await;
    assert!(r.text().await.unwrap().contains("InvalidToken"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s10_a_locked_owner_can_always_get_back_in_by_reset() {
    let app = TestApp::spawn().await;
    app.confirmed_user("eve@example.com", PASSWORD).await;
    for _ in 0..5 {
        app.call_server_fn("/api/log_in", &[("email", "eve@example.com"), ("password", "attacker guess here")]).await;
    }
    request_reset(&app, "eve@example.com").await;
    let mail = app.mail_with_subject("eve@example.com", "Reset").await;
    let token = reset_link(&mail.text).rsplit('/').next().unwrap().to_string();
    app.post_form("/api/reset_password", &[("token", &token), ("password", NEW_PASSWORD)]).await;
    assert_eq!(location(&app.log_in("eve@example.com", NEW_PASSWORD).await), "/", "the reset lifted the lock");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_weak_new_password_is_refused_and_the_link_still_works() {
    let app = TestApp::spawn().await;
    app.confirmed_user("fay@example.com", PASSWORD).await;
    request_reset(&app, "fay@example.com").await;
    let token = reset_link(&app.mail_with_subject("fay@example.com", "Reset your").await.text)
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let r = app.call_server_fn("/api/reset_password", &[("token", &token), ("password", "password123456")]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = app.post_form("/api/reset_password", &[("token", &token), ("password", NEW_PASSWORD)]).await;
    assert_eq!(location(&r), "/users/log-in");
    app.stop().await;
}
