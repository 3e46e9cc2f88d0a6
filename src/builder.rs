//! The one place an iterator is configured: what it reads, what it hands
//! out, where it starts and how it follows. Everything is set before
//! anything runs; [`Builder::open`] returns an iterator that is already
//! positioned.

use crate::error::Error;
use crate::filter::Filter;
use crate::follow::{FollowOptions, Follower, WatchMode};
use crate::input::Input;
use crate::iterator::ChangelogIterator;
use crate::memory::MemorySource;
use crate::pipe::Pipe;
use crate::resume::{self, Start};
use crate::wake::{CancelHandle, InterruptHandle, Sleeper};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

impl ChangelogIterator {
    /// A builder for an iterator on the changelog at `path`.
    pub fn builder(path: impl AsRef<Path>) -> Builder {
        Builder::file(path.as_ref())
    }

    /// A builder for an iterator on standard input (a pipe): lines as they
    /// arrive, until the input ends. No rotation, no resuming in place, no
    /// [`Start::End`].
    pub fn builder_stdin() -> Builder {
        Builder::new(Reading::Stdin, false)
    }

    /// A builder for an iterator on lines held in memory.
    pub fn builder_memory(source: MemorySource) -> Builder {
        Builder::memory(source)
    }

    /// Follows the changelog at `path` from the start of the current file,
    /// every event. Blocks: waits up to 1 s for a missing file, as the Go
    /// iterator does (see [`Builder::open`]).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        Self::builder(path).open()
    }

    /// Follows the changelog at `path`, handing out only what `filter`
    /// matches.
    pub fn open_filtered(path: impl AsRef<Path>, filter: Filter) -> Result<Self, Error> {
        Self::builder(path).filter(filter).open()
    }
}

/// What the iterator will read.
#[derive(Debug)]
enum Reading {
    File(PathBuf),
    Memory(MemorySource),
    Stdin,
}

/// Configures a [`ChangelogIterator`]; made by
/// [`ChangelogIterator::builder`] or [`ChangelogIterator::builder_memory`].
///
/// ```no_run
/// use changelog_tail::{ChangelogIterator, Filter, Start};
/// let builder = ChangelogIterator::builder("/var/spool/ctlstore/change.log")
///     .filter(Filter::new().family("payments"))
///     .start(Start::End);
/// let cancel = builder.cancel_handle(); // e.g. for a signal handler
/// let events = builder.open()?;
/// # drop((cancel, events));
/// # Ok::<(), changelog_tail::Error>(())
/// ```
#[derive(Debug)]
#[must_use = "a builder does nothing until opened"]
pub struct Builder {
    reading: Reading,
    filter: Filter,
    start: Start,
    options: FollowOptions,
    checkpoints: bool,
    check_every_line: bool,
    rotation_notices: bool,
    cancel: CancelHandle,
}

impl Builder {
    pub(crate) fn file(path: &Path) -> Self {
        Builder::new(Reading::File(path.to_path_buf()), true)
    }

    pub(crate) fn memory(source: MemorySource) -> Self {
        Builder::new(Reading::Memory(source), false)
    }

    fn new(reading: Reading, follow: bool) -> Self {
        Builder {
            reading,
            filter: Filter::new(),
            start: Start::Beginning,
            options: FollowOptions {
                follow,
                ..FollowOptions::default()
            },
            checkpoints: false,
            check_every_line: false,
            rotation_notices: false,
            cancel: CancelHandle::new(),
        }
    }

    /// Hand out only the events `filter` matches (default: all). Every
    /// event is checked for gaps, matching or not.
    pub fn filter(mut self, filter: Filter) -> Self {
        self.filter = filter;
        self
    }

    /// Where reading starts (default: [`Start::Beginning`]).
    /// [`Start::Checkpoint`] also keeps checkpoints.
    pub fn start(mut self, start: Start) -> Self {
        self.start = start;
        self
    }

    /// Keep waiting for new lines at the end (default for a file: yes, as
    /// `tail -F`); `false` stops at the end of the current file, as
    /// `--no-follow` (the default for memory).
    pub fn follow(mut self, follow: bool) -> Self {
        self.options.follow = follow;
        self
    }

    /// How long to wait for a missing file to appear (default 1 s, as the
    /// Go iterator); `None` waits as long as it takes.
    pub fn wait_for_file(mut self, wait: Option<Duration>) -> Self {
        self.options.wait_for_file = wait;
        self
    }

    /// Notifications (default) or polling.
    pub fn watch(mut self, watch: WatchMode) -> Self {
        self.options.watch = watch;
        self
    }

    /// Lines longer than this are reported and skipped (default 16 MiB; at
    /// least 1).
    pub fn max_line_bytes(mut self, max: usize) -> Self {
        self.options.max_line_bytes = max.max(1);
        self
    }

    /// Keep track of where reading stands, for
    /// [`ChangelogIterator::checkpoint`] (the last event's line is kept:
    /// copied only when a read is about to overwrite it).
    pub fn checkpoints(mut self, keep: bool) -> Self {
        self.checkpoints = keep;
        self
    }

    /// Read every line whole, keys included, even lines of tables the
    /// filter drops, so that any malformed line is reported (as
    /// `--strict` wants). By default a line of another table in the
    /// writer's exact shape is read only as far as its `seq` (always
    /// checked), family and table; its keys are read when its event is
    /// handed out. That makes a filtered catch-up about twice as fast.
    pub fn check_every_line(mut self, check: bool) -> Self {
        self.check_every_line = check;
        self
    }

    /// Say [`Notice::Replaced`](crate::Notice::Replaced) each time a new
    /// file at the path is followed after a rotation (default: no; as
    /// `tail -F` says "has been replaced; following new file"). Copy-truncate
    /// is always said, as [`Notice::Truncated`](crate::Notice::Truncated).
    pub fn rotation_notices(mut self, say: bool) -> Self {
        self.rotation_notices = say;
        self
    }

    /// A handle that cancels the wait for the file, and blocked and future
    /// reads of the iterator, from any thread.
    pub fn cancel_handle(&self) -> CancelHandle {
        self.cancel.clone()
    }

    /// A handle that makes a blocked (or the next) read of the iterator
    /// return [`Next::Interrupted`](crate::Next::Interrupted) once, from
    /// any thread: e.g. to print [`ChangelogIterator::status`] on a signal.
    /// One that comes while waiting for the file is said at the first read.
    pub fn interrupt_handle(&self) -> InterruptHandle {
        self.cancel.interrupt_handle()
    }

    /// Opens the input (waiting for a file as configured) and positions it
    /// where reading starts. Cancelled while waiting: [`Error::Cancelled`].
    ///
    /// Blocks: it waits for a missing file ([`wait_for_file`](Self::wait_for_file),
    /// 1 s by default) and reads up to where reading starts (a resume or
    /// [`Start::End`] may read a whole file). In async code, call it in
    /// `spawn_blocking`. Following a file with notifications starts the
    /// opener thread (see the crate's front page, "Blocking, and threads").
    pub fn open(self) -> Result<ChangelogIterator, Error> {
        let max_line_bytes = self.options.max_line_bytes;
        let mut input = match self.reading {
            Reading::File(path) => {
                let sleeper = Sleeper::new(&self.cancel)
                    .map_err(|e| Error::io(&Arc::from(path.as_path()), e))?;
                Input::File(Box::new(Follower::open(&path, self.options, sleeper)?))
            }
            Reading::Stdin => {
                let name = Arc::from(Path::new(crate::pipe::STDIN_NAME));
                let sleeper = Sleeper::new(&self.cancel).map_err(|e| Error::io(&name, e))?;
                let resuming = matches!(self.start, Start::AfterSeq(_) | Start::Checkpoint(_));
                let pipe = Pipe::stdin(self.options.max_line_bytes, sleeper, resuming)?;
                Input::Pipe(Box::new(pipe))
            }
            Reading::Memory(mut source) => {
                let sleeper =
                    Sleeper::new(&self.cancel).map_err(|e| Error::io(source.path(), e))?;
                source.start(self.options.follow, sleeper);
                Input::Memory(source)
            }
        };
        let positioned = resume::position(&self.start, &self.filter, max_line_bytes, &mut input)?;
        let keep = self.checkpoints || matches!(self.start, Start::Checkpoint(_));
        let mut iterator =
            ChangelogIterator::new(input, self.filter, positioned, keep, self.check_every_line);
        iterator.rotation_notices = self.rotation_notices;
        Ok(iterator)
    }
}
