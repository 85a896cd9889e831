//! `/admin/audit.csv`: the audit explorer's rows as CSV, streamed (a page of rows at a time), with the same filters
//! as the page. Admins only, checked here like every admin server function.
use axum::{
    body::Body,
    extract::{Query, Request, State},
    http::{header, StatusCode},
    response::{IntoResponse, Response},
};
use backend::{platform::request::RequestContext, AppState, Error};
use futures::StreamExt;

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct Filters {
    actor: String,
    action: String,
    target: String,
    outcome: String,
    from: String,
    to: String,
}

pub async fn audit_csv(State(st): State<AppState>, Query(f): Query<Filters>, req: Request) -> Response {
    let ctx = req.extensions().get::<RequestContext>().cloned();
    let Some(me) = ctx.as_ref().and_then(|c| c.session.clone()) else {
        return crate::middleware::error_response(
            &req,
            StatusCode::UNAUTHORIZED,
            app::error::AppError::Unauthenticated,
        );
    };
    let query = match app::admin::audit_query(f.actor, f.action, f.target, f.outcome, f.from, f.to, String::new()) {
        Ok(q) => q,
        Err(e) => return crate::middleware::error_response(&req, StatusCode::UNPROCESSABLE_ENTITY, e),
    };
    let stream = match backend::admin::audit_log::export(st.clone(), &me, query) {
        Ok(s) => s,
        // An admin without a second factor (S51) is sent to enrol, as the console's pages do.
        Err(Error::MfaEnrolmentRequired) if me.is_admin => {
            return crate::middleware::to_enrolment(&req, app::context::Notice::AdminRequiresMfa)
        }
        Err(Error::MfaEnrolmentRequired) => {
            return crate::middleware::error_response(
                &req,
                StatusCode::FORBIDDEN,
                app::error::AppError::MfaEnrolmentRequired,
            )
        }
        Err(_) => {
            return crate::middleware::error_response(&req, StatusCode::FORBIDDEN, app::error::AppError::Forbidden)
        }
    };
    let request_id = ctx.map(|c| c.request_id).unwrap_or_default();
    let body = stream.map(move |chunk| {
        chunk.map_err(|e| {
            tracing::error!(%request_id, error = %e, "audit export failed mid-stream");
            std::io::Error::other("audit export failed")
        })
    });
    let name = format!("attachment; filename=\"audit-{}.csv\"", backend::format_iso(st.clock.now()).replace(':', ""));
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, name),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        Body::from_stream(body),
    )
        .into_response()
}
