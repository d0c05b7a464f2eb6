//! The operations pages in a real headless Chromium (Debian's, driven
//! through its ChromeDriver with fantoccini), against the real `watchpost
//! serve` on port 0 with two rules and one rule file that does not load:
//!
//! - a shipper sends three sshd password failures (one stream, and three
//!   detections of the sshd rule);
//! - an admin signs in and opens `/sources`, `/rules`, `/coverage` and
//!   `/audit`: each shows what the server knows (the stream, the hits per
//!   rule and the file that failed with its reason, the rule no stream
//!   feeds, the audit chain intact), passes axe-core with no serious or
//!   critical violation, and is saved as a screenshot under the test
//!   output (`target/tmp/screenshots/20-sources.png`, `21-rules.png`,
//!   `22-coverage.png`, `23-audit.png`);
//! - the admin loads the rules again with the page's button.
//!
//! `scripts/services start` installs Chromium, ChromeDriver and axe-core,
//! starts ChromeDriver on loopback and exports `WATCHPOST_TEST_WEBDRIVER`,
//! `WATCHPOST_TEST_CHROMIUM` and `WATCHPOST_TEST_AXE`. Waits are on the
//! page's state or the server's own answers, never on sleeps.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use support::serve::{BIN, CONFIG, Server, post_events, rfc3164, wait_idle};
use time::OffsetDateTime;

const PASSWORD: &str = "a long enough passphrase";

const SSHD_RULE: &str = "title: sshd password failure
id: 6c0e4d5e-0000-4000-8000-000000000001
level: medium
logsource:
    product: linux
    service: sshd
detection:
    selection:
        message|contains: Failed password
    condition: selection
";

const WINDOWS_RULE: &str = "title: whoami on Windows
id: 6c0e4d5e-0000-4000-8000-000000000003
level: low
logsource:
    product: windows
    category: process_creation
detection:
    selection:
        Image|endswith: '\\whoami.exe'
    condition: selection
";

/// Not a rule: its detection names no condition.
const BROKEN_RULE: &str = "title: broken rule
logsource:
    product: linux
detection:
    selection:
        message: x
";

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

/// A fresh headless Chromium with a profile of its own.
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
                "--window-size=1280,1000",
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
    client
        .find(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("#{id}: {e}"))
        .send_keys(text)
        .await
        .unwrap();
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
async fn an_admin_reads_the_operations_pages() {
    let axe_source = std::fs::read_to_string(required("WATCHPOST_TEST_AXE")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    for (name, text) in [
        ("sshd.yml", SSHD_RULE),
        ("windows.yml", WINDOWS_RULE),
        ("broken.yml", BROKEN_RULE),
    ] {
        std::fs::write(rules.join(name), text).unwrap();
    }
    let server = Server::start(
        dir.path(),
        &data,
        CONFIG,
        &["--no-policy", "-r", rules.to_str().unwrap()],
    );
    let admin_token = add_user(&data, "adam", "admin");
    let shipper = support::serve::add_user(&data, "shipper", "ingest");
    let base = format!("http://localhost:{}", server.addr.port());

    // Three sshd password failures on bastion.
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let lines: Vec<String> = (0..3)
        .map(|n| {
            format!(
                "{} bastion sshd[{}]: Failed password for root from 203.0.113.9 port {} ssh2",
                rfc3164(now),
                4000 + n,
                50_000 + n
            )
        })
        .collect();
    post_events(
        server.addr,
        &shipper,
        "?format=syslog&source=auth.log",
        (lines.join("\n") + "\n").as_bytes(),
    );
    wait_idle(server.addr, &admin_token);

    let adam = browser(&dir.path().join("adam-profile")).await;
    adam.goto(&format!("{base}/login")).await.unwrap();
    type_into(&adam, "username", "adam").await;
    type_into(&adam, "password", PASSWORD).await;
    click_through(&adam, "form button[type=submit]").await;
    assert_eq!(path_of(&adam).await, "/report");

    // Sources: the shipper's source and its stream, sending.
    adam.goto(&format!("{base}/sources")).await.unwrap();
    let sources = text_of(&adam, "#sources").await;
    assert!(sources.contains("shipper/auth.log"), "{sources}");
    assert!(sources.contains("Sending"), "{sources}");
    let streams = text_of(&adam, "#streams").await;
    assert!(streams.contains("host bastion"), "{streams}");
    check_page(&adam, &axe_source, "20-sources").await;

    // Rules: two run, one file failed (with why), three detections of
    // the sshd rule.
    adam.goto(&format!("{base}/rules")).await.unwrap();
    assert_eq!(text_of(&adam, "#rules-running").await, "2");
    assert_eq!(text_of(&adam, "#rules-failed").await, "1");
    assert_eq!(text_of(&adam, "#detections-total").await, "3");
    let failed = text_of(&adam, "#rule-errors").await;
    assert!(failed.contains("broken.yml"), "{failed}");
    let sshd = text_of(&adam, "#rules tbody tr:nth-child(1)").await;
    let windows = text_of(&adam, "#rules tbody tr:nth-child(2)").await;
    assert!(sshd.starts_with("sshd password failure"), "{sshd}");
    let hits = text_of(&adam, "#rules tbody tr:nth-child(1) td:nth-of-type(4)").await;
    assert_eq!(hits, "3", "{sshd}");
    assert!(windows.starts_with("whoami on Windows"), "{windows}");
    assert!(windows.contains("None"), "{windows}");
    check_page(&adam, &axe_source, "21-rules").await;
    // Load the rules again: back on the page, which says so.
    click_through(&adam, "form#reload button").await;
    assert_eq!(path_of(&adam).await, "/rules?reloaded=1");
    let notice = text_of(&adam, "p.notice").await;
    assert_eq!(notice, "The rules were loaded again. 2 rules now run.");

    // Coverage: the stream feeds the sshd rule; the Windows rule has no
    // stream.
    adam.goto(&format!("{base}/coverage")).await.unwrap();
    let coverage = text_of(&adam, "#coverage").await;
    assert!(coverage.contains("shipper/auth.log"), "{coverage}");
    assert!(coverage.contains("sshd password failure"), "{coverage}");
    let idle = text_of(&adam, "#idle-rules").await;
    assert!(idle.contains("whoami on Windows"), "{idle}");
    assert!(!idle.contains("sshd"), "{idle}");
    check_page(&adam, &axe_source, "22-coverage").await;

    // Audit: the chain is intact; the newest entry is the admin's sign-in.
    adam.goto(&format!("{base}/audit")).await.unwrap();
    let chain = text_of(&adam, "#chain").await;
    assert!(chain.starts_with("Chain intact:"), "{chain}");
    let newest = text_of(&adam, "#audit tbody tr:nth-child(1)").await;
    assert!(newest.contains("session.create"), "{newest}");
    check_page(&adam, &axe_source, "23-audit").await;
    // Filtered to user entries: the filter stays in the URL.
    type_into(&adam, "entity", "user").await;
    click_through(&adam, "form.filters button[type=submit]").await;
    assert_eq!(path_of(&adam).await, "/audit?action=&entity=user");
    let rows = text_of(&adam, "#audit tbody").await;
    assert!(rows.contains("user.create"), "{rows}");
    assert!(!rows.contains("session.create"), "{rows}");

    adam.close().await.unwrap();
    drop(server);
}
