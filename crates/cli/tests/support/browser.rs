//! The helpers of the browser tests: users made through the CLI, a
//! headless Chromium driven through ChromeDriver with fantoccini, axe-core
//! checks and screenshots, and the small steps every page test takes.
//!
//! `scripts/services start` installs Chromium, ChromeDriver and axe-core,
//! starts ChromeDriver on loopback and exports `WATCHPOST_TEST_WEBDRIVER`,
//! `WATCHPOST_TEST_CHROMIUM` and `WATCHPOST_TEST_AXE`. Waits are on the
//! page's state, never on sleeps.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use super::serve::{BIN, token_of};

/// The password of every user the browser tests create.
pub const PASSWORD: &str = "a long enough passphrase";

/// The value of an environment variable `scripts/services start` exports.
pub fn required(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!("{var} is not set: run `eval \"$(scripts/services start)\"` (scripts/test does)")
    })
}

/// Creates a user with a role and [`PASSWORD`] through the CLI; returns
/// their API token.
pub fn add_user(data: &Path, name: &str, role: &str) -> String {
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
    token_of(&child.wait_with_output().unwrap())
}

/// A fresh headless Chromium with a profile of its own and a 1280x1000
/// window.
pub async fn browser(profile: &Path) -> Client {
    browser_of_height(profile, 1000).await
}

/// A fresh headless Chromium with a profile of its own and a window 1280
/// wide and `height` high.
pub async fn browser_of_height(profile: &Path, height: u32) -> Client {
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
                format!("--window-size=1280,{height}"),
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

/// Where screenshots go: the test output, not the repository.
pub fn screenshots() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Saves a screenshot of the current page as `name.png`.
pub async fn shoot(client: &Client, name: &str) {
    let png = client.screenshot().await.unwrap();
    std::fs::write(screenshots().join(format!("{name}.png")), png).unwrap();
}

/// Runs axe-core on the current page; returns the serious and critical
/// violations (rule id and the first offending element).
pub async fn axe(client: &Client, source: &str) -> Vec<String> {
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

/// Saves the current page's screenshot as `name.png` and checks it with
/// axe.
pub async fn check_page(client: &Client, axe_source: &str, name: &str) {
    shoot(client, name).await;
    let violations = axe(client, axe_source).await;
    assert!(violations.is_empty(), "{name}: {violations:#?}");
}

/// The path and query of the current page.
pub async fn path_of(client: &Client) -> String {
    let url = client.current_url().await.unwrap();
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    }
}

/// The text of the first element `css` finds.
pub async fn text_of(client: &Client, css: &str) -> String {
    client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .text()
        .await
        .unwrap()
}

/// The element with the id `id`; fails naming it when there is none.
pub async fn by_id(client: &Client, id: &str) -> Element {
    client
        .find(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("#{id}: {e}"))
}

/// Types `text` into the field with the id `id`, after what it holds.
pub async fn type_into(client: &Client, id: &str, text: &str) {
    by_id(client, id).await.send_keys(text).await.unwrap();
}

/// Empties the field with the id `id`, then types `text` into it.
pub async fn replace_text(client: &Client, id: &str, text: &str) {
    let field = by_id(client, id).await;
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

/// Selects the option with `value` in the select with the id `id`.
pub async fn choose(client: &Client, id: &str, value: &str) {
    by_id(client, id)
        .await
        .select_by_value(value)
        .await
        .unwrap();
}

/// Clicks what `css` finds; fails naming `css` when it finds nothing.
pub async fn click(client: &Client, css: &str) {
    client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap();
}

/// Clicks what `css` finds and waits until the page it leads to has
/// loaded: the current page is marked, and the wait ends when the page in
/// the window is one without the mark.
pub async fn click_through(client: &Client, css: &str) {
    client
        .execute("document.documentElement.dataset.left = 'yes';", vec![])
        .await
        .unwrap();
    click(client, css).await;
    client
        .wait()
        .for_element(Locator::Css("html:not([data-left])"))
        .await
        .unwrap();
}

/// Signs `name` in with [`PASSWORD`] on the sign-in page at `base` and
/// asserts that they land on `landing`.
pub async fn sign_in(client: &Client, base: &str, name: &str, landing: &str) {
    client.goto(&format!("{base}/login")).await.unwrap();
    type_into(client, "username", name).await;
    type_into(client, "password", PASSWORD).await;
    click_through(client, "form button[type=submit]").await;
    assert_eq!(path_of(client).await, landing, "signed in as {name}");
}
