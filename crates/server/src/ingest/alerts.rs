//! Detections as alerts: the deterministic key, the evidence, and whether
//! the alert opens an incident.
//!
//! The key makes ingest idempotent ([`incidents::NewAlert::key`]): the same
//! detection, found again when the spool replays after a crash or when a
//! sender retries a batch, gets the same key and is not stored twice.
//! - A detection about one event (a Sigma rule without entities) is keyed
//!   by the rule, the event's time and host, its key fields
//!   ([`Detection::fields`]) and the event's identity: live, the line as
//!   sent (so the same line sent twice gets the same key, and two
//!   different events in one second do not); in `hunt`, the file and
//!   record (so submitting the same hunt twice stores nothing twice).
//! - A detection about many events (a correlation, a policy detector: it
//!   names entities) is keyed by the rule, the host, the entity keys and
//!   the hour its time falls in, so a replay that rebuilds the state fires
//!   into the same key.

use std::collections::BTreeMap;

use detect::{Detection, Level};
use incidents::NewAlert;
use incidents::enums::AlertLevel;
use serde_json::Value;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

/// The width of the time bucket of keys of detections about many events.
pub const BUCKET_SECS: i64 = 3600;

/// The alert level of a Sigma level.
pub fn alert_level(level: Level) -> AlertLevel {
    match level {
        Level::Informational => AlertLevel::Informational,
        Level::Low => AlertLevel::Low,
        Level::Medium => AlertLevel::Medium,
        Level::High => AlertLevel::High,
        Level::Critical => AlertLevel::Critical,
    }
}

/// The deterministic key of a detection whose event is `identity` (see
/// the module doc): `wp1-` and the hex SHA-256 of its parts, each
/// length-prefixed so no two part lists collide.
pub fn alert_key(d: &Detection, identity: &[u8]) -> String {
    let mut h = Sha256::new();
    let mut part = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    part(d.rule_id.as_bytes());
    part(d.host.as_deref().unwrap_or("").as_bytes());
    let secs = d.timestamp.map(OffsetDateTime::unix_timestamp);
    if d.entities.is_empty() {
        part(b"event");
        part(&secs.unwrap_or(i64::MIN).to_le_bytes());
        for (k, v) in &d.fields {
            part(k.as_bytes());
            part(v.as_bytes());
        }
        part(identity);
    } else {
        part(b"entities");
        for (k, v) in &d.entities {
            part(k.as_bytes());
            part(v.as_bytes());
        }
        part(
            &secs
                .map_or(i64::MIN, |s| s.div_euclid(BUCKET_SECS))
                .to_le_bytes(),
        );
    }
    format!("wp1-{}", hex::encode(h.finalize()))
}

/// The alert for a detection: its entities (the host among them), its
/// evidence, its key, and whether it stays in the alert queue (below
/// `incident_level`). `now` stands in for a detection without a time.
pub fn new_alert(
    d: &Detection,
    identity: &[u8],
    evidence: Value,
    incident_level: Level,
    now: OffsetDateTime,
) -> NewAlert {
    let mut entities: BTreeMap<String, String> = d
        .entities
        .iter()
        .filter(|(k, v)| !k.is_empty() && k.len() <= 64 && v.len() <= 1024)
        .take(31)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if let Some(host) = d.host.as_ref().filter(|h| !h.is_empty() && h.len() <= 1024) {
        entities.insert("host".to_owned(), host.clone());
    }
    let key = alert_key(d, identity);
    NewAlert {
        rule_id: d.rule_id.chars().take(200).collect(),
        rule_title: if d.rule_title.is_empty() {
            d.rule_id.chars().take(500).collect()
        } else {
            d.rule_title.chars().take(500).collect()
        },
        level: alert_level(d.level),
        entities,
        evidence: vec![evidence],
        policy: d.policy.map(str::to_owned),
        detected_at: d.timestamp.unwrap_or(now),
        key: Some(key),
        queue_only: d.level < incident_level,
        group: group(d),
    }
}

/// The grouping of a policy detection: its watch-list item on its host, so
/// that the detectors of one item (a brute force trips both the per-user
/// and the per-address login thresholds) open one incident per host.
/// Other detections group by rule and entities (the store's default).
pub fn group(d: &Detection) -> Option<String> {
    let item = d.policy?;
    Some(format!(
        "policy:{item}\u{1f}host={}",
        d.host.as_deref().unwrap_or("")
    ))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;

    fn detection(entities: &[(&str, &str)], secs: i64) -> Detection {
        Detection {
            rule_id: "r1".into(),
            rule_title: "Rule one".into(),
            level: Level::High,
            timestamp: Some(OffsetDateTime::from_unix_timestamp(secs).unwrap()),
            file: Arc::from("shipper/auth.log"),
            record: 5,
            host: Some("bastion".into()),
            logsource: Default::default(),
            policy: None,
            entities: entities
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            fields: BTreeMap::new(),
        }
    }

    #[test]
    fn single_event_keys_follow_the_event_not_its_position() {
        let mut a = detection(&[], 1_000);
        a.fields.insert("CommandLine".into(), "whoami".into());
        let mut moved = a.clone();
        moved.record = 99;
        moved.file = Arc::from("other");
        assert_eq!(alert_key(&a, b"line"), alert_key(&moved, b"line"));
        // The same fields and second, another event: another key.
        assert_ne!(alert_key(&a, b"line"), alert_key(&a, b"line 2"));
        let mut other = a.clone();
        other
            .fields
            .insert("CommandLine".into(), "whoami /all".into());
        assert_ne!(alert_key(&a, b"line"), alert_key(&other, b"line"));
        let mut later = a.clone();
        later.timestamp = Some(OffsetDateTime::from_unix_timestamp(1_001).unwrap());
        assert_ne!(alert_key(&a, b"line"), alert_key(&later, b"line"));
        let key = alert_key(&a, b"line");
        assert_eq!(key.len(), 4 + 64);
        assert!(key.starts_with("wp1-"));
    }

    #[test]
    fn keys_of_detections_with_entities_share_an_hour() {
        // 7200 and 10799 are in the same hour; 10800 starts the next.
        let a = alert_key(&detection(&[("user", "root")], 7_200), b"x");
        let mut b = detection(&[("user", "root")], 10_799);
        b.fields.insert("other".into(), "1".into());
        // The event that tipped it over does not matter.
        let b = alert_key(&b, b"y");
        let c = alert_key(&detection(&[("user", "root")], 10_800), b"x");
        let d = alert_key(&detection(&[("user", "admin")], 7_200), b"x");
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
    }

    #[test]
    fn alerts_below_the_incident_level_stay_queued() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let mut d = detection(&[("user", "root")], 1);
        let alert = new_alert(&d, b"", json!({}), Level::Medium, now);
        assert!(!alert.queue_only);
        assert_eq!(
            alert.entities.get("host").map(String::as_str),
            Some("bastion")
        );
        assert_eq!(alert.entities.get("user").map(String::as_str), Some("root"));
        d.level = Level::Low;
        assert!(new_alert(&d, b"", json!({}), Level::Medium, now).queue_only);
        d.level = Level::Medium;
        assert!(!new_alert(&d, b"", json!({}), Level::Medium, now).queue_only);
    }

    #[test]
    fn policy_detections_group_by_item_and_host() {
        let mut per_user = detection(&[("user", "root"), ("source_ip", "192.0.2.1")], 1);
        per_user.policy = Some("login_failures");
        let mut per_source = detection(&[("source_ip", "192.0.2.1")], 2);
        per_source.rule_id = "r2".into();
        per_source.policy = Some("login_failures");
        assert_eq!(group(&per_user), group(&per_source));
        assert_eq!(
            group(&per_user).as_deref(),
            Some("policy:login_failures\u{1f}host=bastion")
        );
        let mut elsewhere = per_source.clone();
        elsewhere.host = Some("web-1".into());
        assert_ne!(group(&per_user), group(&elsewhere));
        assert_eq!(group(&detection(&[], 1)), None);
    }
}
