//! Follow ctlstore's changelog and hand out the row changes it records.
//!
//! ctlstore's reflector appends one JSON line per changed row to
//! `change.log` and rotates the file by deleting and re-creating it. This
//! crate reads that file as ctlstore's Go package `pkg/event` does: an
//! iterator (optionally filtered by family and table) whose events come in
//! order, exactly once, and an [`Error::OutOfSync`] whenever events may
//! have been lost, telling the consumer to drop its caches. How it keeps
//! that promise is told in `doc/design.md`.
//!
//! - [`ChangelogIterator`]: the iterator; blocking `next` with a deadline
//!   and cancellation; also a [`std::iter::Iterator`]. Made by a
//!   [`Builder`], which owns where reading starts ([`Start`]) and how.
//! - [`Event`], [`RowUpdate`], [`Key`]: the events, as in the Go package;
//!   [`EventRef`] is an event borrowed from its line.
//! - [`Filter`]: family, table and key conditions.
//! - [`Checkpoint`], [`StateFile`]: resuming where a reader stopped.
//! - [`Status`]: where a reader stands, for a person asking.
//! - [`MemorySource`]: lines from memory, for tests of consumers.
//! - `EventStream` (cargo feature `tokio`): the events as a
//!   `futures::Stream`, waited for through tokio.
//! - [`Ldb`]: the rows that events name, read from ctlstore's LDB.
//!
//! Following a file with notifications (any [`WatchMode`] but `Poll`)
//! runs an *opener* beside the reader: a thread (`changelog-opener`, or the
//! `notify` crate's event thread) that opens each new changelog file the
//! instant it is created and holds it, so that a file a fast writer rotates
//! away within a millisecond is not lost while the reader is busy. It
//! changes no scheduling; to give it a real-time priority, run the whole
//! process with one (`chrt -f 1`, systemd's `CPUSchedulingPolicy=fifo`).

mod buffer;
mod builder;
mod checkpoint;
mod entry;
mod error;
mod escape;
mod event;
mod filter;
mod follow;
mod input;
mod iterator;
mod ldb;
mod lines;
mod memory;
mod notice;
mod pipe;
mod position;
mod resume;
mod seq;
mod source;
mod state;
mod status;
#[cfg(feature = "tokio")]
mod stream;
mod wake;

pub use builder::Builder;
pub use checkpoint::{Checkpoint, line_hash};
pub use entry::{InvalidEntry, InvalidReason, decode};
pub use error::{Corrupt, Error, FileKind, StateError};
pub use escape::printable;
pub use event::{Event, EventRef, Key, KeyRef, KeyValue, RowUpdate};
pub use filter::{Filter, PatternError};
pub use follow::{DEFAULT_MAX_LINE_BYTES, MAX_HELD_GENERATIONS, WatchMode};
pub use iterator::{ChangelogIterator, Record};
pub use ldb::{ColumnValue, LDB_BUSY_TIMEOUT, Ldb, LdbError, LdbErrorKind, Row, RowLookup};
pub use memory::MemorySource;
pub use notice::Notice;
pub use position::{FileId, Location};
pub use resume::Start;
pub use seq::Gap;
pub use source::Next;
pub use state::StateFile;
pub use status::Status;
#[cfg(feature = "tokio")]
pub use stream::EventStream;
pub use wake::{CancelHandle, InterruptHandle};

/// Where ctlstore keeps its changelog when `CTLSTORE_PATH` is not set.
pub const DEFAULT_CHANGELOG: &str = "/var/spool/ctlstore/change.log";

/// Where ctlstore keeps its LDB when `CTLSTORE_PATH` is not set.
pub const DEFAULT_LDB: &str = "/var/spool/ctlstore/ldb.db";

/// The changelog's path as ctlstore decides it: `$CTLSTORE_PATH/change.log`,
/// else [`DEFAULT_CHANGELOG`]. An empty variable counts as unset.
pub fn default_path() -> std::path::PathBuf {
    in_ctlstore_path("change.log").unwrap_or_else(|| DEFAULT_CHANGELOG.into())
}

/// The LDB's path as ctlstore decides it: `$CTLSTORE_PATH/ldb.db`, else
/// [`DEFAULT_LDB`]. An empty variable counts as unset.
pub fn default_ldb_path() -> std::path::PathBuf {
    in_ctlstore_path("ldb.db").unwrap_or_else(|| DEFAULT_LDB.into())
}

/// `$CTLSTORE_PATH/name`, if the variable is set and not empty.
fn in_ctlstore_path(name: &str) -> Option<std::path::PathBuf> {
    match std::env::var_os("CTLSTORE_PATH") {
        Some(dir) if !dir.is_empty() => Some(std::path::Path::new(&dir).join(name)),
        _ => None,
    }
}

/// The README's Rust examples, compiled as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
