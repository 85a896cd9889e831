use leptos::prelude::*;
use leptos_router::hooks::use_location;

use crate::{
    context::{PageContext, UserView},
    error::AppError,
};

/// Who is signed in, and this request's flash (read once, then cleared).
#[server(prefix = "/api", endpoint = "page_context")]
pub async fn get_page_context() -> Result<PageContext, AppError> {
    let ctx = crate::server_ctx::request()?;
    let flash = crate::server_ctx::take_flash();
    let user = ctx.session.as_ref().map(|s| UserView { email: s.email.clone(), confirmed: s.confirmed });
    Ok(PageContext { user, flash })
}

pub type PageContextResource = Resource<Result<PageContext, AppError>>;

/// Fetched with the page on the server, and again after each client-side navigation.
pub fn provide_page_context() {
    let location = use_location();
    let resource: PageContextResource = Resource::new(move || location.pathname.get(), |_| get_page_context());
    provide_context(resource);
}

/// Renders `body` once the page context is known.
pub fn with_page_context<V: IntoView + 'static>(
    body: impl Fn(PageContext) -> V + Send + Sync + Clone + 'static,
) -> impl IntoView {
    let resource = expect_context::<PageContextResource>();
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || {
                let body = body.clone();
                Suspend::new(async move {
                    let ctx = resource.await.unwrap_or_default();
                    body(ctx)
                })
            }}
        </Suspense>
    }
}

#[component]
pub fn Header() -> impl IntoView {
    let resource = expect_context::<PageContextResource>();
    view! {
        <header class="site-header">
            <a class="brand" href="/">
                <span class="brand-mark" aria-hidden="true">"▣"</span>
                "Portcullis"
            </a>
            <nav aria-label="Account">
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        match resource.await.ok().and_then(|c| c.user) {
                            Some(user) => view! { <SignedInNav user/> }.into_any(),
                            None => {
                                view! {
                                    <a class="nav-link" href="/users/log-in">"Log in"</a>
                                    <a class="button button-small" href="/users/register">"Register"</a>
                                }
                                    .into_any()
                            }
                        }
                    })}
                </Transition>
            </nav>
        </header>
    }
}

#[component]
fn SignedInNav(user: UserView) -> impl IntoView {
    view! {
        <span class="nav-user" title="Signed in">{user.email}</span>
        // A plain form: logging out reloads the whole page, so no client state outlives the session.
        <form method="post" action="/api/log_out" class="inline-form">
            <button type="submit" class="button button-small button-secondary">"Log out"</button>
        </form>
    }
}

#[component]
pub fn NoticeBanner(notice: Option<crate::context::Notice>) -> impl IntoView {
    notice.map(|n| view! { <div class="banner banner-info" role="status">{n.text()}</div> })
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
