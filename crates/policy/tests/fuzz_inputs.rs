//! Replays the stored corpus of the `policy_config` fuzz target (`fuzz/`,
//! see docs/fuzzing.md) through what the target calls: parsing the TOML
//! and building the detectors. None may panic, and a refused file says
//! which file it was.

use std::path::{Path, PathBuf};

use watchpost_policy::PolicyConfig;

#[test]
fn stored_policy_config_fuzz_inputs_parse_without_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/policy_config");
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
        match PolicyConfig::from_toml(text, "fuzz.toml") {
            Ok(config) => {
                if let Err(error) = watchpost_policy::detectors(&config) {
                    assert!(!error.to_string().is_empty(), "{}", path.display());
                }
            }
            Err(error) => assert!(
                error.to_string().starts_with("policy config fuzz.toml: "),
                "{}: {error}",
                path.display()
            ),
        }
    }
}
