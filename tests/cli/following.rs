//! Following across each kind of rotation, partial lines, a missing file,
//! polling, and idleness.

use crate::harness::{self, Tail};
use crate::writer::{Writer, line};
use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::time::{Duration, Instant};

fn setup() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("change.log");
    (dir, path)
}

#[test]
fn delete_and_recreate_rotation() {
    let (_dir, path) = setup();
    let mut writer = Writer::new(&path);
    writer.events(3);
    let mut tail = Tail::start(&path, &[]);
    assert_eq!(tail.seqs(3), [1, 2, 3]);
    writer.rotate_delete();
    writer.events(3);
    assert_eq!(tail.seqs(3), [4, 5, 6]);
}

#[test]
fn the_file_missing_for_a_moment_while_it_rotates() {
    let (_dir, path) = setup();
    let mut writer = Writer::new(&path);
    writer.events(2);
    let mut tail = Tail::start(&path, &[]);
    assert_eq!(tail.seqs(2), [1, 2]);
    let before = harness::wakeups(tail.pid());
    fs::remove_file(&path).unwrap();
    // The follower notices the deletion and goes back to sleep on the old
    // file; only then does the new one appear.
    wait_for(|| harness::wakeups(tail.pid()) > before && harness::main_thread_sleeps(tail.pid()));
    writer.reopen();
    writer.events(2);
    assert_eq!(tail.seqs(2), [3, 4]);
}

#[test]
fn rename_rotation_keeps_the_lines_written_to_the_old_file() {
    let (dir, path) = setup();
    let mut writer = Writer::new(&path);
    writer.events(3);
    let mut tail = Tail::start(&path, &[]);
    assert_eq!(tail.seqs(3), [1, 2, 3]);
    fs::rename(&path, dir.path().join("change.log.1")).unwrap();
    // The writer has not reopened yet: this goes to the renamed file.
    writer.event();
    writer.reopen();
    writer.events(2);
    assert_eq!(tail.seqs(3), [4, 5, 6]);
}

#[test]
fn copy_truncate_rotation() {
    let (_dir, path) = setup();
    let mut writer = Writer::new(&path);
    writer.events(5);
    let mut tail = Tail::start(&path, &[]);
    assert_eq!(tail.seqs(5), [1, 2, 3, 4, 5]);
    writer.truncate();
    writer.event();
    assert_eq!(tail.seqs(1), [6]);
    writer.events(10);
    assert_eq!(tail.seqs(10), (7..=16).collect::<Vec<_>>());
    let said = tail.stderr_line("was truncated");
    assert!(said.starts_with("changelog-tail: warning: "), "{said}");
    assert_eq!(tail.stderr_so_far().len(), 1, "{:?}", tail.stderr_so_far());
}

fn repoint(link: &Path, target: &Path) {
    let tmp = link.with_extension("tmp-link");
    symlink(target, &tmp).unwrap();
    fs::rename(&tmp, link).unwrap();
}

#[test]
fn a_symlink_re_pointed_to_a_file_in_another_directory() {
    let (dir, link) = setup();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    fs::create_dir(&a).unwrap();
    fs::create_dir(&b).unwrap();
    let mut first = Writer::new(&a.join("real.log"));
    first.events(3);
    symlink(a.join("real.log"), &link).unwrap();
    let mut tail = Tail::start(&link, &[]);
    assert_eq!(tail.seqs(3), [1, 2, 3]);

    // Re-pointed to an empty file: its lines arrive later, in a directory
    // the follower was not watching before.
    let mut second = Writer::new(&b.join("real.log"));
    second.next_seq = 4;
    repoint(&link, &b.join("real.log"));
    second.events(2);
    assert_eq!(tail.seqs(2), [4, 5]);
    second.events(1);
    assert_eq!(tail.seqs(1), [6]);
}

#[test]
fn a_line_written_in_two_halves_500ms_apart_is_one_event() {
    let (_dir, path) = setup();
    let mut writer = Writer::new(&path);
    writer.event();
    let mut tail = Tail::start(&path, &[]);
    assert_eq!(tail.seqs(1), [1]);
    let full = format!("{}\n", line(2));
    let (head, rest) = full.as_bytes().split_at(full.len() / 2);
    writer.raw(head);
    let started = Instant::now();
    tail.wait_until_waiting(&path);
    let half_a_second = Duration::from_millis(500).saturating_sub(started.elapsed());
    std::thread::sleep(half_a_second); // the gap the writer leaves, not a sync
    writer.raw(rest);
    writer.next_seq = 3;
    writer.event();
    assert_eq!(tail.seqs(2), [2, 3]);
    assert!(
        tail.stderr_so_far().is_empty(),
        "{:?}",
        tail.stderr_so_far()
    );
}

#[test]
fn waits_for_a_missing_file_and_its_directory_with_wait() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("spool");
    let path = sub.join("change.log");
    let mut tail = Tail::start(&path, &["--wait"]);
    let started = Instant::now();
    // Longer than the default 1 s grace: --wait must not give up.
    wait_for(|| started.elapsed() > Duration::from_millis(1200));
    fs::create_dir(&sub).unwrap();
    let mut writer = Writer::new(&path);
    writer.events(2);
    assert_eq!(tail.seqs(2), [1, 2]);
}

#[test]
fn polling_follows_without_notifications() {
    let (_dir, path) = setup();
    let mut writer = Writer::new(&path);
    writer.event();
    let mut tail = Tail::start(&path, &["--poll", "20ms"]);
    assert_eq!(tail.seqs(1), [1]);
    writer.rotate_delete();
    writer.events(2);
    assert_eq!(tail.seqs(2), [2, 3]);
}

#[test]
fn idle_following_has_no_wake_ups() {
    let (_dir, path) = setup();
    let (mut writer, mut tail) = harness::waiting_follower(&path, &[], 3);
    // Steady state: on a loaded machine a helper thread may only now get to
    // its first wait.
    let before = harness::settled_wakeups(tail.pid());
    std::thread::sleep(Duration::from_secs(1)); // the window measured
    let after = harness::wakeups(tail.pid());
    assert_eq!(after, before, "threads woke up while nothing changed");
    // And it is still following.
    writer.event();
    assert_eq!(tail.seqs(1), [4]);
}

#[test]
fn from_end_prints_only_new_lines_and_checks_them_against_the_last() {
    let (_dir, path) = setup();
    let mut writer = Writer::new(&path);
    writer.events(3);
    let mut tail = Tail::start(&path, &["--from", "end"]);
    tail.wait_until_waiting(&path);
    writer.events(1);
    assert_eq!(tail.seqs(1), [4]);
    writer.next_seq = 9;
    writer.event();
    let ended = tail.wait_end();
    assert_eq!(ended.code(), Some(3), "{:?}", ended.stderr);
    assert!(
        ended
            .stderr_text()
            .contains("expected seq 5 but read seq 9")
    );
}

/// Waits (yielding, with a deadline) until `condition` holds.
fn wait_for(condition: impl Fn() -> bool) {
    let deadline = Instant::now() + harness::PATIENCE;
    while !condition() {
        assert!(Instant::now() < deadline, "condition never held");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn a_file_that_appears_within_the_grace_second_is_followed() {
    let (_dir, path) = setup();
    let mut tail = Tail::start(&path, &[]);
    let pid = tail.pid();
    wait_for(|| harness::has_thread(pid, "signals") && harness::main_thread_sleeps(pid));
    let mut writer = Writer::new(&path);
    writer.events(2);
    assert_eq!(tail.seqs(2), [1, 2]);
}

#[test]
fn a_copy_truncate_that_regrows_past_the_offset_does_not_splice_lines() {
    let (_dir, path) = setup();
    let mut writer = Writer::new(&path);
    writer.events(3);
    let fourth = format!("{}\n", line(4));
    writer.raw(&fourth.as_bytes()[..fourth.len() / 2]);
    let mut tail = Tail::start(&path, &["--on-out-of-sync", "warn"]);
    assert_eq!(tail.seqs(3), [1, 2, 3]);
    // Asleep holding the head of line 4 at the end of the file.
    tail.wait_until_waiting(&path);
    // Truncated and rewritten past the old offset before the follower
    // looks: the bytes after its offset are now the tail of line 8, which
    // glued to the head of line 4 would make a valid line with 8's key.
    writer.truncate();
    writer.next_seq = 5;
    let lines: String = (5..=8).map(|seq| format!("{}\n", line(seq))).collect();
    writer.raw(lines.as_bytes());
    for seq in 5..=8 {
        let event = tail.event();
        assert_eq!(event.seq, seq);
        assert_eq!(event.row_update.keys[0].value.json(), seq.to_string());
    }
    tail.stderr_line("incomplete line");
    tail.stderr_line("was truncated");
    tail.stderr_line("expected seq 4 but read seq 5");
}

#[test]
fn a_file_truncated_and_rewritten_to_the_same_size_is_read_again() {
    let (_dir, path) = setup();
    let (mut writer, mut tail) = harness::waiting_follower(&path, &["--on-out-of-sync", "warn"], 3);
    // Same line lengths: the file ends up exactly as long as before, so its
    // size says nothing; its last bytes do.
    let before = fs::metadata(&path).unwrap().len();
    writer.truncate();
    writer.events(3);
    assert_eq!(fs::metadata(&path).unwrap().len(), before);
    assert_eq!(tail.seqs(3), [4, 5, 6]);
    tail.stderr_line("was truncated");
}

/// Lines of tables the filter hides are checked straight from the read
/// buffer while following too: a gap among them is told, with its seqs.
#[test]
fn a_gap_in_a_table_the_filter_hides_is_told_while_following() {
    let (_dir, path) = setup();
    let mut writer = Writer::new(&path);
    writer.events(3);
    // line(seq) has family fam{seq % 3}: fam0 is seqs 3, 6, 9, …
    let mut tail = Tail::start(&path, &["--family", "fam0"]);
    assert_eq!(tail.seqs(1), [3]);
    writer.events(300);
    assert_eq!(tail.seqs(100), (6..=303).step_by(3).collect::<Vec<_>>());
    // In one write, so that the gap is met among lines already read (not
    // as the first line after a wake-up): 306 to 312 are lost, 313 is of
    // fam1.
    writer.raw(crate::writer::lines([304, 305, 313]).as_bytes());
    let ended = tail.wait_end();
    assert_eq!(ended.code(), Some(3), "{}", ended.stderr_text());
    assert!(
        ended
            .stderr_text()
            .contains("expected seq 306 but read seq 313"),
        "{}",
        ended.stderr_text()
    );
}
