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
//! # Following a changelog
//!
//! Follow one table for a bounded time, and drop caches when events were
//! lost (here the writer skipped `seq` 3):
//!
//! ```
//! use changelog_tail::{ChangelogIterator, Error, Filter, Next};
//! use std::io::Write;
//! use std::time::{Duration, Instant};
//!
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("change.log");
//! let mut log = std::fs::File::create(&path)?;
//! for (seq, table) in [(1, "accounts"), (2, "users"), (4, "accounts")] {
//!     writeln!(
//!         log,
//!         r#"{{"seq":{seq},"family":"payments","table":"{table}","key":[{{"name":"id","type":"INT","value":{seq}}}]}}"#
//!     )?;
//! }
//!
//! // Blocks until the file is there (1 s at most, by default) and read up
//! // to where reading starts (here: the beginning of the current file).
//! let mut events = ChangelogIterator::builder(&path)
//!     .filter(Filter::new().family("payments").table("accounts"))
//!     .open()?;
//! let deadline = Instant::now() + Duration::from_millis(100);
//! let mut seen = Vec::new();
//! loop {
//!     match events.next_until(Some(deadline)) {
//!         Ok(Next::Item(event)) => seen.push(event.to_string()),
//!         // A truncation, a fallback to polling: worth a warning, no loss.
//!         Ok(Next::Notice(notice)) => eprintln!("{notice}"),
//!         Ok(Next::TimedOut | Next::End | Next::Cancelled) => break,
//!         Ok(_) => {}
//!         // Events were lost: drop every cache, then go on after `event`.
//!         Err(Error::OutOfSync { event, .. }) => seen.push(format!("lost before {}", event.seq)),
//!         // A line that is not an event: reported, skipped.
//!         Err(e) if e.is_recoverable() => eprintln!("{e}"),
//!         Err(e) => return Err(e.into()),
//!     }
//! }
//! assert_eq!(seen, ["1 payments.accounts id=1", "lost before 4"]);
//! events.close();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The iterator is also a [`std::iter::Iterator`] of `Result<Event,
//! Error>` that blocks until the next event (notices are passed over).
//!
//! # As a stream (cargo feature `tokio`)
//!
//! `ChangelogIterator::into_stream` makes an `EventStream`: the same
//! events as a `futures::Stream`, waited for through tokio's reactor.
//!
//! ```
//! # #[cfg(not(feature = "tokio"))]
//! # fn main() {}
//! # #[cfg(feature = "tokio")]
//! #[tokio::main(flavor = "current_thread")]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     use changelog_tail::{ChangelogIterator, Error, Filter};
//!     use futures::StreamExt;
//!     use std::time::Duration;
//!
//!     let dir = tempfile::tempdir()?;
//!     let path = dir.path().join("change.log");
//!     std::fs::write(
//!         &path,
//!         "{\"seq\":1,\"family\":\"payments\",\"table\":\"accounts\",\"key\":[]}\n",
//!     )?;
//!     // `open` blocks: in a service, call it in `spawn_blocking`.
//!     let iterator = ChangelogIterator::open_filtered(&path, Filter::new().family("payments"))?;
//!     let mut events = iterator.into_stream();
//!     while let Ok(Some(result)) = tokio::time::timeout(Duration::from_millis(100), events.next()).await {
//!         match result {
//!             Ok(event) => assert_eq!(event.to_string(), "1 payments.accounts"),
//!             Err(Error::OutOfSync { .. }) => println!("drop every cache"),
//!             Err(e) if e.is_recoverable() => eprintln!("{e}"),
//!             Err(e) => return Err(e.into()),
//!         }
//!     }
//!     Ok(())
//! }
//! ```
//!
//! # What is here
//!
//! - [`ChangelogIterator`]: the iterator; blocking `next` with a deadline
//!   and cancellation; also a [`std::iter::Iterator`]. Made by a
//!   [`Builder`], which owns where reading starts ([`Start`]) and how.
//! - [`Event`], [`RowUpdate`], [`Key`]: the events, as in the Go package,
//!   with the output's names (`seq`, `family`, `table`, `keys`); `Display`
//!   gives the pretty one-line form. [`EventRef`] and [`KeyRef`] are the
//!   same, borrowed from the line.
//! - [`Filter`]: family, table and key conditions.
//! - [`Checkpoint`], [`StateFile`]: resuming where a reader stopped.
//! - [`Status`]: where a reader stands, for a person asking.
//! - [`MemorySource`]: lines from memory, for tests of consumers.
//! - `EventStream` (cargo feature `tokio`): the events as a
//!   `futures::Stream`, waited for through tokio.
//! - `Ldb` (cargo feature `ldb`): the rows that events name, read from
//!   ctlstore's LDB; `ChangelogIterator::snapshot`: every row of the
//!   filter's tables, then the changes from that instant on, with no change
//!   between the two.
//!
//! # Cargo features
//!
//! - `cli` (default): the `changelog-tail` binary; needs `ldb`.
//! - `ldb` (default): `Ldb`, `RowLookup`, `Snapshot` and friends, through
//!   a bundled SQLite (built from C: a C compiler is needed).
//! - `tokio`: `EventStream`.
//! - `macos-kqueue` (default), `macos-fsevent`: which `notify` watcher
//!   macOS uses.
//!
//! A library user who needs neither the command line nor the LDB builds
//! none of their dependencies and no C:
//! `changelog-tail = { version = "0.1", default-features = false }`.
//!
//! # Blocking, and threads
//!
//! [`Builder::open`] (and [`ChangelogIterator::open`]) blocks: it waits for
//! a missing file (1 s by default, [`Builder::wait_for_file`]) and reads
//! up to where reading starts (a resume may skim a whole file). In async
//! code, call it in `spawn_blocking`. The reads block too, unless given a
//! deadline; the stream does not.
//!
//! The library changes no scheduling priority, and starts these threads
//! only:
//!
//! - `changelog-opener`, one per iterator following a file with inotify
//!   ([`WatchMode::Notify`], the default, on Linux): it opens each new
//!   changelog file the instant it is created and holds it, so that a file
//!   a fast writer rotates away within a millisecond is not lost while the
//!   reader (or its consumer) is busy. It lives as long as the iterator.
//! - The `notify` crate's event thread, one per iterator following with
//!   [`WatchMode::Portable`], or `Notify` off Linux: `notify` delivers its
//!   events on a thread of its own, and the library opens new files there,
//!   for the same reason.
//!
//! [`WatchMode::Poll`], pipes and [`MemorySource`] start no thread, nor
//! does the stream (it waits through tokio's reactor; the opener above
//! still runs beside it when a file is followed). To give the opener a
//! real-time priority, run the whole process with one (`chrt -f 1`,
//! systemd's `CPUSchedulingPolicy=fifo`).

// docs.rs (`--cfg docsrs`, nightly) marks each item with the feature it needs.
#![cfg_attr(docsrs, feature(doc_cfg))]

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
#[cfg(feature = "ldb")]
mod ldb;
mod lines;
mod memory;
mod notice;
mod pipe;
mod position;
mod resume;
mod retry;
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
pub use error::{Corrupt, Error, FileKind, StateError, with_causes};
pub use escape::printable;
pub use event::{Event, EventRef, Key, KeyRef, KeyValue, RowUpdate};
pub use filter::{Filter, PatternError};
pub use follow::{DEFAULT_MAX_LINE_BYTES, MAX_HELD_GENERATIONS, WatchMode};
pub use iterator::{ChangelogIterator, Record};
#[cfg(feature = "ldb")]
pub use ldb::{
    ColumnValue, LDB_BUSY_TIMEOUT, LDB_LOCK_TIMEOUT, Ldb, LdbError, LdbErrorKind, Row, RowLookup,
    Settled, Snapshot, SnapshotProgress, SnapshotRow,
};
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

/// The library guide's Rust examples (`doc/library.md`), compiled as
/// doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../doc/library.md")]
pub struct LibraryGuideDoctests;
