//! Finding new generations of the changelog and holding them open.
//!
//! Both the notification thread (on a create or rename in a watched
//! directory) and the reader (whenever it reaches the end of its file) ask
//! "does the path name a file we have not opened yet?", and a generation
//! that the reader has not got to yet is already open: deleting its name
//! can no longer take its lines away (see `doc/design.md`, "Generations").
//!
//! Neither holds the lock across a system call: a thread preempted while
//! holding it would keep the other from opening the files a fast writer
//! deletes a millisecond after making them. So two looks can race, and
//! each generation is placed in the queue by when the path named it: some
//! instant within its `open` call, timed on both sides ([`Named`]).

use crate::error::{Error, FileKind};
use crate::position::FileId;
use rustix::fs::{Mode, OFlags};
use std::collections::VecDeque;
use std::fs::{self, File, Metadata};
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

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
    /// When the path named it.
    named: Named,
}

/// When the path named a generation: at some instant between the two, the
/// start and the end of the `open` that found it there.
#[derive(Debug, Clone, Copy)]
struct Named {
    from: Instant,
    to: Instant,
}

impl Named {
    /// Whether the path certainly named this generation before `other`
    /// (a generation, once replaced, does not come back).
    fn before(self, other: Named) -> bool {
        self.to < other.from
    }
}

/// The generations found so far and not yet handed to the reader.
#[derive(Debug)]
pub(super) struct Discovery {
    path: Arc<Path>,
    /// The generation being read, and when the path named it.
    reading: Option<(FileId, Named)>,
    /// Newer generations, oldest first.
    queue: VecDeque<Opened>,
    /// A new generation was left unopened because the queue was full; this
    /// lasts until the queue drains below the cap again.
    capped: bool,
    /// The current `capped` episode was reported.
    told: bool,
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
            reading: None,
            queue: VecDeque::new(),
            capped: false,
            told: false,
        }
    }

    /// The newest generation found (queued or being read).
    fn newest(&self) -> Option<FileId> {
        self.queue
            .back()
            .map(|o| o.id)
            .or(self.reading.map(|(id, _)| id))
    }

    fn is_full(&self) -> bool {
        self.queue.len() >= MAX_HELD_GENERATIONS
    }

    /// Takes what a [`probe`] found into the queue. Returns what the path
    /// names, and a file opened but not wanted, for the caller to close
    /// after letting go of the lock: closing the last handle on a deleted
    /// file frees it, which can wait on the filesystem's journal.
    #[must_use]
    fn record(&mut self, probe: Probe) -> (Presence, Option<Opened>) {
        let opened = match probe {
            Probe::Found(presence) => return (presence, None),
            Probe::Capped => {
                self.capped |= self.is_full();
                return (Presence::File, None);
            }
            Probe::Opened(opened) => opened,
        };
        let known = self.reading.is_some_and(|(id, _)| id == opened.id)
            || self.queue.iter().any(|o| o.id == opened.id);
        let unwanted = if known {
            // Found by the other look too.
            Some(opened)
        } else if self.is_full() {
            self.capped = true;
            Some(opened)
        } else if let Some(at) = self.place(opened.named) {
            self.queue.insert(at, opened);
            None
        } else {
            // It came before the generation being read, or its order cannot
            // be told: if it had lines the reader does not get, the `seq`
            // check reports their loss.
            Some(opened)
        };
        (Presence::File, unwanted)
    }

    /// Where in the queue a generation the path named at `named` goes:
    /// after every one named certainly before it, before every one named
    /// certainly after it. `None` if it came before the one being read (too
    /// late), or if its order cannot be told (two looks raced across a
    /// rotation, one of them held up within its `open`).
    fn place(&self, named: Named) -> Option<usize> {
        let mut at = self.queue.len();
        while at > 0 && named.before(self.queue[at - 1].named) {
            at -= 1;
        }
        let previous = match at {
            0 => self.reading.map(|(_, named)| named),
            _ => Some(self.queue[at - 1].named),
        };
        previous
            .is_none_or(|previous| previous.before(named))
            .then_some(at)
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
        if let Some(oldest) = &oldest {
            self.reading = Some((oldest.id, oldest.named));
        }
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

/// Opens the file the path names now, if it is new, and says what the
/// path names. A missing path is not an error (the writer may be between
/// delete and create). The lock is held only to read and to record the
/// queue's state, never across a system call (see the module's docs).
pub(super) fn look(shared: &Mutex<Discovery>) -> Result<Presence, Error> {
    let lock = || shared.lock().unwrap_or_else(PoisonError::into_inner);
    let (path, newest, full) = {
        let discovery = lock();
        let path = Arc::clone(&discovery.path);
        (path, discovery.newest(), discovery.is_full())
    };
    let probe = probe(&path, newest, full)?;
    let (presence, unwanted) = lock().record(probe);
    drop(unwanted);
    Ok(presence)
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
    let from = Instant::now();
    let opened = open_without_blocking(path);
    let named = Named {
        from,
        to: Instant::now(),
    };
    let file = match opened {
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
        named,
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
/// reach of cancellation (and the opener thread with it). What was opened
/// is checked before it is used.
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
        let shared = Mutex::new(Discovery::new(Arc::from(path.as_path())));
        let capped = || shared.lock().unwrap().take_capped();
        // A new file at the path each time (the old one, held open if it
        // was opened, keeps its inode), then a look.
        let rotate_and_look = || {
            let _ = fs::remove_file(&path);
            fs::write(&path, b"x\n").unwrap();
            assert_eq!(look(&shared).unwrap(), Presence::File);
        };
        for _ in 0..MAX_HELD_GENERATIONS {
            rotate_and_look();
        }
        assert!(!capped());
        rotate_and_look();
        assert!(capped(), "the first file left unopened");
        rotate_and_look();
        look(&shared).unwrap();
        assert!(!capped(), "the same episode");
        // The reader takes one: below the cap, the episode is over.
        shared.lock().unwrap().pop().unwrap();
        assert!(!capped());
        rotate_and_look();
        assert!(!capped(), "opened: the queue is full again");
        rotate_and_look();
        assert!(capped(), "a new episode");
    }

    /// Generations `0..n` of a file each opened in turn, with the window
    /// of its `open` given by `windows` (in ms from a common start).
    fn generations(windows: &[(u64, u64)]) -> (tempfile::TempDir, Vec<Opened>) {
        let dir = tempfile::tempdir().unwrap();
        let start = Instant::now();
        let at = |ms| start + std::time::Duration::from_millis(ms);
        let opened = windows
            .iter()
            .enumerate()
            .map(|(i, &(from, to))| {
                let path = dir.path().join(i.to_string());
                fs::write(&path, b"").unwrap();
                let file = File::open(&path).unwrap();
                Opened {
                    id: file_id(&file.metadata().unwrap()),
                    file: Arc::new(file),
                    named: Named {
                        from: at(from),
                        to: at(to),
                    },
                }
            })
            .collect();
        (dir, opened)
    }

    fn queued(discovery: &Discovery) -> Vec<FileId> {
        discovery.queue.iter().map(|o| o.id).collect()
    }

    #[test]
    fn generations_found_by_racing_looks_queue_in_the_order_the_path_named_them() {
        // The reader's look found 1 and 3 while the opener, held up within
        // its `open`, found 2 (opened between them) and records it last.
        let (_dir, mut g) = generations(&[(0, 1), (10, 11), (20, 21), (30, 31)]);
        let ids: Vec<FileId> = g.iter().map(|o| o.id).collect();
        let mut discovery = Discovery::new(Arc::from(Path::new("change.log")));
        let [zero, one, two, three] = [0, 1, 2, 3].map(|_| g.remove(0));
        let _ = discovery.record(Probe::Opened(zero));
        assert_eq!(discovery.pop().map(|o| o.id), Some(ids[0]), "being read");
        let _ = discovery.record(Probe::Opened(one));
        let _ = discovery.record(Probe::Opened(three));
        let _ = discovery.record(Probe::Opened(two));
        assert_eq!(queued(&discovery), ids[1..]);
        assert_eq!(discovery.newest(), Some(ids[3]));
    }

    #[test]
    fn a_generation_found_twice_or_too_late_or_out_of_order_is_dropped() {
        // 0 is being read; 1 is queued; then 0 and 1 again (both looks
        // found them), a file named before 0 (found too late), and one
        // whose `open` spans 1's (which came first cannot be told).
        let (_dir, g) = generations(&[(10, 11), (20, 21), (0, 1), (15, 25)]);
        let ids: Vec<FileId> = g.iter().map(|o| o.id).collect();
        let again = |i: usize| Opened {
            file: Arc::clone(&g[i].file),
            id: g[i].id,
            named: Named {
                from: g[i].named.from + std::time::Duration::from_millis(100),
                to: g[i].named.to + std::time::Duration::from_millis(100),
            },
        };
        let [again0, again1] = [0, 1].map(again);
        let mut discovery = Discovery::new(Arc::from(Path::new("change.log")));
        let record = |discovery: &mut Discovery, opened| {
            let (presence, unwanted) = discovery.record(Probe::Opened(opened));
            assert_eq!(presence, Presence::File);
            unwanted.map(|o| o.id)
        };
        let mut g = g.into_iter();
        assert_eq!(record(&mut discovery, g.next().unwrap()), None);
        discovery.pop();
        assert_eq!(record(&mut discovery, g.next().unwrap()), None);
        // Each dropped one is handed back, to be closed without the lock.
        assert_eq!(record(&mut discovery, again0), Some(ids[0]));
        assert_eq!(record(&mut discovery, again1), Some(ids[1]));
        assert_eq!(record(&mut discovery, g.next().unwrap()), Some(ids[2]));
        assert_eq!(record(&mut discovery, g.next().unwrap()), Some(ids[3]));
        assert_eq!(queued(&discovery), [ids[1]]);
    }
}
