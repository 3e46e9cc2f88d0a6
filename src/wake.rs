//! The one place a reader sleeps, and what can wake it.
//!
//! A reader blocks in a single `poll(2)` on the descriptors of its watches
//! (if any: inotify, and whatever else may tell of a change) and the read
//! end of a pipe that cancellation and interruption write to: no timer, no periodic wake-up, so an idle
//! follower costs nothing. Cancellation (and so SIGINT/SIGTERM in the
//! command line) and interruption (a status request: SIGUSR1) reach the
//! same wait. While the reader is busy, notifications wait in the kernel,
//! where identical ones merge: a burst of writes costs one wake-up, not one
//! per write.
//!
//! Both requests are bits of one atomic word, so that a busy reader, which
//! looks for them between items, pays one load per item for both.

pub(crate) use rustix::event::PollFlags;
use rustix::event::{PollFd, Timespec, poll};
use std::io::{self, PipeReader, PipeWriter, Read, Write};
use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicU8, Ordering, fence};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// Why a [`Sleeper::wait`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Woken {
    /// Something may have changed (a notification, or a poll interval
    /// passed): look again.
    Changed,
    /// The deadline passed with no news.
    TimedOut,
    /// [`CancelHandle::cancel`] was called.
    Cancelled,
    /// [`InterruptHandle::interrupt`] was called (taken: said once).
    Interrupted,
}

/// [`Shared::requests`]: cancelled (for good).
const CANCELLED: u8 = 1;
/// [`Shared::requests`]: an interruption not yet taken by the reader.
const INTERRUPTED: u8 = 2;

/// Ends a blocked (or future) `next` call from any thread.
///
/// ```
/// # use changelog_tail::{ChangelogIterator, MemorySource, Next};
/// let builder = ChangelogIterator::builder_memory(MemorySource::new(Vec::<String>::new()))
///     .follow(true);
/// let cancel = builder.cancel_handle();
/// let mut it = builder.open().unwrap();
/// std::thread::spawn(move || cancel.cancel());
/// assert!(matches!(it.next_until(None).unwrap(), Next::Cancelled));
/// ```
#[derive(Debug, Clone, Default)]
pub struct CancelHandle {
    inner: Arc<Shared>,
}

/// Makes a blocked (or the next) `next` call return
/// [`Next::Interrupted`](crate::Next::Interrupted) once, without cancelling
/// anything: for a caller that wants the reader's attention, e.g. to print
/// [`ChangelogIterator::status`](crate::ChangelogIterator::status) on a
/// signal. A busy reader answers too: it looks between items.
/// Interruptions that come before the reader takes one are merged into it.
///
/// ```
/// # use changelog_tail::{ChangelogIterator, MemorySource, Next};
/// # use std::time::Duration;
/// let builder = ChangelogIterator::builder_memory(MemorySource::new(Vec::<String>::new()))
///     .follow(true);
/// let interrupt = builder.interrupt_handle();
/// let mut it = builder.open().unwrap();
/// std::thread::spawn(move || interrupt.interrupt());
/// assert!(matches!(it.next_until(None).unwrap(), Next::Interrupted));
/// // Said once: the next call waits as before.
/// assert!(matches!(it.next_timeout(Duration::from_millis(1)).unwrap(), Next::TimedOut));
/// ```
#[derive(Debug, Clone)]
pub struct InterruptHandle {
    inner: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    /// [`CANCELLED`] and [`INTERRUPTED`].
    requests: AtomicU8,
    /// Made by the reader the first time it sleeps (so that making a handle
    /// cannot fail); a byte written to it wakes the reader's `poll`. Its
    /// read end does not block, so that the reader can empty it.
    pipe: OnceLock<(PipeReader, PipeWriter)>,
}

impl Shared {
    /// Sets `request` and, if it was not set, wakes the reader.
    fn request(&self, request: u8) {
        if self.requests.fetch_or(request, Ordering::SeqCst) & request != 0 {
            return;
        }
        // Pairs with the fence in `Sleeper::cancel_fd`: either the reader
        // sees the bit before it sleeps, or we see its pipe and wake it.
        fence(Ordering::SeqCst);
        if let Some((_, writer)) = self.pipe.get() {
            // If the reader is gone there is nobody left to tell. A
            // cancellation's byte is never read: the pipe stays readable,
            // so every later wait returns at once too.
            let _ = (&*writer).write(&[request]);
        }
    }
}

impl CancelHandle {
    pub(crate) fn new() -> Self {
        CancelHandle::default()
    }

    /// The interrupting sibling of this handle: it reaches the same reader.
    pub(crate) fn interrupt_handle(&self) -> InterruptHandle {
        InterruptHandle {
            inner: Arc::clone(&self.inner),
        }
    }

    /// Makes every current and later `next` call return `Cancelled`.
    pub fn cancel(&self) {
        self.inner.request(CANCELLED);
    }

    /// Whether [`cancel`](Self::cancel) has been called.
    pub fn is_cancelled(&self) -> bool {
        self.inner.requests.load(Ordering::SeqCst) & CANCELLED != 0
    }
}

impl InterruptHandle {
    /// Makes the current blocked `next` call, or else the next one, return
    /// [`Next::Interrupted`](crate::Next::Interrupted) once. Reading then
    /// goes on as before: nothing is skipped or cancelled.
    pub fn interrupt(&self) {
        self.inner.request(INTERRUPTED);
    }
}

/// The receiving end: owned by a source.
#[derive(Debug)]
pub(crate) struct Sleeper {
    cancel: CancelHandle,
}

impl Sleeper {
    /// The sleeping end of `cancel`, with its pipe made now (so that a
    /// process short of file descriptors fails here, at the start, rather
    /// than at its first wait).
    pub(crate) fn new(cancel: &CancelHandle) -> io::Result<Self> {
        let sleeper = Sleeper {
            cancel: cancel.clone(),
        };
        sleeper.cancel_fd()?;
        Ok(sleeper)
    }

    /// A cancellation or an interruption (taken), if either is pending:
    /// one atomic load when neither is, so that a reader can ask between
    /// items.
    #[inline]
    pub(crate) fn requested(&self) -> Option<Woken> {
        let requests = self.cancel.inner.requests.load(Ordering::SeqCst);
        if requests == 0 {
            return None;
        }
        if requests & CANCELLED != 0 {
            return Some(Woken::Cancelled);
        }
        self.take_interrupt().then_some(Woken::Interrupted)
    }

    /// Takes a pending interruption, and empties the pipe of its byte.
    fn take_interrupt(&self) -> bool {
        let requests = self
            .cancel
            .inner
            .requests
            .fetch_and(!INTERRUPTED, Ordering::SeqCst);
        if requests & INTERRUPTED == 0 {
            return false;
        }
        // Its byte, unless the interrupter has not written it yet (a later
        // wait then finds a byte with nothing requested, and empties the
        // pipe again), or a cancellation's byte, which is harmless to take:
        // the cancelled bit is set before it is written, and stays.
        self.drain();
        true
    }

    /// Reads whatever is in the pipe (its read end does not block).
    fn drain(&self) {
        if let Some((reader, _)) = self.cancel.inner.pipe.get() {
            let mut bytes = [0; 64];
            while matches!((&*reader).read(&mut bytes), Ok(n) if n > 0) {}
        }
    }

    #[cfg(feature = "tokio")]
    /// What a caller that waits itself must watch for cancellation and
    /// interruption.
    pub(crate) fn cancel_wait(&self) -> Option<(BorrowedFd<'_>, PollFlags)> {
        let (reader, _) = self.cancel.inner.pipe.get()?;
        Some((std::os::fd::AsFd::as_fd(reader), PollFlags::IN))
    }

    /// The read end of the wake-up pipe, made on first use.
    fn cancel_fd(&self) -> io::Result<&PipeReader> {
        if let Some((reader, _)) = self.cancel.inner.pipe.get() {
            return Ok(reader);
        }
        let (reader, writer) = std::io::pipe()?;
        rustix::io::ioctl_fionbio(&reader, true)?;
        // Another sleeper on the same handle may have won the race.
        let (reader, _) = self.cancel.inner.pipe.get_or_init(|| (reader, writer));
        fence(Ordering::SeqCst);
        Ok(reader)
    }

    /// Blocks until one of `watched` is ready for what it is watched for,
    /// cancellation, interruption, `deadline` or the `poll` interval,
    /// whichever is first. A deadline in the past does not block.
    pub(crate) fn wait(
        &self,
        watched: &[(BorrowedFd<'_>, PollFlags)],
        deadline: Option<Instant>,
        poll_interval: Option<Duration>,
    ) -> io::Result<Woken> {
        Ok(self.wait_ready(watched, deadline, poll_interval)?.0)
    }

    /// [`wait`](Self::wait), also telling which of `watched` were ready
    /// when it woke (so that the caller need not ask each again).
    pub(crate) fn wait_ready(
        &self,
        watched: &[(BorrowedFd<'_>, PollFlags)],
        deadline: Option<Instant>,
        poll_interval: Option<Duration>,
    ) -> io::Result<(Woken, Ready)> {
        let cancel_fd = self.cancel_fd()?;
        loop {
            if let Some(woken) = self.requested() {
                return Ok((woken, Ready::default()));
            }
            let until_deadline = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            let timeout = match (until_deadline, poll_interval) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let timespec = timeout.map(|t| {
                Timespec::try_from(t).unwrap_or(Timespec {
                    tv_sec: i64::MAX,
                    tv_nsec: 0,
                })
            });
            let mut fds = Vec::with_capacity(1 + watched.len());
            fds.push(PollFd::new(cancel_fd, PollFlags::IN));
            fds.extend(
                watched
                    .iter()
                    .map(|&(fd, flags)| PollFd::from_borrowed_fd(fd, flags)),
            );
            let ready = match poll(&mut fds, timespec.as_ref()) {
                Ok(ready) => ready,
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            };
            let ready_fds = Ready::of(&fds[1..]);
            if let Some(woken) = self.requested() {
                return Ok((woken, ready_fds));
            }
            if ready > 0 {
                if ready_fds != Ready::default() {
                    return Ok((Woken::Changed, ready_fds));
                }
                // Only the pipe, with nothing requested: the byte of an
                // interruption taken before it was written. Empty it and
                // sleep again.
                self.drain();
                continue;
            }
            // Timed out: a passed deadline ends the wait, a poll interval
            // is a reason to look.
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok((Woken::TimedOut, ready_fds));
            }
            if poll_interval.is_some() {
                return Ok((Woken::Changed, ready_fds));
            }
        }
    }
}

/// Which of the descriptors a wait watched were ready when it woke, by
/// their place in the list (the first 64).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Ready(u64);

impl Ready {
    fn of(fds: &[PollFd<'_>]) -> Self {
        Ready(
            fds.iter()
                .take(64)
                .enumerate()
                .filter(|(_, fd)| !fd.revents().is_empty())
                .fold(0, |bits, (i, _)| bits | 1 << i),
        )
    }

    /// The descriptors at `indices` ready (for tests of what a wait
    /// found).
    #[cfg(all(test, target_os = "linux"))]
    pub(crate) fn of_indices(indices: &[usize]) -> Self {
        Ready(indices.iter().fold(0, |bits, &i| bits | 1 << i))
    }

    /// Whether the descriptor at `index` was ready.
    pub(crate) fn contains(self, index: usize) -> bool {
        index < 64 && self.0 & 1 << index != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn a_wait_tells_which_watches_were_ready() {
        let sleeper = Sleeper::new(&CancelHandle::new()).unwrap();
        let (quiet, _keep) = std::io::pipe().unwrap();
        let (reader, mut writer) = std::io::pipe().unwrap();
        writer.write_all(b"x").unwrap();
        let watched = [
            (quiet.as_fd(), PollFlags::IN),
            (reader.as_fd(), PollFlags::IN),
        ];
        let (woken, ready) = sleeper.wait_ready(&watched, None, None).unwrap();
        assert_eq!(woken, Woken::Changed);
        assert!(!ready.contains(0) && ready.contains(1) && !ready.contains(64));
    }

    #[test]
    fn a_readable_watch_wakes_and_a_quiet_one_times_out() {
        let sleeper = Sleeper::new(&CancelHandle::new()).unwrap();
        let (reader, mut writer) = std::io::pipe().unwrap();
        let soon = || Some(Instant::now() + Duration::from_millis(5));
        assert_eq!(
            sleeper
                .wait(&[(reader.as_fd(), PollFlags::IN)], soon(), None)
                .unwrap(),
            Woken::TimedOut
        );
        writer.write_all(b"x").unwrap();
        assert_eq!(
            sleeper
                .wait(&[(reader.as_fd(), PollFlags::IN)], None, None)
                .unwrap(),
            Woken::Changed
        );
    }

    #[test]
    fn cancel_wins_and_sticks() {
        let cancel = CancelHandle::new();
        let sleeper = Sleeper::new(&cancel).unwrap();
        std::thread::spawn(move || cancel.cancel());
        assert_eq!(sleeper.wait(&[], None, None).unwrap(), Woken::Cancelled);
        assert_eq!(sleeper.wait(&[], None, None).unwrap(), Woken::Cancelled);
    }

    #[test]
    fn a_cancel_before_the_first_wait_is_seen() {
        let cancel = CancelHandle::new();
        cancel.cancel();
        let sleeper = Sleeper::new(&cancel).unwrap();
        assert_eq!(sleeper.wait(&[], None, None).unwrap(), Woken::Cancelled);
    }

    #[test]
    fn an_interrupt_wakes_a_wait_once() {
        let cancel = CancelHandle::new();
        let sleeper = Sleeper::new(&cancel).unwrap();
        let interrupt = cancel.interrupt_handle();
        std::thread::spawn(move || interrupt.interrupt());
        assert_eq!(sleeper.wait(&[], None, None).unwrap(), Woken::Interrupted);
        // Taken, and its byte with it: the next wait sleeps until its
        // deadline.
        let soon = Some(Instant::now() + Duration::from_millis(5));
        assert_eq!(sleeper.wait(&[], soon, None).unwrap(), Woken::TimedOut);
    }

    #[test]
    fn interrupts_before_a_wait_merge_into_one() {
        let cancel = CancelHandle::new();
        let interrupt = cancel.interrupt_handle();
        interrupt.interrupt();
        let sleeper = Sleeper::new(&cancel).unwrap();
        interrupt.interrupt();
        interrupt.interrupt();
        assert_eq!(sleeper.requested(), Some(Woken::Interrupted));
        assert_eq!(sleeper.requested(), None);
        let soon = Some(Instant::now() + Duration::from_millis(5));
        assert_eq!(sleeper.wait(&[], soon, None).unwrap(), Woken::TimedOut);
    }

    #[test]
    fn a_stray_byte_in_the_pipe_is_not_a_change() {
        let cancel = CancelHandle::new();
        let sleeper = Sleeper::new(&cancel).unwrap();
        // As if an interrupter wrote its byte after the reader took the
        // interruption.
        let (_, writer) = cancel.inner.pipe.get().unwrap();
        (&*writer).write_all(&[INTERRUPTED]).unwrap();
        let soon = Some(Instant::now() + Duration::from_millis(5));
        assert_eq!(sleeper.wait(&[], soon, None).unwrap(), Woken::TimedOut);
    }

    #[test]
    fn cancel_wins_over_an_interrupt_and_survives_its_draining() {
        let cancel = CancelHandle::new();
        let sleeper = Sleeper::new(&cancel).unwrap();
        cancel.interrupt_handle().interrupt();
        cancel.cancel();
        assert_eq!(sleeper.wait(&[], None, None).unwrap(), Woken::Cancelled);
        sleeper.drain();
        assert_eq!(sleeper.wait(&[], None, None).unwrap(), Woken::Cancelled);
    }

    #[test]
    fn a_passed_deadline_does_not_block() {
        let sleeper = Sleeper::new(&CancelHandle::new()).unwrap();
        assert_eq!(
            sleeper.wait(&[], Some(Instant::now()), None).unwrap(),
            Woken::TimedOut
        );
    }

    #[test]
    fn a_poll_interval_returns_as_a_change() {
        let sleeper = Sleeper::new(&CancelHandle::new()).unwrap();
        assert_eq!(
            sleeper
                .wait(&[], None, Some(Duration::from_millis(1)))
                .unwrap(),
            Woken::Changed
        );
    }
}
