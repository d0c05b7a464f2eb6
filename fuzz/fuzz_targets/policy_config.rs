//! Fuzzes the policy configuration (`hunt --policy-config FILE`): TOML
//! parsing and building the native detectors from what parsed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use watchpost_policy::PolicyConfig;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(config) = PolicyConfig::from_toml(text, "fuzz.toml") {
        let _ = watchpost_policy::detectors(&config);
    }
});
