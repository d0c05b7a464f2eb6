//! Fuzzes the reader of Linux audit logs (raw audit.log records): the whole content goes through
//! `watchpost_sources::read_bytes`, the in-memory twin of `read_file`
//! that `hunt` uses, with format detection and gzip as in production.
#![no_main]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use libfuzzer_sys::fuzz_target;
use watchpost_sources::{Format, read_bytes};

fuzz_target!(|data: &[u8]| {
    let seen = AtomicU64::new(0);
    // A fixed modification time, as the other sources targets pass it.
    let modified = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let summary = read_bytes(
        "audit.log",
        data,
        Some(Format::Auditd),
        Some(modified),
        &Default::default(),
        &|batch| {
            seen.fetch_add(batch.len() as u64, Ordering::Relaxed);
        },
    );
    assert_eq!(
        summary.events,
        seen.into_inner(),
        "events counted as passed on"
    );
});
