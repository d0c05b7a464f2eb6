//! [`Report`]: what a person tells us, and its attachments. Filing a report
//! opens an incident in `triage` linked to it.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::enums::{Category, Channel, Severity, Status};
use crate::ids::{AttachmentId, IncidentId, ReportId, UserId};
use crate::incident::{Incident, Opening};

/// A report as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Id.
    pub id: ReportId,
    /// Who filed it; `None` for an anonymous report.
    pub reporter: Option<UserId>,
    /// How it reached us.
    pub channel: Channel,
    /// Category.
    pub category: Category,
    /// What happened.
    pub description: String,
    /// When it happened (may be long ago).
    #[serde(with = "time::serde::rfc3339::option")]
    pub occurred_at: Option<OffsetDateTime>,
    /// Where, or which asset.
    pub location: Option<String>,
    /// Need-to-know (always true for harassment and physical injury).
    pub sensitive: bool,
    /// The incident it opened (or was moved to by a merge).
    pub incident_id: IncidentId,
    /// The status of that incident (what a reporter may know about it).
    pub incident_status: Status,
    /// Attachment metadata (the bytes live outside the database).
    pub attachments: Vec<Attachment>,
    /// When it was filed.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// Input for filing a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewReport {
    /// How it reached us.
    pub channel: Channel,
    /// Category.
    pub category: Category,
    /// What happened (1..=20,000 characters).
    pub description: String,
    /// When it happened.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub occurred_at: Option<OffsetDateTime>,
    /// Where, or which asset.
    #[serde(default)]
    pub location: Option<String>,
    /// Whether the reporter asks for need-to-know handling.
    #[serde(default)]
    pub sensitive: bool,
    /// File without a reporter; allowed only where
    /// [`Channel::allows_anonymous`]. An anonymous report is not visible to
    /// the person who filed it afterwards.
    #[serde(default)]
    pub anonymous: bool,
    /// Files to attach.
    #[serde(default)]
    pub attachments: Vec<NewAttachment>,
}

impl NewReport {
    /// The severity of the incident a report opens, until triage decides.
    pub const INCIDENT_SEVERITY: Severity = Severity::Sev3;

    /// The most characters of the description's first line that the
    /// incident's title quotes.
    pub const TITLE_QUOTE_CHARS: usize = 80;

    /// The most attachments one report may carry (filed with it and added
    /// later together).
    pub const MAX_ATTACHMENTS: usize = 20;

    /// Whether the report (and the incident it opens) is sensitive: the
    /// reporter asked, or the category is always sensitive.
    pub fn is_sensitive(&self) -> bool {
        self.sensitive || self.category.always_sensitive()
    }

    /// The title of the incident the report opens: the category and the
    /// first line of the description (its first
    /// [`TITLE_QUOTE_CHARS`](Self::TITLE_QUOTE_CHARS) characters, trimmed),
    /// as in `theft report: laptop gone from desk 4`.
    pub fn incident_title(&self) -> String {
        let first_line: String = self
            .description
            .lines()
            .next()
            .unwrap_or_default()
            .chars()
            .take(Self::TITLE_QUOTE_CHARS)
            .collect();
        format!("{} report: {}", self.category, first_line.trim())
    }

    /// The incident the report opens, in triage, reported and created at
    /// `at`.
    pub fn incident(&self, at: OffsetDateTime) -> Incident {
        Incident::open(
            Opening {
                title: self.incident_title(),
                description: self.description.clone(),
                category: self.category,
                severity: Self::INCIDENT_SEVERITY,
                sensitive: self.is_sensitive(),
                occurred_at: self.occurred_at,
                detected_at: None,
                reported_at: at,
            },
            at,
        )
    }
}

/// An attachment to store with a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewAttachment {
    /// Original file name (display only; never used as a path).
    pub filename: String,
    /// MIME type as given.
    pub content_type: String,
    /// The bytes (at most [`crate::StoreOptions::max_attachment_bytes`]).
    pub bytes: Vec<u8>,
}

/// Attachment metadata. The content lives in a content-addressed file
/// `<data dir>/attachments/<sha256[0..2]>/<sha256>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// Id.
    pub id: AttachmentId,
    /// The report.
    pub report_id: ReportId,
    /// Original file name.
    pub filename: String,
    /// MIME type as given.
    pub content_type: String,
    /// Size in bytes.
    pub size: i64,
    /// Hex SHA-256 of the content.
    pub sha256: String,
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    fn report(category: Category, description: &str, sensitive: bool) -> NewReport {
        NewReport {
            channel: Channel::Web,
            category,
            description: description.into(),
            occurred_at: Some(datetime!(2026-11-29 18:00 UTC)),
            location: None,
            sensitive,
            anonymous: false,
            attachments: Vec::new(),
        }
    }

    #[test]
    fn the_incident_title_quotes_the_first_line() {
        // (category, description, title), by hand.
        let long = "x".repeat(100);
        let cases = [
            (
                Category::Theft,
                "laptop gone\nfrom desk 4",
                "theft report: laptop gone".to_owned(),
            ),
            (
                Category::Forgery,
                "  forged invoice  ",
                "forgery report: forged invoice".to_owned(),
            ),
            (Category::Other, "", "other report: ".to_owned()),
            (
                Category::DenialOfService,
                long.as_str(),
                format!("denial_of_service report: {}", "x".repeat(80)),
            ),
            (
                Category::Threats,
                "ünïcödé 🙂 line\r\nsecond",
                "threats report: ünïcödé 🙂 line".to_owned(),
            ),
        ];
        for (category, description, title) in cases {
            assert_eq!(report(category, description, false).incident_title(), title);
        }
    }

    #[test]
    fn a_report_opens_a_sev3_triage_incident() {
        let at = datetime!(2026-11-30 12:00 UTC);
        let r = report(Category::Theft, "laptop gone\nfrom desk 4", false);
        let i = r.incident(at);
        assert_eq!(i.title, "theft report: laptop gone");
        assert_eq!(i.description, "laptop gone\nfrom desk 4");
        assert_eq!(i.category, Category::Theft);
        assert_eq!(i.severity, Severity::Sev3);
        assert_eq!(i.status, Status::Triage);
        assert!(!i.sensitive);
        assert_eq!(i.times.occurred_at, Some(datetime!(2026-11-29 18:00 UTC)));
        assert_eq!(i.times.detected_at, None);
        assert_eq!((i.times.reported_at, i.created_at), (at, at));
    }

    #[test]
    fn sensitivity_is_asked_for_or_given_by_the_category() {
        // (category, ticked, sensitive), by hand.
        for (category, ticked, expected) in [
            (Category::Theft, false, false),
            (Category::Theft, true, true),
            (Category::Harassment, false, true),
            (Category::PhysicalInjury, false, true),
            (Category::AccountAbuse, false, false),
        ] {
            let r = report(category, "d", ticked);
            assert_eq!(r.is_sensitive(), expected, "{category}");
            assert_eq!(
                r.incident(datetime!(2026-11-30 12:00 UTC)).sensitive,
                expected
            );
        }
    }
}
