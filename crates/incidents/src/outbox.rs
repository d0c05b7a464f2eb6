//! The notification outbox. The store enqueues a message in the same
//! transaction as the change it announces; a notifier claims due messages
//! with a lease, then marks them sent or failed (with a next attempt time).
//! Messages survive restarts because they live in the database.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::enums::OutboxStatus;
use crate::ids::{IncidentId, OutboxId};

/// What an outbox message announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxKind {
    /// A new incident was opened.
    IncidentOpened,
    /// An incident's status, owner or severity changed, or it was merged.
    IncidentChanged,
    /// Who may see sensitive incidents changed: a need-to-know role was
    /// asked for, granted, set on the server host or taken away. Always
    /// sensitive, about no incident; for the Security Team only.
    AccessChanged,
}

impl OutboxKind {
    /// Database name.
    pub const fn as_str(self) -> &'static str {
        match self {
            OutboxKind::IncidentOpened => "incident_opened",
            OutboxKind::IncidentChanged => "incident_changed",
            OutboxKind::AccessChanged => "access_changed",
        }
    }

    /// Parses the database name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "incident_opened" => Some(OutboxKind::IncidentOpened),
            "incident_changed" => Some(OutboxKind::IncidentChanged),
            "access_changed" => Some(OutboxKind::AccessChanged),
            _ => None,
        }
    }
}

/// One notification to deliver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxMessage {
    /// Id.
    pub id: OutboxId,
    /// What it announces.
    pub kind: OutboxKind,
    /// The incident (none for [`OutboxKind::AccessChanged`]).
    pub incident_id: Option<IncidentId>,
    /// Whether the incident is sensitive: a sensitive message must only go
    /// to the Security Team and finance-ops destinations, never to a shared
    /// one.
    pub sensitive: bool,
    /// Message data: `id`, `title`, `category`, `severity`, `status`,
    /// `sensitive`, `owner`, `action` (machine name), `change` (a sentence),
    /// `incident` (the whole incident), and for fanned-out children
    /// `destination`.
    pub payload: serde_json::Value,
    /// The destination of a fanned-out child message (`None` for a message
    /// as enqueued by a change).
    pub destination: Option<String>,
    /// The message this child was fanned out from.
    pub parent_id: Option<OutboxId>,
    /// Delivery state.
    pub status: OutboxStatus,
    /// Failed attempts so far.
    pub attempts: i32,
    /// Not before.
    #[serde(with = "time::serde::rfc3339")]
    pub next_attempt_at: OffsetDateTime,
    /// Claimed by a worker until this time.
    #[serde(with = "time::serde::rfc3339::option")]
    pub lease_until: Option<OffsetDateTime>,
    /// Last failure message.
    pub last_error: Option<String>,
    /// When enqueued.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// Retry delay after `attempts` failures: 30 s doubling, capped at 1 h.
pub fn backoff(attempts: i32) -> Duration {
    let exp = attempts.clamp(1, 30) - 1;
    let secs = 30i64.saturating_mul(1i64 << exp.min(20));
    Duration::seconds(secs.min(3600))
}

/// After this many failed attempts a message is marked dead.
pub const MAX_ATTEMPTS: i32 = 12;
