//! Stepping through complete lines of a [`ReadBuffer`], with their
//! bookkeeping: the number of each line, and the skipping of a line over
//! the length limit (as ripgrep's `LineBuffer` owns its offsets and
//! allocation limit), so that memory stays bounded by the limit whatever
//! the input.

use crate::buffer::ReadBuffer;
use crate::entry::{InvalidEntry, InvalidReason};
use crate::position::{FileId, LineInfo, Location};
use crate::retry::retrying;
use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;

/// How many of a long line's first bytes are kept for its warning.
const LONG_HEAD: usize = 256;

/// What [`LineBuffer::take`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Taken {
    /// A complete line, without its `\n`.
    Line(Span),
    /// A line over the limit, whole now (its `\n` came): reported once,
    /// with its first bytes for the warning.
    TooLong(Long),
}

/// What the caller of [`LineBuffer::skim`] made of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Skim {
    /// Done with: go on to the next (keeping it, see
    /// [`LineBuffer::keep`], if `keep`).
    Past { keep: bool },
    /// Stop after it: it becomes the line handed out (kept if `keep`).
    Hand { keep: bool },
}

/// A line over the limit: where it starts and its first bytes. Its other
/// bytes were dropped as they came, so that memory stays bounded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Long {
    /// 1-based line number in the file.
    pub(crate) line: u64,
    /// File offset of its first byte.
    pub(crate) offset: u64,
    /// Its first bytes.
    pub(crate) head: Vec<u8>,
}

/// A line's place in the buffer and in its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    /// Its bytes in the buffer, valid until the next [`LineBuffer::fill`].
    pub(crate) range: (usize, usize),
    /// 1-based line number in the file.
    pub(crate) line: u64,
    /// File offset of its first byte.
    pub(crate) offset: u64,
}

impl Span {
    /// Where its line is, read from `file`.
    #[inline]
    pub(crate) fn info(&self, file: Option<FileId>) -> LineInfo {
        LineInfo {
            line: self.line,
            offset: self.offset,
            end: self.offset + (self.range.1 - self.range.0) as u64 + 1,
            file,
        }
    }
}

impl Long {
    /// The warning for this line, read from `path` with lines of at most
    /// `limit` bytes.
    pub(crate) fn entry(&self, path: &Arc<Path>, limit: usize) -> InvalidEntry {
        let location = Location::new(path, self.line, self.offset);
        InvalidEntry::new(location, InvalidReason::TooLong { limit }, &self.head)
    }
}

/// Complete lines from a read buffer, handed out one at a time
/// ([`take`](Self::take)) or many to a closure ([`skim`](Self::skim)).
#[derive(Debug)]
pub(crate) struct LineBuffer {
    buf: ReadBuffer,
    /// The number of the line that starts at the first unconsumed byte.
    line: u64,
    /// Inside a line over the limit: drop bytes up to its `\n`, which is
    /// when it is reported (a line not yet ended is not an entry yet).
    skipping: Option<Long>,
    max: usize,
}

impl LineBuffer {
    /// An empty buffer for lines of at most `max` bytes.
    pub(crate) fn new(max: usize) -> Self {
        LineBuffer {
            buf: ReadBuffer::new(),
            line: 1,
            skipping: None,
            max,
        }
    }

    /// The bytes underneath, to read into.
    pub(crate) fn reader(&mut self) -> &mut ReadBuffer {
        &mut self.buf
    }

    /// Everything read was handed out, and the last read reached the end of
    /// what there was then: the next read will most likely find nothing.
    pub(crate) fn drained(&self) -> bool {
        self.buf.drained()
    }

    /// Keeps the line of `span` (handed out since the last fill):
    /// [`kept`](Self::kept) gives it until the next call, whatever is read
    /// in between (see [`ReadBuffer::keep`]).
    pub(crate) fn keep(&mut self, span: &Span) {
        self.buf.keep(span.range);
    }

    /// The line last kept ([`keep`](Self::keep)); empty before any.
    pub(crate) fn kept(&self) -> &[u8] {
        self.buf.kept()
    }

    /// Forgets everything: the next byte read is at `offset`, the first
    /// byte of line number `line`.
    pub(crate) fn reset(&mut self, offset: u64, line: u64) {
        self.buf.reset(offset);
        self.line = line;
        self.skipping = None;
    }

    /// The longest line accepted.
    pub(crate) fn max(&self) -> usize {
        self.max
    }

    /// Bytes read but not yet part of a handed-out line (the start of a
    /// line still being written), unless it is one being skipped.
    pub(crate) fn partial(&self) -> Option<Span> {
        let pending = self.buf.buffer().len();
        (pending > 0 && self.skipping.is_none()).then(|| self.span(pending))
    }

    /// The first `len` unconsumed bytes, as the span of the next line.
    #[inline]
    fn span(&self, len: usize) -> Span {
        let start = self.buf.position();
        Span {
            range: (start, start + len),
            line: self.line,
            offset: self.buf.offset(),
        }
    }

    /// The file offset of the first byte not yet handed out (or skipped):
    /// where the next line starts.
    pub(crate) fn line_offset(&self) -> u64 {
        self.buf.offset()
    }

    /// The last (up to) `n` bytes read, handed out or not.
    pub(crate) fn last(&self, n: usize) -> &[u8] {
        self.buf.last(n)
    }

    /// The bytes of a span handed out since the last fill.
    #[inline]
    pub(crate) fn get(&self, span: &Span) -> &[u8] {
        self.buf.get(span.range)
    }

    /// Moves past the line of `len` bytes and its `\n`.
    #[inline]
    fn step(&mut self, len: usize) {
        self.buf.consume(len + 1);
        self.line += 1;
    }

    /// The next complete line, or a line found to be too long.
    pub(crate) fn take(&mut self) -> Option<Taken> {
        let Some(at) = memchr::memchr(b'\n', self.buf.buffer()) else {
            self.no_line_yet();
            return None;
        };
        let span = self.span(at);
        self.step(at);
        if let Some(long) = self.skipping.take() {
            // The end of a line found too long before its end came.
            return Some(Taken::TooLong(long));
        }
        Some(if at > self.max {
            Taken::TooLong(Long {
                line: span.line,
                offset: span.offset,
                head: self.get(&span)[..at.min(LONG_HEAD)].to_vec(),
            })
        } else {
            Taken::Line(span)
        })
    }

    /// Hands the complete lines in the buffer to `each`, one after another,
    /// for as long as it is done with them ([`Skim::Past`]): the hot path
    /// of a catch-up, with no more bookkeeping per line than the line
    /// buffer's own. Returns the line `each` stopped at ([`Skim::Hand`]),
    /// if any. A line over the limit stops it (for [`take`](Self::take) to
    /// report).
    #[inline]
    pub(crate) fn skim(&mut self, mut each: impl FnMut(&[u8], &Span) -> Skim) -> Option<Span> {
        if self.skipping.is_some() {
            return None;
        }
        let (base, offset, first_line, max) =
            (self.buf.position(), self.buf.offset(), self.line, self.max);
        let bytes = self.buf.buffer();
        let (mut start, mut lines) = (0, 0);
        let (mut keep, mut handed) = (None, None);
        for end in Newlines::new(bytes) {
            if end - start > max {
                break;
            }
            let span = Span {
                range: (base + start, base + end),
                line: first_line + lines,
                offset: offset + start as u64,
            };
            let skim = each(&bytes[start..end], &span);
            start = end + 1;
            lines += 1;
            match skim {
                Skim::Past { keep: k } => {
                    if k {
                        keep = Some(span.range);
                    }
                }
                Skim::Hand { keep: k } => {
                    if k {
                        keep = Some(span.range);
                    }
                    handed = Some(span);
                    break;
                }
            }
        }
        // The bookkeeping once for all the lines passed.
        self.buf.consume(start);
        self.line += lines;
        if let Some(range) = keep {
            self.buf.keep(range);
        }
        handed
    }

    /// No `\n` in what is pending: past the limit, keep the line's first
    /// bytes and drop the rest as it comes (told when its end comes).
    fn no_line_yet(&mut self) {
        let pending = self.buf.buffer();
        if self.skipping.is_none() && pending.len() <= self.max {
            return;
        }
        if self.skipping.is_none() {
            self.skipping = Some(Long {
                line: self.line,
                offset: self.buf.offset(),
                head: pending[..pending.len().min(LONG_HEAD)].to_vec(),
            });
        }
        self.buf.consume_all();
    }

    /// A line over the limit whose end never came (its file is being
    /// left, or the input ended), taken.
    pub(crate) fn take_unfinished_long(&mut self) -> Option<Long> {
        self.skipping.take()
    }

    /// Drops the pending bytes (a partial line whose file is being left).
    pub(crate) fn discard(&mut self) {
        self.buf.consume_all();
        self.skipping = None;
    }

    /// Reads once from `input` (a pipe: read as it comes) after the pending
    /// bytes; returns how many bytes came (0 at the end of the input).
    pub(crate) fn fill(&mut self, input: &mut impl Read) -> io::Result<usize> {
        self.buf.fill(|room| retrying(|| input.read(room)))
    }
}
/// The bytes [`Newlines`] looks at at a time: one bit each in a `u64`.
const NEWLINE_BLOCK: usize = 64;

/// The positions of the `\n`s in some bytes, in order: found 64 bytes at a
/// time as a bit mask (a loop the compiler turns into vector compares), so
/// that a line costs a few instructions to find, not a call.
struct Newlines<'a> {
    bytes: &'a [u8],
    /// Where the block of `mask` starts.
    block: usize,
    /// The block's `\n`s not yet handed out, one bit each.
    mask: u64,
}

impl<'a> Newlines<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Newlines {
            bytes,
            block: 0,
            mask: Self::mask(bytes),
        }
    }

    /// The `\n`s of the (up to) 64 bytes at the start of `bytes`.
    #[inline]
    fn mask(bytes: &[u8]) -> u64 {
        match bytes.first_chunk::<NEWLINE_BLOCK>() {
            Some(block) => block_mask(block),
            None => scalar_mask(bytes),
        }
    }
}

/// The `\n`s of a block, one bit each (a byte at a time on processors
/// other than x86-64, where this is not tuned).
#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn block_mask(block: &[u8; NEWLINE_BLOCK]) -> u64 {
    scalar_mask(block)
}

/// The `\n`s of up to 64 bytes, one bit each, a byte at a time.
#[inline]
fn scalar_mask(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .enumerate()
        .fold(0, |mask, (i, &b)| mask | (u64::from(b == b'\n') << i))
}

/// The `\n`s of a block, one bit each, in SSE2, which every x86-64 has:
/// four compares of 16 bytes.
#[cfg(target_arch = "x86_64")]
#[inline]
fn block_mask(block: &[u8; NEWLINE_BLOCK]) -> u64 {
    use std::arch::x86_64::{_mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8};
    let mut mask = 0;
    for (i, part) in block.chunks_exact(16).enumerate() {
        // SAFETY: SSE2 is in every x86-64 processor (the target's
        // baseline), and the load is of 16 bytes, all within `part`.
        let found = unsafe {
            let bytes = _mm_loadu_si128(part.as_ptr().cast());
            _mm_movemask_epi8(_mm_cmpeq_epi8(bytes, _mm_set1_epi8(b'\n' as i8))) as u16
        };
        mask |= u64::from(found) << (16 * i);
    }
    mask
}

impl Iterator for Newlines<'_> {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        while self.mask == 0 {
            self.block += NEWLINE_BLOCK;
            if self.block >= self.bytes.len() {
                return None;
            }
            self.mask = Self::mask(&self.bytes[self.block..]);
        }
        let at = self.block + self.mask.trailing_zeros() as usize;
        self.mask &= self.mask - 1;
        Some(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buffer::READ_CHUNK;
    use std::fs::File;
    use std::io::Write;

    fn line(buf: &mut LineBuffer) -> Option<(Vec<u8>, u64, u64)> {
        match buf.take()? {
            Taken::Line(span) => Some((buf.get(&span).to_vec(), span.line, span.offset)),
            Taken::TooLong(long) => panic!("too long: {long:?}"),
        }
    }

    #[test]
    fn hands_out_lines_with_their_numbers_and_offsets_and_keeps_the_partial_tail() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(b"one\ntwo\nthr").unwrap();
        let mut reader = File::open(file.path()).unwrap();
        let mut buf = LineBuffer::new(100);
        assert_eq!(buf.fill(&mut reader).unwrap(), 11);
        assert_eq!(line(&mut buf), Some((b"one".to_vec(), 1, 0)));
        assert_eq!(line(&mut buf), Some((b"two".to_vec(), 2, 4)));
        assert_eq!(line(&mut buf), None);
        let partial = buf.partial().unwrap();
        assert_eq!(
            (buf.get(&partial), partial.line, partial.offset),
            (&b"thr"[..], 3, 8)
        );
        file.write_all(b"ee\n").unwrap();
        assert_eq!(buf.fill(&mut reader).unwrap(), 3);
        assert_eq!(line(&mut buf), Some((b"three".to_vec(), 3, 8)));
        assert_eq!(buf.fill(&mut reader).unwrap(), 0);
        assert_eq!(buf.buf.read_offset(), 14);
        assert_eq!(buf.partial(), None);
    }

    #[test]
    fn a_long_line_is_reported_once_and_skipped_with_bounded_memory() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        let mut reader = File::open(file.path()).unwrap();
        let mut buf = LineBuffer::new(10);
        file.write_all(&[b'x'; 300_000]).unwrap();
        buf.fill(&mut reader).unwrap();
        // Not told before its end comes: it may still be being written.
        assert_eq!(buf.take(), None);
        while buf.fill(&mut reader).unwrap() > 0 {
            assert_eq!(buf.take(), None);
        }
        assert!(buf.buf.buffer().len() <= READ_CHUNK);
        file.write_all(b"tail\nok\n").unwrap();
        buf.fill(&mut reader).unwrap();
        let Some(Taken::TooLong(long)) = buf.take() else {
            panic!("not reported at its end")
        };
        assert_eq!((long.line, long.offset, long.head.len()), (1, 0, LONG_HEAD));
        assert_eq!(line(&mut buf), Some((b"ok".to_vec(), 2, 300_005)));
    }

    #[test]
    fn drained_once_a_read_came_back_short_and_every_line_was_taken() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(&vec![b'x'; READ_CHUNK - 1]).unwrap();
        file.write_all(b"\nab\n").unwrap();
        let mut reader = File::open(file.path()).unwrap();
        let mut buf = LineBuffer::new(2 * READ_CHUNK);
        // A full read: there may be more.
        assert_eq!(buf.fill(&mut reader).unwrap(), READ_CHUNK);
        assert!(matches!(buf.take(), Some(Taken::Line(_))));
        assert!(!buf.drained());
        // A short one reached the end, but a line is still to be taken.
        assert_eq!(buf.fill(&mut reader).unwrap(), 3);
        assert!(!buf.drained());
        assert!(matches!(buf.take(), Some(Taken::Line(_))));
        assert!(buf.drained());
        buf.reset(0, 1);
        assert!(!buf.drained(), "nothing read since the reset");
    }

    #[test]
    fn newlines_are_found_in_every_block_and_at_every_edge() {
        for len in [0, 1, 63, 64, 65, 127, 128, 129, 300] {
            for step in [1, 2, 7, 63, 64, 65, 200] {
                let bytes: Vec<u8> = (0..len)
                    .map(|i| if i % step == step - 1 { b'\n' } else { b'x' })
                    .collect();
                let want: Vec<usize> = memchr::memchr_iter(b'\n', &bytes).collect();
                assert_eq!(
                    Newlines::new(&bytes).collect::<Vec<_>>(),
                    want,
                    "{len} {step}"
                );
            }
        }
    }

    #[test]
    fn the_vector_mask_is_the_bytes_mask() {
        let mut block = [0u8; NEWLINE_BLOCK];
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..2000 {
            // Bytes near '\n' (0x0a) and with the high bit set, at random.
            for b in &mut block {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b = [b'\n', 0x0b, 0x09, 0x8a, 0x00, 0xff, b'x'][(x % 7) as usize];
            }
            assert_eq!(block_mask(&block), scalar_mask(&block));
        }
    }

    #[test]
    fn a_complete_line_over_the_limit_is_too_long() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(b"0123456789ab\nok\n").unwrap();
        let mut reader = File::open(file.path()).unwrap();
        let mut buf = LineBuffer::new(10);
        buf.fill(&mut reader).unwrap();
        assert!(
            matches!(buf.take(), Some(Taken::TooLong(l)) if l.line == 1 && l.head == b"0123456789ab")
        );
        assert_eq!(line(&mut buf), Some((b"ok".to_vec(), 2, 13)));
    }
}
