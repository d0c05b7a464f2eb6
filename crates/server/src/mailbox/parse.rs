//! Turning a raw message from the mailbox into an [`InboundMail`]: sender,
//! subject, Message-ID, threading headers, the body as text and the
//! attachments, each capped. Pure: no I/O.
//!
//! Hostile mail is expected. Nothing here panics on malformed MIME or odd
//! charsets (mail-parser decodes what it can and replaces the rest); HTML
//! is converted to text (scripts and styles dropped) and never kept as
//! HTML; control characters are removed; a message over the size cap keeps
//! only its headers and a note.

use incidents::{InboundMail, NewAttachment};
use mail_parser::decoders::html::html_to_text;
use mail_parser::{HeaderValue, Message, MessageParser, MimeHeaders, PartType};
use sha2::{Digest, Sha256};

/// The caps applied to one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest message parsed in full, in bytes; a larger one keeps
    /// only its headers.
    pub max_message_bytes: usize,
    /// The largest attachment kept, in bytes.
    pub max_attachment_bytes: usize,
    /// The most attachments kept.
    pub max_attachments: usize,
    /// The most characters of body text kept.
    pub max_text_chars: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: 10 * 1024 * 1024,
            max_attachment_bytes: 10 * 1024 * 1024,
            max_attachments: incidents::NewReport::MAX_ATTACHMENTS,
            max_text_chars: 16_000,
        }
    }
}

/// A parsed message and what the caps did to it.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    /// The message for the store.
    pub mail: InboundMail,
    /// Sent by a machine (`Auto-Submitted` other than `no`, or
    /// `Precedence: bulk|junk|list`): never acknowledged.
    pub automatic: bool,
    /// Over [`Limits::max_message_bytes`]: only the headers were read.
    pub oversized: bool,
    /// Attachments left out (too large or too many).
    pub dropped_attachments: usize,
}

/// The most bytes of an oversized message searched for the end of its
/// headers.
const MAX_HEADER_BYTES: usize = 256 * 1024;

/// Parses `raw` under `limits`. Always returns a message: a Message-ID is
/// made from the content's SHA-256 when the message has none (so the same
/// bytes are still recognised), and missing parts are empty.
pub fn parse(raw: &[u8], limits: &Limits) -> Parsed {
    if raw.len() > limits.max_message_bytes {
        return parse_headers_only(&raw[..header_end(raw)], raw.len(), limits);
    }
    parse_as(raw, None, limits)
}

/// Parses the headers of a message of `size` bytes that is over
/// [`Limits::max_message_bytes`] (the body was not fetched): the text is a
/// note saying so, and nothing is attached.
pub fn parse_headers_only(header: &[u8], size: usize, limits: &Limits) -> Parsed {
    parse_as(header, Some(size), limits)
}

fn parse_as(raw: &[u8], oversized_size: Option<usize>, limits: &Limits) -> Parsed {
    let oversized = oversized_size.is_some();
    let parser = MessageParser::default();
    let message = if oversized {
        parser.parse_headers(raw)
    } else {
        parser.parse(raw)
    };
    let fallback_id = || {
        let digest = Sha256::digest(raw);
        format!("sha256-{}@watchpost.invalid", hex::encode(digest))
    };
    let Some(message) = message else {
        return Parsed {
            mail: InboundMail {
                message_id: fallback_id(),
                from: String::new(),
                subject: String::new(),
                in_reply_to: Vec::new(),
                references: Vec::new(),
                text: "(The message could not be parsed.)".to_owned(),
                attachments: Vec::new(),
            },
            automatic: false,
            oversized,
            dropped_attachments: 0,
        };
    };
    let message_id = message
        .message_id()
        .map(clean_id)
        .filter(|id| !id.is_empty() && id.len() <= incidents::mail::MAX_MESSAGE_ID_BYTES)
        .unwrap_or_else(fallback_id);
    let from = message
        .from()
        .or_else(|| message.sender())
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .map(|a| one_line(a, 320))
        .unwrap_or_default();
    let subject = message
        .subject()
        .map(|s| one_line(s, 998))
        .unwrap_or_default();
    let in_reply_to = ids(message.in_reply_to());
    let references = ids(message.references());
    let automatic = is_automatic(&message);

    let mut text = if let Some(size) = oversized_size {
        format!(
            "(The message was {size} bytes, over the limit of {}: only its headers were kept.)",
            limits.max_message_bytes
        )
    } else {
        body_text(&message)
    };
    let mut attachments = Vec::new();
    let mut dropped = Vec::new();
    if !oversized {
        for (n, part) in message.attachments().enumerate() {
            let filename = part
                .attachment_name()
                .map(|name| one_line(name, 255))
                .filter(|name| !name.trim().is_empty())
                .unwrap_or_else(|| format!("attachment-{}", n + 1));
            let bytes = part.contents();
            if attachments.len() >= limits.max_attachments
                || bytes.len() > limits.max_attachment_bytes
            {
                dropped.push(format!("{filename} ({} bytes)", bytes.len()));
                continue;
            }
            let content_type = part
                .content_type()
                .map(|ct| match ct.subtype() {
                    Some(sub) => format!("{}/{}", ct.ctype(), sub),
                    None => ct.ctype().to_owned(),
                })
                .map(|ct| one_line(&ct, 255))
                .unwrap_or_else(|| "application/octet-stream".to_owned());
            attachments.push(NewAttachment {
                filename,
                content_type,
                bytes: bytes.to_vec(),
            });
        }
    }
    text = clip(&text, limits.max_text_chars);
    if !dropped.is_empty() {
        text.push_str(&format!(
            "\n\n(Attachments not kept, over the limits of {} files of at most {} bytes: {}.)",
            limits.max_attachments,
            limits.max_attachment_bytes,
            dropped.join(", ")
        ));
    }
    Parsed {
        mail: InboundMail {
            message_id,
            from,
            subject,
            in_reply_to,
            references,
            text,
            attachments,
        },
        automatic,
        oversized,
        dropped_attachments: dropped.len(),
    }
}

/// Where the headers of `raw` end (after the blank line), within the
/// first [`MAX_HEADER_BYTES`].
fn header_end(raw: &[u8]) -> usize {
    let window = &raw[..raw.len().min(MAX_HEADER_BYTES)];
    let crlf = window
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 4);
    let lf = window.windows(2).position(|w| w == b"\n\n").map(|p| p + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => a.min(b),
        (Some(a), None) | (None, Some(a)) => a,
        (None, None) => window.len(),
    }
}

/// The body as text: the text/plain parts, else the HTML ones converted
/// to text (script and style elements removed first, wherever they are,
/// then mail-parser's conversion).
fn body_text(message: &Message<'_>) -> String {
    let mut parts = Vec::new();
    for part in message.text_bodies() {
        match &part.body {
            PartType::Text(text) => parts.push(text.to_string()),
            PartType::Html(html) => parts.push(html_to_text(&without_elements(
                html,
                &["script", "style", "head"],
            ))),
            _ => {}
        }
    }
    clean_text(&parts.join("\n\n"))
}

/// `html` without the `names` elements and what is inside them (matched
/// case-insensitively; an unclosed one runs to the end).
fn without_elements(html: &str, names: &[&str]) -> String {
    let mut out = html.to_owned();
    for name in names {
        let open = format!("<{name}");
        let close = format!("</{name}");
        loop {
            let lower = out.to_ascii_lowercase();
            let Some(start) = find_tag(&lower, &open, 0) else {
                break;
            };
            let end = match lower[start..].find(&close) {
                Some(at) => {
                    let after = start + at;
                    lower[after..]
                        .find('>')
                        .map_or(lower.len(), |gt| after + gt + 1)
                }
                None => lower.len(),
            };
            out.replace_range(start..end, " ");
        }
    }
    out
}

/// Where tag `open` (e.g. `<script`) starts in `lower` at or after `from`,
/// followed by `>`, `/` or whitespace (so `<scripts` is not `<script`).
fn find_tag(lower: &str, open: &str, from: usize) -> Option<usize> {
    let mut at = from;
    while let Some(found) = lower[at..].find(open) {
        let start = at + found;
        let next = lower[start + open.len()..].chars().next();
        if next.is_none_or(|c| c == '>' || c == '/' || c.is_whitespace()) {
            return Some(start);
        }
        at = start + open.len();
    }
    None
}

/// Text without control characters other than newline and tab, with
/// line ends made `\n`.
fn clean_text(s: &str) -> String {
    s.replace("\r\n", "\n")
        .chars()
        .filter(|c| *c == '\n' || *c == '\t' || !c.is_control())
        .collect::<String>()
        .trim()
        .to_owned()
}

/// One line of at most `max` characters, without control characters.
fn one_line(s: &str, max: usize) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect::<String>()
        .trim()
        .to_owned()
}

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max).collect();
    out.push_str("\n\n(The text was cut here.)");
    out
}

/// A message id without angle brackets, whitespace or control characters.
fn clean_id(id: &str) -> String {
    id.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .collect()
}

/// The ids of a threading header (`In-Reply-To`, `References`).
fn ids(value: &HeaderValue<'_>) -> Vec<String> {
    let raw: Vec<String> = match value {
        HeaderValue::Text(t) => t.split_whitespace().map(str::to_owned).collect(),
        HeaderValue::TextList(list) => list.iter().map(|t| t.to_string()).collect(),
        _ => Vec::new(),
    };
    raw.iter()
        .map(|id| clean_id(id))
        .filter(|id| !id.is_empty() && id.len() <= incidents::mail::MAX_MESSAGE_ID_BYTES)
        .take(incidents::mail::MAX_REFERENCES * 2)
        .collect()
}

/// Whether the message says a machine sent it.
fn is_automatic(message: &Message<'_>) -> bool {
    let header = |name: &str| {
        message
            .header_raw(name)
            .map(|v| v.trim().to_ascii_lowercase())
    };
    let auto_submitted = header("Auto-Submitted").is_some_and(|v| !v.starts_with("no"));
    let precedence =
        header("Precedence").is_some_and(|v| matches!(v.as_str(), "bulk" | "junk" | "list"));
    auto_submitted || precedence
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/mail")
            .join(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    #[test]
    fn a_plain_report_gives_its_headers_text_and_attachment() {
        let p = parse(&fixture("plain.eml"), &Limits::default());
        assert_eq!(p.mail.message_id, "report-1@researcher.example.org");
        assert_eq!(p.mail.from, "researcher@example.org");
        assert_eq!(p.mail.subject, "XSS in the search page");
        assert_eq!(
            p.mail.text,
            "Hello,\n\nthe search page reflects the q parameter.\n\nRegards"
        );
        assert_eq!(p.mail.attachments.len(), 1);
        assert_eq!(p.mail.attachments[0].filename, "poc.txt");
        assert_eq!(p.mail.attachments[0].content_type, "text/plain");
        assert_eq!(p.mail.attachments[0].bytes, b"GET /search?q=<script>\n");
        assert!(!p.automatic && !p.oversized);
    }

    #[test]
    fn html_only_mail_becomes_text_without_its_script() {
        let p = parse(&fixture("html-script.eml"), &Limits::default());
        assert!(!p.mail.text.contains("alert"), "{}", p.mail.text);
        assert!(!p.mail.text.contains('<'), "{}", p.mail.text);
        assert!(p.mail.text.contains("Found a bug"), "{}", p.mail.text);
        assert!(p.mail.text.contains("in the login form"), "{}", p.mail.text);
    }

    #[test]
    fn script_style_and_head_elements_are_removed() {
        assert_eq!(
            without_elements(
                "a<SCRIPT type=x>evil()</Script >b<scripts>c</scripts><style>s</style>d<script>unclosed",
                &["script", "style"]
            ),
            "a b<scripts>c</scripts> d "
        );
    }

    #[test]
    fn a_broken_boundary_is_read_as_far_as_it_goes() {
        let p = parse(&fixture("broken-boundary.eml"), &Limits::default());
        assert_eq!(p.mail.subject, "Broken MIME");
        assert_eq!(p.mail.message_id, "broken-1@example.org");
        assert!(p.mail.text.contains("first part text"), "{}", p.mail.text);
    }

    #[test]
    fn latin1_and_unknown_charsets_are_decoded_or_replaced() {
        let p = parse(&fixture("latin1.eml"), &Limits::default());
        assert_eq!(p.mail.subject, "Sécurité");
        assert_eq!(p.mail.text, "Problème détecté à la caisse.");
        let p = parse(&fixture("unknown-charset.eml"), &Limits::default());
        assert_eq!(p.mail.subject, "Odd charset");
        assert!(
            p.mail.text.contains("plain ascii survives"),
            "{}",
            p.mail.text
        );
    }

    #[test]
    fn an_oversized_message_keeps_only_its_headers() {
        let mut raw =
            b"From: big@example.org\r\nSubject: huge\r\nMessage-ID: <big@example.org>\r\n\r\n"
                .to_vec();
        raw.extend(std::iter::repeat_n(b'a', 2000));
        let limits = Limits {
            max_message_bytes: 1000,
            ..Limits::default()
        };
        let p = parse(&raw, &limits);
        assert!(p.oversized);
        assert_eq!(p.mail.message_id, "big@example.org");
        assert_eq!(p.mail.from, "big@example.org");
        assert_eq!(p.mail.subject, "huge");
        assert_eq!(
            p.mail.text,
            "(The message was 2071 bytes, over the limit of 1000: only its headers were kept.)"
        );
        assert!(p.mail.attachments.is_empty());
    }

    #[test]
    fn attachments_over_the_caps_are_dropped_and_noted() {
        let limits = Limits {
            max_attachment_bytes: 5,
            ..Limits::default()
        };
        let p = parse(&fixture("plain.eml"), &limits);
        assert!(p.mail.attachments.is_empty());
        assert_eq!(p.dropped_attachments, 1);
        assert!(
            p.mail.text.ends_with(
                "(Attachments not kept, over the limits of 20 files of at most 5 bytes: poc.txt (23 bytes).)"
            ),
            "{}",
            p.mail.text
        );
    }

    #[test]
    fn threading_headers_and_automatic_mail_are_recognised() {
        let p = parse(&fixture("auto-reply.eml"), &Limits::default());
        assert_eq!(p.mail.in_reply_to, ["ack-1@watchpost.example.com"]);
        assert_eq!(
            p.mail.references,
            [
                "report-1@researcher.example.org",
                "ack-1@watchpost.example.com"
            ]
        );
        assert!(p.automatic);
    }

    #[test]
    fn garbage_never_panics_and_gets_a_content_id() {
        for raw in [
            &b""[..],
            b"\xff\xfe\x00garbage",
            b"Content-Type: multipart/mixed; boundary=\"\"\r\n\r\n--\r\n--\r\n",
        ] {
            let p = parse(raw, &Limits::default());
            assert!(
                p.mail.message_id.starts_with("sha256-"),
                "{:?}",
                p.mail.message_id
            );
        }
    }
}
