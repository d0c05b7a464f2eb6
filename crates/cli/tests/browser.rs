//! The web pages in a real headless Chromium (Debian's, driven through its
//! ChromeDriver with fantoccini), against the real `watchpost serve` on
//! port 0:
//!
//! - an employee signs in, files a sensitive report on the form, and finds
//!   it with its tracking number in "My reports";
//! - a second employee signs in and can find it on no page;
//! - a form posted to watchpost from a page of another origin is refused,
//!   and files nothing;
//! - every page passes axe-core with no serious or critical violation;
//! - each page is saved as a screenshot under the test output
//!   (`target/tmp/screenshots/`).
//!
//! `scripts/services start` installs Chromium, ChromeDriver and axe-core,
//! starts ChromeDriver on loopback and exports `WATCHPOST_TEST_WEBDRIVER`,
//! `WATCHPOST_TEST_CHROMIUM` and `WATCHPOST_TEST_AXE`. Waits are on the
//! page's state (WebDriver waits for each navigation), never on sleeps.

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
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

/// Creates a reporter with a password through the CLI.
fn add_reporter(data: &Path, name: &str) {
    let mut child = Command::new(BIN)
        .args([
            "users",
            "add",
            name,
            "--role",
            "reporter",
            "--password-stdin",
        ])
        .arg("--data-dir")
        .arg(data)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
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

/// Where screenshots go: the test output, not the repository.
fn screenshots() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Saves a screenshot of the current page as `name.png`.
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

/// Checks the current page with axe and saves its screenshot.
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

/// Clicks what `css` finds and waits until the page it leads to has
/// loaded: the current page is marked, and the wait ends when the page in
/// the window is one without the mark.
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
    client.goto(&format!("{base}/report")).await.unwrap();
    assert_eq!(path_of(client).await, "/login", "anonymous: to sign-in");
    client
        .find(Locator::Id("username"))
        .await
        .unwrap()
        .send_keys(name)
        .await
        .unwrap();
    client
        .find(Locator::Id("password"))
        .await
        .unwrap()
        .send_keys(PASSWORD)
        .await
        .unwrap();
    click_through(client, "form button[type=submit]").await;
    assert_eq!(
        path_of(client).await,
        "/report",
        "signed in as {name}: {}",
        client.source().await.unwrap_or_default()
    );
}

/// Serves one page that posts a form to `target` (another origin: another
/// port), for as many requests as come until the test ends.
fn attacker_page(target: &str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let html = format!(
        "<!doctype html><title>free prizes</title>\
         <form method=post action=\"{target}/report\">\
         <input name=csrf value=guess><input name=category value=theft>\
         <input name=description value=\"forged report\">\
         <button id=go type=submit>Win</button></form>"
    );
    let answer = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{html}",
        html.len()
    );
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            let answer = answer.clone();
            // A thread each: the browser opens connections ahead of use
            // that send nothing for a while.
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                if stream.read(&mut buf).is_ok_and(|n| n > 0) {
                    let _ = stream.write_all(answer.as_bytes());
                }
            });
        }
    });
    format!("http://localhost:{}/", addr.port())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_employee_reports_something_sensitive_and_only_they_see_it() {
    let axe_source = std::fs::read_to_string(required("WATCHPOST_TEST_AXE")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(dir.path(), &data, CONFIG, &[]);
    add_reporter(&data, "alice");
    add_reporter(&data, "bob");
    // `localhost`: a browser keeps a `Secure` cookie over plain HTTP only
    // there.
    let base = format!("http://localhost:{}", server.addr.port());

    let alice = browser(&dir.path().join("alice-profile")).await;
    alice.goto(&format!("{base}/login")).await.unwrap();
    check_page(&alice, &axe_source, "01-login").await;
    sign_in(&alice, &base, "alice").await;
    check_page(&alice, &axe_source, "02-report-form").await;

    // Sent empty: the errors, next to their fields, and nothing filed.
    click_through(&alice, "form button[type=submit]").await;
    assert_eq!(path_of(&alice).await, "/report");
    assert_eq!(
        text_of(&alice, "#category-error").await,
        "Choose what kind of event this is."
    );
    check_page(&alice, &axe_source, "03-report-form-errors").await;

    // The sensitive report.
    alice
        .find(Locator::Id("category-harassment"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    alice
        .find(Locator::Id("sensitive"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    alice
        .find(Locator::Id("location"))
        .await
        .unwrap()
        .send_keys("3rd floor kitchen")
        .await
        .unwrap();
    alice
        .find(Locator::Id("description"))
        .await
        .unwrap()
        .send_keys("A colleague keeps making remarks about me <b>every day</b>.")
        .await
        .unwrap();
    click_through(&alice, "form button[type=submit]").await;
    let landed = path_of(&alice).await;
    let id = landed
        .strip_prefix("/my-reports?filed=")
        .unwrap_or_else(|| panic!("landed on {landed}"))
        .to_owned();
    assert_eq!(text_of(&alice, ".notice .tracking").await, id);
    let row = text_of(&alice, "tbody tr").await;
    assert!(row.contains(&id), "{row}");
    assert!(row.contains("Harassment sensitive"), "{row}");
    assert!(row.contains("triage"), "{row}");
    // Typed markup is shown as text.
    assert!(row.contains("<b>every day</b>"), "{row}");
    check_page(&alice, &axe_source, "04-my-reports").await;

    // A form on another origin of the same site (another port): the
    // browser sends the session cookie, and the origin check refuses it.
    let attacker = attacker_page(&base);
    alice.goto(&attacker).await.unwrap();
    click_through(&alice, "#go").await;
    // The answer replaces the attacker's page (which has no heading).
    let heading = alice
        .wait()
        .for_element(Locator::Css("h1"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(heading, "Refused");
    let refused = alice.source().await.unwrap();
    assert!(
        refused.contains("This form was sent from another site"),
        "{refused}"
    );
    shoot(&alice, "05-cross-origin-refused").await;
    // From another site (127.0.0.1 is not localhost's site), the browser
    // does not even send the session cookie with the POST: it is an
    // anonymous request, sent to sign in.
    let other_site = attacker.replace("localhost", "127.0.0.1");
    alice.goto(&other_site).await.unwrap();
    click_through(&alice, "#go").await;
    alice.wait().for_element(Locator::Css("h1")).await.unwrap();
    alice.goto(&format!("{base}/my-reports")).await.unwrap();
    let rows = alice.find_all(Locator::Css("tbody tr")).await.unwrap();
    assert_eq!(rows.len(), 1, "neither forged report was filed");

    // A page that does not exist.
    alice.goto(&format!("{base}/no-such-page")).await.unwrap();
    assert_eq!(text_of(&alice, "h1").await, "Not found");
    check_page(&alice, &axe_source, "06-not-found").await;
    alice.goto(&format!("{base}/logout")).await.unwrap();
    check_page(&alice, &axe_source, "07-logout").await;

    // Bob finds Alice's report nowhere.
    let bob = browser(&dir.path().join("bob-profile")).await;
    sign_in(&bob, &base, "bob").await;
    for path in [
        "/my-reports".to_owned(),
        format!("/my-reports?filed={id}"),
        format!("/incidents/{id}"),
    ] {
        bob.goto(&format!("{base}{path}")).await.unwrap();
        let html = bob.source().await.unwrap();
        assert!(!html.contains(&id), "{path}: {html}");
        assert!(!html.contains("colleague"), "{path}: {html}");
    }
    shoot(&bob, "08-bob-my-reports").await;

    // Signing out ends Alice's session.
    alice.goto(&format!("{base}/logout")).await.unwrap();
    click_through(&alice, "main form button[type=submit]").await;
    assert_eq!(path_of(&alice).await, "/login");
    alice.goto(&format!("{base}/my-reports")).await.unwrap();
    assert_eq!(path_of(&alice).await, "/login");

    alice.close().await.unwrap();
    bob.close().await.unwrap();
    drop(server);
}
