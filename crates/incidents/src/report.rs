//! [`Report`]: what a person tells us, and its attachments. Filing a report
//! opens an incident in `triage` linked to it.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::enums::{Category, Channel, Status};
use crate::ids::{AttachmentId, IncidentId, ReportId, UserId};

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
