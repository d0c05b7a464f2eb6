//! Replays the stored corpus of the port-snapshot fuzz targets (`fuzz/`,
//! see docs/fuzzing.md) through the parsers the targets call: none may
//! panic, and an input that is refused says why.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use watchpost_monitor::ports::{Parsed, netstat, nmap, osquery, ss};

/// The stored inputs of one fuzz target, `fuzz/corpus/<target>`.
fn stored_inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} holds no inputs", dir.display());
    files
        .into_iter()
        .map(|path| {
            let content = std::fs::read(&path).unwrap();
            (path, content)
        })
        .collect()
}

/// Every problem of a parse says what is wrong, and a problem located at a
/// line or record numbers it from 1.
fn check_problems(path: &Path, parsed: &Parsed) {
    for (line, reason) in &parsed.problems {
        assert!(
            !reason.trim().is_empty(),
            "{}: a problem with no text",
            path.display()
        );
        assert!(
            line.is_none_or(|n| n >= 1),
            "{}: line {line:?}",
            path.display()
        );
    }
}

#[test]
fn stored_nmap_fuzz_inputs_parse_without_panic() {
    for (path, content) in stored_inputs("nmap") {
        match nmap::parse(&content, &Arc::from("fuzz.xml")) {
            Ok(parsed) => check_problems(&path, &parsed),
            Err(error) => assert!(!error.to_string().is_empty(), "{}", path.display()),
        }
    }
}

#[test]
fn stored_ss_fuzz_inputs_parse_without_panic() {
    for (path, content) in stored_inputs("ss") {
        let parsed = ss::parse(
            &String::from_utf8_lossy(&content),
            "fuzz",
            &Arc::from("fuzz.txt"),
        );
        check_problems(&path, &parsed);
    }
}

#[test]
fn stored_netstat_fuzz_inputs_parse_without_panic() {
    for (path, content) in stored_inputs("netstat") {
        let parsed = netstat::parse(
            &String::from_utf8_lossy(&content),
            "fuzz",
            &Arc::from("fuzz.txt"),
        );
        check_problems(&path, &parsed);
    }
}

#[test]
fn stored_osquery_fuzz_inputs_parse_without_panic() {
    for (path, content) in stored_inputs("osquery") {
        let text = String::from_utf8_lossy(&content);
        match osquery::parse(&text, "fuzz", &Arc::from("fuzz.json")) {
            Ok(parsed) => check_problems(&path, &parsed),
            Err(error) => assert!(!error.to_string().is_empty(), "{}", path.display()),
        }
    }
}
