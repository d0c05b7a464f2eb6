//! Web server access logs: the Apache/nginx common and combined log
//! formats, with an optional trailing request time.
//!
//! ```text
//! 203.0.113.7 - alice [17/May/2015:10:05:03 +0000] "GET /a/b.php?id=1 HTTP/1.1" 200 512 "http://ref/" "curl/8.0" 0.123
//! ^c-ip       ^ident  ^time                         ^request                     ^status ^size ^referer   ^agent  ^request time
//! ```
//!
//! # Fields
//! Named as Sigma's `category: webserver` taxonomy (the W3C extended log
//! field names) so SigmaHQ's web rules match as written:
//!
//! | field | from |
//! |---|---|
//! | `c-ip` | the client address (`%h`) |
//! | `cs-username` | the authenticated user (`%u`), absent when `-` |
//! | `request` | the request line (`%r`) exactly as logged, escapes included |
//! | `cs-method` | the request line's first word |
//! | `cs-uri-query` | the **whole** request target, path and query (`/a/b.php?id=1`) |
//! | `cs-uri-stem` | the path alone, before `?` (`/a/b.php`) |
//! | `cs-version` | the protocol (`HTTP/1.1`), when the request line has one |
//! | `sc-status` | the status, a number |
//! | `sc-bytes` | the response size, a number (`-` is 0, as Apache means it) |
//! | `cs-referer`, `cs-user-agent` | the combined format's two quoted fields, absent when `-` |
//! | `request_time` | a trailing request time, in seconds (the name the performance detector reads) |
//! | `time-taken` | the same request time in milliseconds (the W3C field) |
//! | `extra` | any other trailing fields, as logged |
//!
//! `cs-uri-query` holds path and query because that is how SigmaHQ's web
//! rules use it: most look for path fragments in it
//! (`cs-uri-query|contains: '/../vpns/'`, `|endswith: '/mgmt/tm/util/bash'`,
//! `|endswith: 'a.aspx'`) and some for query parts (`cmd=read`,
//! `=C:/Windows`), so only the whole target serves both. The W3C meaning
//! (the query alone) would miss the first kind. `cs-uri-stem` keeps the W3C
//! meaning (the path); a rule that looks for a query part in `cs-uri-stem`
//! or expects `cs-uri-query: null` for a request without a query will not
//! behave as its author meant.
//!
//! Inside quoted fields, Apache's escapes `\"` and `\\` are undone in the
//! `cs-*` fields; other escapes (`\xhh`) stay as written.
//!
//! # Request time
//! A last unquoted field that is a number is the request time: with a
//! decimal point, seconds (nginx `$request_time`, Apache `%{s}T` with
//! fraction); a whole number, microseconds (Apache `%D`); `S/U`, Apache
//! `%T/%D`, whose microseconds are used. A whole-second `%T` alone cannot be
//! told from `%D` and is read as microseconds: log `%D` instead.
//!
//! # Lines that do not parse
//! As in the syslog reader: a line that is not an access-log line is still
//! an event, with the whole line as `message` and no time; a line of binary
//! garbage is a [`ProblemKind::Malformed`] problem. Empty lines are skipped.
//! A line wrapped in an extra pair of double quotes (as some exports write
//! them) is read as the line inside.
//!
//! Logsource: `category: webserver`, no product or service. Times keep the
//! zone written in the line. Lines are independent, so blocks of lines are
//! parsed in parallel; `meta.record` is the line number.
//!
//! Must not depend on matching.

use std::borrow::Cow;
use std::sync::Arc;

use events::{Event, Map, Meta, SourceId, Value, taxonomy};
use time::OffsetDateTime;
use time::macros::format_description;

use crate::lines;
use crate::{FileSummary, ProblemKind, ReadCtx};

/// One parsed access-log line, borrowing from it.
#[derive(Debug)]
struct Line<'a> {
    client: &'a str,
    user: &'a str,
    time: OffsetDateTime,
    request: &'a str,
    status: &'a str,
    size: &'a str,
    referer: Option<Cow<'a, str>>,
    agent: Option<Cow<'a, str>>,
    /// The request time in seconds.
    request_time: Option<f64>,
    extra: Vec<&'a str>,
}

/// True when `line` is an access-log line (used to detect the format).
pub(crate) fn is_access_line(line: &str) -> bool {
    parse(line).is_some()
}

/// Parses one access-log line into an event numbered `line_number`; a line
/// that is not one keeps its text in `message` (see the module docs).
pub fn parse_access_line(line: &str, source: &SourceId, line_number: u64) -> Event {
    let mut meta = Meta::new(Arc::clone(source), line_number);
    meta.logsource = taxonomy::WEBSERVER;
    let mut fields = Map::new();
    let Some(parsed) = parse(line) else {
        fields.insert("message".to_owned(), Value::from(line.trim()));
        return Event::new(meta, fields);
    };
    meta.timestamp = Some(parsed.time);
    fields.insert("c-ip".to_owned(), Value::from(parsed.client));
    if parsed.user != "-" {
        fields.insert("cs-username".to_owned(), Value::from(parsed.user));
    }
    fields.insert("request".to_owned(), Value::from(parsed.request));
    let (method, target, version) = split_request(parsed.request);
    if let Some(method) = method {
        fields.insert("cs-method".to_owned(), Value::from(method));
    }
    if let Some(target) = target {
        let target = unescape(target);
        let stem = target.split_once('?').map_or(&*target, |(stem, _)| stem);
        fields.insert("cs-uri-stem".to_owned(), Value::from(stem));
        fields.insert("cs-uri-query".to_owned(), Value::from(target.as_ref()));
    }
    if let Some(version) = version {
        fields.insert("cs-version".to_owned(), Value::from(version));
    }
    fields.insert("sc-status".to_owned(), number_or_text(parsed.status));
    let bytes = if parsed.size == "-" { "0" } else { parsed.size };
    fields.insert("sc-bytes".to_owned(), number_or_text(bytes));
    if let Some(referer) = parsed.referer.filter(|r| r != "-") {
        fields.insert("cs-referer".to_owned(), Value::from(referer.into_owned()));
    }
    if let Some(agent) = parsed.agent.filter(|a| a != "-") {
        fields.insert("cs-user-agent".to_owned(), Value::from(agent.into_owned()));
    }
    if let Some(seconds) = parsed.request_time {
        fields.insert("request_time".to_owned(), Value::from(seconds));
        fields.insert("time-taken".to_owned(), Value::from(seconds * 1000.0));
    }
    if !parsed.extra.is_empty() {
        fields.insert("extra".to_owned(), Value::from(parsed.extra.join(" ")));
    }
    Event::new(meta, fields)
}

/// A whole number as a JSON number, anything else as text.
fn number_or_text(text: &str) -> Value {
    match text.parse::<u64>() {
        Ok(n) => Value::from(n),
        Err(_) => Value::from(text),
    }
}

/// Parses the shape of the module docs; `None` when the line is not one.
fn parse(line: &str) -> Option<Line<'_>> {
    let mut line = line.trim();
    // An extra pair of quotes around the whole line.
    if let Some(inner) = line.strip_prefix('"') {
        line = inner.strip_suffix('"').unwrap_or(inner);
    }
    let (client, rest) = word(line)?;
    let (_ident, rest) = word(rest)?;
    let (user, rest) = word(rest)?;
    let rest = rest.trim_start_matches(' ').strip_prefix('[')?;
    let (time, rest) = rest.split_once(']')?;
    let time = OffsetDateTime::parse(
        time,
        format_description!(
            "[day]/[month repr:short]/[year]:[hour]:[minute]:[second] [offset_hour sign:mandatory][offset_minute]"
        ),
    )
    .ok()?;
    let (request, closed, rest) = quoted(rest.trim_start())?;
    if !closed {
        return None;
    }
    let (status, rest) = word(rest)?;
    if !(status.len() == 3 && status.bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    let (size, rest) = match word(rest) {
        Some((size, rest)) if size == "-" || size.bytes().all(|b| b.is_ascii_digit()) => {
            (size, rest)
        }
        _ => ("-", rest),
    };
    let mut referer = None;
    let mut agent = None;
    let mut extra = Vec::new();
    let mut last_unquoted = None;
    for (index, token) in Tokens(rest).enumerate() {
        match token {
            Token::Quoted(value, _) if index == 0 => referer = Some(unescape(value)),
            Token::Quoted(value, _) if index == 1 && referer.is_some() => {
                agent = Some(unescape(value))
            }
            Token::Quoted(_, raw) => extra.push(raw),
            Token::Bare(raw) => {
                extra.push(raw);
                last_unquoted = Some((extra.len() - 1, raw));
            }
        }
    }
    let mut request_time = None;
    if let Some((at, raw)) = last_unquoted
        && at + 1 == extra.len()
        && let Some(seconds) = request_seconds(raw)
    {
        request_time = Some(seconds);
        extra.pop();
    }
    Some(Line {
        client,
        user,
        time,
        request,
        status,
        size,
        referer,
        agent,
        request_time,
        extra,
    })
}

/// A request time field in seconds (see the module docs).
fn request_seconds(raw: &str) -> Option<f64> {
    let micros = |text: &str| -> Option<f64> {
        text.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| text.parse::<u64>().ok())
            .flatten()
            .map(|us| us as f64 / 1e6)
    };
    if let Some((seconds, us)) = raw.split_once('/') {
        seconds.parse::<u64>().ok()?;
        return micros(us);
    }
    if raw.contains('.') {
        let seconds: f64 = raw.parse().ok()?;
        return (seconds.is_finite() && seconds >= 0.0).then_some(seconds);
    }
    micros(raw)
}

/// The first space-separated word of `text` (after leading spaces) and
/// what follows it.
fn word(text: &str) -> Option<(&str, &str)> {
    let text = text.trim_start_matches(' ');
    if text.is_empty() {
        return None;
    }
    Some(match text.find(' ') {
        Some(end) => (&text[..end], &text[end..]),
        None => (text, ""),
    })
}

/// A double-quoted field at the start of `text`: its content (escapes not
/// undone), whether it was closed, and what follows. An unclosed field runs
/// to the end of the text.
fn quoted(text: &str) -> Option<(&str, bool, &str)> {
    let body = text.strip_prefix('"')?;
    let bytes = body.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return Some((&body[..i], true, &body[i + 1..])),
            _ => i += 1,
        }
    }
    Some((body, false, ""))
}

/// Undoes `\"` and `\\`; other escapes stay.
fn unescape(text: &str) -> Cow<'_, str> {
    if !text.contains('\\') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some(next @ ('"' | '\\')) => out.push(next),
                Some(next) => {
                    out.push('\\');
                    out.push(next);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// The request line's method, target and protocol. A target may hold
/// spaces (it is everything between the method and a final `HTTP/...`);
/// a request line of one word (`-`, or bytes of another protocol) has
/// none of them.
fn split_request(request: &str) -> (Option<&str>, Option<&str>, Option<&str>) {
    let request = request.trim();
    let Some((method, rest)) = request.split_once(' ') else {
        return (None, None, None);
    };
    let rest = rest.trim();
    match rest.rsplit_once(' ') {
        Some((target, version)) if version.starts_with("HTTP/") => {
            (Some(method), Some(target.trim()), Some(version))
        }
        _ if rest.starts_with("HTTP/") => (Some(method), None, Some(rest)),
        _ => (Some(method), Some(rest), None),
    }
}

/// A field after the size.
enum Token<'a> {
    /// A quoted field: content (escapes not undone) and raw text.
    Quoted(&'a str, &'a str),
    /// A bare word.
    Bare(&'a str),
}

/// Splits the fields after the size.
struct Tokens<'a>(&'a str);

impl<'a> Iterator for Tokens<'a> {
    type Item = Token<'a>;

    fn next(&mut self) -> Option<Token<'a>> {
        let text = self.0.trim_start_matches(' ');
        if text.is_empty() {
            return None;
        }
        if let Some((content, _, rest)) = quoted(text) {
            self.0 = rest;
            let raw = &text[..text.len() - rest.len()];
            return Some(Token::Quoted(content, raw));
        }
        let (bare, rest) = word(text)?;
        self.0 = rest;
        Some(Token::Bare(bare))
    }
}

/// Reads an access-log file, blocks of lines in parallel.
pub(crate) fn read(
    ctx: &ReadCtx<'_>,
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
    lines::read_parallel(ctx, reader, sink, summary, |number, line, batch| {
        if crate::lines::is_binary_line(line) {
            return Err((
                ProblemKind::Malformed,
                "binary data, not a log line".to_owned(),
            ));
        }
        let text = String::from_utf8_lossy(line);
        batch.push(parse_access_line(&text, &ctx.source, number));
        Ok(())
    });
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse_line(line: &str) -> Event {
        parse_access_line(line, &Arc::from("access.log"), 1)
    }

    /// Checks the fields of one line against `want` (a JSON object of the
    /// fields expected, all of them) and returns the event.
    fn check(line: &str, want: Value) -> Event {
        let e = parse_line(line);
        assert_eq!(Value::Object(e.fields.clone()), want, "{line}");
        assert_eq!(e.meta.logsource, events::taxonomy::WEBSERVER);
        e
    }

    #[test]
    fn common_log_format() {
        let e = check(
            r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326"#,
            json!({
                "c-ip": "127.0.0.1",
                "cs-username": "frank",
                "request": "GET /apache_pb.gif HTTP/1.0",
                "cs-method": "GET",
                "cs-uri-query": "/apache_pb.gif",
                "cs-uri-stem": "/apache_pb.gif",
                "cs-version": "HTTP/1.0",
                "sc-status": 200,
                "sc-bytes": 2326,
            }),
        );
        let ts = e.meta.timestamp.expect("a time");
        assert_eq!(ts.offset().whole_hours(), -7, "the zone is kept");
        assert_eq!(ts.unix_timestamp(), 971_211_336);
    }

    #[test]
    fn combined_log_format_with_query_and_escapes() {
        check(
            r#"10.1.2.3 - - [22/Dec/2016:16:36:26 +0300] "GET /search/?q=%f0''\"\" HTTP/1.1" 404 - "-" "sqlmap/1.0 (\"x\")""#,
            json!({
                "c-ip": "10.1.2.3",
                "request": r#"GET /search/?q=%f0''\"\" HTTP/1.1"#,
                "cs-method": "GET",
                "cs-uri-query": r#"/search/?q=%f0''"""#,
                "cs-uri-stem": "/search/",
                "cs-version": "HTTP/1.1",
                "sc-status": 404,
                "sc-bytes": 0,
                "cs-user-agent": r#"sqlmap/1.0 ("x")"#,
            }),
        );
        check(
            r#"83.149.9.216 - - [17/May/2015:10:05:03 +0000] "POST /mgmt/tm/util/bash HTTP/1.1" 200 203 "http://example.com/" "curl/8.0""#,
            json!({
                "c-ip": "83.149.9.216",
                "request": "POST /mgmt/tm/util/bash HTTP/1.1",
                "cs-method": "POST",
                "cs-uri-query": "/mgmt/tm/util/bash",
                "cs-uri-stem": "/mgmt/tm/util/bash",
                "cs-version": "HTTP/1.1",
                "sc-status": 200,
                "sc-bytes": 203,
                "cs-referer": "http://example.com/",
                "cs-user-agent": "curl/8.0",
            }),
        );
    }

    #[test]
    fn a_line_wrapped_in_quotes_is_read_inside() {
        let plain = r#"192.168.4.25 - - [22/Dec/2016:16:30:52 +0300] "POST /index.php HTTP/1.1" 303 382 "http://192.168.4.161/DVWA" "Mozilla/5.0""#;
        let wrapped = format!("\"{plain}\"");
        let a = parse_line(plain);
        let b = parse_line(&wrapped);
        assert_eq!(a.fields, b.fields);
        assert_eq!(b.fields["cs-user-agent"], json!("Mozilla/5.0"));
        assert!(!b.fields.contains_key("extra"));
        assert_eq!(a.meta.timestamp, b.meta.timestamp);
        assert!(b.meta.timestamp.is_some());
    }

    #[test]
    fn trailing_request_times() {
        let head = r#"1.2.3.4 - - [02/Nov/2026:08:00:00 +0000] "GET / HTTP/1.1" 200 10 "-" "ua""#;
        let cases = [
            (format!("{head} 0.250"), Some(0.25)),
            (format!("{head} 250000"), Some(0.25)),
            (format!("{head} 0/250000"), Some(0.25)),
            (format!("{head} \"x-forwarded\" 1.5"), Some(1.5)),
            (head.to_owned(), None),
            (format!("{head} abc"), None),
        ];
        for (line, want) in cases {
            let e = parse_line(&line);
            assert!(e.meta.timestamp.is_some(), "{line}");
            let got = e.fields.get("request_time").and_then(Value::as_f64);
            assert_eq!(got, want, "{line}");
            let ms = e.fields.get("time-taken").and_then(Value::as_f64);
            assert_eq!(ms, want.map(|s| s * 1000.0), "{line}");
        }
        let e = parse_line(&format!("{head} \"x-forwarded\" 1.5"));
        assert_eq!(e.fields["extra"], json!("\"x-forwarded\""));
        // The common format followed by a request time.
        let e =
            parse_line(r#"1.2.3.4 - - [02/Nov/2026:08:00:00 +0000] "GET / HTTP/1.1" 200 10 0.1"#);
        assert_eq!(e.fields["request_time"], json!(0.1));
    }

    #[test]
    fn odd_request_lines_and_truncated_fields() {
        let e = parse_line(r#"1.2.3.4 - - [02/Nov/2026:08:00:00 +0000] "-" 408 -"#);
        assert_eq!(e.fields["request"], json!("-"));
        assert!(!e.fields.contains_key("cs-method"));
        assert_eq!(e.fields["sc-status"], json!(408));
        let e = parse_line(
            r#"1.2.3.4 - - [02/Nov/2026:08:00:00 +0000] "GET /a b HTTP/1.1" 400 0 "-" "Mozilla/5.0 (cut off"#,
        );
        assert_eq!(e.fields["cs-uri-query"], json!("/a b"));
        assert_eq!(e.fields["cs-user-agent"], json!("Mozilla/5.0 (cut off"));
        assert!(e.meta.timestamp.is_some());
    }

    #[test]
    fn malformed_lines_keep_their_text() {
        for line in [
            "just some words",
            r#"1.2.3.4 - - [02/Nov/2026:08:00:00 +0000] GET / 200 1"#,
            r#"1.2.3.4 - - [32/Nov/2026:08:00:00 +0000] "GET / HTTP/1.1" 200 1"#,
            r#"1.2.3.4 - - [02/Nov/2026:08:00:00 +0000] "GET / HTTP/1.1" OK 1"#,
            r#"1.2.3.4 - - [02/Nov/2026:08:00:00 +0000] "GET / HTTP/1.1 200 1"#,
            "\"",
        ] {
            let e = parse_line(line);
            assert_eq!(
                Value::Object(e.fields.clone()),
                json!({"message": line.trim()}),
                "{line}"
            );
            assert!(e.meta.timestamp.is_none(), "{line}");
            assert!(!is_access_line(line), "{line}");
        }
    }
}
