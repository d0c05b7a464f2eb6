//! `POST /api/v1/events`: log events from shippers (an `ingest` token).
//!
//! The body is NDJSON or a JSON array (`format=json`, the default), or raw
//! log lines in any line-based format `hunt` reads (`?format=syslog`,
//! `access`, `auditd`), optionally gzip-compressed
//! (`Content-Encoding: gzip`). The source type comes from the
//! `X-Watchpost-Source` header or the `source` query parameter. The answer
//! counts the accepted and refused lines and names the refused ones; it is
//! sent only once the accepted lines are durable (see
//! [`crate::events::EventSink`]).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::CONTENT_ENCODING;
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;

use crate::caller::Caller;
use crate::error::ApiError;
use crate::events::{EventBatch, OtlpBatch, Receipt, Refusal};
use crate::extract::{Json, Query};
use crate::state::AppState;

/// The header that names the source type.
pub const SOURCE_HEADER: &str = "x-watchpost-source";

/// The event sink, or 503 when the server runs no live detection.
fn sink(state: &AppState) -> Result<crate::events::SharedSink, ApiError> {
    state.events.clone().ok_or_else(|| ApiError::Unavailable {
        message: "this server takes no events: live detection is not configured".to_owned(),
        retry_after_secs: 60,
    })
}

/// Whether the body is gzip-compressed (`Content-Encoding`); any encoding
/// but gzip and identity is 400.
fn is_gzip(headers: &HeaderMap) -> Result<bool, ApiError> {
    match headers.get(CONTENT_ENCODING).map(|v| v.to_str()) {
        None => Ok(false),
        Some(Ok(v)) if v.trim().eq_ignore_ascii_case("gzip") => Ok(true),
        Some(Ok(v)) if v.trim().eq_ignore_ascii_case("identity") => Ok(false),
        Some(_) => Err(ApiError::BadRequest(
            "Content-Encoding: only gzip (or identity) is accepted".to_owned(),
        )),
    }
}

/// Query of `POST /api/v1/events`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// `json` (default), `syslog`, `access` or `auditd`.
    format: Option<String>,
    /// The source type (the header wins when both are given).
    source: Option<String>,
}

/// `POST /api/v1/events`.
pub async fn post_events(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<EventsQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Receipt>), ApiError> {
    let sink = sink(&state)?;
    let gzip = is_gzip(&headers)?;
    let source = match headers.get(SOURCE_HEADER) {
        Some(v) => Some(
            v.to_str()
                .map_err(|_| ApiError::BadRequest(format!("{SOURCE_HEADER}: not visible ASCII")))?
                .to_owned(),
        ),
        None => query.source,
    };
    let batch = EventBatch {
        sender: caller.user.name.clone(),
        body,
        gzip,
        format: query.format,
        source,
    };
    match sink.submit(batch).await {
        Ok(receipt) => Ok((StatusCode::OK, Json(receipt))),
        Err(Refusal::BadRequest(message)) => Err(ApiError::BadRequest(message)),
        Err(Refusal::TooLarge(_)) => Err(ApiError::PayloadTooLarge),
        Err(Refusal::Busy {
            message,
            retry_after_secs,
        }) => Err(ApiError::TooManyRequests {
            message,
            retry_after_secs,
        }),
        Err(Refusal::Unavailable {
            message,
            retry_after_secs,
        }) => Err(ApiError::Unavailable {
            message,
            retry_after_secs,
        }),
    }
}

/// `POST /v1/logs`: an OTLP/HTTP logs export (protobuf or JSON, optionally
/// gzip), so OpenTelemetry collectors and SDKs ship to watchpost as to any
/// OTLP backend. The answer is OTLP's own (see
/// [`crate::events::EventSink::submit_otlp`]); authentication and role
/// errors are the API's.
pub async fn post_otlp_logs(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let sink = sink(&state)?;
    let gzip = is_gzip(&headers)?;
    let content_type = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let answer = sink
        .submit_otlp(OtlpBatch {
            sender: caller.user.name.clone(),
            body,
            gzip,
            content_type,
        })
        .await;
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (
        status,
        [(axum::http::header::CONTENT_TYPE, answer.content_type)],
        answer.body,
    )
        .into_response();
    if let Some(secs) = answer.retry_after_secs {
        response.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from(secs),
        );
    }
    Ok(response)
}
