//! The responder pages (`/incidents`, `/incidents/{id}`, `/alerts` and
//! their forms) against the real router and a real SQLite store: the
//! queue and its filters, the incident page and every form on it, the
//! alert queue and its actions, need-to-know, CSRF and origin checks,
//! field errors and escaping.
//!
//! Requests are sent as a browser would send them (form bodies, cookies,
//! `Origin`); every expected row set, status and move is written here by
//! hand, and every change is checked through the store's own API.

mod support {
    pub mod pages;
}

use std::collections::BTreeSet;

use axum::http::StatusCode;
use incidents::{
    AlertDisposition, AlertId, AlertLevel, Category, Impact, ImpactLevel, IncidentId, NewAlert,
    NewIncident, Resolution, Role, Severity, Status, Viewer,
};
use incidents::{Channel, NewReport};
use support::pages::{App, Browser, ORIGIN, Page};
use watchpost_web as web;

/// An id no incident has.
const NO_SUCH_ID: &str = "0190d5a4-8f5e-7c3a-9b1e-2f4a6c8d0e1f";

impl Page {
    /// The incident ids the queue's rows link to, in order.
    fn row_ids(&self) -> Vec<String> {
        self.body
            .split("<th scope=\"row\"><a href=\"/incidents/")
            .skip(1)
            .map(|rest| rest[..rest.find('"').unwrap()].to_owned())
            .collect()
    }

    /// The status moves offered as buttons.
    fn moves(&self) -> BTreeSet<String> {
        self.body
            .split("name=\"status\" value=\"")
            .skip(1)
            .map(|rest| rest[..rest.find('"').unwrap()].to_owned())
            .collect()
    }

    /// The link of the "Next page" button.
    fn next_link(&self) -> Option<String> {
        let at = self.body.find("rel=\"next\"")?;
        let before = &self.body[..at];
        let start = before.rfind("href=\"")? + "href=\"".len();
        Some(
            before[start..]
                .trim_end_matches("\" ")
                .replace("&#38;", "&"),
        )
    }
}

/// The users of every test: (name, role).
const USERS: &[(&str, Role)] = &[
    ("alice", Role::Reporter),
    ("bob", Role::Reporter),
    ("rita", Role::Responder),
    ("ron", Role::Responder),
    ("fran", Role::FinanceOps),
    ("adam", Role::Admin),
];

async fn app() -> App {
    App::with(
        USERS,
        incidents::StoreOptions::default(),
        web::RouterOptions::default(),
    )
    .await
}

impl App {
    async fn user(&self, name: &str) -> incidents::User {
        self.store
            .get_user_by_name(&Viewer::system(), name)
            .await
            .unwrap()
    }

    async fn incident(
        &self,
        title: &str,
        category: Category,
        severity: Severity,
        sensitive: bool,
    ) -> IncidentId {
        self.store
            .create_incident(
                &Viewer::system(),
                NewIncident {
                    title: title.to_owned(),
                    description: format!("About {title}."),
                    category,
                    severity,
                    sensitive,
                    occurred_at: None,
                    detected_at: None,
                    reported_at: None,
                },
            )
            .await
            .unwrap()
            .id
    }

    async fn detail(&self, id: IncidentId) -> incidents::IncidentDetail {
        self.store
            .get_incident(&Viewer::system(), id)
            .await
            .unwrap()
    }

    /// A queued alert (no incident).
    async fn alert(&self, rule: &str) -> AlertId {
        self.store
            .ingest_alert(
                &Viewer::system(),
                NewAlert {
                    rule_id: rule.to_owned(),
                    rule_title: format!("Rule {rule}"),
                    level: AlertLevel::Medium,
                    entities: [("host".to_owned(), "web1".to_owned())].into(),
                    evidence: vec![
                        serde_json::json!({"msg": "<script>alert(1)</script>", "user": "root"}),
                    ],
                    policy: None,
                    detected_at: time::OffsetDateTime::now_utc(),
                    key: None,
                    queue_only: true,
                    group: None,
                },
            )
            .await
            .unwrap()
            .alert_id
    }

    async fn stored_alert(&self, id: AlertId) -> incidents::Alert {
        self.store.get_alert(&Viewer::system(), id).await.unwrap()
    }
}

/// A form post: its fields, its `Origin`, and whose browser sends it.
type Attempt<'a> = (Vec<(&'a str, &'a str)>, Option<&'a str>, &'a Browser);

/// A form with a bad value: (path, fields, the field id with the error,
/// typed text that must be shown again).
type FieldCase<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str, Option<&'a str>);

fn impact() -> Impact {
    Impact {
        confidentiality: ImpactLevel::Low,
        integrity: ImpactLevel::None,
        availability: ImpactLevel::None,
        affected_assets: vec![],
        affected_users: vec![],
        affected_data: vec![],
        summary: "s".into(),
    }
}

fn ids(list: &[IncidentId]) -> Vec<String> {
    list.iter().map(ToString::to_string).collect()
}

#[tokio::test]
async fn anonymous_requests_go_to_sign_in_and_posts_change_nothing() {
    let app = app().await;
    let id = app
        .incident("Laptop stolen", Category::Theft, Severity::Sev2, false)
        .await;
    let anon = Browser::default();
    for path in [
        "/incidents".to_owned(),
        format!("/incidents/{id}"),
        "/alerts".to_owned(),
    ] {
        let page = app.get(&path, &anon).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(page.location(), Some("/login"), "{path}");
    }
    let before = app.detail(id).await;
    let page = app
        .send(
            "POST",
            &format!("/incidents/{id}/status"),
            &anon,
            Some(&[("status", "investigating")]),
            Some(ORIGIN),
        )
        .await;
    assert_eq!(page.location(), Some("/login"));
    assert_eq!(app.detail(id).await, before);
}

#[tokio::test]
async fn a_responder_lists_and_filters_the_queue() {
    let app = app().await;
    let rita = app.user("rita").await;
    // (title, category, severity, sensitive), oldest first.
    let a = app
        .incident(
            "Phishing mail to finance",
            Category::SecurityIncident,
            Severity::Sev2,
            false,
        )
        .await;
    let b = app
        .incident(
            "Laptop stolen from car",
            Category::Theft,
            Severity::Sev3,
            false,
        )
        .await;
    let c = app
        .incident(
            "Server room door forced",
            Category::PropertyDamage,
            Severity::Sev1,
            false,
        )
        .await;
    let d = app
        .incident("Forged invoice", Category::Forgery, Severity::Sev3, true)
        .await;
    let e = app
        .incident(
            "Second phishing wave",
            Category::SecurityIncident,
            Severity::Sev4,
            false,
        )
        .await;
    app.store
        .transition_incident(&Viewer::system(), b, Status::Investigating, None)
        .await
        .unwrap();
    app.store
        .assign_incident(&Viewer::system(), c, Some(rita.id))
        .await
        .unwrap();
    app.store
        .assign_incident(&Viewer::system(), e, Some(rita.id))
        .await
        .unwrap();
    let browser = app.browser("rita").await;
    // (query, rows expected, newest first), by hand.
    let cases: Vec<(&str, Vec<IncidentId>)> = vec![
        ("", vec![e, d, c, b, a]),
        ("?status=investigating", vec![b]),
        ("?status=triage", vec![e, d, c, a]),
        ("?severity=SEV3", vec![d, b]),
        ("?category=security_incident", vec![e, a]),
        ("?owner=rita", vec![e, c]),
        ("?q=phishing", vec![e, a]),
        ("?q=PHISHING&severity=SEV2", vec![a]),
        ("?category=security_incident&owner=rita", vec![e]),
        ("?status=closed", vec![]),
    ];
    for (query, expected) in cases {
        let page = app.get(&format!("/incidents{query}"), &browser).await;
        assert_eq!(page.status, StatusCode::OK, "{query}: {}", page.body);
        assert_eq!(page.row_ids(), ids(&expected), "{query}");
        let count = format!("{} incident", expected.len());
        assert!(page.body.contains(&count), "{query}: no {count:?}");
        if expected.is_empty() {
            assert!(
                page.body.contains("No incident matches these filters."),
                "{query}"
            );
        }
    }
    // A row: severity as a word with its colour, the sensitive badge, the
    // owner's name and the time in UTC.
    let page = app
        .get("/incidents?owner=rita&category=property_damage", &browser)
        .await;
    assert!(
        page.body
            .contains("<span class=\"sev sev1\">SEV1 critical</span>"),
        "{}",
        page.body
    );
    assert!(page.body.contains("<td>rita</td>"));
    assert!(page.body.contains("<time datetime=\"") && page.body.contains(" UTC</time>"));
    let page = app.get("/incidents?category=forgery", &browser).await;
    assert!(
        page.body
            .contains("<span class=\"tag sensitive\">sensitive</span>")
    );
    // The chosen filter is selected again.
    assert!(page.body.contains("<option value=\"forgery\" selected>"));

    // Bad filter values: a field error each, never a 500, and no rows.
    // (query, field id whose error is shown), by hand.
    for (query, field) in [
        ("?status=open", "status"),
        ("?severity=SEV9", "severity"),
        ("?category=burglary", "category"),
        ("?owner=nobody-by-this-name", "owner"),
        ("?cursor=garbage", "results"),
    ] {
        let page = app.get(&format!("/incidents{query}"), &browser).await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        assert!(page.body.contains("There is a problem"), "{query}");
        assert!(page.body.contains(&format!("href=\"#{field}\"")), "{query}");
        assert!(page.row_ids().is_empty(), "{query}");
        if field != "results" {
            assert!(
                page.body
                    .contains(&format!("aria-describedby=\"{field}-error\"")),
                "{query}"
            );
        }
    }
    let long = "x".repeat(201);
    let page = app.get(&format!("/incidents?q={long}"), &browser).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    // The owner typed is kept.
    let page = app
        .get("/incidents?owner=nobody-by-this-name", &browser)
        .await;
    assert!(page.body.contains("value=\"nobody-by-this-name\""));
}

/// The source filter: a report's channel, or a detection. A reporter's
/// filter matches through their own reports only, and never through
/// alerts, which they cannot see.
#[tokio::test]
async fn the_queue_filters_by_source() {
    let app = app().await;
    let alice = app.user("alice").await;
    let file = |viewer: Viewer, channel: Channel, anonymous: bool, text: &'static str| {
        let store = app.store.clone();
        async move {
            store
                .file_report(
                    &viewer,
                    NewReport {
                        channel,
                        category: Category::SecurityIncident,
                        description: text.to_owned(),
                        occurred_at: None,
                        location: None,
                        sensitive: false,
                        anonymous,
                        attachments: vec![],
                    },
                )
                .await
                .unwrap()
                .incident_id
        }
    };
    let manual = app
        .incident("Opened by hand", Category::Theft, Severity::Sev3, false)
        .await;
    let web_report = file(
        Viewer::new(alice.id, Role::Reporter),
        Channel::Web,
        false,
        "Odd pop-up on my laptop",
    )
    .await;
    let mailed = file(
        Viewer::system(),
        Channel::Email,
        true,
        "A researcher writes about an open bucket",
    )
    .await;
    let detected = app
        .store
        .ingest_alert(
            &Viewer::system(),
            NewAlert {
                rule_id: "ssh-brute".to_owned(),
                rule_title: "SSH brute force".to_owned(),
                level: AlertLevel::High,
                entities: [("host".to_owned(), "web9".to_owned())].into(),
                evidence: vec![serde_json::json!({"msg": "Failed password"})],
                policy: None,
                detected_at: time::OffsetDateTime::now_utc(),
                key: None,
                queue_only: false,
                group: None,
            },
        )
        .await
        .unwrap()
        .incident_id
        .expect("a high alert opens an incident");
    let rita = app.browser("rita").await;
    // (query, rows expected newest first), by hand.
    let staff: Vec<(&str, Vec<IncidentId>)> = vec![
        ("", vec![detected, mailed, web_report, manual]),
        ("?source=detection", vec![detected]),
        ("?source=web", vec![web_report]),
        ("?source=email", vec![mailed]),
        ("?source=slack", vec![]),
        ("?source=web&category=theft", vec![]),
    ];
    for (query, expected) in staff {
        let page = app.get(&format!("/incidents{query}"), &rita).await;
        assert_eq!(page.status, StatusCode::OK, "{query}: {}", page.body);
        assert_eq!(page.row_ids(), ids(&expected), "rita {query}");
    }
    // Alice sees only her own incident; the detection filter finds
    // nothing for her, and the mail filter nothing either.
    let alice_page = app.browser("alice").await;
    let reporter: Vec<(&str, Vec<IncidentId>)> = vec![
        ("?source=web", vec![web_report]),
        ("?source=detection", vec![]),
        ("?source=email", vec![]),
    ];
    for (query, expected) in reporter {
        let page = app.get(&format!("/incidents{query}"), &alice_page).await;
        assert_eq!(page.status, StatusCode::OK, "{query}: {}", page.body);
        assert_eq!(page.row_ids(), ids(&expected), "alice {query}");
    }
    // A value off the list is a field error, the typed filters kept.
    let page = app
        .get("/incidents?source=carrier-pigeon&category=theft", &rita)
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("id=\"source-error\""), "{}", page.body);
    assert!(page.body.contains("Choose a source from the list."));
    assert!(page.body.contains("href=\"#source\""));
}

/// Finance-ops' view: their navigation opens the queue on the sensitive
/// cases, and the need-to-know filter lists exactly those (or exactly the
/// others).
#[tokio::test]
async fn finance_ops_opens_on_the_sensitive_cases() {
    let app = app().await;
    let plain = app
        .incident(
            "Phishing mail",
            Category::SecurityIncident,
            Severity::Sev3,
            false,
        )
        .await;
    let harassment = app
        .incident(
            "Remarks in a meeting",
            Category::Harassment,
            Severity::Sev3,
            true,
        )
        .await;
    let injury = app
        .incident(
            "Fall on the stairs",
            Category::PhysicalInjury,
            Severity::Sev2,
            true,
        )
        .await;
    let fran = app.browser("fran").await;
    let home = app.get("/my-reports", &fran).await;
    assert!(
        home.body
            .contains("<a href=\"/incidents?sensitive=true\">Sensitive cases</a>"),
        "{}",
        home.body
    );
    let rita = app.browser("rita").await;
    let home = app.get("/my-reports", &rita).await;
    assert!(home.body.contains("<a href=\"/incidents\">Incidents</a>"));
    assert!(!home.body.contains("Sensitive cases"));
    // (viewer, query, rows newest first), by hand.
    for (who, query, expected) in [
        (&fran, "?sensitive=true", vec![injury, harassment]),
        (&fran, "?sensitive=false", vec![plain]),
        (&fran, "", vec![injury, harassment, plain]),
        (&rita, "?sensitive=true", vec![injury, harassment]),
    ] {
        let page = app.get(&format!("/incidents{query}"), who).await;
        assert_eq!(page.status, StatusCode::OK, "{query}");
        assert_eq!(page.row_ids(), ids(&expected), "{query}");
    }
    let page = app.get("/incidents?sensitive=maybe", &fran).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("href=\"#sensitive\""));
}

#[tokio::test]
async fn pagination_keeps_the_filter() {
    let app = app().await;
    let mut matching = Vec::new();
    for n in 0..57 {
        matching.push(
            app.incident(
                &format!("Batch item {n}"),
                Category::Theft,
                Severity::Sev3,
                false,
            )
            .await,
        );
        if n % 10 == 0 {
            app.incident(
                &format!("Unrelated {n}"),
                Category::Theft,
                Severity::Sev3,
                false,
            )
            .await;
        }
    }
    matching.reverse();
    let browser = app.browser("rita").await;
    let first = app.get("/incidents?q=batch", &browser).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.row_ids(), ids(&matching[..50]));
    assert!(first.body.contains("57 incidents match these filters."));
    let next = first.next_link().expect("a next page");
    assert!(next.starts_with("/incidents?q=batch&cursor="), "{next}");
    let second = app.get(&next, &browser).await;
    assert_eq!(second.status, StatusCode::OK);
    assert_eq!(second.row_ids(), ids(&matching[50..]));
    assert!(second.next_link().is_none());
    assert!(
        second
            .body
            .contains("href=\"/incidents?q=batch\">First page</a>")
    );
}

/// Signs in `name`, opens incident `id` and returns the browser and its
/// CSRF token.
async fn open(app: &App, name: &str, id: IncidentId) -> (Browser, String) {
    let b = app.browser(name).await;
    let page = app.get(&format!("/incidents/{id}"), &b).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let csrf = page.csrf();
    (b, csrf)
}

#[tokio::test]
async fn a_responder_works_an_incident_through_to_closing() {
    let app = app().await;
    let alice = app.browser("alice").await;
    let form = app.get("/report", &alice).await;
    let filed = app
        .post(
            "/report",
            &alice,
            &form.csrf(),
            &[
                ("category", "theft"),
                ("description", "My bag was taken from the office."),
            ],
        )
        .await;
    assert_eq!(filed.status, StatusCode::SEE_OTHER);
    let report = app
        .store
        .list_reports(
            &Viewer::system(),
            &incidents::ReportFilter::default(),
            &incidents::PageRequest::first(10),
        )
        .await
        .unwrap()
        .items
        .remove(0);
    let id = report.incident_id;
    let (rita, csrf) = open(&app, "rita", id).await;
    let page = app.get(&format!("/incidents/{id}"), &rita).await;
    // The header, the linked report and the timeline.
    assert!(page.body.contains("<dd id=\"current-status\">Triage</dd>"));
    assert!(
        page.body
            .contains("<span class=\"sev sev3\">SEV3 medium</span>")
    );
    assert!(page.body.contains("My bag was taken from the office."));
    assert!(page.body.contains(&report.id.to_string()));
    assert!(page.body.contains("class=\"timeline\""));
    let path = |p: &str| format!("/incidents/{id}{p}");

    // Acknowledge.
    let r = app
        .post(
            &path("/status"),
            &rita,
            &csrf,
            &[("status", "investigating")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), Some(path("").as_str()));
    let d = app.detail(id).await;
    assert_eq!(d.incident.status, Status::Investigating);
    assert!(d.incident.times.acknowledged_at.is_some());

    // Assign.
    let r = app
        .post(&path("/assign"), &rita, &csrf, &[("owner", "ron")])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let ron = app.user("ron").await;
    let d = app.detail(id).await;
    assert_eq!(d.incident.owner, Some(ron.id));
    assert!(d.participants.contains(&ron.id));
    assert!(
        app.get(&path(""), &rita)
            .await
            .body
            .contains("<dd>ron</dd>")
    );

    // A note.
    let r = app
        .post(
            &path("/notes"),
            &rita,
            &csrf,
            &[("body", "Called the building's security desk.")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let d = app.detail(id).await;
    assert_eq!(d.notes.len(), 1);
    assert_eq!(d.notes[0].body, "Called the building's security desk.");
    assert_eq!(d.notes[0].author, app.user("rita").await.id);

    // A task, then done.
    let r = app
        .post(
            &path("/tasks"),
            &rita,
            &csrf,
            &[
                ("title", "Review the camera footage"),
                ("task_owner", "ron"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let d = app.detail(id).await;
    assert_eq!(d.tasks.len(), 1);
    let task = &d.tasks[0];
    assert_eq!(
        (task.title.as_str(), task.owner, task.done),
        ("Review the camera footage", Some(ron.id), false)
    );
    let page = app.get(&path(""), &rita).await;
    assert!(
        page.body
            .contains(&format!("action=\"/incidents/{id}/tasks/{}\"", task.id))
    );
    let r = app
        .post(
            &path(&format!("/tasks/{}", task.id)),
            &rita,
            &csrf,
            &[("done", "true")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(app.detail(id).await.tasks[0].done);
    // A task id of no task of this incident: the 404 page.
    let r = app
        .post(
            &path(&format!("/tasks/{NO_SUCH_ID}")),
            &rita,
            &csrf,
            &[("done", "true")],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // Closing before the impact is assessed: refused, next to the field.
    let r = app
        .post(
            &path("/close"),
            &rita,
            &csrf,
            &[("resolution", "true_positive_no_impact")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("id=\"resolution-error\""));
    assert!(
        r.body
            .contains("<option value=\"true_positive_no_impact\" selected>")
    );
    assert_eq!(app.detail(id).await.incident.status, Status::Investigating);

    // Impact.
    let r = app
        .post(
            &path("/impact"),
            &rita,
            &csrf,
            &[
                ("confidentiality", "low"),
                ("integrity", "none"),
                ("availability", "medium"),
                ("summary", "One bag, no company data."),
                ("affected_assets", "bag\n\n badge \n"),
                ("affected_users", "alice"),
                ("affected_data", ""),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let stored = app.detail(id).await.incident.impact.unwrap();
    assert_eq!(
        stored,
        Impact {
            confidentiality: ImpactLevel::Low,
            integrity: ImpactLevel::None,
            availability: ImpactLevel::Medium,
            affected_assets: vec!["bag".into(), "badge".into()],
            affected_users: vec!["alice".into()],
            affected_data: vec![],
            summary: "One bag, no company data.".into(),
        }
    );
    // The form shows the assessment on record.
    let page = app.get(&path(""), &rita).await;
    assert!(
        page.body
            .contains("<option value=\"medium\" selected>Medium</option>")
    );

    // Close.
    let r = app
        .post(
            &path("/close"),
            &rita,
            &csrf,
            &[("resolution", "true_positive_no_impact")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let d = app.detail(id).await;
    assert_eq!(d.incident.status, Status::Closed);
    assert_eq!(
        d.incident.resolution,
        Some(Resolution::TruePositiveNoImpact)
    );
    // A closed incident offers no moves, and no form but the note.
    let page = app.get(&path(""), &rita).await;
    assert!(page.moves().is_empty());
    for action in [
        "/status", "/assign", "/tasks\"", "/impact", "/close", "/merge",
    ] {
        assert!(
            !page
                .body
                .contains(&format!("action=\"/incidents/{id}{action}")),
            "{action}"
        );
    }
    assert!(
        page.body
            .contains(&format!("action=\"/incidents/{id}/notes\""))
    );
    // Alice sees her report's incident closed in "My reports".
    assert!(app.get("/my-reports", &alice).await.body.contains("closed"));
}

#[tokio::test]
async fn only_the_moves_legal_now_are_offered() {
    let app = app().await;
    use Status::*;
    // (status, buttons offered), by hand; closing has its own form.
    let table: &[(Status, &[Status])] = &[
        (
            Triage,
            &[Investigating, Contained, Eradicated, Recovered, Declined],
        ),
        (Investigating, &[Contained, Eradicated, Recovered, Declined]),
        (Contained, &[Investigating, Eradicated, Recovered]),
        (Eradicated, &[Investigating, Recovered]),
        (Recovered, &[Investigating]),
        (Closed, &[]),
        (Declined, &[]),
        (Merged, &[]),
    ];
    let target = app
        .incident("Merge target", Category::Theft, Severity::Sev3, false)
        .await;
    let rita = app.browser("rita").await;
    for (status, offered) in table {
        let id = app
            .incident(
                &format!("In {status}"),
                Category::Theft,
                Severity::Sev3,
                false,
            )
            .await;
        let system = Viewer::system();
        match status {
            Triage => {}
            Closed => {
                app.store
                    .close_incident(&system, id, Resolution::FalsePositive, Some(impact()), None)
                    .await
                    .unwrap();
            }
            Merged => {
                app.store
                    .merge_incidents(&system, id, target)
                    .await
                    .unwrap();
            }
            s => {
                app.store
                    .transition_incident(&system, id, *s, None)
                    .await
                    .unwrap();
            }
        }
        let page = app.get(&format!("/incidents/{id}"), &rita).await;
        assert_eq!(page.status, StatusCode::OK);
        let expected: BTreeSet<String> = offered.iter().map(|s| s.as_str().to_owned()).collect();
        assert_eq!(page.moves(), expected, "from {status}");
        // The close form is there exactly while the incident is open.
        assert_eq!(
            page.body
                .contains(&format!("action=\"/incidents/{id}/close\"")),
            !matches!(status, Closed | Declined | Merged),
            "{status}"
        );
        // A move not offered is refused and changes nothing.
        let csrf = page.csrf();
        let before = app.detail(id).await;
        for to in Status::ALL {
            if offered.contains(to) {
                continue;
            }
            let r = app
                .post(
                    &format!("/incidents/{id}/status"),
                    &rita,
                    &csrf,
                    &[("status", to.as_str())],
                )
                .await;
            assert_eq!(
                r.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{status} -> {to}"
            );
            assert_eq!(app.detail(id).await, before, "{status} -> {to}");
        }
    }
}

#[tokio::test]
async fn need_to_know_holds_on_every_page() {
    let app = app().await;
    let alice = app.browser("alice").await;
    let form = app.get("/report", &alice).await;
    let filed = app
        .post(
            "/report",
            &alice,
            &form.csrf(),
            &[
                ("category", "theft"),
                ("sensitive", "yes"),
                ("description", "Cash missing from the petty-cash box."),
            ],
        )
        .await;
    assert_eq!(filed.status, StatusCode::SEE_OTHER);
    let sensitive = app
        .store
        .list_reports(
            &Viewer::system(),
            &incidents::ReportFilter::default(),
            &incidents::PageRequest::first(10),
        )
        .await
        .unwrap()
        .items[0]
        .incident_id;
    // A sensitive alert linked to it, and an open incident besides.
    let alert = app.alert("rule-cash").await;
    app.store
        .link_alert(&Viewer::system(), sensitive, alert)
        .await
        .unwrap();
    let open = app
        .incident(
            "Printer on fire",
            Category::PropertyDamage,
            Severity::Sev2,
            false,
        )
        .await;
    let missing = app.get(&format!("/incidents/{NO_SUCH_ID}"), &alice).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    // (user, queue rows, sees the sensitive incident's page, sees the
    // alerts page, sees the linked alert there), by hand.
    let cases: &[(&str, Vec<IncidentId>, bool, bool, bool)] = &[
        ("alice", vec![sensitive], true, false, false),
        ("bob", vec![], false, false, false),
        ("adam", vec![open], false, true, false),
        ("fran", vec![open, sensitive], true, true, true),
        ("rita", vec![open, sensitive], true, true, true),
    ];
    for (name, rows, sees_page, sees_alerts, sees_alert) in cases {
        let b = app.browser(name).await;
        let queue = app.get("/incidents", &b).await;
        assert_eq!(queue.status, StatusCode::OK, "{name}");
        assert_eq!(queue.row_ids(), ids(rows), "{name}");
        let page = app.get(&format!("/incidents/{sensitive}"), &b).await;
        if *sees_page {
            assert_eq!(page.status, StatusCode::OK, "{name}");
        } else {
            // Identical to an id that does not exist.
            let random = app.get(&format!("/incidents/{NO_SUCH_ID}"), &b).await;
            assert_eq!(
                (page.status, &page.body),
                (random.status, &random.body),
                "{name}"
            );
            assert_eq!(page.status, StatusCode::NOT_FOUND, "{name}");
            assert!(!page.body.contains("petty-cash"), "{name}");
        }
        let alerts = app.get("/alerts", &b).await;
        if *sees_alerts {
            assert_eq!(alerts.status, StatusCode::OK, "{name}");
        } else {
            assert_eq!(
                (alerts.status, &alerts.body),
                (missing.status, &missing.body),
                "{name}"
            );
        }
        assert_eq!(
            alerts.body.contains(&alert.to_string()),
            *sees_alert,
            "{name}"
        );
        // A filter finds only what the caller may see.
        let page = app.get("/incidents?category=theft", &b).await;
        let expected: Vec<IncidentId> = rows.iter().copied().filter(|i| *i == sensitive).collect();
        assert_eq!(page.row_ids(), ids(&expected), "{name}");
    }
    // A reporter reads their own incident redacted and without forms.
    let page = app.get(&format!("/incidents/{sensitive}"), &alice).await;
    assert!(page.body.contains("theft report"));
    assert!(!page.body.contains("action=\"/incidents/"));
    // Finance-ops reads it in full and may only add notes.
    let page = app
        .get(
            &format!("/incidents/{sensitive}"),
            &app.browser("fran").await,
        )
        .await;
    assert!(page.body.contains("petty-cash"));
    assert!(
        page.body
            .contains(&format!("action=\"/incidents/{sensitive}/notes\""))
    );
    for action in [
        "/status", "/assign", "/tasks\"", "/impact", "/close", "/merge",
    ] {
        assert!(
            !page
                .body
                .contains(&format!("action=\"/incidents/{sensitive}{action}")),
            "{action}"
        );
    }
}

#[tokio::test]
async fn forms_without_the_token_from_another_site_or_by_the_wrong_role_change_nothing() {
    let app = app().await;
    let id = app
        .incident(
            "Door left open",
            Category::PropertyDamage,
            Severity::Sev3,
            false,
        )
        .await;
    let target = app
        .incident("Another", Category::PropertyDamage, Severity::Sev3, false)
        .await;
    app.store
        .set_impact(&Viewer::system(), id, impact())
        .await
        .unwrap();
    let task = app
        .store
        .add_task(
            &Viewer::system(),
            id,
            incidents::NewTask {
                title: "Lock it".into(),
                owner: None,
                due_at: None,
            },
        )
        .await
        .unwrap();
    let alert = app.alert("rule-door").await;
    let (rita, csrf) = open(&app, "rita", id).await;
    let task_path = format!("/incidents/{id}/tasks/{}", task.id);
    // (path, fields): every form of the pages.
    let forms: Vec<(String, Vec<(&str, String)>)> = vec![
        (
            format!("/incidents/{id}/status"),
            vec![("status", "investigating".into())],
        ),
        (
            format!("/incidents/{id}/assign"),
            vec![("owner", "rita".into())],
        ),
        (
            format!("/incidents/{id}/notes"),
            vec![("body", "hello".into())],
        ),
        (
            format!("/incidents/{id}/tasks"),
            vec![("title", "Another".into())],
        ),
        (task_path, vec![("done", "true".into())]),
        (
            format!("/incidents/{id}/impact"),
            vec![
                ("confidentiality", "high".into()),
                ("integrity", "high".into()),
                ("availability", "high".into()),
            ],
        ),
        (
            format!("/incidents/{id}/close"),
            vec![("resolution", "false_positive".into())],
        ),
        (
            format!("/incidents/{id}/merge"),
            vec![("into", target.to_string())],
        ),
        (format!("/alerts/{alert}/promote"), vec![]),
        (
            format!("/alerts/{alert}/attach"),
            vec![("incident", id.to_string())],
        ),
        (
            format!("/alerts/{alert}/dismiss"),
            vec![("reason", "noise".into())],
        ),
    ];
    let fran = app.browser("fran").await;
    let fran_csrf = app.get(&format!("/incidents/{id}"), &fran).await.csrf();
    let bob = app.browser("bob").await;
    let bob_csrf = app.get("/report", &bob).await.csrf();
    let before = (
        app.detail(id).await,
        app.detail(target).await,
        app.stored_alert(alert).await,
    );
    for (path, fields) in &forms {
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let with = |token: &'static str| {
            let mut f = fields.clone();
            if !token.is_empty() {
                f.insert(0, ("csrf", token));
            }
            f
        };
        // No token, a wrong one, another site, a null origin.
        let mut attempts: Vec<Attempt<'_>> = vec![
            (with(""), Some(ORIGIN), &rita),
            (with("0123"), Some(ORIGIN), &rita),
        ];
        let mut good = vec![("csrf", csrf.as_str())];
        good.extend(fields.iter().copied());
        attempts.push((good.clone(), Some("https://evil.example"), &rita));
        attempts.push((good.clone(), Some("null"), &rita));
        // Bob's own token, on Rita's session.
        let mut bobs = vec![("csrf", bob_csrf.as_str())];
        bobs.extend(fields.iter().copied());
        attempts.push((bobs.clone(), Some(ORIGIN), &rita));
        // Roles that may not: a reporter with a good token of their own.
        attempts.push((bobs, Some(ORIGIN), &bob));
        for (fields, origin, browser) in attempts {
            let page = app.send("POST", path, browser, Some(&fields), origin).await;
            assert_eq!(
                page.status,
                StatusCode::FORBIDDEN,
                "{path} {origin:?} {fields:?}"
            );
        }
        // Finance-ops may add notes, nothing else.
        let mut frans = vec![("csrf", fran_csrf.as_str())];
        frans.extend(fields.iter().copied());
        let page = app
            .send("POST", path, &fran, Some(&frans), Some(ORIGIN))
            .await;
        if path.ends_with("/notes") {
            assert_eq!(page.status, StatusCode::SEE_OTHER, "{path}");
        } else {
            assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}");
        }
    }
    let mut after = (
        app.detail(id).await,
        app.detail(target).await,
        app.stored_alert(alert).await,
    );
    // Fran's note is the one change.
    assert_eq!(after.0.notes.len(), 1);
    assert_eq!(after.0.notes[0].body, "hello");
    after.0.notes.clear();
    after.0.timeline.retain(|t| t.kind != "note");
    after.0.incident.updated_at = before.0.incident.updated_at;
    assert_eq!(after, before);
}

#[tokio::test]
async fn posts_about_incidents_the_caller_cannot_see_get_the_404_page() {
    let app = app().await;
    let hidden = app
        .incident(
            "Harassment case",
            Category::Harassment,
            Severity::Sev2,
            true,
        )
        .await;
    let adam = app.browser("adam").await;
    let csrf = app.get("/logout", &adam).await.csrf();
    let before = app.detail(hidden).await;
    let random = app
        .post(
            &format!("/incidents/{NO_SUCH_ID}/notes"),
            &adam,
            &csrf,
            &[("body", "x")],
        )
        .await;
    let page = app
        .post(
            &format!("/incidents/{hidden}/notes"),
            &adam,
            &csrf,
            &[("body", "x")],
        )
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert_eq!((page.status, page.body), (random.status, random.body));
    let page = app
        .post(
            &format!("/incidents/{hidden}/status"),
            &adam,
            &csrf,
            &[("status", "investigating")],
        )
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert_eq!(app.detail(hidden).await, before);
}

#[tokio::test]
async fn field_errors_are_summarised_linked_and_keep_what_was_typed() {
    let app = app().await;
    let id = app
        .incident(
            "Strange login",
            Category::AccountAbuse,
            Severity::Sev3,
            false,
        )
        .await;
    let (rita, csrf) = open(&app, "rita", id).await;
    let before = app.detail(id).await;
    // (path, fields, field id with the error, typed text kept), by hand.
    let cases: &[FieldCase<'_>] = &[
        ("/notes", &[("body", "   ")], "note-body", None),
        (
            "/assign",
            &[("owner", "nobody-here")],
            "owner",
            Some("value=\"nobody-here\""),
        ),
        (
            "/tasks",
            &[("title", "Reset the password"), ("task_owner", "ghost")],
            "task-owner",
            Some("value=\"Reset the password\""),
        ),
        ("/tasks", &[("title", "")], "task-title", None),
        (
            "/impact",
            &[
                ("confidentiality", "low"),
                ("integrity", ""),
                ("availability", "none"),
                ("summary", "Typed summary"),
            ],
            "integrity",
            Some(">Typed summary</textarea>"),
        ),
        ("/close", &[("resolution", "maybe")], "resolution", None),
        (
            "/merge",
            &[("into", "not-an-id")],
            "merge-into",
            Some("value=\"not-an-id\""),
        ),
        (
            "/merge",
            &[("into", NO_SUCH_ID)],
            "merge-into",
            Some(NO_SUCH_ID),
        ),
    ];
    for (path, fields, field, kept) in cases {
        let page = app
            .post(&format!("/incidents/{id}{path}"), &rita, &csrf, fields)
            .await;
        assert_eq!(
            page.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{path}: {}",
            page.body
        );
        assert!(page.body.contains("There is a problem"), "{path}");
        assert!(
            page.body.contains(&format!("<a href=\"#{field}\">")),
            "{path}"
        );
        assert!(
            page.body.contains(&format!("id=\"{field}-error\"")),
            "{path}"
        );
        assert!(page.body.contains(&format!("{field}-error\"")), "{path}");
        assert!(page.body.contains(&format!("id=\"{field}\"")), "{path}");
        if let Some(kept) = kept {
            assert!(page.body.contains(kept), "{path}: {kept}");
        }
        assert_eq!(app.detail(id).await, before, "{path}");
    }
    // Merging into itself.
    let page = app
        .post(
            &format!("/incidents/{id}/merge"),
            &rita,
            &csrf,
            &[("into", &id.to_string())],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("cannot be merged into itself"));
    assert_eq!(app.detail(id).await, before);
}

#[tokio::test]
async fn user_text_is_escaped() {
    let app = app().await;
    let id = app
        .incident(
            "<script>alert('t')</script>",
            Category::Other,
            Severity::Sev4,
            false,
        )
        .await;
    let (rita, csrf) = open(&app, "rita", id).await;
    let r = app
        .post(
            &format!("/incidents/{id}/notes"),
            &rita,
            &csrf,
            &[("body", "<script>alert('n')</script><b>x</b>")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let alert = app.alert("rule-x").await;
    app.store
        .link_alert(&Viewer::system(), id, alert)
        .await
        .unwrap();
    for path in [
        format!("/incidents/{id}"),
        "/incidents".to_owned(),
        "/alerts".to_owned(),
    ] {
        let page = app.get(&path, &rita).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(!page.body.contains("<script>"), "{path}");
        assert!(!page.body.contains("<b>x"), "{path}");
        assert!(page.body.contains("&#60;script&#62;"), "{path}");
        assert!(!page.body.contains("style="), "{path}");
    }
    // The evidence is text in a collapsible <pre>.
    let page = app.get(&format!("/incidents/{id}"), &rita).await;
    assert!(page.body.contains("<details class=\"evidence\">"));
    assert!(
        page.body
            .contains("&#60;script&#62;alert(1)&#60;/script&#62;")
    );
    // A typed query comes back escaped.
    let page = app.get("/incidents?q=%22%3E%3Cscript%3E", &rita).await;
    assert!(!page.body.contains("\"><script>"));
}

#[tokio::test]
async fn alerts_are_promoted_attached_and_dismissed() {
    let app = app().await;
    let rita = app.browser("rita").await;
    let promoted = app.alert("rule-a").await;
    let attached = app.alert("rule-b").await;
    let dismissed = app.alert("rule-c").await;
    let incident = app
        .incident(
            "Existing case",
            Category::SecurityIncident,
            Severity::Sev2,
            false,
        )
        .await;
    let page = app.get("/alerts", &rita).await;
    assert_eq!(page.status, StatusCode::OK);
    for a in [promoted, attached, dismissed] {
        assert!(page.body.contains(&format!("id=\"alert-{a}\"")));
    }
    let csrf = page.csrf();

    // Filters: (query, alerts listed), by hand.
    let cases: Vec<(&str, Vec<AlertId>)> = vec![
        ("?disposition=queued", vec![promoted, attached, dismissed]),
        ("?disposition=opened", vec![]),
        ("?rule=rule-b", vec![attached]),
    ];
    for (query, expected) in cases {
        let page = app.get(&format!("/alerts{query}"), &rita).await;
        assert_eq!(page.status, StatusCode::OK, "{query}");
        for a in [promoted, attached, dismissed] {
            assert_eq!(
                page.body.contains(&format!("id=\"alert-{a}\"")),
                expected.contains(&a),
                "{query} {a}"
            );
        }
    }
    let bad = app.get("/alerts?disposition=maybe", &rita).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("id=\"disposition-error\""));

    // Dismissing needs a reason, shown next to the field; the filter of
    // the view is kept.
    let path = format!("/alerts/{dismissed}/dismiss?disposition=queued");
    let r = app.post(&path, &rita, &csrf, &[("reason", "  ")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body
            .contains(&format!("<a href=\"#reason-{dismissed}\">"))
    );
    assert!(r.body.contains(&format!("id=\"reason-{dismissed}-error\"")));
    assert!(
        r.body
            .contains(&format!("aria-describedby=\"reason-{dismissed}-error\""))
    );
    assert_eq!(
        app.stored_alert(dismissed).await.disposition,
        AlertDisposition::Queued
    );
    let r = app
        .post(&path, &rita, &csrf, &[("reason", "Known scanner")])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), Some("/alerts?disposition=queued"));
    assert_eq!(
        app.stored_alert(dismissed).await.disposition,
        AlertDisposition::Dismissed
    );

    // Attach: a bad id is a field error with the typed value kept.
    let r = app
        .post(
            &format!("/alerts/{attached}/attach"),
            &rita,
            &csrf,
            &[("incident", NO_SUCH_ID)],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body
            .contains(&format!("id=\"incident-{attached}-error\""))
    );
    assert!(r.body.contains(&format!("value=\"{NO_SUCH_ID}\"")));
    assert_eq!(app.stored_alert(attached).await.incident_id, None);
    let r = app
        .post(
            &format!("/alerts/{attached}/attach"),
            &rita,
            &csrf,
            &[("incident", &incident.to_string())],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(app.stored_alert(attached).await.incident_id, Some(incident));
    assert!(
        app.detail(incident)
            .await
            .alerts
            .iter()
            .any(|a| a.id == attached)
    );

    // Promote: an incident, and the page goes there.
    let r = app
        .post(&format!("/alerts/{promoted}/promote"), &rita, &csrf, &[])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let opened = app
        .stored_alert(promoted)
        .await
        .incident_id
        .expect("linked");
    assert_eq!(r.location(), Some(format!("/incidents/{opened}").as_str()));
    // Promoting again is offered no more.
    let page = app.get("/alerts", &rita).await;
    assert!(!page.body.contains(&format!("/alerts/{promoted}/promote")));

    // An alert the caller cannot see: the 404 page.
    let r = app
        .post(
            &format!("/alerts/{NO_SUCH_ID}/dismiss"),
            &rita,
            &csrf,
            &[("reason", "x")],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // Finance-ops reads the queue and is offered no action.
    let fran = app.browser("fran").await;
    let page = app.get("/alerts", &fran).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("action=\"/alerts/"));
}

#[tokio::test]
async fn a_participant_added_on_the_page_may_then_open_the_incident() {
    let app = app().await;
    let id = app
        .incident(
            "Harassment at the offsite",
            Category::Harassment,
            Severity::Sev2,
            true,
        )
        .await;
    let path = format!("/incidents/{id}");
    let bob = app.browser("bob").await;
    // Before: bob gets the same 404 as for an incident that does not exist.
    assert_eq!(app.get(&path, &bob).await.status, StatusCode::NOT_FOUND);

    let (rita, csrf) = open(&app, "rita", id).await;
    let page = app.get(&path, &rita).await;
    assert!(page.body.contains("action=\"/incidents/"));
    assert!(page.body.contains("name=\"participant\""));

    // An unknown name: the error is next to the field and the text is kept.
    let r = app
        .post(
            &format!("{path}/participants"),
            &rita,
            &csrf,
            &[("participant", "nobody-here")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("id=\"participant-error\""));
    assert!(r.body.contains("There is no user called nobody-here."));
    assert!(r.body.contains("value=\"nobody-here\""));
    // An empty name asks for one.
    let r = app
        .post(
            &format!("{path}/participants"),
            &rita,
            &csrf,
            &[("participant", " ")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("Give the user name of the person to add."));
    assert_eq!(app.get(&path, &bob).await.status, StatusCode::NOT_FOUND);

    // Bob named: he is listed and may open it.
    let r = app
        .post(
            &format!("{path}/participants"),
            &rita,
            &csrf,
            &[("participant", "bob")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), Some(path.as_str()));
    let bob_id = app.user("bob").await.id;
    assert!(app.detail(id).await.participants.contains(&bob_id));
    let page = app.get(&path, &rita).await;
    assert!(page.body.contains("<li>bob</li>"), "{}", page.body);
    assert_eq!(app.get(&path, &bob).await.status, StatusCode::OK);

    // A reporter may not add participants: the form is not offered, and a
    // post is refused without naming anyone.
    let page = app.get(&path, &bob).await;
    assert!(!page.body.contains("name=\"participant\""));
    let bob_csrf = app.get("/report", &bob).await.csrf();
    let r = app
        .post(
            &format!("{path}/participants"),
            &bob,
            &bob_csrf,
            &[("participant", "alice")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let alice_id = app.user("alice").await.id;
    assert!(!app.detail(id).await.participants.contains(&alice_id));
}

#[tokio::test]
async fn a_responder_merges_an_incident_into_another_on_the_page() {
    let app = app().await;
    let from = app
        .incident(
            "Second report of the lost laptop",
            Category::Theft,
            Severity::Sev3,
            false,
        )
        .await;
    let into = app
        .incident(
            "Laptop stolen from car",
            Category::Theft,
            Severity::Sev3,
            false,
        )
        .await;
    let alert = app.alert("laptop-rule").await;
    app.store
        .link_alert(&Viewer::system(), from, alert)
        .await
        .unwrap();
    let (rita, csrf) = open(&app, "rita", from).await;
    let r = app
        .post(
            &format!("/incidents/{from}/merge"),
            &rita,
            &csrf,
            &[("into", &into.to_string())],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), Some(format!("/incidents/{from}").as_str()));
    let merged = app.detail(from).await;
    assert_eq!(merged.incident.status, Status::Merged);
    assert_eq!(merged.incident.merged_into, Some(into));
    // The alert moved with it.
    assert_eq!(app.stored_alert(alert).await.incident_id, Some(into));
    let page = app.get(&format!("/incidents/{from}"), &rita).await;
    assert!(
        page.body.contains(&format!(
            "Merged into <a href=\"/incidents/{into}\">incident {into}</a>."
        )),
        "{}",
        page.body
    );
    // A merged incident offers no more forms.
    assert!(
        !page
            .body
            .contains(&format!("action=\"/incidents/{from}/merge\""))
    );
    assert!(
        !page
            .body
            .contains(&format!("action=\"/incidents/{from}/status\""))
    );
}
