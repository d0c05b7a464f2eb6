//! `Engine::hunt` on fixtures written here: the ordered stage sees events
//! of several files in time order (in memory and spilled to disk), files
//! that are not logs are skipped and named, and RFC 3164 lines are read in
//! the time zone given.

use std::path::{Path, PathBuf};

use policy::PolicyConfig;
use sources::{ReadOptions, TimeZone};
use watchpost_engine::{Engine, EngineConfig, HuntOptions, HuntReport};

/// Two auth logs of two hosts, each with six failed root logins from
/// 10.0.0.9, interleaved in time: web1 at :00, :02, ... :10 and web2 at
/// :01, :03, ... :11. The tenth failure in time order is web2's at
/// 10:00:09; in file order it would be web2's at 10:00:07.
fn two_auth_logs(dir: &Path) -> Vec<PathBuf> {
    let mut paths = Vec::new();
    for (host, offset) in [("web1", 0), ("web2", 1)] {
        let lines: String = (0..6)
            .map(|i| {
                format!(
                    "Jan 15 10:00:{:02} {host} sshd[4242]: Failed password for root from 10.0.0.9 port {} ssh2\n",
                    2 * i + offset,
                    40000 + i
                )
            })
            .collect();
        let sub = dir.join(host);
        std::fs::create_dir_all(&sub).unwrap();
        let path = sub.join("auth.log");
        std::fs::write(&path, lines).unwrap();
        paths.push(path);
    }
    paths
}

fn hunt(paths: &[PathBuf], options: &HuntOptions) -> HuntReport {
    let engine = Engine::load(EngineConfig {
        rules: Vec::new(),
        policy: Some(PolicyConfig::default()),
    })
    .unwrap();
    engine.hunt(paths, options, &())
}

/// `(rule id, time, host)` of the login-failure detections.
fn login_detections(report: &HuntReport) -> Vec<(String, String, String)> {
    report
        .detections
        .to_vec()
        .unwrap()
        .iter()
        .filter(|d| d.rule_id.starts_with("watchpost.policy.login_failures."))
        .map(|d| {
            (
                d.rule_id.clone(),
                d.timestamp
                    .unwrap()
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap(),
                d.host.clone().unwrap_or_default(),
            )
        })
        .collect()
}

#[test]
fn kept_events_meet_in_time_order_across_files_in_memory_and_spilled() {
    let dir = tempfile::tempdir().unwrap();
    let paths = two_auth_logs(dir.path());
    // Written out by hand: ten failures from one source address within
    // ten minutes fire once, at the tenth failure in time order. (Failures
    // per user count per host: six each, below the threshold.)
    for budget in [None, Some(0)] {
        let report = hunt(
            &paths,
            &HuntOptions {
                memory_budget: budget,
                ..HuntOptions::default()
            },
        );
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        assert_eq!(report.events, 12);
        assert_eq!(report.kept, 12, "every failure is kept");
        assert_eq!(report.spilled, if budget.is_some() { 12 } else { 0 });
        let got = login_detections(&report);
        let times: Vec<&str> = got.iter().map(|(_, t, _)| &t[5..]).collect();
        let hosts: Vec<&str> = got.iter().map(|(_, _, h)| h.as_str()).collect();
        assert_eq!(times, ["01-15T10:00:09Z"], "{got:?}");
        assert_eq!(hosts, ["web2"], "{got:?}");
        assert_eq!(got[0].0, "watchpost.policy.login_failures.source");
    }
}

#[test]
fn rfc3164_lines_are_read_in_the_zone_given() {
    let dir = tempfile::tempdir().unwrap();
    let paths = two_auth_logs(dir.path());
    let report = hunt(
        &paths,
        &HuntOptions {
            read: ReadOptions {
                timezone: TimeZone::parse("America/New_York").unwrap(),
            },
            ..HuntOptions::default()
        },
    );
    // 10:00:09 EST (UTC-5 in January) is 15:00:09 UTC.
    let got = login_detections(&report);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(
        got.iter().all(|(_, t, _)| t.ends_with("-01-15T15:00:09Z")),
        "{got:?}"
    );
}

#[test]
fn files_that_are_not_logs_are_skipped_and_named() {
    let dir = tempfile::tempdir().unwrap();
    two_auth_logs(dir.path());
    std::fs::write(
        dir.path().join("README.md"),
        "# Samples\n\nAttack samples, one folder per tactic.\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("LICENSE"),
        "MIT License\n\nCopyright (c) 2024\n",
    )
    .unwrap();
    std::fs::write(dir.path().join(".gitignore"), "*.swp\ntarget/\n").unwrap();
    let report = hunt(&[dir.path().to_path_buf()], &HuntOptions::default());
    let mut skipped: Vec<String> = report
        .skipped
        .iter()
        .map(|s| {
            Path::new(&s.path)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .to_string()
        })
        .collect();
    skipped.sort();
    assert_eq!(skipped, [".gitignore", "LICENSE", "README.md"]);
    assert_eq!(report.files, 2, "the two auth logs are read");
    assert_eq!(report.events, 12, "no event comes from the skipped files");
    assert!(report.problems.is_empty(), "{:?}", report.problems);

    // --format forces a format on them.
    let forced = hunt(
        &[dir.path().join("README.md")],
        &HuntOptions {
            format: Some(sources::Format::Syslog),
            ..HuntOptions::default()
        },
    );
    assert!(forced.skipped.is_empty());
    assert_eq!(forced.events, 2, "two non-empty lines");
}
