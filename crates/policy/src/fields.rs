//! Field access that tolerates the shapes one record can arrive in: Windows
//! events flattened (`TargetUserName`) or as `evtx_dump` JSON
//! (`Event.EventData.TargetUserName`), EventData names with or without
//! spaces (`Threat Name`, `ThreatName`), syslog fields under several names,
//! and array elements in paths (`target.0.alternateId`).

use events::{Event, Value};

/// Looks up a dotted path, trying the literal key first (as
/// [`Event::get`]), then walking objects and numeric array indexes.
pub fn get<'a>(event: &'a Event, path: &str) -> Option<&'a Value> {
    if let Some(v) = event.get(path) {
        return Some(v);
    }
    if !path.contains('.') {
        return None;
    }
    let mut parts = path.split('.');
    let mut current = event.fields.get(parts.next()?)?;
    for part in parts {
        current = match current {
            Value::Object(map) => map.get(part)?,
            Value::Array(items) => items.get(part.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(current)
}

/// A field as text: strings as they are, numbers and booleans printed.
/// Empty strings and `-` count as absent.
pub fn text(event: &Event, path: &str) -> Option<String> {
    let s = match get(event, path)? {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return None,
    };
    let t = s.trim();
    if t.is_empty() || t == "-" {
        None
    } else {
        Some(t.to_string())
    }
}

/// The first of `paths` that is present, as text.
pub fn first_text(event: &Event, paths: &[&str]) -> Option<String> {
    paths.iter().find_map(|p| text(event, p))
}

/// A field as a number (numbers, or strings that parse).
pub fn number(event: &Event, path: &str) -> Option<f64> {
    match get(event, path)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The Windows `EventID`, flattened or nested.
pub fn event_id(event: &Event) -> Option<i64> {
    event
        .get_i64("EventID")
        .or_else(|| match get(event, "Event.System.EventID")? {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            // evtx_dump writes `{"#text": 4625, "#attributes": ...}` when
            // the element has attributes.
            Value::Object(m) => m.get("#text").and_then(|v| match v {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.trim().parse().ok(),
                _ => None,
            }),
            _ => None,
        })
}

/// The Windows provider name, flattened or nested.
pub fn provider(event: &Event) -> Option<String> {
    first_text(
        event,
        &[
            "Provider_Name",
            "Event.System.Provider.#attributes.Name",
            "Event.System.Provider_attributes.Name",
        ],
    )
}

/// The Windows channel, flattened or nested.
pub fn channel(event: &Event) -> Option<String> {
    first_text(event, &["Channel", "Event.System.Channel"])
}

/// A Windows EventData value by its name as written in the event (`Threat
/// Name`): tries that name, the name without spaces (`ThreatName`), and
/// both under `Event.EventData`.
pub fn event_data(event: &Event, name: &str) -> Option<String> {
    let compact: String = name.chars().filter(|c| *c != ' ').collect();
    text(event, name)
        .or_else(|| text(event, &compact))
        .or_else(|| nested_data(event, name))
        .or_else(|| nested_data(event, &compact))
}

fn nested_data(event: &Event, name: &str) -> Option<String> {
    let data = get(event, "Event.EventData")?.as_object()?;
    match data.get(name)? {
        Value::String(s) if !s.trim().is_empty() && s.trim() != "-" => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// True when the event looks like a Windows event (has an EventID).
pub fn is_windows(event: &Event) -> bool {
    event.meta.logsource.product == Some("windows") || event_id(event).is_some()
}

/// The free-text message of a syslog-like record.
pub fn message(event: &Event) -> Option<&str> {
    ["message", "Message", "msg", "MESSAGE", "_raw"]
        .iter()
        .find_map(|k| event.fields.get(*k).and_then(Value::as_str))
}

/// The program (syslog tag) of a syslog-like record, without the pid.
pub fn program(event: &Event) -> Option<&str> {
    [
        "program",
        "appname",
        "app_name",
        "ident",
        "process",
        "SYSLOG_IDENTIFIER",
    ]
    .iter()
    .find_map(|k| event.fields.get(*k).and_then(Value::as_str))
    .map(|p| p.split('[').next().unwrap_or(p))
}

/// The pid of a syslog-like record, as text.
pub fn pid(event: &Event) -> Option<String> {
    ["pid", "procid", "proc_id", "PID", "_PID"]
        .iter()
        .find_map(|k| match event.fields.get(*k)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
}

/// The host an event is about: `Meta.host`, else common host fields.
pub fn host(event: &Event) -> Option<String> {
    event.meta.host.clone().or_else(|| {
        first_text(
            event,
            &["Computer", "Event.System.Computer", "hostname", "host"],
        )
    })
}

/// Strips the `::ffff:` prefix Windows puts on IPv4 addresses.
pub fn clean_ip(ip: &str) -> String {
    ip.strip_prefix("::ffff:").unwrap_or(ip).to_string()
}

/// The text after `key` up to the next space (for `rhost=1.2.3.4 user=x`).
pub fn word_after<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let start = text.find(key)? + key.len();
    let rest = &text[start..];
    let word = rest.split_whitespace().next()?;
    if word.is_empty() || rest.starts_with(' ') {
        None
    } else {
        Some(word)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use events::Meta;
    use serde_json::json;

    use super::*;

    fn event(v: Value) -> Event {
        Event::new(
            Meta::new(Arc::from("t"), 1),
            v.as_object().cloned().unwrap(),
        )
    }

    #[test]
    fn paths_walk_arrays_and_event_data() {
        let e = event(json!({
            "target": [{"alternateId": "a@x"}],
            "Event": {"System": {"EventID": "1116"}, "EventData": {"Threat Name": "EICAR"}}
        }));
        assert_eq!(text(&e, "target.0.alternateId").as_deref(), Some("a@x"));
        assert_eq!(event_id(&e), Some(1116));
        assert_eq!(event_data(&e, "Threat Name").as_deref(), Some("EICAR"));
        let flat = event(json!({"EventID": 4625, "ThreatName": "X", "IpAddress": "-"}));
        assert_eq!(event_id(&flat), Some(4625));
        assert_eq!(event_data(&flat, "Threat Name").as_deref(), Some("X"));
        assert_eq!(event_data(&flat, "IpAddress"), None);
    }

    #[test]
    fn word_after_stops_at_space() {
        let m = "authentication failure; ruser= rhost=1.2.3.4  user=root";
        assert_eq!(word_after(m, "rhost="), Some("1.2.3.4"));
        assert_eq!(word_after(m, "ruser="), None);
        assert_eq!(word_after(m, " user="), Some("root"));
        assert_eq!(clean_ip("::ffff:10.0.0.1"), "10.0.0.1");
    }
}
