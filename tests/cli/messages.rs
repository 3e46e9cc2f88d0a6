//! Issue 17, hole 5: what the messages say. A failed write to standard
//! output says so and what to do; a line too long is "skipped" once; a
//! fragment cut by a truncation is said to be truncated, not rotated; the
//! fallback to polling names the inotify limit hit and the `sysctl` that
//! raises it.

use crate::harness::{Tail, binary, run_fed, stderr_of};
use crate::writer::{Writer, line, lines};
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Kills a process group when dropped.
struct KillGroup(u32);

impl Drop for KillGroup {
    fn drop(&mut self) {
        unsafe { libc::kill(-(self.0 as libc::pid_t), libc::SIGKILL) };
    }
}

fn setup() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("change.log");
    let state = dir.path().join("state.json");
    (dir, log, state)
}

/// The run modes that read a file: (name, arguments), each with and
/// without a state file.
fn file_modes(state: &Path) -> Vec<(String, Vec<String>)> {
    let mut modes = Vec::new();
    for (mode, args) in [
        ("--no-follow", &["--no-follow"][..]),
        ("--count", &["--count", "3"][..]),
        ("following", &[][..]),
    ] {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        modes.push((mode.to_owned(), args.clone()));
        let mut with_state = args;
        with_state.extend(["--state-file".to_owned(), state.display().to_string()]);
        modes.push((format!("{mode} with a state file"), with_state));
    }
    modes
}

/// A file on which every write fails with ENOSPC.
fn dev_full() -> std::fs::File {
    std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap()
}

#[test]
fn a_failed_write_to_stdout_says_so_and_what_to_do() {
    let (_dir, log, state) = setup();
    std::fs::write(&log, lines(1..=5)).unwrap();
    let check = |mode: &str, out: &Output, with_state: bool| {
        assert_eq!(out.status.code(), Some(1), "{mode}: {}", stderr_of(out));
        let stderr = stderr_of(out);
        let said: Vec<&str> = stderr.lines().collect();
        let hint = if with_state {
            "the state file was not advanced past what was written: run again to print the rest"
        } else {
            "events after the last one written were not printed"
        };
        assert_eq!(said.len(), 1, "{mode}: one line: {stderr}");
        assert!(
            said[0].starts_with(
                "changelog-tail: cannot write to standard output: \
                 No space left on device (os error 28); "
            ) && said[0].contains(hint),
            "{mode}: {stderr}"
        );
    };
    for (mode, args) in file_modes(&state) {
        let _ = std::fs::remove_file(&state);
        let out = binary()
            .arg("-p")
            .arg(&log)
            .args(&args)
            .stdout(dev_full())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let with_state = args.iter().any(|a| a == "--state-file");
        check(&mode, &out, with_state);
        if with_state {
            let saved: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
            assert!(
                saved.get("seq").is_none(),
                "{mode}: the state claims {saved}"
            );
        }
    }
    let mut command = binary();
    command.args(["--path", "-"]).stdout(dev_full());
    let mut child = command
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(lines(1..=5).as_bytes());
    });
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    check("a pipe", &out, false);
}

#[test]
fn a_line_too_long_is_said_to_be_skipped_once() {
    let (_dir, log, state) = setup();
    // Not an event (a line too long is not read at all): no gap after it.
    let long = format!("{{\"note\":\"{}\"}}", "x".repeat(300));
    let input = format!("{}{long}\n{}", lines([1]), lines(2..=3));
    std::fs::write(&log, &input).unwrap();
    let said = |mode: &str, stderr: &str| {
        let warning = stderr
            .lines()
            .find(|l| l.contains("line longer than 100 bytes"))
            .unwrap_or_else(|| panic!("{mode}: {stderr}"));
        assert_eq!(warning.matches("skipped").count(), 1, "{mode}: {warning}");
    };
    for (mode, mut args) in file_modes(&state) {
        let _ = std::fs::remove_file(&state);
        args.extend(["--max-line-bytes".into(), "100".into()]);
        let mut command = binary();
        command.arg("-p").arg(&log).args(&args);
        if mode.starts_with("following") {
            let mut tail = Tail::spawn(command);
            assert_eq!(tail.seqs(3), [1, 2, 3]);
            said(&mode, &tail.stderr_line("line longer"));
        } else {
            let out = command.output().unwrap();
            said(&mode, &stderr_of(&out));
        }
    }
    let mut command = binary();
    command.args(["--path", "-", "--max-line-bytes", "100"]);
    let out = run_fed(command, move |stdin| {
        let _ = stdin.write_all(input.as_bytes());
    });
    said("a pipe", &stderr_of(&out));
    // Under --strict it is not skipped: the run ends there.
    let out = crate::harness::no_follow(&log, &["--max-line-bytes", "100", "--strict"]);
    assert_eq!(out.status.code(), Some(4));
    let stderr = stderr_of(&out);
    assert!(
        !stderr.contains("skipped") && stderr.contains("stopping because of --strict"),
        "{stderr}"
    );
}

/// A partial line whose file is truncated in place (copy-truncate) before
/// its newline comes: the warning says the file was truncated, not
/// rotated. Following, with and without a state file, and with `--count`.
#[test]
fn a_fragment_cut_by_a_truncation_is_said_to_be_truncated() {
    for args in [
        &[][..],
        &["--state-file", "STATE"][..],
        &["--count", "4"][..],
    ] {
        let (_dir, log, state) = setup();
        let args: Vec<String> = args
            .iter()
            .map(|a| a.replace("STATE", state.to_str().unwrap()))
            .collect();
        let mut writer = Writer::new(&log);
        writer.events(2);
        let third = line(3);
        writer.raw(&third.as_bytes()[..10]);
        let mut command = binary();
        command.arg("-p").arg(&log).args(&args);
        let mut tail = Tail::spawn(command);
        assert_eq!(tail.seqs(2), [1, 2]);
        tail.wait_until_waiting(&log);
        writer.truncate();
        writer.next_seq = 3;
        writer.events(2);
        assert_eq!(tail.seqs(2), [3, 4], "{args:?}");
        let warning = tail.stderr_line("incomplete line");
        assert!(
            warning.contains("truncated") && !warning.contains("rotated"),
            "{args:?}: {warning}"
        );
    }
}

/// When inotify cannot be used because a limit is reached, the fallback
/// to polling says which limit (EMFILE from `inotify_init1`: the user's
/// instances; ENOSPC from `inotify_add_watch`: the user's watches) and the
/// `sysctl` that raises it, once; and the run goes on by polling. The
/// failures are injected by strace (skipped without it), at the first
/// call and at a later one (a watch added once following).
#[test]
fn the_polling_fallback_names_the_inotify_limit_hit() {
    if !crate::harness::strace_can_inject() {
        eprintln!("skipped: strace cannot inject faults here");
        return;
    }
    for (inject, limit) in [
        (
            "inotify_init1:error=EMFILE:when=1",
            "fs.inotify.max_user_instances",
        ),
        (
            "inotify_add_watch:error=ENOSPC:when=1",
            "fs.inotify.max_user_watches",
        ),
        (
            "inotify_add_watch:error=ENOSPC:when=3",
            "fs.inotify.max_user_watches",
        ),
    ] {
        for extra in [&[][..], &["--state-file", "STATE"][..]] {
            let (_dir, log, state) = setup();
            let mut writer = Writer::new(&log);
            writer.events(2);
            let mut command = Command::new("strace");
            command
                .args(["-f", "-qq", "-e", "signal=none", "-o", "/dev/null", "-e"])
                .arg(format!("inject={inject}"))
                .arg(env!("CARGO_BIN_EXE_changelog-tail"))
                .env_remove("CHANGELOG_TAIL_WATCHER")
                .arg("-p")
                .arg(&log)
                .args(["--count", "3"]);
            for arg in extra {
                command.arg(arg.replace("STATE", state.to_str().unwrap()));
            }
            // strace and the traced binary in a group of their own, killed
            // together if the test fails (killing strace alone would leave
            // the binary running, detached).
            command.process_group(0);
            let mut tail = Tail::spawn(command);
            let _group = KillGroup(tail.pid());
            assert_eq!(tail.seqs(2), [1, 2]);
            let warning = tail.stderr_line("polling every");
            assert!(
                warning.contains(limit) && warning.contains(&format!("sysctl -w {limit}=")),
                "{inject}: {warning}"
            );
            writer.event();
            assert_eq!(tail.seqs(1), [3], "{inject}: polling goes on");
            let ended = tail.wait_end();
            assert_eq!(ended.code(), Some(0), "{inject}: {}", ended.stderr_text());
            let polling = ended
                .stderr
                .iter()
                .filter(|l| l.contains("polling"))
                .count();
            assert_eq!(polling, 1, "{inject}: said once: {:?}", ended.stderr);
        }
    }
}
