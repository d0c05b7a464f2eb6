//! Roles: setting a user's role, and the two-person grant of a
//! need-to-know role (`responder`, `finance-ops`).
//!
//! An admin manages accounts but must not be able to read sensitive
//! incidents by giving themselves (or an account they hold a token for) a
//! need-to-know role. So such a role is given only:
//! - on the server host (the system viewer: `watchpost users add` and
//!   `watchpost users set-role`), or
//! - by a [`RoleGrant`]: an admin or responder asks, and a current
//!   responder who is neither the asker nor the user approves. Approval
//!   revokes every token the user had (someone else may hold a copy) and
//!   issues one new token, handed to the approving responder.
//!
//! Every request, grant, rejection and direct change is audited and
//! notified to the Security Team ([`enqueue_access`]).

use serde_json::json;
use time::OffsetDateTime;

use super::checks::{forbid, people_only, to_json};
use super::outbox::enqueue_access;
use super::sessions::end_sessions;
use super::tokens::{audit_token, insert_token};
use super::visible::{load_user, user_by_id};
use crate::access::Viewer;
use crate::audit::unix_micros;
use crate::backend::rows::{ROLE_GRANT_COLS, RoleGrantRow};
use crate::backend::{Change, SqlStore, Tx, append_audit, exec, fetch_domain, fetch_one, now};
use crate::enums::{GrantStatus, Role};
use crate::ids::{RoleGrantId, UserId};
use crate::query::{Arg, Sql};
use crate::store::{Result, StoreError};
use crate::user::{ApiToken, NewToken, RoleGrant, TokenHash, User};

/// The most grants one listing returns (pending first, then newest).
const MAX_GRANTS_LISTED: i64 = 500;

/// Why an admin alone cannot give a need-to-know role.
const NEEDS_APPROVAL: &str = "giving the responder or finance-ops role needs a current responder's approval: request it (POST /api/v1/role-grants), or set it on the server host (watchpost users add / set-role)";

/// Writes a user's new role, ends their browser sessions (a page open with
/// the old role must not keep it), audits it and tells the Security Team.
async fn write_role(
    tx: &mut Tx,
    v: &Viewer,
    before: &User,
    role: Role,
    action: &str,
    grant: Option<&RoleGrant>,
    at: OffsetDateTime,
) -> Result<User> {
    let mut after = before.clone();
    after.role = role;
    let mut q = Sql::new("UPDATE users SET role = ");
    q.bind(role.as_str())
        .push(" WHERE id = ")
        .bind(before.id.to_string());
    exec(&mut **tx, &q).await?;
    end_sessions(tx, before.id).await?;
    append_audit(
        tx,
        v,
        at,
        Change {
            action,
            entity: "user",
            entity_id: before.id.to_string(),
            incident_id: None,
            related_incident_id: None,
            before: to_json(before),
            after: json!({ "user": to_json(&after), "grant": grant.map(to_json) }),
        },
    )
    .await?;
    if before.role.has_need_to_know() || role.has_need_to_know() {
        enqueue_access(
            tx,
            action,
            &format!(
                "{} is now {} (was {})",
                before.name, role, before.role
            ),
            json!({ "user": to_json(&after), "previous_role": before.role, "by": v.user_id, "grant": grant.map(to_json) }),
            at,
        )
        .await?;
    }
    Ok(after)
}

/// Loads grant `id` inside `tx`.
async fn load_grant(tx: &mut Tx, id: RoleGrantId) -> Result<RoleGrant> {
    let mut q = Sql::new(&format!(
        "SELECT {ROLE_GRANT_COLS} FROM role_grants g WHERE g.id = "
    ));
    q.bind(id.to_string());
    fetch_one::<_, RoleGrantRow>(&mut **tx, &q, "role grant").await
}

/// Records a decision on a pending grant.
async fn decide(
    tx: &mut Tx,
    grant: &RoleGrant,
    status: GrantStatus,
    by: UserId,
    at: OffsetDateTime,
) -> Result<RoleGrant> {
    let mut q = Sql::new("UPDATE role_grants SET status = ");
    q.bind(status.as_str())
        .push(", decided_by = ")
        .bind(by.to_string())
        .push(", decided_at = ")
        .bind(unix_micros(at))
        .push(" WHERE id = ")
        .bind(grant.id.to_string())
        .push(" AND status = ")
        .bind(GrantStatus::Pending.as_str());
    if exec(&mut **tx, &q).await? == 0 {
        return Err(StoreError::Conflict(format!(
            "the grant is already {}",
            grant.status
        )));
    }
    let mut decided = grant.clone();
    decided.status = status;
    decided.decided_by = Some(by);
    decided.decided_at = Some(at);
    Ok(decided)
}

/// `Conflict` unless the grant is still pending.
fn pending(grant: &RoleGrant) -> Result<()> {
    if grant.status == GrantStatus::Pending {
        Ok(())
    } else {
        Err(StoreError::Conflict(format!(
            "the grant is already {}",
            grant.status
        )))
    }
}

impl SqlStore {
    pub(super) async fn set_user_role(&self, v: &Viewer, id: UserId, role: Role) -> Result<User> {
        people_only(v)?;
        let mut tx = self.begin().await?;
        let before = load_user(&mut *tx, v, user_by_id(id)).await?;
        forbid(v.can_admin_users(), "only admins change roles")?;
        if role.has_need_to_know() && !v.is_system() {
            return Err(StoreError::Forbidden(NEEDS_APPROVAL));
        }
        if before.role == role {
            return Ok(before);
        }
        let after = write_role(&mut tx, v, &before, role, "user.role_change", None, now()).await?;
        tx.commit().await?;
        Ok(after)
    }

    pub(super) async fn request_role(
        &self,
        v: &Viewer,
        user: UserId,
        role: Role,
    ) -> Result<RoleGrant> {
        people_only(v)?;
        if !role.has_need_to_know() {
            return Err(StoreError::Invalid(format!(
                "only the need-to-know roles (responder, finance-ops) are granted; set {role} directly"
            )));
        }
        let mut tx = self.begin().await?;
        let subject = load_user(&mut *tx, v, user_by_id(user)).await?;
        forbid(
            v.can_ask_for_roles(),
            "only admins and responders ask for need-to-know roles",
        )?;
        if subject.role == role {
            return Err(StoreError::Conflict(format!(
                "{} is already {role}",
                subject.name
            )));
        }
        if subject.disabled {
            return Err(StoreError::Conflict(format!(
                "{} is disabled",
                subject.name
            )));
        }
        let mut q = Sql::new("SELECT COUNT(*) FROM role_grants WHERE user_id = ");
        q.bind(user.to_string())
            .push(" AND role = ")
            .bind(role.as_str())
            .push(" AND status = ")
            .bind(GrantStatus::Pending.as_str());
        let (open,): (i64,) = crate::backend::fetch_opt(&mut *tx, &q)
            .await?
            .unwrap_or((0,));
        if open > 0 {
            return Err(StoreError::Conflict(format!(
                "a request to make {} {role} is already pending",
                subject.name
            )));
        }
        let at = now();
        let grant = RoleGrant {
            id: RoleGrantId::new(),
            user_id: user,
            role,
            status: GrantStatus::Pending,
            requested_by: v.user_id,
            requested_at: at,
            decided_by: None,
            decided_at: None,
        };
        let mut q = Sql::new(
            "INSERT INTO role_grants (id, user_id, role, status, requested_by, requested_at) VALUES ",
        );
        q.bind_list([
            Arg::from(grant.id.to_string()),
            Arg::from(user.to_string()),
            Arg::from(role.as_str()),
            Arg::from(grant.status.as_str()),
            Arg::from(v.user_id.to_string()),
            Arg::from(unix_micros(at)),
        ]);
        exec(&mut *tx, &q).await?;
        append_audit(
            &mut tx,
            v,
            at,
            Change {
                action: "user.role_request",
                entity: "user",
                entity_id: user.to_string(),
                incident_id: None,
                related_incident_id: None,
                before: to_json(&subject),
                after: to_json(&grant),
            },
        )
        .await?;
        enqueue_access(
            &mut tx,
            "user.role_request",
            &format!(
                "{} asked for {} to become {role}; a responder must approve",
                v.user_id, subject.name
            ),
            json!({ "user": to_json(&subject), "grant": to_json(&grant) }),
            at,
        )
        .await?;
        tx.commit().await?;
        Ok(grant)
    }

    pub(super) async fn approve_role(
        &self,
        v: &Viewer,
        id: RoleGrantId,
        token: TokenHash,
    ) -> Result<(User, ApiToken)> {
        forbid(
            v.can_approve_roles(),
            "only a responder approves a need-to-know role",
        )?;
        let mut tx = self.begin().await?;
        let grant = load_grant(&mut tx, id).await?;
        pending(&grant)?;
        if !v.is_system() && (grant.requested_by == v.user_id || grant.user_id == v.user_id) {
            return Err(StoreError::Forbidden(
                "a second person approves: not the one who asked, nor the user",
            ));
        }
        let before = load_user(&mut *tx, &Viewer::system(), user_by_id(grant.user_id)).await?;
        if before.disabled {
            return Err(StoreError::Conflict(format!("{} is disabled", before.name)));
        }
        let at = now();
        let decided = decide(&mut tx, &grant, GrantStatus::Approved, v.user_id, at).await?;
        // Someone else (the admin who made the account) may hold a copy of
        // an existing token: none of them may carry the new role.
        let mut q = Sql::new("UPDATE api_tokens SET revoked = ");
        q.bind(true)
            .push(" WHERE user_id = ")
            .bind(grant.user_id.to_string());
        exec(&mut *tx, &q).await?;
        let after = write_role(
            &mut tx,
            v,
            &before,
            grant.role,
            "user.role_grant",
            Some(&decided),
            at,
        )
        .await?;
        let new = NewToken {
            label: "granted".to_owned(),
            hash: token,
            expires_at: None,
        };
        let token = insert_token(&mut tx, grant.user_id, &new, at).await?;
        audit_token(
            &mut tx,
            v,
            "token.create",
            &token,
            serde_json::Value::Null,
            to_json(&token),
        )
        .await?;
        tx.commit().await?;
        Ok((after, token))
    }

    pub(super) async fn reject_role(&self, v: &Viewer, id: RoleGrantId) -> Result<RoleGrant> {
        forbid(
            v.can_ask_for_roles(),
            "only admins and responders decide on role requests",
        )?;
        let mut tx = self.begin().await?;
        let grant = load_grant(&mut tx, id).await?;
        pending(&grant)?;
        let at = now();
        let decided = decide(&mut tx, &grant, GrantStatus::Rejected, v.user_id, at).await?;
        append_audit(
            &mut tx,
            v,
            at,
            Change {
                action: "user.role_reject",
                entity: "user",
                entity_id: grant.user_id.to_string(),
                incident_id: None,
                related_incident_id: None,
                before: to_json(&grant),
                after: to_json(&decided),
            },
        )
        .await?;
        enqueue_access(
            &mut tx,
            "user.role_reject",
            &format!(
                "the request to make {} {} was rejected",
                grant.user_id, grant.role
            ),
            json!({ "grant": to_json(&decided) }),
            at,
        )
        .await?;
        tx.commit().await?;
        Ok(decided)
    }

    pub(super) async fn list_role_grants(&self, v: &Viewer) -> Result<Vec<RoleGrant>> {
        forbid(
            v.can_ask_for_roles(),
            "only admins and responders read role requests",
        )?;
        let mut q = Sql::new(&format!(
            "SELECT {ROLE_GRANT_COLS} FROM role_grants g ORDER BY CASE WHEN g.status = "
        ));
        q.bind(GrantStatus::Pending.as_str())
            .push(" THEN 0 ELSE 1 END, g.requested_at DESC, g.id LIMIT ")
            .bind(MAX_GRANTS_LISTED);
        fetch_domain::<_, RoleGrantRow>(&self.reader, &q).await
    }
}

/// Checks that `v` may create a user with `role`: a need-to-know role only
/// on the server host. Used by user creation.
pub(super) fn may_create_with(v: &Viewer, role: Role) -> Result<()> {
    if role.has_need_to_know() && !v.is_system() {
        Err(StoreError::Forbidden(NEEDS_APPROVAL))
    } else {
        Ok(())
    }
}

/// Tells the Security Team that a user with a need-to-know role was made
/// on the server host (inside the creating transaction).
pub(super) async fn announce_new_user(tx: &mut Tx, user: &User, at: OffsetDateTime) -> Result<()> {
    if !user.role.has_need_to_know() {
        return Ok(());
    }
    enqueue_access(
        tx,
        "user.create",
        &format!(
            "{} was created as {} on the server host",
            user.name, user.role
        ),
        json!({ "user": to_json(user) }),
        at,
    )
    .await
}
