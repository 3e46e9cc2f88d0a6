//! The library's error type.
//!
//! Two kinds of error come out of an iterator: *recoverable* ones
//! ([`Error::OutOfSync`], [`Error::InvalidEntry`]), after which `next` may
//! be called again and reading goes on, and fatal ones (everything else),
//! after which the iterator is done. Harmless news (a truncation, a fallback
//! to polling) is not an error: it comes as [`Next::Notice`](crate::Next).
//!
//! Messages name the thing (paths escaped, so that a hostile name cannot
//! drive a terminal) and leave the cause to [`std::error::Error::source`],
//! so that printing the chain says each cause once.

use crate::entry::InvalidEntry;
use crate::escape;
use crate::event::Event;
use crate::position::Location;
use crate::seq::Gap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Everything that can go wrong while following a changelog.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Events were lost before `event` (a file rotated away unread, a
    /// writer restart, a gap while nobody read): the consumer must drop its
    /// caches. The revealing event becomes the new baseline, so the next
    /// call goes on from it.
    #[error("out of sync: {} at {location}", gap.describe(event.seq))]
    OutOfSync {
        /// How the loss showed.
        gap: Gap,
        /// The event that revealed the gap.
        event: Box<Event>,
        /// Whether `event` passes the iterator's filter.
        matches_filter: bool,
        /// Where the revealing line starts.
        location: Location,
    },

    /// A line that is not an event; reading goes on after it.
    #[error(transparent)]
    InvalidEntry(InvalidEntry),

    /// The changelog does not exist (after waiting for it, if asked to).
    #[error("{}: no such file", escape::path(path.as_os_str()))]
    NotFound {
        /// The changelog's path.
        path: Arc<Path>,
    },

    /// The changelog's path names a directory.
    #[error("{}: is a directory, not a changelog file", escape::path(path.as_os_str()))]
    IsADirectory {
        /// The changelog's path.
        path: Arc<Path>,
    },

    /// The changelog's path names something that is not a regular file (a
    /// FIFO, a socket, a device): there is nothing to follow there.
    #[error("{}: is {kind}, not a regular file", escape::path(path.as_os_str()))]
    NotARegularFile {
        /// The changelog's path.
        path: Arc<Path>,
        /// What the path names instead.
        kind: FileKind,
    },

    /// Opening, reading or looking at the changelog failed.
    #[error("{}", escape::path(path.as_os_str()))]
    Io {
        /// The path involved.
        path: Arc<Path>,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },

    /// Filesystem notifications could not be set up. When a system limit
    /// is why (inotify's instances or watches), the message names it and
    /// the `sysctl` that raises it.
    #[error(
        "cannot watch {} for changes{}",
        escape::path(path.as_os_str()),
        limit_hint(source)
    )]
    Watch {
        /// The directory that could not be watched.
        path: Arc<Path>,
        /// What inotify said.
        #[source]
        source: io::Error,
    },

    /// The input cannot do what was asked of it (e.g. start at the end of a
    /// pipe).
    #[error("{what} is not possible")]
    Unsupported {
        /// What was asked.
        what: &'static str,
    },

    /// Reading was cancelled before the changelog could be opened.
    #[error("cancelled while waiting for the changelog")]
    Cancelled,

    /// Reading ctlstore's LDB failed (for a snapshot).
    #[cfg(feature = "ldb")]
    #[cfg_attr(docsrs, doc(cfg(feature = "ldb")))]
    #[error(transparent)]
    Ldb(#[from] crate::ldb::LdbError),

    /// The resume state file cannot be used.
    #[error("state file {}", escape::path(path.as_os_str()))]
    State {
        /// The state file.
        path: PathBuf,
        /// What is wrong with it.
        #[source]
        source: StateError,
    },
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

/// An error's message and its causes', in one line: each joined to the
/// one before by `": "` (as `anyhow` shows a chain with `{:#}`), leaving
/// out empty messages and a cause whose message the one before already
/// ends with; a cause that ends with the one before (says it again, with
/// more) takes its place. SQLite's error and its code both end with
/// "database is locked", and the code's (`Error code 5: …`) is the one
/// kept.
///
/// ```
/// #[derive(Debug)]
/// struct Said(&'static str, Option<Box<Said>>);
/// impl std::fmt::Display for Said {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         f.write_str(self.0)
///     }
/// }
/// impl std::error::Error for Said {
///     fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
///         self.1.as_deref().map(|s| s as _)
///     }
/// }
/// let code = Said("Error code 5: database is locked", None);
/// let busy = Said("database is locked", Some(Box::new(code)));
/// let error = Said("looking up a row", Some(Box::new(busy)));
/// assert_eq!(
///     changelog_tail::with_causes(&error),
///     "looking up a row: Error code 5: database is locked"
/// );
/// ```
pub fn with_causes(error: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(error);
    while let Some(e) = next {
        let message = e.to_string();
        next = e.source();
        match parts.last_mut() {
            _ if message.is_empty() => {}
            Some(last) if last.ends_with(&message) => {}
            Some(last) if message.ends_with(last.as_str()) => *last = message,
            _ => parts.push(message),
        }
    }
    parts.join(": ")
}

/// Which system limit, if any, an error from setting up notifications
/// hit, and how to raise it (the README, Exit status): inotify says EMFILE when the user's
/// instances are used up (or this process's open files), ENOSPC when the
/// user's watches are.
fn limit_hint(source: &io::Error) -> &'static str {
    #[cfg(target_os = "linux")]
    {
        use rustix::io::Errno;
        let code = source.raw_os_error();
        if code == Some(Errno::MFILE.raw_os_error()) {
            return " (the limit on inotify instances, fs.inotify.max_user_instances, \
                    or on this process's open files, ulimit -n, was reached: \
                    raise it, e.g. sysctl -w fs.inotify.max_user_instances=1024)";
        }
        if code == Some(Errno::NOSPC.raw_os_error()) {
            return " (the limit on inotify watches, fs.inotify.max_user_watches, \
                    was reached: raise it, e.g. sysctl -w fs.inotify.max_user_watches=524288)";
        }
        if code == Some(Errno::NFILE.raw_os_error()) {
            return " (the system's limit on open files, fs.file-max, was reached)";
        }
    }
    let _ = source;
    ""
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
        matches!(self, Error::OutOfSync { .. } | Error::InvalidEntry(_))
    }

    pub(crate) fn io(path: &Arc<Path>, source: io::Error) -> Self {
        Error::Io {
            path: Arc::clone(path),
            source,
        }
    }
}

/// What is wrong with a state file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// Another process holds the lock.
    #[error(
        "is in use by another process (lock {} is held); give each changelog-tail its own state file",
        escape::path(lock.as_os_str())
    )]
    InUse {
        /// The lock file.
        lock: PathBuf,
    },
    /// The lock file cannot be created, opened or locked (or is a symlink).
    #[error("cannot use its lock {}", escape::path(lock.as_os_str()))]
    Lock {
        /// The lock file.
        lock: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The state file's path is a symlink.
    #[error("is a symlink; give the path of the file itself")]
    Symlink,
    /// The state file's path names a FIFO, socket, device or directory.
    #[error("is not a regular file")]
    NotARegularFile,
    /// The state file exists but cannot be read.
    #[error("cannot be read")]
    Read(#[source] io::Error),
    /// The state file does not hold a state this program wrote.
    #[error("is corrupt")]
    Corrupt(#[source] Corrupt),
    /// The state file is for another changelog.
    #[error(
        "belongs to the changelog {}, not {}; use one state file per changelog",
        escape::path(stored.as_os_str()),
        escape::path(here.as_os_str())
    )]
    OtherChangelog {
        /// The changelog the state is for.
        stored: PathBuf,
        /// The changelog being read.
        here: PathBuf,
    },
    /// The new state cannot be written.
    #[error("cannot be written")]
    Write(#[source] io::Error),
}

/// Why a state file's content is not a state.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Corrupt {
    /// Not the JSON object expected. (Shown escaped and cut short, and not
    /// offered as a `source` to be printed raw: serde's words may quote the
    /// file, which anyone who can write it chose.)
    #[error("{}", escape::fragment(.0.to_string().as_bytes(), 200))]
    Json(serde_json::Error),
    /// A version this program does not know.
    #[error("unknown version {0}")]
    Version(u32),
    /// A field with a value that cannot be.
    #[error("bad {0}")]
    Field(&'static str),
    /// Far larger than a state file.
    #[error("larger than {limit} bytes")]
    TooLarge {
        /// The largest state file read.
        limit: u64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt;

    /// An error saying `0`, caused by `1`.
    #[derive(Debug)]
    struct Said(&'static str, Option<Box<Said>>);

    impl fmt::Display for Said {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Said {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|s| s as _)
        }
    }

    fn chain(messages: &[&'static str]) -> Said {
        let (first, rest) = messages.split_first().unwrap();
        Said(first, (!rest.is_empty()).then(|| Box::new(chain(rest))))
    }

    #[test]
    fn causes_follow_the_message_each_once() {
        let error = chain(&["reading the LDB failed", "disk I/O error", "EIO"]);
        assert_eq!(
            with_causes(&error),
            "reading the LDB failed: disk I/O error: EIO"
        );
        // SQLite's error, then its code saying the same words and more.
        let busy = chain(&[
            "looking up a row",
            "database is locked",
            "Error code 5: database is locked",
        ]);
        assert_eq!(
            with_causes(&busy),
            "looking up a row: Error code 5: database is locked"
        );
        // A message that already ends with its cause's words.
        let said = chain(&["cannot open x: permission denied", "permission denied"]);
        assert_eq!(with_causes(&said), "cannot open x: permission denied");
        // Empty messages say nothing, and hide nothing after them.
        assert_eq!(with_causes(&chain(&["", "a", "", "b"])), "a: b");
        assert_eq!(with_causes(&chain(&[""])), "");
    }
}
