//! Mail rows: recording one message of a report's thread
//! (`mail_messages`), shared by filing a report from a mail and by the
//! mail operations. No checks here.

use time::OffsetDateTime;

use crate::audit::unix_micros;
use crate::backend::{Tx, exec};
use crate::ids::ReportId;
use crate::mail::MailDirection;
use crate::query::{Arg, Sql};
use crate::store::Result;

/// A message to record against a report.
#[derive(Debug, Clone)]
pub(crate) struct MailRecord {
    pub(crate) message_id: String,
    pub(crate) direction: MailDirection,
    pub(crate) address: String,
    pub(crate) subject: String,
    pub(crate) in_reply_to: Option<String>,
    pub(crate) references: Vec<String>,
}

/// Inserts `mail` as a message of `report`, recorded at `at`.
pub(super) async fn insert_mail(
    tx: &mut Tx,
    report: ReportId,
    mail: &MailRecord,
    at: OffsetDateTime,
) -> Result<()> {
    let mut q = Sql::new(
        "INSERT INTO mail_messages (message_id, report_id, direction, address, subject, in_reply_to, refs, created_at) VALUES ",
    );
    q.bind_list([
        Arg::from(mail.message_id.clone()),
        Arg::from(report.to_string()),
        Arg::from(mail.direction.as_str()),
        Arg::from(mail.address.clone()),
        Arg::from(mail.subject.clone()),
        Arg::from(mail.in_reply_to.clone()),
        Arg::from(mail.references.join(" ")),
        Arg::from(unix_micros(at)),
    ]);
    exec(&mut **tx, &q).await?;
    Ok(())
}
