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
pub async fn get_health(
    State(state): State<AppState>,
) -> (axum::http::StatusCode, Json<HealthResponse>) {
    let database = state.store.count_users(&Viewer::system()).await.is_ok();
    let dependencies = match &state.events {
        Some(sink) => sink.dependencies().await,
        None => Vec::new(),
    };
    let word = |up: bool| if up { "up" } else { "down" }.to_owned();
    let jetstream = dependencies
        .iter()
        .find(|d| d.name == "jetstream")
        .map(|d| word(d.up));
    let ok = database && dependencies.iter().all(|d| d.up);
    let code = if ok {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::SERVICE_UNAVAILABLE
    };
    (
        code,
        Json(HealthResponse {
            status: if ok { "ok" } else { "unavailable" }.to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            database: word(database),
            jetstream,
        }),
    )
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
    State(state): State<AppState>,
    axum::Extension(stats): axum::Extension<std::sync::Arc<crate::stats::RequestStats>>,
) -> Json<crate::stats::StatsSnapshot> {
    let mut snapshot = stats.snapshot();
    snapshot.ingest = state.events.as_ref().map(|sink| sink.status());
    Json(snapshot)
}

/// `GET /metrics`: the request counts, live detection's metrics and the
/// SLA metrics (over the incidents the caller sees) in the Prometheus text
/// format.
pub async fn get_prometheus(
    State(state): State<AppState>,
    caller: Caller,
    axum::Extension(stats): axum::Extension<std::sync::Arc<crate::stats::RequestStats>>,
) -> Result<impl axum::response::IntoResponse, ApiError> {
    let mut text = stats.prometheus();
    if let Some(sink) = &state.events {
        text.push_str(&sink.prometheus());
    }
    text.push_str(
        &crate::sla::prometheus(
            state.store.as_ref(),
            &state.sla,
            &caller.viewer(),
            time::OffsetDateTime::now_utc(),
        )
        .await?,
    );
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    ))
}

/// `POST /api/v1/rules/reload`: loads the detection rules again (as SIGHUP
/// does); a reload that would make rule files fail is refused (422) and
/// the running rules stay.
pub async fn reload_rules(
    State(state): State<AppState>,
) -> Result<Json<crate::events::RulesReloaded>, ApiError> {
    let Some(sink) = state.events.clone() else {
        return Err(ApiError::Unavailable {
            message: "this server runs no live detection".to_owned(),
            retry_after_secs: 60,
        });
    };
    sink.reload_rules()
        .await
        .map(Json)
        .map_err(ApiError::Unprocessable)
}

/// `GET /api/v1/sources`: the log sources live detection has heard from
/// since start, with counts, first and last seen, and rate; and each
/// stream (source, host, log type) with its gap history.
pub async fn list_sources(
    State(state): State<AppState>,
) -> Result<Json<crate::events::SourceList>, ApiError> {
    let Some(sink) = state.events.as_ref() else {
        return Ok(Json(crate::events::SourceList::default()));
    };
    let sources = sink.sources();
    let streams = sink.streams();
    Ok(Json(crate::events::SourceList {
        sources,
        streams: streams.streams,
        untracked_events: streams.untracked_events,
    }))
}

/// `GET /api/v1/coverage`: which streams feed which rules, and which
/// rules never saw an event of their logsource, since start.
pub async fn get_coverage(
    State(state): State<AppState>,
) -> Result<Json<crate::events::Coverage>, ApiError> {
    Ok(Json(
        state
            .events
            .as_ref()
            .map(|sink| sink.coverage())
            .unwrap_or_default(),
    ))
}
