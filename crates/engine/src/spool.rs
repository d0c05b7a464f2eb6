//! [`Spool`]: the events a run keeps for its ordered stage, held in memory
//! up to a budget and spilled to disk past it, then handed back in
//! [`Pending::order`].
//!
//! The ordered stage needs every kept event before it can feed the first
//! one (files are read in parallel, in no time order), so a long hunt used
//! to hold them all in memory. Here, once the kept events pass the budget,
//! they are sorted and written to a temporary file (a run); at the end the
//! runs and what is still in memory are merged, one event at a time. Memory
//! stays near the budget however large the input.
//!
//! A spilled event is written as JSON (its fields and metadata). Its
//! base-rule matches are not written: they are found again, when it is
//! read back, by matching it once more ([`Engine::scan_one`]); matching is
//! deterministic, so the result is the same.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};

use detect::Pending;
use events::{Event, LogSource, Map, Meta, SourceId, Timestamp, Value};

use crate::Engine;
use crate::runs::{Head, Interner, RunWriter, with_offset};

/// The default budget: bytes of kept events (and, separately, of
/// detections) held in memory before they are spilled, as estimated from
/// their contents. Measured on the EVTX corpus ×10 and ×30 (peak RSS of
/// `hunt` with the SigmaHQ Windows rules): 4 MiB keeps the two within 2%
/// (89.6 and 88.2 MiB); 8 MiB let ×30 grow by 13%, 32 MiB by half.
pub const DEFAULT_BUDGET: usize = 4 * 1024 * 1024;

/// Kept events of one run.
pub(crate) struct Spool {
    budget: usize,
    buf: Vec<Pending>,
    buf_bytes: usize,
    dir: Option<tempfile::TempDir>,
    runs: Vec<std::path::PathBuf>,
    /// Events kept.
    pub(crate) kept: u64,
    /// Events written to disk.
    pub(crate) spilled: u64,
    /// Why spilling stopped working, if it did (the events then stay in
    /// memory: nothing is lost).
    pub(crate) spill_error: Option<String>,
}

impl Spool {
    pub(crate) fn new(budget: usize) -> Self {
        Spool {
            budget,
            buf: Vec::new(),
            buf_bytes: 0,
            dir: None,
            runs: Vec::new(),
            kept: 0,
            spilled: 0,
            spill_error: None,
        }
    }

    /// Keeps events; spills when the budget is passed.
    pub(crate) fn extend(&mut self, kept: Vec<Pending>) {
        self.kept += kept.len() as u64;
        for p in kept {
            self.buf_bytes += event_bytes(&p.event);
            self.buf.push(p);
        }
        if self.buf_bytes > self.budget
            && self.spill_error.is_none()
            && let Err(e) = self.spill()
        {
            self.spill_error = Some(e.to_string());
        }
    }

    /// Sorts the buffer and writes it out as one run.
    fn spill(&mut self) -> std::io::Result<()> {
        if self.dir.is_none() {
            self.dir = Some(
                tempfile::Builder::new()
                    .prefix("watchpost-spool")
                    .tempdir()?,
            );
        }
        let dir = self
            .dir
            .as_ref()
            .expect("created above")
            .path()
            .to_path_buf();
        if self.runs.len() >= crate::runs::MAX_RUNS {
            let merged = dir.join(format!("merged-{}", self.spilled));
            crate::runs::compact(
                &self.runs,
                &merged,
                |s: Spilled| s,
                |w: &mut RunWriter, s: &Spilled| serde_json::to_writer(w, s),
                |a, b| (a.t, &a.s, a.r).cmp(&(b.t, &b.s, b.r)),
            )?;
            self.runs = vec![merged];
        }
        let path = dir.join(format!("run-{}", self.spilled));
        let mut out = BufWriter::new(File::create(&path)?);
        self.buf.sort_by(Pending::order);
        for p in &self.buf {
            serde_json::to_writer(&mut out, &Spilled::from(&p.event))?;
            out.write_all(b"\n")?;
        }
        out.flush()?;
        self.spilled += self.buf.len() as u64;
        self.runs.push(path);
        self.buf = Vec::new();
        self.buf_bytes = 0;
        Ok(())
    }

    /// Feeds every kept event, in [`Pending::order`], to `feed`. Spilled
    /// events are matched again by `engine` as they are read back.
    pub(crate) fn drain(
        mut self,
        engine: &Engine,
        mut feed: impl FnMut(&Pending),
    ) -> Result<(), String> {
        self.buf.sort_by(Pending::order);
        if self.runs.is_empty() {
            for p in &self.buf {
                feed(p);
            }
            return Ok(());
        }
        let mut names = Interner::default();
        let mut readers = Vec::new();
        for path in &self.runs {
            let file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
            readers.push(BufReader::new(file).lines());
        }
        let mut heap = BinaryHeap::new();
        let next = |i: usize,
                    readers: &mut Vec<std::io::Lines<BufReader<File>>>,
                    names: &mut Interner|
         -> Result<Option<Pending>, String> {
            match readers[i].next() {
                None => Ok(None),
                Some(line) => {
                    let line = line.map_err(|e| format!("reading the spool: {e}"))?;
                    let s: Spilled =
                        serde_json::from_str(&line).map_err(|e| format!("spool: {e}"))?;
                    Ok(Some(engine.scan_one(s.into_event(names))))
                }
            }
        };
        for i in 0..readers.len() {
            if let Some(p) = next(i, &mut readers, &mut names)? {
                heap.push(Head::new(p, i, Pending::order));
            }
        }
        let mut memory = self.buf.iter().peekable();
        loop {
            let from_memory = match (memory.peek(), heap.peek()) {
                (None, None) => break,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (Some(m), Some(h)) => Pending::order(m, &h.value) != Ordering::Greater,
            };
            if from_memory {
                feed(memory.next().expect("peeked"));
            } else {
                let head = heap.pop().expect("peeked");
                feed(&head.value);
                if let Some(p) = next(head.run, &mut readers, &mut names)? {
                    heap.push(Head::new(p, head.run, Pending::order));
                }
            }
        }
        Ok(())
    }
}

/// An event as written to the spool.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct Spilled {
    s: String,
    r: u64,
    t: Option<i128>,
    /// The time's UTC offset, in seconds (times keep the offset the log
    /// wrote them with).
    #[serde(default)]
    o: i32,
    h: Option<String>,
    p: Option<String>,
    v: Option<String>,
    c: Option<String>,
    f: Map<String, Value>,
}

impl From<&Event> for Spilled {
    fn from(e: &Event) -> Self {
        Spilled {
            s: e.meta.source.to_string(),
            r: e.meta.record,
            t: e.meta.timestamp.map(Timestamp::unix_timestamp_nanos),
            o: e.meta.timestamp.map_or(0, |t| t.offset().whole_seconds()),
            h: e.meta.host.clone(),
            p: e.meta.logsource.product.map(str::to_string),
            v: e.meta.logsource.service.map(str::to_string),
            c: e.meta.logsource.category.map(str::to_string),
            f: e.fields.clone(),
        }
    }
}

impl Spilled {
    pub(crate) fn into_event(self, names: &mut Interner) -> Event {
        let source = names.source(&self.s);
        let logsource = LogSource {
            product: self.p.as_deref().map(|p| names.name(p)),
            service: self.v.as_deref().map(|v| names.name(v)),
            category: self.c.as_deref().map(|c| names.name(c)),
        };
        self.with(source, logsource)
    }

    /// The event, with its source and logsource names as the caller shares
    /// them.
    fn with(self, source: SourceId, logsource: LogSource) -> Event {
        let mut meta = Meta::new(source, self.r);
        meta.timestamp = self
            .t
            .and_then(|t| Timestamp::from_unix_timestamp_nanos(t).ok())
            .map(|t| with_offset(t, self.o));
        meta.host = self.h;
        meta.logsource = logsource;
        Event::new(meta, self.f)
    }
}

/// A kept event as bytes, for a cluster's keyed stage on another node
/// ([`Stream::push_kept`](crate::Stream::push_kept)): the spool's JSON
/// form of its fields and metadata. Its base-rule matches are not written:
/// the receiver matches the event again, as a spool read back does.
pub fn encode_kept(event: &Event) -> Vec<u8> {
    serde_json::to_vec(&Spilled::from(event)).unwrap_or_default()
}

/// The longest logsource name [`decode_kept`] accepts (the taxonomy's are
/// far shorter; names are kept once per process, so they are bounded).
const MAX_NAME: usize = 64;

/// An event from [`encode_kept`]'s bytes; an error names what is wrong.
pub fn decode_kept(bytes: &[u8]) -> Result<Event, String> {
    let s: Spilled = serde_json::from_slice(bytes).map_err(|e| format!("kept event: {e}"))?;
    for name in [&s.p, &s.v, &s.c].into_iter().flatten() {
        if name.len() > MAX_NAME {
            return Err(format!(
                "kept event: a logsource name of {} bytes (at most {MAX_NAME})",
                name.len()
            ));
        }
    }
    let source = SourceId::from(s.s.as_str());
    let logsource = LogSource::from_names(s.p.as_deref(), s.v.as_deref(), s.c.as_deref());
    Ok(s.with(source, logsource))
}

/// An estimate of the memory an event takes: its text plus a fixed cost
/// per JSON value and per map entry.
pub(crate) fn event_bytes(e: &Event) -> usize {
    fn value(v: &Value) -> usize {
        32 + match v {
            Value::String(s) => s.len(),
            Value::Array(a) => a.iter().map(value).sum(),
            Value::Object(m) => map(m),
            _ => 0,
        }
    }
    fn map(m: &Map<String, Value>) -> usize {
        m.iter().map(|(k, v)| 48 + k.len() + value(v)).sum()
    }
    256 + map(&e.fields) + e.meta.host.as_ref().map_or(0, String::len)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn an_event_survives_the_trip_to_disk_with_its_offset() {
        let mut meta = Meta::new(Arc::from("access.log"), 7);
        meta.timestamp = Some(time::macros::datetime!(2016-12-22 15:19:06 +03:00));
        meta.host = Some("web1".into());
        meta.logsource = LogSource::service("apache", "access");
        let mut fields = Map::new();
        fields.insert("cs-method".into(), Value::from("GET"));
        let event = Event::new(meta, fields);
        let line = serde_json::to_string(&Spilled::from(&event)).unwrap();
        let back = serde_json::from_str::<Spilled>(&line)
            .unwrap()
            .into_event(&mut Interner::default());
        assert_eq!(back, event);
        let t = back.meta.timestamp.unwrap();
        assert_eq!((t.hour(), t.offset().whole_hours()), (15, 3));
        // The keyed stage's hand-off gives the same event.
        assert_eq!(decode_kept(&encode_kept(&event)).unwrap(), event);
    }

    #[test]
    fn a_kept_event_that_is_not_one_is_refused_with_its_reason() {
        assert!(
            decode_kept(b"{\"s\":1}")
                .unwrap_err()
                .starts_with("kept event: ")
        );
        assert!(decode_kept(b"\xff").is_err());
        let long = format!(
            "{{\"s\":\"a\",\"r\":1,\"t\":null,\"h\":null,\"p\":\"{}\",\"v\":null,\"c\":null,\"f\":{{}}}}",
            "x".repeat(65)
        );
        assert_eq!(
            decode_kept(long.as_bytes()).unwrap_err(),
            "kept event: a logsource name of 65 bytes (at most 64)"
        );
    }
}
