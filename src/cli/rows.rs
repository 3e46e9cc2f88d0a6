//! `--rows`: the row each printed event names, read from ctlstore's LDB
//! when the event is printed (so it is the row *now*, not as of the event).
//!
//! The lookup and the words of what it has to say live here; what is
//! written to stdout is [`super::output`]'s, and the run writes the
//! warnings (after flushing the events printed before them). A row that is not there and a table
//! that is not there both print `"row":null`; a lookup that fails for any
//! other reason prints the event without a `row` field, so that `null`
//! only ever means "no such row".

use anyhow::anyhow;
use changelog_tail::{
    EventRef, Ldb, LdbErrorKind, Row, RowLookup, Settled, printable, with_causes,
};
use std::path::Path;

/// What an event's `row` field holds.
#[derive(Debug)]
pub enum RowField {
    /// No field: `--rows` is off, or the lookup failed (and said why).
    Omitted,
    /// `null`: the LDB has no such row now (or no such table).
    Null,
    /// The row as it is now.
    Row(Row),
}

/// The LDB, open for the run (for `--rows` and for snapshots).
#[derive(Debug)]
pub struct Rows {
    ldb: Ldb,
    /// Lines may have been read since the LDB was last settled
    /// ([`Ldb::settle`]): the next lookup settles it first.
    unsettled: bool,
    /// Why the lookups of this batch of lines fail, if settling failed.
    unsettled_because: Option<String>,
    /// The write lock cannot be had, and that was said.
    said_unknowable: bool,
}

/// What one try to settle the LDB came to.
#[derive(Debug)]
pub enum Settle {
    /// Settled, or it cannot be (then the lookups say why); a warning to
    /// give, if there is one.
    Done(Option<String>),
    /// A writer's transaction stayed open past the lock's bound: why.
    /// Try again (or [`Rows::give_up`]).
    Busy(String),
}

/// A lookup's answer, and a warning for stderr if it has one.
#[derive(Debug)]
pub struct Lookup {
    /// What the event's `row` field holds.
    pub field: RowField,
    /// Why the row is missing or `null` when that deserves a word (and,
    /// once, why rows may be older than their events).
    pub warnings: Vec<String>,
}

impl Rows {
    /// Opens the LDB at `path` (read-only). Fails, naming it, when it cannot
    /// be opened: the run must not start printing events without their
    /// rows.
    pub fn open(path: &Path) -> anyhow::Result<Rows> {
        let ldb = Ldb::open(path).map_err(|e| {
            anyhow!(
                "{}; --rows and snapshots read ctlstore's LDB: check --ldb or CTLSTORE_PATH",
                describe(&e)
            )
        })?;
        Ok(Rows {
            ldb,
            unsettled: true,
            unsettled_because: None,
            said_unknowable: false,
        })
    }

    /// The LDB, for a snapshot.
    pub fn ldb(&mut self) -> &mut Ldb {
        &mut self.ldb
    }

    /// More lines may be read before the next lookup: it must first wait
    /// until no LDB write transaction is open (doc/guarantees.md: a row is never
    /// older than its event), once for all the lines read by then.
    pub fn new_batch(&mut self) {
        self.unsettled = true;
    }

    /// Settles the LDB if lines were read since it last was (one try of
    /// the lock, which waits [`LDB_LOCK_TIMEOUT`](changelog_tail::LDB_LOCK_TIMEOUT)).
    pub fn settle(&mut self) -> Settle {
        if !self.unsettled {
            return Settle::Done(None);
        }
        let settled = self.ldb.settle();
        if let Err(e) = &settled
            && e.kind() == LdbErrorKind::Busy
        {
            return Settle::Busy(describe(e));
        }
        self.unsettled = false;
        self.unsettled_because = None;
        match settled {
            Ok(Settled::Unknowable { why }) if !self.said_unknowable => {
                self.said_unknowable = true;
                Settle::Done(Some(format!(
                    "cannot take the LDB's write lock ({}): a row changed by one of ctlstore's \
                     ledger transactions may be printed as it was before its event",
                    capped(&why, MESSAGE_CHARS)
                )))
            }
            Ok(_) => Settle::Done(None),
            Err(e) => {
                self.unsettled_because = Some(describe(&e));
                Settle::Done(None)
            }
        }
    }

    /// Stops waiting for a busy LDB (the run is ending): the lookups of
    /// this batch fail, saying `why`, rather than show rows that may be
    /// older than their events.
    pub fn give_up(&mut self, why: String) {
        self.unsettled = false;
        self.unsettled_because = Some(why);
    }

    /// The row `event` names, as it is now (once [`settle`](Self::settle)d).
    /// A missing table is warned about once per run; any other failure
    /// once per event (each such event lacks its `row`).
    pub fn lookup(&mut self, event: &EventRef<'_>) -> Lookup {
        match &self.unsettled_because {
            // The row could predate the event: none rather than a stale one.
            Some(why) => Lookup {
                field: RowField::Omitted,
                warnings: vec![format!(
                    "seq {} is printed without its row: {why}",
                    event.seq
                )],
            },
            None => self.look_up(event),
        }
    }

    /// The lookup proper.
    fn look_up(&mut self, event: &EventRef<'_>) -> Lookup {
        let (field, warning) = match self.ldb.row_ref(event) {
            Ok(RowLookup::Found(row)) => (RowField::Row(row), None),
            Ok(RowLookup::NoTable { first_time }) => {
                let warning = first_time.then(|| {
                    let table = format!("{}___{}", event.family, event.table).to_ascii_lowercase();
                    format!(
                        "LDB {} has no table {}; events of {}.{} show \"row\":null",
                        printable(&self.ldb.path().to_string_lossy()),
                        shown(&table),
                        shown(&event.family),
                        shown(&event.table),
                    )
                });
                (RowField::Null, warning)
            }
            Ok(RowLookup::NoRow) => (RowField::Null, None),
            // An answer this version does not know: claim nothing.
            Ok(_) => (RowField::Omitted, None),
            Err(e) => (
                RowField::Omitted,
                Some(format!(
                    "seq {} is printed without its row: {}",
                    event.seq,
                    describe(&e)
                )),
            ),
        };
        Lookup {
            field,
            warnings: warning.into_iter().collect(),
        }
    }
}

/// How many characters of a lookup's failure a warning shows: its words
/// may quote a key value of any size.
const MESSAGE_CHARS: usize = 400;

/// How many characters of a name from the input a warning shows: a name
/// may be as long as a line.
const NAME_CHARS: usize = 200;

/// `text` escaped ([`printable`]) and cut short at `max` characters (`…`
/// marks the cut).
fn capped(text: &str, max: usize) -> String {
    let shown = printable(text);
    match shown.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &shown[..at]),
        None => shown.into_owned(),
    }
}

/// A name from the input, for a message: escaped and cut short.
fn shown(name: &str) -> String {
    // Only the head is escaped: the rest would be cut anyway (a char
    // escapes to at most 10).
    let head = match name.char_indices().nth(NAME_CHARS + 1) {
        Some((at, _)) => &name[..at],
        None => name,
    };
    capped(head, NAME_CHARS)
}

/// An error and its causes, each once, escaped and cut short.
fn describe(error: &dyn std::error::Error) -> String {
    capped(&with_causes(error), MESSAGE_CHARS)
}
