//! The server: configuration → state → router → serve, plus the job worker. Tests build the same router.
pub mod api;
pub mod cli;
pub mod doctor;
pub mod middleware;
pub mod observe;
pub mod routes;

/// mimalloc instead of glibc's malloc, for every binary built on this crate (the server, the bench, the tests): the
/// renderer and sqlx allocate and free many small values per request, which glibc's malloc spends about a quarter of
/// the server's CPU on. Built without transparent huge pages (feature `no_thp`): with them, an idle server held
/// 55 MiB instead of 28. Measured side by side in the README ("Benchmarks").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::net::SocketAddr;

use app::{shell, App};

use axum::{
    body::Body,
    extract::{FromRef, Request, State},
    middleware::from_fn_with_state,
    response::IntoResponse,
    routing::get,
    Router,
};
use backend::{
    platform::config::{Config, MailTransportKind},
    platform::jobs,
    AppState,
};
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower_http::limit::RequestBodyLimitLayer;

/// The state of the pages' router, cloned with each handler on every request: so the options are behind an `Arc`.
#[derive(Clone)]
pub struct ServerState {
    pub app: AppState,
    pub leptos: std::sync::Arc<LeptosOptions>,
}

impl FromRef<ServerState> for LeptosOptions {
    fn from_ref(s: &ServerState) -> Self {
        (*s.leptos).clone()
    }
}

impl FromRef<ServerState> for AppState {
    fn from_ref(s: &ServerState) -> Self {
        s.app.clone()
    }
}

/// The bundle lives in a folder named by its version (`/pkg/<hash>/`), so Leptos's hydration scripts ask for
/// `/pkg/<hash>/portcullis.js` and `.wasm`, which are cached forever (see `routes::assets`).
pub fn leptos_options(config: &Config) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name(backend::PROJECT)
        .site_root(config.site_root.to_string_lossy().to_string())
        .site_pkg_dir(format!("pkg/{}", routes::assets::Assets::get().bundle_dir))
        .site_addr(config.bind_addr)
        .build()
}

/// The stylesheet's cache-forever address, for the document's head.
fn stylesheet() -> app::StylesheetHref {
    app::StylesheetHref(routes::assets::Assets::get().stylesheet_href.clone())
}

async fn not_found(State(st): State<ServerState>, req: Request<Body>) -> axum::response::Response {
    let app = st.app.clone();
    let options = st.leptos.clone();
    let handler = leptos_axum::render_app_to_stream_with_context(
        move || {
            provide_context(app.clone());
            provide_context(stylesheet());
        },
        move || shell(&options),
    );
    handler(req).await.into_response()
}

/// The app's state: the backend's services, with the jobs of the app's own features (`app::register_jobs`)
/// registered beside the backend's.
pub async fn build_state(config: backend::platform::config::Config) -> anyhow::Result<AppState> {
    AppState::build_with_jobs(config, app::register_jobs).await
}

/// The whole HTTP surface with its middleware, for `serve` and for tests. `leptos_routes_with_context` mounts
/// the pages and every server function (`/api/...`), each with the app state in context.
pub fn router(state: AppState) -> Router {
    let leptos = leptos_options(&state.config);
    // Once per process: route-list generation suppresses resource loading process-wide while it runs, which
    // would stall a page rendering at that moment in another router of the same process (tests run several).
    static ROUTES: std::sync::OnceLock<Vec<leptos_axum::AxumRouteListing>> = std::sync::OnceLock::new();
    let routes = ROUTES.get_or_init(|| generate_route_list(App)).clone();
    let st = ServerState { app: state.clone(), leptos: std::sync::Arc::new(leptos.clone()) };
    let mut router: Router<ServerState> = Router::new()
        .leptos_routes_with_context(
            &st,
            routes,
            {
                let app = state.clone();
                move || {
                    provide_context(app.clone());
                    provide_context(stylesheet());
                    provide_context(app::developers::ApiDocument(api::openapi::json()));
                }
            },
            {
                let leptos = leptos.clone();
                move || shell(&leptos)
            },
        )
        // Static assets only, compressed once per process: pages may carry tokens (a reset link's form), and
        // compressing them invites BREACH.
        .route("/pkg/{*path}", get(routes::assets::pkg))
        .route("/favicon.ico", get(routes::assets::favicon))
        .route("/auth/{provider}", get(routes::oauth::start))
        .route("/auth/{provider}/callback", get(routes::oauth::callback))
        .route("/oauth/authorize", get(routes::provider::authorize).post(routes::provider::authorize_decision))
        .route("/admin/audit.csv", get(routes::admin::audit_csv))
        .route("/healthz", get(routes::health::healthz))
        .route("/readyz", get(routes::health::readyz));
    // The configuration allows the development mailbox only on a localhost origin; it also answers only to
    // clients on this machine.
    if state.config.mail_transport == MailTransportKind::DevMailbox {
        router = router.merge(
            Router::new()
                .route("/dev/mailbox", get(routes::dev_mailbox::index))
                .route("/dev/mailbox/{id}", get(routes::dev_mailbox::show))
                .layer(from_fn_with_state(state.clone(), middleware::loopback_only)),
        );
    }
    // The pages' middleware wraps their router as a whole (see `observe::observed` for why not each route).
    let pages = tower::ServiceBuilder::new()
        .layer(RequestBodyLimitLayer::new(state.config.body_limit_bytes))
        .map_request(|req: Request<tower_http::body::Limited<Body>>| req.map(Body::new))
        .layer(backend::platform::visitor::layer(&state.config, &state.db))
        .layer(from_fn_with_state(state.clone(), middleware::pipeline))
        .service(observe::recording_routes(router.fallback(not_found).with_state(st)));
    // The JSON API has its own middleware (bearer tokens, never the cookies the layers above read); every other
    // request goes to the pages.
    observe::observed(api::router(state.clone()).merge(routes::provider::router(state)).fallback_service(pages))
}

/// A running server: its address, and the handles to stop it.
pub struct Running {
    pub addr: SocketAddr,
    pub state: AppState,
    shutdown: tokio::sync::watch::Sender<bool>,
    server: tokio::task::JoinHandle<()>,
    worker: tokio::task::JoinHandle<()>,
}

impl Running {
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        let _ = self.server.await;
        let _ = self.worker.await;
    }
}

/// Binds `config.bind_addr` and serves with the job worker beside it.
pub async fn start(state: AppState) -> anyhow::Result<Running> {
    let listener = tokio::net::TcpListener::bind(state.config.bind_addr).await?;
    let addr = listener.local_addr()?;
    let (tx, rx) = tokio::sync::watch::channel(false);
    let app = router(state.clone());
    let mut rx_server = rx.clone();
    let server = tokio::spawn(async move {
        let result = axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(async move {
                let _ = rx_server.wait_for(|stop| *stop).await;
            })
            .await;
        if let Err(e) = result {
            tracing::error!(error = %e, "server error");
        }
    });
    let worker = tokio::spawn(jobs::worker(state.clone(), rx));
    Ok(Running { addr, state, shutdown: tx, server, worker })
}
