//! [`Alert`]: a detection turned into something a responder handles.
//! Alerts group into incidents by rule and entity keys within a window, are
//! suppressed by a [`SuppressionRule`], or wait in the alert queue
//! ([`NewAlert::queue_only`]). An alert with a [`NewAlert::key`] is stored
//! once: ingesting it again answers the first one.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::enums::{AlertLevel, Category};
use crate::ids::{AlertId, IncidentId, SuppressionId, UserId};
use crate::incident::{Incident, Opening};

/// Input: one detection to turn into an alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewAlert {
    /// The Sigma rule id or detector id.
    pub rule_id: String,
    /// The rule's title.
    pub rule_title: String,
    /// Level.
    pub level: AlertLevel,
    /// Entity keys (`host`, `user`, `source_ip`, ...); part of the grouping key.
    #[serde(default)]
    pub entities: BTreeMap<String, String>,
    /// Evidence events, as JSON.
    #[serde(default)]
    pub evidence: Vec<serde_json::Value>,
    /// The policy item, for policy detections.
    #[serde(default)]
    pub policy: Option<String>,
    /// When the detection happened (the matching event's time).
    #[serde(with = "time::serde::rfc3339")]
    pub detected_at: OffsetDateTime,
    /// A deterministic identity of the detection (rule, entity keys, time
    /// bucket), chosen by the caller; a second alert with the same key is
    /// not stored again: ingest answers the first one's outcome, so a
    /// replay or a retry never duplicates an alert. 1 to
    /// [`MAX_KEY_BYTES`](Self::MAX_KEY_BYTES) bytes of printable ASCII
    /// (space to `~`); see [`NewAlert::valid_key`].
    #[serde(default)]
    pub key: Option<String>,
    /// Keep the alert in the alert queue without opening or joining an
    /// incident (detections below the server's incident level); a
    /// responder may promote it later.
    #[serde(default)]
    pub queue_only: bool,
    /// The grouping key, when the caller groups alerts otherwise than by
    /// rule and entities (live detection groups the alerts of one policy
    /// item on one host: a brute force that trips both the per-user and
    /// the per-address threshold is one incident). 1 to
    /// [`MAX_GROUP_BYTES`](Self::MAX_GROUP_BYTES) bytes.
    #[serde(default)]
    pub group: Option<String>,
}

impl NewAlert {
    /// The longest [`key`](Self::key), in bytes.
    pub const MAX_KEY_BYTES: usize = 200;

    /// Whether `key` is an acceptable [`key`](Self::key): 1 to
    /// [`MAX_KEY_BYTES`](Self::MAX_KEY_BYTES) bytes, each printable ASCII
    /// (space to `~`).
    pub fn valid_key(key: &str) -> bool {
        (1..=Self::MAX_KEY_BYTES).contains(&key.len())
            && key.bytes().all(|b| (b' '..=b'~').contains(&b))
    }

    /// The longest [`group`](Self::group), in bytes.
    pub const MAX_GROUP_BYTES: usize = 1000;

    /// The grouping key: [`group`](Self::group) when set, else the rule id
    /// and the sorted entity keys, e.g. `rule\u{1f}host=a\u{1f}user=b`.
    pub fn group_key(&self) -> String {
        if let Some(group) = &self.group {
            return group.clone();
        }
        let mut k = self.rule_id.clone();
        for (name, value) in &self.entities {
            k.push('\u{1f}');
            k.push_str(name);
            k.push('=');
            k.push_str(value);
        }
        k
    }

    /// The category of an incident an alert opens.
    pub const INCIDENT_CATEGORY: Category = Category::SecurityIncident;

    /// The most characters of the title of an incident an alert opens.
    pub const TITLE_CHARS: usize = 300;

    /// The title of an incident the alert opens: the rule title and the
    /// entities, at most [`TITLE_CHARS`](Self::TITLE_CHARS) characters, as in
    /// `Brute force (host=web1, user=root)`.
    pub fn incident_title(&self) -> String {
        let mut t = self.rule_title.clone();
        let ents: Vec<String> = self
            .entities
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        if !ents.is_empty() {
            t.push_str(" (");
            t.push_str(&ents.join(", "));
            t.push(')');
        }
        t.chars().take(Self::TITLE_CHARS).collect()
    }

    /// The incident the alert opens at `at`: a security incident whose
    /// severity follows the alert's level, not sensitive, holding this one
    /// alert and its grouping key.
    pub fn incident(&self, at: OffsetDateTime) -> Incident {
        let mut i = Incident::open(
            Opening {
                title: self.incident_title(),
                description: format!(
                    "Opened by detection rule {} ({}).",
                    self.rule_title, self.rule_id
                ),
                category: Self::INCIDENT_CATEGORY,
                severity: self.level.severity(),
                sensitive: false,
                occurred_at: Some(self.detected_at),
                detected_at: Some(self.detected_at),
                reported_at: at,
            },
            at,
        );
        i.alert_count = 1;
        i.group_key = Some(self.group_key());
        i.last_alert_at = Some(self.detected_at);
        i
    }
}

/// What happened to an ingested alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertDisposition {
    /// It opened a new incident.
    Opened,
    /// It joined an open incident with the same rule and entities.
    Grouped,
    /// A suppression rule matched; no incident.
    Suppressed,
    /// A responder dismissed it.
    Dismissed,
    /// Kept in the alert queue without an incident
    /// ([`NewAlert::queue_only`]); a responder may promote or dismiss it.
    Queued,
}

impl AlertDisposition {
    /// Database name.
    pub const fn as_str(self) -> &'static str {
        match self {
            AlertDisposition::Opened => "opened",
            AlertDisposition::Grouped => "grouped",
            AlertDisposition::Suppressed => "suppressed",
            AlertDisposition::Dismissed => "dismissed",
            AlertDisposition::Queued => "queued",
        }
    }

    /// Parses the database name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "opened" => AlertDisposition::Opened,
            "grouped" => AlertDisposition::Grouped,
            "suppressed" => AlertDisposition::Suppressed,
            "dismissed" => AlertDisposition::Dismissed,
            "queued" => AlertDisposition::Queued,
            _ => return None,
        })
    }
}

/// An alert as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Id.
    pub id: AlertId,
    /// Rule id.
    pub rule_id: String,
    /// Rule title.
    pub rule_title: String,
    /// Level.
    pub level: AlertLevel,
    /// Entity keys.
    pub entities: BTreeMap<String, String>,
    /// Evidence events.
    pub evidence: Vec<serde_json::Value>,
    /// Policy item.
    pub policy: Option<String>,
    /// Detection time.
    #[serde(with = "time::serde::rfc3339")]
    pub detected_at: OffsetDateTime,
    /// The incident it belongs to (none when suppressed, dismissed or
    /// queued).
    pub incident_id: Option<IncidentId>,
    /// Whether the alert was ever part of a sensitive incident (dismissed
    /// or linked away from one): then it stays visible only to those who
    /// see sensitive incidents.
    #[serde(default)]
    pub sensitive: bool,
    /// What happened to it.
    pub disposition: AlertDisposition,
    /// The suppression rule that matched, if any.
    pub suppressed_by: Option<SuppressionId>,
    /// When ingested.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// The deterministic identity it was ingested with
    /// ([`NewAlert::key`]), if any; unique among alerts.
    #[serde(default)]
    pub key: Option<String>,
}

/// What ingesting an alert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertOutcome {
    /// The stored alert.
    pub alert_id: AlertId,
    /// Opened, grouped, suppressed or queued (for a duplicate: the stored
    /// alert's disposition now, which a responder may have changed).
    pub disposition: AlertDisposition,
    /// The incident it opened or joined (for a duplicate: the stored
    /// alert's incident now).
    pub incident_id: Option<IncidentId>,
    /// The alert's [`NewAlert::key`] was already stored: nothing was
    /// written, and the rest of the outcome describes that first alert.
    #[serde(default)]
    pub duplicate: bool,
}

/// Suppress alerts of a rule (optionally only for some entity values) until
/// an expiry. Suppressed alerts are stored (with `suppressed_by`) but open
/// no incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuppressionRule {
    /// Id.
    pub id: SuppressionId,
    /// The rule to suppress.
    pub rule_id: String,
    /// Entity values that must all be equal for the rule to apply; empty
    /// means every alert of the rule.
    pub entities: BTreeMap<String, String>,
    /// Why.
    pub reason: String,
    /// Until when (exclusive); `None` never expires.
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// Who created it.
    pub created_by: UserId,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// Input for a suppression rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewSuppression {
    /// The rule to suppress.
    pub rule_id: String,
    /// Entity values to match (all must be equal); empty = any.
    #[serde(default)]
    pub entities: BTreeMap<String, String>,
    /// Why.
    pub reason: String,
    /// Expiry.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
}

impl SuppressionRule {
    /// Whether this rule suppresses `alert` at `now`.
    pub fn matches(&self, alert: &NewAlert, now: OffsetDateTime) -> bool {
        self.rule_id == alert.rule_id
            && self.expires_at.is_none_or(|e| now < e)
            && self
                .entities
                .iter()
                .all(|(k, v)| alert.entities.get(k) == Some(v))
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::enums::{Severity, Status};

    fn alert(level: AlertLevel, entities: &[(&str, &str)]) -> NewAlert {
        NewAlert {
            rule_id: "r-1".into(),
            rule_title: "Brute force".into(),
            level,
            entities: entities
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            evidence: Vec::new(),
            policy: None,
            detected_at: datetime!(2026-11-30 11:59 UTC),
            key: None,
            queue_only: false,
            group: None,
        }
    }

    #[test]
    fn keys_are_short_printable_ascii() {
        // (key, valid), by hand.
        let longest = "k".repeat(200);
        let too_long = "k".repeat(201);
        for (key, valid) in [
            ("sigma:4625|host=web1|2026-11-30T11", true),
            ("a", true),
            (" ~", true),
            (longest.as_str(), true),
            ("", false),
            (too_long.as_str(), false),
            ("tab\there", false),
            ("new\nline", false),
            ("caf\u{e9}", false),
            ("nul\0", false),
            ("del\u{7f}", false),
        ] {
            assert_eq!(NewAlert::valid_key(key), valid, "{key:?}");
        }
    }

    #[test]
    fn dispositions_round_trip_their_names() {
        // (disposition, name), by hand.
        for (d, name) in [
            (AlertDisposition::Opened, "opened"),
            (AlertDisposition::Grouped, "grouped"),
            (AlertDisposition::Suppressed, "suppressed"),
            (AlertDisposition::Dismissed, "dismissed"),
            (AlertDisposition::Queued, "queued"),
        ] {
            assert_eq!(d.as_str(), name);
            assert_eq!(AlertDisposition::parse(name), Some(d));
            assert_eq!(serde_json::to_value(d).unwrap(), serde_json::json!(name));
        }
        assert_eq!(AlertDisposition::parse("queue"), None);
    }

    #[test]
    fn key_and_queue_only_default_when_absent() {
        let a: NewAlert = serde_json::from_value(serde_json::json!({
            "rule_id": "r-1", "rule_title": "Brute force", "level": "high",
            "detected_at": "2026-11-30T11:59:00Z",
        }))
        .unwrap();
        assert_eq!(a.key, None);
        assert!(!a.queue_only);
    }

    #[test]
    fn the_incident_title_names_the_rule_and_entities() {
        assert_eq!(alert(AlertLevel::High, &[]).incident_title(), "Brute force");
        assert_eq!(
            alert(AlertLevel::High, &[("user", "root"), ("host", "web1")]).incident_title(),
            "Brute force (host=web1, user=root)"
        );
        let long = "v".repeat(400);
        let title = alert(AlertLevel::High, &[("host", &long)]).incident_title();
        assert_eq!(title.chars().count(), 300);
        assert!(title.starts_with("Brute force (host=vvv"));
    }

    #[test]
    fn an_alert_opens_a_security_incident_at_its_level() {
        let at = datetime!(2026-11-30 12:00 UTC);
        // (level, severity), by hand.
        for (level, severity) in [
            (AlertLevel::Critical, Severity::Sev1),
            (AlertLevel::High, Severity::Sev2),
            (AlertLevel::Medium, Severity::Sev3),
            (AlertLevel::Low, Severity::Sev4),
            (AlertLevel::Informational, Severity::Sev4),
        ] {
            let i = alert(level, &[("host", "web1")]).incident(at);
            assert_eq!(i.severity, severity, "{level}");
            assert_eq!(i.category, Category::SecurityIncident);
            assert_eq!(i.status, Status::Triage);
            assert!(!i.sensitive);
            assert_eq!(i.description, "Opened by detection rule Brute force (r-1).");
            assert_eq!(i.alert_count, 1);
            assert_eq!(i.group_key.as_deref(), Some("r-1\u{1f}host=web1"));
            assert_eq!(i.last_alert_at, Some(datetime!(2026-11-30 11:59 UTC)));
            assert_eq!(i.times.detected_at, Some(datetime!(2026-11-30 11:59 UTC)));
            assert_eq!(i.times.reported_at, at);
        }
    }
}
