//! The notification outbox: messages written in the same transaction as
//! the change they announce, then claimed, fanned out and marked by the
//! delivery worker (the system viewer only).

use serde_json::Value;
use time::{Duration, OffsetDateTime};

use super::checks::{check_len, forbid};
use crate::access::Viewer;
use crate::audit::unix_micros;
use crate::backend::rows::{OUTBOX_COLS, OutboxRow};
use crate::backend::{SqlStore, Tx, exec, fetch_domain, fetch_one};
use crate::enums::OutboxStatus;
use crate::ids::OutboxId;
use crate::incident::Incident;
use crate::outbox::{MAX_ATTEMPTS, OutboxKind, OutboxMessage, OutboxPayload, backoff};
use crate::query::{Arg, Sql};
use crate::store::{Result, StoreError};

/// Queues an incident notification in `tx`, so it is sent only if the
/// change it announces commits.
pub(super) async fn enqueue(
    tx: &mut Tx,
    kind: OutboxKind,
    i: &Incident,
    action: &str,
    change: &str,
    at: OffsetDateTime,
) -> Result<()> {
    let payload = OutboxPayload::incident(i, action, change);
    let m = OutboxMessage {
        id: OutboxId::new(),
        kind,
        incident_id: Some(i.id),
        sensitive: i.sensitive,
        payload,
        status: OutboxStatus::Pending,
        attempts: 0,
        next_attempt_at: at,
        lease_until: None,
        last_error: None,
        created_at: at,
        destination: None,
        parent_id: None,
    };
    insert_message(tx, &m).await
}

/// Queues a notice that who may see sensitive incidents changed, for the
/// Security Team (always sensitive, about no incident), in `tx`.
pub(super) async fn enqueue_access(
    tx: &mut Tx,
    action: &str,
    change: &str,
    details: Value,
    at: OffsetDateTime,
) -> Result<()> {
    let m = OutboxMessage {
        id: OutboxId::new(),
        kind: OutboxKind::AccessChanged,
        incident_id: None,
        sensitive: true,
        payload: OutboxPayload::access(action, change, details),
        status: OutboxStatus::Pending,
        attempts: 0,
        next_attempt_at: at,
        lease_until: None,
        last_error: None,
        created_at: at,
        destination: None,
        parent_id: None,
    };
    insert_message(tx, &m).await
}

/// Inserts a new message (one not yet attempted or leased).
async fn insert_message(tx: &mut Tx, m: &OutboxMessage) -> Result<()> {
    let mut q = Sql::new(
        "INSERT INTO outbox (id, kind, incident_id, sensitive, payload, status, attempts, next_attempt_at, created_at, destination, parent_id) VALUES ",
    );
    q.bind_list([
        Arg::from(m.id.to_string()),
        Arg::from(m.kind.as_str()),
        Arg::from(m.incident_id.map(|i| i.to_string())),
        Arg::from(m.sensitive),
        Arg::from(m.payload.to_json().to_string()),
        Arg::from(m.status.as_str()),
        Arg::from(i64::from(m.attempts)),
        Arg::from(unix_micros(m.next_attempt_at)),
        Arg::from(unix_micros(m.created_at)),
        Arg::from(m.destination.clone()),
        Arg::from(m.parent_id.map(|p| p.to_string())),
    ]);
    exec(&mut **tx, &q).await?;
    Ok(())
}

/// Loads message `id` for an update (the outbox has no visibility rules:
/// only the system viewer reaches it).
async fn load_message(tx: &mut Tx, id: OutboxId) -> Result<OutboxMessage> {
    let mut q = Sql::new(&format!("SELECT {OUTBOX_COLS} FROM outbox o WHERE o.id = "));
    q.bind(id.to_string());
    fetch_one::<_, OutboxRow>(&mut **tx, &q, "outbox message").await
}

/// The statement that marks message `id` sent at `at` and drops its lease.
fn mark_sent(id: OutboxId, at: OffsetDateTime) -> Sql {
    let mut q = Sql::new("UPDATE outbox SET status = ");
    q.bind(OutboxStatus::Sent.as_str())
        .push(", sent_at = ")
        .bind(unix_micros(at))
        .push(", lease_until = NULL WHERE id = ")
        .bind(id.to_string());
    q
}

impl SqlStore {
    pub(super) async fn claim_outbox(
        &self,
        v: &Viewer,
        limit: u32,
        lease: Duration,
        now: OffsetDateTime,
    ) -> Result<Vec<OutboxMessage>> {
        forbid(v.can_deliver(), "only the system delivers notifications")?;
        if !(1..=1000).contains(&limit) || lease <= Duration::ZERO {
            return Err(StoreError::Invalid(
                "limit must be 1 to 1000 and lease positive".into(),
            ));
        }
        let mut tx = self.begin().await?;
        let n = unix_micros(now);
        let mut q = Sql::new(&format!(
            "SELECT {OUTBOX_COLS} FROM outbox o WHERE o.status = "
        ));
        q.bind(OutboxStatus::Pending.as_str())
            .push(" AND o.next_attempt_at <= ")
            .bind(n)
            .push(" AND (o.lease_until IS NULL OR o.lease_until <= ")
            .bind(n)
            .push(") ORDER BY o.next_attempt_at, o.id LIMIT ")
            .bind(i64::from(limit));
        let mut msgs: Vec<OutboxMessage> = fetch_domain::<_, OutboxRow>(&mut *tx, &q).await?;
        if msgs.is_empty() {
            return Ok(msgs);
        }
        let until = now + lease;
        let mut q = Sql::new("UPDATE outbox SET lease_until = ");
        q.bind(unix_micros(until))
            .push(" WHERE id IN ")
            .bind_list(msgs.iter().map(|m| m.id.to_string()));
        exec(&mut *tx, &q).await?;
        tx.commit().await?;
        for m in &mut msgs {
            m.lease_until = Some(until);
        }
        Ok(msgs)
    }

    pub(super) async fn mark_outbox_sent(
        &self,
        v: &Viewer,
        id: OutboxId,
        now: OffsetDateTime,
    ) -> Result<()> {
        forbid(v.can_deliver(), "only the system delivers notifications")?;
        if exec(&self.writer, &mark_sent(id, now)).await? == 0 {
            return Err(StoreError::NotFound("outbox message"));
        }
        Ok(())
    }

    pub(super) async fn mark_outbox_failed(
        &self,
        v: &Viewer,
        id: OutboxId,
        error: &str,
        now: OffsetDateTime,
    ) -> Result<OutboxMessage> {
        forbid(v.can_deliver(), "only the system delivers notifications")?;
        let mut tx = self.begin().await?;
        let mut m = load_message(&mut tx, id).await?;
        m.attempts += 1;
        m.last_error = Some(error.chars().take(1000).collect());
        m.lease_until = None;
        m.next_attempt_at = now + backoff(m.attempts);
        if m.attempts >= MAX_ATTEMPTS {
            m.status = OutboxStatus::Dead;
        }
        let mut q = Sql::new("UPDATE outbox SET attempts = ");
        q.bind(i64::from(m.attempts))
            .push(", last_error = ")
            .bind(m.last_error.clone())
            .push(", lease_until = NULL, next_attempt_at = ")
            .bind(unix_micros(m.next_attempt_at))
            .push(", status = ")
            .bind(m.status.as_str())
            .push(" WHERE id = ")
            .bind(id.to_string());
        exec(&mut *tx, &q).await?;
        tx.commit().await?;
        Ok(m)
    }

    pub(super) async fn fan_out_outbox(
        &self,
        v: &Viewer,
        id: OutboxId,
        destinations: &[String],
        now: OffsetDateTime,
    ) -> Result<Vec<OutboxMessage>> {
        forbid(v.can_deliver(), "only the system delivers notifications")?;
        if destinations.len() > 100 {
            return Err(StoreError::Invalid("at most 100 destinations".into()));
        }
        for d in destinations {
            check_len("destination", d, 1, 200)?;
        }
        let mut tx = self.begin().await?;
        let parent = load_message(&mut tx, id).await?;
        if parent.status != OutboxStatus::Pending {
            return Err(StoreError::Conflict(format!(
                "the message is already {}",
                parent.status
            )));
        }
        let mut children = Vec::new();
        for d in destinations {
            let payload = parent.payload.clone().with_destination(d);
            let child = OutboxMessage {
                id: OutboxId::new(),
                kind: parent.kind,
                incident_id: parent.incident_id,
                sensitive: parent.sensitive,
                payload,
                status: OutboxStatus::Pending,
                attempts: 0,
                next_attempt_at: now,
                lease_until: None,
                last_error: None,
                created_at: now,
                destination: Some(d.clone()),
                parent_id: Some(parent.id),
            };
            insert_message(&mut tx, &child).await?;
            children.push(child);
        }
        exec(&mut *tx, &mark_sent(id, now)).await?;
        tx.commit().await?;
        Ok(children)
    }

    pub(super) async fn list_outbox(
        &self,
        v: &Viewer,
        status: Option<OutboxStatus>,
    ) -> Result<Vec<OutboxMessage>> {
        forbid(v.can_deliver(), "only the system delivers notifications")?;
        let mut q = Sql::new(&format!("SELECT {OUTBOX_COLS} FROM outbox o"));
        if let Some(s) = status {
            q.push(" WHERE o.status = ").bind(s.as_str());
        }
        q.push(" ORDER BY o.created_at, o.id LIMIT 1000");
        fetch_domain::<_, OutboxRow>(&self.reader, &q).await
    }
}
