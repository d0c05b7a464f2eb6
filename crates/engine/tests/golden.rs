//! Golden-file tests: the detections of [`Engine::hunt`] over the shared
//! corpus, with the SigmaHQ rules of each family and the default policy
//! pack, must stay exactly those in `tests/golden/`, with one worker thread
//! and with several, and with the kept events held in memory or spilled to
//! disk after every batch. The same events given to [`Engine::stream`] in
//! time order, each out of order by up to half the reorder window, must
//! give the same detections, none of them late; and so must the same
//! stream split as a cluster splits it, its keyed stage in three shards.
//!
//! The golden files were recorded with `watchpost hunt --jsonl` (run from
//! the corpus folder, so file names are relative to it) before the engine
//! crate existed: they pin down that moving the pipeline here changed no
//! detection. A change that means to change detections updates them, and
//! the diff shows what changed. To record them again:
//!
//! ```text
//! cd $WATCHPOST_CORPUS
//! watchpost hunt --jsonl -r sigma/rules/windows evtx/EVTX-ATTACK-SAMPLES > evtx.jsonl
//! ```
//!
//! (and likewise for each case below).

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use detect::Detection;
use events::{Event, Timestamp};
use policy::PolicyConfig;
use serde_json::Value;
use watchpost_engine::{Engine, EngineConfig, HuntOptions, StreamConfig, sort_detections};

mod common;
use common::{corpus, golden};

/// Hunts like `watchpost hunt --jsonl -r RULES... PATHS...` from the corpus
/// folder, on `threads` worker threads; each detection as JSON, with its
/// file relative to the corpus.
fn hunt(
    rules: &[&str],
    paths: &[&str],
    threads: usize,
    budget: Option<usize>,
) -> (Vec<Value>, (u64, u64)) {
    let root = corpus();
    let config = EngineConfig {
        rules: rules.iter().map(|r| root.join(r)).collect(),
        policy: Some(PolicyConfig::default()),
    };
    let paths: Vec<PathBuf> = paths.iter().map(|p| root.join(p)).collect();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let report = pool.install(|| {
        let engine = Engine::load(config).expect("the rules load");
        assert!(
            engine.rule_errors().is_empty(),
            "{:?}",
            engine.rule_errors()
        );
        let options = HuntOptions {
            memory_budget: budget,
            ..HuntOptions::default()
        };
        engine.hunt(&paths, &options, &())
    });
    assert!(
        report.problems.iter().all(|p| p.source != "spool"),
        "{:?}",
        report.problems
    );
    let detections = report
        .detections
        .to_vec()
        .expect("the detections read back");
    (as_json(&detections), (report.kept, report.spilled))
}

/// Detections as `hunt --jsonl` writes them, files relative to the corpus.
fn as_json(detections: &[Detection]) -> Vec<Value> {
    let prefix = format!("{}/", corpus().display());
    detections
        .iter()
        .map(|d| {
            let mut v = serde_json::to_value(d).unwrap();
            let file = v["file"].as_str().unwrap().to_string();
            v["file"] = Value::from(file.strip_prefix(&prefix).unwrap_or(&file));
            v
        })
        .collect()
}

/// The reorder window of [`stream`].
const WINDOW: Duration = Duration::from_secs(60);

/// Runs the corpus through [`Engine::stream`] as a live server would see
/// it: the events of every file, interleaved in time order, each source
/// out of order by up to half the window (a fixed pseudo-random delay per
/// event), in batches of 200. Returns the sorted detections, and the stream's
/// counts.
///
/// With `restarts`, the stream stops that many times, evenly spread: it is
/// saved, dropped, and resumed from the saved bytes on an engine loaded
/// afresh from the same rules, as a live server restarts from its
/// checkpoint. With `fresh`, it is not resumed but started anew, as
/// without a checkpoint.
fn stream(
    rules: &[&str],
    paths: &[&str],
    restarts: usize,
    fresh: bool,
) -> (Vec<Value>, watchpost_engine::StreamStats) {
    let root = corpus();
    let config = EngineConfig {
        rules: rules.iter().map(|r| root.join(r)).collect(),
        policy: Some(PolicyConfig::default()),
    };
    let engines: Vec<Engine> = (0..=restarts)
        .map(|_| Engine::load(config.clone()).expect("the rules load"))
        .collect();
    let engine = &engines[0];
    let keyed = arrivals(paths);
    let stream_config = StreamConfig {
        window: WINDOW,
        ..StreamConfig::default()
    };
    let mut live = engine.stream(stream_config);
    let mut found = Vec::new();
    let epoch = Timestamp::UNIX_EPOCH;
    let batches = keyed.len().div_ceil(200);
    let every = batches / (restarts + 1);
    let mut restarted = 0;
    let mut buffered_at_restart = 0;
    for (i, chunk) in keyed.chunks(200).enumerate() {
        // Each restart is due every `every` batches, and falls at the first
        // batch after that where events wait in the reorder buffer (or
        // `every / 2` batches later if none does).
        let due = restarted < restarts && i >= every * (restarted + 1);
        let late = i >= every * (restarted + 1) + every / 2;
        if due && (live.buffered() > 0 || late) {
            restarted += 1;
            buffered_at_restart += live.buffered();
            let saved = live.save();
            drop(live);
            live = if fresh {
                engines[restarted].stream(stream_config)
            } else {
                engines[restarted]
                    .resume(stream_config, &saved)
                    .expect("the checkpoint resumes")
            };
        }
        // The caller's clock: the arrival time of the batch's last event.
        let now = chunk.last().and_then(|c| c.0).unwrap_or(epoch);
        let batch = chunk.iter().map(|c| c.1.clone()).collect();
        found.extend(live.push(batch, now));
    }
    assert_eq!(restarted, restarts);
    if restarts > 0 && !fresh && live.stats().kept > 10_000 {
        // The restarts fell where events waited for the watermark: the
        // reorder buffer came back too.
        assert!(buffered_at_restart > 0, "nothing buffered at the restarts");
    }
    let (rest, stats) = live.finish();
    found.extend(rest);
    sort_detections(&mut found);
    (as_json(&found), stats)
}

/// Runs the corpus as [`stream`] does (no restarts), split as a cluster
/// splits it: one source stage matches every batch and hands its kept
/// events, as bytes, to a keyed stage in `shards` shards, each event to
/// every shard its routes name. Returns the sorted detections of all
/// stages, and how many kept events each shard was given.
fn split(rules: &[&str], paths: &[&str], shards: u32) -> (Vec<Value>, Vec<u64>) {
    let root = corpus();
    let config = EngineConfig {
        rules: rules.iter().map(|r| root.join(r)).collect(),
        policy: Some(PolicyConfig::default()),
    };
    let engine = Engine::load(config).expect("the rules load");
    let stream_config = StreamConfig {
        window: WINDOW,
        ..StreamConfig::default()
    };
    let mut source = engine.stream(stream_config);
    let mut keyed: Vec<_> = (0..shards)
        .map(|i| {
            let mut s = engine.stream(stream_config);
            s.set_shard(detect::Shard::new(i, shards).unwrap());
            s
        })
        .collect();
    let mut given = vec![0u64; shards as usize];
    let mut found = Vec::new();
    for chunk in arrivals(paths).chunks(200) {
        let now = chunk
            .last()
            .and_then(|c| c.0)
            .unwrap_or(Timestamp::UNIX_EPOCH);
        let (direct, kept) = source.push_split(chunk.iter().map(|c| c.1.clone()).collect(), shards);
        found.extend(direct);
        let mut to: Vec<Vec<Event>> = vec![Vec::new(); shards as usize];
        for (event, routes) in kept {
            assert!(!routes.is_empty() && routes.windows(2).all(|w| w[0] < w[1]));
            let bytes = watchpost_engine::encode_kept(&event);
            for r in routes {
                to[r as usize].push(watchpost_engine::decode_kept(&bytes).unwrap());
            }
        }
        for (i, events) in to.into_iter().enumerate() {
            given[i] += events.len() as u64;
            found.extend(keyed[i].push_kept(events, now));
        }
    }
    let (rest, _) = source.finish();
    assert!(rest.is_empty(), "the source stage feeds no ordered stage");
    for s in keyed {
        found.extend(s.finish().0);
    }
    sort_detections(&mut found);
    (as_json(&found), given)
}

/// Every event of the corpus files under `paths`, with its arrival time:
/// the events of every file, interleaved in time order, each source out
/// of order by up to half the window (a fixed pseudo-random delay per
/// event).
fn arrivals(paths: &[&str]) -> Vec<(Option<Timestamp>, Event)> {
    let root = corpus();
    let paths: Vec<PathBuf> = paths.iter().map(|p| root.join(p)).collect();
    let (files, problems) = sources::discover(&paths, &Default::default());
    assert!(problems.is_empty(), "{problems:?}");
    let events: Mutex<Vec<Event>> = Mutex::new(Vec::new());
    for file in &files {
        sources::read_file(file, None, &Default::default(), &|batch| {
            events.lock().unwrap().extend(batch)
        });
    }
    let mut events = events.into_inner().unwrap();
    // Arrival time: the event's own time plus a delay below half the
    // window, from a fixed linear congruential sequence.
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut arrival = |e: &Event| -> Option<Timestamp> {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let delay = (seed >> 33) % (WINDOW.as_secs() / 2);
        e.meta.timestamp.map(|t| t + Duration::from_secs(delay))
    };
    let mut keyed: Vec<(Option<Timestamp>, Event)> =
        events.drain(..).map(|e| (arrival(&e), e)).collect();
    keyed.sort_by(|a, b| {
        (a.0, &a.1.meta.source, a.1.meta.record).cmp(&(b.0, &b.1.meta.source, b.1.meta.record))
    });
    keyed
}

/// Compares with the golden file and names the first lines that differ.
fn check(name: &str, rules: &[&str], paths: &[&str]) {
    let want = golden(name);
    assert!(!want.is_empty(), "{name}: the golden file is empty");
    // (threads, memory budget): in memory, and spilled after every batch.
    for (threads, budget) in [(1, None), (4, None), (4, Some(0))] {
        let (got, (kept, spilled)) = hunt(rules, paths, threads, budget);
        let want_spilled = if budget == Some(0) { kept } else { 0 };
        assert_eq!(
            spilled, want_spilled,
            "{name}: {kept} kept, budget {budget:?}"
        );
        assert_golden(
            &want,
            &got,
            &format!("{name} with {threads} threads, budget {budget:?}"),
        );
    }
    let (got, stats) = stream(rules, paths, 0, false);
    assert_golden(&want, &got, &format!("{name} streamed"));
    assert_eq!((stats.late, stats.forced), (0, 0), "{name}: {stats:?}");
    // Stopped three times and resumed from checkpoints: nothing changes.
    let (got, resumed) = stream(rules, paths, 3, false);
    assert_golden(&want, &got, &format!("{name} resumed 3 times"));
    assert_eq!(resumed, stats, "{name}: the counts carry over");
    // Streaming, not holding everything to the end.
    if stats.kept > 1000 {
        assert!(
            (stats.peak_buffered as u64) < stats.kept / 2,
            "{name}: {stats:?}"
        );
    }
    // Split as a cluster splits it, the keyed stage in 3 shards: nothing
    // changes either, and every kept event reaches a shard.
    let (got, given) = split(rules, paths, 3);
    assert_golden(&want, &got, &format!("{name} split into 3 keyed shards"));
    assert!(
        given.iter().sum::<u64>() >= stats.kept,
        "{name}: shards given {given:?}, {} kept",
        stats.kept
    );
}

/// Fails, naming the first lines that differ, unless `got` is `want`.
/// `what` says which run gave `got`.
fn assert_golden(want: &[Value], got: &[Value], what: &str) {
    let diffs = differences(want, got);
    assert!(
        diffs.is_empty(),
        "{what}: {} detections, golden {}; {} lines differ; first:\n{}",
        got.len(),
        want.len(),
        diffs.len(),
        diffs[..diffs.len().min(5)].join("\n")
    );
}

/// The lines where `got` differs from `want`.
fn differences(want: &[Value], got: &[Value]) -> Vec<String> {
    (0..got.len().max(want.len()))
        .filter(|&i| got.get(i) != want.get(i))
        .map(|i| {
            format!(
                "line {}:\n  want {}\n  got  {}",
                i + 1,
                want.get(i).map_or("(none)".into(), Value::to_string),
                got.get(i).map_or("(none)".into(), Value::to_string)
            )
        })
        .collect()
}

#[test]
fn corpus_golden_evtx_attack_samples() {
    check(
        "evtx",
        &["sigma/rules/windows"],
        &["evtx/EVTX-ATTACK-SAMPLES"],
    );
}

#[test]
fn corpus_golden_linux() {
    check("linux", &["sigma/rules/linux"], &["linux"]);
}

#[test]
fn corpus_golden_cloud() {
    check("cloud", &["sigma/rules/cloud"], &["cloud"]);
}

#[test]
fn corpus_golden_saas() {
    check(
        "saas",
        &[
            "sigma/rules/cloud",
            "sigma/rules/application",
            "sigma/rules/identity",
        ],
        &["saas"],
    );
}

#[test]
fn corpus_golden_web() {
    check("web", &["sigma/rules/web"], &["web"]);
}

#[test]
fn corpus_golden_network() {
    check("network", &["sigma/rules/network"], &["network"]);
}

/// The check above can fail: restarted at the same points without the
/// checkpoint, the stream loses what it had counted, and the detections
/// differ from the golden file.
#[test]
fn corpus_restarts_without_a_checkpoint_lose_detections() {
    for (name, rules, paths) in [
        (
            "evtx",
            &["sigma/rules/windows"][..],
            &["evtx/EVTX-ATTACK-SAMPLES"][..],
        ),
        ("linux", &["sigma/rules/linux"][..], &["linux"][..]),
    ] {
        let want = golden(name);
        let (got, _) = stream(rules, paths, 3, true);
        assert!(
            got.len() < want.len(),
            "{name}: {} detections without checkpoints, golden {}",
            got.len(),
            want.len()
        );
    }
}
