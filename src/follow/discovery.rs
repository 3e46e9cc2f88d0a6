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
//! instant within its `open` call, timed on both sides, and after every
//! generation recorded before its look began ([`Named`]).

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

/// When the path named a generation: at some instant between `from` and
/// `to` (the start and the end of the `open`, or of a later `stat`, that
/// saw it there), and after every generation recorded before the look that
/// saw it began.
#[derive(Debug, Clone, Copy)]
struct Named {
    from: Instant,
    to: Instant,
    /// How many generations had been recorded when the look began.
    after: u64,
    /// Its place in the order of recording (`u64::MAX` until recorded).
    recorded: u64,
}

impl Named {
    /// Whether the path certainly named this generation before `other`
    /// (a generation, once replaced, does not come back): by the clock, or
    /// because it was recorded before the other's look began (which a clock
    /// too coarse to tell two `open`s apart still shows).
    fn before(self, other: Named) -> bool {
        self.to < other.from || self.recorded <= other.after
    }
}

/// What became of a file a look opened, once recorded.
#[must_use]
enum Recorded {
    /// Queued, or nothing was opened: what the path names.
    Done(Presence),
    /// Found twice, or the queue is full: to be closed after the lock is
    /// let go (closing the last handle on a deleted file frees it, which
    /// can wait on the filesystem's journal).
    Unwanted(Opened),
    /// Its order against the others cannot be told (two looks raced across
    /// a rotation, one held up within its `open`), or it came before the
    /// generation being read: placed again if the path still names it.
    Unordered(Opened),
}

/// The generation being read and the newer ones found so far.
#[derive(Debug)]
pub(super) struct Discovery {
    path: Arc<Path>,
    /// How many generations were recorded so far.
    records: u64,
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
            records: 0,
            reading: None,
            // Never grown under the lock.
            queue: VecDeque::with_capacity(MAX_HELD_GENERATIONS),
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

    /// Takes what a [`probe`] found into the queue.
    fn record(&mut self, probe: Probe) -> Recorded {
        let mut opened = match probe {
            Probe::Found(presence) => return Recorded::Done(presence),
            Probe::Capped => {
                self.capped |= self.is_full();
                return Recorded::Done(Presence::File);
            }
            Probe::Opened(opened) => opened,
        };
        let known = self.reading.is_some_and(|(id, _)| id == opened.id)
            || self.queue.iter().any(|o| o.id == opened.id);
        if known {
            // Found by the other look too.
            return Recorded::Unwanted(opened);
        }
        if self.is_full() {
            self.capped = true;
            return Recorded::Unwanted(opened);
        }
        let Some(at) = self.place(opened.named) else {
            return Recorded::Unordered(opened);
        };
        self.records += 1;
        opened.named.recorded = self.records;
        self.queue.insert(at, opened);
        Recorded::Done(Presence::File)
    }

    /// Where in the queue a generation the path named at `named` goes:
    /// after every one named certainly before it, before every one named
    /// certainly after it. `None` if it came before the one being read (too
    /// late), or if its order cannot be told.
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
    let (path, newest, full, after) = {
        let d = lock();
        (Arc::clone(&d.path), d.newest(), d.is_full(), d.records)
    };
    let mut probe = probe(&path, newest, full, after)?;
    // A file whose order could not be told is placed again from a later
    // instant at which the path still names it, a few times at most (each
    // try can race another look again); else it is closed, and if it had
    // lines the reader does not get, the `seq` check reports their loss.
    for _ in 0..3 {
        let recorded = lock().record(probe);
        let opened = match recorded {
            Recorded::Done(presence) => return Ok(presence),
            Recorded::Unwanted(opened) => {
                drop(opened);
                return Ok(Presence::File);
            }
            Recorded::Unordered(opened) => opened,
        };
        let after = lock().records;
        match named_again(&path, opened, after) {
            Some(opened) => probe = Probe::Opened(opened),
            None => return Ok(Presence::File),
        }
    }
    Ok(Presence::File)
}

/// `opened` with a new instant at which the path names it (a `stat` now,
/// after `after` generations were recorded), if it still does.
fn named_again(path: &Path, mut opened: Opened, after: u64) -> Option<Opened> {
    let from = Instant::now();
    let meta = fs::metadata(path).ok()?;
    let to = Instant::now();
    (file_id(&meta) == opened.id).then(|| {
        opened.named = Named {
            from,
            to,
            after,
            recorded: u64::MAX,
        };
        opened
    })
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
/// `full` does not forbid it), for a look that began after `after`
/// generations were recorded. No lock held: only system calls.
fn probe(path: &Arc<Path>, newest: Option<FileId>, full: bool, after: u64) -> Result<Probe, Error> {
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
        after,
        recorded: u64::MAX,
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

    /// Files `0..n`, each opened, with the window of its `open` given by
    /// `windows` (in ms from a common start), seen by looks that began
    /// before anything was recorded.
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
                        after: 0,
                        recorded: u64::MAX,
                    },
                }
            })
            .collect();
        (dir, opened)
    }

    fn ids(opened: &[Opened]) -> Vec<FileId> {
        opened.iter().map(|o| o.id).collect()
    }

    fn queued(discovery: &Discovery) -> Vec<FileId> {
        discovery.queue.iter().map(|o| o.id).collect()
    }

    /// What became of `opened`: queued (`None`), or handed back unwanted
    /// or unordered (its id).
    fn record(discovery: &mut Discovery, opened: Opened) -> Option<(&'static str, FileId)> {
        match discovery.record(Probe::Opened(opened)) {
            Recorded::Done(presence) => {
                assert_eq!(presence, Presence::File);
                None
            }
            Recorded::Unwanted(o) => Some(("unwanted", o.id)),
            Recorded::Unordered(o) => Some(("unordered", o.id)),
        }
    }

    fn discovery() -> Discovery {
        Discovery::new(Arc::from(Path::new("change.log")))
    }

    #[test]
    fn generations_found_by_racing_looks_queue_in_the_order_the_path_named_them() {
        // The reader's look found 1 and 3 while the opener, held up after
        // its `open`, found 2 (opened between them) and records it last.
        let (_dir, g) = generations(&[(0, 1), (10, 11), (20, 21), (30, 31)]);
        let ids = ids(&g);
        let mut d = discovery();
        let [zero, one, two, three] = <[Opened; 4]>::try_from(g).unwrap();
        assert_eq!(record(&mut d, zero), None);
        assert_eq!(d.pop().map(|o| o.id), Some(ids[0]), "being read");
        assert_eq!(d.newest(), Some(ids[0]), "the one being read is the newest");
        assert_eq!(record(&mut d, one), None);
        assert_eq!(record(&mut d, three), None);
        assert_eq!(record(&mut d, two), None);
        assert_eq!(queued(&d), ids[1..]);
        assert_eq!(d.newest(), Some(ids[3]));
    }

    #[test]
    fn a_file_named_before_the_first_queued_goes_right_after_the_one_being_read() {
        let (_dir, g) = generations(&[(0, 1), (20, 21), (10, 11)]);
        let ids = ids(&g);
        let mut d = discovery();
        let [zero, two, one] = <[Opened; 3]>::try_from(g).unwrap();
        assert_eq!(record(&mut d, zero), None);
        d.pop();
        assert_eq!(record(&mut d, two), None);
        assert_eq!(record(&mut d, one), None);
        assert_eq!(queued(&d), [ids[2], ids[1]]);
    }

    #[test]
    fn a_file_found_twice_is_unwanted_and_one_of_unknown_order_is_handed_back() {
        // 0 is being read; 1 is queued; then 0 and 1 again (both looks
        // found them), a file named before 0 (found too late), one whose
        // `open` spans 1's, one whose `open` spans 0's, and one whose
        // window only touches 0's (the clock cannot order them).
        let windows = [(10, 11), (20, 21), (0, 1), (15, 25), (5, 12), (11, 11)];
        let (_dir, g) = generations(&windows);
        let ids = ids(&g);
        let again = |o: &Opened| Opened {
            file: Arc::clone(&o.file),
            id: o.id,
            named: Named {
                from: o.named.from + std::time::Duration::from_millis(100),
                to: o.named.to + std::time::Duration::from_millis(100),
                after: 0,
                recorded: u64::MAX,
            },
        };
        let (again0, again1) = (again(&g[0]), again(&g[1]));
        let mut d = discovery();
        let mut g = g.into_iter();
        assert_eq!(record(&mut d, g.next().unwrap()), None);
        d.pop();
        assert_eq!(record(&mut d, g.next().unwrap()), None);
        assert_eq!(record(&mut d, again0), Some(("unwanted", ids[0])));
        assert_eq!(record(&mut d, again1), Some(("unwanted", ids[1])));
        for (opened, &id) in g.zip(&ids[2..]) {
            assert_eq!(record(&mut d, opened), Some(("unordered", id)));
        }
        assert_eq!(queued(&d), [ids[1]]);
    }

    #[test]
    fn a_file_recorded_before_a_look_began_comes_before_what_it_finds_whatever_the_clock() {
        // A clock too coarse to tell the two `open`s apart: the same
        // instant for both. The second look began after the first file was
        // recorded, so it found a newer one.
        let (_dir, g) = generations(&[(0, 5), (5, 5)]);
        let ids = ids(&g);
        let mut d = discovery();
        let [first, mut second] = <[Opened; 2]>::try_from(g).unwrap();
        assert_eq!(record(&mut d, first), None);
        second.named.after = d.records;
        assert_eq!(record(&mut d, second), None);
        assert_eq!(queued(&d), ids);
    }

    #[test]
    fn a_file_of_unknown_order_is_placed_again_only_while_the_path_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("change.log");
        fs::write(&path, b"").unwrap();
        let file = File::open(&path).unwrap();
        let id = file_id(&file.metadata().unwrap());
        let long_ago = Instant::now();
        let opened = || Opened {
            file: Arc::new(file.try_clone().unwrap()),
            id,
            named: Named {
                from: long_ago,
                to: long_ago,
                after: 0,
                recorded: u64::MAX,
            },
        };
        let again = named_again(&path, opened(), 7).expect("the path still names it");
        assert!(again.named.from > long_ago);
        assert_eq!((again.named.after, again.named.recorded), (7, u64::MAX));
        fs::remove_file(&path).unwrap();
        fs::write(&path, b"").unwrap();
        assert!(named_again(&path, opened(), 7).is_none(), "replaced since");
    }
}
