//! Follow ctlstore's changelog and hand out the row changes it records.
//!
//! ctlstore's reflector appends one JSON line per changed row to
//! `change.log` and rotates the file by deleting and re-creating it. This
//! crate reads that file as the Go package `ctlstore/pkg/changelog` does:
//! an iterator (optionally filtered by family and table) whose events come
//! in order, exactly once, and an [`Error::OutOfSync`] whenever events may
//! have been lost, telling the consumer to drop its caches.
//!
//! - [`ChangelogIterator`]: the iterator; blocking `next` with a deadline
//!   and cancellation; also a [`std::iter::Iterator`].
//! - [`Follower`]: the file reader behind it (rotation, partial lines).
//! - [`Event`], [`RowUpdate`], [`Key`]: the events, as in the Go package.
//! - [`Filter`]: family, table and key conditions.
//! - [`Checkpoint`], [`StateFile`]: resuming where a reader stopped.
//! - [`MemorySource`]: lines from memory, for tests of consumers.

mod checkpoint;
mod entry;
mod error;
mod event;
mod filter;
mod follow;
mod iterator;
mod notice;
mod source;
mod state;
mod wake;

pub use checkpoint::{Checkpoint, line_hash};
pub use entry::{InvalidEntry, InvalidReason, Location, decode, decode_json};
pub use error::{Error, FileKind};
pub use event::{Event, EventRef, Key, KeyRef, KeyValue, RowUpdate};
pub use filter::Filter;
pub use follow::{
    DEFAULT_MAX_LINE_BYTES, FollowOptions, Follower, MAX_HELD_GENERATIONS, StartAt, WatchMode,
};
pub use iterator::{ChangelogIterator, Gap, GapKind, Record};
pub use notice::Notice;
pub use source::{FileId, Item, LineInfo, MemorySource, Next, Source};
pub use state::StateFile;
pub use wake::CancelHandle;

/// Where ctlstore keeps its changelog when `CTLSTORE_PATH` is not set.
pub const DEFAULT_CHANGELOG: &str = "/var/spool/ctlstore/change.log";

/// The changelog's path as ctlstore decides it: `$CTLSTORE_PATH/change.log`,
/// else [`DEFAULT_CHANGELOG`]. An empty variable counts as unset.
pub fn default_path() -> std::path::PathBuf {
    match std::env::var_os("CTLSTORE_PATH") {
        Some(dir) if !dir.is_empty() => std::path::Path::new(&dir).join("change.log"),
        _ => DEFAULT_CHANGELOG.into(),
    }
}

/// The README's Rust examples, compiled as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
