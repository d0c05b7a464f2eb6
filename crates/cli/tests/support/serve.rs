//! A real `watchpost serve` on 127.0.0.1 port 0 with a temporary data
//! directory, and plain HTTP/1.1 requests to it (no client library: each
//! request is one connection, `Connection: close`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use time::OffsetDateTime;
use time::macros::format_description;

/// The `watchpost` binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_watchpost");

/// The config most live tests run with: detection flushes a quiet
/// source's events after 200 ms.
pub const CONFIG: &str = "[ingest]\nreorder_idle_millis = 200\n";

/// A running server; killed when dropped.
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    /// The data directory.
    pub data: PathBuf,
    /// The file its stderr (its log) goes to: `serve.log` in the test's
    /// folder (`dir`) for the first server started there, then
    /// `serve-1.log`, `serve-2.log`, ...
    pub log: PathBuf,
}

impl Server {
    /// Starts `watchpost serve` with `config_text` as its config file
    /// (written to `dir`), data in `data`, extra arguments, and logging at
    /// `info`; returns once it listens.
    pub fn start(dir: &Path, data: &Path, config_text: &str, args: &[&str]) -> Server {
        Self::start_logging(dir, data, config_text, args, "info")
    }

    /// [`Server::start`] logging what `filter` (a `WATCHPOST_LOG` value)
    /// lets through.
    pub fn start_logging(
        dir: &Path,
        data: &Path,
        config_text: &str,
        args: &[&str],
        filter: &str,
    ) -> Server {
        let config = dir.join("watchpost.toml");
        std::fs::write(&config, config_text).unwrap();
        Self::spawn(dir, data, &config, args, filter)
    }

    /// Starts `watchpost serve` on the config file the test wrote itself at
    /// `config` (so it keeps the file's mode), with its log in `dir` and
    /// logging at `info`.
    pub fn start_config_file(dir: &Path, data: &Path, config: &Path) -> Server {
        Self::spawn(dir, data, config, &[], "info")
    }

    /// Starts the server with its log in the first of `serve.log`,
    /// `serve-1.log`, ... not yet in `dir`; returns once it listens, and
    /// fails with the log when it exits first.
    fn spawn(dir: &Path, data: &Path, config: &Path, args: &[&str], filter: &str) -> Server {
        let mut log = dir.join("serve.log");
        let mut n = 0;
        while log.exists() {
            n += 1;
            log = dir.join(format!("serve-{n}.log"));
        }
        let mut child = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data)
            .arg("--config")
            .arg(config)
            .args(args)
            .env("WATCHPOST_LOG", filter)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let addr = loop {
            let Some(line) = lines.next() else {
                panic!(
                    "watchpost serve exited before listening:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            };
            if let Some(url) = line.unwrap().strip_prefix("listening on http://") {
                break url.trim().parse().unwrap();
            }
        };
        Server {
            child,
            addr,
            data: data.to_owned(),
            log,
        }
    }

    /// What the server logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Kills the server with SIGKILL and waits for it.
    pub fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Sends `signal` (`-TERM`, `-INT`) and waits for the exit.
    pub fn stop(mut self, signal: &str) -> ExitStatus {
        send_signal(&mut self.child, signal)
    }
}

/// Sends `signal` (`-TERM`, `-INT`) to `child` with kill(1) and waits for
/// it to exit.
pub fn send_signal(child: &mut Child, signal: &str) -> ExitStatus {
    let status = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    child.wait().unwrap()
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
    token_of(&out)
}

/// The token `watchpost users add` printed (its last line of output);
/// fails with its error output when it did not succeed.
pub fn token_of(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone())
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
#[derive(Debug)]
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

    /// The value of the header `name` (any case), if present.
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    }
}

/// Parses a complete `Connection: close` answer; `None` when `raw` holds
/// no whole head.
pub fn parse_answer(raw: &[u8]) -> Option<Answer> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some(Answer {
        status,
        head,
        body: raw[split + 4..].to_vec(),
    })
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
    parse_answer(&raw).expect("an HTTP answer")
}

/// `GET path`.
pub fn get(addr: SocketAddr, path: &str, token: &str) -> Answer {
    request(addr, "GET", path, token, &[], b"")
}

/// The `items` of the page `GET path` answers (none when it has none);
/// asserts a 200.
pub fn list(addr: SocketAddr, path: &str, token: &str) -> Vec<Value> {
    let answer = get(addr, path, token);
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    answer.json()["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// `POST /api/v1/events{query}` with `body` as NDJSON, whatever the answer.
pub fn post_lines(addr: SocketAddr, token: &str, query: &str, body: &[u8]) -> Answer {
    request(
        addr,
        "POST",
        &format!("/api/v1/events{query}"),
        token,
        &[("Content-Type", "application/x-ndjson")],
        body,
    )
}

/// [`post_lines`] that asserts every line was accepted.
pub fn post_events(addr: SocketAddr, token: &str, query: &str, body: &[u8]) -> Answer {
    let answer = post_lines(addr, token, query, body);
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
pub fn poll<T>(what: &str, probe: impl FnMut() -> Option<T>, context: impl Fn() -> String) -> T {
    poll_every(Duration::from_millis(20), what, probe, context)
}

/// [`poll`], asking every `every`.
pub fn poll_every<T>(
    every: Duration,
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
        std::thread::sleep(every);
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

/// An RFC 3164 timestamp (`Dec  3 10:00:01`) for `t`, in UTC (the
/// server's default zone for syslog).
pub fn rfc3164(t: OffsetDateTime) -> String {
    let f = format_description!("[month repr:short] [day padding:space] [hour]:[minute]:[second]");
    t.format(&f).unwrap()
}

/// Every alert `GET /api/v1/alerts{query}` lists, page after page.
pub fn all_alerts(addr: SocketAddr, admin: &str, query: &str) -> Vec<Value> {
    let mut alerts = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/api/v1/alerts?limit=500{query}");
        if let Some(c) = &cursor {
            path.push_str("&cursor=");
            for b in c.bytes() {
                if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                    path.push(b as char);
                } else {
                    path.push_str(&format!("%{b:02X}"));
                }
            }
        }
        let answer = get(addr, &path, admin);
        assert_eq!(
            answer.status,
            200,
            "{}",
            String::from_utf8_lossy(&answer.body)
        );
        let page = answer.json();
        alerts.extend(page["items"].as_array().cloned().unwrap_or_default());
        match page["next_cursor"].as_str() {
            Some(next) if !next.is_empty() => cursor = Some(next.to_owned()),
            _ => return alerts,
        }
    }
}
