//! The public side end to end, through the real router: security.txt (RFC
//! 9116), a disclosure that needs a second responder's approval, the
//! advisory on `/advisories`, in the Atom feed and as CSAF 2.0 that
//! validates against the OASIS schema kept in `tests/data/csaf/`, no
//! internal field anywhere public, and the public report form (field
//! errors, size limit, other sites, floods). Expected values are written
//! out here.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::http::StatusCode;
use incidents::{
    Category, Channel, Impact, ImpactLevel, IncidentId, NewIncident, NewReport, ReportFilter,
    Resolution, Role, Severity, StoreOptions, TokenHash, Viewer,
};
use serde_json::{Value, json};
use watchpost_web as web;
use web::AppState;
use web::disclosure::{Disclosure, DisclosureConfig, OneOrMany, SecurityTxtConfig};

mod support {
    pub mod pages;
}

use support::pages::{App, Browser, ORIGIN, Page, encode, store_with};

/// Text that only the internal record holds; none may reach a public
/// answer.
const INTERNAL: [&str; 6] = [
    "INTERNAL-TITLE-7f3a",
    "INTERNAL-DESCRIPTION-7f3a",
    "INTERNAL-NOTE-7f3a",
    "INTERNAL-REPORT-7f3a",
    "INTERNAL-IMPACT-7f3a",
    "reporter-7f3a",
];

fn security_txt(expires: &str) -> SecurityTxtConfig {
    SecurityTxtConfig {
        contact: vec![
            "mailto:security@example.com".into(),
            "https://example.com/security/report".into(),
        ],
        expires: expires.into(),
        policy: Some("https://example.com/disclosure-policy".into()),
        preferred_languages: vec!["en".into(), "de".into()],
        encryption: OneOrMany::One("https://example.com/pgp-key.txt".into()),
        acknowledgments: None,
        hiring: None,
    }
}

fn disclosure(expires: &str) -> Disclosure {
    let url = web::PublicUrl::parse("https://wp.example.com/").unwrap();
    let config = DisclosureConfig {
        publisher_name: Some("Example Corp".into()),
        publisher_namespace: Some("https://example.com".into()),
        contact_details: Some("security@example.com".into()),
    };
    Disclosure::from_config(Some(&url), Some(&security_txt(expires)), Some(&config))
        .unwrap()
        .unwrap()
}

struct Public {
    app: App,
    tokens: BTreeMap<&'static str, String>,
}

const USERS: [(&str, Role); 4] = [
    ("responder", Role::Responder),
    ("responder2", Role::Responder),
    ("reporter-7f3a", Role::Reporter),
    ("admin", Role::Admin),
];

/// The router with the public side configured (or not), and an API token
/// per user.
async fn public(configured: bool) -> Public {
    public_expiring(configured, "2031-01-01T00:00:00Z").await
}

/// [`public`] with security.txt expiring at `expires`.
async fn public_expiring(configured: bool, expires: &str) -> Public {
    let (store, dir) = store_with(&USERS, StoreOptions::default()).await;
    let mut tokens = BTreeMap::new();
    for (name, _) in USERS {
        let user = store
            .get_user_by_name(&Viewer::system(), name)
            .await
            .unwrap();
        let token = web::token::generate();
        store
            .create_token(&Viewer::system(), user.id, "test", TokenHash::of(&token))
            .await
            .unwrap();
        tokens.insert(name, token);
    }
    let state = if configured {
        AppState {
            public_url: Some(web::PublicUrl::parse("https://wp.example.com").unwrap()),
            disclosure: Some(Arc::new(disclosure(expires))),
            ..AppState::new(store.clone())
        }
    } else {
        AppState::new(store.clone())
    };
    let router = web::router_with(state, web::RouterOptions::default());
    Public {
        app: App { router, store, dir },
        tokens,
    }
}

impl Public {
    async fn get(&self, path: &str) -> Page {
        self.app.get(path, &Browser::default()).await
    }

    async fn api(&self, user: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = axum::http::Request::builder()
            .method("POST")
            .uri(path)
            .header("authorization", format!("Bearer {}", self.tokens[user]));
        let body = match body {
            Some(b) => {
                request = request.header("content-type", "application/json");
                b.to_string()
            }
            None => String::new(),
        };
        let response = tower::ServiceExt::oneshot(
            self.app.router.clone(),
            request.body(axum::body::Body::from(body)).unwrap(),
        )
        .await
        .unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    async fn viewer(&self, name: &str) -> Viewer {
        let u = self
            .app
            .store
            .get_user_by_name(&Viewer::system(), name)
            .await
            .unwrap();
        Viewer::new(u.id, u.role)
    }

    /// A reported incident with internal text everywhere, closed as
    /// confirmed with impact.
    async fn confirmed_incident(&self) -> IncidentId {
        let s = &*self.app.store;
        let reporter = self.viewer("reporter-7f3a").await;
        let responder = self.viewer("responder").await;
        let report = s
            .file_report(
                &reporter,
                NewReport {
                    channel: Channel::Web,
                    category: Category::SecurityIncident,
                    description: "INTERNAL-REPORT-7f3a: the login page looks odd".into(),
                    occurred_at: None,
                    location: None,
                    sensitive: false,
                    anonymous: false,
                    attachments: vec![],
                },
            )
            .await
            .unwrap();
        let id = report.incident_id;
        s.update_incident(
            &responder,
            id,
            incidents::IncidentPatch {
                title: Some("INTERNAL-TITLE-7f3a".into()),
                description: Some("INTERNAL-DESCRIPTION-7f3a".into()),
                ..incidents::IncidentPatch::default()
            },
        )
        .await
        .unwrap();
        s.add_note(&responder, id, "INTERNAL-NOTE-7f3a")
            .await
            .unwrap();
        let impact = Impact {
            confidentiality: ImpactLevel::High,
            integrity: ImpactLevel::Low,
            availability: ImpactLevel::None,
            affected_assets: vec!["INTERNAL-IMPACT-7f3a-host".into()],
            affected_users: vec![],
            affected_data: vec![],
            summary: "INTERNAL-IMPACT-7f3a".into(),
        };
        s.close_incident(
            &responder,
            id,
            Resolution::TruePositiveImpact,
            Some(impact),
            None,
        )
        .await
        .unwrap();
        id
    }
}

/// Every public path, given a published advisory's id and CSAF path.
fn public_paths(id: &str, csaf_path: &str) -> Vec<String> {
    vec![
        "/.well-known/security.txt".into(),
        "/advisories".into(),
        "/advisories.atom".into(),
        format!("/advisories/{id}"),
        format!("/advisories/{id}/csaf.json"),
        "/.well-known/csaf/provider-metadata.json".into(),
        "/.well-known/csaf/white/index.txt".into(),
        "/.well-known/csaf/white/changes.csv".into(),
        format!("/.well-known/csaf/white/{csaf_path}"),
        "/security/report".into(),
    ]
}

#[tokio::test]
async fn security_txt_follows_rfc_9116() {
    let p = public(true).await;
    let page = p.get("/.well-known/security.txt").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(
        page.headers["content-type"].to_str().unwrap(),
        "text/plain; charset=utf-8"
    );
    assert_eq!(
        page.body,
        "Contact: mailto:security@example.com\n\
         Contact: https://example.com/security/report\n\
         Expires: 2031-01-01T00:00:00Z\n\
         Encryption: https://example.com/pgp-key.txt\n\
         Policy: https://example.com/disclosure-policy\n\
         Preferred-Languages: en, de\n\
         Canonical: https://wp.example.com/.well-known/security.txt\n"
    );
    assert!(
        page.set_cookies().is_empty(),
        "the public side sets no cookie"
    );
    let moved = p.get("/security.txt").await;
    assert_eq!(moved.status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(moved.location(), Some("/.well-known/security.txt"));
}

#[tokio::test]
async fn without_the_public_side_every_public_route_is_404() {
    let p = public(false).await;
    for path in public_paths("WP-2026-0001", "2026/wp-2026-0001.json") {
        assert_eq!(p.get(&path).await.status, StatusCode::NOT_FOUND, "{path}");
    }
    let form = p
        .app
        .send(
            "POST",
            "/security/report",
            &Browser::default(),
            Some(&[("title", "t"), ("description", "d")]),
            Some(ORIGIN),
        )
        .await;
    assert_eq!(form.status, StatusCode::NOT_FOUND);
}

/// Validates `doc` against the CSAF 2.0 schema in `tests/data/csaf`, with
/// the CVSS schemas it references served from the same folder.
fn csaf_errors(doc: &Value) -> Vec<String> {
    struct Local;
    impl jsonschema::Retrieve for Local {
        fn retrieve(
            &self,
            uri: &jsonschema::Uri<String>,
        ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
            let file = match uri.as_str() {
                "https://www.first.org/cvss/cvss-v2.0.json" => "cvss-v2.0.json",
                "https://www.first.org/cvss/cvss-v3.0.json" => "cvss-v3.0.json",
                "https://www.first.org/cvss/cvss-v3.1.json" => "cvss-v3.1.json",
                other => return Err(format!("no local copy of {other}").into()),
            };
            let path = format!(
                "{}/tests/data/csaf/referenced/{file}",
                env!("CARGO_MANIFEST_DIR")
            );
            Ok(serde_json::from_str(&std::fs::read_to_string(path)?)?)
        }
    }
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(format!(
            "{}/tests/data/csaf/csaf_json_schema.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::options()
        .with_retriever(Local)
        .should_validate_formats(true)
        .build(&schema)
        .unwrap();
    validator
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[test]
fn the_csaf_schema_check_catches_a_broken_document() {
    // The check itself can fail: a document without its tracking, and one
    // with a date that is not a date.
    let broken = json!({ "document": { "category": "csaf_base", "csaf_version": "2.0",
        "publisher": { "category": "vendor", "name": "x", "namespace": "https://example.com" },
        "title": "t" } });
    assert!(!csaf_errors(&broken).is_empty());
    let mut doc = json!({ "document": {
        "category": "csaf_security_incident_response", "csaf_version": "2.0",
        "publisher": { "category": "vendor", "name": "x", "namespace": "https://example.com" },
        "title": "t",
        "tracking": { "current_release_date": "2026-12-05T10:00:00Z", "id": "WP-2026-0001",
            "initial_release_date": "2026-12-05T10:00:00Z",
            "revision_history": [{ "date": "2026-12-05T10:00:00Z", "number": "1", "summary": "s" }],
            "status": "final", "version": "1" } } });
    assert_eq!(csaf_errors(&doc), Vec::<String>::new());
    doc["document"]["tracking"]["initial_release_date"] = json!("yesterday");
    assert!(!csaf_errors(&doc).is_empty());
}

#[tokio::test]
async fn a_confirmed_incident_is_disclosed_after_a_second_responder_approves() {
    let p = public(true).await;
    let incident = p.confirmed_incident().await;
    let year = time::OffsetDateTime::now_utc().year();
    let id = format!("WP-{year}-0001");
    let csaf_path = format!("{year}/wp-{year}-0001.json");

    // A reporter and an admin may not write it; a responder drafts it.
    let text = json!({
        "title": "Login page served a credential-harvesting form",
        "summary": "For two hours the login page sent passwords to a third party.",
        "impact": "Passwords typed in that window were exposed.",
        "remediation": "The page was restored; affected users must reset their password.",
    });
    let path = format!("/api/v1/incidents/{incident}/advisory");
    for who in ["reporter-7f3a", "admin"] {
        let (status, _) = p.api(who, &path, Some(text.clone())).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{who}");
    }
    let (status, draft) = p.api("responder", &path, Some(text.clone())).await;
    assert_eq!(status, StatusCode::OK, "{draft}");
    assert_eq!(draft["id"], id);
    assert_eq!(draft["status"], "draft");
    assert_eq!(draft["approver_id"], Value::Null);

    // A draft is published nowhere.
    assert!(!p.get("/advisories").await.body.contains(&id));
    assert!(!p.get("/advisories.atom").await.body.contains("<entry>"));
    assert_eq!(p.get("/.well-known/csaf/white/index.txt").await.body, "");
    for path in [
        format!("/advisories/{id}"),
        format!("/advisories/{id}/csaf.json"),
        format!("/.well-known/csaf/white/{csaf_path}"),
    ] {
        assert_eq!(p.get(&path).await.status, StatusCode::NOT_FOUND, "{path}");
    }

    // Its author may not approve it; another responder does.
    let approve = format!("/api/v1/advisories/{id}/approve");
    let (status, body) = p.api("responder", &approve, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(!p.get("/advisories").await.body.contains(&id));
    let (status, published) = p.api("responder2", &approve, None).await;
    assert_eq!(status, StatusCode::OK, "{published}");
    assert_eq!(published["status"], "published");
    let responder2 = p.viewer("responder2").await;
    assert_eq!(published["approver_id"], responder2.user_id.to_string());
    // Published means final: a second approval or a new text is refused.
    let (status, _) = p.api("responder", &approve, None).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = p.api("responder2", &path, Some(text.clone())).await;
    assert_eq!(status, StatusCode::CONFLICT);

    // The list page and the advisory page.
    let list = p.get("/advisories").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(
        list.body.contains(&format!("href=\"/advisories/{id}\"")),
        "{}",
        list.body
    );
    assert!(
        list.body
            .contains("Login page served a credential-harvesting form")
    );
    let page = p.get(&format!("/advisories/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    for public in [
        "Login page served a credential-harvesting form",
        "For two hours the login page sent passwords to a third party.",
        "Passwords typed in that window were exposed.",
        "affected users must reset their password.",
    ] {
        assert!(
            page.body.contains(public),
            "{public} missing from\n{}",
            page.body
        );
    }

    // The Atom feed: one entry, linking to the page.
    let atom = p.get("/advisories.atom").await;
    assert_eq!(
        atom.headers["content-type"].to_str().unwrap(),
        "application/atom+xml; charset=utf-8"
    );
    assert_eq!(atom.body.matches("<entry>").count(), 1);
    assert!(
        atom.body
            .contains(&format!("<id>https://wp.example.com/advisories/{id}</id>"))
    );
    assert!(atom.body.contains(&format!(
        "<title>{id}: Login page served a credential-harvesting form</title>"
    )));
    assert!(atom.body.contains("<name>Example Corp</name>"));

    // CSAF: valid against the schema, with the profile's fields.
    let csaf = p.get(&format!("/advisories/{id}/csaf.json")).await;
    assert_eq!(csaf.status, StatusCode::OK);
    assert_eq!(csaf.headers["content-type"], "application/json");
    let doc: Value = serde_json::from_str(&csaf.body).unwrap();
    assert_eq!(csaf_errors(&doc), Vec::<String>::new());
    let d = &doc["document"];
    assert_eq!(d["category"], "csaf_security_incident_response");
    assert_eq!(d["csaf_version"], "2.0");
    assert_eq!(d["title"], "Login page served a credential-harvesting form");
    assert_eq!(d["tracking"]["id"], id);
    assert_eq!(d["tracking"]["status"], "final");
    assert_eq!(d["publisher"]["name"], "Example Corp");
    assert_eq!(d["publisher"]["namespace"], "https://example.com");
    let notes: Vec<(&str, &str)> = d["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["category"].as_str().unwrap(), n["text"].as_str().unwrap()))
        .collect();
    assert_eq!(
        notes,
        [
            (
                "summary",
                "For two hours the login page sent passwords to a third party."
            ),
            ("details", "Passwords typed in that window were exposed."),
            (
                "general",
                "The page was restored; affected users must reset their password."
            ),
        ]
    );
    let refs: Vec<(&str, &str)> = d["references"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["category"].as_str().unwrap(), r["url"].as_str().unwrap()))
        .collect();
    let self_url = format!("https://wp.example.com/.well-known/csaf/white/{csaf_path}");
    let page_url = format!("https://wp.example.com/advisories/{id}");
    assert_eq!(
        refs,
        [("self", self_url.as_str()), ("external", page_url.as_str())]
    );
    // The same document in the CSAF directory, listed in its index.
    let file = p.get(&format!("/.well-known/csaf/white/{csaf_path}")).await;
    assert_eq!(file.status, StatusCode::OK);
    assert_eq!(serde_json::from_str::<Value>(&file.body).unwrap(), doc);
    assert_eq!(
        p.get(&format!("/.well-known/csaf/white/1999/wp-{year}-0001.json"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        p.get("/.well-known/csaf/white/index.txt").await.body,
        format!("{csaf_path}\n")
    );
    let changes = p.get("/.well-known/csaf/white/changes.csv").await.body;
    assert!(
        changes.starts_with(&format!("\"{csaf_path}\",\"{year}-")),
        "{changes}"
    );
    let meta: Value =
        serde_json::from_str(&p.get("/.well-known/csaf/provider-metadata.json").await.body)
            .unwrap();
    assert_eq!(
        meta["canonical_url"],
        "https://wp.example.com/.well-known/csaf/provider-metadata.json"
    );
    assert_eq!(
        meta["distributions"][0]["directory_url"],
        "https://wp.example.com/.well-known/csaf/white/"
    );
    assert_eq!(meta["metadata_version"], "2.0");
    assert_eq!(meta["role"], "csaf_publisher");
    assert_eq!(meta["publisher"]["name"], "Example Corp");

    // Nothing internal anywhere public: not the incident's title or
    // description, its notes, the report, the impact, the reporter, nor
    // any internal id.
    let responder = p.viewer("responder").await;
    let ids = [
        incident.to_string(),
        responder.user_id.to_string(),
        responder2.user_id.to_string(),
    ];
    for path in public_paths(&id, &csaf_path) {
        let answer = p.get(&path).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}");
        for secret in INTERNAL
            .iter()
            .copied()
            .chain(ids.iter().map(String::as_str))
        {
            assert!(
                !answer.body.contains(secret),
                "{path} shows internal text {secret}:\n{}",
                answer.body
            );
        }
    }
}

#[tokio::test]
async fn a_sensitive_incident_is_never_disclosed() {
    let p = public(true).await;
    let responder = p.viewer("responder").await;
    let s = &*p.app.store;
    let i = s
        .create_incident(
            &responder,
            NewIncident {
                title: "Harassment in the office".into(),
                description: "d".into(),
                category: Category::Harassment,
                severity: Severity::Sev2,
                sensitive: true,
                occurred_at: None,
                detected_at: None,
                reported_at: None,
            },
        )
        .await
        .unwrap();
    let impact = Impact {
        confidentiality: ImpactLevel::High,
        integrity: ImpactLevel::None,
        availability: ImpactLevel::None,
        affected_assets: vec![],
        affected_users: vec![],
        affected_data: vec![],
        summary: "s".into(),
    };
    s.close_incident(
        &responder,
        i.id,
        Resolution::TruePositiveImpact,
        Some(impact),
        None,
    )
    .await
    .unwrap();
    let (status, body) = p
        .api(
            "responder",
            &format!("/api/v1/incidents/{}/advisory", i.id),
            Some(json!({ "title": "t", "summary": "s", "impact": "i", "remediation": "r" })),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(
        body["error"]["message"],
        "a sensitive incident is never disclosed"
    );
    assert!(!p.get("/advisories.atom").await.body.contains("<entry>"));
}

fn form_body(fields: &[(&str, &str)]) -> Vec<u8> {
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes()
}

#[tokio::test]
async fn the_public_form_files_a_third_party_report() {
    let p = public(true).await;
    let anyone = Browser::default();
    let form = p.get("/security/report").await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.set_cookies().is_empty(), "no cookie before signing in");
    let csrf = form.csrf();

    // Field problems are shown next to the fields, with the text kept.
    let bad = p
        .app
        .send(
            "POST",
            "/security/report",
            &anyone,
            Some(&[
                ("csrf", &csrf),
                ("email", "not-an-address"),
                ("title", "<script>alert(1)</script>"),
                ("description", ""),
            ]),
            Some(ORIGIN),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.body
            .contains("Enter an email address like name@example.com, or leave it empty.")
    );
    assert!(
        bad.body
            .contains("Describe the vulnerability: where it is and how to reproduce it.")
    );
    assert!(
        bad.body
            .contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
        "escaped and kept"
    );
    assert!(!bad.body.contains("<script>alert(1)"));
    let long = "x".repeat(201);
    let too_long = p
        .app
        .send(
            "POST",
            "/security/report",
            &anyone,
            Some(&[("csrf", &csrf), ("title", &long), ("description", "d")]),
            Some(ORIGIN),
        )
        .await;
    assert_eq!(too_long.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        too_long
            .body
            .contains("The title must be at most 200 characters (it has 201).")
    );

    // From another site, or without a valid token: refused.
    let fields = [
        ("csrf", csrf.as_str()),
        ("name", "Ada"),
        ("email", "ada@example.org"),
        ("title", "SQL injection in /search"),
        ("description", "Send ' OR 1=1 -- in the q parameter."),
    ];
    let cross = p
        .app
        .send(
            "POST",
            "/security/report",
            &anyone,
            Some(&fields),
            Some("https://evil.example"),
        )
        .await;
    assert_eq!(cross.status, StatusCode::FORBIDDEN);
    let mut forged = fields;
    forged[0] = ("csrf", "1.2.3");
    let expired = p
        .app
        .send(
            "POST",
            "/security/report",
            &anyone,
            Some(&forged),
            Some(ORIGIN),
        )
        .await;
    assert_eq!(expired.status, StatusCode::FORBIDDEN);
    assert!(expired.body.contains("The form had expired."));
    assert_eq!(third_party_reports(&p).await, 0, "nothing filed yet");

    // A good one: filed as an anonymous third-party report.
    let filed = p
        .app
        .send(
            "POST",
            "/security/report",
            &anyone,
            Some(&fields),
            Some(ORIGIN),
        )
        .await;
    assert_eq!(filed.status, StatusCode::OK, "{}", filed.body);
    let responder = p.viewer("responder").await;
    let reports = p
        .app
        .store
        .list_reports(&responder, &ReportFilter::default(), &Default::default())
        .await
        .unwrap()
        .items;
    assert_eq!(reports.len(), 1);
    let r = &reports[0];
    assert!(
        filed
            .body
            .contains(&format!("<strong id=\"tracking-id\">{}</strong>", r.id)),
        "{}",
        filed.body
    );
    assert_eq!(r.channel, Channel::ThirdParty);
    assert_eq!(r.category, Category::SecurityIncident);
    assert_eq!(r.reporter, None);
    assert_eq!(
        r.description,
        "SQL injection in /search\n\nSend ' OR 1=1 -- in the q parameter.\n\nSent through the public report form by: Ada <ada@example.org>"
    );
}

#[tokio::test]
async fn an_oversized_report_is_refused_and_nothing_is_filed() {
    let p = public(true).await;
    let anyone = Browser::default();
    let csrf = p.get("/security/report").await.csrf();
    let huge = "y".repeat(300 * 1024);
    let big = p
        .app
        .send_body(
            "POST",
            "/security/report",
            &anyone,
            Some((
                "application/x-www-form-urlencoded",
                form_body(&[("csrf", &csrf), ("title", "t"), ("description", &huge)]),
            )),
            Some(ORIGIN),
        )
        .await;
    assert_eq!(big.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        big.body.contains("<h1>Too large to send</h1>"),
        "{}",
        big.body
    );
    assert!(
        big.body.contains(
            "Your report was not sent: it was larger than 256 KiB. The description may be at most 10000 characters"
        ),
        "{}",
        big.body
    );
    assert!(
        !big.body.contains("/my-reports"),
        "no links for signed-in users"
    );
    assert_eq!(third_party_reports(&p).await, 0);
}

async fn third_party_reports(p: &Public) -> usize {
    p.app
        .store
        .list_reports(
            &Viewer::system(),
            &ReportFilter::default(),
            &Default::default(),
        )
        .await
        .unwrap()
        .items
        .iter()
        .filter(|r| r.channel == Channel::ThirdParty)
        .count()
}

#[tokio::test]
async fn a_flood_of_reports_from_one_address_is_refused_with_retry_after() {
    let p = public(true).await;
    let anyone = Browser::default();
    let csrf = p.get("/security/report").await.csrf();
    let mut statuses = Vec::new();
    for n in 0..6 {
        let title = format!("Report {n}");
        let page = p
            .app
            .send(
                "POST",
                "/security/report",
                &anyone,
                Some(&[("csrf", &csrf), ("title", &title), ("description", "d")]),
                Some(ORIGIN),
            )
            .await;
        statuses.push(page.status.as_u16());
        if n == 5 {
            assert!(
                page.body
                    .contains("This address already sent 5 reports in the last 1 hour."),
                "{}",
                page.body
            );
            let wait: u64 = page.headers["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((3500..=3600).contains(&wait), "Retry-After {wait}");
        }
    }
    assert_eq!(statuses, [200, 200, 200, 200, 200, 429]);
    assert_eq!(third_party_reports(&p).await, 5);
}

#[tokio::test]
async fn staff_are_warned_before_security_txt_expires() {
    let soon = time::OffsetDateTime::now_utc() + time::Duration::days(10);
    let soon = soon
        .replace_time(time::Time::MIDNIGHT)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let p = public_expiring(true, &soon).await;
    let responder = p.app.browser("responder").await;
    let queue = p.app.get("/incidents", &responder).await;
    assert_eq!(queue.status, StatusCode::OK);
    let warning = format!("security.txt expires on {soon} (in ");
    assert!(
        queue.body.contains("id=\"security-txt-warning\""),
        "{}",
        queue.body
    );
    assert!(queue.body.contains(&warning), "{}", queue.body);

    // Far from its expiry: no warning.
    let p = public(true).await;
    let responder = p.app.browser("responder").await;
    let queue = p.app.get("/incidents", &responder).await;
    assert_eq!(queue.status, StatusCode::OK);
    assert!(!queue.body.contains("security-txt-warning"));
}
