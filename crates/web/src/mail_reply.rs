//! Replying to a mailed report from watchpost: the web layer cannot send
//! mail itself, so the server hands it a [`ReportReplies`] (as an axum
//! `Extension`) when the security@ mailbox is configured. Without one,
//! `POST /api/v1/reports/{id}/reply` answers 404: no report is a mail
//! report then.

use std::sync::Arc;

use incidents::{ReportId, StoreError, Viewer};

/// What a reply did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplySent {
    /// The sent message's Message-ID (without angle brackets).
    pub message_id: String,
    /// Who it went to.
    pub to: String,
    /// Its subject.
    pub subject: String,
}

/// Why a reply was not sent.
#[derive(Debug, thiserror::Error)]
pub enum ReplyError {
    /// The report has no mail thread (or is not visible): 404.
    #[error("not a mail report")]
    NotMail,
    /// The store refused (mapped like any store error).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The mail could not be sent (the relay refused or is unreachable).
    #[error("the reply could not be sent: {0}")]
    Send(String),
}

/// Sends a responder's reply to a mailed report, threaded to the last
/// message of its thread, and records it (sent mail and a timeline line).
#[async_trait::async_trait]
pub trait ReportReplies: Send + Sync + 'static {
    /// Replies to `report` as `by` (a responder who sees it) with `text`.
    async fn reply(
        &self,
        by: &Viewer,
        report: ReportId,
        text: &str,
    ) -> Result<ReplySent, ReplyError>;
}

/// The shared form kept in the router's extensions.
pub type SharedReplies = Arc<dyn ReportReplies>;
