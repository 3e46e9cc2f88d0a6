//! The changelog iterator: lines in, checked and filtered events out.
//!
//! Every valid line's `seq` is checked against the previous valid line's,
//! whatever its family and table (a filter must not hide a gap: SPEC §2);
//! then the filter decides whether the event is handed out.

use crate::entry::{self, Decoded, InvalidEntry, Location};
use crate::error::Error;
use crate::event::Event;
use crate::filter::Filter;
use crate::follow::{FollowOptions, Follower};
use crate::source::{Item, LineInfo, Next, Source};
use crate::wake::CancelHandle;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// An event with everything known about the line it came from.
#[derive(Debug)]
pub struct Record<'a> {
    /// The decoded event.
    pub event: Event,
    /// The line exactly as read, without its `\n`.
    pub line: &'a [u8],
    /// Where the line was.
    pub info: LineInfo,
    /// The file it was read from.
    pub path: &'a Arc<Path>,
    /// `Some(expected seq)` when this event revealed a gap (out of sync).
    pub gap: Option<i64>,
    /// Whether the event passes the filter (a revealing event is handed out
    /// even when it does not).
    pub matches: bool,
}

/// Follows a changelog and hands out its events in order.
///
/// Calls block until an event arrives; [`next_until`](Self::next_until)
/// takes a deadline, and a [`CancelHandle`] ends a wait from another thread.
/// As a [`std::iter::Iterator`] it yields `Result<Event, Error>` and ends when
/// the input ends (`follow: false`) or is cancelled.
///
/// ```no_run
/// use changelog_tail::{ChangelogIterator, Error, Filter};
/// let mut events = ChangelogIterator::open_filtered(
///     "/var/spool/ctlstore/change.log",
///     Filter::new().family("fam").table("foo"),
/// )?;
/// for result in &mut events {
///     match result {
///         Ok(event) => println!("invalidate {:?}", event.row_update.keys),
///         Err(Error::OutOfSync { .. }) => println!("drop every cache"),
///         Err(e) if e.is_recoverable() => eprintln!("{e}"),
///         Err(e) => return Err(e),
///     }
/// }
/// # Ok::<(), Error>(())
/// ```
pub struct ChangelogIterator<S: Source = Follower> {
    source: S,
    filter: Filter,
    last_seq: Option<i64>,
    done: bool,
}

impl ChangelogIterator<Follower> {
    /// Follows the changelog at `path` with default options, every event.
    /// Waits up to 1 s for a missing file, as the Go iterator does.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        Self::open_filtered(path, Filter::new())
    }

    /// Follows the changelog at `path`, handing out only what `filter` matches.
    pub fn open_filtered(path: impl AsRef<Path>, filter: Filter) -> Result<Self, Error> {
        Self::with_options(path, FollowOptions::default(), filter)
    }

    /// Follows the changelog at `path` as `options` say.
    pub fn with_options(
        path: impl AsRef<Path>,
        options: FollowOptions,
        filter: Filter,
    ) -> Result<Self, Error> {
        Self::from_source(Follower::new(path, options)?, filter)
    }
}

impl<S: Source> ChangelogIterator<S> {
    /// Starts `source` and reads from it; a source that fails to start is
    /// this constructor's error.
    pub fn from_source(mut source: S, filter: Filter) -> Result<Self, Error> {
        source.start()?;
        let last_seq = source
            .take_baseline()
            .and_then(|(line, _)| match entry::decode(&line) {
                Ok(Decoded::Event(event)) => Some(event.seq),
                _ => None,
            });
        Ok(ChangelogIterator {
            source,
            filter,
            last_seq,
            done: false,
        })
    }

    /// The `seq` of the last valid event read (matching or not), the
    /// baseline for the next sequence check.
    pub fn last_seq(&self) -> Option<i64> {
        self.last_seq
    }

    /// Sets the baseline: the next event must be `seq + 1`.
    pub fn set_last_seq(&mut self, seq: i64) {
        self.last_seq = Some(seq);
    }

    /// The filter events are matched against.
    pub fn filter(&self) -> &Filter {
        &self.filter
    }

    /// A handle that cancels blocked and future calls from any thread.
    pub fn cancel_handle(&self) -> CancelHandle {
        self.source.cancel_handle()
    }

    /// Stops following and releases the file and notifications (as
    /// dropping the iterator does).
    pub fn close(self) {}

    /// The next matching event, or one that revealed a gap, with its line.
    /// Invalid lines come back as [`Error::InvalidEntry`]; call again to go
    /// on. Blocks until `deadline` (`None`: no limit).
    pub fn next_record(&mut self, deadline: Option<Instant>) -> Result<Next<Record<'_>>, Error> {
        if self.done {
            return Ok(Next::End);
        }
        let (event, info, gap, matches) = loop {
            let info = match self.source.next_item(deadline) {
                Ok(Next::Item(Item::Line(info))) => info,
                Ok(Next::Item(Item::Invalid(entry))) => return Err(Error::InvalidEntry(entry)),
                Ok(Next::TimedOut) => return Ok(Next::TimedOut),
                Ok(Next::End) => return Ok(Next::End),
                Ok(Next::Cancelled) => return Ok(Next::Cancelled),
                Err(e) => {
                    self.done = true;
                    return Err(e);
                }
            };
            let event = match entry::decode(self.source.line()) {
                Ok(Decoded::Event(event)) => event,
                Ok(Decoded::Blank) => continue,
                Err(reason) => {
                    let location = self.location(&info);
                    return Err(Error::InvalidEntry(InvalidEntry::new(
                        location,
                        reason,
                        self.source.line(),
                    )));
                }
            };
            let gap = self
                .last_seq
                .map(|last| last.saturating_add(1))
                .filter(|&expected| expected != event.seq);
            self.last_seq = Some(event.seq);
            let matches = self.filter.matches(&event);
            if matches || gap.is_some() {
                break (event, info, gap, matches);
            }
        };
        Ok(Next::Item(Record {
            event,
            line: self.source.line(),
            path: self.source.path(),
            info,
            gap,
            matches,
        }))
    }

    /// The next matching event; a gap comes back as [`Error::OutOfSync`]
    /// carrying the revealing event (call again to go on after it).
    pub fn next_until(&mut self, deadline: Option<Instant>) -> Result<Next<Event>, Error> {
        let (event, info, gap, matches) = match self.next_record(deadline)? {
            Next::Item(r) => (r.event, r.info, r.gap, r.matches),
            Next::TimedOut => return Ok(Next::TimedOut),
            Next::End => return Ok(Next::End),
            Next::Cancelled => return Ok(Next::Cancelled),
        };
        match gap {
            Some(expected) => Err(Error::OutOfSync {
                expected,
                event,
                matches_filter: matches,
                location: self.location(&info),
            }),
            None => Ok(Next::Item(event)),
        }
    }

    /// [`next_until`](Self::next_until) with a timeout instead of a deadline.
    pub fn next_timeout(&mut self, timeout: Duration) -> Result<Next<Event>, Error> {
        self.next_until(Some(Instant::now() + timeout))
    }

    /// Where the line described by `info` starts.
    pub fn location(&self, info: &LineInfo) -> Location {
        Location {
            path: Arc::clone(self.source.path()),
            line: info.line,
            offset: info.offset,
        }
    }
}

impl Record<'_> {
    /// Where the record's line starts.
    pub fn location(&self) -> Location {
        Location {
            path: Arc::clone(self.path),
            line: self.info.line,
            offset: self.info.offset,
        }
    }
}

impl<S: Source> Iterator for ChangelogIterator<S> {
    type Item = Result<Event, Error>;

    /// Blocks until the next event or error; `None` once the input ended,
    /// the iterator was cancelled or a fatal error was returned.
    fn next(&mut self) -> Option<Self::Item> {
        match self.next_until(None) {
            Ok(Next::Item(event)) => Some(Ok(event)),
            Ok(Next::TimedOut | Next::End | Next::Cancelled) => None,
            Err(e) => Some(Err(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    //! The Go package's iterator tests, against an in-memory source.
    use super::*;
    use crate::source::MemorySource;

    fn line(seq: i64, table: &str) -> String {
        format!(
            r#"{{"seq":{seq},"family":"fam","table":"{table}","key":[{{"name":"id","type":"INT","value":{seq}}}]}}"#
        )
    }

    fn iterator(lines: Vec<String>, filter: Filter) -> ChangelogIterator<MemorySource> {
        ChangelogIterator::from_source(MemorySource::new(lines), filter).unwrap()
    }

    #[test]
    fn five_events_in_order() {
        let lines = (0..5).map(|i| line(i, "t")).collect();
        let seqs: Vec<i64> = iterator(lines, Filter::new())
            .map(|r| r.unwrap().seq)
            .collect();
        assert_eq!(seqs, vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn filter_returns_only_the_even_tables() {
        let lines = (0..10)
            .map(|i| line(i, if i % 2 == 0 { "even" } else { "odd" }))
            .collect();
        let seqs: Vec<i64> = iterator(lines, Filter::new().family("fam").table("even"))
            .map(|r| r.unwrap().seq)
            .collect();
        assert_eq!(seqs, vec![0, 2, 4, 6, 8]);
    }

    #[test]
    fn a_gap_is_out_of_sync_carrying_the_event_then_reading_goes_on() {
        let mut it = iterator(
            vec![line(0, "t"), line(3, "t"), line(4, "t")],
            Filter::new(),
        );
        assert_eq!(it.next().unwrap().unwrap().seq, 0);
        match it.next().unwrap() {
            Err(Error::OutOfSync {
                expected, event, ..
            }) => {
                assert_eq!(expected, 1);
                assert_eq!(event.seq, 3);
            }
            other => panic!("expected out of sync, got {other:?}"),
        }
        assert_eq!(it.next().unwrap().unwrap().seq, 4);
        assert!(it.next().is_none());
    }

    #[test]
    fn the_filtered_iterator_reports_gaps_in_rows_it_does_not_match() {
        let mut it = iterator(
            vec![line(0, "t"), line(3, "t"), line(4, "t")],
            Filter::new().table("other"),
        );
        match it.next().unwrap() {
            Err(Error::OutOfSync {
                expected,
                event,
                matches_filter,
                ..
            }) => {
                assert_eq!((expected, event.seq, matches_filter), (1, 3, false));
            }
            other => panic!("expected out of sync, got {other:?}"),
        }
        assert!(it.next().is_none());
    }

    #[test]
    fn a_source_that_fails_to_start_fails_the_constructor() {
        let err =
            ChangelogIterator::from_source(MemorySource::failing_start("boom"), Filter::new())
                .err()
                .expect("an error");
        assert_eq!(err.to_string(), "boom");
    }

    #[test]
    fn invalid_lines_are_recoverable_errors_with_their_place() {
        let mut it = iterator(
            vec![line(1, "t"), "garbage".into(), "".into(), line(2, "t")],
            Filter::new(),
        );
        assert_eq!(it.next().unwrap().unwrap().seq, 1);
        match it.next().unwrap() {
            Err(Error::InvalidEntry(entry)) => {
                assert_eq!(entry.location.line, 2);
                assert_eq!(entry.preview, "garbage");
            }
            other => panic!("expected invalid entry, got {other:?}"),
        }
        assert_eq!(it.next().unwrap().unwrap().seq, 2);
    }

    #[test]
    fn a_deadline_returns_timed_out_while_following() {
        let mut it = ChangelogIterator::from_source(
            MemorySource::following(vec![line(1, "t")]),
            Filter::new(),
        )
        .unwrap();
        assert!(matches!(
            it.next_timeout(Duration::from_millis(5)).unwrap(),
            Next::Item(_)
        ));
        assert!(matches!(
            it.next_timeout(Duration::from_millis(5)).unwrap(),
            Next::TimedOut
        ));
    }

    #[test]
    fn cancel_from_another_thread_ends_a_blocked_call() {
        let mut it = ChangelogIterator::from_source(
            MemorySource::following(Vec::<String>::new()),
            Filter::new(),
        )
        .unwrap();
        let cancel = it.cancel_handle();
        let t = std::thread::spawn(move || cancel.cancel());
        assert!(matches!(it.next_until(None).unwrap(), Next::Cancelled));
        t.join().unwrap();
        assert!(it.next().is_none());
    }
}
