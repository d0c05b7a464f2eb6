//! Splits a byte stream into blocks of whole lines, holding no line longer
//! than [`MAX_LINE_LEN`] in memory.
//!
//! A block is a run of complete lines (about [`BLOCK_LEN`] bytes) with the
//! number of its first line, so blocks can be parsed in parallel and still
//! locate every line. A line longer than the cap is skipped as it streams
//! past and reported once as [`LineItem::Oversized`] with its line number;
//! the lines after it are read normally. Memory stays under
//! `MAX_LINE_LEN + BLOCK_LEN` whatever the input.
//!
//! [`read_parallel`] drives a line format over the blocks on every core;
//! the format only says how one line becomes events.
//!
//! Must not know about any log format.

use std::io::{self, Read};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use events::Event;
use rayon::iter::{ParallelBridge, ParallelIterator};

use crate::{FileSummary, Problem, ProblemKind, ReadCtx};

/// The longest line kept, in bytes (16 MiB). Longer lines are skipped and
/// reported as oversized.
pub const MAX_LINE_LEN: usize = 16 * 1024 * 1024;

/// About how many bytes one block holds.
pub(crate) const BLOCK_LEN: usize = 2 * 1024 * 1024;

/// What the splitter yields.
#[derive(Debug)]
pub(crate) enum LineItem {
    /// Whole lines; `data` ends with `\n` except at the end of the input.
    Block {
        /// The 1-based number of the block's first line.
        first_line: u64,
        /// The lines' bytes.
        data: Vec<u8>,
    },
    /// A line over the cap, skipped.
    Oversized {
        /// Its 1-based number.
        line: u64,
        /// How many bytes it had (without the newline).
        len: u64,
    },
    /// Reading failed; nothing more follows.
    Failed {
        /// The line being read when it failed.
        line: u64,
        /// Why.
        error: io::Error,
    },
}

/// The splitter: an iterator of [`LineItem`]s over a reader.
pub(crate) struct LineBlocks<R> {
    reader: R,
    buf: Vec<u8>,
    next_line: u64,
    block_len: usize,
    max_line: usize,
    /// Inside an oversized line: its number and the bytes seen so far.
    skipping: Option<(u64, u64)>,
    eof: bool,
    done: bool,
    /// A block to yield next, after an oversized line at its start.
    pending: Option<LineItem>,
}

impl<R: Read> LineBlocks<R> {
    /// Splits `reader` with the default block size and line cap.
    pub(crate) fn new(reader: R) -> Self {
        Self::with_limits(reader, BLOCK_LEN, MAX_LINE_LEN)
    }

    /// Splits `reader` with the given block size and line cap.
    pub(crate) fn with_limits(reader: R, block_len: usize, max_line: usize) -> Self {
        Self {
            reader,
            buf: Vec::new(),
            next_line: 1,
            block_len: block_len.max(1),
            max_line: max_line.max(1),
            skipping: None,
            eof: false,
            done: false,
            pending: None,
        }
    }

    /// Reads up to one more block of input into the buffer.
    fn fill(&mut self) -> io::Result<()> {
        let want = self.block_len as u64;
        let read = self.reader.by_ref().take(want).read_to_end(&mut self.buf)?;
        if read == 0 {
            self.eof = true;
        }
        Ok(())
    }

    /// Cuts the buffer after `end` (exclusive) into a block.
    fn cut(&mut self, end: usize) -> Option<LineItem> {
        let rest = self.buf.split_off(end);
        let mut data = std::mem::replace(&mut self.buf, rest);
        let first_line = self.next_line;
        let lines = memchr::memchr_iter(b'\n', &data).count() as u64;
        self.next_line += lines + u64::from(!data.ends_with(b"\n"));
        // Only the first line of a block can be over the cap: it is the one
        // carried over from earlier reads.
        let first_len = memchr::memchr(b'\n', &data).unwrap_or(data.len());
        if first_len > self.max_line {
            data.drain(..(first_len + 1).min(data.len()));
            if data.is_empty() {
                return Some(LineItem::Oversized {
                    line: first_line,
                    len: first_len as u64,
                });
            }
            // Report the long line now; the rest of the block follows.
            self.pending = Some(LineItem::Block {
                first_line: first_line + 1,
                data,
            });
            return Some(LineItem::Oversized {
                line: first_line,
                len: first_len as u64,
            });
        }
        Some(LineItem::Block { first_line, data })
    }
}

impl<R: Read> Iterator for LineBlocks<R> {
    type Item = LineItem;

    fn next(&mut self) -> Option<LineItem> {
        if let Some(item) = self.pending.take() {
            return Some(item);
        }
        loop {
            if self.done {
                return None;
            }
            if let Some((line, seen)) = self.skipping {
                match memchr::memchr(b'\n', &self.buf) {
                    Some(pos) => {
                        self.buf.drain(..=pos);
                        self.skipping = None;
                        self.next_line = line + 1;
                        return Some(LineItem::Oversized {
                            line,
                            len: seen + pos as u64,
                        });
                    }
                    None => {
                        let seen = seen + self.buf.len() as u64;
                        self.buf.clear();
                        self.skipping = Some((line, seen));
                        if self.eof {
                            self.done = true;
                            return Some(LineItem::Oversized { line, len: seen });
                        }
                    }
                }
            } else if self.buf.len() >= self.block_len || self.eof {
                if let Some(pos) = memchr::memrchr(b'\n', &self.buf) {
                    return self.cut(pos + 1);
                }
                if self.eof {
                    self.done = true;
                    if self.buf.is_empty() {
                        return None;
                    }
                    let end = self.buf.len();
                    return self.cut(end);
                }
                if self.buf.len() > self.max_line {
                    // No newline in more than the cap: skip this line.
                    self.skipping = Some((self.next_line, 0));
                    continue;
                }
            }
            if !self.eof
                && let Err(error) = self.fill()
            {
                self.done = true;
                return Some(LineItem::Failed {
                    line: self.next_line,
                    error,
                });
            }
        }
    }
}

/// Iterates over the lines of a block with their numbers, without the line
/// end (`\n` or `\r\n`) and without a byte-order mark on line 1.
pub(crate) fn numbered_lines(first_line: u64, data: &[u8]) -> impl Iterator<Item = (u64, &[u8])> {
    let empty = data.is_empty();
    let data = data.strip_suffix(b"\n").unwrap_or(data);
    let mut lines = data.split(|b| *b == b'\n');
    // An empty block has no lines at all ("\n" alone is one empty line).
    if empty {
        lines.next();
    }
    lines.enumerate().map(move |(i, line)| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        // A UTF-8 byte-order mark at the start of the input.
        let line = match first_line + i as u64 {
            1 => line.strip_prefix(b"\xef\xbb\xbf").unwrap_or(line),
            _ => line,
        };
        (first_line + i as u64, line)
    })
}

/// Reads a line format on every core: `parse` turns one non-blank line
/// (with its 1-based number) into events appended to the batch, or says why
/// it can't. Each block's events go to `sink`; oversized and unreadable
/// lines and `parse`'s refusals are added to `summary`, in line order.
pub(crate) fn read_parallel<R, P>(
    ctx: &ReadCtx<'_>,
    reader: R,
    sink: &(dyn Fn(Vec<Event>) + Sync),
    summary: &mut FileSummary,
    parse: P,
) where
    R: Read + Send,
    P: Fn(u64, &[u8], &mut Vec<Event>) -> Result<(), (ProblemKind, String)> + Sync,
{
    let problems = Mutex::new(Vec::new());
    let events = AtomicU64::new(0);
    LineBlocks::new(reader).par_bridge().for_each(|item| {
        let mut local = Vec::new();
        match item {
            LineItem::Block { first_line, data } => {
                let mut batch = Vec::new();
                for (number, line) in numbered_lines(first_line, &data) {
                    if line.trim_ascii().is_empty() {
                        continue;
                    }
                    if let Err((kind, message)) = parse(number, line, &mut batch) {
                        local.push(ctx.problem(format!("line {number}"), kind, message));
                    }
                }
                if !batch.is_empty() {
                    events.fetch_add(batch.len() as u64, Ordering::Relaxed);
                    sink(batch);
                }
            }
            LineItem::Oversized { line, len } => local.push(ctx.problem(
                format!("line {line}"),
                ProblemKind::Oversized,
                format!("line of {len} bytes is over the {MAX_LINE_LEN} byte limit; skipped"),
            )),
            LineItem::Failed { line, error } => local.push(ctx.problem(
                format!("line {line}"),
                ProblemKind::Unreadable,
                error.to_string(),
            )),
        }
        if !local.is_empty() {
            problems
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .append(&mut local);
        }
    });
    summary.events += events.into_inner();
    let mut problems = problems.into_inner().unwrap_or_else(|e| e.into_inner());
    problems.sort_by_key(line_of);
    summary.problems.append(&mut problems);
}

/// The line number in a `line N` location, for sorting.
pub(crate) fn line_of(problem: &Problem) -> u64 {
    problem
        .location
        .strip_prefix("line ")
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// True when the sample looks like binary data rather than text: more than
/// one in ten bytes a control character other than tab, CR, LF or form
/// feed. (A stray NUL in a text log does not make the whole file binary.)
pub(crate) fn is_binary(sample: &[u8]) -> bool {
    let control = sample
        .iter()
        .filter(|&&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0c) || b == 0x7f)
        .count();
    control * 10 > sample.len()
}

/// True when one line is binary garbage: a NUL byte, or binary by
/// [`is_binary`].
pub(crate) fn is_binary_line(line: &[u8]) -> bool {
    memchr::memchr(0, line).is_some() || is_binary(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Splits `input` with tiny limits and renders what comes out.
    fn check(input: &str, block: usize, max: usize) -> Vec<String> {
        LineBlocks::with_limits(input.as_bytes(), block, max)
            .flat_map(|item| match item {
                LineItem::Block { first_line, data } => numbered_lines(first_line, &data)
                    .map(|(n, l)| format!("{n}:{}", String::from_utf8_lossy(l)))
                    .collect::<Vec<_>>(),
                LineItem::Oversized { line, len } => vec![format!("{line}:OVERSIZED {len}")],
                LineItem::Failed { line, error } => vec![format!("{line}:FAILED {error}")],
            })
            .collect()
    }

    #[test]
    fn numbers_lines_across_blocks() {
        assert_eq!(check("a\nb\nc\n", 2, 100), ["1:a", "2:b", "3:c"]);
        assert_eq!(
            check("a\r\nbb\n\nlast", 3, 100),
            ["1:a", "2:bb", "3:", "4:last"]
        );
        assert!(check("", 4, 100).is_empty());
        assert_eq!(check("\u{feff}a\nb", 100, 100), ["1:a", "2:b"]);
    }

    #[test]
    fn skips_oversized_lines_and_keeps_going() {
        let long = "x".repeat(50);
        let input = format!("ok\n{long}\nafter\n{long}");
        assert_eq!(
            check(&input, 8, 10),
            ["1:ok", "2:OVERSIZED 50", "3:after", "4:OVERSIZED 50"]
        );
        // A long line that arrives with its newline in one read.
        let input = format!("{long}\nnext\n");
        assert_eq!(check(&input, 64, 10), ["1:OVERSIZED 50", "2:next"]);
    }
}
