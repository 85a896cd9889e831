//! Organizations' service accounts: made by owners on the organization's page (the secret shown once, stored as a
//! digest), access tokens by the client credentials grant, the JSON API as the service account in its organization
//! only, audited as it, and what ends it (revocation, a new secret, the organization's deletion).
use reqwest::{header, Client, StatusCode};
use serde_json::Value;

use crate::{
    admin::admin_browser,
    common::*,
    orgs::{create_org, member},
    provider::verified,
};

const ANN: &str = "ann@example.com";
const BO: &str = "bo@example.com";

struct Credentials {
    id: String,
    secret: String,
}

/// Makes a service account of `slug` on its page as the page's script does. Returns the status and the answer.
async fn make(app: &TestApp, owner: &Client, slug: &str, name: &str) -> (StatusCode, Value) {
    let (status, body) = app.call_form(owner, "create_service_account", &[("slug", slug), ("name", name)]).await;
    (status, serde_json::from_str(&body).unwrap_or_else(|_| panic!("JSON: {body}")))
}

async fn service_account(app: &TestApp, owner: &Client, slug: &str, name: &str) -> Credentials {
    let (status, v) = make(app, owner, slug, name).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let values = &v["values"];
    Credentials {
        id: values["client_id"].as_str().unwrap_or_else(|| panic!("the client id: {v}")).into(),
        secret: values["client_secret"].as_str().unwrap_or_else(|| panic!("the secret: {v}")).into(),
    }
}

/// `POST /oauth/token` with `grant_type=client_credentials`, the client authenticated with HTTP Basic.
async fn client_credentials(app: &TestApp, id: &str, secret: &str, scope: Option<&str>) -> (StatusCode, Value) {
    let mut form = vec![("grant_type", "client_credentials")];
    form.extend(scope.map(|s| ("scope", s)));
    let r = bare_client().post(app.url("/oauth/token")).basic_auth(id, Some(secret)).form(&form).send().await.unwrap();
    assert_eq!(r.headers().get(header::CACHE_CONTROL).map(|v| v.to_str().unwrap()), Some("no-store"));
    (r.status(), r.json().await.unwrap())
}

async fn access_token(app: &TestApp, sa: &Credentials) -> String {
    let (status, v) = client_credentials(app, &sa.id, &sa.secret, None).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    v["access_token"].as_str().unwrap().to_string()
}

async fn get(app: &TestApp, path: &str, token: &str) -> reqwest::Response {
    bare_client().get(app.url(path)).bearer_auth(token).send().await.unwrap()
}

#[tokio::test]
async fn s53_an_owner_makes_a_service_account_that_reads_its_organization_and_nothing_else() {
    let app = TestApp::spawn().await;
    let ann = app.signed_in_user(ANN).await;
    create_org(&app, &ann, "Acme", "acme").await;
    create_org(&app, &ann, "Beta", "beta").await;
    member(&app, &ann, "acme", BO, "member").await;
    let sa = service_account(&app, &ann, "acme", "billing sync").await;

    // Only the secret's digest is kept, and the list never shows the secret again.
    let digest = backend::platform::crypto::token_digest(&sa.secret);
    assert_eq!(app.i64("SELECT COUNT(*) FROM oauth_clients WHERE secret_digest = $1", &[&digest]).await, 1);
    let (status, body) = app.call_form(&ann, "organization_service_accounts", &[("slug", "acme")]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(!body.contains(&sa.secret), "the list never shows the secret");
    assert!(body.contains("billing sync") && body.contains(&sa.id), "{body}");

    // Client credentials: a 10-minute access token for its organization, no refresh token, no ID token.
    let (status, tokens) = client_credentials(&app, &sa.id, &sa.secret, None).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 600);
    assert_eq!(tokens["scope"], "api:read");
    assert!(tokens.get("refresh_token").is_none() && tokens.get("id_token").is_none(), "{tokens}");
    let token = tokens["access_token"].as_str().unwrap();
    let issuer = app.state().config.base_url.clone();
    let claims = verified(&app, token, &issuer).await;
    assert_eq!(claims["sub"], sa.id.as_str());
    assert_eq!(claims["client_id"], sa.id.as_str());
    let acme_id = app.text("SELECT id FROM organizations WHERE slug = 'acme'", &[]).await;
    assert_eq!(claims["org"], acme_id.as_str());

    let orgs: Value = get(&app, "/api/v1/organizations", token).await.json().await.unwrap();
    assert_eq!(orgs, serde_json::json!([{"slug": "acme", "name": "Acme", "role": "service_account", "members": 2}]));
    let members: Value = get(&app, "/api/v1/organizations/acme/members", token).await.json().await.unwrap();
    let emails: Vec<&str> = members.as_array().unwrap().iter().map(|m| m["email"].as_str().unwrap()).collect();
    assert_eq!(emails, [ANN, BO]);

    // Not another organization of its maker's, and no person's account.
    assert_eq!(get(&app, "/api/v1/organizations/beta/members", token).await.status(), StatusCode::NOT_FOUND);
    for path in ["/api/v1/me", "/api/v1/sessions"] {
        let r = get(&app, path, token).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
        let p: Value = r.json().await.unwrap();
        assert!(p["detail"].as_str().unwrap().contains("service account"), "{p}");
    }
    let session = app.text("SELECT id FROM sessions LIMIT 1", &[]).await;
    let r =
        bare_client().delete(app.url(&format!("/api/v1/sessions/{session}"))).bearer_auth(token).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "it cannot end anyone's session");
    assert_eq!(get(&app, "/oauth/userinfo", token).await.status(), StatusCode::FORBIDDEN, "no openid: nobody to tell");

    // It gets only what it was given.
    for scope in ["api:write", "openid", "api:read offline_access"] {
        let (status, v) = client_credentials(&app, &sa.id, &sa.secret, Some(scope)).await;
        assert_eq!((status, v["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_scope")), "{scope}");
    }
    let (status, v) = client_credentials(&app, &sa.id, &sa.secret, Some("api:read")).await;
    assert_eq!(status, StatusCode::OK, "{v}");

    // Audited as the service account, with no person as the actor; its last use is listed.
    let issued = app
        .i64(
            "SELECT COUNT(*) FROM audit_events WHERE action = 'service_account.token_issued' AND actor_client_id = $1 \
             AND actor_user_id IS NULL AND org_id = $2 AND ip = '127.0.0.1'",
            &[&sa.id, &acme_id],
        )
        .await;
    assert_eq!(issued, 2);
    let made = "SELECT COUNT(*) FROM audit_events WHERE action = 'org.service_account_created' AND actor_user_id = $1";
    assert_eq!(app.i64(made, &[&app.user_id(ANN).await]).await, 1);
    let (_, body) = app.call_form(&ann, "organization_service_accounts", &[("slug", "acme")]).await;
    let data: Value = serde_json::from_str(&body).unwrap();
    assert!(data["accounts"][0]["last_used"].as_str().is_some_and(|u| u.contains("from 127.0.0.1")), "{data}");
    assert!(data["accounts"][0]["made"].as_str().is_some_and(|m| m.contains(ANN)), "{data}");

    // The admin's audit explorer names it as the actor.
    let (admin, _) = admin_browser(&app, "root@example.com").await;
    let page = app.get_with(&admin, "/admin/audit?action=service_account").await.text().await.unwrap();
    assert!(page.contains("service account billing sync"), "the audit explorer names the service account");
}

#[tokio::test]
async fn s53_the_plain_form_shows_the_secret_once() {
    let app = TestApp::spawn().await;
    let ann = app.signed_in_user(ANN).await;
    create_org(&app, &ann, "Acme", "acme").await;
    let r = app.post_form_with(&ann, "/api/create_service_account", &[("slug", "acme"), ("name", "nightly")]).await;
    assert_eq!(location(&r), "/organizations/acme/service-accounts");
    let page = app.get_with(&ann, "/organizations/acme/service-accounts").await.text().await.unwrap();
    let id = app.text("SELECT id FROM oauth_clients WHERE name = 'nightly'", &[]).await;
    let marker = "id=\"new-client-secret\" type=\"text\" readonly value=\"";
    let start = page.find(marker).map(|i| i + marker.len()).expect("the page shows the new secret");
    let secret: String = page[start..].chars().take_while(|c| *c != '"').collect();
    assert_eq!(secret.len(), 43, "{secret}");
    assert_eq!(client_credentials(&app, &id, &secret, None).await.0, StatusCode::OK);
    let again = app.get_with(&ann, "/organizations/acme/service-accounts").await.text().await.unwrap();
    assert!(!again.contains(&secret), "shown only once");
    assert!(again.contains("nightly") && again.contains("last token"), "the list shows it, and its last use");
}

#[tokio::test]
async fn s53_only_owners_make_and_manage_service_accounts_behind_a_fresh_confirmation() {
    let app = TestApp::spawn().await;
    let ann = app.signed_in_user(ANN).await;
    create_org(&app, &ann, "Acme", "acme").await;
    let admin = member(&app, &ann, "acme", BO, "admin").await;
    let plain = member(&app, &ann, "acme", "cy@example.com", "member").await;
    let outsider = app.signed_in_user("dee@example.com").await;
    let sa = service_account(&app, &ann, "acme", "kept").await;

    for (who, client, expected) in [
        ("an admin", &admin, StatusCode::FORBIDDEN),
        ("a member", &plain, StatusCode::FORBIDDEN),
        ("an outsider", &outsider, StatusCode::NOT_FOUND),
    ] {
        assert_eq!(make(&app, client, "acme", "mine").await.0, expected, "{who} makes one");
        let (status, _) = app.call_form(client, "organization_service_accounts", &[("slug", "acme")]).await;
        assert_eq!(status, expected, "{who} lists them");
        let (status, _) = app.call_form(client, "revoke_service_account", &[("slug", "acme"), ("id", &sa.id)]).await;
        assert_eq!(status, expected, "{who} revokes one");
        let form = [("slug", "acme"), ("id", sa.id.as_str())];
        assert_eq!(app.call_form(client, "replace_service_account_secret", &form).await.0, expected, "{who}");
    }
    assert_eq!(client_credentials(&app, &sa.id, &sa.secret, None).await.0, StatusCode::OK, "untouched");
    assert_eq!(app.i64("SELECT COUNT(*) FROM oauth_clients", &[]).await, 1, "nothing made");

    let (status, v) = make(&app, &ann, "acme", "   ").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v.to_string().contains("name"), "{v}");

    // Past the sudo window, making one or a new secret asks to confirm it's you first; revoking does not.
    app.state().clock.advance(11 * 60);
    let (status, v) = make(&app, &ann, "acme", "late").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    assert!(v.to_string().contains("ReauthenticationRequired"), "{v}");
    let form = [("slug", "acme"), ("id", sa.id.as_str())];
    let (status, body) = app.call_form(&ann, "replace_service_account_secret", &form).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(app.i64("SELECT COUNT(*) FROM oauth_clients", &[]).await, 1);
    assert_eq!(client_credentials(&app, &sa.id, &sa.secret, None).await.0, StatusCode::OK, "the secret still works");
}

#[tokio::test]
async fn s50_revoking_a_service_account_or_deleting_its_organization_ends_its_tokens_at_once() {
    let app = TestApp::spawn().await;
    let ann = app.signed_in_user(ANN).await;
    create_org(&app, &ann, "Acme", "acme").await;
    create_org(&app, &ann, "Beta", "beta").await;
    let acme = service_account(&app, &ann, "acme", "acme job").await;
    let beta = service_account(&app, &ann, "beta", "beta job").await;
    let (acme_token, beta_token) = (access_token(&app, &acme).await, access_token(&app, &beta).await);

    let (status, body) = app.call_form(&ann, "revoke_service_account", &[("slug", "acme"), ("id", &acme.id)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let r = get(&app, "/api/v1/organizations", &acme_token).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "its live access token is dead at once");
    let (status, v) = client_credentials(&app, &acme.id, &acme.secret, None).await;
    assert_eq!((status, v["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")));
    let revoked = "SELECT COUNT(*) FROM audit_events WHERE action = 'org.service_account_revoked'";
    assert_eq!(app.i64(revoked, &[]).await, 1);
    // Another organization's service account cannot be revoked through this one's page.
    let (status, _) = app.call_form(&ann, "revoke_service_account", &[("slug", "acme"), ("id", &beta.id)]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(get(&app, "/api/v1/organizations", &beta_token).await.status(), StatusCode::OK);

    let (status, body) = app.call_form(&ann, "delete_organization", &[("slug", "beta"), ("confirm", "beta")]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(get(&app, "/api/v1/organizations", &beta_token).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(client_credentials(&app, &beta.id, &beta.secret, None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(app.i64("SELECT COUNT(*) FROM oauth_clients WHERE id = $1", &[&beta.id]).await, 0, "deleted with it");
}

#[tokio::test]
async fn s53_a_new_secret_replaces_the_old_one_at_once() {
    let app = TestApp::spawn().await;
    let ann = app.signed_in_user(ANN).await;
    create_org(&app, &ann, "Acme", "acme").await;
    let old = service_account(&app, &ann, "acme", "rotating").await;
    let (status, v) = {
        let (status, body) =
            app.call_form(&ann, "replace_service_account_secret", &[("slug", "acme"), ("id", &old.id)]).await;
        (status, serde_json::from_str::<Value>(&body).unwrap())
    };
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["values"]["client_id"], old.id.as_str());
    let new = v["values"]["client_secret"].as_str().unwrap().to_string();
    assert_ne!(new, old.secret);
    assert_eq!(client_credentials(&app, &old.id, &old.secret, None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(client_credentials(&app, &old.id, &new, None).await.0, StatusCode::OK);
    let audited = "SELECT COUNT(*) FROM audit_events WHERE action = 'org.service_account_secret_replaced'";
    assert_eq!(app.i64(audited, &[]).await, 1);
}

#[tokio::test]
async fn s61_a_service_account_signs_no_one_in_and_an_app_cannot_use_client_credentials() {
    use backend::provider::clients::{create, NewClient};
    let app = TestApp::spawn().await;
    let ann = app.signed_in_user(ANN).await;
    create_org(&app, &ann, "Acme", "acme").await;
    let sa = service_account(&app, &ann, "acme", "job").await;

    // An app acts for people: it gets no token of its own.
    let uris = ["https://app.example.com/callback".to_string()];
    let app_client =
        create(app.state(), NewClient { name: "Notes", redirect_uris: &uris, public: false, first_party: true })
            .await
            .unwrap();
    let (status, v) = client_credentials(&app, &app_client.id, app_client.secret.as_deref().unwrap(), None).await;
    assert_eq!((status, v["error"].as_str()), (StatusCode::BAD_REQUEST, Some("unauthorized_client")), "{v}");

    // A service account is no app a person signs in to, even with a redirect URI it does not have.
    let q = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", &sa.id)
        .append_pair("redirect_uri", "https://app.example.com/callback")
        .append_pair("scope", "openid")
        .append_pair("code_challenge", &"a".repeat(43))
        .append_pair("code_challenge_method", "S256")
        .finish();
    let r = app.get_with(&ann, &format!("/oauth/authorize?{q}")).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.headers().get(header::LOCATION).is_none(), "never redirected");
    let form =
        [("grant_type", "authorization_code"), ("code", "x"), ("redirect_uri", "https://a/"), ("code_verifier", "y")];
    let r = bare_client().post(app.url("/oauth/token")).basic_auth(&sa.id, Some(&sa.secret)).form(&form).send().await;
    let v: Value = r.unwrap().json().await.unwrap();
    assert_eq!(v["error"], "invalid_grant");
    // Nor is it listed with the apps.
    assert!(backend::provider::clients::list(app.state()).await.unwrap().iter().all(|c| c.id != sa.id));

    // A wrong secret is an invalid client, with the Basic challenge.
    let r = bare_client()
        .post(app.url("/oauth/token"))
        .basic_auth(&sa.id, Some("wrong"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers().contains_key(header::WWW_AUTHENTICATE));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s53_an_organization_holds_at_most_ten_service_accounts_even_when_asked_at_once() {
    let app = TestApp::spawn().await;
    let ann = app.signed_in_user(ANN).await;
    create_org(&app, &ann, "Acme", "acme").await;
    for i in 0..9 {
        service_account(&app, &ann, "acme", &format!("sa{i}")).await;
    }
    let attempts = (0..8).map(|i| {
        let (app, ann) = (&app, &ann);
        async move { make(app, ann, "acme", &format!("race{i}")).await.0 }
    });
    // Without the creation's own lock, all eight would count the same rows before any inserts.
    let statuses = at_once_with_writes_held(&app, "oauth_clients", attempts).await;
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == StatusCode::OK || *s == StatusCode::UNPROCESSABLE_ENTITY), "{statuses:?}");
    assert_eq!(app.i64("SELECT COUNT(*) FROM oauth_clients WHERE org_id IS NOT NULL", &[]).await, 10);
}

#[tokio::test]
async fn s60_each_client_has_its_own_allowance_at_the_token_endpoint() {
    let app = TestApp::spawn_with(|c| c.rate_limit_api_per_minute = 3).await;
    let ann = app.signed_in_user(ANN).await;
    create_org(&app, &ann, "Acme", "acme").await;
    let looping = service_account(&app, &ann, "acme", "looping job").await;
    let other = service_account(&app, &ann, "acme", "other job").await;
    for _ in 0..3 {
        assert_eq!(client_credentials(&app, &looping.id, &looping.secret, None).await.0, StatusCode::OK);
    }
    let r = bare_client()
        .post(app.url("/oauth/token"))
        .basic_auth(&looping.id, Some(&looping.secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = r.headers()[header::RETRY_AFTER].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let issued =
        "SELECT COUNT(*) FROM audit_events WHERE action = 'service_account.token_issued' AND actor_client_id = $1";
    assert_eq!(app.i64(issued, &[&looping.id]).await, 3, "nothing issued or audited past the allowance");
    assert_eq!(client_credentials(&app, &other.id, &other.secret, None).await.0, StatusCode::OK, "the other client");
}
