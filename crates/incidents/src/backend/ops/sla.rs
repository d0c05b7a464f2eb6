//! SLA escalations as rows: where incidents came from (for the targets),
//! taking an escalation step once (the `sla_escalations` unique key), and
//! reading the steps taken on visible incidents.

use serde_json::{Value, json};
use sqlx::FromRow;
use time::OffsetDateTime;

use super::checks::forbid;
use super::outbox::enqueue;
use super::visible::load_incident;
use crate::access::{Viewer, incident_visible};
use crate::audit::unix_micros;
use crate::backend::{Change, SqlStore, append_audit, exec, fetch_all, from_micros, parse_col};
use crate::enums::{Channel, Source};
use crate::ids::IncidentId;
use crate::query::Sql;
use crate::sla::{ClockStatus, EscalationCount, EscalationStep, SlaClock, SlaEscalation};
use crate::store::{Result, StoreError};

/// The most ids one [`SqlStore::incident_sources`] call takes.
const MAX_IDS: usize = 1000;

/// The most escalations one list returns.
const MAX_LISTED: i64 = 1000;

#[derive(FromRow)]
struct EscalationRow {
    incident_id: String,
    clock: String,
    step: i64,
    due: i64,
    at: i64,
}

impl EscalationRow {
    fn into_domain(self) -> Result<SlaEscalation> {
        Ok(SlaEscalation {
            incident_id: parse_col("incident id", &self.incident_id)?,
            clock: SlaClock::parse(&self.clock)
                .ok_or_else(|| StoreError::Corrupt(format!("SLA clock {:?}", self.clock)))?,
            step: EscalationStep::from_number(self.step)
                .ok_or_else(|| StoreError::Corrupt(format!("SLA step {}", self.step)))?,
            due: from_micros(self.due),
            at: from_micros(self.at),
        })
    }
}

impl SqlStore {
    pub(super) async fn incident_sources(
        &self,
        v: &Viewer,
        ids: &[IncidentId],
    ) -> Result<Vec<(IncidentId, Vec<Source>)>> {
        forbid(v.is_staff(), "only staff read where incidents came from")?;
        if ids.len() > MAX_IDS {
            return Err(StoreError::Invalid(format!(
                "at most {MAX_IDS} incidents at once"
            )));
        }
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let id_list = || ids.iter().map(ToString::to_string);
        // Visible incidents, each with a report channel or 'detection'.
        let mut q = Sql::new(
            "SELECT i.id, r.channel FROM incidents i LEFT JOIN reports r ON r.incident_id = i.id WHERE i.id IN ",
        );
        q.bind_list(id_list()).push(" AND ");
        incident_visible(&mut q, v, "i");
        q.push(" UNION SELECT i.id, 'detection' FROM incidents i WHERE i.id IN ")
            .bind_list(id_list())
            .push(" AND (i.group_key IS NOT NULL OR EXISTS (SELECT 1 FROM alerts a WHERE a.incident_id = i.id)) AND ");
        incident_visible(&mut q, v, "i");
        let rows: Vec<(String, Option<String>)> = fetch_all(&self.reader, &q).await?;
        let mut out: Vec<(IncidentId, Vec<Source>)> = Vec::new();
        for (id, channel) in rows {
            let id: IncidentId = parse_col("incident id", &id)?;
            let source = match channel.as_deref() {
                None => None,
                Some("detection") => Some(Source::Detection),
                Some(c) => {
                    let channel: Channel = parse_col("report channel", c)?;
                    Source::ALL
                        .iter()
                        .copied()
                        .find(|s| s.channel() == Some(channel))
                }
            };
            let at = match out.iter().position(|(i, _)| *i == id) {
                Some(at) => at,
                None => {
                    out.push((id, Vec::new()));
                    out.len() - 1
                }
            };
            if let Some(s) = source
                && !out[at].1.contains(&s)
            {
                out[at].1.push(s);
            }
        }
        for (_, sources) in &mut out {
            sources.sort();
        }
        // In the order asked.
        out.sort_by_key(|(id, _)| ids.iter().position(|i| i == id));
        Ok(out)
    }

    pub(super) async fn record_sla_escalation(
        &self,
        v: &Viewer,
        id: IncidentId,
        clock: &ClockStatus,
        step: EscalationStep,
        at: OffsetDateTime,
    ) -> Result<bool> {
        forbid(v.is_system(), "only the system escalates SLA breaches")?;
        let mut tx = self.begin().await?;
        let incident = load_incident(&mut *tx, v, id).await?;
        let mut q =
            Sql::new("INSERT INTO sla_escalations (incident_id, clock, step, due, at) VALUES ");
        q.bind_list([
            crate::query::Arg::from(id.to_string()),
            crate::query::Arg::from(clock.clock.as_str()),
            crate::query::Arg::from(step.number()),
            crate::query::Arg::from(unix_micros(clock.due)),
            crate::query::Arg::from(unix_micros(at)),
        ])
        .push(" ON CONFLICT (incident_id, clock, step) DO NOTHING");
        if exec(&mut *tx, &q).await? == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        let due = clock
            .due
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let change = match step {
            EscalationStep::Breached => format!(
                "SLA breached: the {} clock ({}) was due {due}",
                clock.clock, clock.target
            ),
            EscalationStep::Escalated => format!(
                "SLA escalated: the {} clock ({}) was due {due} and is still running",
                clock.clock, clock.target
            ),
        };
        enqueue(
            &mut tx,
            step.outbox_kind(),
            &incident,
            step.action(),
            &change,
            at,
        )
        .await?;
        append_audit(
            &mut tx,
            v,
            at,
            Change {
                action: step.action(),
                entity: "incident",
                entity_id: id.to_string(),
                incident_id: Some(id),
                related_incident_id: None,
                before: Value::Null,
                after: json!({
                    "clock": clock.clock.as_str(),
                    "step": step.number(),
                    "target": clock.target.to_string(),
                    "due": due,
                    "sensitive": incident.sensitive,
                }),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    pub(super) async fn list_sla_escalations(
        &self,
        v: &Viewer,
        id: Option<IncidentId>,
    ) -> Result<Vec<SlaEscalation>> {
        forbid(v.is_staff(), "only staff read SLA escalations")?;
        let mut q = Sql::new(
            "SELECT e.incident_id, e.clock, e.step, e.due, e.at FROM sla_escalations e JOIN incidents i ON i.id = e.incident_id WHERE ",
        );
        incident_visible(&mut q, v, "i");
        if let Some(id) = id {
            q.push(" AND e.incident_id = ").bind(id.to_string());
        }
        q.push(" ORDER BY e.at, e.incident_id, e.clock, e.step LIMIT ")
            .bind(MAX_LISTED);
        fetch_all::<_, EscalationRow>(&self.reader, &q)
            .await?
            .into_iter()
            .map(EscalationRow::into_domain)
            .collect()
    }

    pub(super) async fn count_sla_escalations(&self, v: &Viewer) -> Result<Vec<EscalationCount>> {
        forbid(v.is_staff(), "only staff read SLA escalations")?;
        let mut q = Sql::new(
            "SELECT e.clock, e.step, COUNT(*) FROM sla_escalations e JOIN incidents i ON i.id = e.incident_id WHERE ",
        );
        incident_visible(&mut q, v, "i");
        q.push(" GROUP BY e.clock, e.step ORDER BY e.clock, e.step");
        let rows: Vec<(String, i64, i64)> = fetch_all(&self.reader, &q).await?;
        rows.into_iter()
            .map(|(clock, step, count)| {
                Ok(EscalationCount {
                    clock: SlaClock::parse(&clock)
                        .ok_or_else(|| StoreError::Corrupt(format!("SLA clock {clock:?}")))?,
                    step: EscalationStep::from_number(step)
                        .ok_or_else(|| StoreError::Corrupt(format!("SLA step {step}")))?,
                    count,
                })
            })
            .collect()
    }
}
