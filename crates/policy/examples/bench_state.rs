//! Throughput and memory of the stateful policy detectors with many
//! distinct keys: `cargo run --release -p watchpost-policy --example
//! bench_state [EVENTS] [DETECTOR]` (1M events by default; every event
//! brings new keys: a user and an address for `login_failures`, a series for
//! `performance`, a host for `reboot` and `gaps`).
//!
//! Without a DETECTOR the example starts itself once per detector, so each
//! is measured in a fresh process: memory that one detector freed and the
//! allocator kept is then neither counted for, nor reused by, the next.
//!
//! `state` is the growth of the resident set (`VmRSS` in Linux
//! `/proc/self/status`) from before the event loop to after it, while the
//! detector still holds its state, and `per key` divides it by the keys the
//! detector holds. It includes what the allocator keeps of memory freed
//! during the loop (the smaller arrays a hash table had before it doubled).
//! `peak` is the growth of `VmHWM`, which also counts the old and new arrays
//! of a table side by side while it grows.

use std::sync::Arc;
use std::time::Instant;

use detect::Detector;
use events::{Event, Map, Meta, Timestamp, Value};
use watchpost_policy::{
    GapsConfig, LoginConfig, PerformanceConfig, RebootConfig, Secs, StateConfig, gaps, login, perf,
    reboot,
};

const DETECTORS: [&str; 4] = ["login_failures", "performance", "reboot", "gaps"];

/// A `/proc/self/status` figure in KiB (0 where there is none).
fn status_kib(name: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(name))
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

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn measure<D: Detector>(
    name: &str,
    events: u64,
    mut d: D,
    keys: impl Fn(&D) -> usize,
    make: impl Fn(u64) -> Event,
) {
    // Time building the events alone, to report the detector's own cost.
    let started = Instant::now();
    let mut sink = 0usize;
    for i in 0..events {
        sink += make(i).fields.len();
    }
    let build = started.elapsed();
    // The selector is taken once, as a driver does.
    let selector = d.selector();
    let before = status_kib("VmRSS:");
    let mut out = Vec::new();
    let started = Instant::now();
    for i in 0..events {
        let e = make(i);
        if selector.wants(&e) {
            d.observe(&e, &mut out);
        }
    }
    let total = started.elapsed();
    let after = status_kib("VmRSS:");
    let peak = status_kib("VmHWM:");
    let own = total.saturating_sub(build);
    let held = keys(&d);
    let state = after.saturating_sub(before);
    println!(
        "{name:<15} {events} events, {held} keys: state {:>6.1} MiB, {:>5.1} bytes per key, peak {:>6.1} MiB; {:>8.0} events/s detector only, {:>8.0} end to end ({} detections, {sink} fields)",
        mib(state),
        (state * 1024) as f64 / held.max(1) as f64,
        mib(peak.saturating_sub(before).max(state)),
        events as f64 / own.as_secs_f64().max(1e-9),
        events as f64 / total.as_secs_f64(),
        out.len()
    );
}

fn run(name: &str, events: u64) {
    let state = StateConfig {
        idle_ttl: Secs(86_400),
        max_keys: 2_000_000,
    };
    let source: Arc<str> = Arc::from("bench");
    let s = source.clone();
    match name {
        "login_failures" => measure(
            name,
            events,
            login::LoginFailures::new(LoginConfig::default(), &state),
            |d| d.keys(),
            move |i| {
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
        ),
        "performance" => measure(
            name,
            events,
            perf::Performance::new(PerformanceConfig::default(), &state),
            |d| d.keys(),
            move |i| {
                let mut f = Map::new();
                f.insert("latency_ms".into(), Value::from(100 + i % 7));
                f.insert("service".into(), Value::from(format!("svc{i}")));
                event(&s, i, format!("h{}", i % 1000), f)
            },
        ),
        "reboot" => measure(
            name,
            events,
            reboot::Reboots::new(&RebootConfig::default(), &state).unwrap(),
            |d| d.keys(),
            move |i| {
                let mut f = Map::new();
                f.insert("program".into(), Value::from("kernel"));
                f.insert("message".into(), Value::from("eth0: link up"));
                event(&s, i, format!("host{i}"), f)
            },
        ),
        "gaps" => measure(
            name,
            events,
            gaps::Gaps::new(GapsConfig::default(), &state),
            |d| d.keys(),
            move |i| {
                let mut f = Map::new();
                f.insert("message".into(), Value::from("eth0: link up"));
                event(&s, i, format!("host{i}"), f)
            },
        ),
        other => panic!("unknown detector {other:?}: one of {DETECTORS:?}"),
    }
}

/// A 100k-key limit holds under 1M distinct users and addresses.
fn bounded(events: u64) {
    let source: Arc<str> = Arc::from("bench");
    let bounded = StateConfig {
        idle_ttl: Secs(86_400),
        max_keys: 100_000,
    };
    let mut d = login::LoginFailures::new(LoginConfig::default(), &bounded);
    let mut out = Vec::new();
    for i in 0..events {
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
        "login_failures with max_keys=100000 after {events} distinct users and addresses: {} keys held",
        d.keys()
    );
}

fn main() {
    let mut args = std::env::args().skip(1);
    let events: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    if let Some(name) = args.next() {
        run(&name, events);
        return;
    }
    let exe = std::env::current_exe().expect("the example's own path");
    for name in DETECTORS {
        let status = std::process::Command::new(&exe)
            .arg(events.to_string())
            .arg(name)
            .status()
            .expect("the example starts itself");
        assert!(status.success(), "{name}: {status}");
    }
    bounded(events);
}
