//! The detection of one partition on the node that holds its lease.
//!
//! A thread of its own: it resumes the partition's checkpoint, recreates
//! the partition's durable consumer from the sequence the checkpoint
//! covers, then reads messages in order, drives an [`engine::Stream`],
//! stores every detection as an alert, and every `checkpoint_millis`
//! writes the detector state with the next sequence to read, then
//! acknowledges the messages the checkpoint covers. It stops when told
//! (the partition moves, the node stops), when its checkpoint is fenced
//! (the lease was lost), or when the node is stopping and the store cannot
//! be reached.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, AckKind};
use detect::{Detection, Detector as _, Level};
use engine::{Engine, StreamConfig};
use events::Event;
use futures_util::StreamExt as _;
use incidents::Store;
use sources::TimeZone;
use time::OffsetDateTime;

use super::bus::Bus;
use super::coord::Coord;
use super::{ClusterSettings, ClusterStats, StopFlag, frame};
use crate::ingest::record::{self, SourceIds};
use crate::ingest::worker::{self, StoredKeys};
use crate::ingest::{Shared, checkpoint};

/// Messages fetched at a time.
const FETCH: usize = 32;
/// How long a fetch waits for messages.
const FETCH_WAIT: Duration = Duration::from_millis(200);
/// How often the stream is ticked while caught up.
const TICK_EVERY: Duration = Duration::from_secs(1);
/// How often the consumer's lag is read.
const LAG_EVERY: Duration = Duration::from_secs(2);
/// Bits of a record number that number the record within its message.
const RECORD_BITS: u32 = 20;

/// What every partition worker of a node shares.
pub(in crate::ingest) struct Ctx {
    pub shared: Arc<Shared>,
    pub bus: Arc<Bus>,
    pub coord: Arc<tokio::sync::Mutex<Option<Coord>>>,
    pub store: Arc<dyn Store>,
    pub runtime: tokio::runtime::Handle,
    pub stream: StreamConfig,
    pub incident_level: Level,
    pub timezone: TimeZone,
    pub settings: Arc<ClusterSettings>,
    pub stats: Arc<ClusterStats>,
}

/// The least time the keyed stage waits for a quiet source. Kept events
/// reach it one publish and one fetch after their source partition saw
/// them, partitions on different nodes run at their own pace, and a
/// partition whose node died waits for another to take it over (its
/// checkpoint read, its consumer made again): a source's next event may
/// come this much later than the other sources' events of the same time.
/// Later than this, it is fed late (out of time order) and counted.
const KEYED_IDLE_MIN: Duration = Duration::from_secs(10);

/// The keyed stage's stream settings: the node's, waiting at least
/// [`KEYED_IDLE_MIN`] for a quiet source.
fn keyed_config(config: StreamConfig) -> StreamConfig {
    StreamConfig {
        idle: config.idle.max(KEYED_IDLE_MIN),
        ..config
    }
}

/// The record number of record `index` of the message at `seq`.
fn record_number(seq: u64, index: usize) -> u64 {
    (seq << RECORD_BITS) | index as u64
}

/// How the worker ended.
#[derive(Debug, PartialEq, Eq)]
pub(in crate::ingest) enum Ended {
    /// Told to stop; the last checkpoint was written (or could not be).
    Stopped,
    /// The lease is gone: a checkpoint was refused.
    Fenced,
}

/// Runs partition `p` until `stop` is set or its lease is lost.
pub(in crate::ingest) fn run(ctx: &Ctx, p: u32, stop: &StopFlag) -> Ended {
    let rt = &ctx.runtime;
    let mut ids = SourceIds::default();
    let mut stored = StoredKeys::default();
    loop {
        let engine = ctx.shared.running_engine();
        let saved = loop {
            match rt.block_on(load(ctx, p)) {
                Ok(saved) => break saved,
                Err(reason) => {
                    if stop.load(Ordering::Relaxed) {
                        return Ended::Stopped;
                    }
                    tracing::warn!(partition = p, %reason, "cannot read the partition's checkpoint; retrying");
                    wait(stop, Duration::from_secs(1));
                }
            }
        };
        let shard = ctx.settings.keyed_shard(p);
        let keyed = shard.is_some();
        let config = if keyed {
            keyed_config(ctx.stream)
        } else {
            ctx.stream
        };
        let (mut stream, mut gaps, mut next, mut latest) = resume(&engine, config, p, saved);
        if let Some(shard) = shard {
            // The keys of this shard only.
            stream.set_shard(shard);
            // Gaps are a source's own: its source partition finds them.
            gaps = None;
        }
        let mut consumer = loop {
            match rt.block_on(ctx.bus.consumer(p, next)) {
                Ok(c) => break c,
                Err(error) => {
                    ctx.stats.jetstream_up.store(false, Ordering::Relaxed);
                    if stop.load(Ordering::Relaxed) {
                        return Ended::Stopped;
                    }
                    tracing::warn!(partition = p, %error, "cannot create the partition's consumer; retrying");
                    wait(stop, Duration::from_secs(1));
                }
            }
        };
        tracing::info!(partition = p, from_sequence = next, "partition started");
        // Processed messages waiting for a checkpoint to be acknowledged.
        let mut held: Vec<jetstream::Message> = Vec::new();
        // Sequences of unreadable messages handed back for redelivery.
        let mut retrying: HashSet<u64> = HashSet::new();
        let mut dirty = false;
        let mut last_checkpoint = Instant::now();
        let mut last_tick = Instant::now();
        let mut last_lag = Instant::now() - LAG_EVERY;
        let mut fetch_failures = 0u32;
        let ended = loop {
            if stop.load(Ordering::Relaxed) {
                break None;
            }
            if !Arc::ptr_eq(&engine, &ctx.shared.running_engine()) {
                tracing::info!(
                    partition = p,
                    "rules reloaded: the partition restarts on the new rules"
                );
                break Some(());
            }
            if last_lag.elapsed() >= LAG_EVERY {
                last_lag = Instant::now();
                if let Ok(Ok(info)) = rt.block_on(async {
                    tokio::time::timeout(Duration::from_secs(2), consumer.info()).await
                }) {
                    ctx.stats
                        .set_lag(p, info.num_pending, info.num_ack_pending as u64);
                }
            }
            let fetched = rt.block_on(fetch(&consumer));
            let messages = match fetched {
                Ok(m) => {
                    fetch_failures = 0;
                    ctx.stats.jetstream_up.store(true, Ordering::Relaxed);
                    m
                }
                Err(error) => {
                    ctx.stats.jetstream_up.store(false, Ordering::Relaxed);
                    fetch_failures += 1;
                    if fetch_failures == 1 || fetch_failures.is_multiple_of(30) {
                        tracing::warn!(partition = p, %error, "cannot fetch from JetStream; retrying");
                    }
                    wait(stop, Duration::from_millis(500));
                    // The consumer may be gone (a NATS restart with its
                    // state lost, or an operator): make it again from
                    // what this worker has processed.
                    if fetch_failures.is_multiple_of(4)
                        && let Ok(c) = rt.block_on(ctx.bus.consumer(p, next))
                    {
                        consumer = c;
                    }
                    continue;
                }
            };
            let caught_up = messages.len() < FETCH;
            // When each message was published, with its events, for the
            // latency histogram once they are done with.
            let mut published: Vec<(OffsetDateTime, u64)> = Vec::new();
            let mut events: Vec<Event> = Vec::new();
            let mut records: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
            // In the keyed partition: the kept events the messages carry.
            let mut kept_in: Vec<Event> = Vec::new();
            for message in messages {
                let Ok(info) = message.info() else {
                    // Not a JetStream delivery: nothing to acknowledge.
                    continue;
                };
                let (seq, delivered, at) = (info.stream_sequence, info.delivered, info.published);
                if seq < next && !retrying.contains(&seq) {
                    // Delivered again (its acknowledgement waited too
                    // long): already processed.
                    held.push(message);
                    continue;
                }
                match frame::unpack(&message.payload) {
                    Err(reason) => {
                        ctx.stats
                            .unreadable_deliveries
                            .fetch_add(1, Ordering::Relaxed);
                        next = next.max(seq + 1);
                        if delivered >= ctx.settings.max_deliver {
                            let subject = message.subject.to_string();
                            match rt.block_on(ctx.bus.dead_letter(
                                p,
                                seq,
                                &subject,
                                message.payload.clone(),
                                &reason,
                            )) {
                                Ok(()) => {
                                    tracing::warn!(partition = p, seq, deliveries = delivered, %reason, "a message that cannot be read moved to the dead-letter subject");
                                    retrying.remove(&seq);
                                    let _ = rt.block_on(message.ack_with(AckKind::Term));
                                }
                                Err(error) => {
                                    tracing::warn!(partition = p, seq, %error, "cannot dead-letter a message; it is delivered again");
                                    let _ = rt.block_on(
                                        message
                                            .ack_with(AckKind::Nak(Some(Duration::from_secs(1)))),
                                    );
                                }
                            }
                        } else {
                            retrying.insert(seq);
                            let _ = rt.block_on(message.ack_with(AckKind::Nak(None)));
                        }
                    }
                    Ok(frames) => {
                        if !keyed {
                            published.push((at, frames.len() as u64));
                        }
                        for (i, bytes) in frames.into_iter().enumerate() {
                            let unreadable = |what: &str, reason: String| {
                                ctx.shared
                                    .metrics
                                    .unreadable
                                    .fetch_add(1, Ordering::Relaxed);
                                tracing::warn!(partition = p, seq, record = i, %reason, "{what}");
                            };
                            if keyed {
                                match engine::decode_kept(bytes) {
                                    Ok(event) => kept_in.push(event),
                                    Err(reason) => {
                                        unreadable("a kept event cannot be decoded", reason);
                                    }
                                }
                                continue;
                            }
                            let number = record_number(seq, i);
                            match record::decode(bytes) {
                                Ok(r) => {
                                    let source = ids.get(r.source);
                                    match record::parse(&r, &source, number, &ctx.timezone) {
                                        Ok(parsed) => {
                                            ctx.shared.health.observe(number, r.received, &parsed);
                                            events.extend(parsed);
                                            records.insert(number, bytes.to_vec());
                                        }
                                        Err(reason) => {
                                            unreadable("a record no longer parses", reason);
                                        }
                                    }
                                }
                                Err(reason) => unreadable("a record cannot be decoded", reason),
                            }
                        }
                        next = next.max(seq + 1);
                        held.push(message);
                        dirty = true;
                    }
                }
            }
            let count = events.len() as u64;
            let mut detections: Vec<Detection> = Vec::new();
            for e in &events {
                if let Some(t) = e.meta.timestamp.map(OffsetDateTime::unix_timestamp) {
                    latest = latest.max(Some(t));
                }
            }
            if let Some(gaps) = gaps.as_mut() {
                for e in &events {
                    gaps.observe(e, &mut detections);
                }
            }
            if !kept_in.is_empty() {
                let n = kept_in.len() as u64;
                detections.extend(stream.push_kept(kept_in, OffsetDateTime::now_utc()));
                ctx.stats.kept_processed.fetch_add(n, Ordering::Relaxed);
            }
            if !events.is_empty() {
                // Matching that needs no other event is done here; the
                // events the ordered stage needs go to the keyed stage,
                // where every source's meet, before anything of this
                // batch is checkpointed or acknowledged.
                let (direct, kept) = stream.push_split(events, ctx.settings.keyed_partitions);
                detections.extend(direct);
                if !kept.is_empty() && !hand_over(ctx, p, &kept, stop) {
                    return Ended::Stopped;
                }
            }
            if caught_up && last_tick.elapsed() >= TICK_EVERY {
                last_tick = Instant::now();
                let buffered = stream.buffered();
                detections.extend(worker::tick(&mut stream, gaps.as_mut()));
                dirty |= stream.buffered() != buffered;
            }
            if !detections.is_empty() {
                dirty = true;
            }
            let ok = worker::deliver(
                &ctx.shared,
                rt,
                ctx.store.as_ref(),
                &mut stored,
                ctx.incident_level,
                detections,
                &mut |d| evidence(ctx, d, &records),
            );
            if !ok {
                // Stopping with the store unreachable: nothing more is
                // checkpointed or acknowledged; the next owner redoes it.
                return Ended::Stopped;
            }
            let now = OffsetDateTime::now_utc();
            for (at, n) in published {
                ctx.shared
                    .observe_latency_secs(n, (now - at).as_seconds_f64().max(0.0));
            }
            ctx.stats.set_buffered(p, stream.buffered());
            // `count` is the source records' events (none in the keyed
            // partition, whose events were counted where they came in).
            ctx.shared
                .metrics
                .events
                .fetch_add(count, Ordering::Relaxed);
            ctx.stats.processed.fetch_add(count, Ordering::Relaxed);
            if (dirty || !held.is_empty())
                && last_checkpoint.elapsed() >= ctx.settings.checkpoint_every
            {
                last_checkpoint = Instant::now();
                match checkpoint(ctx, p, &stream, gaps.as_ref(), next, latest, &mut held) {
                    Ok(true) => dirty = false,
                    Ok(false) => return Ended::Fenced,
                    Err(()) => {}
                }
            }
        };
        // Stopping, or restarting on new rules: checkpoint what was done.
        if (dirty || !held.is_empty())
            && let Ok(false) = checkpoint(ctx, p, &stream, gaps.as_ref(), next, latest, &mut held)
        {
            return Ended::Fenced;
        }
        ctx.stats.drop_lag(p);
        match ended {
            None => return Ended::Stopped,
            Some(()) => continue,
        }
    }
}

/// Publishes the kept events of a batch to the keyed stage's partitions
/// their routes name, one source message and shard at a time (their ids
/// then do not depend on how messages were fetched), retrying until
/// JetStream acknowledges them. `false`: told to stop first; nothing of
/// the batch may then be acknowledged.
fn hand_over(ctx: &Ctx, p: u32, kept: &[(Event, Vec<u32>)], stop: &StopFlag) -> bool {
    let limit = ctx.bus.max_record();
    let mut by_message: BTreeMap<(u64, u32), Vec<Vec<u8>>> = BTreeMap::new();
    for (event, routes) in kept {
        let bytes = engine::encode_kept(event);
        if bytes.len() > limit {
            // Only a record near the message size limit, whose fields
            // take more room than its line: it had its other detections,
            // and is counted, not handed over.
            ctx.shared
                .metrics
                .unreadable
                .fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                partition = p,
                record = event.meta.record,
                bytes = bytes.len(),
                "a kept event is too large to hand to the keyed stage"
            );
            continue;
        }
        let seq = event.meta.record >> RECORD_BITS;
        for &shard in routes {
            by_message
                .entry((seq, shard))
                .or_default()
                .push(bytes.clone());
        }
    }
    for ((seq, shard), events) in by_message {
        let mut failures = 0u32;
        loop {
            match ctx
                .runtime
                .block_on(ctx.bus.publish_kept(seq, shard, &events))
            {
                Ok(()) => break,
                Err(error) => {
                    failures += 1;
                    if failures == 1 || failures.is_multiple_of(30) {
                        tracing::warn!(partition = p, seq, shard, %error, "cannot hand kept events to the keyed stage; retrying");
                    }
                    if stop.load(Ordering::Relaxed) {
                        return false;
                    }
                    wait(stop, Duration::from_millis(500));
                }
            }
        }
    }
    true
}

/// Reads up to [`FETCH`] messages, waiting at most [`FETCH_WAIT`].
async fn fetch(
    consumer: &jetstream::consumer::PullConsumer,
) -> Result<Vec<jetstream::Message>, String> {
    let mut batch = consumer
        .batch()
        .max_messages(FETCH)
        .expires(FETCH_WAIT)
        .messages()
        .await
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    while let Some(m) = batch.next().await {
        out.push(m.map_err(|e| e.to_string())?);
    }
    Ok(out)
}

/// Partition `p`'s checkpoint from PostgreSQL.
async fn load(ctx: &Ctx, p: u32) -> Result<Option<(u64, Vec<u8>)>, String> {
    let mut guard = ctx.coord.lock().await;
    let coord = guard.as_mut().ok_or("no PostgreSQL session")?;
    coord.checkpoint(p).await.map_err(|e| e.to_string())
}

/// The stream, gap detector, next sequence and latest event time of a
/// partition: from its checkpoint when there is a usable one, else fresh
/// (from the checkpoint's sequence when it names one).
fn resume(
    engine: &Engine,
    config: StreamConfig,
    p: u32,
    saved: Option<(u64, Vec<u8>)>,
) -> (
    engine::Stream<'_>,
    Option<policy::gaps::Gaps>,
    u64,
    Option<i64>,
) {
    let fresh_gaps = || {
        engine
            .policy()
            .map(|c| policy::gaps::Gaps::new(worker::live_gaps(&c.gaps), &c.state))
    };
    let Some((next, bytes)) = saved else {
        return (engine.stream(config), fresh_gaps(), 0, None);
    };
    let restored = checkpoint::decode(&bytes).and_then(|saved| {
        let stream = engine.resume(config, &saved.stream)?;
        let mut gaps = fresh_gaps();
        if let (Some(g), Some(bytes)) = (gaps.as_mut(), saved.gaps.as_deref()) {
            g.restore(bytes)
                .map_err(|e| format!("the gap detector: {e}"))?;
        }
        Ok((stream, gaps, saved.position.latest))
    });
    match restored {
        Ok((stream, gaps, latest)) => {
            tracing::info!(
                partition = p,
                next,
                buffered = stream.buffered(),
                "resumed the partition from its checkpoint"
            );
            (stream, gaps, next, latest)
        }
        Err(reason) => {
            tracing::warn!(partition = p, next, %reason, "the partition's checkpoint cannot be resumed (other rules or version); detector state starts empty from its sequence");
            (engine.stream(config), fresh_gaps(), next, None)
        }
    }
}

/// Writes the checkpoint, then acknowledges the messages it covers.
/// `Ok(false)`: fenced (the lease is gone). `Err`: PostgreSQL could not be
/// reached; the messages stay unacknowledged and are tried again later.
fn checkpoint(
    ctx: &Ctx,
    p: u32,
    stream: &engine::Stream<'_>,
    gaps: Option<&policy::gaps::Gaps>,
    next: u64,
    latest: Option<i64>,
    held: &mut Vec<jetstream::Message>,
) -> Result<bool, ()> {
    let bytes = checkpoint::encode(
        &checkpoint::Position::new(next, latest, Vec::new()),
        &stream.save(),
        gaps.and_then(|g| g.save()).as_deref(),
    );
    let written = ctx.runtime.block_on(async {
        let mut guard = ctx.coord.lock().await;
        let coord = guard
            .as_mut()
            .ok_or_else(|| "no PostgreSQL session".to_owned())?;
        coord
            .save_checkpoint(p, next, &bytes)
            .await
            .map_err(|e| e.to_string())
    });
    match written {
        Ok(true) => {
            ctx.stats.checkpoints.fetch_add(1, Ordering::Relaxed);
            let messages = std::mem::take(held);
            ctx.runtime.block_on(async {
                for m in &messages {
                    if let Err(error) = m.ack().await {
                        tracing::debug!(partition = p, %error, "an acknowledgement was not sent; the message comes again and is skipped");
                    }
                }
            });
            Ok(true)
        }
        Ok(false) => {
            ctx.stats.fenced.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                partition = p,
                "the partition's lease is gone: its checkpoint was refused, and another node takes over"
            );
            Ok(false)
        }
        Err(reason) => {
            tracing::warn!(partition = p, %reason, "cannot write the partition's checkpoint; its messages stay unacknowledged");
            Err(())
        }
    }
}

/// The evidence of a detection: its record from this batch, else read
/// back from JetStream by its message's sequence.
fn evidence(
    ctx: &Ctx,
    d: &Detection,
    records: &BTreeMap<u64, Vec<u8>>,
) -> (Vec<u8>, serde_json::Value) {
    if let Some(bytes) = records.get(&d.record) {
        return worker::evidence_from(d, Some(bytes));
    }
    let seq = d.record >> RECORD_BITS;
    let index = (d.record & ((1 << RECORD_BITS) - 1)) as usize;
    let payload = ctx.runtime.block_on(async {
        tokio::time::timeout(Duration::from_secs(2), ctx.bus.message(seq))
            .await
            .ok()
            .flatten()
    });
    let record = payload
        .as_deref()
        .and_then(|p| frame::unpack(p).ok())
        .and_then(|frames| frames.get(index).map(|r| r.to_vec()));
    worker::evidence_from(d, record.as_deref())
}

/// Waits `timeout`, or less when `stop` is set.
fn wait(stop: &StopFlag, timeout: Duration) {
    let until = Instant::now() + timeout;
    while !stop.load(Ordering::Relaxed) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20).min(until - Instant::now()));
    }
}
