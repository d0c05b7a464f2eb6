//! `watchpost serve` with a `[mailbox]` table, against the real Dovecot and
//! SMTP sink that `scripts/services start` runs: the server reads the
//! folder, files the researcher's mail as a third-party report and
//! acknowledges it, and a responder's `POST /api/v1/reports/{id}/reply`
//! reaches the sink threaded. Mail is put in with Python's imaplib (IMAP
//! CREATE and APPEND) in a folder of this run's own.

mod support;

use std::path::Path;
use std::process::Command;

use support::serve::{Server, add_user, get, poll, request};

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: the mailbox tests need a real Dovecot and SMTP sink. \
             Run `eval \"$(scripts/services start)\"` first (it installs and starts them)."
        )
    })
}

/// CREATEs `folder` and APPENDs `message` to it, with Debian's Python.
fn imap_append(addr: &str, user: &str, password: &str, folder: &str, message: &str) {
    let (host, port) = addr.rsplit_once(':').unwrap();
    let script = "import imaplib, sys\n\
        host, port, user, password, folder, message = sys.argv[1:]\n\
        m = imaplib.IMAP4(host, int(port))\n\
        m.login(user, password)\n\
        m.create(folder)\n\
        typ, _ = m.append(folder, None, None, message.replace('\\n', '\\r\\n').encode())\n\
        assert typ == 'OK', typ\n\
        m.logout()\n";
    let status = Command::new("/usr/bin/python3")
        .args(["-c", script, host, port, user, password, folder, message])
        .status()
        .expect("run python3");
    assert!(status.success(), "IMAP APPEND failed");
}

/// The sink's message whose `In-Reply-To` is `<parent>`.
fn sent_in_reply_to(maildir: &Path, parent: &str) -> Option<String> {
    let needle = format!("In-Reply-To: <{parent}>");
    std::fs::read_dir(maildir.join("new"))
        .ok()?
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
        .find(|text| text.lines().any(|l| l == needle))
}

#[test]
fn serve_reads_the_mailbox_and_replies_by_mail() {
    let imap = var("WATCHPOST_TEST_IMAP_ADDR");
    let user = var("WATCHPOST_TEST_IMAP_USER");
    let password = var("WATCHPOST_TEST_IMAP_PASSWORD");
    let smtp = var("WATCHPOST_TEST_SMTP_ADDR");
    let maildir = std::path::PathBuf::from(var("WATCHPOST_TEST_SMTP_MAILDIR"));
    let run = format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let folder = format!("serve-{run}");
    let message_id = format!("s1-{run}@researcher.example.org");
    imap_append(
        &imap,
        &user,
        &password,
        &folder,
        &format!(
            "From: researcher@example.org\nSubject: CSRF on /settings\nMessage-ID: <{message_id}>\n\nNo token on the form.\n"
        ),
    );

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (imap_host, imap_port) = imap.rsplit_once(':').unwrap();
    let (smtp_host, smtp_port) = smtp.rsplit_once(':').unwrap();
    let config = format!(
        "[mailbox]\nimap_host = \"{imap_host}\"\nimap_port = {imap_port}\ntls = false\n\
         username = \"{user}\"\npassword = \"{password}\"\nfolder = \"{folder}\"\n\
         address = \"security@example.test\"\n\
         [mailbox.smtp]\nhost = \"{smtp_host}\"\nport = {smtp_port}\ntls = \"none\"\n"
    );
    let server = Server::start(dir.path(), &data, &config, &[]);
    let sam = add_user(&data, "sam", "responder");

    let report = poll(
        "the mailed report",
        || {
            let page = get(server.addr, "/api/v1/reports", &sam).json();
            page["items"].as_array()?.first().cloned()
        },
        || server.log_text(),
    );
    assert_eq!(report["channel"], "third-party");
    assert_eq!(
        report["description"],
        "CSRF on /settings\n\nFrom: researcher@example.org\n\nNo token on the form."
    );
    let id = report["id"].as_str().unwrap().to_owned();
    let ack = poll(
        "the acknowledgement",
        || sent_in_reply_to(&maildir, &message_id),
        || server.log_text(),
    );
    assert!(ack.contains(&format!("Subject: Re: CSRF on /settings [WP-{id}]")));
    // The password is never logged.
    assert!(!server.log_text().contains(&password));
    // The mailbox records the acknowledgement after the relay took it, so
    // wait for that record (its audit entry) before replying: the reply is
    // threaded to the last recorded message.
    poll(
        "the recorded acknowledgement",
        || {
            let page = get(server.addr, "/api/v1/audit?limit=1000", &sam).json();
            page["items"].as_array()?.iter().find_map(|e| {
                (e["action"] == "mail.send" && e["entity_id"] == id.as_str()).then_some(())
            })
        },
        || server.log_text(),
    );

    let answer = request(
        server.addr,
        "POST",
        &format!("/api/v1/reports/{id}/reply"),
        &sam,
        &[("Content-Type", "application/json")],
        br#"{"text": "Fixed in 2.4.1, thank you."}"#,
    );
    assert_eq!(
        answer.status,
        201,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let sent = answer.json();
    assert_eq!(sent["to"], "researcher@example.org");
    let reply_id = sent["message_id"].as_str().unwrap().to_owned();
    let reply = poll(
        "the reply",
        || {
            std::fs::read_dir(maildir.join("new"))
                .ok()?
                .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
                .find(|text| text.contains(&format!("Message-ID: <{reply_id}>")))
        },
        || server.log_text(),
    );
    assert!(reply.contains("Fixed in 2.4.1, thank you."));
    // Threaded to the last message of the thread: the acknowledgement.
    let ack_id = ack
        .lines()
        .find_map(|l| l.strip_prefix("Message-ID: "))
        .unwrap()
        .to_owned();
    assert!(
        reply.lines().any(|l| l == format!("In-Reply-To: {ack_id}")),
        "{reply}"
    );
    let status = server.stop("-TERM");
    assert!(status.success(), "{status:?}");
}
