//! Browser sessions, CSRF checks and the sign-in throttle.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::http::header::{COOKIE, HOST, ORIGIN};
use axum::middleware::Next;
use axum::response::Response;
use incidents::user::TokenHash;
use rand::RngCore;

use crate::caller::Caller;
use crate::state::AppState;

/// The session cookie.
pub const SESSION_COOKIE: &str = "__Host-wp_session";
/// The cookie that binds the sign-in form's CSRF token.
pub const LOGIN_COOKIE: &str = "__Host-wp_login";
/// A session ends this long after sign-in, used or not.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
/// A session unused for this long ends.
pub const SESSION_IDLE: Duration = Duration::from_secs(30 * 60);

/// A signed-in request's session, put in the request by [`load_session`].
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub caller: Caller,
    pub csrf: String,
    pub id_hash: TokenHash,
}

/// A fresh random secret: 32 bytes as 64 hex digits.
pub(crate) fn secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// True when `value` looks like a [`secret`] (so junk never reaches the
/// store).
pub(crate) fn looks_like_secret(value: &str) -> bool {
    value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The value of cookie `name`, if the request sends one.
pub(crate) fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.trim())
}

/// True when the request carries something that looks like a session
/// cookie (valid or not): it is treated as signed in for choosing between
/// the 404 page and the sign-in redirect, nothing more.
pub(crate) fn has_session_cookie(headers: &HeaderMap) -> bool {
    cookie(headers, SESSION_COOKIE).is_some_and(looks_like_secret)
}

/// `Set-Cookie` for a new session id.
pub(crate) fn session_cookie(id: &str) -> String {
    format!("{SESSION_COOKIE}={id}; Path=/; Secure; HttpOnly; SameSite=Lax")
}

/// `Set-Cookie` that removes cookie `name`.
pub(crate) fn expired_cookie(name: &str) -> String {
    format!("{name}=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0")
}

/// `Set-Cookie` for the sign-in form's CSRF token.
pub(crate) fn login_cookie(token: &str) -> String {
    format!("{LOGIN_COOKIE}={token}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=3600")
}

/// Compares two secrets in time independent of where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Resolves the session cookie, if any, and puts the [`Session`] in the
/// request. An unknown, expired or idle session is no session.
pub(crate) async fn load_session(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    if let Some(id) = cookie(request.headers(), SESSION_COOKIE).filter(|v| looks_like_secret(v)) {
        let id_hash = TokenHash::of(id);
        match state
            .store
            .session(id_hash, time::OffsetDateTime::now_utc(), SESSION_IDLE)
            .await
        {
            Ok(Some((user, viewer, csrf))) if !user.disabled && !viewer.is_system() => {
                request.extensions_mut().insert(Session {
                    caller: Caller { user },
                    csrf,
                    id_hash,
                });
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "cannot look up a session"),
        }
    }
    next.run(request).await
}

/// True when a form POST comes from this site: `Sec-Fetch-Site`, when the
/// browser sends it, is `same-origin` (or `none`: typed by the user), and
/// `Origin`, when sent, names the host the request was sent to. The CSRF
/// token is checked besides.
pub(crate) fn same_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        let site = site.to_str().unwrap_or("");
        if site != "same-origin" && site != "none" {
            return false;
        }
    }
    match headers.get(ORIGIN) {
        None => true,
        Some(origin) => {
            let origin = origin.to_str().unwrap_or("");
            let host = headers
                .get(HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("");
            let authority = origin
                .strip_prefix("https://")
                .or_else(|| origin.strip_prefix("http://"));
            !host.is_empty() && authority == Some(host)
        }
    }
}

/// Most failed sign-ins per user name in [`THROTTLE_WINDOW`].
pub const THROTTLE_FAILURES: usize = 5;
/// Most failed sign-ins per address in [`THROTTLE_WINDOW`]: higher than
/// per name, since many people may share one address (an office, a
/// reverse proxy), and one person's typos must not lock out the rest.
pub const THROTTLE_ADDRESS_FAILURES: usize = 50;

/// The limit of a throttle key (`user:NAME` or `addr:IP`).
fn limit_of(key: &str) -> usize {
    if key.starts_with("addr:") {
        THROTTLE_ADDRESS_FAILURES
    } else {
        THROTTLE_FAILURES
    }
}
/// The window failed sign-ins are counted in.
pub const THROTTLE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Most user names and addresses remembered; past it the oldest are
/// forgotten (so a flood of names cannot grow memory).
const THROTTLE_KEYS: usize = 10_000;

/// Failed sign-ins per user name and per address.
#[derive(Debug, Default)]
pub(crate) struct Throttle {
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl Throttle {
    /// True when any of `keys` has had its limit of failures in the
    /// window ([`THROTTLE_FAILURES`] for a name,
    /// [`THROTTLE_ADDRESS_FAILURES`] for an address).
    pub(crate) fn blocked(&self, keys: &[String], now: Instant) -> bool {
        let mut map = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        keys.iter().any(|k| {
            map.get_mut(k).is_some_and(|times| {
                while times
                    .front()
                    .is_some_and(|t| now.duration_since(*t) > THROTTLE_WINDOW)
                {
                    times.pop_front();
                }
                times.len() >= limit_of(k)
            })
        })
    }

    /// Counts a failure against each of `keys`.
    pub(crate) fn fail(&self, keys: &[String], now: Instant) {
        let mut map = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() + keys.len() > THROTTLE_KEYS {
            map.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.duration_since(*t) <= THROTTLE_WINDOW)
            });
            if map.len() + keys.len() > THROTTLE_KEYS {
                map.clear();
            }
        }
        for k in keys {
            let times = map.entry(k.clone()).or_default();
            times.push_back(now);
            while times.len() > limit_of(k) {
                times.pop_front();
            }
        }
    }

    /// Forgets the failures of the user name (a successful sign-in).
    pub(crate) fn clear(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_by_exact_name() {
        let mut h = HeaderMap::new();
        h.append(COOKIE, "a=1; __Host-wp_session=abc; b=2".parse().unwrap());
        h.append(COOKIE, "__Host-wp_login=xyz".parse().unwrap());
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&h, LOGIN_COOKIE), Some("xyz"));
        assert_eq!(cookie(&h, "b"), Some("2"));
        assert_eq!(cookie(&h, "session"), None);
        assert!(!has_session_cookie(&h), "not 64 hex digits");
    }

    #[test]
    fn cross_site_posts_are_refused() {
        let headers = |pairs: &[(&str, &str)]| {
            let mut h = HeaderMap::new();
            for (k, v) in pairs {
                h.insert(
                    axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    v.parse().unwrap(),
                );
            }
            h
        };
        assert!(same_origin(&headers(&[("host", "wp.example:8080")])));
        assert!(same_origin(&headers(&[
            ("host", "wp.example:8080"),
            ("origin", "https://wp.example:8080"),
            ("sec-fetch-site", "same-origin"),
        ])));
        assert!(!same_origin(&headers(&[
            ("host", "wp.example:8080"),
            ("origin", "https://evil.example"),
        ])));
        assert!(!same_origin(&headers(&[
            ("host", "wp.example:8080"),
            ("sec-fetch-site", "cross-site"),
        ])));
        assert!(!same_origin(&headers(&[
            ("host", "wp.example:8080"),
            ("sec-fetch-site", "same-site"),
        ])));
        assert!(!same_origin(&headers(&[("origin", "null")])));
    }

    #[test]
    fn the_throttle_blocks_a_name_after_five_failures_and_an_address_after_fifty() {
        let t = Throttle::default();
        let start = Instant::now();
        let keys = ["user:alice".to_string(), "addr:192.0.2.1".to_string()];
        for i in 0..4 {
            t.fail(&keys, start + Duration::from_secs(i));
        }
        assert!(!t.blocked(&keys, start + Duration::from_secs(5)));
        t.fail(&keys, start + Duration::from_secs(5));
        assert!(t.blocked(&keys, start + Duration::from_secs(6)));
        // Five from the address are not enough to hold back its other
        // users; fifty are.
        let bob = ["user:bob".to_string(), "addr:192.0.2.1".to_string()];
        assert!(!t.blocked(&bob, start + Duration::from_secs(6)));
        for i in 0..44 {
            t.fail(&[format!("user:u{i}"), "addr:192.0.2.1".to_string()], start);
        }
        assert!(!t.blocked(&bob, start + Duration::from_secs(6)), "49");
        t.fail(&["user:x".to_string(), "addr:192.0.2.1".to_string()], start);
        assert!(t.blocked(&bob, start + Duration::from_secs(6)), "50");
        // The oldest failure leaves the window 15 minutes after it.
        assert!(!t.blocked(&keys, start + Duration::from_secs(901)));
        t.clear("user:alice");
        assert!(!t.blocked(&["user:alice".to_string()], start));
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("abcd", "abcd"));
        assert!(!same_secret("abcd", "abce"));
        assert!(!same_secret("abcd", "abc"));
        assert_eq!(secret().len(), 64);
        assert_ne!(secret(), secret());
    }
}
