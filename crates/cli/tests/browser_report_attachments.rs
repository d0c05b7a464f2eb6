//! Attachments on the report form in a real headless Chromium (Debian's,
//! driven through its ChromeDriver with fantoccini), against the real
//! `watchpost serve` on port 0: an employee signs in, fills the form,
//! attaches a small file through the file input (its absolute path typed
//! into it, as WebDriver does), sends it, and sees the tracking number and
//! the file's name; the report form and the confirmation pass axe-core
//! with no serious or critical violation, and the confirmation is saved as
//! `target/tmp/screenshots/50-report-attachment.png` (the filled form as
//! `51-report-attachment-form.png`).
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
use support::serve::{BIN, CONFIG, Server};

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

async fn shoot(client: &Client, name: &str) {
    let png = client.screenshot().await.unwrap();
    std::fs::write(screenshots().join(format!("{name}.png")), png).unwrap();
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
    shoot(client, name).await;
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

async fn sign_in(client: &Client, base: &str, name: &str) {
    client.goto(&format!("{base}/login")).await.unwrap();
    type_into(client, "username", name).await;
    type_into(client, "password", PASSWORD).await;
    click_through(client, "form button[type=submit]").await;
    assert_eq!(path_of(client).await, "/report", "signed in as {name}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_filed_with_a_file_shows_its_tracking_number_and_the_file() {
    let axe_source = std::fs::read_to_string(required("WATCHPOST_TEST_AXE")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(dir.path(), &data, CONFIG, &[]);
    add_user(&data, "alice", "reporter");
    let base = format!("http://localhost:{}", server.addr.port());
    let file = dir.path().join("door-photo <1>.txt");
    std::fs::write(&file, b"the side door was propped open\n").unwrap();

    let alice = browser(&dir.path().join("alice-profile")).await;
    sign_in(&alice, &base, "alice").await;
    let hint = text_of(&alice, "#attachments-hint").await;
    assert_eq!(hint, "Up to 20 files, at most 10 MB each and 10 MB in all.");
    alice
        .find(Locator::Id("category-security_incident"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    type_into(&alice, "location", "Side door, building B").await;
    type_into(
        &alice,
        "description",
        "The side door was propped open all night.",
    )
    .await;
    alice
        .find(Locator::Id("attachments"))
        .await
        .unwrap()
        .send_keys(file.to_str().unwrap())
        .await
        .unwrap();
    check_page(&alice, &axe_source, "51-report-attachment-form").await;
    click_through(&alice, "form[action='/report'] button[type=submit]").await;
    let landed = path_of(&alice).await;
    let report = landed
        .strip_prefix("/my-reports?filed=")
        .unwrap_or_else(|| panic!("landed on {landed}"))
        .to_owned();
    assert_eq!(report.len(), 36, "a UUID: {report}");
    let notice = text_of(&alice, "p.notice").await;
    assert_eq!(
        notice,
        format!(
            "Thank you. Your report was filed. Its tracking number is {report}. Attached: door-photo <1>.txt."
        )
    );
    let row = text_of(&alice, "table tbody tr").await;
    assert!(row.contains("door-photo <1>.txt"), "{row}");
    check_page(&alice, &axe_source, "50-report-attachment").await;
    alice.close().await.unwrap();
}
