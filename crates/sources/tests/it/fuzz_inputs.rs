//! Inputs found by fuzzing (`fuzz/`, see docs/fuzzing.md): the regression
//! test of every crash, and a replay of the stored corpus of each sources
//! fuzz target through the entry point the target calls.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use watchpost_sources::{FileSummary, Format, ProblemKind, read_bytes};

use crate::{data, read_all};

/// The modification time the fuzz targets pass (RFC 3164 years).
fn modified() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

/// Reads `content` as the fuzz target of `format` does, checking that the
/// events passed on are the events counted.
fn read_like_the_target(name: &str, content: &[u8], format: Format) -> FileSummary {
    let seen = AtomicU64::new(0);
    let summary = read_bytes(
        name,
        content,
        Some(format),
        Some(modified()),
        &Default::default(),
        &|batch| {
            seen.fetch_add(batch.len() as u64, Ordering::Relaxed);
        },
    );
    assert_eq!(summary.events, seen.into_inner(), "{name}: events counted");
    summary
}

/// A chunk header claiming the largest record number (`u64::MAX`) made
/// the batch size hint overflow, which panics in debug builds. The file is
/// a valid header and one chunk with no records, written for this test.
#[test]
fn evtx_chunk_claiming_the_largest_record_number_is_read() {
    let path = data("fuzz/evtx-record-number-overflow.evtx");
    let (events, summary) = read_all(&path, None);
    assert!(events.is_empty());
    assert_eq!(summary.events, 0);
    assert!(summary.problems.is_empty(), "{:?}", summary.problems);
    assert_eq!(summary.bytes, 4096 + 65536);

    let content = std::fs::read(&path).unwrap();
    let summary = read_like_the_target("overflow.evtx", &content, Format::Evtx);
    assert_eq!(summary.events, 0);
}

/// The stored corpus of one fuzz target, `fuzz/corpus/<target>`.
fn stored_inputs(target: &str) -> Vec<PathBuf> {
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
}

/// Replays a target's stored inputs: none may panic, and every problem is
/// located (or is about the whole input).
fn replay(target: &str, name: &str, format: Format) -> usize {
    let files = stored_inputs(target);
    for path in &files {
        let content = std::fs::read(path).unwrap();
        let summary = read_like_the_target(name, &content, format);
        for problem in &summary.problems {
            assert!(
                !problem.location.is_empty()
                    || matches!(
                        problem.kind,
                        ProblemKind::Unreadable | ProblemKind::UnknownFormat
                    ),
                "{}: unlocated problem {problem}",
                path.display()
            );
        }
    }
    files.len()
}

#[test]
fn stored_evtx_fuzz_inputs_read_without_panic() {
    replay("evtx", "fuzz.evtx", Format::Evtx);
}

#[test]
fn stored_json_fuzz_inputs_read_without_panic() {
    replay("json", "fuzz.json", Format::Json);
}

#[test]
fn stored_syslog_fuzz_inputs_read_without_panic() {
    replay("syslog", "auth.log", Format::Syslog);
}

#[test]
fn stored_access_fuzz_inputs_read_without_panic() {
    replay("access", "access.log", Format::AccessLog);
}

#[test]
fn stored_auditd_fuzz_inputs_read_without_panic() {
    replay("auditd", "audit.log", Format::Auditd);
}
