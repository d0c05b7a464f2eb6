//! Fuzzes the nmap XML parser (`ports check` / `ports baseline` input).
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use watchpost_monitor::ports::nmap;

fuzz_target!(|data: &[u8]| {
    let _ = nmap::parse(data, &Arc::from("fuzz.xml"));
});
