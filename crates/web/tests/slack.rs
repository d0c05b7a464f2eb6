//! Slack's `/incident` command and its category buttons, against the real
//! router and a real SQLite store. Requests are signed in the test the way
//! Slack signs them (HMAC-SHA256 over `v0:{timestamp}:{body}`); the
//! interaction's `response_url` is a local stand-in that checks the answer's
//! format.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use watchpost_web as web;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode};
use hmac::{Hmac, Mac};
use incidents::{Category, Channel, Report, ReportFilter, Role, Store, Viewer};
use serde_json::{Value, json};
use sha2::Sha256;
use tower::ServiceExt;
use web::AppState;
use web::slack::Slack;
use web::stats::RequestStats;

const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";

struct App {
    router: Router,
    store: Arc<dyn Store>,
    stats: Arc<RequestStats>,
    _dir: tempfile::TempDir,
}

/// A fresh store and router; with Slack intake when `slack`.
async fn app(slack: bool) -> App {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("watchpost.db").display());
    let options = incidents::StoreOptions {
        data_dir: Some(dir.path().to_owned()),
        ..Default::default()
    };
    let store = incidents::open_with(&url, options).await.unwrap();
    let stats = Arc::new(RequestStats::default());
    let router = web::router_with_stats(
        AppState::new(store.clone()),
        web::RouterOptions::default(),
        stats.clone(),
    );
    let router = if slack {
        router.layer(axum::Extension(Arc::new(Slack::new(SECRET).unwrap())))
    } else {
        router
    };
    App {
        router,
        store,
        stats,
        _dir: dir,
    }
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// `v0=<hex>` as Slack computes it.
fn sign(secret: &str, timestamp: &str, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("v0:{timestamp}:{body}").as_bytes());
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// A slash command's body, as Slack sends it.
fn command(user: &str, text: &str) -> String {
    form(&[
        ("token", "deprecated-verification-token"),
        ("team_id", "T0WATCH"),
        ("team_domain", "example"),
        ("channel_id", "C0GENERAL"),
        ("channel_name", "general"),
        ("user_id", user),
        ("user_name", "someone"),
        ("command", "/incident"),
        ("text", text),
        ("api_app_id", "A0APP"),
        (
            "response_url",
            "https://hooks.slack.com/commands/T0WATCH/1/x",
        ),
        ("trigger_id", "1.2.3"),
    ])
}

impl App {
    /// POSTs `body` to `path` with the given Slack headers.
    async fn post(
        &self,
        path: &str,
        timestamp: Option<&str>,
        signature: Option<&str>,
        body: &str,
    ) -> (StatusCode, Value) {
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header("content-type", "application/x-www-form-urlencoded");
        if let Some(ts) = timestamp {
            request = request.header("x-slack-request-timestamp", ts);
        }
        if let Some(sig) = signature {
            request = request.header("x-slack-signature", sig);
        }
        let response = self
            .router
            .clone()
            .oneshot(request.body(Body::from(body.to_owned())).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap()
        };
        (status, value)
    }

    /// `GET path`.
    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let response = self
            .router
            .clone()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    /// POSTs `body` signed with the right secret at `timestamp`.
    async fn signed_at(&self, path: &str, timestamp: i64, body: &str) -> (StatusCode, Value) {
        let ts = timestamp.to_string();
        let signature = sign(SECRET, &ts, body);
        self.post(path, Some(&ts), Some(&signature), body).await
    }

    async fn signed(&self, path: &str, body: &str) -> (StatusCode, Value) {
        self.signed_at(path, now(), body).await
    }

    async fn reports(&self) -> Vec<Report> {
        self.store
            .list_reports(
                &Viewer::system(),
                &ReportFilter::default(),
                &incidents::PageRequest::default(),
            )
            .await
            .unwrap()
            .items
    }

    fn unauthorized(&self) -> u64 {
        self.stats.snapshot().refused.unauthorized
    }
}

#[tokio::test]
async fn a_signed_command_files_a_report_as_the_slack_user() {
    let app = app(true).await;
    let (status, answer) = app
        .signed(
            "/slack/commands",
            &command("U0ALICE", "theft my laptop <is> gone & more"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let reports = app.reports().await;
    assert_eq!(reports.len(), 1);
    let report = &reports[0];
    assert_eq!(report.category, Category::Theft);
    assert_eq!(report.channel, Channel::Slack);
    assert!(!report.sensitive);
    assert_eq!(report.description, "my laptop <is> gone & more");
    let user = app
        .store
        .get_user_by_name(&Viewer::system(), "slack-T0WATCH-U0ALICE")
        .await
        .unwrap();
    assert_eq!(user.role, Role::Reporter);
    assert_eq!(report.reporter, Some(user.id));
    assert_eq!(
        answer,
        json!({
            "response_type": "ephemeral",
            "text": format!(
                "Thank you. Your theft report was filed. Its tracking number is {}.",
                report.id
            ),
        })
    );

    // A second report by the same person is filed by the same user.
    let (status, answer) = app
        .signed(
            "/slack/commands",
            &command("U0ALICE", "sensitive Account-Abuse someone used my login"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let reports = app.reports().await;
    assert_eq!(reports.len(), 2);
    let second = reports.iter().find(|r| r.id != report.id).unwrap();
    assert_eq!(second.category, Category::AccountAbuse);
    assert!(second.sensitive);
    assert_eq!(second.reporter, Some(user.id));
    assert_eq!(second.description, "someone used my login");
    assert_eq!(
        answer,
        json!({
            "response_type": "ephemeral",
            "text": format!(
                "Thank you. Your account_abuse report was filed. Its tracking number is {}. It is handled as sensitive: only the people who need to know see it, and it is not posted to any channel.",
                second.id
            ),
        })
    );
    assert_eq!(app.unauthorized(), 0);
}

#[tokio::test]
async fn empty_text_answers_usage_help() {
    let app = app(true).await;
    let (status, answer) = app.signed("/slack/commands", &command("U0BOB", "  ")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["response_type"], "ephemeral");
    assert!(
        answer["text"]
            .as_str()
            .unwrap()
            .starts_with("Usage: `/incident [sensitive] [category] what happened`"),
        "{answer}"
    );
    assert!(app.reports().await.is_empty());
}

#[tokio::test]
async fn spoofed_stale_and_replayed_requests_are_refused() {
    let app = app(true).await;
    let body = command("U0MALLORY", "theft spoofed");
    let ts = now().to_string();
    let good = sign(SECRET, &ts, &body);

    let six_minutes_ago = (now() - 360).to_string();
    let six_minutes_ahead = (now() + 360).to_string();
    let cases: Vec<(&str, Option<String>, Option<String>)> = vec![
        (
            "signed with another secret",
            Some(ts.clone()),
            Some(sign("not-the-secret", &ts, &body)),
        ),
        (
            "signature of another body",
            Some(ts.clone()),
            Some(sign(SECRET, &ts, &command("U0MALLORY", "theft other"))),
        ),
        (
            "six minutes old",
            Some(six_minutes_ago.clone()),
            Some(sign(SECRET, &six_minutes_ago, &body)),
        ),
        (
            "six minutes ahead",
            Some(six_minutes_ahead.clone()),
            Some(sign(SECRET, &six_minutes_ahead, &body)),
        ),
        ("no signature", Some(ts.clone()), None),
        ("no timestamp", None, Some(good.clone())),
        ("no headers", None, None),
        (
            "signature without v0=",
            Some(ts.clone()),
            Some(good.trim_start_matches("v0=").to_owned()),
        ),
    ];
    for (i, (case, ts, sig)) in cases.iter().enumerate() {
        for path in ["/slack/commands", "/slack/interactions"] {
            let (status, answer) = app.post(path, ts.as_deref(), sig.as_deref(), &body).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{case} {path}");
            assert_eq!(answer["error"]["code"], "unauthorized", "{case} {path}");
        }
        assert_eq!(app.unauthorized(), 2 * (i as u64 + 1), "{case}");
    }
    assert!(app.reports().await.is_empty());

    // The genuine request works once; the same request again is a replay.
    let (status, _) = app
        .post("/slack/commands", Some(&ts), Some(&good), &body)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .post("/slack/commands", Some(&ts), Some(&good), &body)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.reports().await.len(), 1);
    assert_eq!(app.unauthorized(), 2 * cases.len() as u64 + 1);
}

#[tokio::test]
async fn without_slack_the_routes_are_not_found() {
    let app = app(false).await;
    let unknown = app
        .signed("/api/v1/no-such-route", &command("U0ALICE", "theft x"))
        .await;
    assert_eq!(unknown.0, StatusCode::NOT_FOUND);
    assert_eq!(unknown.1["error"]["code"], "not_found");
    assert_eq!(
        app.signed("/slack/no-such-route", &command("U0ALICE", "theft x"))
            .await,
        unknown
    );
    for path in ["/slack/commands", "/slack/interactions"] {
        let answer = app.signed(path, &command("U0ALICE", "theft x")).await;
        assert_eq!(answer, unknown, "{path}");
        assert_eq!(app.get(path).await, unknown, "GET {path}");
    }
    assert!(app.reports().await.is_empty());

    // Configured, another method is 405.
    let app = self::app(true).await;
    for path in ["/slack/commands", "/slack/interactions"] {
        let (status, answer) = app.get(path).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{path}");
        assert_eq!(answer["error"]["code"], "method_not_allowed", "{path}");
    }
}

#[tokio::test]
async fn a_disabled_user_is_refused() {
    let app = app(true).await;
    let user = app
        .store
        .create_user(
            &Viewer::system(),
            incidents::NewUser {
                name: "slack-T0WATCH-U0GONE".into(),
                role: Role::Reporter,
            },
        )
        .await
        .unwrap();
    app.store
        .set_user_disabled(&Viewer::system(), user.id, true)
        .await
        .unwrap();
    let (status, answer) = app
        .signed("/slack/commands", &command("U0GONE", "theft my bike"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        answer,
        json!({
            "response_type": "ephemeral",
            "text": "Your watchpost account is disabled, so nothing was filed. Ask the Security Team if you need it.",
        })
    );
    assert!(app.reports().await.is_empty());
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let app = app(true).await;
    let body = command("U0ALICE", &format!("theft {}", "x".repeat(70 * 1024)));
    let (status, answer) = app.signed("/slack/commands", &body).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(answer["error"]["code"], "payload_too_large");
    assert!(app.reports().await.is_empty());
}

/// A stand-in for an interaction's `response_url`: keeps every request
/// that has Slack's documented shape, else records what was wrong.
#[derive(Clone, Default)]
struct ResponseUrl {
    seen: Arc<Mutex<Vec<Result<Value, String>>>>,
}

impl ResponseUrl {
    async fn start(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/actions/T0WATCH/123/abc",
            listener.local_addr().unwrap()
        );
        let seen = self.seen.clone();
        let app = Router::new().fallback(
            move |method: Method, uri: axum::http::Uri, headers: HeaderMap, body: Bytes| {
                let seen = seen.clone();
                async move {
                    let checked = (|| {
                        if method != Method::POST || uri.path() != "/actions/T0WATCH/123/abc" {
                            return Err(format!("{method} {}", uri.path()));
                        }
                        let ct = headers.get("content-type").and_then(|v| v.to_str().ok());
                        if ct != Some("application/json; charset=utf-8") {
                            return Err(format!("content-type {ct:?}"));
                        }
                        serde_json::from_slice::<Value>(&body).map_err(|e| e.to_string())
                    })();
                    seen.lock().unwrap().push(checked);
                    StatusCode::OK
                }
            },
        );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        url
    }

    /// Waits (up to 10 s) until `n` requests arrived; answers them.
    async fn wait_for(&self, n: usize) -> Vec<Result<Value, String>> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let seen = self.seen.lock().unwrap().clone();
            if seen.len() >= n {
                return seen;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "response_url got {} requests, expected {n}",
                seen.len()
            );
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

fn interaction(user: &str, action_id: &str, value: &str, response_url: &str) -> String {
    let payload = json!({
        "type": "block_actions",
        "user": {"id": user, "username": "someone", "team_id": "T0WATCH"},
        "api_app_id": "A0APP",
        "token": "deprecated-verification-token",
        "container": {"type": "message", "message_ts": "1700000000.000200", "is_ephemeral": true},
        "trigger_id": "1.2.3",
        "team": {"id": "T0WATCH", "domain": "example"},
        "response_url": response_url,
        "actions": [{
            "type": "button",
            "action_id": action_id,
            "block_id": "watchpost_category",
            "text": {"type": "plain_text", "text": "Theft"},
            "value": value,
            "action_ts": "1700000001.000300",
        }],
    });
    form(&[("payload", &payload.to_string())])
}

#[tokio::test]
async fn without_a_category_buttons_ask_and_the_choice_files_the_report() {
    let app = app(true).await;
    let responses = ResponseUrl::default();
    let response_url = responses.start().await;

    // A first word that is no category is part of the text.
    let (status, answer) = app
        .signed(
            "/slack/commands",
            &command("U0CAROL", "sensitive thefts keep happening"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        app.reports().await.is_empty(),
        "nothing filed before the choice"
    );
    assert_eq!(answer["response_type"], "ephemeral");
    let actions = &answer["blocks"][1];
    assert_eq!(actions["type"], "actions");
    let buttons = actions["elements"].as_array().unwrap();
    let ids: Vec<&str> = buttons
        .iter()
        .map(|b| b["action_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "watchpost_category:security_incident",
            "watchpost_category:physical_injury",
            "watchpost_category:theft",
            "watchpost_category:property_damage",
            "watchpost_category:denial_of_service",
            "watchpost_category:threats",
            "watchpost_category:harassment",
            "watchpost_category:account_abuse",
            "watchpost_category:forgery",
            "watchpost_category:misrepresentation",
            "watchpost_category:other",
        ]
    );
    let draft = buttons[2]["value"].as_str().unwrap().to_owned();
    assert_eq!(buttons[2]["type"], "button");
    assert_eq!(
        buttons[2]["text"],
        json!({"type": "plain_text", "text": "Theft"})
    );
    assert!(
        buttons.iter().all(|b| b["value"] == draft.as_str()),
        "every button carries the draft"
    );
    assert!(
        !answer.to_string().contains("keep happening"),
        "the text stays on the server"
    );

    // Someone else pressing the button (a forwarded payload) files nothing.
    let (status, _) = app
        .signed(
            "/slack/interactions",
            &interaction(
                "U0MALLORY",
                "watchpost_category:theft",
                &draft,
                &response_url,
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // The author's choice files the report.
    let (status, _) = app
        .signed(
            "/slack/interactions",
            &interaction("U0CAROL", "watchpost_category:theft", &draft, &response_url),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let seen = responses.wait_for(2).await;
    let reports = app.reports().await;
    assert_eq!(reports.len(), 1);
    let report = &reports[0];
    assert_eq!(report.category, Category::Theft);
    assert!(report.sensitive);
    assert_eq!(report.description, "thefts keep happening");
    assert_eq!(report.channel, Channel::Slack);
    let user = app
        .store
        .get_user_by_name(&Viewer::system(), "slack-T0WATCH-U0CAROL")
        .await
        .unwrap();
    assert_eq!(report.reporter, Some(user.id));
    let expired = json!({
        "response_type": "ephemeral",
        "replace_original": true,
        "text": "This report form has expired or was already used. Run /incident again.",
    });
    assert_eq!(
        seen,
        [
            Ok(expired.clone()),
            Ok(json!({
                "response_type": "ephemeral",
                "replace_original": true,
                "text": format!(
                    "Thank you. Your theft report was filed. Its tracking number is {}. It is handled as sensitive: only the people who need to know see it, and it is not posted to any channel.",
                    report.id
                ),
            })),
        ]
    );

    // The draft is used up: pressing again files nothing more.
    let (status, _) = app
        .signed(
            "/slack/interactions",
            &interaction("U0CAROL", "watchpost_category:other", &draft, &response_url),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let seen = responses.wait_for(3).await;
    assert_eq!(seen[2], Ok(expired));
    assert_eq!(app.reports().await.len(), 1);
}

#[tokio::test]
async fn a_malformed_interaction_is_a_bad_request() {
    let app = app(true).await;
    for body in ["payload=not-json", "other=1", ""] {
        let (status, answer) = app.signed("/slack/interactions", body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body:?}");
        assert_eq!(answer["error"]["code"], "bad_request", "{body:?}");
    }
}

#[tokio::test]
async fn an_always_sensitive_category_is_acknowledged_as_sensitive() {
    let app = app(true).await;
    let (status, answer) = app
        .signed(
            "/slack/commands",
            &command("U0DAVE", "harassment comments in the canteen"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let reports = app.reports().await;
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].category, Category::Harassment);
    assert_eq!(
        answer,
        json!({
            "response_type": "ephemeral",
            "text": format!(
                "Thank you. Your harassment report was filed. Its tracking number is {}. It is handled as sensitive: only the people who need to know see it, and it is not posted to any channel.",
                reports[0].id
            ),
        })
    );
}

#[tokio::test]
async fn a_command_without_a_usable_slack_identity_files_nothing() {
    let app = app(true).await;
    let expected = json!({
        "response_type": "ephemeral",
        "text": "Your Slack account could not be identified, so nothing was filed.",
    });
    for text in ["theft bike gone", "bike gone"] {
        let (status, answer) = app
            .signed("/slack/commands", &command("U-1/../x", text))
            .await;
        assert_eq!(status, StatusCode::OK, "{text}");
        assert_eq!(answer, expected, "{text}");
    }
    assert!(app.reports().await.is_empty());
}
