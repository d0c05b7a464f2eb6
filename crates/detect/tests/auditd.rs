//! Linux audit records end to end: `sources` reads a hand-written
//! `audit.log` (and the same records forwarded to syslog by audispd) and
//! `Matcher` runs SigmaHQ's "Binary Padding - Linux" logic on them, first
//! as a copy written here, then (`corpus_*`) as the rule file itself.
//!
//! The fixtures in `tests/data` hold three audit events: 456 runs
//! `dd if=/dev/zero bs=1 count=1` (SYSCALL, EXECVE, CWD, two PATH and
//! PROCTITLE records, line 2 is the EXECVE), 457 runs `dd` with `of=`
//! (EXECVE on line 8, which the rule's filter lets pass), and 458 runs
//! `truncate -s +1 "/tmp/my payload"` (EXECVE on line 9, its last argument
//! hex-encoded as auditd writes names with spaces).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use detect::routing::for_each_view;
use detect::{Detection, Matcher};
use events::Event;
use events::taxonomy::route;
use serde_json::{Value, json};
use watchpost_detect as detect;

mod common;
use common::{load_dirs, yaml_files};

/// A fixture of `tests/data`.
fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// Reads a file with format detection; its events by line, with no
/// problems allowed.
fn read(path: &Path) -> Vec<Event> {
    let events = Mutex::new(Vec::new());
    let summary = sources::read_file(path, None, &Default::default(), &|batch| {
        events.lock().unwrap().extend(batch);
    });
    assert!(summary.problems.is_empty(), "{:?}", summary.problems);
    let mut events = events.into_inner().unwrap();
    events.sort_by_key(|e| e.meta.record);
    assert_eq!(summary.events, events.len() as u64);
    events
}

/// The lines (records) on which rules fire, with the rules' titles.
fn fired(matcher: &Matcher, events: &[Event]) -> Vec<(u64, String)> {
    let mut out: Vec<Detection> = Vec::new();
    for event in events {
        let pending = matcher.scan(event, &mut out);
        assert!(pending.is_empty());
    }
    let mut fired: Vec<(u64, String)> = out.into_iter().map(|d| (d.record, d.rule_title)).collect();
    fired.sort();
    fired
}

/// A matcher of rules given as text, which must all load.
fn matcher(text: &str) -> Matcher {
    let (set, errors) = rules::load_str("rule.yml", text);
    assert!(errors.is_empty(), "{errors:?}");
    let (m, errors) = Matcher::new(&set);
    assert!(errors.is_empty(), "{errors:?}");
    m
}

/// The detection logic of SigmaHQ's "Binary Padding - Linux"
/// (`c52a914f-3d8b-4b2a-bb75-b3991e75f8ba`), copied by hand.
const BINARY_PADDING_COPY: &str = r#"
title: Binary padding (copy)
id: 00000000-0000-0000-0000-00000000a0d1
level: high
logsource:
    product: linux
    service: auditd
detection:
    selection_execve:
        type: 'EXECVE'
    keywords_truncate:
        '|all':
            - 'truncate'
            - '-s'
    keywords_dd:
        '|all':
            - 'dd'
            - 'if='
    keywords_filter:
        - 'of='
    condition: selection_execve and (keywords_truncate or (keywords_dd and not keywords_filter))
"#;

#[test]
fn raw_audit_log_is_detected_split_and_routed() {
    let events = read(&data("audit.log"));
    assert_eq!(events.len(), 10, "one event per record line");
    let execve = &events[1];
    assert_eq!(execve.meta.record, 2);
    assert_eq!(
        Value::Object(execve.fields.clone()),
        json!({
            "type": "EXECVE", "serial": 456, "argc": "4",
            "a0": "dd", "a1": "if=/dev/zero", "a2": "bs=1", "a3": "count=1",
        })
    );
    // 1700000000 is 2023-11-14T22:13:20Z.
    assert_eq!(
        execve.meta.timestamp.map(|t| t.unix_timestamp_nanos()),
        Some(1_700_000_000_123_000_000)
    );
    assert_eq!(
        (execve.meta.logsource.product, execve.meta.logsource.service),
        (Some("linux"), Some("auditd"))
    );
    let views = {
        let mut views = Vec::new();
        for_each_view(&route(execve), |v| {
            views.push((v.product, v.service, v.category))
        });
        views
    };
    assert_eq!(
        views,
        [
            (Some("linux"), Some("auditd"), None),
            (Some("linux"), Some("auditd"), Some("process_creation")),
        ]
    );

    let syscall = &events[0];
    assert_eq!(syscall.fields["SYSCALL"], json!("execve"));
    assert_eq!(syscall.fields["AUID"], json!("alice"));
    assert_eq!(syscall.fields["exe"], json!("/usr/bin/dd"));
    assert_eq!(syscall.fields["key"], json!("binary_padding"));
    assert_eq!(syscall.fields["a0"], json!("55d1e8a3c2a0"), "a register");
    assert_eq!(
        events[5].fields["proctitle"],
        json!("dd if=/dev/zero bs=1 count=1")
    );
    assert_eq!(events[8].fields["a3"], json!("/tmp/my payload"));
    assert_eq!(
        events[9].fields["proctitle"],
        json!("truncate -s +1 /tmp/my payload")
    );
}

#[test]
fn copied_binary_padding_logic_fires_on_dd_and_truncate() {
    let m = matcher(BINARY_PADDING_COPY);
    let events = read(&data("audit.log"));
    let title = "Binary padding (copy)".to_owned();
    assert_eq!(fired(&m, &events), [(2, title.clone()), (9, title)]);
}

#[test]
fn records_in_syslog_give_the_same_fields_and_detections() {
    let raw = read(&data("audit.log"));
    let carried = read(&data("audit_syslog.log"));
    assert_eq!(carried.len(), raw.len());
    for (raw, carried) in raw.iter().zip(&carried) {
        let mut fields = carried.fields.clone();
        assert_eq!(fields.remove("host"), Some(json!("web1")));
        assert_eq!(fields.remove("program"), Some(json!("audispd")));
        assert_eq!(fields.remove("node"), Some(json!("web1")));
        assert_eq!(fields, raw.fields, "line {}", raw.meta.record);
        assert_eq!(carried.meta.timestamp, raw.meta.timestamp);
        assert_eq!(carried.meta.logsource, raw.meta.logsource);
        assert_eq!(carried.meta.host.as_deref(), Some("web1"));
    }
    let m = matcher(BINARY_PADDING_COPY);
    assert_eq!(fired(&m, &carried), fired(&m, &raw));
}

/// The corpus root, from `$WATCHPOST_CORPUS`.
fn corpus() -> PathBuf {
    let root = PathBuf::from(std::env::var("WATCHPOST_CORPUS").expect(
        "WATCHPOST_CORPUS is not set: point it at the shared corpus (e.g. ../shared/data)",
    ));
    assert!(
        root.is_dir(),
        "WATCHPOST_CORPUS={} is missing",
        root.display()
    );
    root
}

/// YAML files under `dir`, counted by walking it here.

#[test]
fn corpus_auditd_binary_padding() {
    let auditd = corpus().join("sigma/rules/linux/auditd");
    let rule = auditd.join("execve/lnx_auditd_binary_padding.yml");
    let text = std::fs::read_to_string(&rule).unwrap_or_else(|e| panic!("{}: {e}", rule.display()));
    let m = matcher(&text);
    let title = "Binary Padding - Linux".to_owned();
    let want = [(2, title.clone()), (9, title)];
    assert_eq!(fired(&m, &read(&data("audit.log"))), want);
    assert_eq!(fired(&m, &read(&data("audit_syslog.log"))), want);

    // Every rule of linux/auditd loads.
    let files = yaml_files(&auditd).len();
    assert!(
        files >= 50,
        "only {files} rule files in {}",
        auditd.display()
    );
    let (set, errors) = load_dirs(std::slice::from_ref(&auditd));
    let (m, compile) = Matcher::new(&set);
    assert!(
        errors.is_empty() && compile.is_empty(),
        "{errors:?} {compile:?}"
    );
    assert_eq!(m.rule_count(), files);
}
