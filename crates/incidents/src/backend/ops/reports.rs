//! Reports: filing one (which opens a triage incident), reading them
//! back, adding attachments later, and their content-addressed attachment
//! files (written under the data directory before the transaction that
//! records them; a file whose transaction fails stays behind, unreferenced).
//!
//! Uploads are staged: streamed to a private temporary file under
//! `attachments/incoming/`, hashed and counted on the way, then moved to
//! `attachments/<aa>/<sha256>`. Directories are created `0700` and files
//! `0600`, whatever the umask. Quotas (reports per user per hour,
//! attachment bytes per user and in total) are checked before anything is
//! written and again inside the transaction that records the change, where
//! writers are serialised, so two racing requests cannot both slip under a
//! limit.

use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::{Any, Executor};

use super::checks::{MAX_TEXT, check_len, forbid, not_future, people_only, to_json};
use super::incidents::{insert_incident, record_opened};
use super::mail_rows::{MailRecord, insert_mail};
use super::paging::{cursor_of, keyset, page_limit, paginate};
use super::timeline::add_timeline;
use super::visible::{fill_attachments, load_report};
use crate::access::{Viewer, report_visible};
use crate::audit::unix_micros;
use crate::backend::rows::{ATTACHMENT_COLS, AttachmentRow, REPORT_COLS, ReportRow};
use crate::backend::{
    Change, SqlStore, Tx, append_audit, exec, fetch_domain, fetch_one, fetch_opt, now, opt_micros,
};
use crate::ids::{AttachmentId, ReportId};
use crate::query::{Arg, Sql};
use crate::report::{Attachment, NewAttachment, NewReport, Report};
use crate::staged::{Finished, StagedAttachment, io};
use crate::store::{Page, PageRequest, ReportFilter, Result, StoreError};

/// The most attachments one report may carry (filed with it and added
/// later together).
const MAX_ATTACHMENTS_PER_REPORT: usize = NewReport::MAX_ATTACHMENTS;

fn too_many_attachments() -> StoreError {
    StoreError::Invalid(format!(
        "at most {MAX_ATTACHMENTS_PER_REPORT} attachments per report"
    ))
}

/// Inserts an attachment's row in `tx` (its file is already written),
/// uploaded by `v` (counted against their quota).
async fn insert_attachment(tx: &mut Tx, a: &Attachment, v: &Viewer) -> Result<()> {
    let mut q = Sql::new(
        "INSERT INTO attachments (id, report_id, filename, content_type, size, sha256, uploaded_by) VALUES ",
    );
    q.bind_list([
        Arg::from(a.id.to_string()),
        Arg::from(a.report_id.to_string()),
        Arg::from(a.filename.clone()),
        Arg::from(a.content_type.clone()),
        Arg::from(a.size),
        Arg::from(a.sha256.clone()),
        Arg::from(v.user_id.to_string()),
    ]);
    exec(&mut **tx, &q).await?;
    Ok(())
}

/// Number of attachments report `report` has.
async fn attachment_count<'e, E: Executor<'e, Database = Any>>(
    e: E,
    report: ReportId,
) -> Result<usize> {
    let mut q = Sql::new("SELECT COUNT(*) FROM attachments WHERE report_id = ");
    q.bind(report.to_string());
    let (n,): (i64,) = fetch_opt(e, &q).await?.unwrap_or((0,));
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

/// `Forbidden` unless `v` may add attachments to report `r` (which they
/// can see).
fn may_attach(v: &Viewer, r: &Report) -> Result<()> {
    forbid(
        v.can_add_attachments(r),
        "only the reporter, responders, admins and finance-ops add attachments",
    )
}

/// The window of the reports-per-hour limit, in microseconds.
const REPORT_WINDOW_MICROS: i64 = 3_600_000_000;

/// Refuses a report by `v` at `at` when they filed the hourly limit's worth
/// in the hour before; the answer says when the oldest of those leaves the
/// window. The system actor is not limited.
async fn check_report_rate(
    conn: &mut sqlx::AnyConnection,
    v: &Viewer,
    limit: u32,
    at: time::OffsetDateTime,
) -> Result<()> {
    if v.is_system() {
        return Ok(());
    }
    let now = unix_micros(at);
    let mut q = Sql::new("SELECT COUNT(*), MIN(created_at) FROM reports WHERE reporter_id = ");
    q.bind(v.user_id.to_string())
        .push(" AND created_at > ")
        .bind(now - REPORT_WINDOW_MICROS);
    let (count, oldest): (i64, Option<i64>) = fetch_opt(&mut *conn, &q).await?.unwrap_or((0, None));
    if count < i64::from(limit) {
        return Ok(());
    }
    let free_at = oldest.unwrap_or(now) + REPORT_WINDOW_MICROS;
    let wait_micros = u64::try_from(free_at - now).unwrap_or(0);
    let retry_after_secs = wait_micros.div_ceil(1_000_000).max(1);
    Err(StoreError::RateLimited {
        message: format!(
            "too many reports: at most {limit} per hour; try again in {retry_after_secs} s"
        ),
        retry_after_secs,
    })
}

/// Attachment bytes recorded, in all or (with `uploader`) by one user.
async fn attachment_bytes(
    conn: &mut sqlx::AnyConnection,
    uploader: Option<&Viewer>,
) -> Result<u64> {
    let mut q = Sql::new("SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM attachments");
    if let Some(v) = uploader {
        q.push(" WHERE uploaded_by = ").bind(v.user_id.to_string());
    }
    let (n,): (i64,) = fetch_opt(&mut *conn, &q).await?.unwrap_or((0,));
    Ok(u64::try_from(n).unwrap_or(0))
}

impl SqlStore {
    /// How many more attachment bytes `v` may upload now, and the message
    /// for going past it: the smallest of the per-file limit, what is left
    /// of `v`'s quota (the system actor has none) and what is left in all.
    async fn attachment_allowance(
        &self,
        conn: &mut sqlx::AnyConnection,
        v: &Viewer,
    ) -> Result<(u64, String)> {
        let per_file = u64::try_from(self.options.max_attachment_bytes).unwrap_or(u64::MAX);
        let mut allowance = (
            per_file,
            format!("attachment too large: at most {per_file} bytes per file"),
        );
        let total = self.options.max_attachment_bytes_total;
        let left = total.saturating_sub(attachment_bytes(&mut *conn, None).await?);
        if left < allowance.0 {
            allowance = (
                left,
                format!(
                    "attachment storage is full: {left} of its {total} bytes are left; ask an administrator"
                ),
            );
        }
        if !v.is_system() {
            let quota = self.options.max_attachment_bytes_per_user;
            let left = quota.saturating_sub(attachment_bytes(&mut *conn, Some(v)).await?);
            if left < allowance.0 {
                allowance = (
                    left,
                    format!("attachment quota exceeded: {left} of your {quota} bytes are left"),
                );
            }
        }
        Ok(allowance)
    }

    /// Refuses `bytes` more attachment bytes by `v` when past the allowance.
    async fn check_attachment_quota(
        &self,
        conn: &mut sqlx::AnyConnection,
        v: &Viewer,
        bytes: u64,
    ) -> Result<()> {
        let (allowed, message) = self.attachment_allowance(conn, v).await?;
        if bytes > allowed {
            return Err(StoreError::QuotaExceeded(message));
        }
        Ok(())
    }

    /// Creates a private directory (and its parents), `0700`.
    async fn private_dir(&self, dir: &std::path::Path) -> Result<()> {
        let mut builder = tokio::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        builder.mode(0o700);
        builder.create(dir).await.map_err(io(dir))
    }

    /// A new staged file for `v`, refusing more than `allowance` bytes.
    async fn new_staged(&self, allowance: (u64, String)) -> Result<StagedAttachment> {
        let dir = self.data_dir.join("attachments").join("incoming");
        self.private_dir(&dir).await?;
        let path = dir.join(format!("{}.part", uuid::Uuid::now_v7()));
        StagedAttachment::create(path, allowance.0, allowance.1).await
    }

    pub(super) async fn stage_attachment(&self, v: &Viewer) -> Result<StagedAttachment> {
        people_only(v)?;
        let mut conn = self.reader.acquire().await?;
        let allowance = self.attachment_allowance(&mut conn, v).await?;
        drop(conn);
        if allowance.0 == 0 {
            return Err(StoreError::QuotaExceeded(allowance.1));
        }
        self.new_staged(allowance).await
    }

    /// Moves a finished staged file to its content-addressed place
    /// (`0600`); when the content is already there, the staged copy is
    /// deleted. Returns the hex SHA-256.
    async fn place(&self, mut finished: Finished) -> Result<String> {
        let sha = finished.sha256.clone();
        let dir = self.data_dir.join("attachments").join(&sha[..2]);
        self.private_dir(&dir).await?;
        let path = dir.join(&sha);
        if tokio::fs::try_exists(&path).await.unwrap_or(false) {
            return Ok(sha);
        }
        tokio::fs::rename(&finished.path, &path)
            .await
            .map_err(io(&path))?;
        finished.guard.disarm();
        Ok(sha)
    }

    /// Writes an attachment to its content-addressed file (idempotent).
    async fn write_attachment(&self, bytes: &[u8]) -> Result<String> {
        let mut staged = self
            .new_staged((u64::MAX, "attachment too large".to_owned()))
            .await?;
        staged.write(bytes).await?;
        self.place(staged.finish().await?).await
    }

    /// Checks an attachment's file name, type and size against the limits.
    fn check_attachment(&self, a: &NewAttachment) -> Result<()> {
        check_len("attachment filename", &a.filename, 1, 255)?;
        check_len("attachment content type", &a.content_type, 0, 255)?;
        if a.bytes.len() > self.options.max_attachment_bytes {
            return Err(StoreError::Invalid(format!(
                "attachment {:?} is {} bytes; the limit is {}",
                a.filename,
                a.bytes.len(),
                self.options.max_attachment_bytes
            )));
        }
        Ok(())
    }

    /// Writes a checked attachment's file and returns its metadata as an
    /// attachment of `report` (the row is inserted by the caller, in its
    /// transaction).
    async fn store_attachment(&self, report: ReportId, a: &NewAttachment) -> Result<Attachment> {
        let sha256 = self.write_attachment(&a.bytes).await?;
        Ok(Attachment {
            id: AttachmentId::new(),
            report_id: report,
            filename: a.filename.clone(),
            content_type: a.content_type.clone(),
            size: i64::try_from(a.bytes.len()).unwrap_or(i64::MAX),
            sha256,
        })
    }

    pub(super) async fn add_attachment(
        &self,
        v: &Viewer,
        report: ReportId,
        new: NewAttachment,
    ) -> Result<Attachment> {
        people_only(v)?;
        // Who may, and whether it fits, before anything is written to disk.
        let r = load_report(&self.reader, v, report).await?;
        may_attach(v, &r)?;
        self.check_attachment(&new)?;
        if attachment_count(&self.reader, report).await? >= MAX_ATTACHMENTS_PER_REPORT {
            return Err(too_many_attachments());
        }
        let mut staged = self.stage_attachment(v).await?;
        staged.write(&new.bytes).await?;
        drop(new.bytes);
        self.add_staged_attachment(v, report, new.filename, new.content_type, staged)
            .await
    }

    pub(super) async fn add_staged_attachment(
        &self,
        v: &Viewer,
        report: ReportId,
        filename: String,
        content_type: String,
        staged: StagedAttachment,
    ) -> Result<Attachment> {
        people_only(v)?;
        check_len("attachment filename", &filename, 1, 255)?;
        check_len("attachment content type", &content_type, 0, 255)?;
        // Who may, before the file is kept.
        let r = load_report(&self.reader, v, report).await?;
        may_attach(v, &r)?;
        let finished = staged.finish().await?;
        let mut tx = self.begin().await?;
        // Again under the write lock: the report may have been moved to
        // another incident, or filled up, and other uploads may have used
        // the quota, in between.
        let r = load_report(&mut *tx, v, report).await?;
        may_attach(v, &r)?;
        if attachment_count(&mut *tx, report).await? >= MAX_ATTACHMENTS_PER_REPORT {
            return Err(too_many_attachments());
        }
        self.check_attachment_quota(&mut tx, v, finished.size)
            .await?;
        let attachment = Attachment {
            id: AttachmentId::new(),
            report_id: report,
            filename,
            content_type,
            size: i64::try_from(finished.size).unwrap_or(i64::MAX),
            sha256: self.place(finished).await?,
        };
        let at = now();
        insert_attachment(&mut tx, &attachment, v).await?;
        add_timeline(
            &mut tx,
            r.incident_id,
            at,
            v.user_id,
            "attachment",
            &format!("attachment added to a report: {}", attachment.filename),
        )
        .await?;
        append_audit(
            &mut tx,
            v,
            at,
            Change {
                action: "attachment.add",
                entity: "attachment",
                entity_id: attachment.id.to_string(),
                incident_id: Some(r.incident_id),
                related_incident_id: None,
                before: Value::Null,
                after: to_json(&attachment),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(attachment)
    }

    pub(super) async fn file_report(&self, v: &Viewer, new: NewReport) -> Result<Report> {
        self.file_report_recording(v, new, None).await
    }

    /// Files a report as [`Self::file_report`] does; with `mail`, the
    /// message it came in is recorded in the same transaction (so a
    /// message is never filed twice, nor recorded without its report).
    pub(super) async fn file_report_recording(
        &self,
        v: &Viewer,
        new: NewReport,
        mail: Option<&MailRecord>,
    ) -> Result<Report> {
        people_only(v)?;
        check_len("description", &new.description, 1, MAX_TEXT)?;
        if let Some(l) = &new.location {
            check_len("location", l, 0, 500)?;
        }
        if new.anonymous && !new.channel.allows_anonymous() {
            return Err(StoreError::Invalid(format!(
                "anonymous reports are accepted only on the email and third-party channels, not {}",
                new.channel
            )));
        }
        let at = now();
        if let Some(o) = new.occurred_at {
            not_future("occurred_at", o, at)?;
        }
        if new.attachments.len() > MAX_ATTACHMENTS_PER_REPORT {
            return Err(too_many_attachments());
        }
        for a in &new.attachments {
            self.check_attachment(a)?;
        }
        let new_bytes: u64 = new.attachments.iter().map(|a| a.bytes.len() as u64).sum();
        {
            let mut conn = self.reader.acquire().await?;
            check_report_rate(&mut conn, v, self.options.max_reports_per_hour, at).await?;
            if new_bytes > 0 {
                self.check_attachment_quota(&mut conn, v, new_bytes).await?;
            }
        }
        let report_id = ReportId::new();
        let mut attachments = Vec::new();
        for a in &new.attachments {
            attachments.push(self.store_attachment(report_id, a).await?);
        }
        let incident = new.incident(at);
        let sensitive = incident.sensitive;
        let report = Report {
            id: report_id,
            reporter: (!new.anonymous).then_some(v.user_id),
            channel: new.channel,
            category: new.category,
            description: new.description,
            occurred_at: new.occurred_at,
            location: new.location,
            sensitive,
            incident_id: incident.id,
            incident_status: incident.status,
            attachments,
            created_at: at,
        };
        let mut tx = self.begin().await?;
        // Again under the write lock, so racing requests cannot both pass.
        check_report_rate(&mut tx, v, self.options.max_reports_per_hour, at).await?;
        if new_bytes > 0 {
            self.check_attachment_quota(&mut tx, v, new_bytes).await?;
        }
        insert_incident(&mut tx, &incident).await?;
        let mut q = Sql::new(
            "INSERT INTO reports (id, reporter_id, channel, category, description, occurred_at, location, sensitive, incident_id, created_at, description_lc) VALUES ",
        );
        q.bind_list([
            Arg::from(report.id.to_string()),
            Arg::from(report.reporter.map(|r| r.to_string())),
            Arg::from(report.channel.as_str()),
            Arg::from(report.category.as_str()),
            Arg::from(report.description.clone()),
            opt_micros(report.occurred_at),
            Arg::from(report.location.clone()),
            Arg::from(report.sensitive),
            Arg::from(incident.id.to_string()),
            Arg::from(unix_micros(at)),
            Arg::from(super::fold_case(&report.description)),
        ]);
        exec(&mut *tx, &q).await?;
        for a in &report.attachments {
            insert_attachment(&mut tx, a, v).await?;
        }
        if let Some(mail) = mail {
            insert_mail(&mut tx, report.id, mail, at).await?;
        }
        append_audit(
            &mut tx,
            v,
            at,
            Change {
                action: "report.file",
                entity: "report",
                entity_id: report.id.to_string(),
                incident_id: Some(incident.id),
                related_incident_id: None,
                before: Value::Null,
                after: to_json(&report),
            },
        )
        .await?;
        record_opened(
            &mut tx,
            v,
            &incident,
            &format!(
                "opened by a {} report via {}",
                report.category, report.channel
            ),
            &format!(
                "New {} report filed via {}",
                report.category, report.channel
            ),
            at,
        )
        .await?;
        tx.commit().await?;
        Ok(report)
    }

    pub(super) async fn get_report(&self, v: &Viewer, id: ReportId) -> Result<Report> {
        let mut r = load_report(&self.reader, v, id).await?;
        self.record_report_read(v, id, "report.read", "report", id.to_string())
            .await?;
        fill_attachments(&self.reader, std::slice::from_mut(&mut r)).await?;
        Ok(r)
    }

    pub(super) async fn list_reports(
        &self,
        v: &Viewer,
        filter: &ReportFilter,
        page: &PageRequest,
    ) -> Result<Page<Report>> {
        let limit = page_limit(page)?;
        let mut q = Sql::new(&format!(
            "SELECT {REPORT_COLS} FROM reports r JOIN incidents ri ON ri.id = r.incident_id WHERE "
        ));
        report_visible(&mut q, v, "r");
        if !filter.category.is_empty() {
            q.push(" AND r.category IN ")
                .bind_list(filter.category.iter().map(|c| c.as_str()));
        }
        if let Some(u) = filter.reporter {
            q.push(" AND r.reporter_id = ").bind(u.to_string());
        }
        if let Some(i) = filter.incident_id {
            q.push(" AND r.incident_id = ").bind(i.to_string());
        }
        keyset(&mut q, "r", page, limit)?;
        let mut items: Vec<Report> = fetch_domain::<_, ReportRow>(&self.reader, &q).await?;
        fill_attachments(&self.reader, &mut items).await?;
        Ok(paginate(items, limit, |r| {
            cursor_of(r.created_at, &r.id.to_string())
        }))
    }

    pub(super) async fn read_attachment(
        &self,
        v: &Viewer,
        id: AttachmentId,
    ) -> Result<(Attachment, Vec<u8>)> {
        let mut q = Sql::new(&format!(
            "SELECT {ATTACHMENT_COLS} FROM attachments a JOIN reports r ON r.id = a.report_id WHERE a.id = "
        ));
        q.bind(id.to_string()).push(" AND ");
        report_visible(&mut q, v, "r");
        let a = fetch_one::<_, AttachmentRow>(&self.reader, &q, "attachment").await?;
        self.record_report_read(
            v,
            a.report_id,
            "attachment.download",
            "attachment",
            a.id.to_string(),
        )
        .await?;
        if a.sha256.len() != 64 || !a.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(StoreError::Corrupt(format!("attachment {} hash", a.id)));
        }
        let path = self
            .data_dir
            .join("attachments")
            .join(&a.sha256[..2])
            .join(&a.sha256);
        let bytes = tokio::fs::read(&path)
            .await
            .map_err(|source| StoreError::Io {
                path: path.clone(),
                source,
            })?;
        if hex::encode(Sha256::digest(&bytes)) != a.sha256 {
            return Err(StoreError::Corrupt(format!(
                "attachment file {} does not match its hash",
                path.display()
            )));
        }
        Ok((a, bytes))
    }
}
