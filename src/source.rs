//! Where lines come from: the [`Source`] trait, and an in-memory source.
//!
//! The iterator does not care whether lines come from a rotating file (the
//! [`Follower`](crate::Follower)) or from memory ([`MemorySource`], for tests
//! of code that consumes events, as the Go package's fake changelog is).

use crate::entry::InvalidEntry;
use crate::error::Error;
use crate::notice::Notice;
use crate::wake::{CancelHandle, Sleeper, Woken};
use std::collections::VecDeque;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// Identifies one file (one *generation* of the changelog): a new file at
/// the same path has a new identity even if it has the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct FileId {
    /// Device number.
    pub dev: u64,
    /// Inode number.
    pub ino: u64,
}

/// A complete line the source has ready; its bytes are [`Source::line`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineInfo {
    /// 1-based line number in its file.
    pub line: u64,
    /// Byte offset of the line's first byte.
    pub offset: u64,
    /// Byte offset just past the line's `\n`.
    pub end: u64,
    /// The file it was read from, if a file.
    pub file: Option<FileId>,
}

/// What a source hands out.
#[derive(Debug)]
pub enum Item {
    /// A complete line (without its `\n`): read it with [`Source::line`].
    Line(LineInfo),
    /// Something that is not a line: a fragment left by a rotation, a line
    /// over the length limit.
    Invalid(InvalidEntry),
    /// Something to warn about (see [`Notice`]); reading goes on.
    Notice(Notice),
    /// Everything written so far has been read; the next call waits. Said
    /// once per catch-up, so that a resume can tell "the file ends here"
    /// from "more is coming".
    CaughtUp,
}

/// The outcome of a blocking read.
#[derive(Debug)]
pub enum Next<T> {
    /// Something was read.
    Item(T),
    /// The deadline passed first.
    TimedOut,
    /// The input is over (`--no-follow` reached the end, or a memory source
    /// ran dry).
    End,
    /// The read was cancelled through a [`CancelHandle`].
    Cancelled,
}

/// A supplier of changelog lines.
pub trait Source {
    /// Called once by the iterator's constructor; an error here is the
    /// constructor's error.
    fn start(&mut self) -> Result<(), Error> {
        Ok(())
    }

    /// Blocks until a line, an invalid entry, `deadline`, the end of input
    /// or cancellation. A deadline in the past still looks once, without
    /// blocking.
    fn next_item(&mut self, deadline: Option<Instant>) -> Result<Next<Item>, Error>;

    /// The bytes of the line last returned as [`Item::Line`].
    fn line(&self) -> &[u8];

    /// The path of the file the last line came from.
    fn path(&self) -> &Arc<Path>;

    /// A handle that cancels blocked and future reads.
    fn cancel_handle(&self) -> CancelHandle;

    /// The line before the first one this source will hand out, when
    /// reading starts after it (`--from end`): its `seq` is the baseline.
    fn take_baseline(&mut self) -> Option<(Vec<u8>, LineInfo)> {
        None
    }
}

/// Lines held in memory, handed out in order.
///
/// ```
/// use changelog_tail::{ChangelogIterator, Filter, MemorySource};
/// let lines = vec![r#"{"seq":1,"family":"f","table":"t"}"#.to_string()];
/// let events: Vec<_> = ChangelogIterator::from_source(MemorySource::new(lines), Filter::new())
///     .unwrap()
///     .collect::<Result<_, _>>()
///     .unwrap();
/// assert_eq!(events[0].seq, 1);
/// ```
#[derive(Debug)]
pub struct MemorySource {
    lines: VecDeque<Vec<u8>>,
    current: Vec<u8>,
    line_no: u64,
    offset: u64,
    follow: bool,
    told_caught_up: bool,
    start_error: Option<String>,
    path: Arc<Path>,
    sleeper: Sleeper,
}

impl MemorySource {
    /// A source that ends after `lines`.
    ///
    /// # Panics
    ///
    /// If the process has no file descriptor left for the pipe that
    /// cancellation uses.
    pub fn new<L: Into<Vec<u8>>>(lines: impl IntoIterator<Item = L>) -> Self {
        MemorySource {
            lines: lines.into_iter().map(Into::into).collect(),
            current: Vec::new(),
            line_no: 0,
            offset: 0,
            follow: false,
            told_caught_up: false,
            start_error: None,
            path: Arc::from(Path::new("<memory>")),
            sleeper: Sleeper::new().expect("a pipe for cancellation"),
        }
    }

    /// A source that, after `lines`, blocks as a follower would (until the
    /// deadline or cancellation).
    pub fn following<L: Into<Vec<u8>>>(lines: impl IntoIterator<Item = L>) -> Self {
        MemorySource {
            follow: true,
            ..Self::new(lines)
        }
    }

    /// A source whose start fails with `message`.
    pub fn failing_start(message: impl Into<String>) -> Self {
        MemorySource {
            start_error: Some(message.into()),
            ..Self::new(Vec::<Vec<u8>>::new())
        }
    }
}

impl Source for MemorySource {
    fn start(&mut self) -> Result<(), Error> {
        match self.start_error.take() {
            Some(message) => Err(Error::Source(message)),
            None => Ok(()),
        }
    }

    fn next_item(&mut self, deadline: Option<Instant>) -> Result<Next<Item>, Error> {
        if self.sleeper.is_cancelled() {
            return Ok(Next::Cancelled);
        }
        let Some(line) = self.lines.pop_front() else {
            if !std::mem::replace(&mut self.told_caught_up, true) {
                return Ok(Next::Item(Item::CaughtUp));
            }
            if !self.follow {
                return Ok(Next::End);
            }
            let woken = self
                .sleeper
                .wait(&[], deadline, None)
                .map_err(|e| Error::Source(e.to_string()))?;
            return Ok(match woken {
                Woken::Cancelled => Next::Cancelled,
                _ => Next::TimedOut,
            });
        };
        self.current = line;
        self.told_caught_up = false;
        self.line_no += 1;
        let offset = self.offset;
        self.offset += self.current.len() as u64 + 1;
        Ok(Next::Item(Item::Line(LineInfo {
            line: self.line_no,
            offset,
            end: self.offset,
            file: None,
        })))
    }

    fn line(&self) -> &[u8] {
        &self.current
    }

    fn path(&self) -> &Arc<Path> {
        &self.path
    }

    fn cancel_handle(&self) -> CancelHandle {
        self.sleeper.cancel_handle()
    }
}
