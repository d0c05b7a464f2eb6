//! [`Gaps`]: missing time spans per log source, time going backwards,
//! clock jumps, and (live) sources gone silent.
//!
//! A source is one input and host (`Meta.source`, `Meta.host`). For each
//! source the detector keeps a log-scale histogram of inter-arrival gaps
//! (its cadence), the largest gaps seen, and the spacing of the last few
//! events. Events must arrive in the source's own order (file order), so
//! that time going backwards can be seen.
//!
//! - **Threshold**: `gaps.min_gap` when set; otherwise learned per source
//!   as the `quantile` (0.99) of its gaps times `factor` (4), never below
//!   `floor` (5 min), and only once the source has `min_samples` gaps. The
//!   quantile is read from the histogram (8 buckets per doubling), so it
//!   is rounded up by at most 9%.
//! - **Gaps** above the threshold are reported at the end of input, with
//!   `from` (last event before) and `to` (first event after).
//! - **Missing windows**: a gap at least `dense_factor` times the local
//!   spacing of the `dense_window` events on each side (and at least
//!   `floor`) is reported even below the learned threshold.
//! - **Backwards / clock jumps** are reported as they are seen.
//! - **Live**: [`Detector::advance`] reports "silent since T" once a source
//!   has been quiet longer than its threshold, and a recovery when events
//!   return.

use std::collections::{BTreeMap, VecDeque};

pub use crate::ids::{BACKWARDS_ID, CLOCK_JUMP_ID, GAP_ID, RECOVERED_ID, SILENT_ID};

use detect::{Detection, Detector, Level};
use events::{Event, LogSource, Meta, SourceId, Timestamp};

use crate::config::{GapsConfig, StateConfig};
use crate::emit::{detection, entity, field};

const BUCKETS_PER_DOUBLING: f64 = 8.0;
const NB: usize = 8 * 48 + 2;

/// A gap between two consecutive events of a source, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    from: i64,
    to: i64,
    record: u64,
}

#[derive(Debug, Clone, Copy)]
struct Pending {
    span: Span,
    before: i64,
    after_seen: usize,
}

#[derive(Debug)]
struct SourceState {
    source: SourceId,
    host: Option<String>,
    logsource: LogSource,
    last: i64,
    last_record: u64,
    hist: Vec<u32>,
    samples: u64,
    candidates: Vec<Span>,
    dropped: u64,
    ring: VecDeque<i64>,
    pending: Vec<Pending>,
    dense: Vec<(Span, i64)>,
    silent_since: Option<i64>,
}

/// Kinds of gap reports, as the `kind` field names them.
pub mod kind {
    /// Longer than the source's threshold.
    pub const GAP: &str = "gap";
    /// A window missing between dense neighbours.
    pub const MISSING_WINDOW: &str = "missing_window";
}

/// The gap detector.
#[derive(Debug)]
pub struct Gaps {
    config: GapsConfig,
    sources: BTreeMap<(SourceId, Option<String>), SourceState>,
    max_sources: usize,
}

fn bucket(gap_ms: i64) -> usize {
    if gap_ms <= 0 {
        return 0;
    }
    let b = ((gap_ms as f64).log2() * BUCKETS_PER_DOUBLING).floor() as usize + 1;
    b.min(NB - 1)
}

fn bucket_upper_ms(b: usize) -> f64 {
    if b == 0 {
        return 0.0;
    }
    2f64.powf(b as f64 / BUCKETS_PER_DOUBLING)
}

fn ms(ts: Timestamp) -> i64 {
    (ts.unix_timestamp_nanos() / 1_000_000) as i64
}

fn ts_of(ms: i64) -> Option<Timestamp> {
    Timestamp::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()
}

fn rfc3339(ms: i64) -> String {
    ts_of(ms)
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| ms.to_string())
}

impl Gaps {
    /// A detector with the given settings.
    pub fn new(config: GapsConfig, state: &StateConfig) -> Self {
        Self {
            config,
            sources: BTreeMap::new(),
            max_sources: state.max_keys,
        }
    }

    /// Sources held.
    pub fn keys(&self) -> usize {
        self.sources.len()
    }

    /// The threshold (ms) of a source now, if known.
    fn threshold(&self, s: &SourceState) -> Option<i64> {
        if let Some(min) = self.config.min_gap {
            return Some(i64::try_from(min.0).unwrap_or(i64::MAX / 1000) * 1000);
        }
        if s.samples < self.config.min_samples.max(1) {
            return None;
        }
        let target = (self.config.quantile.clamp(0.0, 1.0) * s.samples as f64).ceil() as u64;
        let mut cum = 0u64;
        let mut q = 0.0;
        for (b, n) in s.hist.iter().enumerate() {
            cum += u64::from(*n);
            if cum >= target.max(1) {
                q = bucket_upper_ms(b);
                break;
            }
        }
        let floor = self.config.floor.0 as f64 * 1000.0;
        Some((q * self.config.factor).max(floor) as i64)
    }

    fn candidate_cutoff(&self) -> i64 {
        let floor = self.config.floor.0;
        let cut = self.config.min_gap.map_or(floor, |m| m.0.min(floor));
        i64::try_from(cut).unwrap_or(i64::MAX / 1000) * 1000
    }

    fn report(&self, s: &SourceState, span: Span, expected: i64, kind: &str) -> Detection {
        let meta = Meta {
            source: s.source.clone(),
            record: span.record,
            timestamp: ts_of(span.to),
            host: s.host.clone(),
            logsource: s.logsource,
        };
        let mut d = detection(GAP_ID, &meta, meta.timestamp, None);
        entity(&mut d, "host", s.host.as_deref());
        field(&mut d, "source", &*s.source);
        field(&mut d, "from", rfc3339(span.from));
        field(&mut d, "to", rfc3339(span.to));
        field(&mut d, "seconds", secs_text(span.to - span.from));
        field(&mut d, "expected_seconds", secs_text(expected));
        field(&mut d, "kind", kind);
        d
    }
}

/// Milliseconds as seconds text (`1234.5`, `60`).
fn secs_text(ms: i64) -> String {
    if ms % 1000 == 0 {
        (ms / 1000).to_string()
    } else {
        format!("{:.3}", ms as f64 / 1000.0)
    }
}

/// The events the detector wants (its [`detect::Selector`]).
fn wants(event: &Event) -> bool {
    event.meta.timestamp.is_some()
}

impl Detector for Gaps {
    fn name(&self) -> &'static str {
        "gaps"
    }

    fn selector(&self) -> std::sync::Arc<dyn detect::Selector> {
        std::sync::Arc::new(wants)
    }

    fn observe(&mut self, event: &Event, out: &mut Vec<Detection>) {
        let Some(ts) = event.meta.timestamp else {
            return;
        };
        let now = ms(ts);
        let key = (event.meta.source.clone(), event.meta.host.clone());
        let cutoff = self.candidate_cutoff();
        let cfg = self.config.clone();
        if !self.sources.contains_key(&key) {
            if self.sources.len() >= self.max_sources {
                // Drop the source quiet for longest (ties by key).
                if let Some(k) = self
                    .sources
                    .iter()
                    .min_by_key(|(k, s)| (s.last, (*k).clone()))
                    .map(|(k, _)| k.clone())
                {
                    self.sources.remove(&k);
                }
            }
            self.sources.insert(
                key,
                SourceState {
                    source: event.meta.source.clone(),
                    host: event.meta.host.clone(),
                    logsource: event.meta.logsource,
                    last: now,
                    last_record: event.meta.record,
                    hist: vec![0; NB],
                    samples: 0,
                    candidates: Vec::new(),
                    dropped: 0,
                    ring: VecDeque::from([now]),
                    pending: Vec::new(),
                    dense: Vec::new(),
                    silent_since: None,
                },
            );
            return;
        }
        let s = self.sources.get_mut(&key).expect("present");
        let step = now - s.last;
        let tolerance = i64::try_from(cfg.backwards_tolerance.0).unwrap_or(i64::MAX / 1000) * 1000;
        let jump = i64::try_from(cfg.clock_jump.0).unwrap_or(i64::MAX / 1000) * 1000;
        let span = Span {
            from: s.last,
            to: now,
            record: event.meta.record,
        };
        if let Some(since) = s.silent_since.take() {
            let mut d = detection(RECOVERED_ID, &event.meta, Some(ts), None);
            entity(&mut d, "host", s.host.as_deref());
            field(&mut d, "source", &*s.source);
            field(&mut d, "from", rfc3339(since));
            field(&mut d, "to", rfc3339(now));
            field(&mut d, "seconds", secs_text(now - since));
            out.push(d);
        }
        if step < -tolerance {
            let mut d = detection(BACKWARDS_ID, &event.meta, Some(ts), None);
            entity(&mut d, "host", s.host.as_deref());
            field(&mut d, "source", &*s.source);
            field(&mut d, "from", rfc3339(s.last));
            field(&mut d, "to", rfc3339(now));
            field(&mut d, "seconds", secs_text(step));
            field(&mut d, "previous_record", s.last_record);
            out.push(d);
            // Follow the clock from here.
            s.last = now;
            s.last_record = event.meta.record;
            s.ring.clear();
            s.ring.push_back(now);
            return;
        }
        if step < 0 {
            // Small reordering: not a sample, keep the latest time.
            return;
        }
        if step > jump {
            let mut d = detection(CLOCK_JUMP_ID, &event.meta, Some(ts), None);
            entity(&mut d, "host", s.host.as_deref());
            field(&mut d, "source", &*s.source);
            field(&mut d, "from", rfc3339(s.last));
            field(&mut d, "to", rfc3339(now));
            field(&mut d, "seconds", secs_text(step));
            out.push(d);
        } else {
            s.hist[bucket(step)] += 1;
            s.samples += 1;
            if step >= cutoff {
                if s.candidates.len() >= cfg.max_candidates.max(1) {
                    let (i, smallest) = s
                        .candidates
                        .iter()
                        .enumerate()
                        .min_by_key(|(_, c)| (c.to - c.from, c.from))
                        .map(|(i, c)| (i, c.to - c.from))
                        .expect("non-empty");
                    if smallest < step {
                        s.candidates.remove(i);
                        s.candidates.push(span);
                    }
                    s.dropped += 1;
                } else {
                    s.candidates.push(span);
                }
            }
            // Local density on both sides of a gap.
            let w = cfg.dense_window.max(2);
            let floor = i64::try_from(cfg.floor.0).unwrap_or(i64::MAX / 1000) * 1000;
            for p in &mut s.pending {
                p.after_seen += 1;
            }
            let mut confirmed = Vec::new();
            s.pending.retain(|p| {
                if p.after_seen + 1 < w {
                    return true;
                }
                let after = ((now - p.span.to) / (w as i64 - 1)).max(1000);
                let local = p.before.max(after);
                let expected = ((local as f64) * cfg.dense_factor) as i64;
                let g = p.span.to - p.span.from;
                if g >= expected.max(floor) {
                    confirmed.push((p.span, expected.max(floor)));
                }
                false
            });
            if s.dense.len() < cfg.max_candidates {
                s.dense.extend(confirmed);
            }
            if s.ring.len() >= w && step >= floor {
                let before = ((s.last - s.ring[0]) / (w as i64 - 1)).max(1000);
                if (step as f64) >= before as f64 * cfg.dense_factor && s.pending.len() < 64 {
                    s.pending.push(Pending {
                        span,
                        before,
                        after_seen: 0,
                    });
                }
            }
        }
        s.ring.push_back(now);
        while s.ring.len() > cfg.dense_window.max(2) {
            s.ring.pop_front();
        }
        s.last = now;
        s.last_record = event.meta.record;
    }

    fn advance(&mut self, now: Timestamp, out: &mut Vec<Detection>) {
        let now = ms(now);
        let keys: Vec<_> = self.sources.keys().cloned().collect();
        for key in keys {
            let threshold = match self.threshold(&self.sources[&key]) {
                Some(t) => t,
                None => continue,
            };
            let s = self.sources.get_mut(&key).expect("present");
            if s.silent_since.is_some() || now - s.last <= threshold {
                continue;
            }
            s.silent_since = Some(s.last);
            let meta = Meta {
                source: s.source.clone(),
                record: s.last_record,
                timestamp: ts_of(now),
                host: s.host.clone(),
                logsource: s.logsource,
            };
            let mut d = detection(SILENT_ID, &meta, meta.timestamp, None);
            entity(&mut d, "host", s.host.as_deref());
            field(&mut d, "source", &*s.source);
            field(&mut d, "silent_since", rfc3339(s.last));
            field(&mut d, "seconds", secs_text(now - s.last));
            field(&mut d, "expected_seconds", secs_text(threshold));
            out.push(d);
        }
    }

    fn finish(&mut self, out: &mut Vec<Detection>) {
        for s in self.sources.values() {
            let threshold = self.threshold(s);
            let mut found: Vec<(Span, i64, &str)> = Vec::new();
            if let Some(t) = threshold {
                for c in &s.candidates {
                    if c.to - c.from > t {
                        found.push((*c, t, kind::GAP));
                    }
                }
            }
            for (span, expected) in &s.dense {
                if !found.iter().any(|(f, _, _)| f == span) {
                    found.push((*span, *expected, kind::MISSING_WINDOW));
                }
            }
            found.sort_by_key(|(span, _, _)| (span.from, span.to));
            for (span, expected, kind) in found {
                let mut d = self.report(s, span, expected, kind);
                if kind == kind::MISSING_WINDOW {
                    d.level = Level::Low;
                }
                if s.dropped > 0 {
                    field(&mut d, "gaps_not_kept", s.dropped);
                }
                out.push(d);
            }
        }
    }
}
