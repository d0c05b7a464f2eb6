//! Building [`Detection`]s for catalogue entries.

use std::collections::BTreeMap;

use detect::{Detection, Level};
use events::{Meta, Timestamp};

use crate::catalogue;

/// A detection of catalogue entry `id` about the event described by
/// `meta` (its source, record and host), at `timestamp`.
pub(crate) fn detection(
    id: &str,
    meta: &Meta,
    timestamp: Option<Timestamp>,
    level: Option<Level>,
) -> Detection {
    let entry = catalogue::entry(id);
    Detection {
        rule_id: id.to_string(),
        rule_title: entry.map_or(id, |e| e.title).to_string(),
        level: level.or(entry.map(|e| e.level)).unwrap_or(Level::Medium),
        timestamp,
        file: meta.source.clone(),
        record: meta.record,
        host: meta.host.clone(),
        logsource: meta.logsource,
        policy: entry.map(|e| e.policy.as_str()),
        entities: BTreeMap::new(),
        fields: BTreeMap::new(),
    }
}

/// Adds an entity key when the value is known. The `host` entity is the
/// detection's own `host` field (which JSON output already carries), so it
/// is set there rather than repeated among the entities.
pub(crate) fn entity(det: &mut Detection, key: &str, value: Option<&str>) {
    if let Some(v) = value.filter(|v| !v.is_empty()) {
        if key == "host" {
            det.host = Some(v.to_string());
        } else {
            det.entities.insert(key.to_string(), v.to_string());
        }
    }
}

/// Adds a display field.
pub(crate) fn field(det: &mut Detection, key: &str, value: impl ToString) {
    det.fields.insert(key.to_string(), value.to_string());
}

/// Unix seconds of a timestamp.
pub(crate) fn secs(ts: Timestamp) -> i64 {
    ts.unix_timestamp()
}

/// RFC 3339 text of unix seconds (for display fields).
pub(crate) fn rfc3339(secs: i64) -> String {
    Timestamp::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| secs.to_string())
}
