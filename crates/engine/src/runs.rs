//! Sorted runs on disk: JSON lines, one value per line, each file sorted.
//! [`compact`] merges many runs into one, so a long run never holds more
//! than [`MAX_RUNS`] files open when it reads them back. [`Interner`] and
//! [`with_offset`] rebuild what a value read back shares with others.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use events::Timestamp;
use serde::de::DeserializeOwned;

/// Most run files kept before they are merged into one.
pub(crate) const MAX_RUNS: usize = 64;

/// The next value of one run, in a min-heap ([`BinaryHeap`] is a max-heap,
/// so the order is reversed); ties go to the earlier run, so a merge is
/// stable.
pub(crate) struct Head<T> {
    /// The value.
    pub(crate) value: T,
    /// The run it came from.
    pub(crate) run: usize,
    order: fn(&T, &T) -> Ordering,
}

impl<T> Head<T> {
    pub(crate) fn new(value: T, run: usize, order: fn(&T, &T) -> Ordering) -> Self {
        Head { value, run, order }
    }
}

impl<T> PartialEq for Head<T> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl<T> Eq for Head<T> {}

impl<T> PartialOrd for Head<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T> Ord for Head<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.order)(&other.value, &self.value).then(other.run.cmp(&self.run))
    }
}

/// The writer of a run file.
pub(crate) type RunWriter = BufWriter<File>;

/// Merges the sorted `runs` (lines of `S`, each decoded to a `T`) into the
/// one sorted file `out`, in `order`, writing each value with `encode`,
/// then removes them.
pub(crate) fn compact<S, T>(
    runs: &[PathBuf],
    out: &Path,
    mut decode: impl FnMut(S) -> T,
    encode: impl Fn(&mut RunWriter, &T) -> serde_json::Result<()>,
    order: fn(&T, &T) -> Ordering,
) -> std::io::Result<()>
where
    S: DeserializeOwned,
{
    let mut readers = Vec::with_capacity(runs.len());
    for path in runs {
        readers.push(BufReader::new(File::open(path)?).lines());
    }
    let mut next = |run: usize| -> std::io::Result<Option<T>> {
        match readers[run].next() {
            None => Ok(None),
            Some(line) => Ok(Some(decode(serde_json::from_str(&line?)?))),
        }
    };
    let mut heap = BinaryHeap::new();
    for run in 0..runs.len() {
        if let Some(v) = next(run)? {
            heap.push(Head::new(v, run, order));
        }
    }
    let mut w = BufWriter::new(File::create(out)?);
    while let Some(head) = heap.pop() {
        encode(&mut w, &head.value)?;
        w.write_all(b"\n")?;
        if let Some(v) = next(head.run)? {
            heap.push(Head::new(v, head.run, order));
        }
    }
    w.flush()?;
    drop(readers);
    for path in runs {
        std::fs::remove_file(path)?;
    }
    Ok(())
}

/// Shares the file names, and the `&'static str` names (logsources, policy
/// items), of values read back. The few distinct static names met by one
/// interner (a handful per run) are leaked once each.
#[derive(Default)]
pub(crate) struct Interner {
    sources: HashMap<String, Arc<str>>,
    names: HashMap<String, &'static str>,
}

impl Interner {
    /// The shared copy of a source name.
    pub(crate) fn source(&mut self, s: &str) -> Arc<str> {
        if let Some(a) = self.sources.get(s) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(s);
        self.sources.insert(s.to_string(), a.clone());
        a
    }

    /// The static copy of a name.
    pub(crate) fn name(&mut self, s: &str) -> &'static str {
        if let Some(n) = self.names.get(s) {
            return n;
        }
        let n: &'static str = Box::leak(s.to_string().into_boxed_str());
        self.names.insert(s.to_string(), n);
        n
    }
}

/// `t` at the UTC offset of `seconds` (UTC when it is out of range): times
/// keep the offset the log wrote them with.
pub(crate) fn with_offset(t: Timestamp, seconds: i32) -> Timestamp {
    time::UtcOffset::from_whole_seconds(seconds).map_or(t, |o| t.to_offset(o))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_merges_sorted_runs_stably_and_removes_them() {
        let dir = tempfile::tempdir().unwrap();
        // (key, tag): three sorted runs; equal keys come from several runs.
        let runs_text = [
            "[1,\"a\"]\n[4,\"a\"]\n[4,\"a2\"]\n",
            "[2,\"b\"]\n[4,\"b\"]\n",
            "[0,\"c\"]\n[9,\"c\"]\n",
        ];
        let runs: Vec<PathBuf> = runs_text
            .iter()
            .enumerate()
            .map(|(i, text)| {
                let p = dir.path().join(format!("run-{i}"));
                std::fs::write(&p, text).unwrap();
                p
            })
            .collect();
        let out = dir.path().join("merged");
        compact(
            &runs,
            &out,
            |v: (u32, String)| v,
            |w: &mut RunWriter, v: &(u32, String)| serde_json::to_writer(w, v),
            |a, b| a.0.cmp(&b.0),
        )
        .unwrap();
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "[0,\"c\"]\n[1,\"a\"]\n[2,\"b\"]\n[4,\"a\"]\n[4,\"a2\"]\n[4,\"b\"]\n[9,\"c\"]\n"
        );
        assert!(runs.iter().all(|p| !p.exists()));
    }
}
