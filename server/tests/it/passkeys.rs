//! Passkeys against a software authenticator (real P-256 keys, the JSON a browser sends): registration, passwordless
//! sign-in, second factor, sudo, management, and the WebAuthn checks S30 asks for.
use reqwest::{Client, StatusCode};
use serde_json::Value;

use crate::{authenticator::Authenticator, common::*, mfa::enable_totp};

const ANN: &str = "ann@example.com";
const BO: &str = "bo@example.com";
/// The origin `Config::for_tests` names (its base URL).
const ORIGIN: &str = "http://localhost:3000";

/// Starts a ceremony (`path`) and returns its token and the options for the authenticator.
async fn options(app: &TestApp, client: &Client, path: &str, form: &[(&str, &str)]) -> (String, Value) {
    let r = app.call_server_fn_with(client, path, form).await;
    assert_eq!(r.status(), StatusCode::OK, "{path}");
    let body: Value = r.json().await.unwrap();
    let options = body["options"].as_object().and_then(|o| o.values().next()).cloned().expect("options");
    (body["token"].as_str().unwrap().to_string(), options)
}

/// Adds a passkey from `auth` to the account signed in on `client` (its sudo window open).
async fn add_passkey(app: &TestApp, client: &Client, auth: &mut Authenticator) {
    let (token, opts) = options(app, client, "/api/passkey_creation_options", &[]).await;
    let credential = auth.register(&opts).expect("the authenticator makes a credential").to_string();
    let r = app.post_form_with(client, "/api/add_passkey", &[("token", &token), ("credential", &credential)]).await;
    assert_eq!(location(&r), "/users/settings/security");
}

async fn passkeys_of(app: &TestApp, client: &Client) -> Value {
    let r = app.call_server_fn_with(client, "/api/passkey_list", &[]).await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

/// Ann, confirmed, signed in by password on the app's client, with one passkey on `auth`.
async fn ann_with_passkey(app: &TestApp) -> Authenticator {
    app.confirmed_user(ANN, PASSWORD).await;
    assert_eq!(location(&app.log_in(ANN, PASSWORD).await), "/");
    let mut auth = Authenticator::new(ORIGIN);
    add_passkey(app, &app.client, &mut auth).await;
    auth
}

/// A passwordless sign-in in a new browser: usernameless, or e-mail first. Returns the browser, the finishing
/// response, and the token and answer it posted (to replay).
async fn passkey_sign_in(
    app: &TestApp,
    auth: &mut Authenticator,
    email: &str,
) -> (Client, reqwest::Response, String, String) {
    let browser = new_client();
    let (token, opts) = options(app, &browser, "/api/passkey_sign_in_options", &[("email", email)]).await;
    let answer = auth.assert(&opts).expect("the authenticator answers").to_string();
    let r =
        app.post_form_with(&browser, "/api/log_in_with_passkey", &[("token", &token), ("credential", &answer)]).await;
    (browser, r, token, answer)
}

async fn ann_sessions(app: &TestApp) -> i64 {
    app.scalar_i64("SELECT COUNT(*) FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.email = 'ann@example.com'")
        .await
}

async fn audit_count(app: &TestApp, action: &str, outcome: &str, detail_like: &str) -> i64 {
    app.i64(
        "SELECT COUNT(*) FROM audit_events WHERE action = $1 AND outcome = $2 AND detail LIKE $3",
        &[action, outcome, detail_like],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passkey_is_added_behind_sudo_named_listed_mailed_and_audited() {
    let app = TestApp::spawn().await;
    let mut auth = ann_with_passkey(&app).await;
    let list = passkeys_of(&app, &app.client).await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["name"], "Passkey on Unknown device", "no AAGUID and no browser: a plain default name");
    assert!(items[0]["last_used"].is_null());
    assert!(app.mail_with_subject(ANN, "A passkey was added").await.text.contains("/users/settings/security"));
    assert_eq!(audit_count(&app, "passkey.added", "success", "%").await, 1);

    // A known authenticator is named after its AAGUID.
    let mut icloud = Authenticator::new(ORIGIN);
    icloud.set_aaguid([0xfb, 0xfc, 0x30, 0x07, 0x15, 0x4e, 0x4e, 0xcc, 0x8c, 0x0b, 0x6e, 0x02, 0x05, 0x57, 0xd7, 0xbd]);
    add_passkey(&app, &app.client, &mut icloud).await;
    let list = passkeys_of(&app, &app.client).await;
    let names: Vec<&str> = list["items"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"iCloud Keychain"), "{names:?}");

    // The authenticator that already holds one is excluded (a browser says so instead of making a second).
    let (_, opts) = options(&app, &app.client, "/api/passkey_creation_options", &[]).await;
    assert_eq!(opts["publicKey"]["excludeCredentials"].as_array().unwrap().len(), 2);
    assert!(auth.register(&opts).unwrap_err().contains("InvalidStateError"));
    assert_eq!(opts["publicKey"]["authenticatorSelection"]["residentKey"], "preferred");
    assert_eq!(opts["publicKey"]["authenticatorSelection"]["userVerification"], "required");

    // Outside the sudo window nothing can be added.
    app.state().clock.advance(app.state().config.sudo_window_secs + 1);
    let r = app.call_server_fn("/api/passkey_creation_options", &[]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_to_a_registration_can_be_used_once_and_only_by_the_session_that_asked() {
    let app = TestApp::spawn().await;
    app.confirmed_user(ANN, PASSWORD).await;
    app.log_in(ANN, PASSWORD).await;
    let mut auth = Authenticator::new(ORIGIN);
    let (token, opts) = options(&app, &app.client, "/api/passkey_creation_options", &[]).await;
    let credential = auth.register(&opts).unwrap().to_string();
    // Another session of Ann's cannot finish this ceremony.
    let other = app.another_browser(ANN, PASSWORD).await;
    let r =
        app.call_server_fn_with(&other, "/api/add_passkey", &[("token", &token), ("credential", &credential)]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // Nor can the one that asked, now that the attempt used the ceremony up.
    let r = app.call_server_fn("/api/add_passkey", &[("token", &token), ("credential", &credential)]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(passkeys_of(&app, &app.client).await["items"].as_array().unwrap().len(), 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_holds_at_most_ten_passkeys() {
    let app = TestApp::spawn().await;
    app.confirmed_user(ANN, PASSWORD).await;
    app.log_in(ANN, PASSWORD).await;
    for _ in 0..10 {
        add_passkey(&app, &app.client, &mut Authenticator::new(ORIGIN)).await;
    }
    let list = passkeys_of(&app, &app.client).await;
    assert_eq!(list["can_add"], false);
    let r = app.call_server_fn("/api/passkey_creation_options", &[]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = r.text().await.unwrap();
    assert!(body.contains("the most one account can hold"), "{body}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s30_a_passkey_signs_in_without_a_password_or_an_email_and_counts_as_both_factors() {
    let app = TestApp::spawn().await;
    let mut auth = ann_with_passkey(&app).await;
    // Ann also has TOTP: a passkey sign-in does not ask for it.
    enable_totp(&app, &app.client).await;
    app.log_out().await;
    let (browser, r, _, _) = passkey_sign_in(&app, &mut auth, "").await;
    assert_eq!(location(&r), "/", "signed in, no code step");
    assert_eq!(app.signed_in_as(&browser).await.as_deref(), Some(ANN));
    assert_eq!(audit_count(&app, "user.log_in", "success", "passkey").await, 1);
    // The passkey's use is recorded, and the session starts inside its sudo window.
    let list = passkeys_of(&app, &browser).await;
    assert!(list["items"][0]["last_used"].is_string());
    let sign_count = app.scalar_i64("SELECT sign_count FROM passkeys").await;
    assert_eq!(sign_count, 1, "the sign counter is stored");
    let r = app.call_server_fn_with(&browser, "/api/passkey_creation_options", &[]).await;
    assert_eq!(r.status(), StatusCode::OK, "a passkey sign-in passes sudo");

    // E-mail first works too.
    let (browser, r, _, _) = passkey_sign_in(&app, &mut auth, ANN).await;
    assert_eq!(location(&r), "/");
    assert_eq!(app.signed_in_as(&browser).await.as_deref(), Some(ANN));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passkey_sign_in_comes_back_to_the_page_that_sent_the_visitor_to_log_in() {
    let app = TestApp::spawn().await;
    let mut auth = ann_with_passkey(&app).await;
    let browser = new_client();
    let (token, opts) = options(&app, &browser, "/api/passkey_sign_in_options", &[]).await;
    let answer = auth.assert(&opts).expect("the authenticator answers").to_string();
    let form = [("token", token.as_str()), ("credential", answer.as_str()), ("return_to", "/users/sessions")];
    let r = app.post_form_with(&browser, "/api/log_in_with_passkey", &form).await;
    assert_eq!(location(&r), "/users/sessions");
    assert_eq!(app.signed_in_as(&browser).await.as_deref(), Some(ANN));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s30_a_replayed_assertion_fails() {
    let app = TestApp::spawn().await;
    let mut auth = ann_with_passkey(&app).await;
    app.log_out().await;
    let (_, r, token, answer) = passkey_sign_in(&app, &mut auth, "").await;
    assert_eq!(location(&r), "/");
    let before = ann_sessions(&app).await;
    // The same answer to the same ceremony: the ceremony is gone.
    let attacker = new_client();
    let r = app
        .call_server_fn_with(&attacker, "/api/log_in_with_passkey", &[("token", &token), ("credential", &answer)])
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // The same answer to a fresh ceremony: it signed another challenge.
    let (fresh, _) = options(&app, &attacker, "/api/passkey_sign_in_options", &[]).await;
    let r = app
        .call_server_fn_with(&attacker, "/api/log_in_with_passkey", &[("token", &fresh), ("credential", &answer)])
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.signed_in_as(&attacker).await, None);
    assert_eq!(ann_sessions(&app).await, before, "no session came of either");
    assert_eq!(audit_count(&app, "user.log_in", "failure", "passkey: assertion did not verify").await, 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s30_an_assertion_made_for_another_origin_fails() {
    let app = TestApp::spawn().await;
    let mut auth = ann_with_passkey(&app).await;
    app.log_out().await;
    auth.with_origin("https://portcullis.evil.example");
    let (browser, r, _, _) = passkey_sign_in(&app, &mut auth, "").await;
    assert_eq!(location(&r), "/users/log-in");
    assert_eq!(app.signed_in_as(&browser).await, None);
    assert_eq!(ann_sessions(&app).await, 0);
    assert_eq!(audit_count(&app, "user.log_in", "failure", "passkey: assertion did not verify").await, 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s30_an_assertion_without_user_verification_is_refused_for_passwordless_sign_in() {
    let app = TestApp::spawn().await;
    let mut auth = ann_with_passkey(&app).await;
    app.log_out().await;
    auth.user_verified(false);
    for email in ["", ANN] {
        let (browser, r, _, _) = passkey_sign_in(&app, &mut auth, email).await;
        assert_eq!(location(&r), "/users/log-in", "e-mail {email:?}");
        assert_eq!(app.signed_in_as(&browser).await, None);
    }
    assert_eq!(ann_sessions(&app).await, 0);
    assert_eq!(audit_count(&app, "user.log_in", "failure", "passkey: user not verified").await, 2);
    // The same passkey with verification signs in.
    auth.user_verified(true);
    let (_, r, _, _) = passkey_sign_in(&app, &mut auth, "").await;
    assert_eq!(location(&r), "/");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s30_a_cloned_authenticator_whose_counter_went_backwards_is_refused_and_audited() {
    let app = TestApp::spawn().await;
    let mut auth = ann_with_passkey(&app).await;
    app.log_out().await;
    let mut clone = auth.clone();
    for _ in 0..2 {
        let (_, r, _, _) = passkey_sign_in(&app, &mut auth, "").await;
        assert_eq!(location(&r), "/");
    }
    // The clone signs with counter 1; the server has seen 2.
    let (browser, r, _, _) = passkey_sign_in(&app, &mut clone, "").await;
    assert_eq!(location(&r), "/users/log-in");
    assert_eq!(app.signed_in_as(&browser).await, None);
    assert_eq!(audit_count(&app, "user.log_in", "failure", "%cloned authenticator%").await, 1);
    assert_eq!(app.scalar_i64("SELECT sign_count FROM passkeys").await, 2, "the stored counter did not move back");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_passkey_options_for_an_unknown_email_look_like_a_real_accounts() {
    let app = TestApp::spawn().await;
    let _auth = ann_with_passkey(&app).await;
    app.confirmed_user(BO, PASSWORD).await; // an account without passkeys
    let anon = new_client();
    let shape = |v: &Value| {
        let pk = &v["publicKey"];
        let mut keys: Vec<String> = pk.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        let creds = pk["allowCredentials"].as_array().unwrap();
        let cred_keys: Vec<Vec<String>> =
            creds.iter().map(|c| c.as_object().unwrap().keys().cloned().collect()).collect();
        (
            keys,
            cred_keys.first().cloned(),
            v.get("mediation").cloned(),
            pk["userVerification"].clone(),
            pk["rpId"].clone(),
        )
    };
    let (_, real) = options(&app, &anon, "/api/passkey_sign_in_options", &[("email", ANN)]).await;
    let (_, unknown) = options(&app, &anon, "/api/passkey_sign_in_options", &[("email", "nobody@example.com")]).await;
    let (_, no_passkey) = options(&app, &anon, "/api/passkey_sign_in_options", &[("email", BO)]).await;
    assert_eq!(shape(&real), shape(&unknown), "{real}\n{unknown}");
    assert_eq!(shape(&real), shape(&no_passkey));
    assert!(
        !unknown["publicKey"]["allowCredentials"].as_array().unwrap().is_empty(),
        "made-up credentials are offered"
    );
    // The made-up ids are stable for an address (a second look shows the same), and differ between addresses.
    let (_, again) = options(&app, &anon, "/api/passkey_sign_in_options", &[("email", "nobody@example.com")]).await;
    assert_eq!(unknown["publicKey"]["allowCredentials"], again["publicKey"]["allowCredentials"]);
    assert_ne!(unknown["publicKey"]["challenge"], again["publicKey"]["challenge"], "a new challenge every time");
    assert_ne!(unknown["publicKey"]["allowCredentials"], no_passkey["publicKey"]["allowCredentials"]);
    // The challenge is 32 random bytes (S30: at least 64 bits).
    let challenge = real["publicKey"]["challenge"].as_str().unwrap();
    assert_eq!(challenge.len(), 43, "32 bytes in unpadded base64url: {challenge}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mfa_user_answers_the_challenge_with_a_passkey_and_passes_sudo_with_one() {
    let app = TestApp::spawn().await;
    let mut auth = ann_with_passkey(&app).await;
    enable_totp(&app, &app.client).await;
    app.log_out().await;
    // Password first: the challenge, answered with the passkey.
    let browser = new_client();
    let r = app.post_form_with(&browser, "/api/log_in", &[("email", ANN), ("password", PASSWORD)]).await;
    assert_eq!(location(&r), "/users/mfa");
    let pending: Value = app.call_server_fn_with(&browser, "/api/mfa_pending", &[]).await.json().await.unwrap();
    assert_eq!(pending["passkey"], true, "the challenge page offers the passkey");
    let (token, opts) = options(&app, &browser, "/api/mfa_passkey_options", &[]).await;
    assert_eq!(opts["publicKey"]["allowCredentials"].as_array().unwrap().len(), 1);
    let answer = auth.assert(&opts).unwrap().to_string();
    let r =
        app.post_form_with(&browser, "/api/mfa_verify_passkey", &[("token", &token), ("credential", &answer)]).await;
    assert_eq!(location(&r), "/");
    assert_eq!(app.signed_in_as(&browser).await.as_deref(), Some(ANN));
    assert_eq!(audit_count(&app, "user.log_in", "success", "password; passkey").await, 1);

    // Sudo, once the window has closed, passes with the passkey.
    app.state().clock.advance(app.state().config.sudo_window_secs + 1);
    let r = app.call_server_fn_with(&browser, "/api/passkey_creation_options", &[]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let (token, opts) = options(&app, &browser, "/api/sudo_passkey_options", &[]).await;
    let answer = auth.assert(&opts).unwrap().to_string();
    // Bound to this session: another session of Ann's cannot use it.
    let (other, _, _, _) = passkey_sign_in(&app, &mut auth, "").await;
    let form = [("token", token.as_str()), ("credential", answer.as_str()), ("return_to", "/users/settings/security")];
    let r = app.call_server_fn_with(&other, "/api/sudo_with_passkey", &form).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let (token, opts) = options(&app, &browser, "/api/sudo_passkey_options", &[]).await;
    let answer = auth.assert(&opts).unwrap().to_string();
    let form = [("token", token.as_str()), ("credential", answer.as_str()), ("return_to", "/users/settings/security")];
    let r = app.post_form_with(&browser, "/api/sudo_with_passkey", &form).await;
    assert_eq!(location(&r), "/users/settings/security");
    let r = app.call_server_fn_with(&browser, "/api/passkey_creation_options", &[]).await;
    assert_eq!(r.status(), StatusCode::OK, "the sudo window is open again");
    assert_eq!(audit_count(&app, "user.sudo", "success", "passkey").await, 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s28_another_users_passkey_cannot_be_touched_and_a_removed_passkey_fails_at_once() {
    let app = TestApp::spawn().await;
    let mut auth = ann_with_passkey(&app).await;
    let id = passkeys_of(&app, &app.client).await["items"][0]["id"].as_str().unwrap().to_string();
    app.confirmed_user(BO, PASSWORD).await;
    let bo = app.another_browser(BO, PASSWORD).await;
    for (path, form) in [
        ("/api/remove_passkey", vec![("id", id.as_str())]),
        ("/api/rename_passkey", vec![("id", id.as_str()), ("name", "mine now")]),
    ] {
        let r = app.call_server_fn_with(&bo, path, &form).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
    }
    assert_eq!(passkeys_of(&app, &app.client).await["items"][0]["name"], "Passkey on Unknown device");

    // Ann renames it, then removes it: mail and audit, and it no longer signs in.
    let r = app.post_form("/api/rename_passkey", &[("id", &id), ("name", "  Work laptop ")]).await;
    assert_eq!(location(&r), "/users/settings/security");
    assert_eq!(passkeys_of(&app, &app.client).await["items"][0]["name"], "Work laptop");
    let r = app.post_form("/api/remove_passkey", &[("id", &id)]).await;
    assert_eq!(location(&r), "/users/settings/security");
    assert!(passkeys_of(&app, &app.client).await["items"].as_array().unwrap().is_empty());
    app.mail_with_subject(ANN, "A passkey was removed").await;
    assert_eq!(audit_count(&app, "passkey.removed", "success", "Work laptop").await, 1);
    let (browser, r, _, _) = passkey_sign_in(&app, &mut auth, "").await;
    assert_eq!(location(&r), "/users/log-in");
    assert_eq!(app.signed_in_as(&browser).await, None);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_way_to_sign_in_cannot_be_removed() {
    let app = TestApp::spawn().await;
    let _auth = ann_with_passkey(&app).await;
    // An account without a password (as OAuth or passkey-only accounts will be).
    sqlx::query("UPDATE users SET password_hash = NULL WHERE email = $1")
        .bind(ANN)
        .execute(&app.state().db.pool)
        .await
        .unwrap();
    let list = passkeys_of(&app, &app.client).await;
    assert_eq!(list["has_password"], false);
    let id = list["items"][0]["id"].as_str().unwrap().to_string();
    let r = app.call_server_fn("/api/remove_passkey", &[("id", &id)]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("only way to sign in"));
    assert_eq!(passkeys_of(&app, &app.client).await["items"].as_array().unwrap().len(), 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_passkey_input_gets_a_clear_error_not_a_500() {
    let app = TestApp::spawn().await;
    let _auth = ann_with_passkey(&app).await;
    let anon = new_client();
    let (token, _) = options(&app, &anon, "/api/passkey_sign_in_options", &[]).await;
    for (token, credential) in [(token.as_str(), "not json"), ("no-such-token", "{}"), ("", "")] {
        let r = app
            .call_server_fn_with(&anon, "/api/log_in_with_passkey", &[("token", token), ("credential", credential)])
            .await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{credential:?}");
        let body: Value = r.json().await.unwrap();
        assert!(body.to_string().contains("passkey"), "{body}");
    }
    let r = app.call_server_fn_with(&anon, "/api/passkey_sign_in_options", &[("email", "not an address")]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ceremony_lasts_five_minutes_and_housekeeping_removes_it() {
    let app = TestApp::spawn().await;
    let mut auth = ann_with_passkey(&app).await;
    app.log_out().await;
    let browser = new_client();
    let (token, opts) = options(&app, &browser, "/api/passkey_sign_in_options", &[]).await;
    let answer = auth.assert(&opts).unwrap().to_string();
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM webauthn_ceremonies").await, 1);
    app.state().clock.advance(backend::signin::passkeys::CEREMONY_SECS + 1);
    let r = app
        .call_server_fn_with(&browser, "/api/log_in_with_passkey", &[("token", &token), ("credential", &answer)])
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("expired"));
    assert_eq!(app.signed_in_as(&browser).await, None);
    backend::platform::housekeeping::purge_expired(app.state()).await.unwrap();
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM webauthn_ceremonies").await, 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_audit_row_cannot_be_written_no_passkey_is_added_or_removed() {
    let app = TestApp::spawn().await;
    app.confirmed_user(ANN, PASSWORD).await;
    app.log_in(ANN, PASSWORD).await;
    let mut auth = Authenticator::new(ORIGIN);
    break_audit_for(&app, "passkey.added").await;
    let (token, opts) = options(&app, &app.client, "/api/passkey_creation_options", &[]).await;
    let credential = auth.register(&opts).unwrap().to_string();
    let r = app.call_server_fn("/api/add_passkey", &[("token", &token), ("credential", &credential)]).await;
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM passkeys").await, 0, "no passkey without its audit row");
    assert!(app.mails_to(ANN).iter().all(|m| !m.subject.contains("passkey")), "and no mail");
    app.stop().await;
}

/// S51: a passkey counts as an admin's second factor. A passkey-only admin opens the console; a password sign-in
/// is asked for the passkey as its second step; admin actions take a fresh passkey proof, never the password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s51_a_passkey_is_an_admins_second_factor() {
    let app = TestApp::spawn().await;
    let mut auth = ann_with_passkey(&app).await;
    app.confirmed_user(BO, PASSWORD).await;
    let bo_id = app.user_id(BO).await;
    let email = domain::validation::EmailAddress::parse(ANN).unwrap();
    assert!(backend::admin::set_admin(app.state(), &email, true).await.unwrap());
    // Passwordless with the passkey: both factors at once; the console opens, not the enrolment page.
    let (admin, r, _, _) = passkey_sign_in(&app, &mut auth, ANN).await;
    assert_eq!(location(&r), "/");
    assert_eq!(app.get_with(&admin, "/admin").await.status(), StatusCode::OK);
    let act = |client: Client| {
        let (app, bo_id) = (&app, bo_id.clone());
        async move {
            let form =
                [("id", bo_id.as_str()), ("action", "send_password_reset"), ("session_id", ""), ("confirm_email", "")];
            app.call_server_fn_with(&client, "/api/admin_user_action", &form).await.status()
        }
    };
    assert_eq!(act(admin.clone()).await, StatusCode::OK, "the passkey sign-in opened the window");
    // The password alone is not enough: the sign-in asks for the passkey as its second step.
    let browser = new_client();
    let r = app.post_form_with(&browser, "/api/log_in", &[("email", ANN), ("password", PASSWORD)]).await;
    assert_eq!(location(&r), "/users/mfa");
    assert_eq!(app.signed_in_as(&browser).await, None, "no session before the second step");
    let (token, opts) = options(&app, &browser, "/api/mfa_passkey_options", &[]).await;
    let answer = auth.assert(&opts).unwrap().to_string();
    let r =
        app.post_form_with(&browser, "/api/mfa_verify_passkey", &[("token", &token), ("credential", &answer)]).await;
    assert_eq!(location(&r), "/");
    // Later, the window closed: the password does not open it again, the passkey does.
    app.state().clock.advance(11 * 60);
    app.get_with(&browser, "/admin").await; // keeps the session alive (admins: 15 minutes idle)
    assert_eq!(act(browser.clone()).await, StatusCode::FORBIDDEN);
    let r = app.call_server_fn_with(&browser, "/api/sudo", &[("password", PASSWORD)]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let (token, opts) = options(&app, &browser, "/api/sudo_passkey_options", &[]).await;
    let answer = auth.assert(&opts).unwrap().to_string();
    let r = app
        .call_server_fn_with(&browser, "/api/sudo_with_passkey", &[("token", &token), ("credential", &answer)])
        .await;
    assert!(r.status().is_success(), "{}", r.status());
    assert_eq!(act(browser.clone()).await, StatusCode::OK);
    app.stop().await;
}
