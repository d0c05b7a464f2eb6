//! Public disclosure: the `[security_txt]` and `[disclosure]` configuration
//! tables, checked once into [`Disclosure`], and the public documents made
//! from it and from published advisories: security.txt (RFC 9116), the Atom
//! feed, CSAF 2.0 documents (profile `csaf_security_incident_response`), the
//! CSAF provider metadata and the CSAF directory's `index.txt` and
//! `changes.csv`.
//!
//! Everything here is pure (text in, text out): the routes that serve it are
//! [`crate::public`]. The documents are made from
//! [`incidents::PublicAdvisory`] only, which carries the text written for
//! the public and its dates, never the incident's internal record.

use serde::Deserialize;
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::PublicUrl;
use incidents::{AdvisoryId, PublicAdvisory};

/// How long before `expires` the pages warn that security.txt is about to
/// go stale.
pub const EXPIRY_WARNING: Duration = Duration::days(30);

/// `[security_txt]`: the fields of `/.well-known/security.txt` (RFC 9116).
/// `Canonical` is made from `public_url`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityTxtConfig {
    /// Where to report vulnerabilities, most preferred first: `mailto:` or
    /// `https:` URIs (at least one).
    pub contact: Vec<String>,
    /// When the file's content goes stale, RFC 3339 (e.g.
    /// `2027-06-30T00:00:00Z`); RFC 9116 advises less than a year ahead.
    /// The pages warn 30 days before it, and the server warns at start.
    pub expires: String,
    /// The vulnerability disclosure policy (an `https:` URL).
    #[serde(default)]
    pub policy: Option<String>,
    /// Languages reports may be written in (tags such as `en`, `fr`),
    /// joined with commas on one line.
    #[serde(default)]
    pub preferred_languages: Vec<String>,
    /// Where a key to encrypt reports with is (one URI or a list:
    /// `https:`, `dns:` or `openpgp4fpr:`).
    #[serde(default)]
    pub encryption: OneOrMany,
    /// The page thanking reporters (an `https:` URL).
    #[serde(default)]
    pub acknowledgments: Option<String>,
    /// The security jobs page (an `https:` URL).
    #[serde(default)]
    pub hiring: Option<String>,
}

/// One value or a list of values.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    /// None given.
    #[default]
    None,
    /// One value.
    One(String),
    /// A list.
    Many(Vec<String>),
}

impl OneOrMany {
    /// The values, in order.
    pub fn values(&self) -> Vec<String> {
        match self {
            OneOrMany::None => Vec::new(),
            OneOrMany::One(v) => vec![v.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

/// `[disclosure]`: who publishes the advisories (CSAF's
/// `document.publisher`). Every key is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisclosureConfig {
    /// The publishing organisation's name (default: the host of
    /// `public_url`).
    #[serde(default)]
    pub publisher_name: Option<String>,
    /// The organisation's namespace, an `https:` URL (default:
    /// `public_url`).
    #[serde(default)]
    pub publisher_namespace: Option<String>,
    /// How to reach the publisher about an advisory (free text, e.g. an
    /// email address).
    #[serde(default)]
    pub contact_details: Option<String>,
}

/// A configuration the public side cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DisclosureError {
    /// `public_url` is needed and not set.
    #[error(
        "[security_txt] and [disclosure] need public_url: security.txt's Canonical line and the advisories' links are made from it"
    )]
    NoPublicUrl,
    /// A field's value is refused.
    #[error("[{table}] {key}: {message}")]
    Field {
        /// The table.
        table: &'static str,
        /// The key.
        key: &'static str,
        /// Why.
        message: String,
    },
}

fn field(table: &'static str, key: &'static str, message: impl Into<String>) -> DisclosureError {
    DisclosureError::Field {
        table,
        key,
        message: message.into(),
    }
}

/// The checked security.txt fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityTxt {
    contact: Vec<String>,
    expires: OffsetDateTime,
    encryption: Vec<String>,
    acknowledgments: Option<String>,
    preferred_languages: Vec<String>,
    policy: Option<String>,
    hiring: Option<String>,
}

/// The publisher of the advisories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publisher {
    /// Name.
    pub name: String,
    /// Namespace (an `https:` or `http:` URL).
    pub namespace: String,
    /// Contact details, if given.
    pub contact_details: Option<String>,
}

/// The public side's settings: the server's public address, the publisher
/// and, when configured, security.txt. Built once at start by
/// [`Disclosure::from_config`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disclosure {
    public_url: PublicUrl,
    security_txt: Option<SecurityTxt>,
    publisher: Publisher,
}

/// A value that may go on one line of a text file: no control characters
/// (a line break would let configuration add a field of its own).
fn one_line(table: &'static str, key: &'static str, v: &str) -> Result<String, DisclosureError> {
    let v = v.trim();
    if v.is_empty() {
        return Err(field(table, key, "must not be empty"));
    }
    if v.chars().any(char::is_control) {
        return Err(field(
            table,
            key,
            "must be one line without control characters",
        ));
    }
    Ok(v.to_owned())
}

/// A URI with one of `schemes` (each given with its colon, e.g. `https:`).
fn uri(
    table: &'static str,
    key: &'static str,
    v: &str,
    schemes: &[&str],
) -> Result<String, DisclosureError> {
    let v = one_line(table, key, v)?;
    if v.contains(' ')
        || !schemes
            .iter()
            .any(|s| v.starts_with(s) && v.len() > s.len())
    {
        return Err(field(
            table,
            key,
            format!("{v:?} must be a URI starting with {}", schemes.join(" or ")),
        ));
    }
    Ok(v)
}

impl Disclosure {
    /// Checks the tables. `None` when neither table is configured (the
    /// public side is off); `public_url` is required when either is.
    pub fn from_config(
        public_url: Option<&PublicUrl>,
        security_txt: Option<&SecurityTxtConfig>,
        disclosure: Option<&DisclosureConfig>,
    ) -> Result<Option<Disclosure>, DisclosureError> {
        if security_txt.is_none() && disclosure.is_none() {
            return Ok(None);
        }
        let public_url = public_url.ok_or(DisclosureError::NoPublicUrl)?.clone();
        let security_txt = security_txt.map(SecurityTxt::check).transpose()?;
        let d = disclosure.cloned().unwrap_or_default();
        const T: &str = "disclosure";
        let name = match &d.publisher_name {
            Some(n) => one_line(T, "publisher_name", n)?,
            None => url::Url::parse(public_url.as_str())
                .ok()
                .and_then(|u| u.host_str().map(str::to_owned))
                .unwrap_or_else(|| public_url.as_str().to_owned()),
        };
        let namespace = match &d.publisher_namespace {
            Some(n) => uri(T, "publisher_namespace", n, &["https://"])?,
            None => public_url.as_str().to_owned(),
        };
        let contact_details = d
            .contact_details
            .as_deref()
            .map(|c| one_line(T, "contact_details", c))
            .transpose()?;
        Ok(Some(Disclosure {
            public_url,
            security_txt,
            publisher: Publisher {
                name,
                namespace,
                contact_details,
            },
        }))
    }

    /// The server's public address.
    pub fn public_url(&self) -> &PublicUrl {
        &self.public_url
    }

    /// The publisher.
    pub fn publisher(&self) -> &Publisher {
        &self.publisher
    }

    /// The security.txt settings, when `[security_txt]` is configured.
    pub fn security_txt(&self) -> Option<&SecurityTxt> {
        self.security_txt.as_ref()
    }

    /// The warning the pages show to responders and admins when
    /// security.txt expires within [`EXPIRY_WARNING`] of `now`, or has
    /// expired.
    pub fn expiry_warning(&self, now: OffsetDateTime) -> Option<String> {
        let s = self.security_txt.as_ref()?;
        let at = rfc3339(s.expires);
        if s.expires <= now {
            Some(format!(
                "security.txt expired on {at}: finders are told its contacts may be stale. Set a new expires in [security_txt] and restart."
            ))
        } else if s.expires - now <= EXPIRY_WARNING {
            let days = (s.expires - now).whole_days();
            Some(format!(
                "security.txt expires on {at} (in {days} day{}): set a new expires in [security_txt] and restart.",
                if days == 1 { "" } else { "s" }
            ))
        } else {
            None
        }
    }

    /// The URL of advisory `id`'s page.
    pub fn advisory_url(&self, id: &AdvisoryId) -> String {
        self.public_url.join(&format!("/advisories/{id}"))
    }

    /// The CSAF directory path of a published advisory (`YYYY/name.json`,
    /// by the year of its first release, as CSAF 2.0 §7.1.11 asks).
    pub fn csaf_path(a: &PublicAdvisory) -> String {
        format!("{}/{}", a.published_at.year(), csaf_file_name(&a.id))
    }

    /// The URL of a published advisory's CSAF document in the directory.
    pub fn csaf_url(&self, a: &PublicAdvisory) -> String {
        self.public_url
            .join(&format!("/.well-known/csaf/white/{}", Self::csaf_path(a)))
    }

    /// The CSAF 2.0 publisher object.
    fn csaf_publisher(&self) -> Value {
        let mut p = json!({
            "category": "vendor",
            "name": self.publisher.name,
            "namespace": self.publisher.namespace,
        });
        if let Some(c) = &self.publisher.contact_details {
            p["contact_details"] = json!(c);
        }
        p
    }

    /// The CSAF 2.0 document of a published advisory (profile
    /// `csaf_security_incident_response`): the public title, the summary
    /// (`summary`), impact (`details`) and remediation (`general`) as notes,
    /// the advisory page as an `external` reference, and its tracking.
    pub fn csaf(&self, a: &PublicAdvisory) -> Value {
        let published = rfc3339(a.published_at);
        let current = rfc3339(a.updated_at.max(a.published_at));
        json!({
            "document": {
                "category": "csaf_security_incident_response",
                "csaf_version": "2.0",
                "distribution": { "tlp": { "label": "WHITE", "url": "https://www.first.org/tlp/" } },
                "lang": "en",
                "notes": [
                    { "category": "summary", "title": "Summary", "text": a.text.summary },
                    { "category": "details", "title": "Impact", "text": a.text.impact },
                    { "category": "general", "title": "Remediation", "text": a.text.remediation },
                ],
                "publisher": self.csaf_publisher(),
                "references": [
                    { "category": "self", "summary": "This CSAF document", "url": self.csaf_url(a) },
                    { "category": "external", "summary": "The advisory", "url": self.advisory_url(&a.id) },
                ],
                "title": a.text.title,
                "tracking": {
                    "current_release_date": current,
                    "id": a.id.to_string(),
                    "initial_release_date": published,
                    "revision_history": [
                        { "date": published, "number": "1", "summary": "First public release." },
                    ],
                    "status": "final",
                    "version": "1",
                },
            }
        })
    }

    /// The CSAF provider metadata (`/.well-known/csaf/provider-metadata.json`).
    /// `last_updated` is the newest advisory change, or `now` when there is
    /// none.
    pub fn provider_metadata(&self, all: &[PublicAdvisory], now: OffsetDateTime) -> Value {
        let last = all
            .iter()
            .map(|a| a.updated_at.max(a.published_at))
            .max()
            .unwrap_or(now);
        json!({
            "canonical_url": self.public_url.join("/.well-known/csaf/provider-metadata.json"),
            "distributions": [
                { "directory_url": self.public_url.join("/.well-known/csaf/white/") },
            ],
            "last_updated": rfc3339(last),
            "list_on_CSAF_aggregators": true,
            "metadata_version": "2.0",
            "mirror_on_CSAF_aggregators": true,
            "publisher": self.csaf_publisher(),
            "role": "csaf_publisher",
        })
    }

    /// The Atom 1.0 feed of published advisories (newest first).
    pub fn atom(&self, all: &[PublicAdvisory], now: OffsetDateTime) -> String {
        let updated = all
            .iter()
            .map(|a| a.updated_at.max(a.published_at))
            .max()
            .unwrap_or(now);
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
        out.push_str("<feed xmlns=\"http://www.w3.org/2005/Atom\">\n");
        push_element(&mut out, "  ", "id", &self.public_url.join("/advisories"));
        push_element(
            &mut out,
            "  ",
            "title",
            &format!("{} security advisories", self.publisher.name),
        );
        push_element(&mut out, "  ", "updated", &rfc3339(updated));
        out.push_str(&format!(
            "  <link rel=\"self\" type=\"application/atom+xml\" href=\"{}\"/>\n",
            xml_escape(&self.public_url.join("/advisories.atom"))
        ));
        out.push_str(&format!(
            "  <link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>\n",
            xml_escape(&self.public_url.join("/advisories"))
        ));
        out.push_str("  <author>\n");
        push_element(&mut out, "    ", "name", &self.publisher.name);
        out.push_str("  </author>\n");
        for a in all {
            let url = self.advisory_url(&a.id);
            out.push_str("  <entry>\n");
            push_element(&mut out, "    ", "id", &url);
            push_element(
                &mut out,
                "    ",
                "title",
                &format!("{}: {}", a.id, a.text.title),
            );
            push_element(
                &mut out,
                "    ",
                "updated",
                &rfc3339(a.updated_at.max(a.published_at)),
            );
            push_element(&mut out, "    ", "published", &rfc3339(a.published_at));
            push_element(&mut out, "    ", "summary", &a.text.summary);
            out.push_str(&format!(
                "    <link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>\n",
                xml_escape(&url)
            ));
            out.push_str("  </entry>\n");
        }
        out.push_str("</feed>\n");
        out
    }
}

impl SecurityTxt {
    fn check(c: &SecurityTxtConfig) -> Result<SecurityTxt, DisclosureError> {
        const T: &str = "security_txt";
        if c.contact.is_empty() {
            return Err(field(
                T,
                "contact",
                "give at least one contact (a mailto: or https: URI)",
            ));
        }
        let contact = c
            .contact
            .iter()
            .map(|v| uri(T, "contact", v, &["mailto:", "https://"]))
            .collect::<Result<_, _>>()?;
        let expires = OffsetDateTime::parse(c.expires.trim(), &Rfc3339).map_err(|_| {
            field(
                T,
                "expires",
                format!(
                    "{:?} is not an RFC 3339 time such as 2027-06-30T00:00:00Z",
                    c.expires
                ),
            )
        })?;
        let encryption = c
            .encryption
            .values()
            .iter()
            .map(|v| uri(T, "encryption", v, &["https://", "dns:", "openpgp4fpr:"]))
            .collect::<Result<_, _>>()?;
        let preferred_languages = c
            .preferred_languages
            .iter()
            .map(|l| {
                let l = l.trim();
                let ok = !l.is_empty()
                    && l.len() <= 35
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
                if ok {
                    Ok(l.to_owned())
                } else {
                    Err(field(
                        T,
                        "preferred_languages",
                        format!("{l:?} is not a language tag such as en or pt-BR"),
                    ))
                }
            })
            .collect::<Result<_, _>>()?;
        let https = |key: &'static str, v: &Option<String>| {
            v.as_deref()
                .map(|v| uri(T, key, v, &["https://"]))
                .transpose()
        };
        Ok(SecurityTxt {
            contact,
            expires: expires.to_offset(time::UtcOffset::UTC),
            encryption,
            acknowledgments: https("acknowledgments", &c.acknowledgments)?,
            preferred_languages,
            policy: https("policy", &c.policy)?,
            hiring: https("hiring", &c.hiring)?,
        })
    }

    /// When the file goes stale.
    pub fn expires(&self) -> OffsetDateTime {
        self.expires
    }

    /// The file's text (RFC 9116), lines ending in LF; `Canonical` is
    /// `{public_url}/.well-known/security.txt`.
    pub fn text(&self, public_url: &PublicUrl) -> String {
        let mut out = String::new();
        for c in &self.contact {
            out.push_str(&format!("Contact: {c}\n"));
        }
        out.push_str(&format!("Expires: {}\n", rfc3339(self.expires)));
        for e in &self.encryption {
            out.push_str(&format!("Encryption: {e}\n"));
        }
        if let Some(a) = &self.acknowledgments {
            out.push_str(&format!("Acknowledgments: {a}\n"));
        }
        if let Some(p) = &self.policy {
            out.push_str(&format!("Policy: {p}\n"));
        }
        if !self.preferred_languages.is_empty() {
            out.push_str(&format!(
                "Preferred-Languages: {}\n",
                self.preferred_languages.join(", ")
            ));
        }
        out.push_str(&format!(
            "Canonical: {}\n",
            public_url.join("/.well-known/security.txt")
        ));
        if let Some(h) = &self.hiring {
            out.push_str(&format!("Hiring: {h}\n"));
        }
        out
    }
}

/// A time as RFC 3339 in UTC, to the second (`2026-12-05T10:00:00Z`).
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(t)
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// The CSAF file name of an advisory id (CSAF 2.0 §5.1: lower case, every
/// character but `+`, `-`, `a-z` and `0-9` as `_`, then `.json`).
pub fn csaf_file_name(id: &AdvisoryId) -> String {
    let mut name: String = id
        .to_string()
        .to_lowercase()
        .chars()
        .map(|c| {
            if c == '+' || c == '-' || c.is_ascii_lowercase() || c.is_ascii_digit() {
                c
            } else {
                '_'
            }
        })
        .collect();
    name.push_str(".json");
    name
}

/// The CSAF directory's `index.txt`: one path per line.
pub fn csaf_index(all: &[PublicAdvisory]) -> String {
    all.iter()
        .map(|a| format!("{}\n", Disclosure::csaf_path(a)))
        .collect()
}

/// The CSAF directory's `changes.csv`: `"path","time"` per line, newest
/// change first.
pub fn csaf_changes(all: &[PublicAdvisory]) -> String {
    let mut rows: Vec<(OffsetDateTime, String)> = all
        .iter()
        .map(|a| (a.updated_at.max(a.published_at), Disclosure::csaf_path(a)))
        .collect();
    rows.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    rows.into_iter()
        .map(|(t, p)| format!("\"{p}\",\"{}\"\n", rfc3339(t)))
        .collect()
}

/// Escapes text for XML content and attribute values; characters XML 1.0
/// cannot carry (most control characters) become U+FFFD.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

fn push_element(out: &mut String, indent: &str, name: &str, text: &str) {
    out.push_str(&format!("{indent}<{name}>{}</{name}>\n", xml_escape(text)));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url() -> PublicUrl {
        PublicUrl::parse("https://wp.example.com/").unwrap()
    }

    fn txt() -> SecurityTxtConfig {
        SecurityTxtConfig {
            contact: vec!["mailto:security@example.com".into()],
            expires: "2030-01-01T00:00:00Z".into(),
            policy: None,
            preferred_languages: vec![],
            encryption: OneOrMany::None,
            acknowledgments: None,
            hiring: None,
        }
    }

    #[test]
    fn nothing_configured_is_off_and_public_url_is_required() {
        assert_eq!(Disclosure::from_config(Some(&url()), None, None), Ok(None));
        assert_eq!(
            Disclosure::from_config(None, Some(&txt()), None),
            Err(DisclosureError::NoPublicUrl)
        );
        assert_eq!(
            Disclosure::from_config(None, None, Some(&DisclosureConfig::default())),
            Err(DisclosureError::NoPublicUrl)
        );
    }

    #[test]
    fn bad_fields_are_named() {
        let check = |c: SecurityTxtConfig| {
            Disclosure::from_config(Some(&url()), Some(&c), None)
                .unwrap_err()
                .to_string()
        };
        let mut c = txt();
        c.contact = vec![];
        assert_eq!(
            check(c),
            "[security_txt] contact: give at least one contact (a mailto: or https: URI)"
        );
        let mut c = txt();
        c.contact = vec!["http://example.com".into()];
        assert_eq!(
            check(c),
            "[security_txt] contact: \"http://example.com\" must be a URI starting with mailto: or https://"
        );
        let mut c = txt();
        c.contact = vec!["mailto:a@example.com\nHiring: https://evil".into()];
        assert_eq!(
            check(c),
            "[security_txt] contact: must be one line without control characters"
        );
        let mut c = txt();
        c.expires = "next year".into();
        assert_eq!(
            check(c),
            "[security_txt] expires: \"next year\" is not an RFC 3339 time such as 2027-06-30T00:00:00Z"
        );
        let mut c = txt();
        c.preferred_languages = vec!["en, fr".into()];
        assert_eq!(
            check(c),
            "[security_txt] preferred_languages: \"en, fr\" is not a language tag such as en or pt-BR"
        );
        let d = DisclosureConfig {
            publisher_namespace: Some("ftp://x".into()),
            ..DisclosureConfig::default()
        };
        assert_eq!(
            Disclosure::from_config(Some(&url()), None, Some(&d))
                .unwrap_err()
                .to_string(),
            "[disclosure] publisher_namespace: \"ftp://x\" must be a URI starting with https://"
        );
    }

    #[test]
    fn the_publisher_defaults_to_the_public_url() {
        let d = Disclosure::from_config(Some(&url()), Some(&txt()), None)
            .unwrap()
            .unwrap();
        assert_eq!(
            d.publisher(),
            &Publisher {
                name: "wp.example.com".into(),
                namespace: "https://wp.example.com".into(),
                contact_details: None,
            }
        );
    }

    #[test]
    fn expiry_warns_thirty_days_ahead() {
        let d = Disclosure::from_config(Some(&url()), Some(&txt()), None)
            .unwrap()
            .unwrap();
        let at = |s: &str| OffsetDateTime::parse(s, &Rfc3339).unwrap();
        assert_eq!(d.expiry_warning(at("2029-12-01T00:00:00Z")), None);
        assert_eq!(
            d.expiry_warning(at("2029-12-02T00:00:00Z")).as_deref(),
            Some(
                "security.txt expires on 2030-01-01T00:00:00Z (in 30 days): set a new expires in [security_txt] and restart."
            )
        );
        assert_eq!(
            d.expiry_warning(at("2030-01-01T00:00:00Z")).as_deref(),
            Some(
                "security.txt expired on 2030-01-01T00:00:00Z: finders are told its contacts may be stale. Set a new expires in [security_txt] and restart."
            )
        );
    }

    #[test]
    fn xml_is_escaped() {
        assert_eq!(
            xml_escape("<a href=\"x\">&'\u{1}</a>"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&apos;\u{FFFD}&lt;/a&gt;"
        );
    }

    #[test]
    fn csaf_file_names_follow_the_spec() {
        assert_eq!(
            csaf_file_name(&AdvisoryId::new(2026, 12)),
            "wp-2026-0012.json"
        );
    }
}
