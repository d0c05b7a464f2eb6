//! Each format end to end on small authored fixtures (`tests/data`).

use std::io::Write;

use serde_json::json;
use watchpost_sources::{Format, PathFilter, ProblemKind, discover};

use crate::{data, read_all};

#[test]
fn cloudtrail_records_file() {
    let (events, summary) = read_all(&data("cloudtrail_records.json"), None);
    assert!(summary.problems.is_empty(), "{:?}", summary.problems);
    assert_eq!(summary.events, 2);
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].meta.record, 1);
    assert_eq!(events[1].meta.record, 2);
    assert_eq!(events[0].get_str("userIdentity.type"), Some("Root"));
    assert_eq!(events[0].get_str("eventName"), Some("StopLogging"));
    assert!(
        events
            .iter()
            .all(|e| e.meta.logsource.service == Some("cloudtrail"))
    );
    assert!(events.iter().all(|e| e.meta.timestamp.is_some()));
}

#[test]
fn json_array_file() {
    let (events, summary) = read_all(&data("array.json"), None);
    assert!(summary.problems.is_empty(), "{:?}", summary.problems);
    assert_eq!(events.len(), 2);
    assert_eq!(events[1].get_str("objectRef.resource"), Some("secrets"));
    assert!(
        events
            .iter()
            .all(|e| e.meta.logsource.product == Some("kubernetes"))
    );
    assert!(events.iter().all(|e| e.meta.timestamp.is_some()));
}

#[test]
fn ndjson_of_mixed_sources() {
    let (events, summary) = read_all(&data("mixed.ndjson"), None);
    assert!(summary.problems.is_empty(), "{:?}", summary.problems);
    let got: Vec<(u64, Option<&str>, Option<&str>)> = events
        .iter()
        .map(|e| {
            (
                e.meta.record,
                e.meta.logsource.product,
                e.meta.logsource.service,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (1, Some("github"), Some("audit")),
            (2, Some("okta"), Some("okta")),
            (4, Some("gcp"), Some("gcp.audit")),
            (5, Some("zeek"), Some("dns")),
            (6, Some("windows"), None),
        ],
        "line 3 is empty and skipped"
    );
    assert!(events.iter().all(|e| e.meta.timestamp.is_some()));
    let defender = &events[4];
    assert_eq!(defender.fields["EventID"], json!(1116));
    assert_eq!(defender.get_str("SourceName"), Some("Real-Time Protection"));
    assert_eq!(defender.meta.host.as_deref(), Some("PC01"));
}

#[test]
fn gzip_versions_read_the_same() {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "mixed.ndjson",
        "cloudtrail_records.json",
        "array.json",
        "auth.log",
    ] {
        let plain = std::fs::read(data(name)).unwrap();
        let path = dir.path().join(format!("{name}.gz"));
        let mut gz = flate2::write::GzEncoder::new(
            std::fs::File::create(&path).unwrap(),
            flate2::Compression::fast(),
        );
        gz.write_all(&plain).unwrap();
        gz.finish().unwrap();
        let (want, _) = read_all(&data(name), None);
        let (got, summary) = read_all(&path, None);
        assert!(
            summary.problems.is_empty(),
            "{name}: {:?}",
            summary.problems
        );
        assert_eq!(got.len(), want.len(), "{name}");
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g.fields, w.fields, "{name}");
            assert_eq!(g.meta.record, w.meta.record, "{name}");
        }
    }
}

#[test]
fn syslog_file_with_rollover_and_unparsed_line() {
    // Modification date in the fixture's January: December lines are the
    // year before. The file's real mtime is whatever git gave it, so copy
    // it and set the mtime.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.log");
    std::fs::copy(data("auth.log"), &path).unwrap();
    let jan_2025 = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_735_776_000); // 2025-01-02
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(jan_2025)
        .unwrap();
    let (events, summary) = read_all(&path, None);
    assert!(summary.problems.is_empty(), "{:?}", summary.problems);
    assert_eq!(events.len(), 6);
    let years: Vec<Option<i32>> = events
        .iter()
        .map(|e| e.meta.timestamp.map(|t| t.year()))
        .collect();
    assert_eq!(
        years,
        [
            Some(2024),
            Some(2024),
            Some(2025),
            Some(2025),
            None,
            Some(2025)
        ]
    );
    assert_eq!(events[0].get_str("program"), Some("sshd"));
    assert_eq!(events[0].fields["pid"], json!(811));
    assert_eq!(events[2].get_str("program"), Some("sudo"));
    assert_eq!(
        events[4].get_str("message"),
        Some("this line is not syslog at all")
    );
    assert_eq!(events[5].get_str("program"), Some("sshd"));
    assert!(
        events
            .iter()
            .all(|e| e.meta.logsource.service == Some("auth"))
    );
    assert_eq!(events[0].meta.host.as_deref(), Some("bastion"));
}

#[test]
fn format_override_wins() {
    // Read as syslog, the JSON lines become text events.
    let (events, summary) = read_all(&data("mixed.ndjson"), Some(Format::Syslog));
    assert!(summary.problems.is_empty(), "{:?}", summary.problems);
    assert_eq!(events.len(), 5);
    assert!(events.iter().all(|e| e.fields.contains_key("message")));
    assert_eq!(Format::from_name("NDJSON"), Some(Format::Json));
    assert_eq!(Format::from_name("evtx"), Some(Format::Evtx));
    assert_eq!(Format::from_name("syslog"), Some(Format::Syslog));
    assert_eq!(Format::from_name("xml"), None);
}

#[test]
fn discover_sorts_and_filters() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for name in ["b/2.json", "b/1.log", "a/x.evtx", "a/skip.tmp", "c.jsonl"] {
        let path = root.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "{}\n").unwrap();
    }
    let rel = |files: Vec<std::path::PathBuf>| -> Vec<String> {
        files
            .iter()
            .map(|f| f.strip_prefix(root).unwrap().display().to_string())
            .collect()
    };
    let (files, problems) = discover(&[root.to_path_buf()], &PathFilter::default());
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(
        rel(files),
        ["a/skip.tmp", "a/x.evtx", "b/1.log", "b/2.json", "c.jsonl"]
    );

    let filter = PathFilter {
        include: vec!["*.json*".into(), "a/**".into()],
        exclude: vec!["*.tmp".into()],
    };
    let (files, problems) = discover(&[root.to_path_buf()], &filter);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(rel(files), ["a/x.evtx", "b/2.json", "c.jsonl"]);

    let bad = PathFilter {
        include: vec!["a/[".into()],
        exclude: vec![],
    };
    let (_, problems) = discover(&[root.to_path_buf()], &bad);
    assert_eq!(problems.len(), 1, "the bad glob is reported");
    assert_eq!(problems[0].location, "glob");
}

#[test]
fn byte_order_marks_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    for (name, text, want) in [
        ("bom.ndjson", "\u{feff}{\"a\":1}\n{\"a\":2}\n", 2),
        ("bom.json", "\u{feff}[{\"a\":1},{\"a\":2},{\"a\":3}]", 3),
        ("bom.log", "\u{feff}Jan  1 00:00:00 h app[1]: x\n", 1),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let (events, summary) = read_all(&path, None);
        assert!(
            summary.problems.is_empty(),
            "{name}: {:?}",
            summary.problems
        );
        assert_eq!(events.len(), want, "{name}");
    }
    let (events, _) = read_all(&dir.path().join("bom.log"), None);
    assert_eq!(events[0].fields["program"], json!("app"));
}

#[test]
fn access_logs_common_combined_and_wrapped() {
    let (events, summary) = read_all(&data("access_combined.log"), None);
    assert!(summary.problems.is_empty(), "{:?}", summary.problems);
    assert_eq!(summary.events, 5, "the blank line is skipped");
    assert!(
        events
            .iter()
            .all(|e| e.meta.logsource.category == Some("webserver")
                && e.meta.logsource.product.is_none())
    );
    let records: Vec<u64> = events.iter().map(|e| e.meta.record).collect();
    assert_eq!(records, [1, 2, 4, 5, 6]);
    let login = &events[1];
    assert_eq!(login.get_str("cs-username"), Some("bob"));
    assert_eq!(
        login.get_str("cs-uri-query"),
        Some("/admin/login.php?next=/")
    );
    assert_eq!(login.get_str("cs-uri-stem"), Some("/admin/login.php"));
    assert_eq!(login.fields["sc-status"], json!(302));
    assert_eq!(login.fields["sc-bytes"], json!(0));
    assert_eq!(login.fields["request_time"], json!(0.052));
    assert_eq!(login.get_str("cs-referer"), Some("https://example.org/"));
    let ts = login.meta.timestamp.expect("a time");
    assert_eq!(ts.offset().whole_hours(), 1);
    assert_eq!(ts.unix_timestamp(), 1_793_602_801);
    // The common format: no referer or agent.
    assert!(!events[2].fields.contains_key("cs-user-agent"));
    assert_eq!(
        events[2].get_str("cs-uri-query"),
        Some("/../../../etc/passwd")
    );
    // A line that is not one keeps its text, without a time.
    assert_eq!(
        events[3].get_str("message"),
        Some("this line is not an access log line")
    );
    assert!(events[3].meta.timestamp.is_none());
    // Apache %D: microseconds.
    assert_eq!(events[4].fields["request_time"], json!(0.184233));
    assert_eq!(events[4].get_str("cs-method"), Some("POST"));

    // Every line wrapped in an extra pair of quotes, CRLF line ends.
    let (events, summary) = read_all(&data("access_wrapped.log"), None);
    assert!(summary.problems.is_empty(), "{:?}", summary.problems);
    assert_eq!(events.len(), 2);
    assert!(events.iter().all(|e| e.meta.timestamp.is_some()));
    assert!(
        events
            .iter()
            .all(|e| e.get_str("cs-user-agent") == Some("sqlmap/1.7"))
    );
    assert_eq!(
        events[1].get_str("cs-uri-query"),
        Some("/index.php?q=\"x\"")
    );
    assert_eq!(
        events[0].get_str("cs-referer"),
        Some("http://192.0.2.1/DVWA")
    );

    // Forced as syslog, the same file is text without a time.
    let (events, _) = read_all(&data("access_combined.log"), Some(Format::Syslog));
    assert!(events.iter().all(|e| !e.fields.contains_key("c-ip")));
    for name in ["access", "AccessLog", "access_log", "combined", "clf"] {
        assert_eq!(Format::from_name(name), Some(Format::AccessLog), "{name}");
    }
    assert_eq!(
        Format::from_name(Format::AccessLog.name()),
        Some(Format::AccessLog)
    );
}

#[test]
fn audit_log_records_separators_and_bad_lines() {
    let path = data("audit.log");
    let (events, summary) = read_all(&path, None);
    // Lines 1-2 are ausearch separators, 5 is empty, 6 and 7 are no records.
    let lines: Vec<u64> = events.iter().map(|e| e.meta.record).collect();
    assert_eq!(lines, [3, 4, 8, 9]);
    assert_eq!(summary.events, 4);
    let problems: Vec<(&str, ProblemKind)> = summary
        .problems
        .iter()
        .map(|p| (p.location.as_str(), p.kind))
        .collect();
    assert_eq!(
        problems,
        [
            ("line 6", ProblemKind::Malformed),
            ("line 7", ProblemKind::Malformed)
        ]
    );
    assert!(summary.problems[0].message.contains("type="));
    assert!(
        summary.problems[1]
            .message
            .contains("audit(1700000000.123)")
    );
    assert!(
        events
            .iter()
            .all(|e| e.meta.logsource.service == Some("auditd"))
    );
    assert_eq!(events[0].meta.host.as_deref(), Some("db1"));
    assert_eq!(events[0].get_str("SYSCALL"), Some("execve"));
    assert_eq!(events[0].get_str("key"), Some("(null)"));
    assert_eq!(events[1].get_str("a0"), Some("id"));
    let login = &events[2];
    assert_eq!(login.get_str("type"), Some("USER_LOGIN"));
    assert_eq!(login.get_str("acct"), Some("root"));
    assert_eq!(login.get_str("addr"), Some("203.0.113.9"));
    assert_eq!(login.get_str("res"), Some("failed"));
    assert_eq!(login.get_str("AUID"), Some("unset"));
    assert_eq!(login.meta.host.as_deref(), Some("db1"));
    assert_eq!(events[3].meta.host, None);
    assert_eq!(
        events[3].meta.timestamp.map(|t| t.unix_timestamp()),
        Some(1_700_000_009)
    );

    // Forcing the format reads the same; forced as syslog, the records are
    // still recognised line by line.
    let (forced, _) = read_all(&path, Some(Format::Auditd));
    assert_eq!(forced.len(), 4);
    let (as_syslog, _) = read_all(&path, Some(Format::Syslog));
    let audit: Vec<u64> = as_syslog
        .iter()
        .filter(|e| e.meta.logsource.service == Some("auditd"))
        .map(|e| e.meta.record)
        .collect();
    assert_eq!(audit, [3, 4, 8, 9]);
    for name in ["auditd", "AUDIT"] {
        assert_eq!(Format::from_name(name), Some(Format::Auditd), "{name}");
    }
    assert_eq!(
        Format::from_name(Format::Auditd.name()),
        Some(Format::Auditd)
    );
}
