//! Incidents: list, get, update, status, assign, notes, tasks, links,
//! merge, impact, close.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use incidents::{
    AlertId, Category, IncidentFilter, IncidentId, IncidentPatch, NewTask, PageRequest, ReportId,
    Severity, Source, Status, TaskId, TaskPatch, UserId, Viewer,
};
use serde::Deserialize;
use time::OffsetDateTime;

use super::{page_limit, parse_id, parse_list, parse_time};
use crate::caller::Caller;
use crate::error::ApiError;
use crate::extract::{Json, Query};
use crate::state::AppState;
use crate::state_checks;
use crate::types::{
    AssignRequest, CloseRequest, ImpactBody, IncidentDetailResponse, IncidentResponse,
    IncidentUpdateRequest, LinkRequest, MergeRequest, NewNoteRequest, NewTaskRequest, NoteResponse,
    Page, StatusChangeRequest, TaskResponse, TaskUpdateRequest,
};

/// Query of `GET /api/v1/incidents`. List values are comma separated.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentListQuery {
    /// Statuses.
    status: Option<String>,
    /// Severities.
    severity: Option<String>,
    /// Categories.
    category: Option<String>,
    /// Owner's user name.
    owner: Option<String>,
    /// Text search in title and description.
    q: Option<String>,
    /// Sources: `detection`, or report channels (`web`, `api`, `cli`,
    /// `slack`, `email`, `third-party`).
    source: Option<String>,
    /// `true`: only sensitive incidents; `false`: only the others.
    sensitive: Option<bool>,
    /// Created at or after (RFC 3339).
    from: Option<String>,
    /// Created before (RFC 3339).
    to: Option<String>,
    /// `true`: only incidents with an SLA clock running past its deadline
    /// (staff only).
    overdue: Option<bool>,
    /// Page size.
    limit: Option<u32>,
    /// Cursor from the previous page.
    cursor: Option<String>,
}

async fn user_id_by_name(
    state: &AppState,
    viewer: &Viewer,
    name: &str,
) -> Result<UserId, ApiError> {
    match state.store.get_user_by_name(viewer, name).await {
        Ok(user) => Ok(user.id),
        Err(incidents::StoreError::NotFound(_)) => {
            Err(ApiError::Conflict(format!("no user named {name:?}")))
        }
        Err(other) => Err(other.into()),
    }
}

/// `GET /api/v1/incidents`.
pub async fn list_incidents(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<IncidentListQuery>,
) -> Result<Json<Page<IncidentResponse>>, ApiError> {
    let viewer = caller.viewer();
    let owner = match query.owner.as_deref().filter(|s| !s.is_empty()) {
        Some(name) => Some(user_id_by_name(&state, &viewer, name).await?),
        None => None,
    };
    let mut filter = IncidentFilter {
        status: parse_list::<Status>(query.status.as_deref())?,
        severity: parse_list::<Severity>(query.severity.as_deref())?,
        category: parse_list::<Category>(query.category.as_deref())?,
        owner,
        text: search_text(query.q)?,
        source: parse_list::<Source>(query.source.as_deref())?,
        sensitive: query.sensitive,
        created_from: parse_time("from", query.from.as_deref())?,
        created_to: parse_time("to", query.to.as_deref())?,
        ids: None,
    };
    let page = PageRequest {
        limit: Some(page_limit(query.limit)?),
        cursor: query.cursor,
    };
    let now = OffsetDateTime::now_utc();
    if query.overdue == Some(true) {
        let ids = crate::sla::overdue_ids(state.store.as_ref(), &state.sla, &viewer, &filter, now)
            .await?;
        filter.ids = Some(ids);
    }
    let total = state.store.count_incidents(&viewer, &filter).await?;
    let page = state.store.list_incidents(&viewer, &filter, &page).await?;
    let slas =
        crate::sla::evaluate(state.store.as_ref(), &state.sla, &viewer, &page.items, now).await?;
    let mut answer: Page<IncidentResponse> = Page::from_store(page, Some(total));
    if let Some(slas) = slas {
        for (item, sla) in answer.items.iter_mut().zip(&slas) {
            item.sla = Some(sla.into());
        }
    }
    Ok(Json(answer))
}

/// The longest accepted search text (`q`), in characters.
pub(crate) const MAX_SEARCH_CHARS: usize = 200;

/// The `q` parameter: blank is no search; longer than
/// [`MAX_SEARCH_CHARS`] characters is 422.
fn search_text(q: Option<String>) -> Result<Option<String>, ApiError> {
    let Some(q) = q.filter(|q| !q.trim().is_empty()) else {
        return Ok(None);
    };
    let chars = q.chars().count();
    if chars > MAX_SEARCH_CHARS {
        return Err(ApiError::Unprocessable(format!(
            "q: at most {MAX_SEARCH_CHARS} characters (got {chars})"
        )));
    }
    Ok(Some(q))
}

/// `GET /api/v1/incidents/{id}`.
pub async fn get_incident(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<IncidentDetailResponse>, ApiError> {
    let id: IncidentId = parse_id(&id)?;
    let viewer = caller.viewer();
    let detail = state.store.get_incident(&viewer, id).await?;
    let slas = crate::sla::evaluate(
        state.store.as_ref(),
        &state.sla,
        &viewer,
        std::slice::from_ref(&detail.incident),
        OffsetDateTime::now_utc(),
    )
    .await?;
    let mut answer: IncidentDetailResponse = detail.into();
    if let Some(sla) = slas.as_ref().and_then(|s| s.first()) {
        answer.incident.sla = Some(sla.into());
    }
    Ok(Json(answer))
}

/// `PATCH /api/v1/incidents/{id}`.
pub async fn update_incident(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(request): Json<IncidentUpdateRequest>,
) -> Result<Json<IncidentResponse>, ApiError> {
    let id: IncidentId = parse_id(&id)?;
    let patch = IncidentPatch {
        title: request.title,
        description: request.description,
        category: request.category,
        severity: request.severity,
        disclosure: request.disclosure,
        ..Default::default()
    };
    Ok(Json(
        state
            .store
            .update_incident(&caller.viewer(), id, patch)
            .await?
            .into(),
    ))
}

/// `POST /api/v1/incidents/{id}/status`.
pub async fn change_status(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(request): Json<StatusChangeRequest>,
) -> Result<Json<IncidentResponse>, ApiError> {
    let id: IncidentId = parse_id(&id)?;
    state_checks::not_future("at", request.at, OffsetDateTime::now_utc())?;
    let incident = state
        .store
        .transition_incident(&caller.viewer(), id, request.status, request.at)
        .await?;
    Ok(Json(incident.into()))
}

/// `POST /api/v1/incidents/{id}/assign`.
pub async fn assign_incident(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(request): Json<AssignRequest>,
) -> Result<Json<IncidentResponse>, ApiError> {
    let id: IncidentId = parse_id(&id)?;
    let viewer = caller.viewer();
    // Check visibility first, so unknown users are not probed on hidden ids.
    let mut incident = state.store.get_incident(&viewer, id).await?.incident;
    let mut participants = Vec::with_capacity(request.participants.len());
    for name in &request.participants {
        participants.push(user_id_by_name(&state, &viewer, name).await?);
    }
    if !participants.is_empty() {
        state
            .store
            .add_participants(&viewer, id, &participants)
            .await?;
    }
    if let Some(owner) = request.owner.as_deref() {
        let owner = if owner.is_empty() {
            None
        } else {
            Some(user_id_by_name(&state, &viewer, owner).await?)
        };
        incident = state.store.assign_incident(&viewer, id, owner).await?;
    } else if !request.participants.is_empty() {
        incident = state.store.get_incident(&viewer, id).await?.incident;
    }
    Ok(Json(incident.into()))
}

/// `POST /api/v1/incidents/{id}/notes`.
pub async fn add_note(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(request): Json<NewNoteRequest>,
) -> Result<(StatusCode, Json<NoteResponse>), ApiError> {
    let id: IncidentId = parse_id(&id)?;
    if request.body.trim().is_empty() {
        return Err(ApiError::Unprocessable(
            "body: must not be empty".to_owned(),
        ));
    }
    let note = state
        .store
        .add_note(&caller.viewer(), id, &request.body)
        .await?;
    Ok((StatusCode::CREATED, Json(note.into())))
}

/// `POST /api/v1/incidents/{id}/tasks`.
pub async fn create_task(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(request): Json<NewTaskRequest>,
) -> Result<(StatusCode, Json<TaskResponse>), ApiError> {
    let id: IncidentId = parse_id(&id)?;
    let viewer = caller.viewer();
    state.store.get_incident(&viewer, id).await?;
    let owner = match request.owner.as_deref() {
        Some(name) => Some(user_id_by_name(&state, &viewer, name).await?),
        None => None,
    };
    let task = state
        .store
        .add_task(
            &viewer,
            id,
            NewTask {
                title: request.title,
                owner,
                due_at: request.due_at,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(task.into())))
}

/// `PATCH /api/v1/incidents/{id}/tasks/{task_id}`.
pub async fn update_task(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, task_id)): Path<(String, String)>,
    Json(request): Json<TaskUpdateRequest>,
) -> Result<Json<TaskResponse>, ApiError> {
    let id: IncidentId = parse_id(&id)?;
    let task_id: TaskId = parse_id(&task_id)?;
    let viewer = caller.viewer();
    // The task must belong to this (visible) incident.
    let detail = state.store.get_incident(&viewer, id).await?;
    if !detail.tasks.iter().any(|t| t.id == task_id) {
        return Err(ApiError::NotFound);
    }
    let owner = match request.owner.as_deref() {
        Some(name) => Some(user_id_by_name(&state, &viewer, name).await?),
        None => None,
    };
    let patch = TaskPatch {
        title: request.title,
        owner,
        due_at: request.due_at,
        done: request.done,
    };
    Ok(Json(
        state
            .store
            .update_task(&viewer, task_id, patch)
            .await?
            .into(),
    ))
}

/// `POST /api/v1/incidents/{id}/links`.
pub async fn link_incident(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(request): Json<LinkRequest>,
) -> Result<Json<IncidentResponse>, ApiError> {
    let id: IncidentId = parse_id(&id)?;
    let viewer = caller.viewer();
    match (request.report_id.as_deref(), request.alert_id.as_deref()) {
        (Some(report), None) => {
            let report: ReportId = parse_id(report)?;
            state.store.link_report(&viewer, id, report).await?;
        }
        (None, Some(alert)) => {
            let alert: AlertId = parse_id(alert)?;
            state.store.link_alert(&viewer, id, alert).await?;
        }
        _ => {
            return Err(ApiError::Unprocessable(
                "give exactly one of report_id and alert_id".to_owned(),
            ));
        }
    }
    Ok(Json(
        state.store.get_incident(&viewer, id).await?.incident.into(),
    ))
}

/// `POST /api/v1/incidents/{id}/merge`: merges `{id}` into `into`; answers
/// the target incident.
pub async fn merge_incident(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(request): Json<MergeRequest>,
) -> Result<Json<IncidentResponse>, ApiError> {
    let source: IncidentId = parse_id(&id)?;
    let target: IncidentId = parse_id(&request.into)?;
    if source == target {
        return Err(ApiError::Conflict(
            "an incident cannot be merged into itself".to_owned(),
        ));
    }
    Ok(Json(
        state
            .store
            .merge_incidents(&caller.viewer(), source, target)
            .await?
            .into(),
    ))
}

/// `PUT /api/v1/incidents/{id}/impact`.
pub async fn set_impact(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(request): Json<ImpactBody>,
) -> Result<Json<IncidentResponse>, ApiError> {
    let id: IncidentId = parse_id(&id)?;
    Ok(Json(
        state
            .store
            .set_impact(&caller.viewer(), id, request.into())
            .await?
            .into(),
    ))
}

/// `POST /api/v1/incidents/{id}/close`.
pub async fn close_incident(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(request): Json<CloseRequest>,
) -> Result<Json<IncidentResponse>, ApiError> {
    let id: IncidentId = parse_id(&id)?;
    state_checks::not_future("at", request.at, OffsetDateTime::now_utc())?;
    let incident = state
        .store
        .close_incident(&caller.viewer(), id, request.resolution, None, request.at)
        .await?;
    Ok(Json(incident.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_text_is_capped_in_characters() {
        let at_cap = "é".repeat(200);
        let over = format!("{at_cap}x");
        for (q, expected) in [
            (None, Ok(None)),
            (Some(""), Ok(None)),
            (Some("   "), Ok(None)),
            (Some("laptop"), Ok(Some("laptop"))),
            (Some(at_cap.as_str()), Ok(Some(at_cap.as_str()))),
            (
                Some(over.as_str()),
                Err("q: at most 200 characters (got 201)"),
            ),
        ] {
            let got = search_text(q.map(str::to_owned));
            match (got, expected) {
                (Ok(got), Ok(want)) => assert_eq!(got.as_deref(), want),
                (Err(e), Err(message)) => {
                    assert_eq!(e.status(), axum::http::StatusCode::UNPROCESSABLE_ENTITY);
                    assert_eq!(e.to_string(), message);
                }
                (got, want) => panic!("{q:?}: got {got:?}, want {want:?}"),
            }
        }
    }
}
