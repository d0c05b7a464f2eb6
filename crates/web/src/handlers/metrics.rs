//! Metrics: time to acknowledge and to resolve, per severity and category.

use axum::extract::State;
use incidents::MetricsQuery;
use serde::Deserialize;
use time::{Duration, OffsetDateTime};

use super::parse_time;
use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{Json, Query};
use crate::types::MetricsResponse;

/// Query of `GET /api/v1/metrics`: the period (default the last 30 days).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsParams {
    /// Start (RFC 3339, inclusive).
    from: Option<String>,
    /// End (RFC 3339, exclusive).
    to: Option<String>,
}

/// `GET /api/v1/metrics`.
pub async fn get_metrics(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<MetricsParams>,
) -> Result<Json<MetricsResponse>, ApiError> {
    let to = parse_time("to", params.to.as_deref())?
        .unwrap_or_else(|| OffsetDateTime::now_utc() + Duration::seconds(1));
    let from = parse_time("from", params.from.as_deref())?.unwrap_or(to - Duration::days(30));
    if from >= to {
        return Err(ApiError::Unprocessable(
            "from: must be earlier than to".to_owned(),
        ));
    }
    let metrics = state
        .store
        .metrics(&caller.viewer(), MetricsQuery { from, to })
        .await?;
    Ok(Json(metrics.into()))
}
