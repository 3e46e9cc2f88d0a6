//! The habits of `tail`: `-f`, `-q`, `-v` (and `-n`, `--count`).

use crate::harness::{PATIENCE, binary, no_follow, seqs_of, stderr_of, waiting_follower};
use crate::writer::{Writer, line};
use std::io::{BufRead, BufReader};
use std::process::Child;
use std::sync::mpsc::{self, Receiver};

fn changelog(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("change.log");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

/// A follower whose stdout and stderr are one pipe (as on a terminal, or
/// `2>&1`), read line by line on a channel.
struct Combined {
    child: Child,
    lines: Receiver<String>,
}

impl Combined {
    fn start(path: &std::path::Path, args: &[&str]) -> Combined {
        let (reader, writer) = std::io::pipe().unwrap();
        let mut command = binary();
        command
            .arg("-p")
            .arg(path)
            .args(["--format", "pretty", "--color", "never"])
            .args(args)
            .stdout(writer.try_clone().unwrap())
            .stderr(writer);
        let child = command.spawn().unwrap();
        // The command holds the pipe's write end.
        drop(command);
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(reader).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Combined { child, lines }
    }

    fn line(&self) -> String {
        self.lines
            .recv_timeout(PATIENCE)
            .expect("a line within the patience")
    }
}

impl Drop for Combined {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn dash_f_follows_as_the_default_does() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("change.log");
    let (mut writer, mut tail) = waiting_follower(&path, &["-f"], 2);
    writer.event();
    assert_eq!(tail.event().seq, 3);
    writer.rotate_delete();
    writer.event();
    assert_eq!(tail.event().seq, 4);
}

#[test]
fn dash_f_and_no_follow_contradict() {
    let (_dir, path) = changelog(&format!("{}\n", line(1)));
    let out = no_follow(&path, &["-f"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = stderr_of(&out);
    assert!(stderr.contains("--no-follow"), "{stderr}");
}

#[test]
fn quiet_drops_warnings_but_not_errors() {
    let (_dir, path) = changelog(&format!("{}\nnot json\n{}\n", line(1), line(2)));
    let out = no_follow(&path, &["-q"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(seqs_of(&out), [1, 2]);
    assert!(out.stderr.is_empty(), "{}", stderr_of(&out));
    // Without -q, the same run warns.
    assert!(stderr_of(&no_follow(&path, &[])).contains("warning:"));

    let out = no_follow(&path, &["--quiet", "--strict"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(stderr_of(&out).contains("--strict"), "{}", stderr_of(&out));

    let out = binary()
        .args(["-q", "--no-follow", "--path"])
        .arg(path.with_file_name("missing.log"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_of(&out).contains("changelog-tail:"));
}

#[test]
fn quiet_still_says_out_of_sync() {
    let (_dir, path) = changelog(&format!("{}\n{}\n", line(1), line(3)));
    let out = no_follow(&path, &["-q"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr_of(&out).contains("out of sync"),
        "{}",
        stderr_of(&out)
    );
    let out = no_follow(&path, &["-q", "--on-out-of-sync", "warn"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(seqs_of(&out), [1, 3]);
    assert!(
        stderr_of(&out).contains("out of sync"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn quiet_and_verbose_contradict() {
    let (_dir, path) = changelog("");
    assert_eq!(no_follow(&path, &["-q", "-v"]).status.code(), Some(2));
}

#[test]
fn verbose_says_each_rotation_followed_after_the_events_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("change.log");
    let mut writer = Writer::new(&path);
    writer.events(2);
    let tail = Combined::start(&path, &["-v"]);
    assert!(tail.line().starts_with("1 "));
    assert!(tail.line().starts_with("2 "));
    for rotation in 0..3 {
        writer.rotate_delete();
        let seq = writer.event();
        let note = tail.line();
        assert!(
            note.starts_with("changelog-tail: ")
                && note.ends_with("has been replaced; following the new file")
                && note.contains("change.log"),
            "rotation {rotation}: {note:?}"
        );
        let event = tail.line();
        assert!(event.starts_with(&format!("{seq} ")), "{event:?}");
    }
}

#[test]
fn without_verbose_a_rotation_is_followed_silently() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("change.log");
    let (mut writer, mut tail) = waiting_follower(&path, &[], 2);
    writer.rotate_delete();
    writer.event();
    assert_eq!(tail.event().seq, 3);
    tail.signal(libc::SIGTERM);
    let ended = tail.wait_end();
    assert_eq!(ended.code(), Some(143));
    assert!(ended.stderr.is_empty(), "{:?}", ended.stderr);
}

/// `-v` on a follower with `Tail`, as other tests use it: the note is a
/// line of stderr.
#[test]
fn verbose_note_is_one_stderr_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("change.log");
    let (mut writer, mut tail) = waiting_follower(&path, &["--verbose"], 1);
    writer.rotate_delete();
    writer.event();
    assert_eq!(tail.event().seq, 2);
    tail.stderr_line("has been replaced");
}
