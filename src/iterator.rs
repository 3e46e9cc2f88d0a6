//! The changelog iterator: lines in, checked and filtered events out.
//!
//! Every valid line's `seq` is checked against the previous valid line's,
//! whatever its family and table (a filter must not hide a gap: SPEC §2);
//! then the filter decides whether the event is handed out.
//!
//! A resume (`--after-seq`, a state file whose file was rotated away)
//! starts by skipping the run of events already delivered: it must be
//! unbroken and reach the resume point, or the writer restarted and the
//! consumer is out of sync (SPEC §5).

use crate::checkpoint::{Checkpoint, line_hash};
use crate::entry::{self, InvalidEntry, Location};
use crate::error::Error;
use crate::event::{Event, EventRef};
use crate::filter::Filter;
use crate::follow::{FollowOptions, Follower, StartAt};
use crate::source::{Item, LineInfo, Next, Source};
use crate::wake::CancelHandle;
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How events were found to be lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GapKind {
    /// An event's `seq` is not the previous one's `seq + 1`.
    Skipped,
    /// Resuming: the file ends before its run of `seq`s reaches the resume
    /// point (the writer restarted and numbering began again).
    EndsEarly,
    /// Resuming: the line under the resume point's `seq` is not the line
    /// read before (the writer restarted and numbering began again).
    Rewritten,
}

/// Events were lost before the event that carries this.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gap {
    /// The `seq` that should have come next.
    pub expected: i64,
    /// How the loss showed.
    pub kind: GapKind,
}

impl Gap {
    /// Says what happened, given the revealing event's `seq`.
    pub fn describe(&self, seq: i64) -> impl fmt::Display + '_ {
        struct Describe<'a>(&'a Gap, i64);
        impl fmt::Display for Describe<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let Describe(gap, seq) = *self;
                let resume = gap.expected - 1;
                match gap.kind {
                    GapKind::Skipped => {
                        write!(f, "expected seq {} but read seq {seq}", gap.expected)
                    }
                    GapKind::EndsEarly => write!(
                        f,
                        "resuming after seq {resume}, but the changelog ends at seq {seq} \
                         (the writer restarted)"
                    ),
                    GapKind::Rewritten => write!(
                        f,
                        "resuming after seq {resume}, but seq {seq} is not the line read \
                         before (the writer restarted)"
                    ),
                }
            }
        }
        Describe(self, seq)
    }
}

/// An event with everything known about the line it came from.
#[derive(Debug)]
pub struct Record<'a> {
    /// The decoded event, borrowed from its line.
    pub event: EventRef<'a>,
    /// The line exactly as read, without its `\n`.
    pub line: &'a [u8],
    /// Where the line was.
    pub info: LineInfo,
    /// The file it was read from.
    pub path: &'a Arc<Path>,
    /// Set when this event revealed lost events (out of sync).
    pub gap: Option<Gap>,
    /// Whether the event passes the filter (a revealing event is handed out
    /// even when it does not).
    pub matches: bool,
}

/// Skipping the events a resumed reader already delivered.
#[derive(Debug)]
struct Skip {
    /// The resume point: skip through this `seq`.
    through: i64,
    /// Its line's fingerprint, when known (a state file).
    hash: Option<u64>,
    /// The `seq` of the last event of the run skipped so far.
    run: Option<i64>,
}

/// The last valid line read: the checkpoint, and the revealing line when a
/// resume's run ends early.
#[derive(Debug, Default)]
struct LastLine {
    bytes: Vec<u8>,
    info: Option<LineInfo>,
}

/// What a resume makes of an event.
enum Skipping {
    /// Already delivered before: not handed out again.
    Skip,
    /// Shows that the resume cannot be continuous.
    Revealed(Gap),
    /// Not (or no longer) resuming: the ordinary sequence check applies.
    Past,
}

/// Where the record to hand out has its line.
enum Found {
    /// The source's current line (decoded again to be handed out: the
    /// borrow checker cannot yet let a borrow leave a loop that reborrows).
    Current(LineInfo, Option<Gap>),
    /// The kept copy of the last line, with the gap it revealed.
    Kept(Gap),
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
    skip: Option<Skip>,
    /// Keep a copy of each valid line (for checkpoints and resumes).
    keep_lines: bool,
    last_line: LastLine,
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

    /// Goes on after `checkpoint` (SPEC §5): in its file at its offset if
    /// that file is still there, else from the start of the current file,
    /// skipping the run of events through the checkpoint's `seq`. Anything
    /// that cannot be proven continuous comes out as out of sync.
    /// [`FollowOptions::start`] is ignored.
    pub fn resume(
        path: impl AsRef<Path>,
        options: FollowOptions,
        filter: Filter,
        checkpoint: Checkpoint,
    ) -> Result<Self, Error> {
        let options = FollowOptions {
            start: StartAt::After(checkpoint),
            ..options
        };
        let mut events = Self::with_options(path, options, filter)?;
        events.resume_after(&checkpoint);
        Ok(events)
    }
}

impl<S: Source> ChangelogIterator<S> {
    /// Starts `source` and reads from it; a source that fails to start is
    /// this constructor's error.
    pub fn from_source(mut source: S, filter: Filter) -> Result<Self, Error> {
        source.start()?;
        let mut events = ChangelogIterator {
            source,
            filter,
            last_seq: None,
            skip: None,
            keep_lines: false,
            last_line: LastLine::default(),
            done: false,
        };
        if let Some((line, info)) = events.source.take_baseline() {
            let seq = match entry::decode(&line) {
                Ok(Some(event)) => Some(event.seq),
                _ => None,
            };
            if let Some(seq) = seq {
                events.last_seq = Some(seq);
                events.last_line = LastLine {
                    bytes: line,
                    info: Some(info),
                };
            }
        }
        Ok(events)
    }

    /// The `seq` of the last valid event read (matching or not), the
    /// baseline for the next sequence check.
    pub fn last_seq(&self) -> Option<i64> {
        self.last_seq
    }

    /// Skips events through `seq` before handing any out (`--after-seq`):
    /// the first event after them must be `seq + 1`. The skipped events must
    /// form an unbroken run ending at `seq` (whose line has fingerprint
    /// `hash`, if given); otherwise, or if the file ends before the run
    /// reaches `seq`, the next record reports a gap.
    pub fn skip_through(&mut self, seq: i64, hash: Option<u64>) {
        self.last_seq = None;
        self.keep_lines = true;
        self.skip = Some(Skip {
            through: seq,
            hash,
            run: None,
        });
    }

    /// Completes a resume from `checkpoint` for a source started with
    /// [`StartAt::After`]: if the source could not continue in place, skips
    /// the run of events through the checkpoint (see
    /// [`skip_through`](Self::skip_through)). Keeps checkpoints from then on.
    pub fn resume_after(&mut self, checkpoint: &Checkpoint) {
        self.keep_checkpoints();
        if self.last_seq.is_none() {
            self.skip_through(checkpoint.seq, Some(checkpoint.line_hash));
        }
    }

    /// Keeps track of the last valid line, so that [`checkpoint`](Self::checkpoint)
    /// can say where reading stands.
    pub fn keep_checkpoints(&mut self) {
        self.keep_lines = true;
    }

    /// Where reading stands: after the last valid event read, matching or
    /// not. `None` before any event, for sources that are not files, and
    /// unless [`keep_checkpoints`](Self::keep_checkpoints) (or a resume) asked for it.
    pub fn checkpoint(&self) -> Option<Checkpoint> {
        let info = self.last_line.info.as_ref()?;
        Some(Checkpoint {
            seq: self.last_seq?,
            line_hash: line_hash(&self.last_line.bytes),
            file: info.file?,
            end: info.end,
        })
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
        // The fields are used one by one below (not through `&mut self`
        // methods) so that the event can borrow the source's line.
        let found = loop {
            let info = match self.source.next_item(deadline) {
                Ok(Next::Item(Item::Line(info))) => info,
                Ok(Next::Item(Item::Invalid(entry))) => return Err(Error::InvalidEntry(entry)),
                Ok(Next::Item(Item::Notice(notice))) => return Err(Error::Notice(notice)),
                Ok(Next::Item(Item::CaughtUp)) => {
                    // A resume whose run stops short of its point: the file
                    // was started again by a restarted writer.
                    if let Some(skip) = self.skip.take_if(|s| s.run.is_some()) {
                        break Found::Kept(Gap {
                            expected: skip.through + 1,
                            kind: GapKind::EndsEarly,
                        });
                    }
                    continue;
                }
                Ok(Next::TimedOut) => return Ok(Next::TimedOut),
                Ok(Next::End) => return Ok(Next::End),
                Ok(Next::Cancelled) => return Ok(Next::Cancelled),
                Err(e) => {
                    self.done = true;
                    return Err(e);
                }
            };
            let line = self.source.line();
            let event = match entry::decode(line) {
                Ok(Some(event)) => event,
                Ok(None) => continue,
                Err(reason) => {
                    let location = location(self.source.path(), &info);
                    return Err(Error::InvalidEntry(InvalidEntry::new(
                        location, reason, line,
                    )));
                }
            };
            if self.keep_lines {
                self.last_line.bytes.clear();
                self.last_line.bytes.extend_from_slice(line);
                self.last_line.info = Some(info.clone());
            }
            let gap = match skip(&mut self.skip, &mut self.last_seq, event.seq, line) {
                Skipping::Skip => continue,
                Skipping::Revealed(gap) => Some(gap),
                Skipping::Past => {
                    let gap = self
                        .last_seq
                        .map(|last| last.saturating_add(1))
                        .filter(|&expected| expected != event.seq)
                        .map(|expected| Gap {
                            expected,
                            kind: GapKind::Skipped,
                        });
                    self.last_seq = Some(event.seq);
                    gap
                }
            };
            if gap.is_some() || self.filter.matches(&event) {
                break Found::Current(info, gap);
            }
        };
        let (line, info, gap) = match found {
            Found::Current(info, gap) => (self.source.line(), info, gap),
            Found::Kept(gap) => {
                let info = self.last_line.info.clone().expect("a kept line");
                (self.last_line.bytes.as_slice(), info, Some(gap))
            }
        };
        let Ok(Some(event)) = entry::decode(line) else {
            unreachable!("the line decoded a moment ago");
        };
        Ok(Next::Item(Record {
            matches: self.filter.matches(&event),
            event,
            line,
            path: self.source.path(),
            info,
            gap,
        }))
    }

    /// The next matching event; a gap comes back as [`Error::OutOfSync`]
    /// carrying the revealing event (call again to go on after it).
    pub fn next_until(&mut self, deadline: Option<Instant>) -> Result<Next<Event>, Error> {
        let (event, info, gap, matches) = match self.next_record(deadline)? {
            Next::Item(r) => (r.event.to_event(), r.info, r.gap, r.matches),
            Next::TimedOut => return Ok(Next::TimedOut),
            Next::End => return Ok(Next::End),
            Next::Cancelled => return Ok(Next::Cancelled),
        };
        match gap {
            Some(gap) => Err(Error::OutOfSync {
                expected: gap.expected,
                kind: gap.kind,
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
        location(self.source.path(), info)
    }
}

fn location(path: &Arc<Path>, info: &LineInfo) -> Location {
    Location {
        path: Arc::clone(path),
        line: info.line,
        offset: info.offset,
    }
}

/// What a resume's skipping makes of the event `seq` on `line`.
fn skip(
    skipping: &mut Option<Skip>,
    last_seq: &mut Option<i64>,
    seq: i64,
    line: &[u8],
) -> Skipping {
    let Some(skip) = skipping.as_mut() else {
        return Skipping::Past;
    };
    let in_run = seq <= skip.through && skip.run.is_none_or(|last| seq == last + 1);
    if !in_run {
        // Past the run (or the run broke): what came before is the baseline.
        *last_seq = Some(skip.run.unwrap_or(skip.through));
        *skipping = None;
        return Skipping::Past;
    }
    *last_seq = Some(seq);
    if seq < skip.through {
        skip.run = Some(seq);
        return Skipping::Skip;
    }
    let rewritten = skip.hash.is_some_and(|hash| hash != line_hash(line));
    let expected = skip.through + 1;
    *skipping = None;
    if rewritten {
        Skipping::Revealed(Gap {
            expected,
            kind: GapKind::Rewritten,
        })
    } else {
        Skipping::Skip
    }
}

impl Record<'_> {
    /// Where the record's line starts.
    pub fn location(&self) -> Location {
        location(self.path, &self.info)
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

    fn seqs_and_gaps(it: &mut ChangelogIterator<MemorySource>) -> Vec<(i64, Option<GapKind>)> {
        let mut out = Vec::new();
        while let Next::Item(record) = it.next_record(None).unwrap() {
            out.push((record.event.seq, record.gap.map(|g| g.kind)));
        }
        out
    }

    #[test]
    fn skip_through_hands_out_only_what_follows() {
        let mut it = iterator((1..=6).map(|i| line(i, "t")).collect(), Filter::new());
        it.skip_through(3, None);
        assert_eq!(seqs_and_gaps(&mut it), [(4, None), (5, None), (6, None)]);
    }

    #[test]
    fn skip_through_a_file_that_starts_right_after() {
        let mut it = iterator((4..=5).map(|i| line(i, "t")).collect(), Filter::new());
        it.skip_through(3, None);
        assert_eq!(seqs_and_gaps(&mut it), [(4, None), (5, None)]);
    }

    #[test]
    fn skip_through_a_file_that_starts_beyond_is_a_gap() {
        let mut it = iterator((6..=7).map(|i| line(i, "t")).collect(), Filter::new());
        it.skip_through(3, None);
        assert_eq!(
            seqs_and_gaps(&mut it),
            [(6, Some(GapKind::Skipped)), (7, None)]
        );
    }

    #[test]
    fn a_broken_run_is_a_gap() {
        let lines = [1, 2, 5, 6].into_iter().map(|i| line(i, "t")).collect();
        let mut it = iterator(lines, Filter::new());
        it.skip_through(4, None);
        let got = seqs_and_gaps(&mut it);
        assert_eq!(got, [(5, Some(GapKind::Skipped)), (6, None)]);
    }

    #[test]
    fn a_run_that_ends_before_the_resume_point_is_reported_at_once() {
        let mut it = ChangelogIterator::from_source(
            MemorySource::following((1..=3).map(|i| line(i, "t"))),
            Filter::new(),
        )
        .unwrap();
        it.skip_through(10, None);
        match it.next_timeout(Duration::from_secs(30)) {
            Err(Error::OutOfSync {
                expected: 11,
                kind: GapKind::EndsEarly,
                event,
                ..
            }) => assert_eq!(event.seq, 3),
            other => panic!("expected an early end, got {other:?}"),
        }
        assert_eq!(it.last_seq(), Some(3));
    }

    #[test]
    fn a_different_line_under_the_resume_seq_is_a_gap() {
        let mut it = iterator((1..=4).map(|i| line(i, "t")).collect(), Filter::new());
        it.skip_through(2, Some(line_hash(line(2, "other").as_bytes())));
        assert_eq!(
            seqs_and_gaps(&mut it),
            [(2, Some(GapKind::Rewritten)), (3, None), (4, None)]
        );
    }

    #[test]
    fn the_same_line_under_the_resume_seq_continues() {
        let mut it = iterator((1..=4).map(|i| line(i, "t")).collect(), Filter::new());
        it.skip_through(2, Some(line_hash(line(2, "t").as_bytes())));
        assert_eq!(seqs_and_gaps(&mut it), [(3, None), (4, None)]);
    }
}
