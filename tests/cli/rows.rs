//! `--rows`: each printed event with its row from a real LDB (SQLite in
//! WAL mode, next to the changelog, as ctlstore keeps it).

use crate::harness::{Tail, binary, no_follow, stderr_of};
use rusqlite::Connection;
use serde_json::Value;
use std::path::PathBuf;

/// A directory with `change.log` and `ldb.db`, and the LDB writer's
/// connection (kept open, as ctlstore's reflector keeps it).
struct Host {
    dir: tempfile::TempDir,
    log: PathBuf,
    ldb: PathBuf,
    db: Connection,
}

const SCHEMA: &str = "
    CREATE TABLE f___users (id INTEGER PRIMARY KEY, email VARCHAR(191), score REAL,
                            avatar BLOB, note TEXT);
    INSERT INTO f___users VALUES (1, 'one@example.com', 0.5, x'00ff', NULL);
    INSERT INTO f___users VALUES (2, 'two@example.com', 2.0, NULL, 'x');
    INSERT INTO f___users VALUES (3, 'evil', 0, NULL, char(27) || '[2J' || char(8238) || char(155));
    CREATE TABLE f___bad (id INTEGER PRIMARY KEY, note TEXT);
    INSERT INTO f___bad VALUES (1, CAST(x'ff' AS TEXT));
";

impl Host {
    fn new() -> Host {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("change.log");
        let ldb = dir.path().join("ldb.db");
        let db = crate::harness::wal_ldb(&ldb, SCHEMA);
        std::fs::write(&log, "").unwrap();
        Host { dir, log, ldb, db }
    }

    /// Appends events: (seq, table, key value).
    fn events(&self, events: &[(i64, &str, i64)]) {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.log)
            .unwrap();
        for (seq, table, id) in events {
            writeln!(
                file,
                r#"{{"seq":{seq},"family":"f","table":"{table}","key":[{{"name":"id","type":"INTEGER","value":{id}}}]}}"#
            )
            .unwrap();
        }
    }

    /// A one-shot run with `--rows --ldb <ldb>` and `args`.
    fn run(&self, args: &[&str]) -> std::process::Output {
        let ldb = self.ldb.to_str().unwrap();
        let mut all = vec!["--rows", "--ldb", ldb];
        all.extend_from_slice(args);
        no_follow(&self.log, &all)
    }
}

fn lines(out: &std::process::Output) -> Vec<String> {
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn json(line: &str) -> Value {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
}

#[test]
fn ndjson_gets_the_row_as_a_last_field_and_null_for_a_deleted_one() {
    let host = Host::new();
    host.db
        .execute("DELETE FROM f___users WHERE id = 2", [])
        .unwrap();
    host.events(&[(1, "users", 1), (2, "users", 2)]);
    let out = host.run(&[]);
    let lines = lines(&out);
    assert_eq!(lines.len(), 2);
    // The event as without --rows, then the row: the last field.
    let (event, row) = lines[0].split_once(r#","row":"#).unwrap();
    assert_eq!(
        format!("{event}}}"),
        String::from_utf8(no_follow(&host.log, &["--count", "1"]).stdout)
            .unwrap()
            .trim_end()
    );
    assert_eq!(
        row,
        r#"{"id":1,"email":"one@example.com","score":0.5,"avatar":"AP8=","note":null}}"#
    );
    let found = json(&lines[0]);
    assert_eq!(found["row"]["email"], "one@example.com");
    assert_eq!(found["seq"], 1);
    let deleted = json(&lines[1]);
    assert_eq!(deleted.get("row"), Some(&Value::Null));
    assert_eq!(stderr_of(&out), "");
}

#[test]
fn a_missing_table_is_null_and_warned_about_once() {
    let host = Host::new();
    host.events(&[
        (1, "nope", 1),
        (2, "users", 1),
        (3, "nope", 2),
        (4, "NOPE", 3),
    ]);
    let out = host.run(&[]);
    let lines = lines(&out);
    let rows: Vec<Value> = lines.iter().map(|l| json(l)["row"].clone()).collect();
    assert_eq!(rows[0], Value::Null);
    assert_eq!(rows[1]["id"], 1);
    assert_eq!((&rows[2], &rows[3]), (&Value::Null, &Value::Null));
    let stderr = stderr_of(&out);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("changelog-tail: warning: LDB ") && stderr.contains("no table f___nope"),
        "{stderr}"
    );
}

#[test]
fn a_failed_lookup_prints_the_event_without_row_and_says_why() {
    let host = Host::new();
    // Text that is not UTF-8 in the row; a key column the table lacks.
    host.events(&[(1, "bad", 1), (2, "users", 1)]);
    {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&host.log)
            .unwrap();
        writeln!(
            file,
            r#"{{"seq":3,"family":"f","table":"users","key":[{{"name":"nick","type":"VARCHAR","value":"x"}}]}}"#
        )
        .unwrap();
    }
    let out = host.run(&[]);
    let events: Vec<Value> = lines(&out).iter().map(|l| json(l)).collect();
    assert_eq!(events.len(), 3);
    assert!(events[0].get("row").is_none(), "{:?}", events[0]);
    assert_eq!(events[1]["row"]["id"], 1);
    assert!(events[2].get("row").is_none(), "{:?}", events[2]);
    let stderr = stderr_of(&out);
    let warnings: Vec<&str> = stderr.lines().collect();
    assert_eq!(warnings.len(), 2, "{stderr}");
    assert!(
        warnings[0].starts_with("changelog-tail: warning: seq 1 is printed without its row: LDB ")
            && warnings[0].contains("table f___bad: ")
            && warnings[0].contains("not UTF-8"),
        "{stderr}"
    );
    assert!(
        warnings[1].contains("seq 3 ")
            && warnings[1].contains("table f___users")
            && warnings[1].contains("nick"),
        "{stderr}"
    );
}

#[test]
fn pretty_shows_the_row_after_an_arrow_escaped_or_no_row() {
    let host = Host::new();
    host.events(&[(1, "users", 1), (2, "users", 3), (3, "users", 9)]);
    let out = host.run(&["--format", "pretty", "--color", "never"]);
    let lines = lines(&out);
    assert_eq!(
        lines[0],
        r#"1 f.users id=1 → id=1 email="one@example.com" score=0.5 avatar="AP8=" note=null"#
    );
    // ESC as JSON escapes it, bidi and C1 controls as \u{..}: nothing
    // reaches the terminal raw.
    assert_eq!(
        lines[1],
        r#"2 f.users id=3 → id=3 email="evil" score=0.0 avatar=null note="\u001b[2J\u{202e}\u{9b}""#
    );
    assert_eq!(lines[2], "3 f.users id=9 (no row)");
    let colored = host.run(&["--format", "pretty", "--color", "always"]);
    let colored = String::from_utf8(colored.stdout).unwrap();
    // Column names coloured as key names are; the hostile value still
    // escaped.
    assert!(colored.contains("\x1b[36memail\x1b[0m="), "{colored:?}");
    assert!(!colored.contains('\u{202e}') && !colored.contains('\u{9b}'));
}

#[test]
fn the_row_is_read_when_the_event_is_printed() {
    let host = Host::new();
    let mut tail = Tail::start(&host.log, &["--rows", "--ldb", host.ldb.to_str().unwrap()]);
    host.events(&[(1, "users", 1)]);
    assert_eq!(json(&tail.line())["row"]["email"], "one@example.com");
    // A row inserted (and its table created) after the start, as ctlstore
    // writes the LDB before the changelog.
    host.db
        .execute_batch(
            "CREATE TABLE f___late (id INTEGER PRIMARY KEY, v TEXT);
             INSERT INTO f___late VALUES (5, 'new');
             UPDATE f___users SET email = 'changed@example.com' WHERE id = 1;",
        )
        .unwrap();
    host.events(&[(2, "late", 5), (3, "users", 1)]);
    assert_eq!(json(&tail.line())["row"]["v"], "new");
    assert_eq!(json(&tail.line())["row"]["email"], "changed@example.com");
}

#[test]
fn the_ldb_defaults_to_ctlstore_path() {
    let host = Host::new();
    host.events(&[(1, "users", 2)]);
    let out = binary()
        .env("CTLSTORE_PATH", host.dir.path())
        .args(["--no-follow", "--rows"])
        .output()
        .unwrap();
    assert_eq!(json(&lines(&out)[0])["row"]["email"], "two@example.com");
}

#[test]
fn an_ldb_that_cannot_be_opened_is_an_error_before_any_output() {
    let host = Host::new();
    host.events(&[(1, "users", 1)]);
    let missing = host.dir.path().join("missing.db");
    let garbage = host.dir.path().join("garbage.db");
    std::fs::write(&garbage, "this is not an SQLite file, not at all, no").unwrap();
    for ldb in [&missing, &garbage, &host.dir.path().to_path_buf()] {
        let out = no_follow(&host.log, &["--rows", "--ldb", ldb.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        assert!(out.stdout.is_empty());
        let stderr = stderr_of(&out);
        assert!(
            stderr.starts_with(&format!("changelog-tail: LDB {}: ", ldb.display()))
                && stderr.contains("--ldb")
                && stderr.lines().count() == 1,
            "{stderr}"
        );
    }
}

#[test]
fn raw_with_rows_and_ldb_without_rows_are_usage_errors() {
    let host = Host::new();
    let ldb = host.ldb.to_str().unwrap();
    for (args, why) in [
        (
            &["--raw", "--rows"][..],
            "--raw prints input lines unchanged",
        ),
        (&["--ldb", ldb][..], "add one, or drop --ldb"),
    ] {
        let out = no_follow(&host.log, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        let stderr = stderr_of(&out);
        assert!(
            stderr.starts_with("error: ") && stderr.contains(why) && stderr.contains("Usage:"),
            "{stderr}"
        );
    }
}

/// The peak memory (kB) of a running process so far, as the kernel counts
/// it for its address space (`VmHWM`: since its exec, unlike the
/// `ru_maxrss` of a reaped child, which starts from its parent's).
fn peak_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/PID/status")
}

/// Issue 17, hole 3: `--rows` remembers the tables it found missing (to
/// warn once each), but a run fed endless distinct names must not keep
/// them all: 24 events naming distinct 1 MB tables (one with a terminal
/// escape in its name) stay within a few MB of a run without `--rows`, in
/// every mode (to the end of a file with a state file, following with
/// `--count`, a pipe), and each warning names its table escaped and cut
/// short, never a megabyte long.
#[test]
fn rows_memory_stays_bounded_whatever_table_names_come() {
    const EVENTS: usize = 24;
    const NAME: usize = 1 << 20;
    let host = Host::new();
    let mut input = Vec::new();
    for seq in 1..=EVENTS {
        // Distinct valid names (looked for in the LDB), and one that cannot
        // name a table (an escape in it).
        let family = match seq {
            1 => format!("evil\u{1b}[2J{}", "e".repeat(NAME)),
            _ => format!(
                "{}{}",
                "abcdefghijklmnopqrstuvwxyz".chars().nth(seq % 26).unwrap(),
                "x".repeat(NAME + seq)
            ),
        };
        let family = serde_json::to_string(&family).unwrap();
        input.extend_from_slice(
            format!(
                r#"{{"seq":{seq},"family":{family},"table":"t","key":[{{"name":"id","type":"INTEGER","value":1}}]}}"#
            )
            .as_bytes(),
        );
        input.push(b'\n');
    }
    std::fs::write(&host.log, &input).unwrap();
    let state = host.dir.path().join("state.json");
    for (mode, args) in [
        (
            "following with a state file",
            &["--state-file", state.to_str().unwrap()][..],
        ),
        ("following", &[][..]),
        ("a pipe", &["--path", "-"][..]),
    ] {
        let pipe = args.contains(&"-");
        // Every event read and printed and the follower waiting for more:
        // its peak memory so far, and its warnings.
        let run = |rows: bool| {
            let mut command = binary();
            if !pipe {
                command.arg("-p").arg(&host.log);
            }
            command.args(args);
            if rows {
                command.arg("--rows").arg("--ldb").arg(&host.ldb);
            }
            let _ = std::fs::remove_file(&state);
            let (mut tail, stdin) = Tail::spawn_with_stdin(command);
            let feeder = pipe.then(|| {
                let input = input.clone();
                let mut stdin = stdin;
                std::thread::spawn(move || {
                    use std::io::Write;
                    stdin.write_all(&input).unwrap();
                    stdin // held open: a pipe whose writer is quiet
                })
            });
            assert_eq!(tail.seqs(EVENTS), (1..=EVENTS as i64).collect::<Vec<_>>());
            let warnings: Vec<String> = if rows {
                (0..EVENTS)
                    .map(|i| {
                        tail.try_stderr_line(crate::harness::PATIENCE)
                            .unwrap_or_else(|| panic!("{mode}: {i} warnings only"))
                    })
                    .collect()
            } else {
                Vec::new()
            };
            let deadline = std::time::Instant::now() + crate::harness::PATIENCE;
            while !crate::harness::main_thread_sleeps(tail.pid()) {
                assert!(std::time::Instant::now() < deadline, "{mode}: never waited");
                std::thread::yield_now();
            }
            let peak = peak_kb(tail.pid());
            drop(feeder.map(|f| f.join().unwrap()));
            tail.signal(libc::SIGTERM);
            let ended = tail.wait_end();
            assert!(
                matches!(ended.code(), Some(0 | 143)),
                "{mode}: {:.2000}",
                ended.stderr_text()
            );
            (peak, warnings)
        };
        let (without, _) = run(false);
        let (with, warnings) = run(true);
        eprintln!("{mode}: peak {with} kB with --rows, {without} kB without");
        assert!(
            with < without + 16 * 1024,
            "{mode}: --rows peaked at {with} kB, without it {without} kB"
        );
        for warning in &warnings {
            assert!(
                warning.len() < 2048,
                "{mode}: a warning of {} bytes",
                warning.len()
            );
            assert!(warning.contains("has no table"), "{mode}: {warning:.300}");
        }
        assert!(
            warnings[0].contains("evil\\u{1b}[2J") && !warnings[0].contains('\u{1b}'),
            "{mode}: {:.300}",
            warnings[0]
        );
    }
}

/// Issue 17, hole 4: JSON has no number for ±infinity (nor NaN, which
/// SQLite stores as NULL), and `null` means "no such row" or SQL NULL: a
/// REAL column holding infinity makes the lookup fail, so the event is
/// printed without a `row` field and a warning says why (the README, Rows from the LDB). In every
/// mode: to the end (with and without a state file), `--count`, following,
/// a pipe.
#[test]
fn a_real_holding_infinity_is_a_warning_and_no_row_field() {
    let host = Host::new();
    host.db
        .execute_batch(
            "CREATE TABLE f___m (id INTEGER PRIMARY KEY, x REAL);
             INSERT INTO f___m VALUES (1, 9e999), (2, -9e999), (3, 1.5), (4, 0.0 / 0.0);",
        )
        .unwrap();
    host.events(&[(1, "m", 1), (2, "m", 2), (3, "m", 3), (4, "m", 4)]);
    let ldb = host.ldb.to_str().unwrap();
    let state = host.dir.path().join("state.json");
    let check = |mode: &str, stdout: &[String], stderr: &[String]| {
        let events: Vec<Value> = stdout.iter().map(|l| json(l)).collect();
        assert_eq!(events.len(), 4, "{mode}: {stdout:?}");
        for infinite in &events[..2] {
            assert!(infinite.get("row").is_none(), "{mode}: {infinite}");
        }
        assert_eq!(
            events[2]["row"],
            serde_json::json!({"id": 3, "x": 1.5}),
            "{mode}"
        );
        // NaN is stored as NULL: that is what the row holds.
        assert_eq!(
            events[3]["row"],
            serde_json::json!({"id": 4, "x": null}),
            "{mode}"
        );
        assert_eq!(stderr.len(), 2, "{mode}: {stderr:?}");
        for (seq, value) in [(1, "inf"), (2, "-inf")] {
            let warning = &stderr[seq - 1];
            assert!(
                warning.contains(&format!("seq {seq} is printed without its row"))
                    && warning.contains(&format!(
                        "column x: REAL value {value}, which JSON cannot hold"
                    )),
                "{mode}: {warning}"
            );
        }
    };
    let text = |bytes: &[u8]| -> Vec<String> {
        String::from_utf8_lossy(bytes)
            .lines()
            .map(str::to_owned)
            .collect()
    };
    for (mode, args) in [
        ("--no-follow", &["--no-follow"][..]),
        (
            "--no-follow with a state file",
            &["--no-follow", "--state-file", state.to_str().unwrap()][..],
        ),
        ("--count", &["--count", "4"][..]),
    ] {
        let _ = std::fs::remove_file(&state);
        let out = binary()
            .arg("-p")
            .arg(&host.log)
            .args(["--rows", "--ldb", ldb])
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{mode}: {}", stderr_of(&out));
        check(mode, &text(&out.stdout), &text(&out.stderr));
    }
    let input = std::fs::read(&host.log).unwrap();
    let mut command = binary();
    command.args(["--path", "-", "--rows", "--ldb", ldb]);
    let out = crate::harness::run_fed(command, move |stdin| {
        use std::io::Write;
        stdin.write_all(&input).unwrap();
    });
    assert_eq!(out.status.code(), Some(0), "pipe: {}", stderr_of(&out));
    check("a pipe", &text(&out.stdout), &text(&out.stderr));
    for (mode, args) in [
        ("following", &[][..]),
        (
            "following with a state file",
            &["--state-file", state.to_str().unwrap()][..],
        ),
    ] {
        let _ = std::fs::remove_file(&state);
        let mut tail = Tail::start(&host.log, &[&["--rows", "--ldb", ldb][..], args].concat());
        let stdout: Vec<String> = (0..4).map(|_| tail.line()).collect();
        let stderr: Vec<String> = (0..2)
            .map(|_| {
                tail.try_stderr_line(crate::harness::PATIENCE)
                    .expect("a warning")
            })
            .collect();
        tail.signal(libc::SIGTERM);
        assert_eq!(tail.wait_end().code(), Some(143), "{mode}");
        check(mode, &stdout, &stderr);
    }
}
