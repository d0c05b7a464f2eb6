//! SLA clocks as the API and the pages show them: each incident's clocks
//! evaluated with the configured policy ([`crate::state::AppState::sla`])
//! at the time of the request, for staff only (a reporter's answers carry
//! no SLA and the overdue filter is not theirs), and the overdue filter
//! (incidents with a clock running past its deadline).
//!
//! Must not: read incidents other than through the store as the caller's
//! viewer, or decide access itself beyond "staff or not".

use incidents::{
    Incident, IncidentFilter, IncidentId, IncidentSla, PageRequest, SlaPolicy, Status, Store,
    StoreError, Viewer,
};
use time::OffsetDateTime;

/// The most overdue incidents the overdue filter collects.
pub(crate) const MAX_OVERDUE: usize = 5000;

/// Open incidents read per page while looking for overdue ones.
const PAGE: u32 = 500;

/// The SLA of each of `incidents` at `now`, in order, for a staff
/// `viewer`; `None` for anyone else.
pub(crate) async fn evaluate(
    store: &dyn Store,
    policy: &SlaPolicy,
    viewer: &Viewer,
    incidents: &[Incident],
    now: OffsetDateTime,
) -> Result<Option<Vec<IncidentSla>>, StoreError> {
    if !viewer.is_staff() {
        return Ok(None);
    }
    let ids: Vec<IncidentId> = incidents.iter().map(|i| i.id).collect();
    let sources = store.incident_sources(viewer, &ids).await?;
    Ok(Some(
        incidents
            .iter()
            .map(|i| {
                let from = sources
                    .iter()
                    .find(|(id, _)| *id == i.id)
                    .map(|(_, s)| s.as_slice())
                    .unwrap_or_default();
                policy.evaluate(i, from, now)
            })
            .collect(),
    ))
}

/// The incidents matching `filter` (its open ones) that have a clock
/// running past its deadline at `now`, newest first, at most
/// [`MAX_OVERDUE`]. Staff only (`Forbidden` otherwise).
pub(crate) async fn overdue_ids(
    store: &dyn Store,
    policy: &SlaPolicy,
    viewer: &Viewer,
    filter: &IncidentFilter,
    now: OffsetDateTime,
) -> Result<Vec<IncidentId>, StoreError> {
    if !viewer.is_staff() {
        return Err(StoreError::Forbidden("only staff see SLA clocks"));
    }
    let mut open = filter.clone();
    open.status = if filter.status.is_empty() {
        Status::ALL
            .iter()
            .copied()
            .filter(|s| s.is_open())
            .collect()
    } else {
        filter
            .status
            .iter()
            .copied()
            .filter(|s| s.is_open())
            .collect()
    };
    let mut found = Vec::new();
    if open.status.is_empty() {
        return Ok(found);
    }
    let mut cursor = None;
    loop {
        let page = store
            .list_incidents(
                viewer,
                &open,
                &PageRequest {
                    limit: Some(PAGE),
                    cursor: cursor.take(),
                },
            )
            .await?;
        let slas = evaluate(store, policy, viewer, &page.items, now)
            .await?
            .unwrap_or_default();
        for (incident, sla) in page.items.iter().zip(slas) {
            if sla.is_overdue() && found.len() < MAX_OVERDUE {
                found.push(incident.id);
            }
        }
        match page.next_cursor {
            Some(next) if found.len() < MAX_OVERDUE => cursor = Some(next),
            _ => break,
        }
    }
    Ok(found)
}

/// The SLA metrics in the Prometheus text format, over what `viewer`
/// sees: `watchpost_sla_breaches_total` (step 1 escalations, by clock),
/// `watchpost_sla_escalations_total` (by step, 1 and 2) and
/// `watchpost_incidents_overdue` (incidents with a clock running past its
/// deadline at `now`). Empty for a viewer who is not staff.
pub(crate) async fn prometheus(
    store: &dyn Store,
    policy: &SlaPolicy,
    viewer: &Viewer,
    now: OffsetDateTime,
) -> Result<String, StoreError> {
    use std::fmt::Write as _;
    if !viewer.is_staff() {
        return Ok(String::new());
    }
    let counts = store.count_sla_escalations(viewer).await?;
    let overdue = overdue_ids(store, policy, viewer, &IncidentFilter::default(), now).await?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP watchpost_sla_breaches_total SLA clocks that ran past their deadline (escalation step 1), by clock."
    );
    let _ = writeln!(out, "# TYPE watchpost_sla_breaches_total counter");
    for clock in incidents::SlaClock::ALL {
        let n: i64 = counts
            .iter()
            .filter(|c| c.clock == clock && c.step == incidents::EscalationStep::Breached)
            .map(|c| c.count)
            .sum();
        let _ = writeln!(
            out,
            "watchpost_sla_breaches_total{{clock=\"{}\"}} {n}",
            clock.as_str()
        );
    }
    let _ = writeln!(
        out,
        "# HELP watchpost_sla_escalations_total SLA escalation steps taken (1: Security Team, 2: second contact), by step."
    );
    let _ = writeln!(out, "# TYPE watchpost_sla_escalations_total counter");
    for step in incidents::EscalationStep::ALL {
        let n: i64 = counts
            .iter()
            .filter(|c| c.step == step)
            .map(|c| c.count)
            .sum();
        let _ = writeln!(
            out,
            "watchpost_sla_escalations_total{{step=\"{}\"}} {n}",
            step.number()
        );
    }
    let _ = writeln!(
        out,
        "# HELP watchpost_incidents_overdue Open incidents with an SLA clock running past its deadline."
    );
    let _ = writeln!(out, "# TYPE watchpost_incidents_overdue gauge");
    let _ = writeln!(out, "watchpost_incidents_overdue {}", overdue.len());
    Ok(out)
}
