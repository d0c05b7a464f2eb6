//! The URL monitor against a real HTTP server on 127.0.0.1 (a tiny
//! canned-response server on a std `TcpListener`).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use time::macros::datetime;
use watchpost_monitor::web::{Status, UrlConfig, WebConfig, WebState, check_once, run_blocking};

#[derive(Clone)]
enum Reply {
    Html(String),
    Redirect(String),
    Bytes(usize),
    /// Read the request, then never answer (the connection stays open).
    Hold,
}

struct Server {
    port: u16,
    routes: Arc<Mutex<HashMap<String, Reply>>>,
    hosts_seen: Arc<Mutex<Vec<String>>>,
    _held: Arc<Mutex<Vec<TcpStream>>>,
}

impl Server {
    fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let routes: Arc<Mutex<HashMap<String, Reply>>> = Arc::default();
        let hosts_seen: Arc<Mutex<Vec<String>>> = Arc::default();
        let held: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (r, h, k) = (routes.clone(), hosts_seen.clone(), held.clone());
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (r, h, k) = (r.clone(), h.clone(), k.clone());
                thread::spawn(move || serve(stream, &r, &h, &k));
            }
        });
        Server {
            port,
            routes,
            hosts_seen,
            _held: held,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn set(&self, path: &str, reply: Reply) {
        self.routes.lock().unwrap().insert(path.to_string(), reply);
    }
}

fn serve(
    stream: TcpStream,
    routes: &Mutex<HashMap<String, Reply>>,
    hosts: &Mutex<Vec<String>>,
    held: &Mutex<Vec<TcpStream>>,
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .to_string();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some(host) = line
            .strip_prefix("host: ")
            .or_else(|| line.strip_prefix("Host: "))
        {
            hosts.lock().unwrap().push(host.trim().to_string());
        }
    }
    let reply = routes.lock().unwrap().get(&path).cloned();
    let mut stream = stream;
    let (head, body): (String, Vec<u8>) = match reply {
        None => ("HTTP/1.1 404 Not Found\r\n".into(), b"not found".to_vec()),
        Some(Reply::Html(html)) => (
            "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n".into(),
            html.into_bytes(),
        ),
        Some(Reply::Redirect(to)) => (
            format!("HTTP/1.1 302 Found\r\nLocation: {to}\r\n"),
            Vec::new(),
        ),
        Some(Reply::Bytes(n)) => (
            "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n".into(),
            vec![b'a'; n],
        ),
        Some(Reply::Hold) => {
            held.lock().unwrap().push(stream);
            return;
        }
    };
    let _ = stream.write_all(
        format!(
            "{head}Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    let _ = stream.write_all(&body);
}

fn config(urls: &[String]) -> WebConfig {
    WebConfig {
        url: urls.iter().map(|u| UrlConfig::new(u)).collect(),
        connect_timeout: Duration::from_secs(2),
        timeout: Duration::from_secs(2),
        ..WebConfig::default()
    }
}

const SHOP: &str = r#"<html><head><title>Tea Shop</title>
<meta name="csrf-token" content="NONCE1">
<script nonce="NONCE1" src="/static/app.js"></script></head>
<body><h1>Welcome to the tea shop</h1><p>We sell green, black and white tea from small farms, shipped weekly.</p>
<form><input type="hidden" name="csrf_token" value="NONCE1"></form></body></html>"#;

fn check(config: &WebConfig, state: &mut WebState) -> Vec<watchpost_monitor::web::Outcome> {
    run_blocking(check_once(config, state, datetime!(2026-11-30 12:00 UTC))).unwrap()
}

#[test]
fn unchanged_page_gives_no_detection_and_first_check_records_the_baseline() {
    let server = Server::start();
    server.set("/", Reply::Html(SHOP.into()));
    let config = config(&[server.url("/")]);
    let mut state = WebState::default();
    let first = check(&config, &mut state);
    assert_eq!(first[0].status, Status::Baselined);
    assert!(state.urls.contains_key(&server.url("/")));
    let second = check(&config, &mut state);
    assert_eq!(second[0].status, Status::Unchanged { similarity: 1.0 });
}

#[test]
fn nonce_and_csrf_token_changes_are_not_a_change() {
    let server = Server::start();
    server.set("/", Reply::Html(SHOP.into()));
    let config = config(&[server.url("/")]);
    let mut state = WebState::default();
    check(&config, &mut state);
    server.set("/", Reply::Html(SHOP.replace("NONCE1", "ROTATED-77f1")));
    let outcome = check(&config, &mut state);
    assert_eq!(outcome[0].status, Status::Unchanged { similarity: 1.0 });
}

#[test]
fn defaced_page_is_a_detection_with_the_facts() {
    let server = Server::start();
    server.set("/", Reply::Html(SHOP.into()));
    let config = config(&[server.url("/")]);
    let mut state = WebState::default();
    check(&config, &mut state);
    let defaced = r#"<html><head><title>HACKED BY CREW</title>
<script src="/static/app.js"></script><script src="https://cdn.evil.example/miner.js"></script></head>
<body><h1>owned</h1><p>your security is a joke</p></body></html>"#;
    server.set("/", Reply::Html(defaced.into()));
    let outcome = check(&config, &mut state);
    let Status::Changed { summary, detection } = &outcome[0].status else {
        panic!("expected a change, got {:?}", outcome[0])
    };
    assert!(
        summary.contains("title changed from \"Tea Shop\" to \"HACKED BY CREW\""),
        "{summary}"
    );
    assert!(
        summary.contains("1 new script source: https://cdn.evil.example/miner.js"),
        "{summary}"
    );
    assert!(summary.contains("similarity 0.00"), "{summary}");
    assert_eq!(detection.policy, Some("web_change"));
    assert_eq!(detection.entities["url"], server.url("/"));
    assert_eq!(detection.entities["host"], "127.0.0.1");
    assert_eq!(detection.level, detect::Level::High);
    // The baseline is not replaced by a check: the next check still differs.
    let again = check(&config, &mut state);
    assert!(matches!(again[0].status, Status::Changed { .. }));
}

#[test]
fn same_site_redirects_are_followed_and_others_are_reported_not_followed() {
    let server = Server::start();
    server.set("/old", Reply::Redirect("/".into()));
    server.set("/", Reply::Html(SHOP.into()));
    let config = config(&[server.url("/old")]);
    let mut state = WebState::default();
    check(&config, &mut state);
    let fp = &state.urls[&server.url("/old")];
    assert_eq!(fp.redirects, [server.url("/")]);
    assert_eq!(fp.title.as_deref(), Some("Tea Shop"));

    let offsite = format!("http://localhost:{}/", server.port);
    server.set("/old", Reply::Redirect(offsite.clone()));
    let outcome = check(&config, &mut state);
    let Status::Changed { summary, .. } = &outcome[0].status else {
        panic!("expected a change, got {:?}", outcome[0])
    };
    assert!(
        summary.contains(&format!(
            "redirects to another site (not followed): {offsite}"
        )),
        "{summary}"
    );
    assert_eq!(
        outcome[0].notes,
        [format!("redirect to another site not followed: {offsite}")]
    );
    let hosts = server.hosts_seen.lock().unwrap();
    assert!(
        !hosts.iter().any(|h| h.starts_with("localhost")),
        "the offsite redirect was followed: {hosts:?}"
    );
}

#[test]
fn oversized_body_is_capped_and_reported() {
    let server = Server::start();
    server.set("/big", Reply::Bytes(3 * 1024 * 1024));
    let mut config = config(&[server.url("/big")]);
    config.max_bytes = 1024 * 1024;
    let mut state = WebState::default();
    let outcome = check(&config, &mut state);
    assert_eq!(outcome[0].status, Status::Baselined);
    assert!(
        outcome[0].notes[0].contains("larger than 1048576 bytes"),
        "{:?}",
        outcome[0].notes
    );
    let fp = &state.urls[&server.url("/big")];
    assert!(fp.truncated);
    assert_eq!(fp.bytes, 1024 * 1024);
}

#[test]
fn refused_unresolvable_and_slow_urls_are_unreachable_not_changed() {
    let server = Server::start();
    server.set("/", Reply::Html(SHOP.into()));
    server.set("/slow", Reply::Hold);
    let closed_port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let refused = format!("http://127.0.0.1:{closed_port}/");
    let slow = server.url("/slow");
    let mut config = config(&[
        refused.clone(),
        "http://nonexistent.invalid/".into(),
        slow.clone(),
    ]);
    config.timeout = Duration::from_millis(700);
    let mut state = WebState::default();
    let outcomes = check(&config, &mut state);
    for outcome in &outcomes {
        assert!(
            matches!(outcome.status, Status::Unreachable { .. }),
            "{outcome:?}"
        );
    }
    let Status::Unreachable { reason } = &outcomes[2].status else {
        unreachable!()
    };
    assert!(reason.contains("timed out"), "{reason}");
    assert!(
        state.urls.is_empty(),
        "an unreachable URL must not get a baseline"
    );
}
