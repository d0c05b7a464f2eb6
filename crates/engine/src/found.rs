//! [`Detections`]: a run's detections, in their one stable order, held in
//! memory up to a budget and spilled to disk past it.
//!
//! A hunt prints its detections sorted, so it cannot print the first one
//! before it has seen the last. Holding them all made memory grow with the
//! input (about 1.6 KB per detection). Here, past the budget, they are
//! sorted and written to a temporary file (a run); reading them back merges
//! the runs and what is still in memory, one detection at a time.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Lines, Write};
use std::path::PathBuf;

use detect::{Detection, Level};
use events::{LogSource, Timestamp};

use crate::runs::{Head, Interner, RunWriter, with_offset};

/// The one stable order of detections: time, file, record, rule id, rule
/// title, then the rest of the content.
pub fn detection_order(a: &Detection, b: &Detection) -> Ordering {
    (
        a.timestamp,
        &a.file,
        a.record,
        &a.rule_id,
        &a.rule_title,
        a.level,
        &a.fields,
        &a.entities,
    )
        .cmp(&(
            b.timestamp,
            &b.file,
            b.record,
            &b.rule_id,
            &b.rule_title,
            b.level,
            &b.fields,
            &b.entities,
        ))
}

/// Sorts detections into [`detection_order`].
pub fn sort_detections(detections: &mut [Detection]) {
    detections.sort_by(detection_order);
}

/// Detections being collected, with a memory budget.
pub(crate) struct Collector {
    budget: usize,
    min_level: Option<Level>,
    buf: Vec<Detection>,
    buf_bytes: usize,
    dir: Option<tempfile::TempDir>,
    runs: Vec<PathBuf>,
    len: usize,
    per_level: [usize; 5],
    /// Why spilling stopped working, if it did (the detections then stay
    /// in memory: nothing is lost).
    pub(crate) spill_error: Option<String>,
}

impl Collector {
    pub(crate) fn new(budget: usize, min_level: Option<Level>) -> Self {
        Collector {
            budget,
            min_level,
            buf: Vec::new(),
            buf_bytes: 0,
            dir: None,
            runs: Vec::new(),
            len: 0,
            per_level: [0; 5],
            spill_error: None,
        }
    }

    /// Keeps detections at or above the minimum level; spills past the
    /// budget.
    pub(crate) fn extend(&mut self, found: impl IntoIterator<Item = Detection>) {
        for d in found {
            if self.min_level.is_some_and(|min| d.level < min) {
                continue;
            }
            self.len += 1;
            self.per_level[level_index(d.level)] += 1;
            self.buf_bytes += detection_bytes(&d);
            self.buf.push(d);
        }
        if self.buf_bytes > self.budget
            && self.spill_error.is_none()
            && let Err(e) = self.spill()
        {
            self.spill_error = Some(e.to_string());
        }
    }

    fn spill(&mut self) -> std::io::Result<()> {
        if self.dir.is_none() {
            self.dir = Some(
                tempfile::Builder::new()
                    .prefix("watchpost-detections")
                    .tempdir()?,
            );
        }
        let dir = self
            .dir
            .as_ref()
            .expect("created above")
            .path()
            .to_path_buf();
        let spilled = self.len - self.buf.len();
        if self.runs.len() >= crate::runs::MAX_RUNS {
            let merged = dir.join(format!("merged-{spilled}"));
            let mut names = Interner::default();
            crate::runs::compact(
                &self.runs,
                &merged,
                |s: Spilled| s.into_detection(&mut names),
                |w: &mut RunWriter, d: &Detection| serde_json::to_writer(w, &Spilled::from(d)),
                detection_order,
            )?;
            self.runs = vec![merged];
        }
        let path = dir.join(format!("run-{spilled}"));
        let mut out = BufWriter::new(File::create(&path)?);
        sort_detections(&mut self.buf);
        for d in &self.buf {
            serde_json::to_writer(&mut out, &Spilled::from(d))?;
            out.write_all(b"\n")?;
        }
        out.flush()?;
        self.runs.push(path);
        self.buf = Vec::new();
        self.buf_bytes = 0;
        Ok(())
    }

    pub(crate) fn finish(mut self) -> Detections {
        sort_detections(&mut self.buf);
        Detections {
            mem: self.buf,
            runs: self.runs,
            _dir: self.dir,
            len: self.len,
            per_level: self.per_level,
        }
    }
}

fn level_index(level: Level) -> usize {
    Level::ALL.iter().position(|l| *l == level).unwrap_or(0)
}

/// A run's detections in [`detection_order`], in memory or partly spilled
/// to temporary files (removed when this is dropped).
#[derive(Debug, Default)]
pub struct Detections {
    mem: Vec<Detection>,
    runs: Vec<PathBuf>,
    _dir: Option<tempfile::TempDir>,
    len: usize,
    per_level: [usize; 5],
}

impl Detections {
    /// How many detections there are.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many detections have this level.
    pub fn count(&self, level: Level) -> usize {
        self.per_level[level_index(level)]
    }

    /// How many detections were spilled to disk.
    pub fn spilled(&self) -> usize {
        self.len - self.mem.len()
    }

    /// Every detection, in [`detection_order`]. May be called any number of
    /// times; spilled detections are read back from disk each time. A run
    /// that cannot be read back ends the iteration with an error item.
    pub fn iter(&self) -> impl Iterator<Item = Result<Detection, String>> + '_ {
        Merge::new(&self.mem, &self.runs)
    }

    /// Every detection, in order, in memory (for tests and small runs).
    pub fn to_vec(&self) -> Result<Vec<Detection>, String> {
        self.iter().collect()
    }
}

/// Merges the in-memory detections with the spilled runs.
struct Merge<'a> {
    mem: std::iter::Peekable<std::slice::Iter<'a, Detection>>,
    readers: Vec<Lines<BufReader<File>>>,
    heap: BinaryHeap<Head<Detection>>,
    names: Interner,
    error: Option<String>,
    started: bool,
    runs: &'a [PathBuf],
}

impl<'a> Merge<'a> {
    fn new(mem: &'a [Detection], runs: &'a [PathBuf]) -> Self {
        Merge {
            mem: mem.iter().peekable(),
            readers: Vec::new(),
            heap: BinaryHeap::new(),
            names: Interner::default(),
            error: None,
            started: false,
            runs,
        }
    }

    fn read(&mut self, run: usize) -> Result<Option<Detection>, String> {
        match self.readers[run].next() {
            None => Ok(None),
            Some(line) => {
                let line = line.map_err(|e| format!("reading spilled detections: {e}"))?;
                let s: Spilled =
                    serde_json::from_str(&line).map_err(|e| format!("spilled detections: {e}"))?;
                Ok(Some(s.into_detection(&mut self.names)))
            }
        }
    }

    fn start(&mut self) -> Result<(), String> {
        for path in self.runs {
            let file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
            self.readers.push(BufReader::new(file).lines());
        }
        for run in 0..self.readers.len() {
            if let Some(d) = self.read(run)? {
                self.heap.push(Head::new(d, run, detection_order));
            }
        }
        Ok(())
    }
}

impl Iterator for Merge<'_> {
    type Item = Result<Detection, String>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.error.is_some() {
            return None;
        }
        if !self.started {
            self.started = true;
            if let Err(e) = self.start() {
                self.error = Some(e.clone());
                return Some(Err(e));
            }
        }
        let from_memory = match (self.mem.peek(), self.heap.peek()) {
            (None, None) => return None,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(m), Some(h)) => detection_order(m, &h.value) != Ordering::Greater,
        };
        if from_memory {
            return self.mem.next().cloned().map(Ok);
        }
        let head = self.heap.pop().expect("peeked");
        match self.read(head.run) {
            Ok(Some(d)) => self.heap.push(Head::new(d, head.run, detection_order)),
            Ok(None) => {}
            Err(e) => {
                self.error = Some(e.clone());
                return Some(Err(e));
            }
        }
        Some(Ok(head.value))
    }
}

/// A detection as written to disk.
#[derive(serde::Serialize, serde::Deserialize)]
struct Spilled {
    id: String,
    title: String,
    level: String,
    t: Option<i128>,
    /// The time's UTC offset, in seconds (times keep the offset the log
    /// wrote them with).
    #[serde(default)]
    o: i32,
    file: String,
    record: u64,
    host: Option<String>,
    p: Option<String>,
    v: Option<String>,
    c: Option<String>,
    policy: Option<String>,
    entities: BTreeMap<String, String>,
    fields: BTreeMap<String, String>,
}

impl From<&Detection> for Spilled {
    fn from(d: &Detection) -> Self {
        Spilled {
            id: d.rule_id.clone(),
            title: d.rule_title.clone(),
            level: d.level.as_str().to_string(),
            t: d.timestamp.map(Timestamp::unix_timestamp_nanos),
            o: d.timestamp.map_or(0, |t| t.offset().whole_seconds()),
            file: d.file.to_string(),
            record: d.record,
            host: d.host.clone(),
            p: d.logsource.product.map(str::to_string),
            v: d.logsource.service.map(str::to_string),
            c: d.logsource.category.map(str::to_string),
            policy: d.policy.map(str::to_string),
            entities: d.entities.clone(),
            fields: d.fields.clone(),
        }
    }
}

impl Spilled {
    fn into_detection(self, names: &mut Interner) -> Detection {
        Detection {
            rule_id: self.id,
            rule_title: self.title,
            level: Level::parse(&self.level).unwrap_or(Level::Informational),
            timestamp: self
                .t
                .and_then(|t| Timestamp::from_unix_timestamp_nanos(t).ok())
                .map(|t| with_offset(t, self.o)),
            file: names.source(&self.file),
            record: self.record,
            host: self.host,
            logsource: LogSource {
                product: self.p.map(|p| names.name(&p)),
                service: self.v.map(|v| names.name(&v)),
                category: self.c.map(|c| names.name(&c)),
            },
            policy: self.policy.map(|p| names.name(&p)),
            entities: self.entities,
            fields: self.fields,
        }
    }
}

/// An estimate of the memory a detection takes.
fn detection_bytes(d: &Detection) -> usize {
    let map = |m: &BTreeMap<String, String>| -> usize {
        if m.is_empty() {
            0
        } else {
            // A B-tree leaf, plus each entry's two strings.
            560 + m.iter().map(|(k, v)| 32 + k.len() + v.len()).sum::<usize>()
        }
    };
    std::mem::size_of::<Detection>()
        + d.rule_id.len()
        + d.rule_title.len()
        + d.host.as_ref().map_or(0, String::len)
        + 48
        + map(&d.fields)
        + map(&d.entities)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn detection(second: i64, record: u64) -> Detection {
        Detection {
            rule_id: format!("r{record}"),
            rule_title: "t".into(),
            level: if record.is_multiple_of(2) {
                Level::High
            } else {
                Level::Low
            },
            // Odd records keep a +03:00 offset, as an access log writes it.
            timestamp: Timestamp::from_unix_timestamp(1_700_000_000 + second)
                .ok()
                .map(|t| {
                    if record % 2 == 1 {
                        t.to_offset(time::macros::offset!(+3))
                    } else {
                        t
                    }
                }),
            file: Arc::from("f.log"),
            record,
            host: Some("h".into()),
            logsource: LogSource::service("linux", "auth"),
            policy: Some("brute_force"),
            entities: BTreeMap::from([("user".to_string(), "root".to_string())]),
            fields: BTreeMap::from([("k".to_string(), format!("v{record}"))]),
        }
    }

    #[test]
    fn spilled_runs_merge_back_in_order_and_compact() {
        // 300 detections pushed one by one, latest first, with a budget of
        // 0: each push is a run, and every 64 runs are merged into one.
        let mut c = Collector::new(0, None);
        for record in (1..=300u64).rev() {
            c.extend([detection(record as i64, record)]);
        }
        assert!(c.runs.len() <= MAX_RUNS_CHECK, "{} runs", c.runs.len());
        let all = c.finish();
        assert_eq!(all.len(), 300);
        assert_eq!(all.spilled(), 300);
        assert_eq!(all.count(Level::High), 150);
        let got = all.to_vec().unwrap();
        let records: Vec<u64> = got.iter().map(|d| d.record).collect();
        assert_eq!(records, (1..=300).collect::<Vec<u64>>());
        // Everything survives the trip to disk, the time's offset too.
        assert_eq!(got[41], detection(42, 42));
        assert_eq!(got[40], detection(41, 41));
        assert_eq!(got[40].timestamp.unwrap().offset().whole_hours(), 3);
        // And a second read gives the same.
        assert_eq!(all.to_vec().unwrap(), got);
    }

    #[test]
    fn levels_below_the_minimum_are_dropped() {
        let mut c = Collector::new(usize::MAX, Some(Level::Medium));
        c.extend((1..=10).map(|r| detection(r as i64, r)));
        let all = c.finish();
        assert_eq!(all.len(), 5);
        assert_eq!(all.spilled(), 0);
        assert!(all.to_vec().unwrap().iter().all(|d| d.level == Level::High));
    }

    const MAX_RUNS_CHECK: usize = crate::runs::MAX_RUNS + 1;
}
