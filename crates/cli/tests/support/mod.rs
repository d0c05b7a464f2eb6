//! Checks shared by the integration tests: no JSON document repeats a key,
//! and no output carries a character that drives a terminal; and
//! ([`serve`]) a real server to talk to, and ([`browser`]) the helpers of
//! the browser tests.
//!
//! Each test target uses only some of these.
#![allow(dead_code)]

pub mod browser;
pub mod serve;

use std::collections::HashSet;
use std::fmt;
use std::process::Output;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// A JSON value that was read only to check it: every object in it has
/// distinct keys (serde_json's own `Value` keeps the last of a repeated key
/// without a word).
struct UniqueKeys;

impl<'de> Deserialize<'de> for UniqueKeys {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(UniqueKeysVisitor)
    }
}

struct UniqueKeysVisitor;

impl<'de> Visitor<'de> for UniqueKeysVisitor {
    type Value = UniqueKeys;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }

    fn visit_i64<E>(self, _: i64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }

    fn visit_u64<E>(self, _: u64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }

    fn visit_f64<E>(self, _: f64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }

    fn visit_str<E>(self, _: &str) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }

    fn visit_unit<E>(self) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<UniqueKeys, A::Error> {
        while seq.next_element::<UniqueKeys>()?.is_some() {}
        Ok(UniqueKeys)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<UniqueKeys, A::Error> {
        let mut keys = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !keys.insert(key.clone()) {
                return Err(de::Error::custom(format!("key {key:?} is repeated")));
            }
            map.next_value::<UniqueKeys>()?;
        }
        Ok(UniqueKeys)
    }
}

/// Parses one JSON document; fails when it is not JSON or when an object
/// in it repeats a key.
pub fn check_unique_keys(document: &str) -> Result<(), String> {
    serde_json::from_str::<UniqueKeys>(document)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Asserts that `stdout` is one JSON document (or, with `lines`, one per
/// line, at least one) without a repeated key anywhere.
pub fn assert_unique_keys(what: &str, stdout: &[u8], lines: bool) {
    let text = String::from_utf8(stdout.to_vec()).expect("JSON output is UTF-8");
    let documents: Vec<&str> = if lines {
        text.lines().collect()
    } else {
        vec![text.as_str()]
    };
    assert!(
        documents.iter().any(|d| !d.trim().is_empty()),
        "{what}: no JSON output"
    );
    for document in documents {
        if let Err(e) = check_unique_keys(document) {
            panic!("{what}: {e}\n{document}");
        }
    }
}

/// True for characters that must never reach a terminal raw: C0 controls
/// other than line feed and tab, DEL, C1 controls, and bidi embeddings,
/// overrides and isolates. Written independently of the escaper it checks.
fn drives_terminal(c: char) -> bool {
    let n = c as u32;
    (n < 0x20 && c != '\n' && c != '\t')
        || (0x7f..=0x9f).contains(&n)
        || (0x202a..=0x202e).contains(&n)
        || (0x2066..=0x2069).contains(&n)
}

/// Asserts that neither stdout nor stderr of `out` holds an ESC byte or any
/// other character that drives a terminal.
pub fn assert_terminal_safe(what: &str, out: &Output) {
    for (stream, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        let text = String::from_utf8_lossy(bytes);
        assert!(
            !bytes.contains(&0x1b),
            "{what}: raw ESC on {stream}:\n{text}"
        );
        if let Some(c) = text.chars().find(|&c| drives_terminal(c)) {
            panic!("{what}: raw {c:?} on {stream}:\n{text}");
        }
    }
}
