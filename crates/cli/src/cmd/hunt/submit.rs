//! `hunt --submit URL --token T`: a hunt's detections sent to a server as
//! alerts (`POST /api/v1/alerts`), with the keys live detection gives them
//! (`server::ingest::alerts`: rule, entities and time bucket; an event's
//! identity is its file and record), so an analyst can file what an
//! archive shows and sending twice stores nothing twice.

use detect::{Detection, Level};
use serde_json::json;

use super::super::report::{ApiArgs, ApiClient};
use crate::term;

/// Alerts per request (the most `POST /api/v1/alerts` takes).
const CHUNK: usize = 500;

/// What the server made of the submitted detections.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Submitted {
    /// Alerts stored.
    pub stored: usize,
    /// Alerts the server already had (same key).
    pub duplicates: usize,
    /// Alerts that opened or joined an incident.
    pub in_incidents: usize,
}

/// The alert sent for a detection: its evidence is where it was found and
/// its key fields.
fn alert(d: &Detection, incident_level: Level) -> web::types::NewAlertRequest {
    let evidence = json!({
        "source": &*d.file,
        "record": d.record,
        "fields": d.fields,
    });
    // A hunt's events are identified by file and record, so the same hunt
    // submitted twice gives the same keys.
    let identity = format!("{}\u{1f}{}", &*d.file, d.record);
    let a = server::ingest::alerts::new_alert(
        d,
        identity.as_bytes(),
        evidence,
        incident_level,
        time::OffsetDateTime::now_utc(),
    );
    web::types::NewAlertRequest {
        rule_id: a.rule_id,
        rule_title: a.rule_title,
        level: a.level,
        entities: a.entities,
        evidence: a.evidence,
        policy: a.policy,
        detected_at: a.detected_at,
        key: a.key,
        queue_only: a.queue_only,
        group: a.group,
    }
}

/// Sends `detections` to the server in chunks; stops at the first refusal.
pub fn submit(
    server: &str,
    token: &str,
    detections: impl Iterator<Item = Result<Detection, String>>,
    incident_level: Level,
) -> anyhow::Result<Submitted> {
    let client = ApiClient::new(&ApiArgs {
        server: server.to_owned(),
        token: token.to_owned(),
    })?;
    let mut out = Submitted::default();
    let mut chunk = Vec::with_capacity(CHUNK);
    let mut send = |chunk: &mut Vec<web::types::NewAlertRequest>| -> anyhow::Result<()> {
        if chunk.is_empty() {
            return Ok(());
        }
        let body = web::types::NewAlertsRequest {
            alerts: std::mem::take(chunk),
        };
        let answer: web::types::AlertOutcomesResponse =
            client.block_on(client.post("/api/v1/alerts", &body))?;
        for o in answer.outcomes {
            if o.duplicate {
                out.duplicates += 1;
            } else {
                out.stored += 1;
            }
            if o.incident_id.is_some() {
                out.in_incidents += 1;
            }
        }
        Ok(())
    };
    for d in detections {
        let d = d.map_err(|e| anyhow::anyhow!("cannot read back a detection: {e}"))?;
        chunk.push(alert(&d, incident_level));
        if chunk.len() == CHUNK {
            send(&mut chunk)?;
        }
    }
    send(&mut chunk)?;
    eprintln!(
        "submitted to {}: {} alerts stored, {} already there, {} in incidents",
        term::line(server),
        out.stored,
        out.duplicates,
        out.in_incidents
    );
    Ok(out)
}
