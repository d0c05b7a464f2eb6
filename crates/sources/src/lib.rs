//! Log sources: reads log files (Windows EVTX, JSON in its shapes, syslog,
//! web server access logs, Linux audit logs) and turns every record into an
//! [`events::Event`].
//!
//! Parsers never panic on input. Each returns the good records plus located
//! problems, so one bad line or chunk never hides the rest.
//!
//! The pieces:
//! - [`discover`] walks paths into a sorted list of files (module `walk`);
//! - [`read_file`] detects a file's [`Format`] (module `sniff`) and hands it
//!   to the matching reader: `evtx`, `json` (with `classify` for the time
//!   and host of JSON records; their logsource is
//!   `events::taxonomy::of_json`), `syslog`, `access` (Apache
//!   and nginx access logs, `category: webserver`) or `auditd` (Linux audit
//!   records, also when carried in syslog or JSON); text readers share the
//!   bounded line splitter of module `lines`;
//! - [`read_bytes`] does what [`read_file`] does for a file's content held
//!   in memory (the fuzz targets read through it);
//! - [`framing`] splits a syslog-over-TCP byte stream (RFC 6587) into
//!   messages as the bytes arrive, for a live input to parse with
//!   [`parse_syslog_line`]; it does no IO itself.
//!
//! Parsing functions are pure (bytes or values in, events out); only
//! [`read_file`] and [`discover`] touch the file system.
//!
//! Must not depend on `rules`, `detect` or anything that matches.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use events::{Event, SourceId};

mod access;
mod auditd;
mod classify;
mod evtx;
pub mod framing;
mod json;
mod lines;
mod sniff;
mod syslog;
mod walk;
mod zone;

pub use access::parse_access_line;
pub use auditd::{AuditRecord, parse_audit_line, parse_audit_record};
pub use evtx::flatten_evtx;
pub use json::{parse_json_document, parse_json_line};
pub use lines::MAX_LINE_LEN;
pub use syslog::{YearResolver, parse_syslog_line};
pub use zone::{LocalClock, TimeZone, UnknownZone};

/// How readers interpret their input, beyond its format.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// The zone of RFC 3164 syslog timestamps, which carry none (default
    /// UTC).
    pub timezone: TimeZone,
}

/// A log format. `None` where a format is optional means "detect it".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Windows XML Event Log.
    Evtx,
    /// NDJSON, a JSON array, or a CloudTrail `{"Records": [...]}` file;
    /// optionally gzip-compressed.
    Json,
    /// Syslog, RFC 3164 or RFC 5424.
    Syslog,
    /// Web server access log: Apache/nginx common or combined log format,
    /// optionally with a trailing request time.
    AccessLog,
    /// Linux audit log (`/var/log/audit/audit.log`): one raw record per
    /// line, `type=... msg=audit(...): ...`.
    Auditd,
}

impl Format {
    /// Parses a `--format` value: `evtx`, `json` (also `jsonl`, `ndjson`,
    /// `cloudtrail`), `syslog` (also `text`, `log`), `access` (also
    /// `accesslog`, `access_log`, `access-log`, `clf`, `combined`) or
    /// `auditd` (also `audit`), case-insensitively.
    pub fn from_name(name: &str) -> Option<Format> {
        match name.to_ascii_lowercase().as_str() {
            "evtx" => Some(Format::Evtx),
            "json" | "jsonl" | "ndjson" | "cloudtrail" => Some(Format::Json),
            "syslog" | "text" | "log" => Some(Format::Syslog),
            "access" | "accesslog" | "access_log" | "access-log" | "clf" | "combined" => {
                Some(Format::AccessLog)
            }
            "auditd" | "audit" => Some(Format::Auditd),
            _ => None,
        }
    }

    /// The format's name as `--format` accepts it.
    pub fn name(self) -> &'static str {
        match self {
            Format::Evtx => "evtx",
            Format::Json => "json",
            Format::Syslog => "syslog",
            Format::AccessLog => "access",
            Format::Auditd => "auditd",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One problem met while reading: where it was, what kind, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file (or stream) the problem is in.
    pub source: String,
    /// Where in it: `line 12`, `record 4711`, `chunk 3`, `offset 65536`.
    pub location: String,
    /// What kind of problem, for counting.
    pub kind: ProblemKind,
    /// A readable reason.
    pub message: String,
}

impl Problem {
    /// Builds a problem.
    pub fn new(
        source: impl Into<String>,
        location: impl Into<String>,
        kind: ProblemKind,
        message: impl Into<String>,
    ) -> Self {
        Self {
            source: source.into(),
            location: location.into(),
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.location.is_empty() {
            write!(f, "{}: {}: {}", self.source, self.kind, self.message)
        } else {
            write!(
                f,
                "{} ({}): {}: {}",
                self.source, self.location, self.kind, self.message
            )
        }
    }
}

/// Kinds of input problems, counted separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProblemKind {
    /// The file could not be opened or read.
    Unreadable,
    /// A record or line that does not parse.
    Malformed,
    /// A line or record over the size limit.
    Oversized,
    /// Directory walking met a symlink loop.
    Loop,
    /// The format could not be detected.
    UnknownFormat,
}

impl ProblemKind {
    /// A short lower-case name, for tables and JSON.
    pub fn name(self) -> &'static str {
        match self {
            ProblemKind::Unreadable => "unreadable",
            ProblemKind::Malformed => "malformed",
            ProblemKind::Oversized => "oversized",
            ProblemKind::Loop => "loop",
            ProblemKind::UnknownFormat => "unknown format",
        }
    }
}

impl fmt::Display for ProblemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What reading one file gave.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileSummary {
    /// Events produced.
    pub events: u64,
    /// Bytes read from disk.
    pub bytes: u64,
    /// Problems met; the file was read past each one.
    pub problems: Vec<Problem>,
    /// Set when the file was not read because it is text of no known log
    /// format (a README, a licence, a `.gitignore`): why.
    pub not_a_log: Option<String>,
}

/// Which files a directory walk keeps.
#[derive(Debug, Clone, Default)]
pub struct PathFilter {
    /// Glob patterns a file must match (any of); empty keeps all.
    pub include: Vec<String>,
    /// Glob patterns that drop a file.
    pub exclude: Vec<String>,
}

/// Expands files and directories (recursively) into the list of files to
/// read, in a stable order, plus problems met on the way.
///
/// Symlinks are followed; a link back to one of its own ancestors is a
/// [`ProblemKind::Loop`]. Globs match either the path relative to the root
/// given, or the file name. An invalid glob is reported as a problem with
/// location `glob` and ignored.
pub fn discover(paths: &[PathBuf], filter: &PathFilter) -> (Vec<PathBuf>, Vec<Problem>) {
    walk::discover(paths, filter)
}

/// Reads one file and passes its events to `sink` in batches.
///
/// `sink` may be called from several threads at once for large files (the
/// file is split into chunks read in parallel); events within one batch are
/// in file order. `format` overrides detection. A file of text that is no
/// known log format is not read (see [`FileSummary::not_a_log`]).
pub fn read_file(
    path: &Path,
    format: Option<Format>,
    options: &ReadOptions,
    sink: &(dyn Fn(Vec<Event>) + Sync),
) -> FileSummary {
    let name = path.display().to_string();
    match sniff::sniff(path) {
        Ok(sniffed) => read_input(Input::File(path), &name, sniffed, format, options, sink),
        Err(error) => FileSummary {
            problems: vec![Problem::new(
                name,
                "",
                ProblemKind::Unreadable,
                error.to_string(),
            )],
            ..FileSummary::default()
        },
    }
}

/// Reads a whole file's content from memory, exactly as [`read_file`]
/// reads it from disk: the same detection (from the content and `name`,
/// which also names the source and decides a syslog file's logsource), the
/// same readers, the same problems.
///
/// `modified` stands in for the file's modification time, from which
/// syslog's RFC 3164 lines take their year (`None`: now). Used for input
/// that never was a file, and by the fuzz targets.
pub fn read_bytes(
    name: &str,
    data: &[u8],
    format: Option<Format>,
    modified: Option<std::time::SystemTime>,
    options: &ReadOptions,
    sink: &(dyn Fn(Vec<Event>) + Sync),
) -> FileSummary {
    let sniffed = sniff::sniff_bytes(data, name, modified);
    read_input(Input::Memory(data), name, sniffed, format, options, sink)
}

/// Reads sniffed input with the reader of its format.
fn read_input(
    input: Input<'_>,
    name: &str,
    sniffed: sniff::Sniffed,
    format: Option<Format>,
    options: &ReadOptions,
    sink: &(dyn Fn(Vec<Event>) + Sync),
) -> FileSummary {
    let source: SourceId = Arc::from(name);
    let mut summary = FileSummary::default();
    let format = match format.or(sniffed.format) {
        Some(format) => format,
        None if !sniffed.binary => {
            summary.not_a_log = Some(
                "text of no known log format (no line starts like a log record); \
                 --format forces one"
                    .into(),
            );
            summary.bytes = sniffed.len;
            return summary;
        }
        None => {
            summary.problems.push(Problem::new(
                name,
                "offset 0",
                ProblemKind::UnknownFormat,
                "binary content that is not EVTX, JSON or text",
            ));
            summary.bytes = sniffed.len;
            return summary;
        }
    };
    let ctx = ReadCtx {
        input,
        name,
        source,
        gzip: sniffed.gzip,
    };
    match format {
        Format::Evtx => evtx::read(&ctx, sink, &mut summary),
        Format::Json => json::read(&ctx, sink, &mut summary),
        Format::Syslog => syslog::read(&ctx, sniffed.mtime, &options.timezone, sink, &mut summary),
        Format::AccessLog => access::read(&ctx, sink, &mut summary),
        Format::Auditd => auditd::read(&ctx, sink, &mut summary),
    }
    cap_problems(name, &mut summary.problems);
    summary
}

/// How many problems of one file are listed one by one.
pub const MAX_LISTED_PROBLEMS: usize = 1000;

/// Keeps the first [`MAX_LISTED_PROBLEMS`] problems of a file and sums up
/// the rest in one problem per kind (`N more ... not listed`), so a file
/// read with the wrong `--format` does not bury the report.
fn cap_problems(name: &str, problems: &mut Vec<Problem>) {
    if problems.len() <= MAX_LISTED_PROBLEMS {
        return;
    }
    let mut rest: std::collections::BTreeMap<ProblemKind, (usize, String)> = Default::default();
    for problem in problems.drain(MAX_LISTED_PROBLEMS..) {
        let entry = rest.entry(problem.kind).or_insert((0, problem.location));
        entry.0 += 1;
    }
    for (kind, (count, first)) in rest {
        problems.push(Problem::new(
            name,
            format!("from {first}"),
            kind,
            format!("{count} more {kind} problems in this file, not listed"),
        ));
    }
}

/// Where a reader's input is.
#[derive(Clone, Copy)]
pub(crate) enum Input<'a> {
    /// A file on disk.
    File(&'a Path),
    /// A file's whole content, in memory.
    Memory(&'a [u8]),
}

/// What every reader needs to know about the file it reads.
pub(crate) struct ReadCtx<'a> {
    /// The file or its content.
    pub input: Input<'a>,
    /// Its display name, for problems.
    pub name: &'a str,
    /// Its name as events carry it.
    pub source: SourceId,
    /// Whether it is gzip-compressed.
    pub gzip: bool,
}

impl<'a> ReadCtx<'a> {
    /// A problem in this file.
    pub(crate) fn problem(
        &self,
        location: impl Into<String>,
        kind: ProblemKind,
        message: impl Into<String>,
    ) -> Problem {
        Problem::new(self.name, location, kind, message)
    }

    /// Opens the input, decompressing it when it is gzip; also returns the
    /// size as stored (on disk, or in memory).
    pub(crate) fn open(&self) -> std::io::Result<(Box<dyn std::io::Read + Send + 'a>, u64)> {
        match self.input {
            Input::File(path) => {
                let file = std::fs::File::open(path)?;
                let len = file.metadata()?.len();
                if self.gzip {
                    let buffered = std::io::BufReader::new(file);
                    Ok((Box::new(flate2::read::MultiGzDecoder::new(buffered)), len))
                } else {
                    Ok((Box::new(file), len))
                }
            }
            Input::Memory(data) => {
                let len = data.len() as u64;
                if self.gzip {
                    Ok((Box::new(flate2::read::MultiGzDecoder::new(data)), len))
                } else {
                    Ok((Box::new(data), len))
                }
            }
        }
    }
}

/// Helpers the unit tests of several modules share.
#[cfg(test)]
mod test_util {
    use events::{Map, Value};

    /// The object of a `json!` literal.
    pub(crate) fn obj(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(m) => m,
            other => panic!("not an object: {other}"),
        }
    }
}
