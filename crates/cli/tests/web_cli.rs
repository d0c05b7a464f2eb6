//! `watchpost web` end to end against a canned HTTP server on 127.0.0.1.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::thread;

fn watchpost(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_watchpost"))
        .args(args)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Serves `page` (which the test can swap) to every request.
fn serve(page: Arc<Mutex<String>>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
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
fn web_check_baselines_detects_and_approves() {
    let page = Arc::new(Mutex::new(
        "<title>Home</title><p>hello and welcome to our site</p>".to_string(),
    ));
    let port = serve(page.clone());
    let url = format!("http://127.0.0.1:{port}/");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("watchpost.toml");
    std::fs::write(
        &config,
        format!("[web]\ntimeout = \"5s\"\n\n[[web.url]]\nurl = \"{url}\"\ninterval = \"5m\"\n"),
    )
    .unwrap();
    let state = dir.path().join("web.json");
    let (config, state) = (config.to_str().unwrap(), state.to_str().unwrap());

    let first = watchpost(&["web", "check", "--config", config, "--state", state]);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    assert!(text(&first.stdout).contains("baselined"));

    *page.lock().unwrap() =
        "<title>Defaced</title><script src=\"http://evil.example/x.js\"></script>".into();
    let changed = watchpost(&[
        "web", "check", "--jsonl", "--config", config, "--state", state,
    ]);
    assert_eq!(changed.status.code(), Some(1), "{}", text(&changed.stderr));
    let outcome: serde_json::Value = serde_json::from_str(text(&changed.stdout).trim()).unwrap();
    assert_eq!(outcome["outcome"], "changed");
    assert_eq!(outcome["detection"]["policy"], "web_change");
    assert_eq!(outcome["detection"]["url"], url);
    let summary = outcome["summary"].as_str().unwrap();
    assert!(
        summary.contains("title changed from \"Home\" to \"Defaced\""),
        "{summary}"
    );

    let approve = watchpost(&["web", "approve", &url, "--config", config, "--state", state]);
    assert_eq!(approve.status.code(), Some(0), "{}", text(&approve.stderr));
    let after = watchpost(&["web", "check", "--config", config, "--state", state]);
    assert_eq!(after.status.code(), Some(0), "{}", text(&after.stdout));
    assert!(text(&after.stdout).contains("unchanged"));
}

#[test]
fn web_unreachable_bad_config_and_corrupt_state_are_distinct() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("web.json");
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = watchpost(&[
        "web",
        "check",
        "--state",
        state.to_str().unwrap(),
        &format!("http://127.0.0.1:{closed}/"),
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("unreachable"));

    let corrupt = dir.path().join("corrupt.json");
    std::fs::write(&corrupt, "{\"version\": 1, \"kind\": \"web\", \"urls\": ").unwrap();
    let out = watchpost(&[
        "web",
        "check",
        "--state",
        corrupt.to_str().unwrap(),
        "http://127.0.0.1:1/",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("corrupt.json") && err.contains("is corrupt"),
        "{err}"
    );

    let config = dir.path().join("bad.toml");
    std::fs::write(
        &config,
        "[[web.url]]\nurl = \"http://x/\"\nintervall = \"5m\"\n",
    )
    .unwrap();
    let out = watchpost(&["web", "check", "--config", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("bad.toml") && err.contains("unknown field `intervall`"),
        "{err}"
    );
}
