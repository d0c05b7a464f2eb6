//! Token rows written by more than one kind of operation: issuing a token
//! (users) and the new token of an approved role grant (grants), and the
//! audit entry of a token action.

use serde_json::Value;

use super::checks::{check_len, is_unique_violation};
use crate::access::Viewer;
use crate::audit::unix_micros;
use crate::backend::{Change, Tx, append_audit, exec, from_micros, now, opt_micros};
use crate::ids::{TokenId, UserId};
use crate::query::{Arg, Sql};
use crate::store::{Result, StoreError};
use crate::user::{ApiToken, NewToken};

/// Inserts a token row for `user`.
pub(super) async fn insert_token(
    tx: &mut Tx,
    user: UserId,
    new: &NewToken,
    at: time::OffsetDateTime,
) -> Result<ApiToken> {
    check_len("label", &new.label, 0, 200)?;
    let token = ApiToken {
        id: TokenId::new(),
        user_id: user,
        label: new.label.clone(),
        created_at: at,
        expires_at: new.expires_at.map(|e| from_micros(unix_micros(e))),
        revoked: false,
    };
    let mut q = Sql::new(
        "INSERT INTO api_tokens (id, user_id, label, token_hash, revoked, created_at, expires_at) VALUES ",
    );
    q.bind_list([
        Arg::from(token.id.to_string()),
        Arg::from(user.to_string()),
        Arg::from(token.label.clone()),
        Arg::from(new.hash.to_hex()),
        Arg::from(token.revoked),
        Arg::from(unix_micros(at)),
        opt_micros(token.expires_at),
    ]);
    if let Err(e) = exec(&mut **tx, &q).await {
        return Err(if is_unique_violation(&e) {
            StoreError::Conflict("this token already exists".into())
        } else {
            e
        });
    }
    Ok(token)
}

/// Appends a token action's audit entry (token metadata only: never the
/// token or its hash).
pub(super) async fn audit_token(
    tx: &mut Tx,
    v: &Viewer,
    action: &'static str,
    token: &ApiToken,
    before: Value,
    after: Value,
) -> Result<()> {
    append_audit(
        tx,
        v,
        now(),
        Change {
            action,
            entity: "token",
            entity_id: token.id.to_string(),
            incident_id: None,
            related_incident_id: None,
            before,
            after,
        },
    )
    .await?;
    Ok(())
}
