//! [`Alert`]: a detection turned into something a responder handles.
//! Alerts group into incidents by rule and entity keys within a window, or
//! are suppressed by a [`SuppressionRule`].

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
}

impl NewAlert {
    /// The grouping key: the rule id and the sorted entity keys, e.g.
    /// `rule\u{1f}host=a\u{1f}user=b`.
    pub fn group_key(&self) -> String {
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
}

impl AlertDisposition {
    /// Database name.
    pub const fn as_str(self) -> &'static str {
        match self {
            AlertDisposition::Opened => "opened",
            AlertDisposition::Grouped => "grouped",
            AlertDisposition::Suppressed => "suppressed",
            AlertDisposition::Dismissed => "dismissed",
        }
    }

    /// Parses the database name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "opened" => AlertDisposition::Opened,
            "grouped" => AlertDisposition::Grouped,
            "suppressed" => AlertDisposition::Suppressed,
            "dismissed" => AlertDisposition::Dismissed,
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
    /// The incident it belongs to (none when suppressed or dismissed).
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
}

/// What ingesting an alert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertOutcome {
    /// The stored alert.
    pub alert_id: AlertId,
    /// Opened, grouped or suppressed.
    pub disposition: AlertDisposition,
    /// The incident it opened or joined.
    pub incident_id: Option<IncidentId>,
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
        }
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
