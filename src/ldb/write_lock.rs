//! An instant at which no LDB write transaction is open.
//!
//! ctlstore's multi-statement ledger transactions write their changelog
//! lines *before* they commit (pkg/ldbwriter). So a changelog position, or
//! a row looked up for a line just read, can stand before the commit of a
//! change whose line is already there. Holding the LDB's write lock for an
//! instant closes that: while it is held no write transaction is open, so
//! every line written so far belongs to a committed (or rolled back)
//! transaction.
//!
//! The lock is taken with `BEGIN IMMEDIATE` on a connection of its own and
//! given back with `ROLLBACK`: it writes nothing. It creates no file
//! either (a WAL LDB's `-wal` and `-shm` must be there already, made by
//! ctlstore's writer and owned by it), and never checkpoints
//! (`wal_autocheckpoint` off, no checkpoint on close), so ctlstore's files
//! and their ownership stay as they were.

use super::{LDB_LOCK_TIMEOUT, LdbError, LdbErrorKind};
use rusqlite::config::DbConfig;
use rusqlite::{Connection, MAIN_DB, OpenFlags};
use std::path::Path;
use std::sync::Arc;

/// The write-lock connection.
#[derive(Debug)]
pub(super) struct WriteLock {
    conn: Connection,
}

/// Why the lock was not had.
#[derive(Debug)]
pub(super) enum Refused {
    /// It cannot be had here at all (no write access, no writer's files):
    /// why, said once; the caller falls back to what works without it.
    Unavailable(String),
    /// Not now: busy past [`LDB_LOCK_TIMEOUT`], or an I/O error.
    Failed(LdbError),
}

impl WriteLock {
    /// Opens the LDB at `path` for the lock, or says why it cannot be;
    /// `reader` is a connection already open on it (which says whether it
    /// is in WAL mode).
    pub(super) fn open(path: &Arc<Path>, reader: &Connection) -> Result<WriteLock, Refused> {
        if is_wal(reader) {
            for suffix in ["-wal", "-shm"] {
                let mut name = path.as_os_str().to_owned();
                name.push(suffix);
                let unavailable = |why: &str| {
                    Refused::Unavailable(format!(
                        "its {suffix} file {why}, and taking the lock would create it"
                    ))
                };
                // A symlink there is not ctlstore's file: SQLite would
                // follow it.
                match std::fs::symlink_metadata(&name) {
                    Ok(meta) if meta.is_file() => {}
                    Ok(_) => return Err(unavailable("is not a regular file")),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        return Err(unavailable("is missing (no writer has the LDB open)"));
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                        return Err(unavailable("cannot be looked at (permission denied)"));
                    }
                    Err(e) => {
                        return Err(Refused::Failed(
                            LdbError::new(
                                path,
                                LdbErrorKind::Open,
                                format!("cannot look at its {suffix} file"),
                            )
                            .source(e),
                        ));
                    }
                }
            }
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| Refused::Unavailable(format!("it cannot be opened for writing ({e})")))?;
        // SQLite opens a file it may not write read-only, silently.
        if conn.is_readonly(MAIN_DB).unwrap_or(true) {
            return Err(Refused::Unavailable(
                "there is no write access to it".to_owned(),
            ));
        }
        let set_up = || -> rusqlite::Result<()> {
            conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)?;
            conn.pragma_update(None, "wal_autocheckpoint", 0)?;
            conn.busy_timeout(LDB_LOCK_TIMEOUT)
        };
        set_up()
            .map_err(|e| Refused::Unavailable(format!("it cannot be set up for the lock ({e})")))?;
        Ok(WriteLock { conn })
    }

    /// Runs `f` while holding the write lock (waiting for it at most
    /// [`LDB_LOCK_TIMEOUT`]), then gives the lock back.
    pub(super) fn hold<R>(&self, path: &Arc<Path>, f: impl FnOnce() -> R) -> Result<R, Refused> {
        if let Err(e) = self.conn.execute_batch("BEGIN IMMEDIATE") {
            return Err(match e.sqlite_error_code() {
                Some(rusqlite::ErrorCode::ReadOnly | rusqlite::ErrorCode::PermissionDenied) => {
                    Refused::Unavailable(format!("its files are read-only to this user ({e})"))
                }
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                    Refused::Failed(
                        LdbError::new(
                            path,
                            LdbErrorKind::Busy,
                            format!(
                                "a write transaction stayed open for more than {} ms",
                                LDB_LOCK_TIMEOUT.as_millis()
                            ),
                        )
                        .source(e),
                    )
                }
                _ => Refused::Failed(
                    LdbError::new(path, LdbErrorKind::Sqlite, "cannot take the write lock")
                        .source(e),
                ),
            });
        }
        let held = f();
        // Should the rollback fail, the lock goes with the connection
        // (the caller drops it on any error).
        self.conn.execute_batch("ROLLBACK").map_err(|e| {
            Refused::Failed(
                LdbError::new(
                    path,
                    LdbErrorKind::Sqlite,
                    "cannot give the write lock back",
                )
                .source(e),
            )
        })?;
        Ok(held)
    }
}

/// Whether the database `conn` has open is in WAL mode. Asked of SQLite,
/// not read from the file's header: opening and closing a descriptor of
/// the file would drop every POSIX lock this process holds on it,
/// SQLite's own included (SQLite's "How To Corrupt", 2.2).
fn is_wal(conn: &Connection) -> bool {
    conn.query_row("PRAGMA journal_mode", [], |row| row.get::<_, String>(0))
        .is_ok_and(|mode| mode.eq_ignore_ascii_case("wal"))
}
