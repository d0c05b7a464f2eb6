//! Metrics: time to acknowledge and to resolve, per severity and category.

use axum::extract::State;
use incidents::MetricsQuery;
use serde::Deserialize;
use time::{Duration, OffsetDateTime};

use super::parse_time;
use crate::caller::Caller;
use crate::error::ApiError;
use crate::extract::{Json, Query};
use crate::state::AppState;
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

/// The longest accepted period, in days.
pub(crate) const MAX_PERIOD_DAYS: i64 = 366;

/// `from` must be before `to`, and the period at most
/// [`MAX_PERIOD_DAYS`] long; otherwise 422.
fn check_period(from: OffsetDateTime, to: OffsetDateTime) -> Result<(), ApiError> {
    if from >= to {
        return Err(ApiError::Unprocessable(
            "from: must be earlier than to".to_owned(),
        ));
    }
    if to - from > Duration::days(MAX_PERIOD_DAYS) {
        return Err(ApiError::Unprocessable(format!(
            "from, to: the period may be at most {MAX_PERIOD_DAYS} days"
        )));
    }
    Ok(())
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
    check_period(from, to)?;
    let metrics = state
        .store
        .metrics(&caller.viewer(), MetricsQuery { from, to })
        .await?;
    Ok(Json(metrics.into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn periods_are_capped_at_366_days() {
        let start = datetime!(2025-01-01 00:00 UTC);
        for (to, ok) in [
            (datetime!(2025-01-01 00:00:01 UTC), true),
            (datetime!(2026-01-02 00:00 UTC), true), // 366 days
            (datetime!(2026-01-02 00:00:01 UTC), false), // one second more
            (datetime!(2030-01-01 00:00 UTC), false),
            (start, false),
            (datetime!(2024-12-31 00:00 UTC), false),
        ] {
            let got = check_period(start, to);
            assert_eq!(got.is_ok(), ok, "{to}: {got:?}");
            if let Err(e) = got {
                assert_eq!(e.status(), axum::http::StatusCode::UNPROCESSABLE_ENTITY);
            }
        }
    }
}
