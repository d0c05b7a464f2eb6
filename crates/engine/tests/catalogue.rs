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

#[test]
fn the_longest_window_is_the_longest_timespan_or_the_login_window() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("good.yml"), GOOD).unwrap();
    let load = |policy: Option<policy::PolicyConfig>| {
        Engine::load(EngineConfig {
            rules: vec![dir.path().to_path_buf()],
            policy,
        })
        .unwrap()
    };
    // "sshd burst": timespan 5m.
    assert_eq!(load(None).longest_window().as_secs(), 300);
    // The policy pack brings two correlations of 1h
    // (rules/policy/win_log_cleared.yml, win_account_lockout.yml), longer
    // than the login-failure window (10 minutes by default).
    assert_eq!(
        load(Some(policy::PolicyConfig::default()))
            .longest_window()
            .as_secs(),
        3600
    );
    // A login-failure window of 2 hours is longer still.
    let mut long_login = policy::PolicyConfig::default();
    long_login.login.window = policy::Secs(7200);
    assert_eq!(load(Some(long_login)).longest_window().as_secs(), 7200);
    // A day-long correlation beside them.
    std::fs::write(
        dir.path().join("long.yml"),
        GOOD.split("---\ntitle: orphan")
            .next()
            .unwrap()
            .replace("00000000a00", "00000000c00")
            .replace("name: sshd_failures", "name: sshd_failures_long")
            .replace("- sshd_failures\n", "- sshd_failures_long\n")
            .replace("timespan: 5m", "timespan: 1d"),
    )
    .unwrap();
    assert_eq!(
        load(Some(policy::PolicyConfig::default()))
            .longest_window()
            .as_secs(),
        86_400
    );
}
