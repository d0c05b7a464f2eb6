//! Users, API tokens and browser sessions. Only the SHA-256 of a token or
//! of a session id is stored; the token itself is shown once by whoever
//! created it, and a session id lives only in the browser's cookie. A token
//! may expire, is revoked one by one, and is rotated (revoked and replaced
//! by a new one with the same label and lifetime) in one transaction. A
//! user's password hash is stored apart and is never part of [`User`]. No
//! type here shows a token, a session's CSRF token or a hash in `Debug`.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::enums::{GrantStatus, Role};
use crate::ids::{RoleGrantId, TokenId, UserId};

/// A user account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Id.
    pub id: UserId,
    /// Unique login name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Disabled users can't authenticate.
    pub disabled: bool,
    /// When created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// Input for a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewUser {
    /// Unique name: 1..=64 characters of `[A-Za-z0-9._@-]`.
    pub name: String,
    /// Role.
    pub role: Role,
}

/// A request to give a user a need-to-know role (`responder`,
/// `finance-ops`). An admin or a responder asks; a current responder who is
/// neither the one who asked nor the user decides. Two people, so that no
/// admin can grant themselves (or a sock puppet) access to sensitive
/// incidents. The server host may still set any role directly (CLI).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleGrant {
    /// Id.
    pub id: RoleGrantId,
    /// Who would get the role.
    pub user_id: UserId,
    /// The role asked for.
    pub role: Role,
    /// Pending, approved or rejected.
    pub status: GrantStatus,
    /// Who asked.
    pub requested_by: UserId,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub requested_at: OffsetDateTime,
    /// Who decided.
    pub decided_by: Option<UserId>,
    /// When.
    #[serde(with = "time::serde::rfc3339::option")]
    pub decided_at: Option<OffsetDateTime>,
}

/// API token metadata (never the token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiToken {
    /// Id.
    pub id: TokenId,
    /// Owner.
    pub user_id: UserId,
    /// Label.
    pub label: String,
    /// When created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it stops authenticating (`None`: never).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// Revoked tokens don't authenticate.
    pub revoked: bool,
}

impl ApiToken {
    /// Whether the token has expired at `now`.
    pub fn is_expired(&self, now: OffsetDateTime) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }
}

/// Input for a new token: the hash of a token the caller generated, a
/// label and an optional expiry.
#[derive(Clone, PartialEq, Eq)]
pub struct NewToken {
    /// Label (0..=200 characters), e.g. the machine it is for.
    pub label: String,
    /// The token's hash.
    pub hash: TokenHash,
    /// When it stops authenticating; must be in the future.
    pub expires_at: Option<OffsetDateTime>,
}

impl std::fmt::Debug for NewToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewToken")
            .field("label", &self.label)
            .field("hash", &self.hash)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// A browser session to store (see [`crate::Store::create_session`]).
#[derive(Clone, PartialEq, Eq)]
pub struct NewSession {
    /// Whose session it is (an enabled user).
    pub user: UserId,
    /// The SHA-256 of the session id (the id itself is never stored).
    pub id_hash: TokenHash,
    /// The session's CSRF token, which forms of the session must carry.
    pub csrf: String,
    /// When it starts; also its first `last_seen`.
    pub created_at: OffsetDateTime,
    /// When it ends, however recently it was used; after `created_at`.
    pub expires_at: OffsetDateTime,
}

impl std::fmt::Debug for NewSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewSession")
            .field("user", &self.user)
            .field("id_hash", &self.id_hash)
            .field("csrf", &"[redacted]")
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// The SHA-256 of a bearer token, as stored and looked up.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TokenHash(pub [u8; 32]);

impl TokenHash {
    /// Hashes a token string.
    pub fn of(token: &str) -> TokenHash {
        TokenHash(Sha256::digest(token.as_bytes()).into())
    }

    /// Lower-case hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl std::fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenHash([redacted])")
    }
}

/// Checks a user name.
pub(crate) fn valid_user_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | '-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_a_token_hash() {
        let token = "wp_00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        let hash = TokenHash::of(token);
        let hex = hash.to_hex();
        let new = NewToken {
            label: "laptop".into(),
            hash,
            expires_at: None,
        };
        for shown in [format!("{hash:?}"), format!("{new:?}"), format!("{new:#?}")] {
            assert!(!shown.contains(&hex), "{shown}");
            assert!(!shown.contains(&hex[..16]), "{shown}");
            assert!(shown.contains("[redacted]"), "{shown}");
        }
        assert!(format!("{new:?}").contains("laptop"));
    }

    #[test]
    fn debug_never_shows_a_session_secret() {
        let id = "s_0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
        let csrf = "csrf-7d1c0a9b8e6f5d4c3b2a1908f7e6d5c4";
        let new = NewSession {
            user: UserId::SYSTEM,
            id_hash: TokenHash::of(id),
            csrf: csrf.into(),
            created_at: OffsetDateTime::UNIX_EPOCH,
            expires_at: OffsetDateTime::UNIX_EPOCH,
        };
        let hex = TokenHash::of(id).to_hex();
        for shown in [format!("{new:?}"), format!("{new:#?}")] {
            assert!(!shown.contains(&hex[..16]), "{shown}");
            assert!(!shown.contains(&csrf[5..]), "{shown}");
            assert!(shown.contains("[redacted]"), "{shown}");
        }
    }
}
