//! Row shapes as stored, their column lists, and conversion to domain types.
//! A row that can't be converted (an unknown enum name, bad JSON) is
//! reported as [`StoreError::Corrupt`], never a panic.

use sqlx::FromRow;
use sqlx::any::AnyRow;

use super::{from_micros, parse_col};
use crate::alert::{Alert, AlertDisposition, SuppressionRule};
use crate::audit::{AuditEntry, RawAuditRow};
use crate::enums::OutboxStatus;
use crate::incident::{Incident, Note, Task, TimelineEvent, Timestamps};
use crate::outbox::{OutboxKind, OutboxMessage, OutboxPayload};
use crate::report::{Attachment, Report};
use crate::store::{Result, StoreError};
use crate::user::{ApiToken, User};

/// A row shape that converts to its domain type (or fails with
/// [`StoreError::Corrupt`]).
pub(crate) trait DomainRow: for<'r> FromRow<'r, AnyRow> + Send + Unpin {
    /// The domain type the row holds.
    type Domain;

    /// Converts the row.
    fn into_domain(self) -> Result<Self::Domain>;
}

fn json<T: serde::de::DeserializeOwned>(what: &str, s: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

fn opt<T>(v: Option<String>, f: impl FnOnce(&str) -> Result<T>) -> Result<Option<T>> {
    v.as_deref().map(f).transpose()
}

pub(crate) const INCIDENT_COLS: &str = "i.id, i.title, i.description, i.category, i.severity, i.status, i.sensitive, i.owner_id, i.impact, i.resolution, i.disclosure, i.merged_into, i.alert_count, i.group_key, i.last_alert_at, i.occurred_at, i.detected_at, i.reported_at, i.acknowledged_at, i.contained_at, i.resolved_at, i.closed_at, i.created_at, i.updated_at";

#[derive(FromRow)]
pub(crate) struct IncidentRow {
    id: String,
    title: String,
    description: String,
    category: String,
    severity: String,
    status: String,
    sensitive: i64,
    owner_id: Option<String>,
    impact: Option<String>,
    resolution: Option<String>,
    disclosure: String,
    merged_into: Option<String>,
    alert_count: i64,
    group_key: Option<String>,
    last_alert_at: Option<i64>,
    occurred_at: Option<i64>,
    detected_at: Option<i64>,
    reported_at: i64,
    acknowledged_at: Option<i64>,
    contained_at: Option<i64>,
    resolved_at: Option<i64>,
    closed_at: Option<i64>,
    created_at: i64,
    updated_at: i64,
}

impl DomainRow for IncidentRow {
    type Domain = Incident;

    fn into_domain(self) -> Result<Incident> {
        Ok(Incident {
            id: parse_col("incident id", &self.id)?,
            title: self.title,
            description: self.description,
            category: parse_col("category", &self.category)?,
            severity: parse_col("severity", &self.severity)?,
            status: parse_col("status", &self.status)?,
            sensitive: self.sensitive != 0,
            owner: opt(self.owner_id, |s| parse_col("owner id", s))?,
            impact: opt(self.impact, |s| json("impact", s))?,
            resolution: opt(self.resolution, |s| parse_col("resolution", s))?,
            disclosure: parse_col("disclosure", &self.disclosure)?,
            merged_into: opt(self.merged_into, |s| parse_col("merged_into", s))?,
            alert_count: self.alert_count,
            group_key: self.group_key,
            last_alert_at: self.last_alert_at.map(from_micros),
            times: Timestamps {
                occurred_at: self.occurred_at.map(from_micros),
                detected_at: self.detected_at.map(from_micros),
                reported_at: from_micros(self.reported_at),
                acknowledged_at: self.acknowledged_at.map(from_micros),
                contained_at: self.contained_at.map(from_micros),
                resolved_at: self.resolved_at.map(from_micros),
                closed_at: self.closed_at.map(from_micros),
            },
            created_at: from_micros(self.created_at),
            updated_at: from_micros(self.updated_at),
        })
    }
}

pub(crate) const REPORT_COLS: &str = "r.id, r.reporter_id, r.channel, r.category, r.description, r.occurred_at, r.location, r.sensitive, r.incident_id, r.created_at, ri.status AS incident_status";

#[derive(FromRow)]
pub(crate) struct ReportRow {
    id: String,
    reporter_id: Option<String>,
    channel: String,
    category: String,
    description: String,
    occurred_at: Option<i64>,
    location: Option<String>,
    sensitive: i64,
    incident_id: String,
    created_at: i64,
    incident_status: String,
}

impl DomainRow for ReportRow {
    type Domain = Report;

    fn into_domain(self) -> Result<Report> {
        Ok(Report {
            id: parse_col("report id", &self.id)?,
            reporter: opt(self.reporter_id, |s| parse_col("reporter id", s))?,
            channel: parse_col("channel", &self.channel)?,
            category: parse_col("category", &self.category)?,
            description: self.description,
            occurred_at: self.occurred_at.map(from_micros),
            location: self.location,
            sensitive: self.sensitive != 0,
            incident_id: parse_col("incident id", &self.incident_id)?,
            incident_status: parse_col("status", &self.incident_status)?,
            attachments: Vec::new(),
            created_at: from_micros(self.created_at),
        })
    }
}

pub(crate) const ATTACHMENT_COLS: &str =
    "a.id, a.report_id, a.filename, a.content_type, a.size, a.sha256";

#[derive(FromRow)]
pub(crate) struct AttachmentRow {
    id: String,
    report_id: String,
    filename: String,
    content_type: String,
    size: i64,
    sha256: String,
}

impl DomainRow for AttachmentRow {
    type Domain = Attachment;

    fn into_domain(self) -> Result<Attachment> {
        Ok(Attachment {
            id: parse_col("attachment id", &self.id)?,
            report_id: parse_col("report id", &self.report_id)?,
            filename: self.filename,
            content_type: self.content_type,
            size: self.size,
            sha256: self.sha256,
        })
    }
}

pub(crate) const ALERT_COLS: &str = "a.id, a.rule_id, a.rule_title, a.level, a.entities, a.evidence, a.policy, a.detected_at, a.incident_id, a.disposition, a.suppressed_by, a.created_at, a.sensitive, a.dedup_key";

#[derive(FromRow)]
pub(crate) struct AlertRow {
    id: String,
    rule_id: String,
    rule_title: String,
    level: String,
    entities: String,
    evidence: String,
    policy: Option<String>,
    detected_at: i64,
    incident_id: Option<String>,
    disposition: String,
    suppressed_by: Option<String>,
    created_at: i64,
    sensitive: i64,
    dedup_key: Option<String>,
}

impl DomainRow for AlertRow {
    type Domain = Alert;

    fn into_domain(self) -> Result<Alert> {
        Ok(Alert {
            id: parse_col("alert id", &self.id)?,
            rule_id: self.rule_id,
            rule_title: self.rule_title,
            level: parse_col("level", &self.level)?,
            entities: json("alert entities", &self.entities)?,
            evidence: json("alert evidence", &self.evidence)?,
            policy: self.policy,
            detected_at: from_micros(self.detected_at),
            incident_id: opt(self.incident_id, |s| parse_col("incident id", s))?,
            sensitive: self.sensitive != 0,
            disposition: AlertDisposition::parse(&self.disposition).ok_or_else(|| {
                StoreError::Corrupt(format!("alert disposition {:?}", self.disposition))
            })?,
            suppressed_by: opt(self.suppressed_by, |s| parse_col("suppression id", s))?,
            created_at: from_micros(self.created_at),
            key: self.dedup_key,
        })
    }
}

pub(crate) const SUPPRESSION_COLS: &str =
    "s.id, s.rule_id, s.entities, s.reason, s.expires_at, s.created_by, s.created_at";

#[derive(FromRow)]
pub(crate) struct SuppressionRow {
    id: String,
    rule_id: String,
    entities: String,
    reason: String,
    expires_at: Option<i64>,
    created_by: String,
    created_at: i64,
}

impl DomainRow for SuppressionRow {
    type Domain = SuppressionRule;

    fn into_domain(self) -> Result<SuppressionRule> {
        Ok(SuppressionRule {
            id: parse_col("suppression id", &self.id)?,
            rule_id: self.rule_id,
            entities: json("suppression entities", &self.entities)?,
            reason: self.reason,
            expires_at: self.expires_at.map(from_micros),
            created_by: parse_col("user id", &self.created_by)?,
            created_at: from_micros(self.created_at),
        })
    }
}

pub(crate) const USER_COLS: &str = "u.id, u.name, u.role, u.disabled, u.created_at";

#[derive(FromRow)]
pub(crate) struct UserRow {
    id: String,
    name: String,
    role: String,
    disabled: i64,
    created_at: i64,
}

impl DomainRow for UserRow {
    type Domain = User;

    fn into_domain(self) -> Result<User> {
        Ok(User {
            id: parse_col("user id", &self.id)?,
            name: self.name,
            role: parse_col("role", &self.role)?,
            disabled: self.disabled != 0,
            created_at: from_micros(self.created_at),
        })
    }
}

/// A session with its user: [`USER_COLS`] then `s.csrf, s.expires_at,
/// s.last_seen`. Read only to resolve a session, so it has no domain type
/// of its own; the session's id hash is not read back.
#[derive(FromRow)]
pub(crate) struct SessionRow {
    #[sqlx(flatten)]
    pub(crate) user: UserRow,
    pub(crate) csrf: String,
    pub(crate) expires_at: i64,
    pub(crate) last_seen: i64,
}

pub(crate) const TOKEN_COLS: &str =
    "t.id, t.user_id, t.label, t.revoked, t.created_at, t.expires_at";

#[derive(FromRow)]
pub(crate) struct TokenRow {
    id: String,
    user_id: String,
    label: String,
    revoked: i64,
    created_at: i64,
    expires_at: Option<i64>,
}

impl DomainRow for TokenRow {
    type Domain = ApiToken;

    fn into_domain(self) -> Result<ApiToken> {
        Ok(ApiToken {
            id: parse_col("token id", &self.id)?,
            user_id: parse_col("user id", &self.user_id)?,
            label: self.label,
            revoked: self.revoked != 0,
            created_at: from_micros(self.created_at),
            expires_at: self.expires_at.map(from_micros),
        })
    }
}

pub(crate) const TIMELINE_COLS: &str = "t.id, t.incident_id, t.at, t.actor, t.kind, t.message";

#[derive(FromRow)]
pub(crate) struct TimelineRow {
    id: String,
    incident_id: String,
    at: i64,
    actor: String,
    kind: String,
    message: String,
}

impl DomainRow for TimelineRow {
    type Domain = TimelineEvent;

    fn into_domain(self) -> Result<TimelineEvent> {
        Ok(TimelineEvent {
            id: parse_col("timeline id", &self.id)?,
            incident_id: parse_col("incident id", &self.incident_id)?,
            at: from_micros(self.at),
            actor: parse_col("user id", &self.actor)?,
            kind: self.kind,
            message: self.message,
        })
    }
}

pub(crate) const NOTE_COLS: &str = "n.id, n.incident_id, n.author, n.body, n.created_at";

#[derive(FromRow)]
pub(crate) struct NoteRow {
    id: String,
    incident_id: String,
    author: String,
    body: String,
    created_at: i64,
}

impl DomainRow for NoteRow {
    type Domain = Note;

    fn into_domain(self) -> Result<Note> {
        Ok(Note {
            id: parse_col("note id", &self.id)?,
            incident_id: parse_col("incident id", &self.incident_id)?,
            author: parse_col("user id", &self.author)?,
            body: self.body,
            created_at: from_micros(self.created_at),
        })
    }
}

pub(crate) const TASK_COLS: &str =
    "k.id, k.incident_id, k.title, k.owner_id, k.due_at, k.done, k.created_at";

#[derive(FromRow)]
pub(crate) struct TaskRow {
    id: String,
    incident_id: String,
    title: String,
    owner_id: Option<String>,
    due_at: Option<i64>,
    done: i64,
    created_at: i64,
}

impl DomainRow for TaskRow {
    type Domain = Task;

    fn into_domain(self) -> Result<Task> {
        Ok(Task {
            id: parse_col("task id", &self.id)?,
            incident_id: parse_col("incident id", &self.incident_id)?,
            title: self.title,
            owner: opt(self.owner_id, |s| parse_col("user id", s))?,
            due_at: self.due_at.map(from_micros),
            done: self.done != 0,
            created_at: from_micros(self.created_at),
        })
    }
}

pub(crate) const AUDIT_COLS: &str = "au.seq, au.at, au.actor, au.action, au.entity, au.entity_id, au.incident_id, au.related_incident_id, au.sensitive, au.before_json, au.after_json, au.hash";

#[derive(FromRow)]
pub(crate) struct AuditRow {
    seq: i64,
    at: i64,
    actor: String,
    action: String,
    entity: String,
    entity_id: String,
    incident_id: Option<String>,
    related_incident_id: Option<String>,
    sensitive: i64,
    before_json: String,
    after_json: String,
    hash: String,
}

impl AuditRow {
    /// The row's position in the chain.
    pub(crate) fn seq(&self) -> i64 {
        self.seq
    }

    fn decode(&self) -> Result<AuditEntry> {
        Ok(AuditEntry {
            seq: self.seq,
            at: from_micros(self.at),
            actor: parse_col("user id", &self.actor)?,
            action: self.action.clone(),
            entity: self.entity.clone(),
            entity_id: self.entity_id.clone(),
            incident_id: opt(self.incident_id.clone(), |s| parse_col("incident id", s))?,
            related_incident_id: opt(self.related_incident_id.clone(), |s| {
                parse_col("incident id", s)
            })?,
            sensitive: self.sensitive != 0,
            before: json("audit before", &self.before_json)?,
            after: json("audit after", &self.after_json)?,
            hash: self.hash.clone(),
        })
    }

    pub(crate) fn into_raw(self) -> RawAuditRow {
        RawAuditRow {
            seq: self.seq,
            entry: self.decode().map_err(|e| e.to_string()),
            before_text: self.before_json,
            after_text: self.after_json,
        }
    }
}

impl DomainRow for AuditRow {
    type Domain = AuditEntry;

    fn into_domain(self) -> Result<AuditEntry> {
        self.decode()
    }
}

pub(crate) const OUTBOX_COLS: &str = "o.id, o.kind, o.incident_id, o.sensitive, o.payload, o.status, o.attempts, o.next_attempt_at, o.lease_until, o.last_error, o.created_at, o.destination, o.parent_id";

#[derive(FromRow)]
pub(crate) struct OutboxRow {
    id: String,
    kind: String,
    incident_id: Option<String>,
    sensitive: i64,
    payload: String,
    status: String,
    attempts: i64,
    next_attempt_at: i64,
    lease_until: Option<i64>,
    last_error: Option<String>,
    created_at: i64,
    destination: Option<String>,
    parent_id: Option<String>,
}

impl DomainRow for OutboxRow {
    type Domain = OutboxMessage;

    fn into_domain(self) -> Result<OutboxMessage> {
        let kind = OutboxKind::parse(&self.kind)
            .ok_or_else(|| StoreError::Corrupt(format!("outbox kind {:?}", self.kind)))?;
        Ok(OutboxMessage {
            id: parse_col("outbox id", &self.id)?,
            kind,
            incident_id: opt(self.incident_id, |s| parse_col("incident id", s))?,
            sensitive: self.sensitive != 0,
            payload: OutboxPayload::decode(kind, &self.payload)
                .map_err(|e| StoreError::Corrupt(format!("outbox payload: {e}")))?,
            status: parse_col::<OutboxStatus>("outbox status", &self.status)?,
            attempts: i32::try_from(self.attempts).unwrap_or(i32::MAX),
            next_attempt_at: from_micros(self.next_attempt_at),
            lease_until: self.lease_until.map(from_micros),
            last_error: self.last_error,
            created_at: from_micros(self.created_at),
            destination: self.destination,
            parent_id: opt(self.parent_id, |s| parse_col("outbox id", s))?,
        })
    }
}

pub(crate) const ROLE_GRANT_COLS: &str =
    "g.id, g.user_id, g.role, g.status, g.requested_by, g.requested_at, g.decided_by, g.decided_at";

#[derive(FromRow)]
pub(crate) struct RoleGrantRow {
    id: String,
    user_id: String,
    role: String,
    status: String,
    requested_by: String,
    requested_at: i64,
    decided_by: Option<String>,
    decided_at: Option<i64>,
}

impl DomainRow for RoleGrantRow {
    type Domain = crate::user::RoleGrant;

    fn into_domain(self) -> Result<crate::user::RoleGrant> {
        Ok(crate::user::RoleGrant {
            id: parse_col("role grant id", &self.id)?,
            user_id: parse_col("user id", &self.user_id)?,
            role: parse_col("role", &self.role)?,
            status: parse_col("grant status", &self.status)?,
            requested_by: parse_col("user id", &self.requested_by)?,
            requested_at: from_micros(self.requested_at),
            decided_by: opt(self.decided_by, |s| parse_col("user id", s))?,
            decided_at: self.decided_at.map(from_micros),
        })
    }
}
