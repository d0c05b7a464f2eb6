//! Syslog over TCP: splits a byte stream into messages by RFC 6587 framing,
//! incrementally, as the bytes arrive.
//!
//! A [`FrameDecoder`] is fed with [`FrameDecoder::push`] and yields whole
//! messages, in order, from [`FrameDecoder::next_frame`]; at the end of the
//! stream [`FrameDecoder::finish`] gives what is left. It does no IO: the
//! live input that owns the socket feeds it.
//!
//! Both framings of RFC 6587 §3.4 are read, chosen per frame from its first
//! byte, as rsyslog and syslog-ng do (a syslog message starts with `<`, so a
//! digit cannot begin one):
//! - **octet counting** (§3.4.1) when the frame starts with a digit:
//!   `MSG-LEN SP SYSLOG-MSG`, MSG-LEN a decimal of at most ten digits with
//!   no leading zero, from 1 to the decoder's limit. The message is
//!   transparent: its bytes are kept as they are, line feeds and NULs
//!   included. A frame starting with `0` has a leading zero, so it is a
//!   [`FrameError::BadLength`];
//! - **non-transparent framing** (§3.4.2) otherwise: the message ends at
//!   a line feed (a carriage return just before it is stripped too) or at a
//!   NUL, and the trailer is not part of it. Empty messages (a blank line,
//!   or the line feed some senders put after a NUL or after an
//!   octet-counted frame) are skipped.
//!
//! Bad input never panics and costs only itself:
//! - a frame over the limit is reported as [`FrameError::TooLong`] and its
//!   bytes are dropped as they arrive (an octet-counted one: exactly
//!   MSG-LEN bytes; a line: up to its line feed), then decoding resumes;
//! - an invalid length prefix is reported as [`FrameError::BadLength`] and
//!   decoding resumes after the next line feed.
//!
//! Memory is bounded by the limit, not by the input: the decoder holds at
//! most one partial message of up to the limit (plus a carriage return
//! that may turn out to be a trailer) and the length prefix, besides the
//! messages decoded from the bytes pushed and not yet taken with
//! [`FrameDecoder::next_frame`].
//!
//! Must not do IO or know the syslog message format.

use std::collections::VecDeque;

use crate::ProblemKind;

/// The longest MSG-LEN accepted, in digits (lengths up to 9,999,999,999).
const MAX_LEN_DIGITS: usize = 10;

/// How a frame was delimited (RFC 6587 §3.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Framing {
    /// `MSG-LEN SP SYSLOG-MSG` (§3.4.1).
    OctetCounted,
    /// Ended by a line feed, carriage return and line feed, or NUL
    /// (§3.4.2).
    NonTransparent,
}

/// One syslog message taken from the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The message, without its length prefix or trailer; never empty.
    pub bytes: Vec<u8>,
    /// How the sender framed it.
    pub framing: Framing,
}

impl Frame {
    /// The message as text, with invalid UTF-8 replaced (what the syslog
    /// parser reads).
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.bytes)
    }
}

/// A frame that could not be decoded. Decoding goes on after each.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// A frame over the decoder's limit; its bytes are dropped.
    #[error("frame of {len} bytes is over the {max} byte limit; skipped")]
    TooLong {
        /// For an octet-counted frame, its MSG-LEN. For a line, how many
        /// bytes of it had arrived when it passed the limit (the line may
        /// be longer: the rest is dropped unseen).
        len: u64,
        /// The decoder's limit.
        max: usize,
    },
    /// A frame starting with a digit whose length prefix is invalid: a
    /// non-digit before the space, a leading zero, or more than ten
    /// digits. Decoding resumes after the next line feed.
    #[error("invalid octet-count prefix `{prefix}`; skipped to the next line feed")]
    BadLength {
        /// The prefix read, up to and including the byte that made it
        /// invalid, with bytes outside printable ASCII escaped (`\n`,
        /// `\x00`), so it can be logged as it is.
        prefix: String,
    },
    /// The stream ended inside an octet-counted message.
    #[error("stream ended {got} bytes into a frame of {expected} bytes")]
    Truncated {
        /// The frame's MSG-LEN.
        expected: u64,
        /// How many of its bytes had arrived.
        got: u64,
    },
}

impl FrameError {
    /// The kind of problem this is, for counting with other input
    /// problems.
    pub fn kind(&self) -> ProblemKind {
        match self {
            FrameError::TooLong { .. } => ProblemKind::Oversized,
            FrameError::BadLength { .. } | FrameError::Truncated { .. } => ProblemKind::Malformed,
        }
    }
}

/// What a decoder has seen so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FrameStats {
    /// Messages decoded.
    pub frames: u64,
    /// Frames over the limit ([`FrameError::TooLong`]).
    pub too_long: u64,
    /// Invalid length prefixes ([`FrameError::BadLength`]).
    pub bad_length: u64,
    /// Octet-counted frames cut short by the end of the stream
    /// ([`FrameError::Truncated`]).
    pub truncated: u64,
    /// Bytes pushed, all of them (prefixes, trailers and dropped bytes
    /// included).
    pub bytes: u64,
}

/// What is left when the stream ends: see [`FrameDecoder::finish`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    /// The messages and errors not yet taken, in stream order, ending
    /// with the unterminated last line or the truncated frame, if any.
    pub rest: Vec<Result<Frame, FrameError>>,
    /// The decoder's counters, the end of the stream included.
    pub stats: FrameStats,
}

/// Where the decoder is in the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a frame.
    Start,
    /// Reading a length prefix (its bytes are in `prefix`).
    Length,
    /// Reading an octet-counted message into `partial`; this many bytes
    /// are still to come.
    Octets { remaining: usize },
    /// Reading a line into `partial`.
    Line,
    /// Dropping the rest of a frame over the limit: this many bytes.
    SkipOctets { remaining: u64 },
    /// Dropping bytes up to and including the next line feed.
    SkipLine,
}

/// An incremental RFC 6587 decoder: bytes in, syslog messages out (see the
/// module docs).
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    max: usize,
    state: State,
    /// The length prefix being read (at most eleven bytes).
    prefix: Vec<u8>,
    /// The message being read (at most `max + 1` bytes).
    partial: Vec<u8>,
    /// Decoded messages and errors not yet taken.
    ready: VecDeque<Result<Frame, FrameError>>,
    /// The bytes of the messages in `ready`.
    ready_bytes: usize,
    stats: FrameStats,
}

impl FrameDecoder {
    /// A decoder of messages of at most `max_message` bytes (length
    /// prefix and trailer not counted). Longer frames are reported as
    /// [`FrameError::TooLong`] and dropped.
    pub fn new(max_message: usize) -> Self {
        Self {
            max: max_message,
            state: State::Start,
            prefix: Vec::with_capacity(MAX_LEN_DIGITS + 1),
            partial: Vec::new(),
            ready: VecDeque::new(),
            ready_bytes: 0,
            stats: FrameStats::default(),
        }
    }

    /// The longest message accepted, in bytes.
    pub fn max_message(&self) -> usize {
        self.max
    }

    /// Feeds the next bytes of the stream. The messages they complete are
    /// then taken with [`FrameDecoder::next_frame`]; bytes of a frame that
    /// is being dropped are not kept.
    pub fn push(&mut self, bytes: &[u8]) {
        self.stats.bytes += bytes.len() as u64;
        let mut input = bytes;
        while !input.is_empty() {
            input = self.step(input);
        }
    }

    /// The next decoded message or error, in stream order; `None` when the
    /// bytes pushed so far hold no more whole frame.
    pub fn next_frame(&mut self) -> Option<Result<Frame, FrameError>> {
        let item = self.ready.pop_front()?;
        if let Ok(frame) = &item {
            self.ready_bytes -= frame.bytes.len();
        }
        Some(item)
    }

    /// The counters so far.
    pub fn stats(&self) -> FrameStats {
        self.stats
    }

    /// How many bytes the decoder holds: the frame being read (at most
    /// [`FrameDecoder::max_message`] plus a carriage return, plus its length
    /// prefix) and the messages not yet taken.
    pub fn buffered(&self) -> usize {
        self.prefix.len() + self.partial.len() + self.ready_bytes
    }

    /// Ends the stream: returns the messages and errors not yet taken,
    /// then the last line if it had no trailer (it is still a message), or
    /// a [`FrameError::Truncated`] if the stream ended inside an
    /// octet-counted message, or a [`FrameError::BadLength`] if it ended
    /// inside a length prefix.
    pub fn finish(mut self) -> Finished {
        match self.state {
            State::Start | State::SkipOctets { .. } | State::SkipLine => {}
            State::Length => {
                let prefix = escape(&self.prefix);
                self.fail(FrameError::BadLength { prefix });
            }
            State::Octets { remaining } => {
                let got = self.partial.len() as u64;
                self.fail(FrameError::Truncated {
                    expected: got + remaining as u64,
                    got,
                });
            }
            State::Line => {
                let mut line = std::mem::take(&mut self.partial);
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                self.emit(line, Framing::NonTransparent);
            }
        }
        Finished {
            rest: self.ready.into_iter().collect(),
            stats: self.stats,
        }
    }

    /// Decodes from the start of `input` and returns what it did not use.
    fn step<'a>(&mut self, input: &'a [u8]) -> &'a [u8] {
        match self.state {
            State::Start => {
                // The first byte chooses the framing; it is read again in
                // the new state.
                self.state = if input[0].is_ascii_digit() {
                    self.prefix.clear();
                    State::Length
                } else {
                    State::Line
                };
                input
            }
            State::Length => {
                let byte = input[0];
                if byte.is_ascii_digit() && self.prefix.len() < MAX_LEN_DIGITS {
                    self.prefix.push(byte);
                } else {
                    self.end_prefix(byte);
                }
                &input[1..]
            }
            State::Octets { remaining } => {
                let take = remaining.min(input.len());
                self.partial.extend_from_slice(&input[..take]);
                if take == remaining {
                    let message = std::mem::take(&mut self.partial);
                    self.emit(message, Framing::OctetCounted);
                    self.state = State::Start;
                } else {
                    self.state = State::Octets {
                        remaining: remaining - take,
                    };
                }
                &input[take..]
            }
            State::Line => self.line(input),
            State::SkipOctets { remaining } => {
                let take = usize::try_from(remaining).map_or(input.len(), |r| r.min(input.len()));
                let left = remaining - take as u64;
                self.state = if left == 0 {
                    State::Start
                } else {
                    State::SkipOctets { remaining: left }
                };
                &input[take..]
            }
            State::SkipLine => match memchr::memchr(b'\n', input) {
                Some(at) => {
                    self.state = State::Start;
                    &input[at + 1..]
                }
                None => &[],
            },
        }
    }

    /// Decides on the length prefix read so far (only digits), given the
    /// byte after it that is not a digit to keep reading: a space, anything
    /// else, or an eleventh digit.
    fn end_prefix(&mut self, last: u8) {
        let digits = &self.prefix;
        let valid = last == b' ' && digits.first().is_some_and(|d| (b'1'..=b'9').contains(d));
        if !valid {
            self.prefix.push(last);
            let prefix = escape(&self.prefix);
            self.prefix.clear();
            self.fail(FrameError::BadLength { prefix });
            // Resynchronise at the next line feed, unless that was it.
            self.state = if last == b'\n' {
                State::Start
            } else {
                State::SkipLine
            };
            return;
        }
        // At most ten digits: no overflow in a u64.
        let len = digits
            .iter()
            .fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
        self.prefix.clear();
        match usize::try_from(len) {
            Ok(len) if len <= self.max => {
                self.partial.clear();
                self.partial.reserve_exact(len);
                self.state = State::Octets { remaining: len };
            }
            _ => {
                self.fail(FrameError::TooLong { len, max: self.max });
                self.state = State::SkipOctets { remaining: len };
            }
        }
    }

    /// Reads the line being decoded from the start of `input`; returns
    /// what it did not use.
    fn line<'a>(&mut self, input: &'a [u8]) -> &'a [u8] {
        match memchr::memchr2(b'\n', b'\0', input) {
            Some(at) => {
                let lf = input[at] == b'\n';
                let mut body = &input[..at];
                let mut len = self.partial.len() + body.len();
                let cr = lf && body.last().or(self.partial.last()) == Some(&b'\r');
                if cr {
                    len -= 1;
                }
                if len > self.max {
                    self.partial.clear();
                    self.fail(FrameError::TooLong {
                        len: len as u64,
                        max: self.max,
                    });
                } else {
                    if cr {
                        match body.split_last() {
                            Some((_, rest)) => body = rest,
                            None => {
                                self.partial.pop();
                            }
                        }
                    }
                    let mut message = std::mem::take(&mut self.partial);
                    message.extend_from_slice(body);
                    self.emit(message, Framing::NonTransparent);
                }
                self.state = State::Start;
                &input[at + 1..]
            }
            None => {
                let len = self.partial.len() + input.len();
                // One byte more than the limit may be a carriage return
                // whose line feed has not arrived yet.
                let pending_cr = len == self.max + 1 && input.last() == Some(&b'\r');
                if len > self.max && !pending_cr {
                    self.partial.clear();
                    self.partial.shrink_to(self.max.min(4096));
                    self.fail(FrameError::TooLong {
                        len: len as u64,
                        max: self.max,
                    });
                    self.state = State::SkipLine;
                } else {
                    grow(&mut self.partial, input.len(), self.max + 1);
                    self.partial.extend_from_slice(input);
                }
                &[]
            }
        }
    }

    /// Queues a decoded message; empty ones are skipped.
    fn emit(&mut self, bytes: Vec<u8>, framing: Framing) {
        if bytes.is_empty() {
            return;
        }
        self.stats.frames += 1;
        self.ready_bytes += bytes.len();
        self.ready.push_back(Ok(Frame { bytes, framing }));
    }

    /// Queues an error and counts it.
    fn fail(&mut self, error: FrameError) {
        match error {
            FrameError::TooLong { .. } => self.stats.too_long += 1,
            FrameError::BadLength { .. } => self.stats.bad_length += 1,
            FrameError::Truncated { .. } => self.stats.truncated += 1,
        }
        self.ready.push_back(Err(error));
    }
}

/// Makes room for `additional` more bytes in `buf`, doubling as a `Vec`
/// does but never past `limit` bytes of capacity (when the bytes fit).
fn grow(buf: &mut Vec<u8>, additional: usize, limit: usize) {
    let needed = buf.len() + additional;
    if needed <= buf.capacity() {
        return;
    }
    let target = needed.max(buf.capacity() * 2).min(limit).max(needed);
    buf.reserve_exact(target - buf.len());
}

/// Bytes as text, with everything outside printable ASCII escaped.
fn escape(bytes: &[u8]) -> String {
    bytes
        .iter()
        .flat_map(|&b| std::ascii::escape_default(b))
        .map(char::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use events::taxonomy;
    use serde_json::json;

    use super::*;
    use crate::{LocalClock, TimeZone, YearResolver, parse_syslog_line};

    /// What the decoder yields.
    type Item = Result<Frame, FrameError>;

    /// An octet-counted frame.
    fn oc(bytes: &[u8]) -> Item {
        Ok(Frame {
            bytes: bytes.to_vec(),
            framing: Framing::OctetCounted,
        })
    }

    /// A non-transparent (line) frame.
    fn nt(bytes: &[u8]) -> Item {
        Ok(Frame {
            bytes: bytes.to_vec(),
            framing: Framing::NonTransparent,
        })
    }

    fn bad(prefix: &str) -> Item {
        Err(FrameError::BadLength {
            prefix: prefix.to_owned(),
        })
    }

    fn too_long(len: u64, max: usize) -> Item {
        Err(FrameError::TooLong { len, max })
    }

    /// Feeds the chunks one by one, taking the frames after each, then
    /// ends the stream.
    fn decode(max: usize, chunks: &[&[u8]]) -> (Vec<Item>, FrameStats) {
        let mut decoder = FrameDecoder::new(max);
        let mut out = Vec::new();
        for chunk in chunks {
            decoder.push(chunk);
            out.extend(std::iter::from_fn(|| decoder.next_frame()));
        }
        let finished = decoder.finish();
        out.extend(finished.rest);
        (out, finished.stats)
    }

    /// Decodes `stream` in one push, byte by byte, and in every split in
    /// two, and checks each gives `expected`.
    fn check_all_splits(max: usize, stream: &[u8], expected: &[Item]) {
        assert_eq!(decode(max, &[stream]).0, expected, "one push");
        let bytes: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(decode(max, &bytes).0, expected, "byte by byte");
        for at in 0..=stream.len() {
            let (a, b) = stream.split_at(at);
            assert_eq!(decode(max, &[a, b]).0, expected, "split at {at}");
        }
    }

    #[test]
    fn single_octet_counted_frame() {
        let mut decoder = FrameDecoder::new(1024);
        decoder.push(b"9 <13>hello");
        assert_eq!(decoder.next_frame(), Some(oc(b"<13>hello")));
        assert_eq!(decoder.next_frame(), None);
        assert_eq!(decoder.buffered(), 0);
        let finished = decoder.finish();
        assert_eq!(finished.rest, []);
        assert_eq!(
            finished.stats,
            FrameStats {
                frames: 1,
                bytes: 11,
                ..FrameStats::default()
            }
        );
    }

    #[test]
    fn many_frames_in_one_push() {
        let mut decoder = FrameDecoder::new(1024);
        decoder.push(b"5 hello5 world3 abc<1>a\n<2>b\n10 <3>x\ny\0z\r\n");
        let got: Vec<_> = std::iter::from_fn(|| decoder.next_frame()).collect();
        assert_eq!(
            got,
            [
                oc(b"hello"),
                oc(b"world"),
                oc(b"abc"),
                nt(b"<1>a"),
                nt(b"<2>b"),
                oc(b"<3>x\ny\0z\r\n"),
            ]
        );
    }

    #[test]
    fn a_stream_split_at_every_byte_boundary_gives_the_same_frames() {
        let stream = b"7 a\nb\0c\r\n<1>lf\n<2>crlf\r\n<3>nul\x0012 <4>octets 12<5>tail";
        check_all_splits(
            64,
            stream,
            &[
                oc(b"a\nb\0c\r\n"),
                nt(b"<1>lf"),
                nt(b"<2>crlf"),
                nt(b"<3>nul"),
                oc(b"<4>octets 12"),
                nt(b"<5>tail"),
            ],
        );
    }

    #[test]
    fn lf_crlf_and_nul_trailers_are_stripped_and_empty_lines_skipped() {
        let stream = b"<1>a\n<2>b\r\n<3>c\0<4>d\r\0<5>e\r\r\n\n\r\n\0<6>f\0\n";
        check_all_splits(
            64,
            stream,
            &[
                nt(b"<1>a"),
                nt(b"<2>b"),
                nt(b"<3>c"),
                // A carriage return is a trailer only before a line feed.
                nt(b"<4>d\r"),
                nt(b"<5>e\r"),
                nt(b"<6>f"),
            ],
        );
    }

    #[test]
    fn mixed_octet_counted_and_lf_stream() {
        // rsyslog's and syslog-ng's octet framing, a line, octet counting
        // followed by a stray line feed (skipped as an empty line), a line.
        let stream = b"15 <34>1 - h a - m<35>old style\n3 <1>\n<36>again\r\n";
        check_all_splits(
            64,
            stream,
            &[
                oc(b"<34>1 - h a - m"),
                nt(b"<35>old style"),
                oc(b"<1>"),
                nt(b"<36>again"),
            ],
        );
        let (frames, _) = decode(64, &[stream]);
        let framings: Vec<Framing> = frames.into_iter().map(|f| f.unwrap().framing).collect();
        assert_eq!(
            framings,
            [
                Framing::OctetCounted,
                Framing::NonTransparent,
                Framing::OctetCounted,
                Framing::NonTransparent,
            ]
        );
    }

    #[test]
    fn too_long_octet_frame_is_skipped_and_the_next_frame_kept() {
        // The skipped body holds what looks like frames and line feeds.
        let stream = b"20 5 fake\n<1>fake\n12345<9>next\n5 hello";
        check_all_splits(
            16,
            stream,
            &[too_long(20, 16), nt(b"<9>next"), oc(b"hello")],
        );
        // A length of ten digits is skipped as it arrives too.
        let mut decoder = FrameDecoder::new(16);
        decoder.push(b"9999999999 ");
        assert_eq!(decoder.next_frame(), Some(too_long(9_999_999_999, 16)));
        for _ in 0..100 {
            decoder.push(&[b'x'; 1000]);
            assert_eq!(decoder.next_frame(), None);
            assert_eq!(decoder.buffered(), 0);
        }
        assert_eq!(decoder.finish().rest, []);
    }

    #[test]
    fn too_long_line_is_skipped_to_the_next_lf() {
        let stream = b"<1>123456789\n<2>ok\n";
        // In one push the whole line is seen: 12 bytes.
        assert_eq!(decode(8, &[stream]).0, [too_long(12, 8), nt(b"<2>ok")]);
        // Byte by byte it is reported as soon as it passes the limit.
        let bytes: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(decode(8, &bytes).0, [too_long(9, 8), nt(b"<2>ok")]);
        for at in 0..=stream.len() {
            let (a, b) = stream.split_at(at);
            let (got, stats) = decode(8, &[a, b]);
            assert!(
                matches!(&got[..], [Err(FrameError::TooLong { len: 9..=12, max: 8 }), Ok(f)] if f.bytes == b"<2>ok"),
                "split at {at}: {got:?}"
            );
            assert_eq!((stats.too_long, stats.frames), (1, 1));
        }
        // Exactly the limit, with a CRLF trailer whose CR makes the buffer
        // one byte over for a moment.
        check_all_splits(8, b"<1>45678\r\n<2>\n", &[nt(b"<1>45678"), nt(b"<2>")]);
        // One over the limit, with the same trailer: too long.
        assert_eq!(
            decode(8, &[b"<1>456789\r\n<2>\n"]).0,
            [too_long(9, 8), nt(b"<2>")]
        );
        // A NUL ends a line too, and the carriage return is then content.
        assert_eq!(
            decode(8, &[b"<1>45678\r\0<2>\n"]).0,
            [too_long(9, 8), nt(b"<2>")]
        );
    }

    #[test]
    fn bad_length_prefixes_resynchronise_at_the_next_lf() {
        let cases: [(&[u8], &str); 8] = [
            (b"12a rest of it\n", "12a"),
            (b"012 leading zero\n", "012 "),
            (b"0 zero\n", "0 "),
            (b"12345678901 eleven digits\n", "12345678901"),
            (b"1234567890123456789012345 many digits\n", "12345678901"),
            (b"12\n", "12\\n"),
            (b"3\tabc\n", "3\\t"),
            (b"1\0x 5 hello\n", "1\\x00"),
        ];
        for (line, prefix) in cases {
            let mut stream = line.to_vec();
            stream.extend_from_slice(b"<9>next\n");
            check_all_splits(100, &stream, &[bad(prefix), nt(b"<9>next")]);
        }
        let (_, stats) = decode(100, &[b"1x\n2y\n<1>z\n"]);
        assert_eq!((stats.bad_length, stats.frames), (2, 1));
    }

    #[test]
    fn end_of_stream() {
        let cases: [(&[u8], Vec<Item>); 10] = [
            (b"", vec![]),
            (b"<1>tail", vec![nt(b"<1>tail")]),
            (b"<1>tail\r", vec![nt(b"<1>tail")]),
            (b"<1>done\n", vec![nt(b"<1>done")]),
            (
                b"10 <1>abc",
                vec![Err(FrameError::Truncated {
                    expected: 10,
                    got: 6,
                })],
            ),
            (
                b"10 ",
                vec![Err(FrameError::Truncated {
                    expected: 10,
                    got: 0,
                })],
            ),
            (b"12", vec![bad("12")]),
            // Reported once, when the length was read.
            (b"20 abcde", vec![too_long(20, 16)]),
            (b"<1>this line is too long", vec![too_long(24, 16)]),
            (b"1x resync", vec![bad("1x")]),
        ];
        for (stream, expected) in cases {
            assert_eq!(
                decode(16, &[stream]).0,
                expected,
                "{}",
                String::from_utf8_lossy(stream)
            );
        }
        // What was not taken before the end is handed back first.
        let mut decoder = FrameDecoder::new(16);
        decoder.push(b"5 hello<1>x\n20 <2>y");
        let finished = decoder.finish();
        assert_eq!(finished.rest, [oc(b"hello"), nt(b"<1>x"), too_long(20, 16)]);
        assert_eq!(
            finished.stats,
            FrameStats {
                frames: 2,
                too_long: 1,
                bad_length: 0,
                truncated: 0,
                bytes: 19,
            }
        );
    }

    #[test]
    fn stats_count_frames_errors_and_bytes() {
        let mut decoder = FrameDecoder::new(8);
        // Two frames, then a frame of 99 bytes: too long.
        decoder.push(b"3 abc<1>a\r\n99 ");
        assert_eq!(
            decoder.stats(),
            FrameStats {
                frames: 2,
                too_long: 1,
                bad_length: 0,
                truncated: 0,
                bytes: 14,
            }
        );
        // Its 99 bytes, a bad prefix, a frame, a truncated frame.
        decoder.push(&[b'y'; 99]);
        decoder.push(b"0x\n<2>b\n4 ab");
        let finished = decoder.finish();
        assert_eq!(
            finished.stats,
            FrameStats {
                frames: 3,
                too_long: 1,
                bad_length: 1,
                truncated: 1,
                bytes: 14 + 99 + 12,
            }
        );
    }

    /// The largest message of the memory tests.
    const MAX_64K: usize = 64 * 1024;

    #[test]
    fn buffered_bytes_stay_bounded_on_a_10_mb_stream_without_lf() {
        let mut rng = Rng(7);
        for first in [b'a', b'1'] {
            // 10 MB of one byte: a line that never ends, or a length prefix
            // that never ends, fed in chunks of up to 100 KB.
            let mut decoder = FrameDecoder::new(MAX_64K);
            let mut left = 10 * 1024 * 1024;
            let chunk = vec![first; 100_000];
            let mut errors = 0;
            while left > 0 {
                let n = rng.below(chunk.len()).max(1).min(left);
                decoder.push(&chunk[..n]);
                left -= n;
                assert!(decoder.buffered() <= MAX_64K + 1);
                assert!(decoder.partial.capacity() <= MAX_64K + 1);
                while let Some(item) = decoder.next_frame() {
                    assert!(item.is_err());
                    errors += 1;
                }
            }
            assert_eq!(errors, 1);
            decoder.push(b"\n<1>after\n");
            assert_eq!(decoder.next_frame(), Some(nt(b"<1>after")));
            let stats = decoder.finish().stats;
            assert_eq!(stats.too_long + stats.bad_length, 1);
        }
        // The same stream in one push.
        let mut decoder = FrameDecoder::new(MAX_64K);
        decoder.push(&vec![b'a'; 10 * 1024 * 1024]);
        assert!(decoder.buffered() <= MAX_64K + 1);
        assert!(matches!(
            decoder.next_frame(),
            Some(Err(FrameError::TooLong { .. }))
        ));
        // An octet-counted frame declaring 10 MB.
        let mut decoder = FrameDecoder::new(MAX_64K);
        decoder.push(b"10485760 ");
        for _ in 0..160 {
            decoder.push(&[b'x'; MAX_64K]);
            assert_eq!(decoder.buffered(), 0);
        }
        decoder.push(b"5 hello");
        assert_eq!(decoder.next_frame(), Some(too_long(10_485_760, MAX_64K)));
        assert_eq!(decoder.next_frame(), Some(oc(b"hello")));
    }

    /// A small deterministic pseudo-random generator (SplitMix64).
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }

        /// A number in `0..n`.
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        /// A number in `lo..=hi`.
        fn between(&mut self, lo: usize, hi: usize) -> usize {
            lo + self.below(hi - lo + 1)
        }
    }

    /// What one generated item of a random stream must decode to.
    #[derive(Debug)]
    enum Expect {
        /// Exactly this.
        Item(Item),
        /// A line over the limit (its reported length depends on the
        /// chunks).
        LineTooLong,
    }

    /// A stream of `count` random items (mostly good messages of both
    /// framings, some too long or with a bad prefix, some blank lines)
    /// and what it decodes to.
    fn random_stream(rng: &mut Rng, count: usize, max: usize) -> (Vec<u8>, Vec<Expect>) {
        let mut stream = Vec::new();
        let mut expected = Vec::new();
        // Line bodies: anything but the trailers.
        let line_byte = |rng: &mut Rng| loop {
            let b = rng.next() as u8;
            if b != b'\n' && b != 0 {
                return b;
            }
        };
        for _ in 0..count {
            match rng.below(100) {
                0..=44 => {
                    let len = if rng.below(10) == 0 {
                        max
                    } else {
                        rng.between(1, max)
                    };
                    let mut body = vec![b'<'];
                    body.extend((1..len).map(|_| line_byte(rng)));
                    if body.last() == Some(&b'\r') {
                        *body.last_mut().unwrap() = b'.';
                    }
                    stream.extend_from_slice(&body);
                    let trailers: [&[u8]; 3] = [b"\n", b"\r\n", b"\0"];
                    stream.extend_from_slice(trailers[rng.below(3)]);
                    expected.push(Expect::Item(nt(&body)));
                }
                45..=84 => {
                    let len = rng.between(1, max);
                    let body: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
                    stream.extend_from_slice(format!("{len} ").as_bytes());
                    stream.extend_from_slice(&body);
                    expected.push(Expect::Item(oc(&body)));
                }
                85..=89 => {
                    let len = rng.between(max + 1, 3 * max);
                    stream.extend_from_slice(format!("{len} ").as_bytes());
                    stream.extend((0..len).map(|_| rng.next() as u8));
                    expected.push(Expect::Item(too_long(len as u64, max)));
                }
                90..=94 => {
                    let len = rng.between(max + 1, 3 * max);
                    stream.push(b'<');
                    stream.extend((1..len).map(|_| line_byte(rng)));
                    stream.push(b'\n');
                    expected.push(Expect::LineTooLong);
                }
                95..=97 => {
                    let (prefix, shown): (&[u8], &str) = match rng.below(3) {
                        0 => (b"12a", "12a"),
                        1 => (b"07 ", "07 "),
                        _ => (b"99999999999", "99999999999"),
                    };
                    stream.extend_from_slice(prefix);
                    stream.extend((0..rng.below(50)).map(|_| line_byte(rng)));
                    stream.push(b'\n');
                    expected.push(Expect::Item(bad(shown)));
                }
                _ => stream.extend_from_slice(b"\r\n"),
            }
        }
        (stream, expected)
    }

    /// Checks decoded items against what was generated.
    fn check_items(got: &[Item], expected: &[Expect], max: usize) {
        assert_eq!(got.len(), expected.len());
        for (i, (got, expected)) in got.iter().zip(expected).enumerate() {
            match expected {
                Expect::Item(item) => assert_eq!(got, item, "item {i}"),
                Expect::LineTooLong => assert!(
                    matches!(got, Err(FrameError::TooLong { len, max: m }) if *len > max as u64 && *m == max),
                    "item {i}: {got:?}"
                ),
            }
        }
    }

    #[test]
    fn random_streams_in_random_chunks_give_back_the_messages() {
        let max = 300;
        for seed in 0..4 {
            let mut rng = Rng(seed);
            let (stream, expected) = random_stream(&mut rng, 1000, max);
            let frames = expected
                .iter()
                .filter(|e| matches!(e, Expect::Item(Ok(_))))
                .count() as u64;
            for largest in [1, 7, 64, 1000, 100_000, stream.len()] {
                let mut decoder = FrameDecoder::new(max);
                let mut got = Vec::new();
                let mut rest = &stream[..];
                while !rest.is_empty() {
                    let n = rng.between(1, largest).min(rest.len());
                    decoder.push(&rest[..n]);
                    rest = &rest[n..];
                    // Sometimes leave frames queued for a while.
                    if rng.below(4) != 0 {
                        got.extend(std::iter::from_fn(|| decoder.next_frame()));
                        assert!(decoder.buffered() <= max + 1);
                    }
                }
                let finished = decoder.finish();
                got.extend(finished.rest);
                check_items(&got, &expected, max);
                assert_eq!(finished.stats.frames, frames);
                assert_eq!(finished.stats.bytes, stream.len() as u64);
                let errors = finished.stats.too_long + finished.stats.bad_length;
                assert_eq!(errors, expected.len() as u64 - frames);
            }
        }
    }

    #[test]
    fn decoded_messages_parse_as_syslog() {
        // RFC 5424 §6.5, example 2 (there is no RFC 5424 line in the shared
        // corpus).
        let rfc5424 = "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.";
        // A hand-written sshd line in the shape of a Debian auth.log.
        let rfc3164 =
            "Mar 27 14:54:57 bastion-2 sshd[2967]: Invalid user support from 198.51.100.7";
        let stream = format!("{} {rfc5424}{} {rfc3164}", rfc5424.len(), rfc3164.len());
        let mut decoder = FrameDecoder::new(2048);
        for chunk in stream.as_bytes().chunks(13) {
            decoder.push(chunk);
        }
        let frames: Vec<Frame> = std::iter::from_fn(|| decoder.next_frame())
            .map(Result::unwrap)
            .collect();
        assert_eq!(frames.len(), 2);

        let source = Arc::from("tcp:514");
        let logsource = taxonomy::of_syslog_file("syslog");
        let mut years = YearResolver::new(2024, 4, 1);
        let mut clock = LocalClock::new(TimeZone::UTC);
        let events: Vec<_> = frames
            .iter()
            .enumerate()
            .map(|(i, frame)| {
                assert_eq!(frame.framing, Framing::OctetCounted);
                parse_syslog_line(
                    &frame.text(),
                    &mut years,
                    &mut clock,
                    &source,
                    i as u64 + 1,
                    logsource,
                )
            })
            .collect();

        let e = &events[0];
        assert_eq!(e.fields["host"], json!("192.0.2.1"));
        assert_eq!(e.fields["program"], json!("myproc"));
        assert_eq!(e.fields["pid"], json!(8710));
        assert_eq!(e.fields["facility"], json!("local4"));
        assert_eq!(e.fields["severity"], json!("notice"));
        assert_eq!(
            e.fields["message"],
            json!("%% It's time to make the do-nuts.")
        );
        let t = e.meta.timestamp.expect("a time");
        assert_eq!((t.year(), t.hour()), (2003, 12));

        let e = &events[1];
        assert_eq!(e.fields["host"], json!("bastion-2"));
        assert_eq!(e.fields["program"], json!("sshd"));
        assert_eq!(e.fields["pid"], json!(2967));
        assert_eq!(
            e.fields["message"],
            json!("Invalid user support from 198.51.100.7")
        );
        assert_eq!(e.meta.host.as_deref(), Some("bastion-2"));
        let t = e.meta.timestamp.expect("a time");
        assert_eq!(
            (t.year(), u8::from(t.month()), t.day(), t.hour()),
            (2024, 3, 27, 14)
        );
    }
}
