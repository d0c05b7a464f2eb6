//! The security@ mailbox: taking an inbound message (a new third-party
//! report, a follow-up on an existing one, or a duplicate), recording an
//! outbound one, reading a report's thread, and the poller's position in
//! each IMAP folder.

use serde_json::{Value, json};
use sqlx::FromRow;

use super::checks::{MAX_TEXT, check_len, forbid, is_unique_violation};
use super::mail_rows::{MailRecord, insert_mail};
use super::timeline::add_timeline;
use super::visible::load_report;
use crate::access::Viewer;
use crate::backend::{
    Change, SqlStore, append_audit, exec, fetch_all, fetch_opt, from_micros, now, parse_col,
};
use crate::enums::{Category, Channel};
use crate::ids::{IncidentId, ReportId};
use crate::mail::{
    InboundMail, MAX_MESSAGE_ID_BYTES, MAX_REFERENCES, MailDirection, MailMessage, MailOutcome,
    OutboundMail, find_tracking_id,
};
use crate::query::{Arg, Sql};
use crate::report::NewReport;
use crate::store::{Result, StoreError};

/// The longest subject and address kept, in characters.
const MAX_HEADER_CHARS: usize = 998;

/// The most messages of a thread one read returns (the newest).
const MAX_THREAD: i64 = 500;

fn check_message_id(field: &str, id: &str) -> Result<()> {
    if id.is_empty() || id.len() > MAX_MESSAGE_ID_BYTES || id.chars().any(char::is_control) {
        return Err(StoreError::Invalid(format!(
            "{field} must be 1 to {MAX_MESSAGE_ID_BYTES} bytes without control characters"
        )));
    }
    Ok(())
}

/// The first `max` characters of `s`.
fn clip(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

#[derive(FromRow)]
struct MailRow {
    message_id: String,
    report_id: String,
    direction: String,
    address: String,
    subject: String,
    in_reply_to: Option<String>,
    refs: String,
    created_at: i64,
}

impl MailRow {
    fn into_domain(self) -> Result<MailMessage> {
        Ok(MailMessage {
            message_id: self.message_id,
            report_id: parse_col("report id", &self.report_id)?,
            direction: match self.direction.as_str() {
                "in" => MailDirection::In,
                "out" => MailDirection::Out,
                other => return Err(StoreError::Corrupt(format!("mail direction {other:?}"))),
            },
            address: self.address,
            subject: self.subject,
            in_reply_to: self.in_reply_to,
            references: self.refs.split_whitespace().map(str::to_owned).collect(),
            created_at: from_micros(self.created_at),
        })
    }
}

impl SqlStore {
    /// The report that already holds message `id`, if any.
    async fn report_of_message(&self, id: &str) -> Result<Option<ReportId>> {
        let mut q = Sql::new("SELECT report_id FROM mail_messages WHERE message_id = ");
        q.bind(id);
        let row: Option<(String,)> = fetch_opt(&self.reader, &q).await?;
        row.map(|(r,)| parse_col("report id", &r)).transpose()
    }

    /// The report whose thread `mail` continues: a known message among
    /// its `In-Reply-To`/`References` (the newest recorded), else a
    /// tracking id in its subject naming a report that has mail.
    async fn thread_of(&self, mail: &InboundMail) -> Result<Option<ReportId>> {
        let ids: Vec<&str> = mail
            .in_reply_to
            .iter()
            .chain(mail.references.iter().rev().take(MAX_REFERENCES))
            .map(String::as_str)
            .filter(|id| !id.is_empty() && id.len() <= MAX_MESSAGE_ID_BYTES)
            .collect();
        if !ids.is_empty() {
            let mut q = Sql::new("SELECT report_id FROM mail_messages WHERE message_id IN ");
            q.bind_list(ids).push(" ORDER BY created_at DESC LIMIT 1");
            let row: Option<(String,)> = fetch_opt(&self.reader, &q).await?;
            if let Some((r,)) = row {
                return Ok(Some(parse_col("report id", &r)?));
            }
        }
        if let Some(id) = find_tracking_id(&mail.subject) {
            let mut q = Sql::new("SELECT report_id FROM mail_messages WHERE report_id = ");
            q.bind(id.to_string()).push(" LIMIT 1");
            let row: Option<(String,)> = fetch_opt(&self.reader, &q).await?;
            if row.is_some() {
                return Ok(Some(id));
            }
        }
        Ok(None)
    }

    pub(super) async fn take_inbound_mail(
        &self,
        v: &Viewer,
        mail: InboundMail,
    ) -> Result<MailOutcome> {
        forbid(v.is_system(), "only the mailbox poller takes mail")?;
        check_message_id("message id", &mail.message_id)?;
        check_len("sender", &mail.from, 0, MAX_HEADER_CHARS)?;
        if let Some(report_id) = self.report_of_message(&mail.message_id).await? {
            return Ok(MailOutcome::AlreadySeen { report_id });
        }
        let record = MailRecord {
            message_id: mail.message_id.clone(),
            direction: MailDirection::In,
            address: mail.from.clone(),
            subject: clip(&mail.subject, MAX_HEADER_CHARS),
            in_reply_to: mail.in_reply_to.first().cloned(),
            references: mail
                .references
                .iter()
                .rev()
                .take(MAX_REFERENCES)
                .rev()
                .filter(|id| !id.is_empty() && id.len() <= MAX_MESSAGE_ID_BYTES)
                .cloned()
                .collect(),
        };
        let outcome = match self.thread_of(&mail).await? {
            Some(report) => self.take_follow_up(v, report, &mail, &record).await,
            None => self.file_from_mail(v, mail, &record).await,
        };
        match outcome {
            // A racing poller recorded the same message first.
            Err(e) if is_unique_violation(&e) => {
                match self.report_of_message(&record.message_id).await? {
                    Some(report_id) => Ok(MailOutcome::AlreadySeen { report_id }),
                    None => Err(e),
                }
            }
            other => other,
        }
    }

    async fn file_from_mail(
        &self,
        v: &Viewer,
        mail: InboundMail,
        record: &MailRecord,
    ) -> Result<MailOutcome> {
        let subject = if mail.subject.trim().is_empty() {
            "(no subject)".to_owned()
        } else {
            clip(mail.subject.trim(), MAX_HEADER_CHARS)
        };
        let description = clip(
            &format!("{subject}\n\nFrom: {}\n\n{}", mail.from, mail.text),
            MAX_TEXT,
        );
        let new = NewReport {
            channel: Channel::ThirdParty,
            category: Category::SecurityIncident,
            description,
            occurred_at: None,
            location: None,
            sensitive: false,
            anonymous: true,
            attachments: mail.attachments,
        };
        let report = self.file_report_recording(v, new, Some(record)).await?;
        Ok(MailOutcome::Filed(report))
    }

    async fn take_follow_up(
        &self,
        v: &Viewer,
        report: ReportId,
        mail: &InboundMail,
        record: &MailRecord,
    ) -> Result<MailOutcome> {
        let mut tx = self.begin().await?;
        // Under the write lock: the report may have moved to another
        // incident by a merge.
        let r = load_report(&mut *tx, v, report).await?;
        let at = now();
        insert_mail(&mut tx, report, record, at).await?;
        let line = clip(
            &format!(
                "follow-up mail from {}: {}\n\n{}",
                mail.from, record.subject, mail.text
            ),
            MAX_TEXT,
        );
        add_timeline(&mut tx, r.incident_id, at, v.user_id, "mail", &line).await?;
        append_audit(
            &mut tx,
            v,
            at,
            Change {
                action: "mail.receive",
                entity: "report",
                entity_id: report.to_string(),
                incident_id: Some(r.incident_id),
                related_incident_id: None,
                before: Value::Null,
                after: json!({
                    "message_id": record.message_id,
                    "from": record.address,
                    "subject": record.subject,
                }),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(MailOutcome::FollowUp {
            report_id: report,
            incident_id: r.incident_id,
        })
    }

    pub(super) async fn record_outbound_mail(
        &self,
        v: &Viewer,
        mail: OutboundMail,
    ) -> Result<IncidentId> {
        forbid(v.is_system(), "only the mailbox records sent mail")?;
        check_message_id("message id", &mail.message_id)?;
        check_len("recipient", &mail.to, 1, MAX_HEADER_CHARS)?;
        if let Some(t) = &mail.timeline {
            check_len("timeline text", t, 1, MAX_TEXT)?;
        }
        let record = MailRecord {
            message_id: mail.message_id.clone(),
            direction: MailDirection::Out,
            address: mail.to.clone(),
            subject: clip(&mail.subject, MAX_HEADER_CHARS),
            in_reply_to: mail.in_reply_to.clone(),
            references: mail.references.clone(),
        };
        let mut tx = self.begin().await?;
        let r = load_report(&mut *tx, v, mail.report_id).await?;
        let at = now();
        insert_mail(&mut tx, mail.report_id, &record, at).await?;
        let actor = mail.sent_by.unwrap_or(v.user_id);
        if let Some(t) = &mail.timeline {
            add_timeline(&mut tx, r.incident_id, at, actor, "mail", t).await?;
        }
        append_audit(
            &mut tx,
            v,
            at,
            Change {
                action: "mail.send",
                entity: "report",
                entity_id: mail.report_id.to_string(),
                incident_id: Some(r.incident_id),
                related_incident_id: None,
                before: Value::Null,
                after: json!({
                    "message_id": record.message_id,
                    "to": record.address,
                    "subject": record.subject,
                    "sent_by": actor,
                }),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(r.incident_id)
    }

    pub(super) async fn mail_thread(
        &self,
        v: &Viewer,
        report: ReportId,
    ) -> Result<Vec<MailMessage>> {
        // Visible first (else NotFound), then staff only.
        load_report(&self.reader, v, report).await?;
        forbid(v.is_staff(), "only staff read a report's mail")?;
        let mut q = Sql::new(
            "SELECT message_id, report_id, direction, address, subject, in_reply_to, refs, created_at FROM mail_messages WHERE report_id = ",
        );
        q.bind(report.to_string())
            .push(" ORDER BY created_at DESC, message_id DESC LIMIT ")
            .bind(MAX_THREAD);
        let rows: Vec<MailRow> = fetch_all(&self.reader, &q).await?;
        let mut out = rows
            .into_iter()
            .map(MailRow::into_domain)
            .collect::<Result<Vec<_>>>()?;
        out.reverse();
        Ok(out)
    }

    pub(super) async fn mailbox_position(
        &self,
        v: &Viewer,
        mailbox: &str,
    ) -> Result<Option<(u32, u32)>> {
        forbid(v.is_system(), "only the mailbox poller keeps positions")?;
        let mut q =
            Sql::new("SELECT uidvalidity, last_uid FROM mailbox_positions WHERE mailbox = ");
        q.bind(mailbox);
        let row: Option<(i64, i64)> = fetch_opt(&self.reader, &q).await?;
        row.map(|(validity, uid)| {
            let conv = |n: i64| {
                u32::try_from(n)
                    .map_err(|_| StoreError::Corrupt(format!("mailbox position {n} out of range")))
            };
            Ok((conv(validity)?, conv(uid)?))
        })
        .transpose()
    }

    pub(super) async fn set_mailbox_position(
        &self,
        v: &Viewer,
        mailbox: &str,
        uidvalidity: u32,
        last_uid: u32,
    ) -> Result<()> {
        forbid(v.is_system(), "only the mailbox poller keeps positions")?;
        check_len("mailbox", mailbox, 1, 1000)?;
        let mut q =
            Sql::new("INSERT INTO mailbox_positions (mailbox, uidvalidity, last_uid) VALUES ");
        q.bind_list([
            Arg::from(mailbox),
            Arg::from(i64::from(uidvalidity)),
            Arg::from(i64::from(last_uid)),
        ])
        .push(" ON CONFLICT (mailbox) DO UPDATE SET uidvalidity = excluded.uidvalidity, last_uid = excluded.last_uid");
        exec(&self.writer, &q).await?;
        Ok(())
    }
}
