//! Counts of refused requests, so that bad credentials, oversized bodies and
//! other bad input are not only answered but counted. Admins read them at
//! `GET /api/v1/stats`.
//!
//! Counts live in memory and start at zero when the server starts. Labels
//! are a fixed set (one per refusal kind), so nothing here grows with input.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use serde::Serialize;

/// The counters. One is shared by every request of a router.
#[derive(Debug, Default)]
pub struct RequestStats {
    requests: AtomicU64,
    bad_request: AtomicU64,
    unauthorized: AtomicU64,
    forbidden: AtomicU64,
    not_found: AtomicU64,
    method_not_allowed: AtomicU64,
    request_timeout: AtomicU64,
    payload_too_large: AtomicU64,
    unprocessable: AtomicU64,
    too_many_requests: AtomicU64,
    server_error: AtomicU64,
    over_capacity: AtomicU64,
}

/// A snapshot of [`RequestStats`], as `GET /api/v1/stats` answers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StatsSnapshot {
    /// Every request answered since start.
    pub requests: u64,
    /// Refused requests by kind.
    pub refused: RefusedCounts,
    /// Live detection's counts (null when the server runs none).
    #[serde(default)]
    pub ingest: Option<crate::events::IngestStatus>,
}

/// Refused requests by kind (HTTP status).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RefusedCounts {
    /// 400: malformed JSON or parameters.
    pub bad_request: u64,
    /// 401: missing, unknown or malformed API token.
    pub unauthorized: u64,
    /// 403: a role the route does not allow, or an action it may not take.
    pub forbidden: u64,
    /// 404: unknown routes and resources the caller may not see.
    pub not_found: u64,
    /// 405: a method the path does not have.
    pub method_not_allowed: u64,
    /// 408: over the request time limit.
    pub request_timeout: u64,
    /// 413: body over the size limit.
    pub payload_too_large: u64,
    /// 422: values the API does not accept (unknown enum values, ...).
    pub unprocessable: u64,
    /// 429: over a rate limit (reports per hour).
    pub too_many_requests: u64,
    /// 5xx: failures on our side.
    pub server_error: u64,
    /// Connections answered 503 and closed because the server's connection
    /// cap was reached (counted by the listener, not among `requests`).
    pub over_capacity: u64,
}

impl RequestStats {
    /// Counts one answered request by its status.
    pub fn record(&self, status: StatusCode) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let counter = match status {
            StatusCode::BAD_REQUEST => &self.bad_request,
            StatusCode::UNAUTHORIZED => &self.unauthorized,
            StatusCode::FORBIDDEN => &self.forbidden,
            StatusCode::NOT_FOUND => &self.not_found,
            StatusCode::METHOD_NOT_ALLOWED => &self.method_not_allowed,
            StatusCode::REQUEST_TIMEOUT => &self.request_timeout,
            StatusCode::PAYLOAD_TOO_LARGE => &self.payload_too_large,
            StatusCode::UNPROCESSABLE_ENTITY => &self.unprocessable,
            StatusCode::TOO_MANY_REQUESTS => &self.too_many_requests,
            s if s.is_server_error() => &self.server_error,
            _ => return,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The counts in the Prometheus text format.
    pub fn prometheus(&self) -> String {
        use std::fmt::Write as _;
        let s = self.snapshot();
        let r = s.refused;
        let mut out = String::new();
        out.push_str("# HELP watchpost_http_requests_total API requests answered.\n");
        out.push_str("# TYPE watchpost_http_requests_total counter\n");
        let _ = writeln!(out, "watchpost_http_requests_total {}", s.requests);
        out.push_str("# HELP watchpost_http_refused_total API requests refused, by kind.\n");
        out.push_str("# TYPE watchpost_http_refused_total counter\n");
        for (kind, n) in [
            ("bad_request", r.bad_request),
            ("unauthorized", r.unauthorized),
            ("forbidden", r.forbidden),
            ("not_found", r.not_found),
            ("method_not_allowed", r.method_not_allowed),
            ("request_timeout", r.request_timeout),
            ("payload_too_large", r.payload_too_large),
            ("unprocessable", r.unprocessable),
            ("too_many_requests", r.too_many_requests),
            ("server_error", r.server_error),
            ("over_capacity", r.over_capacity),
        ] {
            let _ = writeln!(out, "watchpost_http_refused_total{{kind=\"{kind}\"}} {n}");
        }
        out
    }

    /// Counts one connection refused over the connection cap.
    pub fn record_over_capacity(&self) {
        self.over_capacity.fetch_add(1, Ordering::Relaxed);
    }

    /// The counts now.
    pub fn snapshot(&self) -> StatsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StatsSnapshot {
            requests: get(&self.requests),
            refused: RefusedCounts {
                bad_request: get(&self.bad_request),
                unauthorized: get(&self.unauthorized),
                forbidden: get(&self.forbidden),
                not_found: get(&self.not_found),
                method_not_allowed: get(&self.method_not_allowed),
                request_timeout: get(&self.request_timeout),
                payload_too_large: get(&self.payload_too_large),
                unprocessable: get(&self.unprocessable),
                too_many_requests: get(&self.too_many_requests),
                server_error: get(&self.server_error),
                over_capacity: get(&self.over_capacity),
            },
            ingest: None,
        }
    }
}

/// The middleware that counts every answer by its final status.
pub async fn count(
    State(stats): State<Arc<RequestStats>>,
    request: Request,
    next: Next,
) -> Response {
    let response = next.run(request).await;
    stats.record(response.status());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_land_in_their_counter() {
        let stats = RequestStats::default();
        for status in [
            StatusCode::OK,
            StatusCode::CREATED,
            StatusCode::UNAUTHORIZED,
            StatusCode::UNAUTHORIZED,
            StatusCode::PAYLOAD_TOO_LARGE,
            StatusCode::UNPROCESSABLE_ENTITY,
            StatusCode::TOO_MANY_REQUESTS,
            StatusCode::BAD_GATEWAY,
        ] {
            stats.record(status);
        }
        stats.record_over_capacity();
        let s = stats.snapshot();
        assert_eq!(s.requests, 8);
        assert_eq!(s.refused.too_many_requests, 1);
        assert_eq!(s.refused.over_capacity, 1);
        assert_eq!(s.refused.unauthorized, 2);
        assert_eq!(s.refused.payload_too_large, 1);
        assert_eq!(s.refused.unprocessable, 1);
        assert_eq!(s.refused.server_error, 1);
        assert_eq!(s.refused.bad_request, 0);
    }
}
