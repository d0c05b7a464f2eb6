//! Golden-file tests: the detections of [`Engine::hunt`] over the shared
//! corpus, with the SigmaHQ rules of each family and the default policy
//! pack, must stay exactly those in `tests/golden/`, with one worker thread
//! and with several, and with the kept events held in memory or spilled to
//! disk after every batch.
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

use std::path::{Path, PathBuf};

use policy::PolicyConfig;
use serde_json::Value;
use watchpost_engine::{Engine, EngineConfig, HuntOptions};

fn corpus() -> PathBuf {
    PathBuf::from(
        std::env::var("WATCHPOST_CORPUS").expect(
            "WATCHPOST_CORPUS is not set: point it at the shared corpus (e.g. ../shared/data)",
        ),
    )
}

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
    let prefix = format!("{}/", root.display());
    let detections = report
        .detections
        .to_vec()
        .expect("the detections read back")
        .iter()
        .map(|d| {
            let mut v = serde_json::to_value(d).unwrap();
            let file = v["file"].as_str().unwrap().to_string();
            v["file"] = Value::from(file.strip_prefix(&prefix).unwrap_or(&file));
            v
        })
        .collect();
    (detections, (report.kept, report.spilled))
}

fn golden(name: &str) -> Vec<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("{name}.jsonl"));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
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
        let mut diffs = Vec::new();
        for i in 0..got.len().max(want.len()) {
            if got.get(i) != want.get(i) {
                diffs.push(format!(
                    "line {}:\n  want {}\n  got  {}",
                    i + 1,
                    want.get(i).map_or("(none)".into(), Value::to_string),
                    got.get(i).map_or("(none)".into(), Value::to_string)
                ));
            }
        }
        assert!(
            diffs.is_empty(),
            "{name} with {threads} threads, budget {budget:?}: {} detections, golden {}; {} lines differ; first:\n{}",
            got.len(),
            want.len(),
            diffs.len(),
            diffs[..diffs.len().min(5)].join("\n")
        );
    }
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
