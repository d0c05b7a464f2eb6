//! Changes to an existing incident: fields, status, owner,
//! participants, impact, resolution, closing, merging, and linking reports
//! and alerts. Each saves the incident with its timeline line, audit entry
//! and (when it notifies) outbox message in one transaction.

use serde_json::{Value, json};
use time::OffsetDateTime;

use super::checks::{MAX_TEXT, check_impact, check_len, forbid, not_future, people_only, to_json};
use super::incidents::save_incident;
use super::outbox::enqueue;
use super::timeline::add_timeline;
use super::visible::{incident_sensitive, load_alert, load_report, user_exists};
use crate::access::Viewer;
use crate::alert::AlertDisposition;
use crate::audit::unix_micros;
use crate::backend::{Change, SqlStore, Tx, append_audit, exec, now};
use crate::enums::{Resolution, Role, Status};
use crate::ids::{AlertId, IncidentId, ReportId, UserId};
use crate::incident::{Impact, Incident, validate_title};
use crate::outbox::OutboxKind;
use crate::query::{Arg, Sql};
use crate::store::{IncidentPatch, Result, StoreError};

/// Names `user` a participant; false if they already were one.
async fn add_participant_row(
    tx: &mut Tx,
    incident: IncidentId,
    user: UserId,
    at: OffsetDateTime,
) -> Result<bool> {
    let mut q =
        Sql::new("INSERT INTO incident_participants (incident_id, user_id, added_at) VALUES ");
    q.bind_list([
        Arg::from(incident.to_string()),
        Arg::from(user.to_string()),
        Arg::from(unix_micros(at)),
    ])
    .push(" ON CONFLICT DO NOTHING");
    Ok(exec(&mut **tx, &q).await? > 0)
}

/// Most participants named in one call.
const MAX_PARTICIPANTS_AT_ONCE: usize = 100;

/// Names `user` a participant of `id` inside `tx`, with its timeline line
/// and audit entry; nothing when they already were one.
async fn add_one_participant(
    tx: &mut Tx,
    v: &Viewer,
    id: IncidentId,
    user: UserId,
    at: OffsetDateTime,
) -> Result<()> {
    if add_participant_row(tx, id, user, at).await? {
        add_timeline(
            tx,
            id,
            at,
            v.user_id,
            "participant",
            &format!("participant {user} added"),
        )
        .await?;
        append_audit(
            tx,
            v,
            at,
            Change {
                action: "incident.participant_add",
                entity: "incident",
                entity_id: id.to_string(),
                incident_id: Some(id),
                related_incident_id: None,
                before: Value::Null,
                after: json!({ "participant": user }),
            },
        )
        .await?;
    }
    Ok(())
}

impl SqlStore {
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
                related_incident_id: None,
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

    pub(super) async fn update_incident(
        &self,
        v: &Viewer,
        id: IncidentId,
        patch: IncidentPatch,
    ) -> Result<Incident> {
        people_only(v)?;
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
        // The disclosure state follows the incident's advisory (written by
        // one responder, approved by another); a patch may only repeat it.
        if let Some(d) = patch.disclosure
            && d != before.disclosure
        {
            return Err(StoreError::Conflict(format!(
                "the disclosure state is {} and follows the incident's advisory: write it with POST /api/v1/incidents/{id}/advisory and have another responder approve it",
                before.disclosure
            )));
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

    pub(super) async fn transition_incident(
        &self,
        v: &Viewer,
        id: IncidentId,
        to: Status,
        at: Option<OffsetDateTime>,
    ) -> Result<Incident> {
        people_only(v)?;
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

    pub(super) async fn assign_incident(
        &self,
        v: &Viewer,
        id: IncidentId,
        owner: Option<UserId>,
    ) -> Result<Incident> {
        people_only(v)?;
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

    /// Names every user of `users` a participant, in one transaction: an
    /// unknown user and none is added.
    pub(super) async fn add_participants(
        &self,
        v: &Viewer,
        id: IncidentId,
        users: &[UserId],
    ) -> Result<()> {
        people_only(v)?;
        if users.len() > MAX_PARTICIPANTS_AT_ONCE {
            return Err(StoreError::Invalid(format!(
                "at most {MAX_PARTICIPANTS_AT_ONCE} participants at once"
            )));
        }
        let mut tx = self.begin().await?;
        let i = self.managed(&mut tx, v, id).await?;
        i.ensure_open()?;
        let at = now();
        for &user in users {
            user_exists(&mut tx, user).await?;
            add_one_participant(&mut tx, v, id, user, at).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn add_participant(
        &self,
        v: &Viewer,
        id: IncidentId,
        user: UserId,
    ) -> Result<()> {
        self.add_participants(v, id, &[user]).await
    }

    pub(super) async fn remove_participant(
        &self,
        v: &Viewer,
        id: IncidentId,
        user: UserId,
    ) -> Result<()> {
        people_only(v)?;
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
                related_incident_id: None,
                before: json!({ "participant": user }),
                after: Value::Null,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn set_impact(
        &self,
        v: &Viewer,
        id: IncidentId,
        impact: Impact,
    ) -> Result<Incident> {
        people_only(v)?;
        check_impact(&impact)?;
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

    pub(super) async fn set_resolution(
        &self,
        v: &Viewer,
        id: IncidentId,
        resolution: Resolution,
    ) -> Result<Incident> {
        people_only(v)?;
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

    pub(super) async fn close_incident(
        &self,
        v: &Viewer,
        id: IncidentId,
        resolution: Resolution,
        impact: Option<Impact>,
        at: Option<OffsetDateTime>,
    ) -> Result<Incident> {
        people_only(v)?;
        if let Some(m) = &impact {
            check_impact(m)?;
        }
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

    pub(super) async fn merge_incidents(
        &self,
        v: &Viewer,
        source: IncidentId,
        target: IncidentId,
    ) -> Result<Incident> {
        people_only(v)?;
        let mut tx = self.begin().await?;
        let src_before = self.managed(&mut tx, v, source).await?;
        let tgt_before = self.managed(&mut tx, v, target).await?;
        let at = now();
        let mut src = src_before.clone();
        src.merge_into(&tgt_before, v.user_id, at)?;
        // Both sides end as sensitive as the stricter of the two: the
        // target holds the source's reports and alerts, and the source
        // (and every notice about it) names the target.
        let sensitive = src_before.sensitive || tgt_before.sensitive;
        src.sensitive = sensitive;
        let mut tgt = tgt_before.clone();
        tgt.sensitive = sensitive;
        tgt.alert_count += src_before.alert_count;
        tgt.last_alert_at = tgt.last_alert_at.max(src_before.last_alert_at);
        tgt.updated_at = at;
        src.alert_count = 0;
        for table in ["reports", "alerts"] {
            // What moves keeps the stricter of its own flag and the
            // source's.
            let mut q = Sql::new(&format!("UPDATE {table} SET incident_id = "));
            q.bind(target.to_string());
            if src_before.sensitive {
                q.push(", sensitive = ").bind(true);
            }
            q.push(" WHERE incident_id = ").bind(source.to_string());
            exec(&mut *tx, &q).await?;
        }
        // Named participants of the source follow it only into a target
        // that is not sensitive: naming someone on a sensitive incident is
        // a decision taken on that incident, never a side effect.
        if !sensitive {
            let mut q = Sql::new(
                "INSERT INTO incident_participants (incident_id, user_id, added_at) SELECT ",
            );
            q.bind(target.to_string())
                .push(", user_id, added_at FROM incident_participants WHERE incident_id = ")
                .bind(source.to_string())
                .push(" ON CONFLICT DO NOTHING");
            exec(&mut *tx, &q).await?;
        }
        save_incident(&mut tx, &src).await?;
        // Timeline lines name no other incident: a reader of one side may
        // not see the other. `merged_into` links them for those who may.
        add_timeline(
            &mut tx,
            source,
            at,
            v.user_id,
            "merge",
            "merged into another incident",
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
                related_incident_id: Some(target),
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
            Some(("merge", "another incident merged in".to_owned())),
            true,
            at,
        )
        .await?;
        Ok(tgt)
    }

    pub(super) async fn link_report(
        &self,
        v: &Viewer,
        id: IncidentId,
        report: ReportId,
    ) -> Result<()> {
        people_only(v)?;
        let mut tx = self.begin().await?;
        let before = self.managed(&mut tx, v, id).await?;
        let r = load_report(&mut *tx, v, report).await?;
        before.ensure_open()?;
        if r.incident_id == id {
            return Ok(());
        }
        let at = now();
        // The report keeps the stricter of its own flag and its source
        // incident's, and the incident it joins becomes at least as strict.
        let sensitive = r.sensitive || incident_sensitive(&mut *tx, r.incident_id).await?;
        let mut q = Sql::new("UPDATE reports SET incident_id = ");
        q.bind(id.to_string())
            .push(", sensitive = ")
            .bind(sensitive)
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
                related_incident_id: Some(id),
                before: json!({ "incident_id": r.incident_id, "sensitive": r.sensitive }),
                after: json!({ "incident_id": id, "sensitive": sensitive }),
            },
        )
        .await?;
        let mut after = before.clone();
        after.sensitive |= sensitive;
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

    pub(super) async fn link_alert(
        &self,
        v: &Viewer,
        id: IncidentId,
        alert: AlertId,
    ) -> Result<()> {
        people_only(v)?;
        let mut tx = self.begin().await?;
        let before = self.managed(&mut tx, v, id).await?;
        let a = load_alert(&mut *tx, v, alert).await?;
        before.ensure_open()?;
        if a.incident_id == Some(id) {
            return Ok(());
        }
        let at = now();
        let mut sensitive = a.sensitive;
        if let Some(old) = a.incident_id {
            sensitive |= incident_sensitive(&mut *tx, old).await?;
            super::alerts::release_alert(&mut tx, old, at).await?;
        }
        let mut q = Sql::new("UPDATE alerts SET incident_id = ");
        q.bind(id.to_string())
            .push(", disposition = ")
            .bind(AlertDisposition::Grouped.as_str())
            .push(", sensitive = ")
            .bind(sensitive)
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
                incident_id: a.incident_id.or(Some(id)),
                related_incident_id: a.incident_id.map(|_| id),
                before: json!({ "incident_id": a.incident_id }),
                after: json!({ "incident_id": id }),
            },
        )
        .await?;
        let mut after = before.clone();
        after.sensitive |= sensitive;
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
}
