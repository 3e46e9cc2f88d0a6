//! Events as a [`futures_core::Stream`], for async services (cargo feature
//! `tokio`).
//!
//! The stream reads as the iterator does, without blocking: when nothing is
//! there, it registers the descriptors the iterator would sleep on (the
//! inotify descriptor, the input pipe, the cancellation pipe) with tokio's
//! reactor (`AsyncFd`) and waits as any other task does: the stream adds
//! no thread and no timer (unless polling was asked for). The iterator it
//! wraps keeps its own opener thread when it follows a file with
//! notifications (`changelog-opener`, or the `notify` crate's thread), so
//! that a file rotated away within a millisecond is still read: see the
//! crate's front page. Dropping the stream stops it and releases the file.

use crate::error::Error;
use crate::event::Event;
use crate::iterator::ChangelogIterator;
use crate::source::Next;
use crate::wake::PollFlags;
use futures_core::Stream;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// The events of a [`ChangelogIterator`], as a stream: the same items as
/// its [`Iterator`] (notices are passed over), ending when the input ends.
///
/// ```no_run
/// # async fn run() -> Result<(), changelog_tail::Error> {
/// use changelog_tail::{ChangelogIterator, Error, Filter};
/// use futures::StreamExt;
///
/// let mut events = ChangelogIterator::open_filtered(
///     "/var/spool/ctlstore/change.log",
///     Filter::new().family("payments"),
/// )?
/// .into_stream();
/// while let Some(result) = events.next().await {
///     match result {
///         Ok(event) => println!("invalidate {:?}", event.row_update.keys),
///         Err(Error::OutOfSync { .. }) => println!("drop every cache"),
///         Err(e) if e.is_recoverable() => eprintln!("{e}"),
///         Err(e) => return Err(e),
///     }
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub struct EventStream {
    events: ChangelogIterator,
    /// The descriptors registered with the reactor (duplicates of the
    /// iterator's, by their number there).
    registered: Vec<(RawFd, AsyncFd<OwnedFd>)>,
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl ChangelogIterator {
    /// The same events as a [`Stream`], waited for through tokio.
    ///
    /// # Panics
    ///
    /// When polled outside a tokio runtime with I/O and time enabled (as
    /// any tokio I/O object does).
    #[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
    pub fn into_stream(self) -> EventStream {
        EventStream {
            events: self,
            registered: Vec::new(),
            timer: None,
        }
    }
}

impl EventStream {
    /// Registers what the iterator would sleep on, and says whether any of
    /// it is ready already (then look again).
    fn wait(&mut self, cx: &mut Context<'_>) -> Result<bool, Error> {
        let wait_on = self.events.wait_on();
        // The mount table (priority readiness) is left out: epoll would call
        // it always readable. A mount over the directory is then seen at
        // the next other change.
        let wanted: Vec<_> = wait_on
            .fds
            .iter()
            .filter(|(_, flags)| flags.contains(PollFlags::IN))
            .map(|(fd, _)| *fd)
            .collect();
        let same = wanted.len() == self.registered.len()
            && wanted
                .iter()
                .zip(&self.registered)
                .all(|(fd, (raw, _))| fd.as_raw_fd() == *raw);
        if !same {
            self.registered.clear();
            for fd in wanted {
                let owned = fd.try_clone_to_owned().map_err(|e| self.error(e))?;
                // SAFETY: an `OwnedFd` is open, stays open and names the
                // same description until the `AsyncFd` (its owner) drops it.
                let registered =
                    unsafe { AsyncFd::register_with_interest(owned, Interest::READABLE) }
                        .map_err(|e| self.error(e.into_parts().1))?;
                self.registered.push((fd.as_raw_fd(), registered));
            }
        }
        let interval = wait_on.interval;
        let mut ready = false;
        for (_, fd) in &self.registered {
            if let Poll::Ready(guard) = fd.poll_read_ready(cx) {
                // Cleared before looking again: an event after the look
                // sets it anew.
                guard.map_err(|e| self.error(e))?.clear_ready();
                ready = true;
            }
        }
        if let Some(interval) = interval {
            let timer = self
                .timer
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(interval)));
            if timer.as_mut().poll(cx).is_ready() {
                self.timer = None;
                ready = true;
            }
        }
        Ok(ready)
    }

    fn error(&self, e: std::io::Error) -> Error {
        Error::io(self.events.path(), e)
    }
}

impl Stream for EventStream {
    type Item = Result<Event, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            // A deadline in the past: look, never block.
            match this.events.next_until(Some(Instant::now())) {
                Ok(Next::Item(event)) => return Poll::Ready(Some(Ok(event))),
                Ok(Next::Notice(_) | Next::Interrupted) => continue,
                Ok(Next::TimedOut) => {}
                Ok(_) => return Poll::Ready(None),
                Err(e) => return Poll::Ready(Some(Err(e))),
            }
            match this.wait(cx) {
                Ok(true) => continue,
                Ok(false) => return Poll::Pending,
                Err(e) => return Poll::Ready(Some(Err(e))),
            }
        }
    }
}
