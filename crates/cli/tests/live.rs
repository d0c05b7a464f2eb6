//! Live detection through the real `watchpost serve`: events posted to
//! `POST /api/v1/events` with an `ingest` token are spooled, detected and
//! stored as alerts and incidents; bad lines are refused by number; an
//! ingest token reads nothing; and a server killed with SIGKILL mid-stream
//! (while detection is behind) loses no acknowledged event and duplicates
//! no alert: a per-line rule finds each line exactly once. Real sshd lines
//! from the corpus, replayed with current times over HTTP, syslog TCP and
//! OTLP, each open one incident with the sent lines as evidence (each test
//! prints its latency from the last line to the incident). A CloudTrail
//! record in an EventBridge envelope, and a Windows event in Winlogbeat's
//! layout, give live the alerts of the bare record and of the EVTX export.
//! Detection held up past `max_pending_events` answers 429 with
//! `Retry-After`.
//!
//! Every socket talks to 127.0.0.1 only. Waiting for detection polls the
//! server's own counters (`GET /api/v1/stats`) with a deadline.

mod support;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::serve::{
    BIN, CONFIG, Server, add_user, admin_token, all_alerts, get, list, post_lines, request,
    rfc3164, wait_idle,
};
use time::OffsetDateTime;

/// `n` sshd password failures for `user` from `ip`, one a second ending
/// at `end`, hand-written in the OpenSSH format.
fn failures(end: OffsetDateTime, host: &str, user: &str, ip: &str, n: i64) -> Vec<String> {
    (0..n)
        .map(|i| {
            let t = end - time::Duration::seconds(n - 1 - i);
            format!(
                "{} {host} sshd[{}]: Failed password for {user} from {ip} port {} ssh2",
                rfc3164(t),
                4000 + i,
                50_000 + i
            )
        })
        .collect()
}

#[test]
fn an_sshd_brute_force_over_http_opens_one_incident_with_its_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(dir.path(), &data, CONFIG, &[]);
    let admin = admin_token(&data);
    let shipper = add_user(&data, "shipper", "ingest");
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let lines = failures(now, "bastion", "root", "203.0.113.9", 12);
    let body = lines.join("\n") + "\n";
    let started = Instant::now();
    let answer = post_lines(
        server.addr,
        &shipper,
        "?format=syslog&source=auth.log",
        body.as_bytes(),
    );
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_eq!(answer.json()["accepted"], 12);
    assert_eq!(answer.json()["rejected"], 0);
    // The incident appears without any further input.
    let deadline = Instant::now() + Duration::from_secs(30);
    while list(server.addr, "/api/v1/incidents", &admin).is_empty() {
        assert!(
            Instant::now() < deadline,
            "no incident; log:\n{}",
            server.log_text()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let latency = started.elapsed();
    eprintln!("last line posted to incident listed: {latency:?}");
    let ingest = wait_idle(server.addr, &admin);
    let incidents = list(server.addr, "/api/v1/incidents", &admin);
    assert_eq!(incidents.len(), 1, "{incidents:#?}");
    let incident = &incidents[0];
    assert_eq!(incident["category"], "security_incident");
    let id = incident["id"].as_str().unwrap();
    let detail = get(server.addr, &format!("/api/v1/incidents/{id}"), &admin).json();
    let alerts = detail["alerts"].as_array().unwrap();
    assert!(!alerts.is_empty());
    // The evidence is a line that was sent, with its source.
    let evidence = &alerts[0]["evidence"][0];
    assert_eq!(evidence["source"], "shipper/auth.log");
    assert_eq!(evidence["format"], "syslog");
    let line = evidence["event"].as_str().unwrap();
    assert!(lines.iter().any(|l| l == line), "{line}");
    assert_eq!(alerts[0]["entities"]["host"], "bastion");
    assert_eq!(ingest["accepted"], 12);
    assert_eq!(ingest["processed"], 12);
    // The same counts in the Prometheus format, for admins only.
    let metrics = get(server.addr, "/metrics", &admin);
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .header("content-type")
            .unwrap()
            .starts_with("text/plain")
    );
    let text = String::from_utf8(metrics.body).unwrap();
    for line in [
        "watchpost_events_accepted_total{source=\"shipper/auth.log\"} 12",
        "watchpost_events_rejected_total{source=\"shipper/auth.log\"} 0",
        "watchpost_events_processed_total 12",
        "watchpost_spool_pending_records 0",
        "watchpost_event_latency_seconds_count 12",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
    }
    assert_eq!(get(server.addr, "/metrics", &shipper).status, 403);
    // The source, as responders and admins see it.
    let sources = get(server.addr, "/api/v1/sources", &admin).json();
    assert_eq!(
        sources["sources"][0]["name"], "shipper/auth.log",
        "{sources}"
    );
    assert_eq!(sources["sources"][0]["accepted"], 12);
    assert_eq!(sources["sources"][0]["rejected"], 0);
    assert_eq!(get(server.addr, "/api/v1/sources", &shipper).status, 403);
}

#[test]
fn bad_lines_are_refused_by_number_and_the_rest_go_through() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(dir.path(), &data, CONFIG, &[]);
    let shipper = add_user(&data, "shipper", "ingest");
    let long = format!("{{\"message\":\"{}\"}}", "a".repeat(1 << 20));
    let body = format!("{{\"EventID\":1}}\nnot json\n\n{{\"a\":\n42\n{long}\n[{{\"b\":2}}]\n");
    let answer = post_lines(server.addr, &shipper, "", body.as_bytes());
    assert_eq!(answer.status, 200);
    let receipt = answer.json();
    assert_eq!(receipt["accepted"], 2, "{receipt}");
    assert_eq!(receipt["rejected"], 4, "{receipt}");
    let numbers: Vec<u64> = receipt["rejected_lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["line"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, [2, 4, 5, 6]);
    assert!(
        receipt["rejected_lines"][3]["reason"]
            .as_str()
            .unwrap()
            .contains("over the limit"),
        "{receipt}"
    );
    // The refused lines are in the dead-letter file with their reasons.
    let dead = std::fs::read_to_string(data.join("dead-letter.ndjson")).unwrap();
    assert_eq!(dead.lines().count(), 4);
    assert!(dead.lines().next().unwrap().contains("\"line\":2"));

    // A JSON array body: one line per element.
    let answer = post_lines(server.addr, &shipper, "", br#"[{"a":1}, {"b":2}, 3]"#);
    assert_eq!(answer.json()["accepted"], 2);
    assert_eq!(answer.json()["rejected_lines"][0]["line"], 3);
    // gzip.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(b"{\"a\":1}\n{\"a\":2}\n").unwrap();
    let gz = gz.finish().unwrap();
    let answer = request(
        server.addr,
        "POST",
        "/api/v1/events",
        &shipper,
        &[("Content-Encoding", "gzip")],
        &gz,
    );
    assert_eq!(answer.json()["accepted"], 2);
    // Whole-request refusals name the problem.
    let answer = post_lines(server.addr, &shipper, "?format=evtx", b"x");
    assert_eq!(answer.status, 400);
    let answer = request(
        server.addr,
        "POST",
        "/api/v1/events",
        &shipper,
        &[("Content-Encoding", "gzip")],
        b"not gzip",
    );
    assert_eq!(answer.status, 400);
    let answer = post_lines(server.addr, &shipper, "?source=bad%20name", b"{}");
    assert_eq!(answer.status, 400);
    let answer = post_lines(server.addr, &shipper, "", b"[{\"a\":1},");
    assert_eq!(answer.status, 400);
}

#[test]
fn an_ingest_token_only_sends_events_and_no_one_else_may() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(dir.path(), &data, CONFIG, &[]);
    let admin = admin_token(&data);
    let shipper = add_user(&data, "shipper", "ingest");
    let reporter = add_user(&data, "rita", "reporter");
    let responder = add_user(&data, "rex", "responder");
    // A report exists, so "nothing visible" is not "nothing there".
    let answer = request(
        server.addr,
        "POST",
        "/api/v1/reports",
        &reporter,
        &[("Content-Type", "application/json")],
        br#"{"category":"theft","description":"Laptop gone from desk 4"}"#,
    );
    assert_eq!(
        answer.status,
        201,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    for path in [
        "/api/v1/me",
        "/api/v1/incidents",
        "/api/v1/reports",
        "/api/v1/alerts",
        "/api/v1/stats",
        "/api/v1/users",
        "/api/v1/audit",
        "/api/v1/metrics",
        "/api/v1/users/shipper/tokens",
    ] {
        assert_eq!(get(server.addr, path, &shipper).status, 403, "GET {path}");
    }
    let answer = request(
        server.addr,
        "POST",
        "/api/v1/reports",
        &shipper,
        &[("Content-Type", "application/json")],
        br#"{"category":"theft","description":"y"}"#,
    );
    assert_eq!(answer.status, 403);
    for token in [&admin, &reporter, &responder] {
        let answer = post_lines(server.addr, token, "", b"{\"a\":1}\n");
        assert_eq!(answer.status, 403);
    }
    assert_eq!(post_lines(server.addr, "wrong", "", b"{}").status, 401);
    assert_eq!(
        post_lines(server.addr, &shipper, "", b"{\"a\":1}").status,
        200
    );
}

/// Sends `batches` to the server; each must be acknowledged.
fn send_all(addr: SocketAddr, token: &str, batches: &[String]) {
    for batch in batches {
        let answer = post_lines(
            addr,
            token,
            "?format=syslog&source=auth.log",
            batch.as_bytes(),
        );
        assert_eq!(
            answer.status,
            200,
            "{}",
            String::from_utf8_lossy(&answer.body)
        );
        assert_eq!(answer.json()["rejected"], 0);
    }
}

/// The id of [`PER_LINE_RULE`].
const PER_LINE_RULE_ID: &str = "5f7c1d2e-0000-4000-8000-0000000000a1";

/// A low Sigma rule that matches every sshd password failure: one alert
/// per line (each keyed by its line), kept in the alert queue.
const PER_LINE_RULE: &str = "title: SSH Failed Password Line\nid: 5f7c1d2e-0000-4000-8000-0000000000a1\nstatus: test\nlevel: low\nlogsource:\n  product: linux\n  service: sshd\ndetection:\n  keywords:\n    - 'Failed password'\n  condition: keywords\n";

/// Alert keys (`rule_id`, entities and time) of every alert but the
/// per-line rule's, the per-line rule's alerts as the lines they carry,
/// and the incident count.
fn outcome(addr: SocketAddr, admin: &str) -> (Vec<String>, Vec<String>, usize) {
    let mut alerts = Vec::new();
    let mut per_line = Vec::new();
    for a in all_alerts(addr, admin, "") {
        if a["rule_id"] == PER_LINE_RULE_ID {
            per_line.push(a["evidence"][0]["event"].as_str().unwrap_or("").to_owned());
        } else {
            alerts.push(format!(
                "{} {} {}",
                a["rule_id"], a["entities"], a["detected_at"]
            ));
        }
    }
    alerts.sort();
    per_line.sort();
    let incidents = list(addr, "/api/v1/incidents?limit=500", admin).len();
    (alerts, per_line, incidents)
}

#[test]
fn a_server_killed_mid_stream_loses_and_duplicates_nothing() {
    // 40 attackers, each 12 failures against a user of their own on one
    // of four hosts, interleaved; 30 batches of 16 lines.
    let end = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap() - time::Duration::minutes(1);
    let mut lines = Vec::new();
    for i in 0..12 {
        for a in 0..40 {
            let t = end - time::Duration::seconds(11 - i);
            lines.push(format!(
                "{} host{} sshd[{}]: Failed password for user{a} from 198.51.100.{a} port {} ssh2",
                rfc3164(t),
                a % 4,
                1000 + a,
                40_000 + i * 100 + a
            ));
        }
    }
    let batches: Vec<String> = lines.chunks(16).map(|c| c.join("\n") + "\n").collect();
    assert_eq!(batches.len(), 30);
    // Every line sent, as its per-line alert's evidence shows it.
    let mut sent = lines.clone();
    sent.sort();
    // Both servers also run a rule that fires once per line.
    let rules = tempfile::tempdir().unwrap();
    std::fs::write(rules.path().join("per_line.yml"), PER_LINE_RULE).unwrap();
    let args = ["-r", rules.path().to_str().unwrap()];

    // One clean run.
    let clean_dir = tempfile::tempdir().unwrap();
    let data = clean_dir.path().join("data");
    let server = Server::start(clean_dir.path(), &data, CONFIG, &args);
    let admin = admin_token(&data);
    let shipper = add_user(&data, "shipper", "ingest");
    send_all(server.addr, &shipper, &batches);
    let clean_ingest = wait_idle(server.addr, &admin);
    let clean = outcome(server.addr, &admin);
    drop(server);
    assert_eq!(clean_ingest["accepted"], 480);
    assert!(clean.0.len() >= 40, "{clean:#?}");
    assert_eq!(clean.1.len(), 480, "one per-line alert per line");
    assert_eq!(clean.1, sent);

    // The same, killed with SIGKILL after half the batches were
    // acknowledged, then restarted for the other half.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(dir.path(), &data, CONFIG, &args);
    let admin = admin_token(&data);
    let shipper = add_user(&data, "shipper", "ingest");
    send_all(server.addr, &shipper, &batches[..15]);
    // Whether detection is still behind at the kill: records spooled but
    // not read, or read but still held in the reorder buffer.
    let ingest = get(server.addr, "/api/v1/stats", &admin).json()["ingest"].clone();
    server.kill9();
    let behind = ingest["spooled"].as_u64().unwrap() - ingest["processed"].as_u64().unwrap();
    let reordering = ingest["reordering"].as_u64().unwrap();
    if behind > 0 || reordering > 0 {
        eprintln!(
            "killed with detection behind: {behind} records unread, {reordering} events in the reorder buffer"
        );
    } else {
        eprintln!("detection had caught up with the spool before the kill");
    }
    let server = Server::start(dir.path(), &data, CONFIG, &args);
    // The restart resumes from its last checkpoint, or (when the kill
    // came before the first one) replays the spool from the committed
    // offset.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !server.log_text().contains("detection started") {
        assert!(
            Instant::now() < deadline,
            "no replay: {}",
            server.log_text()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    send_all(server.addr, &shipper, &batches[15..]);
    let ingest = wait_idle(server.addr, &admin);
    assert_eq!(
        ingest["spooled"], 480,
        "every acknowledged line is in the spool once"
    );
    let killed = outcome(server.addr, &admin);
    // Every acknowledged line was detected exactly once.
    assert_eq!(killed.1.len(), 480, "one per-line alert per line");
    assert_eq!(killed.1, sent);
    assert_eq!(killed, clean);
}

fn corpus() -> PathBuf {
    PathBuf::from(
        std::env::var("WATCHPOST_CORPUS")
            .expect("WATCHPOST_CORPUS must point at the shared corpus (../shared/data)"),
    )
}

/// The first `n` sshd `Failed password` lines of the address with the
/// most of them in a real sshd log, their RFC 3164 times replaced by
/// times one second apart ending now.
fn replayed_brute_force(path: &Path, n: usize) -> (String, Vec<String>) {
    let text = std::fs::read_to_string(path).unwrap();
    let failed: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("sshd[") && l.contains("Failed password"))
        .collect();
    let ip_of = |l: &str| {
        let rest = &l[l.find(" from ").unwrap() + 6..];
        rest.split(' ').next().unwrap().to_owned()
    };
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for l in &failed {
        *counts.entry(ip_of(l)).or_default() += 1;
    }
    let (ip, count) = counts.iter().max_by_key(|(_, c)| **c).unwrap();
    assert!(*count >= n, "{ip} has only {count} failures");
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let lines = failed
        .iter()
        .filter(|l| ip_of(l) == *ip)
        .take(n)
        .enumerate()
        .map(|(i, l)| {
            // An RFC 3164 time is the first 15 characters.
            let t = now - time::Duration::seconds((n - 1 - i) as i64);
            format!("{}{}", rfc3164(t), &l[15..])
        })
        .collect();
    (ip.clone(), lines)
}

/// Waits for the first incident; prints how long after `since` (`what`:
/// the last line acknowledged, or written to a socket) it was listed, as
/// `latency: N ms`.
fn incident_latency(server: &Server, admin: &str, what: &str, since: Instant) {
    let deadline = since + Duration::from_secs(30);
    while list(server.addr, "/api/v1/incidents", admin).is_empty() {
        assert!(
            Instant::now() < deadline,
            "no incident; log:\n{}",
            server.log_text()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    eprintln!(
        "{what} to incident listed: latency: {} ms",
        since.elapsed().as_millis()
    );
}

/// Once detection caught up: exactly one incident, whose every alert is
/// about `ip` and carries as evidence one of the lines sent (`line_of`
/// reads the line back from an evidence object, or `None`).
fn one_incident_with_sent_lines(
    server: &Server,
    admin: &str,
    ip: &str,
    lines: &[String],
    line_of: impl Fn(&Value) -> Option<String>,
) {
    wait_idle(server.addr, admin);
    let incidents = list(server.addr, "/api/v1/incidents", admin);
    assert_eq!(incidents.len(), 1, "{incidents:#?}");
    let id = incidents[0]["id"].as_str().unwrap();
    let detail = get(server.addr, &format!("/api/v1/incidents/{id}"), admin).json();
    let alerts = detail["alerts"].as_array().unwrap();
    assert!(!alerts.is_empty(), "{detail:#}");
    for alert in alerts {
        assert_eq!(alert["entities"]["source_ip"], ip, "{alert}");
        let evidence = &alert["evidence"][0];
        let line = line_of(evidence).unwrap_or_else(|| panic!("no line in {evidence}"));
        assert!(lines.contains(&line), "{line} was not sent");
    }
}

/// The replayed corpus brute force of [`replayed_brute_force`].
fn corpus_brute_force() -> (String, Vec<String>) {
    replayed_brute_force(&corpus().join("linux/loghub_OpenSSH_2k.log"), 15)
}

#[test]
fn corpus_real_sshd_failures_replayed_now_over_http_open_one_incident() {
    let (ip, lines) = corpus_brute_force();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(dir.path(), &data, CONFIG, &[]);
    let admin = admin_token(&data);
    let shipper = add_user(&data, "shipper", "ingest");
    let body = lines.join("\n") + "\n";
    let answer = post_lines(
        server.addr,
        &shipper,
        "?format=syslog&source=auth.log",
        body.as_bytes(),
    );
    let acknowledged = Instant::now();
    assert_eq!(
        answer.json()["accepted"],
        15,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    incident_latency(
        &server,
        &admin,
        "HTTP: last line acknowledged",
        acknowledged,
    );
    one_incident_with_sent_lines(&server, &admin, &ip, &lines, |e| {
        e["event"].as_str().map(str::to_owned)
    });
}

#[test]
fn corpus_real_sshd_failures_replayed_now_over_syslog_tcp_open_one_incident() {
    let (ip, lines) = corpus_brute_force();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = format!(
        "{CONFIG}[[ingest.syslog]]\nlisten = \"127.0.0.1:0\"\nprotocol = \"tcp\"\nsource = \"auth.log\"\n"
    );
    let server = Server::start(dir.path(), &data, &config, &[]);
    let admin = admin_token(&data);
    let addr = syslog_address(&server);
    // RFC 6587 octet counting, each line with a priority (auth.info).
    let framed: Vec<String> = lines.iter().map(|l| format!("<38>{l}")).collect();
    let mut stream = TcpStream::connect(addr).unwrap();
    for message in &framed {
        stream
            .write_all(format!("{} {message}", message.len()).as_bytes())
            .unwrap();
    }
    stream.flush().unwrap();
    let written = Instant::now();
    incident_latency(&server, &admin, "syslog TCP: last line written", written);
    wait_metrics(
        &server,
        &admin,
        &["watchpost_events_accepted_total{source=\"syslog/127.0.0.1/auth.log\"} 15".to_owned()],
        &String::new,
    );
    one_incident_with_sent_lines(&server, &admin, &ip, &framed, |e| {
        e["event"].as_str().map(str::to_owned)
    });
}

/// The lines as the Collector's `filelog` receiver ships them over
/// OTLP/JSON: each a string body with the file's name as an attribute,
/// stamped with the time it was read.
#[test]
fn corpus_real_sshd_failures_replayed_now_over_otlp_open_one_incident() {
    let (ip, lines) = corpus_brute_force();
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let records: Vec<Value> = lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let read =
                now - time::Duration::seconds(14 - i as i64) + time::Duration::milliseconds(20);
            serde_json::json!({
                "observedTimeUnixNano": unix_nanos(read),
                "body": {"stringValue": line},
                "attributes": [
                    {"key": "log.file.name", "value": {"stringValue": "auth.log"}}
                ]
            })
        })
        .collect();
    let request_body = serde_json::json!({
        "resourceLogs": [{
            "resource": {"attributes": [
                {"key": "service.name", "value": {"stringValue": "otelcol-contrib"}}
            ]},
            "scopeLogs": [{"scope": {}, "logRecords": records}]
        }]
    })
    .to_string();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(dir.path(), &data, CONFIG, &[]);
    let admin = admin_token(&data);
    let shipper = add_user(&data, "shipper", "ingest");
    let answer = request(
        server.addr,
        "POST",
        "/v1/logs",
        &shipper,
        &[("Content-Type", "application/json")],
        request_body.as_bytes(),
    );
    let acknowledged = Instant::now();
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    incident_latency(
        &server,
        &admin,
        "OTLP/JSON: last line acknowledged",
        acknowledged,
    );
    one_incident_with_sent_lines(&server, &admin, &ip, &lines, |e| {
        (e["source"] == "shipper/otlp")
            .then(|| e["event"]["body"].as_str().map(str::to_owned))
            .flatten()
    });
    let ingest = get(server.addr, "/api/v1/stats", &admin).json()["ingest"].clone();
    assert_eq!(ingest["accepted"], 15, "{ingest}");
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

/// Waits for `n` incidents; returns them.
fn wait_incidents(server: &Server, admin: &str, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let incidents = list(server.addr, "/api/v1/incidents", admin);
        if incidents.len() >= n {
            return incidents;
        }
        assert!(
            Instant::now() < deadline,
            "{} incidents; log:\n{}",
            incidents.len(),
            server.log_text()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Vector's `http` sink configured as in the README (`encoding.codec =
/// "text"`, newline framing, gzip, bearer auth) sends the raw lines it
/// tailed, gzip-compressed, one request per batch, with these headers.
#[test]
fn vectors_http_sink_request_is_taken_as_documented() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(dir.path(), &data, CONFIG, &[]);
    let admin = admin_token(&data);
    let shipper = add_user(&data, "vector", "ingest");
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let body = failures(now, "web-3", "deploy", "192.0.2.77", 11).join("\n") + "\n";
    let answer = request(
        server.addr,
        "POST",
        "/api/v1/events?format=syslog&source=auth.log",
        &shipper,
        &[
            ("Content-Type", "text/plain"),
            ("Content-Encoding", "gzip"),
            ("User-Agent", "Vector/0.51.0 (x86_64-unknown-linux-gnu)"),
            ("Accept-Encoding", "zstd,gzip,deflate,br"),
        ],
        &gzip(body.as_bytes()),
    );
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_eq!(answer.json()["accepted"], 11);
    let incidents = wait_incidents(&server, &admin, 1);
    assert!(
        incidents[0]["title"]
            .as_str()
            .unwrap()
            .contains("host=web-3"),
        "{incidents:#?}"
    );
}

/// Fluent Bit's `http` output with `Format json_lines` (as in the README)
/// sends one JSON object per record with its own date key added
/// (`Json_date_key date`, `Json_date_format iso8601`), as
/// `application/json`, here gzip-compressed (`Compress gzip`).
#[test]
fn fluent_bits_http_output_request_is_taken_as_documented() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(dir.path(), &data, CONFIG, &[]);
    let admin = admin_token(&data);
    let shipper = add_user(&data, "fluent-bit", "ingest");
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let at = now
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    // A hand-written CloudTrail record of a trail being stopped, as a
    // Fluent Bit tail of CloudTrail JSON lines forwards it.
    let body = format!(
        concat!(
            r#"{{"date":"{at}","eventVersion":"1.08","userIdentity":{{"type":"IAMUser","userName":"mallory","accountId":"111122223333"}},"#,
            r#""eventTime":"{at}","eventSource":"cloudtrail.amazonaws.com","eventName":"StopLogging","awsRegion":"eu-west-1","#,
            r#""sourceIPAddress":"198.51.100.23","requestParameters":{{"name":"org-trail"}},"eventID":"7a1b2c3d-0000-4000-8000-000000000001","#,
            r#""eventType":"AwsApiCall","recipientAccountId":"111122223333"}}"#,
            "\n",
            r#"{{"date":"{at}","log":"plain text that is still JSON-wrapped"}}"#,
            "\n"
        ),
        at = at
    );
    let answer = request(
        server.addr,
        "POST",
        "/api/v1/events?source=cloudtrail",
        &shipper,
        &[
            ("Content-Type", "application/json"),
            ("Content-Encoding", "gzip"),
            ("User-Agent", "Fluent-Bit"),
        ],
        &gzip(body.as_bytes()),
    );
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_eq!(answer.json()["accepted"], 2);
    let incidents = wait_incidents(&server, &admin, 1);
    assert!(
        incidents[0]["title"]
            .as_str()
            .unwrap()
            .starts_with("AWS CloudTrail logging stopped"),
        "{incidents:#?}"
    );
}

#[test]
fn hunt_submit_files_an_archives_detections_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(dir.path(), &data, CONFIG, &[]);
    let admin = admin_token(&data);
    let responder = add_user(&data, "rex", "responder");
    // An archived auth.log: 12 failures from one address a week ago.
    let end = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap() - time::Duration::days(7);
    let log = dir.path().join("auth.log");
    std::fs::write(
        &log,
        failures(end, "bastion", "root", "203.0.113.50", 12).join("\n") + "\n",
    )
    .unwrap();
    let hunt = |extra: &[&str]| {
        Command::new(BIN)
            .arg("hunt")
            .arg(&log)
            .args(["--jsonl", "--submit", &format!("http://{}", server.addr)])
            .args(extra)
            .env("WATCHPOST_TOKEN", &responder)
            .output()
            .unwrap()
    };
    let first = hunt(&[]);
    assert_eq!(
        first.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let found = String::from_utf8(first.stdout).unwrap().lines().count();
    assert!(found >= 1);
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(
        stderr.contains(&format!("{found} alerts stored, 0 already there")),
        "{stderr}"
    );
    let alerts = list(server.addr, "/api/v1/alerts", &admin);
    assert_eq!(alerts.len(), found);
    assert_eq!(list(server.addr, "/api/v1/incidents", &admin).len(), 1);
    // Sending again stores nothing.
    let second = hunt(&[]);
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains(&format!("0 alerts stored, {found} already there")),
        "{stderr}"
    );
    assert_eq!(list(server.addr, "/api/v1/alerts", &admin).len(), found);
    // A token that may not file alerts is refused, and says so.
    let reporter = add_user(&data, "rita", "reporter");
    let refused = Command::new(BIN)
        .arg("hunt")
        .arg(&log)
        .args([
            "--submit",
            &format!("http://{}", server.addr),
            "--token",
            &reporter,
        ])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("403"));
}

/// The address a syslog input logged that it listens on.
fn syslog_address(server: &Server) -> SocketAddr {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let log = server.log_text();
        if let Some(line) = log.lines().find(|l| l.contains("syslog input listening")) {
            let at = line.find("address=").unwrap() + "address=".len();
            return line[at..]
                .split_whitespace()
                .next()
                .unwrap()
                .parse()
                .unwrap();
        }
        assert!(Instant::now() < deadline, "no syslog input: {log}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn an_sshd_brute_force_over_syslog_tcp_opens_one_incident() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = format!(
        "{CONFIG}[[ingest.syslog]]\nlisten = \"127.0.0.1:0\"\nprotocol = \"tcp\"\nsource = \"auth.log\"\n"
    );
    let server = Server::start(dir.path(), &data, &config, &[]);
    let admin = admin_token(&data);
    let addr = syslog_address(&server);
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let lines = failures(now, "gateway", "admin", "203.0.113.80", 12);
    // RFC 6587 octet counting, as syslog-ng's and rsyslog's TCP outputs
    // frame messages.
    let mut stream = TcpStream::connect(addr).unwrap();
    for line in &lines {
        let message = format!("<38>{line}");
        stream
            .write_all(format!("{} {message}", message.len()).as_bytes())
            .unwrap();
    }
    stream.flush().unwrap();
    let incidents = wait_incidents(&server, &admin, 1);
    wait_idle(server.addr, &admin);
    let incidents_now = list(server.addr, "/api/v1/incidents", &admin);
    assert_eq!(incidents_now.len(), 1, "{incidents:#?}");
    let id = incidents_now[0]["id"].as_str().unwrap();
    let detail = get(server.addr, &format!("/api/v1/incidents/{id}"), &admin).json();
    let evidence = &detail["alerts"][0]["evidence"][0];
    assert_eq!(evidence["source"], "syslog/127.0.0.1/auth.log");
    let line = evidence["event"].as_str().unwrap();
    assert!(lines.iter().any(|l| format!("<38>{l}") == line), "{line}");
}

/// Posts an OTLP logs request to `/v1/logs` as `content_type` to a server
/// that also runs a Sigma rule of `service: sshd` (low, so its alerts stay
/// queued); waits for the one incident the brute force should open, checks
/// its evidence, checks that the sshd rule saw every message, and prints
/// how long after the post the incident was listed.
fn otlp_brute_force(content_type: &str, request_body: &[u8], host: &str) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let sshd_rule = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/hunt/rules/linux");
    let server = Server::start(
        dir.path(),
        &data,
        CONFIG,
        &["-r", sshd_rule.to_str().unwrap()],
    );
    let admin = admin_token(&data);
    let shipper = add_user(&data, "shipper", "ingest");
    let started = Instant::now();
    let answer = request(
        server.addr,
        "POST",
        "/v1/logs",
        &shipper,
        &[("Content-Type", content_type)],
        request_body,
    );
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    wait_incidents(&server, &admin, 1);
    let latency = started.elapsed();
    eprintln!("OTLP request posted to incident listed: {latency:?}");
    let ingest = wait_idle(server.addr, &admin);
    assert_eq!(ingest["accepted"], 12, "{ingest}");
    let incidents = list(server.addr, "/api/v1/incidents", &admin);
    assert_eq!(incidents.len(), 1, "{incidents:#?}");
    assert_eq!(incidents[0]["category"], "security_incident");
    let id = incidents[0]["id"].as_str().unwrap();
    let detail = get(server.addr, &format!("/api/v1/incidents/{id}"), &admin).json();
    let alerts = detail["alerts"].as_array().unwrap();
    assert!(!alerts.is_empty(), "{detail:#}");
    for alert in alerts {
        assert_eq!(alert["entities"]["host"], host, "{alert:#}");
        let evidence = &alert["evidence"][0];
        assert_eq!(evidence["source"], "shipper/otlp", "{alert:#}");
        // The record as the OTLP input made it a JSON object.
        assert_eq!(evidence["format"], "json", "{alert:#}");
        let event = evidence["event"].to_string();
        assert!(event.contains("Failed password for root"), "{event}");
    }
    // The records were sshd syslog events: the rule routed to `sshd` saw
    // all twelve.
    let sshd_alerts = list(server.addr, "/api/v1/alerts?limit=100", &admin)
        .into_iter()
        .filter(|a| a["rule_id"] == "5f7c1d2e-0000-4000-8000-000000000010")
        .count();
    assert_eq!(sshd_alerts, 12);
}

/// The nanoseconds since the epoch of `t`, as OTLP/JSON writes them.
fn unix_nanos(t: OffsetDateTime) -> String {
    t.unix_timestamp_nanos().to_string()
}

/// The OpenTelemetry Collector's `syslog` receiver parses each message
/// into record attributes (`appname`, `hostname`, `proc_id`, `priority`,
/// `facility`, `message`), keeps the line as the body and the message's
/// time as the record's; its `otlphttp` exporter (here with `encoding:
/// json`) posts an `ExportLogsServiceRequest` to `/v1/logs`. The JSON is
/// written by hand from the OTLP specification.
#[test]
fn an_sshd_brute_force_over_otlp_opens_one_incident() {
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let lines = failures(now, "bastion", "root", "203.0.113.71", 12);
    let records: Vec<Value> = lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let at = now - time::Duration::seconds(11 - i as i64);
            let message = line.split_once("]: ").unwrap().1;
            let string = |key: &str, value: &str| {
                serde_json::json!({"key": key, "value": {"stringValue": value}})
            };
            let int = |key: &str, value: i64| {
                serde_json::json!({"key": key, "value": {"intValue": value.to_string()}})
            };
            serde_json::json!({
                "timeUnixNano": unix_nanos(at),
                "observedTimeUnixNano": unix_nanos(at + time::Duration::milliseconds(3)),
                "severityNumber": 9,
                "severityText": "info",
                "body": {"stringValue": format!("<38>{line}")},
                "attributes": [
                    string("appname", "sshd"),
                    int("facility", 4),
                    string("hostname", "bastion"),
                    string("message", message),
                    int("priority", 38),
                    string("proc_id", &(4000 + i).to_string()),
                ]
            })
        })
        .collect();
    let request = serde_json::json!({
        "resourceLogs": [{
            "resource": {"attributes": [
                {"key": "host.name", "value": {"stringValue": "collector-1"}},
                {"key": "service.name", "value": {"stringValue": "otelcol-contrib"}}
            ]},
            "scopeLogs": [{"scope": {}, "logRecords": records}]
        }]
    });
    otlp_brute_force(
        "application/json",
        request.to_string().as_bytes(),
        "bastion",
    );
}

/// Protobuf wire encoding, only what an OTLP logs request needs: a varint.
fn varint(mut n: u64, out: &mut Vec<u8>) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// A length-delimited field (a message or a string).
fn field(number: u64, bytes: &[u8], out: &mut Vec<u8>) {
    varint(number << 3 | 2, out);
    varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

/// An `AnyValue` holding a string (field 1).
fn any_string(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    field(1, text.as_bytes(), &mut out);
    out
}

/// A `KeyValue` (key 1, value 2) with a string value.
fn key_value(key: &str, text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    field(1, key.as_bytes(), &mut out);
    field(2, &any_string(text), &mut out);
    out
}

/// The Collector's `filelog` receiver with no operators reads each line of
/// `/var/log/auth.log` as a string body, with the file's name and path as
/// attributes and only an observed time; `otlphttp` posts it as binary
/// protobuf. Encoded by hand from `opentelemetry/proto/logs/v1/logs.proto`:
/// `ExportLogsServiceRequest.resource_logs` (1) → `ResourceLogs.scope_logs`
/// (2) → `ScopeLogs.log_records` (2) → `LogRecord` with
/// `observed_time_unix_nano` (11, fixed64), `body` (5) and `attributes` (6).
#[test]
fn an_sshd_brute_force_over_otlp_protobuf_from_the_filelog_receiver_opens_one_incident() {
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let lines = failures(now, "gateway", "root", "203.0.113.72", 12);
    let mut scope_logs = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let observed =
            now - time::Duration::seconds(11 - i as i64) + time::Duration::milliseconds(40);
        let mut record = Vec::new();
        varint(11 << 3 | 1, &mut record);
        record.extend_from_slice(&(observed.unix_timestamp_nanos() as u64).to_le_bytes());
        field(5, &any_string(line), &mut record);
        field(6, &key_value("log.file.name", "auth.log"), &mut record);
        field(
            6,
            &key_value("log.file.path", "/var/log/auth.log"),
            &mut record,
        );
        field(2, &record, &mut scope_logs);
    }
    let mut resource_logs = Vec::new();
    field(2, &scope_logs, &mut resource_logs);
    let mut request = Vec::new();
    field(1, &resource_logs, &mut request);
    otlp_brute_force("application/x-protobuf", &request, "gateway");
}

/// A program a test needs, from the environment `scripts/services start`
/// prints.
fn required_tool(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!("{var} is not set: run `eval \"$(scripts/services start)\"` (scripts/test does)")
    })
}

/// A child process killed when the test ends.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until the Prometheus text has every line of `want`.
fn wait_metrics(server: &Server, admin: &str, want: &[String], context: &dyn Fn() -> String) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = String::from_utf8(get(server.addr, "/metrics", admin).body).unwrap();
        if want.iter().all(|w| text.lines().any(|l| l == w)) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "want {want:?} in\n{text}\nlog:\n{}\n{}",
            server.log_text(),
            context()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Debian's syslog-ng tails a file and forwards each line twice: over TCP
/// with octet counting (its `syslog()` destination) and in batches to
/// `POST /api/v1/events` (its `http()` destination, one `format-json`
/// object per message, read back as the syslog line). Both copies arrive;
/// the login-failure detector counts them per host and user, so the
/// per-user and the per-address thresholds each fire once (then cool
/// down), and the two alerts make one incident.
#[test]
fn syslog_ng_forwards_a_tailed_file_over_tcp_and_http() {
    let syslog_ng = required_tool("WATCHPOST_TEST_SYSLOG_NG");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = format!(
        "{CONFIG}[[ingest.syslog]]\nlisten = \"127.0.0.1:0\"\nprotocol = \"tcp\"\nsource = \"auth.log\"\n"
    );
    let server = Server::start(dir.path(), &data, &config, &[]);
    let admin = admin_token(&data);
    let shipper = add_user(&data, "syslog-ng", "ingest");
    let tcp = syslog_address(&server);
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let lines = failures(now, "bastion", "root", "203.0.113.66", 12);
    let d = dir.path();
    std::fs::write(d.join("in.log"), lines.join("\n") + "\n").unwrap();
    let conf = format!(
        r#"@version: 3.38
options {{ keep-hostname(yes); }};
source s_in {{ file("{input}" follow-freq(1)); }};
destination d_tcp {{ syslog("127.0.0.1" transport("tcp") port({tcp_port})); }};
destination d_http {{
    http(url("http://{api}/api/v1/events?source=auth.log")
         method("POST")
         headers("Authorization: Bearer {token}")
         body("$(format-json --scope rfc5424 --scope nv-pairs --key ISODATE)")
         batch-lines(100) batch-timeout(200));
}};
log {{ source(s_in); destination(d_tcp); destination(d_http); }};
"#,
        input = d.join("in.log").display(),
        tcp_port = tcp.port(),
        api = server.addr,
        token = shipper,
    );
    std::fs::write(d.join("sng.conf"), conf).unwrap();
    let _syslog_ng = Reaped(
        Command::new(&syslog_ng)
            .arg("-f")
            .arg(d.join("sng.conf"))
            .arg("-R")
            .arg(d.join("persist"))
            .arg("-c")
            .arg(d.join("ctl"))
            .arg("-p")
            .arg(d.join("pid"))
            .args(["-Fe", "--no-caps"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(d.join("syslog-ng.log")).unwrap())
            .spawn()
            .unwrap(),
    );
    wait_metrics(
        &server,
        &admin,
        &[
            "watchpost_events_accepted_total{source=\"syslog/127.0.0.1/auth.log\"} 12".to_owned(),
            "watchpost_events_accepted_total{source=\"syslog-ng/auth.log\"} 12".to_owned(),
        ],
        &|| std::fs::read_to_string(d.join("syslog-ng.log")).unwrap_or_default(),
    );
    wait_idle(server.addr, &admin);
    let incidents = list(server.addr, "/api/v1/incidents", &admin);
    assert_eq!(incidents.len(), 1, "{incidents:#?}");
    let stats = get(server.addr, "/api/v1/stats", &admin).json();
    assert_eq!(stats["ingest"]["accepted"], 24, "{stats}");
    assert_eq!(stats["ingest"]["alerts"], 2, "{stats}");
}

/// The OpenTelemetry Python SDK's OTLP/HTTP log exporter (protobuf) ships
/// a Python application's log records to `/v1/logs`; the attributes of
/// each record are its event's fields. Here an application logs the
/// CloudTrail records it handles, one of which stops a trail.
#[test]
fn the_opentelemetry_python_sdk_ships_logs_to_v1_logs() {
    let python = required_tool("WATCHPOST_TEST_OTEL_PYTHON");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(dir.path(), &data, CONFIG, &[]);
    let admin = admin_token(&data);
    let shipper = add_user(&data, "otel-app", "ingest");
    let script = r#"
import logging, sys
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter

endpoint, token, at = sys.argv[1], sys.argv[2], sys.argv[3]
provider = LoggerProvider(resource=Resource.create({"service.name": "trail-auditor"}))
exporter = OTLPLogExporter(endpoint=endpoint, headers={"Authorization": "Bearer " + token})
provider.add_log_record_processor(BatchLogRecordProcessor(exporter))
log = logging.getLogger("trail-auditor")
log.addHandler(LoggingHandler(level=logging.INFO, logger_provider=provider))
log.setLevel(logging.INFO)
for i, name in enumerate(["DescribeTrails", "GetTrailStatus", "StopLogging"]):
    log.warning("CloudTrail call", extra={
        "eventVersion": "1.08", "eventTime": at, "eventSource": "cloudtrail.amazonaws.com",
        "eventName": name, "awsRegion": "eu-west-1", "sourceIPAddress": "198.51.100.23",
        "eventType": "AwsApiCall", "recipientAccountId": "111122223333",
        "eventID": "7a1b2c3d-0000-4000-8000-00000000000%d" % i,
    })
provider.shutdown()
"#;
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let at = now
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let out = Command::new(&python)
        .arg("-c")
        .arg(script)
        .arg(format!("http://{}/v1/logs", server.addr))
        .arg(&shipper)
        .arg(&at)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The SDK logs export failures without failing: check what arrived.
    wait_metrics(
        &server,
        &admin,
        &["watchpost_events_accepted_total{source=\"otel-app/otlp\"} 3".to_owned()],
        &|| String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    let incidents = wait_incidents(&server, &admin, 1);
    assert!(
        incidents[0]["title"]
            .as_str()
            .unwrap()
            .starts_with("AWS CloudTrail logging stopped"),
        "{incidents:#?}"
    );
    // The wrong content type is refused in OTLP's terms.
    let answer = request(
        server.addr,
        "POST",
        "/v1/logs",
        &shipper,
        &[("Content-Type", "text/plain")],
        b"x",
    );
    assert_eq!(answer.status, 415);
    // And only ingest accounts may send.
    assert_eq!(
        request(
            server.addr,
            "POST",
            "/v1/logs",
            &admin,
            &[("Content-Type", "application/json")],
            b"{}"
        )
        .status,
        403
    );
}

#[test]
fn a_full_spool_refuses_with_503_and_acknowledges_nothing_it_did_not_store() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = format!("{CONFIG}spool_max_bytes = 65536\nspool_segment_bytes = 16384\n");
    let server = Server::start(dir.path(), &data, &config, &[]);
    let admin = admin_token(&data);
    let shipper = add_user(&data, "shipper", "ingest");
    // 200 lines of about 500 bytes: more than the whole spool.
    let line = format!("{{\"message\":\"{}\"}}", "x".repeat(480));
    let big = (0..200)
        .map(|_| line.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    let answer = post_lines(server.addr, &shipper, "", big.as_bytes());
    assert_eq!(
        answer.status,
        503,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_eq!(answer.header("retry-after").as_deref(), Some("10"));
    assert_eq!(answer.json()["error"]["code"], "unavailable");
    assert!(
        answer.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("spool is full")
    );
    let ingest = get(server.addr, "/api/v1/stats", &admin).json()["ingest"].clone();
    assert_eq!(
        ingest["spooled"], 0,
        "nothing of the refused request is stored"
    );
    // What fits is taken.
    let answer = post_lines(server.addr, &shipper, "", line.as_bytes());
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json()["accepted"], 1);
}

/// A hand-written Sigma rule on CloudTrail records of one API call.
fn action_rule(id: &str, action: &str) -> String {
    format!(
        "title: Action {action}\nid: {id}\nstatus: test\nlogsource:\n    product: aws\n    service: cloudtrail\ndetection:\n    selection:\n        eventName: {action}\n    condition: selection\nlevel: high\n"
    )
}

#[test]
fn rules_reload_on_sighup_and_a_bad_rule_keeps_the_old_ones() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(
        rules.join("a.yml"),
        action_rule("5f0c8a34-0000-4000-8000-00000000000a", "alpha"),
    )
    .unwrap();
    let server = Server::start(
        dir.path(),
        &data,
        CONFIG,
        &["--no-policy", "-r", rules.to_str().unwrap()],
    );
    let admin = admin_token(&data);
    let shipper = add_user(&data, "shipper", "ingest");
    let send = |action: &str, n: u32| {
        let at = OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap();
        let line = format!(
            concat!(
                r#"{{"eventVersion":"1.08","eventTime":"{at}","eventSource":"s3.amazonaws.com","#,
                r#""eventName":"{action}","awsRegion":"eu-west-1","sourceIPAddress":"198.51.100.5","#,
                r#""eventType":"AwsApiCall","recipientAccountId":"111122223333","eventID":"e-{n}"}}"#,
                "\n"
            ),
            at = at,
            action = action,
            n = n
        );
        let answer = post_lines(server.addr, &shipper, "", line.as_bytes());
        assert_eq!(answer.json()["accepted"], 1);
        wait_idle(server.addr, &admin);
    };
    let rules_hit = || -> Vec<String> {
        let mut ids: Vec<String> = list(server.addr, "/api/v1/alerts?limit=100", &admin)
            .iter()
            .map(|a| a["rule_title"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };
    send("alpha", 1);
    send("beta", 2);
    assert_eq!(rules_hit(), ["Action alpha"]);

    // A second rule, loaded on SIGHUP.
    std::fs::write(
        rules.join("b.yml"),
        action_rule("5f0c8a34-0000-4000-8000-00000000000b", "beta"),
    )
    .unwrap();
    let status = Command::new("kill")
        .args(["-HUP", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    while !server.log_text().contains("rules reloaded") {
        assert!(
            Instant::now() < deadline,
            "no reload: {}",
            server.log_text()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    send("beta", 3);
    // Detection restarted on the new rules from the committed offset: the
    // earlier beta event, within the replay horizon, is found too.
    assert_eq!(rules_hit(), ["Action alpha", "Action beta", "Action beta"]);

    // A broken rule file: the reload is refused, naming it, and the
    // running rules stay.
    std::fs::write(rules.join("c.yml"), "title: broken\ndetection: [\n").unwrap();
    let answer = request(
        server.addr,
        "POST",
        "/api/v1/rules/reload",
        &admin,
        &[],
        b"",
    );
    assert_eq!(
        answer.status,
        422,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert!(
        answer.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("c.yml"),
        "{}",
        answer.json()
    );
    send("beta", 4);
    assert_eq!(
        rules_hit(),
        ["Action alpha", "Action beta", "Action beta", "Action beta"]
    );
    // Only admins reload.
    assert_eq!(
        request(
            server.addr,
            "POST",
            "/api/v1/rules/reload",
            &shipper,
            &[],
            b""
        )
        .status,
        403
    );
}

#[test]
fn a_tailed_auth_log_opens_an_incident_and_a_restart_reads_only_new_lines() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("auth.log");
    let config = format!(
        "{CONFIG}[[ingest.tail]]\npaths = [\"{}\"]\nsource = \"auth.log\"\npoll_millis = 50\n",
        dir.path().join("auth.log*").display()
    );
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    std::fs::write(
        &log,
        failures(now, "bastion", "root", "203.0.113.90", 12).join("\n") + "\n",
    )
    .unwrap();
    let server = Server::start(dir.path(), &data, &config, &[]);
    let admin = admin_token(&data);
    let source = "watchpost_events_accepted_total{source=\"tail/auth.log/auth.log\"}";
    wait_metrics(&server, &admin, &[format!("{source} 12")], &|| {
        String::new()
    });
    assert_eq!(wait_incidents(&server, &admin, 1).len(), 1);
    drop(server);
    // Two more lines while stopped: a restart reads those two only.
    let mut more = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    more.write_all(
        (failures(now, "bastion", "root", "203.0.113.91", 2).join("\n") + "\n").as_bytes(),
    )
    .unwrap();
    let server = Server::start(dir.path(), &data, &config, &[]);
    wait_metrics(&server, &admin, &[format!("{source} 2")], &|| String::new());
    let ingest = wait_idle(server.addr, &admin);
    assert_eq!(ingest["spooled"], 14, "{ingest}");
}

/// Starts a fresh server with the policy pack and `args` (`-r RULES`),
/// posts `line` (one JSON event) to `/api/v1/events`, and returns the
/// titles of the alerts it gives, sorted.
fn live_rule_titles(args: &[&str], source: &str, line: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(dir.path(), &data, CONFIG, args);
    let admin = admin_token(&data);
    let shipper = add_user(&data, "shipper", "ingest");
    let answer = post_lines(
        server.addr,
        &shipper,
        &format!("?source={source}"),
        format!("{line}\n").as_bytes(),
    );
    assert_eq!(
        answer.json()["accepted"],
        1,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    wait_idle(server.addr, &admin);
    let mut titles: Vec<String> = all_alerts(server.addr, &admin, "")
        .iter()
        .map(|a| a["rule_title"].as_str().unwrap().to_owned())
        .collect();
    titles.sort();
    titles
}

/// A CloudTrail `DeleteTrail` record delivered one by one through Amazon
/// EventBridge (the envelope of EventBridge's documentation for "AWS API
/// Call via CloudTrail") is detected live as the bare record is: by the
/// policy pack's logging-off rule and by a Sigma rule the server loads
/// with `-r`.
#[test]
fn a_cloudtrail_record_in_an_eventbridge_envelope_is_detected_live_as_the_bare_record() {
    let rules = tempfile::tempdir().unwrap();
    std::fs::write(
        rules.path().join("delete_trail.yml"),
        action_rule("5f0c8a34-0000-4000-8000-0000000000d1", "DeleteTrail"),
    )
    .unwrap();
    let at = OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let record = serde_json::json!({
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDAEXAMPLE7MALLORY",
            "arn": "arn:aws:iam::111122223333:user/mallory",
            "accountId": "111122223333",
            "userName": "mallory"
        },
        "eventTime": at,
        "eventSource": "cloudtrail.amazonaws.com",
        "eventName": "DeleteTrail",
        "awsRegion": "eu-west-1",
        "sourceIPAddress": "198.51.100.23",
        "userAgent": "aws-cli/2.15.0",
        "requestParameters": {"name": "org-trail"},
        "responseElements": null,
        "requestID": "0b1c2d3e-0000-4000-8000-0000000000aa",
        "eventID": "7a1b2c3d-0000-4000-8000-0000000000d1",
        "readOnly": false,
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": "111122223333",
        "eventCategory": "Management"
    });
    let envelope = serde_json::json!({
        "version": "0",
        "id": "6f1e2d3c-0000-4000-8000-0000000000e1",
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.cloudtrail",
        "account": "111122223333",
        "time": at,
        "region": "eu-west-1",
        "resources": [],
        "detail": record
    });
    let want = [
        "AWS CloudTrail logging stopped or reduced",
        "Action DeleteTrail",
    ];
    let args = ["-r", rules.path().to_str().unwrap()];
    let bare = live_rule_titles(&args, "cloudtrail", &record.to_string());
    assert_eq!(bare, want);
    let wrapped = live_rule_titles(&args, "eventbridge", &envelope.to_string());
    assert_eq!(wrapped, want);
}

/// A Security log cleared event (1102) as Winlogbeat ships it (ECS:
/// `winlog.*`, the `LogFileCleared` user data under `winlog.user_data`) is
/// detected live by the same policy rule as the same event in the JSON
/// layout of an EVTX export (`Event.System`, `Event.UserData`).
#[test]
fn a_winlogbeat_event_is_detected_live_as_the_evtx_json_event() {
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let at = now
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let evtx = serde_json::json!({
        "Event": {
            "#attributes": {"xmlns": "http://schemas.microsoft.com/win/2004/08/events/event"},
            "System": {
                "Provider": {"#attributes": {
                    "Name": "Microsoft-Windows-Eventlog",
                    "Guid": "{fc65ddd8-d6ef-4962-83d5-6e5cfe9ce148}"
                }},
                "EventID": 1102,
                "Version": 0,
                "Level": 4,
                "Task": 104,
                "Opcode": 0,
                "Keywords": "0x4020000000000000",
                "TimeCreated": {"#attributes": {"SystemTime": at}},
                "EventRecordID": 90210,
                "Correlation": null,
                "Execution": {"#attributes": {"ProcessID": 812, "ThreadID": 4420}},
                "Channel": "Security",
                "Computer": "WS-7.corp.example",
                "Security": null
            },
            "UserData": {
                "LogFileCleared": {
                    "#attributes": {"xmlns": "http://manifests.microsoft.com/win/2004/08/windows/eventlog"},
                    "SubjectUserSid": "S-1-5-21-1111111111-2222222222-3333333333-1104",
                    "SubjectUserName": "mallory",
                    "SubjectDomainName": "CORP",
                    "SubjectLogonId": "0x3e7a1f"
                }
            }
        }
    });
    let winlogbeat = serde_json::json!({
        "@timestamp": at,
        "event": {"code": "1102", "kind": "event", "provider": "Microsoft-Windows-Eventlog"},
        "host": {"name": "WS-7"},
        "agent": {"type": "winlogbeat", "version": "8.11.0"},
        "winlog": {
            "channel": "Security",
            "event_id": "1102",
            "provider_name": "Microsoft-Windows-Eventlog",
            "provider_guid": "{fc65ddd8-d6ef-4962-83d5-6e5cfe9ce148}",
            "record_id": "90210",
            "computer_name": "WS-7.corp.example",
            "api": "wineventlog",
            "process": {"pid": 812, "thread": {"id": 4420}},
            "user_data": {
                "xml_name": "LogFileCleared",
                "SubjectUserSid": "S-1-5-21-1111111111-2222222222-3333333333-1104",
                "SubjectUserName": "mallory",
                "SubjectDomainName": "CORP",
                "SubjectLogonId": "0x3e7a1f"
            }
        }
    });
    let want = ["Windows Security log cleared"];
    let exported = live_rule_titles(&[], "evtx", &evtx.to_string());
    assert_eq!(exported, want);
    let shipped = live_rule_titles(&[], "winlogbeat", &winlogbeat.to_string());
    assert_eq!(shipped, want);
}

/// Detection held up (the test holds SQLite's write lock, so the worker
/// cannot store the alert of the first batch and does not move on) falls
/// behind by more than `max_pending_events`: the next request is refused
/// whole with 429 and `Retry-After`, nothing of it is spooled, and once
/// detection catches up requests are taken again.
#[test]
fn detection_behind_by_max_pending_events_answers_429_with_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let rules = tempfile::tempdir().unwrap();
    std::fs::write(rules.path().join("per_line.yml"), PER_LINE_RULE).unwrap();
    let config = format!("{CONFIG}max_pending_events = 4\n");
    let server = Server::start(
        dir.path(),
        &data,
        &config,
        &["-r", rules.path().to_str().unwrap()],
    );
    let admin = admin_token(&data);
    let shipper = add_user(&data, "shipper", "ingest");
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let batch = |ip: &str| failures(now, "bastion", "root", ip, 8).join("\n") + "\n";
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // The write lock (the database is in WAL mode: reads go on).
    let mut lock = runtime.block_on(async {
        use sqlx::ConnectOptions;
        let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(data.join("watchpost.db"))
            .connect()
            .await
            .unwrap();
        sqlx::raw_sql("BEGIN IMMEDIATE")
            .execute(&mut conn)
            .await
            .unwrap();
        conn
    });
    let stats = || get(server.addr, "/api/v1/stats", &admin).json()["ingest"].clone();
    let answer = post_lines(
        server.addr,
        &shipper,
        "?format=syslog&source=auth.log",
        batch("203.0.113.1").as_bytes(),
    );
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    // The worker found a detection and is stuck storing it.
    support::serve::poll(
        "a detection waiting to be stored",
        || (stats()["detections"].as_u64().unwrap() >= 1).then_some(()),
        || stats().to_string(),
    );
    assert_eq!(stats()["alerts"], 0);
    // The first batch, or (when its detections came after it was read)
    // the second, is left pending: the request after it is refused.
    let mut refused = None;
    for (n, ip) in ["203.0.113.2", "203.0.113.3"].iter().enumerate() {
        let answer = post_lines(
            server.addr,
            &shipper,
            "?format=syslog&source=auth.log",
            batch(ip).as_bytes(),
        );
        if answer.status == 429 {
            refused = Some((n, answer));
            break;
        }
        assert_eq!(
            answer.status,
            200,
            "{}",
            String::from_utf8_lossy(&answer.body)
        );
    }
    let (n, answer) = refused.unwrap_or_else(|| panic!("no 429; {}", stats()));
    assert_eq!(answer.header("retry-after").as_deref(), Some("1"));
    assert!(
        answer.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("events behind"),
        "{}",
        answer.json()
    );
    // Nothing of the refused request was spooled.
    let spooled_at_refusal = 8 * (n as u64 + 1);
    assert_eq!(stats()["spooled"], spooled_at_refusal);
    let metrics = String::from_utf8(get(server.addr, "/metrics", &admin).body).unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l == "watchpost_ingest_refused_requests_total 1"),
        "{metrics}"
    );
    // Detection catches up once the lock is gone, and requests are taken.
    runtime.block_on(async {
        sqlx::raw_sql("ROLLBACK").execute(&mut lock).await.unwrap();
    });
    drop(lock);
    let ingest = wait_idle(server.addr, &admin);
    assert_eq!(ingest["processed"], spooled_at_refusal);
    let answer = post_lines(
        server.addr,
        &shipper,
        "?format=syslog&source=auth.log",
        batch("203.0.113.4").as_bytes(),
    );
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_eq!(answer.json()["accepted"], 8);
}
