//! Webhook signatures.
//!
//! Every webhook request carries two headers:
//!
//! - `X-Watchpost-Timestamp`: the send time in Unix seconds;
//! - `X-Watchpost-Signature`: `sha256=<hex>`, the HMAC-SHA256, keyed with the
//!   shared secret, of the timestamp, a `.`, and the **raw body bytes**.
//!
//! A receiver recomputes the HMAC over the bytes it received (before parsing
//! them), compares in constant time, and rejects timestamps too far from now
//! (see [`verify`]).

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Name of the header that carries the signature.
pub const SIGNATURE_HEADER: &str = "X-Watchpost-Signature";
/// Name of the header that carries the Unix timestamp that was signed.
pub const TIMESTAMP_HEADER: &str = "X-Watchpost-Timestamp";

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = HmacSha256::new_from_slice(secret).expect("hmac accepts any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The value of the signature header for `body` sent at `timestamp`.
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    format!(
        "sha256={}",
        hex::encode(mac(secret, timestamp, body).finalize().into_bytes())
    )
}

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The header is not `sha256=<hex>`.
    #[error("malformed signature header")]
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

/// Checks a signature header against the raw body, in constant time, and
/// refuses timestamps more than `tolerance_secs` away from `now`.
pub fn verify(
    secret: &[u8],
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
    if (now - timestamp).abs() > tolerance_secs {
        return Err(SignatureError::Stale {
            timestamp,
            tolerance_secs,
        });
    }
    mac(secret, timestamp, body)
        .verify_slice(&expected)
        .map_err(|_| SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_and_any_change_breaks_it() {
        let sig = sign(b"secret", 1_700_000_000, b"{\"a\":1}");
        assert!(sig.starts_with("sha256="));
        assert_eq!(
            verify(
                b"secret",
                1_700_000_000,
                b"{\"a\":1}",
                &sig,
                1_700_000_010,
                300
            ),
            Ok(())
        );
        assert_eq!(
            verify(
                b"secret",
                1_700_000_000,
                b"{\"a\":2}",
                &sig,
                1_700_000_010,
                300
            ),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(
                b"other",
                1_700_000_000,
                b"{\"a\":1}",
                &sig,
                1_700_000_010,
                300
            ),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(
                b"secret",
                1_700_000_001,
                b"{\"a\":1}",
                &sig,
                1_700_000_010,
                300
            ),
            Err(SignatureError::Mismatch)
        );
        assert!(matches!(
            verify(
                b"secret",
                1_700_000_000,
                b"{\"a\":1}",
                &sig,
                1_700_001_000,
                300
            ),
            Err(SignatureError::Stale { .. })
        ));
        assert_eq!(
            verify(b"secret", 1, b"", "md5=00", 1, 300),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn known_vector() {
        // HMAC-SHA256(key="key", "1.body"), computed independently with
        // `printf '1.body' | openssl dgst -sha256 -hmac key`.
        assert_eq!(
            sign(b"key", 1, b"body"),
            "sha256=91b5374b153842ad05b2c4eab9349b8321b14703165bd3fb8b034dfb8be98ae5"
        );
    }
}
