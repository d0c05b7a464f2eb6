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

use fantoccini::Locator;
use serde_json::json;
use support::browser::{
    PASSWORD, add_user, browser_of_height, check_page, click_through, path_of, replace_text,
    required, screenshots, text_of,
};
use support::serve::{CONFIG, Server, request};

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

    let rita = browser_of_height(&dir.path().join("rita-profile"), 3000).await;
    rita.goto(&format!("{base}/login")).await.unwrap();
    replace_text(&rita, "username", "rita").await;
    replace_text(&rita, "password", PASSWORD).await;
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
    replace_text(&rita, "weeks", "sixty").await;
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
