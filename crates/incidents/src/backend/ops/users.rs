//! Users and API tokens: creating and disabling users (which ends their
//! browser sessions), issuing and revoking tokens, and turning a token hash
//! into a [`Viewer`].

use serde_json::Value;

use super::checks::{forbid, is_unique_violation, people_only, to_json};
use super::grants::{announce_new_user, may_create_with};
use super::sessions::end_sessions;
use super::tokens::{audit_token, insert_token};
use super::visible::{load_user, user_by_id};
use crate::access::Viewer;
use crate::audit::unix_micros;
use crate::backend::rows::{DomainRow, TOKEN_COLS, TokenRow, USER_COLS, UserRow};
use crate::backend::{
    Change, SqlStore, Tx, append_audit, exec, fetch_domain, fetch_one, fetch_opt, now,
};
use crate::enums::Role;
use crate::ids::{TokenId, UserId};
use crate::query::{Arg, Sql};
use crate::store::{Result, StoreError};
use crate::user::{ApiToken, NewToken, NewUser, TokenHash, User, valid_user_name};

impl SqlStore {
    pub(super) async fn create_user(&self, v: &Viewer, new: NewUser) -> Result<User> {
        forbid(v.can_admin_users(), "only admins create users")?;
        may_create_with(v, new.role)?;
        if !valid_user_name(&new.name) {
            return Err(StoreError::Invalid(
                "name must be 1 to 64 characters of letters, digits, '.', '_', '@' or '-'".into(),
            ));
        }
        let at = now();
        let user = User {
            id: UserId::new(),
            name: new.name,
            role: new.role,
            disabled: false,
            created_at: at,
        };
        let mut tx = self.begin().await?;
        let mut q = Sql::new("INSERT INTO users (id, name, role, disabled, created_at) VALUES ");
        q.bind_list([
            Arg::from(user.id.to_string()),
            Arg::from(user.name.clone()),
            Arg::from(user.role.as_str()),
            Arg::from(user.disabled),
            Arg::from(unix_micros(at)),
        ]);
        if let Err(e) = exec(&mut *tx, &q).await {
            return Err(if is_unique_violation(&e) {
                StoreError::Conflict(format!("a user named {:?} already exists", user.name))
            } else {
                e
            });
        }
        append_audit(
            &mut tx,
            v,
            at,
            Change {
                action: "user.create",
                entity: "user",
                entity_id: user.id.to_string(),
                incident_id: None,
                related_incident_id: None,
                before: Value::Null,
                after: to_json(&user),
            },
        )
        .await?;
        announce_new_user(&mut tx, &user, at).await?;
        tx.commit().await?;
        Ok(user)
    }

    pub(super) async fn count_users(&self, v: &Viewer) -> Result<i64> {
        forbid(v.can_admin_users(), "only admins count users")?;
        let (n,): (i64,) = fetch_opt(&self.reader, &Sql::new("SELECT COUNT(*) FROM users"))
            .await?
            .unwrap_or((0,));
        Ok(n)
    }

    pub(super) async fn list_users(&self, v: &Viewer) -> Result<Vec<User>> {
        let mut q = Sql::new(&format!("SELECT {USER_COLS} FROM users u"));
        if !v.is_person() {
            // An ingest token sees no user, not even itself.
            q.push(" WHERE 1 = 0");
        } else if !(v.can_admin_users() || v.role == Role::Responder) {
            q.push(" WHERE u.id = ").bind(v.user_id.to_string());
        }
        q.push(" ORDER BY u.name");
        fetch_domain::<_, UserRow>(&self.reader, &q).await
    }

    pub(super) async fn get_user(&self, v: &Viewer, id: UserId) -> Result<User> {
        load_user(&self.reader, v, user_by_id(id)).await
    }

    pub(super) async fn get_user_by_name(&self, v: &Viewer, name: &str) -> Result<User> {
        let mut q = Sql::new(&format!("SELECT {USER_COLS} FROM users u WHERE u.name = "));
        q.bind(name);
        load_user(&self.reader, v, q).await
    }

    pub(super) async fn set_user_disabled(
        &self,
        v: &Viewer,
        id: UserId,
        disabled: bool,
    ) -> Result<User> {
        people_only(v)?;
        let mut tx = self.begin().await?;
        let before = load_user(&mut *tx, v, user_by_id(id)).await?;
        forbid(v.can_admin_users(), "only admins disable users")?;
        if disabled && id == v.user_id {
            return Err(StoreError::Conflict(
                "you cannot disable yourself".to_owned(),
            ));
        }
        let mut after = before.clone();
        after.disabled = disabled;
        let mut q = Sql::new("UPDATE users SET disabled = ");
        q.bind(disabled).push(" WHERE id = ").bind(id.to_string());
        exec(&mut *tx, &q).await?;
        if disabled {
            end_sessions(&mut tx, id).await?;
        }
        append_audit(
            &mut tx,
            v,
            now(),
            Change {
                action: if disabled {
                    "user.disable"
                } else {
                    "user.enable"
                },
                entity: "user",
                entity_id: id.to_string(),
                incident_id: None,
                related_incident_id: None,
                before: to_json(&before),
                after: to_json(&after),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    pub(super) async fn create_token(
        &self,
        v: &Viewer,
        user: UserId,
        label: &str,
        hash: TokenHash,
    ) -> Result<ApiToken> {
        people_only(v)?;
        let mut tx = self.begin().await?;
        let owner = load_user(&mut *tx, v, user_by_id(user)).await?;
        forbid(
            v.can_admin_users() || v.user_id == user,
            "only admins create tokens for others",
        )?;
        // A token is the account: an admin who could mint one for a
        // responder would read every sensitive incident with it.
        forbid(
            !owner.role.has_need_to_know() || v.user_id == user || v.is_system(),
            "tokens of responders and finance-ops are made only by their owner or on the server host",
        )?;
        let new = NewToken {
            label: label.to_owned(),
            hash,
            expires_at: None,
        };
        let token = insert_token(&mut tx, user, &new, now()).await?;
        audit_token(
            &mut tx,
            v,
            "token.create",
            &token,
            Value::Null,
            to_json(&token),
        )
        .await?;
        tx.commit().await?;
        Ok(token)
    }

    pub(super) async fn issue_token(
        &self,
        v: &Viewer,
        user: UserId,
        new: NewToken,
    ) -> Result<ApiToken> {
        people_only(v)?;
        let at = now();
        if new.expires_at.is_some_and(|e| e <= at) {
            return Err(StoreError::Invalid(
                "expires_at must be in the future".into(),
            ));
        }
        let mut tx = self.begin().await?;
        load_user(&mut *tx, v, user_by_id(user)).await?;
        forbid(
            v.is_system() || v.user_id == user,
            "only the user themselves (or the CLI on the server host) issues their tokens: \
             a token of another user would read what that user may read",
        )?;
        let token = insert_token(&mut tx, user, &new, at).await?;
        audit_token(
            &mut tx,
            v,
            "token.create",
            &token,
            Value::Null,
            to_json(&token),
        )
        .await?;
        tx.commit().await?;
        Ok(token)
    }

    pub(super) async fn get_token(&self, v: &Viewer, id: TokenId) -> Result<ApiToken> {
        load_token(&self.reader, v, id).await
    }

    pub(super) async fn revoke_token(&self, v: &Viewer, id: TokenId) -> Result<()> {
        people_only(v)?;
        let mut tx = self.begin().await?;
        let before = load_token(&mut *tx, v, id).await?;
        if before.revoked {
            return Err(StoreError::Conflict("the token is already revoked".into()));
        }
        let after = revoke(&mut tx, &before).await?;
        audit_token(
            &mut tx,
            v,
            "token.revoke",
            &after,
            to_json(&before),
            to_json(&after),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn rotate_token(
        &self,
        v: &Viewer,
        id: TokenId,
        hash: TokenHash,
    ) -> Result<ApiToken> {
        people_only(v)?;
        let mut tx = self.begin().await?;
        let before = load_token(&mut *tx, v, id).await?;
        forbid(
            v.is_system() || v.user_id == before.user_id,
            "only the token's owner (or the CLI on the server host) rotates it",
        )?;
        if before.revoked {
            return Err(StoreError::Conflict(
                "the token is revoked: issue a new one instead".into(),
            ));
        }
        let at = now();
        // The same lifetime as the old token, counted from now.
        let expires_at = before.expires_at.map(|e| at + (e - before.created_at));
        let new = NewToken {
            label: before.label.clone(),
            hash,
            expires_at,
        };
        let revoked = revoke(&mut tx, &before).await?;
        let token = insert_token(&mut tx, before.user_id, &new, at).await?;
        audit_token(
            &mut tx,
            v,
            "token.rotate",
            &revoked,
            to_json(&before),
            serde_json::json!({ "revoked": to_json(&revoked), "issued": to_json(&token) }),
        )
        .await?;
        tx.commit().await?;
        Ok(token)
    }

    pub(super) async fn list_tokens(&self, v: &Viewer, user: UserId) -> Result<Vec<ApiToken>> {
        people_only(v)?;
        if !(v.can_admin_users() || v.user_id == user) {
            return Err(StoreError::NotFound("user"));
        }
        let mut q = Sql::new(&format!(
            "SELECT {TOKEN_COLS} FROM api_tokens t WHERE t.user_id = "
        ));
        q.bind(user.to_string())
            .push(" ORDER BY t.created_at, t.id");
        fetch_domain::<_, TokenRow>(&self.reader, &q).await
    }

    pub(super) async fn authenticate(&self, hash: TokenHash) -> Result<Option<(User, Viewer)>> {
        let mut q = Sql::new(&format!(
            "SELECT {USER_COLS} FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = "
        ));
        q.bind(hash.to_hex())
            .push(" AND t.revoked = 0 AND u.disabled = 0 AND (t.expires_at IS NULL OR t.expires_at > ")
            .bind(unix_micros(now()))
            .push(")");
        let Some(row) = fetch_opt::<_, UserRow>(&self.reader, &q).await? else {
            return Ok(None);
        };
        let user = row.into_domain()?;
        let viewer = Viewer::new(user.id, user.role);
        Ok(Some((user, viewer)))
    }
}

/// A token the viewer may see (admins and the system see all, people their
/// own, an ingest token none); any other is "not found".
async fn load_token<'e, E>(e: E, v: &Viewer, id: TokenId) -> Result<ApiToken>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let mut q = Sql::new(&format!(
        "SELECT {TOKEN_COLS} FROM api_tokens t WHERE t.id = "
    ));
    q.bind(id.to_string());
    if !v.is_person() {
        q.push(" AND 1 = 0");
    } else if !v.can_admin_users() {
        q.push(" AND t.user_id = ").bind(v.user_id.to_string());
    }
    fetch_one::<_, TokenRow>(e, &q, "token").await
}

/// Marks `token` revoked; returns it as it now is.
async fn revoke(tx: &mut Tx, token: &ApiToken) -> Result<ApiToken> {
    let mut q = Sql::new("UPDATE api_tokens SET revoked = 1 WHERE id = ");
    q.bind(token.id.to_string());
    exec(&mut **tx, &q).await?;
    Ok(ApiToken {
        revoked: true,
        ..token.clone()
    })
}
