//! A real `watchpost serve` on 127.0.0.1 port 0 with a temporary data
//! directory, and plain HTTP/1.1 requests to it (no client library: each
//! request is one connection, `Connection: close`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_watchpost");

/// A running server; killed when dropped.
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    pub log: PathBuf,
}

impl Server {
    /// Starts `watchpost serve` with `config_text` as its config file
    /// (written to `dir`), data in `data`, and extra arguments; returns
    /// once it listens.
    pub fn start(dir: &Path, data: &Path, config_text: &str, args: &[&str]) -> Server {
        let config = dir.join("watchpost.toml");
        std::fs::write(&config, config_text).unwrap();
        let mut n = 0;
        let log = loop {
            let log = dir.join(format!("serve-{n}.log"));
            if !log.exists() {
                break log;
            }
            n += 1;
        };
        let mut child = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data)
            .arg("--config")
            .arg(&config)
            .args(args)
            .env("WATCHPOST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let addr = loop {
            let line = lines
                .next()
                .expect("watchpost serve exited before listening")
                .unwrap();
            if let Some(url) = line.strip_prefix("listening on http://") {
                break url.trim().parse().unwrap();
            }
        };
        Server { child, addr, log }
    }

    /// What the server logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Creates a user with the CLI; returns its token.
pub fn add_user(data: &Path, name: &str, role: &str) -> String {
    let out = Command::new(BIN)
        .args(["users", "add", name, "--role", role, "--data-dir"])
        .arg(data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_owned()
}

/// The first admin's token, which the server wrote at its first start.
pub fn admin_token(data: &Path) -> String {
    std::fs::read_to_string(data.join("first-admin-token"))
        .unwrap()
        .trim()
        .to_owned()
}

/// An HTTP answer.
pub struct Answer {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as JSON (`null` when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// One request with a bearer token.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Answer {
    let mut stream = TcpStream::connect(addr).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP answer");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    Answer {
        status,
        head,
        body: raw[split + 4..].to_vec(),
    }
}

/// `GET path`.
pub fn get(addr: SocketAddr, path: &str, token: &str) -> Answer {
    request(addr, "GET", path, token, &[], b"")
}

/// `POST /api/v1/events{query}` with `body`; asserts every line was
/// accepted.
pub fn post_events(addr: SocketAddr, token: &str, query: &str, body: &[u8]) -> Answer {
    let answer = request(
        addr,
        "POST",
        &format!("/api/v1/events{query}"),
        token,
        &[("Content-Type", "application/x-ndjson")],
        body,
    );
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_eq!(answer.json()["rejected"], 0, "{}", answer.json());
    answer
}

/// Asks `probe` every 20 ms until it answers `Some`, for at most a
/// minute; `context` says what was seen when it never does.
pub fn poll<T>(
    what: &str,
    mut probe: impl FnMut() -> Option<T>,
    context: impl Fn() -> String,
) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(found) = probe() {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not seen in time; {}",
            context()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until detection has processed everything spooled and fed every
/// reordered event; returns the ingest counters.
pub fn wait_idle(addr: SocketAddr, admin: &str) -> Value {
    poll(
        "detection caught up",
        || {
            let stats = get(addr, "/api/v1/stats", admin).json();
            let ingest = &stats["ingest"];
            (ingest["processed"] == ingest["spooled"] && ingest["reordering"] == 0)
                .then(|| ingest.clone())
        },
        || get(addr, "/api/v1/stats", admin).json().to_string(),
    )
}
