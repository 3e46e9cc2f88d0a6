//! Where reading begins in the first file: after its last complete line
//! (`--from end`), or after a resume checkpoint if the file is provably the
//! one it was taken in (SPEC §5).

use super::Follower;
use crate::checkpoint::{Checkpoint, line_hash};
use crate::error::Error;
use crate::source::LineInfo;
use std::io::{Seek, SeekFrom};
use std::os::unix::fs::FileExt;

impl Follower {
    /// Reads the current file from its start up to `limit` (or its end),
    /// counting lines: returns the last complete line's (start, end) and
    /// how many complete lines there are.
    fn scan(&mut self, limit: Option<u64>) -> Result<(Option<(u64, u64)>, u64), Error> {
        let generation = self.current.as_mut().expect("started");
        let mut chunk = vec![0; 256 * 1024];
        let (mut offset, mut lines) = (0u64, 0u64);
        let (mut before_last, mut last) = (None::<u64>, None::<u64>);
        loop {
            let want = match limit {
                Some(limit) => chunk.len().min((limit - offset) as usize),
                None => chunk.len(),
            };
            let n = match generation.file.read_at(&mut chunk[..want], offset) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io(&self.path, e)),
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

    /// The bytes of `[start, end)` of the current file without the `\n`,
    /// if no longer than a line may be.
    fn read_line_at(&self, (start, end): (u64, u64)) -> Result<Option<Vec<u8>>, Error> {
        let len = (end - start - 1) as usize;
        if len > self.options.max_line_bytes {
            return Ok(None);
        }
        let mut line = vec![0; len];
        let generation = self.current.as_ref().expect("started");
        generation
            .file
            .read_exact_at(&mut line, start)
            .map_err(|e| Error::io(&self.path, e))?;
        Ok(Some(line))
    }

    /// Describes the complete line at `range`, number `line`.
    fn line_info(&self, line: u64, (start, end): (u64, u64)) -> LineInfo {
        LineInfo {
            line,
            offset: start,
            end,
            file: self.current.as_ref().map(|g| g.id),
        }
    }

    /// Makes reading begin at `end`, after `lines` lines.
    fn begin_at(&mut self, end: u64, lines: u64) -> Result<(), Error> {
        let generation = self.current.as_mut().expect("started");
        generation
            .file
            .seek(SeekFrom::Start(end))
            .map_err(|e| Error::io(&self.path, e))?;
        generation.read = end;
        generation.line_start = end;
        generation.line_no = lines + 1;
        Ok(())
    }

    /// `--from end`: after the last complete line, which is the baseline.
    /// Lines are counted so that line numbers in warnings stay true.
    pub(super) fn start_at_end(&mut self) -> Result<(), Error> {
        let (last, lines) = self.scan(None)?;
        if let Some(range) = last {
            if let Some(line) = self.read_line_at(range)? {
                self.baseline = Some((line, self.line_info(lines, range)));
            }
            self.begin_at(range.1, lines)?;
        }
        Ok(())
    }

    /// Resume after `checkpoint` if this is provably its file (SPEC §5).
    pub(super) fn start_after(&mut self, checkpoint: Checkpoint) -> Result<(), Error> {
        let size = self.current_size()?;
        let generation = self.current.as_ref().expect("started");
        if generation.id != checkpoint.file || size < checkpoint.end || checkpoint.end == 0 {
            return Ok(());
        }
        let (last, lines) = self.scan(Some(checkpoint.end))?;
        let Some(range) = last.filter(|&(_, end)| end == checkpoint.end) else {
            return Ok(());
        };
        let Some(line) = self.read_line_at(range)? else {
            return Ok(());
        };
        if line_hash(&line) != checkpoint.line_hash {
            // Same inode number, different content: a new file.
            return Ok(());
        }
        self.baseline = Some((line, self.line_info(lines, range)));
        self.begin_at(range.1, lines)
    }
}
