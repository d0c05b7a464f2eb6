//! Incidents: the incident response domain (reports, alerts, incidents,
//! tasks, timeline, impact, audit trail) and the [`Store`] that keeps it.
//!
//! - The domain types are pure: statuses change only through
//!   [`Incident::transition`] and [`Incident::merge_into`], which refuse
//!   illegal moves and backdated times that would make durations negative.
//! - [`Store`] is one async, object-safe trait with SQLite and PostgreSQL
//!   backends (one SQL code path through sqlx's `Any` driver, separate
//!   migrations per database). Open one with [`open`].
//! - Access control is need-to-know and lives in the store's SQL: every call
//!   takes a [`Viewer`]; what it may not see is "not found" (see [`access`]).
//! - Every change appends an [`AuditEntry`] to a keyed (HMAC-SHA256) hash
//!   chain in the same transaction, and so does every read of a sensitive
//!   incident, report or attachment (see [`audit`]).
//!
//! This crate must not depend on `web`, `notify` or `server`; it knows
//! nothing about HTTP status codes or message delivery.

pub mod access;
pub mod advisory;
pub mod alert;
pub mod audit;
mod backend;
pub mod enums;
mod error;
pub mod ids;
pub mod incident;
pub mod mail;
pub mod outbox;
mod query;
pub mod report;
pub mod sla;
pub mod staged;
pub mod store;
pub mod user;
pub mod user_check;

pub use access::Viewer;
pub use advisory::{
    Advisory, AdvisoryField, AdvisoryId, AdvisoryStatus, AdvisoryText, ParseAdvisoryIdError,
    PublicAdvisory,
};
pub use alert::{Alert, AlertDisposition, AlertOutcome, NewAlert, NewSuppression, SuppressionRule};
pub use audit::{AuditEntry, AuditFault, AuditKey, AuditKeyError, AuditReport};
pub use enums::{
    AlertLevel, Category, Channel, Disclosure, GrantStatus, ImpactLevel, OutboxStatus,
    ParseEnumError, Resolution, Role, Severity, Source, Status,
};
pub use ids::{
    AlertId, AttachmentId, IncidentId, NoteId, OutboxId, ReportId, RoleGrantId, SuppressionId,
    TaskId, TimelineId, TokenId, UserId,
};
pub use incident::{
    DomainError, Impact, Incident, Note, Opening, Task, TimelineEvent, Timestamps, Transition,
};
pub use mail::{
    InboundMail, MailDirection, MailMessage, MailOutcome, OutboundMail, find_tracking_id,
    tracking_id,
};
pub use outbox::{AccessPayload, IncidentPayload, OutboxKind, OutboxMessage, OutboxPayload};
pub use report::{Attachment, NewAttachment, NewReport, Report};
pub use sla::{
    BusinessHours, ClockState, ClockStatus, EscalationCount, EscalationStep, IncidentSla, SlaClock,
    SlaDuration, SlaError, SlaEscalation, SlaPolicy, SlaTarget,
};
pub use staged::StagedAttachment;
pub use store::{
    AlertFilter, Backend, IncidentDetail, IncidentFilter, IncidentPatch, MetricRow, Metrics,
    MetricsQuery, NewIncident, NewTask, Page, PageRequest, ReportFilter, Result, SlackThread,
    Store, StoreError, StoreOptions, TaskPatch,
};
pub use user::{ApiToken, NewSession, NewToken, NewUser, RoleGrant, TokenHash, User};
pub use user_check::{CheckAnswer, NewUserCheck, UserCheck};

use std::sync::Arc;

/// Opens (creating if needed) the store at `url`: `sqlite:PATH`,
/// `sqlite://PATH`, a plain file path (SQLite), or `postgres://...` /
/// `postgresql://...`. Runs pending migrations, each in a transaction.
pub async fn open(url: &str) -> Result<Arc<dyn Store>> {
    open_with(url, StoreOptions::default()).await
}

/// [`open`] with explicit options.
pub async fn open_with(url: &str, options: StoreOptions) -> Result<Arc<dyn Store>> {
    Ok(Arc::new(backend::SqlStore::open(url, options).await?))
}

/// The default SQLite database path inside a data directory:
/// `<dir>/watchpost.db`.
pub fn default_db_path(data_dir: &std::path::Path) -> std::path::PathBuf {
    data_dir.join("watchpost.db")
}
