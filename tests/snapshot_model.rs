//! Model test of "snapshot, then changes" (doc/guide.md, "Snapshot, then
//! changes (`--snapshot`)"): the real binary, run as `--snapshot --rows
//! --on-out-of-sync snapshot`, beside a writer that behaves as ctlstore's
//! reflector does, in random interleavings.
//!
//! The writer ([`Writer`]) keeps a real LDB (SQLite in WAL mode) and a real
//! changelog, in ctlstore's order of writes (pkg/ldbwriter):
//!
//! - a **single statement** commits, then its line is appended;
//! - a **ledger transaction** appends each statement's line *before* its
//!   commit (`BEGIN`, statement, line, statement, line…, `COMMIT`), and its
//!   window is real: the binary runs (as another process) while it is
//!   open, and the script can hold it open until the binary is seen
//!   waiting for the LDB's write lock;
//! - inserts, updates and deletes (a statement that changes no row writes
//!   no line, as ctlstore's pre-update hook sees no change);
//! - **rotations** as its `SizedLogWriter` does them (delete the file and
//!   create a new one before a line that would pass the size limit; the
//!   limit is tiny so that they happen every few lines);
//! - **writer restarts** (`seq` numbering begins again at 1, a new SQLite
//!   connection, the changelog appended to), some of them killing the
//!   writer in the middle of a ledger transaction (lines written, changes
//!   rolled back).
//!
//! The consumer ([`Mirror`]) applies the binary's output as a cache or a
//! mirror would: reset on every `{"snapshot":"begin"}`, upsert every
//! snapshot row and every event's row, delete where an event's `row` is
//! `null`. A lookup that failed (no `row` field) fails the test, and so
//! does the binary ending by itself. The binary is started at random
//! moments (its start snapshot is one of the snapshots), stopped (SIGTERM
//! or SIGKILL) and started again, resuming from a `--state-file` when the
//! case uses one: a clean resume must take no snapshot, a state made stale
//! by a writer restart must take one ("out of sync"). Writer restarts while
//! it runs make gaps, and so more snapshots. The script waits for the
//! binary only by reading its output (or its state in `/proc`) with a
//! deadline, never by sleeping. At the end the writer writes markers until
//! the binary has printed one as an event (so it has read everything); then
//! it is stopped, and the mirror must equal the LDB.
//!
//! The same property runs with the lock unavailable (the LDB read-only to
//! the binary: the fallback of doc/guide.md's "Snapshot, then changes
//! (`--snapshot`)", said once on stderr). There the documented promise is
//! weaker, and the test holds the binary to exactly that: the snapshot and
//! the changes after it miss nothing unless a ledger transaction was open
//! across a rotation (so the writer there rotates before a ledger
//! transaction that would not fit, and the mirror that treats every change
//! as an invalidation must end equal to the LDB), and a row printed for an
//! event may be older than the event only when a ledger transaction wrote
//! that event (doc/guide.md, "Rows from the LDB (`--rows`)": without the
//! lock, `--rows` cannot wait for the commit).
//!
//! What the model leaves out, because the contract does not promise it:
//! a file that came and went before the binary opened it (the writer lets
//! a running binary open the current file before rotating it: `seq` alone
//! finds such a loss, and a writer restart can fool `seq`); a state whose
//! file was rotated away after a writer restart (the same: it is removed,
//! see [`World::predict`]); a binary started while the writer is down
//! (its `-wal` and `-shm` may be gone; see [`Writer::restart`]).
//!
//! `MODEL_CASES=1000` for a longer hunt (about a minute).

// It watches the binary through /proc and Linux's system call numbers.
#![cfg(target_os = "linux")]

use proptest::prelude::*;
use rusqlite::{Connection, params};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, TryRecvError};
use std::time::{Duration, Instant};
use wait_timeout::ChildExt;

/// The changelog's size limit: a line that would take the file past it
/// goes to a new file (ctlstore's default is 1 MiB; a line here is about
/// 100 bytes, so a file holds four or five).
const ROTATE_SIZE: u64 = 500;

/// How long any one wait may take before the test fails: long enough for
/// a loaded 2-core machine, short enough that a hang found while
/// shrinking does not take all day.
const PATIENCE: Duration = Duration::from_secs(10);

/// Keys per table: few, so that updates and deletes hit rows that exist.
const KEYS: u8 = 6;

/// The user the binary runs as in the fallback when the test runs as root
/// (root writes whatever the file modes say).
const NOBODY: u32 = 65534;

/// The LDB's tables. `ctlstore_dml_ledger` is not a `family___table`
/// name: a snapshot must leave it out. `fam___done` holds the markers the
/// test waits for.
const SCHEMA: &str = "
    CREATE TABLE fam___foo (id INTEGER PRIMARY KEY, v VARCHAR(191));
    CREATE TABLE fam___bar (name VARCHAR(191) PRIMARY KEY, n INTEGER);
    CREATE TABLE fam___done (id INTEGER PRIMARY KEY, token INTEGER);
    CREATE TABLE ctlstore_dml_ledger (seq INTEGER PRIMARY KEY, statement TEXT);
    INSERT INTO ctlstore_dml_ledger VALUES (1, 'not a family table');
";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Table {
    /// An integer key.
    Foo,
    /// A text key (`VARCHAR(191)`), in a rowid table.
    Bar,
}

/// One DML statement, as ctlstore applies them.
#[derive(Debug, Clone)]
enum Stmt {
    /// Insert the row with this key, or update it (`None`: NULL).
    Put(Table, u8, Option<u8>),
    /// Delete the row with this key (no line if there is none).
    Delete(Table, u8),
}

/// One step of a script.
#[derive(Debug, Clone)]
enum Step {
    /// A single statement: commit, then its line.
    Single(Stmt),
    /// A ledger transaction: each statement's line before the commit.
    Ledger {
        stmts: Vec<Stmt>,
        /// Start the binary (if it is not running) after this many
        /// statements, with the transaction open.
        start_after: Option<usize>,
        /// Before the commit, wait until the binary is held up by the
        /// open transaction (waiting for the write lock; in the fallback,
        /// having pinned a snapshot that started inside it).
        hold: bool,
        /// The writer is killed before the commit (rolled back; the lines
        /// stay), then restarts.
        killed: bool,
    },
    /// The writer restarts: numbering begins at 1 again.
    WriterRestart,
    /// Start the binary (if it is not running).
    Start,
    /// Stop the binary (if it runs): SIGKILL, or SIGTERM.
    Stop { kill: bool },
    /// Write a marker and wait until the binary has shown it.
    CatchUp,
}

/// A script, and whether the binary keeps a `--state-file` across its
/// runs.
#[derive(Debug, Clone)]
struct Case {
    state_file: bool,
    steps: Vec<Step>,
}

fn table() -> impl Strategy<Value = Table> {
    prop_oneof![Just(Table::Foo), Just(Table::Bar)]
}

fn stmt() -> impl Strategy<Value = Stmt> {
    prop_oneof![
        3 => (table(), 0..KEYS, proptest::option::of(0u8..10))
            .prop_map(|(t, k, v)| Stmt::Put(t, k, v)),
        1 => (table(), 0..KEYS).prop_map(|(t, k)| Stmt::Delete(t, k)),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    let ledger = (
        prop::collection::vec(stmt(), 1..=4),
        proptest::option::weighted(0.3, 1usize..=4),
        any::<bool>(),
        prop::bool::weighted(0.1),
    )
        .prop_map(|(stmts, start_after, hold, killed)| Step::Ledger {
            start_after: start_after.map(|n| n.min(stmts.len())),
            stmts,
            hold,
            killed,
        });
    prop_oneof![
        6 => stmt().prop_map(Step::Single),
        4 => ledger,
        1 => Just(Step::WriterRestart),
        2 => Just(Step::Start),
        1 => any::<bool>().prop_map(|kill| Step::Stop { kill }),
        1 => Just(Step::CatchUp),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    (any::<bool>(), prop::collection::vec(step(), 1..30))
        .prop_map(|(state_file, steps)| Case { state_file, steps })
}

/// Whether the binary may take the LDB's write lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lock {
    Available,
    /// The LDB is read-only to the binary: the fallback.
    Unavailable,
}

/// A row's place: (LDB table, its key values as JSON).
type Key = (String, String);

fn key(table: &str, values: &[Value]) -> Key {
    (table.to_owned(), Value::Array(values.to_vec()).to_string())
}

/// An output line's key: its `family___table` and its keys' values.
fn key_of(line: &Value) -> Key {
    let name = |field: &str| line[field].as_str().expect(field).to_ascii_lowercase();
    let values: Vec<Value> = line["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["value"].clone())
        .collect();
    key(&format!("{}___{}", name("family"), name("table")), &values)
}

/// The key of marker `marker`.
fn done_key(marker: i64) -> Key {
    key("fam___done", &[json!(marker)])
}

/// A file the writer made: its identity, as a state file names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Identity {
    dev: u64,
    ino: u64,
    born: Option<u64>,
}

impl Identity {
    fn of(path: &Path) -> Identity {
        let meta = fs::metadata(path).unwrap();
        let born = meta
            .created()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .and_then(|d| u64::try_from(d.as_nanos()).ok());
        Identity {
            dev: meta.dev(),
            ino: meta.ino(),
            born,
        }
    }

    /// As the binary tells files apart: the birth time where both know it.
    fn names(&self, dev: u64, ino: u64, born: Option<u64>) -> bool {
        self.dev == dev
            && self.ino == ino
            && (self.born.is_none() || born.is_none() || self.born == born)
    }
}

/// A line the writer wrote.
#[derive(Debug, Clone, Copy)]
struct Written {
    seq: i64,
    /// Its file, as an index into [`Writer::files`].
    file: usize,
    /// Where it ends (after its newline).
    end: u64,
}

/// ctlstore's writer: the LDB, and the changelog as its `SizedLogWriter`
/// writes it. It also remembers what it wrote, for the model's
/// predictions.
struct Writer {
    log: PathBuf,
    ldb: PathBuf,
    db: Connection,
    /// The changelog, opened at the first line after a start or a
    /// rotation (as `SizedLogWriter.File()`), and its size.
    file: Option<File>,
    size: u64,
    next_seq: i64,
    /// Whether a restart closes the connection and opens a new one (as a
    /// new process would); not when the LDB is read-only to this user too.
    reopen: bool,
    /// Every file made, in order (the last is the current one).
    files: Vec<Identity>,
    /// Every line written, in order.
    lines: Vec<Written>,
    /// At each restart, how many lines had been written.
    restarts: Vec<usize>,
    /// The keys whose last line a ledger transaction wrote.
    ledger_last: BTreeSet<Key>,
    /// The last marker written.
    marker: i64,
}

impl Writer {
    fn new(dir: &Path) -> Writer {
        let log = dir.join("change.log");
        let ldb = dir.join("ldb.db");
        let db = connect(&ldb);
        let mode: String = db
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        db.execute_batch(SCHEMA).unwrap();
        // The binary is started before the first line is written: the
        // changelog is there (empty), as after a rotation.
        create(&log);
        Writer {
            files: vec![Identity::of(&log)],
            log,
            ldb,
            db,
            file: None,
            size: 0,
            next_seq: 1,
            reopen: true,
            lines: Vec::new(),
            restarts: Vec::new(),
            ledger_last: BTreeSet::new(),
            marker: 0,
        }
    }

    /// Runs `stmt` (in whatever transaction is open); the line it calls
    /// for, if it changed a row: (key, line text).
    fn execute(&mut self, stmt: &Stmt) -> Option<(Key, String)> {
        let (table, k) = match stmt {
            Stmt::Put(t, k, _) | Stmt::Delete(t, k) => (*t, *k),
        };
        let changed = match (stmt, table) {
            (Stmt::Put(_, _, v), Table::Foo) => self.db.execute(
                "INSERT INTO fam___foo (id, v) VALUES (?1, ?2)
                 ON CONFLICT (id) DO UPDATE SET v = excluded.v",
                params![k, v.map(|v| format!("v{v}"))],
            ),
            (Stmt::Put(_, _, v), Table::Bar) => self.db.execute(
                "INSERT INTO fam___bar (name, n) VALUES (?1, ?2)
                 ON CONFLICT (name) DO UPDATE SET n = excluded.n",
                params![format!("k{k}"), v],
            ),
            (Stmt::Delete(..), Table::Foo) => self
                .db
                .execute("DELETE FROM fam___foo WHERE id = ?1", params![k]),
            (Stmt::Delete(..), Table::Bar) => self.db.execute(
                "DELETE FROM fam___bar WHERE name = ?1",
                params![format!("k{k}")],
            ),
        }
        .unwrap();
        (changed > 0).then(|| match table {
            Table::Foo => (
                key("fam___foo", &[json!(k)]),
                line_text("foo", "id", "INTEGER", &json!(k)),
            ),
            Table::Bar => (
                key("fam___bar", &[json!(format!("k{k}"))]),
                line_text("bar", "name", "VARCHAR(191)", &json!(format!("k{k}"))),
            ),
        })
    }

    /// Whether writing a line of `len` bytes now would rotate first
    /// (ctlstore compares the line without its newline).
    fn would_rotate(&self, len: usize) -> bool {
        self.size + len as u64 > ROTATE_SIZE
    }

    /// `SizedLogWriter.Rotate`, then `File()`: the file is deleted and a
    /// new, empty one made at the same path.
    fn rotate(&mut self) {
        self.file = None;
        fs::remove_file(&self.log).unwrap();
        create(&self.log);
        self.files.push(Identity::of(&self.log));
        self.size = 0;
    }

    /// Appends `line` (rotation already decided by the caller). ctlstore
    /// opens the file read-write and writes at its end; the writer is the
    /// only one writing, so appending is the same.
    fn append(&mut self, line: &str) {
        let file = self
            .file
            .get_or_insert_with(|| OpenOptions::new().append(true).open(&self.log).unwrap());
        file.write_all(format!("{line}\n").as_bytes()).unwrap();
        self.size += line.len() as u64 + 1;
        self.lines.push(Written {
            seq: self.next_seq,
            file: self.files.len() - 1,
            end: self.size,
        });
        self.next_seq += 1;
    }

    /// The reflector restarts: a new connection, the changelog opened
    /// again (appending), and numbering from 1.
    fn restart(&mut self) {
        self.file = None;
        if self.reopen {
            // The new connection reads before the old one closes: the last
            // connection's close removes `-wal` and `-shm`, and a binary
            // starting in that instant could not open the LDB read-only
            // (documented: they exist while ctlstore runs), which is not
            // what this test is about.
            let new = connect(&self.ldb);
            new.query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(()))
                .unwrap();
            let old = std::mem::replace(&mut self.db, new);
            old.close().map_err(|(_, e)| e).unwrap();
        }
        self.next_seq = 1;
        self.restarts.push(self.lines.len());
    }

    /// Every row of the LDB's family tables, as the mirror keeps them.
    fn contents(&self) -> BTreeMap<Key, Value> {
        let mut rows = BTreeMap::new();
        let mut read = |sql: &str, f: &dyn Fn(&rusqlite::Row<'_>) -> (Key, Value)| {
            let mut statement = self.db.prepare(sql).unwrap();
            let mut query = statement.query([]).unwrap();
            while let Some(row) = query.next().unwrap() {
                let (k, v) = f(row);
                rows.insert(k, v);
            }
        };
        read("SELECT id, v FROM fam___foo", &|r| {
            let (id, v): (i64, Option<String>) = (r.get(0).unwrap(), r.get(1).unwrap());
            (key("fam___foo", &[json!(id)]), json!({"id": id, "v": v}))
        });
        read("SELECT name, n FROM fam___bar", &|r| {
            let (name, n): (String, Option<i64>) = (r.get(0).unwrap(), r.get(1).unwrap());
            (
                key("fam___bar", &[json!(name)]),
                json!({"name": name, "n": n}),
            )
        });
        read("SELECT id, token FROM fam___done", &|r| {
            let (id, token): (i64, i64) = (r.get(0).unwrap(), r.get(1).unwrap());
            (
                key("fam___done", &[json!(id)]),
                json!({"id": id, "token": token}),
            )
        });
        rows
    }
}

fn connect(path: &Path) -> Connection {
    let db = Connection::open(path).unwrap();
    // The binary may hold the write lock for an instant: wait for it, as
    // ctlstore's writer would.
    db.busy_timeout(PATIENCE).unwrap();
    db
}

/// Creates an empty file readable by all (the binary may run as another
/// user).
fn create(path: &Path) {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(path)
        .unwrap();
}

/// `text` from [`line_text`] with its `seq` filled in.
fn numbered(text: &str, seq: i64) -> String {
    text.replacen("{seq}", &seq.to_string(), 1)
}

/// A changelog line as ctlstore writes it, `{seq}` standing for its seq.
fn line_text(table: &str, column: &str, sql_type: &str, value: &Value) -> String {
    format!(
        r#"{{"seq":{{seq}},"family":"fam","table":"{table}","key":[{{"name":"{column}","type":"{sql_type}","value":{value}}}]}}"#
    )
}

/// What the model expects of a run that starts from a state file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resume {
    /// No state (or none that can be trusted): a start snapshot first.
    Fresh,
    /// Goes on where the state says, without a snapshot.
    Clean,
    /// The state is out of sync: a snapshot ("out of sync") comes.
    Stale,
}

/// The running binary, and what its run has shown so far.
struct Consumer {
    child: Child,
    /// Its output and its messages, a whole line at a time.
    stdout: Receiver<String>,
    stderr: Receiver<String>,
    /// The stderr lines taken from the channel so far.
    errors: Vec<String>,
    /// How its run starts.
    expected: Resume,
    /// Output lines applied from this run.
    lines: usize,
    /// Snapshots begun in this run.
    snapshots: usize,
    /// Rows of the snapshot being printed, if one is.
    in_snapshot: Option<u64>,
    /// The markers whose own events this run printed.
    markers_read: BTreeSet<i64>,
    /// The last event's `seq` since the last snapshot.
    last_seq: Option<i64>,
}

impl Drop for Consumer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whole lines from `reader` (a last line without its newline, as a kill
/// can leave, is not a line).
fn lines_of<R: std::io::Read + Send + 'static>(reader: R) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(reader);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) if line.ends_with(b"\n") => {
                    line.pop();
                    let text = String::from_utf8_lossy(&line).into_owned();
                    if tx.send(text).is_err() {
                        break;
                    }
                }
                Ok(_) => break,
            }
        }
    });
    rx
}

/// What the binary's output has built: the mirror, kept across its runs
/// (a service's cache outlives a restart of its feed).
#[derive(Debug, Default)]
struct Mirror {
    /// Every row as the output last showed it (snapshot rows, events'
    /// rows).
    rows: BTreeMap<Key, Value>,
    /// The last snapshot's rows, and the keys changed since: a cache that
    /// treats each change as an invalidation (and reads those rows again
    /// when asked) holds exactly these.
    snapshot: BTreeMap<Key, Value>,
    invalidated: BTreeSet<Key>,
}

/// One case's world: the writer, the binary when it runs, the mirror.
struct World {
    lock: Lock,
    /// Run the binary as [`NOBODY`] (the fallback, as root).
    as_nobody: bool,
    /// Removed with the world.
    _dir: tempfile::TempDir,
    state: Option<PathBuf>,
    writer: Writer,
    consumer: Option<Consumer>,
    mirror: Mirror,
    /// Times the binary was seen held up by an open ledger transaction.
    holds_seen: usize,
    /// How many snapshots each finished run took.
    runs: Vec<usize>,
    /// What happened, for a failure's message.
    trace: Vec<String>,
}

impl World {
    fn new(lock: Lock, state_file: bool) -> World {
        let dir = tempfile::tempdir().unwrap();
        let as_nobody = lock == Lock::Unavailable && unsafe { libc::geteuid() } == 0;
        let mut writer = Writer::new(dir.path());
        let state = state_file.then(|| {
            let states = dir.path().join("state");
            fs::create_dir(&states).unwrap();
            if as_nobody {
                std::os::unix::fs::chown(&states, Some(NOBODY), Some(NOBODY)).unwrap();
            }
            states.join("state.json")
        });
        if lock == Lock::Unavailable {
            if as_nobody {
                // Everything readable, nothing writable, to the binary.
                fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
                for suffix in ["", "-wal", "-shm"] {
                    let mut name = writer.ldb.clone().into_os_string();
                    name.push(suffix);
                    fs::set_permissions(&name, fs::Permissions::from_mode(0o644)).unwrap();
                }
            } else {
                // SQLite opens a file it may not write read-only. The
                // writer keeps its connection (it could not open another).
                fs::set_permissions(&writer.ldb, fs::Permissions::from_mode(0o444)).unwrap();
                writer.reopen = false;
            }
        }
        World {
            lock,
            as_nobody,
            _dir: dir,
            state,
            writer,
            consumer: None,
            mirror: Mirror::default(),
            holds_seen: 0,
            runs: Vec::new(),
            trace: Vec::new(),
        }
    }

    /// Fails the test with `what` and the end of the trace.
    #[track_caller]
    fn fail(&self, what: impl std::fmt::Display) -> ! {
        let from = self.trace.len().saturating_sub(120);
        let stderr = self.consumer.as_ref().map(|c| {
            let mut lines = c.errors.clone();
            lines.extend(c.stderr.try_iter());
            lines
        });
        panic!(
            "{what}\n--- the running binary's stderr: {stderr:?}\n--- trace (last {} of {}) ---\n{}",
            self.trace.len() - from,
            self.trace.len(),
            self.trace[from..].join("\n")
        );
    }

    fn note(&mut self, what: impl Into<String>) {
        self.trace.push(what.into());
    }

    fn run(&mut self, steps: &[Step]) {
        for step in steps {
            self.note(format!("step {step:?}"));
            self.pump();
            match step {
                Step::Single(stmt) => self.single(stmt),
                Step::Ledger {
                    stmts,
                    start_after,
                    hold,
                    killed,
                } => self.ledger(stmts, *start_after, *hold, *killed),
                Step::WriterRestart => self.writer_restart(),
                Step::Start => {
                    if self.consumer.is_none() {
                        self.start();
                        self.check_resume();
                    }
                }
                Step::Stop { kill } => {
                    self.stop(*kill);
                }
                Step::CatchUp => {
                    if self.consumer.is_some() {
                        self.catch_up();
                    }
                }
            }
        }
        // The end: the binary runs and has read everything (a marker shown
        // by its own event: every line before it was read, every snapshot
        // for a gap among them is out, and nothing more is written), then
        // stops; the mirror must be the LDB. (A marker shown by a snapshot
        // is not enough: a gap read next may have begun another one, which
        // the stop would cut short.)
        self.note("end");
        if self.consumer.is_none() {
            self.start();
            self.check_resume();
        }
        for _ in 0..5 {
            self.catch_up();
            let marker = self.writer.marker;
            if self
                .consumer
                .as_ref()
                .is_some_and(|c| c.markers_read.contains(&marker))
            {
                if self.stop(false) {
                    self.fail("stopped inside a snapshot after reading everything");
                }
                self.compare();
                return;
            }
        }
        self.fail("no marker was ever shown by its own event");
    }

    /// A single statement: commit, then its line.
    fn single(&mut self, stmt: &Stmt) {
        if let Some((key, text)) = self.writer.execute(stmt) {
            self.write_line(key, &text, false);
        }
    }

    /// A ledger transaction: each statement's line before the commit.
    fn ledger(&mut self, stmts: &[Stmt], start_after: Option<usize>, hold: bool, killed: bool) {
        if self.lock == Lock::Unavailable {
            self.fit_ledger(stmts.len());
        }
        self.writer.db.execute_batch("BEGIN").unwrap();
        let mut lines = 0;
        let mut started = None;
        for (i, stmt) in stmts.iter().enumerate() {
            if let Some((key, text)) = self.writer.execute(stmt) {
                self.write_line(key, &text, true);
                lines += 1;
            }
            if start_after == Some(i + 1) && self.consumer.is_none() {
                self.note("  (start, the transaction open)");
                self.start();
                started = self.consumer.as_ref().map(|c| c.expected);
            }
        }
        if hold {
            self.hold(lines, started);
        }
        if killed {
            self.note("  (writer killed before the commit)");
            self.writer.db.execute_batch("ROLLBACK").unwrap();
            self.writer_restart();
        } else {
            self.writer.db.execute_batch("COMMIT").unwrap();
        }
    }

    /// The fallback's promise holds only when no ledger transaction is
    /// open across a rotation: rotate before one whose lines (at most one
    /// per statement) would not fit, as if the limit were reached there.
    fn fit_ledger(&mut self, statements: usize) {
        let longest = line_text("bar", "name", "VARCHAR(191)", &json!("k0"));
        let mut size = self.writer.size;
        for i in 0..statements {
            let line = numbered(&longest, self.writer.next_seq + i as i64);
            if size + line.len() as u64 > ROTATE_SIZE {
                self.note("  (rotation before the ledger transaction)");
                self.before_rotation();
                self.writer.rotate();
                return;
            }
            size += line.len() as u64 + 1;
        }
    }

    /// Appends a line, rotating first if it would pass the limit.
    fn write_line(&mut self, key: Key, text: &str, ledger: bool) {
        let line = numbered(text, self.writer.next_seq);
        if self.writer.would_rotate(line.len()) {
            self.before_rotation();
            self.writer.rotate();
            self.note("  (rotated)");
        }
        self.writer.append(&line);
        self.note(format!("  wrote {line}"));
        if ledger {
            self.writer.ledger_last.insert(key);
        } else {
            self.writer.ledger_last.remove(&key);
        }
    }

    /// The promise covers the lines of every file the binary had open; one
    /// that came and went unseen is caught by `seq` alone, which a writer
    /// restart can fool (its numbers may go on as if nothing happened). So
    /// a running binary gets to open the current file before it goes.
    fn before_rotation(&mut self) {
        if self.consumer.is_none() {
            return;
        }
        let target = fs::canonicalize(&self.writer.log).unwrap();
        self.wait("the binary to open the current file", |world| {
            world
                .consumer
                .as_ref()
                .is_some_and(|c| has_open(c.child.id(), &target))
        });
    }

    fn writer_restart(&mut self) {
        self.writer.restart();
        self.note("  (writer restarted)");
    }

    /// With a ledger transaction open: wait until the binary is held up by
    /// it. With the lock: its main thread sleeps in SQLite's busy handler
    /// (a snapshot's or a batch's `BEGIN IMMEDIATE`); the commit then lets
    /// it go on. In the fallback: a snapshot that began inside the
    /// transaction has pinned its read (it says it has no lock right
    /// after), so the transaction's rows are not in it.
    fn hold(&mut self, lines: usize, started: Option<Resume>) {
        let Some(consumer) = &self.consumer else {
            return;
        };
        let pid = consumer.child.id();
        match self.lock {
            Lock::Available => {
                // It tries the lock for a snapshot, or for the rows of
                // the lines it reads.
                if lines == 0 && started != Some(Resume::Fresh) {
                    return;
                }
                if in_busy_handler(pid).is_none() {
                    self.note("  (cannot see where the binary waits: not held)");
                    return;
                }
                self.wait("the binary to wait for the write lock", |_| {
                    in_busy_handler(pid) == Some(true)
                });
            }
            Lock::Unavailable => {
                if started != Some(Resume::Fresh) {
                    return;
                }
                self.wait("the binary to say it has no write lock", |world| {
                    world
                        .consumer
                        .as_mut()
                        .is_some_and(|c| c.said("cannot take the write lock"))
                });
            }
        }
        self.holds_seen += 1;
        self.note("  (the binary is held up by the open transaction)");
    }

    /// Starts the binary, as a fresh run or resuming from its state.
    fn start(&mut self) {
        let expected = match self.state.clone() {
            Some(state) if state.exists() => self.predict(&state),
            _ => Resume::Fresh,
        };
        let mut command = Command::new(env!("CARGO_BIN_EXE_changelog-tail"));
        command
            .env_remove("CTLSTORE_PATH")
            .env_remove("NO_COLOR")
            .env_remove("CHANGELOG_TAIL_WATCHER")
            .arg("--path")
            .arg(&self.writer.log)
            .arg("--ldb")
            .arg(&self.writer.ldb)
            .args([
                "--snapshot",
                "--rows",
                "--on-out-of-sync",
                "snapshot",
                "--format",
                "ndjson",
            ]);
        if let Some(state) = &self.state {
            command.arg("--state-file").arg(state);
        }
        if self.as_nobody {
            command.uid(NOBODY).gid(NOBODY);
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn changelog-tail");
        let stdout = lines_of(child.stdout.take().unwrap());
        let stderr = lines_of(child.stderr.take().unwrap());
        self.note(format!("  started the binary, expecting {expected:?}"));
        self.consumer = Some(Consumer {
            child,
            stdout,
            stderr,
            errors: Vec::new(),
            expected,
            lines: 0,
            snapshots: 0,
            in_snapshot: None,
            markers_read: BTreeSet::new(),
            last_seq: None,
        });
    }

    /// What a run resuming from the state file at `path` must do
    /// (doc/guide.md, "Resuming across runs" and "Snapshot, then changes
    /// (`--snapshot`)"), from where the state stands in what the writer
    /// wrote.
    ///
    /// A state whose file is still the current one goes on at its offset:
    /// clean, unless the writer restarted after its line (the next lines
    /// then reveal the gap). A state whose file was rotated away is
    /// proven by `seq` alone: clean when the current file begins with the
    /// line after it, out of sync when lines were lost between. If the
    /// writer restarted after its line, `seq` cannot tell (the new
    /// numbering may run into the old, a case the resume rules cannot see:
    /// doc/guarantees.md, "Not guaranteed"): the model then removes the
    /// state, and the run starts afresh.
    fn predict(&mut self, path: &Path) -> Resume {
        let state: Value = serde_json::from_slice(&fs::read(path).unwrap()).unwrap();
        match predict(&self.writer, &state) {
            Ok(Some(resume)) => resume,
            Ok(None) => {
                self.note(format!(
                    "  (state {state} is beyond what seq can prove: removed)"
                ));
                fs::remove_file(path).unwrap();
                Resume::Fresh
            }
            Err(wrong) => self.fail(format!("{wrong}: {state}")),
        }
    }

    /// After a start outside a transaction: a run that resumes shows the
    /// marker written next without a snapshot when its state was clean,
    /// and after one ("out of sync") when it was stale. (A fresh run's
    /// first line is its start snapshot: [`apply`](Self::apply) checks.)
    fn check_resume(&mut self) {
        let expected = self.consumer.as_ref().map(|c| c.expected);
        if expected == Some(Resume::Fresh) {
            return;
        }
        self.catch_up();
        let snapshots = self.consumer.as_ref().map_or(0, |c| c.snapshots);
        match expected {
            Some(Resume::Clean) if snapshots > 0 => self.fail("a clean resume took a snapshot"),
            Some(Resume::Stale) if snapshots == 0 => {
                self.fail("a stale state was resumed without a snapshot")
            }
            _ => {}
        }
    }

    /// Writes a marker (a single statement inserting a row of its own)
    /// and waits until the binary shows that row: by the marker's event
    /// (the only line that names it), or in a snapshot taken after it.
    /// Then everything written before it has reached the mirror. (Not by
    /// the row's value: an event's row is the row as it is now, so an
    /// older line printed late would show a newer value.)
    fn catch_up(&mut self) {
        self.writer.marker += 1;
        let marker = self.writer.marker;
        self.writer
            .db
            .execute(
                "INSERT INTO fam___done (id, token) VALUES (?1, ?1)",
                params![marker],
            )
            .unwrap();
        let text = line_text("done", "id", "INTEGER", &json!(marker));
        self.write_line(done_key(marker), &text, false);
        self.wait("the binary to show the marker", |world| {
            world
                .consumer
                .as_ref()
                .is_some_and(|c| c.in_snapshot.is_none())
                && world.mirror.rows.contains_key(&done_key(marker))
        });
    }

    /// Stops the binary: SIGKILL (a crash), or SIGTERM (which it answers
    /// by flushing and exiting 143). Takes in all it printed; says whether
    /// it stopped inside a snapshot.
    fn stop(&mut self, kill: bool) -> bool {
        let Some(consumer) = &mut self.consumer else {
            return false;
        };
        match kill {
            true => consumer.child.kill().unwrap(),
            false => {
                let rc = unsafe { libc::kill(consumer.child.id() as libc::pid_t, libc::SIGTERM) };
                assert_eq!(rc, 0);
            }
        }
        let status = consumer.child.wait_timeout(PATIENCE).unwrap();
        let Some(status) = status else {
            self.fail("the binary did not end");
        };
        let deadline = Instant::now() + PATIENCE;
        loop {
            let consumer = self.consumer.as_ref().unwrap();
            match consumer
                .stdout
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(line) => self.apply(&line),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => self.fail("stdout never closed"),
            }
        }
        let mut consumer = self.consumer.take().unwrap();
        let deadline = Instant::now() + PATIENCE;
        while let Ok(line) = consumer
            .stderr
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            consumer.errors.push(line);
        }
        self.note(format!(
            "  stopped the binary ({status}); stderr: {:?}",
            consumer.errors
        ));
        self.check_ended(&consumer, status, kill);
        self.runs.push(consumer.snapshots);
        consumer.in_snapshot.is_some()
    }

    /// How a stopped run ended, and what it said.
    fn check_ended(&self, consumer: &Consumer, status: ExitStatus, kill: bool) {
        use std::os::unix::process::ExitStatusExt;
        let expected_end = match kill {
            true => status.signal() == Some(libc::SIGKILL),
            // Killed by the signal itself if it came before the handler.
            false => status.code() == Some(143) || status.signal() == Some(libc::SIGTERM),
        };
        if !expected_end {
            self.fail(format!("the binary ended so: {status}"));
        }
        let count = |needle: &str| {
            consumer
                .errors
                .iter()
                .filter(|l| l.contains(needle))
                .count()
        };
        match self.lock {
            Lock::Available => {
                if !consumer.errors.is_empty() {
                    self.fail(format!("unexpected stderr: {:?}", consumer.errors));
                }
            }
            Lock::Unavailable => {
                // The fallback, said once per run (by its first snapshot),
                // and once that rows may be older than their events.
                let snapshot = count("cannot take the write lock");
                let rows = count("cannot take the LDB's write lock");
                let said_right = match (kill, consumer.snapshots) {
                    (_, 0) => snapshot == 0,
                    // A crash may come between the snapshot's first line
                    // and its warning.
                    (true, _) => snapshot <= 1,
                    (false, _) => snapshot == 1,
                };
                if !said_right || rows > 1 || snapshot + rows != consumer.errors.len() {
                    self.fail(format!(
                        "the fallback is not said once: {:?}",
                        consumer.errors
                    ));
                }
            }
        }
    }

    /// Applies whatever the binary printed so far.
    fn pump(&mut self) {
        loop {
            let Some(consumer) = &self.consumer else {
                return;
            };
            match consumer.stdout.try_recv() {
                Ok(line) => self.apply(&line),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    let mut consumer = self.consumer.take().unwrap();
                    let status = consumer.child.wait().unwrap();
                    consumer.errors.extend(consumer.stderr.iter());
                    self.note(format!(
                        "  the binary ended by itself ({status}); stderr: {:?}",
                        consumer.errors
                    ));
                    self.fail("the binary ended by itself");
                }
            }
        }
    }

    /// Waits (applying output meanwhile) until `done` holds; fails after
    /// [`PATIENCE`], or if the binary ends.
    fn wait(&mut self, what: &str, mut done: impl FnMut(&mut World) -> bool) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            self.pump();
            if done(self) {
                return;
            }
            if Instant::now() >= deadline {
                let stderr = self.consumer.as_mut().map(|c| {
                    c.errors.extend(c.stderr.try_iter());
                    c.errors.clone()
                });
                self.fail(format!(
                    "waited {PATIENCE:?} for {what}; its stderr: {stderr:?}"
                ));
            }
            std::thread::yield_now();
        }
    }

    /// One line of the binary's output, applied to the mirror (and
    /// checked as it goes).
    fn apply(&mut self, text: &str) {
        self.note(format!("  out {text}"));
        let consumer = self.consumer.as_mut().expect("a running binary");
        let rules = Rules {
            consecutive: self.lock == Lock::Available,
            // Each writer restart is one gap, reported once by a run; a
            // stale state one more. More is a snapshot that did not move
            // reading on (again and again).
            most_gaps: self.writer.restarts.len() + 1,
        };
        if let Err(wrong) = apply(consumer, &mut self.mirror, rules, text) {
            self.fail(wrong);
        }
    }

    /// The end: the mirror against the LDB.
    fn compare(&self) {
        let truth = self.writer.contents();
        let differ = |mirror: &BTreeMap<Key, Value>, skip: &dyn Fn(&Key) -> bool| {
            truth
                .keys()
                .chain(mirror.keys())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .filter(|k| !skip(k) && mirror.get(*k) != truth.get(*k))
                .map(|k| format!("{k:?}: mirror {:?}, LDB {:?}", mirror.get(k), truth.get(k)))
                .collect::<Vec<_>>()
        };
        match self.lock {
            Lock::Available => {
                let wrong = differ(&self.mirror.rows, &|_| false);
                if !wrong.is_empty() {
                    self.fail(format!("the mirror is not the LDB:\n{}", wrong.join("\n")));
                }
            }
            Lock::Unavailable => {
                // Nothing missed: the last snapshot, less what changed
                // since, is the LDB.
                let invalidated = &self.mirror.invalidated;
                let wrong = differ(&self.mirror.snapshot, &|k| invalidated.contains(k));
                if !wrong.is_empty() {
                    self.fail(format!(
                        "the fallback missed a change:\n{}",
                        wrong.join("\n")
                    ));
                }
                // Rows older than their events only where a ledger
                // transaction wrote the last line of that row.
                let ledger = &self.writer.ledger_last;
                let wrong = differ(&self.mirror.rows, &|k| ledger.contains(k));
                if !wrong.is_empty() {
                    self.fail(format!(
                        "a row older than its event, not of a ledger transaction:\n{}",
                        wrong.join("\n")
                    ));
                }
            }
        }
    }
}

impl Consumer {
    /// Whether stderr has a line with `needle` by now.
    fn said(&mut self, needle: &str) -> bool {
        self.errors.extend(self.stderr.try_iter());
        self.errors.iter().any(|l| l.contains(needle))
    }
}

/// What [`apply`] holds a run's output to.
#[derive(Debug, Clone, Copy)]
struct Rules {
    /// Every gap is a snapshot, so between two the events' `seq`s follow
    /// on. Not in the fallback: there the lines before a snapshot's
    /// position are read again, and a gap among them that the snapshot
    /// answered is not reported again.
    consecutive: bool,
    /// How many snapshots for a gap the run may take at most.
    most_gaps: usize,
}

/// One line of `consumer`'s output, applied to `mirror` and checked: the
/// snapshot lines' order and reasons, the events' `seq`s, their rows.
fn apply(
    consumer: &mut Consumer,
    mirror: &mut Mirror,
    rules: Rules,
    text: &str,
) -> Result<(), String> {
    let line: Value = serde_json::from_str(text).map_err(|e| format!("not JSON ({e}): {text}"))?;
    let first = consumer.lines == 0;
    consumer.lines += 1;
    let fresh = consumer.expected == Resume::Fresh;
    match line.get("snapshot").and_then(Value::as_str) {
        Some("begin") => {
            if consumer.in_snapshot.is_some() {
                return Err(format!("a snapshot began inside another: {text}"));
            }
            // A fresh run begins with its start snapshot; every other one
            // comes of a gap.
            let start = fresh && consumer.snapshots == 0;
            let reason = line["reason"].as_str();
            let right = match start {
                true => first && reason == Some("start"),
                false => reason == Some("out of sync"),
            };
            if !right {
                return Err(format!("a snapshot for the wrong reason: {text}"));
            }
            consumer.snapshots += 1;
            if consumer.snapshots - usize::from(fresh) > rules.most_gaps {
                return Err(format!(
                    "{} snapshots for gaps, but the writer made at most {}",
                    consumer.snapshots - usize::from(fresh),
                    rules.most_gaps
                ));
            }
            consumer.in_snapshot = Some(0);
            consumer.last_seq = None;
            mirror.rows.clear();
            mirror.snapshot.clear();
            mirror.invalidated.clear();
        }
        Some("row") => {
            let Some(rows) = &mut consumer.in_snapshot else {
                return Err(format!("a snapshot row outside a snapshot: {text}"));
            };
            *rows += 1;
            let key = key_of(&line);
            mirror.rows.insert(key.clone(), line["row"].clone());
            mirror.snapshot.insert(key, line["row"].clone());
        }
        Some("end") => {
            let Some(rows) = consumer.in_snapshot.take() else {
                return Err(format!("a snapshot end outside a snapshot: {text}"));
            };
            if line["rows"].as_u64() != Some(rows) {
                return Err(format!("{rows} rows, but the end says {text}"));
            }
        }
        Some(_) => return Err(format!("an unknown snapshot line: {text}")),
        None => {
            if consumer.in_snapshot.is_some() {
                return Err(format!("an event inside a snapshot: {text}"));
            }
            if first && fresh {
                return Err(format!("a fresh run printed an event first: {text}"));
            }
            let seq = line["seq"].as_i64().ok_or(format!("no seq: {text}"))?;
            // Every gap is a snapshot: between two, seqs follow on.
            if let Some(last) = consumer.last_seq
                && seq != last + 1
                && rules.consecutive
            {
                return Err(format!("seq {seq} after {last} without a snapshot"));
            }
            consumer.last_seq = Some(seq);
            let key = key_of(&line);
            if key.0 == "fam___done" {
                consumer
                    .markers_read
                    .extend(line["keys"][0]["value"].as_i64());
            }
            match line.get("row") {
                None => return Err(format!("an event without its row: {text}")),
                Some(Value::Null) => {
                    mirror.rows.remove(&key);
                }
                Some(row) => {
                    mirror.rows.insert(key.clone(), row.clone());
                }
            }
            mirror.invalidated.insert(key);
        }
    }
    Ok(())
}

/// [`World::predict`]'s reasoning: `None` where `seq` cannot tell.
fn predict(writer: &Writer, state: &Value) -> Result<Option<Resume>, String> {
    let number = |field: &str| state.get(field).and_then(Value::as_u64);
    let (Some(dev), Some(ino), Some(end)) = (number("dev"), number("ino"), number("end")) else {
        return Err("a state without its position".to_owned());
    };
    let current = writer.files.len() - 1;
    let file = writer
        .files
        .iter()
        .rposition(|f| f.names(dev, ino, number("born")))
        .ok_or("the state names a file never written")?;
    let Some(seq) = state.get("seq").and_then(Value::as_i64) else {
        // A position before any event (a fallback's snapshot leaves the
        // start of its file): proven only in the same file, where every
        // line after it is read again, the first one unchecked; a restart
        // after that one is a gap.
        if file != current {
            return Ok(Some(Resume::Stale));
        }
        let first = writer
            .lines
            .iter()
            .position(|l| l.file == file && l.end > end);
        let restarted = first.is_some_and(|f| writer.restarts.iter().any(|&at| at > f));
        return Ok(Some(match restarted {
            true => Resume::Stale,
            false => Resume::Clean,
        }));
    };
    let line = writer
        .lines
        .iter()
        .position(|l| l.file == file && l.end == end)
        .ok_or("the state names no line written")?;
    if writer.lines[line].seq != seq {
        return Err("the state's seq is not its line's".to_owned());
    }
    let restarted = writer.restarts.iter().any(|&at| at > line);
    Ok(match (file == current, restarted) {
        (true, true) => Some(Resume::Stale),
        (true, false) => Some(Resume::Clean),
        (false, true) => None,
        (false, false) => Some(match writer.lines.get(line + 1) {
            // The line after it begins the current file, or is still to
            // be written there.
            None => Resume::Clean,
            Some(next) if next.file == current => Resume::Clean,
            Some(_) => Resume::Stale,
        }),
    })
}

/// Whether process `pid` has `target` open.
fn has_open(pid: u32, target: &Path) -> bool {
    let Ok(entries) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    entries
        .flatten()
        .any(|e| fs::read_link(e.path()).is_ok_and(|p| p == target))
}

/// Whether the main thread of `pid` sleeps in `nanosleep` (SQLite's busy
/// handler sleeps so between tries: nothing else in the binary's main
/// thread does); `None` if that cannot be seen here.
fn in_busy_handler(pid: u32) -> Option<bool> {
    let text = fs::read_to_string(format!("/proc/{pid}/task/{pid}/syscall")).ok()?;
    let number = text.split_whitespace().next()?.parse::<i64>();
    Some(number.is_ok_and(|n| n == libc::SYS_nanosleep || n == libc::SYS_clock_nanosleep))
}

fn run(lock: Lock, case: &Case) -> World {
    let mut world = World::new(lock, case.state_file);
    world.run(&case.steps);
    world
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("MODEL_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(48),
        failure_persistence: None,
        // Each case runs processes, and a hang costs a [`PATIENCE`]: a
        // failing case is shrunk for a minute, not for ever.
        max_shrink_iters: 256,
        max_shrink_time: 60_000,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_mirror_of_the_output_ends_equal_to_the_ldb(case in case()) {
        run(Lock::Available, &case);
    }

    #[test]
    fn without_the_write_lock_the_fallback_misses_nothing(case in case()) {
        run(Lock::Unavailable, &case);
    }
}

/// A snapshot that starts while a ledger transaction is open (its lines
/// written, its rows not committed) waits for the commit, within the
/// lock's bound: its rows then hold the transaction's changes.
#[test]
fn a_snapshot_started_inside_a_ledger_transaction_waits_for_its_commit() {
    let steps = [
        Step::Single(Stmt::Put(Table::Foo, 1, Some(1))),
        Step::Single(Stmt::Put(Table::Bar, 2, Some(2))),
        Step::Ledger {
            stmts: vec![
                Stmt::Put(Table::Foo, 1, Some(9)),
                Stmt::Delete(Table::Bar, 2),
                Stmt::Put(Table::Foo, 3, None),
            ],
            start_after: Some(2),
            hold: true,
            killed: false,
        },
        Step::CatchUp,
    ];
    let world = run(
        Lock::Available,
        &Case {
            state_file: false,
            steps: steps.to_vec(),
        },
    );
    assert_eq!(world.holds_seen, 1, "the snapshot never waited");
}

/// A running binary reads a ledger transaction's lines before its commit;
/// the rows it prints for them wait for the commit.
#[test]
fn rows_of_a_ledger_transaction_wait_for_its_commit() {
    let steps = [
        Step::Start,
        Step::CatchUp,
        Step::Ledger {
            stmts: vec![
                Stmt::Put(Table::Foo, 1, Some(9)),
                Stmt::Put(Table::Bar, 2, Some(2)),
            ],
            start_after: None,
            hold: true,
            killed: false,
        },
    ];
    let world = run(
        Lock::Available,
        &Case {
            state_file: false,
            steps: steps.to_vec(),
        },
    );
    assert_eq!(world.holds_seen, 1, "the rows never waited");
}

/// In the fallback, a writer restart inside the current file is one gap:
/// one snapshot, after which reading goes on (the lines before the
/// snapshot's position are read again, and their old gap with them).
#[test]
fn in_the_fallback_a_writer_restart_in_the_current_file_is_one_snapshot() {
    let steps = [
        Step::Single(Stmt::Put(Table::Foo, 1, Some(1))),
        Step::Single(Stmt::Put(Table::Foo, 2, Some(1))),
        Step::Start,
        Step::CatchUp,
        Step::WriterRestart,
        Step::Single(Stmt::Put(Table::Foo, 1, Some(2))),
        Step::CatchUp,
        Step::Single(Stmt::Put(Table::Foo, 2, Some(2))),
    ];
    for state_file in [false, true] {
        let world = run(
            Lock::Unavailable,
            &Case {
                state_file,
                steps: steps.to_vec(),
            },
        );
        // The start, and the restart's gap.
        assert_eq!(world.runs, [2], "{state_file}");
    }
}
