//! Portcullis as the OpenID provider of its own apps: discovery and keys, the authorization code flow with PKCE
//! through the normal sign-in (a second factor included), refresh rotation and reuse, revocation, and what ends a
//! grant. Tokens are checked against the published keys with jsonwebtoken, as a client would.
use std::collections::HashMap;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use reqwest::{header, Client, Response, StatusCode};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::{
    admin::{act, admin_browser, log_in_with_code},
    common::*,
    mfa::enable_totp,
};

const ANN: &str = "ann@example.com";
const REDIRECT: &str = "https://app.example.com/callback";

struct App {
    id: String,
    secret: Option<String>,
}

async fn register(app: &TestApp, first_party: bool, public: bool) -> App {
    use backend::provider::clients::{create, NewClient};
    let uris = [REDIRECT.to_string(), "http://127.0.0.1/native".to_string()];
    let c = create(app.state(), NewClient { name: "Notes", redirect_uris: &uris, public, first_party }).await.unwrap();
    App { id: c.id, secret: c.secret }
}

/// Ann signed in in a browser of her own, and a registered app.
async fn ann_and_app(app: &TestApp, first_party: bool, public: bool) -> (App, Client) {
    let client = register(app, first_party, public).await;
    (client, app.signed_in_user(ANN).await)
}

/// A PKCE pair: (verifier, S256 challenge).
fn pkce() -> (String, String) {
    let verifier = backend::platform::crypto::random_token();
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

fn authorize_path(client: &App, challenge: &str, scope: &str, redirect: &str) -> String {
    let q: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", &client.id)
        .append_pair("redirect_uri", redirect)
        .append_pair("scope", scope)
        .append_pair("state", "st4te")
        .append_pair("nonce", "n0nce")
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256")
        .finish();
    format!("/oauth/authorize?{q}")
}

/// The query of a redirect to the client.
fn answer(r: &Response) -> HashMap<String, String> {
    let to = location(r);
    assert!(to.starts_with(REDIRECT) || to.starts_with("http://127.0.0.1"), "to the client: {to}");
    url::Url::parse(&to).unwrap().query_pairs().into_owned().collect()
}

async fn code_for(app: &TestApp, browser: &Client, client: &App, challenge: &str, scope: &str) -> String {
    let r = app.get_with(browser, &authorize_path(client, challenge, scope, REDIRECT)).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", r.status());
    let q = answer(&r);
    assert_eq!(q["state"], "st4te");
    assert_eq!(q["iss"], app.state().config.base_url);
    q.get("code").unwrap_or_else(|| panic!("a code: {q:?}")).clone()
}

async fn token(app: &TestApp, client: &App, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let mut req = bare_client().post(app.url("/oauth/token"));
    let mut form: Vec<(&str, &str)> = form.to_vec();
    match &client.secret {
        Some(secret) => req = req.basic_auth(&client.id, Some(secret)),
        None => form.push(("client_id", &client.id)),
    }
    let r = req.form(&form).send().await.unwrap();
    assert_eq!(r.headers().get(header::CACHE_CONTROL).map(|v| v.to_str().unwrap()), Some("no-store"));
    (r.status(), r.json().await.unwrap())
}

async fn exchange(app: &TestApp, client: &App, code: &str, verifier: &str) -> (StatusCode, Value) {
    token(
        app,
        client,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ],
    )
    .await
}

/// A code for `scope` in `browser`, exchanged: the tokens.
async fn tokens_for(app: &TestApp, browser: &Client, client: &App, scope: &str) -> Value {
    let (verifier, challenge) = pkce();
    let code = code_for(app, browser, client, &challenge, scope).await;
    let (status, tokens) = exchange(app, client, &code, &verifier).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    tokens
}

/// RFC 7009 revocation by the client itself.
async fn revoke(app: &TestApp, client: &App, token: &str) {
    let r = bare_client()
        .post(app.url("/oauth/revoke"))
        .basic_auth(&client.id, client.secret.as_deref())
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

async fn userinfo(app: &TestApp, access_token: &str) -> Response {
    bare_client().get(app.url("/oauth/userinfo")).bearer_auth(access_token).send().await.unwrap()
}

/// The claims of a JWT, its signature checked against the provider's published keys.
pub(crate) async fn verified(app: &TestApp, jwt: &str, audience: &str) -> Value {
    use jsonwebtoken::{decode, decode_header, jwk::JwkSet, DecodingKey, Validation};
    let set: JwkSet = bare_client().get(app.url("/oauth/jwks.json")).send().await.unwrap().json().await.unwrap();
    let header = decode_header(jwt).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::ES256);
    let jwk = set.find(header.kid.as_deref().unwrap()).expect("the signing key is published");
    let mut v = Validation::new(jsonwebtoken::Algorithm::ES256);
    v.set_issuer(&[&app.state().config.base_url]);
    v.set_audience(&[audience]);
    decode::<Value>(jwt, &DecodingKey::from_jwk(jwk).unwrap(), &v).expect("a valid signature").claims
}

#[tokio::test]
async fn discovery_names_this_site_as_issuer_and_its_endpoints() {
    let app = TestApp::spawn().await;
    let d: Value =
        bare_client().get(app.url("/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
    let issuer = &app.state().config.base_url;
    assert_eq!(d["issuer"], *issuer);
    assert_eq!(d["token_endpoint"], format!("{issuer}/oauth/token"));
    assert_eq!(d["code_challenge_methods_supported"], serde_json::json!(["S256"]));
    assert_eq!(d["response_types_supported"], serde_json::json!(["code"]));
    let jwks: Value = bare_client().get(app.url("/oauth/jwks.json")).send().await.unwrap().json().await.unwrap();
    let key = &jwks["keys"][0];
    assert_eq!(
        (key["kty"].as_str(), key["crv"].as_str(), key["use"].as_str()),
        (Some("EC"), Some("P-256"), Some("sig"))
    );
    assert!(key.get("d").is_none(), "no private part is published");
    let (kid, sealed): (String, String) = sqlx::query_as("SELECT kid, private_key FROM oauth_signing_keys")
        .fetch_one(&app.state().db.pool)
        .await
        .unwrap();
    assert_eq!(key["kid"], kid);
    let keys = &app.state().config.data_keys;
    assert!(keys.decrypt(&sealed, &format!("oauth_signing_key:{kid}")).is_ok(), "sealed with the data key ring");
    assert!(keys.decrypt(&sealed, "oauth_signing_key:another").is_err(), "bound to its key id");
}

#[tokio::test]
async fn s61_a_first_party_app_gets_a_code_then_tokens_userinfo_and_a_verified_id_token() {
    let app = TestApp::spawn().await;
    let (client, browser) = ann_and_app(&app, true, false).await;
    let (verifier, challenge) = pkce();
    let code = code_for(&app, &browser, &client, &challenge, "openid email profile").await;
    let (status, t) = exchange(&app, &client, &code, &verifier).await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!(t["token_type"], "Bearer");
    assert!(t.get("refresh_token").is_none(), "no offline_access, no refresh token");

    let id = verified(&app, t["id_token"].as_str().unwrap(), &client.id).await;
    assert_eq!(id["nonce"], "n0nce");
    assert_eq!(id["email"], ANN);
    assert_eq!(id["sub"], app.user_id(ANN).await);
    assert_eq!(id["amr"], serde_json::json!(["pwd"]));
    assert_eq!(id["acr"], "urn:portcullis:acr:1fa");
    assert!(id["auth_time"].as_i64().unwrap() <= id["iat"].as_i64().unwrap());

    let r = userinfo(&app, t["access_token"].as_str().unwrap()).await;
    assert_eq!(r.status(), StatusCode::OK);
    let info: Value = r.json().await.unwrap();
    assert_eq!((info["email"].as_str(), info["email_verified"].as_bool()), (Some(ANN), Some(true)));

    // The code works once; the second redemption also ends what the first one gave (S61).
    let (status, again) = exchange(&app, &client, &code, &verifier).await;
    assert_eq!((status, again["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
    assert_eq!(userinfo(&app, t["access_token"].as_str().unwrap()).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.i64("SELECT COUNT(*) FROM audit_events WHERE action = 'user.oauth_code_reused'", &[]).await, 1);
}

#[tokio::test]
async fn s61_pkce_the_redirect_uri_and_the_client_are_checked() {
    let app = TestApp::spawn().await;
    let (client, browser) = ann_and_app(&app, true, false).await;

    // An unknown client or an unregistered redirect URI: a page here, never a redirect to the stranger.
    for path in [
        authorize_path(&App { id: "nope".into(), secret: None }, &pkce().1, "openid", REDIRECT),
        authorize_path(&client, &pkce().1, "openid", "https://evil.example.com/callback"),
    ] {
        let r = app.get_with(&browser, &path).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert!(r.headers().get(header::LOCATION).is_none());
    }
    // No PKCE, or plain: back to the client with invalid_request.
    let plain = authorize_path(&client, "abc", "openid", REDIRECT).replace("S256", "plain");
    assert_eq!(answer(&app.get_with(&browser, &plain).await)["error"], "invalid_request");
    assert_eq!(
        answer(&app.get_with(&browser, &authorize_path(&client, &pkce().1, "admin", REDIRECT)).await)["error"],
        "invalid_scope"
    );
    // A native app's loopback redirect on any port (RFC 8252).
    let native = authorize_path(&client, &pkce().1, "openid", "http://127.0.0.1:49152/native");
    assert!(answer(&app.get_with(&browser, &native).await).contains_key("code"));

    let (verifier, challenge) = pkce();
    let code = code_for(&app, &browser, &client, &challenge, "openid").await;
    let (status, t) = exchange(&app, &client, &code, &pkce().0).await;
    assert_eq!((status, t["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")), "another verifier");
    let wrong_secret = App { id: client.id.clone(), secret: Some("wrong".into()) };
    let (status, t) = exchange(&app, &wrong_secret, &code, &verifier).await;
    assert_eq!((status, t["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")));
    let no_secret = App { id: client.id.clone(), secret: None };
    assert_eq!(
        exchange(&app, &no_secret, &code, &verifier).await.0,
        StatusCode::UNAUTHORIZED,
        "confidential needs its secret"
    );
    // A code is good for 60 seconds.
    app.state().clock.advance(61);
    assert_eq!(exchange(&app, &client, &code, &verifier).await.1["error"], "invalid_grant");
}

#[tokio::test]
async fn s62_refresh_tokens_rotate_and_a_reused_one_ends_the_whole_grant() {
    let app = TestApp::spawn().await;
    let (client, browser) = ann_and_app(&app, true, true).await;
    let first = tokens_for(&app, &browser, &client, "openid offline_access").await;
    let r1 = first["refresh_token"].as_str().expect("offline_access gives a refresh token").to_string();

    let (status, second) = token(&app, &client, &[("grant_type", "refresh_token"), ("refresh_token", &r1)]).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let r2 = second["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(r1, r2, "rotated");
    assert_eq!(userinfo(&app, second["access_token"].as_str().unwrap()).await.status(), StatusCode::OK);

    // The used one again: refused, and the family dies with it — the new refresh token and the access tokens too.
    let (status, reuse) = token(&app, &client, &[("grant_type", "refresh_token"), ("refresh_token", &r1)]).await;
    assert_eq!((status, reuse["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
    let (_, after) = token(&app, &client, &[("grant_type", "refresh_token"), ("refresh_token", &r2)]).await;
    assert_eq!(after["error"], "invalid_grant");
    assert_eq!(userinfo(&app, second["access_token"].as_str().unwrap()).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.i64("SELECT COUNT(*) FROM audit_events WHERE action = 'user.oauth_refresh_reused'", &[]).await, 1);
}

#[tokio::test]
async fn s62_revocation_and_a_lock_end_a_grant() {
    let app = TestApp::spawn_with(|c| c.rate_limit_anonymous_per_minute = 10_000).await;
    let (client, browser) = ann_and_app(&app, true, false).await;
    for how in ["revoke", "lock"] {
        let t = tokens_for(&app, &browser, &client, "openid offline_access").await;
        let refresh = t["refresh_token"].as_str().unwrap();
        if how == "revoke" {
            revoke(&app, &client, refresh).await;
        } else {
            let (admin, _) = admin_browser(&app, "root@example.com").await;
            assert_eq!(act(&app, &admin, &app.user_id(ANN).await, "lock").await.0, StatusCode::OK);
        }
        let (_, again) = token(&app, &client, &[("grant_type", "refresh_token"), ("refresh_token", refresh)]).await;
        assert_eq!(again["error"], "invalid_grant", "{how}");
        assert_eq!(
            userinfo(&app, t["access_token"].as_str().unwrap()).await.status(),
            StatusCode::UNAUTHORIZED,
            "{how}"
        );
    }
}

#[tokio::test]
async fn s12_a_person_with_two_step_verification_signs_in_through_the_normal_pages_and_the_id_token_says_so() {
    let app = TestApp::spawn_with(|c| c.rate_limit_anonymous_per_minute = 10_000).await;
    let client = register(&app, true, false).await;
    let setup = app.signed_in_user(ANN).await;
    let (auth, _) = enable_totp(&app, &setup).await;
    let (_, challenge) = pkce();
    let path = authorize_path(&client, &challenge, "openid", REDIRECT);

    // Not signed in: to the log-in page, coming back to the request.
    let fresh = new_client();
    let r = app.get_with(&fresh, &path).await;
    let to = location(&r);
    assert!(to.starts_with("/users/log-in?return_to=/oauth/authorize?"), "{to}");

    let browser = log_in_with_code(&app, ANN, &auth).await;
    let t = tokens_for(&app, &browser, &client, "openid").await;
    let id = verified(&app, t["id_token"].as_str().unwrap(), &client.id).await;
    assert_eq!(id["amr"], serde_json::json!(["pwd", "otp", "mfa"]));
    assert_eq!(id["acr"], "urn:portcullis:acr:mfa");
}

#[tokio::test]
async fn an_app_that_is_not_first_party_asks_for_consent() {
    let app = TestApp::spawn().await;
    let (client, browser) = ann_and_app(&app, false, false).await;
    let (_, challenge) = pkce();
    let path = authorize_path(&client, &challenge, "openid email", REDIRECT);
    let r = app.get_with(&browser, &path).await;
    assert_eq!(r.status(), StatusCode::OK);
    // The browser applies form-action to the redirect after the post: the app's origin is allowed, nothing else.
    let csp = r.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap().to_string();
    assert!(csp.ends_with("form-action 'self' https://app.example.com") && csp.contains("script-src 'none'"), "{csp}");
    let page = r.text().await.unwrap();
    assert!(page.contains("Allow Notes to use your account?") && page.contains("See your e-mail address"), "{page}");

    let r = decide(&app, &browser, &path, "deny").await;
    assert_eq!(answer(&r)["error"], "access_denied");
    let r = decide(&app, &browser, &path, "allow").await;
    assert!(answer(&r).contains_key("code"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s61_a_code_redeemed_several_times_at_once_gives_tokens_once() {
    let app = TestApp::spawn().await;
    let (client, browser) = ann_and_app(&app, true, false).await;
    let (verifier, challenge) = pkce();
    let code = code_for(&app, &browser, &client, &challenge, "openid").await;
    let attempts = (0..4).map(|_| exchange(&app, &client, &code, &verifier));
    let answers = futures::future::join_all(attempts).await;
    let ok = answers.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    assert_eq!(ok, 1, "{answers:?}");
    assert!(answers.iter().all(|(s, v)| *s == StatusCode::OK || v["error"] == "invalid_grant"), "{answers:?}");
    assert!(app.i64("SELECT COUNT(*) FROM oauth_grants", &[]).await <= 1);
}

#[tokio::test]
async fn a_rotated_signing_key_stays_published_while_its_tokens_live() {
    let app = TestApp::spawn().await;
    let (client, browser) = ann_and_app(&app, true, false).await;
    let before = tokens_for(&app, &browser, &client, "openid").await;
    let old_kid = jsonwebtoken::decode_header(before["access_token"].as_str().unwrap()).unwrap().kid.unwrap();

    let retired = backend::provider::keys::rotate(app.state()).await.unwrap();
    assert_eq!(retired.as_deref(), Some(old_kid.as_str()));
    let after = tokens_for(&app, &browser, &client, "openid").await;
    let new_kid = jsonwebtoken::decode_header(after["id_token"].as_str().unwrap()).unwrap().kid.unwrap();
    assert_ne!(new_kid, old_kid, "new tokens are signed by the new key");
    verified(&app, before["id_token"].as_str().unwrap(), &client.id).await;
    assert_eq!(
        userinfo(&app, before["access_token"].as_str().unwrap()).await.status(),
        StatusCode::OK,
        "old tokens still work"
    );

    // Once every token the old key signed has expired, it is no longer published.
    app.state().clock.advance(backend::provider::ACCESS_TOKEN_SECS + 1);
    let jwks: Value = bare_client().get(app.url("/oauth/jwks.json")).send().await.unwrap().json().await.unwrap();
    let kids: Vec<&str> = jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert_eq!(kids, [new_kid.as_str()]);
}

#[tokio::test]
async fn an_admin_lists_the_apps_and_revoking_one_ends_what_it_was_given() {
    let app = TestApp::spawn_with(|c| c.rate_limit_anonymous_per_minute = 10_000).await;
    let (client, browser) = ann_and_app(&app, true, false).await;
    let t = tokens_for(&app, &browser, &client, "openid offline_access").await;

    let (status, _) = app.call_form(&browser, "admin_oauth_clients", &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "not for a non-admin");
    let (admin, _) = admin_browser(&app, "root@example.com").await;
    let (status, body) = app.call_form(&admin, "admin_oauth_clients", &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let list: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(list[0]["name"], "Notes");
    assert_eq!(list[0]["kind"], "confidential, first-party");
    assert!(!body.contains(client.secret.as_deref().unwrap()), "never the secret");

    let (status, body) = app.call_form(&admin, "admin_revoke_oauth_client", &[("id", &client.id)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, again) = token(
        &app,
        &client,
        &[("grant_type", "refresh_token"), ("refresh_token", t["refresh_token"].as_str().unwrap())],
    )
    .await;
    assert_eq!(again["error"], "invalid_client", "a revoked client is unknown");
    assert_eq!(userinfo(&app, t["access_token"].as_str().unwrap()).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.get_with(&browser, &authorize_path(&client, &pkce().1, "openid", REDIRECT)).await.status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(app.i64("SELECT COUNT(*) FROM audit_events WHERE action = 'admin.oauth_client_revoked'", &[]).await, 1);
}

#[tokio::test]
async fn s53_an_apps_access_token_calls_the_json_api_within_its_api_scopes() {
    let app = TestApp::spawn().await;
    let (client, browser) = ann_and_app(&app, true, false).await;
    let api = |path: &str, token: &str, delete: bool| {
        let url = app.url(path);
        let req = if delete { bare_client().delete(url) } else { bare_client().get(url) };
        req.bearer_auth(token.to_string()).send()
    };

    let reader = tokens_for(&app, &browser, &client, "openid api:read").await;
    let token = reader["access_token"].as_str().unwrap();
    let r = api("/api/v1/me", token, false).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let me: Value = r.json().await.unwrap();
    assert_eq!((me["email"].as_str(), me["token"]["name"].as_str()), (Some(ANN), Some("Notes")));
    assert_eq!(me["token"]["scopes"], serde_json::json!(["read"]));
    let session = app.text("SELECT id FROM sessions", &[]).await;
    let r = api(&format!("/api/v1/sessions/{session}"), token, true).await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "read only");

    // Without an api scope the token opens nothing there; with api:write it signs a browser out.
    let plain = tokens_for(&app, &browser, &client, "openid").await;
    assert_eq!(
        api("/api/v1/me", plain["access_token"].as_str().unwrap(), false).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    let writer = tokens_for(&app, &browser, &client, "openid api:read api:write").await;
    let _phone = app.another_browser(ANN, PASSWORD).await;
    let other_session = app.text("SELECT id FROM sessions ORDER BY created_at DESC, id LIMIT 1", &[]).await;
    let r = api(&format!("/api/v1/sessions/{other_session}"), writer["access_token"].as_str().unwrap(), true)
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);

    // A revoked grant ends its access token on the API at once.
    revoke(&app, &client, token).await;
    assert_eq!(api("/api/v1/me", token, false).await.unwrap().status(), StatusCode::UNAUTHORIZED);
}

/// Posts the consent form for the authorization request at `path` with the person's `decision`.
async fn decide(app: &TestApp, browser: &Client, path: &str, decision: &str) -> Response {
    let mut form: Vec<(String, String)> =
        url::Url::parse(&format!("http://x{path}")).unwrap().query_pairs().into_owned().collect();
    form.push(("decision".into(), decision.into()));
    app.post_form_with(
        browser,
        "/oauth/authorize",
        &form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect::<Vec<_>>(),
    )
    .await
}

#[tokio::test]
async fn s62_consent_is_remembered_and_revoking_the_app_on_the_tokens_page_ends_what_it_holds() {
    let app = TestApp::spawn().await;
    let (client, browser) = ann_and_app(&app, false, false).await;
    let (verifier, challenge) = pkce();
    let path = authorize_path(&client, &challenge, "openid offline_access", REDIRECT);
    assert_eq!(app.get_with(&browser, &path).await.status(), StatusCode::OK, "the consent page");
    let r = decide(&app, &browser, &path, "allow").await;
    let code = answer(&r)["code"].clone();
    let (status, tokens) = exchange(&app, &client, &code, &verifier).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");

    // Allowed once: the same scopes go straight back to the app; more scopes ask again.
    let r = app.get_with(&browser, &path).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "not asked again");
    assert!(answer(&r).contains_key("code"));
    let more = authorize_path(&client, &challenge, "openid email", REDIRECT);
    assert_eq!(app.get_with(&browser, &more).await.status(), StatusCode::OK, "a new scope asks again");

    // The person sees it on the API tokens page, with what it may do, and takes it back.
    let (status, body) = app.call_form(&browser, "api_tokens_data", &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let data: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(data["apps"].as_array().unwrap().len(), 1, "{data}");
    assert_eq!(data["apps"][0]["name"], "Notes");
    let can = data["apps"][0]["can"].to_string();
    assert!(can.contains("Know who you are") && can.contains("Stay connected"), "{can}");
    let bo = app.signed_in_user("bo@example.com").await;
    assert_eq!(app.call_form(&bo, "revoke_app", &[("client_id", &client.id)]).await.0, StatusCode::NOT_FOUND);
    assert_eq!(userinfo(&app, tokens["access_token"].as_str().unwrap()).await.status(), StatusCode::OK, "untouched");

    let (status, body) = app.call_form(&browser, "revoke_app", &[("client_id", &client.id)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(userinfo(&app, tokens["access_token"].as_str().unwrap()).await.status(), StatusCode::UNAUTHORIZED);
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let (status, v) = token(&app, &client, &[("grant_type", "refresh_token"), ("refresh_token", refresh)]).await;
    assert_eq!((status, v["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
    assert_eq!(app.get_with(&browser, &path).await.status(), StatusCode::OK, "asked again after revoking");
    assert_eq!(apps_listed(&app, &browser).await, 0);
    let audited = "SELECT COUNT(*) FROM audit_events WHERE action = 'user.oauth_revoked' AND target_user_id = $1";
    assert_eq!(app.i64(audited, &[&app.user_id(ANN).await]).await, 1);
    // The person's security activity says it in words, naming the app.
    let (_, body) = app.call_form(&browser, "list_sessions", &[]).await;
    assert!(body.contains("Signed in to Notes with your account"), "{body}");
    assert!(body.contains("Took back the access you gave Notes"), "{body}");
    assert!(!body.contains("user.oauth"), "no audit names: {body}");
}

#[tokio::test]
async fn a_first_party_app_is_listed_while_it_holds_tokens() {
    let app = TestApp::spawn().await;
    let (client, browser) = ann_and_app(&app, true, false).await;
    tokens_for(&app, &browser, &client, "openid").await;
    assert_eq!(apps_listed(&app, &browser).await, 1, "its access token may still be alive");
    app.state().clock.advance(601);
    assert_eq!(apps_listed(&app, &browser).await, 0, "no refresh token, and its access token has expired");
}

/// How many apps the person's API tokens page lists.
async fn apps_listed(app: &TestApp, browser: &Client) -> usize {
    let (_, body) = app.call_form(browser, "api_tokens_data", &[]).await;
    serde_json::from_str::<Value>(&body).unwrap()["apps"].as_array().unwrap().len()
}

#[tokio::test]
async fn s62_housekeeping_removes_grants_that_hold_nothing_live_and_keeps_reuse_detection() {
    let app = TestApp::spawn().await;
    let (client, browser) = ann_and_app(&app, true, false).await;
    tokens_for(&app, &browser, &client, "openid").await;
    let kept = tokens_for(&app, &browser, &client, "openid offline_access").await;
    let purge = || backend::platform::housekeeping::purge_expired(app.state());
    purge().await.unwrap();
    assert_eq!(app.i64("SELECT COUNT(*) FROM oauth_grants", &[]).await, 2, "both may hold a live access token");
    app.state().clock.advance(601);
    purge().await.unwrap();
    assert_eq!(app.i64("SELECT COUNT(*) FROM oauth_grants", &[]).await, 1, "only the one with a refresh token");

    let first = kept["refresh_token"].as_str().unwrap();
    let (status, next) = token(&app, &client, &[("grant_type", "refresh_token"), ("refresh_token", first)]).await;
    assert_eq!(status, StatusCode::OK, "{next}");
    app.state().clock.advance(601);
    purge().await.unwrap();
    // The used token is kept while its grant lives, so presenting it again still ends the grant.
    let (status, v) = token(&app, &client, &[("grant_type", "refresh_token"), ("refresh_token", first)]).await;
    assert_eq!((status, v["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
    let second = next["refresh_token"].as_str().unwrap();
    let (status, _) = token(&app, &client, &[("grant_type", "refresh_token"), ("refresh_token", second)]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "the reuse ended the grant");
    assert_eq!(app.i64("SELECT COUNT(*) FROM oauth_grants", &[]).await, 0);
}
