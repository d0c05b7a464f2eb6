//! The stats page in a real headless Chromium (Debian's, driven through
//! its ChromeDriver with fantoccini), against the real `watchpost serve`
//! on port 0:
//!
//! - employees file three reports (three incidents, this week) and a
//!   responder acknowledges two of them and resolves one, through the API;
//! - the responder opens `/stats` from the main navigation: three charts
//!   drawn as inline SVG, each with its table, and the figures seeded;
//! - a bad period is a field error, its summary linking to the field,
//!   which keeps what was typed;
//! - both pages pass axe-core with no serious or critical violation and
//!   are saved as screenshots under the test output
//!   (`target/tmp/screenshots/30-stats.png`, `31-stats-error.png`; the
//!   share chart alone in `32-stats-sla.png`).
//!
//! `scripts/services start` installs Chromium, ChromeDriver and axe-core,
//! starts ChromeDriver on loopback and exports `WATCHPOST_TEST_WEBDRIVER`,
//! `WATCHPOST_TEST_CHROMIUM` and `WATCHPOST_TEST_AXE`. Waits are on the
//! page's state (WebDriver waits for each navigation), never on sleeps.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use support::serve::{BIN, CONFIG, Server, request};

const PASSWORD: &str = "a long enough passphrase";

fn required(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!("{var} is not set: run `eval \"$(scripts/services start)\"` (scripts/test does)")
    })
}

/// Creates a user with a role and a password through the CLI; returns
/// their API token.
fn add_user(data: &Path, name: &str, role: &str) -> String {
    let mut child = Command::new(BIN)
        .args(["users", "add", name, "--role", role, "--password-stdin"])
        .arg("--data-dir")
        .arg(data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{PASSWORD}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
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

/// A fresh headless Chromium with a profile of its own, tall enough for
/// the whole page to be in the screenshot.
async fn browser(profile: &Path) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": required("WATCHPOST_TEST_CHROMIUM"),
            "args": [
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--window-size=1280,3000",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&required("WATCHPOST_TEST_WEBDRIVER"))
        .await
        .expect("a Chromium session through ChromeDriver")
}

fn screenshots() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs axe-core on the current page; returns the serious and critical
/// violations (rule id and the first offending element).
async fn axe(client: &Client, source: &str) -> Vec<String> {
    client.execute(source, vec![]).await.unwrap();
    let result = client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document).then(r => done(r.violations
                 .filter(v => v.impact === 'serious' || v.impact === 'critical')
                 .map(v => v.id + ': ' + (v.nodes[0] ? v.nodes[0].html : ''))));",
            vec![],
        )
        .await
        .unwrap();
    result
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

async fn check_page(client: &Client, axe_source: &str, name: &str) {
    let png = client.screenshot().await.unwrap();
    std::fs::write(screenshots().join(format!("{name}.png")), png).unwrap();
    let violations = axe(client, axe_source).await;
    assert!(violations.is_empty(), "{name}: {violations:#?}");
}

async fn path_of(client: &Client) -> String {
    let url = client.current_url().await.unwrap();
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    }
}

async fn text_of(client: &Client, css: &str) -> String {
    client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .text()
        .await
        .unwrap()
}

async fn type_into(client: &Client, id: &str, text: &str) {
    let field = client
        .find(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("#{id}: {e}"));
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

/// Clicks what `css` finds and waits until the page it leads to has
/// loaded (the current page is marked; the wait ends on a page without
/// the mark).
async fn click_through(client: &Client, css: &str) {
    client
        .execute("document.documentElement.dataset.left = 'yes';", vec![])
        .await
        .unwrap();
    client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap();
    client
        .wait()
        .for_element(Locator::Css("html:not([data-left])"))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_responder_reads_the_stats_page() {
    let axe_source = std::fs::read_to_string(required("WATCHPOST_TEST_AXE")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(dir.path(), &data, CONFIG, &[]);
    let alice = add_user(&data, "alice", "reporter");
    let rita_token = add_user(&data, "rita", "responder");
    let base = format!("http://localhost:{}", server.addr.port());

    // Three reports: three incidents in triage, this week.
    let mut incidents = Vec::new();
    for (category, text) in [
        (
            "theft",
            "My laptop was taken from the train <script>x</script>.",
        ),
        (
            "security_incident",
            "A suspicious email asked for my password.",
        ),
        ("property_damage", "The office door lock is broken."),
    ] {
        let body =
            json!({ "category": category, "description": text, "sensitive": false }).to_string();
        let answer = request(
            server.addr,
            "POST",
            "/api/v1/reports",
            &alice,
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        );
        assert_eq!(
            answer.status,
            201,
            "{}",
            String::from_utf8_lossy(&answer.body)
        );
        incidents.push(answer.json()["incident_id"].as_str().unwrap().to_owned());
    }
    // The responder acknowledges two and resolves one of them.
    for (incident, status) in [
        (&incidents[0], "investigating"),
        (&incidents[1], "investigating"),
        (&incidents[1], "recovered"),
    ] {
        let body = json!({ "status": status }).to_string();
        let answer = request(
            server.addr,
            "POST",
            &format!("/api/v1/incidents/{incident}/status"),
            &rita_token,
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        );
        assert_eq!(
            answer.status,
            200,
            "{}",
            String::from_utf8_lossy(&answer.body)
        );
    }

    let rita = browser(&dir.path().join("rita-profile")).await;
    rita.goto(&format!("{base}/login")).await.unwrap();
    type_into(&rita, "username", "rita").await;
    type_into(&rita, "password", PASSWORD).await;
    click_through(&rita, "form button[type=submit]").await;
    click_through(&rita, "nav a[href='/stats']").await;
    assert_eq!(path_of(&rita).await, "/stats");
    assert_eq!(text_of(&rita, "h1").await, "Response metrics");
    let charts = rita
        .find_all(Locator::Css("svg.chart[role=img]"))
        .await
        .unwrap();
    assert_eq!(charts.len(), 4, "volume, acknowledge, resolve, share");
    // The busiest (and only) week has three incidents, one of each kind.
    let bars = rita
        .find_all(Locator::Css("svg.chart rect[stroke]"))
        .await
        .unwrap();
    assert_eq!(bars.len(), 3);
    assert!(
        text_of(&rita, "#volume-table").await.contains("1 1 1 3"),
        "{}",
        text_of(&rita, "#volume-table").await
    );
    let html = rita.source().await.unwrap();
    assert!(!html.contains("<script>x"));
    check_page(&rita, &axe_source, "30-stats").await;
    // The share chart, at the foot of the page, on its own.
    let sla = rita
        .find(Locator::Css("section[aria-labelledby=sla-heading]"))
        .await
        .unwrap()
        .screenshot()
        .await
        .unwrap();
    std::fs::write(screenshots().join("32-stats-sla.png"), sla).unwrap();

    // A bad period: the error summary links to the field.
    type_into(&rita, "weeks", "sixty").await;
    click_through(&rita, "form[action='/stats'] button[type=submit]").await;
    assert_eq!(path_of(&rita).await, "/stats?weeks=sixty");
    assert_eq!(
        text_of(&rita, ".error-summary a").await,
        "Enter the number of weeks to show as a whole number from 1 to 52."
    );
    let link = rita
        .find(Locator::Css(".error-summary a"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap();
    assert_eq!(link.as_deref(), Some("#weeks"));
    assert_eq!(
        rita.find(Locator::Id("weeks"))
            .await
            .unwrap()
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some("sixty")
    );
    check_page(&rita, &axe_source, "31-stats-error").await;

    rita.close().await.unwrap();
    drop(server);
}
