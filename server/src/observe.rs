//! What an operator sees of the running server: one access-log line per request (method, route, status, latency,
//! request id) inside a span that carries the request id to every line the request logs; a panic in a handler
//! answers 500 and is logged; Prometheus metrics on a listener of their own (`METRICS_ADDR`).
use std::{
    net::SocketAddr,
    sync::{Arc, OnceLock},
    time::Instant,
};

use axum::{
    extract::{MatchedPath, Request, State},
    http::{HeaderValue, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use backend::{platform::crypto, AppState};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing::Instrument;

/// The request's id, made by [`access_log`] before anything else runs; answered in `X-Request-Id` and shown to the
/// user with an internal error.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

/// The outermost layer: the request id, the span every line of the request is logged in, the access line, and the
/// request metrics. The route is the matched pattern (`/organizations/{slug}/members`), never the raw path, so an
/// address with a token in it is not logged and the metrics keep few series.
pub async fn access_log(mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = crypto::new_id();
    let method = req.method().clone();
    let slot = RouteSlot::default();
    req.extensions_mut().insert(slot.clone());
    req.extensions_mut().insert(RequestId(request_id.clone()));
    let span = tracing::info_span!("request", request_id = %request_id);
    let mut res = next.run(req).instrument(span.clone()).await;
    let latency = started.elapsed();
    let route = slot.0.get().map_or("(no route)", |p| p.as_str()).to_string();
    let status = res.status().as_u16();
    span.in_scope(|| {
        tracing::info!(
            target: "access",
            method = %method,
            route = %route,
            status,
            latency_ms = latency.as_secs_f64() * 1000.0,
            "request"
        )
    });
    let method = method.to_string();
    metrics::counter!("http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status.to_string())
        .increment(1);
    metrics::histogram!("http_request_duration_seconds", "method" => method, "route" => route)
        .record(latency.as_secs_f64());
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        res.headers_mut().insert("x-request-id", v);
    }
    res
}

/// The route a request matched, for [`access_log`], which runs before any router has matched it: the router that
/// matches it records it here ([`recording_routes`]).
#[derive(Clone, Default)]
pub struct RouteSlot(Arc<OnceLock<MatchedPath>>);

/// `router` with each of its routes recording its pattern in the request's [`RouteSlot`] (a plain function on the
/// request: nothing is cloned or boxed for it per request, unlike a `from_fn` middleware).
pub fn recording_routes(router: Router) -> Router {
    fn record(req: Request) -> Request {
        if let (Some(slot), Some(path)) = (req.extensions().get::<RouteSlot>(), req.extensions().get::<MatchedPath>()) {
            let _ = slot.0.set(path.clone());
        }
        req
    }
    router.route_layer(tower::util::MapRequestLayer::new(record as fn(Request) -> Request))
}

/// `router` with the access log outermost and panics caught inside it. Both wrap the router as a whole, once, not
/// each of its routes: axum clones a route's whole stack of layers on every request it serves, and a `from_fn`
/// layer clones everything below it again, so layers on the routes cost a deep copy of the stack per request.
pub fn observed(router: Router) -> Router {
    let service = tower::ServiceBuilder::new()
        .layer(axum::middleware::from_fn(access_log))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panicked))
        .service(recording_routes(router));
    Router::new().fallback_service(service)
}

/// A handler that panics: the request gets a 500 (the connection is not dropped) and the panic is logged in the
/// request's span, with its request id.
pub fn panicked(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let said = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into());
    tracing::error!(panic = %said, "a handler panicked");
    (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong on our side. Please try again.").into_response()
}

/// Latency buckets (seconds): a page is a few milliseconds, a sign-in tens (Argon2id), a slow database seconds.
const LATENCY_BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// Installs the Prometheus recorder (once per process) and serves `GET /metrics` on `addr`. The job queue's depth
/// and dead jobs are read from the database at each scrape.
pub async fn serve_metrics(addr: SocketAddr, state: AppState) -> anyhow::Result<SocketAddr> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)?
        .install_recorder()?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let app = Router::new().route("/metrics", get(scrape)).with_state((handle, state));
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "metrics listener stopped");
        }
    });
    Ok(bound)
}

async fn scrape(State((handle, st)): State<(PrometheusHandle, AppState)>) -> Response {
    match backend::platform::jobs::counts(&st).await {
        Ok(counts) => {
            metrics::gauge!("jobs_queued").set(counts.queued as f64);
            metrics::gauge!("jobs_running").set(counts.running as f64);
            metrics::gauge!("jobs_dead").set(counts.dead as f64);
        }
        Err(e) => tracing::warn!(error = %e, "metrics: job counts not read"),
    }
    handle.run_upkeep();
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], handle.render()).into_response()
}
