//! Portcullis: pages and server functions, shared by the server (feature `ssr`) and the browser (`hydrate`).
#![recursion_limit = "256"]

pub mod account;
pub mod admin;
pub mod auth;
pub mod components;
pub mod context;
pub mod error;
pub mod home;
pub mod orgs;
pub mod validation;

#[cfg(feature = "ssr")]
pub mod backend;
#[cfg(feature = "ssr")]
pub mod server_ctx;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    path, SsrMode,
};

use crate::{
    account::{
        connections::ConnectionsPage,
        security::SecurityPage,
        sessions::SessionsPage,
        settings::{CancelEmailChangePage, ConfirmEmailChangePage, KeepAccountPage, SettingsPage},
        sudo::SudoPage,
    },
    auth::{
        confirm::{ConfirmLinkPage, ConfirmPage},
        login::{LoginPage, MagicLinkPage},
        mfa::MfaPage,
        password_reset::{RequestResetPage, ResetPasswordPage},
        register::RegisterPage,
    },
    components::layout::{provide_page_context, Header},
    home::HomePage,
    orgs::{
        home::OrgHomePage, invitation::InvitationPage, members::OrgMembersPage, settings::OrgSettingsPage,
        NewOrganizationPage, OrganizationsPage,
    },
};

/// The stylesheet's address in this build (`/pkg/portcullis.<hash>.css`, cached forever), provided by the server.
#[derive(Clone, Debug)]
pub struct StylesheetHref(pub String);

/// The HTML document around the app, rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(ctx) = use_context::<axum::http::request::Parts>()
        .and_then(|p| p.extensions.get::<backend::request::RequestContext>().cloned())
    {
        provide_context(leptos::nonce::Nonce::from_value(ctx.nonce.clone()));
    }
    let stylesheet = use_context::<StylesheetHref>().map_or_else(|| "/pkg/portcullis.css".to_string(), |s| s.0);
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <link rel="icon" href="/favicon.ico" type="image/svg+xml"/>
                <link rel="stylesheet" href=stylesheet/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Marks the page once the WASM bundle has taken over (browser tests wait for it).
    #[cfg(feature = "hydrate")]
    Effect::new(|_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
    view! {
        <Title text="Portcullis"/>
        <Router>
            <PageFrame/>
        </Router>
    }
}

#[component]
fn PageFrame() -> impl IntoView {
    provide_page_context();
    view! {
        <a class="skip-link" href="#main">"Skip to content"</a>
        <Header/>
        <main id="main" class="site-main">
            <Routes fallback=NotFound>
                <Route path=path!("/") view=HomePage ssr=SsrMode::Async/>
                <Route path=path!("/users/register") view=RegisterPage ssr=SsrMode::Async/>
                <Route path=path!("/users/log-in") view=LoginPage ssr=SsrMode::Async/>
                <Route path=path!("/users/log-in/:token") view=MagicLinkPage ssr=SsrMode::Async/>
                <Route path=path!("/users/confirm") view=ConfirmPage ssr=SsrMode::Async/>
                <Route path=path!("/users/confirm/:token") view=ConfirmLinkPage ssr=SsrMode::Async/>
                <Route path=path!("/users/sessions") view=SessionsPage ssr=SsrMode::Async/>
                <Route path=path!("/users/sudo") view=SudoPage ssr=SsrMode::Async/>
                <Route path=path!("/users/mfa") view=MfaPage ssr=SsrMode::Async/>
                <Route path=path!("/users/settings/security") view=SecurityPage ssr=SsrMode::Async/>
                <Route path=path!("/users/settings/connections") view=ConnectionsPage ssr=SsrMode::Async/>
                <Route path=path!("/users/settings") view=SettingsPage ssr=SsrMode::Async/>
                <Route path=path!("/users/settings/email/:token") view=ConfirmEmailChangePage ssr=SsrMode::Async/>
                <Route path=path!("/users/settings/email/cancel/:token") view=CancelEmailChangePage ssr=SsrMode::Async/>
                <Route path=path!("/users/settings/delete/cancel/:token") view=KeepAccountPage ssr=SsrMode::Async/>
                <Route path=path!("/users/reset-password") view=RequestResetPage ssr=SsrMode::Async/>
                <Route path=path!("/users/reset-password/:token") view=ResetPasswordPage ssr=SsrMode::Async/>
                <Route path=path!("/organizations") view=OrganizationsPage ssr=SsrMode::Async/>
                <Route path=path!("/organizations/new") view=NewOrganizationPage ssr=SsrMode::Async/>
                <Route path=path!("/organizations/:slug") view=OrgHomePage ssr=SsrMode::Async/>
                <Route path=path!("/organizations/:slug/members") view=OrgMembersPage ssr=SsrMode::Async/>
                <Route path=path!("/organizations/:slug/settings") view=OrgSettingsPage ssr=SsrMode::Async/>
                <Route path=path!("/invitations/:token") view=InvitationPage ssr=SsrMode::Async/>
                <Route path=path!("/admin") view=admin::AdminPage ssr=SsrMode::Async/>
                <Route path=path!("/admin/users") view=admin::AdminUsersPage ssr=SsrMode::Async/>
                <Route path=path!("/admin/users/:id") view=admin::AdminUserPage ssr=SsrMode::Async/>
                <Route path=path!("/admin/audit") view=admin::AdminAuditPage ssr=SsrMode::Async/>
                <Route path=path!("/admin/jobs") view=admin::AdminJobsPage ssr=SsrMode::Async/>
            </Routes>
        </main>
        <footer class="site-footer">
            <p>"Portcullis · accounts done right"</p>
        </footer>
    }
}

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
        res.set_status(axum::http::StatusCode::NOT_FOUND);
    }
    view! {
        <section class="card auth-card">
            <h1>"Page not found"</h1>
            <p>"There is nothing at this address."</p>
            <p><a href="/">"Go to the home page"</a></p>
        </section>
    }
}
