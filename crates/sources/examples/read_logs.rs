//! Reads log files with the sources crate alone (no matching), to measure
//! parsing speed and to look at the events it produces.
//!
//! `cargo run --release -p watchpost-sources --example read_logs -- [--dump N] PATHS...`
//! prints the file, event, byte and problem totals and the elapsed time;
//! `--dump N` also prints the first N events of each file as JSON lines.

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use rayon::prelude::*;
use watchpost_sources::{PathFilter, discover, read_file};

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut dump = 0usize;
    if args.first().map(String::as_str) == Some("--dump") {
        dump = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(1);
        args.drain(..2.min(args.len()));
    }
    let paths: Vec<PathBuf> = args.into_iter().map(PathBuf::from).collect();
    let start = Instant::now();
    let (files, mut problems) = discover(&paths, &PathFilter::default());
    let events = AtomicU64::new(0);
    let bytes = AtomicU64::new(0);
    let all_problems = Mutex::new(Vec::new());
    let out = Mutex::new(());
    files.par_iter().for_each(|file| {
        let printed = AtomicU64::new(0);
        let summary = read_file(file, None, &Default::default(), &|batch| {
            if dump > 0 {
                let _guard = out.lock().unwrap();
                for event in &batch {
                    if printed.fetch_add(1, Ordering::Relaxed) >= dump as u64 {
                        break;
                    }
                    println!(
                        "{} #{} {:?} host={:?} ts={:?}\n  {}",
                        event.meta.source,
                        event.meta.record,
                        event.meta.logsource,
                        event.meta.host,
                        event.meta.timestamp,
                        serde_json::Value::Object(event.fields.clone())
                    );
                }
            }
        });
        if let Some(reason) = &summary.not_a_log {
            eprintln!("skipped: {}: {reason}", file.display());
        }
        events.fetch_add(summary.events, Ordering::Relaxed);
        bytes.fetch_add(summary.bytes, Ordering::Relaxed);
        all_problems.lock().unwrap().extend(summary.problems);
    });
    problems.extend(all_problems.into_inner().unwrap());
    for problem in &problems {
        eprintln!("problem: {problem}");
    }
    let elapsed = start.elapsed();
    println!(
        "files={} events={} bytes={} problems={} elapsed={:.3}s events/s={:.0}",
        files.len(),
        events.load(Ordering::Relaxed),
        bytes.load(Ordering::Relaxed),
        problems.len(),
        elapsed.as_secs_f64(),
        events.load(Ordering::Relaxed) as f64 / elapsed.as_secs_f64()
    );
}
