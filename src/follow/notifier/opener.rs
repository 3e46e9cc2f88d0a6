//! What a backend's opener (see [`notifier`](super)) shares with the
//! reader, written once for both: how the reader learns that the opener
//! ended, and why.
//!
//! A pipe tells it: the opener holds the write end ([`Alive`]), the reader
//! waits on the read end ([`Gone`]) among its other descriptors, and sees
//! it hang up when the write end is dropped, for whatever reason (an
//! error, a panic, the thread gone). Why travels beside it.

use crate::wake::PollFlags;
use std::any::Any;
use std::io::{self, PipeReader, PipeWriter};
use std::os::fd::{AsFd, BorrowedFd};
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, PoisonError};

/// Why the opener ended, if it said.
type Why = Arc<Mutex<Option<String>>>;

/// The opener's end: dropping it tells the reader that the opener is gone.
#[derive(Debug)]
pub(super) struct Alive {
    _pipe: PipeWriter,
    why: Why,
}

/// The reader's end: hangs up when the opener is gone.
#[derive(Debug)]
pub(super) struct Gone {
    pipe: PipeReader,
    why: Why,
}

/// A new opener's two ends.
pub(super) fn pipe() -> io::Result<(Gone, Alive)> {
    let (reader, writer) = std::io::pipe()?;
    let why = Why::default();
    let alive = Alive {
        _pipe: writer,
        why: Arc::clone(&why),
    };
    Ok((Gone { pipe: reader, why }, alive))
}

/// Runs `work` (the whole opener, or one turn of it) while the opener is
/// `alive`: if it fails or panics, the opener is gone from then on, with
/// why. (A panic while it holds the discovery lock poisons that lock, which
/// the reader uses all the same: see `Finder::discovery`.)
pub(super) fn run(alive: &mut Option<Alive>, work: impl FnOnce() -> Result<(), String>) {
    if alive.is_none() {
        return;
    }
    let why = match std::panic::catch_unwind(AssertUnwindSafe(work)) {
        Ok(Ok(())) => return,
        Ok(Err(why)) => why,
        Err(panic) => panicked(&*panic),
    };
    if let Some(alive) = alive.take() {
        *alive.why.lock().unwrap_or_else(PoisonError::into_inner) = Some(why);
        // Dropped: the reader's wait sees the hang-up.
    }
}

/// What a panic said, as the reason the opener ended.
fn panicked(panic: &(dyn Any + Send)) -> String {
    let message = panic
        .downcast_ref::<&str>()
        .copied()
        .or(panic.downcast_ref::<String>().map(String::as_str));
    match message {
        Some(message) => format!("it panicked: {message}"),
        None => "it panicked".to_string(),
    }
}

impl Gone {
    /// The descriptor to wait on, with what to wait for.
    pub(super) fn wake_fd(&self) -> (BorrowedFd<'_>, PollFlags) {
        (self.pipe.as_fd(), PollFlags::IN)
    }

    /// Why the opener ended, if it did, told by a wait in which this pipe
    /// was `ready` or not: then new generations are no longer opened as
    /// they appear, and the caller must poll instead.
    pub(super) fn failure(&self, ready: bool) -> Option<String> {
        // The pipe stays readable once its writer is gone: the wait saw it
        // if it was gone then (else the next wait will).
        if !ready || !hung_up(&self.pipe) {
            return None;
        }
        let why = self
            .why
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .unwrap_or_else(|| "it ended".to_string());
        Some(format!(
            "the thread that opens new changelog files stopped ({why})"
        ))
    }
}

/// Whether the pipe has hung up or has a byte: the opener is gone. Looks
/// without waiting.
fn hung_up(pipe: &PipeReader) -> bool {
    use rustix::event::{PollFd, Timespec, poll};
    let mut fds = [PollFd::new(pipe, PollFlags::IN)];
    let zero = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    poll(&mut fds, Some(&zero)).is_ok() && !fds[0].revents().is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_or_a_panic_ends_the_opener_with_why() {
        let (gone, alive) = pipe().unwrap();
        let mut alive = Some(alive);
        run(&mut alive, || Ok(()));
        assert_eq!(gone.failure(true), None, "alive still");
        run(&mut alive, || Err("no more".to_string()));
        assert!(alive.is_none());
        assert_eq!(
            gone.failure(true).as_deref(),
            Some("the thread that opens new changelog files stopped (no more)")
        );

        let (gone, alive) = pipe().unwrap();
        let mut alive = Some(alive);
        run(&mut alive, || panic!("as asked"));
        assert_eq!(gone.failure(false), None, "the wait did not see it");
        assert!(
            gone.failure(true)
                .unwrap()
                .ends_with("(it panicked: as asked)")
        );
    }
}
