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

use support::browser::{
    PASSWORD, add_user, browser, check_page, click_through, path_of, required, text_of, type_into,
};
use support::serve::{CONFIG, Server, post_events, rfc3164, wait_idle};
use time::OffsetDateTime;

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
