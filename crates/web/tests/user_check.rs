//! The "I didn't do this" page, `/check/{token}`, through the real router:
//! the event shown escaped, "not mine" filing the prefilled account-abuse
//! report linked to the alert, "mine" filing nothing, one answer per link,
//! the same 404 for unknown, expired and used links, other sites refused,
//! and no page at all without `[user_check]`. Expected values are written
//! out here.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use incidents::{
    AlertLevel, Category, Channel, NewAlert, NewUserCheck, ReportFilter, Role, StoreOptions,
    TokenHash, Viewer,
};
use time::{Duration, OffsetDateTime, macros::datetime};
use watchpost_web as web;
use web::AppState;

mod support {
    pub mod pages;
}

use support::pages::{App, Browser, ORIGIN, Page, store_with};

/// The router with the check pages on (or off), and one mailed check with
/// the token `good-token` about a password reset of a user whose name holds
/// markup.
async fn app(on: bool) -> App {
    let (store, dir) = store_with(&[("responder", Role::Responder)], StoreOptions::default()).await;
    let router = web::router_with(AppState::new(store.clone()), web::RouterOptions::default());
    let router = if on {
        router.layer(axum::Extension(web::UserCheckPages))
    } else {
        router
    };
    let app = App { router, store, dir };
    let sys = Viewer::system();
    let alert = app
        .store
        .ingest_alert(
            &sys,
            NewAlert {
                rule_id: "okta-password-reset".into(),
                rule_title: "Okta password reset".into(),
                level: AlertLevel::Medium,
                entities: BTreeMap::from([
                    (
                        "user".to_owned(),
                        "<script>x</script>@example.com".to_owned(),
                    ),
                    ("src_ip".to_owned(), "203.0.113.9".to_owned()),
                ]),
                evidence: vec![],
                policy: Some("password_reset".into()),
                detected_at: datetime!(2026-03-01 10:00:05 UTC),
                key: None,
                queue_only: false,
                group: None,
            },
        )
        .await
        .unwrap()
        .alert_id;
    let now = OffsetDateTime::now_utc();
    app.store
        .create_user_check(
            &sys,
            NewUserCheck {
                alert,
                address: "alice@example.com".into(),
                token_hash: TokenHash::of("good-token"),
                created_at: now,
                expires_at: now + Duration::days(7),
            },
        )
        .await
        .unwrap();
    app
}

async fn the_alert(app: &App) -> incidents::Alert {
    let alerts = app
        .store
        .list_alerts(&Viewer::system(), &Default::default(), &Default::default())
        .await
        .unwrap()
        .items;
    assert_eq!(alerts.len(), 1);
    alerts[0].clone()
}

async fn answer(app: &App, token: &str, answer: &str, note: &str, origin: &str) -> Page {
    let form = app
        .get(&format!("/check/{token}"), &Browser::default())
        .await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    let csrf = form.csrf();
    app.send(
        "POST",
        &format!("/check/{token}"),
        &Browser::default(),
        Some(&[("csrf", &csrf), ("answer", answer), ("note", note)]),
        Some(origin),
    )
    .await
}

async fn reports(app: &App) -> Vec<incidents::Report> {
    let responder = app
        .store
        .get_user_by_name(&Viewer::system(), "responder")
        .await
        .unwrap();
    app.store
        .list_reports(
            &Viewer::new(responder.id, responder.role),
            &ReportFilter::default(),
            &Default::default(),
        )
        .await
        .unwrap()
        .items
}

#[tokio::test]
async fn the_page_shows_the_event_escaped_without_a_cookie() {
    let app = app(true).await;
    let page = app.get("/check/good-token", &Browser::default()).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.set_cookies().is_empty());
    assert!(page.csp().is_some());
    assert!(page.body.contains("Okta password reset"));
    assert!(
        page.body
            .contains("&#60;script&#62;x&#60;/script&#62;@example.com"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("<script>x"));
    assert!(page.body.contains("2026-03-01 10:00:05 UTC"));
    assert!(page.body.contains("203.0.113.9"));
    assert!(page.body.contains("Yes, it was me"));
    assert!(page.body.contains("No, I didn't do this"), "{}", page.body);
}

#[tokio::test]
async fn not_mine_files_the_prefilled_report_and_links_the_alert() {
    let app = app(true).await;
    let filed = answer(&app, "good-token", "not_mine", "I was asleep.", ORIGIN).await;
    assert_eq!(filed.status, StatusCode::OK, "{}", filed.body);
    let alert = the_alert(&app).await;
    let filed_reports = reports(&app).await;
    assert_eq!(filed_reports.len(), 1);
    let report = &filed_reports[0];
    assert!(
        filed.body.contains(&report.id.to_string()),
        "the tracking id is shown"
    );
    assert_eq!(
        report.description,
        format!(
            "I didn't do this: Okta password reset on <script>x</script>@example.com at 2026-03-01 10:00:05 UTC (alert {})\n\nI was asleep.",
            alert.id
        )
    );
    assert_eq!(report.category, Category::AccountAbuse);
    assert_eq!(report.channel, Channel::ThirdParty);
    assert_eq!(report.reporter, None, "anonymous");
    assert_eq!(
        alert.incident_id,
        Some(report.incident_id),
        "the alert is linked"
    );

    // The link works once.
    let unknown = app.get("/check/no-such-token", &Browser::default()).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let used = app.get("/check/good-token", &Browser::default()).await;
    assert_eq!(used.status, StatusCode::NOT_FOUND);
    assert_eq!(used.body, unknown.body);
    assert_eq!(reports(&app).await.len(), 1);
}

#[tokio::test]
async fn mine_files_nothing() {
    let app = app(true).await;
    let thanks = answer(&app, "good-token", "mine", "", ORIGIN).await;
    assert_eq!(thanks.status, StatusCode::OK, "{}", thanks.body);
    assert!(thanks.body.contains("Thank you for confirming it was you."));
    assert!(reports(&app).await.is_empty());
    let used = app.get("/check/good-token", &Browser::default()).await;
    assert_eq!(used.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn unknown_and_expired_links_get_the_same_404() {
    let app = app(true).await;
    let alert = the_alert(&app).await;
    // A second alert, with a check that expired yesterday.
    let sys = Viewer::system();
    let other = app
        .store
        .ingest_alert(
            &sys,
            NewAlert {
                rule_id: "okta-mfa-reset".into(),
                rule_title: "Okta MFA factor reset".into(),
                level: AlertLevel::Medium,
                entities: alert.entities.clone(),
                evidence: vec![],
                policy: Some("password_reset".into()),
                detected_at: datetime!(2026-03-01 11:00 UTC),
                key: None,
                queue_only: false,
                group: None,
            },
        )
        .await
        .unwrap()
        .alert_id;
    let now = OffsetDateTime::now_utc();
    app.store
        .create_user_check(
            &sys,
            NewUserCheck {
                alert: other,
                address: "alice@example.com".into(),
                token_hash: TokenHash::of("old-token"),
                created_at: now - Duration::days(8),
                expires_at: now - Duration::days(1),
            },
        )
        .await
        .unwrap();
    let unknown = app.get("/check/no-such-token", &Browser::default()).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(unknown.body.contains("There is no such page."));
    let expired = app.get("/check/old-token", &Browser::default()).await;
    assert_eq!(expired.status, StatusCode::NOT_FOUND);
    assert_eq!(expired.body, unknown.body);
    let long = app
        .get(&format!("/check/{}", "a".repeat(500)), &Browser::default())
        .await;
    assert_eq!(long.status, StatusCode::NOT_FOUND);
    assert_eq!(long.body, unknown.body);
    // A POST to an expired link with a valid form token: the same 404, and
    // nothing filed.
    let csrf = app
        .get("/check/good-token", &Browser::default())
        .await
        .csrf();
    let posted = app
        .send(
            "POST",
            "/check/old-token",
            &Browser::default(),
            Some(&[("csrf", &csrf), ("answer", "not_mine")]),
            Some(ORIGIN),
        )
        .await;
    assert_eq!(posted.status, StatusCode::NOT_FOUND);
    assert_eq!(posted.body, unknown.body);
    assert!(reports(&app).await.is_empty());
}

#[tokio::test]
async fn another_site_and_a_bad_form_token_are_refused() {
    let app = app(true).await;
    let cross = answer(&app, "good-token", "not_mine", "", "https://evil.example").await;
    assert_eq!(cross.status, StatusCode::FORBIDDEN);
    let forged = app
        .send(
            "POST",
            "/check/good-token",
            &Browser::default(),
            Some(&[("csrf", "1.2.3"), ("answer", "not_mine")]),
            Some(ORIGIN),
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(forged.body.contains("The form had expired."));
    let bad = answer(&app, "good-token", "maybe", "", ORIGIN).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let long_note = "n".repeat(2001);
    let long = answer(&app, "good-token", "not_mine", &long_note, ORIGIN).await;
    assert_eq!(long.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        long.body
            .contains("What you added must be at most 2000 characters (it has 2001).")
    );
    assert!(reports(&app).await.is_empty(), "nothing filed");
    // The link still works after refused answers.
    let page = app.get("/check/good-token", &Browser::default()).await;
    assert_eq!(page.status, StatusCode::OK);
}

#[tokio::test]
async fn without_user_check_there_is_no_page() {
    let app = app(false).await;
    let page = app.get("/check/good-token", &Browser::default()).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    let posted = app
        .send(
            "POST",
            "/check/good-token",
            &Browser::default(),
            Some(&[("csrf", "1.2.3"), ("answer", "not_mine")]),
            Some(ORIGIN),
        )
        .await;
    assert_eq!(posted.status, StatusCode::NOT_FOUND);
    assert!(reports(&app).await.is_empty());
}
