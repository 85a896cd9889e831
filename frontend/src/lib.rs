//! The browser entry: hydrates the server-rendered page.
#![recursion_limit = "256"]
use std::cell::RefCell;

use leptos::prelude::*;
use wasm_bindgen::{closure::Closure, JsCast};

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    reload_when_a_chunk_is_gone();
    // Asynchronous hydration: the page's route is a lazily loaded chunk of the bundle, which has to arrive before
    // its server-rendered HTML can be hydrated (synchronous hydration would find the view missing and panic).
    // `hydrate_from_async` sets Leptos's tasks up on wasm-bindgen-futures, which drives this one.
    wasm_bindgen_futures::spawn_local(async {
        let Some(body) = document().body() else { return };
        leptos::mount::hydrate_from_async(body.clone(), app::App).await.forget();
        // The page is interactive from here on (the browser tests wait for this mark).
        let _ = body.set_attribute("data-hydrated", "true");
    });
}

/// How `wasm_split`'s generated code panics when a chunk's fetch or instantiation fails (wasm_split_macros 0.2).
const CHUNK_LOAD_FAILED: &str = "load callback should succeed";

thread_local! {
    /// The address of the link the user last followed: the router fetches the next page's chunk before it changes
    /// the address bar, so this is where they were going when a chunk fails.
    static FOLLOWING: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// When a page's chunk fails to load while the app runs — most often a tab left open across a deploy, whose
/// release's folder is gone — the module cannot go on, but the server can render the page: go there with a full
/// load (the new release). Only after hydration: a page that fails before that stays as the server rendered it
/// (its forms work without the bundle), so nothing reloads in a loop.
fn reload_when_a_chunk_is_gone() {
    let remember = Closure::<dyn Fn(web_sys::Event)>::new(|ev: web_sys::Event| {
        let link = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .and_then(|e| e.closest("a[href]").ok().flatten());
        let href = link.and_then(|a| a.dyn_into::<web_sys::HtmlAnchorElement>().ok()).map(|a| a.href());
        FOLLOWING.with(|f| *f.borrow_mut() = href);
    });
    // In the capture phase, before the router's own click handler.
    let _ = document().add_event_listener_with_callback_and_bool("click", remember.as_ref().unchecked_ref(), true);
    remember.forget(); // for the life of the page
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        previous(info);
        let hydrated = document().body().is_some_and(|b| b.has_attribute("data-hydrated"));
        if hydrated && info.payload_as_str().is_some_and(|m| m.starts_with(CHUNK_LOAD_FAILED)) {
            let location = window().location();
            let _ = match FOLLOWING.with(|f| f.borrow_mut().take()) {
                Some(href) => location.assign(&href),
                None => location.reload(),
            };
        }
    }));
}
