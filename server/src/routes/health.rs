use axum::{extract::State, http::StatusCode};
use backend::AppState;

/// Liveness: the process answers.
pub async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: the database answers and every embedded migration is applied.
pub async fn readyz(State(st): State<AppState>) -> (StatusCode, &'static str) {
    let db_ok = sqlx::query("SELECT 1").execute(&st.db.pool).await.is_ok();
    if db_ok && st.db.migrations_applied().await {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready")
    }
}
