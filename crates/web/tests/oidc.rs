//! Single sign-on (`/login/oidc`, `/login/oidc/callback`) against the real
//! router, a real SQLite store and the test provider of
//! `support/oidc_provider.rs` on 127.0.0.1: the whole flow, and each way
//! it must refuse (state, signature, nonce, audience, role, disabled user,
//! the provider's own refusal), without the client secret in the logs.

mod support {
    pub mod oidc_provider;
    pub mod pages;
}

use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use axum::{Extension, Router};
use incidents::{Role, Store, Viewer};
use support::oidc_provider::{Behaviour, Provider};
use support::pages::{self, Page};
use watchpost_web as web;
use web::AppState;
use web::ui::oidc::{Oidc, OidcSettings};

const CLIENT_ID: &str = "watchpost-test";
const CLIENT_SECRET: &str = "client-secret-that-must-never-be-logged";
const REDIRECT: &str = "https://wp.example/login/oidc/callback";

struct App {
    router: Router,
    store: Arc<dyn Store>,
    provider: Provider,
    oidc: Oidc,
    _dir: tempfile::TempDir,
}

impl Page {
    /// Where the answer redirects to; it must redirect.
    fn goes_to(&self) -> &str {
        self.location()
            .unwrap_or_else(|| panic!("no Location ({}):\n{}", self.status, self.body))
    }

    fn sets_session(&self) -> bool {
        self.set_cookies()
            .iter()
            .any(|c| c.starts_with("__Host-wp_session=") && !c.starts_with("__Host-wp_session=;"))
    }
}

#[derive(Default, Clone)]
struct Browser {
    cookies: Vec<(String, String)>,
}

impl Browser {
    fn cookie_header(&self) -> Option<String> {
        (!self.cookies.is_empty()).then(|| {
            self.cookies
                .iter()
                .map(|(n, v)| format!("{n}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    fn keep(&mut self, page: &Page) {
        for c in page.set_cookies() {
            let (pair, _) = c.split_once(';').unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            self.cookies.retain(|(n, _)| n != name);
            if !value.is_empty() {
                self.cookies.push((name.to_owned(), value.to_owned()));
            }
        }
    }

    fn has(&self, name: &str) -> bool {
        self.cookies.iter().any(|(n, _)| n == name)
    }
}

fn settings(issuer: &str, default_role: Option<Role>, display_name: &str) -> OidcSettings {
    OidcSettings {
        issuer_url: issuer.to_owned(),
        client_id: CLIENT_ID.to_owned(),
        client_secret: Some(CLIENT_SECRET.to_owned()),
        redirect_url: REDIRECT.to_owned(),
        display_name: display_name.to_owned(),
        scopes: vec!["email".into()],
        role_claim: Some("groups".into()),
        roles: vec![
            ("security-team".into(), Role::Responder),
            ("finance".into(), Role::FinanceOps),
            ("staff".into(), Role::Reporter),
        ],
        default_role,
    }
}

async fn app_with(default_role: Option<Role>, display_name: &str) -> App {
    let (store, dir) = pages::store_with(&[], incidents::StoreOptions::default()).await;
    let provider = Provider::start(CLIENT_ID, REDIRECT).await;
    let oidc = Oidc::new(settings(provider.issuer(), default_role, display_name)).unwrap();
    let router = web::router_with(AppState::new(store.clone()), web::RouterOptions::default())
        .layer(Extension(oidc.clone()));
    App {
        router,
        store,
        provider,
        oidc,
        _dir: dir,
    }
}

async fn app() -> App {
    app_with(None, "Example SSO").await
}

impl App {
    async fn get(&self, path: &str, browser: &Browser) -> Page {
        get(&self.router, path, browser).await
    }

    /// Starts a sign-in: `/login/oidc`, then the provider's `/authorize`.
    /// Returns the callback path and query the provider sent back.
    async fn to_provider_and_back(&self, browser: &mut Browser) -> String {
        let start = self.get("/login/oidc", browser).await;
        assert_eq!(start.status, StatusCode::SEE_OTHER, "{}", start.body);
        browser.keep(&start);
        assert!(browser.has("__Host-wp_oidc"));
        let flow_cookie = start
            .set_cookies()
            .into_iter()
            .find(|c| c.starts_with("__Host-wp_oidc="))
            .unwrap();
        for attribute in [
            "Secure",
            "HttpOnly",
            "SameSite=Lax",
            "Path=/",
            "Max-Age=600",
        ] {
            assert!(flow_cookie.contains(attribute), "{flow_cookie}");
        }
        let authorize = start.goes_to().to_owned();
        assert!(
            authorize.starts_with(&format!("{}/authorize?", self.provider.issuer())),
            "{authorize}"
        );
        for part in [
            "code_challenge_method=S256",
            "nonce=",
            "state=",
            "scope=openid+email",
        ] {
            assert!(authorize.contains(part), "{part} in {authorize}");
        }
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let answer = http.get(&authorize).send().await.unwrap();
        assert_eq!(answer.status().as_u16(), 303);
        let back = answer.headers()["location"].to_str().unwrap().to_owned();
        back.strip_prefix("https://wp.example")
            .unwrap_or_else(|| panic!("{back}"))
            .to_owned()
    }

    /// A whole sign-in; the callback's answer.
    async fn sign_in(&self, browser: &mut Browser) -> Page {
        let callback = self.to_provider_and_back(browser).await;
        let page = self.get(&callback, browser).await;
        browser.keep(&page);
        page
    }

    async fn sso_user(&self, subject: &str) -> incidents::User {
        self.store
            .get_user_by_name(
                &Viewer::system(),
                &web::ui::oidc::user_name(self.provider.issuer(), subject),
            )
            .await
            .unwrap()
    }

    async fn user_count(&self) -> i64 {
        self.store.count_users(&Viewer::system()).await.unwrap()
    }
}

async fn get(router: &Router, path: &str, browser: &Browser) -> Page {
    pages::request(router, "GET", path, browser.cookie_header(), None, None).await
}

/// Asserts a refused sign-in: the sign-in page with `message`, no session,
/// the flow cookie removed, and /my-reports still sends to /login.
async fn assert_refused(
    app: &App,
    browser: &mut Browser,
    page: &Page,
    status: StatusCode,
    message: &str,
) {
    assert_eq!(page.status, status, "{}", page.body);
    assert!(page.body.contains(message), "{message} in\n{}", page.body);
    assert!(page.body.contains("role=\"alert\""), "{}", page.body);
    assert!(
        page.body.contains("Sign in with Example SSO"),
        "{}",
        page.body
    );
    assert!(!page.sets_session());
    assert!(
        page.set_cookies()
            .iter()
            .any(|c| c.starts_with("__Host-wp_oidc=;") && c.contains("Max-Age=0")),
        "{:?}",
        page.set_cookies()
    );
    assert!(page.headers.contains_key("content-security-policy"));
    assert!(!page.body.contains("panicked") && !page.body.contains("RUST_BACKTRACE"));
    browser.keep(page);
    let reports = app.get("/my-reports", browser).await;
    assert_eq!(reports.status, StatusCode::SEE_OTHER);
    assert_eq!(reports.goes_to(), "/login");
}

#[tokio::test]
async fn the_whole_flow_signs_in_with_the_role_of_the_claim() {
    let app = app().await;
    app.provider.behave(Behaviour {
        groups: Some(serde_json::json!(["everyone", "security-team"])),
        ..Behaviour::default()
    });
    // The sign-in page offers the provider.
    let login = app.get("/login", &Browser::default()).await;
    assert_eq!(login.status, StatusCode::OK);
    assert!(
        login
            .body
            .contains("<a class=\"sso-button\" href=\"/login/oidc\">Sign in with Example SSO</a>"),
        "{}",
        login.body
    );

    let mut browser = Browser::default();
    let page = app.sign_in(&mut browser).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(page.goes_to(), "/report");
    let session = page
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("__Host-wp_session="))
        .expect("a session cookie");
    assert!(
        session.ends_with("; Path=/; Secure; HttpOnly; SameSite=Lax"),
        "{session}"
    );
    assert!(!browser.has("__Host-wp_oidc"), "the flow cookie is removed");

    let user = app.sso_user("248289761001").await;
    assert_eq!(user.role, Role::Responder);
    assert!(user.name.starts_with("sso-") && user.name.len() == 24);
    let reports = app.get("/my-reports", &browser).await;
    assert_eq!(reports.status, StatusCode::OK, "{}", reports.body);
    assert!(reports.body.contains(&user.name));
    // The client authenticated at the token endpoint with its secret.
    let auth = app.provider.token_auth();
    assert_eq!(auth.len(), 1);
    assert!(auth[0].starts_with("Basic "), "{auth:?}");

    // Signing in again is the same user, with a new session id.
    let first_session = browser.cookies.clone();
    let again = app.sign_in(&mut browser).await;
    assert_eq!(again.status, StatusCode::SEE_OTHER);
    assert_ne!(browser.cookies, first_session);
    assert_eq!(app.user_count().await, 1);
    // The old session ended.
    let old = Browser {
        cookies: first_session,
    };
    assert_eq!(
        app.get("/my-reports", &old).await.status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn a_changed_claim_changes_the_role_at_the_next_sign_in() {
    let app = app().await;
    app.provider.behave(Behaviour {
        groups: Some(serde_json::json!("finance")),
        ..Behaviour::default()
    });
    let mut browser = Browser::default();
    assert_eq!(
        app.sign_in(&mut browser).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(app.sso_user("248289761001").await.role, Role::FinanceOps);
    app.provider.behave(Behaviour {
        groups: Some(serde_json::json!(["staff"])),
        ..Behaviour::default()
    });
    let mut other = Browser::default();
    assert_eq!(app.sign_in(&mut other).await.status, StatusCode::SEE_OTHER);
    assert_eq!(app.sso_user("248289761001").await.role, Role::Reporter);
    // The role change ended the first browser's session.
    assert_eq!(
        app.get("/my-reports", &browser).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(app.get("/my-reports", &other).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_wrong_state_is_refused() {
    let app = app().await;
    app.provider.behave(Behaviour {
        groups: Some(serde_json::json!(["staff"])),
        ..Behaviour::default()
    });
    let mut browser = Browser::default();
    let callback = app.to_provider_and_back(&mut browser).await;
    let mut url = url::Url::parse(&format!("https://wp.example{callback}")).unwrap();
    let code = url
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    url.query_pairs_mut()
        .clear()
        .append_pair("code", &code)
        .append_pair("state", "not-the-state-we-sent");
    let page = app
        .get(
            &format!("{}?{}", url.path(), url.query().unwrap()),
            &browser,
        )
        .await;
    assert_refused(
        &app,
        &mut browser,
        &page,
        StatusCode::BAD_REQUEST,
        "This sign-in had expired or was not started here",
    )
    .await;
    assert_eq!(app.oidc.failures("state"), 1);
    assert_eq!(app.user_count().await, 0);

    // A callback with no sign-in in progress (no cookie) is refused too.
    let page = app.get(&callback, &Browser::default()).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert_eq!(app.oidc.failures("state"), 2);
}

#[tokio::test]
async fn a_tampered_signature_is_refused() {
    let app = app().await;
    app.provider.behave(Behaviour {
        groups: Some(serde_json::json!(["security-team"])),
        tamper_signature: true,
        ..Behaviour::default()
    });
    let mut browser = Browser::default();
    let page = app.sign_in(&mut browser).await;
    assert_refused(
        &app,
        &mut browser,
        &page,
        StatusCode::FORBIDDEN,
        "could not be verified",
    )
    .await;
    assert_eq!(app.oidc.failures("token"), 1);
    assert_eq!(app.user_count().await, 0);
}

#[tokio::test]
async fn a_wrong_nonce_is_refused() {
    let app = app().await;
    app.provider.behave(Behaviour {
        groups: Some(serde_json::json!(["staff"])),
        nonce: Some("a-nonce-from-another-sign-in".into()),
        ..Behaviour::default()
    });
    let mut browser = Browser::default();
    let page = app.sign_in(&mut browser).await;
    assert_refused(
        &app,
        &mut browser,
        &page,
        StatusCode::FORBIDDEN,
        "could not be verified",
    )
    .await;
    assert_eq!(app.oidc.failures("token"), 1);
    assert_eq!(app.user_count().await, 0);
}

#[tokio::test]
async fn a_wrong_audience_is_refused() {
    let app = app().await;
    app.provider.behave(Behaviour {
        groups: Some(serde_json::json!(["staff"])),
        audience: Some("some-other-client".into()),
        ..Behaviour::default()
    });
    let mut browser = Browser::default();
    let page = app.sign_in(&mut browser).await;
    assert_refused(
        &app,
        &mut browser,
        &page,
        StatusCode::FORBIDDEN,
        "could not be verified",
    )
    .await;
    assert_eq!(app.oidc.failures("token"), 1);
    assert_eq!(app.user_count().await, 0);
}

#[tokio::test]
async fn an_unmapped_claim_without_a_default_role_is_refused() {
    let app = app().await;
    for groups in [Some(serde_json::json!(["contractors"])), None] {
        app.provider.behave(Behaviour {
            groups,
            ..Behaviour::default()
        });
        let mut browser = Browser::default();
        let page = app.sign_in(&mut browser).await;
        assert_refused(
            &app,
            &mut browser,
            &page,
            StatusCode::FORBIDDEN,
            "Your Example SSO account is not allowed to use watchpost",
        )
        .await;
    }
    assert_eq!(app.oidc.failures("role"), 2);
    assert_eq!(app.user_count().await, 0);
}

#[tokio::test]
async fn an_unmapped_claim_gets_the_default_role_when_there_is_one() {
    let app = app_with(Some(Role::Reporter), "Example SSO").await;
    app.provider.behave(Behaviour {
        groups: Some(serde_json::json!(["contractors"])),
        ..Behaviour::default()
    });
    let mut browser = Browser::default();
    assert_eq!(
        app.sign_in(&mut browser).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(app.sso_user("248289761001").await.role, Role::Reporter);
}

#[tokio::test]
async fn a_disabled_user_is_refused() {
    let app = app().await;
    app.provider.behave(Behaviour {
        groups: Some(serde_json::json!(["staff"])),
        ..Behaviour::default()
    });
    let mut browser = Browser::default();
    assert_eq!(
        app.sign_in(&mut browser).await.status,
        StatusCode::SEE_OTHER
    );
    let user = app.sso_user("248289761001").await;
    app.store
        .set_user_disabled(&Viewer::system(), user.id, true)
        .await
        .unwrap();
    let mut browser = Browser::default();
    let page = app.sign_in(&mut browser).await;
    assert_refused(
        &app,
        &mut browser,
        &page,
        StatusCode::FORBIDDEN,
        "This account is disabled",
    )
    .await;
    assert_eq!(app.oidc.failures("disabled"), 1);
    // Still disabled, still a reporter.
    let after = app.sso_user("248289761001").await;
    assert!(after.disabled);
    assert_eq!(after.role, Role::Reporter);
}

#[tokio::test]
async fn the_providers_refusal_is_shown_plainly() {
    let app = app().await;
    app.provider.behave(Behaviour {
        refuse: Some("access_denied".into()),
        ..Behaviour::default()
    });
    let mut browser = Browser::default();
    let page = app.sign_in(&mut browser).await;
    assert_refused(
        &app,
        &mut browser,
        &page,
        StatusCode::FORBIDDEN,
        "Example SSO did not sign you in.",
    )
    .await;
    assert_eq!(app.oidc.failures("provider_refused"), 1);
}

#[tokio::test]
async fn an_unreachable_provider_is_a_clear_error() {
    // A port nothing listens on.
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("watchpost.db").display());
    let store = incidents::open(&url).await.unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let issuer = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let oidc = Oidc::new(settings(&issuer, None, "Example SSO")).unwrap();
    let router = web::router(AppState::new(store), web::DEFAULT_MAX_BODY_BYTES)
        .layer(Extension(oidc.clone()));
    let page = get(&router, "/login/oidc", &Browser::default()).await;
    assert_eq!(page.status, StatusCode::BAD_GATEWAY);
    assert!(
        page.body
            .contains("Example SSO cannot be reached right now"),
        "{}",
        page.body
    );
    assert_eq!(oidc.failures("provider"), 1);
}

#[tokio::test]
async fn without_oidc_the_pages_are_not_there() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("watchpost.db").display());
    let store = incidents::open(&url).await.unwrap();
    let router = web::router(AppState::new(store), web::DEFAULT_MAX_BODY_BYTES);
    for path in ["/login/oidc", "/login/oidc/callback?code=x&state=y"] {
        let page = get(&router, path, &Browser::default()).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
        assert!(page.body.contains("Not found"), "{}", page.body);
        assert!(page.headers.contains_key("content-security-policy"));
    }
    let login = get(&router, "/login", &Browser::default()).await;
    assert_eq!(login.status, StatusCode::OK);
    assert!(!login.body.contains("Sign in with"), "{}", login.body);
    assert!(!login.body.contains("/login/oidc"));
}

#[tokio::test]
async fn the_provider_name_is_escaped() {
    let app = app_with(None, "Staff <script>alert(1)</script>").await;
    let login = app.get("/login", &Browser::default()).await;
    assert!(!login.body.contains("<script>alert(1)"), "{}", login.body);
    assert!(
        login.body.contains("Sign in with Staff &"),
        "{}",
        login.body
    );
    assert!(login.body.contains("alert(1)"));
}

#[test]
fn settings_with_ingest_or_bad_urls_are_refused() {
    let mut s = settings("https://idp.example", None, "Example SSO");
    s.roles.push(("bots".into(), Role::Ingest));
    assert!(Oidc::new(s).unwrap_err().contains("ingest"));
    let mut s = settings("https://idp.example", None, "Example SSO");
    s.default_role = Some(Role::Ingest);
    assert!(Oidc::new(s).unwrap_err().contains("ingest"));
    let s = settings("not a url", None, "Example SSO");
    assert!(Oidc::new(s).unwrap_err().contains("issuer_url"));
    let s = settings("https://idp.example", None, "Example SSO");
    assert!(!format!("{s:?}").contains(CLIENT_SECRET));
}

/// Every log line of a test, captured.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<String>>);

struct Fields<'a>(&'a mut String);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!(" {}={:?}", field.name(), value));
    }
}

impl tracing::Subscriber for Logs {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        let mut line = self.0.lock().unwrap();
        span.record(&mut Fields(&mut line));
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        let mut line = self.0.lock().unwrap();
        values.record(&mut Fields(&mut line));
    }
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut line = self.0.lock().unwrap();
        line.push_str(event.metadata().target());
        event.record(&mut Fields(&mut line));
        line.push('\n');
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[tokio::test]
async fn the_client_secret_and_the_code_are_never_logged() {
    let logs = Logs::default();
    let _guard = tracing::subscriber::set_default(logs.clone());
    let app = app().await;
    // A sign-in that works, and each kind of refusal.
    let mut codes = Vec::new();
    for behaviour in [
        Behaviour {
            groups: Some(serde_json::json!(["staff"])),
            ..Behaviour::default()
        },
        Behaviour {
            groups: Some(serde_json::json!(["staff"])),
            tamper_signature: true,
            ..Behaviour::default()
        },
        Behaviour {
            groups: Some(serde_json::json!(["nobody"])),
            ..Behaviour::default()
        },
    ] {
        app.provider.behave(behaviour);
        let mut browser = Browser::default();
        let callback = app.to_provider_and_back(&mut browser).await;
        codes.push(
            callback
                .split("code=")
                .nth(1)
                .unwrap()
                .split('&')
                .next()
                .unwrap()
                .to_owned(),
        );
        app.get(&callback, &browser).await;
    }
    let text = logs.0.lock().unwrap().clone();
    assert!(text.contains("signed in with single sign-on"), "{text}");
    assert!(text.contains("single sign-on refused"), "{text}");
    assert!(
        text.contains("reason=\"token\"") || text.contains("reason=token"),
        "{text}"
    );
    assert!(!text.contains(CLIENT_SECRET), "{text}");
    for code in codes {
        assert!(!text.contains(&code), "{text}");
    }
    assert!(!text.contains("eyJ"), "no token in the logs: {text}");
}
