//! The operations pages (`/sources`, `/rules` and its reload form,
//! `/coverage`, `/audit`) against the real router and a real SQLite store,
//! with an event sink whose answers are written here: who may open each
//! page (by a table written by hand from the API's access rules), what each
//! page shows, empty states and a server without live detection, escaping,
//! the reload form's checks, and the audit trail's order, filters,
//! pagination and chain status (intact, then tampered with).

mod support {
    pub mod pages;
}

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::StatusCode;
use incidents::{Category, NewIncident, NewUser, Role, Severity, Viewer};
use support::pages::{self, Browser, ORIGIN, PASSWORD, Page};
use watchpost_web as web;
use web::AppState;
use web::events::{
    Coverage, CoverageRule, CoverageSource, IngestStatus, LogGap, LogSourceBody, RuleHits,
    RuleKind, RuleSummary, RulesReloaded, SourceHealth, SourceStream, Streams,
};

const XSS: &str = "<script>alert(1)</script>";
const XSS_ESCAPED: &str = "&#60;script&#62;alert(1)&#60;/script&#62;";

/// The pages, each with the API route it mirrors.
const PAGES: &[&str] = &["/sources", "/rules", "/coverage", "/audit"];

/// Who may open each page, written by hand from the API's access table
/// (`GET /api/v1/sources`, `GET /api/v1/coverage` and `GET /api/v1/audit`
/// are for responders and admins): (user, role, the status of every page).
const EXPECTED: &[(&str, Role, StatusCode)] = &[
    ("alice", Role::Reporter, StatusCode::NOT_FOUND),
    ("rita", Role::Responder, StatusCode::OK),
    ("fran", Role::FinanceOps, StatusCode::NOT_FOUND),
    ("adam", Role::Admin, StatusCode::OK),
];

fn t(text: &str) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).unwrap()
}

fn logsource(product: &str, service: &str) -> LogSourceBody {
    LogSourceBody {
        product: Some(product.to_owned()),
        service: Some(service.to_owned()),
        category: None,
    }
}

fn rule(id: Option<&str>, title: &str, kind: RuleKind, l: Option<LogSourceBody>) -> RuleSummary {
    RuleSummary {
        id: id.map(str::to_owned),
        title: title.to_owned(),
        level: incidents::AlertLevel::High,
        kind,
        logsource: l,
    }
}

/// What the fake sink answers.
#[derive(Clone, Default)]
struct Canned {
    sources: Vec<SourceHealth>,
    streams: Vec<SourceStream>,
    coverage: Coverage,
    errors: Vec<String>,
    hits: Vec<RuleHits>,
    /// `Some(reason)`: reloads are refused.
    refuse_reload: Option<String>,
}

struct FakeSink {
    canned: Canned,
    reloads: AtomicU64,
}

#[async_trait::async_trait]
impl web::events::EventSink for FakeSink {
    async fn submit(
        &self,
        _batch: web::events::EventBatch,
    ) -> Result<web::events::Receipt, web::events::Refusal> {
        Ok(web::events::Receipt::default())
    }

    async fn submit_otlp(&self, _batch: web::events::OtlpBatch) -> web::events::OtlpAnswer {
        web::events::OtlpAnswer {
            status: 200,
            content_type: "application/x-protobuf",
            body: Vec::new(),
            retry_after_secs: None,
        }
    }

    fn max_body_bytes(&self) -> usize {
        1 << 20
    }

    async fn reload_rules(&self) -> Result<RulesReloaded, String> {
        if let Some(reason) = &self.canned.refuse_reload {
            return Err(reason.clone());
        }
        self.reloads.fetch_add(1, Ordering::SeqCst);
        Ok(RulesReloaded {
            rules_loaded: 2,
            rule_errors: self.canned.errors.clone(),
        })
    }

    fn sources(&self) -> Vec<SourceHealth> {
        self.canned.sources.clone()
    }

    fn streams(&self) -> Streams {
        Streams {
            streams: self.canned.streams.clone(),
            untracked_events: 0,
        }
    }

    fn coverage(&self) -> Coverage {
        self.canned.coverage.clone()
    }

    fn rule_errors(&self) -> Vec<String> {
        self.canned.errors.clone()
    }

    fn rule_hits(&self) -> Vec<RuleHits> {
        self.canned.hits.clone()
    }

    fn status(&self) -> IngestStatus {
        IngestStatus::default()
    }

    fn prometheus(&self) -> String {
        String::new()
    }
}

/// A server that has heard from two sources (one of its streams silent),
/// runs three rules (one fed by no stream), failed to load one file, and
/// found detections of two rules and one built-in detector.
fn busy() -> Canned {
    let ssh = rule(
        Some("r-ssh"),
        "SSH brute force",
        RuleKind::Detection,
        Some(logsource("linux", "sshd")),
    );
    let web_rule = rule(
        Some("r-web"),
        "Web shell upload",
        RuleKind::Detection,
        Some(logsource("linux", "nginx")),
    );
    let idle = rule(
        Some("r-win"),
        "Mimikatz on Windows",
        RuleKind::Detection,
        Some(logsource("windows", "security")),
    );
    let covered = |r: &RuleSummary, events_seen: u64, streams: u64| CoverageRule {
        id: r.id.clone(),
        title: r.title.clone(),
        level: r.level,
        kind: r.kind,
        logsource: r.logsource.clone(),
        events_seen,
        streams,
    };
    Canned {
        sources: vec![
            SourceHealth {
                name: "fw1/syslog".to_owned(),
                accepted: 1200,
                rejected: 3,
                first_seen: Some(t("2026-12-03T08:00:00Z")),
                last_seen: Some(t("2026-12-03T10:00:00Z")),
                lines_per_minute: 10.04,
            },
            SourceHealth {
                name: "web1/json".to_owned(),
                accepted: 90,
                rejected: 0,
                first_seen: Some(t("2026-12-03T09:00:00Z")),
                last_seen: Some(t("2026-12-03T09:30:00Z")),
                lines_per_minute: 3.0,
            },
        ],
        streams: vec![
            SourceStream {
                name: "fw1/syslog".to_owned(),
                host: Some("fw1".to_owned()),
                logsource: logsource("linux", "sshd"),
                events: 1200,
                first_event: Some(t("2026-12-03T08:00:00Z")),
                last_event: Some(t("2026-12-03T10:00:00Z")),
                last_received: t("2026-12-03T10:00:00Z"),
                events_per_minute: 10.04,
                silent: false,
                silent_since: None,
                gaps: vec![LogGap {
                    from: t("2026-12-03T08:30:00Z"),
                    to: Some(t("2026-12-03T08:50:00Z")),
                    seconds: 1200.0,
                }],
                rules: 1,
            },
            SourceStream {
                name: "web1/json".to_owned(),
                host: Some("web1".to_owned()),
                logsource: logsource("linux", "nginx"),
                events: 90,
                first_event: Some(t("2026-12-03T09:00:00Z")),
                last_event: Some(t("2026-12-03T09:30:00Z")),
                last_received: t("2026-12-03T09:30:00Z"),
                events_per_minute: 3.0,
                silent: true,
                silent_since: Some(t("2026-12-03T09:30:00Z")),
                gaps: vec![LogGap {
                    from: t("2026-12-03T09:30:00Z"),
                    to: None,
                    seconds: 1800.0,
                }],
                rules: 1,
            },
        ],
        coverage: Coverage {
            sources: vec![
                CoverageSource {
                    name: "fw1/syslog".to_owned(),
                    host: Some("fw1".to_owned()),
                    logsource: logsource("linux", "sshd"),
                    events: 1200,
                    rules: vec![ssh.clone()],
                },
                CoverageSource {
                    name: "web1/json".to_owned(),
                    host: Some("web1".to_owned()),
                    logsource: logsource("linux", "nginx"),
                    events: 90,
                    rules: vec![web_rule.clone()],
                },
                CoverageSource {
                    name: "printer/syslog".to_owned(),
                    host: None,
                    logsource: logsource("hp", "jetdirect"),
                    events: 7,
                    rules: vec![],
                },
            ],
            rules: vec![
                covered(&idle, 0, 0),
                covered(&ssh, 1200, 1),
                covered(&web_rule, 90, 1),
            ],
            rules_without_events: vec![idle],
            untracked_events: 0,
        },
        errors: vec!["rules/broken.yml: line 4: unknown modifier 'contians'".to_owned()],
        hits: vec![
            RuleHits {
                rule_id: "r-ssh".to_owned(),
                title: "SSH brute force".to_owned(),
                hits: 17,
            },
            RuleHits {
                rule_id: "r-web".to_owned(),
                title: "Web shell upload".to_owned(),
                hits: 2,
            },
            RuleHits {
                rule_id: "watchpost-log-silent".to_owned(),
                title: "Log source went silent".to_owned(),
                hits: 4,
            },
        ],
        refuse_reload: None,
    }
}

/// The shared page-test app and the fake event sink behind it.
struct App {
    app: pages::App,
    sink: Option<Arc<FakeSink>>,
}

impl std::ops::Deref for App {
    type Target = pages::App;

    fn deref(&self) -> &pages::App {
        &self.app
    }
}

impl Page {
    /// The text of the element with `id`, up to its first `<`-less end:
    /// enough for a number or a word.
    fn text_of(&self, id: &str) -> String {
        let marker = format!("id=\"{id}\"");
        let at = self
            .body
            .find(&marker)
            .unwrap_or_else(|| panic!("no #{id} in\n{}", self.body));
        let rest = &self.body[at..];
        let start = rest.find('>').unwrap() + 1;
        let end = rest[start..].find('<').unwrap();
        rest[start..start + end].to_owned()
    }

    /// The audit rows' entry numbers, in order.
    fn audit_seqs(&self) -> Vec<i64> {
        self.body
            .split("<th scope=\"row\" class=\"num\">")
            .skip(1)
            .map(|rest| rest[..rest.find('<').unwrap()].parse().unwrap())
            .collect()
    }

    /// The "Older entries" link, unescaped.
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

/// A store with one user per role that signs in (plus an ingest account),
/// and `sink` (none: a server without live detection).
async fn app(sink: Option<Canned>) -> App {
    let users: Vec<(&str, Role)> = EXPECTED.iter().map(|(n, r, _)| (*n, *r)).collect();
    let sink = sink.map(|canned| {
        Arc::new(FakeSink {
            canned,
            reloads: AtomicU64::new(0),
        })
    });
    let events = sink.clone().map(|s| s as Arc<dyn web::events::EventSink>);
    let app = pages::App::with_state(
        &users,
        incidents::StoreOptions::default(),
        web::RouterOptions::default(),
        |state| AppState { events, ..state },
    )
    .await;
    app.store
        .create_user(
            &Viewer::system(),
            NewUser {
                name: "shipper".to_owned(),
                role: Role::Ingest,
            },
        )
        .await
        .unwrap();
    App { app, sink }
}

impl App {
    /// Signs `name` in; the answer to the sign-in form.
    async fn sign_in(&self, name: &str) -> (Browser, Page) {
        let mut b = Browser::default();
        let page = self.app.sign_in(&mut b, name, PASSWORD).await;
        (b, page)
    }

    fn reloads(&self) -> u64 {
        self.sink.as_ref().unwrap().reloads.load(Ordering::SeqCst)
    }

    async fn incident(&self, title: &str) -> incidents::IncidentId {
        self.store
            .create_incident(
                &Viewer::system(),
                NewIncident {
                    title: title.to_owned(),
                    description: format!("About {title}."),
                    category: Category::SecurityIncident,
                    severity: Severity::Sev3,
                    sensitive: false,
                    occurred_at: None,
                    detected_at: None,
                    reported_at: None,
                },
            )
            .await
            .unwrap()
            .id
    }

    async fn raw_exec(&self, sql: &str) {
        use sqlx::Executor;
        sqlx::any::install_default_drivers();
        let url = format!(
            "sqlite://{}",
            self.dir.path().join("watchpost.db").display()
        );
        let pool = sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .connect(&url)
            .await
            .unwrap();
        pool.execute(sqlx::AssertSqlSafe(sql.to_owned()))
            .await
            .unwrap();
        pool.close().await;
    }
}

fn assert_page_headers(page: &Page, what: &str) {
    let csp = page
        .headers
        .get("content-security-policy")
        .unwrap_or_else(|| panic!("{what}: no CSP"))
        .to_str()
        .unwrap();
    assert!(csp.contains("default-src 'none'"), "{what}: {csp}");
    assert_eq!(
        page.headers
            .get("x-frame-options")
            .map(|v| v.to_str().unwrap()),
        Some("DENY"),
        "{what}"
    );
}

#[tokio::test]
async fn anonymous_requests_go_to_sign_in_and_change_nothing() {
    let app = app(Some(busy())).await;
    let nobody = Browser::default();
    for path in PAGES.iter().chain(&["/audit?action=user.&before=5"]) {
        let page = app.get(path, &nobody).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(page.location(), Some("/login"), "{path}");
        assert_page_headers(&page, path);
        assert!(!page.body.contains("fw1"), "{path}");
    }
    let page = app
        .send(
            "POST",
            "/rules/reload",
            &nobody,
            Some(&[("csrf", "x")]),
            Some(ORIGIN),
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location(), Some("/login"));
    assert_eq!(app.reloads(), 0);
}

#[tokio::test]
async fn each_role_gets_what_the_api_route_allows() {
    let app = app(Some(busy())).await;
    for (name, role, expected) in EXPECTED {
        let browser = app.browser(name).await;
        let report = app.get("/report", &browser).await;
        for path in PAGES {
            let page = app.get(path, &browser).await;
            assert_eq!(page.status, *expected, "{name} ({role:?}) {path}");
            assert_page_headers(&page, path);
            if *expected == StatusCode::NOT_FOUND {
                assert!(page.body.contains("There is no such page"), "{name} {path}");
                assert!(!page.body.contains("fw1/syslog"), "{name} {path}");
                assert!(!page.body.contains("Chain"), "{name} {path}");
            }
            // The navigation offers the page exactly when it opens.
            let link = format!("<a href=\"{path}\"");
            assert_eq!(
                report.body.contains(&link),
                *expected == StatusCode::OK,
                "{name}: nav link to {path}"
            );
        }
    }
    // An ingest account never signs in to pages.
    let (b, page) = app.sign_in("shipper").await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    assert!(b.session.is_none());
}

#[tokio::test]
async fn the_sources_page_lists_sources_streams_gaps_and_says_silent() {
    let app = app(Some(busy())).await;
    let rita = app.browser("rita").await;
    let page = app.get("/sources", &rita).await;
    assert_eq!(page.status, StatusCode::OK);
    let b = &page.body;
    assert!(b.contains("aria-current=\"page\">Sources"), "{b}");
    // Both sources, with their counts, rate and times.
    assert!(
        b.contains("<th scope=\"row\" class=\"name\">fw1/syslog</th>"),
        "{b}"
    );
    assert!(
        b.contains("<th scope=\"row\" class=\"name\">web1/json</th>"),
        "{b}"
    );
    assert!(b.contains("<td class=\"num\">1200</td>"));
    assert!(b.contains("<td class=\"num\">10.0</td>"));
    assert!(b.contains("<time datetime=\"2026-12-03T08:00:00Z\">2026-12-03 08:00 UTC</time>"));
    // The silent one says so in words, the other says it is sending.
    assert!(
        b.contains("<strong>Silent:</strong> 1 stream has stopped sending."),
        "{b}"
    );
    let web_row = &b[b.find("class=\"name\">web1/json</th>").unwrap()..];
    let web_row = &web_row[..web_row.find("</tr>").unwrap()];
    assert!(
        web_row.contains("<span class=\"state silent\">Silent</span>"),
        "{web_row}"
    );
    let fw_row = &b[b.find("class=\"name\">fw1/syslog</th>").unwrap()..];
    let fw_row = &fw_row[..fw_row.find("</tr>").unwrap()];
    assert!(fw_row.contains("Sending"), "{fw_row}");
    assert!(!fw_row.contains("Silent"), "{fw_row}");
    // Streams: host and log type, silent since, and gaps.
    assert!(b.contains("host web1 · linux / nginx"), "{b}");
    assert!(
        b.contains("since <time datetime=\"2026-12-03T09:30:00Z\">"),
        "{b}"
    );
    assert!(b.contains("(20 min)</li>"), "{b}");
    assert!(b.contains("to now (30 min)</li>"), "{b}");
    assert!(!b.contains("No sources yet"));
}

#[tokio::test]
async fn empty_and_no_live_detection_states_say_what_to_do() {
    let app_empty = app(Some(Canned::default())).await;
    let adam = app_empty.browser("adam").await;
    let page = app_empty.get("/sources", &adam).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .contains("No sources yet: point a shipper at <code>POST /api/v1/events</code>"),
        "{}",
        page.body
    );
    let page = app_empty.get("/coverage", &adam).await;
    assert!(
        page.body.contains("No stream has been read yet"),
        "{}",
        page.body
    );
    let page = app_empty.get("/rules", &adam).await;
    assert!(page.body.contains("No rules run."), "{}", page.body);
    assert_eq!(page.text_of("rules-running"), "0");

    let app_none = app(None).await;
    let adam = app_none.browser("adam").await;
    for path in ["/sources", "/rules", "/coverage"] {
        let page = app_none.get(path, &adam).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(
            page.body.contains("This server runs no live detection"),
            "{path}: {}",
            page.body
        );
        assert!(!page.body.contains("No sources yet"), "{path}");
    }
    // Reloading without live detection: said plainly, 503.
    let logout = app_none.get("/logout", &adam).await;
    let token = logout.csrf();
    let page = app_none
        .send(
            "POST",
            "/rules/reload",
            &adam,
            Some(&[("csrf", &token)]),
            Some(ORIGIN),
        )
        .await;
    assert_eq!(page.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(page.body.contains("There is a problem"));
    assert!(
        page.body
            .contains("This server runs no live detection: there are no rules to load.")
    );
}

#[tokio::test]
async fn the_rules_page_shows_rules_failures_and_hits() {
    let app = app(Some(busy())).await;
    let rita = app.browser("rita").await;
    let page = app.get("/rules", &rita).await;
    assert_eq!(page.status, StatusCode::OK);
    let b = &page.body;
    assert_eq!(page.text_of("rules-running"), "3");
    assert_eq!(page.text_of("rules-failed"), "1");
    assert_eq!(page.text_of("detections-total"), "23");
    // The failed file and why.
    assert!(
        b.contains("<code>rules/broken.yml</code>: line 4: unknown modifier &#39;contians&#39;"),
        "{b}"
    );
    // Hits per rule, in the order the sink gives the rules.
    let row = |title: &str| {
        let at = b
            .find(&format!("class=\"name\">{title}"))
            .unwrap_or_else(|| panic!("no row {title}"));
        let rest = &b[at..];
        rest[..rest.find("</tr>").unwrap()].to_owned()
    };
    let ssh = row("SSH brute force");
    assert!(ssh.contains("<td class=\"num\">17</td>"), "{ssh}");
    assert!(ssh.contains("linux / sshd"), "{ssh}");
    assert!(ssh.contains("r-ssh"), "{ssh}");
    assert!(ssh.contains("high"), "{ssh}");
    let idle = row("Mimikatz on Windows");
    assert!(idle.contains("<td class=\"num\">0</td>"), "{idle}");
    assert!(
        idle.contains("<span class=\"state idle\">None</span>"),
        "{idle}"
    );
    // The built-in detector's detections are listed apart.
    let detector = row("Log source went silent");
    assert!(detector.contains("<td class=\"num\">4</td>"), "{detector}");
    // A responder may not reload: no button.
    assert!(!b.contains("action=\"/rules/reload\""));
    let adam = app.browser("adam").await;
    let page = app.get("/rules", &adam).await;
    assert!(page.body.contains("action=\"/rules/reload\""));
}

#[tokio::test]
async fn the_coverage_page_shows_what_feeds_what() {
    let app = app(Some(busy())).await;
    let adam = app.browser("adam").await;
    let page = app.get("/coverage", &adam).await;
    assert_eq!(page.status, StatusCode::OK);
    let b = &page.body;
    assert_eq!(page.text_of("streams-count"), "3");
    assert_eq!(page.text_of("rules-fed"), "2");
    assert_eq!(page.text_of("rules-idle"), "1");
    let fw = &b[b.find("class=\"name\">fw1/syslog").unwrap()..];
    let fw = &fw[..fw.find("</tr>").unwrap()];
    assert!(fw.contains("<li>SSH brute force</li>"), "{fw}");
    assert!(!fw.contains("Web shell"), "{fw}");
    let printer = &b[b.find("class=\"name\">printer/syslog").unwrap()..];
    let printer = &printer[..printer.find("</tr>").unwrap()];
    assert!(printer.contains("no rule reads this log type"), "{printer}");
    assert!(printer.contains("hp / jetdirect"), "{printer}");
    // The rule no stream feeds.
    let idle = &b[b.find("id=\"idle-rules\"").unwrap()..];
    assert!(idle.contains("Mimikatz on Windows"), "{idle}");
    assert!(idle.contains("windows / security"), "{idle}");
    assert!(!idle.contains("SSH brute force"), "{idle}");
}

#[tokio::test]
async fn text_from_sources_and_rules_is_escaped() {
    let mut canned = busy();
    canned.sources[0].name = XSS.to_owned();
    canned.streams[0].name = XSS.to_owned();
    canned.streams[0].host = Some(XSS.to_owned());
    canned.coverage.sources[0].name = XSS.to_owned();
    canned.coverage.sources[0].rules[0].title = XSS.to_owned();
    canned.coverage.rules[1].title = XSS.to_owned();
    canned.coverage.rules_without_events[0].title = XSS.to_owned();
    canned.errors = vec![format!("rules/{XSS}.yml: {XSS}")];
    canned.hits[2].title = XSS.to_owned();
    let app = app(Some(canned)).await;
    let adam = app.browser("adam").await;
    for path in ["/sources", "/rules", "/coverage"] {
        let page = app.get(path, &adam).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(!page.body.contains("<script>"), "{path}");
        assert!(page.body.contains(XSS_ESCAPED), "{path}");
        assert!(!page.body.contains("style="), "{path}");
    }
}

#[tokio::test]
async fn only_an_admin_reloads_the_rules_and_only_with_the_token_from_here() {
    let app = app(Some(busy())).await;
    let adam = app.browser("adam").await;
    let rules = app.get("/rules", &adam).await;
    let csrf = rules.csrf();
    // Without the token, with another's, from another site: refused.
    let rita = app.browser("rita").await;
    let rita_csrf = app.get("/logout", &rita).await.csrf();
    for (fields, origin, who) in [
        (vec![], Some(ORIGIN), &adam),
        (vec![("csrf", "nope")], Some(ORIGIN), &adam),
        (
            vec![("csrf", csrf.as_str())],
            Some("https://evil.example"),
            &adam,
        ),
        (vec![("csrf", rita_csrf.as_str())], Some(ORIGIN), &rita),
    ] {
        let page = app
            .send("POST", "/rules/reload", who, Some(&fields), origin)
            .await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{fields:?} {origin:?}");
        assert_page_headers(&page, "refused reload");
    }
    assert_eq!(app.reloads(), 0);
    // Reporter and finance-ops: refused too.
    for name in ["alice", "fran"] {
        let b = app.browser(name).await;
        let token = app.get("/logout", &b).await.csrf();
        let page = app
            .send(
                "POST",
                "/rules/reload",
                &b,
                Some(&[("csrf", &token)]),
                Some(ORIGIN),
            )
            .await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{name}");
    }
    assert_eq!(app.reloads(), 0);
    // The admin's: 303 back, and the page says so.
    let page = app
        .send(
            "POST",
            "/rules/reload",
            &adam,
            Some(&[("csrf", &csrf)]),
            Some(ORIGIN),
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(page.location(), Some("/rules?reloaded=1"));
    assert_eq!(app.reloads(), 1);
    let page = app.get("/rules?reloaded=1", &adam).await;
    assert!(
        page.body
            .contains("The rules were loaded again. 3 rules now run."),
        "{}",
        page.body
    );

    // A refused reload: 422, the reason in the error summary and by the
    // button, and the running rules still listed.
    let mut canned = busy();
    canned.refuse_reload = Some(
        "the running rules stay: 1 rule file(s) fail that did not before: rules/new.yml: bad"
            .to_owned(),
    );
    let app = crate::app(Some(canned)).await;
    let adam = app.browser("adam").await;
    let csrf = app.get("/rules", &adam).await.csrf();
    let page = app
        .send(
            "POST",
            "/rules/reload",
            &adam,
            Some(&[("csrf", &csrf)]),
            Some(ORIGIN),
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("<a href=\"#reload\">The rules were not loaded again: the running rules stay: 1 rule file(s) fail that did not before: rules/new.yml: bad</a>"), "{}", page.body);
    assert!(page.body.contains("id=\"reload-error\""));
    assert!(page.body.contains("SSH brute force"));
    assert_eq!(app.reloads(), 0);
}

#[tokio::test]
async fn the_audit_trail_is_newest_first_filtered_and_paged() {
    let app = app(Some(busy())).await;
    // 60 incidents made through the store: 60 `incident.open` entries,
    // after the 4 users, their 4 passwords and the ingest account.
    let mut made = Vec::new();
    for n in 0..60 {
        made.push(app.incident(&format!("Incident number {n}")).await);
    }
    let xss = app.incident(XSS).await;
    let adam = app.browser("adam").await;
    let page = app.get("/audit", &adam).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let total = app
        .store
        .verify_audit(&Viewer::system())
        .await
        .unwrap()
        .entries;
    assert!(total > 61, "{total}");
    assert!(
        page.body.contains(&format!(
            "<strong>Chain intact:</strong> {total} entries verified."
        )),
        "{}",
        page.body
    );
    // Newest first: the page starts at the newest entry and counts down.
    let seqs = page.audit_seqs();
    assert_eq!(seqs.len(), 50);
    assert_eq!(seqs[0], total);
    assert_eq!(seqs[49], total - 49);
    // The incident with the script in its title: escaped in the change.
    assert!(!page.body.contains("<script>"));
    assert!(
        page.body
            .contains("&#60;script&#62;alert(1)&#60;/script&#62;")
    );
    assert!(
        page.body
            .contains(&format!("<a href=\"/incidents/{xss}\">"))
    );
    // Filtered to incident creations: the 61 of them, newest first, 50 on
    // the first page and the filter kept in the link to the rest.
    let page = app.get("/audit?action=incident.open", &adam).await;
    assert_eq!(page.status, StatusCode::OK);
    let first = page.audit_seqs();
    assert_eq!(first.len(), 50);
    assert!(first.windows(2).all(|w| w[0] > w[1]), "{first:?}");
    let next = page.next_link().expect("an Older entries link");
    assert!(
        next.starts_with("/audit?action=incident.open&before="),
        "{next}"
    );
    let page2 = app.get(&next, &adam).await;
    assert_eq!(page2.status, StatusCode::OK);
    let second = page2.audit_seqs();
    assert_eq!(second.len(), 11, "{second:?}");
    assert!(second[0] < first[49]);
    assert!(page2.next_link().is_none());
    assert!(page2.body.contains("Newest entries"));
    // Every listed row is an incident creation, and the oldest one listed
    // is the first incident made.
    for p in [&page, &page2] {
        assert_eq!(
            p.body.matches("<td><code>incident.open</code>").count(),
            p.audit_seqs().len()
        );
    }
    assert!(page2.body.contains(&made[0].to_string()));
    assert!(page.body.contains(&xss.to_string()));
    // Filtered to users: the users' entries, and no incident entries.
    let page = app.get("/audit?entity=user", &adam).await;
    assert!(!page.body.contains("<td><code>incident.open</code>"));
    assert!(
        page.body.contains("<td><code>user.create</code>"),
        "{}",
        page.body
    );
    // Bad filters: field errors, 422, what was typed kept.
    let long = "x".repeat(101);
    let page = app.get(&format!("/audit?action={long}"), &adam).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.body
            .contains("<a href=\"#action\">At most 100 characters, please.</a>")
    );
    assert!(page.body.contains(&format!("value=\"{long}\"")));
    let page = app.get("/audit?before=abc", &adam).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("This page link is not valid"));
    let page = app.get("/audit?action=%22%3E%3Cscript%3E", &adam).await;
    assert!(!page.body.contains("\"><script>"));
}

#[tokio::test]
async fn a_tampered_audit_chain_shows_as_broken() {
    let app = app(None).await;
    app.incident("First").await;
    app.incident("Second").await;
    let rita = app.browser("rita").await;
    let page = app.get("/audit", &rita).await;
    assert!(
        page.body.contains("<strong>Chain intact:</strong>"),
        "{}",
        page.body
    );
    // The entry that created the incident "Second", edited behind the
    // store's back.
    let entries = app
        .store
        .list_audit(&Viewer::system(), 0, 1000)
        .await
        .unwrap();
    let second = entries
        .iter()
        .find(|e| e.action == "incident.open" && e.after.to_string().contains("Second"))
        .unwrap()
        .seq;
    app.raw_exec(&format!(
        "UPDATE audit_log SET after_json = REPLACE(after_json, 'Second', 'Secomd') WHERE seq = {second}"
    ))
    .await;
    let page = app.get("/audit", &rita).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains(&format!(
            "<strong>Chain broken at entry {second}.</strong> entry {second} was edited"
        )),
        "{}",
        page.body
    );
    assert!(!page.body.contains("Chain intact"));
    assert!(page.body.contains("role=\"alert\""));
    // The entries are still listed, newest first.
    let seqs = page.audit_seqs();
    assert!(seqs.first().unwrap() > seqs.last().unwrap());
    assert!(seqs.contains(&second), "{seqs:?}");
}
