//! Reports: filing one (which opens a triage incident), reading them
//! back, adding attachments later, and their content-addressed attachment
//! files (written under the data directory before the transaction that
//! records them; a file whose transaction fails stays behind, unreferenced).

use std::collections::BTreeMap;

use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::{Any, Executor};

use super::checks::{MAX_TEXT, check_len, forbid, not_future, to_json};
use super::incidents::{insert_incident, new_incident, record_opened};
use super::paging::{cursor_of, keyset, page_limit, paginate};
use super::timeline::add_timeline;
use super::visible::load_report;
use crate::access::{Viewer, report_visible};
use crate::audit::unix_micros;
use crate::backend::rows::{ATTACHMENT_COLS, AttachmentRow, DomainRow, REPORT_COLS, ReportRow};
use crate::backend::{
    Change, SqlStore, Tx, append_audit, exec, fetch_all, fetch_domain, fetch_one, fetch_opt, now,
    opt_micros,
};
use crate::enums::Severity;
use crate::ids::{AttachmentId, ReportId};
use crate::query::{Arg, Sql};
use crate::report::{Attachment, NewAttachment, NewReport, Report};
use crate::store::{Page, PageRequest, ReportFilter, Result, StoreError};

/// Fills in the attachments of each report, with one query for them all
/// (the reports must already have passed the visibility check).
pub(super) async fn fill_attachments<'e, E: Executor<'e, Database = Any>>(
    e: E,
    reports: &mut [Report],
) -> Result<()> {
    if reports.is_empty() {
        return Ok(());
    }
    let mut q = Sql::new(&format!(
        "SELECT {ATTACHMENT_COLS} FROM attachments a WHERE a.report_id IN "
    ));
    q.bind_list(reports.iter().map(|r| r.id.to_string()))
        .push(" ORDER BY a.id");
    let mut by_report: BTreeMap<ReportId, Vec<Attachment>> = BTreeMap::new();
    for row in fetch_all::<_, AttachmentRow>(e, &q).await? {
        let a = row.into_domain()?;
        by_report.entry(a.report_id).or_default().push(a);
    }
    for r in reports {
        r.attachments = by_report.remove(&r.id).unwrap_or_default();
    }
    Ok(())
}

/// The most attachments one report may carry (filed with it and added
/// later together).
const MAX_ATTACHMENTS_PER_REPORT: usize = 20;

fn too_many_attachments() -> StoreError {
    StoreError::Invalid(format!(
        "at most {MAX_ATTACHMENTS_PER_REPORT} attachments per report"
    ))
}

/// Inserts an attachment's row in `tx` (its file is already written).
async fn insert_attachment(tx: &mut Tx, a: &Attachment) -> Result<()> {
    let mut q = Sql::new(
        "INSERT INTO attachments (id, report_id, filename, content_type, size, sha256) VALUES ",
    );
    q.bind_list([
        Arg::from(a.id.to_string()),
        Arg::from(a.report_id.to_string()),
        Arg::from(a.filename.clone()),
        Arg::from(a.content_type.clone()),
        Arg::from(a.size),
        Arg::from(a.sha256.clone()),
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

impl SqlStore {
    /// Writes an attachment to its content-addressed file (idempotent).
    async fn write_attachment(&self, bytes: &[u8]) -> Result<String> {
        let sha = hex::encode(Sha256::digest(bytes));
        let dir = self.data_dir.join("attachments").join(&sha[..2]);
        let io = |path: &std::path::Path| {
            let path = path.to_owned();
            move |source| StoreError::Io { path, source }
        };
        tokio::fs::create_dir_all(&dir).await.map_err(io(&dir))?;
        let path = dir.join(&sha);
        if tokio::fs::try_exists(&path).await.unwrap_or(false) {
            return Ok(sha);
        }
        let tmp = dir.join(format!("{sha}.{}.tmp", uuid::Uuid::now_v7()));
        tokio::fs::write(&tmp, bytes).await.map_err(io(&tmp))?;
        tokio::fs::rename(&tmp, &path).await.map_err(io(&path))?;
        Ok(sha)
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
        // Who may, and whether it fits, before anything is written to disk.
        let r = load_report(&self.reader, v, report).await?;
        may_attach(v, &r)?;
        self.check_attachment(&new)?;
        if attachment_count(&self.reader, report).await? >= MAX_ATTACHMENTS_PER_REPORT {
            return Err(too_many_attachments());
        }
        let attachment = self.store_attachment(report, &new).await?;
        let mut tx = self.begin().await?;
        // Again under the write lock: the report may have been moved to
        // another incident, or filled up, in between.
        let r = load_report(&mut *tx, v, report).await?;
        may_attach(v, &r)?;
        if attachment_count(&mut *tx, report).await? >= MAX_ATTACHMENTS_PER_REPORT {
            return Err(too_many_attachments());
        }
        let at = now();
        insert_attachment(&mut tx, &attachment).await?;
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
                before: Value::Null,
                after: to_json(&attachment),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(attachment)
    }

    pub(super) async fn file_report(&self, v: &Viewer, new: NewReport) -> Result<Report> {
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
        let report_id = ReportId::new();
        let mut attachments = Vec::new();
        for a in &new.attachments {
            attachments.push(self.store_attachment(report_id, a).await?);
        }
        let sensitive = new.sensitive || new.category.always_sensitive();
        let first_line: String = new
            .description
            .lines()
            .next()
            .unwrap_or_default()
            .chars()
            .take(80)
            .collect();
        let incident = new_incident(
            format!("{} report: {}", new.category, first_line.trim()),
            new.description.clone(),
            new.category,
            Severity::Sev3,
            sensitive,
            new.occurred_at,
            None,
            at,
            at,
        );
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
        insert_incident(&mut tx, &incident).await?;
        let mut q = Sql::new(
            "INSERT INTO reports (id, reporter_id, channel, category, description, occurred_at, location, sensitive, incident_id, created_at) VALUES ",
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
        ]);
        exec(&mut *tx, &q).await?;
        for a in &report.attachments {
            insert_attachment(&mut tx, a).await?;
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
