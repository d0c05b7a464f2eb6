//! Request handlers, one module per resource. Handlers are thin: parse,
//! call the store with the caller's viewer, convert to a response type.

pub mod advisories;
pub mod alerts;
pub mod attachments;
pub mod audit;
pub mod events;
pub mod incidents;
pub mod mail;
pub mod meta;
pub mod metrics;
pub mod reports;
pub mod suppressions;
pub mod tokens;
pub mod users;

use std::str::FromStr;

use ::incidents::ParseEnumError;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::ApiError;

/// Parses an id from a path. A malformed id is "not found", like an id the
/// caller may not see.
pub(crate) fn parse_id<T: FromStr>(raw: &str) -> Result<T, ApiError> {
    raw.parse().map_err(|_| ApiError::NotFound)
}

/// Parses a comma-separated list of enum values from a query parameter.
pub(crate) fn parse_list<T>(raw: Option<&str>) -> Result<Vec<T>, ApiError>
where
    T: FromStr<Err = ParseEnumError>,
{
    raw.unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<T>()
                .map_err(|e| ApiError::Unprocessable(e.to_string()))
        })
        .collect()
}

/// Parses an optional RFC 3339 time from a query parameter.
pub(crate) fn parse_time(
    name: &str,
    raw: Option<&str>,
) -> Result<Option<OffsetDateTime>, ApiError> {
    raw.filter(|s| !s.is_empty())
        .map(|s| {
            OffsetDateTime::parse(s, &Rfc3339).map_err(|_| {
                ApiError::Unprocessable(format!(
                    "{name}: expected an RFC 3339 time such as 2026-11-30T09:00:00Z"
                ))
            })
        })
        .transpose()
}

/// Checks a page size: 1..=500, default 50.
pub(crate) fn page_limit(limit: Option<u32>) -> Result<u32, ApiError> {
    match limit {
        None => Ok(50),
        Some(n @ 1..=500) => Ok(n),
        Some(_) => Err(ApiError::Unprocessable(
            "limit: must be between 1 and 500".to_owned(),
        )),
    }
}
