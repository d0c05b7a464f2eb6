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

use fantoccini::{Client, Locator};
use support::browser::{
    PASSWORD, add_user, browser, check_page, click_through, path_of, required, text_of,
};
use support::serve::{CONFIG, Server};

/// Signs `name` in by way of `/report`, which first sends an anonymous
/// visitor to the sign-in page (the shared `sign_in` goes to `/login`
/// directly); on failure the message holds the page's source.
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
    add_user(&data, "alice", "reporter");
    add_user(&data, "bob", "reporter");
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
    check_page(&alice, &axe_source, "05-cross-origin-refused").await;
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
    check_page(&bob, &axe_source, "08-bob-my-reports").await;

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
