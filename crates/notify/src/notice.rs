//! What is notified: a [`Notice`], independent of who is told (see
//! [`crate::recipient`]) and of how it travels (see [`crate::channel`]). The
//! webhook's body is a notice as JSON, so its fields are an API contract.

use incidents::{OutboxKind, OutboxMessage, OutboxPayload};
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;

/// What happened to the incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    /// A new incident was opened.
    Created,
    /// An existing incident changed.
    Updated,
    /// Who may see sensitive incidents changed (a need-to-know role was
    /// asked for, granted or taken away). Goes to the Security Team only.
    AccessChanged,
    /// An SLA clock of the incident is overdue (escalation step 1). Goes
    /// to the Security Team only, sensitive or not.
    SlaBreached,
    /// An SLA clock is still overdue a while after its breach (escalation
    /// step 2). Goes to the second contact, finance-ops, and to the
    /// Security Team, sensitive or not; never to a shared recipient.
    SlaEscalated,
}

/// A notification about one incident, independent of the channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// Created or updated.
    pub kind: NoticeKind,
    /// The incident's id.
    pub incident_id: String,
    /// Title.
    pub title: String,
    /// Category (serde name, e.g. `theft`).
    pub category: String,
    /// Severity (`SEV1`..`SEV4`).
    pub severity: String,
    /// Status (e.g. `triage`).
    pub status: String,
    /// Whether the incident is sensitive (decides the destinations).
    pub sensitive: bool,
    /// A one-line description of the change, e.g. `status triage -> investigating`.
    pub change: String,
    /// When the change happened (RFC 3339).
    pub at: String,
}

impl Notice {
    /// The notice an outbox message announces. The message's `sensitive`
    /// flag and the payload's are combined: either one makes the notice
    /// sensitive. An access change is always sensitive.
    pub fn from_message(message: &OutboxMessage) -> Self {
        let at = message.created_at.format(&Rfc3339).unwrap_or_default();
        match &message.payload {
            OutboxPayload::Access(access) => Notice {
                kind: NoticeKind::AccessChanged,
                incident_id: String::new(),
                title: access.change.clone(),
                category: String::new(),
                severity: String::new(),
                status: String::new(),
                sensitive: true,
                change: access.change.clone(),
                at,
            },
            OutboxPayload::Incident(incident) => Notice {
                kind: match message.kind {
                    OutboxKind::IncidentOpened => NoticeKind::Created,
                    OutboxKind::IncidentChanged | OutboxKind::AccessChanged => NoticeKind::Updated,
                    OutboxKind::SlaBreached => NoticeKind::SlaBreached,
                    OutboxKind::SlaEscalated => NoticeKind::SlaEscalated,
                },
                incident_id: incident.id.to_string(),
                title: incident.title.clone(),
                category: incident.category.to_string(),
                severity: incident.severity.to_string(),
                status: incident.status.to_string(),
                sensitive: message.sensitive || incident.sensitive,
                change: incident.change.clone(),
                at,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use incidents::{OutboxId, OutboxStatus};
    use serde_json::json;
    use time::macros::datetime;

    use super::*;

    /// An outbox message whose payload is stored JSON, decoded as the store
    /// decodes it.
    fn message(kind: OutboxKind, sensitive: bool, payload: serde_json::Value) -> OutboxMessage {
        OutboxMessage {
            id: OutboxId::new(),
            kind,
            incident_id: None,
            sensitive,
            payload: OutboxPayload::decode(kind, &payload.to_string()).unwrap(),
            destination: None,
            parent_id: None,
            status: OutboxStatus::Pending,
            attempts: 0,
            next_attempt_at: datetime!(2026-11-30 12:05 UTC),
            lease_until: None,
            last_error: None,
            created_at: datetime!(2026-11-30 12:05 UTC),
        }
    }

    fn incident_payload(sensitive: bool) -> serde_json::Value {
        let id = "0193a4b2-7c1d-7e00-8000-000000000001";
        json!({
            "id": id, "title": "theft report: laptop gone", "category": "theft",
            "severity": "SEV3", "status": "investigating", "sensitive": sensitive,
            "owner": null, "action": "incident.transition",
            "change": "status triage -> investigating",
            "incident": {
                "id": id, "title": "theft report: laptop gone", "description": "",
                "category": "theft", "severity": "SEV3", "status": "investigating",
                "sensitive": sensitive, "owner": null, "impact": null, "resolution": null,
                "disclosure": "none", "merged_into": null, "alert_count": 0,
                "group_key": null, "last_alert_at": null,
                "times": {
                    "occurred_at": null, "detected_at": null,
                    "reported_at": "2026-11-30T12:00:00Z",
                    "acknowledged_at": "2026-11-30T12:05:00Z", "contained_at": null,
                    "resolved_at": null, "closed_at": null
                },
                "created_at": "2026-11-30T12:00:00Z", "updated_at": "2026-11-30T12:05:00Z"
            }
        })
    }

    #[test]
    fn an_incident_message_becomes_a_notice() {
        let notice = Notice::from_message(&message(
            OutboxKind::IncidentChanged,
            false,
            incident_payload(false),
        ));
        assert_eq!(
            notice,
            Notice {
                kind: NoticeKind::Updated,
                incident_id: "0193a4b2-7c1d-7e00-8000-000000000001".into(),
                title: "theft report: laptop gone".into(),
                category: "theft".into(),
                severity: "SEV3".into(),
                status: "investigating".into(),
                sensitive: false,
                change: "status triage -> investigating".into(),
                at: "2026-11-30T12:05:00Z".into(),
            }
        );
        let opened = Notice::from_message(&message(
            OutboxKind::IncidentOpened,
            false,
            incident_payload(false),
        ));
        assert_eq!(opened.kind, NoticeKind::Created);
    }

    #[test]
    fn either_flag_makes_a_notice_sensitive() {
        for (message_flag, payload_flag, expected) in [
            (false, false, false),
            (true, false, true),
            (false, true, true),
            (true, true, true),
        ] {
            let notice = Notice::from_message(&message(
                OutboxKind::IncidentOpened,
                message_flag,
                incident_payload(payload_flag),
            ));
            assert_eq!(notice.sensitive, expected, "{message_flag} {payload_flag}");
        }
    }

    #[test]
    fn an_access_message_becomes_a_sensitive_notice() {
        let notice = Notice::from_message(&message(
            OutboxKind::AccessChanged,
            true,
            json!({
                "action": "user.role_grant",
                "change": "sock is now responder (was reporter)",
                "access": { "previous_role": "reporter" }
            }),
        ));
        assert_eq!(
            notice,
            Notice {
                kind: NoticeKind::AccessChanged,
                incident_id: String::new(),
                title: "sock is now responder (was reporter)".into(),
                category: String::new(),
                severity: String::new(),
                status: String::new(),
                sensitive: true,
                change: "sock is now responder (was reporter)".into(),
                at: "2026-11-30T12:05:00Z".into(),
            }
        );
    }

    #[test]
    fn the_webhook_body_keeps_its_field_names() {
        let notice = Notice::from_message(&message(
            OutboxKind::IncidentOpened,
            false,
            incident_payload(false),
        ));
        assert_eq!(
            serde_json::to_value(&notice).unwrap(),
            json!({
                "kind": "created",
                "incident_id": "0193a4b2-7c1d-7e00-8000-000000000001",
                "title": "theft report: laptop gone",
                "category": "theft",
                "severity": "SEV3",
                "status": "investigating",
                "sensitive": false,
                "change": "status triage -> investigating",
                "at": "2026-11-30T12:05:00Z"
            })
        );
    }
}
