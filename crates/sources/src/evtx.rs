//! Windows EVTX files, and the flattening that makes Windows events (from
//! EVTX or from JSON exports of it) look the way SigmaHQ rules address them.
//!
//! Reading: the file's 64 KiB chunks are walked in record order (module
//! `chunks`, which passes over empty chunks cheaply) and parsed in parallel
//! on the rayon pool; each chunk's records are rendered by the `evtx` crate,
//! flattened, and handed to the sink as one batch (in record order within
//! the batch).
//! A chunk or record that fails is a [`ProblemKind::Malformed`] problem
//! located as `chunk N` or `chunk N record R`, and reading goes on.
//!
//! # Field layout
//!
//! | source in the event XML | field |
//! |---|---|
//! | `System/EventID` (with or without `Qualifiers`) | `EventID` (a number) and `Qualifiers` when present |
//! | `System/Provider/@Name`, `@Guid`, `@EventSourceName` | `Provider_Name`, `Provider_Guid`, `Provider_EventSourceName` |
//! | `System/Channel`, `Computer`, `EventRecordID`, `Level`, `Task`, `Opcode`, `Keywords`, `Version` | same name |
//! | `System/TimeCreated/@SystemTime` | `TimeCreated_SystemTime` |
//! | `System/Execution/@ProcessID`, `@ThreadID` | `ProcessID`, `ThreadID` |
//! | `System/Security/@UserID` | `Security_UserID` |
//! | `System/Correlation/@ActivityID`, `@RelatedActivityID` | `ActivityID`, `RelatedActivityID` |
//! | `EventData/Data[@Name=X]` | `X`; a name with spaces also without them (`Source Name` → `SourceName`) |
//! | `EventData/Data` without a name | `Data`: the value when there is one, an array of the values when there are several; and always `Data1` … `DataN`, 1-based, one per value |
//! | `EventData/Binary` | `Binary` |
//! | `UserData/<Element>/X` | `X` (the children of the single wrapper element) |
//!
//! EventData and UserData fields are written after the System ones, so an
//! EventData field with the same name (rare) wins. Values keep the type the
//! renderer gives them: numbers stay numbers, strings stay strings (only
//! `EventID` is turned into a number when a JSON export has it as a string).
//!
//! Metadata: `timestamp` from `TimeCreated/@SystemTime`, `host` from
//! `Computer`, `record` from `EventRecordID`, logsource product `windows`
//! (the `detect` crate derives service and category from `Channel` and
//! `EventID`).
//!
//! Speed: records are rendered to JSON bytes by the `evtx` crate and those
//! bytes are walked once by a serde visitor (module `flat`) that writes the
//! flat fields directly, instead of building the nested value tree and
//! moving it apart. [`flatten_evtx`] does the same from a value, for JSON
//! exports; a test checks that the two agree.
//!
//! Must not depend on matching; the flattening is pure.

use std::sync::{Arc, Mutex};

use events::{Event, Map, Meta, SourceId, Value, taxonomy};
use evtx::err::EvtxError;
use evtx::{EvtxParser, ParserSettings};
use rayon::iter::{IndexedParallelIterator, IntoParallelIterator, ParallelIterator};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::{FileSummary, Input, Problem, ProblemKind, ReadCtx};

mod chunks;
mod flat;

use chunks::ChunkWalk;

/// The size of the EVTX file header.
const FILE_HEADER_LEN: u64 = 4096;
/// The size of one EVTX chunk.
const CHUNK_LEN: u64 = 65536;
/// How many chunks are read before they are parsed in parallel (4 MiB).
const CHUNK_WINDOW: usize = 64;

/// Reads an EVTX file, chunks in parallel.
pub(crate) fn read(
    ctx: &ReadCtx<'_>,
    sink: &(dyn Fn(Vec<Event>) + Sync),
    summary: &mut FileSummary,
) {
    if ctx.gzip {
        summary.problems.push(ctx.problem(
            "file header",
            ProblemKind::UnknownFormat,
            "gzip-compressed EVTX is not read; decompress it first",
        ));
        return;
    }
    let len = match ctx.input {
        Input::File(path) => std::fs::metadata(path).map(|meta| meta.len()).ok(),
        Input::Memory(data) => Some(data.len() as u64),
    };
    if let Some(len) = len {
        summary.bytes = len;
        // The `evtx` crate silently ignores a partial chunk at the end.
        let partial = len.saturating_sub(FILE_HEADER_LEN) % CHUNK_LEN;
        if len > FILE_HEADER_LEN && partial != 0 {
            let chunk = (len - FILE_HEADER_LEN) / CHUNK_LEN;
            summary.problems.push(ctx.problem(
                format!("chunk {chunk}"),
                ProblemKind::Malformed,
                format!("file is truncated: the last chunk has {partial} of {CHUNK_LEN} bytes and is skipped"),
            ));
        }
    }
    let parsed = match ctx.input {
        Input::File(path) => match std::fs::File::open(path) {
            Ok(file) => open(file).map(|walk| read_chunks(ctx, walk, sink)),
            Err(error) => {
                summary.problems.push(ctx.problem(
                    "file",
                    ProblemKind::Unreadable,
                    format!("cannot open: {error}"),
                ));
                return;
            }
        },
        Input::Memory(data) => {
            open(std::io::Cursor::new(data)).map(|walk| read_chunks(ctx, walk, sink))
        }
    };
    match parsed {
        Ok((events, mut problems)) => {
            summary.events += events;
            summary.problems.append(&mut problems);
        }
        Err(error) => summary.problems.push(ctx.problem(
            "file header",
            ProblemKind::Malformed,
            error_chain(&error),
        )),
    }
}

/// Checks the file header and starts a walk over the chunks.
fn open<R: std::io::Read + std::io::Seek>(mut reader: R) -> Result<ChunkWalk<R>, EvtxError> {
    let header_block_size = EvtxParser::from_read_seek(&mut reader)?
        .header()
        .header_block_size;
    Ok(ChunkWalk::new(reader, header_block_size)?)
}

/// Parses every chunk of an opened EVTX file in parallel; returns how many
/// events went to the sink and the problems met, in file order.
fn read_chunks<R: std::io::Read + std::io::Seek>(
    ctx: &ReadCtx<'_>,
    mut chunks: ChunkWalk<R>,
    sink: &(dyn Fn(Vec<Event>) + Sync),
) -> (u64, Vec<Problem>) {
    let settings = Arc::new(ParserSettings::new().num_threads(1).indent(false));
    let problems = Mutex::new(Vec::new());
    let events = std::sync::atomic::AtomicU64::new(0);
    let work = |chunk: evtx::err::Result<evtx::EvtxChunkData>| {
        let mut chunk_data = match chunk {
            Ok(data) => data,
            Err(error) => {
                let location = match &error {
                    EvtxError::FailedToParseChunk { chunk_id, .. } => format!("chunk {chunk_id}"),
                    _ => "chunk".to_owned(),
                };
                let problem = ctx.problem(location, ProblemKind::Malformed, error_chain(&error));
                problems
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(problem);
                return;
            }
        };
        let number = chunk_data.number.unwrap_or_default();
        let mut local_problems = Vec::new();
        let batch = match chunk_data.parse(Arc::clone(&settings)) {
            Ok(mut chunk) => {
                let mut batch = Vec::with_capacity(capacity_hint(chunk.header));
                for record in chunk.iter() {
                    let rendered = record.and_then(|r| r.into_json_bytes());
                    let rendered = match rendered {
                        Ok(rendered) => rendered,
                        Err(error) => {
                            local_problems.push(ctx.problem(
                                record_location(number, &error),
                                ProblemKind::Malformed,
                                error_chain(&error),
                            ));
                            continue;
                        }
                    };
                    let id = rendered.event_record_id;
                    match flat::flatten_bytes(&rendered.data) {
                        Ok(Some(fields)) => {
                            batch.push(windows_event(fields, Arc::clone(&ctx.source), id));
                        }
                        Ok(None) => local_problems.push(ctx.problem(
                            format!("chunk {number} record {id}"),
                            ProblemKind::Malformed,
                            "record has no Event/System element",
                        )),
                        Err(error) => local_problems.push(ctx.problem(
                            format!("chunk {number} record {id}"),
                            ProblemKind::Malformed,
                            format!("rendered record is not JSON: {error}"),
                        )),
                    }
                }
                batch
            }
            Err(error) => {
                local_problems.push(ctx.problem(
                    format!("chunk {number}"),
                    ProblemKind::Malformed,
                    error.to_string(),
                ));
                Vec::new()
            }
        };
        if !local_problems.is_empty() {
            problems
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .append(&mut local_problems);
        }
        if !batch.is_empty() {
            events.fetch_add(batch.len() as u64, std::sync::atomic::Ordering::Relaxed);
            sink(batch);
        }
    };
    // Chunks are read in windows and each window parsed in parallel: this
    // bounds memory for huge files, and rayon's fork-join over a slice keeps
    // both cores busy where a bridged iterator left them waiting.
    loop {
        let window: Vec<_> = chunks.by_ref().take(CHUNK_WINDOW).collect();
        if window.is_empty() {
            break;
        }
        window.into_par_iter().with_max_len(1).for_each(work);
    }
    let mut problems = problems.into_inner().unwrap_or_else(|e| e.into_inner());
    problems.sort_by_key(|p| natural_key(&p.location));
    (events.into_inner(), problems)
}

/// How many events to make room for in a chunk's batch: the record count
/// its header claims, at most 4096. The header is input, so any numbers
/// (reversed, or `u64::MAX`) give a hint and never overflow.
fn capacity_hint(header: &evtx::EvtxChunkHeader) -> usize {
    let count = header
        .last_event_record_number
        .saturating_add(1)
        .saturating_sub(header.first_event_record_number);
    count.min(4096) as usize
}

/// Sort key for `chunk N record R` locations: the numbers in order.
fn natural_key(location: &str) -> Vec<u64> {
    location
        .split(' ')
        .filter_map(|part| part.parse().ok())
        .collect()
}

/// Where a record error is, from the error's own record id if it has one.
fn record_location(chunk: u64, error: &EvtxError) -> String {
    match error {
        EvtxError::FailedToParseRecord { record_id, .. } => {
            format!("chunk {chunk} record {record_id}")
        }
        EvtxError::FailedToReadRecordAt { offset, .. } => {
            format!("chunk {chunk} offset {offset}")
        }
        _ => format!("chunk {chunk}"),
    }
}

/// An error with its sources, joined by `: `.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Flattens one Windows event, as the `evtx` crate renders it to JSON
/// (`{"Event": {"System": {...}, "EventData": {...}}}`), into an [`Event`]
/// laid out as the module documentation's table says.
///
/// `fallback_record` is used as `meta.record` when the event has no
/// `EventRecordID`. Returns `None` when `value` has no `Event.System`
/// object, that is, when it is not a Windows event.
pub fn flatten_evtx(value: Value, source: SourceId, fallback_record: u64) -> Option<Event> {
    let Value::Object(mut root) = value else {
        return None;
    };
    let Some(Value::Object(mut event)) = root.remove("Event") else {
        return None;
    };
    let Some(Value::Object(system)) = event.remove("System") else {
        return None;
    };
    let mut fields = Map::new();
    flatten_system(system, &mut fields);
    if let Some(data) = event.remove("EventData") {
        flatten_event_data(data, &mut fields);
    }
    if let Some(data) = event.remove("UserData") {
        flatten_user_data(data, &mut fields);
    }

    Some(windows_event(fields, source, fallback_record))
}

/// The event of flattened Windows fields, with its metadata.
pub(crate) fn windows_event(
    fields: Map<String, Value>,
    source: SourceId,
    fallback_record: u64,
) -> Event {
    let mut meta = Meta::new(source, fallback_record);
    meta.logsource = taxonomy::WINDOWS;
    if let Some(record) = fields.get("EventRecordID").and_then(as_u64) {
        meta.record = record;
    }
    meta.host = fields
        .get("Computer")
        .and_then(Value::as_str)
        .map(str::to_owned);
    // EVTX and Winlogbeat write RFC 3339; NXLog's `EventTime` is
    // `YYYY-MM-DD hh:mm:ss`, read as UTC.
    meta.timestamp = fields
        .get("TimeCreated_SystemTime")
        .and_then(Value::as_str)
        .and_then(|t| parse_time(t).or_else(|| crate::classify::parse_time_text(t)));
    Event::new(meta, fields)
}

/// Parses an RFC 3339 time.
pub(crate) fn parse_time(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &Rfc3339).ok()
}

/// A number, or a string holding one.
fn as_u64(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Takes the `#attributes` object out of an element rendered as an object.
fn attributes(value: &mut Value) -> Option<Map<String, Value>> {
    match value {
        Value::Object(map) => match map.remove("#attributes") {
            Some(Value::Object(attrs)) => Some(attrs),
            _ => None,
        },
        _ => None,
    }
}

/// Flattens the `System` element.
fn flatten_system(system: Map<String, Value>, out: &mut Map<String, Value>) {
    for (key, value) in system {
        flatten_system_entry(key, value, out);
    }
}

/// Flattens one child of the `System` element.
fn flatten_system_entry(key: String, mut value: Value, out: &mut Map<String, Value>) {
    match key.as_str() {
        "EventID" => {
            let (id, qualifiers) = match value {
                Value::Object(mut map) => {
                    let qualifiers = match map.remove("#attributes") {
                        Some(Value::Object(mut attrs)) => attrs.remove("Qualifiers"),
                        _ => None,
                    };
                    (map.remove("#text").unwrap_or(Value::Null), qualifiers)
                }
                other => (other, None),
            };
            out.insert("EventID".to_owned(), number_if_numeric(id));
            if let Some(q) = qualifiers.filter(|q| !q.is_null() && q != "") {
                out.insert("Qualifiers".to_owned(), q);
            }
        }
        "Provider" => {
            for (attr, v) in attributes(&mut value).unwrap_or_default() {
                out.insert(format!("Provider_{attr}"), v);
            }
        }
        "TimeCreated" => {
            for (attr, v) in attributes(&mut value).unwrap_or_default() {
                out.insert(format!("TimeCreated_{attr}"), v);
            }
        }
        "Execution" | "Correlation" => {
            for (attr, v) in attributes(&mut value).unwrap_or_default() {
                out.insert(attr, v);
            }
        }
        "Security" => {
            for (attr, v) in attributes(&mut value).unwrap_or_default() {
                out.insert(format!("Security_{attr}"), v);
            }
        }
        _ => match value {
            Value::Object(mut map) => {
                let attrs = map.remove("#attributes");
                if let Some(text) = map.remove("#text") {
                    out.insert(key.clone(), text);
                }
                if let Some(Value::Object(attrs)) = attrs {
                    for (attr, v) in attrs {
                        out.insert(format!("{key}_{attr}"), v);
                    }
                }
            }
            // Kept even when null (ETW logs have `Channel: null`).
            scalar => {
                out.insert(key, scalar);
            }
        },
    }
}

/// Turns a string holding an integer into a number; leaves anything else.
fn number_if_numeric(value: Value) -> Value {
    match value {
        Value::String(ref s) => match s.trim().parse::<u64>() {
            Ok(n) => Value::from(n),
            Err(_) => value,
        },
        other => other,
    }
}

/// The text of an element rendered as an object (`{"#text": ..}`), or the
/// value itself.
fn element_text(value: Value) -> Value {
    match value {
        Value::Object(mut map) if map.contains_key("#text") => {
            map.remove("#text").unwrap_or(Value::Null)
        }
        other => other,
    }
}

/// Inserts a named data field, and its space-free alias.
pub(crate) fn insert_named(out: &mut Map<String, Value>, name: String, value: Value) {
    if name.contains(' ') {
        let alias: String = name.chars().filter(|c| *c != ' ').collect();
        if !alias.is_empty() {
            out.insert(alias, value.clone());
        }
    }
    out.insert(name, value);
}

/// Flattens `EventData`.
fn flatten_event_data(data: Value, out: &mut Map<String, Value>) {
    match data {
        Value::Object(map) => {
            for (key, value) in map {
                match key.as_str() {
                    "#attributes" => {}
                    "Data" | "#text" => insert_unnamed(out, element_text(value)),
                    _ => insert_named(out, key, element_text(value)),
                }
            }
        }
        Value::Null => {}
        other => insert_unnamed(out, other),
    }
}

/// Inserts unnamed `<Data>` values as `Data` plus `Data1..DataN`.
pub(crate) fn insert_unnamed(out: &mut Map<String, Value>, value: Value) {
    match value {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                out.insert(format!("Data{}", i + 1), element_text(item.clone()));
            }
            let items = items.into_iter().map(element_text).collect();
            out.insert("Data".to_owned(), Value::Array(items));
        }
        Value::Null => {}
        single => {
            out.insert("Data1".to_owned(), single.clone());
            out.insert("Data".to_owned(), single);
        }
    }
}

/// Flattens `UserData`: the children of its wrapper element.
fn flatten_user_data(data: Value, out: &mut Map<String, Value>) {
    let Value::Object(map) = data else {
        return;
    };
    for (key, value) in map {
        match value {
            Value::Object(inner) => {
                for (name, v) in inner {
                    if name != "#attributes" {
                        insert_named(out, name, element_text(v));
                    }
                }
            }
            Value::Null => {}
            scalar if key != "#attributes" => insert_named(out, key, scalar),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// Flattens through both paths (bytes as the reader does, and values
    /// as JSON exports do) and checks that they agree.
    fn flat(value: Value) -> Event {
        let bytes = serde_json::to_vec(&value).unwrap();
        let streamed = flat::flatten_bytes(&bytes).expect("valid JSON");
        let event = flatten_evtx(value, Arc::from("t.evtx"), 99).expect("a windows event");
        assert_eq!(streamed.as_ref(), Some(&event.fields), "both paths agree");
        event
    }

    #[test]
    fn flattens_system_and_named_event_data() {
        let e = flat(json!({"Event": {
            "#attributes": {"xmlns": "http://schemas.microsoft.com/win/2004/08/events/event"},
            "System": {
                "Provider": {"#attributes": {"Name": "Microsoft-Windows-Sysmon", "Guid": "{5770}"}},
                "EventID": 1, "Version": 5, "Level": 4, "Task": 1, "Opcode": 0,
                "Keywords": "0x8000000000000000",
                "TimeCreated": {"#attributes": {"SystemTime": "2019-03-19T23:23:10.391318Z"}},
                "EventRecordID": 4711,
                "Correlation": null,
                "Execution": {"#attributes": {"ProcessID": 1900, "ThreadID": 2272}},
                "Channel": "Microsoft-Windows-Sysmon/Operational",
                "Computer": "PC01.example.corp",
                "Security": {"#attributes": {"UserID": "S-1-5-18"}}
            },
            "EventData": {"Image": "C:\\Windows\\cmd.exe", "ProcessId": 3, "CommandLine": "cmd /c"}
        }}));
        let f = &e.fields;
        assert_eq!(f["EventID"], json!(1));
        assert_eq!(f["Channel"], json!("Microsoft-Windows-Sysmon/Operational"));
        assert_eq!(f["Provider_Name"], json!("Microsoft-Windows-Sysmon"));
        assert_eq!(f["Computer"], json!("PC01.example.corp"));
        assert_eq!(f["EventRecordID"], json!(4711));
        assert_eq!(f["Keywords"], json!("0x8000000000000000"));
        assert_eq!(f["ProcessID"], json!(1900));
        assert_eq!(f["ThreadID"], json!(2272));
        assert_eq!(f["Security_UserID"], json!("S-1-5-18"));
        assert_eq!(f["Image"], json!("C:\\Windows\\cmd.exe"));
        assert_eq!(f["ProcessId"], json!(3));
        assert!(!f.contains_key("Correlation"));
        assert_eq!(e.meta.record, 4711);
        assert_eq!(e.meta.host.as_deref(), Some("PC01.example.corp"));
        assert_eq!(e.meta.logsource.product, Some("windows"));
        let ts = e.meta.timestamp.expect("timestamp");
        assert_eq!(ts.unix_timestamp(), 1_553_037_790);
    }

    #[test]
    fn event_id_with_qualifiers_is_a_number() {
        let e = flat(json!({"Event": {"System": {
            "EventID": {"#attributes": {"Qualifiers": 16384}, "#text": 7045},
            "Computer": "h"
        }, "EventData": {"ServiceName": "evil"}}}));
        assert_eq!(e.fields["EventID"], json!(7045));
        assert_eq!(e.fields["Qualifiers"], json!(16384));
        assert_eq!(e.meta.record, 99, "no EventRecordID: the fallback");
    }

    #[test]
    fn names_with_spaces_get_an_alias_and_string_ids_become_numbers() {
        // The shape of JSON exports of Defender events: everything a string.
        let e = flat(json!({"Event": {"System": {
            "EventID": "1116", "EventRecordID": "171",
            "Channel": "Microsoft-Windows-Windows Defender/Operational"
        }, "EventData": {"Source Name": "Real-Time Protection", "Threat Name": "HackTool:Win64/Mikatz!dha"}}}));
        assert_eq!(e.fields["EventID"], json!(1116));
        assert_eq!(e.fields["SourceName"], json!("Real-Time Protection"));
        assert_eq!(e.fields["Source Name"], json!("Real-Time Protection"));
        assert_eq!(e.fields["ThreatName"], json!("HackTool:Win64/Mikatz!dha"));
        assert_eq!(e.meta.record, 171);
    }

    #[test]
    fn unnamed_data_is_data_and_numbered() {
        let several = flat(json!({"Event": {"System": {"EventID": 400},
            "EventData": {"Data": {"#text": ["Available", "None", "HostApplication=powershell -enc"]}}}}));
        assert_eq!(
            several.fields["Data"],
            json!(["Available", "None", "HostApplication=powershell -enc"])
        );
        assert_eq!(several.fields["Data1"], json!("Available"));
        assert_eq!(
            several.fields["Data3"],
            json!("HostApplication=powershell -enc")
        );
        assert!(!several.fields.contains_key("Data4"));

        let one = flat(json!({"Event": {"System": {"EventID": 1},
            "EventData": {"Data": "only", "Binary": "00FF"}}}));
        assert_eq!(one.fields["Data"], json!("only"));
        assert_eq!(one.fields["Data1"], json!("only"));
        assert_eq!(one.fields["Binary"], json!("00FF"));
    }

    #[test]
    fn user_data_children_are_flattened() {
        let e = flat(json!({"Event": {"System": {"EventID": 1102},
            "UserData": {"LogFileCleared": {
                "#attributes": {"xmlns": "http://manifests.microsoft.com/win/2004/08/windows/eventlog"},
                "SubjectUserName": "admin", "SubjectLogonId": "0x1"}}}}));
        assert_eq!(e.fields["SubjectUserName"], json!("admin"));
        assert_eq!(e.fields["SubjectLogonId"], json!("0x1"));
        assert!(!e.fields.contains_key("xmlns"));
    }

    #[test]
    fn non_windows_values_are_refused() {
        for value in [
            json!({"a": 1}),
            json!([1]),
            json!({"Event": {"EventData": {}}}),
        ] {
            let bytes = serde_json::to_vec(&value).unwrap();
            assert_eq!(flat::flatten_bytes(&bytes).unwrap(), None);
            assert!(flatten_evtx(value, Arc::from("x"), 1).is_none());
        }
    }
}
