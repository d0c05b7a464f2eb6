//! Delivery through real transports: the SMTP sink started by
//! `scripts/services start` (aiosmtpd; `WATCHPOST_TEST_SMTP_ADDR` and
//! `WATCHPOST_TEST_SMTP_MAILDIR`) and a webhook receiver on 127.0.0.1 that
//! verifies every signature. The outbox lives in a real SQLite store.

use std::path::PathBuf;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use watchpost_notify as notify;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use incidents::{Category, Channel, NewReport, NewUser, Role, Store, Viewer};
use notify::channel::{email, webhook};
use notify::signature::{
    DELIVERY_HEADER, SIGNATURE_HEADER, SignatureError, TIMESTAMP_HEADER, verify,
};
use notify::worker::Notifier;
use notify::{Notice, NotifyConfig};
use time::{Duration, OffsetDateTime};
use tokio::sync::mpsc;

const SECRET: &str = "test-webhook-secret";

fn smtp_env() -> (String, u16, PathBuf) {
    let addr = std::env::var("WATCHPOST_TEST_SMTP_ADDR").expect(
        "WATCHPOST_TEST_SMTP_ADDR is not set: run `eval \"$(scripts/services start)\"` to start the SMTP sink",
    );
    let maildir = std::env::var("WATCHPOST_TEST_SMTP_MAILDIR").expect(
        "WATCHPOST_TEST_SMTP_MAILDIR is not set: run `eval \"$(scripts/services start)\"` to start the SMTP sink",
    );
    let (host, port) = addr
        .rsplit_once(':')
        .expect("WATCHPOST_TEST_SMTP_ADDR is host:port");
    (
        host.to_owned(),
        port.parse().expect("SMTP port"),
        PathBuf::from(maildir),
    )
}

/// A webhook receiver: answers 503 to the first `fail_first` requests, then
/// 200; every accepted request had a valid signature over its delivery id,
/// timestamp and body. Every attempt is kept, in order.
struct Receiver {
    url: String,
    accepted: Arc<Mutex<Vec<Notice>>>,
    attempts: mpsc::UnboundedReceiver<()>,
    seen: Arc<Mutex<Vec<Attempt>>>,
    fail_first: Arc<AtomicUsize>,
}

/// One request the receiver got, as signed.
#[derive(Debug, Clone)]
struct Attempt {
    delivery_id: String,
    timestamp: i64,
    signature: String,
    body: Bytes,
}

#[derive(Clone)]
struct ReceiverState {
    accepted: Arc<Mutex<Vec<Notice>>>,
    attempts: mpsc::UnboundedSender<()>,
    seen: Arc<Mutex<Vec<Attempt>>>,
    fail_first: Arc<AtomicUsize>,
}

async fn hook(State(state): State<ReceiverState>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let attempt = Attempt {
        delivery_id: header(DELIVERY_HEADER),
        timestamp: header(TIMESTAMP_HEADER).parse().unwrap_or_default(),
        signature: header(SIGNATURE_HEADER),
        body: body.clone(),
    };
    state.seen.lock().unwrap().push(attempt.clone());
    let _ = state.attempts.send(());
    let now = OffsetDateTime::now_utc().unix_timestamp();
    if verify(
        SECRET.as_bytes(),
        &attempt.delivery_id,
        attempt.timestamp,
        &body,
        &attempt.signature,
        now,
        300,
    )
    .is_err()
    {
        return StatusCode::UNAUTHORIZED;
    }
    if state
        .fail_first
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    state
        .accepted
        .lock()
        .unwrap()
        .push(serde_json::from_slice(&body).unwrap());
    StatusCode::OK
}

async fn receiver(fail_first: usize) -> Receiver {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::unbounded_channel();
    let state = ReceiverState {
        accepted: Arc::default(),
        attempts: tx,
        seen: Arc::default(),
        fail_first: Arc::new(AtomicUsize::new(fail_first)),
    };
    let receiver = Receiver {
        url,
        accepted: state.accepted.clone(),
        attempts: rx,
        seen: state.seen.clone(),
        fail_first: state.fail_first.clone(),
    };
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(hook))
        .with_state(state);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    receiver
}

fn config(webhook_url: &str, tag: &str) -> NotifyConfig {
    let (host, port, _) = smtp_env();
    NotifyConfig {
        email: Some(email::Config {
            from: "watchpost@example.test".to_owned(),
            smtp: email::SmtpConfig {
                host,
                port,
                tls: email::SmtpTls::None,
                username: None,
                password: None,
            },
            to: email::Addresses {
                security_team: Some(format!("security+{tag}@example.test")),
                finance_ops: Some(format!("finance+{tag}@example.test")),
                shared_mailbox: Some(format!("shared+{tag}@example.test")),
            },
        }),
        webhook: Some(webhook::Config {
            url: webhook_url.to_owned(),
            secret: notify::secret::Secret::new(SECRET),
        }),
        slack: None,
        poll_interval_ms: 20,
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

/// Files a report as a fresh reporter; returns the incident id.
async fn file(store: &dyn Store, category: Category, description: &str, sensitive: bool) -> String {
    let name = format!("r{}", rand_suffix());
    let user = store
        .create_user(
            &Viewer::system(),
            NewUser {
                name,
                role: Role::Reporter,
            },
        )
        .await
        .unwrap();
    let viewer = Viewer::new(user.id, Role::Reporter);
    let report = store
        .file_report(
            &viewer,
            NewReport {
                channel: Channel::Api,
                category,
                description: description.to_owned(),
                occurred_at: None,
                location: None,
                sensitive,
                anonymous: false,
                attachments: Vec::new(),
            },
        )
        .await
        .unwrap();
    report.incident_id.to_string()
}

fn rand_suffix() -> String {
    uuid_like()
}

fn uuid_like() -> String {
    format!(
        "{:x}",
        OffsetDateTime::now_utc().unix_timestamp_nanos() ^ (std::process::id() as i128) << 64
    )
}

/// Mails in the sink's maildir that mention `needle`, with their `To:`.
fn mails_about(maildir: &std::path::Path, needle: &str) -> Vec<String> {
    let mut out = Vec::new();
    for sub in ["new", "cur"] {
        let Ok(entries) = std::fs::read_dir(maildir.join(sub)) else {
            continue;
        };
        for entry in entries.flatten() {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            if text.contains(needle) {
                let to = text
                    .lines()
                    .find_map(|l| l.strip_prefix("To: "))
                    .unwrap_or_default()
                    .trim()
                    .to_owned();
                out.push(to);
            }
        }
    }
    out.sort();
    out
}

/// Runs passes until nothing is claimed.
async fn drain(notifier: &Notifier, now: OffsetDateTime) -> (usize, usize) {
    let (mut delivered, mut failed) = (0, 0);
    for _ in 0..10 {
        let pass = notifier.run_once(now).await.unwrap();
        delivered += pass.delivered;
        failed += pass.failed;
        if pass.claimed == 0 {
            break;
        }
    }
    (delivered, failed)
}

#[tokio::test]
async fn new_incident_is_emailed_and_webhooked_and_a_failed_webhook_is_retried() {
    let (_, _, maildir) = smtp_env();
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let hook = receiver(1).await;
    let tag = uuid_like();
    let notifier = Notifier::new(store.clone(), config(&hook.url, &tag)).unwrap();

    let incident = file(
        store.as_ref(),
        Category::Theft,
        &format!("laptop stolen {tag}"),
        false,
    )
    .await;
    let now = OffsetDateTime::now_utc() + Duration::seconds(1);
    let (delivered, failed) = drain(&notifier, now).await;
    let outbox = store.list_outbox(&Viewer::system(), None).await.unwrap();
    assert_eq!(
        (delivered, failed),
        (2, 1),
        "two emails out, the webhook failed once: {:?}",
        outbox
            .iter()
            .map(|m| (m.status, &m.last_error))
            .collect::<Vec<_>>()
    );
    assert!(hook.accepted.lock().unwrap().is_empty());
    let to = mails_about(&maildir, &incident);
    assert_eq!(
        to,
        [
            format!("security+{tag}@example.test"),
            format!("shared+{tag}@example.test")
        ]
    );

    // Not due yet: nothing is retried before the backoff has passed.
    assert_eq!(notifier.run_once(now).await.unwrap().claimed, 0);
    // After the backoff, the webhook is retried (and works); emails are not re-sent.
    let (delivered, failed) = drain(&notifier, now + Duration::hours(2)).await;
    assert_eq!((delivered, failed), (1, 0));
    let accepted = hook.accepted.lock().unwrap().clone();
    assert_eq!(accepted.len(), 1);
    assert_eq!(accepted[0].incident_id, incident);
    assert!(!accepted[0].sensitive);
    assert_eq!(mails_about(&maildir, &incident).len(), 2);
    assert_eq!(hook.fail_first.load(Ordering::SeqCst), 0);

    // Both attempts carried one delivery id (the retry is recognisably the
    // same delivery), and it is the webhook message's id in the outbox.
    let seen = hook.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0].delivery_id, seen[1].delivery_id);
    let webhook_message = store
        .list_outbox(&Viewer::system(), None)
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.payload.destination() == Some("webhook"))
        .expect("a webhook message in the outbox");
    assert_eq!(seen[1].delivery_id, webhook_message.id.to_string());
    // The signature covers the id: the accepted request verifies with its
    // own id and fails with any other.
    let last = &seen[1];
    let check = |id: &str| {
        verify(
            SECRET.as_bytes(),
            id,
            last.timestamp,
            &last.body,
            &last.signature,
            last.timestamp,
            300,
        )
    };
    assert_eq!(check(&last.delivery_id), Ok(()));
    let mut tampered = last.delivery_id.clone().into_bytes();
    let end = tampered.len() - 1;
    tampered[end] = if tampered[end] == b'0' { b'1' } else { b'0' };
    let tampered = String::from_utf8(tampered).unwrap();
    assert_ne!(tampered, last.delivery_id);
    assert_eq!(check(&tampered), Err(SignatureError::Mismatch));
}

#[tokio::test]
async fn sensitive_incident_never_reaches_the_webhook_or_shared_mailbox() {
    let (_, _, maildir) = smtp_env();
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let hook = receiver(0).await;
    let tag = uuid_like();
    let notifier = Notifier::new(store.clone(), config(&hook.url, &tag)).unwrap();

    let incident = file(
        store.as_ref(),
        Category::Harassment,
        &format!("harassment {tag}"),
        false,
    )
    .await;
    let other = file(
        store.as_ref(),
        Category::Theft,
        &format!("marked sensitive {tag}"),
        true,
    )
    .await;
    let now = OffsetDateTime::now_utc() + Duration::seconds(1);
    let (delivered, failed) = drain(&notifier, now).await;
    assert_eq!(failed, 0);
    assert_eq!(
        delivered, 4,
        "security team and finance-ops, for each incident"
    );
    assert!(
        hook.accepted.lock().unwrap().is_empty(),
        "nothing sensitive on the webhook"
    );
    for id in [&incident, &other] {
        assert_eq!(
            mails_about(&maildir, id),
            [
                format!("finance+{tag}@example.test"),
                format!("security+{tag}@example.test")
            ]
        );
    }
}

#[tokio::test]
async fn pending_messages_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut hook = receiver(usize::MAX).await;
    let tag = uuid_like();
    let incident;
    {
        let store = open(dir.path()).await;
        incident = file(
            store.as_ref(),
            Category::Forgery,
            &format!("forged invoice {tag}"),
            false,
        )
        .await;
        // A running worker tries, fails, and is stopped with the message pending.
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let worker =
            notify::worker::spawn(store.clone(), config(&hook.url, &tag), stop_rx).unwrap();
        hook.attempts
            .recv()
            .await
            .expect("the worker tried the webhook");
        stop_tx.send(true).unwrap();
        worker.await.unwrap();
        let pending = store
            .list_outbox(&Viewer::system(), Some(incidents::OutboxStatus::Pending))
            .await
            .unwrap();
        assert!(
            pending
                .iter()
                .any(|m| m.payload.destination() == Some("webhook")),
            "the webhook message is still pending: {pending:?}"
        );
        store.close().await;
    }
    // A new worker on the same database delivers it.
    hook.fail_first.store(0, Ordering::SeqCst);
    let store = open(dir.path()).await;
    let notifier = Notifier::new(store.clone(), config(&hook.url, &tag)).unwrap();
    let (delivered, _) = drain(&notifier, OffsetDateTime::now_utc() + Duration::hours(2)).await;
    assert!(delivered >= 1);
    let accepted = hook.accepted.lock().unwrap().clone();
    assert_eq!(accepted.len(), 1);
    assert_eq!(accepted[0].incident_id, incident);
    assert!(
        store
            .list_outbox(&Viewer::system(), Some(incidents::OutboxStatus::Pending))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_changed_incident_is_notified_as_updated() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let hook = receiver(0).await;
    let tag = uuid_like();
    let notifier = Notifier::new(store.clone(), config(&hook.url, &tag)).unwrap();
    let incident = file(
        store.as_ref(),
        Category::DenialOfService,
        &format!("site down {tag}"),
        false,
    )
    .await;
    drain(&notifier, OffsetDateTime::now_utc() + Duration::seconds(1)).await;
    store
        .transition_incident(
            &Viewer::system(),
            incident.parse().unwrap(),
            incidents::Status::Investigating,
            None,
        )
        .await
        .unwrap();
    drain(&notifier, OffsetDateTime::now_utc() + Duration::seconds(1)).await;
    let accepted = hook.accepted.lock().unwrap().clone();
    let kinds: Vec<_> = accepted
        .iter()
        .map(|n| (n.kind, n.status.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            (notify::NoticeKind::Created, "triage"),
            (notify::NoticeKind::Updated, "investigating")
        ]
    );
    assert!(
        accepted[1].change.contains("investigating"),
        "{:?}",
        accepted[1].change
    );
}

#[tokio::test]
async fn a_message_queued_before_the_incident_became_sensitive_is_withheld_from_the_webhook() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let hook = receiver(0).await;
    let tag = uuid_like();
    let notifier = Notifier::new(store.clone(), config(&hook.url, &tag)).unwrap();
    let incident = file(
        store.as_ref(),
        Category::Threats,
        &format!("threat {tag}"),
        false,
    )
    .await;
    // One pass fans the message out per destination, then the incident is
    // marked sensitive before the webhook message is delivered.
    let pass = notifier
        .run_once(OffsetDateTime::now_utc() + Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(pass.fanned_out, 1);
    store
        .update_incident(
            &Viewer::system(),
            incident.parse().unwrap(),
            incidents::IncidentPatch {
                sensitive: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    drain(&notifier, OffsetDateTime::now_utc() + Duration::seconds(1)).await;
    assert!(
        hook.accepted.lock().unwrap().is_empty(),
        "nothing reached the webhook"
    );
}
