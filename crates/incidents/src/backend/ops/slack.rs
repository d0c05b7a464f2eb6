//! Slack threads: where the first message about an incident was posted
//! (channel and `ts`), so later notices go in its thread. The notification
//! worker (the system viewer) alone reads and writes them.

use super::checks::{check_len, forbid};
use crate::access::Viewer;
use crate::backend::{SqlStore, exec, fetch_opt};
use crate::ids::IncidentId;
use crate::query::Sql;
use crate::store::{Result, SlackThread};

#[derive(sqlx::FromRow)]
struct ThreadRow {
    channel: String,
    ts: String,
}

impl SqlStore {
    pub(super) async fn slack_thread(
        &self,
        v: &Viewer,
        incident: IncidentId,
    ) -> Result<Option<SlackThread>> {
        forbid(v.can_deliver(), "only the system delivers notifications")?;
        let mut q = Sql::new("SELECT channel, ts FROM slack_threads WHERE incident_id = ");
        q.bind(incident.to_string());
        let row: Option<ThreadRow> = fetch_opt(&self.reader, &q).await?;
        Ok(row.map(|r| SlackThread {
            channel: r.channel,
            ts: r.ts,
        }))
    }

    pub(super) async fn set_slack_thread(
        &self,
        v: &Viewer,
        incident: IncidentId,
        thread: &SlackThread,
    ) -> Result<()> {
        forbid(v.can_deliver(), "only the system delivers notifications")?;
        check_len("channel", &thread.channel, 1, 200)?;
        check_len("ts", &thread.ts, 1, 64)?;
        // The first thread recorded stays: a retried "opened" notice never
        // moves the conversation.
        let mut q = Sql::new("INSERT INTO slack_threads (incident_id, channel, ts) VALUES ");
        q.bind_list([
            crate::query::Arg::from(incident.to_string()),
            crate::query::Arg::from(thread.channel.clone()),
            crate::query::Arg::from(thread.ts.clone()),
        ]);
        q.push(" ON CONFLICT (incident_id) DO NOTHING");
        exec(&self.writer, &q).await?;
        Ok(())
    }
}
