//! Log-source health and coverage through the real `watchpost serve`:
//! `GET /api/v1/sources` lists each stream (source, host and log type)
//! detection read, and `GET /api/v1/coverage` which rules each one feeds
//! and which rules never saw an event of their logsource; a source that
//! falls silent shows an open gap, closed when it sends again.
//!
//! Every expectation is written by hand. Waiting polls the server's own
//! answers with a deadline; nothing sleeps to synchronise.

mod support;

use std::path::Path;

use serde_json::{Value, json};
use support::serve::{
    CONFIG, Server, add_user, admin_token, get, poll, post_events, rfc3164, wait_idle,
};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const SSHD_RULE: &str = "title: sshd password failure
id: 6c0e4d5e-0000-4000-8000-000000000001
level: medium
logsource:
    product: linux
    service: sshd
detection:
    selection:
        message|contains: Failed password
    condition: selection
";

const CLOUDTRAIL_RULE: &str = "title: console login
id: 6c0e4d5e-0000-4000-8000-000000000002
level: high
logsource:
    product: aws
    service: cloudtrail
detection:
    selection:
        eventName: ConsoleLogin
    condition: selection
";

const WINDOWS_RULE: &str = "title: whoami
id: 6c0e4d5e-0000-4000-8000-000000000003
level: low
logsource:
    product: windows
    category: process_creation
detection:
    selection:
        Image|endswith: '\\whoami.exe'
    condition: selection
";

/// The three rules in their own folder.
fn rules(dir: &Path) -> String {
    let rules = dir.join("rules");
    std::fs::create_dir(&rules).unwrap();
    for (name, text) in [
        ("sshd.yml", SSHD_RULE),
        ("cloudtrail.yml", CLOUDTRAIL_RULE),
        ("windows.yml", WINDOWS_RULE),
    ] {
        std::fs::write(rules.join(name), text).unwrap();
    }
    rules.to_str().unwrap().to_owned()
}

/// An sshd password failure on `host` at `t`, in the OpenSSH format.
fn sshd_failure(t: OffsetDateTime, host: &str, n: u32) -> String {
    format!(
        "{} {host} sshd[{}]: Failed password for root from 203.0.113.9 port {} ssh2",
        rfc3164(t),
        4000 + n,
        50_000 + n
    )
}

/// A CloudTrail record of `action` at `t`.
fn cloudtrail(t: OffsetDateTime, action: &str, n: u32) -> String {
    json!({
        "eventVersion": "1.08", "eventTime": t.format(&Rfc3339).unwrap(),
        "eventSource": "signin.amazonaws.com", "eventName": action,
        "awsRegion": "eu-west-1", "sourceIPAddress": "198.51.100.5",
        "eventType": "AwsConsoleSignIn", "recipientAccountId": "111122223333",
        "eventID": format!("e-{n}")
    })
    .to_string()
}

/// The streams of `/api/v1/sources`.
fn streams(server: &Server, admin: &str) -> Vec<Value> {
    let answer = get(server.addr, "/api/v1/sources", admin);
    assert_eq!(answer.status, 200);
    answer.json()["streams"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn coverage_names_the_streams_feeding_each_rule_and_the_rules_without_events() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let rules = rules(dir.path());
    let server = Server::start(dir.path(), &data, CONFIG, &["--no-policy", "-r", &rules]);
    let admin = admin_token(&data);
    let shipper = add_user(&data, "shipper", "ingest");
    let responder = add_user(&data, "ir", "responder");
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();

    // Three sshd failures on bastion, one cron line there, one sshd
    // failure on web1; two CloudTrail records.
    let mut lines: Vec<String> = (0..3).map(|n| sshd_failure(now, "bastion", n)).collect();
    lines.push(format!(
        "{} bastion CRON[99]: pam_unix(cron:session): session opened for user root",
        rfc3164(now)
    ));
    lines.push(sshd_failure(now, "web1", 9));
    post_events(
        server.addr,
        &shipper,
        "?format=syslog&source=auth.log",
        (lines.join("\n") + "\n").as_bytes(),
    );
    let records = [
        cloudtrail(now, "ConsoleLogin", 1),
        cloudtrail(now, "GetObject", 2),
    ];
    post_events(
        server.addr,
        &shipper,
        "?source=cloudtrail",
        (records.join("\n") + "\n").as_bytes(),
    );
    wait_idle(server.addr, &admin);

    // The streams: one per source, host and log type.
    let sources = get(server.addr, "/api/v1/sources", &responder).json();
    let rows: Vec<Value> = sources["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            json!([
                s["name"],
                s["host"],
                s["logsource"],
                s["events"],
                s["rules"],
                s["silent"]
            ])
        })
        .collect();
    let auth = json!({ "product": "linux", "service": "auth", "category": null });
    let trail = json!({ "product": "aws", "service": "cloudtrail", "category": null });
    assert_eq!(
        rows,
        [
            json!(["shipper/auth.log", "bastion", auth, 4, 1, false]),
            json!(["shipper/auth.log", "web1", auth, 1, 1, false]),
            json!(["shipper/cloudtrail", null, trail, 2, 1, false]),
        ],
        "{sources}"
    );
    let bastion = &sources["streams"][0];
    let at = now.format(&Rfc3339).unwrap();
    assert_eq!(bastion["first_event"], at.as_str());
    assert_eq!(bastion["last_event"], at.as_str());
    assert_eq!(bastion["gaps"], json!([]));
    assert!(bastion["last_received"].is_string());
    assert_eq!(sources["untracked_events"], 0);
    // The intake's counts per source are still there.
    let names: Vec<&Value> = sources["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["name"])
        .collect();
    assert_eq!(names, ["shipper/auth.log", "shipper/cloudtrail"]);

    // Which streams feed which rules.
    let coverage = get(server.addr, "/api/v1/coverage", &responder);
    assert_eq!(coverage.status, 200);
    let coverage = coverage.json();
    let fed: Vec<Value> = coverage["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let ids: Vec<&Value> = s["rules"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| &r["id"])
                .collect();
            json!([s["name"], s["host"], s["events"], ids])
        })
        .collect();
    assert_eq!(
        fed,
        [
            json!([
                "shipper/auth.log",
                "bastion",
                4,
                ["6c0e4d5e-0000-4000-8000-000000000001"]
            ]),
            json!([
                "shipper/auth.log",
                "web1",
                1,
                ["6c0e4d5e-0000-4000-8000-000000000001"]
            ]),
            json!([
                "shipper/cloudtrail",
                null,
                2,
                ["6c0e4d5e-0000-4000-8000-000000000002"]
            ]),
        ],
        "{coverage}"
    );
    assert_eq!(
        coverage["sources"][0]["rules"][0]["title"],
        "sshd password failure"
    );
    // Every rule with the events of its logsource (by title): the cron
    // line is no sshd event.
    assert_eq!(
        coverage["rules"],
        json!([
            { "id": "6c0e4d5e-0000-4000-8000-000000000002", "title": "console login",
              "level": "high", "kind": "detection",
              "logsource": trail, "events_seen": 2, "streams": 1 },
            { "id": "6c0e4d5e-0000-4000-8000-000000000001", "title": "sshd password failure",
              "level": "medium", "kind": "detection",
              "logsource": { "product": "linux", "service": "sshd", "category": null },
              "events_seen": 4, "streams": 2 },
            { "id": "6c0e4d5e-0000-4000-8000-000000000003", "title": "whoami",
              "level": "low", "kind": "detection",
              "logsource": { "product": "windows", "service": null,
                             "category": "process_creation" },
              "events_seen": 0, "streams": 0 },
        ])
    );
    assert_eq!(
        coverage["rules_without_events"],
        json!([{ "id": "6c0e4d5e-0000-4000-8000-000000000003", "title": "whoami",
                 "level": "low", "kind": "detection",
                 "logsource": { "product": "windows", "service": null,
                                "category": "process_creation" } }])
    );
    assert_eq!(coverage["untracked_events"], 0);

    // Staff only: an ingest token and a reporter are refused.
    let reporter = add_user(&data, "rep", "reporter");
    for token in [&shipper, &reporter] {
        assert_eq!(get(server.addr, "/api/v1/coverage", token).status, 403);
        assert_eq!(get(server.addr, "/api/v1/sources", token).status, 403);
    }
    assert_eq!(get(server.addr, "/api/v1/coverage", "nope").status, 401);
}

/// The ids of the alerts stored, by rule.
fn alert_rules(server: &Server, admin: &str) -> Vec<String> {
    let answer = get(server.addr, "/api/v1/alerts?limit=100", admin);
    assert_eq!(answer.status, 200);
    answer.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["rule_id"].as_str().unwrap().to_owned())
        .collect()
}

const SILENT_ID: &str = "watchpost.policy.log_gap.silent";
const RECOVERED_ID: &str = "watchpost.policy.log_gap.recovered";

#[test]
fn a_silent_source_shows_an_open_gap_closed_when_it_sends_again() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let rules = rules(dir.path());
    // A source quiet for more than three seconds is silent.
    let config = format!("{CONFIG}[policy.gaps]\nmin_gap = 3\n");
    let server = Server::start(dir.path(), &data, &config, &["-r", &rules]);
    let admin = admin_token(&data);
    let shipper = add_user(&data, "shipper", "ingest");
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let lines: Vec<String> = (0..3).map(|n| sshd_failure(now, "bastion", n)).collect();
    post_events(
        server.addr,
        &shipper,
        "?format=syslog&source=auth.log",
        (lines.join("\n") + "\n").as_bytes(),
    );
    let since = now.format(&Rfc3339).unwrap();

    // Silent, with a gap open since its last event.
    let stream = poll(
        "the stream silent",
        || {
            streams(&server, &admin)
                .into_iter()
                .find(|s| s["silent"] == true)
        },
        || format!("{:?}\n{}", streams(&server, &admin), server.log_text()),
    );
    assert_eq!(stream["name"], "shipper/auth.log");
    assert_eq!(stream["host"], "bastion");
    assert_eq!(stream["silent_since"], since.as_str());
    let gaps = stream["gaps"].as_array().unwrap();
    assert_eq!(gaps.len(), 1, "{stream}");
    assert_eq!(gaps[0]["from"], since.as_str());
    assert_eq!(gaps[0]["to"], Value::Null);
    assert!(gaps[0]["seconds"].as_f64().unwrap() >= 3.0, "{stream}");

    // One more event: the gap closes at its time.
    let back = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    post_events(
        server.addr,
        &shipper,
        "?format=syslog&source=auth.log",
        (sshd_failure(back, "bastion", 7) + "\n").as_bytes(),
    );
    let stream = poll(
        "the gap closed",
        || {
            streams(&server, &admin)
                .into_iter()
                .find(|s| s["gaps"][0]["to"].is_string())
        },
        || format!("{:?}", streams(&server, &admin)),
    );
    let to = back.format(&Rfc3339).unwrap();
    assert_eq!(stream["events"], 4);
    let gap = &stream["gaps"][0];
    assert_eq!(gap["from"], since.as_str());
    assert_eq!(gap["to"], to.as_str());
    assert_eq!(
        gap["seconds"].as_f64().unwrap(),
        (back - now).as_seconds_f64(),
        "{stream}"
    );
    // The recovery cleared the silence (a new one may begin three seconds
    // after the last event, with a second gap).
    assert!(
        stream["silent"] == false || stream["gaps"].as_array().unwrap().len() == 2,
        "{stream}"
    );

    // One alert of each. A silence is in the streams before its alert is
    // stored, so the silent alerts are at most the gaps read after them:
    // one, unless a new silence began since.
    let found = poll(
        "the recovered alert",
        || {
            let found = alert_rules(&server, &admin);
            found.iter().any(|r| r == RECOVERED_ID).then_some(found)
        },
        || format!("{:?}", alert_rules(&server, &admin)),
    );
    let gaps = streams(&server, &admin)[0]["gaps"]
        .as_array()
        .unwrap()
        .len();
    let count = |id: &str| found.iter().filter(|r| *r == id).count();
    assert_eq!(count(RECOVERED_ID), 1, "{found:?}");
    assert!(
        (1..=gaps).contains(&count(SILENT_ID)),
        "{found:?}, {gaps} gaps"
    );
}
