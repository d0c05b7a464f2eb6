//! Syslog files: RFC 3164 (`auth.log`, `secure`, `messages`) and RFC 5424,
//! parsed with `syslog_loose`.
//!
//! Fields of each event: `host`, `program` (the app name; for old PAM-style
//! tags like `sshd(pam_unix)` the part before the parenthesis, with the
//! whole tag kept in `ident`), `pid` (a number when numeric), `message`, and
//! when the line has them `facility`, `severity` and `msgid`. There is no `raw` field: SigmaHQ's Linux keyword
//! rules are written against the message, and the header's parts are
//! fields of their own. A line that is not syslog is still an event, with
//! the whole line as `message`; a line of binary garbage is a
//! [`ProblemKind::Malformed`] problem instead. Empty lines are skipped.
//!
//! Logsource: product `linux`, service `auth` for files named like
//! `auth.log` or `secure` (also rotated: `auth.log.1`, `secure-20240101`),
//! `syslog` otherwise. `detect` refines by `program` (for example `sshd`).
//! A message that is a Linux audit record (program `audit`, `auditd`,
//! `audispd`, or a message like `type=... msg=audit(...)`) is split into
//! the record's fields instead, with service `auditd` (module `auditd`).
//!
//! # The year of RFC 3164 lines
//! RFC 3164 timestamps have no year. A [`YearResolver`] supplies it from a
//! reference date (the IO layer passes the file's modification date; the
//! parser itself reads no clock), with these rules:
//! 1. the first dated line gets the reference year, or the year before when
//!    its month and day fall more than a day after the reference date (a
//!    log cannot be written after its file was last modified);
//! 2. each following line keeps the current year, unless its month is more
//!    than six months before the previous line's month (December then
//!    January): then the year goes up by one.
//!
//! Lines are read in order (the year depends on the lines before), in
//! blocks handed to the sink one at a time. Times without a zone are UTC.

use std::cell::RefCell;
use std::sync::Arc;

use chrono::FixedOffset;
use events::{Event, LogSource, Map, Meta, SourceId, Value, taxonomy};
use syslog_loose::{ProcId, Protocol, Variant};
use time::OffsetDateTime;

use crate::lines::{LineBlocks, LineItem, numbered_lines};
use crate::{FileSummary, LocalClock, ProblemKind, ReadCtx, TimeZone};

/// Supplies the missing year of RFC 3164 timestamps (see the module docs).
#[derive(Debug, Clone)]
pub struct YearResolver {
    reference: (i32, u32, u32),
    current: Option<(i32, u32)>,
}

impl YearResolver {
    /// A resolver for a file last written on `year`-`month`-`day`.
    pub fn new(year: i32, month: u32, day: u32) -> Self {
        Self {
            reference: (year, month, day),
            current: None,
        }
    }

    /// The year of a line dated `month` (1-12) and `day`.
    pub fn resolve(&mut self, month: u32, day: u32) -> i32 {
        let year = match self.current {
            None => {
                let (year, ref_month, ref_day) = self.reference;
                if (month, day) > (ref_month, ref_day + 1) {
                    year - 1
                } else {
                    year
                }
            }
            Some((year, last_month)) if month + 6 < last_month => year + 1,
            Some((year, _)) => year,
        };
        self.current = Some((year, month));
        year
    }
}

/// Reads a syslog file line by line.
pub(crate) fn read(
    ctx: &ReadCtx<'_>,
    mtime: Option<std::time::SystemTime>,
    zone: &TimeZone,
    sink: &(dyn Fn(Vec<Event>) + Sync),
    summary: &mut FileSummary,
) {
    let (reader, len) = match ctx.open() {
        Ok(opened) => opened,
        Err(error) => {
            summary
                .problems
                .push(ctx.problem("", ProblemKind::Unreadable, error.to_string()));
            return;
        }
    };
    summary.bytes = len;
    let reference = OffsetDateTime::from(mtime.unwrap_or_else(std::time::SystemTime::now));
    let mut years = YearResolver::new(
        reference.year(),
        u32::from(u8::from(reference.month())),
        u32::from(reference.day()),
    );
    let mut clock = LocalClock::new(zone.clone());
    let logsource = taxonomy::of_syslog_file(ctx.name);
    for item in LineBlocks::new(reader) {
        match item {
            LineItem::Block { first_line, data } => {
                let mut batch = Vec::new();
                for (number, line) in numbered_lines(first_line, &data) {
                    if line.trim_ascii().is_empty() {
                        continue;
                    }
                    if crate::lines::is_binary_line(line) {
                        summary.problems.push(ctx.problem(
                            format!("line {number}"),
                            ProblemKind::Malformed,
                            "binary data, not a log line",
                        ));
                        continue;
                    }
                    let text = String::from_utf8_lossy(line);
                    batch.push(parse_syslog_line(
                        &text,
                        &mut years,
                        &mut clock,
                        &ctx.source,
                        number,
                        logsource,
                    ));
                }
                if !batch.is_empty() {
                    summary.events += batch.len() as u64;
                    sink(batch);
                }
            }
            LineItem::Oversized { line, len } => summary.problems.push(ctx.problem(
                format!("line {line}"),
                ProblemKind::Oversized,
                format!(
                    "line of {len} bytes is over the {} byte limit; skipped",
                    crate::MAX_LINE_LEN
                ),
            )),
            LineItem::Failed { line, error } => summary.problems.push(ctx.problem(
                format!("line {line}"),
                ProblemKind::Unreadable,
                error.to_string(),
            )),
        }
    }
}

/// True when the line's date is an RFC 3164 one (after the optional
/// `<PRI>`, it starts with a month name), which carries no zone.
fn civil_date(line: &str) -> bool {
    let rest = line.trim_start();
    let rest = match rest.strip_prefix('<').and_then(|r| r.split_once('>')) {
        Some((pri, after)) if pri.bytes().all(|b| b.is_ascii_digit()) => after.trim_start(),
        _ => rest,
    };
    rest.as_bytes().first().is_some_and(u8::is_ascii_alphabetic)
}

/// The program of a syslog tag: old PAM-style tags name the module in
/// parentheses (`sshd(pam_unix)`), and the program is what comes before.
pub(crate) fn program_name(tag: &str) -> &str {
    match tag.split_once('(') {
        Some((program, rest)) if !program.is_empty() && rest.ends_with(')') => program,
        _ => tag,
    }
}

/// Parses one syslog line into an event numbered `line_number`, taking the
/// year of RFC 3164 dates from `years` and their zone from `clock`.
pub fn parse_syslog_line(
    line: &str,
    years: &mut YearResolver,
    clock: &mut LocalClock,
    source: &SourceId,
    line_number: u64,
    logsource: LogSource,
) -> Event {
    let cell = RefCell::new(std::mem::replace(years, YearResolver::new(0, 1, 1)));
    let get_year =
        |(month, day, _, _, _): (u32, u32, u32, u32, u32)| cell.borrow_mut().resolve(month, day);
    let message = syslog_loose::parse_message_with_year_tz(
        line,
        get_year,
        FixedOffset::east_opt(0),
        Variant::Either,
    );
    *years = cell.into_inner();

    let mut fields = Map::new();
    let mut meta = Meta::new(Arc::clone(source), line_number);
    meta.logsource = logsource;
    let parsed =
        message.timestamp.is_some() || message.hostname.is_some() || message.appname.is_some();
    if !parsed {
        fields.insert("message".to_owned(), Value::from(line.trim()));
        crate::auditd::lift_from_syslog(&mut fields, &mut meta);
        return Event::new(meta, fields);
    }
    if let Some(host) = message.hostname {
        fields.insert("host".to_owned(), Value::from(host));
        meta.host = Some(host.to_owned());
    }
    if let Some(tag) = message.appname {
        let program = program_name(tag);
        if program != tag {
            fields.insert("ident".to_owned(), Value::from(tag));
        }
        fields.insert("program".to_owned(), Value::from(program));
    }
    match message.procid {
        Some(ProcId::PID(pid)) => {
            fields.insert("pid".to_owned(), Value::from(pid));
        }
        Some(ProcId::Name(name)) => {
            fields.insert("pid".to_owned(), Value::from(name));
        }
        None => {}
    }
    if let Some(facility) = message.facility {
        fields.insert("facility".to_owned(), Value::from(facility.as_str()));
    }
    if let Some(severity) = message.severity {
        fields.insert("severity".to_owned(), Value::from(severity.as_str()));
    }
    if let Some(msgid) = message.msgid {
        fields.insert("msgid".to_owned(), Value::from(msgid));
    }
    fields.insert("message".to_owned(), Value::from(message.msg));
    meta.timestamp = message.timestamp.and_then(|t| {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(t.timestamp_nanos_opt()?)).ok()
    });
    // An RFC 3164 date (`Mmm dd hh:mm:ss`, with or without a year) carries
    // no zone: it was read as UTC above, and is now read in the clock's
    // zone. RFC 3339 dates keep the offset they state.
    if message.protocol == Protocol::RFC3164 && civil_date(line) {
        meta.timestamp = meta.timestamp.map(|t| clock.instant(t));
    }
    crate::auditd::lift_from_syslog(&mut fields, &mut meta);
    Event::new(meta, fields)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(line: &str, years: &mut YearResolver) -> Event {
        parse_syslog_line(
            line,
            years,
            &mut LocalClock::new(TimeZone::UTC),
            &Arc::from("auth.log"),
            1,
            LogSource::service("linux", "auth"),
        )
    }

    /// Times of lines read in `zone`, in file order, as RFC 3339 UTC.
    fn times_in(zone: &str, lines: &[&str]) -> Vec<String> {
        let mut years = YearResolver::new(2024, 12, 31);
        let mut clock = LocalClock::new(TimeZone::parse(zone).unwrap());
        lines
            .iter()
            .enumerate()
            .map(|(i, line)| {
                let e = parse_syslog_line(
                    line,
                    &mut years,
                    &mut clock,
                    &Arc::from("auth.log"),
                    i as u64 + 1,
                    LogSource::service("linux", "auth"),
                );
                let t = e.meta.timestamp.expect("a time");
                t.format(&time::format_description::well_known::Rfc3339)
                    .unwrap()
            })
            .collect()
    }

    #[test]
    fn rfc3164_lines_are_read_in_the_given_zone_across_daylight_saving() {
        // New York, 2024: EDT (UTC-4) until 2024-11-03 02:00, when the
        // clock goes back to 01:00 EST (UTC-5). Expected instants written
        // out by hand.
        let lines = [
            "Nov  3 00:30:00 web1 sshd[1]: a",
            "Nov  3 01:30:00 web1 sshd[1]: b",
            "Nov  3 01:10:00 web1 sshd[1]: c",
            "Nov  3 02:30:00 web1 sshd[1]: d",
            "Jul  4 12:00:00 web1 sshd[1]: e",
        ];
        assert_eq!(
            times_in("America/New_York", &lines[..4]),
            [
                "2024-11-03T04:30:00Z",
                "2024-11-03T05:30:00Z",
                "2024-11-03T06:10:00Z",
                "2024-11-03T07:30:00Z",
            ]
        );
        assert_eq!(
            times_in("America/New_York", &lines[4..]),
            ["2024-07-04T16:00:00Z"]
        );
        assert_eq!(times_in("UTC", &lines[4..]), ["2024-07-04T12:00:00Z"]);
    }

    #[test]
    fn rfc5424_and_iso_dates_keep_their_stated_offset() {
        let lines = [
            "<34>1 2024-07-04T12:00:00+02:00 web1 app - - - hi",
            "2024-07-04T12:00:00Z web1 app: hi",
        ];
        assert_eq!(
            times_in("America/New_York", &lines),
            ["2024-07-04T10:00:00Z", "2024-07-04T12:00:00Z"]
        );
    }

    #[test]
    fn rfc3164_sshd_line() {
        let mut years = YearResolver::new(2024, 6, 1);
        let e = parse(
            "Mar  3 10:15:02 web1 sshd[2211]: Failed password for root from 10.0.0.5 port 4242 ssh2",
            &mut years,
        );
        assert_eq!(e.fields["host"], json!("web1"));
        assert_eq!(e.fields["program"], json!("sshd"));
        assert_eq!(e.fields["pid"], json!(2211));
        assert_eq!(
            e.fields["message"],
            json!("Failed password for root from 10.0.0.5 port 4242 ssh2")
        );
        assert_eq!(e.meta.host.as_deref(), Some("web1"));
        let ts = e.meta.timestamp.expect("a time");
        assert_eq!(
            (ts.year(), u8::from(ts.month()), ts.day(), ts.hour()),
            (2024, 3, 3, 10)
        );
    }

    #[test]
    fn rfc5424_line() {
        let mut years = YearResolver::new(2000, 1, 1);
        let e = parse(
            "<34>1 2023-10-11T22:14:15.003Z mymachine.example.com su 77 ID47 - 'su root' failed",
            &mut years,
        );
        assert_eq!(e.fields["host"], json!("mymachine.example.com"));
        assert_eq!(e.fields["program"], json!("su"));
        assert_eq!(e.fields["pid"], json!(77));
        assert_eq!(e.fields["facility"], json!("auth"));
        assert_eq!(e.fields["severity"], json!("crit"));
        assert_eq!(e.fields["msgid"], json!("ID47"));
        assert_eq!(e.fields["message"], json!("'su root' failed"));
        assert_eq!(e.meta.timestamp.expect("a time").year(), 2023);
    }

    #[test]
    fn pam_style_tags_name_the_program() {
        let mut years = YearResolver::new(2024, 12, 31);
        let e = parse(
            "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; rhost=218.188.2.4",
            &mut years,
        );
        assert_eq!(e.fields["program"], json!("sshd"));
        assert_eq!(e.fields["ident"], json!("sshd(pam_unix)"));
        assert_eq!(e.fields["pid"], json!(19939));
        assert_eq!(
            e.fields["message"],
            json!("authentication failure; rhost=218.188.2.4")
        );
        let e = parse(
            "Jul 10 04:03:01 combo su(pam_unix)[10735]: session opened for user cyrus by (uid=0)",
            &mut years,
        );
        assert_eq!(e.fields["program"], json!("su"));
        assert_eq!(e.fields["pid"], json!(10735));
        assert_eq!(e.meta.host.as_deref(), Some("combo"));
        assert_eq!(program_name("(weird)"), "(weird)");
        assert_eq!(program_name("sshd"), "sshd");
    }

    #[test]
    fn text_that_is_not_syslog_keeps_the_line() {
        let mut years = YearResolver::new(2024, 1, 1);
        let e = parse("just some words", &mut years);
        assert_eq!(e.fields.get("message"), Some(&json!("just some words")));
    }

    #[test]
    fn year_rolls_over_from_december_to_january() {
        // File last written on 5 January 2025: December lines are 2024.
        let mut years = YearResolver::new(2025, 1, 5);
        let dates = [(12, 30), (12, 31), (1, 1), (1, 4), (1, 4)];
        let got: Vec<i32> = dates.iter().map(|(m, d)| years.resolve(*m, *d)).collect();
        assert_eq!(got, [2024, 2024, 2025, 2025, 2025]);

        // Small steps back (out-of-order lines) do not change the year.
        let mut years = YearResolver::new(2025, 8, 1);
        let got: Vec<i32> = [(5, 1), (4, 30), (6, 1)]
            .iter()
            .map(|(m, d)| years.resolve(*m, *d))
            .collect();
        assert_eq!(got, [2025, 2025, 2025]);

        // Through the parser: the event times follow.
        let mut years = YearResolver::new(2025, 1, 5);
        let a = parse("Dec 31 23:59:59 h cron[1]: a", &mut years);
        let b = parse("Jan  1 00:00:01 h cron[1]: b", &mut years);
        assert_eq!(a.meta.timestamp.expect("time").year(), 2024);
        assert_eq!(b.meta.timestamp.expect("time").year(), 2025);
    }
}
