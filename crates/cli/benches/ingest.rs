//! Live ingest benchmark: `cargo bench -p watchpost --bench ingest`.
//!
//! Runs `watchpost serve` in this process with the SigmaHQ `rules/` folder
//! plus the policy pack and the durable spool on, and posts real records
//! from `$WATCHPOST_CORPUS` (default `../shared/data`): Zeek JSON logs,
//! CloudTrail records and Defender events as NDJSON, and a real auth.log
//! as `?format=syslog`, over keep-alive HTTP/1.1 connections from this
//! process.
//!
//! It reports:
//! - sustained events/s: lines acknowledged by the server, over the time
//!   until detection has processed all of them (not just spooled them);
//! - the reference: the same lines parsed and matched by the engine alone
//!   (`Engine::scan` on one thread, no HTTP, no spool), measured in the same
//!   run, and the ratio;
//! - at half the sustained rate: p50/p99 of the acknowledgement (spool
//!   fsync included), and p50/p99 of spooled-to-detected from the server's
//!   own histogram (`/metrics`, bucket upper bounds);
//! - the process's resident memory after the run and its peak;
//! - with `WATCHPOST_BENCH_RSIGMA=/path/to/rsigma`, the same throughput
//!   load against rsigma's daemon (`rsigma engine daemon --input http`,
//!   same rules, no policy pack, nothing on disk) in the same run, and the
//!   ratio. `cargo install rsigma --version 0.23.0 --locked` is the newest
//!   that builds with this toolchain.
//!
//! The load generator shares the two cores with the server, so the figures
//! are a floor for a server on its own machine.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use incidents::enums::Role;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const BATCH: usize = 1000;
const CONNECTIONS: usize = 4;
const LOAD_SECS: u64 = 10;

fn corpus() -> Option<PathBuf> {
    let path = std::env::var_os("WATCHPOST_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("../../../shared/data"));
    path.join("sigma/rules").is_dir().then_some(path)
}

fn lines_of(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

fn json_lines(corpus: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let zeek = corpus.join("network/zeek_otrf_apt29");
    let mut stack = vec![zeek];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.extend(lines_of(&p));
            }
        }
    }
    out.extend(lines_of(
        &corpus.join("cloud/aws_cloudtrail/stratus_red_team_detonations.ndjson"),
    ));
    for f in std::fs::read_dir(corpus.join("antivirus"))
        .into_iter()
        .flatten()
        .flatten()
    {
        out.extend(lines_of(&f.path()));
    }
    out
}

/// Bodies of `BATCH` lines each.
fn bodies(lines: &[String]) -> Vec<Arc<Vec<u8>>> {
    lines
        .chunks(BATCH)
        .filter(|c| c.len() == BATCH)
        .map(|c| Arc::new((c.join("\n") + "\n").into_bytes()))
        .collect()
}

struct Conn {
    reader: BufReader<tokio::net::tcp::OwnedReadHalf>,
    writer: tokio::net::tcp::OwnedWriteHalf,
}

impl Conn {
    async fn open(addr: std::net::SocketAddr) -> Conn {
        let stream = TcpStream::connect(addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        let (r, w) = stream.into_split();
        Conn {
            reader: BufReader::new(r),
            writer: w,
        }
    }

    /// One request; returns the status and body.
    async fn call(&mut self, method: &str, path: &str, token: &str, body: &[u8]) -> (u16, Vec<u8>) {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\nContent-Type: application/x-ndjson\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        self.writer.write_all(head.as_bytes()).await.unwrap();
        self.writer.write_all(body).await.unwrap();
        let mut status = 0;
        let mut length = 0usize;
        let mut line = String::new();
        loop {
            line.clear();
            self.reader.read_line(&mut line).await.unwrap();
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some(rest) = l.strip_prefix("HTTP/1.1 ") {
                status = rest[..3].parse().unwrap();
            } else if let Some((k, v)) = l.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse().unwrap();
            }
        }
        let mut out = vec![0; length];
        self.reader.read_exact(&mut out).await.unwrap();
        (status, out)
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// A Prometheus histogram's cumulative buckets.
fn buckets(metrics: &str, name: &str) -> Vec<(String, u64)> {
    metrics
        .lines()
        .filter_map(|l| l.strip_prefix(&format!("{name}_bucket{{le=\"")))
        .filter_map(|rest| {
            let (le, count) = rest.split_once("\"} ")?;
            Some((le.to_owned(), count.parse().ok()?))
        })
        .collect()
}

/// p50 and p99 upper bounds of the observations between two readings of
/// a histogram.
fn histogram_percentiles(before: &str, after: &str, name: &str) -> (String, String) {
    let earlier = buckets(before, name);
    let buckets: Vec<(String, u64)> = buckets(after, name)
        .into_iter()
        .zip(earlier.iter().map(|b| b.1).chain(std::iter::repeat(0)))
        .map(|((le, n), m)| (le, n - m))
        .collect();
    let total = buckets.last().map_or(0, |b| b.1);
    let at = |p: f64| {
        let want = (total as f64 * p).ceil() as u64;
        buckets
            .iter()
            .find(|(_, c)| *c >= want)
            .map_or("?".to_owned(), |(le, _)| format!("<= {le} s"))
    };
    (at(0.5), at(0.99))
}

fn status_kib(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn main() {
    let Some(corpus) = corpus() else {
        println!("ingest bench: no corpus (set WATCHPOST_CORPUS); not run");
        return;
    };
    let json = json_lines(&corpus);
    let syslog = lines_of(&corpus.join("linux/elastic_examples_suspicious_login_auth.log"));
    let json_bodies = bodies(&json);
    let syslog_bodies = bodies(&syslog);
    println!(
        "records: {} JSON lines (Zeek, CloudTrail, Defender), {} auth.log lines",
        json.len(),
        syslog.len()
    );

    // Reference: the engine alone on the same lines, one thread.
    let rules = vec![corpus.join("sigma/rules")];
    let started = Instant::now();
    let engine = engine::Engine::load(engine::EngineConfig {
        rules: rules.clone(),
        policy: Some(policy::PolicyConfig::default()),
    })
    .unwrap();
    println!(
        "rules: {} loaded in {:.2} s",
        engine.rules_loaded(),
        started.elapsed().as_secs_f64()
    );
    let id: events::SourceId = Arc::from("bench/json");
    let started = Instant::now();
    let mut n = 0u64;
    for (i, line) in json.iter().enumerate() {
        let events = sources::parse_json_line(line.as_bytes(), &id, i as u64).unwrap_or_default();
        n += events.len() as u64;
        let _ = engine.scan(events);
    }
    let reference = n as f64 / started.elapsed().as_secs_f64();
    println!("reference: engine alone (parse + scan, one thread): {reference:.0} events/s");
    drop(engine);

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let token = runtime.block_on(async {
        let location = server::StoreLocation::new(Some(data.clone()), None);
        let store = server::open_store(&location).await.unwrap();
        server::create_user_with_token(store.as_ref(), "admin", Role::Admin)
            .await
            .unwrap();
        let (_, token) = server::create_user_with_token(store.as_ref(), "bench", Role::Ingest)
            .await
            .unwrap();
        store.close().await;
        token
    });
    let admin = runtime.block_on(async {
        let location = server::StoreLocation::new(Some(data.clone()), None);
        let store = server::open_store(&location).await.unwrap();
        let token = server::issue_token(store.as_ref(), "admin", "bench", None)
            .await
            .unwrap()
            .1;
        store.close().await;
        token
    });
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let options = server::ServeOptions {
        data_dir: Some(data.clone()),
        listen: Some(port),
        rules,
        ..Default::default()
    };
    // `serve` is not `Send` (it holds stdout while printing); it gets a
    // runtime of its own on its own thread.
    let server = std::thread::spawn(move || {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(server::serve(options, async move {
                let _ = stop_rx.await;
            }))
    });
    let sustained = runtime.block_on(async {
        // Wait for the listener (rules load first).
        let deadline = Instant::now() + Duration::from_secs(120);
        while TcpStream::connect(port).await.is_err() {
            assert!(Instant::now() < deadline, "server did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let stats = |admin: String| async move {
            let mut c = Conn::open(port).await;
            let (_, body) = c.call("GET", "/api/v1/stats", &admin, b"").await;
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
            (
                v["ingest"]["spooled"].as_u64().unwrap_or(0),
                v["ingest"]["processed"].as_u64().unwrap_or(0),
            )
        };

        // Throughput: CONNECTIONS senders for LOAD_SECS, then drain.
        let started = Instant::now();
        let (acked, refused) = blast(port, &token, &syslog_bodies, &json_bodies).await;
        let acked_secs = started.elapsed().as_secs_f64();
        loop {
            let (spooled, processed) = stats(admin.clone()).await;
            if processed >= spooled {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let drained_secs = started.elapsed().as_secs_f64();
        let sustained = acked as f64 / drained_secs;
        println!(
            "throughput: {acked} events acknowledged in {acked_secs:.1} s ({:.0}/s), all detected after {drained_secs:.1} s: sustained {sustained:.0} events/s ({refused} requests refused with 429/503)",
            acked as f64 / acked_secs,
        );
        println!("ratio to the engine alone: {:.2}x", sustained / reference);

        // Latency at half that rate, one sender pacing batches.
        let (_, before) = Conn::open(port).await.call("GET", "/metrics", &admin, b"").await;
        let before = String::from_utf8(before).unwrap();
        let rate = sustained / 2.0;
        let interval = Duration::from_secs_f64(BATCH as f64 / rate);
        let mut conn = Conn::open(port).await;
        let mut acks = Vec::new();
        let start = Instant::now();
        let mut next = start;
        let mut i = 0;
        while start.elapsed() < Duration::from_secs(LOAD_SECS) {
            tokio::time::sleep_until(next.into()).await;
            next += interval;
            let body = &json_bodies[i % json_bodies.len()];
            i += 1;
            let t = Instant::now();
            let (status, _) = conn
                .call("POST", "/api/v1/events?source=paced", &token, body)
                .await;
            assert_eq!(status, 200);
            acks.push(t.elapsed());
        }
        acks.sort();
        loop {
            let (spooled, processed) = stats(admin.clone()).await;
            if processed >= spooled {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let (_, metrics) = Conn::open(port).await.call("GET", "/metrics", &admin, b"").await;
        let metrics = String::from_utf8(metrics).unwrap();
        let (p50, p99) =
            histogram_percentiles(&before, &metrics, "watchpost_event_latency_seconds");
        println!(
            "latency at {rate:.0} events/s ({} batches of {BATCH}): acknowledgement p50 {:?} p99 {:?}; spooled to detected (server histogram) p50 {p50} p99 {p99}",
            acks.len(),
            percentile(&acks, 0.5),
            percentile(&acks, 0.99),
        );
        for line in metrics.lines().filter(|l| {
            l.starts_with("watchpost_alerts_total")
                || l.starts_with("watchpost_detections_total")
                || l.starts_with("watchpost_events_processed_total")
                || l.starts_with("watchpost_checkpoint")
        }) {
            println!("  {line}");
        }
        sustained
    });
    println!(
        "memory: resident {} MiB now, peak {} MiB (server and load generator)",
        status_kib("VmRSS") / 1024,
        status_kib("VmHWM") / 1024
    );
    let _ = stop_tx.send(());
    server.join().unwrap().unwrap();
    match std::env::var_os("WATCHPOST_BENCH_RSIGMA") {
        Some(bin) => runtime.block_on(rsigma_daemon(
            Path::new(&bin),
            &corpus.join("sigma/rules"),
            &syslog_bodies,
            &json_bodies,
            sustained,
        )),
        None => println!(
            "rsigma daemon: not measured (set WATCHPOST_BENCH_RSIGMA to an `rsigma` binary, e.g. from `cargo install rsigma --version 0.23.0 --locked`)"
        ),
    }
}

/// `CONNECTIONS` keep-alive senders post for `LOAD_SECS`: the first sends
/// auth.log lines as `?format=syslog`, the others JSON lines. Returns the
/// lines acknowledged and the requests refused.
async fn blast(
    port: std::net::SocketAddr,
    token: &str,
    syslog_bodies: &[Arc<Vec<u8>>],
    json_bodies: &[Arc<Vec<u8>>],
) -> (u64, u64) {
    let sent = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..CONNECTIONS {
        let (bodies, query) = if c == 0 {
            (syslog_bodies.to_vec(), "?format=syslog&source=auth.log")
        } else {
            (json_bodies.to_vec(), "?source=mixed")
        };
        let token = token.to_owned();
        let sent = Arc::clone(&sent);
        let refused = Arc::clone(&refused);
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(port).await;
            let path = format!("/api/v1/events{query}");
            let mut i = c;
            while started.elapsed() < Duration::from_secs(LOAD_SECS) {
                let body = &bodies[i % bodies.len()];
                i += 1;
                let (status, _) = conn.call("POST", &path, &token, body).await;
                if status == 200 {
                    sent.fetch_add(BATCH as u64, Ordering::Relaxed);
                } else {
                    refused.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    (
        sent.load(Ordering::Relaxed),
        refused.load(Ordering::Relaxed),
    )
}

/// A counter's value in a Prometheus text body.
fn counter(metrics: &str, name: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| {
            l.strip_prefix(name)?
                .strip_prefix(' ')?
                .trim()
                .parse::<f64>()
                .ok()
        })
        .map_or(0, |v| v as u64)
}

/// The same load against rsigma's daemon (`rsigma engine daemon --input
/// http`, the SigmaHQ rules without the policy pack, nothing on disk), in
/// the same run: its sustained events/s until its own
/// `rsigma_events_processed_total` has counted every accepted line.
async fn rsigma_daemon(
    bin: &Path,
    rules: &Path,
    syslog_bodies: &[Arc<Vec<u8>>],
    json_bodies: &[Arc<Vec<u8>>],
    watchpost: f64,
) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut child = match tokio::process::Command::new(bin)
        .args([
            "engine",
            "daemon",
            "--input",
            "http",
            "--output",
            "file:///dev/null",
        ])
        .arg("--rules")
        .arg(rules)
        .arg("--api-addr")
        .arg(port.to_string())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
    {
        Ok(child) => child,
        Err(error) => {
            println!("rsigma daemon: cannot start {}: {error}", bin.display());
            return;
        }
    };
    let metrics = || async move {
        let mut c = Conn::open(port).await;
        String::from_utf8(c.call("GET", "/metrics", "", b"").await.1).unwrap_or_default()
    };
    let started = Instant::now();
    let deadline = started + Duration::from_secs(120);
    loop {
        if TcpStream::connect(port).await.is_ok()
            && counter(&metrics().await, "rsigma_detection_rules_loaded") > 0
        {
            break;
        }
        assert!(Instant::now() < deadline, "rsigma daemon did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "rsigma daemon: {} rules loaded, listening after {:.2} s",
        counter(&metrics().await, "rsigma_detection_rules_loaded"),
        started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    let (acked, refused) = blast(port, "", syslog_bodies, json_bodies).await;
    let acked_secs = started.elapsed().as_secs_f64();
    // It counts events, not lines (a line it cannot read is none): wait
    // until it has counted every line, or until the count stops moving;
    // the time is that of its last movement.
    let mut last = (0, started.elapsed());
    loop {
        let processed = counter(&metrics().await, "rsigma_events_processed_total");
        if processed != last.0 {
            last = (processed, started.elapsed());
        }
        if processed >= acked {
            break;
        }
        if started.elapsed() - last.1 > Duration::from_secs(5) {
            println!("rsigma daemon: processed count stopped at {processed} of {acked} lines");
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let drained_secs = last.1.as_secs_f64();
    let sustained = acked as f64 / drained_secs;
    println!(
        "rsigma daemon throughput: {acked} lines accepted in {acked_secs:.1} s ({:.0}/s), processed after {drained_secs:.1} s: sustained {sustained:.0} events/s ({refused} requests refused)",
        acked as f64 / acked_secs
    );
    println!(
        "watchpost (durable spool, policy pack) to rsigma daemon (no disk): {:.2}x",
        watchpost / sustained
    );
    let _ = child.kill().await;
}
