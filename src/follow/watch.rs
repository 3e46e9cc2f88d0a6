//! Filesystem notifications (inotify) for the changelog.
//!
//! We watch directories, not the file: a delete-and-recreate shows up as
//! events on the directory, while a watch on the file dies with it. The
//! watched set is the changelog's directory and, when the path is a
//! symlink, its target's directory; a directory that does not exist yet is
//! stood in for by its nearest existing ancestor, so that its creation is
//! seen.
//!
//! Two inotify instances watch the same directories:
//!
//! - *changes* (writes, creations, deletions, renames) is read only by the
//!   reader, when it is about to sleep. While it is busy the kernel merges
//!   repeated write events, so a fast writer costs nothing here, and the
//!   reader wakes straight from the kernel, with no thread in between.
//! - *creations* (create, rename-to) is read by a small thread that opens a
//!   new generation the moment it appears, so that a reader busy elsewhere
//!   (a slow consumer, a burst of rotations) still gets every file before
//!   the writer deletes it (FOLLOWING.md).
//!
//! Notifications are hints: after any of them the reader looks at the
//! filesystem itself. A kernel queue overflow is just such a hint.
//!
//! (SPEC §2 names the `notify` crate. Its single event thread sees every
//! write as an event and cannot be told otherwise, which under a fast
//! rotating writer delays the creation events until generations are lost;
//! so we use `inotify`, the crate `notify` itself uses on Linux, directly.)

use super::discovery::Discovery;
use crate::error::Error;
use inotify::{Inotify, WatchDescriptor, WatchMask, Watches};
use rustix::event::{PollFd, PollFlags, poll};
use std::fs;
use std::io::{self, PipeReader, PipeWriter};
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// What wakes the reader.
const CHANGES: WatchMask = WatchMask::MODIFY
    .union(WatchMask::CLOSE_WRITE)
    .union(WatchMask::ATTRIB)
    .union(WatchMask::CREATE)
    .union(WatchMask::DELETE)
    .union(WatchMask::MOVED_FROM)
    .union(WatchMask::MOVED_TO)
    .union(WatchMask::DELETE_SELF)
    .union(WatchMask::MOVE_SELF);

/// What makes the opener thread look for a new generation.
const CREATIONS: WatchMask = WatchMask::CREATE.union(WatchMask::MOVED_TO);

/// Room for a few hundred events per read.
const EVENT_BUFFER: usize = 16 * 1024;

/// The live watches of one follower.
pub(super) struct Watch {
    changes: Inotify,
    change_watches: Vec<(PathBuf, WatchDescriptor)>,
    creations: Watches,
    creation_watches: Vec<(PathBuf, WatchDescriptor)>,
    /// Closing it tells the opener thread to end.
    stop: Option<PipeWriter>,
    opener: Option<JoinHandle<()>>,
    buffer: Vec<u8>,
}

impl Watch {
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
        let (stop_reader, stop) = std::io::pipe().map_err(fail)?;
        let opener = std::thread::Builder::new()
            .name("changelog-opener".into())
            .spawn(move || open_new_generations(creations, stop_reader, discovery))
            .map_err(fail)?;
        let mut watch = Watch {
            changes,
            change_watches: Vec::new(),
            creations: creation_handle,
            creation_watches: Vec::new(),
            stop: Some(stop),
            opener: Some(opener),
            buffer: vec![0; EVENT_BUFFER],
        };
        watch.refresh(path)?;
        Ok(watch)
    }

    /// The descriptor that becomes readable when something changed.
    pub(super) fn fd(&self) -> BorrowedFd<'_> {
        self.changes.as_fd()
    }

    /// Takes every pending notification: one look at the filesystem answers
    /// them all.
    pub(super) fn drain(&mut self) -> io::Result<()> {
        loop {
            match self.changes.read_events(&mut self.buffer) {
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Brings the watched directories in line with what `path` names now
    /// (after a rotation, a re-pointed symlink, a directory appearing).
    pub(super) fn refresh(&mut self, path: &Path) -> Result<(), Error> {
        let wanted = directories_to_watch(path);
        let fail = |dir: &Path, source: io::Error| Error::Watch {
            path: Arc::from(dir),
            source,
        };
        update(
            &mut self.changes.watches(),
            &mut self.change_watches,
            &wanted,
            CHANGES,
        )
        .map_err(|(dir, e)| fail(&dir, e))?;
        update(
            &mut self.creations,
            &mut self.creation_watches,
            &wanted,
            CREATIONS,
        )
        .map_err(|(dir, e)| fail(&dir, e))
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(opener) = self.opener.take() {
            let _ = opener.join();
        }
    }
}

/// Makes `watches` cover exactly `wanted`.
fn update(
    watches: &mut Watches,
    current: &mut Vec<(PathBuf, WatchDescriptor)>,
    wanted: &[PathBuf],
    mask: WatchMask,
) -> Result<(), (PathBuf, io::Error)> {
    current.retain(|(dir, wd)| {
        let keep = wanted.contains(dir);
        if !keep {
            // Gone already if the directory was deleted: nothing to undo.
            let _ = watches.remove(wd.clone());
        }
        keep
    });
    for dir in wanted {
        if !current.iter().any(|(watched, _)| watched == dir) {
            let wd = watches.add(dir, mask).map_err(|e| (dir.clone(), e))?;
            current.push((dir.clone(), wd));
        }
    }
    Ok(())
}

/// The opener thread: sleeps until something is created in a watched
/// directory (or the follower is dropped), then looks for a new generation.
fn open_new_generations(
    mut creations: Inotify,
    stop: PipeReader,
    discovery: Arc<Mutex<Discovery>>,
) {
    let mut buffer = vec![0; EVENT_BUFFER];
    loop {
        let mut fds = [
            PollFd::new(&creations, PollFlags::IN),
            PollFd::new(&stop, PollFlags::IN),
        ];
        match poll(&mut fds, None) {
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return,
        }
        if !fds[1].revents().is_empty() {
            return;
        }
        let mut created = false;
        loop {
            match creations.read_events(&mut buffer) {
                // Any event (an overflow included) is a reason to look.
                Ok(events) => created |= events.count() > 0,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        if created && let Ok(mut discovery) = discovery.lock() {
            // Errors are the reader's to report when it looks itself.
            let _ = discovery.look();
        }
    }
}

/// The directories whose entries decide what `path` names.
fn directories_to_watch(path: &Path) -> Vec<PathBuf> {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut dirs = vec![nearest_existing_dir(absolute.parent())];
    if fs::symlink_metadata(&absolute).is_ok_and(|m| m.file_type().is_symlink()) {
        let target = fs::read_link(&absolute).map(|t| match absolute.parent() {
            Some(parent) => parent.join(t),
            None => t,
        });
        if let Ok(target) = target {
            let dir = nearest_existing_dir(target.parent());
            if !dirs.contains(&dir) {
                dirs.push(dir);
            }
        }
    }
    dirs
}

/// `dir` if it exists, else its closest existing ancestor, canonicalised
/// so that two spellings of one directory are one watch.
fn nearest_existing_dir(dir: Option<&Path>) -> PathBuf {
    let mut dir = dir.unwrap_or(Path::new("/"));
    loop {
        if let Ok(canonical) = fs::canonicalize(dir)
            && canonical.is_dir()
        {
            return canonical;
        }
        match dir.parent() {
            Some(parent) => dir = parent,
            None => return PathBuf::from("/"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watches_the_parent_and_a_symlink_targets_directory() {
        let root = tempfile::tempdir().unwrap();
        let root_path = fs::canonicalize(root.path()).unwrap();
        let a = root_path.join("a");
        let b = root_path.join("b");
        fs::create_dir_all(&a).unwrap();
        fs::create_dir_all(&b).unwrap();
        assert_eq!(directories_to_watch(&a.join("change.log")), vec![a.clone()]);
        std::os::unix::fs::symlink(b.join("real.log"), a.join("link.log")).unwrap();
        assert_eq!(
            directories_to_watch(&a.join("link.log")),
            vec![a.clone(), b.clone()]
        );
        assert_eq!(
            directories_to_watch(&root_path.join("missing/deeper/change.log")),
            vec![root_path.clone()]
        );
    }
}
