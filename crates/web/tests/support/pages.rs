//! What the in-process page tests share: an [`App`] (the real router on
//! a SQLite store in a temporary directory, with users who have
//! [`PASSWORD`]), a [`Browser`] that keeps the session and login cookies,
//! and the [`Page`] it is shown. Each test binary includes this file with
//! `mod support { pub mod pages; }` and adds its own helpers in
//! `impl App` / `impl Page` blocks of its own.

// Not every test binary uses every helper.
#![allow(dead_code)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use incidents::{NewUser, Role, Store, StoreOptions, Viewer};
use tower::ServiceExt;
use watchpost_web as web;
use web::AppState;

/// The password of every user [`App::with`] makes.
pub const PASSWORD: &str = "correct horse battery staple";
/// The origin of the pages (`Host: wp.example`).
pub const ORIGIN: &str = "http://wp.example";

pub struct App {
    pub router: Router,
    pub store: Arc<dyn Store>,
    pub dir: tempfile::TempDir,
}

pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    pub fn location(&self) -> Option<&str> {
        self.headers.get("location").and_then(|v| v.to_str().ok())
    }

    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    /// The value of cookie `name` that this answer sets.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.set_cookies().iter().find_map(|c| {
            let (pair, _) = c.split_once(';').unwrap_or((c, ""));
            let (n, v) = pair.split_once('=')?;
            (n == name && !v.is_empty()).then(|| v.to_owned())
        })
    }

    /// The CSRF token of the page's (first) form.
    pub fn csrf(&self) -> String {
        let at = self
            .body
            .find("name=\"csrf\" value=\"")
            .unwrap_or_else(|| panic!("no CSRF field in\n{}", self.body));
        let rest = &self.body[at + "name=\"csrf\" value=\"".len()..];
        rest[..rest.find('"').unwrap()].to_owned()
    }

    pub fn csp(&self) -> Option<&str> {
        self.headers
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok())
    }
}

#[derive(Default, Clone)]
pub struct Browser {
    pub session: Option<String>,
    pub login: Option<String>,
}

impl Browser {
    pub fn cookie_header(&self) -> Option<String> {
        let mut parts = Vec::new();
        if let Some(s) = &self.session {
            parts.push(format!("__Host-wp_session={s}"));
        }
        if let Some(l) = &self.login {
            parts.push(format!("__Host-wp_login={l}"));
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }

    /// Keeps (or, set empty, drops) the cookies the page sets.
    pub fn keep(&mut self, page: &Page) {
        for c in page.set_cookies() {
            let (pair, _) = c.split_once(';').unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            let value = (!value.is_empty()).then(|| value.to_owned());
            match name {
                "__Host-wp_session" => self.session = value,
                "__Host-wp_login" => self.login = value,
                _ => {}
            }
        }
    }
}

/// `application/x-www-form-urlencoded` encoding of one name or value.
pub fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A store in a new temporary directory (also its `data_dir`) with
/// `users`, each with [`PASSWORD`].
pub async fn store_with(
    users: &[(&str, Role)],
    options: StoreOptions,
) -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("watchpost.db").display());
    let options = StoreOptions {
        data_dir: Some(dir.path().to_owned()),
        ..options
    };
    let store = incidents::open_with(&url, options).await.unwrap();
    let hash = web::ui::hash_password(PASSWORD).unwrap();
    for (name, role) in users {
        let user = store
            .create_user(
                &Viewer::system(),
                NewUser {
                    name: (*name).to_owned(),
                    role: *role,
                },
            )
            .await
            .unwrap();
        store
            .set_password(&Viewer::system(), user.id, Some(hash.clone()))
            .await
            .unwrap();
    }
    (store, dir)
}

/// Sends one request to `router` with `Host: wp.example`, the `cookie`
/// header, `origin` and `body` as (content type, bytes) if given.
pub async fn request(
    router: &Router,
    method: &str,
    path: &str,
    cookie: Option<String>,
    body: Option<(&str, Vec<u8>)>,
    origin: Option<&str>,
) -> Page {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "wp.example");
    if let Some(c) = cookie {
        request = request.header("cookie", c);
    }
    if let Some(o) = origin {
        request = request.header("origin", o);
    }
    let body = match body {
        Some((content_type, bytes)) => {
            request = request
                .header("content-type", content_type)
                .header("content-length", bytes.len());
            bytes
        }
        None => Vec::new(),
    };
    let response = router
        .clone()
        .oneshot(request.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    Page {
        status,
        headers,
        body: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

impl App {
    /// The router with `router_options` on a store with `users`.
    pub async fn with(
        users: &[(&str, Role)],
        store_options: StoreOptions,
        router_options: web::RouterOptions,
    ) -> App {
        App::with_state(users, store_options, router_options, |state| state).await
    }

    /// Like [`App::with`], with the router's state changed by `state`.
    pub async fn with_state(
        users: &[(&str, Role)],
        store_options: StoreOptions,
        router_options: web::RouterOptions,
        state: impl FnOnce(AppState) -> AppState,
    ) -> App {
        let (store, dir) = store_with(users, store_options).await;
        let router = web::router_with(state(AppState::new(store.clone())), router_options);
        App { router, store, dir }
    }

    /// Sends one request as `browser`, with `form` url-encoded as the
    /// body if given.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        browser: &Browser,
        form: Option<&[(&str, &str)]>,
        origin: Option<&str>,
    ) -> Page {
        let body = form.map(|fields| {
            let encoded = fields
                .iter()
                .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
                .collect::<Vec<_>>()
                .join("&");
            ("application/x-www-form-urlencoded", encoded.into_bytes())
        });
        self.send_body(method, path, browser, body, origin).await
    }

    /// Sends one request as `browser`, with `body` as (content type,
    /// bytes) if given.
    pub async fn send_body(
        &self,
        method: &str,
        path: &str,
        browser: &Browser,
        body: Option<(&str, Vec<u8>)>,
        origin: Option<&str>,
    ) -> Page {
        let cookie = browser.cookie_header();
        request(&self.router, method, path, cookie, body, origin).await
    }

    pub async fn get(&self, path: &str, browser: &Browser) -> Page {
        self.send("GET", path, browser, None, None).await
    }

    /// Signs `name` in through the /login form; returns the answer to the
    /// POST.
    pub async fn sign_in(&self, b: &mut Browser, name: &str, password: &str) -> Page {
        // The form as a tab opened before signing in holds it (a signed-in
        // browser asking for /login now is sent on to /report).
        let before = Browser {
            session: None,
            login: b.login.clone(),
        };
        let form = self.get("/login", &before).await;
        assert_eq!(form.status, StatusCode::OK, "{}", form.body);
        b.keep(&form);
        let csrf = form.csrf();
        let fields = [("username", name), ("password", password), ("csrf", &csrf)];
        let page = self
            .send("POST", "/login", b, Some(&fields), Some(ORIGIN))
            .await;
        b.keep(&page);
        page
    }

    /// A browser signed in as `name` (with [`PASSWORD`]).
    pub async fn browser(&self, name: &str) -> Browser {
        let mut b = Browser::default();
        let page = self.sign_in(&mut b, name, PASSWORD).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
        assert!(b.session.is_some());
        b
    }

    /// Posts `fields` with `csrf` from this site.
    pub async fn post(
        &self,
        path: &str,
        browser: &Browser,
        csrf: &str,
        fields: &[(&str, &str)],
    ) -> Page {
        let mut all = vec![("csrf", csrf)];
        all.extend_from_slice(fields);
        self.send("POST", path, browser, Some(&all), Some(ORIGIN))
            .await
    }
}
