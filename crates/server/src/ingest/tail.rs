//! The file-tail input: log files on this machine, followed as they grow,
//! rotate and are truncated, their lines handed to the [`Intake`] like any
//! other input's.
//!
//! ```text
//! every poll_millis: expand the globs ─> stat ─> (dev, inode) per file ─> rotation / truncation
//!                    read complete lines from the acknowledged offset ─> batch ─> Intake::submit_lines
//!                    ─> spool (fsync) ─> Ok = acknowledged ─> advance the offset ─> state file (atomic)
//! ```
//!
//! - **Files.** Every regular file a glob of `paths` matches is followed by
//!   its identity (device and inode), not its name. Globs take `*`, `?` and
//!   `[...]` (`[!...]` negated) in any path component, never across a `/`
//!   (no `**`); `*` and `?` do not match a leading `.`. Compressed files
//!   (`.gz`, `.bz2`, `.xz`, `.zst`, `.lz4`, `.zip`, `.Z`) are skipped: a
//!   rotated `auth.log.2.gz` is not read as text. Polling only: no inotify.
//! - **Sources.** Lines of a file are stored under the source
//!   `tail/<type>/<file name>` (the type is the configured `source`, by
//!   default the format's name; the file name as first seen, characters
//!   outside `[A-Za-z0-9._:-]` written `_`, cut to keep the source within
//!   [`MAX_SOURCE_LEN`] bytes). A file name starting with `auth.log` or
//!   `secure` is routed as an `auth` log. A renamed file keeps its source.
//!   Two files of the same name in different directories share a source.
//! - **Acknowledgement.** Only complete lines are read (a partial last line
//!   waits for its line feed, or is taken as it is once its file has been
//!   rotated away and read to its end). At most [`MAX_BATCH_LINES`] lines
//!   or [`MAX_BATCH_BYTES`] bytes go to the intake at once, numbered by
//!   their line in the file (blank lines counted, not sent). A file's offset
//!   advances only once the intake has answered Ok, which it does after the
//!   spool's fsync; busy or unavailable, the same batch is sent again after
//!   the delay it asks for. Lines the intake refuses (not of the format) are
//!   counted and kept in its dead-letter file; they never block the lines
//!   after them. A line longer than `max_line_bytes` is skipped (without
//!   being read into memory whole) and counted as rejected.
//! - **Rotation.** A file renamed within the globs is followed under its
//!   new name. A file renamed out of them or deleted (`create` rotation) is
//!   read to its end through the descriptor still open, and dropped once it
//!   has been at its end for a grace period (writers may still append until
//!   they reopen their log). A file whose size drops below the offset
//!   (`copytruncate`), or whose first line changed, is read again from the
//!   start. A new file whose first line is that of a followed file is taken
//!   for its copy (`copytruncate` with a glob that matches the copies): it
//!   is not read while the original is intact, and once the original is
//!   truncated it is read from the original's offset, so the lines written
//!   between the last read and the copy are not lost, and nothing is read
//!   twice.
//! - **Restarts.** Offsets are kept in a JSON state file in the state
//!   directory (`tail-state-<hash of paths>.json`, owner-only), replaced
//!   atomically (temporary file, fsync, rename, directory fsync) after
//!   acknowledged batches, at most every [`STATE_SAVE_INTERVAL`], and at
//!   shutdown. On start a file resumes from its saved offset when device,
//!   inode and first line match and it is at least that long; one that is
//!   shorter, or whose first line changed, is read from its start; files
//!   without a saved offset start per `start_at`. Files that appear later
//!   are always read from their start. Delivery is at least once: after a
//!   crash, up to [`STATE_SAVE_INTERVAL`] of lines may be stored again.
//! - **Shutdown.** When the shutdown signal turns true the input stops
//!   between batches (a batch waiting on a busy intake is not stored; its
//!   lines are read again on the next start) and saves its state.
//!
//! Line contents are never logged. This module must not know HTTP or the log
//! formats: the intake checks the lines. Unix only (it needs inodes).

use std::collections::{BTreeMap, HashSet};
use std::ffi::OsString;
use std::fs::{File, Metadata};
use std::io::{Read, Seek, SeekFrom};
use std::ops::Bound::{Excluded, Unbounded};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sources::Format;
use tokio::sync::watch;

use super::Intake;
use super::body::Line;
use super::deliver::{self, Delivered, LineSink, stopped, valid_source_type};
use super::record::{LINE_FORMATS, MAX_SOURCE_LEN};
use crate::at_rest;

/// Default format of the lines.
pub const DEFAULT_FORMAT: &str = "syslog";
/// Default time between two looks at the files: 250 ms.
pub const DEFAULT_POLL_MILLIS: u64 = 250;
/// The shortest `poll_millis` accepted.
pub const MIN_POLL_MILLIS: u64 = 10;
/// The longest `poll_millis` accepted (one minute).
pub const MAX_POLL_MILLIS: u64 = 60_000;
/// Default longest line: 1 MiB.
pub const DEFAULT_MAX_LINE_BYTES: usize = 1 << 20;
/// The largest `max_line_bytes` accepted: 16 MiB.
pub const MAX_LINE_BYTES_LIMIT: usize = 16 << 20;
/// The most lines handed to the intake at once.
pub const MAX_BATCH_LINES: usize = 1_000;
/// The most line bytes handed to the intake at once (a batch may pass it
/// by one line).
pub const MAX_BATCH_BYTES: usize = 1 << 20;
/// The longest source type.
pub use super::deliver::MAX_SOURCE_TYPE_LEN;
/// The state file is written at most this often (and at shutdown).
pub const STATE_SAVE_INTERVAL: Duration = Duration::from_millis(200);

// `tail/` + the longest type + `/` + at least 8 bytes of file name.
const _: () = assert!(5 + MAX_SOURCE_TYPE_LEN + 1 + 8 <= MAX_SOURCE_LEN);

/// Bytes read from a file at a time.
const CHUNK: usize = 64 << 10;
/// A file's first line, up to this many bytes, tells it from another file
/// (and from its own truncated self).
const HEAD_MAX: usize = 1024;
/// A first line shorter than this (blanks aside) never makes a file a copy.
const MIN_DISTINCTIVE_HEAD: usize = 16;
/// The longest a poll reads before it looks at the globs again (when
/// `poll_millis` is shorter).
const MAX_DRAIN: Duration = Duration::from_secs(1);
/// How long a file that left its path is kept open at its end, at least.
const ROTATED_GRACE: Duration = Duration::from_secs(1);
/// Extensions of files that are never tailed.
const COMPRESSED: [&str; 7] = ["gz", "bz2", "xz", "zst", "lz4", "zip", "Z"];
/// The version of the state file's layout.
const STATE_VERSION: u32 = 1;

/// One `[[ingest.tail]]` input: files to follow.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TailConfig {
    /// The files to follow, as paths or globs (`/var/log/auth.log*`,
    /// `/var/log/*/access.log`): `*`, `?` and `[...]` in any component, not
    /// across `/`. At least one.
    pub paths: Vec<String>,
    /// The lines' format: `syslog` (default), `json` (one JSON value per
    /// line), `access` (common or combined access log) or `auditd`.
    #[serde(default = "default_format")]
    pub format: String,
    /// The source type (default: the format's name): lines come from
    /// `tail/<source>/<file name>`. 1 to 63 letters, digits and `._/-`.
    #[serde(default)]
    pub source: Option<String>,
    /// Time between two looks at the files, in milliseconds (default 250;
    /// 10 to 60,000).
    #[serde(default = "default_poll_millis")]
    pub poll_millis: u64,
    /// Where to start in a file found at start without a saved offset:
    /// `beginning` (default) or `end`. Files that appear later are always
    /// read from their beginning.
    #[serde(default)]
    pub start_at: StartAt,
    /// The longest line in bytes (default 1 MiB; at most 16 MiB). Longer
    /// lines are skipped and counted as rejected.
    #[serde(default = "default_max_line_bytes")]
    pub max_line_bytes: usize,
}

/// Where reading starts in a file seen for the first time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StartAt {
    /// At its first byte.
    #[default]
    Beginning,
    /// After its last complete line.
    End,
}

fn default_format() -> String {
    DEFAULT_FORMAT.to_owned()
}

fn default_poll_millis() -> u64 {
    DEFAULT_POLL_MILLIS
}

fn default_max_line_bytes() -> usize {
    DEFAULT_MAX_LINE_BYTES
}

impl TailConfig {
    /// An input following `paths` with every other setting at its default.
    pub fn new(paths: Vec<String>) -> Self {
        TailConfig {
            paths,
            format: default_format(),
            source: None,
            poll_millis: DEFAULT_POLL_MILLIS,
            start_at: StartAt::Beginning,
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
        }
    }

    /// How the input is named in errors and logs: its first path.
    fn label(&self) -> String {
        format!(
            "tail input {:?}",
            self.paths.first().map_or("", String::as_str)
        )
    }

    /// Checks the settings that the types do not.
    pub fn validate(&self) -> anyhow::Result<()> {
        self.checked().map(drop)
    }

    /// The format, the globs and the source type.
    fn checked(&self) -> anyhow::Result<(Format, Vec<Glob>, String)> {
        let at = self.label();
        if !cfg!(unix) {
            anyhow::bail!("{at}: file tailing needs a Unix system");
        }
        if self.paths.is_empty() {
            anyhow::bail!("{at}: paths must name at least one file or glob");
        }
        let globs = self
            .paths
            .iter()
            .map(|p| Glob::parse(p).map_err(|e| anyhow::anyhow!("{at}: path {p:?}: {e}")))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let format = match Format::from_name(&self.format) {
            Some(f) if LINE_FORMATS.contains(&f) => f,
            Some(Format::Evtx) => {
                anyhow::bail!(
                    "{at}: format \"evtx\" is a file format, not lines; use `watchpost hunt` for EVTX files"
                )
            }
            _ => anyhow::bail!(
                "{at}: format {:?} is not one of syslog, json, access, auditd",
                self.format
            ),
        };
        let source = self
            .source
            .clone()
            .unwrap_or_else(|| format.name().to_owned());
        if !valid_source_type(&source) {
            anyhow::bail!(
                "{at}: source {source:?} must be 1 to {MAX_SOURCE_TYPE_LEN} letters, digits and ._/-"
            );
        }
        if !(MIN_POLL_MILLIS..=MAX_POLL_MILLIS).contains(&self.poll_millis) {
            anyhow::bail!("{at}: poll_millis must be from {MIN_POLL_MILLIS} to {MAX_POLL_MILLIS}");
        }
        if !(1..=MAX_LINE_BYTES_LIMIT).contains(&self.max_line_bytes) {
            anyhow::bail!("{at}: max_line_bytes must be from 1 to {MAX_LINE_BYTES_LIMIT}");
        }
        Ok((format, globs, source))
    }
}

/// The source of the lines of `path`: `tail/<type>/<file name>`, the file
/// name made of `[A-Za-z0-9._:-]` and cut to fit [`MAX_SOURCE_LEN`].
fn source_name(kind: &str, path: &Path) -> String {
    let mut source = format!("tail/{kind}/");
    let room = MAX_SOURCE_LEN.saturating_sub(source.len());
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    source.extend(
        name.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-') {
                    c
                } else {
                    '_'
                }
            })
            .take(room),
    );
    source
}

/// The state file's name for an input following `paths` (the same paths
/// in any order give the same name).
fn state_file_name(paths: &[String]) -> String {
    let mut sorted: Vec<&str> = paths.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    sorted.dedup();
    let digest = Sha256::digest(sorted.join("\0").as_bytes());
    format!("tail-state-{}.json", hex::encode(&digest[..8]))
}

/// Counters of one tail input, shared with whoever reports them.
#[derive(Debug, Default)]
pub struct TailStats {
    /// Files opened to be followed since start.
    pub files: AtomicU64,
    /// Files open now (a gauge).
    pub open_files: AtomicU64,
    /// Lines the intake stored.
    pub lines: AtomicU64,
    /// Bytes of the files read and acknowledged (line ends included).
    pub bytes: AtomicU64,
    /// Lines the intake refused (its dead-letter file has them) and lines
    /// over `max_line_bytes`.
    pub rejected: AtomicU64,
    /// Followed files that left their path (renamed or deleted).
    pub rotations: AtomicU64,
    /// Files read again from their start because they were truncated or
    /// rewritten.
    pub truncations: AtomicU64,
    /// Failures to list, open or read files, or to write the state file
    /// (each counted once until it recovers).
    pub errors: AtomicU64,
    /// Looks at the files completed (a glob scan, then reading everything
    /// new).
    pub polls: AtomicU64,
}

/// A copy of [`TailStats`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TailCounts {
    /// See [`TailStats::files`].
    pub files: u64,
    /// See [`TailStats::open_files`].
    pub open_files: u64,
    /// See [`TailStats::lines`].
    pub lines: u64,
    /// See [`TailStats::bytes`].
    pub bytes: u64,
    /// See [`TailStats::rejected`].
    pub rejected: u64,
    /// See [`TailStats::rotations`].
    pub rotations: u64,
    /// See [`TailStats::truncations`].
    pub truncations: u64,
    /// See [`TailStats::errors`].
    pub errors: u64,
    /// See [`TailStats::polls`].
    pub polls: u64,
}

impl TailStats {
    /// The counters now.
    pub fn snapshot(&self) -> TailCounts {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        TailCounts {
            files: get(&self.files),
            open_files: get(&self.open_files),
            lines: get(&self.lines),
            bytes: get(&self.bytes),
            rejected: get(&self.rejected),
            rotations: get(&self.rotations),
            truncations: get(&self.truncations),
            errors: get(&self.errors),
            polls: get(&self.polls),
        }
    }
}

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

/// Starts the input of `config` and follows its files until `shutdown`
/// turns true (or its sender is dropped). The same as [`start`] then
/// [`Tail::run`].
pub async fn run(
    config: TailConfig,
    state_dir: &Path,
    intake: Arc<Intake>,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    start(config, state_dir)?.run(intake, shutdown).await
}

/// Checks `config`, creates `state_dir` (owner-only) and reads the input's
/// saved offsets from it, so that a bad setting or an unreadable state
/// fails at start. Reads no log file yet.
pub fn start(config: TailConfig, state_dir: &Path) -> anyhow::Result<Tail> {
    let (format, globs, source_type) = config.checked()?;
    let label = config.label();
    at_rest::make_private_dir(state_dir).with_context(|| {
        format!(
            "{label}: cannot create the state directory {}",
            state_dir.display()
        )
    })?;
    let state_path = state_dir.join(state_file_name(&config.paths));
    let stats = Arc::new(TailStats::default());
    let saved = load_state(&state_path, &label, &stats)?;
    let poll = Duration::from_millis(config.poll_millis);
    Ok(Tail {
        format,
        poll,
        tracker: Tracker {
            label: label.clone(),
            globs,
            source_type,
            start_at: config.start_at,
            max_line: config.max_line_bytes,
            grace: ROTATED_GRACE.max(poll * 4),
            files: BTreeMap::new(),
            saved: Some(saved),
            state_path,
            dirty: false,
            last_save: None,
            save_failing: false,
            failing: HashSet::new(),
            failed_before: HashSet::new(),
            last_served: None,
            buffer: Vec::new(),
            stats,
        },
        label,
    })
}

/// Reads the saved offsets; a missing file is none, an unreadable one an
/// error, a damaged one a warning (it is replaced at the first save).
fn load_state(path: &Path, label: &str, stats: &TailStats) -> anyhow::Result<Vec<SavedFile>> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(e).with_context(|| {
                format!("{label}: cannot read its state file {}", path.display())
            });
        }
    };
    match serde_json::from_slice::<StateFile>(&bytes) {
        Ok(state) if state.version == STATE_VERSION => Ok(state.files),
        Ok(state) => {
            add(&stats.errors, 1);
            tracing::warn!(input = %label, file = %path.display(), version = state.version, "tail state file of an unknown version; ignored, files start per start_at");
            Ok(Vec::new())
        }
        Err(error) => {
            add(&stats.errors, 1);
            tracing::warn!(input = %label, file = %path.display(), %error, "tail state file is damaged; ignored, files start per start_at");
            Ok(Vec::new())
        }
    }
}

/// A started input, not yet reading.
pub struct Tail {
    tracker: Tracker,
    format: Format,
    poll: Duration,
    label: String,
}

impl std::fmt::Debug for Tail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tail")
            .field("label", &self.label)
            .field("state_file", &self.tracker.state_path)
            .finish_non_exhaustive()
    }
}

impl Tail {
    /// The input's counters.
    pub fn stats(&self) -> Arc<TailStats> {
        Arc::clone(&self.tracker.stats)
    }

    /// The file that keeps the input's offsets.
    pub fn state_file(&self) -> &Path {
        &self.tracker.state_path
    }

    /// Follows the files until `shutdown` turns true (or its sender is
    /// dropped), then saves the offsets and returns.
    pub async fn run(
        self,
        intake: Arc<Intake>,
        shutdown: watch::Receiver<bool>,
    ) -> anyhow::Result<()> {
        self.serve(intake, shutdown).await
    }

    async fn serve(
        self,
        sink: Arc<dyn LineSink>,
        mut shutdown: watch::Receiver<bool>,
    ) -> anyhow::Result<()> {
        let Tail {
            tracker,
            format,
            poll,
            label,
        } = self;
        let stats = Arc::clone(&tracker.stats);
        tracing::info!(input = %label, state = %tracker.state_path.display(), format = %format, "tail input started");
        let mut tracker = Box::new(tracker);
        let mut initial = true;
        'poll: while !stopping(&shutdown) {
            tracker = blocking(tracker, move |t| t.scan(initial)).await?.0;
            initial = false;
            let scanned = Instant::now();
            let mut behind = false;
            loop {
                let (t, batch) = blocking(tracker, Tracker::next_batch).await?;
                tracker = t;
                let Some(batch) = batch else { break };
                if !deliver(&batch, format, sink.as_ref(), &stats, &mut shutdown).await {
                    break 'poll;
                }
                tracker = blocking(tracker, move |t| t.ack(batch)).await?.0;
                if stopping(&shutdown) {
                    break 'poll;
                }
                // A file that grows as fast as it is read must not keep
                // rotations and new files from being seen.
                if scanned.elapsed() >= poll.max(MAX_DRAIN) {
                    behind = true;
                    break;
                }
            }
            tracker = blocking(tracker, Tracker::save_if_due).await?.0;
            if behind {
                continue;
            }
            add(&stats.polls, 1);
            tokio::select! {
                biased;
                () = stopped(&mut shutdown) => break,
                () = tokio::time::sleep(poll) => {}
            }
        }
        let (tracker, ()) = blocking(tracker, Tracker::save_if_dirty).await?;
        stats
            .open_files
            .fetch_sub(tracker.files.len() as u64, Ordering::Relaxed);
        drop(tracker);
        tracing::info!(input = %label, "tail input stopped");
        Ok(())
    }
}

/// Runs `f` on the tracker on a blocking thread (file IO), and gives the
/// tracker back.
async fn blocking<T: Send + 'static>(
    mut tracker: Box<Tracker>,
    f: impl FnOnce(&mut Tracker) -> T + Send + 'static,
) -> anyhow::Result<(Box<Tracker>, T)> {
    tokio::task::spawn_blocking(move || {
        let out = f(&mut tracker);
        (tracker, out)
    })
    .await
    .map_err(|e| anyhow::anyhow!("the tail input's file task failed: {e}"))
}

/// Whether shutdown is asked for (or can no longer be asked for).
fn stopping(shutdown: &watch::Receiver<bool>) -> bool {
    *shutdown.borrow() || shutdown.has_changed().is_err()
}

/// Hands a batch to the intake, again and again while it is busy or
/// unavailable. True once it is stored (or refused for good); false when
/// shutdown came while waiting to retry (nothing is acknowledged then).
async fn deliver(
    batch: &Batch,
    format: Format,
    sink: &dyn LineSink,
    stats: &TailStats,
    shutdown: &mut watch::Receiver<bool>,
) -> bool {
    if batch.lines.is_empty() {
        return true;
    }
    let count = batch.lines.len() as u64;
    let source = batch.source.as_str();
    match deliver::until_taken(sink, source, format, &batch.lines, "tailed lines", shutdown).await {
        Delivered::Taken(receipt) => {
            add(&stats.lines, receipt.accepted);
            add(&stats.rejected, receipt.rejected);
            true
        }
        Delivered::Refused(reason) => {
            add(&stats.rejected, count);
            tracing::warn!(%source, lines = count, %reason, "the intake refused a tail batch; skipped");
            true
        }
        Delivered::Shutdown => {
            tracing::info!(%source, lines = count, "shutting down: tailed lines not stored are read again at the next start");
            false
        }
    }
}

/// A file's identity: device and inode.
type Id = (u64, u64);

#[cfg(unix)]
fn identity(meta: &Metadata) -> Id {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino())
}

#[cfg(not(unix))]
fn identity(_meta: &Metadata) -> Id {
    // Refused by `TailConfig::checked`.
    (0, 0)
}

/// Where reading goes on in a file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Cursor {
    /// The first byte not yet acknowledged.
    offset: u64,
    /// The number of the last line consumed (1-based; 0 before the first).
    line: u64,
    /// Inside a line over `max_line_bytes`, skipping to its end.
    skipping: bool,
}

/// One followed file.
#[derive(Debug)]
struct Tracked {
    file: File,
    /// Where the globs last found it; `None` once it left them.
    path: Option<PathBuf>,
    source: String,
    /// The acknowledged position.
    cursor: Cursor,
    /// Its first line (up to [`HEAD_MAX`] bytes), once complete.
    head: Option<Vec<u8>>,
    /// Whether the start position is decided (a new file waits for its
    /// first line, which may show it is a copy).
    decided: bool,
    /// A copy of this followed file: not read until that one is truncated
    /// or dropped.
    copy_of: Option<Id>,
    /// Still being filled up to this offset (a copy): a smaller size is
    /// not a truncation.
    grow_to: Option<u64>,
    /// When it left its path.
    gone_since: Option<Instant>,
    /// Size and modification time at the last scan.
    seen: (u64, Option<SystemTime>),
    /// A read error was reported and has not cleared.
    failing: bool,
}

/// Lines of one file on their way to the intake.
#[derive(Debug)]
struct Batch {
    id: Id,
    source: String,
    lines: Vec<Line>,
    start: Cursor,
    end: Cursor,
    /// Lines over `max_line_bytes` skipped.
    skipped: u64,
    /// The file is done: drop it once the batch is acknowledged.
    last: bool,
}

/// The input's files and offsets: everything that does IO, run on a
/// blocking thread.
struct Tracker {
    label: String,
    globs: Vec<Glob>,
    source_type: String,
    start_at: StartAt,
    max_line: usize,
    grace: Duration,
    files: BTreeMap<Id, Tracked>,
    /// Offsets read from the state file, until the first scan uses them.
    saved: Option<Vec<SavedFile>>,
    state_path: PathBuf,
    dirty: bool,
    last_save: Option<Instant>,
    save_failing: bool,
    /// Failures seen in this scan, and in the one before: a failure is
    /// counted when it was not there the scan before.
    failing: HashSet<(PathBuf, &'static str)>,
    failed_before: HashSet<(PathBuf, &'static str)>,
    last_served: Option<Id>,
    buffer: Vec<u8>,
    stats: Arc<TailStats>,
}

impl Tracker {
    /// Counts and logs a failure on `path`, once while it lasts.
    fn failed(&mut self, path: &Path, what: &'static str, error: &std::io::Error) {
        let key = (path.to_owned(), what);
        if !self.failed_before.contains(&key) && !self.failing.contains(&key) {
            add(&self.stats.errors, 1);
            tracing::warn!(input = %self.label, path = %path.display(), %error, "{what}");
        }
        self.failing.insert(key);
    }

    /// Looks at the globs: new files, renamed, gone, truncated ones.
    fn scan(&mut self, initial: bool) {
        self.failed_before = std::mem::take(&mut self.failing);
        self.scan_files(initial);
        for (path, what) in self.failed_before.difference(&self.failing) {
            tracing::info!(input = %self.label, path = %path.display(), "works again: {what}");
        }
    }

    fn scan_files(&mut self, initial: bool) {
        let mut paths = Vec::new();
        let mut problems = Vec::new();
        for glob in &self.globs {
            glob.expand(&mut paths, &mut problems);
        }
        for (dir, error) in problems {
            self.failed(&dir, "cannot list a directory of the tail globs", &error);
        }
        paths.sort();
        paths.dedup();
        let mut present: BTreeMap<Id, (PathBuf, Metadata)> = BTreeMap::new();
        for path in paths {
            if is_compressed(&path) {
                continue;
            }
            match std::fs::metadata(&path) {
                Ok(meta) if meta.is_file() => {
                    let id = identity(&meta);
                    let known = self.files.get(&id).and_then(|t| t.path.as_ref());
                    // One file under two names (a hard link, a symbolic
                    // link): the name it was followed under wins.
                    if !present.contains_key(&id) || known == Some(&path) {
                        present.insert(id, (path, meta));
                    }
                }
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => self.failed(&path, "cannot read a tailed file's metadata", &e),
            }
        }
        let new: Vec<(Id, PathBuf)> = present
            .iter()
            .filter(|(id, _)| !self.files.contains_key(id))
            .map(|(id, (path, _))| (*id, path.clone()))
            .collect();
        if initial {
            self.start_files(new);
        } else {
            for (id, path) in new {
                if let Some(t) = self.open(id, &path) {
                    self.files.insert(id, t);
                }
            }
        }
        self.decide_new();
        let ids: Vec<Id> = self.files.keys().copied().collect();
        for id in ids {
            match present.get(&id) {
                Some((path, meta)) => self.check_present(id, path, meta),
                None => self.check_gone(id),
            }
        }
    }

    /// Opens a file found at `path` as `id` (undecided).
    fn open(&mut self, id: Id, path: &Path) -> Option<Tracked> {
        let mut file = match File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => {
                self.failed(path, "cannot open a tailed file", &e);
                return None;
            }
        };
        let opened = file.metadata().and_then(|meta| {
            let head = read_head(&mut file)?;
            Ok((meta, head))
        });
        let (meta, head) = match opened {
            Ok(opened) => opened,
            Err(e) => {
                self.failed(path, "cannot read a tailed file", &e);
                return None;
            }
        };
        if identity(&meta) != id {
            // Replaced between the look and the open: the next scan sees it.
            return None;
        }
        add(&self.stats.files, 1);
        add(&self.stats.open_files, 1);
        Some(Tracked {
            file,
            path: Some(path.to_owned()),
            source: source_name(&self.source_type, path),
            cursor: Cursor::default(),
            head,
            decided: false,
            copy_of: None,
            grow_to: None,
            gone_since: None,
            seen: (meta.len(), meta.modified().ok()),
            failing: false,
        })
    }

    /// The first scan: files resume from the state file, copies of saved
    /// files continue from their offset, the others start per `start_at`.
    fn start_files(&mut self, new: Vec<(Id, PathBuf)>) {
        let mut saved: Vec<Option<SavedFile>> = self
            .saved
            .take()
            .unwrap_or_default()
            .into_iter()
            .map(Some)
            .collect();
        let mut rest = Vec::new();
        for (id, path) in new {
            let Some(mut t) = self.open(id, &path) else {
                continue;
            };
            let same = saved
                .iter()
                .position(|s| s.as_ref().is_some_and(|s| (s.dev, s.inode) == id));
            match same {
                Some(i)
                    if saved[i]
                        .as_ref()
                        .is_some_and(|s| s.head_matches(t.head.as_deref())) =>
                {
                    let s = saved[i].take().expect("found");
                    if t.seen.0 >= s.offset {
                        t.cursor = s.cursor();
                        tracing::info!(input = %self.label, path = %path.display(), source = %t.source, offset = s.offset, "tailing file from its saved offset");
                    } else {
                        add(&self.stats.truncations, 1);
                        tracing::info!(input = %self.label, path = %path.display(), offset = s.offset, size = t.seen.0, "tailed file was truncated while stopped; reading it from its start");
                    }
                    t.decided = true;
                    self.files.insert(id, t);
                }
                Some(_) => {
                    // The same inode with other contents: truncated and
                    // written again, or a new file on a reused inode.
                    add(&self.stats.truncations, 1);
                    tracing::info!(input = %self.label, path = %path.display(), "tailed file was rewritten while stopped; reading it from its start");
                    t.decided = true;
                    self.files.insert(id, t);
                }
                None => rest.push((id, t)),
            }
        }
        for (id, mut t) in rest {
            if let Some(head) = t.head.as_deref() {
                if let Some(original) = self.same_head(head) {
                    t.copy_of = Some(original);
                    t.decided = true;
                } else if let Some(s) = saved
                    .iter()
                    .flatten()
                    .find(|s| distinctive(head) && s.head_is(head))
                {
                    // A copy of a file followed before (copytruncate while
                    // stopped): the lines up to its offset were read.
                    t.cursor = s.cursor();
                    t.grow_to = Some(s.offset);
                    t.decided = true;
                }
            }
            if !t.decided {
                t.cursor = match self.start_at {
                    StartAt::Beginning => Cursor::default(),
                    StartAt::End => match end_cursor(&mut t.file, t.seen.0, self.max_line) {
                        Ok(cursor) => cursor,
                        Err(e) => {
                            let path = t.path.clone().unwrap_or_default();
                            self.failed(&path, "cannot read a tailed file", &e);
                            Cursor {
                                offset: t.seen.0,
                                ..Cursor::default()
                            }
                        }
                    },
                };
                t.decided = true;
            }
            tracing::info!(input = %self.label, path = %t.path.as_deref().unwrap_or(Path::new("")).display(), source = %t.source, offset = t.cursor.offset, copy = t.copy_of.is_some(), "tailing file");
            self.files.insert(id, t);
        }
        self.dirty = true;
    }

    /// A followed, decided file whose first line is `head` (a first line
    /// too short to tell files apart matches none).
    fn same_head(&self, head: &[u8]) -> Option<Id> {
        if !distinctive(head) {
            return None;
        }
        self.files
            .iter()
            .find(|(_, t)| t.decided && t.copy_of.is_none() && t.head.as_deref() == Some(head))
            .map(|(id, _)| *id)
    }

    /// Decides where new files start, once their first line is complete:
    /// a copy of a followed file waits for that one, others start at 0.
    fn decide_new(&mut self) {
        let pending: Vec<Id> = self
            .files
            .iter()
            .filter(|(_, t)| !t.decided)
            .map(|(id, _)| *id)
            .collect();
        for id in pending {
            let Some(t) = self.files.get_mut(&id) else {
                continue;
            };
            if t.head.is_none() {
                match read_head(&mut t.file) {
                    Ok(head) => t.head = head,
                    Err(e) => {
                        let path = t.path.clone().unwrap_or_default();
                        self.failed(&path, "cannot read a tailed file", &e);
                        continue;
                    }
                }
            }
            let Some(head) = t.head.clone() else {
                if t.path.is_none() {
                    // Gone before its first line was complete: read it all.
                    t.decided = true;
                }
                continue;
            };
            let original = self.same_head(&head);
            let t = self.files.get_mut(&id).expect("pending");
            t.copy_of = original;
            t.decided = true;
            self.dirty = true;
            tracing::info!(input = %self.label, path = %t.path.as_deref().unwrap_or(Path::new("")).display(), source = %t.source, copy = original.is_some(), "tailing new file");
        }
    }

    /// A followed file the globs found: renamed, truncated, rewritten?
    fn check_present(&mut self, id: Id, path: &Path, meta: &Metadata) {
        let label = &self.label;
        let Some(t) = self.files.get_mut(&id) else {
            return;
        };
        if t.path.as_deref() != Some(path) {
            match &t.path {
                Some(old) => {
                    add(&self.stats.rotations, 1);
                    tracing::info!(input = %label, from = %old.display(), to = %path.display(), "tailed file renamed; following it");
                }
                None => {
                    tracing::info!(input = %label, path = %path.display(), "tailed file is back under the globs");
                }
            }
            t.path = Some(path.to_owned());
            t.gone_since = None;
        }
        let len = meta.len();
        let stamp = (len, meta.modified().ok());
        if !t.decided || t.copy_of.is_some() {
            t.seen = stamp;
            return;
        }
        if let Some(until) = t.grow_to {
            if len < until {
                t.seen = stamp;
                return;
            }
            t.grow_to = None;
        }
        if stamp == t.seen {
            return;
        }
        t.seen = stamp;
        let head = match read_head(&mut t.file) {
            Ok(head) => head,
            Err(e) => {
                self.failed(path, "cannot read a tailed file", &e);
                return;
            }
        };
        let rewritten = t.head.is_some() && head != t.head;
        t.head = head;
        if rewritten || len < t.cursor.offset {
            let before = t.cursor;
            t.cursor = Cursor::default();
            add(&self.stats.truncations, 1);
            tracing::info!(input = %label, path = %path.display(), offset = before.offset, size = len, "tailed file truncated or rewritten; reading it again from its start");
            self.dirty = true;
            self.release_copies(id, before);
        }
    }

    /// A followed file the globs no longer find.
    fn check_gone(&mut self, id: Id) {
        let label = &self.label;
        let Some(t) = self.files.get_mut(&id) else {
            return;
        };
        if let Some(old) = t.path.take() {
            add(&self.stats.rotations, 1);
            t.gone_since = Some(Instant::now());
            tracing::info!(input = %label, path = %old.display(), "tailed file renamed away or deleted; reading it to its end");
        }
        if !t.decided {
            t.decided = true;
        }
    }

    /// Lets the copies of `original` be read, from `cursor` (where the
    /// original was when it was truncated or dropped).
    fn release_copies(&mut self, original: Id, cursor: Cursor) {
        for t in self.files.values_mut() {
            if t.copy_of == Some(original) {
                t.copy_of = None;
                t.cursor = cursor;
                t.grow_to = Some(cursor.offset);
                tracing::info!(input = %self.label, path = %t.path.as_deref().unwrap_or(Path::new("")).display(), offset = cursor.offset, "reading the copy of a truncated file from where the original was");
            }
        }
    }

    /// Stops following a file.
    fn drop_file(&mut self, id: Id) {
        if let Some(t) = self.files.remove(&id) {
            self.stats.open_files.fetch_sub(1, Ordering::Relaxed);
            self.dirty = true;
            tracing::debug!(input = %self.label, source = %t.source, offset = t.cursor.offset, "rotated file read to its end; closed");
            self.release_copies(id, t.cursor);
        }
    }

    /// The next batch of new lines, from the files in turn.
    fn next_batch(&mut self) -> Option<Batch> {
        let after = match self.last_served {
            Some(last) => self
                .files
                .range((Excluded(last), Unbounded))
                .chain(self.files.range(..=last))
                .map(|(id, _)| *id)
                .collect::<Vec<_>>(),
            None => self.files.keys().copied().collect(),
        };
        for id in after {
            let Some(t) = self.files.get_mut(&id) else {
                continue;
            };
            if !t.decided || t.copy_of.is_some() {
                continue;
            }
            let last = t.gone_since.is_some_and(|at| at.elapsed() >= self.grace);
            match read_batch(t, id, &mut self.buffer, self.max_line, last) {
                Ok(found) => {
                    if t.failing {
                        t.failing = false;
                        tracing::info!(input = %self.label, source = %t.source, "tailed file readable again");
                    }
                    if let Some(batch) = found {
                        self.last_served = Some(id);
                        return Some(batch);
                    }
                }
                Err(error) => {
                    if !t.failing {
                        t.failing = true;
                        add(&self.stats.errors, 1);
                        tracing::warn!(input = %self.label, source = %t.source, %error, "cannot read a tailed file");
                    }
                    if t.path.is_none() {
                        self.drop_file(id);
                    }
                }
            }
        }
        None
    }

    /// The intake has the batch: advance the file's offset.
    fn ack(&mut self, batch: Batch) {
        add(&self.stats.rejected, batch.skipped);
        let Some(t) = self.files.get_mut(&batch.id) else {
            return;
        };
        if t.cursor != batch.start {
            return;
        }
        if batch.skipped > 0 {
            tracing::warn!(input = %self.label, source = %t.source, lines = batch.skipped, max_line_bytes = self.max_line, "lines over max_line_bytes skipped");
        }
        add(
            &self.stats.bytes,
            batch.end.offset.saturating_sub(batch.start.offset),
        );
        t.cursor = batch.end;
        self.dirty = true;
        if batch.last {
            self.drop_file(batch.id);
        }
        self.save_if_due();
    }

    fn save_if_due(&mut self) {
        if self
            .last_save
            .is_none_or(|at| at.elapsed() >= STATE_SAVE_INTERVAL)
        {
            self.save_if_dirty();
        }
    }

    /// Writes the offsets of the decided files (not the copies waiting on
    /// their original: they are recognised again on the next start).
    fn save_if_dirty(&mut self) {
        if !self.dirty {
            return;
        }
        let state = StateFile {
            version: STATE_VERSION,
            files: self
                .files
                .iter()
                .filter(|(_, t)| t.decided && t.copy_of.is_none())
                .map(|(id, t)| SavedFile::of(*id, t))
                .collect(),
        };
        self.last_save = Some(Instant::now());
        let written = serde_json::to_vec_pretty(&state)
            .map_err(std::io::Error::other)
            .and_then(|bytes| at_rest::write_atomically(&self.state_path, &bytes));
        match written {
            Ok(()) => {
                self.dirty = false;
                if self.save_failing {
                    self.save_failing = false;
                    tracing::info!(input = %self.label, file = %self.state_path.display(), "tail state file written again");
                }
            }
            Err(error) => {
                if !self.save_failing {
                    self.save_failing = true;
                    add(&self.stats.errors, 1);
                    tracing::warn!(input = %self.label, file = %self.state_path.display(), %error, "cannot write the tail state file; offsets will be retried");
                }
            }
        }
    }
}

/// Reads complete lines of `t` from its acknowledged offset, up to a batch.
/// With `last` (the file left its path a while ago) a partial last line is
/// taken as it is, and the batch says the file is done at its end. `None`
/// when there is nothing new.
fn read_batch(
    t: &mut Tracked,
    id: Id,
    buffer: &mut Vec<u8>,
    max_line: usize,
    last: bool,
) -> std::io::Result<Option<Batch>> {
    let start = t.cursor;
    let mut cur = start;
    let mut pos = start.offset;
    let mut carry: Vec<u8> = Vec::new();
    let mut lines: Vec<Line> = Vec::new();
    let mut bytes = 0usize;
    let mut skipped = 0u64;
    let mut eof = false;
    let full = |lines: &Vec<Line>, bytes: usize| {
        lines.len() >= MAX_BATCH_LINES || bytes >= MAX_BATCH_BYTES
    };
    buffer.resize(CHUNK, 0);
    t.file.seek(SeekFrom::Start(pos))?;
    'read: while !full(&lines, bytes) {
        let n = match t.file.read(buffer) {
            Ok(0) => {
                eof = true;
                break;
            }
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let data = &buffer[..n];
        let mut i = 0;
        while i < n {
            match data[i..].iter().position(|b| *b == b'\n') {
                Some(j) => {
                    let piece = &data[i..i + j];
                    cur.line += 1;
                    if cur.skipping {
                        cur.skipping = false;
                    } else if carry.len() + piece.len() > max_line {
                        skipped += 1;
                    } else if carry.is_empty() {
                        push_line(&mut lines, &mut bytes, cur.line, piece);
                    } else {
                        carry.extend_from_slice(piece);
                        push_line(&mut lines, &mut bytes, cur.line, &carry);
                    }
                    carry.clear();
                    i += j + 1;
                    cur.offset = pos + i as u64;
                    if full(&lines, bytes) {
                        break 'read;
                    }
                }
                None => {
                    let rest = &data[i..];
                    if cur.skipping {
                        cur.offset = pos + n as u64;
                    } else if carry.len() + rest.len() > max_line {
                        // Too long already: skip to its end without
                        // holding it, and remember that across reads.
                        cur.skipping = true;
                        skipped += 1;
                        carry.clear();
                        cur.offset = pos + n as u64;
                    } else {
                        carry.extend_from_slice(rest);
                    }
                    i = n;
                }
            }
        }
        pos += n as u64;
    }
    let done = eof && last;
    if done && !carry.is_empty() {
        cur.line += 1;
        cur.offset = pos;
        push_line(&mut lines, &mut bytes, cur.line, &carry);
    }
    if lines.is_empty() && cur == start && !done {
        return Ok(None);
    }
    Ok(Some(Batch {
        id,
        source: t.source.clone(),
        lines,
        start,
        end: cur,
        skipped,
        last: done,
    }))
}

/// Adds one line without its carriage return; blank lines are numbered but
/// not sent.
fn push_line(lines: &mut Vec<Line>, bytes: &mut usize, number: u64, text: &[u8]) {
    let text = text.strip_suffix(b"\r").unwrap_or(text);
    if text.trim_ascii().is_empty() {
        return;
    }
    *bytes += text.len();
    lines.push((number, text.to_vec()));
}

/// A file's first line with its line feed (or its first [`HEAD_MAX`]
/// bytes); `None` while it is not complete.
fn read_head(file: &mut File) -> std::io::Result<Option<Vec<u8>>> {
    let mut head = vec![0u8; HEAD_MAX];
    file.seek(SeekFrom::Start(0))?;
    let mut n = 0;
    while n < HEAD_MAX {
        match file.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => {
                n += k;
                if head[n - k..n].contains(&b'\n') {
                    break;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    head.truncate(n);
    Ok(match head.iter().position(|b| *b == b'\n') {
        Some(i) => {
            head.truncate(i + 1);
            Some(head)
        }
        None if n == HEAD_MAX => Some(head),
        None => None,
    })
}

/// Where `start_at = "end"` starts in a file of `len` bytes: after its last
/// line feed (looking back at most `max_line` bytes; past that, inside a
/// line that is skipped).
fn end_cursor(file: &mut File, len: u64, max_line: usize) -> std::io::Result<Cursor> {
    let floor = len.saturating_sub(max_line as u64 + 1);
    let mut buffer = vec![0u8; CHUNK];
    let mut end = len;
    while end > floor {
        let from = end.saturating_sub(CHUNK as u64).max(floor);
        let n = (end - from) as usize;
        file.seek(SeekFrom::Start(from))?;
        file.read_exact(&mut buffer[..n])?;
        if let Some(i) = buffer[..n].iter().rposition(|b| *b == b'\n') {
            return Ok(Cursor {
                offset: from + i as u64 + 1,
                ..Cursor::default()
            });
        }
        end = from;
    }
    Ok(Cursor {
        offset: if floor == 0 { 0 } else { len },
        line: 0,
        skipping: floor > 0,
    })
}

/// Whether a first line says enough to take a file with the same one for
/// a copy (a blank or short first line does not).
fn distinctive(head: &[u8]) -> bool {
    head.trim_ascii().len() >= MIN_DISTINCTIVE_HEAD
}

fn is_compressed(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| COMPRESSED.contains(&e))
}

/// The state file.
#[derive(Debug, Serialize, Deserialize)]
struct StateFile {
    version: u32,
    files: Vec<SavedFile>,
}

/// One file's saved offset.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SavedFile {
    dev: u64,
    inode: u64,
    /// Where it was (for people reading the file; not used to match).
    path: String,
    offset: u64,
    line: u64,
    #[serde(default)]
    skipping: bool,
    /// Length of its first line (0: not complete when saved).
    #[serde(default)]
    head_len: u64,
    /// SHA-256 of its first line, hex.
    #[serde(default)]
    head_sha256: String,
}

impl SavedFile {
    fn of(id: Id, t: &Tracked) -> Self {
        let head = t.head.as_deref().unwrap_or_default();
        SavedFile {
            dev: id.0,
            inode: id.1,
            path: t
                .path
                .as_deref()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default(),
            offset: t.cursor.offset,
            line: t.cursor.line,
            skipping: t.cursor.skipping,
            head_len: head.len() as u64,
            head_sha256: if head.is_empty() {
                String::new()
            } else {
                hex::encode(Sha256::digest(head))
            },
        }
    }

    fn cursor(&self) -> Cursor {
        Cursor {
            offset: self.offset,
            line: self.line,
            skipping: self.skipping,
        }
    }

    /// Whether a file whose first line is `head` may be this one (always,
    /// when its first line was not known).
    fn head_matches(&self, head: Option<&[u8]>) -> bool {
        self.head_len == 0 || head.is_some_and(|h| self.head_is(h))
    }

    /// Whether its first line is known and is `head`.
    fn head_is(&self, head: &[u8]) -> bool {
        self.head_len > 0
            && self.head_len == head.len() as u64
            && self.head_sha256 == hex::encode(Sha256::digest(head))
    }
}

/// A path pattern: a start directory and the components after it.
#[derive(Debug, Clone)]
struct Glob {
    start: PathBuf,
    parts: Vec<Part>,
}

#[derive(Debug, Clone)]
enum Part {
    Literal(OsString),
    Pattern(Vec<Token>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Char(char),
    /// `?`
    One,
    /// `*`
    Many,
    /// `[...]`, `[!...]`
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

impl Token {
    fn accepts(&self, c: char) -> bool {
        match self {
            Token::Char(x) => *x == c,
            Token::One => true,
            Token::Many => false,
            Token::Class { negated, ranges } => {
                ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c)) != *negated
            }
        }
    }
}

impl Glob {
    fn parse(text: &str) -> Result<Glob, String> {
        if text.is_empty() {
            return Err("empty".to_owned());
        }
        let mut start = PathBuf::new();
        let mut parts = Vec::new();
        for component in Path::new(text).components() {
            match component {
                Component::Prefix(_) | Component::RootDir => start.push(component.as_os_str()),
                Component::CurDir => {}
                Component::ParentDir => parts.push(Part::Literal(OsString::from(".."))),
                Component::Normal(name) => {
                    let name_text = name.to_str().ok_or("not UTF-8")?;
                    if name_text.contains(['*', '?', '[', '\\']) {
                        parts.push(Part::Pattern(parse_component(name_text)?));
                    } else if parts.is_empty() {
                        start.push(name);
                    } else {
                        parts.push(Part::Literal(name.to_owned()));
                    }
                }
            }
        }
        if parts.is_empty() {
            // A plain path: its last component is the file.
            let Some(name) = start.file_name().map(OsString::from) else {
                return Err("names no file".to_owned());
            };
            start.pop();
            parts.push(Part::Literal(name));
        }
        Ok(Glob { start, parts })
    }

    /// Adds the paths that match (files or not: the caller looks);
    /// directories that cannot be listed go to `problems` (missing ones are
    /// no problem).
    fn expand(&self, out: &mut Vec<PathBuf>, problems: &mut Vec<(PathBuf, std::io::Error)>) {
        let mut current = vec![self.start.clone()];
        for (i, part) in self.parts.iter().enumerate() {
            let last = i + 1 == self.parts.len();
            let mut next = Vec::new();
            for dir in current {
                match part {
                    Part::Literal(name) => next.push(dir.join(name)),
                    Part::Pattern(tokens) => {
                        let listed = if dir.as_os_str().is_empty() {
                            Path::new(".")
                        } else {
                            dir.as_path()
                        };
                        let entries = match std::fs::read_dir(listed) {
                            Ok(entries) => entries,
                            Err(e)
                                if matches!(
                                    e.kind(),
                                    std::io::ErrorKind::NotFound
                                        | std::io::ErrorKind::NotADirectory
                                ) =>
                            {
                                continue;
                            }
                            Err(e) => {
                                problems.push((dir, e));
                                continue;
                            }
                        };
                        for entry in entries.flatten() {
                            let name = entry.file_name();
                            let Some(text) = name.to_str() else { continue };
                            if !matches(tokens, text) {
                                continue;
                            }
                            let path = dir.join(&name);
                            if last || path.is_dir() {
                                next.push(path);
                            }
                        }
                    }
                }
            }
            current = next;
        }
        out.extend(current);
    }
}

/// One path component of a glob as tokens.
fn parse_component(text: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '*' => {
                if chars.get(i + 1) == Some(&'*') {
                    return Err("`**` is not supported; use one `*` per directory level".to_owned());
                }
                tokens.push(Token::Many);
                i += 1;
            }
            '?' => {
                tokens.push(Token::One);
                i += 1;
            }
            '\\' => {
                let c = chars.get(i + 1).ok_or("a `\\` at the end of a component")?;
                tokens.push(Token::Char(*c));
                i += 2;
            }
            '[' => {
                let mut j = i + 1;
                let negated = matches!(chars.get(j), Some('!' | '^'));
                if negated {
                    j += 1;
                }
                let mut ranges = Vec::new();
                loop {
                    let c = *chars.get(j).ok_or("a `[` without its `]`")?;
                    if c == ']' && !ranges.is_empty() {
                        break;
                    }
                    match (chars.get(j + 1), chars.get(j + 2)) {
                        (Some('-'), Some(&hi)) if hi != ']' => {
                            if hi < c {
                                return Err(format!("the range `{c}-{hi}` is backwards"));
                            }
                            ranges.push((c, hi));
                            j += 3;
                        }
                        _ => {
                            ranges.push((c, c));
                            j += 1;
                        }
                    }
                }
                tokens.push(Token::Class { negated, ranges });
                i = j + 1;
            }
            c => {
                tokens.push(Token::Char(c));
                i += 1;
            }
        }
    }
    Ok(tokens)
}

/// Whether a file name matches a component's tokens (a leading `.` only
/// matches a literal `.`).
fn matches(tokens: &[Token], name: &str) -> bool {
    let name: Vec<char> = name.chars().collect();
    if name.first() == Some(&'.') && tokens.first() != Some(&Token::Char('.')) {
        return false;
    }
    let (mut t, mut n) = (0, 0);
    // Where the last `*` was, and how much of the name it has taken.
    let mut star: Option<(usize, usize)> = None;
    loop {
        if let Some(token) = tokens.get(t) {
            if *token == Token::Many {
                star = Some((t, n));
                t += 1;
                continue;
            }
            if n < name.len() && token.accepts(name[n]) {
                t += 1;
                n += 1;
                continue;
            }
        } else if n == name.len() {
            return true;
        }
        match star {
            Some((at, taken)) if taken < name.len() => {
                star = Some((at, taken + 1));
                t = at + 1;
                n = taken + 1;
            }
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::io::Write as _;
    use std::sync::Mutex;

    use super::*;
    use async_trait::async_trait;
    use web::events::{Receipt, Refusal};

    #[test]
    fn components_match_like_a_shell() {
        for (pattern, name, wanted) in [
            ("*", "auth.log", true),
            ("*", ".hidden", false),
            (".*", ".hidden", true),
            ("auth.log*", "auth.log", true),
            ("auth.log*", "auth.log.1", true),
            ("auth.log*", "xauth.log", false),
            ("*.log", "a.log", true),
            ("*.log", "a.log.1", false),
            ("*.log*", "a.log.1", true),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("a*b*c", "aXXbYYc", true),
            ("a*b*c", "aXXbYY", false),
            ("[ab].log", "a.log", true),
            ("[ab].log", "c.log", false),
            ("[!ab].log", "c.log", true),
            ("[a-c]x", "bx", true),
            ("[a-c]x", "dx", false),
            ("[]]", "]", true),
            ("[a-]", "-", true),
            ("\\*", "*", true),
            ("\\*", "a", false),
            ("", "", true),
            ("é*", "été", true),
        ] {
            let tokens = parse_component(pattern).unwrap();
            assert_eq!(matches(&tokens, name), wanted, "{pattern:?} {name:?}");
        }
        for (pattern, wanted) in [
            ("**", "`**`"),
            ("a[bc", "without its `]`"),
            ("[z-a]", "backwards"),
            ("a\\", "at the end"),
        ] {
            let error = parse_component(pattern).unwrap_err();
            assert!(error.contains(wanted), "{pattern:?}: {error}");
        }
    }

    #[test]
    fn globs_expand_in_any_component_and_miss_nothing_else() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        for file in [
            "web1/access.log",
            "web2/access.log",
            "web2/error.log",
            "auth.log",
            "auth.log.1",
            "auth.log.2.gz",
            ".hidden/access.log",
        ] {
            let path = root.join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, b"x\n").unwrap();
        }
        let expand = |pattern: &str| {
            let glob = Glob::parse(&format!("{}/{pattern}", root.display())).unwrap();
            let mut out = Vec::new();
            let mut problems = Vec::new();
            glob.expand(&mut out, &mut problems);
            assert!(problems.is_empty());
            let mut names: Vec<String> = out
                .iter()
                .filter(|p| p.exists() && !is_compressed(p))
                .map(|p| p.strip_prefix(root).unwrap().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        };
        assert_eq!(
            expand("*/access.log"),
            vec!["web1/access.log", "web2/access.log"]
        );
        assert_eq!(expand("auth.log*"), vec!["auth.log", "auth.log.1"]);
        assert_eq!(
            expand("web[2]/*.log"),
            vec!["web2/access.log", "web2/error.log"]
        );
        assert_eq!(expand("auth.log"), vec!["auth.log"]);
        assert!(expand("missing/*.log").is_empty());
        // A relative glob lists the working directory.
        let relative = Glob::parse("*.no-such-extension").unwrap();
        assert_eq!(relative.start, PathBuf::new());
    }

    #[test]
    fn config_defaults_and_refusals() {
        let config: TailConfig = toml::from_str("paths = [\"/var/log/auth.log*\"]\n").unwrap();
        assert_eq!(
            config,
            TailConfig::new(vec!["/var/log/auth.log*".to_owned()])
        );
        assert_eq!(config.format, "syslog");
        assert_eq!(config.poll_millis, 250);
        assert_eq!(config.start_at, StartAt::Beginning);
        assert_eq!(config.max_line_bytes, 1 << 20);
        let (format, _, source) = config.checked().unwrap();
        assert_eq!((format, source.as_str()), (Format::Syslog, "syslog"));

        let full: TailConfig = toml::from_str(
            "paths = [\"/var/log/*/access.log\"]\nformat = \"access\"\nsource = \"nginx\"\n\
             poll_millis = 1000\nstart_at = \"end\"\nmax_line_bytes = 4096\n",
        )
        .unwrap();
        assert_eq!(full.start_at, StartAt::End);
        let (format, _, source) = full.checked().unwrap();
        assert_eq!((format, source.as_str()), (Format::AccessLog, "nginx"));

        for (text, wanted) in [
            (
                "paths = [\"/x\"]\nstart_at = \"middle\"\n",
                "unknown variant",
            ),
            ("paths = [\"/x\"]\nglob = \"/y\"\n", "unknown field"),
            ("format = \"json\"\n", "missing field `paths`"),
        ] {
            let error = toml::from_str::<TailConfig>(text).unwrap_err().to_string();
            assert!(error.contains(wanted), "{text:?}: {error}");
        }

        let base = TailConfig::new(vec!["/var/log/syslog".to_owned()]);
        for (config, wanted) in [
            (
                TailConfig {
                    paths: vec![],
                    ..base.clone()
                },
                "at least one",
            ),
            (
                TailConfig {
                    paths: vec!["/var/**/x.log".to_owned()],
                    ..base.clone()
                },
                "`**`",
            ),
            (
                TailConfig {
                    format: "evtx".to_owned(),
                    ..base.clone()
                },
                "not lines",
            ),
            (
                TailConfig {
                    format: "csv".to_owned(),
                    ..base.clone()
                },
                "not one of",
            ),
            (
                TailConfig {
                    source: Some("a b".to_owned()),
                    ..base.clone()
                },
                "source",
            ),
            (
                TailConfig {
                    source: Some("x".repeat(64)),
                    ..base.clone()
                },
                "source",
            ),
            (
                TailConfig {
                    poll_millis: 5,
                    ..base.clone()
                },
                "poll_millis",
            ),
            (
                TailConfig {
                    max_line_bytes: 0,
                    ..base.clone()
                },
                "max_line_bytes",
            ),
        ] {
            let error = config.validate().unwrap_err().to_string();
            assert!(error.contains(wanted), "{error}");
            assert!(error.starts_with("tail input"), "{error}");
        }
    }

    #[test]
    fn sources_name_the_file_and_stay_short_and_plain() {
        let long = format!("/var/log/{}.log", "n".repeat(200));
        for (kind, path, wanted) in [
            (
                "syslog",
                "/var/log/auth.log",
                "tail/syslog/auth.log".to_owned(),
            ),
            (
                "nginx",
                "/var/log/a b+c.log",
                "tail/nginx/a_b_c.log".to_owned(),
            ),
            ("syslog", "/x/été.log", "tail/syslog/_t_.log".to_owned()),
            (
                "t",
                long.as_str(),
                format!("tail/t/{}", "n".repeat(MAX_SOURCE_LEN - 7)),
            ),
        ] {
            let name = source_name(kind, Path::new(path));
            assert_eq!(name, wanted);
            assert!(name.len() <= MAX_SOURCE_LEN);
            assert!(
                name.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._/:-".contains(&b))
            );
        }
        assert_eq!(
            state_file_name(&["/b".to_owned(), "/a".to_owned()]),
            state_file_name(&["/a".to_owned(), "/b".to_owned(), "/a".to_owned()])
        );
    }

    fn tracked(path: &Path) -> Tracked {
        Tracked {
            file: File::open(path).unwrap(),
            path: Some(path.to_owned()),
            source: "tail/syslog/x".to_owned(),
            cursor: Cursor::default(),
            head: None,
            decided: true,
            copy_of: None,
            grow_to: None,
            gone_since: None,
            seen: (0, None),
            failing: false,
        }
    }

    fn texts(batch: &Batch) -> Vec<(u64, String)> {
        batch
            .lines
            .iter()
            .map(|(n, l)| (*n, String::from_utf8(l.clone()).unwrap()))
            .collect()
    }

    #[test]
    fn batches_hold_complete_lines_numbered_in_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("x.log");
        std::fs::write(&path, b"one\r\n\n  \ntwo\nthr").unwrap();
        let mut t = tracked(&path);
        let mut buffer = Vec::new();
        let batch = read_batch(&mut t, (0, 0), &mut buffer, 100, false)
            .unwrap()
            .unwrap();
        assert_eq!(texts(&batch), vec![(1, "one".into()), (4, "two".into())]);
        assert_eq!(
            batch.end,
            Cursor {
                offset: 13,
                line: 4,
                skipping: false
            }
        );
        assert!(!batch.last);
        t.cursor = batch.end;
        // The partial line waits...
        assert!(
            read_batch(&mut t, (0, 0), &mut buffer, 100, false)
                .unwrap()
                .is_none()
        );
        // ...unless the file is done.
        let batch = read_batch(&mut t, (0, 0), &mut buffer, 100, true)
            .unwrap()
            .unwrap();
        assert_eq!(texts(&batch), vec![(5, "thr".into())]);
        assert!(batch.last);
        assert_eq!(batch.end.offset, 16);
    }

    #[test]
    fn long_lines_are_skipped_without_being_held_and_batches_are_bounded() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("x.log");
        let mut data = Vec::new();
        data.extend_from_slice(b"short\n");
        data.extend(std::iter::repeat_n(b'x', 3 * CHUNK));
        data.extend_from_slice(b"\nafter\n");
        data.extend(std::iter::repeat_n(b'y', 50));
        std::fs::write(&path, &data).unwrap();
        let mut t = tracked(&path);
        let mut buffer = Vec::new();
        let batch = read_batch(&mut t, (0, 0), &mut buffer, 40, false)
            .unwrap()
            .unwrap();
        assert_eq!(
            texts(&batch),
            vec![(1, "short".into()), (3, "after".into())]
        );
        // The line of 50 `y` is over the limit: skipped to the end of the
        // file so far, and still skipped when its end comes.
        assert_eq!(batch.skipped, 2);
        assert_eq!(
            batch.end,
            Cursor {
                offset: data.len() as u64,
                line: 3,
                skipping: true
            }
        );
        t.cursor = batch.end;
        let mut more = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        more.write_all(b"yyy\nlast\n").unwrap();
        let batch = read_batch(&mut t, (0, 0), &mut buffer, 40, false)
            .unwrap()
            .unwrap();
        assert_eq!(texts(&batch), vec![(5, "last".into())]);
        assert_eq!(batch.skipped, 0);

        let many: String = (1..=2_500).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&path, many.as_bytes()).unwrap();
        let mut t = tracked(&path);
        let mut numbers = Vec::new();
        while let Some(batch) = read_batch(&mut t, (0, 0), &mut buffer, 40, false).unwrap() {
            assert!(batch.lines.len() <= MAX_BATCH_LINES);
            numbers.extend(batch.lines.iter().map(|(n, _)| *n));
            t.cursor = batch.end;
        }
        assert_eq!(numbers, (1..=2_500).collect::<Vec<u64>>());
    }

    #[test]
    fn start_at_end_starts_after_the_last_complete_line() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("x.log");
        std::fs::write(&path, b"a\nb\npartial").unwrap();
        let mut file = File::open(&path).unwrap();
        assert_eq!(end_cursor(&mut file, 11, 100).unwrap().offset, 4);
        std::fs::write(&path, b"no line feed").unwrap();
        assert_eq!(end_cursor(&mut file, 12, 100).unwrap().offset, 0);
        // Inside a line longer than the limit: skip the rest of it.
        let cursor = end_cursor(&mut file, 12, 4).unwrap();
        assert_eq!((cursor.offset, cursor.skipping), (12, true));
    }

    /// A sink that answers with the refusals queued, then accepts.
    #[derive(Default)]
    struct FakeSink {
        refusals: Mutex<VecDeque<Refusal>>,
        calls: Mutex<Vec<(String, Vec<Line>)>>,
    }

    #[async_trait]
    impl LineSink for FakeSink {
        async fn submit_lines(
            &self,
            source: &str,
            _format: Format,
            lines: Vec<Line>,
        ) -> Result<Receipt, Refusal> {
            let count = lines.len() as u64;
            self.calls.lock().unwrap().push((source.to_owned(), lines));
            match self.refusals.lock().unwrap().pop_front() {
                Some(refusal) => Err(refusal),
                None => Ok(Receipt {
                    accepted: count,
                    ..Receipt::default()
                }),
            }
        }
    }

    fn saved_offsets(path: &Path) -> Vec<u64> {
        let state: StateFile = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        state.files.iter().map(|f| f.offset).collect()
    }

    #[tokio::test]
    async fn a_refused_batch_is_sent_again_and_the_offset_waits_for_the_ack() {
        let tmp = tempfile::tempdir().unwrap();
        let log = tmp.path().join("app.log");
        std::fs::write(&log, b"<13>one\n<13>two\n").unwrap();
        let sink = Arc::new(FakeSink {
            refusals: Mutex::new(VecDeque::from([
                Refusal::Busy {
                    message: "behind".to_owned(),
                    retry_after_secs: 0,
                },
                Refusal::Unavailable {
                    message: "spool full".to_owned(),
                    retry_after_secs: 0,
                },
            ])),
            ..FakeSink::default()
        });
        let mut config = TailConfig::new(vec![log.display().to_string()]);
        config.poll_millis = 10;
        let tail = start(config, &tmp.path().join("state")).unwrap();
        let stats = tail.stats();
        let state = tail.state_file().to_owned();
        let (stop, shutdown) = watch::channel(false);
        let task = tokio::spawn(tail.serve(Arc::clone(&sink) as Arc<dyn LineSink>, shutdown));
        let deadline = Instant::now() + Duration::from_secs(10);
        while stats.snapshot().lines < 2 {
            assert!(Instant::now() < deadline, "{:?}", stats.snapshot());
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        stop.send(true).unwrap();
        task.await.unwrap().unwrap();
        let calls = sink.calls.lock().unwrap().clone();
        assert_eq!(calls.len(), 3);
        assert_eq!(calls[0], calls[1]);
        assert_eq!(calls[1], calls[2]);
        assert_eq!(calls[0].0, "tail/syslog/app.log");
        assert_eq!(
            calls[0].1,
            vec![(1, b"<13>one".to_vec()), (2, b"<13>two".to_vec())]
        );
        assert_eq!(saved_offsets(&state), vec![16]);
        assert_eq!(stats.snapshot().bytes, 16);
        assert_eq!(stats.snapshot().open_files, 0);
        assert_eq!(at_rest::mode_of(&state).unwrap(), Some(0o600));
    }

    #[tokio::test]
    async fn shutdown_while_the_intake_is_busy_leaves_the_offset_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let log = tmp.path().join("app.log");
        std::fs::write(&log, b"<13>one\n").unwrap();
        let busy = || Refusal::Busy {
            message: "behind".to_owned(),
            retry_after_secs: 60,
        };
        let sink = Arc::new(FakeSink {
            refusals: Mutex::new(VecDeque::from([busy(), busy()])),
            ..FakeSink::default()
        });
        let mut config = TailConfig::new(vec![log.display().to_string()]);
        config.poll_millis = 10;
        let tail = start(config, tmp.path()).unwrap();
        let state = tail.state_file().to_owned();
        let (stop, shutdown) = watch::channel(false);
        let task = tokio::spawn(tail.serve(Arc::clone(&sink) as Arc<dyn LineSink>, shutdown));
        let deadline = Instant::now() + Duration::from_secs(10);
        while sink.calls.lock().unwrap().is_empty() {
            assert!(Instant::now() < deadline);
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("stops without waiting out the retry delay")
            .unwrap()
            .unwrap();
        assert_eq!(saved_offsets(&state), vec![0]);
    }
}
