//! Settings: sudo, password change, e-mail change, profile.
use reqwest::{Client, StatusCode};

use crate::common::*;

const ANN: &str = "ann@example.com";
const NEW_PASSWORD: &str = "purple elephants juggle quietly";

/// Ann, confirmed and signed in on the app's own client (a password log in: the sudo window is open).
async fn ann_signed_in() -> TestApp {
    let app = TestApp::spawn().await;
    app.confirmed_user(ANN, PASSWORD).await;
    assert_eq!(location(&app.log_in(ANN, PASSWORD).await), "/");
    app
}

async fn change_password(app: &TestApp, client: &Client, current: &str, new: &str) -> reqwest::Response {
    app.call_server_fn_with(client, "/api/change_password", &[("current_password", current), ("password", new)]).await
}

async fn password_hash(app: &TestApp) -> String {
    let (h,): (String,) =
        sqlx::query_as("SELECT password_hash FROM users").fetch_one(&app.state().db.pool).await.unwrap();
    h
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s39_sudo_is_demanded_after_the_window_lapses() {
    let app = ann_signed_in().await;
    let data: serde_json::Value = app.call_server_fn("/api/settings_data", &[]).await.json().await.unwrap();
    assert!(data["sudo_until"].is_string(), "a password log in opens the window: {data}");

    app.state().clock.advance(10 * 60 + 1);
    let r = change_password(&app, &app.client, PASSWORD, NEW_PASSWORD).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("ReauthenticationRequired"));
    let r = app.call_server_fn("/api/request_email_change", &[("email", "new@example.com")]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let page = app.get("/users/settings").await.text().await.unwrap();
    assert!(page.contains("href=\"/users/sudo?return_to=/users/settings\""), "the page offers sudo");
    assert!(!page.contains("name=\"current_password\""), "and hides the password form");

    let r = app.post_form("/api/sudo", &[("password", PASSWORD), ("return_to", "/users/settings")]).await;
    assert_eq!(location(&r), "/users/settings");
    let r = change_password(&app, &app.client, PASSWORD, NEW_PASSWORD).await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let sudo_rows = app.scalar_i64("SELECT COUNT(*) FROM audit_events WHERE action = 'user.sudo'").await;
    assert_eq!(sudo_rows, 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s32_passing_sudo_gives_the_session_a_new_token() {
    let app = TestApp::spawn().await;
    app.confirmed_user(ANN, PASSWORD).await;
    let old = session_token(&app.log_in(ANN, PASSWORD).await).unwrap();
    let r = app.post_form("/api/sudo", &[("password", PASSWORD), ("return_to", "/users/settings")]).await;
    let new = session_token(&r).expect("sudo sets a new cookie");
    assert_ne!(old, new);
    let replay = bare_client()
        .get(app.url("/"))
        .header(reqwest::header::COOKIE, format!("portcullis_session={old}"))
        .send()
        .await
        .unwrap();
    assert!(!replay.text().await.unwrap().contains("You are signed in as"), "the old token is dead");
    assert_eq!(app.signed_in_as(&app.client).await.as_deref(), Some(ANN), "the new one works");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sudo_returns_only_to_local_paths() {
    let app = ann_signed_in().await;
    for evil in ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"] {
        let r = app.post_form("/api/sudo", &[("password", PASSWORD), ("return_to", evil)]).await;
        assert_eq!(location(&r), "/users/settings", "{evil}");
    }
    let r = app.post_form("/api/sudo", &[("password", PASSWORD), ("return_to", "/users/sessions")]).await;
    assert_eq!(location(&r), "/users/sessions");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s39_a_sign_in_link_does_not_open_the_sudo_window() {
    let app = TestApp::spawn().await;
    app.confirmed_user(ANN, PASSWORD).await;
    app.post_form("/api/request_magic_link", &[("email", ANN)]).await;
    let mail = app.mail_with_subject(ANN, "sign-in link").await;
    let token = token_of(&link_path(&mail.text, "/users/log-in/"));
    assert_eq!(location(&app.post_form("/api/log_in_with_link", &[("token", &token)]).await), "/");
    let r = change_password(&app, &app.client, PASSWORD, NEW_PASSWORD).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "the mailbox alone does not pass sudo");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s10_wrong_sudo_passwords_count_toward_the_lockout() {
    let app = ann_signed_in().await;
    for _ in 0..5 {
        let r = app.call_server_fn("/api/sudo", &[("password", "not my password at all"), ("return_to", "/")]).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    // Locked now: the right password fails for sudo and for log in, and the owner was told.
    let r = app.call_server_fn("/api/sudo", &[("password", PASSWORD), ("return_to", "/")]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = app.post_form_with(&new_client(), "/api/log_in", &[("email", ANN), ("password", PASSWORD)]).await;
    assert_ne!(location(&r), "/");
    app.mail_with_subject(ANN, "paused").await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s7_changing_the_password_needs_the_current_one() {
    let app = ann_signed_in().await;
    let before = password_hash(&app).await;
    let missing = app.call_server_fn("/api/change_password", &[("password", NEW_PASSWORD)]).await;
    assert_eq!(missing.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(missing.text().await.unwrap().contains("current_password"));
    let wrong = change_password(&app, &app.client, "a guess that is wrong", NEW_PASSWORD).await;
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(wrong.text().await.unwrap().contains("not your current password"));
    assert_eq!(password_hash(&app).await, before, "nothing changed");
    let failures = app.scalar_i64("SELECT failed_logins FROM users").await;
    assert_eq!(failures, 1, "a wrong current password counts toward the lockout");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s4_a_new_password_follows_the_policy() {
    let app = ann_signed_in().await;
    for (bad, reason) in
        [("password123456", "Add another word"), ("ann@example.com!!", "e-mail address"), (PASSWORD, "different")]
    {
        let r = change_password(&app, &app.client, PASSWORD, bad).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        let body = r.text().await.unwrap();
        assert!(body.contains(reason), "{bad}: {body}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s36_changing_the_password_signs_out_every_other_browser_and_mails_the_owner() {
    let app = ann_signed_in().await;
    let other = app.another_browser(ANN, PASSWORD).await;
    assert_eq!(app.signed_in_as(&other).await.as_deref(), Some(ANN));

    let r = change_password(&app, &app.client, PASSWORD, NEW_PASSWORD).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(session_token(&r).is_some(), "this browser gets a new session token");
    assert_eq!(app.signed_in_as(&other).await, None, "browser B is signed out at its next request");
    assert_eq!(app.signed_in_as(&app.client).await.as_deref(), Some(ANN), "browser A stays in");
    app.mail_with_subject(ANN, "password was changed").await;

    let fresh = new_client();
    let r = app.post_form_with(&fresh, "/api/log_in", &[("email", ANN), ("password", PASSWORD)]).await;
    assert_ne!(location(&r), "/", "the old password is gone");
    let r = app.post_form_with(&fresh, "/api/log_in", &[("email", ANN), ("password", NEW_PASSWORD)]).await;
    assert_eq!(location(&r), "/");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_audit_row_cannot_be_written_the_password_change_is_rolled_back() {
    let app = ann_signed_in().await;
    let other = app.another_browser(ANN, PASSWORD).await;
    let before = password_hash(&app).await;
    break_audit_for(&app, "user.password_change").await;
    let r = change_password(&app, &app.client, PASSWORD, NEW_PASSWORD).await;
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(password_hash(&app).await, before);
    assert_eq!(app.signed_in_as(&other).await.as_deref(), Some(ANN), "no session ended");
    assert_eq!(app.signed_in_as(&app.client).await.as_deref(), Some(ANN), "the old token still works");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s36_an_email_change_needs_the_link_from_the_new_address_and_then_signs_out_everywhere() {
    let app = ann_signed_in().await;
    let other = app.another_browser(ANN, PASSWORD).await;
    let r = app.post_form("/api/request_email_change", &[("email", "ann.new@example.com")]).await;
    assert_eq!(location(&r), "/users/settings");

    // The old address is told, with a cancel link; the new one gets the link. Nothing has changed yet.
    let notice = app.mail_with_subject(ANN, "about to change").await;
    assert!(notice.text.contains("ann.new@example.com"));
    assert!(notice.text.contains("/users/settings/email/cancel/"));
    let mail = app.mail_with_subject("ann.new@example.com", "Confirm your new e-mail").await;
    let path = link_path(&mail.text, "/users/settings/email/");
    assert_eq!(app.signed_in_as(&other).await.as_deref(), Some(ANN));
    let page = app.get("/users/settings").await.text().await.unwrap();
    assert!(page.contains("Waiting for you to confirm"), "the settings page shows the pending address");

    // S21: a scanner's HEAD and GET do not use the link.
    app.client.head(app.url(&path)).send().await.unwrap();
    assert_eq!(app.get(&path).await.status(), StatusCode::OK);
    let signed_in = app.scalar_i64("SELECT COUNT(*) FROM users WHERE email = 'ann@example.com'").await;
    assert_eq!(signed_in, 1);

    let token = token_of(&path);
    let r = app.post_form_with(&new_client(), "/api/confirm_email_change", &[("token", &token)]).await;
    assert_eq!(location(&r), "/users/log-in");
    assert_eq!(app.signed_in_as(&app.client).await, None, "every session ended, this one too");
    assert_eq!(app.signed_in_as(&other).await, None);
    app.mail_with_subject(ANN, "e-mail was changed").await;

    let fresh = new_client();
    let r = app.post_form_with(&fresh, "/api/log_in", &[("email", ANN), ("password", PASSWORD)]).await;
    assert_ne!(location(&r), "/", "the old address no longer signs in");
    let r =
        app.post_form_with(&fresh, "/api/log_in", &[("email", "ann.new@example.com"), ("password", PASSWORD)]).await;
    assert_eq!(location(&r), "/");
    let again = app.call_server_fn_with(&new_client(), "/api/confirm_email_change", &[("token", &token)]).await;
    assert!(again.text().await.unwrap().contains("InvalidToken"), "single use");
    let changed = app.scalar_i64("SELECT COUNT(*) FROM audit_events WHERE action = 'user.email_change'").await;
    assert_eq!(changed, 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_old_address_can_cancel_an_email_change() {
    let app = ann_signed_in().await;
    app.post_form("/api/request_email_change", &[("email", "thief@example.com")]).await;
    let notice = app.mail_with_subject(ANN, "about to change").await;
    let cancel = token_of(&link_path(&notice.text, "/users/settings/email/cancel/"));
    let mail = app.mail_with_subject("thief@example.com", "Confirm your new e-mail").await;
    let change = token_of(&link_path(&mail.text, "/users/settings/email/"));

    let r = app.post_form_with(&new_client(), "/api/cancel_email_change_by_link", &[("token", &cancel)]).await;
    assert_eq!(location(&r), "/");
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM users WHERE pending_email IS NOT NULL").await, 0);
    let r = app.call_server_fn_with(&new_client(), "/api/confirm_email_change", &[("token", &change)]).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("InvalidToken"), "the new address's link died with the cancel");
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM users WHERE email = 'ann@example.com'").await, 1);
    assert_eq!(app.signed_in_as(&app.client).await.as_deref(), Some(ANN));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s13_an_email_change_to_a_registered_address_looks_the_same_and_sends_it_no_link() {
    let app = ann_signed_in().await;
    app.confirmed_user("bo@example.com", PASSWORD).await;
    let taken = app.post_form("/api/request_email_change", &[("email", "bo@example.com")]).await;
    let taken_page = app.call_server_fn("/api/settings_data", &[]).await.text().await.unwrap();
    let free = app.post_form("/api/request_email_change", &[("email", "free@example.com")]).await;
    let free_page = app.call_server_fn("/api/settings_data", &[]).await.text().await.unwrap();
    assert_eq!(location(&taken), location(&free));
    assert_eq!(cookie_map(&taken).keys().collect::<Vec<_>>(), cookie_map(&free).keys().collect::<Vec<_>>());
    // The page then shows the same thing for both: the address waiting for its link (L3).
    assert_eq!(taken_page.replace("bo@example.com", "X"), free_page.replace("free@example.com", "X"));
    app.mail_with_subject("free@example.com", "Confirm your new e-mail").await;
    // Bo's address gets no link, only word that someone tried.
    let mail = app.mail_with_subject("bo@example.com", "Someone tried to move").await;
    assert!(!mail.text.contains("/users/settings/email/"), "{}", mail.text);
    assert_eq!(
        app.scalar_i64(
            "SELECT COUNT(*) FROM user_tokens WHERE purpose = 'change_email' AND sent_to = 'bo@example.com'"
        )
        .await,
        0
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s13_an_email_change_replaced_before_its_mail_went_out_sends_its_address_no_link() {
    let app = ann_signed_in().await;
    // Two requests before the worker runs: the mail jobs carry their own addresses.
    app.post_form("/api/request_email_change", &[("email", "first@example.com")]).await;
    app.post_form("/api/request_email_change", &[("email", "second@example.com")]).await;
    app.run_due_jobs().await;
    app.mail_with_subject("second@example.com", "Confirm your new e-mail").await;
    // The worker may have mailed the first address before the second request; either way no working link reached it.
    for mail in app.mails_to("first@example.com") {
        let token = token_of(&link_path(&mail.text, "/users/settings/email/"));
        let r = app.call_server_fn("/api/confirm_email_change", &[("token", &token)]).await;
        assert!(r.text().await.unwrap().contains("InvalidToken"), "the replaced address's link works");
    }
    assert_eq!(
        app.scalar_i64(
            "SELECT COUNT(*) FROM user_tokens WHERE purpose = 'change_email' AND sent_to = 'first@example.com' \
             AND used_at IS NULL"
        )
        .await,
        0
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s17_an_email_change_link_works_for_24_hours_and_for_nothing_else() {
    let app = ann_signed_in().await;
    app.post_form("/api/request_email_change", &[("email", "ann.new@example.com")]).await;
    let mail = app.mail_with_subject("ann.new@example.com", "Confirm your new e-mail").await;
    let token = token_of(&link_path(&mail.text, "/users/settings/email/"));
    let stored = app.i64("SELECT COUNT(*) FROM user_tokens WHERE token_digest LIKE '%' || $1 || '%'", &[&token]).await;
    assert_eq!(stored, 0, "only a digest is stored");
    for other_use in ["/api/confirm_with_link", "/api/log_in_with_link"] {
        let r = app.call_server_fn_with(&new_client(), other_use, &[("token", &token)]).await;
        assert!(r.text().await.unwrap().contains("InvalidToken"), "{other_use}");
    }
    app.state().clock.advance(24 * 3600 + 1);
    let r = app.call_server_fn_with(&new_client(), "/api/confirm_email_change", &[("token", &token)]).await;
    assert!(r.text().await.unwrap().contains("InvalidToken"), "expired");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_profile_name_is_saved_and_bounded() {
    let app = ann_signed_in().await;
    let r = app.post_form("/api/update_profile", &[("display_name", "  Ann Example ")]).await;
    assert_eq!(location(&r), "/users/settings");
    let data: serde_json::Value = app.call_server_fn("/api/settings_data", &[]).await.json().await.unwrap();
    assert_eq!(data["display_name"], "Ann Example");
    assert!(app.get("/").await.text().await.unwrap().contains("Hello, Ann Example!"), "the dashboard greets by name");
    let r = app.call_server_fn("/api/update_profile", &[("display_name", &"x".repeat(81))]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("80 characters"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notice_the_page_shows_itself_is_not_left_for_the_next_page() {
    let app = ann_signed_in().await;
    // The page's script stays on the settings page and shows "saved" from the answer: no flash for later.
    let r = app.call_server_fn("/api/update_profile", &[("display_name", "Ann")]).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(!cookie_map(&r).contains_key("portcullis_visit"), "no flash for the script");
    let next = app.get("/users/sessions").await.text().await.unwrap();
    assert!(!next.contains("Your profile is saved"), "the next page shows no stale notice");
    // A plain form (no JavaScript) is redirected and the page it lands on shows the notice once.
    let r = app.post_form("/api/update_profile", &[("display_name", "Ann")]).await;
    assert_eq!(location(&r), "/users/settings");
    assert_eq!(app.flash(&r).await["notice"], "ProfileSaved");
    let page = app.get("/users/settings").await.text().await.unwrap();
    assert!(page.contains("Your profile is saved"), "shown on the page it lands on");
    let again = app.get("/users/settings").await.text().await.unwrap();
    assert!(!again.contains("Your profile is saved"), "once");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_need_a_session() {
    let app = TestApp::spawn().await;
    for path in ["/api/settings_data", "/api/change_password", "/api/request_email_change", "/api/sudo"] {
        let r = app.call_server_fn(path, &[("password", PASSWORD)]).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
    let r = app.get("/users/settings").await;
    assert_eq!(r.status(), StatusCode::FOUND);
    assert_eq!(location(&r), "/users/log-in?return_to=/users/settings");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s35_deleting_the_account_ends_every_session_at_once_and_the_owner_can_keep_it() {
    let app = ann_signed_in().await;
    let other = app.another_browser(ANN, PASSWORD).await;
    let wrong = app.call_server_fn("/api/delete_account", &[("confirm_email", "someone@example.com")]).await;
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY, "the typed address must match");
    assert_eq!(app.signed_in_as(&other).await.as_deref(), Some(ANN));

    let r = app.post_form("/api/delete_account", &[("confirm_email", ANN)]).await;
    assert_eq!(location(&r), "/");
    assert_eq!(app.signed_in_as(&other).await, None, "the other browser is out at its next request");
    assert_eq!(app.signed_in_as(&app.client).await, None, "and this one");
    // No new session during the grace period, and the right password is answered like a wrong one (L4).
    let r = app.call_server_fn_with(&new_client(), "/api/log_in", &[("email", ANN), ("password", PASSWORD)]).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.text().await.unwrap().contains("InvalidCredentials"), "no new session during the grace period");

    let mail = app.mail_with_subject(ANN, "will be deleted").await;
    let keep = token_of(&link_path(&mail.text, "/users/settings/delete/cancel/"));
    let r = app.post_form_with(&new_client(), "/api/keep_account", &[("token", &keep)]).await;
    assert_eq!(location(&r), "/users/log-in");
    assert_eq!(location(&app.log_in(ANN, PASSWORD).await), "/", "kept: the password works again");

    // The removal job finds the deletion cancelled and leaves the account alone.
    app.state().clock.advance(7 * 24 * 3600 + 1);
    app.run_due_jobs().await;
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM users").await, 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s35_a_deleted_account_is_removed_after_the_grace_period_with_its_sessions_and_links() {
    let app = ann_signed_in().await;
    app.post_form("/api/delete_account", &[("confirm_email", ANN)]).await;
    app.mail_with_subject(ANN, "will be deleted").await;
    // A sign-in link asked for during the grace period does not get in either.
    app.post_form_with(&new_client(), "/api/request_magic_link", &[("email", ANN)]).await;
    let mail = app.mail_with_subject(ANN, "sign-in link").await;
    let token = token_of(&link_path(&mail.text, "/users/log-in/"));
    let r = app.call_server_fn_with(&new_client(), "/api/log_in_with_link", &[("token", &token)]).await;
    assert!(r.text().await.unwrap().contains("AccountClosing"));

    app.state().clock.advance(7 * 24 * 3600 + 1);
    app.run_due_jobs().await;
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM users").await, 0, "the account is gone");
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM sessions").await, 0);
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM user_tokens").await, 0);
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM audit_events WHERE action = 'user.deleted'").await, 1);
    let r = app.call_server_fn_with(&new_client(), "/api/log_in", &[("email", ANN), ("password", PASSWORD)]).await;
    assert!(r.text().await.unwrap().contains("InvalidCredentials"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s39_deleting_the_account_needs_sudo() {
    let app = ann_signed_in().await;
    app.state().clock.advance(10 * 60 + 1);
    let r = app.call_server_fn("/api/delete_account", &[("confirm_email", ANN)]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.signed_in_as(&app.client).await.as_deref(), Some(ANN));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_activity_feed_names_password_and_email_changes() {
    let app = ann_signed_in().await;
    change_password(&app, &app.client, PASSWORD, NEW_PASSWORD).await;
    app.post_form("/api/request_email_change", &[("email", "ann.new@example.com")]).await;
    let data: serde_json::Value = app.call_server_fn("/api/list_sessions", &[]).await.json().await.unwrap();
    let feed: Vec<&str> = data["activity"].as_array().unwrap().iter().map(|a| a["what"].as_str().unwrap()).collect();
    assert!(feed.contains(&"Password changed"), "{feed:?}");
    assert!(feed.contains(&"E-mail change requested"), "{feed:?}");
    assert!(feed.iter().all(|w| !w.contains('.')), "every entry is in words, not an audit name: {feed:?}");
    app.stop().await;
}
