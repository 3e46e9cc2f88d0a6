//! Hostile surroundings: FIFOs planted where the tool opens files (the
//! state file, its lock, the LDB), names and contents made to forge or
//! flood messages. Each was found by trying to break the tool.

use crate::harness::{self, binary};
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use wait_timeout::ChildExt;

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
}

/// Runs `command`; once its main thread is blocked, sends SIGINT, then
/// SIGTERM. The run must have ended within a few seconds (refused at once,
/// or ended by the signal), not be stuck where no signal reaches it.
/// Returns (exit code, stderr).
fn must_end_on_signals(mut command: Command) -> (Option<i32>, String) {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !harness::main_thread_sleeps(pid) && Instant::now() < deadline {
        std::thread::yield_now();
    }
    std::thread::sleep(Duration::from_millis(300)); // let it settle where it blocks
    for signal in [libc::SIGINT, libc::SIGTERM] {
        unsafe { libc::kill(pid as libc::pid_t, signal) };
        if let Some(status) = child.wait_timeout(Duration::from_secs(3)).unwrap() {
            let mut err = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
            return (status.code(), err);
        }
    }
    let wchan = fs::read_to_string(format!("/proc/{pid}/wchan")).unwrap_or_default();
    let _ = child.kill();
    let _ = child.wait();
    panic!("still running after SIGINT and SIGTERM, blocked in {wchan:?}");
}

fn log_with_one_event(dir: &Path) -> std::path::PathBuf {
    let log = dir.join("change.log");
    fs::write(&log, format!("{}\n", crate::writer::line(1))).unwrap();
    log
}

// Whoever can write the state directory (or the LDB's) plants a FIFO.

/// A run to the end of a one-event log with `args`, after a FIFO was
/// planted at `fifo` (a name in the run's directory): it must end on its
/// own or on SIGINT/SIGTERM, never hang.
fn with_a_fifo_at(fifo: &str, args: impl Fn(&Path) -> Vec<std::ffi::OsString>) {
    let dir = tempfile::tempdir().unwrap();
    let log = log_with_one_event(dir.path());
    mkfifo(&dir.path().join(fifo));
    let mut command = binary();
    command
        .arg("-p")
        .arg(&log)
        .arg("--no-follow")
        .args(args(dir.path()));
    let (code, err) = must_end_on_signals(command);
    assert!(matches!(code, Some(1) | Some(130)), "{code:?}: {err}");
}

#[test]
fn a_fifo_planted_at_the_state_lock_neither_hangs_nor_ignores_signals() {
    with_a_fifo_at("st.lock", |dir| {
        vec!["--state-file".into(), dir.join("st").into()]
    });
}

#[test]
fn a_fifo_planted_at_the_state_file_neither_hangs_nor_ignores_signals() {
    with_a_fifo_at("st", |dir| {
        vec!["--state-file".into(), dir.join("st").into()]
    });
}

#[test]
fn a_fifo_as_the_ldb_neither_hangs_nor_ignores_signals() {
    with_a_fifo_at("ldb.db", |dir| {
        vec!["--rows".into(), "--ldb".into(), dir.join("ldb.db").into()]
    });
}

// Every path and untrusted string in messages is escaped.

/// Every stderr line is a `changelog-tail:` line and no terminal control
/// character gets through.
fn assert_safe(stderr: &[u8]) {
    let text = String::from_utf8_lossy(stderr);
    assert!(
        !text.contains('\x1b') && !text.contains('\x07'),
        "raw control characters on stderr: {text:?}"
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "one message, one line: {text:?}");
}

#[test]
fn a_special_file_named_with_a_newline_cannot_forge_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x\x1b[2J\nchangelog-tail: forged");
    mkfifo(&path);
    let out = binary()
        .arg("-p")
        .arg(&path)
        .arg("--no-follow")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_safe(&out.stderr);
}

#[test]
fn a_corrupt_state_file_cannot_forge_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_with_one_event(dir.path());
    let state = dir.path().join("st");
    // Written by whoever can write the state directory: serde_json's message
    // quotes the unknown field's name as it is.
    fs::write(
        &state,
        r#"{"version":2,"changelog":"/x","dev":1,"ino":1,"end":0,"\u001b]0;pwned\u0007\nchangelog-tail: forged":1}"#,
    )
    .unwrap();
    let out = crate::harness::no_follow(&log, &["--state-file", state.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_safe(&out.stderr);
}

// One hostile value, a short warning.

#[test]
fn rows_warning_for_a_hostile_key_is_capped() {
    let dir = tempfile::tempdir().unwrap();
    let ldb = dir.path().join("ldb.db");
    let db = rusqlite::Connection::open(&ldb).unwrap();
    db.execute_batch("PRAGMA journal_mode=WAL; CREATE TABLE f___t (id BLOB PRIMARY KEY, v TEXT);")
        .unwrap();
    // One line of 1 MiB (well under --max-line-bytes): a BLOB key that is
    // not base64.
    let value = "!".repeat(1 << 20);
    let log = dir.path().join("change.log");
    fs::write(
        &log,
        format!(
            "{{\"seq\":1,\"family\":\"f\",\"table\":\"t\",\"key\":[{{\"name\":\"id\",\"type\":\"BLOB\",\"value\":\"{value}\"}}]}}\n"
        ),
    )
    .unwrap();
    let out = binary()
        .arg("-p")
        .arg(&log)
        .arg("--no-follow")
        .arg("--rows")
        .arg("--ldb")
        .arg(&ldb)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", harness::stderr_of(&out));
    assert!(
        out.stderr.len() < 4096,
        "a warning of {} bytes for one line (invalid-entry warnings quote 60 characters)",
        out.stderr.len()
    );
}
