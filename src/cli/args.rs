//! The command-line definition (clap derive), as the user types it.
//!
//! Only parsing and validation of single values live here; decisions that
//! depend on the environment (terminal, `NO_COLOR`, `CTLSTORE_PATH`,
//! `CHANGELOG_TAIL_WATCHER`) are
//! made once in [`super::config`].

use clap::{Parser, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

const ABOUT: &str = "Follow ctlstore's changelog and print the row changes you care about.";

const LONG_ABOUT: &str = "\
Follow ctlstore's changelog and print the row changes you care about.

ctlstore keeps a copy of a central config database on every host. Each time
it applies a write, it appends one JSON line per changed row to a changelog
file (change.log), and rotates that file by deleting and re-creating it.
changelog-tail follows that file the way `tail -F` would, across rotations,
and prints each change (sequence number, family, table, primary key) as
NDJSON for jq and scripts, or as readable lines on a terminal.

Every line carries a sequence number one higher than the last. If one is
skipped (a rotated file was lost, the writer restarted), changelog-tail says
so and exits 3: whoever caches data from the database must then drop it.";

const AFTER_HELP: &str = "\
Exit status:
  0    --no-follow reached the end, --count was reached, or the reader of
       stdout went away
  1    error: changelog missing (after --wait), unreadable, ...
  2    bad command line
  3    out of sync: events were lost; drop your caches, then restart
  4    invalid entry with --strict
  130  interrupted (SIGINT); 143: terminated (SIGTERM)

Signals:
  SIGUSR1 prints one status line to stderr (the file, offset and size, last
  seq, lines read, events printed...) and goes on, as dd does:
  kill -USR1 $(pidof changelog-tail)

Environment:
  CHANGELOG_TAIL_WATCHER  how changes to the changelog are noticed:
       inotify  Linux's own notifications (the default on Linux)
       notify   the notify crate's watcher: kqueue on macOS and the BSDs
                (the default there), inotify underneath on Linux
       poll     look every 100 ms
       Unset or empty: the default. --poll INTERVAL wins over it; any other
       value is a usage error.

Examples:
  changelog-tail --family payments --table accounts | jq -r '.keys[0].value'
  changelog-tail --no-follow --path ./change.log --format pretty
  changelog-tail --table users --key id=42 --count 1
  changelog-tail --rows --family f --table users | jq -r '.row.email'
  changelog-tail --snapshot --on-out-of-sync snapshot --family f --table users
  changelog-tail --state-file /var/lib/myapp/changelog.state --family payments
  ssh host tail -F /var/spool/ctlstore/change.log | changelog-tail --path - --family payments";

/// `changelog-tail [OPTIONS]`: see `--help`.
#[derive(Debug, Parser)]
#[command(
    name = "changelog-tail",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = "Exit status: 0 ok, 1 error, 2 usage, 3 out of sync, 4 invalid entry (--strict), 130/143 signal. See --help.",
    after_long_help = AFTER_HELP,
)]
pub struct Args {
    /// The changelog file to follow, or - for standard input (a pipe)
    /// [default: $CTLSTORE_PATH/change.log, else /var/spool/ctlstore/change.log]
    #[arg(short, long, value_name = "PATH")]
    pub path: Option<PathBuf>,

    /// Print only events of this family (case-insensitive; a glob with *, ?
    /// or [...], e.g. 'pay*'; repeat for any of several)
    #[arg(long, value_name = "NAME")]
    pub family: Vec<String>,

    /// Print only events of this table (case-insensitive; a glob with *, ?
    /// or [...], e.g. 'user*'; repeat for any of several)
    #[arg(long, value_name = "NAME")]
    pub table: Vec<String>,

    /// Print only events with key column NAME equal to VALUE (repeat: all must hold)
    #[arg(long, value_name = "NAME=VALUE", value_parser = parse_key)]
    pub key: Vec<(String, String)>,

    /// Output format [default: pretty on a terminal, ndjson otherwise]
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<FormatArg>,

    /// When to use colour (pretty output and messages); auto honours NO_COLOR
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ColorArg::Auto)]
    pub color: ColorArg,

    /// Where to begin: the start of the current file, or only new lines
    #[arg(long, value_enum, value_name = "WHERE", default_value_t = FromArg::Start)]
    pub from: FromArg,

    /// Resume after seq N: skip events through N; the first one printed must
    /// be N+1, else out of sync
    #[arg(long, value_name = "N", conflicts_with = "state_file")]
    pub after_seq: Option<i64>,

    /// Resume across runs: start after the event this file names, and keep
    /// it up to date (at-least-once; one file per running process)
    #[arg(long, value_name = "PATH")]
    pub state_file: Option<PathBuf>,

    /// Start with the last N matching events of the current file (0: only
    /// new ones), then follow, as tail -n; with --no-follow, print them and
    /// exit. Reads the file once more at start and keeps one position per
    /// event counted (under 100 bytes each, at most as many as the file
    /// holds)
    #[arg(short = 'n', long, value_name = "N",
          conflicts_with_all = ["from", "after_seq", "state_file"])]
    pub lines: Option<u64>,

    /// Exit 0 after printing N events
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,

    /// Keep following the file as it grows and rotates: the default,
    /// accepted for the habit of tail -f
    #[arg(short = 'f', long, conflicts_with = "no_follow")]
    pub follow: bool,

    /// Read to the end of the current file, then exit 0
    #[arg(long)]
    pub no_follow: bool,

    /// If the changelog does not exist, wait for it (default: give up after 1 s)
    #[arg(long)]
    pub wait: bool,

    /// What to do when events were lost: exit 3, warn and go on, or print a
    /// fresh snapshot of the LDB's rows and go on
    #[arg(long, value_enum, value_name = "ACTION", default_value_t = OnOutOfSyncArg::Exit)]
    pub on_out_of_sync: OnOutOfSyncArg,

    /// Exit 4 on the first invalid line instead of warning and going on
    #[arg(long)]
    pub strict: bool,

    /// Print each matching line exactly as read (implies ndjson)
    #[arg(long)]
    pub raw: bool,

    /// Add each printed event's row as it is now in ctlstore's LDB: a last
    /// NDJSON field "row" (the row, or null if there is none), or
    /// "→ col=value …" in pretty output
    #[arg(long)]
    pub rows: bool,

    /// The LDB that --rows and snapshots read
    /// [default: $CTLSTORE_PATH/ldb.db, else /var/spool/ctlstore/ldb.db]
    #[arg(long, value_name = "PATH")]
    pub ldb: Option<PathBuf>,

    /// First print every row of the matching tables as it is now in
    /// ctlstore's LDB ("snapshot" lines: begin, one per row, end), then the
    /// changes from that moment on; with --state-file, only when there is
    /// no state or it is out of sync
    #[arg(long, conflicts_with_all = ["from", "after_seq", "lines"])]
    pub snapshot: bool,

    /// Check for changes every INTERVAL (e.g. 250ms, 2s) instead of waiting
    /// for filesystem notifications; for NFS and other mounts without them
    #[arg(long, value_name = "INTERVAL", value_parser = parse_interval)]
    pub poll: Option<Duration>,

    /// Longest line accepted, in bytes; longer lines are reported and skipped
    #[arg(long, value_name = "N", default_value_t = changelog_tail::DEFAULT_MAX_LINE_BYTES,
          value_parser = parse_max_line_bytes)]
    pub max_line_bytes: usize,

    /// No warnings or notices on stderr (errors and out of sync are still
    /// said)
    #[arg(short, long, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Also a note on stderr for each rotation followed ("… has been
    /// replaced; following the new file", as tail -F)
    #[arg(short, long)]
    pub verbose: bool,

    /// Print the man page (roff) or a shell's completions to stdout and
    /// exit, e.g. --generate complete-bash > /etc/bash_completion.d/changelog-tail
    #[arg(long, value_enum, value_name = "KIND")]
    pub generate: Option<GenerateArg>,
}

/// `--generate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GenerateArg {
    /// The man page, roff (man -l to read it)
    Man,
    /// Completions for bash
    CompleteBash,
    /// Completions for zsh
    CompleteZsh,
    /// Completions for fish
    CompleteFish,
    /// Completions for elvish
    CompleteElvish,
    /// Completions for PowerShell
    CompletePowershell,
}

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// One JSON object per line
    Ndjson,
    /// One readable line per event
    Pretty,
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorArg {
    /// When writing to a terminal and NO_COLOR is not set
    Auto,
    /// Always
    Always,
    /// Never
    Never,
}

/// `--from`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FromArg {
    /// The beginning of the current file
    Start,
    /// After the last complete line (its seq is the baseline)
    End,
}

/// `--on-out-of-sync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnOutOfSyncArg {
    /// Exit with status 3
    Exit,
    /// Warn on stderr, print the event and go on
    Warn,
    /// Print a fresh snapshot of the LDB's rows (a consumer resets on its
    /// "begin" line), then go on from where it was taken
    Snapshot,
}

fn parse_key(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_owned(), value.to_owned())),
        _ => Err(format!("expected NAME=VALUE, e.g. id=42, got {s:?}")),
    }
}

/// A duration: a number with `us`, `ms`, `s` or `m`; a bare number is seconds
/// (as `tail -s`).
fn parse_interval(s: &str) -> Result<Duration, String> {
    let split = s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let scale = match unit {
        "us" => 1e-6,
        "ms" => 1e-3,
        "" | "s" => 1.0,
        "m" => 60.0,
        _ => {
            return Err(format!(
                "unknown unit {unit:?}: use us, ms, s or m, e.g. 250ms"
            ));
        }
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("expected a duration such as 250ms or 2s, got {s:?}"))?;
    let seconds = value * scale;
    // At least a microsecond: a shorter one rounds to nothing (or close to
    // it), and polling would spin.
    if !(seconds.is_finite() && (1e-6..1e9).contains(&seconds)) {
        return Err(format!(
            "the interval must be at least 1us and below 1e9 s, got {s:?}"
        ));
    }
    Ok(Duration::from_secs_f64(seconds))
}

fn parse_max_line_bytes(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("expected a number of bytes above zero, got {s:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_definition_is_consistent() {
        Args::command().debug_assert();
    }

    #[test]
    fn intervals_take_units_and_reject_nonsense() {
        assert_eq!(parse_interval("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_interval("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_interval("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_interval("1m"), Ok(Duration::from_secs(60)));
        assert!(parse_interval("0").is_err());
        assert!(parse_interval("-1s").is_err());
        assert!(parse_interval("5h").is_err());
        assert!(parse_interval("fast").is_err());
    }

    #[test]
    fn keys_need_a_name_and_an_equals_sign() {
        assert_eq!(parse_key("id=4=2"), Ok(("id".into(), "4=2".into())));
        assert_eq!(parse_key("name="), Ok(("name".into(), "".into())));
        assert!(parse_key("id").is_err());
        assert!(parse_key("=1").is_err());
    }
}
