//! Syslog shipped as JSON gives the detections of the raw lines: `watchpost
//! hunt` over twelve sshd password failures as a raw `auth.log`, and over
//! the same twelve messages in each log shipper's JSON layout that the
//! JSON reader puts back into syslog events (syslog-ng `format-json`,
//! journald, the OpenTelemetry Collector's syslog and filelog receivers as
//! the OTLP input flattens them, Vector's syslog source, Fluent Bit's
//! syslog parser). Every record is written out by hand.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_watchpost");

/// 2024-03-01T10:00:10Z, the first failure.
const FIRST: u64 = 1_709_287_210;

/// The raw `auth.log` line of failure `i` (0-11), one a second from
/// 10:00:10.
fn raw_line(i: u64) -> String {
    format!(
        "Mar  1 10:00:{} web1 sshd[{}]: {}",
        10 + i,
        4000 + i,
        message(i)
    )
}

fn message(i: u64) -> String {
    format!(
        "Failed password for root from 203.0.113.9 port {} ssh2",
        50_000 + i
    )
}

/// Failure `i`'s time in RFC 3339.
fn rfc3339(i: u64) -> String {
    format!("2024-03-01T10:00:{}Z", 10 + i)
}

/// Failure `i` in each layout, by the layout's name.
fn layouts(i: u64) -> Vec<(&'static str, Value)> {
    let pid = 4000 + i;
    vec![
        (
            // `$(format-json --scope rfc5424 --scope nv-pairs --key ISODATE)`.
            "syslog-ng",
            json!({
                "SOURCE": "s_src", "PROGRAM": "sshd", "PRIORITY": "info", "PID": pid.to_string(),
                "MESSAGE": message(i), "LEGACY_MSGHDR": format!("sshd[{pid}]: "),
                "ISODATE": format!("2024-03-01T10:00:{}+00:00", 10 + i), "HOST_FROM": "relay",
                "HOST": "web1", "FACILITY": "auth", "DATE": format!("Mar  1 10:00:{}", 10 + i)
            }),
        ),
        (
            // `journalctl -o json`.
            "journald",
            json!({
                "__CURSOR": format!("s=5f1e;i={i}"), "__REALTIME_TIMESTAMP": ((FIRST + i) * 1_000_000).to_string(),
                "__MONOTONIC_TIMESTAMP": "81238712", "_BOOT_ID": "5f1e", "PRIORITY": "6",
                "SYSLOG_FACILITY": "4", "SYSLOG_IDENTIFIER": "sshd", "SYSLOG_PID": pid.to_string(),
                "_PID": pid.to_string(), "_COMM": "sshd", "_SYSTEMD_UNIT": "ssh.service",
                "_HOSTNAME": "web1", "MESSAGE": message(i)
            }),
        ),
        (
            // The Collector's syslog receiver, flattened by the OTLP input.
            "otel-syslog",
            json!({
                "time": rfc3339(i), "severity_text": "info", "severity_number": 9,
                "body": format!("<38>{}", raw_line(i)), "appname": "sshd", "hostname": "web1",
                "message": message(i), "proc_id": pid.to_string(), "priority": 38, "facility": 4,
                "service.name": "otelcol-contrib"
            }),
        ),
        (
            // The Collector's filelog receiver with no operators: the
            // observed time half a second after the line's.
            "otel-filelog",
            json!({
                "time": format!("2024-03-01T10:00:{}.5Z", 10 + i), "body": raw_line(i),
                "log.file.name": "auth.log", "log.file.path": "/var/log/auth.log"
            }),
        ),
        (
            "vector-syslog",
            json!({
                "appname": "sshd", "facility": "auth", "host": "web1", "hostname": "web1",
                "message": message(i), "procid": pid, "severity": "info", "source_ip": "192.0.2.10",
                "source_type": "syslog", "timestamp": rfc3339(i)
            }),
        ),
        (
            // `syslog-rfc3164` parser, `http` output with `Json_date_key date`.
            "fluent-bit",
            json!({
                "date": (FIRST + i) as f64, "pri": "38", "host": "web1", "ident": "sshd",
                "pid": pid.to_string(), "message": message(i)
            }),
        ),
    ]
}

/// `watchpost hunt --json` over `file` with the test's sshd rule and the
/// policy pack; the detections without the file name.
fn hunt(file: &Path) -> Vec<Value> {
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/hunt/rules/linux");
    let out = Command::new(BIN)
        .arg("hunt")
        .arg("--json")
        .arg("-r")
        .arg(&rules)
        .arg(file)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let found: Value = serde_json::from_slice(&out.stdout).unwrap();
    found
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let mut d = d.clone();
            d.as_object_mut().unwrap().remove("file");
            d
        })
        .collect()
}

#[test]
fn syslog_shipped_as_json_gives_the_detections_of_the_raw_lines() {
    let dir = tempfile::tempdir().unwrap();
    // The raw log, last written the day after (RFC 3164 lines take their
    // year from that).
    let raw = dir.path().join("auth.log");
    let text: String = (0..12).map(|i| raw_line(i) + "\n").collect();
    std::fs::write(&raw, text).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&raw)
        .unwrap()
        .set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(FIRST + 86_400))
        .unwrap();
    let want = hunt(&raw);

    // What the raw lines give, by hand: the sshd rule on every line, and
    // the brute force (per address and per user) at the tenth failure.
    assert_eq!(want.len(), 14, "{want:#?}");
    let sshd: Vec<(u64, &str)> = want
        .iter()
        .filter(|d| d["rule_id"] == "5f7c1d2e-0000-4000-8000-000000000010")
        .map(|d| {
            (
                d["record"].as_u64().unwrap(),
                d["timestamp"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(sshd.len(), 12);
    assert_eq!(sshd[0], (1, "2024-03-01T10:00:10Z"));
    assert_eq!(sshd[11], (12, "2024-03-01T10:00:21Z"));
    let brute: Vec<&Value> = want
        .iter()
        .filter(|d| d["policy"] == "brute_force")
        .collect();
    assert_eq!(brute.len(), 2, "{want:#?}");
    for d in &brute {
        assert_eq!(d["timestamp"], "2024-03-01T10:00:19Z");
        assert_eq!(d["record"], 10);
        assert_eq!(d["host"], "web1");
        assert_eq!(d["source_ip"], "203.0.113.9");
        assert_eq!(d["fields"]["service"], "sshd");
    }
    assert!(brute.iter().any(|d| d["user"] == "root"));
    assert!(want.iter().all(|d| d["host"] == "web1"));

    let names: Vec<&str> = layouts(0).iter().map(|(name, _)| *name).collect();
    for (n, name) in names.iter().enumerate() {
        let file = dir.path().join(format!("{name}.ndjson"));
        let text: String = (0..12)
            .map(|i| layouts(i).swap_remove(n).1.to_string() + "\n")
            .collect();
        std::fs::write(&file, text).unwrap();
        assert_eq!(hunt(&file), want, "{name}");
    }
}
