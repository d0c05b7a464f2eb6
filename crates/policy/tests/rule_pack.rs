//! The Sigma half of the policy pack (`rules/policy/`): every rule parses
//! and compiles with the engine `hunt` uses, agrees with the catalogue,
//! matches the records it is written for (and not its near misses), and
//! `annotate` fills `policy` and the entity keys of its detections.

extern crate watchpost_policy as policy;

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use detect::{Detection, Level};
use events::{LogSource, Value};
use policy::Policy;
use rsigma_eval::event::JsonEvent;
use rsigma_eval::{CorrelationConfig, CorrelationEngine, Engine};
use rsigma_parser::{SigmaCollection, parse_sigma_yaml};
use serde_json::json;

fn pack_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../rules/policy")
}

fn pack() -> Vec<(String, SigmaCollection)> {
    let mut files: Vec<_> = std::fs::read_dir(pack_dir())
        .expect("rules/policy exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let c = parse_sigma_yaml(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            assert!(c.errors.is_empty(), "{}: {:?}", p.display(), c.errors);
            (p.file_name().unwrap().to_string_lossy().into_owned(), c)
        })
        .collect()
}

fn level_name(l: Option<&rsigma_parser::Level>) -> String {
    format!("{:?}", l.expect("every pack rule has a level")).to_lowercase()
}

#[test]
fn pack_rules_parse_compile_and_agree_with_the_catalogue() {
    let mut seen = BTreeSet::new();
    for (file, c) in pack() {
        let mut engine = CorrelationEngine::new(CorrelationConfig::default());
        engine
            .add_collection(&c)
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        let docs = c
            .rules
            .iter()
            .map(|r| (r.id.clone(), r.title.clone(), level_name(r.level.as_ref())))
            .chain(
                c.correlations
                    .iter()
                    .map(|r| (r.id.clone(), r.title.clone(), level_name(r.level.as_ref()))),
            );
        for (id, title, level) in docs {
            let id = id.unwrap_or_else(|| panic!("{file}: rule {title:?} has no id"));
            let entry =
                policy::entry(&id).unwrap_or_else(|| panic!("{file}: {id} not in catalogue"));
            assert_eq!(entry.title, title, "{file}: {id}");
            assert_eq!(entry.level.as_str(), level, "{file}: {id}");
            assert_eq!(
                entry.source,
                policy::Source::Sigma { file: leak(&file) },
                "{id}"
            );
            assert!(seen.insert(id.clone()), "duplicate id {id}");
        }
    }
    for e in policy::catalogue() {
        if matches!(e.source, policy::Source::Sigma { .. }) {
            assert!(seen.contains(e.id), "catalogue entry {} has no rule", e.id);
        }
        assert!(!e.runbook.is_empty());
    }
}

fn leak(s: &str) -> &'static str {
    Box::leak(s.to_string().into_boxed_str())
}

fn detection_engine() -> Engine {
    let mut engine = Engine::new();
    for (file, c) in pack() {
        engine
            .add_collection(&c)
            .unwrap_or_else(|e| panic!("{file}: {e}"));
    }
    engine
}

fn matches(engine: &Engine, record: &Value) -> Vec<String> {
    let event = JsonEvent::borrow(record);
    let mut ids: Vec<String> = engine
        .evaluate(&event)
        .into_iter()
        .filter_map(|r| r.header.rule_id)
        .collect();
    ids.sort();
    ids
}

/// Records in the shapes the sources produce (Windows flattened, cloud
/// records nested) and the pack rule each must match (or none).
#[test]
fn pack_rules_match_their_records() {
    let engine = detection_engine();
    let cases: Vec<(Value, Option<&str>)> = vec![
        (
            json!({"EventID": 4740, "TargetUserName": "bob", "Computer": "dc1"}),
            Some("2ccd35d3-e76f-4bc3-a9af-de44f0643c8a"),
        ),
        (
            json!({"eventType": "user.account.lock", "actor": {"alternateId": "a@x"}}),
            Some("881bfe0b-c05d-473f-953e-af4a9edbb7ee"),
        ),
        (
            json!({"category": "SignInLogs", "properties": {"status": {"errorCode": 50053}}}),
            Some("69d88d30-6af4-45d7-893d-f25ca78d7706"),
        ),
        (
            json!({"category": "SignInLogs", "properties": {"status": {"errorCode": 50126}}}),
            None,
        ),
        (
            json!({"EventID": 4724, "TargetUserName": "amy"}),
            Some("5806916e-3e0d-4c1f-a83f-82e50c86ab0e"),
        ),
        (json!({"EventID": 4725, "TargetUserName": "amy"}), None),
        (
            json!({"eventType": "user.account.reset_password", "target": [{"alternateId": "h@s.gov"}]}),
            Some("9ab7001f-0636-4ca2-a46c-99ad30dce024"),
        ),
        (
            json!({"eventType": "system.mfa.factor.deactivate"}),
            Some("9ab7001f-0636-4ca2-a46c-99ad30dce024"),
        ),
        (
            json!({"id": {"applicationName": "user_accounts"}, "name": "2sv_disable", "actor": {"email": "b@x"}}),
            Some("f8bd491d-6396-4b75-8dfd-badc94f9e1c0"),
        ),
        (
            json!({"operationName": "Reset password (by admin)"}),
            Some("f7b7eeb5-5ec5-4123-8cb1-bc85e7a2b42e"),
        ),
        (
            json!({"eventName": "UpdateLoginProfile", "requestParameters": {"userName": "alice"}}),
            Some("36d5a284-20f9-409a-b3b1-81295709ece1"),
        ),
        (
            json!({"action": "two_factor_authentication.disabled", "user": "octo"}),
            Some("0c2caba8-cba4-4916-866e-0efdcd66206f"),
        ),
        (
            json!({"eventSource": "cloudtrail.amazonaws.com", "eventName": "StopLogging"}),
            Some("39940c05-165f-4ed4-8d17-5076e4a340d2"),
        ),
        (
            json!({"eventSource": "cloudtrail.amazonaws.com", "eventName": "DescribeTrails"}),
            None,
        ),
        (
            json!({"eventSource": "ec2.amazonaws.com", "eventName": "DeleteFlowLogs"}),
            Some("2ab4fcc4-09ee-4fb6-b310-88bbcb1321dc"),
        ),
        (
            json!({"protoPayload": {"methodName": "google.logging.v2.ConfigServiceV2.UpdateSink"}}),
            Some("a3a1aafb-cb04-4235-907b-26b1eabfb98a"),
        ),
        (
            json!({"protoPayload": {"methodName": "google.logging.v2.ConfigServiceV2.ListSinks"}}),
            None,
        ),
        (
            json!({"protoPayload": {"methodName": "SetIamPolicy", "serviceData": {"policyDelta": {"auditConfigDeltas": [{"action": "REMOVE", "service": "allServices"}]}}}}),
            Some("a3a1aafb-cb04-4235-907b-26b1eabfb98a"),
        ),
        (
            json!({"protoPayload": {"methodName": "SetIamPolicy", "serviceData": {"policyDelta": {"bindingDeltas": []}}}}),
            None,
        ),
        (
            json!({"EventID": 1102, "Computer": "pc1"}),
            Some("a477838c-b050-433e-aaf3-57d981365b1f"),
        ),
        (
            json!({"EventID": 104, "Provider_Name": "Microsoft-Windows-Eventlog"}),
            Some("fc8c3cc0-af11-46e7-858d-33429a289276"),
        ),
        (
            json!({"EventID": 4719, "SubjectUserName": "adm"}),
            Some("2eafa415-d954-443d-9310-a44cadc2d843"),
        ),
        (
            json!({"type": "CONFIG_CHANGE", "auid": "1000"}),
            Some("6dee3b4f-8737-41cd-9d24-5f7a6d38d2e6"),
        ),
        (
            json!({"action": "audit_log_streaming.destroy", "actor": "octo"}),
            Some("eae8726d-2c65-4756-af23-d55f5039ed15"),
        ),
        (
            json!({"action": "audit_log_streaming.check", "actor": "octo"}),
            None,
        ),
        (
            json!({"verb": "patch", "objectRef": {"resource": "configmaps", "namespace": "kube-system", "name": "audit-policy"}}),
            Some("46ce84c2-a22f-432e-b242-f82caa31a303"),
        ),
        (
            json!({"verb": "get", "objectRef": {"resource": "configmaps", "namespace": "kube-system", "name": "audit-policy"}}),
            None,
        ),
        (
            json!({"EventID": 1116, "Threat Name": "EICAR"}),
            Some("68230722-df34-4180-9e06-4210ff5cdb21"),
        ),
        (
            json!({"EventID": 1117}),
            Some("0b0984ee-ac7a-4aab-bbb5-ac4710154f25"),
        ),
        (
            json!({"EventID": 1008}),
            Some("2b5ed3c2-f691-4315-8259-7e8cfd272ef3"),
        ),
    ];
    for (record, want) in cases {
        let got = matches(&engine, &record);
        let want: Vec<String> = want.into_iter().map(String::from).collect();
        assert_eq!(got, want, "record {record}");
    }
}

#[test]
fn pack_correlations_fire() {
    let mut engine = CorrelationEngine::new(CorrelationConfig::default());
    for (_, c) in pack() {
        engine.add_collection(&c).unwrap();
    }
    let mut fired = Vec::new();
    let events = [
        (
            json!({"EventID": 4740, "TargetUserName": "a", "Computer": "dc1"}),
            100,
        ),
        (
            json!({"EventID": 4740, "TargetUserName": "a", "Computer": "dc1"}),
            110,
        ),
        (
            json!({"EventID": 4740, "TargetUserName": "b", "Computer": "dc1"}),
            120,
        ),
        (
            json!({"EventID": 4740, "TargetUserName": "c", "Computer": "dc2"}),
            130,
        ),
        (
            json!({"EventID": 4740, "TargetUserName": "d", "Computer": "dc1"}),
            140,
        ),
        (json!({"EventID": 4719, "Computer": "pc9"}), 200),
        (json!({"EventID": 1102, "Computer": "pc9"}), 260),
        (json!({"EventID": 1102, "Computer": "pc8"}), 270),
    ];
    for (record, at) in &events {
        let e = JsonEvent::borrow(record);
        for r in engine.process_event_at(&e, *at) {
            if r.is_correlation() {
                fired.push((r.header.rule_id.unwrap_or_default(), *at));
            }
        }
    }
    assert_eq!(
        fired,
        vec![
            ("839725d3-c636-4b8a-b346-c6e8a9ccbe5f".to_string(), 140),
            ("b9bdafc0-0081-4c75-a588-5859a7123935".to_string(), 260),
        ]
    );
}

fn sigma_detection(rule_id: &str) -> Detection {
    Detection {
        rule_id: rule_id.to_string(),
        rule_title: "t".into(),
        level: Level::Medium,
        timestamp: None,
        file: Arc::from("f"),
        record: 1,
        host: None,
        logsource: LogSource::default(),
        policy: None,
        entities: BTreeMap::new(),
        fields: BTreeMap::new(),
    }
}

#[test]
fn annotate_fills_policy_and_entities() {
    let cases = [
        (
            "9ab7001f-0636-4ca2-a46c-99ad30dce024",
            json!({"eventType": "user.account.reset_password", "actor": {"alternateId": "system@okta.com"}, "client": {"ipAddress": "1.1.1.1"}, "target": [{"alternateId": "homer@springfield.gov"}]}),
            Policy::PasswordReset,
            vec![("source_ip", "1.1.1.1"), ("user", "homer@springfield.gov")],
        ),
        (
            "2ccd35d3-e76f-4bc3-a9af-de44f0643c8a",
            json!({"EventID": 4740, "TargetUserName": "bob", "Computer": "dc1.corp"}),
            Policy::Lockout,
            vec![("user", "bob")],
        ),
        (
            "39940c05-165f-4ed4-8d17-5076e4a340d2",
            json!({"eventName": "StopLogging", "userIdentity": {"arn": "arn:aws:iam::1:user/x"}, "sourceIPAddress": "9.9.9.9"}),
            Policy::LoggingDisabled,
            vec![("source_ip", "9.9.9.9"), ("user", "arn:aws:iam::1:user/x")],
        ),
        (
            "68230722-df34-4180-9e06-4210ff5cdb21",
            json!({"Event": {"System": {"EventID": 1116, "Computer": "WIN10"}, "EventData": {"Threat Name": "HackTool:Win64/Mikatz!dha", "Path": "file:_C:\\Users\\a\\mimidrv.sys", "Detection User": "OFFSEC\\admmig", "Action Name": "Quarantine"}}}),
            Policy::Antivirus,
            vec![("user", "OFFSEC\\admmig")],
        ),
    ];
    for (id, record, policy, entities) in cases {
        let event = common::json_event("x", 1, record);
        let mut d = sigma_detection(id);
        policy::annotate(&mut d, Some(&event));
        assert_eq!(d.policy, Some(policy.as_str()), "{id}");
        let got: Vec<(&str, &str)> = d
            .entities
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(got, entities, "{id}");
        if policy == Policy::Antivirus {
            assert_eq!(d.fields["threat"], "HackTool:Win64/Mikatz!dha");
            assert_eq!(d.fields["file_path"], "C:\\Users\\a\\mimidrv.sys");
            assert_eq!(d.fields["action"], "Quarantine");
        }
        let json = serde_json::to_value(&d).unwrap();
        assert_eq!(json["policy"], json!(policy.as_str()), "{id}: {json}");
    }
    // The host entity is the detection's own host field.
    let event = common::json_event(
        "x",
        1,
        json!({"EventID": 4740, "TargetUserName": "bob", "Computer": "dc1.corp"}),
    );
    let mut d = sigma_detection("2ccd35d3-e76f-4bc3-a9af-de44f0643c8a");
    policy::annotate(&mut d, Some(&event));
    assert_eq!(d.host.as_deref(), Some("dc1.corp"));
    let text = serde_json::to_string(&d).unwrap();
    assert_eq!(text.matches("\"host\"").count(), 1, "{text}");
    // Other rules are left alone.
    let mut other = sigma_detection("57b649ef-ff42-4fb0-8bf6-62da243a1708");
    policy::annotate(&mut other, None);
    assert_eq!(other.policy, None);
    assert!(other.entities.is_empty());
}

#[test]
fn docs_list_every_catalogue_entry() {
    let docs = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/policy.md"),
    )
    .expect("docs/policy.md exists");
    for e in policy::catalogue() {
        assert!(docs.contains(e.id), "docs/policy.md lacks {}", e.id);
        assert!(
            docs.contains(e.runbook),
            "docs/policy.md lacks the runbook of {}",
            e.id
        );
    }
}
