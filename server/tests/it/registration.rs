use reqwest::StatusCode;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_user_registers_confirms_by_link_logs_in_and_out() {
    let app = TestApp::spawn().await;
    let r = app.register("Ann@Example.com", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::FOUND);
    assert_eq!(location(&r), "/users/confirm");

    let mail = app.last_mail_to("ann@example.com").await;
    assert!(mail.subject.contains("Confirm your e-mail"));
    assert!(mail.html.contains("Confirm my e-mail"), "HTML part present");
    let link = link_in(&mail.text);
    assert!(link.starts_with("http://localhost:3000/users/confirm/"));
    let token = link.rsplit('/').next().unwrap();

    // The landing page shows a button that POSTs; it does not confirm by itself.
    let page = app.get(&format!("/users/confirm/{token}")).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("Confirm my e-mail"));
    assert!(html.contains(&format!("value=\"{token}\"")));

    let r = app.post_form("/api/confirm_with_link", &[("token", token)]).await;
    assert_eq!(location(&r), "/users/log-in");
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM users WHERE confirmed_at IS NOT NULL").await, 1);

    let r = app.log_in("ann@example.com", PASSWORD).await;
    assert_eq!(location(&r), "/");
    assert_eq!(app.signed_in_as(&app.client).await.as_deref(), Some("ann@example.com"));

    let r = app.log_out().await;
    assert_eq!(location(&r), "/");
    assert_eq!(app.signed_in_as(&app.client).await, None);
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM sessions").await, 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_code_from_the_mail_confirms_with_spaces_or_dashes() {
    let app = TestApp::spawn().await;
    app.register("bo@example.com", PASSWORD).await;
    let code = code_in(&app.last_mail_to("bo@example.com").await.text); // "123 456"
    let dashed = code.replace(' ', "-");
    let r = app.post_form("/api/confirm_with_code", &[("email", "bo@example.com"), ("code", &dashed)]).await;
    assert_eq!(location(&r), "/users/log-in");
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM users WHERE confirmed_at IS NOT NULL").await, 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s24_five_wrong_codes_kill_the_code() {
    let app = TestApp::spawn().await;
    app.register("cy@example.com", PASSWORD).await;
    let code = code_in(&app.last_mail_to("cy@example.com").await.text).replace(' ', "");
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        let r = app.call_server_fn("/api/confirm_with_code", &[("email", "cy@example.com"), ("code", wrong)]).await;
        assert!(r.text().await.unwrap().contains("InvalidToken"));
    }
    let r = app.call_server_fn("/api/confirm_with_code", &[("email", "cy@example.com"), ("code", &code)]).await;
    assert!(r.text().await.unwrap().contains("InvalidToken"), "the right code no longer works after 5 misses");
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM users WHERE confirmed_at IS NOT NULL").await, 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s13_registering_an_existing_email_looks_exactly_like_a_new_one() {
    let app = TestApp::spawn().await;
    app.confirmed_user("dee@example.com", PASSWORD).await;

    let fresh = app.register("new@example.com", "another long passphrase").await;
    let taken = app.register("dee@example.com", "another long passphrase").await;
    assert_eq!(fresh.status(), taken.status());
    assert_eq!(location(&fresh), location(&taken));
    // The same cookies are set (the flash carries the typed address to the confirm page).
    let names = |r: &reqwest::Response| {
        let mut n: Vec<String> = cookie_map(r).into_keys().collect();
        n.sort();
        n
    };
    assert_eq!(names(&fresh), names(&taken));
    // The bodies differ only by the address each one typed (echoed back to prefill the confirm page).
    let body_a = fresh.text().await.unwrap().replace("new@example.com", "TYPED");
    let body_b = taken.text().await.unwrap().replace("dee@example.com", "TYPED");
    assert!(body_a.contains("TYPED"), "{body_a}");
    assert_eq!(body_a, body_b);

    // The owner is told someone tried; no second account exists.
    let mail = app.mail_with_subject("dee@example.com", "Someone tried to register").await;
    assert!(mail.subject.contains("Someone tried to register"));
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM users WHERE email = 'dee@example.com'").await, 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_field_errors_and_keeps_the_email() {
    let app = TestApp::spawn().await;
    // The WASM client gets typed field errors.
    let r = app.call_server_fn("/api/register", &[("email", "not-an-email"), ("password", "short")]).await;
    assert!(!r.status().is_success());
    let err: serde_json::Value = r.json().await.unwrap();
    let fields = &err["Validation"]["fields"];
    assert!(fields["email"].as_str().unwrap().contains("e-mail address"));
    assert!(fields["password"].as_str().unwrap().contains("at least 12"));

    // A browser without JavaScript is sent back to the form, which shows the errors and the typed e-mail.
    let r = app.register("not-an-email", "short").await;
    assert_eq!(location(&r), "/users/register");
    let page = app.get("/users/register").await.text().await.unwrap();
    assert!(page.contains("Enter an e-mail address like name@example.com."));
    assert!(page.contains("value=\"not-an-email\""));
    assert!(!page.contains("short\""), "the password is never put back");
    // The flash is shown once.
    let again = app.get("/users/register").await.text().await.unwrap();
    assert!(!again.contains("value=\"not-an-email\""));
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM users").await, 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s17_confirmation_tokens_are_stored_as_digests_and_work_once() {
    let app = TestApp::spawn().await;
    app.register("eve@example.com", PASSWORD).await;
    let text = app.last_mail_to("eve@example.com").await.text;
    let link = link_in(&text);
    let token = link.rsplit('/').next().unwrap().to_string();
    let code = code_in(&text).replace(' ', "");

    let rows: Vec<(String, Option<String>)> = sqlx::query_as("SELECT token_digest, code_digest FROM user_tokens")
        .fetch_all(&app.state().db.pool)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let (t, c) = &rows[0];
    assert_ne!(t, &token);
    assert!(!t.contains(&token) && !c.as_ref().unwrap().contains(&code));
    assert_eq!(t.len(), 64, "a SHA-256 hex digest");

    let r = app.post_form("/api/confirm_with_link", &[("token", &token)]).await;
    assert_eq!(location(&r), "/users/log-in");
    let again = app.call_server_fn("/api/confirm_with_link", &[("token", &token)]).await;
    assert!(again.text().await.unwrap().contains("InvalidToken"), "a used token fails");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s17_confirmation_links_expire_after_48_hours() {
    let app = TestApp::spawn().await;
    app.register("fay@example.com", PASSWORD).await;
    let link = link_in(&app.last_mail_to("fay@example.com").await.text);
    let token = link.rsplit('/').next().unwrap().to_string();
    app.state().clock.advance(48 * 3600 + 1);
    let r = app.call_server_fn("/api/confirm_with_link", &[("token", &token)]).await;
    assert!(r.text().await.unwrap().contains("InvalidToken"));
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM users WHERE confirmed_at IS NOT NULL").await, 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s21_fetching_a_mailed_link_does_not_use_it() {
    let app = TestApp::spawn().await;
    app.register("gus@example.com", PASSWORD).await;
    let link = link_in(&app.last_mail_to("gus@example.com").await.text);
    let path = &link["http://localhost:3000".len()..];
    // What a mail scanner does: HEAD and GET, more than once.
    for _ in 0..2 {
        app.client.head(app.url(path)).send().await.unwrap();
        let r = app.get(path).await;
        assert_eq!(r.headers()["referrer-policy"], "no-referrer");
    }
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM users WHERE confirmed_at IS NOT NULL").await, 0);
    let token = path.rsplit('/').next().unwrap();
    let r = app.post_form("/api/confirm_with_link", &[("token", token)]).await;
    assert_eq!(location(&r), "/users/log-in");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s59_resending_confirmation_is_throttled_and_the_mail_count_stays_bounded() {
    let app = TestApp::spawn_with(|c| c.rate_limit_anonymous_per_minute = 1000).await;
    app.register("hal@example.com", PASSWORD).await;
    let mut limited = 0;
    for _ in 0..50 {
        let r = app.call_server_fn("/api/resend_confirmation", &[("email", "hal@example.com")]).await;
        if r.text().await.unwrap().contains("RateLimited") {
            limited += 1;
        }
    }
    assert!(limited >= 45, "only {limited} of 50 resends throttled");
    let sent = app.mails_to("hal@example.com").len();
    assert!(sent <= 5, "{sent} mails sent for one address within the hour");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_writes_its_audit_row_with_the_user() {
    let app = TestApp::spawn().await;
    app.register("ivy@example.com", PASSWORD).await;
    let n = app
        .scalar_i64(
            "SELECT COUNT(*) FROM audit_events a JOIN users u ON u.id = a.target_user_id \
             WHERE a.action = 'user.register' AND a.outcome = 'success' AND u.email = 'ivy@example.com'",
        )
        .await;
    assert_eq!(n, 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_audit_row_cannot_be_written_the_registration_is_rolled_back() {
    let app = TestApp::spawn().await;
    break_audit_for(&app, "user.register").await;
    let r = app.call_server_fn("/api/register", &[("email", "zed@example.com"), ("password", PASSWORD)]).await;
    assert_eq!(r.status(), reqwest::StatusCode::INTERNAL_SERVER_ERROR);
    assert!(r.text().await.unwrap().contains("Internal"), "the user sees a reference, not the database error");
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM users").await, 0, "no account without its audit row");
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM jobs").await, 0, "and no mail queued for it");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_audit_row_cannot_be_written_the_confirmation_is_rolled_back() {
    let app = TestApp::spawn().await;
    app.register("zoe@example.com", PASSWORD).await;
    let link = link_in(&app.last_mail_to("zoe@example.com").await.text);
    let token = link.rsplit('/').next().unwrap().to_string();
    break_audit_for(&app, "user.confirm").await;
    let r = app.call_server_fn("/api/confirm_with_link", &[("token", &token)]).await;
    assert_eq!(r.status(), reqwest::StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM users WHERE confirmed_at IS NOT NULL").await, 0);
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM user_tokens WHERE used_at IS NOT NULL").await,
        0,
        "the token is still unused"
    );
    app.stop().await;
}

/// The meter beside a new-password field is asked of the server as one types: the same verdict the form gets, on an
/// allowance of its own, so typing never uses up the address's sign-up and sign-in attempts (S10).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s10_the_password_meter_answers_with_the_policy_on_its_own_allowance() {
    let app = TestApp::spawn_with(|c| c.rate_limit_anonymous_per_minute = 2).await;
    let check = |password: &'static str| {
        let app = &app;
        async move {
            app.call_server_fn_with(
                &new_client(),
                "/api/check_new_password",
                &[("password", password), ("email", "lee.morgan@example.com")],
            )
            .await
        }
    };
    let weak: serde_json::Value = check("password123456").await.json().await.unwrap();
    assert!(weak["error"].as_str().unwrap().contains("Add another word"), "{weak}");
    assert!(weak["score"].as_u64().unwrap() <= 1);
    let own: serde_json::Value = check("lee.morgan rides again").await.json().await.unwrap();
    assert!(own["error"].as_str().unwrap().contains("e-mail address"), "{own}");
    let strong: serde_json::Value = check("purple elephants dance quietly").await.json().await.unwrap();
    assert!(strong["error"].is_null() && strong["score"].as_u64().unwrap() >= 3, "{strong}");
    // Well past the address's two anonymous POSTs a minute, and the sign-up still goes through.
    for _ in 0..20 {
        assert_eq!(check("purple elephants dance").await.status(), StatusCode::OK);
    }
    assert_eq!(app.register("lee.morgan@example.com", PASSWORD).await.status(), StatusCode::FOUND);
    // Its own allowance (120 a minute) ends too. Sent at once, so that the answer does not depend on how fast this
    // machine estimates passwords (the allowance refills two a second).
    let statuses: Vec<StatusCode> =
        futures::future::join_all((0..150).map(|_| async { check("purple elephants dance").await.status() })).await;
    let allowed = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let limited = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!(allowed + limited, 150, "{statuses:?}");
    assert!(limited > 0 && allowed <= 120, "{allowed} allowed, {limited} refused");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unexpected_failure_is_logged_once_under_the_reference_the_user_is_shown() {
    let logs = captured_logs();
    let app = TestApp::spawn().await;
    break_audit_for(&app, "user.register").await;
    let r = app.call_server_fn("/api/register", &[("email", "uma@example.com"), ("password", PASSWORD)]).await;
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let header_id = r.headers()["x-request-id"].to_str().unwrap().to_string();
    let body: serde_json::Value = r.json().await.unwrap();
    let shown = body["Internal"]["request_id"].as_str().expect("an Internal error with a reference");
    assert_eq!(shown, header_id, "the reference shown is the request's id");
    let logged = String::from_utf8_lossy(&logs.lock().unwrap()).to_string();
    let lines: Vec<&str> = logged.lines().filter(|l| l.contains(shown) && l.contains("unexpected error")).collect();
    assert_eq!(lines.len(), 1, "logged once under its reference: {lines:?}");
    assert!(lines[0].contains("audit unavailable"), "with the cause: {}", lines[0]);
    app.stop().await;
}
