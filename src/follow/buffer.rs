//! One reused read buffer that hands out complete lines.

use std::fs::File;
use std::io::{self, Read};

/// Bytes asked of the kernel per read: large enough to catch up on a backlog
/// in few system calls, small enough to stay in cache.
const READ_CHUNK: usize = 128 * 1024;

/// Read bytes not yet handed out as lines: `data[start..end]`.
#[derive(Debug, Default)]
pub(super) struct LineBuffer {
    data: Vec<u8>,
    start: usize,
    end: usize,
}

impl LineBuffer {
    /// Bytes read but not yet part of a handed-out line.
    pub(super) fn pending(&self) -> &[u8] {
        &self.data[self.start..self.end]
    }

    /// The last (up to) `n` bytes read, handed out or not.
    pub(super) fn last(&self, n: usize) -> &[u8] {
        &self.data[self.end.saturating_sub(n)..self.end]
    }

    /// Takes the next complete line: its range in the buffer (without the
    /// `\n`), valid until the next [`fill`](Self::fill).
    pub(super) fn take_line(&mut self) -> Option<(usize, usize)> {
        let at = memchr::memchr(b'\n', self.pending())?;
        let range = (self.start, self.start + at);
        self.start += at + 1;
        Some(range)
    }

    /// The bytes of a range returned by [`take_line`](Self::take_line).
    pub(super) fn get(&self, (start, end): (usize, usize)) -> &[u8] {
        &self.data[start..end]
    }

    /// Forgets the pending bytes.
    pub(super) fn clear(&mut self) {
        self.start = 0;
        self.end = 0;
    }

    /// Reads once from `file` after the pending bytes; returns how many
    /// bytes came (0 at end of file).
    pub(super) fn fill(&mut self, file: &mut File) -> io::Result<usize> {
        if self.start == self.end {
            self.clear();
        } else if self.start > 0 && self.data.len() - self.end < READ_CHUNK {
            self.data.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.data.len() - self.end < READ_CHUNK {
            self.data.resize(self.end + READ_CHUNK, 0);
        }
        loop {
            match file.read(&mut self.data[self.end..]) {
                Ok(n) => {
                    self.end += n;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn hands_out_lines_and_keeps_the_partial_tail() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(b"one\ntwo\nthr").unwrap();
        let mut reader = File::open(file.path()).unwrap();
        let mut buf = LineBuffer::default();
        assert_eq!(buf.fill(&mut reader).unwrap(), 11);
        let one = buf.take_line().unwrap();
        assert_eq!(buf.get(one), b"one");
        let two = buf.take_line().unwrap();
        assert_eq!(buf.get(two), b"two");
        assert_eq!(buf.take_line(), None);
        assert_eq!(buf.pending(), b"thr");
        file.write_all(b"ee\n").unwrap();
        assert_eq!(buf.fill(&mut reader).unwrap(), 3);
        let three = buf.take_line().unwrap();
        assert_eq!(buf.get(three), b"three");
        assert_eq!(buf.fill(&mut reader).unwrap(), 0);
    }
}
