//! Edges of resuming found by trying to break it: a fingerprint carried
//! across a rotation, a pipe that pauses before the resume point, a state
//! taken before any event on a reused inode, a long line still being
//! written, a poll interval that rounds to nothing.

use crate::harness::{Tail, binary, run_fed, seqs_of, stderr_of};
use crate::resume::{Setup, setup};
use crate::writer::{line, lines};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use std::time::Duration;

/// A line of another table: the same seq as `line(seq)`, a different line
/// (what a restarted writer writes under an old number).
fn other_line(seq: i64) -> String {
    format!(
        r#"{{"seq":{seq},"family":"restarted","table":"t","key":[{{"name":"id","type":"INT","value":{seq}}}]}}"#
    )
}

/// Waits until a SIGUSR1 status line names the file now at `path` (the
/// follower has moved on to it).
fn wait_until_reading(tail: &mut Tail, path: &Path) {
    let ino = std::fs::metadata(path).unwrap().ino();
    let needle = format!("inode {ino})");
    let deadline = std::time::Instant::now() + crate::harness::PATIENCE;
    loop {
        tail.signal(libc::SIGUSR1);
        while let Some(line) = tail.try_stderr_line(Duration::from_millis(200)) {
            if line.contains("status:") && line.contains(&needle) {
                return;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never moved to {path:?}: {:?}",
            tail.stderr_so_far()
        );
    }
}

/// `--path -` with `--after-seq N`: a pipe that is empty for a moment in
/// the middle of the run up to N (an ssh link, `cat` of a large file racing
/// the reader) is not the end of the changelog: nothing is reported, the
/// events after N come out. (The pause is the scenario, not a wait.)
#[test]
fn a_pause_in_a_pipe_before_the_after_seq_point_is_not_out_of_sync() {
    let mut command = binary();
    command.args(["--path", "-", "--after-seq", "10"]);
    let out = run_fed(command, |stdin| {
        let _ = stdin.write_all(lines(1..=5).as_bytes());
        let _ = stdin.flush();
        std::thread::sleep(Duration::from_millis(500));
        let _ = stdin.write_all(lines(6..=12).as_bytes());
    });
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(seqs_of(&out), [11, 12]);
}

/// The following run `tail` (positioned after seq 5, having read no event
/// itself) sees a rotation to a file holding half a line and is stopped;
/// the writer then restarts in a new file (numbering from 1, other
/// lines): the next run must say so (exit 3), which it can only by seq 5's
/// fingerprint, carried across the rotation in the state.
fn rotation_to_a_half_line_then_a_restart_is_reported(s: &Setup, mut tail: Tail) {
    tail.wait_until_waiting(&s.log);
    // The writer rotates and is killed mid-way through its first line.
    std::fs::remove_file(&s.log).unwrap();
    std::fs::write(&s.log, &line(6)[..10]).unwrap();
    wait_until_reading(&mut tail, &s.log);
    tail.signal(libc::SIGTERM);
    assert_eq!(tail.wait_end().code(), Some(143));
    assert_eq!(s.state()["seq"], 5);
    // The writer restarts: a new file, numbering from 1, other lines.
    std::fs::remove_file(&s.log).unwrap();
    let restarted: String = (1..=8).map(|s| format!("{}\n", other_line(s))).collect();
    std::fs::write(&s.log, restarted).unwrap();
    let out = s.run(&["--no-follow"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "the restarted writer's seqs 1..=5 were skipped silently; printed {:?}; state was {}",
        seqs_of(&out),
        s.state()
    );
}

/// After a run that resumed in place and read nothing new.
#[test]
fn a_rotation_before_the_first_event_of_a_resumed_run_keeps_the_fingerprint() {
    let s = setup();
    std::fs::write(&s.log, lines(1..=5)).unwrap();
    let out = s.run(&["--no-follow"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert!(s.state()["line_hash"].is_string());
    rotation_to_a_half_line_then_a_restart_is_reported(&s, Tail::spawn(s.command(&[])));
}

/// After a first run that started `--from end`.
#[test]
fn from_end_then_a_rotation_to_a_half_line_keeps_the_fingerprint() {
    let s = setup();
    std::fs::write(&s.log, lines(1..=5)).unwrap();
    rotation_to_a_half_line_then_a_restart_is_reported(
        &s,
        Tail::spawn(s.command(&["--from", "end"])),
    );
}

/// A state taken before any event (`"end":0`, no seq) has no line to
/// fingerprint, so (device, inode) alone would have to prove it. On
/// a filesystem that keeps no birth time (the state then has no `born`:
/// ext2/3, ext4 with 128-byte inodes, many FUSE and network filesystems),
/// a new file that got the old inode number (ext4 reuses them at once) is
/// taken for the old one, and the events of the files in between would be
/// lost with exit 0: so identity alone is no proof. Simulated here by the
/// state such a filesystem leaves (no `born`) and the new file's inode
/// number, as
/// `a_new_file_that_reuses_the_old_inode_number_is_not_taken_for_the_old_one`
/// does.
#[test]
fn a_state_before_any_event_is_not_proven_by_a_reused_inode_number() {
    let s = setup();
    std::fs::write(&s.log, "").unwrap();
    let out = s.run(&["--no-follow"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(s.state()["end"], 0);
    // While nobody reads: events, and a rotation.
    std::fs::write(&s.log, lines(1..=4)).unwrap();
    std::fs::remove_file(&s.log).unwrap();
    std::fs::write(&s.log, lines(5..=8)).unwrap();
    let meta = std::fs::metadata(&s.log).unwrap();
    let mut state = s.state();
    state["dev"] = meta.dev().into();
    state["ino"] = meta.ino().into();
    state.as_object_mut().unwrap().remove("born");
    std::fs::write(&s.state, serde_json::to_vec(&state).unwrap()).unwrap();
    let out = s.run(&["--no-follow"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "1..=4 lost without a report; printed {:?}",
        seqs_of(&out)
    );
}

/// `--no-follow` with a last line still being written that is already past
/// `--max-line-bytes`: not an entry yet, so no warning (the next run, which
/// reads it again from before it, warns once it is complete): one line,
/// one warning.
#[test]
fn no_follow_says_nothing_of_a_long_line_still_being_written() {
    let s = setup();
    let long_head = format!(
        r#"{{"seq":3,"family":"fam","table":"t","key":[{{"name":"id","type":"TEXT","value":"{}"#,
        "x".repeat(200)
    );
    std::fs::write(&s.log, format!("{}{long_head}", lines(1..=2))).unwrap();
    let out = s.run(&["--no-follow", "--max-line-bytes", "150"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(seqs_of(&out), [1, 2]);
    assert_eq!(
        stderr_of(&out),
        "",
        "a line still being written is not an entry yet: no warning"
    );
}

/// `--poll` refuses an interval that rounds to nothing (it would poll
/// without sleeping: a core spun at 100% while idle), not only zero.
#[test]
fn a_poll_interval_that_rounds_to_zero_is_refused() {
    let s = setup();
    std::fs::write(&s.log, lines(1..=1)).unwrap();
    let out = binary()
        .arg("-p")
        .arg(&s.log)
        .args(["--no-follow", "--poll", "0.0000000001"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
}
