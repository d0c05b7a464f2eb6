//! Corpus tests over `$WATCHPOST_CORPUS`. Every count is derived here
//! independently of the code under test: the `evtx` crate's own plain
//! single-threaded record iterator, raw line counts, and `serde_json` over
//! whole files.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use evtx::{EvtxParser, ParserSettings};
use serde_json::Value;
use watchpost_sources::{PathFilter, ProblemKind, discover, flatten_evtx};

use crate::{corpus, read_all};

/// Files under `dir` whose name ends with one of `exts`, sorted.
fn files(dir: &Path, exts: &[&str]) -> Vec<PathBuf> {
    let (files, problems) = discover(&[dir.to_path_buf()], &PathFilter::default());
    assert!(problems.is_empty(), "{problems:?}");
    files
        .into_iter()
        .filter(|f| exts.iter().any(|e| f.to_string_lossy().ends_with(e)))
        .collect()
}

/// Records the `evtx` crate's plain iterator reads, single-threaded, as
/// values flattened by the value path (`flatten_evtx`), by `EventRecordID`.
fn reference_evtx(path: &Path) -> std::collections::BTreeMap<u64, serde_json::Map<String, Value>> {
    let mut parser = EvtxParser::from_path(path)
        .unwrap()
        .with_configuration(ParserSettings::new().num_threads(1));
    parser
        .records_json_value()
        .filter_map(Result::ok)
        .map(|r| {
            let event =
                flatten_evtx(r.data, std::sync::Arc::from("ref"), r.event_record_id).unwrap();
            (event.meta.record, event.fields)
        })
        .collect()
}

/// Non-blank lines of a file.
fn nonblank_lines(path: &Path) -> u64 {
    BufReader::new(std::fs::File::open(path).unwrap())
        .split(b'\n')
        .map(Result::unwrap)
        .filter(|l| !l.trim_ascii().is_empty())
        .count() as u64
}

#[test]
fn corpus_evtx_every_file_and_every_record() {
    let dir = corpus().join("evtx/EVTX-ATTACK-SAMPLES");
    let evtx_files = files(&dir, &[".evtx"]);
    assert!(
        evtx_files.len() >= 250,
        "found only {} EVTX files",
        evtx_files.len()
    );
    let mut total = 0;
    let mut want_total = 0;
    for path in &evtx_files {
        let reference = reference_evtx(path);
        let want = reference.len() as u64;
        let (events, summary) = read_all(path, None);
        assert_eq!(summary.events, want, "{}", path.display());
        assert_eq!(events.len() as u64, want, "{}", path.display());
        for e in &events {
            assert!(
                e.fields.get("EventID").is_some_and(Value::is_u64),
                "{}: {:?}",
                path.display(),
                e.fields.get("EventID")
            );
            assert!(e.fields.contains_key("Channel"), "{}", path.display());
            assert!(e.fields.contains_key("Provider_Name"), "{}", path.display());
            assert_eq!(e.meta.logsource.product, Some("windows"));
            assert!(e.meta.timestamp.is_some(), "{}", path.display());
            assert_eq!(
                e.fields.get("EventRecordID").and_then(Value::as_u64),
                Some(e.meta.record)
            );
            assert_eq!(
                reference.get(&e.meta.record),
                Some(&e.fields),
                "{} record {}",
                path.display(),
                e.meta.record
            );
        }
        total += summary.events;
        want_total += want;
    }
    assert_eq!(total, want_total);
}

#[test]
fn corpus_evtx_matches_evtx_dump_when_installed() {
    // A second reference: the evtx_dump CLI, when it is on PATH (the
    // plain-iterator reference of the test above always runs).
    let dir = corpus().join("evtx/EVTX-ATTACK-SAMPLES");
    let Ok(output) = std::process::Command::new("evtx_dump")
        .arg("--version")
        .output()
    else {
        eprintln!("evtx_dump is not installed; the plain-iterator reference above still runs");
        return;
    };
    assert!(output.status.success());
    let mut want = 0u64;
    let mut got = 0u64;
    for path in files(&dir, &[".evtx"]) {
        let out = std::process::Command::new("evtx_dump")
            .args(["-t", "1", "-o", "jsonl"])
            .arg(&path)
            .output()
            .unwrap();
        want += out
            .stdout
            .split(|b| *b == b'\n')
            .filter(|l| l.starts_with(b"{"))
            .count() as u64;
        got += read_all(&path, None).1.events;
    }
    assert_eq!(got, want);
}

#[test]
fn corpus_truncated_and_corrupted_evtx() {
    let source = corpus().join("evtx/EVTX-ATTACK-SAMPLES");
    // The largest sample, so it has several chunks.
    let path = files(&source, &[".evtx"])
        .into_iter()
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let chunks = (bytes.len() - 4096) / 65536;
    assert!(chunks >= 3, "{} has {chunks} chunks", path.display());
    let per_chunk: Vec<u64> = {
        let mut parser = EvtxParser::from_path(&path).unwrap();
        parser
            .chunks()
            .map(|c| {
                let mut c = c.unwrap();
                let mut chunk = c.parse(std::sync::Arc::new(ParserSettings::new())).unwrap();
                chunk.iter().filter(Result::is_ok).count() as u64
            })
            .collect()
    };
    let dir = tempfile::tempdir().unwrap();

    // Cut in the middle of the third chunk.
    let cut = dir.path().join("cut.evtx");
    std::fs::write(&cut, &bytes[..4096 + 65536 * 2 + 30_000]).unwrap();
    let (events, summary) = read_all(&cut, None);
    assert_eq!(
        events.len() as u64,
        per_chunk[0] + per_chunk[1],
        "the two whole chunks"
    );
    assert_eq!(summary.problems.len(), 1, "{:?}", summary.problems);
    assert_eq!(summary.problems[0].location, "chunk 2");
    assert_eq!(summary.problems[0].kind, ProblemKind::Malformed);

    // Overwrite the records of the second chunk (after its 512-byte header
    // and the first record) with garbage.
    let mut damaged = bytes.clone();
    let start = 4096 + 65536 + 512 + 600;
    for (i, b) in damaged[start..start + 20_000].iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(151) ^ 0x5a;
    }
    let flipped = dir.path().join("flipped.evtx");
    std::fs::write(&flipped, &damaged).unwrap();
    let (events, summary) = read_all(&flipped, None);
    let undamaged: u64 = per_chunk
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 1)
        .map(|(_, n)| n)
        .sum();
    assert!(
        events.len() as u64 >= undamaged,
        "{} events, but the undamaged chunks alone hold {undamaged}",
        events.len()
    );
    assert!(!summary.problems.is_empty(), "the damage is reported");
    for problem in &summary.problems {
        assert!(problem.location.starts_with("chunk 1"), "{problem}");
        assert_eq!(problem.kind, ProblemKind::Malformed);
    }
}

/// Expected events of an NDJSON file: one per non-blank line, or one per
/// record for a `{"Records": [...]}` line.
fn ndjson_expected(path: &Path) -> u64 {
    let mut text = String::new();
    std::fs::File::open(path)
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| match serde_json::from_str::<Value>(l) {
            Ok(Value::Object(map))
                if map.len() == 1 && map.get("Records").is_some_and(Value::is_array) =>
            {
                map["Records"].as_array().unwrap().len() as u64
            }
            _ => 1,
        })
        .sum()
}

#[test]
fn corpus_ndjson_line_counts() {
    let root = corpus();
    let mut paths = Vec::new();
    for dir in [
        "saas",
        "cloud",
        "antivirus",
        "linux",
        "network/zeek_otrf_apt29",
    ] {
        paths.extend(files(&root.join(dir), &[".ndjson", ".jsonl"]));
    }
    paths.extend(files(&root.join("network/zeek_otrf_apt29"), &[".log"]));
    assert!(paths.len() >= 20, "{paths:?}");
    for path in &paths {
        let (events, summary) = read_all(path, None);
        assert!(
            summary.problems.is_empty(),
            "{}: {:?}",
            path.display(),
            summary.problems
        );
        assert_eq!(summary.events, ndjson_expected(path), "{}", path.display());
        assert_eq!(summary.events, nonblank_lines(path), "{}", path.display());
        // Records are numbered by line, in order, without gaps past blank lines.
        assert!(
            events
                .windows(2)
                .all(|w| w[0].meta.record <= w[1].meta.record)
        );
    }
}

#[test]
fn corpus_syslog_line_counts() {
    let dir = corpus().join("linux");
    let logs = files(&dir, &[".log"]);
    assert_eq!(logs.len(), 3, "{logs:?}");
    for path in &logs {
        let (events, summary) = read_all(path, None);
        assert!(
            summary.problems.is_empty(),
            "{}: {:?}",
            path.display(),
            summary.problems
        );
        assert_eq!(summary.events, nonblank_lines(path), "{}", path.display());
        let with_program = events
            .iter()
            .filter(|e| e.fields.contains_key("program"))
            .count();
        assert!(
            with_program * 100 >= events.len() * 95,
            "{}: only {with_program} of {} lines have a program",
            path.display(),
            events.len()
        );
        assert!(
            events
                .iter()
                .all(|e| e.meta.logsource.product == Some("linux"))
        );
    }
    let (events, _) = read_all(&dir.join("loghub_OpenSSH_2k.log"), None);
    let sshd = events
        .iter()
        .filter(|e| e.fields.get("program") == Some(&Value::from("sshd")))
        .count();
    let raw_sshd = std::fs::read_to_string(dir.join("loghub_OpenSSH_2k.log"))
        .unwrap()
        .lines()
        .filter(|l| l.contains(" sshd["))
        .count();
    assert_eq!(sshd, raw_sshd, "every sshd[pid] line has program sshd");
    let (auth, _) = read_all(
        &dir.join("elastic_examples_suspicious_login_auth.log"),
        None,
    );
    assert!(
        auth.iter()
            .all(|e| e.meta.logsource.service == Some("auth"))
    );
}

#[test]
fn corpus_cloudtrail_record_counts() {
    let dir = corpus().join("cloud/aws_cloudtrail/stratus_red_team_detonation_logs");
    let jsons = files(&dir, &[".json"]);
    assert!(jsons.len() >= 30);
    for path in &jsons {
        let value: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let want = match &value {
            Value::Array(items) => items.len(),
            Value::Object(map) => map
                .get("Records")
                .and_then(Value::as_array)
                .map_or(1, Vec::len),
            _ => 0,
        } as u64;
        let (events, summary) = read_all(path, None);
        assert!(
            summary.problems.is_empty(),
            "{}: {:?}",
            path.display(),
            summary.problems
        );
        assert_eq!(summary.events, want, "{}", path.display());
        assert!(
            events
                .iter()
                .all(|e| e.meta.logsource.service == Some("cloudtrail")),
            "{}",
            path.display()
        );
        assert!(events.iter().all(|e| e.meta.timestamp.is_some()));
    }
}

#[test]
fn corpus_gcp_documents() {
    let dir = corpus().join("cloud/gcp_audit/garrettwong_gcp_mitre");
    for path in files(&dir, &[".log"]) {
        let text = std::fs::read(&path).unwrap();
        let want: u64 = serde_json::Deserializer::from_slice(&text)
            .into_iter::<Value>()
            .map(|v| match v.unwrap() {
                Value::Array(items) => items.len() as u64,
                _ => 1,
            })
            .sum();
        let (events, summary) = read_all(&path, None);
        assert!(
            summary.problems.is_empty(),
            "{}: {:?}",
            path.display(),
            summary.problems
        );
        assert_eq!(summary.events, want, "{}", path.display());
        let audit = events
            .iter()
            .filter(|e| e.get("protoPayload").is_some())
            .collect::<Vec<_>>();
        assert!(
            audit
                .iter()
                .all(|e| e.meta.logsource.service == Some("gcp.audit")),
            "{}",
            path.display()
        );
    }
}

#[test]
fn corpus_saas_logsources() {
    let dir = corpus().join("saas");
    let expected = [
        ("panther_aws_cloudtrail", "aws"),
        ("panther_gcp_audit", "gcp"),
        ("panther_github_audit", "github"),
        ("panther_gsuite_activityevent", "google_workspace"),
        ("panther_k8s_audit_eks", "kubernetes"),
        ("panther_m365_audit", "m365"),
        ("panther_okta_systemlog", "okta"),
        ("panther_entra_azure_audit", "azure"),
    ];
    for (name, product) in expected {
        let (events, _) = read_all(&dir.join(format!("{name}.ndjson")), None);
        let hits = events
            .iter()
            .filter(|e| e.meta.logsource.product == Some(product))
            .count();
        assert!(
            hits * 10 >= events.len() * 9,
            "{name}: {hits} of {} events classified as {product}",
            events.len()
        );
        // Many of these samples carry no time at all; those that carry one
        // of the usual time fields must get it.
        for e in &events {
            let has_time = [
                "eventTime",
                "published",
                "timestamp",
                "@timestamp",
                "time",
                "created_at",
                "CreationTime",
                "requestReceivedTimestamp",
            ]
            .iter()
            .any(|k| {
                e.fields.get(*k).is_some_and(|v| {
                    v.is_number()
                        || v.as_str()
                            .is_some_and(|t| t.starts_with(|c: char| c.is_ascii_digit()))
                })
            });
            if has_time {
                assert!(
                    e.meta.timestamp.is_some(),
                    "{name} record {}: no time from {:?}",
                    e.meta.record,
                    e.fields
                );
            }
        }
    }
}

#[test]
fn corpus_antivirus_exports_look_like_evtx() {
    for path in files(&corpus().join("antivirus"), &[".jsonl"]) {
        let (events, summary) = read_all(&path, None);
        assert!(summary.problems.is_empty(), "{:?}", summary.problems);
        assert!(!events.is_empty());
        for e in &events {
            assert_eq!(e.meta.logsource.product, Some("windows"));
            assert!(
                e.fields.get("EventID").is_some_and(Value::is_u64),
                "{:?}",
                e.fields.get("EventID")
            );
            assert!(e.fields.contains_key("Channel"));
            assert!(e.meta.host.is_some());
        }
        let defender: Vec<_> = events
            .iter()
            .filter(|e| e.fields.contains_key("Source Name"))
            .collect();
        assert!(!defender.is_empty(), "{}", path.display());
        assert!(
            defender
                .iter()
                .all(|e| e.fields.get("SourceName") == e.fields.get("Source Name"))
        );
    }
}

#[test]
fn corpus_whole_tree_reads_without_panics() {
    let root = corpus();
    let (all, problems) = discover(std::slice::from_ref(&root), &PathFilter::default());
    assert!(problems.is_empty(), "{problems:?}");
    let mut events = 0;
    let mut skipped = Vec::new();
    for path in all.iter().filter(|p| !p.starts_with(root.join("sigma"))) {
        let (_, summary) = read_all(path, None);
        events += summary.events;
        if summary.not_a_log.is_some() {
            assert_eq!(summary.events, 0, "{}", path.display());
            skipped.push(path.clone());
        }
    }
    assert!(events > 100_000, "read {events} events");
    // Only files that are not logs are skipped: READMEs, licences, the
    // repository's commit note, a shipper's YAML example and nmap's XML
    // scan results (which `monitor` reads, not `hunt`).
    let not_logs = |p: &std::path::Path| {
        let name = p
            .file_name()
            .unwrap()
            .to_string_lossy()
            .to_ascii_lowercase();
        name.ends_with(".md")
            || name.ends_with(".xml")
            || name.ends_with(".yml")
            || name.starts_with("license")
            || name == "commit"
    };
    let wrong: Vec<_> = skipped.iter().filter(|p| !not_logs(p)).collect();
    assert!(wrong.is_empty(), "log files skipped: {wrong:?}");
    // The READMEs of the EVTX samples are among them.
    assert!(
        skipped
            .iter()
            .any(|p| p.ends_with("evtx/EVTX-ATTACK-SAMPLES/README.md")),
        "{skipped:?}"
    );
}

#[test]
fn corpus_access_logs_parse() {
    let web = corpus().join("web");
    let mut logs = vec![web.join("elastic_examples_apache_logs.access.log")];
    logs.extend(files(&web.join("ocatak_apache_scanner_logs"), &[".log"]));
    assert_eq!(logs.len(), 4, "{logs:?}");
    for path in &logs {
        let raw = std::fs::read(path).unwrap();
        let raw_lines: Vec<String> = raw
            .split(|b| *b == b'\n')
            .filter(|l| !l.trim_ascii().is_empty())
            .map(|l| String::from_utf8_lossy(l).trim().to_owned())
            .collect();
        let (events, summary) = read_all(path, None);
        let name = path.display();
        assert!(
            summary.problems.is_empty(),
            "{name}: {:?}",
            summary.problems
        );
        assert_eq!(summary.events, raw_lines.len() as u64, "{name}");
        assert_eq!(events.len(), raw_lines.len(), "{name}");
        for (e, line) in events.iter().zip(&raw_lines) {
            assert!(
                e.meta.timestamp.is_some(),
                "{name} line {}: no time: {:?}",
                e.meta.record,
                e.fields
            );
            assert_eq!(e.meta.logsource.category, Some("webserver"));
            // The client is the line's first word (inside the wrapping
            // quote of the scanner logs).
            let first = line.trim_start_matches('"').split(' ').next().unwrap();
            assert_eq!(
                e.get_str("c-ip"),
                Some(first),
                "{name} line {}",
                e.meta.record
            );
        }
        for method in ["GET", "POST", "HEAD"] {
            let raw_count = raw_lines
                .iter()
                .filter(|l| l.contains(&format!("] \"{method} ")))
                .count();
            let parsed = events
                .iter()
                .filter(|e| e.get_str("cs-method") == Some(method))
                .count();
            assert_eq!(parsed, raw_count, "{name}: {method}");
        }
        // Combined format: every line has a user agent but those logged
        // as `"-"` (before the scanner logs' closing wrapper quote).
        let no_agent = raw_lines
            .iter()
            .filter(|l| {
                let l = match l.strip_prefix('"') {
                    Some(inner) => inner.strip_suffix('"').unwrap_or(inner),
                    None => l,
                };
                l.ends_with(" \"-\"")
            })
            .count();
        let user_agents = events
            .iter()
            .filter(|e| e.fields.contains_key("cs-user-agent"))
            .count();
        assert_eq!(user_agents, raw_lines.len() - no_agent, "{name}");
    }
}

/// True when a JSON value looks like a time: a number, a string of digits
/// (epoch, maybe with a fraction), or a string starting `YYYY-MM-DD`, `T` or space, `HH:MM`.
fn looks_like_time(value: &Value) -> bool {
    match value {
        Value::Number(_) => true,
        Value::String(s) => {
            let b = s.trim().as_bytes();
            let digits = |r: std::ops::Range<usize>| {
                b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit))
            };
            (b.first().is_some_and(u8::is_ascii_digit)
                && b.iter().all(|c| c.is_ascii_digit() || *c == b'.'))
                || (b.len() >= 16
                    && digits(0..4)
                    && b[4] == b'-'
                    && digits(5..7)
                    && b[7] == b'-'
                    && digits(8..10)
                    && (b[10] == b'T' || b[10] == b' ')
                    && digits(11..13)
                    && b[13] == b':'
                    && digits(14..16))
        }
        _ => false,
    }
}

#[test]
fn corpus_saas_timestamps() {
    // The time fields these services write, looked up in the raw records.
    const KNOWN: &[&[&str]] = &[
        &["eventTime"],
        &["eventtime"],
        &["published"],
        &["requestReceivedTimestamp"],
        &["stageTimestamp"],
        &["timestamp"],
        &["receiveTimestamp"],
        &["@timestamp"],
        &["at_sign_timestamp"],
        &["time"],
        &["ts"],
        &["created_at"],
        &["CreationTime"],
        &["creationtime"],
        &["EventTime"],
        &["TimeGenerated"],
        &["id", "time"],
        &["p_event_time"],
        &["protoPayload", "timestamp"],
        &[
            "protoPayload",
            "requestMetadata",
            "requestAttributes",
            "time",
        ],
    ];
    let dir = corpus().join("saas");
    let paths = files(&dir, &[".ndjson"]);
    assert_eq!(paths.len(), 8, "{paths:?}");
    let (mut total, mut total_timed) = (0usize, 0usize);
    for path in &paths {
        let text = std::fs::read_to_string(path).unwrap();
        let records: Vec<Value> = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let want = records
            .iter()
            .filter(|r| {
                KNOWN.iter().any(|path| {
                    path.iter()
                        .try_fold(*r, |v, key| v.get(key))
                        .is_some_and(looks_like_time)
                })
            })
            .count();
        let (events, summary) = read_all(path, None);
        assert_eq!(events.len(), records.len(), "{}", path.display());
        assert!(summary.problems.is_empty(), "{:?}", summary.problems);
        let timed = events.iter().filter(|e| e.meta.timestamp.is_some()).count();
        assert_eq!(timed, want, "{}: records with a time", path.display());
        total += records.len();
        total_timed += timed;
    }
    // Many samples are redacted or carry no time at all; the share is
    // what the raw records allow, and most do have one.
    assert!(
        total_timed * 100 >= total * 70,
        "{total_timed} of {total} saas records have a time"
    );
    eprintln!("{total_timed} of {total} saas records have a time");
}

#[test]
fn corpus_pam_style_syslog_tags() {
    // `sshd(pam_unix)[pid]:` and friends: the program is the part before
    // the parenthesis, the pid is parsed.
    let path = corpus().join("linux/loghub_Linux_2k.log");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut want = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if let Some(at) = line.find("(pam_unix)[") {
            let program = line[..at].rsplit(' ').next().unwrap();
            let rest = &line[at + "(pam_unix)[".len()..];
            let pid: u64 = rest[..rest.find(']').unwrap()].parse().unwrap();
            want.push((i as u64 + 1, program.to_owned(), pid));
        }
    }
    assert!(want.iter().filter(|w| w.1 == "sshd").count() >= 100);
    let (events, _) = read_all(&path, None);
    let got: Vec<(u64, String, u64)> = events
        .iter()
        .filter(|e| {
            e.get_str("ident")
                .is_some_and(|t| t.ends_with("(pam_unix)"))
        })
        .map(|e| {
            (
                e.meta.record,
                e.get_str("program").unwrap_or_default().to_owned(),
                e.fields.get("pid").and_then(Value::as_u64).unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(got, want);
}

/// OMS/auoms records carry an audit record in `SyslogMessage`: its `type`,
/// serial and pairs become fields, and its time the event's. Expected values
/// come from the raw JSON, cut apart here with plain string functions.
#[test]
fn corpus_auoms_syslog_messages_are_split() {
    let path = corpus().join("linux/otrf_log4shell_auoms_auditd_syslog.ndjson");
    let raw: Vec<Value> = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let (events, summary) = read_all(&path, None);
    assert!(summary.problems.is_empty(), "{:?}", summary.problems);
    assert_eq!(events.len(), raw.len());
    for (event, record) in events.iter().zip(&raw) {
        let message = record["SyslogMessage"].as_str().unwrap();
        let kind = message
            .strip_prefix("type=")
            .and_then(|m| m.split(' ').next())
            .unwrap();
        let stamp = message.split_once("audit(").unwrap().1;
        let (stamp, _) = stamp.split_once(')').unwrap();
        let (seconds, serial) = stamp.split_once(':').unwrap();
        let (whole, millis) = seconds.split_once('.').unwrap();
        assert_eq!(event.meta.logsource.service, Some("auditd"));
        assert_eq!(event.get_str("type"), Some(kind));
        assert_eq!(
            event.fields.get("serial").and_then(Value::as_u64),
            Some(serial.parse().unwrap())
        );
        let nanos = whole.parse::<i128>().unwrap() * 1_000_000_000
            + millis.parse::<i128>().unwrap() * 1_000_000;
        assert_eq!(
            event.meta.timestamp.map(|t| t.unix_timestamp_nanos()),
            Some(nanos)
        );
        // Each `key=value` of the message whose value is a plain word is a
        // field with that value (quoted or bracketed values aside).
        let pairs = message.split_once("): ").unwrap().1;
        for word in pairs.split(' ') {
            let Some((key, value)) = word.split_once('=') else {
                continue;
            };
            let plain = !value.is_empty()
                && value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-,/".contains(c));
            if plain && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                if key == "proctitle" {
                    continue;
                }
                assert_eq!(event.get_str(key), Some(value), "{key} in {message}");
            }
        }
        assert_eq!(event.get_str("Computer"), record["Computer"].as_str());
    }
}
