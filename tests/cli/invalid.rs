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

#[test]
fn a_hostile_line_of_megabytes_makes_a_short_warning_and_no_memory_peak() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("change.log");
    let mut writer = Writer::new(&path);
    writer.events(1);
    let huge = "\\u0085".repeat(700_000); // 4.2 MB of escapes
    for bad in [
        format!(r#"{{"seq":"{huge}","family":"f","table":"t"}}"#),
        format!(r#"{{"seq":2,"family":"f","table":"t","key":["{huge}"]}}"#),
        format!(r#""{huge}""#),
    ] {
        writer.raw(format!("{bad}\n").as_bytes());
    }
    let mut tail = Tail::start(&path, &[]);
    writer.next_seq = 2;
    writer.events(1);
    assert_eq!(tail.seqs(2), [1, 2]);
    let warnings: Vec<String> = (0..3).map(|_| tail.stderr_line("invalid entry")).collect();
    for warning in &warnings {
        assert!(
            warning.len() < 600,
            "{} bytes: {}…",
            warning.len(),
            &warning[..200]
        );
    }
    let status = std::fs::read_to_string(format!("/proc/{}/status", tail.pid())).unwrap();
    let peak_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").parse().ok())
        .unwrap();
    // The line itself (4.2 MB, held in a buffer that grew to hold it) plus
    // a constant: 10.5 MB measured. Before, serde's message quoted the
    // decoded string, escaped: 18.6 MB.
    assert!(peak_kib < 14 * 1024, "peak resident set {peak_kib} KiB");
}

#[test]
fn paths_in_messages_cannot_drive_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x\u{1b}[2J\nchangelog-tail: forged.log");
    let out = crate::harness::no_follow(&path, &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr:?}");
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
    assert!(
        stderr.contains("x\\u{1b}[2J\\u{a}changelog-tail: forged.log"),
        "{stderr:?}"
    );
}

#[test]
fn each_cause_is_said_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("change.log");
    std::fs::write(&path, "").unwrap();
    let state = dir.path().join("state.json");
    std::fs::write(&state, "{\"version\":2,").unwrap();
    let out = crate::harness::no_follow(&path, &["--state-file", state.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("is corrupt: EOF while parsing"), "{stderr}");
    assert_eq!(stderr.matches("EOF while parsing").count(), 1, "{stderr}");
}
