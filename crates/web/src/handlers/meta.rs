//! Health, the OpenAPI document, and the caller's own user.

use axum::Extension;
use axum::extract::State;
use incidents::Viewer;

use crate::caller::Caller;
use crate::error::ApiError;
use crate::extract::Json;
use crate::state::{ApiDocument, AppState};
use crate::types::{HealthResponse, UserResponse};

/// `GET /api/v1/health`: answers `ok` when the database answers.
pub async fn get_health(State(state): State<AppState>) -> Result<Json<HealthResponse>, ApiError> {
    state.store.count_users(&Viewer::system()).await?;
    Ok(Json(HealthResponse {
        status: "ok".to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
    }))
}

/// `GET /api/v1/openapi.json`: the document the router was built with.
pub async fn get_openapi(Extension(doc): Extension<ApiDocument>) -> Json<serde_json::Value> {
    Json(doc.0.as_ref().clone())
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
