//! `--path -`: a changelog read from standard input (`ssh host tail -F … |
//! changelog-tail --path -`), with every rule that needs no file.

use crate::harness::{Tail, binary, run_fed, seqs_of, spawn_piped};
use crate::writer::{line, lines};
use std::io::Write;
use std::process::{ChildStdin, Command};

/// The binary reading its stdin, with `args`.
fn command(args: &[&str]) -> Command {
    let mut command = binary();
    command.args(["--path", "-"]).args(args);
    command
}

/// A finished run fed `input` on stdin.
fn run(args: &[&str], input: &[u8]) -> std::process::Output {
    let input = input.to_vec();
    run_fed(command(args), move |stdin| {
        let _ = stdin.write_all(&input);
    })
}

fn write(stdin: &mut ChildStdin, text: &str) {
    stdin.write_all(text.as_bytes()).unwrap();
    stdin.flush().unwrap();
}

#[test]
fn events_come_out_as_they_arrive_and_the_end_of_input_ends_the_run() {
    let (mut tail, mut stdin) = Tail::spawn_with_stdin(command(&[]));
    for seq in 1..=3 {
        write(&mut stdin, &lines([seq]));
        assert_eq!(
            tail.seqs(1),
            [seq],
            "each line at once, not when the input ends"
        );
    }
    // Half a line is held until its newline comes.
    let third = line(4);
    let (head, rest) = third.split_at(10);
    write(&mut stdin, head);
    write(&mut stdin, &format!("{rest}\n"));
    assert_eq!(tail.seqs(1), [4]);
    drop(stdin);
    let ended = tail.wait_end();
    assert_eq!(ended.code(), Some(0), "{}", ended.stderr_text());
    assert!(ended.stderr.is_empty(), "{:?}", ended.stderr);
}

#[test]
fn a_gap_is_out_of_sync() {
    let out = run(&[], lines([1, 2, 5]).as_bytes());
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(seqs_of(&out), [1, 2]);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("expected seq 3 but read seq 5 at <stdin> line 3"),
        "{stderr}"
    );
}

#[test]
fn filters_keys_count_and_after_seq() {
    // line(seq) has family fam{seq % 3}, table table{seq % 5}.
    let input = lines(1..=20);
    assert_eq!(
        seqs_of(&run(&["--family", "fam0"], input.as_bytes())),
        [3, 6, 9, 12, 15, 18]
    );
    assert_eq!(seqs_of(&run(&["--key", "id=7"], input.as_bytes())), [7]);
    let counted = run(&["--count", "2"], input.as_bytes());
    assert_eq!(counted.status.code(), Some(0));
    assert_eq!(seqs_of(&counted), [1, 2]);
    assert_eq!(
        seqs_of(&run(&["--after-seq", "17"], input.as_bytes())),
        [18, 19, 20]
    );
    let short = run(&["--after-seq", "30"], input.as_bytes());
    assert_eq!(short.status.code(), Some(3), "the input ends before seq 30");
}

#[test]
fn invalid_entries_are_located_and_strict_stops() {
    let input = format!("{}garbage\n{}", lines([1]), lines([2]));
    let out = run(&[], input.as_bytes());
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(seqs_of(&out), [1, 2]);
    let stderr = String::from_utf8(out.stderr).unwrap();
    let offset = line(1).len() + 1;
    assert!(
        stderr.contains(&format!("invalid entry at <stdin> line 2 (byte {offset})")),
        "{stderr}"
    );
    let strict = run(&["--strict"], input.as_bytes());
    assert_eq!(strict.status.code(), Some(4));
}

#[test]
fn a_last_line_without_newline_is_an_invalid_entry() {
    let input = format!("{}{}", lines([1]), line(2));
    let out = run(&[], input.as_bytes());
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(seqs_of(&out), [1]);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("ended in the middle of a line"), "{stderr}");
    assert!(stderr.contains("<stdin> line 2"), "{stderr}");
}

#[test]
fn raw_and_pretty() {
    let input = lines([1]);
    let raw = run(&["--raw"], input.as_bytes());
    assert_eq!(raw.stdout, input.as_bytes());
    let pretty = run(
        &["--format", "pretty", "--color", "never"],
        input.as_bytes(),
    );
    assert_eq!(
        String::from_utf8(pretty.stdout).unwrap(),
        "1 fam1.table1 id=1\n"
    );
}

#[test]
fn signals_end_a_run_blocked_on_its_input() {
    for (signal, code) in [(libc::SIGINT, 130), (libc::SIGTERM, 143)] {
        let (mut tail, mut stdin) = Tail::spawn_with_stdin(command(&[]));
        write(&mut stdin, &lines([1]));
        assert_eq!(tail.seqs(1), [1]);
        tail.signal(signal);
        assert_eq!(tail.wait_end().code(), Some(code));
    }
}

#[test]
fn a_reader_that_goes_away_is_a_clean_end() {
    let mut child = spawn_piped(command(&[]));
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    write(&mut stdin, &lines([1]));
    let mut first = [0u8; 8];
    std::io::Read::read_exact(&mut stdout, &mut first).unwrap();
    drop(stdout);
    // Enough to fill any buffer: the write fails with a broken pipe.
    let _ = stdin.write_all(lines(2..=50_000).as_bytes());
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn options_that_need_a_file_are_usage_errors() {
    for (args, why) in [
        (&["--state-file", "st"][..], "--state-file"),
        (&["--wait"][..], "--wait"),
        (&["--poll", "1s"][..], "--poll"),
        (&["--from", "end"][..], "--from end"),
    ] {
        let out = run(args, b"");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.contains(why) && stderr.contains("pipe"), "{stderr}");
    }
}

/// The same input, read from a file to its end and from a pipe, gives the
/// same output, exit status and messages (but for the input's name), in
/// each mode: a pipe is one more source, held to the same rules.
#[test]
fn a_pipe_reads_as_a_file_does_in_every_mode() {
    let inputs = [
        lines(1..=8),
        lines([1, 2, 5, 6]),
        format!("{}garbage\n\n{}", lines(1..=2), lines(3..=4)),
        format!("{}{}", lines(1..=3), lines(1..=2)),
        // The last event's line, needed at the end (--after-seq 30), lies
        // far more than a read buffer back.
        format!(
            "{}{}",
            lines(1..=3),
            (0..4000)
                .map(|i| format!("not an event {i:>88}\n"))
                .collect::<String>()
        ),
    ];
    let modes: [&[&str]; 6] = [
        &[],
        &["--family", "fam0"],
        &["--after-seq", "2"],
        &["--after-seq", "30"],
        &["--count", "2"],
        &["--strict"],
    ];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("change.log");
    for input in &inputs {
        std::fs::write(&path, input).unwrap();
        for args in modes {
            let file = crate::harness::no_follow(&path, args);
            let pipe = run(args, input.as_bytes());
            let name = path.display().to_string();
            let file_stderr = String::from_utf8_lossy(&file.stderr).replace(&name, "<stdin>");
            assert_eq!(
                (file.status.code(), &file.stdout, file_stderr.as_str()),
                (
                    pipe.status.code(),
                    &pipe.stdout,
                    &*String::from_utf8_lossy(&pipe.stderr)
                ),
                "{args:?} on {input:?}"
            );
        }
    }
}

/// Issue 17, hole 1: a pipe has no end of the current file, so a resume
/// (`--after-seq N`) still short of N when the input has been idle for a
/// second is out of sync (the README on pipes), as a file whose events end before N is.
/// Here a restarted writer's `5..=10` come and the input then stays open and
/// idle: every mode that reads a pipe reports it, instead of waiting for
/// N + 1 and dropping the restarted writer's events in silence.
#[test]
fn a_resume_short_of_its_point_on_an_idle_pipe_is_out_of_sync() {
    let modes: [&[&str]; 4] = [
        &[],
        &["--count", "3"],
        &["--no-follow"],
        &["--family", "fam0"],
    ];
    for args in modes {
        let mut command = command(&["--after-seq", "1000"]);
        command.args(args);
        let (mut tail, mut stdin) = Tail::spawn_with_stdin(command);
        write(&mut stdin, &lines(5..=10));
        // The input stays open (a writer that has gone quiet): the run must
        // end by itself, with the gap said.
        let ended = tail.wait_end();
        drop(stdin);
        assert_eq!(ended.code(), Some(3), "{args:?}: {}", ended.stderr_text());
        assert!(
            ended
                .stderr_text()
                .contains("resuming after seq 1000, but the changelog ends at seq 10"),
            "{args:?}: {}",
            ended.stderr_text()
        );
    }
    // Warned instead: the revealing event is printed, and the restarted
    // writer's next events follow it rather than being skipped.
    let (mut tail, mut stdin) = Tail::spawn_with_stdin(command(&[
        "--after-seq",
        "1000",
        "--on-out-of-sync",
        "warn",
    ]));
    write(&mut stdin, &lines(5..=10));
    assert_eq!(tail.seqs(1), [10]);
    tail.stderr_line("resuming after seq 1000");
    write(&mut stdin, &lines(11..=13));
    assert_eq!(tail.seqs(3), [11, 12, 13]);
    drop(stdin);
    assert_eq!(tail.wait_end().code(), Some(0));
}
