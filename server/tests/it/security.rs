use reqwest::{header, StatusCode};

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s44_a_cross_site_form_post_is_refused() {
    let app = TestApp::spawn().await;
    for (name, value) in [("sec-fetch-site", "cross-site"), ("sec-fetch-site", "same-site")] {
        let r = app
            .client
            .post(app.url("/api/register"))
            .header(name, value)
            .form(&[("email", "x@example.com"), ("password", PASSWORD)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{name}: {value}");
    }
    for origin in ["https://evil.example", "null"] {
        let r = app.client.post(app.url("/api/log_out")).header(header::ORIGIN, origin).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "Origin {origin}");
    }
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM users").await, 0, "nothing was registered");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s44_same_origin_posts_pass() {
    let app = TestApp::spawn().await;
    let r = app
        .client
        .post(app.url("/api/register"))
        .header(header::ORIGIN, "http://localhost:3000")
        .header(header::ACCEPT, "text/html")
        .form(&[("email", "x@example.com"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FOUND);
    // Chromium sends `Origin: null` from a no-referrer page but marks it same-origin.
    let r = app
        .client
        .post(app.url("/api/register"))
        .header(header::ORIGIN, "null")
        .header("sec-fetch-site", "same-origin")
        .header(header::ACCEPT, "text/html")
        .form(&[("email", "y@example.com"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FOUND);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s45_pages_carry_the_security_headers_and_a_nonce_csp() {
    let app = TestApp::spawn().await;
    for path in ["/", "/users/register", "/users/log-in", "/users/confirm", "/users/confirm/abc"] {
        let r = app.get(path).await;
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        let h = r.headers().clone();
        let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap().to_string();
        for directive in ["object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "default-src 'self'"] {
            assert!(csp.contains(directive), "{path}: {directive} missing from {csp}");
        }
        assert!(!csp.contains("unsafe-inline"));
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(h[header::REFERRER_POLICY], "no-referrer");
        assert_eq!(h[header::X_FRAME_OPTIONS], "DENY");
        let nonce = csp.split("'nonce-").nth(1).unwrap().split('\'').next().unwrap().to_string();
        let html = r.text().await.unwrap();
        // Every inline script carries this response's nonce.
        let scripts = html.matches("<script").count();
        assert!(scripts > 0);
        assert_eq!(
            html.matches(&format!("nonce=\"{nonce}\"")).count() >= scripts,
            true,
            "{path}: a script without the nonce"
        );
    }
    let a = app.get("/").await.headers()[header::CONTENT_SECURITY_POLICY].clone();
    let b = app.get("/").await.headers()[header::CONTENT_SECURITY_POLICY].clone();
    assert_ne!(a, b, "a new nonce per response");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s45_https_deployments_send_hsts() {
    let app = TestApp::spawn_with(|c| c.base_url = "https://localhost:3000".into()).await;
    let r = app.get("/").await;
    let hsts = r.headers()[header::STRICT_TRANSPORT_SECURITY].to_str().unwrap();
    let max_age: u64 = hsts.split("max-age=").nth(1).unwrap().split(';').next().unwrap().parse().unwrap();
    assert!(max_age >= 31_536_000);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_posts_are_rate_limited_per_address_with_retry_after() {
    let app = TestApp::spawn_with(|c| c.rate_limit_anonymous_per_minute = 5).await;
    for _ in 0..5 {
        let r =
            app.call_server_fn("/api/log_in", &[("email", "a@example.com"), ("password", "wrong password here")]).await;
        assert_ne!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    }
    let r = app.call_server_fn("/api/log_in", &[("email", "a@example.com"), ("password", "wrong password here")]).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = r.headers()[header::RETRY_AFTER].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));
    assert!(r.text().await.unwrap().contains("RateLimited"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_request_bodies_are_refused() {
    let app = TestApp::spawn().await;
    let big = "a".repeat(70 * 1024);
    let r = app.call_server_fn("/api/log_in", &[("email", "a@example.com"), ("password", &big)]).await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_readiness_answer() {
    let app = TestApp::spawn().await;
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
    let r = app.get("/readyz").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.text().await.unwrap(), "ready");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_pages_are_404_and_the_test_mailbox_is_not_served() {
    let app = TestApp::spawn().await;
    assert_eq!(app.get("/no/such/page").await.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.get("/dev/mailbox").await.status(), StatusCode::NOT_FOUND, "only with MAIL_TRANSPORT=dev");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dev_mailbox_lists_mail_when_it_is_the_transport() {
    let app =
        TestApp::spawn_with(|c| c.mail_transport = backend::platform::config::MailTransportKind::DevMailbox).await;
    app.register("ann@example.com", PASSWORD).await;
    app.last_mail_to("ann@example.com").await;
    let list = app.get("/dev/mailbox").await.text().await.unwrap();
    assert!(list.contains("ann@example.com") && list.contains("Confirm your e-mail"));
    let one = app.get("/dev/mailbox/1").await.text().await.unwrap();
    assert!(one.contains("<a href=\"http://localhost:3000/users/confirm/"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s6_password_fields_welcome_managers_paste_and_a_show_toggle() {
    let app = TestApp::spawn().await;
    let log_in = app.get("/users/log-in").await.text().await.unwrap();
    assert!(log_in.contains(r#"autocomplete="username""#));
    assert!(log_in.contains(r#"autocomplete="current-password""#));
    let register = app.get("/users/register").await.text().await.unwrap();
    assert!(register.contains(r#"autocomplete="new-password""#));
    for page in [&log_in, &register] {
        assert!(page.contains(r#"type="password""#), "masked by default");
        assert!(page.contains("toggle-visibility") && page.contains(">Show<"), "with a show/hide toggle");
        assert!(!page.to_lowercase().contains("onpaste"), "paste is never blocked");
    }
    app.stop().await;
}

/// The page context travels to the browser as JSON in a `<script>` element of the page's head: a value a user
/// chose cannot end that element and run as a script (every `<` in it is escaped), and the browser reads it back
/// whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s45_a_display_name_cannot_end_the_page_context_script() {
    let app = TestApp::spawn().await;
    let ann = app.signed_in_user("ann@example.com").await;
    let name = "</script><script>alert(1)</script><!--";
    let r = app.post_form_with(&ann, "/api/update_profile", &[("display_name", name)]).await;
    assert_eq!(location(&r), "/users/settings");
    let html = app.get_with(&ann, "/").await.text().await.unwrap();
    assert!(!html.contains("<script>alert(1)"), "the name ended the script element: {html}");
    let json = html
        .split("<script type=\"application/json\" id=\"page-context\"")
        .nth(1)
        .and_then(|rest| rest.split_once('>'))
        .and_then(|(_, rest)| rest.split("</script>").next())
        .expect("the page context script");
    let context: serde_json::Value = serde_json::from_str(json).unwrap();
    assert_eq!(context["user"]["display_name"], name);
    app.stop().await;
}
