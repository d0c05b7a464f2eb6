//! [`Alert`]: a detection turned into something a responder handles.
//! Alerts group into incidents by rule and entity keys within a window, or
//! are suppressed by a [`SuppressionRule`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::enums::AlertLevel;
use crate::ids::{AlertId, IncidentId, SuppressionId, UserId};

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
