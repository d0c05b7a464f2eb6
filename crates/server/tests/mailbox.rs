//! The security@ mailbox end to end, against a real Dovecot IMAP server
//! and a real SMTP sink (aiosmtpd writing a maildir), both started by
//! `scripts/services start`: a researcher's mail becomes a third-party
//! report; the acknowledgement arrives threaded with the tracking id; the
//! researcher's follow-up joins the same report; the same Message-ID again
//! files nothing; a responder's reply reaches the sink threaded; a new
//! poller on the same store imports nothing twice and takes what arrived
//! while none ran. Processed messages are flagged `\Seen`, never deleted.
//!
//! Each run uses its own IMAP folder and unique Message-IDs, so runs
//! against the same long-lived services do not see each other's mail.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::TryStreamExt;
use incidents::access::Viewer;
use incidents::{Channel, MailOutcome, NewUser, PageRequest, ReportFilter, ReportId, Role, Store};
use notify::channel::email::{SmtpConfig, SmtpTls};
use notify::secret::Secret;
use watchpost_server::mailbox::{MailboxConfig, MailboxTask, Mailer, Poller, Replies};

struct Env {
    imap_host: String,
    imap_port: u16,
    user: String,
    password: String,
    smtp_host: String,
    smtp_port: u16,
    maildir: PathBuf,
}

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: the mailbox tests need a real Dovecot and SMTP sink. \
             Run `eval \"$(scripts/services start)\"` first (it installs and starts them)."
        )
    })
}

fn env() -> Env {
    let split = |addr: String| {
        let (host, port) = addr.rsplit_once(':').expect("HOST:PORT");
        (host.to_owned(), port.parse::<u16>().expect("a port"))
    };
    let (imap_host, imap_port) = split(var("WATCHPOST_TEST_IMAP_ADDR"));
    let (smtp_host, smtp_port) = split(var("WATCHPOST_TEST_SMTP_ADDR"));
    Env {
        imap_host,
        imap_port,
        user: var("WATCHPOST_TEST_IMAP_USER"),
        password: var("WATCHPOST_TEST_IMAP_PASSWORD"),
        smtp_host,
        smtp_port,
        maildir: PathBuf::from(var("WATCHPOST_TEST_SMTP_MAILDIR")),
    }
}

type Imap = async_imap::Session<tokio::net::TcpStream>;

async fn imap(env: &Env) -> Imap {
    let tcp = tokio::net::TcpStream::connect((env.imap_host.as_str(), env.imap_port))
        .await
        .expect("connect to Dovecot");
    let mut client = async_imap::Client::new(tcp);
    client.read_response().await.unwrap().expect("greeting");
    client
        .login(&env.user, &env.password)
        .await
        .map_err(|(e, _)| e)
        .expect("login")
}

async fn append(session: &mut Imap, folder: &str, raw: &str) {
    session
        .append(folder, None, None, raw.replace('\n', "\r\n"))
        .await
        .expect("APPEND");
}

/// Waits until `check` gives a value, for at most 30 seconds.
async fn wait_for<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The sink's message (raw text) whose `In-Reply-To` is `<parent>`.
fn sent_in_reply_to(maildir: &Path, parent: &str) -> Option<String> {
    let needle = format!("In-Reply-To: <{parent}>");
    for entry in std::fs::read_dir(maildir.join("new")).ok()? {
        let text = std::fs::read_to_string(entry.ok()?.path()).unwrap_or_default();
        if text.lines().any(|l| l == needle) {
            return Some(text);
        }
    }
    None
}

/// The value of header `name` in a raw message, unfolded.
fn header(raw: &str, name: &str) -> Option<String> {
    let prefix = format!("{name}: ");
    let mut lines = raw.lines().take_while(|l| !l.is_empty()).peekable();
    while let Some(line) = lines.next() {
        if let Some(value) = line.strip_prefix(prefix.as_str()) {
            let mut value = value.to_owned();
            while let Some(next) = lines.next_if(|l| l.starts_with([' ', '\t'])) {
                value.push(' ');
                value.push_str(next.trim());
            }
            return Some(value);
        }
    }
    None
}

fn config(env: &Env, folder: &str) -> MailboxConfig {
    MailboxConfig {
        imap_host: env.imap_host.clone(),
        imap_port: env.imap_port,
        tls: false,
        username: env.user.clone(),
        password: Secret::new(env.password.clone()),
        folder: folder.to_owned(),
        address: "security@example.test".to_owned(),
        idle: true,
        poll_every: 1,
        max_message_bytes: 1024 * 1024,
        smtp: None,
    }
}

fn mailer(env: &Env) -> Arc<Mailer> {
    let smtp = SmtpConfig {
        host: env.smtp_host.clone(),
        port: env.smtp_port,
        tls: SmtpTls::None,
        username: None,
        password: None,
    };
    Arc::new(Mailer::new(&smtp, "security@example.test").expect("mailer"))
}

async fn reports(store: &dyn Store) -> Vec<incidents::Report> {
    store
        .list_reports(
            &Viewer::system(),
            &ReportFilter::default(),
            &PageRequest::default(),
        )
        .await
        .unwrap()
        .items
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_researchers_mail_becomes_a_report_and_a_thread() {
    let env = env();
    let dir = tempfile::tempdir().unwrap();
    let store = incidents::open(&format!("sqlite:{}", dir.path().join("wp.db").display()))
        .await
        .unwrap();
    let run = uuid_like();
    let folder = format!("t-{run}");
    let mut admin = imap(&env).await;
    admin.create(&folder).await.expect("CREATE folder");
    let researcher = format!("researcher-{run}@example.org");
    let first_id = format!("r1-{run}@researcher.example.org");

    let poller = Poller::new(config(&env, &folder), store.clone(), mailer(&env));
    let stats = poller.stats();
    let task = MailboxTask::start(poller);

    // 1. The researcher's mail files a third-party report.
    append(
        &mut admin,
        &folder,
        &format!(
            "From: Rita <{researcher}>\nTo: security@example.test\nSubject: XSS in search\nMessage-ID: <{first_id}>\nContent-Type: text/plain; charset=utf-8\n\nThe q parameter is reflected.\n"
        ),
    )
    .await;
    let report = wait_for("the report", || {
        let store = store.clone();
        async move { reports(store.as_ref()).await.into_iter().next() }
    })
    .await;
    assert_eq!(report.channel, Channel::ThirdParty);
    assert_eq!(
        report.description,
        format!("XSS in search\n\nFrom: {researcher}\n\nThe q parameter is reflected.")
    );

    // 2. The acknowledgement arrives, threaded, with the tracking id.
    let ack = wait_for("the acknowledgement", || {
        let found = sent_in_reply_to(&env.maildir, &first_id);
        async move { found }
    })
    .await;
    assert_eq!(
        header(&ack, "Subject"),
        Some(format!("Re: XSS in search [WP-{}]", report.id))
    );
    assert_eq!(header(&ack, "To"), Some(researcher.clone()));
    assert_eq!(header(&ack, "References"), Some(format!("<{first_id}>")));
    assert!(ack.contains(&format!("WP-{}", report.id)));
    assert_eq!(
        header(&ack, "Auto-Submitted").as_deref(),
        Some("auto-replied")
    );
    let ack_id = header(&ack, "Message-ID")
        .expect("the acknowledgement's Message-ID")
        .trim_matches(['<', '>'])
        .to_owned();

    // 3. The follow-up (a reply to the acknowledgement) joins the report.
    let follow_id = format!("r2-{run}@researcher.example.org");
    append(
        &mut admin,
        &folder,
        &format!(
            "From: {researcher}\nSubject: Re: XSS in search\nMessage-ID: <{follow_id}>\nIn-Reply-To: <{ack_id}>\nReferences: <{first_id}> <{ack_id}>\n\nAlso in /admin.\n"
        ),
    )
    .await;
    wait_for("the follow-up", || {
        let n = stats.follow_ups.load(Ordering::SeqCst);
        async move { (n == 1).then_some(()) }
    })
    .await;
    let detail = store
        .get_incident(&Viewer::system(), report.incident_id)
        .await
        .unwrap();
    let lines: Vec<&str> = detail
        .timeline
        .iter()
        .filter(|t| t.kind == "mail")
        .map(|t| t.message.as_str())
        .collect();
    assert_eq!(
        lines,
        [
            format!("follow-up mail from {researcher}: Re: XSS in search\n\nAlso in /admin.")
                .as_str()
        ]
    );
    assert_eq!(reports(store.as_ref()).await.len(), 1);

    // 4. The same Message-ID again: nothing new.
    append(
        &mut admin,
        &folder,
        &format!(
            "From: {researcher}\nSubject: XSS in search\nMessage-ID: <{first_id}>\n\nresent\n"
        ),
    )
    .await;
    wait_for("the duplicate", || {
        let n = stats.duplicates.load(Ordering::SeqCst);
        async move { (n == 1).then_some(()) }
    })
    .await;
    assert_eq!(reports(store.as_ref()).await.len(), 1);
    assert_eq!(stats.filed.load(Ordering::SeqCst), 1);

    // 5. A responder's reply over the API reaches the sink, threaded to the
    //    follow-up. Only responders may reply, only to mail reports.
    let api = Api::new(
        store.clone(),
        Replies::new(store.clone(), mailer(&env)),
        &run,
    )
    .await;
    let path = format!("/api/v1/reports/{}/reply", report.id);
    let body = r#"{"text": "Thanks, we are fixing it."}"#;
    assert_eq!(api.post(&api.reporter, &path, body).await.0, 403);
    assert_eq!(api.post(&api.admin, &path, body).await.0, 403);
    let web_report = store
        .file_report(
            &Viewer::system(),
            incidents::NewReport {
                // Like the public form's: third-party, but not by mail.
                channel: Channel::ThirdParty,
                category: incidents::Category::SecurityIncident,
                description: "sent through the form".into(),
                occurred_at: None,
                location: None,
                sensitive: false,
                anonymous: true,
                attachments: vec![],
            },
        )
        .await
        .unwrap();
    let not_mail = format!("/api/v1/reports/{}/reply", web_report.id);
    assert_eq!(api.post(&api.responder, &not_mail, body).await.0, 404);
    let unknown = format!("/api/v1/reports/{}/reply", ReportId::new());
    assert_eq!(api.post(&api.responder, &unknown, body).await.0, 404);
    assert_eq!(
        api.post(&api.responder, &path, r#"{"text": "  "}"#).await.0,
        422
    );
    let (status, answer) = api.post(&api.responder, &path, body).await;
    assert_eq!(status, 201, "{answer}");
    let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer["to"], researcher.as_str());
    assert_eq!(
        answer["subject"],
        format!("Re: XSS in search [WP-{}]", report.id).as_str()
    );
    let sam_id = api.responder_id;
    let reply = wait_for("the reply", || {
        let found = sent_in_reply_to(&env.maildir, &follow_id);
        async move { found }
    })
    .await;
    assert_eq!(
        header(&reply, "Subject"),
        Some(format!("Re: XSS in search [WP-{}]", report.id))
    );
    assert_eq!(
        header(&reply, "References"),
        Some(format!("<{first_id}> <{ack_id}> <{follow_id}>"))
    );
    assert!(reply.contains("Thanks, we are fixing it."));
    assert_eq!(header(&reply, "Auto-Submitted"), None);
    let detail = store
        .get_incident(&Viewer::system(), report.incident_id)
        .await
        .unwrap();
    let kept = detail
        .timeline
        .iter()
        .find(|t| t.kind == "mail" && t.actor == sam_id)
        .expect("the reply in the timeline");
    assert_eq!(
        kept.message,
        format!("reply mailed to {researcher}:\n\nThanks, we are fixing it.")
    );

    // 6. Stopped: every message is flagged \Seen and none was deleted.
    task.stop().await;
    admin.select(&folder).await.unwrap();
    let flags: Vec<Vec<String>> = admin
        .uid_fetch("1:*", "(UID FLAGS)")
        .await
        .unwrap()
        .try_collect::<Vec<_>>()
        .await
        .unwrap()
        .iter()
        .map(|f| f.flags().map(|fl| format!("{fl:?}")).collect())
        .collect();
    assert_eq!(flags.len(), 3, "{flags:?}");
    for f in &flags {
        assert!(f.iter().any(|fl| fl == "Seen"), "{flags:?}");
        assert!(f.iter().any(|fl| fl.contains("$Watchpost")), "{flags:?}");
        assert!(!f.iter().any(|fl| fl == "Deleted"), "{flags:?}");
    }

    // 7. Mail that arrives while no poller runs is taken once by the next;
    //    nothing before it is taken again.
    let third_id = format!("r3-{run}@other.example.org");
    append(
        &mut admin,
        &folder,
        &format!(
            "From: other-{run}@example.org\nSubject: Open redirect\nMessage-ID: <{third_id}>\n\n/login?next=//evil\n"
        ),
    )
    .await;
    let poller = Poller::new(config(&env, &folder), store.clone(), mailer(&env));
    let stats = poller.stats();
    let task = MailboxTask::start(poller);
    wait_for("the mail sent while down", || {
        let n = stats.filed.load(Ordering::SeqCst);
        async move { (n == 1).then_some(()) }
    })
    .await;
    task.stop().await;
    assert_eq!(stats.duplicates.load(Ordering::SeqCst), 0);
    assert_eq!(stats.follow_ups.load(Ordering::SeqCst), 0);
    // The first mail's, the form's, and this one.
    let all = reports(store.as_ref()).await;
    assert_eq!(all.len(), 3);
    assert!(
        all.iter()
            .any(|r| r.description.starts_with("Open redirect\n"))
    );
    // The same store remembers the message too.
    let again = store
        .take_inbound_mail(
            &Viewer::system(),
            incidents::InboundMail {
                message_id: third_id.clone(),
                from: String::new(),
                subject: String::new(),
                in_reply_to: vec![],
                references: vec![],
                text: "x".into(),
                attachments: vec![],
            },
        )
        .await
        .unwrap();
    assert!(matches!(again, MailOutcome::AlreadySeen { .. }));
    let _ = admin.logout().await;
    store.close().await;
}

/// The API router with the mailbox's replies, and tokens of a reporter, a
/// responder and an admin.
struct Api {
    router: axum::Router,
    reporter: String,
    responder: String,
    admin: String,
    responder_id: incidents::UserId,
}

impl Api {
    async fn new(store: Arc<dyn Store>, replies: Replies, run: &str) -> Api {
        let mut tokens = Vec::new();
        let mut responder_id = None;
        for (name, role) in [
            ("rita", Role::Reporter),
            ("sam", Role::Responder),
            ("ada", Role::Admin),
        ] {
            let user = store
                .create_user(
                    &Viewer::system(),
                    NewUser {
                        name: format!("{name}-{run}"),
                        role,
                    },
                )
                .await
                .unwrap();
            if role == Role::Responder {
                responder_id = Some(user.id);
            }
            let token = web::token::generate();
            store
                .create_token(
                    &Viewer::system(),
                    user.id,
                    "test",
                    incidents::TokenHash::of(&token),
                )
                .await
                .unwrap();
            tokens.push(token);
        }
        let shared: web::mail_reply::SharedReplies = Arc::new(replies);
        let router =
            web::router(web::AppState::new(store), 1024 * 1024).layer(axum::Extension(shared));
        let mut tokens = tokens.into_iter();
        Api {
            router,
            reporter: tokens.next().unwrap(),
            responder: tokens.next().unwrap(),
            admin: tokens.next().unwrap(),
            responder_id: responder_id.unwrap(),
        }
    }

    async fn post(&self, token: &str, path: &str, body: &str) -> (u16, String) {
        use tower::ServiceExt as _;
        let request = axum::http::Request::post(path)
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(axum::body::Body::from(body.to_owned()))
            .unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_and_automatic_mail_is_filed_as_text_and_not_acknowledged() {
    let env = env();
    let dir = tempfile::tempdir().unwrap();
    let store = incidents::open(&format!("sqlite:{}", dir.path().join("wp.db").display()))
        .await
        .unwrap();
    let run = uuid_like();
    let folder = format!("h-{run}");
    let mut admin = imap(&env).await;
    admin.create(&folder).await.expect("CREATE folder");
    let mut config = config(&env, &folder);
    config.max_message_bytes = 64 * 1024;
    let poller = Poller::new(config, store.clone(), mailer(&env));
    let stats = poller.stats();
    let task = MailboxTask::start(poller);

    // HTML with scripts, from a person: filed as text, acknowledged.
    append(
        &mut admin,
        &folder,
        &format!(
            "From: html-{run}@example.org\nSubject: HTML\nMessage-ID: <h1-{run}@example.org>\nContent-Type: text/html\n\n<p>Bug in <b>login</b></p><script>alert(document.cookie)</script>\n"
        ),
    )
    .await;
    // Over the size cap: headers and a note.
    let big = "A".repeat(100 * 1024);
    append(
        &mut admin,
        &folder,
        &format!(
            "From: big-{run}@example.org\nSubject: Huge\nMessage-ID: <h2-{run}@example.org>\n\n{big}\n"
        ),
    )
    .await;
    // An auto-reply, and mail from the mailbox itself: filed, never
    // acknowledged.
    append(
        &mut admin,
        &folder,
        &format!(
            "From: ooo-{run}@example.org\nSubject: Out of office\nMessage-ID: <h3-{run}@example.org>\nAuto-Submitted: auto-replied\n\naway\n"
        ),
    )
    .await;
    append(
        &mut admin,
        &folder,
        &format!(
            "From: security@example.test\nSubject: Loop\nMessage-ID: <h4-{run}@example.org>\n\nours\n"
        ),
    )
    .await;
    wait_for("four reports", || {
        let n = stats.filed.load(Ordering::SeqCst);
        async move { (n == 4).then_some(()) }
    })
    .await;
    task.stop().await;
    assert_eq!(stats.acknowledged.load(Ordering::SeqCst), 2);
    assert_eq!(stats.oversized.load(Ordering::SeqCst), 1);
    let all = reports(store.as_ref()).await;
    let by_subject = |s: &str| {
        all.iter()
            .find(|r| r.description.starts_with(&format!("{s}\n")))
            .unwrap_or_else(|| panic!("no report {s}"))
            .description
            .clone()
    };
    let html = by_subject("HTML");
    assert!(html.contains("Bug in"), "{html}");
    assert!(!html.contains("alert") && !html.contains('<'), "{html}");
    let huge = by_subject("Huge");
    assert!(huge.ends_with("only its headers were kept.)"), "{huge}");
    assert!(!huge.contains("AAAA"));
    // Each is counted once its acknowledgement was sent or passed over:
    // the two from people were acknowledged, the robot and the loop not.
    for (id, acknowledged) in [("h1", true), ("h2", true), ("h3", false), ("h4", false)] {
        let found = sent_in_reply_to(&env.maildir, &format!("{id}-{run}@example.org"));
        assert_eq!(found.is_some(), acknowledged, "{id}");
    }
    let _ = admin.logout().await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_uidvalidity_reads_the_folder_again_without_duplicates() {
    let env = env();
    let dir = tempfile::tempdir().unwrap();
    let store = incidents::open(&format!("sqlite:{}", dir.path().join("wp.db").display()))
        .await
        .unwrap();
    let run = uuid_like();
    let folder = format!("v-{run}");
    let mut admin = imap(&env).await;
    admin.create(&folder).await.expect("CREATE folder");
    let with_attachment = format!(
        "From: att-{run}@example.org\nSubject: With a file\nMessage-ID: <v1-{run}@example.org>\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Type: text/plain\n\nSee the file.\n--b\nContent-Type: text/plain; name=\"poc.txt\"\nContent-Disposition: attachment; filename=\"poc.txt\"\n\nproof of concept\n--b--\n"
    );
    append(&mut admin, &folder, &with_attachment).await;
    let poller = Poller::new(config(&env, &folder), store.clone(), mailer(&env));
    let stats = poller.stats();
    let task = MailboxTask::start(poller);
    wait_for("the first report", || {
        let n = stats.filed.load(Ordering::SeqCst);
        async move { (n == 1).then_some(()) }
    })
    .await;
    task.stop().await;
    let first = reports(store.as_ref()).await;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].attachments.len(), 1);
    assert_eq!(first[0].attachments[0].filename, "poc.txt");
    let (_, bytes) = store
        .read_attachment(&Viewer::system(), first[0].attachments[0].id)
        .await
        .unwrap();
    assert_eq!(bytes, b"proof of concept");
    let (validity, last) = store
        .mailbox_position(&Viewer::system(), &folder)
        .await
        .unwrap()
        .expect("a position");
    assert_eq!(last, 1);

    // The folder is made again (a new UIDVALIDITY) with the old message
    // and a new one: the old one is recognised, the new one filed.
    admin.delete(&folder).await.expect("DELETE folder");
    admin.create(&folder).await.expect("CREATE folder");
    append(&mut admin, &folder, &with_attachment).await;
    append(
        &mut admin,
        &folder,
        &format!(
            "From: new-{run}@example.org\nSubject: New\nMessage-ID: <v2-{run}@example.org>\n\nnew\n"
        ),
    )
    .await;
    // This poller checks every second instead of waiting with IDLE.
    let mut polling = config(&env, &folder);
    polling.idle = false;
    let poller = Poller::new(polling, store.clone(), mailer(&env));
    let stats = poller.stats();
    let task = MailboxTask::start(poller);
    wait_for("the new report", || {
        let n = stats.filed.load(Ordering::SeqCst);
        async move { (n == 1).then_some(()) }
    })
    .await;
    task.stop().await;
    assert_eq!(stats.duplicates.load(Ordering::SeqCst), 1);
    assert_eq!(reports(store.as_ref()).await.len(), 2);
    let (new_validity, new_last) = store
        .mailbox_position(&Viewer::system(), &folder)
        .await
        .unwrap()
        .expect("a position");
    assert_ne!(new_validity, validity);
    assert_eq!(new_last, 2);
    // Mail arriving later is found by the next check.
    let task = {
        let mut polling = config(&env, &folder);
        polling.idle = false;
        let poller = Poller::new(polling, store.clone(), mailer(&env));
        let stats = poller.stats();
        let task = MailboxTask::start(poller);
        wait_for("the poller's first check", || {
            let n = stats.checks.load(Ordering::SeqCst);
            async move { (n >= 1).then_some(()) }
        })
        .await;
        append(
            &mut admin,
            &folder,
            &format!("From: late-{run}@example.org\nSubject: Late\nMessage-ID: <v3-{run}@example.org>\n\nlate\n"),
        )
        .await;
        wait_for("the late report", || {
            let n = stats.filed.load(Ordering::SeqCst);
            async move { (n == 1).then_some(()) }
        })
        .await;
        task
    };
    task.stop().await;
    assert_eq!(reports(store.as_ref()).await.len(), 3);
    let _ = admin.logout().await;
    store.close().await;
}

fn uuid_like() -> String {
    ReportId::new().0.simple().to_string()
}
