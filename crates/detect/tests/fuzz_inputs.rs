//! Replays the stored corpus of the `sigma` fuzz target (`fuzz/`, see
//! docs/fuzzing.md) through what the target calls: parsing a rule file
//! (`rules::load_str`) and compiling what loaded
//! (`Matcher::new`). None may panic, and every refused rule says why.

use std::path::{Path, PathBuf};

use watchpost_detect::Matcher;

#[test]
fn stored_sigma_fuzz_inputs_load_and_compile_without_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/sigma");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} holds no inputs", dir.display());
    for path in files {
        let content = std::fs::read(&path).unwrap();
        let Ok(text) = std::str::from_utf8(&content) else {
            continue;
        };
        let (set, errors) = rules::load_str("fuzz.yml", text);
        let (_matcher, compile_errors) = Matcher::new(&set);
        for error in errors.iter().chain(&compile_errors) {
            assert!(
                !error.reason.trim().is_empty(),
                "{}: an error with no reason",
                path.display()
            );
        }
    }
}
