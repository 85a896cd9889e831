//! Portcullis: pages and server functions, shared by the server (feature `ssr`) and the browser (`hydrate`).
#![recursion_limit = "256"]

pub mod account;
pub mod admin;
pub mod auth;
pub mod components;
pub mod context;
pub mod developers;
pub mod error;
pub mod home;
pub mod orgs;
// Forks: your feature modules.

/// Jobs of the app's own features, registered beside the backend's when the server builds its state.
#[cfg(feature = "ssr")]
pub fn register_jobs(jobs: &mut backend::platform::jobs::Registry) {
    // Forks: your jobs, e.g. `jobs.register::<projects::SendDigest>();`.
    let _ = jobs;
}

#[cfg(feature = "ssr")]
pub mod server_ctx;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::{
    components::{ParentRoute, Route, Router, Routes},
    path, Lazy, LazyRoute, SsrMode,
};

use crate::{
    account::{
        api_tokens::ApiTokensPage,
        connections::ConnectionsPage,
        security::SecurityPage,
        sessions::SessionsPage,
        settings::{CancelEmailChangePage, ConfirmEmailChangePage, KeepAccountPage, SettingsPage},
        sudo::SudoPage,
    },
    admin::{AdminAuditPage, AdminJobsPage, AdminPage, AdminUserPage, AdminUsersPage},
    auth::{
        confirm::{ConfirmLinkPage, ConfirmPage},
        login::{LoginPage, MagicLinkPage},
        mfa::MfaPage,
        password_reset::{RequestResetPage, ResetPasswordPage},
        register::RegisterPage,
    },
    components::layout::{provide_page_context, Header},
    developers::ApiReferencePage,
    home::HomePage,
    orgs::{
        home::OrgHomePage, invitation::InvitationPage, members::OrgMembersPage,
        service_accounts::OrgServiceAccountsPage, settings::OrgSettingsPage, NewOrganizationPage, OrganizationsPage,
    },
};

/// The stylesheet's address in this build (`/pkg/portcullis.<hash>.css`, cached forever), provided by the server.
#[derive(Clone, Debug)]
pub struct StylesheetHref(pub String);

/// The HTML document around the app, rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(nonce) = server_ctx::with_request(|ctx| ctx.nonce.clone()) {
        provide_context(leptos::nonce::Nonce::from_value(nonce));
    }
    let stylesheet = use_context::<StylesheetHref>()
        .map_or_else(|| concat!("/pkg/", env!("LEPTOS_OUTPUT_NAME"), ".css").to_string(), |s| s.0);
    #[cfg(feature = "ssr")]
    let page_context = components::layout::page_context_script();
    #[cfg(not(feature = "ssr"))]
    let page_context = ();
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
                <LoadBundle options/>
                <MetaTags/>
                {page_context}
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The tags that load the bundle and hydrate the page, as Leptos's `HydrationScripts` makes them (a preload of the
/// glue module and of the main WASM module, and an inline module script, with this request's nonce, that imports
/// the glue, instantiates the module and calls its `hydrate`), with their text made once per process: Leptos
/// formats the script anew for every page. The bundle is not split by Leptos's manifest (see `page_groups!`), so
/// there is nothing else to provide.
#[component]
fn LoadBundle(options: LeptosOptions) -> impl IntoView {
    static TAGS: std::sync::OnceLock<(String, String, String)> = std::sync::OnceLock::new();
    let (js, wasm, script) = TAGS.get_or_init(|| {
        let dir = format!("/{}", options.site_pkg_dir);
        let js = format!("{dir}/{}.js", options.output_name);
        let wasm = format!("{dir}/{}.wasm", options.output_name);
        let script = format!(
            "import({js:?}).then((glue) => glue.default({{ module_or_path: {wasm:?} }}).then(() => glue.hydrate()));"
        );
        (js, wasm, script)
    });
    let nonce = leptos::nonce::use_nonce();
    view! {
        <link rel="modulepreload" href=js.as_str() crossorigin="anonymous"/>
        <link rel="preload" href=wasm.as_str() r#as="fetch" r#type="application/wasm" crossorigin="anonymous"/>
        <script type="module" nonce=nonce>{script.as_str()}</script>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Title text=env!("APP_NAME_DEFAULT")/>
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
                // Open to everyone: signing up and in, and the pages mailed links open (their token is the key).
                <Route path=path!("/") view={Lazy::<HomeRoute>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/users/register") view={Lazy::<RegisterRoute>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/users/log-in") view={Lazy::<LoginRoute>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/users/log-in/:token") view={Lazy::<MagicLinkRoute>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/users/confirm") view={Lazy::<ConfirmRoute>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/users/confirm/:token") view={Lazy::<ConfirmLinkRoute>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/users/mfa") view={Lazy::<MfaRoute>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/users/settings/email/:token") view={Lazy::<ConfirmEmailChangeRoute>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/users/settings/email/cancel/:token") view={Lazy::<CancelEmailChangeRoute>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/users/settings/delete/cancel/:token") view={Lazy::<KeepAccountRoute>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/users/reset-password") view={Lazy::<RequestResetRoute>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/users/reset-password/:token") view={Lazy::<ResetPasswordRoute>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/invitations/:token") view={Lazy::<InvitationRoute>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/developers/api") view={Lazy::<ApiReferenceRoute>::new()} ssr=SsrMode::Async/>
                // Behind log in. (Each page's server functions check the session again: the server decides.)
                <ParentRoute path=path!("") view=components::page::RequireUser ssr=SsrMode::Async>
                    <Route path=path!("/users/sessions") view={Lazy::<SessionsRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/users/sudo") view={Lazy::<SudoRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/users/settings/security") view={Lazy::<SecurityRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/users/settings/connections") view={Lazy::<ConnectionsRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/users/settings/api-tokens") view={Lazy::<ApiTokensRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/users/settings") view={Lazy::<SettingsRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/organizations") view={Lazy::<OrganizationsRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/organizations/new") view={Lazy::<NewOrganizationRoute>::new()} ssr=SsrMode::Async/>
                    // Forks: your pages behind log in.
                    // Members only: the data functions answer outsiders 404 (see `orgs::org_page`).
                    <Route path=path!("/organizations/:slug") view={Lazy::<OrgHomeRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/organizations/:slug/members") view={Lazy::<OrgMembersRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/organizations/:slug/settings") view={Lazy::<OrgSettingsRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/organizations/:slug/service-accounts") view={Lazy::<OrgServiceAccountsRoute>::new()} ssr=SsrMode::Async/>
                    // Admins only: anyone else gets a bare 403 page.
                    <ParentRoute path=path!("") view=admin::AdminOnly ssr=SsrMode::Async>
                        <Route path=path!("/admin") view={Lazy::<AdminRoute>::new()} ssr=SsrMode::Async/>
                        <Route path=path!("/admin/users") view={Lazy::<AdminUsersRoute>::new()} ssr=SsrMode::Async/>
                        <Route path=path!("/admin/users/:id") view={Lazy::<AdminUserRoute>::new()} ssr=SsrMode::Async/>
                        <Route path=path!("/admin/audit") view={Lazy::<AdminAuditRoute>::new()} ssr=SsrMode::Async/>
                        <Route path=path!("/admin/jobs") view={Lazy::<AdminJobsRoute>::new()} ssr=SsrMode::Async/>
                        // Forks: your admin pages.
                    </ParentRoute>
                </ParentRoute>
            </Routes>
        </main>
        <footer class="site-footer">
            <p>{concat!(env!("APP_NAME_DEFAULT"), " · accounts done right")}</p>
        </footer>
    }
}

/// The pages, in the groups whose code the browser loads together: each group is one lazily loaded function
/// (`#[lazy]`), which `scripts/build.sh` cuts out of the main module into chunks fetched the first time one of its
/// pages is shown. So the bundle every visitor downloads holds the shell, the router and what the pages share, and a
/// visitor who never opens the admin console never downloads it. Few groups, not one per page: every split point
/// multiplies the chunks that code shared between pages is cut into (one per page made 382 files, over a hundred of
/// them for the log-in page). On the server, a lazy route is an ordinary one.
///
/// `page_groups!` declares, for each group, a module with an enum of its pages, the lazy function that renders one
/// (with the `preload` the router calls before hydrating a page, so its chunk is there first), and for each page the
/// route type (`Lazy::<XRoute>`) for the route table. A page component without props goes in a group as
/// `XRoute => XPage`.
macro_rules! page_groups {
    ($($group:ident { $($route:ident => $page:ident),* $(,)? })*) => {$(
        mod $group {
            use super::*;

            #[derive(Clone, Copy)]
            #[repr(u8)] // passed across the split (an `extern "C"` call between the main module and a chunk)
            pub enum Page {
                $($page),*
            }

            #[lazy($group)]
            pub fn page(page: Page) -> AnyView {
                match page {
                    $(Page::$page => view! { <$page/> }.into_any()),*
                }
            }

            $(
                pub struct $route;
                impl LazyRoute for $route {
                    fn data() -> Self {
                        $route
                    }
                    async fn view(_this: Self) -> AnyView {
                        page(Page::$page).await
                    }
                    async fn preload() {
                        #[cfg(target_arch = "wasm32")]
                        __preload_page().await;
                    }
                }
            )*
        }
        use $group::{$($route),*};
    )*};
}

page_groups! {
    sign_in {
        HomeRoute => HomePage,
        RegisterRoute => RegisterPage,
        LoginRoute => LoginPage,
        MagicLinkRoute => MagicLinkPage,
        ConfirmRoute => ConfirmPage,
        ConfirmLinkRoute => ConfirmLinkPage,
        MfaRoute => MfaPage,
        RequestResetRoute => RequestResetPage,
        ResetPasswordRoute => ResetPasswordPage,
    }
    account_pages {
        SessionsRoute => SessionsPage,
        SudoRoute => SudoPage,
        SecurityRoute => SecurityPage,
        ConnectionsRoute => ConnectionsPage,
        ApiTokensRoute => ApiTokensPage,
        ApiReferenceRoute => ApiReferencePage,
        SettingsRoute => SettingsPage,
        ConfirmEmailChangeRoute => ConfirmEmailChangePage,
        CancelEmailChangeRoute => CancelEmailChangePage,
        KeepAccountRoute => KeepAccountPage,
    }
    organization_pages {
        OrganizationsRoute => OrganizationsPage,
        NewOrganizationRoute => NewOrganizationPage,
        OrgHomeRoute => OrgHomePage,
        OrgMembersRoute => OrgMembersPage,
        OrgSettingsRoute => OrgSettingsPage,
        OrgServiceAccountsRoute => OrgServiceAccountsPage,
        InvitationRoute => InvitationPage,
    }
    admin_pages {
        AdminRoute => AdminPage,
        AdminUsersRoute => AdminUsersPage,
        AdminUserRoute => AdminUserPage,
        AdminAuditRoute => AdminAuditPage,
        AdminJobsRoute => AdminJobsPage,
    }
}

#[component]
pub fn NotFound() -> impl IntoView {
    // A form's redirect after a sign-in navigates inside the app; a page the server answers itself (the OpenID
    // provider's, with `return_to`) is loaded from the server instead. The server never renders this component at
    // those addresses, so this cannot loop.
    #[cfg(feature = "hydrate")]
    {
        let location = window().location();
        if domain::pages::SERVER_PAGES.contains(&location.pathname().unwrap_or_default().as_str()) {
            let _ = location.reload();
        }
    }
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
