use reqwest::StatusCode;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s13_unknown_email_and_wrong_password_get_the_same_answer() {
    let app = TestApp::spawn().await;
    app.confirmed_user("ann@example.com", PASSWORD).await;
    let wrong = app
        .call_server_fn("/api/log_in", &[("email", "ann@example.com"), ("password", "not the password at all")])
        .await;
    let unknown = app
        .call_server_fn("/api/log_in", &[("email", "nobody@example.com"), ("password", "not the password at all")])
        .await;
    assert_eq!(wrong.status(), unknown.status());
    let (a, b) = (wrong.text().await.unwrap(), unknown.text().await.unwrap());
    assert_eq!(a, b);
    assert!(a.contains("InvalidCredentials"));

    // Without JavaScript: same redirect, and the page says the one generic message.
    let r = app.log_in("nobody@example.com", "not the password at all").await;
    assert_eq!(location(&r), "/users/log-in");
    let page = app.get("/users/log-in").await.text().await.unwrap();
    assert!(page.contains("Invalid e-mail or password."));
    assert!(page.contains("value=\"nobody@example.com\""), "the typed e-mail is kept");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s57_failed_and_successful_sign_ins_are_audited() {
    let app = TestApp::spawn().await;
    app.confirmed_user("bo@example.com", PASSWORD).await;
    app.log_in("bo@example.com", "wrong wrong wrong wrong").await;
    app.log_in("bo@example.com", PASSWORD).await;
    let failures =
        app.scalar_i64("SELECT COUNT(*) FROM audit_events WHERE action = 'user.log_in' AND outcome = 'failure'").await;
    let successes =
        app.scalar_i64("SELECT COUNT(*) FROM audit_events WHERE action = 'user.log_in' AND outcome = 'success'").await;
    assert_eq!((failures, successes), (1, 1));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unconfirmed_users_may_log_in_and_see_a_banner_by_default() {
    let app = TestApp::spawn().await;
    app.register("cy@example.com", PASSWORD).await;
    let r = app.log_in("cy@example.com", PASSWORD).await;
    assert_eq!(location(&r), "/");
    let page = app.get("/").await.text().await.unwrap();
    assert!(page.contains("not confirmed yet"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unconfirmed_users_are_kept_out_when_confirmation_is_required() {
    let app = TestApp::spawn_with(|c| c.require_confirmed_email = true).await;
    app.register("dee@example.com", PASSWORD).await;
    let r = app.call_server_fn("/api/log_in", &[("email", "dee@example.com"), ("password", PASSWORD)]).await;
    assert!(r.text().await.unwrap().contains("Confirm your e-mail address first"));
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM sessions").await, 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s2_composed_and_decomposed_passwords_both_sign_in() {
    let app = TestApp::spawn().await;
    app.confirmed_user("eve@example.com", "caf\u{e9} au lait, s'il vous pla\u{ee}t").await;
    let r = app.log_in("eve@example.com", "cafe\u{301} au lait, s'il vous plai\u{302}t").await;
    assert_eq!(location(&r), "/");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s2_a_128_character_password_round_trips_and_every_character_counts() {
    let app = TestApp::spawn().await;
    let mut x: u32 = 2_463_534_242;
    let long: String = (0..128)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            char::from(b'a' + (x % 26) as u8)
        })
        .collect();
    app.confirmed_user("fay@example.com", &long).await;
    let mut changed = long.clone().into_bytes();
    changed[100] = if changed[100] == b'z' { b'y' } else { b'z' };
    let changed = String::from_utf8(changed).unwrap();
    let r = app.call_server_fn("/api/log_in", &[("email", "fay@example.com"), ("password", &changed)]).await;
    assert!(r.text().await.unwrap().contains("InvalidCredentials"));
    let r = app.log_in("fay@example.com", &long).await;
    assert_eq!(location(&r), "/");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s8_a_hash_with_old_parameters_is_upgraded_at_log_in() {
    let url = fresh_database_url().await;
    let old = TestApp::spawn_on(&url, |_| {}).await;
    old.confirmed_user("gus@example.com", PASSWORD).await;
    old.stop().await;
    let app = TestApp::spawn_on(&url, |c| c.argon2_m_kib = 9216).await;
    let before: (String,) =
        sqlx::query_as("SELECT password_hash FROM users").fetch_one(&app.state().db.pool).await.unwrap();
    assert!(before.0.contains("m=8192"));
    assert_eq!(location(&app.log_in("gus@example.com", PASSWORD).await), "/");
    let after: (String,) =
        sqlx::query_as("SELECT password_hash FROM users").fetch_one(&app.state().db.pool).await.unwrap();
    assert!(after.0.starts_with("$argon2id$") && after.0.contains("m=9216"), "{}", after.0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_in_page_helps_password_managers() {
    let app = TestApp::spawn().await;
    let page = app.get("/users/log-in").await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("autocomplete=\"username\""));
    assert!(html.contains("autocomplete=\"current-password\""));
    assert!(html.contains("type=\"password\""));
    assert!(!html.contains("onpaste"));
    let reg = app.get("/users/register").await.text().await.unwrap();
    assert!(reg.contains("autocomplete=\"new-password\""));
    app.stop().await;
}

/// Unknown e-mails are checked against a dummy hash, so they take as long as a wrong password for a real account.
/// The bound is loose on purpose (a shared CI machine is noisy); skipping the hash would be ten times faster.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s13_log_in_timing_does_not_reveal_whether_the_email_exists() {
    let app = TestApp::spawn_with(|c| {
        c.rate_limit_anonymous_per_minute = 1000;
        c.rate_limit_account_per_minute = 1000;
    })
    .await;
    app.confirmed_user("hal@example.com", PASSWORD).await;
    async fn time_ms(app: &TestApp, email: &str) -> f64 {
        let start = std::time::Instant::now();
        let r = app.call_server_fn("/api/log_in", &[("email", email), ("password", "definitely not it!")]).await;
        assert!(r.text().await.unwrap().contains("InvalidCredentials"));
        start.elapsed().as_secs_f64() * 1000.0
    }
    // Interleaved, so load from the tests running alongside falls on both alike.
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    for _ in 0..15 {
        known.push(time_ms(&app, "hal@example.com").await);
        unknown.push(time_ms(&app, "nobody@example.com").await);
    }
    let (known, unknown) = (median(known), median(unknown));
    let ratio = unknown / known;
    assert!((0.5..2.0).contains(&ratio), "unknown {unknown:.1} ms vs known {known:.1} ms");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s10_the_sixth_attempt_is_refused_even_with_the_right_password_and_the_owner_is_told() {
    let app = TestApp::spawn().await;
    app.confirmed_user("ivy@example.com", PASSWORD).await;
    for _ in 0..5 {
        let r = app
            .call_server_fn("/api/log_in", &[("email", "ivy@example.com"), ("password", "wrong guess number x")])
            .await;
        assert!(r.text().await.unwrap().contains("InvalidCredentials"));
    }
    // Locked: the right password is refused with the same generic answer, and no session is made.
    let r = app.call_server_fn("/api/log_in", &[("email", "ivy@example.com"), ("password", PASSWORD)]).await;
    assert!(r.text().await.unwrap().contains("InvalidCredentials"));
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM sessions").await, 0);
    let mail = app.mail_with_subject("ivy@example.com", "paused after failed attempts").await;
    assert!(mail.subject.contains("paused after failed attempts"), "{}", mail.subject);
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM audit_events WHERE action = 'user.locked'").await, 1);

    // After the lock the right password works, and the count starts again.
    app.state().clock.advance(15 * 60 + 1);
    assert_eq!(location(&app.log_in("ivy@example.com", PASSWORD).await), "/");
    assert_eq!(app.scalar_i64("SELECT failed_logins FROM users").await, 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s10_rotating_client_addresses_does_not_reset_the_account_count() {
    let app = TestApp::spawn_with(|c| c.trust_proxy = true).await;
    app.confirmed_user("jo@example.com", PASSWORD).await;
    for i in 0..5 {
        app.client
            .post(app.url("/api/log_in"))
            .header("x-forwarded-for", format!("198.51.100.{i}"))
            .header("accept", "application/json")
            .form(&[("email", "jo@example.com"), ("password", "wrong guess number x")])
            .send()
            .await
            .unwrap();
    }
    let r = app
        .client
        .post(app.url("/api/log_in"))
        .header("x-forwarded-for", "203.0.113.99")
        .header("accept", "application/json")
        .form(&[("email", "jo@example.com"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert!(r.text().await.unwrap().contains("InvalidCredentials"), "locked per account, not per address");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s10_a_success_resets_the_failure_count() {
    let app = TestApp::spawn().await;
    app.confirmed_user("kim@example.com", PASSWORD).await;
    for _ in 0..4 {
        app.call_server_fn("/api/log_in", &[("email", "kim@example.com"), ("password", "wrong guess number x")]).await;
    }
    assert_eq!(location(&app.log_in("kim@example.com", PASSWORD).await), "/");
    for _ in 0..4 {
        app.call_server_fn("/api/log_in", &[("email", "kim@example.com"), ("password", "wrong guess number x")]).await;
    }
    assert_eq!(
        location(&app.log_in("kim@example.com", PASSWORD).await),
        "/",
        "4 + 4 failures with a success between: not locked"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s4_a_common_password_and_the_email_local_part_are_refused_with_a_reason() {
    let app = TestApp::spawn().await;
    for (password, reason) in
        [("password123456", "Add another word"), ("lee.morgan is my password", "e-mail address or this site's name")]
    {
        let r =
            app.call_server_fn("/api/register", &[("email", "lee.morgan@example.com"), ("password", password)]).await;
        let err: serde_json::Value = r.json().await.unwrap();
        let msg = err["Validation"]["fields"]["password"].as_str().unwrap_or_default().to_string();
        assert!(msg.contains(reason), "{password}: {msg}");
    }
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM users").await, 0);
    app.stop().await;
}
