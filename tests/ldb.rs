//! Row lookups in real SQLite files made here, in WAL mode as ctlstore's
//! LDB is, with a writer connection on the side.

use changelog_tail::{ColumnValue, Event, Ldb, LdbErrorKind, RowLookup};
use rusqlite::Connection;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// A directory with `ldb.db` (WAL mode, `schema` applied) and the writer's
/// connection to it.
struct Fixture {
    _dir: TempDir,
    path: PathBuf,
    writer: Connection,
}

fn fixture(schema: &str) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ldb.db");
    let writer = writer(&path, schema);
    Fixture {
        _dir: dir,
        path,
        writer,
    }
}

fn writer(path: &std::path::Path, schema: &str) -> Connection {
    let writer = Connection::open(path).unwrap();
    let mode: String = writer
        .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    writer.execute_batch(schema).unwrap();
    writer
}

impl Fixture {
    fn ldb(&self) -> Ldb {
        Ldb::open(&self.path).unwrap()
    }
}

/// The row's JSON, or what was found instead.
fn lookup(ldb: &mut Ldb, family: &str, table: &str, keys: &[(&str, &str, &str)]) -> String {
    match ldb.lookup(family, table, keys.iter().copied()).unwrap() {
        RowLookup::Found(row) => {
            let mut json = Vec::new();
            row.write_json(&mut json).unwrap();
            let json = String::from_utf8(json).unwrap();
            assert_eq!(json, serde_json::to_string(&row).unwrap());
            json
        }
        other => format!("{other:?}"),
    }
}

#[test]
fn integer_key_finds_its_row() {
    let f = fixture(
        "CREATE TABLE fam___foo (id INTEGER PRIMARY KEY, name VARCHAR(191));
         INSERT INTO fam___foo VALUES (1, 'one'), (2, 'two');",
    );
    let mut ldb = f.ldb();
    assert_eq!(
        lookup(&mut ldb, "fam", "foo", &[("id", "INTEGER", "2")]),
        r#"{"id":2,"name":"two"}"#
    );
    // Older logs' type names, and names in another case.
    assert_eq!(
        lookup(&mut ldb, "FAM", "Foo", &[("id", "INT", "1")]),
        r#"{"id":1,"name":"one"}"#
    );
}

#[test]
fn text_key_with_quotes_backslashes_and_unicode_finds_its_row() {
    let f = fixture(
        "CREATE TABLE fam___users (name VARCHAR(191) PRIMARY KEY, n INTEGER);
         INSERT INTO fam___users VALUES ('a\"b\\c' || char(233), 1), ('a\"b\\c', 2);",
    );
    let mut ldb = f.ldb();
    assert_eq!(
        lookup(
            &mut ldb,
            "fam",
            "users",
            &[("name", "VARCHAR(191)", r#""a\"b\\c\u00e9""#)]
        ),
        r#"{"name":"a\"b\\cé","n":1}"#
    );
    assert_eq!(
        lookup(
            &mut ldb,
            "fam",
            "users",
            &[("name", "VARCHAR", r#""a\"b\\c""#)]
        ),
        r#"{"name":"a\"b\\c","n":2}"#
    );
}

#[test]
fn integer_key_past_2_pow_53_is_matched_exactly() {
    let f = fixture(
        "CREATE TABLE fam___big (id INTEGER PRIMARY KEY, which TEXT);
         INSERT INTO fam___big VALUES
             (9007199254740992, '2^53'), (9007199254740993, '2^53+1'),
             (9223372036854775807, 'max');",
    );
    let mut ldb = f.ldb();
    assert_eq!(
        lookup(
            &mut ldb,
            "fam",
            "big",
            &[("id", "INTEGER", "9007199254740993")]
        ),
        r#"{"id":9007199254740993,"which":"2^53+1"}"#
    );
    assert_eq!(
        lookup(
            &mut ldb,
            "fam",
            "big",
            &[("id", "INTEGER", "9223372036854775807")]
        ),
        r#"{"id":9223372036854775807,"which":"max"}"#
    );
}

#[test]
fn blob_key_is_decoded_from_base64() {
    let f = fixture(
        "CREATE TABLE fam___blobs (k BLOB(255) PRIMARY KEY, v TEXT);
         INSERT INTO fam___blobs VALUES (x'faec2055', 'found'), (CAST('+uwgVQ==' AS BLOB), 'text');",
    );
    let mut ldb = f.ldb();
    assert_eq!(
        lookup(
            &mut ldb,
            "fam",
            "blobs",
            &[("k", "BLOB(255)", r#""+uwgVQ==""#)]
        ),
        r#"{"k":"+uwgVQ==","v":"found"}"#
    );
    let error = ldb
        .lookup("fam", "blobs", [("k", "BLOB", r#""not base64!""#)])
        .unwrap_err();
    assert_eq!(error.kind(), LdbErrorKind::Key);
    assert!(error.to_string().contains("fam___blobs"), "{error}");
}

#[test]
fn two_column_key_needs_both_to_match() {
    let f = fixture(
        "CREATE TABLE fam___pairs (a INTEGER, b VARCHAR(191), v INTEGER, PRIMARY KEY (a, b));
         INSERT INTO fam___pairs VALUES (1, 'x', 10), (1, 'y', 11), (2, 'x', 20);",
    );
    let mut ldb = f.ldb();
    let mut pair = |a, b| {
        lookup(
            &mut ldb,
            "fam",
            "pairs",
            &[("a", "INTEGER", a), ("b", "VARCHAR(191)", b)],
        )
    };
    assert_eq!(pair("1", r#""y""#), r#"{"a":1,"b":"y","v":11}"#);
    assert_eq!(pair("2", r#""x""#), r#"{"a":2,"b":"x","v":20}"#);
    assert_eq!(pair("2", r#""y""#), "NoRow");
}

#[test]
fn every_column_type_is_written_as_json() {
    let f = fixture(
        "CREATE TABLE fam___types (
             id INTEGER PRIMARY KEY, big INTEGER, real REAL, neg REAL,
             text TEXT, blob BLOB, gone TEXT);
         INSERT INTO fam___types VALUES
             (1, -9223372036854775808, 0.1, -1e300,
              'q\"b\\s' || char(10) || char(1) || char(233), x'00ff10', NULL);",
    );
    let mut ldb = f.ldb();
    assert_eq!(
        lookup(&mut ldb, "fam", "types", &[("id", "INTEGER", "1")]),
        r#"{"id":1,"big":-9223372036854775808,"real":0.1,"neg":-1e+300,"text":"q\"b\\s\n\u0001é","blob":"AP8Q","gone":null}"#
    );
    let RowLookup::Found(row) = ldb.lookup("fam", "types", [("id", "INT", "1")]).unwrap() else {
        panic!("no row");
    };
    // The values themselves, for a pretty printer.
    assert_eq!(row.get("neg"), Some(&ColumnValue::Real(-1e300)));
    assert_eq!(
        row.get("blob"),
        Some(&ColumnValue::Blob(vec![0, 0xff, 0x10]))
    );
    let names: Vec<&str> = row.iter().map(|(c, _)| c).collect();
    assert_eq!(names, ["id", "big", "real", "neg", "text", "blob", "gone"]);
}

/// JSON has no number for ±infinity: `null` would say "no such row" or
/// SQL NULL, so a lookup that meets one fails (the README, Rows from the LDB), for that lookup
/// only.
#[test]
fn a_real_holding_infinity_fails_that_lookup_only() {
    let f = fixture(
        "CREATE TABLE fam___m (id INTEGER PRIMARY KEY, x REAL);
         INSERT INTO fam___m VALUES (1, 9e999), (2, -9e999), (3, 2.5);",
    );
    let mut ldb = f.ldb();
    for (id, shown) in [("1", "inf"), ("2", "-inf")] {
        let e = ldb.lookup("fam", "m", [("id", "INTEGER", id)]).unwrap_err();
        assert_eq!(e.kind(), LdbErrorKind::Value);
        assert!(
            e.to_string()
                .contains(&format!("column x: REAL value {shown}")),
            "{e}"
        );
    }
    assert_eq!(
        lookup(&mut ldb, "fam", "m", &[("id", "INTEGER", "3")]),
        r#"{"id":3,"x":2.5}"#
    );
}

#[test]
fn text_that_is_not_utf8_fails_that_lookup_only() {
    let f = fixture(
        "CREATE TABLE fam___bad (id INTEGER PRIMARY KEY, t TEXT);
         INSERT INTO fam___bad VALUES (1, CAST(x'ff' AS TEXT)), (2, 'fine');",
    );
    let mut ldb = f.ldb();
    let error = ldb.lookup("fam", "bad", [("id", "INT", "1")]).unwrap_err();
    assert_eq!(error.kind(), LdbErrorKind::Value);
    assert!(
        error.to_string().contains("table fam___bad: column t"),
        "{error}"
    );
    assert_eq!(
        lookup(&mut ldb, "fam", "bad", &[("id", "INT", "2")]),
        r#"{"id":2,"t":"fine"}"#
    );
}

#[test]
fn deleted_row_is_no_row() {
    let f = fixture(
        "CREATE TABLE fam___foo (id INTEGER PRIMARY KEY, name TEXT);
         INSERT INTO fam___foo VALUES (1, 'one');",
    );
    let mut ldb = f.ldb();
    assert_eq!(
        lookup(&mut ldb, "fam", "foo", &[("id", "INT", "1")]),
        r#"{"id":1,"name":"one"}"#
    );
    f.writer.execute("DELETE FROM fam___foo", []).unwrap();
    assert_eq!(
        lookup(&mut ldb, "fam", "foo", &[("id", "INT", "1")]),
        "NoRow"
    );
    assert_eq!(
        lookup(&mut ldb, "fam", "foo", &[("id", "INT", "7")]),
        "NoRow"
    );
}

#[test]
fn missing_table_is_reported_once_then_found_once_created() {
    let f = fixture("CREATE TABLE fam___other (id INTEGER PRIMARY KEY);");
    let mut ldb = f.ldb();
    let key = [("id", "INT", "1")];
    assert_eq!(
        lookup(&mut ldb, "fam", "later", &key),
        "NoTable { first_time: true }"
    );
    assert_eq!(
        lookup(&mut ldb, "fam", "later", &key),
        "NoTable { first_time: false }"
    );
    // Another missing table gets its own first time.
    assert_eq!(
        lookup(&mut ldb, "fam", "never", &key),
        "NoTable { first_time: true }"
    );
    f.writer
        .execute_batch(
            "CREATE TABLE fam___later (id INTEGER PRIMARY KEY, v TEXT);
             INSERT INTO fam___later VALUES (1, 'now');",
        )
        .unwrap();
    assert_eq!(
        lookup(&mut ldb, "fam", "later", &key),
        r#"{"id":1,"v":"now"}"#
    );
    assert_eq!(
        lookup(&mut ldb, "fam", "never", &key),
        "NoTable { first_time: false }"
    );
}

#[test]
fn dropped_table_becomes_no_table() {
    let f = fixture(
        "CREATE TABLE fam___foo (id INTEGER PRIMARY KEY);
         INSERT INTO fam___foo VALUES (1);",
    );
    let mut ldb = f.ldb();
    let key = [("id", "INT", "1")];
    assert_eq!(lookup(&mut ldb, "fam", "foo", &key), r#"{"id":1}"#);
    f.writer.execute_batch("DROP TABLE fam___foo").unwrap();
    assert_eq!(
        lookup(&mut ldb, "fam", "foo", &key),
        "NoTable { first_time: true }"
    );
}

#[test]
fn names_that_cannot_be_a_table_are_no_table() {
    let f = fixture(
        "CREATE TABLE fam___foo (id INTEGER PRIMARY KEY);
         INSERT INTO fam___foo VALUES (1);",
    );
    let mut ldb = f.ldb();
    let key = [("id", "INT", "1")];
    for (family, table) in [
        ("fam", "foo\"; DROP TABLE fam___foo; --"),
        ("fam", "foo "),
        ("", "foo"),
        ("fam", "fóo"),
    ] {
        assert_eq!(
            lookup(&mut ldb, family, table, &key),
            "NoTable { first_time: true }",
            "{family:?} {table:?}"
        );
    }
    assert_eq!(lookup(&mut ldb, "fam", "foo", &key), r#"{"id":1}"#);
}

#[test]
fn key_column_the_table_lacks_is_an_error_naming_the_table() {
    let f = fixture("CREATE TABLE fam___foo (id INTEGER PRIMARY KEY);");
    let mut ldb = f.ldb();
    let error = ldb
        .lookup("fam", "foo", [("nope\"", "INT", "1")])
        .unwrap_err();
    assert_eq!(error.kind(), LdbErrorKind::Key);
    let message = error.to_string();
    assert!(message.contains("table fam___foo"), "{message}");
    assert!(message.contains(r#"no such column: "nope"""#), "{message}");
    let error = ldb
        .lookup("fam", "foo", std::iter::empty::<(&str, &str, &str)>())
        .unwrap_err();
    assert_eq!(error.kind(), LdbErrorKind::Key);
}

#[test]
fn open_write_transaction_does_not_hold_up_a_lookup() {
    let f = fixture(
        "CREATE TABLE fam___foo (id INTEGER PRIMARY KEY, v TEXT);
         INSERT INTO fam___foo VALUES (1, 'committed');",
    );
    let mut ldb = f.ldb();
    f.writer
        .execute_batch(
            "BEGIN IMMEDIATE;
             UPDATE fam___foo SET v = 'uncommitted' WHERE id = 1;
             INSERT INTO fam___foo VALUES (2, 'uncommitted');",
        )
        .unwrap();
    let start = Instant::now();
    assert_eq!(
        lookup(&mut ldb, "fam", "foo", &[("id", "INT", "1")]),
        r#"{"id":1,"v":"committed"}"#
    );
    assert_eq!(
        lookup(&mut ldb, "fam", "foo", &[("id", "INT", "2")]),
        "NoRow"
    );
    let took = start.elapsed();
    assert!(took < Duration::from_millis(50), "took {took:?}");
    f.writer.execute_batch("COMMIT").unwrap();
    assert_eq!(
        lookup(&mut ldb, "fam", "foo", &[("id", "INT", "2")]),
        r#"{"id":2,"v":"uncommitted"}"#
    );
}

#[test]
fn lookups_do_not_hold_back_a_checkpoint() {
    let f = fixture(
        "CREATE TABLE fam___foo (id INTEGER PRIMARY KEY, v TEXT);
         INSERT INTO fam___foo VALUES (1, 'a');",
    );
    let mut ldb = f.ldb();
    for id in ["1", "2"] {
        lookup(&mut ldb, "fam", "foo", &[("id", "INT", id)]);
    }
    f.writer
        .execute("INSERT INTO fam___foo VALUES (3, 'c')", [])
        .unwrap();
    // (busy, log frames, checkpointed frames): busy would mean a reader
    // still holds a snapshot.
    let (busy, log, done): (i64, i64, i64) = f
        .writer
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
    assert_eq!((busy, log, done), (0, 0, 0));
    assert_eq!(
        lookup(&mut ldb, "fam", "foo", &[("id", "INT", "3")]),
        r#"{"id":3,"v":"c"}"#
    );
}

#[test]
fn replaced_ldb_is_reopened() {
    let f = fixture(
        "CREATE TABLE fam___foo (id INTEGER PRIMARY KEY, v TEXT);
         INSERT INTO fam___foo VALUES (1, 'old');",
    );
    let mut ldb = f.ldb();
    let key = [("id", "INT", "1")];
    assert_eq!(
        lookup(&mut ldb, "fam", "foo", &key),
        r#"{"id":1,"v":"old"}"#
    );
    // A restored snapshot: a new file, complete and closed, renamed over
    // the LDB; the old writer is gone.
    let new = f.path.with_file_name("snapshot.db");
    drop(writer(
        &new,
        "CREATE TABLE fam___foo (id INTEGER PRIMARY KEY, v TEXT);
         INSERT INTO fam___foo VALUES (1, 'new'), (2, 'only new');",
    ));
    let Fixture {
        _dir,
        path,
        writer: old_writer,
    } = f;
    drop(old_writer);
    // The old log must go with the old file: SQLite would otherwise read
    // (and a writer checkpoint) the old file's pages into the new one.
    for stale in ["ldb.db-wal", "ldb.db-shm"] {
        std::fs::remove_file(path.with_file_name(stale)).unwrap();
    }
    std::fs::rename(&new, &path).unwrap();
    // Seen at the first lookup after the check interval.
    std::thread::sleep(Duration::from_millis(150));
    assert_eq!(
        lookup(&mut ldb, "fam", "foo", &key),
        r#"{"id":1,"v":"new"}"#
    );
    assert_eq!(
        lookup(&mut ldb, "fam", "foo", &[("id", "INT", "2")]),
        r#"{"id":2,"v":"only new"}"#
    );
    // And the new writer's changes from then on.
    let new_writer = writer(&path, "INSERT INTO fam___foo VALUES (3, 'written')");
    assert_eq!(
        lookup(&mut ldb, "fam", "foo", &[("id", "INT", "3")]),
        r#"{"id":3,"v":"written"}"#
    );
    drop(new_writer);
}

#[test]
fn removed_ldb_fails_lookups_rather_than_read_the_old_file() {
    let f = fixture(
        "CREATE TABLE fam___foo (id INTEGER PRIMARY KEY);
         INSERT INTO fam___foo VALUES (1);",
    );
    let mut ldb = f.ldb();
    let key = [("id", "INT", "1")];
    assert_eq!(lookup(&mut ldb, "fam", "foo", &key), r#"{"id":1}"#);
    std::fs::remove_file(&f.path).unwrap();
    std::thread::sleep(Duration::from_millis(150));
    let error = ldb.lookup("fam", "foo", key).unwrap_err();
    assert_eq!(error.kind(), LdbErrorKind::Open);
    assert!(error.to_string().contains("ldb.db"), "{error}");
}

#[test]
fn an_ldb_that_cannot_be_opened_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.db");
    let not_sqlite = dir.path().join("change.log");
    std::fs::write(&not_sqlite, "{\"seq\":1}\n".repeat(100)).unwrap();
    for path in [&missing, &not_sqlite, &dir.path().to_path_buf()] {
        let error = Ldb::open(path).unwrap_err();
        assert_eq!(error.kind(), LdbErrorKind::Open, "{error}");
        assert!(
            error.to_string().contains(&*path.to_string_lossy()),
            "{error}"
        );
    }
}

#[test]
fn owned_and_borrowed_events_find_the_same_row() {
    let f = fixture(
        "CREATE TABLE fam___foo (id INTEGER, name VARCHAR(191), v TEXT, PRIMARY KEY (id, name));
         INSERT INTO fam___foo VALUES (9007199254740993, 'x\"y', 'found');",
    );
    let mut ldb = f.ldb();
    let line = r#"{"seq":1,"family":"fam","table":"foo","key":[{"name":"id","type":"INTEGER","value":9007199254740993},{"name":"name","type":"VARCHAR(191)","value":"x\"y"}]}"#;
    let borrowed = changelog_tail::decode(line.as_bytes()).unwrap().unwrap();
    let owned: Event = borrowed.to_event();
    let from_ref = ldb.row_ref(&borrowed).unwrap();
    assert!(
        matches!(&from_ref, RowLookup::Found(row) if row.get("v") == Some(&ColumnValue::Text("found".into())))
    );
    assert_eq!(ldb.row(&owned).unwrap(), from_ref);
}

#[test]
fn added_column_shows_in_the_next_lookup() {
    let f = fixture(
        "CREATE TABLE fam___foo (id INTEGER PRIMARY KEY, a TEXT);
         INSERT INTO fam___foo VALUES (1, 'x');",
    );
    let mut ldb = f.ldb();
    let key = [("id", "INT", "1")];
    assert_eq!(lookup(&mut ldb, "fam", "foo", &key), r#"{"id":1,"a":"x"}"#);
    f.writer
        .execute_batch("ALTER TABLE fam___foo ADD COLUMN b INTEGER DEFAULT 7")
        .unwrap();
    assert_eq!(
        lookup(&mut ldb, "fam", "foo", &key),
        r#"{"id":1,"a":"x","b":7}"#
    );
}

#[test]
fn ldb_busy_past_the_bound_fails_that_lookup_promptly() {
    // A WAL reader is kept waiting only in rare windows (WAL recovery);
    // an LDB in rollback-journal mode (a snapshot before the reflector
    // switches it to WAL) keeps readers out for as long as a writer holds
    // its exclusive lock. That is the bound at work.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ldb.db");
    let writer = Connection::open(&path).unwrap();
    writer
        .execute_batch(
            "PRAGMA journal_mode=DELETE;
             CREATE TABLE fam___foo (id INTEGER PRIMARY KEY);
             INSERT INTO fam___foo VALUES (1);",
        )
        .unwrap();
    let mut ldb = Ldb::open(&path).unwrap();
    let key = [("id", "INT", "1")];
    assert_eq!(lookup(&mut ldb, "fam", "foo", &key), r#"{"id":1}"#);
    writer
        .execute_batch("BEGIN EXCLUSIVE; INSERT INTO fam___foo VALUES (2);")
        .unwrap();
    let start = Instant::now();
    let error = ldb.lookup("fam", "foo", key).unwrap_err();
    let took = start.elapsed();
    assert_eq!(error.kind(), LdbErrorKind::Busy, "{error}");
    assert!(error.to_string().contains("table fam___foo"), "{error}");
    assert!(
        took >= changelog_tail::LDB_BUSY_TIMEOUT && took < Duration::from_secs(1),
        "took {took:?}"
    );
    // Once the writer lets go, lookups work again.
    writer.execute_batch("COMMIT").unwrap();
    assert_eq!(
        lookup(&mut ldb, "fam", "foo", &[("id", "INT", "2")]),
        r#"{"id":2}"#
    );
}

#[test]
fn ldb_and_its_errors_can_move_between_threads() {
    fn send<T: Send>() {}
    fn send_sync<T: Send + Sync + 'static>() {}
    send::<Ldb>();
    send_sync::<changelog_tail::LdbError>();
    send_sync::<RowLookup>();
}

/// The crate's errors leave their cause to `source()`, so that a chain
/// printed cause by cause (as `anyhow`'s `{:#}` and every error reporter
/// print it) says each once: `LdbError` must not put its source in its own
/// message as well.
#[test]
fn ldb_error_says_its_cause_once_when_the_chain_is_printed() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("ldb.db");
    std::fs::write(
        &path,
        "not a database, long enough to have a header........",
    )
    .unwrap();
    let err = Ldb::open(&path).unwrap_err();
    let mut chain = err.to_string();
    let mut cause = std::error::Error::source(&err);
    while let Some(c) = cause {
        chain.push_str(&format!(": {c}"));
        cause = c.source();
    }
    let cause = std::error::Error::source(&err)
        .expect("the SQLite error is kept as the source")
        .to_string();
    assert!(
        !err.to_string().contains(&cause),
        "the message repeats its source; printed as a chain: {chain}"
    );
}
