//! [`Event`] and its metadata.

use std::sync::Arc;

use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::LogSource;

/// Identifies the input an event was read from: a file path, or the name
/// of a live stream. Shared between all events of one input, so cloning is
/// cheap.
pub type SourceId = Arc<str>;

/// Where and when an event happened, and which logsource it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct Meta {
    /// The input this event was read from.
    pub source: SourceId,
    /// The EVTX `EventRecordID`, or the 1-based line (or array element)
    /// number for text and JSON inputs.
    pub record: u64,
    /// When the event happened, as the log says. `None` when the log
    /// carries no usable time.
    pub timestamp: Option<OffsetDateTime>,
    /// The host the event is about (EVTX `Computer`, syslog host, ...).
    pub host: Option<String>,
    /// The Sigma logsource, filled in by the parser and refined by `detect`.
    pub logsource: LogSource,
}

impl Meta {
    /// Metadata with only the source and record set.
    pub fn new(source: SourceId, record: u64) -> Self {
        Self {
            source,
            record,
            timestamp: None,
            host: None,
            logsource: LogSource::default(),
        }
    }
}

/// One log record: named fields plus [`Meta`].
///
/// Fields are a JSON object. Windows events are flattened (`EventID`,
/// `Channel`, `Image`, ... at the top); JSON logs keep their nesting.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Where, when and what kind.
    pub meta: Meta,
    /// The record's fields.
    pub fields: Map<String, Value>,
}

impl Event {
    /// Creates an event.
    pub fn new(meta: Meta, fields: Map<String, Value>) -> Self {
        Self { meta, fields }
    }

    /// Looks a field up by name (see [`lookup`]).
    pub fn get(&self, name: &str) -> Option<&Value> {
        lookup(&self.fields, name)
    }

    /// Looks a field up and returns it as text when it is a string.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(Value::as_str)
    }

    /// Looks a field up and returns it as an integer, parsing strings.
    pub fn get_i64(&self, name: &str) -> Option<i64> {
        match self.get(name)? {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }
}

/// Looks a field of a record up by name. A name with dots is first tried
/// as a literal key (`Source Name`, `a.b` as one key), then as a path into
/// nested objects (`userIdentity.type`).
pub fn lookup<'a>(fields: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    if let Some(value) = fields.get(name) {
        return Some(value);
    }
    if !name.contains('.') {
        return None;
    }
    let mut parts = name.split('.');
    let mut current = fields.get(parts.next()?)?;
    for part in parts {
        current = match current {
            Value::Object(map) => map.get(part)?,
            _ => return None,
        };
    }
    Some(current)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn event(fields: Value) -> Event {
        let Value::Object(map) = fields else {
            panic!("fixture must be an object")
        };
        Event::new(Meta::new(Arc::from("test"), 1), map)
    }

    #[test]
    fn get_prefers_literal_key_then_path() {
        let e = event(json!({
            "a.b": "literal",
            "a": {"b": "nested", "c": {"d": 4}},
            "userIdentity": {"type": "Root"}
        }));
        assert_eq!(e.get_str("a.b"), Some("literal"));
        assert_eq!(e.get("a.c.d"), Some(&json!(4)));
        assert_eq!(e.get_str("userIdentity.type"), Some("Root"));
        assert_eq!(e.get("userIdentity.missing"), None);
        assert_eq!(e.get("a.b.c"), None);
    }

    #[test]
    fn get_i64_parses_strings() {
        let e = event(json!({"EventID": "4625", "n": 7, "bad": "x"}));
        assert_eq!(e.get_i64("EventID"), Some(4625));
        assert_eq!(e.get_i64("n"), Some(7));
        assert_eq!(e.get_i64("bad"), None);
    }
}
