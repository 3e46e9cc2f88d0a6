//! Where a line is: which file (generation) and where in it.
//!
//! A leaf module: the small types that the reader, the iterator, the
//! errors and the resume state all speak of, so that none of those has to
//! import another for them.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// Identifies one file (one *generation* of the changelog): a new file at
/// the same path has a new identity even if it has the same name.
///
/// Inode numbers are reused (on ext4, often at once): the birth time, where
/// the filesystem records one, tells a new file with an old number from the
/// old file; where it does not, an identity alone does not prove that a
/// file is the one seen before (see [`Checkpoint`](crate::Checkpoint)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct FileId {
    /// Device number.
    pub dev: u64,
    /// Inode number.
    pub ino: u64,
    /// Birth time in nanoseconds since the Unix epoch, if known.
    #[serde(default)]
    pub born: Option<u64>,
}

impl FileId {
    /// The identity of the file `meta` describes.
    pub(crate) fn of(meta: &std::fs::Metadata) -> Self {
        use std::os::unix::fs::MetadataExt;
        let born = meta
            .created()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .and_then(|d| u64::try_from(d.as_nanos()).ok());
        FileId {
            dev: meta.dev(),
            ino: meta.ino(),
            born,
        }
    }

    /// Whether `other` names the same file as far as can be told: same
    /// device and inode, and the same birth time where both know one.
    pub fn same_file(&self, other: &FileId) -> bool {
        self.dev == other.dev
            && self.ino == other.ino
            && (self.born.is_none() || other.born.is_none() || self.born == other.born)
    }
}

/// Where a line starts: file, 1-based line number, byte offset.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Location {
    /// The file the line was read from (the path it was opened by).
    pub path: Arc<Path>,
    /// 1-based line number within that file generation.
    pub line: u64,
    /// Byte offset of the line's first byte within the file.
    pub offset: u64,
}

impl Location {
    pub(crate) fn new(path: &Arc<Path>, line: u64, offset: u64) -> Self {
        Location {
            path: Arc::clone(path),
            line,
            offset,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} line {} (byte {})",
            crate::escape::path(self.path.as_os_str()),
            self.line,
            self.offset
        )
    }
}

/// A complete line a source has ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LineInfo {
    /// 1-based line number in its file.
    pub(crate) line: u64,
    /// Byte offset of the line's first byte.
    pub(crate) offset: u64,
    /// Byte offset just past the line's `\n`.
    pub(crate) end: u64,
    /// The file it was read from, if a file.
    pub(crate) file: Option<FileId>,
}
