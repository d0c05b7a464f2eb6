//! Expands `|base64offset|contains` the way pySigma does.
//!
//! rsigma-eval 0.23 drops matches when more data follows the encoded
//! needle. pySigma's expansion is exact: for each of the three byte offsets
//! `i`, encode `" " * i + value`, then trim the characters that depend on
//! the unknown neighbouring bytes (start: 0, 2 or 3 characters; end: none,
//! 3 or 2 depending on `(len + i) % 3`). The three results become plain
//! `contains` values, OR-linked, which the engine handles correctly.
//!
//! Encoding modifiers placed before `base64offset` (`wide`, `utf16le`,
//! `utf16be`, `utf16`) are applied to the bytes first and dropped from the
//! item. Items that also carry `all` are left as they are (the three
//! variants of one value must be OR-linked, which `all` forbids).

use base64::Engine as _;
use rsigma_parser::{Detection, DetectionItem, Modifier, SigmaRule, SigmaString, SigmaValue};

/// Rewrites every `base64offset` item of the rule in place.
pub fn expand_rule(rule: &mut SigmaRule) {
    for detection in rule.detection.named.values_mut() {
        expand_detection(detection);
    }
}

/// Rewrites every `base64offset` item of a detection in place.
pub fn expand_detection(detection: &mut Detection) {
    match detection {
        Detection::AllOf(items) => items.iter_mut().for_each(expand_item),
        Detection::AnyOf(subs) => subs.iter_mut().for_each(expand_detection),
        _ => {}
    }
}

fn expand_item(item: &mut DetectionItem) {
    let mods = &item.field.modifiers;
    let Some(pos) = mods.iter().position(|m| *m == Modifier::Base64Offset) else {
        return;
    };
    if mods.contains(&Modifier::All) {
        return;
    }
    let before = &mods[..pos];
    let mut values = Vec::with_capacity(item.values.len() * 3);
    for value in &item.values {
        let text = match value {
            SigmaValue::String(s) => s.original.clone(),
            SigmaValue::Integer(n) => n.to_string(),
            SigmaValue::Float(f) => f.to_string(),
            SigmaValue::Bool(b) => b.to_string(),
            SigmaValue::Null => return,
        };
        let bytes = encode(&text, before);
        for variant in offsets(&bytes) {
            values.push(SigmaValue::String(SigmaString::new(&variant)));
        }
    }
    let mut new_mods: Vec<Modifier> = mods[pos + 1..].to_vec();
    if !new_mods.contains(&Modifier::Contains) {
        new_mods.insert(0, Modifier::Contains);
    }
    new_mods.retain(|m| !matches!(m, Modifier::StartsWith | Modifier::EndsWith));
    item.field.modifiers = new_mods;
    item.values = values;
}

/// Applies the text encodings listed before `base64offset`.
fn encode(text: &str, before: &[Modifier]) -> Vec<u8> {
    let mut bytes = text.as_bytes().to_vec();
    for m in before {
        bytes = match m {
            Modifier::Wide => utf16le(text),
            Modifier::Utf16be => text.encode_utf16().flat_map(u16::to_be_bytes).collect(),
            Modifier::Utf16 => {
                let mut b = vec![0xff, 0xfe];
                b.extend(utf16le(text));
                b
            }
            _ => bytes,
        };
    }
    bytes
}

fn utf16le(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// The three offset encodings of `bytes`, trimmed as pySigma does.
pub fn offsets(bytes: &[u8]) -> [String; 3] {
    const START: [usize; 3] = [0, 2, 3];
    const END: [usize; 3] = [0, 3, 2];
    std::array::from_fn(|i| {
        let mut padded = vec![b' '; i];
        padded.extend_from_slice(bytes);
        let b64 = base64::engine::general_purpose::STANDARD.encode(&padded);
        let end_trim = END[(bytes.len() + i) % 3];
        let end = b64.len().saturating_sub(end_trim);
        b64.get(START[i]..end).unwrap_or_default().to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_match_pysigma() {
        // Values from pySigma's test suite for `base64offset` on "/bin/bash".
        let got = offsets(b"/bin/bash");
        assert_eq!(got, ["L2Jpbi9iYXNo", "9iaW4vYmFza", "vYmluL2Jhc2"]);
    }

    #[test]
    fn every_offset_is_a_substring_of_the_encoding_with_data_around() {
        let needle = b"http://evil";
        let variants = offsets(needle);
        for prefix in 0..3 {
            let mut data = vec![b'x'; prefix];
            data.extend_from_slice(needle);
            data.extend_from_slice(b"/more/data/after");
            let enc = base64::engine::general_purpose::STANDARD.encode(&data);
            assert!(
                variants.iter().any(|v| enc.contains(v.as_str())),
                "prefix {prefix}: none of {variants:?} in {enc}"
            );
        }
    }
}
