//! Two-step verification: enrolment, the challenge on every sign-in path, backup codes, trusted browsers, sudo.
use reqwest::{Client, StatusCode};
use totp_rs::Secret;

use crate::common::*;

const ANN: &str = "ann@example.com";

/// An authenticator app: computes codes from the key the security page showed.
pub struct Authenticator {
    secret: Vec<u8>,
}

impl Authenticator {
    pub fn code(&self, app: &TestApp) -> String {
        let t =
            totp_rs::TOTP::new_unchecked(totp_rs::Algorithm::SHA1, 6, 1, 30, self.secret.clone(), None, String::new());
        t.generate(app.state().clock.now() as u64)
    }
}

async fn security(app: &TestApp, client: &Client) -> serde_json::Value {
    let r = app.call_server_fn_with(client, "/api/security_data", &[]).await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

/// Ann, confirmed, signed in by password on the app's client, with TOTP on. Returns her app and backup codes.
pub(crate) async fn ann_with_totp(app: &TestApp) -> (Authenticator, Vec<String>) {
    app.confirmed_user(ANN, PASSWORD).await;
    assert_eq!(location(&app.log_in(ANN, PASSWORD).await), "/");
    enable_totp(app, &app.client).await
}

pub async fn enable_totp(app: &TestApp, client: &Client) -> (Authenticator, Vec<String>) {
    let r = app.post_form_with(client, "/api/start_totp", &[]).await;
    assert_eq!(location(&r), "/users/settings/security");
    let data = security(app, client).await;
    let key = data["pending"]["secret"].as_str().expect("the key is shown during enrolment").to_string();
    assert!(data["pending"]["qr_svg"].as_str().unwrap().contains("<svg"), "a QR code rendered on the server");
    assert!(data["pending"]["otpauth_url"].as_str().unwrap().starts_with("otpauth://totp/"));
    let auth = Authenticator { secret: Secret::Encoded(key).to_bytes().unwrap() };
    let r = app.post_form_with(client, "/api/enable_totp", &[("code", &auth.code(app))]).await;
    assert_eq!(location(&r), "/users/settings/security");
    let data = security(app, client).await;
    assert_eq!(data["totp_enabled"], true);
    assert!(data["pending"].is_null(), "the key is never shown again");
    let codes: Vec<String> =
        data["fresh_codes"].as_array().expect("codes shown once").iter().map(|c| c.as_str().unwrap().into()).collect();
    assert_eq!(codes.len(), 10);
    assert!(security(app, client).await["fresh_codes"].is_null(), "and only once");
    // The next code comes from a later 30-second step (the enrolment code is used).
    app.state().clock.advance(30);
    (auth, codes)
}

/// Logs in by password in a new browser; asserts it is challenged, not signed in.
async fn challenged_browser(app: &TestApp) -> Client {
    let client = new_client();
    let r = app.post_form_with(&client, "/api/log_in", &[("email", ANN), ("password", PASSWORD)]).await;
    assert_eq!(location(&r), "/users/mfa");
    assert!(session_token(&r).is_none(), "no session before the second factor");
    assert_eq!(app.signed_in_as(&client).await, None);
    client
}

async fn ann_sessions(app: &TestApp) -> i64 {
    app.scalar_i64("SELECT COUNT(*) FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.email = 'ann@example.com'")
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s22_a_totp_code_signs_in_once_and_a_replay_fails() {
    let app = TestApp::spawn().await;
    let (auth, _) = ann_with_totp(&app).await;
    let a = challenged_browser(&app).await;
    let code = auth.code(&app);
    let r = app.post_form_with(&a, "/api/mfa_verify", &[("code", &code)]).await;
    assert_eq!(location(&r), "/");
    assert_eq!(app.signed_in_as(&a).await.as_deref(), Some(ANN));

    let b = challenged_browser(&app).await;
    let r = app.call_server_fn_with(&b, "/api/mfa_verify", &[("code", &code)]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "the same code again is refused");
    assert_eq!(app.signed_in_as(&b).await, None);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s26_a_code_from_two_steps_ago_is_refused_and_one_step_of_drift_is_allowed() {
    let app = TestApp::spawn().await;
    let (auth, _) = ann_with_totp(&app).await;
    let old = auth.code(&app);
    app.state().clock.advance(60);
    let b = challenged_browser(&app).await;
    let r = app.call_server_fn_with(&b, "/api/mfa_verify", &[("code", &old)]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    app.state().clock.advance(30);
    let previous_step = auth.code(&app);
    app.state().clock.advance(30);
    let r = app.post_form_with(&b, "/api/mfa_verify", &[("code", &previous_step)]).await;
    assert_eq!(location(&r), "/", "a code from the previous step still works (clock drift)");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s12_no_endpoint_gives_an_mfa_user_a_session_without_the_second_factor() {
    let app = TestApp::spawn().await;
    let (_auth, _) = ann_with_totp(&app).await;
    app.log_out().await;
    // The sweep runs from Bo's signed-in browser, with Ann's credentials and a live sign-in link of hers in every form.
    app.confirmed_user("bo@example.com", PASSWORD).await;
    let sweeper = app.another_browser("bo@example.com", PASSWORD).await;
    app.post_form_with(&new_client(), "/api/request_magic_link", &[("email", ANN)]).await;
    let mail = app.mail_with_subject(ANN, "sign-in link").await;
    let token = token_in(&mail.text, "/users/log-in/");
    let paths: Vec<&str> =
        server_fn::axum::server_fn_paths().map(|(p, _)| p).filter(|p| *p != "/api/log_out").collect();
    assert!(paths.len() > 30, "every server function is swept: {paths:?}");
    for path in &paths {
        let form = [
            ("email", ANN),
            ("password", PASSWORD),
            ("current_password", PASSWORD),
            ("token", &token),
            ("code", "000000"),
            ("remember_me", "on"),
            ("return_to", "/"),
        ];
        let r = app.post_form_with(&sweeper, path, &form).await;
        assert!(r.status() != StatusCode::INTERNAL_SERVER_ERROR, "{path} failed: {}", r.status());
        assert_eq!(ann_sessions(&app).await, 0, "{path} created a session for Ann without her second factor");
    }
    // The sign-in paths themselves end at the challenge.
    for (path, form) in [("/api/log_in", vec![("email", ANN), ("password", PASSWORD)])] {
        let r = app.post_form_with(&new_client(), path, &form).await;
        assert_eq!(location(&r), "/users/mfa", "{path}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s14_a_sign_in_link_still_ends_at_the_totp_challenge() {
    let app = TestApp::spawn().await;
    let (auth, _) = ann_with_totp(&app).await;
    let browser = new_client();
    app.post_form_with(&browser, "/api/request_magic_link", &[("email", ANN)]).await;
    let mail = app.mail_with_subject(ANN, "sign-in link").await;
    let token = token_in(&mail.text, "/users/log-in/");
    let r = app.post_form_with(&browser, "/api/log_in_with_link", &[("token", &token)]).await;
    assert_eq!(location(&r), "/users/mfa");
    assert!(session_token(&r).is_none());
    let r = app.post_form_with(&browser, "/api/mfa_verify", &[("code", &auth.code(&app))]).await;
    assert_eq!(location(&r), "/");
    let method: (String,) = sqlx::query_as(
        "SELECT detail FROM audit_events WHERE action = 'user.log_in' AND outcome = 'success' ORDER BY at DESC LIMIT 1",
    )
    .fetch_one(&app.state().db.pool)
    .await
    .unwrap();
    assert_eq!(method.0, "magic_link; totp");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s18_a_password_reset_does_not_bypass_totp() {
    let app = TestApp::spawn().await;
    let (auth, _) = ann_with_totp(&app).await;
    app.post_form_with(&new_client(), "/api/request_password_reset", &[("email", ANN)]).await;
    let mail = app.mail_with_subject(ANN, "Reset your").await;
    let token = token_in(&mail.text, "/users/reset-password/");
    let new_password = "purple elephants juggle quietly";
    let browser = new_client();
    let r = app.post_form_with(&browser, "/api/reset_password", &[("token", &token), ("password", new_password)]).await;
    assert_eq!(location(&r), "/users/log-in", "a reset signs nobody in");
    assert_eq!(ann_sessions(&app).await, 0);
    let r = app.post_form_with(&browser, "/api/log_in", &[("email", ANN), ("password", new_password)]).await;
    assert_eq!(location(&r), "/users/mfa", "the new password still needs the code");
    let r = app.post_form_with(&browser, "/api/mfa_verify", &[("code", &auth.code(&app))]).await;
    assert_eq!(location(&r), "/");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s19_a_backup_code_works_once_and_the_owner_is_told_how_many_are_left() {
    let app = TestApp::spawn().await;
    let (_auth, codes) = ann_with_totp(&app).await;
    let a = challenged_browser(&app).await;
    let r = app.post_form_with(&a, "/api/mfa_verify", &[("code", &codes[0].to_lowercase())]).await;
    assert_eq!(location(&r), "/", "case and dashes do not matter");
    let mail = app.mail_with_subject(ANN, "backup code was used").await;
    assert!(mail.text.contains("9 unused codes are left"));
    let b = challenged_browser(&app).await;
    let r = app.call_server_fn_with(&b, "/api/mfa_verify", &[("code", &codes[0])]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "a used code is spent");
    let data = security(&app, &a).await;
    assert_eq!(data["backup_codes_left"], 9);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s23_s27_the_database_holds_no_totp_seed_or_backup_code_in_clear() {
    let app = TestApp::spawn().await;
    let (auth, codes) = ann_with_totp(&app).await;
    let (enc,): (String,) =
        sqlx::query_as("SELECT secret_enc FROM user_totp").fetch_one(&app.state().db.pool).await.unwrap();
    let b32 = Secret::Raw(auth.secret.clone()).to_encoded().to_string();
    assert!(!enc.contains(&b32) && !enc.contains(&hex_of(&auth.secret)), "the seed is encrypted");
    assert!(enc.starts_with("derived:"), "and names the key that encrypted it");
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT code_digest FROM backup_codes").fetch_all(&app.state().db.pool).await.unwrap();
    assert_eq!(rows.len(), 10);
    for code in &codes {
        let plain = code.replace('-', "");
        assert!(rows.iter().all(|(d,)| !d.contains(&plain) && !d.contains(code)));
    }
    let dump: Vec<(Option<String>,)> =
        sqlx::query_as("SELECT codes_to_show FROM user_totp").fetch_all(&app.state().db.pool).await.unwrap();
    assert_eq!(dump[0].0, None, "codes already shown are not kept, even encrypted");
    app.stop().await;
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s24_five_wrong_codes_kill_the_challenge_and_pause_codes_with_a_mail() {
    let app = TestApp::spawn().await;
    let (auth, _) = ann_with_totp(&app).await;
    let b = challenged_browser(&app).await;
    for _ in 0..5 {
        let r = app.call_server_fn_with(&b, "/api/mfa_verify", &[("code", "000000")]).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    let r = app.call_server_fn_with(&b, "/api/mfa_verify", &[("code", &auth.code(&app))]).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "the challenge is dead even for the right code");
    app.mail_with_subject(ANN, "paused").await;
    let c = challenged_browser(&app).await;
    let r = app.call_server_fn_with(&c, "/api/mfa_verify", &[("code", &auth.code(&app))]).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "codes are paused for the account");
    app.state().clock.advance(15 * 60 + 1);
    let d = challenged_browser(&app).await;
    let r = app.post_form_with(&d, "/api/mfa_verify", &[("code", &auth.code(&app))]).await;
    assert_eq!(location(&r), "/", "and work again after the pause");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_challenge_lasts_five_minutes() {
    let app = TestApp::spawn().await;
    let (auth, _) = ann_with_totp(&app).await;
    let b = challenged_browser(&app).await;
    app.state().clock.advance(5 * 60 + 1);
    let r = app.call_server_fn_with(&b, "/api/mfa_verify", &[("code", &auth.code(&app))]).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.text().await.unwrap().contains("ChallengeExpired"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusted_browser_skips_the_challenge_until_it_is_forgotten_or_the_password_changes() {
    let app = TestApp::spawn().await;
    let (auth, _) = ann_with_totp(&app).await;
    let trusted = challenged_browser(&app).await;
    let r = app.post_form_with(&trusted, "/api/mfa_verify", &[("code", &auth.code(&app)), ("trust", "on")]).await;
    assert_eq!(location(&r), "/");
    assert!(cookie_map(&r).contains_key(&cookie("trust")));
    app.post_form_with(&trusted, "/api/log_out", &[]).await;
    let r = app.post_form_with(&trusted, "/api/log_in", &[("email", ANN), ("password", PASSWORD)]).await;
    assert_eq!(location(&r), "/", "the trusted browser skips the code");
    challenged_browser(&app).await; // another browser is still asked

    // Listed on the security page; forgetting it brings the challenge back.
    let data = security(&app, &trusted).await;
    let id = data["trusted"][0]["id"].as_str().unwrap().to_string();
    let other = app.post_form_with(&app.client, "/api/revoke_trusted_browser", &[("id", &id)]).await;
    assert_eq!(location(&other), "/users/settings/security");
    app.post_form_with(&trusted, "/api/log_out", &[]).await;
    let r = app.post_form_with(&trusted, "/api/log_in", &[("email", ANN), ("password", PASSWORD)]).await;
    assert_eq!(location(&r), "/users/mfa");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s47_a_user_cannot_forget_another_users_trusted_browser() {
    let app = TestApp::spawn().await;
    let (auth, _) = ann_with_totp(&app).await;
    let trusted = challenged_browser(&app).await;
    app.post_form_with(&trusted, "/api/mfa_verify", &[("code", &auth.code(&app)), ("trust", "on")]).await;
    let id = security(&app, &trusted).await["trusted"][0]["id"].as_str().unwrap().to_string();
    app.confirmed_user("bo@example.com", PASSWORD).await;
    let bo = app.another_browser("bo@example.com", PASSWORD).await;
    let r = app.call_server_fn_with(&bo, "/api/revoke_trusted_browser", &[("id", &id)]).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM trusted_browsers").await, 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_change_forgets_every_trusted_browser() {
    let app = TestApp::spawn().await;
    let (auth, _) = ann_with_totp(&app).await;
    let trusted = challenged_browser(&app).await;
    app.post_form_with(&trusted, "/api/mfa_verify", &[("code", &auth.code(&app)), ("trust", "on")]).await;
    let new_password = "purple elephants juggle quietly";
    let r = app
        .post_form_with(&trusted, "/api/change_password", &[("current_password", PASSWORD), ("password", new_password)])
        .await;
    assert_eq!(location(&r), "/users/settings");
    app.post_form_with(&trusted, "/api/log_out", &[]).await;
    let r = app.post_form_with(&trusted, "/api/log_in", &[("email", ANN), ("password", new_password)]).await;
    assert_eq!(location(&r), "/users/mfa", "the trust died with the old password");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s28_disabling_needs_a_current_code_and_is_audited_and_mailed() {
    let app = TestApp::spawn().await;
    let (auth, _) = ann_with_totp(&app).await;
    app.mail_with_subject(ANN, "Two-step verification is on").await;
    let r = app.call_server_fn("/api/disable_totp", &[("code", "123456")]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = app.post_form("/api/disable_totp", &[("code", &auth.code(&app))]).await;
    assert_eq!(location(&r), "/users/settings/security");
    assert_eq!(security(&app, &app.client).await["totp_enabled"], false);
    app.mail_with_subject(ANN, "Two-step verification is off").await;
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM backup_codes").await, 0);
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM audit_events WHERE action = 'mfa.totp_disabled'").await, 1);
    let r = app.post_form_with(&new_client(), "/api/log_in", &[("email", ANN), ("password", PASSWORD)]).await;
    assert_eq!(location(&r), "/", "no challenge any more");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s19_new_backup_codes_need_a_current_code_and_replace_the_old_ones() {
    let app = TestApp::spawn().await;
    let (auth, old) = ann_with_totp(&app).await;
    let r = app.call_server_fn("/api/regenerate_backup_codes", &[("code", &old[1])]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "a backup code cannot make new ones");
    let r = app.post_form("/api/regenerate_backup_codes", &[("code", &auth.code(&app))]).await;
    assert_eq!(location(&r), "/users/settings/security");
    let fresh = security(&app, &app.client).await["fresh_codes"].as_array().unwrap().len();
    assert_eq!(fresh, 10);
    let b = challenged_browser(&app).await;
    let r = app.call_server_fn_with(&b, "/api/mfa_verify", &[("code", &old[2])]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "the old codes stopped working");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s39_sudo_passes_with_a_totp_code_and_enrolment_needs_sudo() {
    let app = TestApp::spawn().await;
    let (auth, _) = ann_with_totp(&app).await;
    app.state().clock.advance(10 * 60 + 1);
    let r = app.call_server_fn("/api/regenerate_backup_codes", &[("code", &auth.code(&app))]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "the window lapsed");
    let r = app
        .post_form("/api/sudo_with_code", &[("code", &auth.code(&app)), ("return_to", "/users/settings/security")])
        .await;
    assert_eq!(location(&r), "/users/settings/security");
    assert!(session_token(&r).is_some(), "sudo gives the session a new token");
    app.state().clock.advance(30);
    let r = app.post_form("/api/regenerate_backup_codes", &[("code", &auth.code(&app))]).await;
    assert_eq!(location(&r), "/users/settings/security");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrolment_needs_a_valid_first_code() {
    let app = TestApp::spawn().await;
    app.confirmed_user(ANN, PASSWORD).await;
    app.log_in(ANN, PASSWORD).await;
    app.post_form("/api/start_totp", &[]).await;
    let r = app.call_server_fn("/api/enable_totp", &[("code", "000000")]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(security(&app, &app.client).await["totp_enabled"], false);
    let r = app.post_form_with(&new_client(), "/api/log_in", &[("email", ANN), ("password", PASSWORD)]).await;
    assert_eq!(location(&r), "/", "a pending enrolment asks for nothing at sign-in");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s25_a_challenge_is_bound_to_the_browser_that_passed_the_first_factor() {
    let app = TestApp::spawn().await;
    let (auth, _) = ann_with_totp(&app).await;
    let _a = challenged_browser(&app).await;
    // Browser B never passed the password step: the right code alone gets it nowhere.
    let b = new_client();
    let r = app.call_server_fn_with(&b, "/api/mfa_verify", &[("code", &auth.code(&app))]).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.text().await.unwrap().contains("ChallengeExpired"));
    assert_eq!(ann_sessions(&app).await, 1, "only the enrolling browser's session");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s15_when_policy_requires_mfa_a_user_without_it_can_only_enrol() {
    let app = TestApp::spawn_with(|c| c.require_mfa = true).await;
    app.confirmed_user(ANN, PASSWORD).await;
    assert_eq!(location(&app.log_in(ANN, PASSWORD).await), "/");
    let r = app.get("/users/sessions").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/users/settings/security", "pages send the user to enrolment");
    let r = app.call_server_fn("/api/list_sessions", &[]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "server functions refuse");
    assert!(r.text().await.unwrap().contains("MfaEnrolmentRequired"));
    let page = app.get("/users/settings/security").await.text().await.unwrap();
    assert!(page.contains("Your account needs two-step verification"));
    let r = app.call_server_fn("/api/passkey_list", &[]).await;
    assert_eq!(r.status(), StatusCode::OK, "the enrolment page shows its passkey section");

    let (auth, _) = enable_totp(&app, &app.client).await;
    assert_eq!(app.get("/users/sessions").await.status(), StatusCode::OK, "enrolled: everything opens");
    let b = challenged_browser(&app).await;
    let r = app.post_form_with(&b, "/api/mfa_verify", &[("code", &auth.code(&app))]).await;
    assert_eq!(location(&r), "/");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_policy_mfa_stays_optional() {
    let app = TestApp::spawn().await;
    app.confirmed_user(ANN, PASSWORD).await;
    app.log_in(ANN, PASSWORD).await;
    assert_eq!(app.get("/users/sessions").await.status(), StatusCode::OK);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_audit_row_cannot_be_written_turning_totp_on_is_rolled_back() {
    let app = TestApp::spawn().await;
    app.confirmed_user(ANN, PASSWORD).await;
    app.log_in(ANN, PASSWORD).await;
    app.post_form("/api/start_totp", &[]).await;
    let key = security(&app, &app.client).await["pending"]["secret"].as_str().unwrap().to_string();
    let auth = Authenticator { secret: Secret::Encoded(key).to_bytes().unwrap() };
    break_audit_for(&app, "mfa.totp_enabled").await;
    let r = app.call_server_fn("/api/enable_totp", &[("code", &auth.code(&app))]).await;
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(security(&app, &app.client).await["totp_enabled"], false);
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM backup_codes").await, 0, "no codes without the audit row");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_code_step_carries_the_page_to_come_back_to() {
    let app = TestApp::spawn().await;
    let (auth, _) = ann_with_totp(&app).await;
    let browser = new_client();
    let form = [("email", ANN), ("password", PASSWORD), ("return_to", "/organizations")];
    let r = app.post_form_with(&browser, "/api/log_in", &form).await;
    assert_eq!(location(&r), "/users/mfa?return_to=/organizations");
    let page = app.get_with(&browser, "/users/mfa?return_to=/organizations").await.text().await.unwrap();
    assert!(page.contains(r#"name="return_to" value="/organizations""#), "the code form carries it on");
    // A wrong code goes back to the code step, still carrying it.
    let r =
        app.post_form_with(&browser, "/api/mfa_verify", &[("code", "000000"), ("return_to", "/organizations")]).await;
    assert_eq!(location(&r), "/users/mfa?return_to=/organizations");
    let r = app
        .post_form_with(&browser, "/api/mfa_verify", &[("code", &auth.code(&app)), ("return_to", "/organizations")])
        .await;
    assert_eq!(location(&r), "/organizations");
    assert_eq!(app.signed_in_as(&browser).await.as_deref(), Some(ANN));
    app.stop().await;
}
