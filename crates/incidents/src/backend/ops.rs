//! The [`Store`] implementation. Each method checks who may do it, runs its
//! queries with the visibility predicate from [`crate::access`], and writes
//! the change, its timeline line, its audit entry and (when it notifies) its
//! outbox message in one transaction.
//!
//! This file only maps the trait onto [`SqlStore`]: each method calls the
//! inherent method of the same name (inherent methods take precedence in
//! `SqlStore::name` paths) in the submodule for its concept. Submodules
//! share checks, paging and visible reads through [`checks`], [`paging`] and
//! [`visible`]. Architecture invariant: concept modules never call each
//! other's operations, only the row-level helpers they export
//! (`insert_incident`, `record_opened`, `add_timeline`, `enqueue`,
//! `fill_attachments`, ...), so no operation's checks run twice or are
//! skipped by a caller.

mod advisories;
mod alerts;
mod audit;
mod checks;
mod grants;
mod incidents;
mod lifecycle;
mod mail;
mod mail_rows;
mod metrics;
mod outbox;
mod paging;
mod passwords;
mod reports;
mod sessions;
mod sla;
mod slack;
mod timeline;
mod tokens;
mod user_checks;
mod users;
mod visible;

pub(super) use self::audit::init_audit_key;
pub(crate) use incidents::fold_case;

use async_trait::async_trait;
use time::{Duration, OffsetDateTime};

use super::{SqlStore, exec};
use crate::access::Viewer;
use crate::advisory::{Advisory, AdvisoryId, AdvisoryText, PublicAdvisory};
use crate::alert::{Alert, AlertOutcome, NewAlert, NewSuppression, SuppressionRule};
use crate::audit::{AuditEntry, AuditReport};
use crate::enums::{OutboxStatus, Resolution, Role, Source, Status};
use crate::ids::{
    AlertId, AttachmentId, IncidentId, OutboxId, ReportId, RoleGrantId, SuppressionId, TaskId,
    TokenId, UserId,
};
use crate::incident::{Impact, Incident, Note, Task};
use crate::mail::{InboundMail, MailMessage, MailOutcome, OutboundMail};
use crate::outbox::OutboxMessage;
use crate::query::Sql;
use crate::report::{Attachment, NewAttachment, NewReport, Report};
use crate::sla::{ClockStatus, EscalationCount, EscalationStep, SlaEscalation};
use crate::store::{
    AlertFilter, Backend, IncidentDetail, IncidentFilter, IncidentPatch, Metrics, MetricsQuery,
    NewIncident, NewTask, Page, PageRequest, ReportFilter, Result, SlackThread, Store, TaskPatch,
};
use crate::user::{ApiToken, NewSession, NewToken, NewUser, RoleGrant, TokenHash, User};

#[async_trait]
impl Store for SqlStore {
    fn backend(&self) -> Backend {
        self.backend
    }

    async fn close(&self) {
        if self.backend == Backend::Sqlite
            && let Err(error) =
                exec(&self.writer, &Sql::new("PRAGMA wal_checkpoint(TRUNCATE)")).await
        {
            tracing::warn!(%error, "WAL checkpoint at close failed");
        }
        self.writer.close().await;
        self.reader.close().await;
    }

    // ----- users and tokens -----

    async fn create_user(&self, v: &Viewer, new: NewUser) -> Result<User> {
        SqlStore::create_user(self, v, new).await
    }

    async fn count_users(&self, v: &Viewer) -> Result<i64> {
        SqlStore::count_users(self, v).await
    }

    async fn list_users(&self, v: &Viewer) -> Result<Vec<User>> {
        SqlStore::list_users(self, v).await
    }

    async fn get_user(&self, v: &Viewer, id: UserId) -> Result<User> {
        SqlStore::get_user(self, v, id).await
    }

    async fn get_user_by_name(&self, v: &Viewer, name: &str) -> Result<User> {
        SqlStore::get_user_by_name(self, v, name).await
    }

    async fn set_user_disabled(&self, v: &Viewer, id: UserId, disabled: bool) -> Result<User> {
        SqlStore::set_user_disabled(self, v, id, disabled).await
    }

    async fn set_user_role(&self, v: &Viewer, id: UserId, role: Role) -> Result<User> {
        SqlStore::set_user_role(self, v, id, role).await
    }

    async fn request_role(&self, v: &Viewer, user: UserId, role: Role) -> Result<RoleGrant> {
        SqlStore::request_role(self, v, user, role).await
    }

    async fn approve_role(
        &self,
        v: &Viewer,
        id: RoleGrantId,
        token: TokenHash,
    ) -> Result<(User, ApiToken)> {
        SqlStore::approve_role(self, v, id, token).await
    }

    async fn reject_role(&self, v: &Viewer, id: RoleGrantId) -> Result<RoleGrant> {
        SqlStore::reject_role(self, v, id).await
    }

    async fn list_role_grants(&self, v: &Viewer) -> Result<Vec<RoleGrant>> {
        SqlStore::list_role_grants(self, v).await
    }

    async fn create_token(
        &self,
        v: &Viewer,
        user: UserId,
        label: &str,
        hash: TokenHash,
    ) -> Result<ApiToken> {
        SqlStore::create_token(self, v, user, label, hash).await
    }

    async fn issue_token(&self, v: &Viewer, user: UserId, new: NewToken) -> Result<ApiToken> {
        SqlStore::issue_token(self, v, user, new).await
    }

    async fn get_token(&self, v: &Viewer, id: TokenId) -> Result<ApiToken> {
        SqlStore::get_token(self, v, id).await
    }

    async fn revoke_token(&self, v: &Viewer, id: TokenId) -> Result<()> {
        SqlStore::revoke_token(self, v, id).await
    }

    async fn rotate_token(&self, v: &Viewer, id: TokenId, hash: TokenHash) -> Result<ApiToken> {
        SqlStore::rotate_token(self, v, id, hash).await
    }

    async fn list_tokens(&self, v: &Viewer, user: UserId) -> Result<Vec<ApiToken>> {
        SqlStore::list_tokens(self, v, user).await
    }

    async fn authenticate(&self, hash: TokenHash) -> Result<Option<(User, Viewer)>> {
        SqlStore::authenticate(self, hash).await
    }

    // ----- passwords and browser sessions -----

    async fn set_password(&self, v: &Viewer, user: UserId, hash: Option<String>) -> Result<()> {
        SqlStore::set_password(self, v, user, hash).await
    }

    async fn password_login(&self, name: &str) -> Result<Option<(UserId, String)>> {
        SqlStore::password_login(self, name).await
    }

    async fn create_session(&self, new: NewSession) -> Result<()> {
        SqlStore::create_session(self, new).await
    }

    async fn session(
        &self,
        id_hash: TokenHash,
        now: OffsetDateTime,
        idle: std::time::Duration,
    ) -> Result<Option<(User, Viewer, String)>> {
        SqlStore::session(self, id_hash, now, idle).await
    }

    async fn delete_session(&self, id_hash: TokenHash) -> Result<()> {
        SqlStore::delete_session(self, id_hash).await
    }

    // ----- reports -----

    async fn file_report(&self, v: &Viewer, new: NewReport) -> Result<Report> {
        SqlStore::file_report(self, v, new).await
    }

    async fn get_report(&self, v: &Viewer, id: ReportId) -> Result<Report> {
        SqlStore::get_report(self, v, id).await
    }

    async fn list_reports(
        &self,
        v: &Viewer,
        filter: &ReportFilter,
        page: &PageRequest,
    ) -> Result<Page<Report>> {
        SqlStore::list_reports(self, v, filter, page).await
    }

    async fn add_attachment(
        &self,
        v: &Viewer,
        report: ReportId,
        attachment: NewAttachment,
    ) -> Result<Attachment> {
        SqlStore::add_attachment(self, v, report, attachment).await
    }

    fn max_attachment_bytes(&self) -> usize {
        self.options.max_attachment_bytes
    }

    async fn stage_attachment(&self, v: &Viewer) -> Result<crate::StagedAttachment> {
        SqlStore::stage_attachment(self, v).await
    }

    async fn add_staged_attachment(
        &self,
        v: &Viewer,
        report: ReportId,
        filename: String,
        content_type: String,
        staged: crate::StagedAttachment,
    ) -> Result<Attachment> {
        SqlStore::add_staged_attachment(self, v, report, filename, content_type, staged).await
    }

    async fn read_attachment(&self, v: &Viewer, id: AttachmentId) -> Result<(Attachment, Vec<u8>)> {
        SqlStore::read_attachment(self, v, id).await
    }

    // ----- alerts and suppressions -----

    async fn ingest_alert(&self, v: &Viewer, new: NewAlert) -> Result<AlertOutcome> {
        SqlStore::ingest_alert(self, v, new).await
    }

    async fn ingest_alerts(
        &self,
        v: &Viewer,
        batch: Vec<NewAlert>,
    ) -> Result<Vec<Result<AlertOutcome>>> {
        SqlStore::ingest_alerts(self, v, batch).await
    }

    async fn get_alert(&self, v: &Viewer, id: AlertId) -> Result<Alert> {
        SqlStore::get_alert(self, v, id).await
    }

    async fn list_alerts(
        &self,
        v: &Viewer,
        filter: &AlertFilter,
        page: &PageRequest,
    ) -> Result<Page<Alert>> {
        SqlStore::list_alerts(self, v, filter, page).await
    }

    async fn promote_alert(&self, v: &Viewer, id: AlertId) -> Result<Incident> {
        SqlStore::promote_alert(self, v, id).await
    }

    async fn dismiss_alert(&self, v: &Viewer, id: AlertId, reason: &str) -> Result<Alert> {
        SqlStore::dismiss_alert(self, v, id, reason).await
    }

    async fn create_suppression(&self, v: &Viewer, new: NewSuppression) -> Result<SuppressionRule> {
        SqlStore::create_suppression(self, v, new).await
    }

    async fn list_suppressions(&self, v: &Viewer) -> Result<Vec<SuppressionRule>> {
        SqlStore::list_suppressions(self, v).await
    }

    async fn delete_suppression(&self, v: &Viewer, id: SuppressionId) -> Result<()> {
        SqlStore::delete_suppression(self, v, id).await
    }

    // ----- incidents -----

    async fn create_incident(&self, v: &Viewer, new: NewIncident) -> Result<Incident> {
        SqlStore::create_incident(self, v, new).await
    }

    async fn get_incident(&self, v: &Viewer, id: IncidentId) -> Result<IncidentDetail> {
        SqlStore::get_incident(self, v, id).await
    }

    async fn list_incidents(
        &self,
        v: &Viewer,
        filter: &IncidentFilter,
        page: &PageRequest,
    ) -> Result<Page<Incident>> {
        SqlStore::list_incidents(self, v, filter, page).await
    }

    async fn count_incidents(&self, v: &Viewer, filter: &IncidentFilter) -> Result<i64> {
        SqlStore::count_incidents(self, v, filter).await
    }

    // ----- incident lifecycle -----

    async fn update_incident(
        &self,
        v: &Viewer,
        id: IncidentId,
        patch: IncidentPatch,
    ) -> Result<Incident> {
        SqlStore::update_incident(self, v, id, patch).await
    }

    async fn transition_incident(
        &self,
        v: &Viewer,
        id: IncidentId,
        to: Status,
        at: Option<OffsetDateTime>,
    ) -> Result<Incident> {
        SqlStore::transition_incident(self, v, id, to, at).await
    }

    async fn assign_incident(
        &self,
        v: &Viewer,
        id: IncidentId,
        owner: Option<UserId>,
    ) -> Result<Incident> {
        SqlStore::assign_incident(self, v, id, owner).await
    }

    async fn add_participant(&self, v: &Viewer, id: IncidentId, user: UserId) -> Result<()> {
        SqlStore::add_participant(self, v, id, user).await
    }

    async fn add_participants(&self, v: &Viewer, id: IncidentId, users: &[UserId]) -> Result<()> {
        SqlStore::add_participants(self, v, id, users).await
    }

    async fn remove_participant(&self, v: &Viewer, id: IncidentId, user: UserId) -> Result<()> {
        SqlStore::remove_participant(self, v, id, user).await
    }

    async fn set_impact(&self, v: &Viewer, id: IncidentId, impact: Impact) -> Result<Incident> {
        SqlStore::set_impact(self, v, id, impact).await
    }

    async fn set_resolution(
        &self,
        v: &Viewer,
        id: IncidentId,
        resolution: Resolution,
    ) -> Result<Incident> {
        SqlStore::set_resolution(self, v, id, resolution).await
    }

    async fn close_incident(
        &self,
        v: &Viewer,
        id: IncidentId,
        resolution: Resolution,
        impact: Option<Impact>,
        at: Option<OffsetDateTime>,
    ) -> Result<Incident> {
        SqlStore::close_incident(self, v, id, resolution, impact, at).await
    }

    async fn merge_incidents(
        &self,
        v: &Viewer,
        source: IncidentId,
        target: IncidentId,
    ) -> Result<Incident> {
        SqlStore::merge_incidents(self, v, source, target).await
    }

    async fn link_report(&self, v: &Viewer, id: IncidentId, report: ReportId) -> Result<()> {
        SqlStore::link_report(self, v, id, report).await
    }

    async fn link_alert(&self, v: &Viewer, id: IncidentId, alert: AlertId) -> Result<()> {
        SqlStore::link_alert(self, v, id, alert).await
    }

    // ----- notes and tasks -----

    async fn add_note(&self, v: &Viewer, id: IncidentId, body: &str) -> Result<Note> {
        SqlStore::add_note(self, v, id, body).await
    }

    async fn add_task(&self, v: &Viewer, id: IncidentId, new: NewTask) -> Result<Task> {
        SqlStore::add_task(self, v, id, new).await
    }

    async fn update_task(&self, v: &Viewer, id: TaskId, patch: TaskPatch) -> Result<Task> {
        SqlStore::update_task(self, v, id, patch).await
    }

    // ----- metrics -----

    async fn metrics(&self, v: &Viewer, query: MetricsQuery) -> Result<Metrics> {
        SqlStore::metrics(self, v, query).await
    }

    // ----- audit -----

    async fn list_audit(&self, v: &Viewer, after_seq: i64, limit: u32) -> Result<Vec<AuditEntry>> {
        SqlStore::list_audit(self, v, after_seq, limit).await
    }

    async fn verify_audit(&self, v: &Viewer) -> Result<AuditReport> {
        SqlStore::verify_audit(self, v).await
    }

    // ----- SLA -----

    async fn incident_sources(
        &self,
        v: &Viewer,
        ids: &[IncidentId],
    ) -> Result<Vec<(IncidentId, Vec<Source>)>> {
        SqlStore::incident_sources(self, v, ids).await
    }

    async fn record_sla_escalation(
        &self,
        v: &Viewer,
        id: IncidentId,
        clock: &ClockStatus,
        step: EscalationStep,
        at: OffsetDateTime,
    ) -> Result<bool> {
        SqlStore::record_sla_escalation(self, v, id, clock, step, at).await
    }

    async fn list_sla_escalations(
        &self,
        v: &Viewer,
        id: Option<IncidentId>,
    ) -> Result<Vec<SlaEscalation>> {
        SqlStore::list_sla_escalations(self, v, id).await
    }

    async fn count_sla_escalations(&self, v: &Viewer) -> Result<Vec<EscalationCount>> {
        SqlStore::count_sla_escalations(self, v).await
    }

    // ----- outbox -----

    async fn claim_outbox(
        &self,
        v: &Viewer,
        limit: u32,
        lease: Duration,
        now: OffsetDateTime,
    ) -> Result<Vec<OutboxMessage>> {
        SqlStore::claim_outbox(self, v, limit, lease, now).await
    }

    async fn mark_outbox_sent(&self, v: &Viewer, id: OutboxId, now: OffsetDateTime) -> Result<()> {
        SqlStore::mark_outbox_sent(self, v, id, now).await
    }

    async fn mark_outbox_failed(
        &self,
        v: &Viewer,
        id: OutboxId,
        error: &str,
        now: OffsetDateTime,
    ) -> Result<OutboxMessage> {
        SqlStore::mark_outbox_failed(self, v, id, error, now).await
    }

    async fn fan_out_outbox(
        &self,
        v: &Viewer,
        id: OutboxId,
        destinations: &[String],
        now: OffsetDateTime,
    ) -> Result<Vec<OutboxMessage>> {
        SqlStore::fan_out_outbox(self, v, id, destinations, now).await
    }

    async fn list_outbox(
        &self,
        v: &Viewer,
        status: Option<OutboxStatus>,
    ) -> Result<Vec<OutboxMessage>> {
        SqlStore::list_outbox(self, v, status).await
    }

    // ----- Slack threads -----

    async fn slack_thread(&self, v: &Viewer, id: IncidentId) -> Result<Option<SlackThread>> {
        SqlStore::slack_thread(self, v, id).await
    }

    async fn set_slack_thread(
        &self,
        v: &Viewer,
        id: IncidentId,
        thread: &SlackThread,
    ) -> Result<()> {
        SqlStore::set_slack_thread(self, v, id, thread).await
    }

    // ----- "I didn't do this" checks -----

    async fn create_user_check(
        &self,
        v: &Viewer,
        new: crate::user_check::NewUserCheck,
    ) -> Result<crate::user_check::UserCheck> {
        SqlStore::create_user_check(self, v, new).await
    }

    async fn find_user_check(
        &self,
        v: &Viewer,
        hash: TokenHash,
        at: OffsetDateTime,
    ) -> Result<Option<crate::user_check::UserCheck>> {
        SqlStore::find_user_check(self, v, hash, at).await
    }

    async fn answer_user_check(
        &self,
        v: &Viewer,
        hash: TokenHash,
        answer: crate::user_check::CheckAnswer,
        at: OffsetDateTime,
    ) -> Result<crate::user_check::UserCheck> {
        SqlStore::answer_user_check(self, v, hash, answer, at).await
    }

    // ----- public advisories -----

    async fn save_advisory(
        &self,
        v: &Viewer,
        incident: IncidentId,
        text: AdvisoryText,
    ) -> Result<Advisory> {
        SqlStore::save_advisory(self, v, incident, text).await
    }

    async fn approve_advisory(&self, v: &Viewer, id: &AdvisoryId) -> Result<Advisory> {
        SqlStore::approve_advisory(self, v, id).await
    }

    async fn list_advisories(&self, v: &Viewer) -> Result<Vec<Advisory>> {
        SqlStore::list_advisories(self, v).await
    }

    async fn incident_advisory(
        &self,
        v: &Viewer,
        incident: IncidentId,
    ) -> Result<Option<Advisory>> {
        SqlStore::incident_advisory(self, v, incident).await
    }

    async fn published_advisories(&self) -> Result<Vec<PublicAdvisory>> {
        SqlStore::published_advisories(self).await
    }

    async fn published_advisory(&self, id: &AdvisoryId) -> Result<PublicAdvisory> {
        SqlStore::published_advisory(self, id).await
    }

    // ----- the security@ mailbox -----

    async fn take_inbound_mail(&self, v: &Viewer, mail: InboundMail) -> Result<MailOutcome> {
        SqlStore::take_inbound_mail(self, v, mail).await
    }

    async fn record_outbound_mail(&self, v: &Viewer, mail: OutboundMail) -> Result<IncidentId> {
        SqlStore::record_outbound_mail(self, v, mail).await
    }

    async fn mail_thread(&self, v: &Viewer, report: ReportId) -> Result<Vec<MailMessage>> {
        SqlStore::mail_thread(self, v, report).await
    }

    async fn mailbox_position(&self, v: &Viewer, mailbox: &str) -> Result<Option<(u32, u32)>> {
        SqlStore::mailbox_position(self, v, mailbox).await
    }

    async fn set_mailbox_position(
        &self,
        v: &Viewer,
        mailbox: &str,
        uidvalidity: u32,
        last_uid: u32,
    ) -> Result<()> {
        SqlStore::set_mailbox_position(self, v, mailbox, uidvalidity, last_uid).await
    }
}
