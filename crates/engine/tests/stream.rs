//! [`Engine::stream`] on hand-written event sequences: events out of order
//! within the window are put back in order, detections come out as soon as
//! the watermark passes them, and what does not fit (late events, a buffer
//! over budget) is fed and counted, never dropped.

use std::sync::Arc;
use std::time::Duration;

use events::{Event, LogSource, Meta, Timestamp};
use serde_json::json;
use time::macros::datetime;
use watchpost_engine::{Engine, EngineConfig, StreamConfig};

/// Three failed logons of one user within five minutes.
const RULES: &str = "title: failed logon
id: 00000000-0000-0000-0000-0000000000c1
name: failed_logon
level: low
logsource:
  product: test
detection:
  sel:
    Action: fail
  condition: sel
---
title: many failures
id: 00000000-0000-0000-0000-0000000000c2
level: high
correlation:
  type: event_count
  rules:
    - failed_logon
  group-by:
    - User
  timespan: 5m
  condition:
    gte: 3
";

const BASE: Timestamp = datetime!(2024-01-01 00:00 UTC);

fn engine() -> (Engine, tempfile::TempDir) {
    engine_with(RULES)
}

fn engine_with(rules: &str) -> (Engine, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.yml"), rules).unwrap();
    let engine = Engine::load(EngineConfig {
        rules: vec![dir.path().to_path_buf()],
        policy: None,
    })
    .unwrap();
    assert!(
        engine.rule_errors().is_empty(),
        "{:?}",
        engine.rule_errors()
    );
    (engine, dir)
}

/// A failed logon of `user` at `secs` after `BASE`, from `source`.
fn fail(source: &str, record: u64, user: &str, secs: i64) -> Event {
    let mut meta = Meta::new(Arc::from(source), record);
    meta.timestamp = Some(BASE + time::Duration::seconds(secs));
    meta.logsource = LogSource::product("test");
    let serde_json::Value::Object(fields) = json!({"Action": "fail", "User": user}) else {
        unreachable!()
    };
    Event::new(meta, fields)
}

fn at(secs: i64) -> Timestamp {
    BASE + time::Duration::seconds(secs)
}

fn correlations(found: &[detect::Detection]) -> Vec<(u64, String)> {
    found
        .iter()
        .filter(|d| d.rule_id.ends_with("c2"))
        .map(|d| (d.record, d.fields["User"].clone()))
        .collect()
}

#[test]
fn events_out_of_order_within_the_window_fire_in_time_order_before_the_end() {
    let (engine, _dir) = engine();
    let mut live = engine.stream(StreamConfig {
        window: Duration::from_secs(60),
        idle: Duration::from_secs(3600),
        budget: usize::MAX,
    });
    // Given at 40 s, 0 s, 20 s: in time order the third failure is record 1.
    let mut found = Vec::new();
    for (record, secs) in [(1, 40), (2, 0), (3, 20)] {
        found.extend(live.push(vec![fail("auth.log", record, "bob", secs)], at(secs)));
    }
    assert_eq!(correlations(&found), vec![], "the window is still open");
    assert_eq!(live.buffered(), 3);
    // An event past 40 s + the window moves the watermark beyond them all.
    found.extend(live.push(vec![fail("auth.log", 4, "eve", 200)], at(200)));
    assert_eq!(correlations(&found), vec![(1, "bob".to_string())]);
    assert_eq!(live.buffered(), 1, "eve's event waits for the window");
    let (rest, stats) = live.finish();
    assert_eq!(correlations(&rest), vec![]);
    assert_eq!(
        (stats.events, stats.kept, stats.late, stats.forced),
        (4, 4, 0, 0)
    );
}

#[test]
fn an_event_older_than_one_already_fed_is_late_and_still_counted() {
    let (engine, _dir) = engine();
    let mut live = engine.stream(StreamConfig {
        window: Duration::from_secs(10),
        idle: Duration::from_secs(3600),
        budget: usize::MAX,
    });
    let mut found = Vec::new();
    found.extend(live.push(vec![fail("a", 1, "bob", 100)], at(100)));
    found.extend(live.push(vec![fail("a", 2, "bob", 120)], at(120)));
    assert_eq!(live.buffered(), 1, "100 s was fed once 120 s arrived");
    // 50 s is 70 s behind the source: past the window, and older than the
    // event already fed. It is fed at once, and still counts.
    found.extend(live.push(vec![fail("a", 3, "bob", 50)], at(121)));
    assert_eq!(live.stats().late, 1);
    let (rest, stats) = live.finish();
    found.extend(rest);
    assert_eq!(stats.late, 1);
    assert_eq!(
        correlations(&found),
        vec![(2, "bob".to_string())],
        "three failures within 5 minutes, counted in the order they were fed"
    );
}

#[test]
fn a_quiet_source_stops_holding_the_others_back() {
    let (engine, _dir) = engine();
    let mut live = engine.stream(StreamConfig {
        window: Duration::from_secs(10),
        idle: Duration::from_secs(30),
        budget: usize::MAX,
    });
    // Source "a" sends once and goes quiet; "b" keeps sending, an hour
    // ahead in event time.
    live.push(vec![fail("a", 1, "ann", 0)], at(0));
    for (i, secs) in [3600, 3601, 3602].into_iter().enumerate() {
        live.push(vec![fail("b", i as u64 + 1, "bob", secs)], at(5 + i as i64));
    }
    // "a" holds the watermark at 0 s - 10 s: nothing is fed.
    assert_eq!(live.buffered(), 4);
    // 30 s after "a" was last heard, only "b" counts: its watermark
    // (3602 s - 10 s) passes "a"'s event, not "b"'s.
    let found = live.tick(at(31));
    assert_eq!(live.buffered(), 3);
    assert_eq!(correlations(&found), vec![]);
    // Once "b" is quiet too, everything is fed: bob's third failure fires.
    let found = live.tick(at(40));
    assert_eq!(live.buffered(), 0);
    assert_eq!(correlations(&found), vec![(3, "bob".to_string())]);
}

#[test]
fn past_its_budget_the_buffer_feeds_its_oldest_events_early() {
    let (engine, _dir) = engine();
    let mut live = engine.stream(StreamConfig {
        window: Duration::from_secs(3600),
        idle: Duration::from_secs(3600),
        budget: 1,
    });
    let mut found = Vec::new();
    for (record, secs) in [(1, 0), (2, 10), (3, 20)] {
        found.extend(live.push(vec![fail("a", record, "bob", secs)], at(secs)));
    }
    assert_eq!(live.buffered(), 0, "nothing is held past a 1-byte budget");
    assert_eq!(live.stats().forced, 3);
    assert_eq!(correlations(&found), vec![(3, "bob".to_string())]);
}

#[test]
fn events_without_a_time_are_fed_at_once() {
    let (engine, _dir) = engine();
    let mut live = engine.stream(StreamConfig::default());
    let mut undated = fail("a", 1, "bob", 0);
    undated.meta.timestamp = None;
    let found = live.push(vec![undated.clone(), undated.clone(), undated], at(0));
    assert_eq!(live.buffered(), 0);
    assert_eq!(live.stats().undated, 3);
    // Without event times the correlation cannot count them.
    assert_eq!(correlations(&found), vec![]);
}

/// A run split as a cluster splits it: three source stages (each sees one
/// source, as a node sees the sources of its partitions) and one keyed
/// stage that gets what they keep, as bytes. A correlation grouped by user
/// across sources fires there exactly as in one stream, and nowhere when
/// each source stage keeps its own ordered stage.
#[test]
fn a_split_run_finds_across_sources_what_one_stream_finds() {
    let (engine, _dir) = engine();
    let config = StreamConfig {
        window: Duration::from_secs(60),
        idle: Duration::from_secs(3600),
        budget: usize::MAX,
    };
    // alice fails once on each of three hosts; bob twice on one, once on
    // another: only alice reaches three, with her third failure (record 5).
    let input = [
        ("host1", fail("host1", 1, "alice", 0)),
        ("host2", fail("host2", 2, "bob", 5)),
        ("host2", fail("host2", 3, "alice", 10)),
        ("host1", fail("host1", 4, "bob", 15)),
        ("host3", fail("host3", 5, "alice", 20)),
        ("host3", fail("host3", 6, "carol", 25)),
    ];
    let want = vec![(5, "alice".to_string())];

    let mut one = engine.stream(config);
    let mut found = Vec::new();
    for (_, e) in &input {
        found.extend(one.push(vec![e.clone()], at(30)));
    }
    found.extend(one.finish().0);
    assert_eq!(correlations(&found), want, "one stream");

    let hosts = ["host1", "host2", "host3"];
    let mut sources: Vec<_> = hosts.iter().map(|_| engine.stream(config)).collect();
    let mut keyed = engine.stream(config);
    let mut split = Vec::new();
    let mut handed = 0;
    for (host, e) in &input {
        let i = hosts.iter().position(|h| h == host).unwrap();
        let (direct, kept) = sources[i].push_split(vec![e.clone()], 1);
        split.extend(direct);
        assert!(kept.iter().all(|(_, routes)| routes == &[0]));
        let wire: Vec<Vec<u8>> = kept
            .iter()
            .map(|(e, _)| watchpost_engine::encode_kept(e))
            .collect();
        handed += wire.len();
        let back = wire
            .iter()
            .map(|b| watchpost_engine::decode_kept(b).unwrap())
            .collect();
        split.extend(keyed.push_kept(back, at(30)));
    }
    for s in sources {
        let (rest, stats) = s.finish();
        assert!(rest.is_empty(), "a source stage feeds no ordered stage");
        assert_eq!(stats.kept, 2, "each source stage kept its two failures");
    }
    split.extend(keyed.finish().0);
    assert_eq!(handed, 6, "every failure went to the keyed stage");
    assert_eq!(correlations(&split), want, "split run");
    assert_eq!(
        split.len(),
        found.len(),
        "and nothing else differs in number"
    );

    // Each source with its own ordered stage never sees alice three times.
    let mut alone = Vec::new();
    for host in hosts {
        let mut s = engine.stream(config);
        for (h, e) in &input {
            if *h == host {
                alone.extend(s.push(vec![e.clone()], at(30)));
            }
        }
        alone.extend(s.finish().0);
    }
    assert_eq!(correlations(&alone), vec![]);
}

/// The keyed stage split into three shards by key, as a cluster's keyed
/// partitions split it: each shard keeps and fires the correlation of the
/// users whose key is its own, so the shards together give exactly what
/// one stage gives, each user's alert once. The correlation also gives its
/// base rule's detections (`generate: true`), which the ordered stage
/// gives: each once, in one shard. Fed only to one shard, events of other
/// shards' users give nothing there.
#[test]
fn a_keyed_stage_split_by_user_finds_what_one_stage_finds() {
    // And a second correlation, over every user (no group-by): one key,
    // so an event goes to its user's shard and to that one's.
    let rules = format!(
        "{}---\ntitle: all failures\nid: 00000000-0000-0000-0000-0000000000c3\nlevel: high\ncorrelation:\n  type: event_count\n  rules:\n    - failed_logon\n  timespan: 5m\n  condition:\n    gte: 24\n",
        RULES
    )
    .replace("correlation:\n", "generate: true\ncorrelation:\n");
    let all = |found: &[detect::Detection]| -> Vec<u64> {
        found
            .iter()
            .filter(|d| d.rule_id.ends_with("c3"))
            .map(|d| d.record)
            .collect()
    };
    let (engine, _dir) = engine_with(&rules);
    let base = |found: &[detect::Detection]| {
        let mut records: Vec<u64> = found
            .iter()
            .filter(|d| d.rule_id.ends_with("c1"))
            .map(|d| d.record)
            .collect();
        records.sort_unstable();
        records
    };
    let config = StreamConfig {
        window: Duration::from_secs(60),
        idle: Duration::from_secs(3600),
        budget: usize::MAX,
    };
    // Eight users, each failing three times, on three hosts in turn: every
    // user's third failure (records 17 to 24, written out) fires.
    let users: Vec<String> = (0..8).map(|u| format!("user{u}")).collect();
    let mut input = Vec::new();
    for round in 0..3 {
        for (u, user) in users.iter().enumerate() {
            let record = (round * 8 + u + 1) as u64;
            let host = format!("host{}", (u + round) % 3);
            input.push(fail(&host, record, user, record as i64));
        }
    }
    let want: Vec<(u64, String)> = (0..8u64).map(|u| (17 + u, format!("user{u}"))).collect();

    let mut one = engine.stream(config);
    let mut found = one.push(input.clone(), at(30));
    found.extend(one.finish().0);
    let mut got = correlations(&found);
    got.sort();
    assert_eq!(got, want, "one stage");
    let every: Vec<u64> = (1..=24).collect();
    assert_eq!(
        base(&found),
        every,
        "one stage: each failure's own detection"
    );
    assert_eq!(all(&found), [24], "one stage: the 24th failure of all");

    let shards = 3;
    let mut source = engine.stream(config);
    let mut keyed: Vec<_> = (0..shards)
        .map(|i| {
            let mut s = engine.stream(config);
            s.set_shard(detect::Shard::new(i, shards).unwrap());
            s
        })
        .collect();
    let (direct, kept) = source.push_split(input.clone(), shards);
    assert!(
        direct.is_empty(),
        "the base rule's detections come from the ordered stage"
    );
    assert_eq!(kept.len(), 24);
    // Two keys per event (its user, and the one of all users): one or two
    // shards; the shards every event of a user goes to include its user's.
    let mut shards_of_user: std::collections::BTreeMap<String, Vec<u32>> = Default::default();
    for (e, routes) in &kept {
        assert!((1..=2).contains(&routes.len()), "{routes:?}");
        let user = e.get_str("User").unwrap().to_string();
        shards_of_user
            .entry(user)
            .and_modify(|s| s.retain(|x| routes.contains(x)))
            .or_insert_with(|| routes.clone());
    }
    assert!(shards_of_user.values().all(|s| !s.is_empty()));
    assert!(
        kept.iter().any(|(_, r)| r.len() == 2),
        "some events go to two shards"
    );
    let mut per_shard: Vec<Vec<(u64, String)>> = Vec::new();
    let mut bases: Vec<u64> = Vec::new();
    let mut alls: Vec<u64> = Vec::new();
    for (i, mut stage) in keyed.drain(..).enumerate() {
        let mine: Vec<Event> = kept
            .iter()
            .filter(|(_, r)| r.contains(&(i as u32)))
            .map(|(e, _)| e.clone())
            .collect();
        let mut found = stage.push_kept(mine, at(30));
        found.extend(stage.finish().0);
        per_shard.push(correlations(&found));
        bases.extend(base(&found));
        alls.extend(all(&found));
    }
    bases.sort_unstable();
    assert_eq!(bases, every, "each base detection once, in one shard");
    assert_eq!(alls, [24], "the correlation of all users, in one shard");
    let busy = per_shard.iter().filter(|s| !s.is_empty()).count();
    assert!(busy >= 2, "the users spread over the shards: {per_shard:?}");
    let mut all: Vec<(u64, String)> = per_shard.concat();
    all.sort();
    assert_eq!(all, want, "the shards together, each alert once");
    for (i, fired) in per_shard.iter().enumerate() {
        for (_, user) in fired {
            assert!(
                shards_of_user[user].contains(&(i as u32)),
                "{user} fired in a shard all its events reach"
            );
        }
    }

    // Every event given to shard 0 alone: it still fires only for its own
    // users (a shard keeps no state for another's keys).
    let mut only = engine.stream(config);
    only.set_shard(detect::Shard::new(0, shards).unwrap());
    let mut found = only.push_kept(kept.iter().map(|(e, _)| e.clone()).collect(), at(30));
    found.extend(only.finish().0);
    let mut got = correlations(&found);
    got.sort();
    assert_eq!(got, per_shard[0]);
    assert!(got.len() < want.len());
}
