//! Incidents: the incident response domain (reports, alerts, incidents,
//! tasks, timeline, impact, audit trail) and the `Store` that keeps it.
