//! [`Detection`]: what every matcher and detector produces, and the
//! [`Detector`] trait that stateful detectors implement.

use std::collections::BTreeMap;
use std::fmt;

use events::{Event, LogSource, SourceId, Timestamp};
use serde::Serialize;

/// Sigma severity levels, lowest first, so `>=` compares severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Sigma `informational`.
    Informational,
    /// Sigma `low`.
    Low,
    /// Sigma `medium`.
    Medium,
    /// Sigma `high`.
    High,
    /// Sigma `critical`.
    Critical,
}

impl Level {
    /// Every level, lowest first.
    pub const ALL: [Level; 5] = [
        Level::Informational,
        Level::Low,
        Level::Medium,
        Level::High,
        Level::Critical,
    ];

    /// The Sigma name of the level.
    pub const fn as_str(self) -> &'static str {
        match self {
            Level::Informational => "informational",
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
            Level::Critical => "critical",
        }
    }

    /// Parses a Sigma level name (case-insensitive; `info` is accepted).
    pub fn parse(s: &str) -> Option<Level> {
        match s.to_ascii_lowercase().as_str() {
            "informational" | "info" => Some(Level::Informational),
            "low" => Some(Level::Low),
            "medium" => Some(Level::Medium),
            "high" => Some(Level::High),
            "critical" => Some(Level::Critical),
            _ => None,
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One hit: a rule or detector matched an event (or a group of events).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Detection {
    /// The Sigma `id` of the rule, or the detector's stable id.
    pub rule_id: String,
    /// The rule's title.
    pub rule_title: String,
    /// Severity.
    pub level: Level,
    /// When the (last) matching event happened.
    #[serde(with = "time::serde::rfc3339::option")]
    pub timestamp: Option<Timestamp>,
    /// The input the event came from.
    #[serde(serialize_with = "serialize_source")]
    pub file: SourceId,
    /// The EVTX `EventRecordID`, or the 1-based line number.
    pub record: u64,
    /// The host the event is about.
    pub host: Option<String>,
    /// The logsource of the matching event.
    #[serde(skip)]
    pub logsource: LogSource,
    /// The policy watch-list item, for policy detections: its stable
    /// snake_case name, set by an [`Annotator`] or a policy detector
    /// (`detect` itself knows no policy vocabulary).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<&'static str>,
    /// Entity keys the detection groups by (`user`, `source_ip`, `port`,
    /// `url`, ...), for policy detections and correlations. They are
    /// written beside the other fields in JSON; the host entity is the
    /// [`Detection::host`] field, and an entity named like another field is
    /// not written a second time (no JSON object repeats a key).
    #[serde(
        skip_serializing_if = "BTreeMap::is_empty",
        flatten,
        serialize_with = "serialize_entities"
    )]
    pub entities: BTreeMap<String, String>,
    /// Key fields of the matching event, for display.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, String>,
}

fn serialize_source<S: serde::Serializer>(source: &SourceId, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(source)
}

/// The keys a serialized [`Detection`] writes itself (whether or not a
/// value is present), which entities may not repeat.
const OWN_KEYS: [&str; 9] = [
    "rule_id",
    "rule_title",
    "level",
    "timestamp",
    "file",
    "record",
    "host",
    "policy",
    "fields",
];

fn serialize_entities<S: serde::Serializer>(
    entities: &BTreeMap<String, String>,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_map(
        entities
            .iter()
            .filter(|(k, _)| !OWN_KEYS.contains(&k.as_str())),
    )
}

/// Which events a detector wants: a pure test that any thread may run
/// while the detector itself is busy elsewhere.
pub trait Selector: Send + Sync {
    /// Could this event matter to the detector? Events for which this is
    /// false are never passed to [`Detector::observe`].
    fn wants(&self, event: &Event) -> bool;
}

impl<F: Fn(&Event) -> bool + Send + Sync> Selector for F {
    fn wants(&self, event: &Event) -> bool {
        self(event)
    }
}

/// Adds meaning that `detect` does not know (for example the policy
/// watch-list item and entity keys) to a detection, given the event it
/// was made from (`None` for detections made at the end of input).
pub trait Annotator: Send + Sync {
    /// Annotates one detection.
    fn annotate(&self, detection: &mut Detection, event: Option<&Event>);
}

/// The annotator that adds nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoAnnotation;

impl Annotator for NoAnnotation {
    fn annotate(&self, _detection: &mut Detection, _event: Option<&Event>) {}
}

/// A stateful detector: sees events in time order and emits detections.
///
/// Implementations are pure: no IO and no wall clock. Time is the event
/// time, or the time passed to [`Detector::advance`] by a live driver.
pub trait Detector: Send {
    /// A stable name, used in errors and metrics.
    fn name(&self) -> &'static str;

    /// The detector's [`Selector`]: which events it wants. Worker threads
    /// ask it while the detector runs in the ordered stage.
    fn selector(&self) -> std::sync::Arc<dyn Selector>;

    /// Feeds one event (in time order) and appends any detections.
    fn observe(&mut self, event: &Event, out: &mut Vec<Detection>);

    /// The key this event's state is kept under ([`crate::shard_key`] of
    /// its parts), when the detector's state splits by key: what it keeps
    /// for one key depends only on the events of that key, and its
    /// detections come from that state. A stage split into shards then
    /// feeds the event only to the shard of its key
    /// ([`crate::Shard`]). `None` (the default): the detector does not
    /// split, and every event it wants goes to one shard.
    fn shard_key(&self, _event: &Event) -> Option<u64> {
        None
    }

    /// Tells the detector that time has reached `now` with no new event
    /// (live use: "source silent since"). The default does nothing.
    fn advance(&mut self, _now: Timestamp, _out: &mut Vec<Detection>) {}

    /// End of input (a `hunt` run finished). The default does nothing.
    fn finish(&mut self, _out: &mut Vec<Detection>) {}

    /// The detector's state, encoded, for a live run's checkpoint: after a
    /// restart, [`Detector::restore`] on a detector built from the same
    /// configuration takes it back, and the detector goes on as if it had
    /// never stopped. `None` (the default): the detector keeps nothing
    /// from one event to the next.
    fn save(&self) -> Option<Vec<u8>> {
        None
    }

    /// Takes back what [`Detector::save`] gave. On an error (the bytes do
    /// not decode, or were saved under another configuration) the
    /// detector is left as it was built, fresh. The default accepts
    /// anything and keeps nothing.
    fn restore(&mut self, _state: &[u8]) -> Result<(), String> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entities_named_like_a_field_are_not_written_twice() {
        let d = Detection {
            rule_id: "r1".into(),
            rule_title: "t".into(),
            level: Level::High,
            timestamp: None,
            file: SourceId::from("scan.txt"),
            record: 3,
            host: Some("web01".into()),
            logsource: LogSource::default(),
            policy: Some("new_port"),
            entities: BTreeMap::from([
                ("host".to_string(), "web01".to_string()),
                ("port".to_string(), "22".to_string()),
                ("rule_id".to_string(), "other".to_string()),
            ]),
            fields: BTreeMap::from([("summary".to_string(), "s".to_string())]),
        };
        assert_eq!(
            serde_json::to_string(&d).unwrap(),
            r#"{"rule_id":"r1","rule_title":"t","level":"high","timestamp":null,"file":"scan.txt","record":3,"host":"web01","policy":"new_port","port":"22","fields":{"summary":"s"}}"#
        );
    }
}
