//! `--snapshot` and `--on-out-of-sync snapshot` (doc/guide.md, Snapshot) through the real
//! binary: a real LDB (SQLite in WAL mode, its writer's connection kept
//! open, as ctlstore's reflector keeps it), a real changelog, real pipes
//! and signals. Where the order of writes matters (ctlstore's ledger
//! transactions write their changelog lines before they commit), a
//! second writer connection holds a real write transaction open.
//!
//! The binary's stdout is read here by a thread of our own (not the
//! harness's line channel), so that a test can read slowly or not at all
//! (a snapshot blocked on a full pipe, mid-table), and check with a
//! deadline that nothing came.

use crate::harness::{PATIENCE, Tail, binary, main_thread_sleeps, stderr_of};
use rusqlite::Connection;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::process::{ChildStdout, Command, Output};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

/// Four ctlstore tables (two families; a composite key declared in
/// another order than its columns, in a `WITHOUT ROWID` table; a BLOB
/// key; integers past 2^53 and at both ends of i64; text with quotes, a
/// backslash and control characters) and one table that is not
/// ctlstore's (no `___`).
const SCHEMA: &str = r#"
    CREATE TABLE f___users (id INTEGER PRIMARY KEY, email VARCHAR(191), score REAL,
                            avatar BLOB, note TEXT, big INTEGER);
    INSERT INTO f___users VALUES (1, 'one@example.com', 0.5, x'00ff', NULL, 9007199254740993);
    INSERT INTO f___users VALUES (2, 'two@example.com', 2.25, NULL,
                                  'say "hi" \ ' || char(10) || char(9) || char(1),
                                  -9223372036854775808);
    CREATE TABLE f___accounts (region VARCHAR(191), account INTEGER, name TEXT,
                               PRIMARY KEY (account, region)) WITHOUT ROWID;
    INSERT INTO f___accounts VALUES ('us', 2, 'b'), ('eu', 2, 'a'), ('ap', 1, 'c');
    CREATE TABLE g___files (hash BLOB(255) PRIMARY KEY, size INTEGER);
    INSERT INTO g___files VALUES (x'deadbeef', 9223372036854775807);
    CREATE TABLE not_ctlstore (x);
    INSERT INTO not_ctlstore VALUES (1);
"#;

/// The snapshot of [`SCHEMA`], as the README shows it: tables in name order,
/// rows in key order, keys in key order with their declared types.
const SCHEMA_SNAPSHOT: [&str; 8] = [
    r#"{"snapshot":"begin","reason":"start"}"#,
    r#"{"snapshot":"row","family":"f","table":"accounts","keys":[{"name":"account","type":"INTEGER","value":1},{"name":"region","type":"VARCHAR(191)","value":"ap"}],"row":{"region":"ap","account":1,"name":"c"}}"#,
    r#"{"snapshot":"row","family":"f","table":"accounts","keys":[{"name":"account","type":"INTEGER","value":2},{"name":"region","type":"VARCHAR(191)","value":"eu"}],"row":{"region":"eu","account":2,"name":"a"}}"#,
    r#"{"snapshot":"row","family":"f","table":"accounts","keys":[{"name":"account","type":"INTEGER","value":2},{"name":"region","type":"VARCHAR(191)","value":"us"}],"row":{"region":"us","account":2,"name":"b"}}"#,
    r#"{"snapshot":"row","family":"f","table":"users","keys":[{"name":"id","type":"INTEGER","value":1}],"row":{"id":1,"email":"one@example.com","score":0.5,"avatar":"AP8=","note":null,"big":9007199254740993}}"#,
    r#"{"snapshot":"row","family":"f","table":"users","keys":[{"name":"id","type":"INTEGER","value":2}],"row":{"id":2,"email":"two@example.com","score":2.25,"avatar":null,"note":"say \"hi\" \\ \n\t\u0001","big":-9223372036854775808}}"#,
    r#"{"snapshot":"row","family":"g","table":"files","keys":[{"name":"hash","type":"BLOB(255)","value":"3q2+7w=="}],"row":{"hash":"3q2+7w==","size":9223372036854775807}}"#,
    r#"{"snapshot":"end","rows":6}"#,
];

/// Rows of the big table ([`Host::big`]): about 560 bytes of NDJSON each,
/// 4.5 MB in all, far more than a pipe (64 KiB) and the binary's output
/// buffer (128 KiB) hold, so a reader that stops reading stops the
/// snapshot mid-table, its read transaction open.
const BIG_ROWS: usize = 8_000;

/// A directory with `change.log` and `ldb.db`, and the LDB writer's
/// connection (kept open, as ctlstore's reflector keeps it: its `-wal`
/// and `-shm` files exist).
struct Host {
    dir: tempfile::TempDir,
    log: PathBuf,
    ldb: PathBuf,
    db: Connection,
}

impl Host {
    fn new() -> Host {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("change.log");
        let ldb = dir.path().join("ldb.db");
        let db = crate::harness::wal_ldb(&ldb, SCHEMA);
        std::fs::write(&log, "").unwrap();
        Host { dir, log, ldb, db }
    }

    fn ldb_arg(&self) -> &str {
        self.ldb.to_str().unwrap()
    }

    /// Appends `lines` to the changelog in one write, as the reflector does
    /// after a commit (or, in a ledger transaction, before it).
    fn append(&self, lines: &[String]) {
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.log)
            .unwrap();
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        file.write_all(text.as_bytes()).unwrap();
    }

    /// ctlstore's writer restarting: the changelog deleted and begun again
    /// with `lines` (seq from 1).
    fn restart_writer(&self, lines: &[String]) {
        std::fs::remove_file(&self.log).unwrap();
        std::fs::write(&self.log, "").unwrap();
        self.append(lines);
    }

    /// The binary on the changelog and the LDB, with `args`.
    fn command(&self, args: &[&str]) -> Command {
        let mut command = binary();
        command
            .arg("-p")
            .arg(&self.log)
            .args(["--ldb", self.ldb_arg()])
            .args(args);
        command
    }

    /// A run to the end (`--no-follow`) with `args`.
    fn run(&self, args: &[&str]) -> Output {
        self.command(&[&["--no-follow"], args].concat())
            .output()
            .unwrap()
    }

    /// A second connection to the LDB, as another writer (a ledger
    /// transaction of the reflector's), waiting at most `busy` for a lock.
    fn writer(&self, busy: Duration) -> Connection {
        let db = Connection::open(&self.ldb).unwrap();
        db.busy_timeout(busy).unwrap();
        db
    }

    /// A ledger transaction of the reflector's, left open: `BEGIN
    /// IMMEDIATE` and `statement` on a writer connection of its own (the
    /// caller commits it).
    fn ledger(&self, statement: &str) -> Connection {
        let ledger = self.writer(Duration::from_secs(5));
        ledger
            .execute_batch(&format!("BEGIN IMMEDIATE; {statement}"))
            .unwrap();
        ledger
    }

    /// Adds `f___big`: [`BIG_ROWS`] rows of about 500 bytes each.
    fn big(&self) {
        self.db
            .execute_batch(&format!(
                "CREATE TABLE f___big (id INTEGER PRIMARY KEY, pad TEXT, n INTEGER);
                 WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {BIG_ROWS})
                 INSERT INTO f___big SELECT x, hex(zeroblob(250)), x * 3 FROM c;"
            ))
            .unwrap();
    }

    /// The binary with `args`, run without write access to the LDB: as
    /// nobody when the tests run as root (from a copy of the binary in the
    /// test's directory, which nobody may run wherever the checkout
    /// lives; the directory and its files readable), else as ourselves
    /// with `ldb.db` made read-only (the writer's connection is open
    /// already and goes on writing).
    fn without_write_access(&self, args: &[&str]) -> Command {
        use std::os::unix::fs::PermissionsExt;
        use std::os::unix::process::CommandExt;
        let mode = |path: &Path, mode: u32| {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
        };
        let mut command = if unsafe { libc::geteuid() } == 0 {
            mode(self.dir.path(), 0o755);
            for entry in std::fs::read_dir(self.dir.path()).unwrap() {
                mode(&entry.unwrap().path(), 0o644);
            }
            let copy = self.dir.path().join("changelog-tail");
            std::fs::copy(env!("CARGO_BIN_EXE_changelog-tail"), &copy).unwrap();
            mode(&copy, 0o755);
            let mut command = Command::new(copy);
            command
                .env_remove("CTLSTORE_PATH")
                .env_remove("NO_COLOR")
                .env_remove("CHANGELOG_TAIL_WATCHER")
                .uid(65534)
                .gid(65534);
            command
        } else {
            mode(&self.ldb, 0o444);
            binary()
        };
        command
            .arg("-p")
            .arg(&self.log)
            .args(["--ldb", self.ldb_arg()])
            .args(args);
        command
    }
}

/// Ends a following run with SIGTERM: exit 143, nothing said on stderr.
fn terminate_quietly(tail: Tail) {
    terminate_having_said(tail, &[]);
}

/// Ends a following run with SIGTERM: exit 143, having said exactly `said`
/// on stderr in all.
fn terminate_having_said(mut tail: Tail, said: &[String]) {
    tail.signal(libc::SIGTERM);
    let ended = tail.wait_end();
    assert_eq!(ended.code(), Some(143), "{}", ended.stderr_text());
    assert_eq!(ended.stderr, said);
}

/// The status line SIGUSR1 makes the run print.
fn status_of(tail: &mut Tail) -> String {
    tail.signal(libc::SIGUSR1);
    tail.stderr_line("status:")
}

/// A changelog line as ctlstore writes it: one integer key `id`.
fn event(seq: i64, family: &str, table: &str, id: i64) -> String {
    format!(
        r#"{{"seq":{seq},"family":"{family}","table":"{table}","key":[{{"name":"id","type":"INTEGER","value":{id}}}]}}"#
    )
}

fn json(line: &str) -> Value {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
}

/// A finished run's stdout lines, having exited 0.
fn stdout_lines(out: &Output) -> Vec<String> {
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(out));
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// A running binary's stdout, line by line, read by a thread of ours.
struct Lines(Receiver<String>);

impl Lines {
    fn new(stdout: ChildStdout) -> Lines {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Lines(rx)
    }

    /// The next line; fails the test after [`PATIENCE`] or if stdout closed.
    fn next(&self) -> String {
        match self.0.recv_timeout(PATIENCE) {
            Ok(line) => line,
            Err(e) => panic!("no line ({e:?})"),
        }
    }

    /// A line that comes within `window`, if one does (a closed stdout
    /// fails the test).
    fn within(&self, window: Duration) -> Option<String> {
        match self.0.recv_timeout(window) {
            Ok(line) => Some(line),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => panic!("stdout closed"),
        }
    }

    /// A whole snapshot, from its `begin` line (returned parsed) to its
    /// `end` line, whose count must be the rows': the rows, parsed.
    fn snapshot(&self) -> (Value, Vec<Value>) {
        let begin = json(&self.next());
        assert_eq!(begin["snapshot"], "begin", "{begin}");
        let mut rows = Vec::new();
        loop {
            let line = json(&self.next());
            match line["snapshot"].as_str() {
                Some("row") => rows.push(line),
                Some("end") => {
                    assert_eq!(line["rows"], rows.len(), "{line}");
                    return (begin, rows);
                }
                _ => panic!("not a snapshot line: {line}"),
            }
        }
    }
}

/// A running binary's stdout that a thread of ours reads only as far as
/// the test asks, in bounded waits: between asks the binary blocks on a
/// full pipe, mid-snapshot.
struct Gate {
    ask: Sender<usize>,
    got: Receiver<Vec<u8>>,
    fd: RawFd,
}

impl Gate {
    fn new(mut stdout: ChildStdout) -> Gate {
        let fd = stdout.as_raw_fd();
        let (ask, asked) = mpsc::channel::<usize>();
        let (give, got) = mpsc::channel();
        std::thread::spawn(move || {
            while let Ok(want) = asked.recv() {
                let mut bytes = Vec::new();
                let mut chunk = vec![0; 64 * 1024];
                while bytes.len() < want {
                    match stdout.read(&mut chunk) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => bytes.extend_from_slice(&chunk[..n]),
                    }
                }
                if give.send(bytes).is_err() {
                    return;
                }
            }
        });
        Gate { ask, got, fd }
    }

    /// At least `n` more bytes (fewer only at the end of the output).
    fn read(&self, n: usize) -> Vec<u8> {
        self.ask.send(n).unwrap();
        self.got
            .recv_timeout(PATIENCE)
            .expect("the output within the patience")
    }

    /// The rest of the output, to its end.
    fn rest(&self) -> Vec<u8> {
        self.read(usize::MAX)
    }

    /// Waits until `pid` is blocked writing to this pipe (its main thread
    /// asleep in `write`, the pipe holding bytes).
    fn wait_until_blocked(&self, pid: u32) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let mut queued: libc::c_int = 0;
            let rc = unsafe { libc::ioctl(self.fd, libc::FIONREAD, &mut queued) };
            assert_eq!(rc, 0, "FIONREAD");
            // (Where tracing is forbidden the file cannot be read: then the
            // queued bytes and the sleep say it.)
            let in_write = std::fs::read_to_string(format!("/proc/{pid}/syscall"))
                .map_or(true, |s| {
                    s.split(' ').next() == Some(&libc::SYS_write.to_string())
                });
            if queued > 0 && in_write && main_thread_sleeps(pid) {
                return;
            }
            assert!(Instant::now() < deadline, "never blocked writing");
            std::thread::yield_now();
        }
    }
}

/// How many descriptors `pid` holds on `file` (each SQLite connection
/// opens the LDB once).
fn descriptors_on(pid: u32, file: &Path) -> usize {
    let target = std::fs::canonicalize(file).unwrap();
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|fds| {
            fds.flatten()
                .filter(|e| std::fs::read_link(e.path()).is_ok_and(|p| p == target))
                .count()
        })
        .unwrap_or(0)
}

/// Waits until `pid` holds `n` connections to `ldb` and its main thread
/// sleeps: it is waiting for the LDB's write lock (SQLite's busy wait).
fn wait_for_lock_wait(pid: u32, ldb: &Path, n: usize) {
    let deadline = Instant::now() + PATIENCE;
    while descriptors_on(pid, ldb) < n || !main_thread_sleeps(pid) {
        assert!(Instant::now() < deadline, "never waited for the write lock");
        std::thread::yield_now();
    }
}

/// The snapshot lines of a run, split: (begin, rows, end, what follows).
fn split_snapshot(lines: &[String]) -> (Value, Vec<Value>, Value, Vec<Value>) {
    let parsed: Vec<Value> = lines.iter().map(|l| json(l)).collect();
    let end = parsed
        .iter()
        .position(|l| l["snapshot"] == "end")
        .unwrap_or_else(|| panic!("no end line: {lines:?}"));
    assert_eq!(parsed[0]["snapshot"], "begin", "{lines:?}");
    let rows = parsed[1..end].to_vec();
    assert!(rows.iter().all(|r| r["snapshot"] == "row"), "{lines:?}");
    assert_eq!(parsed[end]["rows"], rows.len(), "{lines:?}");
    (
        parsed[0].clone(),
        rows,
        parsed[end].clone(),
        parsed[end + 1..].to_vec(),
    )
}

/// The `(table, first key value)` of snapshot rows, for comparing.
fn row_keys(rows: &[Value]) -> Vec<(String, Value)> {
    rows.iter()
        .map(|r| {
            (
                r["table"].as_str().unwrap().to_owned(),
                r["keys"][0]["value"].clone(),
            )
        })
        .collect()
}

/// The NDJSON of doc/guide.md, byte for byte: a `begin` line, one line per row of
/// every ctlstore table (tables in name order, rows in key order; fields
/// in the order shown; keys in primary-key order with their declared
/// types, a composite key of a `WITHOUT ROWID` table included; BLOBs in
/// base64; integers past 2^53 and at both ends of i64 exact; quotes,
/// backslash and control characters escaped), an `end` line with the
/// count; and nothing else: the events already in the changelog are
/// before the snapshot, and a table that is not ctlstore's is not read.
#[test]
fn snapshot_ndjson_is_begin_rows_end_exactly_as_the_spec_shows() {
    let host = Host::new();
    host.append(&[event(1, "f", "users", 1), event(2, "f", "users", 2)]);
    let out = host.run(&["--snapshot"]);
    assert_eq!(stdout_lines(&out), SCHEMA_SNAPSHOT);
    assert_eq!(stderr_of(&out), "");
    // Every line is JSON whose `snapshot` field tells it from an event.
    for line in SCHEMA_SNAPSHOT {
        assert!(json(line)["snapshot"].is_string());
    }
}

/// Pretty output: a header, one line per row (`family.table key=value →
/// column=value …`), a footer with the count; terminal controls in the
/// data (ESC, a bidi override, a C1 control) escaped, never written raw;
/// colour only when asked for.
#[test]
fn snapshot_pretty_has_a_header_a_line_per_row_and_a_footer_with_escapes() {
    let host = Host::new();
    host.db
        .execute(
            "INSERT INTO f___users (id, email, note) VALUES (3, 'evil', \
             char(27) || '[2J' || char(8238) || char(155))",
            [],
        )
        .unwrap();
    let args = [
        "--snapshot",
        "--table",
        "users",
        "--format",
        "pretty",
        "--color",
    ];
    let out = host.run(&[&args[..], &["never"]].concat());
    assert_eq!(
        stdout_lines(&out),
        [
            "snapshot begin: start",
            r#"snapshot f.users id=1 → id=1 email="one@example.com" score=0.5 avatar="AP8=" note=null big=9007199254740993"#,
            r#"snapshot f.users id=2 → id=2 email="two@example.com" score=2.25 avatar=null note="say \"hi\" \\ \n\t\u0001" big=-9223372036854775808"#,
            r#"snapshot f.users id=3 → id=3 email="evil" score=null avatar=null note="\u001b[2J\u{202e}\u{9b}" big=null"#,
            "snapshot end: 3 rows",
        ]
    );
    assert_eq!(stderr_of(&out), "");
    let colored = host.run(&[&args[..], &["always"]].concat());
    let colored = String::from_utf8(colored.stdout).unwrap();
    assert!(
        colored.contains("\x1b[35msnapshot\x1b[39m begin"),
        "{colored:?}"
    );
    // The only ESC bytes are the colours': the hostile one is escaped.
    assert!(!colored.contains("\x1b[2J"), "{colored:?}");
    assert!(!colored.contains('\u{202e}') && !colored.contains('\u{9b}'));
}

/// The filter selects what a snapshot reads: `--family` and `--table`
/// select tables (exact names in any ASCII case, and globs), `--key`
/// selects rows by their key columns (a table without that key column
/// gives none), as they select events.
#[test]
fn snapshot_filters_select_tables_and_rows() {
    let host = Host::new();
    let tables = |args: &[&str]| -> Vec<(String, Value)> {
        let out = host.run(&[&["--snapshot"], args].concat());
        assert_eq!(stderr_of(&out), "", "{args:?}");
        let (_, rows, _, after) = split_snapshot(&stdout_lines(&out));
        assert!(after.is_empty());
        row_keys(&rows)
    };
    let users = vec![
        ("users".to_owned(), 1.into()),
        ("users".to_owned(), 2.into()),
    ];
    assert_eq!(tables(&["--family", "f", "--table", "users"]), users);
    assert_eq!(tables(&["--family", "F", "--table", "USERS"]), users);
    assert_eq!(tables(&["--table", "u*"]), users);
    assert_eq!(
        tables(&["--family", "g"]),
        [("files".to_owned(), "3q2+7w==".into())]
    );
    assert_eq!(
        tables(&["--table", "[fu]*"]),
        [
            ("users".to_owned(), 1.into()),
            ("users".to_owned(), 2.into()),
            ("files".to_owned(), "3q2+7w==".into())
        ]
    );
    // Rows: every key condition must hold; the others' tables have no
    // `account` key column.
    assert_eq!(
        tables(&["--key", "account=2"]),
        [
            ("accounts".to_owned(), 2.into()),
            ("accounts".to_owned(), 2.into())
        ]
    );
    let out = host.run(&["--snapshot", "--key", "account=2", "--key", "region=us"]);
    let (_, rows, _, _) = split_snapshot(&stdout_lines(&out));
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0]["row"],
        serde_json::json!({"region": "us", "account": 2, "name": "b"})
    );
    assert_eq!(tables(&["--table", "users", "--key", "id=2"]), users[1..]);
}

/// A table the filter names that the LDB lacks is a warning (naming it)
/// and no rows, the run goes on; a filter that selects no table at all is
/// said too.
#[test]
fn snapshot_of_a_missing_table_is_a_warning_and_no_rows() {
    let host = Host::new();
    let out = host.run(&["--snapshot", "--family", "f", "--table", "nope"]);
    assert_eq!(
        stdout_lines(&out),
        [
            r#"{"snapshot":"begin","reason":"start"}"#,
            r#"{"snapshot":"end","rows":0}"#
        ]
    );
    assert_eq!(
        stderr_of(&out),
        format!(
            "changelog-tail: warning: LDB {} has no table f___nope: it gives no rows\n",
            host.ldb.display()
        )
    );
    // The one that exists still gives its rows.
    let out = host.run(&[
        "--snapshot",
        "--family",
        "f",
        "--table",
        "nope",
        "--table",
        "users",
    ]);
    let (_, rows, _, _) = split_snapshot(&stdout_lines(&out));
    assert_eq!(rows.len(), 2);
    assert_eq!(stderr_of(&out).lines().count(), 1, "{}", stderr_of(&out));
    let out = host.run(&["--snapshot", "--table", "zz*"]);
    let (_, rows, _, _) = split_snapshot(&stdout_lines(&out));
    assert!(rows.is_empty());
    assert!(
        stderr_of(&out).contains("has no table that --family and --table select"),
        "{}",
        stderr_of(&out)
    );
}

/// No LDB is a runtime error (exit 1) naming it, before any output, for
/// `--snapshot` and for `--on-out-of-sync snapshot` alike, and where the
/// LDB's path comes from `CTLSTORE_PATH`.
#[test]
fn snapshot_without_an_ldb_is_exit_1_with_a_message() {
    let host = Host::new();
    let missing = host.dir.path().join("missing.db");
    let missing = missing.to_str().unwrap();
    for args in [&["--snapshot"][..], &["--on-out-of-sync", "snapshot"][..]] {
        let out = binary()
            .arg("-p")
            .arg(&host.log)
            .args(["--no-follow", "--ldb", missing])
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}: {out:?}");
        assert!(out.stdout.is_empty());
        let stderr = stderr_of(&out);
        assert!(
            stderr.starts_with(&format!("changelog-tail: LDB {missing}: cannot open"))
                && stderr.contains("check --ldb or CTLSTORE_PATH")
                && stderr.lines().count() == 1,
            "{args:?}: {stderr}"
        );
    }
    let empty = tempfile::tempdir().unwrap();
    std::fs::write(empty.path().join("change.log"), "").unwrap();
    let out = binary()
        .env("CTLSTORE_PATH", empty.path())
        .args(["--no-follow", "--snapshot"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(stderr_of(&out).contains("ldb.db"), "{}", stderr_of(&out));
}

/// Options that make no sense with a snapshot are usage errors (exit 2,
/// clap's form): a pipe (no end to take a position at), `--from`,
/// `--after-seq`, `-n` (a snapshot takes its own position), and `--ldb`
/// with nothing that reads the LDB.
#[test]
fn snapshot_usage_errors_are_exit_2() {
    let host = Host::new();
    let ldb = host.ldb_arg();
    for (args, why) in [
        (&["--path", "-", "--snapshot"][..], "a pipe (--path -)"),
        (
            &["--path", "-", "--on-out-of-sync", "snapshot"][..],
            "a pipe (--path -)",
        ),
        (&["--snapshot", "--from", "end"][..], "'--from <WHERE>'"),
        (&["--snapshot", "--from", "start"][..], "'--from <WHERE>'"),
        (&["--snapshot", "--after-seq", "3"][..], "'--after-seq <N>'"),
        (&["--snapshot", "-n", "2"][..], "'--lines <N>'"),
        (&["--ldb", ldb][..], "add one, or drop --ldb"),
    ] {
        let mut command = binary();
        if !args.contains(&"--ldb") {
            command.args(["--ldb", ldb]);
        }
        let out = command
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        let stderr = stderr_of(&out);
        assert!(
            stderr.starts_with("error: ") && stderr.contains(why) && out.stdout.is_empty(),
            "{args:?}: {stderr}"
        );
    }
}

/// Following: the changes after the snapshot come after its `end` line,
/// as ordinary events; the line written before the snapshot is not
/// printed (its change is in the rows). With `--rows` each change carries
/// its row.
#[test]
fn snapshot_then_the_changes_after_it_not_the_line_before() {
    for rows in [false, true] {
        let host = Host::new();
        host.append(&[event(1, "f", "users", 1)]);
        let mut args = vec!["--snapshot", "--table", "users"];
        if rows {
            args.push("--rows");
        }
        let (tail, stdout) = Tail::spawn_with_raw_stdout(host.command(&args));
        let lines = Lines::new(stdout);
        let (begin, snapshot) = lines.snapshot();
        assert_eq!(
            begin,
            serde_json::json!({"snapshot": "begin", "reason": "start"})
        );
        assert_eq!(
            row_keys(&snapshot),
            [
                ("users".to_owned(), 1.into()),
                ("users".to_owned(), 2.into())
            ]
        );
        host.db
            .execute(
                "UPDATE f___users SET email = 'new@example.com' WHERE id = 2",
                [],
            )
            .unwrap();
        host.append(&[event(2, "f", "users", 2)]);
        let change = json(&lines.next());
        assert_eq!(change["seq"], 2, "rows: {rows}: {change}");
        assert!(change.get("snapshot").is_none());
        match rows {
            true => assert_eq!(change["row"]["email"], "new@example.com"),
            false => assert!(change.get("row").is_none(), "{change}"),
        }
        host.append(&[event(3, "f", "users", 1)]);
        assert_eq!(json(&lines.next())["seq"], 3);
        terminate_quietly(tail);
    }
}

/// `--count` counts events, not a snapshot's lines: `--snapshot --count
/// 1` prints the whole snapshot, then one change, and exits 0.
#[test]
fn snapshot_lines_do_not_count_towards_count() {
    let host = Host::new();
    host.append(&[event(1, "f", "users", 1)]);
    let (mut tail, stdout) = Tail::spawn_with_raw_stdout(host.command(&[
        "--snapshot",
        "--table",
        "users",
        "--count",
        "1",
    ]));
    let lines = Lines::new(stdout);
    let (_, rows) = lines.snapshot();
    assert_eq!(rows.len(), 2);
    host.append(&[event(2, "f", "users", 2), event(3, "f", "users", 1)]);
    assert_eq!(json(&lines.next())["seq"], 2);
    let ended = tail.wait_end();
    assert_eq!(ended.code(), Some(0), "{}", ended.stderr_text());
    assert_eq!(
        lines.0.recv_timeout(PATIENCE),
        Err(RecvTimeoutError::Disconnected),
        "nothing after the counted event"
    );
}

/// A ledger transaction open when the snapshot starts (its changelog line
/// already written, its commit not yet made): the snapshot waits for it
/// (no `begin` line while it is open), and once it commits (within the
/// lock's second) the snapshot shows its row, and its line, written
/// before the snapshot's position, is not printed afterwards as a change:
/// no hole, and the row is in the snapshot.
#[test]
fn snapshot_waits_for_an_open_ledger_transaction_and_leaves_no_hole() {
    let host = Host::new();
    host.append(&[event(1, "f", "users", 1)]);
    let ledger = host.ledger("INSERT INTO f___users (id, email) VALUES (7, 'seven@example.com');");
    host.append(&[event(2, "f", "users", 7)]);
    let (tail, stdout) =
        Tail::spawn_with_raw_stdout(host.command(&["--snapshot", "--table", "users"]));
    let lines = Lines::new(stdout);
    // The LDB for rows, the snapshot's reader, the lock: waiting for it.
    wait_for_lock_wait(tail.pid(), &host.ldb, 3);
    assert_eq!(lines.within(Duration::from_millis(200)), None);
    ledger.execute_batch("COMMIT").unwrap();
    let (_, rows) = lines.snapshot();
    assert_eq!(
        row_keys(&rows),
        [
            ("users".to_owned(), 1.into()),
            ("users".to_owned(), 2.into()),
            ("users".to_owned(), 7.into())
        ]
    );
    assert_eq!(rows[2]["row"]["email"], "seven@example.com");
    // The next change printed is the one after the position: not seq 2.
    host.db
        .execute("UPDATE f___users SET email = 'x' WHERE id = 1", [])
        .unwrap();
    host.append(&[event(3, "f", "users", 1)]);
    assert_eq!(json(&lines.next())["seq"], 3);
    terminate_quietly(tail);
}

/// A write transaction open past the lock's bound (a second) does not end
/// the run: the snapshot says once that it tries again, and goes on
/// trying until the transaction ends, then shows its row. SIGUSR1 while
/// it waits is answered with what it waits for.
#[test]
fn snapshot_tries_again_while_a_write_transaction_stays_open() {
    let host = Host::new();
    let ledger = host.ledger("INSERT INTO f___users (id, email) VALUES (7, 'seven@example.com');");
    let (mut tail, stdout) =
        Tail::spawn_with_raw_stdout(host.command(&["--snapshot", "--table", "users"]));
    let lines = Lines::new(stdout);
    let warning = tail.stderr_line("trying again until it ends");
    assert!(
        warning.contains("a write transaction stayed open for more than 1000 ms"),
        "{warning}"
    );
    let status = status_of(&mut tail);
    assert!(
        status.starts_with("changelog-tail: status: snapshot: waiting for the LDB's write lock, ")
            && status.ends_with(" s so far"),
        "{status}"
    );
    assert_eq!(lines.within(Duration::from_millis(100)), None);
    ledger.execute_batch("COMMIT").unwrap();
    let (_, rows) = lines.snapshot();
    assert_eq!(rows.last().unwrap()["row"]["email"], "seven@example.com");
    // Said once, answered once.
    terminate_having_said(tail, &[warning, status]);
}

/// A snapshot holds no lock against the writer: while it streams a big
/// table (stopped mid-table by a reader that does not read, its read
/// transaction open), a writer with a 50 ms busy timeout still takes the
/// write lock, inserts and commits (WAL: a reader never blocks the
/// writer). The row it commits is not in the snapshot (rows as of one
/// instant), and the snapshot ends whole.
#[test]
fn snapshot_streaming_a_big_table_never_blocks_the_writer() {
    let host = Host::new();
    host.big();
    let (mut tail, stdout) =
        Tail::spawn_with_raw_stdout(host.command(&["--no-follow", "--snapshot", "--table", "big"]));
    let gate = Gate::new(stdout);
    let mut out = gate.read(64 * 1024);
    gate.wait_until_blocked(tail.pid());
    let writer = host.writer(Duration::from_millis(50));
    let started = Instant::now();
    writer
        .execute_batch(
            "BEGIN IMMEDIATE;
             INSERT INTO f___big VALUES (1000000, 'late', 0);
             COMMIT;",
        )
        .expect("the writer is not blocked by the snapshot");
    let took = started.elapsed();
    out.extend(gate.rest());
    let ended = tail.wait_end();
    assert_eq!(ended.code(), Some(0), "{}", ended.stderr_text());
    let lines: Vec<String> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let (_, rows, _, after) = split_snapshot(&lines);
    assert_eq!(rows.len(), BIG_ROWS);
    assert!(after.is_empty());
    assert!(
        rows.iter().all(|r| r["keys"][0]["value"] != 1_000_000),
        "a row committed after the snapshot's instant is in it"
    );
    eprintln!("the writer's transaction took {took:?} during the snapshot");
}

/// `--rows` never prints a row older than its event: a ledger
/// transaction writes its changelog line, then commits. While it is open
/// the follower, having read the line, does not print the event; once it
/// commits, the event comes with the committed row, not the old one.
#[test]
fn snapshot_rows_wait_for_the_ledger_transaction_of_their_line() {
    let host = Host::new();
    let (tail, stdout) = Tail::spawn_with_raw_stdout(host.command(&["--rows"]));
    let lines = Lines::new(stdout);
    tail.wait_until_waiting(&host.log);
    let ledger = host.ledger("UPDATE f___users SET email = 'changed@example.com' WHERE id = 1;");
    host.append(&[event(1, "f", "users", 1)]);
    // The LDB for rows and the lock: the line is read, its row waits.
    wait_for_lock_wait(tail.pid(), &host.ldb, 2);
    assert_eq!(lines.within(Duration::from_millis(200)), None);
    ledger.execute_batch("COMMIT").unwrap();
    let printed = json(&lines.next());
    assert_eq!(printed["seq"], 1);
    assert_eq!(printed["row"]["email"], "changed@example.com");
    terminate_quietly(tail);
}

/// A ledger transaction open past the lock's bound (a second): `--rows`
/// says once that it waits, and waits for the commit, so the event still
/// comes with its committed row (never without it, never a stale one).
/// SIGUSR1 while it waits is answered with what it waits for.
#[test]
fn snapshot_rows_wait_out_a_ledger_transaction_longer_than_the_bound() {
    let host = Host::new();
    let (mut tail, stdout) = Tail::spawn_with_raw_stdout(host.command(&["--rows"]));
    let lines = Lines::new(stdout);
    tail.wait_until_waiting(&host.log);
    let ledger = host.ledger("UPDATE f___users SET email = 'late@example.com' WHERE id = 1;");
    host.append(&[event(1, "f", "users", 1)]);
    let warning = tail.stderr_line("waiting for it to end to look up rows");
    assert!(warning.contains("more than 1000 ms"), "{warning}");
    let status = status_of(&mut tail);
    assert!(
        status.starts_with(
            "changelog-tail: status: waiting for a write transaction of the LDB to end \
             to look up rows, "
        ),
        "{status}"
    );
    assert_eq!(lines.within(Duration::from_millis(100)), None);
    ledger.execute_batch("COMMIT").unwrap();
    let printed = json(&lines.next());
    assert_eq!(printed["seq"], 1);
    assert_eq!(printed["row"]["email"], "late@example.com");
    // Said once, answered once.
    terminate_having_said(tail, &[warning, status]);
}

/// Without write access to the LDB (no lock to wait with), `--rows` still
/// prints every row, and says once, not once per batch, that a row of a
/// ledger transaction may be older than its event.
#[test]
fn snapshot_rows_without_write_access_warn_once_that_rows_may_be_older() {
    let host = Host::new();
    host.append(&[event(1, "f", "users", 1), event(2, "f", "users", 2)]);
    let mut tail = Tail::spawn(host.without_write_access(&["--rows"]));
    assert_eq!(tail.event().seq, 1);
    assert_eq!(tail.event().seq, 2);
    let warning = tail.stderr_line("write lock");
    assert_eq!(
        warning,
        "changelog-tail: warning: cannot take the LDB's write lock (there is no write access \
         to it): a row changed by one of ctlstore's ledger transactions may be printed as it \
         was before its event"
    );
    // Another batch: no second warning.
    host.db
        .execute("UPDATE f___users SET email = 'late' WHERE id = 2", [])
        .unwrap();
    host.append(&[event(3, "f", "users", 2)]);
    let line = tail.line();
    assert_eq!(json(&line)["row"]["email"], "late", "{line}");
    terminate_having_said(tail, &[warning]);
}

/// `--on-out-of-sync snapshot`: a writer restart (seq back to 1) while
/// following gives a `begin` line saying why (expected and got), a fresh
/// snapshot of the rows as they are now, then the changes after it; and
/// again at the next restart: the process never exits for it.
#[test]
fn snapshot_on_out_of_sync_resets_and_goes_on() {
    let host = Host::new();
    host.append(&[event(1, "f", "users", 1), event(2, "f", "users", 2)]);
    let (tail, stdout) = Tail::spawn_with_raw_stdout(host.command(&[
        "--on-out-of-sync",
        "snapshot",
        "--table",
        "users",
    ]));
    let lines = Lines::new(stdout);
    assert_eq!(json(&lines.next())["seq"], 1);
    assert_eq!(json(&lines.next())["seq"], 2);
    for (round, expected) in [(1, 3), (2, 4)] {
        // The writer restarts: its first change committed, then its line.
        host.db
            .execute(
                "UPDATE f___users SET email = ?1 WHERE id = 1",
                [format!("restart {round}")],
            )
            .unwrap();
        host.append(&[event(1, "f", "users", 1)]);
        let (begin, rows) = lines.snapshot();
        assert_eq!(
            begin,
            serde_json::json!({"snapshot": "begin", "reason": "out of sync", "expected": expected, "got": 1}),
            "round {round}"
        );
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0]["row"]["email"], format!("restart {round}"));
        // The revealing line is before the new position; the next change
        // is printed as an event.
        for seq in 2..=expected {
            host.append(&[event(seq, "f", "users", 2)]);
            let change = json(&lines.next());
            assert_eq!(change["seq"], seq, "round {round}: {change}");
            assert!(change.get("snapshot").is_none());
        }
    }
    terminate_quietly(tail);
}

/// `--snapshot --state-file`: a first run (no state) takes the snapshot
/// and writes the state after it; a run that resumes cleanly takes none
/// and prints only the changes since; a state made stale while the tool
/// was down (the writer restarted, numbering from 1 again) gives a
/// snapshot with reason "out of sync" (where without `--snapshot` it is
/// exit 3), after which the state resumes cleanly again.
#[test]
fn snapshot_with_a_state_file_is_taken_at_first_and_when_the_state_is_stale() {
    let host = Host::new();
    let state = host.dir.path().join("state.json");
    let state_arg = state.to_str().unwrap();
    let args = ["--snapshot", "--table", "users", "--state-file", state_arg];
    host.append(&[event(1, "f", "users", 1), event(2, "f", "users", 2)]);
    let out = host.run(&args);
    let (begin, rows, _, after) = split_snapshot(&stdout_lines(&out));
    assert_eq!(begin["reason"], "start");
    assert_eq!(rows.len(), 2);
    assert!(after.is_empty());
    assert!(state.exists());
    // A clean resume: only what came since.
    host.append(&[event(3, "f", "users", 2)]);
    let out = host.run(&args);
    assert_eq!(
        stdout_lines(&out),
        [
            r#"{"seq":3,"family":"f","table":"users","keys":[{"name":"id","type":"INTEGER","value":2}]}"#
        ]
    );
    // Down: the writer restarts, its file holding seq 1 only.
    host.db
        .execute("UPDATE f___users SET email = 'reset' WHERE id = 1", [])
        .unwrap();
    host.restart_writer(&[event(1, "f", "users", 1)]);
    let stale = host.dir.path().join("stale.json");
    std::fs::copy(&state, &stale).unwrap();
    let without = binary()
        .arg("-p")
        .arg(&host.log)
        .args(["--no-follow", "--table", "users", "--state-file"])
        .arg(&stale)
        .output()
        .unwrap();
    assert_eq!(without.status.code(), Some(3), "{}", stderr_of(&without));
    let out = host.run(&args);
    let (begin, rows, _, after) = split_snapshot(&stdout_lines(&out));
    assert_eq!(
        begin,
        serde_json::json!({"snapshot": "begin", "reason": "out of sync", "expected": 4, "got": 1})
    );
    assert_eq!(rows[0]["row"]["email"], "reset");
    assert!(after.is_empty(), "{after:?}");
    assert_eq!(stderr_of(&out), "");
    // Its state stands after the snapshot: the next run resumes cleanly.
    host.append(&[event(2, "f", "users", 2)]);
    let out = host.run(&args);
    let printed: Vec<Value> = stdout_lines(&out).iter().map(|l| json(l)).collect();
    assert_eq!(printed.len(), 1, "{printed:?}");
    assert_eq!(printed[0]["seq"], 2);
}

/// The state is written only once the whole snapshot is out: a run killed
/// (SIGKILL, nothing flushed or saved) in the middle of a big table leaves
/// no state, so the next run takes the snapshot again, whole.
#[test]
fn snapshot_killed_midway_leaves_no_state_and_is_taken_again() {
    let host = Host::new();
    host.big();
    host.append(&[event(1, "f", "big", 1)]);
    let state = host.dir.path().join("state.json");
    let args = [
        "--snapshot",
        "--table",
        "big",
        "--state-file",
        state.to_str().unwrap(),
    ];
    let (mut tail, stdout) = Tail::spawn_with_raw_stdout(host.command(&args));
    let gate = Gate::new(stdout);
    let first = gate.read(64 * 1024);
    assert!(first.starts_with(br#"{"snapshot":"begin","reason":"start"}"#));
    gate.wait_until_blocked(tail.pid());
    tail.signal(libc::SIGKILL);
    assert_eq!(tail.wait_end().status.code(), None);
    assert!(
        !state.exists(),
        "a state was written before the snapshot ended"
    );
    let out = host.run(&args);
    let (begin, rows, _, after) = split_snapshot(&stdout_lines(&out));
    assert_eq!(begin["reason"], "start");
    assert_eq!(rows.len(), BIG_ROWS);
    assert!(after.is_empty());
    assert!(state.exists());
}

/// SIGUSR1 while a snapshot streams a big table prints one status line
/// with the snapshot's progress (rows so far, the table being read) and
/// the snapshot goes on to its end; SIGUSR1 is answered once per signal,
/// not by both the snapshot and the follower.
#[test]
fn snapshot_sigusr1_prints_its_progress_once() {
    let host = Host::new();
    host.big();
    let (mut tail, stdout) =
        Tail::spawn_with_raw_stdout(host.command(&["--no-follow", "--snapshot", "--table", "big"]));
    let gate = Gate::new(stdout);
    let mut out = gate.read(64 * 1024);
    gate.wait_until_blocked(tail.pid());
    tail.signal(libc::SIGUSR1);
    // Read on: the next row answers it.
    out.extend(gate.rest());
    let ended = tail.wait_end();
    assert_eq!(ended.code(), Some(0), "{}", ended.stderr_text());
    assert_eq!(ended.stderr.len(), 1, "{:?}", ended.stderr);
    let status = &ended.stderr[0];
    let rows: usize = status
        .strip_prefix("changelog-tail: status: snapshot: ")
        .and_then(|s| s.strip_suffix(" rows, reading table f___big (1 of 1)"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{status}"));
    assert!(rows > 0 && rows < BIG_ROWS, "{status}");
    let lines = String::from_utf8(out).unwrap();
    assert!(lines.ends_with(&format!("{{\"snapshot\":\"end\",\"rows\":{BIG_ROWS}}}\n")));
}

/// SIGTERM during a snapshot ends the run (exit 143) without the rest of
/// the rows, and leaves the state file as it was: a stale state stays
/// stale, so the next run takes the snapshot again (reason "out of
/// sync"), not a clean resume past rows it never printed.
#[test]
fn snapshot_sigterm_midway_exits_143_and_leaves_the_state_as_it_was() {
    let host = Host::new();
    host.big();
    let state = host.dir.path().join("state.json");
    let args = [
        "--snapshot",
        "--table",
        "big",
        "--state-file",
        state.to_str().unwrap(),
    ];
    host.append(&[event(1, "f", "big", 1), event(2, "f", "big", 2)]);
    let (_, rows, _, _) = split_snapshot(&stdout_lines(&host.run(&args)));
    assert_eq!(rows.len(), BIG_ROWS);
    host.restart_writer(&[event(1, "f", "big", 3)]);
    let before = std::fs::read(&state).unwrap();
    let (mut tail, stdout) = Tail::spawn_with_raw_stdout(host.command(&args));
    let gate = Gate::new(stdout);
    let first = gate.read(64 * 1024);
    assert!(
        first.starts_with(br#"{"snapshot":"begin","reason":"out of sync","expected":3,"got":1}"#),
        "{}",
        String::from_utf8_lossy(&first[..200])
    );
    gate.wait_until_blocked(tail.pid());
    tail.signal(libc::SIGTERM);
    let rest = gate.rest();
    let ended = tail.wait_end();
    assert_eq!(ended.code(), Some(143), "{}", ended.stderr_text());
    assert!(ended.stderr.is_empty(), "{:?}", ended.stderr);
    assert!(
        !String::from_utf8_lossy(&rest).contains(r#"{"snapshot":"end""#),
        "the snapshot went on to its end"
    );
    assert_eq!(
        String::from_utf8_lossy(&std::fs::read(&state).unwrap()),
        String::from_utf8_lossy(&before),
        "the state moved"
    );
    let out = host.run(&args);
    let (begin, rows, _, _) = split_snapshot(&stdout_lines(&out));
    assert_eq!(begin["reason"], "out of sync");
    assert_eq!(rows.len(), BIG_ROWS);
}

/// Without write access to the LDB the snapshot cannot take the instant's
/// lock: it says so once, and the changes follow from the start of the
/// changelog's current file, so the lines before the snapshot are printed
/// again after its `end` (at least once, never a hole). A later snapshot
/// (out of sync: the writer restarted in the same file) does the same
/// without a second warning, and reads the file again once, not in a
/// loop: the gap it answered is not reported again.
#[test]
fn snapshot_without_the_lock_warns_once_and_follows_from_the_file_start() {
    let host = Host::new();
    host.append(&[event(1, "f", "users", 1), event(2, "f", "users", 2)]);
    let command = host.without_write_access(&[
        "--snapshot",
        "--on-out-of-sync",
        "snapshot",
        "--table",
        "users",
    ]);
    let (mut tail, stdout) = Tail::spawn_with_raw_stdout(command);
    let lines = Lines::new(stdout);
    let (begin, rows) = lines.snapshot();
    assert_eq!(begin["reason"], "start");
    assert_eq!(rows.len(), 2);
    let warning = tail.stderr_line("cannot take the write lock");
    assert!(
        warning.starts_with(&format!(
            "changelog-tail: warning: cannot take the write lock of LDB {} (there is no write \
             access to it): the changes follow from the start of the changelog's current file",
            host.ldb.display()
        )),
        "{warning}"
    );
    assert_eq!(json(&lines.next())["seq"], 1);
    assert_eq!(json(&lines.next())["seq"], 2);
    host.append(&[event(3, "f", "users", 1)]);
    assert_eq!(json(&lines.next())["seq"], 3);
    // The writer restarts in the same file.
    host.append(&[event(1, "f", "users", 2)]);
    let (begin, rows) = lines.snapshot();
    assert_eq!(
        begin,
        serde_json::json!({"snapshot": "begin", "reason": "out of sync", "expected": 4, "got": 1})
    );
    assert_eq!(rows.len(), 2);
    // The file again from its start, at once, and once.
    let again: Vec<Value> = (0..4).map(|_| json(&lines.next())).collect();
    let seqs: Vec<&Value> = again.iter().map(|e| &e["seq"]).collect();
    assert_eq!(seqs, [1, 2, 3, 1], "{again:?}");
    host.append(&[event(2, "f", "users", 1)]);
    let next = json(&lines.next());
    assert_eq!(next["seq"], 2, "{next}");
    assert!(next.get("snapshot").is_none());
    terminate_having_said(tail, &[warning]);
}

/// A WAL LDB that no writer has open (its `-wal` and `-shm` missing), read
/// by a user who is neither its owner nor root, in a directory that user
/// may write: SQLite would create the two files owned by that user, and
/// ctlstore's writer (the owner) could then no longer write its own LDB.
/// The run refuses with exit 1 and a message saying so, and creates
/// nothing. (As root, SQLite gives the files the LDB's owner: no harm.)
#[test]
fn reading_an_ldb_no_writer_has_open_as_another_user_creates_nothing() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root, to run the binary as another user than the LDB's owner");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ldb = dir.path().join("ldb.db");
    let log = dir.path().join("change.log");
    {
        let db = Connection::open(&ldb).unwrap();
        db.query_row("PRAGMA journal_mode=WAL", [], |_| Ok(()))
            .unwrap();
        db.execute_batch(SCHEMA).unwrap();
    }
    assert!(!dir.path().join("ldb.db-wal").exists(), "closed: no WAL");
    std::fs::write(&log, event(1, "f", "users", 1) + "\n").unwrap();
    let mode = |path: &Path, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    mode(dir.path(), 0o777);
    mode(&ldb, 0o644);
    mode(&log, 0o644);
    let copy = dir.path().join("changelog-tail");
    std::fs::copy(env!("CARGO_BIN_EXE_changelog-tail"), &copy).unwrap();
    mode(&copy, 0o755);
    for args in [&["--rows"][..], &["--snapshot"][..]] {
        let out = Command::new(&copy)
            .arg("-p")
            .arg(&log)
            .arg("--ldb")
            .arg(&ldb)
            .arg("--no-follow")
            .args(args)
            .env_remove("CTLSTORE_PATH")
            .uid(65534)
            .gid(65534)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}: {out:?}");
        let stderr = stderr_of(&out);
        assert!(
            stderr.contains("no writer has it open")
                && stderr.contains("start ctlstore's reflector"),
            "{stderr}"
        );
        assert!(out.stdout.is_empty(), "nothing printed before the refusal");
        for suffix in ["ldb.db-wal", "ldb.db-shm"] {
            assert!(!dir.path().join(suffix).exists(), "{suffix} created");
        }
    }
}
