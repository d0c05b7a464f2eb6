//! The detection worker's checkpoint: its detector state, saved with the
//! spool offset it has processed up to.
//!
//! The file (`detect.checkpoint` in the spool directory) holds named
//! sections ([`engine::Sections`], closed by a CRC-32):
//!
//! - `worker`: JSON, the processed offset, the latest event time seen and
//!   the batches the committed offset has yet to pass;
//! - `stream`: the engine's stream ([`engine::Stream::save`]): reorder
//!   buffer, correlation windows, policy detectors;
//! - `gaps`: the live gap detector's learned cadences and open silences.
//!
//! It is replaced atomically (temporary file, fsync, rename, directory
//! fsync), so a crash leaves the old one or the new one. A checkpoint is
//! written only after every detection of the events before its offset is
//! stored, so resuming from it finds no detection twice and misses none.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::at_rest;

/// The checkpoint's file name in the spool directory.
pub(super) const FILE: &str = "detect.checkpoint";

/// The format of the `worker` section.
const FORMAT: u32 = 1;

/// The worker's own part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct Position {
    format: u32,
    /// Every record below this offset has been processed, and its
    /// detections stored.
    pub offset: u64,
    /// The latest event time seen (Unix seconds).
    pub latest: Option<i64>,
    /// Batches read but not yet committed: (first offset, latest event
    /// time in it).
    pub reads: Vec<(u64, Option<i64>)>,
}

impl Position {
    pub(super) fn new(offset: u64, latest: Option<i64>, reads: Vec<(u64, Option<i64>)>) -> Self {
        Position {
            format: FORMAT,
            offset,
            latest,
            reads,
        }
    }
}

/// A checkpoint read back.
pub(super) struct Saved {
    pub position: Position,
    pub stream: Vec<u8>,
    pub gaps: Option<Vec<u8>>,
}

/// The bytes of a checkpoint.
pub(super) fn encode(position: &Position, stream: &[u8], gaps: Option<&[u8]>) -> Vec<u8> {
    let mut sections = engine::Sections::new();
    sections.add(
        "worker",
        &serde_json::to_vec(position).expect("plain data serializes"),
    );
    sections.add("stream", stream);
    if let Some(gaps) = gaps {
        sections.add("gaps", gaps);
    }
    sections.into_bytes()
}

/// Reads a checkpoint's bytes back.
pub(super) fn decode(bytes: &[u8]) -> Result<Saved, String> {
    let sections = engine::Sections::read(bytes)?;
    let find = |name: &str| sections.iter().find(|(n, _)| *n == name).map(|s| s.1);
    let position: Position = serde_json::from_slice(find("worker").ok_or("no worker section")?)
        .map_err(|e| format!("the worker section: {e}"))?;
    if position.format != FORMAT {
        return Err(format!("a checkpoint of format {}", position.format));
    }
    Ok(Saved {
        position,
        stream: find("stream").ok_or("no stream section")?.to_vec(),
        gaps: find("gaps").map(<[u8]>::to_vec),
    })
}

/// Reads the checkpoint at `path`: `Ok(None)` when there is none.
pub(super) fn read(path: &Path) -> Result<Option<Saved>, String> {
    match std::fs::read(path) {
        Ok(bytes) => decode(&bytes).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// Replaces the checkpoint at `path` with `bytes`, durably.
pub(super) fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    at_rest::write_atomically(path, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_reads_back_as_written() {
        let position = Position::new(4096, Some(1_700_000_000), vec![(0, None), (17, Some(5))]);
        let bytes = encode(&position, b"stream bytes\n", Some(b"{}"));
        let back = decode(&bytes).unwrap();
        assert_eq!(back.position, position);
        assert_eq!(back.stream, b"stream bytes\n");
        assert_eq!(back.gaps.as_deref(), Some(&b"{}"[..]));
        let without = decode(&encode(&position, b"", None)).unwrap();
        assert_eq!(without.gaps, None);
    }

    #[test]
    fn a_damaged_or_foreign_checkpoint_is_refused_with_a_reason() {
        let position = Position::new(1, None, Vec::new());
        let bytes = encode(&position, b"s", None);
        assert!(decode(&bytes[..bytes.len() - 3]).is_err());
        assert!(decode(b"not a checkpoint").is_err());
        let mut other = Position::new(1, None, Vec::new());
        other.format = 99;
        let err = decode(&encode(&other, b"s", None)).err().unwrap();
        assert!(err.contains("format 99"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        assert!(read(&path).unwrap().is_none(), "none yet");
        write(&path, &bytes).unwrap();
        assert_eq!(read(&path).unwrap().unwrap().position, position);
    }
}
