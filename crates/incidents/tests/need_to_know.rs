//! Need-to-know holes, each reproduced as a caller would probe it, on
//! SQLite and PostgreSQL. Every expected value here is written by hand from
//! the access rules in `crates/incidents/src/access.rs`' module docs, not
//! read back from the store.

use watchpost_incidents as incidents;

mod common;

use std::collections::BTreeMap;

use common::{Ctx, cast, report, user};
use incidents::*;

fn manual(title: &str, sensitive: bool) -> NewIncident {
    NewIncident {
        title: title.into(),
        description: format!("{title} description"),
        category: Category::SecurityIncident,
        severity: Severity::Sev3,
        sensitive,
        occurred_at: None,
        detected_at: None,
        reported_at: None,
    }
}

fn text_filter(text: &str) -> IncidentFilter {
    IncidentFilter {
        text: Some(text.into()),
        ..IncidentFilter::default()
    }
}

async fn search(store: &dyn Store, v: &Viewer, text: &str) -> (i64, Vec<IncidentId>) {
    let filter = text_filter(text);
    let total = store.count_incidents(v, &filter).await.unwrap();
    let page = store
        .list_incidents(v, &filter, &PageRequest::default())
        .await
        .unwrap();
    (total, page.items.iter().map(|i| i.id).collect())
}

/// Every audit entry `v` may read, as JSON text.
async fn audit_text(store: &dyn Store, v: &Viewer) -> String {
    let mut out = String::new();
    let mut after = 0;
    loop {
        let page = store.list_audit(v, after, 1000).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.seq;
        for e in &page {
            out.push_str(&serde_json::to_string(e).unwrap());
            out.push('\n');
        }
    }
    out
}

/// Every outbox message that may go to a shared destination, as JSON text.
async fn shared_notices(store: &dyn Store) -> String {
    store
        .list_outbox(&Viewer::system(), None)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| !m.sensitive)
        .map(|m| m.payload.to_json().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Rows in every table a store call could write to, for proving that a
/// refused call wrote nothing.
async fn row_counts(ctx: &Ctx) -> Vec<(&'static str, i64)> {
    let pool = ctx.raw().await;
    let mut out = Vec::new();
    for table in [
        "users",
        "api_tokens",
        "role_grants",
        "incidents",
        "incident_participants",
        "reports",
        "attachments",
        "alerts",
        "suppressions",
        "timeline",
        "notes",
        "tasks",
        "audit_log",
        "outbox",
    ] {
        let (n,): (i64,) =
            sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                .fetch_one(&pool)
                .await
                .unwrap();
        out.push((table, n));
    }
    pool.close().await;
    out
}

/// Asserts that `result` is `Forbidden`.
fn forbidden<T: std::fmt::Debug>(what: &str, result: Result<T>) {
    assert!(
        matches!(result, Err(StoreError::Forbidden(_))),
        "{what}: expected Forbidden, got {result:?}"
    );
}

/// Asserts that `result` is `NotFound`.
fn not_found<T: std::fmt::Debug>(what: &str, result: Result<T>) {
    assert!(
        matches!(result, Err(StoreError::NotFound(_))),
        "{what}: expected NotFound, got {result:?}"
    );
}

mod cases {
    use super::*;

    /// A reporter who is not a named participant sees the incident of
    /// their report without its description; probing `q` must not reveal
    /// it, through the hits or through the total.
    pub async fn search_reads_only_readable_fields(ctx: &Ctx) {
        let s = &*ctx.store;
        let c = cast(s).await;
        let r = s
            .file_report(&c.reporter_a, report(Category::Theft, false, "laptop gone"))
            .await
            .unwrap();
        s.update_incident(
            &c.responder,
            r.incident_id,
            IncidentPatch {
                description: Some("suspect is zebrafish from accounts".into()),
                ..IncidentPatch::default()
            },
        )
        .await
        .unwrap();
        // The reporter cannot read the description...
        let seen = s.get_incident(&c.reporter_a, r.incident_id).await.unwrap();
        assert_eq!(seen.incident.description, "");
        // ...so no probe of it may match, in hits or in the total.
        for probe in ["zebrafish", "zebra", "z", "accounts", "suspect is"] {
            assert_eq!(
                search(s, &c.reporter_a, probe).await,
                (0, vec![]),
                "probe {probe:?}"
            );
        }
        // The responder reads it and finds it.
        assert_eq!(
            search(s, &c.responder, "zebrafish").await,
            (1, vec![r.incident_id])
        );
        // What the reporter can read still matches: the title shown to them.
        assert_eq!(
            search(s, &c.reporter_a, "theft report").await,
            (1, vec![r.incident_id])
        );
    }

    /// The title of a report-opened incident quotes its reporter; a second
    /// reporter whose report is linked in must not read those words.
    pub async fn titles_carry_no_other_reporters_words(ctx: &Ctx) {
        let s = &*ctx.store;
        let c = cast(s).await;
        let first = s
            .file_report(
                &c.reporter_a,
                report(Category::Theft, false, "my colleague Zed took the laptop"),
            )
            .await
            .unwrap();
        let second = s
            .file_report(&c.reporter_b, report(Category::Theft, false, "laptop gone"))
            .await
            .unwrap();
        s.link_report(&c.responder, first.incident_id, second.id)
            .await
            .unwrap();
        let seen_by_b = s
            .get_incident(&c.reporter_b, first.incident_id)
            .await
            .unwrap();
        assert_eq!(seen_by_b.incident.title, "theft report");
        let listed = s
            .list_incidents(
                &c.reporter_b,
                &IncidentFilter::default(),
                &PageRequest::default(),
            )
            .await
            .unwrap();
        // B's report left B's own incident, so B sees only the one it joined.
        let titles: Vec<&str> = listed.items.iter().map(|i| i.title.as_str()).collect();
        assert_eq!(titles, vec!["theft report"]);
        assert_eq!(search(s, &c.reporter_b, "Zed").await, (0, vec![]));
        // Staff still read the full title.
        let full = s
            .get_incident(&c.responder, first.incident_id)
            .await
            .unwrap();
        assert!(
            full.incident.title.contains("Zed"),
            "{}",
            full.incident.title
        );
    }

    /// Merging into a sensitive target must not copy the source's
    /// participants into it.
    pub async fn merge_copies_no_participant_into_sensitive_target(ctx: &Ctx) {
        let s = &*ctx.store;
        let c = cast(s).await;
        let source = s
            .create_incident(&c.responder, manual("printer jam", false))
            .await
            .unwrap();
        s.add_participant(&c.responder, source.id, c.reporter_b.user_id)
            .await
            .unwrap();
        s.add_participant(&c.responder, source.id, c.admin.user_id)
            .await
            .unwrap();
        let target = s
            .file_report(
                &c.reporter_a,
                report(Category::Harassment, true, "it happened"),
            )
            .await
            .unwrap()
            .incident_id;
        s.merge_incidents(&c.responder, source.id, target)
            .await
            .unwrap();
        for v in [&c.reporter_b, &c.admin] {
            assert!(matches!(
                s.get_incident(v, target).await,
                Err(StoreError::NotFound(_))
            ));
            let listed = s
                .list_incidents(v, &IncidentFilter::default(), &PageRequest::default())
                .await
                .unwrap();
            assert!(listed.items.iter().all(|i| i.id != target));
        }
        let detail = s.get_incident(&c.responder, target).await.unwrap();
        assert!(!detail.participants.contains(&c.reporter_b.user_id));
        assert!(!detail.participants.contains(&c.admin.user_id));
    }

    /// A report moved out of a sensitive incident stays sensitive, and so
    /// does the incident it joins.
    pub async fn moving_a_report_keeps_it_sensitive(ctx: &Ctx) {
        let s = &*ctx.store;
        let c = cast(s).await;
        let r = s
            .file_report(&c.reporter_a, report(Category::Theft, false, "wallet"))
            .await
            .unwrap();
        assert!(!r.sensitive);
        s.update_incident(
            &c.responder,
            r.incident_id,
            IncidentPatch {
                sensitive: Some(true),
                ..IncidentPatch::default()
            },
        )
        .await
        .unwrap();
        let other = s
            .create_incident(&c.responder, manual("thefts on floor 2", false))
            .await
            .unwrap();
        s.link_report(&c.responder, other.id, r.id).await.unwrap();
        let moved = s.get_report(&c.responder, r.id).await.unwrap();
        assert_eq!(moved.incident_id, other.id);
        assert!(moved.sensitive, "the moved report lost its sensitivity");
        assert!(
            s.get_incident(&c.responder, other.id)
                .await
                .unwrap()
                .incident
                .sensitive
        );
        assert!(matches!(
            s.get_incident(&c.admin, other.id).await,
            Err(StoreError::NotFound(_))
        ));
    }

    /// Link, merge and dismissal entries, and the notices they cause, never
    /// name a sensitive incident to someone who may not see it.
    pub async fn audit_and_notices_name_no_hidden_incident(ctx: &Ctx) {
        let s = &*ctx.store;
        let c = cast(s).await;
        let sensitive = s
            .file_report(
                &c.reporter_a,
                report(Category::Harassment, true, "it happened"),
            )
            .await
            .unwrap()
            .incident_id;
        let hidden = sensitive.to_string();
        // Link: a report of a non-sensitive incident moves to the sensitive one.
        let plain = s
            .file_report(&c.reporter_b, report(Category::Theft, false, "bike"))
            .await
            .unwrap();
        s.link_report(&c.responder, sensitive, plain.id)
            .await
            .unwrap();
        // Merge: a non-sensitive incident is merged into the sensitive one.
        let source = s
            .create_incident(&c.responder, manual("noise complaint", false))
            .await
            .unwrap();
        s.merge_incidents(&c.responder, source.id, sensitive)
            .await
            .unwrap();
        // Dismissal: an alert of the sensitive incident is dismissed.
        let at = time::OffsetDateTime::now_utc();
        let out = s
            .ingest_alert(
                &Viewer::system(),
                NewAlert {
                    rule_id: "r1".into(),
                    rule_title: "Rule r1".into(),
                    level: AlertLevel::High,
                    entities: BTreeMap::from([("user".to_owned(), "zoe".to_owned())]),
                    evidence: vec![serde_json::json!({"EventID": 4625})],
                    policy: None,
                    detected_at: at,
                    key: None,
                    queue_only: false,
                    group: None,
                },
            )
            .await
            .unwrap();
        s.link_alert(&c.responder, sensitive, out.alert_id)
            .await
            .unwrap();
        s.dismiss_alert(&c.responder, out.alert_id, "noise")
            .await
            .unwrap();

        // The admin may see neither the sensitive incident nor anything
        // that names it.
        assert!(matches!(
            s.get_incident(&c.admin, sensitive).await,
            Err(StoreError::NotFound(_))
        ));
        let audit = audit_text(s, &c.admin).await;
        assert!(!audit.contains(&hidden), "admin audit names it:\n{audit}");
        if let Ok(d) = s.get_incident(&c.admin, source.id).await {
            let text = serde_json::to_string(&d.incident).unwrap()
                + &serde_json::to_string(&d.timeline).unwrap();
            assert!(!text.contains(&hidden), "merged source names it: {text}");
        }
        // The dismissed alert stays with the sensitive record.
        assert!(matches!(
            s.get_alert(&c.admin, out.alert_id).await,
            Err(StoreError::NotFound(_))
        ));
        let alerts = s
            .list_alerts(&c.admin, &AlertFilter::default(), &PageRequest::default())
            .await
            .unwrap();
        assert!(alerts.items.iter().all(|a| a.id != out.alert_id));
        assert!(s.get_alert(&c.responder, out.alert_id).await.is_ok());
        // No notice that may reach a shared destination names it.
        let shared = shared_notices(s).await;
        assert!(
            !shared.contains(&hidden),
            "shared notice names it:\n{shared}"
        );
        // The responder sees all of it.
        assert!(audit_text(s, &c.responder).await.contains(&hidden));
    }

    /// Adding several participants is one transaction: one unknown user
    /// and none is added.
    pub async fn adding_participants_is_all_or_nothing(ctx: &Ctx) {
        let s = &*ctx.store;
        let c = cast(s).await;
        let i = s
            .create_incident(&c.responder, manual("phish", false))
            .await
            .unwrap();
        let extra = user(s, "eve", Role::Reporter).await;
        let err = s
            .add_participants(
                &c.responder,
                i.id,
                &[c.reporter_a.user_id, UserId::new(), extra.id],
            )
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::NotFound("user")), "{err:?}");
        assert_eq!(
            s.get_incident(&c.responder, i.id)
                .await
                .unwrap()
                .participants,
            Vec::<UserId>::new()
        );
        s.add_participants(&c.responder, i.id, &[c.reporter_a.user_id, extra.id])
            .await
            .unwrap();
        let mut got = s
            .get_incident(&c.responder, i.id)
            .await
            .unwrap()
            .participants;
        got.sort();
        let mut want = vec![c.reporter_a.user_id, extra.id];
        want.sort();
        assert_eq!(got, want);
    }

    /// Impact lists are capped: 100 entries of at most 500 characters.
    pub async fn impact_lists_are_capped(ctx: &Ctx) {
        let s = &*ctx.store;
        let c = cast(s).await;
        let i = s
            .create_incident(&c.responder, manual("outage", false))
            .await
            .unwrap();
        let impact = |assets: Vec<String>| Impact {
            confidentiality: ImpactLevel::Low,
            integrity: ImpactLevel::None,
            availability: ImpactLevel::High,
            affected_assets: assets,
            affected_users: vec![],
            affected_data: vec![],
            summary: "down".into(),
        };
        let hundred: Vec<String> = (0..100).map(|n| format!("host-{n}")).collect();
        s.set_impact(&c.responder, i.id, impact(hundred.clone()))
            .await
            .unwrap();
        let mut too_many = hundred.clone();
        too_many.push("host-100".into());
        for bad in [too_many, vec!["x".repeat(501)], vec![String::new()]] {
            assert!(matches!(
                s.set_impact(&c.responder, i.id, impact(bad.clone())).await,
                Err(StoreError::Invalid(_))
            ));
            assert!(matches!(
                s.close_incident(
                    &c.responder,
                    i.id,
                    Resolution::FalsePositive,
                    Some(impact(bad)),
                    None
                )
                .await,
                Err(StoreError::Invalid(_))
            ));
        }
        let kept = s.get_incident(&c.responder, i.id).await.unwrap().incident;
        assert_eq!(kept.impact.unwrap().affected_assets, hundred);
    }

    /// Case-insensitive search folds non-ASCII letters the same way on
    /// both databases.
    pub async fn search_folds_non_ascii_alike(ctx: &Ctx) {
        let s = &*ctx.store;
        let c = cast(s).await;
        let i = s
            .create_incident(&c.responder, manual("Ärger mit der Überweisung", false))
            .await
            .unwrap();
        let j = s
            .create_incident(&c.responder, manual("ΣΥΝΑΓΕΡΜΌΣ στο κτίριο", false))
            .await
            .unwrap();
        for (probe, want) in [
            ("ärger", vec![i.id]),
            ("ÄRGER", vec![i.id]),
            ("überweisung", vec![i.id]),
            ("ÜBERWEISUNG", vec![i.id]),
            ("συναγερμός", vec![j.id]),
            ("ΚΤΊΡΙΟ", vec![j.id]),
            ("arger", vec![]),
        ] {
            let (total, ids) = search(s, &c.responder, probe).await;
            assert_eq!(ids, want, "probe {probe:?}");
            assert_eq!(total, want.len() as i64, "probe {probe:?}");
        }
    }

    /// Only a current responder's approval (a second person) or the server
    /// host grants need-to-know roles; an admin alone cannot.
    pub async fn admins_cannot_grant_need_to_know(ctx: &Ctx) {
        let s = &*ctx.store;
        let c = cast(s).await;
        for role in [Role::Responder, Role::FinanceOps] {
            let err = s
                .create_user(
                    &c.admin,
                    NewUser {
                        name: format!("sock-{role}"),
                        role,
                    },
                )
                .await
                .unwrap_err();
            assert!(matches!(err, StoreError::Forbidden(_)), "{err:?}");
        }
        // Raising an existing user is a request, not a change.
        let sock = user(s, "sock", Role::Reporter).await;
        let grant = s
            .request_role(&c.admin, sock.id, Role::Responder)
            .await
            .unwrap();
        assert_eq!(
            s.get_user(&c.admin, sock.id).await.unwrap().role,
            Role::Reporter
        );
        // The admin cannot approve it, nor can its subject.
        assert!(matches!(
            s.approve_role(&c.admin, grant.id, TokenHash::of("t1"))
                .await,
            Err(StoreError::Forbidden(_))
        ));
        let sock_v = Viewer::new(sock.id, Role::Reporter);
        assert!(matches!(
            s.approve_role(&sock_v, grant.id, TokenHash::of("t2")).await,
            Err(StoreError::Forbidden(_) | StoreError::NotFound(_))
        ));
        // A responder who asked cannot approve their own request either.
        let other = user(s, "other", Role::Reporter).await;
        let own = s
            .request_role(&c.responder, other.id, Role::FinanceOps)
            .await
            .unwrap();
        assert!(matches!(
            s.approve_role(&c.responder, own.id, TokenHash::of("t3"))
                .await,
            Err(StoreError::Forbidden(_))
        ));
        // A token the admin minted for the user before the grant must not
        // carry the new role.
        let minted = TokenHash::of("minted-by-admin-before-grant");
        s.create_token(&c.admin, sock.id, "api", minted)
            .await
            .unwrap();
        // A responder approves: the role changes, and is audited.
        let fresh = TokenHash::of("handed-to-the-approver");
        let (approved, _) = s.approve_role(&c.responder, grant.id, fresh).await.unwrap();
        assert_eq!(approved.role, Role::Responder);
        assert!(s.authenticate(minted).await.unwrap().is_none());
        let (_, v) = s.authenticate(fresh).await.unwrap().unwrap();
        assert_eq!(v.role, Role::Responder);
        // The admin cannot mint a token for the new responder either.
        assert!(matches!(
            s.create_token(&c.admin, sock.id, "api", TokenHash::of("again"))
                .await,
            Err(StoreError::Forbidden(_))
        ));
        let audit = audit_text(s, &c.responder).await;
        assert!(
            audit.contains("\"action\":\"user.role_request\""),
            "{audit}"
        );
        assert!(audit.contains("\"action\":\"user.role_grant\""), "{audit}");
        // The Security Team is told, never a shared destination.
        let notices = s.list_outbox(&Viewer::system(), None).await.unwrap();
        let grants: Vec<_> = notices
            .iter()
            .filter(|m| m.payload.action() == "user.role_grant")
            .collect();
        assert_eq!(grants.len(), 1);
        assert!(grants[0].sensitive);
        // The server host (system viewer) may still create one directly.
        let direct = s
            .create_user(
                &Viewer::system(),
                NewUser {
                    name: "host-made".into(),
                    role: Role::FinanceOps,
                },
            )
            .await
            .unwrap();
        assert_eq!(direct.role, Role::FinanceOps);
    }

    /// An `ingest` token (a log shipper's) sees nothing and changes
    /// nothing: not the incidents, reports, alerts, notes, tasks, timeline
    /// or audit entries of anyone, not even where it is named as a
    /// participant, owner or task owner; not users, grants or tokens, its
    /// own included. Every write is `Forbidden` and writes nothing. Its
    /// account is made on the server host (or by an admin) without a
    /// two-person grant.
    pub async fn ingest_token_sees_and_changes_nothing(ctx: &Ctx) {
        let s = &*ctx.store;
        let c = cast(s).await;
        let sys = Viewer::system();

        // The CLI makes the shipper's account and token as the system; an
        // admin may make one too. Neither asks for a grant or tells the
        // Security Team.
        let shipper = user(s, "shipper", Role::Ingest).await;
        let second = s
            .create_user(
                &c.admin,
                NewUser {
                    name: "shipper-2".into(),
                    role: Role::Ingest,
                },
            )
            .await
            .unwrap();
        assert_eq!((shipper.role, second.role), (Role::Ingest, Role::Ingest));
        assert_eq!(s.list_role_grants(&c.admin).await.unwrap(), vec![]);
        assert_eq!(
            s.list_outbox(&sys, Some(OutboxStatus::Pending))
                .await
                .unwrap(),
            vec![]
        );
        let hash = TokenHash::of("wp_shipper_token");
        let token = s
            .create_token(&sys, shipper.id, "log shipper", hash)
            .await
            .unwrap();
        let (who, ing) = s.authenticate(hash).await.unwrap().unwrap();
        assert_eq!(who.id, shipper.id);
        assert_eq!(ing, Viewer::new(shipper.id, Role::Ingest));
        assert!(ing.can_send_events());
        assert!(!ing.is_person() && !ing.is_staff());
        // The admin manages it like any account's.
        assert_eq!(
            s.list_tokens(&c.admin, shipper.id).await.unwrap(),
            vec![token.clone()]
        );

        // Sensitive and non-sensitive records of every kind, with the
        // shipper named on each incident, owning one and a task.
        let theft = s
            .file_report(&c.reporter_a, report(Category::Theft, false, "laptop gone"))
            .await
            .unwrap();
        let harassment = s
            .file_report(
                &c.reporter_b,
                report(Category::Harassment, false, "pestered"),
            )
            .await
            .unwrap();
        let attachment = s
            .add_attachment(
                &c.reporter_a,
                theft.id,
                NewAttachment {
                    filename: "photo.txt".into(),
                    content_type: "text/plain".into(),
                    bytes: b"evidence".to_vec(),
                },
            )
            .await
            .unwrap();
        let plain = s
            .create_incident(&c.responder, manual("plain", false))
            .await
            .unwrap();
        let secret = s
            .create_incident(&c.responder, manual("secret", true))
            .await
            .unwrap();
        let at = time::OffsetDateTime::now_utc();
        let detection = |rule: &str, queue_only: bool| NewAlert {
            rule_id: rule.into(),
            rule_title: format!("Rule {rule}"),
            level: AlertLevel::High,
            entities: BTreeMap::from([("host".to_owned(), "web1".to_owned())]),
            evidence: vec![serde_json::json!({"EventID": 4625})],
            policy: None,
            detected_at: at,
            key: Some(format!("{rule}|host=web1")),
            queue_only,
            group: None,
        };
        let opened = s
            .ingest_alert(&sys, detection("r-open", false))
            .await
            .unwrap();
        let queued = s
            .ingest_alert(&sys, detection("r-low", true))
            .await
            .unwrap();
        let rule = s
            .create_suppression(
                &c.responder,
                NewSuppression {
                    rule_id: "r-noisy".into(),
                    entities: BTreeMap::new(),
                    reason: "noise".into(),
                    expires_at: None,
                },
            )
            .await
            .unwrap();
        let suppressed = s
            .ingest_alert(&sys, detection("r-noisy", false))
            .await
            .unwrap();
        assert_eq!(
            (
                opened.disposition,
                queued.disposition,
                suppressed.disposition
            ),
            (
                AlertDisposition::Opened,
                AlertDisposition::Queued,
                AlertDisposition::Suppressed
            )
        );
        let incidents = [
            theft.incident_id,
            harassment.incident_id,
            plain.id,
            secret.id,
            opened.incident_id.unwrap(),
        ];
        for i in incidents {
            s.add_participant(&c.responder, i, shipper.id)
                .await
                .unwrap();
            s.add_note(&c.responder, i, "looked at it").await.unwrap();
        }
        s.assign_incident(&c.responder, secret.id, Some(shipper.id))
            .await
            .unwrap();
        let task = s
            .add_task(
                &c.responder,
                secret.id,
                NewTask {
                    title: "rotate keys".into(),
                    owner: Some(shipper.id),
                    due_at: None,
                },
            )
            .await
            .unwrap();
        s.transition_incident(&c.responder, plain.id, Status::Investigating, None)
            .await
            .unwrap();
        let grant = s
            .request_role(&c.admin, c.reporter_a.user_id, Role::FinanceOps)
            .await
            .unwrap();
        let message = s
            .list_outbox(&sys, Some(OutboxStatus::Pending))
            .await
            .unwrap()[0]
            .id;
        // The staff do see it all: five incidents, two reports, three alerts.
        let all = IncidentFilter::default();
        let page = PageRequest::default();
        assert_eq!(s.count_incidents(&c.responder, &all).await.unwrap(), 5);
        let staff_reports = s
            .list_reports(&c.responder, &ReportFilter::default(), &page)
            .await
            .unwrap();
        assert_eq!(staff_reports.items.len(), 2);
        let staff_alerts = s
            .list_alerts(&c.responder, &AlertFilter::default(), &page)
            .await
            .unwrap();
        assert_eq!(staff_alerts.items.len(), 3);

        let before = row_counts(ctx).await;

        // Reads: empty lists, zero totals, "not found".
        let empty_incidents = Page {
            items: vec![],
            next_cursor: None,
        };
        for filter in [
            IncidentFilter::default(),
            text_filter("secret"),
            text_filter("report"),
            IncidentFilter {
                status: vec![Status::Triage, Status::Investigating],
                ..IncidentFilter::default()
            },
        ] {
            assert_eq!(
                s.list_incidents(&ing, &filter, &page).await.unwrap(),
                empty_incidents,
                "{filter:?}"
            );
            assert_eq!(s.count_incidents(&ing, &filter).await.unwrap(), 0);
        }
        for i in incidents {
            not_found("get_incident", s.get_incident(&ing, i).await);
        }
        assert_eq!(
            s.list_reports(&ing, &ReportFilter::default(), &page)
                .await
                .unwrap(),
            Page {
                items: vec![],
                next_cursor: None
            }
        );
        for r in [theft.id, harassment.id] {
            not_found("get_report", s.get_report(&ing, r).await);
        }
        not_found(
            "read_attachment",
            s.read_attachment(&ing, attachment.id).await,
        );
        for disposition in [
            None,
            Some(AlertDisposition::Opened),
            Some(AlertDisposition::Queued),
            Some(AlertDisposition::Suppressed),
        ] {
            let filter = AlertFilter {
                disposition,
                ..AlertFilter::default()
            };
            assert_eq!(
                s.list_alerts(&ing, &filter, &page).await.unwrap(),
                Page {
                    items: vec![],
                    next_cursor: None
                },
                "{disposition:?}"
            );
        }
        for a in [opened.alert_id, queued.alert_id, suppressed.alert_id] {
            not_found("get_alert", s.get_alert(&ing, a).await);
        }
        let metrics = s
            .metrics(
                &ing,
                MetricsQuery {
                    from: at - time::Duration::days(1),
                    to: at + time::Duration::days(1),
                },
            )
            .await
            .unwrap();
        let zero = |key: &str| MetricRow {
            key: key.into(),
            count: 0,
            acknowledged: 0,
            tta_mean_secs: None,
            tta_p50_secs: None,
            resolved: 0,
            ttr_mean_secs: None,
            ttr_p50_secs: None,
        };
        assert_eq!(metrics.total, zero("all"));
        assert_eq!(
            metrics.by_severity,
            vec![zero("SEV1"), zero("SEV2"), zero("SEV3"), zero("SEV4")]
        );
        assert_eq!(metrics.by_category, vec![]);
        assert_eq!(s.list_users(&ing).await.unwrap(), vec![]);
        for u in [shipper.id, c.admin.user_id, c.reporter_a.user_id] {
            not_found("get_user", s.get_user(&ing, u).await);
        }
        not_found(
            "get_user_by_name",
            s.get_user_by_name(&ing, "shipper").await,
        );
        not_found("get_token", s.get_token(&ing, token.id).await);
        // What a reporter is refused to read, it is refused too; and its
        // own tokens are managed by an admin, not listed by it.
        forbidden("list_tokens", s.list_tokens(&ing, shipper.id).await);
        forbidden("count_users", s.count_users(&ing).await);
        forbidden("list_role_grants", s.list_role_grants(&ing).await);
        forbidden("list_suppressions", s.list_suppressions(&ing).await);
        forbidden("list_audit", s.list_audit(&ing, 0, 1000).await);
        forbidden("verify_audit", s.verify_audit(&ing).await);
        forbidden("list_outbox", s.list_outbox(&ing, None).await);

        // Writes: every one refused.
        let file = || NewAttachment {
            filename: "x.txt".into(),
            content_type: "text/plain".into(),
            bytes: b"x".to_vec(),
        };
        forbidden(
            "file_report",
            s.file_report(&ing, report(Category::Theft, false, "from a machine"))
                .await,
        );
        let mut anonymous = report(Category::Theft, false, "anonymous");
        anonymous.channel = Channel::Email;
        anonymous.anonymous = true;
        forbidden(
            "file_report anonymous",
            s.file_report(&ing, anonymous).await,
        );
        forbidden(
            "add_attachment",
            s.add_attachment(&ing, theft.id, file()).await,
        );
        forbidden("stage_attachment", s.stage_attachment(&ing).await);
        let mut staged = s.stage_attachment(&c.responder).await.unwrap();
        staged.write(b"staged").await.unwrap();
        forbidden(
            "add_staged_attachment",
            s.add_staged_attachment(&ing, theft.id, "s.txt".into(), "text/plain".into(), staged)
                .await,
        );
        forbidden(
            "create_token",
            s.create_token(&ing, shipper.id, "mine", TokenHash::of("wp_own"))
                .await,
        );
        forbidden(
            "issue_token",
            s.issue_token(
                &ing,
                shipper.id,
                NewToken {
                    label: "mine".into(),
                    hash: TokenHash::of("wp_issued"),
                    expires_at: None,
                },
            )
            .await,
        );
        forbidden("revoke_token", s.revoke_token(&ing, token.id).await);
        forbidden(
            "rotate_token",
            s.rotate_token(&ing, token.id, TokenHash::of("wp_rotated"))
                .await,
        );
        forbidden(
            "create_user",
            s.create_user(
                &ing,
                NewUser {
                    name: "made-by-a-machine".into(),
                    role: Role::Reporter,
                },
            )
            .await,
        );
        forbidden(
            "set_user_disabled",
            s.set_user_disabled(&ing, shipper.id, true).await,
        );
        forbidden(
            "set_user_role",
            s.set_user_role(&ing, shipper.id, Role::Admin).await,
        );
        forbidden(
            "request_role",
            s.request_role(&ing, shipper.id, Role::Responder).await,
        );
        forbidden(
            "approve_role",
            s.approve_role(&ing, grant.id, TokenHash::of("wp_grant"))
                .await,
        );
        forbidden("reject_role", s.reject_role(&ing, grant.id).await);
        forbidden(
            "ingest_alert",
            s.ingest_alert(&ing, detection("r-machine", false)).await,
        );
        forbidden(
            "promote_alert",
            s.promote_alert(&ing, queued.alert_id).await,
        );
        forbidden(
            "dismiss_alert",
            s.dismiss_alert(&ing, opened.alert_id, "noise").await,
        );
        forbidden(
            "create_suppression",
            s.create_suppression(
                &ing,
                NewSuppression {
                    rule_id: "r-open".into(),
                    entities: BTreeMap::new(),
                    reason: "quiet".into(),
                    expires_at: None,
                },
            )
            .await,
        );
        forbidden(
            "delete_suppression",
            s.delete_suppression(&ing, rule.id).await,
        );
        forbidden(
            "create_incident",
            s.create_incident(&ing, manual("by a machine", false)).await,
        );
        forbidden(
            "update_incident",
            s.update_incident(
                &ing,
                plain.id,
                IncidentPatch {
                    title: Some("renamed".into()),
                    ..IncidentPatch::default()
                },
            )
            .await,
        );
        forbidden(
            "transition_incident",
            s.transition_incident(&ing, plain.id, Status::Contained, None)
                .await,
        );
        forbidden(
            "assign_incident",
            s.assign_incident(&ing, plain.id, Some(shipper.id)).await,
        );
        forbidden(
            "add_participant",
            s.add_participant(&ing, plain.id, c.admin.user_id).await,
        );
        forbidden(
            "add_participants",
            s.add_participants(&ing, plain.id, &[c.admin.user_id]).await,
        );
        forbidden(
            "remove_participant",
            s.remove_participant(&ing, plain.id, shipper.id).await,
        );
        let impact = Impact {
            confidentiality: ImpactLevel::Low,
            integrity: ImpactLevel::None,
            availability: ImpactLevel::None,
            affected_assets: vec![],
            affected_users: vec![],
            affected_data: vec![],
            summary: "none".into(),
        };
        forbidden(
            "set_impact",
            s.set_impact(&ing, plain.id, impact.clone()).await,
        );
        forbidden(
            "set_resolution",
            s.set_resolution(&ing, plain.id, Resolution::FalsePositive)
                .await,
        );
        forbidden(
            "close_incident",
            s.close_incident(
                &ing,
                plain.id,
                Resolution::FalsePositive,
                Some(impact),
                None,
            )
            .await,
        );
        forbidden(
            "merge_incidents",
            s.merge_incidents(&ing, plain.id, secret.id).await,
        );
        forbidden("link_report", s.link_report(&ing, plain.id, theft.id).await);
        forbidden(
            "link_alert",
            s.link_alert(&ing, plain.id, queued.alert_id).await,
        );
        for i in incidents {
            forbidden("add_note", s.add_note(&ing, i, "hello").await);
        }
        forbidden(
            "add_task",
            s.add_task(
                &ing,
                secret.id,
                NewTask {
                    title: "mine".into(),
                    owner: None,
                    due_at: None,
                },
            )
            .await,
        );
        forbidden(
            "update_task",
            s.update_task(
                &ing,
                task.id,
                TaskPatch {
                    done: Some(true),
                    ..TaskPatch::default()
                },
            )
            .await,
        );
        forbidden(
            "claim_outbox",
            s.claim_outbox(&ing, 10, time::Duration::minutes(1), at)
                .await,
        );
        forbidden(
            "mark_outbox_sent",
            s.mark_outbox_sent(&ing, message, at).await,
        );
        forbidden(
            "mark_outbox_failed",
            s.mark_outbox_failed(&ing, message, "down", at).await,
        );
        forbidden(
            "fan_out_outbox",
            s.fan_out_outbox(&ing, message, &["security-team".to_owned()], at)
                .await,
        );

        // Nothing was written by any of it, and no staged file is left.
        assert_eq!(row_counts(ctx).await, before);
        let incoming = ctx.dir.path().join("attachments").join("incoming");
        assert_eq!(std::fs::read_dir(&incoming).unwrap().count(), 0);
        // Its token still works (nothing was revoked or rotated).
        assert!(s.authenticate(hash).await.unwrap().is_some());
        assert!(s.verify_audit(&sys).await.unwrap().is_ok());
    }
}

on_both_databases!(
    search_reads_only_readable_fields,
    titles_carry_no_other_reporters_words,
    merge_copies_no_participant_into_sensitive_target,
    moving_a_report_keeps_it_sensitive,
    audit_and_notices_name_no_hidden_incident,
    adding_participants_is_all_or_nothing,
    search_folds_non_ascii_alike,
    admins_cannot_grant_need_to_know,
    impact_lists_are_capped,
    ingest_token_sees_and_changes_nothing,
);
