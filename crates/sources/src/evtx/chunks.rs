//! The chunks of an EVTX file in record order, read without the cost of
//! the empty ones.
//!
//! Windows preallocates a log file, so many files are mostly chunks of
//! zeros: 208 of the 565 chunks of EVTX-ATTACK-SAMPLES are. The `evtx`
//! crate's own walk (`EvtxParser::chunks`) finds each of them empty by
//! testing its 65,536 bytes one at a time, which took about 4% of a whole
//! `hunt` over that corpus. This walk visits the same chunks in the same
//! order, with the same errors, and tells an empty chunk by its first byte
//! (every chunk in use starts with the `ElfChnk` magic) and then a word-wide
//! test of the rest.
//!
//! The order, as the crate defines it: from the chunk that holds the oldest
//! records (the lowest first record id of a header whose range is not
//! reversed) to the end of the file, then from the start of the file up to
//! that chunk, as Windows reads a log that has wrapped around. Tests check
//! it against the crate's walk.

use std::io::{Read, Seek, SeekFrom};

use evtx::err::{ChunkError, EvtxError};
use evtx::{EvtxChunkData, EvtxChunkHeader};

use super::{CHUNK_LEN, FILE_HEADER_LEN};

/// The fixed size of a chunk header.
const CHUNK_HEADER_LEN: usize = 512;

/// A walk over the chunks of one EVTX file (see the module docs).
pub(super) struct ChunkWalk<R> {
    reader: R,
    /// Whole chunks the file holds: (file length - header block size) /
    /// chunk size, as the crate counts them.
    count: u64,
    oldest: u64,
    next: u64,
    wrapped: bool,
}

impl<R: Read + Seek> ChunkWalk<R> {
    /// A walk over a file whose header says its header block is
    /// `header_block_size` bytes long.
    pub(super) fn new(mut reader: R, header_block_size: u16) -> std::io::Result<Self> {
        let len = reader.seek(SeekFrom::End(0))?;
        let count = len.saturating_sub(u64::from(header_block_size)) / CHUNK_LEN;
        let oldest = oldest_chunk(&mut reader, count);
        Ok(ChunkWalk {
            reader,
            count,
            oldest,
            next: oldest,
            wrapped: false,
        })
    }

    /// Reads chunk `number`: `None` when it is empty.
    fn read(&mut self, number: u64) -> Option<Result<EvtxChunkData, EvtxError>> {
        let fail = |e: ChunkError| EvtxError::FailedToParseChunk {
            chunk_id: number,
            source: Box::new(e),
        };
        if let Err(e) = self.reader.seek(SeekFrom::Start(offset(number))) {
            return Some(Err(fail(ChunkError::FailedToSeekToChunk(e))));
        }
        // One read of the whole chunk (`read_to_end` would take four).
        let mut data = vec![0u8; CHUNK_LEN as usize];
        if self.reader.read_exact(&mut data).is_err() {
            return Some(Err(fail(ChunkError::IncompleteChunk)));
        }
        if is_empty(&data) {
            return None;
        }
        Some(
            EvtxChunkData::new(data, false)
                .map(|mut chunk| {
                    chunk.number = Some(number);
                    chunk
                })
                .map_err(fail),
        )
    }
}

impl<R: Read + Seek> Iterator for ChunkWalk<R> {
    type Item = Result<EvtxChunkData, EvtxError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let end = if self.wrapped {
                self.oldest
            } else {
                self.count
            };
            if self.next >= end {
                if self.wrapped || self.oldest == 0 {
                    return None;
                }
                self.wrapped = true;
                self.next = 0;
                continue;
            }
            let number = self.next;
            self.next += 1;
            if let Some(chunk) = self.read(number) {
                return Some(chunk);
            }
        }
    }
}

/// Where chunk `number` starts in the file.
fn offset(number: u64) -> u64 {
    FILE_HEADER_LEN + number * CHUNK_LEN
}

/// The chunk whose header names the lowest first record id (0 when none
/// does): where the walk starts.
fn oldest_chunk(reader: &mut (impl Read + Seek), count: u64) -> u64 {
    let mut oldest = (u64::MAX, 0);
    let mut header = [0u8; CHUNK_HEADER_LEN];
    for number in 0..count {
        if reader.seek(SeekFrom::Start(offset(number))).is_err()
            || reader.read_exact(&mut header).is_err()
        {
            break;
        }
        if let Ok(chunk) = EvtxChunkHeader::from_bytes(&header)
            && chunk.first_event_record_id <= chunk.last_event_record_id
            && chunk.first_event_record_id < oldest.0
        {
            oldest = (chunk.first_event_record_id, number);
        }
    }
    oldest.1
}

/// True when every byte is zero. A chunk in use fails on its first byte;
/// an empty one is tested eight bytes at a time.
fn is_empty(data: &[u8]) -> bool {
    if data.first().is_some_and(|&b| b != 0) {
        return false;
    }
    let mut words = data.chunks_exact(8);
    let words_zero = words.by_ref().fold(0u64, |acc, w| {
        acc | u64::from_ne_bytes(w.try_into().unwrap_or_default())
    }) == 0;
    words_zero && words.remainder().iter().all(|&b| b == 0)
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use evtx::EvtxParser;

    use super::*;

    /// The one EVTX file in the fixtures: a file header and one chunk.
    fn fixture() -> Vec<u8> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/fuzz/evtx-record-number-overflow.evtx"
        );
        std::fs::read(path).expect("fixture")
    }

    /// The fixture's chunk with its first and last record ids set.
    fn chunk(first_id: u64, last_id: u64) -> Vec<u8> {
        let file = fixture();
        let mut chunk = file[FILE_HEADER_LEN as usize..][..CHUNK_LEN as usize].to_vec();
        chunk[24..32].copy_from_slice(&first_id.to_le_bytes());
        chunk[32..40].copy_from_slice(&last_id.to_le_bytes());
        chunk
    }

    fn file(chunks: &[Vec<u8>]) -> Vec<u8> {
        let mut out = fixture()[..FILE_HEADER_LEN as usize].to_vec();
        for c in chunks {
            out.extend_from_slice(c);
        }
        out
    }

    /// (chunk number, or the error's text) for each item of a walk.
    fn outline(items: impl Iterator<Item = Result<EvtxChunkData, EvtxError>>) -> Vec<String> {
        items
            .map(|item| match item {
                Ok(chunk) => format!("{}", chunk.number.expect("numbered")),
                Err(e) => format!("error: {e}: {}", std::error::Error::source(&e).unwrap()),
            })
            .collect()
    }

    fn ours(bytes: &[u8]) -> Vec<String> {
        let mut cursor = Cursor::new(bytes);
        let block = EvtxParser::from_read_seek(&mut cursor)
            .expect("file header")
            .header()
            .header_block_size;
        outline(ChunkWalk::new(cursor, block).expect("seekable"))
    }

    fn the_crates(bytes: &[u8]) -> Vec<String> {
        let mut parser = EvtxParser::from_buffer(bytes.to_vec()).expect("file header");
        outline(parser.chunks())
    }

    #[test]
    fn a_wrapped_log_with_empty_and_broken_chunks_is_walked_as_the_crate_walks_it() {
        let zeros = vec![0u8; CHUNK_LEN as usize];
        let mut broken = vec![0u8; CHUNK_LEN as usize];
        broken[100] = 1; // not the magic, and not empty
        // 0: newer records, 1: empty, 2: the oldest, 3: empty, 4: broken,
        // 5: reversed range (never the oldest), then half a chunk.
        let mut bytes = file(&[
            chunk(10, 12),
            zeros.clone(),
            chunk(1, 3),
            zeros.clone(),
            broken,
            chunk(5, 0),
        ]);
        bytes.extend_from_slice(&zeros[..CHUNK_LEN as usize / 2]);
        let expected = vec![
            "2".to_string(),
            "error: Failed to parse chunk number 4: Failed to parse chunk header".to_string(),
            "5".to_string(),
            "0".to_string(),
        ];
        assert_eq!(ours(&bytes), expected);
        assert_eq!(the_crates(&bytes), expected);
    }

    #[test]
    fn an_unwrapped_log_and_one_of_empty_chunks_match_the_crate() {
        let zeros = vec![0u8; CHUNK_LEN as usize];
        let plain = file(&[chunk(1, 5), chunk(6, 9), zeros.clone(), zeros.clone()]);
        assert_eq!(ours(&plain), ["0", "1"]);
        assert_eq!(ours(&plain), the_crates(&plain));
        let empty = file(&[zeros.clone(), zeros]);
        assert!(ours(&empty).is_empty());
        assert!(the_crates(&empty).is_empty());
        let header_only = file(&[]);
        assert!(ours(&header_only).is_empty());
    }

    #[test]
    fn emptiness_is_every_byte() {
        let mut data = vec![0u8; CHUNK_LEN as usize];
        assert!(is_empty(&data));
        for at in [0, 7, 8, 4095, CHUNK_LEN as usize - 1] {
            data[at] = 0x80;
            assert!(!is_empty(&data), "byte {at}");
            data[at] = 0;
        }
        assert!(is_empty(&[0u8; 13]));
        assert!(!is_empty(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]));
        assert!(is_empty(&[]));
    }
}
