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
        let db = Connection::open(&ldb).unwrap();
        let mode: String = db
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        db.execute_batch(SCHEMA).unwrap();
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
        (&["--ldb", ldb][..], "add --rows"),
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
