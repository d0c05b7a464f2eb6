//! [`Catalogue`]: every rule that runs, with its logsource, and which of
//! them an event's route feeds. Coverage reports ask it ("which sources
//! feed which rules", "which rules never saw an event of their
//! logsource"); matching never does.
//!
//! Detection rules are listed as the [`Matcher`] grouped them: a route
//! feeds a rule when one of its views reaches the rule's group, exactly as
//! [`Matcher::scan`] would hand the event to it. A correlation is fed
//! when one of the rules it counts is (through chained correlations too).
//! Only rules that run are listed: detection rules that compiled and
//! correlations that [`crate::Stateful`] loaded.
//!
//! Pure: built once from the matcher, no IO.

use events::taxonomy::Route;

use crate::matcher::Matcher;
use crate::rule::{RuleInfo, RuleKind};

/// Every rule that runs, and which ones a route feeds.
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    /// Detection rules (the matcher's, in the same order), then the
    /// loaded correlations in load order.
    rules: Vec<RuleInfo>,
    /// How many of `rules` are detection rules.
    detections: usize,
    /// For each correlation (`rules[detections + i]`), the detection rules
    /// it rests on, directly or through the correlations it names:
    /// sorted indexes into `rules`.
    bases: Vec<Vec<u32>>,
}

impl Catalogue {
    /// The catalogue of `matcher`'s detection rules and of its correlation
    /// rules at `loaded_correlations` (indexes into its correlations, in
    /// load order: [`crate::Stateful::loaded_correlations`]).
    pub fn new(matcher: &Matcher, loaded_correlations: &[usize]) -> Catalogue {
        let mut rules: Vec<RuleInfo> = matcher.rules().to_vec();
        let detections = rules.len();
        let mut bases: Vec<Vec<u32>> = Vec::with_capacity(loaded_correlations.len());
        for &c in loaded_correlations {
            let Some(rule) = matcher.correlation_rule(c) else {
                continue;
            };
            let mut base: Vec<u32> = Vec::new();
            for name in &rule.rules {
                let named = |r: &RuleInfo| {
                    r.id.as_deref() == Some(name.as_str())
                        || r.name.as_deref() == Some(name.as_str())
                };
                for (i, r) in rules[..detections].iter().enumerate() {
                    if named(r) {
                        base.push(i as u32);
                    }
                }
                // A chain: the correlation named was loaded before this one.
                for (j, r) in rules[detections..].iter().enumerate() {
                    if named(r) {
                        base.extend_from_slice(&bases[j]);
                    }
                }
            }
            base.sort_unstable();
            base.dedup();
            bases.push(base);
            rules.push(RuleInfo {
                id: rule.id.clone(),
                name: rule.name.clone(),
                title: rule.title.clone(),
                level: crate::matcher::level(rule.level),
                kind: RuleKind::Correlation,
                product: None,
                service: None,
                category: None,
                timespan_secs: Some(rule.timespan.seconds),
            });
        }
        Catalogue {
            rules,
            detections,
            bases,
        }
    }

    /// Every rule that runs: detection rules, then correlations.
    pub fn rules(&self) -> &[RuleInfo] {
        &self.rules
    }

    /// The rules an event of `route` feeds, as sorted indexes into
    /// [`Catalogue::rules`]: the detection rules `matcher` would match it
    /// against, and the correlations counting any of them. `matcher` must
    /// be the one the catalogue was built from.
    pub fn fed_by(&self, matcher: &Matcher, route: &Route) -> Vec<usize> {
        let mut fed = matcher.rules_fed_by(route);
        let detections = fed.len();
        for (j, base) in self.bases.iter().enumerate() {
            if base
                .iter()
                .any(|b| fed[..detections].binary_search(&(*b as usize)).is_ok())
            {
                fed.push(self.detections + j);
            }
        }
        fed
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use events::taxonomy::{WINDOWS, route};
    use events::{Event, LogSource, Meta, Value};
    use serde_json::json;

    use super::*;
    use crate::Stateful;

    /// Seven detection rules (one of them without a logsource) and three
    /// correlations, one chained on another.
    const RULES: &str = "\
title: sshd
id: 00000000-0000-0000-0000-000000000001
name: sshd_rule
level: high
logsource:
  product: linux
  service: sshd
detection:
  sel:
    a: x
  condition: sel
---
title: auth
id: 00000000-0000-0000-0000-000000000002
logsource:
  product: Linux
  service: auth
detection:
  sel:
    a: x
  condition: sel
---
title: any linux
id: 00000000-0000-0000-0000-000000000003
level: low
logsource:
  product: linux
detection:
  sel:
    a: x
  condition: sel
---
title: cloudtrail
id: 00000000-0000-0000-0000-000000000004
level: medium
logsource:
  product: aws
  service: cloudtrail
detection:
  sel:
    a: x
  condition: sel
---
title: process creation
id: 00000000-0000-0000-0000-000000000005
level: critical
logsource:
  product: windows
  category: process_creation
detection:
  sel:
    a: x
  condition: sel
---
title: everything
logsource: {}
detection:
  sel:
    a: x
  condition: sel
---
title: security
id: 00000000-0000-0000-0000-000000000007
logsource:
  product: windows
  service: security
detection:
  sel:
    a: x
  condition: sel
---
title: many sshd
id: 00000000-0000-0000-0000-0000000000c1
name: many_sshd
level: high
correlation:
  type: event_count
  rules:
    - sshd_rule
  group-by:
    - a
  timespan: 5m
  condition:
    gte: 3
---
title: many many sshd
id: 00000000-0000-0000-0000-0000000000c2
correlation:
  type: event_count
  rules:
    - many_sshd
  group-by:
    - a
  timespan: 1h
  condition:
    gte: 2
---
title: many processes
id: 00000000-0000-0000-0000-0000000000c3
correlation:
  type: event_count
  rules:
    - 00000000-0000-0000-0000-000000000005
  group-by:
    - a
  timespan: 5m
  condition:
    gte: 3
";

    /// `(title, kind, level, product, service, category)` of a rule.
    type Listed<'a> = (
        &'a str,
        &'a str,
        &'a str,
        Option<&'a str>,
        Option<&'a str>,
        Option<&'a str>,
    );

    fn load() -> (Matcher, Catalogue) {
        let (set, errors) = rules::load_str("rules.yml", RULES);
        assert!(errors.is_empty(), "{errors:?}");
        let (matcher, errors) = Matcher::new(&set);
        assert!(errors.is_empty(), "{errors:?}");
        let (stage, errors) = Stateful::new(&matcher, Vec::new());
        assert!(errors.is_empty(), "{errors:?}");
        let loaded = stage.loaded_correlations().to_vec();
        drop(stage);
        let catalogue = Catalogue::new(&matcher, &loaded);
        (matcher, catalogue)
    }

    fn event(logsource: LogSource, fields: Value) -> Event {
        let Value::Object(map) = fields else {
            panic!("fixture must be an object")
        };
        let mut meta = Meta::new(Arc::from("test"), 1);
        meta.logsource = logsource;
        Event::new(meta, map)
    }

    #[test]
    fn lists_every_rule_that_runs_with_its_logsource() {
        let (_, catalogue) = load();
        let listed: Vec<Listed<'_>> = catalogue
            .rules()
            .iter()
            .map(|r| {
                (
                    r.title.as_str(),
                    r.kind.as_str(),
                    r.level.as_str(),
                    r.product.as_deref(),
                    r.service.as_deref(),
                    r.category.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            listed,
            [
                (
                    "sshd",
                    "detection",
                    "high",
                    Some("linux"),
                    Some("sshd"),
                    None
                ),
                (
                    "auth",
                    "detection",
                    "informational",
                    Some("linux"),
                    Some("auth"),
                    None
                ),
                ("any linux", "detection", "low", Some("linux"), None, None),
                (
                    "cloudtrail",
                    "detection",
                    "medium",
                    Some("aws"),
                    Some("cloudtrail"),
                    None
                ),
                (
                    "process creation",
                    "detection",
                    "critical",
                    Some("windows"),
                    None,
                    Some("process_creation")
                ),
                ("everything", "detection", "informational", None, None, None),
                (
                    "security",
                    "detection",
                    "informational",
                    Some("windows"),
                    Some("security"),
                    None
                ),
                ("many sshd", "correlation", "high", None, None, None),
                (
                    "many many sshd",
                    "correlation",
                    "informational",
                    None,
                    None,
                    None
                ),
                (
                    "many processes",
                    "correlation",
                    "informational",
                    None,
                    None,
                    None
                ),
            ]
        );
        assert_eq!(catalogue.rules()[5].id, None);
        assert_eq!(catalogue.rules()[0].name.as_deref(), Some("sshd_rule"));
    }

    /// Data-driven: an event, and the titles of the rules it feeds,
    /// written by hand.
    #[test]
    fn a_route_feeds_the_rules_its_events_are_matched_against() {
        let (matcher, catalogue) = load();
        let cases: Vec<(Event, Vec<&str>)> = vec![
            // An sshd line in auth.log is both auth and sshd.
            (
                event(
                    LogSource::service("linux", "auth"),
                    json!({"program": "sshd"}),
                ),
                vec![
                    "sshd",
                    "auth",
                    "any linux",
                    "everything",
                    "many sshd",
                    "many many sshd",
                ],
            ),
            (
                event(
                    LogSource::service("linux", "auth"),
                    json!({"program": "cron"}),
                ),
                vec!["auth", "any linux", "everything"],
            ),
            (
                event(
                    LogSource::service("aws", "cloudtrail"),
                    json!({"eventSource": "s3.amazonaws.com", "eventName": "GetObject"}),
                ),
                vec!["cloudtrail", "everything"],
            ),
            // Security 4688 stands in for process_creation.
            (
                event(WINDOWS, json!({"Channel": "Security", "EventID": 4688})),
                vec![
                    "process creation",
                    "everything",
                    "security",
                    "many processes",
                ],
            ),
            (
                event(WINDOWS, json!({"Channel": "Security", "EventID": 4624})),
                vec!["everything", "security"],
            ),
            (
                event(WINDOWS, json!({"Channel": "System", "EventID": 6005})),
                vec!["everything"],
            ),
            (
                event(LogSource::default(), json!({"message": "hello"})),
                vec!["everything"],
            ),
        ];
        for (event, want) in cases {
            let fed: Vec<&str> = catalogue
                .fed_by(&matcher, &route(&event))
                .into_iter()
                .map(|i| catalogue.rules()[i].title.as_str())
                .collect();
            assert_eq!(fed, want, "event {:?}", event.fields);
        }
    }

    /// The catalogue says a rule is fed exactly when matching hands it
    /// the event: every rule here matches `a: x`, so matching each
    /// event finds the detection rules the catalogue names.
    #[test]
    fn fed_rules_are_the_rules_matching_sees() {
        let (matcher, catalogue) = load();
        let events = [
            event(
                LogSource::service("linux", "auth"),
                json!({"program": "sshd", "a": "x"}),
            ),
            event(
                WINDOWS,
                json!({"Channel": "Security", "EventID": 4688, "a": "x"}),
            ),
            event(LogSource::default(), json!({"a": "x"})),
        ];
        for e in &events {
            let mut found = Vec::new();
            let pending = matcher.scan(e, &mut found);
            // Matches of rules a correlation counts are pending for it.
            let mut matched: Vec<String> = found
                .into_iter()
                .map(|d| d.rule_title)
                .chain(
                    pending
                        .results
                        .iter()
                        .map(|(r, _)| r.header.rule_title.clone()),
                )
                .collect();
            let mut fed: Vec<String> = catalogue
                .fed_by(&matcher, &route(e))
                .into_iter()
                .map(|i| &catalogue.rules()[i])
                .filter(|r| r.kind == RuleKind::Detection)
                .map(|r| r.title.clone())
                .collect();
            matched.sort();
            fed.sort();
            assert_eq!(matched, fed, "event {:?}", e.fields);
        }
    }
}
