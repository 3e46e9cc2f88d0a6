//! One test per exit status in the README's table.

use crate::harness::{self, Tail, binary, no_follow, seqs_of};
use crate::writer::{Writer, line};
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;

fn changelog(lines: &[String]) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("change.log");
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

fn lines(seqs: impl IntoIterator<Item = i64>) -> Vec<String> {
    seqs.into_iter().map(line).collect()
}

#[test]
fn zero_when_no_follow_reaches_the_end() {
    let (_dir, path) = changelog(&lines(1..=3));
    let out = no_follow(&path, &[]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 3);
    assert!(out.stderr.is_empty());
}

#[test]
fn zero_when_count_is_reached_while_following() {
    let (_dir, path) = changelog(&lines(1..=5));
    let out = binary()
        .arg("-p")
        .arg(&path)
        .args(["--count", "2"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(seqs_of(&out), [1, 2]);
}

#[test]
fn zero_and_no_message_when_the_reader_goes_away() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("change.log");
    let mut writer = Writer::new(&path);
    writer.event();
    let (mut tail, stdout) = Tail::start_with_raw_stdout(&path, &[]);
    let mut reader = BufReader::new(stdout);
    let mut first = String::new();
    reader.read_line(&mut first).unwrap();
    assert!(first.contains("\"seq\":1"));
    drop(reader);
    // The next write to the closed pipe fails with EPIPE.
    writer.events(3);
    let ended = tail.wait_end();
    assert_eq!(ended.code(), Some(0));
    assert!(ended.stderr.is_empty(), "{:?}", ended.stderr);
}

#[test]
fn one_when_the_file_is_missing_after_the_grace_second() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("change.log");
    let out = binary().arg("-p").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.starts_with("changelog-tail: "), "{stderr}");
    assert!(stderr.contains("change.log: no such file"), "{stderr}");
    assert!(stderr.contains("--wait"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1);
}

#[test]
fn one_when_the_path_is_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out = binary().arg("-p").arg(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("is a directory"), "{stderr}");
}

#[test]
fn one_when_permission_is_denied() {
    use std::os::unix::fs::PermissionsExt;
    let open = std::fs::Permissions::from_mode(0o755);
    let (dir, path) = changelog(&lines(1..=1));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
    std::fs::set_permissions(dir.path(), open.clone()).unwrap();
    let mut command = binary();
    if unsafe { libc::geteuid() } == 0 {
        // Root reads anything: run as nobody so that permissions apply,
        // from a copy of the binary that nobody may run wherever the
        // checkout lives.
        let copy = dir.path().join("changelog-tail");
        std::fs::copy(env!("CARGO_BIN_EXE_changelog-tail"), &copy).unwrap();
        std::fs::set_permissions(&copy, open).unwrap();
        command = std::process::Command::new(copy);
        command.uid(65534).gid(65534);
    }
    let out = command
        .arg("-p")
        .arg(&path)
        .arg("--no-follow")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("Permission denied"), "{stderr}");
    assert!(stderr.contains("permissions"), "{stderr}");
}

#[test]
fn two_for_usage_errors() {
    for args in [
        vec!["--bogus"],
        vec!["--raw", "--format", "pretty"],
        vec!["--key", "id"],
        vec!["--poll", "soon"],
        vec!["--format", "xml"],
        vec!["--max-line-bytes", "0"],
    ] {
        let out = binary().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!out.stderr.is_empty());
    }
}

#[test]
fn two_for_an_unknown_watcher_in_the_environment() {
    let (_dir, path) = changelog(&lines([1, 2]));
    for value in ["kqueue", "INOTIFY", "poll "] {
        let out = binary()
            .env("CHANGELOG_TAIL_WATCHER", value)
            .arg("-p")
            .arg(&path)
            .arg("--no-follow")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{value:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.contains("CHANGELOG_TAIL_WATCHER"), "{stderr}");
        assert!(stderr.contains("inotify, notify or poll"), "{stderr}");
    }
    // Each known value, and none, runs (here to the end of the file).
    for value in ["inotify", "notify", "poll", ""] {
        let out = binary()
            .env("CHANGELOG_TAIL_WATCHER", value)
            .arg("-p")
            .arg(&path)
            .arg("--no-follow")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{value:?}: {out:?}");
        assert_eq!(seqs_of(&out), [1, 2]);
    }
}

#[test]
fn three_when_out_of_sync_naming_both_seqs() {
    let (_dir, path) = changelog(&lines([1, 2, 5, 6]));
    let out = no_follow(&path, &[]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 2);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("out of sync: expected seq 3 but read seq 5"),
        "{stderr}"
    );
    assert!(stderr.contains("line 3"), "{stderr}");
    assert!(stderr.contains("drop everything cached"), "{stderr}");
}

#[test]
fn a_filter_does_not_hide_a_gap() {
    let (_dir, path) = changelog(&lines([1, 2, 7]));
    let out = no_follow(&path, &["--table", "nothing-matches"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(out.stdout.is_empty());
}

#[test]
fn warn_on_out_of_sync_prints_the_event_and_goes_on() {
    let (_dir, path) = changelog(&lines([1, 2, 5, 6]));
    let out = no_follow(&path, &["--on-out-of-sync", "warn"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 4);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("warning: out of sync: expected seq 3 but read seq 5"));
}

#[test]
fn four_on_an_invalid_entry_with_strict() {
    let mut text = lines(1..=2);
    text.push("not json".into());
    text.push(line(3));
    let (_dir, path) = changelog(&text);
    let out = no_follow(&path, &["--strict"]);
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 2);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("line 3"), "{stderr}");
    assert!(stderr.contains("--strict"), "{stderr}");
}

fn interrupted_by(signal: i32, code: i32) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("change.log");
    let (_writer, mut tail) = harness::waiting_follower(&path, &[], 2);
    tail.signal(signal);
    let ended = tail.wait_end();
    assert_eq!(ended.code(), Some(code));
    assert!(ended.stderr.is_empty(), "{:?}", ended.stderr);
}

#[test]
fn one_hundred_thirty_on_sigint() {
    interrupted_by(libc::SIGINT, 130);
}

#[test]
fn one_hundred_forty_three_on_sigterm() {
    interrupted_by(libc::SIGTERM, 143);
}

#[test]
fn sigint_while_waiting_for_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("change.log");
    let tail = Tail::start(&path, &["--wait"]);
    let pid = tail.pid();
    // Signals are routed, and the main thread is asleep waiting for the file.
    let deadline = std::time::Instant::now() + harness::PATIENCE;
    while !(harness::has_thread(pid, "signals") && harness::main_thread_sleeps(pid)) {
        assert!(std::time::Instant::now() < deadline, "never settled");
        std::thread::yield_now();
    }
    let mut tail = tail;
    tail.signal(libc::SIGINT);
    assert_eq!(tail.wait_end().code(), Some(130));
}

/// SIGTERM while stdout is a full pipe nobody reads (a consumer that
/// stopped reading): the run ends (143) within the grace the signal thread
/// gives it, as `tail -F` would, instead of hanging in the write until
/// someone reads or sends SIGKILL. (Found by a review; it hung before.)
#[test]
fn sigterm_ends_a_run_blocked_on_a_full_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("change.log");
    std::fs::write(&path, crate::writer::lines(1..=20_000)).unwrap();
    let state = dir.path().join("state");
    let state = state.to_str().unwrap();
    // Following, to the end, with a state file.
    for args in [&[][..], &["--no-follow"], &["--state-file", state]] {
        let args = [&["--format", "ndjson"], args].concat();
        let (mut tail, stdout) = Tail::start_with_raw_stdout(&path, &args);
        // Held, never read: the pipe fills and the main thread blocks writing.
        let deadline = std::time::Instant::now() + harness::PATIENCE;
        while !harness::main_thread_sleeps(tail.pid())
            || !harness::has_thread(tail.pid(), "signals")
        {
            assert!(std::time::Instant::now() < deadline, "never blocked");
            std::thread::yield_now();
        }
        tail.signal(libc::SIGTERM);
        let ended = tail.wait_end();
        drop(stdout);
        assert_eq!(ended.code(), Some(143), "{args:?}: {}", ended.stderr_text());
    }
}
