//! Public advisories: what is published about an incident once it is over.
//!
//! An [`Advisory`] holds only text written for the public (title, summary,
//! impact, remediation) and its own dates; it never copies the incident's
//! internal record (title, description, timeline, notes, reporter,
//! evidence). Disclosure is guarded by the store:
//! - only a closed, confirmed ([`Resolution::is_confirmed`]), non-sensitive
//!   incident gets one;
//! - a draft is published only when a responder other than its author (who
//!   wrote its current text) approves it;
//! - the public read ([`PublicAdvisory`]) returns published advisories of
//!   incidents that are still not sensitive, and only their public fields.
//!
//! This module is pure: types and validation, no SQL.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::enums::Resolution;
use crate::ids::{IncidentId, UserId};

/// An advisory id, `WP-YYYY-NNNN`: the year it was created and its number
/// within that year (at least four digits).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AdvisoryId {
    year: i32,
    seq: u32,
}

impl AdvisoryId {
    /// The id of advisory number `seq` of `year`.
    pub const fn new(year: i32, seq: u32) -> Self {
        AdvisoryId { year, seq }
    }

    /// The year it was created.
    pub const fn year(&self) -> i32 {
        self.year
    }

    /// Its number within the year.
    pub const fn seq(&self) -> u32 {
        self.seq
    }
}

impl fmt::Display for AdvisoryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WP-{:04}-{:04}", self.year, self.seq)
    }
}

/// A string that is not an advisory id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an advisory id (WP-YYYY-NNNN)")]
pub struct ParseAdvisoryIdError(pub String);

impl FromStr for AdvisoryId {
    type Err = ParseAdvisoryIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || ParseAdvisoryIdError(s.to_owned());
        let rest = s.strip_prefix("WP-").ok_or_else(bad)?;
        let (year, seq) = rest.split_once('-').ok_or_else(bad)?;
        let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        if year.len() != 4 || !digits(year) || seq.len() < 4 || seq.len() > 9 || !digits(seq) {
            return Err(bad());
        }
        let year: i32 = year.parse().map_err(|_| bad())?;
        let seq: u32 = seq.parse().map_err(|_| bad())?;
        let id = AdvisoryId { year, seq };
        // One spelling per id: no extra leading zeros, no number zero.
        if seq == 0 || id.to_string() != s {
            return Err(bad());
        }
        Ok(id)
    }
}

impl TryFrom<String> for AdvisoryId {
    type Error = ParseAdvisoryIdError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<AdvisoryId> for String {
    fn from(id: AdvisoryId) -> String {
        id.to_string()
    }
}

/// Where an advisory stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AdvisoryStatus {
    /// Written, waiting for a second responder's approval; not public.
    Draft,
    /// Approved and public.
    Published,
}

impl AdvisoryStatus {
    /// The stable wire name (`draft`, `published`).
    pub const fn as_str(self) -> &'static str {
        match self {
            AdvisoryStatus::Draft => "draft",
            AdvisoryStatus::Published => "published",
        }
    }
}

impl fmt::Display for AdvisoryStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AdvisoryStatus {
    type Err = crate::enums::ParseEnumError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "draft" => Ok(AdvisoryStatus::Draft),
            "published" => Ok(AdvisoryStatus::Published),
            _ => Err(crate::enums::ParseEnumError {
                kind: "advisory status",
                value: s.to_owned(),
                allowed: "draft, published".to_owned(),
            }),
        }
    }
}

impl Resolution {
    /// Whether the incident was confirmed real (a true positive, with or
    /// without impact): only those may be disclosed.
    pub const fn is_confirmed(self) -> bool {
        matches!(
            self,
            Resolution::TruePositiveImpact | Resolution::TruePositiveNoImpact
        )
    }
}

/// The text written for the public: the only incident-related text an
/// advisory publishes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdvisoryText {
    /// Public title (1..=200 characters).
    pub title: String,
    /// What happened, for the public (1..=5,000 characters).
    pub summary: String,
    /// Who or what was affected and how (1..=5,000 characters).
    pub impact: String,
    /// What was done and what readers should do (1..=5,000 characters).
    pub remediation: String,
}

/// Which [`AdvisoryText`] field a validation problem is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdvisoryField {
    /// `title`.
    Title,
    /// `summary`.
    Summary,
    /// `impact`.
    Impact,
    /// `remediation`.
    Remediation,
}

impl AdvisoryField {
    /// The field's name, as in the API.
    pub const fn as_str(self) -> &'static str {
        match self {
            AdvisoryField::Title => "title",
            AdvisoryField::Summary => "summary",
            AdvisoryField::Impact => "impact",
            AdvisoryField::Remediation => "remediation",
        }
    }

    /// The most characters the field takes.
    pub const fn max_chars(self) -> usize {
        match self {
            AdvisoryField::Title => AdvisoryText::MAX_TITLE,
            _ => AdvisoryText::MAX_BODY,
        }
    }
}

impl AdvisoryText {
    /// Longest public title, in characters.
    pub const MAX_TITLE: usize = 200;
    /// Longest summary, impact or remediation, in characters.
    pub const MAX_BODY: usize = 5_000;

    /// Each field with its name.
    pub fn fields(&self) -> [(AdvisoryField, &str); 4] {
        [
            (AdvisoryField::Title, &self.title),
            (AdvisoryField::Summary, &self.summary),
            (AdvisoryField::Impact, &self.impact),
            (AdvisoryField::Remediation, &self.remediation),
        ]
    }

    /// Every field's problem: empty (only blanks), or longer than its
    /// limit. Empty when the text may be saved.
    pub fn problems(&self) -> Vec<(AdvisoryField, String)> {
        let mut out = Vec::new();
        for (field, value) in self.fields() {
            let n = value.chars().count();
            if value.trim().is_empty() {
                out.push((field, format!("{} must not be empty", field.as_str())));
            } else if n > field.max_chars() {
                out.push((
                    field,
                    format!(
                        "{} must be at most {} characters (got {n})",
                        field.as_str(),
                        field.max_chars()
                    ),
                ));
            }
        }
        out
    }
}

/// An advisory as responders see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Advisory {
    /// Id (`WP-YYYY-NNNN`).
    pub id: AdvisoryId,
    /// The incident it discloses.
    pub incident_id: IncidentId,
    /// The public text.
    pub text: AdvisoryText,
    /// Draft or published.
    pub status: AdvisoryStatus,
    /// Who wrote the current text (the last editor).
    pub author: UserId,
    /// The responder who approved it (published advisories only).
    pub approver: Option<UserId>,
    /// When it was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When its text last changed (or it was published).
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// When it was published.
    #[serde(with = "time::serde::rfc3339::option")]
    pub published_at: Option<OffsetDateTime>,
}

/// A published advisory as anyone may read it: the public text and dates,
/// nothing else (no incident id, no author or approver).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublicAdvisory {
    /// Id (`WP-YYYY-NNNN`).
    pub id: AdvisoryId,
    /// The public text.
    pub text: AdvisoryText,
    /// When it was published.
    #[serde(with = "time::serde::rfc3339")]
    pub published_at: OffsetDateTime,
    /// When it last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_one_spelling() {
        assert_eq!(AdvisoryId::new(2026, 7).to_string(), "WP-2026-0007");
        assert_eq!(AdvisoryId::new(2026, 12345).to_string(), "WP-2026-12345");
        assert_eq!(
            "WP-2026-0007".parse::<AdvisoryId>(),
            Ok(AdvisoryId::new(2026, 7))
        );
        assert_eq!(
            "WP-2026-12345".parse::<AdvisoryId>(),
            Ok(AdvisoryId::new(2026, 12345))
        );
        for bad in [
            "",
            "WP-2026-7",
            "WP-2026-00007",
            "WP-2026-0000",
            "wp-2026-0007",
            "WP-26-0007",
            "WP-2026-00a7",
            "WP-2026-0007 ",
            "WP-+026-0007",
        ] {
            assert!(bad.parse::<AdvisoryId>().is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn text_problems_name_the_field() {
        let ok = AdvisoryText {
            title: "t".into(),
            summary: "s".into(),
            impact: "i".into(),
            remediation: "r".into(),
        };
        assert_eq!(ok.problems(), vec![]);
        let bad = AdvisoryText {
            title: "x".repeat(201),
            summary: "  ".into(),
            impact: "i".repeat(5000),
            remediation: "r".repeat(5001),
        };
        assert_eq!(
            bad.problems(),
            vec![
                (
                    AdvisoryField::Title,
                    "title must be at most 200 characters (got 201)".to_owned()
                ),
                (
                    AdvisoryField::Summary,
                    "summary must not be empty".to_owned()
                ),
                (
                    AdvisoryField::Remediation,
                    "remediation must be at most 5000 characters (got 5001)".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn only_true_positives_are_confirmed() {
        let confirmed: Vec<_> = Resolution::ALL
            .iter()
            .filter(|r| r.is_confirmed())
            .collect();
        assert_eq!(
            confirmed,
            [
                &Resolution::TruePositiveImpact,
                &Resolution::TruePositiveNoImpact
            ]
        );
    }
}
