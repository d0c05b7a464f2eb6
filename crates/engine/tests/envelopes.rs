//! Cloud events in their delivery envelopes read as the bare records do.
//!
//! The CloudTrail records of the corpus are wrapped one by one in Amazon
//! EventBridge's envelope, and in batches in CloudWatch Logs subscription
//! messages, as those services' documentation shows them; hunting the
//! wrapped files must give the detections of the golden file
//! (`tests/golden/cloud.jsonl`, recorded from the bare files). The GCP audit
//! entries of the corpus, wrapped in Pub/Sub push messages (base64), must
//! read as the same events as the bare entries.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use base64::Engine as _;
use serde_json::{Value, json};

mod common;
use common::{corpus, golden, hunt_dir};

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .filter(|p| {
            p.extension()
                .is_some_and(|e| e == "json" || e == "ndjson" || e == "log")
        })
        .collect();
    files.sort();
    files
}

/// Every record of a file: the top-level JSON values one after the other,
/// arrays and `{"Records": [...]}` opened.
fn records(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut out = Vec::new();
    for value in serde_json::Deserializer::from_str(&text).into_iter::<Value>() {
        match value.unwrap() {
            Value::Array(items) => out.extend(items),
            Value::Object(mut m) if m.len() == 1 && m.contains_key("Records") => {
                if let Some(Value::Array(items)) = m.remove("Records") {
                    out.extend(items);
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// A detection as (file, rule, level, time).
type Key = (String, String, String, String);

fn key(d: &Value, file: String) -> Key {
    (
        file,
        d["rule_id"].as_str().unwrap().to_string(),
        d["level"].as_str().unwrap().to_string(),
        d["timestamp"].as_str().unwrap_or("").to_string(),
    )
}

/// Wraps the CloudTrail corpus with `wrap` (records of one file in, lines
/// out), hunts it, and compares with the golden detections.
fn check_cloudtrail(name: &str, wrap: fn(&[Value]) -> Vec<Value>) {
    let root = corpus();
    let dir = tempfile::tempdir().unwrap();
    let mut origin = BTreeMap::new();
    for (n, path) in files_under(&root.join("cloud/aws_cloudtrail"))
        .iter()
        .enumerate()
    {
        let out_path = dir.path().join(format!("{n:04}.json"));
        let mut out = std::io::BufWriter::new(std::fs::File::create(&out_path).unwrap());
        for line in wrap(&records(path)) {
            serde_json::to_writer(&mut out, &line).unwrap();
            out.write_all(b"\n").unwrap();
        }
        origin.insert(
            out_path.display().to_string(),
            path.strip_prefix(&root).unwrap().display().to_string(),
        );
    }
    let mut got: BTreeMap<Key, usize> = BTreeMap::new();
    for d in hunt_dir("sigma/rules/cloud", dir.path()) {
        let v = serde_json::to_value(&d).unwrap();
        let file = origin[&d.file.to_string()].clone();
        *got.entry(key(&v, file)).or_default() += 1;
    }
    let mut want: BTreeMap<Key, usize> = BTreeMap::new();
    for v in golden("cloud") {
        let file = v["file"].as_str().unwrap().to_string();
        if file.starts_with("cloud/aws_cloudtrail/") {
            *want.entry(key(&v, file)).or_default() += 1;
        }
    }
    assert!(
        want.values().sum::<usize>() > 100,
        "the golden file has the CloudTrail detections"
    );
    let missing: Vec<_> = want
        .keys()
        .filter(|k| got.get(*k) != want.get(*k))
        .collect();
    let extra: Vec<_> = got.keys().filter(|k| !want.contains_key(*k)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{name}: {} detections, bare {}; differing {:?}; extra {:?}",
        got.values().sum::<usize>(),
        want.values().sum::<usize>(),
        &missing[..missing.len().min(5)],
        &extra[..extra.len().min(5)]
    );
}

#[test]
fn corpus_cloudtrail_through_eventbridge_gives_the_bare_detections() {
    check_cloudtrail("eventbridge", |records| {
        records
            .iter()
            .map(|r| {
                json!({
                    "version": "0",
                    "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
                    "detail-type": "AWS API Call via CloudTrail",
                    "source": format!("aws.{}", r["eventSource"].as_str().unwrap_or("").trim_end_matches(".amazonaws.com")),
                    "account": r["recipientAccountId"],
                    "time": r["eventTime"],
                    "region": r["awsRegion"],
                    "resources": [],
                    "detail": r,
                })
            })
            .collect()
    });
}

#[test]
fn corpus_cloudtrail_through_cloudwatch_logs_gives_the_bare_detections() {
    check_cloudtrail("cloudwatch", |records| {
        records
            .chunks(7)
            .map(|batch| {
                let events: Vec<Value> = batch
                    .iter()
                    .enumerate()
                    .map(|(i, r)| {
                        json!({"id": format!("{i}"), "timestamp": 1_722_416_400_000u64, "message": r.to_string()})
                    })
                    .collect();
                json!({
                    "messageType": "DATA_MESSAGE",
                    "owner": "111122223333",
                    "logGroup": "aws-cloudtrail-logs",
                    "logStream": "111122223333_CloudTrail_us-east-1",
                    "subscriptionFilters": ["all"],
                    "logEvents": events,
                })
            })
            .collect()
    });
}

/// The events of one file: logsource, time and fields, in order.
fn read_events(path: &Path) -> Vec<(String, Option<String>, Value)> {
    let events = Mutex::new(Vec::new());
    let summary = sources::read_file(path, None, &Default::default(), &|batch| {
        events.lock().unwrap().extend(batch)
    });
    assert!(summary.problems.is_empty(), "{:?}", summary.problems);
    let mut events = events.into_inner().unwrap();
    events.sort_by_key(|e| e.meta.record);
    events
        .into_iter()
        .map(|e| {
            (
                format!("{:?}", e.meta.logsource),
                e.meta.timestamp.map(|t| t.to_string()),
                Value::Object(e.fields.clone()),
            )
        })
        .collect()
}

#[test]
fn corpus_gcp_audit_through_pubsub_reads_as_the_bare_entries() {
    let root = corpus();
    let dir = tempfile::tempdir().unwrap();
    let mut compared = 0;
    let mut audit = 0;
    for (n, path) in files_under(&root.join("cloud/gcp_audit"))
        .iter()
        .enumerate()
    {
        let entries = records(path);
        let wrapped = dir.path().join(format!("{n:04}.json"));
        let mut out = std::fs::File::create(&wrapped).unwrap();
        for (i, e) in entries.iter().enumerate() {
            let push = json!({
                "message": {
                    "data": base64::engine::general_purpose::STANDARD.encode(e.to_string()),
                    "messageId": format!("{i}"),
                    "publishTime": "2021-02-26T19:13:55.749Z",
                    "attributes": {"logging.googleapis.com/timestamp": "2021-02-26T19:13:55Z"},
                },
                "subscription": "projects/p/subscriptions/watchpost",
            });
            writeln!(out, "{push}").unwrap();
        }
        drop(out);
        let bare = read_events(path);
        let got = read_events(&wrapped);
        assert_eq!(got.len(), entries.len(), "{}", path.display());
        assert_eq!(got, bare, "{}", path.display());
        audit += bare
            .iter()
            .filter(|(ls, _, _)| ls.contains("gcp.audit"))
            .count();
        compared += got.len();
    }
    assert!(compared > 10, "{compared} entries compared");
    assert!(audit > 0, "{audit} of them GCP audit entries");
}
