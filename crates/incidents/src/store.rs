//! The [`Store`] trait: the only way the rest of watchpost reads or changes
//! incident data. Every method takes the [`Viewer`] who asks; visibility is
//! enforced inside the queries (see [`crate::access`]), and a row the viewer
//! may not see is reported as [`StoreError::NotFound`]. Every change is
//! written with its audit entry (and outbox message, when it notifies) in one
//! transaction.

use std::path::PathBuf;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::access::Viewer;
use crate::advisory::{Advisory, AdvisoryId, AdvisoryText, PublicAdvisory};
use crate::alert::{
    Alert, AlertDisposition, AlertOutcome, NewAlert, NewSuppression, SuppressionRule,
};
use crate::audit::{AuditEntry, AuditReport};
use crate::enums::{
    Category, Disclosure, OutboxStatus, Resolution, Role, Severity, Source, Status,
};
use crate::ids::{
    AlertId, AttachmentId, IncidentId, OutboxId, ReportId, RoleGrantId, SuppressionId, TaskId,
    TokenId, UserId,
};
use crate::incident::{Impact, Incident, Note, Task, TimelineEvent};
use crate::mail::{InboundMail, MailMessage, MailOutcome, OutboundMail};
use crate::outbox::OutboxMessage;
use crate::report::{Attachment, NewAttachment, NewReport, Report};
use crate::sla::{ClockStatus, EscalationCount, EscalationStep, SlaEscalation};
use crate::staged::StagedAttachment;
use crate::user::{ApiToken, NewSession, NewToken, NewUser, RoleGrant, TokenHash, User};

pub use crate::error::{Result, StoreError};

/// Which database is behind a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// Store settings; [`StoreOptions::default`] works.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Where attachments are stored (`<dir>/attachments/..`). Defaults to the
    /// SQLite file's directory, or `./watchpost-data` for PostgreSQL.
    pub data_dir: Option<PathBuf>,
    /// Largest accepted attachment.
    pub max_attachment_bytes: usize,
    /// An alert joins an open incident with the same grouping key when it
    /// is at most this long after (or before) the incident's last alert.
    pub group_window: Duration,
    /// Read connections (SQLite) or pool size (PostgreSQL).
    pub max_connections: u32,
    /// The most reports one user may file within an hour (the system actor
    /// is not limited); more is [`StoreError::RateLimited`].
    pub max_reports_per_hour: u32,
    /// The most attachment bytes one user may have uploaded in all (the
    /// system actor is not limited); more is [`StoreError::QuotaExceeded`].
    pub max_attachment_bytes_per_user: u64,
    /// The most attachment bytes stored in all; more is
    /// [`StoreError::QuotaExceeded`].
    pub max_attachment_bytes_total: u64,
    /// The HMAC key of the audit chain. `None` reads `<data_dir>/audit.key`
    /// ([`crate::audit::AUDIT_KEY_FILE`]), creating it (`0600`, 32 random
    /// bytes) when missing. Opening a database whose chain was written with
    /// another key fails with [`StoreError::AuditKey`].
    pub audit_key: Option<crate::audit::AuditKey>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            data_dir: None,
            max_attachment_bytes: 10 * 1024 * 1024,
            group_window: Duration::hours(1),
            max_connections: 8,
            max_reports_per_hour: 30,
            max_attachment_bytes_per_user: 200 * 1024 * 1024,
            max_attachment_bytes_total: 10 * 1024 * 1024 * 1024,
            audit_key: None,
        }
    }
}

/// Input for a manually opened incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewIncident {
    /// Title.
    pub title: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Category.
    pub category: Category,
    /// Severity.
    pub severity: Severity,
    /// Sensitive (forced for always-sensitive categories).
    #[serde(default)]
    pub sensitive: bool,
    /// When it happened.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub occurred_at: Option<OffsetDateTime>,
    /// When it was detected.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub detected_at: Option<OffsetDateTime>,
    /// When it was reported, if earlier than now (backdating); not in the
    /// future.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub reported_at: Option<OffsetDateTime>,
}

/// A partial update of an incident's fields; `None` leaves a field alone.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentPatch {
    /// New title.
    #[serde(default)]
    pub title: Option<String>,
    /// New description.
    #[serde(default)]
    pub description: Option<String>,
    /// New category (an always-sensitive category makes it sensitive).
    #[serde(default)]
    pub category: Option<Category>,
    /// New severity.
    #[serde(default)]
    pub severity: Option<Severity>,
    /// Mark sensitive or not (responders only may clear it, and not for
    /// always-sensitive categories).
    #[serde(default)]
    pub sensitive: Option<bool>,
    /// Disclosure state: only the current one is accepted (it follows
    /// the incident's advisory; anything else is a conflict).
    #[serde(default)]
    pub disclosure: Option<Disclosure>,
    /// When it happened (may be backdated freely).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub occurred_at: Option<OffsetDateTime>,
}

/// Input for a remediation task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewTask {
    /// What to do.
    pub title: String,
    /// Who.
    #[serde(default)]
    pub owner: Option<UserId>,
    /// Due.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub due_at: Option<OffsetDateTime>,
}

/// A partial task update.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskPatch {
    /// New title.
    #[serde(default)]
    pub title: Option<String>,
    /// New owner.
    #[serde(default)]
    pub owner: Option<UserId>,
    /// New due date.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub due_at: Option<OffsetDateTime>,
    /// Done or not.
    #[serde(default)]
    pub done: Option<bool>,
}

/// Incident list filters; empty lists mean "any".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IncidentFilter {
    /// Any of these statuses.
    #[serde(default)]
    pub status: Vec<Status>,
    /// Any of these severities.
    #[serde(default)]
    pub severity: Vec<Severity>,
    /// Any of these categories.
    #[serde(default)]
    pub category: Vec<Category>,
    /// Owned by.
    #[serde(default)]
    pub owner: Option<UserId>,
    /// Case-insensitive substring of title or description.
    #[serde(default)]
    pub text: Option<String>,
    /// Came from any of these: a report on one of their channels (for a
    /// `reporter`, one of their own reports), or, for staff, a detection.
    #[serde(default)]
    pub source: Vec<Source>,
    /// Only sensitive (need-to-know) incidents, or only the others. Every
    /// viewer reads the flag of what they see.
    #[serde(default)]
    pub sensitive: Option<bool>,
    /// Created at or after.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub created_from: Option<OffsetDateTime>,
    /// Created before.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub created_to: Option<OffsetDateTime>,
    /// Only these incidents (`None`: any). The API's overdue filter
    /// passes the incidents it found overdue here.
    #[serde(default)]
    pub ids: Option<Vec<IncidentId>>,
}

/// Report list filters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReportFilter {
    /// Only these categories.
    #[serde(default)]
    pub category: Vec<Category>,
    /// Only reports filed by this user.
    #[serde(default)]
    pub reporter: Option<UserId>,
    /// Only reports of this incident.
    #[serde(default)]
    pub incident_id: Option<IncidentId>,
}

/// Alert list filters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AlertFilter {
    /// Only this rule.
    #[serde(default)]
    pub rule_id: Option<String>,
    /// Only of this incident.
    #[serde(default)]
    pub incident_id: Option<IncidentId>,
    /// Only with this disposition.
    #[serde(default)]
    pub disposition: Option<AlertDisposition>,
}

/// Keyset pagination request: newest first; pass the previous page's
/// `next_cursor` to get the next page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageRequest {
    /// Page size, 1..=500 (default 50).
    #[serde(default)]
    pub limit: Option<u32>,
    /// Opaque cursor from a previous page.
    #[serde(default)]
    pub cursor: Option<String>,
}

impl PageRequest {
    /// First page of `limit` items.
    pub fn first(limit: u32) -> Self {
        PageRequest {
            limit: Some(limit),
            cursor: None,
        }
    }
}

/// One page of results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    /// Items, newest first.
    pub items: Vec<T>,
    /// Cursor for the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// An incident with what hangs off it, as the viewer may see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentDetail {
    /// The incident.
    pub incident: Incident,
    /// Named participants (empty for a reporter who is not one).
    pub participants: Vec<UserId>,
    /// Linked reports visible to the viewer.
    pub reports: Vec<Report>,
    /// Linked alerts visible to the viewer (at most 200, newest first).
    pub alerts: Vec<Alert>,
    /// Timeline, oldest first.
    pub timeline: Vec<TimelineEvent>,
    /// Notes, oldest first.
    pub notes: Vec<Note>,
    /// Tasks, oldest first.
    pub tasks: Vec<Task>,
}

/// Metrics query: incidents reported in `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricsQuery {
    /// Start (inclusive).
    #[serde(with = "time::serde::rfc3339")]
    pub from: OffsetDateTime,
    /// End (exclusive).
    #[serde(with = "time::serde::rfc3339")]
    pub to: OffsetDateTime,
}

/// TTA/TTR figures for one group (seconds; never negative).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricRow {
    /// The severity or category name.
    pub key: String,
    /// Incidents in the group (excluding merged ones).
    pub count: i64,
    /// Incidents with an acknowledgement.
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

/// Metrics over a period, grouped by severity and by category, computed
/// only over incidents the viewer can see.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// The period.
    pub query: MetricsQuery,
    /// All visible incidents in the period.
    pub total: MetricRow,
    /// Per severity (every severity present, even with count 0).
    pub by_severity: Vec<MetricRow>,
    /// Per category (only categories with incidents).
    pub by_category: Vec<MetricRow>,
}

/// The incident response store. Object-safe: hold it as `Arc<dyn Store>`.
///
/// See `API.md` in this crate for who may call each method. An `ingest`
/// viewer (a log shipper's token) reads nothing (empty lists, zero totals,
/// `NotFound`) and every write it calls is `Forbidden` before anything is
/// looked up; see [`crate::access`].
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Which database this is.
    fn backend(&self) -> Backend;

    /// Closes the store for shutdown: waits for in-flight queries, closes
    /// the pools (SQLite checkpoints the WAL first). Calls after this fail.
    async fn close(&self);

    // ----- users and tokens -----

    /// Creates a user (admins, or the system viewer).
    async fn create_user(&self, viewer: &Viewer, new: NewUser) -> Result<User>;
    /// Number of users (admins and the system viewer); used to decide
    /// first-start bootstrap.
    async fn count_users(&self, viewer: &Viewer) -> Result<i64>;
    /// Lists users by name (admins and responders; other people see only
    /// themselves, an `ingest` token no one).
    async fn list_users(&self, viewer: &Viewer) -> Result<Vec<User>>;
    /// One user (admins and responders see anyone; other people only
    /// themselves, an `ingest` token no one).
    async fn get_user(&self, viewer: &Viewer, id: UserId) -> Result<User>;
    /// One user by name (same visibility as [`Store::get_user`]).
    async fn get_user_by_name(&self, viewer: &Viewer, name: &str) -> Result<User>;
    /// Disables or re-enables a user (admins). Disabling ends every session
    /// of the user in the same transaction.
    async fn set_user_disabled(&self, viewer: &Viewer, id: UserId, disabled: bool) -> Result<User>;
    /// Sets a user's role directly (admins). A need-to-know role
    /// (`responder`, `finance-ops`) only on the server host (system viewer);
    /// others must [`Store::request_role`]. `reporter`, `admin` and
    /// `ingest` are set directly. A change of role (here, or by an approved
    /// grant) ends every session of the user in the same transaction.
    async fn set_user_role(&self, viewer: &Viewer, id: UserId, role: Role) -> Result<User>;
    /// Asks for a user to get a need-to-know role (admins, responders): a
    /// pending [`RoleGrant`], audited and notified to the Security Team.
    async fn request_role(&self, viewer: &Viewer, user: UserId, role: Role) -> Result<RoleGrant>;
    /// Approves a pending grant: a responder who is neither the asker nor
    /// the user (or the system viewer). Revokes every token the user had
    /// and stores `token` as their one new token.
    async fn approve_role(
        &self,
        viewer: &Viewer,
        id: RoleGrantId,
        token: TokenHash,
    ) -> Result<(User, ApiToken)>;
    /// Rejects a pending grant (admins, responders).
    async fn reject_role(&self, viewer: &Viewer, id: RoleGrantId) -> Result<RoleGrant>;
    /// Role grants, pending first, then newest (admins, responders).
    async fn list_role_grants(&self, viewer: &Viewer) -> Result<Vec<RoleGrant>>;
    /// Stores a token's hash for a user (admins, or the user for themselves).
    async fn create_token(
        &self,
        viewer: &Viewer,
        user: UserId,
        label: &str,
        hash: TokenHash,
    ) -> Result<ApiToken>;
    /// Issues a token with an optional expiry (in the future, else
    /// `Invalid`). Only the user themselves or the system viewer (the CLI
    /// on the server host) may: an admin holding another user's token would
    /// read what that user may read (`Forbidden`).
    async fn issue_token(&self, viewer: &Viewer, user: UserId, new: NewToken) -> Result<ApiToken>;
    /// One token's metadata (admins, or its owner; else `NotFound`).
    async fn get_token(&self, viewer: &Viewer, id: TokenId) -> Result<ApiToken>;
    /// Revokes a token (admins, or its owner; else `NotFound`). An already
    /// revoked token is a `Conflict`.
    async fn revoke_token(&self, viewer: &Viewer, id: TokenId) -> Result<()>;
    /// Rotates a token: revokes it and stores `hash` as a new token with the
    /// same label and lifetime (an expiring token's new expiry is now plus
    /// the old one's lifetime), with one `token.rotate` audit entry, in one
    /// transaction. Its owner or the system viewer only (`Forbidden` for
    /// admins, `NotFound` for others); a revoked token is a `Conflict`.
    async fn rotate_token(&self, viewer: &Viewer, id: TokenId, hash: TokenHash)
    -> Result<ApiToken>;
    /// Lists a user's tokens, revoked and expired ones included, oldest
    /// first (admins, or the user; others `NotFound`). An `ingest` token
    /// may not list its own (`Forbidden`): an admin manages them.
    async fn list_tokens(&self, viewer: &Viewer, user: UserId) -> Result<Vec<ApiToken>>;
    /// Resolves a bearer token's hash to its enabled user and viewer. Like
    /// sign-in ([`Store::password_login`], [`Store::create_session`]) and
    /// [`Store::session`], it takes no viewer: it is how a viewer is
    /// obtained. Unknown, revoked, expired and disabled all give `None`.
    async fn authenticate(&self, hash: TokenHash) -> Result<Option<(User, Viewer)>>;

    // ----- passwords and browser sessions -----

    /// Sets a user's password hash (a PHC string; the caller hashes with
    /// Argon2id), or clears it with `None`. The system viewer (the CLI on the
    /// server host), an admin, or the user themselves; else `NotFound` for
    /// users the viewer cannot see, `Forbidden` otherwise. Ends every session
    /// of the user. Audited as `user.password` (never the hash).
    ///
    /// As with tokens ([`Store::create_token`]), an admin may not set the
    /// password of a `responder` or `finance-ops` user other than themselves
    /// (`Forbidden`; only the user or the system viewer may): with it the
    /// admin could sign in as them and read every sensitive incident. An
    /// admin may still clear it, which only locks the user out. A hash that
    /// is not PHC-shaped (`$...`, at most 1024 printable ASCII characters)
    /// is `Invalid`.
    async fn set_password(&self, viewer: &Viewer, user: UserId, hash: Option<String>)
    -> Result<()>;

    /// For sign-in, without a viewer (like `authenticate`): the id and password
    /// hash of the enabled user called `name` who has a password; `None`
    /// otherwise (unknown, disabled, no password, and the `ingest` role, which
    /// never signs in to pages).
    async fn password_login(&self, name: &str) -> Result<Option<(UserId, String)>>;

    /// Starts a browser session for an enabled user: stores `new.id_hash` (the
    /// SHA-256 of the session id; the id itself is never stored), the CSRF
    /// token, and the times. Audited as `session.create` (actor: the user).
    ///
    /// An unknown user is `NotFound`; a disabled or `ingest` user is
    /// `Forbidden`; `expires_at` not after `created_at`, or a CSRF token
    /// of other than 1 to 256 characters, is `Invalid`; an `id_hash` already
    /// stored is a `Conflict`. The user's sessions that had expired by
    /// `created_at` are deleted on the way.
    async fn create_session(&self, new: NewSession) -> Result<()>;

    /// Resolves a session id's hash at `now`: the enabled user, their viewer
    /// and the session's CSRF token. `None` when unknown, past `expires_at`,
    /// idle for longer than `idle` since `last_seen`, or the user is disabled
    /// (expired and idle sessions found here are deleted). Moves `last_seen`
    /// to `now` when it is more than 60 s old (so a session in use stays
    /// alive, at most one write a minute).
    async fn session(
        &self,
        id_hash: TokenHash,
        now: time::OffsetDateTime,
        idle: std::time::Duration,
    ) -> Result<Option<(User, Viewer, String)>>;

    /// Ends one session (sign-out). Unknown is fine (no error).
    async fn delete_session(&self, id_hash: TokenHash) -> Result<()>;

    // ----- reports -----

    /// Files a report (any person's role, not `ingest`) and opens an incident in `triage` linked to
    /// it, carrying `sensitive` over (forced for harassment and physical
    /// injury). Attachments are written to content-addressed files first.
    /// A user who filed [`StoreOptions::max_reports_per_hour`] reports in
    /// the last hour is refused with [`StoreError::RateLimited`];
    /// attachments count against the quotas as in
    /// [`Store::stage_attachment`].
    async fn file_report(&self, viewer: &Viewer, new: NewReport) -> Result<Report>;
    /// One visible report. Reading a sensitive report (or one of a
    /// sensitive incident) appends a `report.read` audit entry, except for
    /// the system viewer.
    async fn get_report(&self, viewer: &Viewer, id: ReportId) -> Result<Report>;
    /// Visible reports, newest first.
    async fn list_reports(
        &self,
        viewer: &Viewer,
        filter: &ReportFilter,
        page: &PageRequest,
    ) -> Result<Page<Report>>;
    /// Adds an attachment to a visible report (else `NotFound`). Its
    /// reporter may, and so may responders, admins and finance-ops who see
    /// it (others `Forbidden`); the incident may be in any status. The same
    /// limits as at filing apply (at most
    /// [`StoreOptions::max_attachment_bytes`], 20 per report, else
    /// `Invalid`). The file is written content-addressed first; the row,
    /// its audit entry and a timeline line on the report's incident are
    /// written in one transaction.
    async fn add_attachment(
        &self,
        viewer: &Viewer,
        report: ReportId,
        attachment: NewAttachment,
    ) -> Result<Attachment>;
    /// The largest attachment this store accepts, in bytes
    /// ([`StoreOptions::max_attachment_bytes`]); the HTTP layer sizes its
    /// upload limit from it.
    fn max_attachment_bytes(&self) -> usize {
        StoreOptions::default().max_attachment_bytes
    }
    /// Starts an upload by `viewer`: a private temporary file in the data
    /// directory that takes at most the per-file limit, and at most what is
    /// left of the viewer's and the store's attachment quotas
    /// ([`StoreOptions::max_attachment_bytes_per_user`],
    /// [`StoreOptions::max_attachment_bytes_total`]); with nothing left,
    /// [`StoreError::QuotaExceeded`] at once.
    async fn stage_attachment(&self, viewer: &Viewer) -> Result<StagedAttachment>;
    /// Adds a staged upload to a visible report, as [`Store::add_attachment`]
    /// does (the same permissions and per-report limit), checking the
    /// quotas again in the transaction that records it. The file is moved
    /// into its content-addressed place, never copied or read back whole.
    async fn add_staged_attachment(
        &self,
        viewer: &Viewer,
        report: ReportId,
        filename: String,
        content_type: String,
        staged: StagedAttachment,
    ) -> Result<Attachment>;
    /// Reads an attachment of a visible report, checking its hash. For a
    /// sensitive report (or one of a sensitive incident) it appends an
    /// `attachment.download` audit entry, except for the system viewer.
    async fn read_attachment(
        &self,
        viewer: &Viewer,
        id: AttachmentId,
    ) -> Result<(Attachment, Vec<u8>)>;

    // ----- alerts -----

    /// Ingests a detection (responders, admins, system): suppressed, queued
    /// ([`NewAlert::queue_only`]), grouped into an open incident, or opening
    /// a new one. With a [`NewAlert::key`] already stored it writes nothing
    /// and answers that alert as it is now, with
    /// [`AlertOutcome::duplicate`] set; two concurrent ingests of one key
    /// (two processes included) store one alert.
    async fn ingest_alert(&self, viewer: &Viewer, new: NewAlert) -> Result<AlertOutcome>;
    /// Ingests several detections as [`Store::ingest_alert`] would, one by
    /// one in order, in one transaction where it can (one commit, one
    /// fsync, for a burst of detections). The answers are in the same
    /// order; an alert the store refuses (invalid) has its error in its
    /// place and does not stop the others. The outer error means the store
    /// could not be used: the batch's transaction stored nothing, though
    /// when a refusal had sent it down the one-at-a-time path the alerts
    /// before the failure are stored (a retry of the batch finds the keyed
    /// ones as duplicates).
    async fn ingest_alerts(
        &self,
        viewer: &Viewer,
        batch: Vec<NewAlert>,
    ) -> Result<Vec<Result<AlertOutcome>>>;
    /// One visible alert.
    async fn get_alert(&self, viewer: &Viewer, id: AlertId) -> Result<Alert>;
    /// Visible alerts, newest first.
    async fn list_alerts(
        &self,
        viewer: &Viewer,
        filter: &AlertFilter,
        page: &PageRequest,
    ) -> Result<Page<Alert>>;
    /// Opens an incident from an unlinked (queued, suppressed or dismissed)
    /// alert. A linked alert gives `Conflict`.
    async fn promote_alert(&self, viewer: &Viewer, id: AlertId) -> Result<Incident>;
    /// Dismisses an alert: it is unlinked from its incident (whose alert
    /// count drops).
    async fn dismiss_alert(&self, viewer: &Viewer, id: AlertId, reason: &str) -> Result<Alert>;
    /// Creates a suppression rule.
    async fn create_suppression(
        &self,
        viewer: &Viewer,
        new: NewSuppression,
    ) -> Result<SuppressionRule>;
    /// Lists suppression rules (including expired ones).
    async fn list_suppressions(&self, viewer: &Viewer) -> Result<Vec<SuppressionRule>>;
    /// Deletes a suppression rule.
    async fn delete_suppression(&self, viewer: &Viewer, id: SuppressionId) -> Result<()>;

    // ----- incidents -----

    /// Opens an incident by hand (responders, admins).
    async fn create_incident(&self, viewer: &Viewer, new: NewIncident) -> Result<Incident>;
    /// One visible incident with its details (see [`IncidentDetail`]).
    /// Reading a sensitive incident appends an `incident.read` audit entry
    /// (no content copied), except for the system viewer.
    async fn get_incident(&self, viewer: &Viewer, id: IncidentId) -> Result<IncidentDetail>;
    /// Visible incidents matching `filter`, newest first.
    async fn list_incidents(
        &self,
        viewer: &Viewer,
        filter: &IncidentFilter,
        page: &PageRequest,
    ) -> Result<Page<Incident>>;
    /// Number of visible incidents matching `filter`.
    async fn count_incidents(&self, viewer: &Viewer, filter: &IncidentFilter) -> Result<i64>;
    /// Updates fields.
    async fn update_incident(
        &self,
        viewer: &Viewer,
        id: IncidentId,
        patch: IncidentPatch,
    ) -> Result<Incident>;
    /// Changes status through [`Incident::transition`]; `at` defaults to now.
    async fn transition_incident(
        &self,
        viewer: &Viewer,
        id: IncidentId,
        to: Status,
        at: Option<OffsetDateTime>,
    ) -> Result<Incident>;
    /// Sets or clears the owner (who becomes a participant).
    async fn assign_incident(
        &self,
        viewer: &Viewer,
        id: IncidentId,
        owner: Option<UserId>,
    ) -> Result<Incident>;
    /// Adds a named participant (who may then see the incident).
    async fn add_participant(&self, viewer: &Viewer, id: IncidentId, user: UserId) -> Result<()>;
    /// Names several participants in one transaction (at most 100): one
    /// unknown user and none is added.
    async fn add_participants(
        &self,
        viewer: &Viewer,
        id: IncidentId,
        users: &[UserId],
    ) -> Result<()>;
    /// Removes a named participant.
    async fn remove_participant(&self, viewer: &Viewer, id: IncidentId, user: UserId)
    -> Result<()>;
    /// Records the impact assessment.
    async fn set_impact(&self, viewer: &Viewer, id: IncidentId, impact: Impact)
    -> Result<Incident>;
    /// Records the resolution.
    async fn set_resolution(
        &self,
        viewer: &Viewer,
        id: IncidentId,
        resolution: Resolution,
    ) -> Result<Incident>;
    /// Sets resolution (and impact, when given) and closes, in one
    /// transaction; fails without change if closing is refused.
    async fn close_incident(
        &self,
        viewer: &Viewer,
        id: IncidentId,
        resolution: Resolution,
        impact: Option<Impact>,
        at: Option<OffsetDateTime>,
    ) -> Result<Incident>;
    /// Merges `source` into `target`: source becomes `merged` pointing at
    /// target; its reports, alerts and participants move; target becomes
    /// sensitive if source was. Returns the target.
    async fn merge_incidents(
        &self,
        viewer: &Viewer,
        source: IncidentId,
        target: IncidentId,
    ) -> Result<Incident>;
    /// Moves a report to an incident.
    async fn link_report(&self, viewer: &Viewer, id: IncidentId, report: ReportId) -> Result<()>;
    /// Moves an alert to an incident.
    async fn link_alert(&self, viewer: &Viewer, id: IncidentId, alert: AlertId) -> Result<()>;
    /// Adds a note (responders, admins, finance-ops).
    async fn add_note(&self, viewer: &Viewer, id: IncidentId, body: &str) -> Result<Note>;
    /// Adds a remediation task.
    async fn add_task(&self, viewer: &Viewer, id: IncidentId, new: NewTask) -> Result<Task>;
    /// Updates a task.
    async fn update_task(&self, viewer: &Viewer, id: TaskId, patch: TaskPatch) -> Result<Task>;
    /// TTA/TTR per severity and category over incidents reported in a period.
    async fn metrics(&self, viewer: &Viewer, query: MetricsQuery) -> Result<Metrics>;

    // ----- audit -----

    /// Visible audit entries with `seq > after_seq`, ascending, at most
    /// `limit` (1..=1000).
    async fn list_audit(
        &self,
        viewer: &Viewer,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<AuditEntry>>;
    /// Verifies the whole hash chain (admins, responders, system).
    async fn verify_audit(&self, viewer: &Viewer) -> Result<AuditReport>;

    // ----- outbox (system viewer only) -----

    // ----- SLA (see `crate::sla`) -----

    /// Where each incident of `ids` that the viewer sees came from, for
    /// SLA targets: the channels of its reports, and `detection` when alerts
    /// opened or joined it (each source once, in [`Source::ALL`] order; an
    /// incident with none is listed with an empty list). Staff only
    /// (`Forbidden` otherwise); incidents the viewer may not see are left
    /// out. At most 1000 ids (`Invalid`).
    async fn incident_sources(
        &self,
        viewer: &Viewer,
        ids: &[IncidentId],
    ) -> Result<Vec<(IncidentId, Vec<Source>)>>;
    /// Takes escalation `step` of the overdue clock `clock` of incident
    /// `id` at `at`: records it in `sla_escalations`, queues its notice
    /// ([`EscalationStep::outbox_kind`], the incident's payload with action
    /// [`EscalationStep::action`]) and appends its audit entry, in one
    /// transaction. Returns `false`, changing nothing, when that step of
    /// that clock was already taken (the unique key settles races and
    /// restarts). The system viewer only (`Forbidden`).
    async fn record_sla_escalation(
        &self,
        viewer: &Viewer,
        id: IncidentId,
        clock: &ClockStatus,
        step: EscalationStep,
        at: OffsetDateTime,
    ) -> Result<bool>;
    /// The escalations taken on incidents the viewer sees (of incident `id`
    /// when given), oldest first, at most 1000. Staff only (`Forbidden`).
    async fn list_sla_escalations(
        &self,
        viewer: &Viewer,
        id: Option<IncidentId>,
    ) -> Result<Vec<SlaEscalation>>;
    /// How many escalations were taken on incidents the viewer sees, per
    /// clock and step (only pairs with at least one). Staff only
    /// (`Forbidden`).
    async fn count_sla_escalations(&self, viewer: &Viewer) -> Result<Vec<EscalationCount>>;

    /// Claims up to `limit` pending messages due at `now`, leasing them for
    /// `lease`; a claimed message is not claimed again until its lease ends.
    async fn claim_outbox(
        &self,
        viewer: &Viewer,
        limit: u32,
        lease: Duration,
        now: OffsetDateTime,
    ) -> Result<Vec<OutboxMessage>>;
    /// Marks a message delivered.
    async fn mark_outbox_sent(
        &self,
        viewer: &Viewer,
        id: OutboxId,
        now: OffsetDateTime,
    ) -> Result<()>;
    /// Records a failed attempt: next attempt after [`crate::outbox::backoff`],
    /// or `dead` after [`crate::outbox::MAX_ATTEMPTS`].
    async fn mark_outbox_failed(
        &self,
        viewer: &Viewer,
        id: OutboxId,
        error: &str,
        now: OffsetDateTime,
    ) -> Result<OutboxMessage>;
    /// Atomically replaces a claimed message by one pending child per
    /// destination (payload plus `"destination"`, same kind, incident and
    /// `sensitive`), and marks the parent sent. Returns the children.
    async fn fan_out_outbox(
        &self,
        viewer: &Viewer,
        id: OutboxId,
        destinations: &[String],
        now: OffsetDateTime,
    ) -> Result<Vec<OutboxMessage>>;
    // ----- public advisories (see `crate::advisory`) -----

    /// Creates the draft advisory of `incident`, or replaces its draft's
    /// text (the caller becomes its author). Responders only (`Forbidden`
    /// before anything is looked up); the incident must be closed,
    /// confirmed and not sensitive, and a published advisory no longer
    /// changes (`Conflict` naming the reason).
    async fn save_advisory(
        &self,
        viewer: &Viewer,
        incident: IncidentId,
        text: AdvisoryText,
    ) -> Result<Advisory>;
    /// Publishes a draft advisory. Responders only, and never its author
    /// (`Forbidden`); the incident is checked again as for a draft.
    async fn approve_advisory(&self, viewer: &Viewer, id: &AdvisoryId) -> Result<Advisory>;
    /// Every advisory, drafts and published, newest first, at most 1000.
    /// Responders only.
    async fn list_advisories(&self, viewer: &Viewer) -> Result<Vec<Advisory>>;
    /// The advisory of `incident`, if it has one. Responders only.
    async fn incident_advisory(
        &self,
        viewer: &Viewer,
        incident: IncidentId,
    ) -> Result<Option<Advisory>>;
    /// The public read: published advisories of incidents that are not
    /// sensitive, newest first, at most 1000, with only their public fields.
    async fn published_advisories(&self) -> Result<Vec<PublicAdvisory>>;
    /// One published advisory, as in [`Store::published_advisories`];
    /// anything else is `NotFound`.
    async fn published_advisory(&self, id: &AdvisoryId) -> Result<PublicAdvisory>;

    /// Takes a message from the security@ mailbox (system viewer only,
    /// else `Forbidden`). A Message-ID recorded before is
    /// [`MailOutcome::AlreadySeen`] and changes nothing. A message whose
    /// `In-Reply-To`/`References` name a recorded message, or whose subject
    /// carries the tracking id of a report with mail, is a
    /// [`MailOutcome::FollowUp`]: a `mail` timeline line on that report's
    /// incident and a `mail.receive` audit entry. Anything else files an
    /// anonymous third-party `security_incident` report (subject, sender
    /// and text, capped at 20,000 characters; the attachments as given)
    /// with the message recorded in the same transaction.
    async fn take_inbound_mail(&self, viewer: &Viewer, mail: InboundMail) -> Result<MailOutcome>;
    /// Records a sent message of report `mail.report_id`'s thread, with its
    /// optional timeline line and a `mail.send` audit entry (system viewer
    /// only). Returns the report's incident. A Message-ID recorded before
    /// is a database unique violation.
    async fn record_outbound_mail(&self, viewer: &Viewer, mail: OutboundMail)
    -> Result<IncidentId>;
    /// The messages of a report's thread, oldest first (the newest 500):
    /// `NotFound` unless the viewer sees the report, then staff only
    /// (`Forbidden`).
    async fn mail_thread(&self, viewer: &Viewer, report: ReportId) -> Result<Vec<MailMessage>>;
    /// The poller's position in IMAP folder `mailbox`: (UIDVALIDITY, last
    /// UID taken), or `None` before the first message (system viewer only).
    async fn mailbox_position(&self, viewer: &Viewer, mailbox: &str) -> Result<Option<(u32, u32)>>;
    /// Saves the poller's position in IMAP folder `mailbox` (system viewer
    /// only; not audited: operational bookkeeping, like the outbox).
    async fn set_mailbox_position(
        &self,
        viewer: &Viewer,
        mailbox: &str,
        uidvalidity: u32,
        last_uid: u32,
    ) -> Result<()>;

    /// Lists messages (optionally by status), oldest first, at most 1000.
    async fn list_outbox(
        &self,
        viewer: &Viewer,
        status: Option<OutboxStatus>,
    ) -> Result<Vec<OutboxMessage>>;

    // ----- Slack threads (system viewer only) -----

    /// The Slack thread of incident `id`: where its first message was
    /// posted. `None` when nothing was posted yet.
    async fn slack_thread(&self, viewer: &Viewer, id: IncidentId) -> Result<Option<SlackThread>>;
    /// Records the Slack thread of incident `id`. The first one recorded
    /// stays (a second call changes nothing).
    async fn set_slack_thread(
        &self,
        viewer: &Viewer,
        id: IncidentId,
        thread: &SlackThread,
    ) -> Result<()>;

    // ----- "I didn't do this" checks (system viewer only) -----

    /// Stores a check for an alert mailed to the affected user (one per
    /// alert: a second is a conflict). The token itself is never stored.
    async fn create_user_check(
        &self,
        viewer: &Viewer,
        new: crate::user_check::NewUserCheck,
    ) -> Result<crate::user_check::UserCheck>;
    /// The unanswered check whose token hashes to `hash`, if it has not
    /// expired at `at`.
    async fn find_user_check(
        &self,
        viewer: &Viewer,
        hash: TokenHash,
        at: OffsetDateTime,
    ) -> Result<Option<crate::user_check::UserCheck>>;
    /// Records the answer of the unanswered, unexpired check whose token
    /// hashes to `hash`; `NotFound` when there is none (unknown, expired
    /// or already answered), so a check is answered once.
    async fn answer_user_check(
        &self,
        viewer: &Viewer,
        hash: TokenHash,
        answer: crate::user_check::CheckAnswer,
        at: OffsetDateTime,
    ) -> Result<crate::user_check::UserCheck>;
}

/// Where the first Slack message about an incident was posted: later
/// messages about it are replies in this thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackThread {
    /// The channel (as Slack answered it: usually its id).
    pub channel: String,
    /// The `ts` of the thread's first message.
    pub ts: String,
}
