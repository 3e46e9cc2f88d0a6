//! Where reading begins in the first file: after its last complete line
//! (`--from end`), or after a resume checkpoint if the file is provably the
//! one it was taken in (the rules are [`crate::resume`]'s; this is how a
//! file is looked at for them).

use super::Follower;
use crate::checkpoint::{Checkpoint, line_hash};
use crate::error::Error;
use crate::position::LineInfo;
use crate::retry::retrying;
use crate::source::LastLine;
use std::os::unix::fs::FileExt;

/// The last complete line of a scanned stretch: (start, end) offsets, end
/// just past its `\n`.
type Range = (u64, u64);

impl Follower {
    /// Reads the current file from its start up to `limit` (or its end),
    /// counting lines: returns the last complete line's range and how many
    /// complete lines there are.
    fn scan(&mut self, limit: Option<u64>) -> Result<(Option<Range>, u64), Error> {
        let mut chunk = vec![0; 256 * 1024];
        let (mut offset, mut lines) = (0u64, 0u64);
        let (mut before_last, mut last) = (None::<u64>, None::<u64>);
        loop {
            let want = match limit {
                Some(limit) => chunk
                    .len()
                    .min(usize::try_from(limit - offset).unwrap_or(usize::MAX)),
                None => chunk.len(),
            };
            let n = match retrying(|| self.current.file.read_at(&mut chunk[..want], offset)) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => return Err(self.io(e)),
            };
            for at in memchr::memchr_iter(b'\n', &chunk[..n]) {
                before_last = last;
                last = Some(offset + at as u64);
                lines += 1;
            }
            offset += n as u64;
        }
        let line = last.map(|last| (before_last.map_or(0, |b| b + 1), last + 1));
        Ok((line, lines))
    }

    /// The bytes of `range` of the current file without the `\n`, if no
    /// longer than a line may be.
    fn read_line_at(&self, (start, end): Range) -> Result<Option<Vec<u8>>, Error> {
        let len = usize::try_from(end - start - 1).unwrap_or(usize::MAX);
        if len > self.buffer.max() {
            return Ok(None);
        }
        let mut line = vec![0; len];
        self.current
            .file
            .read_exact_at(&mut line, start)
            .map_err(|e| self.io(e))?;
        Ok(Some(line))
    }

    /// Makes reading begin at `end`, after `lines` lines, with the bytes
    /// just before it kept as the last read: the check that tells a
    /// truncation at a wake-up needs them (there is no other check).
    pub(super) fn begin_at(&mut self, end: u64, lines: u64) -> Result<(), Error> {
        // Reads are positional (at the buffer's read offset): no seek.
        self.buffer.reset(end, lines + 1);
        let len = end.min(super::TAIL as u64) as usize;
        let mut tail = [0; super::TAIL];
        self.current
            .file
            .read_exact_at(&mut tail[..len], end - len as u64)
            .map_err(|e| self.io(e))?;
        self.current.tail = tail;
        self.current.tail_len = len;
        // Mid-run (a snapshot moves reading), what was read is no longer
        // all there is to hand out: look again before sleeping. Nor did the
        // last read end where reading now begins: read before taking the
        // end for reached (moved back to the start, the file's lines are
        // all there to read, and no wake-up will come for them).
        self.settled = false;
        self.told_caught_up = false;
        self.current.read_to_end = false;
        Ok(())
    }

    /// `--from end`: moves after the last complete line and returns it (if
    /// not too long to keep). Lines are counted so that line numbers in
    /// warnings stay true.
    pub(crate) fn skip_to_end(&mut self, limit: Option<u64>) -> Result<Option<LastLine>, Error> {
        let (last, lines) = self.scan(limit)?;
        let Some(range) = last else {
            return Ok(None);
        };
        let bytes = self.read_line_at(range)?;
        self.begin_at(range.1, lines)?;
        Ok(Some(LastLine {
            bytes,
            info: LineInfo {
                line: lines,
                offset: range.0,
                end: range.1,
                file: Some(self.current.id),
            },
        }))
    }

    /// Goes on after `checkpoint` if this is provably its file: the same
    /// file (see [`FileId::same_file`](crate::FileId::same_file)), at least
    /// as long, and the line ending at its offset has its fingerprint. At
    /// offset 0 there is no line to compare: the identity has to do.
    pub(crate) fn resume_in_place(&mut self, checkpoint: &Checkpoint) -> Result<bool, Error> {
        let size = self.current.size().map_err(|e| self.io(e))?;
        if !self.current.id.same_file(&checkpoint.file) || size < checkpoint.end {
            return Ok(false);
        }
        if checkpoint.end == 0 {
            // No line to compare: the identity has to do. Without a birth
            // time on both sides, a reused inode number cannot be told from
            // the same file; before any event there is no seq to catch the
            // difference either, so that is no proof.
            let born = checkpoint.file.born.is_some() && self.current.id.born.is_some();
            return Ok(born || checkpoint.seq.is_some());
        }
        let (last, lines) = self.scan(Some(checkpoint.end))?;
        let Some(range) = last.filter(|&(_, end)| end == checkpoint.end) else {
            return Ok(false);
        };
        if let Some(hash) = checkpoint.line_hash {
            let Some(line) = self.read_line_at(range)? else {
                return Ok(false);
            };
            if line_hash(&line) != hash {
                // Same inode number, different content: a new file.
                return Ok(false);
            }
        }
        self.begin_at(range.1, lines)?;
        Ok(true)
    }
}
