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
//!
//! Saved state ([`Detector::save`]) holds every source: its last event,
//! the logsource it was first seen with, its learned cadence (histogram
//! and sample count), the gaps kept for the end of input, the spacing of
//! its last events, the missing windows pending and found, and whether it
//! was reported silent.

use std::borrow::Cow;
use std::collections::{BTreeMap, VecDeque};

pub use crate::ids::{BACKWARDS_ID, CLOCK_JUMP_ID, GAP_ID, RECOVERED_ID, SILENT_ID};

use detect::{Detection, Detector, Level};
use events::{Event, LogSource, Meta, SourceId, Timestamp};
use serde::{Deserialize, Serialize};

use crate::config::{GapsConfig, StateConfig};
use crate::emit::{detection, entity, field};
use crate::saved::{self, RestoreError, Stamp};

const BUCKETS_PER_DOUBLING: f64 = 8.0;
const NB: usize = 8 * 48 + 2;

/// A gap between two consecutive events of a source, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Span {
    from: i64,
    to: i64,
    record: u64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Pending {
    span: Span,
    before: i64,
    after_seen: usize,
}

/// A source's key: its input and host. The text is held here only.
type SourceKey = (SourceId, Option<Box<str>>);

/// One source: 32 bytes until its second event (or a silence), then the
/// learned cadence and the reports in a box of their own.
#[derive(Debug)]
struct SourceState {
    last: i64,
    last_record: u64,
    /// Index in [`Gaps::logsources`].
    logsource: u32,
    learned: Option<Box<Learned>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Learned {
    /// Gap histogram: (bucket, count), by bucket, non-zero counts only.
    hist: Vec<(u16, u32)>,
    samples: u64,
    candidates: Vec<Span>,
    dropped: u64,
    /// The times of the events before `last`, oldest first: with `last`,
    /// the last `dense_window` event times.
    ring: VecDeque<i64>,
    pending: Vec<Pending>,
    dense: Vec<(Span, i64)>,
    silent_since: Option<i64>,
}

impl SourceState {
    fn learned(&mut self) -> &mut Learned {
        self.learned.get_or_insert_with(Box::default)
    }

    fn samples(&self) -> u64 {
        self.learned.as_ref().map_or(0, |l| l.samples)
    }
}

impl Learned {
    fn count(&mut self, bucket: usize) {
        let b = bucket as u16;
        match self.hist.binary_search_by_key(&b, |(k, _)| *k) {
            Ok(i) => self.hist[i].1 += 1,
            Err(i) => self.hist.insert(i, (b, 1)),
        }
    }
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
    sources: BTreeMap<SourceKey, SourceState>,
    /// The logsources sources were first seen with (a closed taxonomy, so
    /// few): sources hold an index here.
    logsources: Vec<LogSource>,
    max_sources: usize,
    /// The settings that shape the state, as saved state records them.
    fingerprint: String,
}

/// The version of the saved state's format.
const STATE_VERSION: u32 = 1;

/// At most this many logsources, of at most [`MAX_NAME`] bytes a name,
/// are taken back from saved state (the taxonomy is closed, so real
/// state holds a few).
const MAX_LOGSOURCES: usize = 1024;
const MAX_NAME: usize = 256;

/// Everything the detector learned from events, as saved (borrowed when
/// saving, owned when read back).
#[derive(Serialize, Deserialize)]
struct Saved<'a> {
    /// [`Gaps::logsources`], as text.
    logsources: Vec<SavedLogsourceNames<'a>>,
    /// The sources, by key.
    sources: Vec<SavedSource<'a>>,
}

#[derive(Serialize, Deserialize)]
struct SavedLogsourceNames<'a> {
    product: Option<Cow<'a, str>>,
    service: Option<Cow<'a, str>>,
    category: Option<Cow<'a, str>>,
}

#[derive(Serialize, Deserialize)]
struct SavedSource<'a> {
    source: Cow<'a, str>,
    host: Option<Cow<'a, str>>,
    last: i64,
    last_record: u64,
    logsource: u32,
    learned: Option<Cow<'a, Learned>>,
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
            // Every gap setting shapes what a source keeps; of the state
            // bounds only the key limit is used.
            fingerprint: saved::fingerprint(&(&config, state.max_keys)),
            config,
            sources: BTreeMap::new(),
            logsources: Vec::new(),
            max_sources: state.max_keys,
        }
    }

    fn stamp(&self) -> Stamp<'_> {
        Stamp {
            detector: self.name(),
            version: STATE_VERSION,
            config: &self.fingerprint,
            key_hash: None,
        }
    }

    fn saved(&self) -> Saved<'_> {
        let name = |n: Option<&'static str>| n.map(Cow::Borrowed);
        Saved {
            logsources: self
                .logsources
                .iter()
                .map(|l| SavedLogsourceNames {
                    product: name(l.product),
                    service: name(l.service),
                    category: name(l.category),
                })
                .collect(),
            sources: self
                .sources
                .iter()
                .map(|(key, s)| SavedSource {
                    source: Cow::Borrowed(&*key.0),
                    host: key.1.as_deref().map(Cow::Borrowed),
                    last: s.last,
                    last_record: s.last_record,
                    logsource: s.logsource,
                    learned: s.learned.as_deref().map(Cow::Borrowed),
                })
                .collect(),
        }
    }

    /// Decodes and checks everything before changing anything.
    fn restore_state(&mut self, bytes: &[u8]) -> Result<(), RestoreError> {
        let saved: Saved<'static> = saved::decode(&self.stamp(), bytes)?;
        let long_name = saved
            .logsources
            .iter()
            .flat_map(|l| [&l.product, &l.service, &l.category])
            .flatten()
            .any(|n| n.len() > MAX_NAME);
        if saved.logsources.len() > MAX_LOGSOURCES || long_name {
            return Err(RestoreError::Invalid(
                "too many or too long logsource names",
            ));
        }
        if saved.sources.len() > self.max_sources.max(1) {
            return Err(RestoreError::Invalid("more sources than the key limit"));
        }
        let mut sources = BTreeMap::new();
        for s in saved.sources {
            if s.logsource as usize >= saved.logsources.len() {
                return Err(RestoreError::Invalid("a source's logsource is unknown"));
            }
            let learned = s.learned.map(|l| Box::new(l.into_owned()));
            let hist = learned.as_ref().map_or(&[][..], |l| &l.hist[..]);
            if hist.iter().any(|(b, _)| usize::from(*b) >= NB)
                || hist.windows(2).any(|w| w[0].0 >= w[1].0)
            {
                return Err(RestoreError::Invalid(
                    "a gap histogram is out of order or range",
                ));
            }
            let key: SourceKey = (
                SourceId::from(s.source.into_owned()),
                s.host.map(|h| h.into_owned().into_boxed_str()),
            );
            let state = SourceState {
                last: s.last,
                last_record: s.last_record,
                logsource: s.logsource,
                learned,
            };
            if sources.insert(key, state).is_some() {
                return Err(RestoreError::Invalid("a source is saved twice"));
            }
        }
        // Checked: from here nothing fails.
        self.logsources = saved
            .logsources
            .iter()
            .map(|l| {
                LogSource::from_names(
                    l.product.as_deref(),
                    l.service.as_deref(),
                    l.category.as_deref(),
                )
            })
            .collect();
        self.sources = sources;
        Ok(())
    }

    /// Sources held.
    pub fn keys(&self) -> usize {
        self.sources.len()
    }

    fn candidate_cutoff(&self) -> i64 {
        let floor = self.config.floor.0;
        let cut = self.config.min_gap.map_or(floor, |m| m.0.min(floor));
        i64::try_from(cut).unwrap_or(i64::MAX / 1000) * 1000
    }

    fn report(
        &self,
        key: &SourceKey,
        s: &SourceState,
        span: Span,
        expected: i64,
        kind: &str,
    ) -> Detection {
        let meta = Meta {
            source: key.0.clone(),
            record: span.record,
            timestamp: ts_of(span.to),
            host: key.1.as_deref().map(str::to_string),
            logsource: self.logsources[s.logsource as usize],
        };
        let mut d = detection(GAP_ID, &meta, meta.timestamp, None);
        entity(&mut d, "host", key.1.as_deref());
        field(&mut d, "source", &*key.0);
        field(&mut d, "from", rfc3339(span.from));
        field(&mut d, "to", rfc3339(span.to));
        field(&mut d, "seconds", secs_text(span.to - span.from));
        field(&mut d, "expected_seconds", secs_text(expected));
        field(&mut d, "kind", kind);
        d
    }
}

/// The threshold (ms) of a source now, if known.
fn threshold(config: &GapsConfig, s: &SourceState) -> Option<i64> {
    if let Some(min) = config.min_gap {
        return Some(i64::try_from(min.0).unwrap_or(i64::MAX / 1000) * 1000);
    }
    let samples = s.samples();
    if samples < config.min_samples.max(1) {
        return None;
    }
    let target = (config.quantile.clamp(0.0, 1.0) * samples as f64).ceil() as u64;
    let mut cum = 0u64;
    let mut q = 0.0;
    let hist = s.learned.as_ref().map_or(&[][..], |l| &l.hist[..]);
    for (b, n) in hist {
        cum += u64::from(*n);
        if cum >= target.max(1) {
            q = bucket_upper_ms(usize::from(*b));
            break;
        }
    }
    let floor = config.floor.0 as f64 * 1000.0;
    Some((q * config.factor).max(floor) as i64)
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
        let key: SourceKey = (
            event.meta.source.clone(),
            event.meta.host.as_deref().map(Box::from),
        );
        let cutoff = self.candidate_cutoff();
        let cfg = self.config.clone();
        if !self.sources.contains_key(&key) {
            if self.sources.len() >= self.max_sources {
                // Drop the source quiet for longest (ties by key).
                if let Some(k) = self
                    .sources
                    .iter()
                    .min_by(|a, b| (a.1.last, a.0).cmp(&(b.1.last, b.0)))
                    .map(|(k, _)| k.clone())
                {
                    self.sources.remove(&k);
                }
            }
            let logsource = match self
                .logsources
                .iter()
                .position(|l| *l == event.meta.logsource)
            {
                Some(i) => i,
                None => {
                    self.logsources.push(event.meta.logsource);
                    self.logsources.len() - 1
                }
            };
            self.sources.insert(
                key,
                SourceState {
                    last: now,
                    last_record: event.meta.record,
                    logsource: u32::try_from(logsource).unwrap_or(u32::MAX),
                    learned: None,
                },
            );
            return;
        }
        let s = self.sources.get_mut(&key).expect("present");
        let (source, host) = (&key.0, key.1.as_deref());
        let step = now - s.last;
        let tolerance = i64::try_from(cfg.backwards_tolerance.0).unwrap_or(i64::MAX / 1000) * 1000;
        let jump = i64::try_from(cfg.clock_jump.0).unwrap_or(i64::MAX / 1000) * 1000;
        let span = Span {
            from: s.last,
            to: now,
            record: event.meta.record,
        };
        if let Some(since) = s.learned.as_mut().and_then(|l| l.silent_since.take()) {
            let mut d = detection(RECOVERED_ID, &event.meta, Some(ts), None);
            entity(&mut d, "host", host);
            field(&mut d, "source", &**source);
            field(&mut d, "from", rfc3339(since));
            field(&mut d, "to", rfc3339(now));
            field(&mut d, "seconds", secs_text(now - since));
            out.push(d);
        }
        if step < -tolerance {
            let mut d = detection(BACKWARDS_ID, &event.meta, Some(ts), None);
            entity(&mut d, "host", host);
            field(&mut d, "source", &**source);
            field(&mut d, "from", rfc3339(s.last));
            field(&mut d, "to", rfc3339(now));
            field(&mut d, "seconds", secs_text(step));
            field(&mut d, "previous_record", s.last_record);
            out.push(d);
            // Follow the clock from here.
            s.last = now;
            s.last_record = event.meta.record;
            if let Some(l) = &mut s.learned {
                l.ring.clear();
            }
            return;
        }
        if step < 0 {
            // Small reordering: not a sample, keep the latest time.
            return;
        }
        let last = s.last;
        let w = cfg.dense_window.max(2);
        let l = s.learned.get_or_insert_with(Box::default);
        if step > jump {
            let mut d = detection(CLOCK_JUMP_ID, &event.meta, Some(ts), None);
            entity(&mut d, "host", host);
            field(&mut d, "source", &**source);
            field(&mut d, "from", rfc3339(last));
            field(&mut d, "to", rfc3339(now));
            field(&mut d, "seconds", secs_text(step));
            out.push(d);
        } else {
            l.count(bucket(step));
            l.samples += 1;
            if step >= cutoff {
                if l.candidates.len() >= cfg.max_candidates.max(1) {
                    let (i, smallest) = l
                        .candidates
                        .iter()
                        .enumerate()
                        .min_by_key(|(_, c)| (c.to - c.from, c.from))
                        .map(|(i, c)| (i, c.to - c.from))
                        .expect("non-empty");
                    if smallest < step {
                        l.candidates.remove(i);
                        l.candidates.push(span);
                    }
                    l.dropped += 1;
                } else {
                    l.candidates.push(span);
                }
            }
            // Local density on both sides of a gap.
            let floor = i64::try_from(cfg.floor.0).unwrap_or(i64::MAX / 1000) * 1000;
            for p in &mut l.pending {
                p.after_seen += 1;
            }
            let mut confirmed = Vec::new();
            l.pending.retain(|p| {
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
            if l.dense.len() < cfg.max_candidates {
                l.dense.extend(confirmed);
            }
            // The last `w` times are the ring and `last`.
            if l.ring.len() + 1 >= w && step >= floor {
                let oldest = l.ring.front().copied().unwrap_or(last);
                let before = ((last - oldest) / (w as i64 - 1)).max(1000);
                if (step as f64) >= before as f64 * cfg.dense_factor && l.pending.len() < 64 {
                    l.pending.push(Pending {
                        span,
                        before,
                        after_seen: 0,
                    });
                }
            }
        }
        l.ring.push_back(last);
        while l.ring.len() + 1 > w {
            l.ring.pop_front();
        }
        s.last = now;
        s.last_record = event.meta.record;
    }

    fn advance(&mut self, now: Timestamp, out: &mut Vec<Detection>) {
        let now = ms(now);
        for (key, s) in &mut self.sources {
            let Some(threshold) = threshold(&self.config, s) else {
                continue;
            };
            if s.learned.as_ref().is_some_and(|l| l.silent_since.is_some())
                || now - s.last <= threshold
            {
                continue;
            }
            s.learned().silent_since = Some(s.last);
            // Dated when the source became overdue, not when the clock was
            // read: the same silence found again (a replay) is the same
            // detection.
            let meta = Meta {
                source: key.0.clone(),
                record: s.last_record,
                timestamp: ts_of(s.last.saturating_add(threshold)),
                host: key.1.as_deref().map(str::to_string),
                logsource: self.logsources[s.logsource as usize],
            };
            let mut d = detection(SILENT_ID, &meta, meta.timestamp, None);
            entity(&mut d, "host", key.1.as_deref());
            field(&mut d, "source", &*key.0);
            field(&mut d, "silent_since", rfc3339(s.last));
            field(&mut d, "expected_seconds", secs_text(threshold));
            out.push(d);
        }
    }

    fn finish(&mut self, out: &mut Vec<Detection>) {
        for (key, s) in &self.sources {
            let Some(l) = &s.learned else {
                continue;
            };
            let threshold = threshold(&self.config, s);
            let mut found: Vec<(Span, i64, &str)> = Vec::new();
            if let Some(t) = threshold {
                for c in &l.candidates {
                    if c.to - c.from > t {
                        found.push((*c, t, kind::GAP));
                    }
                }
            }
            for (span, expected) in &l.dense {
                if !found.iter().any(|(f, _, _)| f == span) {
                    found.push((*span, *expected, kind::MISSING_WINDOW));
                }
            }
            found.sort_by_key(|(span, _, _)| (span.from, span.to));
            for (span, expected, kind) in found {
                let mut d = self.report(key, s, span, expected, kind);
                if kind == kind::MISSING_WINDOW {
                    d.level = Level::Low;
                }
                if l.dropped > 0 {
                    field(&mut d, "gaps_not_kept", l.dropped);
                }
                out.push(d);
            }
        }
    }

    fn save(&self) -> Option<Vec<u8>> {
        saved::encode(&self.stamp(), self.saved())
    }

    fn restore(&mut self, state: &[u8]) -> Result<(), String> {
        self.restore_state(state).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(host: &str, secs: i64) -> Event {
        let mut meta = Meta::new(SourceId::from("input"), 1);
        meta.timestamp = Timestamp::from_unix_timestamp(secs).ok();
        meta.host = Some(host.to_string());
        Event::new(meta, events::Map::new())
    }

    /// Per-source state and key, in bytes: a source seen once holds no
    /// more than these (and its host text).
    #[test]
    fn per_source_state_is_compact() {
        assert_eq!(std::mem::size_of::<SourceState>(), 32);
        assert_eq!(std::mem::size_of::<SourceKey>(), 32);
        let mut g = Gaps::new(GapsConfig::default(), &StateConfig::default());
        let mut out = Vec::new();
        g.observe(&event("a", 1_700_000_000), &mut out);
        g.observe(&event("b", 1_700_000_000), &mut out);
        g.observe(&event("b", 1_700_000_060), &mut out);
        let learned: Vec<bool> = g.sources.values().map(|s| s.learned.is_some()).collect();
        assert_eq!(learned, [false, true]);
        assert_eq!(g.logsources.len(), 1);
    }
}
