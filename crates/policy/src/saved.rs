//! Saved detector state: the envelope that every stateful detector's
//! [`detect::Detector::save`] writes and [`detect::Detector::restore`]
//! reads back, as JSON.
//!
//! The envelope names the detector, the version of its state format, a
//! fingerprint of the configuration the state was built under (the JSON
//! text of the settings that shape it), and, for detectors whose tables are
//! keyed by [`crate::keyed::hash_key`], a probe of that hash, so state saved by a build
//! whose hash differs is refused rather than silently orphaned. The state
//! itself is each detector's own private struct.
//!
//! Configuration is never saved: a detector is rebuilt from its
//! configuration and only takes back what it learned from events.
//!
//! Floats are written as text ([`exact_f64`]): `serde_json` parses numbers
//! with best-effort precision, and a restored detector must compare its
//! baselines exactly as the one that saved them.

use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Serialize};

/// Why saved state was refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RestoreError {
    /// The bytes are not a saved state of the expected shape.
    #[error("saved state does not decode: {0}")]
    Decode(#[from] serde_json::Error),
    /// The state belongs to another detector.
    #[error("saved state of detector {found:?}, not {expected:?}")]
    Detector {
        /// The detector named in the saved state.
        found: String,
        /// The detector restoring.
        expected: &'static str,
    },
    /// The state was written in another format version.
    #[error("saved state format version {found}, expected {expected}")]
    Version {
        /// The version in the saved state.
        found: u32,
        /// The version this build writes.
        expected: u32,
    },
    /// The configuration the state was built under differs.
    #[error("saved under another configuration")]
    Config,
    /// The state's keys were hashed by a build whose key hash differs.
    #[error("saved by a build with another key hash")]
    KeyHash,
    /// The state decodes but breaks an invariant of the detector.
    #[error("saved state is inconsistent: {0}")]
    Invalid(&'static str),
}

/// What a detector's saved state is checked against.
pub(crate) struct Stamp<'a> {
    /// The detector's name ([`detect::Detector::name`]).
    pub detector: &'static str,
    /// The version of the detector's state format.
    pub version: u32,
    /// The configuration fingerprint ([`fingerprint`]).
    pub config: &'a str,
    /// When the state holds [`crate::keyed::hash_key`] values, what that
    /// hash gives for a fixed text in this build
    /// ([`crate::keyed::hash_probe`]); `None` otherwise.
    pub key_hash: Option<u64>,
}

#[derive(Serialize)]
struct EnvelopeRef<'a, S> {
    detector: &'a str,
    version: u32,
    config: &'a str,
    key_hash: Option<u64>,
    state: S,
}

#[derive(Deserialize)]
struct Envelope<S> {
    detector: String,
    version: u32,
    config: String,
    key_hash: Option<u64>,
    state: S,
}

/// The fingerprint of the settings that shape a detector's state: their
/// JSON text.
pub(crate) fn fingerprint(config: &impl Serialize) -> String {
    serde_json::to_string(config).unwrap_or_default()
}

/// Encodes a detector's state in its envelope. The state types hold no
/// map with non-text keys, so encoding does not fail; were it to, the
/// detector saves nothing rather than panic.
pub(crate) fn encode(stamp: &Stamp<'_>, state: impl Serialize) -> Option<Vec<u8>> {
    serde_json::to_vec(&EnvelopeRef {
        detector: stamp.detector,
        version: stamp.version,
        config: stamp.config,
        key_hash: stamp.key_hash,
        state,
    })
    .ok()
}

/// Decodes a detector's state, refusing state of another detector,
/// format version, configuration or key hash. The envelope is checked
/// before the state is decoded, so a version change reads as one.
pub(crate) fn decode<S: DeserializeOwned>(
    stamp: &Stamp<'_>,
    bytes: &[u8],
) -> Result<S, RestoreError> {
    let head: Envelope<IgnoredAny> = serde_json::from_slice(bytes)?;
    if head.detector != stamp.detector {
        return Err(RestoreError::Detector {
            found: head.detector,
            expected: stamp.detector,
        });
    }
    if head.version != stamp.version {
        return Err(RestoreError::Version {
            found: head.version,
            expected: stamp.version,
        });
    }
    if head.config != stamp.config {
        return Err(RestoreError::Config);
    }
    if stamp.key_hash.is_some() && head.key_hash != stamp.key_hash {
        return Err(RestoreError::KeyHash);
    }
    let full: Envelope<S> = serde_json::from_slice(bytes)?;
    Ok(full.state)
}

/// Serde for `f64` as its shortest exact text (`"0.1"`, `"1e300"`, `"NaN"`),
/// which parses back to the same bits.
pub(crate) mod exact_f64 {
    use serde::{Deserialize, Deserializer, Serializer, de};

    pub(crate) fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        // `Debug` is the shortest text that parses back to the same bits,
        // with an exponent for very large and very small values.
        s.collect_str(&format_args!("{v:?}"))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct Floats(#[serde(with = "exact_f64")] f64);

    #[test]
    fn floats_keep_their_bits() {
        for v in [
            0.1 + 0.2,
            1.0 / 3.0,
            f64::MIN_POSITIVE,
            f64::MAX,
            -0.0,
            5e-324,
            f64::INFINITY,
            f64::NEG_INFINITY,
            123_456.789_012_345_68,
        ] {
            let text = serde_json::to_string(&Floats(v)).unwrap();
            let back: Floats = serde_json::from_str(&text).unwrap();
            assert_eq!(back.0.to_bits(), v.to_bits(), "{text}");
        }
        let nan: Floats =
            serde_json::from_str(&serde_json::to_string(&Floats(f64::NAN)).unwrap()).unwrap();
        assert!(nan.0.is_nan());
    }

    #[test]
    fn envelope_refuses_other_detector_version_config() {
        let stamp = Stamp {
            detector: "d",
            version: 1,
            config: "{\"a\":1}",
            key_hash: Some(12_345),
        };
        let bytes = encode(&stamp, [1u32, 2]).unwrap();
        let back: [u32; 2] = decode(&stamp, &bytes).unwrap();
        assert_eq!(back, [1, 2]);
        let other = |detector, version, config| Stamp {
            detector,
            version,
            config,
            key_hash: Some(12_345),
        };
        let err = |s: &Stamp<'_>| decode::<[u32; 2]>(s, &bytes).unwrap_err().to_string();
        assert_eq!(
            err(&other("e", 1, stamp.config)),
            "saved state of detector \"d\", not \"e\""
        );
        assert_eq!(
            err(&other("d", 2, stamp.config)),
            "saved state format version 1, expected 2"
        );
        assert_eq!(
            err(&other("d", 1, "{\"a\":2}")),
            "saved under another configuration"
        );
        let forged = String::from_utf8(bytes.clone())
            .unwrap()
            .replace("12345", "7");
        assert_eq!(
            decode::<[u32; 2]>(&stamp, forged.as_bytes())
                .unwrap_err()
                .to_string(),
            "saved by a build with another key hash"
        );
        assert!(matches!(
            decode::<[u32; 2]>(&stamp, b"\x00garbage"),
            Err(RestoreError::Decode(_))
        ));
    }
}
