//! Mail about reports (the security@ mailbox): what an inbound message
//! brings ([`InboundMail`]), what taking it did ([`MailOutcome`]), an
//! outbound message to record ([`OutboundMail`]), a stored message
//! ([`MailMessage`]) and the tracking id written into subjects
//! ([`tracking_id`], [`find_tracking_id`]).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ids::{IncidentId, ReportId, UserId};
use crate::report::{NewAttachment, Report};

/// The prefix of a tracking id: `WP-<report id>`.
pub const TRACKING_PREFIX: &str = "WP-";

/// The longest Message-ID (and each threading id) kept, in bytes.
pub const MAX_MESSAGE_ID_BYTES: usize = 998;

/// The most `References` ids kept from one message (the newest).
pub const MAX_REFERENCES: usize = 50;

/// The tracking id of a report, as written in mail subjects:
/// `WP-<report id>`.
pub fn tracking_id(report: ReportId) -> String {
    format!("{TRACKING_PREFIX}{report}")
}

/// The first tracking id (`WP-` and a report id) found in `subject`.
pub fn find_tracking_id(subject: &str) -> Option<ReportId> {
    let mut rest = subject;
    while let Some(at) = rest.find(TRACKING_PREFIX) {
        let after = &rest[at + TRACKING_PREFIX.len()..];
        if let Some(candidate) = after.get(..36)
            && let Ok(id) = candidate.parse::<ReportId>()
        {
            return Some(id);
        }
        rest = after;
    }
    None
}

/// Whether a message came in or went out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailDirection {
    /// Taken from the mailbox.
    In,
    /// Sent by watchpost (an acknowledgement or a responder's reply).
    Out,
}

impl MailDirection {
    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::In => "in",
            Self::Out => "out",
        }
    }
}

/// A parsed inbound message, ready for [`crate::Store::take_inbound_mail`].
#[derive(Debug, Clone, PartialEq)]
pub struct InboundMail {
    /// Its Message-ID, without angle brackets (1..=998 bytes).
    pub message_id: String,
    /// The sender's address.
    pub from: String,
    /// The subject (may be empty).
    pub subject: String,
    /// `In-Reply-To` ids, without angle brackets.
    pub in_reply_to: Vec<String>,
    /// `References` ids, without angle brackets.
    pub references: Vec<String>,
    /// The body as text (never HTML), already capped by the caller.
    pub text: String,
    /// Attachments to keep (the caller drops what is over the caps and
    /// says so in `text`).
    pub attachments: Vec<NewAttachment>,
}

/// What [`crate::Store::take_inbound_mail`] did with a message.
#[derive(Debug, Clone, PartialEq)]
pub enum MailOutcome {
    /// A new third-party report was filed (and its incident opened).
    Filed(Report),
    /// The message joined an existing report's thread: a follow-up line on
    /// its incident's timeline.
    FollowUp {
        /// The report it joined.
        report_id: ReportId,
        /// That report's incident.
        incident_id: IncidentId,
    },
    /// Its Message-ID was seen before: nothing changed.
    AlreadySeen {
        /// The report the earlier message belongs to.
        report_id: ReportId,
    },
}

/// A sent message, for [`crate::Store::record_outbound_mail`].
#[derive(Debug, Clone, PartialEq)]
pub struct OutboundMail {
    /// The report it is about.
    pub report_id: ReportId,
    /// Its Message-ID, without angle brackets.
    pub message_id: String,
    /// The recipient.
    pub to: String,
    /// The subject.
    pub subject: String,
    /// The message it answers.
    pub in_reply_to: Option<String>,
    /// Its `References`.
    pub references: Vec<String>,
    /// A timeline line for the report's incident, if any (a responder's
    /// reply; acknowledgements have none).
    pub timeline: Option<String>,
    /// Who sent it (the timeline line's actor; the system when `None`).
    pub sent_by: Option<UserId>,
}

/// A stored message of a report's thread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailMessage {
    /// Its Message-ID, without angle brackets.
    pub message_id: String,
    /// The report.
    pub report_id: ReportId,
    /// In or out.
    pub direction: MailDirection,
    /// The sender (in) or the recipient (out).
    pub address: String,
    /// The subject.
    pub subject: String,
    /// The `In-Reply-To` it carried.
    pub in_reply_to: Option<String>,
    /// The `References` it carried.
    pub references: Vec<String>,
    /// When it was recorded.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tracking_id_is_found_in_a_subject() {
        let id: ReportId = "01938c4e-7f00-7000-8000-000000000001".parse().unwrap();
        assert_eq!(tracking_id(id), "WP-01938c4e-7f00-7000-8000-000000000001");
        for (subject, found) in [
            (
                "Re: XSS [WP-01938c4e-7f00-7000-8000-000000000001]",
                Some(id),
            ),
            (
                "WP-x WP-01938c4e-7f00-7000-8000-000000000001 more",
                Some(id),
            ),
            ("Re: XSS [WP-01938c4e]", None),
            ("no id", None),
            ("WP-", None),
            ("WP-ü🙂ü🙂ü🙂ü🙂ü🙂ü🙂ü🙂ü🙂ü🙂ü🙂", None),
        ] {
            assert_eq!(find_tracking_id(subject), found, "{subject}");
        }
    }
}
