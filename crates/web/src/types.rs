//! Request and response bodies of the API. These are the API's contract:
//! domain types are converted into them and never serialised raw, so a
//! field added to the domain does not leak until it is added here.
//!
//! Requests refuse unknown fields (422). Enum fields use the domain's wire
//! names; an unknown value is a 422 whose message lists the allowed values.

use std::collections::BTreeMap;

use incidents::enums::{
    AlertLevel, Category, Channel, Disclosure, ImpactLevel, Resolution, Role, Severity, Status,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Optional RFC 3339 timestamps.
mod opt_time {
    pub use time::serde::rfc3339::option::*;
}

/// An optional whole number that may be written as `5` or `5.0`: JSON (and
/// JSON Schema's `integer`) does not tell them apart.
mod opt_whole {
    use serde::{Deserialize, Deserializer, de::Error};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
        let Some(n) = Option::<serde_json::Number>::deserialize(d)? else {
            return Ok(None);
        };
        if let Some(u) = n.as_u64() {
            return u32::try_from(u)
                .map(Some)
                .map_err(|_| D::Error::custom(format!("{n} is out of range")));
        }
        match n.as_f64() {
            Some(f) if f.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&f) => {
                // Whole and in range: the cast is exact.
                Ok(Some(f as u32))
            }
            _ => Err(D::Error::custom(format!(
                "{n} is not a whole number from 0 to {}",
                u32::MAX
            ))),
        }
    }
}

/// `GET /api/v1/health`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HealthResponse {
    /// `ok` when the database (and on a cluster node, JetStream) answers;
    /// `unavailable` otherwise, with status 503.
    pub status: String,
    /// The server version.
    pub version: String,
    /// `up` when the database answers, else `down`.
    pub database: String,
    /// On a cluster node: `up` when JetStream answers, else `down`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jetstream: Option<String>,
}

/// A list page, newest first.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
    /// How many items match the filters and are visible to the caller, over
    /// all pages (incidents only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<i64>,
}

impl<T> Page<T> {
    /// Converts a store page.
    pub fn from_store<U: Into<T>>(page: incidents::Page<U>, total: Option<i64>) -> Self {
        Self {
            items: page.items.into_iter().map(Into::into).collect(),
            next_cursor: page.next_cursor,
            total,
        }
    }
}

/// `POST /api/v1/reports`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewReportRequest {
    /// What kind of event this is.
    pub category: Category,
    /// What happened, in the reporter's words.
    pub description: String,
    /// Whether the report is sensitive (harassment and physical injury
    /// always are).
    #[serde(default)]
    pub sensitive: bool,
    /// When it happened.
    #[serde(default, with = "opt_time")]
    pub occurred_at: Option<OffsetDateTime>,
    /// Where, or which asset.
    #[serde(default)]
    pub location: Option<String>,
    /// How it reached us (default `api`).
    #[serde(default)]
    pub channel: Option<Channel>,
}

/// A report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReportResponse {
    /// Id.
    pub id: String,
    /// The reporter's user id, when not anonymous.
    pub reporter_id: Option<String>,
    /// How it reached us.
    pub channel: Channel,
    /// Category.
    pub category: Category,
    /// Description.
    pub description: String,
    /// When it happened.
    #[serde(with = "opt_time")]
    pub occurred_at: Option<OffsetDateTime>,
    /// Where, or which asset.
    pub location: Option<String>,
    /// Whether it is sensitive.
    pub sensitive: bool,
    /// The incident it opened or joined.
    pub incident_id: String,
    /// That incident's status.
    pub incident_status: Status,
    /// Attached files (metadata; download each from its `url`).
    #[serde(default)]
    pub attachments: Vec<AttachmentResponse>,
    /// When filed.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// An attachment of a report (metadata only).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AttachmentResponse {
    /// Id.
    pub id: String,
    /// The file name as uploaded (display only).
    pub filename: String,
    /// The MIME type as uploaded.
    pub content_type: String,
    /// Size in bytes.
    pub size: i64,
    /// Hex SHA-256 of the content.
    pub sha256: String,
    /// Where to download it: `/api/v1/reports/{id}/attachments/{attachment_id}`.
    pub url: String,
}

impl From<incidents::report::Attachment> for AttachmentResponse {
    fn from(a: incidents::report::Attachment) -> Self {
        Self {
            url: format!("/api/v1/reports/{}/attachments/{}", a.report_id, a.id),
            id: a.id.to_string(),
            filename: a.filename,
            content_type: a.content_type,
            size: a.size,
            sha256: a.sha256,
        }
    }
}

impl From<incidents::report::Report> for ReportResponse {
    fn from(r: incidents::report::Report) -> Self {
        Self {
            id: r.id.to_string(),
            reporter_id: r.reporter.map(|u| u.to_string()),
            channel: r.channel,
            category: r.category,
            description: r.description,
            occurred_at: r.occurred_at,
            location: r.location,
            sensitive: r.sensitive,
            incident_id: r.incident_id.to_string(),
            incident_status: r.incident_status,
            attachments: r.attachments.into_iter().map(Into::into).collect(),
            created_at: r.created_at,
        }
    }
}

/// The impact assessment (request and response).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImpactBody {
    /// Confidentiality impact.
    pub confidentiality: ImpactLevel,
    /// Integrity impact.
    pub integrity: ImpactLevel,
    /// Availability impact.
    pub availability: ImpactLevel,
    /// Affected assets.
    #[serde(default)]
    pub affected_assets: Vec<String>,
    /// Affected users.
    #[serde(default)]
    pub affected_users: Vec<String>,
    /// Affected data.
    #[serde(default)]
    pub affected_data: Vec<String>,
    /// Summary.
    #[serde(default)]
    pub summary: String,
}

impl From<incidents::incident::Impact> for ImpactBody {
    fn from(i: incidents::incident::Impact) -> Self {
        Self {
            confidentiality: i.confidentiality,
            integrity: i.integrity,
            availability: i.availability,
            affected_assets: i.affected_assets,
            affected_users: i.affected_users,
            affected_data: i.affected_data,
            summary: i.summary,
        }
    }
}

impl From<ImpactBody> for incidents::incident::Impact {
    fn from(i: ImpactBody) -> Self {
        Self {
            confidentiality: i.confidentiality,
            integrity: i.integrity,
            availability: i.availability,
            affected_assets: i.affected_assets,
            affected_users: i.affected_users,
            affected_data: i.affected_data,
            summary: i.summary,
        }
    }
}

/// The lifecycle timestamps of an incident.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TimesBody {
    /// When it happened.
    #[serde(with = "opt_time")]
    pub occurred_at: Option<OffsetDateTime>,
    /// When detected.
    #[serde(with = "opt_time")]
    pub detected_at: Option<OffsetDateTime>,
    /// When reported.
    #[serde(with = "time::serde::rfc3339")]
    pub reported_at: OffsetDateTime,
    /// When acknowledged.
    #[serde(with = "opt_time")]
    pub acknowledged_at: Option<OffsetDateTime>,
    /// When contained.
    #[serde(with = "opt_time")]
    pub contained_at: Option<OffsetDateTime>,
    /// When resolved.
    #[serde(with = "opt_time")]
    pub resolved_at: Option<OffsetDateTime>,
    /// When closed.
    #[serde(with = "opt_time")]
    pub closed_at: Option<OffsetDateTime>,
}

/// An incident.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IncidentResponse {
    /// Id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Category.
    pub category: Category,
    /// Severity.
    pub severity: Severity,
    /// Status.
    pub status: Status,
    /// Whether it is sensitive (need-to-know).
    pub sensitive: bool,
    /// Owner's user id.
    pub owner_id: Option<String>,
    /// Impact assessment.
    pub impact: Option<ImpactBody>,
    /// Resolution.
    pub resolution: Option<Resolution>,
    /// Disclosure state.
    pub disclosure: Disclosure,
    /// The incident this one was merged into.
    pub merged_into: Option<String>,
    /// Number of alerts grouped into it.
    pub alert_count: i64,
    /// Lifecycle timestamps.
    pub times: TimesBody,
    /// Created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// Its SLA clocks (see docs/sla.md), for staff on
    /// `GET /api/v1/incidents` and `GET /api/v1/incidents/{id}`; absent
    /// elsewhere and for reporters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sla: Option<SlaBody>,
}

/// An incident's SLA clocks: each clock that has a target.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaBody {
    /// From reported to acknowledged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledge: Option<SlaClockBody>,
    /// From reported to contained.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub triage: Option<SlaClockBody>,
    /// From reported to resolved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolve: Option<SlaClockBody>,
}

/// One SLA clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaClockBody {
    /// The target, as configured (e.g. `15m`, `1 business day`).
    pub target: String,
    /// The deadline.
    #[serde(with = "time::serde::rfc3339")]
    pub due: OffsetDateTime,
    /// `running`, `breached` (running past the deadline), `met` or
    /// `missed` (stopped after the deadline).
    pub state: incidents::ClockState,
    /// When the deadline was passed (breached or missed).
    #[serde(with = "time::serde::rfc3339::option")]
    pub breached_at: Option<OffsetDateTime>,
    /// When the clock stopped.
    #[serde(with = "time::serde::rfc3339::option")]
    pub stopped_at: Option<OffsetDateTime>,
}

impl From<&incidents::IncidentSla> for SlaBody {
    fn from(sla: &incidents::IncidentSla) -> Self {
        let clock = |c: incidents::SlaClock| {
            sla.clock(c).map(|s| SlaClockBody {
                target: s.target.to_string(),
                due: s.due,
                state: s.state,
                breached_at: s.breached_at(),
                stopped_at: s.stopped_at,
            })
        };
        SlaBody {
            acknowledge: clock(incidents::SlaClock::Acknowledge),
            triage: clock(incidents::SlaClock::Triage),
            resolve: clock(incidents::SlaClock::Resolve),
        }
    }
}

impl From<incidents::incident::Incident> for IncidentResponse {
    fn from(i: incidents::incident::Incident) -> Self {
        Self {
            id: i.id.to_string(),
            title: i.title,
            description: i.description,
            category: i.category,
            severity: i.severity,
            status: i.status,
            sensitive: i.sensitive,
            owner_id: i.owner.map(|u| u.to_string()),
            impact: i.impact.map(Into::into),
            resolution: i.resolution,
            disclosure: i.disclosure,
            merged_into: i.merged_into.map(|m| m.to_string()),
            alert_count: i.alert_count,
            times: TimesBody {
                occurred_at: i.times.occurred_at,
                detected_at: i.times.detected_at,
                reported_at: i.times.reported_at,
                acknowledged_at: i.times.acknowledged_at,
                contained_at: i.times.contained_at,
                resolved_at: i.times.resolved_at,
                closed_at: i.times.closed_at,
            },
            created_at: i.created_at,
            updated_at: i.updated_at,
            sla: None,
        }
    }
}

/// A note.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NoteResponse {
    /// Id.
    pub id: String,
    /// Author's user id.
    pub author_id: String,
    /// Text.
    pub body: String,
    /// When written.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<incidents::incident::Note> for NoteResponse {
    fn from(n: incidents::incident::Note) -> Self {
        Self {
            id: n.id.to_string(),
            author_id: n.author.to_string(),
            body: n.body,
            created_at: n.created_at,
        }
    }
}

/// A remediation task.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskResponse {
    /// Id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Owner's user id.
    pub owner_id: Option<String>,
    /// Due date.
    #[serde(with = "opt_time")]
    pub due_at: Option<OffsetDateTime>,
    /// Whether done.
    pub done: bool,
    /// Created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<incidents::incident::Task> for TaskResponse {
    fn from(t: incidents::incident::Task) -> Self {
        Self {
            id: t.id.to_string(),
            title: t.title,
            owner_id: t.owner.map(|u| u.to_string()),
            due_at: t.due_at,
            done: t.done,
            created_at: t.created_at,
        }
    }
}

/// A timeline event.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TimelineResponse {
    /// Id.
    pub id: String,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Who.
    pub actor_id: String,
    /// Kind (e.g. `status`).
    pub kind: String,
    /// What happened.
    pub message: String,
}

impl From<incidents::incident::TimelineEvent> for TimelineResponse {
    fn from(t: incidents::incident::TimelineEvent) -> Self {
        Self {
            id: t.id.to_string(),
            at: t.at,
            actor_id: t.actor.to_string(),
            kind: t.kind,
            message: t.message,
        }
    }
}

/// `PATCH /api/v1/incidents/{id}`: fields to change (absent = unchanged).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentUpdateRequest {
    /// New title.
    #[serde(default)]
    pub title: Option<String>,
    /// New description.
    #[serde(default)]
    pub description: Option<String>,
    /// New category.
    #[serde(default)]
    pub category: Option<Category>,
    /// New severity.
    #[serde(default)]
    pub severity: Option<Severity>,
    /// The disclosure state. It follows the incident's advisory, so only
    /// the current state is accepted (another is 409: write the advisory
    /// and have a second responder approve it).
    #[serde(default)]
    pub disclosure: Option<Disclosure>,
}

/// `POST /api/v1/incidents/{id}/status`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusChangeRequest {
    /// The new status.
    pub status: Status,
    /// When it happened (default now; may be backdated).
    #[serde(default, with = "opt_time")]
    pub at: Option<OffsetDateTime>,
}

/// `POST /api/v1/incidents/{id}/assign`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssignRequest {
    /// The new owner's user name (absent = unchanged).
    #[serde(default)]
    pub owner: Option<String>,
    /// User names to add as participants.
    #[serde(default)]
    pub participants: Vec<String>,
}

/// `POST /api/v1/incidents/{id}/notes`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewNoteRequest {
    /// Text.
    pub body: String,
}

/// `POST /api/v1/reports/{id}/reply`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailReplyRequest {
    /// The reply's text (1 to 20,000 characters).
    pub text: String,
}

/// The answer of `POST /api/v1/reports/{id}/reply`: the mail sent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MailReplyResponse {
    /// Its Message-ID (without angle brackets).
    pub message_id: String,
    /// The address it went to.
    pub to: String,
    /// Its subject.
    pub subject: String,
}

/// `POST /api/v1/incidents/{id}/tasks`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTaskRequest {
    /// Title.
    pub title: String,
    /// Owner's user name.
    #[serde(default)]
    pub owner: Option<String>,
    /// Due date.
    #[serde(default, with = "opt_time")]
    pub due_at: Option<OffsetDateTime>,
}

/// `PATCH /api/v1/incidents/{id}/tasks/{task_id}` (absent = unchanged).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskUpdateRequest {
    /// New title.
    #[serde(default)]
    pub title: Option<String>,
    /// New owner's user name.
    #[serde(default)]
    pub owner: Option<String>,
    /// New due date.
    #[serde(default, with = "opt_time")]
    pub due_at: Option<OffsetDateTime>,
    /// Done or not.
    #[serde(default)]
    pub done: Option<bool>,
}

/// `POST /api/v1/incidents/{id}/links`: exactly one of the two.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkRequest {
    /// A report to link.
    #[serde(default)]
    pub report_id: Option<String>,
    /// An alert to link.
    #[serde(default)]
    pub alert_id: Option<String>,
}

/// `POST /api/v1/incidents/{id}/merge`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MergeRequest {
    /// The incident this one is merged into.
    pub into: String,
}

/// `POST /api/v1/incidents/{id}/close`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloseRequest {
    /// How it ended.
    pub resolution: Resolution,
    /// When (default now).
    #[serde(default, with = "opt_time")]
    pub at: Option<OffsetDateTime>,
}

/// `POST /api/v1/alerts`: detections found elsewhere (`hunt --submit`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAlertsRequest {
    /// 1 to 500 alerts, stored in order.
    pub alerts: Vec<NewAlertRequest>,
}

/// One detection to store as an alert.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAlertRequest {
    /// The Sigma rule id or detector id.
    pub rule_id: String,
    /// The rule's title.
    pub rule_title: String,
    /// Level.
    pub level: AlertLevel,
    /// Entity keys (`host`, `user`, `source_ip`, ...).
    #[serde(default)]
    pub entities: BTreeMap<String, String>,
    /// Evidence events.
    #[serde(default)]
    pub evidence: Vec<serde_json::Value>,
    /// The policy item, for policy detections.
    #[serde(default)]
    pub policy: Option<String>,
    /// When it happened.
    #[serde(with = "time::serde::rfc3339")]
    pub detected_at: OffsetDateTime,
    /// The deterministic key: an alert with a key already stored is not
    /// stored again.
    #[serde(default)]
    pub key: Option<String>,
    /// Keep it in the alert queue without an incident.
    #[serde(default)]
    pub queue_only: bool,
    /// The grouping key (default: rule and entities).
    #[serde(default)]
    pub group: Option<String>,
}

impl From<NewAlertRequest> for incidents::NewAlert {
    fn from(r: NewAlertRequest) -> Self {
        incidents::NewAlert {
            rule_id: r.rule_id,
            rule_title: r.rule_title,
            level: r.level,
            entities: r.entities,
            evidence: r.evidence,
            policy: r.policy,
            detected_at: r.detected_at,
            key: r.key,
            queue_only: r.queue_only,
            group: r.group,
        }
    }
}

/// What happened to each submitted alert, in order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AlertOutcomesResponse {
    /// One per submitted alert.
    pub outcomes: Vec<AlertOutcomeResponse>,
}

/// What happened to one submitted alert.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AlertOutcomeResponse {
    /// The stored alert (the earlier one, for a duplicate).
    pub alert_id: String,
    /// `opened`, `grouped`, `suppressed`, `dismissed` or `queued`.
    pub disposition: String,
    /// The incident it opened or joined.
    pub incident_id: Option<String>,
    /// True when an alert with its key was already stored.
    pub duplicate: bool,
}

impl From<incidents::AlertOutcome> for AlertOutcomeResponse {
    fn from(o: incidents::AlertOutcome) -> Self {
        Self {
            alert_id: o.alert_id.to_string(),
            disposition: o.disposition.as_str().to_owned(),
            incident_id: o.incident_id.map(|i| i.to_string()),
            duplicate: o.duplicate,
        }
    }
}

/// `POST /api/v1/alerts/{id}/dismiss`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DismissRequest {
    /// Why.
    #[serde(default)]
    pub reason: Option<String>,
}

/// An alert.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AlertResponse {
    /// Id.
    pub id: String,
    /// Rule id.
    pub rule_id: String,
    /// Rule title.
    pub rule_title: String,
    /// Level.
    pub level: AlertLevel,
    /// Entity keys (host, user, source IP, ...).
    pub entities: BTreeMap<String, String>,
    /// Evidence events.
    pub evidence: Vec<serde_json::Value>,
    /// Policy item, if any.
    pub policy: Option<String>,
    /// When detected.
    #[serde(with = "time::serde::rfc3339")]
    pub detected_at: OffsetDateTime,
    /// The incident it belongs to.
    pub incident_id: Option<String>,
    /// What happened to it (`open`, `grouped`, `suppressed`, `dismissed`, ...).
    pub disposition: String,
    /// Created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// `POST /api/v1/suppressions`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSuppressionRequest {
    /// The detection rule whose alerts are suppressed.
    pub rule_id: String,
    /// Entity values that must all be equal for the rule to apply (for
    /// example `{"host": "build-1"}`); empty or absent means every alert of
    /// the rule.
    #[serde(default)]
    pub entities: BTreeMap<String, String>,
    /// Why (shown in the audit trail).
    pub reason: String,
    /// When the rule stops applying (exclusive, in the future); absent means
    /// never.
    #[serde(default, with = "opt_time")]
    pub expires_at: Option<OffsetDateTime>,
}

/// A suppression rule.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SuppressionResponse {
    /// Id.
    pub id: String,
    /// The detection rule.
    pub rule_id: String,
    /// Entity values that must all match; empty means any.
    pub entities: BTreeMap<String, String>,
    /// Why.
    pub reason: String,
    /// When it stops applying.
    #[serde(with = "opt_time")]
    pub expires_at: Option<OffsetDateTime>,
    /// Whether it applies now (not expired).
    pub active: bool,
    /// Who created it (user id).
    pub created_by: String,
    /// When created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl SuppressionResponse {
    /// Converts a stored rule; `now` decides [`Self::active`].
    pub fn new(rule: incidents::SuppressionRule, now: OffsetDateTime) -> Self {
        Self {
            id: rule.id.to_string(),
            active: rule.expires_at.is_none_or(|at| now < at),
            rule_id: rule.rule_id,
            entities: rule.entities,
            reason: rule.reason,
            expires_at: rule.expires_at,
            created_by: rule.created_by.to_string(),
            created_at: rule.created_at,
        }
    }
}

/// `POST /api/v1/users`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUserRequest {
    /// Unique name (`[A-Za-z0-9._@-]`, 1..=64).
    pub name: String,
    /// Role.
    pub role: Role,
}

/// A user.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserResponse {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Whether disabled.
    pub disabled: bool,
    /// Created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<incidents::user::User> for UserResponse {
    fn from(u: incidents::user::User) -> Self {
        Self {
            id: u.id.to_string(),
            name: u.name,
            role: u.role,
            disabled: u.disabled,
            created_at: u.created_at,
        }
    }
}

/// `PUT /api/v1/users/{name}/role`: set a role that needs no approval.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleChangeRequest {
    /// The new role (`reporter` or `admin`; the need-to-know roles go
    /// through `POST /api/v1/role-grants`).
    pub role: Role,
}

/// `POST /api/v1/role-grants`: ask for a user to get a need-to-know role.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleGrantRequest {
    /// The user's name.
    pub user: String,
    /// `responder` or `finance-ops`.
    pub role: Role,
}

/// A request for a need-to-know role and its decision.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RoleGrantResponse {
    /// Id.
    pub id: String,
    /// The user who would get the role.
    pub user_id: String,
    /// The role asked for.
    pub role: Role,
    /// `pending`, `approved` or `rejected`.
    pub status: String,
    /// Who asked (user id).
    pub requested_by: String,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub requested_at: OffsetDateTime,
    /// Who decided (user id).
    pub decided_by: Option<String>,
    /// When.
    #[serde(with = "time::serde::rfc3339::option")]
    pub decided_at: Option<OffsetDateTime>,
}

impl From<incidents::RoleGrant> for RoleGrantResponse {
    fn from(g: incidents::RoleGrant) -> Self {
        Self {
            id: g.id.to_string(),
            user_id: g.user_id.to_string(),
            role: g.role,
            status: g.status.to_string(),
            requested_by: g.requested_by.to_string(),
            requested_at: g.requested_at,
            decided_by: g.decided_by.map(|u| u.to_string()),
            decided_at: g.decided_at,
        }
    }
}

/// A created user with their first API token, shown once. `Debug` never
/// shows the token.
#[derive(Clone, Serialize, Deserialize)]
pub struct CreatedUserResponse {
    /// The user.
    pub user: UserResponse,
    /// The bearer token. Store it now: it is not shown again.
    pub token: String,
}

impl std::fmt::Debug for CreatedUserResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedUserResponse")
            .field("user", &self.user)
            .field("token", &"[redacted]")
            .finish()
    }
}

/// `POST /api/v1/users/{name}/tokens`: every field is optional. At most one
/// of `expires_at` and `expires_in_days`; neither means the token never
/// expires.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTokenRequest {
    /// What the token is for (0 to 200 characters; default `api`).
    #[serde(default)]
    pub label: Option<String>,
    /// When it stops working (RFC 3339, in the future).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// Or: how many days from now it works (1 to 3650; `30.0` is `30`).
    #[serde(default, deserialize_with = "opt_whole::deserialize")]
    pub expires_in_days: Option<u32>,
}

/// An API token's metadata: never the token or its hash.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenResponse {
    /// Id.
    pub id: String,
    /// Owner (user id).
    pub user_id: String,
    /// Label.
    pub label: String,
    /// Created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it stops working (`null`: never).
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// Whether it has expired now.
    pub expired: bool,
    /// Whether it was revoked.
    pub revoked: bool,
}

impl From<incidents::user::ApiToken> for TokenResponse {
    fn from(t: incidents::user::ApiToken) -> Self {
        Self {
            expired: t.is_expired(OffsetDateTime::now_utc()),
            id: t.id.to_string(),
            user_id: t.user_id.to_string(),
            label: t.label,
            created_at: t.created_at,
            expires_at: t.expires_at,
            revoked: t.revoked,
        }
    }
}

/// A new API token, shown once (issued or rotated). `Debug` never shows the
/// token.
#[derive(Clone, Serialize, Deserialize)]
pub struct CreatedTokenResponse {
    /// The token's metadata.
    pub api_token: TokenResponse,
    /// The bearer token. Store it now: it is not shown again.
    pub token: String,
}

impl std::fmt::Debug for CreatedTokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedTokenResponse")
            .field("api_token", &self.api_token)
            .field("token", &"[redacted]")
            .finish()
    }
}

/// `GET /api/v1/audit/verify`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditVerifyResponse {
    /// Whether the chain is intact.
    pub ok: bool,
    /// Entries checked.
    pub entries: i64,
    /// The first bad entry's sequence number.
    pub first_bad_seq: Option<i64>,
    /// Why it is bad.
    pub reason: Option<String>,
}

/// An audit entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditEntryResponse {
    /// Sequence number (1, 2, ...).
    pub seq: i64,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Who (user id).
    pub actor_id: String,
    /// What (e.g. `incident.status`).
    pub action: String,
    /// Entity kind.
    pub entity: String,
    /// Entity id.
    pub entity_id: String,
    /// The incident concerned.
    pub incident_id: Option<String>,
    /// A second incident the entry names (the other side of a link or a
    /// merge); the entry is listed only to callers who see both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub related_incident_id: Option<String>,
    /// State before.
    pub before: serde_json::Value,
    /// State after.
    pub after: serde_json::Value,
    /// Chain hash.
    pub hash: String,
}

impl From<incidents::audit::AuditEntry> for AuditEntryResponse {
    fn from(e: incidents::audit::AuditEntry) -> Self {
        Self {
            seq: e.seq,
            at: e.at,
            actor_id: e.actor.to_string(),
            action: e.action,
            entity: e.entity,
            entity_id: e.entity_id,
            incident_id: e.incident_id.map(|i| i.to_string()),
            related_incident_id: e.related_incident_id.map(|i| i.to_string()),
            before: e.before,
            after: e.after,
            hash: e.hash,
        }
    }
}

/// An incident with what hangs off it, as the caller may see it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IncidentDetailResponse {
    /// The incident.
    pub incident: IncidentResponse,
    /// Named participants' user ids.
    pub participant_ids: Vec<String>,
    /// Linked reports visible to the caller.
    pub reports: Vec<ReportResponse>,
    /// Linked alerts visible to the caller.
    pub alerts: Vec<AlertResponse>,
    /// Timeline, oldest first.
    pub timeline: Vec<TimelineResponse>,
    /// Notes, oldest first.
    pub notes: Vec<NoteResponse>,
    /// Tasks, oldest first.
    pub tasks: Vec<TaskResponse>,
}

impl From<incidents::IncidentDetail> for IncidentDetailResponse {
    fn from(d: incidents::IncidentDetail) -> Self {
        Self {
            incident: d.incident.into(),
            participant_ids: d.participants.iter().map(ToString::to_string).collect(),
            reports: d.reports.into_iter().map(Into::into).collect(),
            alerts: d.alerts.into_iter().map(Into::into).collect(),
            timeline: d.timeline.into_iter().map(Into::into).collect(),
            notes: d.notes.into_iter().map(Into::into).collect(),
            tasks: d.tasks.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<incidents::Alert> for AlertResponse {
    fn from(a: incidents::Alert) -> Self {
        Self {
            id: a.id.to_string(),
            rule_id: a.rule_id,
            rule_title: a.rule_title,
            level: a.level,
            entities: a.entities,
            evidence: a.evidence,
            policy: a.policy,
            detected_at: a.detected_at,
            incident_id: a.incident_id.map(|i| i.to_string()),
            disposition: a.disposition.as_str().to_owned(),
            created_at: a.created_at,
        }
    }
}

/// TTA/TTR figures of one group, in seconds (never negative).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MetricRowResponse {
    /// The severity or category (`all` for the total).
    pub key: String,
    /// Incidents in the group.
    pub count: i64,
    /// Incidents acknowledged.
    pub acknowledged: i64,
    /// Mean time to acknowledge.
    pub tta_mean_secs: Option<f64>,
    /// Median time to acknowledge.
    pub tta_p50_secs: Option<f64>,
    /// Incidents resolved.
    pub resolved: i64,
    /// Mean time to resolve.
    pub ttr_mean_secs: Option<f64>,
    /// Median time to resolve.
    pub ttr_p50_secs: Option<f64>,
}

impl From<incidents::MetricRow> for MetricRowResponse {
    fn from(r: incidents::MetricRow) -> Self {
        Self {
            key: r.key,
            count: r.count,
            acknowledged: r.acknowledged,
            tta_mean_secs: r.tta_mean_secs,
            tta_p50_secs: r.tta_p50_secs,
            resolved: r.resolved,
            ttr_mean_secs: r.ttr_mean_secs,
            ttr_p50_secs: r.ttr_p50_secs,
        }
    }
}

/// `GET /api/v1/metrics`: incidents reported in `[from, to)` visible to the
/// caller.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MetricsResponse {
    /// Start of the period.
    #[serde(with = "time::serde::rfc3339")]
    pub from: OffsetDateTime,
    /// End of the period.
    #[serde(with = "time::serde::rfc3339")]
    pub to: OffsetDateTime,
    /// All visible incidents.
    pub total: MetricRowResponse,
    /// Per severity.
    pub by_severity: Vec<MetricRowResponse>,
    /// Per category.
    pub by_category: Vec<MetricRowResponse>,
}

impl From<incidents::Metrics> for MetricsResponse {
    fn from(m: incidents::Metrics) -> Self {
        Self {
            from: m.query.from,
            to: m.query.to,
            total: m.total.into(),
            by_severity: m.by_severity.into_iter().map(Into::into).collect(),
            by_category: m.by_category.into_iter().map(Into::into).collect(),
        }
    }
}

/// `GET /api/v1/audit`: a page of entries, oldest first.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditPage {
    /// Entries.
    pub items: Vec<AuditEntryResponse>,
    /// Pass as `after` to get the next page; absent on the last page.
    pub next_after: Option<i64>,
}

/// `POST /api/v1/incidents/{id}/advisory`: the public text of the
/// incident's advisory (creates the draft, or replaces the draft's text).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdvisoryRequest {
    /// Public title (1..=200 characters, not blank).
    pub title: String,
    /// What happened, for the public (1..=5,000 characters, not blank).
    pub summary: String,
    /// Who or what was affected (1..=5,000 characters, not blank).
    pub impact: String,
    /// What was done and what readers should do (1..=5,000 characters,
    /// not blank).
    pub remediation: String,
}

impl From<AdvisoryRequest> for incidents::AdvisoryText {
    fn from(r: AdvisoryRequest) -> Self {
        incidents::AdvisoryText {
            title: r.title,
            summary: r.summary,
            impact: r.impact,
            remediation: r.remediation,
        }
    }
}

/// An advisory as responders see it (drafts and published).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdvisoryResponse {
    /// Id (`WP-YYYY-NNNN`).
    pub id: String,
    /// The incident it discloses.
    pub incident_id: String,
    /// Public title.
    pub title: String,
    /// Public summary.
    pub summary: String,
    /// Public impact.
    pub impact: String,
    /// Public remediation.
    pub remediation: String,
    /// `draft` or `published`.
    pub status: String,
    /// Who wrote the current text (user id).
    pub author_id: String,
    /// Who approved it (user id), once published.
    pub approver_id: Option<String>,
    /// When created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When its text last changed, or it was published.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// When published.
    #[serde(with = "opt_time")]
    pub published_at: Option<OffsetDateTime>,
}

impl From<incidents::Advisory> for AdvisoryResponse {
    fn from(a: incidents::Advisory) -> Self {
        Self {
            id: a.id.to_string(),
            incident_id: a.incident_id.to_string(),
            title: a.text.title,
            summary: a.text.summary,
            impact: a.text.impact,
            remediation: a.text.remediation,
            status: a.status.as_str().to_owned(),
            author_id: a.author.to_string(),
            approver_id: a.approver.map(|u| u.to_string()),
            created_at: a.created_at,
            updated_at: a.updated_at,
            published_at: a.published_at,
        }
    }
}
