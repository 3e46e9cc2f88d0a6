//! Every system call made to fail (issue 17), as SQLite tests its I/O
//! error paths: the real binary runs under `strace -f -e
//! inject=CALL:error=ERRNO:when=K` in five runs (following, a catch-up
//! with a state file, a `--rows` run, a pipe, a snapshot), for each system call the
//! tool itself makes in that run (taken from a trace of the run without
//! faults) and each error that call can really return, at the tool's first
//! call and at a later one. Each case must hold:
//!
//! - no panic, no death by a signal, no hang (each run is bounded);
//! - an exit code from the README, Exit status (0 after a recovery, or 1), every stderr
//!   line a `changelog-tail:` line, none said twice (a recovery, such as
//!   falling back to polling, is said once), and a failure that ends the
//!   run said in one line that names what failed (not just the system's
//!   words);
//! - the output a run of consecutive events from the first expected (a
//!   failed write may cut the last line short), all of them on exit 0;
//! - the state file never claiming an event that did not reach stdout (nor
//!   a snapshot whose end did not);
//! - EINTR and EAGAIN retried, never reported: exit 0, the whole output,
//!   nothing on stderr.
//!
//! `close` is left out: strace's injected failure skips the call, leaving
//! the descriptor open, which Linux never does (a descriptor is released
//! whatever `close` returns), so a case would test a world that cannot
//! be. `clone3`'s EAGAIN is the process limit, not a transient failure: it
//! must be said, not retried.
//!
//! Left out: the calls of the dynamic loader and of the runtime before
//! `main` (the first call counted is the first one after the runtime set
//! up its signal stack), and memory and thread housekeeping (`mmap`,
//! `brk`, `futex`, `sigaltstack`, `rt_sigaction`…): Rust aborts when
//! memory cannot be had, by design.
//!
//! Each run prints its matrix (calls × errors × positions) and how many
//! cases held. Without strace (or where tracing is forbidden) it skips.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BINARY: &str = env!("CARGO_BIN_EXE_changelog-tail");

/// How long one run may take before it counts as a hang.
const BOUND: Duration = Duration::from_secs(20);

/// The errors each system call can really return, as far as they apply to
/// what the tool does with it. Calls not listed are not made to fail (see
/// the module's documentation).
const ERRORS: &[(&str, &[&str])] = &[
    (
        "openat",
        &["EACCES", "EMFILE", "ENFILE", "ENOMEM", "EIO", "EINTR"],
    ),
    // open(2) too: the changelog is opened with it (not openat).
    (
        "open",
        &["EACCES", "EMFILE", "ENFILE", "ENOMEM", "EIO", "EINTR"],
    ),
    ("read", &["EIO", "EINTR", "EAGAIN"]),
    ("pread64", &["EIO", "EINTR"]),
    ("write", &["EIO", "ENOSPC", "EINTR", "EAGAIN"]),
    ("pwrite64", &["EIO", "ENOSPC"]),
    ("statx", &["EIO", "ENOMEM", "EACCES"]),
    ("newfstatat", &["EIO", "ENOMEM", "EACCES"]),
    ("statfs", &["EIO", "ENOMEM"]),
    ("readlink", &["EIO", "EACCES"]),
    ("getcwd", &["EACCES", "ENOENT"]),
    ("lseek", &["EIO"]),
    ("inotify_init1", &["EMFILE", "ENFILE", "ENOMEM"]),
    ("inotify_add_watch", &["ENOSPC", "ENOMEM", "EACCES"]),
    ("ppoll", &["EINTR", "ENOMEM"]),
    ("poll", &["EINTR", "ENOMEM"]),
    ("pipe2", &["EMFILE", "ENFILE"]),
    ("socketpair", &["EMFILE", "ENFILE"]),
    ("recvfrom", &["EINTR", "EAGAIN"]),
    // EAGAIN (and EACCES) from fcntl mean "locked by another" (F_SETLK,
    // SQLite's locks): EACCES stands for both; the tool's other fcntl
    // calls (F_DUPFD_CLOEXEC, F_GETFL) cannot return EAGAIN.
    ("fcntl", &["EACCES", "ENOLCK", "EMFILE"]),
    ("flock", &["EINTR", "ENOLCK"]),
    ("fsync", &["EIO", "ENOSPC"]),
    ("fdatasync", &["EIO", "ENOSPC"]),
    ("renameat", &["EIO", "ENOSPC", "EACCES"]),
    ("renameat2", &["EIO", "ENOSPC", "EACCES"]),
    ("unlink", &["EIO", "EACCES"]),
    ("unlinkat", &["EIO", "EACCES"]),
    ("ftruncate", &["EIO"]),
    ("fchown", &["EPERM"]),
    ("clone3", &["EAGAIN", "ENOMEM"]),
    ("sched_setscheduler", &["EPERM"]),
    ("ioctl", &["EIO"]),
];

/// Cases known not to hold yet, each with why (the fix belongs in code
/// another change is rewriting): (run, call, error, position).
const KNOWN: &[(&str, &str, &str, Position, &str)] = &[];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Position {
    First,
    Later,
}

/// One of the five runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Run {
    /// Following a file: 300 events there, then (once they are printed)
    /// the file rotated (deleted, created again) with 2 more, `--count
    /// 302`.
    Follow,
    /// `--no-follow --state-file`, resuming in place after seq 100 of 300.
    CatchUp,
    /// `--no-follow --rows --table t1` on 300 events, every row there.
    Rows,
    /// `--path -`: 300 events on a pipe.
    Pipe,
    /// `--no-follow --snapshot --state-file --table t1`: the 100 rows of
    /// `f___t1`, taken under the LDB's write lock, and no event (the
    /// snapshot stands after the file's 300).
    Snapshot,
}

impl Run {
    fn name(self) -> &'static str {
        match self {
            Run::Follow => "follow",
            Run::CatchUp => "catch-up with a state file",
            Run::Rows => "--rows",
            Run::Pipe => "pipe",
            Run::Snapshot => "snapshot",
        }
    }

    /// The seqs a clean run prints.
    fn expected(self) -> Vec<i64> {
        match self {
            Run::Follow => (1..=302).collect(),
            Run::CatchUp => (101..=300).collect(),
            Run::Rows => (1..=300).filter(|s| s % 3 == 1).collect(),
            Run::Pipe => (1..=300).collect(),
            // The ids of the snapshot's rows.
            Run::Snapshot => (1..=100).collect(),
        }
    }
}

fn line(seq: i64) -> String {
    format!(
        r#"{{"seq":{seq},"family":"f","table":"t{}","key":[{{"name":"id","type":"INTEGER","value":{seq}}}]}}"#,
        seq % 3
    )
}

fn lines(seqs: impl IntoIterator<Item = i64>) -> String {
    seqs.into_iter().map(|s| line(s) + "\n").collect()
}

/// A run's files, made once.
struct Fixture {
    dir: tempfile::TempDir,
    log: PathBuf,
    state: PathBuf,
    /// The state after seq 100 (catch-up), restored before each case.
    saved_state: Vec<u8>,
    ldb: PathBuf,
}

impl Fixture {
    fn new(run: Run) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("change.log");
        let state = dir.path().join("state.json");
        let ldb = dir.path().join("ldb.db");
        let mut saved_state = Vec::new();
        match run {
            Run::Follow | Run::Pipe => std::fs::write(&log, lines(1..=300)).unwrap(),
            Run::CatchUp => {
                std::fs::write(&log, lines(1..=100)).unwrap();
                let out = Command::new(BINARY)
                    .arg("-p")
                    .arg(&log)
                    .arg("--no-follow")
                    .arg("--state-file")
                    .arg(&state)
                    .output()
                    .unwrap();
                assert!(out.status.success(), "{out:?}");
                let mut file = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
                file.write_all(lines(101..=300).as_bytes()).unwrap();
                saved_state = std::fs::read(&state).unwrap();
            }
            Run::Rows | Run::Snapshot => {
                std::fs::write(&log, lines(1..=300)).unwrap();
                let db = rusqlite::Connection::open(&ldb).unwrap();
                db.query_row("PRAGMA journal_mode=WAL", [], |_| Ok(()))
                    .unwrap();
                db.execute_batch("CREATE TABLE f___t1 (id INTEGER PRIMARY KEY, v TEXT);")
                    .unwrap();
                let rows = if run == Run::Rows { 300 } else { 100 };
                for id in 1..=rows {
                    db.execute("INSERT INTO f___t1 VALUES (?1, 'v')", [id])
                        .unwrap();
                }
                // Kept as ctlstore keeps it: the WAL and its index there.
                std::mem::forget(db);
            }
        }
        Fixture {
            dir,
            log,
            state,
            saved_state,
            ldb,
        }
    }

    /// Gets the files ready for one case.
    fn reset(&self, run: Run) {
        match run {
            Run::Follow => {
                // A new file each time: 2 events are appended per case.
                let _ = std::fs::remove_file(&self.log);
                std::fs::write(&self.log, lines(1..=300)).unwrap();
            }
            Run::CatchUp => std::fs::write(&self.state, &self.saved_state).unwrap(),
            // No state: each case takes the snapshot.
            Run::Snapshot => {
                let _ = std::fs::remove_file(&self.state);
            }
            Run::Rows | Run::Pipe => {}
        }
    }

    fn args(&self, run: Run) -> Vec<String> {
        let path = |p: &Path| p.display().to_string();
        let mut args: Vec<String> = match run {
            Run::Pipe => vec!["--path".into(), "-".into()],
            _ => vec!["-p".into(), path(&self.log)],
        };
        let more: Vec<String> = match run {
            Run::Follow => vec!["--count".into(), "302".into()],
            Run::CatchUp => vec![
                "--no-follow".into(),
                "--state-file".into(),
                path(&self.state),
            ],
            Run::Rows => vec![
                "--no-follow".into(),
                "--rows".into(),
                "--ldb".into(),
                path(&self.ldb),
                "--table".into(),
                "t1".into(),
            ],
            Run::Pipe => vec![],
            Run::Snapshot => vec![
                "--no-follow".into(),
                "--snapshot".into(),
                "--state-file".into(),
                path(&self.state),
                "--ldb".into(),
                path(&self.ldb),
                "--table".into(),
                "t1".into(),
            ],
        };
        args.extend(more);
        args
    }
}

/// How a run ended.
#[derive(Debug)]
struct Outcome {
    code: Option<i32>,
    signal: Option<i32>,
    hung: bool,
    stdout: String,
    stderr: String,
    state: Option<Value>,
}

/// Runs `run` under strace, with `inject` (`CALL:error=ERRNO:when=K`) if
/// given, tracing to `trace` if given.
fn execute(
    run: Run,
    fixture: &Fixture,
    target: Option<&Path>,
    inject: Option<&str>,
    trace: Option<&Path>,
) -> Outcome {
    fixture.reset(run);
    let mut command = Command::new("strace");
    if let Some(target) = target {
        // Only calls on this path (or a descriptor open on it) are traced,
        // counted and made to fail.
        command.arg("-P").arg(target);
    }
    command.args(["-f", "-qq", "-e", "signal=none", "-o"]);
    match trace {
        Some(trace) => command.arg(trace),
        None => command.arg("/dev/null"),
    };
    if let Some(inject) = inject {
        command.arg("-e").arg(format!("inject={inject}"));
    }
    command
        .arg(BINARY)
        .args(fixture.args(run))
        .env_remove("CTLSTORE_PATH")
        .env_remove("CHANGELOG_TAIL_WATCHER")
        .current_dir(fixture.dir.path())
        // Its own process group: a hung case is killed whole (strace and
        // the traced process).
        .process_group(0)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("spawn strace");
    let mut stdin = child.stdin.take().unwrap();
    let feeder = if run == Run::Pipe {
        Some(std::thread::spawn(move || {
            let _ = stdin.write_all(lines(1..=300).as_bytes());
        }))
    } else {
        drop(stdin);
        None
    };
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        let mut reader = BufReader::new(stdout);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let text = String::from_utf8_lossy(&buf).into_owned();
                    all.push_str(&text);
                    let _ = tx.send(());
                }
            }
        }
        all
    });
    let mut stderr = child.stderr.take().unwrap();
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + BOUND;
    if run == Run::Follow {
        // Once the 300 events are out (or the run ended), 2 more.
        let mut seen = 0;
        while seen < 300 {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(()) => seen += 1,
                Err(_) => break,
            }
        }
        // ctlstore's rotation: delete, create, write there (the new file
        // is opened by the opener thread).
        std::fs::remove_file(&fixture.log).unwrap();
        std::fs::write(&fixture.log, lines(301..=302)).unwrap();
    }
    let (status, hung) = wait_until(&mut child, deadline);
    if let Some(feeder) = feeder {
        feeder.join().unwrap();
    }
    let stdout = reader.join().unwrap();
    let stderr = errors.join().unwrap();
    let state = matches!(run, Run::CatchUp | Run::Snapshot)
        .then(|| serde_json::from_slice(&std::fs::read(&fixture.state).ok()?).ok())
        .flatten();
    Outcome {
        code: status.and_then(|s| s.code()),
        signal: status.and_then(|s| s.signal()),
        hung,
        stdout,
        stderr,
        state,
    }
}

/// Waits for `child` until `deadline`; kills its process group after it.
fn wait_until(child: &mut Child, deadline: Instant) -> (Option<std::process::ExitStatus>, bool) {
    use wait_timeout::ChildExt;
    let left = deadline.saturating_duration_since(Instant::now());
    match child.wait_timeout(left).unwrap() {
        Some(status) => (Some(status), false),
        None => {
            unsafe { libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL) };
            (child.wait().ok(), true)
        }
    }
}

/// The system calls the tool itself makes in a clean run, from its
/// trace: for each, the position (strace counts per call and per thread)
/// of the first one after the runtime's start, in the thread that makes
/// it first, and of a later one in that thread, if it makes another.
///
/// With `whole` false, the trace holds only calls on one path: all of them
/// are the tool's.
fn calls_made(trace: &Path, whole: bool) -> BTreeMap<String, (u32, Option<u32>)> {
    let text = std::fs::read_to_string(trace).unwrap_or_default();
    let mut main_pid = None;
    let mut started = !whole;
    // (pid, call) → how many so far.
    let mut counts: BTreeMap<(String, String), u32> = BTreeMap::new();
    // call → (pid, position of its first call after the start).
    let mut first: BTreeMap<String, (String, u32)> = BTreeMap::new();
    // call → how many the main thread made before the start (strace
    // counts per thread: position N in another thread is also the main
    // thread's N-th, which must not be the loader's).
    let mut before: BTreeMap<String, u32> = BTreeMap::new();
    for l in text.lines() {
        let Some((pid, rest)) = l.split_once(' ') else {
            continue;
        };
        let rest = rest.trim_start();
        if rest.starts_with("<...") || rest.starts_with("+++") || rest.starts_with("---") {
            continue;
        }
        let Some((call, _)) = rest.split_once('(') else {
            continue;
        };
        let main = *main_pid.get_or_insert_with(|| pid.to_owned()) == pid;
        let n = counts.entry((pid.to_owned(), call.to_owned())).or_default();
        *n += 1;
        if !started {
            // The runtime sets up the main thread's signal stack just
            // before `main`: what comes after is the tool's.
            started = main && call == "sigaltstack" && rest.starts_with("sigaltstack({ss_sp=0x");
            if started {
                for ((p, c), n) in &counts {
                    if *p == pid {
                        before.insert(c.clone(), *n);
                    }
                }
            }
            continue;
        }
        if main || *n > before.get(call).copied().unwrap_or(0) {
            first
                .entry(call.to_owned())
                .or_insert_with(|| (pid.to_owned(), *n));
        }
    }
    first
        .into_iter()
        .map(|(call, (pid, at))| {
            let total = counts[&(pid, call.clone())];
            let later = (total > at).then(|| at + (total - at).div_ceil(2));
            (call, (at, later))
        })
        .collect()
}

/// Whether `errno` from `call` is a transient failure, to be retried and
/// never reported.
fn transient(call: &str, errno: &str) -> bool {
    match errno {
        "EINTR" => true,
        // For clone3, the limit on processes: said, not retried.
        "EAGAIN" => call != "clone3",
        _ => false,
    }
}

/// Whether `outcome` holds for a fault `errno` in `call` in `run`; if not,
/// why.
fn judge(run: Run, call: &str, errno: &str, outcome: &Outcome) -> Result<(), String> {
    if outcome.hung {
        return Err(format!("no exit within {BOUND:?}"));
    }
    if outcome.stderr.contains("panicked") || outcome.stderr.contains("RUST_BACKTRACE") {
        return Err("a panic".into());
    }
    if let Some(signal) = outcome.signal {
        return Err(format!("killed by signal {signal}"));
    }
    let code = outcome.code.ok_or("no exit code")?;
    let said: Vec<&str> = outcome.stderr.lines().collect();
    if let Some(stray) = said.iter().find(|l| !l.starts_with("changelog-tail: ")) {
        return Err(format!("a stderr line not ours: {stray:?}"));
    }
    let distinct: BTreeSet<&&str> = said.iter().collect();
    if distinct.len() != said.len() {
        return Err("a message said twice".into());
    }
    // The output: whole events, consecutive from the first expected; a
    // failed write may leave the last line cut short.
    let expected = run.expected();
    let mut printed = Vec::new();
    // A snapshot's lines: begun, and its end with the count of its rows;
    // then, if the LDB's write lock could not be had (a fault on its
    // files makes them look read-only: said, as the README documents),
    // the events from the start of the file.
    let (mut begun, mut ended) = (false, false);
    let fallback = outcome.stderr.contains("cannot take the write lock");
    let mut after = Vec::new();
    for l in outcome.stdout.split_inclusive('\n') {
        let Some(l) = l.strip_suffix('\n') else {
            if code == 0 {
                return Err("a cut line on a clean exit".into());
            }
            break;
        };
        let event: Value = serde_json::from_str(l).map_err(|e| format!("not JSON ({e}): {l}"))?;
        if run == Run::Snapshot {
            match (event["snapshot"].as_str(), begun, ended) {
                (None, _, true) if fallback => {
                    after.push(event["seq"].as_i64().ok_or("no seq")?);
                    continue;
                }
                (Some("begin"), false, _) => begun = true,
                (Some("row"), true, false) => {
                    printed.push(event["keys"][0]["value"].as_i64().ok_or("no key")?)
                }
                (Some("end"), true, false) if event["rows"] == printed.len() => ended = true,
                _ => return Err(format!("out of place in a snapshot: {l}")),
            }
            continue;
        }
        if run == Run::Rows
            && event.get("row").is_none()
            && !outcome.stderr.contains("without its row")
        {
            return Err(format!("an event without its row, unsaid: {l}"));
        }
        printed.push(event["seq"].as_i64().ok_or("no seq")?);
    }
    if printed[..] != expected[..printed.len().min(expected.len())]
        || printed.len() > expected.len()
    {
        return Err(format!(
            "printed {:?}… where {:?}… was due",
            &printed[..printed.len().min(5)],
            &expected[..5]
        ));
    }
    // The state never claims more than was printed.
    if run == Run::Snapshot {
        if outcome.state.is_some() && !ended {
            return Err("a state written before the snapshot's end".into());
        }
        if code == 0 && !ended {
            return Err("exit 0 without the snapshot's end".into());
        }
        // The file's events of table t1, from its start.
        let whole: Vec<i64> = (1..=300).filter(|s| s % 3 == 1).collect();
        if after[..] != whole[..after.len().min(whole.len())]
            || (code == 0 && fallback && after != whole)
        {
            return Err(format!(
                "after the fallback's snapshot, {} events, not the file's {}",
                after.len(),
                whole.len()
            ));
        }
    } else if let Some(state) = &outcome.state {
        let saved = state["seq"].as_i64().unwrap_or(0);
        let last = printed.last().copied().unwrap_or(100);
        if saved > last {
            return Err(format!(
                "the state claims seq {saved}, the output ends at {last}"
            ));
        }
    }
    match code {
        0 => {
            if printed.len() != expected.len() {
                return Err(format!(
                    "exit 0 after {} of {} events",
                    printed.len(),
                    expected.len()
                ));
            }
            if transient(call, errno) && !said.is_empty() {
                return Err(format!("{errno} reported, not retried: {:?}", said[0]));
            }
            if said
                .iter()
                .any(|l| !l.starts_with("changelog-tail: warning: "))
            {
                return Err(format!("an error said on exit 0: {said:?}"));
            }
            Ok(())
        }
        1 => {
            if transient(call, errno) {
                return Err(format!("{errno} not retried: exit 1: {said:?}"));
            }
            let errors: Vec<&&str> = said
                .iter()
                .filter(|l| !l.starts_with("changelog-tail: warning: "))
                .collect();
            let [error] = errors[..] else {
                return Err(format!("exit 1 said in {} lines: {said:?}", errors.len()));
            };
            // It names what failed: more than the system's own words.
            let words = error.trim_start_matches("changelog-tail: ");
            let bare = words
                .split_once(" (os error ")
                .is_some_and(|(head, _)| !head.contains(": "));
            if bare || words.is_empty() {
                return Err(format!("the failure is not named: {error:?}"));
            }
            Ok(())
        }
        other => Err(format!("exit {other}: {said:?}")),
    }
}

/// Whether strace can trace and inject here.
fn strace_can_inject() -> bool {
    Command::new("strace")
        .args(["-f", "-qq", "-e", "inject=write:error=EAGAIN:when=1000"])
        .args(["-o", "/dev/null", BINARY, "--version"])
        .output()
        .is_ok_and(|out| out.status.success())
}

/// The paths whose calls are made to fail on their own in `run` (with
/// strace's `-P`), beside every call of the whole run: the first open or
/// read of the changelog may come from any thread, and these count only
/// the calls on that file.
fn targets(run: Run, fixture: &Fixture) -> Vec<PathBuf> {
    let dir = fixture.dir.path().to_path_buf();
    match run {
        Run::Follow => vec![fixture.log.clone(), dir],
        Run::CatchUp => vec![
            fixture.log.clone(),
            fixture.state.clone(),
            dir.join("state.json.lock"),
            dir,
        ],
        Run::Rows => vec![
            fixture.log.clone(),
            fixture.ldb.clone(),
            dir.join("ldb.db-wal"),
            dir.join("ldb.db-shm"),
        ],
        Run::Pipe => vec![],
        Run::Snapshot => vec![
            fixture.ldb.clone(),
            dir.join("ldb.db-wal"),
            dir.join("ldb.db-shm"),
            fixture.state.clone(),
        ],
    }
}

/// Runs `run`'s matrix; fails on any case that does not hold (and is not
/// a known failure).
fn matrix(run: Run) {
    if !strace_can_inject() {
        eprintln!("skipped: strace cannot inject faults here");
        return;
    }
    let fixture = Fixture::new(run);
    let known: BTreeMap<&str, &[&str]> = ERRORS.iter().copied().collect();
    let mut tally = Tally::default();
    let started = Instant::now();
    let whole = std::iter::once(None).chain(targets(run, &fixture).into_iter().map(Some));
    for (i, target) in whole.enumerate() {
        let trace = fixture.dir.path().join(format!("clean-{i}.trace"));
        let clean = execute(run, &fixture, target.as_deref(), None, Some(&trace));
        judge(run, "", "", &clean).unwrap_or_else(|e| panic!("{}: the clean run: {e}", run.name()));
        let made = calls_made(&trace, target.is_none());
        let mut covered = Vec::new();
        for (call, (first, later)) in &made {
            let Some(errors) = known.get(call.as_str()) else {
                continue;
            };
            tally.calls += 1;
            covered.push(match later {
                Some(later) => format!("{call}@{first},{later}"),
                None => format!("{call}@{first}"),
            });
            for errno in *errors {
                for (position, when) in [(Position::First, Some(*first)), (Position::Later, *later)]
                {
                    let Some(when) = when else { continue };
                    let inject = format!("{call}:error={errno}:when={when}");
                    let outcome = execute(run, &fixture, target.as_deref(), Some(&inject), None);
                    let case = match &target {
                        Some(target) => format!("{inject} on {}", target.display()),
                        None => inject.clone(),
                    };
                    let is_known = KNOWN.iter().any(|(r, c, e, p, _)| {
                        *r == run.name() && c == call && e == errno && *p == position
                    });
                    tally.add(&case, judge(run, call, errno, &outcome), &outcome, is_known);
                }
            }
        }
        let on = match &target {
            Some(target) => format!("calls on {}", target.display()),
            None => "all calls".to_owned(),
        };
        tally.covered.push(format!("{on}: {}", covered.join(" ")));
    }
    eprintln!(
        "fault matrix, {}: {} calls, {} cases (calls × their errors × first/later), \
         {} held ({} ended with exit 1, {} recovered with a warning, \
         {} retried or unharmed, silently), {} known failures, {} new failures, in {:?}\n  {}",
        run.name(),
        tally.calls,
        tally.cases,
        tally.held,
        tally.ended,
        tally.recovered,
        tally.quiet,
        tally.known,
        tally.failures.len(),
        started.elapsed(),
        tally.covered.join("\n  ")
    );
    assert!(tally.failures.is_empty(), "{}", tally.failures.join("\n"));
}

/// What a matrix found.
#[derive(Default)]
struct Tally {
    calls: usize,
    cases: usize,
    held: usize,
    /// How the cases that held ended: exit 1, exit 0 with a warning, exit
    /// 0 with nothing said (retried, or a failure that did not matter).
    ended: usize,
    recovered: usize,
    quiet: usize,
    known: usize,
    failures: Vec<String>,
    covered: Vec<String>,
}

impl Tally {
    fn add(&mut self, case: &str, judged: Result<(), String>, outcome: &Outcome, is_known: bool) {
        self.cases += 1;
        match judged {
            Ok(()) => {
                self.held += 1;
                match (outcome.code, outcome.stderr.is_empty()) {
                    (Some(0), true) => self.quiet += 1,
                    (Some(0), false) => self.recovered += 1,
                    _ => self.ended += 1,
                }
            }
            Err(_) if is_known => self.known += 1,
            Err(why) => self.failures.push(format!(
                "{case}: {why}\n    stderr: {}",
                outcome.stderr.trim_end().replace('\n', "\n            ")
            )),
        }
    }
}

#[test]
fn every_call_made_to_fail_while_following() {
    matrix(Run::Follow);
}

#[test]
fn every_call_made_to_fail_in_a_catch_up_with_a_state_file() {
    matrix(Run::CatchUp);
}

#[test]
fn every_call_made_to_fail_with_rows() {
    matrix(Run::Rows);
}

#[test]
fn every_call_made_to_fail_on_a_pipe() {
    matrix(Run::Pipe);
}

/// Found by the matrix (a case there whose outcome hung on timing): a
/// look at the changelog's directory that failed (a `statx` on it, EACCES)
/// took the directory for gone and dropped its watch, and with it the
/// notification of the rotation: the follower waited for ever, without a
/// word. Every other call failing makes a passing failure certain to
/// strike; every call failing from the third on is a directory that
/// cannot be looked at any more (it is watched all the same).
#[test]
fn a_directory_look_that_fails_keeps_its_watch() {
    if !strace_can_inject() {
        eprintln!("skipped: strace cannot inject faults here");
        return;
    }
    for inject in ["statx:error=EACCES:when=3+2", "statx:error=EACCES:when=3+"] {
        let fixture = Fixture::new(Run::Follow);
        let outcome = execute(
            Run::Follow,
            &fixture,
            Some(fixture.dir.path()),
            Some(inject),
            None,
        );
        assert_eq!(outcome.code, Some(0), "{inject}: {outcome:?}");
        judge(Run::Follow, "statx", "EACCES", &outcome).unwrap_or_else(|e| panic!("{inject}: {e}"));
    }
}

#[test]
fn every_call_made_to_fail_in_a_snapshot() {
    matrix(Run::Snapshot);
}
