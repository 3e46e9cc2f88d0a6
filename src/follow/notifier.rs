//! How the follower learns that something may have changed: one interface,
//! [`Notifier`], over three backends, one file each, chosen in one place
//! ([`start`]) from the [`WatchMode`]:
//!
//! - [`inotify`] (Linux only, the default there): inotify used directly,
//!   with an opener thread of our own, open files watched by descriptor
//!   for writes, the mount table watched for mounts over the directory.
//! - [`portable`]: the `notify` crate's recommended watcher (kqueue on
//!   macOS and the BSDs, inotify on Linux), the default elsewhere. Its own
//!   event thread does the opener's work; it watches directories only.
//! - [`poll`]: no notifications, a look every interval: asked for
//!   ([`WatchMode::Poll`]), or instead of notifications that cannot be had
//!   (a network or user-space filesystem, a watch limit reached, a failed
//!   opener), with a notice saying why.
//!
//! Both notification backends watch the same directories ([`dirs`]).
//! Whatever the backend, notifications are hints: after any of them the
//! reader looks at the filesystem itself.
//!
//! # The opener
//!
//! Beside the reader, each notification backend runs an *opener*: on
//! inotify a thread of ours (`changelog-opener`), on `notify` the crate's
//! own event thread, through its callback. It sleeps until a name is
//! created in a watched directory, then opens the file the path names if
//! it is a new generation, and holds it ([`Discovery`]). It earns its
//! place because ctlstore rotates by deleting the file and creating a new
//! one: under a fast writer a generation may live about a millisecond, and
//! a reader busy elsewhere (a slow consumer, a burst of rotations) would
//! find it deleted, its lines lost. Opened the instant it appears, it stays
//! readable after its deletion until the reader gets to it. The opener's
//! work per wake-up is a few system calls; it never waits for the reader
//! (see [`discovery::look`](super::discovery::look)). It changes no
//! scheduling: a library must not change its user's, and a user who wants
//! it to win a CPU on a busy host can give the whole process a real-time
//! priority (`chrt -f 1 …`, systemd's `CPUSchedulingPolicy=fifo`). If it
//! ends (a bug, a failure), the reader learns it in its one wait
//! ([`opener`]) and polls from then on.
//!
//! The backend sits behind a `Box<dyn Notifier>`: it is called a few times
//! per wake-up and per new generation, never per line.

mod dirs;
#[cfg(target_os = "linux")]
mod inotify;
mod opener;
mod poll;
mod portable;

use super::WatchMode;
use super::discovery::Discovery;
use crate::error::Error;
use crate::notice::Notice;
use crate::position::FileId;
use crate::wake::{PollFlags, Ready};
use std::io;
use std::os::fd::BorrowedFd;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What a drain of notifications found ([`Notifier::drain`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Drained {
    /// Events were lost (the kernel's queue overflowed, or the backend
    /// asked for a rescan): look at everything.
    pub(super) overflowed: bool,
    /// Something that may concern the changelog happened (as opposed to
    /// changes to other files in its directory only): look again.
    pub(super) relevant: bool,
    /// What the path names may have changed (an entry created, deleted or
    /// renamed, a directory replaced, events lost): look at the path, not
    /// only at the open file.
    pub(super) path_changed: bool,
}

/// A live source of notifications for one follower: what every backend
/// offers the [`Finder`](super::finder::Finder). Defaults are for a
/// backend that lacks the thing (no mount table, no opener, no interval).
pub(super) trait Notifier: Send + Sync {
    /// The descriptors whose readiness means something may have changed,
    /// with what to wait for on each (none when polling).
    fn wake_fds(&self) -> Vec<(BorrowedFd<'_>, PollFlags)>;

    /// How often to look with no notification: only when polling.
    fn poll_interval(&self) -> Option<Duration> {
        None
    }

    /// Whether a wait on [`wake_fds`](Self::wake_fds) that found `ready`
    /// saw the mount table change. (A wait that ends for another reason,
    /// an interruption, takes the signal all the same: the caller keeps it
    /// for its next look at the path.)
    fn mounts_changed(&self, ready: Ready) -> bool {
        let _ = ready;
        false
    }

    /// Why the opener (see the module docs) ended, if a wait on
    /// [`wake_fds`](Self::wake_fds) that found `ready` tells that it did:
    /// the caller must then poll instead.
    fn opener_failure(&mut self, ready: Ready) -> Option<String> {
        let _ = ready;
        None
    }

    /// Takes the pending notifications after a wait on
    /// [`wake_fds`](Self::wake_fds) that woke with a change and found
    /// `ready` (see [`Drained`]).
    fn drain(&mut self, ready: Ready) -> io::Result<Drained>;

    /// What to say when events were lost (once per follower): by default
    /// the kernel's queue overflowed.
    fn overflow_notice(&self) -> Notice {
        Notice::Overflow
    }

    /// Re-aims the directory watches at what `path` depends on now, and
    /// watches exactly `files` (open generations) for writes where the
    /// backend can; says whether any watch changed (a new watch sees
    /// nothing that happened before it: the caller looks again).
    fn refresh(&mut self, path: &Path, files: &[(FileId, BorrowedFd<'_>)]) -> Result<bool, Error>;

    /// Makes the opener fail, as a bug would.
    #[cfg(test)]
    fn fail_opener(&self) {}
}

/// Starts what `mode` asks for on `path`, its opener recording new
/// generations into `discovery`: the one place a backend is chosen. Where
/// notifications cannot be had (a network or user-space filesystem, or a
/// backend that fails to start), polls instead, with the notice that says
/// why.
pub(super) fn start(
    mode: WatchMode,
    path: &Arc<Path>,
    discovery: &Arc<Mutex<Discovery>>,
) -> (Box<dyn Notifier>, Option<Notice>) {
    let started = match mode {
        WatchMode::Poll(interval) => return (Box::new(poll::Polling::every(interval)), None),
        // The system's best: inotify where there is one.
        #[cfg(target_os = "linux")]
        WatchMode::Notify => notifications(path, || {
            inotify::InotifyWatch::new(path, Arc::clone(discovery))
        }),
        // Asked for, or the best there is.
        _ => notifications(path, || {
            portable::PortableWatch::new(path, Arc::clone(discovery))
        }),
    };
    match started {
        Ok(watch) => (watch, None),
        Err(why) => {
            let (polling, notice) = poll_instead(why);
            (polling, Some(notice))
        }
    }
}

/// Starts a notification backend (`new`), unless `path` is on a
/// filesystem that does not report changes made elsewhere; or says why not.
fn notifications<N: Notifier + 'static>(
    path: &Path,
    new: impl FnOnce() -> Result<N, Error>,
) -> Result<Box<dyn Notifier>, String> {
    if let Some(why) = dirs::unsupported_filesystem(path) {
        return Err(why);
    }
    Ok(Box::new(new().map_err(|e| crate::error::with_causes(&e))?))
}

/// Polling every [`poll::FALLBACK`], instead of notifications that could
/// not be had or stopped (`why`), with the notice that says so.
pub(super) fn poll_instead(why: String) -> (Box<dyn Notifier>, Notice) {
    let notice = Notice::Polling {
        why,
        interval: poll::FALLBACK,
    };
    (Box::new(poll::Polling::every(poll::FALLBACK)), notice)
}
