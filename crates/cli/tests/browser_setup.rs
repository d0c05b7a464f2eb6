//! The first admin's one-time link in a real headless Chromium (Debian's,
//! driven through its ChromeDriver with fantoccini), against the real
//! `watchpost serve` on port 0: the link the first start leaves in
//! `DATA_DIR/first-admin-setup` opens the password form, two passwords
//! that differ are refused next to the field, matching ones set the
//! password, the admin signs in with it, and the link is spent. The form
//! and its error pass axe-core with no serious or critical violation, and
//! are saved as `target/tmp/screenshots/60-setup.png` and
//! `61-setup-error.png`.
//!
//! `scripts/services start` installs Chromium, ChromeDriver and axe-core,
//! starts ChromeDriver on loopback and exports `WATCHPOST_TEST_WEBDRIVER`,
//! `WATCHPOST_TEST_CHROMIUM` and `WATCHPOST_TEST_AXE`. Waits are on the
//! page's state (WebDriver waits for each navigation), never on sleeps.

mod support;

use support::browser::{browser, check_page, click_through, path_of, required, text_of, type_into};
use support::serve::{CONFIG, Server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_admin_sets_a_password_through_the_one_time_link() {
    let axe_source = std::fs::read_to_string(required("WATCHPOST_TEST_AXE")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(dir.path(), &data, CONFIG, &[]);
    let text = std::fs::read_to_string(data.join("first-admin-setup")).unwrap();
    let link = text.lines().next().unwrap();
    // The link names the address the server listens on; the browser
    // keeps `Secure` cookies over plain HTTP only for `localhost`.
    let numeric = format!("http://{}", server.addr);
    let path = link
        .strip_prefix(&numeric)
        .unwrap_or_else(|| panic!("{link}"));
    assert!(path.starts_with("/setup?token="), "{link}");
    let base = format!("http://localhost:{}", server.addr.port());

    let admin = browser(&dir.path().join("admin-profile")).await;
    admin.goto(&format!("{base}{path}")).await.unwrap();
    check_page(&admin, &axe_source, "60-setup").await;

    // Two passwords that differ: the form again, the error by the field.
    type_into(&admin, "password", "first admin passphrase").await;
    type_into(&admin, "confirm", "first admin passphrasf").await;
    click_through(&admin, "form button[type=submit]").await;
    assert_eq!(
        text_of(&admin, "#setup-error").await,
        "The two passwords differ."
    );
    check_page(&admin, &axe_source, "61-setup-error").await;

    // Matching ones set it; the admin signs in with it.
    type_into(&admin, "password", "first admin passphrase").await;
    type_into(&admin, "confirm", "first admin passphrase").await;
    click_through(&admin, "form button[type=submit]").await;
    assert_eq!(path_of(&admin).await, "/login");
    type_into(&admin, "username", "admin").await;
    type_into(&admin, "password", "first admin passphrase").await;
    click_through(&admin, "form button[type=submit]").await;
    assert_eq!(path_of(&admin).await, "/report");
    assert!(text_of(&admin, "nav").await.contains("Signed in as admin"));

    // The link is spent.
    assert!(!data.join("first-admin-setup").exists());
    admin.goto(&format!("{base}{path}")).await.unwrap();
    assert!(
        text_of(&admin, "main")
            .await
            .contains("This link is not valid, has expired, or was already used.")
    );
    admin.close().await.unwrap();
}
