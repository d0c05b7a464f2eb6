//! Terminal safety: text that came from input (log fields, rule titles,
//! report text, page titles, host and file names) is escaped before it is
//! printed, so that it cannot drive the analyst's terminal. A log line
//! carrying `ESC ] 52 ; c ; <base64> BEL` would otherwise set the
//! clipboard; CSI sequences move the cursor or rewrite earlier lines, and
//! bidi overrides make text read differently from what it is.
//!
//! - [`line`] is for one table cell or one line: every control character
//!   (C0 including line feed and tab, DEL, C1), bidi controls and the
//!   Unicode line and paragraph separators are shown as visible escapes
//!   (`\x1b`, `\n`, `\u{202e}`).
//! - [`text`] is for multi-line text (a report's description): line feeds
//!   and tabs stay, everything else is escaped as by [`line`].
//! - [`json`] writes JSON with the same characters escaped as `\uXXXX`
//!   (serde_json escapes only C0), so a JSON document printed to a
//!   terminal is as safe as a table, and still decodes to the same data.
//!
//! Ordinary Unicode (accents, CJK, emoji) and backslashes are left alone,
//! so Windows paths read as they are. Every command applies these at the
//! one place where it writes human output; nothing here knows a command.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Escapes `s` for one line of terminal output: no character of the result
/// is a control character, and the result has no line breaks.
pub fn line(s: &str) -> Cow<'_, str> {
    escape(s, false)
}

/// Escapes `s` for multi-line terminal output: line feeds and tabs are
/// kept, every other control character is escaped as by [`line`].
pub fn text(s: &str) -> Cow<'_, str> {
    escape(s, true)
}

/// True for a character that must not reach a terminal raw.
fn is_unsafe(c: char) -> bool {
    matches!(c,
        // C0 controls (ESC, BEL, BS, CR, ...), DEL and the C1 controls
        // (U+009B is a one-character CSI, U+009D an OSC).
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}'
        // Bidi embeddings, overrides and isolates, and the bidi marks.
        | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        | '\u{200e}' | '\u{200f}' | '\u{61c}'
        // Line and paragraph separators.
        | '\u{2028}' | '\u{2029}')
}

fn escape(s: &str, multi_line: bool) -> Cow<'_, str> {
    let keep = |c: char| multi_line && (c == '\n' || c == '\t');
    let Some(first) = s.find(|c: char| is_unsafe(c) && !keep(c)) else {
        return Cow::Borrowed(s);
    };
    let mut out = String::with_capacity(s.len() + 8);
    out.push_str(&s[..first]);
    for c in s[first..].chars() {
        if !is_unsafe(c) || keep(c) {
            out.push(c);
            continue;
        }
        // Writing to a String cannot fail.
        let _ = match c {
            '\n' => out.write_str("\\n"),
            '\r' => out.write_str("\\r"),
            '\t' => out.write_str("\\t"),
            c if (c as u32) < 0x100 => write!(out, "\\x{:02x}", c as u32),
            c => write!(out, "\\u{{{:04x}}}", c as u32),
        };
    }
    Cow::Owned(out)
}

/// JSON output with every terminal-unsafe character escaped as `\uXXXX`.
///
/// The documents are ordinary JSON: they decode to exactly the values
/// serde_json's own writers would give.
pub mod json {
    use std::io::{self, Write};

    use serde::Serialize;
    use serde_json::ser::{CompactFormatter, Formatter, PrettyFormatter, Serializer};

    /// Writes `value` as compact JSON.
    pub fn to_writer<W: Write, T: Serialize + ?Sized>(w: W, value: &T) -> serde_json::Result<()> {
        value.serialize(&mut Serializer::with_formatter(w, Safe(CompactFormatter)))
    }

    /// Writes `value` as indented JSON.
    pub fn to_writer_pretty<W: Write, T: Serialize + ?Sized>(
        w: W,
        value: &T,
    ) -> serde_json::Result<()> {
        value.serialize(&mut Serializer::with_formatter(
            w,
            Safe(PrettyFormatter::new()),
        ))
    }

    /// `value` as compact JSON text.
    pub fn to_string<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<String> {
        let mut out = Vec::new();
        to_writer(&mut out, value)?;
        Ok(String::from_utf8(out).expect("serde_json writes UTF-8"))
    }

    /// `value` as indented JSON text.
    pub fn to_string_pretty<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<String> {
        let mut out = Vec::new();
        to_writer_pretty(&mut out, value)?;
        Ok(String::from_utf8(out).expect("serde_json writes UTF-8"))
    }

    /// A formatter that escapes what serde_json leaves raw (DEL, C1, bidi
    /// controls, line separators) and delegates everything else.
    struct Safe<F>(F);

    impl<F: Formatter> Formatter for Safe<F> {
        fn write_string_fragment<W: ?Sized + Write>(
            &mut self,
            w: &mut W,
            fragment: &str,
        ) -> io::Result<()> {
            let mut start = 0;
            for (i, c) in fragment.char_indices() {
                if super::is_unsafe(c) {
                    w.write_all(&fragment.as_bytes()[start..i])?;
                    write!(w, "\\u{:04x}", c as u32)?;
                    start = i + c.len_utf8();
                }
            }
            w.write_all(&fragment.as_bytes()[start..])
        }

        fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
            self.0.begin_array(w)
        }

        fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
            self.0.end_array(w)
        }

        fn begin_array_value<W: ?Sized + Write>(
            &mut self,
            w: &mut W,
            first: bool,
        ) -> io::Result<()> {
            self.0.begin_array_value(w, first)
        }

        fn end_array_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
            self.0.end_array_value(w)
        }

        fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
            self.0.begin_object(w)
        }

        fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
            self.0.end_object(w)
        }

        fn begin_object_key<W: ?Sized + Write>(
            &mut self,
            w: &mut W,
            first: bool,
        ) -> io::Result<()> {
            self.0.begin_object_key(w, first)
        }

        fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
            self.0.begin_object_value(w)
        }

        fn end_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
            self.0.end_object_value(w)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(input, line(input), text(input))`, written by hand.
    const CASES: &[(&str, &str, &str)] = &[
        ("plain text", "plain text", "plain text"),
        ("", "", ""),
        // OSC 52: set the clipboard, ended by BEL or by ST (ESC \).
        (
            "\u{1b}]52;c;ZWNobyBoaQ==\u{7}",
            "\\x1b]52;c;ZWNobyBoaQ==\\x07",
            "\\x1b]52;c;ZWNobyBoaQ==\\x07",
        ),
        (
            "\u{1b}]52;c;eA==\u{1b}\\",
            "\\x1b]52;c;eA==\\x1b\\",
            "\\x1b]52;c;eA==\\x1b\\",
        ),
        // CSI: colour, cursor up and erase line.
        (
            "\u{1b}[31mred\u{1b}[0m\u{1b}[1A\u{1b}[2K",
            "\\x1b[31mred\\x1b[0m\\x1b[1A\\x1b[2K",
            "\\x1b[31mred\\x1b[0m\\x1b[1A\\x1b[2K",
        ),
        // DCS and a one-character C1 CSI and OSC.
        ("\u{1b}Pq#0\u{1b}\\", "\\x1bPq#0\\x1b\\", "\\x1bPq#0\\x1b\\"),
        ("a\u{9b}31mb", "a\\x9b31mb", "a\\x9b31mb"),
        (
            "\u{9d}52;c;eA==\u{9c}",
            "\\x9d52;c;eA==\\x9c",
            "\\x9d52;c;eA==\\x9c",
        ),
        ("\u{80}\u{9f}", "\\x80\\x9f", "\\x80\\x9f"),
        // BEL, BS, CR, DEL, NUL.
        ("ding\u{7}", "ding\\x07", "ding\\x07"),
        (
            "secret\u{8}\u{8}\u{8}",
            "secret\\x08\\x08\\x08",
            "secret\\x08\\x08\\x08",
        ),
        ("ok\rFAIL", "ok\\rFAIL", "ok\\rFAIL"),
        ("a\u{7f}b\u{0}c", "a\\x7fb\\x00c", "a\\x7fb\\x00c"),
        // Line feed and tab: escaped on one line, kept in text.
        ("one\ntwo\tthree", "one\\ntwo\\tthree", "one\ntwo\tthree"),
        ("crlf\r\n", "crlf\\r\\n", "crlf\\r\n"),
        // Bidi overrides, embeddings, isolates and marks.
        (
            "invoice\u{202e}fdp.exe",
            "invoice\\u{202e}fdp.exe",
            "invoice\\u{202e}fdp.exe",
        ),
        (
            "\u{202a}\u{202b}\u{202c}\u{202d}",
            "\\u{202a}\\u{202b}\\u{202c}\\u{202d}",
            "\\u{202a}\\u{202b}\\u{202c}\\u{202d}",
        ),
        (
            "\u{2066}x\u{2067}y\u{2068}z\u{2069}",
            "\\u{2066}x\\u{2067}y\\u{2068}z\\u{2069}",
            "\\u{2066}x\\u{2067}y\\u{2068}z\\u{2069}",
        ),
        (
            "\u{200e}\u{200f}\u{61c}",
            "\\u{200e}\\u{200f}\\u{061c}",
            "\\u{200e}\\u{200f}\\u{061c}",
        ),
        (
            "a\u{2028}b\u{2029}",
            "a\\u{2028}b\\u{2029}",
            "a\\u{2028}b\\u{2029}",
        ),
        // Ordinary Unicode and backslashes stay as they are.
        ("Café Zürich ñ", "Café Zürich ñ", "Café Zürich ñ"),
        ("東京の報告 🙂", "東京の報告 🙂", "東京の報告 🙂"),
        ("שלום עולם", "שלום עולם", "שלום עולם"),
        (
            "C:\\Windows\\System32\\cmd.exe",
            "C:\\Windows\\System32\\cmd.exe",
            "C:\\Windows\\System32\\cmd.exe",
        ),
        ("\u{a0}\u{ad}", "\u{a0}\u{ad}", "\u{a0}\u{ad}"),
    ];

    #[test]
    fn escapes_controls_and_keeps_ordinary_text() {
        for (input, want_line, want_text) in CASES {
            assert_eq!(line(input), *want_line, "line({input:?})");
            assert_eq!(text(input), *want_text, "text({input:?})");
        }
    }

    #[test]
    fn escaped_output_has_no_control_characters() {
        for (input, _, _) in CASES {
            assert!(!line(input).chars().any(is_unsafe), "line({input:?})");
            assert!(
                !text(input)
                    .chars()
                    .any(|c| is_unsafe(c) && c != '\n' && c != '\t'),
                "text({input:?})"
            );
        }
    }

    #[test]
    fn clean_text_is_not_copied() {
        assert!(matches!(line("C:\\x\\ü 東"), Cow::Borrowed(_)));
        assert!(matches!(text("a\nb\tc"), Cow::Borrowed(_)));
    }

    /// `(value, compact JSON)`, written by hand.
    const JSON_CASES: &[(&str, &str)] = &[
        ("plain", r#""plain""#),
        ("\u{1b}]52;c;eA==\u{7}", r#""\u001b]52;c;eA==\u0007""#),
        ("a\u{9b}b\u{7f}", r#""a\u009bb\u007f""#),
        ("x\u{202e}y\u{2066}", r#""x\u202ey\u2066""#),
        ("line\nbreak\t\"q\" \\", r#""line\nbreak\t\"q\" \\""#),
        ("Zürich 東京", r#""Zürich 東京""#),
    ];

    #[test]
    fn json_escapes_what_serde_json_leaves_raw_and_decodes_the_same() {
        for (value, want) in JSON_CASES {
            let got = json::to_string(value).unwrap();
            assert_eq!(got, *want, "{value:?}");
            let back: String = serde_json::from_str(&got).unwrap();
            assert_eq!(back, *value);
        }
        // serde_json alone escapes C0 but writes C1 and bidi controls raw:
        // the reason for the formatter.
        assert_eq!(serde_json::to_string("\u{1b}").unwrap(), r#""\u001b""#);
        assert_eq!(
            serde_json::to_string("\u{9b}\u{202e}").unwrap(),
            "\"\u{9b}\u{202e}\""
        );
    }

    #[test]
    fn json_keys_are_escaped_and_pretty_output_keeps_its_layout() {
        let value = serde_json::json!({"k\u{1b}": ["v\u{9d}", 1]});
        assert_eq!(
            json::to_string(&value).unwrap(),
            r#"{"k\u001b":["v\u009d",1]}"#
        );
        assert_eq!(
            json::to_string_pretty(&value).unwrap(),
            "{\n  \"k\\u001b\": [\n    \"v\\u009d\",\n    1\n  ]\n}"
        );
    }
}
