//! Things a follower tells its user that are neither events nor errors.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Something worth a warning; reading goes on. Not an error: nothing was
/// lost.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Notice {
    /// The file got shorter than what was read (copy-truncate): it is read
    /// again from its start.
    Truncated {
        /// The changelog.
        path: Arc<Path>,
    },
    /// The path names a directory now; the file read so far was read to its
    /// end, and a file at the path will be followed when one appears.
    NotAFile {
        /// The changelog.
        path: Arc<Path>,
    },
    /// The kernel's notification queue overflowed: everything was looked at
    /// again, so nothing is lost, but the queue limit is low for this load.
    Overflow,
    /// The `notify` crate's watcher missed events (it asked for a rescan,
    /// or reported an error): everything was looked at again, so nothing is
    /// lost.
    Rescan,
    /// Notifications are not available; the file is polled instead.
    Polling {
        /// Why notifications cannot be used.
        why: String,
        /// How often the file is looked at.
        interval: Duration,
    },
    /// More newer files were waiting to be read than are held open
    /// ([`MAX_HELD_GENERATIONS`](crate::MAX_HELD_GENERATIONS)); a file
    /// deleted before the reader gets to it is lost (and reported as out of
    /// sync).
    TooManyWaiting,
    /// A new file at the path is followed now (the one before was read to
    /// its end): as `tail -F`'s "has been replaced; following new file".
    /// Said only when asked for
    /// ([`Builder::rotation_notices`](crate::Builder::rotation_notices)).
    Replaced {
        /// The changelog.
        path: Arc<Path>,
    },
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Notice::Truncated { path } => write!(
                f,
                "{} was truncated; reading it again from the start",
                crate::escape::path(path.as_os_str())
            ),
            Notice::NotAFile { path } => write!(
                f,
                "{} is now a directory; waiting for a changelog file to appear there",
                crate::escape::path(path.as_os_str())
            ),
            Notice::Overflow => f.write_str(
                "the kernel's inotify queue overflowed; the changelog was looked at again \
                 and nothing is lost (raise fs.inotify.max_queued_events if this repeats)",
            ),
            Notice::Rescan => f.write_str(
                "filesystem notifications were missed (the watcher asked for a rescan); \
                 the changelog was looked at again and nothing is lost",
            ),
            Notice::Polling { why, interval } => write!(
                f,
                "{why}; polling every {} ms instead",
                interval.as_millis()
            ),
            Notice::TooManyWaiting => write!(
                f,
                "more than {} rotated files are waiting to be read; output is read too \
                 slowly, and a file deleted before it is opened will be reported as out of sync",
                crate::MAX_HELD_GENERATIONS
            ),
            Notice::Replaced { path } => write!(
                f,
                "{} has been replaced; following the new file",
                crate::escape::path(path.as_os_str())
            ),
        }
    }
}
