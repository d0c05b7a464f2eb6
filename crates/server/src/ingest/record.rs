//! One spooled line: the bytes a sender sent, with what is needed to read
//! them again the same way after a restart (format, source, receive time).
//!
//! A record is `version: u8 = 1 | format: u8 | received: i64 LE (Unix
//! seconds) | source length: u16 LE | source | line`. The line is stored as
//! sent; it is parsed when the spool is read ([`parse`]), and once before
//! that to decide whether to accept it.

use std::sync::Arc;

use events::{Event, SourceId, taxonomy};
use sources::{Format, LocalClock, TimeZone, YearResolver};
use time::OffsetDateTime;

const VERSION: u8 = 1;
const HEADER: usize = 1 + 1 + 8 + 2;

/// The longest source name.
pub const MAX_SOURCE_LEN: usize = 128;

/// The line formats the live inputs take (EVTX is a file format, not a
/// line format).
pub const LINE_FORMATS: [Format; 4] = [
    Format::Json,
    Format::Syslog,
    Format::AccessLog,
    Format::Auditd,
];

fn code(format: Format) -> u8 {
    match format {
        Format::Json => 1,
        Format::Syslog => 2,
        Format::AccessLog => 3,
        Format::Auditd => 4,
        Format::Evtx => 0,
    }
}

fn from_code(code: u8) -> Option<Format> {
    LINE_FORMATS.into_iter().find(|f| self::code(*f) == code)
}

/// One received line and how to read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record<'a> {
    /// How to read the line.
    pub format: Format,
    /// When it arrived (RFC 3164 syslog lines take their year from it).
    pub received: i64,
    /// The source (`SENDER/TYPE`, e.g. `shipper/auth.log`).
    pub source: &'a str,
    /// The line as sent.
    pub line: &'a [u8],
}

impl Record<'_> {
    /// The record's bytes in the spool.
    pub fn encode(&self) -> Vec<u8> {
        let source = &self.source.as_bytes()[..self.source.len().min(MAX_SOURCE_LEN)];
        let mut out = Vec::with_capacity(HEADER + source.len() + self.line.len());
        out.push(VERSION);
        out.push(code(self.format));
        out.extend_from_slice(&self.received.to_le_bytes());
        out.extend_from_slice(&(source.len() as u16).to_le_bytes());
        out.extend_from_slice(source);
        out.extend_from_slice(self.line);
        out
    }
}

/// Reads a record back from the spool.
pub fn decode(bytes: &[u8]) -> Result<Record<'_>, String> {
    if bytes.len() < HEADER {
        return Err(format!("record of {} bytes is too short", bytes.len()));
    }
    if bytes[0] != VERSION {
        return Err(format!("unknown record version {}", bytes[0]));
    }
    let format = from_code(bytes[1]).ok_or_else(|| format!("unknown format code {}", bytes[1]))?;
    let received = i64::from_le_bytes(bytes[2..10].try_into().expect("8 bytes"));
    let len = usize::from(u16::from_le_bytes([bytes[10], bytes[11]]));
    let rest = &bytes[HEADER..];
    if rest.len() < len {
        return Err("record shorter than its source name".to_owned());
    }
    let source =
        std::str::from_utf8(&rest[..len]).map_err(|_| "source name is not UTF-8".to_owned())?;
    Ok(Record {
        format,
        received,
        source,
        line: &rest[len..],
    })
}

/// Reads one line as events. `record` numbers them (the spool offset, so
/// that every event of the live stream has its own number); `zone` is the
/// time zone of RFC 3164 syslog times. A line that is not a record of its
/// format is an error with the reason, never an event.
pub fn parse(
    record: &Record<'_>,
    source: &SourceId,
    number: u64,
    zone: &TimeZone,
) -> Result<Vec<Event>, String> {
    let mut events = parse_line(record, source, number, zone)?;
    for e in &mut events {
        if let Some(host) = &mut e.meta.host {
            cap(host, MAX_HOST_BYTES);
        }
    }
    Ok(events)
}

/// The longest host name kept (DNS names are at most 253 bytes). A longer
/// one, which only a hostile or broken sender writes, is cut: hosts key
/// detector state and source health, which must not grow with a line's
/// size.
pub const MAX_HOST_BYTES: usize = 255;

/// Cuts `text` to at most `max` bytes, at a character boundary.
fn cap(text: &mut String, max: usize) {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
}

fn parse_line(
    record: &Record<'_>,
    source: &SourceId,
    number: u64,
    zone: &TimeZone,
) -> Result<Vec<Event>, String> {
    if record.line.trim_ascii().is_empty() {
        return Err("empty line".to_owned());
    }
    if record.format != Format::Json && record.line.contains(&0) {
        return Err("binary data, not a log line".to_owned());
    }
    match record.format {
        Format::Json => {
            let events = sources::parse_json_line(record.line, source, number)?;
            if events.is_empty() {
                return Err("no event in this JSON value".to_owned());
            }
            Ok(events)
        }
        Format::Syslog => {
            let text = text(record.line)?;
            let received = OffsetDateTime::from_unix_timestamp(record.received)
                .unwrap_or(OffsetDateTime::UNIX_EPOCH);
            let mut years = YearResolver::new(
                received.year(),
                u32::from(u8::from(received.month())),
                u32::from(received.day()),
            );
            let mut clock = LocalClock::new(zone.clone());
            let event = sources::parse_syslog_line(
                text,
                &mut years,
                &mut clock,
                source,
                number,
                taxonomy::of_syslog_file(record.source),
            );
            if event.meta.timestamp.is_none() {
                return Err("not a syslog line: no RFC 3164 or RFC 5424 header".to_owned());
            }
            Ok(vec![event])
        }
        Format::AccessLog => {
            let event = sources::parse_access_line(text(record.line)?, source, number);
            if event.meta.timestamp.is_none() {
                return Err("not an access log line (common or combined log format)".to_owned());
            }
            Ok(vec![event])
        }
        Format::Auditd => Ok(vec![sources::parse_audit_line(
            text(record.line)?,
            source,
            number,
        )?]),
        Format::Evtx => Err("EVTX is not a line format".to_owned()),
    }
}

fn text(line: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(line)
        .map(|t| t.trim_end_matches(['\r', '\n']))
        .map_err(|e| format!("not UTF-8 text: {e}"))
}

/// Source ids, made once per source name.
#[derive(Debug, Default)]
pub struct SourceIds(std::collections::HashMap<String, SourceId>);

impl SourceIds {
    /// The id of `name`.
    pub fn get(&mut self, name: &str) -> SourceId {
        if let Some(id) = self.0.get(name) {
            return Arc::clone(id);
        }
        if self.0.len() > 100_000 {
            self.0.clear();
        }
        let id: SourceId = Arc::from(name);
        self.0.insert(name.to_owned(), Arc::clone(&id));
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_cut_to_255_bytes_at_a_character_boundary() {
        let zone = TimeZone::UTC;
        let id: SourceId = Arc::from("shipper/app");
        let read = |host: &str| {
            let line = format!(r#"{{"host": "{host}", "message": "x"}}"#);
            let r = Record {
                format: Format::Json,
                received: 1_764_000_000,
                source: "shipper/app",
                line: line.as_bytes(),
            };
            parse(&r, &id, 1, &zone).unwrap()[0]
                .meta
                .host
                .clone()
                .unwrap()
        };
        assert_eq!(read("web01"), "web01");
        assert_eq!(read(&"a".repeat(255)), "a".repeat(255));
        assert_eq!(read(&"b".repeat(100_000)), "b".repeat(255));
        // 'é' is two bytes: 127 of them are 254 bytes, and the 128th would
        // pass 255.
        assert_eq!(read(&"é".repeat(200)), "é".repeat(127));
    }

    #[test]
    fn a_record_reads_back_as_written() {
        let r = Record {
            format: Format::Syslog,
            received: 1_764_000_000,
            source: "shipper/auth.log",
            line: b"<38>Dec  3 10:00:01 bastion sshd[42]: hello",
        };
        let bytes = r.encode();
        assert_eq!(bytes.len(), 12 + 16 + 43);
        assert_eq!(decode(&bytes).unwrap(), r);
        assert!(decode(&bytes[..5]).is_err());
        let mut bad = bytes.clone();
        bad[0] = 9;
        assert_eq!(decode(&bad).unwrap_err(), "unknown record version 9");
        bad[0] = 1;
        bad[1] = 0;
        assert_eq!(decode(&bad).unwrap_err(), "unknown format code 0");
    }

    #[test]
    fn syslog_takes_its_year_from_the_receive_time_and_refuses_non_syslog() {
        // 2025-12-31T23:59:59Z received; a line of Dec 31 is of 2025.
        let r = Record {
            format: Format::Syslog,
            received: 1_767_225_599,
            source: "s/auth.log",
            line: b"Dec 31 23:59:58 bastion sshd[42]: Failed password for root from 192.0.2.7 port 22 ssh2",
        };
        let id: SourceId = Arc::from("s/auth.log");
        let events = parse(&r, &id, 7, &TimeZone::default()).unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(
            events[0].meta.timestamp.unwrap().unix_timestamp(),
            1_767_225_598
        );
        assert_eq!(events[0].meta.record, 7);
        let r = Record {
            line: b"hello world",
            ..r
        };
        assert!(parse(&r, &id, 8, &TimeZone::default()).is_err());
    }

    #[test]
    fn json_lines_must_hold_an_object() {
        let id: SourceId = Arc::from("s/json");
        let r = |line: &'static [u8]| Record {
            format: Format::Json,
            received: 0,
            source: "s/json",
            line,
        };
        assert_eq!(
            parse(&r(br#"{"a":1}"#), &id, 1, &TimeZone::default())
                .unwrap()
                .len(),
            1
        );
        assert!(
            parse(&r(b"{\"a\":"), &id, 1, &TimeZone::default())
                .unwrap_err()
                .starts_with("invalid JSON")
        );
        assert!(parse(&r(b"42"), &id, 1, &TimeZone::default()).is_err());
        assert!(parse(&r(b"  "), &id, 1, &TimeZone::default()).is_err());
    }
}
