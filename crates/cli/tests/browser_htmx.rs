//! htmx on the incident queue in a real headless Chromium (Debian's,
//! driven through its ChromeDriver with fantoccini), against the real
//! `watchpost serve` on port 0:
//!
//! - htmx 2 is loaded from `/static/htmx.min.js` under a CSP that allows
//!   only `script-src 'self'`: no inline or evaluated script, no injected
//!   style, and no CSP violation at all (a violation listener and a
//!   buffered `ReportingObserver` record none; a deliberate one at the end
//!   shows they would);
//! - filtering the queue swaps the page's main content in place (a mark
//!   left on `window` survives: no full navigation), puts the filter in
//!   the URL exactly as the plain GET form would, and shows the expected
//!   rows; a filter the server refuses (422) shows its error summary the
//!   same way;
//! - Back reloads the previous filter's queue from the server (htmx keeps
//!   no copy of the page in `localStorage`);
//! - the alert queue's filter, and the incident queue's pager ("Next
//!   page", "First page" over 51 incidents), swap in place the same way;
//! - the filtered queue passes axe-core with no serious or critical
//!   violation, saved as `target/tmp/screenshots/30-incidents-htmx.png`.
//!
//! `scripts/services start` installs Chromium, ChromeDriver and axe-core,
//! starts ChromeDriver on loopback and exports `WATCHPOST_TEST_WEBDRIVER`,
//! `WATCHPOST_TEST_CHROMIUM` and `WATCHPOST_TEST_AXE`. Waits are on the
//! page's state (WebDriver waits), never on sleeps.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
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

async fn run(client: &Client, script: &str) -> Value {
    client.execute(script, vec![]).await.unwrap()
}

/// Clicks what `css` finds and waits until the page it leads to has
/// loaded (a full navigation: the mark on the current document is gone).
async fn click_through(client: &Client, css: &str) {
    run(client, "document.documentElement.dataset.left = 'yes';").await;
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

/// Clicks what `css` finds and waits until htmx has swapped the main
/// content (the mark on the current `<main>` is gone) and the URL is
/// `path`.
async fn click_and_swap(client: &Client, css: &str, path: &str) {
    run(
        client,
        "document.getElementById('main').dataset.old = 'yes';",
    )
    .await;
    client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap();
    client
        .wait()
        .for_element(Locator::Css("main#main:not([data-old])"))
        .await
        .unwrap();
    let url = client.current_url().await.unwrap().join(path).unwrap();
    client.wait().for_url(&url).await.unwrap();
}

/// Starts recording CSP violations in this document (a listener, and a
/// `ReportingObserver` that also gets the ones queued before it).
async fn record_violations(client: &Client) {
    run(
        client,
        "window.__violations = [];
         document.addEventListener('securitypolicyviolation',
             e => window.__violations.push('event ' + e.violatedDirective + ' ' + e.blockedURI));
         new ReportingObserver(reports => reports.forEach(r =>
             window.__violations.push('report ' + r.body.effectiveDirective + ' ' + r.body.blockedURL)),
             { types: ['csp-violation'], buffered: true }).observe();",
    )
    .await;
}

/// The violations recorded so far (the observer's are delivered after a
/// task: ask it for its queue first).
async fn violations(client: &Client) -> Vec<String> {
    let v = client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             setTimeout(() => done(window.__violations), 0);",
            vec![],
        )
        .await
        .unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

async fn row_titles(client: &Client) -> Vec<String> {
    let mut titles = Vec::new();
    for a in client
        .find_all(Locator::Css("table.queue tbody tr th a"))
        .await
        .unwrap()
    {
        titles.push(a.text().await.unwrap());
    }
    titles.sort();
    titles
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filtering_the_queue_swaps_its_results_in_place_under_a_strict_csp() {
    let axe_source = std::fs::read_to_string(required("WATCHPOST_TEST_AXE")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(dir.path(), &data, CONFIG, &[]);
    let rita_token = add_user(&data, "rita", "responder");
    let base = format!("http://localhost:{}", server.addr.port());

    // Three reports filed through the API: each opens an incident.
    for (category, description) in [
        ("theft", "Laptop gone from desk 4"),
        ("property_damage", "Window broken in the bike shed"),
        ("theft", "Bike taken from the rack"),
    ] {
        let body = json!({ "category": category, "description": description }).to_string();
        let answer = request(
            server.addr,
            "POST",
            "/api/v1/reports",
            &rita_token,
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        );
        assert!(
            answer.status == 200 || answer.status == 201,
            "{}: {}",
            answer.status,
            String::from_utf8_lossy(&answer.body)
        );
    }

    let rita = browser(&dir.path().join("rita-profile")).await;
    rita.goto(&format!("{base}/login")).await.unwrap();
    type_into(&rita, "username", "rita").await;
    type_into(&rita, "password", PASSWORD).await;
    click_through(&rita, "form button[type=submit]").await;
    assert_eq!(path_of(&rita).await, "/report");

    rita.goto(&format!("{base}/incidents")).await.unwrap();
    record_violations(&rita).await;
    // htmx 2 is loaded, configured without eval, and injected no style.
    assert_eq!(
        run(
            &rita,
            "return [typeof htmx === 'object' && htmx.version, htmx.config.allowEval,
                     htmx.config.allowScriptTags, htmx.config.includeIndicatorStyles,
                     htmx.config.historyCacheSize,
                     document.querySelectorAll('style, [style]').length];"
        )
        .await,
        json!(["2.0.11", false, false, false, 0, 0])
    );
    assert_eq!(
        row_titles(&rita).await,
        [
            "property_damage report: Window broken in the bike shed",
            "theft report: Bike taken from the rack",
            "theft report: Laptop gone from desk 4",
        ]
    );
    assert_eq!(text_of(&rita, "p.count").await, "3 incidents.");

    // Filter to theft: the main content is swapped, the page stays.
    run(&rita, "window.__stay = 1;").await;
    choose(&rita, "category", "theft").await;
    click_and_swap(
        &rita,
        "form.filters button[type=submit]",
        "/incidents?status=&severity=&category=theft&owner=&source=&sensitive=&q=",
    )
    .await;
    assert_eq!(run(&rita, "return window.__stay;").await, json!(1));
    assert_eq!(
        path_of(&rita).await,
        "/incidents?status=&severity=&category=theft&owner=&source=&sensitive=&q="
    );
    assert_eq!(
        row_titles(&rita).await,
        [
            "theft report: Bike taken from the rack",
            "theft report: Laptop gone from desk 4",
        ]
    );
    assert_eq!(
        text_of(&rita, "p.count").await,
        "2 incidents match these filters."
    );
    // The form shows the filter, and focus is back on its button.
    assert_eq!(
        run(
            &rita,
            "return [document.getElementById('category').value, document.activeElement.id,
                     document.querySelectorAll('main').length];"
        )
        .await,
        json!(["theft", "filter", 1])
    );
    let png = rita.screenshot().await.unwrap();
    std::fs::write(screenshots().join("30-incidents-htmx.png"), png).unwrap();
    let found = axe(&rita, &axe_source).await;
    assert!(found.is_empty(), "{found:#?}");

    // A filter the server refuses (422) is shown in place too.
    type_into(&rita, "owner", "nosuchuser").await;
    click_and_swap(
        &rita,
        "form.filters button[type=submit]",
        "/incidents?status=&severity=&category=theft&owner=nosuchuser&source=&sensitive=&q=",
    )
    .await;
    assert_eq!(run(&rita, "return window.__stay;").await, json!(1));
    assert!(
        text_of(&rita, ".error-summary")
            .await
            .contains("There is no user called nosuchuser that you can see."),
    );
    assert_eq!(
        text_of(&rita, "#owner-error").await,
        "There is no user called nosuchuser that you can see."
    );
    assert!(row_titles(&rita).await.is_empty());

    // No CSP violation so far.
    assert_eq!(violations(&rita).await, Vec::<String>::new());
    // The recorder works: an image from elsewhere is refused and recorded.
    run(
        &rita,
        "const i = document.createElement('img'); i.alt = ''; i.src = 'https://example.invalid/x.png';
         document.body.appendChild(i);",
    )
    .await;
    client_wait_for_violation(&rita).await;
    let seen = violations(&rita).await;
    assert!(
        seen.iter()
            .any(|v| v == "event img-src https://example.invalid/x.png"),
        "{seen:?}"
    );

    // Back: htmx keeps no copy of the page, so the browser reloads the
    // earlier URL from the server (a full load).
    run(&rita, "document.documentElement.dataset.left = 'yes';").await;
    rita.back().await.unwrap();
    rita.wait()
        .for_element(Locator::Css("html:not([data-left])"))
        .await
        .unwrap();
    assert_eq!(
        path_of(&rita).await,
        "/incidents?status=&severity=&category=theft&owner=&source=&sensitive=&q="
    );
    assert_eq!(run(&rita, "return window.__stay;").await, Value::Null);
    assert_eq!(
        run(&rita, "return localStorage.getItem('htmx-history-cache');").await,
        Value::Null
    );
    assert_eq!(row_titles(&rita).await.len(), 2);

    // The alert queue's filter works the same way.
    click_through(&rita, "nav a[href='/alerts']").await;
    record_violations(&rita).await;
    run(&rita, "window.__stay = 2;").await;
    choose(&rita, "disposition", "dismissed").await;
    click_and_swap(
        &rita,
        "form.filters button[type=submit]",
        "/alerts?disposition=dismissed&rule=",
    )
    .await;
    assert_eq!(run(&rita, "return window.__stay;").await, json!(2));
    assert_eq!(
        text_of(&rita, "#results p.empty").await,
        "No alert matches these filters. Show every alert."
    );
    assert_eq!(violations(&rita).await, Vec::<String>::new());

    rita.close().await.unwrap();
    drop(server);
}

/// Waits until the violation recorder holds at least one entry.
async fn client_wait_for_violation(client: &Client) {
    client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             const check = () => window.__violations.length > 0 ? done(true) : setTimeout(check, 20);
             check();",
            vec![],
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_pager_swaps_pages_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // One user files all 51 reports: more than the default 30 an hour.
    let config = format!("reports_per_hour = 100\n{CONFIG}");
    let server = Server::start(dir.path(), &data, &config, &[]);
    let rita_token = add_user(&data, "rita", "responder");
    let base = format!("http://localhost:{}", server.addr.port());
    // 51 incidents: a page of 50 and a second page of 1, the oldest.
    for n in 1..=51 {
        let body =
            json!({ "category": "other", "description": format!("Item {n:02}") }).to_string();
        let answer = request(
            server.addr,
            "POST",
            "/api/v1/reports",
            &rita_token,
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        );
        assert!(
            answer.status == 200 || answer.status == 201,
            "{}",
            answer.status
        );
    }

    let rita = browser(&dir.path().join("rita-profile")).await;
    rita.goto(&format!("{base}/login")).await.unwrap();
    type_into(&rita, "username", "rita").await;
    type_into(&rita, "password", PASSWORD).await;
    click_through(&rita, "form button[type=submit]").await;
    rita.goto(&format!("{base}/incidents")).await.unwrap();
    record_violations(&rita).await;
    assert_eq!(row_titles(&rita).await.len(), 50);
    run(&rita, "window.__stay = 1;").await;

    let next = rita
        .find(Locator::Css("nav.pager a[rel=next]"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    assert!(next.starts_with("/incidents?cursor="), "{next}");
    click_and_swap(&rita, "nav.pager a[rel=next]", &next).await;
    assert_eq!(run(&rita, "return window.__stay;").await, json!(1));
    assert_eq!(row_titles(&rita).await, ["other report: Item 01"]);
    assert_eq!(text_of(&rita, "nav.pager").await, "First page");

    click_and_swap(&rita, "nav.pager a", "/incidents").await;
    assert_eq!(run(&rita, "return window.__stay;").await, json!(1));
    let titles = row_titles(&rita).await;
    assert_eq!(titles.len(), 50);
    assert_eq!(titles[0], "other report: Item 02");
    assert_eq!(titles[49], "other report: Item 51");
    assert_eq!(violations(&rita).await, Vec::<String>::new());

    rita.close().await.unwrap();
    drop(server);
}
