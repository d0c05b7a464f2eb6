//! `watchpost ports` end to end: first run records the baseline, later
//! runs report new ports with exit code 1, `approve` and `list`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../monitor/tests/data")
        .join(name)
}

fn watchpost(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_watchpost"))
        .args(args)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn ports_check_records_then_reports_then_approves() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("ports.json");
    let state = state.to_str().unwrap();
    let before = fixture("web01.ss-before.txt");
    let after = fixture("web01.ss-after.txt");

    let first = watchpost(&["ports", "check", "--state", state, before.to_str().unwrap()]);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    assert!(text(&first.stderr).contains("recorded the 4 open port(s) seen as the baseline"));

    let second = watchpost(&[
        "ports",
        "check",
        "--jsonl",
        "--state",
        state,
        after.to_str().unwrap(),
    ]);
    assert_eq!(second.status.code(), Some(1), "{}", text(&second.stderr));
    let lines: Vec<serde_json::Value> = text(&second.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ports: Vec<&str> = lines.iter().map(|d| d["port"].as_str().unwrap()).collect();
    assert_eq!(ports, ["4444", "6379"]);
    assert!(
        lines
            .iter()
            .all(|d| d["policy"] == "new_port" && d["host"] == "web01")
    );

    // check does not change the baseline: the same ports are new again.
    let again = watchpost(&["ports", "check", "--state", state, after.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        text(&again.stdout).contains("new open port 4444/tcp on web01 (nc)"),
        "{}",
        text(&again.stdout)
    );

    let approve = watchpost(&["ports", "approve", "--state", state, "web01", "tcp/4444"]);
    assert_eq!(approve.status.code(), Some(0), "{}", text(&approve.stderr));
    let third = watchpost(&[
        "ports",
        "check",
        "--jsonl",
        "--state",
        state,
        after.to_str().unwrap(),
    ]);
    assert_eq!(text(&third.stdout).lines().count(), 1, "only 6379 is left");

    let all = watchpost(&[
        "ports",
        "approve",
        "--state",
        state,
        "--all",
        after.to_str().unwrap(),
    ]);
    assert_eq!(all.status.code(), Some(0), "{}", text(&all.stderr));
    let clean = watchpost(&["ports", "check", "--state", state, after.to_str().unwrap()]);
    assert_eq!(clean.status.code(), Some(0), "{}", text(&clean.stdout));

    let list = watchpost(&["ports", "list", "--state", state]);
    assert_eq!(
        text(&list.stdout).lines().count(),
        1 + 6,
        "{}",
        text(&list.stdout)
    );
}

#[test]
fn ports_bad_state_and_bad_inputs_are_clear_errors() {
    let corrupt = fixture("ports-state-corrupt.json");
    let out = watchpost(&[
        "ports",
        "check",
        "--state",
        corrupt.to_str().unwrap(),
        fixture("web01.ss-after.txt").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("ports-state-corrupt.json") && err.contains("is corrupt"),
        "{err}"
    );

    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("ports.json");
    let out = watchpost(&[
        "ports",
        "check",
        "--state",
        state.to_str().unwrap(),
        fixture("truncated-nmap.xml").to_str().unwrap(),
        fixture("malformed-osquery.json").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "every input bad is an error");
    let err = text(&out.stderr);
    assert!(
        err.contains("truncated-nmap.xml: truncated nmap XML"),
        "{err}"
    );
    assert!(
        err.contains("malformed-osquery.json: not valid JSON"),
        "{err}"
    );
    assert!(!state.exists(), "no baseline from nothing");
}
