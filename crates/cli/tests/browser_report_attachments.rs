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

use fantoccini::Locator;
use support::browser::{
    add_user, browser, check_page, click_through, path_of, required, sign_in, text_of, type_into,
};
use support::serve::{CONFIG, Server};

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
    sign_in(&alice, &base, "alice", "/report").await;
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
