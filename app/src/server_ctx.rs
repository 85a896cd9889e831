//! Server-function plumbing: the state and request context, error mapping, and the redirect/flash that lets the
//! same server function answer the WASM client and a plain HTML form.
use axum::http::{header, request::Parts, HeaderValue};
use leptos::prelude::*;
use leptos_axum::ResponseOptions;

use std::collections::BTreeMap;

use crate::{
    context::{Done, Flash, Notice},
    error::AppError,
};

use backend::{platform::cookies, platform::request::RequestContext, AppState, Error};

pub fn state() -> Result<AppState, AppError> {
    use_context::<AppState>().ok_or_else(|| AppError::Internal { request_id: "no-state".into() })
}

pub fn request() -> Result<RequestContext, AppError> {
    with_request(RequestContext::clone).ok_or_else(|| AppError::Internal { request_id: "no-request-context".into() })
}

/// `read` of this request's context, without copying it or the request (`use_context::<Parts>()` would copy every
/// header and extension, twice a page).
pub fn with_request<R>(read: impl FnOnce(&RequestContext) -> R) -> Option<R> {
    with_extension(read)
}

/// `read` of one of this request's extensions (the server's pipeline puts them there).
fn with_extension<T: Send + Sync + 'static, R>(read: impl FnOnce(&T) -> R) -> Option<R> {
    with_context::<Parts, _>(|p| p.extensions.get::<T>().map(read)).flatten()
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

/// Carries `flash` to the next page, in the visitor session (stored by the server's request pipeline when this
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

fn seal(st: &AppState, ctx: &RequestContext, flash: &mut Flash, name: &str, value: &str) {
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
    let flash = with_request(|ctx| ctx.visitor.take_flash()).flatten().and_then(|v| serde_json::from_value(v).ok());
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
    with_extension(backend::platform::visitor::Session::clone)
        .ok_or_else(|| AppError::Internal { request_id: "no-visitor-session".into() })
}

/// The signed-in session of this request, or `Unauthenticated` (401).
pub fn require_session(ctx: &RequestContext) -> Result<backend::platform::request::CurrentSession, AppError> {
    ctx.session.clone().ok_or_else(|| fail(AppError::Unauthenticated))
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
) -> Outcome {
    let (next, flash, cookie) = sign_in_redirect(st, ctx, outcome, return_to);
    append_header(header::SET_COOKIE, &cookie);
    Outcome { next: Some(next), notice: flash.notice, values: flash.values, sealed: Vec::new() }
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

/// How a form went well, as its server function says it: the page to go to (or back to the form's own page), the
/// notice, and values for the next page. [`form`] turns it into the [`Done`] the reactive page reads and, for a
/// browser without JavaScript, the redirect and flash.
#[derive(Debug, Default)]
pub struct Outcome {
    next: Option<String>,
    notice: Option<Notice>,
    values: BTreeMap<String, String>,
    sealed: Vec<String>,
}

impl Outcome {
    /// Back to the form's own page.
    pub fn stay(notice: impl Into<Option<Notice>>) -> Self {
        Self { notice: notice.into(), ..Self::default() }
    }

    /// On to `next`.
    pub fn go(next: impl Into<String>, notice: impl Into<Option<Notice>>) -> Self {
        Self { next: Some(next.into()), notice: notice.into(), ..Self::default() }
    }

    /// A value for the next page (an address to prefill, say).
    pub fn with(mut self, name: &str, value: impl Into<String>) -> Self {
        self.values.insert(name.to_string(), value.into());
        self
    }

    /// A value that is a secret (a link with a token): the reactive page gets it in its answer; in the flash it is
    /// encrypted (see [`SEALED`]).
    pub fn with_secret(mut self, name: &str, value: impl Into<String>) -> Self {
        self.sealed.push(name.to_string());
        self.with(name, value)
    }
}

/// The one shape of a form's server function: `run` gets the state and the request, parses its input into domain
/// types, does the work and says how it went ([`Outcome`]); the answer is a [`Done`] for the reactive page and, for a
/// browser without JavaScript, a redirect to the next page with the notice and values in the flash. An error goes
/// back to the reactive page as is (with its status); without JavaScript it is a redirect to `back` with the error
/// and the `keep` values (what was typed, never a password) in the flash, so nothing typed is lost. (`run` owns
/// the fields it parses, so `keep` borrows copies: `&[("email", &email.clone())]`.)
pub async fn form<Fut>(
    back: &str,
    keep: &[(&str, &str)],
    run: impl FnOnce(AppState, RequestContext) -> Fut,
) -> Result<Done, AppError>
where
    Fut: std::future::Future<Output = Result<Outcome, AppError>>,
{
    let ctx = request()?;
    let st = state()?;
    let result = run(st.clone(), ctx.clone()).await;
    finish(&st, &ctx, result, back, keep)
}

/// A form field parsed into its domain type (`domain::validation`); the error names the field:
/// `let name = parsed("name", OrgName::parse(&name))?;`.
pub fn parsed<T>(field: &str, result: Result<T, &'static str>) -> Result<T, AppError> {
    result.map_err(|m| AppError::field(field, m))
}

/// The form's address field, parsed.
pub fn parse_email(email: &str) -> Result<domain::validation::EmailAddress, AppError> {
    parsed("email", domain::validation::EmailAddress::parse(email))
}

/// A success redirects to the next page, with the flash for a plain form. The WASM client that stays on the page
/// (`next` is `back`) reads the [`Done`] and no flash there, so it gets none: one left over would turn up on whatever
/// page it opens next.
fn finish(
    st: &AppState,
    ctx: &RequestContext,
    result: Result<Outcome, AppError>,
    back: &str,
    keep: &[(&str, &str)],
) -> Result<Done, AppError> {
    match result {
        Ok(outcome) => {
            let next = outcome.next.unwrap_or_else(|| back.to_string());
            let stays = !ctx.wants_html && next == back;
            if (outcome.notice.is_some() || !outcome.values.is_empty()) && !stays {
                let mut flash = Flash { notice: outcome.notice, ..Default::default() };
                for (name, value) in &outcome.values {
                    if outcome.sealed.contains(name) {
                        seal(st, ctx, &mut flash, name, value);
                    } else {
                        flash.values.insert(name.clone(), value.clone());
                    }
                }
                set_flash(&flash);
            }
            leptos_axum::redirect(&next);
            Ok(Done { notice: outcome.notice, next, values: outcome.values })
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
