//! The event spool: a durable, append-only log of opaque records on disk.
//!
//! Live inputs acknowledge an event to its sender only once it is in the
//! spool, and the detection worker reads the spool and records (with
//! [`Spool::commit`]) the offset it has committed detections up to. After a
//! crash nothing acknowledged is lost: the spool replays from the committed
//! offset. The spool knows nothing of events; a record is one `&[u8]` (an
//! event batch serialized by the caller).
//!
//! # On disk
//!
//! The spool directory (`0700`) holds:
//! - segment files `<first offset, 20 digits zero-padded>.seg` (`0600`),
//!   each a run of records `len: u32 LE | crc32 of payload: u32 LE | payload`;
//! - `committed`: the committed offset as decimal digits and a newline,
//!   replaced atomically (write a temporary file, fsync, rename, fsync the
//!   directory);
//! - `lock`: held with an exclusive file lock while a [`Spool`] is open, so
//!   two spools (in this process or another) never write one directory.
//!
//! Other files are ignored with a warning; a `.seg` file with any other name
//! is an error.
//!
//! # Invariants
//!
//! - Offsets are record sequence numbers, from 0, never reused: segment
//!   `N.seg` holds records `N..N + count`, and each segment starts where the
//!   one before it ends.
//! - [`Spool::append`] returns only once its records are fsynced; appenders
//!   on many threads share fsyncs (group commit: one of them fsyncs for all
//!   who wrote before it). Readers see only fsynced records.
//! - Every segment but the last is fsynced before the next one is created,
//!   so a crash can tear only the end of the last segment. [`Spool::open`]
//!   cuts such a torn tail (it was never acknowledged) and reports it in
//!   [`Spool::recovered`]; a bad record anywhere else is an error naming the
//!   file and byte position, never skipped.
//! - Acknowledged records are never dropped for room: past `max_bytes` an
//!   append fails with [`SpoolError::Full`]. Only [`Spool::commit`] frees
//!   space, by deleting segments that lie wholly below the committed offset.
//! - The committed offset never goes backwards and never passes the last
//!   durable record.
//!
//! The API is synchronous (`std::fs`); async callers use `spawn_blocking`.
//! Nothing here panics on what it finds in the directory.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde::Deserialize;

/// The default size at which a segment is closed and the next one started.
pub const DEFAULT_SEGMENT_BYTES: u64 = 64 << 20;
/// The default cap on the spool's bytes on disk.
pub const DEFAULT_MAX_BYTES: u64 = 1 << 30;
/// The default spool directory (inside the default data directory).
pub const DEFAULT_DIR: &str = "./watchpost-data/spool";
/// Bytes a record takes on disk besides its payload (length and checksum).
pub const RECORD_HEADER_BYTES: u64 = 8;

const COMMITTED_FILE: &str = "committed";
const COMMITTED_TEMP_FILE: &str = "committed.tmp";
const LOCK_FILE: &str = "lock";
const SEGMENT_SUFFIX: &str = ".seg";
/// Digits of a segment's first offset in its file name.
const SEGMENT_DIGITS: usize = 20;
/// A segment keeps the byte position of a record at least this often, so a
/// read from the middle of a segment skips at most this many bytes.
const INDEX_INTERVAL: u64 = 64 << 10;
/// Read buffer of scans and reads.
const READ_BUFFER: u64 = 256 << 10;

/// The `[spool]` table of the server configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SpoolConfig {
    /// The spool directory (default `./watchpost-data/spool`); created
    /// `0700` when missing. It must not be shared with anything else.
    pub dir: PathBuf,
    /// The size in bytes at which a segment is closed and the next started
    /// (default 64 MiB; 0 is refused). A segment is only ever deleted whole,
    /// so smaller segments free space sooner after a commit. One append's
    /// records always go to one segment, so a single append larger than
    /// this makes a larger segment.
    pub segment_bytes: u64,
    /// The most bytes the spool may hold on disk (default 1 GiB; 0 is
    /// refused). An append that would pass it fails and writes nothing;
    /// space comes back only as the detection worker commits.
    pub max_bytes: u64,
}

impl Default for SpoolConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::from(DEFAULT_DIR),
            segment_bytes: DEFAULT_SEGMENT_BYTES,
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }
}

/// Counters of an open spool, for metrics and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpoolStats {
    /// Records appended and made durable since the spool was opened.
    pub appended_records: u64,
    /// fsyncs of segment files made for appends since the spool was opened
    /// (with group commit, fewer than the appends under concurrency).
    pub fsyncs: u64,
    /// Bytes in segment files now (what `max_bytes` caps).
    pub bytes_on_disk: u64,
    /// Segment files now.
    pub segments: usize,
    /// Bytes of a torn tail cut from the last segment when it was opened.
    pub recovered_torn_bytes: u64,
    /// The committed offset: every record below it has been processed.
    pub committed: u64,
}

/// What [`Spool::open`] repaired or tidied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    /// The torn tail cut from the last segment (a crash mid-write), if any.
    pub torn: Option<TornTail>,
    /// Segments wholly below the committed offset that a crash left behind
    /// (their deletion had not reached the disk), deleted on open.
    pub consumed_segments_deleted: usize,
}

impl Recovery {
    /// Bytes cut from the end of the last segment (0 when none).
    pub fn torn_bytes(&self) -> u64 {
        self.torn.as_ref().map_or(0, |t| t.bytes)
    }
}

/// A torn tail: the end of the last segment that did not hold whole, valid
/// records, because the process or machine stopped while writing them. No
/// record in it was ever acknowledged (appends return only after an fsync,
/// which would have made everything before it whole).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    /// The segment file.
    pub segment: PathBuf,
    /// The byte position of the first bad record, where the file was cut.
    pub position: u64,
    /// How many bytes were cut.
    pub bytes: u64,
}

/// Why a spool operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// The configuration cannot work.
    #[error("invalid spool configuration: {reason}")]
    Config {
        /// What is wrong.
        reason: &'static str,
    },
    /// A file operation failed.
    #[error("{path}: cannot {action}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What was being done, e.g. "write records".
        action: &'static str,
        /// The IO error.
        source: io::Error,
    },
    /// Another spool holds the directory's lock.
    #[error("{path}: the spool directory is in use by another spool")]
    Locked {
        /// The lock file.
        path: PathBuf,
    },
    /// A `.seg` file whose name is not 20 digits, or that is not a file.
    #[error("{path}: not a spool segment (expected a file named by 20 digits and `.seg`)")]
    BadSegmentName {
        /// The file.
        path: PathBuf,
    },
    /// A record that is not whole and valid, where a crash cannot explain
    /// it (anywhere but the end of the last segment), or found while
    /// reading.
    #[error("{path}: corrupt record at byte {position}: {reason}")]
    Corrupt {
        /// The segment file.
        path: PathBuf,
        /// The byte position of the record in the file.
        position: u64,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A segment that does not start where the records before it end (or,
    /// for the first segment, that starts after the committed offset):
    /// records are missing or overlap.
    #[error("{path}: starts at record {found}, but record {expected} is expected next")]
    Gap {
        /// The segment file.
        path: PathBuf,
        /// The offset the segment should start at.
        expected: u64,
        /// The offset its name says it starts at.
        found: u64,
    },
    /// The `committed` file cannot be read as an offset.
    #[error("{path}: not a committed offset: {reason}")]
    BadCommitted {
        /// The `committed` file.
        path: PathBuf,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The committed offset is past the last record on disk: records that
    /// were processed are gone.
    #[error("{path}: committed offset {committed} is past the end of the spool ({end})")]
    CommittedPastEnd {
        /// The `committed` file.
        path: PathBuf,
        /// The committed offset it holds.
        committed: u64,
        /// One past the last record on disk.
        end: u64,
    },
    /// Appending would pass `max_bytes`; nothing was written.
    #[error(
        "the spool is full: {bytes_on_disk} bytes on disk and {needed} more would pass max_bytes = {max_bytes}"
    )]
    Full {
        /// The configured cap.
        max_bytes: u64,
        /// Bytes on disk now.
        bytes_on_disk: u64,
        /// Bytes the refused records would have taken.
        needed: u64,
    },
    /// A record longer than its `u32` length field can say.
    #[error("a record of {len} bytes is larger than a spool record may be (4 GiB - 1)")]
    RecordTooLarge {
        /// The record's length.
        len: usize,
    },
    /// The record asked for was deleted after it was committed.
    #[error("record {offset} was deleted after it was committed; the oldest kept is {oldest}")]
    Deleted {
        /// The offset asked for.
        offset: u64,
        /// The oldest offset still on disk.
        oldest: u64,
    },
    /// A commit past the last durable record.
    #[error("cannot commit up to record {offset}: the spool ends at {end}")]
    CommitPastEnd {
        /// The offset given.
        offset: u64,
        /// One past the last durable record.
        end: u64,
    },
    /// An earlier write could not be made durable or undone. What the file
    /// holds is no longer known (after a failed fsync the kernel may have
    /// dropped the data), so the spool refuses appends until reopened,
    /// which validates the files again.
    #[error(
        "{path}: a write failed and could not be made durable or undone; reopen the spool: {source}"
    )]
    Failed {
        /// The segment file.
        path: PathBuf,
        /// The first error.
        source: Arc<io::Error>,
    },
}

/// A durable, append-only spool of records; see the [module](self) docs.
///
/// `Send + Sync`: share it with an `Arc`. All methods take `&self`.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    segment_bytes: u64,
    max_bytes: u64,
    recovery: Recovery,
    state: Mutex<State>,
    /// Signalled whenever the durable end moves (or a sync fails).
    durable_moved: Condvar,
    /// Serialises commits, so `committed` files are written in order,
    /// without holding `state` during their fsyncs.
    commit_lock: Mutex<()>,
    /// Holds the directory's exclusive lock while the spool is open.
    _lock: File,
}

/// The mutable part of a spool, behind its mutex.
#[derive(Debug)]
struct State {
    /// Segments, oldest first; never empty. The last is the one written.
    segments: VecDeque<Segment>,
    /// The last segment's file, positioned at its end.
    active: Arc<File>,
    /// One past the last record written (perhaps not yet fsynced).
    written_end: u64,
    /// One past the last fsynced record; what readers may see.
    durable_end: u64,
    /// `durable_end` when the spool was opened.
    opened_end: u64,
    /// A thread is fsyncing for the others (the group commit leader).
    syncing: bool,
    committed: u64,
    bytes_on_disk: u64,
    fsyncs: u64,
    /// Set when a write could be neither made durable nor undone.
    failed: Option<(PathBuf, Arc<io::Error>)>,
}

/// One segment file's records.
#[derive(Debug)]
struct Segment {
    first: u64,
    records: u64,
    bytes: u64,
    path: PathBuf,
    /// `(offset, byte position)` of some records, ascending, starting with
    /// `(first, 0)`, at most about [`INDEX_INTERVAL`] bytes apart.
    index: Vec<(u64, u64)>,
}

impl Segment {
    fn new(first: u64, path: PathBuf) -> Self {
        Self {
            first,
            records: 0,
            bytes: 0,
            path,
            index: vec![(first, 0)],
        }
    }

    /// One past its last record.
    fn end(&self) -> u64 {
        self.first + self.records
    }

    /// Notes that record `offset` starts at byte `position`.
    fn note(&mut self, offset: u64, position: u64) {
        let last = self.index.last().map_or(0, |&(_, p)| p);
        if position >= last + INDEX_INTERVAL {
            self.index.push((offset, position));
        }
    }

    /// The last indexed record at or before `offset`: `(offset, position)`.
    fn seek_point(&self, offset: u64) -> (u64, u64) {
        let after = self.index.partition_point(|&(o, _)| o <= offset);
        after
            .checked_sub(1)
            .and_then(|i| self.index.get(i))
            .copied()
            .unwrap_or((self.first, 0))
    }
}

/// Which records to read from one segment.
struct ReadPlan {
    path: PathBuf,
    /// The segment's length in bytes when planned.
    bytes: u64,
    /// Where to start scanning: an indexed record at or before `from`.
    start: (u64, u64),
    from: u64,
    to: u64,
}

impl Spool {
    /// Opens the spool in `config.dir`, creating it if needed: takes the
    /// directory's lock, reads the committed offset, deletes segments a
    /// crash left wholly below it, validates every record of the others,
    /// and cuts a torn tail from the last segment (see [`Spool::recovered`]).
    ///
    /// A bad record in any other place, segments that do not follow each
    /// other, or an unreadable `committed` file are errors naming the file.
    pub fn open(config: SpoolConfig) -> Result<Spool, SpoolError> {
        if config.segment_bytes == 0 {
            return Err(SpoolError::Config {
                reason: "segment_bytes must be above 0",
            });
        }
        if config.max_bytes == 0 {
            return Err(SpoolError::Config {
                reason: "max_bytes must be above 0",
            });
        }
        let dir = config.dir;
        create_private_dir(&dir)?;
        let lock = lock_dir(&dir)?;
        remove_if_present(&dir.join(COMMITTED_TEMP_FILE))?;
        let committed = read_committed(&dir)?;

        let mut names = list_segments(&dir)?;
        let mut recovery = Recovery::default();
        // A segment is wholly below the committed offset when the next one
        // starts at or below it.
        let consumed = names
            .windows(2)
            .take_while(|pair| pair[1].0 <= committed)
            .count();
        for (_, path) in names.drain(..consumed) {
            remove_if_present(&path)?;
            recovery.consumed_segments_deleted += 1;
        }
        if consumed > 0 {
            sync_dir(&dir)?;
            tracing::info!(
                dir = %dir.display(),
                segments = consumed,
                "deleted committed spool segments left by a crash"
            );
        }

        let mut segments = VecDeque::with_capacity(names.len() + 1);
        let count = names.len();
        let mut expected = committed;
        let mut active = None;
        for (i, (first, path)) in names.into_iter().enumerate() {
            let is_last = i + 1 == count;
            let first_ok = if i == 0 {
                first <= expected
            } else {
                first == expected
            };
            if !first_ok {
                return Err(SpoolError::Gap {
                    path,
                    expected,
                    found: first,
                });
            }
            let (segment, bad) = scan_segment(&path, first)?;
            if let Some(BadRecord {
                position,
                reason,
                file_len,
            }) = bad
            {
                if !is_last {
                    return Err(SpoolError::Corrupt {
                        path,
                        position,
                        reason,
                    });
                }
                let bytes = file_len - position;
                tracing::warn!(
                    segment = %path.display(),
                    position,
                    bytes,
                    reason,
                    "cut a torn tail from the spool (a crash while writing)"
                );
                recovery.torn = Some(TornTail {
                    segment: path.clone(),
                    position,
                    bytes,
                });
            }
            if is_last {
                active = Some(open_active(&segment)?);
            }
            expected = segment.end();
            segments.push_back(segment);
        }
        let active = match active {
            Some(file) => file,
            None => {
                let (file, path) = create_segment(&dir, committed)?;
                segments.push_back(Segment::new(committed, path));
                file
            }
        };
        let end = segments.back().map_or(committed, Segment::end);
        if committed > end {
            return Err(SpoolError::CommittedPastEnd {
                path: dir.join(COMMITTED_FILE),
                committed,
                end,
            });
        }
        let bytes_on_disk = segments.iter().map(|s| s.bytes).sum();
        Ok(Spool {
            dir,
            segment_bytes: config.segment_bytes,
            max_bytes: config.max_bytes,
            recovery,
            state: Mutex::new(State {
                segments,
                active: Arc::new(active),
                written_end: end,
                durable_end: end,
                opened_end: end,
                syncing: false,
                committed,
                bytes_on_disk,
                fsyncs: 0,
                failed: None,
            }),
            durable_moved: Condvar::new(),
            commit_lock: Mutex::new(()),
            _lock: lock,
        })
    }

    /// The spool directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// What opening repaired: a torn tail cut from the last segment, and
    /// committed segments deleted.
    pub fn recovered(&self) -> &Recovery {
        &self.recovery
    }

    /// Appends `records` and returns their offsets once they are fsynced
    /// (so the caller may acknowledge them). All go to one segment with one
    /// write. Concurrent appenders share fsyncs: the first to find no fsync
    /// in progress fsyncs for everyone who wrote before it, and the others
    /// wait for it (group commit).
    ///
    /// Nothing is written when the records would pass `max_bytes`
    /// ([`SpoolError::Full`]), when one is too large, or when the write
    /// fails (it is undone). An empty `records` returns an empty range at
    /// the next offset.
    pub fn append(&self, records: &[&[u8]]) -> Result<Range<u64>, SpoolError> {
        let mut buffer_len: usize = 0;
        for record in records {
            if u32::try_from(record.len()).is_err() {
                return Err(SpoolError::RecordTooLarge { len: record.len() });
            }
            buffer_len = buffer_len.saturating_add(record.len() + 8);
        }
        let needed = u64::try_from(buffer_len).unwrap_or(u64::MAX);

        let mut state = self.lock_state();
        if let Some(error) = state.failed_error() {
            return Err(error);
        }
        if records.is_empty() {
            return Ok(state.written_end..state.written_end);
        }
        if state.bytes_on_disk.saturating_add(needed) > self.max_bytes {
            return Err(SpoolError::Full {
                max_bytes: self.max_bytes,
                bytes_on_disk: state.bytes_on_disk,
                needed,
            });
        }
        let active_bytes = state.segments.back().map_or(0, |s| s.bytes);
        if active_bytes > 0 && active_bytes.saturating_add(needed) > self.segment_bytes {
            self.roll_over(&mut state)?;
        }

        let mut buffer = Vec::with_capacity(buffer_len);
        for record in records {
            let len = u32::try_from(record.len()).unwrap_or(u32::MAX);
            buffer.extend_from_slice(&len.to_le_bytes());
            buffer.extend_from_slice(&crc32fast::hash(record).to_le_bytes());
            buffer.extend_from_slice(record);
        }
        let start = state.written_end;
        let Some(segment) = state.segments.back() else {
            return Err(self.no_segment());
        };
        let position = segment.bytes;
        let path = segment.path.clone();
        if let Err(source) = (&*state.active).write_all(&buffer) {
            // Undo a partial write, so the file holds only whole records.
            let active = Arc::clone(&state.active);
            let undone = active
                .set_len(position)
                .and_then(|()| (&*active).seek(SeekFrom::Start(position)));
            if let Err(undo) = undone {
                tracing::error!(segment = %path.display(), error = %undo, "cannot undo a failed spool write");
                state.failed = Some((path.clone(), Arc::new(undo)));
            }
            return Err(SpoolError::Io {
                path,
                action: "write records",
                source,
            });
        }
        let end = start + records.len() as u64;
        if let Some(segment) = state.segments.back_mut() {
            segment.note(start, position);
            segment.records += records.len() as u64;
            segment.bytes += needed;
        }
        state.bytes_on_disk += needed;
        state.written_end = end;
        self.wait_durable(state, end)?;
        Ok(start..end)
    }

    /// Reads up to `max_records` durable records from `offset` on, in
    /// order, each with its offset. Fewer (or none) when the spool ends
    /// sooner; records below the committed offset are readable until their
    /// segment is deleted, after which asking for them is
    /// [`SpoolError::Deleted`]. Each record's checksum is checked.
    pub fn read_from(
        &self,
        offset: u64,
        max_records: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, SpoolError> {
        let (plans, wanted) = {
            let state = self.lock_state();
            let oldest = state.oldest();
            if offset < oldest {
                return Err(SpoolError::Deleted { offset, oldest });
            }
            let max = u64::try_from(max_records).unwrap_or(u64::MAX);
            let end = state.durable_end.min(offset.saturating_add(max));
            if offset >= end {
                return Ok(Vec::new());
            }
            let plans: Vec<ReadPlan> = state
                .segments
                .iter()
                .filter(|s| s.end() > offset && s.first < end)
                .map(|s| {
                    let from = offset.max(s.first);
                    ReadPlan {
                        path: s.path.clone(),
                        bytes: s.bytes,
                        start: s.seek_point(from),
                        from,
                        to: end.min(s.end()),
                    }
                })
                .collect();
            (plans, end - offset)
        };
        let mut out = Vec::with_capacity(usize::try_from(wanted).unwrap_or(max_records));
        for plan in &plans {
            if let Err(error) = read_segment(plan, &mut out) {
                // The segment may have been deleted by a commit meanwhile.
                let oldest = self.lock_state().oldest();
                if offset < oldest {
                    return Err(SpoolError::Deleted { offset, oldest });
                }
                return Err(error);
            }
        }
        Ok(out)
    }

    /// Blocks until the record at `offset` is durable (readable), or until
    /// `timeout` passes; returns whether it is. Appends wake it, so a reader
    /// need not poll.
    pub fn wait_for(&self, offset: u64, timeout: Duration) -> bool {
        let state = self.lock_state();
        let (state, _) = self
            .durable_moved
            .wait_timeout_while(state, timeout, |state| state.durable_end <= offset)
            .unwrap_or_else(PoisonError::into_inner);
        state.durable_end > offset
    }

    /// Records that every record below `offset` has been processed: writes
    /// the `committed` file durably, then deletes the segments wholly below
    /// `offset`. When everything written is committed, the last segment is
    /// replaced by an empty one, so all space is freed.
    ///
    /// The committed offset never goes backwards: an `offset` at or below
    /// the current one is ignored (`Ok`), so a replayed or late commit is
    /// harmless. An `offset` past the last durable record is
    /// [`SpoolError::CommitPastEnd`].
    pub fn commit(&self, offset: u64) -> Result<(), SpoolError> {
        let _commit = self
            .commit_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        {
            let state = self.lock_state();
            if offset <= state.committed {
                return Ok(());
            }
            if offset > state.durable_end {
                return Err(SpoolError::CommitPastEnd {
                    offset,
                    end: state.durable_end,
                });
            }
        }
        write_committed(&self.dir, offset)?;
        let (doomed, failed_replace) = {
            let mut state = self.lock_state();
            state.committed = offset;
            // Everything written is committed (so nothing is in flight):
            // start an empty segment, so the last one can be deleted too.
            let all_consumed = state
                .segments
                .back()
                .is_some_and(|s| s.records > 0 && s.end() <= offset);
            let mut failed_replace = None;
            if all_consumed {
                let first = state.written_end;
                match create_segment(&self.dir, first) {
                    Ok((file, path)) => {
                        state.active = Arc::new(file);
                        state.segments.push_back(Segment::new(first, path));
                    }
                    Err(error) => failed_replace = Some(error),
                }
            }
            let mut doomed = Vec::new();
            while state.segments.len() > 1
                && state.segments.front().is_some_and(|s| s.end() <= offset)
            {
                if let Some(segment) = state.segments.pop_front() {
                    state.bytes_on_disk -= segment.bytes;
                    doomed.push(segment.path);
                }
            }
            (doomed, failed_replace)
        };
        for path in &doomed {
            remove_if_present(path)?;
        }
        if !doomed.is_empty() {
            sync_dir(&self.dir)?;
        }
        match failed_replace {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    /// The committed offset: what the last [`Spool::commit`] recorded (also
    /// across reopening), 0 when there was none.
    pub fn committed(&self) -> u64 {
        self.lock_state().committed
    }

    /// One past the last durable record: the offset the next record gets
    /// once the appends in flight are done.
    pub fn end(&self) -> u64 {
        self.lock_state().durable_end
    }

    /// The spool's counters now.
    pub fn stats(&self) -> SpoolStats {
        let state = self.lock_state();
        SpoolStats {
            appended_records: state.durable_end - state.opened_end,
            fsyncs: state.fsyncs,
            bytes_on_disk: state.bytes_on_disk,
            segments: state.segments.len(),
            recovered_torn_bytes: self.recovery.torn_bytes(),
            committed: state.committed,
        }
    }

    /// Locks the state. Nothing panics while holding the lock, so a
    /// poisoned lock still holds consistent state.
    fn lock_state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until the records below `end` are durable, fsyncing for
    /// everyone who has written so far when no other thread is.
    fn wait_durable<'a>(
        &'a self,
        mut state: MutexGuard<'a, State>,
        end: u64,
    ) -> Result<(), SpoolError> {
        loop {
            if state.durable_end >= end {
                return Ok(());
            }
            if let Some(error) = state.failed_error() {
                return Err(error);
            }
            if state.syncing {
                state = self
                    .durable_moved
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            // Lead: fsync everything written so far, without the lock, so
            // others can write meanwhile and share the next fsync.
            state.syncing = true;
            let target = state.written_end;
            let file = Arc::clone(&state.active);
            drop(state);
            let result = file.sync_data();
            state = self.lock_state();
            state.syncing = false;
            state.fsyncs += 1;
            match result {
                Ok(()) => state.durable_end = state.durable_end.max(target),
                Err(error) => {
                    let path = state
                        .segments
                        .back()
                        .map(|s| s.path.clone())
                        .unwrap_or_default();
                    tracing::error!(segment = %path.display(), %error, "cannot fsync the spool");
                    state.failed = Some((path, Arc::new(error)));
                }
            }
            self.durable_moved.notify_all();
        }
    }

    /// Closes the last segment (fsyncing it, so only the last segment can
    /// ever be torn) and starts a new one at the next offset.
    fn roll_over(&self, state: &mut State) -> Result<(), SpoolError> {
        let path = state
            .segments
            .back()
            .map(|s| s.path.clone())
            .unwrap_or_default();
        if let Err(error) = state.active.sync_data() {
            let error = Arc::new(error);
            state.failed = Some((path.clone(), Arc::clone(&error)));
            self.durable_moved.notify_all();
            return Err(SpoolError::Failed {
                path,
                source: error,
            });
        }
        state.fsyncs += 1;
        state.durable_end = state.durable_end.max(state.written_end);
        self.durable_moved.notify_all();
        let first = state.written_end;
        let (file, path) = create_segment(&self.dir, first)?;
        state.active = Arc::new(file);
        state.segments.push_back(Segment::new(first, path));
        Ok(())
    }

    /// The error for a state without segments, which cannot happen.
    fn no_segment(&self) -> SpoolError {
        SpoolError::Io {
            path: self.dir.clone(),
            action: "find the segment to write",
            source: io::Error::other("the spool has no segment"),
        }
    }
}

impl State {
    fn failed_error(&self) -> Option<SpoolError> {
        self.failed
            .as_ref()
            .map(|(path, source)| SpoolError::Failed {
                path: path.clone(),
                source: Arc::clone(source),
            })
    }

    /// The oldest offset still on disk.
    fn oldest(&self) -> u64 {
        self.segments.front().map_or(self.written_end, |s| s.first)
    }
}

/// Reads `plan`'s records into `out`, checking each.
fn read_segment(plan: &ReadPlan, out: &mut Vec<(u64, Vec<u8>)>) -> Result<(), SpoolError> {
    let io = |action| {
        let path = plan.path.clone();
        move |source| SpoolError::Io {
            path,
            action,
            source,
        }
    };
    let (mut offset, mut position) = plan.start;
    let mut file = File::open(&plan.path).map_err(io("open a segment"))?;
    file.seek(SeekFrom::Start(position))
        .map_err(io("seek in a segment"))?;
    let capacity = usize::try_from(READ_BUFFER.min(plan.bytes.saturating_sub(position)))
        .unwrap_or(0)
        .max(64);
    let mut reader = BufReader::with_capacity(capacity, file);
    let corrupt = |position, reason| SpoolError::Corrupt {
        path: plan.path.clone(),
        position,
        reason,
    };
    while offset < plan.to {
        let mut header = [0u8; 8];
        if plan.bytes - position < RECORD_HEADER_BYTES {
            return Err(corrupt(position, "the segment ends inside a record header"));
        }
        reader
            .read_exact(&mut header)
            .map_err(io("read a record"))?;
        let (len, crc) = split_header(header);
        if u64::from(len) > plan.bytes - position - RECORD_HEADER_BYTES {
            return Err(corrupt(
                position,
                "the record runs past the end of the segment",
            ));
        }
        if offset < plan.from {
            reader
                .seek_relative(i64::from(len))
                .map_err(io("seek in a segment"))?;
        } else {
            let mut payload = vec![0u8; len as usize];
            reader
                .read_exact(&mut payload)
                .map_err(io("read a record"))?;
            if crc32fast::hash(&payload) != crc {
                return Err(corrupt(position, "checksum mismatch"));
            }
            out.push((offset, payload));
        }
        position += RECORD_HEADER_BYTES + u64::from(len);
        offset += 1;
    }
    Ok(())
}

/// The first record of a segment that is not whole and valid.
struct BadRecord {
    position: u64,
    reason: &'static str,
    /// The length of the file it is in.
    file_len: u64,
}

/// Scans a whole segment: its valid records, and the first bad one if any.
fn scan_segment(path: &Path, first: u64) -> Result<(Segment, Option<BadRecord>), SpoolError> {
    let io = |action| {
        move |source| SpoolError::Io {
            path: path.to_owned(),
            action,
            source,
        }
    };
    let file = File::open(path).map_err(io("open a segment"))?;
    let file_len = file.metadata().map_err(io("read a segment's size"))?.len();
    let capacity = usize::try_from(READ_BUFFER.min(file_len))
        .unwrap_or(0)
        .max(64);
    let mut reader = BufReader::with_capacity(capacity, file);
    let mut segment = Segment::new(first, path.to_owned());
    let mut payload = Vec::new();
    let mut position = 0;
    let mut bad = None;
    while position < file_len {
        let left = file_len - position;
        if left < RECORD_HEADER_BYTES {
            bad = Some((position, "the segment ends inside a record header"));
            break;
        }
        let mut header = [0u8; 8];
        reader
            .read_exact(&mut header)
            .map_err(io("read a segment"))?;
        let (len, crc) = split_header(header);
        if u64::from(len) > left - RECORD_HEADER_BYTES {
            bad = Some((position, "the record runs past the end of the segment"));
            break;
        }
        payload.resize(len as usize, 0);
        reader
            .read_exact(&mut payload)
            .map_err(io("read a segment"))?;
        if crc32fast::hash(&payload) != crc {
            bad = Some((position, "checksum mismatch"));
            break;
        }
        segment.note(segment.end(), position);
        segment.records += 1;
        position += RECORD_HEADER_BYTES + u64::from(len);
    }
    segment.bytes = position;
    let bad = bad.map(|(position, reason)| BadRecord {
        position,
        reason,
        file_len,
    });
    Ok((segment, bad))
}

/// A record header's length and checksum.
fn split_header(header: [u8; 8]) -> (u32, u32) {
    let [a, b, c, d, e, f, g, h] = header;
    (
        u32::from_le_bytes([a, b, c, d]),
        u32::from_le_bytes([e, f, g, h]),
    )
}

/// Opens the last segment for appending: cuts it after its last valid
/// record, fsyncs it (records a crashed process left in the page cache
/// become durable before anyone reads them) and seeks to its end.
fn open_active(segment: &Segment) -> Result<File, SpoolError> {
    let io = |action| {
        move |source| SpoolError::Io {
            path: segment.path.clone(),
            action,
            source,
        }
    };
    let mut file = OpenOptions::new()
        .write(true)
        .open(&segment.path)
        .map_err(io("open the last segment"))?;
    file.set_len(segment.bytes)
        .map_err(io("cut the torn tail of the last segment"))?;
    file.sync_all().map_err(io("fsync the last segment"))?;
    file.seek(SeekFrom::Start(segment.bytes))
        .map_err(io("seek to the end of the last segment"))?;
    Ok(file)
}

/// Creates an empty segment for records from `first` on, durably (the
/// directory is fsynced, so the file is there after a crash).
fn create_segment(dir: &Path, first: u64) -> Result<(File, PathBuf), SpoolError> {
    let path = dir.join(segment_name(first));
    let mut options = OpenOptions::new();
    // A file of this name can only be an empty one left by a failed
    // creation: no record at `first` exists anywhere else.
    options.write(true).create(true).truncate(true);
    crate::at_rest::owner_only(&mut options);
    let file = options.open(&path).map_err(|source| SpoolError::Io {
        path: path.clone(),
        action: "create a segment",
        source,
    })?;
    sync_dir(dir)?;
    Ok((file, path))
}

/// The file name of the segment whose first record is `first`.
fn segment_name(first: u64) -> String {
    format!("{first:0width$}{SEGMENT_SUFFIX}", width = SEGMENT_DIGITS)
}

/// The segments in `dir`, by first offset.
fn list_segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>, SpoolError> {
    let io = |action| {
        move |source| SpoolError::Io {
            path: dir.to_owned(),
            action,
            source,
        }
    };
    let mut segments = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io("list the spool directory"))? {
        let entry = entry.map_err(io("list the spool directory"))?;
        let path = entry.path();
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            tracing::warn!(path = %path.display(), "ignoring a file that is not part of the spool");
            continue;
        };
        if matches!(name, COMMITTED_FILE | COMMITTED_TEMP_FILE | LOCK_FILE) {
            continue;
        }
        let Some(stem) = name.strip_suffix(SEGMENT_SUFFIX) else {
            tracing::warn!(path = %path.display(), "ignoring a file that is not part of the spool");
            continue;
        };
        let is_file = entry
            .file_type()
            .map_err(io("list the spool directory"))?
            .is_file();
        let first = (stem.len() == SEGMENT_DIGITS && stem.bytes().all(|b| b.is_ascii_digit()))
            .then(|| stem.parse::<u64>().ok())
            .flatten();
        match first {
            Some(first) if is_file => segments.push((first, path)),
            _ => return Err(SpoolError::BadSegmentName { path }),
        }
    }
    segments.sort_unstable();
    Ok(segments)
}

/// The committed offset in `dir`, 0 when no commit was ever made.
fn read_committed(dir: &Path) -> Result<u64, SpoolError> {
    let path = dir.join(COMMITTED_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(source) => {
            return Err(SpoolError::Io {
                path,
                action: "read the committed offset",
                source,
            });
        }
    };
    let bad = |reason| SpoolError::BadCommitted {
        path: path.clone(),
        reason,
    };
    let Some(digits) = bytes.strip_suffix(b"\n") else {
        return Err(bad("it does not end with a newline (cut short?)"));
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(bad("expected decimal digits and a newline"));
    }
    std::str::from_utf8(digits)
        .ok()
        .and_then(|digits| digits.parse().ok())
        .ok_or_else(|| bad("the number is too large"))
}

/// Replaces the `committed` file atomically and durably.
fn write_committed(dir: &Path, offset: u64) -> Result<(), SpoolError> {
    let temp = dir.join(COMMITTED_TEMP_FILE);
    let io = |path: &Path, action| {
        let path = path.to_owned();
        move |source| SpoolError::Io {
            path,
            action,
            source,
        }
    };
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    crate::at_rest::owner_only(&mut options);
    let mut file = options
        .open(&temp)
        .map_err(io(&temp, "create the committed offset"))?;
    file.write_all(format!("{offset}\n").as_bytes())
        .map_err(io(&temp, "write the committed offset"))?;
    file.sync_all()
        .map_err(io(&temp, "fsync the committed offset"))?;
    drop(file);
    let path = dir.join(COMMITTED_FILE);
    std::fs::rename(&temp, &path).map_err(io(&path, "replace the committed offset"))?;
    sync_dir(dir)
}

/// Creates the spool directory `0700` when missing, or tightens an existing
/// one that others may read.
fn create_private_dir(dir: &Path) -> Result<(), SpoolError> {
    crate::at_rest::make_private_dir(dir).map_err(|source| SpoolError::Io {
        path: dir.to_owned(),
        action: "create or restrict the spool directory",
        source,
    })
}

/// Takes the directory's exclusive lock, held as long as the file is open.
fn lock_dir(dir: &Path) -> Result<File, SpoolError> {
    let path = dir.join(LOCK_FILE);
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(false);
    crate::at_rest::owner_only(&mut options);
    let file = options.open(&path).map_err(|source| SpoolError::Io {
        path: path.clone(),
        action: "open the lock file",
        source,
    })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(SpoolError::Locked { path }),
        Err(std::fs::TryLockError::Error(source)) => Err(SpoolError::Io {
            path,
            action: "lock the spool directory",
            source,
        }),
    }
}

/// Deletes `path`; a file already gone is fine.
fn remove_if_present(path: &Path) -> Result<(), SpoolError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(SpoolError::Io {
            path: path.to_owned(),
            action: "delete",
            source,
        }),
    }
}

/// fsyncs a directory, so files created, renamed or deleted in it stay so
/// after a crash. (Not possible, and not needed, off Unix.)
fn sync_dir(dir: &Path) -> Result<(), SpoolError> {
    #[cfg(unix)]
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| SpoolError::Io {
            path: dir.to_owned(),
            action: "fsync the spool directory",
            source,
        })?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}
