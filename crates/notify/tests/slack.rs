//! Delivery to Slack through a local stand-in of Slack's Web API
//! (`chat.postMessage`) and of an incoming webhook. The stand-in checks the
//! request format Slack documents (method, path, bearer token, JSON content
//! type, body fields) and answers like Slack does. The outbox lives in a
//! real SQLite store.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use watchpost_notify as notify;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use incidents::{
    Category, NewIncident, NewUser, OutboxStatus, Role, Severity, Status, Store, Viewer,
};
use notify::NotifyConfig;
use notify::channel::slack;
use notify::secret::Secret;
use notify::worker::Notifier;
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

const TOKEN: &str = "xoxb-test-token";

/// What the stand-in answers to one request.
#[derive(Clone)]
enum Reply {
    /// 200 with this JSON body.
    Json(Value),
    /// 429 with `Retry-After: <seconds>`.
    RateLimited(u64),
}

/// One request the stand-in got: the JSON body when it was in Slack's
/// format, else what was wrong with it.
type Seen = Result<Value, String>;

#[derive(Clone)]
struct StandIn {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    replies: Arc<Mutex<VecDeque<Reply>>>,
}

#[derive(Clone)]
struct StandInState {
    seen: Arc<Mutex<Vec<Seen>>>,
    replies: Arc<Mutex<VecDeque<Reply>>>,
    webhook: bool,
}

/// Checks a request against Slack's documented format for
/// `chat.postMessage` (or an incoming webhook).
fn check(
    webhook: bool,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Value, String> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if method != Method::POST {
        return Err(format!("method {method}"));
    }
    let path = if webhook {
        "/services/T0/B0/secretpart"
    } else {
        "/api/chat.postMessage"
    };
    if uri.path() != path {
        return Err(format!("path {}", uri.path()));
    }
    if header("content-type") != Some("application/json; charset=utf-8") {
        return Err(format!("content-type {:?}", header("content-type")));
    }
    let expected_auth = format!("Bearer {TOKEN}");
    match (webhook, header("authorization")) {
        (false, Some(auth)) if auth == expected_auth => {}
        (true, None) => {}
        (_, other) => return Err(format!("authorization {other:?}")),
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| format!("body: {e}"))?;
    let object = value.as_object().ok_or("body is not an object")?;
    let allowed: &[&str] = if webhook {
        &["text"]
    } else {
        &["channel", "text", "blocks", "thread_ts"]
    };
    for key in object.keys() {
        if !allowed.contains(&key.as_str()) {
            return Err(format!("unexpected field {key}"));
        }
    }
    if !object.get("text").is_some_and(Value::is_string) {
        return Err("no text".into());
    }
    if !webhook && !object.get("channel").is_some_and(Value::is_string) {
        return Err("no channel".into());
    }
    Ok(value)
}

async fn answer(
    State(state): State<StandInState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let checked = check(state.webhook, &method, &uri, &headers, &body);
    let ok = checked.is_ok();
    state.seen.lock().unwrap().push(checked);
    if !ok {
        return (StatusCode::BAD_REQUEST, "invalid request").into_response();
    }
    let reply = state.replies.lock().unwrap().pop_front();
    match reply {
        Some(Reply::RateLimited(seconds)) => (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", seconds.to_string())],
        )
            .into_response(),
        Some(Reply::Json(body)) => axum::Json(body).into_response(),
        None if state.webhook => (StatusCode::OK, "ok").into_response(),
        None => axum::Json(json!({
            "ok": true,
            "channel": "C0INCIDENTS",
            "ts": "1700000000.000100",
        }))
        .into_response(),
    }
}

async fn stand_in(webhook: bool, replies: Vec<Reply>) -> StandIn {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let state = StandInState {
        seen: Arc::default(),
        replies: Arc::new(Mutex::new(replies.into())),
        webhook,
    };
    let standin = StandIn {
        url: if webhook {
            format!("{base}/services/T0/B0/secretpart")
        } else {
            format!("{base}/api")
        },
        seen: state.seen.clone(),
        replies: state.replies.clone(),
    };
    let app = axum::Router::new().fallback(answer).with_state(state);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    standin
}

fn web_api(api_url: &str) -> NotifyConfig {
    NotifyConfig {
        slack: Some(slack::Config {
            channel: "#incidents".into(),
            posting: slack::Posting::WebApi {
                api_url: api_url.to_owned(),
                bot_token: Secret::new(TOKEN),
            },
            public_url: Some("https://wp.example".into()),
        }),
        poll_interval_ms: 20,
        ..Default::default()
    }
}

async fn open(dir: &std::path::Path) -> Arc<dyn Store> {
    let url = format!("sqlite:{}", dir.join("watchpost.db").display());
    let options = incidents::StoreOptions {
        data_dir: Some(dir.to_owned()),
        ..Default::default()
    };
    incidents::open_with(&url, options).await.unwrap()
}

/// Opens an incident as a responder; answers its id.
async fn open_incident(store: &dyn Store, title: &str, sensitive: bool) -> incidents::IncidentId {
    let responder = store
        .create_user(
            &Viewer::system(),
            NewUser {
                name: format!("responder-{}", title.len()),
                role: Role::Responder,
            },
        )
        .await
        .unwrap();
    let viewer = Viewer::new(responder.id, Role::Responder);
    store
        .create_incident(
            &viewer,
            NewIncident {
                title: title.to_owned(),
                description: "seen on the dashboard".into(),
                category: Category::DenialOfService,
                severity: Severity::Sev2,
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

/// Runs passes at `now` until one claims nothing; answers (delivered, failed).
async fn drain(notifier: &Notifier, now: OffsetDateTime) -> (usize, usize) {
    let (mut delivered, mut failed) = (0, 0);
    for _ in 0..10 {
        let pass = notifier.run_once(now).await.unwrap();
        delivered += pass.delivered;
        failed += pass.failed;
        if pass.claimed == 0 {
            return (delivered, failed);
        }
    }
    panic!("the outbox did not drain in 10 passes");
}

fn seen(standin: &StandIn) -> Vec<Seen> {
    standin.seen.lock().unwrap().clone()
}

#[tokio::test]
async fn an_opened_incident_starts_a_thread_and_its_changes_reply_in_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let api = stand_in(false, Vec::new()).await;
    let notifier = Notifier::new(store.clone(), web_api(&api.url)).unwrap();

    let id = open_incident(store.as_ref(), "site <down> & slow", false).await;
    let now = OffsetDateTime::now_utc() + Duration::seconds(1);
    assert_eq!(drain(&notifier, now).await, (1, 0));
    assert_eq!(
        seen(&api),
        [Ok(json!({
            "channel": "#incidents",
            "text": format!(
                "New incident: <https://wp.example/incidents/{id}|site &lt;down&gt; &amp; slow>\ndenial_of_service · SEV2 · triage"
            ),
        }))]
    );
    assert_eq!(
        store.slack_thread(&Viewer::system(), id).await.unwrap(),
        Some(incidents::SlackThread {
            channel: "C0INCIDENTS".into(),
            ts: "1700000000.000100".into(),
        })
    );

    store
        .transition_incident(&Viewer::system(), id, Status::Investigating, None)
        .await
        .unwrap();
    assert_eq!(drain(&notifier, now).await, (1, 0));
    let all = seen(&api);
    assert_eq!(all.len(), 2, "{all:?}");
    assert_eq!(
        all[1],
        Ok(json!({
            "channel": "C0INCIDENTS",
            "thread_ts": "1700000000.000100",
            "text": format!(
                "<https://wp.example/incidents/{id}|site &lt;down&gt; &amp; slow>: triage → investigating"
            ),
        }))
    );
}

#[tokio::test]
async fn a_refused_post_is_recorded_with_slacks_error_and_retried() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let api = stand_in(
        false,
        vec![Reply::Json(
            json!({"ok": false, "error": "channel_not_found"}),
        )],
    )
    .await;
    let notifier = Notifier::new(store.clone(), web_api(&api.url)).unwrap();
    let id = open_incident(store.as_ref(), "printer on fire", false).await;
    let now = OffsetDateTime::now_utc() + Duration::seconds(1);
    assert_eq!(drain(&notifier, now).await, (0, 1));
    let slack_message = |outbox: Vec<incidents::OutboxMessage>| {
        outbox
            .into_iter()
            .find(|m| m.payload.destination() == Some("slack"))
            .expect("a slack message in the outbox")
    };
    let failed = slack_message(store.list_outbox(&Viewer::system(), None).await.unwrap());
    assert_eq!(failed.status, OutboxStatus::Pending);
    assert_eq!(failed.attempts, 1);
    assert_eq!(
        failed.last_error.as_deref(),
        Some("slack refused the message: channel_not_found")
    );
    assert_eq!(
        store.slack_thread(&Viewer::system(), id).await.unwrap(),
        None
    );

    // Not due before the backoff; after it, the retry is accepted.
    assert_eq!(notifier.run_once(now).await.unwrap().claimed, 0);
    assert_eq!(drain(&notifier, now + Duration::hours(2)).await, (1, 0));
    let sent = slack_message(store.list_outbox(&Viewer::system(), None).await.unwrap());
    assert_eq!(sent.status, OutboxStatus::Sent);
    let all = seen(&api);
    assert_eq!(all.len(), 2);
    assert_eq!(all[0], all[1], "the retry posts the same message");
    assert_eq!(
        store
            .slack_thread(&Viewer::system(), id)
            .await
            .unwrap()
            .map(|t| t.ts),
        Some("1700000000.000100".to_owned())
    );
}

#[tokio::test]
async fn a_rate_limited_post_waits_for_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let api = stand_in(false, vec![Reply::RateLimited(600)]).await;
    let notifier = Notifier::new(store.clone(), web_api(&api.url)).unwrap();
    open_incident(store.as_ref(), "too many posts", false).await;
    let now = OffsetDateTime::now_utc() + Duration::seconds(1);
    assert_eq!(drain(&notifier, now).await, (0, 1));
    // The first backoff is 30 s; Slack asked for 600 s more.
    assert_eq!(
        notifier
            .run_once(now + Duration::seconds(600))
            .await
            .unwrap()
            .claimed,
        0
    );
    assert_eq!(drain(&notifier, now + Duration::seconds(631)).await, (1, 0));
    assert_eq!(seen(&api).len(), 2);
    assert!(api.replies.lock().unwrap().is_empty());
}

#[tokio::test]
async fn webhook_mode_posts_text_only() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let hook = stand_in(true, Vec::new()).await;
    let config = NotifyConfig {
        slack: Some(slack::Config {
            channel: "#incidents".into(),
            posting: slack::Posting::Webhook {
                url: Secret::new(hook.url.clone()),
            },
            public_url: None,
        }),
        poll_interval_ms: 20,
        ..Default::default()
    };
    let notifier = Notifier::new(store.clone(), config).unwrap();
    let id = open_incident(store.as_ref(), "mail server down", false).await;
    let now = OffsetDateTime::now_utc() + Duration::seconds(1);
    assert_eq!(drain(&notifier, now).await, (1, 0));
    store
        .transition_incident(&Viewer::system(), id, Status::Investigating, None)
        .await
        .unwrap();
    assert_eq!(drain(&notifier, now).await, (1, 0));
    assert_eq!(
        seen(&hook),
        [
            Ok(
                json!({"text": "New incident: mail server down\ndenial_of_service · SEV2 · triage"})
            ),
            Ok(json!({"text": "mail server down: triage → investigating"})),
        ]
    );
    // A webhook has no threads.
    assert_eq!(
        store.slack_thread(&Viewer::system(), id).await.unwrap(),
        None
    );
}

#[tokio::test]
async fn a_sensitive_incident_is_never_posted() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let api = stand_in(false, Vec::new()).await;
    let notifier = Notifier::new(store.clone(), web_api(&api.url)).unwrap();
    let id = open_incident(store.as_ref(), "payroll fraud", true).await;
    store
        .transition_incident(&Viewer::system(), id, Status::Investigating, None)
        .await
        .unwrap();
    let now = OffsetDateTime::now_utc() + Duration::seconds(1);
    assert_eq!(drain(&notifier, now).await, (0, 0));
    // The outbox is drained: every message about the incident is settled.
    let outbox: Vec<_> = store
        .list_outbox(&Viewer::system(), None)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.incident_id == Some(id))
        .collect();
    assert_eq!(outbox.len(), 2, "opened and changed: {outbox:?}");
    assert!(
        outbox.iter().all(|m| m.status == OutboxStatus::Sent),
        "{outbox:?}"
    );
    assert_eq!(seen(&api), []);
}
