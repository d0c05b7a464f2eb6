//! The audit trail: list (oldest first) and verify.

use axum::extract::State;
use serde::Deserialize;

use crate::caller::Caller;
use crate::error::ApiError;
use crate::extract::{Json, Query};
use crate::state::AppState;
use crate::types::{AuditPage, AuditVerifyResponse};

/// Query of `GET /api/v1/audit`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only entries after this sequence number.
    after: Option<i64>,
    /// Page size, 1..=1000 (default 100).
    limit: Option<u32>,
}

/// `GET /api/v1/audit`.
pub async fn list_audit(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<AuditQuery>,
) -> Result<Json<AuditPage>, ApiError> {
    let limit = match query.limit {
        None => 100,
        Some(n @ 1..=1000) => n,
        Some(_) => {
            return Err(ApiError::Unprocessable(
                "limit: must be between 1 and 1000".to_owned(),
            ));
        }
    };
    let entries = state
        .store
        .list_audit(&caller.viewer(), query.after.unwrap_or(0).max(0), limit)
        .await?;
    let next_after = (entries.len() == limit as usize)
        .then(|| entries.last().map(|e| e.seq))
        .flatten();
    Ok(Json(AuditPage {
        items: entries.into_iter().map(Into::into).collect(),
        next_after,
    }))
}

/// `GET /api/v1/audit/verify`.
pub async fn verify_audit(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<AuditVerifyResponse>, ApiError> {
    let report = state.store.verify_audit(&caller.viewer()).await?;
    Ok(Json(AuditVerifyResponse {
        ok: report.is_ok(),
        entries: report.entries,
        first_bad_seq: report.fault.as_ref().map(|f| f.seq),
        reason: report.fault.map(|f| f.reason),
    }))
}
