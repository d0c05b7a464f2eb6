//! Single sign-on in a real headless Chromium (Debian's, driven through
//! its ChromeDriver with fantoccini), against the real `watchpost serve`
//! with an `[oidc]` table and the test provider of
//! `crates/web/tests/support/oidc_provider.rs` on loopback:
//!
//! - the sign-in page offers "Sign in with Test SSO" and passes axe-core;
//! - clicking it goes to the provider, which approves at once, and back:
//!   the browser lands on the report form, signed in as the provider's
//!   person with the role their `groups` claim maps to;
//! - a refused sign-in (the provider says no) shows the sign-in page with
//!   a plain message, and passes axe-core;
//! - screenshots: `target/tmp/screenshots/sso-1-login.png`,
//!   `sso-2-signed-in.png`, `sso-3-refused.png`.
//!
//! `scripts/services start` installs Chromium, ChromeDriver and axe-core,
//! starts ChromeDriver on loopback and exports `WATCHPOST_TEST_WEBDRIVER`,
//! `WATCHPOST_TEST_CHROMIUM` and `WATCHPOST_TEST_AXE`. Waits are on the
//! page's state (WebDriver waits for each navigation), never on sleeps.

mod support;

#[path = "../../web/tests/support/oidc_provider.rs"]
mod oidc_provider;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use fantoccini::Locator;
use oidc_provider::{Behaviour, Provider};
use serde_json::json;
use support::browser::{browser, check_page, required};
use support::serve::{BIN, Server};

/// `watchpost serve` on `port` (the redirect URL must name it before the
/// server starts) with `config` and one more environment variable.
fn serve_on(dir: &Path, port: u16, config: &str, env: (&str, &str)) -> Server {
    let data = dir.join("data");
    let config_path = dir.join("watchpost.toml");
    std::fs::write(&config_path, config).unwrap();
    let log = dir.join("serve.log");
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(&data)
        .arg("--config")
        .arg(&config_path)
        .env("WATCHPOST_LOG", "info")
        .env(env.0, env.1)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = loop {
        let Some(line) = lines.next() else {
            panic!(
                "watchpost serve exited before listening:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        };
        if let Some(url) = line.unwrap().strip_prefix("listening on http://") {
            break url.trim().parse().unwrap();
        }
    };
    Server {
        child,
        addr,
        data,
        log,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_signs_in_with_single_sign_on() {
    let dir = tempfile::tempdir().unwrap();
    // A free port for the server, so that its redirect URL is known first.
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let redirect = format!("http://127.0.0.1:{port}/login/oidc/callback");
    let provider = Provider::start("watchpost-browser", &redirect).await;
    provider.behave(Behaviour {
        subject: "browser-person-1".into(),
        groups: Some(json!(["staff"])),
        ..Behaviour::default()
    });
    let config = format!(
        "[oidc]\nissuer_url = \"{}\"\nclient_id = \"watchpost-browser\"\nclient_secret_env = \"WP_TEST_OIDC_SECRET\"\nredirect_url = \"{redirect}\"\ndisplay_name = \"Test SSO\"\nrole_claim = \"groups\"\ndefault_role = \"none\"\n\n[oidc.roles]\nstaff = \"reporter\"\nsecurity-team = \"responder\"\n",
        provider.issuer()
    );
    // The client secret reaches the server through its environment.
    let server = serve_on(
        dir.path(),
        port,
        &config,
        ("WP_TEST_OIDC_SECRET", "browser-test-client-secret"),
    );
    let base = format!("http://{}", server.addr);
    let axe_source = std::fs::read_to_string(required("WATCHPOST_TEST_AXE")).unwrap();
    let profile = tempfile::tempdir().unwrap();
    let client = browser(profile.path()).await;

    client.goto(&format!("{base}/login")).await.unwrap();
    let button = client
        .find(Locator::LinkText("Sign in with Test SSO"))
        .await
        .expect("the single sign-on button");
    check_page(&client, &axe_source, "sso-1-login").await;
    button.click().await.unwrap();
    // The provider approved and sent the browser back: the report form.
    client
        .wait()
        .for_url(&openidconnect::url::Url::parse(&format!("{base}/report")).unwrap())
        .await
        .unwrap();
    let body = client
        .find(Locator::Css("body"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        body.contains("sso-"),
        "signed in as the provider's person: {body}"
    );
    client.goto(&format!("{base}/my-reports")).await.unwrap();
    assert_eq!(
        client.current_url().await.unwrap().as_str(),
        format!("{base}/my-reports")
    );
    check_page(&client, &axe_source, "sso-2-signed-in").await;

    // The same person, refused by the provider, in a new browser.
    provider.behave(Behaviour {
        subject: "browser-person-1".into(),
        refuse: Some("access_denied".into()),
        ..Behaviour::default()
    });
    client.close().await.unwrap();
    let profile = tempfile::tempdir().unwrap();
    let client = browser(profile.path()).await;
    client.goto(&format!("{base}/login")).await.unwrap();
    client
        .find(Locator::LinkText("Sign in with Test SSO"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let alert = client
        .wait()
        .for_element(Locator::Css("#login-error"))
        .await
        .unwrap();
    assert_eq!(alert.text().await.unwrap(), "Test SSO did not sign you in.");
    check_page(&client, &axe_source, "sso-3-refused").await;
    client.close().await.unwrap();

    let log = std::fs::read_to_string(&server.log).unwrap();
    assert!(log.contains("signed in with single sign-on"), "{log}");
    assert!(!log.contains("browser-test-client-secret"), "{log}");
}
