//! Each kind of invalid entry: a one-line warning naming file, line and byte
//! offset with the start of the line, then reading goes on.

use crate::harness::{Tail, no_follow, seqs_of};
use crate::writer::{Writer, line};

/// Runs `--no-follow` over lines 1, `bad`, 2 and returns (stdout seqs, stderr).
fn around(bad: &[u8], extra: &[&str]) -> (Vec<i64>, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("change.log");
    let mut content = format!("{}\n", line(1)).into_bytes();
    content.extend_from_slice(bad);
    content.push(b'\n');
    content.extend_from_slice(format!("{}\n", line(2)).as_bytes());
    std::fs::write(&path, &content).unwrap();
    let out = no_follow(&path, extra);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    (seqs_of(&out), String::from_utf8(out.stderr).unwrap())
}

/// The warning is one line that says where and what.
fn assert_warned(stderr: &str, what: &str, start: &str) {
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("changelog-tail: warning: invalid entry at "),
        "{stderr}"
    );
    assert!(stderr.contains("change.log line 2 (byte "), "{stderr}");
    assert!(stderr.contains(what), "{stderr}");
    assert!(stderr.contains(start), "{stderr}");
}

#[test]
fn not_json() {
    let (seqs, stderr) = around(b"hello world", &[]);
    assert_eq!(seqs, [1, 2]);
    assert_warned(&stderr, "expected value", "hello world");
}

#[test]
fn wrong_field_types() {
    let (seqs, stderr) = around(br#"{"seq":"2","family":"f","table":"t"}"#, &[]);
    assert_eq!(seqs, [1, 2]);
    assert_warned(&stderr, "invalid type", r#"{\"seq\":\"2\""#);
}

#[test]
fn seq_missing() {
    let (seqs, stderr) = around(br#"{"family":"f","table":"t"}"#, &[]);
    assert_eq!(seqs, [1, 2]);
    assert_warned(&stderr, "missing field `seq`", "family");
}

#[test]
fn not_utf8() {
    let (seqs, stderr) = around(b"{\"seq\":2,\"family\":\"\xc3\x28\",\"table\":\"t\"}", &[]);
    assert_eq!(seqs, [1, 2]);
    assert_warned(&stderr, "not valid UTF-8", "family");
}

#[test]
fn longer_than_max_line_bytes() {
    let long = format!(r#"{{"seq":2,"family":"{}","table":"t"}}"#, "x".repeat(500));
    let (seqs, stderr) = around(long.as_bytes(), &["--max-line-bytes", "200"]);
    assert_eq!(seqs, [1, 2]);
    assert_warned(&stderr, "longer than 200 bytes", "xxxx");
}

#[test]
fn blank_lines_are_skipped_silently() {
    let (seqs, stderr) = around(b"   ", &[]);
    assert_eq!(seqs, [1, 2]);
    assert!(stderr.is_empty(), "{stderr}");
}

#[test]
fn a_fragment_left_by_a_rotation_is_reported_not_glued() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("change.log");
    let mut writer = Writer::new(&path);
    writer.events(2);
    writer.raw(br#"{"seq":3,"family":"f"#);
    let mut tail = Tail::start(&path, &["--on-out-of-sync", "warn"]);
    assert_eq!(tail.seqs(2), [1, 2]);
    writer.rotate_delete();
    writer.next_seq = 4;
    writer.events(2);
    assert_eq!(tail.seqs(2), [4, 5]);
    let warning = tail.stderr_line("incomplete line");
    assert!(warning.contains("change.log line 3 (byte "), "{warning}");
    assert!(warning.contains(r#"{\"seq\":3"#), "{warning}");
    tail.stderr_line("expected seq 3 but read seq 4");
}

#[test]
fn an_overlong_line_arriving_in_pieces_is_skipped_with_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("change.log");
    let mut writer = Writer::new(&path);
    writer.event();
    let mut tail = Tail::start(&path, &["--max-line-bytes", "1000"]);
    assert_eq!(tail.seqs(1), [1]);
    for _ in 0..50 {
        writer.raw(&[b'x'; 4096]);
    }
    writer.raw(b"\n");
    writer.next_seq = 2;
    writer.event();
    assert_eq!(tail.seqs(1), [2]);
    let warning = tail.stderr_line("longer than 1000 bytes");
    assert!(warning.contains("line 2 (byte "), "{warning}");
}
