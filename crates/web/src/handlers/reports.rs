//! Reports: file, list, get.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use incidents::{Category, Channel, NewReport, PageRequest, ReportFilter, ReportId};
use serde::Deserialize;

use super::{page_limit, parse_id, parse_list};
use crate::caller::Caller;
use crate::error::ApiError;
use crate::extract::{Json, Query};
use crate::state::AppState;
use crate::state_checks;
use crate::types::{NewReportRequest, Page, ReportResponse};

/// `POST /api/v1/reports`.
pub async fn create_report(
    State(state): State<AppState>,
    caller: Caller,
    Json(request): Json<NewReportRequest>,
) -> Result<(StatusCode, Json<ReportResponse>), ApiError> {
    if request.description.trim().is_empty() {
        return Err(ApiError::Unprocessable(
            "description: must not be empty".to_owned(),
        ));
    }
    // Its length (at most 20 000 characters) is the store's to check.
    state_checks::not_future(
        "occurred_at",
        request.occurred_at,
        time::OffsetDateTime::now_utc(),
    )?;
    let report = state
        .store
        .file_report(
            &caller.viewer(),
            NewReport {
                channel: request.channel.unwrap_or(Channel::Api),
                category: request.category,
                description: request.description,
                occurred_at: request.occurred_at,
                location: request.location,
                sensitive: request.sensitive,
                anonymous: false,
                attachments: Vec::new(),
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(report.into())))
}

/// Query of `GET /api/v1/reports`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportListQuery {
    /// Comma-separated categories.
    category: Option<String>,
    /// Page size.
    limit: Option<u32>,
    /// Cursor from the previous page.
    cursor: Option<String>,
}

/// `GET /api/v1/reports`.
pub async fn list_reports(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<ReportListQuery>,
) -> Result<Json<Page<ReportResponse>>, ApiError> {
    let filter = ReportFilter {
        category: parse_list::<Category>(query.category.as_deref())?,
        ..Default::default()
    };
    let page = PageRequest {
        limit: Some(page_limit(query.limit)?),
        cursor: query.cursor,
    };
    let page = state
        .store
        .list_reports(&caller.viewer(), &filter, &page)
        .await?;
    Ok(Json(Page::from_store(page, None)))
}

/// `GET /api/v1/reports/{id}`.
pub async fn get_report(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ReportResponse>, ApiError> {
    let id: ReportId = parse_id(&id)?;
    Ok(Json(
        state.store.get_report(&caller.viewer(), id).await?.into(),
    ))
}
