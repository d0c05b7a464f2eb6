//! OTLP/HTTP logs (`POST /v1/logs`): an `ExportLogsServiceRequest`, as
//! binary protobuf (`application/x-protobuf`) or OTLP/JSON
//! (`application/json`), turned into one JSON object per log record, which
//! the JSON reader (`sources::parse_json_line`) takes as an event; and the
//! response bodies the OTLP specification asks for ([`export_response`],
//! [`error_response`]).
//!
//! # The object of a record
//! | key | from |
//! |---|---|
//! | `time` | `time_unix_nano`, else `observed_time_unix_nano`, as RFC 3339 UTC; absent when both are 0 |
//! | `severity_text`, `severity_number` | absent when empty / 0 (unspecified) |
//! | `body` | the body as JSON: a string as it is, a kvlist as an object, an array as an array |
//! | `trace_id`, `span_id` | lower-case hex; absent when empty or all zeros |
//! | `scope.name`, `event_name` | absent when empty |
//! | each record attribute | under its own name, as one key (`host.name` stays `"host.name"`) |
//! | each key of a kvlist body | as well as under `body` |
//! | `message` | a string body that holds a JSON object, as well as under `body` |
//! | each resource attribute | under its own name |
//!
//! A key is written by the first row that has it: the record's own fields,
//! then its attributes, then its body's keys, then the resource's
//! attributes (and within a list of attributes, the first of a name). Values
//! keep their types: strings, integers, doubles and booleans as JSON
//! scalars, arrays and kvlists as JSON arrays and objects, bytes as base64;
//! a double that JSON cannot hold (NaN, infinities) is `null`.
//!
//! The names are those the JSON reader already reads. Its time fields
//! include `time` (after `eventTime`, `timestamp`, `@timestamp` and a few
//! more, so a record whose body carries the event's own time, such as a
//! CloudTrail record's `eventTime`, keeps that one). Its host fields are
//! `Computer`, `HostName`, `hostname`, `host.name` and `host`, in that order:
//! the Collector's syslog receiver names the sender `hostname`, which so wins
//! over a resource's `host.name` (often the collector's own host). The
//! Collector's `windowseventlog` receiver sends each event as a kvlist body
//! (`channel`, `computer`, `event_id.id`, `provider.name`, `system_time`,
//! `event_data`, ...); flattened to top-level keys, that is the layout the
//! JSON reader recognises as a Windows event and maps to EVTX fields, so
//! the Windows rules apply. (With `raw: true` the receiver sends the XML as
//! a string body, which stays a string.)
//!
//! # Limits
//! At most [`MAX_RECORDS`] records and [`MAX_VALUES`] values (protobuf
//! messages, or JSON objects) in a request, values nested at most
//! [`MAX_DEPTH`] levels. A protobuf body is walked once, with a stack bounded
//! by the nesting limit, before prost decodes it, and a JSON body is scanned
//! for its nesting before it is parsed (straight into the same message
//! types, with no JSON tree between), so a small hostile body never becomes
//! an unbounded allocation or a deep recursion. Any input gives lines or an [`OtlpError`], never a panic.
//! A request is decoded whole or refused whole; gzip is the caller's.
//!
//! Pure: no IO, no clock, no async. It knows nothing of HTTP beyond the
//! content types.

use std::collections::HashSet;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as OtlpValue;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message as _;
use serde::Serialize;
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::body::Line;

/// Most log records in one request.
pub const MAX_RECORDS: usize = 100_000;
/// Deepest nesting of values: a scalar attribute or body is at level 1, the
/// values of a kvlist or array at level 1 are at level 2, and so on.
pub const MAX_DEPTH: usize = 32;
/// Most values in one request: protobuf messages below the request, or
/// JSON objects.
pub const MAX_VALUES: usize = 5_000_000;
/// Deepest JSON nesting parsed at all. Values at [`MAX_DEPTH`] sit about
/// 140 levels deep in OTLP/JSON; anything deeper is refused before parsing.
const MAX_JSON_NESTING: usize = 160;

/// How a request body is encoded, from its `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpEncoding {
    /// Binary protobuf, `application/x-protobuf`.
    Protobuf,
    /// OTLP/JSON, `application/json`.
    Json,
}

impl OtlpEncoding {
    /// The encoding of a `Content-Type` header value (parameters such as
    /// `charset` ignored, case-insensitive); `None` for any other type.
    pub fn from_content_type(ct: &str) -> Option<Self> {
        let media = ct.split(';').next().unwrap_or_default().trim();
        if media.eq_ignore_ascii_case("application/x-protobuf")
            || media.eq_ignore_ascii_case("application/protobuf")
        {
            Some(Self::Protobuf)
        } else if media.eq_ignore_ascii_case("application/json") {
            Some(Self::Json)
        } else {
            None
        }
    }

    /// The `Content-Type` of a response in this encoding (the specification
    /// answers in the request's encoding).
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Protobuf => "application/x-protobuf",
            Self::Json => "application/json",
        }
    }
}

/// Why a request cannot be decoded (an HTTP 400: the sender must not
/// retry it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OtlpError {
    /// The body is not a protobuf `ExportLogsServiceRequest`.
    #[error("invalid OTLP protobuf: {0}")]
    Protobuf(String),
    /// The body is not JSON.
    #[error("invalid JSON: {0}")]
    Syntax(String),
    /// The body is JSON but not an OTLP/JSON `ExportLogsServiceRequest`
    /// (the message says what and where, by line and column).
    #[error("invalid OTLP/JSON: {0}")]
    Json(String),
    /// More than [`MAX_RECORDS`] log records.
    #[error("the request holds more than {max} log records")]
    TooManyRecords {
        /// The limit.
        max: usize,
    },
    /// More than [`MAX_VALUES`] values.
    #[error("the request holds more than {max} values")]
    TooManyValues {
        /// The limit.
        max: usize,
    },
    /// A value nested deeper than [`MAX_DEPTH`] levels.
    #[error("{location} nests values deeper than {max} levels")]
    TooDeep {
        /// `record N` (numbered from 1 across the request), or the resource
        /// or scope attributes.
        location: String,
        /// The limit.
        max: usize,
    },
    /// JSON nested deeper than any OTLP request needs.
    #[error("the JSON nests deeper than {max} levels")]
    JsonTooDeep {
        /// The limit.
        max: usize,
    },
}

/// Decodes a logs export request into one JSON object line per log record:
/// `(record number from 1 across the request, the object's bytes)`. The
/// object's keys are described in the module documentation.
pub fn decode_logs(body: &[u8], encoding: OtlpEncoding) -> Result<Vec<Line>, OtlpError> {
    let request = match encoding {
        OtlpEncoding::Protobuf => {
            wire::check(body)?;
            ExportLogsServiceRequest::decode(body)
                .map_err(|error| OtlpError::Protobuf(error.to_string()))?
        }
        OtlpEncoding::Json => json::request(body)?,
    };
    lines(&request)
}

/// The body of a successful answer, an `ExportLogsServiceResponse` in
/// `encoding`. `partial_success` is set when `rejected` records were
/// refused or when `message` is not empty (a warning), and left out
/// otherwise, as the specification asks.
pub fn export_response(encoding: OtlpEncoding, rejected: u64, message: &str) -> Vec<u8> {
    let rejected = i64::try_from(rejected).unwrap_or(i64::MAX);
    let partial_success =
        (rejected != 0 || !message.is_empty()).then(|| ExportLogsPartialSuccess {
            rejected_log_records: rejected,
            error_message: message.to_owned(),
        });
    match encoding {
        OtlpEncoding::Protobuf => ExportLogsServiceResponse { partial_success }.encode_to_vec(),
        OtlpEncoding::Json => {
            let mut response = Map::new();
            if let Some(partial) = partial_success {
                let mut object = Map::new();
                if partial.rejected_log_records != 0 {
                    // 64-bit integers are decimal strings in OTLP/JSON.
                    object.insert(
                        "rejectedLogRecords".to_owned(),
                        Value::String(partial.rejected_log_records.to_string()),
                    );
                }
                if !partial.error_message.is_empty() {
                    object.insert(
                        "errorMessage".to_owned(),
                        Value::String(partial.error_message),
                    );
                }
                response.insert("partialSuccess".to_owned(), Value::Object(object));
            }
            to_json_bytes(&response)
        }
    }
}

/// The body of a failed answer (any 4xx or 5xx), a `google.rpc.Status` in
/// `encoding` carrying `message`. `Status.code` is left unset, which the
/// specification allows: clients go by the HTTP status.
pub fn error_response(encoding: OtlpEncoding, message: &str) -> Vec<u8> {
    match encoding {
        OtlpEncoding::Protobuf => Status {
            code: 0,
            message: message.to_owned(),
        }
        .encode_to_vec(),
        OtlpEncoding::Json => {
            let mut status = Map::new();
            status.insert("message".to_owned(), Value::String(message.to_owned()));
            to_json_bytes(&status)
        }
    }
}

/// `google.rpc.Status`, without its `details`.
#[derive(Clone, PartialEq, prost::Message)]
struct Status {
    /// A gRPC status code.
    #[prost(int32, tag = "1")]
    code: i32,
    /// A developer-facing message.
    #[prost(string, tag = "2")]
    message: String,
}

/// A JSON object's bytes.
fn to_json_bytes(object: &Map<String, Value>) -> Vec<u8> {
    // Only a `Serialize` impl that fails or a map with non-string keys
    // makes serde_json fail; a `Map` of `Value`s has neither.
    serde_json::to_vec(object).expect("a JSON object always serialises")
}

/// A value nested deeper than [`MAX_DEPTH`]; the caller says where.
struct TooDeep;

/// The lines of a decoded request.
fn lines(request: &ExportLogsServiceRequest) -> Result<Vec<Line>, OtlpError> {
    let total: usize = request
        .resource_logs
        .iter()
        .flat_map(|resource| &resource.scope_logs)
        .map(|scope| scope.log_records.len())
        .sum();
    if total > MAX_RECORDS {
        return Err(OtlpError::TooManyRecords { max: MAX_RECORDS });
    }
    // Nesting first, so that writing cannot fail halfway.
    let mut number = 0;
    for resource_logs in &request.resource_logs {
        let resource = resource_attributes(resource_logs);
        check_pairs(resource, 1).map_err(|TooDeep| OtlpError::TooDeep {
            location: "the resource attributes".to_owned(),
            max: MAX_DEPTH,
        })?;
        for record in resource_logs
            .scope_logs
            .iter()
            .flat_map(|scope| &scope.log_records)
        {
            number += 1;
            check_pairs(&record.attributes, 1)
                .and_then(|()| {
                    record
                        .body
                        .as_ref()
                        .map_or(Ok(()), |body| check_value(body, 1))
                })
                .map_err(|TooDeep| OtlpError::TooDeep {
                    location: format!("record {number}"),
                    max: MAX_DEPTH,
                })?;
        }
    }
    let mut lines = Vec::with_capacity(total);
    let mut seen = HashSet::new();
    for resource_logs in &request.resource_logs {
        let resource = resource_attributes(resource_logs);
        for scope_logs in &resource_logs.scope_logs {
            let scope = scope_logs
                .scope
                .as_ref()
                .map(|scope| scope.name.as_str())
                .filter(|name| !name.is_empty());
            for record in &scope_logs.log_records {
                let number = lines.len() as u64 + 1;
                let line = record_line(record, scope, resource, &mut seen).map_err(|_| {
                    OtlpError::TooDeep {
                        location: format!("record {number}"),
                        max: MAX_DEPTH,
                    }
                })?;
                lines.push((number, line));
            }
        }
    }
    Ok(lines)
}

fn resource_attributes(resource_logs: &ResourceLogs) -> &[KeyValue] {
    resource_logs
        .resource
        .as_ref()
        .map_or(&[], |resource| &resource.attributes)
}

/// Checks the nesting of attributes (or a kvlist's pairs) at level `depth`.
fn check_pairs(pairs: &[KeyValue], depth: usize) -> Result<(), TooDeep> {
    pairs
        .iter()
        .filter_map(|pair| pair.value.as_ref())
        .try_for_each(|value| check_value(value, depth))
}

/// Checks the nesting of a value at level `depth`.
fn check_value(value: &AnyValue, depth: usize) -> Result<(), TooDeep> {
    if depth > MAX_DEPTH {
        return Err(TooDeep);
    }
    match &value.value {
        Some(OtlpValue::ArrayValue(array)) => array
            .values
            .iter()
            .try_for_each(|item| check_value(item, depth + 1)),
        Some(OtlpValue::KvlistValue(list)) => check_pairs(&list.values, depth + 1),
        _ => Ok(()),
    }
}

/// One record's object (see the module documentation for its keys),
/// written straight from the record: `seen` holds the keys written so far
/// (it is cleared here and kept only to reuse its allocation).
fn record_line<'a>(
    record: &'a LogRecord,
    scope: Option<&'a str>,
    resource: &'a [KeyValue],
    seen: &mut HashSet<&'a str>,
) -> Result<Vec<u8>, serde_json::Error> {
    seen.clear();
    let mut out = Vec::with_capacity(256);
    let mut writer = serde_json::Serializer::new(&mut out);
    let mut object = writer.serialize_map(None)?;
    let time = rfc3339(record.time_unix_nano).or_else(|| rfc3339(record.observed_time_unix_nano));
    if let Some(time) = &time {
        entry(&mut object, seen, "time", time)?;
    }
    if !record.severity_text.is_empty() {
        entry(&mut object, seen, "severity_text", &record.severity_text)?;
    }
    if record.severity_number != 0 {
        entry(
            &mut object,
            seen,
            "severity_number",
            &record.severity_number,
        )?;
    }
    let body = record.body.as_ref().filter(|body| !is_null(body));
    if let Some(body) = body {
        entry(
            &mut object,
            seen,
            "body",
            &Json {
                value: body,
                depth: 1,
            },
        )?;
    }
    for (key, id) in [("trace_id", &record.trace_id), ("span_id", &record.span_id)] {
        if id.iter().any(|&byte| byte != 0) {
            entry(&mut object, seen, key, &hex::encode(id))?;
        }
    }
    if let Some(scope) = scope {
        entry(&mut object, seen, "scope.name", scope)?;
    }
    if !record.event_name.is_empty() {
        entry(&mut object, seen, "event_name", &record.event_name)?;
    }
    entries(&mut object, seen, &record.attributes)?;
    match body.and_then(|body| body.value.as_ref()) {
        Some(OtlpValue::KvlistValue(list)) => entries(&mut object, seen, &list.values)?,
        Some(OtlpValue::StringValue(text)) if holds_json_object(text) => {
            entry(&mut object, seen, "message", text)?;
        }
        _ => {}
    }
    entries(&mut object, seen, resource)?;
    SerializeMap::end(object)?;
    Ok(out)
}

/// Writes `key` unless it was written already.
fn entry<'a, M: SerializeMap, V: Serialize + ?Sized>(
    object: &mut M,
    seen: &mut HashSet<&'a str>,
    key: &'a str,
    value: &V,
) -> Result<(), M::Error> {
    if seen.insert(key) {
        object.serialize_entry(key, value)?;
    }
    Ok(())
}

/// Writes attributes (or a kvlist's pairs) at level 1 as top-level keys,
/// each unless its key was written already.
fn entries<'a, M: SerializeMap>(
    object: &mut M,
    seen: &mut HashSet<&'a str>,
    pairs: &'a [KeyValue],
) -> Result<(), M::Error> {
    for pair in pairs {
        let value = pair.value.as_ref().map(|value| Json { value, depth: 1 });
        entry(object, seen, &pair.key, &value)?;
    }
    Ok(())
}

/// True for a value that is written as `null`.
fn is_null(value: &AnyValue) -> bool {
    match &value.value {
        None | Some(OtlpValue::StringValueStrindex(_)) => true,
        Some(OtlpValue::DoubleValue(d)) => !d.is_finite(),
        _ => false,
    }
}

/// A value at nesting level `depth`, written as JSON: strings, integers,
/// doubles and booleans as scalars (`null` for a double JSON cannot hold),
/// bytes as base64, arrays as arrays, kvlists as objects (the first of a
/// repeated key wins).
struct Json<'a> {
    value: &'a AnyValue,
    depth: usize,
}

impl Serialize for Json<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Checked before writing; this only guards the recursion.
        if self.depth > MAX_DEPTH {
            return Err(serde::ser::Error::custom("a value nests too deep"));
        }
        match &self.value.value {
            // A string-table index only means something in profiles.
            None | Some(OtlpValue::StringValueStrindex(_)) => serializer.serialize_unit(),
            Some(OtlpValue::StringValue(text)) => serializer.serialize_str(text),
            Some(OtlpValue::BoolValue(b)) => serializer.serialize_bool(*b),
            Some(OtlpValue::IntValue(i)) => serializer.serialize_i64(*i),
            Some(OtlpValue::DoubleValue(d)) if d.is_finite() => serializer.serialize_f64(*d),
            Some(OtlpValue::DoubleValue(_)) => serializer.serialize_unit(),
            Some(OtlpValue::BytesValue(bytes)) => serializer.serialize_str(&STANDARD.encode(bytes)),
            Some(OtlpValue::ArrayValue(array)) => {
                let mut items = serializer.serialize_seq(Some(array.values.len()))?;
                for value in &array.values {
                    items.serialize_element(&Json {
                        value,
                        depth: self.depth + 1,
                    })?;
                }
                items.end()
            }
            Some(OtlpValue::KvlistValue(list)) => {
                let pairs = &list.values;
                let mut object = serializer.serialize_map(None)?;
                // A set only for long lists, where a scan back would be
                // quadratic.
                let mut seen = (pairs.len() > 16).then(HashSet::new);
                for (i, pair) in pairs.iter().enumerate() {
                    let repeated = match &mut seen {
                        Some(seen) => !seen.insert(pair.key.as_str()),
                        None => pairs[..i].iter().any(|earlier| earlier.key == pair.key),
                    };
                    if !repeated {
                        let value = pair.value.as_ref().map(|value| Json {
                            value,
                            depth: self.depth + 1,
                        });
                        object.serialize_entry(&pair.key, &value)?;
                    }
                }
                object.end()
            }
        }
    }
}

/// Nanoseconds since the epoch as RFC 3339 UTC; `None` for 0 (unset).
fn rfc3339(nanos: u64) -> Option<String> {
    if nanos == 0 {
        return None;
    }
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(nanos))
        .ok()?
        .format(&Rfc3339)
        .ok()
}

/// True when `text` is a JSON object (serde_json's own nesting limit
/// applies: a deeper one is not taken as JSON).
fn holds_json_object(text: &str) -> bool {
    text.trim_start().starts_with('{')
        && serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok()
}

/// A walk over the protobuf wire format of a logs request that allocates
/// nothing but a stack bounded by [`MAX_DEPTH`]: it checks the framing and
/// the limits before prost decodes (and allocates for) the whole request.
mod wire {
    use std::fmt;

    use super::{MAX_DEPTH, MAX_RECORDS, MAX_VALUES, OtlpError};

    /// The message types of a logs request, as far as the walk needs them.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Msg {
        Request,
        ResourceLogs,
        Resource,
        ScopeLogs,
        Scope,
        Record,
        KeyValue,
        AnyValue,
        ArrayValue,
        KeyValueList,
        /// A message with no messages of interest inside (`EntityRef`).
        Leaf,
    }

    impl Msg {
        /// The message type of `field`, when it holds a message.
        fn child(self, field: u64) -> Option<Msg> {
            Some(match (self, field) {
                (Msg::Request, 1) => Msg::ResourceLogs,
                (Msg::ResourceLogs, 1) => Msg::Resource,
                (Msg::ResourceLogs, 2) => Msg::ScopeLogs,
                (Msg::Resource, 1) | (Msg::Scope, 3) | (Msg::Record, 6) => Msg::KeyValue,
                (Msg::Resource, 3) => Msg::Leaf,
                (Msg::ScopeLogs, 1) => Msg::Scope,
                (Msg::ScopeLogs, 2) => Msg::Record,
                (Msg::Record, 5) | (Msg::KeyValue, 2) | (Msg::ArrayValue, 1) => Msg::AnyValue,
                (Msg::AnyValue, 5) => Msg::ArrayValue,
                (Msg::AnyValue, 6) => Msg::KeyValueList,
                (Msg::KeyValueList, 1) => Msg::KeyValue,
                _ => return None,
            })
        }
    }

    /// One message being walked.
    #[derive(Clone, Copy)]
    struct Frame {
        msg: Msg,
        /// Where it ends in the body.
        end: usize,
        /// How many values (`AnyValue`s) it is inside, itself included.
        depth: usize,
        /// The number of the record it is in, 0 outside records.
        record: usize,
    }

    /// Checks the framing of a request and its limits.
    pub(super) fn check(body: &[u8]) -> Result<(), OtlpError> {
        let mut stack = vec![Frame {
            msg: Msg::Request,
            end: body.len(),
            depth: 0,
            record: 0,
        }];
        let (mut pos, mut records, mut values) = (0, 0, 0);
        while let Some(&frame) = stack.last() {
            if pos >= frame.end {
                stack.pop();
                continue;
            }
            let at = pos;
            let tag = varint(body, &mut pos, frame.end)?;
            let field = tag >> 3;
            if field == 0 || tag > u64::from(u32::MAX) {
                return Err(malformed(at, format!("invalid field tag {tag}")));
            }
            let child = frame.msg.child(field);
            match (tag & 7, child) {
                (2, child) => {
                    let len = varint(body, &mut pos, frame.end)?;
                    let end = usize::try_from(len)
                        .ok()
                        .and_then(|len| pos.checked_add(len))
                        .filter(|&end| end <= frame.end)
                        .ok_or_else(|| {
                            malformed(at, "a length runs past the end of its message")
                        })?;
                    let Some(msg) = child else {
                        pos = end;
                        continue;
                    };
                    values += 1;
                    if values > MAX_VALUES {
                        return Err(OtlpError::TooManyValues { max: MAX_VALUES });
                    }
                    let mut next = Frame {
                        msg,
                        end,
                        depth: frame.depth,
                        record: frame.record,
                    };
                    if msg == Msg::Record {
                        records += 1;
                        if records > MAX_RECORDS {
                            return Err(OtlpError::TooManyRecords { max: MAX_RECORDS });
                        }
                        next.record = records;
                    }
                    if msg == Msg::AnyValue {
                        next.depth += 1;
                        if next.depth > MAX_DEPTH {
                            let location = match next.record {
                                0 => "the resource or scope attributes".to_owned(),
                                n => format!("record {n}"),
                            };
                            return Err(OtlpError::TooDeep {
                                location,
                                max: MAX_DEPTH,
                            });
                        }
                    }
                    stack.push(next);
                }
                (wire_type, Some(msg)) => {
                    return Err(malformed(
                        at,
                        format!(
                            "field {field} of {msg:?} has wire type {wire_type}, not a message"
                        ),
                    ));
                }
                (0, None) => {
                    varint(body, &mut pos, frame.end)?;
                }
                (1, None) => pos = skip(pos, 8, frame.end, at)?,
                (5, None) => pos = skip(pos, 4, frame.end, at)?,
                (3 | 4, None) => return Err(malformed(at, "groups are not part of OTLP")),
                (wire_type, None) => {
                    return Err(malformed(at, format!("invalid wire type {wire_type}")));
                }
            }
        }
        Ok(())
    }

    /// Reads a varint at `pos` that must end before `end`.
    fn varint(body: &[u8], pos: &mut usize, end: usize) -> Result<u64, OtlpError> {
        let start = *pos;
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = match body.get(*pos) {
                Some(&byte) if *pos < end => byte,
                _ => {
                    return Err(malformed(
                        start,
                        "a varint runs past the end of its message",
                    ));
                }
            };
            *pos += 1;
            if shift == 63 && byte > 1 {
                return Err(malformed(start, "a varint overflows 64 bits"));
            }
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(malformed(start, "a varint overflows 64 bits"))
    }

    /// Skips `len` bytes of a fixed-size field.
    fn skip(pos: usize, len: usize, end: usize, at: usize) -> Result<usize, OtlpError> {
        pos.checked_add(len)
            .filter(|&next| next <= end)
            .ok_or_else(|| malformed(at, "a field runs past the end of its message"))
    }

    fn malformed(at: usize, what: impl fmt::Display) -> OtlpError {
        OtlpError::Protobuf(format!("{what} (at byte {at})"))
    }
}

/// OTLP/JSON straight into the protobuf message types, without a JSON tree
/// in between: the proto3 JSON mapping with OTLP's changes (lowerCamelCase
/// keys only, ids as hex, enums as integers). 64-bit integers are numbers
/// or decimal strings; `null` is the field's default; unknown keys are
/// skipped, as the specification asks.
mod json {
    use std::cell::Cell;
    use std::fmt;

    use serde::de::{
        self, DeserializeSeed, Error as _, IgnoredAny, MapAccess, SeqAccess, Unexpected, Visitor,
    };

    use super::*;

    /// Decodes a request.
    pub(super) fn request(body: &[u8]) -> Result<ExportLogsServiceRequest, OtlpError> {
        let body = body.strip_prefix(b"\xef\xbb\xbf").unwrap_or(body);
        check_nesting(body)?;
        let mut parser = serde_json::Deserializer::from_slice(body);
        // Bounded by `check_nesting` just above.
        parser.disable_recursion_limit();
        let records = Cell::new(0);
        Message(Request, &records)
            .deserialize(&mut parser)
            .and_then(|request| parser.end().map(|()| request))
            .map_err(|error| {
                if records.get() > MAX_RECORDS {
                    OtlpError::TooManyRecords { max: MAX_RECORDS }
                } else if error.is_data() {
                    OtlpError::Json(error.to_string())
                } else {
                    OtlpError::Syntax(error.to_string())
                }
            })
    }

    /// Checks that `body` nests at most [`MAX_JSON_NESTING`] levels and
    /// holds at most [`MAX_VALUES`] objects, without parsing it (syntax is
    /// left to the parser).
    pub(super) fn check_nesting(body: &[u8]) -> Result<(), OtlpError> {
        let (mut depth, mut objects) = (0usize, 0usize);
        let mut bytes = body.iter();
        while let Some(&byte) = bytes.next() {
            match byte {
                b'"' => {
                    // Skip the string, escapes included.
                    while let Some(&byte) = bytes.next() {
                        match byte {
                            b'\\' => {
                                bytes.next();
                            }
                            b'"' => break,
                            _ => {}
                        }
                    }
                }
                b'{' | b'[' => {
                    depth += 1;
                    if depth > MAX_JSON_NESTING {
                        return Err(OtlpError::JsonTooDeep {
                            max: MAX_JSON_NESTING,
                        });
                    }
                    if byte == b'{' {
                        objects += 1;
                        if objects > MAX_VALUES {
                            return Err(OtlpError::TooManyValues { max: MAX_VALUES });
                        }
                    }
                }
                b'}' | b']' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        Ok(())
    }

    /// A message type: its name for errors, its fields, and how a field is
    /// read into it. `records` counts log records across the request.
    trait Kind: Copy {
        type Out: Default;
        const NAME: &'static str;
        const FIELDS: &'static [&'static str];
        fn field<'de, A: MapAccess<'de>>(
            self,
            out: &mut Self::Out,
            field: &'static str,
            map: &mut A,
            records: &Cell<usize>,
        ) -> Result<(), A::Error>;
    }

    /// Reads one message of kind `K`. A `null` field is read through
    /// [`Nullable`]; a `null` in a list is refused (it would cost a whole
    /// message for four bytes, uncounted by [`check_nesting`]).
    #[derive(Clone, Copy)]
    struct Message<'r, K>(K, &'r Cell<usize>);

    impl<'de, K: Kind> DeserializeSeed<'de> for Message<'_, K> {
        type Value = K::Out;

        fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<K::Out, D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de, K: Kind> Visitor<'de> for Message<'_, K> {
        type Value = K::Out;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "an OTLP/JSON {} object", K::NAME)
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<K::Out, A::Error> {
            let mut out = K::Out::default();
            while let Some(field) = map.next_key_seed(FieldName(K::FIELDS))? {
                match field {
                    Some(field) => self.0.field(&mut out, field, &mut map, self.1)?,
                    None => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            Ok(out)
        }
    }

    /// Reads a key as one of `names` (`None` for any other), without
    /// allocating.
    #[derive(Clone, Copy)]
    struct FieldName(&'static [&'static str]);

    impl<'de> DeserializeSeed<'de> for FieldName {
        type Value = Option<&'static str>;

        fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_identifier(self)
        }
    }

    impl<'de> Visitor<'de> for FieldName {
        type Value = Option<&'static str>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a field name")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(self.0.iter().copied().find(|name| *name == v))
        }
    }

    /// Reads a list, each item with the seed.
    #[derive(Clone, Copy)]
    struct List<S>(S);

    impl<'de, S: DeserializeSeed<'de> + Copy> DeserializeSeed<'de> for List<S> {
        type Value = Vec<S::Value>;

        fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de, S: DeserializeSeed<'de> + Copy> Visitor<'de> for List<S> {
        type Value = Vec<S::Value>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an array")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
            while let Some(item) = seq.next_element_seed(self.0)? {
                items.push(item);
            }
            Ok(items)
        }
    }

    /// Reads an optional value: `None` for `null`.
    #[derive(Clone, Copy)]
    struct Nullable<S>(S);

    impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Nullable<S> {
        type Value = Option<S::Value>;

        fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_option(self)
        }
    }

    impl<'de, S: DeserializeSeed<'de>> Visitor<'de> for Nullable<S> {
        type Value = Option<S::Value>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a value or null")
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            self.0.deserialize(d).map(Some)
        }
    }

    /// Reads the value of the current key, its default for `null`.
    fn value<'de, A: MapAccess<'de>, S: DeserializeSeed<'de>>(
        map: &mut A,
        seed: S,
    ) -> Result<S::Value, A::Error>
    where
        S::Value: Default,
    {
        Ok(map.next_value_seed(Nullable(seed))?.unwrap_or_default())
    }

    #[derive(Clone, Copy)]
    struct Request;

    impl Kind for Request {
        type Out = ExportLogsServiceRequest;
        const NAME: &'static str = "ExportLogsServiceRequest";
        const FIELDS: &'static [&'static str] = &["resourceLogs"];

        fn field<'de, A: MapAccess<'de>>(
            self,
            out: &mut Self::Out,
            _: &'static str,
            map: &mut A,
            records: &Cell<usize>,
        ) -> Result<(), A::Error> {
            out.resource_logs = value(map, List(Message(ResourceLogsKind, records)))?;
            Ok(())
        }
    }

    #[derive(Clone, Copy)]
    struct ResourceLogsKind;

    impl Kind for ResourceLogsKind {
        type Out = ResourceLogs;
        const NAME: &'static str = "ResourceLogs";
        const FIELDS: &'static [&'static str] = &["resource", "scopeLogs", "schemaUrl"];

        fn field<'de, A: MapAccess<'de>>(
            self,
            out: &mut Self::Out,
            field: &'static str,
            map: &mut A,
            records: &Cell<usize>,
        ) -> Result<(), A::Error> {
            match field {
                "resource" => {
                    out.resource = map.next_value_seed(Nullable(Message(ResourceKind, records)))?;
                }
                "scopeLogs" => out.scope_logs = value(map, List(Message(ScopeLogsKind, records)))?,
                _ => out.schema_url = value(map, Text)?,
            }
            Ok(())
        }
    }

    #[derive(Clone, Copy)]
    struct ResourceKind;

    impl Kind for ResourceKind {
        type Out = Resource;
        const NAME: &'static str = "Resource";
        const FIELDS: &'static [&'static str] = &["attributes", "droppedAttributesCount"];

        fn field<'de, A: MapAccess<'de>>(
            self,
            out: &mut Self::Out,
            field: &'static str,
            map: &mut A,
            records: &Cell<usize>,
        ) -> Result<(), A::Error> {
            match field {
                "attributes" => out.attributes = value(map, List(Message(KeyValueKind, records)))?,
                _ => out.dropped_attributes_count = value(map, Unsigned32)?,
            }
            Ok(())
        }
    }

    #[derive(Clone, Copy)]
    struct ScopeLogsKind;

    impl Kind for ScopeLogsKind {
        type Out = ScopeLogs;
        const NAME: &'static str = "ScopeLogs";
        const FIELDS: &'static [&'static str] = &["scope", "logRecords", "schemaUrl"];

        fn field<'de, A: MapAccess<'de>>(
            self,
            out: &mut Self::Out,
            field: &'static str,
            map: &mut A,
            records: &Cell<usize>,
        ) -> Result<(), A::Error> {
            match field {
                "scope" => {
                    out.scope = map.next_value_seed(Nullable(Message(ScopeKind, records)))?;
                }
                "logRecords" => out.log_records = value(map, List(Record(records)))?,
                _ => out.schema_url = value(map, Text)?,
            }
            Ok(())
        }
    }

    #[derive(Clone, Copy)]
    struct ScopeKind;

    impl Kind for ScopeKind {
        type Out = InstrumentationScope;
        const NAME: &'static str = "InstrumentationScope";
        const FIELDS: &'static [&'static str] =
            &["name", "version", "attributes", "droppedAttributesCount"];

        fn field<'de, A: MapAccess<'de>>(
            self,
            out: &mut Self::Out,
            field: &'static str,
            map: &mut A,
            records: &Cell<usize>,
        ) -> Result<(), A::Error> {
            match field {
                "name" => out.name = value(map, Text)?,
                "version" => out.version = value(map, Text)?,
                "attributes" => out.attributes = value(map, List(Message(KeyValueKind, records)))?,
                _ => out.dropped_attributes_count = value(map, Unsigned32)?,
            }
            Ok(())
        }
    }

    /// A log record, counted against [`MAX_RECORDS`] before it is read.
    #[derive(Clone, Copy)]
    struct Record<'r>(&'r Cell<usize>);

    impl<'de> DeserializeSeed<'de> for Record<'_> {
        type Value = LogRecord;

        fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<LogRecord, D::Error> {
            self.0.set(self.0.get() + 1);
            if self.0.get() > MAX_RECORDS {
                return Err(D::Error::custom("too many log records"));
            }
            Message(LogRecordKind, self.0).deserialize(d)
        }
    }

    #[derive(Clone, Copy)]
    struct LogRecordKind;

    impl Kind for LogRecordKind {
        type Out = LogRecord;
        const NAME: &'static str = "LogRecord";
        const FIELDS: &'static [&'static str] = &[
            "timeUnixNano",
            "observedTimeUnixNano",
            "severityNumber",
            "severityText",
            "body",
            "attributes",
            "droppedAttributesCount",
            "flags",
            "traceId",
            "spanId",
            "eventName",
        ];

        fn field<'de, A: MapAccess<'de>>(
            self,
            out: &mut Self::Out,
            field: &'static str,
            map: &mut A,
            records: &Cell<usize>,
        ) -> Result<(), A::Error> {
            match field {
                "timeUnixNano" => out.time_unix_nano = value(map, Unsigned64)?,
                "observedTimeUnixNano" => out.observed_time_unix_nano = value(map, Unsigned64)?,
                "severityNumber" => out.severity_number = value(map, Enumeration)?,
                "severityText" => out.severity_text = value(map, Text)?,
                "body" => {
                    out.body = map.next_value_seed(Nullable(Message(AnyValueKind, records)))?
                }
                "attributes" => out.attributes = value(map, List(Message(KeyValueKind, records)))?,
                "droppedAttributesCount" => out.dropped_attributes_count = value(map, Unsigned32)?,
                "flags" => out.flags = value(map, Unsigned32)?,
                "traceId" => out.trace_id = value(map, Hex)?,
                "spanId" => out.span_id = value(map, Hex)?,
                _ => out.event_name = value(map, Text)?,
            }
            Ok(())
        }
    }

    #[derive(Clone, Copy)]
    struct KeyValueKind;

    impl Kind for KeyValueKind {
        type Out = KeyValue;
        const NAME: &'static str = "KeyValue";
        const FIELDS: &'static [&'static str] = &["key", "value"];

        fn field<'de, A: MapAccess<'de>>(
            self,
            out: &mut Self::Out,
            field: &'static str,
            map: &mut A,
            records: &Cell<usize>,
        ) -> Result<(), A::Error> {
            match field {
                "key" => out.key = value(map, Text)?,
                _ => out.value = map.next_value_seed(Nullable(Message(AnyValueKind, records)))?,
            }
            Ok(())
        }
    }

    /// An `AnyValue`: an object with at most one of its value keys (`null`
    /// values left out). Its nesting is bounded by [`check_nesting`], so the
    /// recursion is too.
    #[derive(Clone, Copy)]
    struct AnyValueKind;

    impl Kind for AnyValueKind {
        type Out = AnyValue;
        const NAME: &'static str = "AnyValue";
        const FIELDS: &'static [&'static str] = &[
            "stringValue",
            "boolValue",
            "intValue",
            "doubleValue",
            "arrayValue",
            "kvlistValue",
            "bytesValue",
        ];

        fn field<'de, A: MapAccess<'de>>(
            self,
            out: &mut Self::Out,
            field: &'static str,
            map: &mut A,
            records: &Cell<usize>,
        ) -> Result<(), A::Error> {
            let one = match field {
                "stringValue" => map
                    .next_value_seed(Nullable(Text))?
                    .map(OtlpValue::StringValue),
                "boolValue" => map.next_value::<Option<bool>>()?.map(OtlpValue::BoolValue),
                "intValue" => map
                    .next_value_seed(Nullable(Signed64))?
                    .map(OtlpValue::IntValue),
                "doubleValue" => map
                    .next_value_seed(Nullable(Double))?
                    .map(OtlpValue::DoubleValue),
                "arrayValue" => map
                    .next_value_seed(Nullable(Message(ArrayKind, records)))?
                    .map(OtlpValue::ArrayValue),
                "kvlistValue" => map
                    .next_value_seed(Nullable(Message(KvlistKind, records)))?
                    .map(OtlpValue::KvlistValue),
                _ => map
                    .next_value_seed(Nullable(Base64))?
                    .map(OtlpValue::BytesValue),
            };
            if let Some(one) = one
                && out.value.replace(one).is_some()
            {
                return Err(A::Error::custom(
                    "an AnyValue holds more than one of stringValue, boolValue, intValue, \
                     doubleValue, arrayValue, kvlistValue and bytesValue",
                ));
            }
            Ok(())
        }
    }

    #[derive(Clone, Copy)]
    struct ArrayKind;

    impl Kind for ArrayKind {
        type Out = ArrayValue;
        const NAME: &'static str = "ArrayValue";
        const FIELDS: &'static [&'static str] = &["values"];

        fn field<'de, A: MapAccess<'de>>(
            self,
            out: &mut Self::Out,
            _: &'static str,
            map: &mut A,
            records: &Cell<usize>,
        ) -> Result<(), A::Error> {
            out.values = value(map, List(Message(AnyValueKind, records)))?;
            Ok(())
        }
    }

    #[derive(Clone, Copy)]
    struct KvlistKind;

    impl Kind for KvlistKind {
        type Out = KeyValueList;
        const NAME: &'static str = "KeyValueList";
        const FIELDS: &'static [&'static str] = &["values"];

        fn field<'de, A: MapAccess<'de>>(
            self,
            out: &mut Self::Out,
            _: &'static str,
            map: &mut A,
            records: &Cell<usize>,
        ) -> Result<(), A::Error> {
            out.values = value(map, List(Message(KeyValueKind, records)))?;
            Ok(())
        }
    }

    /// Defines a seed for a scalar read through `deserialize_any`, with the
    /// visitor methods it accepts.
    macro_rules! scalar {
        ($name:ident -> $out:ty, $expecting:literal, { $($method:item)* }) => {
            #[derive(Clone, Copy)]
            struct $name;

            impl<'de> DeserializeSeed<'de> for $name {
                type Value = $out;

                fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<$out, D::Error> {
                    d.deserialize_any(self)
                }
            }

            impl<'de> Visitor<'de> for $name {
                type Value = $out;

                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str($expecting)
                }

                $($method)*
            }
        };
    }

    scalar!(Text -> String, "a string", {
        fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
            Ok(v.to_owned())
        }

        fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
            Ok(v)
        }
    });

    scalar!(Unsigned64 -> u64, "an unsigned 64-bit integer (a number or a decimal string)", {
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
            Ok(v)
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
            u64::try_from(v).map_err(|_| E::invalid_value(Unexpected::Signed(v), &self))
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<u64, E> {
            v.parse().map_err(|_| E::invalid_value(Unexpected::Str(v), &self))
        }
    });

    scalar!(Unsigned32 -> u32, "an unsigned 32-bit integer", {
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<u32, E> {
            u32::try_from(v).map_err(|_| E::invalid_value(Unexpected::Unsigned(v), &self))
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<u32, E> {
            u32::try_from(v).map_err(|_| E::invalid_value(Unexpected::Signed(v), &self))
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<u32, E> {
            v.parse().map_err(|_| E::invalid_value(Unexpected::Str(v), &self))
        }
    });

    scalar!(Signed64 -> i64, "a 64-bit integer (a number or a decimal string)", {
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
            Ok(v)
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
            i64::try_from(v).map_err(|_| E::invalid_value(Unexpected::Unsigned(v), &self))
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<i64, E> {
            v.parse().map_err(|_| E::invalid_value(Unexpected::Str(v), &self))
        }
    });

    scalar!(Enumeration -> i32, "an integer (OTLP/JSON writes enums as integers)", {
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<i32, E> {
            i32::try_from(v).map_err(|_| E::invalid_value(Unexpected::Signed(v), &self))
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<i32, E> {
            i32::try_from(v).map_err(|_| E::invalid_value(Unexpected::Unsigned(v), &self))
        }
    });

    scalar!(Double -> f64, "a number, or \"NaN\", \"Infinity\" or \"-Infinity\"", {
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
            Ok(v)
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
            Ok(v as f64)
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
            Ok(v as f64)
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<f64, E> {
            match v {
                "NaN" => Ok(f64::NAN),
                "Infinity" => Ok(f64::INFINITY),
                "-Infinity" => Ok(f64::NEG_INFINITY),
                _ => v.parse().map_err(|_| E::invalid_value(Unexpected::Str(v), &self)),
            }
        }
    });

    scalar!(Hex -> Vec<u8>, "a hex string", {
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<u8>, E> {
            hex::decode(v).map_err(|_| E::invalid_value(Unexpected::Str(v), &self))
        }
    });

    scalar!(Base64 -> Vec<u8>, "base64 (standard or URL-safe, padded or not)", {
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<u8>, E> {
            [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
                .iter()
                .find_map(|engine| engine.decode(v).ok())
                .ok_or_else(|| E::invalid_value(Unexpected::Str(v), &self))
        }
    });
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;

    fn s(text: &str) -> AnyValue {
        AnyValue {
            value: Some(OtlpValue::StringValue(text.to_owned())),
        }
    }

    fn int(i: i64) -> AnyValue {
        AnyValue {
            value: Some(OtlpValue::IntValue(i)),
        }
    }

    fn double(d: f64) -> AnyValue {
        AnyValue {
            value: Some(OtlpValue::DoubleValue(d)),
        }
    }

    fn boolean(b: bool) -> AnyValue {
        AnyValue {
            value: Some(OtlpValue::BoolValue(b)),
        }
    }

    fn array(values: Vec<AnyValue>) -> AnyValue {
        AnyValue {
            value: Some(OtlpValue::ArrayValue(ArrayValue { values })),
        }
    }

    fn kvlist(values: Vec<KeyValue>) -> AnyValue {
        AnyValue {
            value: Some(OtlpValue::KvlistValue(KeyValueList { values })),
        }
    }

    fn kv(key: &str, value: AnyValue) -> KeyValue {
        KeyValue {
            key: key.to_owned(),
            value: Some(value),
            key_strindex: 0,
        }
    }

    fn resource(attributes: Vec<KeyValue>) -> Option<Resource> {
        Some(Resource {
            attributes,
            ..Resource::default()
        })
    }

    fn scope(name: &str) -> Option<InstrumentationScope> {
        Some(InstrumentationScope {
            name: name.to_owned(),
            ..InstrumentationScope::default()
        })
    }

    /// `tests/data/otlp/logs/request.json`, built with the prost types.
    fn logs_request() -> ExportLogsServiceRequest {
        let syslog = LogRecord {
            time_unix_nano: 1_718_012_345_678_000_000,
            observed_time_unix_nano: 1_718_012_346_000_000_000,
            severity_number: 9,
            severity_text: "info".to_owned(),
            body: Some(s(
                "<38>Jun 10 09:39:05 web-1 sshd[4242]: Failed password for root from 203.0.113.7 port 52113 ssh2",
            )),
            attributes: vec![
                kv("hostname", s("web-1")),
                kv("appname", s("sshd")),
                kv("proc_id", s("4242")),
                kv(
                    "message",
                    s("Failed password for root from 203.0.113.7 port 52113 ssh2"),
                ),
                kv("priority", int(38)),
                kv("facility", int(4)),
            ],
            ..LogRecord::default()
        };
        let example = LogRecord {
            time_unix_nano: 1_544_712_660_300_000_000,
            observed_time_unix_nano: 1_544_712_660_300_000_000,
            severity_number: 10,
            severity_text: "Information".to_owned(),
            trace_id: hex::decode("5b8efff798038103d269b633813fc60c").unwrap(),
            span_id: hex::decode("eee19b7ec3c1b174").unwrap(),
            body: Some(s("Example log record")),
            attributes: vec![
                kv("string.attribute", s("some string")),
                kv("boolean.attribute", boolean(true)),
                kv("int.attribute", int(10)),
                kv("double.attribute", double(637.704)),
                kv("array.attribute", array(vec![s("many"), s("values")])),
                kv(
                    "map.attribute",
                    kvlist(vec![kv("some.map.key", s("some value"))]),
                ),
                kv(
                    "bytes.attribute",
                    AnyValue {
                        value: Some(OtlpValue::BytesValue(vec![0xde, 0xad, 0xbe, 0xef])),
                    },
                ),
            ],
            ..LogRecord::default()
        };
        let structured = LogRecord {
            observed_time_unix_nano: 1_718_012_400_000_000_000,
            body: Some(kvlist(vec![
                kv("user", s("alice")),
                kv("action", s("login")),
                kv("ok", boolean(false)),
                kv("attempts", int(3)),
                kv("source", kvlist(vec![kv("ip", s("198.51.100.4"))])),
                kv("service.name", s("loses to the attribute")),
                kv("deployment.environment", s("staging")),
            ])),
            attributes: vec![kv("service.name", s("checkout"))],
            ..LogRecord::default()
        };
        let json_body = LogRecord {
            time_unix_nano: 1_718_012_460_000_000_000,
            severity_number: 17,
            severity_text: "ERROR".to_owned(),
            trace_id: vec![0; 16],
            body: Some(s(
                r#"{"eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin"}"#,
            )),
            attributes: vec![
                kv("ratio", double(f64::NAN)),
                kv("empty", AnyValue { value: None }),
                KeyValue {
                    key: "missing".to_owned(),
                    ..KeyValue::default()
                },
                kv("time", s("loses to the record's time")),
            ],
            ..LogRecord::default()
        };
        ExportLogsServiceRequest {
            resource_logs: vec![
                ResourceLogs {
                    resource: resource(vec![
                        kv("service.name", s("rsyslog")),
                        kv("host.name", s("collector-1")),
                    ]),
                    scope_logs: vec![ScopeLogs {
                        scope: scope("syslogreceiver"),
                        log_records: vec![syslog],
                        ..ScopeLogs::default()
                    }],
                    ..ResourceLogs::default()
                },
                ResourceLogs {
                    resource: resource(vec![
                        kv("service.name", s("my.service")),
                        kv("deployment.environment", s("prod")),
                    ]),
                    scope_logs: vec![
                        ScopeLogs {
                            scope: Some(InstrumentationScope {
                                name: "my.library".to_owned(),
                                version: "1.0.0".to_owned(),
                                attributes: vec![kv(
                                    "my.scope.attribute",
                                    s("some scope attribute"),
                                )],
                                ..InstrumentationScope::default()
                            }),
                            log_records: vec![example, structured, json_body],
                            ..ScopeLogs::default()
                        },
                        ScopeLogs {
                            log_records: vec![LogRecord::default()],
                            ..ScopeLogs::default()
                        },
                    ],
                    ..ResourceLogs::default()
                },
            ],
        }
    }

    /// `tests/data/otlp/windowseventlog/request.json`, built with the prost
    /// types: the body the Collector's `windowseventlog` receiver writes.
    fn windowseventlog_request() -> ExportLogsServiceRequest {
        let data = [
            "SubjectUserSid",
            "TargetUserName",
            "LogonType",
            "IpAddress",
            "Status",
        ]
        .into_iter()
        .zip(["S-1-0-0", "administrator", "3", "203.0.113.7", "0xc000006d"])
        .map(|(name, value)| kvlist(vec![kv(name, s(value))]))
        .collect();
        let body = kvlist(vec![
            kv("channel", s("Security")),
            kv("computer", s("WIN-DC1.corp.example.com")),
            kv(
                "event_id",
                kvlist(vec![kv("id", int(4625)), kv("qualifiers", int(0))]),
            ),
            kv(
                "provider",
                kvlist(vec![
                    kv("name", s("Microsoft-Windows-Security-Auditing")),
                    kv("guid", s("{54849625-5478-4994-a5ba-3e3b0328c30d}")),
                    kv("event_source", s("")),
                ]),
            ),
            kv("record_id", int(98213)),
            kv("system_time", s("2024-06-10T09:42:11.1234567Z")),
            kv("level", s("Information")),
            kv("task", s("Logon")),
            kv("opcode", s("Info")),
            kv("keywords", array(vec![s("Audit Failure")])),
            kv("message", s("An account failed to log on.")),
            kv(
                "execution",
                kvlist(vec![kv("process_id", int(684)), kv("thread_id", int(2744))]),
            ),
            kv("security", kvlist(vec![kv("user_id", s(""))])),
            kv("event_data", kvlist(vec![kv("data", array(data))])),
        ]);
        ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: resource(vec![
                    kv("host.name", s("WIN-DC1")),
                    kv("os.type", s("windows")),
                ]),
                scope_logs: vec![ScopeLogs {
                    scope: Some(InstrumentationScope::default()),
                    log_records: vec![LogRecord {
                        time_unix_nano: 1_718_012_531_123_456_700,
                        observed_time_unix_nano: 1_718_012_531_500_000_000,
                        severity_number: 9,
                        severity_text: "Information".to_owned(),
                        body: Some(body),
                        ..LogRecord::default()
                    }],
                    ..ScopeLogs::default()
                }],
                ..ResourceLogs::default()
            }],
        }
    }

    /// The fixture cases: name, OTLP/JSON request, expected lines, and the
    /// same request built with the prost types.
    fn cases() -> Vec<(
        &'static str,
        &'static str,
        &'static str,
        ExportLogsServiceRequest,
    )> {
        vec![
            (
                "logs",
                include_str!("../../tests/data/otlp/logs/request.json"),
                include_str!("../../tests/data/otlp/logs/expected.ndjson"),
                logs_request(),
            ),
            (
                "windowseventlog",
                include_str!("../../tests/data/otlp/windowseventlog/request.json"),
                include_str!("../../tests/data/otlp/windowseventlog/expected.ndjson"),
                windowseventlog_request(),
            ),
        ]
    }

    /// The JSON request gives the expected objects, numbered from 1, and the
    /// protobuf request gives byte-identical lines.
    fn check(name: &str, request: &str, expected: &str, protobuf: &ExportLogsServiceRequest) {
        let lines = decode_logs(request.as_bytes(), OtlpEncoding::Json)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let want: Vec<Value> = expected
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        let got: Vec<Value> = lines
            .iter()
            .map(|(_, bytes)| serde_json::from_slice(bytes).unwrap())
            .collect();
        assert_eq!(got, want, "{name}");
        let numbers: Vec<u64> = lines.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            numbers,
            (1..=want.len() as u64).collect::<Vec<_>>(),
            "{name}"
        );

        let from_protobuf = decode_logs(&protobuf.encode_to_vec(), OtlpEncoding::Protobuf)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(from_protobuf, lines, "{name}: protobuf and JSON differ");
    }

    #[test]
    fn fixtures_give_the_expected_lines_in_both_encodings() {
        for (name, request, expected, protobuf) in cases() {
            check(name, request, expected, &protobuf);
        }
    }

    #[test]
    fn the_json_reader_finds_time_host_and_windows_fields() {
        let source: events::SourceId = Arc::from("otlp");
        let events_of = |request: &str| -> Vec<events::Event> {
            decode_logs(request.as_bytes(), OtlpEncoding::Json)
                .unwrap()
                .iter()
                .flat_map(|(n, line)| sources::parse_json_line(line, &source, *n).unwrap())
                .collect()
        };
        let time = |text: &str| OffsetDateTime::parse(text, &Rfc3339).unwrap();

        let logs = events_of(cases()[0].1);
        let syslog = &logs[0];
        assert_eq!(
            syslog.meta.timestamp,
            Some(time("2024-06-10T09:39:05.678Z"))
        );
        assert_eq!(
            syslog.meta.host.as_deref(),
            Some("web-1"),
            "the sender, not the collector"
        );
        assert_eq!(logs[1].meta.timestamp, Some(time("2018-12-13T14:51:00.3Z")));
        assert_eq!(
            logs[2].meta.timestamp,
            Some(time("2024-06-10T09:40:00Z")),
            "observed time when the record has none"
        );
        assert_eq!(logs[4].meta.timestamp, None);

        let windows = events_of(cases()[1].1);
        let event = &windows[0];
        assert_eq!(event.meta.logsource.product, Some("windows"));
        assert_eq!(event.meta.host.as_deref(), Some("WIN-DC1.corp.example.com"));
        assert_eq!(
            event.meta.timestamp,
            Some(time("2024-06-10T09:42:11.1234567Z"))
        );
        assert_eq!(event.fields["EventRecordID"], json!(98213));
        assert_eq!(event.fields["EventID"], json!(4625));
        assert_eq!(event.fields["Channel"], json!("Security"));
        assert_eq!(
            event.fields["Provider_Name"],
            json!("Microsoft-Windows-Security-Auditing")
        );
        assert_eq!(event.fields["TargetUserName"], json!("administrator"));
        assert_eq!(event.fields["IpAddress"], json!("203.0.113.7"));
        assert_eq!(event.fields["ProcessID"], json!(684));
    }

    #[test]
    fn content_types() {
        let cases = [
            ("application/x-protobuf", Some(OtlpEncoding::Protobuf)),
            ("Application/X-Protobuf", Some(OtlpEncoding::Protobuf)),
            ("application/protobuf", Some(OtlpEncoding::Protobuf)),
            ("application/json", Some(OtlpEncoding::Json)),
            ("application/json; charset=utf-8", Some(OtlpEncoding::Json)),
            (" application/json ;charset=UTF-8", Some(OtlpEncoding::Json)),
            ("text/plain", None),
            ("application/jsonl", None),
            ("", None),
        ];
        for (header, want) in cases {
            assert_eq!(OtlpEncoding::from_content_type(header), want, "{header:?}");
        }
        for encoding in [OtlpEncoding::Protobuf, OtlpEncoding::Json] {
            assert_eq!(
                OtlpEncoding::from_content_type(encoding.content_type()),
                Some(encoding)
            );
        }
    }

    #[test]
    fn export_responses_decode_back() {
        let full = export_response(OtlpEncoding::Protobuf, 0, "");
        assert_eq!(
            ExportLogsServiceResponse::decode(full.as_slice()).unwrap(),
            ExportLogsServiceResponse::default()
        );
        let partial = export_response(OtlpEncoding::Protobuf, 3, "3 records were refused");
        let decoded = ExportLogsServiceResponse::decode(partial.as_slice()).unwrap();
        assert_eq!(
            decoded.partial_success,
            Some(ExportLogsPartialSuccess {
                rejected_log_records: 3,
                error_message: "3 records were refused".to_owned(),
            })
        );
        let warning = export_response(OtlpEncoding::Protobuf, 0, "slow down");
        let decoded = ExportLogsServiceResponse::decode(warning.as_slice()).unwrap();
        assert_eq!(decoded.partial_success.unwrap().rejected_log_records, 0);

        let json_of = |rejected, message| -> Value {
            serde_json::from_slice(&export_response(OtlpEncoding::Json, rejected, message)).unwrap()
        };
        assert_eq!(json_of(0, ""), json!({}));
        assert_eq!(
            json_of(3, "3 records were refused"),
            json!({"partialSuccess": {"rejectedLogRecords": "3", "errorMessage": "3 records were refused"}})
        );
        assert_eq!(
            json_of(0, "slow down"),
            json!({"partialSuccess": {"errorMessage": "slow down"}})
        );
        let huge = export_response(OtlpEncoding::Protobuf, u64::MAX, "");
        let decoded = ExportLogsServiceResponse::decode(huge.as_slice()).unwrap();
        assert_eq!(
            decoded.partial_success.unwrap().rejected_log_records,
            i64::MAX
        );
    }

    #[test]
    fn error_responses_are_statuses() {
        let bytes = error_response(OtlpEncoding::Protobuf, "invalid JSON: EOF");
        let status = Status::decode(bytes.as_slice()).unwrap();
        assert_eq!(status.message, "invalid JSON: EOF");
        let body: Value =
            serde_json::from_slice(&error_response(OtlpEncoding::Json, "too deep")).unwrap();
        assert_eq!(body, json!({"message": "too deep"}));
    }

    #[test]
    fn empty_requests_give_no_lines() {
        assert_eq!(decode_logs(b"", OtlpEncoding::Protobuf), Ok(Vec::new()));
        for body in [
            &b"{}"[..],
            b"\xef\xbb\xbf{}",
            br#"{"resourceLogs": null}"#,
            br#"{"resourceLogs": [{"scopeLogs": [{"logRecords": []}]}]}"#,
            // Original (snake_case) names are not OTLP/JSON: unknown keys,
            // ignored.
            br#"{"resource_logs": [{"scope_logs": [{"log_records": [{}]}]}]}"#,
        ] {
            assert_eq!(decode_logs(body, OtlpEncoding::Json), Ok(Vec::new()));
        }
    }

    #[test]
    fn scalar_and_array_bodies_are_kept_as_json() {
        let request = |body: &str| {
            format!(
                r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{{"body":{body}}}]}}]}}]}}"#
            )
        };
        let cases = [
            (r#"{"intValue": "-7"}"#, json!({"body": -7})),
            (r#"{"doubleValue": "Infinity"}"#, json!({})),
            (r#"{"boolValue": false}"#, json!({"body": false})),
            (r#"{"bytesValue": "3q2-7w"}"#, json!({"body": "3q2+7w=="})),
            (
                r#"{"arrayValue": {"values": [{"intValue": 1}, {}]}}"#,
                json!({"body": [1, null]}),
            ),
            (r#"{}"#, json!({})),
            (r#"{"stringValue": "[1, 2]"}"#, json!({"body": "[1, 2]"})),
            (
                r#"{"stringValue": "{\"a\": 1"}"#,
                json!({"body": "{\"a\": 1"}),
            ),
            (r#"{"futureValue": 1}"#, json!({})),
        ];
        for (body, want) in cases {
            let lines = decode_logs(request(body).as_bytes(), OtlpEncoding::Json).unwrap();
            let got: Value = serde_json::from_slice(&lines[0].1).unwrap();
            assert_eq!(got, want, "{body}");
        }
    }

    /// A value nested `levels` deep (the leaf string at level `levels`).
    fn nested(levels: usize, as_array: bool) -> (AnyValue, String) {
        let mut value = s("leaf");
        let mut json = r#"{"stringValue":"leaf"}"#.to_owned();
        for _ in 1..levels {
            if as_array {
                value = array(vec![value]);
                json = format!(r#"{{"arrayValue":{{"values":[{json}]}}}}"#);
            } else {
                value = kvlist(vec![kv("k", value)]);
                json = format!(r#"{{"kvlistValue":{{"values":[{{"key":"k","value":{json}}}]}}}}"#);
            }
        }
        (value, json)
    }

    /// A request of one record with `value` as its body or as an attribute,
    /// in both encodings.
    fn one_record(value: AnyValue, json: &str, as_body: bool) -> (Vec<u8>, String) {
        let record = if as_body {
            LogRecord {
                body: Some(value),
                ..LogRecord::default()
            }
        } else {
            LogRecord {
                attributes: vec![kv("a", value)],
                ..LogRecord::default()
            }
        };
        let request = ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                scope_logs: vec![ScopeLogs {
                    log_records: vec![record],
                    ..ScopeLogs::default()
                }],
                ..ResourceLogs::default()
            }],
        };
        let field = if as_body {
            format!(r#""body":{json}"#)
        } else {
            format!(r#""attributes":[{{"key":"a","value":{json}}}]"#)
        };
        let json =
            format!(r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{{{field}}}]}}]}}]}}"#);
        (request.encode_to_vec(), json)
    }

    #[test]
    fn values_nest_32_levels_and_no_deeper() {
        for as_array in [false, true] {
            for as_body in [false, true] {
                let what = format!("array {as_array}, body {as_body}");
                let (value, json) = nested(MAX_DEPTH, as_array);
                let (protobuf, json) = one_record(value, &json, as_body);
                let from_protobuf = decode_logs(&protobuf, OtlpEncoding::Protobuf)
                    .unwrap_or_else(|e| panic!("{what}: {e}"));
                let from_json = decode_logs(json.as_bytes(), OtlpEncoding::Json)
                    .unwrap_or_else(|e| panic!("{what}: {e}"));
                assert_eq!(from_protobuf, from_json, "{what}");

                let (value, json) = nested(MAX_DEPTH + 1, as_array);
                let (protobuf, json) = one_record(value, &json, as_body);
                let too_deep = Err(OtlpError::TooDeep {
                    location: "record 1".to_owned(),
                    max: MAX_DEPTH,
                });
                assert_eq!(
                    decode_logs(&protobuf, OtlpEncoding::Protobuf),
                    too_deep,
                    "{what}"
                );
                assert_eq!(
                    decode_logs(json.as_bytes(), OtlpEncoding::Json),
                    too_deep,
                    "{what}"
                );
            }
        }
        // Resource attributes too.
        let (value, json) = nested(MAX_DEPTH + 1, false);
        let request = ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: resource(vec![kv("r", value)]),
                ..ResourceLogs::default()
            }],
        };
        assert!(matches!(
            decode_logs(&request.encode_to_vec(), OtlpEncoding::Protobuf),
            Err(OtlpError::TooDeep { .. })
        ));
        let json = format!(
            r#"{{"resourceLogs":[{{"resource":{{"attributes":[{{"key":"r","value":{json}}}]}}}}]}}"#
        );
        assert!(matches!(
            decode_logs(json.as_bytes(), OtlpEncoding::Json),
            Err(OtlpError::TooDeep { .. })
        ));
    }

    #[test]
    fn the_deepest_json_fits_a_small_stack() {
        // The deepest request accepted, the deepest the JSON scan lets
        // through to the parser (arrays nest 3 JSON levels a value, so about
        // 50 values), and JSON nested to the limit in an unknown key; a
        // quarter of the 2 MiB of a tokio worker's stack, unoptimised.
        let (value, deepest) = nested(MAX_DEPTH, false);
        let (_, deepest) = one_record(value, &deepest, false);
        let (value, arrays) = nested(50, true);
        let (_, arrays) = one_record(value, &arrays, true);
        let nesting = MAX_JSON_NESTING - 1;
        let unknown = format!(r#"{{"x":{}{}}}"#, "[".repeat(nesting), "]".repeat(nesting));
        let results = std::thread::Builder::new()
            .stack_size(512 * 1024)
            .spawn(move || {
                [deepest, arrays, unknown].map(|body| {
                    decode_logs(body.as_bytes(), OtlpEncoding::Json).map(|lines| lines.len())
                })
            })
            .unwrap()
            .join()
            .unwrap();
        let too_deep = OtlpError::TooDeep {
            location: "record 1".to_owned(),
            max: MAX_DEPTH,
        };
        assert_eq!(results, [Ok(1), Err(too_deep), Ok(0)]);
    }

    #[test]
    fn hostile_nesting_is_refused_without_recursing() {
        // Unknown keys may hold anything, but not 100,000 levels of it.
        let json = format!(r#"{{"x":{}{}}}"#, "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(
            decode_logs(json.as_bytes(), OtlpEncoding::Json),
            Err(OtlpError::JsonTooDeep {
                max: MAX_JSON_NESTING
            })
        );
        // 2,000 nested kvlists in a body, written out by hand.
        let mut value = Vec::new();
        for _ in 0..2000 {
            let mut pair = vec![0x12]; // KeyValue.value
            push_len(&mut pair, value.len());
            pair.extend_from_slice(&value);
            let mut list = vec![0x0a]; // KeyValueList.values
            push_len(&mut list, pair.len());
            list.extend_from_slice(&pair);
            value = vec![0x32]; // AnyValue.kvlist_value
            push_len(&mut value, list.len());
            value.extend_from_slice(&list);
        }
        let mut body = value;
        for tag in [0x2a, 0x12, 0x12, 0x0a] {
            // LogRecord.body, ScopeLogs.log_records, ResourceLogs.scope_logs,
            // request.resource_logs.
            let mut outer = vec![tag];
            push_len(&mut outer, body.len());
            outer.extend_from_slice(&body);
            body = outer;
        }
        assert!(matches!(
            decode_logs(&body, OtlpEncoding::Protobuf),
            Err(OtlpError::TooDeep { .. })
        ));
    }

    fn push_len(out: &mut Vec<u8>, mut len: usize) {
        while len >= 0x80 {
            out.push((len as u8) | 0x80);
            len >>= 7;
        }
        out.push(len as u8);
    }

    #[test]
    fn at_most_100_000_records() {
        let request = |records: usize| ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                scope_logs: vec![ScopeLogs {
                    log_records: vec![LogRecord::default(); records],
                    ..ScopeLogs::default()
                }],
                ..ResourceLogs::default()
            }],
        };
        let too_many = Err(OtlpError::TooManyRecords { max: MAX_RECORDS });
        let lines = decode_logs(
            &request(MAX_RECORDS).encode_to_vec(),
            OtlpEncoding::Protobuf,
        );
        assert_eq!(lines.map(|l| l.len()), Ok(MAX_RECORDS));
        assert_eq!(
            decode_logs(
                &request(MAX_RECORDS + 1).encode_to_vec(),
                OtlpEncoding::Protobuf
            ),
            too_many
        );
        let json = |records: usize| {
            format!(
                r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{}]}}]}}]}}"#,
                vec!["{}"; records].join(",")
            )
        };
        let lines = decode_logs(json(MAX_RECORDS).as_bytes(), OtlpEncoding::Json);
        assert_eq!(lines.map(|l| l.len()), Ok(MAX_RECORDS));
        assert_eq!(
            decode_logs(json(MAX_RECORDS + 1).as_bytes(), OtlpEncoding::Json),
            too_many
        );
    }

    #[test]
    fn at_most_5_000_000_values() {
        // Empty attributes cost two bytes each on the wire, and far more
        // decoded: refused before prost allocates them.
        let mut attributes = b"\x0a\x00".repeat(MAX_VALUES);
        let mut resource = vec![0x0a]; // ResourceLogs.resource
        push_len(&mut resource, attributes.len());
        resource.append(&mut attributes);
        let mut body = vec![0x0a]; // request.resource_logs
        push_len(&mut body, resource.len());
        body.append(&mut resource);
        assert_eq!(
            decode_logs(&body, OtlpEncoding::Protobuf),
            Err(OtlpError::TooManyValues { max: MAX_VALUES })
        );
        let json = format!(r#"{{"x":[{}]}}"#, "{},".repeat(MAX_VALUES));
        assert_eq!(
            decode_logs(json.as_bytes(), OtlpEncoding::Json),
            Err(OtlpError::TooManyValues { max: MAX_VALUES })
        );
    }

    #[test]
    fn malformed_protobuf_is_an_error() {
        // A record whose severity text is not UTF-8.
        let mut bad_utf8 = ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                scope_logs: vec![ScopeLogs {
                    log_records: vec![LogRecord {
                        severity_text: "~".to_owned(),
                        ..LogRecord::default()
                    }],
                    ..ScopeLogs::default()
                }],
                ..ResourceLogs::default()
            }],
        }
        .encode_to_vec();
        let tilde = bad_utf8.iter().position(|&b| b == b'~').unwrap();
        bad_utf8[tilde] = 0xff;
        let mut overflow = vec![0x0a];
        overflow.extend([0xff; 10]);
        let cases: &[(&[u8], &str)] = &[
            (
                b"\x0a\x05\x12",
                "a length runs past the end of its message (at byte 0)",
            ),
            (
                b"\x0a",
                "a varint runs past the end of its message (at byte 1)",
            ),
            (&overflow, "a varint overflows 64 bits (at byte 1)"),
            (
                b"\x08\x01",
                "field 1 of ResourceLogs has wire type 0, not a message",
            ),
            (b"\x00", "invalid field tag 0"),
            (b"\x1b", "groups are not part of OTLP"),
            (b"\x1f", "invalid wire type 7"),
            (b"\x19\x01\x02", "a field runs past the end of its message"),
            (&bad_utf8, "invalid string value: data is not UTF-8 encoded"),
            (b"not protobuf at all", ""),
        ];
        for (body, message) in cases {
            match decode_logs(body, OtlpEncoding::Protobuf) {
                Err(OtlpError::Protobuf(got)) => {
                    assert!(got.contains(message), "{body:?}: {got}");
                }
                other => panic!("{body:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn malformed_json_is_an_error_that_says_where() {
        let record = |fields: &str| {
            format!(
                r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{{}},{{{fields}}}]}}]}}]}}"#
            )
        };
        let cases = [
            (
                r#"{"resourceLogs": {}}"#.to_owned(),
                "invalid type: map, expected an array at line 1 column 19",
            ),
            (
                "[]".to_owned(),
                "invalid type: sequence, expected an OTLP/JSON ExportLogsServiceRequest object",
            ),
            (
                record(r#""attributes":[{"key":"a","value":{"intValue":"ten"}}]"#),
                r#"invalid value: string "ten", expected a 64-bit integer (a number or a decimal string) at line 1 column 100"#,
            ),
            (
                record(r#""traceId":"not hex""#),
                r#"invalid value: string "not hex", expected a hex string"#,
            ),
            (
                record(r#""timeUnixNano":-1"#),
                "invalid value: integer `-1`, expected an unsigned 64-bit integer",
            ),
            (
                record(r#""severityNumber":"SEVERITY_NUMBER_INFO""#),
                "expected an integer (OTLP/JSON writes enums as integers)",
            ),
            (
                record(r#""body":{"stringValue":"a","intValue":1}"#),
                "an AnyValue holds more than one of",
            ),
            (
                record(r#""body":{"kvlistValue":{"values":[{"key":1}]}}"#),
                "invalid type: integer `1`, expected a string",
            ),
            (record(r#""body":{"bytesValue":"%%%"}"#), "expected base64"),
            (
                record(r#""flags":4294967296"#),
                "expected an unsigned 32-bit integer",
            ),
            (
                r#"{"resourceLogs":[{"resource":"x"}]}"#.to_owned(),
                "expected an OTLP/JSON Resource object",
            ),
            (
                record(r#""attributes":[null,null]"#),
                "invalid type: null, expected an OTLP/JSON KeyValue object",
            ),
        ];
        for (body, message) in &cases {
            match decode_logs(body.as_bytes(), OtlpEncoding::Json) {
                Err(OtlpError::Json(got)) => assert!(got.contains(message), "{body}: {got}"),
                other => panic!("{body}: {other:?}"),
            }
        }
        for body in ["", "{", r#"{"resourceLogs":[]} {}"#, "\u{0}", r#"{"a":1,}"#] {
            assert!(
                matches!(
                    decode_logs(body.as_bytes(), OtlpEncoding::Json),
                    Err(OtlpError::Syntax(_))
                ),
                "{body:?}"
            );
        }
    }

    /// A small deterministic generator (xorshift64), for mangling inputs.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    #[test]
    fn mangled_input_never_panics() {
        let protobuf = logs_request().encode_to_vec();
        let json = cases()[0].1.as_bytes();
        for (body, encoding) in [
            (&protobuf[..], OtlpEncoding::Protobuf),
            (json, OtlpEncoding::Json),
        ] {
            for end in 0..body.len() {
                let _ = decode_logs(&body[..end], encoding);
            }
            let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
            for _ in 0..2000 {
                let mut mangled = body.to_vec();
                for _ in 0..=rng.below(4) {
                    let at = rng.below(mangled.len());
                    mangled[at] = rng.next() as u8;
                }
                let _ = decode_logs(&mangled, encoding);
            }
            for _ in 0..2000 {
                let len = rng.below(64);
                let noise: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
                let _ = decode_logs(&noise, encoding);
            }
        }
    }
}
