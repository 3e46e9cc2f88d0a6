//! Which directories decide what the changelog's path names: shared by
//! both notification backends ([`inotify`](super::inotify) on Linux, the
//! `notify` crate's watcher, [`portable`](super::portable)), so that both
//! watch the same places.
//!
//! The watched set is the changelog's directory and, when the path is a
//! symlink, its target's directory; a directory that does not exist yet is
//! stood in for by its nearest existing ancestor, so that its creation is
//! seen. While the path names no file, the parents of those directories
//! are wanted too, for their entry (see the [`inotify`](super::inotify)
//! backend for why).

use crate::follow::discovery::{file_id, is_missing};
use crate::position::FileId;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io;
use std::ops::BitOr;
use std::path::{Path, PathBuf};

/// A directory to watch: where, which directory that is now (a directory
/// deleted and created again is a new one, whose watch must be set anew),
/// for what (`M`: the backend's mask), and which of its entries matter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Wanted<M> {
    pub(super) dir: PathBuf,
    pub(super) id: FileId,
    pub(super) mask: M,
    /// The entries whose changes matter; `None`: any entry.
    pub(super) names: Option<Vec<OsString>>,
}

impl<M> Wanted<M> {
    /// Whether an event about `name` (`None`: the directory itself) may
    /// change what the path names.
    pub(super) fn concerns(&self, name: Option<&OsStr>) -> bool {
        match (name, &self.names) {
            (None, _) | (_, None) => true,
            (Some(name), Some(names)) => names.iter().any(|n| n == name),
        }
    }
}

/// The directories whose entries decide what `path` names, each with the
/// entry in it that matters (`None`: cannot be told, any entry may).
fn entries_to_watch(path: &Path) -> Vec<(PathBuf, Option<OsString>)> {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut entries = vec![nearest_existing_dir(&absolute)];
    if fs::symlink_metadata(&absolute).is_ok_and(|m| m.file_type().is_symlink()) {
        let target = fs::read_link(&absolute).map(|t| match absolute.parent() {
            Some(parent) => parent.join(t),
            None => t,
        });
        if let Ok(target) = target {
            entries.push(nearest_existing_dir(&target));
        }
    }
    entries
}

/// The watches, for `mask`, of the directories `path` depends on, with
/// which directory each is now; and, with `parents` (the mask for them), of
/// their parents.
pub(super) fn directories_to_watch<M>(path: &Path, mask: M, parents: Option<M>) -> Vec<Wanted<M>>
where
    M: Copy + BitOr<Output = M>,
{
    let mut wanted = Vec::new();
    for (dir, name) in entries_to_watch(path) {
        if let Some(entry_mask) = parents
            && let Some(parent) = dir.parent()
        {
            let entry = dir.file_name().map(OsStr::to_os_string);
            want(&mut wanted, parent.to_path_buf(), entry_mask, entry);
        }
        want(&mut wanted, dir, mask, name);
    }
    wanted
}

/// Whether the path names no file now: its directory may be deleted or
/// replaced next, and only the directory's parent can tell.
pub(super) fn names_no_file(path: &Path) -> bool {
    fs::metadata(path).map_or(true, |m| m.is_dir())
}

/// Adds a watch of `dir` for `mask` and the entry `name` to `wanted`. One
/// inode has one watch per inotify instance (setting a second replaces the
/// first's mask), so two spellings of one directory are merged into one.
fn want<M>(wanted: &mut Vec<Wanted<M>>, dir: PathBuf, mask: M, name: Option<OsString>)
where
    M: Copy + BitOr<Output = M>,
{
    let id = match again(|| fs::metadata(&dir)) {
        Ok(meta) => file_id(&meta),
        // Gone since it was looked at: the next refresh sees what is there.
        Err(e) if is_missing(&e) => return,
        // There, but it cannot be looked at: watched all the same (see
        // `unknown_id`).
        Err(_) => unknown_id(&dir),
    };
    let Some(same) = wanted.iter_mut().find(|w| w.id == id) else {
        wanted.push(Wanted {
            dir,
            id,
            mask,
            names: name.map(|n| vec![n]),
        });
        return;
    };
    same.mask = same.mask | mask;
    match (&mut same.names, name) {
        (Some(names), Some(name)) if !names.contains(&name) => names.push(name),
        (names, None) => *names = None,
        _ => {}
    }
}

/// The directory holding `path`'s entry (canonicalised, so that two
/// spellings of one directory are one watch) with the entry's name; if that
/// directory is missing, its closest existing ancestor, with the name of
/// the missing directory in it, whose creation is the next step.
fn nearest_existing_dir(path: &Path) -> (PathBuf, Option<OsString>) {
    let mut name = path.file_name().map(OsStr::to_os_string);
    let mut dir = path.parent().unwrap_or(Path::new("/"));
    loop {
        // Only a directory known to be missing (or not a directory) sends
        // the watch up to its parent: one that is there but cannot be
        // looked at is the one (see `unknown_id`).
        match again(|| fs::canonicalize(dir)) {
            Ok(canonical) => match again(|| fs::metadata(&canonical)) {
                Ok(meta) if meta.is_dir() => return (canonical, name),
                Ok(_) => {}
                Err(e) if is_missing(&e) => {}
                Err(_) => return (canonical, name),
            },
            Err(e) if is_missing(&e) => {}
            Err(_) => return (dir.to_path_buf(), name),
        }
        name = dir.file_name().map(OsStr::to_os_string);
        match dir.parent() {
            Some(parent) => dir = parent,
            None => return (PathBuf::from("/"), name),
        }
    }
}

/// An identity for a directory that is there but cannot be looked at
/// (its `stat` fails for a reason other than its absence, look after
/// look): one no real directory has, and one per path, so that it is not
/// merged with another. The directory stays wanted, so its watch is set
/// anew on the path: if that works, notifications go on; if it fails, the
/// backend says so and polling takes over. Dropped instead, the directory
/// would take with it the notifications that would bring it back, and the
/// follower would wait for ever without a word (found by the fault
/// matrix, `tests/faults.rs`).
fn unknown_id(dir: &Path) -> FileId {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::hash::DefaultHasher::new();
    dir.hash(&mut hasher);
    FileId {
        dev: u64::MAX,
        ino: hasher.finish(),
        born: None,
    }
}

/// How many times a look at a directory is made before a failure that is
/// not its absence is believed.
const LOOKS: usize = 3;

/// `look`, made again when it fails for a reason other than the path being
/// missing (an I/O error, a permission refused for a moment, a signal).
/// A directory that is there but taken for gone would lose its watch, and
/// with it every notification that would set it again: the follower would
/// wait for ever (found by the fault matrix, `tests/faults.rs`).
fn again<T>(look: impl Fn() -> io::Result<T>) -> io::Result<T> {
    let mut result = look();
    for _ in 1..LOOKS {
        match &result {
            Err(e) if !is_missing(e) => result = look(),
            _ => break,
        }
    }
    result
}

/// Why notifications cannot be trusted for `path`'s directory, if they
/// cannot: network and user-space filesystems do not report changes made
/// elsewhere (coreutils' `tail` polls on these too). Told by `statfs`'s
/// filesystem type, which is Linux's numbering.
#[cfg(target_os = "linux")]
pub(super) fn unsupported_filesystem(path: &Path) -> Option<String> {
    let absolute = std::path::absolute(path).ok()?;
    let (dir, _) = nearest_existing_dir(&absolute);
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

/// Elsewhere the filesystem is not told apart (its type numbers are
/// Linux's): notifications are trusted, and `--poll` is the way out on a
/// network filesystem.
#[cfg(not(target_os = "linux"))]
pub(super) fn unsupported_filesystem(_path: &Path) -> Option<String> {
    None
}
