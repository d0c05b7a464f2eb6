//! [`Stateful`]: the ordered stage of a hunt.
//!
//! Files are parsed and matched in parallel, but correlations and native
//! detectors need events in time order. The parallel stage keeps only the
//! events they care about (as [`Pending`]); this stage sorts them by
//! timestamp, then file, then record (a total, deterministic order), and
//! feeds them to the Sigma correlation engine (with event time, never the
//! wall clock) and to every [`Detector`].

use std::collections::{BTreeMap, HashSet};

use events::Event;
use rsigma_eval::{
    CorrelationConfig, CorrelationEngine, CorrelationSnapshot, EvaluationResult, ResultBody,
    TimestampFallback,
};
use rules::RuleError;

use crate::matcher::{CorrelationInput, Matcher, level};
use crate::view::EventView;
use crate::{Annotator, Detection, Detector, Selector, Shard, shard_key};

/// An event kept for the ordered stage, with its pending correlation input.
#[derive(Debug, Clone)]
pub struct Pending {
    /// The event.
    pub event: Event,
    /// Base-rule matches for the correlation engine (may be empty).
    pub sigma: CorrelationInput,
}

impl Pending {
    /// The ordered stage's one total order: event time (undated first),
    /// then source, then record.
    pub fn order(a: &Pending, b: &Pending) -> std::cmp::Ordering {
        (
            a.event.meta.timestamp,
            &a.event.meta.source,
            a.event.meta.record,
        )
            .cmp(&(
                b.event.meta.timestamp,
                &b.event.meta.source,
                b.event.meta.record,
            ))
    }
}

/// What [`Stateful::save`] gives: everything the stage carries from one
/// event to the next.
#[derive(Debug, Clone, Default)]
pub struct StageState {
    /// The correlation engine's windows, suppression times and event
    /// buffers, keyed by each correlation's id (or name, or title), as
    /// JSON.
    pub correlations: Option<Vec<u8>>,
    /// Event time (Unix seconds) at which correlation state was last
    /// expired.
    pub evicted_at: i64,
    /// Each detector's name and saved state, in the stage's order.
    pub detectors: Vec<(String, Option<Vec<u8>>)>,
}

/// Correlation rules and native detectors, fed in time order.
pub struct Stateful<'m> {
    matcher: &'m Matcher,
    correlations: Option<CorrelationEngine>,
    correlation_only: HashSet<String>,
    /// Correlation rules that compiled and whose rules all loaded.
    correlations_loaded: usize,
    /// Which ones, as indexes into the matcher's correlation rules, in
    /// load order.
    loaded_correlations: Vec<usize>,
    detectors: Vec<Box<dyn Detector>>,
    /// Each detector's selector, in the same order.
    selectors: Vec<std::sync::Arc<dyn Selector>>,
    /// Event time (Unix seconds) at which correlation state was last
    /// expired.
    evicted_at: i64,
    /// The shard of the keys this stage keeps (`None`: all of them).
    shard: Option<Shard>,
    /// True when some correlation counts another's results: every
    /// correlation is then one key, so a chain stays in one shard.
    chained: bool,
}

/// How often, in event time, correlation state older than each rule's
/// timespan is dropped. Expiring drops only what no later event could
/// count (events come in time order), so it never changes a detection.
const EVICT_EVERY_SECS: i64 = 60;

impl std::fmt::Debug for Stateful<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stateful")
            .field("correlations", &self.correlations.is_some())
            .field("detectors", &self.detectors.len())
            .finish()
    }
}

impl<'m> Stateful<'m> {
    /// Builds the stage from the matcher's correlation rules and the given
    /// detectors. A correlation fails, and is returned as an error, when it
    /// does not compile or when a rule it names did not load (no loaded
    /// detection or correlation rule has that id or name): it could never
    /// fire.
    pub fn new(matcher: &'m Matcher, detectors: Vec<Box<dyn Detector>>) -> (Self, Vec<RuleError>) {
        let mut errors = Vec::new();
        let mut correlation_only = HashSet::new();
        let mut correlations_loaded = 0;
        let mut loaded_correlations = Vec::new();
        let correlations = if matcher.correlations.is_empty() {
            None
        } else {
            let config = CorrelationConfig {
                timestamp_fallback: TimestampFallback::Skip,
                emit_detections: false,
                ..CorrelationConfig::default()
            };
            let mut engine = CorrelationEngine::new(config);
            for rule in &matcher.correlation_bases {
                // Registers the rule's id and name for reference lookup.
                let _ = engine.add_rule(rule);
            }
            // The names a correlation may refer to: loaded base rules, then
            // each correlation once it is added. A correlation is added when
            // every rule it names is known, so chains resolve in any order.
            let mut known: HashSet<&str> = HashSet::new();
            for rule in &matcher.correlation_bases {
                known.extend(rule.id.as_deref());
                known.extend(rule.name.as_deref());
            }
            let mut waiting: Vec<(usize, &rules::CorrelationRule)> =
                matcher.correlations.iter().enumerate().collect();
            loop {
                let before = waiting.len();
                let mut still = Vec::new();
                for (index, c) in waiting {
                    if !c.rule().rules.iter().all(|r| known.contains(r.as_str())) {
                        still.push((index, c));
                        continue;
                    }
                    match engine.add_correlation(c.rule()) {
                        Ok(()) => {
                            correlations_loaded += 1;
                            loaded_correlations.push(index);
                            known.extend(c.rule().id.as_deref());
                            known.extend(c.rule().name.as_deref());
                            if !c.rule().generate {
                                correlation_only.extend(c.rule().rules.iter().cloned());
                            }
                        }
                        Err(e) => errors.push(RuleError {
                            file: c.file.to_string(),
                            rule_id: c.rule().id.clone(),
                            reason: e.to_string(),
                        }),
                    }
                }
                waiting = still;
                if waiting.len() == before {
                    break;
                }
            }
            for (_, c) in waiting {
                let missing: Vec<&str> = c
                    .rule()
                    .rules
                    .iter()
                    .map(String::as_str)
                    .filter(|r| !known.contains(r))
                    .collect();
                errors.push(RuleError {
                    file: c.file.to_string(),
                    rule_id: c.rule().id.clone(),
                    reason: format!(
                        "correlation refers to rules that did not load: {}",
                        missing.join(", ")
                    ),
                });
            }
            Some(engine)
        };
        let correlation_names: HashSet<&str> = matcher
            .correlations
            .iter()
            .flat_map(|c| [c.rule().id.as_deref(), c.rule().name.as_deref()])
            .flatten()
            .collect();
        let chained = matcher.correlations.iter().any(|c| {
            c.rule()
                .rules
                .iter()
                .any(|r| correlation_names.contains(r.as_str()))
        });
        let selectors = detectors.iter().map(|d| d.selector()).collect();
        (
            Stateful {
                matcher,
                correlations,
                correlation_only,
                correlations_loaded,
                loaded_correlations,
                detectors,
                selectors,
                evicted_at: i64::MIN,
                shard: None,
                chained,
            },
            errors,
        )
    }

    /// How many rules run: detection rules that compiled, correlation
    /// rules that compiled with every rule they name loaded, and filters
    /// that apply. `hunt` and `rules check` both count loaded rules with
    /// this, and failed rules as the [`RuleError`]s of loading, compiling
    /// and building this stage.
    pub fn rules_loaded(&self) -> usize {
        self.matcher.rule_count() + self.correlations_loaded + self.matcher.filter_count()
    }

    /// The correlation rules that loaded, as indexes into the matcher's
    /// correlation rules, in load order (a correlation comes after every
    /// correlation it names): what [`crate::Catalogue::new`] lists.
    pub fn loaded_correlations(&self) -> &[usize] {
        &self.loaded_correlations
    }

    /// True when some detector wants to see the event.
    pub fn interested(&self, event: &Event) -> bool {
        self.selectors.iter().any(|s| s.wants(event))
    }

    /// The detectors' selectors, which worker threads may ask while this
    /// stage runs elsewhere.
    pub fn selectors(&self) -> Vec<std::sync::Arc<dyn Selector>> {
        self.selectors.clone()
    }

    /// Keeps only the state of `shard`'s keys (see [`crate::Shard`]): the
    /// stage then gives exactly the detections an unsplit stage gives for
    /// those keys, and none for others, when it is fed every event whose
    /// [`Stateful::routes`] name this shard. Set before the first event.
    pub fn set_shard(&mut self, shard: Shard) {
        self.shard = Some(shard);
        if let Some(engine) = self.correlations.as_mut() {
            let headers: Vec<(Option<String>, String)> = (0..engine.correlation_rule_count())
                .map(|i| {
                    engine
                        .correlation_header(i)
                        .map(|(id, title)| (id.map(str::to_owned), title.to_owned()))
                        .unwrap_or_default()
                })
                .collect();
            let chained = self.chained;
            engine.set_group_filter(Some(Box::new(move |index, pairs| {
                let (id, title) = headers
                    .get(index)
                    .map_or((None, ""), |(id, t)| (id.as_deref(), t.as_str()));
                shard.owns(correlation_key(chained, id, title, pairs))
            })));
        }
    }

    /// The shards of `count` that must see `p`, in order: those of the
    /// keys it is counted under by each correlation it feeds, and of its
    /// key for each detector that wants it. An event under no key (an
    /// undated one, whose base-rule matches are all it gives) goes to the
    /// shard of its source. The first shard named gives its base-rule
    /// detections.
    pub fn routes(&self, p: &Pending, count: u32) -> Vec<u32> {
        let mut keys = Vec::new();
        if let (Some(engine), Some(_)) = (self.correlations.as_ref(), p.event.meta.timestamp) {
            let mut fed = Vec::new();
            for run in p.sigma.results.chunk_by(|a, b| a.1 == b.1) {
                let view = EventView {
                    event: &p.event,
                    renames: run[0].1,
                };
                let results: Vec<EvaluationResult> = run.iter().map(|r| r.0.clone()).collect();
                engine.group_keys(&view, &results, &mut fed);
            }
            for (index, pairs) in fed {
                let (id, title) = engine.correlation_header(index).unwrap_or((None, ""));
                keys.push(correlation_key(self.chained, id, title, &pairs));
            }
        }
        for (d, s) in self.detectors.iter().zip(&self.selectors) {
            if s.wants(&p.event) {
                keys.push(detector_key(d.as_ref(), &p.event));
            }
        }
        if keys.is_empty() {
            keys.push(shard_key(&["source", &p.event.meta.source]));
        }
        let mut shards: Vec<u32> = keys.into_iter().map(|k| Shard::of(k, count)).collect();
        shards.sort_unstable();
        shards.dedup();
        shards
    }

    /// True when the stage has nothing to do.
    pub fn is_idle(&self) -> bool {
        self.correlations.is_none() && self.detectors.is_empty()
    }

    /// Sorts `pending` into time order, feeds it through, calls `finish`
    /// on every detector, and appends every detection (each passed through
    /// `annotator` with its event) to `out`.
    pub fn run(
        &mut self,
        mut pending: Vec<Pending>,
        annotator: &dyn Annotator,
        out: &mut Vec<Detection>,
    ) {
        pending.sort_by(Pending::order);
        for p in &pending {
            self.observe(p, annotator, out);
        }
        self.finish(annotator, out);
    }

    /// Feeds one event; events must come in [`Pending::order`].
    pub fn observe(&mut self, p: &Pending, annotator: &dyn Annotator, out: &mut Vec<Detection>) {
        let mut buf = Vec::new();
        // A split stage gives an event's base-rule detections in one shard.
        let base = self
            .shard
            .is_none_or(|s| !p.sigma.is_empty() && self.routes(p, s.count())[0] == s.index());
        if !p.sigma.is_empty() {
            self.feed_sigma(p, base, &mut buf);
        }
        let shard = self.shard;
        for (d, s) in self.detectors.iter_mut().zip(&self.selectors) {
            if s.wants(&p.event) && shard.is_none_or(|s| s.owns(detector_key(d.as_ref(), &p.event)))
            {
                d.observe(&p.event, &mut buf);
            }
        }
        for mut det in buf {
            annotator.annotate(&mut det, Some(&p.event));
            out.push(det);
        }
    }

    /// Tells every detector that time has reached `now` (a live driver's
    /// clock tick).
    pub fn advance(
        &mut self,
        now: events::Timestamp,
        annotator: &dyn Annotator,
        out: &mut Vec<Detection>,
    ) {
        self.expire(now.unix_timestamp());
        let mut buf = Vec::new();
        for d in &mut self.detectors {
            d.advance(now, &mut buf);
        }
        for mut det in buf {
            annotator.annotate(&mut det, None);
            out.push(det);
        }
    }

    /// End of input: calls `finish` on every detector.
    pub fn finish(&mut self, annotator: &dyn Annotator, out: &mut Vec<Detection>) {
        let mut buf = Vec::new();
        for d in &mut self.detectors {
            d.finish(&mut buf);
        }
        for mut det in buf {
            annotator.annotate(&mut det, None);
            out.push(det);
        }
    }

    /// Feeds an event's base-rule matches to the correlation engine. Each
    /// match is read through the renames of the view it matched in: one
    /// Security 4688 can match a `security` rule (the event's own field
    /// names) and a `process_creation` rule (Sysmon names) at once, and a
    /// correlation's group-by must read each under its own names. Runs of
    /// matches with the same renames are fed together, in their order.
    /// With `base` false, the matches' own detections are not given (a
    /// split stage gives them in one shard only).
    fn feed_sigma(&mut self, p: &Pending, base: bool, out: &mut Vec<Detection>) {
        for run in p.sigma.results.chunk_by(|a, b| a.1 == b.1) {
            let view = EventView {
                event: &p.event,
                renames: run[0].1,
            };
            let results = run.iter().map(|r| r.0.clone()).collect();
            self.feed_view(&view, results, base, out);
        }
    }

    /// Feeds matches that all read the event through `view`.
    fn feed_view(
        &mut self,
        view: &EventView<'_>,
        results: Vec<EvaluationResult>,
        base: bool,
        out: &mut Vec<Detection>,
    ) {
        let event = view.event;
        let (Some(engine), Some(ts)) = (self.correlations.as_mut(), event.meta.timestamp) else {
            // No event time: the matches count as detections, but cannot
            // update correlation state.
            if !base {
                return;
            }
            for r in &results {
                let only = r
                    .header
                    .rule_id
                    .as_ref()
                    .is_some_and(|id| self.correlation_only.contains(id));
                if !only {
                    out.push(self.matcher.detection(r, view));
                }
            }
            return;
        };
        let secs = ts.unix_timestamp();
        let expire = secs.saturating_sub(self.evicted_at) >= EVICT_EVERY_SECS;
        for r in engine.process_with_detections(view, results, secs) {
            match &r.body {
                ResultBody::Correlation(body) => {
                    let mut fields = BTreeMap::new();
                    for (k, v) in &body.group_key {
                        fields.insert(k.clone(), v.clone());
                    }
                    fields.insert("count".into(), body.aggregated_value.to_string());
                    out.push(Detection {
                        rule_id: r.header.rule_id.clone().unwrap_or_default(),
                        rule_title: r.header.rule_title.clone(),
                        level: level(r.header.level),
                        timestamp: event.meta.timestamp,
                        file: event.meta.source.clone(),
                        record: event.meta.record,
                        host: event.meta.host.clone(),
                        logsource: event.meta.logsource,
                        policy: None,
                        entities: Default::default(),
                        fields,
                    });
                }
                _ if base => out.push(self.matcher.detection(&r, view)),
                _ => {}
            }
        }
        if expire {
            self.expire(secs);
        }
    }

    /// Drops correlation state that has fallen out of every rule's
    /// timespan at event time `now_secs`.
    fn expire(&mut self, now_secs: i64) {
        if let Some(engine) = self.correlations.as_mut() {
            engine.evict_expired(now_secs);
            self.evicted_at = now_secs;
        }
    }

    /// The stage's state, for a live run's checkpoint: the correlation
    /// windows (with their suppression times and event buffers), when
    /// state was last expired, and each detector's [`Detector::save`].
    pub fn save(&self) -> StageState {
        StageState {
            correlations: self
                .correlations
                .as_ref()
                .map(|c| serde_json::to_vec(&c.export_state()).expect("plain data serializes")),
            evicted_at: self.evicted_at,
            detectors: self
                .detectors
                .iter()
                .map(|d| (d.name().to_string(), d.save()))
                .collect(),
        }
    }

    /// Takes back what [`Stateful::save`] gave, on a stage built from the
    /// same rules and detectors. On an error (another set of detectors, a
    /// detector refusing its state, correlation state of another format)
    /// the stage may be partly restored: the caller starts a fresh one.
    pub fn restore(&mut self, state: StageState) -> Result<(), String> {
        let names: Vec<&str> = self.detectors.iter().map(|d| d.name()).collect();
        let saved: Vec<&str> = state.detectors.iter().map(|(n, _)| n.as_str()).collect();
        if names != saved {
            return Err(format!(
                "saved with the detectors [{}], running [{}]",
                saved.join(", "),
                names.join(", ")
            ));
        }
        match (self.correlations.as_mut(), state.correlations) {
            (Some(engine), Some(bytes)) => {
                let snapshot: CorrelationSnapshot = serde_json::from_slice(&bytes)
                    .map_err(|e| format!("correlation state: {e}"))?;
                if !engine.import_state(snapshot) {
                    return Err("correlation state of another format".into());
                }
            }
            (None, None) => {}
            (Some(_), None) | (None, Some(_)) => {
                return Err("saved with another set of correlation rules".into());
            }
        }
        for (d, (name, bytes)) in self.detectors.iter_mut().zip(state.detectors) {
            if let Some(bytes) = bytes {
                d.restore(&bytes)
                    .map_err(|e| format!("detector {name}: {e}"))?;
            }
        }
        self.evicted_at = state.evicted_at;
        Ok(())
    }

    /// Correlation groups holding state (windows still open), for tests and
    /// metrics. A shard holds only its own keys' groups.
    pub fn correlation_state(&self) -> usize {
        self.correlations
            .as_ref()
            .map_or(0, |e| e.state_count() + e.event_buffer_count())
    }
}

/// A correlation's key: its id, title and group-by values, or one key for
/// every correlation when some are chained.
fn correlation_key(
    chained: bool,
    id: Option<&str>,
    title: &str,
    pairs: &[(String, String)],
) -> u64 {
    if chained {
        return shard_key(&["correlation chain"]);
    }
    let mut parts = vec!["correlation", id.unwrap_or(""), title];
    for (field, value) in pairs {
        parts.push(field);
        parts.push(value);
    }
    shard_key(&parts)
}

/// A detector's key for an event: the one it declares, or its name.
fn detector_key(d: &dyn Detector, event: &Event) -> u64 {
    d.shard_key(event)
        .unwrap_or_else(|| shard_key(&["detector", d.name()]))
}
