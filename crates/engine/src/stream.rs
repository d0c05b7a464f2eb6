//! [`Stream`]: the ordered stage driven by events as they arrive, for a
//! caller that never sees the end of its input (the live server).
//!
//! [`Engine::hunt`] knows its whole input, so it sorts every kept event
//! (spilling past its memory budget) and feeds the ordered stage in exact
//! time order. A live stream cannot wait for the end. Here each source (a
//! file, a syslog peer, an HTTP sender: whatever [`events::Meta::source`]
//! names) may deliver its events out of time order by up to a *window*;
//! kept events wait in a reorder buffer until every active source has
//! moved past them, then are fed in [`Pending::order`]:
//!
//! - a source's *watermark* is the latest event time it has sent, minus
//!   the window: it promises nothing older;
//! - the stream's watermark is the lowest watermark of the sources that
//!   are active (sent something within `idle` of the caller's clock); a
//!   quiet source stops holding the others back;
//! - buffered events at or before the stream's watermark are fed, oldest
//!   first, and so is everything once no source is active.
//!
//! What does not fit is counted, never dropped:
//! - an event older than one already fed (its source was further out of
//!   order than the window, or it arrived after going quiet) is *late*: it
//!   is fed at once, out of order;
//! - an event without a time cannot be ordered, and is fed at once;
//! - past the memory budget (a source whose clock lags the others holds
//!   the watermark back), the oldest buffered events are fed early, and
//!   counted as *forced*.
//!
//! A run can be split in two, as a cluster of nodes splits it:
//! [`Stream::push_split`] matches events and returns the kept ones instead
//! of feeding them, and another stream (on another node, where every
//! source's kept events meet) feeds them to its ordered stage with
//! [`Stream::push_kept`]; [`crate::encode_kept`] and [`crate::decode_kept`]
//! carry them between the two. The split run gives what one stream gives
//! (`tests/stream.rs`).
//!
//! Correlation state expires by each rule's timespan as event time moves
//! on ([`detect::Stateful`]); policy detectors keep theirs in bounded,
//! idle-expiring maps. Memory therefore stays bounded however long the
//! stream runs. Given the same events within the window, a stream gives
//! the same detections as a hunt (`tests/golden.rs` checks it on the
//! corpus).

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap};
use std::time::Duration;

use detect::{Detection, Pending};
use events::{Event, SourceId, Timestamp};

use crate::spool::event_bytes;
use crate::{Engine, Ordered};

/// How a [`Stream`] orders events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamConfig {
    /// How far out of time order one source's events may arrive and still
    /// be fed in order. Stateful detections wait this long (in event time)
    /// for their events.
    pub window: Duration,
    /// A source that has sent nothing for this long, by the caller's clock,
    /// stops holding the others back.
    pub idle: Duration,
    /// Bytes of kept events (as estimated from their contents) held in the
    /// reorder buffer before the oldest are fed regardless of the
    /// watermark.
    pub budget: usize,
}

impl Default for StreamConfig {
    fn default() -> Self {
        StreamConfig {
            window: Duration::from_secs(5),
            idle: Duration::from_secs(5),
            budget: crate::DEFAULT_BUDGET,
        }
    }
}

/// Counts of what a [`Stream`] did with the events it was given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StreamStats {
    /// Events matched.
    pub events: u64,
    /// Events kept for the ordered stage.
    pub kept: u64,
    /// Kept events fed out of order because an event after them had
    /// already been fed.
    pub late: u64,
    /// Kept events with no time, fed as they came.
    pub undated: u64,
    /// Kept events fed before the watermark reached them, because the
    /// reorder buffer passed its budget.
    pub forced: u64,
    /// The most kept events the reorder buffer held at once.
    pub peak_buffered: usize,
}

pub(crate) struct Source {
    /// Latest event time seen.
    pub(crate) latest: Timestamp,
    /// The caller's clock when the source last sent a kept event.
    pub(crate) heard: Timestamp,
}

/// A kept event in the reorder buffer, ordered oldest first.
pub(crate) struct Queued(pub(crate) Pending);

impl PartialEq for Queued {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Queued {}
impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Queued {
    fn cmp(&self, other: &Self) -> Ordering {
        Pending::order(&self.0, &other.0)
    }
}

/// A detection run over events that keep arriving. See the module
/// documentation.
pub struct Stream<'e> {
    pub(crate) engine: &'e Engine,
    pub(crate) ordered: Ordered<'e>,
    config: StreamConfig,
    pub(crate) sources: HashMap<SourceId, Source>,
    pub(crate) buffer: BinaryHeap<Reverse<Queued>>,
    pub(crate) buffered_bytes: usize,
    /// The time of the last kept event fed in order.
    pub(crate) fed: Option<Timestamp>,
    pub(crate) stats: StreamStats,
}

impl std::fmt::Debug for Stream<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream")
            .field("config", &self.config)
            .field("sources", &self.sources.len())
            .field("buffered", &self.buffer.len())
            .field("stats", &self.stats)
            .finish()
    }
}

impl Engine {
    /// Starts a stream: a detection run over events that keep arriving.
    pub fn stream(&self, config: StreamConfig) -> Stream<'_> {
        Stream {
            engine: self,
            ordered: self.ordered(),
            config,
            sources: HashMap::new(),
            buffer: BinaryHeap::new(),
            buffered_bytes: 0,
            fed: None,
            stats: StreamStats::default(),
        }
    }
}

impl Stream<'_> {
    /// Matches a batch of events that arrived at `now` (the caller's
    /// clock). Returns the detections that are ready: every detection that
    /// needs no other event, and those of the ordered stage that the
    /// watermark has reached.
    pub fn push(&mut self, batch: Vec<Event>, now: Timestamp) -> Vec<Detection> {
        self.stats.events += batch.len() as u64;
        let (mut out, kept) = self.engine.scan(batch);
        self.accept(kept, now, &mut out);
        out
    }

    /// The keyed half of a split run: events that another stream's
    /// [`Stream::push_split`] kept (on this node or another), fed to this
    /// stream's ordered stage as they would have been there. Each is
    /// matched again for its base-rule matches; its other detections were
    /// given by the stage that kept it, and are not given again. Returns
    /// the ordered stage's detections that are ready.
    pub fn push_kept(&mut self, kept: Vec<Event>, now: Timestamp) -> Vec<Detection> {
        self.stats.events += kept.len() as u64;
        let kept = kept.into_iter().map(|e| self.engine.scan_one(e)).collect();
        let mut out = Vec::new();
        self.accept(kept, now, &mut out);
        out
    }

    /// The source half of a split run: matches a batch and returns every
    /// detection that needs no other event, with the events the ordered
    /// stage needs, which this stream does not feed: the caller hands them
    /// to a keyed stage ([`Stream::push_kept`]), where the events of every
    /// source meet. The keyed stage is split into `shards`
    /// ([`Stream::set_shard`]); each kept event comes with the shards that
    /// must see it ([`detect::Stateful::routes`]), at least one.
    pub fn push_split(
        &mut self,
        batch: Vec<Event>,
        shards: u32,
    ) -> (Vec<Detection>, Vec<(Event, Vec<u32>)>) {
        self.stats.events += batch.len() as u64;
        let (out, kept) = self.engine.scan(batch);
        self.stats.kept += kept.len() as u64;
        let shards = shards.max(1);
        let kept = kept
            .into_iter()
            .map(|p| {
                let routes = if shards == 1 {
                    vec![0]
                } else {
                    self.ordered.stage.routes(&p, shards)
                };
                (p.event, routes)
            })
            .collect();
        (out, kept)
    }

    /// Makes this stream one shard of a keyed stage split by key (see
    /// [`detect::Shard`]): its ordered stage keeps, and detects for, only
    /// the keys of `shard`, and is to be fed (with [`Stream::push_kept`])
    /// the kept events whose routes name it. Set before the first event
    /// (on a fresh or a resumed stream).
    pub fn set_shard(&mut self, shard: detect::Shard) {
        self.ordered.stage.set_shard(shard);
    }

    /// Buffers kept events (or feeds them at once when they cannot wait),
    /// then feeds what the watermark allows.
    fn accept(&mut self, kept: Vec<Pending>, now: Timestamp, out: &mut Vec<Detection>) {
        self.stats.kept += kept.len() as u64;
        for p in kept {
            let Some(t) = p.event.meta.timestamp else {
                self.stats.undated += 1;
                self.ordered.observe(&p, out);
                continue;
            };
            match self.sources.get_mut(&p.event.meta.source) {
                Some(s) => {
                    s.latest = s.latest.max(t);
                    s.heard = now;
                }
                None => {
                    self.sources.insert(
                        p.event.meta.source.clone(),
                        Source {
                            latest: t,
                            heard: now,
                        },
                    );
                }
            }
            if self.fed.is_some_and(|fed| t < fed) {
                self.stats.late += 1;
                self.ordered.observe(&p, out);
                continue;
            }
            self.buffered_bytes += event_bytes(&p.event);
            self.buffer.push(Reverse(Queued(p)));
        }
        self.stats.peak_buffered = self.stats.peak_buffered.max(self.buffer.len());
        self.release(now, out);
    }

    /// The caller's clock reached `now` with no new event: feeds what the
    /// watermark now allows (quiet sources stop holding it back), and tells
    /// the policy detectors that time has reached `now`.
    pub fn tick(&mut self, now: Timestamp) -> Vec<Detection> {
        let mut out = Vec::new();
        self.release(now, &mut out);
        self.ordered.advance(now, &mut out);
        out
    }

    /// End of input: feeds everything still buffered, in order, and
    /// finishes the ordered stage.
    pub fn finish(mut self) -> (Vec<Detection>, StreamStats) {
        let mut out = Vec::new();
        while let Some(Reverse(Queued(p))) = self.buffer.pop() {
            self.ordered.observe(&p, &mut out);
        }
        self.ordered.finish(&mut out);
        (out, self.stats)
    }

    /// What the stream has done so far.
    pub fn stats(&self) -> StreamStats {
        self.stats
    }

    /// Kept events waiting in the reorder buffer.
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    /// The stream's watermark at `now`: no active source will send an
    /// event older than this (within the window). `None` when no source is
    /// active: everything may be fed.
    fn watermark(&self, now: Timestamp) -> Option<Timestamp> {
        self.sources
            .values()
            .filter(|s| now - s.heard < self.config.idle)
            .map(|s| s.latest - self.config.window)
            .min()
    }

    /// Feeds buffered events the watermark has reached, then the oldest
    /// ones while the buffer is over its budget.
    fn release(&mut self, now: Timestamp, out: &mut Vec<Detection>) {
        let watermark = self.watermark(now);
        while let Some(Reverse(Queued(head))) = self.buffer.peek() {
            // Only dated events are buffered.
            let ready = match (watermark, head.event.meta.timestamp) {
                (Some(w), Some(t)) => t <= w,
                _ => true,
            };
            let over = self.buffered_bytes > self.config.budget;
            if !ready && !over {
                break;
            }
            let Reverse(Queued(p)) = self.buffer.pop().expect("peeked");
            self.buffered_bytes = self.buffered_bytes.saturating_sub(event_bytes(&p.event));
            if !ready {
                self.stats.forced += 1;
            }
            self.fed = p.event.meta.timestamp.or(self.fed);
            self.ordered.observe(&p, out);
        }
        // Sources quiet for long enough are forgotten: they hold nothing
        // back, and a source that comes back starts afresh.
        let idle = self.config.idle;
        self.sources.retain(|_, s| now - s.heard < idle * 4);
    }
}
