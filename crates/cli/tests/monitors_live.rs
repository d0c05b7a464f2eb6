//! The scheduled monitors through the real `watchpost serve`: a port
//! snapshot dropped in the `[ports]` folder, and a page of a local HTTP
//! server watched by `[[web.url]]`, become alerts read back from
//! `GET /api/v1/alerts`, once each however many passes run.
//!
//! Every socket talks to 127.0.0.1 only, and every expected value is
//! written by hand. Tests wait on the state files, the API and the
//! server's own log (its per-pass debug lines), each with a deadline;
//! never on a fixed sleep.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::ExitStatus;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use support::serve::{Server, admin_token, get, list, poll_every};

/// What the server logs (`WATCHPOST_LOG`): its monitors' per-pass debug
/// lines too, which the tests wait on.
const LOG_FILTER: &str = "info,watchpost_server::monitors=debug";

/// `ss -ltn` on web01 before: ssh and http.
const SS_BEFORE: &str = "\
State  Recv-Q Send-Q Local Address:Port Peer Address:Port Process
LISTEN 0      128          0.0.0.0:22        0.0.0.0:*
LISTEN 0      511          0.0.0.0:80        0.0.0.0:*
";

/// The same host later: something listens on 4444 too.
const SS_AFTER: &str = "\
State  Recv-Q Send-Q Local Address:Port Peer Address:Port Process
LISTEN 0      128          0.0.0.0:22        0.0.0.0:*
LISTEN 0      511          0.0.0.0:80        0.0.0.0:*
LISTEN 0      5            0.0.0.0:4444      0.0.0.0:*
";

/// The same ports again, written differently (another backlog, another
/// order): the file is read again, and nothing new is found.
const SS_AFTER_AGAIN: &str = "\
State  Recv-Q Send-Q Local Address:Port Peer Address:Port Process
LISTEN 0      5            0.0.0.0:4444      0.0.0.0:*
LISTEN 0      4096         0.0.0.0:22        0.0.0.0:*
LISTEN 0      511          0.0.0.0:80        0.0.0.0:*
";

/// An nmap scan cut off before `</nmaprun>`.
const TRUNCATED_NMAP: &str = "<?xml version=\"1.0\"?>\n<nmaprun scanner=\"nmap\" start=\"1764504000\">\n<host><status state=\"up\"/>\n";

const SHOP: &str = "<html><head><title>Tea Shop</title><script src=\"/static/app.js\"></script></head>\
<body><h1>Welcome to the tea shop</h1><p>We sell green, black and white tea from small farms, shipped weekly.</p></body></html>";

const DEFACED: &str = "<html><head><title>HACKED BY CREW</title><script src=\"https://cdn.evil.example/miner.js\"></script></head>\
<body><h1>owned</h1><p>greetings to all crews</p></body></html>";

impl Server {
    /// The highest number `marker` (for example `pass=`) is followed by
    /// on a log line that also holds `line` (0 when none).
    fn last_number(&self, line: &str, marker: &str) -> u64 {
        self.log_text()
            .lines()
            .filter(|l| l.contains(line))
            .filter_map(|l| {
                let rest = &l[l.find(marker)? + marker.len()..];
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                digits.parse().ok()
            })
            .max()
            .unwrap_or(0)
    }

    /// Sends SIGTERM and waits for the exit.
    fn terminate(self) -> ExitStatus {
        self.stop("-TERM")
    }
}

fn alerts(server: &Server, token: &str) -> Vec<Value> {
    list(server.addr, "/api/v1/alerts?limit=100", token)
}

/// Polls `what` every 50 ms until it gives `Some`, failing with `describe`
/// and the server log past the deadline.
fn wait_for<T>(server: &Server, describe: &str, what: impl FnMut() -> Option<T>) -> T {
    poll_every(Duration::from_millis(50), describe, what, || {
        format!("server log:\n{}", server.log_text())
    })
}

/// Writes `text` to `path` as a snapshot writer should: under a name the
/// monitor ignores, then renamed into place.
fn drop_file(path: &Path, text: &str) {
    let name = path.file_name().unwrap().to_string_lossy();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn toml_path(path: &Path) -> String {
    path.display().to_string().replace('\\', "\\\\")
}

#[test]
fn a_new_listening_port_in_a_dropped_snapshot_is_one_alert() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let snapshots = dir.path().join("snapshots");
    std::fs::create_dir(&snapshots).unwrap();
    let web01 = snapshots.join("web01.ss.txt");
    drop_file(&web01, SS_BEFORE);
    let config = format!(
        "[ports]\ndir = \"{}\"\ninterval = \"1s\"\n",
        toml_path(&snapshots)
    );
    let server = Server::start_logging(dir.path(), &data, &config, &[], LOG_FILTER);
    let admin = admin_token(&data);

    // First run: the snapshot becomes the baseline, and nothing is reported.
    let state = data.join("ports.json");
    let baseline: Value = wait_for(&server, "the ports baseline", || {
        serde_json::from_slice(&std::fs::read(&state).ok()?).ok()
    });
    assert_eq!(baseline["kind"], "ports");
    let approved: Vec<(String, u64)> = baseline["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["host"].as_str().unwrap().to_owned(),
                p["port"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        approved,
        [("web01".to_owned(), 22), ("web01".to_owned(), 80)]
    );
    assert!(alerts(&server, &admin).is_empty());

    // A broken scan beside it is refused, named, and stops nothing.
    std::fs::write(snapshots.join("scan.xml"), TRUNCATED_NMAP).unwrap();
    drop_file(&web01, SS_AFTER);
    let found = wait_for(&server, "the new port's alert", || {
        let found = alerts(&server, &admin);
        (!found.is_empty()).then_some(found)
    });
    assert_eq!(found.len(), 1, "{found:?}");
    let alert = &found[0];
    assert_eq!(alert["rule_id"], "watchpost.ports.first_seen");
    assert_eq!(alert["rule_title"], "New open network port");
    assert_eq!(alert["policy"], "new_port");
    assert_eq!(alert["level"], "medium");
    assert_eq!(alert["entities"]["host"], "web01");
    assert_eq!(alert["entities"]["port"], "4444");
    assert_eq!(alert["entities"]["protocol"], "tcp");
    assert_eq!(
        alert["evidence"][0]["fields"]["summary"],
        "new open port 4444/tcp on web01 (-)"
    );
    assert!(
        alert["incident_id"].is_string(),
        "a medium alert opens an incident at the default incident level: {alert}"
    );
    let log = server.log_text();
    assert!(
        log.contains("port snapshot file refused") && log.contains("scan.xml"),
        "{log}"
    );

    // The same ports written again: read and compared again, the same
    // alert key, no second alert; and none after more passes either.
    let pass = server.last_number("ports pass done", "pass=");
    drop_file(&web01, SS_AFTER_AGAIN);
    wait_for(&server, "the snapshot read again", || {
        server
            .log_text()
            .lines()
            .any(|l| l.contains("ports pass") && l.contains("duplicates=1"))
            .then_some(())
    });
    wait_for(&server, "three more passes", || {
        (server.last_number("ports pass done", "pass=") >= pass + 3).then_some(())
    });
    let found = alerts(&server, &admin);
    assert_eq!(found.len(), 1, "{found:?}");
    // The monitor's counters on /metrics: one alert stored, the same
    // finding seen again once, one file refused.
    let metrics = String::from_utf8(get(server.addr, "/metrics", &admin).body).unwrap();
    for line in [
        "watchpost_monitor_alerts_total 1",
        "watchpost_monitor_duplicate_alerts_total 1",
        "watchpost_monitor_port_files_refused_total 1",
        "watchpost_monitor_refused_alerts_total 0",
        "watchpost_monitor_url_checks_total 0",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "{line} not in\n{metrics}"
        );
    }
    // The baseline was not changed by the checks.
    let after: Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert_eq!(after, baseline);
    // The broken scan was reported once, not on every pass.
    let refusals = server
        .log_text()
        .lines()
        .filter(|l| l.contains("port snapshot file refused"))
        .count();
    assert_eq!(refusals, 1);
}

/// A one-page HTTP server on 127.0.0.1 whose page can be changed.
struct Site {
    port: u16,
    page: Arc<Mutex<String>>,
}

impl Site {
    fn start(page: &str) -> Site {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let page = Arc::new(Mutex::new(page.to_owned()));
        let serving = Arc::clone(&page);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let page = serving.lock().unwrap().clone();
                std::thread::spawn(move || answer(stream, &page));
            }
        });
        Site { port, page }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    fn set(&self, page: &str) {
        *self.page.lock().unwrap() = page.to_owned();
    }
}

fn answer(stream: TcpStream, page: &str) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
    }
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
        page.len()
    );
}

#[test]
fn a_defaced_page_is_one_alert() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let site = Site::start(SHOP);
    // No rules and no policy pack: live detection is off, the monitors
    // run all the same.
    let config = format!(
        "no_policy = true\n\n[web]\nconnect_timeout = \"2s\"\ntimeout = \"5s\"\n\n[[web.url]]\nurl = \"{}\"\ninterval = \"1s\"\n",
        site.url()
    );
    let server = Server::start_logging(dir.path(), &data, &config, &[], LOG_FILTER);
    let admin = admin_token(&data);

    // The first check records the baseline.
    let state = data.join("web.json");
    let baseline: Value = wait_for(&server, "the web baseline", || {
        let state: Value = serde_json::from_slice(&std::fs::read(&state).ok()?).ok()?;
        state["urls"].get(site.url()).is_some().then_some(state)
    });
    assert_eq!(baseline["urls"][site.url()]["title"], "Tea Shop");
    // Unchanged checks report nothing.
    wait_for(&server, "two unchanged checks", || {
        (server.last_number("web check done", "check=") >= 3).then_some(())
    });
    assert!(alerts(&server, &admin).is_empty());

    site.set(DEFACED);
    let found = wait_for(&server, "the defacement's alert", || {
        let found = alerts(&server, &admin);
        (!found.is_empty()).then_some(found)
    });
    assert_eq!(found.len(), 1, "{found:?}");
    let alert = &found[0];
    assert_eq!(alert["rule_id"], "watchpost.web.changed");
    assert_eq!(alert["rule_title"], "Website changed");
    assert_eq!(alert["policy"], "web_change");
    assert_eq!(alert["level"], "high");
    assert_eq!(alert["entities"]["url"], site.url().as_str());
    assert_eq!(alert["entities"]["host"], "127.0.0.1");
    let summary = alert["evidence"][0]["summary"].as_str().unwrap();
    assert!(
        summary.starts_with(
            "title changed from \"Tea Shop\" to \"HACKED BY CREW\"; 1 new script source: https://cdn.evil.example/miner.js; 1 script source removed: /static/app.js"
        ),
        "{summary}"
    );

    // The same defacement on later checks is the same alert.
    let check = server.last_number("web check done", "check=");
    wait_for(&server, "three more checks", || {
        (server.last_number("web check done", "check=") >= check + 3).then_some(())
    });
    assert_eq!(alerts(&server, &admin).len(), 1);
    // Checks never replace the approved baseline.
    let after: Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert_eq!(after, baseline);

    // A graceful stop ends the monitor and logs its counters.
    let status = server.terminate();
    assert!(status.success(), "{status}");
    let log = std::fs::read_to_string(dir.path().join("serve.log")).unwrap();
    let stopped = log
        .lines()
        .find(|l| l.contains("monitors stopped"))
        .unwrap_or_else(|| panic!("no totals logged:\n{log}"));
    assert!(
        stopped.contains("web_baselined=1") && stopped.contains("alerts=1"),
        "{stopped}"
    );
}
