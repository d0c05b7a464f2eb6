//! Fuzzes the `netstat -ltnp` / `-lunp` output parser (`ports` input).
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use watchpost_monitor::ports::netstat;

fuzz_target!(|data: &[u8]| {
    // Snapshot files are read as (lossy) UTF-8, as `ports::read` does.
    let text = String::from_utf8_lossy(data);
    let _ = netstat::parse(&text, "fuzz", &Arc::from("fuzz.txt"));
});
