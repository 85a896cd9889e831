//! `/auth/{provider}` and `/auth/{provider}/callback`: the browser's trip to a sign-in provider and back. Plain
//! redirects (no page), so they sit outside Leptos; the outcome reaches the next page as a flash.
use std::collections::HashMap;

use app::{
    context::{Flash, Notice},
    error::AppError,
    server_ctx::{put_flash, sign_in_redirect},
};

use backend::{
    platform::request::RequestContext,
    signin::oauth::{self, Outcome, Purpose, FLOW_SECS},
    AppState,
};

use axum::{
    extract::{Path, Query, State},
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Extension,
};
use domain::validation::safe_return_to;

const CONNECTIONS: &str = "/users/settings/connections";

fn redirect(to: &str, cookies: &[String]) -> Response {
    let mut res = (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_string())]).into_response();
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    res
}

fn failed(ctx: &RequestContext, to: &str, message: String, cookies: Vec<String>) -> Response {
    put_flash(ctx, &Flash { error: Some(AppError::Provider { message }), ..Default::default() });
    redirect(to, &cookies)
}

/// Starts a sign-in (or, with `?link=1` for a signed-in user inside the sudo window, a link) with the provider.
pub async fn start(
    State(st): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Path(provider): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if st.config.oauth_provider(&provider).is_none() {
        return (StatusCode::NOT_FOUND, "No such sign-in provider.").into_response();
    }
    // Each start stores a flow: without a session it counts like an anonymous POST.
    if ctx.session.is_none() {
        if let Err(retry) = st.limits.anonymous_post(ctx.ip) {
            let message = AppError::RateLimited { retry_after_secs: retry.0 }.to_string();
            let mut res = failed(&ctx, "/users/log-in", message, Vec::new());
            *res.status_mut() = StatusCode::TOO_MANY_REQUESTS;
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry.0));
            return res;
        }
    }
    let purpose = if query.contains_key("link") {
        Purpose::Link
    } else if query.contains_key("sudo") {
        Purpose::Sudo
    } else {
        Purpose::SignIn
    };
    // Sudo comes back to the settings by default; a sign-in to where the visitor was sent from, if anywhere.
    let fallback = if purpose == Purpose::Sudo { "/users/settings" } else { "" };
    let return_to = query.get("return_to").map(|r| safe_return_to(r, fallback).to_string()).filter(|r| !r.is_empty());
    if purpose != Purpose::SignIn {
        match &ctx.session {
            None => return redirect("/users/log-in", &[]),
            Some(s) if purpose == Purpose::Link && !backend::signin::sudo::is_fresh(&st, s) => {
                return redirect(&app::account::sudo::sudo_link(CONNECTIONS), &[]);
            }
            Some(_) => {}
        }
    }
    let back = match purpose {
        Purpose::SignIn => "/users/log-in".to_string(),
        Purpose::Link => CONNECTIONS.to_string(),
        Purpose::Sudo => app::account::sudo::sudo_link(return_to.as_deref().unwrap_or("/users/settings")),
    };
    match oauth::start(&st, &provider, purpose, ctx.session.as_ref(), return_to.as_deref()).await {
        Ok(started) => {
            let cookie = backend::platform::cookies::set(
                &st.config,
                st.config.oauth_cookie_name(),
                &started.browser_token,
                Some(FLOW_SECS),
            );
            redirect(&started.authorize_url, &[cookie])
        }
        Err(f) => failed(&ctx, &back, in_words(f, &ctx), Vec::new()),
    }
}

/// The provider sends the browser back here with `code` and `state` (or `error`).
pub async fn callback(
    State(st): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Path(provider): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let config = &st.config;
    // The flow cookie is spent either way.
    let mut cookies = vec![backend::platform::cookies::clear(config, config.oauth_cookie_name())];
    let back = if ctx.session.is_some() { CONNECTIONS } else { "/users/log-in" };
    let arg = |k: &str| query.get(k).map(String::as_str);
    match oauth::callback(&st, &ctx, &provider, arg("code"), arg("state"), arg("error"), arg("iss")).await {
        Ok(Outcome::SignedIn { outcome, return_to }) => {
            let (next, flash, cookie) = sign_in_redirect(&st, &ctx, &outcome, return_to.as_deref().unwrap_or(""));
            cookies.push(cookie);
            put_flash(&ctx, &flash);
            redirect(&next, &cookies)
        }
        Ok(Outcome::Reauthenticated { session, return_to }) => {
            cookies.push(backend::signin::sessions::cookie(config, Some(&session)));
            redirect(return_to.as_deref().unwrap_or("/users/settings"), &cookies)
        }
        Ok(Outcome::Linked { .. }) => {
            put_flash(&ctx, &Flash::notice(Notice::ProviderLinked));
            redirect(CONNECTIONS, &cookies)
        }
        Ok(Outcome::LinkPending { email, browser_token }) => {
            cookies.push(backend::platform::cookies::set(
                config,
                config.link_cookie_name(),
                &browser_token,
                Some(FLOW_SECS),
            ));
            put_flash(&ctx, &Flash::notice_for(Notice::LinkPending, &email));
            redirect("/users/log-in", &cookies)
        }
        Err(f) => failed(&ctx, back, in_words(f, &ctx), cookies),
    }
}

/// What the log-in (or connections) page says about a failed provider flow.
fn in_words(f: oauth::Failure, ctx: &RequestContext) -> String {
    match f {
        oauth::Failure::Said(message) => message,
        oauth::Failure::Account(e) => app::error::into_app_error(e, &ctx.request_id).to_string(),
    }
}
