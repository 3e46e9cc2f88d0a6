//! Holes found in review: a directory replaced under the follower, writes
//! to other files in its directory, special files at the path.

use crate::harness::{self, PATIENCE, Tail};
use crate::writer::Writer;
use std::fs;
use std::io::Write;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

fn setup() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("change.log");
    (dir, path)
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
}

/// Follows `path` (a special file) and expects a prompt exit 1 whose message
/// says what the path is; returns the message.
fn refused(path: &Path, what: &str) -> String {
    let mut tail = Tail::start(path, &[]);
    let ended = tail.wait_end();
    let text = ended.stderr_text();
    assert_eq!(ended.code(), Some(1), "{text}");
    assert!(text.starts_with("changelog-tail: "), "{text}");
    assert!(text.contains(what), "{text}");
    assert!(text.contains("not a regular file"), "{text}");
    text
}

// 3. Special files at the path.

#[test]
fn holes_a_fifo_without_a_writer_is_refused_at_once() {
    let (_dir, path) = setup();
    mkfifo(&path);
    let text = refused(&path, "named pipe (FIFO)");
    assert!(text.contains("--path -"), "{text}");
}

#[test]
fn holes_a_fifo_with_a_writer_is_refused_at_once() {
    let (_dir, path) = setup();
    mkfifo(&path);
    // Read-write: opening does not wait for a reader, and the pipe keeps a
    // writer for as long as the test runs.
    let mut writer = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    writer
        .write_all(b"{\"seq\":1,\"family\":\"f\",\"table\":\"t\"}\n")
        .unwrap();
    let text = refused(&path, "named pipe (FIFO)");
    assert!(text.contains("--path -"), "{text}");
}

#[test]
fn holes_a_unix_socket_is_refused() {
    let (_dir, path) = setup();
    let _listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let text = refused(&path, "socket");
    assert!(!text.contains("--path -"), "{text}");
}

#[test]
fn holes_a_character_device_behind_a_symlink_is_refused() {
    let (_dir, path) = setup();
    symlink("/dev/null", &path).unwrap();
    let text = refused(&path, "character device");
    assert!(text.contains("--path -"), "{text}");
}

#[test]
fn holes_a_fifo_replacing_the_file_while_following_ends_the_run() {
    let (_dir, path) = setup();
    let mut writer = Writer::new(&path);
    writer.events(2);
    let mut tail = Tail::start(&path, &[]);
    assert_eq!(tail.seqs(2), [1, 2]);
    tail.wait_until_waiting(&path);
    fs::remove_file(&path).unwrap();
    mkfifo(&path);
    let ended = tail.wait_end();
    let text = ended.stderr_text();
    assert_eq!(ended.code(), Some(1), "{text}");
    assert!(text.contains("named pipe (FIFO)"), "{text}");
}

#[test]
fn holes_sigterm_ends_a_follower_started_on_a_fifo() {
    // Whatever it does with a FIFO, it must not sit in a blocking open out
    // of the signal's reach.
    let (_dir, path) = setup();
    mkfifo(&path);
    let mut tail = Tail::start(&path, &["--wait"]);
    // Signals are routed to the follower before the file is opened: send
    // it once that is set up (or the run is over already).
    let deadline = std::time::Instant::now() + PATIENCE;
    while !(harness::has_thread(tail.pid(), "signals") || exited(tail.pid())) {
        assert!(std::time::Instant::now() < deadline, "never got going");
        std::thread::yield_now();
    }
    let started = std::time::Instant::now();
    tail.signal(libc::SIGTERM);
    let ended = tail.wait_end();
    assert!(started.elapsed() < PATIENCE);
    assert!(
        matches!(ended.code(), Some(1) | Some(143)),
        "{:?}: {}",
        ended.code(),
        ended.stderr_text()
    );
}

/// Whether the process has ended (a zombie not yet reaped).
fn exited(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit_once(") ")
                .is_none_or(|(_, rest)| rest.starts_with('Z'))
        })
        .unwrap_or(true)
}

// 2. Writes to other files in the changelog's directory.

#[test]
fn holes_appends_to_a_sibling_file_do_not_wake_the_follower() {
    let (dir, path) = setup();
    let mut writer = Writer::new(&path);
    writer.event();
    let mut tail = Tail::start(&path, &[]);
    assert_eq!(tail.seqs(1), [1]);
    tail.wait_until_waiting(&path);
    let before = harness::settled_wakeups(tail.pid());
    // ctlstore's database WAL beside the changelog, written at a database's
    // pace (the pause paces the load; it synchronises nothing).
    let mut wal = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.path().join("ldb.db-wal"))
        .unwrap();
    for _ in 0..200 {
        wal.write_all(&[0; 4096]).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let woke = harness::wakeups(tail.pid()) - before;
    assert!(woke <= 3, "{woke} wake-ups for writes to another file");
    // Writes to the changelog still wake it.
    writer.event();
    assert_eq!(tail.seqs(1), [2]);
}
