//! The store conformance suite: every case runs against SQLite (temp dir)
//! and real PostgreSQL (a fresh database per test, from
//! `WATCHPOST_TEST_PG_URL`).

use watchpost_incidents as incidents;

mod common;

use std::collections::BTreeMap;

use common::{Cast, Ctx, cast, report, user};
use incidents::*;
use time::{Duration, OffsetDateTime};

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn manual(title: &str, severity: Severity) -> NewIncident {
    NewIncident {
        title: title.into(),
        description: format!("{title} description"),
        category: Category::SecurityIncident,
        severity,
        sensitive: false,
        occurred_at: None,
        detected_at: None,
        reported_at: None,
    }
}

fn impact() -> Impact {
    Impact {
        confidentiality: ImpactLevel::Low,
        integrity: ImpactLevel::None,
        availability: ImpactLevel::Medium,
        affected_assets: vec!["web-1".into()],
        affected_users: vec![],
        affected_data: vec![],
        summary: "limited".into(),
    }
}

fn alert(rule: &str, user: &str, at: OffsetDateTime) -> NewAlert {
    NewAlert {
        rule_id: rule.into(),
        rule_title: format!("Rule {rule}"),
        level: AlertLevel::High,
        entities: BTreeMap::from([("user".to_owned(), user.to_owned())]),
        evidence: vec![serde_json::json!({"EventID": 4625, "user": user})],
        policy: Some("brute_force".into()),
        detected_at: at,
        key: None,
        queue_only: false,
        group: None,
    }
}

fn sys() -> Viewer {
    Viewer::system()
}

async fn all_audit(store: &dyn Store, v: &Viewer) -> Vec<AuditEntry> {
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let page = store.list_audit(v, after, 1000).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.seq;
        out.extend(page);
    }
    out
}

/// Drives a fresh incident into `status` through legal moves.
async fn incident_in(store: &dyn Store, v: &Viewer, status: Status) -> IncidentId {
    let i = store
        .create_incident(v, manual("lifecycle", Severity::Sev3))
        .await
        .unwrap();
    match status {
        Status::Triage => {}
        Status::Closed => {
            store
                .close_incident(v, i.id, Resolution::FalsePositive, Some(impact()), None)
                .await
                .unwrap();
        }
        Status::Merged => {
            let t = store
                .create_incident(v, manual("target", Severity::Sev3))
                .await
                .unwrap();
            store.merge_incidents(v, i.id, t.id).await.unwrap();
        }
        s => {
            store.transition_incident(v, i.id, s, None).await.unwrap();
        }
    }
    i.id
}

/// One number from raw SQL on the store's database (counting rows by hand).
async fn raw_count(ctx: &Ctx, sql: &str) -> i64 {
    let pool = ctx.raw().await;
    let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(&pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    pool.close().await;
    n
}

mod cases {
    use super::*;

    pub async fn migration_from_empty(ctx: &Ctx) {
        let s = &*ctx.store;
        assert_eq!(s.count_users(&sys()).await.unwrap(), 0);
        let r = s.verify_audit(&sys()).await.unwrap();
        assert_eq!(
            r,
            AuditReport {
                entries: 0,
                fault: None
            }
        );
        let pool = ctx.raw().await;
        let (n,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM _sqlx_migrations WHERE success = TRUE")
                .fetch_one(&pool)
                .await
                .unwrap();
        let files = std::fs::read_dir(format!(
            "{}/migrations/{}",
            env!("CARGO_MANIFEST_DIR"),
            if ctx.url.starts_with("sqlite") {
                "sqlite"
            } else {
                "postgres"
            }
        ))
        .unwrap()
        .count() as i64;
        assert_eq!(n, files, "every migration applied once");
        pool.close().await;
        // Reopening runs no migration twice and keeps data.
        user(s, "first", Role::Admin).await;
        let again = incidents::open_with(
            &ctx.url,
            StoreOptions {
                data_dir: Some(ctx.dir.path().to_owned()),
                ..StoreOptions::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(again.count_users(&sys()).await.unwrap(), 1);
    }

    pub async fn every_lifecycle_move(ctx: &Ctx) {
        let s = &*ctx.store;
        let c = cast(s).await;
        let v = &c.responder;
        for &from in Status::ALL {
            for &to in Status::ALL {
                let id = incident_in(s, v, from).await;
                // Satisfy closing preconditions so the graph alone decides.
                if from.is_open() {
                    s.set_impact(v, id, impact()).await.unwrap();
                    s.set_resolution(v, id, Resolution::TruePositiveNoImpact)
                        .await
                        .unwrap();
                }
                let r = s.transition_incident(v, id, to, None).await;
                let legal = Incident::can_move(from, to);
                assert_eq!(r.is_ok(), legal, "{from} -> {to}: {r:?}");
                let now = s.get_incident(v, id).await.unwrap().incident.status;
                assert_eq!(now, if legal { to } else { from }, "{from} -> {to}");
                if !legal {
                    assert!(
                        matches!(r, Err(StoreError::Domain(_))),
                        "{from} -> {to}: {r:?}"
                    );
                }
            }
        }
    }

    pub async fn closing_requires_impact_and_resolution(ctx: &Ctx) {
        let s = &*ctx.store;
        let c = cast(s).await;
        let v = &c.responder;
        let i = s
            .create_incident(v, manual("close me", Severity::Sev2))
            .await
            .unwrap();
        let e = s
            .transition_incident(v, i.id, Status::Closed, None)
            .await
            .unwrap_err();
        assert!(
            matches!(e, StoreError::Domain(DomainError::CloseRequiresImpact)),
            "{e}"
        );
        s.set_impact(v, i.id, impact()).await.unwrap();
        let e = s
            .transition_incident(v, i.id, Status::Closed, None)
            .await
            .unwrap_err();
        assert!(
            matches!(e, StoreError::Domain(DomainError::CloseRequiresResolution)),
            "{e}"
        );
        // close_incident without impact on an incident lacking one is refused
        // atomically (resolution not written).
        let j = s
            .create_incident(v, manual("other", Severity::Sev2))
            .await
            .unwrap();
        let e = s
            .close_incident(v, j.id, Resolution::Duplicate, None, None)
            .await
            .unwrap_err();
        assert!(
            matches!(e, StoreError::Domain(DomainError::CloseRequiresImpact)),
            "{e}"
        );
        assert_eq!(
            s.get_incident(v, j.id).await.unwrap().incident.resolution,
            None
        );
        let closed = s
            .close_incident(v, i.id, Resolution::TruePositiveImpact, None, None)
            .await
            .unwrap();
        assert_eq!(closed.status, Status::Closed);
        assert!(closed.times.closed_at.is_some() && closed.times.resolved_at.is_some());
        let e = s.set_impact(v, i.id, impact()).await.unwrap_err();
        assert!(
            matches!(e, StoreError::Domain(DomainError::Terminal(Status::Closed))),
            "{e}"
        );
    }

    pub async fn backdating_never_gives_negative_metrics(ctx: &Ctx) {
        let s = &*ctx.store;
        let c = cast(s).await;
        let v = &c.responder;
        let t = now();
        let mut new = manual("backdated", Severity::Sev1);
        new.reported_at = Some(t - Duration::days(10));
        new.occurred_at = Some(t - Duration::days(30));
        let i = s.create_incident(v, new).await.unwrap();
        // Acknowledging before it was reported is refused.
        let e = s
            .transition_incident(v, i.id, Status::Investigating, Some(t - Duration::days(20)))
            .await
            .unwrap_err();
        assert!(
            matches!(e, StoreError::Domain(DomainError::TimeOrder { .. })),
            "{e}"
        );
        s.transition_incident(v, i.id, Status::Investigating, Some(t - Duration::days(9)))
            .await
            .unwrap();
        // A later phase can't be dated before the acknowledgement either.
        let e = s
            .transition_incident(
                v,
                i.id,
                Status::Recovered,
                Some(t - Duration::days(9) - Duration::hours(1)),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(e, StoreError::Domain(DomainError::TimeOrder { .. })),
            "{e}"
        );
        s.transition_incident(v, i.id, Status::Recovered, Some(t - Duration::days(8)))
            .await
            .unwrap();
        // A future time is refused.
        let e = s
            .close_incident(
                v,
                i.id,
                Resolution::FalsePositive,
                Some(impact()),
                Some(t + Duration::days(1)),
            )
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::Invalid(_)), "{e}");
        // A report about something that happened long ago.
        let mut old = report(Category::Theft, false, "laptop stolen last year");
        old.occurred_at = Some(t - Duration::days(400));
        let r = s.file_report(&c.reporter_a, old).await.unwrap();
        s.transition_incident(v, r.incident_id, Status::Investigating, None)
            .await
            .unwrap();
        // A row edited behind the store's back (acknowledged before reported).
        let j = s
            .create_incident(v, manual("edited", Severity::Sev4))
            .await
            .unwrap();
        s.transition_incident(v, j.id, Status::Investigating, None)
            .await
            .unwrap();
        ctx.raw_exec(&format!(
            "UPDATE incidents SET acknowledged_at = reported_at - 3600000000 WHERE id = '{}'",
            j.id
        ))
        .await;
        let m = s
            .metrics(
                v,
                MetricsQuery {
                    from: t - Duration::days(30),
                    to: t + Duration::days(1),
                },
            )
            .await
            .unwrap();
        let sev1 = m.by_severity.iter().find(|r| r.key == "SEV1").unwrap();
        assert_eq!(sev1.count, 1);
        assert_eq!(sev1.tta_mean_secs, Some(86_400.0), "TTA = 1 day");
        assert_eq!(sev1.ttr_mean_secs, Some(2.0 * 86_400.0), "TTR = 2 days");
        for row in m.by_severity.iter().chain(&m.by_category).chain([&m.total]) {
            for x in [
                row.tta_mean_secs,
                row.tta_p50_secs,
                row.ttr_mean_secs,
                row.ttr_p50_secs,
            ]
            .into_iter()
            .flatten()
            {
                assert!(x >= 0.0, "negative duration in {row:?}");
            }
        }
        let sev4 = m.by_severity.iter().find(|r| r.key == "SEV4").unwrap();
        assert_eq!(sev4.tta_mean_secs, Some(0.0), "clamped, not negative");
    }

    pub async fn alerts_group_within_window(ctx: &Ctx) {
        let s = &*ctx.store;
        let v = &cast(s).await.responder;
        let t = now() - Duration::days(1);
        let a = s.ingest_alert(v, alert("r1", "bob", t)).await.unwrap();
        assert_eq!(a.disposition, AlertDisposition::Opened);
        let b = s
            .ingest_alert(v, alert("r1", "bob", t + Duration::minutes(30)))
            .await
            .unwrap();
        let c = s
            .ingest_alert(v, alert("r1", "bob", t + Duration::minutes(80)))
            .await
            .unwrap();
        assert_eq!(b.disposition, AlertDisposition::Grouped);
        assert_eq!(
            c.disposition,
            AlertDisposition::Grouped,
            "window counts from the last alert"
        );
        assert_eq!(b.incident_id, a.incident_id);
        assert_eq!(c.incident_id, a.incident_id);
        let iid = a.incident_id.unwrap();
        let d = s.get_incident(v, iid).await.unwrap();
        assert_eq!(d.incident.alert_count, 3);
        assert_eq!(d.alerts.len(), 3);
        assert_eq!(d.incident.severity, Severity::Sev2);
        // Other entity, other rule: new incidents.
        let e = s.ingest_alert(v, alert("r1", "carol", t)).await.unwrap();
        let f = s.ingest_alert(v, alert("r2", "bob", t)).await.unwrap();
        assert_eq!(e.disposition, AlertDisposition::Opened);
        assert_eq!(f.disposition, AlertDisposition::Opened);
        assert_ne!(e.incident_id, a.incident_id);
        assert_ne!(f.incident_id, a.incident_id);
        // Outside the window: new incident.
        let g = s
            .ingest_alert(v, alert("r1", "bob", t + Duration::minutes(200)))
            .await
            .unwrap();
        assert_eq!(g.disposition, AlertDisposition::Opened);
        // A closed incident no longer takes alerts.
        s.close_incident(
            v,
            g.incident_id.unwrap(),
            Resolution::FalsePositive,
            Some(impact()),
            None,
        )
        .await
        .unwrap();
        let h = s
            .ingest_alert(v, alert("r1", "bob", t + Duration::minutes(201)))
            .await
            .unwrap();
        assert_eq!(h.disposition, AlertDisposition::Opened);
        assert_ne!(h.incident_id, g.incident_id);
        let n = s
            .count_incidents(v, &IncidentFilter::default())
            .await
            .unwrap();
        assert_eq!(n, 5);
        // Dismissing a grouped alert lowers the count.
        s.dismiss_alert(v, b.alert_id, "noise").await.unwrap();
        assert_eq!(
            s.get_incident(v, iid).await.unwrap().incident.alert_count,
            2
        );
        let custom = StoreOptions {
            group_window: Duration::minutes(5),
            ..StoreOptions::default()
        };
        assert_eq!(custom.group_window, Duration::minutes(5));
    }

    pub async fn suppression_rules(ctx: &Ctx) {
        let s = &*ctx.store;
        let c = cast(s).await;
        let v = &c.responder;
        let t = now();
        let rule = s
            .create_suppression(
                v,
                NewSuppression {
                    rule_id: "r1".into(),
                    entities: BTreeMap::from([("user".to_owned(), "svc-backup".to_owned())]),
                    reason: "known job".into(),
                    expires_at: Some(t + Duration::days(1)),
                },
            )
            .await
            .unwrap();
        s.create_suppression(
            v,
            NewSuppression {
                rule_id: "r2".into(),
                entities: BTreeMap::new(),
                reason: "expired".into(),
                expires_at: Some(t - Duration::minutes(1)),
            },
        )
        .await
        .unwrap();
        let before = s
            .count_incidents(v, &IncidentFilter::default())
            .await
            .unwrap();
        let a = s
            .ingest_alert(v, alert("r1", "svc-backup", t))
            .await
            .unwrap();
        assert_eq!(a.disposition, AlertDisposition::Suppressed);
        assert_eq!(a.incident_id, None);
        assert_eq!(
            s.count_incidents(v, &IncidentFilter::default())
                .await
                .unwrap(),
            before
        );
        let stored = s.get_alert(v, a.alert_id).await.unwrap();
        assert_eq!(stored.suppressed_by, Some(rule.id));
        let b = s.ingest_alert(v, alert("r1", "alice", t)).await.unwrap();
        assert_eq!(
            b.disposition,
            AlertDisposition::Opened,
            "entity does not match"
        );
        let e = s.ingest_alert(v, alert("r2", "alice", t)).await.unwrap();
        assert_eq!(e.disposition, AlertDisposition::Opened, "expired rule");
        let listed = s
            .list_alerts(
                v,
                &AlertFilter {
                    disposition: Some(AlertDisposition::Suppressed),
                    ..Default::default()
                },
                &PageRequest::first(50),
            )
            .await
            .unwrap();
        assert_eq!(
            listed.items.iter().map(|a| a.id).collect::<Vec<_>>(),
            vec![a.alert_id]
        );
        // Promote the suppressed alert into an incident.
        let inc = s.promote_alert(v, a.alert_id).await.unwrap();
        assert_eq!(
            s.get_alert(v, a.alert_id).await.unwrap().incident_id,
            Some(inc.id)
        );
        assert!(matches!(
            s.promote_alert(v, a.alert_id).await,
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(s.list_suppressions(v).await.unwrap().len(), 2);
        s.delete_suppression(v, rule.id).await.unwrap();
        let again = s
            .ingest_alert(v, alert("r1", "svc-backup", t + Duration::hours(3)))
            .await
            .unwrap();
        assert_ne!(again.disposition, AlertDisposition::Suppressed);
        // Oversized evidence is refused with a clear error, nothing stored.
        let mut huge = alert("r3", "x", t);
        huge.evidence = vec![serde_json::json!({ "blob": "a".repeat(2 * 1024 * 1024) })];
        let e = s.ingest_alert(v, huge).await.unwrap_err();
        assert!(
            matches!(&e, StoreError::Invalid(m) if m.contains("evidence")),
            "{e}"
        );
        // Reporters can't ingest or see alerts.
        assert!(matches!(
            s.ingest_alert(&c.reporter_a, alert("r9", "x", t)).await,
            Err(StoreError::Forbidden(_))
        ));
        assert!(matches!(
            s.get_alert(&c.reporter_a, b.alert_id).await,
            Err(StoreError::NotFound(_))
        ));
    }

    pub async fn manual_merge_moves_links(ctx: &Ctx) {
        let s = &*ctx.store;
        let c = cast(s).await;
        let v = &c.responder;
        let r1 = s
            .file_report(&c.reporter_a, report(Category::Theft, false, "bike gone"))
            .await
            .unwrap();
        let r2 = s
            .file_report(
                &c.reporter_b,
                report(Category::Harassment, false, "messages"),
            )
            .await
            .unwrap();
        let t = now();
        let al = s.ingest_alert(v, alert("r1", "bob", t)).await.unwrap();
        let opened = al.incident_id.expect("a first alert opens an incident");
        let before_link = s.get_incident(v, opened).await.unwrap().incident;
        assert_eq!(before_link.alert_count, 1);
        s.link_alert(v, r1.incident_id, al.alert_id).await.unwrap();
        // The incident the alert left counts one alert fewer and shows the change.
        let left = s.get_incident(v, opened).await.unwrap().incident;
        assert_eq!(left.alert_count, 0);
        assert!(left.updated_at > before_link.updated_at);
        s.add_participant(v, r2.incident_id, c.admin.user_id)
            .await
            .unwrap();
        let target = s
            .merge_incidents(v, r2.incident_id, r1.incident_id)
            .await
            .unwrap();
        assert!(
            target.sensitive,
            "a sensitive source makes the target sensitive"
        );
        assert_eq!(target.alert_count, 1);
        let src = s.get_incident(v, r2.incident_id).await.unwrap().incident;
        assert_eq!(src.status, Status::Merged);
        assert_eq!(src.merged_into, Some(r1.incident_id));
        let d = s.get_incident(v, r1.incident_id).await.unwrap();
        let mut ids: Vec<_> = d.reports.iter().map(|r| r.id).collect();
        ids.sort();
        let mut want = vec![r1.id, r2.id];
        want.sort();
        assert_eq!(ids, want);
        assert!(
            !d.participants.contains(&c.admin.user_id),
            "participants never follow a merge into a sensitive target"
        );
        assert_eq!(
            s.get_report(&c.reporter_b, r2.id)
                .await
                .unwrap()
                .incident_id,
            r1.incident_id
        );
        // Merged is terminal; merging into a merged or into itself is refused.
        assert!(matches!(
            s.transition_incident(v, r2.incident_id, Status::Investigating, None)
                .await,
            Err(StoreError::Domain(DomainError::Terminal(Status::Merged)))
        ));
        let x = s
            .create_incident(v, manual("x", Severity::Sev4))
            .await
            .unwrap();
        assert!(matches!(
            s.merge_incidents(v, x.id, r2.incident_id).await,
            Err(StoreError::Domain(_))
        ));
        assert!(matches!(
            s.merge_incidents(v, x.id, x.id).await,
            Err(StoreError::Domain(_))
        ));
        let empty_alert_count = s
            .get_incident(v, r2.incident_id)
            .await
            .unwrap()
            .incident
            .alert_count;
        assert_eq!(empty_alert_count, 0);
    }

    /// The need-to-know scenario: a sensitive harassment report by reporter
    /// A, checked for every role on get, list, search, count, metrics,
    /// reports, alerts and audit.
    pub async fn sensitive_visibility_per_role(ctx: &Ctx) {
        let s = &*ctx.store;
        let c = cast(s).await;
        let t0 = now() - Duration::seconds(5);
        let mut secret = report(
            Category::Harassment,
            false,
            "zebracorn remarks by a manager",
        );
        secret.location = Some("floor 3".into());
        let r = s.file_report(&c.reporter_a, secret).await.unwrap();
        assert!(r.sensitive, "harassment is always sensitive");
        let iid = r.incident_id;
        s.add_note(&c.finance, iid, "finance-ops note")
            .await
            .unwrap();
        // Plus an ordinary incident everyone with incident access sees.
        let plain = s
            .file_report(
                &c.reporter_b,
                report(Category::Theft, false, "stolen zebracorn mug"),
            )
            .await
            .unwrap();
        s.transition_incident(&c.responder, iid, Status::Investigating, None)
            .await
            .unwrap();
        let all = IncidentFilter::default();
        let search = IncidentFilter {
            text: Some("ZEBRACORN".into()),
            ..Default::default()
        };
        let period = MetricsQuery {
            from: t0,
            to: now() + Duration::minutes(1),
        };
        let page = PageRequest::first(100);

        struct Want {
            who: &'static str,
            sees_secret: bool,
            incidents: i64,
            reports: usize,
        }
        let cases = [
            (
                c.responder,
                Want {
                    who: "responder",
                    sees_secret: true,
                    incidents: 2,
                    reports: 2,
                },
            ),
            (
                c.finance,
                Want {
                    who: "finance-ops",
                    sees_secret: true,
                    incidents: 2,
                    reports: 2,
                },
            ),
            (
                c.reporter_a,
                Want {
                    who: "reporter A",
                    sees_secret: true,
                    incidents: 1,
                    reports: 1,
                },
            ),
            (
                c.reporter_b,
                Want {
                    who: "reporter B",
                    sees_secret: false,
                    incidents: 1,
                    reports: 1,
                },
            ),
            (
                c.admin,
                Want {
                    who: "admin",
                    sees_secret: false,
                    incidents: 1,
                    reports: 1,
                },
            ),
        ];
        for (v, w) in &cases {
            let got = s.get_incident(v, iid).await;
            assert_eq!(got.is_ok(), w.sees_secret, "{}: get {got:?}", w.who);
            if !w.sees_secret {
                assert!(
                    matches!(got, Err(StoreError::NotFound(_))),
                    "{}: not found, never forbidden",
                    w.who
                );
            }
            let listed = s.list_incidents(v, &all, &page).await.unwrap();
            assert_eq!(
                listed.items.iter().any(|i| i.id == iid),
                w.sees_secret,
                "{}: list",
                w.who
            );
            assert_eq!(
                listed.items.len() as i64,
                w.incidents,
                "{}: list size",
                w.who
            );
            let found = s.list_incidents(v, &search, &page).await.unwrap();
            assert_eq!(
                found.items.iter().any(|i| i.id == iid),
                w.sees_secret,
                "{}: search",
                w.who
            );
            assert_eq!(
                s.count_incidents(v, &all).await.unwrap(),
                w.incidents,
                "{}: count",
                w.who
            );
            assert_eq!(
                s.count_incidents(v, &search).await.unwrap(),
                w.incidents,
                "{}: search count",
                w.who
            );
            let m = s.metrics(v, period).await.unwrap();
            assert_eq!(m.total.count, w.incidents, "{}: metrics", w.who);
            assert_eq!(
                m.by_category.iter().any(|r| r.key == "harassment"),
                w.sees_secret,
                "{}: metrics by category",
                w.who
            );
            let rep = s.get_report(v, r.id).await;
            assert_eq!(rep.is_ok(), w.sees_secret, "{}: get report", w.who);
            let reps = s
                .list_reports(v, &ReportFilter::default(), &page)
                .await
                .unwrap();
            assert_eq!(reps.items.len(), w.reports, "{}: list reports", w.who);
            assert_eq!(
                reps.items.iter().any(|x| x.id == r.id),
                w.sees_secret,
                "{}: report listed",
                w.who
            );
            if v.role == Role::Admin || v.role == Role::Responder {
                let audit = all_audit(s, v).await;
                assert_eq!(
                    audit.iter().any(|e| e.incident_id == Some(iid)),
                    w.sees_secret,
                    "{}: audit feed",
                    w.who
                );
                assert!(
                    audit
                        .iter()
                        .any(|e| e.incident_id == Some(plain.incident_id)),
                    "{}: audit",
                    w.who
                );
            } else {
                assert!(
                    matches!(s.list_audit(v, 0, 10).await, Err(StoreError::Forbidden(_))),
                    "{}",
                    w.who
                );
            }
        }
        // Reporter A sees the status of the incident but not the notes.
        let own = s.get_report(&c.reporter_a, r.id).await.unwrap();
        assert_eq!(own.incident_status, Status::Investigating);
        s.assign_incident(&c.responder, iid, Some(c.responder.user_id))
            .await
            .unwrap();
        let d = s.get_incident(&c.reporter_a, iid).await.unwrap();
        assert!(d.notes.is_empty() && d.timeline.is_empty() && d.participants.is_empty());
        assert_eq!(d.incident.status, Status::Investigating);
        assert!(
            d.incident.description.is_empty() && d.incident.owner.is_none(),
            "redacted"
        );
        let listed = s.list_incidents(&c.reporter_a, &all, &page).await.unwrap();
        assert!(
            listed
                .items
                .iter()
                .all(|i| i.description.is_empty() && i.owner.is_none())
        );
        assert_eq!(d.reports.len(), 1);
        // A reporter never sees another reporter's plain report.
        assert!(matches!(
            s.get_report(&c.reporter_a, plain.id).await,
            Err(StoreError::NotFound(_))
        ));
        // Finance-ops sees notes; responders see everything.
        let d = s.get_incident(&c.finance, iid).await.unwrap();
        assert_eq!(d.notes.len(), 1);
        // Naming the admin as a participant makes it visible to them.
        s.add_participant(&c.responder, iid, c.admin.user_id)
            .await
            .unwrap();
        assert!(s.get_incident(&c.admin, iid).await.is_ok());
        assert_eq!(s.count_incidents(&c.admin, &all).await.unwrap(), 2);
        s.remove_participant(&c.responder, iid, c.admin.user_id)
            .await
            .unwrap();
        assert!(matches!(
            s.get_incident(&c.admin, iid).await,
            Err(StoreError::NotFound(_))
        ));
    }

    pub async fn write_permissions(ctx: &Ctx) {
        let s = &*ctx.store;
        let c = cast(s).await;
        let r = s
            .file_report(
                &c.reporter_a,
                report(Category::PhysicalInjury, false, "slipped"),
            )
            .await
            .unwrap();
        let iid = r.incident_id;
        // Reporter A can see it but may not manage it: Forbidden.
        assert!(matches!(
            s.transition_incident(&c.reporter_a, iid, Status::Investigating, None)
                .await,
            Err(StoreError::Forbidden(_))
        ));
        assert!(matches!(
            s.add_note(&c.reporter_a, iid, "hi").await,
            Err(StoreError::Forbidden(_))
        ));
        // Reporter B and the admin can't see it: NotFound.
        for v in [&c.reporter_b, &c.admin] {
            assert!(matches!(
                s.transition_incident(v, iid, Status::Investigating, None)
                    .await,
                Err(StoreError::NotFound(_))
            ));
            assert!(matches!(
                s.add_note(v, iid, "hi").await,
                Err(StoreError::NotFound(_))
            ));
        }
        // Finance-ops may add notes but not change status.
        s.add_note(&c.finance, iid, "cost centre informed")
            .await
            .unwrap();
        assert!(matches!(
            s.transition_incident(&c.finance, iid, Status::Investigating, None)
                .await,
            Err(StoreError::Forbidden(_))
        ));
        // Tasks.
        let task = s
            .add_task(
                &c.responder,
                iid,
                NewTask {
                    title: "fix the floor".into(),
                    owner: Some(c.responder.user_id),
                    due_at: Some(now() + Duration::days(2)),
                },
            )
            .await
            .unwrap();
        assert!(matches!(
            s.update_task(
                &c.finance,
                task.id,
                TaskPatch {
                    done: Some(true),
                    ..Default::default()
                }
            )
            .await,
            Err(StoreError::Forbidden(_))
        ));
        assert!(matches!(
            s.update_task(
                &c.reporter_b,
                task.id,
                TaskPatch {
                    done: Some(true),
                    ..Default::default()
                }
            )
            .await,
            Err(StoreError::NotFound(_))
        ));
        let done = s
            .update_task(
                &c.responder,
                task.id,
                TaskPatch {
                    done: Some(true),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert!(done.done);
        let d = s.get_incident(&c.responder, iid).await.unwrap();
        assert_eq!(d.tasks, vec![done]);
        assert_eq!(d.notes.len(), 1);
        // Only responders clear the sensitive flag, never on always-sensitive categories.
        assert!(matches!(
            s.update_incident(
                &c.responder,
                iid,
                IncidentPatch {
                    sensitive: Some(false),
                    ..Default::default()
                }
            )
            .await,
            Err(StoreError::Invalid(_))
        ));
        // Users: only admins create; reporters can't create incidents.
        assert!(matches!(
            s.create_user(
                &c.responder,
                NewUser {
                    name: "eve".into(),
                    role: Role::Admin
                }
            )
            .await,
            Err(StoreError::Forbidden(_))
        ));
        assert!(matches!(
            s.create_incident(&c.reporter_a, manual("x", Severity::Sev1))
                .await,
            Err(StoreError::Forbidden(_))
        ));
        // Anonymous reports only where allowed.
        let mut anon = report(Category::Theft, false, "anon");
        anon.anonymous = true;
        assert!(matches!(
            s.file_report(&c.reporter_a, anon.clone()).await,
            Err(StoreError::Invalid(_))
        ));
        anon.channel = Channel::ThirdParty;
        let a = s.file_report(&c.reporter_a, anon).await.unwrap();
        assert_eq!(a.reporter, None);
        assert!(matches!(
            s.get_report(&c.reporter_a, a.id).await,
            Err(StoreError::NotFound(_))
        ));
    }

    pub async fn audit_chain_records_every_change(ctx: &Ctx) {
        let s = &*ctx.store;
        let c = cast(s).await;
        let r = s
            .file_report(&c.reporter_a, report(Category::Harassment, true, "x"))
            .await
            .unwrap();
        let v = &c.responder;
        s.assign_incident(v, r.incident_id, Some(v.user_id))
            .await
            .unwrap();
        s.transition_incident(v, r.incident_id, Status::Investigating, None)
            .await
            .unwrap();
        s.add_note(&c.finance, r.incident_id, "n").await.unwrap();
        s.update_incident(
            v,
            r.incident_id,
            IncidentPatch {
                severity: Some(Severity::Sev2),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        s.close_incident(
            v,
            r.incident_id,
            Resolution::TruePositiveImpact,
            Some(impact()),
            None,
        )
        .await
        .unwrap();
        let entries = all_audit(s, v).await;
        let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(
            actions,
            [
                "user.create",
                "user.create",
                "user.create",
                "user.create",
                "user.create",
                "report.file",
                "incident.open",
                "incident.assign",
                "incident.transition",
                "note.add",
                "incident.update",
                "incident.close",
            ]
        );
        let seqs: Vec<i64> = entries.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, (1..=12).collect::<Vec<_>>());
        let t = entries
            .iter()
            .find(|e| e.action == "incident.transition")
            .unwrap();
        assert_eq!(t.before["status"], "triage");
        assert_eq!(t.after["status"], "investigating");
        assert_eq!(t.actor, v.user_id);
        let n = entries.iter().find(|e| e.action == "note.add").unwrap();
        assert_eq!(n.actor, c.finance.user_id);
        let report = s.verify_audit(&c.admin).await.unwrap();
        assert_eq!(
            report,
            AuditReport {
                entries: 12,
                fault: None
            }
        );
        // The admin's feed omits the sensitive incident's entries.
        let admin_feed = all_audit(s, &c.admin).await;
        assert_eq!(admin_feed.len(), 5);
        assert!(matches!(
            s.verify_audit(&c.finance).await,
            Err(StoreError::Forbidden(_))
        ));
    }

    async fn tamper_setup(ctx: &Ctx) -> Cast {
        let s = &*ctx.store;
        let c = cast(s).await;
        let r = s
            .file_report(&c.reporter_a, report(Category::Theft, false, "phone"))
            .await
            .unwrap();
        s.transition_incident(&c.responder, r.incident_id, Status::Investigating, None)
            .await
            .unwrap();
        assert!(s.verify_audit(&c.responder).await.unwrap().is_ok());
        c
    }

    pub async fn tamper_edit_one_byte(ctx: &Ctx) {
        let c = tamper_setup(ctx).await;
        // Entry 7 is incident.open; change one byte of its JSON.
        let n = ctx
            .raw_exec("UPDATE audit_log SET after_json = REPLACE(after_json, '\"triage\"', '\"triagf\"') WHERE seq = 7")
            .await;
        assert_eq!(n, 1);
        let r = ctx.store.verify_audit(&c.responder).await.unwrap();
        assert_eq!(r.fault.as_ref().map(|f| f.seq), Some(7), "{r:?}");
        // Editing a plain column is caught as well.
        ctx.raw_exec("UPDATE audit_log SET after_json = REPLACE(after_json, '\"triagf\"', '\"triage\"') WHERE seq = 7").await;
        assert!(
            ctx.store.verify_audit(&c.responder).await.unwrap().is_ok(),
            "restored"
        );
        ctx.raw_exec("UPDATE audit_log SET actor = REPLACE(actor, '-', '_') WHERE seq = 3")
            .await;
        let r = ctx.store.verify_audit(&c.responder).await.unwrap();
        assert_eq!(r.fault.map(|f| f.seq), Some(3));
    }

    pub async fn tamper_delete_row(ctx: &Ctx) {
        let c = tamper_setup(ctx).await;
        assert_eq!(ctx.raw_exec("DELETE FROM audit_log WHERE seq = 4").await, 1);
        let r = ctx.store.verify_audit(&c.responder).await.unwrap();
        let f = r.fault.expect("deletion detected");
        assert_eq!(f.seq, 4, "{}", f.reason);
        assert!(f.reason.contains("missing"), "{}", f.reason);
        // Deleting the newest entry is caught by the chain head.
        let c2 = ctx;
        c2.raw_exec("INSERT INTO audit_log (seq, at, actor, action, entity, entity_id, incident_id, before_json, after_json, hash) SELECT 4, at, actor, action, entity, entity_id, incident_id, before_json, after_json, hash FROM audit_log WHERE seq = 3").await;
        c2.raw_exec("DELETE FROM audit_log WHERE seq = 4").await;
        c2.raw_exec("DELETE FROM audit_log WHERE seq = (SELECT MAX(seq) FROM audit_log)")
            .await;
        let r = ctx.store.verify_audit(&c.responder).await.unwrap();
        assert!(r.fault.is_some(), "tail deletion detected");
    }

    pub async fn tamper_swap_rows(ctx: &Ctx) {
        let c = tamper_setup(ctx).await;
        ctx.raw_exec("UPDATE audit_log SET seq = -1 WHERE seq = 2")
            .await;
        ctx.raw_exec("UPDATE audit_log SET seq = 2 WHERE seq = 3")
            .await;
        ctx.raw_exec("UPDATE audit_log SET seq = 3 WHERE seq = -1")
            .await;
        let r = ctx.store.verify_audit(&c.responder).await.unwrap();
        assert_eq!(r.fault.map(|f| f.seq), Some(2));
    }

    pub async fn outbox_flow(ctx: &Ctx) {
        let s = &*ctx.store;
        let c = cast(s).await;
        let sys = sys();
        let r = s
            .file_report(&c.reporter_a, report(Category::Harassment, false, "x"))
            .await
            .unwrap();
        s.create_incident(&c.responder, manual("plain", Severity::Sev4))
            .await
            .unwrap();
        let pending = s
            .list_outbox(&sys, Some(OutboxStatus::Pending))
            .await
            .unwrap();
        assert_eq!(pending.len(), 2);
        let first = pending
            .iter()
            .find(|m| m.incident_id == Some(r.incident_id))
            .unwrap();
        assert!(first.sensitive);
        assert_eq!(first.kind, OutboxKind::IncidentOpened);
        let OutboxPayload::Incident(p) = &first.payload else {
            panic!("an incident payload: {:?}", first.payload);
        };
        assert_eq!(p.id, r.incident_id);
        assert_eq!(p.incident.id, r.incident_id);
        assert_eq!(p.category, Category::Harassment);
        assert_eq!(p.status, Status::Triage);
        assert!(p.sensitive);
        assert_eq!(p.action, "incident.open");
        assert!(!p.change.is_empty() && !p.title.is_empty());
        assert!(pending.iter().any(|m| !m.sensitive));
        // Only the system viewer delivers.
        assert!(matches!(
            s.claim_outbox(&c.admin, 10, Duration::minutes(1), now())
                .await,
            Err(StoreError::Forbidden(_))
        ));
        let t = now() + Duration::seconds(1);
        let claimed = s
            .claim_outbox(&sys, 10, Duration::minutes(1), t)
            .await
            .unwrap();
        assert_eq!(claimed.len(), 2);
        assert!(
            s.claim_outbox(&sys, 10, Duration::minutes(1), t)
                .await
                .unwrap()
                .is_empty(),
            "leased"
        );
        let again = s
            .claim_outbox(&sys, 10, Duration::minutes(1), t + Duration::minutes(2))
            .await
            .unwrap();
        assert_eq!(again.len(), 2, "lease expired");
        let (a, b) = (&again[0], &again[1]);
        s.mark_outbox_sent(&sys, a.id, t).await.unwrap();
        let failed = s
            .mark_outbox_failed(&sys, b.id, "smtp down", t)
            .await
            .unwrap();
        assert_eq!(failed.attempts, 1);
        assert_eq!(failed.next_attempt_at, t + Duration::seconds(30));
        assert!(
            s.claim_outbox(&sys, 10, Duration::minutes(1), t + Duration::seconds(10))
                .await
                .unwrap()
                .is_empty()
        );
        let retry = s
            .claim_outbox(&sys, 10, Duration::minutes(1), t + Duration::seconds(31))
            .await
            .unwrap();
        assert_eq!(retry.iter().map(|m| m.id).collect::<Vec<_>>(), vec![b.id]);
        let failed = s
            .mark_outbox_failed(&sys, b.id, "smtp down", t + Duration::seconds(31))
            .await
            .unwrap();
        assert_eq!(
            failed.next_attempt_at,
            t + Duration::seconds(31 + 60),
            "backoff doubles"
        );
        assert_eq!(
            s.list_outbox(&sys, Some(OutboxStatus::Sent))
                .await
                .unwrap()
                .iter()
                .filter(|m| m.kind != OutboxKind::AccessChanged)
                .count(),
            1
        );
        // A status change enqueues a change message in the same transaction.
        s.transition_incident(&c.responder, r.incident_id, Status::Investigating, None)
            .await
            .unwrap();
        let pending = s
            .list_outbox(&sys, Some(OutboxStatus::Pending))
            .await
            .unwrap();
        assert!(
            pending
                .iter()
                .any(|m| m.kind == OutboxKind::IncidentChanged && m.sensitive)
        );
        // Fan out one change message into one child per destination.
        let parent = s
            .list_outbox(&sys, Some(OutboxStatus::Pending))
            .await
            .unwrap()
            .into_iter()
            .find(|m| m.kind == OutboxKind::IncidentChanged)
            .unwrap();
        let dests = ["security-email".to_owned(), "finance-email".to_owned()];
        let kids = s.fan_out_outbox(&sys, parent.id, &dests, t).await.unwrap();
        assert_eq!(kids.len(), 2);
        assert!(
            kids.iter()
                .all(|k| k.sensitive && k.parent_id == Some(parent.id))
        );
        assert_eq!(kids[1].payload.destination(), Some("finance-email"));
        let pending = s
            .list_outbox(&sys, Some(OutboxStatus::Pending))
            .await
            .unwrap();
        assert!(
            !pending.iter().any(|m| m.id == parent.id),
            "parent is settled"
        );
        assert_eq!(
            pending
                .iter()
                .filter(|m| m.parent_id == Some(parent.id))
                .count(),
            2
        );
        assert!(matches!(
            s.fan_out_outbox(&sys, parent.id, &dests, t).await,
            Err(StoreError::Conflict(_))
        ));
        // Dead after too many attempts.
        let mut last = failed;
        for k in 0..20 {
            if last.status == OutboxStatus::Dead {
                break;
            }
            last = s
                .mark_outbox_failed(&sys, b.id, "down", t + Duration::hours(k))
                .await
                .unwrap();
        }
        assert_eq!(last.status, OutboxStatus::Dead);
        assert_eq!(last.attempts, outbox::MAX_ATTEMPTS);
    }

    pub async fn users_and_tokens(ctx: &Ctx) {
        let s = &*ctx.store;
        let c = cast(s).await;
        assert!(matches!(
            s.create_user(
                &c.admin,
                NewUser {
                    name: "alice".into(),
                    role: Role::Reporter
                }
            )
            .await,
            Err(StoreError::Conflict(_))
        ));
        assert!(matches!(
            s.create_user(
                &c.admin,
                NewUser {
                    name: "bad name!".into(),
                    role: Role::Reporter
                }
            )
            .await,
            Err(StoreError::Invalid(_))
        ));
        let token = "wp_00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        let t = s
            .create_token(
                &c.admin,
                c.reporter_a.user_id,
                "laptop",
                TokenHash::of(token),
            )
            .await
            .unwrap();
        let (u, v) = s.authenticate(TokenHash::of(token)).await.unwrap().unwrap();
        assert_eq!(u.name, "alice");
        assert_eq!(v, c.reporter_a);
        assert!(
            s.authenticate(TokenHash::of("wp_wrong"))
                .await
                .unwrap()
                .is_none()
        );
        // The raw token is never stored.
        let pool = ctx.raw().await;
        let (h,): (String,) = sqlx::query_as("SELECT token_hash FROM api_tokens")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(h, TokenHash::of(token).to_hex());
        pool.close().await;
        // Reporter B can't make tokens for A, nor see A.
        assert!(
            s.create_token(
                &c.reporter_b,
                c.reporter_a.user_id,
                "x",
                TokenHash::of("wp_x")
            )
            .await
            .is_err()
        );
        assert!(matches!(
            s.get_user(&c.reporter_b, c.reporter_a.user_id).await,
            Err(StoreError::NotFound(_))
        ));
        assert_eq!(s.list_users(&c.reporter_b).await.unwrap().len(), 1);
        assert_eq!(s.list_users(&c.admin).await.unwrap().len(), 5);
        // No admin disables themselves (they could lock every admin
        // out); the refusal changes nothing.
        let audit_before = all_audit(s, &sys()).await.len();
        match s.set_user_disabled(&c.admin, c.admin.user_id, true).await {
            Err(StoreError::Conflict(m)) => assert_eq!(m, "you cannot disable yourself"),
            other => panic!("disabling yourself: {other:?}"),
        }
        assert_eq!(all_audit(s, &sys()).await.len(), audit_before);
        let admin = s.get_user(&sys(), c.admin.user_id).await.unwrap();
        assert!(!admin.disabled);
        s.set_user_disabled(&c.admin, c.reporter_a.user_id, true)
            .await
            .unwrap();
        assert!(
            s.authenticate(TokenHash::of(token))
                .await
                .unwrap()
                .is_none(),
            "disabled"
        );
        s.set_user_disabled(&c.admin, c.reporter_a.user_id, false)
            .await
            .unwrap();
        assert!(
            s.authenticate(TokenHash::of(token))
                .await
                .unwrap()
                .is_some()
        );
        s.revoke_token(&c.reporter_a, t.id).await.unwrap();
        assert!(
            s.authenticate(TokenHash::of(token))
                .await
                .unwrap()
                .is_none(),
            "revoked"
        );
        assert_eq!(
            s.list_tokens(&c.reporter_a, c.reporter_a.user_id)
                .await
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            s.get_user_by_name(&c.admin, "bob").await.unwrap().id,
            c.reporter_b.user_id
        );
    }

    /// The source filter, per viewer: staff match any report's channel and
    /// detections; a reporter matches only through their own reports and
    /// never through alerts; an ingest token matches nothing.
    pub async fn source_filter_matches_only_what_the_viewer_reads(ctx: &Ctx) {
        let s = &*ctx.store;
        let c = cast(s).await;
        let by_hand = s
            .create_incident(&c.responder, manual("by hand", Severity::Sev3))
            .await
            .unwrap()
            .id;
        let web = s
            .file_report(&c.reporter_a, report(Category::Theft, false, "web one"))
            .await
            .unwrap()
            .incident_id;
        let mut mailed = report(Category::Theft, false, "mailed one");
        mailed.channel = Channel::Email;
        mailed.anonymous = true;
        let mailed = s.file_report(&sys(), mailed).await.unwrap().incident_id;
        let detected = s
            .ingest_alert(&sys(), alert("r-src", "eve", now()))
            .await
            .unwrap()
            .incident_id
            .expect("a high alert opens an incident");
        // Reporter b is named on the mailed incident: they read it, but
        // not its report, so the mail filter must not find it for them.
        s.add_participant(&c.responder, mailed, c.reporter_b.user_id)
            .await
            .unwrap();
        let page = PageRequest::first(100);
        let ingest = Viewer::new(user(s, "shipper", Role::Ingest).await.id, Role::Ingest);
        // (viewer, sources, incidents expected), by hand.
        let cases: Vec<(&str, Viewer, Vec<Source>, Vec<IncidentId>)> = vec![
            (
                "responder",
                c.responder,
                vec![Source::Detection],
                vec![detected],
            ),
            ("responder", c.responder, vec![Source::Web], vec![web]),
            ("responder", c.responder, vec![Source::Email], vec![mailed]),
            (
                "responder",
                c.responder,
                vec![Source::Web, Source::Detection],
                vec![web, detected],
            ),
            ("responder", c.responder, vec![Source::Slack], vec![]),
            ("admin", c.admin, vec![Source::Detection], vec![detected]),
            ("admin", c.admin, vec![Source::Email], vec![mailed]),
            ("reporter a", c.reporter_a, vec![Source::Web], vec![web]),
            ("reporter a", c.reporter_a, vec![Source::Detection], vec![]),
            ("reporter a", c.reporter_a, vec![Source::Email], vec![]),
            ("reporter b", c.reporter_b, vec![Source::Web], vec![]),
            ("reporter b", c.reporter_b, vec![Source::Email], vec![]),
            (
                "ingest",
                ingest,
                vec![Source::Web, Source::Detection],
                vec![],
            ),
        ];
        for (who, viewer, source, mut expected) in cases {
            let filter = IncidentFilter {
                source: source.clone(),
                ..Default::default()
            };
            let mut got: Vec<IncidentId> = s
                .list_incidents(&viewer, &filter, &page)
                .await
                .unwrap()
                .items
                .iter()
                .map(|i| i.id)
                .collect();
            got.sort();
            expected.sort();
            assert_eq!(got, expected, "{who} {source:?}");
            let count = s.count_incidents(&viewer, &filter).await.unwrap();
            assert_eq!(count, expected.len() as i64, "{who} {source:?} count");
        }
        // The need-to-know filter: only the harassment report's incident
        // is sensitive; reporter b sees none of it.
        let secret = s
            .file_report(&c.reporter_a, report(Category::Harassment, true, "remarks"))
            .await
            .unwrap()
            .incident_id;
        for (who, viewer, sensitive, expected) in [
            ("responder", c.responder, true, vec![secret]),
            ("finance", c.finance, true, vec![secret]),
            ("reporter a", c.reporter_a, true, vec![secret]),
            ("reporter b", c.reporter_b, true, vec![]),
            ("reporter a", c.reporter_a, false, vec![web]),
        ] {
            let filter = IncidentFilter {
                sensitive: Some(sensitive),
                ..Default::default()
            };
            let got: Vec<IncidentId> = s
                .list_incidents(&viewer, &filter, &page)
                .await
                .unwrap()
                .items
                .iter()
                .map(|i| i.id)
                .collect();
            assert_eq!(got, expected, "{who} sensitive={sensitive}");
        }
        // Every source but none matches the incident opened by hand.
        let every = IncidentFilter {
            source: Source::ALL.to_vec(),
            ..Default::default()
        };
        let listed = s.list_incidents(&c.responder, &every, &page).await.unwrap();
        assert_eq!(listed.items.len(), 4);
        assert!(listed.items.iter().all(|i| i.id != by_hand));
    }

    pub async fn filtered_pagination(ctx: &Ctx) {
        let s = &*ctx.store;
        let v = &cast(s).await.responder;
        let mut ids = Vec::new();
        for k in 0..7 {
            let sev = if k % 2 == 0 {
                Severity::Sev1
            } else {
                Severity::Sev2
            };
            ids.push(
                s.create_incident(v, manual(&format!("inc {k}"), sev))
                    .await
                    .unwrap()
                    .id,
            );
        }
        s.transition_incident(v, ids[0], Status::Investigating, None)
            .await
            .unwrap();
        let f = IncidentFilter {
            severity: vec![Severity::Sev1],
            ..Default::default()
        };
        let mut seen = Vec::new();
        let mut page = PageRequest::first(3);
        let mut pages = 0;
        loop {
            let p = s.list_incidents(v, &f, &page).await.unwrap();
            pages += 1;
            seen.extend(p.items.iter().map(|i| i.id));
            match p.next_cursor {
                Some(c) => page.cursor = Some(c),
                None => break,
            }
        }
        assert_eq!(pages, 2);
        let want: Vec<_> = ids.iter().step_by(2).rev().copied().collect();
        assert_eq!(seen, want, "newest first, no duplicates");
        let f = IncidentFilter {
            status: vec![Status::Investigating],
            severity: vec![Severity::Sev1],
            ..Default::default()
        };
        assert_eq!(s.count_incidents(v, &f).await.unwrap(), 1);
        let f = IncidentFilter {
            text: Some("inc 5".into()),
            ..Default::default()
        };
        assert_eq!(
            s.list_incidents(v, &f, &PageRequest::first(10))
                .await
                .unwrap()
                .items
                .len(),
            1
        );
        let f = IncidentFilter {
            text: Some("100%_".into()),
            ..Default::default()
        };
        assert_eq!(
            s.count_incidents(v, &f).await.unwrap(),
            0,
            "LIKE wildcards are escaped"
        );
        assert!(matches!(
            s.list_incidents(
                v,
                &IncidentFilter::default(),
                &PageRequest {
                    limit: Some(3),
                    cursor: Some("garbage".into())
                }
            )
            .await,
            Err(StoreError::Invalid(_))
        ));
        assert!(matches!(
            s.list_incidents(v, &IncidentFilter::default(), &PageRequest::first(0))
                .await,
            Err(StoreError::Invalid(_))
        ));
    }

    pub async fn attachments_are_content_addressed(ctx: &Ctx) {
        let s = &*ctx.store;
        let c = cast(s).await;
        let mut new = report(Category::PropertyDamage, false, "dent");
        new.attachments = vec![NewAttachment {
            filename: "../../etc/passwd".into(),
            content_type: "image/png".into(),
            bytes: b"PNGDATA".to_vec(),
        }];
        let r = s.file_report(&c.reporter_a, new).await.unwrap();
        let a = &r.attachments[0];
        use sha2::Digest;
        assert_eq!(a.sha256, hex::encode(sha2::Sha256::digest(b"PNGDATA")));
        assert_eq!(a.filename, "../../etc/passwd", "kept as metadata only");
        assert_eq!(a.size, 7);
        let file = ctx
            .dir
            .path()
            .join("attachments")
            .join(&a.sha256[..2])
            .join(&a.sha256);
        assert_eq!(std::fs::read(&file).unwrap(), b"PNGDATA");
        let (meta, bytes) = s.read_attachment(&c.reporter_a, a.id).await.unwrap();
        assert_eq!(bytes, b"PNGDATA");
        assert_eq!(&meta, a);
        assert_eq!(
            s.get_report(&c.responder, r.id).await.unwrap().attachments,
            r.attachments
        );
        assert!(matches!(
            s.read_attachment(&c.reporter_b, a.id).await,
            Err(StoreError::NotFound(_))
        ));
        let mut big = report(Category::Other, false, "big");
        big.attachments = vec![NewAttachment {
            filename: "big.bin".into(),
            content_type: "application/octet-stream".into(),
            bytes: vec![0; 10 * 1024 * 1024 + 1],
        }];
        assert!(matches!(
            s.file_report(&c.reporter_a, big).await,
            Err(StoreError::Invalid(_))
        ));
        // A tampered file is refused.
        std::fs::write(&file, b"EVIL").unwrap();
        assert!(matches!(
            s.read_attachment(&c.reporter_a, a.id).await,
            Err(StoreError::Corrupt(_))
        ));
    }

    pub async fn attachments_added_after_filing(ctx: &Ctx) {
        use sha2::Digest;
        let s = &*ctx.store;
        let c = cast(s).await;
        let file = |name: &str, bytes: &[u8]| NewAttachment {
            filename: name.into(),
            content_type: "text/plain".into(),
            bytes: bytes.to_vec(),
        };
        let r = s
            .file_report(&c.reporter_a, report(Category::Theft, false, "bike gone"))
            .await
            .unwrap();
        let audit_before = all_audit(s, &sys()).await.len();

        // The reporter adds to their own report; stored content-addressed,
        // listed with the report, read back byte for byte.
        let a = s
            .add_attachment(&c.reporter_a, r.id, file("receipt.txt", b"RECEIPT"))
            .await
            .unwrap();
        assert_eq!(a.report_id, r.id);
        assert_eq!(a.filename, "receipt.txt");
        assert_eq!(a.content_type, "text/plain");
        assert_eq!(a.size, 7);
        assert_eq!(a.sha256, hex::encode(sha2::Sha256::digest(b"RECEIPT")));
        let path = ctx
            .dir
            .path()
            .join("attachments")
            .join(&a.sha256[..2])
            .join(&a.sha256);
        assert_eq!(std::fs::read(&path).unwrap(), b"RECEIPT");
        let (meta, bytes) = s.read_attachment(&c.reporter_a, a.id).await.unwrap();
        assert_eq!((meta, bytes), (a.clone(), b"RECEIPT".to_vec()));
        assert_eq!(
            s.get_report(&c.reporter_a, r.id).await.unwrap().attachments,
            vec![a.clone()]
        );

        // One audit entry, about the attachment and the report's incident.
        let audit = all_audit(s, &sys()).await;
        assert_eq!(audit.len(), audit_before + 1);
        let entry = audit.last().unwrap();
        assert_eq!(entry.action, "attachment.add");
        assert_eq!(entry.entity, "attachment");
        assert_eq!(entry.entity_id, a.id.to_string());
        assert_eq!(entry.actor, c.reporter_a.user_id);
        assert_eq!(entry.incident_id, Some(r.incident_id));
        assert_eq!(entry.after["sha256"], a.sha256);
        // A timeline line on the incident, as filing writes one.
        let detail = s.get_incident(&c.responder, r.incident_id).await.unwrap();
        let line = detail
            .timeline
            .iter()
            .find(|t| t.kind == "attachment")
            .expect("a timeline line for the attachment");
        assert!(line.message.contains("receipt.txt"), "{}", line.message);
        assert_eq!(line.actor, c.reporter_a.user_id);

        // Another reporter cannot see the report: not found, nothing added.
        assert!(matches!(
            s.add_attachment(&c.reporter_b, r.id, file("x.txt", b"X"))
                .await,
            Err(StoreError::NotFound(_))
        ));
        assert!(matches!(
            s.add_attachment(&c.reporter_a, ReportId::new(), file("x.txt", b"X"))
                .await,
            Err(StoreError::NotFound(_))
        ));
        // Staff who see it may add.
        for v in [&c.responder, &c.finance, &c.admin] {
            s.add_attachment(v, r.id, file("staff.txt", b"STAFF"))
                .await
                .unwrap();
        }
        assert_eq!(
            s.get_report(&c.reporter_a, r.id)
                .await
                .unwrap()
                .attachments
                .len(),
            4
        );

        // A sensitive report: need-to-know, so the admin gets not found.
        let hidden = s
            .file_report(
                &c.reporter_a,
                report(Category::Harassment, true, "comments"),
            )
            .await
            .unwrap();
        assert!(matches!(
            s.add_attachment(&c.admin, hidden.id, file("x.txt", b"X"))
                .await,
            Err(StoreError::NotFound(_))
        ));
        assert!(matches!(
            s.add_attachment(&c.reporter_b, hidden.id, file("x.txt", b"X"))
                .await,
            Err(StoreError::NotFound(_))
        ));
        s.add_attachment(&c.responder, hidden.id, file("chat.txt", b"CHAT"))
            .await
            .unwrap();
        s.add_attachment(&c.reporter_a, hidden.id, file("more.txt", b"MORE"))
            .await
            .unwrap();
        assert_eq!(
            s.get_report(&c.finance, hidden.id)
                .await
                .unwrap()
                .attachments
                .len(),
            2
        );

        // The size cap: exactly the cap is accepted, one byte more refused;
        // bad names refused; nothing recorded for a refusal.
        let cap = s.max_attachment_bytes();
        assert_eq!(cap, StoreOptions::default().max_attachment_bytes);
        let audit_before = all_audit(s, &sys()).await.len();
        assert!(matches!(
            s.add_attachment(&c.reporter_a, r.id, file("big.bin", &vec![1; cap + 1]))
                .await,
            Err(StoreError::Invalid(_))
        ));
        assert!(matches!(
            s.add_attachment(&c.reporter_a, r.id, file("", b"X")).await,
            Err(StoreError::Invalid(_))
        ));
        assert_eq!(all_audit(s, &sys()).await.len(), audit_before);
        let full = s
            .add_attachment(&c.reporter_a, r.id, file("full.bin", &vec![2; cap]))
            .await
            .unwrap();
        assert_eq!(usize::try_from(full.size).unwrap(), cap);

        // At most 20 per report, counting those filed with it.
        let mut crowded = report(Category::Other, false, "many files");
        crowded.attachments = (0..20).map(|i| file(&format!("{i}.txt"), b"N")).collect();
        let crowded = s.file_report(&c.reporter_a, crowded).await.unwrap();
        assert!(matches!(
            s.add_attachment(&c.reporter_a, crowded.id, file("21.txt", b"N"))
                .await,
            Err(StoreError::Invalid(_))
        ));

        let verified = s.verify_audit(&sys()).await.unwrap();
        assert_eq!(verified.fault, None);
        assert_eq!(
            usize::try_from(verified.entries).unwrap(),
            all_audit(s, &sys()).await.len()
        );
    }

    // ----- keyed audit chain, tokens, audited reads -----

    /// The store's key as a reader of the key file (the conformance stores
    /// use the default: `audit.key` in the data directory).
    fn key_of(ctx: &Ctx) -> AuditKey {
        AuditKey::load(&ctx.dir.path().join(incidents::audit::AUDIT_KEY_FILE)).unwrap()
    }

    /// Reopens the database with `options` (data dir set to the test's).
    async fn reopen(ctx: &Ctx, options: StoreOptions) -> Result<std::sync::Arc<dyn Store>> {
        incidents::open_with(
            &ctx.url,
            StoreOptions {
                data_dir: Some(ctx.dir.path().to_owned()),
                ..options
            },
        )
        .await
    }

    /// Rewrites every hash from entry `from` on with `hash(entry, prev)`,
    /// and the chain head, through raw SQL: what someone with write access
    /// to the database can do.
    async fn rechain(ctx: &Ctx, from: i64, hash: impl Fn(&AuditEntry, &str) -> String) {
        let entries = all_audit(&*ctx.store, &sys()).await;
        let mut prev = if from == 1 {
            incidents::audit::GENESIS_HASH.to_owned()
        } else {
            entries[(from - 2) as usize].hash.clone()
        };
        for e in &entries[(from - 1) as usize..] {
            let h = hash(e, &prev);
            ctx.raw_exec(&format!(
                "UPDATE audit_log SET hash = '{h}' WHERE seq = {}",
                e.seq
            ))
            .await;
            prev = h;
        }
        ctx.raw_exec(&format!(
            "UPDATE audit_head SET hash = '{prev}' WHERE id = 1"
        ))
        .await;
    }

    pub async fn keyed_chain_detects_a_forger_without_the_key(ctx: &Ctx) {
        let c = tamper_setup(ctx).await;
        let s = &*ctx.store;
        assert!(s.verify_audit(&c.responder).await.unwrap().is_ok());
        // Entry 7 is incident.open: edit it, then recompute every later
        // hash and the head with plain SHA-256, without the key.
        let n = ctx
            .raw_exec("UPDATE audit_log SET after_json = REPLACE(after_json, '\"triage\"', '\"closed\"') WHERE seq = 7")
            .await;
        assert_eq!(n, 1);
        rechain(ctx, 7, |e, prev| e.legacy_hash(prev)).await;
        let r = s.verify_audit(&c.responder).await.unwrap();
        let f = r.fault.expect("forgery detected");
        assert_eq!(f.seq, 7, "{}", f.reason);
        // The same rewrite done with the key verifies: the key, kept outside
        // the database, is what the forger lacks.
        let key = key_of(ctx);
        rechain(ctx, 7, |e, prev| e.compute_hash(&key, prev)).await;
        assert_eq!(s.verify_audit(&c.responder).await.unwrap().fault, None);
        let entries = all_audit(s, &sys()).await.len() as i64;

        // Another key is refused at open, naming both key ids.
        let other = AuditKey::generate();
        let err = reopen(
            ctx,
            StoreOptions {
                audit_key: Some(other.clone()),
                ..StoreOptions::default()
            },
        )
        .await
        .err()
        .expect("the wrong key is refused");
        let msg = err.to_string();
        assert!(matches!(err, StoreError::AuditKey(_)), "{msg}");
        assert!(
            msg.contains(&key.id()) && msg.contains(&other.id()),
            "{msg}"
        );
        // A head edited to name the wrong key lets it open, and then the
        // chain fails at its first entry.
        ctx.raw_exec(&format!(
            "UPDATE audit_head SET key_id = '{}' WHERE id = 1",
            other.id()
        ))
        .await;
        let wrong = reopen(
            ctx,
            StoreOptions {
                audit_key: Some(other),
                ..StoreOptions::default()
            },
        )
        .await
        .unwrap();
        let r = wrong.verify_audit(&sys()).await.unwrap();
        assert_eq!(r.fault.map(|f| f.seq), Some(1));
        wrong.close().await;
        // The right key still verifies every entry.
        ctx.raw_exec(&format!(
            "UPDATE audit_head SET key_id = '{}' WHERE id = 1",
            key.id()
        ))
        .await;
        let right = reopen(ctx, StoreOptions::default()).await.unwrap();
        assert_eq!(
            right.verify_audit(&sys()).await.unwrap(),
            AuditReport {
                entries,
                fault: None
            }
        );
        right.close().await;
    }

    /// Turns the test's chain into one written before keys: plain SHA-256
    /// hashes and no key named in the head.
    async fn make_legacy(ctx: &Ctx) {
        rechain(ctx, 1, |e, prev| e.legacy_hash(prev)).await;
        ctx.raw_exec("UPDATE audit_head SET key_id = NULL WHERE id = 1")
            .await;
    }

    pub async fn unkeyed_chain_is_rekeyed_once_by_a_new_key(ctx: &Ctx) {
        let c = tamper_setup(ctx).await;
        let s = &*ctx.store;
        let before = all_audit(s, &sys()).await;
        let n = before.len() as i64;
        make_legacy(ctx).await;
        let key_file = ctx.dir.path().join(incidents::audit::AUDIT_KEY_FILE);

        // The existing key did not exist when the chain was written: it may
        // not bless it, and the open fails saying why.
        let err = reopen(ctx, StoreOptions::default())
            .await
            .err()
            .expect("an old key does not re-key");
        assert!(
            matches!(&err, StoreError::AuditKey(m) if m.contains(&format!("{n} entries written without a key"))),
            "{err}"
        );

        // A broken unkeyed chain is not re-keyed, and the new key file is
        // removed again.
        std::fs::remove_file(&key_file).unwrap();
        ctx.raw_exec("UPDATE audit_log SET entity_id = 'x' WHERE seq = 4")
            .await;
        let err = reopen(ctx, StoreOptions::default())
            .await
            .err()
            .expect("a broken chain is refused");
        assert!(
            matches!(&err, StoreError::AuditKey(m) if m.contains("broken at entry 4")),
            "{err}"
        );
        assert!(!key_file.exists());
        ctx.raw_exec(&format!(
            "UPDATE audit_log SET entity_id = '{}' WHERE seq = 4",
            before[3].entity_id
        ))
        .await;

        // A new key re-keys it: every entry verifies with the key, and one
        // audit.rekey entry records it.
        let rekeyed = reopen(ctx, StoreOptions::default()).await.unwrap();
        assert!(key_file.exists());
        let r = rekeyed.verify_audit(&c.responder).await.unwrap();
        assert_eq!(
            r,
            AuditReport {
                entries: n + 1,
                fault: None
            }
        );
        let after = all_audit(&*rekeyed, &sys()).await;
        let last = after.last().unwrap();
        assert_eq!(last.action, "audit.rekey");
        assert_eq!(last.before["entries"], n);
        assert_eq!(last.after["key_id"], key_of(ctx).id());
        // Content unchanged, hashes are now keyed.
        for (old, new) in before.iter().zip(&after) {
            assert_eq!(
                (old.seq, &old.action, &old.after),
                (new.seq, &new.action, &new.after)
            );
        }
        rekeyed.close().await;
        // Opening again does nothing more.
        let again = reopen(ctx, StoreOptions::default()).await.unwrap();
        assert_eq!(all_audit(&*again, &sys()).await.len(), after.len());
        again.close().await;
    }

    pub async fn verify_streams_in_constant_memory(ctx: &Ctx) {
        let s = &*ctx.store;
        user(s, "someone", Role::Reporter).await;
        let key = key_of(ctx);
        let added = common::bulk_audit(ctx, &key, 60_000, 512).await;
        let total = all_audit_count(ctx).await;
        assert_eq!(total, added + 1);
        let before_kib = common::reset_peak_rss_kib();
        let started = std::time::Instant::now();
        let r = s.verify_audit(&sys()).await.unwrap();
        let took = started.elapsed();
        let peak_kib = common::peak_rss_kib();
        assert_eq!(
            r,
            AuditReport {
                entries: total,
                fault: None
            }
        );
        let growth_mib = peak_kib.saturating_sub(before_kib) / 1024;
        eprintln!(
            "verified {total} entries in {took:?}; peak RSS {} MiB -> {} MiB",
            before_kib / 1024,
            peak_kib / 1024
        );
        // Loading 60,000 entries of ~0.7 KiB whole would take well over
        // 100 MiB (text plus parsed JSON); a page of them takes a few.
        assert!(growth_mib < 48, "peak RSS grew by {growth_mib} MiB");
        // An edit deep in the bulk is still named.
        ctx.raw_exec("UPDATE audit_log SET action = 'bulk.edited' WHERE seq = 45678")
            .await;
        let r = s.verify_audit(&sys()).await.unwrap();
        assert_eq!(r.fault.map(|f| f.seq), Some(45_678));
    }

    async fn all_audit_count(ctx: &Ctx) -> i64 {
        let pool = ctx.raw().await;
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM audit_log")
            .fetch_one(&pool)
            .await
            .unwrap();
        pool.close().await;
        n
    }

    fn tok(n: u8) -> String {
        format!("wp_{}", hex::encode([n; 32]))
    }

    pub async fn tokens_expire_revoke_and_rotate(ctx: &Ctx) {
        let s = &*ctx.store;
        let c = cast(s).await;
        let a = c.reporter_a;
        let in_a_day = now() + Duration::days(1);
        // Expiry must be in the future.
        assert!(matches!(
            s.issue_token(
                &a,
                a.user_id,
                NewToken {
                    label: "old".into(),
                    hash: TokenHash::of(&tok(1)),
                    expires_at: Some(now() - Duration::seconds(1)),
                },
            )
            .await,
            Err(StoreError::Invalid(_))
        ));
        // Only the user (or the system viewer) issues their tokens: an admin
        // holding alice's token would read alice's sensitive reports.
        let laptop = NewToken {
            label: "laptop".into(),
            hash: TokenHash::of(&tok(2)),
            expires_at: Some(in_a_day),
        };
        assert!(matches!(
            s.issue_token(&c.admin, a.user_id, laptop.clone()).await,
            Err(StoreError::Forbidden(_))
        ));
        assert!(matches!(
            s.issue_token(&c.reporter_b, a.user_id, laptop.clone())
                .await,
            Err(StoreError::NotFound(_))
        ));
        let t = s.issue_token(&a, a.user_id, laptop).await.unwrap();
        assert_eq!(t.expires_at, Some(incidents_micros(in_a_day)));
        let cli = s
            .issue_token(
                &sys(),
                a.user_id,
                NewToken {
                    label: "cli".into(),
                    hash: TokenHash::of(&tok(3)),
                    expires_at: None,
                },
            )
            .await
            .unwrap();
        assert_eq!(
            s.authenticate(TokenHash::of(&tok(2)))
                .await
                .unwrap()
                .unwrap()
                .1,
            a
        );

        // Listing and reading: the owner and admins; others get not found.
        let listed: Vec<String> = s
            .list_tokens(&c.admin, a.user_id)
            .await
            .unwrap()
            .into_iter()
            .map(|t| t.label)
            .collect();
        assert_eq!(listed, ["laptop", "cli"]);
        assert_eq!(s.get_token(&a, t.id).await.unwrap(), t);
        assert!(matches!(
            s.get_token(&c.reporter_b, t.id).await,
            Err(StoreError::NotFound(_))
        ));
        assert!(matches!(
            s.revoke_token(&c.responder, t.id).await,
            Err(StoreError::NotFound(_))
        ));

        // An expired token authenticates as nobody.
        ctx.raw_exec(&format!(
            "UPDATE api_tokens SET expires_at = 1 WHERE id = '{}'",
            t.id
        ))
        .await;
        assert!(
            s.authenticate(TokenHash::of(&tok(2)))
                .await
                .unwrap()
                .is_none()
        );
        assert!(s.get_token(&a, t.id).await.unwrap().is_expired(now()));
        ctx.raw_exec(&format!(
            "UPDATE api_tokens SET expires_at = {} WHERE id = '{}'",
            (in_a_day.unix_timestamp_nanos() / 1000) as i64,
            t.id
        ))
        .await;
        assert!(
            s.authenticate(TokenHash::of(&tok(2)))
                .await
                .unwrap()
                .is_some()
        );

        // Rotation: the old token stops, the new one works, with the same
        // label and lifetime; admins may not rotate others' tokens.
        assert!(matches!(
            s.rotate_token(&c.admin, t.id, TokenHash::of(&tok(4))).await,
            Err(StoreError::Forbidden(_))
        ));
        let rotated = s
            .rotate_token(&a, t.id, TokenHash::of(&tok(4)))
            .await
            .unwrap();
        assert_ne!(rotated.id, t.id);
        assert_eq!(rotated.label, "laptop");
        assert_eq!(
            rotated.expires_at.unwrap() - rotated.created_at,
            t.expires_at.unwrap() - t.created_at
        );
        assert!(
            s.authenticate(TokenHash::of(&tok(2)))
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(
            s.authenticate(TokenHash::of(&tok(4)))
                .await
                .unwrap()
                .unwrap()
                .1,
            a
        );
        assert!(s.get_token(&a, t.id).await.unwrap().revoked);
        assert!(matches!(
            s.rotate_token(&a, t.id, TokenHash::of(&tok(5))).await,
            Err(StoreError::Conflict(_))
        ));

        // Revocation, one by one: the other token keeps working.
        s.revoke_token(&c.admin, rotated.id).await.unwrap();
        assert!(
            s.authenticate(TokenHash::of(&tok(4)))
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            s.authenticate(TokenHash::of(&tok(3)))
                .await
                .unwrap()
                .is_some()
        );
        assert!(matches!(
            s.revoke_token(&a, rotated.id).await,
            Err(StoreError::Conflict(_))
        ));
        s.revoke_token(&a, cli.id).await.unwrap();
        assert!(
            s.authenticate(TokenHash::of(&tok(3)))
                .await
                .unwrap()
                .is_none()
        );

        // Every action is audited, and no entry holds a token or its hash.
        let entries = all_audit(s, &sys()).await;
        let actions: Vec<&str> = entries
            .iter()
            .filter(|e| e.entity == "token")
            .map(|e| e.action.as_str())
            .collect();
        assert_eq!(
            actions,
            [
                "token.create",
                "token.create",
                "token.rotate",
                "token.revoke",
                "token.revoke"
            ]
        );
        let rotate = entries.iter().find(|e| e.action == "token.rotate").unwrap();
        assert_eq!(rotate.actor, a.user_id);
        assert_eq!(rotate.after["issued"]["id"], rotated.id.to_string());
        for e in &entries {
            let text = format!("{} {}", e.before, e.after);
            for n in 1..=5 {
                assert!(
                    !text.contains(&tok(n)[3..]),
                    "{}: token in the audit",
                    e.action
                );
                assert!(
                    !text.contains(&TokenHash::of(&tok(n)).to_hex()),
                    "{}: hash in the audit",
                    e.action
                );
            }
        }
        assert!(s.verify_audit(&sys()).await.unwrap().is_ok());
    }

    fn incidents_micros(t: OffsetDateTime) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp_nanos(t.unix_timestamp_nanos() / 1000 * 1000).unwrap()
    }

    pub async fn sensitive_reads_are_audited(ctx: &Ctx) {
        let s = &*ctx.store;
        let c = cast(s).await;
        let mut new = report(Category::Harassment, true, "what he said at lunch");
        new.attachments = vec![NewAttachment {
            filename: "chat.txt".into(),
            content_type: "text/plain".into(),
            bytes: b"the chat log".to_vec(),
        }];
        let hidden = s.file_report(&c.reporter_a, new).await.unwrap();
        let open = s
            .file_report(&c.reporter_a, report(Category::Theft, false, "bike"))
            .await
            .unwrap();
        let reads = |entries: &[AuditEntry]| -> Vec<(String, String, Option<IncidentId>, UserId)> {
            entries
                .iter()
                .filter(|e| e.action.ends_with(".read") || e.action.ends_with(".download"))
                .map(|e| {
                    (
                        e.action.clone(),
                        e.entity_id.clone(),
                        e.incident_id,
                        e.actor,
                    )
                })
                .collect()
        };
        let base = all_audit(s, &sys()).await.len();

        // A responder reading the sensitive incident: exactly one entry.
        s.get_incident(&c.responder, hidden.incident_id)
            .await
            .unwrap();
        let entries = all_audit(s, &sys()).await;
        assert_eq!(entries.len(), base + 1);
        assert_eq!(
            reads(&entries),
            [(
                "incident.read".to_owned(),
                hidden.incident_id.to_string(),
                Some(hidden.incident_id),
                c.responder.user_id
            )]
        );
        let entry = entries.last().unwrap();
        assert_eq!(entry.before, serde_json::Value::Null);
        assert!(
            !entry.after.to_string().contains("lunch"),
            "no content copied"
        );

        // A non-sensitive incident: none. The system viewer: none. A
        // reporter who can't see it: not found, and none.
        s.get_incident(&c.responder, open.incident_id)
            .await
            .unwrap();
        s.get_incident(&sys(), hidden.incident_id).await.unwrap();
        assert!(matches!(
            s.get_incident(&c.reporter_b, hidden.incident_id).await,
            Err(StoreError::NotFound(_))
        ));
        assert!(matches!(
            s.get_incident(&c.admin, hidden.incident_id).await,
            Err(StoreError::NotFound(_))
        ));
        assert!(matches!(
            s.get_report(&c.reporter_b, hidden.id).await,
            Err(StoreError::NotFound(_))
        ));
        s.get_report(&c.responder, open.id).await.unwrap();
        assert_eq!(all_audit(s, &sys()).await.len(), base + 1);

        // The sensitive report and its attachment, read by finance-ops and
        // by the reporter herself.
        s.get_report(&c.finance, hidden.id).await.unwrap();
        let att = hidden.attachments[0].id;
        let (_, bytes) = s.read_attachment(&c.reporter_a, att).await.unwrap();
        assert_eq!(bytes, b"the chat log");
        assert!(matches!(
            s.read_attachment(&c.reporter_b, att).await,
            Err(StoreError::NotFound(_))
        ));
        let entries = all_audit(s, &sys()).await;
        assert_eq!(entries.len(), base + 3);
        assert_eq!(
            reads(&entries)[1..],
            [
                (
                    "report.read".to_owned(),
                    hidden.id.to_string(),
                    Some(hidden.incident_id),
                    c.finance.user_id
                ),
                (
                    "attachment.download".to_owned(),
                    att.to_string(),
                    Some(hidden.incident_id),
                    c.reporter_a.user_id
                ),
            ]
        );
        // Visible under the audit rules: responders see them, the admin
        // (who may not see the incident) does not.
        assert_eq!(reads(&all_audit(s, &c.responder).await).len(), 3);
        assert!(reads(&all_audit(s, &c.admin).await).is_empty());
        assert!(s.verify_audit(&sys()).await.unwrap().is_ok());
    }

    /// A batch is stored as the same alerts one at a time would be: a key
    /// stored before, and a key repeated in the batch, are duplicates; a
    /// refused alert keeps its error in its place and the others go in.
    pub async fn alert_batches_store_as_one_at_a_time(ctx: &Ctx) {
        let s = &*ctx.store;
        let c = cast(s).await;
        let v = &c.responder;
        let t = now() - Duration::minutes(10);
        let keyed = |key: &str, at: OffsetDateTime| NewAlert {
            key: Some(key.into()),
            ..alert("r-brute", "mallory", at)
        };
        let first = s.ingest_alert(v, keyed("k1", t)).await.unwrap();
        let opened = first.incident_id.expect("opens an incident");
        let audit = raw_count(ctx, "SELECT COUNT(*) FROM audit_log").await;
        let mut invalid = alert("r-bad", "eve", t);
        invalid.rule_id = String::new();
        let answers = s
            .ingest_alerts(
                v,
                vec![
                    keyed("k1", t),
                    keyed("k2", t + Duration::minutes(1)),
                    keyed("k2", t + Duration::minutes(1)),
                    invalid,
                    alert("r-other", "trent", t),
                ],
            )
            .await
            .unwrap();
        assert_eq!(answers.len(), 5);
        assert_eq!(
            answers[0].as_ref().unwrap(),
            &AlertOutcome {
                duplicate: true,
                ..first
            }
        );
        let grouped = answers[1].as_ref().unwrap();
        assert_eq!(
            (grouped.disposition, grouped.incident_id, grouped.duplicate),
            (AlertDisposition::Grouped, Some(opened), false)
        );
        assert_eq!(
            answers[2].as_ref().unwrap(),
            &AlertOutcome {
                duplicate: true,
                ..*grouped
            }
        );
        assert!(
            matches!(&answers[3], Err(StoreError::Invalid(m)) if m.contains("rule_id")),
            "{:?}",
            answers[3]
        );
        let other = answers[4].as_ref().unwrap();
        assert_eq!(other.disposition, AlertDisposition::Opened);
        assert_ne!(other.incident_id, Some(opened));
        // k1, k2 and the unkeyed one; two incidents; one audit entry for
        // each alert the batch stored.
        assert_eq!(raw_count(ctx, "SELECT COUNT(*) FROM alerts").await, 3);
        assert_eq!(raw_count(ctx, "SELECT COUNT(*) FROM incidents").await, 2);
        assert!(raw_count(ctx, "SELECT COUNT(*) FROM audit_log").await >= audit + 2);
        let incident = s.get_incident(v, opened).await.unwrap();
        assert_eq!(incident.incident.alert_count, 2);
        assert_eq!(incident.alerts.len(), 2);
        // A batch of one, and an empty batch.
        let one = s.ingest_alerts(v, vec![keyed("k2", t)]).await.unwrap();
        assert!(one[0].as_ref().unwrap().duplicate);
        assert!(s.ingest_alerts(v, Vec::new()).await.unwrap().is_empty());
        // Reporters may not ingest, in a batch or not.
        assert!(matches!(
            s.ingest_alerts(&c.reporter_a, vec![keyed("k9", t)]).await,
            Err(StoreError::Forbidden(_))
        ));
    }

    /// A key makes ingest idempotent: the same key again answers the first
    /// alert and writes nothing; another key is another alert (grouped as
    /// usual); alerts without a key never collide.
    pub async fn alert_keys_make_ingest_idempotent(ctx: &Ctx) {
        let s = &*ctx.store;
        let c = cast(s).await;
        let v = &c.responder;
        let t = now() - Duration::minutes(10);
        let keyed = |key: &str, at: OffsetDateTime| NewAlert {
            key: Some(key.into()),
            ..alert("r-brute", "mallory", at)
        };
        let key = "r-brute|user=mallory|10:00";
        let first = s.ingest_alert(v, keyed(key, t)).await.unwrap();
        let iid = first.incident_id.expect("opens an incident");
        assert_eq!(
            first,
            AlertOutcome {
                alert_id: first.alert_id,
                disposition: AlertDisposition::Opened,
                incident_id: Some(iid),
                duplicate: false,
            }
        );
        assert_eq!(
            s.get_alert(v, first.alert_id).await.unwrap().key.as_deref(),
            Some(key)
        );
        let audit = raw_count(ctx, "SELECT COUNT(*) FROM audit_log").await;
        let timeline = raw_count(ctx, "SELECT COUNT(*) FROM timeline").await;
        let outbox = raw_count(ctx, "SELECT COUNT(*) FROM outbox").await;

        // A replay, and a retry carrying other evidence: the first one's
        // outcome, and nothing written.
        let mut retry = keyed(key, t);
        retry.evidence = vec![serde_json::json!({"EventID": 4625, "retry": true})];
        for again in [keyed(key, t), retry] {
            assert_eq!(
                s.ingest_alert(v, again).await.unwrap(),
                AlertOutcome {
                    alert_id: first.alert_id,
                    disposition: AlertDisposition::Opened,
                    incident_id: Some(iid),
                    duplicate: true,
                }
            );
        }
        assert_eq!(raw_count(ctx, "SELECT COUNT(*) FROM alerts").await, 1);
        assert_eq!(
            raw_count(
                ctx,
                "SELECT COUNT(*) FROM alerts WHERE dedup_key = 'r-brute|user=mallory|10:00'"
            )
            .await,
            1
        );
        assert_eq!(raw_count(ctx, "SELECT COUNT(*) FROM incidents").await, 1);
        assert_eq!(
            raw_count(ctx, "SELECT COUNT(*) FROM audit_log").await,
            audit
        );
        assert_eq!(
            raw_count(ctx, "SELECT COUNT(*) FROM timeline").await,
            timeline
        );
        assert_eq!(raw_count(ctx, "SELECT COUNT(*) FROM outbox").await, outbox);
        assert_eq!(
            s.get_incident(v, iid).await.unwrap().incident.alert_count,
            1
        );

        // The next time bucket is another key: a second alert, grouped
        // into the same incident.
        let next = s
            .ingest_alert(
                v,
                keyed("r-brute|user=mallory|10:05", t + Duration::minutes(5)),
            )
            .await
            .unwrap();
        assert_eq!(next.disposition, AlertDisposition::Grouped);
        assert_eq!(next.incident_id, Some(iid));
        assert!(!next.duplicate);
        assert_ne!(next.alert_id, first.alert_id);
        // Alerts without a key are never duplicates of each other.
        for _ in 0..2 {
            let out = s
                .ingest_alert(v, alert("r-brute", "mallory", t + Duration::minutes(6)))
                .await
                .unwrap();
            assert_eq!(
                (out.disposition, out.incident_id, out.duplicate),
                (AlertDisposition::Grouped, Some(iid), false)
            );
        }
        assert_eq!(raw_count(ctx, "SELECT COUNT(*) FROM alerts").await, 4);
        assert_eq!(
            raw_count(ctx, "SELECT COUNT(*) FROM alerts WHERE dedup_key IS NULL").await,
            2
        );
        assert_eq!(
            s.get_incident(v, iid).await.unwrap().incident.alert_count,
            4
        );

        // A replay after a responder dismissed the alert answers it as it
        // is now, and still writes nothing.
        s.dismiss_alert(v, first.alert_id, "noise").await.unwrap();
        let audit = raw_count(ctx, "SELECT COUNT(*) FROM audit_log").await;
        assert_eq!(
            s.ingest_alert(v, keyed(key, t)).await.unwrap(),
            AlertOutcome {
                alert_id: first.alert_id,
                disposition: AlertDisposition::Dismissed,
                incident_id: None,
                duplicate: true,
            }
        );
        assert_eq!(
            raw_count(ctx, "SELECT COUNT(*) FROM audit_log").await,
            audit
        );
        assert_eq!(
            s.get_incident(v, iid).await.unwrap().incident.alert_count,
            3
        );

        // Keys that are empty, longer than 200 bytes or not printable
        // ASCII are refused; nothing is stored.
        let long = "k".repeat(201);
        for bad in ["", long.as_str(), "tab\there", "naïve", "line\n"] {
            let e = s.ingest_alert(v, keyed(bad, t)).await.unwrap_err();
            assert!(
                matches!(&e, StoreError::Invalid(m) if m.contains("key")),
                "{bad:?}: {e:?}"
            );
        }
        s.ingest_alert(v, keyed(&"k".repeat(200), t)).await.unwrap();
        assert_eq!(raw_count(ctx, "SELECT COUNT(*) FROM alerts").await, 5);
        assert!(s.verify_audit(&sys()).await.unwrap().is_ok());
    }

    /// `queue_only` keeps an alert in the queue without an incident; a
    /// responder promotes or dismisses it. Suppression comes first.
    pub async fn queued_alerts_wait_for_a_responder(ctx: &Ctx) {
        let s = &*ctx.store;
        let c = cast(s).await;
        let v = &c.responder;
        let t = now();
        let queued = |rule: &str, user: &str| NewAlert {
            level: AlertLevel::Low,
            queue_only: true,
            group: None,
            ..alert(rule, user, t)
        };
        let a = s
            .ingest_alert(&sys(), queued("r-low", "eve"))
            .await
            .unwrap();
        assert_eq!(
            a,
            AlertOutcome {
                alert_id: a.alert_id,
                disposition: AlertDisposition::Queued,
                incident_id: None,
                duplicate: false,
            }
        );
        // The same rule and entities again: queued too, never grouped.
        let b = s
            .ingest_alert(&sys(), queued("r-low", "eve"))
            .await
            .unwrap();
        assert_eq!(
            (b.disposition, b.incident_id),
            (AlertDisposition::Queued, None)
        );
        assert_eq!(raw_count(ctx, "SELECT COUNT(*) FROM incidents").await, 0);
        assert_eq!(raw_count(ctx, "SELECT COUNT(*) FROM timeline").await, 0);
        let stored = s.get_alert(v, a.alert_id).await.unwrap();
        assert_eq!(
            (stored.disposition, stored.incident_id, stored.key),
            (AlertDisposition::Queued, None, None)
        );
        let audit = all_audit(s, &sys()).await;
        let queue_entries: Vec<&str> = audit
            .iter()
            .filter(|e| e.action == "alert.queue")
            .map(|e| e.entity_id.as_str())
            .collect();
        assert_eq!(
            queue_entries,
            vec![a.alert_id.to_string(), b.alert_id.to_string()]
        );
        // The queue is the alert list filtered on the disposition: staff
        // see it, a reporter does not.
        let queue = AlertFilter {
            disposition: Some(AlertDisposition::Queued),
            ..AlertFilter::default()
        };
        let ids = |p: Page<Alert>| p.items.iter().map(|a| a.id).collect::<Vec<_>>();
        let page = PageRequest::first(50);
        assert_eq!(
            ids(s.list_alerts(v, &queue, &page).await.unwrap()),
            vec![b.alert_id, a.alert_id]
        );
        assert_eq!(
            ids(s.list_alerts(&c.admin, &queue, &page).await.unwrap()),
            vec![b.alert_id, a.alert_id]
        );
        assert_eq!(
            ids(s.list_alerts(&c.reporter_a, &queue, &page).await.unwrap()),
            vec![]
        );

        // A responder promotes one: it opens its own incident.
        let inc = s.promote_alert(v, a.alert_id).await.unwrap();
        assert_eq!(inc.alert_count, 1);
        assert_eq!(inc.severity, Severity::Sev4);
        assert_eq!(inc.group_key.as_deref(), Some("r-low\u{1f}user=eve"));
        let promoted = s.get_alert(v, a.alert_id).await.unwrap();
        assert_eq!(
            (promoted.disposition, promoted.incident_id),
            (AlertDisposition::Opened, Some(inc.id))
        );
        assert!(matches!(
            s.promote_alert(v, a.alert_id).await,
            Err(StoreError::Conflict(_))
        ));
        // And dismisses the other: the queue is empty.
        let dismissed = s
            .dismiss_alert(v, b.alert_id, "below the bar")
            .await
            .unwrap();
        assert_eq!(
            (dismissed.disposition, dismissed.incident_id),
            (AlertDisposition::Dismissed, None)
        );
        assert_eq!(ids(s.list_alerts(v, &queue, &page).await.unwrap()), vec![]);

        // Suppression comes first: a suppressed detection stays suppressed.
        let rule = s
            .create_suppression(
                v,
                NewSuppression {
                    rule_id: "r-low".into(),
                    entities: BTreeMap::new(),
                    reason: "known scanner".into(),
                    expires_at: None,
                },
            )
            .await
            .unwrap();
        let sup = s
            .ingest_alert(&sys(), queued("r-low", "eve"))
            .await
            .unwrap();
        assert_eq!(
            (sup.disposition, sup.incident_id),
            (AlertDisposition::Suppressed, None)
        );
        assert_eq!(
            s.get_alert(v, sup.alert_id).await.unwrap().suppressed_by,
            Some(rule.id)
        );

        // Queued and keyed: a replay answers the queued alert.
        let keyed = NewAlert {
            key: Some("r-info|user=zed|12:00".into()),
            ..queued("r-info", "zed")
        };
        let q = s.ingest_alert(&sys(), keyed.clone()).await.unwrap();
        assert_eq!(q.disposition, AlertDisposition::Queued);
        assert_eq!(
            s.ingest_alert(&sys(), keyed).await.unwrap(),
            AlertOutcome {
                duplicate: true,
                ..q
            }
        );
        // One incident in all: the promoted one.
        assert_eq!(raw_count(ctx, "SELECT COUNT(*) FROM incidents").await, 1);
        assert_eq!(raw_count(ctx, "SELECT COUNT(*) FROM alerts").await, 4);
        assert!(s.verify_audit(&sys()).await.unwrap().is_ok());
    }

    /// Eight ingests of one key at once, through two stores on the same
    /// database (two processes): one alert, one incident; the other seven
    /// answer it. Eight different keys at once: eight alerts, one incident.
    pub async fn concurrent_ingests_of_one_key_store_one_alert(ctx: &Ctx) {
        let one = ctx.store.clone();
        let two = incidents::open_with(
            &ctx.url,
            StoreOptions {
                data_dir: Some(ctx.dir.path().to_owned()),
                max_connections: 4,
                ..StoreOptions::default()
            },
        )
        .await
        .unwrap();
        let t = now();
        let race = async |rule: &str, keys: Vec<String>| -> Vec<AlertOutcome> {
            let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(keys.len()));
            let mut tasks = Vec::new();
            for (n, key) in keys.into_iter().enumerate() {
                let store = if n % 2 == 0 { one.clone() } else { two.clone() };
                let barrier = barrier.clone();
                let new = NewAlert {
                    key: Some(key),
                    ..alert(rule, "mallory", t)
                };
                tasks.push(tokio::spawn(async move {
                    barrier.wait().await;
                    store.ingest_alert(&Viewer::system(), new).await.unwrap()
                }));
            }
            let mut out = Vec::new();
            for task in tasks {
                out.push(task.await.unwrap());
            }
            out
        };

        let outcomes = race("r-race", vec!["r-race|user=mallory|0".to_owned(); 8]).await;
        let stored: Vec<&AlertOutcome> = outcomes.iter().filter(|o| !o.duplicate).collect();
        assert_eq!(stored.len(), 1, "{outcomes:?}");
        let first = *stored[0];
        assert_eq!(first.disposition, AlertDisposition::Opened);
        for o in &outcomes {
            assert_eq!(
                (o.alert_id, o.disposition, o.incident_id),
                (first.alert_id, first.disposition, first.incident_id)
            );
        }
        assert_eq!(raw_count(ctx, "SELECT COUNT(*) FROM alerts").await, 1);
        assert_eq!(raw_count(ctx, "SELECT COUNT(*) FROM incidents").await, 1);
        assert_eq!(raw_count(ctx, "SELECT alert_count FROM incidents").await, 1);
        for action in ["alert.open", "incident.open"] {
            assert_eq!(
                raw_count(
                    ctx,
                    &format!("SELECT COUNT(*) FROM audit_log WHERE action = '{action}'")
                )
                .await,
                1,
                "{action}"
            );
        }

        let keys = (0..8)
            .map(|n| format!("r-race2|user=mallory|{n}"))
            .collect();
        let outcomes = race("r-race2", keys).await;
        let opened = outcomes
            .iter()
            .filter(|o| o.disposition == AlertDisposition::Opened)
            .count();
        let grouped = outcomes
            .iter()
            .filter(|o| o.disposition == AlertDisposition::Grouped)
            .count();
        assert_eq!((opened, grouped), (1, 7), "{outcomes:?}");
        assert!(outcomes.iter().all(|o| !o.duplicate));
        let incident = outcomes[0].incident_id;
        assert!(outcomes.iter().all(|o| o.incident_id == incident));
        assert_eq!(
            raw_count(ctx, "SELECT COUNT(*) FROM alerts WHERE rule_id = 'r-race2'").await,
            8
        );
        let i = one
            .get_incident(&sys(), incident.unwrap())
            .await
            .unwrap()
            .incident;
        assert_eq!(i.alert_count, 8);
        two.close().await;
        assert!(one.verify_audit(&sys()).await.unwrap().is_ok());
    }

    /// When the first alert with a key is committed only after a second
    /// ingest has looked for it (another writer held it uncommitted), the
    /// second ingest is settled by the unique index (PostgreSQL) or the
    /// write lock (SQLite): it answers the first, and everything it wrote
    /// (its incident, timeline, audit entries) is rolled back.
    pub async fn a_racing_first_alert_wins(ctx: &Ctx) {
        use sqlx::Executor;
        let s = ctx.store.clone();
        let key = "r-held|user=root|bucket";
        let audit = raw_count(ctx, "SELECT COUNT(*) FROM audit_log").await;
        let pool = ctx.raw().await;
        let mut writer = pool.begin().await.unwrap();
        let first = AlertId::new();
        let micros = now().unix_timestamp() * 1_000_000;
        writer
            .execute(sqlx::AssertSqlSafe(format!(
                "INSERT INTO alerts (id, rule_id, rule_title, level, entities, evidence, detected_at, disposition, created_at, dedup_key) \
                 VALUES ('{first}', 'r-held', 'Rule r-held', 'high', '{{}}', '[]', {micros}, 'queued', {micros}, '{key}')"
            )))
            .await
            .unwrap();
        let ingest = tokio::spawn({
            let s = s.clone();
            async move {
                s.ingest_alert(
                    &Viewer::system(),
                    NewAlert {
                        key: Some(key.into()),
                        ..alert("r-held", "root", now())
                    },
                )
                .await
            }
        });
        if s.backend() == Backend::Postgres {
            // Wait until the ingest's insert is blocked on the held row.
            let watch = ctx.raw().await;
            let mut waited = 0;
            loop {
                let (n,): (i64,) = sqlx::query_as(
                    "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
                )
                .fetch_one(&watch)
                .await
                .unwrap();
                if n > 0 {
                    break;
                }
                waited += 1;
                assert!(waited < 500, "the ingest never reached the held row");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            watch.close().await;
        } else {
            // SQLite: the ingest waits for the write lock meanwhile.
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        }
        writer.commit().await.unwrap();
        pool.close().await;
        let out = ingest.await.unwrap().unwrap();
        assert_eq!(
            out,
            AlertOutcome {
                alert_id: first,
                disposition: AlertDisposition::Queued,
                incident_id: None,
                duplicate: true,
            }
        );
        assert_eq!(raw_count(ctx, "SELECT COUNT(*) FROM alerts").await, 1);
        assert_eq!(raw_count(ctx, "SELECT COUNT(*) FROM incidents").await, 0);
        assert_eq!(raw_count(ctx, "SELECT COUNT(*) FROM timeline").await, 0);
        assert_eq!(raw_count(ctx, "SELECT COUNT(*) FROM outbox").await, 0);
        assert_eq!(
            raw_count(ctx, "SELECT COUNT(*) FROM audit_log").await,
            audit
        );
        assert!(s.verify_audit(&sys()).await.unwrap().is_ok());
    }
}

on_both_databases!(
    migration_from_empty,
    every_lifecycle_move,
    closing_requires_impact_and_resolution,
    backdating_never_gives_negative_metrics,
    alerts_group_within_window,
    suppression_rules,
    manual_merge_moves_links,
    sensitive_visibility_per_role,
    write_permissions,
    audit_chain_records_every_change,
    tamper_edit_one_byte,
    tamper_delete_row,
    tamper_swap_rows,
    outbox_flow,
    users_and_tokens,
    filtered_pagination,
    source_filter_matches_only_what_the_viewer_reads,
    attachments_are_content_addressed,
    attachments_added_after_filing,
    keyed_chain_detects_a_forger_without_the_key,
    unkeyed_chain_is_rekeyed_once_by_a_new_key,
    verify_streams_in_constant_memory,
    tokens_expire_revoke_and_rotate,
    sensitive_reads_are_audited,
    alert_keys_make_ingest_idempotent,
    alert_batches_store_as_one_at_a_time,
    queued_alerts_wait_for_a_responder,
    concurrent_ingests_of_one_key_store_one_alert,
    a_racing_first_alert_wins,
);

/// Passwords and browser sessions (`sign_in::sqlite::*`,
/// `sign_in::postgres::*`, `sign_in::existing_data::*`).
#[path = "conformance/sign_in.rs"]
mod sign_in;

/// SLA escalations and incident sources (`sla::sqlite::*`,
/// `sla::postgres::*`).
#[path = "conformance/sla.rs"]
mod sla;

/// Per-user limits on both databases, with small limits: reports per hour
/// and attachment bytes per user and in total. A refusal changes nothing.
mod quotas {
    use super::common::{self, Ctx, cast};
    use super::incidents::*;
    use super::{all_audit, report, sys};

    fn options() -> StoreOptions {
        StoreOptions {
            max_reports_per_hour: 2,
            max_attachment_bytes_per_user: 100,
            max_attachment_bytes_total: 150,
            ..StoreOptions::default()
        }
    }

    fn file(name: &str, len: usize) -> NewAttachment {
        NewAttachment {
            filename: name.into(),
            content_type: "text/plain".into(),
            bytes: name.bytes().cycle().take(len).collect(),
        }
    }

    async fn case(ctx: &Ctx) {
        let s = &*ctx.store;
        let c = cast(s).await;
        let first = s
            .file_report(&c.reporter_a, report(Category::Theft, false, "one"))
            .await
            .unwrap();
        s.file_report(&c.reporter_a, report(Category::Theft, false, "two"))
            .await
            .unwrap();
        let audit_before = all_audit(s, &sys()).await.len();
        // The third within the hour is refused, and says when to retry:
        // when the first leaves the window, an hour after it was filed.
        match s
            .file_report(&c.reporter_a, report(Category::Theft, false, "three"))
            .await
        {
            Err(StoreError::RateLimited {
                retry_after_secs,
                message,
            }) => {
                assert!(
                    (3590..=3600).contains(&retry_after_secs),
                    "{retry_after_secs}"
                );
                assert!(message.contains("at most 2 per hour"), "{message}");
            }
            other => panic!("expected RateLimited, got {other:?}"),
        }
        assert_eq!(all_audit(s, &sys()).await.len(), audit_before);
        // Others, and the system actor, are not limited by alice's count.
        s.file_report(&c.reporter_b, report(Category::Theft, false, "b"))
            .await
            .unwrap();
        s.file_report(&sys(), report(Category::Theft, false, "sys"))
            .await
            .unwrap();
        let audit_before = all_audit(s, &sys()).await.len();

        // Bytes per user: 60 + 50 would pass 100; 40 fits exactly.
        s.add_attachment(&c.reporter_a, first.id, file("a60", 60))
            .await
            .unwrap();
        assert!(matches!(
            s.add_attachment(&c.reporter_a, first.id, file("a50", 50)).await,
            Err(StoreError::QuotaExceeded(m)) if m.contains("40 of your 100 bytes")
        ));
        s.add_attachment(&c.reporter_a, first.id, file("a40", 40))
            .await
            .unwrap();
        // Nothing left for alice: staging is refused at once.
        assert!(matches!(
            s.stage_attachment(&c.reporter_a).await,
            Err(StoreError::QuotaExceeded(_))
        ));
        // In total: 100 stored, so the responder may add 50 but not 51.
        let mut staged = s.stage_attachment(&c.responder).await.unwrap();
        staged.write(&[7; 30]).await.unwrap();
        assert!(matches!(
            staged.write(&[7; 21]).await,
            Err(StoreError::QuotaExceeded(m)) if m.contains("storage is full")
        ));
        drop(staged);
        let mut staged = s.stage_attachment(&c.responder).await.unwrap();
        staged.write(&[8; 50]).await.unwrap();
        let added = s
            .add_staged_attachment(
                &c.responder,
                first.id,
                "r50".into(),
                "text/plain".into(),
                staged,
            )
            .await
            .unwrap();
        assert_eq!(added.size, 50);

        // Nothing accepted before was lost; the refusals wrote nothing.
        let names: Vec<String> = s
            .get_report(&c.reporter_a, first.id)
            .await
            .unwrap()
            .attachments
            .into_iter()
            .map(|a| a.filename)
            .collect();
        assert_eq!(names.len(), 3, "{names:?}");
        for name in ["a60", "a40", "r50"] {
            assert!(names.iter().any(|n| n == name), "{names:?}");
        }
        let reports = s
            .list_reports(
                &c.reporter_a,
                &ReportFilter::default(),
                &PageRequest::default(),
            )
            .await
            .unwrap();
        assert_eq!(reports.items.len(), 2);
        // Three attachments since: three entries, no more.
        assert_eq!(all_audit(s, &sys()).await.len(), audit_before + 3);
        // No staged file is left behind.
        let incoming = ctx.dir.path().join("attachments").join("incoming");
        assert_eq!(std::fs::read_dir(&incoming).unwrap().count(), 0);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let a = &s
                .get_report(&c.reporter_a, first.id)
                .await
                .unwrap()
                .attachments[0];
            let dir = ctx.dir.path().join("attachments").join(&a.sha256[..2]);
            let mode =
                |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&dir), 0o700);
            assert_eq!(mode(&dir.join(&a.sha256)), 0o600);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        let ctx = common::sqlite(options()).await;
        case(&ctx).await;
        ctx.finish().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        let ctx = common::postgres(options()).await;
        case(&ctx).await;
        ctx.finish().await;
    }
}
