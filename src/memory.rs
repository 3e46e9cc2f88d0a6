//! Lines held in memory: a source for tests of code that consumes events,
//! as the Go package's fake changelog is.

use crate::checkpoint::Checkpoint;
use crate::error::Error;
use crate::position::{FileId, LineInfo};
#[cfg(feature = "tokio")]
use crate::source::WaitOn;
use crate::source::{Item, LastLine, Next, Source};
use crate::status::SourceStatus;
use crate::wake::{Sleeper, Woken};
use std::collections::VecDeque;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// Lines held in memory, handed out in order, as if read from a file that
/// is never rotated. Read it with
/// [`ChangelogIterator::builder_memory`](crate::ChangelogIterator::builder_memory).
///
/// ```
/// use changelog_tail::{ChangelogIterator, MemorySource};
/// let lines = [r#"{"seq":1,"family":"f","table":"t"}"#];
/// let events: Vec<_> = ChangelogIterator::builder_memory(MemorySource::new(lines))
///     .open()?
///     .collect::<Result<_, _>>()?;
/// assert_eq!(events[0].seq, 1);
/// # Ok::<(), changelog_tail::Error>(())
/// ```
#[derive(Debug)]
pub struct MemorySource {
    lines: VecDeque<Vec<u8>>,
    current: Vec<u8>,
    /// The line kept ([`Source::keep_line`]): `current` while that is
    /// the one, else `kept`.
    keep_current: bool,
    kept: Vec<u8>,
    line_no: u64,
    offset: u64,
    /// Block at the end instead of ending (set by the builder).
    follow: bool,
    told_caught_up: bool,
    path: Arc<Path>,
    /// Set by the builder when the iterator is opened.
    sleeper: Option<Sleeper>,
}

impl MemorySource {
    /// A source of `lines` (each without its `\n`).
    pub fn new<L: Into<Vec<u8>>>(lines: impl IntoIterator<Item = L>) -> Self {
        MemorySource {
            lines: lines.into_iter().map(Into::into).collect(),
            current: Vec::new(),
            keep_current: false,
            kept: Vec::new(),
            line_no: 0,
            offset: 0,
            follow: false,
            told_caught_up: false,
            path: Arc::from(Path::new("<memory>")),
            sleeper: None,
        }
    }

    /// The name it goes by in messages.
    pub(crate) fn path(&self) -> &Arc<Path> {
        &self.path
    }

    /// Readies the source for an iterator: `follow` blocks at the end (until
    /// the deadline or cancellation) instead of ending.
    pub(crate) fn start(&mut self, follow: bool, sleeper: Sleeper) {
        self.follow = follow;
        self.sleeper = Some(sleeper);
    }

    fn wait(&mut self, deadline: Option<Instant>) -> Result<Next<Item>, Error> {
        let Some(sleeper) = &self.sleeper else {
            return Ok(Next::End);
        };
        let woken = sleeper
            .wait(&[], deadline, None)
            .map_err(|e| Error::io(&self.path, e))?;
        Ok(match woken {
            Woken::Cancelled => Next::Cancelled,
            Woken::Interrupted => Next::Interrupted,
            _ => Next::TimedOut,
        })
    }
}

impl Source for MemorySource {
    fn next_item(&mut self, deadline: Option<Instant>) -> Result<Next<Item>, Error> {
        match self.sleeper.as_ref().and_then(Sleeper::requested) {
            None => {}
            Some(Woken::Interrupted) => return Ok(Next::Interrupted),
            Some(_) => return Ok(Next::Cancelled),
        }
        let Some(line) = self.lines.pop_front() else {
            if !std::mem::replace(&mut self.told_caught_up, true) {
                return Ok(Next::Item(Item::CaughtUp));
            }
            if !self.follow {
                return Ok(Next::End);
            }
            return self.wait(deadline);
        };
        let previous = std::mem::replace(&mut self.current, line);
        if std::mem::take(&mut self.keep_current) {
            self.kept = previous;
        }
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

    fn keep_line(&mut self) {
        self.keep_current = true;
    }

    fn drained(&self) -> bool {
        self.lines.is_empty()
    }

    fn kept_line(&self) -> &[u8] {
        if self.keep_current {
            &self.current
        } else {
            &self.kept
        }
    }

    fn path(&self) -> &Arc<Path> {
        &self.path
    }

    fn file(&self) -> Option<FileId> {
        None
    }

    fn skip_to_end(&mut self, _limit: Option<u64>) -> Result<Option<LastLine>, Error> {
        let mut last = None;
        while let Some(line) = self.lines.pop_front() {
            self.line_no += 1;
            let offset = self.offset;
            self.offset += line.len() as u64 + 1;
            let info = LineInfo {
                line: self.line_no,
                offset,
                end: self.offset,
                file: None,
            };
            last = Some(LastLine {
                bytes: Some(line),
                info,
            });
        }
        Ok(last)
    }

    /// Memory is not a file: a checkpoint cannot name it, so a resume
    /// always starts from the first line.
    fn resume_in_place(&mut self, _checkpoint: &Checkpoint) -> Result<bool, Error> {
        Ok(false)
    }

    #[cfg(feature = "tokio")]
    fn wait_on(&self) -> WaitOn<'_> {
        WaitOn {
            fds: self
                .sleeper
                .iter()
                .filter_map(Sleeper::cancel_wait)
                .collect(),
            interval: None,
        }
    }

    fn status(&self) -> SourceStatus {
        SourceStatus {
            file: None,
            offset: self.offset,
            size: None,
            held: 0,
        }
    }
}
