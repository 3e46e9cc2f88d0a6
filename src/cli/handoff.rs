//! A buffered writer that can hand its full buffers to a thread of its own:
//! writing an unfiltered backlog's output into the page cache is half of
//! the reader's time, and it can be done while the next buffer is filled.
//!
//! Only full buffers go to the thread, one at a time: the writer is never
//! more than one buffer ahead. A flush waits for that one and writes the
//! rest itself, so a follower's event costs no thread round trip, and
//! everything written before a flush is out when it returns (the state
//! file is written after a flush and must not claim more). A write error
//! the thread meets comes back from the next write or flush.
//!
//! The thread spins a little while for the next buffer before it sleeps:
//! during a backlog the next one comes within tens of microseconds, and
//! waking a sleeping thread would cost the writer a system call per buffer.
//! Once a spin came to nothing (buffers come slowly: `--rows` lookups, a
//! trickle), it sleeps at once until one comes within the spin time again,
//! so that a slow writer does not pay a spinning CPU per buffer.

use std::io::{self, Write};
use std::mem;
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long the thread looks for the next buffer before it sleeps.
const SPIN: Duration = Duration::from_micros(100);

/// Writes through a buffer of `capacity` bytes to `sink`; full buffers are
/// written by a thread if one was asked for.
pub struct Handoff<W: Write + Send + 'static> {
    buffer: Vec<u8>,
    capacity: usize,
    sink: Arc<Mutex<W>>,
    /// Whether full buffers go to a thread.
    threaded: bool,
    /// Started by the first full buffer.
    thread: Option<Thread>,
    /// A buffer back from the thread, for the next one to fill.
    spare: Option<Vec<u8>>,
}

/// The writing thread and the two ends that talk to it.
struct Thread {
    /// Full buffers to write (dropped to let the thread end).
    jobs: Option<SyncSender<Vec<u8>>>,
    /// Each buffer back once written (emptied), or the error that stopped
    /// its write.
    done: Receiver<io::Result<Vec<u8>>>,
    /// A buffer is with the thread.
    in_flight: bool,
    handle: Option<JoinHandle<()>>,
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
        }
    }

    /// Waits for the buffer with the thread (if any) to be written.
    fn wait(&mut self) -> io::Result<()> {
        let Some(thread) = self.thread.as_mut().filter(|t| t.in_flight) else {
            return Ok(());
        };
        thread.in_flight = false;
        let written = thread.done.recv().map_err(|_| thread_gone())?;
        self.spare = Some(written?);
        Ok(())
    }

    /// The buffer is full: to the thread (after the one before it is
    /// written), or written here.
    fn pass(&mut self) -> io::Result<()> {
        self.wait()?;
        if !self.threaded {
            return self.write_here();
        }
        let capacity = self.capacity;
        let next = self
            .spare
            .take()
            .unwrap_or_else(|| Vec::with_capacity(capacity));
        let full = mem::replace(&mut self.buffer, next);
        let thread = match &mut self.thread {
            Some(thread) => thread,
            none => none.insert(Thread::start(Arc::clone(&self.sink))?),
        };
        let jobs = thread.jobs.as_ref().ok_or_else(thread_gone)?;
        jobs.send(full).map_err(|_| thread_gone())?;
        thread.in_flight = true;
        Ok(())
    }

    /// Writes the buffer on this thread (nothing is with the thread).
    fn write_here(&mut self) -> io::Result<()> {
        let written = lock(&self.sink).write_all(&self.buffer);
        self.buffer.clear();
        written
    }
}

fn thread_gone() -> io::Error {
    io::Error::other("the output thread ended")
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
            jobs: Some(jobs),
            done,
            in_flight: false,
            handle: Some(handle),
        })
    }
}

/// The thread: writes each buffer it is given and gives it back, until
/// the writer is dropped or a write fails.
fn write_buffers<W: Write>(
    sink: &Mutex<W>,
    inbox: &Receiver<Vec<u8>>,
    outbox: &SyncSender<io::Result<Vec<u8>>>,
) {
    let mut spin = true;
    while let Some(mut buffer) = next_buffer(inbox, &mut spin) {
        let written = {
            let mut sink = lock(sink);
            sink.write_all(&buffer).and_then(|()| sink.flush())
        };
        buffer.clear();
        let failed = written.is_err();
        if outbox.send(written.map(|()| buffer)).is_err() || failed {
            return;
        }
    }
}

/// The next buffer, looked for without sleeping for [`SPIN`] first if
/// `spin`; `None` once the writer is gone. `spin` is left saying whether
/// the buffer came within that time (whether to spin for the next).
fn next_buffer(inbox: &Receiver<Vec<u8>>, spin: &mut bool) -> Option<Vec<u8>> {
    let started = Instant::now();
    while *spin && started.elapsed() < SPIN {
        match inbox.try_recv() {
            Ok(buffer) => return Some(buffer),
            Err(TryRecvError::Disconnected) => return None,
            Err(TryRecvError::Empty) => std::hint::spin_loop(),
        }
    }
    let buffer = inbox.recv().ok();
    *spin = started.elapsed() < SPIN;
    buffer
}

impl<W: Write + Send + 'static> Write for Handoff<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(data);
        if self.buffer.len() >= self.capacity {
            self.pass()?;
        }
        Ok(data.len())
    }

    fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        self.write(data).map(drop)
    }

    /// Everything written so far is written to the sink, and the sink
    /// flushed, when this returns.
    fn flush(&mut self) -> io::Result<()> {
        self.wait()?;
        self.write_here()?;
        lock(&self.sink).flush()
    }
}

impl<W: Write + Send + 'static> Drop for Handoff<W> {
    /// Writes what is left (as `BufWriter` does, errors ignored) and lets
    /// the thread end.
    fn drop(&mut self) {
        let _ = self.flush();
        if let Some(mut thread) = self.thread.take() {
            thread.jobs = None;
            if let Some(handle) = thread.handle.take() {
                let _ = handle.join();
            }
        }
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
        let (jobs, inbox) = mpsc::sync_channel(1);
        let mut spin = true;
        jobs.send(vec![1]).unwrap();
        assert_eq!(next_buffer(&inbox, &mut spin), Some(vec![1]));
        assert!(spin, "came at once");
        let late = std::thread::spawn(move || {
            std::thread::sleep(SPIN * 20);
            jobs.send(vec![2]).unwrap();
            jobs
        });
        assert_eq!(next_buffer(&inbox, &mut spin), Some(vec![2]));
        assert!(!spin, "came late: sleep at once next time");
        let jobs = late.join().unwrap();
        jobs.send(vec![3]).unwrap();
        assert_eq!(next_buffer(&inbox, &mut spin), Some(vec![3]));
        assert!(spin, "came at once again");
        drop(jobs);
        assert_eq!(next_buffer(&inbox, &mut spin), None);
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

    /// A sink whose third write fails (the thread's: the writer's own
    /// writes come later), and every other succeeds: an error the thread
    /// met must not be lost.
    struct FailsOnce {
        writes: usize,
    }

    impl Write for FailsOnce {
        fn write(&mut self, data: &[u8]) -> io::Result<usize> {
            self.writes += 1;
            match self.writes {
                3 => Err(io::ErrorKind::BrokenPipe.into()),
                _ => Ok(data.len()),
            }
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_write_error_on_the_thread_comes_back_from_a_later_write_or_the_flush() {
        let mut out = Handoff::new(FailsOnce { writes: 0 }, 64, true);
        let mut error = None;
        for i in 0..1000 {
            if let Err(e) = out.write_all(format!("{i}\n").as_bytes()) {
                error = Some(e);
                break;
            }
        }
        let error = error.or_else(|| out.flush().err()).expect("an error");
        assert_eq!(error.kind(), io::ErrorKind::BrokenPipe);
    }
}
