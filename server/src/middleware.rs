//! The request pipeline in front of every page and server function ([`pipeline`]): request context (client address,
//! session), cross-site refusal, anonymous rate limit, two-step enrolment, organization entry, security headers.
use std::net::{IpAddr, SocketAddr};

use app::error::AppError;

use axum::{
    extract::{ConnectInfo, Request, State},
    http::{header, HeaderMap, HeaderValue, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use backend::{platform::cookies, platform::crypto, platform::request::RequestContext, signin::sessions, AppState};

/// The items of a list-valued header (`Accept-Encoding` or `If-None-Match` by `,`), across every
/// field of it, trimmed.
pub(crate) fn header_items<'a>(
    headers: &'a HeaderMap,
    name: header::HeaderName,
    separator: char,
) -> impl Iterator<Item = &'a str> {
    headers
        .get_all(name)
        .into_iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(move |v| v.split(separator))
        .map(str::trim)
}

/// The client's address. `X-Forwarded-For` is believed only from a trusted peer (`TRUST_PROXY`, or an address in
/// `TRUSTED_PROXIES`); then every field of it is read, in order, as one list, and the client is the rightmost hop
/// that is not a trusted proxy (each proxy appends the address it saw, so hops left of an untrusted one are the
/// client's own claims). An entry that is not an address stops the walk at the last trusted hop.
pub fn client_ip(config: &backend::platform::config::Config, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
    let peer = peer.to_canonical();
    if !config.believes_forwarding_from(peer) {
        if headers.contains_key("x-forwarded-for") {
            warn_untrusted_forwarding(peer);
        }
        return peer;
    }
    let hops: Vec<Option<IpAddr>> = headers
        .get_all("x-forwarded-for")
        .iter()
        .flat_map(|v| String::from_utf8_lossy(v.as_bytes()).split(',').map(parse_hop).collect::<Vec<_>>())
        .collect();
    let mut last_trusted = peer;
    for hop in hops.iter().rev() {
        match hop {
            Some(ip) if config.is_trusted_proxy(*ip) => last_trusted = *ip,
            Some(ip) => return *ip,
            None => return last_trusted,
        }
    }
    last_trusted
}

/// One `X-Forwarded-For` entry: an address, or an address with a port (`1.2.3.4:5678`, `[2001:db8::1]:443`);
/// IPv4-mapped IPv6 counts as IPv4.
fn parse_hop(raw: &str) -> Option<IpAddr> {
    let raw = raw.trim();
    raw.parse::<IpAddr>().ok().or_else(|| raw.parse::<SocketAddr>().ok().map(|s| s.ip())).map(|ip| ip.to_canonical())
}

/// Said once per process: forwarded headers arrive from a peer that is not trusted, so every client behind that
/// proxy shares its address (and its rate limits).
fn warn_untrusted_forwarding(peer: IpAddr) {
    static WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if !WARNED.swap(true, std::sync::atomic::Ordering::Relaxed) {
        tracing::warn!(
            %peer,
            "X-Forwarded-For arrives from a peer that is not trusted, so it is ignored: behind a reverse proxy, set \
             TRUSTED_PROXIES to its address (or TRUST_PROXY=true when it is the only way in)"
        );
    }
}

/// The pipeline in front of every page and server function, as one layer. In order: the request context
/// ([`request_context`]); the refusals, each of which answers instead of the page ([`cross_site_guard`],
/// [`anonymous_rate_limit`], [`require_mfa_enrolment`], [`organization_entry`]); the page or server function; the
/// flash and visitor state written back; and the security headers on every answer ([`security_headers`]).
///
/// One layer rather than one per step: axum's `from_fn` clones and boxes the whole stack below it on every request,
/// so six stacked layers made about forty clones a request (route, layers, handler), a tenth of a session check's
/// instructions.
pub async fn pipeline(State(st): State<AppState>, mut req: Request, next: Next) -> Response {
    let (ctx, visitor_session) = match request_context(&st, &mut req).await {
        Ok(found) => found,
        Err(res) => return security_headers(&st, "", res),
    };
    let nonce = ctx.nonce.clone();
    let visitor = ctx.visitor.clone();
    req.extensions_mut().insert(ctx);
    let refused = match cross_site_guard(&st, &req)
        .or_else(|| anonymous_rate_limit(&st, &req))
        .or_else(|| require_mfa_enrolment(&st, &req))
    {
        None => organization_entry(&st, &mut req).await,
        refused => refused,
    };
    let res = match refused {
        Some(refused) => refused,
        None => next.run(req).await,
    };
    if let Some(session) = &visitor_session {
        visitor.apply(session).await;
    }
    security_headers(&st, &nonce, res)
}

/// The [`RequestContext`]: request id, client address, the session behind the cookie, the other cookies the app
/// reads, and the flash a page shows (taken out of the visitor session, which is returned). A failed session lookup
/// is an answer: 500. (The request is taken `&mut` so that the future is `Send`: a body is not `Sync`.)
async fn request_context(
    st: &AppState,
    req: &mut Request,
) -> Result<(RequestContext, Option<backend::platform::visitor::Session>), Response> {
    let (request_id, ip, user_agent) = caller(st, req);
    let c = &st.config;
    let [token, mfa_challenge, trusted_browser, oauth_browser, pending_link] = cookies::read(
        req.headers(),
        [
            c.session_cookie_name(),
            c.mfa_cookie_name(),
            c.trust_cookie_name(),
            c.oauth_cookie_name(),
            c.link_cookie_name(),
        ],
    );
    let presented_session_digest = token.as_deref().map(crypto::token_digest);
    let session = match (&token, &presented_session_digest) {
        (Some(t), Some(digest)) if !t.is_empty() && t.len() <= 128 => match sessions::find_current(st, digest).await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(%request_id, error = %e, "session lookup failed");
                return Err(error_response(req, StatusCode::INTERNAL_SERVER_ERROR, AppError::Internal { request_id }));
            }
        },
        _ => None,
    };
    let wants_html =
        req.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("text/html"));
    // The visitor session (tower-sessions, outside this layer): a page takes the flash it shows out of it first.
    let visitor_session = req.extensions().get::<backend::platform::visitor::Session>().cloned();
    let visitor = backend::platform::visitor::Pending::default();
    if let Some(session) = visitor_session.as_ref().filter(|_| shows_flash(req, wants_html)) {
        visitor.take_from(session).await;
    }
    let ctx = RequestContext {
        request_id,
        ip,
        user_agent,
        presented_session_digest,
        mfa_challenge,
        trusted_browser,
        oauth_browser,
        pending_link,
        session,
        nonce: crypto::random_token(),
        wants_html,
        visitor,
    };
    Ok((ctx, visitor_session))
}

/// Who is calling: the request id (made by the access log, the outermost layer; a router without it still gets
/// one), the client address ([`client_ip`]) and the user agent.
fn caller(st: &AppState, req: &Request) -> (String, IpAddr, Option<String>) {
    let request_id = match req.extensions().get::<crate::observe::RequestId>() {
        Some(id) => id.0.clone(),
        None => crypto::new_id(),
    };
    let peer =
        req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()).unwrap_or(IpAddr::from([127, 0, 0, 1]));
    let ip = client_ip(&st.config, peer, req.headers());
    let user_agent = req.headers().get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_string);
    (request_id, ip, user_agent)
}

/// The token of `Authorization: Bearer …` (the scheme in any case, one header only): `Err(())` when the header is
/// there but is not one bearer token.
pub(crate) fn bearer_token(headers: &HeaderMap) -> Result<Option<&str>, ()> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else { return Ok(None) };
    if values.next().is_some() {
        return Err(());
    }
    let value = value.to_str().map_err(|_| ())?;
    let (scheme, token) = value.split_once(' ').ok_or(())?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(());
    }
    Ok(Some(token.trim()))
}

/// A request whose answer shows the flash: a page (a browser's `GET` for HTML, not the development mailbox or the
/// provider round trip) or the page context the browser asks for after a client-side navigation.
fn shows_flash(req: &Request, wants_html: bool) -> bool {
    let path = req.uri().path();
    path == "/api/page_context"
        || (req.method() == Method::GET
            && wants_html
            && !path.starts_with("/api/")
            && !path.starts_with("/auth/")
            && !path.starts_with("/dev/"))
}

/// A signed-in user whom policy requires to have two-step verification, and who has not, can only enrol: pages send
/// them to the enrolment page, server functions answer 403.
fn require_mfa_enrolment(st: &AppState, req: &Request) -> Option<Response> {
    use backend::signin::policy;
    let required = req
        .extensions()
        .get::<RequestContext>()
        .and_then(|c| c.session.as_ref())
        .is_some_and(|s| policy::mfa_enrolment_required(st, s));
    let path = req.uri().path();
    if !required || policy::allowed_during_mfa_enrolment(path) {
        return None;
    }
    if is_safe(req.method()) && !path.starts_with("/api/") {
        return Some(axum::response::Redirect::to(policy::MFA_ENROLMENT_PAGE).into_response());
    }
    Some(error_response(req, StatusCode::FORBIDDEN, AppError::MfaEnrolmentRequired))
}

/// To the two-step verification enrolment page, saying why.
pub(crate) fn to_enrolment(req: &Request, why: app::context::Notice) -> Response {
    if let Some(ctx) = req.extensions().get::<RequestContext>() {
        app::server_ctx::put_flash(ctx, &app::context::Flash::notice(why));
    }
    axum::response::Redirect::to(backend::signin::policy::MFA_ENROLMENT_PAGE).into_response()
}

/// A page under `/organizations/{slug}`: an old slug sends members to the new one; an organization that requires
/// two-step verification sends a member without it to enrolment. Everyone else goes on to the page, which answers
/// outsiders 404. Server functions check the same through `orgs::authorize`.
async fn organization_entry(st: &AppState, req: &mut Request) -> Option<Response> {
    use backend::orgs;
    let path = req.uri().path();
    let rest = path.strip_prefix("/organizations/").filter(|_| is_safe(req.method()))?;
    let me = req.extensions().get::<RequestContext>().and_then(|c| c.session.as_ref())?;
    let (slug, tail) = rest.split_once('/').map(|(s, t)| (s, format!("/{t}"))).unwrap_or((rest, String::new()));
    if slug.is_empty() || slug == "new" || slug.len() > 63 {
        return None;
    }
    match orgs::entry(st, me, slug).await {
        Ok(orgs::Entry::Proceed) => None,
        Ok(orgs::Entry::Moved(new_slug)) => {
            let query = req.uri().query().map(|q| format!("?{q}")).unwrap_or_default();
            Some(
                axum::response::Redirect::temporary(&format!("/organizations/{new_slug}{tail}{query}")).into_response(),
            )
        }
        Ok(orgs::Entry::MfaRequired) => Some(to_enrolment(req, app::context::Notice::OrgRequiresMfa)),
        Err(e) => {
            let request_id = req.extensions().get::<RequestContext>().map(|c| c.request_id.clone()).unwrap_or_default();
            tracing::error!(%request_id, error = %e, "organization lookup failed");
            Some(error_response(req, StatusCode::INTERNAL_SERVER_ERROR, AppError::Internal { request_id }))
        }
    }
}

/// Answers 404 to any client not on this machine (the development mailbox): the client address must be loopback,
/// the peer too, and the `Host` a localhost or loopback name. A request that was forwarded by a peer that is not a
/// configured proxy (a tunnel or a local proxy connects from loopback too) is refused; through a trusted proxy the
/// client address it reported decides.
pub async fn loopback_only(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let local = req.extensions().get::<RequestContext>().is_some_and(|c| c.ip.is_loopback());
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let peer_local = peer.is_none_or(|ip| ip.is_loopback());
    let trusted_peer = peer.is_some_and(|ip| st.config.believes_forwarding_from(ip));
    let h = req.headers();
    let forwarded =
        ["x-forwarded-for", "forwarded", "x-real-ip", "x-forwarded-host"].iter().any(|n| h.contains_key(*n));
    let host = h.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let local_host = backend::platform::config::is_local_origin(&format!("http://{host}"));
    if local && peer_local && (!forwarded || trusted_peer) && local_host {
        next.run(req).await
    } else {
        StatusCode::NOT_FOUND.into_response()
    }
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Refuses state-changing requests sent from another site (S44). Browsers send `Sec-Fetch-Site`; older ones send
/// `Origin`. A request with neither comes from a non-browser client, which carries no ambient cookies to abuse.
fn cross_site_guard(st: &AppState, req: &Request) -> Option<Response> {
    if is_safe(req.method()) {
        return None;
    }
    let headers = req.headers();
    let allowed = match headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        Some(site) => site == "same-origin" || site == "none",
        None => match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
            Some(origin) => origin == st.config.base_url,
            None => true,
        },
    };
    if allowed {
        return None;
    }
    let ctx = req.extensions().get::<RequestContext>();
    tracing::warn!(
        request_id = ctx.map(|c| c.request_id.as_str()).unwrap_or("-"),
        ip = ?ctx.map(|c| c.ip),
        path = %req.uri().path(),
        "cross-site request refused"
    );
    Some(error_response(req, StatusCode::FORBIDDEN, AppError::Forbidden))
}

/// Server functions that check a credential (a password, a code, a mailed token, a passkey) or send mail to an
/// address the caller types. A session does not exempt them from the per-address limit: any account's cookie would
/// otherwise switch it off (M1).
const CREDENTIAL_ENDPOINTS: &[&str] = &[
    "/api/log_in",
    "/api/register",
    "/api/request_password_reset",
    "/api/reset_password",
    "/api/request_magic_link",
    "/api/log_in_with_link",
    "/api/resend_confirmation",
    "/api/confirm_with_code",
    "/api/confirm_with_link",
    "/api/mfa_verify",
    "/api/mfa_verify_passkey",
    "/api/log_in_with_passkey",
    "/api/passkey_sign_in_options",
    "/api/sudo",
    "/api/sudo_with_code",
    "/api/sudo_with_passkey",
    "/api/change_password",
    "/api/enable_totp",
    "/api/disable_totp",
    "/api/regenerate_backup_codes",
    "/api/accept_invitation_sign_up",
];

/// Whether a request counts against its client address's allowance: every POST without a session, and every
/// credential endpoint with one.
fn counts_per_address(ctx: &RequestContext, path: &str) -> bool {
    // Typing in a new-password field has an allowance of its own (`RateLimits::password_check`).
    path != "/api/check_new_password" && (ctx.session.is_none() || CREDENTIAL_ENDPOINTS.contains(&path))
}

/// POSTs count against their client address (IPv6 by /64) per [`counts_per_address`]: 429 with `Retry-After`.
fn anonymous_rate_limit(st: &AppState, req: &Request) -> Option<Response> {
    if is_safe(req.method()) {
        return None;
    }
    let ctx = req.extensions().get::<RequestContext>()?;
    if !counts_per_address(ctx, req.uri().path()) {
        return None;
    }
    let retry = st.limits.anonymous_post(ctx.ip).err()?;
    tracing::warn!(request_id = %ctx.request_id, ip = %ctx.ip, path = %req.uri().path(), "rate limit hit");
    let mut res =
        error_response(req, StatusCode::TOO_MANY_REQUESTS, AppError::RateLimited { retry_after_secs: retry.0 });
    res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry.0));
    Some(res)
}

/// The error as the caller can read it: a small HTML page for a browser form, the JSON `AppError` for the
/// server-function client.
pub fn error_response(req: &Request, status: StatusCode, error: AppError) -> Response {
    let html = req.extensions().get::<RequestContext>().is_some_and(|c| c.wants_html);
    if html {
        html_page(status, status.canonical_reason().unwrap_or("Error"), &error.to_string())
    } else {
        let body = serde_json::to_string(&error).unwrap_or_default();
        (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
    }
}

pub(crate) fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A small page outside the app's router (an error the pipeline answers, the OAuth consent): `title` and a
/// paragraph of `message`, escaped.
pub(crate) fn html_page(status: StatusCode, title: &str, message: &str) -> Response {
    html_page_raw(status, title, &format!("<p>{}</p><p><a href=\"/\">Home</a></p>", escape(message)))
}

/// [`html_page`] with a body that is already HTML (every value in it escaped by the caller).
pub(crate) fn html_page_raw(status: StatusCode, title: &str, body: &str) -> Response {
    let stylesheet = &crate::routes::assets::Assets::get().stylesheet_href;
    let title = escape(title);
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"color-scheme\" content=\"light dark\"><title>{title}</title>\
         <link rel=\"stylesheet\" href=\"{stylesheet}\"></head><body><main class=\"site-main\" id=\"main\">\
         <section class=\"card auth-card\"><h1>{title}</h1>{body}</section></main></body></html>"
    );
    (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response()
}

/// The pipeline of a route that never reads cookies (the JSON API, the OpenID provider's endpoints for clients), as
/// one layer: the request context (request id, client address and user agent, no session), then the route, and the
/// security headers on its answer.
pub async fn cookieless_pipeline(State(st): State<AppState>, mut req: Request, next: Next) -> Response {
    let (request_id, ip, user_agent) = caller(&st, &req);
    let ctx = RequestContext { request_id, ip, user_agent, ..RequestContext::system() };
    req.extensions_mut().insert(ctx);
    let res = next.run(req).await;
    security_headers(&st, "", res)
}

/// Security headers on every response (S45). Pages get a CSP whose nonce matches their inline scripts.
fn security_headers(st: &AppState, nonce: &str, mut res: Response) -> Response {
    const CSP_BEFORE_NONCE: &str = "default-src 'self'; script-src 'self' 'nonce-";
    const CSP_AFTER_NONCE: &str = "' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
         font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";
    const COOP: header::HeaderName = header::HeaderName::from_static("cross-origin-opener-policy");
    const PERMISSIONS_POLICY: header::HeaderName = header::HeaderName::from_static("permissions-policy");
    let h = res.headers_mut();
    // Put together rather than formatted: this runs for every response.
    let mut csp = String::with_capacity(CSP_BEFORE_NONCE.len() + nonce.len() + CSP_AFTER_NONCE.len());
    csp.push_str(CSP_BEFORE_NONCE);
    csp.push_str(nonce);
    csp.push_str(CSP_AFTER_NONCE);
    // A handler may set a stricter or wider one of its own (the OpenID provider's consent form posts to a page
    // that redirects to the app).
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.entry(header::CONTENT_SECURITY_POLICY).or_insert(v);
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(COOP, HeaderValue::from_static("same-origin"));
    h.insert(PERMISSIONS_POLICY, HeaderValue::from_static("camera=(), microphone=(), geolocation=(), payment=()"));
    if st.config.secure_cookies() {
        h.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=63072000; includeSubDomains"));
    }
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}
