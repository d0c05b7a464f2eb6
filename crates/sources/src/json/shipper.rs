//! Windows events that a log shipper wrote as JSON, put back into the
//! fields an EVTX record gives (`super::super::evtx`), so the same Sigma
//! rules and the same logsource routing apply to them.
//!
//! - **Winlogbeat** (Elastic's ECS layout): `winlog.channel`,
//!   `winlog.event_id`, `winlog.provider_name`, `winlog.record_id`,
//!   `winlog.computer_name`, `winlog.event_data.*` (unnamed `<Data>` as
//!   `param1..N`), `winlog.user_data.*` (with its element name in
//!   `xml_name`), `@timestamp`.
//! - **NXLog** `im_msvistalog` with `to_json()`: a flat object, with
//!   `SourceName` as the provider, `Hostname`, `RecordNumber`, `EventTime`
//!   and the event data fields beside them.
//! - The **OpenTelemetry Collector**'s `windowseventlog` receiver (the log
//!   record's body, as JSON): `channel`, `computer`, `event_id.id`,
//!   `provider.name`, `record_id`, `system_time`, `execution`, `security`,
//!   and `event_data` either as a map (unnamed data as `param1..N`) or, in
//!   its array format, as `data: [{"Name": value}, ...]` (unnamed data
//!   under the empty name).
//!
//! Each is recognised by its shape and mapped by a hand-written table;
//! anything else is left as it is.

use events::{Map, Value};

/// The EVTX fields of a shipper's Windows event, or the object back when it
/// is not one.
pub(crate) fn windows_fields(
    map: Map<String, Value>,
) -> Result<Map<String, Value>, Map<String, Value>> {
    if is_winlogbeat(&map) {
        return Ok(from_winlogbeat(map));
    }
    if is_nxlog(&map) {
        return Ok(from_nxlog(map));
    }
    if is_otel(&map) {
        return Ok(from_otel(map));
    }
    Err(map)
}

fn is_winlogbeat(map: &Map<String, Value>) -> bool {
    matches!(map.get("winlog"), Some(Value::Object(w)) if w.contains_key("channel") && w.contains_key("event_id"))
}

fn is_nxlog(map: &Map<String, Value>) -> bool {
    map.contains_key("SourceName")
        && map.contains_key("EventID")
        && map.contains_key("Channel")
        && (map.contains_key("SourceModuleType") || map.contains_key("EventTime"))
}

fn is_otel(map: &Map<String, Value>) -> bool {
    map.contains_key("channel")
        && map.contains_key("system_time")
        && matches!(map.get("event_id"), Some(Value::Object(e)) if e.contains_key("id"))
        && matches!(map.get("provider"), Some(Value::Object(p)) if p.contains_key("name"))
}

/// The OpenTelemetry receiver's keys, and objects of keys, that name an
/// EVTX `System` field.
const OTEL_SYSTEM: &[(&str, &str, &str)] = &[
    ("channel", "", "Channel"),
    ("computer", "", "Computer"),
    ("record_id", "", "EventRecordID"),
    ("system_time", "", "TimeCreated_SystemTime"),
    ("version", "", "Version"),
    ("event_id", "id", "EventID"),
    ("event_id", "qualifiers", "Qualifiers"),
    ("provider", "name", "Provider_Name"),
    ("provider", "guid", "Provider_Guid"),
    ("provider", "event_source", "Provider_EventSourceName"),
    ("execution", "process_id", "ProcessID"),
    ("execution", "thread_id", "ThreadID"),
    ("security", "user_id", "Security_UserID"),
    ("correlation", "activity_id", "ActivityID"),
    ("correlation", "related_activity_id", "RelatedActivityID"),
];

fn from_otel(mut map: Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for (key, inner, to) in OTEL_SYSTEM {
        let value = if inner.is_empty() {
            map.get(*key)
        } else {
            map.get(*key).and_then(|v| v.get(*inner))
        };
        // The receiver writes every field, empty when the event has none.
        let Some(value) = value.filter(|v| !v.is_null() && *v != "") else {
            continue;
        };
        if *to == "Qualifiers" && (value == 0 || value == "0") {
            continue;
        }
        out.insert((*to).to_owned(), system_value(to, value.clone()));
    }
    let Some(Value::Object(mut data)) = map.remove("event_data") else {
        return out;
    };
    data.remove("name");
    data.remove("binary");
    match data.remove("data") {
        Some(Value::Array(items)) => {
            let mut unnamed = Vec::new();
            for item in items {
                let Value::Object(one) = item else { continue };
                for (name, value) in one {
                    if name.is_empty() {
                        unnamed.push(value);
                    } else {
                        super::super::evtx::insert_named(&mut out, name, value);
                    }
                }
            }
            if !unnamed.is_empty() {
                super::super::evtx::insert_unnamed(&mut out, Value::Array(unnamed));
            }
        }
        Some(other) => {
            data.insert("data".to_owned(), other);
            event_data(data, &mut out);
        }
        None => event_data(data, &mut out),
    }
    out
}

/// Winlogbeat's `winlog` keys that name an EVTX `System` field.
const WINLOGBEAT_SYSTEM: &[(&str, &str)] = &[
    ("channel", "Channel"),
    ("event_id", "EventID"),
    ("provider_name", "Provider_Name"),
    ("provider_guid", "Provider_Guid"),
    ("record_id", "EventRecordID"),
    ("computer_name", "Computer"),
    ("version", "Version"),
    ("activity_id", "ActivityID"),
    ("related_activity_id", "RelatedActivityID"),
];

fn from_winlogbeat(mut map: Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    let Some(Value::Object(mut winlog)) = map.remove("winlog") else {
        return out;
    };
    for (from, to) in WINLOGBEAT_SYSTEM {
        if let Some(v) = winlog.remove(*from) {
            out.insert((*to).to_owned(), system_value(to, v));
        }
    }
    if let Some(Value::Object(mut process)) = winlog.remove("process") {
        if let Some(pid) = process.remove("pid") {
            out.insert("ProcessID".to_owned(), pid);
        }
        if let Some(Value::Object(mut thread)) = process.remove("thread")
            && let Some(id) = thread.remove("id")
        {
            out.insert("ThreadID".to_owned(), id);
        }
    }
    if let Some(Value::Object(mut user)) = winlog.remove("user")
        && let Some(sid) = user.remove("identifier")
    {
        out.insert("Security_UserID".to_owned(), sid);
    }
    if let Some(t) = map.remove("@timestamp") {
        out.insert("TimeCreated_SystemTime".to_owned(), t);
    }
    if let Some(Value::Object(data)) = winlog.remove("event_data") {
        event_data(data, &mut out);
    }
    if let Some(Value::Object(data)) = winlog.remove("user_data") {
        for (name, value) in data {
            if name != "xml_name" {
                super::super::evtx::insert_named(&mut out, name, value);
            }
        }
    }
    out
}

/// Event data fields. Unnamed `<Data>` elements, which Winlogbeat names
/// `param1..N`, also come out as EVTX names them (`Data1..N` and the
/// `Data` list); the `paramN` names stay too, since some events (System
/// 7036) name their data `param1..N` themselves.
fn event_data(data: Map<String, Value>, out: &mut Map<String, Value>) {
    let params: Vec<Value> = (1..)
        .map_while(|i| data.get(format!("param{i}").as_str()).cloned())
        .collect();
    for (name, value) in data {
        super::super::evtx::insert_named(out, name, value);
    }
    if !params.is_empty() && !out.contains_key("Data") {
        super::super::evtx::insert_unnamed(out, Value::Array(params));
    }
}

/// NXLog's names for EVTX `System` fields.
const NXLOG_SYSTEM: &[(&str, &str)] = &[
    ("SourceName", "Provider_Name"),
    ("ProviderGuid", "Provider_Guid"),
    ("Hostname", "Computer"),
    ("RecordNumber", "EventRecordID"),
    ("EventTime", "TimeCreated_SystemTime"),
    ("UserID", "Security_UserID"),
    ("ActivityID", "ActivityID"),
    ("RelatedActivityID", "RelatedActivityID"),
];

/// Fields only NXLog adds, dropped: when it received the event, which
/// module read it, number forms of fields it also writes as text, and the
/// rendered message (EVTX records carry no rendered text, and keyword
/// rules would otherwise search it).
const NXLOG_OWN: &[&str] = &[
    "EventReceivedTime",
    "SourceModuleName",
    "SourceModuleType",
    "SeverityValue",
    "OpcodeValue",
    "Message",
];

/// NXLog's `EventType` values; an event data field of that name (Sysmon's
/// registry events have one) holds something else, and stays.
const NXLOG_EVENT_TYPES: &[&str] = &[
    "AUDIT_SUCCESS",
    "AUDIT_FAILURE",
    "CRITICAL",
    "ERROR",
    "WARNING",
    "INFO",
    "VERBOSE",
];

fn from_nxlog(mut map: Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for own in NXLOG_OWN {
        map.remove(*own);
    }
    if map
        .get("EventType")
        .and_then(Value::as_str)
        .is_some_and(|t| NXLOG_EVENT_TYPES.contains(&t))
    {
        map.remove("EventType");
        map.remove("Severity");
    }
    // The account NXLog resolved from `UserID`, and the task's name.
    if map.contains_key("UserID") {
        for k in ["Domain", "AccountName", "AccountType"] {
            map.remove(k);
        }
    }
    if map.contains_key("Task") {
        map.remove("Category");
    }
    for (from, to) in NXLOG_SYSTEM {
        if let Some(v) = map.remove(*from) {
            out.insert((*to).to_owned(), system_value(to, v));
        }
    }
    for (name, value) in map {
        let value = if name == "EventID" {
            system_value("EventID", value)
        } else {
            value
        };
        out.insert(name, value);
    }
    out
}

/// A `System` value as EVTX gives it: event ids and record numbers are
/// numbers even when a shipper wrote them as text.
fn system_value(name: &str, value: Value) -> Value {
    match (name, &value) {
        ("EventID" | "EventRecordID" | "Version", Value::String(s)) => {
            s.parse::<u64>().map(Value::from).unwrap_or(value)
        }
        _ => value,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::test_util::obj;

    #[test]
    fn winlogbeat_becomes_evtx_fields() {
        // The layout of Winlogbeat's documentation (ECS), abridged.
        let doc = obj(json!({
            "@timestamp": "2019-03-18T16:57:38.123Z",
            "event": {"code": "4688", "kind": "event"},
            "host": {"name": "WIN-1"},
            "winlog": {
                "channel": "Security",
                "event_id": "4688",
                "provider_name": "Microsoft-Windows-Security-Auditing",
                "provider_guid": "{54849625-5478-4994-a5ba-3e3b0328c30d}",
                "record_id": "1234",
                "computer_name": "WIN-1.example.com",
                "process": {"pid": 4, "thread": {"id": 96}},
                "event_data": {"NewProcessName": "C:\\Windows\\System32\\whoami.exe", "Sub Status": "0x0"}
            }
        }));
        let got = windows_fields(doc).unwrap();
        let want = obj(json!({
            "Channel": "Security",
            "EventID": 4688,
            "Provider_Name": "Microsoft-Windows-Security-Auditing",
            "Provider_Guid": "{54849625-5478-4994-a5ba-3e3b0328c30d}",
            "EventRecordID": 1234,
            "Computer": "WIN-1.example.com",
            "ProcessID": 4,
            "ThreadID": 96,
            "TimeCreated_SystemTime": "2019-03-18T16:57:38.123Z",
            "NewProcessName": "C:\\Windows\\System32\\whoami.exe",
            "Sub Status": "0x0",
            "SubStatus": "0x0"
        }));
        assert_eq!(got, want);
    }

    #[test]
    fn winlogbeat_unnamed_data_and_user_data() {
        let doc = obj(json!({
            "winlog": {
                "channel": "Application", "event_id": 1000,
                "event_data": {"param1": "a", "param2": "b"},
                "user_data": {"xml_name": "LogFileCleared", "SubjectUserName": "bob"}
            }
        }));
        let got = windows_fields(doc).unwrap();
        assert_eq!(got["Data1"], json!("a"));
        assert_eq!(got["Data2"], json!("b"));
        assert_eq!(got["Data"], json!(["a", "b"]));
        assert_eq!(got["SubjectUserName"], json!("bob"));
        assert!(!got.contains_key("xml_name"));
        assert_eq!(got["param1"], json!("a"));
    }

    #[test]
    fn nxlog_becomes_evtx_fields() {
        // `im_msvistalog` with `to_json()`, from NXLog's documentation.
        let doc = obj(json!({
            "EventTime": "2019-03-18 16:57:38",
            "Hostname": "WIN-1.example.com",
            "Keywords": -9214364837600034816i64,
            "EventType": "AUDIT_SUCCESS",
            "SeverityValue": 2,
            "Severity": "INFO",
            "EventID": 4688,
            "SourceName": "Microsoft-Windows-Security-Auditing",
            "ProviderGuid": "{54849625-5478-4994-A5BA-3E3B0328C30D}",
            "Version": 2,
            "Task": 13312,
            "OpcodeValue": 0,
            "RecordNumber": 1234,
            "ProcessID": 4,
            "ThreadID": 96,
            "Channel": "Security",
            "Message": "A new process has been created.",
            "NewProcessName": "C:\\Windows\\System32\\whoami.exe",
            "EventReceivedTime": "2019-03-18 16:57:39",
            "SourceModuleName": "eventlog",
            "SourceModuleType": "im_msvistalog"
        }));
        let got = windows_fields(doc).unwrap();
        let want = obj(json!({
            "Provider_Name": "Microsoft-Windows-Security-Auditing",
            "Provider_Guid": "{54849625-5478-4994-A5BA-3E3B0328C30D}",
            "Computer": "WIN-1.example.com",
            "EventRecordID": 1234,
            "TimeCreated_SystemTime": "2019-03-18 16:57:38",
            "Keywords": -9214364837600034816i64,
            "EventID": 4688,
            "Version": 2,
            "Task": 13312,
            "ProcessID": 4,
            "ThreadID": 96,
            "Channel": "Security",
            "NewProcessName": "C:\\Windows\\System32\\whoami.exe"
        }));
        assert_eq!(got, want);
    }

    #[test]
    fn nxlog_keeps_event_data_that_shares_a_name_with_its_own_fields() {
        let doc = obj(json!({
            "EventTime": "2019-08-03 10:14:02", "Hostname": "h", "EventID": 13,
            "SourceName": "Microsoft-Windows-Sysmon", "Channel": "Microsoft-Windows-Sysmon/Operational",
            "EventType": "SetValue", "TargetObject": "HKU\\x", "SourceModuleType": "im_msvistalog"
        }));
        let got = windows_fields(doc).unwrap();
        assert_eq!(got["EventType"], json!("SetValue"));
        assert_eq!(got["Provider_Name"], json!("Microsoft-Windows-Sysmon"));
    }

    #[test]
    fn opentelemetry_body_becomes_evtx_fields() {
        // The body the receiver writes (array format for event data).
        let body = obj(json!({
            "channel": "Security", "computer": "WIN-1.example.com",
            "event_id": {"id": 4688, "qualifiers": 0},
            "provider": {"name": "Microsoft-Windows-Security-Auditing", "guid": "{54849625-5478-4994-a5ba-3e3b0328c30d}", "event_source": ""},
            "record_id": 1234, "system_time": "2019-03-18T16:57:38.1234567Z",
            "level": "Information", "task": "Process Creation", "opcode": "Info",
            "keywords": ["Audit Success"], "message": "A new process has been created.",
            "execution": {"process_id": 4, "thread_id": 96},
            "event_data": {"data": [{"NewProcessName": "C:\\Windows\\System32\\whoami.exe"}, {"": "x"}]}
        }));
        let got = windows_fields(body).unwrap();
        let want = obj(json!({
            "Channel": "Security",
            "Computer": "WIN-1.example.com",
            "EventRecordID": 1234,
            "TimeCreated_SystemTime": "2019-03-18T16:57:38.1234567Z",
            "EventID": 4688,
            "Provider_Name": "Microsoft-Windows-Security-Auditing",
            "Provider_Guid": "{54849625-5478-4994-a5ba-3e3b0328c30d}",
            "ProcessID": 4,
            "ThreadID": 96,
            "NewProcessName": "C:\\Windows\\System32\\whoami.exe",
            "Data1": "x",
            "Data": ["x"]
        }));
        assert_eq!(got, want);
        // Map format: named keys, unnamed as paramN.
        let body = obj(json!({
            "channel": "Application", "system_time": "2019-03-18T16:57:38Z",
            "event_id": {"id": 15457}, "provider": {"name": "MSSQLSERVER"},
            "event_data": {"param1": "xp_cmdshell", "param2": "0", "binary": "AB"}
        }));
        let got = windows_fields(body).unwrap();
        assert_eq!(got["Data"], json!(["xp_cmdshell", "0"]));
        assert!(!got.contains_key("binary"));
    }

    #[test]
    fn other_json_is_left_alone() {
        for doc in [
            json!({"winlog": {"channel": "Security"}}),
            json!({"EventID": 1, "Channel": "x"}),
            json!({"eventSource": "s3.amazonaws.com", "eventName": "GetObject"}),
        ] {
            let map = obj(doc.clone());
            assert_eq!(windows_fields(map), Err(obj(doc)));
        }
    }
}
