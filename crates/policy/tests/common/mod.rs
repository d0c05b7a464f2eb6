//! Test helpers: events built from raw syslog lines and JSON records
//! (without the `sources` crate, so detector tests stand alone), and an
//! ordered run loop like `hunt`'s stateful stage.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use detect::{Detection, Detector};
use events::{Event, LogSource, Map, Meta, Timestamp, Value};
use serde_json::json;
use time::{Date, Month, PrimitiveDateTime, Time};

/// The corpus directory; panics when `WATCHPOST_CORPUS` is unset.
pub fn corpus() -> PathBuf {
    let dir = std::env::var("WATCHPOST_CORPUS")
        .expect("WATCHPOST_CORPUS must point at the shared corpus (../shared/data)");
    PathBuf::from(dir)
}

/// Unix seconds of an RFC 3164 `Mmm dd hh:mm:ss` prefix in `year`.
pub fn syslog_secs(line: &str, year: i32) -> Option<i64> {
    let month = match line.get(0..3)? {
        "Jan" => Month::January,
        "Feb" => Month::February,
        "Mar" => Month::March,
        "Apr" => Month::April,
        "May" => Month::May,
        "Jun" => Month::June,
        "Jul" => Month::July,
        "Aug" => Month::August,
        "Sep" => Month::September,
        "Oct" => Month::October,
        "Nov" => Month::November,
        "Dec" => Month::December,
        _ => return None,
    };
    let day: u8 = line.get(4..6)?.trim().parse().ok()?;
    let h: u8 = line.get(7..9)?.parse().ok()?;
    let m: u8 = line.get(10..12)?.parse().ok()?;
    let s: u8 = line.get(13..15)?.parse().ok()?;
    let date = Date::from_calendar_date(year, month, day).ok()?;
    let t = Time::from_hms(h, m, s).ok()?;
    Some(
        PrimitiveDateTime::new(date, t)
            .assume_utc()
            .unix_timestamp(),
    )
}

/// An event from an RFC 3164 line: `host`, `program`, `pid`, `message`.
pub fn syslog_event(source: &str, record: u64, line: &str, year: i32) -> Event {
    let mut meta = Meta::new(Arc::from(source), record);
    meta.logsource = LogSource::service("linux", "auth");
    let mut fields = Map::new();
    meta.timestamp = syslog_secs(line, year).and_then(|s| Timestamp::from_unix_timestamp(s).ok());
    let rest = line.get(16..).unwrap_or("");
    let (host, rest) = rest.split_once(' ').unwrap_or(("", rest));
    meta.host = Some(host.to_string());
    match rest.split_once(": ") {
        Some((tag, msg)) if !tag.contains(' ') => {
            let (prog, pid) = match tag.split_once('[') {
                Some((p, pid)) => (p, Some(pid.trim_end_matches(']'))),
                None => (tag, None),
            };
            fields.insert("program".into(), json!(prog));
            if let Some(pid) = pid {
                fields.insert("pid".into(), json!(pid));
            }
            fields.insert("message".into(), json!(msg));
        }
        _ => {
            fields.insert("message".into(), json!(rest));
        }
    }
    fields.insert("host".into(), json!(host));
    Event::new(meta, fields)
}

/// Events from a text file of RFC 3164 lines (1-based records).
pub fn syslog_file(path: &std::path::Path, year: i32) -> Vec<Event> {
    let text = std::fs::read_to_string(path).expect("readable corpus file");
    let source = path.display().to_string();
    text.lines()
        .enumerate()
        .map(|(i, l)| syslog_event(&source, i as u64 + 1, l, year))
        .collect()
}

/// An event from a JSON object, with the time read from the usual fields.
pub fn json_event(source: &str, record: u64, value: Value) -> Event {
    let Value::Object(fields) = value else {
        panic!("fixture must be a JSON object")
    };
    let mut meta = Meta::new(Arc::from(source), record);
    let time_fields = [
        "eventTime",
        "published",
        "timestamp",
        "time",
        "@timestamp",
        "Event.System.TimeCreated.#attributes.SystemTime",
        "TimeCreated",
    ];
    let ev = Event::new(meta.clone(), fields.clone());
    meta.timestamp = time_fields.iter().find_map(|f| {
        let s = policy::fields::text(&ev, f)?;
        let s = if s.len() >= 19 && s.as_bytes()[10] == b' ' {
            format!("{}T{}Z", &s[..10], &s[11..])
        } else {
            s
        };
        Timestamp::parse(&s, &time::format_description::well_known::Rfc3339).ok()
    });
    meta.host =
        policy::fields::first_text(&ev, &["Event.System.Computer", "Computer", "host.name"]);
    Event::new(meta, fields)
}

/// Events of an NDJSON file.
pub fn ndjson_file(path: &std::path::Path) -> Vec<Event> {
    let text = std::fs::read_to_string(path).expect("readable corpus file");
    let source = path.display().to_string();
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            json_event(
                &source,
                i as u64 + 1,
                serde_json::from_str(l).expect("JSON line"),
            )
        })
        .collect()
}

/// Runs detectors like `hunt`'s ordered stage: events sorted by (time,
/// source, record), each fed to every interested detector, then finish.
pub fn run(detectors: &mut [Box<dyn Detector>], mut events: Vec<Event>) -> Vec<Detection> {
    events.sort_by(|a, b| {
        (a.meta.timestamp, &a.meta.source, a.meta.record).cmp(&(
            b.meta.timestamp,
            &b.meta.source,
            b.meta.record,
        ))
    });
    run_in_order(detectors, &events)
}

/// Runs detectors over events in the order given.
pub fn run_in_order(detectors: &mut [Box<dyn Detector>], events: &[Event]) -> Vec<Detection> {
    let mut out = Vec::new();
    for e in events {
        for d in detectors.iter_mut() {
            if d.selector().wants(e) {
                d.observe(e, &mut out);
            }
        }
    }
    for d in detectors.iter_mut() {
        d.finish(&mut out);
    }
    out
}

/// Detections with a given rule id.
pub fn with_id<'a>(dets: &'a [Detection], id: &str) -> Vec<&'a Detection> {
    dets.iter().filter(|d| d.rule_id == id).collect()
}
