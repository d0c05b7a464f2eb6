//! Several `watchpost serve --nats` nodes sharing live detection, against
//! a real `nats-server` with JetStream and a real PostgreSQL: the same
//! input gives the same alerts and incidents as one node, and a node
//! killed with SIGKILL, NATS restarted or PostgreSQL restarted mid-stream
//! loses nothing and duplicates nothing. A message that cannot be read is
//! moved to the dead-letter subject without blocking its partition.
//!
//! Needs `WATCHPOST_TEST_NATS_SERVER`, `WATCHPOST_TEST_PG_URL` and
//! `WATCHPOST_TEST_PG_BIN` (`eval "$(scripts/services start)"`). Each test
//! starts its own NATS server (and, to restart it, its own PostgreSQL).

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use support::serve::{
    BIN, Server, admin_token, all_alerts, get, list, poll, poll_every, post_lines, rfc3164,
    token_of,
};
use time::OffsetDateTime;

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: the cluster tests need a real nats-server and PostgreSQL. \
             Run `eval \"$(scripts/services start)\"` first (it installs them)."
        )
    })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `nats-server -js` of the test's own, on a fixed port so it can be
/// restarted on the same store.
struct Nats {
    child: Option<Child>,
    port: u16,
    monitor: u16,
    dir: PathBuf,
}

impl Nats {
    fn start(dir: &Path) -> Nats {
        let mut nats = Nats {
            child: None,
            port: free_port(),
            monitor: free_port(),
            dir: dir.join("nats"),
        };
        nats.restart();
        nats
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Starts the server (again), and waits until JetStream is ready.
    fn restart(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.with_extension("log"))
            .unwrap();
        let child = Command::new(var("WATCHPOST_TEST_NATS_SERVER"))
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-m", &self.monitor.to_string(), "-js", "-sd"])
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let monitor = self.monitor;
        poll(
            "nats-server with JetStream ready",
            || {
                let body = http_get(monitor, "/healthz?js-enabled-only=true")?;
                body.contains("ok").then_some(())
            },
            || std::fs::read_to_string(self.dir.with_extension("log")).unwrap_or_default(),
        );
    }

    /// Kills the server with SIGKILL.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    /// A request on the core NATS protocol: publishes `payload` to
    /// `subject`, and when `reply` is set, waits for the one answer.
    fn request(&self, subject: &str, payload: &[u8], reply: bool) -> Option<Vec<u8>> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut info = String::new();
        r.read_line(&mut info).unwrap();
        assert!(info.starts_with("INFO"), "{info}");
        s.write_all(b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\n")
            .unwrap();
        if reply {
            s.write_all(b"SUB _INBOX.test 1\r\n").unwrap();
            s.write_all(format!("PUB {subject} _INBOX.test {}\r\n", payload.len()).as_bytes())
                .unwrap();
        } else {
            s.write_all(format!("PUB {subject} {}\r\n", payload.len()).as_bytes())
                .unwrap();
        }
        s.write_all(payload).unwrap();
        s.write_all(b"\r\nPING\r\n").unwrap();
        loop {
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            if line.starts_with("PONG") && !reply {
                return None;
            }
            if let Some(rest) = line.strip_prefix("MSG ") {
                let len: usize = rest.split_whitespace().last().unwrap().parse().unwrap();
                let mut body = vec![0; len + 2];
                r.read_exact(&mut body).unwrap();
                body.truncate(len);
                return Some(body);
            }
            assert!(!line.starts_with("-ERR"), "{line}");
        }
    }

    /// The messages the stream `name` holds on each subject under
    /// `filter`.
    fn subject_messages(&self, name: &str, filter: &str) -> BTreeMap<String, u64> {
        let request = serde_json::json!({ "subjects_filter": filter }).to_string();
        let body = self
            .request(
                &format!("$JS.API.STREAM.INFO.{name}"),
                request.as_bytes(),
                true,
            )
            .unwrap();
        let info: Value = serde_json::from_slice(&body).unwrap();
        info["state"]["subjects"]
            .as_object()
            .unwrap_or_else(|| panic!("{info}"))
            .iter()
            .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
            .collect()
    }

    /// The number of messages the stream `name` holds.
    fn stream_messages(&self, name: &str) -> u64 {
        let body = self
            .request(&format!("$JS.API.STREAM.INFO.{name}"), b"", true)
            .unwrap();
        let info: Value = serde_json::from_slice(&body).unwrap();
        info["state"]["messages"]
            .as_u64()
            .unwrap_or_else(|| panic!("{info}"))
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The body of `GET path` on 127.0.0.1:port, when it answers 200.
fn http_get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).ok()?;
    raw.starts_with("HTTP/1.1 200")
        .then(|| raw.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()))
        .flatten()
}

/// A PostgreSQL of the test's own (to restart it), run as `postgres`.
struct Postgres {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
}

impl Postgres {
    fn start(dir: &Path) -> Postgres {
        let bin = PathBuf::from(var("WATCHPOST_TEST_PG_BIN"));
        let root = dir.join("pg");
        std::fs::create_dir_all(&root).unwrap();
        as_postgres(&format!("chown postgres {}", root.display()), None);
        // The test's temporary folder must be passable for `postgres`.
        as_postgres(&format!("chmod o+x {}", dir.display()), None);
        let data = root.join("data");
        as_postgres(
            &format!(
                "{}/initdb -D {} -A trust -U postgres -E UTF8 --no-sync",
                bin.display(),
                data.display()
            ),
            Some("postgres"),
        );
        let pg = Postgres {
            bin,
            data,
            port: free_port(),
        };
        pg.pg_ctl("start");
        pg
    }

    fn pg_ctl(&self, action: &str) {
        let socket = self.data.parent().unwrap();
        let log = socket.join("log");
        as_postgres(
            &format!(
                "{}/pg_ctl -D {} -l {} -w -m fast -o '-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off' {action}",
                self.bin.display(),
                self.data.display(),
                log.display(),
                self.port,
                socket.display()
            ),
            Some("postgres"),
        );
    }

    fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = Command::new("su")
            .args(["postgres", "-s", "/bin/sh", "-c"])
            .arg(format!(
                "{}/pg_ctl -D {} -m immediate stop",
                self.bin.display(),
                self.data.display()
            ))
            .output();
    }
}

/// Runs a shell command, as `postgres` when `user` says so (the tests run
/// as root, which PostgreSQL refuses to run as).
fn as_postgres(command: &str, user: Option<&str>) {
    let out = match user {
        Some(user) => Command::new("su")
            .args([user, "-s", "/bin/sh", "-c", command])
            .output()
            .unwrap(),
        None => Command::new("sh").args(["-c", command]).output().unwrap(),
    };
    assert!(
        out.status.success(),
        "{command}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A fresh database on the PostgreSQL at `url`; returns its URL.
fn fresh_database(url: &str) -> String {
    let name = format!(
        "wp_cluster_{}_{}",
        std::process::id(),
        OffsetDateTime::now_utc().unix_timestamp_nanos() % 1_000_000_000
    );
    let psql = Path::new(&var("WATCHPOST_TEST_PG_BIN")).join("psql");
    let out = Command::new(psql)
        .args([url, "-q", "-c", &format!("CREATE DATABASE {name}")])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (base, _) = url.rsplit_once('/').unwrap();
    format!("{base}/{name}")
}

/// The id of [`PER_LINE_RULE`].
const PER_LINE_RULE_ID: &str = "5f7c1d2e-0000-4000-8000-0000000000b1";

/// A low Sigma rule that matches every sshd password failure: one alert
/// per line, kept in the alert queue.
const PER_LINE_RULE: &str = "title: SSH Failed Password Line\nid: 5f7c1d2e-0000-4000-8000-0000000000b1\nstatus: test\nlevel: low\nlogsource:\n  product: linux\n  service: sshd\ndetection:\n  keywords:\n    - 'Failed password'\n  condition: keywords\n";

/// The id of [`PER_HOST_RULE`].
const PER_HOST_RULE_ID: &str = "5f7c1d2e-0000-4000-8000-0000000000b3";

/// A correlation grouped by host: 37 sshd password failures on one host
/// within 10 minutes, which every host of [`input`] reaches with its last
/// line (the sprayer's). Its key is the host, so the keyed stage's
/// partitions share its hosts. Low: no incident.
const PER_HOST_RULE: &str = "title: SSH failure for counting\nid: 5f7c1d2e-0000-4000-8000-0000000000b2\nname: ssh_failure_counted\nstatus: test\nlevel: low\nlogsource:\n  product: linux\n  service: sshd\ndetection:\n  keywords:\n    - 'Failed password'\n  condition: keywords\n---\ntitle: Many SSH failures on one host\nid: 5f7c1d2e-0000-4000-8000-0000000000b3\nstatus: test\nlevel: low\ncorrelation:\n  type: event_count\n  rules:\n    - ssh_failure_counted\n  group-by:\n    - host\n  timespan: 10m\n  condition:\n    gte: 37\n";

/// The address that fails on every host (see [`input`]).
const SPRAYER: &str = "203.0.113.66";

/// The partitions of the test clusters.
const PARTITIONS: usize = 8;

/// The keyed stage's partitions of the test clusters.
const KEYED: usize = 3;

/// The input: 36 attackers, each 12 password failures against a user of
/// its own on one of 12 hosts; each host's lines come from a source of its
/// own, in batches of 12 lines (one per attacker and second), so the
/// sources spread over the partitions. 432 lines in 36 batches. Then one
/// more address, [`SPRAYER`], fails once on every host, each time for
/// another user: 12 batches of one line. Only a detector that sees every
/// host's lines finds it (12 failures from one address, 12 users): its
/// events are on many partitions, and meet in the keyed stage. 444 lines
/// in 48 batches.
fn input() -> (Vec<(String, String)>, Vec<String>) {
    let end = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap() - time::Duration::minutes(1);
    let mut batches = Vec::new();
    let mut lines = Vec::new();
    for a in 0..36 {
        let host = a % 12;
        let mut batch = String::new();
        for i in 0..12 {
            let t = end - time::Duration::seconds(11 - i);
            let line = format!(
                "{} host{host} sshd[{}]: Failed password for user{a} from 198.51.100.{a} port {} ssh2",
                rfc3164(t),
                1000 + a,
                40_000 + i * 100 + a
            );
            batch.push_str(&line);
            batch.push('\n');
            lines.push(line);
        }
        batches.push((format!("?format=syslog&source=auth{host}"), batch));
    }
    for host in 0..12 {
        // After every host's other lines, as a host's log goes on.
        let t = end + time::Duration::seconds(1 + host);
        let line = format!(
            "{} host{host} sshd[{}]: Failed password for sprayed{host} from {SPRAYER} port {} ssh2",
            rfc3164(t),
            2000 + host,
            50_000 + host
        );
        batches.push((
            format!("?format=syslog&source=auth{host}"),
            format!("{line}\n"),
        ));
        lines.push(line);
    }
    lines.sort();
    (batches, lines)
}

/// Sends a batch to `addr`, again while it answers 503 (JetStream or
/// PostgreSQL away), until it is acknowledged. Returns how many answers
/// were 503.
fn send(addr: SocketAddr, token: &str, query: &str, batch: &str) -> usize {
    let mut refused = 0;
    poll_every(
        Duration::from_millis(100),
        "a batch acknowledged",
        || {
            let answer = post_lines(addr, token, query, batch.as_bytes());
            match answer.status {
                200 => {
                    assert_eq!(answer.json()["rejected"], 0);
                    Some(())
                }
                503 | 500 | 401 => {
                    if answer.status == 503 {
                        assert!(answer.header("retry-after").is_some(), "{answer:?}");
                    }
                    refused += 1;
                    None
                }
                other => panic!("{other}: {}", String::from_utf8_lossy(&answer.body)),
            }
        },
        || "the node kept refusing".to_owned(),
    );
    refused
}

/// What detection made of the input: the other alerts' rule, entities
/// and time; the per-line alerts as the lines they carry; the incidents'
/// titles.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    alerts: Vec<String>,
    per_line: Vec<String>,
    incidents: Vec<String>,
}

/// Asserts two outcomes are equal, naming only what differs.
fn assert_same(got: &Outcome, want: &Outcome) {
    let diff = |a: &[String], b: &[String]| -> (Vec<String>, Vec<String>) {
        (
            a.iter().filter(|x| !b.contains(x)).cloned().collect(),
            b.iter().filter(|x| !a.contains(x)).cloned().collect(),
        )
    };
    assert_eq!(
        (got.alerts.len(), got.per_line.len(), got.incidents.len()),
        (want.alerts.len(), want.per_line.len(), want.incidents.len()),
        "alerts, per-line alerts, incidents; extra and missing alerts: {:?}; incidents: {:?}",
        diff(&got.alerts, &want.alerts),
        diff(&got.incidents, &want.incidents)
    );
    assert_eq!(diff(&got.alerts, &want.alerts), (vec![], vec![]), "alerts");
    assert_eq!(
        diff(&got.per_line, &want.per_line),
        (vec![], vec![]),
        "per-line"
    );
    assert_eq!(
        diff(&got.incidents, &want.incidents),
        (vec![], vec![]),
        "incidents"
    );
}

fn outcome(addr: SocketAddr, admin: &str) -> Outcome {
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
    let mut incidents: Vec<String> = list(addr, "/api/v1/incidents?limit=500", admin)
        .iter()
        .map(|i| i["title"].as_str().unwrap().to_owned())
        .collect();
    incidents.sort();
    Outcome {
        alerts,
        per_line,
        incidents,
    }
}

/// What one plain node (SQLite, its local spool) makes of the input.
fn single_node_reference(rules: &Path, batches: &[(String, String)], lines: &[String]) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(
        dir.path(),
        &data,
        "[ingest]\nreorder_idle_millis = 200\n",
        &["-r", rules.to_str().unwrap()],
    );
    let admin = admin_token(&data);
    let shipper = support::serve::add_user(&data, "shipper", "ingest");
    for (query, batch) in batches {
        send(server.addr, &shipper, query, batch);
    }
    let reference = poll(
        "the single node detected every line",
        || {
            let o = outcome(server.addr, &admin);
            let idle = support::serve::get(server.addr, "/api/v1/stats", &admin).json()["ingest"]["reordering"]
                == 0;
            // The sprayer's two alerts come from the reorder window, after
            // its lines' own alerts: wait for them too.
            let sprayer = o.alerts.iter().filter(|a| a.contains(SPRAYER)).count();
            let per_host = o
                .alerts
                .iter()
                .filter(|a| a.contains(PER_HOST_RULE_ID))
                .count();
            (o.per_line.len() == lines.len() && idle && sprayer >= 2 && per_host >= 12).then_some(o)
        },
        || format!("{:#?}", outcome(server.addr, &admin).alerts),
    );
    assert_eq!(reference.per_line, lines, "one per-line alert per line");
    // The sprayer, seen across all 12 hosts: failures from one address
    // (10 in the window fire) and password spraying (5 users fire), once
    // each.
    for rule in [
        "watchpost.policy.login_failures.source",
        "watchpost.policy.login_failures.spray",
    ] {
        let found = reference
            .alerts
            .iter()
            .filter(|a| a.contains(rule) && a.contains(SPRAYER))
            .count();
        assert_eq!(found, 1, "{rule} for {SPRAYER}: {:#?}", reference.alerts);
    }
    // The per-host correlation, once for each of the 12 hosts: 12 alerts
    // that differ by their time (each host's last line).
    let per_host: Vec<&String> = reference
        .alerts
        .iter()
        .filter(|a| a.contains(PER_HOST_RULE_ID))
        .collect();
    assert_eq!(per_host.len(), 12, "{per_host:#?}");
    let times: BTreeSet<&str> = per_host
        .iter()
        .map(|a| a.rsplit(' ').next().unwrap())
        .collect();
    assert_eq!(times.len(), 12, "{per_host:#?}");
    // 36 attackers' brute forces on 12 hosts: 12 incidents, one per host
    // (the login-failure detector's grouping is per host).
    assert_eq!(reference.incidents.len(), 12, "{:#?}", reference.incidents);
    reference
}

/// A cluster of nodes on one NATS server and one PostgreSQL database.
struct Cluster {
    partitions: usize,
    dir: tempfile::TempDir,
    nats: Nats,
    db: String,
    rules: PathBuf,
    config: String,
    nodes: Vec<Option<Server>>,
    admin: String,
    shipper: String,
}

impl Cluster {
    fn start(n: usize, pg_url: &str) -> Cluster {
        Self::start_with(n, pg_url, PARTITIONS, 300, "")
    }

    /// A cluster of `n` nodes with `partitions`, checkpointing every
    /// `checkpoint_millis`, with `extra_config` in its `[cluster]` table.
    fn start_with(
        n: usize,
        pg_url: &str,
        partitions: usize,
        checkpoint_millis: u64,
        extra_config: &str,
    ) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let nats = Nats::start(dir.path());
        let db = fresh_database(pg_url);
        let rules = dir.path().join("rules");
        std::fs::create_dir_all(&rules).unwrap();
        write_rules(&rules);
        let key = dir.path().join("audit.key");
        std::fs::write(&key, format!("{}\n", "ab".repeat(32))).unwrap();
        let config = format!(
            "audit_key_file = {:?}\n[ingest]\nreorder_idle_millis = 200\n[cluster]\npartitions = {partitions}\nkeyed_partitions = {KEYED}\ncheckpoint_millis = {checkpoint_millis}\nrebalance_millis = 100\nack_wait_secs = {}\n{extra_config}",
            key.display().to_string(),
            (checkpoint_millis * 4).div_ceil(1000).max(5)
        );
        let mut cluster = Cluster {
            partitions,
            dir,
            nats,
            db,
            rules,
            config,
            nodes: Vec::new(),
            admin: String::new(),
            shipper: String::new(),
        };
        for i in 0..n {
            cluster.start_node(i);
            if i == 0 {
                let data = cluster.dir.path().join("node0").join("data");
                cluster.admin = admin_token(&data);
                let out = Command::new(BIN)
                    .args(["users", "add", "shipper", "--role", "ingest"])
                    .args(["--database-url", &cluster.db, "--audit-key-file"])
                    .arg(&key)
                    .arg("--data-dir")
                    .arg(&data)
                    .output()
                    .unwrap();
                cluster.shipper = token_of(&out);
            }
        }
        cluster.wait_owned();
        cluster
    }

    fn start_node(&mut self, i: usize) {
        let dir = self.dir.path().join(format!("node{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        let id = format!("node{i}");
        let url = self.nats.url();
        let server = Server::start(
            &dir,
            &dir.join("data"),
            &self.config,
            &[
                "--database-url",
                &self.db,
                "--nats",
                &url,
                "--node-id",
                &id,
                "-r",
                self.rules.to_str().unwrap(),
            ],
        );
        if self.nodes.len() <= i {
            self.nodes.resize_with(i + 1, || None);
        }
        self.nodes[i] = Some(server);
    }

    fn live(&self) -> Vec<&Server> {
        self.nodes.iter().flatten().collect()
    }

    /// A metric of one node, by name and labels (`None` when absent).
    fn metrics(&self, server: &Server) -> String {
        let answer = get(server.addr, "/metrics", &self.admin);
        assert_eq!(answer.status, 200);
        String::from_utf8(answer.body).unwrap()
    }

    /// True when the keyed stage's consumers have delivered every message
    /// and had each acknowledged (as JetStream itself tells).
    fn keyed_drained(&self) -> bool {
        (self.partitions..self.partitions + KEYED).all(|p| {
            let Some(body) = self.nats.request(
                &format!("$JS.API.CONSUMER.INFO.WATCHPOST_EVENTS.wp-p{p}"),
                b"",
                true,
            ) else {
                return false;
            };
            let info: Value = serde_json::from_slice(&body).unwrap_or_default();
            info["num_pending"] == 0 && info["num_ack_pending"] == 0
        })
    }

    /// Partitions each live node runs, once every partition has a node and
    /// each node's count is its fair share or one less.
    fn wait_owned(&self) -> Vec<usize> {
        let live = self.live();
        // The source partitions and the keyed stage's.
        let units = self.partitions + KEYED;
        let share = units.div_ceil(live.len());
        poll(
            "every partition owned by a live node",
            || {
                let owned: Vec<usize> = live
                    .iter()
                    .map(|s| gauge(&self.metrics(s), "watchpost_partitions_owned") as usize)
                    .collect();
                (owned.iter().sum::<usize>() == units
                    && owned.iter().all(|n| *n + live.len() > share && *n <= share))
                .then_some(owned)
            },
            || {
                live.iter()
                    .map(|s| self.metrics(s))
                    .collect::<Vec<_>>()
                    .join("\n")
            },
        )
    }

    /// Waits until every line has its per-line alert, every partition has
    /// a live node, and no node holds events in a reorder window; returns
    /// the outcome.
    fn settle(&self, lines: usize) -> Outcome {
        let first = self.live()[0].addr;
        poll_every(
            Duration::from_millis(100),
            "the cluster detected every line",
            || {
                self.wait_owned();
                // Every line's partition is done with it (its kept events
                // are published before its alerts are stored) ...
                if outcome(first, &self.admin).per_line.len() < lines {
                    return None;
                }
                // ... the keyed stage has every kept event, checkpointed
                // (acknowledged) ...
                if !self.keyed_drained() {
                    return None;
                }
                // ... and no reorder window holds any.
                let idle = self.live().iter().all(|s| {
                    get(s.addr, "/api/v1/stats", &self.admin).json()["ingest"]["reordering"] == 0
                });
                idle.then(|| outcome(first, &self.admin))
            },
            || {
                let o = outcome(first, &self.admin);
                format!(
                    "{} per-line alerts; logs:\n{}",
                    o.per_line.len(),
                    self.live()
                        .iter()
                        .map(|s| s.log_text())
                        .collect::<Vec<_>>()
                        .join("\n")
                )
            },
        )
    }
}

/// The value of an unlabelled-but-for-`node` gauge in Prometheus text.
fn gauge(text: &str, name: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{name} not in /metrics"))
}

/// The sum of every series of `name`.
fn sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// A folder holding the test's rules.
fn rules_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_rules(dir.path());
    dir
}

/// Writes the test's rules into `dir`.
fn write_rules(dir: &Path) {
    std::fs::write(dir.join("per_line.yml"), PER_LINE_RULE).unwrap();
    std::fs::write(dir.join("per_host.yml"), PER_HOST_RULE).unwrap();
}

#[test]
fn three_nodes_find_what_one_node_finds() {
    let rules = rules_dir();
    let (batches, lines) = input();
    let reference = single_node_reference(rules.path(), &batches, &lines);
    let cluster = Cluster::start(3, &var("WATCHPOST_TEST_PG_URL"));
    let mut owned = cluster.wait_owned();
    owned.sort_unstable();
    assert_eq!(
        owned,
        vec![3, 4, 4],
        "8 source partitions and the keyed stage's 3"
    );
    let nodes = cluster.live();
    for (i, (query, batch)) in batches.iter().enumerate() {
        assert_eq!(send(nodes[i % 3].addr, &cluster.shipper, query, batch), 0);
    }
    let got = cluster.settle(lines.len());
    assert_eq!(got.per_line.len(), lines.len(), "no line lost, none twice");
    assert!(
        got.per_line == lines,
        "the per-line alerts carry the lines sent"
    );
    assert_same(&got, &reference);
    // Every node answers the same (one store), and reports its partitions'
    // lag, all drained.
    for s in &nodes {
        assert_same(&outcome(s.addr, &cluster.admin), &reference);
        let health = get(s.addr, "/api/v1/health", "");
        assert_eq!(health.status, 200);
        assert_eq!(
            health.json(),
            serde_json::json!({"status": "ok", "version": env!("CARGO_PKG_VERSION"),
                "database": "up", "jetstream": "up"})
        );
    }
    let published: f64 = nodes
        .iter()
        .map(|s| {
            gauge(
                &cluster.metrics(s),
                "watchpost_jetstream_published_records_total",
            )
        })
        .sum();
    assert_eq!(published, 444.0, "every line published once");
    // Lag is read every 2 s: wait for a reading after the last message.
    poll(
        "lag drained on every node",
        || {
            nodes
                .iter()
                .all(|s| {
                    let m = cluster.metrics(s);
                    m.matches("watchpost_partition_lag_messages{").count()
                        == gauge(&m, "watchpost_partitions_owned") as usize
                        && sum(&m, "watchpost_partition_lag_messages") == 0.0
                        && sum(&m, "watchpost_partition_unacked_messages") == 0.0
                })
                .then_some(())
        },
        || cluster.metrics(nodes[0]),
    );
    // Every line is kept for the login detector (one key, so one keyed
    // partition) and for the per-host correlation (its host's key): handed
    // to one or two keyed partitions, with the other lines of its batch,
    // and processed once by each.
    let total =
        |name: &str| -> f64 { nodes.iter().map(|s| gauge(&cluster.metrics(s), name)).sum() };
    let handed = total("watchpost_keyed_events_published_total");
    let processed = total("watchpost_keyed_events_processed_total");
    assert_eq!(processed, handed, "every handed event processed once");
    assert!(
        handed > 444.0 && handed <= 888.0,
        "each line handed to one or two keyed partitions: {handed}"
    );
    // JetStream holds every batch once (48 messages on the source
    // partitions' subjects), and each batch's hand-off to a keyed
    // partition once: one or two per batch, on at least two of the three.
    let subjects = cluster
        .nats
        .subject_messages("WATCHPOST_EVENTS", "watchpost.events.>");
    let on = |range: std::ops::Range<usize>| -> u64 {
        range
            .map(|p| {
                subjects
                    .get(&format!("watchpost.events.{p}"))
                    .copied()
                    .unwrap_or(0)
            })
            .sum()
    };
    assert_eq!(on(0..PARTITIONS), 48, "{subjects:?}");
    let hand_offs = on(PARTITIONS..PARTITIONS + KEYED);
    assert!((49..=96).contains(&hand_offs), "{subjects:?}");
    let busy = (PARTITIONS..PARTITIONS + KEYED)
        .filter(|p| subjects.contains_key(&format!("watchpost.events.{p}")))
        .count();
    assert!(busy >= 2, "the hosts' keys spread: {subjects:?}");
    assert_eq!(
        cluster.nats.stream_messages("WATCHPOST_EVENTS"),
        48 + hand_offs
    );
}

#[test]
fn a_node_killed_mid_stream_loses_and_duplicates_nothing() {
    let rules = rules_dir();
    let (batches, lines) = input();
    let reference = single_node_reference(rules.path(), &batches, &lines);
    // Checkpoints every 15 s, counted from when each partition starts: the
    // victim dies well before its first, so nothing it did is acknowledged
    // and the others must do it all again.
    let mut cluster = Cluster::start_with(3, &var("WATCHPOST_TEST_PG_URL"), PARTITIONS, 15_000, "");
    let addrs: Vec<SocketAddr> = cluster.live().iter().map(|s| s.addr).collect();
    let processed = |c: &Cluster| -> Vec<f64> {
        c.live()
            .iter()
            .map(|s| gauge(&c.metrics(s), "watchpost_partition_records_processed_total"))
            .collect()
    };
    // Hosts 0 to 5 (batches 0 to 5), then the same hosts again (batches
    // 12 to 17) before their partitions' next checkpoint.
    for (i, (query, batch)) in batches[..6].iter().enumerate() {
        send(addrs[i % 3], &cluster.shipper, query, batch);
    }
    let before = poll(
        "the first batches processed",
        || {
            let p = processed(&cluster);
            (p.iter().sum::<f64>() == 72.0).then_some(p)
        },
        || format!("{:?}", processed(&cluster)),
    );
    for (i, (query, batch)) in batches[12..18].iter().enumerate() {
        send(addrs[i % 3], &cluster.shipper, query, batch);
    }
    let after = poll(
        "the second batches processed",
        || {
            let p = processed(&cluster);
            (p.iter().sum::<f64>() == 144.0).then_some(p)
        },
        || format!("{:?}", processed(&cluster)),
    );
    // The node that did the most since: what it did is not yet
    // checkpointed, so not acknowledged.
    let (index, _) = after
        .iter()
        .zip(&before)
        .enumerate()
        .max_by(|a, b| (a.1.0 - a.1.1).total_cmp(&(b.1.0 - b.1.1)))
        .unwrap();
    let victim_processed = after[index];
    let victim = cluster.nodes[index].take().unwrap();
    victim.kill9();
    eprintln!(
        "killed node{index} after it processed {victim_processed} records, {} of them since its checkpoint",
        after[index] - before[index]
    );
    let addrs: Vec<SocketAddr> = cluster.live().iter().map(|s| s.addr).collect();
    let rest: Vec<&(String, String)> = batches[6..12].iter().chain(&batches[18..]).collect();
    for (i, (query, batch)) in rest.into_iter().enumerate() {
        send(addrs[i % 2], &cluster.shipper, query, batch);
    }
    let owned = cluster.wait_owned();
    let mut owned = owned;
    owned.sort_unstable();
    assert_eq!(
        owned,
        vec![5, 6],
        "the two live nodes share the 11 partitions"
    );
    let got = cluster.settle(lines.len());
    assert_eq!(got.per_line.len(), lines.len(), "no line lost, none twice");
    assert!(
        got.per_line == lines,
        "the per-line alerts carry the lines sent"
    );
    assert_same(&got, &reference);
    let taken: f64 = cluster
        .live()
        .iter()
        .map(|s| gauge(&cluster.metrics(s), "watchpost_partitions_acquired_total"))
        .sum();
    assert!(
        taken > 5.0,
        "the killed node's partitions were taken over: {taken}"
    );
    // Records the killed node processed but had not checkpointed were processed
    // again by the others: the alerts above show none of them twice.
    let survivors: f64 = cluster
        .live()
        .iter()
        .map(|s| {
            gauge(
                &cluster.metrics(s),
                "watchpost_partition_records_processed_total",
            )
        })
        .sum();
    eprintln!(
        "{} records processed again after the kill",
        victim_processed + survivors - lines.len() as f64
    );
    assert!(
        victim_processed + survivors > lines.len() as f64,
        "{victim_processed} + {survivors}"
    );
}

#[test]
fn nats_restarted_mid_stream_loses_nothing() {
    let rules = rules_dir();
    let (batches, lines) = input();
    let reference = single_node_reference(rules.path(), &batches, &lines);
    let mut cluster = Cluster::start(2, &var("WATCHPOST_TEST_PG_URL"));
    let addrs: Vec<SocketAddr> = cluster.live().iter().map(|s| s.addr).collect();
    for (i, (query, batch)) in batches[..18].iter().enumerate() {
        send(addrs[i % 2], &cluster.shipper, query, batch);
    }
    cluster.nats.kill();
    // Nothing is acknowledged while JetStream is away, and health says so.
    let (query, batch) = &batches[18];
    let answer = post_lines(addrs[0], &cluster.shipper, query, batch.as_bytes());
    assert_eq!(answer.status, 503, "{answer:?}");
    assert!(answer.header("retry-after").is_some());
    let health = get(addrs[1], "/api/v1/health", "");
    assert_eq!(health.status, 503);
    assert_eq!(health.json()["jetstream"], "down");
    assert_eq!(health.json()["database"], "up");
    cluster.nats.restart();
    for (i, (query, batch)) in batches[18..].iter().enumerate() {
        send(addrs[i % 2], &cluster.shipper, query, batch);
    }
    let got = cluster.settle(lines.len());
    assert_eq!(got.per_line.len(), lines.len(), "no line lost, none twice");
    assert!(
        got.per_line == lines,
        "the per-line alerts carry the lines sent"
    );
    assert_same(&got, &reference);
    assert_eq!(get(addrs[0], "/api/v1/health", "").status, 200);
}

#[test]
fn postgres_restarted_mid_stream_loses_nothing() {
    let rules = rules_dir();
    let (batches, lines) = input();
    let reference = single_node_reference(rules.path(), &batches, &lines);
    let pg_dir = tempfile::tempdir().unwrap();
    let pg = Postgres::start(pg_dir.path());
    let cluster = Cluster::start(2, &pg.url("postgres"));
    let addrs: Vec<SocketAddr> = cluster.live().iter().map(|s| s.addr).collect();
    for (i, (query, batch)) in batches[..18].iter().enumerate() {
        send(addrs[i % 2], &cluster.shipper, query, batch);
    }
    pg.pg_ctl("restart");
    let mut refused = 0;
    for (i, (query, batch)) in batches[18..].iter().enumerate() {
        refused += send(addrs[i % 2], &cluster.shipper, query, batch);
    }
    eprintln!("{refused} requests refused while the nodes reconnected");
    let got = cluster.settle(lines.len());
    assert_eq!(got.per_line.len(), lines.len(), "no line lost, none twice");
    assert!(
        got.per_line == lines,
        "the per-line alerts carry the lines sent"
    );
    assert_same(&got, &reference);
    // Both nodes opened their lease sessions again.
    for s in cluster.live() {
        assert_eq!(
            gauge(&cluster.metrics(s), "watchpost_cluster_postgres_up"),
            1.0
        );
    }
}

#[test]
fn a_message_that_cannot_be_read_is_dead_lettered_without_blocking_its_partition() {
    // One partition, so the bad message and the good lines share it.
    let cluster = Cluster::start_with(
        1,
        &var("WATCHPOST_TEST_PG_URL"),
        1,
        300,
        "max_deliver = 3\n",
    );
    cluster.nats.request(
        "watchpost.events.0",
        b"this is not a watchpost message",
        false,
    );
    let (batches, _) = input();
    let (query, batch) = &batches[0];
    send(cluster.live()[0].addr, &cluster.shipper, query, batch);
    let node = cluster.live()[0];
    // The good lines are detected although the bad message came first.
    let first = poll(
        "the lines after the bad message detected",
        || {
            let o = outcome(node.addr, &cluster.admin);
            (o.per_line.len() == 12).then_some(o)
        },
        || node.log_text(),
    );
    assert_eq!(first.per_line.len(), 12);
    // Delivered max_deliver (3) times, then moved with its reason.
    poll(
        "the bad message dead-lettered",
        || {
            let m = cluster.metrics(node);
            (gauge(&m, "watchpost_dead_letters_total") == 1.0).then_some(())
        },
        || node.log_text(),
    );
    let m = cluster.metrics(node);
    assert_eq!(gauge(&m, "watchpost_unreadable_deliveries_total"), 3.0);
    assert_eq!(cluster.nats.stream_messages("WATCHPOST_EVENTS_DEAD"), 1);
    let body = cluster
        .nats
        .request(
            "$JS.API.STREAM.MSG.GET.WATCHPOST_EVENTS_DEAD",
            b"{\"seq\":1}",
            true,
        )
        .unwrap();
    let got: Value = serde_json::from_slice(&body).unwrap();
    let decode = |field: &str| {
        String::from_utf8(
            base64::Engine::decode(
                &base64::engine::general_purpose::STANDARD,
                got["message"][field]
                    .as_str()
                    .unwrap_or_else(|| panic!("{got}")),
            )
            .unwrap(),
        )
        .unwrap()
    };
    assert_eq!(decode("data"), "this is not a watchpost message");
    let headers = decode("hdrs");
    assert!(
        headers.contains("Watchpost-Dead-Reason: not a watchpost event message (no WPB1 header)"),
        "{headers}"
    );
    assert!(
        headers.contains("Watchpost-Dead-Subject: watchpost.events.0"),
        "{headers}"
    );
    assert!(headers.contains("Watchpost-Dead-Sequence: 1"), "{headers}");
    // More lines on the same partition still flow.
    let (query, batch) = &batches[1];
    send(node.addr, &cluster.shipper, query, batch);
    poll(
        "later lines detected",
        || (outcome(node.addr, &cluster.admin).per_line.len() == 24).then_some(()),
        || node.log_text(),
    );
}

#[test]
fn a_node_configured_with_other_partition_counts_refuses_to_join() {
    // Routing depends on both counts, so a node that disagrees with the
    // cluster would send events where no consumer reads them.
    let cluster = Cluster::start(1, &var("WATCHPOST_TEST_PG_URL"));
    for (setting, theirs, ours) in [
        ("keyed_partitions", KEYED, KEYED + 2),
        ("partitions", PARTITIONS, PARTITIONS + 1),
    ] {
        let dir = cluster.dir.path().join(format!("odd-{setting}"));
        std::fs::create_dir_all(&dir).unwrap();
        let config = cluster.config.replace(
            &format!("\n{setting} = {theirs}\n"),
            &format!("\n{setting} = {ours}\n"),
        );
        assert_ne!(config, cluster.config, "{setting} in the test's config");
        std::fs::write(dir.join("watchpost.toml"), &config).unwrap();
        let log = dir.join("serve.log");
        let mut child = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.join("data"))
            .arg("--config")
            .arg(dir.join("watchpost.toml"))
            .args(["--database-url", &cluster.db, "--nats", &cluster.nats.url()])
            .args(["--node-id", "odd", "-r", cluster.rules.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        // It listens first (rules load meanwhile), then fails to join and
        // exits.
        let status = poll(
            &format!("the node with {setting} = {ours} exits"),
            || child.try_wait().unwrap(),
            || std::fs::read_to_string(&log).unwrap_or_default(),
        );
        let stderr = std::fs::read_to_string(&log).unwrap();
        assert!(!status.success(), "{setting}: {status}\n{stderr}");
        let want = format!(
            "the cluster was created with {setting} = {theirs}, and this node is configured with {ours}: set [cluster] {setting} = {theirs}"
        );
        assert!(stderr.contains(&want), "{setting}:\n{stderr}");
    }
    // The cluster's own node runs on, holding every partition.
    assert_eq!(cluster.wait_owned(), vec![PARTITIONS + KEYED]);
}
