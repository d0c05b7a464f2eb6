//! The one error type of the HTTP API and its JSON body,
//! `{"error":{"code":"...","message":"..."}}`.
//!
//! Every handler, extractor and middleware answers errors through
//! [`ApiError`]. A 500 logs its cause and never shows it to the client.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An error answered by the API.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request was malformed (bad parameter, bad id shape).
    #[error("{0}")]
    BadRequest(String),
    /// The body is not valid JSON.
    #[error("invalid JSON: {0}")]
    InvalidJson(String),
    /// The token is missing, malformed, unknown or belongs to a disabled user.
    #[error("missing or invalid API token")]
    Unauthorized,
    /// The caller's role may not call this route or do this action.
    #[error("{0}")]
    Forbidden(String),
    /// The resource does not exist or the caller may not see it.
    #[error("not found")]
    NotFound,
    /// The path exists but not with this method.
    #[error("method not allowed on this path")]
    MethodNotAllowed,
    /// The request conflicts with the resource's state (an illegal status
    /// change, a duplicate name).
    #[error("{0}")]
    Conflict(String),
    /// The body is larger than the configured limit.
    #[error("request body too large")]
    PayloadTooLarge,
    /// An upload is over the per-file limit or a storage quota; the message
    /// says which.
    #[error("{0}")]
    QuotaExceeded(String),
    /// The caller did this too often; they may retry after
    /// `retry_after_secs` (sent as `Retry-After`).
    #[error("{message}")]
    TooManyRequests {
        /// What the limit is.
        message: String,
        /// Seconds to wait.
        retry_after_secs: u64,
    },
    /// The request was not read and handled within the time limit.
    #[error("the request was not completed within the time limit")]
    RequestTimeout,
    /// The JSON is well formed but a value is not acceptable (an unknown enum
    /// value, a missing field). The message names the allowed values.
    #[error("{0}")]
    Unprocessable(String),
    /// The server cannot take the request now (its event spool is full,
    /// or it takes no events); retry after `retry_after_secs` (sent as
    /// `Retry-After`).
    #[error("{message}")]
    Unavailable {
        /// Why.
        message: String,
        /// Seconds to wait.
        retry_after_secs: u64,
    },
    /// Something failed inside the server. The cause is logged, never sent.
    #[error("internal error")]
    Internal(String),
}

/// The JSON body of every error.
#[derive(Debug, Serialize, serde::Deserialize)]
pub struct ErrorBody {
    /// The error itself.
    pub error: ErrorDetail,
}

/// The `error` object of [`ErrorBody`].
#[derive(Debug, Serialize, serde::Deserialize)]
pub struct ErrorDetail {
    /// A stable machine-readable code, such as `not_found`.
    pub code: String,
    /// A human-readable message. Never contains internals.
    pub message: String,
}

impl ApiError {
    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) | Self::InvalidJson(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge | Self::QuotaExceeded(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable code sent in the body.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad_request",
            Self::InvalidJson(_) => "invalid_json",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Conflict(_) => "conflict",
            Self::PayloadTooLarge => "payload_too_large",
            Self::QuotaExceeded(_) => "quota_exceeded",
            Self::TooManyRequests { .. } => "too_many_requests",
            Self::RequestTimeout => "request_timeout",
            Self::Unprocessable(_) => "invalid_value",
            Self::Unavailable { .. } => "unavailable",
            Self::Internal(_) => "internal",
        }
    }

    /// Builds an internal error from any displayable cause (logged, not sent).
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self::Internal(cause.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Internal(cause) = &self {
            tracing::error!(error = %cause, "request failed");
        }
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code().to_owned(),
                message: self.to_string(),
            },
        };
        let mut response = (self.status(), Json(body)).into_response();
        if let Self::TooManyRequests {
            retry_after_secs, ..
        }
        | Self::Unavailable {
            retry_after_secs, ..
        } = self
        {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(retry_after_secs),
            );
        }
        response
    }
}

impl From<incidents::StoreError> for ApiError {
    fn from(error: incidents::StoreError) -> Self {
        use incidents::StoreError as E;
        match error {
            E::NotFound(_) => Self::NotFound,
            E::Forbidden(what) => Self::Forbidden(format!("not allowed: {what}")),
            E::Domain(domain) => Self::Conflict(domain.to_string()),
            E::Invalid(message) => Self::Unprocessable(message),
            E::Conflict(message) => Self::Conflict(message),
            E::QuotaExceeded(message) => Self::QuotaExceeded(message),
            E::RateLimited {
                message,
                retry_after_secs,
            } => Self::TooManyRequests {
                message,
                retry_after_secs,
            },
            other => Self::Internal(other.to_string()),
        }
    }
}
