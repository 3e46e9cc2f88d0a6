//! Filesystem notifications through the `notify` crate's recommended
//! watcher: kqueue on macOS and the BSDs (FSEvents with the crate feature
//! `macos-fsevent`), inotify on Linux. The default where inotify does not
//! exist; on Linux it is chosen with
//! [`WatchMode::Portable`](crate::WatchMode::Portable) (the command line:
//! `CHANGELOG_TAIL_WATCHER=notify`), which is how the follow and rotation
//! tests run it here.
//!
//! The same directories are watched as by the [`inotify`](super::inotify)
//! backend ([`dirs`]): the changelog's directory (not recursively)
//! and, for a symlink, its target's; while the path names no file, their
//! parents too. They are re-aimed at every refresh as the inotify ones
//! are.
//!
//! `notify` delivers events on its own thread, through a callback, which
//! is the opener (see [`notifier`](super)) and wakes the reader:
//!
//! - on anything that may have created the changelog's name (a creation, a
//!   rename, an event it cannot classify, a rescan) it looks for a new
//!   generation ([`discovery::look`]), so that a new file is opened at once
//!   and held, even while the reader is busy elsewhere;
//! - unless the event is only a write to another file (ctlstore's database
//!   and WAL beside the changelog) or an open or close, it marks what it
//!   saw and writes one byte to a pipe whose read end is among the
//!   descriptors the reader's one `poll` waits on.
//!
//! What it cannot promise, next to inotify used directly:
//!
//! - Its one event thread handles every event (writes included, and the
//!   opens and closes its inotify backend also asks for) before it gets to
//!   the next creation, so under a fast rotating writer a creation can be
//!   seen late: a file that lives a very short time may be deleted before
//!   it is opened. The `seq` check then reports the loss as out of sync,
//!   never silently.
//! - It watches paths, not open files: writes to a generation that was
//!   renamed away are not seen as they happen (they are read when the next
//!   generation has data, or at the next wake-up).
//! - The mount table is not watched: a directory mounted over is noticed
//!   at the next event in the new directory only.
//! - A kernel queue overflow or a backend error reaches us as a rescan
//!   ([`Notice::Rescan`]): a hint like any other.

use super::dirs::{self, names_no_file};
use super::{Drained, Notifier, opener};
use crate::error::Error;
use crate::follow::discovery::{self, Discovery};
use crate::notice::Notice;
use crate::position::FileId;
use crate::wake::{PollFlags, Ready};
use notify::event::ModifyKind;
use notify::{Event, EventHandler, EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use rustix::fs::OFlags;
use std::io::{self, PipeReader, PipeWriter, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// `notify` watches a directory for everything: there is no mask to pick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Everything;

impl std::ops::BitOr for Everything {
    type Output = Everything;
    fn bitor(self, _: Everything) -> Everything {
        Everything
    }
}

/// A directory to watch (see [`dirs::Wanted`]).
type Wanted = dirs::Wanted<Everything>;

/// The live watches of one follower.
pub(super) struct PortableWatch {
    watcher: RecommendedWatcher,
    /// The directories watched now.
    watched: Vec<Wanted>,
    shared: Arc<Shared>,
    /// Readable when the callback saw something for the reader.
    wake: PipeReader,
    /// Hangs up when the callback gives up (it panicked) or `notify`'s
    /// thread ends with it: the reader learns it in its one wait.
    opener_gone: opener::Gone,
}

/// What the callback and the reader share.
#[derive(Default)]
struct Shared {
    /// The directories watched and the entries in them that matter: the
    /// callback tells writes to the changelog from writes to other files
    /// by them.
    interest: Mutex<Vec<Wanted>>,
    /// What was seen since the last drain.
    pending: Mutex<Drained>,
    /// A byte is in the wake pipe (or about to be): at most one is written
    /// per drain, so the pipe never fills and the callback never blocks.
    /// Set by the callback after its mark, cleared by the drain between
    /// emptying the pipe and taking the marks.
    signalled: AtomicBool,
    /// Makes the callback fail at its next event (tests).
    #[cfg(test)]
    fail: AtomicBool,
}

/// A lock that a panic elsewhere cannot have left half changed: every
/// value behind these locks is whole after each statement.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `notify`'s callback: runs on its event thread.
struct Handler {
    shared: Arc<Shared>,
    discovery: Arc<Mutex<Discovery>>,
    wake: PipeWriter,
    /// Dropped when the callback gives up (or `notify`'s thread ends).
    alive: Option<opener::Alive>,
}

impl EventHandler for Handler {
    /// Handles `event`, unless the callback gave up: a panic is its end
    /// (the reader's wait sees the hang-up, and polls from then on).
    fn handle_event(&mut self, event: notify::Result<Event>) {
        let mut alive = self.alive.take();
        opener::run(&mut alive, || {
            self.handle(event);
            Ok(())
        });
        self.alive = alive;
    }
}

impl Handler {
    fn handle(&self, event: notify::Result<Event>) {
        #[cfg(test)]
        if self.shared.fail.load(Ordering::SeqCst) {
            let _held = lock(&self.discovery);
            panic!("failing as the test asked");
        }
        let seen = Seen::of(&event, &lock(&self.shared.interest));
        if seen.may_create {
            // Errors are the reader's to report when it looks itself.
            let _ = discovery::look(&self.discovery);
        }
        if !seen.drained.relevant {
            return;
        }
        {
            let mut pending = lock(&self.shared.pending);
            pending.relevant = true;
            pending.overflowed |= seen.drained.overflowed;
            pending.path_changed |= seen.drained.path_changed;
        }
        // Marked before the byte is written, so that the drain that reads
        // the byte finds the mark.
        if !self.shared.signalled.swap(true, Ordering::SeqCst) {
            // One byte per drain at most (see `signalled`): the write cannot
            // block. If the reader is gone, nobody is left to
            // tell.
            let _ = (&self.wake).write(&[1]);
        }
    }
}

/// What one event means to the follower.
#[derive(Debug, Default, PartialEq, Eq)]
struct Seen {
    /// It may have made a new file at the path: look for one now.
    may_create: bool,
    drained: Drained,
}

impl Seen {
    /// Classifies `event`, given the directories watched and the entries
    /// that matter in them.
    fn of(event: &notify::Result<Event>, interest: &[Wanted]) -> Seen {
        let event = match event {
            Ok(event) if !event.need_rescan() => event,
            // Events were lost (a queue overflow), or the backend failed
            // somewhere: look at everything.
            _ => {
                return Seen {
                    may_create: true,
                    drained: Drained {
                        overflowed: true,
                        relevant: true,
                        path_changed: true,
                    },
                };
            }
        };
        let ours = event.paths.is_empty() || event.paths.iter().any(|p| concerns(interest, p));
        let (may_create, relevant) = match event.kind {
            // Opening and closing a file changes neither it nor a name.
            EventKind::Access(_) => (false, false),
            // A write: to the changelog, or to another file (a database
            // beside it), which is no reason to wake the reader.
            EventKind::Modify(ModifyKind::Data(_)) => (false, ours),
            EventKind::Modify(ModifyKind::Metadata(_)) | EventKind::Remove(_) => (false, true),
            // Creations and renames, of any name: kqueue's watcher names
            // the created file by guessing, so the name cannot be trusted;
            // and whatever cannot be classified.
            _ => (true, true),
        };
        // Only a write to the changelog leaves what the path names as it
        // was; anything else relevant is a reason to look at the path.
        let write = matches!(event.kind, EventKind::Modify(ModifyKind::Data(_)));
        Seen {
            may_create,
            drained: Drained {
                overflowed: false,
                relevant,
                path_changed: relevant && !write,
            },
        }
    }
}

/// Whether an event about `path` may concern the changelog: it is a
/// watched directory, or an entry that matters in one.
fn concerns(interest: &[Wanted], path: &Path) -> bool {
    interest.iter().any(|w| {
        path == w.dir || (path.parent() == Some(w.dir.as_path()) && w.concerns(path.file_name()))
    })
}

/// `notify`'s error as an I/O error, for [`Error::Watch`].
fn io_error(e: notify::Error) -> io::Error {
    match e.kind {
        notify::ErrorKind::Io(e) => e,
        notify::ErrorKind::MaxFilesWatch => {
            io::Error::other("the limit on the number of watches is reached")
        }
        kind => io::Error::other(format!("{kind:?}")),
    }
}

impl PortableWatch {
    /// Starts watching the directories `path` depends on; `notify`'s event
    /// thread opens new generations into `discovery` as they are created.
    pub(super) fn new(path: &Arc<Path>, discovery: Arc<Mutex<Discovery>>) -> Result<Self, Error> {
        let fail = |source: io::Error| Error::Watch {
            path: Arc::clone(path),
            source,
        };
        let (wake, wake_writer) = std::io::pipe().map_err(fail)?;
        let flags = rustix::fs::fcntl_getfl(&wake).map_err(|e| fail(e.into()))?;
        rustix::fs::fcntl_setfl(&wake, flags | OFlags::NONBLOCK).map_err(|e| fail(e.into()))?;
        let (opener_gone, alive) = opener::pipe().map_err(fail)?;
        let shared = Arc::new(Shared::default());
        let handler = Handler {
            shared: Arc::clone(&shared),
            discovery,
            wake: wake_writer,
            alive: Some(alive),
        };
        let watcher = notify::recommended_watcher(handler).map_err(|e| fail(io_error(e)))?;
        let mut watch = PortableWatch {
            watcher,
            watched: Vec::new(),
            shared,
            wake,
            opener_gone,
        };
        watch.refresh_dirs(path)?;
        Ok(watch)
    }

    /// Where the opener's pipe is in [`wake_fds`](Notifier::wake_fds).
    const OPENER_GONE: usize = 1;

    /// Re-aims the watches at what the path depends on now (see
    /// [`dirs`]). Says whether any watch changed.
    fn refresh_dirs(&mut self, path: &Path) -> Result<bool, Error> {
        let wanted =
            dirs::directories_to_watch(path, Everything, names_no_file(path).then_some(Everything));
        // Events are told apart by what is wanted from now on.
        lock(&self.shared.interest).clone_from(&wanted);
        let before = self.watched.len();
        let watcher = &mut self.watcher;
        self.watched.retain(|watched| {
            let keep = wanted.contains(watched);
            if !keep {
                // Gone already if the directory was deleted: nothing to
                // undo.
                let _ = watcher.unwatch(&watched.dir);
            }
            keep
        });
        let mut changed = self.watched.len() != before;
        for want in wanted {
            if self.watched.contains(&want) {
                continue;
            }
            watch_dir(watcher, &want.dir)?;
            self.watched.push(want);
            changed = true;
        }
        Ok(changed)
    }
}

impl Notifier for PortableWatch {
    /// The callback's wake pipe, then the opener's.
    fn wake_fds(&self) -> Vec<(BorrowedFd<'_>, PollFlags)> {
        vec![
            (self.wake.as_fd(), PollFlags::IN),
            self.opener_gone.wake_fd(),
        ]
    }

    /// The callback stops only on a panic, or with `notify`'s thread.
    fn opener_failure(&mut self, ready: Ready) -> Option<String> {
        self.opener_gone.failure(ready.contains(Self::OPENER_GONE))
    }

    /// Takes what the callback saw since the last drain.
    fn drain(&mut self, _ready: Ready) -> io::Result<Drained> {
        let mut bytes = [0; 16];
        loop {
            match (&self.wake).read(&mut bytes) {
                // The callback is gone: `opener_failure` tells.
                Ok(0) => break,
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        // Cleared after the pipe is emptied and before the marks are taken:
        // a mark made after they are taken comes with a byte that is still
        // in the pipe (written by this event, or by one whose byte was
        // written after the pipe was emptied), and wakes the next wait.
        // (Cleared first, a byte written in between would be read here and
        // leave the flag set: the next mark would come with no byte.)
        self.shared.signalled.store(false, Ordering::SeqCst);
        Ok(std::mem::take(&mut *lock(&self.shared.pending)))
    }

    /// A kernel queue overflow or a backend error reaches us as a rescan.
    fn overflow_notice(&self) -> Notice {
        Notice::Rescan
    }

    /// The directories only: `notify` cannot watch an open file, and sees
    /// writes through the directory watch, by name.
    fn refresh(&mut self, path: &Path, _files: &[(FileId, BorrowedFd<'_>)]) -> Result<bool, Error> {
        self.refresh_dirs(path)
    }

    /// Makes the callback panic at its next event while it holds the
    /// discovery lock (only this hook panics there now), as a bug would.
    #[cfg(test)]
    fn fail_opener(&self) {
        self.shared.fail.store(true, Ordering::SeqCst);
    }
}

/// Watches `dir` (not recursively).
fn watch_dir(watcher: &mut RecommendedWatcher, dir: &Path) -> Result<(), Error> {
    watcher
        .watch(dir, RecursiveMode::NonRecursive)
        .map_err(|e| Error::Watch {
            path: Arc::from(dir),
            source: io_error(e),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{AccessKind, CreateKind, DataChange, Flag, RemoveKind};

    fn interest(dir: &Path) -> Vec<Wanted> {
        dirs::directories_to_watch(&dir.join("change.log"), Everything, None)
    }

    fn event(kind: EventKind, path: &Path) -> notify::Result<Event> {
        Ok(Event::new(kind).add_path(path.to_path_buf()))
    }

    #[test]
    fn writes_to_other_files_and_opens_are_not_a_reason_to_wake() {
        let root = tempfile::tempdir().unwrap();
        let dir = std::fs::canonicalize(root.path()).unwrap();
        let interest = interest(&dir);
        let write = EventKind::Modify(ModifyKind::Data(DataChange::Any));
        let seen = |kind, name: &str| Seen::of(&event(kind, &dir.join(name)), &interest);
        assert!(!seen(write, "ldb.db-wal").drained.relevant);
        assert!(seen(write, "change.log").drained.relevant);
        assert!(!seen(write, "change.log").may_create);
        assert_eq!(
            seen(EventKind::Access(AccessKind::Any), "change.log"),
            Seen::default()
        );
        // A write reported on the directory itself (kqueue, after an entry
        // went away) may concern the changelog.
        assert!(Seen::of(&event(write, &dir), &interest).drained.relevant);
    }

    #[test]
    fn creations_of_any_name_are_looked_at_and_removals_wake() {
        let root = tempfile::tempdir().unwrap();
        let dir = std::fs::canonicalize(root.path()).unwrap();
        let interest = interest(&dir);
        let created = Seen::of(
            &event(EventKind::Create(CreateKind::File), &dir.join("other")),
            &interest,
        );
        assert!(created.may_create && created.drained.relevant);
        let removed = Seen::of(
            &event(EventKind::Remove(RemoveKind::File), &dir.join("change.log")),
            &interest,
        );
        assert!(!removed.may_create && removed.drained.relevant);
    }

    #[test]
    fn a_rescan_or_an_error_is_an_overflow() {
        let rescan = Ok(Event::new(EventKind::Other).set_flag(Flag::Rescan));
        let error = Err(notify::Error::generic("lost"));
        for event in [rescan, error] {
            let seen = Seen::of(&event, &[]);
            assert!(seen.may_create);
            assert_eq!(
                seen.drained,
                Drained {
                    overflowed: true,
                    relevant: true,
                    path_changed: true,
                }
            );
        }
    }
}
