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
