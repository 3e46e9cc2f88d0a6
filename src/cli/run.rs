//! The run: follow, filter, print, keep the state, and decide how it ends.

use super::config::{Config, OnOutOfSync};
use super::exit::Exit;
use super::output::Output;
use super::report::Report;
use super::signals::{self, Received};
use anyhow::Context;
use changelog_tail::{ChangelogIterator, Error, Follower, Next, Source, StartAt, StateFile};
use std::io::{BufWriter, Write};
use std::time::{Duration, Instant};

/// Output buffer: large enough that a backlog costs few write calls.
const OUTPUT_BUFFER: usize = 64 * 1024;

/// The state file is written at most this often while events flow (each
/// write costs two fsyncs), and this long after the last event once idle.
const STATE_INTERVAL: Duration = Duration::from_secs(1);

/// …or after this many printed events, whichever comes first.
const STATE_EVENTS: u64 = 10_000;

/// Follows the changelog as `config` says until something ends the run.
/// Errors are runtime failures (exit 1); the caller prints them.
pub fn run(config: &Config, report: Report) -> anyhow::Result<Exit> {
    let (state, checkpoint) = match &config.state_file {
        Some(path) => {
            let (state, checkpoint) = StateFile::open(path, &config.path)?;
            (Some(state), checkpoint)
        }
        None => (None, None),
    };
    let mut options = config.follow.clone();
    if let Some(checkpoint) = checkpoint {
        options.start = StartAt::After(checkpoint);
    }
    let follower = Follower::new(&config.path, options)?;
    let received =
        signals::forward_to(follower.cancel_handle()).context("cannot set up signal handling")?;
    let mut events = match ChangelogIterator::from_source(follower, config.filter.clone()) {
        Ok(events) => events,
        Err(Error::Cancelled) => return Ok(signal_exit(&received)),
        Err(e) => return Err(e.into()),
    };
    match (checkpoint, &state) {
        (Some(checkpoint), _) => events.resume_after(&checkpoint),
        (None, Some(_)) => events.keep_checkpoints(),
        (None, None) => {}
    }
    if let Some(seq) = config.after_seq {
        events.skip_through(seq, None);
    }
    let mut out = Output::new(
        BufWriter::with_capacity(OUTPUT_BUFFER, std::io::stdout().lock()),
        config.format,
        config.color_stdout,
    );
    let mut saver = Saver {
        state,
        saved_at: Instant::now(),
        printed: 0,
    };
    let ended = follow(config, report, &received, &mut events, &mut out, &mut saver);
    // Output first, then the state that covers it; if the output could not
    // be delivered, the state must not claim it was.
    let flushed = out.flush();
    let saved = match flushed {
        Ok(()) => saver.save(&events),
        Err(_) => Ok(()),
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
}

impl Saver {
    /// Writes the current position. The output before it must be flushed.
    fn save<S: Source>(&mut self, events: &ChangelogIterator<S>) -> anyhow::Result<()> {
        if let (Some(state), Some(checkpoint)) = (&mut self.state, events.checkpoint()) {
            state.save(&checkpoint)?;
        }
        self.saved_at = Instant::now();
        self.printed = 0;
        Ok(())
    }

    /// When, caught up, the state must be written if nothing else happens.
    fn due<S: Source>(&self, events: &ChangelogIterator<S>) -> Option<Instant> {
        let state = self.state.as_ref()?;
        let checkpoint = events.checkpoint()?;
        state
            .is_behind(&checkpoint)
            .then_some(self.saved_at + STATE_INTERVAL)
    }
}

/// The loop proper; returns how the run ends.
fn follow<S: Source, W: Write>(
    config: &Config,
    report: Report,
    received: &Received,
    events: &mut ChangelogIterator<S>,
    out: &mut Output<W>,
    saver: &mut Saver,
) -> anyhow::Result<Exit> {
    if config.count == Some(0) {
        return Ok(Exit::Success);
    }
    let mut printed = 0u64;
    let mut caught_up = false;
    // Any instant in the past makes a read that does not block (and saves
    // asking the clock on every event).
    let no_wait = Instant::now();
    loop {
        // Look without blocking first; only when there is nothing to read
        // is the output flushed and the wait a real one (bounded only while
        // a state write is due).
        let deadline = if caught_up {
            saver.due(events)
        } else {
            Some(no_wait)
        };
        let mut save = Save::No;
        // The record borrows `events`; state writes wait until after it.
        match events.next_record(deadline) {
            Ok(Next::Item(record)) => {
                caught_up = false;
                if let Some(gap) = record.gap {
                    let lost = format!(
                        "out of sync: {} at {}; events were lost",
                        gap.describe(record.event.seq),
                        record.location()
                    );
                    match config.on_out_of_sync {
                        OnOutOfSync::Exit => {
                            report.error(format_args!(
                                "{lost}: drop everything cached from the database, then restart (exit 3)"
                            ));
                            return Ok(Exit::OutOfSync);
                        }
                        OnOutOfSync::Warn => report.warning(format_args!(
                            "{lost}; going on from seq {}: drop everything cached from the database",
                            record.event.seq
                        )),
                    }
                }
                if record.matches {
                    out.write(&record)?;
                    printed += 1;
                    saver.printed += 1;
                    if Some(printed) == config.count {
                        return Ok(Exit::Success);
                    }
                    if saver.state.is_some() && saver.printed >= STATE_EVENTS {
                        save = Save::Now;
                    }
                }
            }
            Ok(Next::TimedOut) if caught_up => save = Save::Now,
            Ok(Next::TimedOut) => {
                out.flush()?;
                caught_up = true;
                save = Save::IfDue;
            }
            Ok(Next::End) => return Ok(Exit::Success),
            Ok(Next::Cancelled) => return Ok(signal_exit(received)),
            Err(Error::InvalidEntry(entry)) if config.strict => {
                report.error(format_args!(
                    "{entry}; stopping because of --strict (exit 4)"
                ));
                return Ok(Exit::InvalidEntry);
            }
            Err(Error::InvalidEntry(entry)) => report.warning(format_args!("{entry}; skipped")),
            Err(Error::Notice(notice)) => report.warning(notice),
            Err(e) => return Err(e.into()),
        }
        match save {
            Save::No => {}
            Save::Now => {
                out.flush()?;
                saver.save(events)?;
            }
            Save::IfDue => {
                if saver.due(events).is_some_and(|due| due <= Instant::now()) {
                    saver.save(events)?;
                }
            }
        }
    }
}

/// Whether a turn of the loop ends with a state write.
enum Save {
    No,
    /// Flush and write now.
    Now,
    /// Write if the interval has passed (output already flushed).
    IfDue,
}
