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
    /// Reading went back to the start of its file mid-run (a snapshot
    /// without the LDB's lock): the lines that end at or before this
    /// offset were read before, and a gap among them was seen then (the
    /// snapshot answered it). Read again, each is taken as it comes;
    /// past it, the proof goes on from the last of them.
    replay_until: Option<u64>,
}

impl Standing {
    /// The event `seq` on `line` was read: what the proof makes of it, and
    /// whether the source is to keep the line (see [`Kept`]).
    fn event(&mut self, line: &[u8], info: &impl Fn() -> LineInfo, seq: i64) -> (Verdict, bool) {
        if let Some(until) = self.replay_until {
            match info().end <= until {
                true => self.continuity = Continuity::open(),
                false => self.replay_until = None,
            }
        }
        let keep = self.keep || self.continuity.is_skipping();
        if keep {
            self.kept = Kept {
                info: Some(info()),
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
        self.replay_until = None;
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

/// What one line comes to: the one decision every way of reading takes
/// ([`judge`]).
enum Judged<'a> {
    /// Nothing to hand out: a blank line, an event the filter drops, one a
    /// resume skips.
    Past,
    /// An event to hand out: it passes the filter, or it revealed a gap.
    Hand {
        event: EventRef<'a>,
        gap: Option<Gap>,
        matches: bool,
    },
    /// Not an event: reported, and reading goes on.
    Invalid(entry::InvalidReason),
}

/// Judges one line: decodes it as far as the decision needs, checks its
/// `seq` (whatever its table: a filter must not hide a gap), and filters
/// it. Every caller goes through here: the push over what is ready, the
/// pull call, the stream. Returns the judgement and whether the source is
/// to keep the line (see [`Kept`]).
///
/// The hot path of a filtered catch-up: a line of another table, in the
/// writer's shape, is read only as far as its `seq`, family and table
/// (its keys are read only if it revealed a gap and so is handed out).
#[inline]
fn judge<'a>(
    filter: &Filter,
    standing: &mut Standing,
    check_all: bool,
    line: &'a [u8],
    info: &impl Fn() -> LineInfo,
) -> (Judged<'a>, bool) {
    if !check_all
        && let Some(header) = entry::header(line)
        && !filter.matches_table(header.family, header.table)
    {
        let (verdict, keep) = standing.event(line, info, header.seq);
        let judged = match verdict {
            // Its keys may turn out unreadable: shown without them.
            Verdict::Deliver(Some(gap)) => {
                match entry::shaped(line).or_else(|| entry::header_event(line)) {
                    Some(event) => Judged::Hand {
                        event,
                        gap: Some(gap),
                        matches: false,
                    },
                    None => Judged::Past,
                }
            }
            Verdict::Deliver(None) | Verdict::Skip => Judged::Past,
        };
        return (judged, keep);
    }
    let event = match entry::decode(line) {
        Ok(Some(event)) => event,
        Ok(None) => return (Judged::Past, false),
        Err(reason) => return (Judged::Invalid(reason), false),
    };
    let matches = filter.matches(&event);
    let (verdict, keep) = standing.event(line, info, event.seq);
    let judged = match verdict {
        Verdict::Deliver(gap) if gap.is_some() || matches => Judged::Hand {
            event,
            gap,
            matches,
        },
        Verdict::Deliver(_) | Verdict::Skip => Judged::Past,
    };
    (judged, keep)
}

/// What one item from the source comes to.
enum Advance {
    /// A record, on the source's current line.
    Handed(Handed),
    /// A record on the kept line: the gap a resume that stopped short
    /// revealed at the end of what there is.
    Kept(Handed),
    Continue,
    Return(Next<()>),
}

/// A record handed out, without its borrow of the line: enough to make
/// it again from the source's current line (the borrow checker cannot yet
/// let a borrow of the line leave the loop that reads on).
#[derive(Debug, Clone)]
struct Handed {
    info: LineInfo,
    gap: Option<Gap>,
    /// Whether it passes the filter; `None`: to be asked.
    matches: Option<bool>,
    /// Where its event lies in its line, when in the writer's shape (made
    /// again without decoding); `None`: decoded again.
    ranges: Option<CompactRanges>,
}

impl Handed {
    fn of(record: &Record<'_>) -> Self {
        Handed {
            info: record.info.clone(),
            gap: record.gap,
            matches: Some(record.matches),
            ranges: record.event.compact_ranges(record.line),
        }
    }
}

/// How a turn over what is ready ended.
enum Ready<B> {
    /// Nothing more is ready.
    Drained,
    /// The sink broke with this value.
    Broke(B),
    /// This line (the source's current one) is not an event.
    Invalid(LineInfo, entry::InvalidReason),
}

/// Everything one line needs, borrowed apart from the source that holds
/// the line.
struct Judge<'i> {
    filter: &'i Filter,
    standing: &'i mut Standing,
    counts: &'i mut Counts,
    check_all: bool,
    path: &'i Arc<Path>,
}

impl Judge<'_> {
    /// [`judge`]s one line (where it is: `info`, asked only if needed)
    /// and hands its record, if any, to `sink`; says
    /// what the source is to do with the line, and sets `ended` if the
    /// turn ends at it.
    #[inline]
    fn line<B>(
        &mut self,
        line: &[u8],
        info: impl Fn() -> LineInfo,
        sink: &mut impl FnMut(&Record<'_>) -> ControlFlow<B>,
        ended: &mut Ready<B>,
    ) -> Skim {
        self.counts.lines += 1;
        let (judged, keep) = judge(self.filter, self.standing, self.check_all, line, &info);
        match judged {
            Judged::Past => Skim::Past { keep },
            Judged::Hand {
                event,
                gap,
                matches,
            } => {
                let record = Record {
                    event,
                    line,
                    info: info(),
                    path: self.path,
                    gap,
                    matches,
                };
                match sink(&record) {
                    ControlFlow::Continue(()) => Skim::Past { keep },
                    ControlFlow::Break(value) => {
                        *ended = Ready::Broke(value);
                        Skim::Hand { keep }
                    }
                }
            }
            Judged::Invalid(reason) => {
                self.counts.invalid += 1;
                *ended = Ready::Invalid(info(), reason);
                Skim::Hand { keep }
            }
        }
    }
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
    /// For [`status`](Self::status).
    counts: Counts,
    /// Say [`Notice::Replaced`] when a new file is followed (off unless
    /// the builder asks: a rotation every megabyte is no news to most).
    pub(crate) rotation_notices: bool,
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
                replay_until: None,
            },
            done: false,
            counts: Counts::default(),
            rotation_notices: false,
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

    /// The size of the file being read now (a file only): where a
    /// snapshot's position will stand, read at its instant.
    /// A file whose size cannot be had is an error: reading to whatever
    /// end there is later could pass lines written after the instant.
    #[cfg(feature = "ldb")]
    pub(crate) fn size_now(&self) -> Result<Option<u64>, Error> {
        match (self.source.file(), self.source.status().size) {
            (Some(_), None) => Err(Error::io(
                self.source.path(),
                std::io::Error::other("cannot tell the changelog's size for a snapshot"),
            )),
            (_, size) => Ok(size),
        }
    }

    /// Moves reading, mid-run, after the last complete line of the current
    /// file within its first `limit` bytes (all of it: `None`), that line's
    /// `seq` the baseline, as a new iterator would begin with
    /// [`Start::End`](crate::Start::End): where a snapshot of the LDB takes its position
    /// (`crate::ldb::snapshot`). What was read before is forgotten.
    #[cfg(feature = "ldb")]
    pub(crate) fn restart_at_end(&mut self, limit: Option<u64>) -> Result<(), Error> {
        let positioned = crate::resume::at_end(&mut self.source, limit)?;
        self.restarted(positioned, None);
        Ok(())
    }

    /// Moves reading, mid-run, back to the start of the current file, as a
    /// new iterator would begin with [`Start::Beginning`](crate::Start::Beginning): where a
    /// snapshot without the LDB's lock takes its position. The lines read
    /// so far in this file come again, and a gap among them must not be
    /// reported again (a snapshot was taken for it, and would be taken
    /// again, and again): they are taken as they come.
    #[cfg(feature = "ldb")]
    pub(crate) fn restart_at_beginning(&mut self) -> Result<(), Error> {
        let replay_until = Some(self.source.status().offset).filter(|&end| end > 0);
        self.source.rewind()?;
        let start = crate::resume::Start::Beginning;
        let positioned =
            crate::resume::position(&start, &self.filter, usize::MAX, &mut self.source)?;
        self.restarted(positioned, replay_until);
        Ok(())
    }

    /// Reading starts again as `positioned` says (see the two above).
    #[cfg(feature = "ldb")]
    fn restarted(&mut self, positioned: Positioned, replay_until: Option<u64>) {
        self.standing.continuity = positioned.continuity;
        self.standing.anchor = positioned.anchor;
        self.standing.kept = Kept::default();
        self.standing.replay_until = replay_until;
    }

    /// Stops following and releases the file and notifications (as
    /// dropping the iterator does).
    pub fn close(self) {}

    /// The next matching event, or one that revealed a gap, with its line.
    /// Invalid lines come back as [`Error::InvalidEntry`]; call again to go
    /// on. Blocks until `deadline` (`None`: no limit).
    pub fn next_record(&mut self, deadline: Option<Instant>) -> Result<Next<Record<'_>>, Error> {
        loop {
            if self.done {
                return Ok(Next::End);
            }
            // What is ready first, with a sink that takes one record.
            match self.for_each_ready(|record| ControlFlow::Break(Handed::of(record))) {
                Ok(Some(handed)) => return self.record(handed).map(Next::Item),
                Ok(None) => {}
                Err(e) => return Err(e),
            }
            return match self.advance(deadline) {
                Ok(Advance::Handed(handed)) => self.record(handed).map(Next::Item),
                Ok(Advance::Kept(handed)) => self
                    .record_in(self.source.kept_line(), handed)
                    .map(Next::Item),
                Ok(Advance::Continue) => continue,
                Ok(Advance::Return(next)) => Ok(without_item(next)),
                Err(e) => Err(self.failed(e)),
            };
        }
    }

    /// Hands `f` each record [`next_record`](Self::next_record) would
    /// return, for as long as they come straight from what is already read,
    /// each line judged once, in the source's buffer, with no call or item
    /// per line (one that reveals a gap is handed out too, with its gap).
    /// Returns `Ok(None)` once nothing more is ready (the next
    /// `next_record` reads or waits), `f`'s value when it breaks (the
    /// record it broke on is done with), and a line that is not an event
    /// as [`Error::InvalidEntry`] (call again to go on). Never reads, never
    /// waits. Between calls, [`checkpoint`](Self::checkpoint) and
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
    ) -> Result<Option<B>, Error> {
        if self.done {
            return Ok(None);
        }
        let path = Arc::clone(self.source.path());
        // Where a line is, made only for a line kept or handed out.
        let file = self.source.file();
        let (mut judge, source) = self.split(&path);
        let mut ended = Ready::Drained;
        source.skim(|line, span| judge.line(line, || span.info(file), &mut f, &mut ended));
        self.ended(ended)
    }

    /// The iterator as the one judge of lines (records on `path`) and the
    /// source that holds them, borrowed apart.
    fn split<'s>(&'s mut self, path: &'s Arc<Path>) -> (Judge<'s>, &'s mut Input) {
        let judge = Judge {
            filter: &self.filter,
            standing: &mut self.standing,
            counts: &mut self.counts,
            check_all: self.check_all,
            path,
        };
        (judge, &mut self.source)
    }

    /// What a turn over lines that ended so comes to.
    fn ended<B>(&mut self, ended: Ready<B>) -> Result<Option<B>, Error> {
        match ended {
            Ready::Drained => Ok(None),
            Ready::Broke(value) => Ok(Some(value)),
            Ready::Invalid(info, reason) => {
                let location = Location::new(self.source.path(), info.line, info.offset);
                Err(Error::InvalidEntry(InvalidEntry::new(
                    location,
                    reason,
                    self.source.line(),
                )))
            }
        }
    }

    /// An error ends the iterator unless it is recoverable.
    fn failed(&mut self, e: Error) -> Error {
        self.done = !e.is_recoverable();
        e
    }

    /// Takes one item from the source.
    fn advance(&mut self, deadline: Option<Instant>) -> Result<Advance, Error> {
        let item = match self.source.next_item(deadline)? {
            Next::Item(item) => item,
            Next::End => return Ok(self.at_end(Next::End)),
            Next::Notice(notice) => return Ok(Advance::Return(Next::Notice(notice))),
            Next::TimedOut => return Ok(Advance::Return(Next::TimedOut)),
            Next::Cancelled => return Ok(Advance::Return(Next::Cancelled)),
            Next::Interrupted => return Ok(Advance::Return(Next::Interrupted)),
        };
        match item {
            Item::Line(info) => self.line(info),
            Item::Invalid(entry) => {
                self.counts.invalid += 1;
                Err(Error::InvalidEntry(entry))
            }
            Item::Notice(notice) => {
                if let Notice::Truncated { .. } = notice {
                    self.counts.rotations += 1;
                    // Its offsets start again: none was read before.
                    self.standing.replay_until = None;
                }
                Ok(Advance::Return(Next::Notice(notice)))
            }
            Item::NewFile(file) => {
                self.counts.rotations += 1;
                self.standing.new_file(file);
                if self.rotation_notices {
                    let path = Arc::clone(self.source.path());
                    return Ok(Advance::Return(Next::Notice(Notice::Replaced { path })));
                }
                Ok(Advance::Continue)
            }
            Item::CaughtUp => Ok(self.at_end(Next::TimedOut)),
        }
    }

    /// A complete line handed out by the source on its own (not from what
    /// was ready): judged as every line is.
    fn line(&mut self, info: LineInfo) -> Result<Advance, Error> {
        let path = Arc::clone(self.source.path());
        let (mut judge, source) = self.split(&path);
        let mut ended = Ready::Drained;
        let mut take = |record: &Record<'_>| ControlFlow::Break(Handed::of(record));
        let keep = match judge.line(source.line(), || info.clone(), &mut take, &mut ended) {
            Skim::Past { keep } | Skim::Hand { keep } => keep,
        };
        if keep {
            source.keep_line();
        }
        Ok(match self.ended(ended)? {
            Some(handed) => Advance::Handed(handed),
            None => Advance::Continue,
        })
    }

    /// Everything there is was read: a resume that stopped short is
    /// revealed now, not after waiting for more. `then` ends the input
    /// (`End`) or not (`TimedOut`: read on).
    fn at_end(&mut self, then: Next<()>) -> Advance {
        if let Some(gap) = self.standing.at_end() {
            // Its revealing line is the one kept.
            let info = self.standing.kept.info.clone().unwrap_or(LineInfo {
                line: 0,
                offset: 0,
                end: 0,
                file: None,
            });
            return Advance::Kept(Handed {
                info,
                gap: Some(gap),
                matches: None,
                ranges: None,
            });
        }
        match then {
            Next::End => Advance::Return(Next::End),
            _ => Advance::Continue,
        }
    }

    /// The record handed out as `handed`, made again from its line: the
    /// source's current line, or for [`Advance::Kept`] the kept one.
    fn record(&self, handed: Handed) -> Result<Record<'_>, Error> {
        self.record_in(self.source.line(), handed)
    }

    fn record_in<'s>(&'s self, line: &'s [u8], handed: Handed) -> Result<Record<'s>, Error> {
        let path = self.source.path();
        // In the writer's shape: where its parts lie. Else decoded again
        // (it was decoded a moment ago, or it is the kept line of an event
        // already counted, shown by its header if its keys cannot be read).
        let event = match &handed.ranges {
            Some(ranges) => EventRef::from_compact(line, ranges),
            None => entry::decode(line)
                .ok()
                .flatten()
                .or_else(|| entry::header_event(line)),
        };
        let Some(event) = event else {
            let location = Location::new(path, handed.info.line, handed.info.offset);
            let reason = entry::InvalidReason::Json("not an event".into());
            return Err(Error::InvalidEntry(InvalidEntry::new(
                location, reason, line,
            )));
        };
        Ok(Record {
            matches: handed
                .matches
                .unwrap_or_else(|| self.filter.matches(&event)),
            event,
            line,
            path,
            info: handed.info,
            gap: handed.gap,
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
