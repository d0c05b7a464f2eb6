//! [`Matcher`]: compiled Sigma rules grouped by logsource.
//!
//! Rules are compiled in parallel and grouped into one rsigma-eval
//! `Engine` per distinct logsource `(product, service, category)`. An event
//! is routed ([`events::taxonomy::route`], seen through
//! [`crate::routing`]) to its views; each view looks up the
//! groups whose logsource it satisfies (every field the rule sets equals
//! the view's), so an event meets only the rules of its logsource. A group
//! whose rules set no logsource at all sees every event, and events of an
//! unknown logsource see only that group.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, OnceLock};

use events::taxonomy::Route;
use events::{Event, Value};
use rayon::prelude::*;
use rsigma_eval::{CompiledRule, Engine, EvaluationResult};
use rsigma_parser::{Detection as SigmaDetection, SigmaRule};
use rules::{RuleError, RuleSet};

use events::taxonomy::route;

use crate::routing::{Renames, View, for_each_view};
use crate::rule::{RuleInfo, RuleKind};
use crate::view::EventView;
use crate::{Detection, Level};

/// Longest value kept in [`Detection::fields`], in characters.
pub const FIELD_VALUE_MAX: usize = 160;

/// Most fields kept in [`Detection::fields`].
pub const FIELDS_MAX: usize = 6;

/// `(product, service, category)` as interned ids; 0 is "not set".
type Key = (u32, u32, u32);

/// The rules of one logsource. The engine (and its candidate index, the
/// costly part of loading) is built the first time an event needs it, so a
/// hunt pays only for the logsources its logs contain.
struct Group {
    rules: Mutex<Option<Vec<CompiledRule>>>,
    /// The group's rules, as indexes into the matcher's [`RuleInfo`]s
    /// (kept apart: `rules` moves into the engine).
    members: Vec<u32>,
    /// Indexes (into the matcher's filters) of the filters that may apply
    /// to this group's rules; the others would leave every rule unchanged.
    filters: Vec<usize>,
    engine: OnceLock<Engine>,
}

impl Group {
    /// Rules not yet handed to the engine.
    fn pending_rules(&self) -> usize {
        self.rules
            .lock()
            .map(|r| r.as_ref().map_or(0, Vec::len))
            .unwrap_or(0)
    }

    fn engine(&self, filters: &[rules::FilterRule]) -> &Engine {
        self.engine.get_or_init(|| {
            let rules = self
                .rules
                .lock()
                .map(|mut r| r.take().unwrap_or_default())
                .unwrap_or_default();
            let mut engine = Engine::new();
            engine.extend_compiled_rules(rules);
            for &i in &self.filters {
                // Validated when the matcher was built.
                let _ = engine.apply_filter(filters[i].rule());
            }
            engine
        })
    }
}

/// True when `filter` names a rule of `rules` (by id or title) or targets
/// every rule: only then can applying it change the group.
fn filter_may_apply(filter: &rsigma_parser::FilterRule, rules: &[CompiledRule]) -> bool {
    match &filter.rules {
        rsigma_parser::FilterRuleTarget::Any => true,
        rsigma_parser::FilterRuleTarget::Specific(refs) => rules.iter().any(|rule| {
            refs.iter()
                .any(|r| rule.id.as_deref() == Some(r.as_str()) || rule.title == *r)
        }),
    }
}

/// What detections show about a rule.
#[derive(Debug, Clone)]
pub(crate) struct RuleMeta {
    /// Field names the rule references, in first-use order.
    pub fields: Vec<String>,
    /// True when a correlation refers to the rule: its matches go through
    /// the ordered stage.
    pub correlated: bool,
}

/// Compiled rules, ready to match events from any number of threads.
pub struct Matcher {
    groups: Vec<Group>,
    filters: Vec<rules::FilterRule>,
    index: HashMap<Key, usize>,
    interner: HashMap<String, u32>,
    meta: HashMap<String, RuleMeta>,
    /// Every detection rule that compiled, in load order, for the
    /// [`crate::Catalogue`].
    infos: Vec<RuleInfo>,
    pub(crate) correlation_bases: Vec<SigmaRule>,
    pub(crate) correlations: Vec<rules::CorrelationRule>,
    loaded: usize,
}

/// Base-rule matches that a correlation is waiting for, to be fed in time
/// order by [`crate::Stateful`].
#[derive(Debug, Clone, Default)]
pub struct CorrelationInput {
    pub(crate) results: Vec<(EvaluationResult, Renames)>,
}

impl CorrelationInput {
    /// True when nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.results.is_empty()
    }
}

impl std::fmt::Debug for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Matcher")
            .field("groups", &self.groups.len())
            .field("loaded", &self.loaded)
            .finish()
    }
}

impl Matcher {
    /// Compiles every rule of the set. Rules that fail are returned as
    /// errors; the rest load.
    pub fn new(set: &RuleSet) -> (Matcher, Vec<RuleError>) {
        // Compile, and collect each rule's field names, on every core.
        let compiled: Vec<Result<(CompiledRule, Vec<String>), RuleError>> = set
            .detections
            .par_iter()
            .map(|r| {
                rsigma_eval::compile_rule(r.rule())
                    .map(|c| (c, referenced_fields(r.rule())))
                    .map_err(|e| RuleError {
                        file: r.file.to_string(),
                        rule_id: r.rule().id.clone(),
                        reason: e.to_string(),
                    })
            })
            .collect();

        let mut refs: HashSet<&str> = HashSet::new();
        for c in &set.correlations {
            refs.extend(c.rule().rules.iter().map(String::as_str));
        }

        let mut errors = Vec::new();
        let mut interner: HashMap<String, u32> = HashMap::new();
        let mut by_key: HashMap<Key, (Vec<CompiledRule>, Vec<u32>)> = HashMap::new();
        let mut meta = HashMap::new();
        let mut infos: Vec<RuleInfo> = Vec::new();
        let mut correlation_bases = Vec::new();
        let mut loaded = 0;
        for (source, result) in set.detections.iter().zip(compiled) {
            let (rule, fields) = match result {
                Ok(compiled) => compiled,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            loaded += 1;
            let ls = &source.rule().logsource;
            let key = (
                intern(&mut interner, ls.product.as_deref()),
                intern(&mut interner, ls.service.as_deref()),
                intern(&mut interner, ls.category.as_deref()),
            );
            let correlated = source
                .rule()
                .id
                .as_deref()
                .is_some_and(|id| refs.contains(id))
                || source
                    .rule()
                    .name
                    .as_deref()
                    .is_some_and(|n| refs.contains(n));
            if correlated {
                correlation_bases.push(source.rule().clone());
            }
            meta.entry(meta_key(rule.id.as_deref(), &rule.title))
                .or_insert_with(|| RuleMeta { fields, correlated });
            let lower = |s: &Option<String>| s.as_deref().map(str::to_ascii_lowercase);
            let member = u32::try_from(infos.len()).unwrap_or(u32::MAX);
            infos.push(RuleInfo {
                id: source.rule().id.clone(),
                name: source.rule().name.clone(),
                title: source.rule().title.clone(),
                level: level(source.rule().level),
                kind: RuleKind::Detection,
                product: lower(&ls.product),
                service: lower(&ls.service),
                category: lower(&ls.category),
                timespan_secs: None,
            });
            let group = by_key.entry(key).or_default();
            group.0.push(rule);
            group.1.push(member);
        }

        // Filters are applied when a group is built; check them now, on an
        // empty engine, so a broken filter is reported and left out.
        let mut filters: Vec<rules::FilterRule> = Vec::new();
        for filter in &set.filters {
            match Engine::new().apply_filter(filter.rule()) {
                Ok(()) => filters.push(filter.clone()),
                Err(e) => errors.push(RuleError {
                    file: filter.file.to_string(),
                    rule_id: filter.rule().id.clone(),
                    reason: e.to_string(),
                }),
            }
        }
        let mut keys: Vec<Key> = by_key.keys().copied().collect();
        keys.sort_unstable();
        let groups: Vec<Group> = keys
            .iter()
            .map(|k| {
                let (rules, members) = by_key.remove(k).unwrap_or_default();
                let applicable = (0..filters.len())
                    .filter(|&i| filter_may_apply(filters[i].rule(), &rules))
                    .collect();
                Group {
                    rules: Mutex::new(Some(rules)),
                    members,
                    filters: applicable,
                    engine: OnceLock::new(),
                }
            })
            .collect();
        let index: HashMap<Key, usize> = keys.iter().enumerate().map(|(i, k)| (*k, i)).collect();
        (
            Matcher {
                groups,
                filters,
                index,
                interner,
                meta,
                infos,
                correlation_bases,
                correlations: set.correlations.clone(),
                loaded,
            },
            errors,
        )
    }

    /// Number of detection rules that compiled.
    pub fn rule_count(&self) -> usize {
        self.loaded
    }

    /// Number of correlation rules handed to the ordered stage (some of
    /// them may still fail there: count loaded rules with
    /// [`crate::Stateful::rules_loaded`]).
    pub fn correlation_count(&self) -> usize {
        self.correlations.len()
    }

    /// Number of filter rules that are valid and applied.
    pub fn filter_count(&self) -> usize {
        self.filters.len()
    }

    /// Number of logsource groups.
    pub fn group_count(&self) -> usize {
        self.groups.len()
    }

    /// Every detection rule that compiled, in load order.
    pub fn rules(&self) -> &[RuleInfo] {
        &self.infos
    }

    /// The detection rules an event of `route` is matched against (the
    /// rules of every group its views reach, as [`Matcher::scan`] finds
    /// them), as sorted indexes into [`Matcher::rules`].
    pub fn rules_fed_by(&self, route: &Route) -> Vec<usize> {
        let mut groups: Vec<usize> = Vec::new();
        for_each_view(route, |view| {
            self.for_each_group(&view, |g, _| {
                if !groups.contains(&g) {
                    groups.push(g);
                }
            });
        });
        let mut fed: Vec<usize> = groups
            .iter()
            .flat_map(|&g| self.groups[g].members.iter().map(|&i| i as usize))
            .collect();
        fed.sort_unstable();
        fed.dedup();
        fed
    }

    /// The correlation rule at `index` of those given to the matcher.
    pub(crate) fn correlation_rule(&self, index: usize) -> Option<&rsigma_parser::CorrelationRule> {
        self.correlations
            .get(index)
            .map(rules::CorrelationRule::rule)
    }

    fn id(&self, s: Option<&str>) -> Option<u32> {
        match s {
            None => Some(0),
            Some(s) => self.interner.get(s).copied(),
        }
    }

    /// Matches one event. Detections of ordinary rules are appended to
    /// `out`; matches of rules a correlation refers to are returned, to be
    /// fed in time order to [`crate::Stateful`].
    pub fn scan(&self, event: &Event, out: &mut Vec<Detection>) -> CorrelationInput {
        let route = route(event);
        let mut seen = [usize::MAX; 48];
        let mut nseen = 0;
        let mut pending = CorrelationInput::default();
        for_each_view(&route, |view| {
            self.scan_view(event, &view, &mut seen, &mut nseen, out, &mut pending);
        });
        pending
    }

    fn scan_view(
        &self,
        event: &Event,
        view: &View,
        seen: &mut [usize; 48],
        nseen: &mut usize,
        out: &mut Vec<Detection>,
        pending: &mut CorrelationInput,
    ) {
        self.for_each_group(view, |g, ck| {
            if seen[..*nseen].contains(&g) {
                return;
            }
            if *nseen < seen.len() {
                seen[*nseen] = g;
                *nseen += 1;
            }
            // Rules without a category read the raw event; only a
            // category's rules see its renames.
            let renames = if ck == 0 { &[][..] } else { view.renames };
            let ev = EventView { event, renames };
            for result in self.groups[g].engine(&self.filters).evaluate(&ev) {
                if self.is_correlated(&result) {
                    pending.results.push((result, renames));
                } else {
                    out.push(self.detection(&result, &ev));
                }
            }
        });
    }

    /// Calls `f(group, category id)` for every group whose logsource
    /// `view` satisfies.
    fn for_each_group(&self, view: &View, mut f: impl FnMut(usize, u32)) {
        let p = self.id(view.product);
        let s = self.id(view.service);
        let c = self.id(view.category);
        for pk in [Some(0), p.filter(|&x| x != 0)] {
            let Some(pk) = pk else { continue };
            for sk in [Some(0), s.filter(|&x| x != 0)] {
                let Some(sk) = sk else { continue };
                for ck in [Some(0), c.filter(|&x| x != 0)] {
                    let Some(ck) = ck else { continue };
                    if let Some(&g) = self.index.get(&(pk, sk, ck)) {
                        f(g, ck);
                    }
                }
            }
        }
    }

    /// Builds, in parallel, the engines that `events` need and that are not
    /// built yet. Optional: [`Matcher::scan`] builds a missing engine
    /// itself, but one at a time on the calling thread; calling this first
    /// with a batch spreads the first builds (the bulk of the start-up cost
    /// of a short hunt) over every core. Results do not change.
    pub fn prepare<'e>(&self, events: impl IntoIterator<Item = &'e Event>) {
        if self.groups.iter().all(|g| g.engine.get().is_some()) {
            return;
        }
        let mut needed: Vec<usize> = Vec::new();
        for event in events {
            for_each_view(&route(event), |view| {
                self.for_each_group(&view, |g, _| {
                    if self.groups[g].engine.get().is_none() && !needed.contains(&g) {
                        needed.push(g);
                    }
                });
            });
        }
        if needed.len() < 2 {
            return;
        }
        // Largest first, so the biggest build starts at once.
        needed.sort_by_key(|&g| std::cmp::Reverse(self.groups[g].pending_rules()));
        needed.par_iter().with_max_len(1).for_each(|&g| {
            self.groups[g].engine(&self.filters);
        });
    }

    fn is_correlated(&self, result: &EvaluationResult) -> bool {
        self.meta
            .get(meta_key(result.header.rule_id.as_deref(), &result.header.rule_title).as_str())
            .is_some_and(|m| m.correlated)
    }

    /// Turns a detection result into a [`Detection`] for `view`'s event.
    pub(crate) fn detection(&self, result: &EvaluationResult, view: &EventView<'_>) -> Detection {
        let event = view.event;
        let mut fields = std::collections::BTreeMap::new();
        if let Some(meta) = self
            .meta
            .get(meta_key(result.header.rule_id.as_deref(), &result.header.rule_title).as_str())
        {
            for name in &meta.fields {
                if fields.len() >= FIELDS_MAX {
                    break;
                }
                if let Some(v) = view.lookup(name).or_else(|| event.get(name)) {
                    fields.insert(name.clone(), display_value(v));
                }
            }
        }
        Detection {
            rule_id: result.header.rule_id.clone().unwrap_or_default(),
            rule_title: result.header.rule_title.clone(),
            level: level(result.header.level),
            timestamp: event.meta.timestamp,
            file: event.meta.source.clone(),
            record: event.meta.record,
            host: event.meta.host.clone(),
            logsource: route(event).logsource(),
            policy: None,
            entities: Default::default(),
            fields,
        }
    }
}

fn intern(interner: &mut HashMap<String, u32>, s: Option<&str>) -> u32 {
    let Some(s) = s else { return 0 };
    let s = s.to_ascii_lowercase();
    let next = interner.len() as u32 + 1;
    *interner.entry(s).or_insert(next)
}

fn meta_key(id: Option<&str>, title: &str) -> String {
    match id {
        Some(id) => id.to_string(),
        None => format!("title:{title}"),
    }
}

/// Maps rsigma's level; a rule without one counts as informational.
pub(crate) fn level(level: Option<rsigma_parser::Level>) -> Level {
    use rsigma_parser::Level as L;
    match level {
        Some(L::Low) => Level::Low,
        Some(L::Medium) => Level::Medium,
        Some(L::High) => Level::High,
        Some(L::Critical) => Level::Critical,
        Some(L::Informational) | None => Level::Informational,
    }
}

/// A field value as display text, cut to [`FIELD_VALUE_MAX`] characters.
pub(crate) fn display_value(v: &Value) -> String {
    let text = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match text.char_indices().nth(FIELD_VALUE_MAX) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text,
    }
}

/// Field names a rule references, in a stable order (sorted detection
/// names, then item order), without duplicates.
fn referenced_fields(rule: &SigmaRule) -> Vec<String> {
    let mut names: Vec<&String> = rule.detection.named.keys().collect();
    names.sort();
    let mut out: Vec<String> = Vec::new();
    for name in names {
        if name.starts_with("filter") {
            continue;
        }
        collect_fields(&rule.detection.named[name], &mut out);
    }
    out
}

fn collect_fields(d: &SigmaDetection, out: &mut Vec<String>) {
    match d {
        SigmaDetection::AllOf(items) => {
            for item in items {
                if let Some(name) = &item.field.name
                    && !out.contains(name)
                {
                    out.push(name.clone());
                }
            }
        }
        SigmaDetection::AnyOf(subs) => subs.iter().for_each(|s| collect_fields(s, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use events::{LogSource, Meta};
    use serde_json::json;

    use super::*;

    fn event(service: &'static str, fields: serde_json::Value) -> Event {
        let serde_json::Value::Object(map) = fields else {
            panic!("fixture must be an object")
        };
        let mut meta = Meta::new(Arc::from("test.log"), 1);
        meta.logsource = LogSource {
            product: Some("test"),
            service: Some(service),
            category: None,
        };
        Event::new(meta, map)
    }

    /// Three rules, one per service `a`, `b` and `c`, each matching `A: x`;
    /// a filter on the `a` rule drops events of user `admin`.
    const RULES: &str = "title: ra\nid: 00000000-0000-0000-0000-0000000000aa\nlogsource:\n  product: test\n  service: a\ndetection:\n  sel:\n    A: x\n  condition: sel\n---\ntitle: rb\nid: 00000000-0000-0000-0000-0000000000bb\nlogsource:\n  product: test\n  service: b\ndetection:\n  sel:\n    A: x\n  condition: sel\n---\ntitle: rc\nid: 00000000-0000-0000-0000-0000000000cc\nlogsource:\n  product: test\n  service: c\ndetection:\n  sel:\n    A: x\n  condition: sel\n---\ntitle: f\nid: 00000000-0000-0000-0000-0000000000ff\nlogsource:\n  product: test\nfilter:\n  rules:\n    - 00000000-0000-0000-0000-0000000000aa\n  selection:\n    User: admin\n  condition: not selection\n";

    fn matcher() -> Matcher {
        let (set, errors) = rules::load_str("rules.yml", RULES);
        assert!(errors.is_empty(), "{errors:?}");
        let (m, errors) = Matcher::new(&set);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(m.group_count(), 3);
        m
    }

    fn built(m: &Matcher) -> Vec<bool> {
        m.groups.iter().map(|g| g.engine.get().is_some()).collect()
    }

    fn ids(m: &Matcher, events: &[Event]) -> Vec<String> {
        let mut out = Vec::new();
        for e in events {
            m.scan(e, &mut out);
        }
        out.into_iter().map(|d| d.rule_id).collect()
    }

    #[test]
    fn prepare_builds_only_the_engines_the_events_need_and_keeps_results() {
        let events = [
            event("a", json!({"A": "x", "User": "bob"})),
            event("a", json!({"A": "x", "User": "admin"})),
            event("b", json!({"A": "x"})),
        ];
        let lazy = matcher();
        let want = ids(&lazy, &events);
        assert_eq!(
            want,
            [
                "00000000-0000-0000-0000-0000000000aa",
                "00000000-0000-0000-0000-0000000000bb"
            ]
        );

        let prepared = matcher();
        assert_eq!(built(&prepared), [false, false, false]);
        prepared.prepare(&events);
        // Groups are sorted by interned key: services a, b, c in order.
        assert_eq!(built(&prepared), [true, true, false]);
        assert_eq!(ids(&prepared, &events), want);
        assert_eq!(built(&prepared), [true, true, false]);
    }

    #[test]
    fn a_filter_is_applied_only_to_groups_holding_a_rule_it_names() {
        let m = matcher();
        let filters: Vec<usize> = m.groups.iter().map(|g| g.filters.len()).collect();
        assert_eq!(filters, [1, 0, 0]);
    }
}
