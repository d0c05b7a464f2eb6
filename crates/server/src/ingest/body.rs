//! Splitting a request body into lines: gzip with a cap on what it
//! inflates to, NDJSON or a JSON array for `json`, lines for the others.

use std::io::Read;

use sources::Format;

/// Why a body cannot be split at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// It is not valid gzip.
    #[error("the body is not valid gzip: {0}")]
    Gzip(String),
    /// It inflates past the cap.
    #[error("the body inflates to more than {0} bytes")]
    TooLarge(usize),
    /// It starts like a JSON array but is not one.
    #[error("the body starts with '[' but is not a JSON array: {0}")]
    Array(String),
}

/// The body's bytes, inflated when `gzip` is set (at most `max` bytes).
pub fn inflate(body: &[u8], gzip: bool, max: usize) -> Result<Vec<u8>, BodyError> {
    if !gzip {
        if body.len() > max {
            return Err(BodyError::TooLarge(max));
        }
        return Ok(body.to_vec());
    }
    let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(max));
    let mut decoder = flate2::read::MultiGzDecoder::new(body).take(max as u64 + 1);
    decoder
        .read_to_end(&mut out)
        .map_err(|e| BodyError::Gzip(e.to_string()))?;
    if out.len() > max {
        return Err(BodyError::TooLarge(max));
    }
    Ok(out)
}

/// One line of a body: its 1-based number and its bytes (without the line
/// end).
pub type Line = (u64, Vec<u8>);

/// Splits an inflated body into lines. For `json`, a body whose first
/// non-blank byte is `[` is one JSON array, and each element is a line
/// (numbered from 1); otherwise every format is split on `\n` (a trailing
/// `\r` dropped), blank lines skipped but counted in the numbering.
pub fn split(body: &[u8], format: Format) -> Result<Vec<Line>, BodyError> {
    let start = body.iter().position(|b| !b.is_ascii_whitespace());
    if format == Format::Json && start.is_some_and(|i| body[i] == b'[') {
        let items: Vec<&serde_json::value::RawValue> =
            serde_json::from_slice(body).map_err(|e| BodyError::Array(e.to_string()))?;
        return Ok(items
            .into_iter()
            .zip(1..)
            .map(|(item, n)| (n, item.get().as_bytes().to_vec()))
            .collect());
    }
    Ok(body
        .split(|b| *b == b'\n')
        .zip(1..)
        .filter_map(|(line, n)| {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            (!line.trim_ascii().is_empty()).then(|| (n, line.to_vec()))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn ndjson_lines_are_numbered_with_blank_lines_counted() {
        let lines = split(b"{\"a\":1}\r\n\n  \n{\"b\":2}", Format::Json).unwrap();
        assert_eq!(
            lines,
            vec![(1, b"{\"a\":1}".to_vec()), (4, b"{\"b\":2}".to_vec())]
        );
    }

    #[test]
    fn a_json_array_gives_one_line_per_element() {
        let lines = split(b" [ {\"a\":1}, {\"b\":[2,3]} ]", Format::Json).unwrap();
        assert_eq!(
            lines,
            vec![(1, b"{\"a\":1}".to_vec()), (2, b"{\"b\":[2,3]}".to_vec())]
        );
        assert!(matches!(
            split(b"[{\"a\":1},", Format::Json),
            Err(BodyError::Array(_))
        ));
        // Raw formats never read an array.
        assert_eq!(split(b"[x]", Format::Syslog).unwrap().len(), 1);
    }

    #[test]
    fn gzip_is_inflated_up_to_the_cap_and_no_further() {
        let data = vec![b'a'; 10_000];
        assert_eq!(inflate(&gzip(&data), true, 10_000).unwrap(), data);
        assert_eq!(
            inflate(&gzip(&data), true, 9_999),
            Err(BodyError::TooLarge(9_999))
        );
        assert!(matches!(
            inflate(b"not gzip", true, 100),
            Err(BodyError::Gzip(_))
        ));
        assert_eq!(inflate(b"abc", false, 2), Err(BodyError::TooLarge(2)));
    }
}
