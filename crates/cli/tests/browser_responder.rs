//! The responder pages in a real headless Chromium (Debian's, driven
//! through its ChromeDriver with fantoccini), against the real `watchpost
//! serve` on port 0:
//!
//! - an employee files a sensitive report on the form (filing opens its
//!   incident, in triage);
//! - a responder finds it in the incident queue, opens it, acknowledges
//!   it, adds a note and a task (and marks it done), assesses the impact
//!   and closes it, all through the page's forms;
//! - a second employee finds it by no page or URL; finance-ops, who sees
//!   every incident, reads it;
//! - the queue, the incident page and the alert queue pass axe-core with
//!   no serious or critical violation, and are saved as screenshots under
//!   the test output (`target/tmp/screenshots/10-incidents.png`,
//!   `11-incident.png`, `12-alerts.png`).
//!
//! `scripts/services start` installs Chromium, ChromeDriver and axe-core,
//! starts ChromeDriver on loopback and exports `WATCHPOST_TEST_WEBDRIVER`,
//! `WATCHPOST_TEST_CHROMIUM` and `WATCHPOST_TEST_AXE`. Waits are on the
//! page's state (WebDriver waits for each navigation), never on sleeps.

mod support;

use fantoccini::Locator;
use serde_json::json;
use support::browser::{
    add_user, browser, check_page, choose, click_through, path_of, required, sign_in, text_of,
    type_into,
};
use support::serve::{CONFIG, Server, request};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_responder_handles_a_sensitive_report_through_the_pages() {
    let axe_source = std::fs::read_to_string(required("WATCHPOST_TEST_AXE")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(dir.path(), &data, CONFIG, &[]);
    add_user(&data, "alice", "reporter");
    add_user(&data, "bob", "reporter");
    let rita_token = add_user(&data, "rita", "responder");
    add_user(&data, "fran", "finance-ops");
    let base = format!("http://localhost:{}", server.addr.port());

    // An alert waiting in the queue (as `hunt --submit` sends one).
    let body = json!({ "alerts": [{
        "rule_id": "bench-ssh-brute",
        "rule_title": "SSH brute force",
        "level": "high",
        "entities": { "host": "web1", "source_ip": "203.0.113.9" },
        "evidence": [{ "msg": "Failed password for root from 203.0.113.9 <script>x</script>" }],
        "detected_at": "2026-12-01T10:00:00Z",
        "queue_only": true
    }]})
    .to_string();
    let answer = request(
        server.addr,
        "POST",
        "/api/v1/alerts",
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

    // Alice files a sensitive report.
    let alice = browser(&dir.path().join("alice-profile")).await;
    sign_in(&alice, &base, "alice", "/report").await;
    alice
        .find(Locator::Id("category-theft"))
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
    type_into(
        &alice,
        "description",
        "Cash is missing from the petty-cash box <b>again</b>.",
    )
    .await;
    click_through(&alice, "form button[type=submit]").await;
    let landed = path_of(&alice).await;
    let report = landed
        .strip_prefix("/my-reports?filed=")
        .unwrap_or_else(|| panic!("landed on {landed}"))
        .to_owned();

    // Rita finds it in the queue: the only theft incident.
    let rita = browser(&dir.path().join("rita-profile")).await;
    sign_in(&rita, &base, "rita", "/report").await;
    rita.goto(&format!("{base}/incidents")).await.unwrap();
    choose(&rita, "category", "theft").await;
    // The filter swaps the page's main content in place (htmx): wait for
    // the new content, then for the URL it pushes.
    rita.execute(
        "document.getElementById('main').dataset.old = 'yes';",
        vec![],
    )
    .await
    .unwrap();
    rita.find(Locator::Css("form.filters button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    rita.wait()
        .for_element(Locator::Css("main#main:not([data-old])"))
        .await
        .unwrap();
    let filtered = rita
        .current_url()
        .await
        .unwrap()
        .join("/incidents?status=&severity=&category=theft&owner=&source=&sensitive=&overdue=&q=")
        .unwrap();
    rita.wait().for_url(&filtered).await.unwrap();
    let rows = rita
        .find_all(Locator::Css("table.queue tbody tr"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let row = text_of(&rita, "table.queue tbody tr").await;
    assert!(row.contains("sensitive"), "{row}");
    assert!(row.contains("SEV3 medium"), "{row}");
    assert!(row.contains("Triage"), "{row}");
    check_page(&rita, &axe_source, "10-incidents").await;
    click_through(&rita, "table.queue tbody tr th a").await;
    let incident_path = path_of(&rita).await;
    let incident = incident_path
        .strip_prefix("/incidents/")
        .unwrap_or_else(|| panic!("on {incident_path}"))
        .to_owned();
    // The report is linked, its markup shown as text.
    let page = rita.source().await.unwrap();
    assert!(page.contains(&report), "the linked report");
    let reports = text_of(&rita, ".spine").await;
    assert!(reports.contains("<b>again</b>"), "{reports}");

    // Acknowledge: only the legal moves are buttons.
    let moves: Vec<String> = {
        let mut v = Vec::new();
        for b in rita
            .find_all(Locator::Css("form.moves button[name=status]"))
            .await
            .unwrap()
        {
            v.push(b.attr("value").await.unwrap().unwrap());
        }
        v
    };
    assert_eq!(
        moves,
        [
            "investigating",
            "contained",
            "eradicated",
            "recovered",
            "declined"
        ]
    );
    click_through(&rita, "form.moves button[value=investigating]").await;
    assert_eq!(path_of(&rita).await, incident_path);
    assert_eq!(text_of(&rita, "#current-status").await, "Investigating");
    // The open incident, with every form a responder gets.
    check_page(&rita, &axe_source, "11a-incident-open").await;

    // A note.
    type_into(
        &rita,
        "note-body",
        "Asked the office manager for the key log.",
    )
    .await;
    click_through(&rita, "form[action$='/notes'] button").await;
    assert!(
        text_of(&rita, ".notes")
            .await
            .contains("Asked the office manager")
    );

    // A task, then done.
    type_into(&rita, "task-title", "Change the petty-cash box lock").await;
    type_into(&rita, "task-owner", "rita").await;
    click_through(&rita, "form[action$='/tasks'] button").await;
    let tasks = text_of(&rita, "#tasks").await;
    assert!(tasks.contains("Change the petty-cash box lock"), "{tasks}");
    assert!(tasks.contains("Open"), "{tasks}");
    click_through(&rita, "form[action*='/tasks/'] button").await;
    assert!(text_of(&rita, "#tasks").await.contains("Done"));

    // Closing before the impact is assessed: the error is next to the
    // field, linked from the summary.
    choose(&rita, "resolution", "true_positive_impact").await;
    click_through(&rita, "form[action$='/close'] button").await;
    assert_eq!(
        text_of(&rita, "#resolution-error").await,
        "Assess the impact (below) before closing."
    );
    assert!(
        text_of(&rita, ".error-summary")
            .await
            .contains("Assess the impact")
    );
    check_page(&rita, &axe_source, "11b-incident-field-error").await;

    // The impact, then close.
    choose(&rita, "confidentiality", "low").await;
    choose(&rita, "integrity", "none").await;
    choose(&rita, "availability", "none").await;
    type_into(&rita, "impact-summary", "About 200 EUR in cash.").await;
    click_through(&rita, "form[action$='/impact'] button").await;
    assert!(
        text_of(&rita, "main")
            .await
            .contains("About 200 EUR in cash.")
    );
    choose(&rita, "resolution", "true_positive_impact").await;
    click_through(&rita, "form[action$='/close'] button").await;
    assert_eq!(text_of(&rita, "#current-status").await, "Closed");
    assert!(
        rita.find_all(Locator::Css("form.moves"))
            .await
            .unwrap()
            .is_empty()
    );
    check_page(&rita, &axe_source, "11-incident").await;

    // The alert queue.
    rita.goto(&format!("{base}/alerts")).await.unwrap();
    let alerts = text_of(&rita, "ol.alerts").await;
    assert!(alerts.contains("SSH brute force"), "{alerts}");
    check_page(&rita, &axe_source, "12-alerts").await;
    // Dismissing needs a reason.
    click_through(&rita, "form[action*='/dismiss'] button").await;
    assert!(text_of(&rita, ".error-summary").await.contains("Say why"));
    check_page(&rita, &axe_source, "12b-alerts-error").await;

    // Bob finds it nowhere; the incident's URL is the 404 page any id
    // gets.
    let bob = browser(&dir.path().join("bob-profile")).await;
    sign_in(&bob, &base, "bob", "/report").await;
    bob.goto(&format!(
        "{base}/incidents/0190d5a4-8f5e-7c3a-9b1e-2f4a6c8d0e1f"
    ))
    .await
    .unwrap();
    let missing = bob.source().await.unwrap();
    for path in [
        "/incidents".to_owned(),
        "/incidents?category=theft".to_owned(),
        "/incidents?q=petty".to_owned(),
        format!("/incidents/{incident}"),
        "/alerts".to_owned(),
        "/my-reports".to_owned(),
    ] {
        bob.goto(&format!("{base}{path}")).await.unwrap();
        let html = bob.source().await.unwrap();
        assert!(!html.contains(&incident), "{path}");
        assert!(!html.contains(&report), "{path}");
        assert!(!html.contains("petty-cash"), "{path}");
        if path.starts_with("/incidents/") || path == "/alerts" {
            assert_eq!(html, missing, "{path}");
        }
    }

    // Finance-ops sees every incident, this one included, and reads it.
    let fran = browser(&dir.path().join("fran-profile")).await;
    sign_in(&fran, &base, "fran", "/report").await;
    fran.goto(&format!("{base}/incidents?category=theft"))
        .await
        .unwrap();
    let rows = fran
        .find_all(Locator::Css("table.queue tbody tr"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    click_through(&fran, "table.queue tbody tr th a").await;
    assert_eq!(path_of(&fran).await, incident_path);
    assert_eq!(text_of(&fran, "#current-status").await, "Closed");
    assert!(text_of(&fran, "main").await.contains("petty-cash"));

    for client in [alice, rita, bob, fran] {
        client.close().await.unwrap();
    }
    drop(server);
}
