//! Sorted runs on disk: JSON lines, one value per line, each file sorted.
//! [`compact`] merges many runs into one, so a long run never holds more
//! than [`MAX_RUNS`] files open when it reads them back.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Most run files kept before they are merged into one.
pub(crate) const MAX_RUNS: usize = 64;

/// Merges the sorted `runs` into the one sorted file `out` (by `key`, ties
/// to the earlier run), then removes them.
pub(crate) fn compact<T, K>(
    runs: &[PathBuf],
    out: &Path,
    mut key: impl FnMut(&T) -> K,
) -> std::io::Result<()>
where
    T: Serialize + DeserializeOwned,
    K: Ord,
{
    let mut readers = Vec::with_capacity(runs.len());
    for path in runs {
        readers.push(BufReader::new(File::open(path)?).lines());
    }
    fn read<T: DeserializeOwned>(
        r: &mut std::io::Lines<BufReader<File>>,
    ) -> std::io::Result<Option<T>> {
        match r.next() {
            None => Ok(None),
            Some(line) => Ok(Some(serde_json::from_str(&line?)?)),
        }
    }
    let mut heap = BinaryHeap::new();
    let mut values: Vec<Option<T>> = Vec::with_capacity(runs.len());
    for (i, r) in readers.iter_mut().enumerate() {
        let v = read(r)?;
        if let Some(v) = &v {
            heap.push(Reverse((key(v), i)));
        }
        values.push(v);
    }
    let mut w = BufWriter::new(File::create(out)?);
    while let Some(Reverse((_, i))) = heap.pop() {
        let v = values[i].take().expect("a value waits for each heap entry");
        serde_json::to_writer(&mut w, &v)?;
        w.write_all(b"\n")?;
        if let Some(next) = read(&mut readers[i])? {
            heap.push(Reverse((key(&next), i)));
            values[i] = Some(next);
        }
    }
    w.flush()?;
    drop(readers);
    for path in runs {
        std::fs::remove_file(path)?;
    }
    Ok(())
}
