//! The changelog iterator: lines in, checked and filtered events out.
//!
//! Every valid line's `seq` is checked against the previous valid line's,
//! whatever its family and table (a filter must not hide a gap); then the
//! filter decides whether the event is handed out. Where reading starts and
//! how a resume is proved is [`crate::resume`]'s; the iterator asks it
//! about every event.

use crate::checkpoint::{Checkpoint, line_hash};
use crate::entry::{self, InvalidEntry};
use crate::error::Error;
use crate::event::{CompactRanges, Event, EventRef};
use crate::filter::Filter;
use crate::input::Input;
use crate::notice::Notice;
use crate::position::{FileId, LineInfo, Location};
use crate::resume::{Continuity, Positioned, Verdict};
use crate::seq::Gap;
use crate::source::{Item, Next, Skim, Source};
use crate::status::{Counts, Status};
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// An event with everything known about the line it came from.
#[derive(Debug)]
pub struct Record<'a> {
    event: EventRef<'a>,
    line: &'a [u8],
    info: LineInfo,
    path: &'a Arc<Path>,
    gap: Option<Gap>,
    matches: bool,
}

impl<'a> Record<'a> {
    /// The decoded event, borrowed from its line.
    pub fn event(&self) -> &EventRef<'a> {
        &self.event
    }

    /// The line exactly as read, without its `\n`.
    pub fn line(&self) -> &'a [u8] {
        self.line
    }

    /// Set when this event revealed lost events (out of sync).
    pub fn gap(&self) -> Option<Gap> {
        self.gap
    }

    /// Whether the event passes the filter (an event that revealed a gap is
    /// handed out even when it does not).
    pub fn matches(&self) -> bool {
        self.matches
    }

    /// Where the record's line starts.
    pub fn location(&self) -> Location {
        Location::new(self.path, self.info.line, self.info.offset)
    }
}

/// The last valid line read, kept while it may be needed: for checkpoints,
/// and as the revealing event when a resume's run ends early. Its bytes are
/// kept by the source ([`Source::keep_line`]), which copies them only when
/// it is about to overwrite them.
#[derive(Debug, Default)]
struct Kept {
    info: Option<LineInfo>,
    seq: i64,
}

/// Where reading stands: the proof of continuity, the last line kept and
/// the checkpoint that holds until an event is proven. Every event read,
/// whichever way it was decoded, goes through [`event`](Self::event).
#[derive(Debug)]
struct Standing {
    continuity: Continuity,
    /// Keep each valid line (checkpoints were asked for).
    keep: bool,
    kept: Kept,
    /// The checkpoint while no later event is proven: where reading began,
    /// or an earlier run's position still being proven.
    anchor: Option<Checkpoint>,
}

impl Standing {
    /// The event `seq` on `line` was read: what the proof makes of it, and
    /// whether the source is to keep the line (see [`Kept`]).
    fn event(&mut self, line: &[u8], info: &LineInfo, seq: i64) -> (Verdict, bool) {
        let keep = self.keep || self.continuity.is_skipping();
        if keep {
            self.kept = Kept {
                info: Some(info.clone()),
                seq,
            };
        }
        let verdict = self.continuity.event(seq, line);
        if self.continuity.is_proven() {
            self.anchor = None;
        }
        (verdict, keep)
    }

    /// Everything there is was read: the gap a resume that stopped short
    /// reveals, if any (its revealing line is the one kept).
    fn at_end(&mut self) -> Option<Gap> {
        let gap = self.continuity.at_end()?;
        self.anchor = None;
        Some(gap)
    }

    /// Reading moved on to a new file: with nothing newer proven, a restart
    /// goes on from the start of that file. Before any event there is no
    /// `seq` to show whether a file came and went unseen in between: the
    /// next event says so.
    fn new_file(&mut self, file: FileId) {
        self.continuity.rotated();
        if let Some(anchor) = self.anchor
            && self.continuity.is_proven()
        {
            // The fingerprint of the last event's line goes along with its
            // seq: a later resume in another file checks that line by it.
            let seq = self.continuity.baseline();
            self.anchor = Some(Checkpoint {
                file,
                end: 0,
                line_hash: seq.and(anchor.line_hash),
                seq,
            });
        }
    }

    /// See [`ChangelogIterator::checkpoint`]; `kept_line` is the kept
    /// line's bytes.
    fn checkpoint(&self, kept_line: &[u8]) -> Option<Checkpoint> {
        if !self.keep {
            return None;
        }
        if self.anchor.is_some() || !self.continuity.is_proven() {
            return self.anchor;
        }
        let info = self.kept.info.as_ref()?;
        Some(Checkpoint {
            file: info.file?,
            end: info.end,
            line_hash: Some(line_hash(kept_line)),
            seq: Some(self.kept.seq),
        })
    }
}

/// What a line of another table came to (see [`other_table`]).
struct OtherTable {
    /// The gap it revealed: it is handed out (the filter does not hide a
    /// loss).
    gap: Option<Gap>,
    /// The source is to keep the line (see [`Kept`]).
    keep: bool,
}

impl OtherTable {
    /// What a skim of the source's buffer does with it: hands it out if it
    /// revealed a gap, else goes past it.
    fn skim(&self) -> Skim {
        match self.gap {
            Some(_) => Skim::Hand { keep: self.keep },
            None => Skim::Past { keep: self.keep },
        }
    }
}

/// A line of another table than `filter`'s, in the writer's shape, read
/// only as far as its `seq`, family and table (its keys are read only if
/// its event is handed out), and its `seq` checked; `None` for any other
/// line, which is read whole.
#[inline]
fn other_table(
    filter: &Filter,
    standing: &mut Standing,
    line: &[u8],
    info: &LineInfo,
) -> Option<OtherTable> {
    let header = entry::header(line)?;
    if filter.matches_table(header.family, header.table) {
        return None;
    }
    let (verdict, keep) = standing.event(line, info, header.seq);
    let gap = match verdict {
        Verdict::Deliver(gap) => gap,
        Verdict::Skip => None,
    };
    Some(OtherTable { gap, keep })
}

/// Where the record to hand out has its line.
enum Found {
    /// The source's current line.
    Current(Current),
    /// The kept copy of the last line, with the gap it revealed.
    Kept(Gap),
}

/// What was learnt of the source's current line while reading it, so that
/// handing it out does not work it out again.
#[derive(Debug, Clone)]
struct Current {
    info: LineInfo,
    gap: Option<Gap>,
    /// Where its event lies in it, when it was in the writer's exact shape
    /// (no need to decode it again).
    ranges: Option<CompactRanges>,
    /// Whether its event passes the filter.
    matches: bool,
}

/// What one item from the source comes to.
enum Advance {
    Found(Found),
    Continue,
    Return(Next<()>),
}

/// Follows a changelog and hands out its events in order, each exactly
/// once, or says that events were lost.
///
/// Made by a [`Builder`](crate::Builder) ([`ChangelogIterator::builder`]), already
/// positioned where reading starts. Calls block until an event arrives;
/// [`next_until`](Self::next_until) takes a deadline, and a
/// [`CancelHandle`](crate::CancelHandle) ends a wait from another thread. As
/// a [`std::iter::Iterator`] it yields `Result<Event, Error>` and ends when
/// the input ends (when not following) or is cancelled.
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
#[derive(Debug)]
pub struct ChangelogIterator {
    source: Input,
    filter: Filter,
    standing: Standing,
    /// Read every line whole, even lines of tables the filter drops.
    check_all: bool,
    done: bool,
    /// A line that revealed a gap, met by
    /// [`for_each_ready`](Self::for_each_ready), whose event could not be
    /// made there: the next call of [`next_record`](Self::next_record)
    /// says why (as it would have).
    pending: Option<Current>,
    /// For [`status`](Self::status).
    counts: Counts,
}

impl ChangelogIterator {
    /// An iterator on a source already positioned (see [`Builder::open`](crate::Builder::open)).
    pub(crate) fn new(
        source: Input,
        filter: Filter,
        positioned: Positioned,
        keep: bool,
        check_all: bool,
    ) -> Self {
        // With no family or table to rule a line out by (or keys to match),
        // every line is read whole anyway.
        let check_all = check_all || filter.has_key_conditions() || filter.is_empty();
        ChangelogIterator {
            source,
            check_all,
            filter,
            standing: Standing {
                continuity: positioned.continuity,
                keep,
                kept: Kept::default(),
                anchor: positioned.anchor,
            },
            done: false,
            pending: None,
            counts: Counts::default(),
        }
    }

    /// Whether everything read so far has been handed out and the last read
    /// reached the end of the input: the next call will most likely wait.
    /// A consumer that buffers its output can flush it now, before that
    /// call looks for more (a follower sees each event sooner by the time
    /// that look takes).
    pub fn is_drained(&self) -> bool {
        self.source.drained()
    }

    /// The `seq` the next event is checked against: the last valid event
    /// read (matching or not), or the start's baseline.
    pub fn last_seq(&self) -> Option<i64> {
        self.standing.continuity.baseline()
    }

    /// Where reading stands, for a later run to resume from: after the last
    /// valid event read, matching or not; before any, where reading began.
    /// It does not move while an earlier run's position is still being
    /// proven, nor past a loss not yet reported. `None` unless checkpoints
    /// were asked for ([`Builder::checkpoints`](crate::Builder::checkpoints)), and for sources that are
    /// not files.
    pub fn checkpoint(&self) -> Option<Checkpoint> {
        self.standing.checkpoint(self.source.kept_line())
    }

    /// What a wait for more would sleep on (for the async stream).
    #[cfg(feature = "tokio")]
    pub(crate) fn wait_on(&self) -> crate::source::WaitOn<'_> {
        self.source.wait_on()
    }

    /// The path read (for messages).
    #[cfg(feature = "tokio")]
    pub(crate) fn path(&self) -> &Arc<Path> {
        self.source.path()
    }

    /// Where reading stands and what was read so far: the file, offset and
    /// size, the last `seq`, and counts of lines, invalid entries and
    /// rotations (see [`Status`]). Cheap, but not free: it asks the system
    /// for the file's size.
    pub fn status(&self) -> Status {
        Status::new(
            self.source.path(),
            self.source.status(),
            &self.counts,
            self.last_seq(),
        )
    }

    /// The filter events are matched against.
    pub fn filter(&self) -> &Filter {
        &self.filter
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
        if let Some(current) = self.pending.take() {
            return self.record(Found::Current(current)).map(Next::Item);
        }
        let found = loop {
            match self.advance(deadline) {
                Ok(Advance::Found(found)) => break found,
                Ok(Advance::Continue) => continue,
                Ok(Advance::Return(next)) => return Ok(without_item(next)),
                Err(e) => {
                    if let Error::InvalidEntry(_) = e {
                        self.counts.invalid += 1;
                    }
                    self.done = !e.is_recoverable();
                    return Err(e);
                }
            }
        };
        self.record(found).map(Next::Item)
    }

    /// Takes one item from the source.
    fn advance(&mut self, deadline: Option<Instant>) -> Result<Advance, Error> {
        if !self.check_all
            && let Some(found) = self.skim()
        {
            return Ok(Advance::Found(Found::Current(found)));
        }
        let item = match self.source.next_item(deadline)? {
            Next::Item(item) => item,
            Next::End => return Ok(self.at_end(Next::End)),
            Next::Notice(notice) => return Ok(Advance::Return(Next::Notice(notice))),
            Next::TimedOut => return Ok(Advance::Return(Next::TimedOut)),
            Next::Cancelled => return Ok(Advance::Return(Next::Cancelled)),
            Next::Interrupted => return Ok(Advance::Return(Next::Interrupted)),
        };
        match item {
            Item::Line(info) => {
                self.counts.lines += 1;
                self.line(info)
            }
            Item::Invalid(entry) => Err(Error::InvalidEntry(entry)),
            Item::Notice(notice) => {
                if let Notice::Truncated { .. } = notice {
                    self.counts.rotations += 1;
                }
                Ok(Advance::Return(Next::Notice(notice)))
            }
            Item::NewFile(file) => {
                self.counts.rotations += 1;
                self.standing.new_file(file);
                Ok(Advance::Continue)
            }
            Item::CaughtUp => Ok(self.at_end(Next::TimedOut)),
        }
    }

    /// The hot path of a catch-up: the lines of other tables already read
    /// are checked as far as their header, straight from the source's
    /// buffer, up to one that reveals a gap (returned) or is for the
    /// ordinary path (a line of the filter's table, or not in the writer's
    /// shape).
    fn skim(&mut self) -> Option<Current> {
        let (filter, standing, counts) = (&self.filter, &mut self.standing, &mut self.counts);
        let mut gap = None;
        let info = self.source.skim(|line, info| {
            let Some(other) = other_table(filter, standing, line, info) else {
                return Skim::Stop;
            };
            counts.lines += 1;
            gap = other.gap;
            other.skim()
        })?;
        Some(Current {
            info,
            gap,
            ranges: None,
            matches: false,
        })
    }

    /// Hands `f` each record [`next_record`](Self::next_record) would
    /// return, for as long as they come straight from what is already read:
    /// lines in the writer's exact shape, checked in the source's buffer,
    /// with no other work per line (one that reveals a gap is handed out
    /// too, with its gap). Stops at anything else (the end of what was
    /// read, a line for the full decoder, a notice), which the next
    /// `next_record` returns, or when `f` breaks (the record it broke on is
    /// done with): then returns `f`'s value. Never reads, never waits.
    /// Between calls, [`checkpoint`](Self::checkpoint) and
    /// [`last_seq`](Self::last_seq) stand after the last record handed
    /// out, as after `next_record`.
    ///
    /// The hot path of a catch-up that prints: call it before each
    /// `next_record`, and a backlog is printed without a call per event.
    /// (A source that cannot hand out lines so, such as
    /// [`MemorySource`](crate::MemorySource), hands none.)
    pub fn for_each_ready<B>(
        &mut self,
        mut f: impl FnMut(&Record<'_>) -> ControlFlow<B>,
    ) -> Option<B> {
        if self.done || self.pending.is_some() {
            return None;
        }
        loop {
            // A line that revealed a gap stops the skim; handed out here,
            // as `next_record` would, and on with the next.
            let revealing = match self.take_ready(&mut f) {
                Ok(revealing) => revealing?,
                Err(value) => return Some(value),
            };
            match self.record(Found::Current(revealing.clone())) {
                Ok(record) => {
                    if let ControlFlow::Break(value) = f(&record) {
                        return Some(value);
                    }
                }
                // Its event cannot be made: `next_record` says why.
                Err(_) => {
                    self.pending = Some(revealing);
                    return None;
                }
            }
        }
    }

    /// One skim of [`for_each_ready`](Self::for_each_ready): the line that
    /// revealed a gap, if it stopped at one, or `f`'s value if it broke.
    fn take_ready<B>(
        &mut self,
        f: &mut impl FnMut(&Record<'_>) -> ControlFlow<B>,
    ) -> Result<Option<Current>, B> {
        let path = Arc::clone(self.source.path());
        let (filter, standing, counts) = (&self.filter, &mut self.standing, &mut self.counts);
        let check_all = self.check_all;
        let mut broke = None;
        let mut revealing = None;
        let info = self.source.skim(|line, info| {
            if !check_all && let Some(other) = other_table(filter, standing, line, info) {
                counts.lines += 1;
                if let Some(gap) = other.gap {
                    revealing = Some((gap, None, false));
                }
                return other.skim();
            }
            let Some(event) = entry::shaped(line) else {
                return Skim::Stop;
            };
            counts.lines += 1;
            let matches = filter.matches(&event);
            let (verdict, keep) = standing.event(line, info, event.seq);
            match verdict {
                Verdict::Deliver(None) if matches => {
                    let record = Record {
                        event,
                        line,
                        info: info.clone(),
                        path: &path,
                        gap: None,
                        matches,
                    };
                    match f(&record) {
                        ControlFlow::Continue(()) => Skim::Past { keep },
                        ControlFlow::Break(value) => {
                            broke = Some(value);
                            Skim::Last { keep }
                        }
                    }
                }
                Verdict::Deliver(Some(gap)) => {
                    revealing = Some((gap, event.compact_ranges(line), matches));
                    Skim::Hand { keep }
                }
                Verdict::Deliver(None) | Verdict::Skip => Skim::Past { keep },
            }
        });
        if let Some(value) = broke {
            return Err(value);
        }
        Ok(match (info, revealing) {
            (Some(info), Some((gap, ranges, matches))) => Some(Current {
                info,
                gap: Some(gap),
                ranges,
                matches,
            }),
            _ => None,
        })
    }

    /// Everything there is was read: a resume that stopped short is
    /// revealed now, not after waiting for more. `then` ends the input
    /// (`End`) or not (`TimedOut`: read on).
    fn at_end(&mut self, then: Next<()>) -> Advance {
        if let Some(gap) = self.standing.at_end() {
            return Advance::Found(Found::Kept(gap));
        }
        match then {
            Next::End => Advance::Return(Next::End),
            _ => Advance::Continue,
        }
    }

    /// A complete line: decode, check, filter.
    fn line(&mut self, info: LineInfo) -> Result<Advance, Error> {
        let line = self.source.line();
        // The hot path of a catch-up: a line of another table, in the
        // writer's shape, is checked as far as its seq, family and table;
        // its keys are read only if its event is to be handed out.
        if !self.check_all
            && let Some(other) = other_table(&self.filter, &mut self.standing, line, &info)
        {
            if other.keep {
                self.source.keep_line();
            }
            return Ok(match other.gap {
                Some(gap) => Advance::Found(Found::Current(Current {
                    info,
                    gap: Some(gap),
                    ranges: None,
                    matches: false,
                })),
                None => Advance::Continue,
            });
        }
        let event = match entry::decode(line) {
            Ok(Some(event)) => event,
            Ok(None) => return Ok(Advance::Continue),
            Err(reason) => {
                let location = Location::new(self.source.path(), info.line, info.offset);
                return Err(Error::InvalidEntry(InvalidEntry::new(
                    location, reason, line,
                )));
            }
        };
        let matches = self.filter.matches(&event);
        let ranges = event.compact_ranges(line);
        let (verdict, keep) = self.standing.event(line, &info, event.seq);
        if keep {
            self.source.keep_line();
        }
        Ok(match verdict {
            Verdict::Deliver(gap) if gap.is_some() || matches => {
                Advance::Found(Found::Current(Current {
                    info,
                    gap,
                    ranges,
                    matches,
                }))
            }
            Verdict::Deliver(_) | Verdict::Skip => Advance::Continue,
        })
    }

    /// The record for what was found. (Had again from where its parts lie,
    /// or decoded again: the borrow checker cannot yet let a borrow of the
    /// line leave the loop that reads on.)
    fn record(&self, found: Found) -> Result<Record<'_>, Error> {
        let (line, info, gap, ranges, matches) = match found {
            Found::Current(c) => (self.source.line(), c.info, c.gap, c.ranges, Some(c.matches)),
            Found::Kept(gap) => {
                let kept = &self.standing.kept;
                let info = kept.info.clone().unwrap_or(LineInfo {
                    line: 0,
                    offset: 0,
                    end: 0,
                    file: None,
                });
                (self.source.kept_line(), info, Some(gap), None, None)
            }
        };
        let path = self.source.path();
        // The same bytes decoded a moment ago, or a line of another table
        // whose header alone was read: if its keys cannot be read, the
        // event is shown without them (its seq counted, and it revealed a
        // gap that must be told).
        let event = ranges
            .and_then(|ranges| EventRef::from_compact(line, &ranges))
            .or_else(|| entry::decode(line).ok().flatten())
            .or_else(|| entry::header_event(line));
        let Some(event) = event else {
            let location = Location::new(path, info.line, info.offset);
            let reason = entry::InvalidReason::Json("not an event".into());
            return Err(Error::InvalidEntry(InvalidEntry::new(
                location, reason, line,
            )));
        };
        Ok(Record {
            matches: matches.unwrap_or_else(|| self.filter.matches(&event)),
            event,
            line,
            path,
            info,
            gap,
        })
    }

    /// The next matching event; a gap comes back as [`Error::OutOfSync`]
    /// carrying the revealing event (call again to go on after it).
    pub fn next_until(&mut self, deadline: Option<Instant>) -> Result<Next<Event>, Error> {
        let record = match self.next_record(deadline)? {
            Next::Item(record) => record,
            other => return Ok(without_item(other)),
        };
        let event = record.event.to_event();
        match record.gap {
            Some(gap) => Err(Error::OutOfSync {
                gap,
                event: Box::new(event),
                matches_filter: record.matches,
                location: record.location(),
            }),
            None => Ok(Next::Item(event)),
        }
    }

    /// [`next_until`](Self::next_until) with a timeout instead of a
    /// deadline (one too far to represent waits without limit).
    pub fn next_timeout(&mut self, timeout: Duration) -> Result<Next<Event>, Error> {
        self.next_until(Instant::now().checked_add(timeout))
    }
}

/// A `Next` that carries no item, as any other `Next`.
fn without_item<T, U>(next: Next<T>) -> Next<U> {
    match next {
        Next::Notice(notice) => Next::Notice(notice),
        Next::TimedOut => Next::TimedOut,
        Next::Cancelled => Next::Cancelled,
        Next::Interrupted => Next::Interrupted,
        Next::Item(_) | Next::End => Next::End,
    }
}

impl Iterator for ChangelogIterator {
    type Item = Result<Event, Error>;

    /// Blocks until the next event or error; `None` once the input ended,
    /// the iterator was cancelled or a fatal error was returned. Notices
    /// are not errors and are passed over, as are interruptions (see
    /// [`next_until`](ChangelogIterator::next_until) to see them).
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            return match self.next_until(None) {
                Ok(Next::Item(event)) => Some(Ok(event)),
                Ok(Next::Notice(_) | Next::Interrupted) => continue,
                Ok(_) => None,
                Err(e) => Some(Err(e)),
            };
        }
    }
}
