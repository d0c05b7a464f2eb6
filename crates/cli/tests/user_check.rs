//! "I didn't do this" mail through the real `watchpost serve`: an Okta
//! password reset posted to `POST /api/v1/events` mails the user (to the
//! SMTP sink) a link; following it and answering "not mine" files the
//! account-abuse report, linked to the alert's incident. A bare user name
//! without `email_domain` is mailed nothing.
//!
//! Needs the SMTP sink: `eval "$(scripts/services start)"`.

mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use support::serve::{Server, add_user, admin_token, list, post_events, request, wait_idle};
use time::OffsetDateTime;

fn smtp() -> (String, String, PathBuf) {
    let addr = std::env::var("WATCHPOST_TEST_SMTP_ADDR").expect(
        "WATCHPOST_TEST_SMTP_ADDR is not set: run `eval \"$(scripts/services start)\"` to start the SMTP sink",
    );
    let maildir = PathBuf::from(std::env::var("WATCHPOST_TEST_SMTP_MAILDIR").expect(
        "WATCHPOST_TEST_SMTP_MAILDIR is not set: run `eval \"$(scripts/services start)\"` to start the SMTP sink",
    ));
    let (host, port) = addr.rsplit_once(':').unwrap();
    (host.to_owned(), port.to_owned(), maildir)
}

/// A mail as text: folded headers unfolded, the quoted-printable body
/// decoded.
fn decoded(raw: &str) -> String {
    let raw = raw.replace("\r\n", "\n");
    let (head, body) = raw.split_once("\n\n").unwrap_or((&raw, ""));
    let head = head.replace("\n ", " ");
    let body = body.replace("=\n", "");
    let bytes = body.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        if let (b'=', Some(b)) = (bytes[i], hex) {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    format!("{head}\n\n{}", String::from_utf8_lossy(&out))
}

/// Every mail in the sink addressed to `to`, decoded.
fn mails_to(maildir: &std::path::Path, to: &str) -> Vec<String> {
    std::fs::read_dir(maildir.join("new"))
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .map(|text| decoded(&text))
        .filter(|text| text.lines().any(|l| l.trim() == format!("To: {to}")))
        .collect()
}

fn okta_reset(user: &str, at: OffsetDateTime) -> String {
    serde_json::json!({
        "uuid": format!("reset-{user}"),
        "published": at.format(&time::format_description::well_known::Rfc3339).unwrap(),
        "eventType": "user.account.reset_password",
        "displayMessage": "Reset password",
        "actor": { "alternateId": user },
        "target": [{ "alternateId": user }],
        "client": { "ipAddress": "203.0.113.9" }
    })
    .to_string()
}

#[test]
fn a_password_reset_mails_the_user_a_link_that_files_a_report() {
    let (host, port, maildir) = smtp();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let unique = OffsetDateTime::now_utc().unix_timestamp_nanos();
    let user = format!("alice-{unique}@example.test");
    let bare = format!("bob{unique}");
    let config = format!(
        "public_url = \"https://wp.example.test\"\n[ingest]\nreorder_idle_millis = 200\n\
         [notify]\npoll_interval_ms = 50\n[notify.smtp]\nhost = \"{host}\"\nport = {port}\ntls = \"none\"\n\
         [user_check]\nvalid_for = \"2d\"\n"
    );
    let server = Server::start(dir.path(), &data, &config, &[]);
    let admin = admin_token(&data);
    let shipper = add_user(&data, "shipper", "ingest");
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let body = format!("{}\n{}\n", okta_reset(&user, now), okta_reset(&bare, now));
    post_events(
        server.addr,
        &shipper,
        "?format=json&source=okta.json",
        body.as_bytes(),
    );

    // The mail reaches the sink (the sending task runs in the server).
    let deadline = Instant::now() + Duration::from_secs(30);
    let mail = loop {
        if let Some(m) = mails_to(&maildir, &user).pop() {
            break m;
        }
        assert!(
            Instant::now() < deadline,
            "no mail to {user}; log:\n{}",
            server.log_text()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let expected_subject = format!("Subject: Was this you? A password or MFA change on {user}");
    assert!(
        mail.lines().any(|l| l.trim_end() == expected_subject),
        "{mail}"
    );
    assert!(
        mail.contains("What: Okta password reset or MFA factor change"),
        "{mail}"
    );
    assert!(mail.contains("From address: 203.0.113.9"), "{mail}");
    assert!(mail.contains("If it was you, nothing to do."), "{mail}");
    let start = mail
        .find("https://wp.example.test/check/")
        .expect("the link")
        + 30;
    let token: String = mail[start..].chars().take(64).collect();
    assert_eq!(token.len(), 64);
    assert!(token.chars().all(|c| c.is_ascii_hexdigit()), "{token}");

    // Counted on /metrics (once the sending task sees the relay's answer).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let metrics = request(server.addr, "GET", "/metrics", &admin, &[], b"");
        assert_eq!(metrics.status, 200);
        let metrics = String::from_utf8_lossy(&metrics.body).into_owned();
        if metrics
            .lines()
            .any(|l| l == "watchpost_user_check_mails_sent_total 1")
        {
            break;
        }
        assert!(Instant::now() < deadline, "{metrics}");
        std::thread::sleep(Duration::from_millis(20));
    }

    // Follow the link and answer "not mine".
    let path = format!("/check/{token}");
    let page = request(server.addr, "GET", &path, "", &[], b"");
    assert_eq!(page.status, 200, "{}", String::from_utf8_lossy(&page.body));
    let page = String::from_utf8_lossy(&page.body).into_owned();
    let csrf_at = page.find("name=\"csrf\" value=\"").unwrap() + 19;
    let csrf: String = page[csrf_at..].chars().take_while(|c| *c != '"').collect();
    let form = format!("csrf={csrf}&answer=not_mine&note=");
    let origin = format!("http://{}", server.addr);
    let filed = request(
        server.addr,
        "POST",
        &path,
        "",
        &[
            ("Origin", &origin),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        form.as_bytes(),
    );
    assert_eq!(
        filed.status,
        200,
        "{}",
        String::from_utf8_lossy(&filed.body)
    );

    wait_idle(server.addr, &admin);
    let reports = list(server.addr, "/api/v1/reports", &admin);
    assert_eq!(reports.len(), 1, "{reports:#?}");
    let description = reports[0]["description"].as_str().unwrap();
    assert!(
        description.starts_with(&format!(
            "I didn't do this: Okta password reset or MFA factor change on {user} at "
        )),
        "{description}"
    );
    assert_eq!(reports[0]["category"], "account_abuse");
    let alerts = list(server.addr, "/api/v1/alerts", &admin);
    let mailed = alerts
        .iter()
        .find(|a| a["entities"]["user"] == user.as_str())
        .expect("the alert");
    assert_eq!(mailed["incident_id"], reports[0]["incident_id"]);
    // The link is used up.
    let again = request(server.addr, "GET", &path, "", &[], b"");
    assert_eq!(again.status, 404);

    // The bare name had an alert too, but no mail (no email_domain).
    assert!(
        alerts
            .iter()
            .any(|a| a["entities"]["user"] == bare.as_str()),
        "{alerts:#?}"
    );
    let to_bare = std::fs::read_dir(maildir.join("new"))
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .filter(|text| text.contains(&bare))
        .count();
    assert_eq!(to_bare, 0);
    assert_eq!(server.stop("-TERM").code(), Some(0));
}
