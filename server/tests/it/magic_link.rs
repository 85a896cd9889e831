use reqwest::StatusCode;

use crate::common::*;

fn magic_link(text: &str) -> String {
    text.split_whitespace().find(|w| w.contains("/users/log-in/")).expect("a sign-in link").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mailed_link_signs_in_once_and_opening_it_changes_nothing() {
    let app = TestApp::spawn().await;
    app.confirmed_user("ann@example.com", PASSWORD).await;
    let r = app.post_form("/api/request_magic_link", &[("email", "ann@example.com")]).await;
    assert_eq!(location(&r), "/users/log-in");
    let mail = app.mail_with_subject("ann@example.com", "sign-in link").await;
    assert!(mail.subject.contains("sign-in link"));
    let link = magic_link(&mail.text);
    let path = &link["http://localhost:3000".len()..];
    let token = path.rsplit('/').next().unwrap().to_string();

    // S21: a scanner's HEAD and GET leave it usable.
    app.client.head(app.url(path)).send().await.unwrap();
    let page = app.get(path).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("Sign in"));
    assert!(app.signed_in_as(&app.client).await.is_none());

    let r = app.post_form("/api/log_in_with_link", &[("token", &token)]).await;
    assert_eq!(location(&r), "/");
    assert_eq!(app.signed_in_as(&app.client).await.as_deref(), Some("ann@example.com"));
    let method: (String,) =
        sqlx::query_as("SELECT detail FROM audit_events WHERE action = 'user.log_in' ORDER BY at DESC LIMIT 1")
            .fetch_one(&app.state().db.pool)
            .await
            .unwrap();
    assert_eq!(method.0, "magic_link");

    let again = app.call_server_fn_with(&new_client(), "/api/log_in_with_link", &[("token", &token)]).await;
    assert!(again.text().await.unwrap().contains("InvalidToken"), "single use");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s17_sign_in_links_expire_after_ten_minutes() {
    let app = TestApp::spawn().await;
    app.confirmed_user("bo@example.com", PASSWORD).await;
    app.post_form("/api/request_magic_link", &[("email", "bo@example.com")]).await;
    let token = magic_link(&app.mail_with_subject("bo@example.com", "sign-in link").await.text)
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    app.state().clock.advance(10 * 60 + 1);
    let r = app.call_server_fn("/api/log_in_with_link", &[("token", &token)]).await;
    assert!(r.text().await.unwrap().contains("InvalidToken"));
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM sessions").await, 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s13_sign_in_link_requests_answer_the_same_for_unknown_addresses() {
    let app = TestApp::spawn().await;
    app.confirmed_user("cy@example.com", PASSWORD).await;
    let known = app.post_form("/api/request_magic_link", &[("email", "cy@example.com")]).await;
    let unknown = app.post_form("/api/request_magic_link", &[("email", "nobody@example.com")]).await;
    assert_eq!((known.status(), location(&known)), (unknown.status(), location(&unknown)));
    assert!(app.mails_to("nobody@example.com").is_empty());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s10_a_locked_owner_can_sign_in_by_link() {
    let app = TestApp::spawn().await;
    app.confirmed_user("dee@example.com", PASSWORD).await;
    for _ in 0..5 {
        app.call_server_fn("/api/log_in", &[("email", "dee@example.com"), ("password", "attacker guess here")]).await;
    }
    app.post_form("/api/request_magic_link", &[("email", "dee@example.com")]).await;
    let mail = app.mail_with_subject("dee@example.com", "sign-in link").await;
    let token = magic_link(&mail.text).rsplit('/').next().unwrap().to_string();
    let r = app.post_form("/api/log_in_with_link", &[("token", &token)]).await;
    assert_eq!(location(&r), "/");
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM users WHERE locked_until IS NULL").await, 1, "the lock is lifted");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_link_comes_back_to_the_page_that_sent_the_visitor_to_log_in() {
    let app = TestApp::spawn().await;
    app.confirmed_user("ann@example.com", PASSWORD).await;
    let form = [("email", "ann@example.com"), ("return_to", "/users/settings/security")];
    let r = app.post_form("/api/request_magic_link", &form).await;
    assert_eq!(location(&r), "/users/log-in?return_to=/users/settings/security");
    let mail = app.mail_with_subject("ann@example.com", "sign-in link").await;
    let link = magic_link(&mail.text);
    let path = &link["http://localhost:3000".len()..];
    let (token_path, carried) = path.split_once('?').expect("the link carries the page");
    assert_eq!(carried, "return_to=/users/settings/security");
    let page = app.get(path).await.text().await.unwrap();
    assert!(page.contains(r#"name="return_to" value="/users/settings/security""#), "the button posts it on");
    let token = token_path.rsplit('/').next().unwrap();
    let r =
        app.post_form("/api/log_in_with_link", &[("token", token), ("return_to", "/users/settings/security")]).await;
    assert_eq!(location(&r), "/users/settings/security");
    assert_eq!(app.signed_in_as(&app.client).await.as_deref(), Some("ann@example.com"));

    // A link asked for with an address off this site carries nothing.
    let r = app
        .post_form_with(
            &new_client(),
            "/api/request_magic_link",
            &[("email", "ann@example.com"), ("return_to", "//evil.example")],
        )
        .await;
    assert_eq!(location(&r), "/users/log-in");
    let links = || -> Vec<String> {
        let mails = app.mails_to("ann@example.com");
        mails.iter().filter(|m| m.subject.contains("sign-in link")).map(|m| magic_link(&m.text)).collect()
    };
    for _ in 0..100 {
        if links().len() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let second = links().pop().unwrap();
    assert!(!second.contains("return_to"), "{second}");
    app.stop().await;
}
