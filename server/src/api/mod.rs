//! The JSON API under `/api/v1`, for programs acting as a person with a personal access token
//! (`Authorization: Bearer pc_pat_…`). It is a router of its own, outside the pages' middleware: it never reads a
//! cookie (a browser's ambient session cannot call it, so it needs no CSRF check), and the pages and server
//! functions never read the `Authorization` header. Errors are RFC 9457 problem JSON ([`problem`]); the OpenAPI
//! document ([`openapi`]) is generated from the handlers' annotations.
mod auth;
mod handlers;
pub mod openapi;
pub mod problem;

use axum::{
    middleware::from_fn_with_state,
    routing::{delete, get},
    Router,
};
use backend::AppState;
use tower_http::limit::RequestBodyLimitLayer;

pub use auth::Caller;

/// `/api/v1`: the routes that need a token, and the OpenAPI document, which does not.
pub fn router(state: AppState) -> Router {
    let with_token = Router::new()
        .route("/me", get(handlers::me))
        .route("/sessions", get(handlers::sessions))
        .route("/sessions/{id}", delete(handlers::end_session))
        .route("/organizations", get(handlers::organizations))
        .route("/organizations/{slug}/members", get(handlers::members))
        .route_layer(from_fn_with_state(state.clone(), auth::require_token));
    let v1 = Router::new()
        .merge(with_token)
        .route("/openapi.json", get(openapi::document))
        .fallback(problem::not_found)
        .method_not_allowed_fallback(problem::method_not_allowed)
        .with_state(state.clone());
    Router::new()
        .nest("/api/v1", v1)
        .layer(from_fn_with_state(state.clone(), crate::middleware::cookieless_pipeline))
        .layer(RequestBodyLimitLayer::new(state.config.body_limit_bytes))
}
