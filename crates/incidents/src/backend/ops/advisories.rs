//! Public advisories: drafting one for an incident, approving (publishing)
//! it, and the reads, responders' and the public's.
//!
//! Guards, in order: an `ingest` token and every role but `responder` are
//! `Forbidden` before anything is looked up; the incident must be closed,
//! confirmed and not sensitive (`Conflict` naming the reason); the approver
//! must not be the author (`Forbidden`, a refusal of its own). The public
//! read returns only published advisories of incidents that are still not
//! sensitive, and only their public fields.

use sqlx::FromRow;

use super::checks::{forbid, people_only, to_json};
use super::visible::load_incident;
use crate::access::Viewer;
use crate::advisory::{Advisory, AdvisoryId, AdvisoryStatus, AdvisoryText, PublicAdvisory};
use crate::audit::unix_micros;
use crate::backend::{
    Change, SqlStore, Tx, append_audit, exec, fetch_all, fetch_opt, from_micros, now, parse_col,
};
use crate::enums::{Disclosure, Status};
use crate::ids::IncidentId;
use crate::incident::Incident;
use crate::query::Sql;
use crate::store::{Result, StoreError};

/// The most advisories one listing returns (newest first).
const MAX_LISTED: i64 = 1000;

const COLS: &str = "a.id, a.incident_id, a.title, a.summary, a.impact, a.remediation, a.status, a.author_id, a.approver_id, a.created_at, a.updated_at, a.published_at";

const NOT_RESPONDER: &str = "only responders write and approve advisories";

#[derive(FromRow)]
struct AdvisoryRow {
    id: String,
    incident_id: String,
    title: String,
    summary: String,
    impact: String,
    remediation: String,
    status: String,
    author_id: String,
    approver_id: Option<String>,
    created_at: i64,
    updated_at: i64,
    published_at: Option<i64>,
}

impl AdvisoryRow {
    fn into_domain(self) -> Result<Advisory> {
        Ok(Advisory {
            id: parse_col("advisory id", &self.id)?,
            incident_id: parse_col("incident id", &self.incident_id)?,
            text: AdvisoryText {
                title: self.title,
                summary: self.summary,
                impact: self.impact,
                remediation: self.remediation,
            },
            status: parse_col("advisory status", &self.status)?,
            author: parse_col("user id", &self.author_id)?,
            approver: self
                .approver_id
                .as_deref()
                .map(|s| parse_col("user id", s))
                .transpose()?,
            created_at: from_micros(self.created_at),
            updated_at: from_micros(self.updated_at),
            published_at: self.published_at.map(from_micros),
        })
    }
}

/// Why `incident` may not be disclosed, if it may not.
fn refusal(incident: &Incident) -> Option<String> {
    if incident.sensitive {
        return Some("a sensitive incident is never disclosed".to_owned());
    }
    if incident.status != Status::Closed {
        return Some(format!(
            "only a closed incident is disclosed (this one is {})",
            incident.status
        ));
    }
    match incident.resolution {
        Some(r) if r.is_confirmed() => None,
        Some(r) => Some(format!(
            "only a confirmed incident (true_positive_impact or true_positive_no_impact) is disclosed (this one is {r})"
        )),
        None => Some("only a confirmed incident is disclosed (this one has no resolution)".into()),
    }
}

/// `Conflict` naming the reason unless `incident` may be disclosed.
fn disclosable(incident: &Incident) -> Result<()> {
    match refusal(incident) {
        Some(why) => Err(StoreError::Conflict(why)),
        None => Ok(()),
    }
}

async fn by_incident(tx: &mut Tx, incident: IncidentId) -> Result<Option<Advisory>> {
    let mut q = Sql::new(&format!(
        "SELECT {COLS} FROM advisories a WHERE a.incident_id = "
    ));
    q.bind(incident.to_string());
    fetch_opt::<_, AdvisoryRow>(&mut **tx, &q)
        .await?
        .map(AdvisoryRow::into_domain)
        .transpose()
}

/// The next id of `year`, inside `tx` (which holds the write lock, so two
/// writers never draw the same number; the unique index backs it).
async fn next_id(tx: &mut Tx, year: i32) -> Result<AdvisoryId> {
    let mut q = Sql::new("SELECT COALESCE(MAX(seq), 0) FROM advisories WHERE year = ");
    q.bind(i64::from(year));
    let (max,): (i64,) = fetch_opt(&mut **tx, &q).await?.unwrap_or((0,));
    let seq = u32::try_from(max + 1)
        .map_err(|_| StoreError::Corrupt(format!("advisory sequence of {year} is {max}")))?;
    Ok(AdvisoryId::new(year, seq))
}

/// Sets the incident's disclosure state (its own column; the incident's
/// record is otherwise untouched).
async fn mark_incident(tx: &mut Tx, incident: IncidentId, d: Disclosure) -> Result<()> {
    let mut q = Sql::new("UPDATE incidents SET disclosure = ");
    q.bind(d.as_str())
        .push(" WHERE id = ")
        .bind(incident.to_string());
    exec(&mut **tx, &q).await?;
    Ok(())
}

fn check_text(text: &AdvisoryText) -> Result<()> {
    let problems = text.problems();
    if problems.is_empty() {
        return Ok(());
    }
    Err(StoreError::Invalid(
        problems
            .into_iter()
            .map(|(_, m)| m)
            .collect::<Vec<_>>()
            .join("; "),
    ))
}

impl SqlStore {
    pub(super) async fn save_advisory(
        &self,
        v: &Viewer,
        incident: IncidentId,
        text: AdvisoryText,
    ) -> Result<Advisory> {
        people_only(v)?;
        forbid(v.can_disclose(), NOT_RESPONDER)?;
        check_text(&text)?;
        let mut tx = self.begin().await?;
        let found = load_incident(&mut *tx, v, incident).await?;
        disclosable(&found)?;
        let at = now();
        let before = by_incident(&mut tx, incident).await?;
        let after = match &before {
            Some(a) if a.status == AdvisoryStatus::Published => {
                return Err(StoreError::Conflict(format!(
                    "advisory {} is published: its text no longer changes",
                    a.id
                )));
            }
            Some(a) => {
                let mut q = Sql::new("UPDATE advisories SET title = ");
                q.bind(text.title.clone())
                    .push(", summary = ")
                    .bind(text.summary.clone())
                    .push(", impact = ")
                    .bind(text.impact.clone())
                    .push(", remediation = ")
                    .bind(text.remediation.clone())
                    .push(", author_id = ")
                    .bind(v.user_id.to_string())
                    .push(", updated_at = ")
                    .bind(unix_micros(at))
                    .push(" WHERE id = ")
                    .bind(a.id.to_string());
                exec(&mut *tx, &q).await?;
                Advisory {
                    text,
                    author: v.user_id,
                    updated_at: at,
                    ..a.clone()
                }
            }
            None => {
                let id = next_id(&mut tx, at.year()).await?;
                let mut q = Sql::new(
                    "INSERT INTO advisories (id, year, seq, incident_id, title, summary, impact, remediation, status, author_id, approver_id, created_at, updated_at, published_at) VALUES (",
                );
                q.bind(id.to_string())
                    .push(", ")
                    .bind(i64::from(id.year()))
                    .push(", ")
                    .bind(i64::from(id.seq()))
                    .push(", ")
                    .bind(incident.to_string())
                    .push(", ")
                    .bind(text.title.clone())
                    .push(", ")
                    .bind(text.summary.clone())
                    .push(", ")
                    .bind(text.impact.clone())
                    .push(", ")
                    .bind(text.remediation.clone())
                    .push(", ")
                    .bind(AdvisoryStatus::Draft.as_str())
                    .push(", ")
                    .bind(v.user_id.to_string())
                    .push(", NULL, ")
                    .bind(unix_micros(at))
                    .push(", ")
                    .bind(unix_micros(at))
                    .push(", NULL)");
                exec(&mut *tx, &q).await?;
                mark_incident(&mut tx, incident, Disclosure::Draft).await?;
                Advisory {
                    id,
                    incident_id: incident,
                    text,
                    status: AdvisoryStatus::Draft,
                    author: v.user_id,
                    approver: None,
                    created_at: at,
                    updated_at: at,
                    published_at: None,
                }
            }
        };
        append_audit(
            &mut tx,
            v,
            at,
            Change {
                action: if before.is_some() {
                    "advisory.update"
                } else {
                    "advisory.create"
                },
                entity: "advisory",
                entity_id: after.id.to_string(),
                incident_id: Some(incident),
                related_incident_id: None,
                before: before.as_ref().map_or(serde_json::Value::Null, to_json),
                after: to_json(&after),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    pub(super) async fn approve_advisory(&self, v: &Viewer, id: &AdvisoryId) -> Result<Advisory> {
        people_only(v)?;
        forbid(v.can_disclose(), NOT_RESPONDER)?;
        let mut tx = self.begin().await?;
        let mut q = Sql::new(&format!("SELECT {COLS} FROM advisories a WHERE a.id = "));
        q.bind(id.to_string());
        let before = fetch_opt::<_, AdvisoryRow>(&mut *tx, &q)
            .await?
            .ok_or(StoreError::NotFound("advisory"))?
            .into_domain()?;
        // The incident may have changed since the draft (reopened, made
        // sensitive): the guard is checked again at publication.
        let incident = load_incident(&mut *tx, v, before.incident_id).await?;
        disclosable(&incident)?;
        if before.status == AdvisoryStatus::Published {
            return Err(StoreError::Conflict(format!(
                "advisory {id} is already published"
            )));
        }
        forbid(
            before.author != v.user_id,
            "the author of an advisory cannot approve it: another responder must",
        )?;
        let at = now();
        let mut q = Sql::new("UPDATE advisories SET status = ");
        q.bind(AdvisoryStatus::Published.as_str())
            .push(", approver_id = ")
            .bind(v.user_id.to_string())
            .push(", published_at = ")
            .bind(unix_micros(at))
            .push(", updated_at = ")
            .bind(unix_micros(at))
            .push(" WHERE id = ")
            .bind(id.to_string())
            .push(" AND status = ")
            .bind(AdvisoryStatus::Draft.as_str());
        if exec(&mut *tx, &q).await? == 0 {
            return Err(StoreError::Conflict(format!(
                "advisory {id} is already published"
            )));
        }
        mark_incident(&mut tx, before.incident_id, Disclosure::Published).await?;
        let after = Advisory {
            status: AdvisoryStatus::Published,
            approver: Some(v.user_id),
            published_at: Some(at),
            updated_at: at,
            ..before.clone()
        };
        append_audit(
            &mut tx,
            v,
            at,
            Change {
                action: "advisory.publish",
                entity: "advisory",
                entity_id: id.to_string(),
                incident_id: Some(before.incident_id),
                related_incident_id: None,
                before: to_json(&before),
                after: to_json(&after),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    pub(super) async fn list_advisories(&self, v: &Viewer) -> Result<Vec<Advisory>> {
        people_only(v)?;
        forbid(v.can_disclose(), NOT_RESPONDER)?;
        let mut q = Sql::new(&format!(
            "SELECT {COLS} FROM advisories a ORDER BY a.created_at DESC, a.id DESC LIMIT "
        ));
        q.bind(MAX_LISTED);
        fetch_all::<_, AdvisoryRow>(&self.reader, &q)
            .await?
            .into_iter()
            .map(AdvisoryRow::into_domain)
            .collect()
    }

    pub(super) async fn incident_advisory(
        &self,
        v: &Viewer,
        incident: IncidentId,
    ) -> Result<Option<Advisory>> {
        people_only(v)?;
        forbid(v.can_disclose(), NOT_RESPONDER)?;
        let mut q = Sql::new(&format!(
            "SELECT {COLS} FROM advisories a WHERE a.incident_id = "
        ));
        q.bind(incident.to_string());
        fetch_opt::<_, AdvisoryRow>(&self.reader, &q)
            .await?
            .map(AdvisoryRow::into_domain)
            .transpose()
    }

    pub(super) async fn published_advisories(&self) -> Result<Vec<PublicAdvisory>> {
        let mut q = public_select();
        q.push(" ORDER BY a.published_at DESC, a.id DESC LIMIT ")
            .bind(MAX_LISTED);
        fetch_all::<_, AdvisoryRow>(&self.reader, &q)
            .await?
            .into_iter()
            .map(public)
            .collect()
    }

    pub(super) async fn published_advisory(&self, id: &AdvisoryId) -> Result<PublicAdvisory> {
        let mut q = public_select();
        q.push(" AND a.id = ").bind(id.to_string());
        let row = fetch_opt::<_, AdvisoryRow>(&self.reader, &q)
            .await?
            .ok_or(StoreError::NotFound("advisory"))?;
        public(row)
    }
}

/// Published advisories of incidents that are not sensitive.
fn public_select() -> Sql {
    let mut q = Sql::new(&format!(
        "SELECT {COLS} FROM advisories a JOIN incidents i ON i.id = a.incident_id WHERE a.status = "
    ));
    q.bind(AdvisoryStatus::Published.as_str())
        .push(" AND i.sensitive = 0");
    q
}

/// Only the public fields of a published row.
fn public(row: AdvisoryRow) -> Result<PublicAdvisory> {
    let a = row.into_domain()?;
    Ok(PublicAdvisory {
        id: a.id,
        text: a.text,
        published_at: a
            .published_at
            .ok_or_else(|| StoreError::Corrupt("published advisory without a date".into()))?,
        updated_at: a.updated_at,
    })
}
