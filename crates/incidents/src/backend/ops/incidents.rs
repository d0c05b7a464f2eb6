//! Incidents as rows: building a new one, inserting and saving it,
//! recording that one was opened (shared by hand-opened, reported and
//! alert-opened incidents), opening one by hand, and reading one (with what
//! the viewer may see of it) or a filtered page of them.

use serde_json::Value;
use time::OffsetDateTime;

use super::checks::{MAX_TEXT, check_len, forbid, not_future, to_json};
use super::outbox::enqueue;
use super::paging::{cursor_of, keyset, page_limit, paginate};
use super::timeline::add_timeline;
use super::visible::{fill_attachments, is_participant, load_incident};
use crate::access::{
    Viewer, alert_visible, incident_visible_scoped, reads_in_full, redact_for_reporter,
    redacted_title, report_visible, visible_cte,
};
use crate::audit::unix_micros;
use crate::backend::rows::{
    ALERT_COLS, AlertRow, INCIDENT_COLS, IncidentRow, NOTE_COLS, NoteRow, REPORT_COLS, ReportRow,
    TASK_COLS, TIMELINE_COLS, TaskRow, TimelineRow,
};
use crate::backend::{
    Change, SqlStore, Tx, append_audit, exec, fetch_all, fetch_domain, fetch_opt, now, opt_micros,
    parse_col,
};
use crate::enums::{Category, Source};
use crate::ids::IncidentId;
use crate::incident::{Incident, Opening, validate_title};
use crate::outbox::OutboxKind;
use crate::query::{Arg, Sql};
use crate::report::Report;
use crate::store::{
    IncidentDetail, IncidentFilter, NewIncident, Page, PageRequest, Result, StoreError,
};

/// The incident columns written on insert and save (all but `id` and
/// `created_at`).
const INCIDENT_MUT_COLS: &str = "title, description, category, severity, status, sensitive, owner_id, impact, resolution, disclosure, merged_into, alert_count, group_key, last_alert_at, occurred_at, detected_at, reported_at, acknowledged_at, contained_at, resolved_at, closed_at, updated_at, title_lc, description_lc";

/// Text folded for case-insensitive search, the same on every database:
/// lower case by Unicode's rules (SQLite's `LOWER` folds ASCII only), and
/// final sigma as sigma. Stored text and search terms are folded alike.
pub(crate) fn fold_case(text: &str) -> String {
    text.to_lowercase().replace('ς', "σ")
}

/// Inserts a new incident row.
pub(super) async fn insert_incident(tx: &mut Tx, i: &Incident) -> Result<()> {
    let mut q = Sql::new(&format!(
        "INSERT INTO incidents (id, created_at, {INCIDENT_MUT_COLS}) VALUES "
    ));
    let mut values = vec![
        Arg::from(i.id.to_string()),
        Arg::from(unix_micros(i.created_at)),
    ];
    values.extend(incident_values(i));
    q.bind_list(values);
    exec(&mut **tx, &q).await?;
    Ok(())
}

/// Writes every mutable column of an existing incident.
pub(super) async fn save_incident(tx: &mut Tx, i: &Incident) -> Result<()> {
    let mut q = Sql::new(&format!("UPDATE incidents SET ({INCIDENT_MUT_COLS}) = "));
    q.bind_list(incident_values(i))
        .push(" WHERE id = ")
        .bind(i.id.to_string());
    exec(&mut **tx, &q).await?;
    Ok(())
}

/// Every mutable column's value, in [`INCIDENT_MUT_COLS`] order.
fn incident_values(i: &Incident) -> [Arg; 24] {
    let t = &i.times;
    [
        Arg::from(i.title.clone()),
        Arg::from(i.description.clone()),
        Arg::from(i.category.as_str()),
        Arg::from(i.severity.as_str()),
        Arg::from(i.status.as_str()),
        Arg::from(i.sensitive),
        Arg::from(i.owner.map(|o| o.to_string())),
        Arg::from(i.impact.as_ref().map(|m| to_json(m).to_string())),
        Arg::from(i.resolution.map(|r| r.as_str().to_owned())),
        Arg::from(i.disclosure.as_str()),
        Arg::from(i.merged_into.map(|m| m.to_string())),
        Arg::from(i.alert_count),
        Arg::from(i.group_key.clone()),
        opt_micros(i.last_alert_at),
        opt_micros(t.occurred_at),
        opt_micros(t.detected_at),
        Arg::from(unix_micros(t.reported_at)),
        opt_micros(t.acknowledged_at),
        opt_micros(t.contained_at),
        opt_micros(t.resolved_at),
        opt_micros(t.closed_at),
        Arg::from(unix_micros(i.updated_at)),
        Arg::from(fold_case(&i.title)),
        Arg::from(fold_case(&i.description)),
    ]
}

/// The most entries of each list inside one incident's detail (reports,
/// participants, timeline, notes, tasks); the newest are kept.
pub(crate) const MAX_LISTED: i64 = 500;

/// Clears `i.merged_into` when the incident it was merged into is hidden
/// from `v`: a merged incident must not name a target its reader may not
/// see.
async fn hide_invisible_merge_target(
    reader: &sqlx::AnyPool,
    v: &Viewer,
    i: &mut Incident,
) -> Result<()> {
    let Some(target) = i.merged_into else {
        return Ok(());
    };
    if v.sees_everything() {
        return Ok(());
    }
    match load_incident(reader, v, target).await {
        Ok(_) => {}
        Err(StoreError::NotFound(_)) => i.merged_into = None,
        Err(e) => return Err(e),
    }
    Ok(())
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
        text_matches(q, v, t);
    }
    if !f.source.is_empty() {
        source_matches(q, v, &f.source);
    }
    if let Some(sensitive) = f.sensitive {
        q.push(" AND i.sensitive = ").bind(sensitive);
    }
    if let Some(from) = f.created_from {
        q.push(" AND i.created_at >= ").bind(unix_micros(from));
    }
    if let Some(to) = f.created_to {
        q.push(" AND i.created_at < ").bind(unix_micros(to));
    }
    if let Some(ids) = &f.ids {
        if ids.is_empty() {
            q.push(" AND 1 = 0");
        } else {
            q.push(" AND i.id IN ")
                .bind_list(ids.iter().map(ToString::to_string));
        }
    }
}

/// The source predicate: the incident has a report on one of the named
/// channels, or (for `Source::Detection`) alerts or a detection's group
/// key. Like search, it must not match through what the caller cannot
/// read: a `reporter` reads only their own reports and no alerts, so only
/// their own reports count for them and a detection never does.
fn source_matches(q: &mut Sql, v: &Viewer, sources: &[Source]) {
    let channels: Vec<&'static str> = sources
        .iter()
        .filter_map(|s| s.channel())
        .map(|c| c.as_str())
        .collect();
    q.push(" AND (1 = 0");
    if !channels.is_empty() && v.is_person() {
        q.push(" OR EXISTS (SELECT 1 FROM reports r WHERE r.incident_id = i.id AND r.channel IN ")
            .bind_list(channels);
        if !v.is_staff() {
            q.push(" AND r.reporter_id = ").bind(v.user_id.to_string());
        }
        q.push(")");
    }
    if sources.contains(&Source::Detection) && v.is_staff() {
        q.push(" OR i.group_key IS NOT NULL OR EXISTS (SELECT 1 FROM alerts a WHERE a.incident_id = i.id)");
    }
    q.push(")");
}

/// The text search predicate: `text` (case-folded) occurs in a field the
/// viewer reads. Staff and named participants read the title and the
/// description; a reporter who is not a named participant reads only the
/// title made from the category ([`redacted_title`]), so for them only
/// the categories whose title holds the text match. A reporter also reads
/// their own reports in the incident, so their words find it. Search must never
/// match text the caller cannot read: probing it through hits or through
/// the total would recover that text.
fn text_matches(q: &mut Sql, v: &Viewer, text: &str) {
    let folded = fold_case(text);
    let escaped: String = folded
        .chars()
        .flat_map(|c| match c {
            '%' | '_' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    let pattern = format!("%{escaped}%");
    let full_text = |q: &mut Sql| {
        q.push("(i.title_lc LIKE ")
            .bind(pattern.clone())
            .push(" ESCAPE '\\' OR i.description_lc LIKE ")
            .bind(pattern.clone())
            .push(" ESCAPE '\\')");
    };
    if v.is_staff() {
        q.push(" AND ");
        full_text(q);
        return;
    }
    if !v.is_person() {
        q.push(" AND 1 = 0");
        return;
    }
    let categories: Vec<&'static str> = Category::ALL
        .iter()
        .filter(|c| fold_case(&redacted_title(**c)).contains(&folded))
        .map(|c| c.as_str())
        .collect();
    q.push(" AND ((");
    reads_in_full(q, v, "i");
    q.push(" AND ");
    full_text(q);
    q.push(") OR (NOT ");
    reads_in_full(q, v, "i");
    if categories.is_empty() {
        q.push(" AND 1 = 0)");
    } else {
        q.push(" AND i.category IN ").bind_list(categories);
        q.push(")");
    }
    // A reporter also reads their own reports inside the incident.
    q.push(" OR i.id IN (SELECT mr.incident_id FROM reports mr WHERE mr.reporter_id = ")
        .bind(v.user_id.to_string())
        .push(" AND mr.description_lc LIKE ")
        .bind(pattern)
        .push(" ESCAPE '\\'))");
}

/// Records that incident `i` (already inserted) was opened: its first
/// timeline line, the `incident.open` audit entry and the "opened"
/// notification, all in `tx`.
pub(super) async fn record_opened(
    tx: &mut Tx,
    v: &Viewer,
    i: &Incident,
    timeline: &str,
    change: &str,
    at: OffsetDateTime,
) -> Result<()> {
    add_timeline(tx, i.id, at, v.user_id, "opened", timeline).await?;
    append_audit(
        tx,
        v,
        at,
        Change {
            action: "incident.open",
            entity: "incident",
            entity_id: i.id.to_string(),
            incident_id: Some(i.id),
            related_incident_id: None,
            before: Value::Null,
            after: to_json(i),
        },
    )
    .await?;
    enqueue(
        tx,
        OutboxKind::IncidentOpened,
        i,
        "incident.open",
        change,
        at,
    )
    .await
}

impl SqlStore {
    /// Loads a visible incident inside a write transaction and checks the
    /// viewer may manage it.
    pub(super) async fn managed(
        &self,
        tx: &mut Tx,
        v: &Viewer,
        id: IncidentId,
    ) -> Result<Incident> {
        let i = load_incident(&mut **tx, v, id).await?;
        forbid(
            v.can_manage_incidents(),
            "only responders and admins change incidents",
        )?;
        Ok(i)
    }

    pub(super) async fn create_incident(&self, v: &Viewer, new: NewIncident) -> Result<Incident> {
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
        let i = Incident::open(
            Opening {
                title,
                description: new.description,
                category: new.category,
                severity: new.severity,
                sensitive: new.sensitive,
                occurred_at: new.occurred_at,
                detected_at: new.detected_at,
                reported_at,
            },
            at,
        );
        let mut tx = self.begin().await?;
        insert_incident(&mut tx, &i).await?;
        record_opened(
            &mut tx,
            v,
            &i,
            "opened by hand",
            "New incident opened by hand",
            at,
        )
        .await?;
        tx.commit().await?;
        Ok(i)
    }

    pub(super) async fn get_incident(&self, v: &Viewer, id: IncidentId) -> Result<IncidentDetail> {
        let incident = load_incident(&self.reader, v, id).await?;
        if incident.sensitive {
            self.record_read(v, "incident.read", "incident", id.to_string(), id)
                .await?;
        }
        let full =
            v.is_staff() || (v.is_person() && is_participant(&self.reader, id, v.user_id).await?);
        let mut q = Sql::new(&format!(
            "SELECT {REPORT_COLS} FROM reports r JOIN incidents ri ON ri.id = r.incident_id WHERE r.incident_id = "
        ));
        q.bind(id.to_string()).push(" AND ");
        report_visible(&mut q, v, "r");
        q.push(" ORDER BY r.created_at, r.id LIMIT ")
            .bind(MAX_LISTED);
        let mut reports: Vec<Report> = fetch_domain::<_, ReportRow>(&self.reader, &q).await?;
        fill_attachments(&self.reader, &mut reports).await?;
        let mut incident = incident;
        if !full {
            redact_for_reporter(&mut incident);
        }
        hide_invisible_merge_target(&self.reader, v, &mut incident).await?;
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
        q.bind(id.to_string())
            .push(" ORDER BY added_at, user_id LIMIT ")
            .bind(MAX_LISTED);
        detail.participants = fetch_all::<_, (String,)>(&self.reader, &q)
            .await?
            .into_iter()
            .map(|(u,)| parse_col("user id", &u))
            .collect::<Result<_>>()?;
        let mut q = Sql::new(&format!(
            "SELECT {ALERT_COLS} FROM alerts a WHERE a.incident_id = "
        ));
        q.bind(id.to_string()).push(" AND ");
        alert_visible(&mut q, v, "a");
        q.push(" ORDER BY a.created_at DESC, a.id DESC LIMIT 200");
        detail.alerts = fetch_domain::<_, AlertRow>(&self.reader, &q).await?;
        let mut q = Sql::new(&format!(
            "SELECT {TIMELINE_COLS} FROM timeline t WHERE t.incident_id = "
        ));
        q.bind(id.to_string())
            .push(" ORDER BY t.at DESC, t.id DESC LIMIT ")
            .bind(MAX_LISTED);
        detail.timeline = fetch_domain::<_, TimelineRow>(&self.reader, &q).await?;
        detail.timeline.reverse();
        let mut q = Sql::new(&format!(
            "SELECT {NOTE_COLS} FROM notes n WHERE n.incident_id = "
        ));
        q.bind(id.to_string())
            .push(" ORDER BY n.created_at DESC, n.id DESC LIMIT ")
            .bind(MAX_LISTED);
        detail.notes = fetch_domain::<_, NoteRow>(&self.reader, &q).await?;
        detail.notes.reverse();
        let mut q = Sql::new(&format!(
            "SELECT {TASK_COLS} FROM tasks k WHERE k.incident_id = "
        ));
        q.bind(id.to_string())
            .push(" ORDER BY k.created_at DESC, k.id DESC LIMIT ")
            .bind(MAX_LISTED);
        detail.tasks = fetch_domain::<_, TaskRow>(&self.reader, &q).await?;
        detail.tasks.reverse();
        Ok(detail)
    }

    pub(super) async fn list_incidents(
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
        let mut items = fetch_domain::<_, IncidentRow>(&self.reader, &q).await?;
        if !v.is_staff() && !items.is_empty() {
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
        for i in &mut items {
            hide_invisible_merge_target(&self.reader, v, i).await?;
        }
        Ok(paginate(items, limit, |i| {
            cursor_of(i.created_at, &i.id.to_string())
        }))
    }

    pub(super) async fn count_incidents(&self, v: &Viewer, filter: &IncidentFilter) -> Result<i64> {
        let mut q = Sql::default();
        let cte = visible_cte(&mut q, v);
        q.push("SELECT COUNT(*) FROM incidents i WHERE ");
        incident_filter(&mut q, v, filter, cte);
        let (n,): (i64,) = fetch_opt(&self.reader, &q).await?.unwrap_or((0,));
        Ok(n)
    }
}
