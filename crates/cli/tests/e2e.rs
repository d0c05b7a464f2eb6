//! End-to-end tests through the real `watchpost` binary: `watchpost serve`
//! on port 0 with a temporary data directory, users created with
//! `watchpost users add`, reports filed with `watchpost report`, incidents
//! read with `watchpost incidents`, and `watchpost audit verify` before and
//! after tampering with the audit table.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use serde_json::{Value, json};
use support::{assert_terminal_safe, assert_unique_keys};

mod support;

const BIN: &str = env!("CARGO_BIN_EXE_watchpost");

/// A running `watchpost serve`.
struct Server {
    child: Child,
    url: String,
    /// Everything printed on stdout before "listening on".
    banner: Vec<String>,
    /// The data directory.
    data_dir: PathBuf,
}

impl Server {
    fn start(data_dir: &Path, extra: &[&str]) -> Server {
        let mut child = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(extra)
            .env("WATCHPOST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start watchpost serve");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let mut banner = Vec::new();
        let url = loop {
            let line = lines
                .next()
                .expect("watchpost serve exited before printing its address")
                .unwrap();
            if let Some(url) = line.strip_prefix("listening on ") {
                break url.trim().to_owned();
            }
            banner.push(line);
        };
        Server {
            child,
            url,
            banner,
            data_dir: data_dir.to_owned(),
        }
    }

    /// The one-time admin token, if this start created the first admin. As
    /// stdout is a pipe here, the token is never printed: it is in
    /// `DATA_DIR/first-admin-token`, whose path the banner names.
    fn admin_token(&self) -> Option<String> {
        let text = self.banner.join("\n");
        assert!(!text.contains("wp_"), "no token on a pipe: {text}");
        if !text.contains("first start") {
            return None;
        }
        let path = self.data_dir.join("first-admin-token");
        assert!(
            text.contains(&path.display().to_string()),
            "the banner names the token file: {text}"
        );
        let token = std::fs::read_to_string(&path).expect("the first admin token file");
        Some(token.trim().to_owned())
    }

    /// Sends SIGTERM and returns the exit status.
    fn terminate(self) -> std::process::ExitStatus {
        self.signal("-TERM")
    }

    /// Sends `signal` (e.g. `-INT`, as Ctrl-C does) and returns the exit status.
    fn signal(mut self, signal: &str) -> std::process::ExitStatus {
        support::serve::send_signal(&mut self.child, signal)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("WATCHPOST_TOKEN")
        .env_remove("WATCHPOST_URL")
        .env_remove("WATCHPOST_DATABASE_URL")
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `watchpost users add`; returns the token from the last line of stdout.
fn add_user(data_dir: &Path, name: &str, role: &str) -> String {
    let dir = data_dir.to_str().unwrap();
    let output = run(&["users", "add", name, "--role", role, "--data-dir", dir]);
    assert!(
        output.status.success(),
        "users add {name}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = stdout(&output);
    let last = text.lines().last().unwrap().to_owned();
    assert!(
        last.starts_with("wp_") && last.len() == 67,
        "token alone on the last line: {text:?}"
    );
    assert_eq!(text.matches(&last).count(), 1, "the token is printed once");
    last
}

/// A small synchronous API client over reqwest (run on a private runtime).
struct Api {
    url: String,
    rt: tokio::runtime::Runtime,
    http: reqwest::Client,
}

impl Api {
    fn new(url: &str) -> Api {
        let _ = rustls::crypto::ring::default_provider().install_default();
        Api {
            url: url.to_owned(),
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
            http: reqwest::Client::new(),
        }
    }

    fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        self.rt.block_on(async {
            let mut request = self
                .http
                .request(method, format!("{}{path}", self.url))
                .bearer_auth(token);
            if let Some(body) = body {
                request = request.json(&body);
            }
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let body = response.json::<Value>().await.unwrap_or(Value::Null);
            (status, body)
        })
    }

    fn get(&self, path: &str, token: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, token, None)
    }

    fn post(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, token, Some(body))
    }
}

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

fn metric_count(metrics: &Value, group: &str, key: &str) -> i64 {
    metrics[group]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == key)
        .map_or(0, |r| r["count"].as_i64().unwrap())
}

#[test]
fn sensitive_report_is_need_to_know_audited_and_tamper_evident() {
    let dir = tempfile::tempdir().unwrap();
    let data: PathBuf = dir.path().join("data");
    let data_str = data.to_str().unwrap().to_owned();
    let server = Server::start(&data, &[]);
    let admin = server
        .admin_token()
        .expect("first start prints an admin token");
    let reporter_a = add_user(&data, "alice", "reporter");
    let reporter_b = add_user(&data, "bob", "reporter");
    let responder = add_user(&data, "sam", "responder");
    let finance = add_user(&data, "fran", "finance-ops");
    let api = Api::new(&server.url);

    // A reporter files a sensitive harassment report through the CLI.
    let filed = run(&[
        "report",
        "--category",
        "harassment",
        "--sensitive",
        "--description",
        "Repeated comments about a colleague in the team channel",
        "--location",
        "team channel",
        "--json",
        "--server",
        &server.url,
        "--token",
        &reporter_a,
    ]);
    assert!(
        filed.status.success(),
        "{}",
        String::from_utf8_lossy(&filed.stderr)
    );
    let report: Value = serde_json::from_str(&stdout(&filed)).unwrap();
    assert_eq!(report["sensitive"], true);
    assert_eq!(report["channel"], "cli");
    let incident = report["incident_id"].as_str().unwrap().to_owned();
    let report_id = report["id"].as_str().unwrap().to_owned();
    // A non-sensitive report by the other reporter, as a control.
    let (status, other) = api.post(
        "/api/v1/reports",
        &reporter_b,
        json!({ "category": "theft", "description": "Bike stolen from the rack" }),
    );
    assert_eq!(status, 201, "{other}");
    let other_incident = other["incident_id"].as_str().unwrap().to_owned();

    // The responder sees it: CLI show and list, API search, count, metrics.
    let show = run(&[
        "incidents",
        "show",
        &incident,
        "--json",
        "--server",
        &server.url,
        "--token",
        &responder,
    ]);
    assert!(
        show.status.success(),
        "{}",
        String::from_utf8_lossy(&show.stderr)
    );
    let detail: Value = serde_json::from_str(&stdout(&show)).unwrap();
    assert_eq!(detail["incident"]["sensitive"], true);
    assert_eq!(detail["incident"]["status"], "triage");
    let list = run(&[
        "incidents",
        "list",
        "--json",
        "--server",
        &server.url,
        "--token",
        &responder,
    ]);
    let page: Value = serde_json::from_str(&stdout(&list)).unwrap();
    assert!(ids(&page).contains(&incident));
    assert_eq!(page["total"], 2);
    let (_, found) = api.get("/api/v1/incidents?q=team%20channel", &responder);
    assert_eq!(ids(&found), vec![incident.clone()]);
    let (status, metrics) = api.get("/api/v1/metrics", &responder);
    assert_eq!(status, 200, "{metrics}");
    assert_eq!(metrics["total"]["count"], 2);
    assert_eq!(metric_count(&metrics, "by_category", "harassment"), 1);

    // Another reporter and the general (admin) list don't: list, search,
    // count, metrics, get by id (404, not 403).
    for (who, token) in [("reporter b", &reporter_b), ("admin", &admin)] {
        let (status, body) = api.get(&format!("/api/v1/incidents/{incident}"), token);
        assert_eq!(status, 404, "{who}: {body}");
        assert_eq!(body["error"]["code"], "not_found");
        let (status, _) = api.get(&format!("/api/v1/reports/{report_id}"), token);
        assert_eq!(status, 404, "{who} report");
        let (_, page) = api.get("/api/v1/incidents", token);
        assert_eq!(ids(&page), vec![other_incident.clone()], "{who} list");
        assert_eq!(page["total"], 1, "{who} count");
        let (_, found) = api.get("/api/v1/incidents?q=team%20channel", token);
        assert!(ids(&found).is_empty(), "{who} search");
        assert_eq!(found["total"], 0, "{who} search count");
        let (_, found) = api.get("/api/v1/incidents?category=harassment", token);
        assert_eq!(found["total"], 0, "{who} filter count");
        let (_, reports) = api.get("/api/v1/reports", token);
        assert!(!ids(&reports).contains(&report_id), "{who} reports");
    }
    let (_, admin_metrics) = api.get("/api/v1/metrics", &admin);
    assert_eq!(
        admin_metrics["total"]["count"], 1,
        "admin metrics exclude it"
    );
    assert_eq!(metric_count(&admin_metrics, "by_category", "harassment"), 0);
    let (status, _) = api.get("/api/v1/metrics", &reporter_b);
    assert_eq!(status, 403, "reporters have no metrics route");
    let show = run(&[
        "incidents",
        "show",
        &incident,
        "--server",
        &server.url,
        "--token",
        &reporter_b,
    ]);
    assert!(!show.status.success());
    assert!(String::from_utf8_lossy(&show.stderr).contains("not found"));
    let list = run(&[
        "incidents",
        "list",
        "--server",
        &server.url,
        "--token",
        &reporter_b,
    ]);
    assert!(list.status.success());
    assert!(!stdout(&list).contains(&incident));

    // Finance-ops sees it; its reporter sees it (and its status).
    for token in [&finance, &reporter_a] {
        let (status, body) = api.get(&format!("/api/v1/incidents/{incident}"), token);
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["incident"]["status"], "triage");
    }

    // Work on it: the responder acknowledges and writes a note, finance-ops
    // writes a note.
    let (status, body) = api.post(
        &format!("/api/v1/incidents/{incident}/status"),
        &responder,
        json!({ "status": "investigating" }),
    );
    assert_eq!(status, 200, "{body}");
    let (status, _) = api.post(
        &format!("/api/v1/incidents/{incident}/notes"),
        &responder,
        json!({ "body": "spoke to HR" }),
    );
    assert_eq!(status, 201);
    let (status, _) = api.post(
        &format!("/api/v1/incidents/{incident}/notes"),
        &finance,
        json!({ "body": "no cost impact" }),
    );
    assert_eq!(status, 201);
    let (status, _) = api.post(
        &format!("/api/v1/incidents/{incident}/notes"),
        &reporter_b,
        json!({ "body": "x" }),
    );
    assert_eq!(status, 403, "reporters may not write notes");

    // The audit log has every step (responder view), and hides the steps
    // from the admin.
    let (status, audit) = api.get("/api/v1/audit?limit=1000", &responder);
    assert_eq!(status, 200, "{audit}");
    let steps: Vec<&Value> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["incident_id"] == incident.as_str())
        .collect();
    let actors: Vec<&str> = steps
        .iter()
        .map(|e| e["actor_id"].as_str().unwrap())
        .collect();
    let me = |token: &str| {
        api.get("/api/v1/me", token).1["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    for (who, token) in [
        ("reporter", &reporter_a),
        ("responder", &responder),
        ("finance-ops", &finance),
    ] {
        assert!(
            actors.contains(&me(token).as_str()),
            "{who} is in the audit trail: {steps:?}"
        );
    }
    let status_step = steps
        .iter()
        .find(|e| e["after"].to_string().contains("investigating"))
        .expect("the status change is audited");
    assert!(
        status_step["before"].to_string().contains("triage"),
        "before→after: {status_step}"
    );
    let notes = steps
        .iter()
        .filter(|e| e["after"].to_string().contains("spoke to HR"))
        .count()
        + steps
            .iter()
            .filter(|e| e["after"].to_string().contains("no cost impact"))
            .count();
    assert_eq!(notes, 2, "both notes are audited");
    assert!(
        steps.iter().any(|e| e["entity_id"] == report_id.as_str()),
        "the report is audited"
    );
    let (_, admin_audit) = api.get("/api/v1/audit?limit=1000", &admin);
    assert!(
        admin_audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["incident_id"] != incident.as_str()),
        "the admin's audit view hides the sensitive incident"
    );
    let tamper_seq = status_step["seq"].as_i64().unwrap();

    let verified = run(&["audit", "verify", "--data-dir", &data_str]);
    assert!(
        verified.status.success(),
        "{}{}",
        stdout(&verified),
        String::from_utf8_lossy(&verified.stderr)
    );
    assert!(stdout(&verified).starts_with("OK"));

    // SIGTERM: graceful exit with code 0.
    let status = server.terminate();
    assert_eq!(status.code(), Some(0), "graceful shutdown exits 0");

    // Edit one byte of one audit row; verify fails and names it.
    let db = data.join("watchpost.db");
    let changed = tamper(&db, tamper_seq);
    assert_eq!(changed, 1);
    let verified = run(&["audit", "verify", "--data-dir", &data_str]);
    assert_eq!(verified.status.code(), Some(1), "{}", stdout(&verified));
    let text = stdout(&verified);
    assert!(
        text.contains(&format!("seq {tamper_seq}")),
        "names the entry: {text}"
    );
}

/// Changes one byte ("investigating" → "investigatinG") of the `after`
/// column of audit entry `seq`, with sqlx; returns the rows changed.
fn tamper(db: &Path, seq: i64) -> u64 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use sqlx::ConnectOptions;
        let mut conn = sqlx::sqlite::SqliteConnectOptions::new().filename(db).connect().await.unwrap();
        sqlx::query("UPDATE audit_log SET after_json = replace(after_json, 'investigating', 'investigatinG') WHERE seq = $1")
            .bind(seq)
            .execute(&mut conn)
            .await
            .unwrap()
            .rows_affected()
    })
}

#[test]
fn first_start_writes_the_admin_token_to_a_private_file_once_and_it_works() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let token = server.admin_token().expect("admin token on first start");
    assert!(token.starts_with("wp_") && token.len() == 67, "{token:?}");
    let file = dir.path().join("first-admin-token");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the token file is owner-only");
    let api = Api::new(&server.url);
    let (status, me) = api.get("/api/v1/me", &token);
    assert_eq!(status, 200);
    assert_eq!(me["role"], "admin");
    let (status, health) = api.get("/api/v1/health", "");
    assert_eq!((status, health["status"].as_str()), (200, Some("ok")));
    assert_eq!(server.terminate().code(), Some(0));
    assert!(dir.path().join("watchpost.db").exists());

    let again = Server::start(dir.path(), &[]);
    assert!(
        again.admin_token().is_none(),
        "never printed again: {:?}",
        again.banner
    );
    let (status, _) = Api::new(&again.url).get("/api/v1/me", &token);
    assert_eq!(status, 200, "the first token still works");
    assert_eq!(
        again.signal("-INT").code(),
        Some(0),
        "Ctrl-C is graceful too"
    );
}

#[test]
fn config_errors_name_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("watchpost.toml");
    std::fs::write(
        &config,
        "listen = \"127.0.0.1:0\"\n\n[notify]\nsecurity_tem = \"sec@example.test\"\n",
    )
    .unwrap();
    let output = run(&[
        "serve",
        "--data-dir",
        dir.path().to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("{}:4:", config.display())),
        "{stderr}"
    );
    assert!(stderr.contains("security_tem"), "{stderr}");
}

#[test]
fn users_list_and_disable() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let token = add_user(dir.path(), "carol", "responder");
    let output = run(&["users", "add", "carol", "--role", "admin", "--data-dir", d]);
    assert!(!output.status.success(), "duplicate names are refused");
    let output = run(&["users", "add", "dave", "--role", "root", "--data-dir", d]);
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("finance-ops"),
        "lists the roles"
    );
    let list = stdout(&run(&["users", "list", "--data-dir", d]));
    assert!(
        list.lines()
            .any(|l| l.starts_with("carol") && l.contains("responder") && l.contains("active")),
        "{list}"
    );

    let server = Server::start(dir.path(), &[]);
    assert!(
        server.admin_token().is_none(),
        "users exist: no bootstrap admin"
    );
    let api = Api::new(&server.url);
    assert_eq!(api.get("/api/v1/me", &token).0, 200);
    let disabled = run(&["users", "disable", "carol", "--data-dir", d]);
    assert!(disabled.status.success());
    let (status, body) = api.get("/api/v1/me", &token);
    assert_eq!(status, 401, "a disabled user's token stops working: {body}");
    assert!(stdout(&run(&["users", "list", "--data-dir", d])).contains("disabled"));
    assert_eq!(server.terminate().code(), Some(0));
}

/// Creates a fresh PostgreSQL database on the test server and returns its
/// URL. Panics when `WATCHPOST_TEST_PG_URL` is unset.
fn fresh_postgres() -> String {
    let base = std::env::var("WATCHPOST_TEST_PG_URL").expect(
        "WATCHPOST_TEST_PG_URL is not set: run `eval \"$(scripts/services start)\"` to start PostgreSQL",
    );
    let name = format!(
        "wp_e2e_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&base).await.unwrap();
        // `name` is digits and underscores only: safe to splice.
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .unwrap();
    });
    let (prefix, _) = base.rsplit_once('/').unwrap();
    format!("{prefix}/{name}")
}

#[test]
fn serve_on_postgres_with_users_from_the_cli() {
    let url = fresh_postgres();
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--database-url", &url]);
    assert!(
        server.admin_token().is_some(),
        "first start on an empty database"
    );
    assert!(
        !dir.path().join("watchpost.db").exists(),
        "no SQLite file when PostgreSQL is used"
    );
    // The CLI uses the same data directory as the server: it holds the
    // audit key, which PostgreSQL does not.
    let d = dir.path().to_str().unwrap();
    let output = run(&[
        "users",
        "add",
        "pat",
        "--role",
        "reporter",
        "--database-url",
        &url,
        "--data-dir",
        d,
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let token = stdout(&output).lines().last().unwrap().to_owned();
    let api = Api::new(&server.url);
    let (status, report) = api.post(
        "/api/v1/reports",
        &token,
        json!({ "category": "forgery", "description": "fake invoice" }),
    );
    assert_eq!(status, 201, "{report}");
    let (status, detail) = api.get(
        &format!(
            "/api/v1/incidents/{}",
            report["incident_id"].as_str().unwrap()
        ),
        &token,
    );
    assert_eq!(status, 200, "{detail}");
    let verified = run(&["audit", "verify", "--database-url", &url, "--data-dir", d]);
    assert!(verified.status.success(), "{}", stdout(&verified));
    // Another key (another data directory) is refused, naming the key.
    let elsewhere = tempfile::tempdir().unwrap();
    let refused = run(&[
        "audit",
        "verify",
        "--database-url",
        &url,
        "--data-dir",
        elsewhere.path().to_str().unwrap(),
    ]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("key id"), "{stderr}");
    assert!(
        !elsewhere.path().join("audit.key").exists(),
        "the refused new key file is removed"
    );
    assert_eq!(server.terminate().code(), Some(0));
}

#[test]
fn serve_emails_the_security_team_from_its_config() {
    let smtp = std::env::var("WATCHPOST_TEST_SMTP_ADDR").expect(
        "WATCHPOST_TEST_SMTP_ADDR is not set: run `eval \"$(scripts/services start)\"` to start the SMTP sink",
    );
    let maildir = PathBuf::from(std::env::var("WATCHPOST_TEST_SMTP_MAILDIR").expect(
        "WATCHPOST_TEST_SMTP_MAILDIR is not set: run `eval \"$(scripts/services start)\"` to start the SMTP sink",
    ));
    let (host, port) = smtp.rsplit_once(':').unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("watchpost.toml");
    std::fs::write(
        &config,
        format!(
            "[notify]\nsecurity_team = \"security-e2e@example.test\"\nfinance_ops = \"finance-e2e@example.test\"\n\
             poll_interval_ms = 50\n[notify.smtp]\nhost = \"{host}\"\nport = {port}\ntls = \"none\"\n"
        ),
    )
    .unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data, &["--config", config.to_str().unwrap()]);
    let token = add_user(&data, "quinn", "reporter");
    let (status, report) = Api::new(&server.url).post(
        "/api/v1/reports",
        &token,
        json!({ "category": "physical_injury", "description": "slipped on the stairs" }),
    );
    assert_eq!(status, 201, "{report}");
    let incident = report["incident_id"].as_str().unwrap().to_owned();
    // The worker runs in the server process: wait (bounded) for its mail.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut recipients = Vec::new();
    while std::time::Instant::now() < deadline {
        recipients = std::fs::read_dir(maildir.join("new"))
            .unwrap()
            .flatten()
            .filter_map(|e| std::fs::read_to_string(e.path()).ok())
            .filter(|text| text.contains(&incident))
            .filter_map(|text| {
                text.lines()
                    .find_map(|l| l.strip_prefix("To: "))
                    .map(|t| t.trim().to_owned())
            })
            .collect();
        if recipients.len() >= 2 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    recipients.sort();
    assert_eq!(
        recipients,
        ["finance-e2e@example.test", "security-e2e@example.test"]
    );
    assert_eq!(server.terminate().code(), Some(0));
}

/// A report's words reach the analyst's terminal only escaped: `incidents
/// list` and `show` print OSC 52, CSI, C1 controls, CR and bidi overrides
/// from a report as visible escapes, keep line breaks in the description,
/// and every JSON document the server-facing commands print has each key
/// once.
#[test]
fn incidents_print_report_text_escaped_and_json_keys_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data, &[]);
    let reporter = add_user(&data, "rita", "reporter");
    let responder = add_user(&data, "sam", "responder");
    let description = "laptop gone \u{1b}]52;c;cHduZWQ=\u{7} from room 4\u{1b}[2J\u{1b}[H\u{9b}1A\nsecond line\r\u{202e}fdp.exe";
    let api = |args: &[&str], token: &str| {
        let mut all = args.to_vec();
        all.extend(["--server", &server.url, "--token", token]);
        run(&all)
    };

    let filed = api(
        &[
            "report",
            "--category",
            "theft",
            "--description",
            description,
            "--json",
        ],
        &reporter,
    );
    assert!(
        filed.status.success(),
        "{}",
        String::from_utf8_lossy(&filed.stderr)
    );
    assert_terminal_safe("report --json", &filed);
    assert_unique_keys("report --json", &filed.stdout, false);
    let report: Value = serde_json::from_slice(&filed.stdout).unwrap();
    assert_eq!(report["description"], description, "JSON keeps the text");
    let incident = report["incident_id"].as_str().unwrap().to_owned();

    let list = api(&["incidents", "list"], &responder);
    assert!(
        list.status.success(),
        "{}",
        String::from_utf8_lossy(&list.stderr)
    );
    assert_terminal_safe("incidents list", &list);
    assert!(stdout(&list).contains(&incident), "{}", stdout(&list));

    let show = api(&["incidents", "show", &incident], &responder);
    assert!(
        show.status.success(),
        "{}",
        String::from_utf8_lossy(&show.stderr)
    );
    assert_terminal_safe("incidents show", &show);
    let text = stdout(&show);
    assert!(
        text.contains(
            "laptop gone \\x1b]52;c;cHduZWQ=\\x07 from room 4\\x1b[2J\\x1b[H\\x9b1A\nsecond line\\r\\u{202e}fdp.exe"
        ),
        "{text}"
    );

    for (what, args) in [
        ("incidents list --json", vec!["incidents", "list", "--json"]),
        (
            "incidents show --json",
            vec!["incidents", "show", &incident, "--json"],
        ),
    ] {
        let out = api(&args, &responder);
        assert!(
            out.status.success(),
            "{what}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_terminal_safe(what, &out);
        assert_unique_keys(what, &out.stdout, false);
    }

    // A user name with control characters is refused, and the refusal
    // that quotes it reaches the terminal escaped.
    let d = data.to_str().unwrap();
    let added = run(&[
        "users",
        "add",
        "eve\u{1b}]52;c;Zm9v\u{7}",
        "--role",
        "reporter",
        "--data-dir",
        d,
    ]);
    assert_eq!(added.status.code(), Some(2));
    assert_terminal_safe("users add", &added);
    let err = String::from_utf8_lossy(&added.stderr);
    assert!(err.contains("cannot create user \"eve"), "{err}");
    let listed = run(&["users", "list", "--data-dir", d]);
    assert_terminal_safe("users list", &listed);
    assert!(stdout(&listed).contains("rita"), "{}", stdout(&listed));
    assert_eq!(server.terminate().code(), Some(0));
}

/// Runs the CLI; asserts success and returns stdout.
fn ok(args: &[&str]) -> String {
    let output = run(args);
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout(&output)
}

/// The new token alone on the last line, printed once.
fn last_token(text: &str) -> String {
    let last = text.lines().last().unwrap().to_owned();
    assert!(
        last.starts_with("wp_") && last.len() == 67,
        "token alone on the last line: {text:?}"
    );
    assert_eq!(text.matches(&last).count(), 1, "the token is printed once");
    last
}

#[test]
fn tokens_list_create_revoke_and_rotate_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let first = add_user(dir.path(), "erin", "reporter");
    let expiring = last_token(&ok(&[
        "tokens",
        "create",
        "erin",
        "--expires-in",
        "7",
        "--label",
        "laptop",
        "--data-dir",
        d,
    ]));
    let refused = run(&[
        "tokens",
        "create",
        "erin",
        "--expires-in",
        "0",
        "--data-dir",
        d,
    ]);
    assert!(!refused.status.success(), "0 days is refused");

    let list = ok(&["tokens", "list", "erin", "--data-dir", d]);
    let rows: Vec<&str> = list.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{list}");
    assert!(
        rows[0].contains("active") && rows[0].ends_with("\"cli\""),
        "{list}"
    );
    assert!(
        rows[1].contains("active") && rows[1].ends_with("\"laptop\""),
        "{list}"
    );
    let expires = time::OffsetDateTime::now_utc() + time::Duration::days(7);
    assert!(
        rows[1].contains(&format!(
            "{}-{:02}-{:02}T",
            expires.year(),
            u8::from(expires.month()),
            expires.day()
        )),
        "expires in 7 days: {list}"
    );
    assert!(
        !list.contains(&first[3..]) && !list.contains(&expiring[3..]),
        "no token listed"
    );
    let id_of = |row: &str| row.split_whitespace().next().unwrap().to_owned();
    let (first_id, laptop_id) = (id_of(rows[0]), id_of(rows[1]));

    let server = Server::start(dir.path(), &[]);
    let api = Api::new(&server.url);
    assert_eq!(api.get("/api/v1/me", &expiring).0, 200);

    // Rotate: the old token stops, the new one (same label) works.
    let rotated = last_token(&ok(&["tokens", "rotate", &laptop_id, "--data-dir", d]));
    assert_eq!(api.get("/api/v1/me", &expiring).0, 401);
    assert_eq!(api.get("/api/v1/me", &rotated).0, 200);
    // Revoke one: only that one stops.
    let revoked = ok(&["tokens", "revoke", &first_id, "--data-dir", d]);
    assert!(revoked.contains(&first_id), "{revoked}");
    assert_eq!(api.get("/api/v1/me", &first).0, 401);
    assert_eq!(api.get("/api/v1/me", &rotated).0, 200);
    let again = run(&["tokens", "revoke", &first_id, "--data-dir", d]);
    assert!(!again.status.success(), "already revoked");
    let bad = run(&["tokens", "revoke", "not-a-uuid", "--data-dir", d]);
    assert!(!bad.status.success());

    let list = ok(&["tokens", "list", "erin", "--data-dir", d]);
    let states: Vec<&str> = list
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().nth(1).unwrap())
        .collect();
    assert_eq!(states, ["revoked", "revoked", "active"], "{list}");
    assert_eq!(server.terminate().code(), Some(0));

    // Every action is in the chain, which verifies with the key in the
    // data directory.
    let verified = ok(&["audit", "verify", "--data-dir", d]);
    assert!(verified.starts_with("OK"), "{verified}");
}
