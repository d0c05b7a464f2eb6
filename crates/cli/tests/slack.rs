//! Slack end to end through the real `watchpost serve`: its `[slack]` table
//! points `api_url` at a local stand-in of Slack's Web API, which checks
//! every `chat.postMessage` as Slack documents it. A signed `/incident`
//! files a report; non-sensitive incidents are posted to the channel with a
//! link, and their status changes go in the thread; sensitive reports and
//! incidents are never posted.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use support::serve::{Server, add_user, admin_token, poll, request};

mod support;

const SIGNING_SECRET: &str = "cli-test-signing-secret";
const TOKEN: &str = "xoxb-cli-test";

/// Every request the stand-in got: its JSON body when it had Slack's
/// format, else what was wrong.
type Seen = Arc<Mutex<Vec<Result<Value, String>>>>;

async fn post_message(
    State(seen): State<Seen>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, axum::Json<Value>) {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let checked = (|| {
        if method != Method::POST || uri.path() != "/api/chat.postMessage" {
            return Err(format!("{method} {}", uri.path()));
        }
        if header("authorization") != Some(&format!("Bearer {TOKEN}")) {
            return Err("authorization".to_owned());
        }
        if header("content-type") != Some("application/json; charset=utf-8") {
            return Err(format!("content-type {:?}", header("content-type")));
        }
        let value: Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
        let keys: Vec<&str> = value
            .as_object()
            .ok_or("not an object")?
            .keys()
            .map(String::as_str)
            .collect();
        if keys
            .iter()
            .any(|k| !["channel", "text", "blocks", "thread_ts"].contains(k))
        {
            return Err(format!("fields {keys:?}"));
        }
        Ok(value)
    })();
    let mut all = seen.lock().unwrap();
    all.push(checked);
    // Each post gets its own `ts`: 1700000000.000101, ...102, ...
    let ts = format!("1700000000.{:06}", 100 + all.len());
    (
        StatusCode::OK,
        axum::Json(json!({"ok": true, "channel": "C0INCIDENTS", "ts": ts})),
    )
}

/// Starts the stand-in on its own runtime; answers its base URL.
fn stand_in(rt: &tokio::runtime::Runtime, seen: Seen) -> String {
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let url = format!("http://{}/api", listener.local_addr().unwrap());
    let app = axum::Router::new().fallback(post_message).with_state(seen);
    rt.spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

fn sign(timestamp: &str, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SIGNING_SECRET.as_bytes()).unwrap();
    mac.update(format!("v0:{timestamp}:{body}").as_bytes());
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

/// A signed `/incident text` from Slack user `user`; answers the status
/// and body.
fn slash(server: &Server, user: &str, text: &str, age_secs: i64) -> (u16, Value) {
    let body = format!(
        "team_id=T0WATCH&team_domain=example&channel_id=C0GENERAL&user_id={user}&user_name=someone&command=%2Fincident&text={}&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2F1&trigger_id=1.2.3",
        text.replace(' ', "+")
    );
    let ts = (time::OffsetDateTime::now_utc().unix_timestamp() - age_secs).to_string();
    let signature = sign(&ts, &body);
    let answer = request(
        server.addr,
        "POST",
        "/slack/commands",
        "",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("X-Slack-Request-Timestamp", &ts),
            ("X-Slack-Signature", &signature),
        ],
        body.as_bytes(),
    );
    (answer.status, answer.json())
}

fn api(server: &Server, method: &str, path: &str, token: &str, body: Value) -> Value {
    let answer = request(
        server.addr,
        method,
        path,
        token,
        &[("Content-Type", "application/json")],
        body.to_string().as_bytes(),
    );
    assert!(
        (200..300).contains(&answer.status),
        "{method} {path}: {} {}",
        answer.status,
        String::from_utf8_lossy(&answer.body)
    );
    answer.json()
}

/// Waits until the stand-in got `n` posts; answers them (all checked).
fn posts(seen: &Seen, n: usize, server: &Server) -> Vec<Value> {
    let all = poll(
        &format!("{n} posts to Slack"),
        || {
            let all = seen.lock().unwrap().clone();
            (all.len() >= n).then_some(all)
        },
        || format!("{:?}\n{}", seen.lock().unwrap(), server.log_text()),
    );
    all.into_iter()
        .map(|p| p.unwrap_or_else(|e| panic!("a post not in Slack's format: {e}")))
        .collect()
}

#[test]
fn slack_reports_and_channel_posts_end_to_end() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let seen: Seen = Arc::default();
    let api_url = stand_in(&rt, seen.clone());
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = format!(
        "public_url = \"https://wp.example\"\n\n[notify]\npoll_interval_ms = 50\n\n[slack]\nsigning_secret = \"{SIGNING_SECRET}\"\nbot_token = \"{TOKEN}\"\nchannel = \"#incidents\"\napi_url = \"{api_url}\"\n"
    );
    let server = Server::start(dir.path(), &data, &config, &[]);
    let admin = admin_token(&data);
    let responder = add_user(&data, "rita", "responder");

    // A stale or badly signed command is refused.
    let (status, _) = slash(&server, "U0ALICE", "theft old request", 360);
    assert_eq!(status, 401);

    // A signed /incident files a report, answered privately.
    let (status, answer) = slash(&server, "U0ALICE", "theft laptop gone", 0);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["response_type"], "ephemeral");
    let text = answer["text"].as_str().unwrap();
    let report_id = text
        .strip_prefix("Thank you. Your theft report was filed. Its tracking number is ")
        .and_then(|rest| rest.strip_suffix('.'))
        .unwrap_or_else(|| panic!("{text}"));
    let report = api(
        &server,
        "GET",
        &format!("/api/v1/reports/{report_id}"),
        &admin,
        Value::Null,
    );
    assert_eq!(report["category"], "theft");
    assert_eq!(report["channel"], "slack");
    assert_eq!(report["description"], "laptop gone");
    let slack_incident = report["incident_id"].as_str().unwrap().to_owned();
    let first = posts(&seen, 1, &server);
    assert_eq!(
        first,
        [json!({
            "channel": "#incidents",
            "text": format!(
                "New incident: <https://wp.example/incidents/{slack_incident}|theft report: laptop gone>\ntheft · SEV3 · triage"
            ),
        })]
    );

    // Sensitive ones never post: a sensitive report from Slack, a sensitive
    // report through the API and its status change.
    let (status, answer) = slash(&server, "U0BOB", "sensitive theft payroll skimming", 0);
    assert_eq!(status, 200);
    assert!(
        answer["text"]
            .as_str()
            .unwrap()
            .ends_with("not posted to any channel."),
        "{answer}"
    );
    let hidden = api(
        &server,
        "POST",
        "/api/v1/reports",
        &responder,
        json!({"category": "forgery", "description": "fake invoice", "sensitive": true}),
    );
    let hidden_incident = hidden["incident_id"].as_str().unwrap().to_owned();
    api(
        &server,
        "POST",
        &format!("/api/v1/incidents/{hidden_incident}/status"),
        &responder,
        json!({"status": "investigating"}),
    );

    // A responder opens a non-sensitive incident through the API: one post
    // with a link; its status change goes in its thread.
    let opened = api(
        &server,
        "POST",
        "/api/v1/reports",
        &responder,
        json!({"category": "denial_of_service", "description": "VPN <down> & slow"}),
    );
    let incident = opened["incident_id"].as_str().unwrap().to_owned();
    let all = posts(&seen, 2, &server);
    assert_eq!(
        all[1],
        json!({
            "channel": "#incidents",
            "text": format!(
                "New incident: <https://wp.example/incidents/{incident}|denial_of_service report: VPN &lt;down&gt; &amp; slow>\ndenial_of_service · SEV3 · triage"
            ),
        })
    );
    api(
        &server,
        "POST",
        &format!("/api/v1/incidents/{incident}/status"),
        &responder,
        json!({"status": "investigating"}),
    );
    let all = posts(&seen, 3, &server);
    assert_eq!(
        all[2],
        json!({
            "channel": "C0INCIDENTS",
            "thread_ts": "1700000000.000102",
            "text": format!(
                "<https://wp.example/incidents/{incident}|denial_of_service report: VPN &lt;down&gt; &amp; slow>: triage → investigating"
            ),
        })
    );
    // The sensitive messages were queued before these and settled first:
    // nothing about them was posted.
    assert_eq!(seen.lock().unwrap().len(), 3);
    let text = format!("{:?}", seen.lock().unwrap());
    for secret in [
        "payroll",
        "fake invoice",
        "forgery",
        hidden_incident.as_str(),
    ] {
        assert!(!text.contains(secret), "{secret} was posted: {text}");
    }
    let log = server.log_text();
    assert!(log.contains("slack request refused"), "{log}");
    assert!(!log.contains(SIGNING_SECRET) && !log.contains(TOKEN));
}
