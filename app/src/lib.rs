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
    path, ChooseView, GeneratedRouteData, MatchNestedRoutes, RouteMatchId, SsrMode,
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
    components::{
        layout::{provide_page_context, Header},
        sync_render::SyncRender,
    },
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
pub fn shell(options: &LeptosOptions) -> impl IntoView {
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
    // cargo-leptos's reload script, only under `cargo leptos watch`; the variable is read once per process
    // (`AutoReload` reads it for every page, and takes the options by value).
    static WATCHING: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let reload = WATCHING
        .get_or_init(|| std::env::var_os("LEPTOS_WATCH").is_some())
        .then(|| view! { <AutoReload options=options.clone()/> });
    view! {
        <!DOCTYPE html>
        <html lang="en">
            // The head waits for nothing: written in one pass (see `SyncRender`).
            {SyncRender(view! {
                <head>
                    <meta charset="utf-8"/>
                    <meta name="viewport" content="width=device-width, initial-scale=1"/>
                    <meta name="color-scheme" content="light dark"/>
                    <link rel="icon" href="/favicon.ico" type="image/svg+xml"/>
                    <link rel="stylesheet" href=stylesheet/>
                    {reload}
                    {load_bundle(options)}
                    <MetaTags/>
                    {page_context}
                </head>
            })}
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
fn load_bundle(options: &LeptosOptions) -> impl IntoView {
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
        // The header and the footer wait for nothing: written in one pass (see `SyncRender`).
        {SyncRender(view! { <Header/> })}
        <main id="main" class="site-main">
            <Routes fallback=NotFound><RouteTable/></Routes>
        </main>
        {SyncRender(view! {
            <footer class="site-footer">
                <p>{concat!(env!("APP_NAME_DEFAULT"), " · accounts done right")}</p>
            </footer>
        })}
    }
}

/// The route table: which page answers which address, and who may see it. Forks add their pages at the `Forks:`
/// lines (a page whose code the browser should load lazily also goes in a group of `page_groups!` below).
fn route_definitions() -> impl MatchNestedRoutes + Send + Sync + 'static {
    view! {
        // Open to everyone: signing up and in, and the pages mailed links open (their token is the key).
        <Route path=path!("/") view=HomeRoute ssr=SsrMode::Async/>
        <Route path=path!("/users/register") view=RegisterRoute ssr=SsrMode::Async/>
        <Route path=path!("/users/log-in") view=LoginRoute ssr=SsrMode::Async/>
        <Route path=path!("/users/log-in/:token") view=MagicLinkRoute ssr=SsrMode::Async/>
        <Route path=path!("/users/confirm") view=ConfirmRoute ssr=SsrMode::Async/>
        <Route path=path!("/users/confirm/:token") view=ConfirmLinkRoute ssr=SsrMode::Async/>
        <Route path=path!("/users/mfa") view=MfaRoute ssr=SsrMode::Async/>
        <Route path=path!("/users/settings/email/:token") view=ConfirmEmailChangeRoute ssr=SsrMode::Async/>
        <Route path=path!("/users/settings/email/cancel/:token") view=CancelEmailChangeRoute ssr=SsrMode::Async/>
        <Route path=path!("/users/settings/delete/cancel/:token") view=KeepAccountRoute ssr=SsrMode::Async/>
        <Route path=path!("/users/reset-password") view=RequestResetRoute ssr=SsrMode::Async/>
        <Route path=path!("/users/reset-password/:token") view=ResetPasswordRoute ssr=SsrMode::Async/>
        <Route path=path!("/invitations/:token") view=InvitationRoute ssr=SsrMode::Async/>
        <Route path=path!("/developers/api") view=ApiReferenceRoute ssr=SsrMode::Async/>
        // Behind log in. (Each page's server functions check the session again: the server decides.)
        <ParentRoute path=path!("") view=components::page::RequireUser ssr=SsrMode::Async>
            <Route path=path!("/users/sessions") view=SessionsRoute ssr=SsrMode::Async/>
            <Route path=path!("/users/sudo") view=SudoRoute ssr=SsrMode::Async/>
            <Route path=path!("/users/settings/security") view=SecurityRoute ssr=SsrMode::Async/>
            <Route path=path!("/users/settings/connections") view=ConnectionsRoute ssr=SsrMode::Async/>
            <Route path=path!("/users/settings/api-tokens") view=ApiTokensRoute ssr=SsrMode::Async/>
            <Route path=path!("/users/settings") view=SettingsRoute ssr=SsrMode::Async/>
            <Route path=path!("/organizations") view=OrganizationsRoute ssr=SsrMode::Async/>
            <Route path=path!("/organizations/new") view=NewOrganizationRoute ssr=SsrMode::Async/>
            // Forks: your pages behind log in.
            // Members only: the data functions answer outsiders 404 (see `orgs::org_page`).
            <Route path=path!("/organizations/:slug") view=OrgHomeRoute ssr=SsrMode::Async/>
            <Route path=path!("/organizations/:slug/members") view=OrgMembersRoute ssr=SsrMode::Async/>
            <Route path=path!("/organizations/:slug/settings") view=OrgSettingsRoute ssr=SsrMode::Async/>
            <Route path=path!("/organizations/:slug/service-accounts") view=OrgServiceAccountsRoute ssr=SsrMode::Async/>
            // Admins only: anyone else gets a bare 403 page.
            <ParentRoute path=path!("") view=admin::AdminOnly ssr=SsrMode::Async>
                <Route path=path!("/admin") view=AdminRoute ssr=SsrMode::Async/>
                <Route path=path!("/admin/users") view=AdminUsersRoute ssr=SsrMode::Async/>
                <Route path=path!("/admin/users/:id") view=AdminUserRoute ssr=SsrMode::Async/>
                <Route path=path!("/admin/audit") view=AdminAuditRoute ssr=SsrMode::Async/>
                <Route path=path!("/admin/jobs") view=AdminJobsRoute ssr=SsrMode::Async/>
                // Forks: your admin pages.
            </ParentRoute>
        </ParentRoute>
    }
    .into_inner()
}

/// The route table, built once per process and shared by every render. `<Routes>` takes its table by value and
/// clones it once per render, and each `<Route>` written inside it is built anew per render (with its own set of
/// methods, id and lazy-view state): about a tenth of the instructions of a signed-in page, for a table that never
/// changes. Sharing it is safe because the table holds no state: each route's view is a unit struct (see
/// `page_groups!`) or a component function.
#[component(transparent)]
fn RouteTable() -> SharedRoutes<impl MatchNestedRoutes + Send + Sync + 'static> {
    static TABLE: std::sync::OnceLock<Box<dyn std::any::Any + Send + Sync>> = std::sync::OnceLock::new();
    fn shared<T: Send + Sync + 'static>(make: impl FnOnce() -> T) -> SharedRoutes<T> {
        let table = TABLE.get_or_init(|| Box::new(SharedRoutes(std::sync::Arc::new(make()))));
        table.downcast_ref::<SharedRoutes<T>>().expect("one route table per process").clone()
    }
    shared(route_definitions)
}

/// Route definitions behind an `Arc`: cloning them is one reference count.
struct SharedRoutes<T>(std::sync::Arc<T>);

impl<T> Clone for SharedRoutes<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<T: MatchNestedRoutes> MatchNestedRoutes for SharedRoutes<T> {
    type Data = T::Data;
    type Match = T::Match;

    fn match_nested<'a>(&'a self, path: &'a str) -> (Option<(RouteMatchId, Self::Match)>, &'a str) {
        self.0.match_nested(path)
    }

    fn generate_routes(&self) -> impl IntoIterator<Item = GeneratedRouteData> + '_ {
        self.0.generate_routes()
    }

    fn optional(&self) -> bool {
        self.0.optional()
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
/// route's view (`view=XRoute` in the route table). A page component without props goes in a group as
/// `XRoute => XPage`. (Leptos's own `Lazy::<XRoute>` would do the same, but it carries state shared by everyone
/// rendering the route, which the shared route table cannot have: two renders at once would collide on it.)
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
                #[derive(Clone, Copy)]
                pub struct $route;
                impl ChooseView for $route {
                    async fn choose(self) -> AnyView {
                        page(Page::$page).await
                    }
                    async fn preload(&self) {
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
