//! A live run's checkpoint: a [`Stream`] saved to bytes, and taken back
//! by [`Engine::resume`] after a restart.
//!
//! A checkpoint holds everything a stream carries from one event to the
//! next: the sources' watermarks, the kept events waiting in the reorder
//! buffer, the correlation windows, and each policy detector's state.
//! Resumed on an engine built from the same rules and policy
//! configuration ([`Engine::fingerprint`]), and fed the events that came
//! after the checkpoint, a stream gives exactly the detections it would
//! have given had it never stopped (`tests/resume.rs` checks it on the
//! corpus). On any other engine, or a checkpoint of another format,
//! [`Engine::resume`] refuses it and the caller starts afresh.
//!
//! The bytes are named sections ([`Sections`]) closed by a CRC-32 of
//! everything before it, so a truncated or damaged checkpoint is refused
//! rather than half read. Buffered events are written as the hunt spool
//! writes a spilled event, and matched again when read back (matching is
//! deterministic).

use std::collections::{BinaryHeap, HashMap};
use std::io::Write as _;

use detect::StageState;
use events::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::runs::{Interner, with_offset};
use crate::spool::{Spilled, event_bytes};
use crate::stream::{Queued, Source};
use crate::{Engine, Stream, StreamConfig, StreamStats};

/// The first line of a checkpoint.
const MAGIC: &[u8] = b"watchpost-checkpoint 1\n";

/// The format of a stream's own section; another one is refused.
const STREAM_FORMAT: u32 = 1;

/// Named byte sections, written one after another and closed by a
/// checksum. Section names are short words without spaces or newlines.
#[derive(Debug)]
pub struct Sections {
    buf: Vec<u8>,
}

impl Default for Sections {
    fn default() -> Self {
        Sections {
            buf: MAGIC.to_vec(),
        }
    }
}

impl Sections {
    /// No sections yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a section.
    ///
    /// # Panics
    /// If `name` holds a space or a newline (names are the caller's
    /// constants, never input).
    pub fn add(&mut self, name: &str, bytes: &[u8]) {
        assert!(
            !name.is_empty() && !name.contains([' ', '\n']),
            "section names are single words: {name:?}"
        );
        // Writing to a Vec cannot fail.
        let _ = writeln!(self.buf, "{name} {}", bytes.len());
        self.buf.extend_from_slice(bytes);
        self.buf.push(b'\n');
    }

    /// The sections and their checksum.
    pub fn into_bytes(mut self) -> Vec<u8> {
        let crc = crc32fast::hash(&self.buf);
        let _ = writeln!(self.buf, "end {crc:08x}");
        self.buf
    }

    /// Reads sections back, checking the checksum first.
    pub fn read(bytes: &[u8]) -> Result<Vec<(&str, &[u8])>, String> {
        let body = bytes
            .strip_suffix(b"\n")
            .ok_or("the checkpoint is cut short")?;
        let end = body
            .iter()
            .rposition(|&b| b == b'\n')
            .ok_or("the checkpoint is cut short")?;
        let (body, trailer) = (&bytes[..=end], &body[end + 1..]);
        let crc = trailer
            .strip_prefix(b"end ")
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .ok_or("the checkpoint has no checksum: it is cut short")?;
        if crc32fast::hash(body) != crc {
            return Err("the checkpoint's checksum does not match: it is damaged".into());
        }
        let mut rest = body
            .strip_prefix(MAGIC)
            .ok_or("not a watchpost checkpoint, or one of another format")?;
        let mut out = Vec::new();
        while !rest.is_empty() {
            let nl = rest
                .iter()
                .position(|&b| b == b'\n')
                .ok_or("a section header is cut short")?;
            let header = std::str::from_utf8(&rest[..nl]).map_err(|_| "a bad section header")?;
            let (name, len) = header.split_once(' ').ok_or("a bad section header")?;
            let len: usize = len.parse().map_err(|_| "a bad section length")?;
            let start = nl + 1;
            let stop = start
                .checked_add(len)
                .filter(|&s| s < rest.len() && rest[s] == b'\n')
                .ok_or_else(|| format!("section {name} is cut short"))?;
            out.push((name, &rest[start..stop]));
            rest = &rest[stop + 1..];
        }
        Ok(out)
    }
}

/// The stream's own state (the rest is in other sections).
#[derive(Serialize, Deserialize)]
struct SavedStream {
    format: u32,
    /// [`Engine::fingerprint`] of the engine that saved it.
    engine: String,
    sources: Vec<SavedSource>,
    /// Unix nanoseconds of the last kept event fed in order.
    fed: Option<i128>,
    stats: StreamStats,
    evicted_at: i64,
    /// The detectors, in order: name, and whether a section holds state.
    detectors: Vec<(String, bool)>,
}

#[derive(Serialize, Deserialize)]
struct SavedSource {
    source: String,
    /// Unix nanoseconds, and the UTC offset in seconds.
    latest: (i128, i32),
    heard: i128,
}

fn nanos(t: Timestamp) -> i128 {
    t.unix_timestamp_nanos()
}

fn from_nanos(n: i128) -> Result<Timestamp, String> {
    Timestamp::from_unix_timestamp_nanos(n).map_err(|e| format!("a time out of range: {e}"))
}

impl Engine {
    /// What a checkpoint must have been saved under to be resumed here:
    /// this build's version, every rule that runs (id, name, title, level,
    /// logsource, timespan) and the policy configuration, hashed.
    pub fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        h.update(env!("CARGO_PKG_VERSION").as_bytes());
        for rule in self.rules() {
            h.update(format!("{rule:?}\n").as_bytes());
        }
        if let Some(p) = &self.policy {
            h.update(serde_json::to_vec(p).unwrap_or_default());
        }
        hex::encode(h.finalize())
    }

    /// Takes back a stream that [`Stream::save`] gave, on this engine, with
    /// `config` (which may differ from the saved stream's). Refused, with
    /// the reason, when the checkpoint was saved by another engine (other
    /// rules, another policy configuration, another build) or is damaged.
    pub fn resume(&self, config: StreamConfig, bytes: &[u8]) -> Result<Stream<'_>, String> {
        let sections = Sections::read(bytes)?;
        let find = |name: &str| sections.iter().find(|(n, _)| *n == name).map(|s| s.1);
        let saved: SavedStream = serde_json::from_slice(find("stream").ok_or("no stream")?)
            .map_err(|e| format!("the stream section: {e}"))?;
        if saved.format != STREAM_FORMAT {
            return Err(format!("a stream saved in format {}", saved.format));
        }
        if saved.engine != self.fingerprint() {
            return Err(
                "saved under other rules, another policy configuration or another \
                 version of watchpost"
                    .into(),
            );
        }
        let correlations = find("correlations").map(<[u8]>::to_vec);
        let mut detectors = Vec::with_capacity(saved.detectors.len());
        for (i, (name, has)) in saved.detectors.into_iter().enumerate() {
            let bytes = if has {
                let section = format!("detector.{i}");
                Some(
                    find(&section)
                        .ok_or_else(|| format!("no state for detector {name}"))?
                        .to_vec(),
                )
            } else {
                None
            };
            detectors.push((name, bytes));
        }
        let mut stream = self.stream(config);
        stream.ordered.stage.restore(StageState {
            correlations,
            evicted_at: saved.evicted_at,
            detectors,
        })?;
        let mut names = Interner::default();
        let mut sources = HashMap::with_capacity(saved.sources.len());
        for s in saved.sources {
            sources.insert(
                names.source(&s.source),
                Source {
                    latest: with_offset(from_nanos(s.latest.0)?, s.latest.1),
                    heard: from_nanos(s.heard)?,
                },
            );
        }
        let mut buffer = BinaryHeap::new();
        let mut buffered_bytes = 0;
        if let Some(lines) = find("buffer") {
            for line in lines.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                let spilled: Spilled =
                    serde_json::from_slice(line).map_err(|e| format!("a buffered event: {e}"))?;
                let event = spilled.into_event(&mut names);
                buffered_bytes += event_bytes(&event);
                buffer.push(std::cmp::Reverse(Queued(self.scan_one(event))));
            }
        }
        stream.sources = sources;
        stream.buffer = buffer;
        stream.buffered_bytes = buffered_bytes;
        stream.fed = saved.fed.map(from_nanos).transpose()?;
        stream.stats = saved.stats;
        Ok(stream)
    }
}

impl Stream<'_> {
    /// Saves the stream, for [`Engine::resume`]. Pure: the caller writes
    /// the bytes where it keeps its checkpoint.
    pub fn save(&self) -> Vec<u8> {
        let stage = self.ordered.stage.save();
        let mut sections = Sections::new();
        let saved = SavedStream {
            format: STREAM_FORMAT,
            engine: self.engine.fingerprint(),
            sources: self
                .sources
                .iter()
                .map(|(id, s)| SavedSource {
                    source: id.to_string(),
                    latest: (nanos(s.latest), s.latest.offset().whole_seconds()),
                    heard: nanos(s.heard),
                })
                .collect(),
            fed: self.fed.map(nanos),
            stats: self.stats,
            evicted_at: stage.evicted_at,
            detectors: stage
                .detectors
                .iter()
                .map(|(n, b)| (n.clone(), b.is_some()))
                .collect(),
        };
        sections.add(
            "stream",
            &serde_json::to_vec(&saved).expect("plain data serializes"),
        );
        if let Some(c) = &stage.correlations {
            sections.add("correlations", c);
        }
        for (i, (_, bytes)) in stage.detectors.iter().enumerate() {
            if let Some(bytes) = bytes {
                sections.add(&format!("detector.{i}"), bytes);
            }
        }
        let mut lines = Vec::new();
        for std::cmp::Reverse(Queued(p)) in self.buffer.iter() {
            serde_json::to_writer(&mut lines, &Spilled::from(&p.event))
                .expect("plain data serializes");
            lines.push(b'\n');
        }
        sections.add("buffer", &lines);
        sections.into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::Sections;

    #[test]
    fn sections_come_back_as_written_and_damage_is_refused() {
        let mut s = Sections::new();
        s.add("one", b"first\nwith a newline");
        s.add("empty", b"");
        s.add("two", b"{\"x\":1}");
        let bytes = s.into_bytes();
        let back = Sections::read(&bytes).unwrap();
        assert_eq!(
            back,
            [
                ("one", &b"first\nwith a newline"[..]),
                ("empty", &b""[..]),
                ("two", &b"{\"x\":1}"[..]),
            ]
        );
        // Cut anywhere: refused.
        for cut in [1, 10, bytes.len() / 2, bytes.len() - 1] {
            assert!(Sections::read(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        // One byte changed: refused.
        let mut bad = bytes.clone();
        bad[30] ^= 1;
        let err = Sections::read(&bad).unwrap_err();
        assert!(err.contains("checksum"), "{err}");
        assert!(Sections::read(b"something else\nend 00000000\n").is_err());
    }
}
