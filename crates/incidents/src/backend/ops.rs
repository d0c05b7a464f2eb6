//! The [`Store`] implementation: each method checks who may do it, runs its
//! queries with the visibility predicate from [`crate::access`], and writes
//! the change, its timeline line, its audit entry and (when it notifies) its
//! outbox message in one transaction.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::{Any, Executor};
use time::{Duration, OffsetDateTime};

use super::rows::*;
use super::{Change, SqlStore, Tx, append_audit, exec, fetch_all, fetch_opt, now, opt_micros};
use crate::access::{
    Viewer, alert_visible, audit_visible, incident_visible, incident_visible_scoped,
    redact_for_reporter, report_visible, visible_cte,
};
use crate::alert::{
    Alert, AlertDisposition, AlertOutcome, NewAlert, NewSuppression, SuppressionRule,
};
use crate::audit::{AuditEntry, AuditReport, unix_micros, verify_chain};
use crate::enums::{Category, Disclosure, OutboxStatus, Resolution, Role, Severity, Status};
use crate::ids::*;
use crate::incident::{Impact, Incident, Note, Task, Timestamps, validate_title};
use crate::outbox::{MAX_ATTEMPTS, OutboxKind, OutboxMessage, backoff};
use crate::query::Sql;
use crate::report::{Attachment, NewReport, Report};
use crate::store::*;
use crate::user::{ApiToken, NewUser, TokenHash, User, valid_user_name};

const MAX_TEXT: usize = 20_000;
/// Largest accepted evidence (serialised) per alert.
const MAX_EVIDENCE_BYTES: usize = 1024 * 1024;

fn forbid(ok: bool, why: &'static str) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(StoreError::Forbidden(why))
    }
}

fn check_len(field: &str, s: &str, min: usize, max: usize) -> Result<()> {
    let n = s.chars().count();
    if n < min || n > max {
        return Err(StoreError::Invalid(format!(
            "{field} must be {min} to {max} characters (got {n})"
        )));
    }
    Ok(())
}

fn to_json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

fn is_unique_violation(e: &StoreError) -> bool {
    matches!(e, StoreError::Database(sqlx::Error::Database(d)) if d.is_unique_violation())
}

/// Future times (beyond a small clock-skew allowance) are refused.
fn not_future(field: &str, t: OffsetDateTime, now: OffsetDateTime) -> Result<()> {
    if t > now + Duration::minutes(5) {
        return Err(StoreError::Invalid(format!("{field} is in the future")));
    }
    Ok(())
}

fn cursor_of(created_at: OffsetDateTime, id: &str) -> String {
    format!("{}_{id}", unix_micros(created_at))
}

fn parse_cursor(c: &str) -> Result<(i64, String)> {
    let bad = || StoreError::Invalid("cursor is not one returned by a previous page".into());
    let (t, id) = c.split_once('_').ok_or_else(bad)?;
    let t: i64 = t.parse().map_err(|_| bad())?;
    let id: uuid::Uuid = id.parse().map_err(|_| bad())?;
    Ok((t, id.to_string()))
}

fn page_limit(p: &PageRequest) -> Result<i64> {
    match p.limit {
        None => Ok(50),
        Some(n @ 1..=500) => Ok(i64::from(n)),
        Some(n) => Err(StoreError::Invalid(format!(
            "limit must be 1 to 500 (got {n})"
        ))),
    }
}

/// Appends the keyset condition and ordering for `alias` (newest first).
fn keyset(q: &mut Sql, alias: &str, page: &PageRequest, limit: i64) -> Result<()> {
    if let Some(c) = &page.cursor {
        let (t, id) = parse_cursor(c)?;
        q.push(" AND (")
            .push(alias)
            .push(".created_at < ")
            .bind(t)
            .push(" OR (")
            .push(alias)
            .push(".created_at = ")
            .bind(t)
            .push(" AND ")
            .push(alias)
            .push(".id < ")
            .bind(id)
            .push("))");
    }
    q.push(" ORDER BY ")
        .push(alias)
        .push(".created_at DESC, ")
        .push(alias)
        .push(".id DESC LIMIT ")
        .bind(limit + 1);
    Ok(())
}

fn paginate<T>(mut items: Vec<T>, limit: i64, key: impl Fn(&T) -> String) -> Page<T> {
    let next_cursor = if items.len() as i64 > limit {
        items.truncate(limit as usize);
        items.last().map(key)
    } else {
        None
    };
    Page { items, next_cursor }
}

async fn load_incident<'e, E: Executor<'e, Database = Any>>(
    e: E,
    v: &Viewer,
    id: IncidentId,
) -> Result<Incident> {
    let mut q = Sql::new(&format!(
        "SELECT {INCIDENT_COLS} FROM incidents i WHERE i.id = "
    ));
    q.bind(id.to_string()).push(" AND ");
    incident_visible(&mut q, v, "i");
    fetch_opt::<_, IncidentRow>(e, &q)
        .await?
        .ok_or(StoreError::NotFound("incident"))?
        .into_domain()
}

const INCIDENT_MUT_COLS: &str = "title, description, category, severity, status, sensitive, owner_id, impact, resolution, disclosure, merged_into, alert_count, group_key, last_alert_at, occurred_at, detected_at, reported_at, acknowledged_at, contained_at, resolved_at, closed_at, updated_at";

async fn insert_incident(tx: &mut Tx, i: &Incident) -> Result<()> {
    let mut q = Sql::new(&format!(
        "INSERT INTO incidents (id, created_at, {INCIDENT_MUT_COLS}) VALUES ("
    ));
    q.bind(i.id.to_string())
        .push(", ")
        .bind(unix_micros(i.created_at))
        .push(", ");
    incident_values(&mut q, i);
    q.push(")");
    exec(&mut **tx, &q).await?;
    Ok(())
}

async fn save_incident(tx: &mut Tx, i: &Incident) -> Result<()> {
    let mut q = Sql::new(&format!("UPDATE incidents SET ({INCIDENT_MUT_COLS}) = ("));
    incident_values(&mut q, i);
    q.push(") WHERE id = ").bind(i.id.to_string());
    exec(&mut **tx, &q).await?;
    Ok(())
}

/// Binds every mutable column, in [`INCIDENT_MUT_COLS`] order.
fn incident_values(q: &mut Sql, i: &Incident) {
    let t = &i.times;
    q.bind(i.title.clone())
        .push(", ")
        .bind(i.description.clone())
        .push(", ")
        .bind(i.category.as_str())
        .push(", ")
        .bind(i.severity.as_str())
        .push(", ")
        .bind(i.status.as_str())
        .push(", ")
        .bind(i.sensitive)
        .push(", ")
        .bind(i.owner.map(|o| o.to_string()))
        .push(", ")
        .bind(i.impact.as_ref().map(|m| to_json(m).to_string()))
        .push(", ")
        .bind(i.resolution.map(|r| r.as_str().to_owned()))
        .push(", ")
        .bind(i.disclosure.as_str())
        .push(", ")
        .bind(i.merged_into.map(|m| m.to_string()))
        .push(", ")
        .bind(i.alert_count)
        .push(", ")
        .bind(i.group_key.clone())
        .push(", ")
        .bind(opt_micros(i.last_alert_at))
        .push(", ")
        .bind(opt_micros(t.occurred_at))
        .push(", ")
        .bind(opt_micros(t.detected_at))
        .push(", ")
        .bind(unix_micros(t.reported_at))
        .push(", ")
        .bind(opt_micros(t.acknowledged_at))
        .push(", ")
        .bind(opt_micros(t.contained_at))
        .push(", ")
        .bind(opt_micros(t.resolved_at))
        .push(", ")
        .bind(opt_micros(t.closed_at))
        .push(", ")
        .bind(unix_micros(i.updated_at));
}

async fn add_timeline(
    tx: &mut Tx,
    incident: IncidentId,
    at: OffsetDateTime,
    actor: UserId,
    kind: &str,
    message: &str,
) -> Result<()> {
    let mut q =
        Sql::new("INSERT INTO timeline (id, incident_id, at, actor, kind, message) VALUES (");
    q.bind(TimelineId::new().to_string())
        .push(", ")
        .bind(incident.to_string())
        .push(", ")
        .bind(unix_micros(at))
        .push(", ")
        .bind(actor.to_string())
        .push(", ")
        .bind(kind)
        .push(", ")
        .bind(message)
        .push(")");
    exec(&mut **tx, &q).await?;
    Ok(())
}

async fn enqueue(
    tx: &mut Tx,
    kind: OutboxKind,
    i: &Incident,
    action: &str,
    change: &str,
    at: OffsetDateTime,
) -> Result<()> {
    // Everything a notifier renders, so it never has to read the incident
    // back (which, for a sensitive one, would need a visibility bypass).
    let payload = json!({
        "id": i.id, "title": i.title, "category": i.category, "severity": i.severity,
        "status": i.status, "sensitive": i.sensitive, "owner": i.owner,
        "action": action, "change": change, "incident": to_json(i),
    });
    let mut q = Sql::new(
        "INSERT INTO outbox (id, kind, incident_id, sensitive, payload, status, attempts, next_attempt_at, created_at) VALUES (",
    );
    q.bind(OutboxId::new().to_string())
        .push(", ")
        .bind(kind.as_str())
        .push(", ")
        .bind(i.id.to_string())
        .push(", ")
        .bind(i.sensitive)
        .push(", ")
        .bind(payload.to_string())
        .push(", ")
        .bind(OutboxStatus::Pending.as_str())
        .push(", 0, ")
        .bind(unix_micros(at))
        .push(", ")
        .bind(unix_micros(at))
        .push(")");
    exec(&mut **tx, &q).await?;
    Ok(())
}

async fn user_exists(tx: &mut Tx, id: UserId) -> Result<()> {
    let mut q = Sql::new(&format!("SELECT {USER_COLS} FROM users u WHERE u.id = "));
    q.bind(id.to_string());
    fetch_opt::<_, UserRow>(&mut **tx, &q)
        .await?
        .ok_or(StoreError::NotFound("user"))?;
    Ok(())
}

async fn is_participant<'e, E: Executor<'e, Database = Any>>(
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

async fn add_participant_row(
    tx: &mut Tx,
    incident: IncidentId,
    user: UserId,
    at: OffsetDateTime,
) -> Result<bool> {
    let mut q =
        Sql::new("INSERT INTO incident_participants (incident_id, user_id, added_at) VALUES (");
    q.bind(incident.to_string())
        .push(", ")
        .bind(user.to_string())
        .push(", ")
        .bind(unix_micros(at))
        .push(") ON CONFLICT DO NOTHING");
    Ok(exec(&mut **tx, &q).await? > 0)
}

async fn attachments_of<'e, E: Executor<'e, Database = Any>>(
    e: E,
    reports: &[String],
) -> Result<Vec<Attachment>> {
    if reports.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = Sql::new(&format!(
        "SELECT {ATTACHMENT_COLS} FROM attachments a WHERE a.report_id IN "
    ));
    q.bind_list(reports.iter().cloned()).push(" ORDER BY a.id");
    fetch_all::<_, AttachmentRow>(e, &q)
        .await?
        .into_iter()
        .map(AttachmentRow::into_domain)
        .collect()
}

/// A new incident in triage, built from its parts.
#[allow(clippy::too_many_arguments)]
fn new_incident(
    title: String,
    description: String,
    category: Category,
    severity: Severity,
    sensitive: bool,
    occurred_at: Option<OffsetDateTime>,
    detected_at: Option<OffsetDateTime>,
    reported_at: OffsetDateTime,
    now: OffsetDateTime,
) -> Incident {
    Incident {
        id: IncidentId::new(),
        title,
        description,
        category,
        severity,
        status: Status::Triage,
        sensitive: sensitive || category.always_sensitive(),
        owner: None,
        impact: None,
        resolution: None,
        disclosure: Disclosure::None,
        merged_into: None,
        alert_count: 0,
        group_key: None,
        last_alert_at: None,
        times: Timestamps {
            occurred_at,
            detected_at,
            reported_at,
            acknowledged_at: None,
            contained_at: None,
            resolved_at: None,
            closed_at: None,
        },
        created_at: now,
        updated_at: now,
    }
}

fn alert_title(a: &NewAlert) -> String {
    let mut t = a.rule_title.clone();
    let ents: Vec<String> = a.entities.iter().map(|(k, v)| format!("{k}={v}")).collect();
    if !ents.is_empty() {
        t.push_str(" (");
        t.push_str(&ents.join(", "));
        t.push(')');
    }
    t.chars().take(300).collect()
}

fn alert_to_domain(
    id: AlertId,
    a: &NewAlert,
    incident: Option<IncidentId>,
    disposition: AlertDisposition,
    suppressed_by: Option<SuppressionId>,
    at: OffsetDateTime,
) -> Alert {
    Alert {
        id,
        rule_id: a.rule_id.clone(),
        rule_title: a.rule_title.clone(),
        level: a.level,
        entities: a.entities.clone(),
        evidence: a.evidence.clone(),
        policy: a.policy.clone(),
        detected_at: a.detected_at,
        incident_id: incident,
        disposition,
        suppressed_by,
        created_at: at,
    }
}

async fn insert_alert(tx: &mut Tx, a: &Alert) -> Result<()> {
    let mut q = Sql::new(
        "INSERT INTO alerts (id, rule_id, rule_title, level, entities, evidence, policy, detected_at, incident_id, disposition, suppressed_by, created_at) VALUES (",
    );
    q.bind(a.id.to_string())
        .push(", ")
        .bind(a.rule_id.clone())
        .push(", ")
        .bind(a.rule_title.clone())
        .push(", ")
        .bind(a.level.as_str())
        .push(", ")
        .bind(to_json(&a.entities).to_string())
        .push(", ")
        .bind(to_json(&a.evidence).to_string())
        .push(", ")
        .bind(a.policy.clone())
        .push(", ")
        .bind(unix_micros(a.detected_at))
        .push(", ")
        .bind(a.incident_id.map(|i| i.to_string()))
        .push(", ")
        .bind(a.disposition.as_str())
        .push(", ")
        .bind(a.suppressed_by.map(|s| s.to_string()))
        .push(", ")
        .bind(unix_micros(a.created_at))
        .push(")");
    exec(&mut **tx, &q).await?;
    Ok(())
}

/// Alert fields as stored in the audit trail (evidence is summarised by its
/// size, not copied).
fn alert_audit(a: &Alert) -> Value {
    json!({
        "id": a.id, "rule_id": a.rule_id, "level": a.level, "entities": a.entities,
        "incident_id": a.incident_id, "disposition": a.disposition.as_str(),
        "suppressed_by": a.suppressed_by, "evidence_events": a.evidence.len(),
    })
}

async fn load_alert<'e, E: Executor<'e, Database = Any>>(
    e: E,
    v: &Viewer,
    id: AlertId,
) -> Result<Alert> {
    let mut q = Sql::new(&format!("SELECT {ALERT_COLS} FROM alerts a WHERE a.id = "));
    q.bind(id.to_string()).push(" AND ");
    alert_visible(&mut q, v, "a");
    fetch_opt::<_, AlertRow>(e, &q)
        .await?
        .ok_or(StoreError::NotFound("alert"))?
        .into_domain()
}

async fn load_report<'e, E: Executor<'e, Database = Any>>(
    e: E,
    v: &Viewer,
    id: ReportId,
) -> Result<Report> {
    let mut q = Sql::new(&format!(
        "SELECT {REPORT_COLS} FROM reports r JOIN incidents ri ON ri.id = r.incident_id WHERE r.id = "
    ));
    q.bind(id.to_string()).push(" AND ");
    report_visible(&mut q, v, "r");
    fetch_opt::<_, ReportRow>(e, &q)
        .await?
        .ok_or(StoreError::NotFound("report"))?
        .into_domain()
}

async fn load_user<'e, E: Executor<'e, Database = Any>>(
    e: E,
    v: &Viewer,
    sql: Sql,
) -> Result<User> {
    let user = fetch_opt::<_, UserRow>(e, &sql)
        .await?
        .ok_or(StoreError::NotFound("user"))?
        .into_domain()?;
    if v.is_system() || matches!(v.role, Role::Admin | Role::Responder) || user.id == v.user_id {
        Ok(user)
    } else {
        Err(StoreError::NotFound("user"))
    }
}

fn metric_row(key: String, rows: &[(i64, Option<i64>, Option<i64>)]) -> MetricRow {
    fn stats(mut xs: Vec<f64>) -> (Option<f64>, Option<f64>) {
        if xs.is_empty() {
            return (None, None);
        }
        xs.sort_by(f64::total_cmp);
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let mid = xs.len() / 2;
        let p50 = if xs.len().is_multiple_of(2) {
            (xs[mid - 1] + xs[mid]) / 2.0
        } else {
            xs[mid]
        };
        (Some(mean), Some(p50))
    }
    // Durations clamp at zero: a backdated or hand-edited row never yields
    // a negative figure.
    let secs = |start: i64, end: i64| ((end - start).max(0)) as f64 / 1e6;
    let tta: Vec<f64> = rows
        .iter()
        .filter_map(|(r, a, _)| a.map(|a| secs(*r, a)))
        .collect();
    let ttr: Vec<f64> = rows
        .iter()
        .filter_map(|(r, _, z)| z.map(|z| secs(*r, z)))
        .collect();
    let (acknowledged, resolved) = (tta.len() as i64, ttr.len() as i64);
    let (tta_mean_secs, tta_p50_secs) = stats(tta);
    let (ttr_mean_secs, ttr_p50_secs) = stats(ttr);
    MetricRow {
        key,
        count: rows.len() as i64,
        acknowledged,
        tta_mean_secs,
        tta_p50_secs,
        resolved,
        ttr_mean_secs,
        ttr_p50_secs,
    }
}

impl SqlStore {
    /// Writes an attachment to its content-addressed file (idempotent).
    async fn write_attachment(&self, bytes: &[u8]) -> Result<String> {
        let sha = hex::encode(Sha256::digest(bytes));
        let dir = self.data_dir.join("attachments").join(&sha[..2]);
        let io = |path: &std::path::Path| {
            let path = path.to_owned();
            move |source| StoreError::Io { path, source }
        };
        tokio::fs::create_dir_all(&dir).await.map_err(io(&dir))?;
        let path = dir.join(&sha);
        if tokio::fs::try_exists(&path).await.unwrap_or(false) {
            return Ok(sha);
        }
        let tmp = dir.join(format!("{sha}.{}.tmp", uuid::Uuid::now_v7()));
        tokio::fs::write(&tmp, bytes).await.map_err(io(&tmp))?;
        tokio::fs::rename(&tmp, &path).await.map_err(io(&path))?;
        Ok(sha)
    }

    /// Loads a visible incident inside a write transaction and checks the
    /// viewer may manage it.
    async fn managed(&self, tx: &mut Tx, v: &Viewer, id: IncidentId) -> Result<Incident> {
        let i = load_incident(&mut **tx, v, id).await?;
        forbid(
            v.can_manage_incidents(),
            "only responders and admins change incidents",
        )?;
        Ok(i)
    }

    /// Saves an incident change with timeline, audit and (optionally)
    /// outbox, then commits.
    #[allow(clippy::too_many_arguments)]
    async fn commit_incident_change(
        &self,
        mut tx: Tx,
        v: &Viewer,
        before: &Incident,
        after: &Incident,
        action: &str,
        timeline: Option<(&str, String)>,
        notify: bool,
        at: OffsetDateTime,
    ) -> Result<()> {
        save_incident(&mut tx, after).await?;
        if let Some((kind, msg)) = &timeline {
            add_timeline(&mut tx, after.id, at, v.user_id, kind, msg).await?;
        }
        append_audit(
            &mut tx,
            v,
            at,
            Change {
                action,
                entity: "incident",
                entity_id: after.id.to_string(),
                incident_id: Some(after.id),
                before: to_json(before),
                after: to_json(after),
            },
        )
        .await?;
        if notify {
            let change = timeline.map_or_else(|| action.to_owned(), |(_, m)| m);
            enqueue(
                &mut tx,
                OutboxKind::IncidentChanged,
                after,
                action,
                &change,
                at,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Opens an incident for an alert inside `tx`.
    async fn open_for_alert(
        &self,
        tx: &mut Tx,
        v: &Viewer,
        a: &NewAlert,
        at: OffsetDateTime,
    ) -> Result<Incident> {
        let mut i = new_incident(
            alert_title(a),
            format!("Opened by detection rule {} ({}).", a.rule_title, a.rule_id),
            Category::SecurityIncident,
            a.level.severity(),
            false,
            Some(a.detected_at),
            Some(a.detected_at),
            at,
            at,
        );
        i.alert_count = 1;
        i.group_key = Some(a.group_key());
        i.last_alert_at = Some(a.detected_at);
        insert_incident(tx, &i).await?;
        add_timeline(
            tx,
            i.id,
            at,
            v.user_id,
            "opened",
            &format!("opened by alert: {}", a.rule_title),
        )
        .await?;
        append_audit(
            tx,
            v,
            at,
            Change {
                action: "incident.open",
                entity: "incident",
                entity_id: i.id.to_string(),
                incident_id: Some(i.id),
                before: Value::Null,
                after: to_json(&i),
            },
        )
        .await?;
        let change = format!("New incident opened by detection rule {}", a.rule_title);
        enqueue(
            tx,
            OutboxKind::IncidentOpened,
            &i,
            "incident.open",
            &change,
            at,
        )
        .await?;
        Ok(i)
    }
}

#[async_trait]
impl Store for SqlStore {
    fn backend(&self) -> Backend {
        self.backend
    }

    async fn close(&self) {
        if self.backend == Backend::Sqlite
            && let Err(error) =
                exec(&self.writer, &Sql::new("PRAGMA wal_checkpoint(TRUNCATE)")).await
        {
            tracing::warn!(%error, "WAL checkpoint at close failed");
        }
        self.writer.close().await;
        self.reader.close().await;
    }

    // ----- users and tokens -----

    async fn create_user(&self, v: &Viewer, new: NewUser) -> Result<User> {
        forbid(v.can_admin_users(), "only admins create users")?;
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
        let mut q = Sql::new("INSERT INTO users (id, name, role, disabled, created_at) VALUES (");
        q.bind(user.id.to_string())
            .push(", ")
            .bind(user.name.clone())
            .push(", ")
            .bind(user.role.as_str())
            .push(", 0, ")
            .bind(unix_micros(at))
            .push(")");
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
                before: Value::Null,
                after: to_json(&user),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(user)
    }

    async fn count_users(&self, v: &Viewer) -> Result<i64> {
        forbid(v.can_admin_users(), "only admins count users")?;
        let (n,): (i64,) = fetch_opt(&self.reader, &Sql::new("SELECT COUNT(*) FROM users"))
            .await?
            .unwrap_or((0,));
        Ok(n)
    }

    async fn list_users(&self, v: &Viewer) -> Result<Vec<User>> {
        let mut q = Sql::new(&format!("SELECT {USER_COLS} FROM users u"));
        if !(v.can_admin_users() || v.role == Role::Responder) {
            q.push(" WHERE u.id = ").bind(v.user_id.to_string());
        }
        q.push(" ORDER BY u.name");
        fetch_all::<_, UserRow>(&self.reader, &q)
            .await?
            .into_iter()
            .map(UserRow::into_domain)
            .collect()
    }

    async fn get_user(&self, v: &Viewer, id: UserId) -> Result<User> {
        let mut q = Sql::new(&format!("SELECT {USER_COLS} FROM users u WHERE u.id = "));
        q.bind(id.to_string());
        load_user(&self.reader, v, q).await
    }

    async fn get_user_by_name(&self, v: &Viewer, name: &str) -> Result<User> {
        let mut q = Sql::new(&format!("SELECT {USER_COLS} FROM users u WHERE u.name = "));
        q.bind(name);
        load_user(&self.reader, v, q).await
    }

    async fn set_user_disabled(&self, v: &Viewer, id: UserId, disabled: bool) -> Result<User> {
        let mut tx = self.begin().await?;
        let mut q = Sql::new(&format!("SELECT {USER_COLS} FROM users u WHERE u.id = "));
        q.bind(id.to_string());
        let before = load_user(&mut *tx, v, q).await?;
        forbid(v.can_admin_users(), "only admins disable users")?;
        let mut after = before.clone();
        after.disabled = disabled;
        let mut q = Sql::new("UPDATE users SET disabled = ");
        q.bind(disabled).push(" WHERE id = ").bind(id.to_string());
        exec(&mut *tx, &q).await?;
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
                before: to_json(&before),
                after: to_json(&after),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    async fn create_token(
        &self,
        v: &Viewer,
        user: UserId,
        label: &str,
        hash: TokenHash,
    ) -> Result<ApiToken> {
        check_len("label", label, 0, 200)?;
        let mut tx = self.begin().await?;
        let mut q = Sql::new(&format!("SELECT {USER_COLS} FROM users u WHERE u.id = "));
        q.bind(user.to_string());
        load_user(&mut *tx, v, q).await?;
        forbid(
            v.can_admin_users() || v.user_id == user,
            "only admins create tokens for others",
        )?;
        let at = now();
        let token = ApiToken {
            id: TokenId::new(),
            user_id: user,
            label: label.to_owned(),
            created_at: at,
            revoked: false,
        };
        let mut q = Sql::new(
            "INSERT INTO api_tokens (id, user_id, label, token_hash, revoked, created_at) VALUES (",
        );
        q.bind(token.id.to_string())
            .push(", ")
            .bind(user.to_string())
            .push(", ")
            .bind(label)
            .push(", ")
            .bind(hash.to_hex())
            .push(", 0, ")
            .bind(unix_micros(at))
            .push(")");
        if let Err(e) = exec(&mut *tx, &q).await {
            return Err(if is_unique_violation(&e) {
                StoreError::Conflict("this token already exists".into())
            } else {
                e
            });
        }
        append_audit(
            &mut tx,
            v,
            at,
            Change {
                action: "token.create",
                entity: "token",
                entity_id: token.id.to_string(),
                incident_id: None,
                before: Value::Null,
                after: to_json(&token),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(token)
    }

    async fn revoke_token(&self, v: &Viewer, id: TokenId) -> Result<()> {
        let mut tx = self.begin().await?;
        let mut q = Sql::new(&format!(
            "SELECT {TOKEN_COLS} FROM api_tokens t WHERE t.id = "
        ));
        q.bind(id.to_string());
        let before = fetch_opt::<_, TokenRow>(&mut *tx, &q)
            .await?
            .ok_or(StoreError::NotFound("token"))?
            .into_domain()?;
        if !(v.can_admin_users() || before.user_id == v.user_id) {
            return Err(StoreError::NotFound("token"));
        }
        let mut q = Sql::new("UPDATE api_tokens SET revoked = 1 WHERE id = ");
        q.bind(id.to_string());
        exec(&mut *tx, &q).await?;
        let mut after = before.clone();
        after.revoked = true;
        append_audit(
            &mut tx,
            v,
            now(),
            Change {
                action: "token.revoke",
                entity: "token",
                entity_id: id.to_string(),
                incident_id: None,
                before: to_json(&before),
                after: to_json(&after),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_tokens(&self, v: &Viewer, user: UserId) -> Result<Vec<ApiToken>> {
        if !(v.can_admin_users() || v.user_id == user) {
            return Err(StoreError::NotFound("user"));
        }
        let mut q = Sql::new(&format!(
            "SELECT {TOKEN_COLS} FROM api_tokens t WHERE t.user_id = "
        ));
        q.bind(user.to_string()).push(" ORDER BY t.created_at");
        fetch_all::<_, TokenRow>(&self.reader, &q)
            .await?
            .into_iter()
            .map(TokenRow::into_domain)
            .collect()
    }

    async fn authenticate(&self, hash: TokenHash) -> Result<Option<(User, Viewer)>> {
        let mut q = Sql::new(&format!(
            "SELECT {USER_COLS} FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = "
        ));
        q.bind(hash.to_hex())
            .push(" AND t.revoked = 0 AND u.disabled = 0");
        let Some(row) = fetch_opt::<_, UserRow>(&self.reader, &q).await? else {
            return Ok(None);
        };
        let user = row.into_domain()?;
        let viewer = Viewer::new(user.id, user.role);
        Ok(Some((user, viewer)))
    }

    // ----- reports -----

    async fn file_report(&self, v: &Viewer, new: NewReport) -> Result<Report> {
        check_len("description", &new.description, 1, MAX_TEXT)?;
        if let Some(l) = &new.location {
            check_len("location", l, 0, 500)?;
        }
        if new.anonymous && !new.channel.allows_anonymous() {
            return Err(StoreError::Invalid(format!(
                "anonymous reports are accepted only on the email and third-party channels, not {}",
                new.channel
            )));
        }
        let at = now();
        if let Some(o) = new.occurred_at {
            not_future("occurred_at", o, at)?;
        }
        if new.attachments.len() > 20 {
            return Err(StoreError::Invalid(
                "at most 20 attachments per report".into(),
            ));
        }
        for a in &new.attachments {
            check_len("attachment filename", &a.filename, 1, 255)?;
            check_len("attachment content type", &a.content_type, 0, 255)?;
            if a.bytes.len() > self.options.max_attachment_bytes {
                return Err(StoreError::Invalid(format!(
                    "attachment {:?} is {} bytes; the limit is {}",
                    a.filename,
                    a.bytes.len(),
                    self.options.max_attachment_bytes
                )));
            }
        }
        let report_id = ReportId::new();
        let mut attachments = Vec::new();
        for a in &new.attachments {
            let sha256 = self.write_attachment(&a.bytes).await?;
            attachments.push(Attachment {
                id: AttachmentId::new(),
                report_id,
                filename: a.filename.clone(),
                content_type: a.content_type.clone(),
                size: a.bytes.len() as i64,
                sha256,
            });
        }
        let sensitive = new.sensitive || new.category.always_sensitive();
        let first_line: String = new
            .description
            .lines()
            .next()
            .unwrap_or_default()
            .chars()
            .take(80)
            .collect();
        let incident = new_incident(
            format!("{} report: {}", new.category, first_line.trim()),
            new.description.clone(),
            new.category,
            Severity::Sev3,
            sensitive,
            new.occurred_at,
            None,
            at,
            at,
        );
        let report = Report {
            id: report_id,
            reporter: (!new.anonymous).then_some(v.user_id),
            channel: new.channel,
            category: new.category,
            description: new.description,
            occurred_at: new.occurred_at,
            location: new.location,
            sensitive,
            incident_id: incident.id,
            incident_status: incident.status,
            attachments,
            created_at: at,
        };
        let mut tx = self.begin().await?;
        insert_incident(&mut tx, &incident).await?;
        let mut q = Sql::new(
            "INSERT INTO reports (id, reporter_id, channel, category, description, occurred_at, location, sensitive, incident_id, created_at) VALUES (",
        );
        q.bind(report.id.to_string())
            .push(", ")
            .bind(report.reporter.map(|r| r.to_string()))
            .push(", ")
            .bind(report.channel.as_str())
            .push(", ")
            .bind(report.category.as_str())
            .push(", ")
            .bind(report.description.clone())
            .push(", ")
            .bind(opt_micros(report.occurred_at))
            .push(", ")
            .bind(report.location.clone())
            .push(", ")
            .bind(report.sensitive)
            .push(", ")
            .bind(incident.id.to_string())
            .push(", ")
            .bind(unix_micros(at))
            .push(")");
        exec(&mut *tx, &q).await?;
        for a in &report.attachments {
            let mut q = Sql::new(
                "INSERT INTO attachments (id, report_id, filename, content_type, size, sha256) VALUES (",
            );
            q.bind(a.id.to_string())
                .push(", ")
                .bind(report.id.to_string())
                .push(", ")
                .bind(a.filename.clone())
                .push(", ")
                .bind(a.content_type.clone())
                .push(", ")
                .bind(a.size)
                .push(", ")
                .bind(a.sha256.clone())
                .push(")");
            exec(&mut *tx, &q).await?;
        }
        add_timeline(
            &mut tx,
            incident.id,
            at,
            v.user_id,
            "opened",
            &format!(
                "opened by a {} report via {}",
                report.category, report.channel
            ),
        )
        .await?;
        append_audit(
            &mut tx,
            v,
            at,
            Change {
                action: "report.file",
                entity: "report",
                entity_id: report.id.to_string(),
                incident_id: Some(incident.id),
                before: Value::Null,
                after: to_json(&report),
            },
        )
        .await?;
        append_audit(
            &mut tx,
            v,
            at,
            Change {
                action: "incident.open",
                entity: "incident",
                entity_id: incident.id.to_string(),
                incident_id: Some(incident.id),
                before: Value::Null,
                after: to_json(&incident),
            },
        )
        .await?;
        let change = format!(
            "New {} report filed via {}",
            report.category, report.channel
        );
        enqueue(
            &mut tx,
            OutboxKind::IncidentOpened,
            &incident,
            "incident.open",
            &change,
            at,
        )
        .await?;
        tx.commit().await?;
        Ok(report)
    }

    async fn get_report(&self, v: &Viewer, id: ReportId) -> Result<Report> {
        let mut r = load_report(&self.reader, v, id).await?;
        r.attachments = attachments_of(&self.reader, &[id.to_string()]).await?;
        Ok(r)
    }

    async fn list_reports(
        &self,
        v: &Viewer,
        filter: &ReportFilter,
        page: &PageRequest,
    ) -> Result<Page<Report>> {
        let limit = page_limit(page)?;
        let mut q = Sql::new(&format!(
            "SELECT {REPORT_COLS} FROM reports r JOIN incidents ri ON ri.id = r.incident_id WHERE "
        ));
        report_visible(&mut q, v, "r");
        if !filter.category.is_empty() {
            q.push(" AND r.category IN ")
                .bind_list(filter.category.iter().map(|c| c.as_str()));
        }
        if let Some(u) = filter.reporter {
            q.push(" AND r.reporter_id = ").bind(u.to_string());
        }
        if let Some(i) = filter.incident_id {
            q.push(" AND r.incident_id = ").bind(i.to_string());
        }
        keyset(&mut q, "r", page, limit)?;
        let mut items: Vec<Report> = fetch_all::<_, ReportRow>(&self.reader, &q)
            .await?
            .into_iter()
            .map(ReportRow::into_domain)
            .collect::<Result<_>>()?;
        let ids: Vec<String> = items.iter().map(|r| r.id.to_string()).collect();
        let mut by_report: BTreeMap<ReportId, Vec<Attachment>> = BTreeMap::new();
        for a in attachments_of(&self.reader, &ids).await? {
            by_report.entry(a.report_id).or_default().push(a);
        }
        for r in &mut items {
            r.attachments = by_report.remove(&r.id).unwrap_or_default();
        }
        Ok(paginate(items, limit, |r| {
            cursor_of(r.created_at, &r.id.to_string())
        }))
    }

    async fn read_attachment(&self, v: &Viewer, id: AttachmentId) -> Result<(Attachment, Vec<u8>)> {
        let mut q = Sql::new(&format!(
            "SELECT {ATTACHMENT_COLS} FROM attachments a JOIN reports r ON r.id = a.report_id WHERE a.id = "
        ));
        q.bind(id.to_string()).push(" AND ");
        report_visible(&mut q, v, "r");
        let a = fetch_opt::<_, AttachmentRow>(&self.reader, &q)
            .await?
            .ok_or(StoreError::NotFound("attachment"))?
            .into_domain()?;
        if a.sha256.len() != 64 || !a.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(StoreError::Corrupt(format!("attachment {} hash", a.id)));
        }
        let path = self
            .data_dir
            .join("attachments")
            .join(&a.sha256[..2])
            .join(&a.sha256);
        let bytes = tokio::fs::read(&path)
            .await
            .map_err(|source| StoreError::Io {
                path: path.clone(),
                source,
            })?;
        if hex::encode(Sha256::digest(&bytes)) != a.sha256 {
            return Err(StoreError::Corrupt(format!(
                "attachment file {} does not match its hash",
                path.display()
            )));
        }
        Ok((a, bytes))
    }

    // ----- alerts -----

    async fn ingest_alert(&self, v: &Viewer, new: NewAlert) -> Result<AlertOutcome> {
        forbid(
            v.can_handle_alerts(),
            "only responders and admins ingest alerts",
        )?;
        check_len("rule_id", &new.rule_id, 1, 200)?;
        check_len("rule_title", &new.rule_title, 1, 500)?;
        if new.entities.len() > 32
            || new
                .entities
                .iter()
                .any(|(k, v)| k.is_empty() || k.len() > 64 || v.len() > 1024)
        {
            return Err(StoreError::Invalid(
                "entities: at most 32 keys of 1 to 64 bytes, values up to 1024 bytes".into(),
            ));
        }
        let evidence_bytes = to_json(&new.evidence).to_string().len();
        if new.evidence.len() > 100 || evidence_bytes > MAX_EVIDENCE_BYTES {
            return Err(StoreError::Invalid(format!(
                "evidence: at most 100 events and {MAX_EVIDENCE_BYTES} bytes (got {} events, {evidence_bytes} bytes)",
                new.evidence.len()
            )));
        }
        let at = now();
        let mut tx = self.begin().await?;
        // Suppression first.
        let mut q = Sql::new(&format!(
            "SELECT {SUPPRESSION_COLS} FROM suppressions s WHERE s.rule_id = "
        ));
        q.bind(new.rule_id.clone()).push(" ORDER BY s.created_at");
        let rules: Vec<SuppressionRule> = fetch_all::<_, SuppressionRow>(&mut *tx, &q)
            .await?
            .into_iter()
            .map(SuppressionRow::into_domain)
            .collect::<Result<_>>()?;
        if let Some(rule) = rules.iter().find(|r| r.matches(&new, at)) {
            let alert = alert_to_domain(
                AlertId::new(),
                &new,
                None,
                AlertDisposition::Suppressed,
                Some(rule.id),
                at,
            );
            insert_alert(&mut tx, &alert).await?;
            append_audit(
                &mut tx,
                v,
                at,
                Change {
                    action: "alert.suppress",
                    entity: "alert",
                    entity_id: alert.id.to_string(),
                    incident_id: None,
                    before: Value::Null,
                    after: alert_audit(&alert),
                },
            )
            .await?;
            tx.commit().await?;
            return Ok(AlertOutcome {
                alert_id: alert.id,
                disposition: AlertDisposition::Suppressed,
                incident_id: None,
            });
        }
        // Grouping: the open incident with the same key whose last alert is
        // within the window.
        let key = new.group_key();
        let mut q = Sql::new(&format!(
            "SELECT {INCIDENT_COLS} FROM incidents i WHERE i.group_key = "
        ));
        q.bind(key)
            .push(" AND i.status NOT IN ('closed', 'declined', 'merged') ORDER BY i.last_alert_at DESC LIMIT 1");
        let open = fetch_opt::<_, IncidentRow>(&mut *tx, &q)
            .await?
            .map(IncidentRow::into_domain)
            .transpose()?;
        let window = self.options.group_window;
        if let Some(before) = open.filter(|i| {
            i.last_alert_at
                .is_some_and(|l| (new.detected_at - l).abs() <= window)
        }) {
            let mut after = before.clone();
            after.alert_count += 1;
            after.last_alert_at = after.last_alert_at.max(Some(new.detected_at));
            after.updated_at = at;
            let alert = alert_to_domain(
                AlertId::new(),
                &new,
                Some(after.id),
                AlertDisposition::Grouped,
                None,
                at,
            );
            insert_alert(&mut tx, &alert).await?;
            save_incident(&mut tx, &after).await?;
            add_timeline(
                &mut tx,
                after.id,
                at,
                v.user_id,
                "alert",
                &format!("alert grouped ({} alerts)", after.alert_count),
            )
            .await?;
            append_audit(
                &mut tx,
                v,
                at,
                Change {
                    action: "alert.group",
                    entity: "alert",
                    entity_id: alert.id.to_string(),
                    incident_id: Some(after.id),
                    before: json!({ "alert_count": before.alert_count }),
                    after: json!({ "alert_count": after.alert_count, "alert": alert_audit(&alert) }),
                },
            )
            .await?;
            tx.commit().await?;
            return Ok(AlertOutcome {
                alert_id: alert.id,
                disposition: AlertDisposition::Grouped,
                incident_id: Some(after.id),
            });
        }
        let incident = self.open_for_alert(&mut tx, v, &new, at).await?;
        let alert = alert_to_domain(
            AlertId::new(),
            &new,
            Some(incident.id),
            AlertDisposition::Opened,
            None,
            at,
        );
        insert_alert(&mut tx, &alert).await?;
        append_audit(
            &mut tx,
            v,
            at,
            Change {
                action: "alert.open",
                entity: "alert",
                entity_id: alert.id.to_string(),
                incident_id: Some(incident.id),
                before: Value::Null,
                after: alert_audit(&alert),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(AlertOutcome {
            alert_id: alert.id,
            disposition: AlertDisposition::Opened,
            incident_id: Some(incident.id),
        })
    }

    async fn get_alert(&self, v: &Viewer, id: AlertId) -> Result<Alert> {
        load_alert(&self.reader, v, id).await
    }

    async fn list_alerts(
        &self,
        v: &Viewer,
        filter: &AlertFilter,
        page: &PageRequest,
    ) -> Result<Page<Alert>> {
        let limit = page_limit(page)?;
        let mut q = Sql::new(&format!("SELECT {ALERT_COLS} FROM alerts a WHERE "));
        alert_visible(&mut q, v, "a");
        if let Some(r) = &filter.rule_id {
            q.push(" AND a.rule_id = ").bind(r.clone());
        }
        if let Some(i) = filter.incident_id {
            q.push(" AND a.incident_id = ").bind(i.to_string());
        }
        if let Some(d) = filter.disposition {
            q.push(" AND a.disposition = ").bind(d.as_str());
        }
        keyset(&mut q, "a", page, limit)?;
        let items = fetch_all::<_, AlertRow>(&self.reader, &q)
            .await?
            .into_iter()
            .map(AlertRow::into_domain)
            .collect::<Result<Vec<_>>>()?;
        Ok(paginate(items, limit, |a| {
            cursor_of(a.created_at, &a.id.to_string())
        }))
    }

    async fn promote_alert(&self, v: &Viewer, id: AlertId) -> Result<Incident> {
        let mut tx = self.begin().await?;
        let before = load_alert(&mut *tx, v, id).await?;
        forbid(
            v.can_handle_alerts(),
            "only responders and admins promote alerts",
        )?;
        if before.incident_id.is_some() {
            return Err(StoreError::Conflict(
                "the alert already belongs to an incident".into(),
            ));
        }
        let at = now();
        let new = NewAlert {
            rule_id: before.rule_id.clone(),
            rule_title: before.rule_title.clone(),
            level: before.level,
            entities: before.entities.clone(),
            evidence: Vec::new(),
            policy: before.policy.clone(),
            detected_at: before.detected_at,
        };
        let incident = self.open_for_alert(&mut tx, v, &new, at).await?;
        let mut after = before.clone();
        after.incident_id = Some(incident.id);
        after.disposition = AlertDisposition::Opened;
        let mut q = Sql::new("UPDATE alerts SET incident_id = ");
        q.bind(incident.id.to_string())
            .push(", disposition = ")
            .bind(AlertDisposition::Opened.as_str())
            .push(" WHERE id = ")
            .bind(id.to_string());
        exec(&mut *tx, &q).await?;
        append_audit(
            &mut tx,
            v,
            at,
            Change {
                action: "alert.promote",
                entity: "alert",
                entity_id: id.to_string(),
                incident_id: Some(incident.id),
                before: alert_audit(&before),
                after: alert_audit(&after),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(incident)
    }

    async fn dismiss_alert(&self, v: &Viewer, id: AlertId, reason: &str) -> Result<Alert> {
        check_len("reason", reason, 0, 2000)?;
        let mut tx = self.begin().await?;
        let before = load_alert(&mut *tx, v, id).await?;
        forbid(
            v.can_handle_alerts(),
            "only responders and admins dismiss alerts",
        )?;
        let at = now();
        if let Some(iid) = before.incident_id {
            let mut q = Sql::new(
                "UPDATE incidents SET alert_count = CASE WHEN alert_count > 0 THEN alert_count - 1 ELSE 0 END, updated_at = ",
            );
            q.bind(unix_micros(at))
                .push(" WHERE id = ")
                .bind(iid.to_string());
            exec(&mut *tx, &q).await?;
            add_timeline(
                &mut tx,
                iid,
                at,
                v.user_id,
                "alert",
                &format!("alert dismissed: {reason}"),
            )
            .await?;
        }
        let mut after = before.clone();
        after.incident_id = None;
        after.disposition = AlertDisposition::Dismissed;
        let mut q = Sql::new("UPDATE alerts SET incident_id = NULL, disposition = ");
        q.bind(AlertDisposition::Dismissed.as_str())
            .push(" WHERE id = ")
            .bind(id.to_string());
        exec(&mut *tx, &q).await?;
        let mut after_json = alert_audit(&after);
        after_json["reason"] = Value::from(reason);
        append_audit(
            &mut tx,
            v,
            at,
            Change {
                action: "alert.dismiss",
                entity: "alert",
                entity_id: id.to_string(),
                incident_id: before.incident_id,
                before: alert_audit(&before),
                after: after_json,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    async fn create_suppression(&self, v: &Viewer, new: NewSuppression) -> Result<SuppressionRule> {
        forbid(
            v.can_handle_alerts(),
            "only responders and admins manage suppressions",
        )?;
        check_len("rule_id", &new.rule_id, 1, 200)?;
        check_len("reason", &new.reason, 1, 2000)?;
        let at = now();
        let rule = SuppressionRule {
            id: SuppressionId::new(),
            rule_id: new.rule_id,
            entities: new.entities,
            reason: new.reason,
            expires_at: new.expires_at,
            created_by: v.user_id,
            created_at: at,
        };
        let mut tx = self.begin().await?;
        let mut q = Sql::new(
            "INSERT INTO suppressions (id, rule_id, entities, reason, expires_at, created_by, created_at) VALUES (",
        );
        q.bind(rule.id.to_string())
            .push(", ")
            .bind(rule.rule_id.clone())
            .push(", ")
            .bind(to_json(&rule.entities).to_string())
            .push(", ")
            .bind(rule.reason.clone())
            .push(", ")
            .bind(opt_micros(rule.expires_at))
            .push(", ")
            .bind(v.user_id.to_string())
            .push(", ")
            .bind(unix_micros(at))
            .push(")");
        exec(&mut *tx, &q).await?;
        append_audit(
            &mut tx,
            v,
            at,
            Change {
                action: "suppression.create",
                entity: "suppression",
                entity_id: rule.id.to_string(),
                incident_id: None,
                before: Value::Null,
                after: to_json(&rule),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(rule)
    }

    async fn list_suppressions(&self, v: &Viewer) -> Result<Vec<SuppressionRule>> {
        forbid(
            v.can_handle_alerts(),
            "only responders and admins see suppressions",
        )?;
        let q = Sql::new(&format!(
            "SELECT {SUPPRESSION_COLS} FROM suppressions s ORDER BY s.created_at"
        ));
        fetch_all::<_, SuppressionRow>(&self.reader, &q)
            .await?
            .into_iter()
            .map(SuppressionRow::into_domain)
            .collect()
    }

    async fn delete_suppression(&self, v: &Viewer, id: SuppressionId) -> Result<()> {
        forbid(
            v.can_handle_alerts(),
            "only responders and admins manage suppressions",
        )?;
        let mut tx = self.begin().await?;
        let mut q = Sql::new(&format!(
            "SELECT {SUPPRESSION_COLS} FROM suppressions s WHERE s.id = "
        ));
        q.bind(id.to_string());
        let before = fetch_opt::<_, SuppressionRow>(&mut *tx, &q)
            .await?
            .ok_or(StoreError::NotFound("suppression"))?
            .into_domain()?;
        let mut q = Sql::new("UPDATE alerts SET suppressed_by = NULL WHERE suppressed_by = ");
        q.bind(id.to_string());
        exec(&mut *tx, &q).await?;
        let mut q = Sql::new("DELETE FROM suppressions WHERE id = ");
        q.bind(id.to_string());
        exec(&mut *tx, &q).await?;
        append_audit(
            &mut tx,
            v,
            now(),
            Change {
                action: "suppression.delete",
                entity: "suppression",
                entity_id: id.to_string(),
                incident_id: None,
                before: to_json(&before),
                after: Value::Null,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    // ----- incidents -----

    async fn create_incident(&self, v: &Viewer, new: NewIncident) -> Result<Incident> {
        forbid(
            v.can_manage_incidents(),
            "only responders and admins open incidents",
        )?;
        let title = validate_title(&new.title)?;
        check_len("description", &new.description, 0, MAX_TEXT)?;
        let at = now();
        let reported_at = new.reported_at.unwrap_or(at);
        not_future("reported_at", reported_at, at)?;
        let reported_at = reported_at.min(at);
        let i = new_incident(
            title,
            new.description,
            new.category,
            new.severity,
            new.sensitive,
            new.occurred_at,
            new.detected_at,
            reported_at,
            at,
        );
        let mut tx = self.begin().await?;
        insert_incident(&mut tx, &i).await?;
        add_timeline(&mut tx, i.id, at, v.user_id, "opened", "opened by hand").await?;
        append_audit(
            &mut tx,
            v,
            at,
            Change {
                action: "incident.open",
                entity: "incident",
                entity_id: i.id.to_string(),
                incident_id: Some(i.id),
                before: Value::Null,
                after: to_json(&i),
            },
        )
        .await?;
        enqueue(
            &mut tx,
            OutboxKind::IncidentOpened,
            &i,
            "incident.open",
            "New incident opened by hand",
            at,
        )
        .await?;
        tx.commit().await?;
        Ok(i)
    }

    async fn get_incident(&self, v: &Viewer, id: IncidentId) -> Result<IncidentDetail> {
        let incident = load_incident(&self.reader, v, id).await?;
        let full = v.role != Role::Reporter
            || v.is_system()
            || is_participant(&self.reader, id, v.user_id).await?;
        let mut q = Sql::new(&format!(
            "SELECT {REPORT_COLS} FROM reports r JOIN incidents ri ON ri.id = r.incident_id WHERE r.incident_id = "
        ));
        q.bind(id.to_string()).push(" AND ");
        report_visible(&mut q, v, "r");
        q.push(" ORDER BY r.created_at, r.id");
        let mut reports: Vec<Report> = fetch_all::<_, ReportRow>(&self.reader, &q)
            .await?
            .into_iter()
            .map(ReportRow::into_domain)
            .collect::<Result<_>>()?;
        let ids: Vec<String> = reports.iter().map(|r| r.id.to_string()).collect();
        let atts = attachments_of(&self.reader, &ids).await?;
        for r in &mut reports {
            r.attachments = atts
                .iter()
                .filter(|a| a.report_id == r.id)
                .cloned()
                .collect();
        }
        let mut incident = incident;
        if !full {
            redact_for_reporter(&mut incident);
        }
        let mut detail = IncidentDetail {
            incident,
            participants: Vec::new(),
            reports,
            alerts: Vec::new(),
            timeline: Vec::new(),
            notes: Vec::new(),
            tasks: Vec::new(),
        };
        if !full {
            return Ok(detail);
        }
        let mut q = Sql::new("SELECT user_id FROM incident_participants WHERE incident_id = ");
        q.bind(id.to_string()).push(" ORDER BY added_at, user_id");
        detail.participants = fetch_all::<_, (String,)>(&self.reader, &q)
            .await?
            .into_iter()
            .map(|(u,)| super::parse_col("user id", &u))
            .collect::<Result<_>>()?;
        let mut q = Sql::new(&format!(
            "SELECT {ALERT_COLS} FROM alerts a WHERE a.incident_id = "
        ));
        q.bind(id.to_string()).push(" AND ");
        alert_visible(&mut q, v, "a");
        q.push(" ORDER BY a.created_at DESC, a.id DESC LIMIT 200");
        detail.alerts = fetch_all::<_, AlertRow>(&self.reader, &q)
            .await?
            .into_iter()
            .map(AlertRow::into_domain)
            .collect::<Result<_>>()?;
        let mut q = Sql::new(&format!(
            "SELECT {TIMELINE_COLS} FROM timeline t WHERE t.incident_id = "
        ));
        q.bind(id.to_string()).push(" ORDER BY t.at, t.id");
        detail.timeline = fetch_all::<_, TimelineRow>(&self.reader, &q)
            .await?
            .into_iter()
            .map(TimelineRow::into_domain)
            .collect::<Result<_>>()?;
        let mut q = Sql::new(&format!(
            "SELECT {NOTE_COLS} FROM notes n WHERE n.incident_id = "
        ));
        q.bind(id.to_string()).push(" ORDER BY n.created_at, n.id");
        detail.notes = fetch_all::<_, NoteRow>(&self.reader, &q)
            .await?
            .into_iter()
            .map(NoteRow::into_domain)
            .collect::<Result<_>>()?;
        let mut q = Sql::new(&format!(
            "SELECT {TASK_COLS} FROM tasks k WHERE k.incident_id = "
        ));
        q.bind(id.to_string()).push(" ORDER BY k.created_at, k.id");
        detail.tasks = fetch_all::<_, TaskRow>(&self.reader, &q)
            .await?
            .into_iter()
            .map(TaskRow::into_domain)
            .collect::<Result<_>>()?;
        Ok(detail)
    }

    async fn list_incidents(
        &self,
        v: &Viewer,
        filter: &IncidentFilter,
        page: &PageRequest,
    ) -> Result<Page<Incident>> {
        let limit = page_limit(page)?;
        let mut q = Sql::default();
        let cte = visible_cte(&mut q, v);
        q.push(&format!("SELECT {INCIDENT_COLS} FROM incidents i WHERE "));
        incident_filter(&mut q, v, filter, cte);
        keyset(&mut q, "i", page, limit)?;
        let mut items = fetch_all::<_, IncidentRow>(&self.reader, &q)
            .await?
            .into_iter()
            .map(IncidentRow::into_domain)
            .collect::<Result<Vec<_>>>()?;
        if v.role == Role::Reporter && !v.is_system() && !items.is_empty() {
            let mut q = Sql::new("SELECT incident_id FROM incident_participants WHERE user_id = ");
            q.bind(v.user_id.to_string());
            let named: std::collections::HashSet<String> =
                fetch_all::<_, (String,)>(&self.reader, &q)
                    .await?
                    .into_iter()
                    .map(|(i,)| i)
                    .collect();
            for i in &mut items {
                if !named.contains(&i.id.to_string()) {
                    redact_for_reporter(i);
                }
            }
        }
        Ok(paginate(items, limit, |i| {
            cursor_of(i.created_at, &i.id.to_string())
        }))
    }

    async fn count_incidents(&self, v: &Viewer, filter: &IncidentFilter) -> Result<i64> {
        let mut q = Sql::default();
        let cte = visible_cte(&mut q, v);
        q.push("SELECT COUNT(*) FROM incidents i WHERE ");
        incident_filter(&mut q, v, filter, cte);
        let (n,): (i64,) = fetch_opt(&self.reader, &q).await?.unwrap_or((0,));
        Ok(n)
    }

    async fn update_incident(
        &self,
        v: &Viewer,
        id: IncidentId,
        patch: IncidentPatch,
    ) -> Result<Incident> {
        let mut tx = self.begin().await?;
        let before = self.managed(&mut tx, v, id).await?;
        let only_disclosure = patch.title.is_none()
            && patch.description.is_none()
            && patch.category.is_none()
            && patch.severity.is_none()
            && patch.sensitive.is_none()
            && patch.occurred_at.is_none();
        if !only_disclosure {
            before.ensure_open()?;
        }
        let at = now();
        let mut after = before.clone();
        if let Some(t) = &patch.title {
            after.title = validate_title(t)?;
        }
        if let Some(d) = patch.description {
            check_len("description", &d, 0, MAX_TEXT)?;
            after.description = d;
        }
        if let Some(c) = patch.category {
            after.category = c;
            after.sensitive |= c.always_sensitive();
        }
        if let Some(s) = patch.severity {
            after.severity = s;
        }
        if let Some(s) = patch.sensitive {
            if !s && after.category.always_sensitive() {
                return Err(StoreError::Invalid(format!(
                    "{} incidents are always sensitive",
                    after.category
                )));
            }
            if !s && before.sensitive {
                forbid(
                    v.is_system() || v.role == Role::Responder,
                    "only responders clear the sensitive flag",
                )?;
            }
            after.sensitive = s || after.category.always_sensitive();
        }
        if let Some(d) = patch.disclosure {
            after.disclosure = d;
        }
        if let Some(o) = patch.occurred_at {
            not_future("occurred_at", o, at)?;
            after.times.occurred_at = Some(o);
        }
        after.updated_at = at;
        let notify = before.severity != after.severity || before.sensitive != after.sensitive;
        self.commit_incident_change(
            tx,
            v,
            &before,
            &after,
            "incident.update",
            Some(("update", "fields updated".into())),
            notify,
            at,
        )
        .await?;
        Ok(after)
    }

    async fn transition_incident(
        &self,
        v: &Viewer,
        id: IncidentId,
        to: Status,
        at: Option<OffsetDateTime>,
    ) -> Result<Incident> {
        let mut tx = self.begin().await?;
        let before = self.managed(&mut tx, v, id).await?;
        let now = now();
        let at = at.unwrap_or(now);
        not_future("status change time", at, now)?;
        let mut after = before.clone();
        let t = after.transition(to, v.user_id, at)?;
        self.commit_incident_change(
            tx,
            v,
            &before,
            &after,
            "incident.transition",
            Some(("status", format!("{} → {}", t.from, t.to))),
            true,
            now,
        )
        .await?;
        Ok(after)
    }

    async fn assign_incident(
        &self,
        v: &Viewer,
        id: IncidentId,
        owner: Option<UserId>,
    ) -> Result<Incident> {
        let mut tx = self.begin().await?;
        let before = self.managed(&mut tx, v, id).await?;
        before.ensure_open()?;
        let at = now();
        if let Some(o) = owner {
            user_exists(&mut tx, o).await?;
            add_participant_row(&mut tx, id, o, at).await?;
        }
        let mut after = before.clone();
        after.owner = owner;
        after.updated_at = at;
        let msg = match owner {
            Some(o) => format!("assigned to {o}"),
            None => "unassigned".to_owned(),
        };
        self.commit_incident_change(
            tx,
            v,
            &before,
            &after,
            "incident.assign",
            Some(("assign", msg)),
            true,
            at,
        )
        .await?;
        Ok(after)
    }

    async fn add_participant(&self, v: &Viewer, id: IncidentId, user: UserId) -> Result<()> {
        let mut tx = self.begin().await?;
        let i = self.managed(&mut tx, v, id).await?;
        i.ensure_open()?;
        user_exists(&mut tx, user).await?;
        let at = now();
        if add_participant_row(&mut tx, id, user, at).await? {
            add_timeline(
                &mut tx,
                id,
                at,
                v.user_id,
                "participant",
                &format!("participant {user} added"),
            )
            .await?;
            append_audit(
                &mut tx,
                v,
                at,
                Change {
                    action: "incident.participant_add",
                    entity: "incident",
                    entity_id: id.to_string(),
                    incident_id: Some(id),
                    before: Value::Null,
                    after: json!({ "participant": user }),
                },
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn remove_participant(&self, v: &Viewer, id: IncidentId, user: UserId) -> Result<()> {
        let mut tx = self.begin().await?;
        self.managed(&mut tx, v, id).await?;
        let at = now();
        let mut q = Sql::new("DELETE FROM incident_participants WHERE incident_id = ");
        q.bind(id.to_string())
            .push(" AND user_id = ")
            .bind(user.to_string());
        if exec(&mut *tx, &q).await? == 0 {
            return Err(StoreError::NotFound("participant"));
        }
        add_timeline(
            &mut tx,
            id,
            at,
            v.user_id,
            "participant",
            &format!("participant {user} removed"),
        )
        .await?;
        append_audit(
            &mut tx,
            v,
            at,
            Change {
                action: "incident.participant_remove",
                entity: "incident",
                entity_id: id.to_string(),
                incident_id: Some(id),
                before: json!({ "participant": user }),
                after: Value::Null,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn set_impact(&self, v: &Viewer, id: IncidentId, impact: Impact) -> Result<Incident> {
        check_len("impact summary", &impact.summary, 0, MAX_TEXT)?;
        let mut tx = self.begin().await?;
        let before = self.managed(&mut tx, v, id).await?;
        before.ensure_open()?;
        let at = now();
        let mut after = before.clone();
        after.impact = Some(impact);
        after.updated_at = at;
        self.commit_incident_change(
            tx,
            v,
            &before,
            &after,
            "incident.impact",
            Some(("impact", "impact assessed".into())),
            false,
            at,
        )
        .await?;
        Ok(after)
    }

    async fn set_resolution(
        &self,
        v: &Viewer,
        id: IncidentId,
        resolution: Resolution,
    ) -> Result<Incident> {
        let mut tx = self.begin().await?;
        let before = self.managed(&mut tx, v, id).await?;
        before.ensure_open()?;
        let at = now();
        let mut after = before.clone();
        after.resolution = Some(resolution);
        after.updated_at = at;
        self.commit_incident_change(
            tx,
            v,
            &before,
            &after,
            "incident.resolution",
            Some(("resolution", format!("resolution: {resolution}"))),
            false,
            at,
        )
        .await?;
        Ok(after)
    }

    async fn close_incident(
        &self,
        v: &Viewer,
        id: IncidentId,
        resolution: Resolution,
        impact: Option<Impact>,
        at: Option<OffsetDateTime>,
    ) -> Result<Incident> {
        let mut tx = self.begin().await?;
        let before = self.managed(&mut tx, v, id).await?;
        before.ensure_open()?;
        let now = now();
        let at = at.unwrap_or(now);
        not_future("close time", at, now)?;
        let mut after = before.clone();
        after.resolution = Some(resolution);
        if let Some(m) = impact {
            after.impact = Some(m);
        }
        let t = after.transition(Status::Closed, v.user_id, at)?;
        self.commit_incident_change(
            tx,
            v,
            &before,
            &after,
            "incident.close",
            Some(("status", format!("{} → {} ({resolution})", t.from, t.to))),
            true,
            now,
        )
        .await?;
        Ok(after)
    }

    async fn merge_incidents(
        &self,
        v: &Viewer,
        source: IncidentId,
        target: IncidentId,
    ) -> Result<Incident> {
        let mut tx = self.begin().await?;
        let src_before = self.managed(&mut tx, v, source).await?;
        let tgt_before = self.managed(&mut tx, v, target).await?;
        let at = now();
        let mut src = src_before.clone();
        src.merge_into(&tgt_before, v.user_id, at)?;
        let mut tgt = tgt_before.clone();
        tgt.sensitive |= src_before.sensitive;
        tgt.alert_count += src_before.alert_count;
        tgt.last_alert_at = tgt.last_alert_at.max(src_before.last_alert_at);
        tgt.updated_at = at;
        src.alert_count = 0;
        for table in ["reports", "alerts"] {
            let mut q = Sql::new(&format!("UPDATE {table} SET incident_id = "));
            q.bind(target.to_string())
                .push(" WHERE incident_id = ")
                .bind(source.to_string());
            exec(&mut *tx, &q).await?;
        }
        let mut q =
            Sql::new("INSERT INTO incident_participants (incident_id, user_id, added_at) SELECT ");
        q.bind(target.to_string())
            .push(", user_id, added_at FROM incident_participants WHERE incident_id = ")
            .bind(source.to_string())
            .push(" ON CONFLICT DO NOTHING");
        exec(&mut *tx, &q).await?;
        save_incident(&mut tx, &src).await?;
        add_timeline(
            &mut tx,
            source,
            at,
            v.user_id,
            "merge",
            &format!("merged into {target}"),
        )
        .await?;
        append_audit(
            &mut tx,
            v,
            at,
            Change {
                action: "incident.merge",
                entity: "incident",
                entity_id: source.to_string(),
                incident_id: Some(source),
                before: to_json(&src_before),
                after: to_json(&src),
            },
        )
        .await?;
        enqueue(
            &mut tx,
            OutboxKind::IncidentChanged,
            &src,
            "incident.merge",
            &format!("Merged into incident {target}"),
            at,
        )
        .await?;
        self.commit_incident_change(
            tx,
            v,
            &tgt_before,
            &tgt,
            "incident.merge_target",
            Some(("merge", format!("{source} merged in"))),
            true,
            at,
        )
        .await?;
        Ok(tgt)
    }

    async fn link_report(&self, v: &Viewer, id: IncidentId, report: ReportId) -> Result<()> {
        let mut tx = self.begin().await?;
        let before = self.managed(&mut tx, v, id).await?;
        let r = load_report(&mut *tx, v, report).await?;
        before.ensure_open()?;
        if r.incident_id == id {
            return Ok(());
        }
        let at = now();
        let mut q = Sql::new("UPDATE reports SET incident_id = ");
        q.bind(id.to_string())
            .push(" WHERE id = ")
            .bind(report.to_string());
        exec(&mut *tx, &q).await?;
        append_audit(
            &mut tx,
            v,
            at,
            Change {
                action: "report.link",
                entity: "report",
                entity_id: report.to_string(),
                incident_id: Some(r.incident_id),
                before: json!({ "incident_id": r.incident_id }),
                after: json!({ "incident_id": id }),
            },
        )
        .await?;
        let mut after = before.clone();
        after.sensitive |= r.sensitive;
        after.updated_at = at;
        self.commit_incident_change(
            tx,
            v,
            &before,
            &after,
            "incident.link_report",
            Some(("link", format!("report {report} linked"))),
            false,
            at,
        )
        .await?;
        Ok(())
    }

    async fn link_alert(&self, v: &Viewer, id: IncidentId, alert: AlertId) -> Result<()> {
        let mut tx = self.begin().await?;
        let before = self.managed(&mut tx, v, id).await?;
        let a = load_alert(&mut *tx, v, alert).await?;
        before.ensure_open()?;
        if a.incident_id == Some(id) {
            return Ok(());
        }
        let at = now();
        if let Some(old) = a.incident_id {
            let mut q = Sql::new(
                "UPDATE incidents SET alert_count = CASE WHEN alert_count > 0 THEN alert_count - 1 ELSE 0 END WHERE id = ",
            );
            q.bind(old.to_string());
            exec(&mut *tx, &q).await?;
        }
        let mut q = Sql::new("UPDATE alerts SET incident_id = ");
        q.bind(id.to_string())
            .push(", disposition = ")
            .bind(AlertDisposition::Grouped.as_str())
            .push(" WHERE id = ")
            .bind(alert.to_string());
        exec(&mut *tx, &q).await?;
        append_audit(
            &mut tx,
            v,
            at,
            Change {
                action: "alert.link",
                entity: "alert",
                entity_id: alert.to_string(),
                incident_id: a.incident_id,
                before: json!({ "incident_id": a.incident_id }),
                after: json!({ "incident_id": id }),
            },
        )
        .await?;
        let mut after = before.clone();
        after.alert_count += 1;
        after.last_alert_at = after.last_alert_at.max(Some(a.detected_at));
        after.updated_at = at;
        self.commit_incident_change(
            tx,
            v,
            &before,
            &after,
            "incident.link_alert",
            Some(("link", format!("alert {alert} linked"))),
            false,
            at,
        )
        .await?;
        Ok(())
    }

    async fn add_note(&self, v: &Viewer, id: IncidentId, body: &str) -> Result<Note> {
        check_len("note", body, 1, MAX_TEXT)?;
        let mut tx = self.begin().await?;
        load_incident(&mut *tx, v, id).await?;
        forbid(
            v.can_add_notes(),
            "only responders, admins and finance-ops add notes",
        )?;
        let at = now();
        let note = Note {
            id: NoteId::new(),
            incident_id: id,
            author: v.user_id,
            body: body.to_owned(),
            created_at: at,
        };
        let mut q =
            Sql::new("INSERT INTO notes (id, incident_id, author, body, created_at) VALUES (");
        q.bind(note.id.to_string())
            .push(", ")
            .bind(id.to_string())
            .push(", ")
            .bind(v.user_id.to_string())
            .push(", ")
            .bind(body)
            .push(", ")
            .bind(unix_micros(at))
            .push(")");
        exec(&mut *tx, &q).await?;
        add_timeline(&mut tx, id, at, v.user_id, "note", "note added").await?;
        append_audit(
            &mut tx,
            v,
            at,
            Change {
                action: "note.add",
                entity: "note",
                entity_id: note.id.to_string(),
                incident_id: Some(id),
                before: Value::Null,
                after: to_json(&note),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(note)
    }

    async fn add_task(&self, v: &Viewer, id: IncidentId, new: NewTask) -> Result<Task> {
        check_len("task title", &new.title, 1, 500)?;
        let mut tx = self.begin().await?;
        let i = self.managed(&mut tx, v, id).await?;
        i.ensure_open()?;
        if let Some(o) = new.owner {
            user_exists(&mut tx, o).await?;
        }
        let at = now();
        let task = Task {
            id: TaskId::new(),
            incident_id: id,
            title: new.title,
            owner: new.owner,
            due_at: new.due_at,
            done: false,
            created_at: at,
        };
        let mut q = Sql::new(
            "INSERT INTO tasks (id, incident_id, title, owner_id, due_at, done, created_at) VALUES (",
        );
        q.bind(task.id.to_string())
            .push(", ")
            .bind(id.to_string())
            .push(", ")
            .bind(task.title.clone())
            .push(", ")
            .bind(task.owner.map(|o| o.to_string()))
            .push(", ")
            .bind(opt_micros(task.due_at))
            .push(", 0, ")
            .bind(unix_micros(at))
            .push(")");
        exec(&mut *tx, &q).await?;
        add_timeline(
            &mut tx,
            id,
            at,
            v.user_id,
            "task",
            &format!("task added: {}", task.title),
        )
        .await?;
        append_audit(
            &mut tx,
            v,
            at,
            Change {
                action: "task.add",
                entity: "task",
                entity_id: task.id.to_string(),
                incident_id: Some(id),
                before: Value::Null,
                after: to_json(&task),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(task)
    }

    async fn update_task(&self, v: &Viewer, id: TaskId, patch: TaskPatch) -> Result<Task> {
        let mut tx = self.begin().await?;
        let mut q = Sql::new(&format!(
            "SELECT {TASK_COLS} FROM tasks k JOIN incidents i ON i.id = k.incident_id WHERE k.id = "
        ));
        q.bind(id.to_string()).push(" AND ");
        incident_visible(&mut q, v, "i");
        let before = fetch_opt::<_, TaskRow>(&mut *tx, &q)
            .await?
            .ok_or(StoreError::NotFound("task"))?
            .into_domain()?;
        if v.role == Role::Reporter
            && !is_participant(&mut *tx, before.incident_id, v.user_id).await?
        {
            return Err(StoreError::NotFound("task"));
        }
        forbid(
            v.can_manage_incidents(),
            "only responders and admins change tasks",
        )?;
        let mut after = before.clone();
        if let Some(t) = patch.title {
            check_len("task title", &t, 1, 500)?;
            after.title = t;
        }
        if let Some(o) = patch.owner {
            user_exists(&mut tx, o).await?;
            after.owner = Some(o);
        }
        if let Some(d) = patch.due_at {
            after.due_at = Some(d);
        }
        if let Some(d) = patch.done {
            after.done = d;
        }
        let at = now();
        let mut q = Sql::new("UPDATE tasks SET title = ");
        q.bind(after.title.clone())
            .push(", owner_id = ")
            .bind(after.owner.map(|o| o.to_string()))
            .push(", due_at = ")
            .bind(opt_micros(after.due_at))
            .push(", done = ")
            .bind(after.done)
            .push(" WHERE id = ")
            .bind(id.to_string());
        exec(&mut *tx, &q).await?;
        if after.done && !before.done {
            add_timeline(
                &mut tx,
                after.incident_id,
                at,
                v.user_id,
                "task",
                &format!("task done: {}", after.title),
            )
            .await?;
        }
        append_audit(
            &mut tx,
            v,
            at,
            Change {
                action: "task.update",
                entity: "task",
                entity_id: id.to_string(),
                incident_id: Some(after.incident_id),
                before: to_json(&before),
                after: to_json(&after),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    async fn metrics(&self, v: &Viewer, query: MetricsQuery) -> Result<Metrics> {
        if query.to <= query.from {
            return Err(StoreError::Invalid(
                "metrics period: `to` must be after `from`".into(),
            ));
        }
        let mut q = Sql::new(
            "SELECT i.severity, i.category, i.reported_at, i.acknowledged_at, i.resolved_at FROM incidents i WHERE ",
        );
        incident_visible(&mut q, v, "i");
        q.push(" AND i.status <> 'merged' AND i.reported_at >= ")
            .bind(unix_micros(query.from))
            .push(" AND i.reported_at < ")
            .bind(unix_micros(query.to));
        type MRow = (String, String, i64, Option<i64>, Option<i64>);
        let rows: Vec<MRow> = fetch_all(&self.reader, &q).await?;
        let mut by_sev: BTreeMap<Severity, Vec<(i64, Option<i64>, Option<i64>)>> =
            Severity::ALL.iter().map(|s| (*s, Vec::new())).collect();
        let mut by_cat: BTreeMap<Category, Vec<(i64, Option<i64>, Option<i64>)>> = BTreeMap::new();
        let mut all = Vec::with_capacity(rows.len());
        for (sev, cat, r, a, z) in rows {
            let sev: Severity = super::parse_col("severity", &sev)?;
            let cat: Category = super::parse_col("category", &cat)?;
            by_sev.entry(sev).or_default().push((r, a, z));
            by_cat.entry(cat).or_default().push((r, a, z));
            all.push((r, a, z));
        }
        Ok(Metrics {
            query,
            total: metric_row("all".into(), &all),
            by_severity: by_sev
                .iter()
                .map(|(k, rows)| metric_row(k.as_str().into(), rows))
                .collect(),
            by_category: by_cat
                .iter()
                .map(|(k, rows)| metric_row(k.as_str().into(), rows))
                .collect(),
        })
    }

    // ----- audit -----

    async fn list_audit(&self, v: &Viewer, after_seq: i64, limit: u32) -> Result<Vec<AuditEntry>> {
        if !v.can_read_audit() {
            return Err(StoreError::Forbidden(
                "only admins and responders read the audit log",
            ));
        }
        if !(1..=1000).contains(&limit) {
            return Err(StoreError::Invalid(format!(
                "limit must be 1 to 1000 (got {limit})"
            )));
        }
        let mut q = Sql::new(&format!(
            "SELECT {AUDIT_COLS} FROM audit_log au WHERE au.seq > "
        ));
        q.bind(after_seq).push(" AND ");
        audit_visible(&mut q, v, "au");
        q.push(" ORDER BY au.seq LIMIT ").bind(i64::from(limit));
        fetch_all::<_, AuditRow>(&self.reader, &q)
            .await?
            .into_iter()
            .map(AuditRow::into_domain)
            .collect()
    }

    async fn verify_audit(&self, v: &Viewer) -> Result<AuditReport> {
        if !v.can_read_audit() {
            return Err(StoreError::Forbidden(
                "only admins and responders verify the audit log",
            ));
        }
        // Read the chain and its head in one snapshot.
        let mut tx = self.reader.begin().await?;
        if self.backend == Backend::Postgres {
            exec(
                &mut *tx,
                &Sql::new("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"),
            )
            .await?;
        }
        let head: Option<(i64, String)> = fetch_opt(
            &mut *tx,
            &Sql::new("SELECT seq, hash FROM audit_head WHERE id = 1"),
        )
        .await?;
        let q = Sql::new(&format!(
            "SELECT {AUDIT_COLS} FROM audit_log au ORDER BY au.seq"
        ));
        let rows = fetch_all::<_, AuditRow>(&mut *tx, &q).await?;
        tx.commit().await?;
        Ok(verify_chain(rows.into_iter().map(AuditRow::into_raw), head))
    }

    // ----- outbox -----

    async fn claim_outbox(
        &self,
        v: &Viewer,
        limit: u32,
        lease: Duration,
        now: OffsetDateTime,
    ) -> Result<Vec<OutboxMessage>> {
        forbid(v.can_deliver(), "only the system delivers notifications")?;
        if !(1..=1000).contains(&limit) || lease <= Duration::ZERO {
            return Err(StoreError::Invalid(
                "limit must be 1 to 1000 and lease positive".into(),
            ));
        }
        let mut tx = self.begin().await?;
        let n = unix_micros(now);
        let mut q = Sql::new(&format!(
            "SELECT {OUTBOX_COLS} FROM outbox o WHERE o.status = "
        ));
        q.bind(OutboxStatus::Pending.as_str())
            .push(" AND o.next_attempt_at <= ")
            .bind(n)
            .push(" AND (o.lease_until IS NULL OR o.lease_until <= ")
            .bind(n)
            .push(") ORDER BY o.next_attempt_at, o.id LIMIT ")
            .bind(i64::from(limit));
        let mut msgs: Vec<OutboxMessage> = fetch_all::<_, OutboxRow>(&mut *tx, &q)
            .await?
            .into_iter()
            .map(OutboxRow::into_domain)
            .collect::<Result<_>>()?;
        if msgs.is_empty() {
            return Ok(msgs);
        }
        let until = now + lease;
        let mut q = Sql::new("UPDATE outbox SET lease_until = ");
        q.bind(unix_micros(until))
            .push(" WHERE id IN ")
            .bind_list(msgs.iter().map(|m| m.id.to_string()));
        exec(&mut *tx, &q).await?;
        tx.commit().await?;
        for m in &mut msgs {
            m.lease_until = Some(until);
        }
        Ok(msgs)
    }

    async fn mark_outbox_sent(&self, v: &Viewer, id: OutboxId, now: OffsetDateTime) -> Result<()> {
        forbid(v.can_deliver(), "only the system delivers notifications")?;
        let mut q = Sql::new("UPDATE outbox SET status = ");
        q.bind(OutboxStatus::Sent.as_str())
            .push(", sent_at = ")
            .bind(unix_micros(now))
            .push(", lease_until = NULL WHERE id = ")
            .bind(id.to_string());
        if exec(&self.writer, &q).await? == 0 {
            return Err(StoreError::NotFound("outbox message"));
        }
        Ok(())
    }

    async fn mark_outbox_failed(
        &self,
        v: &Viewer,
        id: OutboxId,
        error: &str,
        now: OffsetDateTime,
    ) -> Result<OutboxMessage> {
        forbid(v.can_deliver(), "only the system delivers notifications")?;
        let mut tx = self.begin().await?;
        let mut q = Sql::new(&format!("SELECT {OUTBOX_COLS} FROM outbox o WHERE o.id = "));
        q.bind(id.to_string());
        let mut m = fetch_opt::<_, OutboxRow>(&mut *tx, &q)
            .await?
            .ok_or(StoreError::NotFound("outbox message"))?
            .into_domain()?;
        m.attempts += 1;
        m.last_error = Some(error.chars().take(1000).collect());
        m.lease_until = None;
        m.next_attempt_at = now + backoff(m.attempts);
        if m.attempts >= MAX_ATTEMPTS {
            m.status = OutboxStatus::Dead;
        }
        let mut q = Sql::new("UPDATE outbox SET attempts = ");
        q.bind(i64::from(m.attempts))
            .push(", last_error = ")
            .bind(m.last_error.clone())
            .push(", lease_until = NULL, next_attempt_at = ")
            .bind(unix_micros(m.next_attempt_at))
            .push(", status = ")
            .bind(m.status.as_str())
            .push(" WHERE id = ")
            .bind(id.to_string());
        exec(&mut *tx, &q).await?;
        tx.commit().await?;
        Ok(m)
    }

    async fn fan_out_outbox(
        &self,
        v: &Viewer,
        id: OutboxId,
        destinations: &[String],
        now: OffsetDateTime,
    ) -> Result<Vec<OutboxMessage>> {
        forbid(v.can_deliver(), "only the system delivers notifications")?;
        if destinations.len() > 100 {
            return Err(StoreError::Invalid("at most 100 destinations".into()));
        }
        for d in destinations {
            check_len("destination", d, 1, 200)?;
        }
        let mut tx = self.begin().await?;
        let mut q = Sql::new(&format!("SELECT {OUTBOX_COLS} FROM outbox o WHERE o.id = "));
        q.bind(id.to_string());
        let parent = fetch_opt::<_, OutboxRow>(&mut *tx, &q)
            .await?
            .ok_or(StoreError::NotFound("outbox message"))?
            .into_domain()?;
        if parent.status != OutboxStatus::Pending {
            return Err(StoreError::Conflict(format!(
                "the message is already {}",
                parent.status
            )));
        }
        let mut children = Vec::new();
        for d in destinations {
            let mut payload = parent.payload.clone();
            if let Value::Object(m) = &mut payload {
                m.insert("destination".into(), Value::from(d.as_str()));
            }
            let child = OutboxMessage {
                id: OutboxId::new(),
                kind: parent.kind,
                incident_id: parent.incident_id,
                sensitive: parent.sensitive,
                payload,
                status: OutboxStatus::Pending,
                attempts: 0,
                next_attempt_at: now,
                lease_until: None,
                last_error: None,
                created_at: now,
                destination: Some(d.clone()),
                parent_id: Some(parent.id),
            };
            let mut q = Sql::new(
                "INSERT INTO outbox (id, kind, incident_id, sensitive, payload, status, attempts, next_attempt_at, created_at, destination, parent_id) VALUES (",
            );
            q.bind(child.id.to_string())
                .push(", ")
                .bind(child.kind.as_str())
                .push(", ")
                .bind(child.incident_id.to_string())
                .push(", ")
                .bind(child.sensitive)
                .push(", ")
                .bind(child.payload.to_string())
                .push(", ")
                .bind(OutboxStatus::Pending.as_str())
                .push(", 0, ")
                .bind(unix_micros(now))
                .push(", ")
                .bind(unix_micros(now))
                .push(", ")
                .bind(d.clone())
                .push(", ")
                .bind(parent.id.to_string())
                .push(")");
            exec(&mut *tx, &q).await?;
            children.push(child);
        }
        let mut q = Sql::new("UPDATE outbox SET status = ");
        q.bind(OutboxStatus::Sent.as_str())
            .push(", sent_at = ")
            .bind(unix_micros(now))
            .push(", lease_until = NULL WHERE id = ")
            .bind(id.to_string());
        exec(&mut *tx, &q).await?;
        tx.commit().await?;
        Ok(children)
    }

    async fn list_outbox(
        &self,
        v: &Viewer,
        status: Option<OutboxStatus>,
    ) -> Result<Vec<OutboxMessage>> {
        forbid(v.can_deliver(), "only the system delivers notifications")?;
        let mut q = Sql::new(&format!("SELECT {OUTBOX_COLS} FROM outbox o"));
        if let Some(s) = status {
            q.push(" WHERE o.status = ").bind(s.as_str());
        }
        q.push(" ORDER BY o.created_at, o.id LIMIT 1000");
        fetch_all::<_, OutboxRow>(&self.reader, &q)
            .await?
            .into_iter()
            .map(OutboxRow::into_domain)
            .collect()
    }
}

/// Visibility plus the list filters, for list and count.
fn incident_filter(q: &mut Sql, v: &Viewer, f: &IncidentFilter, cte: bool) {
    incident_visible_scoped(q, v, "i", cte);
    if !f.status.is_empty() {
        q.push(" AND i.status IN ")
            .bind_list(f.status.iter().map(|s| s.as_str()));
    }
    if !f.severity.is_empty() {
        q.push(" AND i.severity IN ")
            .bind_list(f.severity.iter().map(|s| s.as_str()));
    }
    if !f.category.is_empty() {
        q.push(" AND i.category IN ")
            .bind_list(f.category.iter().map(|s| s.as_str()));
    }
    if let Some(o) = f.owner {
        q.push(" AND i.owner_id = ").bind(o.to_string());
    }
    if let Some(t) = f.text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        let escaped: String = t
            .to_lowercase()
            .chars()
            .flat_map(|c| match c {
                '%' | '_' | '\\' => vec!['\\', c],
                c => vec![c],
            })
            .collect();
        let pattern = format!("%{escaped}%");
        q.push(" AND (LOWER(i.title) LIKE ")
            .bind(pattern.clone())
            .push(" ESCAPE '\\' OR LOWER(i.description) LIKE ")
            .bind(pattern)
            .push(" ESCAPE '\\')");
    }
    if let Some(from) = f.created_from {
        q.push(" AND i.created_at >= ").bind(unix_micros(from));
    }
    if let Some(to) = f.created_to {
        q.push(" AND i.created_at < ").bind(unix_micros(to));
    }
}
