//! Filesystem notifications (inotify) for the changelog.
//!
//! Directories are watched for what changes what the path names (an entry
//! created, deleted, renamed, its attributes changed): a delete-and-recreate
//! shows up there, while a watch on the file dies with it. The watched set
//! is the changelog's directory and, when the path is a symlink, its
//! target's directory; a directory that does not exist yet is stood in for
//! by its nearest existing ancestor, so that its creation is seen.
//!
//! Writes are watched on the open files themselves (the generation being
//! read and the next one waiting), not on the directory: ctlstore keeps its
//! database and WAL beside the changelog and writes them on every change,
//! and a directory watch for writes would wake the reader for each of them.
//! For the same reason, events about other names in a watched directory
//! are dropped before the reader looks at anything.
//!
//! While the path names no file, the parents of those directories are
//! watched too, for their entry: a directory deleted while a file in it is
//! still open (the deleted changelog the reader holds) reports no deletion
//! of its own until that file is closed, so only its parent can tell that
//! it is gone, or back. A directory replaced by a mount shows in no
//! directory at all: the mount table is watched for changes as well
//! (`/proc/self/mountinfo` signals one with `POLLPRI`).
//!
//! Two inotify instances watch the same directories:
//!
//! - *changes* (the above) is read only by the reader, when it is about to
//!   sleep. While it is busy the kernel merges repeated write events, so a
//!   fast writer costs nothing here, and the reader wakes straight from the
//!   kernel, with no thread in between.
//! - *creations* (create, rename-to) is read by the opener thread, which
//!   opens a new generation the moment it appears, so that a reader busy
//!   elsewhere (a slow consumer, a burst of rotations) still gets every
//!   file before the writer deletes it (see [`notifier`](super) and
//!   `doc/design.md`).
//!
//! Notifications are hints: after any of them the reader looks at the
//! filesystem itself. A kernel queue overflow is just such a hint.
//!
//! (The `notify` crate's single event thread sees every write as an event
//! and cannot be told otherwise, which under a fast rotating writer delays
//! the creation events until generations are lost; so on Linux we use
//! `inotify`, the crate `notify` itself uses there, directly. `notify` is
//! the backend elsewhere, and on Linux when asked for: see
//! [`portable`](super::portable).)

use super::dirs::{self, names_no_file};
use super::{Drained, Notifier, opener};
use crate::error::Error;
use crate::follow::discovery::{self, Discovery, file_id};
use crate::position::FileId;
use crate::wake::Ready;
use inotify::{EventMask, Inotify, WatchDescriptor, WatchMask, Watches};
use rustix::event::{PollFd, PollFlags, poll};
use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{self, PipeReader, PipeWriter};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// What, in a directory, wakes the reader: whatever can change what the
/// path names. Not writes: see [`FILE_CHANGES`].
const CHANGES: WatchMask = WatchMask::ATTRIB
    .union(WatchMask::CREATE)
    .union(WatchMask::DELETE)
    .union(WatchMask::MOVED_FROM)
    .union(WatchMask::MOVED_TO)
    .union(WatchMask::DELETE_SELF)
    .union(WatchMask::MOVE_SELF);

/// What, in the parent of a watched directory, wakes the reader: the
/// directory's entry removed, renamed or made again.
const ENTRY_CHANGES: WatchMask = WatchMask::CREATE
    .union(WatchMask::DELETE)
    .union(WatchMask::MOVED_FROM)
    .union(WatchMask::MOVED_TO);

/// The mount table: it signals a change (`POLLPRI`) to each open file
/// description once, to the first poll after it (which the wait makes).
const MOUNTS: &str = "/proc/self/mountinfo";

/// What, in an open generation, wakes the reader: more to read, or a
/// truncation (a write too), or its last name gone (attributes: link count).
const FILE_CHANGES: WatchMask = WatchMask::MODIFY.union(WatchMask::ATTRIB);

/// What makes the opener thread look for a new generation.
const CREATIONS: WatchMask = WatchMask::CREATE.union(WatchMask::MOVED_TO);

/// Room for a few hundred events per read.
const EVENT_BUFFER: usize = 16 * 1024;

/// The live watches of one follower.
pub(super) struct InotifyWatch {
    changes: Inotify,
    change_watches: Vec<Watched>,
    /// The open generations watched for writes.
    file_watches: Vec<(FileId, WatchDescriptor)>,
    creations: Watches,
    creation_watches: Vec<Watched>,
    /// The mount table, polled by the sleeper: the wait's readiness tells
    /// of a change.
    mounts: File,
    /// Closing it tells the opener thread to end.
    stop: Option<PipeWriter>,
    /// The opener thread, joined when the follower is dropped.
    thread: Option<JoinHandle<()>>,
    /// Hangs up when the opener thread ends, for whatever reason: the
    /// reader learns it in its one wait.
    opener_gone: opener::Gone,
    buffer: Vec<u8>,
}

impl InotifyWatch {
    /// Starts watching the directories `path` depends on, with a thread
    /// that opens new generations into `discovery` as they are created.
    pub(super) fn new(path: &Arc<Path>, discovery: Arc<Mutex<Discovery>>) -> Result<Self, Error> {
        let fail = |source: io::Error| Error::Watch {
            path: Arc::clone(path),
            source,
        };
        let changes = Inotify::init().map_err(fail)?;
        let creations = Inotify::init().map_err(fail)?;
        let creation_handle = creations.watches();
        let mounts = File::open(MOUNTS).map_err(|source| Error::Watch {
            path: Arc::from(Path::new(MOUNTS)),
            source,
        })?;
        let (stop_reader, stop) = std::io::pipe().map_err(fail)?;
        let (opener_gone, alive) = opener::pipe().map_err(fail)?;
        let thread = std::thread::Builder::new()
            .name("changelog-opener".into())
            .spawn(move || {
                // Dropped when the thread ends, with why if it failed.
                let mut alive = Some(alive);
                opener::run(&mut alive, || {
                    open_new_generations(creations, stop_reader, discovery)
                });
            })
            .map_err(fail)?;
        let mut watch = InotifyWatch {
            changes,
            change_watches: Vec::new(),
            file_watches: Vec::new(),
            creations: creation_handle,
            creation_watches: Vec::new(),
            mounts,
            stop: Some(stop),
            thread: Some(thread),
            opener_gone,
            buffer: vec![0; EVENT_BUFFER],
        };
        watch.refresh_dirs(path)?;
        Ok(watch)
    }

    /// Where the notifications are in [`wake_fds`](Notifier::wake_fds).
    const CHANGES: usize = 0;

    /// Where the mount table is in [`wake_fds`](Notifier::wake_fds).
    const MOUNTS: usize = 1;

    /// Where the opener's pipe is in [`wake_fds`](Notifier::wake_fds).
    const OPENER_GONE: usize = 2;

    /// Brings the watched directories in line with what `path` names now
    /// (after a rotation, a re-pointed symlink, a directory deleted or
    /// created). Says whether any watch changed.
    fn refresh_dirs(&mut self, path: &Path) -> Result<bool, Error> {
        let wanted = directories_to_watch(path, CHANGES, names_no_file(path));
        let fail = |(dir, source): (PathBuf, io::Error)| Error::Watch {
            path: Arc::from(dir.as_path()),
            source,
        };
        let changes = update(
            &mut self.changes.watches(),
            &mut self.change_watches,
            &wanted,
        )
        .map_err(fail)?;
        let creations = update(
            &mut self.creations,
            &mut self.creation_watches,
            &directories_to_watch(path, CREATIONS, false),
        )
        .map_err(fail)?;
        Ok(changes || creations)
    }

    /// Watches exactly `files` (open generations) for writes; says whether
    /// anything changed. The watch is set on the open file itself, through
    /// `/proc/self/fd`, so that it is on the generation held even if the
    /// path names another file by now.
    fn watch_files(
        &mut self,
        path: &Path,
        files: &[(FileId, BorrowedFd<'_>)],
    ) -> Result<bool, Error> {
        let mut watches = self.changes.watches();
        let before = self.file_watches.len();
        self.file_watches.retain(|(id, wd)| {
            let keep = files.iter().any(|(f, _)| f == id);
            if !keep {
                // Gone already if the file was deleted and closed.
                let _ = watches.remove(wd.clone());
            }
            keep
        });
        let mut changed = self.file_watches.len() != before;
        for (id, fd) in files {
            if self.file_watches.iter().any(|(f, _)| f == id) {
                continue;
            }
            let wd =
                watch_open_file(&mut watches, path, *id, *fd).map_err(|source| Error::Watch {
                    path: Arc::from(path),
                    source,
                })?;
            self.file_watches.push((*id, wd));
            changed = true;
        }
        Ok(changed)
    }
}

impl Notifier for InotifyWatch {
    /// The changes, the mount table and the opener's pipe, at the places
    /// the constants above name.
    fn wake_fds(&self) -> Vec<(BorrowedFd<'_>, PollFlags)> {
        vec![
            (self.changes.as_fd(), PollFlags::IN),
            (self.mounts.as_fd(), PollFlags::PRI),
            self.opener_gone.wake_fd(),
        ]
    }

    /// The mount table's `POLLPRI`, which the wait took.
    fn mounts_changed(&self, ready: Ready) -> bool {
        ready.contains(Self::MOUNTS)
    }

    /// The thread only ends unasked on a failure.
    fn opener_failure(&mut self, ready: Ready) -> Option<String> {
        self.opener_gone.failure(ready.contains(Self::OPENER_GONE))
    }

    /// Takes the pending notifications (as many as one read brings) after
    /// a wait that found `ready`: one look at the filesystem answers them
    /// all. Says whether the kernel's queue overflowed and whether any of
    /// them concerns the changelog.
    ///
    /// One read per wake-up, not a second one to learn that nothing is
    /// left (a system call on every event's path): notifications left
    /// unread keep the descriptor readable, and the next wait returns at
    /// once for them. Nor is the mount table polled again: the wait did,
    /// and its readiness says whether it changed.
    fn drain(&mut self, ready: Ready) -> io::Result<Drained> {
        let mut drained = Drained::default();
        let mut any = false;
        while ready.contains(Self::CHANGES) {
            match self.changes.read_events(&mut self.buffer) {
                Ok(events) => {
                    for event in events {
                        any = true;
                        let overflowed = event.mask.contains(EventMask::Q_OVERFLOW);
                        drained.overflowed |= overflowed;
                        let path = overflowed
                            || self
                                .change_watches
                                .iter()
                                .any(|w| w.wd == event.wd && w.concerns(event.name));
                        drained.path_changed |= path;
                        drained.relevant |=
                            path || self.file_watches.iter().any(|(_, wd)| *wd == event.wd);
                    }
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        let mounts = ready.contains(Self::MOUNTS);
        // Woken with no notification: something else woke the reader.
        drained.relevant |= !any || mounts;
        drained.path_changed |= !any || mounts;
        Ok(drained)
    }

    /// The directories, then the open files, by descriptor.
    fn refresh(&mut self, path: &Path, files: &[(FileId, BorrowedFd<'_>)]) -> Result<bool, Error> {
        let dirs = self.refresh_dirs(path)?;
        Ok(self.watch_files(path, files)? | dirs)
    }

    /// Makes the opener thread panic while it holds the discovery lock, as
    /// a bug would.
    #[cfg(test)]
    fn fail_opener(&self) {
        use std::io::Write;
        let stop = self.stop.as_ref().expect("running");
        (&*stop).write_all(&[FAIL]).unwrap();
    }
}

/// Sets a write watch on the open file `fd` (generation `id`).
fn watch_open_file(
    watches: &mut Watches,
    path: &Path,
    id: FileId,
    fd: BorrowedFd<'_>,
) -> io::Result<WatchDescriptor> {
    let by_fd = PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()));
    match watches.add(&by_fd, FILE_CHANGES) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        result => return result,
    }
    // No /proc: a watch by path is on whatever the path names when it is
    // set, which is this generation only if the path names it before and
    // after.
    let names_it = || fs::metadata(path).is_ok_and(|m| file_id(&m) == id);
    if names_it() {
        let wd = watches.add(path, FILE_CHANGES)?;
        if names_it() {
            return Ok(wd);
        }
        let _ = watches.remove(wd);
    }
    Err(io::Error::other(
        "/proc is not mounted, and the open file is no longer at the path",
    ))
}

impl Drop for InotifyWatch {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A directory to watch, for an inotify mask (see [`dirs::Wanted`]).
type Wanted = dirs::Wanted<WatchMask>;

/// A directory watch that is set.
struct Watched {
    wanted: Wanted,
    wd: WatchDescriptor,
}

impl Watched {
    /// Whether an event about `name` (`None`: the directory itself) may
    /// change what the path names.
    fn concerns(&self, name: Option<&OsStr>) -> bool {
        self.wanted.concerns(name)
    }
}

/// The watches, for `mask`, of the directories `path` depends on, with
/// which directory each is now; and, with `parents`, of their parents.
fn directories_to_watch(path: &Path, mask: WatchMask, parents: bool) -> Vec<Wanted> {
    dirs::directories_to_watch(path, mask, parents.then_some(ENTRY_CHANGES))
}

/// Makes `watches` cover exactly `wanted`; says whether anything changed.
fn update(
    watches: &mut Watches,
    current: &mut Vec<Watched>,
    wanted: &[Wanted],
) -> Result<bool, (PathBuf, io::Error)> {
    let before = current.len();
    current.retain(|watched| {
        let keep = wanted.contains(&watched.wanted);
        if !keep {
            // Gone already if the directory was deleted: nothing to undo.
            let _ = watches.remove(watched.wd.clone());
        }
        keep
    });
    let mut changed = current.len() != before;
    for want in wanted {
        if !current.iter().any(|w| w.wanted == *want) {
            let wd = watches
                .add(&want.dir, want.mask)
                .map_err(|e| (want.dir.clone(), e))?;
            current.push(Watched {
                wanted: want.clone(),
                wd,
            });
            changed = true;
        }
    }
    Ok(changed)
}

/// The opener thread: sleeps until something is created in a watched
/// directory (or the follower is dropped), then looks for a new generation.
/// Returns (ending the thread) when asked to, or with why it cannot go on.
fn open_new_generations(
    mut creations: Inotify,
    stop: PipeReader,
    discovery: Arc<Mutex<Discovery>>,
) -> Result<(), String> {
    let mut buffer = vec![0; EVENT_BUFFER];
    loop {
        let mut fds = [
            PollFd::new(&creations, PollFlags::IN),
            PollFd::new(&stop, PollFlags::IN),
        ];
        match poll(&mut fds, None) {
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(format!("waiting for notifications failed: {e}")),
        }
        if !fds[1].revents().is_empty() {
            #[cfg(test)]
            fail_if_asked(&stop, &discovery);
            return Ok(());
        }
        let created = take_events(&mut creations, &mut buffer)
            .map_err(|e| format!("reading notifications failed: {e}"))?;
        if created {
            // Errors are the reader's to report when it looks itself.
            let _ = discovery::look(&discovery);
        }
    }
}

/// Takes every pending event; says whether there was any (an overflow
/// included: any event is a reason to look).
fn take_events(inotify: &mut Inotify, buffer: &mut [u8]) -> io::Result<bool> {
    let mut any = false;
    loop {
        match inotify.read_events(buffer) {
            Ok(events) => any |= events.count() > 0,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(any),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// The byte that [`InotifyWatch::fail_opener`] sends down the stop pipe.
#[cfg(test)]
const FAIL: u8 = b'!';

/// The opener thread's failure on demand, for tests: a panic while holding
/// the discovery lock, which poisons it.
#[cfg(test)]
fn fail_if_asked(stop: &PipeReader, discovery: &Mutex<Discovery>) {
    use std::io::Read;
    let mut byte = [0];
    if matches!((&*stop).read(&mut byte), Ok(1)) && byte[0] == FAIL {
        let _held = discovery.lock();
        panic!("failing as the test asked");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    #[test]
    fn watches_the_parent_and_a_symlink_targets_directory() {
        let root = tempfile::tempdir().unwrap();
        let root_path = fs::canonicalize(root.path()).unwrap();
        let a = root_path.join("a");
        let b = root_path.join("b");
        fs::create_dir_all(&a).unwrap();
        fs::create_dir_all(&b).unwrap();
        let dirs = |path: &Path| -> Vec<PathBuf> {
            directories_to_watch(path, CHANGES, false)
                .into_iter()
                .map(|w| w.dir)
                .collect()
        };
        assert_eq!(dirs(&a.join("change.log")), vec![a.clone()]);
        std::os::unix::fs::symlink(b.join("real.log"), a.join("link.log")).unwrap();
        assert_eq!(dirs(&a.join("link.log")), vec![a.clone(), b.clone()]);
        assert_eq!(
            dirs(&root_path.join("missing/deeper/change.log")),
            vec![root_path.clone()]
        );
    }

    #[test]
    fn with_no_file_at_the_path_the_directorys_parent_is_watched_for_its_entry() {
        let root = tempfile::tempdir().unwrap();
        let root_path = fs::canonicalize(root.path()).unwrap();
        let spool = root_path.join("spool");
        fs::create_dir(&spool).unwrap();
        let path = spool.join("change.log");
        assert!(names_no_file(&path));
        let wanted = directories_to_watch(&path, CHANGES, true);
        assert_eq!(wanted.len(), 2);
        assert_eq!(wanted[0].dir, root_path);
        assert_eq!(wanted[0].mask, ENTRY_CHANGES);
        assert_eq!(wanted[0].names, Some(vec![OsString::from("spool")]));
        assert_eq!(wanted[1].dir, spool);
        assert_eq!(wanted[1].names, Some(vec![OsString::from("change.log")]));
        fs::write(&path, b"").unwrap();
        assert!(!names_no_file(&path));
    }

    #[test]
    fn a_directory_created_again_is_a_new_directory() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("spool");
        fs::create_dir(&dir).unwrap();
        let before = directories_to_watch(&dir.join("change.log"), CHANGES, false);
        // Keep the first inode in use so the new directory cannot reuse it.
        fs::rename(&dir, root.path().join("old")).unwrap();
        fs::create_dir(&dir).unwrap();
        let after = directories_to_watch(&dir.join("change.log"), CHANGES, false);
        assert_eq!(before[0].dir, after[0].dir);
        assert_ne!(before[0].id, after[0].id);
    }

    #[test]
    fn a_mount_change_told_with_notifications_of_other_files_is_looked_at() {
        let root = tempfile::tempdir().unwrap();
        let path: Arc<Path> = Arc::from(root.path().join("change.log"));
        fs::write(&path, b"").unwrap();
        let discovery = Arc::new(Mutex::new(Discovery::new(Arc::clone(&path))));
        let mut watch = InotifyWatch::new(&path, discovery).unwrap();
        // A file made beside the changelog: nothing to look at for that.
        fs::write(root.path().join("other"), b"x").unwrap();
        let drained = watch
            .drain(Ready::of_indices(&[InotifyWatch::CHANGES]))
            .unwrap();
        assert!(!drained.relevant && !drained.path_changed, "{drained:?}");
        // The same, as the mount table changed (a mount over the directory
        // would hide the file being read): look at the path.
        fs::write(root.path().join("another"), b"x").unwrap();
        let ready = Ready::of_indices(&[InotifyWatch::CHANGES, InotifyWatch::MOUNTS]);
        let drained = watch.drain(ready).unwrap();
        assert!(drained.relevant && drained.path_changed, "{drained:?}");
    }

    #[test]
    fn local_filesystems_have_notifications() {
        let root = tempfile::tempdir().unwrap();
        assert_eq!(
            dirs::unsupported_filesystem(&root.path().join("change.log")),
            None
        );
    }
}
