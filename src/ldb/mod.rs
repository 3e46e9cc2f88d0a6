//! The rows that changelog events name, read from ctlstore's LDB.
//!
//! ctlstore keeps its local database (the LDB: SQLite, in WAL mode, written
//! all the time by the reflector) next to `change.log`. An event names a
//! row by table and primary key; [`Ldb::lookup`] reads that row as it is
//! *now* (a later change may already show).
//!
//! How it stays out of the writer's way and cheap per event:
//!
//! - **Read-only, never a lock against the writer.** The file is opened
//!   read-only; in WAL mode a reader never blocks the writer, and each
//!   lookup is one autocommit statement whose read transaction ends with
//!   it, so checkpoints are not held back either. Should SQLite report
//!   busy (a WAL being recovered after a crash; an LDB not in WAL mode
//!   while a writer commits), it is retried for at most
//!   [`LDB_BUSY_TIMEOUT`], then the lookup fails.
//! - **One primary-key probe.** `SELECT * FROM "t" WHERE "k1" = ?1 AND …
//!   LIMIT 1`, prepared once per (table, key columns) and kept in the
//!   connection's statement cache ([`STATEMENT_CACHE`] statements). A
//!   found row of ten columns in a table of 100,000 costs about 3 µs
//!   (`cargo bench --bench ldb`).
//! - **Missing tables cost a pragma, not a failing prepare.** A table
//!   found missing is remembered with the schema's version (`PRAGMA
//!   schema_version`, bumped by every `CREATE`/`DROP`); later events for it
//!   only compare that number, and the table is looked for again when it
//!   changes, so a table created later is found by the next event. What
//!   is remembered is bounded whatever names the input holds
//!   ([`MAX_TABLES`] tables, names up to [`MAX_REMEMBERED_NAME`] bytes;
//!   missing tables reported, by a hash of the name).
//! - **A replaced LDB is reopened.** ctlstore restores a snapshot by
//!   renaming a new file over `ldb.db`; the open connection would go on
//!   reading the old, deleted file. At most every [`REPLACED_CHECK`] a
//!   lookup compares the path's (device, inode) with the open file's and
//!   reopens when they differ. (The one replacing the file must remove
//!   the old `ldb.db-wal` and `ldb.db-shm` with it: SQLite would apply an
//!   old write-ahead log to the new file, for us and for the writer.)
//!
//! A read-only connection to a WAL database still maps `ldb.db-shm`: it
//! must exist (it does while ctlstore runs) or the directory be writable.

mod error;
mod key;
mod row;
mod snapshot;
mod write_lock;

pub use error::{LdbError, LdbErrorKind};
pub use row::{ColumnValue, Row};
pub use snapshot::{Snapshot, SnapshotProgress, SnapshotRow};
use write_lock::{Refused, WriteLock};

use crate::event::{Event, EventRef};
use crate::position::FileId;
use key::Bind;
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a lookup waits for a busy LDB before failing. In WAL mode a
/// reader is busy only in short windows (recovering the WAL after a
/// crash, a checkpoint restarting the log); a tenth of a second covers
/// those, and bounds how long one event's output can be held up when the
/// LDB stays busy.
#[cfg_attr(docsrs, doc(cfg(feature = "ldb")))]
pub const LDB_BUSY_TIMEOUT: Duration = Duration::from_millis(100);

/// How long taking the LDB's write lock for an instant (a snapshot's
/// position, [`Ldb::settle`]) waits for a writer's open transaction to
/// end. ctlstore's ledger transactions last milliseconds; a second covers
/// a slow disk's commit, and bounds how long a snapshot's start or a
/// batch of rows can be held up.
#[cfg_attr(docsrs, doc(cfg(feature = "ldb")))]
pub const LDB_LOCK_TIMEOUT: Duration = Duration::from_secs(1);

/// How often, at most, a lookup checks whether the LDB's path still names
/// the open file. A check is a `stat` of the path (about a microsecond);
/// between checks a lookup only reads the clock. So a replaced LDB is seen
/// within this time, and a busy follower pays one `stat` per interval, not
/// per event.
const REPLACED_CHECK: Duration = Duration::from_millis(100);

/// Tables remembered (present with their columns, or missing at a schema
/// version), at most: the names come from the input, and a run fed
/// endless distinct names must not keep them all (issue 17). Past this the
/// missing ones are forgotten first (looked for again when next named).
const MAX_TABLES: usize = 4096;

/// Names longer than this many bytes are not remembered at all (looked
/// for again at each event): ctlstore's `family___table` names are far
/// shorter, and remembering a line-sized name per table would make memory
/// grow with the input. With [`MAX_TABLES`], the names kept take at most
/// 1 MiB, whatever `--max-line-bytes` allows.
const MAX_REMEMBERED_NAME: usize = 256;

/// Missing tables remembered as reported (by a 64-bit hash of the name,
/// so any name costs 8 bytes), at most; past this the record starts
/// again, and a missing table may be reported once more.
const MAX_REPORTED: usize = 4096;

/// Prepared statements kept per connection: one per (table, key columns),
/// plus two for the schema checks. An LDB has tens to hundreds of tables;
/// past this the least recently used statement is prepared again when
/// needed.
const STATEMENT_CACHE: usize = 512;

/// ctlstore's LDB, open read-only for looking up the rows that events
/// name.
///
/// ```
/// use changelog_tail::{Ldb, RowLookup};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// # let path = dir.path().join("ldb.db");
/// # let writer = rusqlite::Connection::open(&path)?;
/// # writer.execute_batch(
/// #     "PRAGMA journal_mode=WAL;
/// #      CREATE TABLE fam___foo (id INTEGER PRIMARY KEY, name VARCHAR(191));
/// #      INSERT INTO fam___foo VALUES (1, 'one');",
/// # )?;
/// let mut ldb = Ldb::open(&path)?;
/// let event: changelog_tail::Event = serde_json::from_str(
///     r#"{"seq":1,"family":"fam","table":"foo","keys":[{"name":"id","type":"INTEGER","value":1}]}"#,
/// )?;
/// match ldb.row(&event)? {
///     RowLookup::Found(row) => {
///         let mut json = Vec::new();
///         row.write_json(&mut json)?;
///         assert_eq!(json, br#"{"id":1,"name":"one"}"#);
///     }
///     other => panic!("expected the row, got {other:?}"),
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
#[cfg_attr(docsrs, doc(cfg(feature = "ldb")))]
pub struct Ldb {
    path: Arc<Path>,
    conn: Connection,
    /// The file `conn` has open, as the path named it just before opening.
    file: FileId,
    next_replaced_check: Instant,
    tables: HashMap<Box<str>, Table>,
    /// Missing tables already reported (hashes of their names, at most
    /// [`MAX_REPORTED`]), for the whole run (not cleared on reopening); a
    /// table leaves it when it is found.
    reported_missing: HashSet<u64>,
    /// The connection that takes the write lock for an instant, opened
    /// when first needed.
    lock: Lock,
    /// Scratch buffers, kept so that a lookup allocates only for its row.
    name: String,
    sql: String,
    binds: Vec<Bind>,
}

/// A table name's hash, for remembering it was reported (a collision
/// only leaves one more missing table unreported).
fn name_hash(name: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::hash::DefaultHasher::new();
    name.hash(&mut hasher);
    hasher.finish()
}

/// Whether the write lock can be had ([`write_lock`]).
#[derive(Debug)]
enum Lock {
    Untried,
    Open(WriteLock),
    /// Why not (no write access, no writer's files).
    Unavailable(String),
}

/// What [`Ldb::settle`] came to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
#[cfg_attr(docsrs, doc(cfg(feature = "ldb")))]
pub enum Settled {
    /// No write transaction was open at an instant after the call began:
    /// every changelog line read before the call has its change committed.
    Quiet,
    /// The write lock cannot be had here (no write access to the LDB or
    /// its directory, or no writer has it open): nothing was waited for,
    /// and a row of a ledger transaction may be older than its line.
    Unknowable {
        /// Why, for a message.
        why: String,
    },
}

/// What the LDB knows of a table.
#[derive(Debug)]
enum Table {
    /// It exists, with these columns (`SELECT *` order).
    Present { columns: Arc<[Box<str>]> },
    /// It did not exist at this schema version.
    Missing { schema_version: i64 },
}

/// What a lookup found.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
#[cfg_attr(docsrs, doc(cfg(feature = "ldb")))]
pub enum RowLookup {
    /// The row as it is now: every column, in table order.
    Found(Row),
    /// The table has no row with these keys (deleted, or never there).
    NoRow,
    /// The LDB has no such table (or the names cannot form one).
    NoTable {
        /// Whether this is the first time this table was found missing
        /// by this [`Ldb`] (or the first since it was last found): warn
        /// once per table, not once per event.
        first_time: bool,
    },
}

impl Ldb {
    /// Opens the LDB at `path` read-only. Fails, naming the path, when it
    /// is missing, unreadable or not an SQLite database.
    pub fn open(path: impl AsRef<Path>) -> Result<Ldb, LdbError> {
        let path: Arc<Path> = path.as_ref().into();
        let (conn, file) = connect(&path, true)?;
        Ok(Ldb {
            path,
            conn,
            file,
            next_replaced_check: Instant::now() + REPLACED_CHECK,
            tables: HashMap::new(),
            reported_missing: HashSet::new(),
            lock: Lock::Untried,
            name: String::new(),
            sql: String::new(),
            binds: Vec::new(),
        })
    }

    /// The LDB's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Waits until no LDB write transaction is open (holding the write
    /// lock for an instant, within [`LDB_LOCK_TIMEOUT`]), so that the rows
    /// of every changelog line read before this call are committed:
    /// ctlstore's ledger transactions write their lines before they
    /// commit. Call it once per batch of lines read, before looking up
    /// their rows. The lock connection writes nothing and creates no file
    /// (see the crate's `ldb` docs); without write access it cannot be
    /// had: [`Settled::Unknowable`].
    pub fn settle(&mut self) -> Result<Settled, LdbError> {
        self.reopen_if_replaced_now()?;
        let path = Arc::clone(&self.path);
        let held = match self.write_lock() {
            Ok(lock) => lock.hold(&path, || ()),
            Err(refused) => Err(refused),
        };
        match held {
            Ok(()) => Ok(Settled::Quiet),
            Err(Refused::Unavailable(why)) => Ok(self.unavailable(why)),
            Err(Refused::Failed(e)) => {
                self.lock = Lock::Untried;
                Err(e)
            }
        }
    }

    /// The write-lock connection, opened if not yet tried; why not, if it
    /// cannot be had (or the error that kept it from opening now).
    fn write_lock(&mut self) -> Result<&WriteLock, Refused> {
        if let Lock::Untried = self.lock {
            match WriteLock::open(&self.path, &self.conn) {
                Ok(lock) => self.lock = Lock::Open(lock),
                Err(Refused::Unavailable(why)) => self.lock = Lock::Unavailable(why),
                // Tried again next time.
                Err(failed) => return Err(failed),
            }
        }
        match &self.lock {
            Lock::Open(lock) => Ok(lock),
            Lock::Unavailable(why) => Err(Refused::Unavailable(why.clone())),
            // Set just above; kept total rather than a panic.
            Lock::Untried => Err(Refused::Unavailable(
                "the write lock was not opened".to_owned(),
            )),
        }
    }

    /// Records that the write lock cannot be had, and why.
    fn unavailable(&mut self, why: String) -> Settled {
        self.lock = Lock::Unavailable(why.clone());
        Settled::Unknowable { why }
    }

    /// The row that `event` names (see [`lookup`](Self::lookup)).
    pub fn row(&mut self, event: &Event) -> Result<RowLookup, LdbError> {
        let update = &event.row_update;
        self.lookup(
            &update.family,
            &update.table,
            update
                .keys
                .iter()
                .map(|k| (&*k.name, &*k.type_name, k.value.json())),
        )
    }

    /// The row that a borrowed event names, without making an owned
    /// [`Event`] (see [`lookup`](Self::lookup)).
    pub fn row_ref(&mut self, event: &EventRef<'_>) -> Result<RowLookup, LdbError> {
        let keys: Vec<_> = event.keys().collect();
        self.lookup(
            &event.family,
            &event.table,
            keys.iter()
                .map(|k| (k.name(), k.type_name(), k.value_json())),
        )
    }

    /// Looks up the row of table `family___table` (ASCII lower case) whose
    /// key columns have these values. Each key is (column name, SQL type as
    /// written, value as its exact JSON text): integers are matched exactly
    /// as `i64`, strings by their decoded content, a string in a `BLOB…`
    /// column by the bytes its standard base64 stands for, `null` as NULL.
    ///
    /// Errors are for this lookup only ([`LdbErrorKind`] says which):
    /// the next lookup tries again.
    pub fn lookup<N, T, V>(
        &mut self,
        family: &str,
        table: &str,
        keys: impl IntoIterator<Item = (N, T, V)>,
    ) -> Result<RowLookup, LdbError>
    where
        N: AsRef<str>,
        T: AsRef<str>,
        V: AsRef<str>,
    {
        self.reopen_if_replaced()?;
        if !key::table_name(family, table, &mut self.name) {
            return Ok(self.missing());
        }
        let Some(columns) = self.columns()? else {
            return Ok(self.missing());
        };
        let count = self.build_probe(keys)?;
        let mut columns = columns;
        let mut rediscovered = false;
        loop {
            match patiently(|| self.probe(&columns, count)) {
                Ok(Probe::Row(values)) => return Ok(RowLookup::Found(Row::new(columns, values))),
                Ok(Probe::NoRow) => return Ok(RowLookup::NoRow),
                Ok(Probe::Unreadable(message)) => {
                    return Err(
                        LdbError::new(&self.path, LdbErrorKind::Value, message).table(&self.name)
                    );
                }
                // The table was altered since its columns were read: read
                // them again, once.
                Ok(Probe::ColumnsChanged) if !rediscovered => {
                    rediscovered = true;
                    let Some(now) = self.discover()? else {
                        return Ok(self.missing());
                    };
                    columns = now;
                }
                Ok(Probe::ColumnsChanged) => {
                    return Err(LdbError::new(
                        &self.path,
                        LdbErrorKind::Sqlite,
                        "the table's columns keep changing while it is read",
                    )
                    .table(&self.name));
                }
                Err(e) => return self.probe_error(e),
            }
        }
    }

    /// The columns of the table in `self.name`, or `None` if it is missing.
    /// A table known to be missing is looked for again only when the
    /// schema has changed since.
    fn columns(&mut self) -> Result<Option<Arc<[Box<str>]>>, LdbError> {
        match self.tables.get(self.name.as_str()) {
            Some(Table::Present { columns }) => Ok(Some(Arc::clone(columns))),
            Some(Table::Missing { schema_version }) => {
                let seen = *schema_version;
                if schema_version_of(&self.conn).map_err(|e| self.error(e))? == seen {
                    return Ok(None);
                }
                self.discover()
            }
            None => self.discover(),
        }
    }

    /// Writes the probe for the table in `self.name` into `self.sql`
    /// (`SELECT * FROM "t" WHERE "k1" = ?1 AND … LIMIT 1`) and the values
    /// to bind into `self.binds`, in one pass over the keys. Returns how
    /// many keys there are.
    fn build_probe<N, T, V>(
        &mut self,
        keys: impl IntoIterator<Item = (N, T, V)>,
    ) -> Result<usize, LdbError>
    where
        N: AsRef<str>,
        T: AsRef<str>,
        V: AsRef<str>,
    {
        self.sql.clear();
        self.sql.push_str("SELECT * FROM ");
        key::push_identifier(&mut self.sql, &self.name);
        let mut count = 0;
        for (i, (name, type_name, value)) in keys.into_iter().enumerate() {
            let name = name.as_ref();
            self.sql.push_str(if i == 0 { " WHERE " } else { " AND " });
            key::push_identifier(&mut self.sql, name);
            self.sql.push_str(" = ?");
            self.sql.push_str(itoa::Buffer::new().format(i + 1));
            if self.binds.len() <= i {
                self.binds.push(Bind::default());
            }
            self.binds[i]
                .set(type_name.as_ref(), value.as_ref())
                .map_err(|e| self.key_error(format!("key column {name}: {e}")))?;
            count = i + 1;
        }
        if count == 0 {
            return Err(self.key_error("the event names no key column".to_owned()));
        }
        self.sql.push_str(" LIMIT 1");
        Ok(count)
    }

    fn probe_error(&mut self, e: rusqlite::Error) -> Result<RowLookup, LdbError> {
        // A table dropped since it was found fails here: tell it from
        // other failures by looking (not when busy: that would wait a
        // second time).
        let busy = matches!(
            e.sqlite_error_code(),
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
        );
        if !busy && table_exists(&self.conn, &self.name) == Ok(false) {
            self.tables.remove(self.name.as_str());
            if self.discover()?.is_none() {
                return Ok(self.missing());
            }
        }
        // A key column the table lacks fails the prepare; SQLite's message
        // goes on about string literals and quotes the SQL: keep its gist.
        if let rusqlite::Error::SqlInputError { msg, .. } = &e
            && msg.starts_with("no such column")
        {
            let gist = msg.split(" - ").next().unwrap_or(msg);
            return Err(self.key_error(format!("{gist}: the event's key is not the table's")));
        }
        Err(self.error(e))
    }

    /// Runs the statement in `self.sql` with the first `count` binds.
    fn probe(&self, columns: &[Box<str>], count: usize) -> rusqlite::Result<Probe> {
        let mut statement = self.conn.prepare_cached(&self.sql)?;
        for (i, bind) in self.binds[..count].iter().enumerate() {
            statement.raw_bind_parameter(i + 1, bind.value())?;
        }
        // Dropping `rows` resets the statement, which ends the read
        // transaction: nothing is held between lookups.
        let mut rows = statement.raw_query();
        let Some(row) = rows.next()? else {
            return Ok(Probe::NoRow);
        };
        // SQLite re-prepares `SELECT *` after a schema change; a different
        // column count means the names read earlier are stale. (ctlstore
        // only ever adds columns, which the count shows; a rename that
        // keeps the count would show the old name until a reopen.)
        let statement: &rusqlite::Statement<'_> = row.as_ref();
        if statement.column_count() != columns.len() {
            return Ok(Probe::ColumnsChanged);
        }
        let mut values = Vec::with_capacity(columns.len());
        for (i, column) in columns.iter().enumerate() {
            match ColumnValue::read(row.get_ref(i)?, column) {
                Ok(value) => values.push(value),
                Err(why) => return Ok(Probe::Unreadable(why)),
            }
        }
        Ok(Probe::Row(values))
    }

    /// Looks for the table in `self.name` and records what was found:
    /// its columns, or `None` when it is missing.
    fn discover(&mut self) -> Result<Option<Arc<[Box<str>]>>, LdbError> {
        // The version first: a table created after the check bumps it, so
        // the next event looks again.
        let schema_version = schema_version_of(&self.conn).map_err(|e| self.error(e))?;
        let columns = columns_of(&self.conn, &self.name).map_err(|e| self.error(e))?;
        // Taken out for the call that records it, then put back.
        let name = std::mem::take(&mut self.name);
        let found = match columns {
            Some(columns) => {
                let columns: Arc<[Box<str>]> = columns.into();
                self.reported_missing.remove(&name_hash(&name));
                self.remember(
                    &name,
                    Table::Present {
                        columns: Arc::clone(&columns),
                    },
                );
                Some(columns)
            }
            None => {
                self.remember(&name, Table::Missing { schema_version });
                None
            }
        };
        self.name = name;
        Ok(found)
    }

    /// Records what is known of the table `name`, within the bounds (see
    /// [`MAX_TABLES`], [`MAX_REMEMBERED_NAME`]).
    fn remember(&mut self, name: &str, table: Table) {
        if name.len() > MAX_REMEMBERED_NAME {
            self.tables.remove(name);
            return;
        }
        if self.tables.len() >= MAX_TABLES && !self.tables.contains_key(name) {
            self.tables
                .retain(|_, table| matches!(table, Table::Present { .. }));
            if self.tables.len() >= MAX_TABLES {
                self.tables.clear();
            }
        }
        self.tables.insert(name.into(), table);
    }

    /// The answer for the missing table in `self.name`.
    fn missing(&mut self) -> RowLookup {
        let hash = name_hash(&self.name);
        let first_time = !self.reported_missing.contains(&hash);
        if first_time {
            if self.reported_missing.len() >= MAX_REPORTED {
                self.reported_missing.clear();
            }
            self.reported_missing.insert(hash);
        }
        RowLookup::NoTable { first_time }
    }

    /// Reopens the LDB if its path now names another file (checked at
    /// most every [`REPLACED_CHECK`]).
    fn reopen_if_replaced(&mut self) -> Result<(), LdbError> {
        if Instant::now() < self.next_replaced_check {
            return Ok(());
        }
        self.reopen_if_replaced_now()
    }

    /// [`reopen_if_replaced`](Self::reopen_if_replaced), checked now
    /// whatever the interval: before the write lock is taken (a lock on a
    /// replaced file would keep no writer of the new one out).
    fn reopen_if_replaced_now(&mut self) -> Result<(), LdbError> {
        let now = Instant::now();
        self.next_replaced_check = now + REPLACED_CHECK;
        if file_id(&self.path).is_ok_and(|id| id == self.file) {
            return Ok(());
        }
        // Replaced, or gone: the open file is no longer the LDB. Until a
        // new one can be opened, lookups fail (and each tries again)
        // rather than read the old file.
        match connect(&self.path, true) {
            Ok((conn, file)) => {
                self.conn = conn;
                self.file = file;
                self.tables.clear();
                self.lock = Lock::Untried;
                Ok(())
            }
            Err(e) => {
                self.next_replaced_check = now;
                Err(e)
            }
        }
    }

    fn error(&self, e: rusqlite::Error) -> LdbError {
        LdbError::sqlite(&self.path, &self.name, e)
    }

    fn key_error(&self, message: String) -> LdbError {
        LdbError::new(&self.path, LdbErrorKind::Key, message).table(&self.name)
    }
}

/// What one probe found.
enum Probe {
    Row(Vec<ColumnValue>),
    NoRow,
    ColumnsChanged,
    /// A row with a value JSON cannot hold: why.
    Unreadable(String),
}

/// Runs `op` again while SQLite says the WAL index cannot be used *yet* by
/// a connection that may not write it (`SQLITE_READONLY_RECOVERY`,
/// `SQLITE_READONLY_CANTINIT`: another connection is recovering or setting
/// it up), for at most [`LDB_BUSY_TIMEOUT`], as busy is waited out. Only a
/// reader without write access to `-shm` meets them.
pub(super) fn patiently<T>(mut op: impl FnMut() -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    let deadline = Instant::now() + LDB_BUSY_TIMEOUT;
    loop {
        match op() {
            Err(e) if is_readonly_transient(&e) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(1));
            }
            other => return other,
        }
    }
}

/// `SQLITE_READONLY_RECOVERY` or `SQLITE_READONLY_CANTINIT` (see
/// [`patiently`]).
fn is_readonly_transient(e: &rusqlite::Error) -> bool {
    const RECOVERY: std::ffi::c_int = 8 | (1 << 8);
    const CANTINIT: std::ffi::c_int = 8 | (5 << 8);
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.extended_code == RECOVERY || f.extended_code == CANTINIT)
}

/// Opens `path` read-only and reads its header, so that a file that is
/// not a database fails now rather than at the first lookup. `first`: no
/// connection of this process has that file open yet (see
/// [`would_create_foreign_files`], which may only look then).
fn connect(path: &Arc<Path>, first: bool) -> Result<(Connection, FileId), LdbError> {
    let cannot_open = |e: Box<dyn std::error::Error + Send + Sync>| {
        LdbError::new(path, LdbErrorKind::Open, "cannot open").source(e)
    };
    // Before opening: should the path be replaced in between, the next
    // check sees a different file and reopens (once too often, never too
    // few times).
    let meta = std::fs::metadata(path).map_err(|e| cannot_open(e.into()))?;
    if meta.is_dir() {
        return Err(LdbError::new(
            path,
            LdbErrorKind::Open,
            "is a directory, not an SQLite file",
        ));
    }
    // Opening a FIFO would block (beyond the reach of signals), a device
    // could do anything: only a regular file can be an LDB.
    if !meta.is_file() {
        return Err(LdbError::new(
            path,
            LdbErrorKind::Open,
            "is not a regular file, so not an SQLite file",
        ));
    }
    if first && would_create_foreign_files(path, &meta) {
        return Err(LdbError::new(
            path,
            LdbErrorKind::Open,
            "no writer has it open (its -wal and -shm files are missing), and reading it \
             would create them owned by this user, not by the LDB's owner, whose writer they \
             would then lock out: start ctlstore's reflector first, or run as the LDB's owner",
        ));
    }
    let file = file_id_of(&meta);
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| cannot_open(e.into()))?;
    conn.busy_timeout(LDB_BUSY_TIMEOUT)
        .map_err(|e| cannot_open(e.into()))?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    // Else a quoted key column the table lacks would be taken for a string
    // literal (SQLite's "double-quoted string" leniency): no row, where
    // the truth is an error.
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_DQS_DML, false)
        .map_err(|e| cannot_open(e.into()))?;
    patiently(|| schema_version_of(&conn)).map_err(|e| cannot_open(e.into()))?;
    Ok((conn, file))
}

/// Whether opening the LDB at `path` (described by `meta`) would make
/// SQLite create its `-wal` and `-shm` files owned by this process's user
/// while another user owns the LDB: a WAL database whose files are missing
/// (no writer has it open), opened by neither its owner nor root (SQLite,
/// as root, gives them the database's owner). Reads the file's header:
/// only while no connection of this process has the file open (closing a
/// descriptor drops the process's POSIX locks on it, SQLite's included).
fn would_create_foreign_files(path: &Path, meta: &std::fs::Metadata) -> bool {
    use std::io::Read;
    use std::os::unix::fs::MetadataExt;
    let euid = rustix::process::geteuid().as_raw();
    if euid == 0 || euid == meta.uid() {
        return false;
    }
    let missing = ["-wal", "-shm"].iter().any(|suffix| {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        std::fs::symlink_metadata(name).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound)
    });
    let mut header = [0u8; 20];
    // Bytes 18 and 19, the read and write versions, are 2 in WAL mode.
    missing
        && std::fs::File::open(path)
            .and_then(|mut file| file.read_exact(&mut header))
            .is_ok_and(|()| header[18] == 2 && header[19] == 2)
}

fn file_id(path: &Path) -> std::io::Result<FileId> {
    std::fs::metadata(path).map(|meta| file_id_of(&meta))
}

fn file_id_of(meta: &std::fs::Metadata) -> FileId {
    FileId::of(meta)
}

/// The schema's version: SQLite bumps it on every schema change.
fn schema_version_of(conn: &Connection) -> rusqlite::Result<i64> {
    conn.prepare_cached("PRAGMA schema_version")?
        .query_row([], |row| row.get(0))
}

fn table_exists(conn: &Connection, name: &str) -> rusqlite::Result<bool> {
    conn.prepare_cached(
        "SELECT 1 FROM sqlite_schema WHERE type IN ('table', 'view') AND name = ?1 COLLATE NOCASE",
    )?
    .exists([name])
}

/// The columns `SELECT *` gives for table `name`, or `None` if there is
/// no such table. Read from `pragma_table_xinfo` rather than from the
/// statement, whose names rusqlite insists are UTF-8 (it panics if not).
fn columns_of(conn: &Connection, name: &str) -> rusqlite::Result<Option<Vec<Box<str>>>> {
    if !table_exists(conn, name)? {
        return Ok(None);
    }
    // `hidden` 1 is a virtual table's hidden column, which `*` leaves out;
    // generated columns (2, 3) are in.
    let mut statement =
        conn.prepare_cached("SELECT name FROM pragma_table_xinfo(?1) WHERE hidden != 1")?;
    let mut rows = statement.query([name])?;
    let mut columns = Vec::new();
    while let Some(row) = rows.next()? {
        let name = row.get_ref(0)?;
        columns.push(String::from_utf8_lossy(name.as_bytes().unwrap_or_default()).into());
    }
    Ok(Some(columns))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Names from the input are remembered within bounds (issue 17): a
    /// run fed endless distinct table names keeps at most
    /// [`MAX_TABLES`] of them, none longer than [`MAX_REMEMBERED_NAME`],
    /// and still warns once per missing table, whatever its length.
    #[test]
    fn missing_tables_are_remembered_within_bounds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ldb.db");
        Connection::open(&path)
            .unwrap()
            .execute_batch("PRAGMA journal_mode=WAL; CREATE TABLE f___t (id INTEGER PRIMARY KEY);")
            .unwrap();
        let mut ldb = Ldb::open(&path).unwrap();
        let keys = [("id", "INTEGER", "1")];
        let lookup = |ldb: &mut Ldb, table: &str| ldb.lookup("f", table, keys).unwrap();
        let long = "x".repeat(100_000);
        assert_eq!(
            lookup(&mut ldb, &long),
            RowLookup::NoTable { first_time: true }
        );
        assert_eq!(
            lookup(&mut ldb, &long),
            RowLookup::NoTable { first_time: false },
            "a long name is still warned about once"
        );
        assert!(ldb.tables.is_empty(), "a long name is not kept");
        for i in 0..MAX_TABLES + 10 {
            lookup(&mut ldb, &format!("t{i}"));
        }
        assert!(ldb.tables.len() <= MAX_TABLES);
        assert!(ldb.reported_missing.len() <= MAX_REPORTED);
        assert!(
            ldb.tables
                .keys()
                .all(|name| name.len() <= MAX_REMEMBERED_NAME)
        );
        assert_eq!(
            lookup(&mut ldb, "t"),
            RowLookup::NoRow,
            "a present table still found"
        );
    }
}
