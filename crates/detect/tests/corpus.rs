//! Corpus tests over `$WATCHPOST_CORPUS` (SigmaHQ rules).

use std::path::PathBuf;
use std::time::Instant;

use watchpost_detect::Matcher;

mod common;
use common::{load_dirs, yaml_files};

fn corpus() -> PathBuf {
    PathBuf::from(
        std::env::var("WATCHPOST_CORPUS").expect(
            "WATCHPOST_CORPUS is not set: point it at the shared corpus (e.g. ../shared/data)",
        ),
    )
}

#[test]
fn corpus_sigma_rules_load_rate() {
    let base = corpus().join("sigma");
    let dirs: Vec<PathBuf> = std::fs::read_dir(&base)
        .expect("sigma dir in corpus")
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.is_dir()
                && p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("rules"))
        })
        .collect();
    assert!(!dirs.is_empty());
    let files: usize = dirs.iter().map(|d| yaml_files(d).len()).sum();
    let (set, mut errors) = load_dirs(&dirs);
    let (m, compile) = Matcher::new(&set);
    errors.extend(compile);
    let loaded = m.rule_count() + set.correlations.len() + set.filters.len();
    let total = loaded + errors.len();
    assert!(
        total >= files,
        "every file is accounted for: {total} < {files}"
    );
    let rate = loaded as f64 / total as f64;
    for e in &errors {
        eprintln!("failed: {} ({:?}): {}", e.file, e.rule_id, e.reason);
    }
    eprintln!("loaded {loaded} of {total} ({:.2}%)", rate * 100.0);
    assert!(rate >= 0.995, "load rate {rate}");
}

#[test]
fn corpus_windows_rules_all_load() {
    let dir = corpus().join("sigma/rules/windows");
    let files = yaml_files(&dir).len();
    let start = Instant::now();
    let (set, errors) = load_dirs(std::slice::from_ref(&dir));
    let (m, compile) = Matcher::new(&set);
    let elapsed = start.elapsed();
    eprintln!(
        "windows rules: {} loaded, {} failed, {} groups, {:.3} s",
        m.rule_count(),
        errors.len() + compile.len(),
        m.group_count(),
        elapsed.as_secs_f64()
    );
    // Load time is measured by scripts/bench-hunt, not asserted here.
    assert_eq!(m.rule_count() + errors.len() + compile.len(), files);
    assert!(
        errors.is_empty() && compile.is_empty(),
        "{errors:?} {compile:?}"
    );
}
