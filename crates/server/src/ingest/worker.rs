//! The detection worker: one thread that reads the spool in order, parses
//! each record, drives [`engine::Stream`], stores every detection as an
//! alert, and moves the spool's committed offset.
//!
//! # Checkpoints and the committed offset
//!
//! Every few seconds (`checkpoint_interval_secs`, default 5) the worker
//! saves its detector state with the offset it has processed up to
//! ([`super::checkpoint`]): the stream's reorder buffer and correlation
//! windows, the policy detectors (login-failure windows, performance
//! baselines, reboot history) and the live gap detector's learned
//! cadences. A checkpoint is written only once every detection of the
//! events before its offset is stored. After a crash, detection resumes
//! from the checkpoint with that state and reads on from its offset, so a
//! replay finds no alert twice and misses none, however long ago the state
//! was built.
//!
//! The spool's committed offset is separate: it says which records may be
//! deleted. It stays a *replay horizon* of event time behind the newest
//! event (and never passes the last checkpoint), so that a rule reload can
//! replay recent events through the new rules, and so that a checkpoint
//! that cannot be used (saved under other rules or another version,
//! damaged, deleted) falls back to replaying from the committed offset,
//! which rebuilds the state a detection within the horizon needs. Alerts
//! found again carry the key they had the first time
//! ([`super::alerts::alert_key`]), and the store does not store them
//! twice. When the spool passes half its cap the worker commits up to its
//! last checkpoint instead, and logs that the replay depth was cut (events
//! are never refused for want of replay depth).

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use detect::{Detection, Detector as _, Level};
use engine::{Engine, StreamConfig};
use events::Event;
use incidents::access::Viewer;
use incidents::{Store, StoreError};
use serde_json::{Value, json};
use sources::{Format, TimeZone};
use time::OffsetDateTime;

use super::record::{self, SourceIds};
use super::{Shared, alerts};

/// Records read from the spool at a time.
const READ_BATCH: usize = 4096;
/// How often the committed offset is written at most.
const COMMIT_EVERY: Duration = Duration::from_secs(1);
/// How long the worker waits for records before ticking the stream.
const IDLE_WAIT: Duration = Duration::from_millis(100);
/// How often the stream is ticked while records keep arriving (so a
/// source can be seen to fall silent while others are busy).
const TICK_EVERY: Duration = Duration::from_secs(1);

/// Most batches remembered for the committed offset; past it, a new
/// batch is merged into the last one (which then commits later, never
/// earlier).
const MAX_READS: usize = 4096;

/// Where and how often the worker checkpoints.
pub(super) struct CheckpointConfig {
    pub path: PathBuf,
    pub every: Duration,
}

/// What the worker needs besides the shared state.
pub(super) struct WorkerConfig {
    pub engine: Arc<Engine>,
    pub store: Arc<dyn Store>,
    pub runtime: tokio::runtime::Handle,
    pub stream: StreamConfig,
    pub incident_level: Level,
    /// The configured replay horizon (`None`: from the running rules).
    pub replay_horizon: Option<Duration>,
    pub timezone: TimeZone,
    /// `None`: no checkpoints (a restart replays from the committed
    /// offset).
    pub checkpoint: Option<CheckpointConfig>,
}

/// A batch read from the spool, kept until the committed offset passes it.
struct Read {
    start: u64,
    /// The latest event time in it (`None`: no event had a time).
    latest: Option<i64>,
}

/// Runs until `shared.stop` is set.
pub(super) fn run(shared: Arc<Shared>, config: WorkerConfig) {
    let WorkerConfig {
        engine,
        store,
        runtime,
        stream: stream_config,
        incident_level,
        replay_horizon,
        timezone,
        checkpoint,
    } = config;
    let spool = &shared.spool;
    let mut ids = SourceIds::default();
    // Whether every detection was stored (false only when stopping while
    // the store is unreachable: then nothing more is processed or
    // committed, and a restart finds the same detections again).
    let mut stored = StoredKeys::default();
    let mut deliver = |detections: Vec<Detection>, batch: &[(u64, Vec<u8>)]| -> bool {
        deliver(
            &shared,
            &runtime,
            store.as_ref(),
            &mut stored,
            incident_level,
            detections,
            &mut |d| evidence(d, batch, &shared),
        )
    };
    let mut engine = engine;
    // A checkpoint is resumed at start only: after a reload, the new rules
    // replay from the committed offset.
    let mut starting = true;
    // One pass per set of rules: a reload starts a new stream on the new
    // engine from the committed offset, so the replay rebuilds detector
    // state under the new rules, and alerts found again are not stored
    // twice (their keys).
    'engines: loop {
        let horizon = horizon_of(&engine, replay_horizon, stream_config.window);
        tracing::info!(
            replay_horizon_secs = horizon,
            "detection replays this much event time after a restart without a usable checkpoint"
        );
        let resumed = if std::mem::take(&mut starting) {
            checkpoint
                .as_ref()
                .and_then(|c| resume(&engine, stream_config, &c.path, &shared))
        } else {
            None
        };
        let from_checkpoint = resumed.is_some();
        // The gap detector sees every event, in the spool's order (each
        // source's own order), beside the stream rather than through its
        // reorder buffer, which keeps only the events some rule or
        // detector wants. Rebuilt with the stream, or resumed with it.
        let (mut stream, mut gaps, mut pos, mut reads, mut latest) = match resumed {
            Some(r) => (r.stream, r.gaps, r.offset, r.reads, r.latest),
            None => (
                engine.stream(stream_config),
                engine
                    .policy()
                    .map(|p| policy::gaps::Gaps::new(live_gaps(&p.gaps), &p.state)),
                spool.committed(),
                VecDeque::new(),
                None,
            ),
        };
        shared.processed.store(pos, Ordering::Release);
        let replay_end = spool.end();
        tracing::info!(
            from = pos,
            to = replay_end,
            checkpoint = from_checkpoint,
            "detection started"
        );
        if replay_end > pos {
            tracing::info!(
                from = pos,
                to = replay_end,
                "replaying spooled events from the {}",
                if from_checkpoint {
                    "checkpoint"
                } else {
                    "committed offset"
                }
            );
        }
        // The offset of the last checkpoint written (or resumed): the
        // committed offset never passes it.
        let mut checkpointed = pos;
        // Whether state changed since the last checkpoint.
        let mut dirty = false;
        let mut last_commit = Instant::now();
        let mut last_tick = Instant::now();
        let mut last_checkpoint = Instant::now();
        let mut crowded = false;
        let save = |stream: &engine::Stream<'_>,
                    gaps: Option<&policy::gaps::Gaps>,
                    pos: u64,
                    latest: Option<i64>,
                    reads: &VecDeque<Read>,
                    checkpointed: &mut u64| {
            let Some(config) = &checkpoint else {
                return;
            };
            let started = Instant::now();
            let position = super::checkpoint::Position::new(
                pos,
                latest,
                reads.iter().map(|r| (r.start, r.latest)).collect(),
            );
            let bytes = super::checkpoint::encode(
                &position,
                &stream.save(),
                gaps.and_then(|g| g.save()).as_deref(),
            );
            match super::checkpoint::write(&config.path, &bytes) {
                Ok(()) => {
                    *checkpointed = pos;
                    let m = &shared.metrics;
                    m.checkpoints.fetch_add(1, Ordering::Relaxed);
                    m.checkpoint_offset.store(pos, Ordering::Relaxed);
                    m.checkpoint_bytes
                        .store(bytes.len() as u64, Ordering::Relaxed);
                    m.checkpoint_micros
                        .store(started.elapsed().as_micros() as u64, Ordering::Relaxed);
                }
                Err(error) => {
                    shared
                        .metrics
                        .checkpoint_failures
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::error!(
                        path = %config.path.display(),
                        %error,
                        "cannot write the detection checkpoint; the committed offset waits"
                    );
                }
            }
        };
        while !shared.stop.load(Ordering::Relaxed) {
            if let Some(new) = shared.take_reload() {
                drop(stream);
                engine = new;
                continue 'engines;
            }
            let batch = match spool.read_from(pos, READ_BATCH) {
                Ok(batch) => batch,
                Err(error) => {
                    tracing::error!(%error, offset = pos, "cannot read the event spool; retrying");
                    shared.wait_stop(Duration::from_secs(1));
                    continue;
                }
            };
            if batch.is_empty() {
                if !spool.wait_for(pos, IDLE_WAIT) {
                    let buffered = stream.buffered();
                    let detections = tick(&mut stream, gaps.as_mut());
                    last_tick = Instant::now();
                    dirty |= !detections.is_empty() || stream.buffered() != buffered;
                    if !deliver(detections, &[]) {
                        return;
                    }
                    shared.set_buffered(stream.buffered());
                }
                if dirty && last_checkpoint.elapsed() >= checkpoint_every(checkpoint.as_ref()) {
                    save(
                        &stream,
                        gaps.as_ref(),
                        pos,
                        latest,
                        &reads,
                        &mut checkpointed,
                    );
                    last_checkpoint = Instant::now();
                    dirty = false;
                }
                // A checkpoint written while idle lets the committed
                // offset move on.
                if !reads.is_empty() && last_commit.elapsed() >= COMMIT_EVERY {
                    commit(
                        &shared,
                        &mut reads,
                        latest,
                        horizon,
                        pos,
                        checkpointed,
                        &mut crowded,
                    );
                    last_commit = Instant::now();
                }
                continue;
            }
            let start = batch[0].0;
            let mut events: Vec<Event> = Vec::with_capacity(batch.len());
            let mut batch_latest = None;
            for (offset, bytes) in &batch {
                match record::decode(bytes) {
                    Ok(r) => {
                        let source = ids.get(r.source);
                        match record::parse(&r, &source, *offset, &timezone) {
                            Ok(parsed) => {
                                shared.health.observe(*offset, r.received, &parsed);
                                events.extend(parsed);
                            }
                            Err(reason) => {
                                shared.metrics.unreadable.fetch_add(1, Ordering::Relaxed);
                                tracing::warn!(offset, %reason, "a spooled record no longer parses");
                            }
                        }
                    }
                    Err(reason) => {
                        shared.metrics.unreadable.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(offset, %reason, "a spooled record cannot be decoded");
                    }
                }
            }
            for e in &events {
                if let Some(t) = e.meta.timestamp.map(OffsetDateTime::unix_timestamp) {
                    batch_latest = batch_latest.max(Some(t));
                }
            }
            latest = latest.max(batch_latest);
            let count = events.len() as u64;
            let mut detections = Vec::new();
            if let Some(gaps) = gaps.as_mut() {
                for e in &events {
                    gaps.observe(e, &mut detections);
                }
            }
            detections.extend(stream.push(events, OffsetDateTime::now_utc()));
            if !deliver(detections, &batch) {
                return;
            }
            pos = batch.last().map_or(pos, |(o, _)| o + 1);
            dirty = true;
            if checkpoint.is_none() {
                checkpointed = pos;
            }
            shared.metrics.events.fetch_add(count, Ordering::Relaxed);
            shared.processed.store(pos, Ordering::Release);
            shared.set_buffered(stream.buffered());
            shared.observe_latency(pos);
            remember(
                &mut reads,
                Read {
                    start,
                    latest: batch_latest,
                },
            );
            // Ticked only once caught up with the spool: while a backlog
            // is replayed, the clock runs far ahead of the events, and every
            // source would look silent.
            if last_tick.elapsed() >= TICK_EVERY && pos >= spool.end() {
                let detections = tick(&mut stream, gaps.as_mut());
                last_tick = Instant::now();
                if !deliver(detections, &[]) {
                    return;
                }
            }
            if last_checkpoint.elapsed() >= checkpoint_every(checkpoint.as_ref()) {
                save(
                    &stream,
                    gaps.as_ref(),
                    pos,
                    latest,
                    &reads,
                    &mut checkpointed,
                );
                last_checkpoint = Instant::now();
                dirty = false;
            }
            if last_commit.elapsed() >= COMMIT_EVERY {
                commit(
                    &shared,
                    &mut reads,
                    latest,
                    horizon,
                    pos,
                    checkpointed,
                    &mut crowded,
                );
                last_commit = Instant::now();
            }
        }
        if dirty {
            save(
                &stream,
                gaps.as_ref(),
                pos,
                latest,
                &reads,
                &mut checkpointed,
            );
        }
        commit(
            &shared,
            &mut reads,
            latest,
            horizon,
            pos,
            checkpointed,
            &mut crowded,
        );
        tracing::info!(
            processed = pos,
            checkpoint = checkpointed,
            "detection worker stopped"
        );
        return;
    }
}

/// Stores detections as alerts (in batches, one transaction each),
/// skipping keys this worker already stored, counting each in the
/// metrics and telling the alert hook. `evidence` gives a detection's
/// event identity and evidence. `false` when the worker is stopping and
/// the store could not be reached (nothing more may be processed or
/// acknowledged).
pub(super) fn deliver(
    shared: &Shared,
    runtime: &tokio::runtime::Handle,
    store: &dyn Store,
    stored: &mut StoredKeys,
    incident_level: Level,
    detections: Vec<Detection>,
    evidence: &mut dyn FnMut(&Detection) -> (Vec<u8>, Value),
) -> bool {
    let mut pending = Vec::with_capacity(detections.len());
    for d in detections {
        shared.metrics.detections.fetch_add(1, Ordering::Relaxed);
        shared.count_hit(&d);
        shared.health.detection(&d);
        let (identity, evidence) = evidence(&d);
        let alert = alerts::new_alert(
            &d,
            &identity,
            evidence,
            incident_level,
            OffsetDateTime::now_utc(),
        );
        // A key the store already holds would be answered "duplicate":
        // skip the round trip (an ongoing brute force, a replay).
        if alert.key.as_ref().is_some_and(|k| stored.contains(k)) {
            shared
                .metrics
                .alerts_duplicate
                .fetch_add(1, Ordering::Relaxed);
            continue;
        }
        pending.push(alert);
    }
    // A burst of detections is stored in batches: one transaction (one
    // fsync) each, not one per alert.
    for chunk in pending.chunks(ALERT_BATCH) {
        let Some(answers) = store_alerts(shared, runtime, store, chunk) else {
            return false;
        };
        for (alert, answer) in chunk.iter().zip(answers) {
            match answer {
                Ok(outcome) => {
                    let counter = if outcome.duplicate {
                        &shared.metrics.alerts_duplicate
                    } else {
                        &shared.metrics.alerts
                    };
                    counter.fetch_add(1, Ordering::Relaxed);
                    if let Some(hook) = shared.new_alerts.get() {
                        hook(alert, &outcome);
                    }
                    if let Some(key) = &alert.key {
                        stored.insert(key.clone());
                    }
                }
                Err(error) => {
                    shared
                        .metrics
                        .alerts_refused
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(rule = %alert.rule_id, %error, "the store refused an alert");
                }
            }
        }
    }
    true
}

/// How often checkpoints are written (without checkpoints: as often as
/// the committed offset moves).
fn checkpoint_every(config: Option<&CheckpointConfig>) -> Duration {
    config.map_or(COMMIT_EVERY, |c| c.every)
}

/// Adds a batch to those the committed offset has yet to pass, merging it
/// into the last one past [`MAX_READS`].
fn remember(reads: &mut VecDeque<Read>, read: Read) {
    let full = reads.len() >= MAX_READS;
    match reads.back_mut() {
        Some(last) if full => last.latest = last.latest.max(read.latest),
        _ => reads.push_back(read),
    }
}

/// What a checkpoint gives back.
struct Resumed<'e> {
    stream: engine::Stream<'e>,
    gaps: Option<policy::gaps::Gaps>,
    offset: u64,
    reads: VecDeque<Read>,
    latest: Option<i64>,
}

/// Takes back the checkpoint at `path`, when there is one that this
/// engine can resume and that the spool still covers. Otherwise says why
/// (a warning) and gives `None`: detection replays from the committed
/// offset.
fn resume<'e>(
    engine: &'e Engine,
    config: StreamConfig,
    path: &std::path::Path,
    shared: &Shared,
) -> Option<Resumed<'e>> {
    let refuse = |reason: &str| {
        tracing::warn!(
            path = %path.display(),
            reason,
            "not resuming from the detection checkpoint; replaying from the committed offset"
        );
        None
    };
    let saved = match super::checkpoint::read(path) {
        Ok(Some(saved)) => saved,
        Ok(None) => return None,
        Err(reason) => return refuse(&reason),
    };
    let spool = &shared.spool;
    let offset = saved.position.offset;
    if offset < spool.committed() || offset > spool.end() {
        return refuse(&format!(
            "its offset {offset} is outside the spool ({} to {})",
            spool.committed(),
            spool.end()
        ));
    }
    let stream = match engine.resume(config, &saved.stream) {
        Ok(stream) => stream,
        Err(reason) => return refuse(&reason),
    };
    let gaps = match (engine.policy(), saved.gaps) {
        (Some(p), Some(bytes)) => {
            let mut gaps = policy::gaps::Gaps::new(live_gaps(&p.gaps), &p.state);
            if let Err(reason) = gaps.restore(&bytes) {
                return refuse(&format!("the gap detector: {reason}"));
            }
            Some(gaps)
        }
        (Some(p), None) => Some(policy::gaps::Gaps::new(live_gaps(&p.gaps), &p.state)),
        (None, _) => None,
    };
    tracing::info!(
        offset,
        buffered = stream.buffered(),
        "resumed detection from its checkpoint"
    );
    Some(Resumed {
        stream,
        gaps,
        offset,
        reads: saved
            .position
            .reads
            .into_iter()
            .map(|(start, latest)| Read { start, latest })
            .collect(),
        latest: saved.position.latest,
    })
}

/// The gap detector's configuration for live use: silences and
/// recoveries only. A live source (`SENDER/TYPE` and host) often merges
/// several files or processes whose times interleave, so time going
/// backwards or jumping, which `watchpost gaps` reports for one file, would
/// be noise here; the gaps found at the end of a file's input never come,
/// as live input never ends.
pub(super) fn live_gaps(config: &policy::GapsConfig) -> policy::GapsConfig {
    policy::GapsConfig {
        backwards_tolerance: policy::Secs(u64::MAX),
        clock_jump: policy::Secs(u64::MAX),
        ..config.clone()
    }
}

/// The replay horizon in seconds: the configured one, else the default
/// or the longest window the engine's rules and detectors keep, whichever
/// is longer; never under twice the reorder window.
fn horizon_of(engine: &Engine, configured: Option<Duration>, window: Duration) -> i64 {
    let horizon = configured
        .unwrap_or_else(|| {
            Duration::from_secs(super::DEFAULT_REPLAY_HORIZON_SECS).max(engine.longest_window())
        })
        .max(window * 2);
    i64::try_from(horizon.as_secs()).unwrap_or(i64::MAX)
}

/// Tells the stream and the gap detector that the clock reached now.
pub(super) fn tick(
    stream: &mut engine::Stream<'_>,
    gaps: Option<&mut policy::gaps::Gaps>,
) -> Vec<Detection> {
    let now = OffsetDateTime::now_utc();
    let mut detections = stream.tick(now);
    if let Some(gaps) = gaps {
        gaps.advance(now, &mut detections);
    }
    detections
}

/// Most alert keys remembered as stored.
const STORED_KEYS: usize = 65_536;

/// The keys of the alerts this worker stored (or found stored) most
/// recently, oldest forgotten first. Keys are deterministic and the store
/// never forgets one, so a key here needs no round trip to be known a
/// duplicate.
#[derive(Default)]
pub(super) struct StoredKeys {
    keys: std::collections::HashSet<String>,
    order: VecDeque<String>,
}

impl StoredKeys {
    fn contains(&self, key: &str) -> bool {
        self.keys.contains(key)
    }

    fn insert(&mut self, key: String) {
        if self.keys.insert(key.clone()) {
            self.order.push_back(key);
            if self.order.len() > STORED_KEYS
                && let Some(old) = self.order.pop_front()
            {
                self.keys.remove(&old);
            }
        }
    }
}

/// Commits the batches older than the replay horizon (all processed ones
/// when the spool is past half full), never past `checkpointed`: the
/// records after the last checkpoint are what a restart resumes with.
fn commit(
    shared: &Shared,
    reads: &mut VecDeque<Read>,
    latest: Option<i64>,
    horizon: i64,
    pos: u64,
    checkpointed: u64,
    was_crowded: &mut bool,
) {
    let spool = &shared.spool;
    let stats = spool.stats();
    let crowded = stats.bytes_on_disk > shared.spool_max_bytes / 2;
    let cutoff = latest.map_or(i64::MIN, |l| l.saturating_sub(horizon));
    let mut to = None;
    if crowded != *was_crowded {
        *was_crowded = crowded;
        if crowded {
            tracing::warn!(
                bytes = stats.bytes_on_disk,
                "the event spool is past half full: committing everything processed, so a crash now replays less than the replay horizon"
            );
        } else {
            tracing::info!(
                bytes = stats.bytes_on_disk,
                "the event spool is below half full again: commits keep the replay horizon"
            );
        }
    }
    while let Some(front) = reads.front() {
        // Where the batch ends: where the next one starts.
        let end = reads.get(1).map_or(pos, |next| next.start);
        let old = crowded || front.latest.is_none_or(|t| t < cutoff);
        if !old || end > checkpointed {
            break;
        }
        reads.pop_front();
        to = Some(end);
    }
    if crowded {
        to = Some(checkpointed);
    }
    if let Some(to) = to
        && to > spool.committed()
        && let Err(error) = spool.commit(to)
    {
        tracing::error!(%error, offset = to, "cannot commit the event spool offset");
    }
}

/// The evidence of a detection: the line it matched (or the last line of
/// a group), as sent, with its source. Found in `batch` or read back from
/// the spool by offset (the event's record number); the detection's own
/// fields when it is gone. Also returns the event's identity for its key:
/// the line as sent, or the fields when the line is gone.
fn evidence(d: &Detection, batch: &[(u64, Vec<u8>)], shared: &Shared) -> (Vec<u8>, Value) {
    let found = match batch.binary_search_by_key(&d.record, |(o, _)| *o) {
        Ok(i) => Some(batch[i].1.clone()),
        Err(_) => shared
            .spool
            .read_from(d.record, 1)
            .ok()
            .and_then(|mut v| v.pop())
            .filter(|(o, _)| *o == d.record)
            .map(|(_, b)| b),
    };
    evidence_from(d, found.as_deref())
}

/// The evidence of a detection from its spooled record, when found (see
/// [`evidence`]); the detection's own fields otherwise.
pub(super) fn evidence_from(d: &Detection, found: Option<&[u8]>) -> (Vec<u8>, Value) {
    let record = found.and_then(|b| record::decode(b).ok());
    match record {
        Some(r) if r.source == &*d.file => {
            let body = match r.format {
                Format::Json => serde_json::from_slice::<Value>(r.line)
                    .unwrap_or_else(|_| Value::from(String::from_utf8_lossy(r.line))),
                _ => Value::from(String::from_utf8_lossy(r.line).trim_end().to_owned()),
            };
            (
                r.line.to_vec(),
                json!({ "source": r.source, "format": r.format.name(), "event": body }),
            )
        }
        _ => {
            let evidence = json!({ "source": &*d.file, "fields": d.fields });
            (evidence.to_string().into_bytes(), evidence)
        }
    }
}

/// Most alerts stored in one transaction.
const ALERT_BATCH: usize = 256;

/// Stores a batch of alerts, retrying while the store is unreachable (the
/// offset does not move meanwhile, so nothing is skipped; keyed alerts
/// stored by a failed attempt come back as duplicates). The answers are in
/// the batch's order; an alert the store refuses has its error in its
/// place. `None` when the worker is stopping and the store could not be
/// reached.
fn store_alerts(
    shared: &Shared,
    runtime: &tokio::runtime::Handle,
    store: &dyn Store,
    batch: &[incidents::NewAlert],
) -> Option<Vec<Result<incidents::AlertOutcome, StoreError>>> {
    let mut wait = Duration::from_millis(100);
    loop {
        match runtime.block_on(store.ingest_alerts(&Viewer::system(), batch.to_vec())) {
            Ok(answers) => return Some(answers),
            Err(error) => {
                if shared.stop.load(Ordering::Relaxed) {
                    return None;
                }
                tracing::error!(%error, alerts = batch.len(), "cannot store alerts; retrying");
                shared.wait_stop(wait);
                wait = (wait * 2).min(Duration::from_secs(10));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use detect::Detector as _;
    use events::{Event, Map, Meta};
    use time::OffsetDateTime;

    use super::{STORED_KEYS, StoredKeys, live_gaps};

    #[test]
    fn stored_keys_forget_the_oldest_past_their_cap() {
        let mut keys = StoredKeys::default();
        keys.insert("wp1-a".into());
        // Inserting a key again does not take a second place.
        keys.insert("wp1-a".into());
        for i in 0..STORED_KEYS - 1 {
            keys.insert(format!("k{i}"));
        }
        assert!(keys.contains("wp1-a"), "65,536 keys fit");
        keys.insert("wp1-b".into());
        assert!(!keys.contains("wp1-a"), "the oldest is forgotten");
        assert!(keys.contains("k0") && keys.contains("wp1-b"));
        assert_eq!(keys.order.len(), 65_536);
        assert_eq!(keys.keys.len(), 65_536);
    }

    fn at(source: &str, record: u64, unix: i64) -> Event {
        let mut meta = Meta::new(Arc::from(source), record);
        meta.timestamp = Some(OffsetDateTime::from_unix_timestamp(unix).unwrap());
        meta.host = Some("web01".into());
        Event::new(meta, Map::new())
    }

    #[test]
    fn live_gap_detection_ignores_interleaved_and_jumping_times_but_sees_silence() {
        let config = policy::GapsConfig {
            min_gap: Some(policy::Secs(600)),
            ..policy::GapsConfig::default()
        };
        let state = policy::StateConfig::default();
        // Two files merged into one source: times go back an hour and
        // forward a year. `watchpost gaps` would report both.
        let merged = [
            at("shipper/app", 1, 1_700_000_000),
            at("shipper/app", 2, 1_700_000_060),
            at("shipper/app", 3, 1_699_996_400),
            at("shipper/app", 4, 1_700_000_120),
            at("shipper/app", 5, 1_731_536_120),
        ];
        let mut file_mode = policy::gaps::Gaps::new(config.clone(), &state);
        let mut out = Vec::new();
        for e in &merged {
            file_mode.observe(e, &mut out);
        }
        let ids: Vec<&str> = out.iter().map(|d| d.rule_id.as_str()).collect();
        assert_eq!(
            ids,
            [policy::gaps::BACKWARDS_ID, policy::gaps::CLOCK_JUMP_ID],
            "{out:#?}"
        );

        let mut live = policy::gaps::Gaps::new(live_gaps(&config), &state);
        let mut out = Vec::new();
        for e in &merged {
            live.observe(e, &mut out);
        }
        assert!(out.is_empty(), "{out:#?}");
        // Silence past the threshold (600 s after the last event) is
        // still seen.
        live.advance(
            OffsetDateTime::from_unix_timestamp(1_731_536_120 + 601).unwrap(),
            &mut out,
        );
        let ids: Vec<&str> = out.iter().map(|d| d.rule_id.as_str()).collect();
        assert_eq!(ids, [policy::gaps::SILENT_ID]);
    }
}
