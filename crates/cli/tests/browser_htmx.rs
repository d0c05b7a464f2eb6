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

use fantoccini::{Client, Locator};
use serde_json::{Value, json};
use support::browser::{
    PASSWORD, add_user, axe, browser, choose, click, click_through, path_of, required, screenshots,
    text_of, type_into,
};
use support::serve::{CONFIG, Server, request};

async fn run(client: &Client, script: &str) -> Value {
    client.execute(script, vec![]).await.unwrap()
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
    click(client, css).await;
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
        "/incidents?status=&severity=&category=theft&owner=&source=&sensitive=&overdue=&q=",
    )
    .await;
    assert_eq!(run(&rita, "return window.__stay;").await, json!(1));
    assert_eq!(
        path_of(&rita).await,
        "/incidents?status=&severity=&category=theft&owner=&source=&sensitive=&overdue=&q="
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
        "/incidents?status=&severity=&category=theft&owner=nosuchuser&source=&sensitive=&overdue=&q=",
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
        "/incidents?status=&severity=&category=theft&owner=&source=&sensitive=&overdue=&q="
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
