//! Browser sessions of the web pages: starting one at sign-in, resolving
//! one per request, ending one at sign-out, and ending all of a user's
//! ([`end_sessions`]) when their password or role changes or they are
//! disabled.
//!
//! Only the SHA-256 of a session id is stored, so a copy of the table signs
//! no one in. A session ends at its `expires_at` however busy it is, and
//! after `idle` without a request; a request moves `last_seen` at most once
//! a minute, so reading pages costs no write each time. Times are the
//! caller's (the web layer's clock), as stored: unix microseconds.
//!
//! Resolving, refreshing and deleting sessions is bookkeeping and is not
//! audited; starting one is (`session.create`), with no secret in it.

use serde::Serialize;
use time::OffsetDateTime;

use super::checks::{check_len, is_unique_violation, to_json};
use crate::access::Viewer;
use crate::audit::unix_micros;
use crate::backend::rows::{DomainRow, SessionRow, USER_COLS, UserRow};
use crate::backend::{Change, SqlStore, Tx, append_audit, exec, fetch_opt, now};
use crate::enums::Role;
use crate::ids::UserId;
use crate::query::{Arg, Sql};
use crate::store::{Result, StoreError};
use crate::user::{NewSession, TokenHash, User};

/// A session's `last_seen` is moved only when it is older than this, in
/// microseconds (one minute).
const TOUCH_AFTER_MICROS: i64 = 60_000_000;

/// The longest accepted CSRF token.
const MAX_CSRF_CHARS: usize = 256;

/// What the audit trail keeps of a new session: never its id, the id's
/// hash or its CSRF token.
#[derive(Serialize)]
struct SessionStarted<'a> {
    user_id: UserId,
    name: &'a str,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    expires_at: OffsetDateTime,
}

/// Deletes every session of `user` (inside the transaction that changes
/// their password or role, or disables them); returns how many there were.
pub(super) async fn end_sessions(tx: &mut Tx, user: UserId) -> Result<u64> {
    let mut q = Sql::new("DELETE FROM sessions WHERE user_id = ");
    q.bind(user.to_string());
    exec(&mut **tx, &q).await
}

impl SqlStore {
    pub(super) async fn create_session(&self, new: NewSession) -> Result<()> {
        check_len("csrf token", &new.csrf, 1, MAX_CSRF_CHARS)?;
        let created_at = unix_micros(new.created_at);
        let expires_at = unix_micros(new.expires_at);
        if expires_at <= created_at {
            return Err(StoreError::Invalid(
                "a session's expires_at must be after its created_at".into(),
            ));
        }
        let mut tx = self.begin().await?;
        let mut q = Sql::new(&format!("SELECT {USER_COLS} FROM users u WHERE u.id = "));
        q.bind(new.user.to_string());
        let user: User = fetch_opt::<_, UserRow>(&mut *tx, &q)
            .await?
            .ok_or(StoreError::NotFound("user"))?
            .into_domain()?;
        if user.disabled {
            return Err(StoreError::Forbidden("a disabled user cannot sign in"));
        }
        if user.role == Role::Ingest {
            return Err(StoreError::Forbidden(
                "an ingest account only sends events: it never signs in to pages",
            ));
        }
        // Sessions of this user that ended unseen go now, so that they don't
        // pile up.
        let mut q = Sql::new("DELETE FROM sessions WHERE user_id = ");
        q.bind(user.id.to_string())
            .push(" AND expires_at <= ")
            .bind(created_at);
        exec(&mut *tx, &q).await?;
        let mut q = Sql::new(
            "INSERT INTO sessions (id_hash, user_id, csrf, created_at, expires_at, last_seen) VALUES ",
        );
        q.bind_list([
            Arg::from(new.id_hash.to_hex()),
            Arg::from(user.id.to_string()),
            Arg::from(new.csrf),
            Arg::from(created_at),
            Arg::from(expires_at),
            Arg::from(created_at),
        ]);
        if let Err(e) = exec(&mut *tx, &q).await {
            return Err(if is_unique_violation(&e) {
                StoreError::Conflict("this session already exists".into())
            } else {
                e
            });
        }
        let started = SessionStarted {
            user_id: user.id,
            name: &user.name,
            created_at: new.created_at,
            expires_at: new.expires_at,
        };
        append_audit(
            &mut tx,
            &Viewer::new(user.id, user.role),
            now(),
            Change {
                action: "session.create",
                entity: "session",
                entity_id: user.id.to_string(),
                incident_id: None,
                related_incident_id: None,
                before: serde_json::Value::Null,
                after: to_json(&started),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn session(
        &self,
        id_hash: TokenHash,
        now: OffsetDateTime,
        idle: std::time::Duration,
    ) -> Result<Option<(User, Viewer, String)>> {
        let at = unix_micros(now);
        let idle = i64::try_from(idle.as_micros()).unwrap_or(i64::MAX);
        let mut q = Sql::new(&format!(
            "SELECT {USER_COLS}, s.csrf, s.expires_at, s.last_seen FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = "
        ));
        q.bind(id_hash.to_hex());
        let Some(row) = fetch_opt::<_, SessionRow>(&self.reader, &q).await? else {
            return Ok(None);
        };
        let idle_since = at.saturating_sub(idle);
        if row.expires_at <= at || row.last_seen < idle_since {
            // The same conditions again in the statement: a request that
            // moved `last_seen` meanwhile keeps an idle session.
            let mut q = Sql::new("DELETE FROM sessions WHERE id_hash = ");
            q.bind(id_hash.to_hex())
                .push(" AND (expires_at <= ")
                .bind(at)
                .push(" OR last_seen < ")
                .bind(idle_since)
                .push(")");
            exec(&self.writer, &q).await?;
            return Ok(None);
        }
        let user = row.user.into_domain()?;
        if user.disabled || user.role == Role::Ingest {
            return Ok(None);
        }
        let stale_before = at.saturating_sub(TOUCH_AFTER_MICROS);
        if row.last_seen < stale_before {
            let mut q = Sql::new("UPDATE sessions SET last_seen = ");
            q.bind(at)
                .push(" WHERE id_hash = ")
                .bind(id_hash.to_hex())
                .push(" AND last_seen < ")
                .bind(stale_before);
            exec(&self.writer, &q).await?;
        }
        let viewer = Viewer::new(user.id, user.role);
        Ok(Some((user, viewer, row.csrf)))
    }

    pub(super) async fn delete_session(&self, id_hash: TokenHash) -> Result<()> {
        let mut q = Sql::new("DELETE FROM sessions WHERE id_hash = ");
        q.bind(id_hash.to_hex());
        exec(&self.writer, &q).await?;
        Ok(())
    }
}
