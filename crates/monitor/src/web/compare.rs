//! Fingerprinting a fetched page and comparing it with its baseline.
//!
//! Architecture invariant: pure. No IO and no clock; `now` is passed in.
//!
//! # What is normalised
//!
//! Before the content hash is taken, the body (decoded as UTF-8, invalid
//! bytes replaced) goes through these steps, in order:
//! 1. matches of the URL's `ignore` patterns are removed;
//! 2. HTML comments are removed;
//! 3. in every tag, `nonce` attributes are dropped, and the `value` and
//!    `content` of a tag that names a CSRF token (an attribute value
//!    matching `csrf`, `xsrf`, `authenticity_token`, `_token`,
//!    `requestverificationtoken`, `__viewstate`, `__eventvalidation` or
//!    `nonce`, any case) are emptied, so
//!    `<input type="hidden" name="csrf_token" value="...">` and
//!    `<meta name="csrf-token" content="...">` no longer vary;
//! 4. runs of whitespace become one space, and space between tags is
//!    removed.
//!
//! The similarity ratio compares the visible text (the normalised body
//! without `<script>`/`<style>` contents and tags, lower-cased): word
//! 3-shingles are hashed (FNV-1a, 64 bits) and the 256 smallest hashes are
//! kept (a bottom-k sketch), which estimates the Jaccard similarity of the
//! two shingle sets and is exact for pages with at most 256 shingles.
//!
//! The title, the `src` of every `<script>`, the HTTP status, the
//! same-site redirect chain, a redirect to another site, and the TLS
//! certificate fingerprint are compared exactly; any difference in them is
//! a change. A content hash difference alone is a change only when the
//! similarity is below the configured minimum.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use detect::{Detection, Level};
use events::{LogSource, Timestamp};
use regex::Regex;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Page;

/// Rule id of a web change detection.
pub const RULE_WEB_CHANGE: &str = "watchpost.web.changed";

/// How many shingle hashes a fingerprint keeps.
pub const SKETCH_SIZE: usize = 256;

/// What is compared between two fetches of a URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fingerprint {
    /// The HTTP status.
    pub status: u16,
    /// The URL of the final response.
    pub final_url: String,
    /// Same-site redirects followed.
    #[serde(default)]
    pub redirects: Vec<String>,
    /// A redirect to another site that was not followed.
    #[serde(default)]
    pub offsite_redirect: Option<String>,
    /// The `<title>`, whitespace collapsed.
    #[serde(default)]
    pub title: Option<String>,
    /// The `src` of every `<script>`.
    #[serde(default)]
    pub scripts: BTreeSet<String>,
    /// SHA-256 of the normalised body, hex.
    pub content_hash: String,
    /// Bottom-k sketch of the visible text's word 3-shingles.
    #[serde(default)]
    pub shingles: Vec<u64>,
    /// SHA-256 of the TLS certificate, hex (https only).
    #[serde(default)]
    pub tls_certificate: Option<String>,
    /// Body bytes read.
    pub bytes: u64,
    /// True when the body was cut at the size cap.
    #[serde(default)]
    pub truncated: bool,
    /// When this fingerprint was taken.
    #[serde(with = "time::serde::rfc3339")]
    pub taken_at: Timestamp,
}

/// Computes the fingerprint of a page.
pub fn fingerprint(page: &Page, ignore: &[Regex], now: Timestamp) -> Fingerprint {
    let html = String::from_utf8_lossy(&page.body);
    let normalised = normalise(&html, ignore);
    let content_hash = hex::encode(Sha256::digest(normalised.as_bytes()));
    Fingerprint {
        status: page.status,
        final_url: page.final_url.clone(),
        redirects: page.redirects.clone(),
        offsite_redirect: page.offsite_redirect.clone(),
        title: title(&normalised),
        scripts: script_sources(&normalised),
        content_hash,
        shingles: sketch(&visible_text(&normalised)),
        tls_certificate: page.tls_certificate.clone(),
        bytes: page.body.len() as u64,
        truncated: page.truncated,
        taken_at: now,
    }
}

static COMMENT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?s)<!--.*?-->").unwrap());
static TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"<([a-zA-Z][a-zA-Z0-9:-]*)(\s[^<>]*?)?(/?)>").unwrap());
static ATTR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"([^\s"'<>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?"#).unwrap()
});
static VOLATILE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)csrf|xsrf|authenticity_token|_token|requestverificationtoken|__viewstate|__eventvalidation|nonce").unwrap()
});
static SPACE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\s+").unwrap());
static BETWEEN_TAGS: LazyLock<Regex> = LazyLock::new(|| Regex::new(r">\s+<").unwrap());
static TITLE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?is)<title(?:\s[^>]*)?>(.*?)</title\s*>").unwrap());
static SCRIPT_OR_STYLE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?is)<(script|style)(?:\s[^>]*)?>.*?</(?:script|style)\s*>").unwrap()
});
static ANY_TAG: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?s)<[^>]*>").unwrap());

/// Normalises an HTML body (see the module doc).
pub fn normalise(html: &str, ignore: &[Regex]) -> String {
    let mut text = html.to_string();
    for pattern in ignore {
        text = pattern.replace_all(&text, "").into_owned();
    }
    let text = COMMENT.replace_all(&text, "");
    let text = TAG.replace_all(&text, |caps: &regex::Captures<'_>| {
        let name = caps[1].to_ascii_lowercase();
        let attrs = parse_attrs(caps.get(2).map_or("", |m| m.as_str()));
        let volatile_tag = attrs
            .iter()
            .any(|(k, v)| matches!(k.as_str(), "name" | "id" | "property") && VOLATILE.is_match(v));
        let mut out = format!("<{name}");
        for (key, value) in attrs {
            if key == "nonce" {
                continue;
            }
            let value = if volatile_tag && (key == "value" || key == "content") {
                String::new()
            } else {
                value
            };
            out.push_str(&format!(" {key}=\"{value}\""));
        }
        out.push_str(&caps[3]);
        out.push('>');
        out
    });
    let text = SPACE.replace_all(&text, " ");
    let text = BETWEEN_TAGS.replace_all(&text, "><");
    text.trim().to_string()
}

fn parse_attrs(text: &str) -> Vec<(String, String)> {
    ATTR.captures_iter(text)
        .map(|c| {
            let value = c
                .get(2)
                .or(c.get(3))
                .or(c.get(4))
                .map_or("", |m| m.as_str());
            (c[1].to_ascii_lowercase(), value.to_string())
        })
        .collect()
}

fn decode_entities(text: &str) -> String {
    text.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&amp;", "&")
}

fn title(normalised: &str) -> Option<String> {
    let raw = TITLE.captures(normalised)?.get(1)?.as_str();
    let text = decode_entities(&SPACE.replace_all(raw, " "));
    Some(text.trim().to_string())
}

fn script_sources(normalised: &str) -> BTreeSet<String> {
    TAG.captures_iter(normalised)
        .filter(|c| c[1].eq_ignore_ascii_case("script"))
        .filter_map(|c| {
            parse_attrs(c.get(2).map_or("", |m| m.as_str()))
                .into_iter()
                .find(|(k, _)| k == "src")
                .map(|(_, v)| decode_entities(v.trim()))
        })
        .collect()
}

fn visible_text(normalised: &str) -> String {
    let text = SCRIPT_OR_STYLE.replace_all(normalised, " ");
    let text = ANY_TAG.replace_all(&text, " ");
    decode_entities(&text).to_lowercase()
}

fn fnv1a(words: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, word) in words.iter().enumerate() {
        if i > 0 {
            hash ^= u64::from(b' ');
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        for byte in word.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

/// The bottom-k sketch of the word 3-shingles of `text`.
pub fn sketch(text: &str) -> Vec<u64> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut hashes: BTreeSet<u64> = BTreeSet::new();
    if words.is_empty() {
        return Vec::new();
    }
    if words.len() < 3 {
        hashes.insert(fnv1a(&words));
    } else {
        for window in words.windows(3) {
            hashes.insert(fnv1a(window));
        }
    }
    hashes.into_iter().take(SKETCH_SIZE).collect()
}

/// Estimated Jaccard similarity of two sketches, 0.0 to 1.0.
pub fn similarity(a: &[u64], b: &[u64]) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    let sa: BTreeSet<u64> = a.iter().copied().collect();
    let sb: BTreeSet<u64> = b.iter().copied().collect();
    let union: Vec<u64> = sa.union(&sb).copied().take(SKETCH_SIZE).collect();
    let both = union
        .iter()
        .filter(|h| sa.contains(h) && sb.contains(h))
        .count();
    both as f64 / union.len() as f64
}

/// One way a page differs from its baseline.
#[derive(Debug, Clone, PartialEq)]
pub enum Difference {
    /// The HTTP status changed.
    Status {
        /// Before.
        from: u16,
        /// After.
        to: u16,
    },
    /// The title changed.
    Title {
        /// Before.
        from: Option<String>,
        /// After.
        to: Option<String>,
    },
    /// Script sources were added or removed.
    Scripts {
        /// New sources.
        added: Vec<String>,
        /// Sources gone.
        removed: Vec<String>,
    },
    /// The same-site redirect chain changed.
    Redirects {
        /// Before.
        from: Vec<String>,
        /// After.
        to: Vec<String>,
    },
    /// A redirect to another site appeared, disappeared or moved.
    OffsiteRedirect {
        /// Before.
        from: Option<String>,
        /// After.
        to: Option<String>,
    },
    /// The TLS certificate changed.
    Certificate {
        /// Before.
        from: Option<String>,
        /// After.
        to: Option<String>,
    },
    /// The normalised content changed.
    Content {
        /// Text similarity with the baseline.
        similarity: f64,
    },
}

/// Every difference between the baseline and the current fingerprint.
pub fn compare(baseline: &Fingerprint, current: &Fingerprint) -> Vec<Difference> {
    let mut out = Vec::new();
    if baseline.status != current.status {
        out.push(Difference::Status {
            from: baseline.status,
            to: current.status,
        });
    }
    if baseline.title != current.title {
        out.push(Difference::Title {
            from: baseline.title.clone(),
            to: current.title.clone(),
        });
    }
    let added: Vec<String> = current
        .scripts
        .difference(&baseline.scripts)
        .cloned()
        .collect();
    let removed: Vec<String> = baseline
        .scripts
        .difference(&current.scripts)
        .cloned()
        .collect();
    if !added.is_empty() || !removed.is_empty() {
        out.push(Difference::Scripts { added, removed });
    }
    if baseline.redirects != current.redirects {
        out.push(Difference::Redirects {
            from: baseline.redirects.clone(),
            to: current.redirects.clone(),
        });
    }
    if baseline.offsite_redirect != current.offsite_redirect {
        out.push(Difference::OffsiteRedirect {
            from: baseline.offsite_redirect.clone(),
            to: current.offsite_redirect.clone(),
        });
    }
    if baseline.tls_certificate != current.tls_certificate {
        out.push(Difference::Certificate {
            from: baseline.tls_certificate.clone(),
            to: current.tls_certificate.clone(),
        });
    }
    if baseline.content_hash != current.content_hash {
        out.push(Difference::Content {
            similarity: similarity(&baseline.shingles, &current.shingles),
        });
    }
    out
}

/// Whether a set of differences is a change worth a detection.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Nothing that matters changed.
    Unchanged {
        /// Text similarity (1.0 when the content hash is the same).
        similarity: f64,
    },
    /// A change, with its readable summary.
    Changed {
        /// For example `title changed from "A" to "B"; 1 new script source:
        /// https://evil.example/x.js; similarity 0.41`.
        summary: String,
    },
}

/// Decides whether the differences are a change: any difference other
/// than content is; a content difference is when the similarity is below
/// `min_similarity`.
pub fn decide(differences: &[Difference], min_similarity: f64) -> Verdict {
    let similarity = differences
        .iter()
        .find_map(|d| match d {
            Difference::Content { similarity } => Some(*similarity),
            _ => None,
        })
        .unwrap_or(1.0);
    let significant = differences.iter().any(|d| match d {
        Difference::Content { similarity } => *similarity < min_similarity,
        _ => true,
    });
    if significant {
        Verdict::Changed {
            summary: summary(differences),
        }
    } else {
        Verdict::Unchanged { similarity }
    }
}

fn show(value: &Option<String>) -> String {
    match value {
        Some(v) => format!("{v:?}"),
        None => "(none)".into(),
    }
}

fn short(hash: &Option<String>) -> String {
    match hash {
        Some(h) => h.chars().take(16).collect(),
        None => "(none)".into(),
    }
}

/// A readable summary of the differences, most telling first.
pub fn summary(differences: &[Difference]) -> String {
    let mut parts = Vec::new();
    for d in differences {
        match d {
            Difference::Status { from, to } => {
                parts.push(format!("HTTP status changed from {from} to {to}"))
            }
            Difference::Title { from, to } => {
                parts.push(format!("title changed from {} to {}", show(from), show(to)))
            }
            Difference::Scripts { added, removed } => {
                if !added.is_empty() {
                    let noun = if added.len() == 1 {
                        "source"
                    } else {
                        "sources"
                    };
                    parts.push(format!(
                        "{} new script {noun}: {}",
                        added.len(),
                        added.join(", ")
                    ));
                }
                if !removed.is_empty() {
                    let noun = if removed.len() == 1 {
                        "source"
                    } else {
                        "sources"
                    };
                    parts.push(format!(
                        "{} script {noun} removed: {}",
                        removed.len(),
                        removed.join(", ")
                    ));
                }
            }
            Difference::Redirects { from, to } => parts.push(format!(
                "redirect chain changed from [{}] to [{}]",
                from.join(" -> "),
                to.join(" -> ")
            )),
            Difference::OffsiteRedirect { to: Some(to), .. } => {
                parts.push(format!("redirects to another site (not followed): {to}"))
            }
            Difference::OffsiteRedirect {
                from: Some(from),
                to: None,
            } => parts.push(format!("no longer redirects to {from}")),
            Difference::OffsiteRedirect { .. } => {}
            Difference::Certificate { from, to } => parts.push(format!(
                "TLS certificate changed from {} to {}",
                short(from),
                short(to)
            )),
            Difference::Content { .. } => {}
        }
    }
    for d in differences {
        if let Difference::Content { similarity } = d {
            parts.push(format!("content changed, similarity {similarity:.2}"));
        }
    }
    parts.join("; ")
}

/// The detection for a changed URL.
pub fn detection(
    url: &str,
    differences: &[Difference],
    summary: &str,
    now: Timestamp,
) -> Detection {
    let host = reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_default();
    let defacement = differences.iter().any(|d| {
        matches!(
            d,
            Difference::Title { .. }
                | Difference::Scripts { .. }
                | Difference::OffsiteRedirect { .. }
        ) || matches!(d, Difference::Content { similarity } if *similarity < 0.5)
    });
    let mut entities = BTreeMap::new();
    entities.insert("url".to_string(), url.to_string());
    entities.insert("host".to_string(), host.clone());
    let mut fields = BTreeMap::new();
    fields.insert("summary".to_string(), summary.to_string());
    for d in differences {
        match d {
            Difference::Title { from, to } => {
                fields.insert("previous_title".into(), from.clone().unwrap_or_default());
                fields.insert("title".into(), to.clone().unwrap_or_default());
            }
            Difference::Scripts { added, removed } => {
                fields.insert("new_scripts".into(), added.join(" "));
                fields.insert("removed_scripts".into(), removed.join(" "));
            }
            Difference::Content { similarity } => {
                fields.insert("similarity".into(), format!("{similarity:.2}"));
            }
            Difference::Status { to, .. } => {
                fields.insert("status".into(), to.to_string());
            }
            Difference::OffsiteRedirect { to: Some(to), .. } => {
                fields.insert("offsite_redirect".into(), to.clone());
            }
            _ => {}
        }
    }
    Detection {
        rule_id: RULE_WEB_CHANGE.to_string(),
        rule_title: "Website changed".to_string(),
        level: if defacement {
            Level::High
        } else {
            Level::Medium
        },
        timestamp: Some(now),
        file: crate::source_id(url),
        record: 0,
        host: Some(host),
        logsource: LogSource::default(),
        policy: Some("web_change"),
        entities,
        fields,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn page(body: &str) -> Page {
        Page {
            url: "http://site.test/".into(),
            final_url: "http://site.test/".into(),
            redirects: Vec::new(),
            offsite_redirect: None,
            status: 200,
            body: body.as_bytes().to_vec(),
            truncated: false,
            tls_certificate: None,
        }
    }

    fn fp(body: &str) -> Fingerprint {
        fingerprint(&page(body), &[], datetime!(2026-11-30 12:00 UTC))
    }

    #[test]
    fn volatile_tokens_and_whitespace_do_not_change_the_hash() {
        let a = fp(
            r#"<html><head><title>Shop</title><meta name="csrf-token" content="abc123">
            <script nonce="r4nd0m" src="/app.js"></script></head>
            <body><form><input type="hidden" name="_csrf_token" value="t1"></form><!-- built 10:00 --></body></html>"#,
        );
        let b = fp(
            r#"<html><head><title>Shop</title>   <meta name="csrf-token" content="zzz999">
<script nonce='other' src="/app.js"></script></head><body><form>
<input type="hidden" name="_csrf_token" value="t2"></form><!-- built 11:00 --></body></html>"#,
        );
        assert_eq!(a.content_hash, b.content_hash);
        assert!(compare(&a, &b).is_empty());
    }

    #[test]
    fn defacement_is_summarised() {
        let text = "welcome to our shop we sell fine tea and coffee from many countries";
        let a = fp(&format!(
            "<title>Shop</title><script src=\"/app.js\"></script><p>{text}</p>"
        ));
        let b = fp(
            "<title>Hacked by X</title><script src=\"/app.js\"></script><script src=\"https://evil.example/m.js\"></script><p>owned owned owned</p>",
        );
        let diffs = compare(&a, &b);
        let Verdict::Changed { summary } = decide(&diffs, 0.9) else {
            panic!("expected a change: {diffs:?}")
        };
        assert!(summary.starts_with("title changed from \"Shop\" to \"Hacked by X\"; 1 new script source: https://evil.example/m.js; content changed, similarity 0.00"), "{summary}");
        let d = detection(
            "http://site.test/",
            &diffs,
            &summary,
            datetime!(2026-11-30 12:00 UTC),
        );
        assert_eq!(d.level, Level::High);
        assert_eq!(d.entities["url"], "http://site.test/");
        assert_eq!(d.fields["title"], "Hacked by X");
    }

    #[test]
    fn small_edits_stay_above_the_similarity_threshold() {
        let words: Vec<String> = (0..200).map(|i| format!("word{i}")).collect();
        let a = fp(&format!("<p>{}</p>", words.join(" ")));
        let mut edited = words.clone();
        edited[100] = "changed".into();
        let b = fp(&format!("<p>{}</p>", edited.join(" ")));
        let diffs = compare(&a, &b);
        let Verdict::Unchanged { similarity } = decide(&diffs, 0.9) else {
            panic!("one word in 200 is not a defacement: {diffs:?}")
        };
        assert!(similarity > 0.95 && similarity < 1.0, "{similarity}");
    }

    #[test]
    fn similarity_bounds() {
        assert_eq!(similarity(&[], &[]), 1.0);
        assert_eq!(similarity(&[1, 2], &[]), 0.0);
        assert_eq!(similarity(&[1, 2], &[1, 2]), 1.0);
        assert_eq!(similarity(&[1, 2], &[2, 3]), 1.0 / 3.0);
    }
}
