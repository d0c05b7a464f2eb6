//! [`Engine::hunt`]: a detection run over log files.
//!
//! Files are read and matched in parallel (rayon over files, and over the
//! batches a large file is split into). Events that a correlation or a
//! policy detector needs are kept and fed, in time order, to the ordered
//! stage at the end. Detections and problems come back sorted, so the same
//! input always gives the same report.

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use detect::Level;
use events::{Event, Timestamp};
use rayon::prelude::*;
use sources::{Format, PathFilter, Problem, ProblemKind, ReadOptions};

use crate::Engine;
use crate::found::{Collector, Detections};
use crate::spool::Spool;

/// What a hunt reads, and which events and detections it keeps.
#[derive(Debug, Clone, Default)]
pub struct HuntOptions {
    /// Read every file as this format instead of detecting it.
    pub format: Option<Format>,
    /// Keep only events at or after this time.
    pub from: Option<Timestamp>,
    /// Keep only events before this time.
    pub to: Option<Timestamp>,
    /// Drop detections below this level.
    pub min_level: Option<Level>,
    /// Which files of the walked folders are read.
    pub filter: PathFilter,
    /// How the readers interpret their input (the time zone of RFC 3164
    /// syslog lines, ...).
    pub read: ReadOptions,
    /// Bytes of events kept for the ordered stage that are held in memory
    /// before they are spilled to a temporary file (`None`:
    /// [`crate::DEFAULT_BUDGET`]).
    pub memory_budget: Option<usize>,
}

impl HuntOptions {
    fn in_window(&self, event: &Event) -> bool {
        if self.from.is_none() && self.to.is_none() {
            return true;
        }
        let Some(ts) = event.meta.timestamp else {
            return false;
        };
        self.from.is_none_or(|f| ts >= f) && self.to.is_none_or(|t| ts < t)
    }
}

/// Told how a hunt is getting on (for a progress bar). Called from worker
/// threads.
pub trait Progress: Sync {
    /// The files to read are known, and this is their total size.
    fn started(&self, _total_bytes: u64) {}
    /// One more file was read, of this size.
    fn file_read(&self, _bytes: u64) {}
    /// The number of events read so far.
    fn events(&self, _events: u64) {}
}

impl Progress for () {}

/// A file that was not read because it is not a log of any known format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The file.
    pub path: String,
    /// Why it was skipped.
    pub reason: String,
}

/// What a hunt found.
#[derive(Debug, Default)]
pub struct HuntReport {
    /// Detections at or above the minimum level, in
    /// [`crate::detection_order`]; past the memory budget, partly on disk.
    pub detections: Detections,
    /// Input problems, sorted by source, location and message.
    pub problems: Vec<Problem>,
    /// Files read.
    pub files: usize,
    /// Files skipped as not logs (no format recognised), sorted.
    pub skipped: Vec<Skipped>,
    /// Events read.
    pub events: u64,
    /// Bytes read (as stored).
    pub bytes: u64,
    /// Events kept for the ordered stage (correlations and policy
    /// detectors).
    pub kept: u64,
    /// Events kept for the ordered stage that were spilled to disk (0 when
    /// they fitted the memory budget).
    pub spilled: u64,
}

impl Engine {
    /// Hunts through the files and folders `paths` (folders are walked,
    /// through `options.filter`).
    pub fn hunt(
        &self,
        paths: &[PathBuf],
        options: &HuntOptions,
        progress: &dyn Progress,
    ) -> HuntReport {
        let (files, mut problems) = sources::discover(paths, &options.filter);
        let total_bytes: u64 = files
            .iter()
            .filter_map(|f| std::fs::metadata(f).ok())
            .map(|m| m.len())
            .sum();
        progress.started(total_bytes);

        let events = AtomicU64::new(0);
        let bytes = AtomicU64::new(0);
        let budget = options.memory_budget.unwrap_or(crate::DEFAULT_BUDGET);
        let detections = Mutex::new(Collector::new(budget, options.min_level));
        let spool = Mutex::new(Spool::new(budget));
        let file_problems: Mutex<Vec<Problem>> = Mutex::new(Vec::new());
        let skipped: Mutex<Vec<Skipped>> = Mutex::new(Vec::new());

        let sink = |batch: Vec<Event>| {
            let n = batch.len() as u64;
            let total = events.fetch_add(n, Ordering::Relaxed) + n;
            let batch: Vec<Event> = if options.from.is_some() || options.to.is_some() {
                batch.into_iter().filter(|e| options.in_window(e)).collect()
            } else {
                batch
            };
            let (found, kept) = self.scan(batch);
            if !found.is_empty() {
                lock(&detections).extend(found);
            }
            if !kept.is_empty() {
                lock(&spool).extend(kept);
            }
            progress.events(total);
        };

        files.par_iter().for_each(|path| {
            let summary = sources::read_file(path, options.format, &options.read, &sink);
            bytes.fetch_add(summary.bytes, Ordering::Relaxed);
            progress.file_read(summary.bytes);
            if let Some(reason) = summary.not_a_log {
                lock(&skipped).push(Skipped {
                    path: path.display().to_string(),
                    reason,
                });
            }
            if !summary.problems.is_empty() {
                lock(&file_problems).extend(summary.problems);
            }
        });

        let mut collector = detections.into_inner().expect("no panics hold the lock");
        let spool = spool.into_inner().expect("no panics hold the lock");
        let spilled = spool.spilled;
        let kept = spool.kept;
        if let Some(e) = &spool.spill_error {
            problems.push(Problem::new(
                "spool",
                "",
                ProblemKind::Unreadable,
                format!("cannot spill kept events to disk, kept in memory instead: {e}"),
            ));
        }
        let mut ordered = self.ordered();
        let mut found = Vec::new();
        let drained = spool.drain(self, |p| {
            ordered.observe(p, &mut found);
            if found.len() >= 1024 {
                collector.extend(found.drain(..));
            }
        });
        if let Err(e) = drained {
            problems.push(Problem::new(
                "spool",
                "",
                ProblemKind::Unreadable,
                format!("cannot read spilled events back; the ordered stage stopped: {e}"),
            ));
        }
        ordered.finish(&mut found);
        collector.extend(found);
        if let Some(e) = &collector.spill_error {
            problems.push(Problem::new(
                "spool",
                "",
                ProblemKind::Unreadable,
                format!("cannot spill detections to disk, kept in memory instead: {e}"),
            ));
        }
        let detections = collector.finish();

        problems.extend(file_problems.into_inner().expect("no panics hold the lock"));
        problems.sort_by(|a, b| {
            (&a.source, &a.location, &a.message).cmp(&(&b.source, &b.location, &b.message))
        });
        let mut skipped = skipped.into_inner().expect("no panics hold the lock");
        skipped.sort_by(|a, b| a.path.cmp(&b.path));
        HuntReport {
            detections,
            problems,
            files: files.len() - skipped.len(),
            skipped,
            events: events.load(Ordering::Relaxed),
            bytes: bytes.load(Ordering::Relaxed),
            kept,
            spilled,
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().expect("no panics hold the lock")
}
