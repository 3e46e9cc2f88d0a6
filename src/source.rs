//! Where lines come from: the contract between a source and the iterator.
//!
//! A source hands out complete lines (and what is not a line: fragments,
//! overlong lines, notices) and says when it has caught up with the end of
//! what there is. Positioning at the start is the source's only other job;
//! what a position means for the `seq` check is [`crate::resume`]'s.
//!
//! The sources are the file follower (`crate::follow`) and lines held in
//! memory ([`MemorySource`](crate::MemorySource)); `crate::input` is the
//! one an iterator has.

use crate::checkpoint::Checkpoint;
use crate::entry::InvalidEntry;
use crate::error::Error;
pub(crate) use crate::lines::{Skim, Span};
use crate::notice::Notice;
use crate::position::{FileId, LineInfo};
use crate::status::SourceStatus;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// The outcome of a blocking read.
#[derive(Debug)]
#[non_exhaustive]
pub enum Next<T> {
    /// Something was read.
    Item(T),
    /// Something worth a warning happened (a truncation, a fallback to
    /// polling…); reading goes on. Not an error: nothing was lost.
    Notice(Notice),
    /// The deadline passed first.
    TimedOut,
    /// The input is over (the end of the file without following, or the
    /// end of the lines of a [`MemorySource`](crate::MemorySource)).
    End,
    /// The read was cancelled through a [`CancelHandle`](crate::CancelHandle).
    Cancelled,
    /// An [`InterruptHandle`](crate::InterruptHandle) asked for attention
    /// (said once per request); nothing was read or skipped. Call again to
    /// read on.
    Interrupted,
}

/// What a source hands out.
#[derive(Debug)]
pub(crate) enum Item {
    /// A complete line (without its `\n`): read it with [`Source::line`].
    Line(LineInfo),
    /// Something that is not a line: a fragment left by a rotation, a line
    /// over the length limit.
    Invalid(InvalidEntry),
    /// Something to warn about; reading goes on.
    Notice(Notice),
    /// Reading moved on to a new file, from its start.
    NewFile(FileId),
    /// Everything written so far has been read; the next call waits. Said
    /// once per catch-up (and before [`Next::End`]), so that a resume can
    /// tell "the file ends here" from "more is coming".
    CaughtUp,
}

/// The last complete line before where reading begins.
#[derive(Debug)]
pub(crate) struct LastLine {
    /// Its bytes, unless it is longer than a line may be.
    pub(crate) bytes: Option<Vec<u8>>,
    /// Where it is.
    pub(crate) info: LineInfo,
}

#[cfg(feature = "tokio")]
/// What a source's one wait sleeps on: for a caller that waits itself (the
/// async stream), instead of blocking in the source.
#[derive(Debug, Default)]
pub(crate) struct WaitOn<'a> {
    /// Descriptors that become ready when there may be news.
    pub(crate) fds: Vec<(std::os::fd::BorrowedFd<'a>, crate::wake::PollFlags)>,
    /// Look again after this long even without news (polling).
    pub(crate) interval: Option<std::time::Duration>,
}

/// What the iterator needs of a source.
pub(crate) trait Source {
    /// Blocks until a line, an invalid entry, `deadline`, the end of input
    /// or cancellation. A deadline in the past still looks once, without
    /// blocking.
    fn next_item(&mut self, deadline: Option<Instant>) -> Result<Next<Item>, Error>;

    /// The bytes of the line last returned as [`Item::Line`].
    fn line(&self) -> &[u8];

    /// Hands the complete lines already read (no system call, nothing else
    /// queued before them) to `each` while it is done with them
    /// ([`Skim::Past`]): the hot path of a catch-up, without an [`Item`]
    /// per line; each line's place is its [`Span`] (in the file
    /// [`file`](Self::file) names). The line `each` stops at ([`Skim::Hand`]) becomes the
    /// current line ([`line`](Self::line)) and is returned. A source may
    /// hand none (the default): its lines come from
    /// [`next_item`](Self::next_item).
    fn skim(&mut self, each: impl FnMut(&[u8], &Span) -> Skim) -> Option<LineInfo> {
        let _ = each;
        None
    }

    /// Keeps the line last returned as [`Item::Line`]:
    /// [`kept_line`](Self::kept_line) gives it until the next call, however
    /// far reading goes on. (A source copies it only if it is about to
    /// overwrite it: keeping every event's line costs nothing per line.)
    fn keep_line(&mut self);

    /// The line last kept ([`keep_line`](Self::keep_line)); empty before
    /// any.
    fn kept_line(&self) -> &[u8];

    /// Everything read so far was handed out and the last read reached the
    /// end of the input as it was then: the next call will most likely
    /// find nothing new (a hint, for flushing output before it looks).
    fn drained(&self) -> bool;

    /// The path lines are read from (for messages).
    fn path(&self) -> &Arc<Path>;

    /// The file being read, if lines come from a file.
    fn file(&self) -> Option<FileId>;

    /// Moves past every complete line there is now (in a file, within its
    /// first `limit` bytes, if given); returns the last one (its bytes if
    /// not too long to keep), if there is one.
    fn skip_to_end(&mut self, limit: Option<u64>) -> Result<Option<LastLine>, Error>;

    /// Goes on at `checkpoint`'s offset if the current file is provably the
    /// one it was taken in; says whether it did.
    fn resume_in_place(&mut self, checkpoint: &Checkpoint) -> Result<bool, Error>;

    /// Goes back to the start of the current file, to read it all again (a
    /// snapshot that cannot take its position at a quiet instant of the
    /// LDB's writer starts there). Only a file can.
    #[cfg(feature = "ldb")]
    fn rewind(&mut self) -> Result<(), Error> {
        Err(Error::Unsupported {
            what: "reading the input again from its start",
        })
    }

    #[cfg(feature = "tokio")]
    /// What [`next_item`](Self::next_item) would sleep on, once it has
    /// returned `TimedOut` for a deadline in the past.
    fn wait_on(&self) -> WaitOn<'_>;

    /// Where reading stands (asks the system for the file's size).
    fn status(&self) -> SourceStatus;
}
