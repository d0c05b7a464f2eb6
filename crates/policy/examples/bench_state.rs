//! Throughput and memory of the stateful policy detectors with 1M distinct
//! keys. Run with `scripts`-free: `cargo run --release -p watchpost-policy
//! --example bench_state [KEYS]`. Memory is the growth of the resident set
//! (Linux `/proc/self/status`) while the detector holds its state.

use std::sync::Arc;
use std::time::Instant;

use detect::Detector;
use events::{Event, Map, Meta, Timestamp, Value};
use watchpost_policy::{
    LoginConfig, PerformanceConfig, RebootConfig, Secs, StateConfig, login, perf, reboot,
};

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn event(source: &Arc<str>, i: u64, host: String, fields: Map<String, Value>) -> Event {
    let mut meta = Meta::new(source.clone(), i);
    meta.timestamp = Timestamp::from_unix_timestamp(1_700_000_000 + (i / 100) as i64).ok();
    meta.host = Some(host);
    Event::new(meta, fields)
}

fn measure(name: &str, keys: u64, mut d: Box<dyn Detector>, make: &dyn Fn(u64) -> Event) {
    // Time building the events alone, to report the detector's own cost.
    let started = Instant::now();
    let mut sink = 0usize;
    for i in 0..keys {
        sink += make(i).fields.len();
    }
    let build = started.elapsed();
    let before = rss_kib();
    let mut out = Vec::new();
    let started = Instant::now();
    for i in 0..keys {
        let e = make(i);
        if d.selector().wants(&e) {
            d.observe(&e, &mut out);
        }
    }
    let total = started.elapsed();
    let after = rss_kib();
    let own = total.saturating_sub(build);
    println!(
        "{name:<16} {keys} events with distinct keys: {:>9.0} events/s end to end, {:>9.0} events/s detector only, state {:>6.1} MiB ({} detections, {sink} fields)",
        keys as f64 / total.as_secs_f64(),
        keys as f64 / own.as_secs_f64().max(1e-9),
        (after.saturating_sub(before)) as f64 / 1024.0,
        out.len()
    );
    drop(d);
}

fn main() {
    let keys: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let state = StateConfig {
        idle_ttl: Secs(86_400),
        max_keys: 2_000_000,
    };
    let source: Arc<str> = Arc::from("bench");
    let s = source.clone();
    measure(
        "login_failures",
        keys,
        Box::new(login::LoginFailures::new(LoginConfig::default(), &state)),
        &move |i| {
            let mut f = Map::new();
            f.insert("program".into(), Value::from("sshd"));
            f.insert("pid".into(), Value::from(i));
            f.insert(
                "message".into(),
                Value::from(format!(
                    "Failed password for user{i} from 10.{}.{}.{} port 22 ssh2",
                    (i >> 16) & 255,
                    (i >> 8) & 255,
                    i & 255
                )),
            );
            event(&s, i, "bench-host".into(), f)
        },
    );
    let s = source.clone();
    measure(
        "performance",
        keys,
        Box::new(perf::Performance::new(PerformanceConfig::default(), &state)),
        &move |i| {
            let mut f = Map::new();
            f.insert("latency_ms".into(), Value::from(100 + i % 7));
            f.insert("service".into(), Value::from(format!("svc{i}")));
            event(&s, i, format!("h{}", i % 1000), f)
        },
    );
    let s = source.clone();
    measure(
        "reboot",
        keys,
        Box::new(reboot::Reboots::new(&RebootConfig::default(), &state).unwrap()),
        &move |i| {
            let mut f = Map::new();
            f.insert("program".into(), Value::from("kernel"));
            f.insert("message".into(), Value::from("eth0: link up"));
            event(&s, i, format!("host{i}"), f)
        },
    );
    // Bounded: a 100k-key limit holds under 1M distinct keys.
    let bounded = StateConfig {
        idle_ttl: Secs(86_400),
        max_keys: 100_000,
    };
    let mut d = login::LoginFailures::new(LoginConfig::default(), &bounded);
    let mut out = Vec::new();
    for i in 0..keys {
        let mut f = Map::new();
        f.insert("program".into(), Value::from("sshd"));
        f.insert(
            "message".into(),
            Value::from(format!(
                "Failed password for u{i} from 10.{}.{}.{} port 1 ssh2",
                (i >> 16) & 255,
                (i >> 8) & 255,
                i & 255
            )),
        );
        d.observe(&event(&source, i, "h".into(), f), &mut out);
    }
    println!(
        "login_failures with max_keys=100000 after {keys} distinct users and addresses: {} keys held",
        d.keys()
    );
}
