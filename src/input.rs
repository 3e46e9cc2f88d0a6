//! The source an iterator reads, whichever it is: one enum, so that the
//! per-line calls are direct (and inlined), not through a trait object.

use crate::checkpoint::Checkpoint;
use crate::error::Error;
use crate::follow::Follower;
use crate::memory::MemorySource;
use crate::pipe::Pipe;
use crate::position::FileId;
use crate::position::LineInfo;
#[cfg(feature = "tokio")]
use crate::source::WaitOn;
use crate::source::{Item, LastLine, Next, Skim, Source, Span};
use crate::status::SourceStatus;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// The source an iterator reads.
#[derive(Debug)]
pub(crate) enum Input {
    File(Box<Follower>),
    Memory(MemorySource),
    Pipe(Box<Pipe>),
}

macro_rules! each {
    ($self:ident, $source:ident => $call:expr) => {
        match $self {
            Input::File($source) => $call,
            Input::Memory($source) => $call,
            Input::Pipe($source) => $call,
        }
    };
}

impl Source for Input {
    #[inline]
    fn next_item(&mut self, deadline: Option<Instant>) -> Result<Next<Item>, Error> {
        each!(self, s => s.next_item(deadline))
    }

    #[inline]
    fn line(&self) -> &[u8] {
        each!(self, s => s.line())
    }

    #[inline]
    fn skim(&mut self, each: impl FnMut(&[u8], &Span) -> Skim) -> Option<LineInfo> {
        match self {
            Input::File(source) => source.skim(each),
            Input::Pipe(source) => source.skim(each),
            Input::Memory(_) => None,
        }
    }

    #[inline]
    fn keep_line(&mut self) {
        each!(self, s => s.keep_line())
    }

    fn kept_line(&self) -> &[u8] {
        each!(self, s => s.kept_line())
    }

    #[inline]
    fn drained(&self) -> bool {
        each!(self, s => s.drained())
    }

    fn path(&self) -> &Arc<Path> {
        each!(self, s => s.path())
    }

    fn file(&self) -> Option<FileId> {
        each!(self, s => s.file())
    }

    fn skip_to_end(&mut self, limit: Option<u64>) -> Result<Option<LastLine>, Error> {
        each!(self, s => s.skip_to_end(limit))
    }

    fn resume_in_place(&mut self, checkpoint: &Checkpoint) -> Result<bool, Error> {
        each!(self, s => s.resume_in_place(checkpoint))
    }

    #[cfg(feature = "ldb")]
    fn rewind(&mut self) -> Result<(), Error> {
        each!(self, s => s.rewind())
    }

    #[cfg(feature = "tokio")]
    fn wait_on(&self) -> WaitOn<'_> {
        each!(self, s => s.wait_on())
    }

    fn status(&self) -> SourceStatus {
        each!(self, s => s.status())
    }
}
