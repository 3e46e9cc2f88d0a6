//! Messages on stderr come after the events printed before them: stdout is
//! flushed before anything goes to stderr, so that one terminal (here, one
//! pipe for both, as `2>&1`) shows them in the order they happened.

use crate::harness::binary;
use crate::writer::line;
use std::io::Read;
use std::path::Path;

/// Runs `--no-follow` on `path` with stdout and stderr on one pipe: the
/// exit code and everything written, in the order it was written.
pub fn combined(path: &Path, args: &[&str]) -> (Option<i32>, Vec<String>) {
    let (mut reader, writer) = std::io::pipe().unwrap();
    let mut command = binary();
    command
        .arg("-p")
        .arg(path)
        .arg("--no-follow")
        .args(["--format", "pretty", "--color", "never"])
        .args(args)
        .stdout(writer.try_clone().unwrap())
        .stderr(writer);
    let mut child = command.spawn().unwrap();
    // The command holds the pipe's write end: without dropping it, the
    // read below would never see the end.
    drop(command);
    let mut text = String::new();
    reader.read_to_string(&mut text).unwrap();
    let code = child.wait().unwrap().code();
    (code, text.lines().map(str::to_owned).collect())
}

/// What a line of the combined output is: an event's seq, or a message.
fn shape(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .map(|l| match l.split_once(' ') {
            Some((seq, _)) if seq.parse::<i64>().is_ok() => seq.to_owned(),
            _ if l.starts_with("changelog-tail: warning:") => "warning".to_owned(),
            _ if l.starts_with("changelog-tail:") => "error".to_owned(),
            _ => panic!("neither an event nor a message: {l:?}"),
        })
        .collect()
}

fn changelog(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("change.log");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

#[test]
fn a_warning_comes_after_the_events_before_it() {
    let (_dir, path) = changelog(&format!(
        "{}\n{}\nnot json\n{}\n",
        line(1),
        line(2),
        line(3)
    ));
    let (code, lines) = combined(&path, &[]);
    assert_eq!(code, Some(0));
    assert_eq!(shape(&lines), ["1", "2", "warning", "3"], "{lines:#?}");
}

#[test]
fn out_of_sync_comes_after_the_events_before_it() {
    let (_dir, path) = changelog(&format!("{}\n{}\n{}\n", line(1), line(2), line(4)));
    let (code, lines) = combined(&path, &[]);
    assert_eq!(code, Some(3));
    assert_eq!(shape(&lines), ["1", "2", "error"], "{lines:#?}");
    let (code, lines) = combined(&path, &["--on-out-of-sync", "warn"]);
    assert_eq!(code, Some(0));
    assert_eq!(shape(&lines), ["1", "2", "warning", "4"], "{lines:#?}");
}

#[test]
fn strict_stops_after_the_events_before_it() {
    let (_dir, path) = changelog(&format!("{}\n{{\n{}\n", line(1), line(2)));
    let (code, lines) = combined(&path, &["--strict"]);
    assert_eq!(code, Some(4));
    assert_eq!(shape(&lines), ["1", "error"], "{lines:#?}");
}

#[test]
fn a_missing_table_in_the_ldb_is_said_after_the_rows_before_it() {
    let (dir, path) = changelog(
        &[
            r#"{"seq":1,"family":"f","table":"users","key":[{"name":"id","type":"INTEGER","value":1}]}"#,
            r#"{"seq":2,"family":"f","table":"gone","key":[{"name":"id","type":"INTEGER","value":1}]}"#,
            "",
        ]
        .join("\n"),
    );
    let ldb = dir.path().join("ldb.db");
    rusqlite::Connection::open(&ldb)
        .unwrap()
        .execute_batch(
            "CREATE TABLE f___users (id INTEGER PRIMARY KEY); INSERT INTO f___users VALUES (1);",
        )
        .unwrap();
    let (code, lines) = combined(&path, &["--rows", "--ldb", ldb.to_str().unwrap()]);
    assert_eq!(code, Some(0));
    assert_eq!(shape(&lines), ["1", "warning", "2"], "{lines:#?}");
}
