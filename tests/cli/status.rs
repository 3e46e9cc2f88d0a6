//! SIGUSR1: one status line on stderr, then the run goes on; answered
//! while idle (at the cost of the wake-up it causes, nothing after) and
//! while busy catching up.

use crate::harness::{self, PATIENCE, Tail};
use crate::writer::{Writer, line};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, Instant};

fn setup() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("change.log");
    (dir, path)
}

/// The status line `changelog-tail` should print for `path` as it is now.
fn expected(path: &Path, rest: &str) -> String {
    let meta = std::fs::metadata(path).unwrap();
    format!(
        "changelog-tail: status: {} (device {}, inode {}): offset {} of {} bytes, {rest}",
        path.display(),
        meta.dev(),
        meta.ino(),
        meta.len(),
        meta.len()
    )
}

/// The next status line on stderr (other lines are passed over).
fn next_status(tail: &mut Tail) -> String {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tail.try_stderr_line(left) {
            Some(line) if line.starts_with("changelog-tail: status: ") => return line,
            Some(_) => {}
            None => panic!("no status line; stderr: {:?}", tail.stderr_so_far()),
        }
    }
}

/// The number before `what` in a status line (`"5 lines read"`).
fn count(status: &str, what: &str) -> u64 {
    let before = status.split(what).next().unwrap().trim_end();
    before.rsplit(' ').next().unwrap().parse().unwrap()
}

#[test]
fn sigusr1_prints_a_status_line_and_the_run_goes_on() {
    let (_dir, path) = setup();
    let mut writer = Writer::new(&path);
    // seq 3 is of fam0: read, not printed; then an invalid line.
    writer.events(3);
    writer.raw(b"not json\n");
    writer.event();
    let mut tail = Tail::start(
        &path,
        &["--family", "fam1", "--family", "fam2", "--count", "5"],
    );
    assert_eq!(tail.seqs(3), [1, 2, 4]);
    tail.stderr_line("not a changelog entry");
    tail.signal(libc::SIGUSR1);
    assert_eq!(
        next_status(&mut tail),
        expected(
            &path,
            "last seq 4, 5 lines read, 1 invalid, 0 rotations followed, 0 generations held; \
             3 events printed"
        )
    );
    // It goes on, across a rotation, and says so when asked again.
    writer.rotate_delete();
    writer.event();
    assert_eq!(tail.seqs(1), [5]);
    tail.signal(libc::SIGUSR1);
    assert_eq!(
        next_status(&mut tail),
        expected(
            &path,
            "last seq 5, 6 lines read, 1 invalid, 1 rotations followed, 0 generations held; \
             4 events printed"
        )
    );
    // And it ends as it would have: --count 5 reached (seq 6 is of fam0).
    writer.events(2);
    assert_eq!(tail.seqs(1), [7]);
    let ended = tail.wait_end();
    assert_eq!(ended.code(), Some(0), "{:?}", ended.stderr);
}

#[test]
fn a_status_while_idle_costs_only_the_wake_up_it_causes() {
    let (_dir, path) = setup();
    let (mut writer, mut tail) = harness::waiting_follower(&path, &[], 3);
    let before = harness::settled_wakeups(tail.pid());
    tail.signal(libc::SIGUSR1);
    next_status(&mut tail);
    let after = harness::settled_wakeups(tail.pid());
    // The thread the kernel runs the handler on, the signal thread, the
    // reader: two or three wake-ups for the one signal (measured), and no
    // timer after it.
    assert!(
        after - before <= 4,
        "{} wake-ups for one status",
        after - before
    );
    std::thread::sleep(Duration::from_secs(1)); // the window measured
    assert_eq!(
        harness::wakeups(tail.pid()),
        after,
        "woke up after the status"
    );
    writer.event();
    assert_eq!(tail.seqs(1), [4]);
}

#[test]
fn a_reader_busy_catching_up_answers_at_once() {
    let (_dir, path) = setup();
    // A backlog the reader takes a while over, none of it printed.
    let lines = 400_000;
    let text: String = (1..=lines).map(|seq| line(seq) + "\n").collect();
    std::fs::write(&path, text).unwrap();
    let mut tail = Tail::start(&path, &["--family", "none"]);
    let pid = tail.pid();
    let deadline = Instant::now() + PATIENCE;
    while !(harness::has_thread(pid, "signals") && has_started_reading(pid, &path)) {
        assert!(Instant::now() < deadline, "never started reading");
        std::thread::yield_now();
    }
    tail.signal(libc::SIGUSR1);
    let status = next_status(&mut tail);
    // Answered between two lines, not once the backlog was read.
    let read = count(&status, "lines read");
    assert!(0 < read && read < lines as u64, "{status}");
    assert!(status.ends_with("; 0 events printed"), "{status}");
    // And the reading went on to the end and beyond.
    let mut writer = Writer::new(&path);
    let seq = lines + 1;
    writer.write_line(&format!(
        r#"{{"seq":{seq},"family":"none","table":"t","key":[]}}"#
    ));
    let event = tail.event();
    assert_eq!(event.seq, lines + 1);
}

/// Whether the process has the file at `path` open and has read more than
/// a buffer's worth of bytes (its `rchar`: reads are positional, so the
/// file's own position says nothing).
fn has_started_reading(pid: u32, path: &Path) -> bool {
    let target = std::fs::canonicalize(path).unwrap();
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    let open = fds
        .flatten()
        .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|p| p == target));
    if !open {
        return false;
    }
    let io = std::fs::read_to_string(format!("/proc/{pid}/io")).unwrap_or_default();
    let read: u64 = io
        .lines()
        .find_map(|l| l.strip_prefix("rchar:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    read > 256 * 1024
}
