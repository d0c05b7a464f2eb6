//! Inputs that crashed a reader: the regression test of each, reading it
//! as the fuzz targets (`fuzz/`) do.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use watchpost_sources::{FileSummary, Format, read_bytes};

use crate::{data, read_all};

/// The modification time the fuzz targets pass (RFC 3164 years).
fn modified() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

/// Reads `content` as the fuzz target of `format` does, checking that the
/// events passed on are the events counted.
fn read_like_the_target(name: &str, content: &[u8], format: Format) -> FileSummary {
    let seen = AtomicU64::new(0);
    let summary = read_bytes(name, content, Some(format), Some(modified()), &|batch| {
        seen.fetch_add(batch.len() as u64, Ordering::Relaxed);
    });
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
