use leptos::{either::Either, prelude::*};

use crate::components::{
    form::ErrorBanner,
    layout::{with_page_context, NoticeBanner},
    sync_render::SyncRender,
};

#[component]
pub fn HomePage() -> impl IntoView {
    // Waits for nothing: written in one pass (see `SyncRender`).
    SyncRender(with_page_context(|page| {
        let notice = page.flash.notice;
        // A form the server could not read (and that named no page to go back to) lands here with its error.
        let error = Signal::stored(page.flash.error.clone());
        match page.user {
            Some(user) => Either::Left(view! {
                <section class="card" aria-labelledby="page-title">
                    <NoticeBanner notice/>
                    <ErrorBanner error/>
                    {(!user.confirmed).then(|| view! {
                        <div class="banner banner-warn" role="status">
                            "Your e-mail address is not confirmed yet. "
                            <a href="/users/confirm">"Confirm it"</a>
                            " to keep access to your account."
                        </div>
                    })}
                    <h1 id="page-title">"Your dashboard"</h1>
                    {user.display_name.clone().map(|name| view! { <p class="greeting">{format!("Hello, {name}!")}</p> })}
                    <p>"You are signed in as " <strong>{user.email}</strong> "."</p>
                    <p class="muted">"This is the page a fork turns into its product. Everything account-related is already here."</p>
                </section>
            }),
            None => Either::Right(view! {
                <section class="hero" aria-labelledby="page-title">
                    <NoticeBanner notice/>
                    <ErrorBanner error/>
                    <h1 id="page-title">"Accounts, done right."</h1>
                    <p class="lead">
                        "Registration, confirmation and sessions with secure defaults: rate limits, no account enumeration, hashed tokens."
                    </p>
                    <p class="hero-actions">
                        <a class="button" href="/users/register">"Create an account"</a>
                        <a class="button button-secondary" href="/users/log-in">"Log in"</a>
                    </p>
                </section>
            }),
        }
    }))
}
