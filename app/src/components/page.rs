//! The one way a page shows the data its server function loads: "Loading…" while it comes, then the page's own
//! view of it; an error as a banner, or for a `NotFound` (an organization the user is not in, say) the 404 page.
//! Who may open a page at all is decided before this, by the route guards in `lib.rs`.
use leptos::prelude::*;
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
