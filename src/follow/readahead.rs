//! Reading ahead during a catch-up: while the reader checks the lines of
//! one buffer, a thread reads the next stretch of the file into another.
//!
//! Copying a file out of the page cache is about a third of a catch-up's
//! time (measured: `pread` is 27% of a filtered catch-up's profile); on a
//! second core it overlaps with the checking instead of adding to it. The
//! thread is started by the first read that fills a whole buffer (a backlog:
//! a follower that keeps up reads a few lines at a time and never starts
//! it), reads only while every read comes back full, and stops at the first
//! short one: the end of the file as it was then, which the reader reads
//! again for itself. While idle it sleeps on a condition variable: no
//! wake-ups.
//!
//! A stretch read ahead is the file's bytes at that offset at the moment it
//! was read, as the reader's own read at that moment would have been (the
//! reader may take it later, if its consumer is slow): the truncation
//! checks, made at wake-ups, are made on the reader's own reads as before (a wake-up comes only at the end of the file, after the thread
//! stopped). A stretch is taken only for the same file and offset the
//! reader is at; anything else (a new generation, a truncation, a move)
//! drops what was read ahead and reads as before.

use crate::lines::{CARRY, READ_CHUNK};
use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// Buffers on the thread's side. With the line buffer's own, two in all:
/// one checked while the other is read into. The copy is about twice as
/// fast as the checking, so a second would only sit there (measured: two
/// were no faster than one, and cost 64 KiB more of peak memory).
const DEPTH: usize = 1;

/// A stretch read ahead: the file's bytes from `at` are
/// `buf[CARRY..CARRY + n]` (room is left before them for a partial line
/// carried over; see [`LineBuffer::adopt`](crate::lines::LineBuffer::adopt)).
#[derive(Debug)]
pub(super) struct Chunk {
    ticket: u64,
    at: u64,
    buf: Vec<u8>,
    read: io::Result<usize>,
}

impl Chunk {
    /// Its buffer, and what the read came to (how many bytes, or why none).
    pub(super) fn into_parts(self) -> (Vec<u8>, io::Result<usize>) {
        (self.buf, self.read)
    }
}

/// What the reader and the thread share.
#[derive(Debug, Default)]
struct State {
    /// What to read next, while reading ahead.
    job: Option<(Arc<File>, u64)>,
    /// Which job a chunk belongs to: bumped when one is given up, so that a
    /// read in flight for it is thrown away.
    ticket: u64,
    ready: VecDeque<Chunk>,
    spare: Vec<Vec<u8>>,
    /// Buffers on this side: spare, ready or being read into (at most
    /// [`DEPTH`]; the line buffer has one more).
    owned: usize,
    closed: bool,
    /// Who is waiting for the other: a wake-up is a system call, made only
    /// for a side that waits.
    reader_waits: bool,
    thread_waits: bool,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    /// Buffers given back so far, for the thread to spin on.
    recycled: AtomicU64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Neither side panics while holding the lock; if it ever did, the
        // state is still consistent (every change is one assignment).
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits for a change, as the reader (`reader`) or the thread.
    fn wait<'a>(&'a self, mut state: MutexGuard<'a, State>, reader: bool) -> MutexGuard<'a, State> {
        *state.waits(reader) = true;
        let mut state = self
            .changed
            .wait(state)
            .unwrap_or_else(PoisonError::into_inner);
        *state.waits(reader) = false;
        state
    }

    /// Wakes the reader (`reader`) or the thread, if it waits.
    fn wake(&self, mut state: MutexGuard<'_, State>, reader: bool) {
        let waits = *state.waits(reader);
        drop(state);
        if waits {
            self.changed.notify_all();
        }
    }
}

impl State {
    fn waits(&mut self, reader: bool) -> &mut bool {
        if reader {
            &mut self.reader_waits
        } else {
            &mut self.thread_waits
        }
    }
}

/// The reader's side: hands out stretches read ahead for the file and
/// offset being read.
#[derive(Debug, Default)]
pub(super) struct ReadAhead {
    /// `None` until the first backlog (or if the thread could not start:
    /// then reading goes on without it).
    shared: Option<Arc<Shared>>,
    /// The file and offset of the next chunk the thread will deliver.
    expect: Option<(Arc<File>, u64)>,
    /// No thread (one CPU, or it could not be started): reading goes on
    /// without one.
    without: bool,
    /// Start the thread even on one CPU (for tests of the mechanism).
    #[cfg(test)]
    force: bool,
}

impl ReadAhead {
    /// Reading ahead, if `allowed` (else never: the reader reads for
    /// itself).
    pub(super) fn new(allowed: bool) -> Self {
        let mut ahead = ReadAhead::default();
        ahead.without = !allowed;
        ahead
    }

    /// Starts reading `file` ahead from `at` (the reader's read offset after
    /// a full read).
    pub(super) fn start(&mut self, file: &Arc<File>, at: u64) {
        if self.shared.is_none() {
            if self.without {
                return;
            }
            #[cfg(test)]
            let worth = self.force || worth_a_thread();
            #[cfg(not(test))]
            let worth = worth_a_thread();
            self.shared = if worth { spawn() } else { None };
            self.without = self.shared.is_none();
        }
        let Some(shared) = &self.shared else { return };
        let mut state = shared.lock();
        give_up(&mut state);
        // Made here, not in the thread: a thread's first allocation would
        // give it a malloc arena of its own (more memory held for good).
        while state.owned < DEPTH {
            state.spare.push(vec![0; CARRY + READ_CHUNK]);
            state.owned += 1;
        }
        state.ready.reserve(DEPTH);
        state.job = Some((Arc::clone(file), at));
        shared.wake(state, false);
        self.expect = Some((Arc::clone(file), at));
    }

    /// The stretch of `file` from `at`, if it is being read ahead (waiting
    /// for the thread to finish it); `None` if it is not, and then nothing
    /// is read ahead until the next [`start`](Self::start).
    pub(super) fn next(&mut self, file: &Arc<File>, at: u64) -> Option<Chunk> {
        let shared = self.shared.as_ref()?;
        let expected = self.expect.take()?;
        let mut state = shared.lock();
        if !Arc::ptr_eq(&expected.0, file) || expected.1 != at {
            give_up(&mut state);
            return None;
        }
        loop {
            if let Some(chunk) = state.ready.pop_front() {
                if chunk.ticket != state.ticket {
                    state.spare.push(chunk.buf);
                    continue;
                }
                if chunk.at != at {
                    // Cannot happen (chunks come in order for the ticket);
                    // if it did, reading on for itself is always right.
                    state.spare.push(chunk.buf);
                    give_up(&mut state);
                    return None;
                }
                state.owned -= 1;
                if let Ok(n) = chunk.read
                    && n == READ_CHUNK
                {
                    self.expect = Some((expected.0, at + n as u64));
                }
                // (The thread waits for its buffer back: see `recycle`.)
                return Some(chunk);
            }
            // No job: it ended with its last chunk, already taken.
            state.job.as_ref()?;
            state = shared.wait(state, true);
        }
    }

    /// Gives back a buffer for reading ahead into (one given up by the
    /// line buffer for a chunk): every chunk taken is made good, so that the
    /// thread always has a buffer to read into while it has a job.
    pub(super) fn recycle(&mut self, buf: Vec<u8>) {
        let Some(shared) = &self.shared else { return };
        // Only a buffer the thread can read into without growing it is
        // kept (not one grown for a long line); else a new one.
        let fits = (CARRY + READ_CHUNK..=2 * (CARRY + READ_CHUNK)).contains(&buf.capacity());
        let buf = if fits {
            buf
        } else {
            vec![0; CARRY + READ_CHUNK]
        };
        let mut state = shared.lock();
        if state.owned < DEPTH {
            state.spare.push(buf);
            state.owned += 1;
            shared.recycled.fetch_add(1, Ordering::Release);
            shared.wake(state, false);
        }
    }
}

impl Drop for ReadAhead {
    fn drop(&mut self) {
        if let Some(shared) = &self.shared {
            let mut state = shared.lock();
            give_up(&mut state);
            state.closed = true;
            drop(state);
            // Not joined: a read in flight on a hung filesystem must not
            // hang the drop; the thread ends when it sees `closed`.
            shared.changed.notify_all();
        }
    }
}

/// Drops the job and what was read for it.
fn give_up(state: &mut State) {
    state.job = None;
    state.ticket += 1;
    let ready: Vec<_> = state.ready.drain(..).map(|chunk| chunk.buf).collect();
    state.spare.extend(ready);
}

/// Whether this process may run on more than one CPU. On one, the thread
/// could only take turns with the reader, and its spin would hold the CPU
/// the reader needs.
pub(super) fn worth_a_thread() -> bool {
    std::thread::available_parallelism().is_ok_and(|n| n.get() > 1)
}

/// Starts the thread; `None` if the system will not (reading goes on
/// without it: it only saves time).
fn spawn() -> Option<Arc<Shared>> {
    let shared = Arc::new(Shared::default());
    let theirs = Arc::clone(&shared);
    std::thread::Builder::new()
        .name("readahead".into())
        .stack_size(64 * 1024)
        .spawn(move || read_ahead(&theirs))
        .ok()?;
    Some(shared)
}

/// The thread: reads the job's next stretch whenever a buffer is free.
fn read_ahead(shared: &Shared) {
    let mut state = shared.lock();
    // Spun once already for the buffer awaited: now sleep.
    let mut spun = false;
    loop {
        if state.closed {
            return;
        }
        let free = !state.spare.is_empty();
        let Some((file, at)) = state.job.clone().filter(|_| free) else {
            if state.job.is_some() && !std::mem::replace(&mut spun, true) {
                // Waiting for a buffer back, which comes within the time the
                // reader takes to check one (tens of µs): spin for that long
                // rather than have the reader make a system call to wake us
                // for every buffer (measured: 12% of its time). Then look
                // again under the lock before sleeping: the buffer may have
                // come just after the spin gave up.
                let recycled = shared.recycled.load(Ordering::Acquire);
                drop(state);
                spin_until(|| shared.recycled.load(Ordering::Acquire) != recycled);
                state = shared.lock();
                continue;
            }
            state = shared.wait(state, false);
            spun = false;
            continue;
        };
        spun = false;
        let Some(mut buf) = state.spare.pop() else {
            continue;
        };
        let ticket = state.ticket;
        drop(state);
        // Every buffer here has room for a chunk (see `recycle`).
        buf.resize(CARRY + READ_CHUNK, 0);
        let read = read_at(&file, &mut buf[CARRY..CARRY + READ_CHUNK], at);
        drop(file);
        state = shared.lock();
        if ticket != state.ticket {
            state.spare.push(buf);
            continue;
        }
        let job = state.job.take();
        state.job = match read {
            Ok(n) if n == READ_CHUNK => job.map(|(file, _)| (file, at + n as u64)),
            // The end of the file as it is now, or an error: the reader
            // takes it from here.
            _ => None,
        };
        state.ready.push_back(Chunk {
            ticket,
            at,
            buf,
            read,
        });
        shared.wake(state, true);
        state = shared.lock();
    }
}

/// How long the thread spins for a buffer before it sleeps.
const SPIN: Duration = Duration::from_micros(100);

/// Spins until `done` or for [`SPIN`].
fn spin_until(done: impl Fn() -> bool) {
    let start = Instant::now();
    loop {
        for _ in 0..64 {
            if done() {
                return;
            }
            std::hint::spin_loop();
        }
        if start.elapsed() > SPIN {
            return;
        }
    }
}

/// One `pread`, again if interrupted.
fn read_at(file: &File, buf: &mut [u8], at: u64) -> io::Result<usize> {
    loop {
        match file.read_at(buf, at) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{FollowOptions, Follower};
    use super::*;
    use crate::source::{Item, Next, Source};
    use crate::wake::{CancelHandle, Sleeper};
    use proptest::prelude::*;
    use std::io::Write;
    use std::time::{Duration, Instant};

    /// A read-ahead that starts its thread even on one CPU.
    fn forced() -> ReadAhead {
        let mut ahead = ReadAhead::default();
        ahead.force = true;
        ahead
    }

    /// A file of `len` bytes, each its offset's low byte.
    fn file_of(len: usize) -> (tempfile::NamedTempFile, Arc<File>) {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        let bytes: Vec<u8> = (0..len).map(|i| i as u8).collect();
        file.write_all(&bytes).unwrap();
        let opened = Arc::new(File::open(file.path()).unwrap());
        (file, opened)
    }

    /// The chunk at `at`, checked to hold the file's bytes there.
    fn chunk_at(ahead: &mut ReadAhead, file: &Arc<File>, at: u64) -> usize {
        let chunk = ahead.next(file, at).expect("no chunk read ahead");
        let (buf, read) = chunk.into_parts();
        let n = read.unwrap();
        let want: Vec<u8> = (at..at + n as u64).map(|i| i as u8).collect();
        assert!(buf[CARRY..CARRY + n] == want[..], "other bytes at {at}");
        ahead.recycle(buf);
        n
    }

    #[test]
    fn reads_ahead_in_order_and_stops_at_the_first_short_read() {
        let (_keep, file) = file_of(2 * READ_CHUNK + 100);
        let mut ahead = forced();
        ahead.start(&file, 0);
        assert_eq!(chunk_at(&mut ahead, &file, 0), READ_CHUNK);
        assert_eq!(chunk_at(&mut ahead, &file, READ_CHUNK as u64), READ_CHUNK);
        assert_eq!(chunk_at(&mut ahead, &file, 2 * READ_CHUNK as u64), 100);
        // The end as it was: the reader reads on for itself.
        assert!(ahead.next(&file, 2 * READ_CHUNK as u64 + 100).is_none());
    }

    #[test]
    fn a_reader_that_turned_it_off_reads_for_itself() {
        let (_keep, file) = file_of(4 * READ_CHUNK);
        let mut ahead = ReadAhead::new(false);
        ahead.force = true;
        ahead.start(&file, 0);
        assert!(ahead.shared.is_none(), "no thread");
        assert!(ahead.next(&file, 0).is_none());
    }

    #[test]
    fn gives_up_when_the_reader_is_elsewhere_or_in_another_file() {
        let (_keep, file) = file_of(4 * READ_CHUNK);
        let (_keep2, other) = file_of(4 * READ_CHUNK);
        let mut ahead = forced();
        ahead.start(&file, 0);
        assert!(ahead.next(&file, 7).is_none(), "taken at another offset");
        // Given up: not even the right offset has it now.
        assert!(ahead.next(&file, 0).is_none());
        ahead.start(&file, 0);
        assert!(ahead.next(&other, 0).is_none(), "taken for another file");
        ahead.start(&file, 5);
        assert_eq!(chunk_at(&mut ahead, &file, 5), READ_CHUNK);
    }

    #[test]
    fn the_thread_never_misses_a_buffer_given_back_as_its_spin_ends() {
        // The reader gives each buffer back after about as long as the
        // thread spins for one, so that some come just as it gives up
        // spinning: a wake-up lost there would hang both sides.
        let chunks = 400;
        let (_keep, file) = file_of(chunks * READ_CHUNK);
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut ahead = forced();
            ahead.start(&file, 0);
            for i in 0..chunks {
                let at = (i * READ_CHUNK) as u64;
                let chunk = ahead.next(&file, at).expect("no chunk read ahead");
                let pause = SPIN * (80 + (i as u32 * 7) % 40) / 100;
                let start = Instant::now();
                while start.elapsed() < pause {
                    std::hint::spin_loop();
                }
                ahead.recycle(chunk.into_parts().0);
            }
            done.send(()).unwrap();
        });
        finished
            .recv_timeout(Duration::from_secs(60))
            .expect("the reader and the thread wait for each other");
    }

    #[test]
    fn a_read_error_comes_back_in_its_chunk_and_reading_ahead_can_start_again() {
        let dir = tempfile::tempdir().unwrap();
        // A directory opened as a file: every read fails.
        let unreadable = Arc::new(File::open(dir.path()).unwrap());
        let mut ahead = forced();
        ahead.start(&unreadable, 0);
        let (buf, read) = ahead.next(&unreadable, 0).expect("a chunk").into_parts();
        assert!(read.is_err());
        ahead.recycle(buf);
        assert!(ahead.next(&unreadable, 0).is_none(), "the job ended");
        let (_keep, file) = file_of(3 * READ_CHUNK);
        ahead.start(&file, READ_CHUNK as u64);
        assert_eq!(chunk_at(&mut ahead, &file, READ_CHUNK as u64), READ_CHUNK);
    }

    #[test]
    fn a_read_ahead_dropped_in_the_middle_of_a_job_ends_its_thread() {
        // Every read-ahead thread in this process (other tests' end with
        // them).
        let threads = || {
            std::fs::read_dir("/proc/self/task")
                .unwrap()
                .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
                .filter(|name| name.trim() == "readahead")
                .count()
        };
        let (_keep, file) = file_of(40 * READ_CHUNK);
        for i in 0..20 {
            let mut ahead = forced();
            ahead.start(&file, 0);
            if i % 2 == 0 {
                // Its buffer kept from it: the thread waits for it.
                drop(ahead.next(&file, 0).unwrap());
            }
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while threads() > 0 {
            assert!(Instant::now() < deadline, "threads left running");
            std::thread::yield_now();
        }
    }

    fn follower(path: &std::path::Path, follow: bool, max: usize) -> Follower {
        let sleeper = Sleeper::new(&CancelHandle::new()).unwrap();
        let options = FollowOptions {
            follow,
            max_line_bytes: max,
            ..FollowOptions::default()
        };
        Follower::open(path, options, sleeper).unwrap()
    }

    /// What a follower hands out, as (line number, bytes or `None` for a
    /// line too long), up to `End` or (following) `lines` lines.
    fn read_all(follower: &mut Follower, lines: usize) -> Vec<(u64, Option<Vec<u8>>)> {
        let mut got = Vec::new();
        while got.len() < lines {
            let deadline = Some(Instant::now() + Duration::from_secs(30));
            match follower.next_item(deadline).unwrap() {
                Next::Item(Item::Line(info)) => {
                    got.push((info.line, Some(follower.line().to_vec())))
                }
                Next::Item(Item::Invalid(entry)) => got.push((entry.location.line, None)),
                Next::Item(Item::CaughtUp | Item::NewFile(_)) => {}
                Next::End => break,
                other => panic!("unexpected: {other:?}"),
            }
        }
        got
    }

    /// Lines of the lengths given, each its number's digits repeated.
    fn lines_of(lengths: &[usize], first: usize) -> Vec<Vec<u8>> {
        lengths
            .iter()
            .enumerate()
            .map(|(i, &len)| {
                let digits = (first + i).to_string().into_bytes();
                digits.iter().copied().cycle().take(len).collect()
            })
            .collect()
    }

    fn expected(lines: &[Vec<u8>], first: u64, max: usize) -> Vec<(u64, Option<Vec<u8>>)> {
        (first..)
            .zip(lines)
            .map(|(n, line)| (n, (line.len() <= max).then(|| line.clone())))
            .collect()
    }

    fn joined(lines: &[Vec<u8>]) -> Vec<u8> {
        lines
            .iter()
            .flat_map(|l| l.iter().chain(b"\n"))
            .copied()
            .collect()
    }

    /// Mostly short lines, some longer than the room carried over before a
    /// chunk, a few longer than the limit (the limit is 40,000 bytes).
    fn length() -> impl Strategy<Value = usize> {
        prop_oneof![
            20 => 0usize..400,
            3 => 3_000usize..9_000,
            1 => 30_000usize..60_000,
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

        #[test]
        fn a_backlog_read_ahead_comes_out_line_for_line(
            lengths in prop::collection::vec(length(), 200..700),
            tail in 0usize..300,
        ) {
            let max = 40_000;
            let lines = lines_of(&lengths, 1);
            let mut bytes = joined(&lines);
            bytes.extend(std::iter::repeat_n(b'x', tail));
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("change.log");
            std::fs::write(&path, &bytes).unwrap();
            let mut follower = follower(&path, false, max);
            let got = read_all(&mut follower, usize::MAX);
            prop_assert_eq!(got, expected(&lines, 1, max));
            // Else this would test nothing new.
            prop_assert_eq!(
                follower.read_ahead.shared.is_some(),
                bytes.len() >= READ_CHUNK && worth_a_thread()
            );
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn on_one_cpu_a_backlog_is_read_without_the_thread() {
        // This test's thread (what the follower asks about) on one CPU.
        // SAFETY: a zeroed cpu_set_t is a valid empty set, and the calls
        // only read and write it.
        unsafe {
            let mut one: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(0, &mut one);
            assert_eq!(
                libc::sched_setaffinity(0, std::mem::size_of_val(&one), &one),
                0
            );
        }
        assert!(!worth_a_thread());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("change.log");
        let lines = lines_of(&[100; 3000], 1);
        std::fs::write(&path, joined(&lines)).unwrap();
        let mut follower = follower(&path, false, 1000);
        assert!(read_all(&mut follower, usize::MAX) == expected(&lines, 1, 1000));
        assert!(follower.read_ahead.shared.is_none());
    }

    #[test]
    fn a_backlog_of_an_exact_number_of_buffers_then_an_append() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("change.log");
        // Lines of 64 bytes with their newline: the file ends at a buffer's end.
        let lines = lines_of(&[63; 3 * READ_CHUNK / 64], 1);
        std::fs::write(&path, joined(&lines)).unwrap();
        let mut follower = follower(&path, true, 1000);
        let mut got = read_all(&mut follower, lines.len());
        let more = lines_of(&[10], lines.len() + 1);
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(&joined(&more))
            .unwrap();
        got.extend(read_all(&mut follower, 1));
        let all: Vec<_> = lines.into_iter().chain(more).collect();
        assert!(got == expected(&all, 1, 1000), "lines lost or changed");
    }

    #[test]
    fn a_rename_rotation_in_the_middle_of_reading_ahead_loses_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("change.log");
        let old = lines_of(&[99; 20_000], 1);
        let new = lines_of(&[50; 5_000], 20_001);
        std::fs::write(&path, joined(&old)).unwrap();
        let mut follower = follower(&path, true, 1000);
        let mut got = read_all(&mut follower, 10);
        std::fs::rename(&path, dir.path().join("change.log.1")).unwrap();
        std::fs::write(&path, joined(&new)).unwrap();
        got.extend(read_all(&mut follower, old.len() + new.len() - 10));
        let all: Vec<_> = old.into_iter().chain(new).collect();
        // Line numbers start again in the new file.
        let numbers =
            |got: &[(u64, Option<Vec<u8>>)]| got.iter().map(|(_, l)| l.clone()).collect::<Vec<_>>();
        assert!(
            numbers(&got) == numbers(&expected(&all, 1, 1000)),
            "lines lost or changed"
        );
    }

    #[test]
    fn a_backlog_that_grows_while_read_ahead_is_read_to_its_new_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("change.log");
        let lengths: Vec<usize> = (0..20_000).map(|i| 50 + i % 150).collect();
        let first = lines_of(&lengths, 1);
        let more = lines_of(&lengths, 1 + lengths.len());
        std::fs::write(&path, joined(&first)).unwrap();
        let mut follower = follower(&path, true, 1000);
        let mut got = read_all(&mut follower, 10);
        // Appended while the rest of the first stretch is being read ahead.
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        file.write_all(&joined(&more)).unwrap();
        got.extend(read_all(&mut follower, 2 * lengths.len() - 10));
        let all: Vec<_> = first.into_iter().chain(more).collect();
        assert!(got == expected(&all, 1, 1000), "lines lost or changed");
        assert_eq!(follower.read_ahead.shared.is_some(), worth_a_thread());
    }
}
