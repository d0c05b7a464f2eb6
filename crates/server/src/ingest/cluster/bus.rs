//! The JetStream side of a cluster: the event stream, publishing with
//! acknowledgements, and each partition's durable pull consumer.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use async_nats::jetstream::{self, consumer, stream};

use super::{ClusterSettings, ClusterStats};

/// How long a publish may wait for JetStream's acknowledgement.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(10);
/// The header that names the reason a message was dead-lettered.
pub const DEAD_REASON: &str = "Watchpost-Dead-Reason";
/// The header that names the subject a dead letter was published to.
pub const DEAD_SUBJECT: &str = "Watchpost-Dead-Subject";
/// The header with a dead letter's stream sequence.
pub const DEAD_SEQUENCE: &str = "Watchpost-Dead-Sequence";
/// The dead-letter stream's name (the event stream's, with `_DEAD`).
pub fn dead_stream_name(settings: &ClusterSettings) -> String {
    format!("{}_DEAD", settings.stream)
}

/// Why a publish was not acknowledged.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// A record is larger than a message may be.
    #[error("record {0} is larger than the NATS server's largest message")]
    TooLarge(usize),
    /// JetStream did not acknowledge in time, or refused (full, down).
    #[error("JetStream did not acknowledge the events: {0}")]
    NotAcknowledged(String),
}

/// Why [`Bus::publish_framed`] did not get every acknowledgement.
enum Acked {
    /// The record at this index does not fit a message.
    TooLarge(usize),
    /// JetStream refused, or did not answer in time.
    Not(String),
}

/// The connection to NATS and the event stream.
pub struct Bus {
    js: jetstream::Context,
    events: stream::Stream,
    settings: Arc<ClusterSettings>,
    stats: Arc<ClusterStats>,
    max_payload: usize,
}

impl Bus {
    /// Connects, and creates the event and dead-letter streams when they
    /// are missing. NATS must be reachable at start; later outages are
    /// ridden out by the client's reconnects.
    pub async fn connect(
        settings: Arc<ClusterSettings>,
        stats: Arc<ClusterStats>,
    ) -> anyhow::Result<Bus> {
        use anyhow::Context as _;
        let client = async_nats::ConnectOptions::new()
            .name(format!("watchpost {}", settings.node_id))
            .connection_timeout(Duration::from_secs(5))
            .connect(settings.nats_url.as_str())
            .await
            .with_context(|| {
                format!(
                    "cannot connect to NATS at {}",
                    super::without_credentials(&settings.nats_url)
                )
            })?;
        let max_payload = client.server_info().max_payload;
        let mut js = jetstream::new(client);
        js.set_timeout(PUBLISH_TIMEOUT);
        let subjects = vec![format!("{}.*", settings.subject)];
        let events = js
            .get_or_create_stream(stream::Config {
                name: settings.stream.clone(),
                description: Some(format!(
                    "watchpost events, {} partitions",
                    settings.partitions
                )),
                subjects: subjects.clone(),
                retention: stream::RetentionPolicy::Limits,
                storage: stream::StorageType::File,
                discard: stream::DiscardPolicy::New,
                max_age: settings.stream_max_age,
                max_bytes: settings.stream_max_bytes,
                duplicate_window: Duration::from_secs(120),
                ..Default::default()
            })
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "cannot create the JetStream stream {}: {e}",
                    settings.stream
                )
            })?;
        let have = &events.cached_info().config.subjects;
        if *have != subjects {
            anyhow::bail!(
                "the JetStream stream {} takes {have:?}, not {subjects:?}: set [cluster] stream or subject to match",
                settings.stream
            );
        }
        js.get_or_create_stream(stream::Config {
            name: dead_stream_name(&settings),
            description: Some("watchpost event messages that could not be read".into()),
            subjects: vec![format!("{}.*", settings.dead_subject())],
            retention: stream::RetentionPolicy::Limits,
            storage: stream::StorageType::File,
            max_age: Duration::from_secs(30 * 24 * 3600),
            max_bytes: 1 << 30,
            ..Default::default()
        })
        .await
        .map_err(|e| anyhow::anyhow!("cannot create the dead-letter stream: {e}"))?;
        stats.jetstream_up.store(true, Ordering::Relaxed);
        Ok(Bus {
            js,
            events,
            settings,
            stats,
            max_payload,
        })
    }

    /// The largest message the server takes.
    pub fn max_payload(&self) -> usize {
        self.max_payload
    }

    /// Publishes the records of `source` to its partition and waits until
    /// JetStream has acknowledged every message. Each message's
    /// `Nats-Msg-Id` is made from its lines ([`message_id`]), so a message
    /// stored although its acknowledgement never came (the client sends
    /// what it buffered once NATS is back) and the sender's retry of it are
    /// stored once.
    pub async fn publish(&self, source: &str, records: &[Vec<u8>]) -> Result<(), PublishError> {
        let partition = super::partition_of(source, self.settings.partitions);
        let subject = format!("{}.{partition}", self.settings.subject);
        match self
            .publish_framed(subject, records, |_, payload| message_id(payload))
            .await
        {
            Ok(()) => {
                self.stats
                    .published
                    .fetch_add(records.len() as u64, Ordering::Relaxed);
                Ok(())
            }
            Err(Acked::TooLarge(i)) => Err(PublishError::TooLarge(i)),
            Err(Acked::Not(reason)) => Err(self.failed(reason)),
        }
    }

    /// Hands the events that the source message at stream sequence `seq`
    /// kept, and whose keys belong to shard `shard`, to that shard's keyed
    /// partition, and waits until JetStream has acknowledged them. The
    /// `Nats-Msg-Id` of each message is made from `seq`, the shard and the
    /// message's place among those events, which do not depend on how
    /// messages were fetched: a node that takes the partition over and
    /// processes the message again publishes the same ids, and JetStream
    /// stores them once (within its two-minute duplicate window). A
    /// failure is the caller's to retry; no sender is refused for it.
    pub async fn publish_kept(
        &self,
        seq: u64,
        shard: u32,
        kept: &[Vec<u8>],
    ) -> Result<(), PublishError> {
        let subject = format!(
            "{}.{}",
            self.settings.subject,
            self.settings.keyed_partition(shard)
        );
        match self
            .publish_framed(subject, kept, |i, _| format!("wp-kept-{seq}-{shard}-{i}"))
            .await
        {
            Ok(()) => {
                self.stats
                    .kept_published
                    .fetch_add(kept.len() as u64, Ordering::Relaxed);
                Ok(())
            }
            Err(Acked::TooLarge(i)) => Err(PublishError::TooLarge(i)),
            Err(Acked::Not(reason)) => {
                self.stats.jetstream_up.store(false, Ordering::Relaxed);
                Err(PublishError::NotAcknowledged(reason))
            }
        }
    }

    /// The largest record [`Bus::publish`] and [`Bus::publish_kept`] take:
    /// a message's room (the server's payload limit less room for the
    /// headers) less the framing.
    pub fn max_record(&self) -> usize {
        self.room()
            .saturating_sub(super::frame::MAGIC.len() + super::frame::PER_RECORD)
    }

    /// A message's room for its payload: the server's limit less room for
    /// the headers.
    fn room(&self) -> usize {
        self.max_payload.saturating_sub(512)
    }

    /// Frames `records` into messages on `subject`, each with the
    /// `Nats-Msg-Id` `id(index, payload)`, publishes them all, then waits
    /// for every acknowledgement.
    async fn publish_framed(
        &self,
        subject: String,
        records: &[Vec<u8>],
        id: impl Fn(usize, &[u8]) -> String,
    ) -> Result<(), Acked> {
        let payloads = super::frame::pack(records, self.room()).map_err(Acked::TooLarge)?;
        let mut acks = Vec::with_capacity(payloads.len());
        for (i, payload) in payloads.into_iter().enumerate() {
            let mut headers = async_nats::HeaderMap::new();
            headers.insert(
                async_nats::header::NATS_MESSAGE_ID,
                id(i, &payload).as_str(),
            );
            match self
                .js
                .publish_with_headers(subject.clone(), headers, payload.into())
                .await
            {
                Ok(ack) => acks.push(ack),
                Err(e) => return Err(Acked::Not(e.to_string())),
            }
        }
        for ack in acks {
            if let Err(e) = ack.await {
                return Err(Acked::Not(e.to_string()));
            }
        }
        self.stats.jetstream_up.store(true, Ordering::Relaxed);
        Ok(())
    }

    fn failed(&self, reason: String) -> PublishError {
        self.stats.jetstream_up.store(false, Ordering::Relaxed);
        self.stats.publish_failures.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(%reason, "JetStream did not acknowledge a publish; the sender is told to retry");
        PublishError::NotAcknowledged(reason)
    }

    /// The durable consumer of `partition`, created afresh to deliver from
    /// stream sequence `from` (0: from the start). Whatever a previous
    /// owner had delivered and not acknowledged is delivered again, in
    /// order.
    pub async fn consumer(
        &self,
        partition: u32,
        from: u64,
    ) -> anyhow::Result<consumer::PullConsumer> {
        let name = consumer_name(partition);
        match self.events.delete_consumer(&name).await {
            Ok(_) => {}
            Err(e) if e.to_string().contains("not found") => {}
            Err(e) => anyhow::bail!("cannot reset consumer {name}: {e}"),
        }
        let deliver_policy = if from <= 1 {
            consumer::DeliverPolicy::All
        } else {
            consumer::DeliverPolicy::ByStartSequence {
                start_sequence: from,
            }
        };
        let consumer = self
            .events
            .create_consumer(consumer::pull::Config {
                durable_name: Some(name.clone()),
                description: Some(format!("watchpost partition {partition}")),
                filter_subject: format!("{}.{partition}", self.settings.subject),
                ack_policy: consumer::AckPolicy::Explicit,
                deliver_policy,
                ack_wait: self.settings.ack_wait,
                max_deliver: self.settings.max_deliver,
                max_ack_pending: 100_000,
                ..Default::default()
            })
            .await
            .map_err(|e| anyhow::anyhow!("cannot create consumer {name}: {e}"))?;
        Ok(consumer)
    }

    /// The message at stream sequence `seq` (for the evidence of a
    /// detection that came after its batch).
    pub async fn message(&self, seq: u64) -> Option<bytes::Bytes> {
        self.events
            .get_raw_message(seq)
            .await
            .ok()
            .map(|m| m.payload)
    }

    /// Moves a message that cannot be read to the dead-letter subject of
    /// its partition, with the reason, and waits for JetStream to store it.
    pub async fn dead_letter(
        &self,
        partition: u32,
        seq: u64,
        subject: &str,
        payload: bytes::Bytes,
        reason: &str,
    ) -> Result<(), String> {
        let mut headers = async_nats::HeaderMap::new();
        let reason: String = reason
            .chars()
            .filter(|c| !c.is_control())
            .take(500)
            .collect();
        headers.insert(DEAD_REASON, reason.as_str());
        headers.insert(DEAD_SUBJECT, subject);
        headers.insert(DEAD_SEQUENCE, seq.to_string().as_str());
        headers.insert(
            async_nats::header::NATS_MESSAGE_ID,
            format!("dead-{}-{seq}", self.settings.stream).as_str(),
        );
        let dead = format!("{}.{partition}", self.settings.dead_subject());
        let ack = self
            .js
            .publish_with_headers(dead, headers, payload)
            .await
            .map_err(|e| e.to_string())?;
        ack.await.map_err(|e| e.to_string())?;
        self.stats.dead_lettered.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Whether JetStream answers (the event stream's info).
    pub async fn reachable(&self) -> bool {
        let mut events = self.events.clone();
        let up = tokio::time::timeout(Duration::from_secs(2), events.info())
            .await
            .is_ok_and(|r| r.is_ok());
        self.stats.jetstream_up.store(up, Ordering::Relaxed);
        up
    }
}

/// The `Nats-Msg-Id` of a payload: SHA-256 of its records without their
/// arrival times, so the same lines from the same source sent again within
/// JetStream's duplicate window (two minutes) are stored once.
pub fn message_id(payload: &[u8]) -> String {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    for record in super::frame::unpack(payload).unwrap_or_default() {
        // Version and format, then (after the 8 bytes of arrival time) the
        // source and the line.
        h.update((record.len() as u64).to_le_bytes());
        h.update(record.get(..2).unwrap_or(record));
        h.update(record.get(10..).unwrap_or_default());
    }
    format!("wp-{}", hex::encode(&h.finalize()[..16]))
}

/// The durable consumer name of a partition.
pub fn consumer_name(partition: u32) -> String {
    format!("wp-p{partition}")
}

#[cfg(test)]
mod tests {
    use super::message_id;
    use crate::ingest::record::Record;
    use sources::Format;

    #[test]
    fn message_ids_ignore_arrival_time_and_nothing_else() {
        let record = |received, source, line: &[u8]| {
            Record {
                format: Format::Syslog,
                received,
                source,
                line,
            }
            .encode()
        };
        let pack = |records: Vec<Vec<u8>>| {
            crate::ingest::cluster::frame::pack(&records, 1 << 20)
                .unwrap()
                .remove(0)
        };
        let a = pack(vec![
            record(1, "web01/auth", b"one"),
            record(1, "web01/auth", b"two"),
        ]);
        let later = pack(vec![
            record(99, "web01/auth", b"one"),
            record(99, "web01/auth", b"two"),
        ]);
        assert_eq!(message_id(&a), message_id(&later));
        let other_source = pack(vec![
            record(1, "web02/auth", b"one"),
            record(1, "web02/auth", b"two"),
        ]);
        let other_line = pack(vec![
            record(1, "web01/auth", b"one"),
            record(1, "web01/auth", b"twO"),
        ]);
        let fewer = pack(vec![record(1, "web01/auth", b"one")]);
        for b in [other_source, other_line, fewer] {
            assert_ne!(message_id(&a), message_id(&b));
        }
        assert!(message_id(&a).starts_with("wp-") && message_id(&a).len() == 35);
    }
}
