//! Webhook signatures.
//!
//! Every webhook request carries three headers:
//!
//! - `X-Watchpost-Delivery`: the delivery id, the same on every retry of one
//!   notification to one destination, so a receiver can drop duplicates and
//!   replays;
//! - `X-Watchpost-Timestamp`: the send time in Unix seconds;
//! - `X-Watchpost-Signature`: `sha256=<hex>`, the HMAC-SHA256, keyed with the
//!   shared secret, of the delivery id, a `.`, the timestamp, a `.`, and the
//!   **raw body bytes**.
//!
//! A receiver recomputes the HMAC over the bytes it received (before parsing
//! them), compares in constant time, rejects timestamps too far from now
//! (see [`verify`]), and then remembers the delivery id (at least for the
//! timestamp tolerance) to refuse the same id again.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Name of the header that carries the signature.
pub const SIGNATURE_HEADER: &str = "X-Watchpost-Signature";
/// Name of the header that carries the Unix timestamp that was signed.
pub const TIMESTAMP_HEADER: &str = "X-Watchpost-Timestamp";
/// Name of the header that carries the delivery id that was signed.
pub const DELIVERY_HEADER: &str = "X-Watchpost-Delivery";

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &[u8], delivery_id: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = HmacSha256::new_from_slice(secret).expect("hmac accepts any key length");
    mac.update(delivery_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// Whether `id` can be a delivery id: 1 to 64 characters of ASCII letters,
/// digits and `-` (so it cannot contain the `.` that separates the signed
/// parts). The outbox message ids used as delivery ids are UUIDs.
pub fn is_delivery_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// The value of the signature header for `body` of delivery `delivery_id`
/// sent at `timestamp`.
pub fn sign(secret: &[u8], delivery_id: &str, timestamp: i64, body: &[u8]) -> String {
    format!(
        "sha256={}",
        hex::encode(
            mac(secret, delivery_id, timestamp, body)
                .finalize()
                .into_bytes()
        )
    )
}

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The header is not `sha256=<hex>`, or the delivery id is not one
    /// ([`is_delivery_id`]).
    #[error("malformed signature header or delivery id")]
    Malformed,
    /// The timestamp is further from now than the tolerance.
    #[error("timestamp {timestamp} is more than {tolerance_secs} s away from now")]
    Stale {
        /// The signed timestamp.
        timestamp: i64,
        /// The allowed distance from now.
        tolerance_secs: i64,
    },
    /// The HMAC does not match.
    #[error("signature does not match")]
    Mismatch,
}

/// Checks a signature header against the delivery id, the timestamp and
/// the raw body, in constant time, and refuses timestamps more than
/// `tolerance_secs` away from `now`. Dropping an id seen before is the
/// receiver's part.
pub fn verify(
    secret: &[u8],
    delivery_id: &str,
    timestamp: i64,
    body: &[u8],
    header: &str,
    now: i64,
    tolerance_secs: i64,
) -> Result<(), SignatureError> {
    let hex_sig = header
        .strip_prefix("sha256=")
        .ok_or(SignatureError::Malformed)?;
    let expected = hex::decode(hex_sig).map_err(|_| SignatureError::Malformed)?;
    if !is_delivery_id(delivery_id) {
        return Err(SignatureError::Malformed);
    }
    if (now - timestamp).abs() > tolerance_secs {
        return Err(SignatureError::Stale {
            timestamp,
            tolerance_secs,
        });
    }
    mac(secret, delivery_id, timestamp, body)
        .verify_slice(&expected)
        .map_err(|_| SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0193a4b2-7c1d-7e00-8000-000000000001";
    const T: i64 = 1_700_000_000;
    const BODY: &[u8] = b"{\"a\":1}";

    #[test]
    fn a_signature_verifies_and_any_change_breaks_it() {
        let sig = sign(b"secret", ID, T, BODY);
        assert!(sig.starts_with("sha256="));
        let check = |secret: &[u8], id: &str, t: i64, body: &[u8], header: &str, now: i64| {
            verify(secret, id, t, body, header, now, 300)
        };
        assert_eq!(check(b"secret", ID, T, BODY, &sig, T + 10), Ok(()));
        for (what, got) in [
            ("body", check(b"secret", ID, T, b"{\"a\":2}", &sig, T + 10)),
            ("secret", check(b"other", ID, T, BODY, &sig, T + 10)),
            ("timestamp", check(b"secret", ID, T + 1, BODY, &sig, T + 10)),
            (
                "delivery id",
                check(
                    b"secret",
                    "0193a4b2-7c1d-7e00-8000-000000000002",
                    T,
                    BODY,
                    &sig,
                    T + 10,
                ),
            ),
        ] {
            assert_eq!(got, Err(SignatureError::Mismatch), "changed {what}");
        }
        assert!(matches!(
            check(b"secret", ID, T, BODY, &sig, T + 1000),
            Err(SignatureError::Stale { .. })
        ));
        assert_eq!(
            check(b"secret", ID, 1, b"", "md5=00", 1),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn delivery_ids_cannot_shift_the_signed_parts() {
        // Moving a `.` between the id and the timestamp would sign the same
        // bytes; ids with a `.` (or empty, or too long) are refused.
        for (id, ok) in [
            (ID, true),
            ("abc", true),
            ("", false),
            ("abc.1", false),
            ("a b", false),
            ("é", false),
            (&"a".repeat(65) as &str, false),
        ] {
            assert_eq!(is_delivery_id(id), ok, "{id:?}");
            let sig = sign(b"k", id, 1, b"body");
            assert_eq!(
                verify(b"k", id, 1, b"body", &sig, 1, 300).is_ok(),
                ok,
                "{id:?}"
            );
        }
    }

    #[test]
    fn known_vector() {
        // HMAC-SHA256(key="key", "abc.1.body"), computed independently with
        // `printf 'abc.1.body' | openssl dgst -sha256 -hmac key`.
        assert_eq!(
            sign(b"key", "abc", 1, b"body"),
            "sha256=5e66c19e1d3416feb519107529ffda9c8e384a92c6000b609ce9555355759daf"
        );
    }
}
