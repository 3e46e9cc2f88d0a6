//! Filesystem notifications (inotify through `notify`) for the changelog.
//!
//! We watch directories, not the file: a delete-and-recreate shows up as
//! events on the directory, while a watch on the file dies with it. The
//! watched set is the changelog's directory and, when the path is a
//! symlink, its target's directory; a directory that does not exist yet is
//! stood in for by its nearest existing ancestor, so its creation is seen.
//!
//! Notifications are only hints that something changed: each one wakes the
//! reader, which then looks at the filesystem itself. A kernel queue
//! overflow (notify's `Rescan` flag) is just such a hint.

use super::discovery::Discovery;
use crate::error::Error;
use crate::wake::Waker;
use notify::event::{AccessKind, ModifyKind};
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The live watches of one follower.
pub(super) struct Watch {
    watcher: RecommendedWatcher,
    watched: Vec<PathBuf>,
}

impl Watch {
    /// Starts watching the directories `path` depends on. Events wake
    /// `waker`; a created or renamed entry makes the notification thread
    /// open the new generation at once through `discovery`, so that a
    /// reader busy elsewhere does not miss a short-lived file.
    pub(super) fn new(
        path: &Arc<Path>,
        discovery: Arc<Mutex<Discovery>>,
        waker: Waker,
    ) -> Result<Self, Error> {
        let handler = move |res: notify::Result<notify::Event>| {
            let look = match &res {
                // Our own opens of the changelog must not wake us.
                Ok(event) if matches!(event.kind, EventKind::Access(AccessKind::Open(_))) => {
                    return;
                }
                Ok(event) => {
                    event.need_rescan()
                        || matches!(
                            event.kind,
                            EventKind::Create(_)
                                | EventKind::Modify(ModifyKind::Name(_))
                                | EventKind::Any
                                | EventKind::Other
                        )
                }
                Err(_) => true,
            };
            if look && let Ok(mut discovery) = discovery.lock() {
                // Errors are the reader's to report when it looks itself.
                let _ = discovery.look();
            }
            waker.wake();
        };
        let watcher = notify::recommended_watcher(handler).map_err(|source| Error::Watch {
            path: Arc::clone(path),
            source,
        })?;
        let mut watch = Watch {
            watcher,
            watched: Vec::new(),
        };
        watch.refresh(path)?;
        Ok(watch)
    }

    /// Brings the watched directories in line with what `path` names now
    /// (after a rotation, a re-pointed symlink, a directory appearing).
    pub(super) fn refresh(&mut self, path: &Path) -> Result<(), Error> {
        let wanted = directories_to_watch(path);
        for dir in &self.watched {
            if !wanted.contains(dir) {
                // Gone already if the directory was deleted; nothing to undo.
                let _ = self.watcher.unwatch(dir);
            }
        }
        for dir in &wanted {
            if !self.watched.contains(dir) {
                self.watcher
                    .watch(dir, RecursiveMode::NonRecursive)
                    .map_err(|source| Error::Watch {
                        path: Arc::from(dir.as_path()),
                        source,
                    })?;
            }
        }
        self.watched = wanted;
        Ok(())
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
