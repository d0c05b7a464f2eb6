//! Sigma semantics and logsource routing, end to end through `Matcher`:
//! small rules and hand-built events, one `check` helper.

use std::sync::Arc;

use detect::{Detection, Matcher, Stateful};
use events::{Event, LogSource, Meta, Value};
use serde_json::json;
use watchpost_detect as detect;

fn event(ls: LogSource, fields: Value) -> Event {
    let Value::Object(map) = fields else {
        panic!("fixture must be an object")
    };
    let mut meta = Meta::new(Arc::from("test.log"), 7);
    meta.logsource = ls;
    Event::new(meta, map)
}

fn rule(logsource: &str, detection: &str) -> String {
    format!(
        "title: t\nid: 00000000-0000-0000-0000-000000000001\nlevel: high\nlogsource:\n{logsource}\ndetection:\n{detection}\n"
    )
}

fn matches(rule_text: &str, e: &Event) -> Vec<Detection> {
    let (set, errors) = rules::load_str("rule.yml", rule_text);
    assert!(errors.is_empty(), "{errors:?}");
    let (m, errors) = Matcher::new(&set);
    assert!(errors.is_empty(), "{errors:?}");
    let mut out = Vec::new();
    let pending = m.scan(e, &mut out);
    assert!(pending.is_empty());
    out
}

/// One check: does the detection block match the fields?
fn check(detection: &str, fields: Value, want: bool) {
    let r = rule("  product: test", detection);
    let e = event(LogSource::product("test"), fields.clone());
    assert_eq!(
        !matches(&r, &e).is_empty(),
        want,
        "detection:\n{detection}\nevent: {fields}"
    );
}

#[test]
fn modifiers_and_wildcards() {
    let cases: &[(&str, Value, bool)] = &[
        (
            "  sel:\n    Image: 'C:\\Windows\\cmd.exe'\n  condition: sel",
            json!({"Image": "c:\\windows\\CMD.EXE"}),
            true,
        ),
        (
            "  sel:\n    Image|endswith: '\\cmd.exe'\n  condition: sel",
            json!({"Image": "C:\\x\\CMD.exe"}),
            true,
        ),
        (
            "  sel:\n    Image|startswith: 'C:\\Win'\n  condition: sel",
            json!({"Image": "D:\\Win"}),
            false,
        ),
        (
            "  sel:\n    CommandLine|contains: 'whoami'\n  condition: sel",
            json!({"CommandLine": "cmd /c WHOAMI /all"}),
            true,
        ),
        (
            "  sel:\n    CommandLine|contains|all:\n      - 'a1'\n      - 'b2'\n  condition: sel",
            json!({"CommandLine": "a1 only"}),
            false,
        ),
        (
            "  sel:\n    CommandLine|contains|all:\n      - 'a1'\n      - 'b2'\n  condition: sel",
            json!({"CommandLine": "b2 a1"}),
            true,
        ),
        (
            "  sel:\n    Image: '*\\po?ershell.exe'\n  condition: sel",
            json!({"Image": "C:\\powershell.exe"}),
            true,
        ),
        (
            "  sel:\n    Image: '*\\po?ershell.exe'\n  condition: sel",
            json!({"Image": "C:\\poershell.exe"}),
            false,
        ),
        (
            "  sel:\n    Image|cased: 'CMD.exe'\n  condition: sel",
            json!({"Image": "cmd.exe"}),
            false,
        ),
        (
            "  sel:\n    Image|cased: 'CMD.exe'\n  condition: sel",
            json!({"Image": "CMD.exe"}),
            true,
        ),
        (
            "  sel:\n    Image|re: '^C:\\\\[a-z]+\\.exe$'\n  condition: sel",
            json!({"Image": "C:\\abc.exe"}),
            true,
        ),
        // `re` is case-sensitive unless `|i`.
        (
            "  sel:\n    Image|re: '^c:'\n  condition: sel",
            json!({"Image": "C:\\abc.exe"}),
            false,
        ),
        (
            "  sel:\n    Image|re|i: '^c:'\n  condition: sel",
            json!({"Image": "C:\\abc.exe"}),
            true,
        ),
        (
            "  sel:\n    Ip|cidr: '10.0.0.0/8'\n  condition: sel",
            json!({"Ip": "10.2.3.4"}),
            true,
        ),
        (
            "  sel:\n    Ip|cidr: '10.0.0.0/8'\n  condition: sel",
            json!({"Ip": "11.2.3.4"}),
            false,
        ),
        (
            "  sel:\n    EventID: 4625\n  condition: sel",
            json!({"EventID": "4625"}),
            true,
        ),
        (
            "  sel:\n    EventID: 4625\n  condition: sel",
            json!({"EventID": 4625}),
            true,
        ),
        (
            "  sel:\n    Count|gt: 5\n  condition: sel",
            json!({"Count": 6}),
            true,
        ),
        (
            "  sel:\n    Count|gt: 5\n  condition: sel",
            json!({"Count": 5}),
            false,
        ),
        (
            "  sel:\n    Field|exists: true\n  condition: sel",
            json!({"Field": ""}),
            true,
        ),
        (
            "  sel:\n    Field|exists: false\n  condition: sel",
            json!({"Other": 1}),
            true,
        ),
        // null matches an absent or null field; empty matches only "".
        (
            "  sel:\n    Field: null\n  condition: sel",
            json!({"Other": 1}),
            true,
        ),
        (
            "  sel:\n    Field: null\n  condition: sel",
            json!({"Field": "x"}),
            false,
        ),
        (
            "  sel:\n    Field: ''\n  condition: sel",
            json!({"Field": ""}),
            true,
        ),
        (
            "  sel:\n    Field: ''\n  condition: sel",
            json!({"Other": 1}),
            false,
        ),
        (
            "  sel:\n    CommandLine|windash|contains: '-enc'\n  condition: sel",
            json!({"CommandLine": "powershell /enc abc"}),
            true,
        ),
        (
            "  sel:\n    CommandLine|wide|base64offset|contains: 'ping'\n  condition: sel",
            json!({"CommandLine": "cABpAG4AZwA="}),
            true,
        ),
        (
            "  sel:\n    userIdentity.type: Root\n  condition: sel",
            json!({"userIdentity": {"type": "Root"}}),
            true,
        ),
    ];
    for (detection, fields, want) in cases {
        check(detection, fields.clone(), *want);
    }
}

#[test]
fn conditions_and_keywords() {
    let det = "  sel_a:\n    A: 1\n  sel_b:\n    B: 2\n  filter:\n    C: 3\n";
    let cases: &[(&str, Value, bool)] = &[
        ("1 of sel_*", json!({"B": 2}), true),
        ("all of sel_*", json!({"B": 2}), false),
        ("all of sel_*", json!({"A": 1, "B": 2}), true),
        ("1 of sel_* and not filter", json!({"A": 1, "C": 3}), false),
        ("sel_a or (sel_b and not filter)", json!({"B": 2}), true),
        ("1 of them", json!({"C": 3}), true),
    ];
    for (cond, fields, want) in cases {
        check(&format!("{det}  condition: {cond}"), fields.clone(), *want);
    }
    let kw = "  keywords:\n    - 'mimikatz'\n    - 'sekurlsa'\n  condition: keywords";
    check(kw, json!({"msg": "running MIMIKATZ now"}), true);
    check(
        kw,
        json!({"nested": {"deep": ["x", "sekurlsa::logonpasswords"]}}),
        true,
    );
    check(kw, json!({"msg": "benign"}), false);
}

#[test]
fn base64offset_finds_needle_with_data_after_it() {
    use base64::Engine as _;
    let needle = "http://evil.example";
    for prefix in ["", "a", "ab"] {
        let payload = format!("{prefix}{needle}XYZ/and/much/more/data/after/it");
        let encoded = base64::engine::general_purpose::STANDARD.encode(payload.as_bytes());
        let det =
            format!("  sel:\n    CommandLine|base64offset|contains: '{needle}'\n  condition: sel");
        check(
            &det,
            json!({"CommandLine": format!("powershell -e {encoded}")}),
            true,
        );
    }
}

#[test]
fn base64offset_without_the_workaround_misses() {
    // The engine bug this crate works around: feed the unexpanded rule
    // straight to the engine and it misses the offset-1 case.
    use base64::Engine as _;
    let needle = "http://evil.example";
    let text = rule(
        "  product: test",
        &format!("  sel:\n    CommandLine|base64offset|contains: '{needle}'\n  condition: sel"),
    );
    let collection = rsigma_parser::parse_sigma_yaml(&text).expect("parses");
    let compiled = rsigma_eval_free_compile(&collection.rules[0]);
    let missed = ["", "a", "ab"].iter().filter(|prefix| {
        let payload = format!("{prefix}{needle}XYZ/more/data/after/it");
        let encoded = base64::engine::general_purpose::STANDARD.encode(payload.as_bytes());
        !compiled(&json!({"CommandLine": format!("powershell -e {encoded}")}))
    });
    assert!(
        missed.count() > 0,
        "engine fixed upstream: the workaround can go"
    );
}

#[test]
fn keyword_all_lists_need_every_keyword_somewhere_in_the_event() {
    let det = "  kw:\n    '|all':\n      - 'dd'\n      - 'if='\n  condition: kw";
    check(det, json!({"a0": "dd", "a1": "if=/dev/zero"}), true);
    check(det, json!({"cmd": "/usr/bin/DD IF=/dev/zero"}), true);
    check(det, json!({"a0": "dd", "a1": "of=/tmp/x"}), false);
    check(det, json!({"a1": "if=/dev/zero"}), false);
}

#[test]
fn keyword_all_lists_without_the_workaround_miss() {
    // The engine bug `rules::keyword_all` works around: the unsplit item
    // wants one value equal to every keyword, so it never matches.
    let text = rule(
        "  product: test",
        "  kw:\n    '|all':\n      - 'dd'\n      - 'if='\n  condition: kw",
    );
    let collection = rsigma_parser::parse_sigma_yaml(&text).expect("parses");
    let compiled = rsigma_eval_free_compile(&collection.rules[0]);
    assert!(
        !compiled(&json!({"a0": "dd", "a1": "if=/dev/zero"})),
        "engine fixed upstream: the workaround can go"
    );
}

/// Compiles a rule with the bare engine (no workaround) and returns a
/// predicate over JSON events.
fn rsigma_eval_free_compile(rule: &rsigma_parser::SigmaRule) -> impl Fn(&Value) -> bool {
    let mut set = rules::RuleSet::default();
    set.detections.push(rules::DetectionRule::new(
        Arc::from("raw.yml"),
        rule.clone(),
    ));
    let (m, errors) = Matcher::new(&set);
    assert!(errors.is_empty());
    move |fields: &Value| {
        let e = event(LogSource::product("test"), fields.clone());
        let mut out = Vec::new();
        m.scan(&e, &mut out);
        !out.is_empty()
    }
}

#[test]
fn service_only_rules_stay_on_their_channel() {
    let r = rule(
        "  product: windows\n  service: windefend",
        "  keywords:\n    - 'HackTool'\n  condition: keywords",
    );
    let defender = event(
        LogSource::default(),
        json!({"Channel": "Microsoft-Windows-Windows Defender/Operational", "EventID": 1116, "Threat Name": "HackTool:Win32/Mimikatz"}),
    );
    let system = event(
        LogSource::default(),
        json!({"Channel": "System", "EventID": 7045, "ServiceName": "HackTool service"}),
    );
    assert_eq!(matches(&r, &defender).len(), 1);
    assert!(matches(&r, &system).is_empty());
}

#[test]
fn unknown_logsource_meets_only_rules_without_one() {
    let with = rule(
        "  product: windows",
        "  keywords:\n    - 'evil'\n  condition: keywords",
    );
    let without = "title: any\nid: 00000000-0000-0000-0000-000000000002\nlogsource: {}\ndetection:\n  keywords:\n    - 'evil'\n  condition: keywords\n";
    let e = event(LogSource::default(), json!({"msg": "evil"}));
    assert!(matches(&with, &e).is_empty());
    assert_eq!(matches(without, &e).len(), 1);
}

#[test]
fn security_4688_stands_in_for_process_creation_with_renames() {
    let r = rule(
        "  product: windows\n  category: process_creation",
        "  sel:\n    Image|endswith: '\\whoami.exe'\n    ParentImage|endswith: '\\cmd.exe'\n  condition: sel",
    );
    let e = event(
        LogSource::default(),
        json!({"Channel": "Security", "EventID": 4688, "NewProcessName": "C:\\Windows\\System32\\whoami.exe", "ParentProcessName": "C:\\Windows\\System32\\cmd.exe", "Computer": "pc1"}),
    );
    let hits = matches(&r, &e);
    assert_eq!(hits.len(), 1);
    assert_eq!(
        hits[0].fields.get("Image").map(String::as_str),
        Some("C:\\Windows\\System32\\whoami.exe")
    );
    // The same rule does not fire on a Security 4624 with those fields.
    let other = event(
        LogSource::default(),
        json!({"Channel": "Security", "EventID": 4624, "NewProcessName": "C:\\whoami.exe", "ParentProcessName": "C:\\cmd.exe"}),
    );
    assert!(matches(&r, &other).is_empty());
    // A Sysmon 1 event matches with native names.
    let sysmon = event(
        LogSource::default(),
        json!({"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 1, "Image": "C:\\whoami.exe", "ParentImage": "C:\\cmd.exe"}),
    );
    assert_eq!(matches(&r, &sysmon).len(), 1);
}

#[test]
fn detection_carries_location_and_level() {
    let r = rule("  product: test", "  sel:\n    A: x\n  condition: sel");
    let mut e = event(LogSource::product("test"), json!({"A": "x"}));
    e.meta.host = Some("h1".into());
    let hits = matches(&r, &e);
    assert_eq!(hits.len(), 1);
    let d = &hits[0];
    assert_eq!(d.rule_id, "00000000-0000-0000-0000-000000000001");
    assert_eq!(d.level, detect::Level::High);
    assert_eq!(&*d.file, "test.log");
    assert_eq!(d.record, 7);
    assert_eq!(d.host.as_deref(), Some("h1"));
}

#[test]
fn filter_rules_apply() {
    let text = "title: base\nid: 00000000-0000-0000-0000-00000000000a\nlogsource:\n  product: test\ndetection:\n  sel:\n    A: x\n  condition: sel\n---\ntitle: f\nid: 00000000-0000-0000-0000-00000000000b\nlogsource:\n  product: test\nfilter:\n  rules:\n    - 00000000-0000-0000-0000-00000000000a\n  selection:\n    User: admin\n  condition: not selection\n";
    let (set, errors) = rules::load_str("f.yml", text);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(set.filters.len(), 1);
    let (m, errors) = Matcher::new(&set);
    assert!(errors.is_empty(), "{errors:?}");
    let mut out = Vec::new();
    m.scan(
        &event(
            LogSource::product("test"),
            json!({"A": "x", "User": "admin"}),
        ),
        &mut out,
    );
    assert!(out.is_empty());
    m.scan(
        &event(LogSource::product("test"), json!({"A": "x", "User": "bob"})),
        &mut out,
    );
    assert_eq!(out.len(), 1);
}

/// A failed logon rule, and a correlation firing on three of one user's
/// within five minutes.
const FAILED_LOGONS: &str = "title: failed logon\nid: 00000000-0000-0000-0000-0000000000c1\nname: failed_logon\nlevel: low\nlogsource:\n  product: test\ndetection:\n  sel:\n    Action: fail\n  condition: sel\n---\ntitle: many failures\nid: 00000000-0000-0000-0000-0000000000c2\nlevel: high\ncorrelation:\n  type: event_count\n  rules:\n    - failed_logon\n  group-by:\n    - User\n  timespan: 5m\n  condition:\n    gte: 3\n";

#[test]
fn event_count_correlation_uses_event_time_in_order() {
    let text = FAILED_LOGONS;
    let (set, errors) = rules::load_str("c.yml", text);
    assert!(errors.is_empty(), "{errors:?}");
    let (m, errors) = Matcher::new(&set);
    assert!(errors.is_empty(), "{errors:?}");
    let (mut stage, errors) = Stateful::new(&m, Vec::new());
    assert!(errors.is_empty(), "{errors:?}");
    let base = time::macros::datetime!(2024-01-01 00:00 UTC);
    let mut pending = Vec::new();
    // Three failures within a minute, given out of order, plus one far away.
    for (i, secs) in [(1u64, 40i64), (2, 0), (3, 20), (4, 3600)] {
        let mut e = event(
            LogSource::product("test"),
            json!({"Action": "fail", "User": "bob"}),
        );
        e.meta.record = i;
        e.meta.timestamp = Some(base + time::Duration::seconds(secs));
        let mut direct = Vec::new();
        let sigma = m.scan(&e, &mut direct);
        assert!(
            direct.is_empty(),
            "base rule goes through the ordered stage"
        );
        pending.push(detect::Pending { event: e, sigma });
    }
    let mut out = Vec::new();
    stage.run(pending, &watchpost_detect::NoAnnotation, &mut out);
    let corr: Vec<_> = out.iter().filter(|d| d.rule_id.ends_with("c2")).collect();
    assert_eq!(corr.len(), 1, "{out:#?}");
    assert_eq!(corr[0].record, 1, "fires on the third event in time order");
    assert_eq!(corr[0].fields.get("User").map(String::as_str), Some("bob"));
}

/// Correlation state is dropped once event time has moved past the
/// rule's timespan: a thousand users who each fail once leave no open
/// window an hour later, and a user who then fails three times still fires.
#[test]
fn correlation_state_expires_by_the_rules_timespan() {
    let text = FAILED_LOGONS;
    let (set, errors) = rules::load_str("c.yml", text);
    assert!(errors.is_empty(), "{errors:?}");
    let (m, _) = Matcher::new(&set);
    let (mut stage, errors) = Stateful::new(&m, Vec::new());
    assert!(errors.is_empty(), "{errors:?}");
    let base = time::macros::datetime!(2024-01-01 00:00 UTC);
    let mut record = 0;
    let mut feed = |stage: &mut Stateful<'_>, user: &str, secs: i64, out: &mut Vec<_>| {
        record += 1;
        let mut e = event(
            LogSource::product("test"),
            json!({"Action": "fail", "User": user}),
        );
        e.meta.record = record;
        e.meta.timestamp = Some(base + time::Duration::seconds(secs));
        let sigma = m.scan(&e, &mut Vec::new());
        stage.observe(
            &detect::Pending { event: e, sigma },
            &watchpost_detect::NoAnnotation,
            out,
        );
    };
    let mut out = Vec::new();
    for i in 0..1000 {
        feed(&mut stage, &format!("user{i}"), i / 10, &mut out);
    }
    assert!(out.iter().all(|d| !d.rule_id.ends_with("c2")), "{out:#?}");
    assert!(
        stage.correlation_state() >= 1000,
        "one open window per user: {}",
        stage.correlation_state()
    );
    // An hour later, three failures of one user.
    for secs in [3600, 3610, 3620] {
        feed(&mut stage, "late", secs, &mut out);
    }
    assert!(
        stage.correlation_state() <= 2,
        "windows older than 5 minutes are gone: {}",
        stage.correlation_state()
    );
    let fired: Vec<_> = out.iter().filter(|d| d.rule_id.ends_with("c2")).collect();
    assert_eq!(fired.len(), 1, "{out:#?}");
    assert_eq!(
        fired[0].fields.get("User").map(String::as_str),
        Some("late")
    );
}

/// One Security 4688 is both a `security` event (its own field names) and a
/// `process_creation` event (Sysmon names through renames). Correlations
/// over rules of both views read each match's group-by under that match's
/// own names.
#[test]
fn correlations_read_each_match_under_its_own_renames() {
    let base = "title: whoami\nid: 00000000-0000-0000-0000-0000000000d1\nname: proc_whoami\nlevel: low\nlogsource:\n  product: windows\n  category: process_creation\ndetection:\n  sel:\n    Image|endswith: '\\whoami.exe'\n  condition: sel\n---\ntitle: new process\nid: 00000000-0000-0000-0000-0000000000d2\nname: sec_4688\nlevel: low\nlogsource:\n  product: windows\n  service: security\ndetection:\n  sel:\n    EventID: 4688\n  condition: sel\n";
    let correlation = |id: &str, rules: &[&str], group_by: &str| {
        let rules: String = rules.iter().map(|r| format!("    - {r}\n")).collect();
        format!(
            "---\ntitle: c{id}\nid: 00000000-0000-0000-0000-0000000000{id}\nlevel: high\ncorrelation:\n  type: event_count\n  rules:\n{rules}  group-by:\n    - {group_by}\n  timespan: 5m\n  condition:\n    gte: 1\n"
        )
    };
    let text = [
        base.to_string(),
        correlation("e1", &["proc_whoami"], "User"),
        correlation("e2", &["sec_4688"], "SubjectUserName"),
        correlation("e3", &["proc_whoami", "sec_4688"], "User"),
    ]
    .concat();
    let (set, errors) = rules::load_str("c.yml", &text);
    assert!(errors.is_empty(), "{errors:?}");
    let (m, errors) = Matcher::new(&set);
    assert!(errors.is_empty(), "{errors:?}");
    let (mut stage, errors) = Stateful::new(&m, Vec::new());
    assert!(errors.is_empty(), "{errors:?}");

    let mut e = event(
        LogSource::default(),
        json!({"Channel": "Security", "EventID": 4688, "Computer": "pc1", "SubjectUserName": "alice", "NewProcessName": "C:\\Windows\\System32\\whoami.exe"}),
    );
    e.meta.timestamp = Some(time::macros::datetime!(2024-01-01 00:00 UTC));
    let mut direct = Vec::new();
    let sigma = m.scan(&e, &mut direct);
    assert!(direct.is_empty(), "both base rules are correlated");
    let mut out = Vec::new();
    stage.run(
        vec![detect::Pending { event: e, sigma }],
        &watchpost_detect::NoAnnotation,
        &mut out,
    );
    // The correlations' detections (ids ending e1, e2, e3).
    let mut got: Vec<(String, Vec<(String, String)>)> = out
        .iter()
        .map(|d| (&d.rule_id[d.rule_id.len() - 2..], d))
        .filter(|(id, _)| id.starts_with('e'))
        .map(|(id, d)| (id.to_string(), d.fields.clone().into_iter().collect()))
        .collect();
    got.sort();
    let pairs = |p: &[(&str, &str)]| -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    // The process_creation match reads `User` as SubjectUserName; the
    // security match has no `User` (its group key is empty).
    let mut want = vec![
        (
            "e1".to_string(),
            pairs(&[("User", "alice"), ("count", "1")]),
        ),
        (
            "e2".to_string(),
            pairs(&[("SubjectUserName", "alice"), ("count", "1")]),
        ),
        (
            "e3".to_string(),
            pairs(&[("User", "alice"), ("count", "1")]),
        ),
        ("e3".to_string(), pairs(&[("count", "1")])),
    ];
    want.sort();
    assert_eq!(got, want, "{out:#?}");
}

/// A correlation that names a rule that did not load could never fire: it
/// fails, and so does a correlation chained on it, while a chain on a good
/// correlation loads whatever the file order.
#[test]
fn correlations_naming_rules_that_did_not_load_fail() {
    let base = "title: base\nid: 00000000-0000-0000-0000-0000000000f1\nname: base\nlogsource:\n  product: test\ndetection:\n  sel:\n    A: x\n  condition: sel\n";
    let correlation = |id: &str, name: &str, rule: &str| {
        format!(
            "---\ntitle: c{id}\nid: 00000000-0000-0000-0000-0000000000{id}\nname: {name}\ncorrelation:\n  type: event_count\n  rules:\n    - {rule}\n  group-by:\n    - A\n  timespan: 5m\n  condition:\n    gte: 2\n"
        )
    };
    let text = [
        base.to_string(),
        // Chained on `good`, which comes later in the file.
        correlation("f2", "chained", "good"),
        correlation("f3", "good", "base"),
        correlation("f4", "missing", "no_such_rule"),
        correlation("f5", "chained_on_missing", "missing"),
    ]
    .concat();
    let (set, errors) = rules::load_str("c.yml", &text);
    assert!(errors.is_empty(), "{errors:?}");
    let (m, errors) = Matcher::new(&set);
    assert!(errors.is_empty(), "{errors:?}");
    let (stage, errors) = Stateful::new(&m, Vec::new());
    let failed: Vec<(&str, &str)> = errors
        .iter()
        .map(|e| (e.rule_id.as_deref().unwrap(), e.reason.as_str()))
        .collect();
    assert_eq!(
        failed,
        [
            (
                "00000000-0000-0000-0000-0000000000f4",
                "correlation refers to rules that did not load: no_such_rule"
            ),
            (
                "00000000-0000-0000-0000-0000000000f5",
                "correlation refers to rules that did not load: missing"
            ),
        ]
    );
    // The base rule and the two good correlations.
    assert_eq!(stage.rules_loaded(), 3);
}

#[test]
fn antivirus_category_rules_read_defender_detections() {
    let r = "title: av\nid: 00000000-0000-0000-0000-0000000000a1\nlevel: high\nlogsource:\n  category: antivirus\ndetection:\n  selection:\n    Signature|contains: 'Mimikatz'\n  condition: selection\n";
    let defender = event(
        LogSource::default(),
        json!({"Channel": "Microsoft-Windows-Windows Defender/Operational", "EventID": 1116, "ThreatName": "HackTool:Win32/Mimikatz"}),
    );
    let system = event(
        LogSource::default(),
        json!({"Channel": "System", "EventID": 7045, "Signature": "Mimikatz"}),
    );
    assert_eq!(matches(r, &defender).len(), 1);
    assert!(matches(r, &system).is_empty());
}
