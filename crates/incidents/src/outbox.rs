//! The notification outbox. The store enqueues a message in the same
//! transaction as the change it announces; a notifier claims due messages
//! with a lease, then marks them sent or failed (with a next attempt time).
//! Messages survive restarts because they live in the database.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::{Duration, OffsetDateTime};

use crate::enums::{Category, OutboxStatus, Severity, Status};
use crate::ids::{IncidentId, OutboxId, UserId};
use crate::incident::Incident;

/// What an outbox message announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxKind {
    /// A new incident was opened.
    IncidentOpened,
    /// An incident's status, owner or severity changed, or it was merged.
    IncidentChanged,
    /// Who may see sensitive incidents changed: a need-to-know role was
    /// asked for, granted, set on the server host or taken away. Always
    /// sensitive, about no incident; for the Security Team only.
    AccessChanged,
    /// An SLA clock of an incident ran past its deadline (escalation step
    /// 1, for the Security Team).
    SlaBreached,
    /// An SLA clock was still overdue a while after its breach (escalation
    /// step 2, for the second contact: finance-ops and the Security Team).
    SlaEscalated,
}

impl OutboxKind {
    /// Database name.
    pub const fn as_str(self) -> &'static str {
        match self {
            OutboxKind::IncidentOpened => "incident_opened",
            OutboxKind::IncidentChanged => "incident_changed",
            OutboxKind::AccessChanged => "access_changed",
            OutboxKind::SlaBreached => "sla_breached",
            OutboxKind::SlaEscalated => "sla_escalated",
        }
    }

    /// Parses the database name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "incident_opened" => Some(OutboxKind::IncidentOpened),
            "incident_changed" => Some(OutboxKind::IncidentChanged),
            "access_changed" => Some(OutboxKind::AccessChanged),
            "sla_breached" => Some(OutboxKind::SlaBreached),
            "sla_escalated" => Some(OutboxKind::SlaEscalated),
            _ => None,
        }
    }
}

/// One notification to deliver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxMessage {
    /// Id.
    pub id: OutboxId,
    /// What it announces.
    pub kind: OutboxKind,
    /// The incident (none for [`OutboxKind::AccessChanged`]).
    pub incident_id: Option<IncidentId>,
    /// Whether the incident is sensitive: a sensitive message must only go
    /// to the Security Team and finance-ops destinations, never to a shared
    /// one.
    pub sensitive: bool,
    /// What the message says (see [`OutboxPayload`]).
    pub payload: OutboxPayload,
    /// The destination of a fanned-out child message (`None` for a message
    /// as enqueued by a change).
    pub destination: Option<String>,
    /// The message this child was fanned out from.
    pub parent_id: Option<OutboxId>,
    /// Delivery state.
    pub status: OutboxStatus,
    /// Failed attempts so far.
    pub attempts: i32,
    /// Not before.
    #[serde(with = "time::serde::rfc3339")]
    pub next_attempt_at: OffsetDateTime,
    /// Claimed by a worker until this time.
    #[serde(with = "time::serde::rfc3339::option")]
    pub lease_until: Option<OffsetDateTime>,
    /// Last failure message.
    pub last_error: Option<String>,
    /// When enqueued.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// What an outbox message carries: everything a notifier renders, so it
/// never has to read the incident back (which, for a sensitive one, would
/// need a visibility bypass). Stored as JSON in the `payload` column; the
/// JSON shape is fixed (rows written by earlier versions must still
/// decode), so fields are only ever added, with a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OutboxPayload {
    /// About one incident ([`OutboxKind::IncidentOpened`],
    /// [`OutboxKind::IncidentChanged`], and the SLA escalations
    /// [`OutboxKind::SlaBreached`] and [`OutboxKind::SlaEscalated`], whose
    /// `action` is `sla.breached` or `sla.escalated` and whose `change`
    /// names the clock and its deadline).
    Incident(IncidentPayload),
    /// Who may see sensitive incidents changed
    /// ([`OutboxKind::AccessChanged`]).
    Access(AccessPayload),
}

/// The payload of a message about an incident. The incident's fields are
/// copied at the top level (what notices show) and the whole incident is
/// kept under `incident`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentPayload {
    /// The incident's id.
    pub id: IncidentId,
    /// Its title.
    pub title: String,
    /// Its category.
    pub category: Category,
    /// Its severity.
    pub severity: Severity,
    /// Its status.
    pub status: Status,
    /// Whether it is sensitive.
    pub sensitive: bool,
    /// Its owner.
    pub owner: Option<UserId>,
    /// The machine name of the change (an audit action, e.g. `incident.open`).
    pub action: String,
    /// The change, as a sentence.
    pub change: String,
    /// The whole incident after the change.
    pub incident: Box<Incident>,
    /// The destination of a fanned-out child message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
}

/// The payload of an access change notice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessPayload {
    /// The machine name of the change (an audit action, e.g.
    /// `user.role_grant`).
    pub action: String,
    /// The change, as a sentence.
    pub change: String,
    /// The records involved, for the audit of the notice (the user, the
    /// role grant, the previous role, who acted: which of them depends on
    /// `action`). Not rendered.
    pub access: Value,
    /// The destination of a fanned-out child message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
}

impl OutboxPayload {
    /// The payload announcing `change` (machine name `action`) to `incident`.
    pub fn incident(incident: &Incident, action: &str, change: &str) -> Self {
        Self::Incident(IncidentPayload {
            id: incident.id,
            title: incident.title.clone(),
            category: incident.category,
            severity: incident.severity,
            status: incident.status,
            sensitive: incident.sensitive,
            owner: incident.owner,
            action: action.to_owned(),
            change: change.to_owned(),
            incident: Box::new(incident.clone()),
            destination: None,
        })
    }

    /// The payload announcing an access change; `access` holds the records
    /// involved.
    pub fn access(action: &str, change: &str, access: Value) -> Self {
        Self::Access(AccessPayload {
            action: action.to_owned(),
            change: change.to_owned(),
            access,
            destination: None,
        })
    }

    /// Decodes the stored JSON of a message of `kind`.
    pub fn decode(kind: OutboxKind, json: &str) -> serde_json::Result<Self> {
        Ok(match kind {
            OutboxKind::IncidentOpened
            | OutboxKind::IncidentChanged
            | OutboxKind::SlaBreached
            | OutboxKind::SlaEscalated => Self::Incident(serde_json::from_str(json)?),
            OutboxKind::AccessChanged => Self::Access(serde_json::from_str(json)?),
        })
    }

    /// The JSON that is stored.
    pub fn to_json(&self) -> Value {
        // Serialising plain data (strings, numbers, ids, times) cannot fail.
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The machine name of the change.
    pub fn action(&self) -> &str {
        match self {
            Self::Incident(p) => &p.action,
            Self::Access(p) => &p.action,
        }
    }

    /// The change, as a sentence.
    pub fn change(&self) -> &str {
        match self {
            Self::Incident(p) => &p.change,
            Self::Access(p) => &p.change,
        }
    }

    /// The destination of a fanned-out child message (`None` for a message
    /// as enqueued by a change).
    pub fn destination(&self) -> Option<&str> {
        match self {
            Self::Incident(p) => p.destination.as_deref(),
            Self::Access(p) => p.destination.as_deref(),
        }
    }

    /// The same payload addressed to `destination` (for a fanned-out child).
    pub fn with_destination(mut self, destination: &str) -> Self {
        let slot = match &mut self {
            Self::Incident(p) => &mut p.destination,
            Self::Access(p) => &mut p.destination,
        };
        *slot = Some(destination.to_owned());
        self
    }
}

/// Retry delay after `attempts` failures: 30 s doubling, capped at 1 h.
pub fn backoff(attempts: i32) -> Duration {
    let exp = attempts.clamp(1, 30) - 1;
    let secs = 30i64.saturating_mul(1i64 << exp.min(20));
    Duration::seconds(secs.min(3600))
}

/// After this many failed attempts a message is marked dead.
pub const MAX_ATTEMPTS: i32 = 12;

#[cfg(test)]
mod tests {
    use serde_json::json;
    use time::macros::datetime;

    use super::*;
    use crate::enums::Disclosure;
    use crate::incident::Timestamps;

    const INCIDENT_ID: &str = "0193a4b2-7c1d-7e00-8000-000000000001";
    const OWNER_ID: &str = "0193a4b2-7c1d-7e00-8000-0000000000aa";

    /// A message payload as the store has written it since fan-out was
    /// added, by hand.
    fn stored_incident_payload() -> Value {
        json!({
            "id": INCIDENT_ID,
            "title": "theft report: laptop gone",
            "category": "theft",
            "severity": "SEV3",
            "status": "investigating",
            "sensitive": false,
            "owner": OWNER_ID,
            "action": "incident.transition",
            "change": "status triage -> investigating",
            "incident": {
                "id": INCIDENT_ID,
                "title": "theft report: laptop gone",
                "description": "laptop gone\nfrom desk 4",
                "category": "theft",
                "severity": "SEV3",
                "status": "investigating",
                "sensitive": false,
                "owner": OWNER_ID,
                "impact": null,
                "resolution": null,
                "disclosure": "none",
                "merged_into": null,
                "alert_count": 0,
                "group_key": null,
                "last_alert_at": null,
                "times": {
                    "occurred_at": null,
                    "detected_at": null,
                    "reported_at": "2026-11-30T12:00:00Z",
                    "acknowledged_at": "2026-11-30T12:05:00Z",
                    "contained_at": null,
                    "resolved_at": null,
                    "closed_at": null
                },
                "created_at": "2026-11-30T12:00:00Z",
                "updated_at": "2026-11-30T12:05:00Z"
            }
        })
    }

    fn the_incident() -> Incident {
        Incident {
            id: INCIDENT_ID.parse().unwrap(),
            title: "theft report: laptop gone".into(),
            description: "laptop gone\nfrom desk 4".into(),
            category: Category::Theft,
            severity: Severity::Sev3,
            status: Status::Investigating,
            sensitive: false,
            owner: Some(OWNER_ID.parse().unwrap()),
            impact: None,
            resolution: None,
            disclosure: Disclosure::None,
            merged_into: None,
            alert_count: 0,
            group_key: None,
            last_alert_at: None,
            times: Timestamps {
                occurred_at: None,
                detected_at: None,
                reported_at: datetime!(2026-11-30 12:00 UTC),
                acknowledged_at: Some(datetime!(2026-11-30 12:05 UTC)),
                contained_at: None,
                resolved_at: None,
                closed_at: None,
            },
            created_at: datetime!(2026-11-30 12:00 UTC),
            updated_at: datetime!(2026-11-30 12:05 UTC),
        }
    }

    #[test]
    fn stored_incident_payloads_decode_and_encode_alike() {
        let stored = stored_incident_payload();
        let decoded =
            OutboxPayload::decode(OutboxKind::IncidentChanged, &stored.to_string()).unwrap();
        let OutboxPayload::Incident(p) = &decoded else {
            panic!("an incident payload: {decoded:?}");
        };
        assert_eq!(p.id.to_string(), INCIDENT_ID);
        assert_eq!(p.title, "theft report: laptop gone");
        assert_eq!(p.category, Category::Theft);
        assert_eq!(p.severity, Severity::Sev3);
        assert_eq!(p.status, Status::Investigating);
        assert!(!p.sensitive);
        assert_eq!(p.owner.map(|o| o.to_string()).as_deref(), Some(OWNER_ID));
        assert_eq!(decoded.action(), "incident.transition");
        assert_eq!(decoded.change(), "status triage -> investigating");
        assert_eq!(decoded.destination(), None);
        assert_eq!(*p.incident, the_incident());

        let built = OutboxPayload::incident(
            &the_incident(),
            "incident.transition",
            "status triage -> investigating",
        );
        assert_eq!(built, decoded);
        assert_eq!(
            built.to_json(),
            stored,
            "the stored JSON shape is unchanged"
        );
    }

    #[test]
    fn children_carry_their_destination() {
        let mut stored = stored_incident_payload();
        stored["destination"] = json!("webhook");
        let decoded =
            OutboxPayload::decode(OutboxKind::IncidentOpened, &stored.to_string()).unwrap();
        assert_eq!(decoded.destination(), Some("webhook"));
        let built = OutboxPayload::incident(
            &the_incident(),
            "incident.transition",
            "status triage -> investigating",
        )
        .with_destination("webhook");
        assert_eq!(built, decoded);
        assert_eq!(built.to_json(), stored);
    }

    #[test]
    fn stored_access_payloads_decode_and_encode_alike() {
        let stored = json!({
            "action": "user.role_reject",
            "change": "the request to make sock responder was rejected",
            "access": { "grant": { "id": "g1", "role": "responder", "status": "rejected" } },
            "destination": "security_team"
        });
        let decoded =
            OutboxPayload::decode(OutboxKind::AccessChanged, &stored.to_string()).unwrap();
        let OutboxPayload::Access(p) = &decoded else {
            panic!("an access payload: {decoded:?}");
        };
        assert_eq!(p.action, "user.role_reject");
        assert_eq!(p.change, "the request to make sock responder was rejected");
        assert_eq!(p.access["grant"]["role"], "responder");
        assert_eq!(decoded.destination(), Some("security_team"));
        let built = OutboxPayload::access(
            "user.role_reject",
            "the request to make sock responder was rejected",
            json!({ "grant": { "id": "g1", "role": "responder", "status": "rejected" } }),
        )
        .with_destination("security_team");
        assert_eq!(built.to_json(), stored);
        // Untagged, the message as a whole decodes too.
        assert_eq!(
            serde_json::from_value::<OutboxPayload>(stored).unwrap(),
            decoded
        );
    }

    #[test]
    fn kind_names_are_stable() {
        let table = [
            (OutboxKind::IncidentOpened, "incident_opened"),
            (OutboxKind::IncidentChanged, "incident_changed"),
            (OutboxKind::AccessChanged, "access_changed"),
            (OutboxKind::SlaBreached, "sla_breached"),
            (OutboxKind::SlaEscalated, "sla_escalated"),
        ];
        for (kind, name) in table {
            assert_eq!(kind.as_str(), name);
            assert_eq!(OutboxKind::parse(name), Some(kind));
        }
        assert_eq!(OutboxKind::parse("sla"), None);
        let stored = stored_incident_payload().to_string();
        assert!(matches!(
            OutboxPayload::decode(OutboxKind::SlaEscalated, &stored),
            Ok(OutboxPayload::Incident(_))
        ));
    }

    #[test]
    fn a_payload_of_the_wrong_kind_is_refused() {
        let access = json!({ "action": "a", "change": "c", "access": {} }).to_string();
        assert!(OutboxPayload::decode(OutboxKind::IncidentOpened, &access).is_err());
        let incident = stored_incident_payload().to_string();
        assert!(OutboxPayload::decode(OutboxKind::AccessChanged, &incident).is_err());
    }
}
