//! Single-row reads through the viewer's visibility predicate (see
//! [`crate::access`]): a row the viewer may not see reads as "not found".
//! Every operation that acts on an existing incident, alert, report or user
//! loads it through here first, and reports read through here get their
//! attachments ([`fill_attachments`]). Nothing here writes.

use std::collections::BTreeMap;

use sqlx::{Any, Executor};

use crate::access::{Viewer, alert_visible, incident_visible, report_visible};
use crate::alert::Alert;
use crate::backend::rows::{
    ALERT_COLS, ATTACHMENT_COLS, AlertRow, AttachmentRow, DomainRow, INCIDENT_COLS, IncidentRow,
    REPORT_COLS, ReportRow, USER_COLS, UserRow,
};
use crate::backend::{Tx, fetch_all, fetch_one, fetch_opt};
use crate::enums::Role;
use crate::ids::{AlertId, IncidentId, ReportId, UserId};
use crate::incident::Incident;
use crate::query::Sql;
use crate::report::{Attachment, Report};
use crate::store::{Result, StoreError};
use crate::user::User;

/// Loads incident `id` if `v` may see it.
pub(super) async fn load_incident<'e, E: Executor<'e, Database = Any>>(
    e: E,
    v: &Viewer,
    id: IncidentId,
) -> Result<Incident> {
    let mut q = Sql::new(&format!(
        "SELECT {INCIDENT_COLS} FROM incidents i WHERE i.id = "
    ));
    q.bind(id.to_string()).push(" AND ");
    incident_visible(&mut q, v, "i");
    fetch_one::<_, IncidentRow>(e, &q, "incident").await
}

/// Loads alert `id` if `v` may see it.
pub(super) async fn load_alert<'e, E: Executor<'e, Database = Any>>(
    e: E,
    v: &Viewer,
    id: AlertId,
) -> Result<Alert> {
    let mut q = Sql::new(&format!("SELECT {ALERT_COLS} FROM alerts a WHERE a.id = "));
    q.bind(id.to_string()).push(" AND ");
    alert_visible(&mut q, v, "a");
    fetch_one::<_, AlertRow>(e, &q, "alert").await
}

/// Loads report `id` (without its attachments) if `v` may see it.
pub(super) async fn load_report<'e, E: Executor<'e, Database = Any>>(
    e: E,
    v: &Viewer,
    id: ReportId,
) -> Result<Report> {
    let mut q = Sql::new(&format!(
        "SELECT {REPORT_COLS} FROM reports r JOIN incidents ri ON ri.id = r.incident_id WHERE r.id = "
    ));
    q.bind(id.to_string()).push(" AND ");
    report_visible(&mut q, v, "r");
    fetch_one::<_, ReportRow>(e, &q, "report").await
}

/// The query for the user with id `id`, for [`load_user`].
pub(super) fn user_by_id(id: UserId) -> Sql {
    let mut q = Sql::new(&format!("SELECT {USER_COLS} FROM users u WHERE u.id = "));
    q.bind(id.to_string());
    q
}

/// Runs a query for one user and returns it if `v` may see it: admins,
/// responders and the system see everyone, other people only themselves,
/// an ingest token no one.
pub(super) async fn load_user<'e, E: Executor<'e, Database = Any>>(
    e: E,
    v: &Viewer,
    sql: Sql,
) -> Result<User> {
    let user = fetch_one::<_, UserRow>(e, &sql, "user").await?;
    let sees = v.is_system()
        || matches!(v.role, Role::Admin | Role::Responder)
        || (v.is_person() && user.id == v.user_id);
    if sees {
        Ok(user)
    } else {
        Err(StoreError::NotFound("user"))
    }
}

/// Whether `user` is a named participant of `incident`.
pub(super) async fn is_participant<'e, E: Executor<'e, Database = Any>>(
    e: E,
    incident: IncidentId,
    user: UserId,
) -> Result<bool> {
    let mut q = Sql::new("SELECT incident_id FROM incident_participants WHERE incident_id = ");
    q.bind(incident.to_string())
        .push(" AND user_id = ")
        .bind(user.to_string());
    Ok(fetch_opt::<_, (String,)>(e, &q).await?.is_some())
}

/// Fails with "user not found" unless user `id` exists (whoever asks).
pub(super) async fn user_exists(tx: &mut Tx, id: UserId) -> Result<()> {
    fetch_opt::<_, UserRow>(&mut **tx, &user_by_id(id))
        .await?
        .ok_or(StoreError::NotFound("user"))?;
    Ok(())
}

/// Whether incident `id` is sensitive, whoever asks: for carrying an
/// incident's sensitivity over to what leaves it (a moved report, a
/// dismissed alert). A missing incident counts as sensitive.
pub(super) async fn incident_sensitive<'e, E: Executor<'e, Database = Any>>(
    e: E,
    id: IncidentId,
) -> Result<bool> {
    let mut q = Sql::new("SELECT sensitive FROM incidents WHERE id = ");
    q.bind(id.to_string());
    Ok(fetch_opt::<_, (i64,)>(e, &q)
        .await?
        .is_none_or(|(s,)| s != 0))
}

/// Fills in the attachments of each report, with one query for them all
/// (the reports must already have passed the visibility check).
pub(super) async fn fill_attachments<'e, E: Executor<'e, Database = Any>>(
    e: E,
    reports: &mut [Report],
) -> Result<()> {
    if reports.is_empty() {
        return Ok(());
    }
    let mut q = Sql::new(&format!(
        "SELECT {ATTACHMENT_COLS} FROM attachments a WHERE a.report_id IN "
    ));
    q.bind_list(reports.iter().map(|r| r.id.to_string()))
        .push(" ORDER BY a.id");
    let mut by_report: BTreeMap<ReportId, Vec<Attachment>> = BTreeMap::new();
    for row in fetch_all::<_, AttachmentRow>(e, &q).await? {
        let a = row.into_domain()?;
        by_report.entry(a.report_id).or_default().push(a);
    }
    for r in reports {
        r.attachments = by_report.remove(&r.id).unwrap_or_default();
    }
    Ok(())
}
