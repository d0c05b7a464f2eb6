//! What the commands print, run as the real binary on hostile input:
//!
//! - Terminal safety: log fields, rule titles, host and file names, port
//!   snapshots and web pages carrying OSC 52 (set the clipboard), CSI,
//!   DCS, C1 controls and bidi overrides never reach stdout or stderr raw,
//!   in tables, summaries, problems, CSV or JSON; the escaped text does.
//! - JSON: no JSON or JSONL output repeats a key in any object.
//!
//! (`incidents` and `report`, which need a server, are checked in
//! `e2e.rs`.)

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use serde_json::Value;
use support::{assert_terminal_safe, assert_unique_keys, check_unique_keys};

/// OSC 52 that would put "pwned" on the clipboard.
const OSC52: &str = "\u{1b}]52;c;cHduZWQ=\u{7}";
/// A file name that carries OSC 52 (`foo` on the clipboard).
const HOSTILE_NAME: &str = "logs\u{1b}]52;c;Zm9v\u{7}.ndjson";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/term")
        .join(name)
}

fn watchpost_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_watchpost"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run watchpost")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A temporary folder holding the hostile log under a hostile file name.
fn hostile_logs() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(fixture("hostile.ndjson"), dir.path().join(HOSTILE_NAME)).unwrap();
    dir
}

#[test]
fn the_duplicate_key_check_finds_repeated_keys_at_any_depth() {
    assert!(check_unique_keys(r#"{"a":1,"b":{"a":2},"c":[{"a":3}]}"#).is_ok());
    assert!(check_unique_keys(r#"{"host":"a","host":"a"}"#).is_err());
    assert!(check_unique_keys(r#"[{"x":{"y":1,"y":2}}]"#).is_err());
    assert!(check_unique_keys("not json").is_err());
}

#[test]
fn hunt_escapes_log_fields_rule_titles_hosts_and_file_names() {
    let dir = hostile_logs();
    let rules = fixture("hostile.yml").display().to_string();
    let hunt = |extra: &[&str]| {
        let mut args = vec!["hunt", "--no-policy", "-r", rules.as_str()];
        args.extend_from_slice(extra);
        args.push(HOSTILE_NAME);
        watchpost_in(dir.path(), &args)
    };

    let table = hunt(&[]);
    // A detection, and a problem (the line that is not JSON).
    assert_eq!(table.status.code(), Some(3), "{}", text(&table.stderr));
    assert_terminal_safe("hunt table", &table);
    let out = text(&table.stdout);
    for escaped in [
        // The rule title.
        "Hostile \\x1b]52;c;cHduZWQ=\\x07 title \\x1b[31mred\\x1b[0m",
        // The host.
        "ws\\x1b[2K1",
        // The log field, with ordinary Unicode kept.
        "CommandLine=\\x1b]52;c;cHduZWQ=\\x07 pwned \\x1b[1A\\x1b[2K \\x9b31m \\x1bPq#0\\x1b\\ \\u{202e}fdp.exe Zürich 東京",
        // The file name.
        "logs\\x1b]52;c;Zm9v\\x07.ndjson:1",
    ] {
        assert!(out.contains(escaped), "{escaped} missing from:\n{out}");
    }
    // The summary's problem line names the file, escaped.
    let err = text(&table.stderr);
    assert!(
        err.contains("logs\\x1b]52;c;Zm9v\\x07.ndjson line 4"),
        "{err}"
    );

    let csv = hunt(&["--csv"]);
    assert_terminal_safe("hunt --csv", &csv);
    let out = text(&csv.stdout);
    assert_eq!(
        out.lines().count(),
        2,
        "header and one row, no cell spans lines:\n{out}"
    );
    assert!(out.contains(",ws\\x1b[2K1,"), "{out}");
    assert!(
        out.contains("CommandLine=\\x1b]52;c;cHduZWQ=\\x07 pwned"),
        "{out}"
    );

    for (flag, lines) in [("--json", false), ("--jsonl", true)] {
        let json = hunt(&[flag]);
        assert_terminal_safe(flag, &json);
        assert_unique_keys(flag, &json.stdout, lines);
        let out = text(&json.stdout);
        // JSON carries the data unchanged: escapes decode to the raw text.
        let first: Value = serde_json::from_str(if lines {
            out.lines().next().unwrap()
        } else {
            &out
        })
        .unwrap();
        let d = if lines { &first } else { &first[0] };
        assert_eq!(d["host"], "ws\u{1b}[2K1");
        assert_eq!(d["file"], HOSTILE_NAME);
        let command_line = d["fields"]["CommandLine"].as_str().unwrap();
        assert!(
            command_line.starts_with(&format!("{OSC52} pwned")),
            "{command_line:?}"
        );
        assert!(command_line.contains("\u{9b}31m \u{1b}Pq#0\u{1b}\\ \u{202e}fdp.exe"));
    }
}

#[test]
fn rules_check_and_the_hunt_summary_escape_rule_files_ids_and_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::copy(fixture("hostile.yml"), rules.join("hostile.yml")).unwrap();
    // A broken rule: raw control characters are not YAML, and its file
    // name and id (read from the raw text for the error) carry escapes.
    std::fs::write(
        rules.join("bad\u{1b}[2J.yml"),
        "title: broken\nid: x\u{1b}]52;c;Zm9v\u{7}\nlogsource:\n  product: windows\ndetection:\n  sel:\n    EventID: 1\n  condition: sel\n",
    )
    .unwrap();

    let check = watchpost_in(dir.path(), &["rules", "check", "rules"]);
    assert_eq!(check.status.code(), Some(3), "{}", text(&check.stderr));
    assert_terminal_safe("rules check", &check);
    let out = text(&check.stdout);
    assert!(
        out.contains("bad\\x1b[2J.yml (x\\x1b]52;c;Zm9v\\x07)"),
        "{out}"
    );
    assert!(out.contains("loaded: 1  failed: 1"), "{out}");

    let json = watchpost_in(dir.path(), &["rules", "check", "--json", "rules"]);
    assert_terminal_safe("rules check --json", &json);
    assert_unique_keys("rules check --json", &json.stdout, false);
    let report: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(report["errors"][0]["rule_id"], "x\u{1b}]52;c;Zm9v\u{7}");

    std::fs::copy(fixture("hostile.ndjson"), dir.path().join(HOSTILE_NAME)).unwrap();
    let hunt = watchpost_in(
        dir.path(),
        &["hunt", "--no-policy", "-r", "rules", HOSTILE_NAME],
    );
    assert_eq!(hunt.status.code(), Some(3), "{}", text(&hunt.stderr));
    assert_terminal_safe("hunt summary", &hunt);
    let err = text(&hunt.stderr);
    assert!(
        err.contains("rule rules/bad\\x1b[2J.yml (x\\x1b]52;c;Zm9v\\x07)"),
        "{err}"
    );
}

#[test]
fn gaps_escapes_hosts_and_sources() {
    let dir = hostile_logs();
    let table = watchpost_in(dir.path(), &["gaps", "--min-gap", "30m", HOSTILE_NAME]);
    // A gap on the hostile host (10:00 to 13:00), and a problem line.
    assert_eq!(table.status.code(), Some(3), "{}", text(&table.stderr));
    assert_terminal_safe("gaps", &table);
    let out = text(&table.stdout);
    let row = out
        .lines()
        .find(|l| l.contains("ws\\x1b[2K1"))
        .unwrap_or_else(|| panic!("no row for the hostile host:\n{out}"));
    assert!(row.contains("logs\\x1b]52;c;Zm9v\\x07.ndjson"), "{row}");
    assert!(
        text(&table.stderr).contains("problem: logs\\x1b]52;c;Zm9v\\x07.ndjson line 4"),
        "{}",
        text(&table.stderr)
    );

    for (flag, lines) in [("--json", false), ("--jsonl", true)] {
        let json = watchpost_in(
            dir.path(),
            &["gaps", flag, "--min-gap", "30m", HOSTILE_NAME],
        );
        assert_terminal_safe(flag, &json);
        assert_unique_keys(&format!("gaps {flag}"), &json.stdout, lines);
    }
}

/// `ss -ltnp` output whose process names carry terminal sequences.
const SS_BEFORE: &str = "State  Recv-Q Send-Q Local Address:Port Peer Address:Port Process\n\
LISTEN 0      128          0.0.0.0:22        0.0.0.0:*    users:((\"sshd\",pid=1020,fd=3))\n";
const SS_AFTER: &str = "State  Recv-Q Send-Q Local Address:Port Peer Address:Port Process\n\
LISTEN 0      128          0.0.0.0:22        0.0.0.0:*    users:((\"sshd\",pid=1020,fd=3))\n\
LISTEN 0      5            0.0.0.0:4444      0.0.0.0:*    users:((\"nc\u{1b}]52;c;cHduZWQ=\u{7}\",pid=2,fd=3))\n";

#[test]
fn ports_escapes_hosts_and_process_names_and_writes_each_key_once() {
    let dir = tempfile::tempdir().unwrap();
    // The host is the file name up to its first dot.
    let name = "web\u{1b}[2K01.ss.txt";
    for (sub, content) in [("before", SS_BEFORE), ("after", SS_AFTER)] {
        std::fs::create_dir(dir.path().join(sub)).unwrap();
        std::fs::write(dir.path().join(sub).join(name), content).unwrap();
    }
    let before = format!("before/{name}");
    let after = format!("after/{name}");
    let run = |args: &[&str]| watchpost_in(dir.path(), args);

    let first = run(&["ports", "check", "--state", "ports.json", &before]);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    assert_terminal_safe("ports check (baseline)", &first);

    let table = run(&["ports", "check", "--state", "ports.json", &after]);
    assert_eq!(table.status.code(), Some(1), "{}", text(&table.stderr));
    assert_terminal_safe("ports check", &table);
    let out = text(&table.stdout);
    assert!(
        out.contains("new open port 4444/tcp on web\\x1b[2K01 (nc\\x1b]52;c;cHduZWQ=\\x07)"),
        "{out}"
    );

    let jsonl = run(&["ports", "check", "--jsonl", "--state", "ports.json", &after]);
    assert_terminal_safe("ports check --jsonl", &jsonl);
    assert_unique_keys("ports check --jsonl", &jsonl.stdout, true);
    let d: Value = serde_json::from_str(text(&jsonl.stdout).trim()).unwrap();
    assert_eq!(d["host"], "web\u{1b}[2K01");
    assert_eq!(d["port"], "4444");

    let approve = run(&["ports", "approve", "--state", "ports.json", "--all", &after]);
    assert_eq!(approve.status.code(), Some(0), "{}", text(&approve.stderr));
    let list = run(&["ports", "list", "--state", "ports.json"]);
    assert_terminal_safe("ports list", &list);
    assert!(
        text(&list.stdout).contains("web\\x1b[2K01"),
        "{}",
        text(&list.stdout)
    );
    let list = run(&["ports", "list", "--jsonl", "--state", "ports.json"]);
    assert_terminal_safe("ports list --jsonl", &list);
    assert_unique_keys("ports list --jsonl", &list.stdout, true);
}

/// Serves `page` (which the test can swap) to every request.
fn serve(page: Arc<Mutex<String>>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
                line.clear();
            }
            let body = page.lock().unwrap().clone();
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

#[test]
fn web_check_escapes_page_titles_and_writes_each_key_once() {
    let page = Arc::new(Mutex::new(
        "<title>Home</title><p>hello and welcome to our site</p>".to_string(),
    ));
    let port = serve(page.clone());
    let url = format!("http://127.0.0.1:{port}/");
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let mut all = vec!["web", "check", "--state", "web.json"];
        all.extend_from_slice(args);
        all.push(&url);
        watchpost_in(dir.path(), &all)
    };
    let first = run(&[]);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));

    *page.lock().unwrap() = format!(
        "<title>{OSC52}Defaced\u{1b}[2J\u{202e}</title><script src=\"http://evil.example/{OSC52}\u{9b}2J.js\"></script>"
    );
    let table = run(&[]);
    assert_eq!(table.status.code(), Some(1), "{}", text(&table.stderr));
    assert_terminal_safe("web check", &table);
    let out = text(&table.stdout);
    // The summary quotes titles with Rust's escapes (`\u{1b}`) and script
    // sources as they are; the table escapes what is left.
    assert!(out.contains("Defaced"), "{out}");
    assert!(
        out.contains("http://evil.example/\\x1b]52;c;cHduZWQ=\\x07\\x9b2J.js"),
        "{out}"
    );

    let jsonl = run(&["--jsonl"]);
    assert_eq!(jsonl.status.code(), Some(1), "{}", text(&jsonl.stderr));
    assert_terminal_safe("web check --jsonl", &jsonl);
    assert_unique_keys("web check --jsonl", &jsonl.stdout, true);
    let outcome: Value = serde_json::from_str(text(&jsonl.stdout).trim()).unwrap();
    assert_eq!(outcome["detection"]["host"], "127.0.0.1");
    assert_eq!(outcome["detection"]["url"], url.as_str());
}
