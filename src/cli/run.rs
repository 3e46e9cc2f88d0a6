//! The run: follow, filter, print, keep the state, and decide how it ends.

use super::config::{Config, OnOutOfSync};
use super::exit::Exit;
use super::output::{Output, RawStdout, SnapshotReason};
use super::report::Report;
use super::rows::{Rows, Settle};
use super::signals::{self, Received};
use anyhow::Context;
use changelog_tail::{
    ChangelogIterator, Error, Gap, Ldb, LdbErrorKind, Next, Notice, Record, StateFile, printable,
};
use std::ops::ControlFlow;
use std::time::{Duration, Instant};

/// The state file is written at most this often while events flow (each
/// write costs two fsyncs), and this long after the last event once idle.
const STATE_INTERVAL: Duration = Duration::from_secs(1);

/// …or after this many printed events, whichever comes first…
const STATE_EVENTS: u64 = 10_000;

/// …but during a catch-up not more often than this: ten writes a second
/// cost a catch-up at most about 2%, where one every 10,000 events cost a
/// 90 ms catch-up 4% (it printed 20,000 events).
const STATE_MIN_INTERVAL: Duration = Duration::from_millis(100);

/// How many printed events apart the clock is read for
/// [`STATE_MIN_INTERVAL`] (reading it for every event would cost more than
/// the writes it spaces out).
const STATE_CLOCK_EVERY: u64 = 1024;

/// Follows the changelog as `config` says until something ends the run.
/// Errors are runtime failures (exit 1); the caller prints them.
pub fn run(config: &Config, report: Report) -> anyhow::Result<Exit> {
    let signals = signals::install().context("cannot set up signal handling")?;
    // The LDB first: a run that cannot show rows (or take a snapshot)
    // fails before it prints (or locks, or waits for) anything.
    let rows = match &config.ldb {
        Some(path) => Some(Rows::open(path)?),
        None => None,
    };
    let (state, checkpoint) = match &config.state_file {
        Some(path) => {
            let (state, checkpoint) = StateFile::open(path, &config.path)?;
            (Some(state), checkpoint)
        }
        None => (None, None),
    };
    // A state to resume from: its seq, which an out-of-sync state's first
    // gap names (see `reveals_stale_state`).
    let resumed = checkpoint.as_ref().map(|checkpoint| checkpoint.seq);
    let builder = config.builder(checkpoint);
    let received = signals
        .forward_to(builder.cancel_handle(), builder.interrupt_handle())
        .context("cannot set up signal handling")?;
    let mut events = match builder.open() {
        Ok(events) => events,
        Err(Error::Cancelled) => return Ok(signal_exit(&received)),
        Err(e) => return Err(e.into()),
    };
    let mut session = Session {
        config,
        report,
        received: &received,
        out: Output::new(RawStdout::new(), config.format, config.color_stdout),
        saver: Saver {
            state,
            saved_at: Instant::now(),
            printed: 0,
            blocked: false,
        },
        printed: 0,
        rows,
        resumed,
        said_without_lock: false,
    };
    let ended = match config.snapshot && resumed.is_none() {
        // The state is written once the snapshot is out (a run killed
        // during it leaves none, and the next one takes it again).
        true => session.snapshot(&mut events, SnapshotReason::Start),
        // Where this run starts, on disk before anything is printed: a run
        // killed early must not leave a later one without a baseline.
        false => session.saver.save(&events).map(|()| None),
    };
    let ended = match ended {
        Ok(None) => session.follow(&mut events),
        Ok(Some(exit)) => Ok(exit),
        Err(e) => Err(e),
    };
    // Output first, then the state that covers it. If the output could not
    // be delivered, the state must not claim it was; nor if any write
    // failed, even if this flush got the rest out: the event whose write
    // failed may be missing or cut short (the state stays where the last
    // save put it, and the next run prints that event again).
    let flushed = session.out.flush();
    let delivered = flushed.is_ok() && !session.out.failed();
    if delivered && matches!(ended, Ok(Exit::OutOfSync)) {
        // doc/design.md, Resuming: the state that moves past the gap is the last thing
        // written before exit 3; nothing (closing watches, joining
        // threads, closing the LDB) may stand between the two, so the
        // process ends right here, with nothing dropped.
        if let Some(state) = session.saver.state.as_mut()
            && let Some(checkpoint) = events.checkpoint()
        {
            state.save_before_exit(&checkpoint)?;
            std::process::exit(Exit::OutOfSync.code().into());
        }
    }
    let saved = match flushed {
        Ok(()) if delivered => session.saver.save(&events),
        _ => Ok(()),
    };
    let exit = ended?;
    flushed?;
    saved?;
    Ok(exit)
}

fn signal_exit(received: &Received) -> Exit {
    Exit::Signal(received.signal().unwrap_or(signal_hook::consts::SIGINT))
}

/// Batches state-file writes (see [`STATE_INTERVAL`], [`STATE_EVENTS`]).
struct Saver {
    state: Option<StateFile>,
    saved_at: Instant,
    printed: u64,
    /// A snapshot is being printed: the position already stands after it,
    /// so no state may be written until all its rows are out.
    blocked: bool,
}

impl Saver {
    /// Writes the current position. The output before it must be flushed.
    fn save(&mut self, events: &ChangelogIterator) -> anyhow::Result<()> {
        if self.blocked {
            return Ok(());
        }
        if let (Some(state), Some(checkpoint)) = (&mut self.state, events.checkpoint()) {
            state.save(&checkpoint)?;
        }
        self.saved_at = Instant::now();
        self.printed = 0;
        Ok(())
    }

    /// While events flow: written enough, and not too often (see
    /// [`STATE_EVENTS`]).
    fn is_due_in_flow(&self) -> bool {
        self.printed >= STATE_EVENTS
            && self.printed.is_multiple_of(STATE_CLOCK_EVERY)
            && self.saved_at.elapsed() >= STATE_MIN_INTERVAL
    }

    /// When, caught up, the state must be written if nothing else happens.
    fn due(&self, events: &ChangelogIterator) -> Option<Instant> {
        let state = self.state.as_ref().filter(|_| !self.blocked)?;
        let checkpoint = events.checkpoint()?;
        state
            .is_behind(&checkpoint)
            .then_some(self.saved_at + STATE_INTERVAL)
    }
}

/// What a turn of the loop leads to.
enum Turn {
    /// Read on.
    Go,
    /// The run ends so.
    End(Exit),
    /// Flush and write the state now.
    Save,
    /// Write the state if the interval has passed (output already flushed).
    SaveIfDue,
    /// Print a status line (SIGUSR1), then read on.
    Status,
    /// Print a fresh snapshot, then read on from where it was taken.
    Snapshot(SnapshotReason),
}

/// One run's output side and bookkeeping.
struct Session<'a> {
    config: &'a Config,
    report: Report,
    received: &'a Received,
    out: Output<RawStdout>,
    saver: Saver,
    printed: u64,
    /// With `--rows` or snapshots: the LDB.
    rows: Option<Rows>,
    /// The seq of the state this run resumed from, if it did (`Some(None)`:
    /// a state from before any event), until a snapshot replaces it.
    resumed: Option<Option<i64>>,
    /// That a snapshot could not take the LDB's write lock was said.
    said_without_lock: bool,
}

impl Session<'_> {
    /// The loop proper; returns how the run ends.
    fn follow(&mut self, events: &mut ChangelogIterator) -> anyhow::Result<Exit> {
        if self.config.count == Some(0) {
            return Ok(Exit::Success);
        }
        let mut caught_up = false;
        // Any instant in the past makes a read that does not block (and saves
        // asking the clock on every event).
        let no_wait = Instant::now();
        loop {
            // Look without blocking first; only when there is nothing to read
            // is the output flushed and the wait a real one (bounded only
            // while a state write is due).
            let deadline = if caught_up {
                self.saver.due(events)
            } else {
                Some(no_wait)
            };
            // A backlog is printed straight from what is read, up to
            // whatever is not an event to print now.
            let ready = if caught_up {
                Ok(None)
            } else {
                events.for_each_ready(|record| match self.print(record) {
                    Ok(Turn::Go) => ControlFlow::Continue(()),
                    other => ControlFlow::Break(other),
                })
            };
            // The record borrows `events`; state writes wait until after it.
            let turn = match ready {
                Ok(Some(turn)) => turn?,
                Ok(None) => self.next(events, deadline, &mut caught_up)?,
                Err(e) => self.failed(e)?,
            };
            match turn {
                // All there was is printed: out with it before looking for
                // more (the look costs a read or two, the wait for a CPU).
                // Caught up, so the next look is the wait itself: no look
                // without blocking first, which would find nothing.
                Turn::Go if events.is_drained() => {
                    self.out.flush()?;
                    caught_up = true;
                }
                Turn::Go => {}
                Turn::End(exit) => return Ok(exit),
                Turn::Save => {
                    self.out.flush()?;
                    self.saver.save(events)?;
                }
                Turn::Status => {
                    let status = format!("{}; {} events printed", events.status(), self.printed);
                    self.say(|report| report.status(status))?;
                }
                Turn::Snapshot(reason) => {
                    if let Some(exit) = self.snapshot(events, reason)? {
                        return Ok(exit);
                    }
                    caught_up = false;
                }
                Turn::SaveIfDue => {
                    if self
                        .saver
                        .due(events)
                        .is_some_and(|due| due <= Instant::now())
                    {
                        self.saver.save(events)?;
                    }
                }
            }
        }
    }

    /// One call of the iterator (blocking until `deadline`), and what it
    /// comes to.
    fn next(
        &mut self,
        events: &mut ChangelogIterator,
        deadline: Option<Instant>,
        caught_up: &mut bool,
    ) -> anyhow::Result<Turn> {
        if let Some(rows) = &mut self.rows {
            rows.new_batch();
        }
        Ok(match events.next_record(deadline) {
            Ok(Next::Item(record)) => {
                *caught_up = false;
                self.print(&record)?
            }
            Ok(Next::TimedOut) if *caught_up => Turn::Save,
            Ok(Next::TimedOut) => {
                self.out.flush()?;
                *caught_up = true;
                Turn::SaveIfDue
            }
            Ok(Next::Notice(notice @ Notice::Replaced { .. })) => {
                self.say_unless_quiet(|report| report.note(notice))?;
                Turn::Go
            }
            Ok(Next::Notice(notice)) => {
                self.say_unless_quiet(|report| report.warning(notice))?;
                Turn::Go
            }
            Ok(Next::Cancelled) => Turn::End(signal_exit(self.received)),
            // Asked once per SIGUSR1, whoever answers it (a snapshot may).
            Ok(Next::Interrupted) if self.received.take_status_request() => Turn::Status,
            Ok(Next::Interrupted) => Turn::Go,
            Ok(_) => Turn::End(Exit::Success),
            Err(e) => self.failed(e)?,
        })
    }

    /// An event to print, or one that revealed a gap.
    fn print(&mut self, record: &Record<'_>) -> anyhow::Result<Turn> {
        if let Some(gap) = record.gap() {
            let seq = record.event().seq;
            let resync = match self.config.on_out_of_sync {
                OnOutOfSync::Snapshot => true,
                _ => {
                    self.config.snapshot
                        && self
                            .resumed
                            .is_some_and(|resumed| reveals_stale_state(gap, resumed))
                }
            };
            if resync {
                return Ok(Turn::Snapshot(SnapshotReason::OutOfSync {
                    expected: gap.expected(),
                    got: seq,
                }));
            }
            let lost = format!(
                "out of sync: {} at {}; events were lost",
                gap.describe(seq),
                record.location()
            );
            match self.config.on_out_of_sync {
                OnOutOfSync::Exit => {
                    self.say(|report| {
                        report.error(format_args!(
                            "{lost}: drop everything cached from the database, then restart (exit 3)"
                        ))
                    })?;
                    return Ok(Turn::End(Exit::OutOfSync));
                }
                OnOutOfSync::Warn => self.say(|report| {
                    report.warning_always(format_args!(
                        "{lost}; going on from seq {seq}: drop everything cached from the database"
                    ))
                })?,
                OnOutOfSync::Snapshot => {}
            }
        }
        if !record.matches() {
            return Ok(Turn::Go);
        }
        if self.config.rows {
            // Looked up as it is printed: the row as it is now.
            self.settle_rows()?;
            let lookup = match self.rows.as_mut() {
                Some(rows) => rows.lookup(record.event()),
                None => anyhow::bail!("--rows needs the LDB, which this run has not opened"),
            };
            for warning in lookup.warnings {
                self.say_unless_quiet(|report| report.warning(warning))?;
            }
            self.out.write_with_row(record, &lookup.field)?;
        } else {
            self.out.write(record)?;
        }
        self.printed += 1;
        self.saver.printed += 1;
        if Some(self.printed) == self.config.count {
            return Ok(Turn::End(Exit::Success));
        }
        if self.saver.state.is_some() && self.saver.is_due_in_flow() {
            return Ok(Turn::Save);
        }
        Ok(Turn::Go)
    }

    /// Prints a snapshot of the LDB's rows and moves `events` to where it
    /// was taken (doc/guide.md, Snapshot); returns how the run ends, if a signal ends it
    /// meanwhile. The state is written only once every row is out.
    fn snapshot(
        &mut self,
        events: &mut ChangelogIterator,
        reason: SnapshotReason,
    ) -> anyhow::Result<Option<Exit>> {
        self.saver.blocked = true;
        // A writer's transaction open longer than the lock's bound: tried
        // again (said once), as long as it takes, until a signal; SIGUSR1
        // is answered between tries.
        let mut said_busy = false;
        let waiting = Instant::now();
        let mut snapshot = loop {
            match events.snapshot(self.ldb()?) {
                Err(Error::Ldb(e)) if e.kind() == LdbErrorKind::Busy => {
                    if self.received.signal().is_some() {
                        return Ok(Some(signal_exit(self.received)));
                    }
                    if !std::mem::replace(&mut said_busy, true) {
                        let warning = format!("{e}; trying again until it ends");
                        self.say_unless_quiet(|report| report.warning(warning))?;
                    }
                    self.answer_status(|| {
                        format!(
                            "snapshot: waiting for the LDB's write lock, {} s so far",
                            waiting.elapsed().as_secs()
                        )
                    })?;
                }
                other => break other?,
            }
        };
        let ldb = printable(&self.ldb()?.path().to_string_lossy()).into_owned();
        self.resumed = None;
        self.out.write_snapshot_begin(&reason)?;
        if let Some(why) = snapshot.without_lock()
            && !std::mem::replace(&mut self.said_without_lock, true)
        {
            let warning = format!(
                "cannot take the write lock of LDB {ldb} ({}): the changes follow from the start \
                 of the changelog's current file, so some show twice, and one of a ledger \
                 transaction open across a rotation could be missed",
                printable(why)
            );
            self.say_unless_quiet(|report| report.warning(warning))?;
        }
        for table in snapshot.missing_tables() {
            let warning = format!(
                "LDB {ldb} has no table {}: it gives no rows",
                printable(table)
            );
            self.say_unless_quiet(|report| report.warning(warning))?;
        }
        let mut printed = 0;
        let mut unreadable = 0;
        while let Some(row) = snapshot.next() {
            if self.received.signal().is_some() {
                return Ok(Some(signal_exit(self.received)));
            }
            self.answer_status(|| snapshot.progress().to_string())?;
            match row {
                Ok(row) => {
                    self.out.write_snapshot_row(&row)?;
                    printed += 1;
                }
                Err(e) if e.kind() == LdbErrorKind::Value => {
                    let warning = format!("{e}; the row is not in the snapshot");
                    self.say_unless_quiet(|report| report.warning(warning))?;
                }
                Err(e) if e.kind() == LdbErrorKind::Table => {
                    unreadable += 1;
                    let warning = format!("{e}; it is not in the snapshot");
                    self.say_unless_quiet(|report| report.warning(warning))?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        if snapshot.table_count() == 0 && unreadable == 0 && snapshot.missing_tables().is_empty() {
            let warning = format!("LDB {ldb} has no table that --family and --table select");
            self.say_unless_quiet(|report| report.warning(warning))?;
        }
        self.out.write_snapshot_end(printed)?;
        self.out.flush()?;
        self.saver.blocked = false;
        self.saver.save(events)?;
        Ok(None)
    }

    /// Waits, with `--rows`, until no LDB write transaction is open (once
    /// per batch of lines read): a row is never older than its event. A
    /// transaction open past the lock's bound is waited out (said once)
    /// until it ends or a signal ends the run.
    fn settle_rows(&mut self) -> anyhow::Result<()> {
        let mut said_busy = false;
        let waiting = Instant::now();
        while let Some(rows) = self.rows.as_mut() {
            match rows.settle() {
                Settle::Done(warning) => {
                    if let Some(warning) = warning {
                        self.say_unless_quiet(|report| report.warning(warning))?;
                    }
                    return Ok(());
                }
                Settle::Busy(why) if self.received.signal().is_some() => rows.give_up(why),
                Settle::Busy(why) => {
                    if !std::mem::replace(&mut said_busy, true) {
                        let warning = format!("{why}; waiting for it to end to look up rows");
                        self.say_unless_quiet(|report| report.warning(warning))?;
                    }
                    self.answer_status(|| {
                        format!(
                            "waiting for a write transaction of the LDB to end to look up \
                             rows, {} s so far",
                            waiting.elapsed().as_secs()
                        )
                    })?;
                }
            }
        }
        Ok(())
    }

    /// Prints `status` if SIGUSR1 asked for it since the last answer.
    fn answer_status(&mut self, status: impl FnOnce() -> String) -> anyhow::Result<()> {
        if self.received.take_status_request() {
            let status = status();
            self.say(|report| report.status(status))?;
        }
        Ok(())
    }

    /// The LDB, for a snapshot (opened at the start whenever one may be
    /// taken).
    fn ldb(&mut self) -> anyhow::Result<&mut Ldb> {
        match self.rows.as_mut() {
            Some(rows) => Ok(rows.ldb()),
            None => anyhow::bail!("a snapshot needs the LDB, which this run has not opened"),
        }
    }

    /// Writes a message on stderr after the events printed before it: the
    /// output buffer is flushed first, so that a person reading both on
    /// one terminal (or `2>&1`) sees them in the order they happened. A
    /// failed flush ends the run as any failed write does.
    fn say(&mut self, say: impl FnOnce(&Report)) -> anyhow::Result<()> {
        self.out.flush()?;
        say(&self.report);
        Ok(())
    }

    /// [`say`](Self::say) for a warning or note, which `-q` drops: then
    /// the output is not flushed for it either (a catch-up through many
    /// invalid lines stays one write per buffer).
    fn say_unless_quiet(&mut self, say: impl FnOnce(&Report)) -> anyhow::Result<()> {
        match self.report.is_quiet() {
            true => Ok(()),
            false => self.say(say),
        }
    }

    /// A recoverable error is a warning (or the end, with `--strict`); any
    /// other ends the run.
    fn failed(&mut self, error: Error) -> anyhow::Result<Turn> {
        match error {
            Error::InvalidEntry(entry) if self.config.strict => {
                self.say(|report| {
                    report.error(format_args!(
                        "{entry}; stopping because of --strict (exit 4)"
                    ))
                })?;
                Ok(Turn::End(Exit::InvalidEntry))
            }
            Error::InvalidEntry(entry) => {
                self.say_unless_quiet(|report| report.warning(format_args!("{entry}; skipped")))?;
                Ok(Turn::Go)
            }
            e => Err(e.into()),
        }
    }
}

/// Whether `gap`, revealed after resuming from a state whose seq was
/// `resumed`, says that the state itself is out of sync (rather than that
/// events were lost later in the run).
fn reveals_stale_state(gap: Gap, resumed: Option<i64>) -> bool {
    match gap {
        Gap::Skipped { previous } => Some(previous) == resumed,
        Gap::Missed => false,
        // The resume's own checks: the run it resumed in ends early or was
        // rewritten, or its file is gone.
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn saver(printed: u64, since_write: Duration) -> Saver {
        Saver {
            state: None,
            saved_at: Instant::now() - since_write,
            printed,
            blocked: false,
        }
    }

    #[test]
    fn in_a_flow_the_state_is_due_after_10000_events_at_most_ten_times_a_second() {
        let long = Duration::from_secs(5);
        assert!(!saver(9_216, long).is_due_in_flow(), "too few events");
        assert!(saver(10_240, long).is_due_in_flow());
        assert!(
            !saver(10_241, long).is_due_in_flow(),
            "the clock is read every 1,024"
        );
        assert!(saver(11_264, long).is_due_in_flow());
        assert!(
            !saver(10_240, Duration::from_millis(50)).is_due_in_flow(),
            "too soon"
        );
    }
}
