//! Versioned JSON state files (the ports and web baselines).
//!
//! Every state file is a JSON object `{"version": 1, "kind": "...", ...}`.
//! Loading checks the version and the kind before anything else, so a file
//! from an older or newer watchpost, a file of the other kind, or a corrupt
//! file gives an error that names the file, and is never silently replaced.
//! A missing file is not an error: it means "no baseline yet".
//!
//! Saving writes a temporary file in the same directory, syncs it and
//! renames it over the old one, so a crash leaves either the old or the new
//! file, never half of one.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

/// The state file format version this build reads and writes.
pub const STATE_VERSION: u64 = 1;

/// Why a state file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The file exists but could not be read.
    #[error("cannot read state file {}: {source}", path.display())]
    Read {
        /// The state file.
        path: PathBuf,
        /// The IO error.
        source: io::Error,
    },
    /// The file is not valid JSON or does not have the expected shape.
    #[error("state file {} is corrupt: {reason} (fix or move it away; it was not changed)", path.display())]
    Corrupt {
        /// The state file.
        path: PathBuf,
        /// What is wrong, with the JSON line and column when known.
        reason: String,
    },
    /// The file was written by a watchpost with another format version.
    #[error(
        "state file {} has format version {found}, but this watchpost reads version {expected} (it was not changed)",
        path.display()
    )]
    Version {
        /// The state file.
        path: PathBuf,
        /// The version in the file.
        found: String,
        /// The version this build reads.
        expected: u64,
    },
    /// The file holds another kind of state (for example web state given
    /// to `ports`).
    #[error("state file {} holds {found:?} state, expected {expected:?}", path.display())]
    Kind {
        /// The state file.
        path: PathBuf,
        /// The kind in the file.
        found: String,
        /// The kind asked for.
        expected: &'static str,
    },
    /// The new state could not be written.
    #[error("cannot write state file {}: {source}", path.display())]
    Write {
        /// The state file.
        path: PathBuf,
        /// The IO error.
        source: io::Error,
    },
}

#[derive(Serialize)]
struct Envelope<'a, T> {
    version: u64,
    kind: &'a str,
    #[serde(flatten)]
    data: &'a T,
}

/// Loads a state file of the given `kind`. Returns `Ok(None)` when the
/// file does not exist.
pub fn load<T: DeserializeOwned>(path: &Path, kind: &'static str) -> Result<Option<T>, StateError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(StateError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    parse(path, &bytes, kind).map(Some)
}

/// Parses the bytes of a state file (see [`load`]); `path` is only used in
/// errors.
pub fn parse<T: DeserializeOwned>(
    path: &Path,
    bytes: &[u8],
    kind: &'static str,
) -> Result<T, StateError> {
    let corrupt = |reason: String| StateError::Corrupt {
        path: path.to_path_buf(),
        reason,
    };
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| corrupt(format!("not valid JSON: {e}")))?;
    let serde_json::Value::Object(mut object) = value else {
        return Err(corrupt("the top level is not a JSON object".into()));
    };
    match object.remove("version") {
        Some(serde_json::Value::Number(n)) if n.as_u64() == Some(STATE_VERSION) => {}
        Some(other) => {
            return Err(StateError::Version {
                path: path.to_path_buf(),
                found: other.to_string(),
                expected: STATE_VERSION,
            });
        }
        None => return Err(corrupt("no \"version\" field".into())),
    }
    match object.remove("kind") {
        Some(serde_json::Value::String(found)) if found == kind => {}
        Some(serde_json::Value::String(found)) => {
            return Err(StateError::Kind {
                path: path.to_path_buf(),
                found,
                expected: kind,
            });
        }
        Some(_) => return Err(corrupt("\"kind\" is not a string".into())),
        None => return Err(corrupt("no \"kind\" field".into())),
    }
    serde_json::from_value(serde_json::Value::Object(object)).map_err(|e| corrupt(e.to_string()))
}

/// Writes a state file atomically (temporary file, sync, rename), creating
/// its directory when needed.
pub fn save<T: Serialize>(path: &Path, kind: &'static str, data: &T) -> Result<(), StateError> {
    let write_error = |source: io::Error| StateError::Write {
        path: path.to_path_buf(),
        source,
    };
    let envelope = Envelope {
        version: STATE_VERSION,
        kind,
        data,
    };
    let mut json =
        serde_json::to_vec_pretty(&envelope).map_err(|e| write_error(io::Error::other(e)))?;
    json.push(b'\n');
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&dir).map_err(write_error)?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "state".into());
    let tmp = dir.join(format!(".{file_name}.tmp.{}", std::process::id()));
    let result = (|| {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(&json)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(write_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, serde::Deserialize)]
    struct Demo {
        items: Vec<u32>,
    }

    fn check_err(text: &str, expect: &str) {
        let err = parse::<Demo>(Path::new("/x/state.json"), text.as_bytes(), "demo").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("/x/state.json"), "{msg}");
        assert!(msg.contains(expect), "{msg} should contain {expect}");
    }

    #[test]
    fn bad_state_files_are_named_and_explained() {
        check_err("{not json", "not valid JSON");
        check_err("[]", "not a JSON object");
        check_err(r#"{"kind":"demo","items":[]}"#, "no \"version\"");
        check_err(
            r#"{"version":2,"kind":"demo","items":[]}"#,
            "format version 2",
        );
        check_err(
            r#"{"version":"1","kind":"demo","items":[]}"#,
            "format version \"1\"",
        );
        check_err(
            r#"{"version":1,"kind":"other","items":[]}"#,
            "holds \"other\"",
        );
        check_err(r#"{"version":1,"kind":"demo","items":"x"}"#, "corrupt");
    }

    #[test]
    fn save_then_load_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/state.json");
        assert!(load::<Demo>(&path, "demo").unwrap().is_none());
        let demo = Demo { items: vec![1, 2] };
        save(&path, "demo", &demo).unwrap();
        assert_eq!(load::<Demo>(&path, "demo").unwrap(), Some(demo));
        let leftovers: Vec<_> = fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "temporary file left behind");
    }
}
