//! SIGINT, SIGTERM and SIGUSR1, delivered to the follower's one wait.
//!
//! A thread blocked on signal-hook's self-pipe turns SIGINT and SIGTERM
//! into a cancellation of the iterator, and SIGUSR1 into an interruption,
//! either of which wakes the follower wherever it sleeps (and reaches a
//! busy one between two lines): no flag polled on a timer, so no wake-ups
//! while idle. On a cancellation the run flushes output and exits 128 +
//! the signal; a second one ends the process at once. On an interruption
//! it prints a status line and goes on.
//!
//! The handlers are installed first thing ([`install`]), before the run
//! opens anything: until then SIGUSR1's default action would kill the
//! process. Signals that come before the thread starts wait in the pipe.

use changelog_tail::{CancelHandle, InterruptHandle};
use signal_hook::consts::{SIGINT, SIGTERM, SIGUSR1};
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

/// Handlers installed; signals are held until [`Installed::forward_to`].
pub struct Installed(Signals);

/// Catches SIGINT, SIGTERM and SIGUSR1 from now on.
pub fn install() -> std::io::Result<Installed> {
    Signals::new([SIGINT, SIGTERM, SIGUSR1]).map(Installed)
}

impl Installed {
    /// Routes SIGINT and SIGTERM to `cancel`, SIGUSR1 to `interrupt`.
    pub fn forward_to(
        self,
        cancel: CancelHandle,
        interrupt: InterruptHandle,
    ) -> std::io::Result<Received> {
        let Installed(mut signals) = self;
        let received = Received::default();
        let record = received.clone();
        std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                for signal in signals.forever() {
                    if signal == SIGUSR1 {
                        interrupt.interrupt();
                        continue;
                    }
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
}
