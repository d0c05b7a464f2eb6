//! Live detection: events in over HTTP, into the durable spool, through the
//! engine, out as alerts and incidents.
//!
//! ```text
//! POST /api/v1/events ──> Intake (split, check, dead-letter) ──> Spool (fsync) ──> 2xx
//!                                                                  │
//!                         worker thread: read ─> parse ─> engine::Stream ─> alerts ─> Store
//!                                                                  └─> commit (replay horizon)
//! ```
//!
//! - [`Intake`] is the API's [`web::events::EventSink`]. It splits a body
//!   into lines ([`body`]), refuses the lines that are not records of their
//!   format (each with its number and reason, also written to the
//!   dead-letter file), and appends the rest to the spool as [`record`]s.
//!   It answers only after the spool's fsync: that answer is the
//!   acknowledgement.
//! - Backpressure is explicit: past `max_pending_events` records not yet
//!   processed the answer is 429, and a full spool is 503, both with
//!   `Retry-After`; nothing is buffered in memory beyond one request.
//! - The [`worker`] reads the spool in order and stores each detection as an
//!   alert with a deterministic key ([`alerts`]); detections at or above
//!   `incident_level` open or join an incident, lower ones stay in the
//!   alert queue.

use std::collections::{BTreeMap, VecDeque};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use detect::Level;
use engine::{Engine, StreamConfig};
use serde::Deserialize;
use serde_json::json;
use sources::{Format, TimeZone};
use web::events::{EventBatch, MAX_LISTED_REJECTIONS, Receipt, Refusal, RejectedLine};

use crate::at_rest;
use crate::spool::{Spool, SpoolConfig, SpoolError};

pub mod alerts;
pub mod body;
mod checkpoint;
pub mod cluster;
mod deliver;
mod health;
pub mod otlp;
pub mod record;
mod source_table;
pub mod syslog;
pub mod tail;
mod worker;

/// Default largest request body, compressed: 16 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 16 << 20;
/// Default most bytes a body may inflate to: 64 MiB.
pub const DEFAULT_MAX_INFLATED_BYTES: usize = 64 << 20;
/// Default longest line: 1 MiB.
pub const DEFAULT_MAX_LINE_BYTES: usize = 1 << 20;
/// Default most spooled records not yet processed before senders get 429.
pub const DEFAULT_MAX_PENDING_EVENTS: u64 = 2_000_000;
/// Default replay horizon: 15 minutes of event time (the login-failure
/// window is 10).
pub const DEFAULT_REPLAY_HORIZON_SECS: u64 = 900;
/// Default interval between detection checkpoints: 5 s.
pub const DEFAULT_CHECKPOINT_INTERVAL_SECS: u64 = 5;
/// Default reorder window per source: 2 s.
pub const DEFAULT_REORDER_WINDOW_SECS: u64 = 2;
/// Default idle time after which a quiet source stops holding others back.
pub const DEFAULT_REORDER_IDLE_MILLIS: u64 = 500;
/// The dead-letter file is rotated (to `.1`) past this size.
pub const DEAD_LETTER_MAX_BYTES: u64 = 64 << 20;
/// The dead-letter file's name in the data directory.
pub const DEAD_LETTER_FILE: &str = "dead-letter.ndjson";

/// The `[ingest]` table: live inputs, the spool and the detection worker.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IngestConfig {
    /// The spool directory (default `DATA_DIR/spool`).
    pub spool_dir: Option<PathBuf>,
    /// The spool's cap in bytes (default 1 GiB). When it is full, senders
    /// get 503 and nothing they sent is acknowledged; nothing acknowledged
    /// is ever dropped.
    pub spool_max_bytes: Option<u64>,
    /// The spool's segment size in bytes (default 64 MiB).
    pub spool_segment_bytes: Option<u64>,
    /// The largest `POST /api/v1/events` body, compressed (default 16 MiB;
    /// larger is 413).
    pub max_body_bytes: Option<usize>,
    /// The most bytes a gzip body may inflate to (default 64 MiB; more is
    /// 413).
    pub max_inflated_bytes: Option<usize>,
    /// The longest line (default 1 MiB); a longer one is refused by number.
    pub max_line_bytes: Option<usize>,
    /// Spooled records not yet processed past which senders get 429
    /// (default 2,000,000).
    pub max_pending_events: Option<u64>,
    /// The lowest detection level that opens or joins an incident
    /// (`informational`, `low`, `medium` (default), `high`, `critical`).
    /// Lower detections stay in the alert queue.
    pub incident_level: Option<String>,
    /// How far out of time order one source's events may arrive and still
    /// be correlated in order, in seconds of event time (default 2).
    pub reorder_window_secs: Option<u64>,
    /// How long a source that sends nothing holds back stateful detection
    /// of the others' events, in milliseconds (default 500). Detections
    /// about a source's last events come this long after they arrive.
    pub reorder_idle_millis: Option<u64>,
    /// How much event time the spool keeps behind the newest event for a
    /// rule reload to replay, and for a restart without a usable
    /// checkpoint to rebuild detector state from, in seconds (default 900,
    /// or the longest correlation `timespan` or login-failure window of the
    /// running rules when that is longer; at least twice the reorder
    /// window).
    pub replay_horizon_secs: Option<u64>,
    /// How often detector state is checkpointed with the offset detection
    /// has reached, in seconds (default 5; `0` turns checkpoints off, and
    /// a restart then replays the replay horizon). A restart resumes from
    /// the last checkpoint and reads on from its offset.
    pub checkpoint_interval_secs: Option<u64>,
    /// The IANA time zone of RFC 3164 syslog lines, which carry none
    /// (default `UTC`; `local` is this machine's zone).
    pub timezone: Option<String>,
    /// Syslog listeners (`[[ingest.syslog]]`): TCP (RFC 6587, optionally
    /// TLS) or UDP; see [`syslog::SyslogConfig`].
    pub syslog: Vec<syslog::SyslogConfig>,
    /// Files to follow (`[[ingest.tail]]`): globs polled for new lines,
    /// rotation and truncation, offsets kept across restarts; see
    /// [`tail::TailConfig`].
    pub tail: Vec<tail::TailConfig>,
}

/// Counters of the live pipeline.
#[derive(Debug, Default)]
pub struct IngestMetrics {
    /// Lines accepted and spooled.
    pub accepted: AtomicU64,
    /// Lines refused.
    pub rejected: AtomicU64,
    /// Requests refused whole (429/503).
    pub refused_requests: AtomicU64,
    /// Events the worker matched.
    pub events: AtomicU64,
    /// Spooled records the worker could not read back.
    pub unreadable: AtomicU64,
    /// Detections found.
    pub detections: AtomicU64,
    /// Alerts stored.
    pub alerts: AtomicU64,
    /// Alerts found again (after a replay or a resend) and not stored twice.
    pub alerts_duplicate: AtomicU64,
    /// Alerts the store refused as invalid.
    pub alerts_refused: AtomicU64,
    /// Records not yet processed, at the last look.
    pub buffered: AtomicU64,
    /// Events in the reorder window, at the last look.
    pub reordering: AtomicU64,
    /// Spooled-to-processed latency histogram (counts per
    /// [`LATENCY_BUCKETS`] bucket, the last one `+Inf`).
    pub latency: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    /// Sum of the latencies, in microseconds.
    pub latency_sum_micros: AtomicU64,
    /// Detection checkpoints written.
    pub checkpoints: AtomicU64,
    /// Detection checkpoints that could not be written.
    pub checkpoint_failures: AtomicU64,
    /// The offset of the last checkpoint written.
    pub checkpoint_offset: AtomicU64,
    /// The size of the last checkpoint written, in bytes.
    pub checkpoint_bytes: AtomicU64,
    /// How long the last checkpoint took to save and write, in
    /// microseconds.
    pub checkpoint_micros: AtomicU64,
}

/// Upper bounds of the latency histogram's buckets, in seconds.
pub const LATENCY_BUCKETS: [f64; 15] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

/// Per-source counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SourceCounts {
    /// Lines accepted.
    pub accepted: u64,
    /// Lines refused.
    pub rejected: u64,
    /// When a line last arrived (Unix seconds).
    pub last_seen: i64,
    /// When a line first arrived since start (Unix seconds).
    pub first_seen: i64,
}

/// What the intake and the worker share.
pub(crate) struct Shared {
    spool: Spool,
    spool_max_bytes: u64,
    /// The offset the worker has processed up to.
    processed: AtomicU64,
    stop: AtomicBool,
    stop_lock: Mutex<()>,
    stop_wake: Condvar,
    metrics: IngestMetrics,
    /// Appends not yet processed: (end offset, records, when spooled).
    appended: Mutex<VecDeque<(u64, u64, Instant)>>,
    /// Per-source counts, at most [`source_table::MAX_SOURCES`] names.
    sources: Mutex<source_table::SourceTable>,
    /// Every stream (source, host, log type) the worker has read, with
    /// its gap history.
    health: health::Health,
    /// The engine the worker runs (the coverage answers ask it which
    /// rules a stream feeds).
    engine: Mutex<Arc<Engine>>,
    /// What the running engine was built from, for reloads.
    engine_config: engine::EngineConfig,
    /// The running rules' load errors (`file: reason`), so a reload can
    /// tell new errors from old ones.
    rule_errors: Mutex<Vec<String>>,
    /// Detections found since start, by rule id: the rule's title and its
    /// count (at most [`MAX_RULE_HITS`] rules; past that, not counted by
    /// rule).
    rule_hits: Mutex<BTreeMap<String, (String, u64)>>,
    /// A new engine for the worker to switch to.
    reload: Mutex<Option<Arc<Engine>>>,
    /// Serialises reloads.
    reloading: tokio::sync::Mutex<()>,
    /// The scheduled monitors' counters, for `/metrics`, once they run.
    monitors: std::sync::OnceLock<Arc<crate::monitors::MonitorStats>>,
    /// Told of every alert the worker stores (and its outcome), once set.
    new_alerts: std::sync::OnceLock<AlertHook>,
    /// The "I didn't do this" mail counters, for `/metrics`, once mailing.
    user_checks: std::sync::OnceLock<Arc<crate::user_check::UserCheckStats>>,
    /// The cluster this node is part of (`None`: the local spool and
    /// worker).
    cluster: Option<ClusterParts>,
}

/// A node's links to its cluster.
struct ClusterParts {
    bus: Arc<cluster::bus::Bus>,
    stats: Arc<cluster::ClusterStats>,
    settings: Arc<cluster::ClusterSettings>,
}

/// What [`Ingest::on_alert`] calls with every alert the worker stores and
/// its outcome, on the detection thread: it must return at once.
pub type AlertHook = Arc<dyn Fn(&incidents::NewAlert, &incidents::AlertOutcome) + Send + Sync>;

/// The most rules whose detections are counted one by one.
const MAX_RULE_HITS: usize = 10_000;

/// One rule load error as text.
fn error_text(e: &rules::RuleError) -> String {
    format!("{}: {}", e.file, e.reason)
}

impl Shared {
    /// The engine a reload left for the worker, if any; from now on the
    /// running one.
    fn take_reload(&self) -> Option<Arc<Engine>> {
        let new = self
            .reload
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(engine) = &new {
            *self.engine.lock().unwrap_or_else(PoisonError::into_inner) = Arc::clone(engine);
        }
        new
    }

    /// Counts a detection of its rule.
    fn count_hit(&self, d: &detect::Detection) {
        let mut hits = self
            .rule_hits
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Looked up by reference: a rule already counted costs no
        // allocation (this runs for every detection).
        if let Some((_, n)) = hits.get_mut(d.rule_id.as_str()) {
            *n += 1;
        } else if hits.len() < MAX_RULE_HITS {
            hits.insert(d.rule_id.clone(), (d.rule_title.clone(), 1));
        }
    }

    /// The engine the worker runs.
    fn running_engine(&self) -> Arc<Engine> {
        Arc::clone(&self.engine.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Loads the rules again. A reload whose rules fail where the running
    /// ones did not (a new bad file, a broken edit) is refused and the
    /// running rules stay; otherwise the worker switches to the new
    /// engine and replays from the committed offset.
    async fn reload_rules(&self) -> Result<web::events::RulesReloaded, String> {
        let _one = self.reloading.lock().await;
        let config = self.engine_config.clone();
        let started = Instant::now();
        let engine = tokio::task::spawn_blocking(move || Engine::load(config))
            .await
            .map_err(|e| format!("the rule loader failed: {e}"))?
            .map_err(|e| e.to_string())?;
        let errors: Vec<String> = engine.rule_errors().iter().map(error_text).collect();
        let known = self
            .rule_errors
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let new: Vec<String> = errors
            .iter()
            .filter(|e| !known.contains(e))
            .cloned()
            .collect();
        if !new.is_empty() {
            tracing::warn!(
                new_errors = new.len(),
                "rule reload refused; the running rules stay"
            );
            return Err(format!(
                "the running rules stay: {} rule file(s) fail that did not before: {}",
                new.len(),
                new.iter().take(20).cloned().collect::<Vec<_>>().join("; ")
            ));
        }
        let loaded = engine.rules_loaded();
        *self
            .rule_errors
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = errors.clone();
        *self.reload.lock().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(engine));
        if self.cluster.is_some() {
            // Each partition worker sees the running engine change and
            // restarts on it.
            self.take_reload();
        }
        tracing::info!(
            rules = loaded,
            failed = errors.len(),
            millis = started.elapsed().as_millis() as u64,
            "rules reloaded"
        );
        Ok(web::events::RulesReloaded {
            rules_loaded: loaded as u64,
            rule_errors: errors,
        })
    }

    fn wait_stop(&self, timeout: Duration) {
        let guard = self
            .stop_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let _ = self
            .stop_wake
            .wait_timeout_while(guard, timeout, |()| !self.stop.load(Ordering::Relaxed));
    }

    fn set_buffered(&self, in_stream: usize) {
        self.metrics
            .reordering
            .store(in_stream as u64, Ordering::Relaxed);
        let pending = self
            .spool
            .end()
            .saturating_sub(self.processed.load(Ordering::Acquire));
        self.metrics.buffered.store(pending, Ordering::Relaxed);
    }

    /// Records the latency of every append processed up to `pos`.
    fn observe_latency(&self, pos: u64) {
        let mut appended = self.appended.lock().unwrap_or_else(PoisonError::into_inner);
        while appended.front().is_some_and(|(end, _, _)| *end <= pos) {
            let (_, count, at) = appended.pop_front().expect("checked");
            self.observe_latency_secs(count, at.elapsed().as_secs_f64());
        }
    }

    /// Counts `count` events done with `secs` after they were made
    /// durable.
    fn observe_latency_secs(&self, count: u64, secs: f64) {
        let bucket = LATENCY_BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(LATENCY_BUCKETS.len());
        self.metrics.latency[bucket].fetch_add(count, Ordering::Relaxed);
        self.metrics
            .latency_sum_micros
            .fetch_add(count * (secs * 1e6) as u64, Ordering::Relaxed);
    }
}

/// The live pipeline: the intake the API calls, and the worker behind it.
pub struct Ingest {
    shared: Arc<Shared>,
    intake: Arc<Intake>,
    worker: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Ingest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ingest").finish_non_exhaustive()
    }
}

/// The API's event sink.
pub struct Intake {
    shared: Arc<Shared>,
    max_body: usize,
    max_pending: u64,
    checker: Checker,
}

/// Splits and checks request bodies (owned, for a blocking task).
#[derive(Clone)]
struct Checker {
    max_inflated: usize,
    max_line: usize,
    timezone: TimeZone,
    dead_letter: DeadLetter,
}

impl Ingest {
    /// Opens the spool and starts the worker over `engine`; detections go
    /// to `store`. Must be called inside a Tokio runtime.
    pub fn start(
        config: &IngestConfig,
        data_dir: &Path,
        engine_config: engine::EngineConfig,
        engine: Arc<Engine>,
        store: Arc<dyn incidents::Store>,
    ) -> anyhow::Result<Ingest> {
        Self::start_with(config, data_dir, engine_config, engine, store, None)
    }

    /// Starts live detection as a node of a cluster ([`cluster`]): inputs
    /// publish to JetStream, and this node runs the partitions PostgreSQL
    /// gives it. NATS and PostgreSQL must answer at start. Must be called
    /// inside a Tokio runtime.
    pub async fn start_cluster(
        config: &IngestConfig,
        data_dir: &Path,
        engine_config: engine::EngineConfig,
        engine: Arc<Engine>,
        store: Arc<dyn incidents::Store>,
        settings: cluster::ClusterSettings,
    ) -> anyhow::Result<Ingest> {
        let settings = Arc::new(settings);
        let stats = Arc::new(cluster::ClusterStats::default());
        let bus =
            Arc::new(cluster::bus::Bus::connect(Arc::clone(&settings), Arc::clone(&stats)).await?);
        let coord = cluster::coord::Coord::connect(
            &settings.database_url,
            &settings.node_id,
            settings.partitions,
            settings.keyed_partitions,
        )
        .await?;
        stats.postgres_up.store(true, Ordering::Relaxed);
        tracing::info!(
            node = %settings.node_id,
            partitions = settings.partitions,
            keyed_partitions = settings.keyed_partitions,
            stream = %settings.stream,
            "joined the cluster"
        );
        let parts = ClusterParts {
            bus,
            stats,
            settings,
        };
        Self::start_with(
            config,
            data_dir,
            engine_config,
            engine,
            store,
            Some((parts, coord)),
        )
    }

    fn start_with(
        config: &IngestConfig,
        data_dir: &Path,
        engine_config: engine::EngineConfig,
        engine: Arc<Engine>,
        store: Arc<dyn incidents::Store>,
        cluster: Option<(ClusterParts, cluster::coord::Coord)>,
    ) -> anyhow::Result<Ingest> {
        let (cluster, coord) = match cluster {
            Some((parts, coord)) => (Some(parts), Some(coord)),
            None => (None, None),
        };
        let incident_level = match &config.incident_level {
            None => Level::Medium,
            Some(name) => Level::parse(name).ok_or_else(|| {
                anyhow::anyhow!(
                    "ingest.incident_level: {name:?} is not one of informational, low, medium, high, critical"
                )
            })?,
        };
        let timezone = match &config.timezone {
            None => TimeZone::default(),
            Some(name) => {
                TimeZone::parse(name).map_err(|e| anyhow::anyhow!("ingest.timezone: {e}"))?
            }
        };
        let defaults = SpoolConfig::default();
        let spool_dir = config
            .spool_dir
            .clone()
            .unwrap_or_else(|| data_dir.join("spool"));
        let spool_config = SpoolConfig {
            dir: spool_dir.clone(),
            segment_bytes: config.spool_segment_bytes.unwrap_or(defaults.segment_bytes),
            max_bytes: config.spool_max_bytes.unwrap_or(defaults.max_bytes),
        };
        let spool_max_bytes = spool_config.max_bytes;
        let spool = Spool::open(spool_config)?;
        if spool.recovered().torn_bytes() > 0 {
            tracing::warn!(
                bytes = spool.recovered().torn_bytes(),
                "cut a torn tail from the event spool (records never acknowledged)"
            );
        }
        let processed = spool.committed();
        let shared = Arc::new(Shared {
            spool,
            spool_max_bytes,
            processed: AtomicU64::new(processed),
            stop: AtomicBool::new(false),
            stop_lock: Mutex::new(()),
            stop_wake: Condvar::new(),
            metrics: IngestMetrics::default(),
            appended: Mutex::new(VecDeque::new()),
            sources: Mutex::new(source_table::SourceTable::default()),
            health: health::Health::new(health::MAX_STREAMS),
            engine: Mutex::new(Arc::clone(&engine)),
            engine_config,
            rule_errors: Mutex::new(engine.rule_errors().iter().map(error_text).collect()),
            rule_hits: Mutex::new(BTreeMap::new()),
            reload: Mutex::new(None),
            reloading: tokio::sync::Mutex::new(()),
            monitors: std::sync::OnceLock::new(),
            new_alerts: std::sync::OnceLock::new(),
            user_checks: std::sync::OnceLock::new(),
            cluster,
        });
        let window = Duration::from_secs(
            config
                .reorder_window_secs
                .unwrap_or(DEFAULT_REORDER_WINDOW_SECS),
        );
        let horizon = config.replay_horizon_secs.map(Duration::from_secs);
        let worker_config = worker::WorkerConfig {
            engine,
            store,
            runtime: tokio::runtime::Handle::current(),
            stream: StreamConfig {
                window,
                idle: Duration::from_millis(
                    config
                        .reorder_idle_millis
                        .unwrap_or(DEFAULT_REORDER_IDLE_MILLIS),
                ),
                ..StreamConfig::default()
            },
            incident_level,
            replay_horizon: horizon,
            timezone: timezone.clone(),
            checkpoint: match config
                .checkpoint_interval_secs
                .unwrap_or(DEFAULT_CHECKPOINT_INTERVAL_SECS)
            {
                0 => None,
                secs => Some(worker::CheckpointConfig {
                    path: spool_dir.join(checkpoint::FILE),
                    every: Duration::from_secs(secs),
                }),
            },
        };
        let worker = match (&shared.cluster, coord) {
            (Some(parts), Some(coord)) => {
                let ctx = Arc::new(cluster::partition::Ctx {
                    shared: Arc::clone(&shared),
                    bus: Arc::clone(&parts.bus),
                    coord: Arc::new(tokio::sync::Mutex::new(Some(coord))),
                    store: worker_config.store,
                    runtime: worker_config.runtime,
                    stream: worker_config.stream,
                    incident_level,
                    timezone: timezone.clone(),
                    settings: Arc::clone(&parts.settings),
                    stats: Arc::clone(&parts.stats),
                });
                std::thread::Builder::new()
                    .name("cluster".into())
                    .spawn(move || cluster::node::run(ctx))?
            }
            _ => {
                let for_worker = Arc::clone(&shared);
                std::thread::Builder::new()
                    .name("detect".into())
                    .spawn(move || worker::run(for_worker, worker_config))?
            }
        };
        // A message holds at most the NATS server's payload: longer lines
        // are refused by number.
        let max_line = config.max_line_bytes.unwrap_or(DEFAULT_MAX_LINE_BYTES);
        let max_line = match &shared.cluster {
            Some(parts) => {
                let fits = parts
                    .bus
                    .max_payload()
                    .saturating_sub(1024 + record::MAX_SOURCE_LEN + 16);
                if fits < max_line {
                    tracing::info!(
                        max_line_bytes = fits,
                        "lines are limited by the NATS server's largest message"
                    );
                }
                max_line.min(fits)
            }
            None => max_line,
        };
        let intake = Arc::new(Intake {
            shared: Arc::clone(&shared),
            max_body: config.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY_BYTES),
            max_pending: config
                .max_pending_events
                .unwrap_or(DEFAULT_MAX_PENDING_EVENTS),
            checker: Checker {
                max_inflated: config
                    .max_inflated_bytes
                    .unwrap_or(DEFAULT_MAX_INFLATED_BYTES),
                max_line,
                timezone,
                dead_letter: DeadLetter::new(data_dir.join(DEAD_LETTER_FILE)),
            },
        });
        Ok(Ingest {
            shared,
            intake,
            worker: Some(worker),
        })
    }

    /// Adds the scheduled monitors' counters to `/metrics`.
    pub fn show_monitor_metrics(&self, stats: Arc<crate::monitors::MonitorStats>) {
        let _ = self.shared.monitors.set(stats);
    }

    /// Adds the "I didn't do this" mail counters to `/metrics`.
    pub fn show_user_check_metrics(&self, stats: Arc<crate::user_check::UserCheckStats>) {
        let _ = self.shared.user_checks.set(stats);
    }

    /// Calls `hook` with every alert stored from now on (the first hook
    /// set stays).
    pub fn on_alert(&self, hook: AlertHook) {
        let _ = self.shared.new_alerts.set(hook);
    }

    /// The API's sink.
    pub fn intake(&self) -> Arc<Intake> {
        Arc::clone(&self.intake)
    }

    /// The pipeline's counters.
    pub fn metrics(&self) -> &IngestMetrics {
        &self.shared.metrics
    }

    /// Per-source counts, by source name (at most 1,000 names; the
    /// counts of sources past those are under `_other`).
    pub fn sources(&self) -> BTreeMap<String, SourceCounts> {
        self.shared
            .sources
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .rows()
            .clone()
    }

    /// The offset processed so far and the spool's end.
    pub fn progress(&self) -> (u64, u64) {
        (
            self.shared.processed.load(Ordering::Acquire),
            self.shared.spool.end(),
        )
    }

    /// Loads the rules again (SIGHUP, `POST /api/v1/rules/reload`): see
    /// [`web::events::EventSink::reload_rules`].
    pub async fn reload_rules(&self) -> Result<web::events::RulesReloaded, String> {
        self.shared.reload_rules().await
    }

    /// Stops the worker (what it has not processed stays in the spool) and
    /// waits for it.
    pub fn stop(mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        self.shared.stop_wake.notify_all();
        if let Some(worker) = self.worker.take()
            && worker.join().is_err()
        {
            tracing::error!("the detection worker panicked");
        }
    }
}

/// The checked, spool-ready lines of one request.
struct Checked {
    records: Vec<Vec<u8>>,
    rejected: Vec<RejectedLine>,
    rejected_count: u64,
}

impl Checker {
    /// Inflates and splits an HTTP body.
    fn lines(&self, batch: &EventBatch, format: Format) -> Result<Vec<body::Line>, Refusal> {
        let inflated =
            body::inflate(&batch.body, batch.gzip, self.max_inflated).map_err(|e| match e {
                body::BodyError::TooLarge(_) => Refusal::TooLarge(e.to_string()),
                other => Refusal::BadRequest(other.to_string()),
            })?;
        body::split(&inflated, format).map_err(|e| Refusal::BadRequest(e.to_string()))
    }

    /// Checks lines and encodes the good ones as spool records.
    fn check(&self, lines: Vec<body::Line>, format: Format, source: &str) -> Checked {
        let received = time::OffsetDateTime::now_utc().unix_timestamp();
        let id: events::SourceId = Arc::from(source);
        let mut checked = Checked {
            records: Vec::with_capacity(lines.len()),
            rejected: Vec::new(),
            rejected_count: 0,
        };
        for (number, line) in lines {
            let record = record::Record {
                format,
                received,
                source,
                line: &line,
            };
            let verdict = if line.len() > self.max_line {
                Err(format!(
                    "line of {} bytes is over the limit of {} bytes",
                    line.len(),
                    self.max_line
                ))
            } else {
                check_line(&record, &id, number, &self.timezone)
            };
            match verdict {
                Ok(()) => checked.records.push(record.encode()),
                Err(reason) => {
                    self.dead_letter.write(source, number, &reason, &line);
                    checked.rejected_count += 1;
                    if checked.rejected.len() < MAX_LISTED_REJECTIONS {
                        checked.rejected.push(RejectedLine {
                            line: number,
                            reason,
                        });
                    }
                }
            }
        }
        checked
    }
}

impl Intake {
    /// 429 when detection is more than `max_pending_events` behind.
    fn refuse_when_behind(&self) -> Result<(), Refusal> {
        let shared = &self.shared;
        if shared.cluster.is_some() {
            // JetStream is the buffer: a full stream refuses the publish
            // (503).
            return Ok(());
        }
        let pending = shared
            .spool
            .end()
            .saturating_sub(shared.processed.load(Ordering::Acquire));
        if pending >= self.max_pending {
            shared
                .metrics
                .refused_requests
                .fetch_add(1, Ordering::Relaxed);
            return Err(Refusal::Busy {
                message: format!(
                    "detection is {pending} events behind; retry after the Retry-After delay"
                ),
                retry_after_secs: 1,
            });
        }
        Ok(())
    }

    /// Checks `lines` of `format` from `source` (`SENDER/TYPE`), appends the
    /// good ones to the spool and answers once they are durable. Every
    /// input (HTTP, syslog, OTLP, file tail) ends here.
    pub async fn submit_lines(
        &self,
        source: &str,
        format: Format,
        lines: Vec<body::Line>,
    ) -> Result<Receipt, Refusal> {
        self.refuse_when_behind()?;
        let shared = &self.shared;
        let checked = {
            // Parsing is CPU work: keep it off the async workers.
            let checker = self.checker.clone();
            let source = source.to_owned();
            tokio::task::spawn_blocking(move || checker.check(lines, format, &source))
                .await
                .map_err(|e| Refusal::Unavailable {
                    message: format!("the request could not be read: {e}"),
                    retry_after_secs: 1,
                })?
        };
        let accepted = checked.records.len() as u64;
        if accepted > 0
            && let Some(parts) = &shared.cluster
        {
            if let Err(error) = parts.bus.publish(source, &checked.records).await {
                shared
                    .metrics
                    .refused_requests
                    .fetch_add(1, Ordering::Relaxed);
                return Err(Refusal::Unavailable {
                    message: format!("{error}; nothing of this request was acknowledged"),
                    retry_after_secs: 5,
                });
            }
        } else if accepted > 0 {
            let for_append = Arc::clone(&self.shared);
            let records = checked.records;
            let appended = tokio::task::spawn_blocking(move || {
                let shared = for_append;
                let refs: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
                let range = shared.spool.append(&refs)?;
                shared
                    .appended
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push_back((range.end, range.end - range.start, Instant::now()));
                Ok::<_, SpoolError>(range)
            })
            .await;
            match appended {
                Ok(Ok(_)) => {}
                Ok(Err(error)) => {
                    shared
                        .metrics
                        .refused_requests
                        .fetch_add(1, Ordering::Relaxed);
                    return Err(match error {
                        SpoolError::Full { .. } => Refusal::Unavailable {
                            message: "the event spool is full: detection is behind or stopped; nothing of this request was stored".to_owned(),
                            retry_after_secs: 10,
                        },
                        other => {
                            tracing::error!(error = %other, "cannot append to the event spool");
                            Refusal::Unavailable {
                                message: "the events could not be stored; nothing of this request was stored".to_owned(),
                                retry_after_secs: 5,
                            }
                        }
                    });
                }
                Err(error) => {
                    tracing::error!(%error, "the spool append task failed");
                    return Err(Refusal::Unavailable {
                        message: "the events could not be stored".to_owned(),
                        retry_after_secs: 5,
                    });
                }
            }
        }
        shared
            .metrics
            .accepted
            .fetch_add(accepted, Ordering::Relaxed);
        shared
            .metrics
            .rejected
            .fetch_add(checked.rejected_count, Ordering::Relaxed);
        {
            let mut sources = shared
                .sources
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            sources.count(
                source,
                accepted,
                checked.rejected_count,
                time::OffsetDateTime::now_utc().unix_timestamp(),
            );
        }
        Ok(Receipt {
            accepted,
            rejected: checked.rejected_count,
            rejected_lines: checked.rejected,
        })
    }
}

/// Whether a line is a record of its format. JSON is only checked to be
/// well-formed and to hold an object or an array (reading it as events is
/// the worker's job); the other formats are parsed.
fn check_line(
    record: &record::Record<'_>,
    id: &events::SourceId,
    number: u64,
    zone: &TimeZone,
) -> Result<(), String> {
    if record.format == Format::Json {
        let first = record.line.iter().find(|b| !b.is_ascii_whitespace());
        if !matches!(first, Some(b'{' | b'[')) {
            return Err("a JSON line must hold an object or an array".to_owned());
        }
        return serde_json::from_slice::<serde::de::IgnoredAny>(record.line)
            .map(drop)
            .map_err(|e| format!("invalid JSON: {e}"));
    }
    record::parse(record, id, number, zone).map(drop)
}

#[async_trait]
impl web::events::EventSink for Intake {
    async fn submit(&self, batch: EventBatch) -> Result<Receipt, Refusal> {
        let format = match batch.format.as_deref() {
            None | Some("") => Format::Json,
            Some(name) => Format::from_name(name)
                .filter(|f| record::LINE_FORMATS.contains(f))
                .ok_or_else(|| {
                    Refusal::BadRequest(format!(
                        "format: {name:?} is not one of json, syslog, access, auditd"
                    ))
                })?,
        };
        let kind = batch
            .source
            .clone()
            .unwrap_or_else(|| format.name().to_owned());
        if !deliver::valid_source_type(&kind) {
            return Err(Refusal::BadRequest(
                "source: 1 to 63 characters of letters, digits and ._/-".to_owned(),
            ));
        }
        let source = format!("{}/{kind}", batch.sender);
        self.refuse_when_behind()?;
        let checker = self.checker.clone();
        let lines = tokio::task::spawn_blocking(move || checker.lines(&batch, format))
            .await
            .map_err(|e| Refusal::Unavailable {
                message: format!("the request could not be read: {e}"),
                retry_after_secs: 1,
            })??;
        self.submit_lines(&source, format, lines).await
    }

    async fn submit_otlp(&self, batch: web::events::OtlpBatch) -> web::events::OtlpAnswer {
        use otlp::OtlpEncoding;
        let answer = |status: u16, encoding: OtlpEncoding, body: Vec<u8>, retry: Option<u64>| {
            web::events::OtlpAnswer {
                status,
                content_type: encoding.content_type(),
                body,
                retry_after_secs: retry,
            }
        };
        let Some(encoding) = OtlpEncoding::from_content_type(&batch.content_type) else {
            return answer(
                415,
                OtlpEncoding::Json,
                otlp::error_response(
                    OtlpEncoding::Json,
                    "Content-Type must be application/x-protobuf or application/json",
                ),
                None,
            );
        };
        let refused = |refusal: Refusal| match refusal {
            Refusal::BadRequest(m) => {
                answer(400, encoding, otlp::error_response(encoding, &m), None)
            }
            Refusal::TooLarge(m) => answer(413, encoding, otlp::error_response(encoding, &m), None),
            Refusal::Busy {
                message,
                retry_after_secs,
            } => answer(
                429,
                encoding,
                otlp::error_response(encoding, &message),
                Some(retry_after_secs),
            ),
            Refusal::Unavailable {
                message,
                retry_after_secs,
            } => answer(
                503,
                encoding,
                otlp::error_response(encoding, &message),
                Some(retry_after_secs),
            ),
        };
        if let Err(refusal) = self.refuse_when_behind() {
            return refused(refusal);
        }
        let max_inflated = self.checker.max_inflated;
        let decoded = tokio::task::spawn_blocking(move || {
            let body =
                body::inflate(&batch.body, batch.gzip, max_inflated).map_err(|e| match e {
                    body::BodyError::TooLarge(_) => Refusal::TooLarge(e.to_string()),
                    other => Refusal::BadRequest(other.to_string()),
                })?;
            otlp::decode_logs(&body, encoding).map_err(|e| Refusal::BadRequest(e.to_string()))
        })
        .await;
        let lines = match decoded {
            Ok(Ok(lines)) => lines,
            Ok(Err(refusal)) => return refused(refusal),
            Err(error) => {
                return refused(Refusal::Unavailable {
                    message: format!("the request could not be read: {error}"),
                    retry_after_secs: 1,
                });
            }
        };
        let source = format!("{}/otlp", batch.sender);
        match self.submit_lines(&source, Format::Json, lines).await {
            Ok(receipt) => {
                let message = receipt
                    .rejected_lines
                    .first()
                    .map(|r| format!("record {}: {}", r.line, r.reason))
                    .unwrap_or_default();
                answer(
                    200,
                    encoding,
                    otlp::export_response(encoding, receipt.rejected, &message),
                    None,
                )
            }
            Err(refusal) => refused(refusal),
        }
    }

    fn max_body_bytes(&self) -> usize {
        self.max_body
    }

    async fn reload_rules(&self) -> Result<web::events::RulesReloaded, String> {
        self.shared.reload_rules().await
    }

    fn sources(&self) -> Vec<web::events::SourceHealth> {
        let sources = self
            .shared
            .sources
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .rows()
            .clone();
        let at = |secs: i64| time::OffsetDateTime::from_unix_timestamp(secs).ok();
        sources
            .into_iter()
            .map(|(name, c)| {
                let minutes = ((c.last_seen - c.first_seen) as f64 / 60.0).max(1.0);
                web::events::SourceHealth {
                    name,
                    accepted: c.accepted,
                    rejected: c.rejected,
                    first_seen: at(c.first_seen),
                    last_seen: at(c.last_seen),
                    lines_per_minute: (c.accepted + c.rejected) as f64 / minutes,
                }
            })
            .collect()
    }

    fn streams(&self) -> web::events::Streams {
        let engine = self.shared.running_engine();
        self.shared
            .health
            .streams(&engine, time::OffsetDateTime::now_utc())
    }

    fn coverage(&self) -> web::events::Coverage {
        let engine = self.shared.running_engine();
        self.shared.health.coverage(&engine)
    }

    fn prometheus(&self) -> String {
        prometheus(&self.shared)
    }

    fn rule_errors(&self) -> Vec<String> {
        self.shared
            .rule_errors
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn rule_hits(&self) -> Vec<web::events::RuleHits> {
        self.shared
            .rule_hits
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(rule_id, (title, hits))| web::events::RuleHits {
                rule_id: rule_id.clone(),
                title: title.clone(),
                hits: *hits,
            })
            .collect()
    }

    async fn dependencies(&self) -> Vec<web::events::Dependency> {
        match &self.shared.cluster {
            Some(parts) => vec![web::events::Dependency {
                name: "jetstream",
                up: parts.bus.reachable().await,
            }],
            None => Vec::new(),
        }
    }

    fn status(&self) -> web::events::IngestStatus {
        let m = &self.shared.metrics;
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let reordering = match &self.shared.cluster {
            Some(parts) => parts.stats.buffered(),
            None => get(&m.reordering),
        };
        let (spooled, processed) = match &self.shared.cluster {
            Some(parts) => (get(&parts.stats.published), get(&parts.stats.processed)),
            None => (
                self.shared.spool.end(),
                self.shared.processed.load(Ordering::Acquire),
            ),
        };
        web::events::IngestStatus {
            accepted: get(&m.accepted),
            rejected: get(&m.rejected),
            spooled,
            processed,
            reordering,
            detections: get(&m.detections),
            alerts: get(&m.alerts),
            duplicate_alerts: get(&m.alerts_duplicate),
        }
    }
}

/// The dead-letter file: refused lines with their reason, one JSON object
/// per line, owner-only, rotated once past [`DEAD_LETTER_MAX_BYTES`].
#[derive(Clone)]
struct DeadLetter {
    inner: Arc<Mutex<DeadLetterFile>>,
}

struct DeadLetterFile {
    path: PathBuf,
    file: Option<File>,
    bytes: u64,
}

impl DeadLetter {
    fn new(path: PathBuf) -> Self {
        DeadLetter {
            inner: Arc::new(Mutex::new(DeadLetterFile {
                path,
                file: None,
                bytes: 0,
            })),
        }
    }

    /// Appends one refused line; failures are logged, never fatal.
    fn write(&self, source: &str, line: u64, reason: &str, text: &[u8]) {
        const MAX_TEXT: usize = 64 << 10;
        let shown = &text[..text.len().min(MAX_TEXT)];
        let mut entry = json!({
            "at": time::OffsetDateTime::now_utc().unix_timestamp(),
            "source": source,
            "line": line,
            "reason": reason,
            "text": String::from_utf8_lossy(shown),
        })
        .to_string();
        entry.push('\n');
        let mut dl = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if let Err(error) = dl.append(entry.as_bytes()) {
            tracing::warn!(%error, path = %dl.path.display(), "cannot write the dead-letter file");
        }
    }
}

impl DeadLetterFile {
    fn append(&mut self, entry: &[u8]) -> std::io::Result<()> {
        if self.file.is_none() {
            let mut options = std::fs::OpenOptions::new();
            options.create(true).append(true);
            at_rest::owner_only(&mut options);
            let file = options.open(&self.path)?;
            self.bytes = file.metadata()?.len();
            self.file = Some(file);
        }
        if self.bytes + entry.len() as u64 > DEAD_LETTER_MAX_BYTES {
            self.file = None;
            std::fs::rename(&self.path, self.path.with_extension("ndjson.1"))?;
            return self.append(entry);
        }
        if let Some(file) = self.file.as_mut() {
            file.write_all(entry)?;
            self.bytes += entry.len() as u64;
        }
        Ok(())
    }
}

/// A Prometheus label value, escaped (`\\`, `"`, newline).
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A per-source metric: name, type, help, and its value for a source.
type PerSource = (
    &'static str,
    &'static str,
    &'static str,
    fn(&SourceCounts) -> i64,
);

/// The pipeline's metrics in the Prometheus text format.
fn prometheus(shared: &Shared) -> String {
    use std::fmt::Write as _;
    let m = &shared.metrics;
    let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let mut out = String::new();
    let family = |out: &mut String, name: &str, kind: &str, help: &str| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
    };
    let sources = shared
        .sources
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .rows()
        .clone();
    let per_source: [PerSource; 3] = [
        (
            "watchpost_events_accepted_total",
            "counter",
            "Lines accepted into the spool since start, per source.",
            |c| i64::try_from(c.accepted).unwrap_or(i64::MAX),
        ),
        (
            "watchpost_events_rejected_total",
            "counter",
            "Lines refused since start, per source.",
            |c| i64::try_from(c.rejected).unwrap_or(i64::MAX),
        ),
        (
            "watchpost_source_last_seen_seconds",
            "gauge",
            "When a source last sent a line (Unix time).",
            |c| c.last_seen,
        ),
    ];
    for (name, kind, help, value) in per_source {
        family(&mut out, name, kind, help);
        for (source, c) in &sources {
            let _ = writeln!(out, "{name}{{source=\"{}\"}} {}", label(source), value(c));
        }
    }
    for (name, kind, help, value) in [
        (
            "watchpost_ingest_refused_requests_total",
            "counter",
            "Requests refused whole (429, 503).",
            get(&m.refused_requests),
        ),
        (
            "watchpost_events_processed_total",
            "counter",
            "Events matched by detection since start.",
            get(&m.events),
        ),
        (
            "watchpost_events_unreadable_total",
            "counter",
            "Spooled records that could not be read back.",
            get(&m.unreadable),
        ),
        (
            "watchpost_detections_total",
            "counter",
            "Detections since start.",
            get(&m.detections),
        ),
        (
            "watchpost_alerts_total",
            "counter",
            "Alerts stored since start.",
            get(&m.alerts),
        ),
        (
            "watchpost_alerts_duplicate_total",
            "counter",
            "Alerts found again and not stored twice.",
            get(&m.alerts_duplicate),
        ),
        (
            "watchpost_alerts_refused_total",
            "counter",
            "Alerts the store refused as invalid.",
            get(&m.alerts_refused),
        ),
        (
            "watchpost_spool_pending_records",
            "gauge",
            "Spooled records detection has not processed (queue depth).",
            shared
                .spool
                .end()
                .saturating_sub(shared.processed.load(Ordering::Acquire)),
        ),
        (
            "watchpost_reorder_buffered_events",
            "gauge",
            "Events waiting in the reorder window.",
            get(&m.reordering),
        ),
        (
            "watchpost_spool_bytes",
            "gauge",
            "Bytes of the event spool on disk.",
            shared.spool.stats().bytes_on_disk,
        ),
        (
            "watchpost_spool_max_bytes",
            "gauge",
            "The event spool's cap in bytes.",
            shared.spool_max_bytes,
        ),
        (
            "watchpost_spool_committed_offset",
            "gauge",
            "The spool's committed offset: records below it may be deleted.",
            shared.spool.committed(),
        ),
        (
            "watchpost_detection_processed_offset",
            "gauge",
            "The spool offset detection has processed up to.",
            shared.processed.load(Ordering::Acquire),
        ),
        (
            "watchpost_checkpoints_total",
            "counter",
            "Detection checkpoints written since start.",
            get(&m.checkpoints),
        ),
        (
            "watchpost_checkpoint_failures_total",
            "counter",
            "Detection checkpoints that could not be written.",
            get(&m.checkpoint_failures),
        ),
        (
            "watchpost_checkpoint_offset",
            "gauge",
            "The spool offset of the last detection checkpoint written.",
            get(&m.checkpoint_offset),
        ),
        (
            "watchpost_checkpoint_bytes",
            "gauge",
            "The size of the last detection checkpoint, in bytes.",
            get(&m.checkpoint_bytes),
        ),
        (
            "watchpost_checkpoint_duration_microseconds",
            "gauge",
            "How long the last detection checkpoint took to save and write.",
            get(&m.checkpoint_micros),
        ),
    ] {
        family(&mut out, name, kind, help);
        let _ = writeln!(out, "{name} {value}");
    }
    family(
        &mut out,
        "watchpost_event_latency_seconds",
        "histogram",
        "From an event's spool fsync (on a cluster: its JetStream publish) to detection done with it (alerts stored).",
    );
    let mut cumulative = 0;
    for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
        cumulative += get(&m.latency[i]);
        let _ = writeln!(
            out,
            "watchpost_event_latency_seconds_bucket{{le=\"{bound}\"}} {cumulative}"
        );
    }
    cumulative += get(&m.latency[LATENCY_BUCKETS.len()]);
    let _ = writeln!(
        out,
        "watchpost_event_latency_seconds_bucket{{le=\"+Inf\"}} {cumulative}"
    );
    let _ = writeln!(
        out,
        "watchpost_event_latency_seconds_sum {}",
        get(&m.latency_sum_micros) as f64 / 1e6
    );
    let _ = writeln!(out, "watchpost_event_latency_seconds_count {cumulative}");
    if let Some(monitors) = shared.monitors.get() {
        monitors.write_prometheus(&mut out);
    }
    if let Some(user_checks) = shared.user_checks.get() {
        user_checks.write_prometheus(&mut out);
    }
    if let Some(parts) = &shared.cluster {
        parts.stats.prometheus(&parts.settings.node_id, &mut out);
    }
    out
}
