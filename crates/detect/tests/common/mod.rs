//! Helpers shared by the detect integration tests.

use std::path::{Path, PathBuf};

/// Every `*.yml`/`*.yaml` file under `dir`, recursively.
pub fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
    {
        let path = entry.path();
        if path.is_dir() {
            out.extend(yaml_files(&path));
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yml" | "yaml")
        ) {
            out.push(path);
        }
    }
    out
}

/// Parses every rule file under the folders (in sorted path order), as the
/// engine reads them (the engine's reader is not a dependency of `detect`).
pub fn load_dirs(dirs: &[PathBuf]) -> (rules::RuleSet, Vec<rules::RuleError>) {
    let mut files: Vec<PathBuf> = dirs.iter().flat_map(|d| yaml_files(d)).collect();
    files.sort();
    let mut set = rules::RuleSet::default();
    let mut errors = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let (s, e) = rules::load_str(&f.display().to_string(), &text);
        set.extend(s);
        errors.extend(e);
    }
    (set, errors)
}
