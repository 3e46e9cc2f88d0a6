//! Resuming across runs: `--after-seq` and `--state-file` (`doc/design.md`, "Resuming").

use crate::harness::{Tail, binary, no_follow};
use crate::writer::{Writer, line, lines};
use serde_json::Value;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Output;

/// A changelog and a state file beside it, in a directory of their own.
pub struct Setup {
    _dir: tempfile::TempDir,
    pub log: PathBuf,
    pub state: PathBuf,
}

pub fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    Setup {
        log: dir.path().join("change.log"),
        state: dir.path().join("state.json"),
        _dir: dir,
    }
}

fn write_file(path: &Path, seqs: impl IntoIterator<Item = i64>) {
    std::fs::write(path, lines(seqs)).unwrap();
}

/// Replaces the file by a new one (delete + create) holding `seqs`.
fn rotate_to(path: &Path, seqs: impl IntoIterator<Item = i64>) {
    std::fs::remove_file(path).unwrap();
    write_file(path, seqs);
}

impl Setup {
    /// The binary on the log with the state file, and `args`.
    pub fn command(&self, args: &[&str]) -> std::process::Command {
        let mut command = binary();
        command
            .arg("-p")
            .arg(&self.log)
            .arg("--state-file")
            .arg(&self.state)
            .args(args);
        command
    }

    /// One run to its end.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// A following run (no `--no-follow`) on the log with the state file.
    fn follower(&self) -> Tail {
        Tail::spawn(self.command(&[]))
    }

    /// Writes the log with `seqs` and delivers them all in one run, which
    /// leaves the state at the last.
    fn deliver(&self, seqs: std::ops::RangeInclusive<i64>) {
        write_file(&self.log, seqs.clone());
        let out = self.run(&["--no-follow"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert_eq!(crate::harness::seqs_of(&out), seqs.collect::<Vec<_>>());
    }

    /// The state file, read.
    pub fn state(&self) -> Value {
        serde_json::from_slice(&std::fs::read(&self.state).unwrap()).unwrap()
    }

    /// The seq the state file holds (none before the first event).
    fn saved_seq(&self) -> Option<i64> {
        self.state()["seq"].as_i64()
    }
}

use crate::harness::{seqs_of as seqs, stderr_of as stderr};

#[test]
fn after_seq_skips_through_n() {
    let s = setup();
    write_file(&s.log, 1..=6);
    let out = no_follow(&s.log, &["--after-seq", "3"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(seqs(&out), [4, 5, 6]);
}

#[test]
fn after_seq_with_a_gap_after_n_is_out_of_sync() {
    let s = setup();
    write_file(&s.log, 7..=8);
    let out = no_follow(&s.log, &["--after-seq", "3"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).contains("expected seq 4 but read seq 7"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_clean_stop_then_a_restart_gives_exactly_the_next_events() {
    let s = setup();
    write_file(&s.log, 1..=10);
    let first = s.run(&["--count", "4"]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    assert_eq!(seqs(&first), [1, 2, 3, 4]);
    assert_eq!(s.saved_seq(), Some(4));
    let second = s.run(&["--count", "3"]);
    assert_eq!(seqs(&second), [5, 6, 7]);
    let third = s.run(&["--no-follow"]);
    assert_eq!(seqs(&third), [8, 9, 10]);
    assert_eq!(s.saved_seq(), Some(10));
}

#[test]
fn the_state_counts_events_the_filter_hides() {
    let s = setup();
    write_file(&s.log, 1..=9);
    // line(seq) has family fam{seq % 3}: fam0 is seqs 3, 6, 9.
    let first = s.run(&["--no-follow", "--family", "fam0"]);
    assert_eq!(seqs(&first), [3, 6, 9]);
    assert_eq!(s.saved_seq(), Some(9));
    // A rotation that keeps numbering: nothing lost, nothing repeated.
    rotate_to(&s.log, 10..=12);
    let second = s.run(&["--no-follow", "--family", "fam0"]);
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    assert_eq!(seqs(&second), [12]);
}

#[test]
fn kill_9_mid_stream_skips_nothing_on_restart() {
    let s = setup();
    write_file(&s.log, 1..=40_000);
    // Read straight from the pipe, as needed: the follower waits for it.
    let (mut tail, stdout) = Tail::spawn_with_raw_stdout(s.command(&[]));
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
    let mut next_seq = || {
        let line = lines.next().expect("an event").unwrap();
        serde_json::from_str::<Value>(&line).unwrap()["seq"]
            .as_i64()
            .unwrap()
    };
    // One event at a time, the state looked at after each, until a state
    // written mid-flow shows; then the follower is killed at once: what
    // the state claims must be in the pipe already (written out before
    // the state). After 10,000 events the output is held up for a while
    // (the follower waits for the pipe): the state is written at most ten
    // times a second under load, and this makes a write due.
    let mut seen = Vec::new();
    let saved = loop {
        seen.push(next_seq());
        if seen.len() == 10_000 {
            std::thread::sleep(std::time::Duration::from_millis(150));
        }
        if let Some(saved) = s.saved_seq() {
            break saved;
        }
        assert!(
            seen.len() < 40_000,
            "the state was never written under load"
        );
    };
    tail.signal(libc::SIGKILL);
    let ended = tail.wait_end();
    assert_eq!(ended.status.code(), None, "killed by the signal");
    // Whatever else reached the pipe before the kill (a last line may be
    // cut short).
    seen.extend(
        lines
            .map_while(Result::ok)
            .filter_map(|line| serde_json::from_str::<Value>(&line).ok()?["seq"].as_i64()),
    );
    assert_eq!(seen, (1..=seen.len() as i64).collect::<Vec<_>>());
    assert!(
        saved >= 10_000,
        "written mid-flow after 10,000 events: {saved}"
    );
    assert!(
        saved <= seen.len() as i64,
        "the state ({saved}) claims more than was printed ({})",
        seen.len()
    );
    let second = s.run(&["--no-follow"]);
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    assert_eq!(seqs(&second), (saved + 1..=40_000).collect::<Vec<_>>());
}

#[test]
fn rotation_while_stopped_with_nothing_lost_continues() {
    let s = setup();
    s.deliver(1..=5);
    rotate_to(&s.log, 6..=8);
    let out = s.run(&["--no-follow"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(seqs(&out), [6, 7, 8]);
}

#[test]
fn a_new_file_repeating_delivered_events_skips_them() {
    let s = setup();
    s.deliver(1..=5);
    rotate_to(&s.log, 3..=8);
    let out = s.run(&["--no-follow"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(seqs(&out), [6, 7, 8]);
}

#[test]
fn rotation_while_stopped_that_lost_events_is_out_of_sync_once() {
    let s = setup();
    s.deliver(1..=5);
    rotate_to(&s.log, 9..=11);
    let out = s.run(&["--no-follow"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).contains("expected seq 6 but read seq 9"),
        "{}",
        stderr(&out)
    );
    assert!(seqs(&out).is_empty());
    assert_eq!(
        s.saved_seq(),
        Some(9),
        "the state moves to the revealing event"
    );
    let again = s.run(&["--no-follow"]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert_eq!(seqs(&again), [10, 11]);
}

#[test]
fn a_writer_restart_in_the_same_file_is_out_of_sync_at_once() {
    let s = setup();
    s.deliver(1..=5);
    // The reflector restarted and appended to the same file: numbering
    // began again at 1.
    let mut writer = Writer::new(&s.log);
    writer.events(2);
    let ended = s.follower().wait_end();
    assert_eq!(ended.code(), Some(3));
    assert!(
        ended
            .stderr_text()
            .contains("expected seq 6 but read seq 1"),
        "{}",
        ended.stderr_text()
    );
}

#[test]
fn a_writer_restart_in_a_new_file_is_out_of_sync_at_once() {
    let s = setup();
    s.deliver(1..=5);
    rotate_to(&s.log, 1..=3);
    // Following, not --no-follow: the end of the run must be reported when
    // the file is read, not after waiting for seq 5 to show up.
    let ended = s.follower().wait_end();
    assert_eq!(ended.code(), Some(3));
    let text = ended.stderr_text();
    assert!(
        text.contains("resuming after seq 5, but the changelog ends at seq 3"),
        "{text}"
    );
    assert_eq!(s.saved_seq(), Some(3));
}

#[test]
fn a_new_file_with_a_different_line_under_the_saved_seq_is_out_of_sync() {
    let s = setup();
    s.deliver(1..=5);
    std::fs::remove_file(&s.log).unwrap();
    let text: String = (1..=8)
        .map(|seq| match seq {
            5 => format!("{}\n", line(5).replace("fam2", "famX")),
            _ => format!("{}\n", line(seq)),
        })
        .collect();
    std::fs::write(&s.log, text).unwrap();
    let out = s.run(&["--no-follow"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).contains("seq 5 is not the line read before"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_new_file_that_reuses_the_old_inode_number_is_not_taken_for_the_old_one() {
    let s = setup();
    s.deliver(1..=5);
    let old_end = s.state()["end"].as_u64().unwrap();
    rotate_to(&s.log, 6..=20);
    // Inode numbers are reused at the kernel's whim; make the state name
    // the new file's (device, inode) as a reuse would.
    let meta = std::fs::metadata(&s.log).unwrap();
    assert!(meta.len() > old_end);
    let mut state = s.state();
    state["dev"] = meta.dev().into();
    state["ino"] = meta.ino().into();
    std::fs::write(&s.state, serde_json::to_vec(&state).unwrap()).unwrap();
    let out = s.run(&["--no-follow"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(seqs(&out), (6..=20).collect::<Vec<_>>());
}

#[test]
fn a_corrupt_state_file_is_an_error_naming_it() {
    let s = setup();
    write_file(&s.log, 1..=2);
    std::fs::write(&s.state, "{\"version\":1,\"seq\":").unwrap();
    let out = s.run(&["--no-follow"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stderr(&out);
    assert!(text.starts_with("changelog-tail: state file "), "{text}");
    assert!(text.contains("state.json"), "{text}");
    assert!(text.contains("is corrupt"), "{text}");
    assert!(seqs(&out).is_empty());
}

#[test]
fn a_state_file_for_another_changelog_is_an_error() {
    let s = setup();
    write_file(&s.log, 1..=2);
    s.run(&["--no-follow"]);
    let other = s.log.with_file_name("other.log");
    write_file(&other, 1..=2);
    let out = binary()
        .arg("-p")
        .arg(&other)
        .arg("--state-file")
        .arg(&s.state)
        .arg("--no-follow")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("belongs to the changelog"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn two_runs_on_one_state_file_the_second_fails_clearly() {
    let s = setup();
    write_file(&s.log, 1..=2);
    let mut first = s.follower();
    assert_eq!(first.seqs(2), [1, 2]);
    let second = s.run(&["--no-follow"]);
    assert_eq!(second.status.code(), Some(1));
    assert!(
        stderr(&second).contains("in use by another process"),
        "{}",
        stderr(&second)
    );
    first.signal(libc::SIGTERM);
    assert_eq!(first.wait_end().code(), Some(143));
    assert_eq!(
        s.saved_seq(),
        Some(2),
        "the first run saved its state on the way out"
    );
}

#[test]
fn state_file_and_after_seq_do_not_mix() {
    let s = setup();
    let out = s.run(&["--after-seq", "3"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn an_idle_follower_saves_its_state_soon_after_the_last_event() {
    let s = setup();
    let mut writer = Writer::new(&s.log);
    writer.events(3);
    let mut tail = s.follower();
    assert_eq!(tail.seqs(3), [1, 2, 3]);
    let deadline = std::time::Instant::now() + crate::harness::PATIENCE;
    while !(s.state.exists() && s.saved_seq() == Some(3)) {
        assert!(
            std::time::Instant::now() < deadline,
            "state never saved while idle"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // …and then it is idle for good: no timer left behind. (Writing the
    // state file in the watched directory wakes the follower once; let that
    // settle first.)
    tail.wait_until_waiting(&s.log);
    let before = crate::harness::settled_wakeups(tail.pid());
    std::thread::sleep(std::time::Duration::from_millis(1500)); // the window measured
    assert_eq!(crate::harness::wakeups(tail.pid()), before);
}

/// The same check in every mode: reading to the end, counting, following.
fn in_every_mode(s: &Setup, check: impl Fn(&str, Option<i32>, &str)) {
    for (mode, args) in [
        ("--no-follow", &["--no-follow"][..]),
        ("--count", &["--count", "5"][..]),
        ("following", &[][..]),
    ] {
        let state = std::fs::read(&s.state).ok();
        let mut command = binary();
        command
            .arg("-p")
            .arg(&s.log)
            .arg("--state-file")
            .arg(&s.state)
            .args(args);
        let ended = Tail::spawn(command).wait_end();
        check(mode, ended.code(), &ended.stderr_text());
        // Each mode starts from the same state.
        match state {
            Some(bytes) => std::fs::write(&s.state, bytes).unwrap(),
            None => drop(std::fs::remove_file(&s.state)),
        }
    }
}

#[test]
fn a_writer_restart_while_stopped_is_out_of_sync_in_every_mode() {
    let s = setup();
    s.deliver(1..=5);
    rotate_to(&s.log, 1..=3);
    in_every_mode(&s, |mode, code, stderr| {
        assert_eq!(code, Some(3), "{mode}: {stderr}");
        assert!(
            stderr.contains("resuming after seq 5, but the changelog ends at seq 3"),
            "{mode}: {stderr}"
        );
    });
    // Reported once: the state moved to the revealing event, and what
    // follows it is read as usual.
    let out = s.run(&["--no-follow"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(s.saved_seq(), Some(3));
    std::fs::OpenOptions::new()
        .append(true)
        .open(&s.log)
        .unwrap()
        .write_all(format!("{}\n", line(4)).as_bytes())
        .unwrap();
    let out = s.run(&["--no-follow"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(seqs(&out), [4]);
}

#[test]
fn after_seq_past_the_end_of_the_file_is_out_of_sync_at_once() {
    let s = setup();
    write_file(&s.log, 1..=2);
    for args in [&["--no-follow"][..], &["--count", "1"][..], &[][..]] {
        let mut command = binary();
        command
            .arg("-p")
            .arg(&s.log)
            .args(["--after-seq", "10"])
            .args(args);
        let ended = Tail::spawn(command).wait_end();
        assert_eq!(ended.code(), Some(3), "{args:?}: {}", ended.stderr_text());
        assert!(
            ended
                .stderr_text()
                .contains("resuming after seq 10, but the changelog ends at seq 2"),
            "{}",
            ended.stderr_text()
        );
    }
}

#[test]
fn the_largest_seq_twice_is_out_of_sync_never_a_wrap() {
    let s = setup();
    let max = i64::MAX;
    write_file(&s.log, [max - 1, max, max]);
    let out = no_follow(&s.log, &[]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(seqs(&out), [max - 1, max]);
    let text = stderr(&out);
    assert!(text.contains("the largest a seq can be"), "{text}");
    write_file(&s.log, [max, 1]);
    let out = no_follow(&s.log, &[]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        !stderr(&out).contains("expected seq 9223372036854775807"),
        "{}",
        stderr(&out)
    );
    let out = no_follow(&s.log, &["--after-seq", &max.to_string()]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(seqs(&out).is_empty());
}

#[test]
fn no_follow_leaves_a_line_still_being_written_for_the_next_run() {
    let s = setup();
    let head = line(3);
    let (first_half, second_half) = head.split_at(20);
    let text = format!("{}\n{}\n{first_half}", line(1), line(2));
    std::fs::write(&s.log, text).unwrap();
    let out = s.run(&["--no-follow"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(seqs(&out), [1, 2]);
    assert_eq!(stderr(&out), "", "a line being written is not an entry yet");
    assert_eq!(
        s.saved_seq(),
        Some(2),
        "the state points before the partial line"
    );
    std::fs::OpenOptions::new()
        .append(true)
        .open(&s.log)
        .unwrap()
        .write_all(format!("{second_half}\n").as_bytes())
        .unwrap();
    let out = s.run(&["--no-follow"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(seqs(&out), [3]);
}

#[test]
fn a_run_killed_before_any_event_leaves_a_state_that_reveals_later_losses() {
    let s = setup();
    std::fs::write(&s.log, "").unwrap();
    let mut tail = s.follower();
    // The state is on disk as soon as the run knows where it starts.
    let deadline = std::time::Instant::now() + crate::harness::PATIENCE;
    while !s.state.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "no state written at start"
        );
        std::thread::yield_now();
    }
    tail.signal(libc::SIGKILL);
    tail.wait_end();
    assert_eq!(s.saved_seq(), None);
    // While nobody reads: events, and two rotations.
    write_file(&s.log, 1..=4);
    rotate_to(&s.log, 5..=8);
    rotate_to(&s.log, 9..=10);
    let out = s.run(&["--no-follow"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("replaced before any event was read"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_fresh_state_on_a_file_that_is_still_there_reads_it_from_its_start() {
    let s = setup();
    std::fs::write(&s.log, "").unwrap();
    let out = s.run(&["--no-follow"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(s.saved_seq(), None);
    let mut writer = Writer::new(&s.log);
    writer.events(3);
    let out = s.run(&["--no-follow"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(seqs(&out), [1, 2, 3]);
}

/// Cuts the log to nothing in place (copy-truncate) while `tail` waits,
/// writes seqs 6 and 7, and checks that `tail` prints them.
fn truncated_under(s: &Setup, mut tail: Tail) {
    tail.wait_until_waiting(&s.log);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&s.log)
        .unwrap();
    file.set_len(0).unwrap();
    drop(file);
    let mut writer = Writer::new(&s.log);
    writer.next_seq = 6;
    writer.events(2);
    assert_eq!(tail.seqs(2), [6, 7]);
}

#[test]
fn a_copy_truncate_right_after_resuming_in_place_is_followed() {
    // Nothing read since the resume: the truncation must still be told
    // (by the last bytes before the resume point, kept at the start).
    let s = setup();
    s.deliver(1..=5);
    truncated_under(&s, s.follower());
}

#[test]
fn a_copy_truncate_right_after_starting_at_the_end_is_followed() {
    let s = setup();
    write_file(&s.log, 1..=5);
    let mut command = binary();
    command.arg("-p").arg(&s.log).args(["--from", "end"]);
    truncated_under(&s, Tail::spawn(command));
}

/// A write to stdout that fails once (ENOSPC, injected by strace) ends the
/// run, exit 1. The last flush may get the rest out, but the state must not
/// claim the event whose write failed: the next run prints on from the
/// state, and the two runs' output holds every event. With a filter and
/// without (every event printed).
#[test]
fn a_write_that_fails_once_leaves_the_state_behind_what_was_printed() {
    if !crate::harness::strace_can_inject() {
        eprintln!("skipped: strace cannot inject faults here");
        return;
    }
    for filter in [&[][..], &["--family", "fam0"][..]] {
        let s = setup();
        write_file(&s.log, 1..=200_000);
        let first = traced_run(&s, "ENOSPC", filter);
        assert_eq!(
            first.status.code(),
            Some(1),
            "{filter:?}: {}",
            stderr(&first)
        );
        // Whole lines only: the last may be cut short.
        let printed: Vec<i64> = String::from_utf8_lossy(&first.stdout)
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok()?["seq"].as_i64())
            .collect();
        // (With a filter the state may stand on an event not printed.)
        if let (Some(saved), []) = (s.saved_seq(), filter) {
            let last = printed.last().copied().unwrap_or(0);
            assert!(
                saved <= last,
                "the state ({saved}) is past the output ({last})"
            );
        }
        let second = s.run(&[&["--no-follow"], filter].concat());
        assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
        let mut both: Vec<i64> = printed.into_iter().chain(seqs(&second)).collect();
        both.sort_unstable();
        both.dedup();
        let every = every_event(filter);
        assert_eq!(
            both.len(),
            every.len(),
            "{filter:?}: events lost between the runs"
        );
        assert_eq!(both, every);
    }
}

/// The seqs of 1..=200,000 that `filter` (none, or `--family fam0`) passes.
fn every_event(filter: &[&str]) -> Vec<i64> {
    match filter {
        [] => (1..=200_000).collect(),
        _ => (3..=200_000).step_by(3).collect(),
    }
}

/// A catch-up with a state file under strace, whose 50th write fails once
/// with `errno`.
fn traced_run(s: &Setup, errno: &str, filter: &[&str]) -> std::process::Output {
    std::process::Command::new("strace")
        .args(["-f", "-qq", "-e", "trace=write", "-e", "signal=none"])
        .args(["-e", &format!("inject=write:error={errno}:when=50")])
        .args(["-o", "/dev/null"])
        .arg(env!("CARGO_BIN_EXE_changelog-tail"))
        .arg("-p")
        .arg(&s.log)
        .args(["--no-follow", "--state-file"])
        .arg(&s.state)
        .args(filter)
        .output()
        .unwrap()
}

/// A write to stdout that would block (EAGAIN: someone made the descriptor
/// non-blocking) is waited out and retried, never reported: the run prints
/// every event and ends well.
#[test]
fn a_write_that_would_block_is_retried() {
    if !crate::harness::strace_can_inject() {
        eprintln!("skipped: strace cannot inject faults here");
        return;
    }
    for filter in [&[][..], &["--family", "fam0"][..]] {
        let s = setup();
        write_file(&s.log, 1..=200_000);
        let run = traced_run(&s, "EAGAIN", filter);
        assert_eq!(run.status.code(), Some(0), "{filter:?}: {}", stderr(&run));
        assert_eq!(stderr(&run), "", "{filter:?}");
        assert_eq!(
            crate::harness::seqs_of(&run),
            every_event(filter),
            "{filter:?}"
        );
    }
}

/// The system calls the thread that replaced the state file at `state`
/// made after that rename, from a `strace -ff` trace (one file per thread,
/// `prefix.<tid>`), or `None` if no thread renamed onto it.
fn calls_after_renaming_onto(prefix: &Path, state: &Path) -> Option<Vec<String>> {
    let dir = prefix.parent().unwrap();
    let name = prefix.file_name().unwrap().to_str().unwrap();
    let target = format!("\"{}\")", state.display());
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let file = path.file_name().unwrap().to_str().unwrap();
        if !file.starts_with(&format!("{name}.")) {
            continue;
        }
        let trace = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = trace.lines().collect();
        let Some(at) = lines
            .iter()
            .rposition(|l| l.starts_with("rename") && l.contains(&target) && l.ends_with("= 0"))
        else {
            continue;
        };
        let calls = lines[at + 1..]
            .iter()
            .filter_map(|l| l.split_once('(').map(|(call, _)| call.to_owned()))
            .collect();
        return Some(calls);
    }
    None
}

/// Issue 17, hole 2 (doc/design.md, Resuming): on exit 3 the state moves to the revealing
/// event, and that write is the last thing the process does: between the
/// rename that replaces the state file and the exit, no directory flush,
/// no close, no join (a futex wait), nothing but the exit itself (and the
/// runtime's unmapping of its signal stack). A kill in a longer window
/// would leave the new state without exit 3 ever being seen, and the next
/// run would not report the gap. Checked in every mode, through strace's
/// record of what the renaming thread did next.
#[test]
fn on_exit_3_the_state_write_is_the_last_thing_before_the_exit() {
    if !crate::harness::strace_can_inject() {
        eprintln!("skipped: strace cannot trace here");
        return;
    }
    let s = setup();
    s.deliver(1..=5);
    rotate_to(&s.log, 1..=3);
    let saved = std::fs::read(&s.state).unwrap();
    let traces = tempfile::tempdir().unwrap();
    for (mode, args) in [
        ("--no-follow", &["--no-follow"][..]),
        ("--count", &["--count", "5"][..]),
        ("following", &[][..]),
        ("following, filtered", &["--family", "nothing"][..]),
    ] {
        std::fs::write(&s.state, &saved).unwrap();
        let prefix = traces.path().join(mode.replace([' ', ','], "_"));
        let out = std::process::Command::new("strace")
            .args(["-ff", "-qq", "-e", "signal=none", "-o"])
            .arg(&prefix)
            .arg(env!("CARGO_BIN_EXE_changelog-tail"))
            .arg("-p")
            .arg(&s.log)
            .arg("--state-file")
            .arg(&s.state)
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3), "{mode}: {}", stderr(&out));
        assert_eq!(s.saved_seq(), Some(3), "{mode}: the state moved to the gap");
        let after = calls_after_renaming_onto(&prefix, &s.state)
            .unwrap_or_else(|| panic!("{mode}: no rename onto the state file"));
        let allowed = ["sigaltstack", "munmap", "exit_group", "exit"];
        assert!(
            after.iter().all(|call| allowed.contains(&call.as_str())),
            "{mode}: after the state write came {after:?}"
        );
        assert_eq!(
            after.last().map(String::as_str),
            Some("exit_group"),
            "{mode}"
        );
    }
}
