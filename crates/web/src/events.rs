//! Event intake: the seam between `POST /api/v1/events` and whatever keeps
//! the events (the server's durable spool). This crate knows HTTP only: it
//! reads the body, the format and the source, hands them to an
//! [`EventSink`], and turns the sink's answer into a status code.
//!
//! The sink decides what a line is and whether it is accepted, and answers
//! only once what it accepted is durable: a 2xx answer is the
//! acknowledgement a sender may forget its events on.

use std::sync::Arc;

use async_trait::async_trait;
use axum::body::Bytes;
use incidents::enums::AlertLevel;
use serde::Serialize;

/// Where accepted events go.
#[async_trait]
pub trait EventSink: Send + Sync + 'static {
    /// Stores what `batch` holds that can be read as events, and answers
    /// which lines were taken and which were refused (and why). Returns only
    /// once the accepted lines are durable.
    async fn submit(&self, batch: EventBatch) -> Result<Receipt, Refusal>;

    /// Stores the log records of an OTLP/HTTP logs export request
    /// (`POST /v1/logs`) and answers in OTLP's own terms: the export
    /// response, or a `google.rpc.Status` error body, in the request's
    /// encoding.
    async fn submit_otlp(&self, batch: OtlpBatch) -> OtlpAnswer;

    /// The largest request body the sink takes, compressed, in bytes.
    fn max_body_bytes(&self) -> usize;

    /// Loads the detection rules again without losing events in flight.
    /// A reload that would make rule files fail that load now is refused
    /// (the error says which), and the running rules stay.
    async fn reload_rules(&self) -> Result<RulesReloaded, String>;

    /// Every source heard from since the server started, by name.
    fn sources(&self) -> Vec<SourceHealth>;

    /// Every stream (source name, host and log type) detection has read
    /// since the server started, with its gap history. None by default.
    fn streams(&self) -> Streams {
        Streams::default()
    }

    /// Which streams feed which rules, and which rules never saw an event
    /// of their logsource since the server started. Empty by default.
    fn coverage(&self) -> Coverage {
        Coverage::default()
    }

    /// The running rules' load errors (`file: reason`). None by default.
    fn rule_errors(&self) -> Vec<String> {
        Vec::new()
    }

    /// Detections found per rule since the server started, by rule id and
    /// title. None by default.
    fn rule_hits(&self) -> Vec<RuleHits> {
        Vec::new()
    }

    /// The services the sink depends on beyond the store, and whether each
    /// answers now (a cluster node's JetStream). None by default.
    async fn dependencies(&self) -> Vec<Dependency> {
        Vec::new()
    }

    /// Counts of what the sink took and what detection made of it.
    fn status(&self) -> IngestStatus;

    /// The sink's metrics in the Prometheus text format (each line ends
    /// with a newline; label values escaped).
    fn prometheus(&self) -> String;
}

/// What live detection has taken and done since the server started (the
/// spool offsets persist across restarts).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct IngestStatus {
    /// Lines accepted (stored in the spool) since start.
    pub accepted: u64,
    /// Lines refused since start.
    pub rejected: u64,
    /// The spool's end: records ever stored.
    pub spooled: u64,
    /// Records detection has processed (the spool offset it reached).
    pub processed: u64,
    /// Events held in the reorder window, not yet fed to stateful
    /// detection.
    pub reordering: u64,
    /// Detections found since start.
    pub detections: u64,
    /// Alerts stored since start.
    pub alerts: u64,
    /// Alerts found again (after a restart's replay, or a resent batch)
    /// and not stored twice.
    pub duplicate_alerts: u64,
}

/// A service live detection depends on, and whether it answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    /// Its name in the health answer (`jetstream`).
    pub name: &'static str,
    /// Whether it answered.
    pub up: bool,
}

/// A shared sink, as the router keeps it.
pub type SharedSink = Arc<dyn EventSink>;

/// One request's events, as sent.
#[derive(Debug, Clone)]
pub struct EventBatch {
    /// The name of the user (an `ingest` account) that sent them.
    pub sender: String,
    /// The body, still compressed when `gzip` is set.
    pub body: Bytes,
    /// `Content-Encoding: gzip`.
    pub gzip: bool,
    /// The `format` query parameter (`json` by default; any format `hunt`
    /// reads line by line: `syslog`, `access`, `auditd`).
    pub format: Option<String>,
    /// The source type, from the `X-Watchpost-Source` header or the
    /// `source` query parameter (e.g. `auth.log`, `cloudtrail`).
    pub source: Option<String>,
}

/// The answer to a batch: how many lines were accepted and which were not.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Receipt {
    /// Lines (NDJSON lines, JSON array elements or raw log lines) stored.
    pub accepted: u64,
    /// Lines refused.
    pub rejected: u64,
    /// The refused lines, by 1-based number, with the reason (the first
    /// [`MAX_LISTED_REJECTIONS`]; `rejected` counts them all).
    pub rejected_lines: Vec<RejectedLine>,
}

/// How many refused lines a [`Receipt`] lists one by one.
pub const MAX_LISTED_REJECTIONS: usize = 1000;

/// One refused line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct RejectedLine {
    /// The 1-based line number (or array element number) in the body.
    pub line: u64,
    /// Why it was refused.
    pub reason: String,
}

/// Why a whole batch was refused: nothing of it was stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The request is wrong as a whole (unknown format, bad gzip, a body
    /// that is not a JSON array or NDJSON).
    BadRequest(String),
    /// The body, once decompressed, is larger than the sink takes.
    TooLarge(String),
    /// The detection pipeline is behind; the sender should slow down and
    /// retry after this many seconds (429).
    Busy {
        /// What is behind.
        message: String,
        /// Seconds to wait.
        retry_after_secs: u64,
    },
    /// The events cannot be stored now (the spool is full, the disk
    /// failed): retry later (503).
    Unavailable {
        /// Why.
        message: String,
        /// Seconds to wait.
        retry_after_secs: u64,
    },
}

/// One OTLP/HTTP logs export request, as sent.
#[derive(Debug, Clone)]
pub struct OtlpBatch {
    /// The name of the `ingest` account that sent it.
    pub sender: String,
    /// The body, still compressed when `gzip` is set.
    pub body: Bytes,
    /// `Content-Encoding: gzip`.
    pub gzip: bool,
    /// The `Content-Type` (`application/x-protobuf` or `application/json`).
    pub content_type: String,
}

/// An OTLP answer: status, body and its type, and `Retry-After` for 429
/// and 503.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtlpAnswer {
    /// The HTTP status.
    pub status: u16,
    /// The body's `Content-Type`.
    pub content_type: &'static str,
    /// An `ExportLogsServiceResponse` or a `google.rpc.Status`.
    pub body: Vec<u8>,
    /// Seconds for `Retry-After`.
    pub retry_after_secs: Option<u64>,
}

/// A successful rule reload.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct RulesReloaded {
    /// Rules now running.
    pub rules_loaded: u64,
    /// Rule files that failed to load (as before the reload), with why.
    pub rule_errors: Vec<String>,
}

/// Detections of one rule (or built-in detector) since the server started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleHits {
    /// The rule's id: the Sigma `id` (empty when it has none), or the
    /// detector's stable id.
    pub rule_id: String,
    /// Its title.
    pub title: String,
    /// Detections found.
    pub hits: u64,
}

/// One log source (`SENDER/TYPE`, `syslog/PEER/TYPE`, `tail/TYPE/FILE`,
/// `SENDER/otlp`) as live detection has heard it since the server started.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct SourceHealth {
    /// The source.
    pub name: String,
    /// Lines accepted.
    pub accepted: u64,
    /// Lines refused.
    pub rejected: u64,
    /// When it first sent a line since start.
    #[serde(with = "time::serde::rfc3339::option")]
    pub first_seen: Option<time::OffsetDateTime>,
    /// When it last sent a line.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_seen: Option<time::OffsetDateTime>,
    /// Lines a minute between its first and last line (at least one
    /// minute).
    pub lines_per_minute: f64,
}

/// `GET /api/v1/sources`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct SourceList {
    /// Every source heard from since start, by name.
    pub sources: Vec<SourceHealth>,
    /// Every stream (source name, host and log type) detection has read
    /// since start, by name, host and logsource.
    #[serde(default)]
    pub streams: Vec<SourceStream>,
    /// Events of streams past the number tracked (counted, not listed).
    #[serde(default)]
    pub untracked_events: u64,
}

/// What an [`EventSink`] knows of its streams.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Streams {
    /// Every stream tracked, by name, host and logsource.
    pub streams: Vec<SourceStream>,
    /// Events of streams past the number tracked.
    pub untracked_events: u64,
}

/// A Sigma logsource: what kind of log an event is, or what a rule reads.
/// An unset part is `null`.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
pub struct LogSourceBody {
    /// For example `windows`, `linux`, `aws`.
    pub product: Option<String>,
    /// For example `security`, `sshd`, `cloudtrail`.
    pub service: Option<String>,
    /// For example `process_creation`, `webserver`.
    pub category: Option<String>,
}

/// One silence of a stream, as the policy gap detector reported it.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct LogGap {
    /// The time of the last event before it.
    #[serde(with = "time::serde::rfc3339")]
    pub from: time::OffsetDateTime,
    /// The time of the first event after it; `null` while it lasts.
    #[serde(with = "time::serde::rfc3339::option")]
    pub to: Option<time::OffsetDateTime>,
    /// How long it lasted (so far, while it lasts).
    pub seconds: f64,
}

/// One stream: the events of one source name, about one host, of one
/// logsource (the route's product, first service and first category), as
/// detection read them since the server started.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct SourceStream {
    /// The source (`SENDER/TYPE`, `syslog/PEER/TYPE`, `tail/TYPE/FILE`,
    /// `SENDER/otlp`).
    pub name: String,
    /// The host the events are about, when they name one.
    pub host: Option<String>,
    /// The log type.
    pub logsource: LogSourceBody,
    /// Events read.
    pub events: u64,
    /// The earliest event time seen.
    #[serde(with = "time::serde::rfc3339::option")]
    pub first_event: Option<time::OffsetDateTime>,
    /// The latest event time seen.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_event: Option<time::OffsetDateTime>,
    /// When the server received its last event (wall clock).
    #[serde(with = "time::serde::rfc3339")]
    pub last_received: time::OffsetDateTime,
    /// Events a minute between its first and last receipt (at least one
    /// minute).
    pub events_per_minute: f64,
    /// True while the gap detector holds the source (name and host)
    /// silent.
    pub silent: bool,
    /// The time of its last event before the current silence.
    #[serde(with = "time::serde::rfc3339::option")]
    pub silent_since: Option<time::OffsetDateTime>,
    /// Its most recent silences (at most 32), oldest first.
    pub gaps: Vec<LogGap>,
    /// How many rules its events feed.
    pub rules: u64,
}

/// What a rule is: a Sigma detection rule or a correlation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    /// Matched against each event of its logsource.
    Detection,
    /// Counts the matches of other rules.
    Correlation,
}

impl RuleKind {
    /// Every kind.
    pub const ALL: [&'static str; 2] = ["detection", "correlation"];
}

/// A rule that runs.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct RuleSummary {
    /// The Sigma `id` (`null` when the rule has none).
    pub id: Option<String>,
    /// The title.
    pub title: String,
    /// The level.
    pub level: AlertLevel,
    /// Detection or correlation.
    pub kind: RuleKind,
    /// The logsource it reads (`null` for a correlation, which reads its
    /// rules' matches).
    pub logsource: Option<LogSourceBody>,
}

/// One stream and the rules its events feed.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct CoverageSource {
    /// The source.
    pub name: String,
    /// The host.
    pub host: Option<String>,
    /// The log type.
    pub logsource: LogSourceBody,
    /// Events read.
    pub events: u64,
    /// The rules its events feed.
    pub rules: Vec<RuleSummary>,
}

/// One rule that runs and the events of its logsource.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct CoverageRule {
    /// The Sigma `id`.
    pub id: Option<String>,
    /// The title.
    pub title: String,
    /// The level.
    pub level: AlertLevel,
    /// Detection or correlation.
    pub kind: RuleKind,
    /// The logsource it reads.
    pub logsource: Option<LogSourceBody>,
    /// Events of its logsource read since start (for a correlation, of
    /// its rules' logsources).
    pub events_seen: u64,
    /// Streams feeding it.
    pub streams: u64,
}

/// `GET /api/v1/coverage`: which streams feed which rules, since the
/// server started.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct Coverage {
    /// Every stream, with the rules it feeds.
    pub sources: Vec<CoverageSource>,
    /// Every rule that runs, with the events of its logsource.
    pub rules: Vec<CoverageRule>,
    /// The rules that never saw an event of their logsource.
    pub rules_without_events: Vec<RuleSummary>,
    /// Events of streams past the number tracked, which feed no count
    /// here.
    pub untracked_events: u64,
}
