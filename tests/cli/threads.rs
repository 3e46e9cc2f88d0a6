//! The threads a run has: one reading loop on the main thread, beside the
//! signal thread; following adds the opener thread (inotify's), nothing
//! more. A helper thread is a cost on every host the tool runs on, so it
//! must be one the docs name.

use crate::harness::Tail;
use crate::writer::lines;
use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

/// The names of the process's threads.
fn threads(pid: u32) -> Vec<String> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("proc")
        .flatten()
        .map(|t| {
            std::fs::read_to_string(t.path().join("comm"))
                .unwrap_or_default()
                .trim()
                .to_owned()
        })
        .collect()
}

/// The threads of a `--no-follow` catch-up held up mid-way: its stdout is
/// a pipe the test reads a little of and then leaves full, so the run
/// blocks writing (well before the end of its backlog).
fn threads_mid_catch_up(path: &Path, args: &[&str]) -> Vec<String> {
    let args = [&["--no-follow"], args].concat();
    let (tail, mut stdout) = Tail::start_with_raw_stdout(path, &args);
    // Some output came: it is reading and printing.
    let mut first = [0u8; 4096];
    stdout.read_exact(&mut first).expect("output");
    // Then it fills the pipe and waits for it with its main thread.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !crate::harness::main_thread_sleeps(tail.pid()) {
        assert!(Instant::now() < deadline, "the catch-up never blocked");
        std::thread::yield_now();
    }
    let names = threads(tail.pid());
    drop(stdout);
    names
}

#[test]
fn a_catch_up_runs_on_the_main_thread_beside_the_signal_thread_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("change.log");
    // Far more than a pipe holds, with and without a filter (which reads
    // lines of other tables another way).
    std::fs::write(&path, lines(1..=100_000)).unwrap();
    let state = dir.path().join("state");
    let state = state.to_str().unwrap();
    for args in [
        &[][..],
        &["--family", "fam1"],
        &["--family", "fam1", "--state-file", state],
        &["--format", "pretty"],
        &["--count", "90000"],
    ] {
        let names = threads_mid_catch_up(&path, args);
        assert!(
            names.len() <= 2,
            "{args:?}: more threads than main and signals: {names:?}"
        );
        let _ = std::fs::remove_file(state);
    }
}

#[test]
fn a_pipe_is_read_on_the_main_thread_beside_the_signal_thread_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("change.log");
    std::fs::write(&path, lines(1..=100_000)).unwrap();
    // A file as standard input: read as a pipe (`--path -`).
    let mut child = crate::harness::binary()
        .args(["--path", "-"])
        .stdin(std::fs::File::open(&path).unwrap())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 4096];
    stdout.read_exact(&mut first).expect("output");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !crate::harness::main_thread_sleeps(child.id()) {
        assert!(Instant::now() < deadline, "the run never blocked");
        std::thread::yield_now();
    }
    let names = threads(child.id());
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(names.len() <= 2, "more than main and signals: {names:?}");
}

#[test]
fn a_follower_adds_the_opener_thread_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("change.log");
    std::fs::write(&path, lines(1..=3)).unwrap();
    let mut tail = Tail::start(&path, &[]);
    assert_eq!(tail.seqs(3), [1, 2, 3]);
    tail.wait_until_waiting(&path);
    let names = threads(tail.pid());
    assert!(
        names.len() <= 3,
        "more threads than main, signals and the opener: {names:?}"
    );
}
