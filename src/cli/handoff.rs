//! A buffered writer that can hand its full buffers to a thread of its own:
//! writing an unfiltered backlog's output into the page cache is half of
//! the reader's time, and it can be done while the next buffer is filled.
//!
//! Only full buffers go to the thread, one at a time: the writer is never
//! more than one buffer ahead. A flush waits for that one and writes the
//! rest itself, so a follower's event costs no thread round trip, and
//! everything written before a flush is out when it returns (the state
//! file is written after a flush and must not claim more). A write error
//! the thread meets comes back from the next write or flush, and the bytes
//! it did not write are kept, in order, as `BufWriter` keeps them; from
//! then on, as when no thread can be started, everything is written on
//! the caller's thread.
//!
//! The thread spins a little while for the next buffer before it sleeps:
//! during a backlog the next one comes within tens of microseconds, and
//! waking a sleeping thread would cost the writer a system call per buffer.
//! Once a spin came to nothing (buffers come slowly: `--rows` lookups, a
//! trickle), it sleeps at once until one comes within the spin time again,
//! so that a slow writer does not pay a spinning CPU per buffer.

use std::io::{self, Write};
use std::mem;
use std::sync::mpsc::{self, Receiver, SendError, SyncSender, TryRecvError};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long the thread looks for the next buffer before it sleeps.
const SPIN: Duration = Duration::from_micros(100);

/// Writes through a buffer of `capacity` bytes to `sink`; full buffers are
/// written by a thread if one was asked for.
pub struct Handoff<W: Write + Send + 'static> {
    /// What is to be written next, in order: it starts with the bytes of
    /// a failed write, if one failed (kept, as `BufWriter` keeps them).
    buffer: Vec<u8>,
    capacity: usize,
    sink: Arc<Mutex<W>>,
    /// Whether full buffers go to a thread (until one cannot be started or
    /// fails a write: then everything is written here).
    threaded: bool,
    /// Started by the first full buffer.
    thread: Option<Thread>,
    /// A buffer back from the thread, for the next one to fill.
    spare: Option<Vec<u8>>,
    /// A write or flush failed at some point (see [`failed`](Self::failed)).
    failed: bool,
    /// A buffer was lost with a thread that panicked: every later write
    /// and flush fails (what follows would be written after a hole).
    lost: bool,
    /// Tests: act as if no thread could be started.
    #[cfg(test)]
    no_thread: bool,
}

/// The writing thread and the two ends that talk to it.
struct Thread {
    /// Full buffers to write.
    jobs: SyncSender<Vec<u8>>,
    /// Each buffer back once written.
    done: Receiver<Written>,
    /// A buffer is with the thread.
    in_flight: bool,
    handle: JoinHandle<()>,
}

/// A buffer back from the thread: emptied, or, if a write failed, holding
/// the bytes not written, with the error.
struct Written {
    buffer: Vec<u8>,
    error: Option<io::Error>,
}

impl<W: Write + Send + 'static> Handoff<W> {
    /// A writer to `sink` whose full buffers a thread writes if `threaded`
    /// (else it is a plain buffered writer).
    pub fn new(sink: W, capacity: usize, threaded: bool) -> Self {
        Handoff {
            buffer: Vec::with_capacity(capacity),
            capacity,
            sink: Arc::new(Mutex::new(sink)),
            threaded,
            thread: None,
            spare: None,
            failed: false,
            lost: false,
            #[cfg(test)]
            no_thread: false,
        }
    }

    /// Waits for the buffer with the thread (if any) to be written. If its
    /// write failed, the bytes not written go back in front of the buffer,
    /// everything is written here from then on, and the error is returned.
    fn wait(&mut self) -> io::Result<()> {
        let Some(thread) = self.thread.as_mut().filter(|t| t.in_flight) else {
            return Ok(());
        };
        thread.in_flight = false;
        let Ok(written) = thread.done.recv() else {
            // Gone without a word: it panicked (a bug), with the buffer.
            self.stop_thread();
            self.lost = true;
            return Err(lost());
        };
        let Some(error) = written.error else {
            self.spare = Some(written.buffer);
            return Ok(());
        };
        let mut unwritten = written.buffer;
        unwritten.append(&mut self.buffer);
        self.buffer = unwritten;
        self.stop_thread();
        Err(error)
    }

    /// The buffer is full: to the thread (after the one before it is
    /// written), or written here.
    fn pass(&mut self) -> io::Result<()> {
        self.wait()?;
        if self.threaded && self.thread.is_none() {
            match self.start_thread() {
                Ok(thread) => self.thread = Some(thread),
                // Written here, then, as without a second CPU.
                Err(_) => self.threaded = false,
            }
        }
        let Some(thread) = &mut self.thread else {
            return self.write_here();
        };
        let capacity = self.capacity;
        let next = self
            .spare
            .take()
            .unwrap_or_else(|| Vec::with_capacity(capacity));
        let full = mem::replace(&mut self.buffer, next);
        if let Err(SendError(full)) = thread.jobs.send(full) {
            // Gone: the buffer comes back, to be written here.
            self.buffer = full;
            self.stop_thread();
            return self.write_here();
        }
        thread.in_flight = true;
        Ok(())
    }

    fn start_thread(&self) -> io::Result<Thread> {
        #[cfg(test)]
        if self.no_thread {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Thread::start(Arc::clone(&self.sink))
    }

    /// Whether a write or flush failed at some point, even if a later one
    /// got the bytes out: the bytes of the write that failed were not
    /// taken, so the event they belonged to may be missing or cut short
    /// (a state file must not claim it).
    pub fn failed(&self) -> bool {
        self.failed
    }

    /// Notes an error on its way out.
    fn noted<T>(&mut self, result: io::Result<T>) -> io::Result<T> {
        self.failed |= result.is_err();
        result
    }

    /// From now on everything is written here: the thread is let go.
    fn stop_thread(&mut self) {
        self.threaded = false;
        if let Some(thread) = self.thread.take() {
            drop(thread.jobs);
            let _ = thread.handle.join();
        }
    }

    /// Writes the buffer on this thread (nothing is with the thread); on
    /// an error, the bytes not written stay.
    fn write_here(&mut self) -> io::Result<()> {
        let (written, result) = write_out(&mut *lock(&self.sink), &self.buffer);
        self.buffer.drain(..written);
        result
    }
}

/// Writes `bytes` to `sink` as `write_all` does, and says how many were
/// written before an error (`write_all` does not).
fn write_out(sink: &mut impl Write, bytes: &[u8]) -> (usize, io::Result<()>) {
    let mut written = 0;
    while written < bytes.len() {
        match sink.write(&bytes[written..]) {
            Ok(0) => return (written, Err(io::ErrorKind::WriteZero.into())),
            Ok(n) => written += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return (written, Err(e)),
        }
    }
    (written, Ok(()))
}

fn lost() -> io::Error {
    io::Error::other("output lost: the thread writing it panicked")
}

fn lock<W>(sink: &Mutex<W>) -> MutexGuard<'_, W> {
    sink.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Thread {
    fn start<W: Write + Send + 'static>(sink: Arc<Mutex<W>>) -> io::Result<Thread> {
        let (jobs, inbox) = mpsc::sync_channel::<Vec<u8>>(1);
        let (outbox, done) = mpsc::sync_channel(1);
        let handle = std::thread::Builder::new()
            .name("output".into())
            // It only calls `write`: a small stack keeps memory low.
            .stack_size(64 * 1024)
            .spawn(move || write_buffers(&sink, &inbox, &outbox))?;
        Ok(Thread {
            jobs,
            done,
            in_flight: false,
            handle,
        })
    }
}

/// The thread: writes each buffer it is given and gives it back, until
/// the writer lets it go or a write fails.
fn write_buffers<W: Write>(
    sink: &Mutex<W>,
    inbox: &Receiver<Vec<u8>>,
    outbox: &SyncSender<Written>,
) {
    let mut spin = true;
    while let Some(mut buffer) = next_buffer(inbox, &mut spin, SPIN) {
        let (written, result) = {
            let mut sink = lock(sink);
            let (written, result) = write_out(&mut *sink, &buffer);
            (written, result.and_then(|()| sink.flush()))
        };
        buffer.drain(..written);
        let error = result.err();
        let failed = error.is_some();
        if outbox.send(Written { buffer, error }).is_err() || failed {
            return;
        }
    }
}

/// The next buffer, looked for without sleeping for `spin_for` first if
/// `spin`; `None` once the writer is gone. `spin` is left saying whether
/// the buffer came within that time (whether to spin for the next).
fn next_buffer(inbox: &Receiver<Vec<u8>>, spin: &mut bool, spin_for: Duration) -> Option<Vec<u8>> {
    let started = Instant::now();
    while *spin && started.elapsed() < spin_for {
        match inbox.try_recv() {
            Ok(buffer) => return Some(buffer),
            Err(TryRecvError::Disconnected) => return None,
            Err(TryRecvError::Empty) => std::hint::spin_loop(),
        }
    }
    let buffer = inbox.recv().ok();
    *spin = started.elapsed() < spin_for;
    buffer
}

impl<W: Write + Send + 'static> Write for Handoff<W> {
    /// Takes all of `data`, or none of it with an error.
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        // Full, and at the end of a line: out with it before `data` is
        // taken (so that a failed pass takes none of it, and each buffer
        // passed ends a line: the sink's own line buffering, standard
        // output's, then writes it in one piece).
        if self.lost {
            return self.noted(Err(lost()));
        }
        if self.buffer.len() >= self.capacity && self.buffer.last() == Some(&b'\n') {
            let passed = self.pass();
            self.noted(passed)?;
        }
        self.buffer.extend_from_slice(data);
        Ok(data.len())
    }

    fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        self.write(data).map(drop)
    }

    /// Everything written so far is written to the sink, and the sink
    /// flushed, when this returns `Ok`. After an error the bytes not
    /// written are kept, in order, for the next flush to try again.
    fn flush(&mut self) -> io::Result<()> {
        if self.lost {
            return self.noted(Err(lost()));
        }
        let flushed = self
            .wait()
            .and_then(|()| self.write_here())
            .and_then(|()| lock(&self.sink).flush());
        self.noted(flushed)
    }
}

impl<W: Write + Send + 'static> Drop for Handoff<W> {
    /// Writes what is left (as `BufWriter` does, errors ignored) and lets
    /// the thread end.
    fn drop(&mut self) {
        let _ = self.flush();
        self.stop_thread();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sink that all its clones write to.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, data: &[u8]) -> io::Result<usize> {
            lock(&self.0).extend_from_slice(data);
            Ok(data.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Shared {
        fn bytes(&self) -> Vec<u8> {
            lock(&self.0).clone()
        }
    }

    /// Lines `0..n`, written in pieces as the output writes an event.
    fn write_lines(out: &mut impl Write, lines: std::ops::Range<usize>) {
        for i in lines {
            out.write_all(b"{\"seq\":").unwrap();
            out.write_all(i.to_string().as_bytes()).unwrap();
            out.write_all(b"}\n").unwrap();
        }
    }

    fn expected(lines: std::ops::Range<usize>) -> Vec<u8> {
        let mut bytes = Vec::new();
        write_lines(&mut bytes, lines);
        bytes
    }

    #[test]
    fn everything_flushed_is_written_in_order_with_or_without_a_thread() {
        for threaded in [false, true] {
            let sink = Shared::default();
            let mut out = Handoff::new(sink.clone(), 64, threaded);
            write_lines(&mut out, 0..1000);
            out.flush().unwrap();
            assert_eq!(sink.bytes(), expected(0..1000), "threaded: {threaded}");
            // And again after the thread had buffers (a follower's flush).
            write_lines(&mut out, 1000..1003);
            out.flush().unwrap();
            assert_eq!(sink.bytes(), expected(0..1003), "threaded: {threaded}");
            assert_eq!(out.thread.is_some(), threaded);
            assert!(!out.failed());
        }
    }

    /// A sink slow to write on the output thread (a slow disk or reader).
    struct SlowOnTheThread(Shared);

    impl Write for SlowOnTheThread {
        fn write(&mut self, data: &[u8]) -> io::Result<usize> {
            if std::thread::current().name() == Some("output") {
                std::thread::sleep(Duration::from_millis(5));
            }
            self.0.write(data)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_flush_waits_for_the_buffer_with_the_thread() {
        let sink = Shared::default();
        let mut out = Handoff::new(SlowOnTheThread(sink.clone()), 64, true);
        write_lines(&mut out, 0..20);
        out.flush().unwrap();
        assert_eq!(sink.bytes(), expected(0..20));
    }

    #[test]
    fn the_thread_spins_only_while_buffers_come_quickly() {
        // Generous times: what comes at once comes well within them.
        let spin_for = Duration::from_millis(200);
        let (jobs, inbox) = mpsc::sync_channel(1);
        let mut spin = true;
        jobs.send(vec![1]).unwrap();
        assert_eq!(next_buffer(&inbox, &mut spin, spin_for), Some(vec![1]));
        assert!(spin, "came at once");
        let late = std::thread::spawn(move || {
            std::thread::sleep(spin_for * 2);
            jobs.send(vec![2]).unwrap();
            jobs
        });
        assert_eq!(next_buffer(&inbox, &mut spin, spin_for), Some(vec![2]));
        assert!(!spin, "came late: sleep at once next time");
        let jobs = late.join().unwrap();
        jobs.send(vec![3]).unwrap();
        assert_eq!(next_buffer(&inbox, &mut spin, spin_for), Some(vec![3]));
        assert!(spin, "came at once again");
        drop(jobs);
        assert_eq!(next_buffer(&inbox, &mut spin, spin_for), None);
    }

    #[test]
    fn what_is_left_is_written_when_dropped() {
        let sink = Shared::default();
        let mut out = Handoff::new(sink.clone(), 64, true);
        write_lines(&mut out, 0..500);
        drop(out);
        assert_eq!(sink.bytes(), expected(0..500));
    }

    #[test]
    fn nothing_goes_to_the_thread_before_a_buffer_is_full() {
        let sink = Shared::default();
        let mut out = Handoff::new(sink.clone(), 1 << 16, true);
        write_lines(&mut out, 0..10);
        out.flush().unwrap();
        assert!(out.thread.is_none());
        assert_eq!(sink.bytes(), expected(0..10));
    }

    /// A sink that, on its third write (the thread's: the writer's own
    /// come later), writes half of what it is given, and fails the fourth
    /// as a non-blocking pipe would; every other write succeeds. Bytes
    /// accepted are kept.
    #[derive(Clone, Default)]
    struct Hiccup {
        bytes: Shared,
        writes: Arc<Mutex<usize>>,
    }

    impl Write for Hiccup {
        fn write(&mut self, data: &[u8]) -> io::Result<usize> {
            let call = {
                let mut writes = lock(&self.writes);
                *writes += 1;
                *writes
            };
            match call {
                3 => self.bytes.write(&data[..data.len() / 2]),
                4 => Err(io::ErrorKind::WouldBlock.into()),
                _ => self.bytes.write(data),
            }
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_failed_write_is_told_and_loses_nothing_on_either_thread() {
        for threaded in [true, false] {
            let sink = Hiccup::default();
            let mut out = Handoff::new(sink.clone(), 64, threaded);
            let mut failed = None;
            for i in 0..1000 {
                if let Err(e) = out.write_all(format!("{i}\n").as_bytes()) {
                    // Taken none of: written again.
                    out.write_all(format!("{i}\n").as_bytes()).unwrap();
                    failed = Some(e);
                }
            }
            let failed = failed
                .or_else(|| out.flush().err())
                .expect("the error told");
            assert_eq!(failed.kind(), io::ErrorKind::WouldBlock);
            // The next flush writes what was not written, in order, once.
            out.flush().unwrap();
            let all: String = (0..1000).map(|i| format!("{i}\n")).collect();
            let written = String::from_utf8(sink.bytes.bytes()).unwrap();
            assert_eq!(written, all, "threaded: {threaded}");
            assert!(out.thread.is_none(), "written here from then on");
            assert!(out.failed(), "the failure is remembered");
        }
    }

    /// A sink that panics on the output thread, as a bug would.
    struct PanicsOnTheThread;

    impl Write for PanicsOnTheThread {
        fn write(&mut self, data: &[u8]) -> io::Result<usize> {
            assert_ne!(std::thread::current().name(), Some("output"), "a bug");
            Ok(data.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn output_lost_with_a_panicking_thread_fails_every_later_write() {
        let mut out = Handoff::new(PanicsOnTheThread, 64, true);
        let failed = (0..1000).find_map(|i| out.write_all(format!("{i}\n").as_bytes()).err());
        assert!(failed.is_some() || out.flush().is_err(), "the loss told");
        assert!(
            out.write_all(b"more\n").is_err(),
            "nothing written after a hole"
        );
        assert!(out.flush().is_err());
        assert!(out.failed());
    }

    #[test]
    fn without_a_thread_everything_is_written_here() {
        let sink = Shared::default();
        let mut out = Handoff::new(sink.clone(), 64, true);
        out.no_thread = true;
        write_lines(&mut out, 0..1000);
        out.flush().unwrap();
        assert_eq!(sink.bytes(), expected(0..1000));
        assert!(out.thread.is_none() && !out.threaded);
    }
}
