//! The payload of one JetStream message: spool records ([`super::super::record`])
//! of one source, framed.
//!
//! `WPB1`, then for each record its length (u32, little endian) and its
//! bytes. Anything else is not a message of ours: it is refused whole with
//! the reason, and goes to the dead-letter subject once its deliveries
//! run out.

/// The first four bytes of every message.
pub const MAGIC: &[u8; 4] = b"WPB1";

/// The framing bytes of one record.
pub const PER_RECORD: usize = 4;

/// Frames `records` into payloads of at most `max_payload` bytes each.
/// A record that alone does not fit is returned by index in the error.
pub fn pack(records: &[Vec<u8>], max_payload: usize) -> Result<Vec<Vec<u8>>, usize> {
    let mut out = Vec::new();
    let mut current = Vec::new();
    for (i, r) in records.iter().enumerate() {
        let need = PER_RECORD + r.len();
        if MAGIC.len() + need > max_payload {
            return Err(i);
        }
        if !current.is_empty() && current.len() + need > max_payload {
            out.push(std::mem::take(&mut current));
        }
        if current.is_empty() {
            current.extend_from_slice(MAGIC);
        }
        current.extend_from_slice(&(r.len() as u32).to_le_bytes());
        current.extend_from_slice(r);
    }
    if !current.is_empty() {
        out.push(current);
    }
    Ok(out)
}

/// The records of a payload, or why it is not one.
pub fn unpack(payload: &[u8]) -> Result<Vec<&[u8]>, String> {
    let Some(mut rest) = payload.strip_prefix(MAGIC.as_slice()) else {
        return Err("not a watchpost event message (no WPB1 header)".to_owned());
    };
    let mut records = Vec::new();
    while !rest.is_empty() {
        if rest.len() < PER_RECORD {
            return Err(format!(
                "record {} is cut short in its length",
                records.len() + 1
            ));
        }
        let len = u32::from_le_bytes(rest[..4].try_into().expect("4 bytes")) as usize;
        rest = &rest[4..];
        if rest.len() < len {
            return Err(format!(
                "record {} claims {len} bytes but {} remain",
                records.len() + 1,
                rest.len()
            ));
        }
        records.push(&rest[..len]);
        rest = &rest[len..];
    }
    if records.is_empty() {
        return Err("a message with no records".to_owned());
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_split_at_the_payload_limit() {
        let records = vec![vec![1u8; 10], vec![2u8; 10], vec![3u8; 10]];
        // 4 (magic) + 2 × 14 = 32 bytes fit; the third record starts a new
        // message.
        let packed = pack(&records, 32).unwrap();
        assert_eq!(packed.len(), 2);
        assert_eq!(packed[0].len(), 32);
        assert_eq!(packed[1].len(), 18);
        let back: Vec<Vec<u8>> = packed
            .iter()
            .flat_map(|p| unpack(p).unwrap())
            .map(<[u8]>::to_vec)
            .collect();
        assert_eq!(back, records);
        // A record larger than a message is named.
        assert_eq!(pack(&[vec![0; 5], vec![0; 40]], 32), Err(1));
    }

    #[test]
    fn damaged_payloads_are_refused_with_a_reason() {
        assert!(unpack(b"hello").unwrap_err().contains("WPB1"));
        assert!(unpack(b"WPB1").unwrap_err().contains("no records"));
        assert!(unpack(b"WPB1\x01\x00").unwrap_err().contains("cut short"));
        assert!(
            unpack(b"WPB1\x09\x00\x00\x00abc")
                .unwrap_err()
                .contains("claims 9 bytes but 3 remain")
        );
    }
}
