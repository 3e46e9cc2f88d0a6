//! One LDB row lookup, as `--rows` does per printed event.
//!
//! `cargo bench --bench ldb`. A WAL-mode table of 100,000 rows with ten
//! columns of every type, as ctlstore's reflector leaves it; each
//! iteration looks up one row (a different one each time, so the probe is
//! not answered from a single cached page). Criterion's time is per lookup.
//! Also measured: the JSON output of a found row, a row that does not
//! exist, a table that does not exist (the schema-version check), and the
//! `stat` that detects a replaced LDB (what `REPLACED_CHECK` spares), and
//! settling (the write lock taken and given back: once per batch of lines
//! read with `--rows`).
//!
//! Measured on the 2-core development machine (target: at most 20 µs):
//! found row 3.2 µs, with its JSON 3.5 µs, two-column key 3.5 µs, no row
//! 1.9 µs, no table 1.6 µs; a `stat` of the path 0.9 µs; settling 4.2 µs
//! (per batch of lines, not per event).

use changelog_tail::{Ldb, RowLookup};
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

const ROWS: i64 = 100_000;

fn ldb(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ldb.db");
    let writer = rusqlite::Connection::open(&path).unwrap();
    writer
        .execute_batch(
            "PRAGMA journal_mode=WAL;
             CREATE TABLE fam___accounts (
                 id INTEGER PRIMARY KEY, name VARCHAR(191), email VARCHAR(191),
                 plan VARCHAR(191), seats INTEGER, balance REAL, created INTEGER,
                 token BLOB(255), note TEXT, deleted INTEGER);
             CREATE TABLE fam___regions (
                 account INTEGER, region VARCHAR(191), weight REAL,
                 PRIMARY KEY (account, region));
             BEGIN;",
        )
        .unwrap();
    {
        let mut insert = writer
            .prepare(
                "INSERT INTO fam___accounts VALUES
                 (?1, 'account ' || ?1, 'user' || ?1 || '@example.com', 'team', ?1 % 50,
                  ?1 * 1.25, 1700000000 + ?1, randomblob(16), 'a \"quoted\" note', NULL)",
            )
            .unwrap();
        let mut region = writer
            .prepare("INSERT INTO fam___regions VALUES (?1, 'us-west-2', 0.5)")
            .unwrap();
        for id in 1..=ROWS {
            insert.execute([id]).unwrap();
            region.execute([id]).unwrap();
        }
    }
    writer.execute_batch("COMMIT").unwrap();

    let mut ldb = Ldb::open(&path).unwrap();
    let mut group = c.benchmark_group("ldb lookup");
    let mut id: i64 = 0;
    let mut next_id = move || {
        // A stride through the table: every lookup on another page.
        id = (id + 7919) % ROWS + 1;
        itoa::Buffer::new().format(id).to_owned()
    };
    let ids: Vec<String> = (0..4096).map(|_| next_id()).collect();
    let mut i = 0;
    let mut key = || {
        i = (i + 1) % ids.len();
        ids[i].as_str()
    };

    group.bench_function("found, integer key, 10 columns", |b| {
        b.iter(|| {
            let found = ldb
                .lookup("fam", "accounts", [("id", "INTEGER", key())])
                .unwrap();
            assert!(matches!(found, RowLookup::Found(_)));
            black_box(found)
        })
    });
    let mut out = Vec::with_capacity(1024);
    group.bench_function("found, integer key, 10 columns, as JSON", |b| {
        b.iter(|| {
            let RowLookup::Found(row) = ldb
                .lookup("fam", "accounts", [("id", "INTEGER", key())])
                .unwrap()
            else {
                panic!("no row");
            };
            out.clear();
            row.write_json(&mut out).unwrap();
            black_box(&out);
        })
    });
    group.bench_function("found, (integer, varchar) key", |b| {
        b.iter(|| {
            let found = ldb
                .lookup(
                    "fam",
                    "regions",
                    [
                        ("account", "INTEGER", key()),
                        ("region", "VARCHAR(191)", "\"us-west-2\""),
                    ],
                )
                .unwrap();
            assert!(matches!(found, RowLookup::Found(_)));
            black_box(found)
        })
    });
    group.bench_function("no such row", |b| {
        b.iter(|| {
            let found = ldb
                .lookup("fam", "accounts", [("id", "INTEGER", "-1")])
                .unwrap();
            assert_eq!(found, RowLookup::NoRow);
            black_box(found)
        })
    });
    group.bench_function("no such table", |b| {
        b.iter(|| {
            let found = ldb
                .lookup("fam", "missing", [("id", "INTEGER", "1")])
                .unwrap();
            assert!(matches!(found, RowLookup::NoTable { .. }));
            black_box(found)
        })
    });
    // Once per batch of lines read with `--rows` (never older than the
    // event), once per snapshot.
    group.bench_function("settle: the write lock for an instant", |b| {
        b.iter(|| {
            let settled = ldb.settle().unwrap();
            assert_eq!(settled, changelog_tail::Settled::Quiet);
            black_box(settled)
        })
    });
    group.bench_function("stat of the LDB's path (replacement check)", |b| {
        b.iter(|| black_box(std::fs::metadata(black_box(&path)).unwrap()))
    });
    group.finish();
    drop(writer);
}

criterion_group!(benches, ldb);
criterion_main!(benches);
