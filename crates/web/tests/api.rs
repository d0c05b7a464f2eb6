//! API tests against the real router and a real SQLite store in a temporary
//! directory: the route × role matrix, bad input, and need-to-know.

use std::collections::BTreeMap;

use std::sync::Arc;
use watchpost_web as web;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use incidents::{NewUser, Role, Store, TokenHash, Viewer};
use serde_json::{Value, json};
use tower::ServiceExt;
use web::routes::{Access, ROUTES};
use web::{AppState, DEFAULT_MAX_BODY_BYTES, RouterOptions};

struct App {
    router: Router,
    tokens: BTreeMap<&'static str, String>,
    store: Arc<dyn Store>,
    _dir: tempfile::TempDir,
}

/// Opens a fresh store with one user per role, plus a second reporter.
async fn app() -> App {
    app_with(RouterOptions::default()).await
}

/// [`app`] with the given request limits.
async fn app_with(limits: RouterOptions) -> App {
    app_with_store(limits, incidents::StoreOptions::default()).await
}

/// [`app`] with the given request limits and store options (its data
/// directory is a fresh temporary one).
async fn app_with_store(limits: RouterOptions, store_options: incidents::StoreOptions) -> App {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("watchpost.db").display());
    let options = incidents::StoreOptions {
        data_dir: Some(dir.path().to_owned()),
        ..store_options
    };
    let store = incidents::open_with(&url, options).await.unwrap();
    let mut tokens = BTreeMap::new();
    for (name, role) in [
        ("reporter", Role::Reporter),
        ("reporter2", Role::Reporter),
        ("responder", Role::Responder),
        ("finance-ops", Role::FinanceOps),
        ("admin", Role::Admin),
        ("shipper", Role::Ingest),
    ] {
        let user = store
            .create_user(
                &Viewer::system(),
                NewUser {
                    name: name.to_owned(),
                    role,
                },
            )
            .await
            .unwrap();
        let token = web::token::generate();
        store
            .create_token(&Viewer::system(), user.id, "test", TokenHash::of(&token))
            .await
            .unwrap();
        tokens.insert(name, token);
    }
    let state = AppState {
        events: Some(Arc::new(AcceptingSink)),
        ..AppState::new(store.clone())
    };
    let router = web::router_with(state, limits);
    App {
        router,
        tokens,
        store,
        _dir: dir,
    }
}

impl App {
    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        self.raw(
            method,
            path,
            token.map(|t| format!("Bearer {t}")).as_deref(),
            bytes,
        )
        .await
    }

    async fn raw(
        &self,
        method: Method,
        path: &str,
        authorization: Option<&str>,
        body: Vec<u8>,
    ) -> (StatusCode, Value) {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(a) = authorization {
            request = request.header("authorization", a);
        }
        if !body.is_empty() {
            request = request.header("content-type", "application/json");
        }
        let response = self
            .router
            .clone()
            .oneshot(request.body(Body::from(body)).unwrap())
            .await
            .unwrap();
        let status = response.status();
        // Prometheus text and OTLP protobuf are not JSON.
        let text = response.headers().get("content-type").is_some_and(|v| {
            v.as_bytes().starts_with(b"text/plain")
                || v.as_bytes().starts_with(b"application/x-protobuf")
        });
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        if text && status.is_success() {
            // The Prometheus text format.
            return (
                status,
                Value::String(String::from_utf8(bytes.to_vec()).unwrap()),
            );
        }
        let value = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            panic!(
                "{path}: answer is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&bytes)
            )
        });
        (status, value)
    }

    fn token(&self, name: &str) -> &str {
        &self.tokens[name]
    }

    /// A GET whose answer may be a file: status, headers and raw bytes.
    async fn download(
        &self,
        path: &str,
        token: &str,
    ) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        let request = Request::builder()
            .uri(path)
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        (parts.status, parts.headers, bytes.to_vec())
    }

    /// A POST of raw bytes (a file upload) with an optional content type;
    /// `length` says whether to announce the size in `Content-Length`
    /// (without it the body limit is enforced while reading).
    async fn upload(
        &self,
        path: &str,
        token: &str,
        content_type: Option<&str>,
        bytes: Vec<u8>,
        length: bool,
    ) -> (StatusCode, axum::http::HeaderMap, Value) {
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header("authorization", format!("Bearer {token}"));
        if let Some(t) = content_type {
            request = request.header("content-type", t);
        }
        if length {
            request = request.header("content-length", bytes.len());
        }
        let response = self
            .router
            .clone()
            .oneshot(request.body(Body::from(bytes)).unwrap())
            .await
            .unwrap();
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        let value = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            panic!(
                "{path}: answer is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&bytes)
            )
        });
        (parts.status, parts.headers, value)
    }

    /// The store viewer of a test user, as authentication would give it.
    async fn viewer(&self, name: &str) -> Viewer {
        self.store
            .authenticate(TokenHash::of(self.token(name)))
            .await
            .unwrap()
            .unwrap()
            .1
    }
}

fn error_code(body: &Value) -> &str {
    body["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("not in the error format: {body}"))
}

/// A valid body for each route that takes one, so allowed callers get past
/// parsing to the store.
/// An event sink that takes every non-blank line (the server's real one is
/// tested in the server and CLI tests).
struct AcceptingSink;

#[async_trait::async_trait]
impl web::events::EventSink for AcceptingSink {
    async fn submit(
        &self,
        batch: web::events::EventBatch,
    ) -> Result<web::events::Receipt, web::events::Refusal> {
        let accepted = batch
            .body
            .split(|b| *b == b'\n')
            .filter(|l| !l.trim_ascii().is_empty())
            .count() as u64;
        Ok(web::events::Receipt {
            accepted,
            ..Default::default()
        })
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

    async fn reload_rules(&self) -> Result<web::events::RulesReloaded, String> {
        Ok(web::events::RulesReloaded::default())
    }

    fn sources(&self) -> Vec<web::events::SourceHealth> {
        Vec::new()
    }

    fn status(&self) -> web::events::IngestStatus {
        web::events::IngestStatus::default()
    }

    fn prometheus(&self) -> String {
        String::new()
    }
}

fn body_for(operation: &str) -> Option<Value> {
    Some(match operation {
        "post_events" => json!({ "EventID": 4625, "Channel": "Security" }),
        "post_otlp_logs" => json!({ "resourceLogs": [] }),
        "create_alerts" => json!({ "alerts": [{ "rule_id": "r-9", "rule_title": "Submitted",
            "level": "low", "detected_at": "2026-01-01T00:00:00Z", "key": "k-1" }] }),
        "create_report" => json!({ "category": "theft", "description": "a laptop went missing" }),
        "update_incident" => json!({ "severity": "SEV3" }),
        "change_status" => json!({ "status": "investigating" }),
        "assign_incident" => json!({}),
        "add_note" => json!({ "body": "looked at it" }),
        "reply_by_mail" => json!({ "text": "thank you" }),
        "create_task" => json!({ "title": "rotate keys" }),
        "update_task" => json!({ "done": true }),
        "link_incident" => json!({ "report_id": "0190b5a0-0000-7000-8000-000000000000" }),
        "merge_incident" => json!({ "into": "0190b5a0-0000-7000-8000-000000000001" }),
        "set_impact" => {
            json!({ "confidentiality": "low", "integrity": "none", "availability": "none" })
        }
        "close_incident" => json!({ "resolution": "false_positive" }),
        "save_advisory" => json!({ "title": "t", "summary": "s", "impact": "i",
            "remediation": "r" }),
        "dismiss_alert" => json!({ "reason": "noise" }),
        "create_user" => json!({ "name": "matrix-user", "role": "reporter" }),
        "set_user_role" => json!({ "role": "reporter" }),
        "create_role_grant" => json!({ "user": "nobody-by-that-name", "role": "responder" }),
        "create_suppression" => json!({ "rule_id": "matrix-rule", "reason": "noisy" }),
        "create_token" => json!({ "label": "matrix", "expires_in_days": 30 }),
        // The body is the file itself; any bytes will do.
        "upload_attachment" => json!({ "any": "file content" }),
        _ => return None,
    })
}

/// A route's path with its parameters filled in, plus the query parameters
/// the route requires.
fn fill(path: &str) -> String {
    let mut filled = path
        .replace("{id}", "0190b5a0-0000-7000-8000-00000000abcd")
        .replace("{task_id}", "0190b5a0-0000-7000-8000-00000000dcba")
        .replace("{attachment_id}", "0190b5a0-0000-7000-8000-00000000beef")
        .replace("{name}", "nobody-by-that-name");
    let route_query = ROUTES
        .iter()
        .filter(|r| r.path == path)
        .flat_map(|r| r.query.iter())
        .filter(|q| q.required)
        .map(|q| format!("{}=matrix.txt", q.name))
        .collect::<Vec<_>>();
    if !route_query.is_empty() {
        filled = format!("{filled}?{}", route_query.join("&"));
    }
    filled
}

/// Who may call each route, written by hand from the product's access
/// rules (not read from the route table under test): `P` is public, else
/// one letter per role that may call it: `r`eporter, re`s`ponder,
/// `f`inance-ops, `a`dmin.
const EXPECTED_ACCESS: &[(&str, &str, &str)] = &[
    ("GET", "/api/v1/health", "P"),
    ("GET", "/api/v1/openapi.json", "P"),
    ("GET", "/api/v1/me", "rsfa"),
    ("GET", "/api/v1/stats", "a"),
    ("POST", "/api/v1/reports", "rsfa"),
    ("GET", "/api/v1/reports", "rsfa"),
    ("GET", "/api/v1/reports/{id}", "rsfa"),
    ("POST", "/api/v1/reports/{id}/attachments", "rsfa"),
    ("POST", "/api/v1/reports/{id}/reply", "s"),
    (
        "GET",
        "/api/v1/reports/{id}/attachments/{attachment_id}",
        "rsfa",
    ),
    ("GET", "/api/v1/incidents", "rsfa"),
    ("GET", "/api/v1/incidents/{id}", "rsfa"),
    ("PATCH", "/api/v1/incidents/{id}", "sa"),
    ("POST", "/api/v1/incidents/{id}/status", "sa"),
    ("POST", "/api/v1/incidents/{id}/assign", "sa"),
    ("POST", "/api/v1/incidents/{id}/notes", "sfa"),
    ("POST", "/api/v1/incidents/{id}/tasks", "sa"),
    ("PATCH", "/api/v1/incidents/{id}/tasks/{task_id}", "sa"),
    ("POST", "/api/v1/incidents/{id}/links", "sa"),
    ("POST", "/api/v1/incidents/{id}/merge", "sa"),
    ("PUT", "/api/v1/incidents/{id}/impact", "sa"),
    ("POST", "/api/v1/incidents/{id}/close", "sa"),
    ("GET", "/api/v1/alerts", "sfa"),
    ("GET", "/api/v1/alerts/{id}", "sfa"),
    ("POST", "/api/v1/alerts/{id}/promote", "sa"),
    ("POST", "/api/v1/alerts/{id}/dismiss", "sa"),
    ("GET", "/api/v1/suppressions", "sa"),
    ("POST", "/api/v1/suppressions", "sa"),
    ("DELETE", "/api/v1/suppressions/{id}", "sa"),
    ("GET", "/api/v1/users", "a"),
    ("POST", "/api/v1/users", "a"),
    ("POST", "/api/v1/users/{name}/disable", "a"),
    ("PUT", "/api/v1/users/{name}/role", "a"),
    ("GET", "/api/v1/users/{name}/tokens", "rsfa"),
    ("POST", "/api/v1/users/{name}/tokens", "rsfa"),
    ("DELETE", "/api/v1/tokens/{id}", "rsfa"),
    ("POST", "/api/v1/tokens/{id}/rotate", "rsfa"),
    ("GET", "/api/v1/role-grants", "sa"),
    ("POST", "/api/v1/role-grants", "sa"),
    ("POST", "/api/v1/role-grants/{id}/approve", "s"),
    ("POST", "/api/v1/role-grants/{id}/reject", "sa"),
    ("POST", "/api/v1/events", "i"),
    ("POST", "/v1/logs", "i"),
    ("POST", "/api/v1/alerts", "sa"),
    ("GET", "/metrics", "a"),
    ("POST", "/api/v1/rules/reload", "a"),
    ("GET", "/api/v1/sources", "sa"),
    ("GET", "/api/v1/coverage", "sa"),
    ("GET", "/api/v1/metrics", "sfa"),
    ("GET", "/api/v1/audit", "sa"),
    ("GET", "/api/v1/audit/verify", "sa"),
    ("POST", "/api/v1/incidents/{id}/advisory", "s"),
    ("POST", "/api/v1/advisories/{id}/approve", "s"),
    ("GET", "/api/v1/advisories", "s"),
];

/// Whether the hand-written table lets `role` call a route.
fn expected_allows(letters: &str, role: Role) -> bool {
    let letter = match role {
        Role::Reporter => 'r',
        Role::Responder => 's',
        Role::FinanceOps => 'f',
        Role::Admin => 'a',
        Role::Ingest => 'i',
    };
    letters == "P" || letters.contains(letter)
}

#[tokio::test]
async fn the_hand_written_access_table_names_every_route_once() {
    let mut served: Vec<(String, &str)> = ROUTES
        .iter()
        .map(|r| (r.method.to_string(), r.path))
        .collect();
    served.sort();
    let mut expected: Vec<(String, &str)> = EXPECTED_ACCESS
        .iter()
        .map(|(m, p, _)| ((*m).to_owned(), *p))
        .collect();
    expected.sort();
    assert_eq!(
        served, expected,
        "a route was added or removed: write its access in EXPECTED_ACCESS"
    );
}

#[tokio::test]
async fn every_route_times_every_role_is_enforced() {
    let app = app().await;
    let roles = [
        ("reporter", Role::Reporter),
        ("responder", Role::Responder),
        ("finance-ops", Role::FinanceOps),
        ("admin", Role::Admin),
        ("shipper", Role::Ingest),
    ];
    let mut cells = 0;
    for (method, template, letters) in EXPECTED_ACCESS {
        let method: Method = method.parse().unwrap();
        let route = ROUTES
            .iter()
            .find(|r| r.method == method && r.path == *template)
            .unwrap_or_else(|| panic!("{method} {template} is not served"));
        let path = fill(template);
        let body = body_for(route.operation);
        assert_eq!(
            body.is_some(),
            route.request.is_some(),
            "{}: test body and table disagree",
            route.operation
        );

        // No token, a well-formed unknown token, and garbage.
        let bad_headers = [
            None,
            Some(format!("Bearer wp_{}", "0".repeat(64))),
            Some("Bearer not-a-token".to_owned()),
            Some(format!("Basic {}", app.token("admin"))),
        ];
        for header in &bad_headers {
            let bytes = body
                .as_ref()
                .map(|b| b.to_string().into_bytes())
                .unwrap_or_default();
            let (status, answer) = app
                .raw(method.clone(), &path, header.as_deref(), bytes)
                .await;
            if *letters == "P" {
                assert_eq!(status, StatusCode::OK, "{method} {path} public");
            } else {
                assert_eq!(
                    status,
                    StatusCode::UNAUTHORIZED,
                    "{method} {path} with {header:?}"
                );
                assert_eq!(error_code(&answer), "unauthorized");
            }
            cells += 1;
        }
        for (name, role) in roles {
            let (status, answer) = app
                .call(method.clone(), &path, Some(app.token(name)), body.clone())
                .await;
            if expected_allows(letters, role) {
                assert!(
                    ![
                        StatusCode::UNAUTHORIZED,
                        StatusCode::FORBIDDEN,
                        StatusCode::METHOD_NOT_ALLOWED
                    ]
                    .contains(&status)
                        && !status.is_server_error(),
                    "{method} {path} as {name}: {status} {answer}"
                );
                if status.is_success() {
                    // A success is the status the table (and OpenAPI) documents.
                    assert_eq!(status, route.status, "{method} {path} as {name}");
                } else if status == StatusCode::CONFLICT {
                    // Allowed, but the body names something that does not
                    // exist (a user name): a conflict with the server's
                    // state, never 403.
                    assert_eq!(error_code(&answer), "conflict", "{method} {path}");
                } else {
                    // Allowed but the resource does not exist: 404, never 403.
                    assert_eq!(
                        status,
                        StatusCode::NOT_FOUND,
                        "{method} {path} as {name}: {answer}"
                    );
                    assert_eq!(error_code(&answer), "not_found");
                }
            } else {
                assert_eq!(
                    status,
                    StatusCode::FORBIDDEN,
                    "{method} {path} as {name}: {answer}"
                );
                assert_eq!(error_code(&answer), "forbidden");
            }
            cells += 1;
        }
    }
    assert_eq!(cells, EXPECTED_ACCESS.len() * 9);
}

#[tokio::test]
async fn openapi_lists_exactly_the_route_table() {
    let app = app().await;
    let (status, doc) = app
        .call(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    let operations: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(operations, ROUTES.len());
    for route in ROUTES {
        let op = &paths[route.path][route.method.as_str().to_ascii_lowercase()];
        assert_eq!(op["operationId"], route.operation);
        let documented: Vec<&String> = op["responses"]
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| *k != "default")
            .collect();
        assert_eq!(documented, [route.status.as_str()], "{}", route.operation);
        for q in route.query {
            let documented = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|p| p["in"] == "query" && p["name"] == q.name)
                .unwrap_or_else(|| panic!("{}: query {} undocumented", route.operation, q.name));
            assert_eq!(documented["required"], q.required);
        }
        if let Some(request) = route.request {
            let content = op["requestBody"]["content"].as_object().unwrap();
            assert_eq!(
                content.keys().collect::<Vec<_>>(),
                [request.media_type()],
                "{}",
                route.operation
            );
        }
        let roles: Vec<&str> = op["x-roles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap())
            .collect();
        match route.access {
            Access::Public => assert!(roles.is_empty()),
            Access::Roles(expected) => {
                assert_eq!(
                    roles,
                    expected.iter().map(|r| r.as_str()).collect::<Vec<_>>()
                )
            }
        }
    }
    let upload = &paths["/api/v1/reports/{id}/attachments"]["post"];
    assert!(
        upload["requestBody"]["content"]["application/octet-stream"].is_object(),
        "{upload}"
    );
    assert_eq!(
        upload["responses"]["201"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/Attachment"
    );
    // Every $ref points at a defined schema.
    let text = doc.to_string();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for part in text.split("#/components/schemas/").skip(1) {
        let name: String = part
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        assert!(schemas.contains_key(&name), "dangling $ref {name}");
    }
}

#[tokio::test]
async fn other_methods_on_known_paths_are_405_in_our_format() {
    let app = app().await;
    let mut by_path: BTreeMap<&str, Vec<&Method>> = BTreeMap::new();
    for route in ROUTES {
        by_path.entry(route.path).or_default().push(&route.method);
    }
    for (path, methods) in by_path {
        for method in [
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ] {
            if methods.contains(&&method) {
                continue;
            }
            let (status, body) = app
                .call(method.clone(), &fill(path), Some(app.token("admin")), None)
                .await;
            assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            assert_eq!(error_code(&body), "method_not_allowed");
        }
    }
    let (status, body) = app.call(Method::GET, "/api/v1/nope", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error_code(&body), "not_found");
}

#[tokio::test]
async fn bad_input_gets_clear_errors_in_one_format() {
    let app = app().await;
    let reporter = app.token("reporter");

    // Oversized body: 413.
    let huge = format!(
        "{{\"category\":\"theft\",\"description\":\"{}\"}}",
        "x".repeat(DEFAULT_MAX_BODY_BYTES + 10)
    );
    let (status, body) = app
        .raw(
            Method::POST,
            "/api/v1/reports",
            Some(&format!("Bearer {reporter}")),
            huge.into_bytes(),
        )
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error_code(&body), "payload_too_large");

    // Invalid JSON: 400.
    for bad in ["{", "not json", "{\"category\": theft}", ""] {
        let (status, body) = app
            .raw(
                Method::POST,
                "/api/v1/reports",
                Some(&format!("Bearer {reporter}")),
                bad.as_bytes().to_vec(),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad:?}: {body}");
        assert_eq!(error_code(&body), "invalid_json");
    }

    // Unknown enum value: 422 listing the allowed values.
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/reports",
            Some(reporter),
            Some(json!({ "category": "burglary", "description": "d" })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let message = body["error"]["message"].as_str().unwrap();
    for allowed in ["theft", "harassment", "other"] {
        assert!(message.contains(allowed), "{message}");
    }
    let (status, body) = app
        .call(
            Method::GET,
            "/api/v1/incidents?status=pending",
            Some(reporter),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("investigating"),
        "{body}"
    );
    // An admin cannot disable themselves: 409, in the one error format.
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/users/admin/disable",
            Some(app.token("admin")),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["message"], "you cannot disable yourself");
    let (status, body) = app
        .call(
            Method::GET,
            "/api/v1/incidents?source=pigeon",
            Some(reporter),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("third-party"),
        "{body}"
    );
    let (status, body) = app
        .call(
            Method::GET,
            "/api/v1/incidents?limit=0",
            Some(reporter),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, _) = app
        .call(
            Method::GET,
            "/api/v1/incidents?bogus=1",
            Some(reporter),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/users",
            Some(app.token("admin")),
            Some(json!({ "name": "x", "role": "root" })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("finance-ops"),
        "{body}"
    );

    // Unknown field: 422.
    let (status, _) = app
        .call(
            Method::POST,
            "/api/v1/reports",
            Some(reporter),
            Some(json!({ "category": "theft", "description": "d", "sensitve": true })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // Malformed ids are 404, like invisible ones.
    for path in [
        "/api/v1/incidents/1",
        "/api/v1/incidents/..%2f..",
        "/api/v1/reports/%00",
        "/api/v1/alerts/zz",
    ] {
        let (status, body) = app
            .call(Method::GET, path, Some(app.token("responder")), None)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(error_code(&body), "not_found");
    }
}

#[tokio::test]
async fn no_input_makes_the_server_fail() {
    let app = app().await;
    let junk: Vec<Vec<u8>> = vec![
        b"null".to_vec(),
        b"[]".to_vec(),
        b"{}".to_vec(),
        b"\"\\ud800\"".to_vec(),
        vec![0xff, 0xfe, 0x00],
        b"{\"title\":1e999}".to_vec(),
        format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)).into_bytes(),
        b"{\"status\":\"closed\",\"at\":\"yesterday\"}".to_vec(),
        b"{\"owner\":\"\\u0000\",\"participants\":[\"\"]}".to_vec(),
    ];
    for route in ROUTES {
        for body in &junk {
            for name in ["reporter", "responder", "admin"] {
                let (status, answer) = app
                    .raw(
                        route.method.clone(),
                        &fill(route.path),
                        Some(&format!("Bearer {}", app.token(name))),
                        body.clone(),
                    )
                    .await;
                assert!(
                    !status.is_server_error(),
                    "{} {} as {name}: {status} {answer}",
                    route.method,
                    route.path
                );
                if !status.is_success() {
                    error_code(&answer);
                }
            }
        }
    }
}

#[tokio::test]
async fn sensitive_reports_are_need_to_know() {
    let app = app().await;
    let (status, report) = app
        .call(
            Method::POST,
            "/api/v1/reports",
            Some(app.token("reporter")),
            Some(json!({ "category": "harassment", "description": "comments in the team chat" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{report}");
    assert_eq!(report["sensitive"], true, "harassment is always sensitive");
    let incident = report["incident_id"].as_str().unwrap().to_owned();
    let report_id = report["id"].as_str().unwrap().to_owned();

    for (name, sees) in [
        ("reporter", true),
        ("responder", true),
        ("finance-ops", true),
        ("reporter2", false),
        ("admin", false),
    ] {
        let token = Some(app.token(name));
        let (status, _) = app
            .call(
                Method::GET,
                &format!("/api/v1/incidents/{incident}"),
                token,
                None,
            )
            .await;
        assert_eq!(
            status,
            if sees {
                StatusCode::OK
            } else {
                StatusCode::NOT_FOUND
            },
            "{name} get"
        );
        let (_, list) = app
            .call(Method::GET, "/api/v1/incidents?q=team%20chat", token, None)
            .await;
        let listed = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["id"] == incident.as_str());
        assert_eq!(listed, sees, "{name} search");
        assert_eq!(list["total"].as_i64().unwrap() > 0, sees, "{name} count");
        // Filtering by the report's channel finds it only for who sees
        // it (the report was sent through the API).
        let (status, list) = app
            .call(Method::GET, "/api/v1/incidents?source=api", token, None)
            .await;
        assert_eq!(status, StatusCode::OK, "{name} source: {list}");
        let listed = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["id"] == incident.as_str());
        assert_eq!(listed, sees, "{name} source");
        assert_eq!(
            list["total"].as_i64().unwrap() > 0,
            sees,
            "{name} source count"
        );
        let (status, _) = app
            .call(
                Method::GET,
                &format!("/api/v1/reports/{report_id}"),
                token,
                None,
            )
            .await;
        assert_eq!(
            status,
            if sees {
                StatusCode::OK
            } else {
                StatusCode::NOT_FOUND
            },
            "{name} report"
        );
        // Notes on an invisible incident are 404 even for a role that may write notes.
        if name == "admin" {
            let (status, _) = app
                .call(
                    Method::POST,
                    &format!("/api/v1/incidents/{incident}/notes"),
                    token,
                    Some(json!({ "body": "x" })),
                )
                .await;
            assert_eq!(status, StatusCode::NOT_FOUND);
        }
    }
}

#[tokio::test]
async fn internal_errors_never_show_their_cause() {
    let app = app().await;
    let token = app.token("responder").to_owned();
    app.store.close().await;
    let (status, body) = app
        .call(Method::GET, "/api/v1/incidents", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert_eq!(
        body,
        json!({ "error": { "code": "internal", "message": "internal error" } })
    );
    let (status, body) = app.call(Method::GET, "/api/v1/health", None, None).await;
    assert_eq!(
        status,
        StatusCode::SERVICE_UNAVAILABLE,
        "health reports a dead database"
    );
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["database"], "down");
    assert!(body.get("jetstream").is_none(), "{body}");
}

#[tokio::test]
async fn an_incident_goes_through_its_lifecycle_over_the_api() {
    let app = app().await;
    let responder = app.token("responder").to_owned();
    let reporter2 = app.token("reporter2").to_owned();
    let (_, report) = app
        .call(
            Method::POST,
            "/api/v1/reports",
            Some(app.token("reporter")),
            Some(
                json!({ "category": "account_abuse", "description": "someone used my account",
                          "occurred_at": "2026-11-29T08:00:00Z", "location": "VPN" }),
            ),
        )
        .await;
    let id = report["incident_id"].as_str().unwrap().to_owned();
    let base = format!("/api/v1/incidents/{id}");
    let post = |path: String, body: Value| {
        let token = responder.clone();
        let app = &app;
        async move {
            app.call(Method::POST, &path, Some(&token), Some(body))
                .await
        }
    };

    // Update fields, assign, add a participant (who then sees it).
    let (status, updated) = app
        .call(
            Method::PATCH,
            &base,
            Some(&responder),
            Some(json!({ "severity": "SEV2", "title": "Account takeover" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(
        (updated["severity"].as_str(), updated["title"].as_str()),
        (Some("SEV2"), Some("Account takeover"))
    );
    assert_eq!(
        app.call(Method::GET, &base, Some(&reporter2), None).await.0,
        StatusCode::NOT_FOUND
    );
    let (status, assigned) = post(
        format!("{base}/assign"),
        json!({ "owner": "responder", "participants": ["reporter2"] }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{assigned}");
    assert!(assigned["owner_id"].is_string());
    assert_eq!(
        app.call(Method::GET, &base, Some(&reporter2), None).await.0,
        StatusCode::OK,
        "participant sees it"
    );
    let (status, body) = post(format!("{base}/assign"), json!({ "owner": "ghost" })).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    // Tasks.
    let (status, task) = post(
        format!("{base}/tasks"),
        json!({ "title": "reset password", "owner": "responder" }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{task}");
    let task_path = format!("{base}/tasks/{}", task["id"].as_str().unwrap());
    let (status, task) = app
        .call(
            Method::PATCH,
            &task_path,
            Some(&responder),
            Some(json!({ "done": true })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{task}");
    assert_eq!(task["done"], true);

    // Status: illegal move refused, legal ones accepted; closing needs impact.
    let (status, body) = post(format!("{base}/status"), json!({ "status": "merged" })).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, body) = post(format!("{base}/status"), json!({ "status": "contained" })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = post(
        format!("{base}/close"),
        json!({ "resolution": "true_positive_impact" }),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "closing without impact: {body}"
    );
    let (status, body) = app
        .call(
            Method::PUT,
            &format!("{base}/impact"),
            Some(&responder),
            Some(
                json!({ "confidentiality": "high", "integrity": "low", "availability": "none",
                          "affected_users": ["alice"], "summary": "mailbox read" }),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["impact"]["confidentiality"], "high");
    let (status, closed) = post(
        format!("{base}/close"),
        json!({ "resolution": "true_positive_impact" }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{closed}");
    assert_eq!(closed["status"], "closed");
    assert!(closed["times"]["closed_at"].is_string());

    // The detail shows the work, in the API's own shapes.
    let (_, detail) = app.call(Method::GET, &base, Some(&responder), None).await;
    assert_eq!(detail["tasks"].as_array().unwrap().len(), 1);
    assert_eq!(detail["reports"][0]["location"], "VPN");
    assert!(
        detail["timeline"].as_array().unwrap().len() >= 3,
        "{detail}"
    );
    let (status, metrics) = app
        .call(Method::GET, "/api/v1/metrics", Some(&responder), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(metrics["total"]["resolved"], 1, "{metrics}");
    assert!(metrics["total"]["ttr_mean_secs"].as_f64().unwrap() >= 0.0);
}

#[tokio::test]
async fn alerts_are_listed_dismissed_promoted_and_merged() {
    let app = app().await;
    let responder = app.token("responder").to_owned();
    let outcome = app
        .store
        .ingest_alert(
            &Viewer::system(),
            incidents::NewAlert {
                rule_id: "rule-1".to_owned(),
                rule_title: "Brute force".to_owned(),
                level: incidents::AlertLevel::High,
                entities: [("host".to_owned(), "web-1".to_owned())].into(),
                evidence: vec![json!({ "EventID": 4625 })],
                policy: None,
                detected_at: time::OffsetDateTime::now_utc(),
                key: None,
                queue_only: false,
                group: None,
            },
        )
        .await
        .unwrap();
    let alert = outcome.alert_id.to_string();
    let first = outcome.incident_id.unwrap().to_string();

    let (status, list) = app
        .call(
            Method::GET,
            "/api/v1/alerts?rule_id=rule-1",
            Some(&responder),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["items"][0]["id"], alert.as_str());
    assert_eq!(list["items"][0]["entities"]["host"], "web-1");
    let (status, _) = app
        .call(
            Method::GET,
            "/api/v1/alerts?disposition=maybe",
            Some(&responder),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        app.call(
            Method::GET,
            &format!("/api/v1/alerts/{alert}"),
            Some(app.token("reporter")),
            None
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );

    // A linked alert can't be promoted; dismissed, it can.
    let promote = format!("/api/v1/alerts/{alert}/promote");
    let (status, _) = app
        .call(Method::POST, &promote, Some(&responder), None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, dismissed) = app
        .call(
            Method::POST,
            &format!("/api/v1/alerts/{alert}/dismiss"),
            Some(&responder),
            Some(json!({ "reason": "test" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{dismissed}");
    assert_eq!(dismissed["disposition"], "dismissed");
    let (status, promoted) = app
        .call(Method::POST, &promote, Some(&responder), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{promoted}");
    let second = promoted["id"].as_str().unwrap().to_owned();
    assert_ne!(second, first);

    // Merge the first incident into the second.
    let (status, target) = app
        .call(
            Method::POST,
            &format!("/api/v1/incidents/{first}/merge"),
            Some(&responder),
            Some(json!({ "into": second })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{target}");
    assert_eq!(target["id"], second.as_str());
    let (_, merged) = app
        .call(
            Method::GET,
            &format!("/api/v1/incidents/{first}"),
            Some(&responder),
            None,
        )
        .await;
    assert_eq!(merged["incident"]["status"], "merged");
    assert_eq!(merged["incident"]["merged_into"], second.as_str());
    let (status, _) = app
        .call(
            Method::POST,
            &format!("/api/v1/incidents/{second}/merge"),
            Some(&responder),
            Some(json!({ "into": second })),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "no self-merge");
}

fn new_alert(rule: &str, host: &str) -> incidents::NewAlert {
    incidents::NewAlert {
        rule_id: rule.to_owned(),
        rule_title: "Noisy scanner".to_owned(),
        level: incidents::AlertLevel::Medium,
        entities: [("host".to_owned(), host.to_owned())].into(),
        evidence: vec![json!({ "EventID": 4625 })],
        policy: None,
        detected_at: time::OffsetDateTime::now_utc(),
        key: None,
        queue_only: false,
        group: None,
    }
}

/// The number of incidents a responder sees.
async fn incidents_total(app: &App) -> i64 {
    let (status, list) = app
        .call(
            Method::GET,
            "/api/v1/incidents",
            Some(app.token("responder")),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list["total"].as_i64().unwrap()
}

#[tokio::test]
async fn a_suppression_rule_keeps_matching_alerts_out_of_incidents() {
    let app = app().await;
    let responder = app.token("responder").to_owned();

    // Refused: an expiry in the past, an unknown field.
    let (status, body) = app
        .call(
            Method::POST,
            "/api/v1/suppressions",
            Some(&responder),
            Some(json!({ "rule_id": "scan", "reason": "r", "expires_at": "2020-01-01T00:00:00Z" })),
        )
        .await;
    // Valid by the document, refused by the clock: 409.
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expires_at")
    );
    let (status, _) = app
        .call(
            Method::POST,
            "/api/v1/suppressions",
            Some(&responder),
            Some(json!({ "rule_id": "scan", "reason": "r", "entity": {} })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    let (status, rule) = app
        .call(
            Method::POST,
            "/api/v1/suppressions",
            Some(&responder),
            Some(json!({ "rule_id": "scan", "entities": { "host": "scanner-1" },
                          "reason": "the vulnerability scanner", "expires_at": "2999-01-01T00:00:00Z" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{rule}");
    assert_eq!(rule["active"], true);
    assert_eq!(rule["entities"]["host"], "scanner-1");
    let rule_id = rule["id"].as_str().unwrap().to_owned();
    let (status, list) = app
        .call(Method::GET, "/api/v1/suppressions", Some(&responder), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["id"], rule_id.as_str());

    // A matching alert is stored as suppressed and opens no incident; an
    // alert of the same rule on another host still does.
    let before = incidents_total(&app).await;
    let suppressed = app
        .store
        .ingest_alert(&Viewer::system(), new_alert("scan", "scanner-1"))
        .await
        .unwrap();
    assert_eq!(
        suppressed.disposition,
        incidents::AlertDisposition::Suppressed
    );
    assert_eq!(suppressed.incident_id, None);
    assert_eq!(incidents_total(&app).await, before);
    let (_, alerts) = app
        .call(
            Method::GET,
            "/api/v1/alerts?disposition=suppressed",
            Some(&responder),
            None,
        )
        .await;
    assert_eq!(
        alerts["items"][0]["id"],
        suppressed.alert_id.to_string().as_str()
    );
    let other = app
        .store
        .ingest_alert(&Viewer::system(), new_alert("scan", "web-2"))
        .await
        .unwrap();
    assert_eq!(other.disposition, incidents::AlertDisposition::Opened);
    assert_eq!(incidents_total(&app).await, before + 1);

    // Deleted, the rule no longer applies.
    let path = format!("/api/v1/suppressions/{rule_id}");
    let (status, deleted) = app
        .call(Method::DELETE, &path, Some(&responder), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{deleted}");
    assert_eq!(deleted["id"], rule_id.as_str());
    let (status, _) = app
        .call(Method::DELETE, &path, Some(&responder), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "deleted twice");
    let (_, list) = app
        .call(Method::GET, "/api/v1/suppressions", Some(&responder), None)
        .await;
    assert_eq!(list, json!([]));
    let again = app
        .store
        .ingest_alert(&Viewer::system(), new_alert("scan", "scanner-1"))
        .await
        .unwrap();
    assert_eq!(again.disposition, incidents::AlertDisposition::Opened);
    assert_eq!(incidents_total(&app).await, before + 2);
}

/// Files a report with one attachment as `reporter`, straight through the
/// store (so a name the API would refuse can be stored); answers the report
/// as the API shows it.
async fn report_with_attachment(
    app: &App,
    reporter: &str,
    category: incidents::Category,
    attachment: incidents::NewAttachment,
) -> Value {
    let report = app
        .store
        .file_report(
            &app.viewer(reporter).await,
            incidents::NewReport {
                channel: incidents::Channel::Web,
                category,
                description: "see the attached file".to_owned(),
                occurred_at: None,
                location: None,
                sensitive: false,
                anonymous: false,
                attachments: vec![attachment],
            },
        )
        .await
        .unwrap();
    let (status, shown) = app
        .call(
            Method::GET,
            &format!("/api/v1/reports/{}", report.id),
            Some(app.token(reporter)),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    shown
}

#[tokio::test]
async fn attachments_download_as_files_only_for_those_who_see_the_report() {
    let app = app().await;
    let content: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let report = report_with_attachment(
        &app,
        "reporter",
        incidents::Category::PropertyDamage,
        incidents::NewAttachment {
            filename: "broken \"door\"\r\n.jpg".to_owned(),
            content_type: "image/jpeg".to_owned(),
            bytes: content.clone(),
        },
    )
    .await;
    let listed = &report["attachments"];
    assert_eq!(listed.as_array().unwrap().len(), 1, "{report}");
    assert_eq!(listed[0]["size"], content.len());
    assert_eq!(listed[0]["content_type"], "image/jpeg");
    let url = listed[0]["url"].as_str().unwrap().to_owned();
    assert!(
        url.starts_with(&format!(
            "/api/v1/reports/{}/attachments/",
            report["id"].as_str().unwrap()
        )),
        "{url}"
    );

    // The reporter gets the same bytes back, as a download.
    let (status, headers, bytes) = app.download(&url, app.token("reporter")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(bytes == content, "round trip changed the bytes");
    assert_eq!(headers["content-type"], "image/jpeg");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["cache-control"], "private, no-store");
    let disposition = headers["content-disposition"].to_str().unwrap();
    assert!(disposition.starts_with("attachment; "), "{disposition}");
    assert!(
        disposition.contains("filename*=UTF-8''broken%20%22door%22%0D%0A.jpg"),
        "{disposition}"
    );

    // Responders and finance-ops see every report; another reporter sees
    // nothing, answered as for an id that does not exist.
    for (name, expected) in [
        ("responder", StatusCode::OK),
        ("finance-ops", StatusCode::OK),
        ("admin", StatusCode::OK),
        ("reporter2", StatusCode::NOT_FOUND),
    ] {
        let (status, _, bytes) = app.download(&url, app.token(name)).await;
        assert_eq!(status, expected, "{name}");
        if status == StatusCode::NOT_FOUND {
            let body: Value = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(error_code(&body), "not_found", "{name}");
        }
    }

    // A sensitive report's attachment: need-to-know, so not the admin.
    let sensitive = report_with_attachment(
        &app,
        "reporter",
        incidents::Category::Harassment,
        incidents::NewAttachment {
            filename: "screenshot.png".to_owned(),
            content_type: "text/html".to_owned(),
            bytes: b"<script>alert(1)</script>".to_vec(),
        },
    )
    .await;
    assert_eq!(sensitive["sensitive"], true);
    let sensitive_url = sensitive["attachments"][0]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    for (name, expected) in [
        ("reporter", StatusCode::OK),
        ("responder", StatusCode::OK),
        ("finance-ops", StatusCode::OK),
        ("admin", StatusCode::NOT_FOUND),
        ("reporter2", StatusCode::NOT_FOUND),
    ] {
        let (status, headers, _) = app.download(&sensitive_url, app.token(name)).await;
        assert_eq!(status, expected, "{name}");
        if status == StatusCode::OK {
            // Even as its uploaded type, it is never rendered in the page.
            assert_eq!(headers["x-content-type-options"], "nosniff");
            assert!(
                headers["content-disposition"]
                    .to_str()
                    .unwrap()
                    .starts_with("attachment;")
            );
            assert!(
                headers["content-security-policy"]
                    .to_str()
                    .unwrap()
                    .contains("sandbox")
            );
        }
    }

    // An attachment is only found under its own report.
    let attachment_id = url.rsplit('/').next().unwrap();
    let elsewhere = format!(
        "/api/v1/reports/{}/attachments/{attachment_id}",
        sensitive["id"].as_str().unwrap()
    );
    let (status, _, _) = app.download(&elsewhere, app.token("responder")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// Files a report over the API as `reporter`; answers its id.
async fn file_over_api(app: &App, reporter: &str, category: &str) -> String {
    let (status, report) = app
        .call(
            Method::POST,
            "/api/v1/reports",
            Some(app.token(reporter)),
            Some(json!({ "category": category, "description": "files follow" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{report}");
    report["id"].as_str().unwrap().to_owned()
}

/// The attachments of a report as `who` sees it listed.
async fn listed_attachments(app: &App, who: &str, report: &str) -> Vec<Value> {
    let (status, shown) = app
        .call(
            Method::GET,
            &format!("/api/v1/reports/{report}"),
            Some(app.token(who)),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    shown["attachments"].as_array().unwrap().clone()
}

#[tokio::test]
async fn uploaded_attachments_download_byte_for_byte_for_those_who_see_the_report() {
    let app = app().await;
    let report = file_over_api(&app, "reporter", "theft").await;
    let upload = format!("/api/v1/reports/{report}/attachments");

    // Larger than the general 1 MiB body limit: uploads have their own.
    let content: Vec<u8> = (0..=255u8)
        .cycle()
        .take(DEFAULT_MAX_BODY_BYTES * 2 + 3)
        .collect();
    let (status, headers, created) = app
        .upload(
            &format!("{upload}?filename=photo%201.png"),
            app.token("reporter"),
            Some("image/png"),
            content.clone(),
            true,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["filename"], "photo 1.png");
    assert_eq!(created["content_type"], "image/png");
    assert_eq!(created["size"], content.len());
    assert_eq!(created["sha256"].as_str().unwrap().len(), 64);
    let url = created["url"].as_str().unwrap().to_owned();
    assert_eq!(headers["location"], url.as_str());
    // The same shape and values as in the report's listing.
    assert_eq!(
        listed_attachments(&app, "reporter", &report).await,
        vec![created.clone()]
    );

    let (status, headers, bytes) = app.download(&url, app.token("reporter")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(bytes == content, "the round trip changed the bytes");
    assert_eq!(headers["content-type"], "image/png");

    // Another reporter may not see the report, so may not add to it: 404,
    // and nothing is added.
    let (status, _, answer) = app
        .upload(
            &format!("{upload}?filename=evil.txt"),
            app.token("reporter2"),
            Some("text/plain"),
            b"not yours".to_vec(),
            true,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    assert_eq!(error_code(&answer), "not_found");
    assert_eq!(
        listed_attachments(&app, "responder", &report).await.len(),
        1
    );

    // A responder adds one; without a content type (and without announcing
    // its length) it is stored as application/octet-stream.
    let (status, _, created) = app
        .upload(
            &format!("{upload}?filename=triage-notes"),
            app.token("responder"),
            None,
            b"checked the cameras".to_vec(),
            false,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["content_type"], "application/octet-stream");
    let (_, _, bytes) = app
        .download(created["url"].as_str().unwrap(), app.token("reporter"))
        .await;
    assert_eq!(bytes, b"checked the cameras");

    // A sensitive report: need-to-know, so not the admin.
    let hidden = file_over_api(&app, "reporter", "harassment").await;
    let hidden_upload = format!("/api/v1/reports/{hidden}/attachments?filename=chat.txt");
    for (name, expected) in [
        ("admin", StatusCode::NOT_FOUND),
        ("reporter2", StatusCode::NOT_FOUND),
        ("reporter", StatusCode::CREATED),
        ("finance-ops", StatusCode::CREATED),
        ("responder", StatusCode::CREATED),
    ] {
        let (status, _, answer) = app
            .upload(
                &hidden_upload,
                app.token(name),
                Some("text/plain"),
                name.as_bytes().to_vec(),
                true,
            )
            .await;
        assert_eq!(status, expected, "{name}: {answer}");
    }
    assert_eq!(
        listed_attachments(&app, "finance-ops", &hidden).await.len(),
        3
    );

    // Every upload is in the audit trail, and the chain verifies.
    let (_, audit) = app
        .call(
            Method::GET,
            "/api/v1/audit?limit=1000",
            Some(app.token("responder")),
            None,
        )
        .await;
    let uploads = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "attachment.add")
        .count();
    assert_eq!(uploads, 5);
    let (status, verified) = app
        .call(
            Method::GET,
            "/api/v1/audit/verify",
            Some(app.token("admin")),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(verified["ok"], true, "{verified}");
}

#[tokio::test]
async fn oversized_uploads_are_413_in_our_format() {
    // The upload limit is the store's attachment cap, here smaller than the
    // general body limit.
    let cap = 1000;
    let app = app_with_store(
        RouterOptions::default(),
        incidents::StoreOptions {
            max_attachment_bytes: cap,
            ..Default::default()
        },
    )
    .await;
    let report = file_over_api(&app, "reporter", "theft").await;
    let upload = format!("/api/v1/reports/{report}/attachments?filename=big.bin");
    for announced in [true, false] {
        let (status, _, answer) = app
            .upload(
                &upload,
                app.token("reporter"),
                None,
                vec![7; cap + 1],
                announced,
            )
            .await;
        assert_eq!(
            status,
            StatusCode::PAYLOAD_TOO_LARGE,
            "announced {announced}: {answer}"
        );
        assert_eq!(error_code(&answer), "payload_too_large");
    }
    assert!(
        listed_attachments(&app, "reporter", &report)
            .await
            .is_empty()
    );
    let (status, _, answer) = app
        .upload(&upload, app.token("reporter"), None, vec![7; cap], true)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    // Other routes keep the general limit.
    let (status, answer) = app
        .call(
            Method::POST,
            "/api/v1/reports",
            Some(app.token("reporter")),
            Some(json!({ "category": "theft", "description": "x".repeat(cap * 10) })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");

    // With the default cap (10 MiB), one byte more is refused before the
    // body is read.
    let default = crate::app().await;
    let report = file_over_api(&default, "reporter", "theft").await;
    let cap = default.store.max_attachment_bytes();
    let (status, _, answer) = default
        .upload(
            &format!("/api/v1/reports/{report}/attachments?filename=big.bin"),
            default.token("reporter"),
            None,
            vec![0; cap + 1],
            true,
        )
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{answer}");
    assert_eq!(error_code(&answer), "payload_too_large");
}

#[tokio::test]
async fn uploads_need_a_file_name_and_a_body() {
    let app = app().await;
    let report = file_over_api(&app, "reporter", "theft").await;
    let base = format!("/api/v1/reports/{report}/attachments");
    let long = "n".repeat(256);
    for (query, body) in [
        ("", b"data".to_vec()),
        ("?filename=", b"data".to_vec()),
        ("?filename=%20%20", b"data".to_vec()),
        ("?filename=a%0Ab.txt", b"data".to_vec()),
        ("?filename=a%00b.txt", b"data".to_vec()),
        (&format!("?filename={long}"), b"data".to_vec()),
        ("?name=a.txt", b"data".to_vec()),
        ("?filename=empty.txt", Vec::new()),
    ] {
        let (status, _, answer) = app
            .upload(
                &format!("{base}{query}"),
                app.token("reporter"),
                Some("text/plain"),
                body,
                true,
            )
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{query}: {answer}"
        );
        assert_eq!(error_code(&answer), "invalid_value", "{query}");
    }
    let (_, _, answer) = app
        .upload(&base, app.token("reporter"), None, b"data".to_vec(), true)
        .await;
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("filename"),
        "{answer}"
    );
    assert!(
        listed_attachments(&app, "reporter", &report)
            .await
            .is_empty()
    );
    // 255 characters is fine.
    let (status, _, answer) = app
        .upload(
            &format!("{base}?filename={}", "n".repeat(255)),
            app.token("reporter"),
            Some("text/plain"),
            b"data".to_vec(),
            true,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
}

/// Sends a request over a real connection, with a body that announces more
/// bytes than it sends and never finishes; answers the raw HTTP response.
async fn send_unfinished_body(addr: std::net::SocketAddr, token: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /api/v1/reports HTTP/1.1\r\nhost: test\r\nauthorization: Bearer {token}\r\n\
         content-type: application/json\r\ncontent-length: 1000\r\n\r\n{{\"category\":"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // Read until the announced response body is complete (or the server
    // closes); the connection's write half stays open, so the request body
    // never ends.
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&answer);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .and_then(|v| v.trim().parse::<usize>().ok());
            if length.is_some_and(|len| body.len() >= len) {
                break;
            }
        }
    }
    String::from_utf8(answer).unwrap()
}

#[tokio::test]
async fn a_request_that_takes_too_long_is_answered_408_in_our_format() {
    let limit = std::time::Duration::from_millis(200);
    let app = app_with(RouterOptions {
        request_timeout: limit,
        ..RouterOptions::default()
    })
    .await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(axum::serve(listener, app.router.clone()).into_future());

    let started = std::time::Instant::now();
    let answer = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        send_unfinished_body(addr, app.token("reporter")),
    )
    .await
    .expect("the server never answered a request whose body never ends");
    assert!(
        started.elapsed() >= limit,
        "answered before the limit: {answer}"
    );
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 408 "), "{answer}");
    let body: Value = serde_json::from_str(body).unwrap();
    assert_eq!(
        body,
        json!({ "error": { "code": "request_timeout",
                           "message": "the request was not completed within the time limit" } })
    );
    // Nothing was filed by the abandoned request.
    let (_, reports) = app
        .call(
            Method::GET,
            "/api/v1/reports",
            Some(app.token("responder")),
            None,
        )
        .await;
    assert_eq!(reports["items"], json!([]));
    server.abort();
}

/// Refused requests are counted by kind, and only admins read the counts.
#[tokio::test]
async fn refused_requests_are_counted() {
    let app = app().await;
    let bad_token = format!("Bearer wp_{}", "0".repeat(64));
    for _ in 0..2 {
        let (status, _) = app
            .raw(
                Method::GET,
                "/api/v1/incidents",
                Some(&bad_token),
                Vec::new(),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, _) = app
        .raw(
            Method::POST,
            "/api/v1/reports",
            Some(&format!("Bearer {}", app.token("reporter"))),
            b"{not json".to_vec(),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = app
        .call(
            Method::POST,
            "/api/v1/reports",
            Some(app.token("reporter")),
            Some(serde_json::json!({
                "category": "no-such-category", "description": "x"
            })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let huge = vec![b' '; web::DEFAULT_MAX_BODY_BYTES + 1];
    let (status, _) = app
        .raw(
            Method::POST,
            "/api/v1/reports",
            Some(&format!("Bearer {}", app.token("reporter"))),
            huge,
        )
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);

    // Not for a responder; the refusal is itself counted.
    let (status, _) = app
        .call(
            Method::GET,
            "/api/v1/stats",
            Some(app.token("responder")),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, stats) = app
        .call(Method::GET, "/api/v1/stats", Some(app.token("admin")), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    // The stats request itself is counted once its answer is out.
    assert_eq!(stats["requests"], 6, "{stats}");
    let refused = &stats["refused"];
    assert_eq!(refused["unauthorized"], 2, "{stats}");
    assert_eq!(refused["bad_request"], 1, "{stats}");
    assert_eq!(refused["unprocessable"], 1, "{stats}");
    assert_eq!(refused["payload_too_large"], 1, "{stats}");
    assert_eq!(refused["forbidden"], 1, "{stats}");
    assert_eq!(refused["server_error"], 0, "{stats}");
}

#[tokio::test]
async fn need_to_know_roles_take_two_people() {
    let app = app().await;
    let admin = app.token("admin").to_owned();
    let responder = app.token("responder").to_owned();
    // An admin cannot make a responder or finance-ops account...
    for role in ["responder", "finance-ops"] {
        let (status, body) = app
            .call(
                Method::POST,
                "/api/v1/users",
                Some(&admin),
                Some(json!({ "name": "sock", "role": role })),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert_eq!(error_code(&body), "forbidden");
    }
    // ...nor raise one to it.
    let (status, created) = app
        .call(
            Method::POST,
            "/api/v1/users",
            Some(&admin),
            Some(json!({ "name": "sock", "role": "reporter" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let first_token = created["token"].as_str().unwrap().to_owned();
    let (status, _) = app
        .call(
            Method::PUT,
            "/api/v1/users/sock/role",
            Some(&admin),
            Some(json!({ "role": "responder" })),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // The admin asks; the admin cannot approve; a responder does.
    let (status, grant) = app
        .call(
            Method::POST,
            "/api/v1/role-grants",
            Some(&admin),
            Some(json!({ "user": "sock", "role": "responder" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{grant}");
    assert_eq!(grant["status"], "pending");
    let approve = format!(
        "/api/v1/role-grants/{}/approve",
        grant["id"].as_str().unwrap()
    );
    let (status, _) = app.call(Method::POST, &approve, Some(&admin), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, me) = app
        .call(Method::GET, "/api/v1/me", Some(&first_token), None)
        .await;
    assert_eq!(
        (status, me["role"].as_str()),
        (StatusCode::OK, Some("reporter"))
    );
    let (status, granted) = app
        .call(Method::POST, &approve, Some(&responder), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{granted}");
    assert_eq!(granted["user"]["role"], "responder");
    // The token the admin was shown no longer works; the new one does.
    let (status, _) = app
        .call(Method::GET, "/api/v1/me", Some(&first_token), None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let new_token = granted["token"].as_str().unwrap();
    let (status, me) = app
        .call(Method::GET, "/api/v1/me", Some(new_token), None)
        .await;
    assert_eq!(
        (status, me["role"].as_str()),
        (StatusCode::OK, Some("responder"))
    );
    // Approving twice is a conflict; the listing shows the decision.
    let (status, _) = app
        .call(Method::POST, &approve, Some(&responder), None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, grants) = app
        .call(Method::GET, "/api/v1/role-grants", Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(grants[0]["status"], "approved");
    // Lowering a role needs no second person.
    let (status, user) = app
        .call(
            Method::PUT,
            "/api/v1/users/sock/role",
            Some(&admin),
            Some(json!({ "role": "reporter" })),
        )
        .await;
    assert_eq!(
        (status, user["role"].as_str()),
        (StatusCode::OK, Some("reporter"))
    );
    // Every step is in the audit trail.
    let (_, audit) = app
        .call(
            Method::GET,
            "/api/v1/audit?limit=1000",
            Some(&responder),
            None,
        )
        .await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for action in ["user.role_request", "user.role_grant", "user.role_change"] {
        assert!(
            actions.contains(&action),
            "{action} missing from {actions:?}"
        );
    }
}

/// A search text over 200 characters and a metrics period over 366 days
/// are 422 in the one error format, and counted.
#[tokio::test]
async fn search_text_and_metrics_period_are_capped() {
    let app = app().await;
    let token = app.token("responder");
    let at_cap = "a".repeat(200);
    let (status, page) = app
        .call(
            Method::GET,
            &format!("/api/v1/incidents?q={at_cap}"),
            Some(token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let (status, body) = app
        .call(
            Method::GET,
            &format!("/api/v1/incidents?q={at_cap}b"),
            Some(token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "invalid_value");
    assert_eq!(
        body["error"]["message"],
        "q: at most 200 characters (got 201)"
    );
    let (status, _) = app
        .call(
            Method::GET,
            "/api/v1/metrics?from=2025-01-01T00:00:00Z&to=2026-01-02T00:00:00Z",
            Some(token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "366 days is accepted");
    let (status, body) = app
        .call(
            Method::GET,
            "/api/v1/metrics?from=2025-01-01T00:00:00Z&to=2026-01-02T00:00:01Z",
            Some(token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at most 366 days"),
        "{body}"
    );
    let (_, stats) = app
        .call(Method::GET, "/api/v1/stats", Some(app.token("admin")), None)
        .await;
    assert_eq!(stats["refused"]["unprocessable"], 2, "{stats}");
}

/// The test store's SQLite file, for edits no API allows (such as moving
/// a token's expiry into the past).
async fn raw_exec(app: &App, sql: &str) {
    use sqlx::Executor;
    sqlx::any::install_default_drivers();
    let url = format!(
        "sqlite://{}",
        app._dir.path().join("watchpost.db").display()
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

#[tokio::test]
async fn tokens_are_listed_issued_revoked_and_rotated_by_their_owner() {
    let app = app().await;
    let reporter = app.token("reporter").to_owned();
    let admin = app.token("admin").to_owned();
    let hand_written: &[(&str, Method, &str, StatusCode)] = &[
        // (who, method, path, expected): need-to-know on token routes,
        // written out by hand.
        (
            "reporter",
            Method::GET,
            "/api/v1/users/reporter/tokens",
            StatusCode::OK,
        ),
        (
            "reporter",
            Method::GET,
            "/api/v1/users/reporter2/tokens",
            StatusCode::NOT_FOUND,
        ),
        (
            "responder",
            Method::GET,
            "/api/v1/users/reporter/tokens",
            StatusCode::NOT_FOUND,
        ),
        (
            "finance-ops",
            Method::GET,
            "/api/v1/users/reporter/tokens",
            StatusCode::NOT_FOUND,
        ),
        (
            "admin",
            Method::GET,
            "/api/v1/users/reporter/tokens",
            StatusCode::OK,
        ),
        (
            "admin",
            Method::POST,
            "/api/v1/users/reporter/tokens",
            StatusCode::FORBIDDEN,
        ),
        (
            "reporter2",
            Method::POST,
            "/api/v1/users/reporter/tokens",
            StatusCode::NOT_FOUND,
        ),
        (
            "responder",
            Method::POST,
            "/api/v1/users/responder/tokens",
            StatusCode::CREATED,
        ),
    ];
    for (who, method, path, expected) in hand_written {
        let body = (*method == Method::POST).then(|| json!({ "label": "x" }));
        let (status, answer) = app
            .call(method.clone(), path, Some(app.token(who)), body)
            .await;
        assert_eq!(status, *expected, "{who} {method} {path}: {answer}");
    }

    // Listing shows metadata, never a token or its hash.
    let (status, list) = app
        .call(
            Method::GET,
            "/api/v1/users/reporter/tokens",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    let text = list.to_string();
    assert!(!text.contains(&reporter[3..]), "{text}");
    assert!(!text.contains(&TokenHash::of(&reporter).to_hex()), "{text}");
    assert_eq!(list[0]["label"], "test");
    assert_eq!(list[0]["revoked"], false);
    let first_id = list[0]["id"].as_str().unwrap().to_owned();

    // Bad expiries are 422.
    for bad in [
        json!({ "expires_in_days": 0 }),
        json!({ "expires_in_days": 3651 }),
        json!({ "expires_at": "2999-01-01T00:00:00Z", "expires_in_days": 3 }),
        json!({ "label": "x".repeat(201) }),
    ] {
        let (status, answer) = app
            .call(
                Method::POST,
                "/api/v1/users/reporter/tokens",
                Some(&reporter),
                Some(bad.clone()),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {answer}");
    }
    // An expiry in the past is valid by the document but not now: 409.
    let (status, answer) = app
        .call(
            Method::POST,
            "/api/v1/users/reporter/tokens",
            Some(&reporter),
            Some(json!({ "expires_at": "2001-01-01T00:00:00Z" })),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");

    // Issue one for yourself, expiring in 30 days: shown once, works.
    let (status, created) = app
        .call(
            Method::POST,
            "/api/v1/users/reporter/tokens",
            Some(&reporter),
            Some(json!({ "label": "phone", "expires_in_days": 30 })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let phone = created["token"].as_str().unwrap().to_owned();
    let phone_id = created["api_token"]["id"].as_str().unwrap().to_owned();
    let expires = time::OffsetDateTime::parse(
        created["api_token"]["expires_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let days = (expires - time::OffsetDateTime::now_utc()).whole_hours();
    assert!((29 * 24..=30 * 24).contains(&days), "{created}");
    let (status, me) = app
        .call(Method::GET, "/api/v1/me", Some(&phone), None)
        .await;
    assert_eq!(
        (status, me["name"].as_str()),
        (StatusCode::OK, Some("reporter"))
    );

    // Rotate it: a new token, same label, lifetime kept; the old one is 401.
    let (status, rotated) = app
        .call(
            Method::POST,
            &format!("/api/v1/tokens/{phone_id}/rotate"),
            Some(&phone),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{rotated}");
    let phone2 = rotated["token"].as_str().unwrap().to_owned();
    assert_eq!(rotated["api_token"]["label"], "phone");
    assert!(rotated["api_token"]["expires_at"].is_string());
    assert_eq!(
        app.call(Method::GET, "/api/v1/me", Some(&phone), None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.call(Method::GET, "/api/v1/me", Some(&phone2), None)
            .await
            .0,
        StatusCode::OK
    );
    // Admins may not rotate someone else's token (they would hold it).
    let phone2_id = rotated["api_token"]["id"].as_str().unwrap().to_owned();
    let (status, _) = app
        .call(
            Method::POST,
            &format!("/api/v1/tokens/{phone2_id}/rotate"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Revoke: another reporter gets 404; the admin may; then it is 401.
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/tokens/{phone2_id}"),
            Some(app.token("reporter2")),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, revoked) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/tokens/{phone2_id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(
        (status, &revoked["revoked"]),
        (StatusCode::OK, &json!(true)),
        "{revoked}"
    );
    assert_eq!(
        app.call(Method::GET, "/api/v1/me", Some(&phone2), None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/tokens/{phone2_id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "already revoked");
    // The first token still works.
    assert_eq!(
        app.call(Method::GET, "/api/v1/me", Some(&reporter), None)
            .await
            .0,
        StatusCode::OK
    );

    // An expired token authenticates as nobody: 401, counted.
    let (_, before) = app
        .call(Method::GET, "/api/v1/stats", Some(&admin), None)
        .await;
    raw_exec(
        &app,
        &format!("UPDATE api_tokens SET expires_at = 1 WHERE id = '{first_id}'"),
    )
    .await;
    let (status, answer) = app
        .call(Method::GET, "/api/v1/me", Some(&reporter), None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(&answer), "unauthorized");
    let (_, after) = app
        .call(Method::GET, "/api/v1/stats", Some(&admin), None)
        .await;
    assert_eq!(
        after["refused"]["unauthorized"].as_i64().unwrap(),
        before["refused"]["unauthorized"].as_i64().unwrap() + 1
    );
    let (_, list) = app
        .call(
            Method::GET,
            "/api/v1/users/reporter/tokens",
            Some(&admin),
            None,
        )
        .await;
    let first = list
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == first_id.as_str())
        .unwrap();
    assert_eq!(first["expired"], true, "{list}");

    // Every token action is in the audit trail, without the secrets.
    let (_, audit) = app
        .call(Method::GET, "/api/v1/audit?limit=1000", Some(&admin), None)
        .await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["entity"] == "token")
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    // Six test users' tokens, the responder's own, the phone, its
    // rotation, the admin's revocation.
    assert_eq!(
        actions,
        [
            "token.create",
            "token.create",
            "token.create",
            "token.create",
            "token.create",
            "token.create",
            "token.create",
            "token.create",
            "token.rotate",
            "token.revoke"
        ]
    );
    let text = audit.to_string();
    for secret in [&reporter, &phone, &phone2] {
        assert!(!text.contains(&secret[3..]), "a token in the audit trail");
        assert!(!text.contains(&TokenHash::of(secret).to_hex()));
    }
}

#[test]
fn debug_never_shows_a_token() {
    let token = web::token::generate();
    let user = web::types::UserResponse {
        id: "u".into(),
        name: "n".into(),
        role: Role::Reporter,
        disabled: false,
        created_at: time::OffsetDateTime::UNIX_EPOCH,
    };
    let created_user = web::types::CreatedUserResponse {
        user,
        token: token.clone(),
    };
    let created_token = web::types::CreatedTokenResponse {
        api_token: web::types::TokenResponse {
            id: "t".into(),
            user_id: "u".into(),
            label: "laptop".into(),
            created_at: time::OffsetDateTime::UNIX_EPOCH,
            expires_at: None,
            expired: false,
            revoked: false,
        },
        token: token.clone(),
    };
    let hash = TokenHash::of(&token);
    for shown in [
        format!("{created_user:?}"),
        format!("{created_user:#?}"),
        format!("{created_token:?}"),
        format!("{hash:?}"),
    ] {
        assert!(!shown.contains(&token[3..]), "{shown}");
        assert!(!shown.contains(&hash.to_hex()), "{shown}");
        assert!(shown.contains("[redacted]"), "{shown}");
    }
}

#[tokio::test]
async fn reading_a_sensitive_incident_is_audited_once() {
    let app = app().await;
    let responder = app.token("responder").to_owned();
    let reads = |audit: &Value| -> Vec<(String, String)> {
        audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "incident.read")
            .map(|e| {
                (
                    e["entity_id"].as_str().unwrap().to_owned(),
                    e["actor_id"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let file = |sensitive: bool| json!({ "category": "harassment", "description": "comments at the desk", "sensitive": sensitive });
    let (status, hidden) = app
        .call(
            Method::POST,
            "/api/v1/reports",
            Some(app.token("reporter")),
            Some(file(true)),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{hidden}");
    let (_, open) = app
        .call(
            Method::POST,
            "/api/v1/reports",
            Some(app.token("reporter")),
            Some(json!({ "category": "theft", "description": "bike" })),
        )
        .await;
    let hidden_incident = hidden["incident_id"].as_str().unwrap().to_owned();
    let open_incident = open["incident_id"].as_str().unwrap().to_owned();

    let (status, _) = app
        .call(
            Method::GET,
            &format!("/api/v1/incidents/{hidden_incident}"),
            Some(&responder),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .call(
            Method::GET,
            &format!("/api/v1/incidents/{open_incident}"),
            Some(&responder),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .call(
            Method::GET,
            &format!("/api/v1/incidents/{hidden_incident}"),
            Some(app.token("reporter2")),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (_, audit) = app
        .call(
            Method::GET,
            "/api/v1/audit?limit=1000",
            Some(&responder),
            None,
        )
        .await;
    let responder_id = app.viewer("responder").await.user_id.to_string();
    assert_eq!(reads(&audit), [(hidden_incident.clone(), responder_id)]);
    // The admin, who may not see the incident, does not see the entry.
    let (_, admin_audit) = app
        .call(
            Method::GET,
            "/api/v1/audit?limit=1000",
            Some(app.token("admin")),
            None,
        )
        .await;
    assert!(reads(&admin_audit).is_empty(), "{admin_audit}");
}

/// SLA clocks over the API with the built-in targets (docs/sla.md): staff
/// see each incident's `sla`; `?overdue=true` lists only incidents with a
/// clock past its deadline; a reporter's answers carry no `sla` and do not
/// change when others' incidents go overdue; `/metrics` counts the overdue
/// ones.
#[tokio::test]
async fn sla_clocks_show_to_staff_and_never_to_reporters() {
    let app = app().await;
    let responder = app.token("responder").to_owned();
    let reporter = app.token("reporter").to_owned();

    // A reporter's report: a SEV3 incident reported now, its clocks
    // running (SEV3: acknowledge 4h).
    let (status, report) = app
        .call(
            Method::POST,
            "/api/v1/reports",
            Some(&reporter),
            Some(json!({ "category": "theft", "description": "my laptop is gone" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{report}");
    let fresh = report["incident_id"].as_str().unwrap().to_owned();
    let (_, own) = app
        .call(
            Method::GET,
            &format!("/api/v1/incidents/{fresh}"),
            Some(&responder),
            None,
        )
        .await;
    let reported = own["incident"]["times"]["reported_at"].as_str().unwrap();
    let reported =
        time::OffsetDateTime::parse(reported, &time::format_description::well_known::Rfc3339)
            .unwrap();
    let ack = &own["incident"]["sla"]["acknowledge"];
    assert_eq!(ack["target"], "4h", "{own}");
    assert_eq!(ack["state"], "running");
    assert_eq!(ack["breached_at"], Value::Null);
    let due = time::OffsetDateTime::parse(
        ack["due"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!(due - reported, time::Duration::hours(4));

    // The reporter's answers before anything is overdue.
    let reporter_views = || async {
        let one = app
            .raw(
                Method::GET,
                &format!("/api/v1/incidents/{fresh}"),
                Some(&format!("Bearer {reporter}")),
                Vec::new(),
            )
            .await;
        let list = app
            .raw(
                Method::GET,
                "/api/v1/incidents",
                Some(&format!("Bearer {reporter}")),
                Vec::new(),
            )
            .await;
        (one, list)
    };
    let before = reporter_views().await;
    assert_eq!(before.0.0, StatusCode::OK);
    assert!(
        !before.0.1.to_string().contains("\"sla\""),
        "{}",
        before.0.1
    );
    assert!(
        !before.1.1.to_string().contains("\"sla\""),
        "{}",
        before.1.1
    );

    // A SEV1 incident reported on Monday 2026-01-05 at 10:00 UTC and never
    // acknowledged: every clock is past its deadline.
    let staff = app.viewer("responder").await;
    let reported_at = time::macros::datetime!(2026-01-05 10:00 UTC);
    let late = app
        .store
        .create_incident(
            &staff,
            incidents::NewIncident {
                title: "Ransomware on the build server".into(),
                description: String::new(),
                category: incidents::Category::SecurityIncident,
                severity: incidents::Severity::Sev1,
                sensitive: false,
                occurred_at: None,
                detected_at: None,
                reported_at: Some(reported_at),
            },
        )
        .await
        .unwrap();
    let (status, detail) = app
        .call(
            Method::GET,
            &format!("/api/v1/incidents/{}", late.id),
            Some(&responder),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        detail["incident"]["sla"],
        json!({
            "acknowledge": { "target": "15m", "due": "2026-01-05T10:15:00Z", "state": "breached",
                             "breached_at": "2026-01-05T10:15:00Z", "stopped_at": null },
            "triage": { "target": "1h", "due": "2026-01-05T11:00:00Z", "state": "breached",
                        "breached_at": "2026-01-05T11:00:00Z", "stopped_at": null },
            "resolve": { "target": "1d", "due": "2026-01-06T10:00:00Z", "state": "breached",
                         "breached_at": "2026-01-06T10:00:00Z", "stopped_at": null },
        })
    );

    // Only the overdue one is listed as overdue.
    let (status, overdue) = app
        .call(
            Method::GET,
            "/api/v1/incidents?overdue=true",
            Some(&responder),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{overdue}");
    let ids: Vec<&str> = overdue["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [late.id.to_string()]);
    let (_, all) = app
        .call(Method::GET, "/api/v1/incidents", Some(&responder), None)
        .await;
    assert_eq!(all["items"].as_array().unwrap().len(), 2);

    // The reporter's answers are byte for byte what they were, and the
    // overdue filter is not theirs.
    assert_eq!(reporter_views().await, before);
    let (status, _) = app
        .call(
            Method::GET,
            "/api/v1/incidents?overdue=true",
            Some(&reporter),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Metrics count it.
    let (status, metrics) = app
        .call(Method::GET, "/metrics", Some(app.token("admin")), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let metrics = metrics.as_str().unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l == "watchpost_incidents_overdue 1"),
        "{metrics}"
    );
}
