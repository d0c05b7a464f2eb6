//! Integration tests of the sources crate: authored fixtures, bad input, and
//! the real-world corpus (`corpus_*`, reading `$WATCHPOST_CORPUS`).

mod bad_input;
mod corpus;
mod fixtures;
mod fuzz_inputs;
mod memory;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use events::Event;
use watchpost_sources::{FileSummary, Format, read_file};

/// Reads a file and returns its events sorted by record number, with the
/// summary.
pub fn read_all(path: &Path, format: Option<Format>) -> (Vec<Event>, FileSummary) {
    let events = Mutex::new(Vec::new());
    let summary = read_file(path, format, &Default::default(), &|batch| {
        events.lock().unwrap().extend(batch);
    });
    let mut events = events.into_inner().unwrap();
    events.sort_by_key(|e| e.meta.record);
    (events, summary)
}

/// The authored fixtures directory.
pub fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// The corpus root, from `$WATCHPOST_CORPUS`.
pub fn corpus() -> PathBuf {
    let root = std::env::var_os("WATCHPOST_CORPUS")
        .expect("WATCHPOST_CORPUS must point at the shared corpus (for example ../shared/data)");
    let root = PathBuf::from(root);
    assert!(
        root.is_dir(),
        "WATCHPOST_CORPUS={} is not a directory",
        root.display()
    );
    root
}
