//! Alerts: list, get, promote, dismiss.

use axum::extract::{Path, State};
use incidents::{AlertDisposition, AlertFilter, AlertId, IncidentId, PageRequest};
use serde::Deserialize;

use super::{page_limit, parse_id};
use crate::caller::Caller;
use crate::error::ApiError;
use crate::extract::{Json, Query};
use crate::state::AppState;
use crate::types::{
    AlertOutcomesResponse, AlertResponse, DismissRequest, IncidentResponse, NewAlertsRequest, Page,
};

/// Query of `GET /api/v1/alerts`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertListQuery {
    /// Only this rule.
    rule_id: Option<String>,
    /// Only alerts of this incident.
    incident_id: Option<String>,
    /// Only this disposition: opened, grouped, suppressed, dismissed or queued.
    disposition: Option<String>,
    /// Page size.
    limit: Option<u32>,
    /// Cursor from the previous page.
    cursor: Option<String>,
}

/// `GET /api/v1/alerts`.
pub async fn list_alerts(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<AlertListQuery>,
) -> Result<Json<Page<AlertResponse>>, ApiError> {
    let disposition = match query.disposition.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(raw) => Some(AlertDisposition::parse(raw).ok_or_else(|| {
            ApiError::Unprocessable(format!(
                "unknown disposition {raw:?}; allowed values: opened, grouped, suppressed, dismissed, queued"
            ))
        })?),
    };
    let incident_id =
        match query.incident_id.as_deref().filter(|s| !s.is_empty()) {
            None => None,
            Some(raw) => Some(raw.parse::<IncidentId>().map_err(|_| {
                ApiError::Unprocessable("incident_id: not an incident id".to_owned())
            })?),
        };
    let filter = AlertFilter {
        rule_id: query.rule_id,
        incident_id,
        disposition,
    };
    let page = PageRequest {
        limit: Some(page_limit(query.limit)?),
        cursor: query.cursor,
    };
    let page = state
        .store
        .list_alerts(&caller.viewer(), &filter, &page)
        .await?;
    Ok(Json(Page::from_store(page, None)))
}

/// `GET /api/v1/alerts/{id}`.
pub async fn get_alert(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<AlertResponse>, ApiError> {
    let id: AlertId = parse_id(&id)?;
    Ok(Json(
        state.store.get_alert(&caller.viewer(), id).await?.into(),
    ))
}

/// `POST /api/v1/alerts/{id}/promote`.
pub async fn promote_alert(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<IncidentResponse>, ApiError> {
    let id: AlertId = parse_id(&id)?;
    Ok(Json(
        state
            .store
            .promote_alert(&caller.viewer(), id)
            .await?
            .into(),
    ))
}

/// `POST /api/v1/alerts/{id}/dismiss`.
pub async fn dismiss_alert(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(request): Json<DismissRequest>,
) -> Result<Json<AlertResponse>, ApiError> {
    let id: AlertId = parse_id(&id)?;
    let reason = request.reason.unwrap_or_default();
    Ok(Json(
        state
            .store
            .dismiss_alert(&caller.viewer(), id, &reason)
            .await?
            .into(),
    ))
}

/// The most alerts one `POST /api/v1/alerts` takes.
pub const MAX_SUBMITTED_ALERTS: usize = 500;

/// `POST /api/v1/alerts`: stores detections found elsewhere (`hunt
/// --submit`), each suppressed, grouped, opened or queued as live ones
/// are; an alert whose key is already stored is answered as a duplicate.
pub async fn create_alerts(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<NewAlertsRequest>,
) -> Result<Json<AlertOutcomesResponse>, ApiError> {
    if body.alerts.is_empty() || body.alerts.len() > MAX_SUBMITTED_ALERTS {
        return Err(ApiError::Unprocessable(format!(
            "alerts: 1 to {MAX_SUBMITTED_ALERTS} (got {})",
            body.alerts.len()
        )));
    }
    let viewer = caller.viewer();
    let mut outcomes = Vec::with_capacity(body.alerts.len());
    for alert in body.alerts {
        let outcome = state.store.ingest_alert(&viewer, alert.into()).await?;
        outcomes.push(outcome.into());
    }
    Ok(Json(AlertOutcomesResponse { outcomes }))
}
