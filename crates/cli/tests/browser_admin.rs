//! The users-and-roles page in a real headless Chromium (Debian's, driven
//! through its ChromeDriver with fantoccini), against the real `watchpost
//! serve` on port 0:
//!
//! - an admin adds a user with a first password on `/admin/users` (and
//!   first sees the field errors of a bad try, what was typed kept), then
//!   asks for the user to get the need-to-know `finance-ops` role;
//! - the admin is offered no Approve button: the route table lets only a
//!   responder approve, and the store wants a second person; a responder
//!   approves it on the same page, and the user then has the role;
//! - the admin disables another user through the confirmation page;
//! - each page passes axe-core with no serious or critical violation and
//!   is saved as a screenshot under the test output
//!   (`target/tmp/screenshots/40-admin-users.png` to `44-admin-done.png`).
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
use support::serve::{BIN, CONFIG, Server, get};

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

async fn choose(client: &Client, id: &str, value: &str) {
    client
        .find(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("#{id}: {e}"))
        .select_by_value(value)
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
async fn an_admin_adds_a_user_and_a_responder_approves_their_role() {
    let axe_source = std::fs::read_to_string(required("WATCHPOST_TEST_AXE")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(dir.path(), &data, CONFIG, &[]);
    let adam_token = add_user(&data, "adam", "admin");
    add_user(&data, "rita", "responder");
    add_user(&data, "bob", "reporter");
    let base = format!("http://localhost:{}", server.addr.port());

    // Adam opens the page from the navigation.
    let adam = browser(&dir.path().join("adam-profile")).await;
    sign_in(&adam, &base, "adam").await;
    click_through(&adam, "nav a[href='/admin/users']").await;
    assert_eq!(path_of(&adam).await, "/admin/users");
    let users = text_of(&adam, "table.admin-users tbody").await;
    for name in ["adam", "bob", "rita"] {
        assert!(users.contains(name), "{users}");
    }
    check_page(&adam, &axe_source, "40-admin-users").await;

    // A bad try: a password too short. The error is summarised and next
    // to the field; the name and role typed are kept.
    type_into(&adam, "name", "carol").await;
    choose(&adam, "role", "reporter").await;
    type_into(&adam, "password", "short").await;
    click_through(&adam, "form[action='/admin/users'] button").await;
    assert_eq!(
        text_of(&adam, "#password-error").await,
        "Choose another password: a password needs at least 12 characters."
    );
    assert!(
        text_of(&adam, ".error-summary")
            .await
            .contains("Choose another password")
    );
    let kept = adam
        .find(Locator::Id("name"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap();
    assert_eq!(kept.as_deref(), Some("carol"));
    check_page(&adam, &axe_source, "41-admin-users-errors").await;

    // Now with a good password.
    type_into(&adam, "password", PASSWORD).await;
    click_through(&adam, "form[action='/admin/users'] button").await;
    assert_eq!(path_of(&adam).await, "/admin/users?done=added&user=carol");
    assert_eq!(
        text_of(&adam, "p.notice").await,
        "carol was added as reporter."
    );

    // Adam asks for carol to become finance-ops.
    type_into(&adam, "grant-user", "carol").await;
    choose(&adam, "grant-role", "finance-ops").await;
    click_through(&adam, "form[action='/admin/users/grants'] button").await;
    assert_eq!(
        path_of(&adam).await,
        "/admin/users?done=requested&user=carol"
    );
    let pending = text_of(&adam, "#pending-grants tbody").await;
    assert!(pending.contains("carol"), "{pending}");
    assert!(pending.contains("finance-ops"), "{pending}");
    assert!(pending.contains("adam"), "{pending}");
    // An admin is offered no Approve button.
    assert!(
        adam.find_all(Locator::Css("form[action$='/approve']"))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(pending.contains("A responder approves."), "{pending}");

    // Rita (responder) approves it.
    let rita = browser(&dir.path().join("rita-profile")).await;
    sign_in(&rita, &base, "rita").await;
    rita.goto(&format!("{base}/admin/users")).await.unwrap();
    // She sees the requests, not the user list.
    assert!(
        rita.find_all(Locator::Css("table.admin-users"))
            .await
            .unwrap()
            .is_empty()
    );
    check_page(&rita, &axe_source, "42-admin-grants-responder").await;
    click_through(&rita, "form[action$='/approve'] button").await;
    assert_eq!(
        path_of(&rita).await,
        "/admin/users?done=approved&user=carol"
    );
    assert!(
        text_of(&rita, "p.notice")
            .await
            .starts_with("carol is now finance-ops.")
    );
    let decided = text_of(&rita, "#decided-grants tbody").await;
    assert!(decided.contains("Approved"), "{decided}");
    assert!(decided.contains("rita"), "{decided}");
    check_page(&rita, &axe_source, "43-admin-approved").await;

    // The API says the same: carol is finance-ops.
    let answer = get(server.addr, "/api/v1/users", &adam_token);
    assert_eq!(answer.status, 200);
    let users = answer.json();
    let carol = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == "carol")
        .unwrap();
    assert_eq!(carol["role"], "finance-ops");

    // Carol signs in with the password adam set.
    let carol = browser(&dir.path().join("carol-profile")).await;
    sign_in(&carol, &base, "carol").await;

    // Adam disables bob, through the confirmation.
    adam.goto(&format!("{base}/admin/users")).await.unwrap();
    click_through(
        &adam,
        "a.disable-link[href='/admin/users/disable?user=bob']",
    )
    .await;
    assert_eq!(text_of(&adam, "h1").await, "Disable bob?");
    check_page(&adam, &axe_source, "44-admin-disable").await;
    click_through(&adam, "form.confirm-disable button").await;
    assert_eq!(path_of(&adam).await, "/admin/users?done=disabled&user=bob");
    let users = text_of(&adam, "table.admin-users tbody").await;
    let bob_row = users
        .lines()
        .find(|l| l.starts_with("bob"))
        .unwrap_or_else(|| panic!("{users}"));
    assert!(bob_row.contains("Disabled"), "{bob_row}");
    check_page(&adam, &axe_source, "45-admin-done").await;

    for client in [adam, rita, carol] {
        client.close().await.unwrap();
    }
    drop(server);
}
