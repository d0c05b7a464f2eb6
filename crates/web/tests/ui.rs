//! The web pages against the real router and a real SQLite store: sign-in
//! and sessions, CSRF, the sign-in throttle, the report form, "My
//! reports", need-to-know, and the headers every page carries.
//!
//! Requests are sent as a browser would send them (form bodies, cookies,
//! `Origin`); expected texts and statuses are written here by hand.

mod support {
    pub mod pages;
}

use std::sync::Arc;

use axum::http::StatusCode;
use incidents::{NewUser, Role, Viewer};
use support::pages::{App, Browser, PASSWORD, Page};
use watchpost_web as web;
use web::AppState;

impl Page {}

async fn app() -> App {
    App::with(
        &[
            ("alice", Role::Reporter),
            ("bob", Role::Reporter),
            ("rita", Role::Responder),
            ("fran", Role::FinanceOps),
            ("shipper", Role::Ingest),
        ],
        incidents::StoreOptions::default(),
        web::RouterOptions::default(),
    )
    .await
}

impl App {
    /// Files a report through the form; returns the answer.
    async fn file(&self, browser: &Browser, fields: &[(&str, &str)]) -> Page {
        let form = self.get("/report", browser).await;
        assert_eq!(form.status, StatusCode::OK);
        let csrf = form.csrf();
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.send(
            "POST",
            "/report",
            browser,
            Some(&all),
            Some("http://wp.example"),
        )
        .await
    }

    async fn reports_total(&self) -> usize {
        self.store
            .list_reports(
                &Viewer::system(),
                &incidents::ReportFilter::default(),
                &incidents::PageRequest {
                    limit: Some(500),
                    cursor: None,
                },
            )
            .await
            .unwrap()
            .items
            .len()
    }
}

fn assert_page_headers(page: &Page, what: &str) {
    let h = |name: &str| {
        page.headers
            .get(name)
            .unwrap_or_else(|| panic!("{what}: no {name}"))
            .to_str()
            .unwrap()
            .to_owned()
    };
    let csp = h("content-security-policy");
    assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
    assert!(csp.contains("default-src 'none'"), "{what}: {csp}");
    assert!(!csp.contains("unsafe-inline"), "{what}: {csp}");
    assert_eq!(h("x-frame-options"), "DENY", "{what}");
    assert_eq!(h("x-content-type-options"), "nosniff", "{what}");
}

#[tokio::test]
async fn anonymous_page_requests_go_to_sign_in_and_the_api_keeps_its_404() {
    let app = app().await;
    let anon = Browser::default();
    for path in [
        "/",
        "/report",
        "/my-reports",
        "/logout",
        "/incidents",
        "/incidents/0190d5a4-8f5e-7c3a-9b1e-2f4a6c8d0e1f",
        "/alerts",
        "/sources",
        "/rules",
        "/coverage",
        "/audit",
        "/stats",
        "/admin/users",
        "/no-such-page",
    ] {
        let page = app.get(path, &anon).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(page.location(), Some("/login"), "{path}");
        assert_page_headers(&page, path);
    }
    let login = app.get("/login", &anon).await;
    assert_eq!(login.status, StatusCode::OK);
    assert!(
        login.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert_page_headers(&login, "/login");
    assert!(
        login
            .body
            .contains("<label for=\"username\">User name</label>")
    );
    assert!(
        login
            .body
            .contains("<label for=\"password\">Password</label>")
    );
    // The form's token is bound to a cookie with the OWASP attributes.
    let cookie = login
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("__Host-wp_login="))
        .unwrap();
    for attribute in ["Path=/", "Secure", "HttpOnly", "SameSite=Strict"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert_eq!(login.csrf(), login.cookie("__Host-wp_login").unwrap());
    // Asked again (another tab, or the browser's own requests), the form
    // keeps the browser's token, so a form already shown stays good.
    let mut browser = Browser::default();
    browser.keep(&login);
    let again = app.get("/login", &browser).await;
    assert_eq!(again.csrf(), login.csrf());
    // The browser's own request for an icon is not sent to sign in.
    let icon = app.get("/favicon.ico", &anon).await;
    assert_eq!(icon.status, StatusCode::NO_CONTENT);
    assert!(icon.cookie("__Host-wp_login").is_none());
    // The API's own 404, not a page.
    let api = app.get("/api/v1/nope", &anon).await;
    assert_eq!(api.status, StatusCode::NOT_FOUND);
    assert!(api.body.contains("\"not_found\""), "{}", api.body);
    let css = app.get("/static/app.css", &anon).await;
    assert_eq!(css.status, StatusCode::OK);
    assert!(
        css.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
}

#[tokio::test]
async fn signing_in_makes_a_new_session_each_time_and_signing_out_ends_it() {
    let app = app().await;
    let mut browser = Browser::default();
    let wrong = app.sign_in(&mut browser, "alice", "not the password").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body.contains("Wrong user name or password."));
    assert!(wrong.cookie("__Host-wp_session").is_none());
    // The name typed is kept, escaped.
    let odd = app.sign_in(&mut browser, "<b>x</b>", "whatever").await;
    assert!(
        odd.body.contains("value=\"&#60;b&#62;x&#60;/b&#62;\"")
            || odd.body.contains("value=\"&lt;b&gt;x&lt;/b&gt;\""),
        "{}",
        odd.body
    );

    let ok = app.sign_in(&mut browser, "alice", PASSWORD).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    // Signed in, the sign-in page sends on to the report form.
    assert_eq!(
        app.get("/login", &browser).await.location(),
        Some("/report")
    );
    assert_eq!(ok.location(), Some("/report"));
    let cookie = ok
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("__Host-wp_session="))
        .unwrap();
    for attribute in ["Path=/", "Secure", "HttpOnly", "SameSite=Lax"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    let first = browser.session.clone().unwrap();
    assert_eq!(first.len(), 64);
    let report = app.get("/report", &browser).await;
    assert_eq!(report.status, StatusCode::OK);
    assert!(report.body.contains("Signed in as alice"));
    assert_page_headers(&report, "/report");

    // Signing in again (same browser) gives a new id; the old one ends.
    app.sign_in(&mut browser, "alice", PASSWORD).await;
    let second = browser.session.clone().unwrap();
    assert_ne!(first, second);
    let old = Browser {
        session: Some(first),
        login: None,
    };
    assert_eq!(app.get("/report", &old).await.location(), Some("/login"));
    assert_eq!(app.get("/report", &browser).await.status, StatusCode::OK);

    // Signing out needs the form's token, then ends the session.
    let logout = app.get("/logout", &browser).await;
    let csrf = logout.csrf();
    let refused = app
        .send("POST", "/logout", &browser, Some(&[("csrf", "0")]), None)
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let out = app
        .send("POST", "/logout", &browser, Some(&[("csrf", &csrf)]), None)
        .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(out.location(), Some("/login"));
    assert!(
        out.set_cookies()
            .iter()
            .any(|c| c.starts_with("__Host-wp_session=;") && c.contains("Max-Age=0"))
    );
    assert_eq!(
        app.get("/report", &browser).await.location(),
        Some("/login")
    );

    // An ingest account never signs in to the pages, even with its password.
    let mut shipper = Browser::default();
    let page = app.sign_in(&mut shipper, "shipper", PASSWORD).await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn sign_in_needs_the_forms_token_and_is_throttled_after_five_failures() {
    let app = app().await;
    // No token cookie: refused, nothing else said.
    let anon = Browser::default();
    let page = app
        .send(
            "POST",
            "/login",
            &anon,
            Some(&[("username", "alice"), ("password", PASSWORD), ("csrf", "x")]),
            None,
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(page.cookie("__Host-wp_session").is_none());
    // From another site: refused.
    let mut b = Browser::default();
    let form = app.get("/login", &b).await;
    b.keep(&form);
    let page = app
        .send(
            "POST",
            "/login",
            &b,
            Some(&[
                ("username", "alice"),
                ("password", PASSWORD),
                ("csrf", &form.csrf()),
            ]),
            Some("https://evil.example"),
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(page.cookie("__Host-wp_session").is_none());

    // Five wrong passwords, then even the right one waits.
    let mut b = Browser::default();
    for _ in 0..5 {
        let page = app.sign_in(&mut b, "bob", "wrong wrong wrong").await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    }
    let page = app.sign_in(&mut b, "bob", PASSWORD).await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(page.body.contains("Too many failed sign-ins"));
    assert!(b.session.is_none());
    // Another user is not held back.
    let mut other = Browser::default();
    assert_eq!(
        app.sign_in(&mut other, "alice", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn a_report_filed_on_the_form_shows_in_my_reports_with_its_tracking_number() {
    let app = app().await;
    let alice = app.browser("alice").await;
    let form = app.get("/report", &alice).await;
    // Every category with its hint, and what "sensitive" means.
    for label in [
        "Security incident",
        "Physical injury",
        "Theft",
        "Property damage",
        "Service outage or attack",
        "Threats",
        "Harassment",
        "Misuse of an account",
        "Forgery",
        "Misrepresentation",
    ] {
        assert!(form.body.contains(&format!(">{label}</label>")), "{label}");
    }
    assert!(
        form.body
            .contains("seen only by the Security Team and the Head of Finance &amp; Operations")
    );

    // Field errors keep what was typed, next to the field.
    let page = app
        .file(
            &alice,
            &[
                ("location", "Lobby <3"),
                ("description", "   "),
                ("occurred_at", "soon"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.body
            .contains("<h2 id=\"error-summary-title\">There is a problem</h2>")
    );
    assert!(
        page.body
            .contains("<li><a href=\"#description\">Describe what you saw.</a></li>")
    );
    assert!(
        page.body
            .contains("id=\"category-error\">Choose what kind of event this is.")
    );
    assert!(
        page.body
            .contains("id=\"description-error\">Describe what you saw.")
    );
    assert!(page.body.contains("id=\"occurred_at-error\">"));
    assert!(
        page.body.contains("value=\"Lobby &#60;3\"") || page.body.contains("value=\"Lobby &lt;3\""),
        "{}",
        page.body
    );
    assert_eq!(app.reports_total().await, 0);

    // A sensitive report: harassment.
    let page = app
        .file(
            &alice,
            &[
                ("category", "harassment"),
                (
                    "description",
                    "He keeps <script>alert(1)</script> messaging me.",
                ),
                ("location", "3rd floor"),
                ("occurred_at", "2026-11-30T09:15"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let location = page.location().unwrap().to_owned();
    let id = location
        .strip_prefix("/my-reports?filed=")
        .unwrap()
        .to_owned();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    assert_eq!(app.reports_total().await, 1);
    let stored = app
        .store
        .get_report(&Viewer::system(), id.parse().unwrap())
        .await
        .unwrap();
    assert_eq!(stored.channel, incidents::Channel::Web);
    assert!(stored.sensitive, "harassment is always sensitive");
    assert_eq!(stored.location.as_deref(), Some("3rd floor"));
    assert_eq!(
        stored.occurred_at,
        Some(time::macros::datetime!(2026-11-30 09:15 UTC))
    );

    let mine = app.get(&location, &alice).await;
    assert_eq!(mine.status, StatusCode::OK);
    assert!(
        mine.body
            .contains("Its tracking number is <strong class=\"tracking\">")
    );
    assert!(mine.body.contains(&id));
    assert!(
        mine.body
            .contains("Harassment <span class=\"tag\">sensitive</span>")
    );
    assert!(mine.body.contains("<td>triage</td>"), "{}", mine.body);
    // Text from input is escaped.
    assert!(!mine.body.contains("<script>"));
    assert!(mine.body.contains("&#60;script&#62;") || mine.body.contains("&lt;script&gt;"));

    // Bob sees none of it: not in his list, not as a confirmation.
    let bob = app.browser("bob").await;
    let his = app.get(&location, &bob).await;
    assert_eq!(his.status, StatusCode::OK);
    assert!(!his.body.contains(&id), "{}", his.body);
    assert!(!his.body.contains("tracking number is"));
    assert!(his.body.contains("You have not filed any report yet."));
}

#[tokio::test]
async fn forms_posted_without_the_token_or_from_another_site_change_nothing() {
    let app = app().await;
    let alice = app.browser("alice").await;
    let form = app.get("/report", &alice).await;
    let csrf = form.csrf();
    let fields = |token: &str| {
        vec![
            ("csrf", token.to_owned()),
            ("category", "theft".to_owned()),
            ("description", "laptop gone".to_owned()),
        ]
    };
    for (token, origin) in [
        ("", None),
        ("0123", None),
        (csrf.as_str(), Some("https://evil.example")),
        (csrf.as_str(), Some("null")),
    ] {
        let f = fields(token);
        let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let page = app.send("POST", "/report", &alice, Some(&f), origin).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{token:?} {origin:?}");
    }
    assert_eq!(app.reports_total().await, 0);
    // Bob's token is not Alice's.
    let bob = app.browser("bob").await;
    let bobs = app.get("/report", &bob).await.csrf();
    assert_ne!(bobs, csrf);
    let f = fields(&bobs);
    let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let page = app.send("POST", "/report", &alice, Some(&f), None).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert_eq!(app.reports_total().await, 0);
    // The right token from this site files it.
    let f = fields(&csrf);
    let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let page = app
        .send(
            "POST",
            "/report",
            &alice,
            Some(&f),
            Some("http://wp.example"),
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(app.reports_total().await, 1);
}

#[tokio::test]
async fn a_disabled_users_session_ends_and_a_signed_in_user_gets_the_404_page() {
    let app = app().await;
    let alice = app.browser("alice").await;
    let missing = app.get("/no-such-page", &alice).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(
        missing
            .body
            .contains("There is no such page, or you may not see it.")
    );
    assert_page_headers(&missing, "404");
    let user = app
        .store
        .get_user_by_name(&Viewer::system(), "alice")
        .await
        .unwrap();
    app.store
        .set_user_disabled(&Viewer::system(), user.id, true)
        .await
        .unwrap();
    assert_eq!(app.get("/report", &alice).await.location(), Some("/login"));
    let mut again = Browser::default();
    assert_eq!(
        app.sign_in(&mut again, "alice", PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[test]
fn passwords_shorter_than_twelve_characters_are_refused() {
    assert!(web::ui::hash_password("eleven char").is_err());
    let hash = web::ui::hash_password("twelve chars").unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(web::ui::hash_password(&"x".repeat(1025)).is_err());
}

/// A setup link for tests: one secret, one user, one use.
struct OneLink {
    secret: &'static str,
    user: incidents::UserId,
    used: std::sync::atomic::AtomicBool,
}

impl web::ui::AdminSetup for OneLink {
    fn user_for(&self, token: &str) -> Option<incidents::UserId> {
        (!self.used.load(std::sync::atomic::Ordering::SeqCst) && token == self.secret)
            .then_some(self.user)
    }

    fn used(&self) {
        self.used.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

#[tokio::test]
async fn the_setup_link_sets_the_admins_password_once() {
    let mut app = app().await;
    let admin = app
        .store
        .create_user(
            &Viewer::system(),
            NewUser {
                name: "admin".to_owned(),
                role: Role::Admin,
            },
        )
        .await
        .unwrap();
    let secret = "5e7c".repeat(16);
    let link = Arc::new(OneLink {
        secret: Box::leak(secret.clone().into_boxed_str()),
        user: admin.id,
        used: Default::default(),
    });
    let state = AppState {
        setup: Some(link.clone()),
        ..AppState::new(app.store.clone())
    };
    app.router = web::router_with(state, web::RouterOptions::default());
    let anon = Browser::default();
    // A wrong or missing token: the same 404 page.
    for path in [
        "/setup",
        "/setup?token=abc",
        &format!("/setup?token={}", "0".repeat(64)),
    ] {
        let page = app.get(path, &anon).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
        assert!(page.body.contains("This link is not valid"), "{path}");
    }
    let path = format!("/setup?token={secret}");
    let mut browser = Browser::default();
    let form = app.get(&path, &browser).await;
    assert_eq!(form.status, StatusCode::OK);
    assert_page_headers(&form, "/setup");
    browser.keep(&form);
    let csrf = form.csrf();
    let post = |password: &'static str, confirm: &'static str, csrf: String| {
        let browser = browser.clone();
        let secret = secret.clone();
        let app = &app;
        async move {
            app.send(
                "POST",
                "/setup",
                &browser,
                Some(&[
                    ("token", secret.as_str()),
                    ("csrf", csrf.as_str()),
                    ("password", password),
                    ("confirm", confirm),
                ]),
                Some("http://wp.example"),
            )
            .await
        }
    };
    let page = post("a new admin password", "a new admin passw0rd", csrf.clone()).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("The two passwords differ."));
    let page = post("too short", "too short", csrf.clone()).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.body.contains("at least 12 characters"),
        "{}",
        page.body
    );
    let page = post(
        "a new admin password",
        "a new admin password",
        "0".repeat(64),
    )
    .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    let page = post("a new admin password", "a new admin password", csrf.clone()).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(page.location(), Some("/login"));
    // Used: the link works no more, and the password signs in.
    assert_eq!(app.get(&path, &anon).await.status, StatusCode::NOT_FOUND);
    let mut b = Browser::default();
    assert_eq!(
        app.sign_in(&mut b, "admin", "a new admin password")
            .await
            .status,
        StatusCode::SEE_OTHER
    );
}
