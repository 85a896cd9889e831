//! Static assets embedded in the binary: the stylesheet from `style/`, the WASM bundle from `target/site/pkg`
//! (built before the server; read from disk in debug builds).
use axum::{
    extract::Path,
    http::{header, StatusCode},
    response::{IntoResponse, Response},
};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "../target/site/pkg/"] // relative to server/
#[allow_missing = true]
struct Pkg;

const STYLESHEET: &str = include_str!("../../../style/main.css");
const FAVICON: &str = include_str!("../../../style/favicon.svg");

pub async fn favicon() -> Response {
    ([(header::CONTENT_TYPE, "image/svg+xml"), (header::CACHE_CONTROL, "max-age=86400")], FAVICON).into_response()
}

pub async fn pkg(Path(path): Path<String>) -> Response {
    if path == "portcullis.css" {
        return ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "no-cache")], STYLESHEET)
            .into_response();
    }
    match Pkg::get(&path) {
        Some(file) => {
            let mime = file.metadata.mimetype().to_string();
            ([(header::CONTENT_TYPE, mime), (header::CACHE_CONTROL, "no-cache".to_string())], file.data).into_response()
        }
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}
