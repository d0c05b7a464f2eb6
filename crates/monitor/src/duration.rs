//! Durations in configuration files: a whole number and a unit (`500ms`,
//! `30s`, `5m`, `1h`, `1d`), shared by the `[web]` and `[ports]` tables.

use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// A duration that is not `<number><unit>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// No number first.
    #[error("invalid duration {0:?}: expected a number and a unit, as in \"5m\"")]
    Number(String),
    /// An unknown unit.
    #[error("invalid duration {0:?}: the unit must be ms, s, m, h or d")]
    Unit(String),
    /// More milliseconds than fit.
    #[error("duration {0:?} is too long")]
    TooLong(String),
}

/// Parses `500ms`, `30s`, `5m`, `1h`, `1d`.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| DurationError::Number(text.to_owned()))?;
    let unit_ms: u64 = match unit {
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(DurationError::Unit(text.to_owned())),
    };
    n.checked_mul(unit_ms)
        .map(Duration::from_millis)
        .ok_or_else(|| DurationError::TooLong(text.to_owned()))
}

/// Deserialises a duration string (for `deserialize_with`).
pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    parse_duration(&text).map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2d"), Ok(Duration::from_secs(172_800)));
        assert_eq!(parse_duration("m"), Err(DurationError::Number("m".into())));
        assert_eq!(
            parse_duration("5y").unwrap_err().to_string(),
            "invalid duration \"5y\": the unit must be ms, s, m, h or d"
        );
        assert!(matches!(
            parse_duration("99999999999999999d"),
            Err(DurationError::TooLong(_))
        ));
    }
}
