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

use fantoccini::Locator;
use support::browser::{
    PASSWORD, add_user, browser, check_page, choose, click_through, path_of, required, sign_in,
    text_of, type_into,
};
use support::serve::{CONFIG, Server, get};

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
    sign_in(&adam, &base, "adam", "/report").await;
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
    sign_in(&rita, &base, "rita", "/report").await;
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
    sign_in(&carol, &base, "carol", "/report").await;

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
