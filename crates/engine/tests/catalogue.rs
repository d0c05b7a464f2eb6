//! [`Engine::rules`] and [`Engine::rules_fed_by`]: the rules that run, and
//! which of them an event feeds, on hand-written rule files. Rules that
//! fail to load are not listed: they never run.

use std::sync::Arc;

use events::{Event, LogSource, Meta};
use serde_json::json;
use watchpost_engine::{Engine, EngineConfig};

const GOOD: &str = "title: sshd failures
id: 00000000-0000-0000-0000-00000000a001
name: sshd_failures
level: medium
logsource:
  product: linux
  service: sshd
detection:
  sel:
    message|contains: Failed password
  condition: sel
---
title: root console login
id: 00000000-0000-0000-0000-00000000a002
level: high
logsource:
  product: aws
  service: cloudtrail
detection:
  sel:
    eventName: ConsoleLogin
  condition: sel
---
title: sshd burst
id: 00000000-0000-0000-0000-00000000a003
level: high
correlation:
  type: event_count
  rules:
    - sshd_failures
  group-by:
    - host
  timespan: 5m
  condition:
    gte: 5
---
title: orphan
id: 00000000-0000-0000-0000-00000000a004
correlation:
  type: event_count
  rules:
    - no_such_rule
  group-by:
    - host
  timespan: 5m
  condition:
    gte: 5
";

/// A rule whose detection does not parse.
const BROKEN: &str = "title: broken
id: 00000000-0000-0000-0000-00000000b001
logsource:
  product: windows
detection:
  condition: nothing_defined
";

fn event(logsource: LogSource, fields: serde_json::Value) -> Event {
    let serde_json::Value::Object(fields) = fields else {
        unreachable!()
    };
    let mut meta = Meta::new(Arc::from("test"), 1);
    meta.logsource = logsource;
    Event::new(meta, fields)
}

#[test]
fn lists_the_rules_that_run_and_what_each_event_feeds() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("good.yml"), GOOD).unwrap();
    std::fs::write(dir.path().join("broken.yml"), BROKEN).unwrap();
    let engine = Engine::load(EngineConfig {
        rules: vec![dir.path().to_path_buf()],
        policy: None,
    })
    .unwrap();
    // The broken rule and the correlation naming a rule that did not load.
    assert_eq!(engine.rule_errors().len(), 2, "{:?}", engine.rule_errors());
    let listed: Vec<(Option<&str>, &str, &str)> = engine
        .rules()
        .iter()
        .map(|r| (r.id.as_deref(), r.kind.as_str(), r.level.as_str()))
        .collect();
    assert_eq!(
        listed,
        [
            (
                Some("00000000-0000-0000-0000-00000000a001"),
                "detection",
                "medium"
            ),
            (
                Some("00000000-0000-0000-0000-00000000a002"),
                "detection",
                "high"
            ),
            (
                Some("00000000-0000-0000-0000-00000000a003"),
                "correlation",
                "high"
            ),
        ]
    );
    let titles = |e: &Event| -> Vec<&str> {
        engine
            .rules_fed_by_event(e)
            .into_iter()
            .map(|i| engine.rules()[i].title.as_str())
            .collect()
    };
    let sshd = event(
        LogSource::service("linux", "auth"),
        json!({"program": "sshd", "message": "Failed password for root"}),
    );
    assert_eq!(titles(&sshd), ["sshd failures", "sshd burst"]);
    let cron = event(
        LogSource::service("linux", "auth"),
        json!({"program": "cron"}),
    );
    assert!(titles(&cron).is_empty());
    let cloudtrail = event(
        LogSource::service("aws", "cloudtrail"),
        json!({"eventSource": "signin.amazonaws.com", "eventName": "ConsoleLogin"}),
    );
    assert_eq!(titles(&cloudtrail), ["root console login"]);
    let windows = event(
        LogSource::product("windows"),
        json!({"Channel": "Security", "EventID": 4688}),
    );
    assert!(titles(&windows).is_empty());
}
