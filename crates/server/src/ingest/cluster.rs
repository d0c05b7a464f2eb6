//! Several nodes sharing live detection: events on NATS JetStream,
//! partition leases and detector checkpoints on PostgreSQL.
//!
//! ```text
//! input ─> Intake (check) ─> publish to watchpost.events.<p> ─> JetStream ack ─> 2xx
//!                                     │
//!        node holding partition p: durable pull consumer wp-p<p> ─> engine::Stream::push_split
//!                                     ─> kept events to watchpost.events.<N+k>, for each
//!                                        shard k of their keys ─> JetStream ack
//!                                     ─> alerts (PostgreSQL, unique keys)
//!                                     ─> checkpoint (PostgreSQL) ─> ack the messages
//!                                     │
//!        node holding keyed partition N+k (N = partitions): wp-p<N+k> ─> Stream::push_kept
//!                                     on shard k ─> alerts ─> checkpoint ─> ack
//! ```
//!
//! - [`bus`]: the JetStream side. An intake publishes the accepted records
//!   of one request, framed into messages of at most the server's payload
//!   limit, to the partition of their source, each with a `Nats-Msg-Id`,
//!   and answers only once JetStream has acknowledged every publish.
//! - [`coord`]: who runs which partition. Every node holds a PostgreSQL
//!   session-level advisory lock for its membership, and one per partition
//!   it runs; a node that dies loses its session and so its locks at once.
//!   Each node aims at its fair share, `ceil((partitions +
//!   keyed_partitions) / live nodes)` (the keyed stage's partitions count
//!   alike), releasing the surplus and taking free partitions, so partitions move
//!   when a node joins or leaves. PostgreSQL decides; there is no protocol
//!   of our own between nodes.
//! - [`partition`]: the detection of one partition, on a thread of its
//!   own: it resumes the partition's checkpoint (detector state and the
//!   stream sequence it covers), recreates the partition's durable consumer
//!   from there, and processes messages in sequence order. Messages are
//!   acknowledged only once a checkpoint covering them is written (after
//!   their alerts are stored), so a node that dies leaves them to be
//!   redelivered to the next owner, which rebuilds the state from the
//!   checkpoint and the redelivered messages. A source partition keeps
//!   no ordered stage: it hands the events correlations and policy
//!   detectors need to the keyed stage, where the events of every source
//!   meet, and waits for JetStream to take them before it stores,
//!   checkpoints or acknowledges the batch. The keyed stage is
//!   `keyed_partitions` partitions ([`ClusterSettings::keyed_partition`]),
//!   each one shard of the keys ([`detect::Shard`]): a correlation's
//!   group-by values, a policy detector's key (its host, say; the login
//!   detector, whose success-after-failures check reads a user's and an
//!   address's counts together, is one key). An event goes to every shard
//!   one of its keys belongs to, and each shard keeps state and fires
//!   only for its own keys.
//!
//! Alerts keep their deterministic keys ([`super::alerts::alert_key`]) and
//! the store refuses a key twice, so a redelivered message never makes a
//! second alert or incident.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use serde::Deserialize;

pub(super) mod bus;
pub(super) mod coord;
pub(super) mod frame;
pub(super) mod node;
pub(super) mod partition;

/// Default number of partitions of the event stream.
pub const DEFAULT_PARTITIONS: u32 = 16;
/// Default number of partitions of the keyed stage.
pub const DEFAULT_KEYED_PARTITIONS: u32 = 4;
/// Default JetStream stream of events.
pub const DEFAULT_STREAM: &str = "WATCHPOST_EVENTS";
/// Default subject prefix of events (`PREFIX.<partition>`).
pub const DEFAULT_SUBJECT: &str = "watchpost.events";
/// Default deliveries of a message that cannot be read before it is moved
/// to the dead-letter subject.
pub const DEFAULT_MAX_DELIVER: i64 = 5;
/// Default time JetStream waits for an acknowledgement before it
/// redelivers.
pub const DEFAULT_ACK_WAIT_SECS: u64 = 60;
/// Default age past which JetStream drops events nobody consumed.
pub const DEFAULT_STREAM_MAX_AGE_SECS: u64 = 7 * 24 * 3600;
/// Default size of the event stream on the NATS server.
pub const DEFAULT_STREAM_MAX_BYTES: i64 = 8 << 30;
/// Default interval between lease checks.
pub const DEFAULT_REBALANCE_MILLIS: u64 = 1000;
/// Default interval between checkpoints of a partition.
pub const DEFAULT_CHECKPOINT_MILLIS: u64 = 2000;

/// The `[cluster]` table: running as one of several nodes (with
/// `nats_url` and a PostgreSQL `database_url`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterConfig {
    /// This node's name, unique in the cluster (default: the host name and
    /// the process id). It names the node in logs and in PostgreSQL.
    pub node_id: Option<String>,
    /// Partitions of the event stream (default 16, 1 to 1024). Fixed when
    /// the cluster first starts; a node configured otherwise refuses to
    /// start.
    pub partitions: Option<u32>,
    /// Partitions of the keyed stage, where correlations and policy
    /// detectors run split by key (default 4, 1 to 256). Fixed when the
    /// cluster first starts, like `partitions`.
    pub keyed_partitions: Option<u32>,
    /// The JetStream stream of events (default `WATCHPOST_EVENTS`).
    pub stream: Option<String>,
    /// The subject prefix of events (default `watchpost.events`; partition
    /// `p` is `PREFIX.p`, and dead letters go to `PREFIX-dead.p`).
    pub subject: Option<String>,
    /// Deliveries of a message that cannot be read before it moves to the
    /// dead-letter subject (default 5).
    pub max_deliver: Option<i64>,
    /// Seconds JetStream waits for an acknowledgement before redelivering
    /// (default 60; must exceed the checkpoint interval).
    pub ack_wait_secs: Option<u64>,
    /// How long JetStream keeps events, consumed or not, in seconds
    /// (default one week).
    pub stream_max_age_secs: Option<u64>,
    /// The most bytes the event stream holds on the NATS server (default
    /// 8 GiB). When it is full, senders get 503 and nothing they sent is
    /// acknowledged.
    pub stream_max_bytes: Option<i64>,
    /// How often a node checks the cluster's membership and its partition
    /// leases, in milliseconds (default 1000).
    pub rebalance_millis: Option<u64>,
    /// How often a partition's detector state is checkpointed (and its
    /// messages acknowledged), in milliseconds (default 2000).
    pub checkpoint_millis: Option<u64>,
}

/// A checked `[cluster]` table with its defaults filled in.
#[derive(Debug, Clone)]
pub struct ClusterSettings {
    pub nats_url: String,
    pub database_url: String,
    pub node_id: String,
    pub partitions: u32,
    pub keyed_partitions: u32,
    pub stream: String,
    pub subject: String,
    pub max_deliver: i64,
    pub ack_wait: Duration,
    pub stream_max_age: Duration,
    pub stream_max_bytes: i64,
    pub rebalance_every: Duration,
    pub checkpoint_every: Duration,
}

impl ClusterSettings {
    /// Checks `config` for a node of the cluster at `nats_url` whose store
    /// is `database_url` (which must be PostgreSQL).
    pub fn new(
        config: &ClusterConfig,
        nats_url: &str,
        database_url: Option<&str>,
    ) -> Result<Self, String> {
        let database_url = database_url
            .filter(|u| u.starts_with("postgres://") || u.starts_with("postgresql://"))
            .ok_or(
                "nats_url needs a PostgreSQL database_url: the nodes of a cluster share their store",
            )?
            .to_owned();
        if !(nats_url.starts_with("nats://") || nats_url.starts_with("tls://")) {
            return Err("nats_url must be a nats:// or tls:// URL".to_owned());
        }
        let node_id = match &config.node_id {
            Some(id) => id.clone(),
            None => format!("{}-{}", hostname(), std::process::id()),
        };
        if node_id.is_empty()
            || node_id.len() > 128
            || !node_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-:".contains(&b))
        {
            return Err(
                "cluster.node_id: 1 to 128 characters of letters, digits and ._-:".to_owned(),
            );
        }
        let partitions = config.partitions.unwrap_or(DEFAULT_PARTITIONS);
        if !(1..=1024).contains(&partitions) {
            return Err("cluster.partitions: 1 to 1024".to_owned());
        }
        let keyed_partitions = config.keyed_partitions.unwrap_or(DEFAULT_KEYED_PARTITIONS);
        if !(1..=256).contains(&keyed_partitions) {
            return Err("cluster.keyed_partitions: 1 to 256".to_owned());
        }
        let token = |what: &str, v: &str| {
            if v.is_empty()
                || v.len() > 64
                || !v
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_-".contains(&b))
            {
                Err(format!("cluster.{what}: 1 to 64 letters, digits, _ and -"))
            } else {
                Ok(())
            }
        };
        let stream = config
            .stream
            .clone()
            .unwrap_or_else(|| DEFAULT_STREAM.into());
        token("stream", &stream)?;
        let subject = config
            .subject
            .clone()
            .unwrap_or_else(|| DEFAULT_SUBJECT.into());
        for part in subject.split('.') {
            token("subject (each dot-separated part)", part)?;
        }
        let max_deliver = config.max_deliver.unwrap_or(DEFAULT_MAX_DELIVER);
        if !(1..=100).contains(&max_deliver) {
            return Err("cluster.max_deliver: 1 to 100".to_owned());
        }
        let checkpoint_every = Duration::from_millis(
            config
                .checkpoint_millis
                .unwrap_or(DEFAULT_CHECKPOINT_MILLIS),
        );
        let ack_wait = Duration::from_secs(config.ack_wait_secs.unwrap_or(DEFAULT_ACK_WAIT_SECS));
        if checkpoint_every.is_zero() || checkpoint_every * 4 > ack_wait {
            return Err(
                "cluster.checkpoint_millis must be positive and at most a quarter of ack_wait_secs"
                    .to_owned(),
            );
        }
        let rebalance_every =
            Duration::from_millis(config.rebalance_millis.unwrap_or(DEFAULT_REBALANCE_MILLIS));
        if rebalance_every < Duration::from_millis(50) {
            return Err("cluster.rebalance_millis: at least 50".to_owned());
        }
        let stream_max_bytes = config.stream_max_bytes.unwrap_or(DEFAULT_STREAM_MAX_BYTES);
        if stream_max_bytes < 1 << 20 {
            return Err("cluster.stream_max_bytes: at least 1 MiB".to_owned());
        }
        Ok(ClusterSettings {
            nats_url: nats_url.to_owned(),
            database_url,
            node_id,
            partitions,
            keyed_partitions,
            stream,
            subject,
            max_deliver,
            ack_wait,
            stream_max_age: Duration::from_secs(
                config
                    .stream_max_age_secs
                    .unwrap_or(DEFAULT_STREAM_MAX_AGE_SECS)
                    .max(60),
            ),
            stream_max_bytes,
            rebalance_every,
            checkpoint_every,
        })
    }

    /// The dead-letter subject prefix.
    pub fn dead_subject(&self) -> String {
        format!("{}-dead", self.subject)
    }

    /// Every partition that is leased: the source partitions, then the
    /// keyed stage's.
    pub fn units(&self) -> u32 {
        self.partitions + self.keyed_partitions
    }

    /// The keyed stage's partition number of its shard `shard`: after the
    /// source partitions (`0..partitions`). Leased, checkpointed and
    /// consumed like them, on the subject `<subject>.<number>`, which no
    /// source maps to.
    pub fn keyed_partition(&self, shard: u32) -> u32 {
        self.partitions + shard
    }

    /// The keyed stage's shard that partition `p` runs, if it is one of
    /// the keyed stage's.
    pub fn keyed_shard(&self, p: u32) -> Option<detect::Shard> {
        p.checked_sub(self.partitions)
            .and_then(|i| detect::Shard::new(i, self.keyed_partitions))
    }
}

/// A URL with any `user:password@` taken out, for messages.
pub fn without_credentials(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
            format!("{scheme}://{host}")
        }
        None => url.rsplit_once('@').map_or(url, |(_, h)| h).to_owned(),
    }
}

/// This machine's host name, or `node` when it cannot be read.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.chars()
                .filter(|c| c.is_ascii_alphanumeric() || "._-".contains(*c))
                .take(100)
                .collect()
        })
        .unwrap_or_else(|| "node".to_owned())
}

/// The partition of a source: CRC-32 of its name, modulo the partition
/// count. Every event of one source goes to one partition, so one node
/// sees a source's events in order, as the gap detector needs; stateful
/// detection runs in the keyed partitions, over every source's kept events.
pub fn partition_of(source: &str, partitions: u32) -> u32 {
    crc32fast::hash(source.as_bytes()) % partitions.max(1)
}

/// What the cluster's parts report for `/metrics` and the health check.
#[derive(Debug, Default)]
pub struct ClusterStats {
    /// Whether the last JetStream call worked.
    pub jetstream_up: AtomicBool,
    /// Whether the coordinator's PostgreSQL session is open.
    pub postgres_up: AtomicBool,
    /// Live nodes at the last look.
    pub nodes: AtomicU64,
    /// Records published and acknowledged by JetStream.
    pub published: AtomicU64,
    /// Publishes JetStream did not acknowledge (the request got 503).
    pub publish_failures: AtomicU64,
    /// Messages moved to the dead-letter subject.
    pub dead_lettered: AtomicU64,
    /// Deliveries of messages that could not be read.
    pub unreadable_deliveries: AtomicU64,
    /// Records processed by this node's partitions.
    pub processed: AtomicU64,
    /// Kept events handed to the keyed stage (published and acknowledged).
    pub kept_published: AtomicU64,
    /// Kept events processed by the keyed stage on this node.
    pub kept_processed: AtomicU64,
    /// Checkpoints written.
    pub checkpoints: AtomicU64,
    /// Checkpoints refused because the partition's lease was lost.
    pub fenced: AtomicU64,
    /// Partitions taken over (this node started running them).
    pub acquired: AtomicU64,
    /// Partitions given up (to another node, or lost with PostgreSQL).
    pub released: AtomicU64,
    /// Per owned partition: (messages not yet delivered, delivered and not
    /// yet acknowledged, events in the reorder window).
    pub lag: std::sync::Mutex<BTreeMap<u32, (u64, u64, u64)>>,
}

impl ClusterStats {
    pub(super) fn set_lag(&self, partition: u32, pending: u64, unacked: u64) {
        let mut lag = self
            .lag
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = lag.entry(partition).or_default();
        entry.0 = pending;
        entry.1 = unacked;
    }

    pub(super) fn set_buffered(&self, partition: u32, buffered: usize) {
        self.lag
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(partition)
            .or_default()
            .2 = buffered as u64;
    }

    /// Events in the reorder windows of this node's partitions.
    pub(super) fn buffered(&self) -> u64 {
        self.lag
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .values()
            .map(|v| v.2)
            .sum()
    }

    pub(super) fn drop_lag(&self, partition: u32) {
        self.lag
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&partition);
    }

    /// The Prometheus lines of the cluster.
    pub(super) fn prometheus(&self, node: &str, out: &mut String) {
        use std::fmt::Write as _;
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let up = |b: &AtomicBool| u64::from(b.load(Ordering::Relaxed));
        let node = super::label(node);
        let mut gauge = |name: &str, help: &str, kind: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name}{{node=\"{node}\"}} {value}"
            );
        };
        gauge(
            "watchpost_jetstream_up",
            "1 when the last JetStream call of this node worked.",
            "gauge",
            up(&self.jetstream_up),
        );
        gauge(
            "watchpost_cluster_postgres_up",
            "1 when this node's PostgreSQL session for partition leases is open.",
            "gauge",
            up(&self.postgres_up),
        );
        gauge(
            "watchpost_cluster_nodes",
            "Live nodes in the cluster, at this node's last look.",
            "gauge",
            get(&self.nodes),
        );
        gauge(
            "watchpost_jetstream_published_records_total",
            "Records published by this node and acknowledged by JetStream.",
            "counter",
            get(&self.published),
        );
        gauge(
            "watchpost_jetstream_publish_failures_total",
            "Publishes JetStream did not acknowledge (the sender got 503).",
            "counter",
            get(&self.publish_failures),
        );
        gauge(
            "watchpost_dead_letters_total",
            "Messages this node moved to the dead-letter subject.",
            "counter",
            get(&self.dead_lettered),
        );
        gauge(
            "watchpost_unreadable_deliveries_total",
            "Deliveries of messages that could not be read.",
            "counter",
            get(&self.unreadable_deliveries),
        );
        gauge(
            "watchpost_partition_records_processed_total",
            "Records processed by this node's partitions.",
            "counter",
            get(&self.processed),
        );
        gauge(
            "watchpost_keyed_events_published_total",
            "Kept events this node's partitions handed to the keyed stage.",
            "counter",
            get(&self.kept_published),
        );
        gauge(
            "watchpost_keyed_events_processed_total",
            "Kept events the keyed stage processed on this node.",
            "counter",
            get(&self.kept_processed),
        );
        gauge(
            "watchpost_partition_checkpoints_total",
            "Partition checkpoints written by this node.",
            "counter",
            get(&self.checkpoints),
        );
        gauge(
            "watchpost_partition_checkpoints_fenced_total",
            "Partition checkpoints refused because the lease was lost.",
            "counter",
            get(&self.fenced),
        );
        gauge(
            "watchpost_partitions_acquired_total",
            "Partitions this node took over.",
            "counter",
            get(&self.acquired),
        );
        gauge(
            "watchpost_partitions_released_total",
            "Partitions this node gave up.",
            "counter",
            get(&self.released),
        );
        let lag = self
            .lag
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let _ = writeln!(
            out,
            "# HELP watchpost_partitions_owned Partitions this node runs.\n# TYPE watchpost_partitions_owned gauge\nwatchpost_partitions_owned{{node=\"{node}\"}} {}",
            lag.len()
        );
        let _ = writeln!(
            out,
            "# HELP watchpost_partition_lag_messages Messages of a partition JetStream holds that its consumer has not yet delivered (by the owning node).\n# TYPE watchpost_partition_lag_messages gauge"
        );
        for (p, (pending, _, _)) in &lag {
            let _ = writeln!(
                out,
                "watchpost_partition_lag_messages{{node=\"{node}\",partition=\"{p}\"}} {pending}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP watchpost_partition_unacked_messages Messages of a partition delivered and not yet acknowledged (waiting for a checkpoint).\n# TYPE watchpost_partition_unacked_messages gauge"
        );
        for (p, (_, unacked, _)) in &lag {
            let _ = writeln!(
                out,
                "watchpost_partition_unacked_messages{{node=\"{node}\",partition=\"{p}\"}} {unacked}"
            );
        }
    }
}

/// A flag a partition worker is stopped with.
pub(super) type StopFlag = Arc<AtomicBool>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_are_stable_and_in_range() {
        // CRC-32 (IEEE) of "web01/auth" is 0x8e6b_3370 by the reference
        // implementation (`python3 -c 'import zlib; print(hex(zlib.crc32(b"web01/auth")))'`).
        assert_eq!(crc32fast::hash(b"web01/auth"), 0x8e6b_3370);
        assert_eq!(partition_of("web01/auth", 16), 0x8e6b_3370 % 16);
        for n in [1, 2, 3, 16, 1024] {
            assert!(partition_of("x/y", n) < n);
        }
        // No source is ever routed to the keyed stage's partitions, which
        // follow the source partitions.
        let config = ClusterConfig {
            partitions: Some(8),
            keyed_partitions: Some(3),
            ..ClusterConfig::default()
        };
        let s = ClusterSettings::new(&config, "nats://h:1", Some("postgres://h/wp")).unwrap();
        assert_eq!(s.units(), 11);
        assert_eq!(
            (0..11)
                .map(|p| s.keyed_shard(p).map(|k| k.index()))
                .collect::<Vec<_>>(),
            [
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                Some(0),
                Some(1),
                Some(2)
            ]
        );
        assert_eq!(s.keyed_partition(2), 10);
    }

    #[test]
    fn credentials_are_kept_out_of_messages() {
        assert_eq!(
            without_credentials("nats://wp:s3cret@10.0.0.1:4222"),
            "nats://10.0.0.1:4222"
        );
        assert_eq!(without_credentials("nats://h:4222"), "nats://h:4222");
    }

    #[test]
    fn settings_refuse_what_cannot_work() {
        let c = ClusterConfig::default();
        let pg = Some("postgres://wp@db/wp");
        assert!(ClusterSettings::new(&c, "nats://127.0.0.1:4222", None).is_err());
        assert!(ClusterSettings::new(&c, "nats://127.0.0.1:4222", Some("sqlite:x.db")).is_err());
        assert!(ClusterSettings::new(&c, "http://127.0.0.1:4222", pg).is_err());
        let s = ClusterSettings::new(&c, "nats://127.0.0.1:4222", pg).unwrap();
        assert_eq!((s.partitions, s.keyed_partitions), (16, 4));
        assert_eq!(s.subject, "watchpost.events");
        assert_eq!(s.dead_subject(), "watchpost.events-dead");
        let bad = ClusterConfig {
            partitions: Some(0),
            ..ClusterConfig::default()
        };
        assert!(ClusterSettings::new(&bad, "nats://h:1", pg).is_err());
        let bad = ClusterConfig {
            keyed_partitions: Some(0),
            ..ClusterConfig::default()
        };
        assert!(ClusterSettings::new(&bad, "nats://h:1", pg).is_err());
        let bad = ClusterConfig {
            node_id: Some("a b".into()),
            ..ClusterConfig::default()
        };
        assert!(ClusterSettings::new(&bad, "nats://h:1", pg).is_err());
        let bad = ClusterConfig {
            subject: Some("a.>".into()),
            ..ClusterConfig::default()
        };
        assert!(ClusterSettings::new(&bad, "nats://h:1", pg).is_err());
        let bad = ClusterConfig {
            checkpoint_millis: Some(30_000),
            ack_wait_secs: Some(60),
            ..ClusterConfig::default()
        };
        assert!(ClusterSettings::new(&bad, "nats://h:1", pg).is_err());
    }
}
