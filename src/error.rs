//! The library's error type.
//!
//! Two kinds of error come out of an iterator: *recoverable* ones
//! ([`Error::OutOfSync`], [`Error::InvalidEntry`], [`Error::Notice`]), after which `next` may be
//! called again and reading goes on, and fatal ones (everything else), after
//! which the iterator is done.

use crate::entry::{InvalidEntry, Location};
use crate::event::Event;
use crate::iterator::{Gap, GapKind};
use crate::notice::Notice;
use std::io;
use std::path::Path;
use std::sync::Arc;

/// Everything that can go wrong while following a changelog.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An event's `seq` is not the previous event's `seq + 1`: events were
    /// lost (a file rotated away unread, a writer restart, a gap while
    /// nobody read). The consumer must drop its caches. The revealing event
    /// becomes the new baseline, so the next call goes on from it.
    #[error(
        "out of sync: {} at {location}",
        Gap { expected: *expected, kind: *kind }.describe(event.seq)
    )]
    OutOfSync {
        /// The `seq` that should have come next.
        expected: i64,
        /// How the loss showed.
        kind: GapKind,
        /// The event that revealed the gap.
        event: Event,
        /// Whether `event` passes the iterator's filter.
        matches_filter: bool,
        /// Where the revealing line starts.
        location: Location,
    },

    /// A line that is not an event; reading goes on after it.
    #[error("{0}")]
    InvalidEntry(InvalidEntry),

    /// Something worth a warning (a truncation, a fallback to polling…);
    /// reading goes on.
    #[error("{0}")]
    Notice(Notice),

    /// The changelog does not exist (after waiting for it, if asked to).
    #[error("{}: no such file", path.display())]
    NotFound {
        /// The changelog's path.
        path: Arc<Path>,
    },

    /// The changelog's path names a directory.
    #[error("{}: is a directory, not a changelog file", path.display())]
    IsADirectory {
        /// The changelog's path.
        path: Arc<Path>,
    },

    /// The changelog's path names something that is not a regular file (a
    /// FIFO, a socket, a device): there is nothing to follow there.
    #[error("{}: is {kind}, not a regular file", path.display())]
    NotARegularFile {
        /// The changelog's path.
        path: Arc<Path>,
        /// What the path names instead.
        kind: FileKind,
    },

    /// Opening, reading or looking at the changelog failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path involved.
        path: Arc<Path>,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },

    /// Filesystem notifications could not be set up.
    #[error("cannot watch {} for changes: {source}", path.display())]
    Watch {
        /// The directory that could not be watched.
        path: Arc<Path>,
        /// What inotify said.
        #[source]
        source: io::Error,
    },

    /// Reading was cancelled before the changelog could be opened.
    #[error("cancelled while waiting for the changelog")]
    Cancelled,

    /// The resume state file cannot be used.
    #[error("state file {}: {message}", path.display())]
    State {
        /// The state file.
        path: std::path::PathBuf,
        /// What is wrong and what to do.
        message: String,
    },

    /// A custom [`Source`](crate::Source) failed.
    #[error("{0}")]
    Source(String),
}

/// What a path names when it is neither a regular file nor a directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileKind {
    /// A named pipe: its bytes can be read once, not followed.
    Fifo,
    /// A Unix domain socket: it cannot be opened as a file.
    Socket,
    /// A character device (a terminal, `/dev/null`…).
    CharDevice,
    /// A block device (a disk).
    BlockDevice,
}

impl FileKind {
    /// The kind of `file_type`, if it is one of the special kinds.
    pub(crate) fn of(file_type: std::fs::FileType) -> Option<Self> {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            Some(FileKind::Fifo)
        } else if file_type.is_socket() {
            Some(FileKind::Socket)
        } else if file_type.is_char_device() {
            Some(FileKind::CharDevice)
        } else if file_type.is_block_device() {
            Some(FileKind::BlockDevice)
        } else {
            None
        }
    }
}

impl std::fmt::Display for FileKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FileKind::Fifo => "a named pipe (FIFO)",
            FileKind::Socket => "a Unix socket",
            FileKind::CharDevice => "a character device",
            FileKind::BlockDevice => "a block device",
        })
    }
}

impl Error {
    /// Whether reading can go on after this error (out of sync, invalid
    /// entry) or the iterator is done.
    pub fn is_recoverable(&self) -> bool {
        matches!(
            self,
            Error::OutOfSync { .. } | Error::InvalidEntry(_) | Error::Notice(_)
        )
    }

    pub(crate) fn io(path: &Arc<Path>, source: io::Error) -> Self {
        Error::Io {
            path: Arc::clone(path),
            source,
        }
    }
}
