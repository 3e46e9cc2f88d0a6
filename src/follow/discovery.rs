//! Finding new generations of the changelog and holding them open.
//!
//! Both the notification thread (on a create or rename in a watched
//! directory) and the reader (whenever it reaches the end of its file) ask
//! "does the path name a file we have not opened yet?". Opening happens
//! under one lock, so generations queue in the order they were found, and a
//! generation that the reader has not got to yet is already open: deleting
//! its name can no longer take its lines away (see `doc/design.md`,
//! "Generations").

use crate::error::{Error, FileKind};
use crate::position::FileId;
use rustix::fs::{Mode, OFlags};
use std::collections::VecDeque;
use std::fs::{self, File, Metadata};
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

/// How many found-but-unread generations are held open at most. Past this a
/// new generation is not opened until the reader catches up; if it is gone
/// by then, the `seq` check reports the loss.
pub const MAX_HELD_GENERATIONS: usize = 64;

/// An opened generation waiting to be read. Shared (`Arc`), so that the
/// reader can take a handle under the discovery lock and make its system
/// calls on it after letting go (the opener must never wait for them).
#[derive(Debug)]
pub(super) struct Opened {
    pub(super) file: Arc<File>,
    pub(super) id: FileId,
}

/// The generations found so far and not yet handed to the reader.
#[derive(Debug)]
pub(super) struct Discovery {
    path: Arc<Path>,
    /// The newest generation found (queued or being read).
    newest: Option<FileId>,
    queue: VecDeque<Opened>,
    /// A new generation was left unopened because the queue was full; this
    /// lasts until the queue drains below the cap again.
    capped: bool,
    /// The current `capped` episode was reported.
    told: bool,
    /// How many generations were recorded so far (a reader's look that
    /// raced another is told by it).
    recorded: u64,
}

/// What the path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Presence {
    /// A file (opened, if it is new).
    File,
    /// Nothing (or a directory on the way is missing).
    Missing,
    /// A directory.
    Directory,
}

pub(super) fn file_id(meta: &Metadata) -> FileId {
    FileId::of(meta)
}

impl Discovery {
    pub(super) fn new(path: Arc<Path>) -> Self {
        Discovery {
            path,
            newest: None,
            queue: VecDeque::new(),
            capped: false,
            told: false,
            recorded: 0,
        }
    }

    /// Opens the file the path names now, if it is new, and says what the
    /// path names. A missing path is not an error (the writer may be between
    /// delete and create). See [`look`] for looking without holding a lock
    /// across the system calls.
    pub(super) fn look(&mut self) -> Result<Presence, Error> {
        let probe = probe(&self.path, self.newest, self.is_full())?;
        Ok(self.record(probe))
    }

    fn is_full(&self) -> bool {
        self.queue.len() >= MAX_HELD_GENERATIONS
    }

    /// Takes what a [`probe`] found into the queue.
    fn record(&mut self, probe: Probe) -> Presence {
        match probe {
            Probe::Found(presence) => presence,
            Probe::Opened(opened) if Some(opened.id) == self.newest => Presence::File,
            Probe::Opened(_) | Probe::Capped if self.is_full() => {
                self.capped = true;
                Presence::File
            }
            Probe::Capped => Presence::File,
            Probe::Opened(opened) => {
                self.newest = Some(opened.id);
                self.queue.push_back(opened);
                self.recorded += 1;
                Presence::File
            }
        }
    }

    /// Whether a generation was left unopened because the queue was full:
    /// true once per episode (until the queue drains below the cap again),
    /// so that a reader behind by many files is told once, not at every
    /// look.
    pub(super) fn take_capped(&mut self) -> bool {
        self.capped && !std::mem::replace(&mut self.told, true)
    }

    /// The oldest generation not yet read.
    pub(super) fn pop(&mut self) -> Option<Opened> {
        let oldest = self.queue.pop_front();
        if self.queue.len() < MAX_HELD_GENERATIONS {
            self.capped = false;
            self.told = false;
        }
        oldest
    }

    /// The oldest generation not yet read, left in the queue.
    pub(super) fn front(&self) -> Option<&Opened> {
        self.queue.front()
    }

    /// How many generations newer than the reader's are open and waiting.
    pub(super) fn held(&self) -> usize {
        self.queue.len()
    }

    /// Whether a generation newer than the reader's is waiting.
    pub(super) fn has_queued(&self) -> bool {
        !self.queue.is_empty()
    }

    /// Whether the reader should leave its current file for the next one:
    /// a newer generation exists and has data (or has itself been replaced).
    /// Waiting for data lets a writer that renamed the old file finish its
    /// last lines there before it reopens.
    pub(super) fn next_is_ready(shared: &Mutex<Discovery>) -> io::Result<bool> {
        let next = {
            let discovery = shared.lock().unwrap_or_else(PoisonError::into_inner);
            match discovery.queue.front() {
                None => return Ok(false),
                Some(_) if discovery.queue.len() > 1 => return Ok(true),
                Some(next) => Arc::clone(&next.file),
            }
        };
        // Asked with the lock let go (see `Opened`).
        Ok(next.metadata()?.len() > 0)
    }
}

/// The reader's look at the path: as [`Discovery::look`], with the lock
/// held only to read and to record the queue's state, never across a system
/// call. The opener thread (which looks with [`Discovery::look`], under the
/// lock) must never wait for a reader that was preempted while holding it:
/// a file that lives a millisecond would be gone by then. If anything was recorded while the reader looked, what
/// the reader found is dropped: the other look came later, and recording an
/// older file after a newer one would break their order.
pub(super) fn look(shared: &Mutex<Discovery>) -> Result<Presence, Error> {
    let lock = || shared.lock().unwrap_or_else(PoisonError::into_inner);
    let (path, newest, full, recorded) = {
        let discovery = lock();
        let path = Arc::clone(&discovery.path);
        (
            path,
            discovery.newest,
            discovery.is_full(),
            discovery.recorded,
        )
    };
    let probe = probe(&path, newest, full)?;
    let mut discovery = lock();
    if discovery.recorded != recorded {
        return Ok(Presence::File);
    }
    Ok(discovery.record(probe))
}

/// What a look at the path found, before it is recorded.
enum Probe {
    /// Nothing new to open: what the path names.
    Found(Presence),
    /// A new file, left unopened: the queue was full.
    Capped,
    /// A file, opened (new, unless someone else recorded it meanwhile).
    Opened(Opened),
}

/// Looks at `path` and opens the file there if it is not `newest` (and
/// `full` does not forbid it). No lock held: only system calls.
fn probe(path: &Arc<Path>, newest: Option<FileId>, full: bool) -> Result<Probe, Error> {
    let meta = match fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if is_missing(&e) => return Ok(Probe::Found(Presence::Missing)),
        Err(e) => return Err(Error::io(path, e)),
    };
    if meta.is_dir() {
        return Ok(Probe::Found(Presence::Directory));
    }
    // Refused before opening: opening a device can have effects (a tape
    // rewinds), and a socket cannot be opened at all.
    refuse_special(path, &meta)?;
    if Some(file_id(&meta)) == newest {
        return Ok(Probe::Found(Presence::File));
    }
    if full {
        return Ok(Probe::Capped);
    }
    let file = match open_without_blocking(path) {
        Ok(file) => file,
        Err(e) if is_missing(&e) => return Ok(Probe::Found(Presence::Missing)),
        Err(e) => return Err(Error::io(path, e)),
    };
    // The path may have moved on between stat and open: the opened file
    // is what counts.
    let meta = file.metadata().map_err(|e| Error::io(path, e))?;
    if meta.is_dir() {
        return Ok(Probe::Found(Presence::Directory));
    }
    refuse_special(path, &meta)?;
    clear_nonblocking(&file).map_err(|e| Error::io(path, e))?;
    Ok(Probe::Opened(Opened {
        file: Arc::new(file),
        id: file_id(&meta),
    }))
}

/// Fails if the path names a FIFO, socket or device: such a thing has no
/// generations to follow, and reading it as one would block or fail.
fn refuse_special(path: &Arc<Path>, meta: &Metadata) -> Result<(), Error> {
    match FileKind::of(meta.file_type()) {
        Some(kind) => Err(Error::NotARegularFile {
            path: Arc::clone(path),
            kind,
        }),
        None => Ok(()),
    }
}

/// Opens `path` for reading in a way that never blocks: a FIFO with no
/// writer (or a device) would otherwise hold `open` forever, beyond the
/// reach of cancellation, and in the opener thread with the discovery lock
/// held. What was opened is checked before it is used.
fn open_without_blocking(path: &Path) -> io::Result<File> {
    let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
    loop {
        match rustix::fs::open(path, flags, Mode::empty()) {
            // A signal came (an open on NFS or FUSE may wait): try again,
            // it is no failure (issue 17).
            Err(rustix::io::Errno::INTR) => {}
            opened => return Ok(File::from(opened?)),
        }
    }
}

/// Makes reads of `file` ordinary blocking reads again (for a regular file
/// the flag changes nothing today, but nothing should depend on that).
fn clear_nonblocking(file: &File) -> io::Result<()> {
    let flags = rustix::fs::fcntl_getfl(file)?;
    rustix::fs::fcntl_setfl(file, flags - OFlags::NONBLOCK)?;
    Ok(())
}

/// Not there: the path or one of its directories is missing.
pub(super) fn is_missing(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn too_many_waiting_is_said_once_per_episode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("change.log");
        let mut discovery = Discovery::new(Arc::from(path.as_path()));
        // A new file at the path each time (the old one, held open if it
        // was opened, keeps its inode), then a look.
        let rotate_and_look = |discovery: &mut Discovery| {
            let _ = fs::remove_file(&path);
            fs::write(&path, b"x\n").unwrap();
            assert_eq!(discovery.look().unwrap(), Presence::File);
        };
        for _ in 0..MAX_HELD_GENERATIONS {
            rotate_and_look(&mut discovery);
        }
        assert!(!discovery.take_capped());
        rotate_and_look(&mut discovery);
        assert!(discovery.take_capped(), "the first file left unopened");
        rotate_and_look(&mut discovery);
        discovery.look().unwrap();
        assert!(!discovery.take_capped(), "the same episode");
        // The reader takes one: below the cap, the episode is over.
        discovery.pop().unwrap();
        assert!(!discovery.take_capped());
        rotate_and_look(&mut discovery);
        assert!(!discovery.take_capped(), "opened: the queue is full again");
        rotate_and_look(&mut discovery);
        assert!(discovery.take_capped(), "a new episode");
    }
}
