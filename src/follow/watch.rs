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
//!   the writer deletes it (see `doc/design.md`).
//!
//! Notifications are hints: after any of them the reader looks at the
//! filesystem itself. A kernel queue overflow is just such a hint.
//!
//! (The design card named the `notify` crate. Its single event thread sees every
//! write as an event and cannot be told otherwise, which under a fast
//! rotating writer delays the creation events until generations are lost;
//! so we use `inotify`, the crate `notify` itself uses on Linux, directly.)

use super::discovery::{Discovery, file_id};
use crate::error::Error;
use crate::position::FileId;
use inotify::{EventMask, Inotify, WatchDescriptor, WatchMask, Watches};
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
    change_watches: Vec<Watched>,
    creations: Watches,
    creation_watches: Vec<Watched>,
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
    /// them all. Says whether the kernel's queue overflowed.
    pub(super) fn drain(&mut self) -> io::Result<bool> {
        let mut overflowed = false;
        loop {
            match self.changes.read_events(&mut self.buffer) {
                Ok(events) => {
                    for event in events {
                        overflowed |= event.mask.contains(EventMask::Q_OVERFLOW);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(overflowed),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Brings the watched directories in line with what `path` names now
    /// (after a rotation, a re-pointed symlink, a directory deleted or
    /// created). Says whether any watch changed.
    pub(super) fn refresh(&mut self, path: &Path) -> Result<bool, Error> {
        let wanted = directories_to_watch(path);
        let fail = |(dir, source): (PathBuf, io::Error)| Error::Watch {
            path: Arc::from(dir.as_path()),
            source,
        };
        let changes = update(
            &mut self.changes.watches(),
            &mut self.change_watches,
            &wanted,
            CHANGES,
        )
        .map_err(fail)?;
        let creations = update(
            &mut self.creations,
            &mut self.creation_watches,
            &wanted,
            CREATIONS,
        )
        .map_err(fail)?;
        Ok(changes || creations)
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

/// A watched directory: its path, which directory that was (a directory
/// deleted and created again is a new one, whose watch must be set anew),
/// and the watch.
type Watched = (PathBuf, FileId, WatchDescriptor);

/// Makes `watches` cover exactly `wanted`; says whether anything changed.
fn update(
    watches: &mut Watches,
    current: &mut Vec<Watched>,
    wanted: &[(PathBuf, FileId)],
    mask: WatchMask,
) -> Result<bool, (PathBuf, io::Error)> {
    let before = current.len();
    current.retain(|(dir, id, wd)| {
        let keep = wanted.iter().any(|(d, i)| d == dir && i == id);
        if !keep {
            // Gone already if the directory was deleted: nothing to undo.
            let _ = watches.remove(wd.clone());
        }
        keep
    });
    let mut changed = current.len() != before;
    for (dir, id) in wanted {
        if !current.iter().any(|(d, i, _)| d == dir && i == id) {
            let wd = watches.add(dir, mask).map_err(|e| (dir.clone(), e))?;
            current.push((dir.clone(), *id, wd));
            changed = true;
        }
    }
    Ok(changed)
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

/// The directories whose entries decide what `path` names, with which
/// directory each is now.
fn directories_to_watch(path: &Path) -> Vec<(PathBuf, FileId)> {
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
    dirs.into_iter()
        .filter_map(|dir| {
            let id = file_id(&fs::metadata(&dir).ok()?);
            Some((dir, id))
        })
        .collect()
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

/// Why notifications cannot be trusted for `path`'s directory, if they
/// cannot: network and user-space filesystems do not report changes made
/// elsewhere (coreutils' `tail` polls on these too).
pub(super) fn unsupported_filesystem(path: &Path) -> Option<String> {
    let absolute = std::path::absolute(path).ok()?;
    let dir = nearest_existing_dir(absolute.parent());
    let kind = rustix::fs::statfs(&dir).ok()?.f_type as i64 as u32;
    let name = match kind {
        0x6969 => "NFS",
        0x517b => "SMB",
        0xff53_4d42 => "CIFS",
        0xfe53_4d42 => "SMB2",
        0x6573_5546 => "FUSE",
        0x0102_1997 => "9P",
        0x5346_414f => "AFS",
        0x0bd0_0bd0 => "Lustre",
        0x00c3_6400 => "Ceph",
        0x0116_1970 => "GFS2",
        0x7461_636f => "OCFS2",
        0x786f_4256 => "VirtualBox shared folder",
        _ => return None,
    };
    Some(format!(
        "{} is on {name}, which does not report changes made by other hosts",
        dir.display()
    ))
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
        let dirs = |path: &Path| -> Vec<PathBuf> {
            directories_to_watch(path)
                .into_iter()
                .map(|(d, _)| d)
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
    fn a_directory_created_again_is_a_new_directory() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("spool");
        fs::create_dir(&dir).unwrap();
        let before = directories_to_watch(&dir.join("change.log"));
        // Keep the first inode in use so the new directory cannot reuse it.
        fs::rename(&dir, root.path().join("old")).unwrap();
        fs::create_dir(&dir).unwrap();
        let after = directories_to_watch(&dir.join("change.log"));
        assert_eq!(before[0].0, after[0].0);
        assert_ne!(before[0].1, after[0].1);
    }

    #[test]
    fn local_filesystems_have_notifications() {
        let root = tempfile::tempdir().unwrap();
        assert_eq!(
            unsupported_filesystem(&root.path().join("change.log")),
            None
        );
    }
}
