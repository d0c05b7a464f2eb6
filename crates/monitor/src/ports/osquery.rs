//! osquery `listening_ports` results to open-port observations.
//!
//! Three shapes are read:
//! - query results as a JSON array of rows (`osqueryi --json "select * from
//!   listening_ports"`); the host is passed by the caller;
//! - the differential results log: one JSON object per line,
//!   `{"name": ..., "hostIdentifier": ..., "unixTime": ..., "columns": {...},
//!   "action": "added"}`; `removed` rows take the port away again, in file
//!   order;
//! - the snapshot results log: `{"hostIdentifier": ..., "snapshot": [rows],
//!   "action": "snapshot"}`, one per line or a single document.
//!
//! Row columns used: `port`, `protocol` (6 TCP, 17 UDP, 132 SCTP), `address`
//! and, when the query joins `processes`, `name`. Values may be strings (as
//! osquery writes them) or numbers. Rows with port 0 or another protocol
//! (UNIX sockets) are skipped. A file that is not JSON is an error for the
//! whole file; a bad row or log line is a located problem and the rest is
//! read.

use std::collections::BTreeMap;

use events::{SourceId, Timestamp};
use serde_json::{Map, Value};

use super::{Observation, Parsed, PortKey, Protocol, Service};

/// Why an osquery file is unusable as a whole.
#[derive(Debug, thiserror::Error)]
pub enum OsqueryError {
    /// JSON, but neither rows nor log records.
    #[error("not osquery results: expected a JSON array of rows or log records")]
    NotResults,
    /// Neither one JSON document nor a log of JSON lines.
    #[error("not valid JSON")]
    Json(#[source] serde_json::Error),
}

/// Parses osquery output; `host` is used for plain result arrays.
pub fn parse(text: &str, host: &str, file: &SourceId) -> Result<Parsed, OsqueryError> {
    let trimmed = text.trim_start();
    // One JSON document (an array of rows, or one pretty-printed log record).
    let whole = serde_json::from_str::<Value>(trimmed);
    let mut state = Rows::default();
    let mut problems = Vec::new();
    match whole {
        Ok(Value::Array(rows)) => {
            for (index, row) in rows.iter().enumerate() {
                let record = index as u64 + 1;
                match row {
                    Value::Object(row) => state.add(row, host, None, file, record, &mut problems),
                    _ => problems.push((Some(record), "array element is not a row object".into())),
                }
            }
        }
        Ok(Value::Object(record)) => log_record(&record, host, file, 1, &mut state, &mut problems),
        Ok(_) => return Err(OsqueryError::NotResults),
        Err(whole_error) => {
            // A log: one record per line.
            let mut any = false;
            for (index, line) in text.lines().enumerate() {
                let line_no = index as u64 + 1;
                if line.trim().is_empty() {
                    continue;
                }
                match serde_json::from_str::<Value>(line) {
                    Ok(Value::Object(record)) => {
                        any = true;
                        log_record(&record, host, file, line_no, &mut state, &mut problems);
                    }
                    Ok(_) => problems.push((Some(line_no), "log line is not a JSON object".into())),
                    Err(e) => problems.push((Some(line_no), format!("invalid JSON: {e}"))),
                }
            }
            if !any {
                return Err(OsqueryError::Json(whole_error));
            }
        }
    }
    Ok(Parsed {
        observations: state.rows.into_values().collect(),
        problems,
    })
}

fn log_record(
    record: &Map<String, Value>,
    default_host: &str,
    file: &SourceId,
    line: u64,
    state: &mut Rows,
    problems: &mut Vec<(Option<u64>, String)>,
) {
    let host = record
        .get("hostIdentifier")
        .and_then(Value::as_str)
        .filter(|h| !h.is_empty())
        .unwrap_or(default_host);
    let seen_at = record
        .get("unixTime")
        .and_then(as_i64)
        .and_then(|t| Timestamp::from_unix_timestamp(t).ok());
    let action = record.get("action").and_then(Value::as_str);
    match (action, record.get("columns"), record.get("snapshot")) {
        (Some("added"), Some(Value::Object(row)), _) => state.add(row, host, seen_at, file, line, problems),
        (Some("removed"), Some(Value::Object(row)), _) => state.remove(row, host),
        (_, _, Some(Value::Array(rows))) => {
            for row in rows {
                match row {
                    Value::Object(row) => state.add(row, host, seen_at, file, line, problems),
                    _ => problems.push((Some(line), "snapshot element is not a row object".into())),
                }
            }
        }
        _ => problems.push((
            Some(line),
            "not an osquery log record: expected \"columns\" with action added/removed, or \"snapshot\"".into(),
        )),
    }
}

/// The current rows, keyed so that `removed` can take one away.
#[derive(Default)]
struct Rows {
    rows: BTreeMap<(PortKey, String), Observation>,
}

impl Rows {
    fn add(
        &mut self,
        row: &Map<String, Value>,
        host: &str,
        seen_at: Option<Timestamp>,
        file: &SourceId,
        record: u64,
        problems: &mut Vec<(Option<u64>, String)>,
    ) {
        match row_key(row, host) {
            Ok(Some((key, address))) => {
                let observation = Observation {
                    key: key.clone(),
                    service: Service {
                        process: row
                            .get("name")
                            .and_then(as_string)
                            .filter(|s| !s.is_empty()),
                        ..Service::default()
                    },
                    hostname: None,
                    addresses: [address.clone()]
                        .into_iter()
                        .filter(|a| !a.is_empty())
                        .collect(),
                    file: file.clone(),
                    record,
                    seen_at,
                };
                self.rows.insert((key, address), observation);
            }
            Ok(None) => {}
            Err(reason) => problems.push((Some(record), reason)),
        }
    }

    fn remove(&mut self, row: &Map<String, Value>, host: &str) {
        if let Ok(Some(key)) = row_key(row, host) {
            self.rows.remove(&key);
        }
    }
}

/// The key and bind address of a row; `None` for rows that are not
/// network ports.
fn row_key(row: &Map<String, Value>, host: &str) -> Result<Option<(PortKey, String)>, String> {
    let port = row
        .get("port")
        .and_then(as_i64)
        .ok_or("row has no numeric \"port\" column")?;
    let protocol = row
        .get("protocol")
        .and_then(as_i64)
        .ok_or("row has no numeric \"protocol\" column")?;
    if port == 0 {
        return Ok(None);
    }
    let protocol = match protocol {
        6 => Protocol::Tcp,
        17 => Protocol::Udp,
        132 => Protocol::Sctp,
        _ => return Ok(None),
    };
    let port = u16::try_from(port).map_err(|_| format!("port {port} is out of range"))?;
    let address = row.get("address").and_then(as_string).unwrap_or_default();
    Ok(Some((
        PortKey {
            host: host.to_string(),
            protocol,
            port,
        },
        address,
    )))
}

fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn as_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(parsed: &Parsed) -> Vec<String> {
        parsed
            .observations
            .iter()
            .map(|o| o.key.to_string())
            .collect()
    }

    #[test]
    fn reads_a_result_array() {
        let text = r#"[
 {"address":"0.0.0.0","family":"2","fd":"3","net_namespace":"0","path":"","pid":"1020","port":"22","protocol":"6","socket":"1"},
 {"address":"","family":"1","fd":"5","path":"/run/x.sock","pid":"1","port":"0","protocol":"0","socket":"2"},
 {"address":"::","family":"10","pid":"700","port":53,"protocol":17,"name":"dnsmasq"},
 {"address":"0.0.0.0","pid":"1"}
]"#;
        let parsed = parse(text, "h1", &"q.json".into()).unwrap();
        assert_eq!(keys(&parsed), ["h1 tcp/22", "h1 udp/53"]);
        assert_eq!(
            parsed.observations[1].service.process.as_deref(),
            Some("dnsmasq")
        );
        assert_eq!(
            parsed.problems,
            vec![(Some(4), "row has no numeric \"port\" column".to_string())]
        );
    }

    #[test]
    fn reads_a_differential_log_in_order() {
        let text = concat!(
            r#"{"name":"pack_ports","hostIdentifier":"web01","unixTime":1700000000,"columns":{"port":"22","protocol":"6","address":"0.0.0.0"},"action":"added"}"#,
            "\n",
            r#"{"name":"pack_ports","hostIdentifier":"web01","unixTime":1700000000,"columns":{"port":"8080","protocol":"6","address":"0.0.0.0"},"action":"added"}"#,
            "\n",
            r#"{"name":"pack_ports","hostIdentifier":"web01","unixTime":1700000060,"columns":{"port":"8080","protocol":"6","address":"0.0.0.0"},"action":"removed"}"#,
            "\n",
            "{broken\n",
        );
        let parsed = parse(text, "ignored", &"log".into()).unwrap();
        assert_eq!(keys(&parsed), ["web01 tcp/22"]);
        assert_eq!(parsed.problems.len(), 1);
        assert_eq!(parsed.problems[0].0, Some(4));
    }

    #[test]
    fn malformed_json_is_an_error() {
        let error = parse("[{\"port\": ", "h", &"f".into()).unwrap_err();
        assert!(matches!(error, OsqueryError::Json(_)), "{error:?}");
        let text = crate::describe(&error);
        assert!(text.starts_with("not valid JSON: EOF"), "{text}");
        let error = parse("42", "h", &"f".into()).unwrap_err();
        assert!(matches!(error, OsqueryError::NotResults), "{error:?}");
        assert!(error.to_string().contains("not osquery results"));
    }
}
