//! Reading rule files: directory walk, parallel parse, per-file errors.
//! (Parsing itself is `rules::load_str`, which does no IO.)

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use rules::{RuleError, RuleSet};

/// Loads every `*.yml`/`*.yaml` file under the given files and directories
/// (recursively, in sorted path order). Unreadable paths and rules that do
/// not parse are returned as errors; everything else loads.
pub fn load_rule_paths(paths: &[PathBuf]) -> (RuleSet, Vec<RuleError>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        if path.is_file() {
            files.push(path.clone());
            continue;
        }
        if !path.exists() {
            errors.push(RuleError {
                file: path.display().to_string(),
                rule_id: None,
                reason: "no such file or directory".into(),
            });
            continue;
        }
        for entry in walkdir::WalkDir::new(path).follow_links(true) {
            match entry {
                Ok(e) if e.file_type().is_file() && is_yaml(e.path()) => {
                    files.push(e.into_path());
                }
                Ok(_) => {}
                Err(err) => errors.push(RuleError {
                    file: err.path().unwrap_or(path).display().to_string(),
                    rule_id: None,
                    reason: format!("cannot walk: {err}"),
                }),
            }
        }
    }
    files.sort();
    files.dedup();
    let parsed: Vec<(RuleSet, Vec<RuleError>)> = files
        .par_iter()
        .map(|file| match std::fs::read_to_string(file) {
            Ok(text) => rules::load_str(&file.display().to_string(), &text),
            Err(err) => (
                RuleSet::default(),
                vec![RuleError {
                    file: file.display().to_string(),
                    rule_id: None,
                    reason: format!("cannot read: {err}"),
                }],
            ),
        })
        .collect();
    let mut set = RuleSet::default();
    set.detections
        .reserve(parsed.iter().map(|(s, _)| s.detections.len()).sum());
    for (s, e) in parsed {
        set.extend(s);
        errors.extend(e);
    }
    (set, errors)
}

fn is_yaml(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yml" | "yaml")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_path_is_an_error() {
        let (set, errors) = load_rule_paths(&[PathBuf::from("/nonexistent/rules/dir")]);
        assert!(set.is_empty());
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].reason, "no such file or directory");
    }

    #[test]
    fn folders_are_walked_for_yaml_only() {
        let dir = tempfile::tempdir().unwrap();
        let rule = "title: t\nid: 11111111-1111-1111-1111-111111111111\nlogsource:\n  product: windows\ndetection:\n  sel:\n    EventID: 1\n  condition: sel\n";
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/a.yml"), rule).unwrap();
        std::fs::write(
            dir.path().join("b.yaml"),
            rule.replace("1111-1111-1111", "2222-2222-2222"),
        )
        .unwrap();
        std::fs::write(dir.path().join("README.md"), "# not a rule\n").unwrap();
        let (set, errors) = load_rule_paths(&[dir.path().to_path_buf()]);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(set.detections.len(), 2);
    }
}
