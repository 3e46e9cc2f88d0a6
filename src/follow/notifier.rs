//! The follower's one source of filesystem notifications, whichever backend
//! delivers them.
//!
//! Two backends sit behind this enum (static dispatch: the
//! [`Finder`](super::finder::Finder) holds one):
//!
//! - [`Inotify`](Notifier::Inotify) ([`watch`](super::watch), Linux only,
//!   the default there): inotify used directly, with a thread of our own
//!   that opens new generations, open files watched by descriptor for
//!   writes, the mount table watched for mounts over the directory.
//! - [`Portable`](Notifier::Portable) ([`watch_notify`](super::watch_notify)):
//!   the `notify` crate's recommended watcher (kqueue on macOS and the
//!   BSDs, inotify on Linux), the default elsewhere. Its own event thread
//!   opens new generations; it watches directories only.
//!
//! Both offer the same few things: descriptors for the reader's one
//! `poll`, a [`drain`](Notifier::drain) of what woke it, watches re-aimed
//! at what the path depends on, and word of a failed event thread (then
//! the caller polls instead). Either way notifications are hints: after
//! any of them the reader looks at the filesystem itself.

use super::WatchMode;
use super::discovery::Discovery;
pub(super) use super::drained::Drained;
#[cfg(target_os = "linux")]
use super::watch::Watch;
use super::watch_notify::PortableWatch;
use crate::error::Error;
use crate::notice::Notice;
use crate::position::FileId;
use crate::wake::{PollFlags, Ready};
use std::io;
use std::os::fd::BorrowedFd;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Which backend delivers notifications.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Backend {
    /// inotify, directly (Linux).
    #[cfg(target_os = "linux")]
    Inotify,
    /// The `notify` crate's recommended watcher.
    Portable,
}

impl Backend {
    /// The backend `mode` asks for, or `None` for polling.
    pub(super) fn of(mode: WatchMode) -> Option<Backend> {
        match mode {
            WatchMode::Notify => Some(Backend::NATIVE),
            WatchMode::Portable => Some(Backend::Portable),
            WatchMode::Poll(_) => None,
        }
    }

    /// This system's best: inotify on Linux, `notify` elsewhere.
    #[cfg(target_os = "linux")]
    const NATIVE: Backend = Backend::Inotify;
    /// This system's best: inotify on Linux, `notify` elsewhere.
    #[cfg(not(target_os = "linux"))]
    const NATIVE: Backend = Backend::Portable;
}

/// The live notifications of one follower.
pub(super) enum Notifier {
    /// inotify, directly.
    #[cfg(target_os = "linux")]
    Inotify(Watch),
    /// The `notify` crate's watcher.
    Portable(PortableWatch),
}

impl Notifier {
    /// Starts watching what `path` depends on with `backend`, new
    /// generations opened into `discovery` as they are created.
    pub(super) fn new(
        backend: Backend,
        path: &Arc<Path>,
        discovery: Arc<Mutex<Discovery>>,
    ) -> Result<Self, Error> {
        Ok(match backend {
            #[cfg(target_os = "linux")]
            Backend::Inotify => Notifier::Inotify(Watch::new(path, discovery)?),
            Backend::Portable => Notifier::Portable(PortableWatch::new(path, discovery)?),
        })
    }

    /// The descriptors whose readiness means something may have changed,
    /// with what to wait for on each.
    pub(super) fn wake_fds(&self) -> Vec<(BorrowedFd<'_>, PollFlags)> {
        match self {
            #[cfg(target_os = "linux")]
            Notifier::Inotify(watch) => watch.wake_fds(),
            Notifier::Portable(watch) => watch.wake_fds(),
        }
    }

    /// Why the thread that opens new generations ended, if it did, as told
    /// by a wait on [`wake_fds`](Self::wake_fds) that found `ready`: the
    /// caller must then poll instead.
    pub(super) fn opener_failure(&mut self, ready: Ready) -> Option<String> {
        match self {
            #[cfg(target_os = "linux")]
            Notifier::Inotify(watch) => watch.opener_failure(ready),
            Notifier::Portable(watch) => watch.opener_failure(ready),
        }
    }

    /// Takes the pending notifications after a wait on
    /// [`wake_fds`](Self::wake_fds) that found `ready` (see [`Drained`]).
    pub(super) fn drain(&mut self, ready: Ready) -> io::Result<Drained> {
        match self {
            #[cfg(target_os = "linux")]
            Notifier::Inotify(watch) => watch.drain(ready),
            Notifier::Portable(watch) => watch.drain(),
        }
    }

    /// Whether a wait on [`wake_fds`](Self::wake_fds) that found `ready`
    /// saw the mount table change. (A wait that ends for another reason,
    /// an interruption, takes the signal all the same: the caller keeps it
    /// for its next look at the path.)
    pub(super) fn mounts_changed(&self, ready: Ready) -> bool {
        match self {
            #[cfg(target_os = "linux")]
            Notifier::Inotify(_) => ready.contains(super::watch::Watch::MOUNTS),
            Notifier::Portable(_) => false,
        }
    }

    /// What to say when events were lost (once per follower).
    pub(super) fn overflow_notice(&self) -> Notice {
        match self {
            #[cfg(target_os = "linux")]
            Notifier::Inotify(_) => Notice::Overflow,
            Notifier::Portable(_) => Notice::Rescan,
        }
    }

    /// Re-aims the directory watches at what `path` depends on now; says
    /// whether any watch changed.
    pub(super) fn refresh(&mut self, path: &Path) -> Result<bool, Error> {
        match self {
            #[cfg(target_os = "linux")]
            Notifier::Inotify(watch) => watch.refresh(path),
            Notifier::Portable(watch) => watch.refresh(path),
        }
    }

    /// Watches exactly `files` (open generations) for writes, where the
    /// backend can (inotify, by descriptor; `notify` cannot, and sees
    /// writes through the directory watch, by name); says whether anything
    /// changed.
    pub(super) fn watch_files(
        &mut self,
        path: &Path,
        files: &[(FileId, BorrowedFd<'_>)],
    ) -> Result<bool, Error> {
        match self {
            #[cfg(target_os = "linux")]
            Notifier::Inotify(watch) => watch.watch_files(path, files),
            Notifier::Portable(_) => {
                let _ = (path, files);
                Ok(false)
            }
        }
    }

    /// Makes the thread that opens new generations fail, as a bug would.
    #[cfg(test)]
    pub(super) fn fail_opener(&self) {
        match self {
            #[cfg(target_os = "linux")]
            Notifier::Inotify(watch) => watch.fail_opener(),
            Notifier::Portable(watch) => watch.fail_opener(),
        }
    }
}
