//! Syslog messages that a log shipper wrote as JSON, put back into the
//! event the syslog reader (`crate::syslog`) makes from the same line: the
//! fields `host`, `program` (with the whole tag in `ident` for PAM-style
//! tags such as `sshd(pam_unix)`), `pid` (a number when numeric),
//! `facility` and `severity` (by name), `msgid` and `message`; the time;
//! the host; and a `linux` logsource, so the Linux Sigma rules (refined by
//! `program`, for example `sshd`) and the policy's login detector see them.
//!
//! | layout | recognised by | time |
//! |---|---|---|
//! | **syslog-ng** `$(format-json --scope rfc5424 ...)` (any of the `rfc3164`, `rfc5424`, `selected-macros`, `nv-pairs` scopes) | `PROGRAM` and `MESSAGE` | `ISODATE`, else `DATE` |
//! | **journald** (`journalctl -o json`, and Vector's or Fluent Bit's journald inputs, upper or lower case, with or without leading underscores) | `SYSLOG_IDENTIFIER` and `MESSAGE` (or `message`) | `__REALTIME_TIMESTAMP` (microseconds since the epoch), else `_SOURCE_REALTIME_TIMESTAMP` |
//! | the **OpenTelemetry Collector**'s `syslog` receiver (its record attributes, as the OTLP input flattens them) and **Vector**'s `syslog` source | `appname` and `message` | `timestamp`, else `time` |
//! | **Fluent Bit**'s `syslog-rfc5424`, `syslog-rfc3164` and `syslog-rfc3164-local` parsers | `ident` and `message` | `time`, else `date` |
//! | the **OpenTelemetry Collector**'s `filelog` receiver with no operators | a string `body` that is an RFC 3164 or 5424 line, with `log.file.name` or `log.file.path` | the line's |
//!
//! Besides its program and message keys, a record must have one more part
//! of a syslog header under the layout's name for it (host, pid, facility,
//! severity or priority), and must not be a record the JSON taxonomy knows
//! by shape (CloudTrail, Okta, GitHub audit, ...): anything else is left
//! alone, as a JSON record.
//!
//! | field | syslog-ng | journald | Collector syslog, Vector | Fluent Bit |
//! |---|---|---|---|---|
//! | `host` | `HOST` | `_HOSTNAME` (`HOSTNAME`, `_hostname`, `hostname`, `host`) | `hostname` | `host` |
//! | `pid` | `PID` | `_PID` (`SYSLOG_PID`, `PID`, `_pid`, `syslog_pid`) | `proc_id`, `procid` | `pid` |
//! | `msgid` | `MSGID` | | `msg_id`, `msgid` | `msgid` |
//! | `facility` | `FACILITY` | `SYSLOG_FACILITY` | `facility`, else from `priority` | from `pri` |
//! | `severity` | `PRIORITY` (`LEVEL`) | `PRIORITY` | `severity` (`severity_text`), else from `priority` | from `pri` |
//!
//! Facilities and severities may be names (`auth`, `info`) or numbers,
//! also as strings; a priority is the PRI value (facility × 8 + severity).
//! Values that are empty or RFC 5424's nil `-` count as absent; journald's
//! `MESSAGE` written as an array of bytes (text that is not UTF-8) is read
//! as text. The shipper's other keys are dropped, as the Windows layouts'
//! are (module `shipper`): the event is the one the raw line gives.
//!
//! The filelog receiver's line is read by the syslog reader itself.
//!
//! # Logsource
//! `linux`, with the service of the file the line would have gone to:
//! `auth` for the `auth` and `authpriv` facilities (a default rsyslog
//! writes them to `auth.log`), otherwise the service the source's name gives
//! (`taxonomy::of_syslog_file`: `auth` for a source named like `auth.log` or
//! `secure`, else `syslog`), as for syslog lines. A filelog record takes its
//! file's name. An audit record in the message is lifted as from a syslog
//! line (module `auditd`).
//!
//! # Time
//! The layout's own time field. A time with no zone is UTC, as everywhere
//! in the JSON reader. A date with no year (`Mar  3 10:15:02`, syslog-ng's
//! default `DATE`, Fluent Bit's kept RFC 3164 `time`, a filelog RFC 3164
//! line) takes its year as a syslog file does (`crate::syslog::YearResolver`)
//! from the record's other time (Fluent Bit's `date`, the OTLP record's
//! `time`, or the JSON reader's usual time fields), and failing that from
//! today's date: put `ISODATE` in a syslog-ng template to avoid guessing.
//!
//! Must not depend on matching.

use std::sync::Arc;

use events::{Event, Map, Meta, SourceId, Value, taxonomy};
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

use crate::syslog::{YearResolver, program_name};
use crate::{LocalClock, TimeZone, classify};

/// How a layout writes a time field.
#[derive(Debug, Clone, Copy)]
enum Stamp {
    /// Text the JSON reader reads (RFC 3339, `YYYY-MM-DD hh:mm:ss`, epoch
    /// seconds or milliseconds), or an RFC 3164 date without a year.
    Text,
    /// Microseconds since the epoch, as a number or a string (journald).
    Micros,
}

/// One JSON layout of a syslog message: the keys it names each part by,
/// the first present one of each list winning.
#[derive(Debug)]
struct Layout {
    /// The syslog tag.
    program: &'static [&'static str],
    /// The message text.
    message: &'static [&'static str],
    host: &'static [&'static str],
    pid: &'static [&'static str],
    msgid: &'static [&'static str],
    facility: &'static [&'static str],
    severity: &'static [&'static str],
    /// The PRI value, facility × 8 + severity.
    pri: &'static [&'static str],
    time: &'static [(&'static str, Stamp)],
}

/// syslog-ng's `format-json` macros.
const SYSLOG_NG: Layout = Layout {
    program: &["PROGRAM"],
    message: &["MESSAGE"],
    host: &["HOST"],
    pid: &["PID"],
    msgid: &["MSGID"],
    facility: &["FACILITY"],
    severity: &["PRIORITY", "LEVEL"],
    pri: &[],
    time: &[("ISODATE", Stamp::Text), ("DATE", Stamp::Text)],
};

/// journald's fields, as `journalctl -o json` writes them and as Vector
/// (`message`, `host`) and Fluent Bit (`Lowercase`, `Strip_Underscores`)
/// forward them.
const JOURNALD: Layout = Layout {
    program: &["SYSLOG_IDENTIFIER", "syslog_identifier"],
    message: &["MESSAGE", "message"],
    host: &["_HOSTNAME", "HOSTNAME", "_hostname", "hostname", "host"],
    pid: &["_PID", "SYSLOG_PID", "PID", "_pid", "syslog_pid"],
    msgid: &[],
    facility: &["SYSLOG_FACILITY", "syslog_facility"],
    severity: &["PRIORITY", "priority"],
    pri: &[],
    time: &[
        ("__REALTIME_TIMESTAMP", Stamp::Micros),
        ("__realtime_timestamp", Stamp::Micros),
        ("_SOURCE_REALTIME_TIMESTAMP", Stamp::Micros),
        ("SOURCE_REALTIME_TIMESTAMP", Stamp::Micros),
        ("_source_realtime_timestamp", Stamp::Micros),
    ],
};

/// The OpenTelemetry Collector's syslog receiver (`proc_id`, `msg_id`,
/// numeric `facility`, `priority`) and Vector's syslog source (`procid`,
/// `msgid`, `facility` and `severity` by name).
const APPNAME: Layout = Layout {
    program: &["appname"],
    message: &["message"],
    host: &["hostname"],
    pid: &["proc_id", "procid"],
    msgid: &["msg_id", "msgid"],
    facility: &["facility"],
    severity: &["severity", "severity_text"],
    pri: &["priority"],
    time: &[("timestamp", Stamp::Text), ("time", Stamp::Text)],
};

/// Fluent Bit's syslog parsers.
const FLUENT_BIT: Layout = Layout {
    program: &["ident"],
    message: &["message"],
    host: &["host"],
    pid: &["pid"],
    msgid: &["msgid"],
    facility: &[],
    severity: &[],
    pri: &["pri"],
    time: &[("time", Stamp::Text), ("date", Stamp::Text)],
};

/// The layouts, tried in this order.
const LAYOUTS: [&Layout; 4] = [&SYSLOG_NG, &JOURNALD, &APPNAME, &FLUENT_BIT];

/// Syslog facility names by number, as the syslog reader writes them.
const FACILITIES: [&str; 24] = [
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv",
    "ftp", "ntp", "audit", "alert", "clockd", "local0", "local1", "local2", "local3", "local4",
    "local5", "local6", "local7",
];

/// Syslog severity names by number, as the syslog reader writes them.
const SEVERITIES: [&str; 8] = [
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
];

/// Other spellings of severities (syslog-ng, OpenTelemetry, rsyslog).
const SEVERITY_ALIASES: &[(&str, &str)] = &[
    ("panic", "emerg"),
    ("emergency", "emerg"),
    ("critical", "crit"),
    ("error", "err"),
    ("warn", "warning"),
    ("informational", "info"),
];

/// The syslog event of a shipper's JSON record, or the record back when it
/// is none of the layouts.
pub(crate) fn syslog_event(
    map: Map<String, Value>,
    source: &SourceId,
    number: u64,
) -> Result<Event, Map<String, Value>> {
    let layout = LAYOUTS.into_iter().find(|l| l.matches(&map));
    if layout.is_none() && !is_filelog(&map) {
        return Err(map);
    }
    // Records the JSON taxonomy knows by shape are never syslog.
    if taxonomy::of_json(&map).product.is_some() {
        return Err(map);
    }
    match layout {
        Some(layout) => Ok(layout.event(&map, source, number)),
        None => filelog_event(&map, source, number).ok_or(map),
    }
}

impl Layout {
    /// True when the record has this layout's program and message, and one
    /// more part of a syslog header.
    fn matches(&self, map: &Map<String, Value>) -> bool {
        first_text(map, self.program).is_some()
            && message(map, self.message).is_some()
            && [self.host, self.pid, self.facility, self.severity, self.pri]
                .iter()
                .any(|keys| keys.iter().any(|k| present(map.get(*k))))
    }

    /// The event of a record that [`Layout::matches`].
    fn event(&self, map: &Map<String, Value>, source: &SourceId, number: u64) -> Event {
        let mut fields = Map::new();
        let mut meta = Meta::new(Arc::clone(source), number);
        if let Some(host) = first_text(map, self.host) {
            fields.insert("host".to_owned(), Value::from(host));
            meta.host = Some(host.to_owned());
        }
        if let Some(tag) = first_text(map, self.program) {
            let program = program_name(tag);
            if program != tag {
                fields.insert("ident".to_owned(), Value::from(tag));
            }
            fields.insert("program".to_owned(), Value::from(program));
        }
        if let Some(pid) = self.pid.iter().find_map(|k| pid(map.get(*k)?)) {
            fields.insert("pid".to_owned(), pid);
        }
        let pri = self.pri.iter().find_map(|k| number_of(map.get(*k)?));
        let facility = self
            .facility
            .iter()
            .find_map(|k| facility(map.get(*k)?))
            .or_else(|| FACILITIES.get(usize::try_from(pri? / 8).ok()?).copied());
        if let Some(facility) = facility {
            fields.insert("facility".to_owned(), Value::from(facility));
        }
        let severity = self
            .severity
            .iter()
            .find_map(|k| severity(map.get(*k)?))
            .or_else(|| {
                pri.filter(|p| *p < 192)
                    .map(|p| SEVERITIES[(p % 8) as usize])
            });
        if let Some(severity) = severity {
            fields.insert("severity".to_owned(), Value::from(severity));
        }
        if let Some(msgid) = first_text(map, self.msgid) {
            fields.insert("msgid".to_owned(), Value::from(msgid));
        }
        if let Some(text) = message(map, self.message) {
            fields.insert("message".to_owned(), Value::from(text));
        }
        meta.timestamp = self.time(map);
        meta.logsource = taxonomy::of_syslog_file(log_file(facility, source));
        crate::auditd::lift_from_syslog(&mut fields, &mut meta);
        Event::new(meta, fields)
    }

    /// The record's time (see the module docs).
    fn time(&self, map: &Map<String, Value>) -> Option<OffsetDateTime> {
        let mut yearless = None;
        for (key, stamp) in self.time {
            let Some(value) = map.get(*key) else {
                continue;
            };
            let time = match stamp {
                Stamp::Micros => micros(value),
                Stamp::Text => classify::parse_time_value(value),
            };
            if time.is_some() {
                return time;
            }
            if yearless.is_none() {
                yearless = value.as_str().and_then(CivilDate::parse);
            }
        }
        let carried = carried_time(map);
        match yearless {
            Some(date) => date.resolve(carried),
            None => carried,
        }
    }
}

/// The time a record carries besides its layout's own: Fluent Bit's
/// `date` key, or the JSON reader's usual time fields (the OTLP record's
/// `time`, Vector's `timestamp`, ...).
fn carried_time(map: &Map<String, Value>) -> Option<OffsetDateTime> {
    map.get("date")
        .and_then(classify::parse_time_value)
        .or_else(|| classify::timestamp(map))
}

/// True for the OpenTelemetry Collector's filelog layout: a string `body`
/// and the file's name or path.
fn is_filelog(map: &Map<String, Value>) -> bool {
    matches!(map.get("body"), Some(Value::String(_)))
        && ["log.file.name", "log.file.path"]
            .iter()
            .any(|k| matches!(map.get(*k), Some(Value::String(_))))
}

/// The syslog reader's event of a filelog record's line, when the line is
/// syslog (it has a date and a program).
fn filelog_event(map: &Map<String, Value>, source: &SourceId, number: u64) -> Option<Event> {
    let line = map.get("body")?.as_str()?.trim_end_matches(['\r', '\n']);
    let file = ["log.file.name", "log.file.path"]
        .iter()
        .find_map(|k| map.get(*k)?.as_str())?;
    let reference = carried_time(map).unwrap_or_else(OffsetDateTime::now_utc);
    let mut years = YearResolver::new(
        reference.year(),
        u32::from(u8::from(reference.month())),
        u32::from(reference.day()),
    );
    let mut clock = LocalClock::new(TimeZone::UTC);
    let event = crate::syslog::parse_syslog_line(
        line,
        &mut years,
        &mut clock,
        source,
        number,
        taxonomy::of_syslog_file(file),
    );
    (event.meta.timestamp.is_some() && event.fields.contains_key("program")).then_some(event)
}

/// The name of the file a message of `facility` from `source` would be
/// written to, whose logsource it takes (see the module docs).
fn log_file<'a>(facility: Option<&str>, source: &'a str) -> &'a str {
    match facility {
        Some("auth" | "authpriv") => "auth.log",
        _ => source,
    }
}

/// True when the value is there and says something.
fn present(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) => !nil(s),
        Some(_) => true,
    }
}

/// Empty text and RFC 5424's nil value.
fn nil(text: &str) -> bool {
    let text = text.trim();
    text.is_empty() || text == "-"
}

/// The first of `keys` that holds text other than nil.
fn first_text<'a>(map: &'a Map<String, Value>, keys: &[&str]) -> Option<&'a str> {
    keys.iter()
        .find_map(|k| map.get(*k)?.as_str().filter(|s| !nil(s)))
}

/// The message: the first of `keys` that is text, or journald's array of
/// bytes for text that is not UTF-8.
fn message(map: &Map<String, Value>, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| match map.get(*k)? {
        Value::String(s) => Some(s.clone()),
        Value::Array(items) => {
            let bytes: Option<Vec<u8>> = items
                .iter()
                .map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
                .collect();
            Some(String::from_utf8_lossy(&bytes?).into_owned())
        }
        _ => None,
    })
}

/// A pid as the syslog reader gives it: a number when numeric, else the
/// text.
fn pid(value: &Value) -> Option<Value> {
    match value {
        Value::Number(n) => Some(match n.as_u64().and_then(|n| i32::try_from(n).ok()) {
            Some(n) => Value::from(n),
            None => Value::from(n.to_string()),
        }),
        Value::String(s) if !nil(s) => {
            let s = s.trim();
            Some(
                match s.parse::<u32>().ok().and_then(|n| i32::try_from(n).ok()) {
                    Some(n) => Value::from(n),
                    None => Value::from(s),
                },
            )
        }
        _ => None,
    }
}

/// A whole non-negative number, or text holding one.
fn number_of(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A facility's name, from a name or a number.
fn facility(value: &Value) -> Option<&'static str> {
    if let Some(n) = number_of(value) {
        return FACILITIES.get(usize::try_from(n).ok()?).copied();
    }
    let name = value.as_str()?.trim();
    FACILITIES
        .iter()
        .find(|f| f.eq_ignore_ascii_case(name))
        .copied()
}

/// A severity's name, from a name or a number.
fn severity(value: &Value) -> Option<&'static str> {
    if let Some(n) = number_of(value) {
        return SEVERITIES.get(usize::try_from(n).ok()?).copied();
    }
    let name = value.as_str()?.trim();
    SEVERITIES
        .iter()
        .find(|s| s.eq_ignore_ascii_case(name))
        .copied()
        .or_else(|| {
            SEVERITY_ALIASES
                .iter()
                .find(|(alias, _)| alias.eq_ignore_ascii_case(name))
                .map(|(_, s)| *s)
        })
}

/// Microseconds since the epoch.
fn micros(value: &Value) -> Option<OffsetDateTime> {
    let micros = number_of(value)?;
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000).ok()
}

/// An RFC 3164 date, which has no year: `Mar  3 10:15:02[.fff]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CivilDate {
    month: Month,
    day: u8,
    time: Time,
}

impl CivilDate {
    fn parse(text: &str) -> Option<Self> {
        let mut parts = text.split_ascii_whitespace();
        let (month, day, clock) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || month.len() != 3 {
            return None;
        }
        const MONTHS: [&str; 12] = [
            "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
        ];
        let month = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(month))?;
        let month = Month::try_from(u8::try_from(month + 1).ok()?).ok()?;
        let day: u8 = day.parse().ok()?;
        let (clock, fraction) = match clock.split_once('.') {
            Some((clock, fraction)) => (clock, Some(fraction)),
            None => (clock, None),
        };
        let mut hms = clock.split(':').map(|p| p.parse::<u8>().ok());
        let (hour, minute, second) = (hms.next()??, hms.next()??, hms.next()??);
        if hms.next().is_some() {
            return None;
        }
        let nanos = match fraction {
            None => 0,
            Some(f) if !f.is_empty() && f.len() <= 9 && f.bytes().all(|b| b.is_ascii_digit()) => {
                f.parse::<u32>().ok()? * 10u32.pow(9 - f.len() as u32)
            }
            Some(_) => return None,
        };
        let time = Time::from_hms_nano(hour, minute, second, nanos).ok()?;
        Some(Self { month, day, time })
    }

    /// The instant, in UTC, with the year a syslog file would give the
    /// date when last written at `reference` (today when there is none).
    fn resolve(self, reference: Option<OffsetDateTime>) -> Option<OffsetDateTime> {
        let reference = reference.unwrap_or_else(OffsetDateTime::now_utc);
        let mut years = YearResolver::new(
            reference.year(),
            u32::from(u8::from(reference.month())),
            u32::from(reference.day()),
        );
        let year = years.resolve(u32::from(u8::from(self.month)), u32::from(self.day));
        let date = Date::from_calendar_date(year, self.month, self.day).ok()?;
        Some(PrimitiveDateTime::new(date, self.time).assume_utc())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::test_util::obj;

    fn src(name: &str) -> SourceId {
        Arc::from(name)
    }

    /// The event of `record`, which must be recognised.
    fn event(record: Value) -> Event {
        event_from(record, "shipper/otlp")
    }

    fn event_from(record: Value, source: &str) -> Event {
        match syslog_event(obj(record.clone()), &src(source), 7) {
            Ok(event) => event,
            Err(_) => panic!("not recognised: {record}"),
        }
    }

    /// The event's time as RFC 3339 UTC.
    fn time(e: &Event) -> String {
        e.meta
            .timestamp
            .expect("a time")
            .to_offset(time::UtcOffset::UTC)
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    }

    /// Product and service of the event's logsource.
    fn logsource(e: &Event) -> (Option<&str>, Option<&str>) {
        (e.meta.logsource.product, e.meta.logsource.service)
    }

    const FAILED: &str = "Failed password for root from 203.0.113.9 port 50022 ssh2";

    #[test]
    fn syslog_ng_format_json() {
        // `$(format-json --scope rfc5424 --scope nv-pairs --key ISODATE)`,
        // as syslog-ng 3.38 writes it for a line of a tailed file.
        let e = event(json!({
            "SOURCE": "s_in", "PROGRAM": "sshd", "PRIORITY": "info", "PID": "2211",
            "MESSAGE": FAILED, "LEGACY_MSGHDR": "sshd[2211]: ",
            "ISODATE": "2024-03-01T10:00:01+01:00", "HOST_FROM": "relay", "HOST": "web1",
            "FILE_NAME": "/var/log/auth.log", "FACILITY": "auth", "DATE": "Mar  1 10:00:01"
        }));
        assert_eq!(
            e.fields,
            obj(json!({
                "host": "web1", "program": "sshd", "pid": 2211, "facility": "auth",
                "severity": "info", "message": FAILED
            }))
        );
        assert_eq!(e.meta.host.as_deref(), Some("web1"));
        assert_eq!(time(&e), "2024-03-01T09:00:01Z");
        assert_eq!(logsource(&e), (Some("linux"), Some("auth")));
        assert_eq!(e.meta.record, 7);
    }

    #[test]
    fn syslog_ng_date_without_a_year_takes_it_from_the_record() {
        // `--scope selected_macros`: no ISODATE; a Fluent Bit-style `date`
        // key added on the way gives the year.
        let e = event(json!({
            "TAGS": ".source.s_in", "SOURCEIP": "127.0.0.1", "SEQNUM": "1",
            "PROGRAM": "sshd(pam_unix)", "PRIORITY": "notice", "PID": "19939",
            "MESSAGE": "authentication failure; rhost=218.188.2.4", "HOST": "combo",
            "FACILITY": "authpriv", "DATE": "Jun 14 15:16:01", "date": "2024-06-14T15:16:02Z"
        }));
        assert_eq!(e.fields["program"], json!("sshd"));
        assert_eq!(e.fields["ident"], json!("sshd(pam_unix)"));
        assert_eq!(e.fields["facility"], json!("authpriv"));
        assert_eq!(time(&e), "2024-06-14T15:16:01Z");
        assert_eq!(logsource(&e), (Some("linux"), Some("auth")));
        // A date just after the reference is from the year before.
        let e = event(json!({
            "PROGRAM": "cron", "MESSAGE": "x", "HOST": "h", "DATE": "Dec 31 23:59:59",
            "date": "2025-01-01T00:00:05Z"
        }));
        assert_eq!(time(&e), "2024-12-31T23:59:59Z");
        assert_eq!(logsource(&e), (Some("linux"), Some("syslog")));
    }

    #[test]
    fn journald_json() {
        // `journalctl -o json`, abridged.
        let e = event(json!({
            "__CURSOR": "s=0b3e;i=1a2b", "__REALTIME_TIMESTAMP": "1709287201123456",
            "__MONOTONIC_TIMESTAMP": "81238712", "_BOOT_ID": "0b3e", "PRIORITY": "6",
            "SYSLOG_FACILITY": "4", "SYSLOG_IDENTIFIER": "sshd", "SYSLOG_PID": "1201",
            "_PID": "1201", "_UID": "0", "_COMM": "sshd", "_EXE": "/usr/sbin/sshd",
            "_SYSTEMD_UNIT": "ssh.service", "_HOSTNAME": "web1", "MESSAGE": FAILED,
            "_SOURCE_REALTIME_TIMESTAMP": "1709287201123000"
        }));
        assert_eq!(
            e.fields,
            obj(json!({
                "host": "web1", "program": "sshd", "pid": 1201, "facility": "auth",
                "severity": "info", "message": FAILED
            }))
        );
        assert_eq!(e.meta.host.as_deref(), Some("web1"));
        assert_eq!(time(&e), "2024-03-01T10:00:01.123456Z");
        assert_eq!(logsource(&e), (Some("linux"), Some("auth")));
        // Vector's journald source: `message`, `host`, `timestamp`.
        let e = event(json!({
            "SYSLOG_IDENTIFIER": "sshd", "_PID": "1201", "message": FAILED, "host": "web2",
            "timestamp": "2024-03-01T10:00:01.5Z", "source_type": "journald"
        }));
        assert_eq!(e.fields["host"], json!("web2"));
        assert_eq!(e.fields["message"], json!(FAILED));
        assert_eq!(time(&e), "2024-03-01T10:00:01.5Z");
        assert_eq!(logsource(&e), (Some("linux"), Some("syslog")));
        // Text that is not UTF-8 is an array of bytes.
        let e = event(json!({
            "SYSLOG_IDENTIFIER": "app", "_HOSTNAME": "h", "MESSAGE": [104, 105, 255],
            "__REALTIME_TIMESTAMP": "0"
        }));
        assert_eq!(e.fields["message"], json!("hi\u{fffd}"));
        assert_eq!(time(&e), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn opentelemetry_syslog_receiver() {
        // Attributes of the receiver's RFC 3164 record, flattened by the
        // OTLP input with the record's `time`, `body` and severity.
        let e = event(json!({
            "time": "2024-03-01T10:00:01Z", "severity_text": "info", "severity_number": 9,
            "body": "<38>Mar  1 10:00:01 web1 sshd[1201]: Failed password for root from 203.0.113.9 port 50022 ssh2",
            "appname": "sshd", "hostname": "web1", "message": FAILED, "proc_id": "1201",
            "priority": 38, "facility": 4, "facility_text": "auth",
            "host.name": "collector-1", "service.name": "otelcol"
        }));
        assert_eq!(
            e.fields,
            obj(json!({
                "host": "web1", "program": "sshd", "pid": 1201, "facility": "auth",
                "severity": "info", "message": FAILED
            }))
        );
        assert_eq!(e.meta.host.as_deref(), Some("web1"));
        assert_eq!(time(&e), "2024-03-01T10:00:01Z");
        assert_eq!(logsource(&e), (Some("linux"), Some("auth")));
        // RFC 5424: msg_id, priority alone.
        let e = event(json!({
            "time": "2015-08-05T21:58:59.693Z", "appname": "SecureAuth0", "hostname": "192.168.2.132",
            "message": "Found the user", "msg_id": "ID52020", "priority": 86, "proc_id": "23108",
            "version": 1
        }));
        assert_eq!(e.fields["msgid"], json!("ID52020"));
        assert_eq!(e.fields["facility"], json!("authpriv"));
        assert_eq!(e.fields["severity"], json!("info"));
        assert_eq!(time(&e), "2015-08-05T21:58:59.693Z");
    }

    #[test]
    fn vector_syslog_source() {
        // The example of Vector's documentation, with an sshd message.
        let e = event_from(
            json!({
                "severity": "notice", "facility": "authpriv", "timestamp": "2024-03-01T10:00:01.119Z",
                "host": "web1", "source_ip": "192.0.2.10", "hostname": "web1", "appname": "sshd",
                "procid": 1201, "msgid": "-", "message": FAILED, "source_type": "syslog"
            }),
            "tests/vector.ndjson",
        );
        assert_eq!(
            e.fields,
            obj(json!({
                "host": "web1", "program": "sshd", "pid": 1201, "facility": "authpriv",
                "severity": "notice", "message": FAILED
            }))
        );
        assert_eq!(time(&e), "2024-03-01T10:00:01.119Z");
        assert_eq!(logsource(&e), (Some("linux"), Some("auth")));
    }

    #[test]
    fn fluent_bit_syslog_parsers() {
        // `syslog-rfc3164` with `Time_Keep On`, forwarded by the `http`
        // output with `Json_date_key date`.
        let e = event(json!({
            "date": 1709287201.0, "pri": "38", "time": "Mar  1 10:00:01", "host": "web1",
            "ident": "sshd", "pid": "1201", "message": FAILED
        }));
        assert_eq!(
            e.fields,
            obj(json!({
                "host": "web1", "program": "sshd", "pid": 1201, "facility": "auth",
                "severity": "info", "message": FAILED
            }))
        );
        assert_eq!(time(&e), "2024-03-01T10:00:01Z");
        assert_eq!(logsource(&e), (Some("linux"), Some("auth")));
        // `syslog-rfc5424`, time dropped (the default): `date` only.
        let e = event_from(
            json!({
                "date": "2024-03-01T10:00:01.000000Z", "pri": "13", "host": "web1", "ident": "app",
                "pid": "-", "msgid": "ID1", "extradata": "-", "message": "hello"
            }),
            "fluent-bit/auth.log",
        );
        assert!(!e.fields.contains_key("pid"));
        assert_eq!(e.fields["facility"], json!("user"));
        assert_eq!(e.fields["severity"], json!("notice"));
        assert_eq!(time(&e), "2024-03-01T10:00:01Z");
        // The source's name decides when the facility does not.
        assert_eq!(logsource(&e), (Some("linux"), Some("auth")));
    }

    #[test]
    fn opentelemetry_filelog_receiver() {
        // No operators: the line as a string body, the file as attributes,
        // the observed time as `time`.
        let e = event(json!({
            "time": "2024-03-01T10:00:02.5Z",
            "body": "Mar  1 10:00:01 web1 sshd[1201]: Failed password for root from 203.0.113.9 port 50022 ssh2",
            "log.file.name": "auth.log"
        }));
        assert_eq!(
            e.fields,
            obj(json!({"host": "web1", "program": "sshd", "pid": 1201, "message": FAILED}))
        );
        assert_eq!(e.meta.host.as_deref(), Some("web1"));
        assert_eq!(time(&e), "2024-03-01T10:00:01Z");
        assert_eq!(logsource(&e), (Some("linux"), Some("auth")));
        // RFC 5424, in a file of another name.
        let e = event(json!({
            "time": "2024-03-01T10:00:02Z",
            "body": "<86>1 2024-03-01T10:00:01.5+02:00 web1 sudo 77 - - pam_unix(sudo:auth): authentication failure",
            "log.file.path": "/var/log/messages"
        }));
        assert_eq!(e.fields["program"], json!("sudo"));
        assert_eq!(time(&e), "2024-03-01T08:00:01.5Z");
        assert_eq!(logsource(&e), (Some("linux"), Some("syslog")));
    }

    #[test]
    fn an_audit_record_in_the_message_is_lifted() {
        let e = event(json!({
            "SYSLOG_IDENTIFIER": "audit", "_HOSTNAME": "h", "__REALTIME_TIMESTAMP": "1700000000000000",
            "MESSAGE": "type=USER_LOGIN msg=audit(1700000000.123:456): pid=1 uid=0 res=failed"
        }));
        assert_eq!(logsource(&e), (Some("linux"), Some("auditd")));
        assert_eq!(e.fields["type"], json!("USER_LOGIN"));
    }

    #[test]
    fn other_json_is_left_alone() {
        for record in [
            // Cloud and SaaS records.
            json!({"eventSource": "signin.amazonaws.com", "eventName": "ConsoleLogin", "eventTime": "2024-03-01T10:00:01Z"}),
            json!({"eventType": "user.session.start", "actor": {"id": "x"}, "displayMessage": "User login", "published": "2024-03-01T10:00:01Z"}),
            json!({"action": "user.failed_login", "actor": "octocat", "@timestamp": 1709287201000u64}),
            // A program and a message but no other part of a header.
            json!({"appname": "web", "message": "started"}),
            json!({"ident": "x", "message": "y", "level": "info"}),
            // A program that is not text, or nil; a message that is not text.
            json!({"PROGRAM": 5, "MESSAGE": "m", "HOST": "h"}),
            json!({"appname": "-", "message": "m", "hostname": "h"}),
            json!({"SYSLOG_IDENTIFIER": "x", "MESSAGE": {"a": 1}, "_HOSTNAME": "h"}),
            json!({"SYSLOG_IDENTIFIER": "x", "MESSAGE": [1, 300], "_HOSTNAME": "h"}),
            // A string body that is not a syslog line, or has no file.
            json!({"body": "GET /index.html 200", "log.file.name": "access.log"}),
            json!({"body": "Mar  1 10:00:01 web1 sshd[1]: x"}),
            // Fluent Bit's tail of a file, unparsed.
            json!({"date": 1709287201.0, "log": "Mar  1 10:00:01 web1 sshd[1]: x"}),
        ] {
            assert_eq!(
                syslog_event(obj(record.clone()), &src("t.json"), 1).map(|e| e.fields),
                Err(obj(record.clone())),
                "{record}"
            );
        }
    }

    #[test]
    fn odd_values_never_panic() {
        let huge = "9".repeat(10_000);
        for record in [
            json!({"PROGRAM": "p", "MESSAGE": "m", "HOST": "h", "PID": huge, "FACILITY": huge, "PRIORITY": huge, "DATE": huge, "ISODATE": huge}),
            json!({"appname": "p", "message": "m", "priority": u64::MAX, "facility": -1, "proc_id": 1.5, "time": -5}),
            json!({"appname": "p", "message": "m", "priority": "191", "proc_id": "99999999999"}),
            json!({"SYSLOG_IDENTIFIER": "p", "MESSAGE": "m", "_PID": "1", "__REALTIME_TIMESTAMP": huge}),
            json!({"SYSLOG_IDENTIFIER": "p", "MESSAGE": "m", "_PID": "1", "__REALTIME_TIMESTAMP": u64::MAX}),
            json!({"ident": "p", "message": "m", "pri": "x", "time": "Feb 30 10:00:00", "date": "2024-01-01T00:00:00Z"}),
            json!({"ident": "p", "message": "m", "pri": "1", "time": "Foo 1 99:00:00"}),
        ] {
            let e = event(record.clone());
            assert_eq!(e.fields["program"], json!("p"), "{record}");
        }
        for body in ["<999999999999>Mar 99 10:00:00 h p: m", "", "\u{0}", &huge] {
            let record = json!({"body": body, "log.file.name": "x", "time": huge});
            let _ = syslog_event(obj(record), &src("t.json"), 1);
        }
        let e = event(
            json!({"appname": "p", "message": "m", "priority": "191", "proc_id": "99999999999"}),
        );
        assert_eq!(e.fields["facility"], json!("local7"));
        assert_eq!(e.fields["severity"], json!("debug"));
        assert_eq!(e.fields["pid"], json!("99999999999"));
        let e = event(
            json!({"ident": "p", "message": "m", "pri": "x", "time": "Feb 30 10:00:00", "date": "2024-01-01T00:00:00Z"}),
        );
        assert_eq!(
            time(&e),
            "2024-01-01T00:00:00Z",
            "an impossible date gives no time of its own"
        );
    }

    #[test]
    fn rfc3164_dates_without_a_year() {
        let d = CivilDate::parse("Mar  1 10:00:01.25").unwrap();
        let reference = OffsetDateTime::from_unix_timestamp(1_717_200_000).unwrap(); // 2024-06-01
        let t = d.resolve(Some(reference)).unwrap();
        assert_eq!(t.unix_timestamp(), 1_709_287_201);
        assert_eq!(t.millisecond(), 250);
        for bad in [
            "",
            "Mar 1",
            "Mar 1 10:00",
            "March 1 10:00:00",
            "Mar 1 10:00:00 2024",
            "Mar 1 10:00:00.x",
        ] {
            assert_eq!(CivilDate::parse(bad), None, "{bad}");
        }
    }
}
