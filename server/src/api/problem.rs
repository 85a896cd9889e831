//! RFC 9457 problem details: every error the JSON API answers, as `application/problem+json`.
use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use backend::api::tokens::Scope;
use serde::Serialize;
use utoipa::ToSchema;

/// An error, as RFC 9457 describes it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// `about:blank`: the status says what kind of error it is.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The status's reason phrase.
    pub title: String,
    pub status: u16,
    /// What went wrong with this request, for a person to read.
    pub detail: String,
    /// The request id, to quote to the operator (it is in the server's log).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// What a JSON API handler can fail with.
#[derive(Debug)]
pub enum ApiError {
    /// No token, or not one that works (unknown, revoked, expired, its account locked).
    Unauthorized {
        presented: bool,
    },
    /// The token lacks the scope (or the organization) this needs.
    InsufficientScope {
        scope: &'static str,
        detail: String,
    },
    /// A member whose role does not allow this, or an organization that requires two-step verification.
    Forbidden(String),
    NotFound(String),
    RateLimited {
        retry_after_secs: u64,
    },
    Internal {
        request_id: String,
    },
}

impl ApiError {
    pub fn missing_scope(scope: Scope) -> Self {
        ApiError::InsufficientScope {
            scope: scope.as_str(),
            detail: format!("This token lacks the {} scope.", scope.as_str()),
        }
    }
}

/// The problem response for `status`.
pub fn problem(status: StatusCode, detail: impl Into<String>, request_id: Option<String>) -> Response {
    let body = Problem {
        kind: "about:blank",
        title: status.canonical_reason().unwrap_or("Error").to_string(),
        status: status.as_u16(),
        detail: detail.into(),
        request_id,
    };
    let mut res = (status, axum::Json(body)).into_response();
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
    res
}

/// `WWW-Authenticate` per RFC 6750.
fn challenge(res: &mut Response, value: String) {
    if let Ok(v) = HeaderValue::from_str(&value) {
        res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Unauthorized { presented: false } => {
                let mut res = problem(
                    StatusCode::UNAUTHORIZED,
                    "Send a personal access token: Authorization: Bearer pc_pat_…",
                    None,
                );
                challenge(&mut res, r#"Bearer realm="api""#.into());
                res
            }
            ApiError::Unauthorized { presented: true } => {
                let mut res = problem(
                    StatusCode::UNAUTHORIZED,
                    "The token is not valid: it may be mistyped, revoked or expired, or its account locked.",
                    None,
                );
                challenge(&mut res, r#"Bearer realm="api", error="invalid_token""#.into());
                res
            }
            ApiError::InsufficientScope { scope, detail } => {
                let mut res = problem(StatusCode::FORBIDDEN, detail, None);
                challenge(&mut res, format!(r#"Bearer realm="api", error="insufficient_scope", scope="{scope}""#));
                res
            }
            ApiError::Forbidden(detail) => problem(StatusCode::FORBIDDEN, detail, None),
            ApiError::NotFound(detail) => problem(StatusCode::NOT_FOUND, detail, None),
            ApiError::RateLimited { retry_after_secs } => {
                let mut res = problem(
                    StatusCode::TOO_MANY_REQUESTS,
                    format!("Too many requests: try again in {retry_after_secs} s."),
                    None,
                );
                res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
                res
            }
            ApiError::Internal { request_id } => problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong on our side. It has been logged.",
                Some(request_id),
            ),
        }
    }
}

/// An address under `/api/v1` that names nothing.
pub async fn not_found() -> Response {
    problem(StatusCode::NOT_FOUND, "There is no such API endpoint: see /api/v1/openapi.json.", None)
}

/// A known endpoint asked with a method it does not answer.
pub async fn method_not_allowed() -> Response {
    problem(StatusCode::METHOD_NOT_ALLOWED, "This endpoint does not answer that method.", None)
}
