//! Public advisories on both databases: who may draft and approve, which
//! incidents may be disclosed, ids, audit entries, and what the public read
//! returns. Expected values are written out here.

use watchpost_incidents as incidents;

mod common;

use common::{Cast, Ctx, cast, user};
use incidents::*;

fn text(title: &str) -> AdvisoryText {
    AdvisoryText {
        title: title.into(),
        summary: "Public summary".into(),
        impact: "Public impact".into(),
        remediation: "Public remediation".into(),
    }
}

fn manual(title: &str, sensitive: bool) -> NewIncident {
    NewIncident {
        title: title.into(),
        description: "internal description".into(),
        category: Category::SecurityIncident,
        severity: Severity::Sev2,
        sensitive,
        occurred_at: None,
        detected_at: None,
        reported_at: None,
    }
}

fn impact() -> Impact {
    Impact {
        confidentiality: ImpactLevel::Low,
        integrity: ImpactLevel::None,
        availability: ImpactLevel::None,
        affected_assets: vec![],
        affected_users: vec![],
        affected_data: vec![],
        summary: "internal impact".into(),
    }
}

/// An incident closed with `resolution`.
async fn closed(s: &dyn Store, c: &Cast, resolution: Resolution, sensitive: bool) -> IncidentId {
    let i = s
        .create_incident(&c.responder, manual("internal title", sensitive))
        .await
        .unwrap();
    s.close_incident(&c.responder, i.id, resolution, Some(impact()), None)
        .await
        .unwrap();
    i.id
}

fn conflict(r: Result<impl std::fmt::Debug>) -> String {
    match r {
        Err(StoreError::Conflict(m)) => m,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

fn forbidden(r: Result<impl std::fmt::Debug>) -> &'static str {
    match r {
        Err(StoreError::Forbidden(m)) => m,
        other => panic!("expected forbidden, got {other:?}"),
    }
}

fn year_now() -> i32 {
    time::OffsetDateTime::now_utc().year()
}

mod cases {
    use super::*;

    pub async fn only_closed_confirmed_non_sensitive_incidents(ctx: &Ctx) {
        let s = &*ctx.store;
        let c = cast(s).await;
        let open = s
            .create_incident(&c.responder, manual("open one", false))
            .await
            .unwrap();
        assert_eq!(
            conflict(s.save_advisory(&c.responder, open.id, text("t")).await),
            "only a closed incident is disclosed (this one is triage)"
        );
        let fp = closed(s, &c, Resolution::FalsePositive, false).await;
        assert_eq!(
            conflict(s.save_advisory(&c.responder, fp, text("t")).await),
            "only a confirmed incident (true_positive_impact or true_positive_no_impact) is disclosed (this one is false_positive)"
        );
        let sensitive = closed(s, &c, Resolution::TruePositiveImpact, true).await;
        assert_eq!(
            conflict(s.save_advisory(&c.responder, sensitive, text("t")).await),
            "a sensitive incident is never disclosed"
        );
        assert_eq!(s.list_advisories(&c.responder).await.unwrap(), vec![]);
        // A confirmed one without impact is fine too.
        let ok = closed(s, &c, Resolution::TruePositiveNoImpact, false).await;
        let a = s.save_advisory(&c.responder, ok, text("t")).await.unwrap();
        assert_eq!(a.status, AdvisoryStatus::Draft);
        assert_eq!(a.id.to_string(), format!("WP-{}-0001", year_now()));
        assert_eq!(
            s.get_incident(&c.responder, ok)
                .await
                .unwrap()
                .incident
                .disclosure,
            Disclosure::Draft
        );
    }

    /// The disclosure state follows the advisory: a patch may repeat it,
    /// never change it (no way around the second approver).
    pub async fn a_patch_cannot_change_the_disclosure_state(ctx: &Ctx) {
        let s = &*ctx.store;
        let c = cast(s).await;
        let id = closed(s, &c, Resolution::TruePositiveImpact, false).await;
        let patch = |d| IncidentPatch {
            disclosure: Some(d),
            ..IncidentPatch::default()
        };
        assert_eq!(
            conflict(
                s.update_incident(&c.responder, id, patch(Disclosure::Published))
                    .await
            ),
            format!(
                "the disclosure state is none and follows the incident's advisory: write it with POST /api/v1/incidents/{id}/advisory and have another responder approve it"
            )
        );
        let same = s
            .update_incident(&c.responder, id, patch(Disclosure::None))
            .await
            .unwrap();
        assert_eq!(same.disclosure, Disclosure::None);
        s.save_advisory(&c.responder, id, text("t")).await.unwrap();
        assert_eq!(
            conflict(
                s.update_incident(&c.responder, id, patch(Disclosure::None))
                    .await
            ),
            format!(
                "the disclosure state is draft and follows the incident's advisory: write it with POST /api/v1/incidents/{id}/advisory and have another responder approve it"
            )
        );
        assert_eq!(s.published_advisories().await.unwrap(), vec![]);
    }

    pub async fn only_responders_draft_and_approve(ctx: &Ctx) {
        let s = &*ctx.store;
        let c = cast(s).await;
        let id = closed(s, &c, Resolution::TruePositiveImpact, false).await;
        let ingest = {
            let u = user(s, "shipper", Role::Ingest).await;
            Viewer::new(u.id, u.role)
        };
        for v in [&c.reporter_a, &c.finance, &c.admin] {
            assert_eq!(
                forbidden(s.save_advisory(v, id, text("t")).await),
                "only responders write and approve advisories"
            );
            assert_eq!(
                forbidden(s.list_advisories(v).await),
                "only responders write and approve advisories"
            );
        }
        assert!(matches!(
            s.save_advisory(&ingest, id, text("t")).await,
            Err(StoreError::Forbidden(_))
        ));
        let a = s.save_advisory(&c.responder, id, text("t")).await.unwrap();
        for v in [&c.reporter_a, &c.finance, &c.admin, &ingest] {
            assert!(matches!(
                s.approve_advisory(v, &a.id).await,
                Err(StoreError::Forbidden(_))
            ));
        }
        assert_eq!(s.published_advisories().await.unwrap(), vec![]);
    }

    pub async fn a_second_responder_publishes(ctx: &Ctx) {
        let s = &*ctx.store;
        let c = cast(s).await;
        let second = {
            let u = user(s, "rita", Role::Responder).await;
            Viewer::new(u.id, u.role)
        };
        let id = closed(s, &c, Resolution::TruePositiveImpact, false).await;
        let draft = s
            .save_advisory(&c.responder, id, text("Public title"))
            .await
            .unwrap();
        assert_eq!(
            forbidden(s.approve_advisory(&c.responder, &draft.id).await),
            "the author of an advisory cannot approve it: another responder must"
        );
        assert_eq!(s.published_advisories().await.unwrap(), vec![]);
        assert!(matches!(
            s.published_advisory(&draft.id).await,
            Err(StoreError::NotFound("advisory"))
        ));
        let published = s.approve_advisory(&second, &draft.id).await.unwrap();
        assert_eq!(published.status, AdvisoryStatus::Published);
        assert_eq!(published.author, c.responder.user_id);
        assert_eq!(published.approver, Some(second.user_id));
        assert!(published.published_at.is_some());
        // Published once: again is a conflict, and its text is fixed.
        assert_eq!(
            conflict(s.approve_advisory(&second, &draft.id).await),
            format!("advisory {} is already published", draft.id)
        );
        assert_eq!(
            conflict(s.save_advisory(&second, id, text("other")).await),
            format!(
                "advisory {} is published: its text no longer changes",
                draft.id
            )
        );
        let public = s.published_advisories().await.unwrap();
        assert_eq!(public.len(), 1);
        assert_eq!(public[0].id, draft.id);
        assert_eq!(public[0].text, text("Public title"));
        assert_eq!(s.published_advisory(&draft.id).await.unwrap(), public[0]);
        assert_eq!(
            s.get_incident(&c.responder, id)
                .await
                .unwrap()
                .incident
                .disclosure,
            Disclosure::Published
        );
        // Audited: created, then published, naming the incident.
        let audit = s.list_audit(&c.responder, 0, 1000).await.unwrap();
        let mine: Vec<(&str, &str, Option<IncidentId>)> = audit
            .iter()
            .filter(|e| e.entity == "advisory")
            .map(|e| (e.action.as_str(), e.entity_id.as_str(), e.incident_id))
            .collect();
        let aid = draft.id.to_string();
        assert_eq!(
            mine,
            vec![
                ("advisory.create", aid.as_str(), Some(id)),
                ("advisory.publish", aid.as_str(), Some(id)),
            ]
        );
        assert_eq!(s.verify_audit(&c.responder).await.unwrap().fault, None);
    }

    pub async fn the_last_editor_is_the_author(ctx: &Ctx) {
        let s = &*ctx.store;
        let c = cast(s).await;
        let second = {
            let u = user(s, "rita", Role::Responder).await;
            Viewer::new(u.id, u.role)
        };
        let id = closed(s, &c, Resolution::TruePositiveImpact, false).await;
        let a = s
            .save_advisory(&c.responder, id, text("first"))
            .await
            .unwrap();
        let b = s.save_advisory(&second, id, text("second")).await.unwrap();
        assert_eq!(b.id, a.id, "one advisory per incident");
        assert_eq!(b.author, second.user_id);
        assert_eq!(b.text.title, "second");
        // The second responder now wrote the text: they may not approve it.
        assert!(matches!(
            s.approve_advisory(&second, &a.id).await,
            Err(StoreError::Forbidden(_))
        ));
        let p = s.approve_advisory(&c.responder, &a.id).await.unwrap();
        assert_eq!(p.text.title, "second");
        let listed = s.list_advisories(&c.responder).await.unwrap();
        assert_eq!(listed, vec![p.clone()]);
        assert_eq!(
            s.incident_advisory(&c.responder, id).await.unwrap(),
            Some(p)
        );
    }

    pub async fn ids_count_up_within_the_year(ctx: &Ctx) {
        let s = &*ctx.store;
        let c = cast(s).await;
        let mut ids = Vec::new();
        for _ in 0..3 {
            let id = closed(s, &c, Resolution::TruePositiveImpact, false).await;
            ids.push(
                s.save_advisory(&c.responder, id, text("t"))
                    .await
                    .unwrap()
                    .id
                    .to_string(),
            );
        }
        let y = year_now();
        assert_eq!(
            ids,
            vec![
                format!("WP-{y}-0001"),
                format!("WP-{y}-0002"),
                format!("WP-{y}-0003"),
            ]
        );
    }

    pub async fn bad_text_is_refused(ctx: &Ctx) {
        let s = &*ctx.store;
        let c = cast(s).await;
        let id = closed(s, &c, Resolution::TruePositiveImpact, false).await;
        let mut t = text("t");
        t.summary = " ".into();
        t.title = "x".repeat(201);
        match s.save_advisory(&c.responder, id, t).await {
            Err(StoreError::Invalid(m)) => assert_eq!(
                m,
                "title must be at most 200 characters (got 201); summary must not be empty"
            ),
            other => panic!("expected invalid, got {other:?}"),
        }
        assert_eq!(s.list_advisories(&c.responder).await.unwrap(), vec![]);
    }

    pub async fn an_incident_made_sensitive_leaves_the_public_side(ctx: &Ctx) {
        let s = &*ctx.store;
        let c = cast(s).await;
        let second = {
            let u = user(s, "rita", Role::Responder).await;
            Viewer::new(u.id, u.role)
        };
        let id = closed(s, &c, Resolution::TruePositiveImpact, false).await;
        let a = s.save_advisory(&c.responder, id, text("t")).await.unwrap();
        s.approve_advisory(&second, &a.id).await.unwrap();
        assert_eq!(s.published_advisories().await.unwrap().len(), 1);
        // A closed incident's fields no longer change through the store;
        // the public read still checks sensitivity, should the record say so.
        assert_eq!(
            ctx.raw_exec(&format!(
                "UPDATE incidents SET sensitive = 1 WHERE id = '{id}'"
            ))
            .await,
            1
        );
        assert_eq!(s.published_advisories().await.unwrap(), vec![]);
        assert!(matches!(
            s.published_advisory(&a.id).await,
            Err(StoreError::NotFound("advisory"))
        ));
    }
}

on_both_databases!(
    only_closed_confirmed_non_sensitive_incidents,
    only_responders_draft_and_approve,
    a_second_responder_publishes,
    the_last_editor_is_the_author,
    ids_count_up_within_the_year,
    bad_text_is_refused,
    an_incident_made_sensitive_leaves_the_public_side,
    a_patch_cannot_change_the_disclosure_state,
);
