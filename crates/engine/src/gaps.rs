//! [`find`]: missing time spans in log files (`watchpost gaps`).
//!
//! Reads every file, puts each file's events back in file order (or in
//! time order, for a file not written in time order, such as a CloudTrail
//! export), and runs the policy [`policy::gaps::Gaps`] detector over them.

use std::path::PathBuf;
use std::sync::Mutex;

use detect::{Detection, Detector};
use events::Event;
use policy::{GapsConfig, StateConfig, gaps};
use sources::{PathFilter, Problem, ReadOptions};

/// What [`find`] reads.
#[derive(Debug, Clone, Default)]
pub struct GapsOptions {
    /// Which files of the walked folders are read.
    pub filter: PathFilter,
    /// How the readers interpret their input.
    pub read: ReadOptions,
}

/// What [`find`] found.
#[derive(Debug, Default)]
pub struct GapsReport {
    /// The gap detector's detections (gaps, time going backwards, clock
    /// jumps), in the order it made them.
    pub detections: Vec<Detection>,
    /// Input problems.
    pub problems: Vec<Problem>,
    /// Files read.
    pub files: usize,
    /// Events without a time (which cannot be placed).
    pub undated: u64,
    /// Files that were not written in time order, with how many steps
    /// back they took: they were judged in time order instead.
    pub reordered: Vec<(String, usize)>,
}

/// Finds missing time spans in the files and folders `paths`.
pub fn find(paths: &[PathBuf], config: GapsConfig, options: &GapsOptions) -> GapsReport {
    let (files, mut problems) = sources::discover(paths, &options.filter);
    let tolerance = i64::try_from(config.backwards_tolerance.0).unwrap_or(i64::MAX);
    let mut detector = gaps::Gaps::new(config, &StateConfig::default());
    let selector = detector.selector();
    let mut report = GapsReport {
        files: files.len(),
        ..GapsReport::default()
    };
    for file in &files {
        let events = Mutex::new(Vec::new());
        let summary = sources::read_file(file, None, &options.read, &|batch: Vec<Event>| {
            events
                .lock()
                .expect("no panics while holding the lock")
                .extend(batch);
        });
        problems.extend(summary.problems);
        let mut events = events
            .into_inner()
            .expect("no panics while holding the lock");
        // Batches of one file can arrive out of order: restore file order,
        // which is what time going backwards is judged against.
        events.sort_by_key(|e| e.meta.record);
        // A file that is not written in time order (a CloudTrail or API
        // export) would report every step back: judge it in time order.
        let back = backward_steps(&events, tolerance);
        if back > (events.len() / 100).max(3) {
            report.reordered.push((file.display().to_string(), back));
            events.sort_by_key(|e| (e.meta.timestamp, e.meta.record));
        }
        for event in &events {
            if event.meta.timestamp.is_none() {
                report.undated += 1;
            } else if selector.wants(event) {
                detector.observe(event, &mut report.detections);
            }
        }
    }
    detector.finish(&mut report.detections);
    report.problems = problems;
    report
}

/// Steps back in time by more than `tolerance` seconds, in file order.
fn backward_steps(events: &[Event], tolerance: i64) -> usize {
    let mut last: Option<i64> = None;
    let mut back = 0;
    for t in events.iter().filter_map(|e| e.meta.timestamp) {
        let t = t.unix_timestamp();
        if let Some(l) = last
            && l - t > tolerance
        {
            back += 1;
        }
        last = Some(last.map_or(t, |l| l.max(t)));
    }
    back
}
