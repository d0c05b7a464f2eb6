//! Conformance cases for SLA escalations (`record_sla_escalation`,
//! `list_sla_escalations`, `count_sla_escalations`) and incident sources
//! (`incident_sources`), on both databases. Times are fixed and passed in;
//! expected values are written out here.

use super::common::{self, Ctx, cast, report};
use super::incidents::{self, *};
use super::sys;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

/// The overdue acknowledge clock of an incident reported at `reported`.
fn overdue_ack(reported: OffsetDateTime) -> ClockStatus {
    ClockStatus {
        clock: SlaClock::Acknowledge,
        target: SlaDuration::Minutes(15),
        started_at: reported,
        due: reported + Duration::minutes(15),
        stopped_at: None,
        state: ClockState::Breached,
    }
}

fn sla_kinds(messages: &[OutboxMessage]) -> Vec<(OutboxKind, Option<IncidentId>)> {
    messages
        .iter()
        .filter(|m| matches!(m.kind, OutboxKind::SlaBreached | OutboxKind::SlaEscalated))
        .map(|m| (m.kind, m.incident_id))
        .collect()
}

mod cases {
    use super::*;

    pub async fn each_escalation_step_is_taken_once(ctx: &Ctx) {
        let s = &*ctx.store;
        let c = cast(s).await;
        let reported = datetime!(2026-11-02 10:00 UTC);
        let plain = s
            .create_incident(
                &sys(),
                NewIncident {
                    title: "ransomware note on a share".into(),
                    description: String::new(),
                    category: Category::SecurityIncident,
                    severity: Severity::Sev1,
                    sensitive: false,
                    occurred_at: None,
                    detected_at: None,
                    reported_at: Some(reported),
                },
            )
            .await
            .unwrap();
        let secret = s
            .file_report(
                &c.reporter_a,
                report(Category::Harassment, false, "remarks"),
            )
            .await
            .unwrap()
            .incident_id;
        let clock = overdue_ack(reported);
        let at = datetime!(2026-11-02 10:16 UTC);

        // Only the system escalates.
        for who in [c.responder, c.admin, c.finance, c.reporter_a] {
            assert!(matches!(
                s.record_sla_escalation(&who, plain.id, &clock, EscalationStep::Breached, at)
                    .await,
                Err(StoreError::Forbidden(_))
            ));
        }

        // The first time: recorded, one notice, one audit entry.
        let audit_before = s.list_audit(&sys(), 0, 1000).await.unwrap().len();
        assert!(
            s.record_sla_escalation(&sys(), plain.id, &clock, EscalationStep::Breached, at)
                .await
                .unwrap()
        );
        // Again (a second check, or after a restart): nothing.
        assert!(
            !s.record_sla_escalation(
                &sys(),
                plain.id,
                &clock,
                EscalationStep::Breached,
                at + Duration::minutes(1)
            )
            .await
            .unwrap()
        );
        // Two at once: one wins.
        let system = sys();
        let (x, y) = tokio::join!(
            s.record_sla_escalation(&system, plain.id, &clock, EscalationStep::Escalated, at),
            s.record_sla_escalation(&system, plain.id, &clock, EscalationStep::Escalated, at),
        );
        assert_eq!(
            [x.unwrap(), y.unwrap()].iter().filter(|won| **won).count(),
            1
        );
        // The sensitive incident's breach.
        assert!(
            s.record_sla_escalation(&sys(), secret, &clock, EscalationStep::Breached, at)
                .await
                .unwrap()
        );

        let outbox = s.list_outbox(&sys(), None).await.unwrap();
        assert_eq!(
            sla_kinds(&outbox),
            [
                (OutboxKind::SlaBreached, Some(plain.id)),
                (OutboxKind::SlaEscalated, Some(plain.id)),
                (OutboxKind::SlaBreached, Some(secret)),
            ]
        );
        let breached = outbox
            .iter()
            .find(|m| m.kind == OutboxKind::SlaBreached && m.incident_id == Some(plain.id))
            .unwrap();
        assert_eq!(breached.payload.action(), "sla.breached");
        assert_eq!(
            breached.payload.change(),
            "SLA breached: the acknowledge clock (15m) was due 2026-11-02T10:15:00Z"
        );
        let audit = s.list_audit(&sys(), 0, 1000).await.unwrap();
        let actions: Vec<&str> = audit[audit_before..]
            .iter()
            .map(|e| e.action.as_str())
            .collect();
        assert_eq!(actions, ["sla.breached", "sla.escalated", "sla.breached"]);
        assert!(s.verify_audit(&sys()).await.unwrap().is_ok());

        // Read back: the staff who see the incident see its steps; an
        // admin does not see the sensitive one's; a reporter reads none.
        let steps = |v: Vec<SlaEscalation>| -> Vec<(IncidentId, SlaClock, EscalationStep)> {
            v.into_iter()
                .map(|e| (e.incident_id, e.clock, e.step))
                .collect()
        };
        assert_eq!(
            steps(s.list_sla_escalations(&c.responder, None).await.unwrap()),
            [
                (plain.id, SlaClock::Acknowledge, EscalationStep::Breached),
                (plain.id, SlaClock::Acknowledge, EscalationStep::Escalated),
                (secret, SlaClock::Acknowledge, EscalationStep::Breached),
            ]
        );
        assert_eq!(
            steps(s.list_sla_escalations(&c.admin, None).await.unwrap()),
            [
                (plain.id, SlaClock::Acknowledge, EscalationStep::Breached),
                (plain.id, SlaClock::Acknowledge, EscalationStep::Escalated),
            ]
        );
        let first = s
            .list_sla_escalations(&c.finance, Some(secret))
            .await
            .unwrap();
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].due, datetime!(2026-11-02 10:15 UTC));
        assert_eq!(first[0].at, at);
        assert!(matches!(
            s.list_sla_escalations(&c.reporter_a, None).await,
            Err(StoreError::Forbidden(_))
        ));
        let counts = |v: Vec<EscalationCount>| -> Vec<(SlaClock, EscalationStep, i64)> {
            v.into_iter().map(|e| (e.clock, e.step, e.count)).collect()
        };
        assert_eq!(
            counts(s.count_sla_escalations(&c.finance).await.unwrap()),
            [
                (SlaClock::Acknowledge, EscalationStep::Breached, 2),
                (SlaClock::Acknowledge, EscalationStep::Escalated, 1),
            ]
        );
        assert_eq!(
            counts(s.count_sla_escalations(&c.admin).await.unwrap()),
            [
                (SlaClock::Acknowledge, EscalationStep::Breached, 1),
                (SlaClock::Acknowledge, EscalationStep::Escalated, 1),
            ]
        );
        assert!(matches!(
            s.count_sla_escalations(&c.reporter_a).await,
            Err(StoreError::Forbidden(_))
        ));
    }

    pub async fn incident_sources_name_report_channels_and_detections(ctx: &Ctx) {
        let s = &*ctx.store;
        let c = cast(s).await;
        let mut third = report(Category::Theft, false, "your laptop is for sale");
        third.channel = Channel::ThirdParty;
        third.anonymous = true;
        let third = s.file_report(&sys(), third).await.unwrap().incident_id;
        let web = s
            .file_report(&c.reporter_a, report(Category::Theft, false, "mug gone"))
            .await
            .unwrap()
            .incident_id;
        let mut email = report(Category::Theft, false, "mug gone, again");
        email.channel = Channel::Email;
        let email = s.file_report(&c.reporter_b, email).await.unwrap();
        s.link_report(&sys(), web, email.id).await.unwrap();
        let secret = s
            .file_report(
                &c.reporter_b,
                report(Category::Harassment, false, "remarks"),
            )
            .await
            .unwrap()
            .incident_id;
        let by_hand = s
            .create_incident(
                &sys(),
                NewIncident {
                    title: "by hand".into(),
                    description: String::new(),
                    category: Category::Other,
                    severity: Severity::Sev4,
                    sensitive: false,
                    occurred_at: None,
                    detected_at: None,
                    reported_at: None,
                },
            )
            .await
            .unwrap()
            .id;
        let ids = [by_hand, web, third, secret];
        let answer = s.incident_sources(&c.responder, &ids).await.unwrap();
        assert_eq!(
            answer,
            [
                (by_hand, vec![]),
                (web, vec![Source::Web, Source::Email]),
                (third, vec![Source::ThirdParty]),
                (secret, vec![Source::Web]),
            ]
        );
        // An admin does not see the sensitive incident: it is left out.
        let answer = s.incident_sources(&c.admin, &ids).await.unwrap();
        assert_eq!(
            answer.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
            [by_hand, web, third]
        );
        assert!(matches!(
            s.incident_sources(&c.reporter_a, &ids).await,
            Err(StoreError::Forbidden(_))
        ));
        assert_eq!(s.incident_sources(&c.responder, &[]).await.unwrap(), []);
    }
}

crate::on_both_databases!(
    each_escalation_step_is_taken_once,
    incident_sources_name_report_channels_and_detections,
);
