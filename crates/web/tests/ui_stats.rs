//! The stats page (`/stats`) against the real router and a real SQLite
//! store: who may open it, the period field and its errors, the empty
//! state, the figures of every chart and table for incidents seeded with
//! known times, and need-to-know (a sensitive incident changes nothing on
//! the page of someone who may not see it).
//!
//! Incidents are created through the store with backdated report,
//! acknowledgement and resolution times, in the three whole weeks before
//! this one; every expected count, median, share and bar position below is
//! worked out here by hand.

mod support {
    pub mod pages;
}

use axum::http::StatusCode;
use incidents::{Category, IncidentId, NewIncident, Role, Severity, Status, Viewer};
use support::pages::{App, Browser, Page, encode};
use time::{Duration, OffsetDateTime};
use watchpost_web as web;

impl Page {
    fn has(&self, text: &str) -> bool {
        self.body.contains(text)
    }

    #[track_caller]
    fn assert_has(&self, text: &str) {
        assert!(self.has(text), "missing {text:?} in\n{}", self.body);
    }
}

/// The users of every test: (name, role).
const USERS: &[(&str, Role)] = &[
    ("alice", Role::Reporter),
    ("rita", Role::Responder),
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
    /// An incident reported at `reported`, acknowledged (moved to
    /// investigating) after `ack` and resolved (moved to recovered) after
    /// `resolve`, both counted from `reported`.
    async fn incident(
        &self,
        title: &str,
        category: Category,
        severity: Severity,
        reported: OffsetDateTime,
        ack: Option<Duration>,
        resolve: Option<Duration>,
    ) -> IncidentId {
        let system = Viewer::system();
        let id = self
            .store
            .create_incident(
                &system,
                NewIncident {
                    title: title.to_owned(),
                    description: format!("About {title}."),
                    category,
                    severity,
                    sensitive: category == Category::Harassment,
                    occurred_at: None,
                    detected_at: None,
                    reported_at: Some(reported),
                },
            )
            .await
            .unwrap()
            .id;
        if let Some(ack) = ack {
            self.store
                .transition_incident(&system, id, Status::Investigating, Some(reported + ack))
                .await
                .unwrap();
        }
        if let Some(resolve) = resolve {
            self.store
                .transition_incident(&system, id, Status::Recovered, Some(reported + resolve))
                .await
                .unwrap();
        }
        id
    }
}

/// Monday 00:00 UTC of this week (worked out here, not by the page).
fn this_monday() -> OffsetDateTime {
    let today = OffsetDateTime::now_utc().date();
    let back = i64::from(today.weekday().number_days_from_monday());
    (today - Duration::days(back)).midnight().assume_utc()
}

fn day(t: OffsetDateTime) -> String {
    t.format(time::macros::format_description!("[year]-[month]-[day]"))
        .unwrap()
}

/// The seeded weeks of a four-week page: W0 (three weeks ago) to W3
/// (this week).
struct Weeks {
    w: [OffsetDateTime; 4],
}

impl Weeks {
    fn new() -> Weeks {
        let m = this_monday();
        Weeks {
            w: [
                m - Duration::weeks(3),
                m - Duration::weeks(2),
                m - Duration::weeks(1),
                m,
            ],
        }
    }

    fn day(&self, i: usize) -> String {
        day(self.w[i])
    }
}

const H: fn(i64) -> Duration = Duration::hours;
const MIN: fn(i64) -> Duration = Duration::minutes;

/// Seeds the non-sensitive incidents (times from the week starts):
///
/// | | reported | kind | severity | acknowledged | resolved |
/// |---|---|---|---|---|---|
/// | A | W0 Mon 00:00 (the period's first instant) | theft | SEV4 | never | never |
/// | B | W0 Tue 10:00 | theft | SEV2 | +30 min | +3 h |
/// | C | W0 Wed 09:00 | theft | SEV3 | +5 h | never |
/// | D | W1 Mon 08:00 | security incident | SEV1 | +10 min | +2 h |
/// | E | W1 Thu 12:00 | security incident | SEV1 | +20 min | +4 h |
/// | F | W2 Wed 15:00 | other | SEV4 | never | never |
/// | G | one second before W0 (outside the period) | theft | SEV1 | +5 min | never |
async fn seed(app: &App, w: &Weeks) {
    let d = Duration::days;
    let w = &w.w;
    app.incident("A", Category::Theft, Severity::Sev4, w[0], None, None)
        .await;
    app.incident(
        "<script>alert('B')</script>",
        Category::Theft,
        Severity::Sev2,
        w[0] + d(1) + H(10),
        Some(MIN(30)),
        Some(H(3)),
    )
    .await;
    app.incident(
        "C",
        Category::Theft,
        Severity::Sev3,
        w[0] + d(2) + H(9),
        Some(H(5)),
        None,
    )
    .await;
    app.incident(
        "D",
        Category::SecurityIncident,
        Severity::Sev1,
        w[1] + H(8),
        Some(MIN(10)),
        Some(H(2)),
    )
    .await;
    app.incident(
        "E",
        Category::SecurityIncident,
        Severity::Sev1,
        w[1] + d(3) + H(12),
        Some(MIN(20)),
        Some(H(4)),
    )
    .await;
    app.incident(
        "F",
        Category::Other,
        Severity::Sev4,
        w[2] + d(2) + H(15),
        None,
        None,
    )
    .await;
    app.incident(
        "G",
        Category::Theft,
        Severity::Sev1,
        w[0] - Duration::seconds(1),
        Some(MIN(5)),
        None,
    )
    .await;
}

/// The sensitive incident H: harassment, SEV2, reported W1 Wed 11:00,
/// acknowledged after 2 h, resolved after 1 day. Responders and
/// finance-ops see it; an admin who is not named on it does not.
async fn seed_sensitive(app: &App, w: &Weeks) -> IncidentId {
    app.incident(
        "H",
        Category::Harassment,
        Severity::Sev2,
        w.w[1] + Duration::days(2) + H(11),
        Some(H(2)),
        Some(Duration::days(1)),
    )
    .await
}

/// A table row as the page writes it.
fn row(head: &str, cells: &[&str]) -> String {
    let mut s = format!("<tr><th scope=\"row\">{head}</th>");
    for c in cells {
        s.push_str(&format!("<td>{c}</td>"));
    }
    s.push_str("</tr>");
    s
}

#[tokio::test]
async fn anonymous_requests_go_to_sign_in() {
    let app = app().await;
    for path in ["/stats", "/stats?weeks=4", "/stats?weeks=bad"] {
        let page = app.get(path, &Browser::default()).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(page.location(), Some("/login"), "{path}");
    }
}

/// The route table gives `GET /api/v1/metrics` to responders, finance-ops
/// and admins: they get the page, a reporter the 404 page.
#[tokio::test]
async fn the_roles_of_the_metrics_route_open_it_and_others_get_404() {
    let app = app().await;
    let table = [
        ("alice", StatusCode::NOT_FOUND),
        ("rita", StatusCode::OK),
        ("fran", StatusCode::OK),
        ("adam", StatusCode::OK),
    ];
    for (name, want) in table {
        let b = app.browser(name).await;
        let page = app.get("/stats", &b).await;
        assert_eq!(page.status, want, "{name}");
        assert_eq!(
            page.headers
                .get("content-security-policy")
                .and_then(|v| v.to_str().ok()),
            Some(web::ui::CSP),
            "{name}"
        );
        if want == StatusCode::OK {
            page.assert_has("<h1>Response metrics</h1>");
            page.assert_has("<a href=\"/stats\" aria-current=\"page\">Stats</a>");
        } else {
            assert!(!page.has("Response metrics"), "{name}");
        }
    }
}

#[tokio::test]
async fn with_no_incidents_the_page_says_so() {
    let app = app().await;
    let rita = app.browser("rita").await;
    let page = app.get("/stats", &rita).await;
    assert_eq!(page.status, StatusCode::OK);
    page.assert_has("No incidents were reported in these weeks.");
    page.assert_has("value=\"12\"");
    assert!(!page.has("<svg class=\"chart\""));
}

#[tokio::test]
async fn a_bad_period_is_a_field_error_that_keeps_what_was_typed() {
    let app = app().await;
    let rita = app.browser("rita").await;
    // (query value, how the field shows it again)
    let cases = [
        ("0", "0"),
        ("53", "53"),
        ("4.5", "4.5"),
        ("abc", "abc"),
        (
            "<script>alert(1)</script>",
            "&#60;script&#62;alert(1)&#60;/script&#62;",
        ),
        ("\"><b>x", "&#34;&#62;&#60;b&#62;x"),
    ];
    for (typed, shown) in cases {
        let page = app
            .get(&format!("/stats?weeks={}", encode(typed)), &rita)
            .await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY, "{typed}");
        page.assert_has("<h2 id=\"error-summary-title\">There is a problem</h2>");
        page.assert_has(
            "<a href=\"#weeks\">Enter the number of weeks to show as a whole number from 1 to 52.</a>",
        );
        page.assert_has(&format!("value=\"{shown}\" aria-invalid=\"true\""));
        assert!(!page.has("<script>"), "{typed}");
        assert!(!page.has("<b>x"), "{typed}");
        assert!(!page.has("<svg class=\"chart\""), "{typed}");
    }
    for (query, shown) in [
        ("", "12"),
        ("?weeks=", "12"),
        ("?weeks=1", "1"),
        ("?weeks=52", "52"),
    ] {
        let page = app.get(&format!("/stats{query}"), &rita).await;
        assert_eq!(page.status, StatusCode::OK, "{query}");
        page.assert_has(&format!(
            "value=\"{shown}\" aria-describedby=\"weeks-hint\""
        ));
    }
}

#[tokio::test]
async fn the_charts_show_the_seeded_figures() {
    let app = app().await;
    let w = Weeks::new();
    seed(&app, &w).await;
    let adam = app.browser("adam").await;
    let page = app.get("/stats?weeks=4", &adam).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let last_day = day(w.w[3] + Duration::days(6));
    page.assert_has(&format!(
        "Incidents reported from <strong>{}</strong> to <strong>{last_day}</strong>: <strong>6</strong>.",
        w.day(0)
    ));

    // Chart 1: A, B, C in W0 (theft); D, E in W1 (security incident);
    // F in W2 (something else); G is before the period.
    for title in [
        format!(
            "<title>Theft: 3 incidents in the week starting {}</title>",
            w.day(0)
        ),
        format!(
            "<title>Security incident: 2 incidents in the week starting {}</title>",
            w.day(1)
        ),
        format!(
            "<title>Something else: 1 incident in the week starting {}</title>",
            w.day(2)
        ),
    ] {
        page.assert_has(&title);
    }
    // Three bars, and no other: the axis tops at 3 (one incident is
    // 220 / 3 = 73.3 pixels high); four bands of 160 pixels from x = 60,
    // each bar 96 wide starting 32 in.
    assert_eq!(
        page.body
            .matches("stroke=\"#fff\" stroke-width=\"1\"><title>")
            .count(),
        3
    );
    page.assert_has("<rect class=\"c2\" x=\"92\" y=\"20\" width=\"96\" height=\"220\"");
    page.assert_has("<rect class=\"c0\" x=\"252\" y=\"93.3\" width=\"96\" height=\"146.7\"");
    page.assert_has("<rect class=\"c10\" x=\"412\" y=\"166.7\" width=\"96\" height=\"73.3\"");
    // The key, in words.
    page.assert_has("<rect class=\"c0\" width=\"14\" height=\"14\"/></svg>Security incident</li>");
    page.assert_has("<rect class=\"c2\" width=\"14\" height=\"14\"/></svg>Theft</li>");
    page.assert_has("<rect class=\"c10\" width=\"14\" height=\"14\"/></svg>Something else</li>");
    // Its table: security incident, theft, something else, all kinds.
    page.assert_has("<th scope=\"col\">Week starting</th><th scope=\"col\">Security incident</th><th scope=\"col\">Theft</th><th scope=\"col\">Something else</th><th scope=\"col\">All kinds</th>");
    page.assert_has(&row(&w.day(0), &["0", "3", "0", "3"]));
    page.assert_has(&row(&w.day(1), &["2", "0", "0", "2"]));
    page.assert_has(&row(&w.day(2), &["0", "0", "1", "1"]));
    page.assert_has(&row(&w.day(3), &["0", "0", "0", "0"]));

    // Chart 2, time to acknowledge: W0 SEV2 30 min (B), SEV3 5 h (C);
    // W1 SEV1 the median of 10 and 20 min. The largest, 5 h, puts the
    // axis in hours.
    page.assert_has("<title id=\"tta-title\">Median time to acknowledge per week, by severity, in hours</title>");
    page.assert_has(&row(&w.day(0), &["none", "30 min", "5 h", "none"]));
    page.assert_has(&row(&w.day(1), &["15 min", "none", "none", "none"]));
    page.assert_has(&format!(
        "<title>SEV1 critical, week starting {}: median time to acknowledge 15 min</title>",
        w.day(1)
    ));
    // Time to resolve: W0 SEV2 3 h (B); W1 SEV1 the median of 2 and 4 h.
    page.assert_has(
        "<title id=\"ttr-title\">Median time to resolve per week, by severity, in hours</title>",
    );
    page.assert_has(&row(&w.day(0), &["none", "3 h", "none", "none"]));
    page.assert_has(&row(&w.day(1), &["3 h", "none", "none", "none"]));
    // The axis tops at 5 h (max 5), so y = 240 − 44 × hours: C's 5 h is
    // at the top (y = 20), B's 0.5 h at y = 218; the bands are centred on
    // x = 140, 300, 460 and 620. SEV3 is a triangle, SEV2 a diamond.
    page.assert_has("<polygon class=\"mark s3\" points=\"140,15 145,24 135,24\">");
    page.assert_has("<polygon class=\"mark s2\" points=\"140,213 145,218 140,223 135,218\">");
    // W1 SEV1 at 0.25 h: y = 240 − 11 = 229; a square.
    page.assert_has("<polygon class=\"mark s1\" points=\"296,225 304,225 304,233 296,233\">");
    // No line joins a lone point.
    assert!(!page.has("<polyline class=\"line s3\""));

    // Chart 3: SEV1 D met (10 min ≤ 15), E missed (20 min); SEV2 B met
    // (30 min ≤ 1 h); SEV3 C missed (5 h > 4 h); SEV4 A and F never
    // acknowledged and long past their one business day (the default
    // targets: docs/sla.md).
    page.assert_has(&row(
        "SEV1 critical",
        &["15m", "1", "1", "0", "50% (1 of 2)"],
    ));
    page.assert_has(&row("SEV2 high", &["1h", "1", "0", "0", "100% (1 of 1)"]));
    page.assert_has(&row("SEV3 medium", &["4h", "0", "1", "0", "0% (0 of 1)"]));
    page.assert_has(&row(
        "SEV4 low",
        &["1 business day", "0", "2", "0", "0% (0 of 2)"],
    ));
    // Bars of 360 pixels for 100 %, from x = 240, rows 40 apart from 20.
    page.assert_has("<rect class=\"s1\" x=\"240\" y=\"28\" width=\"180\" height=\"24\">");
    page.assert_has("<rect class=\"s2\" x=\"240\" y=\"68\" width=\"360\" height=\"24\">");
    page.assert_has("<rect class=\"s3\" x=\"240\" y=\"108\" width=\"0\" height=\"24\">");

    // The whole period, by severity (the API's figures).
    page.assert_has(&row("SEV1 critical", &["2", "2", "15 min", "2", "3 h"]));
    page.assert_has(&row("SEV2 high", &["1", "1", "30 min", "1", "3 h"]));
    page.assert_has(&row("SEV3 medium", &["1", "1", "5 h", "0", "none"]));
    page.assert_has(&row("SEV4 low", &["2", "0", "none", "0", "none"]));

    // Incident text is never on the page, let alone as markup.
    assert!(!page.has("<script>"));
    assert!(!page.has("alert("));

    // One week: only this week, which has none.
    let page = app.get("/stats?weeks=1", &adam).await;
    assert_eq!(page.status, StatusCode::OK);
    page.assert_has("No incidents were reported in these weeks.");
}

/// A sensitive incident counts for responders and finance-ops, who see
/// it, and changes not one byte of the page of an admin who is not named
/// on it.
#[tokio::test]
async fn a_sensitive_incident_counts_only_for_those_who_may_see_it() {
    let app = app().await;
    let w = Weeks::new();
    seed(&app, &w).await;
    let adam = app.browser("adam").await;
    let rita = app.browser("rita").await;
    let fran = app.browser("fran").await;
    let mut before = Vec::new();
    for b in [&adam, &rita, &fran] {
        for path in ["/stats?weeks=4", "/stats"] {
            let page = app.get(path, b).await;
            assert_eq!(page.status, StatusCode::OK);
            before.push(page.body);
        }
    }
    seed_sensitive(&app, &w).await;

    for (i, path) in ["/stats?weeks=4", "/stats"].into_iter().enumerate() {
        let after = app.get(path, &adam).await;
        assert_eq!(after.status, StatusCode::OK);
        assert!(after.body == before[i], "{path}: the admin's page changed");
        assert!(!after.has("Harassment"), "{path}");
    }

    let harassment_bar = format!(
        "<title>Harassment: 1 incident in the week starting {}</title>",
        w.day(1)
    );
    for (n, b) in [(1, &rita), (2, &fran)] {
        let page = app.get("/stats?weeks=4", b).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(
            page.body != before[2 * n],
            "the page of viewer {n} did not change"
        );
        page.assert_has(&format!(
            "Incidents reported from <strong>{}</strong> to <strong>{}</strong>: <strong>7</strong>.",
            w.day(0),
            day(w.w[3] + Duration::days(6))
        ));
        page.assert_has(&harassment_bar);
        // W1 now has 3: security incident 2, harassment 1 on top of it.
        page.assert_has("<rect class=\"c6\" x=\"252\" y=\"20\" width=\"96\" height=\"73.3\"");
        page.assert_has(&row(&w.day(1), &["2", "0", "1", "0", "3"]));
        // H: acknowledged after 2 h (SEV2 missed), resolved after a day.
        page.assert_has(&row(&w.day(1), &["15 min", "2 h", "none", "none"]));
        page.assert_has(&row(&w.day(1), &["3 h", "1 d", "none", "none"]));
        page.assert_has(&row("SEV2 high", &["1h", "1", "1", "0", "50% (1 of 2)"]));
        page.assert_has(&row(
            "SEV2 high",
            &["2", "2", "1 h 15 min", "2", "13 h 30 min"],
        ));
    }
}
