use leptos::{either::Either, prelude::*};

use crate::{
    context::{PageContext, UserView},
    error::AppError,
};

/// Who is signed in, and this request's flash (read once, then cleared). The browser calls it after client-side
/// navigation; the server computes the same thing synchronously for the first render (see [`provide_page_context`]).
#[server(prefix = "/api", endpoint = "page_context")]
pub async fn get_page_context() -> Result<PageContext, AppError> {
    Ok(page_context_now())
}

#[cfg(feature = "ssr")]
fn page_context_now() -> PageContext {
    let st = crate::server_ctx::state().ok();
    let user = crate::server_ctx::with_request(|ctx| ctx.session.clone()).flatten().map(|s| UserView {
        sudo_open: st.as_ref().is_some_and(|st| backend::signin::sudo::is_fresh(st, &s)),
        sudo_needs_second_factor: s.sudo_needs_second_factor(),
        admin_needs_second_factor: s.is_admin && !s.has_second_factor(),
        email: s.email,
        display_name: s.display_name,
        confirmed: s.confirmed,
        active_org: s.active_org,
        is_admin: s.is_admin,
        impersonated_by: s.impersonator.map(|i| (i.email, backend::format_utc(i.ends_at))),
    });
    let app_name = st.as_ref().map(|st| st.config.app_name.clone()).unwrap_or_default();
    let providers = st
        .map(|st| st.config.oauth_providers.iter().map(|p| (p.id.clone(), p.name.clone())).collect())
        .unwrap_or_default();
    PageContext { app_name, user, flash: crate::server_ctx::take_flash(), providers }
}

/// The page context of what is on screen.
#[derive(Clone, Copy)]
pub struct CurrentPage(pub RwSignal<PageContext>);

/// The path the page context on screen was computed for. After a client-side navigation it lags behind the address
/// until the fresh context arrives; meanwhile a signed-out context may be stale (the user has just signed in).
#[derive(Clone, Copy)]
pub struct ContextPath(pub RwSignal<String>);

/// Whether the visitor is signed in: `Some(true)` as soon as the context on screen says so, `Some(false)` once the
/// context for this address says not, `None` while that is not known yet (the route guards wait instead of
/// sending a user who has just signed in back to the log-in page).
pub fn signed_in() -> impl Fn() -> Option<bool> + Clone + Send + Sync + 'static {
    known_answer(|c| c.user.is_some(), |signed_in| *signed_in)
}

/// A guard's answer from the page context: `answer` of the context on screen when `granted` (a stale context that
/// grants is still right: signing out reloads the page), else only once the context is the one for this address.
/// A memo: the guard's view is rendered again only when the answer changes, not at every navigation.
fn known_answer<T: Clone + PartialEq + Send + Sync + 'static>(
    answer: fn(&PageContext) -> T,
    granted: fn(&T) -> bool,
) -> impl Fn() -> Option<T> + Clone + Send + Sync + 'static {
    let current = expect_context::<CurrentPage>().0;
    let context_path = expect_context::<ContextPath>().0;
    let pathname = leptos_router::hooks::use_location().pathname;
    let known = Memo::new(move |_| {
        let value = current.with(answer);
        (granted(&value) || context_path.with(|p| pathname.with(|now| p == now))).then_some(value)
    });
    move || known.get()
}

/// Who the admin console is for (see `admin::AdminOnly`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdminAccess {
    Admin,
    /// An admin without a second factor: enrol first (S51).
    NeedsSecondFactor,
    NotAdmin,
}

/// Like [`signed_in`], for the admin console: `None` while not known yet.
pub fn admin_access() -> impl Fn() -> Option<AdminAccess> + Clone + Send + Sync + 'static {
    known_answer(
        |c| match &c.user {
            Some(u) if u.is_admin && u.admin_needs_second_factor => AdminAccess::NeedsSecondFactor,
            Some(u) if u.is_admin => AdminAccess::Admin,
            _ => AdminAccess::NotAdmin,
        },
        |access| *access == AdminAccess::Admin,
    )
}

/// The id of the `<script type="application/json">` in the document's head that carries the first render's page
/// context to the browser (see [`page_context_script`]).
#[cfg(any(feature = "ssr", feature = "hydrate"))]
const PAGE_CONTEXT_ID: &str = "page-context";

/// The page context of the first render, computed once by the shell (which writes it into the head).
#[cfg(feature = "ssr")]
#[derive(Clone)]
struct FirstRender(PageContext);

/// The page context of this request, for the document's head: computed here once, provided to the app's render,
/// and written as JSON that the browser reads before it hydrates ([`provide_page_context`]). Every `<` is escaped,
/// so no value (a display name, say) can end the script element. A plain element rather than Leptos's
/// `SharedValue`, which writes the JSON again as an escaped JavaScript string, at a tenth of the page's render cost.
#[cfg(feature = "ssr")]
pub fn page_context_script() -> impl IntoView {
    let context = page_context_now();
    let json = serde_json::to_string(&context).unwrap_or_default().replace('<', "\\u003c");
    provide_context(FirstRender(context));
    // Data, not code, so CSP does not apply to it; it carries the nonce anyway, like every script element of a page.
    let nonce = leptos::nonce::use_nonce();
    view! { <script type="application/json" id=PAGE_CONTEXT_ID nonce=nonce>{json}</script> }
}

/// The page context the server rendered with: from the shell on the server, from the document in the browser.
fn first_render_context() -> PageContext {
    #[cfg(feature = "ssr")]
    {
        use_context::<FirstRender>().map_or_else(page_context_now, |c| c.0)
    }
    #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
    {
        document()
            .get_element_by_id(PAGE_CONTEXT_ID)
            .and_then(|script| script.text_content())
            .and_then(|json| serde_json::from_str(&json).ok())
            .unwrap_or_default()
    }
    #[cfg(not(any(feature = "ssr", feature = "hydrate")))]
    {
        PageContext::default()
    }
}

/// Computed from the request during server rendering and handed to the browser with the page (no `Suspense`, so
/// no resource shared between boundaries); after each client-side navigation the browser asks again.
pub fn provide_page_context() {
    let initial = first_render_context();
    let current = RwSignal::new(initial);
    provide_context(CurrentPage(current));
    let pathname = leptos_router::hooks::use_location().pathname;
    let context_path = RwSignal::new(pathname.get_untracked());
    provide_context(ContextPath(context_path));
    #[cfg(feature = "hydrate")]
    Effect::new(move |previous: Option<String>| {
        let path = pathname.get();
        if previous.is_some_and(|p| p != path) {
            let path = path.clone();
            leptos::task::spawn_local(async move {
                if let Ok(ctx) = get_page_context().await {
                    current.set(ctx);
                }
                // Known now (or, if the request failed, as known as it will be).
                context_path.set(path);
            });
        }
        path
    });
}

/// Renders `body` with the page context, again whenever it changes.
pub fn with_page_context<V: IntoView + 'static>(
    body: impl Fn(PageContext) -> V + Send + Sync + 'static,
) -> impl IntoView {
    let current = expect_context::<CurrentPage>().0;
    move || body(current.get())
}

#[component]
pub fn Header() -> impl IntoView {
    let current = expect_context::<CurrentPage>().0;
    let impersonation =
        move || current.with(|c| c.user.as_ref().and_then(|u| u.impersonated_by.clone().map(|i| (u.email.clone(), i))));
    view! {
        {move || {
            impersonation()
                .map(|(email, (admin, ends))| {
                    view! {
                        <div class="impersonation-banner" role="status">
                            <p>
                                <strong>{format!("You are viewing the site as {email}.")}</strong>
                                {format!(" Impersonated by {admin}; ends by {ends} at the latest. Password, e-mail, \
                                two-step verification, passkeys and deletion are off limits.")}
                            </p>
                            // A plain form: stopping reloads the whole page with the admin's own session.
                            <form method="post" action="/api/stop_impersonating" class="inline-form">
                                <button type="submit" class="button button-small">"Stop impersonating"</button>
                            </form>
                        </div>
                    }
                })
        }}
        <header class="site-header">
            <a class="brand" href="/">
                <span class="brand-mark" aria-hidden="true">"▣"</span>
                {env!("APP_NAME_DEFAULT")}
            </a>
            <nav aria-label="Account">
                {move || match current.with(|c| c.user.clone()) {
                    Some(user) => Either::Left(view! { <SignedInNav user/> }),
                    None => Either::Right(view! {
                        <a class="nav-link" href="/users/log-in">"Log in"</a>
                        <a class="button button-small" href="/users/register">"Register"</a>
                    }),
                }}
            </nav>
        </header>
    }
}

#[component]
fn SignedInNav(user: UserView) -> impl IntoView {
    view! {
        <crate::orgs::OrgSwitcher active=user.active_org/>
        {user.is_admin.then(|| view! { <a class="nav-link" href="/admin">"Admin"</a> })}
        <a class="nav-link" href="/users/settings">"Settings"</a>
        <a class="nav-link" href="/users/sessions">"Sessions"</a>
        <span class="nav-user" title="Signed in">{user.email}</span>
        // A plain form: logging out reloads the whole page, so no client state outlives the session.
        <form method="post" action="/api/log_out" class="inline-form">
            <button type="submit" class="button button-small button-secondary">"Log out"</button>
        </form>
    }
}

#[component]
pub fn NoticeBanner(#[prop(into)] notice: Signal<Option<crate::context::Notice>>) -> impl IntoView {
    move || notice.get().map(|n| view! { <div class="banner banner-info" role="status">{n.text()}</div> })
}

/// On a page opened from a mailed link: once the page runs in the browser, the token leaves the address bar and
/// the history entry (replaced by `path`). The token stays in the page's form, which POSTs it.
#[component]
pub fn ForgetLinkInHistory(path: &'static str) -> impl IntoView {
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        // Only while the address still holds the link (`path/…`): the page can render again late, while the router
        // is already on its way to the next page (a lazily loaded one), and must not put its address over that one.
        let on_link = window().location().pathname().is_ok_and(|p| p.starts_with(&format!("{path}/")));
        if let (true, Ok(history)) = (on_link, window().history()) {
            let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(path));
        }
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = path;
}

/// A centred card for the account forms.
#[component]
pub fn AuthCard(
    title: &'static str,
    #[prop(optional)] lead: Option<&'static str>,
    children: Children,
) -> impl IntoView {
    view! {
        <section class="card auth-card" aria-labelledby="page-title">
            <h1 id="page-title">{title}</h1>
            {lead.map(|l| view! { <p class="lead">{l}</p> })}
            {children()}
        </section>
    }
}
