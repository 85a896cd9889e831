//! Portcullis as the OpenID provider of its own apps: discovery, keys, the authorization endpoint (a page behind
//! the normal sign-in, so every factor and policy applies), the token, userinfo and revocation endpoints. The
//! flows are in `backend::provider`; this file reads and answers HTTP.
use std::collections::HashMap;

use axum::{
    extract::{Query, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
    Extension, Form, Json, Router,
};
use backend::{
    platform::request::RequestContext,
    provider::{
        clients::{self, Client},
        consents,
        grants::{self, Authorization, TokenError},
        keys, service_accounts, SCOPES,
    },
    AppState,
};
use base64::{engine::general_purpose::STANDARD, Engine};

/// Discovery, keys, token, userinfo and revocation: called by clients' back ends and apps, never with the site's
/// cookies, so they sit outside the pages' middleware (like `/api/v1`). The authorization endpoint is a page: it is
/// mounted with the pages (see `server::router`).
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/oauth/jwks.json", get(jwks))
        .route("/oauth/token", post(token))
        .route("/oauth/userinfo", get(userinfo).post(userinfo))
        .route("/oauth/revoke", post(revoke))
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::middleware::cookieless_pipeline))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(state.config.body_limit_bytes))
        .with_state(state)
}

fn no_store(mut res: Response) -> Response {
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

async fn discovery(State(st): State<AppState>) -> Response {
    let issuer = &st.config.base_url;
    Json(serde_json::json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/oauth/authorize"),
        "token_endpoint": format!("{issuer}/oauth/token"),
        "userinfo_endpoint": format!("{issuer}/oauth/userinfo"),
        "revocation_endpoint": format!("{issuer}/oauth/revoke"),
        "jwks_uri": format!("{issuer}/oauth/jwks.json"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": SCOPES,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "amr", "acr", "sid", "email", "email_verified", "name"],
        "authorization_response_iss_parameter_supported": true,
    }))
    .into_response()
}

async fn jwks(State(st): State<AppState>) -> Response {
    match keys::jwks(&st).await {
        Ok(set) => ([(header::CACHE_CONTROL, "public, max-age=300")], Json(set)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "JWKS failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// The authorization endpoint

/// An HTML page that says what is wrong with an authorization request that cannot be sent back to its client
/// (an unknown client or a redirect URI it did not register: redirecting would hand the answer to a stranger).
fn error_page(message: &str) -> Response {
    crate::middleware::html_page(StatusCode::BAD_REQUEST, "This sign-in request cannot be completed", message)
}

/// Back to the client with an error (RFC 6749 §4.1.2.1, with `iss`, RFC 9207).
fn to_client(st: &AppState, redirect_uri: &str, params: &[(&str, &str)], state: Option<&str>) -> Response {
    let mut url = match url::Url::parse(redirect_uri) {
        Ok(url) => url,
        Err(_) => return error_page("The redirect URI is not a URI."),
    };
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in params {
            q.append_pair(k, v);
        }
        if let Some(state) = state {
            q.append_pair("state", state);
        }
        q.append_pair("iss", &st.config.base_url);
    }
    Redirect::to(url.as_str()).into_response()
}

/// `GET /oauth/authorize` (and the consent form's `POST`, with `decision`).
pub async fn authorize(
    State(st): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Query(q): Query<HashMap<String, String>>,
    uri: axum::http::Uri,
) -> Response {
    let query = uri.query().unwrap_or_default().to_string();
    run_authorize(&st, &ctx, &q, &query, None).await
}

pub async fn authorize_decision(
    State(st): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Form(q): Form<HashMap<String, String>>,
) -> Response {
    let decision = q.get("decision").map(|d| d == "allow");
    run_authorize(&st, &ctx, &q, "", decision).await
}

async fn run_authorize(
    st: &AppState,
    ctx: &RequestContext,
    q: &HashMap<String, String>,
    query: &str,
    decision: Option<bool>,
) -> Response {
    let get = |k: &str| q.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let client = match get("client_id") {
        Some(id) => match clients::find(st, id).await {
            // A service account is no app people sign in to.
            Ok(Some(c)) if c.org_id.is_none() => c,
            Ok(_) => return error_page("The app that sent you here is not registered with this site."),
            Err(e) => {
                tracing::error!(request_id = %ctx.request_id, error = %e, "client lookup failed");
                return error_page("Something went wrong on our side. Please try again.");
            }
        },
        None => return error_page("The request names no app (client_id)."),
    };
    let Some(redirect_uri) = get("redirect_uri").filter(|r| client.allows_redirect(r)) else {
        return error_page("The app asked to send you to an address it has not registered.");
    };
    let state = get("state");
    let fail = |error: &str, description: &str| {
        to_client(st, redirect_uri, &[("error", error), ("error_description", description)], state)
    };
    if get("response_type") != Some("code") {
        return fail("unsupported_response_type", "Only response_type=code is supported.");
    }
    let challenge = get("code_challenge").unwrap_or_default();
    if get("code_challenge_method") != Some("S256") || !grants::challenge_is_well_formed(challenge) {
        return fail("invalid_request", "PKCE is required: code_challenge with code_challenge_method=S256.");
    }
    let mut scopes: Vec<&str> = get("scope").unwrap_or_default().split(' ').filter(|s| !s.is_empty()).collect();
    scopes.dedup();
    if scopes.is_empty() || scopes.iter().any(|s| !SCOPES.contains(s)) {
        return fail("invalid_scope", "Ask for some of: openid, profile, email, offline_access, api:read, api:write.");
    }
    let scope = scopes.join(" ");
    let Some(session) = ctx.session.as_ref() else {
        if get("prompt") == Some("none") {
            return fail("login_required", "The person is not signed in.");
        }
        let here = format!("/oauth/authorize?{query}");
        if here.len() > 512 {
            return fail("invalid_request", "The authorization request is too long.");
        }
        return Redirect::to(&domain::validation::log_in_link(&here)).into_response();
    };
    if session.impersonator.is_some() {
        return fail("access_denied", "An administrator using the site as this person cannot authorize apps.");
    }
    match decision {
        Some(false) => return fail("access_denied", "The person declined."),
        // An app that is not first-party asks, unless the person already allowed it these scopes.
        None if !client.first_party => match consents::covers(st, &session.user_id, &client.id, &scopes).await {
            Ok(true) => {}
            Ok(false) => return consent_page(st, &client, &scopes, q, redirect_uri),
            Err(e) => {
                tracing::error!(request_id = %ctx.request_id, error = %e, "consent lookup failed");
                return fail("server_error", "Something went wrong on our side.");
            }
        },
        _ => {}
    }
    let a = Authorization {
        client: &client,
        redirect_uri,
        scope: &scope,
        code_challenge: challenge,
        nonce: get("nonce"),
        remember_consent: decision == Some(true) && !client.first_party,
    };
    match grants::issue_code(st, ctx, session, a).await {
        Ok(code) => to_client(st, redirect_uri, &[("code", &code)], state),
        Err(e) => {
            tracing::error!(request_id = %ctx.request_id, error = %e, "authorization failed");
            fail("server_error", "Something went wrong on our side.")
        }
    }
}

/// "Allow App to …?": a form that posts the request back with the person's decision.
fn consent_page(
    st: &AppState,
    client: &Client,
    scopes: &[&str],
    q: &HashMap<String, String>,
    redirect_uri: &str,
) -> Response {
    let esc = crate::middleware::escape;
    let hidden: String = q
        .iter()
        .filter(|(k, _)| k.as_str() != "decision")
        .map(|(k, v)| format!("<input type=\"hidden\" name=\"{}\" value=\"{}\">", esc(k), esc(v)))
        .collect();
    let items: String = scopes.iter().map(|s| format!("<li>{}</li>", esc(backend::provider::scope_text(s)))).collect();
    let name = esc(&client.name);
    let body = format!(
        "<p class=\"lead\"><strong>{name}</strong> asks to use your {app} account. It will be able to:</p>\
         <ul class=\"plain-list\">{items}</ul>\
         <form method=\"post\" action=\"/oauth/authorize\" class=\"consent-actions\">{hidden}\
         <button type=\"submit\" name=\"decision\" value=\"allow\" class=\"button\">Allow</button> \
         <button type=\"submit\" name=\"decision\" value=\"deny\" class=\"button button-secondary\">Deny</button>\
         </form><p class=\"hint\">It will not ask again for this. You can take it back at any time in your settings, under API tokens and apps.</p>",
        app = esc(&st.config.app_name),
    );
    let mut res =
        crate::middleware::html_page_raw(StatusCode::OK, &format!("Allow {} to use your account?", client.name), &body);
    // Browsers apply `form-action` to the redirect that follows the post: the app's address must be allowed too.
    let target = match url::Url::parse(redirect_uri) {
        Ok(u) if u.scheme() == "http" || u.scheme() == "https" => u.origin().ascii_serialization(),
        Ok(u) => format!("{}:", u.scheme()),
        Err(_) => String::new(),
    };
    let csp = format!(
        "default-src 'self'; script-src 'none'; style-src 'self'; img-src 'self' data:; object-src 'none'; \
         base-uri 'none'; frame-ancestors 'none'; form-action 'self' {target}"
    );
    if let Ok(v) = HeaderValue::from_str(&csp) {
        res.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
    }
    res
}

// ---------------------------------------------------------------------------------------------------------------
// Token, userinfo, revocation

fn token_error(e: TokenError, basic: bool) -> Response {
    let mut retry_after = None;
    let (status, error, description): (_, _, std::borrow::Cow<'static, str>) = match e {
        TokenError::InvalidRequest(d) => (StatusCode::BAD_REQUEST, "invalid_request", d.into()),
        TokenError::InvalidClient => {
            (StatusCode::UNAUTHORIZED, "invalid_client", "The client is not known or its credentials are wrong.".into())
        }
        TokenError::InvalidGrant(d) => (StatusCode::BAD_REQUEST, "invalid_grant", d.into()),
        TokenError::InvalidScope => (
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "The client was not given one of the scopes it asked for.".into(),
        ),
        TokenError::UnauthorizedClient => (
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            "Only an organization's service account may use client_credentials; an app acts for people.".into(),
        ),
        TokenError::UnsupportedGrantType => (
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Use authorization_code, refresh_token or client_credentials.".into(),
        ),
        TokenError::TooManyRequests(secs) => {
            retry_after = Some(secs);
            (
                StatusCode::TOO_MANY_REQUESTS,
                "temporarily_unavailable",
                format!("Too many token requests from this client: try again in {secs} s.").into(),
            )
        }
        TokenError::Unexpected(e) => {
            tracing::error!(error = %e, "token endpoint failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "server_error", "Something went wrong on our side.".into())
        }
    };
    let mut res =
        (status, Json(serde_json::json!({ "error": error, "error_description": description }))).into_response();
    if status == StatusCode::UNAUTHORIZED && basic {
        res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(r#"Basic realm="oauth""#));
    }
    if let Some(secs) = retry_after {
        res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    no_store(res)
}

/// The client of a token or revocation request: HTTP Basic (RFC 6749 §2.3.1, each part form-encoded), the secret in
/// the form, or a public client named in the form. Returns the client and whether Basic was used.
async fn client_of(
    st: &AppState,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<(Client, bool), TokenError> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic ").or_else(|| v.strip_prefix("basic ")))
        .map(|b64| -> Result<(String, String), TokenError> {
            let raw = STANDARD.decode(b64.trim()).map_err(|_| TokenError::InvalidClient)?;
            let raw = String::from_utf8(raw).map_err(|_| TokenError::InvalidClient)?;
            let (id, secret) = raw.split_once(':').ok_or(TokenError::InvalidClient)?;
            let decode =
                |s: &str| url::form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned());
            Ok((decode(id).unwrap_or_default(), decode(secret).unwrap_or_default()))
        })
        .transpose()?;
    let used_basic = basic.is_some();
    let (id, secret) = match basic {
        Some((id, secret)) => (id, Some(secret)),
        None => (form.get("client_id").cloned().unwrap_or_default(), form.get("client_secret").cloned()),
    };
    let client = clients::find(st, &id).await?.ok_or(TokenError::InvalidClient)?;
    let authenticated = match (&secret, client.public) {
        (Some(secret), false) => client.secret_matches(secret),
        (None, true) => true,
        // A public client has no secret to send; a confidential one must send its own.
        _ => false,
    };
    if !authenticated {
        return Err(TokenError::InvalidClient);
    }
    Ok((client, used_basic))
}

async fn token(
    State(st): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let (client, basic) = match client_of(&st, &headers, &form).await {
        Ok(c) => c,
        Err(e) => {
            if st.limits.anonymous_post(ctx.ip).is_err() {
                return no_store(StatusCode::TOO_MANY_REQUESTS.into_response());
            }
            let basic = headers.contains_key(header::AUTHORIZATION);
            return token_error(e, basic);
        }
    };
    // Each client's own allowance (RATE_LIMIT_API_PER_MINUTE), like a token's: a client in a loop cannot flood the
    // audit log or the signing key.
    if let Err(retry) = st.limits.api_token(&format!("client:{}", client.id)) {
        tracing::warn!(request_id = %ctx.request_id, client = %client.id, "token endpoint rate limit hit");
        return token_error(TokenError::TooManyRequests(retry.0), basic);
    }
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    let result = match field("grant_type") {
        "authorization_code" => {
            grants::exchange_code(&st, &ctx, &client, field("code"), field("redirect_uri"), field("code_verifier"))
                .await
        }
        "refresh_token" => grants::refresh(&st, &ctx, &client, field("refresh_token")).await,
        "client_credentials" => {
            service_accounts::issue_token(&st, &ctx, &client, form.get("scope").map(String::as_str)).await
        }
        "" => Err(TokenError::InvalidRequest("grant_type is missing.")),
        _ => Err(TokenError::UnsupportedGrantType),
    };
    match result {
        Ok(tokens) => no_store(Json(tokens).into_response()),
        Err(e) => token_error(e, basic),
    }
}

async fn userinfo(State(st): State<AppState>, headers: HeaderMap) -> Response {
    let token = crate::middleware::bearer_token(&headers).ok().flatten();
    let invalid = || {
        let mut res = StatusCode::UNAUTHORIZED.into_response();
        res.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(r#"Bearer realm="oauth", error="invalid_token""#),
        );
        no_store(res)
    };
    let Some(token) = token else { return invalid() };
    let claims = match grants::verify_access_token(&st, token).await {
        Ok(Some(c)) => c,
        Ok(None) => return invalid(),
        Err(e) => {
            tracing::error!(error = %e, "userinfo failed");
            return no_store(StatusCode::INTERNAL_SERVER_ERROR.into_response());
        }
    };
    let scopes: Vec<&str> = claims.scope.split(' ').collect();
    if !scopes.contains(&"openid") {
        let mut res = StatusCode::FORBIDDEN.into_response();
        res.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(r#"Bearer realm="oauth", error="insufficient_scope", scope="openid""#),
        );
        return no_store(res);
    }
    let row: Option<(String, Option<i64>, Option<String>)> =
        match sqlx::query_as("SELECT email, confirmed_at, display_name FROM users WHERE id = $1")
            .bind(&claims.sub)
            .fetch_optional(&st.db.pool)
            .await
        {
            Ok(row) => row,
            Err(e) => {
                tracing::error!(error = %e, "userinfo failed");
                return no_store(StatusCode::INTERNAL_SERVER_ERROR.into_response());
            }
        };
    let Some((email, confirmed, name)) = row else { return invalid() };
    let mut info = serde_json::json!({ "sub": claims.sub });
    if scopes.contains(&"email") {
        info["email"] = email.into();
        info["email_verified"] = confirmed.is_some().into();
    }
    if scopes.contains(&"profile") {
        info["name"] = name.into();
    }
    no_store(Json(info).into_response())
}

async fn revoke(
    State(st): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let (client, _) = match client_of(&st, &headers, &form).await {
        Ok(c) => c,
        Err(e) => return token_error(e, headers.contains_key(header::AUTHORIZATION)),
    };
    match grants::revoke(&st, &ctx, &client, form.get("token").map(String::as_str).unwrap_or_default()).await {
        Ok(()) => no_store(StatusCode::OK.into_response()),
        Err(e) => token_error(TokenError::Unexpected(e), false),
    }
}
