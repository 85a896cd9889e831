use reqwest::StatusCode;

use crate::common::*;

async fn sessions_of(app: &TestApp, client: &reqwest::Client) -> serde_json::Value {
    let r = app.call_server_fn_with(client, "/api/list_sessions", &[]).await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

/// The activity feed lists events of the same second in the order they happened, newest first: registering and
/// signing in, say, usually fall in one second, and their order used to be a matter of chance (the ids were random).
/// Here every event has the same timestamp, so only the ids can order them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_activity_feed_lists_events_of_the_same_second_newest_first() {
    use backend::platform::{audit, request::RequestContext};
    let app = TestApp::spawn().await;
    app.confirmed_user("ann@example.com", PASSWORD).await;
    let st = app.state();
    let ann = app.user_id("ann@example.com").await;
    let second = st.clock.now();
    let actions: Vec<String> = (0..12).map(|i| format!("user.step_{i:02}")).collect();
    for action in &actions {
        let mut tx = st.db.begin().await.unwrap();
        audit::record(&mut tx, &RequestContext::system(), second, audit::Event::on_user(action, &ann)).await.unwrap();
        tx.commit().await.unwrap();
    }
    let listed = audit::activity_for_user(&st.db.pool, &ann, 50).await.unwrap();
    let steps: Vec<&str> = listed.iter().map(|e| e.action.as_str()).filter(|a| a.starts_with("user.step_")).collect();
    let newest_first: Vec<&str> = actions.iter().rev().map(String::as_str).collect();
    assert_eq!(steps, newest_first);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s40_the_sessions_page_lists_every_device_and_revokes_one_by_id() {
    let app = TestApp::spawn().await;
    app.confirmed_user("ann@example.com", PASSWORD).await;
    let a = app.another_browser("ann@example.com", PASSWORD).await;
    let b = app.another_browser("ann@example.com", PASSWORD).await;

    let listed = sessions_of(&app, &a).await;
    let sessions = listed["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    let other = sessions.iter().find(|s| s["current"] == false).unwrap()["id"].as_str().unwrap().to_string();
    assert!(listed["activity"].as_array().unwrap().iter().any(|e| e["what"] == "Signed in"));

    // The page renders the rows server-side too.
    let page = app.get_with(&a, "/users/sessions").await.text().await.unwrap();
    assert!(page.contains("This device") && page.contains("Sign out every other device"));

    let r = app.post_form_with(&a, "/api/revoke_session", &[("id", &other)]).await;
    assert_eq!(location(&r), "/users/sessions");
    assert!(app.signed_in_as(&b).await.is_none(), "browser B is signed out at its next request");
    assert!(app.signed_in_as(&a).await.is_some(), "browser A stays in");
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM audit_events WHERE action = 'session.revoke'").await,
        1,
        "the revocation is audited"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s47_a_user_cannot_revoke_another_users_session() {
    let app = TestApp::spawn().await;
    app.confirmed_user("ann@example.com", PASSWORD).await;
    app.confirmed_user("bob@example.com", PASSWORD).await;
    let ann = app.another_browser("ann@example.com", PASSWORD).await;
    let bob = app.another_browser("bob@example.com", PASSWORD).await;
    let bobs = sessions_of(&app, &bob).await["sessions"][0]["id"].as_str().unwrap().to_string();

    let r = app.call_server_fn_with(&ann, "/api/revoke_session", &[("id", &bobs)]).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(app.signed_in_as(&bob).await.is_some(), "Bob's session is untouched");
    let r = app.call_server_fn_with(&ann, "/api/revoke_session", &[("id", "no-such-session")]).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "the same answer as for an unknown id");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s40_sign_out_every_other_device_keeps_only_this_one() {
    let app = TestApp::spawn().await;
    app.confirmed_user("ann@example.com", PASSWORD).await;
    let a = app.another_browser("ann@example.com", PASSWORD).await;
    let b = app.another_browser("ann@example.com", PASSWORD).await;
    let c = app.another_browser("ann@example.com", PASSWORD).await;
    let r = app.post_form_with(&a, "/api/revoke_other_sessions", &[]).await;
    assert_eq!(location(&r), "/users/sessions");
    assert!(app.signed_in_as(&a).await.is_some());
    assert!(app.signed_in_as(&b).await.is_none());
    assert!(app.signed_in_as(&c).await.is_none());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sessions_page_needs_a_session() {
    let app = TestApp::spawn().await;
    let r = app.call_server_fn("/api/list_sessions", &[]).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = app.get("/users/sessions").await;
    assert_eq!(r.status(), StatusCode::FOUND);
    assert_eq!(location(&r), "/users/log-in?return_to=/users/sessions");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s16_a_sign_in_from_a_new_browser_mails_the_owner() {
    let app = TestApp::spawn().await;
    app.confirmed_user("ann@example.com", PASSWORD).await;
    let firefox = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:130.0) Gecko/20100101 Firefox/130.0";
    let chrome =
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36";
    let log_in_as = |ua: &'static str| {
        let app = &app;
        async move {
            let client = reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .user_agent(ua)
                .build()
                .unwrap();
            let r = app
                .post_form_with(&client, "/api/log_in", &[("email", "ann@example.com"), ("password", PASSWORD)])
                .await;
            assert_eq!(location(&r), "/");
        }
    };
    let new_device_mails =
        || app.mails_to("ann@example.com").into_iter().filter(|m| m.subject.contains("New sign-in")).count();

    log_in_as(firefox).await;
    assert_eq!(new_device_mails(), 0, "the first sign-in of an account is not news");
    log_in_as(firefox).await;
    assert_eq!(new_device_mails(), 0, "the same browser again is not news");
    log_in_as(chrome).await;
    let mail = app.mail_with_subject("ann@example.com", "New sign-in").await;
    assert!(mail.text.contains("Chrome on Linux") && mail.text.contains("127.0.0.1"));
    assert!(!mail.text.contains(PASSWORD));
    assert_eq!(new_device_mails(), 1);
    app.stop().await;
}
