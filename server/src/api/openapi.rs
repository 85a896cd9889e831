//! The OpenAPI 3.1 document of `/api/v1`, generated from the handlers' `#[utoipa::path]` annotations and their
//! types, so it cannot drift from the code.
use axum::{http::header, response::IntoResponse};
use utoipa::{
    openapi::security::{Http, HttpAuthScheme, SecurityScheme},
    Modify, OpenApi,
};

use super::{handlers, problem::Problem};

#[derive(OpenApi)]
#[openapi(
    info(
        // The title is the app's name, set in `json()`.
        title = "API",
        version = "1",
        description = "Call it with a personal access token made at /users/settings/api-tokens: \
                       `Authorization: Bearer pc_pat_…`. Errors are RFC 9457 problem details."
    ),
    paths(handlers::me, handlers::sessions, handlers::end_session, handlers::organizations, handlers::members),
    components(schemas(
        handlers::Me,
        handlers::TokenInfo,
        handlers::Session,
        handlers::Organization,
        handlers::Member,
        Problem
    )),
    modifiers(&BearerToken),
    tags(
        (name = "account", description = "The token's account and its signed-in browsers"),
        (name = "organizations", description = "Organizations the token was granted")
    )
)]
pub struct ApiDoc;

/// The `bearer` security scheme the paths name.
struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut scheme = Http::new(HttpAuthScheme::Bearer);
        scheme.description = Some(
            "A personal access token (pc_pat_…), or an access token the site's OpenID provider issued to an app \
                  with the api:read / api:write scopes"
                .into(),
        );
        components.add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// The document as JSON, made once per process.
pub fn json() -> &'static str {
    static DOC: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = ApiDoc::openapi();
        doc.info.title = format!("{} API", backend::APP_NAME_DEFAULT);
        doc.to_pretty_json().expect("the OpenAPI document serializes")
    })
}

/// `GET /api/v1/openapi.json`: public, like the code it describes.
pub async fn document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "public, max-age=300")], json())
}
