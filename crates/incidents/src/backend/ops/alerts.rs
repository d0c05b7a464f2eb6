//! Alerts from detections: ingesting one (suppressed, queued, grouped into
//! an open incident, or opening a new one; once per key), reading,
//! promoting and dismissing alerts, and the suppression rules.
//!
//! An alert with a key is stored once. A second ingest of the key is
//! answered from a read (no write lock), or, when it raced the first, from
//! a second look under the write lock; should both miss it, the unique
//! index on `alerts.dedup_key` refuses the insert, the transaction rolls
//! back, and the first alert is answered. A duplicate writes nothing: no
//! alert, incident change, timeline line or audit entry.

use serde_json::{Value, json};
use time::OffsetDateTime;

use super::checks::{check_len, forbid, is_unique_violation, people_only, to_json};
use super::incidents::{insert_incident, record_opened, save_incident};
use super::paging::{cursor_of, keyset, page_limit, paginate};
use super::timeline::add_timeline;
use super::visible::{incident_sensitive, load_alert};
use crate::access::{Viewer, alert_visible};
use crate::alert::{
    Alert, AlertDisposition, AlertOutcome, NewAlert, NewSuppression, SuppressionRule,
};
use crate::audit::unix_micros;
use crate::backend::rows::{
    ALERT_COLS, AlertRow, DomainRow, INCIDENT_COLS, IncidentRow, SUPPRESSION_COLS, SuppressionRow,
};
use crate::backend::{
    Change, SqlStore, Tx, append_audit, exec, fetch_domain, fetch_one, fetch_opt, now, opt_micros,
};
use crate::ids::{AlertId, IncidentId, SuppressionId};
use crate::incident::Incident;
use crate::query::{Arg, Sql};
use crate::store::{AlertFilter, Page, PageRequest, Result, StoreError};

/// Largest accepted evidence (serialised) per alert.
const MAX_EVIDENCE_BYTES: usize = 1024 * 1024;

/// A new alert from its ingest request and what became of it.
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
        sensitive: false,
        disposition,
        suppressed_by,
        created_at: at,
        key: a.key.clone(),
    }
}

/// An alert leaves incident `incident`: its alert count drops by one (never
/// below zero) and it counts as updated at `at`.
pub(super) async fn release_alert(
    tx: &mut Tx,
    incident: IncidentId,
    at: OffsetDateTime,
) -> Result<()> {
    let mut q = Sql::new(
        "UPDATE incidents SET alert_count = CASE WHEN alert_count > 0 THEN alert_count - 1 ELSE 0 END, updated_at = ",
    );
    q.bind(unix_micros(at))
        .push(" WHERE id = ")
        .bind(incident.to_string());
    exec(&mut **tx, &q).await?;
    Ok(())
}

/// Inserts a new alert row (with its key: a second row with the same key
/// is a unique violation).
async fn insert_alert(tx: &mut Tx, a: &Alert) -> Result<()> {
    let mut q = Sql::new(
        "INSERT INTO alerts (id, rule_id, rule_title, level, entities, evidence, policy, detected_at, incident_id, disposition, suppressed_by, created_at, dedup_key) VALUES ",
    );
    q.bind_list([
        Arg::from(a.id.to_string()),
        Arg::from(a.rule_id.clone()),
        Arg::from(a.rule_title.clone()),
        Arg::from(a.level.as_str()),
        Arg::from(to_json(&a.entities).to_string()),
        Arg::from(to_json(&a.evidence).to_string()),
        Arg::from(a.policy.clone()),
        Arg::from(unix_micros(a.detected_at)),
        Arg::from(a.incident_id.map(|i| i.to_string())),
        Arg::from(a.disposition.as_str()),
        Arg::from(a.suppressed_by.map(|s| s.to_string())),
        Arg::from(unix_micros(a.created_at)),
        Arg::from(a.key.clone()),
    ]);
    exec(&mut **tx, &q).await?;
    Ok(())
}

/// Alert fields as stored in the audit trail (evidence is summarised by its
/// size, not copied).
fn alert_audit(a: &Alert) -> Value {
    json!({
        "id": a.id, "rule_id": a.rule_id, "level": a.level, "entities": a.entities,
        "incident_id": a.incident_id, "sensitive": a.sensitive,
        "disposition": a.disposition.as_str(),
        "suppressed_by": a.suppressed_by, "evidence_events": a.evidence.len(),
        "key": a.key,
    })
}

/// Checks an ingest request against the limits (`Invalid`).
fn check_new_alert(new: &NewAlert) -> Result<()> {
    check_len("rule_id", &new.rule_id, 1, 200)?;
    check_len("rule_title", &new.rule_title, 1, 500)?;
    if let Some(group) = &new.group
        && !(1..=NewAlert::MAX_GROUP_BYTES).contains(&group.len())
    {
        return Err(StoreError::Invalid(format!(
            "group: 1 to {} bytes (got {})",
            NewAlert::MAX_GROUP_BYTES,
            group.len()
        )));
    }
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
    if let Some(key) = &new.key
        && !NewAlert::valid_key(key)
    {
        return Err(StoreError::Invalid(format!(
            "key: 1 to {} bytes of printable ASCII (got {} bytes)",
            NewAlert::MAX_KEY_BYTES,
            key.len()
        )));
    }
    Ok(())
}

/// What ingesting `alert` (just stored) did.
fn outcome(alert: &Alert) -> AlertOutcome {
    AlertOutcome {
        alert_id: alert.id,
        disposition: alert.disposition,
        incident_id: alert.incident_id,
        duplicate: false,
    }
}

/// What a second ingest of key `key` answers: the stored alert with that
/// key, as it is now, marked a duplicate; `None` when no alert has it.
/// Like grouping, this does not apply the caller's visibility: ingest is
/// the pipeline's (system) or a responder's or admin's call.
async fn outcome_of_key<'e, E>(e: E, key: &str) -> Result<Option<AlertOutcome>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let mut q = Sql::new(&format!(
        "SELECT {ALERT_COLS} FROM alerts a WHERE a.dedup_key = "
    ));
    q.bind(key);
    Ok(fetch_opt::<_, AlertRow>(e, &q)
        .await?
        .map(AlertRow::into_domain)
        .transpose()?
        .map(|first| AlertOutcome {
            duplicate: true,
            ..outcome(&first)
        }))
}

/// Stores an alert that joins no incident (suppressed or queued) inside
/// `tx`, with its audit entry.
async fn keep_unlinked(
    tx: &mut Tx,
    v: &Viewer,
    new: &NewAlert,
    disposition: AlertDisposition,
    suppressed_by: Option<SuppressionId>,
    at: OffsetDateTime,
) -> Result<AlertOutcome> {
    let alert = alert_to_domain(AlertId::new(), new, None, disposition, suppressed_by, at);
    insert_alert(tx, &alert).await?;
    append_audit(
        tx,
        v,
        at,
        Change {
            action: if disposition == AlertDisposition::Queued {
                "alert.queue"
            } else {
                "alert.suppress"
            },
            entity: "alert",
            entity_id: alert.id.to_string(),
            incident_id: None,
            related_incident_id: None,
            before: Value::Null,
            after: alert_audit(&alert),
        },
    )
    .await?;
    Ok(outcome(&alert))
}

impl SqlStore {
    /// Opens an incident for an alert inside `tx`.
    async fn open_for_alert(
        &self,
        tx: &mut Tx,
        v: &Viewer,
        a: &NewAlert,
        at: OffsetDateTime,
    ) -> Result<Incident> {
        let i = a.incident(at);
        insert_incident(tx, &i).await?;
        record_opened(
            tx,
            v,
            &i,
            &format!("opened by alert: {}", a.rule_title),
            &format!("New incident opened by detection rule {}", a.rule_title),
            at,
        )
        .await?;
        Ok(i)
    }

    pub(super) async fn ingest_alert(&self, v: &Viewer, new: NewAlert) -> Result<AlertOutcome> {
        forbid(
            v.can_handle_alerts(),
            "only responders and admins ingest alerts",
        )?;
        check_new_alert(&new)?;
        let key = new.key.as_deref();
        // A replay is answered from a read, without the write lock.
        if let Some(key) = key
            && let Some(first) = outcome_of_key(&self.reader, key).await?
        {
            return Ok(first);
        }
        let mut tx = self.begin().await?;
        // Again under the write lock, which serialises writers: a
        // concurrent ingest of the same key may have committed meanwhile.
        if let Some(key) = key
            && let Some(first) = outcome_of_key(&mut *tx, key).await?
        {
            tx.rollback().await?;
            return Ok(first);
        }
        match self.store_alert(&mut tx, v, &new).await {
            Ok(outcome) => {
                tx.commit().await?;
                Ok(outcome)
            }
            Err(error) => {
                // The unique index on the key settles a race the lock did
                // not (a writer that bypassed it): everything this ingest
                // wrote is rolled back, and the first alert stands.
                if let Some(key) = key
                    && is_unique_violation(&error)
                {
                    tx.rollback().await?;
                    if let Some(first) = outcome_of_key(&self.reader, key).await? {
                        return Ok(first);
                    }
                }
                Err(error)
            }
        }
    }

    /// [`crate::Store::ingest_alerts`]: the valid alerts in one
    /// transaction, each as [`Self::ingest_alert`] would store it (a key
    /// already stored, or earlier in the batch, is a duplicate). Anything
    /// the batch cannot settle alone (an alert the store refuses, a key
    /// another writer stored meanwhile) rolls the batch back and ingests
    /// the alerts one at a time instead, so one alert never fails the
    /// others.
    pub(super) async fn ingest_alerts(
        &self,
        v: &Viewer,
        batch: Vec<NewAlert>,
    ) -> Result<Vec<Result<AlertOutcome>>> {
        forbid(
            v.can_handle_alerts(),
            "only responders and admins ingest alerts",
        )?;
        if batch.len() <= 1 {
            let mut out = Vec::with_capacity(batch.len());
            for new in batch {
                out.push(per_alert(self.ingest_alert(v, new).await)?);
            }
            return Ok(out);
        }
        let checks: Vec<Result<()>> = batch.iter().map(check_new_alert).collect();
        let mut tx = self.begin().await?;
        let mut outcomes = Vec::with_capacity(batch.len());
        let mut settled = true;
        for (new, check) in batch.iter().zip(&checks) {
            if check.is_err() {
                outcomes.push(None);
                continue;
            }
            if let Some(key) = new.key.as_deref()
                && let Some(first) = outcome_of_key(&mut *tx, key).await?
            {
                outcomes.push(Some(first));
                continue;
            }
            match self.store_alert(&mut tx, v, new).await {
                Ok(outcome) => outcomes.push(Some(outcome)),
                Err(e) if about_the_alert(&e) || is_unique_violation(&e) => {
                    settled = false;
                    break;
                }
                // The store cannot be used: nothing of the batch is kept
                // (dropping the transaction rolls it back).
                Err(e) => return Err(e),
            }
        }
        if settled {
            tx.commit().await?;
            return Ok(outcomes
                .into_iter()
                .zip(checks)
                .map(|(outcome, check)| match (outcome, check) {
                    (Some(o), _) => Ok(o),
                    (None, Err(e)) => Err(e),
                    (None, Ok(())) => unreachable!("every valid alert has an outcome"),
                })
                .collect());
        }
        tx.rollback().await?;
        let mut out = Vec::with_capacity(batch.len());
        for new in batch {
            out.push(per_alert(self.ingest_alert(v, new).await)?);
        }
        Ok(out)
    }

    /// Stores a new alert inside `tx` (without committing): suppressed,
    /// queued, grouped into an open incident, or opening a new one.
    async fn store_alert(&self, tx: &mut Tx, v: &Viewer, new: &NewAlert) -> Result<AlertOutcome> {
        let at = now();
        // Suppression first, then the queue.
        let mut q = Sql::new(&format!(
            "SELECT {SUPPRESSION_COLS} FROM suppressions s WHERE s.rule_id = "
        ));
        q.bind(new.rule_id.clone()).push(" ORDER BY s.created_at");
        let rules: Vec<SuppressionRule> = fetch_domain::<_, SuppressionRow>(&mut **tx, &q).await?;
        if let Some(rule) = rules.iter().find(|r| r.matches(new, at)) {
            return keep_unlinked(tx, v, new, AlertDisposition::Suppressed, Some(rule.id), at)
                .await;
        }
        if new.queue_only {
            return keep_unlinked(tx, v, new, AlertDisposition::Queued, None, at).await;
        }
        // Grouping: the open incident with the same key whose last alert is
        // within the window.
        let mut q = Sql::new(&format!(
            "SELECT {INCIDENT_COLS} FROM incidents i WHERE i.group_key = "
        ));
        q.bind(new.group_key())
            .push(" AND i.status NOT IN ('closed', 'declined', 'merged') ORDER BY i.last_alert_at DESC LIMIT 1");
        let open = fetch_opt::<_, IncidentRow>(&mut **tx, &q)
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
                new,
                Some(after.id),
                AlertDisposition::Grouped,
                None,
                at,
            );
            insert_alert(tx, &alert).await?;
            save_incident(tx, &after).await?;
            add_timeline(
                tx,
                after.id,
                at,
                v.user_id,
                "alert",
                &format!("alert grouped ({} alerts)", after.alert_count),
            )
            .await?;
            append_audit(
                tx,
                v,
                at,
                Change {
                    action: "alert.group",
                    entity: "alert",
                    entity_id: alert.id.to_string(),
                    incident_id: Some(after.id),
                    related_incident_id: None,
                    before: json!({ "alert_count": before.alert_count }),
                    after: json!({ "alert_count": after.alert_count, "alert": alert_audit(&alert) }),
                },
            )
            .await?;
            return Ok(outcome(&alert));
        }
        let incident = self.open_for_alert(tx, v, new, at).await?;
        let alert = alert_to_domain(
            AlertId::new(),
            new,
            Some(incident.id),
            AlertDisposition::Opened,
            None,
            at,
        );
        insert_alert(tx, &alert).await?;
        append_audit(
            tx,
            v,
            at,
            Change {
                action: "alert.open",
                entity: "alert",
                entity_id: alert.id.to_string(),
                incident_id: Some(incident.id),
                related_incident_id: None,
                before: Value::Null,
                after: alert_audit(&alert),
            },
        )
        .await?;
        Ok(outcome(&alert))
    }

    pub(super) async fn get_alert(&self, v: &Viewer, id: AlertId) -> Result<Alert> {
        load_alert(&self.reader, v, id).await
    }

    pub(super) async fn list_alerts(
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
        let items = fetch_domain::<_, AlertRow>(&self.reader, &q).await?;
        Ok(paginate(items, limit, |a| {
            cursor_of(a.created_at, &a.id.to_string())
        }))
    }

    pub(super) async fn promote_alert(&self, v: &Viewer, id: AlertId) -> Result<Incident> {
        people_only(v)?;
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
            // The alert is already stored (with its key): this only
            // describes the incident to open.
            key: None,
            queue_only: false,
            group: None,
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
                related_incident_id: None,
                before: alert_audit(&before),
                after: alert_audit(&after),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(incident)
    }

    pub(super) async fn dismiss_alert(
        &self,
        v: &Viewer,
        id: AlertId,
        reason: &str,
    ) -> Result<Alert> {
        people_only(v)?;
        check_len("reason", reason, 0, 2000)?;
        let mut tx = self.begin().await?;
        let before = load_alert(&mut *tx, v, id).await?;
        forbid(
            v.can_handle_alerts(),
            "only responders and admins dismiss alerts",
        )?;
        let at = now();
        let mut sensitive = before.sensitive;
        if let Some(iid) = before.incident_id {
            sensitive |= incident_sensitive(&mut *tx, iid).await?;
            release_alert(&mut tx, iid, at).await?;
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
        after.sensitive = sensitive;
        after.disposition = AlertDisposition::Dismissed;
        let mut q = Sql::new("UPDATE alerts SET incident_id = NULL, disposition = ");
        q.bind(AlertDisposition::Dismissed.as_str())
            .push(", sensitive = ")
            .bind(sensitive)
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
                related_incident_id: None,
                before: alert_audit(&before),
                after: after_json,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    pub(super) async fn create_suppression(
        &self,
        v: &Viewer,
        new: NewSuppression,
    ) -> Result<SuppressionRule> {
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
            "INSERT INTO suppressions (id, rule_id, entities, reason, expires_at, created_by, created_at) VALUES ",
        );
        q.bind_list([
            Arg::from(rule.id.to_string()),
            Arg::from(rule.rule_id.clone()),
            Arg::from(to_json(&rule.entities).to_string()),
            Arg::from(rule.reason.clone()),
            opt_micros(rule.expires_at),
            Arg::from(v.user_id.to_string()),
            Arg::from(unix_micros(at)),
        ]);
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
                related_incident_id: None,
                before: Value::Null,
                after: to_json(&rule),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(rule)
    }

    pub(super) async fn list_suppressions(&self, v: &Viewer) -> Result<Vec<SuppressionRule>> {
        forbid(
            v.can_handle_alerts(),
            "only responders and admins see suppressions",
        )?;
        let q = Sql::new(&format!(
            "SELECT {SUPPRESSION_COLS} FROM suppressions s ORDER BY s.created_at"
        ));
        fetch_domain::<_, SuppressionRow>(&self.reader, &q).await
    }

    pub(super) async fn delete_suppression(&self, v: &Viewer, id: SuppressionId) -> Result<()> {
        forbid(
            v.can_handle_alerts(),
            "only responders and admins manage suppressions",
        )?;
        let mut tx = self.begin().await?;
        let mut q = Sql::new(&format!(
            "SELECT {SUPPRESSION_COLS} FROM suppressions s WHERE s.id = "
        ));
        q.bind(id.to_string());
        let before = fetch_one::<_, SuppressionRow>(&mut *tx, &q, "suppression").await?;
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
                related_incident_id: None,
                before: to_json(&before),
                after: Value::Null,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// One alert's answer inside a batch: refusals of that alert stay with it;
/// a store that cannot be used fails the batch.
fn per_alert(result: Result<AlertOutcome>) -> Result<Result<AlertOutcome>> {
    match result {
        Ok(o) => Ok(Ok(o)),
        Err(e) if about_the_alert(&e) => Ok(Err(e)),
        Err(e) => Err(e),
    }
}

/// A refusal of one alert (its content), not of the store.
fn about_the_alert(e: &StoreError) -> bool {
    matches!(
        e,
        StoreError::Invalid(_)
            | StoreError::Forbidden(_)
            | StoreError::Conflict(_)
            | StoreError::Domain(_)
            | StoreError::NotFound(_)
    )
}
