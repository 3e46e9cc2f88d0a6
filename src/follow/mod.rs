//! Following the changelog file across rotations.
//!
//! The file at the path is read as a sequence of *generations*: each opened
//! file, identified by (device, inode), is read to its end before the next
//! one is started, because an open handle still reads a file that has been
//! renamed or deleted (see `doc/design.md`). New generations are found by
//! the opener (see [`notifier`]) or by the reader whenever it reaches the
//! end of its file, and are held open from the moment they are found
//! ([`discovery`]). Notifications come from inotify on Linux or from the
//! `notify` crate's watcher (the default elsewhere), or polling takes their
//! place, behind one interface ([`notifier`]). Copy-truncate keeps the
//! inode; it shows as a file
//! shorter than what was already read, and reading restarts at 0.
//!
//! Bytes after the last `\n` are kept for their own generation only; a
//! fragment left when its file is rotated away is reported as an invalid
//! entry, never glued to the next file's first line.
//!
//! [`Finder`] is what finds files and waits for changes (before the first
//! file exists, and after); a [`Follower`] exists only once its first file
//! is open.

mod discovery;
mod finder;
mod notifier;
mod start;

pub use discovery::MAX_HELD_GENERATIONS;

use crate::buffer::ReadBuffer;
use crate::entry::{InvalidEntry, InvalidReason};
use crate::error::Error;
use crate::lines::{LineBuffer, Long, Span, Taken};
use crate::notice::Notice;
use crate::position::{FileId, LineInfo, Location};
use crate::retry::retrying;
use crate::source::{Item, Next, Skim};
use crate::wake::{Sleeper, Woken};
use discovery::{Opened, Presence};
use finder::Finder;
use std::collections::VecDeque;
use std::fs::File;
use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The default `--max-line-bytes`: 16 MiB.
pub const DEFAULT_MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// How the follower learns that the file changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum WatchMode {
    /// Filesystem notifications, the system's best: inotify on Linux, the
    /// `notify` crate's watcher elsewhere (kqueue on macOS and the BSDs).
    /// No wake-ups while idle.
    #[default]
    Notify,
    /// Filesystem notifications through the `notify` crate's recommended
    /// watcher on every system (on Linux it uses inotify too, but with one
    /// event thread for everything, directories only, no mount table).
    /// The default on systems without inotify; on Linux it is there to
    /// test that path, or as a choice of the operator. Under a very fast
    /// rotating writer it may see a new file too late to open it: the loss
    /// is then reported as out of sync, never silent.
    Portable,
    /// Look every interval, for filesystems that send no notifications.
    Poll(Duration),
}

/// How to follow a changelog (set through the
/// [`Builder`](crate::Builder)).
#[derive(Debug, Clone)]
pub(crate) struct FollowOptions {
    /// Keep waiting for new lines at the end of the file (`false`: stop at
    /// the end of the current file, as `--no-follow`).
    pub(crate) follow: bool,
    /// How long to wait for a missing file to appear; `None` waits forever.
    pub(crate) wait_for_file: Option<Duration>,
    /// Notifications or polling.
    pub(crate) watch: WatchMode,
    /// Lines longer than this are reported and skipped.
    pub(crate) max_line_bytes: usize,
}

impl Default for FollowOptions {
    /// Follow, 1 s grace for a missing file (as the Go iterator),
    /// notifications, 16 MiB lines.
    fn default() -> Self {
        FollowOptions {
            follow: true,
            wait_for_file: Some(Duration::from_secs(1)),
            watch: WatchMode::Notify,
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
        }
    }
}

/// The file being read.
#[derive(Debug)]
struct Generation {
    file: Arc<File>,
    id: FileId,
    /// The end of the file was reached with part of a line read: before
    /// the rest is glued to it, check that the part is still in the file
    /// (a copy-truncate followed by new writes past our offset would
    /// otherwise splice the head of an old line to the tail of a new one).
    fragment_at_end: bool,
    /// The last bytes read (the file's bytes just before the read offset):
    /// a file truncated and rewritten to the same size or beyond shows no
    /// shrinking, but these bytes differ. Checked once per wake-up.
    tail: [u8; TAIL],
    tail_len: usize,
    /// Woken since the last read that brought data.
    woken: bool,
    /// The last read came back short: it reached the end of the file as
    /// it was then, and until a wake-up says otherwise there is nothing
    /// more (a read to find that out would cost a follower a system call
    /// per event). A write after that read wakes us: its notification
    /// comes after the one the read answered.
    read_to_end: bool,
}

/// How many of the last bytes read are kept to tell a rewritten file.
const TAIL: usize = 32;

impl Generation {
    fn new(opened: Opened) -> Self {
        Generation {
            file: opened.file,
            id: opened.id,
            fragment_at_end: false,
            tail: [0; TAIL],
            tail_len: 0,
            woken: false,
            read_to_end: false,
        }
    }

    /// Whether the file still has `bytes` at offset `at` (it may have been
    /// truncated and rewritten since they were read).
    fn holds(&self, bytes: &[u8], at: u64) -> std::io::Result<bool> {
        let mut now = vec![0; bytes.len()];
        match self.file.read_exact_at(&mut now, at) {
            Ok(()) => Ok(now == bytes),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Reads once into `buffer` at its read offset (the file's own
    /// position does not matter), checking in the same system call that
    /// the bytes just before it are still `last` (the last bytes read: a
    /// file truncated and rewritten shows otherwise). Returns how many new
    /// bytes came (0 at the end of the file), or `None` if the check
    /// failed: the file is shorter than what was read, or holds other
    /// bytes there.
    fn read_into(&self, buffer: &mut ReadBuffer, last: &[u8]) -> std::io::Result<Option<usize>> {
        let at = buffer.read_offset();
        if last.is_empty() {
            // The common case of a catch-up: a plain `pread` (a vector of
            // two costs more per call, measured: ~9% of a catch-up).
            return buffer
                .fill(|room| retrying(|| self.file.read_at(room, at)))
                .map(Some);
        }
        let mut check = [0u8; TAIL];
        let check = &mut check[..last.len().min(TAIL)];
        let from = at - check.len() as u64;
        let mut held = true;
        let n = buffer.fill(|room| {
            let mut bufs = [
                std::io::IoSliceMut::new(check),
                std::io::IoSliceMut::new(room),
            ];
            let n = retrying(|| Ok(rustix::io::preadv(&*self.file, &mut bufs, from)?))?;
            held = n >= bufs[0].len() && *bufs[0] == *last;
            Ok(if held { n - bufs[0].len() } else { 0 })
        })?;
        Ok(held.then_some(n))
    }

    /// The file's size now.
    fn size(&self) -> std::io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }
}

/// One turn of the read loop.
enum Step {
    Line(Span),
    Out(Item),
    Again,
    Done(Next<Item>),
}

/// Follows the changelog file across rotations: the source behind an
/// iterator opened on a path.
#[derive(Debug)]
pub(crate) struct Follower {
    finder: Finder,
    current: Generation,
    buffer: LineBuffer,
    last_line: Span,
    /// A newer generation is ready; the current one gets one more read to
    /// its end before the switch (lines written before the new file was).
    final_drain: bool,
    /// [`Item::CaughtUp`] was handed out since the last line.
    told_caught_up: bool,
    /// Everything was read and the filesystem looked at: until a wake-up,
    /// the next call can go straight to sleep (no system calls on the way).
    settled: bool,
    /// Things to hand out before reading on (notices, a new file).
    queued: VecDeque<Item>,
    /// What was said already (said once per episode, not at every wake-up).
    said_not_a_file: bool,
}

impl Follower {
    /// Waits (as `options` allow) for the file at `path`, opens it and
    /// reads from its start. Watches are set before the first read, so that
    /// nothing between the two is missed.
    pub(crate) fn open(
        path: &Path,
        options: FollowOptions,
        sleeper: Sleeper,
    ) -> Result<Self, Error> {
        let mut finder = Finder::new(path, options, sleeper)?;
        let first = finder.first_generation()?;
        let max = finder.options().max_line_bytes;
        Ok(Follower {
            finder,
            current: Generation::new(first),
            buffer: LineBuffer::new(max),
            last_line: Span {
                range: (0, 0),
                line: 0,
                offset: 0,
            },
            final_drain: false,
            told_caught_up: false,
            settled: false,
            queued: VecDeque::new(),
            said_not_a_file: false,
        })
    }

    fn path(&self) -> &Arc<Path> {
        self.finder.path()
    }

    fn io(&self, e: std::io::Error) -> Error {
        Error::io(self.path(), e)
    }

    fn location(&self, span: &Span) -> Location {
        Location::new(self.path(), span.line, span.offset)
    }

    fn too_long(&self, long: &Long) -> Item {
        Item::Invalid(long.entry(self.path(), self.buffer.max()))
    }

    /// One turn: a line from the buffer, else a read, else a look at the
    /// filesystem, else a wait.
    fn step(&mut self, deadline: Option<Instant>) -> Result<Step, Error> {
        if self.settled {
            return self.sleep(deadline);
        }
        match self.buffer.take() {
            Some(Taken::Line(span)) => return Ok(Step::Line(span)),
            Some(Taken::TooLong(long)) => return Ok(Step::Out(self.too_long(&long))),
            None => {}
        }
        if std::mem::take(&mut self.current.fragment_at_end) && !self.fragment_still_there()? {
            return self.truncated();
        }
        // After a wake-up, the read also checks that the last bytes read are
        // still there: a file truncated and rewritten (to the same size, or
        // past our offset) before we looked shows no other sign, and any
        // truncation wakes us. One system call, the check included.
        let woken = std::mem::take(&mut self.current.woken);
        // (The last bytes of a file being left are read for real.)
        if std::mem::take(&mut self.current.read_to_end) && !woken && !self.final_drain {
            return self.at_end();
        }
        let n = match self.fill(woken) {
            Ok(Some(n)) => n,
            Ok(None) => return self.truncated(),
            Err(e) => return Err(Error::io(self.finder.path(), e)),
        };
        if n > 0 {
            let tail = self.buffer.last(TAIL);
            self.current.tail[..tail.len()].copy_from_slice(tail);
            self.current.tail_len = tail.len();
            self.current.read_to_end = self.buffer.reader().reached_end();
            return Ok(Step::Again);
        }
        self.at_end()
    }

    /// Reads on from the read offset, checking after a wake-up that the
    /// last bytes read are still there (see [`Generation::read_into`]).
    fn fill(&mut self, woken: bool) -> std::io::Result<Option<usize>> {
        let last = &self.current.tail[..if woken { self.current.tail_len } else { 0 }];
        self.current.read_into(self.buffer.reader(), last)
    }

    /// Whether the partial line held in the buffer is still what the file
    /// has at its offset.
    fn fragment_still_there(&self) -> Result<bool, Error> {
        let Some(partial) = self.buffer.partial() else {
            return Ok(true);
        };
        self.current
            .holds(self.buffer.get(&partial), partial.offset)
            .map_err(|e| self.io(e))
    }

    /// Takes the pending partial line as an invalid entry (the file it
    /// belongs to is being left).
    fn take_fragment(&mut self, reason: InvalidReason) -> Option<Item> {
        let fragment = match self.buffer.take_unfinished_long() {
            Some(long) => Some(self.too_long(&long)),
            None => self.buffer.partial().map(|span| {
                Item::Invalid(InvalidEntry::new(
                    self.location(&span),
                    reason,
                    self.buffer.get(&span),
                ))
            }),
        };
        self.buffer.discard();
        fragment
    }

    /// The file was truncated in place: what was held of a partial line is
    /// reported, and the file is read again from its start.
    fn truncated(&mut self) -> Result<Step, Error> {
        let fragment = self.take_fragment(InvalidReason::Truncated);
        self.buffer.reset(0, 1);
        self.current.tail_len = 0;
        self.current.fragment_at_end = false;
        self.current.read_to_end = false;
        self.queued.push_back(Item::Notice(Notice::Truncated {
            path: Arc::clone(self.path()),
        }));
        Ok(fragment.map_or(Step::Again, Step::Out))
    }

    /// At the end of the current file: truncated? replaced? else wait.
    fn at_end(&mut self) -> Result<Step, Error> {
        if !self.finder.options().follow {
            // A partial last line is the writer mid-line: not an entry yet.
            return Ok(self.caught_up_or(Step::Done(Next::End)));
        }
        // A copy-truncate (shorter than what was read) is told by the check
        // of the last bytes read at the next wake-up, which any truncation
        // causes: no `fstat` here.
        self.current.fragment_at_end = self.buffer.partial().is_some();
        if !self.finder.take_path_changed() {
            return Ok(self.settle());
        }
        let found = self.finder.look()?;
        self.say_presence(found.presence);
        self.queued
            .extend(found.notices.into_iter().map(Item::Notice));
        if found.next_ready {
            return self.next_generation();
        }
        // A new symlink target may live in a directory not watched yet (its
        // first lines must wake us), or a directory may be gone and come
        // back (its new inode needs a new watch).
        if (found.queued || found.presence != Presence::File) && self.refresh_watch()? {
            return Ok(Step::Again);
        }
        if !self.queued.is_empty() {
            // Said before sleeping, not after the next change.
            return Ok(Step::Again);
        }
        Ok(self.settle())
    }

    /// Everything is read and looked at: the next turn sleeps.
    fn settle(&mut self) -> Step {
        self.settled = true;
        self.caught_up_or(Step::Again)
    }

    /// [`Item::CaughtUp`] once per catch-up, else `then`.
    fn caught_up_or(&mut self, then: Step) -> Step {
        if std::mem::replace(&mut self.told_caught_up, true) {
            then
        } else {
            Step::Out(Item::CaughtUp)
        }
    }

    /// Warns once when the path turns into a directory.
    fn say_presence(&mut self, presence: Presence) {
        match presence {
            Presence::Directory if !std::mem::replace(&mut self.said_not_a_file, true) => {
                self.queued.push_back(Item::Notice(Notice::NotAFile {
                    path: Arc::clone(self.path()),
                }));
            }
            Presence::File => self.said_not_a_file = false,
            _ => {}
        }
    }

    /// A newer generation is ready: one last read of the current file to
    /// its end, then the switch.
    fn next_generation(&mut self) -> Result<Step, Error> {
        if !std::mem::replace(&mut self.final_drain, true) {
            return Ok(Step::Again);
        }
        let fragment = self.take_fragment(InvalidReason::Incomplete);
        let Some(next) = self.finder.pop() else {
            self.final_drain = false;
            return Ok(Step::Again);
        };
        self.current = Generation::new(next);
        self.buffer.reset(0, 1);
        self.final_drain = false;
        self.queued.push_back(Item::NewFile(self.current.id));
        self.refresh_watch()?;
        Ok(fragment.map_or(Step::Again, Step::Out))
    }

    /// Re-aims the watches (see [`Finder::refresh_watch`]).
    fn refresh_watch(&mut self) -> Result<bool, Error> {
        let current = (self.current.id, self.current.file.as_fd());
        self.finder.refresh_watch(Some(current))
    }

    /// Waits for a change; after one, the next turn reads and looks again.
    fn sleep(&mut self, deadline: Option<Instant>) -> Result<Step, Error> {
        Ok(match self.finder.wait(deadline)? {
            Woken::Changed => {
                self.settled = false;
                self.current.woken = true;
                Step::Again
            }
            Woken::TimedOut => Step::Done(Next::TimedOut),
            Woken::Cancelled => Step::Done(Next::Cancelled),
            // Nothing changed: `settled` stays, the next call sleeps again.
            Woken::Interrupted => Step::Done(Next::Interrupted),
        })
    }

    /// The next line or other item (see [`crate::source::Source`]).
    fn next_item(&mut self, deadline: Option<Instant>) -> Result<Next<Item>, Error> {
        loop {
            // Between items too, so that a reader busy catching up answers.
            match self.finder.requested() {
                None => {}
                Some(Woken::Interrupted) => return Ok(Next::Interrupted),
                Some(_) => return Ok(Next::Cancelled),
            }
            if let Some(item) = self.queued.pop_front() {
                return Ok(Next::Item(item));
            }
            match self.step(deadline)? {
                Step::Line(span) => {
                    self.last_line = span;
                    self.told_caught_up = false;
                    let info = span.info(Some(self.current.id));
                    return Ok(Next::Item(Item::Line(info)));
                }
                Step::Out(item) => return Ok(Next::Item(item)),
                Step::Again => continue,
                Step::Done(next) => return Ok(next),
            }
        }
    }
}

impl crate::source::Source for Follower {
    fn next_item(&mut self, deadline: Option<Instant>) -> Result<Next<Item>, Error> {
        Follower::next_item(self, deadline)
    }

    fn line(&self) -> &[u8] {
        self.buffer.get(&self.last_line)
    }

    fn skim(&mut self, each: impl FnMut(&[u8], &Span) -> Skim) -> Option<LineInfo> {
        if self.settled || !self.queued.is_empty() {
            return None;
        }
        let file = Some(self.current.id);
        let before = self.buffer.line_offset();
        let handed = self.buffer.skim(each);
        if self.buffer.line_offset() != before {
            self.told_caught_up = false;
        }
        let span = handed?;
        self.last_line = span;
        Some(span.info(file))
    }

    fn keep_line(&mut self) {
        self.buffer.keep(&self.last_line);
    }

    fn kept_line(&self) -> &[u8] {
        self.buffer.kept()
    }

    fn drained(&self) -> bool {
        self.buffer.drained() && self.queued.is_empty()
    }

    fn path(&self) -> &Arc<Path> {
        self.finder.path()
    }

    fn file(&self) -> Option<FileId> {
        Some(self.current.id)
    }

    fn skip_to_end(
        &mut self,
        limit: Option<u64>,
    ) -> Result<Option<crate::source::LastLine>, Error> {
        Follower::skip_to_end(self, limit)
    }

    fn resume_in_place(
        &mut self,
        checkpoint: &crate::checkpoint::Checkpoint,
    ) -> Result<bool, Error> {
        Follower::resume_in_place(self, checkpoint)
    }

    #[cfg(feature = "ldb")]
    fn rewind(&mut self) -> Result<(), Error> {
        self.begin_at(0, 0)
    }

    fn status(&self) -> crate::status::SourceStatus {
        crate::status::SourceStatus {
            file: Some(self.current.id),
            offset: self.buffer.line_offset(),
            size: self.current.size().ok(),
            held: self.finder.held(),
        }
    }
    #[cfg(feature = "tokio")]
    fn wait_on(&self) -> crate::source::WaitOn<'_> {
        self.finder.wait_on()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Source;
    use crate::wake::CancelHandle;
    use std::fs;
    use std::io::Write;

    /// The next item within a generous deadline (a timeout fails the test).
    fn next(follower: &mut Follower) -> Item {
        match follower.next_item(Some(Instant::now() + Duration::from_secs(30))) {
            Ok(Next::Item(item)) => item,
            other => panic!("no item: {other:?}"),
        }
    }

    /// The next line's bytes, after any `CaughtUp` or new file.
    fn next_line(follower: &mut Follower) -> Vec<u8> {
        loop {
            match next(follower) {
                Item::Line(_) => return follower.line().to_vec(),
                Item::CaughtUp | Item::NewFile(_) => continue,
                other => panic!("not a line: {other:?}"),
            }
        }
    }

    #[test]
    fn a_failed_notify_callback_is_told_and_polling_takes_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("change.log");
        fs::write(&path, b"one\n").unwrap();
        let sleeper = Sleeper::new(&CancelHandle::new()).unwrap();
        let options = FollowOptions {
            watch: WatchMode::Portable,
            ..FollowOptions::default()
        };
        let mut follower = Follower::open(&path, options, sleeper).unwrap();
        assert_eq!(next_line(&mut follower), b"one");
        assert!(matches!(next(&mut follower), Item::CaughtUp));
        // The callback fails at its next event: the append's.
        follower.finder.fail_opener();
        let append = |line: &[u8]| {
            fs::OpenOptions::new()
                .append(true)
                .open(&path)
                .unwrap()
                .write_all(line)
                .unwrap()
        };
        append(b"two\n");
        loop {
            match next(&mut follower) {
                Item::Notice(Notice::Polling { why, .. }) => {
                    assert!(why.contains("stopped"), "{why}");
                    assert!(why.contains("failing as the test asked"), "{why}");
                    break;
                }
                // The append may be read before the failure is told.
                Item::Line(_) => assert_eq!(follower.line(), b"two"),
                Item::CaughtUp => {}
                other => panic!("not told: {other:?}"),
            }
        }
        assert!(follower.finder.is_polling());
        fs::remove_file(&path).unwrap();
        fs::write(&path, b"three\n").unwrap();
        assert_eq!(next_line(&mut follower), b"three");
    }

    #[test]
    fn a_failed_opener_thread_is_told_and_polling_takes_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("change.log");
        fs::write(&path, b"one\n").unwrap();
        let sleeper = Sleeper::new(&CancelHandle::new()).unwrap();
        let mut follower = Follower::open(&path, FollowOptions::default(), sleeper).unwrap();
        assert_eq!(next_line(&mut follower), b"one");
        assert!(matches!(next(&mut follower), Item::CaughtUp));
        follower.finder.fail_opener();
        match next(&mut follower) {
            Item::Notice(Notice::Polling { why, .. }) => {
                assert!(why.contains("stopped"), "{why}");
                assert!(why.contains("failing as the test asked"), "{why}");
            }
            other => panic!("not told: {other:?}"),
        }
        assert!(follower.finder.is_polling());
        // Still following, by polling: an append, then a rotation.
        fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"two\n")
            .unwrap();
        assert_eq!(next_line(&mut follower), b"two");
        fs::remove_file(&path).unwrap();
        fs::write(&path, b"three\n").unwrap();
        assert_eq!(next_line(&mut follower), b"three");
    }
}
