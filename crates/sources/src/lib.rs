//! Log sources: reads log files (Windows EVTX, JSON in its shapes, syslog)
//! and turns every record into an [`events::Event`].
//!
//! Parsers never panic on input. Each returns the good records plus located
//! problems, so one bad line or chunk never hides the rest.
//!
//! Must not depend on `rules`, `detect` or anything that matches.

use std::path::{Path, PathBuf};

use events::Event;

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

/// What reading one file gave.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileSummary {
    /// Events produced.
    pub events: u64,
    /// Bytes read from disk.
    pub bytes: u64,
    /// Problems met; the file was read past each one.
    pub problems: Vec<Problem>,
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
pub fn discover(_paths: &[PathBuf], _filter: &PathFilter) -> (Vec<PathBuf>, Vec<Problem>) {
    (Vec::new(), Vec::new())
}

/// Reads one file and passes its events to `sink` in batches.
///
/// `sink` may be called from several threads at once for large files (the
/// file is split into chunks read in parallel); events within one batch are
/// in file order. `format` overrides detection.
pub fn read_file(
    _path: &Path,
    _format: Option<Format>,
    _sink: &(dyn Fn(Vec<Event>) + Sync),
) -> FileSummary {
    FileSummary::default()
}
