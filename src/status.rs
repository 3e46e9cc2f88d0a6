//! Where a reader stands, for a person asking (the command line prints it
//! on SIGUSR1, as `dd` does).
//!
//! The counters are plain integers bumped where the work already happens
//! (a line handed out, an invalid entry, a new file): nothing is measured
//! until asked. Asking costs one `fstat` for the file's size and a lock of
//! the queue of files found.

use crate::position::FileId;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// A snapshot of where a [`ChangelogIterator`](crate::ChangelogIterator)
/// stands and what it has read, from
/// [`ChangelogIterator::status`](crate::ChangelogIterator::status).
///
/// Its [`Display`](fmt::Display) is one line for people, with the path
/// escaped:
/// `PATH (device D, inode I): offset O of S bytes, last seq N, L lines read,
/// V invalid, R rotations followed, H generations held`.
///
/// ```
/// use changelog_tail::{ChangelogIterator, MemorySource};
/// let lines = [r#"{"seq":7,"family":"f","table":"t"}"#, "not json"];
/// let mut it = ChangelogIterator::builder_memory(MemorySource::new(lines)).open()?;
/// while let Some(_) = it.next() {}
/// let status = it.status();
/// assert_eq!((status.last_seq, status.lines, status.invalid), (Some(7), 2, 1));
/// assert_eq!(
///     status.to_string(),
///     "<memory>: offset 44, last seq 7, 2 lines read, 1 invalid, \
///      0 rotations followed, 0 generations held"
/// );
/// # Ok::<(), changelog_tail::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Status {
    /// The changelog's path.
    pub path: Arc<Path>,
    /// The file being read (its device and inode); `None` for a source
    /// that is not a file.
    pub file: Option<FileId>,
    /// Where the next line starts in that file: every line before it was
    /// handed out (or reported).
    pub offset: u64,
    /// The file's size now (asked when the status was made); `None` when
    /// not a file, or when the system would not say.
    pub size: Option<u64>,
    /// The `seq` the next event is checked against (see
    /// [`ChangelogIterator::last_seq`](crate::ChangelogIterator::last_seq)).
    pub last_seq: Option<i64>,
    /// Complete lines read since the iterator was opened, whatever they
    /// held (events of any table, blank lines, invalid entries); lines
    /// passed over to reach where reading starts are not counted.
    pub lines: u64,
    /// Invalid entries met (each was reported as
    /// [`Error::InvalidEntry`](crate::Error::InvalidEntry)).
    pub invalid: u64,
    /// Rotations followed: files moved on to (deleted or renamed and
    /// created again, a symlink re-pointed) and files read again after a
    /// truncation.
    pub rotations: u64,
    /// Newer files found and held open, not yet read (the reader is
    /// behind by at least that many rotations; at most
    /// [`MAX_HELD_GENERATIONS`](crate::MAX_HELD_GENERATIONS)).
    pub held: usize,
}

/// What a source knows of where it stands.
#[derive(Debug, Clone)]
pub(crate) struct SourceStatus {
    pub(crate) file: Option<FileId>,
    pub(crate) offset: u64,
    pub(crate) size: Option<u64>,
    pub(crate) held: usize,
}

/// The counters an iterator keeps for its [`Status`].
#[derive(Debug, Clone, Default)]
pub(crate) struct Counts {
    pub(crate) lines: u64,
    pub(crate) invalid: u64,
    pub(crate) rotations: u64,
}

impl Status {
    pub(crate) fn new(
        path: &Arc<Path>,
        source: SourceStatus,
        counts: &Counts,
        last_seq: Option<i64>,
    ) -> Self {
        Status {
            path: Arc::clone(path),
            file: source.file,
            offset: source.offset,
            size: source.size,
            last_seq,
            lines: counts.lines,
            invalid: counts.invalid,
            rotations: counts.rotations,
            held: source.held,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", crate::escape::path(self.path.as_os_str()))?;
        if let Some(file) = &self.file {
            write!(f, " (device {}, inode {})", file.dev, file.ino)?;
        }
        write!(f, ": offset {}", self.offset)?;
        if let Some(size) = self.size {
            write!(f, " of {size} bytes")?;
        }
        match self.last_seq {
            Some(seq) => write!(f, ", last seq {seq}")?,
            None => f.write_str(", no seq yet")?,
        }
        write!(
            f,
            ", {} lines read, {} invalid, {} rotations followed, {} generations held",
            self.lines, self.invalid, self.rotations, self.held
        )
    }
}
