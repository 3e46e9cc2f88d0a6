//! A snapshot: every row of the tables a filter selects, as of one
//! instant, and the changelog iterator moved to that instant's position,
//! so that the changes after it follow the rows without a hole.
//!
//! The order of the steps is the whole point (see ctlstore's pkg/ldbwriter:
//! a single statement commits, then writes its changelog lines; a ledger
//! transaction writes its lines, then commits):
//!
//! 1. Take the LDB's write lock for an instant (`super::write_lock`): no write
//!    transaction is open, so every line in the changelog belongs to a
//!    committed change.
//! 2. Pin the read snapshot on a connection of its own (`BEGIN` and a
//!    first read: WAL keeps that view for as long as the transaction).
//! 3. Move the iterator after the last complete line of its current file
//!    (as `--from end`).
//! 4. Give the lock back: the writer waited a few microseconds at most.
//!
//! Every line before the position has its change in the snapshot; every
//! change committed after the pin has its line after the position. A
//! change committed between the lock and its line (a single statement)
//! shows in both: at least once, never a hole.
//!
//! Without the lock (no write access to the LDB), the iterator goes back
//! to the start of its current file *before* the pin instead: more
//! duplicates, and a hole only if a ledger transaction was open across a
//! rotation.
//!
//! Rows are read in the table's own order (its rowid; a `WITHOUT ROWID`
//! table's primary key), a chunk at a time ([`CHUNK_ROWS`] rows or
//! [`CHUNK_BYTES`], whichever comes first), each chunk a new statement
//! that starts after the last row read (keyset paging): memory stays
//! bounded whatever the table's size, and no statement outlives a call.

use super::write_lock::Refused;
use super::{ColumnValue, Ldb, LdbError, LdbErrorKind, Lock, Row, connect, key, patiently};
use crate::error::Error;
use crate::event::{Key, KeyValue, write_json_string};
use crate::filter::Filter;
use crate::iterator::ChangelogIterator;
use rusqlite::Connection;
use rusqlite::types::{Value, ValueRef};
use std::collections::VecDeque;
use std::fmt;
use std::io::{self, Write};
use std::path::Path;
use std::sync::Arc;

/// Rows read per statement, at most.
const CHUNK_ROWS: usize = 256;

/// Bytes of text and blobs read per statement, at most (past it the chunk
/// ends after the row that crossed it): a table of large rows is read in
/// smaller chunks, so memory stays about this size.
const CHUNK_BYTES: usize = 1 << 20;

impl ChangelogIterator {
    /// Takes a snapshot of the LDB's tables that this iterator's filter
    /// selects (all of them with no family or table condition; key
    /// conditions select rows), and moves reading to where the snapshot
    /// was taken: after the last complete line of the current file, at an
    /// instant when no LDB write transaction was open. The rows come from
    /// the returned [`Snapshot`]; the changes after them from this
    /// iterator, as before. A change committed just before the instant
    /// may show in both; none is in neither.
    ///
    /// Without write access to the LDB the instant cannot be had: reading
    /// goes back to the start of the current file instead
    /// ([`Snapshot::without_lock`] says why). Mid-run (say, after
    /// [`Error::OutOfSync`]) it works the same: the proof of continuity
    /// starts again from the new position.
    ///
    /// ```
    /// use changelog_tail::{ChangelogIterator, Filter, Ldb, Next};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let (log, path) = (dir.path().join("change.log"), dir.path().join("ldb.db"));
    /// # let writer = rusqlite::Connection::open(&path)?;
    /// # writer.execute_batch(
    /// #     "PRAGMA journal_mode=WAL;
    /// #      CREATE TABLE fam___foo (id INTEGER PRIMARY KEY, name VARCHAR(191));
    /// #      INSERT INTO fam___foo VALUES (1, 'one');",
    /// # )?;
    /// # std::fs::write(&log, "{\"seq\":1,\"family\":\"fam\",\"table\":\"foo\",\"key\":[{\"name\":\"id\",\"type\":\"INTEGER\",\"value\":1}]}\n")?;
    /// let mut ldb = Ldb::open(&path)?;
    /// let mut events = ChangelogIterator::builder(&log)
    ///     .filter(Filter::new().family("fam").table("foo"))
    ///     .follow(false)
    ///     .open()?;
    /// let mut rows = Vec::new();
    /// for row in events.snapshot(&mut ldb)? {
    ///     let row = row?;
    ///     rows.push(row.to_string());
    /// }
    /// assert_eq!(rows, ["fam.foo id=1 → id=1 name=\"one\""]);
    /// // The line of seq 1 is before the snapshot: only later changes come.
    /// assert!(matches!(events.next_until(None)?, Next::End));
    /// # Ok(())
    /// # }
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "ldb")))]
    pub fn snapshot(&mut self, ldb: &mut Ldb) -> Result<Snapshot, Error> {
        ldb.reopen_if_replaced_now()?;
        let path = Arc::clone(&ldb.path);
        // The LDB's own connection has the file open: no header read.
        let (conn, _) = connect(&path, false)?;
        // Under the lock: the read pinned and the file's size taken, no
        // more (the writer waits meanwhile). Its lines are counted after.
        let held = match ldb.write_lock() {
            Ok(lock) => lock.hold(&path, || -> Result<Option<u64>, Error> {
                begin_read(&conn, &path)?;
                self.size_now()
            }),
            Err(refused) => Err(refused),
        };
        let without_lock = match held {
            Ok(size) => {
                self.restart_at_end(size?)?;
                None
            }
            Err(Refused::Unavailable(why)) => {
                ldb.unavailable(why.clone());
                self.restart_at_beginning()?;
                begin_read(&conn, &path)?;
                Some(why)
            }
            Err(Refused::Failed(e)) => {
                ldb.lock = Lock::Untried;
                return Err(e.into());
            }
        };
        let filter = ChangelogIterator::filter(self);
        let (tables, unreadable) = tables(&conn, filter, &path)
            .map_err(|e| LdbError::doing(&path, "cannot list the tables for a snapshot", e))?;
        let missing = missing(filter, &tables, &unreadable);
        Ok(Snapshot {
            path,
            conn,
            tables,
            current: 0,
            after: None,
            // The tables that cannot be read are said first.
            chunk: unreadable.into_iter().map(Err).collect(),
            filter: filter.clone(),
            rows: 0,
            missing,
            without_lock,
            done: false,
        })
    }
}

/// Begins the snapshot's read transaction and pins its view with a first
/// read (WAL: from here on, this connection sees the LDB as it is now).
fn begin_read(conn: &Connection, path: &Arc<Path>) -> Result<(), LdbError> {
    conn.execute_batch("BEGIN")
        .and_then(|()| {
            patiently(|| conn.query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(())))
        })
        .map_err(|e| LdbError::doing(path, "cannot begin a snapshot's read", e))
}

/// The rows of an LDB's tables as of one instant, read a chunk at a time
/// in the table's own order (rowid, or a `WITHOUT ROWID` table's primary
/// key); made by [`ChangelogIterator::snapshot`].
///
/// An item is a row, or an error: [`LdbErrorKind::Value`] for a row that
/// JSON cannot show (text that is not UTF-8, an infinite REAL) and
/// [`LdbErrorKind::Table`] for a table that cannot be read (said first),
/// after which the rows go on; any other error ends the snapshot.
///
/// Reading already stands where the snapshot was taken: after an error
/// that ends it (or a snapshot dropped before its last row), the rows not
/// handed out are in neither the snapshot nor the changes to come. The
/// only way on is another snapshot. The read
/// transaction ends with the last row (or when the snapshot is dropped):
/// until then the LDB's write-ahead log cannot be checkpointed past it, so
/// read the rows without dawdling.
#[derive(Debug)]
#[cfg_attr(docsrs, doc(cfg(feature = "ldb")))]
pub struct Snapshot {
    path: Arc<Path>,
    /// In its read transaction until the last table is read.
    conn: Connection,
    tables: Vec<Arc<Table>>,
    /// The table being read.
    current: usize,
    /// Where the next chunk of the current table starts (after these
    /// order-key values), or `None` at its start.
    after: Option<Vec<Value>>,
    chunk: VecDeque<Result<SnapshotRow, LdbError>>,
    /// For its key conditions.
    filter: Filter,
    rows: u64,
    missing: Vec<String>,
    without_lock: Option<String>,
    done: bool,
}

/// Where a [`Snapshot`] stands, for a person asking (`SIGUSR1`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
#[cfg_attr(docsrs, doc(cfg(feature = "ldb")))]
pub struct SnapshotProgress {
    /// The LDB table being read (`family___table`), if any is left.
    pub table: Option<String>,
    /// How many tables were read whole.
    pub tables_done: usize,
    /// How many tables the snapshot reads.
    pub tables: usize,
    /// Rows handed out so far.
    pub rows: u64,
}

impl fmt::Display for SnapshotProgress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "snapshot: {} rows", self.rows)?;
        match &self.table {
            Some(table) => write!(
                f,
                ", reading table {} ({} of {})",
                crate::escape::printable(table),
                self.tables_done + 1,
                self.tables
            ),
            None => write!(f, ", all {} tables read", self.tables),
        }
    }
}

impl Snapshot {
    /// Why the LDB's write lock could not be had, if it could not: then
    /// the changes follow from the start of the changelog's current file
    /// (more duplicates; a hole only if a ledger transaction was open
    /// across a rotation). Say it once.
    pub fn without_lock(&self) -> Option<&str> {
        self.without_lock.as_deref()
    }

    /// The tables the filter names outright (a plain family with a plain
    /// table) that the LDB does not have, as `family___table`: they give
    /// no rows.
    pub fn missing_tables(&self) -> &[String] {
        &self.missing
    }

    /// How many tables the snapshot reads.
    pub fn table_count(&self) -> usize {
        self.tables.len()
    }

    /// Where the snapshot stands.
    pub fn progress(&self) -> SnapshotProgress {
        SnapshotProgress {
            table: self.tables.get(self.current).map(|t| t.name.to_string()),
            tables_done: self.current,
            tables: self.tables.len(),
            rows: self.rows,
        }
    }

    /// Reads the next chunk of rows, table after table, until one gives
    /// some or every table is read (then the read transaction ends).
    fn fill(&mut self) -> Result<(), LdbError> {
        while self.chunk.is_empty() && self.current < self.tables.len() {
            let table = Arc::clone(&self.tables[self.current]);
            let more = patiently(|| self.read_chunk(&table)).map_err(|e| {
                LdbError::doing(&self.path, "cannot read the snapshot's rows", e).table(&table.name)
            })?;
            if !more {
                self.current += 1;
                self.after = None;
            }
        }
        if self.current == self.tables.len() && !self.done {
            self.done = true;
            // Only a read to end: should it fail, dropping the connection
            // ends it all the same.
            let _ = self.conn.execute_batch("COMMIT");
        }
        Ok(())
    }

    /// Reads one chunk of `table` after [`after`](Self::after); says
    /// whether the chunk was cut short by a bound (more rows may follow).
    fn read_chunk(&mut self, table: &Arc<Table>) -> rusqlite::Result<bool> {
        let sql = match self.after {
            Some(_) => &table.next_sql,
            None => &table.first_sql,
        };
        let mut statement = self.conn.prepare_cached(sql)?;
        for (i, value) in self.after.iter().flatten().enumerate() {
            statement.raw_bind_parameter(i + 1, value)?;
        }
        let mut rows = statement.raw_query();
        let (mut read, mut bytes) = (0, 0);
        let skip = table.order.skip();
        while let Some(row) = rows.next()? {
            read += 1;
            self.after = Some(match table.order {
                Order::Rowid(_) => vec![Value::Integer(row.get(0)?)],
                Order::PrimaryKey => table
                    .keys
                    .iter()
                    .map(|k| row.get(k.index))
                    .collect::<rusqlite::Result<_>>()?,
            });
            let mut values = Vec::with_capacity(table.columns.len());
            let mut unreadable = None;
            for (i, column) in table.columns.iter().enumerate() {
                let value = row.get_ref(i + skip)?;
                bytes += match value {
                    ValueRef::Text(b) | ValueRef::Blob(b) => b.len(),
                    _ => 8,
                };
                match ColumnValue::read(value, column) {
                    Ok(value) => values.push(value),
                    Err(why) => {
                        unreadable = Some(why);
                        break;
                    }
                }
            }
            if let Some(why) = unreadable {
                let keys = table.describe_keys(|i| row.get_ref(i + skip).ok());
                self.chunk.push_back(Err(LdbError::new(
                    &self.path,
                    LdbErrorKind::Value,
                    format!("the row with {keys} cannot be shown: {why}"),
                )
                .table(&table.name)));
            } else if self.filter.matches_keys(|name, text| {
                table
                    .keys
                    .iter()
                    .any(|k| k.name.eq_ignore_ascii_case(name) && values[k.index].text() == text)
            }) {
                self.chunk.push_back(Ok(SnapshotRow {
                    table: Arc::clone(table),
                    row: Row::new(Arc::clone(&table.columns), values),
                }));
            }
            if read == CHUNK_ROWS || bytes >= CHUNK_BYTES {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

impl Iterator for Snapshot {
    type Item = Result<SnapshotRow, LdbError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.chunk.is_empty()
            && !self.done
            && let Err(e) = self.fill()
        {
            // Nothing after a failed read can be trusted to be whole.
            self.done = true;
            self.chunk.clear();
            return Some(Err(e));
        }
        let item = self.chunk.pop_front()?;
        self.rows += u64::from(item.is_ok());
        Some(item)
    }
}

/// One row of a snapshot: its table, its primary key and every column.
#[derive(Debug, Clone)]
#[cfg_attr(docsrs, doc(cfg(feature = "ldb")))]
pub struct SnapshotRow {
    table: Arc<Table>,
    row: Row,
}

impl SnapshotRow {
    /// The table's family (its LDB name before `___`).
    pub fn family(&self) -> &str {
        &self.table.family
    }

    /// The table's name within its family.
    pub fn table(&self) -> &str {
        &self.table.table
    }

    /// The primary-key columns in key order: (name, declared SQL type,
    /// value), as ctlstore's changelog names them.
    pub fn keys(&self) -> impl ExactSizeIterator<Item = (&str, &str, &ColumnValue)> {
        let values = self.row.values();
        self.table
            .keys
            .iter()
            .map(move |k| (&*k.name, &*k.type_name, &values[k.index]))
    }

    /// The keys as an event's ([`Key`]), values in the changelog's JSON
    /// form (integers exact, text as strings, blobs as base64).
    pub fn to_keys(&self) -> Vec<Key> {
        self.keys()
            .map(|(name, type_name, value)| Key {
                name: name.to_owned(),
                type_name: type_name.to_owned(),
                value: KeyValue::from_checked(&value.to_json()),
            })
            .collect()
    }

    /// Every column, in table order.
    pub fn row(&self) -> &Row {
        &self.row
    }

    /// The row, without the rest.
    pub fn into_row(self) -> Row {
        self.row
    }

    /// Writes the row as one NDJSON object (no newline):
    /// `{"snapshot":"row","family":…,"table":…,"keys":[…],"row":{…}}`.
    pub fn write_json(&self, w: &mut impl Write) -> io::Result<()> {
        w.write_all(br#"{"snapshot":"row","family":"#)?;
        write_json_string(w, self.family())?;
        w.write_all(br#","table":"#)?;
        write_json_string(w, self.table())?;
        w.write_all(br#","keys":["#)?;
        for (i, (name, type_name, value)) in self.keys().enumerate() {
            w.write_all(if i == 0 {
                br#"{"name":"#
            } else {
                br#",{"name":"#
            })?;
            write_json_string(w, name)?;
            w.write_all(br#","type":"#)?;
            write_json_string(w, type_name)?;
            w.write_all(br#","value":"#)?;
            value.write_json(w)?;
            w.write_all(b"}")?;
        }
        w.write_all(br#"],"row":"#)?;
        self.row.write_json(w)?;
        w.write_all(b"}")
    }
}

/// The pretty form: `family.table key=value … → column=value …`, names
/// and text escaped.
impl fmt::Display for SnapshotRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = crate::escape::printable;
        write!(f, "{}.{}", shown(self.family()), shown(self.table()))?;
        for (name, _, value) in self.keys() {
            write!(f, " {}={}", shown(name), shown(&value.to_string()))?;
        }
        f.write_str(" →")?;
        for (name, value) in self.row.iter() {
            write!(f, " {}={}", shown(name), shown(&value.to_string()))?;
        }
        Ok(())
    }
}

/// A table a snapshot reads, and how.
#[derive(Debug)]
struct Table {
    /// Its LDB name, `family___table`.
    name: Box<str>,
    family: Box<str>,
    table: Box<str>,
    /// `SELECT *`'s columns.
    columns: Arc<[Box<str>]>,
    /// The primary-key columns, in key order.
    keys: Vec<KeyColumn>,
    order: Order,
    /// The first chunk's statement, and the next ones' (after the last
    /// row's order key).
    first_sql: String,
    next_sql: String,
}

/// One primary-key column.
#[derive(Debug)]
struct KeyColumn {
    name: Box<str>,
    /// As declared (`INTEGER`, `VARCHAR(191)`, `BLOB(255)`…).
    type_name: Box<str>,
    /// Its place among the columns.
    index: usize,
}

/// What rows are read in the order of.
#[derive(Debug)]
enum Order {
    /// The rowid, under a name no column takes: the table's own order,
    /// the cheapest scan.
    Rowid(&'static str),
    /// The primary key (a `WITHOUT ROWID` table, whose rows are stored so).
    PrimaryKey,
}

impl Order {
    /// Columns the statement puts before `*`.
    fn skip(&self) -> usize {
        match self {
            Order::Rowid(_) => 1,
            Order::PrimaryKey => 0,
        }
    }
}

impl Table {
    /// The keys of a row for a message, `name=value …`, from its values
    /// (`value(i)` gives column `i`'s).
    fn describe_keys<'r>(&self, value: impl Fn(usize) -> Option<ValueRef<'r>>) -> String {
        let keys: Vec<String> = self
            .keys
            .iter()
            .map(|k| {
                let shown = value(k.index)
                    .and_then(|v| ColumnValue::read(v, &k.name).ok())
                    .map_or_else(|| "?".to_owned(), |v| v.to_string());
                format!(
                    "{}={}",
                    k.name,
                    crate::escape::fragment(shown.as_bytes(), 60)
                )
            })
            .collect();
        match keys.is_empty() {
            true => "no primary key".to_owned(),
            false => keys.join(" "),
        }
    }
}

/// The LDB's ctlstore tables (`family___table`) that `filter` selects, in
/// name order, each with its columns and how to read it; and those that
/// cannot be read (each its error). Only failing to list them fails.
fn tables(
    conn: &Connection,
    filter: &Filter,
    path: &Arc<Path>,
) -> rusqlite::Result<(Vec<Arc<Table>>, Vec<LdbError>)> {
    let mut names = Vec::new();
    let mut statement =
        conn.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")?;
    let mut rows = statement.query([])?;
    let mut checked = String::new();
    while let Some(row) = rows.next()? {
        // A name that is not UTF-8 cannot be ctlstore's.
        let Ok(name) = std::str::from_utf8(row.get_ref(0)?.as_bytes().unwrap_or_default()) else {
            continue;
        };
        let Some((family, table)) = name.split_once("___") else {
            continue;
        };
        if key::table_name(family, table, &mut checked)
            && checked.eq_ignore_ascii_case(name)
            && filter.matches_table(family, table)
        {
            names.push((name.to_owned(), family.to_owned(), table.to_owned()));
        }
    }
    let (mut readable, mut unreadable) = (Vec::new(), Vec::new());
    for (name, family, table) in names {
        let unreadable_because = |why: String| {
            LdbError::new(path, LdbErrorKind::Table, format!("cannot be read: {why}")).table(&name)
        };
        match table_of(conn, name.clone(), family, table) {
            Ok(Ok(table)) => readable.push(Arc::new(table)),
            Ok(Err(why)) => unreadable.push(unreadable_because(why)),
            Err(e) => unreadable.push(unreadable_because(e.to_string())),
        }
    }
    Ok((readable, unreadable))
}

/// How to read the table `name`, or why it cannot be read.
fn table_of(
    conn: &Connection,
    name: String,
    family: String,
    table: String,
) -> rusqlite::Result<Result<Table, String>> {
    let mut statement =
        conn.prepare_cached("SELECT name, type, pk FROM pragma_table_xinfo(?1) WHERE hidden != 1")?;
    let mut rows = statement.query([&name])?;
    let (mut columns, mut keys) = (Vec::<Box<str>>::new(), Vec::new());
    while let Some(row) = rows.next()? {
        let text = |i| -> rusqlite::Result<Box<str>> {
            Ok(String::from_utf8_lossy(row.get_ref(i)?.as_bytes().unwrap_or_default()).into())
        };
        let pk: i64 = row.get(2)?;
        if pk > 0 {
            keys.push((
                pk,
                KeyColumn {
                    name: text(0)?,
                    type_name: text(1)?,
                    index: columns.len(),
                },
            ));
        }
        columns.push(text(0)?);
    }
    keys.sort_by_key(|(pk, _)| *pk);
    let keys: Vec<KeyColumn> = keys.into_iter().map(|(_, k)| k).collect();
    let without_rowid: bool = conn
        .prepare_cached("SELECT wr FROM pragma_table_list WHERE schema = 'main' AND name = ?1")?
        .query_row([&name], |row| row.get(0))?;
    // The rowid under a name no column takes (else the name is the
    // column's).
    let alias = ["_rowid_", "rowid", "oid"]
        .into_iter()
        .find(|alias| !columns.iter().any(|c| c.eq_ignore_ascii_case(alias)));
    let order = match alias {
        _ if without_rowid => Order::PrimaryKey,
        Some(alias) => Order::Rowid(alias),
        // Paging by a key that may hold NULLs would stop at the first.
        None => {
            return Ok(Err(
                "its columns take every name of its rowid (rowid, _rowid_, oid), so no \
                 stable order is left to read it in"
                    .to_owned(),
            ));
        }
    };
    let mut quoted = String::new();
    key::push_identifier(&mut quoted, &name);
    let (first_sql, next_sql) = match order {
        Order::Rowid(a) => (
            format!("SELECT {a}, * FROM {quoted} ORDER BY {a} LIMIT {CHUNK_ROWS}"),
            format!("SELECT {a}, * FROM {quoted} WHERE {a} > ?1 ORDER BY {a} LIMIT {CHUNK_ROWS}"),
        ),
        Order::PrimaryKey => {
            let (mut names, mut params) = (Vec::new(), Vec::new());
            for (i, k) in keys.iter().enumerate() {
                let mut name = String::new();
                key::push_identifier(&mut name, &k.name);
                names.push(name);
                params.push(format!("?{}", i + 1));
            }
            let (names, params) = (names.join(", "), params.join(", "));
            (
                format!("SELECT * FROM {quoted} ORDER BY {names} LIMIT {CHUNK_ROWS}"),
                format!(
                    "SELECT * FROM {quoted} WHERE ({names}) > ({params}) ORDER BY {names} LIMIT {CHUNK_ROWS}"
                ),
            )
        }
    };
    Ok(Ok(Table {
        name: name.into(),
        family: family.into(),
        table: table.into(),
        columns: columns.into(),
        keys,
        order,
        first_sql,
        next_sql,
    }))
}

/// The tables `filter` names outright that are neither among `found` nor
/// among the `unreadable` ones.
fn missing(filter: &Filter, found: &[Arc<Table>], unreadable: &[LdbError]) -> Vec<String> {
    filter
        .named_tables()
        .filter(|(family, table)| {
            let name = format!("{family}___{table}");
            !found.iter().any(|t| t.name.eq_ignore_ascii_case(&name))
                && !unreadable.iter().any(|e| {
                    e.table_name()
                        .is_some_and(|t| t.eq_ignore_ascii_case(&name))
                })
        })
        .map(|(family, table)| format!("{family}___{table}").to_ascii_lowercase())
        .collect()
}
