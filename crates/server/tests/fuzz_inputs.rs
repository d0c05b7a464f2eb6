//! Replays the stored corpus of the `server_config` fuzz target (`fuzz/`,
//! see docs/fuzzing.md) through `Config::parse`: none may panic, and a
//! refused file is named with the line and column of the error.

use std::path::{Path, PathBuf};

use watchpost_server::Config;
use watchpost_server::config::ConfigError;

#[test]
fn stored_server_config_fuzz_inputs_parse_without_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/server_config");
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
        match Config::parse(Path::new("fuzz.toml"), text) {
            Ok(_) => {}
            Err(ConfigError::Invalid { line, column, .. }) => {
                assert!(line >= 1 && column >= 1, "{}", path.display());
                assert!(
                    line <= text.lines().count().max(1) + 1,
                    "{}",
                    path.display()
                );
            }
            Err(other) => panic!("{}: not a parse error: {other}", path.display()),
        }
    }
}
