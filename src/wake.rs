//! The one place a follower sleeps, and everything that can wake it.
//!
//! Filesystem notifications, cancellation from another thread and (in the
//! command line) signals all arrive on one channel, so a follower blocks in a
//! single `recv` and costs nothing while nothing happens: no timer, no
//! periodic wake-up (SPEC §2, FOLLOWING.md "The process").
//!
//! Notifications are coalesced: a burst of writes queues one message, not
//! one per write, so the channel cannot grow while the reader is busy.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

#[derive(Debug)]
enum Message {
    Changed,
    Cancel,
}

/// Why a [`WakeReceiver::wait`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Woken {
    /// Something may have changed on disk: look again.
    Changed,
    /// The deadline (or poll interval) passed with no news.
    TimedOut,
    /// [`CancelHandle::cancel`] was called.
    Cancelled,
}

/// Ends a blocked (or future) `next` call from any thread.
///
/// ```
/// # use changelog_tail::{ChangelogIterator, Filter, MemorySource, Next};
/// let mut it = ChangelogIterator::from_source(MemorySource::following(Vec::<String>::new()), Filter::new()).unwrap();
/// let cancel = it.cancel_handle();
/// std::thread::spawn(move || cancel.cancel());
/// assert!(matches!(it.next_until(None).unwrap(), Next::Cancelled));
/// ```
#[derive(Debug, Clone)]
pub struct CancelHandle {
    tx: Sender<Message>,
    cancelled: Arc<AtomicBool>,
}

impl CancelHandle {
    /// Makes every current and later `next` call return `Cancelled`.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
        // The receiver lives as long as the iterator; once it is gone there
        // is nobody left to tell.
        let _ = self.tx.send(Message::Cancel);
    }

    /// Whether [`cancel`](Self::cancel) has been called.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }
}

/// Tells a follower that the filesystem may have changed. Cheap to call
/// from a notification thread at any rate.
#[derive(Debug, Clone)]
pub(crate) struct Waker {
    tx: Sender<Message>,
    pending: Arc<AtomicBool>,
}

impl Waker {
    pub(crate) fn wake(&self) {
        if !self.pending.swap(true, Ordering::AcqRel) {
            let _ = self.tx.send(Message::Changed);
        }
    }
}

/// The receiving end: owned by the follower.
#[derive(Debug)]
pub(crate) struct WakeReceiver {
    rx: Receiver<Message>,
    pending: Arc<AtomicBool>,
    cancel: CancelHandle,
}

/// Creates the channel a follower sleeps on.
pub(crate) fn channel() -> (Waker, WakeReceiver) {
    let (tx, rx) = mpsc::channel();
    let pending = Arc::new(AtomicBool::new(false));
    let cancel = CancelHandle {
        tx: tx.clone(),
        cancelled: Arc::new(AtomicBool::new(false)),
    };
    (
        Waker {
            tx,
            pending: Arc::clone(&pending),
        },
        WakeReceiver {
            rx,
            pending,
            cancel,
        },
    )
}

impl WakeReceiver {
    pub(crate) fn cancel_handle(&self) -> CancelHandle {
        self.cancel.clone()
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Blocks until woken, cancelled, `deadline` or `poll` (whichever is
    /// first). Takes every message already queued, so one look at the
    /// filesystem answers a whole batch of notifications.
    pub(crate) fn wait(&self, deadline: Option<Instant>, poll: Option<Duration>) -> Woken {
        if self.is_cancelled() {
            return Woken::Cancelled;
        }
        let now = Instant::now();
        let timeout = match (deadline.map(|d| d.saturating_duration_since(now)), poll) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let first = match timeout {
            None => self.rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
            Some(t) => self.rx.recv_timeout(t),
        };
        let mut woken = match first {
            Ok(Message::Cancel) => return Woken::Cancelled,
            Ok(Message::Changed) => Woken::Changed,
            // A poll interval that ran out is a reason to look, a deadline
            // is a reason to return.
            Err(RecvTimeoutError::Timeout) if deadline.is_some_and(|d| Instant::now() >= d) => {
                Woken::TimedOut
            }
            Err(_) => Woken::Changed,
        };
        while let Ok(message) = self.rx.try_recv() {
            if let Message::Cancel = message {
                woken = Woken::Cancelled;
            }
        }
        // Cleared before the caller looks, so a change after this point sends
        // a fresh message instead of being absorbed.
        self.pending.store(false, Ordering::Release);
        if self.is_cancelled() {
            Woken::Cancelled
        } else {
            woken
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_wakes_queues_one_message() {
        let (waker, rx) = channel();
        for _ in 0..1000 {
            waker.wake();
        }
        assert_eq!(rx.wait(None, None), Woken::Changed);
        assert_eq!(
            rx.wait(Some(Instant::now() + Duration::from_millis(1)), None),
            Woken::TimedOut
        );
        waker.wake();
        assert_eq!(rx.wait(None, None), Woken::Changed);
    }

    #[test]
    fn cancel_wins_over_changes_and_sticks() {
        let (waker, rx) = channel();
        waker.wake();
        rx.cancel_handle().cancel();
        assert_eq!(rx.wait(None, None), Woken::Cancelled);
        assert_eq!(rx.wait(None, None), Woken::Cancelled);
    }

    #[test]
    fn a_passed_deadline_does_not_block() {
        let (_waker, rx) = channel();
        assert_eq!(rx.wait(Some(Instant::now()), None), Woken::TimedOut);
    }

    #[test]
    fn a_poll_interval_returns_as_a_change() {
        let (_waker, rx) = channel();
        assert_eq!(
            rx.wait(None, Some(Duration::from_millis(1))),
            Woken::Changed
        );
    }
}
