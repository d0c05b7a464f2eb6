//! Linux audit records (`/var/log/audit/audit.log`), raw or carried inside
//! syslog and OMS/auoms JSON, split into the fields SigmaHQ's
//! `product: linux, service: auditd` rules name.
//!
//! ```text
//! node=web1 type=EXECVE msg=audit(1700000000.123:456): argc=3 a0="dd" a1=69663D2F6465762F7A65726F a2="bs=1"
//! ^node     ^type            ^time          ^serial   ^one field per key=value pair
//! ```
//!
//! # Fields
//! - `type` as written (`EXECVE`, `SYSCALL`, `PATH`, `USER_LOGIN`, ...);
//! - `serial`, the number after the colon in `audit(TIME:SERIAL)`, which
//!   the records of one audit event share; TIME (epoch seconds with
//!   milliseconds) is the event's time and is not a field;
//! - `node` when the record starts with `node=NAME` (also the event's host);
//! - every `key=value` pair under its own key (`argc`, `a0`..`aN`, `exe`,
//!   `comm`, `key`, `name`, `nametype`, `euid`, ...), values as text.
//!
//! Values: `"quoted"` and `'quoted'` values lose their quotes (auditd
//! writes no escapes inside them: a value that needs escaping is
//! hex-encoded instead). An unquoted value of a field auditd hex-encodes
//! when it holds spaces, quotes or control characters ([`ESCAPED`], plus
//! `a0`..`aN` of `EXECVE` records) is decoded when it is an even number of
//! upper-case hex digits: `a0=2F62696E2F7368` is `/bin/sh`. In `proctitle`
//! the NULs between arguments become spaces; in `key` the `\x01` between
//! several keys becomes a comma. Other hex values (the register values
//! `a0`..`a3` of `SYSCALL` records, `saddr`) stay as written. Long `EXECVE`
//! arguments split into `aN[0]`, `aN[1]`, ... are joined back into `aN`.
//!
//! User-space records carry a second, single-quoted `msg='op=... res=...'`:
//! its pairs are fields too (`unit` of `SERVICE_STOP`, `acct`, `res`, ...).
//! Words that are not `key=value` continue the unquoted value before them
//! (auoms writes `proctitle` unquoted with its spaces; shadow-utils writes
//! `op=adding user`); words with no such value before them (the
//! `avc:  denied  { read } for` of an `AVC` record) are joined into `msg`.
//! When a key comes twice, the first value is kept.
//!
//! The enriched part auditd appends after a `\x1d` (GS) byte
//! (`ARCH=x86_64 SYSCALL=execve AUID="alice" UID="root" ...`, with
//! `log_format = ENRICHED`) is split the same way; GS counts as a space, as
//! does `#035`, its form after rsyslog's control-character escaping.
//!
//! One event per record: the records of one audit event (`SYSCALL`,
//! `EXECVE`, `CWD`, `PATH`, `PROCTITLE`) are not joined, which is how
//! SigmaHQ's auditd rules are written (each tests one `type`).
//!
//! # Where records come from
//! - [`crate::Format::Auditd`] files: one record per line. A line that is
//!   not a record is a [`ProblemKind::Malformed`] problem at its line;
//!   `ausearch`'s `----` and `time->...` separator lines are skipped.
//! - syslog lines whose program is `audit`, `auditd` or `audispd`, or
//!   whose message starts with `type=`/`node=` or holds `msg=audit(`
//!   (module `syslog`): the record's fields replace `message`, the syslog
//!   header's fields stay unless the record has the same key (its `pid`
//!   wins), and its time replaces the header's.
//! - JSON records with a `SyslogMessage` that starts with `type=` (OMS and
//!   auoms, module `json`): the record's fields are added to the JSON ones.
//!
//! A message that names an audit program but is not a record (`auditd
//! start, ver 3.1`) stays a plain syslog event.
//!
//! Logsource: `product: linux, service: auditd`; `detect` adds
//! `category: process_creation` for `EXECVE` records.
//!
//! Pure apart from [`read`]; never panics on input.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use events::{Event, Map, Meta, SourceId, Value, taxonomy};
use time::OffsetDateTime;

use crate::lines;
use crate::{FileSummary, ProblemKind, ReadCtx};

/// Fields whose unquoted values auditd writes hex-encoded (the escaped
/// fields of auparse's field table), besides `EXECVE`'s `aN`.
pub const ESCAPED: &[&str] = &[
    "path",
    "comm",
    "exe",
    "file",
    "name",
    "watch",
    "cwd",
    "cmd",
    "acct",
    "dir",
    "key",
    "vm",
    "old-chardev",
    "new-chardev",
    "old-disk",
    "new-disk",
    "old-fs",
    "new-fs",
    "old-net",
    "new-net",
    "device",
    "cgroup",
    "apparmor",
    "operation",
    "denied_mask",
    "info",
    "profile",
    "requested_mask",
    "old-rng",
    "new-rng",
    "ocomm",
    "proctitle",
    "grp",
    "new_group",
    "invalid_context",
    "sw",
    "root_dir",
    "data",
];

/// Programs whose syslog messages are audit records.
const AUDIT_PROGRAMS: &[&str] = &["audit", "auditd", "audispd"];

/// One audit record, split.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    /// The record's time, from `audit(TIME:SERIAL)`.
    pub time: OffsetDateTime,
    /// The `node=` it came from, when it names one.
    pub node: Option<String>,
    /// `type`, `serial`, `node` and every pair of the record.
    pub fields: Map<String, Value>,
}

/// Parses one audit record (`[node=N ]type=T msg=audit(TIME:SERIAL): ...`),
/// or says why it is not one.
pub fn parse_audit_record(text: &str) -> Result<AuditRecord, String> {
    let text = text.trim_matches(|c: char| c.is_whitespace() || c == '\x1d');
    let (node, rest) = match text.strip_prefix("node=") {
        Some(rest) => {
            let (node, rest) = split_word(rest);
            (Some(node), rest.trim_start_matches(is_separator))
        }
        None => (None, text),
    };
    let Some(rest) = rest.strip_prefix("type=") else {
        return Err(if node.is_some() {
            "no type= after node=".to_owned()
        } else {
            "not an audit record: it does not start with type= or node=".to_owned()
        });
    };
    let (kind, rest) = split_word(rest);
    if kind.is_empty() {
        return Err("empty type=".to_owned());
    }
    let rest = rest.trim_start();
    let Some(rest) = rest
        .strip_prefix("msg=audit(")
        .or_else(|| rest.strip_prefix("audit("))
    else {
        return Err(format!("type={kind} without msg=audit(TIME:SERIAL)"));
    };
    let Some((stamp, body)) = rest.split_once(')') else {
        return Err("msg=audit( is not closed".to_owned());
    };
    let (time, serial) = parse_stamp(stamp)?;
    let Some(body) = body.strip_prefix(':') else {
        return Err(format!("no ':' after audit({stamp})"));
    };

    let mut fields = Map::new();
    if let Some(node) = node {
        fields.insert("node".to_owned(), Value::from(node));
    }
    fields.insert("type".to_owned(), Value::from(kind));
    fields.insert("serial".to_owned(), Value::from(serial));
    let execve = kind == "EXECVE";
    let mut words = Vec::new();
    let mut chunks: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for pair in split_pairs(body, &mut words) {
        if let (Quote::Single, "msg", Cow::Borrowed(inner)) = (pair.quote, pair.key, &pair.value) {
            // A user-space record's inner message: its pairs are fields.
            for inner in split_pairs(inner, &mut words) {
                add_pair(&mut fields, &mut chunks, inner, execve);
            }
            continue;
        }
        add_pair(&mut fields, &mut chunks, pair, execve);
    }
    for (key, bytes) in chunks {
        fields
            .entry(key)
            .or_insert_with(|| Value::from(String::from_utf8_lossy(&bytes).into_owned()));
    }
    if !words.is_empty() {
        fields
            .entry("msg".to_owned())
            .or_insert_with(|| Value::from(words.join(" ")));
    }
    Ok(AuditRecord {
        time,
        node: node.map(str::to_owned),
        fields,
    })
}

/// Parses one line of an audit log into an event numbered `line_number`.
pub fn parse_audit_line(line: &str, source: &SourceId, line_number: u64) -> Result<Event, String> {
    let record = parse_audit_record(line)?;
    let mut meta = Meta::new(Arc::clone(source), line_number);
    meta.logsource = taxonomy::AUDITD;
    meta.timestamp = Some(record.time);
    meta.host = record.node;
    Ok(Event::new(meta, record.fields))
}

/// True when `line` is an audit record or an `ausearch` separator (used
/// to detect the format).
pub(crate) fn is_audit_line(line: &str) -> bool {
    is_ausearch_separator(line) || parse_audit_record(line).is_ok()
}

/// True for the separator lines `ausearch` prints between events.
fn is_ausearch_separator(line: &str) -> bool {
    let line = line.trim();
    line == "----" || line.starts_with("time->")
}

/// Reads an audit log, blocks of lines in parallel.
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
                "binary data, not an audit record".to_owned(),
            ));
        }
        let text = String::from_utf8_lossy(line);
        if is_ausearch_separator(&text) {
            return Ok(());
        }
        let event = parse_audit_line(&text, &ctx.source, number)
            .map_err(|message| (ProblemKind::Malformed, message))?;
        batch.push(event);
        Ok(())
    });
}

/// True when a syslog message (of `program`) should be an audit record.
fn carried_in_syslog(program: Option<&str>, message: &str) -> bool {
    program.is_some_and(|p| AUDIT_PROGRAMS.contains(&p))
        || message.starts_with("type=")
        || message.starts_with("node=")
        || message.contains("msg=audit(")
}

/// The part of a syslog message where its audit record starts: the
/// message, or from the first `node=` or `type=` in it.
fn record_start(message: &str) -> &str {
    if message.starts_with("type=") || message.starts_with("node=") {
        return message;
    }
    match [message.find("node="), message.find("type=")]
        .into_iter()
        .flatten()
        .min()
    {
        Some(start) => &message[start..],
        None => message,
    }
}

/// Turns a syslog event's fields into the audit record its message holds,
/// when it holds one (see the module docs); otherwise leaves them alone.
pub(crate) fn lift_from_syslog(fields: &mut Map<String, Value>, meta: &mut Meta) {
    let program = fields.get("program").and_then(Value::as_str);
    let Some(message) = fields.get("message").and_then(Value::as_str) else {
        return;
    };
    if !carried_in_syslog(program, message) {
        return;
    }
    let Ok(record) = parse_audit_record(record_start(message)) else {
        return;
    };
    fields.remove("message");
    fields.extend(record.fields);
    meta.logsource = taxonomy::AUDITD;
    meta.timestamp = Some(record.time);
    if record.node.is_some() {
        meta.host = record.node;
    }
}

/// Adds the fields of the audit record in a JSON record's `SyslogMessage`
/// (OMS and auoms), when it starts with `type=`; the record's time becomes
/// the event's.
pub(crate) fn lift_from_json(fields: &mut Map<String, Value>, meta: &mut Meta) {
    let Some(message) = fields.get("SyslogMessage").and_then(Value::as_str) else {
        return;
    };
    if !message.starts_with("type=") {
        return;
    }
    let Ok(record) = parse_audit_record(message) else {
        return;
    };
    fields.extend(record.fields);
    meta.timestamp = Some(record.time);
}

/// Parses `TIME:SERIAL` (`1700000000.123:456`).
fn parse_stamp(stamp: &str) -> Result<(OffsetDateTime, u64), String> {
    let bad = || {
        if stamp.contains('/') {
            format!(
                "audit({stamp}) has an interpreted time (ausearch -i); read raw records (ausearch --raw)"
            )
        } else {
            format!("audit({stamp}) is not audit(SECONDS.MILLIS:SERIAL)")
        }
    };
    let (time, serial) = stamp.split_once(':').ok_or_else(bad)?;
    let serial: u64 = digits(serial).ok_or_else(bad)?;
    let (seconds, fraction) = time.split_once('.').unwrap_or((time, ""));
    let seconds: i64 = digits(seconds).ok_or_else(bad)?;
    let mut nanos: i128 = 0;
    if !fraction.is_empty() {
        let fraction = &fraction[..fraction.len().min(9)];
        let value: i128 = digits(fraction).ok_or_else(bad)?;
        nanos = value * 10i128.pow(9 - fraction.len() as u32);
    }
    let total = i128::from(seconds) * 1_000_000_000 + nanos;
    let time = OffsetDateTime::from_unix_timestamp_nanos(total)
        .map_err(|_| format!("audit({stamp}): time out of range"))?;
    Ok((time, serial))
}

/// A number written in ASCII digits only (no sign, no spaces).
fn digits<T: std::str::FromStr>(text: &str) -> Option<T> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Splits off the first word (up to whitespace or GS).
fn split_word(text: &str) -> (&str, &str) {
    match text.find(is_separator) {
        Some(end) => (&text[..end], &text[end..]),
        None => (text, ""),
    }
}

/// Whitespace, or the GS byte before enriched fields.
fn is_separator(c: char) -> bool {
    c.is_whitespace() || c == '\x1d'
}

/// How a value was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quote {
    None,
    Double,
    Single,
}

/// One `key=value` pair as written (quotes removed).
#[derive(Debug)]
struct Pair<'a> {
    key: &'a str,
    value: Cow<'a, str>,
    quote: Quote,
}

/// True for a key auditd writes: a letter, then letters, digits, `_`,
/// `-`, or the brackets of `a1[0]`.
fn is_key(key: &str) -> bool {
    let mut chars = key.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '[' | ']'))
}

/// Splits a record's body into pairs; words that are no pair continue the
/// unquoted value before them, or else go to `words`.
fn split_pairs<'a>(body: &'a str, words: &mut Vec<&'a str>) -> Vec<Pair<'a>> {
    let mut pairs: Vec<Pair<'a>> = Vec::new();
    let mut rest = body;
    loop {
        rest = skip_separators(rest);
        if rest.is_empty() {
            break;
        }
        // A key has no spaces: the `=` is in the first word or nowhere.
        let end = value_end(rest);
        let word = &rest[..end];
        if let Some(eq) = word.find('=')
            && is_key(&word[..eq])
        {
            let (value, quote, tail) = take_value(&rest[eq + 1..]);
            pairs.push(Pair {
                key: &word[..eq],
                value: Cow::Borrowed(value),
                quote,
            });
            rest = tail;
            continue;
        }
        rest = &rest[end..];
        match pairs.last_mut() {
            Some(last) if last.quote == Quote::None => {
                let value = last.value.to_mut();
                value.push(' ');
                value.push_str(word);
            }
            _ => words.push(word),
        }
    }
    pairs
}

/// Skips spaces, GS bytes and rsyslog's `#035` escape of GS.
fn skip_separators(mut text: &str) -> &str {
    loop {
        let trimmed = text.trim_start_matches(is_separator);
        match trimmed.strip_prefix("#035") {
            Some(after) => text = after,
            None => return trimmed,
        }
    }
}

/// Where an unquoted value ends: at a separator or `#035`.
fn value_end(text: &str) -> usize {
    let end = text.find(is_separator).unwrap_or(text.len());
    text[..end].find("#035").unwrap_or(end)
}

/// Takes one value off the start of `text`: quoted up to its closing quote,
/// else up to the next separator. Returns the value, its quoting and the
/// rest.
///
/// The closing quote is the first one followed by a separator (or the
/// end): auditd never writes a quote inside a quoted value, but auoms does
/// (`cmdline="bash -c "{echo,...}|{bash,-i}""`). Failing that, the last
/// quote closes; with no quote at all (a line cut short) the value runs to
/// the end.
fn take_value(text: &str) -> (&str, Quote, &str) {
    for (mark, quote) in [('"', Quote::Double), ('\'', Quote::Single)] {
        let Some(inner) = text.strip_prefix(mark) else {
            continue;
        };
        let closing = inner
            .match_indices(mark)
            .map(|(i, _)| i)
            .find(|&i| {
                let after = &inner[i + 1..];
                after.is_empty() || after.starts_with(is_separator) || after.starts_with("#035")
            })
            .or_else(|| inner.rfind(mark));
        return match closing {
            Some(end) => (&inner[..end], quote, &inner[end + 1..]),
            None => (inner, quote, ""),
        };
    }
    let end = value_end(text);
    (&text[..end], Quote::None, &text[end..])
}

/// The argument number of an `EXECVE` key: `a3` gives `Some(("a3", None))`,
/// `a3[1]` gives `Some(("a3", Some(1)))`.
fn execve_arg(key: &str) -> Option<(&str, Option<u32>)> {
    let (name, index) = match key.split_once('[') {
        Some((name, rest)) => (name, Some(digits::<u32>(rest.strip_suffix(']')?)?)),
        None => (key, None),
    };
    let number = name.strip_prefix('a')?;
    digits::<u32>(number)?;
    Some((name, index))
}

/// Adds one pair to the fields, decoding hex where auditd encodes.
fn add_pair(
    fields: &mut Map<String, Value>,
    chunks: &mut BTreeMap<String, Vec<u8>>,
    pair: Pair<'_>,
    execve: bool,
) {
    let arg = if execve { execve_arg(pair.key) } else { None };
    let escaped = arg.is_some() || ESCAPED.contains(&pair.key);
    let decoded = match pair.quote {
        Quote::None if escaped => decode_hex(&pair.value),
        _ => None,
    };
    if let Some((name, Some(_))) = arg {
        let bytes = decoded.unwrap_or_else(|| pair.value.as_bytes().to_vec());
        chunks.entry(name.to_owned()).or_default().extend(bytes);
        return;
    }
    if fields.contains_key(pair.key) {
        return;
    }
    let value = match decoded {
        Some(mut bytes) => {
            match pair.key {
                "proctitle" => {
                    while bytes.last() == Some(&0) {
                        bytes.pop();
                    }
                    for b in &mut bytes {
                        if *b == 0 {
                            *b = b' ';
                        }
                    }
                }
                "key" => {
                    for b in &mut bytes {
                        if *b == 0x01 {
                            *b = b',';
                        }
                    }
                }
                _ => {}
            }
            String::from_utf8_lossy(&bytes).into_owned()
        }
        None => pair.value.into_owned(),
    };
    fields.insert(pair.key.to_owned(), Value::from(value));
}

/// The bytes of an even-length run of upper-case hex digits (as auditd
/// writes them), else `None`.
fn decode_hex(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    if bytes.is_empty() || !bytes.len().is_multiple_of(2) {
        return None;
    }
    let nibble = |b: u8| match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    };
    bytes
        .chunks_exact(2)
        .map(|pair| Some(nibble(pair[0])? << 4 | nibble(pair[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// Parses a record and checks all its fields against `want`.
    fn check(line: &str, want: Value) -> AuditRecord {
        let record = parse_audit_record(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        assert_eq!(Value::Object(record.fields.clone()), want, "{line}");
        record
    }

    #[test]
    fn execve_record_with_quoted_and_hex_arguments() {
        let record = check(
            r#"type=EXECVE msg=audit(1700000000.123:456): argc=4 a0="dd" a1=69663D2F6465762F7A65726F a2="bs=1" a3="count=1""#,
            json!({
                "type": "EXECVE", "serial": 456, "argc": "4",
                "a0": "dd", "a1": "if=/dev/zero", "a2": "bs=1", "a3": "count=1",
            }),
        );
        assert_eq!(
            record.time.unix_timestamp_nanos(),
            1_700_000_000_123_000_000
        );
        assert_eq!(record.node, None);
        check(
            "type=EXECVE msg=audit(1700000000.123:457): argc=3 a0=2F62696E2F7368 a1=\"-c\" a2=6563686F2068693B206964",
            json!({
                "type": "EXECVE", "serial": 457, "argc": "3",
                "a0": "/bin/sh", "a1": "-c", "a2": "echo hi; id",
            }),
        );
    }

    #[test]
    fn hex_is_decoded_only_where_auditd_encodes() {
        // SYSCALL's a0..a3 are register values and saddr a binary address:
        // they stay as written; comm, exe and key are decoded.
        check(
            r#"type=SYSCALL msg=audit(1700000000.5:9): arch=c000003e syscall=59 success=yes exit=0 a0=55D1C0DE a1=7ffd2a a2=0 a3=0 comm=636174202F6574632F736861646F77 exe="/usr/bin/cat" key=6B31016B32 saddr=0200"#,
            json!({
                "type": "SYSCALL", "serial": 9, "arch": "c000003e", "syscall": "59",
                "success": "yes", "exit": "0", "a0": "55D1C0DE", "a1": "7ffd2a",
                "a2": "0", "a3": "0", "comm": "cat /etc/shadow", "exe": "/usr/bin/cat",
                "key": "k1,k2", "saddr": "0200",
            }),
        );
        // Quoted values are never decoded, lower-case or odd hex neither.
        check(
            r#"type=PATH msg=audit(1700000000.5:9): item=0 name="ABCD" nametype=NORMAL cwd=abcd comm=ABC"#,
            json!({
                "type": "PATH", "serial": 9, "item": "0", "name": "ABCD",
                "nametype": "NORMAL", "cwd": "abcd", "comm": "ABC",
            }),
        );
        check(
            "type=PATH msg=audit(1700000000.5:9): item=1 name=2F746D702F6D792066696C65 nametype=CREATE key=(null)",
            json!({
                "type": "PATH", "serial": 9, "item": "1", "name": "/tmp/my file",
                "nametype": "CREATE", "key": "(null)",
            }),
        );
    }

    #[test]
    fn proctitle_nuls_become_spaces() {
        check(
            "type=PROCTITLE msg=audit(1700000000.123:456): proctitle=64640069663D2F6465762F7A65726F0062733D3100636F756E743D31",
            json!({
                "type": "PROCTITLE", "serial": 456,
                "proctitle": "dd if=/dev/zero bs=1 count=1",
            }),
        );
        // A proctitle without special characters is written as is.
        check(
            r#"type=PROCTITLE msg=audit(1700000000.123:456): proctitle="top""#,
            json!({"type": "PROCTITLE", "serial": 456, "proctitle": "top"}),
        );
    }

    #[test]
    fn node_prefix_names_the_host() {
        let record = check(
            r#"node=web1.example.com type=CWD msg=audit(1700000000.123:456): cwd="/root""#,
            json!({"node": "web1.example.com", "type": "CWD", "serial": 456, "cwd": "/root"}),
        );
        assert_eq!(record.node.as_deref(), Some("web1.example.com"));
        let event = parse_audit_line(
            r#"node=web1 type=CWD msg=audit(1700000000.123:456): cwd="/root""#,
            &Arc::from("audit.log"),
            3,
        )
        .unwrap();
        assert_eq!(event.meta.host.as_deref(), Some("web1"));
        assert_eq!(event.meta.record, 3);
        assert_eq!(event.meta.logsource, events::taxonomy::AUDITD);
    }

    #[test]
    fn enriched_fields_after_the_group_separator() {
        check(
            "type=SYSCALL msg=audit(1700000000.123:456): arch=c000003e syscall=59 success=yes exit=0 comm=\"dd\" exe=\"/usr/bin/dd\" key=\"susp\"\x1dARCH=x86_64 SYSCALL=execve AUID=\"alice\" UID=\"root\"",
            json!({
                "type": "SYSCALL", "serial": 456, "arch": "c000003e", "syscall": "59",
                "success": "yes", "exit": "0", "comm": "dd", "exe": "/usr/bin/dd",
                "key": "susp", "ARCH": "x86_64", "SYSCALL": "execve", "AUID": "alice",
                "UID": "root",
            }),
        );
        // Right after an unquoted value, and as rsyslog escapes it (#035).
        check(
            "type=PATH msg=audit(1700000000.123:456): item=0 key=(null)\x1dOUID=\"root\"",
            json!({"type": "PATH", "serial": 456, "item": "0", "key": "(null)", "OUID": "root"}),
        );
        check(
            "type=SYSCALL msg=audit(1700000000.123:456): syscall=133 key=(null)#035ARCH=x86_64 SYSCALL=mknod",
            json!({
                "type": "SYSCALL", "serial": 456, "syscall": "133", "key": "(null)",
                "ARCH": "x86_64", "SYSCALL": "mknod",
            }),
        );
    }

    #[test]
    fn user_space_records_split_their_inner_message() {
        check(
            "type=SERVICE_STOP msg=audit(1700000000.123:456): pid=1 uid=0 auid=4294967295 ses=4294967295 msg='unit=firewalld comm=\"systemd\" exe=\"/usr/lib/systemd/systemd\" hostname=? addr=? terminal=? res=success'\x1dUID=\"root\" AUID=\"unset\"",
            json!({
                "type": "SERVICE_STOP", "serial": 456, "pid": "1", "uid": "0",
                "auid": "4294967295", "ses": "4294967295", "unit": "firewalld",
                "comm": "systemd", "exe": "/usr/lib/systemd/systemd", "hostname": "?",
                "addr": "?", "terminal": "?", "res": "success", "UID": "root",
                "AUID": "unset",
            }),
        );
        // Unquoted words continue the value before them.
        check(
            "type=ADD_USER msg=audit(1700000000.123:456): pid=7 uid=0 msg='op=adding user id=1001 exe=\"/usr/sbin/useradd\" acct=2F686F6D652F616C20696365 res=success'",
            json!({
                "type": "ADD_USER", "serial": 456, "pid": "7", "uid": "0",
                "op": "adding user", "id": "1001", "exe": "/usr/sbin/useradd",
                "acct": "/home/al ice", "res": "success",
            }),
        );
        // Words with no value before them land in msg.
        check(
            "type=AVC msg=audit(1700000000.123:456): avc:  denied  { read } for  pid=3 comm=\"cat\" tclass=file permissive=0",
            json!({
                "type": "AVC", "serial": 456, "msg": "avc: denied { read } for",
                "pid": "3", "comm": "cat", "tclass": "file", "permissive": "0",
            }),
        );
    }

    #[test]
    fn long_execve_arguments_are_joined_and_first_keys_win() {
        check(
            r#"type=EXECVE msg=audit(1700000000.123:456): argc=2 a0="sh" a1_len=8 a1[0]=726D202D a1[1]="rf /""#,
            json!({
                "type": "EXECVE", "serial": 456, "argc": "2", "a0": "sh",
                "a1_len": "8", "a1": "rm -rf /",
            }),
        );
        check(
            r#"type=CWD msg=audit(1700000000.123:456): cwd="/a" cwd="/b" type=X"#,
            json!({"type": "CWD", "serial": 456, "cwd": "/a"}),
        );
    }

    #[test]
    fn auoms_records_keep_their_unquoted_spaces() {
        check(
            "type=AUOMS_EXECVE audit(1652292621.986:84138): node=UBUNTU5 a0=7fcd3bdfb8e0 key=auoms,delete proctitle=/usr/bin/java -Dx.y=/opt/a -Dz redactors= containerid=",
            json!({
                "type": "AUOMS_EXECVE", "serial": 84138, "node": "UBUNTU5",
                "a0": "7fcd3bdfb8e0", "key": "auoms,delete",
                "proctitle": "/usr/bin/java -Dx.y=/opt/a -Dz", "redactors": "",
                "containerid": "",
            }),
        );
    }

    #[test]
    fn quotes_inside_quoted_values_close_only_before_a_separator() {
        check(
            r#"type=AUOMS_EXECVE audit(1652292621.990:84143): argc=3 cmdline="bash -c "{echo,aWQK}|{base64,-d}|{bash,-i}"" redactors="#,
            json!({
                "type": "AUOMS_EXECVE", "serial": 84143, "argc": "3",
                "cmdline": "bash -c \"{echo,aWQK}|{base64,-d}|{bash,-i}\"",
                "redactors": "",
            }),
        );
        // With no quote before a separator, the last one closes.
        check(
            r#"type=X msg=audit(1.0:1): a="x"y b=1"#,
            json!({"type": "X", "serial": 1, "a": "x", "msg": "y", "b": "1"}),
        );
    }

    #[test]
    fn unterminated_quotes_keep_the_rest_of_the_line() {
        check(
            r#"type=EXECVE msg=audit(1700000000.123:456): argc=2 a0="echo" a1="cut sho"#,
            json!({
                "type": "EXECVE", "serial": 456, "argc": "2", "a0": "echo",
                "a1": "cut sho",
            }),
        );
    }

    #[test]
    fn malformed_records_say_why() {
        let cases = [
            ("", "does not start with type="),
            ("hello world", "does not start with type="),
            ("node=h", "no type= after node="),
            ("type= msg=audit(1:2): x=1", "empty type="),
            ("type=EXECVE argc=1", "without msg=audit"),
            ("type=EXECVE msg=audit(1700000000.123:456", "not closed"),
            (
                "type=EXECVE msg=audit(1700000000.123): a",
                "not audit(SECONDS",
            ),
            ("type=EXECVE msg=audit(x.1:2): a", "not audit(SECONDS"),
            ("type=EXECVE msg=audit(1.1:-2): a", "not audit(SECONDS"),
            ("type=EXECVE msg=audit(1.1:2) a", "no ':' after"),
            (
                "type=EXECVE msg=audit(11/14/2023 22:13:20.123:456) : argc=1",
                "ausearch -i",
            ),
            ("type=X msg=audit(99999999999999999:1): a", "out of range"),
        ];
        for (line, want) in cases {
            let error = parse_audit_record(line).expect_err(line);
            assert!(error.contains(want), "{line:?}: {error}");
        }
    }

    /// The EXECVE record the syslog tests carry.
    const DD: &str = r#"type=EXECVE msg=audit(1700000000.123:456): argc=4 a0="dd" a1="if=/dev/zero" a2="bs=1" a3=636F756E743D31"#;

    fn syslog(line: &str) -> Event {
        let mut years = crate::YearResolver::new(2023, 12, 1);
        crate::parse_syslog_line(
            line,
            &mut years,
            &mut crate::LocalClock::new(crate::TimeZone::UTC),
            &Arc::from("messages"),
            1,
            events::LogSource::service("linux", "syslog"),
        )
    }

    #[test]
    fn records_carried_in_syslog_give_the_same_fields() {
        let raw = parse_audit_line(DD, &Arc::from("audit.log"), 1).unwrap();
        let want = json!({
            "type": "EXECVE", "serial": 456, "argc": "4",
            "a0": "dd", "a1": "if=/dev/zero", "a2": "bs=1", "a3": "count=1",
        });
        assert_eq!(Value::Object(raw.fields.clone()), want);
        let lines = [
            (
                format!("Nov 14 22:13:21 web1 audispd: {DD}"),
                "audispd",
                None,
            ),
            (
                format!("Nov 14 22:13:21 web1 auditd[812]: {DD}"),
                "auditd",
                None,
            ),
            (
                format!("Nov 14 22:13:21 web1 audit: node=web2 {DD}"),
                "audit",
                Some("web2"),
            ),
            (
                format!("Nov 14 22:13:21 web1 forwarder[3]: {DD}"),
                "forwarder",
                None,
            ),
            (
                format!("<133>1 2023-11-14T22:13:21.000Z web1 audispd - - - {DD}"),
                "audispd",
                None,
            ),
        ];
        for (line, program, node) in lines {
            let event = syslog(&line);
            assert_eq!(event.meta.logsource, events::taxonomy::AUDITD, "{line}");
            assert_eq!(
                event.meta.timestamp, raw.meta.timestamp,
                "the record's time, not the header's: {line}"
            );
            assert_eq!(event.meta.host.as_deref(), Some(node.unwrap_or("web1")));
            let mut fields = event.fields.clone();
            assert_eq!(fields.remove("host"), Some(json!("web1")), "{line}");
            assert_eq!(fields.remove("program"), Some(json!(program)), "{line}");
            // What the header adds: the forwarder's pid, facility, severity.
            for header in ["pid", "facility", "severity", "node"] {
                fields.remove(header);
            }
            assert!(!fields.contains_key("message"), "{line}");
            assert_eq!(Value::Object(fields), want, "{line}");
        }
        // The record's pid wins over the syslog header's.
        let event = syslog(
            "Nov 14 22:13:21 web1 audispd[99]: type=SYSCALL msg=audit(1700000000.123:456): syscall=59 pid=4242",
        );
        assert_eq!(event.fields["pid"], json!("4242"));
        // A message of an audit program that is no record stays syslog.
        let event = syslog("Nov 14 22:13:21 web1 auditd[812]: auditd start, ver 3.1.2");
        assert_eq!(event.meta.logsource.service, Some("syslog"));
        assert_eq!(event.fields["message"], json!("auditd start, ver 3.1.2"));
    }

    #[test]
    fn names_audit_programs_and_messages_in_syslog() {
        assert!(carried_in_syslog(Some("audispd"), "anything"));
        assert!(carried_in_syslog(
            None,
            "type=EXECVE msg=audit(1.1:2): a0=\"x\""
        ));
        assert!(carried_in_syslog(Some("x"), "node=h type=CWD ..."));
        assert!(carried_in_syslog(
            Some("x"),
            "fwd: type=CWD msg=audit(1.1:2):"
        ));
        assert!(!carried_in_syslog(
            Some("sshd"),
            "Accepted password for root"
        ));
        assert_eq!(record_start("fwd: node=h type=A"), "node=h type=A");
        assert_eq!(record_start("fwd: type=A x node=h"), "type=A x node=h");
    }
}
