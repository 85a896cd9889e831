//! The one way a page shows the data its server function loads: "Loading…" while it comes, then the page's own
//! view of it; an error as a banner, or for a `NotFound` (an organization the user is not in, say) the 404 page.
//! Who may open a page at all is decided before this, by the route guards in `lib.rs` ([`RequireUser`] here, and
//! the admins' `admin::AdminOnly`).
use leptos::{either::EitherOf3, prelude::*};
use leptos_router::{components::Outlet, hooks::use_location};
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// `data` once loaded, shown by `show`.
pub fn loaded<T, V>(
    data: Resource<Result<T, AppError>>,
    show: impl Fn(T) -> V + Send + Sync + Clone + 'static,
) -> impl IntoView
where
    T: Clone + Send + Sync + Serialize + for<'de> Deserialize<'de> + 'static,
    V: IntoView + 'static,
{
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || {
                let show = show.clone();
                Suspend::new(async move {
                    match data.await {
                        Ok(d) => show(d).into_any(),
                        Err(AppError::NotFound) => view! { <crate::NotFound/> }.into_any(),
                        Err(e) => view! { <div class="banner banner-error" role="alert">{e.banner()}</div> }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
}

/// The guard of the pages behind log in (a parent route's view in `lib.rs`). Signed in: the page. Signed out: on the
/// server, a `302` to `/users/log-in?return_to=<this page>`, from where every way of signing in comes back; in the
/// browser (a client-side navigation after the session ended), a card with that link. While a client-side navigation
/// is waiting for its page context (the user may have just signed in or out), nothing.
///
/// The browser does not navigate by itself: during a navigation away from these pages (say, to the home page after
/// deleting the account), this guard still stands over the old page for a moment, and must not send the user to log
/// in from where they are going.
#[component]
pub fn RequireUser() -> impl IntoView {
    let known = crate::components::layout::signed_in();
    let location = use_location();
    let here = move || {
        let (path, query) = (location.pathname.get_untracked(), location.search.get_untracked());
        domain::validation::log_in_link(&if query.is_empty() { path } else { format!("{path}?{query}") })
    };
    move || match known() {
        Some(true) => EitherOf3::A(view! { <Outlet/> }),
        Some(false) => {
            let link = here();
            #[cfg(feature = "ssr")]
            crate::server_ctx::redirect_page(&link);
            EitherOf3::B(view! {
                <section class="card auth-card" aria-labelledby="page-title">
                    <h1 id="page-title">"Please log in"</h1>
                    <p>"You are signed out. Log in, and you will be brought back to this page."</p>
                    <p><a class="button" href=link>"Log in"</a></p>
                </section>
            })
        }
        None => EitherOf3::C(()),
    }
}
