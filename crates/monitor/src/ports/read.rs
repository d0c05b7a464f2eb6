//! Reading snapshot files: format detection and file IO.
//!
//! The format is recognised from the content, not the file name:
//! - starts with `<`: nmap XML;
//! - starts with `[` or `{`: osquery results or logs;
//! - first row starts with `State`/`Netid`, or with `LISTEN`/`UNCONN` (`ss -H`),
//!   or with `tcp`/`udp` followed by a state: `ss`;
//! - first row starts with `Active Internet connections`, `Proto`, or with
//!   `tcp`/`tcp6`/`udp`/`udp6` followed by numbers: `netstat`.
//!
//! `ss`, `netstat` and plain osquery results do not name their host. The
//! host is the one given in [`ReadOptions::host`], or else the file name up
//! to its first dot (`web01.ss.txt` is host `web01`).

use std::path::Path;
use std::sync::Arc;

use events::SourceId;

use super::nmap::NmapError;
use super::osquery::OsqueryError;
use super::{Parsed, Problem, Snapshot, netstat, nmap, osquery, ss};

/// A snapshot file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// nmap XML (`-oX`).
    Nmap,
    /// `ss -ltnp` / `ss -lunp`.
    Ss,
    /// `netstat -ltnp` / `netstat -lunp`.
    Netstat,
    /// osquery `listening_ports` results or logs.
    Osquery,
}

/// Options for reading snapshot files.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// The host of `ss`, `netstat` and plain osquery snapshots. `None`: the
    /// file name up to its first dot.
    pub host: Option<String>,
}

/// Recognises the format of a snapshot from its content.
pub fn detect_format(data: &[u8]) -> Option<Format> {
    let text = String::from_utf8_lossy(&data[..data.len().min(4096)]);
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    match trimmed.chars().next()? {
        '<' => return Some(Format::Nmap),
        '[' | '{' => return Some(Format::Osquery),
        _ => {}
    }
    let first = trimmed.lines().next()?;
    let tokens: Vec<&str> = first.split_whitespace().collect();
    match tokens.as_slice() {
        ["State" | "Netid", ..] | ["LISTEN" | "UNCONN", ..] => Some(Format::Ss),
        ["tcp" | "udp" | "sctp", "LISTEN" | "UNCONN" | "ESTAB", ..] => Some(Format::Ss),
        ["Active", "Internet", ..] | ["Proto", ..] => Some(Format::Netstat),
        ["tcp" | "tcp6" | "udp" | "udp6", ..] => Some(Format::Netstat),
        _ => None,
    }
}

/// Why a snapshot file is unusable as a whole.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// Nothing but white space.
    #[error("empty file")]
    Empty,
    /// No format recognised from the content.
    #[error("unrecognised format (expected nmap XML, ss, netstat or osquery JSON)")]
    Unrecognised,
    /// An unusable nmap file.
    #[error(transparent)]
    Nmap(#[from] NmapError),
    /// An unusable osquery file.
    #[error(transparent)]
    Osquery(#[from] OsqueryError),
}

/// Parses one snapshot from memory. `name` is the file name used for the
/// source id and the default host.
pub fn parse_bytes(
    data: &[u8],
    name: &str,
    options: &ReadOptions,
) -> Result<Parsed, SnapshotError> {
    let file: SourceId = Arc::from(name);
    let host = options
        .host
        .clone()
        .unwrap_or_else(|| host_from_file_name(name));
    match detect_format(data) {
        Some(Format::Nmap) => Ok(nmap::parse(data, &file)?),
        Some(Format::Osquery) => Ok(osquery::parse(
            &String::from_utf8_lossy(data),
            &host,
            &file,
        )?),
        Some(Format::Ss) => Ok(ss::parse(&String::from_utf8_lossy(data), &host, &file)),
        Some(Format::Netstat) => Ok(netstat::parse(&String::from_utf8_lossy(data), &host, &file)),
        None if data.iter().all(u8::is_ascii_whitespace) => Err(SnapshotError::Empty),
        None => Err(SnapshotError::Unrecognised),
    }
}

/// The default host of a snapshot file: its name up to the first dot.
pub fn host_from_file_name(name: &str) -> String {
    let base = Path::new(name)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| name.to_string());
    base.split('.').next().unwrap_or(&base).to_string()
}

/// Reads snapshot files into one [`Snapshot`]. A file that cannot be read
/// or parsed is reported and skipped; the others are still used.
pub fn read_files<P: AsRef<Path>>(paths: &[P], options: &ReadOptions) -> (Snapshot, Vec<Problem>) {
    let mut snapshot = Snapshot::default();
    let mut problems = Vec::new();
    for path in paths {
        let path = path.as_ref();
        let name = path.display().to_string();
        match std::fs::read(path) {
            Ok(data) => {
                add_bytes(&data, &name, options, &mut snapshot, &mut problems);
            }
            Err(error) => problems.push(Problem {
                file: name,
                line: None,
                reason: format!("cannot read: {error}"),
                skipped_file: true,
            }),
        }
    }
    (snapshot, problems)
}

/// Parses one snapshot file's content (see [`parse_bytes`]) into
/// `snapshot`, adding its problems to `problems`. Returns false when the
/// whole file was skipped (its problem says why).
pub fn add_bytes(
    data: &[u8],
    name: &str,
    options: &ReadOptions,
    snapshot: &mut Snapshot,
    problems: &mut Vec<Problem>,
) -> bool {
    match parse_bytes(data, name, options) {
        Ok(parsed) => {
            for (line, reason) in parsed.problems {
                problems.push(Problem {
                    file: name.to_owned(),
                    line,
                    reason,
                    skipped_file: false,
                });
            }
            for observation in parsed.observations {
                snapshot.insert(observation);
            }
            true
        }
        Err(error) => {
            problems.push(Problem {
                file: name.to_owned(),
                line: None,
                reason: crate::describe(&error),
                skipped_file: true,
            });
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_recognised_from_content() {
        let cases: [(&str, Option<Format>); 9] = [
            ("<?xml version=\"1.0\"?><nmaprun/>", Some(Format::Nmap)),
            ("[]", Some(Format::Osquery)),
            ("{\"columns\":{}}", Some(Format::Osquery)),
            ("State Recv-Q Send-Q Local Address:Port", Some(Format::Ss)),
            ("LISTEN 0 128 0.0.0.0:22 0.0.0.0:*", Some(Format::Ss)),
            ("tcp LISTEN 0 128 0.0.0.0:22 0.0.0.0:*", Some(Format::Ss)),
            (
                "Active Internet connections (only servers)",
                Some(Format::Netstat),
            ),
            ("tcp 0 0 0.0.0.0:22 0.0.0.0:* LISTEN", Some(Format::Netstat)),
            ("hello world", None),
        ];
        for (text, expected) in cases {
            assert_eq!(detect_format(text.as_bytes()), expected, "{text}");
        }
    }

    #[test]
    fn host_defaults_to_the_file_name() {
        assert_eq!(host_from_file_name("/tmp/web01.ss.txt"), "web01");
        assert_eq!(host_from_file_name("db"), "db");
    }
}
