//! Local passwords for the web pages: setting or clearing a user's password
//! hash, and looking one up for sign-in.
//!
//! The store never sees a password, only its hash (a PHC string the caller
//! made with Argon2id), and the hash never leaves this module except as the
//! answer of [`SqlStore::password_login`]: it is not a column of
//! [`crate::backend::rows::USER_COLS`], so no [`crate::User`], audit entry,
//! error or log line can carry it.

use serde_json::json;

use super::checks::{forbid, people_only, to_json};
use super::sessions::end_sessions;
use super::visible::{load_user, user_by_id};
use crate::access::Viewer;
use crate::backend::{Change, SqlStore, append_audit, exec, fetch_opt, now, parse_col};
use crate::enums::Role;
use crate::ids::UserId;
use crate::query::Sql;
use crate::store::{Result, StoreError};
use crate::user::valid_user_name;

/// The longest accepted password hash. An Argon2id PHC string with default
/// parameters is about 100 characters.
const MAX_HASH_CHARS: usize = 1024;

/// `Invalid` unless `hash` looks like a PHC string: `$` then printable
/// ASCII, at most [`MAX_HASH_CHARS`]. The message never quotes the hash.
fn check_phc(hash: &str) -> Result<()> {
    let shaped = hash.len() > 1
        && hash.len() <= MAX_HASH_CHARS
        && hash.starts_with('$')
        && hash.bytes().all(|b| b.is_ascii_graphic());
    if shaped {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "the password hash must be a PHC string (\"$argon2id$...\", at most {MAX_HASH_CHARS} printable ASCII characters)"
        )))
    }
}

impl SqlStore {
    pub(super) async fn set_password(
        &self,
        v: &Viewer,
        user: UserId,
        hash: Option<String>,
    ) -> Result<()> {
        people_only(v)?;
        if let Some(hash) = &hash {
            check_phc(hash)?;
        }
        let mut tx = self.begin().await?;
        let subject = load_user(&mut *tx, v, user_by_id(user)).await?;
        let own = v.user_id == user;
        forbid(
            own || v.can_admin_users(),
            "only admins set the passwords of others",
        )?;
        // A password is the account, as a token is: an admin who could set
        // a responder's would sign in as them and read every sensitive
        // incident. Clearing one only locks the user out.
        forbid(
            hash.is_none() || own || v.is_system() || !subject.role.has_need_to_know(),
            "passwords of responders and finance-ops are set only by their owner or on the server host",
        )?;
        let mut q = Sql::new("SELECT COUNT(*) FROM users WHERE id = ");
        q.bind(user.to_string())
            .push(" AND password_hash IS NOT NULL");
        let (had,): (i64,) = fetch_opt(&mut *tx, &q).await?.unwrap_or((0,));
        let has = hash.is_some();
        let mut q = Sql::new("UPDATE users SET password_hash = ");
        q.bind(hash).push(" WHERE id = ").bind(user.to_string());
        exec(&mut *tx, &q).await?;
        let ended = end_sessions(&mut tx, user).await?;
        append_audit(
            &mut tx,
            v,
            now(),
            Change {
                action: "user.password",
                entity: "user",
                entity_id: user.to_string(),
                incident_id: None,
                related_incident_id: None,
                before: json!({ "user": to_json(&subject), "has_password": had > 0 }),
                after: json!({ "has_password": has, "sessions_ended": ended }),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn password_login(&self, name: &str) -> Result<Option<(UserId, String)>> {
        if !valid_user_name(name) {
            return Ok(None);
        }
        let mut q = Sql::new("SELECT id, password_hash FROM users WHERE name = ");
        q.bind(name)
            .push(" AND disabled = 0 AND password_hash IS NOT NULL AND role <> ")
            .bind(Role::Ingest.as_str());
        let Some((id, hash)) = fetch_opt::<_, (String, String)>(&self.reader, &q).await? else {
            return Ok(None);
        };
        Ok(Some((parse_col("user id", &id)?, hash)))
    }
}

#[cfg(test)]
mod tests {
    use super::check_phc;

    #[test]
    fn only_phc_shaped_hashes_are_accepted() {
        for ok in [
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
            "$x",
        ] {
            assert!(check_phc(ok).is_ok(), "{ok}");
        }
        let long = format!("${}", "a".repeat(1024));
        for bad in [
            "",
            "$",
            "hunter2",
            "$argon2id$ space",
            "$tab\t",
            long.as_str(),
        ] {
            let e = check_phc(bad).unwrap_err().to_string();
            assert!(e.starts_with("invalid input: the password hash"), "{e}");
            if bad.len() > 1 {
                assert!(!e.contains(bad), "{e}");
            }
        }
    }
}
