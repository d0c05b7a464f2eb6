//! The approved ports baseline and the pure decision: which observed ports
//! are new or changed, and the detections they become.
//!
//! Architecture invariant: no IO and no wall clock here. Loading and
//! saving go through [`crate::state`]; `now` is passed in.

use std::collections::BTreeMap;

use detect::{Detection, Level};
use events::{LogSource, Timestamp};
use serde::{Deserialize, Serialize};

use super::{Observation, PortKey, Protocol, Service, Snapshot};

/// The `kind` of a ports state file.
pub const STATE_KIND: &str = "ports";

/// Rule id of a first-seen port detection.
pub const RULE_NEW_PORT: &str = "watchpost.ports.first_seen";
/// Rule id of a changed-service detection.
pub const RULE_CHANGED: &str = "watchpost.ports.service_changed";

/// One approved port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// The host.
    pub host: String,
    /// The transport protocol.
    pub protocol: Protocol,
    /// The port number.
    pub port: u16,
    /// The service, as far as it was known when approved.
    #[serde(default)]
    pub service: Service,
    /// When it was approved.
    #[serde(with = "time::serde::rfc3339")]
    pub approved_at: Timestamp,
    /// The snapshot file it was approved from (empty when approved by key).
    #[serde(default)]
    pub source: String,
}

impl Entry {
    /// The entry's key.
    pub fn key(&self) -> PortKey {
        PortKey {
            host: self.host.clone(),
            protocol: self.protocol,
            port: self.port,
        }
    }
}

/// The approved open ports, keyed by host, protocol and port.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "BaselineFile", into = "BaselineFile")]
pub struct Baseline {
    entries: BTreeMap<PortKey, Entry>,
}

/// The state file body: `{"ports": [Entry, ...]}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaselineFile {
    /// The approved ports.
    pub ports: Vec<Entry>,
}

impl TryFrom<BaselineFile> for Baseline {
    type Error = String;

    fn try_from(file: BaselineFile) -> Result<Self, Self::Error> {
        let mut entries = BTreeMap::new();
        for entry in file.ports {
            let key = entry.key();
            if entries.insert(key.clone(), entry).is_some() {
                return Err(format!("{key} is listed twice"));
            }
        }
        Ok(Baseline { entries })
    }
}

impl From<Baseline> for BaselineFile {
    fn from(baseline: Baseline) -> Self {
        BaselineFile {
            ports: baseline.entries.into_values().collect(),
        }
    }
}

/// How an observed port differs from the baseline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeKind {
    /// The `(host, protocol, port)` is not in the baseline.
    New,
    /// The port is known, but a part of its service changed:
    /// `(part, before, after)`.
    Changed(Vec<(&'static str, String, String)>),
}

/// An observed port that is new or changed.
#[derive(Debug, Clone, PartialEq)]
pub struct PortChange {
    /// What was seen.
    pub observation: Observation,
    /// How it differs.
    pub kind: ChangeKind,
}

impl PortChange {
    /// A one-line description for people.
    pub fn summary(&self) -> String {
        let o = &self.observation;
        match &self.kind {
            ChangeKind::New => format!(
                "new open port {}/{} on {} ({})",
                o.key.port,
                o.key.protocol,
                o.key.host,
                o.service.describe()
            ),
            ChangeKind::Changed(parts) => {
                let parts: Vec<String> = parts
                    .iter()
                    .map(|(part, from, to)| format!("{part} changed from {from:?} to {to:?}"))
                    .collect();
                format!(
                    "{}/{} on {}: {}",
                    o.key.port,
                    o.key.protocol,
                    o.key.host,
                    parts.join("; ")
                )
            }
        }
    }
}

impl Baseline {
    /// An empty baseline.
    pub fn new() -> Self {
        Self::default()
    }

    /// The baseline of a first run: every open port of `snapshot`,
    /// approved at `now`.
    pub fn from_snapshot(snapshot: &Snapshot, now: Timestamp) -> Self {
        let mut baseline = Baseline::new();
        for observation in snapshot.ports.values() {
            baseline.approve(observation, now);
        }
        baseline
    }

    /// The approved ports, in key order.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.entries.values()
    }

    /// Number of approved ports.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when nothing is approved.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The observations of `snapshot` that are new or changed, in key
    /// order. Ports in the baseline but not in the snapshot are not
    /// reported: a closed port is not a policy concern, and one snapshot
    /// rarely covers every host.
    pub fn diff(&self, snapshot: &Snapshot) -> Vec<PortChange> {
        let mut out = Vec::new();
        for (key, observation) in &snapshot.ports {
            let kind = match self.entries.get(key) {
                None => ChangeKind::New,
                Some(entry) => {
                    let parts = observation.service.changes_from(&entry.service);
                    if parts.is_empty() {
                        continue;
                    }
                    ChangeKind::Changed(parts)
                }
            };
            out.push(PortChange {
                observation: observation.clone(),
                kind,
            });
        }
        out
    }

    /// Approves an observation: adds its port, or replaces the known parts
    /// of its service. Returns true if the baseline changed.
    pub fn approve(&mut self, observation: &Observation, now: Timestamp) -> bool {
        let mut service = observation.service.clone();
        if let Some(old) = self.entries.get(&observation.key) {
            service.fill_from(&old.service);
            if service == old.service {
                return false;
            }
        }
        let key = &observation.key;
        self.entries.insert(
            key.clone(),
            Entry {
                host: key.host.clone(),
                protocol: key.protocol,
                port: key.port,
                service,
                approved_at: now,
                source: observation.file.to_string(),
            },
        );
        true
    }

    /// Approves a port by key alone. Its service is unknown, so no service
    /// change is reported for it until an observation fills it in (through
    /// [`Baseline::approve`]). Returns true if the baseline changed.
    pub fn approve_key(&mut self, key: &PortKey, now: Timestamp) -> bool {
        if self.entries.contains_key(key) {
            return false;
        }
        self.entries.insert(
            key.clone(),
            Entry {
                host: key.host.clone(),
                protocol: key.protocol,
                port: key.port,
                service: Service::default(),
                approved_at: now,
                source: String::new(),
            },
        );
        true
    }
}

/// The detection for a new or changed port. Its time is the scan time
/// when the snapshot has one, else `now`.
pub fn detection(change: &PortChange, now: Timestamp) -> Detection {
    let o = &change.observation;
    let (rule_id, title, level) = match change.kind {
        ChangeKind::New => (RULE_NEW_PORT, "New open network port", Level::Medium),
        ChangeKind::Changed(_) => (
            RULE_CHANGED,
            "Service changed on an open network port",
            Level::Low,
        ),
    };
    // The host is the detection's own `host` field, not an entity: JSON
    // output would otherwise carry the key twice.
    let mut entities = BTreeMap::new();
    entities.insert("port".to_string(), o.key.port.to_string());
    entities.insert("protocol".to_string(), o.key.protocol.to_string());
    let mut fields = BTreeMap::new();
    fields.insert("summary".to_string(), change.summary());
    let service = &o.service;
    for (name, value) in [
        ("service", &service.name),
        ("product", &service.product),
        ("version", &service.version),
        ("process", &service.process),
        ("hostname", &o.hostname),
    ] {
        if let Some(value) = value {
            fields.insert(name.to_string(), value.clone());
        }
    }
    if !o.addresses.is_empty() {
        let addresses: Vec<&str> = o.addresses.iter().map(String::as_str).collect();
        fields.insert("addresses".to_string(), addresses.join(","));
    }
    if let ChangeKind::Changed(parts) = &change.kind {
        for (part, from, _) in parts {
            fields.insert(format!("previous_{part}"), from.clone());
        }
    }
    Detection {
        rule_id: rule_id.to_string(),
        rule_title: title.to_string(),
        level,
        timestamp: Some(o.seen_at.unwrap_or(now)),
        file: o.file.clone(),
        record: o.record,
        host: Some(o.key.host.clone()),
        logsource: LogSource::default(),
        policy: Some("new_port"),
        entities,
        fields,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn obs(host: &str, port: u16, version: Option<&str>) -> Observation {
        Observation {
            key: PortKey {
                host: host.into(),
                protocol: Protocol::Tcp,
                port,
            },
            service: Service {
                name: Some("ssh".into()),
                version: version.map(Into::into),
                ..Service::default()
            },
            hostname: None,
            addresses: Default::default(),
            file: "scan.xml".into(),
            record: 7,
            seen_at: None,
        }
    }

    fn snapshot(items: &[Observation]) -> Snapshot {
        let mut s = Snapshot::default();
        for o in items {
            s.insert(o.clone());
        }
        s
    }

    #[test]
    fn new_and_changed_ports_are_found() {
        let now = datetime!(2026-11-30 12:00 UTC);
        let mut baseline = Baseline::new();
        assert!(baseline.approve(&obs("h", 22, Some("4.3")), now));
        assert!(!baseline.approve(&obs("h", 22, Some("4.3")), now));
        let current = snapshot(&[
            obs("h", 22, Some("9.6")),
            obs("h", 2222, None),
            obs("h2", 22, Some("4.3")),
        ]);
        let changes = baseline.diff(&current);
        let summaries: Vec<String> = changes.iter().map(PortChange::summary).collect();
        assert_eq!(
            summaries,
            [
                "22/tcp on h: version changed from \"4.3\" to \"9.6\"",
                "new open port 2222/tcp on h (ssh)",
                "new open port 22/tcp on h2 (ssh 4.3)",
            ]
        );
        let d = detection(&changes[1], now);
        assert_eq!(d.policy, Some("new_port"));
        assert_eq!(d.entities["port"], "2222");
        assert_eq!(d.host.as_deref(), Some("h"));
        assert!(!d.entities.contains_key("host"));
        assert_eq!(d.timestamp, Some(now));
        assert_eq!(d.record, 7);
    }

    #[test]
    fn a_port_approved_by_key_reports_no_service_change() {
        let now = datetime!(2026-11-30 12:00 UTC);
        let mut baseline = Baseline::new();
        let o = obs("h", 22, Some("4.3"));
        assert!(baseline.approve_key(&o.key, now));
        assert!(baseline.diff(&snapshot(&[o])).is_empty());
    }

    #[test]
    fn duplicate_entries_are_refused() {
        let entry =
            r#"{"host":"h","protocol":"tcp","port":22,"approved_at":"2026-11-30T12:00:00Z"}"#;
        let text = format!("{{\"ports\":[{entry},{entry}]}}");
        let err = serde_json::from_str::<Baseline>(&text)
            .unwrap_err()
            .to_string();
        assert!(err.contains("h tcp/22 is listed twice"), "{err}");
    }
}
