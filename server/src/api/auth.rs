//! The bearer check in front of every `/api/v1` route but the OpenAPI document: the token, then its rate limit.
use axum::{
    extract::{FromRequestParts, Request, State},
    http::request::Parts,
    middleware::Next,
    response::{IntoResponse, Response},
};
use backend::{
    api::tokens::{self, Person, Scope, TokenAuth},
    platform::request::RequestContext,
    AppState,
};

use super::problem::ApiError;

/// The caller of a JSON API request: the token's account, and the request as the audit log records it.
#[derive(Clone, Debug)]
pub struct Caller {
    pub auth: TokenAuth,
    pub ctx: RequestContext,
}

impl Caller {
    /// Refuses unless the token carries `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.auth.allows(scope) {
            Ok(())
        } else {
            Err(ApiError::missing_scope(scope))
        }
    }

    /// The person the token acts for; a service account's token is refused (it reads its organization only).
    pub fn person(&self) -> Result<&Person, ApiError> {
        self.auth.person().ok_or_else(|| {
            ApiError::Forbidden(
                "This is a service account's token: it acts for its organization, not for a person. \
                 See /api/v1/organizations."
                    .into(),
            )
        })
    }

    pub fn internal(&self, e: impl std::fmt::Display) -> ApiError {
        tracing::error!(request_id = %self.ctx.request_id, error = %e, "API request failed");
        ApiError::Internal { request_id: self.ctx.request_id.clone() }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        // Put there by `require_token`, which every route that takes a `Caller` sits behind.
        parts.extensions.get::<Caller>().cloned().ok_or(ApiError::Unauthorized { presented: false })
    }
}

/// Finds the token's account and checks the token's allowance. A wrong token also counts against the client
/// address's allowance for anonymous requests, so guessing is slowed like a password would be.
pub async fn require_token(State(st): State<AppState>, mut req: Request, next: Next) -> Response {
    // Put there by `middleware::cookieless_pipeline`, outside this layer.
    let Some(ctx) = req.extensions().get::<RequestContext>().cloned() else {
        return ApiError::Internal { request_id: "-".into() }.into_response();
    };
    let (request_id, ip) = (ctx.request_id.clone(), ctx.ip);
    let refused = |presented: bool| {
        if presented {
            // Never the token itself (S58): a mistyped one is one character from the real one.
            tracing::warn!(%request_id, %ip, "API request with a token that is not valid refused");
            if let Err(retry) = st.limits.anonymous_post(ip) {
                tracing::warn!(%request_id, %ip, "API token guesses rate limited");
                return ApiError::RateLimited { retry_after_secs: retry.0 }.into_response();
            }
        }
        ApiError::Unauthorized { presented }.into_response()
    };
    let token = match crate::middleware::bearer_token(req.headers()) {
        Ok(Some(token)) => token.to_string(),
        Ok(None) => return refused(false),
        Err(()) => return refused(true),
    };
    // A personal access token (`pc_pat_…`), or an access token the OpenID provider issued to an app.
    let found = if tokens::looks_like_token(&token) {
        tokens::authenticate(&st, &token, ip).await.map_err(backend::Error::from)
    } else {
        match backend::provider::grants::verify_access_token(&st, &token).await {
            Ok(Some(claims)) => tokens::from_access_token(&st, &claims).await.map_err(backend::Error::from),
            Ok(None) => Ok(None),
            Err(e) => Err(e),
        }
    };
    let auth = match found {
        Ok(Some(auth)) => auth,
        Ok(None) => return refused(true),
        Err(e) => {
            tracing::error!(%request_id, error = %e, "API token lookup failed");
            return ApiError::Internal { request_id }.into_response();
        }
    };
    if let Err(retry) = st.limits.api_token(&auth.token_id) {
        tracing::warn!(%request_id, token = %auth.token_id, "API token rate limit hit");
        return ApiError::RateLimited { retry_after_secs: retry.0 }.into_response();
    }
    req.extensions_mut().insert(Caller { auth, ctx });
    next.run(req).await
}
