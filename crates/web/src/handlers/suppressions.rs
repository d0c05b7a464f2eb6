//! Suppression rules: list, create, delete. A rule names a detection rule,
//! optionally entity values that must all match, and an optional expiry;
//! alerts it matches are stored as `suppressed` and open no incident.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use incidents::{NewSuppression, SuppressionId};
use time::OffsetDateTime;

use super::parse_id;
use crate::caller::Caller;
use crate::error::ApiError;
use crate::extract::Json;
use crate::state::AppState;
use crate::state_checks;
use crate::types::{NewSuppressionRequest, SuppressionResponse};

/// The most entity values a rule may match on (the same cap as an alert's
/// entity keys).
const MAX_ENTITIES: usize = 32;

/// `GET /api/v1/suppressions`: every rule, expired ones included, oldest
/// first.
pub async fn list_suppressions(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<SuppressionResponse>>, ApiError> {
    let now = OffsetDateTime::now_utc();
    let rules = state.store.list_suppressions(&caller.viewer()).await?;
    Ok(Json(
        rules
            .into_iter()
            .map(|r| SuppressionResponse::new(r, now))
            .collect(),
    ))
}

/// `POST /api/v1/suppressions`.
pub async fn create_suppression(
    State(state): State<AppState>,
    caller: Caller,
    Json(request): Json<NewSuppressionRequest>,
) -> Result<(StatusCode, Json<SuppressionResponse>), ApiError> {
    let now = OffsetDateTime::now_utc();
    state_checks::in_future("expires_at", request.expires_at, now)?;
    if request.entities.len() > MAX_ENTITIES {
        return Err(ApiError::Unprocessable(format!(
            "entities: at most {MAX_ENTITIES} values"
        )));
    }
    if request
        .entities
        .iter()
        .any(|(k, v)| k.trim().is_empty() || k.chars().count() > 200 || v.chars().count() > 1000)
    {
        return Err(ApiError::Unprocessable(
            "entities: names must be 1 to 200 characters, not blank, and values at most 1000 characters".to_owned(),
        ));
    }
    let rule = state
        .store
        .create_suppression(
            &caller.viewer(),
            NewSuppression {
                rule_id: request.rule_id,
                entities: request.entities,
                reason: request.reason,
                expires_at: request.expires_at,
            },
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(SuppressionResponse::new(rule, now)),
    ))
}

/// `DELETE /api/v1/suppressions/{id}`: answers the deleted rule. Alerts it
/// suppressed stay suppressed (and unlinked); new alerts are no longer
/// matched.
pub async fn delete_suppression(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<SuppressionResponse>, ApiError> {
    let id: SuppressionId = parse_id(&id)?;
    let viewer = caller.viewer();
    let rule = state
        .store
        .list_suppressions(&viewer)
        .await?
        .into_iter()
        .find(|r| r.id == id)
        .ok_or(ApiError::NotFound)?;
    state.store.delete_suppression(&viewer, id).await?;
    Ok(Json(SuppressionResponse::new(
        rule,
        OffsetDateTime::now_utc(),
    )))
}
