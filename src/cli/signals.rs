//! SIGINT and SIGTERM, delivered to the follower's one wait.
//!
//! A thread blocked on signal-hook's self-pipe turns a signal into a
//! cancellation of the iterator, which wakes the follower wherever it
//! sleeps: no flag polled on a timer, so no wake-ups while idle. The run
//! then flushes output and exits 128 + the signal. A second signal ends
//! the process at once.

use changelog_tail::CancelHandle;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};

/// The signal that ended the run, if one did.
#[derive(Debug, Clone, Default)]
pub struct Received(Arc<AtomicI32>);

impl Received {
    /// The first signal received (0 if none).
    pub fn signal(&self) -> Option<i32> {
        match self.0.load(Ordering::SeqCst) {
            0 => None,
            signal => Some(signal),
        }
    }
}

/// Routes SIGINT and SIGTERM to `cancel` from now on.
pub fn forward_to(cancel: CancelHandle) -> std::io::Result<Received> {
    let received = Received::default();
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    let record = received.clone();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                if record.signal().is_some() {
                    // A second signal: the run did not stop on the first
                    // (e.g. blocked writing to a reader that stopped
                    // reading). Do as the user insists.
                    std::process::exit(128 + signal);
                }
                record.0.store(signal, Ordering::SeqCst);
                cancel.cancel();
            }
        })?;
    Ok(received)
}
