//! Engine: the one place where a detection run is put together.
//!
//! An [`Engine`] is built once from Sigma rule paths and the policy
//! configuration ([`EngineConfig`]). It then drives any number of runs:
//!
//! - [`Engine::hunt`] reads log files (in parallel), matches every event,
//!   feeds the events that correlations and policy detectors need to the
//!   ordered stage in time order, and returns sorted detections plus
//!   located problems ([`HuntReport`]). `watchpost hunt` is a thin caller.
//! - [`gaps::find`] runs the policy gap detector over log files
//!   (`watchpost gaps`).
//! - [`Engine::stream`] runs the same two stages over events that keep
//!   arriving: a per-source reorder window and a watermark put the kept
//!   events in time order without waiting for the end ([`Stream`]).
//! - [`Engine::scan`] and [`Engine::ordered`] are the two stages on their
//!   own.
//!
//! The engine owns no globals and no thread-locals: every piece of a run
//! hangs off the `Engine` value or the run itself. Parallelism is rayon's,
//! in the caller's pool. The pure crates below it (`events`, `rules`,
//! `detect`, `policy`) do no IO; reading rule files and log files happens
//! here and in `sources`.

mod checkpoint;
mod found;
pub mod gaps;
mod hunt;
mod load;
mod runs;
mod spool;
mod stream;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use detect::{
    Annotator, Catalogue, Detection, Detector, Matcher, NoAnnotation, Pending, RuleInfo, Selector,
    Stateful,
};
use events::taxonomy::Route;
use events::{Event, Timestamp};
use policy::{PolicyAnnotator, PolicyConfig, PolicyError};
use rayon::prelude::*;
use rules::RuleError;

pub use checkpoint::Sections;
pub use found::{Detections, detection_order, sort_detections};
pub use hunt::{HuntOptions, HuntReport, Progress, Skipped};
pub use load::load_rule_paths;
pub use spool::{DEFAULT_BUDGET, decode_kept, encode_kept};
pub use stream::{Stream, StreamConfig, StreamStats};

/// What an [`Engine`] is built from.
#[derive(Debug, Clone, Default)]
pub struct EngineConfig {
    /// Sigma rule files and folders (folders are walked for `*.yml` and
    /// `*.yaml`).
    pub rules: Vec<PathBuf>,
    /// The policy configuration; `None` runs without the bundled policy
    /// pack and native policy detectors.
    pub policy: Option<PolicyConfig>,
}

/// Why an engine could not be built.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Neither rules nor the policy pack.
    #[error("no rules: give -r RULES, or drop --no-policy to use the bundled policy pack")]
    NoRules,
    /// Rule paths were given, no rule of them loaded, and there are no
    /// policy detectors to run instead.
    #[error("no rule could be loaded from {0:?}")]
    NothingLoaded(Vec<PathBuf>),
    /// The policy configuration does not build (a bad maintenance window).
    #[error(transparent)]
    Policy(#[from] PolicyError),
}

/// Compiled rules and the policy configuration: everything a detection run
/// needs besides its events. Shared by reference between threads.
pub struct Engine {
    matcher: Matcher,
    /// The rules that run, for coverage reports.
    catalogue: Catalogue,
    policy: Option<PolicyConfig>,
    selectors: Vec<Arc<dyn Selector>>,
    rule_errors: Vec<RuleError>,
    rules_loaded: usize,
    ordered_idle: bool,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("matcher", &self.matcher)
            .field("policy", &self.policy.is_some())
            .field("rules_loaded", &self.rules_loaded)
            .field("rule_errors", &self.rule_errors.len())
            .finish()
    }
}

impl Engine {
    /// Loads and compiles the rules (plus the bundled policy pack when a
    /// policy configuration is given) and checks the policy configuration.
    ///
    /// Rules that fail are kept as [`Engine::rule_errors`]; the rest load.
    pub fn load(config: EngineConfig) -> Result<Engine, EngineError> {
        if config.rules.is_empty() && config.policy.is_none() {
            return Err(EngineError::NoRules);
        }
        let detectors = match &config.policy {
            Some(p) => policy::detectors(p)?,
            None => Vec::new(),
        };
        let (mut set, mut rule_errors) = load_rule_paths(&config.rules);
        if config.policy.is_some() {
            let (pack, errors) = rules::policy_pack();
            set.extend(pack);
            rule_errors.extend(errors);
        }
        let (matcher, errors) = Matcher::new(&set);
        rule_errors.extend(errors);
        let use_detectors = !detectors.is_empty();
        let (stage, errors) = Stateful::new(&matcher, detectors);
        rule_errors.extend(errors);
        let rules_loaded = stage.rules_loaded();
        let selectors = stage.selectors();
        let ordered_idle = stage.is_idle();
        let catalogue = Catalogue::new(&matcher, stage.loaded_correlations());
        drop(stage);
        // The parsed rules are no longer needed. Freeing thousands of them
        // takes tens of milliseconds, which a short hunt would wait for:
        // free them beside the run instead.
        std::thread::spawn(move || drop(set));
        if rules_loaded == 0 && !config.rules.is_empty() && !use_detectors {
            return Err(EngineError::NothingLoaded(config.rules));
        }
        Ok(Engine {
            matcher,
            catalogue,
            policy: config.policy,
            selectors,
            rule_errors,
            rules_loaded,
            ordered_idle,
        })
    }

    /// How many rules run: detection rules that compiled, correlations
    /// whose rules all loaded, and filters (as `rules check` counts them).
    pub fn rules_loaded(&self) -> usize {
        self.rules_loaded
    }

    /// Rules that failed to read, parse or compile, with their reasons.
    pub fn rule_errors(&self) -> &[RuleError] {
        &self.rule_errors
    }

    /// The policy configuration the engine runs with (`None`: no policy
    /// pack). The live server builds its gap detector from it.
    pub fn policy(&self) -> Option<&PolicyConfig> {
        self.policy.as_ref()
    }

    /// Every Sigma rule that runs (detection rules that compiled, then
    /// correlations that loaded), with its logsource. The native policy
    /// detectors are not rules and are not listed.
    pub fn rules(&self) -> &[RuleInfo] {
        self.catalogue.rules()
    }

    /// The longest span of event time any rule or detector keeps state
    /// for: the longest correlation `timespan`, and the login-failure
    /// window of the policy detectors. Replaying this much event time
    /// rebuilds every such window. (Learned cadences and baselines, and
    /// cooldowns, reach further back; they are not counted.)
    pub fn longest_window(&self) -> Duration {
        let correlations = self
            .rules()
            .iter()
            .filter_map(|r| r.timespan_secs)
            .max()
            .unwrap_or(0);
        let login = self.policy.as_ref().map_or(0, |p| p.login.window.0);
        Duration::from_secs(correlations.max(login))
    }

    /// The rules an event of `route` feeds (the detection rules it is
    /// matched against, and the correlations counting them), as sorted
    /// indexes into [`Engine::rules`]. Pure and cheap, but not free: a
    /// caller asking for many events of few routes should keep the
    /// answer per route (a [`Route`] is `Copy`, `Eq` and `Hash`).
    pub fn rules_fed_by(&self, route: &Route) -> Vec<usize> {
        self.catalogue.fed_by(&self.matcher, route)
    }

    /// The rules `event` feeds: [`Engine::rules_fed_by`] of its route.
    pub fn rules_fed_by_event(&self, event: &Event) -> Vec<usize> {
        self.rules_fed_by(&events::taxonomy::route(event))
    }

    /// The annotator of this engine's detections.
    fn annotator(&self) -> &'static dyn Annotator {
        if self.policy.is_some() {
            &PolicyAnnotator
        } else {
            &NoAnnotation
        }
    }

    /// Stage one, for any number of threads at once: matches a batch of
    /// events (in parallel) against every rule. Returns the detections
    /// that need no other event, and the events the ordered stage needs
    /// (for a correlation or a policy detector), which the caller must
    /// pass to [`Ordered::observe`] in [`Pending::order`].
    pub fn scan(&self, batch: Vec<Event>) -> (Vec<Detection>, Vec<Pending>) {
        self.matcher.prepare(batch.iter());
        let annotator = self.annotator();
        let keep_all = !self.ordered_idle;
        let (found, kept): (Vec<Vec<Detection>>, Vec<Option<Pending>>) = batch
            .into_par_iter()
            .with_min_len(64)
            .map(|event| {
                let mut out = Vec::new();
                let sigma = self.matcher.scan(&event, &mut out);
                for d in &mut out {
                    annotator.annotate(d, Some(&event));
                }
                let keep = keep_all
                    && (!sigma.is_empty() || self.selectors.iter().any(|s| s.wants(&event)));
                (out, keep.then_some(Pending { event, sigma }))
            })
            .unzip();
        (
            found.into_iter().flatten().collect(),
            kept.into_iter().flatten().collect(),
        )
    }

    /// Matches one event again for its base-rule matches (a spilled event
    /// read back); its other detections were reported when it was first
    /// matched, and are dropped.
    pub(crate) fn scan_one(&self, event: Event) -> Pending {
        let mut out = Vec::new();
        let sigma = self.matcher.scan(&event, &mut out);
        Pending { event, sigma }
    }

    /// Stage two: a fresh ordered stage (correlation state and policy
    /// detectors) for one run.
    pub fn ordered(&self) -> Ordered<'_> {
        let detectors: Vec<Box<dyn Detector>> = match &self.policy {
            Some(p) => policy::detectors(p).expect("the policy configuration was checked at load"),
            None => Vec::new(),
        };
        let (stage, _errors) = Stateful::new(&self.matcher, detectors);
        Ordered {
            stage,
            annotator: self.annotator(),
        }
    }
}

/// The ordered stage of one run: correlations and policy detectors, fed in
/// time order.
pub struct Ordered<'e> {
    pub(crate) stage: Stateful<'e>,
    annotator: &'static dyn Annotator,
}

impl std::fmt::Debug for Ordered<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ordered")
            .field("stage", &self.stage)
            .finish()
    }
}

impl Ordered<'_> {
    /// Feeds one kept event (events must come in [`Pending::order`]).
    pub fn observe(&mut self, pending: &Pending, out: &mut Vec<Detection>) {
        self.stage.observe(pending, self.annotator, out);
    }

    /// Time has reached `now` with no new event (a live clock tick).
    pub fn advance(&mut self, now: Timestamp, out: &mut Vec<Detection>) {
        self.stage.advance(now, self.annotator, out);
    }

    /// End of input.
    pub fn finish(mut self, out: &mut Vec<Detection>) {
        self.stage.finish(self.annotator, out);
    }

    /// Sorts a whole run's kept events into time order, feeds them and
    /// finishes.
    pub fn run(mut self, mut pending: Vec<Pending>, out: &mut Vec<Detection>) {
        pending.sort_by(Pending::order);
        for p in &pending {
            self.observe(p, out);
        }
        self.finish(out);
    }
}
