//! Settings decided once from the arguments and the environment.
//!
//! The terminal, `NO_COLOR`, `CTLSTORE_PATH` and `CHANGELOG_TAIL_WATCHER`
//! are looked at here and nowhere else; the rest of the program works from
//! a [`Config`].

use super::args::{Args, ColorArg, FormatArg, FromArg, OnOutOfSyncArg};
use changelog_tail::{Builder, ChangelogIterator, Checkpoint, Filter, Start, WatchMode};
use clap::CommandFactory;
use std::ffi::OsStr;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

/// The environment variable that picks how changes are noticed.
pub const WATCHER_VAR: &str = "CHANGELOG_TAIL_WATCHER";

/// The interval of `CHANGELOG_TAIL_WATCHER=poll` (as the fallback's when
/// notifications cannot be had).
const ENV_POLL: Duration = Duration::from_millis(100);

/// How events are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Normalised NDJSON.
    Ndjson,
    /// Each matching input line, byte for byte.
    Raw,
    /// One readable line per event.
    Pretty,
}

/// What an out-of-sync condition does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnOutOfSync {
    /// Exit 3.
    Exit,
    /// Warn and go on from the revealing event.
    Warn,
    /// Print a fresh snapshot and go on from where it was taken.
    Snapshot,
}

/// Everything the run needs, decided.
#[derive(Debug, Clone)]
pub struct Config {
    /// `--path -`: read standard input.
    pub stdin: bool,
    pub path: PathBuf,
    pub filter: Filter,
    /// `--from end` (else the start of the file).
    pub from_end: bool,
    /// Not `--no-follow`.
    pub follow: bool,
    /// `None` with `--wait`.
    pub wait_for_file: Option<Duration>,
    pub watch: WatchMode,
    pub max_line_bytes: usize,
    pub format: Format,
    pub color_stdout: bool,
    pub color_stderr: bool,
    pub count: Option<u64>,
    pub after_seq: Option<i64>,
    /// `-n N`: start at the last N matching events.
    pub lines: Option<u64>,
    pub state_file: Option<PathBuf>,
    pub strict: bool,
    pub on_out_of_sync: OnOutOfSync,
    /// With `--rows` or a snapshot: the LDB.
    pub ldb: Option<PathBuf>,
    /// `--rows`: each event with its row.
    pub rows: bool,
    /// `--snapshot`: the rows first (unless resuming cleanly).
    pub snapshot: bool,
    /// `-q`: no warnings or notices.
    pub quiet: bool,
    /// `-v`: a note for each rotation followed.
    pub verbose: bool,
}

impl Config {
    /// Decides the settings; a contradiction between options is a usage
    /// error (exit 2, clap's format).
    pub fn from_args(args: Args) -> Result<Config, clap::Error> {
        let stdout_tty = std::io::stdout().is_terminal();
        let stderr_tty = std::io::stderr().is_terminal();
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let color = |tty: bool| match args.color {
            ColorArg::Always => true,
            ColorArg::Never => false,
            ColorArg::Auto => tty && !no_color,
        };
        let format = format(&args, stdout_tty)?;
        conflicts(&args, format)?;
        let watcher = std::env::var_os(WATCHER_VAR);
        let watch = match args.poll {
            Some(interval) => {
                // Checked all the same: a mistake there is worth telling.
                watch_mode(watcher.as_deref())?;
                WatchMode::Poll(interval)
            }
            None => watch_mode(watcher.as_deref())?,
        };
        let stdin = args.path.as_deref() == Some(std::path::Path::new("-"));
        if stdin {
            pipe_conflicts(&args)?;
        }
        let needs_ldb = needs_ldb(&args);
        let mut filter = Filter::new();
        // A stray `[` is a typo, not a name (ctlstore's never hold one):
        // a usage error that says where, not a filter that matches nothing.
        let pattern_error = |option: &str, error: changelog_tail::PatternError| {
            Args::command().error(
                clap::error::ErrorKind::ValueValidation,
                format!("invalid value for {option}: {error}"),
            )
        };
        for family in args.family {
            filter = filter
                .try_family(family)
                .map_err(|e| pattern_error("--family", e))?;
        }
        for table in args.table {
            filter = filter
                .try_table(table)
                .map_err(|e| pattern_error("--table", e))?;
        }
        for (name, value) in args.key {
            filter = filter.key(name, value);
        }
        Ok(Config {
            stdin,
            path: args.path.unwrap_or_else(changelog_tail::default_path),
            filter,
            from_end: args.from == FromArg::End,
            follow: !args.no_follow,
            wait_for_file: (!args.wait).then_some(Duration::from_secs(1)),
            watch,
            max_line_bytes: args.max_line_bytes,
            format,
            color_stdout: format == Format::Pretty && color(stdout_tty),
            color_stderr: color(stderr_tty),
            count: args.count,
            after_seq: args.after_seq,
            lines: args.lines,
            state_file: args.state_file,
            strict: args.strict,
            on_out_of_sync: match args.on_out_of_sync {
                OnOutOfSyncArg::Exit => OnOutOfSync::Exit,
                OnOutOfSyncArg::Warn => OnOutOfSync::Warn,
                OnOutOfSyncArg::Snapshot => OnOutOfSync::Snapshot,
            },
            ldb: needs_ldb.then(|| args.ldb.unwrap_or_else(changelog_tail::default_ldb_path)),
            rows: args.rows,
            snapshot: args.snapshot,
            quiet: args.quiet,
            verbose: args.verbose,
        })
    }

    /// The iterator these settings describe, starting after `checkpoint`
    /// when a state file holds one.
    pub fn builder(&self, checkpoint: Option<Checkpoint>) -> Builder {
        // `-n` comes with none of the others (clap refuses them).
        let start = match (checkpoint, self.after_seq, self.lines) {
            (Some(checkpoint), _, _) => Start::Checkpoint(checkpoint),
            (None, Some(seq), _) => Start::AfterSeq(seq),
            (None, None, Some(n)) => Start::LastMatching(n),
            (None, None, None) if self.from_end => Start::End,
            (None, None, None) => Start::Beginning,
        };
        let builder = match self.stdin {
            true => ChangelogIterator::builder_stdin(),
            false => ChangelogIterator::builder(&self.path),
        };
        builder
            .filter(self.filter.clone())
            .start(start)
            .follow(self.follow)
            .wait_for_file(self.wait_for_file)
            .watch(self.watch)
            .max_line_bytes(self.max_line_bytes)
            .checkpoints(self.state_file.is_some())
            .check_every_line(self.strict)
            .rotation_notices(self.verbose)
    }
}

/// How changes are noticed, as `CHANGELOG_TAIL_WATCHER` says (`value`):
/// unset or empty, the system's default.
fn watch_mode(value: Option<&OsStr>) -> Result<WatchMode, clap::Error> {
    let Some(value) = value.filter(|v| !v.is_empty()) else {
        return Ok(WatchMode::Notify);
    };
    match value.to_str() {
        #[cfg(target_os = "linux")]
        Some("inotify") => Ok(WatchMode::Notify),
        #[cfg(not(target_os = "linux"))]
        Some("inotify") => Err(Args::command().error(
            clap::error::ErrorKind::InvalidValue,
            format!("{WATCHER_VAR}=inotify: inotify exists only on Linux; use notify or poll"),
        )),
        Some("notify") => Ok(WatchMode::Portable),
        Some("poll") => Ok(WatchMode::Poll(ENV_POLL)),
        _ => Err(Args::command().error(
            clap::error::ErrorKind::InvalidValue,
            format!(
                "invalid value {:?} for {WATCHER_VAR}: expected inotify, notify or poll",
                value.to_string_lossy()
            ),
        )),
    }
}

/// What `--format` and `--raw` (and the terminal) make of the output.
fn format(args: &Args, stdout_tty: bool) -> Result<Format, clap::Error> {
    Ok(match (args.format, args.raw) {
        (Some(FormatArg::Pretty), true) => {
            return Err(Args::command().error(
                clap::error::ErrorKind::ArgumentConflict,
                "--raw prints input lines as they are and cannot be combined with --format pretty",
            ));
        }
        (_, true) => Format::Raw,
        (Some(FormatArg::Ndjson), false) => Format::Ndjson,
        (Some(FormatArg::Pretty), false) => Format::Pretty,
        (None, false) if stdout_tty => Format::Pretty,
        (None, false) => Format::Ndjson,
    })
}

/// Options that contradict each other: a usage error that says why.
fn conflicts(args: &Args, format: Format) -> Result<(), clap::Error> {
    if args.rows && format == Format::Raw {
        return Err(Args::command().error(
            clap::error::ErrorKind::ArgumentConflict,
            "--rows adds a \"row\" field to each event, and --raw prints input lines \
             unchanged: drop --raw (NDJSON is the default when not on a terminal)",
        ));
    }
    if args.ldb.is_some() && !needs_ldb(args) {
        return Err(Args::command().error(
            clap::error::ErrorKind::MissingRequiredArgument,
            "--ldb names the LDB that --rows and snapshots read, and it is read only with \
             --rows, --snapshot or --on-out-of-sync snapshot: add one, or drop --ldb",
        ));
    }
    if args.after_seq.is_some() && args.from == FromArg::End {
        return Err(Args::command().error(
            clap::error::ErrorKind::ArgumentConflict,
            "--after-seq resumes from a given seq and cannot be combined with --from end",
        ));
    }
    Ok(())
}

/// Whether the run reads the LDB.
fn needs_ldb(args: &Args) -> bool {
    args.rows || args.snapshot || args.on_out_of_sync == OnOutOfSyncArg::Snapshot
}

/// The options that need a file, refused with `--path -` (a pipe has no
/// file to resume in, nothing to wait for or poll, and no end to start
/// from until it closes).
fn pipe_conflicts(args: &Args) -> Result<(), clap::Error> {
    let why = if args.state_file.is_some() {
        "--state-file resumes in a file, and --path - reads a pipe, which has none"
    } else if args.wait {
        "--wait waits for a file to appear, and --path - reads a pipe, which is there already"
    } else if args.poll.is_some() {
        "--poll looks at a file for changes, and --path - reads a pipe, which says when data comes"
    } else if args.from == FromArg::End {
        "--from end starts after the last line, and a pipe (--path -) has no last line until it closes"
    } else if args.lines.is_some() {
        "-n counts back from the end of the file, and a pipe (--path -) has no end until it closes"
    } else if args.snapshot || args.on_out_of_sync == OnOutOfSyncArg::Snapshot {
        "a snapshot goes on from the end of the changelog as it was when the snapshot was taken, \
         and a pipe (--path -) has no end until it closes"
    } else {
        return Ok(());
    };
    Err(Args::command().error(clap::error::ErrorKind::ArgumentConflict, why))
}
