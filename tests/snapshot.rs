//! `ChangelogIterator::snapshot` through the library: every row once, in
//! key order, across the chunks it is read in; as of one instant; the
//! iterator moved to that instant's position, at the start and mid-run.
//! Real SQLite files in WAL mode with a writer connection on the side, and
//! real changelog files.

use changelog_tail::{ChangelogIterator, Filter, Ldb, LdbErrorKind, Next, SnapshotRow};
use rusqlite::Connection;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// An LDB (WAL mode, `schema` applied, the writer's connection kept open
/// as ctlstore's is) and a changelog beside it.
struct Host {
    _dir: tempfile::TempDir,
    ldb: PathBuf,
    log: PathBuf,
    writer: Connection,
}

impl Host {
    fn new(schema: &str) -> Host {
        let dir = tempfile::tempdir().unwrap();
        let ldb = dir.path().join("ldb.db");
        let log = dir.path().join("change.log");
        let writer = Connection::open(&ldb).unwrap();
        let mode: String = writer
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        writer.execute_batch(schema).unwrap();
        std::fs::write(&log, "").unwrap();
        Host {
            _dir: dir,
            ldb,
            log,
            writer,
        }
    }

    /// Appends the changelog lines of `seqs` (table fam.foo, key id = seq).
    fn append(&self, seqs: impl IntoIterator<Item = i64>) {
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.log)
            .unwrap();
        for seq in seqs {
            writeln!(file, "{}", line(seq)).unwrap();
        }
    }

    fn events(&self, filter: Filter) -> ChangelogIterator {
        ChangelogIterator::builder(&self.log)
            .filter(filter)
            .follow(false)
            .open()
            .unwrap()
    }
}

fn line(seq: i64) -> String {
    format!(
        r#"{{"seq":{seq},"family":"fam","table":"foo","key":[{{"name":"id","type":"INTEGER","value":{seq}}}]}}"#
    )
}

/// A row's NDJSON line.
fn json(row: &SnapshotRow) -> String {
    let mut out = Vec::new();
    row.write_json(&mut out).unwrap();
    String::from_utf8(out).unwrap()
}

/// Every item of a snapshot, rows as NDJSON, errors by kind.
fn all(ldb: &mut Ldb, events: &mut ChangelogIterator) -> Vec<Result<String, LdbErrorKind>> {
    events
        .snapshot(ldb)
        .unwrap()
        .map(|item| item.as_ref().map(json).map_err(|e| e.kind()))
        .collect()
}

/// The seqs the iterator hands out until the end of its file.
fn seqs(events: &mut ChangelogIterator) -> Vec<i64> {
    let mut seqs = Vec::new();
    loop {
        match events.next_until(Some(Instant::now() + Duration::from_secs(10))) {
            Ok(Next::Item(event)) => seqs.push(event.seq),
            Ok(Next::End) => return seqs,
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// Rows past one chunk (256 rows) and past one chunk's bytes (1 MiB), in
/// a rowid table and in a `WITHOUT ROWID` table with a two-column key:
/// each row once, in key order, keys typed as declared.
#[test]
fn every_row_once_in_key_order_across_chunks() {
    let host = Host::new(
        "CREATE TABLE fam___big (id INTEGER PRIMARY KEY, payload BLOB);
         CREATE TABLE fam___pair (k VARCHAR(191), n INTEGER, v TEXT, PRIMARY KEY (k, n)) WITHOUT ROWID;",
    );
    {
        let tx = host.writer.unchecked_transaction().unwrap();
        // Rows of 20 KiB: a chunk's bytes run out after about 52 of them.
        for id in (1..=600).rev() {
            tx.execute(
                "INSERT INTO fam___big VALUES (?1, zeroblob(20000))",
                [id * 3],
            )
            .unwrap();
        }
        for i in 0..700 {
            tx.execute(
                "INSERT INTO fam___pair VALUES (?1, ?2, 'x')",
                rusqlite::params![format!("k{:03}", i % 70), 1000 - i],
            )
            .unwrap();
        }
        tx.commit().unwrap();
    }
    let mut ldb = Ldb::open(&host.ldb).unwrap();
    let mut events = host.events(Filter::new());
    let mut snapshot = events.snapshot(&mut ldb).unwrap();
    assert_eq!(snapshot.table_count(), 2);
    let (mut big, mut pair) = (Vec::new(), Vec::new());
    for row in &mut snapshot {
        let row = row.unwrap();
        let keys: Vec<String> = row.keys().map(|(_, _, v)| v.to_string()).collect();
        match row.table() {
            "big" => {
                assert_eq!(row.row().len(), 2);
                big.push(keys[0].parse::<i64>().unwrap());
            }
            "pair" => pair.push((keys[0].clone(), keys[1].parse::<i64>().unwrap())),
            other => panic!("table {other}"),
        }
    }
    assert_eq!(big, (1..=600).map(|id| id * 3).collect::<Vec<_>>());
    let mut expected: Vec<(String, i64)> = (0..700)
        .map(|i| (format!("\"k{:03}\"", i % 70), 1000 - i))
        .collect();
    expected.sort();
    assert_eq!(pair, expected, "every row once, in key order");
    assert_eq!(snapshot.progress().rows, 1300);
    assert_eq!(snapshot.progress().table, None);
}

/// The NDJSON of a row: keys in key order (not column order), with their
/// declared types, blobs as base64, then the whole row.
#[test]
fn a_row_is_written_as_ctlstore_writes_keys() {
    let host = Host::new(
        "CREATE TABLE fam___foo (note TEXT, b BLOB(255), id INTEGER, PRIMARY KEY (id, b));
         INSERT INTO fam___foo VALUES ('a \"q\"', x'faec', 9007199254740993);",
    );
    let mut ldb = Ldb::open(&host.ldb).unwrap();
    let mut events = host.events(Filter::new());
    assert_eq!(
        all(&mut ldb, &mut events),
        [Ok(concat!(
            r#"{"snapshot":"row","family":"fam","table":"foo","keys":["#,
            r#"{"name":"id","type":"INTEGER","value":9007199254740993},"#,
            r#"{"name":"b","type":"BLOB(255)","value":"+uw="}],"#,
            r#""row":{"note":"a \"q\"","b":"+uw=","id":9007199254740993}}"#
        )
        .to_owned())]
    );
}

/// The rows are those of the instant the snapshot was taken: writes made
/// while it is read do not show in it, and come after it as changes.
#[test]
fn rows_are_as_of_the_instant_and_later_changes_follow() {
    let host = Host::new(
        "CREATE TABLE fam___foo (id INTEGER PRIMARY KEY, v TEXT);
         WITH RECURSIVE s(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM s WHERE v < 1000)
         INSERT INTO fam___foo SELECT v, 'old' FROM s;",
    );
    host.append(1..=3);
    let mut ldb = Ldb::open(&host.ldb).unwrap();
    let mut events = host.events(Filter::new().family("fam").table("foo"));
    let mut snapshot = events.snapshot(&mut ldb).unwrap();
    let first = snapshot.next().unwrap().unwrap();
    assert_eq!(first.row().get("v").unwrap().to_string(), "\"old\"");
    // Past the first chunk's statement: the next ones read the same view.
    host.writer
        .execute_batch("UPDATE fam___foo SET v = 'new'; DELETE FROM fam___foo WHERE id = 1000; INSERT INTO fam___foo VALUES (1001, 'new');")
        .unwrap();
    host.append(4..=5);
    let rest: Vec<SnapshotRow> = snapshot.map(Result::unwrap).collect();
    assert_eq!(rest.len(), 999);
    assert!(
        rest.iter()
            .all(|r| r.row().get("v").unwrap().to_string() == "\"old\"")
    );
    assert_eq!(
        rest.last().unwrap().keys().next().unwrap().2.to_string(),
        "1000"
    );
    assert_eq!(
        seqs(&mut events),
        [4, 5],
        "the changes after the snapshot, none before"
    );
}

/// The position is after the last complete line: a line the writer is
/// still writing comes after the snapshot, and is checked against the
/// line before (a gap after the position is still out of sync).
#[test]
fn position_is_after_the_last_complete_line() {
    let host = Host::new("CREATE TABLE fam___foo (id INTEGER PRIMARY KEY);");
    host.append(1..=2);
    let partial = line(3);
    let (head, tail) = partial.split_at(20);
    std::fs::OpenOptions::new()
        .append(true)
        .open(&host.log)
        .unwrap()
        .write_all(head.as_bytes())
        .unwrap();
    let mut ldb = Ldb::open(&host.ldb).unwrap();
    let mut events = host.events(Filter::new());
    assert_eq!(all(&mut ldb, &mut events), []);
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&host.log)
        .unwrap();
    writeln!(file, "{tail}").unwrap();
    writeln!(file, "{}", line(5)).unwrap();
    assert!(matches!(events.next_until(None), Ok(Next::Item(e)) if e.seq == 3));
    match events.next_until(None) {
        Err(changelog_tail::Error::OutOfSync { event, .. }) => assert_eq!(event.seq, 5),
        other => panic!("expected out of sync at 5, got {other:?}"),
    }
}

/// Mid-run, after a gap, a snapshot moves reading to the end of the file
/// as it is then: what was between is in the snapshot, not repeated.
#[test]
fn a_snapshot_mid_run_moves_reading_to_its_instant() {
    let host = Host::new(
        "CREATE TABLE fam___foo (id INTEGER PRIMARY KEY);
         INSERT INTO fam___foo VALUES (1), (2);",
    );
    host.append([1, 2, 7, 8, 9]);
    let mut ldb = Ldb::open(&host.ldb).unwrap();
    let mut events = host.events(Filter::new());
    assert!(matches!(events.next_until(None), Ok(Next::Item(e)) if e.seq == 1));
    assert!(matches!(events.next_until(None), Ok(Next::Item(e)) if e.seq == 2));
    assert!(matches!(
        events.next_until(None),
        Err(changelog_tail::Error::OutOfSync { .. })
    ));
    assert_eq!(all(&mut ldb, &mut events).len(), 2);
    host.append([10, 11]);
    assert_eq!(
        seqs(&mut events),
        [10, 11],
        "from after seq 9, checked against it"
    );
}

/// Family, table (globs too) and key conditions select tables and rows; a
/// table the filter names outright that the LDB lacks is named.
#[test]
fn the_filter_selects_tables_and_rows() {
    let host = Host::new(
        "CREATE TABLE fam___users (id INTEGER PRIMARY KEY, name TEXT);
         CREATE TABLE fam___user_roles (id INTEGER PRIMARY KEY);
         CREATE TABLE other___users (id INTEGER PRIMARY KEY);
         CREATE TABLE _ldb_seq (id INTEGER PRIMARY KEY);
         CREATE TABLE notctlstore (id INTEGER PRIMARY KEY);
         INSERT INTO fam___users VALUES (1, 'a'), (42, 'b');
         INSERT INTO fam___user_roles VALUES (42);
         INSERT INTO other___users VALUES (42);",
    );
    let mut ldb = Ldb::open(&host.ldb).unwrap();
    let tables = |filter: Filter, ldb: &mut Ldb| -> Vec<String> {
        let mut events = host.events(filter);
        let snapshot = events.snapshot(ldb).unwrap();
        snapshot
            .map(|r| {
                let r = r.unwrap();
                format!(
                    "{}.{}:{}",
                    r.family(),
                    r.table(),
                    r.keys().next().unwrap().2
                )
            })
            .collect()
    };
    assert_eq!(
        tables(Filter::new(), &mut ldb),
        [
            "fam.user_roles:42",
            "fam.users:1",
            "fam.users:42",
            "other.users:42"
        ],
        "no filter: every ctlstore table, none of SQLite's or others'"
    );
    assert_eq!(
        tables(Filter::new().table("USER*").key("ID", "42"), &mut ldb),
        ["fam.user_roles:42", "fam.users:42", "other.users:42"]
    );
    let mut events = host.events(Filter::new().family("fam").table("users").table("gone"));
    let snapshot = events.snapshot(&mut ldb).unwrap();
    assert_eq!(snapshot.missing_tables(), ["fam___gone"]);
    assert_eq!(snapshot.table_count(), 1);
}

/// A row JSON cannot show is an error naming its keys, and the rows after
/// it still come.
#[test]
fn a_row_that_cannot_be_shown_is_an_error_and_the_rest_goes_on() {
    let host = Host::new(
        "CREATE TABLE fam___foo (id INTEGER PRIMARY KEY, r REAL);
         INSERT INTO fam___foo VALUES (1, 0.5), (2, 1e999), (3, 2.5);",
    );
    let mut ldb = Ldb::open(&host.ldb).unwrap();
    let mut events = host.events(Filter::new());
    let mut snapshot = events.snapshot(&mut ldb).unwrap();
    assert!(snapshot.next().unwrap().is_ok());
    let error = snapshot.next().unwrap().unwrap_err();
    assert_eq!(error.kind(), LdbErrorKind::Value);
    let message = error.to_string();
    assert!(
        message.contains("id=2") && message.contains("fam___foo"),
        "{message}"
    );
    let last = snapshot.next().unwrap().unwrap();
    assert_eq!(last.row().get("r").unwrap().to_string(), "2.5");
    assert!(snapshot.next().is_none());
}

/// The read transaction ends with the last row: a checkpoint can then
/// reset the write-ahead log (it could not while the snapshot was open).
#[test]
fn the_read_ends_with_the_last_row() {
    let host = Host::new(
        "CREATE TABLE fam___foo (id INTEGER PRIMARY KEY);
         WITH RECURSIVE s(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM s WHERE v < 300)
         INSERT INTO fam___foo SELECT v FROM s;",
    );
    let mut ldb = Ldb::open(&host.ldb).unwrap();
    let mut events = host.events(Filter::new());
    let mut snapshot = events.snapshot(&mut ldb).unwrap();
    snapshot.next().unwrap().unwrap();
    host.writer
        .execute("INSERT INTO fam___foo VALUES (301)", [])
        .unwrap();
    // Told at once, not after the default five seconds of retries.
    host.writer.busy_timeout(Duration::ZERO).unwrap();
    let busy = |writer: &Connection| -> i64 {
        writer
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(busy(&host.writer), 1, "held back while the snapshot reads");
    assert_eq!(snapshot.by_ref().count(), 299);
    assert_eq!(busy(&host.writer), 0, "free once the last row is read");
}

/// A table that cannot be read in a stable order (its columns take every
/// name of its rowid, and it has no key to page by) is an error naming it,
/// said first, and the other tables' rows still come.
#[test]
fn a_table_that_cannot_be_read_is_an_error_and_the_rest_goes_on() {
    let host = Host::new(
        "CREATE TABLE fam___aliases (rowid TEXT, oid TEXT, _rowid_ TEXT);
         INSERT INTO fam___aliases VALUES ('a', 'b', 'c');
         CREATE TABLE fam___foo (id INTEGER PRIMARY KEY);
         INSERT INTO fam___foo VALUES (1), (2);",
    );
    let mut ldb = Ldb::open(&host.ldb).unwrap();
    let mut events = host.events(Filter::new());
    let mut snapshot = events.snapshot(&mut ldb).unwrap();
    assert_eq!(snapshot.table_count(), 1);
    let error = snapshot.next().unwrap().unwrap_err();
    assert_eq!(error.kind(), LdbErrorKind::Table);
    assert_eq!(error.table_name(), Some("fam___aliases"));
    let rows: Vec<String> = snapshot.map(|r| json(&r.unwrap())).collect();
    assert_eq!(rows.len(), 2);
}
