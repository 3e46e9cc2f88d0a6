//! Following the changelog file across rotations.
//!
//! The file at the path is read as a sequence of *generations*: each opened
//! file, identified by (device, inode), is read to its end before the next
//! one is started, because an open handle still reads a file that has been
//! renamed or deleted (SPEC §1–2, FOLLOWING.md). New generations are found
//! by the notification thread (see [`watch`]) or by the reader whenever it
//! reaches the end of its file, and are held open from the moment they are
//! found ([`discovery`]). Copy-truncate keeps the inode; it shows as a file
//! shorter than what was already read, and reading restarts at 0.
//!
//! Bytes after the last `\n` are kept for their own generation only; a
//! fragment left when its file is rotated away is reported as an invalid
//! entry, never glued to the next file's first line.

mod buffer;
mod discovery;
mod start;
mod watch;

pub use discovery::MAX_HELD_GENERATIONS;

use crate::checkpoint::Checkpoint;
use crate::entry::{InvalidEntry, InvalidReason, Location};
use crate::error::Error;
use crate::notice::Notice;
use crate::source::{FileId, Item, LineInfo, Next, Source};
use crate::wake::{CancelHandle, Sleeper, Woken};
use buffer::LineBuffer;
use discovery::{Discovery, Opened, Presence};
use std::collections::VecDeque;
use std::fs::File;
use std::io::Seek;
use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use watch::Watch;

/// How often the file is looked at when notifications cannot be had.
pub const FALLBACK_POLL: Duration = Duration::from_millis(100);

/// The default `--max-line-bytes`: 16 MiB.
pub const DEFAULT_MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// Where in the first file reading begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StartAt {
    /// At the beginning of the current file (as the Go iterator does).
    #[default]
    Start,
    /// After the last complete line of the current file; that line's `seq`
    /// becomes the baseline for the sequence check.
    End,
    /// After the checkpoint's line, if the current file is provably the one
    /// it was taken in (same device and inode, and the line ending at the
    /// offset has the same fingerprint); that line is then the baseline.
    /// Otherwise at the beginning of the current file, with no baseline.
    After(Checkpoint),
}

/// How the follower learns that the file changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WatchMode {
    /// Filesystem notifications (inotify): no wake-ups while idle.
    #[default]
    Notify,
    /// Look every interval, for filesystems that send no notifications.
    Poll(Duration),
}

/// How to follow a changelog.
#[derive(Debug, Clone)]
pub struct FollowOptions {
    /// Where reading begins.
    pub start: StartAt,
    /// Keep waiting for new lines at the end of the file (`false`: stop at
    /// the end of the current file, as `--no-follow`).
    pub follow: bool,
    /// How long to wait for a missing file to appear; `None` waits forever.
    pub wait_for_file: Option<Duration>,
    /// Notifications or polling.
    pub watch: WatchMode,
    /// Lines longer than this are reported and skipped.
    pub max_line_bytes: usize,
}

impl Default for FollowOptions {
    /// Start of the file, follow, 1 s grace for a missing file (as the Go
    /// iterator), notifications, 16 MiB lines.
    fn default() -> Self {
        FollowOptions {
            start: StartAt::Start,
            follow: true,
            wait_for_file: Some(Duration::from_secs(1)),
            watch: WatchMode::Notify,
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
        }
    }
}

/// The file being read and where reading is in it.
#[derive(Debug)]
struct Generation {
    file: File,
    id: FileId,
    /// Bytes read from the file so far (the file position).
    read: u64,
    /// Offset of the first byte not yet handed out (start of the next line).
    line_start: u64,
    /// Number of the next line.
    line_no: u64,
    /// Inside a line over the limit: drop bytes up to its `\n`.
    skipping: bool,
    /// The end of the file was reached with part of a line read: before
    /// the rest is glued to it, check that the part is still in the file
    /// (a copy-truncate followed by new writes past our offset would
    /// otherwise splice the head of an old line to the tail of a new one).
    fragment_at_end: bool,
    /// The last bytes read (the file's bytes just before `read`): a file
    /// truncated and rewritten to the same size or beyond shows no shrinking,
    /// but these bytes differ. Checked once per wake-up.
    tail: [u8; TAIL],
    tail_len: usize,
    /// Woken since the last read that brought data.
    woken: bool,
}

/// How many of the last bytes read are kept to tell a rewritten file.
const TAIL: usize = 32;

impl Generation {
    fn new(opened: Opened) -> Self {
        Generation {
            file: opened.file,
            id: opened.id,
            read: 0,
            line_start: 0,
            line_no: 1,
            skipping: false,
            fragment_at_end: false,
            tail: [0; TAIL],
            tail_len: 0,
            woken: false,
        }
    }
}

impl Generation {
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

    /// Reads the same file again from its start (after a truncation).
    fn restart(&mut self) -> std::io::Result<()> {
        self.file.rewind()?;
        self.read = 0;
        self.line_start = 0;
        self.line_no = 1;
        self.skipping = false;
        self.fragment_at_end = false;
        self.tail_len = 0;
        Ok(())
    }
}

/// One turn of the read loop.
enum Step {
    Line(LineInfo, (usize, usize)),
    Invalid(InvalidEntry),
    Again,
    Done(Next<Item>),
}

/// A [`Source`] that follows the changelog file across rotations.
pub struct Follower {
    path: Arc<Path>,
    options: FollowOptions,
    discovery: Arc<Mutex<Discovery>>,
    current: Option<Generation>,
    buffer: LineBuffer,
    last_line: (usize, usize),
    /// A newer generation is ready; the current one gets one more read to
    /// its end before the switch (lines written before the new file was).
    final_drain: bool,
    /// [`Item::CaughtUp`] was handed out since the last line.
    told_caught_up: bool,
    /// Everything was read and the filesystem looked at: until a wake-up,
    /// the next call can go straight to sleep (no system calls on the way).
    settled: bool,
    sleeper: Sleeper,
    watch: Option<Watch>,
    /// Polling because notifications are not available here.
    fallback_poll: Option<Duration>,
    notices: VecDeque<Notice>,
    /// What was said already (said once per run, not at every wake-up).
    said_overflow: bool,
    said_not_a_file: bool,
    baseline: Option<(Vec<u8>, LineInfo)>,
}

impl Follower {
    /// Sets up notifications for `path`; nothing is opened or read until
    /// [`Source::start`] (called by the iterator's constructor). Watches are
    /// set before the first read so that nothing between the two is missed.
    pub fn new(path: impl AsRef<Path>, options: FollowOptions) -> Result<Self, Error> {
        let path: Arc<Path> = Arc::from(path.as_ref());
        let sleeper = Sleeper::new().map_err(|e| Error::io(&path, e))?;
        let discovery = Arc::new(Mutex::new(Discovery::new(Arc::clone(&path))));
        let mut follower = Follower {
            path,
            options,
            discovery,
            current: None,
            buffer: LineBuffer::default(),
            last_line: (0, 0),
            final_drain: false,
            told_caught_up: false,
            settled: false,
            sleeper,
            watch: None,
            fallback_poll: None,
            notices: VecDeque::new(),
            said_overflow: false,
            said_not_a_file: false,
            baseline: None,
        };
        // Reading to the end once needs no notifications (unless the file
        // has to be waited for: see `start`).
        if follower.options.follow && follower.options.watch == WatchMode::Notify {
            follower.watch_or_poll();
        }
        Ok(follower)
    }

    /// Sets up notifications, or (on a network or user-space filesystem, or
    /// when inotify cannot be had) polls instead.
    fn watch_or_poll(&mut self) {
        let watch = match watch::unsupported_filesystem(&self.path) {
            Some(why) => Err(why),
            None => Watch::new(&self.path, Arc::clone(&self.discovery)).map_err(|e| e.to_string()),
        };
        match watch {
            Ok(watch) => self.watch = Some(watch),
            Err(why) => self.poll_instead(why),
        }
    }

    /// Gives up on notifications: polls from now on, and says why.
    fn poll_instead(&mut self, why: String) {
        self.watch = None;
        self.fallback_poll = Some(FALLBACK_POLL);
        self.notices.push_back(Notice::Polling {
            why,
            interval: FALLBACK_POLL,
        });
    }

    fn poll_interval(&self) -> Option<Duration> {
        match self.options.watch {
            WatchMode::Poll(interval) => Some(interval),
            WatchMode::Notify => self.fallback_poll,
        }
    }

    fn discovery(&self) -> MutexGuard<'_, Discovery> {
        // A panic while holding this lock cannot leave the queue half
        // changed, so a poisoned lock is still good to use.
        self.discovery.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sleeps until a notification, `deadline`, the poll interval or
    /// cancellation; takes every pending notification. Notifications about
    /// other files only (a database written beside the changelog) are not
    /// a reason to look: the wait goes on.
    fn wait(&mut self, deadline: Option<Instant>) -> Result<Woken, Error> {
        loop {
            let poll = self.poll_interval();
            let fds = self.watch.as_ref().map(Watch::wake_fds);
            let woken = self
                .sleeper
                .wait(fds.as_deref().unwrap_or_default(), deadline, poll)
                .map_err(|e| Error::io(&self.path, e))?;
            let (Woken::Changed, Some(watch)) = (woken, &mut self.watch) else {
                return Ok(woken);
            };
            if let Some(why) = watch.opener_failure() {
                // New generations are no longer opened as they appear:
                // polling still finds them, if later.
                self.poll_instead(why);
                return Ok(woken);
            }
            let drained = watch.drain().map_err(|e| Error::io(&self.path, e))?;
            if drained.overflowed && !std::mem::replace(&mut self.said_overflow, true) {
                self.notices.push_back(Notice::Overflow);
            }
            if drained.relevant {
                return Ok(woken);
            }
        }
    }

    /// Re-aims the watches at what the path depends on now; says whether
    /// anything changed (then the caller looks again before sleeping, since
    /// a new watch sees nothing that happened before it).
    /// If a watch cannot be set (the user's inotify watch limit is
    /// reached), the follower polls from then on, and says so.
    fn refresh_watch(&mut self) -> Result<bool, Error> {
        let Some(watch) = &mut self.watch else {
            return Ok(false);
        };
        // Writes are watched on the open files: the one being read and the
        // next one waiting (the reader waits for data in it to switch).
        let discovery = self.discovery.lock().unwrap_or_else(|e| e.into_inner());
        let files: Vec<_> = (self.current.as_ref().map(|g| (g.id, g.file.as_fd())))
            .into_iter()
            .chain(discovery.front().map(|o| (o.id, o.file.as_fd())))
            .collect();
        let refreshed = watch
            .refresh(&self.path)
            .and_then(|dirs| Ok(watch.watch_files(&self.path, &files)? | dirs));
        drop(discovery);
        match refreshed {
            Ok(changed) => Ok(changed),
            Err(why) => {
                self.poll_instead(why.to_string());
                Ok(true)
            }
        }
    }

    fn location(&self, line: u64, offset: u64) -> Location {
        Location {
            path: Arc::clone(&self.path),
            line,
            offset,
        }
    }

    /// The current file's size now.
    fn current_size(&self) -> Result<u64, Error> {
        let generation = self.current.as_ref().expect("started");
        let meta = generation.file.metadata();
        Ok(meta.map_err(|e| Error::io(&self.path, e))?.len())
    }

    /// One turn: a line from the buffer, else a read, else a look at the
    /// filesystem, else a wait.
    fn step(&mut self, deadline: Option<Instant>) -> Result<Step, Error> {
        if self.settled {
            return self.sleep(deadline);
        }
        let max = self.options.max_line_bytes;
        let generation = self.current.as_mut().expect("started");
        if let Some(range) = self.buffer.take_line() {
            let len = (range.1 - range.0) as u64;
            let (line_no, offset) = (generation.line_no, generation.line_start);
            generation.line_no += 1;
            generation.line_start += len + 1;
            if std::mem::take(&mut generation.skipping) {
                // The end of a line already reported as too long.
                return Ok(Step::Again);
            }
            if len as usize > max {
                let location = self.location(line_no, offset);
                let line = self.buffer.get(range);
                return Ok(Step::Invalid(InvalidEntry::new(
                    location,
                    InvalidReason::TooLong { limit: max },
                    line,
                )));
            }
            let info = LineInfo {
                line: line_no,
                offset,
                end: offset + len + 1,
                file: Some(generation.id),
            };
            return Ok(Step::Line(info, range));
        }
        let pending = self.buffer.pending().len();
        if generation.skipping || pending > max {
            // Keep memory bounded: report the long line once, then drop its
            // bytes as they come until its newline.
            let report =
                (!generation.skipping).then_some((generation.line_no, generation.line_start));
            generation.skipping = true;
            generation.line_start += pending as u64;
            let entry = report.map(|(line, offset)| {
                InvalidEntry::new(
                    self.location(line, offset),
                    InvalidReason::TooLong { limit: max },
                    self.buffer.pending(),
                )
            });
            self.buffer.clear();
            if let Some(entry) = entry {
                return Ok(Step::Invalid(entry));
            }
        }
        let generation = self.current.as_mut().expect("started");
        if std::mem::take(&mut generation.fragment_at_end) && !self.fragment_still_there()? {
            return self.truncated();
        }
        let generation = self.current.as_mut().expect("started");
        if std::mem::take(&mut generation.woken)
            && generation.tail_len > 0
            && !self.tail_still_there()?
        {
            // The file changed under what was read: truncated and rewritten
            // (to the same size, or past our offset) before we looked. The
            // size alone cannot tell; read it again from the start.
            return self.truncated();
        }
        let generation = self.current.as_mut().expect("started");
        let n = self
            .buffer
            .fill(&mut generation.file)
            .map_err(|e| Error::io(&self.path, e))?;
        if n > 0 {
            generation.read += n as u64;
            let tail = self.buffer.last(TAIL);
            generation.tail[..tail.len()].copy_from_slice(tail);
            generation.tail_len = tail.len();
            return Ok(Step::Again);
        }
        self.at_end(deadline)
    }

    /// Whether the last bytes read are still what the file has before the
    /// read position.
    fn tail_still_there(&self) -> Result<bool, Error> {
        let generation = self.current.as_ref().expect("started");
        let held = &generation.tail[..generation.tail_len];
        let at = generation.read - held.len() as u64;
        generation
            .holds(held, at)
            .map_err(|e| Error::io(&self.path, e))
    }

    /// Takes the pending partial line as an invalid entry (the file it
    /// belongs to is being left).
    fn take_fragment(&mut self, reason: InvalidReason) -> Option<InvalidEntry> {
        let generation = self.current.as_ref().expect("started");
        let fragment = (!self.buffer.pending().is_empty() && !generation.skipping).then(|| {
            InvalidEntry::new(
                self.location(generation.line_no, generation.line_start),
                reason,
                self.buffer.pending(),
            )
        });
        self.buffer.clear();
        fragment
    }

    /// Whether the partial line held in the buffer is still what the file
    /// has at its offset.
    fn fragment_still_there(&self) -> Result<bool, Error> {
        let generation = self.current.as_ref().expect("started");
        generation
            .holds(self.buffer.pending(), generation.line_start)
            .map_err(|e| Error::io(&self.path, e))
    }

    /// The file was truncated in place: what was held of a partial line is
    /// reported, and the file is read again from its start.
    fn truncated(&mut self) -> Result<Step, Error> {
        let fragment = self.take_fragment(InvalidReason::Incomplete);
        let generation = self.current.as_mut().expect("started");
        generation.restart().map_err(|e| Error::io(&self.path, e))?;
        self.notices.push_back(Notice::Truncated {
            path: Arc::clone(&self.path),
        });
        Ok(fragment.map_or(Step::Again, Step::Invalid))
    }

    /// At the end of the current file: truncated? replaced? else wait.
    fn at_end(&mut self, deadline: Option<Instant>) -> Result<Step, Error> {
        if !self.options.follow {
            if let Some(fragment) = self.take_fragment(InvalidReason::Unterminated) {
                return Ok(Step::Invalid(fragment));
            }
            return Ok(Step::Done(Next::End));
        }
        let size = self.current_size()?;
        let generation = self.current.as_mut().expect("started");
        if size < generation.read {
            // Copy-truncate: same inode, shorter than what we read.
            return self.truncated();
        }

        generation.fragment_at_end = !self.buffer.pending().is_empty() && !generation.skipping;
        let (ready, queued, presence, capped) = {
            let mut discovery = self.discovery();
            let presence = discovery.look()?;
            let ready = discovery
                .next_is_ready()
                .map_err(|e| Error::io(&self.path, e))?;
            (
                ready,
                discovery.has_queued(),
                presence,
                discovery.take_capped(),
            )
        };
        if capped {
            self.notices.push_back(Notice::TooManyWaiting);
        }
        match presence {
            Presence::Directory if !std::mem::replace(&mut self.said_not_a_file, true) => {
                self.notices.push_back(Notice::NotAFile {
                    path: Arc::clone(&self.path),
                });
            }
            Presence::File => self.said_not_a_file = false,
            _ => {}
        }
        if ready {
            if !std::mem::replace(&mut self.final_drain, true) {
                return Ok(Step::Again);
            }
            let fragment = self.take_fragment(InvalidReason::Incomplete);
            let next = self.discovery().pop().expect("a ready generation");
            self.current = Some(Generation::new(next));
            self.final_drain = false;
            self.refresh_watch()?;
            return Ok(fragment.map_or(Step::Again, Step::Invalid));
        }
        // A new symlink target may live in a directory not watched yet (its
        // first lines must wake us), or a directory may be gone and come
        // back (its new inode needs a new watch).
        if (queued || presence != Presence::File) && self.refresh_watch()? {
            return Ok(Step::Again);
        }
        if !self.notices.is_empty() {
            // Said before sleeping, not after the next change.
            return Ok(Step::Again);
        }
        self.settled = true;
        if !std::mem::replace(&mut self.told_caught_up, true) {
            return Ok(Step::Done(Next::Item(Item::CaughtUp)));
        }
        self.sleep(deadline)
    }

    /// Waits for a change; after one, the next turn reads and looks again.
    fn sleep(&mut self, deadline: Option<Instant>) -> Result<Step, Error> {
        Ok(match self.wait(deadline)? {
            Woken::Changed => {
                self.settled = false;
                if let Some(generation) = &mut self.current {
                    generation.woken = true;
                }
                Step::Again
            }
            Woken::TimedOut => Step::Done(Next::TimedOut),
            Woken::Cancelled => Step::Done(Next::Cancelled),
        })
    }
}

impl Source for Follower {
    /// Opens the first generation, waiting for the file to appear as long
    /// as [`FollowOptions::wait_for_file`] allows.
    fn start(&mut self) -> Result<(), Error> {
        let deadline = self.options.wait_for_file.map(|d| Instant::now() + d);
        let first = loop {
            let found = {
                let mut discovery = self.discovery();
                if discovery.look()? == Presence::Directory {
                    return Err(Error::IsADirectory {
                        path: Arc::clone(&self.path),
                    });
                }
                discovery.pop()
            };
            if let Some(first) = found {
                break first;
            }
            if self.watch.is_none()
                && self.fallback_poll.is_none()
                && self.options.watch == WatchMode::Notify
            {
                // --no-follow on a missing file: watch, then look again
                // before sleeping, so that a file created in between counts.
                self.watch_or_poll();
                continue;
            }
            if self.refresh_watch()? {
                continue;
            }
            match self.wait(deadline)? {
                Woken::Changed => continue,
                Woken::TimedOut => {
                    return Err(Error::NotFound {
                        path: Arc::clone(&self.path),
                    });
                }
                Woken::Cancelled => return Err(Error::Cancelled),
            }
        };
        self.current = Some(Generation::new(first));
        self.refresh_watch()?;
        match self.options.start {
            StartAt::Start => Ok(()),
            StartAt::End => self.start_at_end(),
            StartAt::After(checkpoint) => self.start_after(checkpoint),
        }
    }

    fn next_item(&mut self, deadline: Option<Instant>) -> Result<Next<Item>, Error> {
        loop {
            if self.sleeper.is_cancelled() {
                return Ok(Next::Cancelled);
            }
            if let Some(notice) = self.notices.pop_front() {
                return Ok(Next::Item(Item::Notice(notice)));
            }
            match self.step(deadline)? {
                Step::Line(info, range) => {
                    self.last_line = range;
                    self.told_caught_up = false;
                    return Ok(Next::Item(Item::Line(info)));
                }
                Step::Invalid(entry) => return Ok(Next::Item(Item::Invalid(entry))),
                Step::Again => continue,
                Step::Done(next) => return Ok(next),
            }
        }
    }

    fn line(&self) -> &[u8] {
        self.buffer.get(self.last_line)
    }

    fn path(&self) -> &Arc<Path> {
        &self.path
    }

    fn cancel_handle(&self) -> CancelHandle {
        self.sleeper.cancel_handle()
    }

    fn take_baseline(&mut self) -> Option<(Vec<u8>, LineInfo)> {
        self.baseline.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::io::Write;

    /// The next item within a generous deadline (a timeout fails the test).
    fn next(follower: &mut Follower) -> Item {
        match follower.next_item(Some(Instant::now() + Duration::from_secs(30))) {
            Ok(Next::Item(item)) => item,
            other => panic!("no item: {other:?}"),
        }
    }

    /// The next line's bytes, after any `CaughtUp`.
    fn next_line(follower: &mut Follower) -> Vec<u8> {
        loop {
            match next(follower) {
                Item::Line(_) => return follower.line().to_vec(),
                Item::CaughtUp => continue,
                other => panic!("not a line: {other:?}"),
            }
        }
    }

    #[test]
    fn a_failed_opener_thread_is_told_and_polling_takes_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("change.log");
        fs::write(&path, b"one\n").unwrap();
        let mut follower = Follower::new(&path, FollowOptions::default()).unwrap();
        follower.start().unwrap();
        assert_eq!(next_line(&mut follower), b"one");
        assert!(matches!(next(&mut follower), Item::CaughtUp));
        follower.watch.as_ref().expect("watching").fail_opener();
        match next(&mut follower) {
            Item::Notice(Notice::Polling { why, .. }) => {
                assert!(why.contains("stopped"), "{why}");
                assert!(why.contains("failing as the test asked"), "{why}");
            }
            other => panic!("not told: {other:?}"),
        }
        assert!(follower.watch.is_none());
        assert!(follower.discovery.is_poisoned());
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
