//! Reads a JSON record's time and host. Its logsource is decided by
//! [`events::taxonomy::of_json`], with every other logsource decision.
//!
//! # Time
//! The first of these fields that parses: `eventTime` (or `eventtime`),
//! `published`, `requestReceivedTimestamp`, `stageTimestamp`, `timestamp`,
//! `receiveTimestamp`, `@timestamp` (or `at_sign_timestamp`), `time`, `ts`,
//! `created_at`, `CreationTime` (or `creationtime`), `EventTime`,
//! `TimeGenerated`, `TimeCreated`, `SystemTime`, `id.time`, `p_event_time`,
//! and for GCP records without a top-level time `protoPayload.timestamp`
//! and `protoPayload.requestMetadata.requestAttributes.time`. (The lower-case
//! and `at_sign_` spellings are how Panther's samples write them.) Accepted
//! values: RFC 3339, `YYYY-MM-DD HH:MM:SS[.fff]` with no zone (taken as UTC:
//! Okta's `published` and Panther's normalised CloudTrail `eventtime` are
//! written that way and are UTC; failing all else, the first 19 characters
//! as that), and numbers of seconds since the epoch (milliseconds when
//! larger than 10^11, as GitHub writes them). Placeholders such as
//! `redacted` give no time.
//!
//! # Host
//! `Computer`, `HostName`, `hostname`, `host.name` or a string `host`.
//! Cloud records have no host.
//!
//! Pure: no IO.

use events::{Map, Value, lookup};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

/// Fields tried, in order, for the record's time.
const TIME_FIELDS: &[&str] = &[
    "eventTime",
    "eventtime",
    "published",
    "requestReceivedTimestamp",
    "stageTimestamp",
    "timestamp",
    "receiveTimestamp",
    "@timestamp",
    "at_sign_timestamp",
    "time",
    "ts",
    "created_at",
    "CreationTime",
    "creationtime",
    "EventTime",
    "TimeGenerated",
    "TimeCreated",
    "SystemTime",
    "id.time",
    "p_event_time",
    "protoPayload.timestamp",
    "protoPayload.requestMetadata.requestAttributes.time",
];

/// A string field.
fn get_str<'a>(fields: &'a Map<String, Value>, path: &str) -> Option<&'a str> {
    lookup(fields, path).and_then(Value::as_str)
}

/// The record's time, from the first usable field of the module list.
pub(crate) fn timestamp(fields: &Map<String, Value>) -> Option<OffsetDateTime> {
    TIME_FIELDS
        .iter()
        .find_map(|name| lookup(fields, name).and_then(parse_time_value))
}

/// The record's host, when it names one.
pub(crate) fn host(fields: &Map<String, Value>) -> Option<String> {
    ["Computer", "HostName", "hostname", "host.name", "host"]
        .iter()
        .find_map(|name| get_str(fields, name))
        .filter(|h| !h.is_empty())
        .map(str::to_owned)
}

/// Parses a time field: RFC 3339, `YYYY-MM-DD HH:MM:SS[.f]` (UTC), or
/// epoch seconds / milliseconds as a number or numeric string.
pub(crate) fn parse_time_value(value: &Value) -> Option<OffsetDateTime> {
    match value {
        Value::String(text) => parse_time_text(text),
        Value::Number(n) => epoch(n.as_f64()?),
        Value::Object(map) => map
            .get("SystemTime")
            .or_else(|| map.get("#attributes").and_then(|a| a.get("SystemTime")))
            .and_then(parse_time_value),
        _ => None,
    }
}

/// Parses a time written as text.
pub(crate) fn parse_time_text(text: &str) -> Option<OffsetDateTime> {
    let text = text.trim();
    if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
        return Some(t);
    }
    let spaced = format_description!(
        version = 2,
        "[year]-[month]-[day] [hour]:[minute]:[second][optional [.[subsecond]]]"
    );
    if let Ok(t) = PrimitiveDateTime::parse(text, spaced) {
        return Some(t.assume_utc());
    }
    if let Ok(t) = PrimitiveDateTime::parse(text.trim_end_matches('Z'), spaced) {
        return Some(t.assume_utc());
    }
    // Last resort: the date and time to the second at the start, as UTC
    // (`2024-12-17 00:00:00000000`, `2024-12-17T00:00:00+0000`).
    if let Some(prefix) = text.get(..19) {
        let prefix = prefix.replacen('T', " ", 1);
        if let Ok(t) = PrimitiveDateTime::parse(&prefix, spaced) {
            return Some(t.assume_utc());
        }
    }
    if text.bytes().all(|b| b.is_ascii_digit() || b == b'.') && !text.is_empty() {
        return epoch(text.parse().ok()?);
    }
    None
}

/// Seconds (or, above 10^11, milliseconds) since the epoch.
fn epoch(value: f64) -> Option<OffsetDateTime> {
    if !value.is_finite() || value < 0.0 {
        return None;
    }
    let seconds = if value > 1e11 { value / 1000.0 } else { value };
    let nanos = (seconds * 1e9) as i128;
    OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    use crate::test_util::obj;

    #[test]
    fn finds_times_in_all_usual_shapes() {
        let cases = [
            (json!({"eventTime": "2024-07-31T13:06:24Z"}), 1_722_431_184),
            (
                json!({"published": "2022-03-22 14:21:53.225"}),
                1_647_958_913,
            ),
            (json!({"created_at": 1_621_305_118_553_u64}), 1_621_305_118),
            (json!({"ts": 1_588_205_198.899_71}), 1_588_205_198),
            (
                json!({"id": {"time": "2022-12-11 02:57:48.693000000"}}),
                1_670_727_468,
            ),
            (
                json!({"TimeCreated": {"SystemTime": "2020-12-11T12:28:01.2990045Z"}}),
                1_607_689_681,
            ),
            (json!({"@timestamp": "1621305118"}), 1_621_305_118),
            (
                json!({"created_at": "2024-12-17 00:00:00000000"}),
                1_734_393_600,
            ),
            (json!({"eventtime": "2023-01-10 21:04:02"}), 1_673_384_642),
            (
                json!({"at_sign_timestamp": "2023-11-20 21:20:09.423"}),
                1_700_515_209,
            ),
            (
                json!({"p_event_time": "redacted", "protoPayload": {"requestMetadata": {"requestAttributes": {"time": "2023-05-23T19:28:44.663413Z"}}}}),
                1_684_870_124,
            ),
        ];
        for (record, want) in cases {
            let ts = timestamp(&obj(record.clone())).expect("a time");
            assert_eq!(ts.unix_timestamp(), want, "{record}");
        }
        assert!(timestamp(&obj(json!({"time": "yesterday"}))).is_none());
        assert!(timestamp(&obj(json!({"published": "redacted"}))).is_none());
        // Okta's `published` has no zone: UTC, to the millisecond.
        let okta = timestamp(&obj(json!({"published": "2022-03-22 14:21:53.225"}))).unwrap();
        assert_eq!(okta.offset(), time::UtcOffset::UTC);
        assert_eq!(okta.millisecond(), 225);
    }

    #[test]
    fn host_only_when_named() {
        assert_eq!(
            host(&obj(json!({"Computer": "UBUNTU5"}))).as_deref(),
            Some("UBUNTU5")
        );
        assert_eq!(
            host(&obj(json!({"host": {"name": "web1"}}))).as_deref(),
            Some("web1")
        );
        assert_eq!(host(&obj(json!({"recipientAccountId": "1234"}))), None);
    }
}
