//! Format detection: looks at a file's first bytes (and its name) to pick a
//! [`Format`].
//!
//! Order of evidence: the EVTX magic `ElfFile\0`; gzip magic (then the
//! decompressed start is sniffed again); binary content (NUL bytes or many
//! control characters) is no format at all; text starting with `{` or `[`
//! is JSON; the extensions `.evtx`, `.json`, `.jsonl`, `.ndjson` decide
//! for empty files; text whose first non-empty lines are mostly raw Linux
//! audit records is an audit log, mostly web server access-log lines (see
//! [`ACCESS_SAMPLE_LINES`]) an access log; anything else that is text is
//! syslog.
//!
//! Must not read more than the first few KiB of a file.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use crate::Format;
use crate::lines::is_binary;

/// How much of the start of a file is looked at.
const SAMPLE: usize = 8 * 1024;

/// How many of the first non-empty lines decide whether text is an access
/// log (or an audit log): more than half of them must parse as such lines.
pub(crate) const ACCESS_SAMPLE_LINES: usize = 5;

/// What sniffing found out about a file.
pub(crate) struct Sniffed {
    /// The detected format; `None` for content of no known format.
    pub format: Option<Format>,
    /// Whether the content is binary (rather than text). Worked out only
    /// when no format was detected (it tells a skipped text file from a
    /// refused binary one); `false` otherwise.
    pub binary: bool,
    /// Whether the file is gzip-compressed.
    pub gzip: bool,
    /// The on-disk size.
    pub len: u64,
    /// The modification time, for syslog's missing year.
    pub mtime: Option<std::time::SystemTime>,
}

/// Opens `path` and detects its format.
pub(crate) fn sniff(path: &Path) -> io::Result<Sniffed> {
    // Checked before opening: opening a FIFO would wait for a writer.
    let meta = std::fs::metadata(path)?;
    if meta.is_dir() {
        return Err(io::Error::other("is a directory"));
    }
    if !meta.is_file() {
        return Err(io::Error::other("not a regular file"));
    }
    let file = File::open(path)?;
    let mut head = Vec::with_capacity(SAMPLE);
    file.take(SAMPLE as u64).read_to_end(&mut head)?;
    let gzip = is_gzip(&head);
    let inner = if gzip {
        gunzip_head(File::open(path)?)
    } else {
        head
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    Ok(sniffed(
        &inner,
        &name,
        gzip,
        meta.len(),
        meta.modified().ok(),
    ))
}

/// Detects the format of a file's content held in memory, as [`sniff`]
/// does for a file on disk. `name` is the file's name or path; `mtime`
/// is passed through.
pub(crate) fn sniff_bytes(
    data: &[u8],
    name: &str,
    mtime: Option<std::time::SystemTime>,
) -> Sniffed {
    let head = &data[..data.len().min(SAMPLE)];
    let gzip = is_gzip(head);
    let inner = if gzip {
        gunzip_head(data)
    } else {
        head.to_vec()
    };
    let file_name = name.rsplit(['/', '\\']).next().unwrap_or(name);
    sniffed(&inner, file_name, gzip, data.len() as u64, mtime)
}

/// What [`sniff`] and [`sniff_bytes`] found, from the (decompressed) first
/// bytes and the file name. The binary test runs only when no format was
/// detected: that is the only case that reads it.
fn sniffed(
    inner: &[u8],
    file_name: &str,
    gzip: bool,
    len: u64,
    mtime: Option<std::time::SystemTime>,
) -> Sniffed {
    let format = detect(inner, &detection_name(file_name));
    Sniffed {
        format,
        binary: format.is_none() && is_binary(inner),
        gzip,
        len,
        mtime,
    }
}

/// True when the bytes start with the gzip magic.
fn is_gzip(head: &[u8]) -> bool {
    head.starts_with(&[0x1f, 0x8b])
}

/// The first [`SAMPLE`] decompressed bytes of a gzip stream; a damaged
/// stream still yields what it could decode.
fn gunzip_head(compressed: impl Read) -> Vec<u8> {
    let mut out = Vec::with_capacity(SAMPLE);
    let _ = flate2::read::MultiGzDecoder::new(compressed)
        .take(SAMPLE as u64)
        .read_to_end(&mut out);
    out
}

/// The file name as [`detect`] takes it: lower case, without `.gz`.
fn detection_name(file_name: &str) -> String {
    let name = file_name.to_ascii_lowercase();
    match name.strip_suffix(".gz") {
        Some(stem) => stem.to_owned(),
        None => name,
    }
}

/// Picks a format from the (decompressed) first bytes and the file name
/// (lower case, without `.gz`).
pub(crate) fn detect(head: &[u8], name: &str) -> Option<Format> {
    if head.starts_with(b"ElfFile\0") {
        return Some(Format::Evtx);
    }
    if is_binary(head) {
        return None;
    }
    let first = head.iter().find(|b| !b.is_ascii_whitespace());
    // A UTF-8 byte-order mark before the JSON.
    let first = if head.starts_with(&[0xef, 0xbb, 0xbf]) {
        head[3..].iter().find(|b| !b.is_ascii_whitespace())
    } else {
        first
    };
    match first {
        Some(b'{') | Some(b'[') => return Some(Format::Json),
        Some(_) => {}
        None if name.ends_with(".evtx") => return Some(Format::Evtx),
        None => {}
    }
    if [".json", ".jsonl", ".ndjson"]
        .iter()
        .any(|ext| name.ends_with(ext))
    {
        return Some(Format::Json);
    }
    if mostly_lines_of(head, crate::auditd::is_audit_line) {
        return Some(Format::Auditd);
    }
    if mostly_lines_of(head, crate::access::is_access_line) {
        return Some(Format::AccessLog);
    }
    looks_like_log_text(head).then_some(Format::Syslog)
}

/// How many of the first non-empty lines decide whether text is a log.
pub(crate) const LOG_SAMPLE_LINES: usize = 20;

/// True when text is a log: it is empty, or at least one in four of its
/// first [`LOG_SAMPLE_LINES`] non-empty lines starts like a log record (a
/// syslog priority, an RFC 3164 date, an ISO 8601 date, or an
/// auditd `type=`/`node=` header). READMEs, licences and
/// `.gitignore` files are not logs.
fn looks_like_log_text(head: &[u8]) -> bool {
    let head = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
    let mut lines: Vec<&[u8]> = head.split(|b| *b == b'\n').collect();
    if lines.len() > 1 && !head.ends_with(b"\n") {
        lines.pop();
    }
    let sample: Vec<&[u8]> = lines
        .into_iter()
        .map(<[u8]>::trim_ascii)
        .filter(|l| !l.is_empty())
        .take(LOG_SAMPLE_LINES)
        .collect();
    if sample.is_empty() {
        return true;
    }
    let hits = sample.iter().filter(|l| starts_like_a_record(l)).count();
    hits > 0 && hits * 4 >= sample.len()
}

/// True when a line starts like a log record (see [`looks_like_log_text`]):
/// a syslog priority (`<13>`), a time of day (`HH:MM:SS`)
/// within its first 40 bytes (RFC 3164 and ISO 8601 dates, `MM/DD`
/// netlogon-style dates, bracketed stamps), or an auditd header.
fn starts_like_a_record(line: &[u8]) -> bool {
    if line.first() == Some(&b'<') {
        let digits = line[1..].iter().take_while(|b| b.is_ascii_digit()).count();
        if (1..=3).contains(&digits) && line.get(1 + digits) == Some(&b'>') {
            return true;
        }
    }
    let start = &line[..line.len().min(40)];
    // `HH:MM:SS` (a one-digit hour is matched from its last digit).
    let time_of_day = start.windows(8).any(|w| {
        let d = |j: usize| w[j].is_ascii_digit();
        d(0) && d(1) && w[2] == b':' && d(3) && d(4) && w[5] == b':' && d(6) && d(7)
    });
    if time_of_day {
        return true;
    }
    (line.starts_with(b"type=") || line.starts_with(b"node="))
        && memchr::memmem::find(line, b"msg=audit(").is_some()
}

/// True when more than half of the first [`ACCESS_SAMPLE_LINES`] non-empty
/// lines of the sample pass `is_line`. A last line without its newline is
/// left out when others come before it (it may be cut short by the sample
/// size).
fn mostly_lines_of(head: &[u8], is_line: fn(&str) -> bool) -> bool {
    let mut lines: Vec<&[u8]> = head.split(|b| *b == b'\n').collect();
    if lines.len() > 1 && !head.ends_with(b"\n") {
        lines.pop();
    }
    let sample: Vec<&[u8]> = lines
        .into_iter()
        .filter(|l| !l.trim_ascii().is_empty())
        .take(ACCESS_SAMPLE_LINES)
        .collect();
    let hits = sample
        .iter()
        .filter(|l| is_line(&String::from_utf8_lossy(l)))
        .count();
    hits * 2 > sample.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_by_magic_content_and_name() {
        let cases: &[(&[u8], &str, Option<Format>)] = &[
            (b"ElfFile\0rest", "x.log", Some(Format::Evtx)),
            (b"  {\"a\":1}\n", "x.log", Some(Format::Json)),
            (b"[1,2]", "x", Some(Format::Json)),
            (b"\xef\xbb\xbf{\"a\":1}", "x", Some(Format::Json)),
            (
                b"Jan  1 00:00:00 host sshd[1]: hi\n",
                "auth.log",
                Some(Format::Syslog),
            ),
            (b"", "empty.jsonl", Some(Format::Json)),
            (b"", "empty.evtx", Some(Format::Evtx)),
            (b"\x00\x01\x02garbage", "x.log", None),
            // Text that is not a log.
            (b"# EVTX-ATTACK-SAMPLES\n\nSamples of attacks.\n", "README.md", None),
            (b"*.swp\n.DS_Store\n", ".gitignore", None),
            (b"GNU GENERAL PUBLIC LICENSE\nVersion 3, 29 June 2007\n", "LICENSE.md", None),
            (b"", "auth.log", Some(Format::Syslog)),
            (b"<34>1 2024-01-01T00:00:00Z host app - - - hi\n", "x", Some(Format::Syslog)),
            (b"2024-01-31 10:00:00,123 INFO started\n", "app.log", Some(Format::Syslog)),
            (b"08/11 12:59:48 [LOGON] SamLogon: ok\n", "netlogon.log", Some(Format::Syslog)),
            (b"Meeting notes\nWe met at 10:00 and again at noon.\n", "notes.txt", None),
            (
                b"type=EXECVE msg=audit(1700000000.123:456): argc=1 a0=\"ls\"\n",
                "audit.log",
                Some(Format::Auditd),
            ),
            (
                b"Jan  1 00:00:00 host app: a stray \x00 in a long enough line\n",
                "x.log",
                Some(Format::Syslog),
            ),
            (b"\x01\x02\x03\x04\x05\x06\x07\x08abc", "x.json", None),
            (
                b"1.2.3.4 - - [02/Nov/2026:08:00:00 +0000] \"GET / HTTP/1.1\" 200 1\n",
                "access.log",
                Some(Format::AccessLog),
            ),
            (
                b"\"1.2.3.4 - - [02/Nov/2026:08:00:00 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"ua\"\"\r\n",
                "x",
                Some(Format::AccessLog),
            ),
            (
                b"Jan  1 00:00:00 host app: hi\n1.2.3.4 - - [02/Nov/2026:08:00:00 +0000] \"GET / HTTP/1.1\" 200 1\n",
                "x",
                Some(Format::Syslog),
            ),
            (
                b"1.2.3.4 - - [02/Nov/2026:08:00:00 +0000] \"GET / HTTP/1.1\" 200 1\n1.2.3.4 - - [02/Nov/20",
                "x",
                Some(Format::AccessLog),
            ),
            (
                b"type=EXECVE msg=audit(1700000000.123:456): argc=1 a0=\"id\"\nnode=h type=PROCTITLE msg=audit(1700000000.123:456): proctitle=6964\n",
                "audit.log",
                Some(Format::Auditd),
            ),
            (
                b"----\ntime->Tue Nov 14 22:13:20 2023\ntype=CWD msg=audit(1700000000.123:456): cwd=\"/\"\ntype=SYSCALL msg=audit(1700000000.123:456): arch=c000003e syscall=59\ntype=EXECVE msg=audit(1700000000.123:456): argc=1 a0=\"id\"\n",
                "x",
                Some(Format::Auditd),
            ),
            (
                b"Nov 14 22:13:20 h audispd: type=EXECVE msg=audit(1700000000.123:456): argc=1 a0=\"id\"\n",
                "x",
                Some(Format::Syslog),
            ),
        ];
        for (head, name, want) in cases {
            assert_eq!(detect(head, name), *want, "{name}: {head:?}");
        }
    }
}
