//! `-n, --lines N` as `tail -n`: the last N matching events of the current
//! file, then follow (or exit with `--no-follow`); the seq check holds from
//! where reading starts.

use crate::harness::{
    Tail, binary, changelog_with as changelog, no_follow, quiet_seqs as seqs, seqs_of, stderr_of,
};
use crate::writer::{Writer, line, lines};

#[test]
fn the_last_n_events_then_exit_with_no_follow() {
    let (_dir, path) = changelog(&lines(1..=10));
    assert_eq!(seqs(&path, &["-n", "3"]), [8, 9, 10]);
    assert_eq!(seqs(&path, &["--lines", "1"]), [10]);
    assert_eq!(seqs(&path, &["-n", "10"]), (1..=10).collect::<Vec<_>>());
    assert_eq!(
        seqs(&path, &["-n", "1000000000000"]),
        (1..=10).collect::<Vec<_>>()
    );
    assert_eq!(seqs(&path, &["-n", "0"]), Vec::<i64>::new());
}

#[test]
fn the_last_n_matching_events() {
    // Table `table{seq % 5}`: table1 is 1, 6, 11, 16.
    let (_dir, path) = changelog(&lines(1..=20));
    assert_eq!(seqs(&path, &["-n", "2", "--table", "table1"]), [11, 16]);
    assert_eq!(
        seqs(&path, &["-n", "9", "--table", "table1"]),
        [1, 6, 11, 16]
    );
    assert_eq!(
        seqs(&path, &["-n", "2", "--table", "nothing"]),
        Vec::<i64>::new()
    );
    assert_eq!(seqs(&path, &["-n", "3", "--count", "2"]), [18, 19]);
}

/// Lines that are no events (blank, invalid, a partial last line) are not
/// counted; an invalid one after the event before the last N is warned
/// about once, as when reading from the start; the partial last line waits
/// for its end.
#[test]
fn lines_that_are_no_events_are_not_counted() {
    let text = format!(
        "{}\n\n{}\nnot json\n{}\n{}",
        line(1),
        line(2),
        line(3),
        &line(4)[..10]
    );
    let (_dir, path) = changelog(&text);
    let out = no_follow(&path, &["-n", "2"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(seqs_of(&out), [2, 3]);
    let stderr = stderr_of(&out);
    assert_eq!(stderr.matches("warning:").count(), 1, "{stderr}");
    assert!(stderr.contains("line 4"), "{stderr}");
    // Reading starts just after the event before the last N: an invalid
    // line between them is read (and said) again.
    let out = no_follow(&path, &["-n", "1"]);
    assert_eq!(seqs_of(&out), [3]);
    assert!(stderr_of(&out).contains("line 4"), "{}", stderr_of(&out));
}

/// The first of the N is checked against the event before it, and every
/// later one against its predecessor: a gap is out of sync.
#[test]
fn the_seq_check_holds_from_where_reading_starts() {
    let text = format!("{}{}", lines(1..=5), lines(7..=8));
    let (_dir, path) = changelog(&text);
    let out = no_follow(&path, &["-n", "2"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr_of(&out).contains("out of sync"),
        "{}",
        stderr_of(&out)
    );
    let out = no_follow(&path, &["-n", "3"]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(seqs_of(&out), [5]);
    assert_eq!(seqs(&path, &["-n", "1"]), [8]);
}

#[test]
fn then_follows_new_events_and_rotations() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("change.log");
    let mut writer = Writer::new(&path);
    writer.events(10);
    let mut tail = Tail::start(&path, &["-n", "2"]);
    assert_eq!(tail.seqs(2), [9, 10]);
    tail.wait_until_waiting(&path);
    writer.event();
    assert_eq!(tail.event().seq, 11);
    writer.rotate_delete();
    writer.event();
    assert_eq!(tail.event().seq, 12);
}

/// `-n 0` prints only what comes; the last line is the baseline, so a gap
/// right after it is seen.
#[test]
fn zero_is_only_new_events_with_the_last_line_as_baseline() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("change.log");
    let mut writer = Writer::new(&path);
    writer.events(5);
    let mut tail = Tail::start(&path, &["-n", "0"]);
    tail.wait_until_waiting(&path);
    writer.event();
    assert_eq!(tail.event().seq, 6);
    writer.write_line(&line(8));
    let ended = tail.wait_end();
    assert_eq!(ended.code(), Some(3));
}

#[test]
fn refused_with_other_starts_and_on_a_pipe() {
    let (_dir, path) = changelog(&lines(1..=3));
    let state = path.with_file_name("state");
    for args in [
        &["-n", "2", "--from", "end"][..],
        &["-n", "2", "--from", "start"][..],
        &["-n", "2", "--after-seq", "1"][..],
        &["-n", "2", "--state-file", state.to_str().unwrap()][..],
    ] {
        let out = no_follow(&path, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stderr_of(&out).contains("--lines"), "{}", stderr_of(&out));
    }
    let out = binary()
        .args(["--path", "-", "-n", "2"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("pipe"), "{}", stderr_of(&out));
    let out = no_follow(&path, &["-n", "-1"]);
    assert_eq!(out.status.code(), Some(2));
}

/// `--count` is the old `-n`: long form only.
#[test]
fn count_is_long_only() {
    let (_dir, path) = changelog(&lines(1..=5));
    assert_eq!(seqs(&path, &["--count", "2"]), [1, 2]);
}
