//! JSON logs: NDJSON, JSON arrays, CloudTrail `{"Records": [...]}` files,
//! streams of concatenated (pretty-printed) objects, each optionally gzip.
//!
//! NDJSON is split into blocks of whole lines (module `lines`) that are
//! parsed in parallel; `meta.record` is the 1-based line number. A line that
//! is not JSON is a [`ProblemKind::Malformed`] problem at `line N`, a line
//! over [`crate::MAX_LINE_LEN`] is [`ProblemKind::Oversized`], and the
//! other lines still come through. A line holding a CloudTrail
//! `{"Records": [...]}` object gives one event per record, all with that
//! line's number.
//!
//! A file whose first line is not a whole JSON value (it starts with `[`,
//! or its first line opens an object that goes on) is read as a document
//! stream instead, one record at a time without holding the document: each
//! object is a record, an array gives one record per element, and
//! `{"Records": [...]}` one per record; `meta.record` counts records from 1
//! across the file. A syntax error stops such a file (there
//! is no line to resync on) and is reported with its line and column.
//!
//! Records keep their nesting. Windows events exported to JSON are
//! flattened like EVTX ones; syslog messages in a log shipper's JSON layout
//! (syslog-ng, journald, the OpenTelemetry Collector, Vector, Fluent Bit)
//! become the event the syslog reader makes of the line (module `syslog`);
//! other records get their logsource, time and host from module
//! `classify`, and a Linux audit record in an OMS/auoms `SyslogMessage` is
//! split into fields (module `auditd`).
//!
//! Must not depend on matching.

use std::io::{BufRead, BufReader, Read};
use std::sync::Arc;

use events::{Event, Map, Meta, SourceId, Value, taxonomy};

use crate::lines;
use crate::{FileSummary, ProblemKind, ReadCtx, classify, evtx};

mod document;
mod envelope;
mod shipper;
mod syslog;

/// How many events the document reader hands over at once.
const BATCH: usize = 1024;

/// Reads a JSON file of any supported shape.
pub(crate) fn read(
    ctx: &ReadCtx<'_>,
    sink: &(dyn Fn(Vec<Event>) + Sync),
    summary: &mut FileSummary,
) {
    let (reader, len) = match ctx.open() {
        Ok(opened) => opened,
        Err(error) => {
            summary
                .problems
                .push(ctx.problem("", ProblemKind::Unreadable, error.to_string()));
            return;
        }
    };
    summary.bytes = len;
    let mut reader = BufReader::with_capacity(64 * 1024, reader);
    // A UTF-8 byte-order mark is not JSON: skip it.
    if reader
        .fill_buf()
        .is_ok_and(|head| head.starts_with(&[0xef, 0xbb, 0xbf]))
    {
        reader.consume(3);
    }
    let document = match looks_like_document(&mut reader) {
        Ok(document) => document,
        Err(error) => {
            summary.problems.push(ctx.problem(
                "line 1",
                ProblemKind::Unreadable,
                error.to_string(),
            ));
            return;
        }
    };
    if document {
        read_document(ctx, reader, sink, summary);
    } else {
        read_ndjson(ctx, reader, sink, summary);
    }
}

/// Peeks at the start of the stream: true when it is a JSON document (an
/// array, or an object spread over several lines) rather than NDJSON.
fn looks_like_document<R: Read>(reader: &mut BufReader<R>) -> std::io::Result<bool> {
    let head = reader.fill_buf()?;
    let head = head.strip_prefix(&[0xef, 0xbb, 0xbf][..]).unwrap_or(head);
    let Some(start) = head.iter().position(|b| !b.is_ascii_whitespace()) else {
        return Ok(false);
    };
    let head = &head[start..];
    if head.first() == Some(&b'[') {
        return Ok(true);
    }
    let first_line = match memchr::memchr(b'\n', head) {
        Some(end) => &head[..end],
        // The whole buffer is one line: NDJSON (maybe a long one).
        None => return Ok(false),
    };
    let trimmed = first_line.trim_ascii_end();
    Ok(trimmed == b"{"
        || trimmed.ends_with(b"{")
        || trimmed.ends_with(b",")
        || trimmed.ends_with(b"["))
}

/// Reads NDJSON, blocks of lines in parallel.
fn read_ndjson<R: Read + Send>(
    ctx: &ReadCtx<'_>,
    reader: R,
    sink: &(dyn Fn(Vec<Event>) + Sync),
    summary: &mut FileSummary,
) {
    lines::read_parallel(ctx, reader, sink, summary, |number, line, batch| {
        let mut found = parse_json_line(line, &ctx.source, number)
            .map_err(|message| (ProblemKind::Malformed, message))?;
        batch.append(&mut found);
        Ok(())
    });
}

/// Reads a document stream: arrays, objects, `{"Records": [...]}`, one
/// record at a time (see module `document`).
fn read_document<R: Read>(
    ctx: &ReadCtx<'_>,
    reader: R,
    sink: &(dyn Fn(Vec<Event>) + Sync),
    summary: &mut FileSummary,
) {
    let mut record = 0u64;
    let mut events = 0u64;
    let mut batch = Vec::with_capacity(BATCH);
    let result = document::stream_records(reader, &mut |value| {
        record += 1;
        if let Some(event) = record_event(value, &ctx.source, record) {
            batch.push(event);
            if batch.len() >= BATCH {
                events += batch.len() as u64;
                sink(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)));
            }
        }
    });
    if !batch.is_empty() {
        events += batch.len() as u64;
        sink(batch);
    }
    summary.events += events;
    if let Err(error) = result {
        let kind = if error.is_io() {
            ProblemKind::Unreadable
        } else {
            ProblemKind::Malformed
        };
        summary.problems.push(ctx.problem(
            format!("line {} column {}", error.line(), error.column()),
            kind,
            format!("{error}; the rest of the file is skipped"),
        ));
    }
}

/// Parses one NDJSON line into its events (one, or one per CloudTrail
/// record), all numbered `line`.
pub fn parse_json_line(
    line: &[u8],
    source: &SourceId,
    line_number: u64,
) -> Result<Vec<Event>, String> {
    let value: Value = serde_json::from_slice(line).map_err(|e| format!("invalid JSON: {e}"))?;
    let events = match value {
        Value::Object(map) => match records(map) {
            Ok(items) => items
                .into_iter()
                .filter_map(|item| record_event(item, source, line_number))
                .collect(),
            Err(map) => vec![object_event(map, source, line_number)],
        },
        Value::Array(items) => items
            .into_iter()
            .filter_map(|item| record_event(item, source, line_number))
            .collect(),
        _ => return Err("a JSON line must hold an object or an array".to_owned()),
    };
    Ok(events)
}

/// Turns one top-level JSON value of a document into events numbered from
/// `first_record`: an array gives one per element, `{"Records": [...]}`
/// one per record, any other object one. Scalars give none.
pub fn parse_json_document(value: Value, source: &SourceId, first_record: u64) -> Vec<Event> {
    let items = match value {
        Value::Array(items) => items,
        Value::Object(map) => match records(map) {
            Ok(items) => items,
            Err(map) => vec![Value::Object(map)],
        },
        _ => Vec::new(),
    };
    items
        .into_iter()
        .zip(first_record..)
        .filter_map(|(item, number)| record_event(item, source, number))
        .collect()
}

/// The records of a CloudTrail file or a delivery envelope
/// ([`envelope`]), or the object back when it is not one.
fn records(map: Map<String, Value>) -> Result<Vec<Value>, Map<String, Value>> {
    envelope::records(map)
}

/// One record's event; non-objects are skipped.
fn record_event(value: Value, source: &SourceId, number: u64) -> Option<Event> {
    match value {
        Value::Object(map) => Some(object_event(map, source, number)),
        _ => None,
    }
}

/// Builds the event of one JSON object.
fn object_event(map: Map<String, Value>, source: &SourceId, number: u64) -> Event {
    if matches!(map.get("Event"), Some(Value::Object(e)) if e.contains_key("System")) {
        // Checked just above that it has the Windows shape, so this is Some.
        return match evtx::flatten_evtx(Value::Object(map), Arc::clone(source), number) {
            Some(mut event) => {
                event.meta.record = number;
                event
            }
            None => plain_event(Map::new(), source, number),
        };
    }
    match shipper::windows_fields(map) {
        Ok(fields) => {
            let mut event = evtx::windows_event(fields, Arc::clone(source), number);
            event.meta.record = number;
            event
        }
        Err(map) => match syslog::syslog_event(map, source, number) {
            Ok(event) => event,
            Err(map) => plain_event(map, source, number),
        },
    }
}

/// A JSON record as is, classified; an audit record in `SyslogMessage`
/// adds its fields (module `auditd`).
fn plain_event(mut map: Map<String, Value>, source: &SourceId, number: u64) -> Event {
    let mut meta = Meta::new(Arc::clone(source), number);
    meta.logsource = taxonomy::of_json(&map);
    meta.timestamp = classify::timestamp(&map);
    meta.host = classify::host(&map);
    if meta.logsource == taxonomy::AUDITD {
        crate::auditd::lift_from_json(&mut map, &mut meta);
    }
    Event::new(meta, map)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn src() -> SourceId {
        Arc::from("t.json")
    }

    #[test]
    fn a_line_gives_its_event_with_the_line_number() {
        let events = parse_json_line(
            br#"{"eventSource":"iam.amazonaws.com","eventName":"CreateUser","eventTime":"2024-01-01T00:00:00Z","userIdentity":{"type":"Root"}}"#,
            &src(),
            7,
        )
        .expect("valid");
        assert_eq!(events.len(), 1);
        let e = &events[0];
        assert_eq!(e.meta.record, 7);
        assert_eq!(e.meta.logsource.service, Some("cloudtrail"));
        assert_eq!(e.get_str("userIdentity.type"), Some("Root"));
        assert!(e.meta.timestamp.is_some());
        assert!(e.meta.host.is_none());
    }

    #[test]
    fn records_objects_and_arrays_expand() {
        let line = br#"{"Records":[{"eventSource":"s","eventName":"a"},{"eventSource":"s","eventName":"b"}]}"#;
        let events = parse_json_line(line, &src(), 3).expect("valid");
        assert_eq!(events.len(), 2);
        assert!(events.iter().all(|e| e.meta.record == 3));

        let doc = json!([{"a": 1}, {"a": 2}, 5, {"a": 3}]);
        let events = parse_json_document(doc, &src(), 1);
        let numbers: Vec<u64> = events.iter().map(|e| e.meta.record).collect();
        assert_eq!(
            numbers,
            [1, 2, 4],
            "scalars are skipped but keep their place"
        );
    }

    #[test]
    fn bad_lines_are_errors_not_panics() {
        for line in [&b"{\"a\":"[..], b"not json", b"42", b"\xff\xfe"] {
            assert!(parse_json_line(line, &src(), 1).is_err(), "{line:?}");
        }
    }

    #[test]
    fn windows_exports_are_flattened_like_evtx() {
        let line = br##"{"Event":{"System":{"EventID":"1116","Channel":"Microsoft-Windows-Windows Defender/Operational","Computer":"PC","EventRecordID":"171","TimeCreated":{"#attributes":{"SystemTime":"2020-12-11T12:28:01.2990045Z"}}},"EventData":{"Source Name":"Real-Time Protection"}}}"##;
        let events = parse_json_line(line, &src(), 5).expect("valid");
        let e = &events[0];
        assert_eq!(e.fields["EventID"], json!(1116));
        assert_eq!(e.fields["SourceName"], json!("Real-Time Protection"));
        assert_eq!(e.meta.logsource.product, Some("windows"));
        assert_eq!(e.meta.host.as_deref(), Some("PC"));
        assert_eq!(e.meta.record, 5, "the line number, as for any NDJSON");
        assert!(e.meta.timestamp.is_some());
    }

    #[test]
    fn detects_documents_by_their_first_line() {
        let cases: &[(&[u8], bool)] = &[
            (b"[\n {\"a\":1}\n]", true),
            (b"{\n  \"a\": 1\n}\n", true),
            (b"{\"a\":1}\n{\"a\":2}\n", false),
            (b"{\"a\":1}", false),
            (b"", false),
        ];
        for (input, want) in cases {
            let mut reader = BufReader::new(*input);
            assert_eq!(
                looks_like_document(&mut reader).unwrap(),
                *want,
                "{input:?}"
            );
        }
    }
}
