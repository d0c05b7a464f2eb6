//! API tokens: `wp_` followed by 32 random bytes in hex. Only the SHA-256
//! of a token is stored (`incidents::user::TokenHash`); lookups and comparisons are by hash.

use rand::RngCore;

/// The prefix of every watchpost API token.
pub const TOKEN_PREFIX: &str = "wp_";

/// The longest lifetime, in days, a new token may be given
/// (`expires_in_days`, `watchpost tokens create --expires-in`).
pub const MAX_EXPIRES_IN_DAYS: u32 = 3650;

/// Generates a new random API token (`wp_` + 64 hex digits).
pub fn generate() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{TOKEN_PREFIX}{}", hex::encode(bytes))
}

/// Whether a string has the shape of a watchpost token. Anything else is
/// refused before it reaches the store.
pub fn looks_valid(token: &str) -> bool {
    token
        .strip_prefix(TOKEN_PREFIX)
        .is_some_and(|rest| rest.len() == 64 && rest.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use incidents::user::TokenHash;

    #[test]
    fn generated_tokens_are_valid_unique_and_hash_stably() {
        let a = generate();
        let b = generate();
        assert!(looks_valid(&a), "{a}");
        assert_ne!(a, b);
        assert_eq!(TokenHash::of(&a), TokenHash::of(&a));
        assert!(TokenHash::of(&a) != TokenHash::of(&b));
    }

    #[test]
    fn malformed_tokens_are_refused() {
        for bad in [
            "",
            "wp_",
            "wp_zz",
            "xx_0123",
            &format!("wp_{}", "g".repeat(64)),
        ] {
            assert!(!looks_valid(bad), "{bad}");
        }
    }
}
