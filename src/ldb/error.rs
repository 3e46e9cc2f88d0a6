//! What can go wrong reading the LDB.
//!
//! One error type with a kind, so that the caller can tell "cannot open
//! at all" (the CLI exits) from "this lookup failed" (the CLI warns and
//! prints the event without its row). SQLite's own error is kept as the
//! source, behind `dyn Error`, so that the rusqlite version is not part of
//! this crate's API.

use std::error::Error as StdError;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// Reading the LDB failed. The message names the LDB's path, the table
/// when there is one, and the cause.
#[derive(Debug)]
#[cfg_attr(docsrs, doc(cfg(feature = "ldb")))]
pub struct LdbError {
    path: Arc<Path>,
    table: Option<Box<str>>,
    kind: LdbErrorKind,
    message: String,
    source: Option<Box<dyn StdError + Send + Sync + 'static>>,
}

/// Which kind of failure an [`LdbError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
#[cfg_attr(docsrs, doc(cfg(feature = "ldb")))]
pub enum LdbErrorKind {
    /// The LDB cannot be opened (missing, not SQLite, permission), or it
    /// was replaced and the new file cannot be opened.
    Open,
    /// The LDB stayed busy (locked by a writer's recovery or checkpoint)
    /// for longer than [`LDB_BUSY_TIMEOUT`](crate::LDB_BUSY_TIMEOUT).
    Busy,
    /// The event's keys cannot name a row: no key column, a value that
    /// is not a scalar, a `BLOB` key that is not base64, a key column
    /// the table does not have.
    Key,
    /// A column value this crate cannot represent (text that is not
    /// UTF-8).
    Value,
    /// Anything else SQLite reported (I/O error, corruption…).
    Sqlite,
    /// A table a snapshot cannot read (a virtual table whose module this
    /// build lacks, one without a stable order to read it in): it gives
    /// no rows, and the snapshot goes on with the others.
    Table,
}

impl LdbError {
    pub(super) fn new(path: &Arc<Path>, kind: LdbErrorKind, message: impl Into<String>) -> Self {
        LdbError {
            path: Arc::clone(path),
            table: None,
            kind,
            message: message.into(),
            source: None,
        }
    }

    pub(super) fn table(mut self, table: &str) -> Self {
        self.table = Some(table.into());
        self
    }

    pub(super) fn source(
        mut self,
        source: impl Into<Box<dyn StdError + Send + Sync + 'static>>,
    ) -> Self {
        self.source = Some(source.into());
        self
    }

    /// An error from SQLite while reading `table`, classified.
    pub(super) fn sqlite(path: &Arc<Path>, table: &str, source: rusqlite::Error) -> Self {
        LdbError::doing(path, "cannot read the row", source).table(table)
    }

    /// An error from SQLite while doing `what`, classified: busy past the
    /// bound, or anything else.
    pub(super) fn doing(path: &Arc<Path>, what: &str, source: rusqlite::Error) -> Self {
        let busy = matches!(
            source.sqlite_error_code(),
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
        );
        let (kind, message) = if busy {
            (
                LdbErrorKind::Busy,
                format!(
                    "busy for more than {} ms",
                    super::LDB_BUSY_TIMEOUT.as_millis()
                ),
            )
        } else {
            (LdbErrorKind::Sqlite, what.to_owned())
        };
        LdbError::new(path, kind, message).source(source)
    }

    /// Which kind of failure this is.
    pub fn kind(&self) -> LdbErrorKind {
        self.kind
    }

    /// The LDB's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The LDB table being read, if the failure concerns one.
    pub fn table_name(&self) -> Option<&str> {
        self.table.as_deref()
    }
}

impl fmt::Display for LdbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The cause is `source()`'s to tell, once: printing the chain says
        // each cause once.
        write!(f, "LDB {}: ", crate::escape::path(self.path.as_os_str()))?;
        if let Some(table) = &self.table {
            write!(f, "table {}: ", crate::escape::printable(table))?;
        }
        f.write_str(&crate::escape::printable(&self.message))
    }
}

impl StdError for LdbError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|source| source as &(dyn StdError + 'static))
    }
}
