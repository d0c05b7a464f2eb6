//! Fuzzes the server configuration file (`watchpost serve --config FILE`).
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(error) = watchpost_server::Config::parse(Path::new("fuzz.toml"), text) {
        // The error message is built from the input: building it must not panic.
        let _ = error.to_string();
    }
});
