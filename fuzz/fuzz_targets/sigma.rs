//! Fuzzes Sigma rule files: parsing (`watchpost_rules::load_str`, as
//! `hunt -r` and `rules check` read each file) and compiling the rules that
//! load (`watchpost_detect::Matcher::new`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (set, _errors) = watchpost_rules::load_str("fuzz.yml", text);
    let _ = watchpost_detect::Matcher::new(&set);
});
