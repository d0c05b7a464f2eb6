//! The web pages through the real `watchpost serve` and CLI: a password set
//! with `users add --password-stdin` signs in, a report filed on the form
//! shows in "My reports", and `users password --clear` ends the session.

mod support;

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};

use support::serve::{Answer, BIN, CONFIG, Server, request};

const PASSWORD: &str = "a long enough passphrase";

/// Runs `watchpost users ARGS... --data-dir DATA` with `stdin`.
fn users(data: &Path, args: &[&str], stdin: &str) -> std::process::Output {
    let mut child = Command::new(BIN)
        .arg("users")
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// A page request as a browser sends it: cookies, and for a form its body
/// and this site's `Origin`.
fn page(addr: SocketAddr, method: &str, path: &str, cookies: &str, form: &str) -> Answer {
    let origin = format!("http://{addr}");
    let mut headers = vec![("Cookie", cookies)];
    if method == "POST" {
        headers.push(("Content-Type", "application/x-www-form-urlencoded"));
        headers.push(("Origin", &origin));
    }
    request(addr, method, path, "none", &headers, form.as_bytes())
}

/// The value of the cookie `name` an answer sets.
fn set_cookie(answer: &Answer, name: &str) -> Option<String> {
    answer.head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        if !k.eq_ignore_ascii_case("set-cookie") {
            return None;
        }
        let (pair, _) = v.trim().split_once(';')?;
        let (n, value) = pair.split_once('=')?;
        (n == name && !value.is_empty()).then(|| value.to_owned())
    })
}

fn csrf(answer: &Answer) -> String {
    let body = String::from_utf8_lossy(&answer.body);
    let at = body.find("name=\"csrf\" value=\"").expect("a CSRF field");
    let rest = &body[at + 19..];
    rest[..rest.find('"').unwrap()].to_owned()
}

fn body(answer: &Answer) -> String {
    String::from_utf8_lossy(&answer.body).into_owned()
}

#[test]
fn a_password_set_on_the_cli_signs_in_and_clearing_it_ends_the_session() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(dir.path(), &data, CONFIG, &[]);
    // Too short: refused, and no user is created.
    let out = users(
        &data,
        &["add", "carol", "--role", "reporter", "--password-stdin"],
        "short\n",
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("at least 12 characters"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = users(&data, &["list"], "");
    assert!(!String::from_utf8_lossy(&listed.stdout).contains("carol"));
    let out = users(
        &data,
        &["add", "carol", "--role", "reporter", "--password-stdin"],
        &format!("{PASSWORD}\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("password set for carol"), "{stdout}");
    assert!(!stdout.contains(PASSWORD));

    let addr = server.addr;
    let anonymous = page(addr, "GET", "/my-reports", "", "");
    assert_eq!(anonymous.status, 303);
    assert_eq!(anonymous.header("location").as_deref(), Some("/login"));
    let form = page(addr, "GET", "/login", "", "");
    assert_eq!(form.status, 200);
    let login_cookie = set_cookie(&form, "__Host-wp_login").unwrap();
    let signed = page(
        addr,
        "POST",
        "/login",
        &format!("__Host-wp_login={login_cookie}"),
        &format!(
            "username=carol&password={}&csrf={}",
            PASSWORD.replace(' ', "+"),
            csrf(&form)
        ),
    );
    assert_eq!(signed.status, 303, "{}", body(&signed));
    assert_eq!(signed.header("location").as_deref(), Some("/report"));
    let session = format!(
        "__Host-wp_session={}",
        set_cookie(&signed, "__Host-wp_session").unwrap()
    );

    let report = page(addr, "GET", "/report", &session, "");
    assert_eq!(report.status, 200);
    assert!(body(&report).contains("Signed in as carol"));
    let filed = page(
        addr,
        "POST",
        "/report",
        &session,
        &format!(
            "csrf={}&category=theft&description=my+bike+is+gone&location=car+park",
            csrf(&report)
        ),
    );
    assert_eq!(filed.status, 303, "{}", body(&filed));
    let to = filed.header("location").unwrap();
    let id = to.strip_prefix("/my-reports?filed=").unwrap().to_owned();
    let mine = page(addr, "GET", &to, &session, "");
    assert_eq!(mine.status, 200);
    let text = body(&mine);
    assert!(
        text.contains(&id) && text.contains("my bike is gone"),
        "{text}"
    );
    let log = server.log_text();
    assert!(!log.contains(PASSWORD), "the password reached the log");
    assert!(
        !log.contains(&session[18..]),
        "the session id reached the log"
    );

    // Clearing the password on the server host ends the session.
    let out = users(&data, &["password", "carol", "--clear"], "");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("password removed for carol"));
    let after = page(addr, "GET", "/my-reports", &session, "");
    assert_eq!(after.status, 303);
    assert_eq!(after.header("location").as_deref(), Some("/login"));
}

#[test]
fn the_first_start_leaves_a_one_time_link_to_set_the_admins_password() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(dir.path(), &data, CONFIG, &[]);
    let addr = server.addr;
    let file = data.join("first-admin-setup");
    let text = std::fs::read_to_string(&file).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let url = text.lines().next().unwrap();
    let prefix = format!("http://{addr}/setup?token=");
    assert!(url.starts_with(&prefix), "{url}");
    let path = &url[format!("http://{addr}").len()..];
    let form = page(addr, "GET", path, "", "");
    assert_eq!(form.status, 200, "{}", body(&form));
    let bound = set_cookie(&form, "__Host-wp_login").unwrap();
    let token = &url[prefix.len()..];
    let set = page(
        addr,
        "POST",
        "/setup",
        &format!("__Host-wp_login={bound}"),
        &format!(
            "token={token}&csrf={}&password=first+admin+pass&confirm=first+admin+pass",
            csrf(&form)
        ),
    );
    assert_eq!(set.status, 303, "{}", body(&set));
    assert!(!file.exists(), "the link's file is gone once used");
    assert_eq!(page(addr, "GET", path, "", "").status, 404);
    // The admin signs in with it.
    let login = page(addr, "GET", "/login", "", "");
    let bound = set_cookie(&login, "__Host-wp_login").unwrap();
    let signed = page(
        addr,
        "POST",
        "/login",
        &format!("__Host-wp_login={bound}"),
        &format!(
            "username=admin&password=first+admin+pass&csrf={}",
            csrf(&login)
        ),
    );
    assert_eq!(signed.status, 303, "{}", body(&signed));
    assert!(set_cookie(&signed, "__Host-wp_session").is_some());
    assert!(
        !server.log_text().contains(token),
        "the link reached the log"
    );
}
