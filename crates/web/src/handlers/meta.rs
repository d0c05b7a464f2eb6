//! Health, the OpenAPI document, and the caller's own user.

use std::sync::OnceLock;

use axum::extract::State;
use incidents::Viewer;

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::Json;
use crate::types::{HealthResponse, UserResponse};

/// `GET /api/v1/health`: answers `ok` when the database answers.
pub async fn get_health(State(state): State<AppState>) -> Result<Json<HealthResponse>, ApiError> {
    state.store.count_users(&Viewer::system()).await?;
    Ok(Json(HealthResponse {
        status: "ok".to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
    }))
}

/// `GET /api/v1/openapi.json`.
pub async fn get_openapi() -> Json<serde_json::Value> {
    static DOC: OnceLock<serde_json::Value> = OnceLock::new();
    Json(DOC.get_or_init(crate::openapi::document).clone())
}

/// `GET /api/v1/me`.
pub async fn get_me(caller: Caller) -> Json<UserResponse> {
    Json(caller.user.into())
}

/// `GET /api/v1/stats`: requests answered and refused since start.
pub async fn get_stats(
    axum::Extension(stats): axum::Extension<std::sync::Arc<crate::stats::RequestStats>>,
) -> Json<crate::stats::StatsSnapshot> {
    Json(stats.snapshot())
}
