//! Server-function plumbing: the state and request context, error mapping, and the redirect/flash that lets the
//! same server function answer the WASM client and a plain HTML form.
use axum::http::{header, request::Parts, HeaderValue};
use leptos::prelude::*;
use leptos_axum::ResponseOptions;

use crate::{context::Flash, error::AppError};

use backend::{platform::cookies, platform::request::RequestContext, AppState, Error};

pub fn state() -> Result<AppState, AppError> {
    use_context::<AppState>().ok_or_else(|| AppError::Internal { request_id: "no-state".into() })
}

pub fn request() -> Result<RequestContext, AppError> {
    use_context::<Parts>()
        .and_then(|p| p.extensions.get::<RequestContext>().cloned())
        .ok_or_else(|| AppError::Internal { request_id: "no-request-context".into() })
}

pub fn append_header(name: header::HeaderName, value: &str) {
    if let (Some(res), Ok(v)) = (use_context::<ResponseOptions>(), HeaderValue::from_str(value)) {
        res.append_header(name, v);
    }
}

fn set_flash(flash: &Flash) {
    if let Ok(ctx) = request() {
        put_flash(&ctx, flash);
    }
}

/// Carries `flash` to the next page, in the visitor session (stored by the `request_context` middleware when this
/// request ends; the next page takes it). For handlers outside Leptos too.
pub fn put_flash(ctx: &RequestContext, flash: &Flash) {
    if let Ok(value) = serde_json::to_value(flash) {
        ctx.visitor.put_flash(value);
    }
}

/// Flash values whose name ends in this are encrypted in the cookie (an invitation link, say: the cookie never
/// holds a token in the clear) and opened, for this session only, when the next page reads them.
pub const SEALED: &str = ".sealed";

fn flash_context(ctx: &RequestContext) -> String {
    format!("flash:{}", ctx.session.as_ref().map(|s| s.session_id.as_str()).unwrap_or_default())
}

/// Puts `value` into `flash` under `name`, encrypted (see [`SEALED`]).
pub fn seal_value(st: &AppState, ctx: &RequestContext, flash: &mut Flash, name: &str, value: &str) {
    let sealed = st.config.data_keys.encrypt(value.as_bytes(), &flash_context(ctx));
    flash.values.insert(format!("{name}{SEALED}"), sealed);
}

fn open_sealed(mut flash: Flash) -> Flash {
    let (Ok(st), Ok(ctx)) = (state(), request()) else { return flash };
    let names: Vec<String> = flash.values.keys().filter(|k| k.ends_with(SEALED)).cloned().collect();
    for name in names {
        let sealed = flash.values.remove(&name).unwrap_or_default();
        if let Ok(plain) = st.config.data_keys.decrypt(&sealed, &flash_context(&ctx)) {
            if let Ok(value) = String::from_utf8(plain.to_vec()) {
                flash.values.insert(name.trim_end_matches(SEALED).to_string(), value);
            }
        }
    }
    flash
}

/// The flash this request's page shows (taken out of the visitor session before the request; once).
pub fn take_flash() -> Flash {
    let Ok(ctx) = request() else { return Flash::default() };
    let flash = ctx.visitor.take_flash().and_then(|v| serde_json::from_value(v).ok());
    flash.map(open_sealed).unwrap_or_default()
}

/// Answers the page being rendered with a `302` to `path` (a route guard: see `components::page::RequireUser`).
pub fn redirect_page(path: &str) {
    if let (Some(res), Ok(location)) = (use_context::<ResponseOptions>(), HeaderValue::from_str(path)) {
        res.insert_header(header::LOCATION, location);
        res.set_status(axum::http::StatusCode::FOUND);
    }
}

/// This browser's visitor session (tower-sessions): per-visitor data of your own, signed in or not — a wizard's
/// progress, a cart, preferences. `visitor()?.insert("cart", &cart).await`, `.get::<Cart>("cart").await`. It gets a
/// new id at every sign-in and is emptied at log out; the sign-in session (`require_session`) is another thing.
pub fn visitor() -> Result<backend::platform::visitor::Session, AppError> {
    use_context::<Parts>()
        .and_then(|p| p.extensions.get::<backend::platform::visitor::Session>().cloned())
        .ok_or_else(|| AppError::Internal { request_id: "no-visitor-session".into() })
}

/// The signed-in session of this request, or `Unauthenticated` (401).
pub fn require_session(ctx: &RequestContext) -> Result<backend::platform::request::CurrentSession, AppError> {
    ctx.session.clone().ok_or_else(|| fail(AppError::Unauthenticated))
}

/// A form of the signed-in user's: runs `change` with the state, the request and the session, then goes to `page`
/// with `notice`. Errors go back to `page` too (with `keep` for a browser without JavaScript).
pub async fn session_form<Fut>(
    page: &str,
    notice: Option<crate::context::Notice>,
    keep: &[(&str, &str)],
    change: impl FnOnce(AppState, RequestContext, backend::platform::request::CurrentSession) -> Fut,
) -> Result<(), AppError>
where
    Fut: std::future::Future<Output = Result<(), Error>>,
{
    session_form_to(page, page, notice, keep, change).await
}

/// [`session_form`] that goes on to `next` on success (and back to `back` on an error).
pub async fn session_form_to<Fut>(
    back: &str,
    next: &str,
    notice: Option<crate::context::Notice>,
    keep: &[(&str, &str)],
    change: impl FnOnce(AppState, RequestContext, backend::platform::request::CurrentSession) -> Fut,
) -> Result<(), AppError>
where
    Fut: std::future::Future<Output = Result<(), Error>>,
{
    let ctx = request()?;
    let result = async {
        let me = require_session(&ctx)?;
        let st = state()?;
        change(st, ctx.clone(), me).await?;
        Ok((next.to_string(), notice.map(Flash::notice).unwrap_or_default()))
    }
    .await;
    finish_form(&ctx, result, back, keep)
}

/// A page's data function for the signed-in user: `load` with the state, the request and the session; its error
/// sets the page's status.
pub async fn session_data<T, Fut>(
    load: impl FnOnce(AppState, RequestContext, backend::platform::request::CurrentSession) -> Fut,
) -> Result<T, AppError>
where
    Fut: std::future::Future<Output = Result<T, Error>>,
{
    let ctx = request()?;
    let me = require_session(&ctx)?;
    let st = state()?;
    Ok(load(st, ctx, me).await?)
}

/// The page a mailed link opened (`prefix/token`), to send a failed form back to. Only token characters pass.
pub fn link_page(prefix: &str, token: &str) -> String {
    let token: String =
        token.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').take(128).collect();
    format!("{prefix}/{token}")
}

/// A server-function request whose arguments did not decode (see `AppError::from_server_fn_error`): logged at info
/// level, answered 400; a plain HTML form goes back to the page it came from (the `Referer`, same origin only, or
/// the home page) with the error in the flash. False outside a server-function request (a page rendering).
pub fn bad_request(e: &AppError) -> bool {
    let Some(parts) = use_context::<Parts>() else { return false };
    if !parts.uri.path().starts_with("/api/") {
        return false;
    }
    let ctx = parts.extensions.get::<RequestContext>();
    tracing::info!(
        request_id = ctx.map_or("-", |c| c.request_id.as_str()),
        path = %parts.uri.path(),
        error = %e,
        "malformed server function arguments"
    );
    if ctx.is_some_and(|c| c.wants_html) {
        let back = state()
            .ok()
            .and_then(|st| {
                let referer = parts.headers.get(header::REFERER)?.to_str().ok()?;
                let path = referer.strip_prefix(st.config.base_url.as_str())?;
                Some(domain::validation::safe_return_to(path, "/").to_string())
            })
            .unwrap_or_else(|| "/".to_string());
        set_flash(&Flash { error: Some(e.clone()), ..Default::default() });
        leptos_axum::redirect(&back);
    } else {
        fail(e.clone());
    }
    true
}

/// Sets the response status for `e` and returns it, for server functions that are not forms.
pub fn fail(e: AppError) -> AppError {
    if let (Some(res), Ok(status)) = (use_context::<ResponseOptions>(), axum::http::StatusCode::from_u16(e.status())) {
        res.set_status(status);
    }
    e
}

/// Where every sign-in path ends: the new session's cookie and `return_to` next (the page that sent the visitor
/// to log in; the connections page when this browser holds a provider link for the owner to confirm; else the
/// home page), or, for a user with a second factor, the challenge cookie and `/users/mfa`, which carries
/// `return_to` on.
pub fn signed_in(
    st: &AppState,
    ctx: &RequestContext,
    outcome: &backend::signin::gate::SignIn,
    return_to: &str,
) -> (String, Flash) {
    let (next, flash, cookie) = sign_in_redirect(st, ctx, outcome, return_to);
    append_header(header::SET_COOKIE, &cookie);
    (next, flash)
}

/// [`signed_in`] for handlers outside Leptos: the next page, its flash, and the cookie to set.
pub fn sign_in_redirect(
    st: &AppState,
    ctx: &RequestContext,
    outcome: &backend::signin::gate::SignIn,
    return_to: &str,
) -> (String, Flash, String) {
    use backend::signin::gate::{SignIn, CHALLENGE_SECS};
    use domain::validation::{safe_return_to, with_return_to};
    match outcome {
        SignIn::Session(session) => {
            ctx.visitor.signed_in();
            let cookie = backend::signin::sessions::cookie(&st.config, Some(session));
            let next =
                if ctx.pending_link.is_some() { "/users/settings/connections" } else { safe_return_to(return_to, "/") };
            (next.to_string(), Flash::notice(crate::context::Notice::LoggedIn), cookie)
        }
        SignIn::Challenge { token } => {
            let cookie = cookies::set(&st.config, st.config.mfa_cookie_name(), token, Some(CHALLENGE_SECS));
            (with_return_to("/users/mfa", return_to), Flash::default(), cookie)
        }
    }
}

/// Every "mail me something" form: parse the address, run `action`, and go on to `next` with `notice` — the
/// same answer whether or not the address has an account.
pub async fn email_request<Fut>(
    email: &str,
    back: &str,
    next: &str,
    notice: crate::context::Notice,
    action: impl FnOnce(AppState, RequestContext, domain::validation::EmailAddress) -> Fut,
) -> Result<(), AppError>
where
    Fut: std::future::Future<Output = Result<(), Error>>,
{
    let ctx = request()?;
    let result = async {
        let st = state()?;
        let parsed = domain::validation::EmailAddress::parse(email).map_err(|m| AppError::field("email", m))?;
        action(st, ctx.clone(), parsed.clone()).await?;
        Ok((next.to_string(), Flash::notice_for(notice, parsed.as_str())))
    }
    .await;
    finish_form(&ctx, result, back, &[("email", email)])
}

/// Ends a form's server function. Success redirects to `next` with `flash` (a notice, or values for the next
/// page). The WASM client that stays on the page (`next` is `back`) shows the notice from the action's own result
/// and reads no flash there, so it gets none: one left over would turn up on whatever page it opens next. An error
/// is returned to the WASM client as is; a plain HTML form (no JavaScript) is sent back to `back` with the error and
/// the `keep` values in the flash, so nothing typed is lost.
pub fn finish_form(
    ctx: &RequestContext,
    result: Result<(String, Flash), AppError>,
    back: &str,
    keep: &[(&str, &str)],
) -> Result<(), AppError> {
    match result {
        Ok((next, flash)) => {
            let stays = !ctx.wants_html && next == back;
            if flash != Flash::default() && !stays {
                set_flash(&flash);
            }
            leptos_axum::redirect(&next);
            Ok(())
        }
        Err(e) => {
            if ctx.wants_html {
                let mut flash = Flash { error: Some(e.clone()), ..Default::default() };
                for (k, v) in keep {
                    flash.values.insert((*k).to_string(), v.chars().take(256).collect());
                }
                set_flash(&flash);
                leptos_axum::redirect(back);
                return Err(e);
            }
            Err(fail(e))
        }
    }
}
