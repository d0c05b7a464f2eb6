//! Slack's request signature: `X-Slack-Signature: v0=<hex>` is the
//! HMAC-SHA256, keyed with the app's signing secret, of
//! `v0:{X-Slack-Request-Timestamp}:{raw body}`. A timestamp more than five
//! minutes away from now (either way) is refused, and so is a signature
//! seen before inside that window (a replayed request).
//!
//! Pure apart from the [`ReplayGuard`]'s memory: the caller passes the
//! clock.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::http::HeaderMap;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How far a request's timestamp may be from now, in seconds.
pub(crate) const WINDOW_SECS: i64 = 5 * 60;
/// The most signatures remembered at once (only verified requests inside
/// the window are remembered, so only Slack can fill it).
const REMEMBERED: usize = 10_000;

/// The signature header.
pub(crate) const SIGNATURE_HEADER: &str = "x-slack-signature";
/// The timestamp header.
pub(crate) const TIMESTAMP_HEADER: &str = "x-slack-request-timestamp";

/// Why a request is not Slack's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// A header is missing or not text.
    MissingHeader,
    /// The timestamp is not a whole number of seconds.
    BadTimestamp,
    /// The timestamp is more than [`WINDOW_SECS`] from now.
    Stale,
    /// The signature is malformed or does not match.
    BadSignature,
    /// The same signed request was seen before.
    Replayed,
}

impl Refusal {
    /// A short name for the log.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Refusal::MissingHeader => "missing_header",
            Refusal::BadTimestamp => "bad_timestamp",
            Refusal::Stale => "timestamp_outside_window",
            Refusal::BadSignature => "bad_signature",
            Refusal::Replayed => "replayed",
        }
    }
}

/// A verified request's timestamp and signature (for the replay guard).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Signed {
    pub(crate) timestamp: i64,
    pub(crate) signature: [u8; 32],
}

/// Checks the signature headers of a request with body `body` at `now`
/// (Unix seconds). Does not check for replays: see [`ReplayGuard`].
pub(crate) fn verify(
    secret: &[u8],
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<Signed, Refusal> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .ok_or(Refusal::MissingHeader)
    };
    let timestamp_text = header(TIMESTAMP_HEADER)?;
    let signature_text = header(SIGNATURE_HEADER)?;
    let timestamp: i64 = timestamp_text
        .trim()
        .parse()
        .map_err(|_| Refusal::BadTimestamp)?;
    if now.abs_diff(timestamp) > WINDOW_SECS.unsigned_abs() {
        return Err(Refusal::Stale);
    }
    let hex_part = signature_text
        .strip_prefix("v0=")
        .ok_or(Refusal::BadSignature)?;
    let mut signature = [0u8; 32];
    hex::decode_to_slice(hex_part, &mut signature).map_err(|_| Refusal::BadSignature)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).map_err(|_| Refusal::BadSignature)?;
    mac.update(b"v0:");
    mac.update(timestamp_text.as_bytes());
    mac.update(b":");
    mac.update(body);
    // Constant-time comparison.
    mac.verify_slice(&signature)
        .map_err(|_| Refusal::BadSignature)?;
    Ok(Signed {
        timestamp,
        signature,
    })
}

/// The signatures of verified requests seen inside the window: a second
/// request with the same signature is a replay.
#[derive(Debug, Default)]
pub(crate) struct ReplayGuard {
    seen: Mutex<HashMap<[u8; 32], i64>>,
}

impl ReplayGuard {
    /// Remembers `signed`; `Err(Replayed)` when it was seen before.
    pub(crate) fn first_time(&self, signed: &Signed, now: i64) -> Result<(), Refusal> {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        // Anything older than the window would be refused as stale anyway.
        seen.retain(|_, ts| now.abs_diff(*ts) <= WINDOW_SECS.unsigned_abs());
        if seen.contains_key(&signed.signature) {
            return Err(Refusal::Replayed);
        }
        if seen.len() >= REMEMBERED
            && let Some(oldest) = seen.iter().min_by_key(|(_, ts)| **ts).map(|(k, _)| *k)
        {
            seen.remove(&oldest);
        }
        seen.insert(signed.signature, signed.timestamp);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Slack's documented example (api.slack.com/authentication/verifying-requests-from-slack).
    const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const TIMESTAMP: &str = "1531420618";
    const BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const SIGNATURE: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    fn headers(ts: &str, sig: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(TIMESTAMP_HEADER, ts.parse().unwrap());
        h.insert(SIGNATURE_HEADER, sig.parse().unwrap());
        h
    }

    #[test]
    fn slacks_documented_example_verifies() {
        let now = 1_531_420_618 + 10;
        let signed = verify(
            SECRET.as_bytes(),
            &headers(TIMESTAMP, SIGNATURE),
            BODY.as_bytes(),
            now,
        )
        .unwrap();
        assert_eq!(signed.timestamp, 1_531_420_618);
    }

    #[test]
    fn refusals() {
        let now = 1_531_420_618;
        let check = |h: &HeaderMap, body: &str, now: i64| {
            verify(SECRET.as_bytes(), h, body.as_bytes(), now)
        };
        let good = headers(TIMESTAMP, SIGNATURE);
        assert_eq!(
            check(&good, &format!("{BODY}x"), now),
            Err(Refusal::BadSignature)
        );
        assert_eq!(check(&good, BODY, now + 301), Err(Refusal::Stale));
        assert_eq!(check(&good, BODY, now - 301), Err(Refusal::Stale));
        assert!(check(&good, BODY, now + 300).is_ok());
        assert_eq!(
            check(
                &headers(
                    TIMESTAMP,
                    "a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
                ),
                BODY,
                now
            ),
            Err(Refusal::BadSignature)
        );
        assert_eq!(
            check(&headers(TIMESTAMP, "v0=zz"), BODY, now),
            Err(Refusal::BadSignature)
        );
        assert_eq!(
            check(&headers("soon", SIGNATURE), BODY, now),
            Err(Refusal::BadTimestamp)
        );
        assert_eq!(
            check(&HeaderMap::new(), BODY, now),
            Err(Refusal::MissingHeader)
        );
        let mut only_ts = HeaderMap::new();
        only_ts.insert(TIMESTAMP_HEADER, TIMESTAMP.parse().unwrap());
        assert_eq!(check(&only_ts, BODY, now), Err(Refusal::MissingHeader));
        assert_eq!(
            verify(b"another secret", &good, BODY.as_bytes(), now),
            Err(Refusal::BadSignature)
        );
    }

    #[test]
    fn a_signature_is_accepted_once_inside_the_window() {
        let guard = ReplayGuard::default();
        let a = Signed {
            timestamp: 1000,
            signature: [1; 32],
        };
        let b = Signed {
            timestamp: 1001,
            signature: [2; 32],
        };
        assert_eq!(guard.first_time(&a, 1000), Ok(()));
        assert_eq!(guard.first_time(&b, 1001), Ok(()));
        assert_eq!(guard.first_time(&a, 1002), Err(Refusal::Replayed));
        // Past the window the entry is forgotten (the timestamp check
        // refuses such a request before the guard is asked).
        assert_eq!(guard.first_time(&a, 1000 + 301), Ok(()));
    }
}
