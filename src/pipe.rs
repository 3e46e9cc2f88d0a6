//! A changelog read from a pipe (standard input): `ssh host tail -F
//! change.log | changelog-tail …`, or `zcat saved.log.gz | changelog-tail
//! …`.
//!
//! A pipe has no rotation, no file identity and no end to start from; every
//! other rule holds: lines are handed out as they arrive, a partial line is
//! held until its newline comes, and the end of the input ends the read. A
//! partial line left when the input ends can never be completed: it is an
//! invalid entry. Reading waits in the same one `poll` as the file follower
//! (the input and the cancellation pipe), so a signal ends it at once.

use crate::checkpoint::Checkpoint;
use crate::entry::{InvalidEntry, InvalidReason};
use crate::error::Error;
use crate::lines::{LineBuffer, Long, Span, Taken};
use crate::position::{FileId, LineInfo, Location};
#[cfg(feature = "tokio")]
use crate::source::WaitOn;
use crate::source::{Item, LastLine, Next, Skim, Source};
use crate::status::SourceStatus;
use crate::wake::{PollFlags, Sleeper, Woken};
use std::fs::File;
use std::os::fd::AsFd;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What messages call standard input.
pub(crate) const STDIN_NAME: &str = "<stdin>";

/// How long a pipe must stay idle before what has come so far counts as
/// "everything there is" for a resume (the README on pipes): a pipe has no end of the
/// current file, and a writer that restarted (numbering from 1 again) may
/// never reach the resume point. A false alarm is safe; a silent skip is not.
pub(crate) const IDLE: Duration = Duration::from_secs(1);

/// Lines from a pipe (or any input read once, to its end).
#[derive(Debug)]
pub(crate) struct Pipe {
    input: File,
    buffer: LineBuffer,
    last_line: Span,
    path: Arc<Path>,
    sleeper: Sleeper,
    /// The input ended (end of file).
    ended: bool,
    /// [`Item::CaughtUp`] was handed out (at the end of the input).
    told_caught_up: bool,
    /// Whether a resume is being proven: only then does an idle input
    /// mean anything (and only then is the idle timer armed, so that a
    /// plain read wakes up for nothing but input).
    resuming: bool,
    /// When the input last brought bytes, while an idle [`Item::CaughtUp`]
    /// is still to be said for that burst.
    idle_since: Option<Instant>,
}

impl Pipe {
    /// Reads standard input (a duplicate of it, so that the process's own
    /// handle is left alone).
    /// `resuming`: reading starts after a `seq` (`--after-seq`), so the
    /// input being idle for [`IDLE`] is said as [`Item::CaughtUp`] (once per
    /// idle stretch): a resume still short of its point then is out of sync.
    pub(crate) fn stdin(
        max_line_bytes: usize,
        sleeper: Sleeper,
        resuming: bool,
    ) -> Result<Self, Error> {
        let path: Arc<Path> = Arc::from(Path::new(STDIN_NAME));
        let input = std::io::stdin()
            .as_fd()
            .try_clone_to_owned()
            .map_err(|e| Error::io(&path, e))?;
        Ok(Pipe {
            input: File::from(input),
            buffer: LineBuffer::new(max_line_bytes),
            last_line: Span {
                range: (0, 0),
                line: 0,
                offset: 0,
            },
            path,
            sleeper,
            ended: false,
            told_caught_up: false,
            resuming,
            idle_since: None,
        })
    }

    fn invalid(&self, span: &Span, reason: InvalidReason) -> Item {
        let location = Location::new(&self.path, span.line, span.offset);
        Item::Invalid(InvalidEntry::new(location, reason, self.buffer.get(span)))
    }

    fn too_long(&self, long: &Long) -> Item {
        Item::Invalid(long.entry(&self.path, self.buffer.max()))
    }

    /// The input is over: what is held of a line is all there will be.
    fn at_end(&mut self) -> Next<Item> {
        if let Some(long) = self.buffer.take_unfinished_long() {
            return Next::Item(self.too_long(&long));
        }
        if let Some(partial) = self.buffer.partial() {
            let item = self.invalid(&partial, InvalidReason::Unterminated);
            self.buffer.discard();
            return Next::Item(item);
        }
        if !std::mem::replace(&mut self.told_caught_up, true) {
            return Next::Item(Item::CaughtUp);
        }
        Next::End
    }
}

impl Source for Pipe {
    fn next_item(&mut self, deadline: Option<Instant>) -> Result<Next<Item>, Error> {
        loop {
            match self.sleeper.requested() {
                Some(Woken::Cancelled) => return Ok(Next::Cancelled),
                Some(Woken::Interrupted) => return Ok(Next::Interrupted),
                _ => {}
            }
            match self.buffer.take() {
                Some(Taken::Line(span)) => {
                    self.last_line = span;
                    return Ok(Next::Item(Item::Line(span.info(None))));
                }
                Some(Taken::TooLong(long)) => return Ok(Next::Item(self.too_long(&long))),
                None => {}
            }
            if self.ended {
                return Ok(self.at_end());
            }
            // Momentarily empty is not the end of what there is, but input
            // idle for a second is all there is for now (the README on pipes): a resume
            // that stopped short of its point is judged then, not only at
            // the end of the input (which a `tail -F` never reaches).
            let idle_at = self.idle_since.map(|since| since + IDLE);
            if idle_at.is_some_and(|at| Instant::now() >= at) {
                self.idle_since = None;
                return Ok(Next::Item(Item::CaughtUp));
            }
            let wait_until = match (deadline, idle_at) {
                (Some(d), Some(i)) => Some(d.min(i)),
                (d, i) => d.or(i),
            };
            let fd = self.input.as_fd();
            let woken = self
                .sleeper
                .wait(&[(fd, PollFlags::IN)], wait_until, None)
                .map_err(|e| Error::io(&self.path, e))?;
            match woken {
                Woken::Changed => {
                    let n = match self.buffer.fill(&mut self.input) {
                        Ok(n) => n,
                        // A signal, or readiness that came to nothing (a
                        // non-blocking pipe whose bytes another reader
                        // took): wait again, it is no failure (issue 17).
                        Err(e)
                            if matches!(
                                e.kind(),
                                std::io::ErrorKind::Interrupted | std::io::ErrorKind::WouldBlock
                            ) =>
                        {
                            continue;
                        }
                        Err(e) => return Err(Error::io(&self.path, e)),
                    };
                    self.ended = n == 0;
                    if n > 0 && self.resuming {
                        self.idle_since = Some(Instant::now());
                    }
                }
                // The idle time came first: said at the top of the loop.
                Woken::TimedOut if deadline.is_none_or(|d| Instant::now() < d) => {}
                Woken::TimedOut => return Ok(Next::TimedOut),
                Woken::Cancelled => return Ok(Next::Cancelled),
                Woken::Interrupted => return Ok(Next::Interrupted),
            }
        }
    }

    fn line(&self) -> &[u8] {
        self.buffer.get(&self.last_line)
    }

    fn skim(&mut self, each: impl FnMut(&[u8], &Span) -> Skim) -> Option<LineInfo> {
        let span = self.buffer.skim(each)?;
        self.last_line = span;
        Some(span.info(None))
    }

    fn keep_line(&mut self) {
        self.buffer.keep(&self.last_line);
    }

    fn kept_line(&self) -> &[u8] {
        self.buffer.kept()
    }

    fn drained(&self) -> bool {
        self.buffer.drained()
    }

    fn path(&self) -> &Arc<Path> {
        &self.path
    }

    fn file(&self) -> Option<FileId> {
        None
    }

    /// A pipe has no end to start from: only what comes later.
    fn skip_to_end(&mut self, _limit: Option<u64>) -> Result<Option<LastLine>, Error> {
        Err(Error::Unsupported {
            what: "starting at the end of a pipe (it has no end until it closes)",
        })
    }

    /// A pipe is not a file: a checkpoint cannot name it, so a resume
    /// starts from the first line (the rotated-since rules).
    fn resume_in_place(&mut self, _checkpoint: &Checkpoint) -> Result<bool, Error> {
        Ok(false)
    }

    fn status(&self) -> SourceStatus {
        SourceStatus {
            file: None,
            offset: self.buffer.line_offset(),
            size: None,
            held: 0,
        }
    }

    #[cfg(feature = "tokio")]
    fn wait_on(&self) -> WaitOn<'_> {
        let input = (!self.ended).then(|| (self.input.as_fd(), PollFlags::IN));
        WaitOn {
            fds: input
                .into_iter()
                .chain(self.sleeper.cancel_wait())
                .collect(),
            // The idle time, as a look again after it.
            interval: self
                .idle_since
                .map(|since| (since + IDLE).saturating_duration_since(Instant::now())),
        }
    }
}
