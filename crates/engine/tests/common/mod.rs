//! What the corpus tests of this crate share: where the corpus is, the
//! golden detections, and a hunt over a folder written by a test.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use detect::Detection;
use policy::PolicyConfig;
use serde_json::Value;
use watchpost_engine::{Engine, EngineConfig, HuntOptions};

/// The shared corpus, from `WATCHPOST_CORPUS`.
pub fn corpus() -> PathBuf {
    PathBuf::from(
        std::env::var("WATCHPOST_CORPUS").expect(
            "WATCHPOST_CORPUS is not set: point it at the shared corpus (e.g. ../shared/data)",
        ),
    )
}

/// The detections of `tests/golden/NAME.jsonl`, one JSON value per line.
pub fn golden(name: &str) -> Vec<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("{name}.jsonl"));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Hunts `dir` with the corpus rules under `rules` (relative to the
/// corpus) and the default policy pack; fails on any input problem.
pub fn hunt_dir(rules: &str, dir: &Path) -> Vec<Detection> {
    let engine = Engine::load(EngineConfig {
        rules: vec![corpus().join(rules)],
        policy: Some(PolicyConfig::default()),
    })
    .expect("the rules load");
    let report = engine.hunt(&[dir.to_path_buf()], &HuntOptions::default(), &());
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    report
        .detections
        .to_vec()
        .expect("the detections read back")
}
