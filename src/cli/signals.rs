//! SIGINT, SIGTERM and SIGUSR1, delivered to the follower's one wait.
//!
//! A thread blocked on signal-hook's self-pipe turns SIGINT and SIGTERM
//! into a cancellation of the iterator, and SIGUSR1 into an interruption,
//! either of which wakes the follower wherever it sleeps (and reaches a
//! busy one between two lines): no flag polled on a timer, so no wake-ups
//! while idle. On a cancellation the run flushes output and exits 128 +
//! the signal; a second one ends the process at once, and so does the
//! first if the run has not ended [`GRACE`] after it (its one thread is
//! blocked writing to a reader that stopped reading: as `tail -F` would,
//! it goes, leaving the state file as last written). On an interruption
//! it prints a status line and goes on.
//!
//! The handlers are installed first thing ([`install`]), before the run
//! opens anything: until then SIGUSR1's default action would kill the
//! process. Signals that come before the thread starts wait in the pipe.

use changelog_tail::{CancelHandle, InterruptHandle};
use signal_hook::consts::{SIGINT, SIGTERM, SIGUSR1};
use signal_hook::iterator::backend::SignalDelivery;
use signal_hook::iterator::exfiltrator::SignalOnly;
use std::io::{self, Read};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

/// How long a run has to end after SIGINT or SIGTERM before the signal
/// thread ends the process itself: ample for a flush and a state write, short
/// beside systemd's 90 s before SIGKILL.
pub const GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// What the signal thread has been told, for the run to look at.
#[derive(Debug, Clone, Default)]
pub struct Received(Arc<Shared>);

#[derive(Debug, Default)]
struct Shared {
    /// The signal that ends the run (0 if none yet).
    ending: AtomicI32,
    /// SIGUSR1 came and no status line has been printed for it yet.
    status: AtomicBool,
}

impl Received {
    /// The first SIGINT or SIGTERM received, if any.
    pub fn signal(&self) -> Option<i32> {
        match self.0.ending.load(Ordering::SeqCst) {
            0 => None,
            signal => Some(signal),
        }
    }

    /// Whether a status line was asked for (SIGUSR1) since the last call:
    /// one line per request, whether the iterator's interruption or a
    /// snapshot's check answers it.
    pub fn take_status_request(&self) -> bool {
        // A load first: the common answer costs no locked instruction.
        self.0.status.load(Ordering::Relaxed) && self.0.status.swap(false, Ordering::SeqCst)
    }
}

/// Handlers installed; signals are held until [`Installed::forward_to`].
///
/// signal-hook's own delivery, read by our loop rather than its
/// `Signals::forever`, which panics on any error reading its pipe: here
/// EINTR and EAGAIN are waited out, and any other error ends the run
/// with a message (issue 17).
pub struct Installed(SignalDelivery<UnixStream, SignalOnly>);

/// Catches SIGINT, SIGTERM and SIGUSR1 from now on.
pub fn install() -> std::io::Result<Installed> {
    let (read, write) = UnixStream::pair()?;
    SignalDelivery::with_pipe(read, write, SignalOnly, [SIGINT, SIGTERM, SIGUSR1]).map(Installed)
}

/// Blocks until the self-pipe has a byte (a signal came) or is closed;
/// says which. EINTR is retried, and EAGAIN waited out.
fn has_signals(read: &mut UnixStream) -> io::Result<bool> {
    loop {
        match read.read(&mut [0u8]) {
            Ok(n) => return Ok(n > 0),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                use rustix::event::{PollFd, PollFlags, poll};
                let mut fds = [PollFd::new(&*read, PollFlags::IN)];
                match poll(&mut fds, None) {
                    Ok(_) | Err(rustix::io::Errno::INTR) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            Err(e) => return Err(e),
        }
    }
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
                loop {
                    if let Some(signal) = record.signal() {
                        end_after_grace(signals.get_read(), signal);
                    }
                    let pending = match signals.poll_pending(&mut has_signals) {
                        Ok(Some(pending)) => pending,
                        // Closed: nothing more will come.
                        Ok(None) => return,
                        Err(e) => {
                            // Never seen in practice: signals could no
                            // longer stop the run, so it stops here (the
                            // state file covers only what was flushed).
                            eprintln!("changelog-tail: cannot receive signals any more: {e}");
                            std::process::exit(1);
                        }
                    };
                    for signal in pending {
                        forward(signal, &record, &cancel, &interrupt);
                    }
                }
            })?;
        Ok(received)
    }
}

/// Waits [`GRACE`] for another signal on the self-pipe `read`; if none
/// comes, the run did not end on `signal` either: the process ends here,
/// with its exit code.
fn end_after_grace(read: &UnixStream, signal: i32) {
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    let deadline = std::time::Instant::now() + GRACE;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let left = Timespec {
            tv_sec: left.as_secs() as i64,
            tv_nsec: i64::from(left.subsec_nanos()),
        };
        let mut fds = [PollFd::new(read, PollFlags::IN)];
        match poll(&mut fds, Some(&left)) {
            Ok(0) => std::process::exit(128 + signal),
            Err(rustix::io::Errno::INTR) => {}
            // Another signal to read (or an error the read will tell).
            _ => return,
        }
    }
}

/// Hands one signal on (see the module).
fn forward(signal: i32, record: &Received, cancel: &CancelHandle, interrupt: &InterruptHandle) {
    if signal == SIGUSR1 {
        record.0.status.store(true, Ordering::SeqCst);
        interrupt.interrupt();
        return;
    }
    if record.signal().is_some() {
        // A second signal: the run did not stop on the first (e.g. blocked
        // writing to a reader that stopped reading). Do as the user insists.
        std::process::exit(128 + signal);
    }
    record.0.ending.store(signal, Ordering::SeqCst);
    cancel.cancel();
}
