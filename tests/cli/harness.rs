//! Running the real binary: a builder for one-shot runs and a handle on a
//! running follower whose stdout and stderr arrive as lines on channels, so
//! that every wait is a read with a deadline, never a sleep.

use crate::writer::Writer;
use changelog_tail::Event;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};
use wait_timeout::ChildExt;

/// How long any single expectation may take before the test fails: long
/// enough for a loaded 2-core machine, short enough to turn a hang into a
/// failure.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// The binary under test, noticing changes as this test binary asks
/// (`crate::WATCHER`: `None` is the default, inotify; `tests/cli_notify`
/// runs the same tests through the `notify` crate's watcher).
pub fn binary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_changelog-tail"));
    command.env_remove("CTLSTORE_PATH").env_remove("NO_COLOR");
    match crate::WATCHER {
        Some(watcher) => command.env("CHANGELOG_TAIL_WATCHER", watcher),
        None => command.env_remove("CHANGELOG_TAIL_WATCHER"),
    };
    command
}

/// Spawns `command` with stdin, stdout and stderr piped.
pub fn spawn_piped(mut command: Command) -> Child {
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn changelog-tail")
}

/// Runs `command` to its end, `feed` writing its stdin on another thread
/// (a write that fails because the run stopped reading early, at exit 3
/// or `--count`, is the feeder's to ignore).
pub fn run_fed(command: Command, feed: impl FnOnce(&mut ChildStdin) + Send + 'static) -> Output {
    let mut child = spawn_piped(command);
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || feed(&mut stdin));
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    out
}

/// A follower of `path` (with `args`) that has printed the `n` events
/// written before it started and is waiting for more: the writer, and the
/// follower.
pub fn waiting_follower(path: &Path, args: &[&str], n: usize) -> (Writer, Tail) {
    let mut writer = Writer::new(path);
    writer.events(n);
    let mut tail = Tail::start(path, args);
    assert_eq!(tail.seqs(n), (1..=n as i64).collect::<Vec<_>>());
    tail.wait_until_waiting(path);
    (writer, tail)
}

/// Runs the binary once to the end with `--no-follow` on `path`.
pub fn no_follow(path: &Path, args: &[&str]) -> Output {
    binary()
        .arg("-p")
        .arg(path)
        .arg("--no-follow")
        .args(args)
        .output()
        .expect("run changelog-tail")
}

/// The seq of an NDJSON output line (which must be a whole event).
pub fn seq_of(line: &str) -> i64 {
    serde_json::from_str::<Event>(line)
        .unwrap_or_else(|e| panic!("not a whole event ({e}): {line:?}"))
        .seq
}

/// The seqs of a finished run's output.
pub fn seqs_of(out: &Output) -> Vec<i64> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(seq_of)
        .collect()
}

/// An LDB at `path` as ctlstore keeps it (SQLite in WAL mode) with
/// `schema` applied; the writer's connection, kept open as the
/// reflector's is (its `-wal` and `-shm` stay there).
pub fn wal_ldb(path: &Path, schema: &str) -> rusqlite::Connection {
    let db = rusqlite::Connection::open(path).unwrap();
    let mode: String = db
        .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    db.execute_batch(schema).unwrap();
    db
}

/// A changelog holding `text`, in a directory of its own (kept while the
/// first value lives).
pub fn changelog_with(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("change.log");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

/// The seqs a `--no-follow` run with `args` prints, having ended well and
/// said nothing on stderr.
pub fn quiet_seqs(path: &Path, args: &[&str]) -> Vec<i64> {
    let out = no_follow(path, args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert!(out.stderr.is_empty(), "{}", stderr_of(&out));
    seqs_of(&out)
}

/// A finished run's stderr.
pub fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A running `changelog-tail`.
pub struct Tail {
    child: Child,
    stdout: Option<Receiver<String>>,
    stderr: Receiver<String>,
    /// Every stderr line taken from the channel so far.
    errors: Vec<String>,
}

/// How a run ended.
#[derive(Debug)]
pub struct Ended {
    pub status: ExitStatus,
    pub stderr: Vec<String>,
}

impl Ended {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    pub fn stderr_text(&self) -> String {
        self.stderr.join("\n")
    }
}

fn lines_of<R: std::io::Read + Send + 'static>(reader: R) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

impl Tail {
    /// Starts the binary on `path` with `args`, stdout and stderr piped.
    pub fn start(path: &Path, args: &[&str]) -> Tail {
        let mut command = binary();
        command.arg("--path").arg(path).args(args);
        Tail::spawn(command)
    }

    /// Starts a prepared command.
    pub fn spawn(mut command: Command) -> Tail {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("spawn changelog-tail");
        let stdout = lines_of(child.stdout.take().unwrap());
        let stderr = lines_of(child.stderr.take().unwrap());
        Tail {
            child,
            stdout: Some(stdout),
            stderr,
            errors: Vec::new(),
        }
    }

    /// Starts a prepared command with its stdin a pipe the test writes to.
    pub fn spawn_with_stdin(command: Command) -> (Tail, ChildStdin) {
        let mut child = spawn_piped(command);
        let stdin = child.stdin.take().unwrap();
        let stdout = lines_of(child.stdout.take().unwrap());
        let stderr = lines_of(child.stderr.take().unwrap());
        let tail = Tail {
            child,
            stdout: Some(stdout),
            stderr,
            errors: Vec::new(),
        };
        (tail, stdin)
    }

    /// Starts the binary with its stdout as a raw pipe the test reads (or
    /// closes) itself.
    pub fn start_with_raw_stdout(path: &Path, args: &[&str]) -> (Tail, ChildStdout) {
        let mut command = binary();
        command.arg("--path").arg(path).args(args);
        Tail::spawn_with_raw_stdout(command)
    }

    /// Starts a prepared command with its stdout as a raw pipe the test
    /// reads (or closes) itself: a test that reads slowly holds the
    /// follower up, as a slow consumer would.
    pub fn spawn_with_raw_stdout(mut command: Command) -> (Tail, ChildStdout) {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("spawn changelog-tail");
        let stdout = child.stdout.take().unwrap();
        let stderr = lines_of(child.stderr.take().unwrap());
        let tail = Tail {
            child,
            stdout: None,
            stderr,
            errors: Vec::new(),
        };
        (tail, stdout)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn collect_stderr(&mut self) {
        while let Ok(line) = self.stderr.try_recv() {
            self.errors.push(line);
        }
    }

    /// The stderr lines written so far (that have reached us). A check that
    /// nothing was said belongs after a read that proves the process got
    /// past the point in question.
    pub fn stderr_so_far(&mut self) -> &[String] {
        self.collect_stderr();
        &self.errors
    }

    /// The next stdout line; fails the test after [`PATIENCE`].
    pub fn line(&mut self) -> String {
        let rx = self.stdout.as_ref().expect("stdout is read by the harness");
        match rx.recv_timeout(PATIENCE) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => {
                self.collect_stderr();
                panic!(
                    "no output within {PATIENCE:?}; stderr so far: {:?}",
                    self.errors
                );
            }
            Err(RecvTimeoutError::Disconnected) => {
                let ended = self.wait_end();
                panic!("stdout closed early: {ended:?}");
            }
        }
    }

    /// The next stdout line, or `None` once stdout is closed.
    pub fn try_line(&mut self) -> Option<String> {
        let rx = self.stdout.as_ref().expect("stdout is read by the harness");
        match rx.recv_timeout(PATIENCE) {
            Ok(line) => Some(line),
            Err(RecvTimeoutError::Disconnected) => None,
            Err(RecvTimeoutError::Timeout) => {
                self.collect_stderr();
                panic!(
                    "no output within {PATIENCE:?}; stderr so far: {:?}",
                    self.errors
                );
            }
        }
    }

    /// The next stderr line within `patience`, or `None` (closed or quiet).
    pub fn try_stderr_line(&mut self, patience: Duration) -> Option<String> {
        let line = self.stderr.recv_timeout(patience).ok()?;
        self.errors.push(line.clone());
        Some(line)
    }

    /// The next stdout line as an event.
    pub fn event(&mut self) -> Event {
        let line = self.line();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not an event ({e}): {line}"))
    }

    /// The next `n` events' seqs.
    pub fn seqs(&mut self, n: usize) -> Vec<i64> {
        (0..n).map(|_| self.event().seq).collect()
    }

    /// Waits for a stderr line containing `needle` and returns it.
    pub fn stderr_line(&mut self, needle: &str) -> String {
        if let Some(line) = self.errors.iter().find(|l| l.contains(needle)) {
            return line.clone();
        }
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr.recv_timeout(left) {
                Ok(line) => {
                    self.errors.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!("no stderr line with {needle:?}; got {:?}", self.errors),
            }
        }
    }

    /// Sends `signal` to the process.
    pub fn signal(&self, signal: i32) {
        let rc = unsafe { libc::kill(self.child.id() as libc::pid_t, signal) };
        assert_eq!(rc, 0, "kill failed");
    }

    /// Waits for the process to exit (fails the test after [`PATIENCE`]).
    pub fn wait_end(&mut self) -> Ended {
        let status = match self.child.wait_timeout(PATIENCE).expect("wait") {
            Some(status) => status,
            None => {
                let _ = self.child.kill();
                self.collect_stderr();
                panic!(
                    "did not exit within {PATIENCE:?}; stderr: {:?}",
                    self.errors
                );
            }
        };
        self.errors.extend(self.stderr.iter());
        Ended {
            status,
            stderr: std::mem::take(&mut self.errors),
        }
    }

    /// Waits until the follower has opened `file` and its main thread is
    /// asleep, i.e. it has read what was there and now waits for changes.
    pub fn wait_until_waiting(&self, file: &Path) {
        let deadline = Instant::now() + PATIENCE;
        let target = std::fs::canonicalize(file).expect("file exists");
        let pid = self.child.id();
        loop {
            if has_open(pid, &target) && main_thread_sleeps(pid) {
                return;
            }
            assert!(Instant::now() < deadline, "follower never settled");
            std::thread::yield_now();
        }
    }
}

impl Drop for Tail {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn has_open(pid: u32, target: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    entries
        .flatten()
        .any(|e| std::fs::read_link(e.path()).is_ok_and(|p| p == target))
}

/// Whether the process's main thread is blocked (state `S`).
pub fn main_thread_sleeps(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(") ").map(|(_, rest)| rest.starts_with('S')))
        .unwrap_or(false)
}

/// The wake-up count once it has stopped changing for 300 ms.
pub fn settled_wakeups(pid: u32) -> u64 {
    let deadline = Instant::now() + PATIENCE;
    let mut last = wakeups(pid);
    loop {
        std::thread::sleep(Duration::from_millis(300)); // a quiet window, measured
        let now = wakeups(pid);
        if now == last {
            return now;
        }
        assert!(Instant::now() < deadline, "the process never went quiet");
        last = now;
    }
}

/// Whether the process has a thread named `name` (e.g. once signal
/// handling is set up, `signals`).
pub fn has_thread(pid: u32, name: &str) -> bool {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|tasks| {
            tasks.flatten().any(|t| {
                std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim() == name)
            })
        })
        .unwrap_or(false)
}

/// Voluntary context switches of all the process's threads: each is a
/// wake-up from a blocking wait.
pub fn wakeups(pid: u32) -> u64 {
    let mut total = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).expect("proc") {
        let status =
            std::fs::read_to_string(task.unwrap().path().join("status")).unwrap_or_default();
        total += status
            .lines()
            .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0);
    }
    total
}

/// Whether strace can run the binary with a fault injected (it may be
/// missing, or tracing forbidden here): tests that inject faults skip
/// without it.
pub fn strace_can_inject() -> bool {
    Command::new("strace")
        .args(["-f", "-qq", "-e", "inject=write:error=EAGAIN:when=1000"])
        .args([
            "-o",
            "/dev/null",
            env!("CARGO_BIN_EXE_changelog-tail"),
            "--version",
        ])
        .output()
        .is_ok_and(|out| out.status.success())
}
