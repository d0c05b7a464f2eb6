//! Cloud events inside the envelopes they are delivered in, unwrapped to
//! the records themselves, so a CloudTrail record or a GCP audit entry is
//! the same event however it arrives:
//!
//! - a CloudTrail file: `{"Records": [...]}`;
//! - Amazon EventBridge: `{"detail-type": "... via CloudTrail", "detail":
//!   {record}}`;
//! - CloudWatch Logs subscription data (as a Lambda or Firehose receives
//!   it, decompressed): `{"messageType": "DATA_MESSAGE", "logEvents":
//!   [{"message": "<record as JSON text>"}, ...]}` (a message that is not
//!   JSON becomes an event with its text as `message`, beside `logGroup`
//!   and `logStream`; `CONTROL_MESSAGE`s carry no event);
//! - a Google Cloud Pub/Sub push: `{"message": {"data": "<base64 of the
//!   LogEntry>"}, "subscription": "..."}`.

use base64::Engine as _;
use events::{Map, Value};

/// The records inside an envelope, or the object back when it is not one.
pub(crate) fn records(mut map: Map<String, Value>) -> Result<Vec<Value>, Map<String, Value>> {
    if map.len() == 1
        && matches!(map.get("Records"), Some(Value::Array(_)))
        && let Some(Value::Array(items)) = map.remove("Records")
    {
        return Ok(items);
    }
    if is_eventbridge_cloudtrail(&map)
        && let Some(detail @ Value::Object(_)) = map.remove("detail")
    {
        return Ok(vec![detail]);
    }
    if let Some(kind) = map.get("messageType").and_then(Value::as_str)
        && matches!(map.get("logEvents"), Some(Value::Array(_)))
    {
        if kind != "DATA_MESSAGE" {
            return Ok(Vec::new());
        }
        return Ok(cloudwatch_events(map));
    }
    if is_pubsub_push(&map)
        && let Some(record) = pubsub_record(&map)
    {
        return Ok(vec![record]);
    }
    Err(map)
}

fn is_eventbridge_cloudtrail(map: &Map<String, Value>) -> bool {
    map.get("detail-type")
        .and_then(Value::as_str)
        .is_some_and(|t| t.ends_with("via CloudTrail"))
        && matches!(map.get("detail"), Some(Value::Object(_)))
}

fn cloudwatch_events(mut map: Map<String, Value>) -> Vec<Value> {
    let Some(Value::Array(events)) = map.remove("logEvents") else {
        return Vec::new();
    };
    let group = map.remove("logGroup");
    let stream = map.remove("logStream");
    events
        .into_iter()
        .filter_map(|e| {
            let message = e.get("message")?.as_str()?;
            match serde_json::from_str::<Value>(message) {
                Ok(record @ Value::Object(_)) => Some(record),
                _ => {
                    let mut plain = Map::new();
                    plain.insert("message".into(), Value::from(message));
                    if let Some(t) = e.get("timestamp") {
                        plain.insert("timestamp".into(), t.clone());
                    }
                    if let Some(g) = &group {
                        plain.insert("logGroup".into(), g.clone());
                    }
                    if let Some(s) = &stream {
                        plain.insert("logStream".into(), s.clone());
                    }
                    Some(Value::Object(plain))
                }
            }
        })
        .collect()
}

fn is_pubsub_push(map: &Map<String, Value>) -> bool {
    map.contains_key("subscription")
        && map
            .get("message")
            .and_then(Value::as_object)
            .is_some_and(|m| m.get("data").is_some_and(Value::is_string))
}

/// The JSON object a Pub/Sub message carries; `None` when its data is not
/// base64 of a JSON object (the push is then read as it is).
fn pubsub_record(map: &Map<String, Value>) -> Option<Value> {
    let data = map.get("message")?.get("data")?.as_str()?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .ok()?;
    match serde_json::from_slice::<Value>(&bytes).ok()? {
        record @ Value::Object(_) => Some(record),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::test_util::obj;

    fn record() -> Value {
        json!({"eventSource": "cloudtrail.amazonaws.com", "eventName": "DeleteTrail", "eventTime": "2024-07-31T09:00:00Z"})
    }

    #[test]
    fn eventbridge_gives_its_detail() {
        // The layout of EventBridge's documentation for CloudTrail events.
        let env = obj(json!({
            "version": "0", "id": "36eb8523-97d0-4518-b33d-ee3579ff19f0",
            "detail-type": "AWS API Call via CloudTrail", "source": "aws.cloudtrail",
            "account": "111122223333", "time": "2024-07-31T09:00:00Z", "region": "us-east-1",
            "resources": [], "detail": record()
        }));
        assert_eq!(records(env), Ok(vec![record()]));
    }

    #[test]
    fn cloudwatch_logs_gives_each_message() {
        let env = obj(json!({
            "messageType": "DATA_MESSAGE", "owner": "111122223333",
            "logGroup": "aws-cloudtrail-logs", "logStream": "111122223333_CloudTrail_us-east-1",
            "subscriptionFilters": ["all"],
            "logEvents": [
                {"id": "1", "timestamp": 1722416400000u64, "message": record().to_string()},
                {"id": "2", "timestamp": 1722416401000u64, "message": "not json"}
            ]
        }));
        assert_eq!(
            records(env),
            Ok(vec![
                record(),
                json!({"message": "not json", "timestamp": 1722416401000u64,
                       "logGroup": "aws-cloudtrail-logs",
                       "logStream": "111122223333_CloudTrail_us-east-1"})
            ])
        );
        let control = obj(
            json!({"messageType": "CONTROL_MESSAGE", "logEvents": [{"id": "1", "message": "CWL CONTROL MESSAGE"}]}),
        );
        assert_eq!(records(control), Ok(vec![]));
    }

    #[test]
    fn pubsub_push_gives_the_decoded_entry() {
        let entry = json!({"logName": "projects/p/logs/cloudaudit.googleapis.com%2Factivity", "protoPayload": {"methodName": "SetIamPolicy"}});
        let data = base64::engine::general_purpose::STANDARD.encode(entry.to_string());
        let env = obj(json!({
            "message": {"data": data, "messageId": "2070443601311540", "publishTime": "2021-02-26T19:13:55.749Z", "attributes": {}},
            "subscription": "projects/p/subscriptions/watchpost"
        }));
        assert_eq!(records(env), Ok(vec![entry]));
        // Data that is not base64 JSON: the push is read as it is.
        let odd = obj(json!({"message": {"data": "%%%"}, "subscription": "s"}));
        assert!(records(odd).is_err());
    }

    #[test]
    fn other_objects_are_left_alone() {
        for v in [
            record(),
            json!({"Records": "x"}),
            json!({"detail-type": "EC2 Instance State-change Notification", "detail": {"state": "running"}}),
        ] {
            assert_eq!(records(obj(v.clone())), Err(obj(v)));
        }
    }
}
