//! Public advisories, as responders handle them: write or replace an
//! incident's draft, approve (publish) a draft, list them all. The store
//! guards disclosure (closed, confirmed, not sensitive; the approver is not
//! the author); the public side reads published advisories through
//! [`crate::public`].

use axum::extract::{Path, State};
use incidents::{AdvisoryId, IncidentId};

use super::parse_id;
use crate::caller::Caller;
use crate::error::ApiError;
use crate::extract::Json;
use crate::state::AppState;
use crate::types::{AdvisoryRequest, AdvisoryResponse};

/// `POST /api/v1/incidents/{id}/advisory`.
pub async fn save_advisory(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(request): Json<AdvisoryRequest>,
) -> Result<Json<AdvisoryResponse>, ApiError> {
    let id: IncidentId = parse_id(&id)?;
    let advisory = state
        .store
        .save_advisory(&caller.viewer(), id, request.into())
        .await?;
    Ok(Json(advisory.into()))
}

/// `POST /api/v1/advisories/{id}/approve`.
pub async fn approve_advisory(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<AdvisoryResponse>, ApiError> {
    let id: AdvisoryId = parse_id(&id)?;
    let advisory = state.store.approve_advisory(&caller.viewer(), &id).await?;
    Ok(Json(advisory.into()))
}

/// `GET /api/v1/advisories`: drafts and published, newest first.
pub async fn list_advisories(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<AdvisoryResponse>>, ApiError> {
    let all = state.store.list_advisories(&caller.viewer()).await?;
    Ok(Json(all.into_iter().map(Into::into).collect()))
}
