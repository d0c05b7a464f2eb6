//! The delivery worker: drains the store's outbox.
//!
//! Each pass ([`Notifier::run_once`]) claims due messages with a lease, so
//! two workers never deliver the same message at once, and a worker that
//! dies leaves its messages to be claimed again when the lease ends. A
//! message about an incident change is first fanned out into one message per
//! destination ([`destinations_for`]), so a failing webhook is retried without
//! re-sending the emails that already went out. A failed delivery is
//! recorded by the store with its next attempt time (exponential backoff);
//! messages live in the database, so they survive a restart.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use incidents::{OutboxMessage, SlackThread, Store, StoreError, Viewer};
use time::{Duration, OffsetDateTime};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::channel::Destination;
use crate::config::NotifyConfig;
use crate::deliver::{Deliverer, DeliveryError, chain};
use crate::notice::Notice;
use crate::routing::destinations_for;

/// How long a claimed message is reserved for this worker.
const LEASE: Duration = Duration::minutes(5);
/// Messages claimed per pass.
const BATCH: u32 = 50;

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PassSummary {
    /// Messages claimed.
    pub claimed: usize,
    /// Deliveries that succeeded.
    pub delivered: usize,
    /// Deliveries that failed (to be retried).
    pub failed: usize,
    /// Messages fanned out into per-destination messages.
    pub fanned_out: usize,
}

/// Delivers outbox messages.
pub struct Notifier {
    store: Arc<dyn Store>,
    deliverer: Deliverer,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("backend", &self.store.backend())
            .field("deliverer", &self.deliverer)
            .finish()
    }
}

impl Notifier {
    /// A notifier for `store` with the given destinations.
    pub fn new(store: Arc<dyn Store>, config: NotifyConfig) -> Result<Self, DeliveryError> {
        Ok(Self {
            store,
            deliverer: Deliverer::new(config)?,
        })
    }

    /// One pass: claims the messages due at `now` and delivers them.
    pub async fn run_once(&self, now: OffsetDateTime) -> Result<PassSummary, StoreError> {
        let system = Viewer::system();
        let messages = self.store.claim_outbox(&system, BATCH, LEASE, now).await?;
        let mut summary = PassSummary {
            claimed: messages.len(),
            ..Default::default()
        };
        for message in messages {
            self.handle(&system, message, now, &mut summary).await?;
        }
        Ok(summary)
    }

    async fn handle(
        &self,
        system: &Viewer,
        message: OutboxMessage,
        now: OffsetDateTime,
        summary: &mut PassSummary,
    ) -> Result<(), StoreError> {
        let notice = Notice::from_message(&message);
        match destination_of(&message) {
            Some(Ok(destination)) => {
                self.deliver_one(system, &message, destination, &notice, now, summary)
                    .await
            }
            Some(Err(name)) => {
                tracing::warn!(message = %message.id, destination = %name, "outbox message names an unknown destination");
                self.store
                    .mark_outbox_failed(
                        system,
                        message.id,
                        &format!("unknown destination {name:?}"),
                        now,
                    )
                    .await
                    .map(drop)
            }
            None => {
                let targets = destinations_for(self.deliverer.config(), &notice);
                if targets.is_empty() {
                    tracing::debug!(message = %message.id, "no destination configured; nothing to send");
                    return self.store.mark_outbox_sent(system, message.id, now).await;
                }
                let names: Vec<String> = targets.iter().map(|d| d.as_str().to_owned()).collect();
                self.store
                    .fan_out_outbox(system, message.id, &names, now)
                    .await?;
                summary.fanned_out += 1;
                Ok(())
            }
        }
    }

    async fn deliver_one(
        &self,
        system: &Viewer,
        message: &OutboxMessage,
        destination: Destination,
        notice: &Notice,
        now: OffsetDateTime,
        summary: &mut PassSummary,
    ) -> Result<(), StoreError> {
        if destination.is_shared() && self.now_sensitive(system, message).await? {
            // The incident became sensitive after this message was queued:
            // withhold it from shared destinations.
            tracing::info!(message = %message.id, destination = destination.as_str(), "withheld: the incident is now sensitive");
            return self.store.mark_outbox_sent(system, message.id, now).await;
        }
        // The per-destination message's id is the delivery id: it is the
        // same on every retry, so receivers can drop duplicates.
        let delivery_id = message.id.to_string();
        let outcome = if destination == Destination::Slack {
            self.deliver_slack(system, message, notice).await?
        } else {
            self.deliverer
                .deliver(destination, notice, &delivery_id)
                .await
        };
        match outcome {
            Ok(()) => {
                summary.delivered += 1;
                tracing::info!(message = %message.id, destination = destination.as_str(), "notification delivered");
                self.store.mark_outbox_sent(system, message.id, now).await
            }
            Err(error) => {
                summary.failed += 1;
                // A receiver's `Retry-After` pushes the next attempt back:
                // the backoff then counts from the end of that wait.
                let wait = error
                    .retry_after()
                    .and_then(|d| Duration::try_from(d).ok())
                    .unwrap_or(Duration::ZERO);
                let error = chain(&error);
                let after = self
                    .store
                    .mark_outbox_failed(system, message.id, &error, now + wait)
                    .await?;
                tracing::warn!(
                    message = %message.id,
                    destination = destination.as_str(),
                    attempts = after.attempts,
                    status = %after.status,
                    %error,
                    "notification delivery failed"
                );
                Ok(())
            }
        }
    }
}

impl Notifier {
    /// Posts to Slack: in the incident's thread when one was started, else
    /// to the channel, and then the message it posted starts the thread.
    async fn deliver_slack(
        &self,
        system: &Viewer,
        message: &OutboxMessage,
        notice: &Notice,
    ) -> Result<Result<(), DeliveryError>, StoreError> {
        let Some(incident) = message.incident_id else {
            return Ok(self.deliverer.deliver_slack(notice, None).await.map(drop));
        };
        let thread = self.store.slack_thread(system, incident).await?;
        let posted = self
            .deliverer
            .deliver_slack(
                notice,
                thread.as_ref().map(|t| (t.channel.as_str(), t.ts.as_str())),
            )
            .await;
        match posted {
            Ok(Some(posted)) if thread.is_none() => {
                let thread = SlackThread {
                    channel: posted.channel,
                    ts: posted.ts,
                };
                // The post went out: a thread that cannot be recorded only
                // means later changes start their own messages; sending it
                // again would post it twice.
                if let Err(error) = self.store.set_slack_thread(system, incident, &thread).await {
                    tracing::warn!(message = %message.id, %error, "cannot record the slack thread");
                }
                Ok(Ok(()))
            }
            Ok(_) => Ok(Ok(())),
            Err(error) => Ok(Err(error)),
        }
    }

    /// Whether the message's incident is sensitive now (it may have become
    /// sensitive after the message was queued). A missing incident counts as
    /// sensitive: nothing is sent that cannot be checked.
    async fn now_sensitive(
        &self,
        system: &Viewer,
        message: &OutboxMessage,
    ) -> Result<bool, StoreError> {
        let Some(incident) = message.incident_id.filter(|_| !message.sensitive) else {
            return Ok(true);
        };
        match self.store.get_incident(system, incident).await {
            Ok(detail) => Ok(detail.incident.sensitive),
            Err(StoreError::NotFound(_)) => Ok(true),
            Err(other) => Err(other),
        }
    }
}

/// The destination a fanned-out child message is for: `None` for a message
/// as enqueued by a change, `Err` with the name if it is unknown.
fn destination_of(message: &OutboxMessage) -> Option<Result<Destination, String>> {
    let name = message.payload.destination()?;
    Some(Destination::parse(name).ok_or_else(|| name.to_owned()))
}

/// Starts the worker loop: a pass every `poll_interval_ms`, until `stop`
/// becomes true (or its sender is dropped). A pass in progress finishes
/// before the task ends.
pub fn spawn(
    store: Arc<dyn Store>,
    config: NotifyConfig,
    mut stop: watch::Receiver<bool>,
) -> Result<JoinHandle<()>, DeliveryError> {
    let interval = StdDuration::from_millis(config.poll_interval_ms.max(10));
    let notifier = Notifier::new(store, config)?;
    Ok(tokio::spawn(async move {
        loop {
            if *stop.borrow() {
                break;
            }
            match notifier.run_once(OffsetDateTime::now_utc()).await {
                Ok(summary) if summary.claimed > 0 => tracing::debug!(?summary, "outbox pass"),
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "outbox pass failed"),
            }
            tokio::select! {
                changed = stop.changed() => if changed.is_err() { break },
                () = tokio::time::sleep(interval) => {}
            }
        }
        tracing::info!("notification worker stopped");
    }))
}
