//! Log-source health and coverage: every *stream* detection reads, with
//! its counts, times, rate and gap history, and which rules its events
//! feed.
//!
//! A stream is one source name (`SENDER/TYPE`, `syslog/PEER/TYPE`,
//! `tail/TYPE/FILE`, `SENDER/otlp`), one host (the event's, when it names
//! one) and one log type: the logsource of the event's route (product,
//! first service, first category; [`events::taxonomy::route`]). The worker
//! tells the tracker about every event it parsed ([`Health::observe`]) and
//! every detection it stores ([`Health::detection`]): the policy gap
//! detector's `silent`, `recovered` and `gap` detections, about a source
//! name and host, mark each of its streams silent and build their gap
//! history (the last [`MAX_GAPS`]).
//!
//! Each stream keeps the distinct routes its events had (at most
//! [`MAX_ROUTES`]) with a count each; which rules those routes feed is
//! asked of the running [`Engine`] only when the API asks
//! ([`Health::streams`], [`Health::coverage`]), once per distinct route.
//! So the per-event cost is one route decision, two hash lookups by
//! borrowed key and a few comparisons; memory is allocated only for a new
//! stream, and at most [`MAX_STREAMS`] are tracked (the events of others
//! are counted as untracked).
//!
//! Everything here is since the server started: it is kept in memory
//! only, like the per-source counts. A record is counted once per
//! process: the replay after a rule reload is not counted again, but the
//! replay at start (events within the replay horizon, read again from the
//! spool) is, with the receive times the spool kept.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};

use detect::{Detection, RuleInfo, RuleKind};
use engine::Engine;
use events::taxonomy::{Route, route};
use events::{Event, LogSource, SourceId, Timestamp};
use policy::gaps::{GAP_ID, RECOVERED_ID, SILENT_ID};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use web::events::{
    Coverage, CoverageRule, CoverageSource, LogGap, LogSourceBody, RuleSummary, SourceStream,
    Streams,
};

/// The most streams tracked; the events of others are counted only.
pub const MAX_STREAMS: usize = 10_000;
/// The most gaps a stream keeps (the most recent).
pub const MAX_GAPS: usize = 32;
/// The most distinct routes a stream keeps; events of further routes are
/// counted in the stream but feed no rule count.
pub const MAX_ROUTES: usize = 16;

/// The tracker the worker writes and the API reads.
pub(crate) struct Health {
    inner: Mutex<Tracker>,
}

#[derive(Default)]
struct Tracker {
    /// Stream indexes by source name, then host.
    sources: HashMap<SourceId, Hosts>,
    streams: Vec<Stream>,
    /// Events of streams past `max_streams`.
    untracked: u64,
    /// The next spool offset to count: records before it were counted.
    next_offset: u64,
    max_streams: usize,
}

/// The streams of one source name, by host.
#[derive(Default)]
struct Hosts {
    none: Vec<u32>,
    named: HashMap<Box<str>, Vec<u32>>,
}

struct Stream {
    source: SourceId,
    host: Option<Box<str>>,
    logsource: LogSource,
    events: u64,
    first_event: Option<Timestamp>,
    last_event: Option<Timestamp>,
    /// Receive times, Unix seconds.
    first_received: i64,
    last_received: i64,
    /// Distinct routes with their event counts.
    routes: Vec<(Route, u64)>,
    silent_since: Option<Timestamp>,
    gaps: VecDeque<Gap>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Gap {
    from: Timestamp,
    to: Option<Timestamp>,
}

/// What a gap detection says.
enum GapNews {
    Silent { since: Timestamp },
    Recovered { from: Timestamp, to: Timestamp },
    Gap { from: Timestamp, to: Timestamp },
}

/// A stream as read for an answer.
struct Snapshot {
    source: SourceId,
    host: Option<Box<str>>,
    logsource: LogSource,
    events: u64,
    first_event: Option<Timestamp>,
    last_event: Option<Timestamp>,
    first_received: i64,
    last_received: i64,
    routes: Vec<(Route, u64)>,
    silent_since: Option<Timestamp>,
    gaps: Vec<Gap>,
}

impl Health {
    /// A tracker of at most `max_streams` streams.
    pub(crate) fn new(max_streams: usize) -> Health {
        Health {
            inner: Mutex::new(Tracker {
                max_streams,
                ..Tracker::default()
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Tracker> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts the events parsed from the spool record at `offset`,
    /// received at `received` (Unix seconds). A record before one already
    /// counted (the replay after a rule reload) is not counted again.
    pub(crate) fn observe(&self, offset: u64, received: i64, events: &[Event]) {
        let mut t = self.lock();
        if offset < t.next_offset {
            return;
        }
        t.next_offset = offset + 1;
        for event in events {
            t.event(event, received);
        }
    }

    /// Takes in a detection: the gap detector's mark the streams of their
    /// source and host silent, recovered, or add a gap; others are
    /// ignored (without taking the lock).
    pub(crate) fn detection(&self, d: &Detection) {
        let at = |name: &str| {
            d.fields
                .get(name)
                .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
        };
        let news = match d.rule_id.as_str() {
            SILENT_ID => at("silent_since").map(|since| GapNews::Silent { since }),
            RECOVERED_ID => at("from")
                .zip(at("to"))
                .map(|(from, to)| GapNews::Recovered { from, to }),
            GAP_ID => at("from")
                .zip(at("to"))
                .map(|(from, to)| GapNews::Gap { from, to }),
            _ => return,
        };
        let Some(news) = news else {
            tracing::debug!(rule = %d.rule_id, "a gap detection without its times");
            return;
        };
        let mut t = self.lock();
        let indexes: Vec<u32> = t.streams_of(&d.file, d.host.as_deref()).to_vec();
        for i in indexes {
            t.streams[i as usize].take(&news);
        }
    }

    /// Every stream, by name, host and logsource, with the number of
    /// rules of `engine` it feeds; gaps still open are measured to `now`.
    pub(crate) fn streams(&self, engine: &Engine, now: OffsetDateTime) -> Streams {
        let (snapshots, untracked) = self.snapshot();
        let mut fed = FedRules::new(engine);
        let streams = snapshots
            .iter()
            .map(|s| {
                let rules = fed.of(s).len() as u64;
                let received = |secs: i64| {
                    OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH)
                };
                let minutes = ((s.last_received - s.first_received) as f64 / 60.0).max(1.0);
                SourceStream {
                    name: s.source.to_string(),
                    host: s.host.as_deref().map(str::to_owned),
                    logsource: logsource_body(s.logsource),
                    events: s.events,
                    first_event: s.first_event,
                    last_event: s.last_event,
                    last_received: received(s.last_received),
                    events_per_minute: s.events as f64 / minutes,
                    silent: s.silent_since.is_some(),
                    silent_since: s.silent_since,
                    gaps: s
                        .gaps
                        .iter()
                        .map(|g| LogGap {
                            from: g.from,
                            to: g.to,
                            seconds: ((g.to.unwrap_or(now) - g.from).as_seconds_f64()).max(0.0),
                        })
                        .collect(),
                    rules,
                }
            })
            .collect();
        Streams {
            streams,
            untracked_events: untracked,
        }
    }

    /// Which streams feed which rules of `engine`, each rule's events, and
    /// the rules that saw none.
    pub(crate) fn coverage(&self, engine: &Engine) -> Coverage {
        let (snapshots, untracked) = self.snapshot();
        let rules = engine.rules();
        let mut seen = vec![0u64; rules.len()];
        let mut feeding = vec![0u64; rules.len()];
        let mut fed = FedRules::new(engine);
        let mut sources = Vec::with_capacity(snapshots.len());
        for s in &snapshots {
            for (route, count) in &s.routes {
                for &i in fed.of_route(route) {
                    seen[i] += count;
                }
            }
            let indexes = fed.of(s);
            for &i in &indexes {
                feeding[i] += 1;
            }
            sources.push(CoverageSource {
                name: s.source.to_string(),
                host: s.host.as_deref().map(str::to_owned),
                logsource: logsource_body(s.logsource),
                events: s.events,
                rules: indexes.iter().map(|&i| summary(&rules[i])).collect(),
            });
        }
        let mut order: Vec<usize> = (0..rules.len()).collect();
        order.sort_by(|&a, &b| {
            (&rules[a].title, &rules[a].id, a).cmp(&(&rules[b].title, &rules[b].id, b))
        });
        let listed = order
            .iter()
            .map(|&i| {
                let s = summary(&rules[i]);
                CoverageRule {
                    id: s.id,
                    title: s.title,
                    level: s.level,
                    kind: s.kind,
                    logsource: s.logsource,
                    events_seen: seen[i],
                    streams: feeding[i],
                }
            })
            .collect();
        let without = order
            .iter()
            .filter(|&&i| seen[i] == 0)
            .map(|&i| summary(&rules[i]))
            .collect();
        Coverage {
            sources,
            rules: listed,
            rules_without_events: without,
            untracked_events: untracked,
        }
    }

    /// Copies of every stream, by name, host and logsource, and the
    /// untracked count.
    fn snapshot(&self) -> (Vec<Snapshot>, u64) {
        let t = self.lock();
        let mut out: Vec<Snapshot> = t
            .streams
            .iter()
            .map(|s| Snapshot {
                source: SourceId::clone(&s.source),
                host: s.host.clone(),
                logsource: s.logsource,
                events: s.events,
                first_event: s.first_event,
                last_event: s.last_event,
                first_received: s.first_received,
                last_received: s.last_received,
                routes: s.routes.clone(),
                silent_since: s.silent_since,
                gaps: s.gaps.iter().copied().collect(),
            })
            .collect();
        let untracked = t.untracked;
        drop(t);
        out.sort_by(|a, b| {
            let key = |s: &Snapshot| {
                (
                    SourceId::clone(&s.source),
                    s.host.clone(),
                    s.logsource.product,
                    s.logsource.service,
                    s.logsource.category,
                )
            };
            key(a).cmp(&key(b))
        });
        (out, untracked)
    }
}

impl Tracker {
    fn event(&mut self, event: &Event, received: i64) {
        let route = route(event);
        let logsource = route.logsource();
        let host = event.meta.host.as_deref();
        let index = match self.find(&event.meta.source, host, logsource) {
            Some(i) => i,
            None => {
                if self.streams.len() >= self.max_streams {
                    self.untracked += 1;
                    return;
                }
                self.add(&event.meta.source, host, logsource, received)
            }
        };
        let s = &mut self.streams[index];
        s.events += 1;
        if let Some(t) = event.meta.timestamp {
            s.first_event = Some(s.first_event.map_or(t, |f| f.min(t)));
            s.last_event = Some(s.last_event.map_or(t, |l| l.max(t)));
        }
        s.first_received = s.first_received.min(received);
        s.last_received = s.last_received.max(received);
        if let Some((_, n)) = s.routes.iter_mut().find(|(r, _)| *r == route) {
            *n += 1;
        } else if s.routes.len() < MAX_ROUTES {
            s.routes.push((route, 1));
        }
    }

    /// The stream of a source name, host and logsource, by borrowed key.
    fn find(&self, source: &str, host: Option<&str>, logsource: LogSource) -> Option<usize> {
        let hosts = self.sources.get(source)?;
        let list = match host {
            None => &hosts.none,
            Some(h) => hosts.named.get(h)?,
        };
        list.iter()
            .map(|&i| i as usize)
            .find(|&i| self.streams[i].logsource == logsource)
    }

    fn add(
        &mut self,
        source: &SourceId,
        host: Option<&str>,
        logsource: LogSource,
        received: i64,
    ) -> usize {
        let index = self.streams.len();
        self.streams.push(Stream {
            source: SourceId::clone(source),
            host: host.map(Box::from),
            logsource,
            events: 0,
            first_event: None,
            last_event: None,
            first_received: received,
            last_received: received,
            routes: Vec::new(),
            silent_since: None,
            gaps: VecDeque::new(),
        });
        let hosts = self.sources.entry(SourceId::clone(source)).or_default();
        let list = match host {
            None => &mut hosts.none,
            Some(h) => hosts.named.entry(Box::from(h)).or_default(),
        };
        list.push(u32::try_from(index).unwrap_or(u32::MAX));
        index
    }

    /// Every stream of a source name and host.
    fn streams_of(&self, source: &str, host: Option<&str>) -> &[u32] {
        let Some(hosts) = self.sources.get(source) else {
            return &[];
        };
        match host {
            None => &hosts.none,
            Some(h) => hosts.named.get(h).map_or(&[], Vec::as_slice),
        }
    }
}

impl Stream {
    /// Applies gap news. The same news twice (a silence found again after
    /// a reload's replay) changes nothing.
    fn take(&mut self, news: &GapNews) {
        match *news {
            GapNews::Silent { since } => {
                if self.silent_since.is_some() || self.gaps.iter().any(|g| g.from == since) {
                    return;
                }
                self.silent_since = Some(since);
                self.push(Gap {
                    from: since,
                    to: None,
                });
            }
            GapNews::Recovered { from, to } => {
                self.silent_since = None;
                self.close(from, to);
            }
            GapNews::Gap { from, to } => self.close(from, to),
        }
    }

    /// Closes the open gap from `from`, or adds a closed one.
    fn close(&mut self, from: Timestamp, to: Timestamp) {
        match self.gaps.iter_mut().find(|g| g.from == from) {
            Some(g) => {
                if g.to.is_none() {
                    g.to = Some(to);
                }
            }
            None => self.push(Gap { from, to: Some(to) }),
        }
    }

    fn push(&mut self, gap: Gap) {
        if self.gaps.len() >= MAX_GAPS {
            self.gaps.pop_front();
        }
        self.gaps.push_back(gap);
    }
}

/// The rules each route feeds, asked of the engine once per route.
struct FedRules<'e> {
    engine: &'e Engine,
    cache: HashMap<Route, Vec<usize>>,
}

impl<'e> FedRules<'e> {
    fn new(engine: &'e Engine) -> Self {
        FedRules {
            engine,
            cache: HashMap::new(),
        }
    }

    fn of_route(&mut self, route: &Route) -> &[usize] {
        let engine = self.engine;
        self.cache
            .entry(*route)
            .or_insert_with(|| engine.rules_fed_by(route))
    }

    /// The rules a stream's routes feed, sorted.
    fn of(&mut self, s: &Snapshot) -> Vec<usize> {
        let mut all: Vec<usize> = Vec::new();
        for (route, _) in &s.routes {
            all.extend_from_slice(self.of_route(route));
        }
        all.sort_unstable();
        all.dedup();
        all
    }
}

fn logsource_body(ls: LogSource) -> LogSourceBody {
    LogSourceBody {
        product: ls.product.map(str::to_owned),
        service: ls.service.map(str::to_owned),
        category: ls.category.map(str::to_owned),
    }
}

fn summary(rule: &RuleInfo) -> RuleSummary {
    let (kind, logsource) = match rule.kind {
        RuleKind::Detection => (
            web::events::RuleKind::Detection,
            Some(LogSourceBody {
                product: rule.product.clone(),
                service: rule.service.clone(),
                category: rule.category.clone(),
            }),
        ),
        RuleKind::Correlation => (web::events::RuleKind::Correlation, None),
    };
    RuleSummary {
        id: rule.id.clone(),
        title: rule.title.clone(),
        level: super::alerts::alert_level(rule.level),
        kind,
        logsource,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use detect::Level;
    use events::{Meta, Value};
    use serde_json::json;

    use super::*;

    /// One rule each for sshd, CloudTrail and Windows process creation.
    const RULES: &str = "title: sshd
id: 00000000-0000-0000-0000-0000000000a1
level: medium
logsource:
  product: linux
  service: sshd
detection:
  sel:
    message|contains: Failed
  condition: sel
---
title: cloudtrail
id: 00000000-0000-0000-0000-0000000000a2
level: high
logsource:
  product: aws
  service: cloudtrail
detection:
  sel:
    eventName: ConsoleLogin
  condition: sel
---
title: process creation
id: 00000000-0000-0000-0000-0000000000a3
level: low
logsource:
  product: windows
  category: process_creation
detection:
  sel:
    Image|endswith: whoami.exe
  condition: sel
";

    fn engine() -> Engine {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("rules.yml"), RULES).unwrap();
        let engine = Engine::load(engine::EngineConfig {
            rules: vec![dir.path().to_path_buf()],
            policy: None,
        })
        .unwrap();
        assert!(engine.rule_errors().is_empty());
        engine
    }

    const T0: i64 = 1_767_225_600;

    fn at(secs: i64) -> Timestamp {
        OffsetDateTime::from_unix_timestamp(T0 + secs).unwrap()
    }

    fn event(
        source: &str,
        host: Option<&str>,
        logsource: LogSource,
        secs: i64,
        fields: Value,
    ) -> Event {
        let Value::Object(fields) = fields else {
            unreachable!()
        };
        let mut meta = Meta::new(Arc::from(source), 1);
        meta.logsource = logsource;
        meta.host = host.map(str::to_owned);
        meta.timestamp = Some(at(secs));
        Event::new(meta, fields)
    }

    fn sshd(host: &str, secs: i64) -> Event {
        event(
            "s/auth.log",
            Some(host),
            LogSource::service("linux", "auth"),
            secs,
            json!({"program": "sshd", "message": "Failed password"}),
        )
    }

    fn cron(host: &str, secs: i64) -> Event {
        event(
            "s/auth.log",
            Some(host),
            LogSource::service("linux", "auth"),
            secs,
            json!({"program": "cron", "message": "session opened"}),
        )
    }

    fn cloudtrail(secs: i64) -> Event {
        event(
            "s/cloudtrail",
            None,
            LogSource::service("aws", "cloudtrail"),
            secs,
            json!({"eventSource": "signin.amazonaws.com", "eventName": "ConsoleLogin"}),
        )
    }

    fn gap_detection(id: &str, host: &str, fields: &[(&str, i64)]) -> Detection {
        let rfc = |secs: i64| at(secs).format(&Rfc3339).unwrap();
        Detection {
            rule_id: id.to_owned(),
            rule_title: id.to_owned(),
            level: Level::Medium,
            timestamp: None,
            file: Arc::from("s/auth.log"),
            record: 0,
            host: Some(host.to_owned()),
            logsource: LogSource::default(),
            policy: None,
            entities: BTreeMap::new(),
            fields: fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), rfc(*v)))
                .collect(),
        }
    }

    /// `(name, host, product, service, category, events, rules)` of each
    /// stream.
    type Row = (
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        u64,
        u64,
    );

    fn rows(streams: &Streams) -> Vec<Row> {
        streams
            .streams
            .iter()
            .map(|s| {
                (
                    s.name.clone(),
                    s.host.clone(),
                    s.logsource.product.clone(),
                    s.logsource.service.clone(),
                    s.logsource.category.clone(),
                    s.events,
                    s.rules,
                )
            })
            .collect()
    }

    fn row(name: &str, host: Option<&str>, ls: [Option<&str>; 3], events: u64, rules: u64) -> Row {
        let own = |s: Option<&str>| s.map(str::to_owned);
        (
            name.to_owned(),
            own(host),
            own(ls[0]),
            own(ls[1]),
            own(ls[2]),
            events,
            rules,
        )
    }

    #[test]
    fn streams_are_one_per_source_host_and_log_type_with_the_rules_they_feed() {
        let engine = engine();
        let health = Health::new(MAX_STREAMS);
        health.observe(0, T0 + 10, &[sshd("bastion", 1), sshd("bastion", 2)]);
        health.observe(1, T0 + 70, &[cron("bastion", 3), sshd("web1", 4)]);
        health.observe(2, T0 + 130, &[cloudtrail(5), sshd("bastion", 0)]);
        let streams = health.streams(&engine, at(200));
        assert_eq!(
            rows(&streams),
            [
                row(
                    "s/auth.log",
                    Some("bastion"),
                    [Some("linux"), Some("auth"), None],
                    4,
                    1
                ),
                row(
                    "s/auth.log",
                    Some("web1"),
                    [Some("linux"), Some("auth"), None],
                    1,
                    1
                ),
                row(
                    "s/cloudtrail",
                    None,
                    [Some("aws"), Some("cloudtrail"), None],
                    1,
                    1
                ),
            ]
        );
        assert_eq!(streams.untracked_events, 0);
        let bastion = &streams.streams[0];
        assert_eq!(bastion.first_event, Some(at(0)));
        assert_eq!(bastion.last_event, Some(at(3)));
        assert_eq!(bastion.last_received, at(130));
        // Four events over two minutes of receipt.
        assert_eq!(bastion.events_per_minute, 2.0);
        assert!(!bastion.silent);
        assert!(bastion.gaps.is_empty());

        let coverage = health.coverage(&engine);
        let fed: Vec<(&str, Option<&str>, Vec<&str>)> = coverage
            .sources
            .iter()
            .map(|s| {
                (
                    s.name.as_str(),
                    s.host.as_deref(),
                    s.rules.iter().map(|r| r.title.as_str()).collect(),
                )
            })
            .collect();
        assert_eq!(
            fed,
            [
                ("s/auth.log", Some("bastion"), vec!["sshd"]),
                ("s/auth.log", Some("web1"), vec!["sshd"]),
                ("s/cloudtrail", None, vec!["cloudtrail"]),
            ]
        );
        // The cron line feeds no rule: the sshd rule saw four events.
        let seen: Vec<(&str, u64, u64)> = coverage
            .rules
            .iter()
            .map(|r| (r.title.as_str(), r.events_seen, r.streams))
            .collect();
        assert_eq!(
            seen,
            [
                ("cloudtrail", 1, 1),
                ("process creation", 0, 0),
                ("sshd", 4, 2)
            ]
        );
        let without: Vec<(&str, Option<&str>)> = coverage
            .rules_without_events
            .iter()
            .map(|r| {
                (
                    r.title.as_str(),
                    r.logsource.as_ref().and_then(|l| l.category.as_deref()),
                )
            })
            .collect();
        assert_eq!(without, [("process creation", Some("process_creation"))]);
    }

    #[test]
    fn a_record_is_counted_once_and_streams_past_the_cap_are_counted_only() {
        let engine = engine();
        let health = Health::new(2);
        health.observe(5, T0, &[sshd("a", 1)]);
        // The replay after a reload, from an earlier committed offset.
        health.observe(4, T0, &[sshd("a", 0)]);
        health.observe(5, T0, &[sshd("a", 1)]);
        health.observe(
            6,
            T0,
            &[sshd("a", 2), sshd("b", 2), sshd("c", 2), cloudtrail(2)],
        );
        let streams = health.streams(&engine, at(10));
        let events: Vec<(Option<&str>, u64)> = streams
            .streams
            .iter()
            .map(|s| (s.host.as_deref(), s.events))
            .collect();
        assert_eq!(events, [(Some("a"), 2), (Some("b"), 1)]);
        assert_eq!(streams.untracked_events, 2);
        assert_eq!(health.coverage(&engine).untracked_events, 2);
    }

    #[test]
    fn gap_detections_mark_every_stream_of_their_source_and_host() {
        let engine = engine();
        let health = Health::new(MAX_STREAMS);
        health.observe(0, T0, &[sshd("bastion", 0), sshd("web1", 0)]);
        health.detection(&gap_detection(SILENT_ID, "bastion", &[("silent_since", 0)]));
        // Found again (a reload's replay): nothing changes.
        health.detection(&gap_detection(SILENT_ID, "bastion", &[("silent_since", 0)]));
        // Other detections are not gap news.
        health.detection(&gap_detection(
            "some-rule",
            "bastion",
            &[("from", 0), ("to", 1)],
        ));
        let streams = health.streams(&engine, at(90));
        let bastion = &streams.streams[0];
        assert!(bastion.silent);
        assert_eq!(bastion.silent_since, Some(at(0)));
        assert_eq!(
            bastion.gaps,
            [LogGap {
                from: at(0),
                to: None,
                seconds: 90.0
            }]
        );
        assert!(!streams.streams[1].silent, "web1 is another host");

        health.detection(&gap_detection(
            RECOVERED_ID,
            "bastion",
            &[("from", 0), ("to", 120)],
        ));
        health.detection(&gap_detection(
            GAP_ID,
            "bastion",
            &[("from", 200), ("to", 260)],
        ));
        let streams = health.streams(&engine, at(1000));
        let bastion = &streams.streams[0];
        assert!(!bastion.silent);
        assert_eq!(bastion.silent_since, None);
        assert_eq!(
            bastion.gaps,
            [
                LogGap {
                    from: at(0),
                    to: Some(at(120)),
                    seconds: 120.0
                },
                LogGap {
                    from: at(200),
                    to: Some(at(260)),
                    seconds: 60.0
                },
            ]
        );

        // Only the most recent gaps are kept.
        for i in 0..40 {
            let from = 1000 + i * 100;
            health.detection(&gap_detection(
                SILENT_ID,
                "bastion",
                &[("silent_since", from)],
            ));
            health.detection(&gap_detection(
                RECOVERED_ID,
                "bastion",
                &[("from", from), ("to", from + 50)],
            ));
        }
        let streams = health.streams(&engine, at(10_000));
        let gaps = &streams.streams[0].gaps;
        assert_eq!(gaps.len(), MAX_GAPS);
        assert_eq!(gaps[0].from, at(1000 + 8 * 100));
        assert_eq!(gaps[MAX_GAPS - 1].to, Some(at(1000 + 39 * 100 + 50)));
    }
}
