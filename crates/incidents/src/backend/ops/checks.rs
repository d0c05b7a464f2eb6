//! Argument checks shared by every store operation: who may act
//! ([`forbid`], [`people_only`]), text lengths, times in the future, and the JSON form of a
//! value for the audit trail. No SQL here.

use serde_json::Value;
use time::{Duration, OffsetDateTime};

use crate::access::Viewer;
use crate::store::{Result, StoreError};

/// Longest accepted free text (descriptions, notes, impact summaries), in
/// characters.
pub(super) const MAX_TEXT: usize = 20_000;

/// `Forbidden(why)` unless `ok`.
pub(super) fn forbid(ok: bool, why: &'static str) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(StoreError::Forbidden(why))
    }
}

/// `Forbidden` for an `ingest` token ([`Viewer::is_person`]): the first
/// check of every write, before anything is looked up, so the answer is
/// the same whatever the arguments name.
pub(super) fn people_only(v: &Viewer) -> Result<()> {
    forbid(
        v.is_person(),
        "an ingest token only sends events: it reads and changes nothing",
    )
}

/// `Invalid` unless `s` has `min` to `max` characters.
pub(super) fn check_len(field: &str, s: &str, min: usize, max: usize) -> Result<()> {
    let n = s.chars().count();
    if n < min || n > max {
        return Err(StoreError::Invalid(format!(
            "{field} must be {min} to {max} characters (got {n})"
        )));
    }
    Ok(())
}

/// The most entries in each list of an impact assessment (affected assets,
/// users, data), and the longest entry.
pub(super) const MAX_IMPACT_ENTRIES: usize = 100;
const MAX_IMPACT_ENTRY_CHARS: usize = 500;

/// Checks an impact assessment's summary and lists against their limits.
pub(super) fn check_impact(impact: &crate::incident::Impact) -> Result<()> {
    check_len("impact summary", &impact.summary, 0, MAX_TEXT)?;
    for (field, list) in [
        ("affected_assets", &impact.affected_assets),
        ("affected_users", &impact.affected_users),
        ("affected_data", &impact.affected_data),
    ] {
        if list.len() > MAX_IMPACT_ENTRIES {
            return Err(StoreError::Invalid(format!(
                "{field} takes at most {MAX_IMPACT_ENTRIES} entries (got {})",
                list.len()
            )));
        }
        for entry in list {
            check_len(field, entry, 1, MAX_IMPACT_ENTRY_CHARS)?;
        }
    }
    Ok(())
}

/// A value as JSON for the audit trail and notification payloads (`null`
/// if it cannot be serialised).
pub(super) fn to_json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// Whether a database error is a unique-constraint violation.
pub(super) fn is_unique_violation(e: &StoreError) -> bool {
    matches!(e, StoreError::Database(sqlx::Error::Database(d)) if d.is_unique_violation())
}

/// Future times (beyond a small clock-skew allowance) are refused.
pub(super) fn not_future(field: &str, t: OffsetDateTime, now: OffsetDateTime) -> Result<()> {
    if t > now + Duration::minutes(5) {
        return Err(StoreError::Invalid(format!("{field} is in the future")));
    }
    Ok(())
}
