//! Checks of request values against the server's state rather than the
//! request's shape: times that must be in the past or the future (relative
//! to the server's clock). A value the OpenAPI document accepts but the
//! state refuses is 409, never 422: 422 is kept for what the document
//! itself rules out.

use time::{Duration, OffsetDateTime};

use crate::error::ApiError;

/// How far in the future a "when it happened" time may be (clock skew), as
/// the store allows.
const CLOCK_SKEW: Duration = Duration::minutes(5);

/// 409 when a "when it happened" time is in the future.
pub(crate) fn not_future(
    field: &str,
    at: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> Result<(), ApiError> {
    match at {
        Some(at) if at > now + CLOCK_SKEW => Err(ApiError::Conflict(format!(
            "{field}: must not be in the future"
        ))),
        _ => Ok(()),
    }
}

/// 409 when an expiry is not in the future.
pub(crate) fn in_future(
    field: &str,
    at: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> Result<(), ApiError> {
    match at {
        Some(at) if at <= now => Err(ApiError::Conflict(format!(
            "{field}: must be in the future"
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn times_against_the_clock_are_conflicts() {
        let now = datetime!(2026-01-01 12:00 UTC);
        assert!(not_future("at", None, now).is_ok());
        assert!(not_future("at", Some(now + Duration::minutes(5)), now).is_ok());
        let e = not_future("at", Some(now + Duration::minutes(6)), now).unwrap_err();
        assert_eq!(e.status(), axum::http::StatusCode::CONFLICT);
        assert!(in_future("expires_at", None, now).is_ok());
        assert!(in_future("expires_at", Some(now + Duration::seconds(1)), now).is_ok());
        let e = in_future("expires_at", Some(now), now).unwrap_err();
        assert_eq!(e.status(), axum::http::StatusCode::CONFLICT);
    }
}
