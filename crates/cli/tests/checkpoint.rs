//! Detector state survives a restart through the detection checkpoint,
//! through the real `watchpost serve`.
//!
//! Six sshd failures from one address arrive, then a later line of
//! another program moves the spool's committed offset past them (the
//! replay horizon is 4 s of event time). The server is killed with
//! SIGKILL and restarted, and four more failures arrive: ten in the
//! window, the threshold of both the per-address and the per-user count.
//! Resumed from its checkpoint, the login-failure detector still has the
//! first six, and both fire once. With the checkpoint deleted before the
//! restart, the replay starts at the committed offset, after the first
//! six, and nothing fires: the checkpoint is what carried the state.

mod support;

use std::net::SocketAddr;

use support::serve::{
    Server, add_user, admin_token, get, list, poll, post_lines, rfc3164, wait_idle,
};
use time::OffsetDateTime;

/// Detection flushes a quiet source's events after 200 ms, keeps 4 s of
/// event time for replays, and checkpoints every second.
const CONFIG: &str =
    "[ingest]\nreorder_idle_millis = 200\nreplay_horizon_secs = 4\ncheckpoint_interval_secs = 1\n";

/// sshd failures for `user` from `ip` at the given times.
fn failures(times: &[OffsetDateTime], user: &str, ip: &str) -> String {
    times
        .iter()
        .enumerate()
        .map(|(i, t)| {
            format!(
                "{} bastion sshd[{}]: Failed password for {user} from {ip} port {} ssh2\n",
                rfc3164(*t),
                4000 + i,
                50_000 + i
            )
        })
        .collect()
}

fn send(addr: SocketAddr, token: &str, body: &str, n: u64) {
    let answer = post_lines(
        addr,
        token,
        "?format=syslog&source=auth.log",
        body.as_bytes(),
    );
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_eq!(answer.json()["accepted"], n);
}

/// The value of a Prometheus sample line `name value`.
fn metric(addr: SocketAddr, admin: &str, name: &str) -> Option<u64> {
    let text = String::from_utf8(get(addr, "/metrics", admin).body).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

/// Runs the scenario; returns the login-failure alerts' rule ids, sorted,
/// and the restarted server's log.
fn run(delete_checkpoint: bool) -> (Vec<String>, String) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(dir.path(), &data, CONFIG, &[]);
    let admin = admin_token(&data);
    let shipper = add_user(&data, "shipper", "ingest");
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let first = now - time::Duration::minutes(5);
    let secs = |from: OffsetDateTime, n: i64| -> Vec<OffsetDateTime> {
        (0..n).map(|i| from + time::Duration::seconds(i)).collect()
    };
    // Offsets 0 to 5: six failures.
    send(
        server.addr,
        &shipper,
        &failures(&secs(first, 6), "alice", "198.51.100.7"),
        6,
    );
    // Read as a batch of its own (the committed offset moves by batches).
    wait_idle(server.addr, &admin);
    // Offset 6: a later line, five minutes on, which no detector keeps.
    let later = format!(
        "{} bastion CRON[77]: (root) CMD (run-parts /etc/cron.hourly)\n",
        rfc3164(now)
    );
    send(server.addr, &shipper, &later, 1);
    // The committed offset passes the six failures once a checkpoint
    // holds them.
    poll(
        "the committed offset passes the first failures",
        || {
            (metric(server.addr, &admin, "watchpost_spool_committed_offset") >= Some(6))
                .then_some(())
        },
        || server.log_text(),
    );
    assert!(metric(server.addr, &admin, "watchpost_checkpoint_offset") >= Some(6));
    assert_eq!(
        metric(server.addr, &admin, "watchpost_checkpoint_failures_total"),
        Some(0)
    );
    assert!(
        list(server.addr, "/api/v1/alerts", &admin)
            .iter()
            .all(|a| !a["rule_id"].as_str().unwrap().contains("login_failures")),
        "six failures fire nothing"
    );
    server.kill9();
    let checkpoint = data.join("spool").join("detect.checkpoint");
    assert!(
        checkpoint.exists(),
        "no checkpoint at {}",
        checkpoint.display()
    );
    if delete_checkpoint {
        std::fs::remove_file(&checkpoint).unwrap();
    }

    let server = Server::start(dir.path(), &data, CONFIG, &[]);
    // Four more failures, within the window of the first six.
    send(
        server.addr,
        &shipper,
        &failures(
            &secs(first + time::Duration::seconds(6), 4),
            "alice",
            "198.51.100.7",
        ),
        4,
    );
    let ingest = wait_idle(server.addr, &admin);
    assert_eq!(ingest["spooled"], 11);
    let mut rules: Vec<String> = list(server.addr, "/api/v1/alerts", &admin)
        .iter()
        .map(|a| a["rule_id"].as_str().unwrap().to_string())
        .filter(|r| r.contains("login_failures"))
        .collect();
    rules.sort();
    (rules, server.log_text())
}

#[test]
fn login_failure_counts_survive_a_kill_through_the_checkpoint() {
    let (rules, log) = run(false);
    assert_eq!(
        rules,
        [
            "watchpost.policy.login_failures.source",
            "watchpost.policy.login_failures.user",
        ],
        "{log}"
    );
    assert!(
        log.contains("resumed detection from its checkpoint"),
        "{log}"
    );
}

#[test]
fn without_the_checkpoint_the_restart_forgets_what_was_committed() {
    let (rules, log) = run(true);
    assert!(rules.is_empty(), "{rules:?}\n{log}");
    assert!(
        log.contains("replaying spooled events from the committed offset"),
        "{log}"
    );
}
