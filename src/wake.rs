//! The one place a reader sleeps, and what can wake it.
//!
//! A reader blocks in a single `poll(2)` on the descriptors of its watches
//! (if any: inotify, and whatever else may tell of a change) and the read
//! end of a pipe that cancellation writes to: no timer, no periodic
//! wake-up, so an idle follower costs nothing. Cancellation (and so
//! SIGINT/SIGTERM in the command line) reaches the
//! same wait. While the reader is busy, notifications wait in the kernel,
//! where identical ones merge: a burst of writes costs one wake-up, not one
//! per write.

pub(crate) use rustix::event::PollFlags;
use rustix::event::{PollFd, Timespec, poll};
use std::io::{self, PipeReader, PipeWriter, Write};
use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicBool, Ordering, fence};
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
}

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
    inner: Arc<Cancel>,
}

#[derive(Debug, Default)]
struct Cancel {
    cancelled: AtomicBool,
    /// Made by the reader the first time it sleeps (so that making a handle
    /// cannot fail); the byte written on cancellation wakes its `poll`.
    pipe: OnceLock<(PipeReader, PipeWriter)>,
}

impl CancelHandle {
    pub(crate) fn new() -> Self {
        CancelHandle::default()
    }

    /// Makes every current and later `next` call return `Cancelled`.
    pub fn cancel(&self) {
        if self.inner.cancelled.swap(true, Ordering::SeqCst) {
            return;
        }
        // Pairs with the fence in `Sleeper::wait`: either the reader sees
        // the flag before it sleeps, or we see its pipe and wake it.
        fence(Ordering::SeqCst);
        if let Some((_, writer)) = self.inner.pipe.get() {
            // The byte is never read: the pipe stays readable, so every
            // later wait returns at once too. If the reader is gone there
            // is nobody left to tell.
            let _ = (&*writer).write(&[1]);
        }
    }

    /// Whether [`cancel`](Self::cancel) has been called.
    pub fn is_cancelled(&self) -> bool {
        self.inner.cancelled.load(Ordering::SeqCst)
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

    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    #[cfg(feature = "tokio")]
    /// What a caller that waits itself must watch for cancellation.
    pub(crate) fn cancel_wait(&self) -> Option<(BorrowedFd<'_>, PollFlags)> {
        let (reader, _) = self.cancel.inner.pipe.get()?;
        Some((std::os::fd::AsFd::as_fd(reader), PollFlags::IN))
    }

    /// The read end of the cancellation pipe, made on first use.
    fn cancel_fd(&self) -> io::Result<&PipeReader> {
        if let Some((reader, _)) = self.cancel.inner.pipe.get() {
            return Ok(reader);
        }
        let pipe = std::io::pipe()?;
        // Another sleeper on the same handle may have won the race.
        let (reader, _) = self.cancel.inner.pipe.get_or_init(|| pipe);
        fence(Ordering::SeqCst);
        Ok(reader)
    }

    /// Blocks until one of `watched` is ready for what it is watched for,
    /// cancellation, `deadline` or the `poll` interval, whichever is first.
    /// A deadline in the past does not block.
    pub(crate) fn wait(
        &self,
        watched: &[(BorrowedFd<'_>, PollFlags)],
        deadline: Option<Instant>,
        poll_interval: Option<Duration>,
    ) -> io::Result<Woken> {
        let cancel_fd = self.cancel_fd()?;
        loop {
            if self.is_cancelled() {
                return Ok(Woken::Cancelled);
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
            if self.is_cancelled() {
                return Ok(Woken::Cancelled);
            }
            if ready > 0 {
                return Ok(Woken::Changed);
            }
            // Timed out: a passed deadline ends the wait, a poll interval
            // is a reason to look.
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(Woken::TimedOut);
            }
            if poll_interval.is_some() {
                return Ok(Woken::Changed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

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
