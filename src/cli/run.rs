//! The run: follow, filter, print, and decide how it ends.

use super::config::{Config, OnOutOfSync};
use super::exit::Exit;
use super::output::Output;
use super::report::Report;
use super::signals;
use anyhow::Context;
use changelog_tail::{ChangelogIterator, Error, Follower, Next, Source};
use std::io::BufWriter;
use std::time::Instant;

/// Output buffer: large enough that a backlog costs few write calls.
const OUTPUT_BUFFER: usize = 64 * 1024;

/// Follows the changelog as `config` says until something ends the run.
/// Errors are runtime failures (exit 1); the caller prints them.
pub fn run(config: &Config, report: Report) -> anyhow::Result<Exit> {
    let follower = Follower::new(&config.path, config.follow.clone())?;
    let received =
        signals::forward_to(follower.cancel_handle()).context("cannot set up signal handling")?;
    let signal_exit = || Exit::Signal(received.signal().unwrap_or(signal_hook::consts::SIGINT));
    let mut events = match ChangelogIterator::from_source(follower, config.filter.clone()) {
        Ok(events) => events,
        Err(Error::Cancelled) => return Ok(signal_exit()),
        Err(e) => return Err(e.into()),
    };
    let mut out = Output::new(
        BufWriter::with_capacity(OUTPUT_BUFFER, std::io::stdout().lock()),
        config.format,
        config.color_stdout,
    );
    let mut printed = 0u64;
    let mut caught_up = false;
    if config.count == Some(0) {
        return Ok(Exit::Success);
    }
    loop {
        // Look without blocking first; only when there is nothing to read
        // is the output flushed and the wait a real one.
        let deadline = if caught_up {
            None
        } else {
            Some(Instant::now())
        };
        let record = match events.next_record(deadline) {
            Ok(Next::Item(record)) => record,
            Ok(Next::TimedOut) => {
                out.flush()?;
                caught_up = true;
                continue;
            }
            Ok(Next::End) => break,
            Ok(Next::Cancelled) => {
                out.flush()?;
                return Ok(signal_exit());
            }
            Err(Error::InvalidEntry(entry)) if config.strict => {
                out.flush()?;
                report.error(format_args!(
                    "{entry}; stopping because of --strict (exit 4)"
                ));
                return Ok(Exit::InvalidEntry);
            }
            Err(Error::InvalidEntry(entry)) => {
                report.warning(format_args!("{entry}; skipped"));
                continue;
            }
            Err(e) => {
                out.flush()?;
                return Err(e.into());
            }
        };
        caught_up = false;
        if let Some(expected) = record.gap {
            let location = record.location();
            let lost = format!(
                "out of sync: expected seq {expected} but read seq {} at {location}; events were lost",
                record.event.seq
            );
            match config.on_out_of_sync {
                OnOutOfSync::Exit => {
                    out.flush()?;
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
            if Some(printed) == config.count {
                break;
            }
        }
    }
    out.flush()?;
    Ok(Exit::Success)
}
