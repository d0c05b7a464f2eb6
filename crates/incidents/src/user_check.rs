//! "I didn't do this" checks: when a password-reset or MFA-change alert is
//! stored, the affected user is mailed a link that asks whether it was
//! them. A [`UserCheck`] is that link's record: the alert, the address it
//! was sent to, and (once answered) the answer. Only the SHA-256 of the
//! link's token ([`TokenHash`]) is stored. Only the system viewer creates,
//! finds and answers checks (see [`crate::Store::create_user_check`]).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::ids::AlertId;
use crate::user::TokenHash;

/// What the user answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckAnswer {
    /// "Yes, it was me".
    Mine,
    /// "No, I didn't do this".
    NotMine,
}

impl CheckAnswer {
    /// The stored and form name: `mine` or `not_mine`.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckAnswer::Mine => "mine",
            CheckAnswer::NotMine => "not_mine",
        }
    }
}

impl fmt::Display for CheckAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CheckAnswer {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "mine" => Ok(CheckAnswer::Mine),
            "not_mine" => Ok(CheckAnswer::NotMine),
            other => Err(format!("{other:?} is not mine or not_mine")),
        }
    }
}

/// A check to store.
#[derive(Clone)]
pub struct NewUserCheck {
    /// The alert the mail is about (one check per alert).
    pub alert: AlertId,
    /// Where the mail goes.
    pub address: String,
    /// The SHA-256 of the link's token.
    pub token_hash: TokenHash,
    /// When it was made.
    pub created_at: OffsetDateTime,
    /// When the link stops working; after `created_at`.
    pub expires_at: OffsetDateTime,
}

impl fmt::Debug for NewUserCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewUserCheck")
            .field("alert", &self.alert)
            .field("address", &self.address)
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A stored check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserCheck {
    /// Id.
    pub id: Uuid,
    /// The alert it asks about.
    pub alert: AlertId,
    /// Where the mail went.
    pub address: String,
    /// When it was made.
    pub created_at: OffsetDateTime,
    /// When the link stops working.
    pub expires_at: OffsetDateTime,
    /// When it was answered.
    pub used_at: Option<OffsetDateTime>,
    /// The answer, once answered.
    pub answer: Option<CheckAnswer>,
}

/// A time as the check's mail and page show it: `2026-03-01 10:00:00 UTC`.
pub fn utc_text(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Text from an event on one line: control characters (line breaks
/// included) become spaces, and the result is trimmed.
pub fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_owned()
}

/// The first line of the report a "not mine" answer files.
pub fn not_mine_text(rule_title: &str, user: &str, at: OffsetDateTime, alert: AlertId) -> String {
    format!(
        "I didn't do this: {} on {} at {} (alert {alert})",
        one_line(rule_title),
        one_line(user),
        utc_text(at)
    )
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn the_report_text_is_one_line_with_the_time_in_utc() {
        let alert: AlertId = "01900000-0000-7000-8000-000000000001".parse().unwrap();
        assert_eq!(
            not_mine_text(
                "Okta\npassword reset",
                "alice@example.com",
                datetime!(2026-03-01 11:00:05 +01:00),
                alert
            ),
            "I didn't do this: Okta password reset on alice@example.com at 2026-03-01 10:00:05 UTC (alert 01900000-0000-7000-8000-000000000001)"
        );
        assert_eq!("not_mine".parse::<CheckAnswer>(), Ok(CheckAnswer::NotMine));
        assert!("yes".parse::<CheckAnswer>().is_err());
    }
}
