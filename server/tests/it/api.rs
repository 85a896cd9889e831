//! Personal access tokens and the JSON API (`/api/v1`): tokens made on the page (shown once, stored as digests),
//! bearer-only routes with problem-JSON errors, scopes and organization grants, what kills a token, per-token
//! limits, and the OpenAPI document.
use reqwest::{header, Client, Response, StatusCode};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::{
    admin::{act, admin_browser},
    common::*,
    orgs::{create_org, member},
};

const ANN: &str = "ann@example.com";
const BO: &str = "bo@example.com";

/// Makes a token on the tokens page as its script does (the signed-in `client`, its sudo window open). Returns the
/// status and the answer's JSON.
async fn make(app: &TestApp, client: &Client, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let (status, body) = app.call_form(client, "create_api_token", form).await;
    (status, serde_json::from_str(&body).unwrap_or_else(|_| panic!("JSON: {body}")))
}

/// A token named `name` with `access` (`read` or `write`), granted `orgs`, for 30 days.
async fn token(app: &TestApp, client: &Client, name: &str, access: &str, orgs: &[&str]) -> String {
    let mut form = vec![("name", name), ("access", access), ("expires", "30")];
    form.extend(orgs.iter().map(|o| ("organizations[]", *o)));
    let (status, v) = make(app, client, &form).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    v["values"]["token"].as_str().unwrap_or_else(|| panic!("the token in the answer: {v}")).to_string()
}

async fn api(app: &TestApp, method: reqwest::Method, path: &str, token: &str) -> Response {
    bare_client().request(method, app.url(path)).bearer_auth(token).send().await.unwrap()
}

async fn get(app: &TestApp, path: &str, token: &str) -> Response {
    api(app, reqwest::Method::GET, path, token).await
}

/// The problem JSON of an error answer, after checking its content type.
async fn problem(r: Response) -> Value {
    let ct = r.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    assert_eq!(ct, "application/problem+json");
    let v: Value = r.json().await.unwrap();
    assert!(v["title"].is_string() && v["detail"].is_string() && v["status"].is_u64(), "{v}");
    v
}

fn challenge(r: &Response) -> String {
    r.headers().get(header::WWW_AUTHENTICATE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
}

#[tokio::test]
async fn s53_a_token_is_shown_once_stored_as_a_digest_mailed_and_reads_the_account() {
    let app = TestApp::spawn().await;
    let ann = app.signed_in_user(ANN).await;
    let token = token(&app, &ann, "deploy script", "read", &[]).await;
    assert!(token.starts_with("pc_pat_") && token.len() == 50, "{token}");

    // Only the digest is kept; no column holds the token.
    let digest = hex::encode(Sha256::digest(token.as_bytes()));
    assert_eq!(app.i64("SELECT COUNT(*) FROM api_tokens WHERE token_digest = $1", &[&digest]).await, 1);
    let stored = app
        .i64("SELECT COUNT(*) FROM api_tokens WHERE name LIKE $1 OR hint LIKE $1", &[&format!("%{}%", &token[7..20])])
        .await;
    assert_eq!(stored, 0, "no stored field holds the token");

    let r = get(&app, "/api/v1/me", &token).await;
    assert_eq!(r.status(), StatusCode::OK);
    let me: Value = r.json().await.unwrap();
    assert_eq!(me["email"], ANN);
    assert_eq!(me["token"]["name"], "deploy script");
    assert_eq!(me["token"]["scopes"], serde_json::json!(["read"]));

    // The list shows the hint, and when and where it was last used; never the token again.
    let (status, body) = app.call_form(&ann, "api_tokens_data", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!body.contains(&token), "the list never shows the token");
    let data: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(data["tokens"][0]["hint"], format!("{}…", &token[..11]));
    assert!(data["tokens"][0]["last_used"].as_str().is_some_and(|u| u.contains("from 127.0.0.1")), "{data}");

    let mail = app.mail_with_subject(ANN, "personal access token").await;
    assert!(mail.text.contains("deploy script") && mail.text.contains("/users/settings/api-tokens"), "{}", mail.text);
    assert!(!mail.text.contains(&token), "the mail does not carry the token");
    assert_eq!(app.i64("SELECT COUNT(*) FROM audit_events WHERE action = 'user.api_token_created'", &[]).await, 1);
}

#[tokio::test]
async fn s53_the_plain_form_shows_the_new_token_once() {
    let app = TestApp::spawn().await;
    let ann = app.signed_in_user(ANN).await;
    let r = app
        .post_form_with(&ann, "/api/create_api_token", &[("name", "cli"), ("access", "write"), ("expires", "never")])
        .await;
    assert_eq!(location(&r), "/users/settings/api-tokens");
    let page = app.get_with(&ann, "/users/settings/api-tokens").await.text().await.unwrap();
    let start = page.find("pc_pat_").expect("the page shows the new token");
    let token: String = page[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || "_-".contains(*c)).collect();
    assert_eq!(get(&app, "/api/v1/me", &token).await.status(), StatusCode::OK);
    let again = app.get_with(&ann, "/users/settings/api-tokens").await.text().await.unwrap();
    assert!(!again.contains(&token), "shown only once");
    assert!(again.contains("never expires") && again.contains("read and write"), "the list describes it");
}

#[tokio::test]
async fn s53_making_a_token_needs_a_fresh_confirmation_a_name_and_known_choices() {
    let app = TestApp::spawn().await;
    let ann = app.signed_in_user(ANN).await;
    for (form, field) in [
        (vec![("name", "  "), ("access", "read"), ("expires", "30")], "name"),
        (vec![("name", "x"), ("access", "admin"), ("expires", "30")], "access"),
        (vec![("name", "x"), ("access", "read"), ("expires", "5")], "expires"),
        (vec![("name", "x"), ("access", "read"), ("expires", "soon")], "expires"),
        (vec![("name", "x"), ("access", "read"), ("expires", "30"), ("organizations[]", "nope")], "organizations"),
    ] {
        let (status, v) = make(&app, &ann, &form).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{form:?}: {v}");
        assert!(v.to_string().contains(field), "{form:?} names {field}: {v}");
    }
    assert_eq!(app.i64("SELECT COUNT(*) FROM api_tokens", &[]).await, 0, "nothing made from bad input");

    // Past the sudo window (10 minutes after the sign-in), the page asks to confirm it's you first.
    app.state().clock.advance(11 * 60);
    let (status, v) = make(&app, &ann, &[("name", "late"), ("access", "read"), ("expires", "30")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    assert!(v.to_string().contains("ReauthenticationRequired"), "{v}");
    assert_eq!(app.i64("SELECT COUNT(*) FROM api_tokens", &[]).await, 0);
}

#[tokio::test]
async fn s44_bearer_routes_ignore_cookies_and_cookie_routes_ignore_bearer_tokens() {
    let app = TestApp::spawn().await;
    let ann = app.signed_in_user(ANN).await;
    let token = token(&app, &ann, "t", "read", &[]).await;

    // The signed-in browser's cookie opens nothing under /api/v1.
    let r = ann.get(app.url("/api/v1/me")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(challenge(&r), r#"Bearer realm="api""#);
    problem(r).await;

    // The token opens no page or server function.
    let r = bare_client().post(app.url("/api/api_tokens_data")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = bare_client().get(app.url("/users/settings")).bearer_auth(&token).send().await.unwrap();
    assert!(location(&r).starts_with("/users/log-in"), "the settings page sends a token holder to log in");
}

#[tokio::test]
async fn s53_missing_malformed_unknown_and_revoked_tokens_are_refused_with_a_bearer_challenge() {
    let app = TestApp::spawn().await;
    let ann = app.signed_in_user(ANN).await;
    let token = token(&app, &ann, "t", "read", &[]).await;

    let r = bare_client().get(app.url("/api/v1/me")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(challenge(&r), r#"Bearer realm="api""#);

    let forged = format!("pc_pat_{}", "A".repeat(43));
    for bad in [forged.as_str(), "pc_pat_short", "not-a-token", &token[..token.len() - 1]] {
        let r = get(&app, "/api/v1/me", bad).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{bad}");
        assert!(challenge(&r).contains(r#"error="invalid_token""#), "{bad}");
        let p = problem(r).await;
        assert_eq!(p["status"], 401);
    }
    let r = bare_client()
        .get(app.url("/api/v1/me"))
        .header(header::AUTHORIZATION, format!("Basic {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "only the bearer scheme");

    let id = app.text("SELECT id FROM api_tokens", &[]).await;
    let (status, _) = app.call_form(&ann, "revoke_api_token", &[("id", &id)]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(get(&app, "/api/v1/me", &token).await.status(), StatusCode::UNAUTHORIZED, "revoked: dead at once");
    assert_eq!(app.i64("SELECT COUNT(*) FROM audit_events WHERE action = 'user.api_token_revoked'", &[]).await, 1);

    // Another account cannot revoke what is not theirs.
    let token = self::token(&app, &ann, "kept", "read", &[]).await;
    let id = app.text("SELECT id FROM api_tokens", &[]).await;
    let bo = app.signed_in_user(BO).await;
    let (status, _) = app.call_form(&bo, "revoke_api_token", &[("id", &id)]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(get(&app, "/api/v1/me", &token).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn s53_a_token_expires_at_its_lifetime() {
    let app = TestApp::spawn().await;
    let ann = app.signed_in_user(ANN).await;
    let (status, v) = make(&app, &ann, &[("name", "week"), ("access", "read"), ("expires", "7")]).await;
    assert_eq!(status, StatusCode::OK);
    let token = v["values"]["token"].as_str().unwrap().to_string();
    app.state().clock.advance(7 * 86400 - 60);
    assert_eq!(get(&app, "/api/v1/me", &token).await.status(), StatusCode::OK, "a minute before");
    app.state().clock.advance(61);
    assert_eq!(get(&app, "/api/v1/me", &token).await.status(), StatusCode::UNAUTHORIZED, "at its end");
}

#[tokio::test]
async fn s53_scopes_decide_what_a_token_may_change() {
    let app = TestApp::spawn().await;
    let ann = app.signed_in_user(ANN).await;
    let reader = token(&app, &ann, "reader", "read", &[]).await;
    let writer = token(&app, &ann, "writer", "write", &[]).await;
    let _phone = app.another_browser(ANN, PASSWORD).await;

    let sessions: Value = get(&app, "/api/v1/sessions", &reader).await.json().await.unwrap();
    let ids: Vec<String> = sessions.as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(ids.len(), 2, "{sessions}");
    let ann_session = app.text("SELECT id FROM sessions ORDER BY created_at, id LIMIT 1", &[]).await;
    assert!(ids.contains(&ann_session));

    let path = format!("/api/v1/sessions/{}", ids[0]);
    let r = api(&app, reqwest::Method::DELETE, &path, &reader).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(challenge(&r).contains(r#"error="insufficient_scope""#) && challenge(&r).contains(r#"scope="write""#));
    problem(r).await;
    assert_eq!(app.i64("SELECT COUNT(*) FROM sessions", &[]).await, 2, "nothing ended");

    for id in &ids {
        let r = api(&app, reqwest::Method::DELETE, &format!("/api/v1/sessions/{id}"), &writer).await;
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
    }
    assert_eq!(app.signed_in_as(&ann).await, None, "the browser was signed out");
    let r = api(&app, reqwest::Method::DELETE, &path, &writer).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    problem(r).await;

    // Another account's session is "not found" too.
    let bo = app.signed_in_user(BO).await;
    let bo_session =
        app.text("SELECT s.id FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.email = $1", &[BO]).await;
    let r = api(&app, reqwest::Method::DELETE, &format!("/api/v1/sessions/{bo_session}"), &writer).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.signed_in_as(&bo).await.as_deref(), Some(BO));
}

#[tokio::test]
async fn s53_a_token_reads_only_the_organizations_it_was_granted_and_dies_when_its_owner_leaves_one() {
    let app = TestApp::spawn().await;
    let ann = app.signed_in_user(ANN).await;
    create_org(&app, &ann, "Acme", "acme").await;
    create_org(&app, &ann, "Beta", "beta").await;
    let bo = member(&app, &ann, "acme", BO, "member").await;
    // Ann's sudo window is still open from her sign-in.
    let token = token(&app, &ann, "acme only", "read", &["acme"]).await;

    let orgs: Value = get(&app, "/api/v1/organizations", &token).await.json().await.unwrap();
    assert_eq!(orgs.as_array().unwrap().len(), 1, "{orgs}");
    assert_eq!(orgs[0]["slug"], "acme");
    assert_eq!(orgs[0]["role"], "owner");
    let members: Value = get(&app, "/api/v1/organizations/acme/members", &token).await.json().await.unwrap();
    let emails: Vec<&str> = members.as_array().unwrap().iter().map(|m| m["email"].as_str().unwrap()).collect();
    assert_eq!(emails, [ANN, BO]);

    let r = get(&app, "/api/v1/organizations/beta/members", &token).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "a member, but not granted");
    assert!(challenge(&r).contains("insufficient_scope"));
    let r = get(&app, "/api/v1/organizations/gamma/members", &token).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    problem(r).await;

    // Bo's token for Acme dies when Bo leaves it.
    let bo_token = self::token(&app, &bo, "bo", "read", &["acme"]).await;
    assert_eq!(get(&app, "/api/v1/organizations/acme/members", &bo_token).await.status(), StatusCode::OK);
    let r = app.post_form_with(&bo, "/api/leave_organization", &[("slug", "acme")]).await;
    assert!(r.status().is_redirection(), "{}", r.status());
    assert_eq!(get(&app, "/api/v1/me", &bo_token).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.i64("SELECT COUNT(*) FROM api_tokens WHERE name = 'bo'", &[]).await, 0, "deleted, not just refused");
    assert_eq!(get(&app, "/api/v1/me", &token).await.status(), StatusCode::OK, "Ann's token lives on");
}

#[tokio::test]
async fn s35_a_lock_a_required_password_change_and_a_deletion_kill_every_token() {
    let app = TestApp::spawn_with(|c| c.rate_limit_anonymous_per_minute = 10_000).await;
    let (admin, _) = admin_browser(&app, "root@example.com").await;
    for (email, action) in [("lock@example.com", "lock"), ("change@example.com", "require_password_change")] {
        let client = app.signed_in_user(email).await;
        let token = token(&app, &client, "t", "read", &[]).await;
        assert_eq!(get(&app, "/api/v1/me", &token).await.status(), StatusCode::OK);
        let id = app.user_id(email).await;
        let (status, body) = act(&app, &admin, &id, action).await;
        assert_eq!(status, StatusCode::OK, "{action}: {body}");
        assert_eq!(get(&app, "/api/v1/me", &token).await.status(), StatusCode::UNAUTHORIZED, "{action}");
        assert_eq!(app.i64("SELECT COUNT(*) FROM api_tokens WHERE user_id = $1", &[&id]).await, 0, "{action}");
        if action == "lock" {
            assert_eq!(act(&app, &admin, &id, "unlock").await.0, StatusCode::OK);
            assert_eq!(
                get(&app, "/api/v1/me", &token).await.status(),
                StatusCode::UNAUTHORIZED,
                "stays dead after unlock"
            );
        }
    }

    let client = app.signed_in_user("leaving@example.com").await;
    let token = token(&app, &client, "t", "read", &[]).await;
    let (status, body) = app.call_form(&client, "delete_account", &[("confirm_email", "leaving@example.com")]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(get(&app, "/api/v1/me", &token).await.status(), StatusCode::UNAUTHORIZED, "scheduled for deletion");
}

#[tokio::test]
async fn each_token_has_its_own_allowance() {
    let app = TestApp::spawn_with(|c| c.rate_limit_api_per_minute = 3).await;
    let ann = app.signed_in_user(ANN).await;
    let first = token(&app, &ann, "first", "read", &[]).await;
    let second = token(&app, &ann, "second", "read", &[]).await;
    for _ in 0..3 {
        assert_eq!(get(&app, "/api/v1/me", &first).await.status(), StatusCode::OK);
    }
    let r = get(&app, "/api/v1/me", &first).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = r.headers()[header::RETRY_AFTER].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));
    problem(r).await;
    assert_eq!(get(&app, "/api/v1/me", &second).await.status(), StatusCode::OK, "the other token is untouched");
}

#[tokio::test]
async fn s60_guessing_tokens_is_slowed_per_client_address() {
    let app = TestApp::spawn_with(|c| c.rate_limit_anonymous_per_minute = 5).await;
    let forged = format!("pc_pat_{}", "B".repeat(43));
    for _ in 0..5 {
        assert_eq!(get(&app, "/api/v1/me", &forged).await.status(), StatusCode::UNAUTHORIZED);
    }
    assert_eq!(get(&app, "/api/v1/me", &forged).await.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s53_an_account_holds_at_most_twenty_tokens_even_when_asked_at_once() {
    let app = TestApp::spawn().await;
    let ann = app.signed_in_user(ANN).await;
    for i in 0..19 {
        token(&app, &ann, &format!("t{i}"), "read", &[]).await;
    }
    let attempts = (0..8).map(|i| {
        let (app, ann) = (&app, &ann);
        async move {
            let name = format!("race{i}");
            make(app, ann, &[("name", &name), ("access", "read"), ("expires", "30")]).await.0
        }
    });
    // Without the creation's own lock, all eight would count the same rows before any inserts.
    let statuses = at_once_with_writes_held(&app, "api_tokens", attempts).await;
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == StatusCode::OK || *s == StatusCode::UNPROCESSABLE_ENTITY), "{statuses:?}");
    assert_eq!(app.i64("SELECT COUNT(*) FROM api_tokens", &[]).await, 20);
}

#[tokio::test]
async fn the_openapi_document_describes_every_endpoint_and_unknown_ones_answer_problem_json() {
    let app = TestApp::spawn().await;
    let r = bare_client().get(app.url("/api/v1/openapi.json")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let doc: Value = r.json().await.unwrap();
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    let paths: Vec<&str> = doc["paths"].as_object().unwrap().keys().map(String::as_str).collect();
    for p in [
        "/api/v1/me",
        "/api/v1/sessions",
        "/api/v1/sessions/{id}",
        "/api/v1/organizations",
        "/api/v1/organizations/{slug}/members",
    ] {
        assert!(paths.contains(&p), "{p} in {paths:?}");
    }
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    assert!(doc["paths"]["/api/v1/sessions/{id}"]["delete"].is_object());

    let r = bare_client().get(app.url("/api/v1/nothing")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    problem(r).await;
    let r = bare_client().post(app.url("/api/v1/openapi.json")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    problem(r).await;
}

#[tokio::test]
async fn the_reference_page_shows_every_endpoint_of_the_document() {
    let app = TestApp::spawn().await;
    let r = bare_client().get(app.url("/developers/api")).header(header::ACCEPT, "text/html").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    for text in [
        "/api/v1/me",
        "/api/v1/sessions/{id}",
        "/api/v1/organizations/{slug}/members",
        "Signs one of the account",
        "curl -H",
        "http://localhost:3000/api/v1/me",
    ] {
        assert!(page.contains(text), "{text} on the page");
    }
}

#[tokio::test]
async fn tokens_show_in_the_owners_activity_and_on_the_admin_user_page() {
    let app = TestApp::spawn().await;
    let ann = app.signed_in_user(ANN).await;
    let token = token(&app, &ann, "backup job", "read", &[]).await;
    get(&app, "/api/v1/me", &token).await;
    let (_, activity) = app.call_form(&ann, "list_sessions", &[]).await;
    assert!(activity.contains("API token created"), "{activity}");

    let (admin, _) = admin_browser(&app, "root@example.com").await;
    let id = app.user_id(ANN).await;
    let (status, body) = app.call_form(&admin, "admin_user", &[("id", &id)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    let line = v["api_tokens"][0].as_str().unwrap_or_default();
    assert!(line.starts_with("backup job · pc_pat_") && line.contains("from 127.0.0.1"), "{v}");
    assert!(!body.contains(&token));
}
