//! Windows events arriving as JSON from a log shipper give the detections
//! the EVTX files give.
//!
//! Every record of EVTX-ATTACK-SAMPLES is written (rendered by the `evtx`
//! crate, as `evtx_dump -o json` does) into the JSON layout of each
//! shipper, as its documentation shows it: Winlogbeat's ECS document
//! (`winlog.*`, `@timestamp` in milliseconds), NXLog's flat
//! `im_msvistalog` object (`EventTime` in seconds), and the body of the
//! OpenTelemetry Collector's `windowseventlog` receiver (array format). Hunting those files
//! must give the detections of the golden file (`tests/golden/evtx.jsonl`,
//! recorded from the `.evtx` files), matched by file, record, rule and
//! time at the shipper's precision.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use serde_json::{Map, Value, json};

mod common;
use common::{corpus, golden, hunt_dir};

/// `{"#attributes": {..}}` of an element.
fn attrs(v: Option<&Value>) -> Map<String, Value> {
    v.and_then(|v| v.get("#attributes"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

/// An element's text: the value, or its `#text`.
fn text(v: &Value) -> Value {
    match v {
        Value::Object(m) if m.contains_key("#text") => m["#text"].clone(),
        other => other.clone(),
    }
}

/// One record as `evtx_dump -o json` renders it.
struct Record {
    system: Map<String, Value>,
    /// Named event data, in order.
    named: Vec<(String, Value)>,
    /// Unnamed `<Data>` values.
    unnamed: Vec<Value>,
    /// `UserData`: its element name and fields.
    user_data: Option<(String, Map<String, Value>)>,
}

fn record(root: &Value) -> Record {
    let event = &root["Event"];
    let system = event["System"].as_object().cloned().unwrap_or_default();
    let mut named = Vec::new();
    let mut unnamed = Vec::new();
    if let Some(data) = event.get("EventData").and_then(Value::as_object) {
        for (k, v) in data {
            match k.as_str() {
                "#attributes" => {}
                "Data" | "#text" => match text(v) {
                    Value::Array(items) => unnamed.extend(items.iter().map(text)),
                    Value::Null => {}
                    one => unnamed.push(one),
                },
                _ => named.push((k.clone(), text(v))),
            }
        }
    }
    let user_data = event
        .get("UserData")
        .and_then(Value::as_object)
        .and_then(|m| m.iter().find(|(k, _)| *k != "#attributes"))
        .and_then(|(name, v)| {
            let fields: Map<String, Value> = v
                .as_object()?
                .iter()
                .filter(|(k, _)| *k != "#attributes")
                .map(|(k, v)| (k.clone(), text(v)))
                .collect();
            Some((name.clone(), fields))
        });
    Record {
        system,
        named,
        unnamed,
        user_data,
    }
}

fn system_time(r: &Record) -> String {
    attrs(r.system.get("TimeCreated"))["SystemTime"]
        .as_str()
        .unwrap()
        .to_string()
}

fn event_id(r: &Record) -> Value {
    text(&r.system["EventID"])
}

fn record_id(r: &Record) -> u64 {
    r.system["EventRecordID"].as_u64().unwrap()
}

/// `2019-03-18T16:57:38.1234567Z` at millisecond or second precision.
fn truncate(t: &str, digits: usize) -> String {
    let (head, rest) = t.split_once('.').unwrap_or((t.trim_end_matches('Z'), ""));
    let frac: String = rest.trim_end_matches('Z').chars().take(digits).collect();
    if digits == 0 {
        head.to_string()
    } else {
        format!("{head}.{frac:0<digits$}Z")
    }
}

/// Winlogbeat's document for a record.
fn winlogbeat(r: &Record) -> Value {
    let provider = attrs(r.system.get("Provider"));
    let execution = attrs(r.system.get("Execution"));
    let mut winlog = json!({
        "channel": r.system["Channel"],
        "event_id": event_id(r).to_string().trim_matches('"'),
        "provider_name": provider.get("Name"),
        "record_id": record_id(r).to_string(),
        "computer_name": r.system["Computer"],
        "api": "wineventlog",
    });
    if let Some(g) = provider.get("Guid") {
        winlog["provider_guid"] = g.clone();
    }
    if let Some(pid) = execution.get("ProcessID") {
        winlog["process"] = json!({"pid": pid, "thread": {"id": execution.get("ThreadID")}});
    }
    if let Some(sid) = attrs(r.system.get("Security")).get("UserID") {
        winlog["user"] = json!({"identifier": sid});
    }
    if let Some(v) = r.system.get("Version") {
        winlog["version"] = v.clone();
    }
    // Winlogbeat writes event data as text (`keyword` fields).
    let as_text = |v: &Value| match v {
        Value::Number(n) => Value::from(n.to_string()),
        Value::Bool(b) => Value::from(b.to_string()),
        other => other.clone(),
    };
    let mut data = Map::new();
    for (k, v) in &r.named {
        data.insert(k.clone(), as_text(v));
    }
    for (i, v) in r.unnamed.iter().enumerate() {
        data.insert(format!("param{}", i + 1), as_text(v));
    }
    if !data.is_empty() {
        winlog["event_data"] = Value::Object(data);
    }
    if let Some((name, fields)) = &r.user_data {
        let mut u = fields.clone();
        u.insert("xml_name".into(), Value::from(name.as_str()));
        winlog["user_data"] = Value::Object(u);
    }
    json!({
        "@timestamp": truncate(&system_time(r), 3),
        "event": {"code": event_id(r).to_string().trim_matches('"'), "kind": "event"},
        "host": {"name": r.system["Computer"]},
        "winlog": winlog,
    })
}

/// The OpenTelemetry Collector `windowseventlog` receiver's log body for a
/// record, with event data in its array format (every value text, unnamed
/// data under the empty name). The receiver does not read `UserData`.
fn opentelemetry(r: &Record) -> Value {
    let provider = attrs(r.system.get("Provider"));
    let execution = attrs(r.system.get("Execution"));
    let as_text = |v: &Value| match v {
        Value::String(s) => Value::from(s.as_str()),
        Value::Null => Value::from(""),
        other => Value::from(other.to_string()),
    };
    let mut data: Vec<Value> = r
        .named
        .iter()
        .map(|(k, v)| json!({ k.as_str(): as_text(v) }))
        .collect();
    data.extend(r.unnamed.iter().map(|v| json!({ "": as_text(v) })));
    let mut body = json!({
        "channel": r.system["Channel"],
        "computer": r.system["Computer"],
        "event_id": {"id": event_id(r), "qualifiers": 0},
        "provider": {
            "name": provider.get("Name").cloned().unwrap_or_default(),
            "guid": provider.get("Guid").cloned().unwrap_or_default(),
            "event_source": "",
        },
        "record_id": record_id(r),
        "system_time": system_time(r),
        "level": "Information",
        "task": "",
        "opcode": "",
        "keywords": [],
        "message": "",
        "event_data": {"data": data},
    });
    if let Some(pid) = execution.get("ProcessID") {
        body["execution"] = json!({"process_id": pid, "thread_id": execution.get("ThreadID")});
    }
    if let Some(sid) = attrs(r.system.get("Security")).get("UserID") {
        body["security"] = json!({"user_id": sid});
    }
    body
}

/// NXLog's `im_msvistalog` object for a record.
fn nxlog(r: &Record) -> Value {
    let provider = attrs(r.system.get("Provider"));
    let execution = attrs(r.system.get("Execution"));
    let mut o = Map::new();
    o.insert(
        "EventTime".into(),
        Value::from(truncate(&system_time(r), 0).replace('T', " ")),
    );
    o.insert("Hostname".into(), r.system["Computer"].clone());
    for k in ["Keywords", "Version", "Task", "Level", "Opcode"] {
        if let Some(v) = r.system.get(k) {
            o.insert(k.into(), text(v));
        }
    }
    o.insert("EventType".into(), Value::from("INFO"));
    o.insert("SeverityValue".into(), Value::from(2));
    o.insert("Severity".into(), Value::from("INFO"));
    o.insert("EventID".into(), event_id(r));
    o.insert(
        "SourceName".into(),
        provider.get("Name").cloned().unwrap_or_default(),
    );
    if let Some(g) = provider.get("Guid") {
        o.insert("ProviderGuid".into(), g.clone());
    }
    o.insert("RecordNumber".into(), Value::from(record_id(r)));
    for k in ["ProcessID", "ThreadID"] {
        if let Some(v) = execution.get(k) {
            o.insert(k.into(), v.clone());
        }
    }
    o.insert("Channel".into(), r.system["Channel"].clone());
    if let Some(sid) = attrs(r.system.get("Security")).get("UserID") {
        o.insert("UserID".into(), sid.clone());
    }
    for (k, v) in &r.named {
        o.insert(k.clone(), v.clone());
    }
    if let Some((_, fields)) = &r.user_data {
        for (k, v) in fields {
            o.insert(k.clone(), v.clone());
        }
    }
    o.insert(
        "EventReceivedTime".into(),
        Value::from("2024-01-01 00:00:00"),
    );
    o.insert("SourceModuleName".into(), Value::from("eventlog"));
    o.insert("SourceModuleType".into(), Value::from("im_msvistalog"));
    Value::Object(o)
}

/// A detection's identity across layouts: file, record, rule, level and
/// time at `digits` fractional digits.
type Key = (String, u64, String, String, String);

fn key(d: &Value, file: String, record: u64, digits: usize) -> Key {
    let t = d["timestamp"].as_str().unwrap_or("");
    (
        file,
        record,
        d["rule_id"].as_str().unwrap().to_string(),
        d["level"].as_str().unwrap().to_string(),
        truncate(t, digits),
    )
}

/// Writes the corpus in one shipper's layout under `dir` and hunts it;
/// returns the detections keyed as the golden file's.
fn hunt_layout(
    layout: fn(&Record) -> Value,
    digits: usize,
) -> (BTreeMap<Key, usize>, BTreeMap<Key, usize>) {
    let root = corpus();
    let evtx_dir = root.join("evtx/EVTX-ATTACK-SAMPLES");
    let dir = tempfile::tempdir().unwrap();
    // (written file, line) -> (corpus file, record id)
    let mut origin: BTreeMap<(String, u64), (String, u64)> = BTreeMap::new();
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(&evtx_dir)
        .into_iter()
        .filter_map(Result::ok)
        .map(|e| e.into_path())
        .filter(|p| p.extension().is_some_and(|e| e == "evtx"))
        .collect();
    files.sort();
    for (n, path) in files.iter().enumerate() {
        let rel = path.strip_prefix(&root).unwrap().display().to_string();
        let out_path = dir.path().join(format!("{n:04}.json"));
        let mut out = std::io::BufWriter::new(std::fs::File::create(&out_path).unwrap());
        let mut parser = evtx::EvtxParser::from_path(path).unwrap();
        let mut line = 0;
        for rec in parser.records_json_value().flatten() {
            let r = record(&rec.data);
            line += 1;
            origin.insert(
                (out_path.display().to_string(), line),
                (rel.clone(), record_id(&r)),
            );
            serde_json::to_writer(&mut out, &layout(&r)).unwrap();
            out.write_all(b"\n").unwrap();
        }
    }
    let mut got = BTreeMap::new();
    for d in hunt_dir("sigma/rules/windows", dir.path()) {
        let v = serde_json::to_value(&d).unwrap();
        let (file, record) = origin
            .get(&(d.file.to_string(), d.record))
            .cloned()
            .unwrap_or((d.file.to_string(), d.record));
        *got.entry(key(&v, file, record, digits)).or_insert(0) += 1;
    }
    let mut want = BTreeMap::new();
    for v in golden("evtx") {
        let file = v["file"].as_str().unwrap().to_string();
        let record = v["record"].as_u64().unwrap();
        *want.entry(key(&v, file, record, digits)).or_insert(0) += 1;
    }
    (want, got)
}

/// Compares with the EVTX detections. `lost` names the rules whose
/// detections the layout cannot carry, and `gained` those that fire where
/// they did not, for reasons the layout documents.
fn check(name: &str, layout: fn(&Record) -> Value, digits: usize, lost: &[&str], gained: &[&str]) {
    let (mut want, mut got) = hunt_layout(layout, digits);
    let count = |m: &BTreeMap<Key, usize>, rules: &[&str]| -> usize {
        m.iter()
            .filter(|(k, _)| rules.contains(&k.2.as_str()))
            .map(|(_, n)| n)
            .sum()
    };
    // The allowances are checked too: what is lost fires on EVTX, and what
    // is gained fires more often than on EVTX.
    if !lost.is_empty() {
        assert!(count(&want, lost) > 0, "{name}: the lost rules never fire");
    }
    if !gained.is_empty() {
        assert!(
            count(&got, gained) > count(&want, gained),
            "{name}: the gained rules do not gain"
        );
    }
    let allowed = |k: &Key| lost.contains(&k.2.as_str()) || gained.contains(&k.2.as_str());
    want.retain(|k, _| !allowed(k));
    got.retain(|k, _| !allowed(k));
    let missing: Vec<_> = want.keys().filter(|k| !got.contains_key(*k)).collect();
    let extra: Vec<_> = got.keys().filter(|k| !want.contains_key(*k)).collect();
    let total = |m: &BTreeMap<Key, usize>| m.values().sum::<usize>();
    assert!(
        missing.is_empty() && extra.is_empty() && want == got,
        "{name}: {} detections, EVTX {}; {} missing, first {:?}; {} extra, first {:?}",
        total(&got),
        total(&want),
        missing.len(),
        &missing[..missing.len().min(5)],
        extra.len(),
        &extra[..extra.len().min(5)],
    );
}

#[test]
fn corpus_winlogbeat_layout_gives_the_evtx_detections() {
    check("winlogbeat", winlogbeat, 3, &[], &[]);
}

#[test]
fn corpus_opentelemetry_layout_gives_the_evtx_detections() {
    check("opentelemetry", opentelemetry, 7, &[], &[]);
}

#[test]
fn corpus_nxlog_layout_gives_the_evtx_detections() {
    // NXLog's fields carry named event data only: unnamed `<Data>` (MSSQL,
    // ESENT and MsiInstaller events) reaches it only as the rendered
    // `Message`. Rules that read `Data` cannot fire, and a filter on `Data`
    // cannot exclude.
    check(
        "nxlog",
        nxlog,
        0,
        &[
            "5594e67a-7f92-4a04-b65d-1a42fd824a60", // MSI installed from the web
            "7f103213-a04e-4d59-8261-213dddf22314", // MSSQL xp_cmdshell audit
            "94dc4390-6b7c-4784-8ffc-335334404650", // ntdsutil, odd location
            "d08dd86f-681e-4a00-a92c-1db218754417", // MSSQL xp_cmdshell change
            "e6e88853-5f20-4c4a-8d26-cd469fd8d31f", // ntdsutil abuse
        ],
        &[
            "ebfe73c2-5bc9-4ed9-aaa8-8b54b2b4777d", // MSSQL failed logon, external
        ],
    );
}
