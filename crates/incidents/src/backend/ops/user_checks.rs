//! "I didn't do this" checks ([`crate::user_check`]): created when the
//! server mails a user about a password or MFA change, found and answered
//! (once, before they expire) through the link's token. The system viewer
//! alone may do any of it. Only the token's SHA-256 is stored, and the
//! audit entries never hold it.

use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use super::checks::{check_len, forbid, is_unique_violation};
use crate::access::Viewer;
use crate::audit::unix_micros;
use crate::backend::{
    Change, SqlStore, append_audit, exec, fetch_opt, from_micros, now, parse_col,
};
use crate::query::{Arg, Sql};
use crate::store::{Result, StoreError};
use crate::user::TokenHash;
use crate::user_check::{NewUserCheck, UserCheck};

const COLS: &str = "id, alert_id, address, created_at, expires_at, used_at, answer";

#[derive(sqlx::FromRow)]
struct CheckRow {
    id: String,
    alert_id: String,
    address: String,
    created_at: i64,
    expires_at: i64,
    used_at: Option<i64>,
    answer: Option<String>,
}

impl CheckRow {
    fn into_check(self) -> Result<UserCheck> {
        Ok(UserCheck {
            id: parse_col("user check id", &self.id)?,
            alert: parse_col("alert id", &self.alert_id)?,
            address: self.address,
            created_at: from_micros(self.created_at),
            expires_at: from_micros(self.expires_at),
            used_at: self.used_at.map(from_micros),
            answer: self
                .answer
                .as_deref()
                .map(|a| parse_col("answer", a))
                .transpose()?,
        })
    }
}

fn system_only(v: &Viewer) -> Result<()> {
    forbid(v.is_system(), "only the system handles user checks")
}

impl SqlStore {
    pub(super) async fn create_user_check(
        &self,
        v: &Viewer,
        new: NewUserCheck,
    ) -> Result<UserCheck> {
        system_only(v)?;
        check_len("address", &new.address, 3, 254)?;
        let created_at = unix_micros(new.created_at);
        let expires_at = unix_micros(new.expires_at);
        if expires_at <= created_at {
            return Err(StoreError::Invalid(
                "a user check's expires_at must be after its created_at".into(),
            ));
        }
        let id = Uuid::now_v7();
        let mut tx = self.begin().await?;
        let mut q = Sql::new("SELECT id FROM alerts WHERE id = ");
        q.bind(new.alert.to_string());
        let alert: Option<(String,)> = fetch_opt(&mut *tx, &q).await?;
        if alert.is_none() {
            return Err(StoreError::NotFound("alert"));
        }
        let mut q = Sql::new(
            "INSERT INTO user_checks (id, alert_id, address, token_hash, created_at, expires_at) VALUES ",
        );
        q.bind_list([
            Arg::from(id.to_string()),
            Arg::from(new.alert.to_string()),
            Arg::from(new.address.clone()),
            Arg::from(new.token_hash.to_hex()),
            Arg::from(created_at),
            Arg::from(expires_at),
        ]);
        if let Err(e) = exec(&mut *tx, &q).await {
            return Err(if is_unique_violation(&e) {
                StoreError::Conflict("this alert already has a user check".into())
            } else {
                e
            });
        }
        append_audit(
            &mut tx,
            v,
            now(),
            Change {
                action: "user_check.create",
                entity: "user_check",
                entity_id: id.to_string(),
                incident_id: None,
                related_incident_id: None,
                before: serde_json::Value::Null,
                after: json!({
                    "alert_id": new.alert.to_string(),
                    "address": new.address,
                    "expires_at": expires_at,
                }),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(UserCheck {
            id,
            alert: new.alert,
            address: new.address,
            created_at: from_micros(created_at),
            expires_at: from_micros(expires_at),
            used_at: None,
            answer: None,
        })
    }

    pub(super) async fn find_user_check(
        &self,
        v: &Viewer,
        hash: TokenHash,
        at: OffsetDateTime,
    ) -> Result<Option<UserCheck>> {
        system_only(v)?;
        let mut q = Sql::new(&format!(
            "SELECT {COLS} FROM user_checks WHERE used_at IS NULL AND token_hash = "
        ));
        q.bind(hash.to_hex())
            .push(" AND expires_at > ")
            .bind(unix_micros(at));
        let row: Option<CheckRow> = fetch_opt(&self.reader, &q).await?;
        row.map(CheckRow::into_check).transpose()
    }

    pub(super) async fn answer_user_check(
        &self,
        v: &Viewer,
        hash: TokenHash,
        answer: crate::user_check::CheckAnswer,
        at: OffsetDateTime,
    ) -> Result<UserCheck> {
        system_only(v)?;
        let at = unix_micros(at);
        let mut tx = self.begin().await?;
        let mut q = Sql::new("UPDATE user_checks SET used_at = ");
        q.bind(at)
            .push(", answer = ")
            .bind(answer.as_str())
            .push(" WHERE used_at IS NULL AND token_hash = ")
            .bind(hash.to_hex())
            .push(" AND expires_at > ")
            .bind(at);
        if exec(&mut *tx, &q).await? == 0 {
            return Err(StoreError::NotFound("user check"));
        }
        let mut q = Sql::new(&format!(
            "SELECT {COLS} FROM user_checks WHERE token_hash = "
        ));
        q.bind(hash.to_hex());
        let check = fetch_opt::<_, CheckRow>(&mut *tx, &q)
            .await?
            .ok_or(StoreError::NotFound("user check"))?
            .into_check()?;
        append_audit(
            &mut tx,
            v,
            now(),
            Change {
                action: "user_check.answer",
                entity: "user_check",
                entity_id: check.id.to_string(),
                incident_id: None,
                related_incident_id: None,
                before: serde_json::Value::Null,
                after: json!({
                    "alert_id": check.alert.to_string(),
                    "answer": answer.as_str(),
                }),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(check)
    }
}
