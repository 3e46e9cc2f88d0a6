//! Where reading starts, and the proof that it goes on where it stopped.
//!
//! Every rule about resuming lives here, once, for every source and every
//! mode (following, reading to the end, counting); `doc/design.md` says
//! why they are what they are:
//!
//! - **same file**: a [`Checkpoint`] whose file is still the current one
//!   (same device and inode, long enough, and the line ending at its offset
//!   has its fingerprint) goes on at its offset; the next event must be
//!   `seq + 1`.
//! - **rotated since**: anything else reads the current file from its
//!   start. Events up to the resume point must form an unbroken run, and
//!   the line under the resume point's `seq` must be the one read before;
//!   then the next event must follow it. A run that breaks, starts beyond
//!   the point, or stops short of it (at the end of what is there, not
//!   after waiting for more) is out of sync. `--after-seq N` follows the
//!   same rules with no fingerprint.
//! - a checkpoint taken before any event, in a file that is gone, cannot
//!   prove anything: the first event is out of sync.
//!
//! [`Continuity`] is the state of that proof as events go by; the
//! iterator asks it about each event.

use crate::checkpoint::{Checkpoint, line_hash};
use crate::entry;
use crate::error::Error;
use crate::filter::Filter;
use crate::position::FileId;
use crate::seq::{self, Gap};
use crate::source::Source;
use std::collections::VecDeque;
use std::io::Read;
use std::sync::Arc;

/// Where reading starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Start {
    /// At the beginning of the current file (as the Go iterator does). The
    /// first event is not checked: there is nothing to check it against.
    #[default]
    Beginning,
    /// After the last complete line of the current file; that line's `seq`
    /// (if it is an event) becomes the baseline for the next.
    End,
    /// After the event with this `seq`: events up to it are skipped, and
    /// the first one handed out must be the next (`--after-seq`).
    AfterSeq(i64),
    /// After a [`Checkpoint`] from an earlier run (`--state-file`).
    Checkpoint(Checkpoint),
    /// At the last this many events of the current file that the filter
    /// matches, as `tail -n` (`--lines`): fewer if the file has fewer
    /// (then from its start), none if zero (then as [`End`](Self::End)).
    /// Every event from there on is checked against the one before it
    /// (so a gap among them is still out of sync). Files only: a pipe or
    /// lines in memory have no end to count back from.
    ///
    /// Costs one pass over the file, every line decoded (about as much as
    /// reading it unfiltered), and memory for one position per event
    /// counted (under 100 bytes; at most as many as the file holds, however
    /// large the count).
    LastMatching(u64),
}

/// What the proof of continuity makes of one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Hand it on, with the gap it revealed, if any.
    Deliver(Option<Gap>),
    /// Already delivered by an earlier run: not handed out again.
    Skip,
}

/// Where the proof stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Nothing to check the next event against.
    Open,
    /// The next event reveals this loss, whatever its `seq`.
    Lost(Gap),
    /// The next event must follow this `seq`.
    After(i64),
    /// Skipping the run of events an earlier run delivered, through
    /// `through` (whose line has fingerprint `hash`, when known); `run` is
    /// the last `seq` of the run skipped so far.
    Skipping {
        through: i64,
        hash: Option<u64>,
        run: Option<i64>,
    },
}

/// The proof of continuity, event by event.
#[derive(Debug, Clone)]
pub(crate) struct Continuity {
    state: State,
}

impl Continuity {
    /// Nothing known: the first event is taken as it comes.
    pub(crate) fn open() -> Self {
        Continuity { state: State::Open }
    }

    /// The next event must follow `seq`.
    pub(crate) fn after(seq: i64) -> Self {
        Continuity {
            state: State::After(seq),
        }
    }

    /// Reading restarted from the beginning of a file that may repeat
    /// events delivered before: skip them through `through`.
    pub(crate) fn skipping(through: i64, hash: Option<u64>) -> Self {
        Continuity {
            state: State::Skipping {
                through,
                hash,
                run: None,
            },
        }
    }

    /// Whatever comes first reveals `gap`.
    pub(crate) fn lost(gap: Gap) -> Self {
        Continuity {
            state: State::Lost(gap),
        }
    }

    /// The `seq` the next event is checked against, if any.
    pub(crate) fn baseline(&self) -> Option<i64> {
        match self.state {
            State::After(seq) => Some(seq),
            State::Open | State::Lost(_) | State::Skipping { .. } => None,
        }
    }

    /// Whether reading is provably where the last delivered event left it
    /// (so a checkpoint may move on). Not while an earlier run's position
    /// is still being proven, nor while a loss waits for its event.
    pub(crate) fn is_proven(&self) -> bool {
        matches!(self.state, State::Open | State::After(_))
    }

    /// Whether the next event must come before anything is proven (the
    /// lines read meanwhile must be kept: one of them may reveal a gap).
    pub(crate) fn is_skipping(&self) -> bool {
        matches!(self.state, State::Skipping { .. })
    }

    /// Reading moved on to a new file. With nothing to check the next
    /// event against, a file that came and went before it could be opened
    /// would go unnoticed: the next event reveals that possible loss. (With
    /// a baseline, the `seq` check finds any loss by itself.)
    pub(crate) fn rotated(&mut self) {
        if self.state == State::Open {
            self.state = State::Lost(Gap::Missed);
        }
    }

    /// The event `seq` on `line` was read.
    pub(crate) fn event(&mut self, seq: i64, line: &[u8]) -> Verdict {
        match self.state {
            State::Open => {
                self.state = State::After(seq);
                Verdict::Deliver(None)
            }
            State::Lost(gap) => {
                self.state = State::After(seq);
                Verdict::Deliver(Some(gap))
            }
            State::After(previous) => {
                self.state = State::After(seq);
                let gap = (seq::after(previous) != Some(seq)).then_some(Gap::Skipped { previous });
                Verdict::Deliver(gap)
            }
            State::Skipping { through, hash, run } => {
                let in_run = seq <= through && run.is_none_or(|last| seq::after(last) == Some(seq));
                if !in_run {
                    // Past the run, or the run broke: what came before it
                    // is the baseline.
                    self.state = State::After(run.unwrap_or(through));
                    return self.event(seq, line);
                }
                if seq < through {
                    self.state = State::Skipping {
                        through,
                        hash,
                        run: Some(seq),
                    };
                    return Verdict::Skip;
                }
                self.state = State::After(seq);
                if hash.is_some_and(|hash| hash != line_hash(line)) {
                    Verdict::Deliver(Some(Gap::Rewritten { resume: through }))
                } else {
                    Verdict::Skip
                }
            }
        }
    }

    /// Everything there is has been read. A run being skipped that stopped
    /// short of its resume point will never get there: the writer started
    /// numbering again. The last event of the run reveals it (the caller
    /// kept its line).
    pub(crate) fn at_end(&mut self) -> Option<Gap> {
        let State::Skipping {
            through,
            run: Some(last),
            ..
        } = self.state
        else {
            return None;
        };
        self.state = State::After(last);
        Some(Gap::EndsEarly { resume: through })
    }
}

/// Where a source stands once positioned for a [`Start`], and how the
/// first events are to be checked.
#[derive(Debug)]
pub(crate) struct Positioned {
    /// The proof of continuity, before the first event.
    pub(crate) continuity: Continuity,
    /// The checkpoint that holds until an event is proven: the start
    /// position, or an earlier run's checkpoint not yet proven.
    pub(crate) anchor: Option<Checkpoint>,
}

/// Positions `source` for `start` (the source decides what it can prove
/// about its own file; these rules decide what that means). `filter` and
/// `max_line_bytes` count the events of [`Start::LastMatching`].
pub(crate) fn position(
    start: &Start,
    filter: &Filter,
    max_line_bytes: usize,
    source: &mut impl Source,
) -> Result<Positioned, Error> {
    let here = |end, line_hash, seq| checkpoint_at(source.file(), end, line_hash, seq);
    Ok(match *start {
        Start::Beginning => Positioned {
            continuity: Continuity::open(),
            anchor: here(0, None, None),
        },
        Start::End => at_end(source, None)?,
        Start::AfterSeq(seq) => Positioned {
            continuity: Continuity::skipping(seq, None),
            anchor: None,
        },
        Start::LastMatching(n) => return last_matching(n, filter, max_line_bytes, source),
        Start::Checkpoint(checkpoint) => {
            let continuity = if source.resume_in_place(&checkpoint)? {
                checkpoint
                    .seq
                    .map_or_else(Continuity::open, Continuity::after)
            } else {
                match checkpoint.seq {
                    Some(seq) => Continuity::skipping(seq, checkpoint.line_hash),
                    None => Continuity::lost(Gap::Unproven),
                }
            };
            Positioned {
                continuity,
                anchor: Some(checkpoint),
            }
        }
    })
}

/// A checkpoint in `file` (a file only) ending at `end`.
fn checkpoint_at(
    file: Option<FileId>,
    end: u64,
    line_hash: Option<u64>,
    seq: Option<i64>,
) -> Option<Checkpoint> {
    file.map(|file| Checkpoint {
        file,
        end,
        line_hash,
        seq,
    })
}

/// After the last complete line of the source's current file (within its
/// first `limit` bytes, if given), that line's `seq` the baseline: as
/// [`Start::End`], and where a snapshot takes its position (the file's
/// size read at the snapshot's instant, its lines counted after it).
pub(crate) fn at_end(source: &mut impl Source, limit: Option<u64>) -> Result<Positioned, Error> {
    let file = source.file();
    let here = |end, line_hash, seq| checkpoint_at(file, end, line_hash, seq);
    Ok(match source.skip_to_end(limit)? {
        None => Positioned {
            continuity: Continuity::open(),
            anchor: here(0, None, None),
        },
        Some(last) => {
            let seq = last.bytes.as_deref().and_then(seq_of);
            Positioned {
                continuity: seq.map_or_else(Continuity::open, Continuity::after),
                anchor: here(last.info.end, last.bytes.as_deref().map(line_hash), seq),
            }
        }
    })
}

/// [`Start::LastMatching`]: reads the current file once (through a
/// descriptor of its own, proven to be the source's file) to find where
/// its last `n` matching events begin, then has the source go on after the
/// event before them, as a checkpoint in the same file would: the first of
/// them is checked against it.
fn last_matching(
    n: u64,
    filter: &Filter,
    max_line_bytes: usize,
    source: &mut impl Source,
) -> Result<Positioned, Error> {
    let beginning = |source: &mut _| position(&Start::Beginning, filter, max_line_bytes, source);
    let Some(file) = source.file() else {
        return Err(Error::Unsupported {
            what: "starting at the last N events of input that is not a file",
        });
    };
    if n == 0 {
        return position(&Start::End, filter, max_line_bytes, source);
    }
    let path = Arc::clone(source.path());
    let mut opened = std::fs::File::open(&*path).map_err(|e| Error::io(&path, e))?;
    let meta = opened.metadata().map_err(|e| Error::io(&path, e))?;
    if !FileId::of(&meta).same_file(&file) {
        // Replaced since the source opened it: its file cannot be counted
        // back in. All of it, rather than fewer events than asked for.
        return beginning(source);
    }
    let mut scan = Scan {
        filter,
        file,
        n: usize::try_from(n).unwrap_or(usize::MAX),
        starts: VecDeque::new(),
        before: None,
    };
    scan.read(&mut opened, max_line_bytes)
        .map_err(|e| Error::io(&path, e))?;
    match scan.starts.pop_front() {
        // No event matches: only new ones, as `--from end`.
        None => position(&Start::End, filter, max_line_bytes, source),
        // The first of them is the file's first event.
        Some(None) => beginning(source),
        Some(Some(checkpoint)) => {
            if !source.resume_in_place(&checkpoint)? {
                // Changed under the scan (truncated, or the line
                // rewritten): all that is there now.
                return beginning(source);
            }
            Ok(Positioned {
                continuity: checkpoint
                    .seq
                    .map_or_else(Continuity::open, Continuity::after),
                anchor: Some(checkpoint),
            })
        }
    }
}

/// The scan of [`last_matching`]: for each of the last `n` matching
/// events, where the event before it ended (`None`: there is none).
struct Scan<'f> {
    filter: &'f Filter,
    file: FileId,
    n: usize,
    /// One entry per matching event, the last `n` only.
    starts: VecDeque<Option<Checkpoint>>,
    /// Where the last event read ended.
    before: Option<Checkpoint>,
}

impl Scan<'_> {
    /// Reads every complete line of `file`. A line longer than
    /// `max_line_bytes` is passed over (it is no event), so memory stays
    /// bounded by that and by `n`.
    fn read(&mut self, file: &mut std::fs::File, max_line_bytes: usize) -> std::io::Result<()> {
        let mut chunk = vec![0; 256 * 1024];
        // The start of a line cut by the end of a chunk.
        let mut carry = Vec::new();
        let mut too_long = false;
        let mut offset = 0u64;
        loop {
            let read = match crate::retry::retrying(|| file.read(&mut chunk)) {
                Ok(0) => return Ok(()),
                Ok(read) => read,
                Err(e) => return Err(e),
            };
            let data = &chunk[..read];
            let mut start = 0;
            for at in memchr::memchr_iter(b'\n', data) {
                let end = offset + at as u64 + 1;
                if std::mem::take(&mut too_long) {
                    carry.clear();
                } else if carry.is_empty() {
                    self.line(&data[start..at], end);
                } else {
                    carry.extend_from_slice(&data[start..at]);
                    self.line(&carry, end);
                    carry.clear();
                }
                start = at + 1;
            }
            if !too_long {
                carry.extend_from_slice(&data[start..]);
                if carry.len() > max_line_bytes {
                    too_long = true;
                    carry = Vec::new();
                }
            }
            offset += read as u64;
        }
    }

    /// One complete line, ending at `end` (just past its `\n`).
    fn line(&mut self, line: &[u8], end: u64) {
        let Ok(Some(event)) = entry::decode(line) else {
            return;
        };
        if self.filter.matches(&event) {
            if self.starts.len() == self.n {
                self.starts.pop_front();
            }
            self.starts.push_back(self.before);
        }
        self.before = Some(Checkpoint {
            file: self.file,
            end,
            line_hash: Some(line_hash(line)),
            seq: Some(event.seq),
        });
    }
}

/// The `seq` of a line, if it is an event.
fn seq_of(line: &[u8]) -> Option<i64> {
    match entry::decode(line) {
        Ok(Some(event)) => Some(event.seq),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdicts(mut c: Continuity, seqs: &[i64]) -> Vec<Verdict> {
        seqs.iter()
            .map(|&s| c.event(s, format!("line {s}").as_bytes()))
            .collect()
    }

    const OK: Verdict = Verdict::Deliver(None);

    #[test]
    fn after_a_seq_the_next_must_follow() {
        let got = verdicts(Continuity::after(3), &[4, 5, 7]);
        assert_eq!(
            got,
            [OK, OK, Verdict::Deliver(Some(Gap::Skipped { previous: 5 }))]
        );
    }

    #[test]
    fn the_largest_seq_twice_is_a_gap_not_a_wrap() {
        let got = verdicts(Continuity::open(), &[i64::MAX, i64::MAX, i64::MIN]);
        let gap = Verdict::Deliver(Some(Gap::Skipped { previous: i64::MAX }));
        assert_eq!(
            got,
            [
                OK,
                gap,
                Verdict::Deliver(Some(Gap::Skipped { previous: i64::MAX }))
            ]
        );
    }

    #[test]
    fn skipping_through_the_largest_seq() {
        let mut c = Continuity::skipping(i64::MAX, None);
        assert_eq!(c.event(i64::MAX - 1, b""), Verdict::Skip);
        assert_eq!(c.event(i64::MAX, b""), Verdict::Skip);
        assert_eq!(
            c.event(1, b""),
            Verdict::Deliver(Some(Gap::Skipped { previous: i64::MAX }))
        );
    }

    #[test]
    fn a_run_is_skipped_and_the_next_event_checked() {
        let got = verdicts(Continuity::skipping(3, None), &[1, 2, 3, 4]);
        assert_eq!(got, [Verdict::Skip, Verdict::Skip, Verdict::Skip, OK]);
        let got = verdicts(Continuity::skipping(3, None), &[4, 5]);
        assert_eq!(got, [OK, OK]);
        let got = verdicts(Continuity::skipping(3, None), &[6]);
        assert_eq!(got, [Verdict::Deliver(Some(Gap::Skipped { previous: 3 }))]);
    }

    #[test]
    fn a_broken_run_is_a_gap_from_its_last_seq() {
        let got = verdicts(Continuity::skipping(4, None), &[1, 2, 5]);
        let gap = Verdict::Deliver(Some(Gap::Skipped { previous: 2 }));
        assert_eq!(got, [Verdict::Skip, Verdict::Skip, gap]);
    }

    #[test]
    fn a_different_line_under_the_resume_seq_is_a_gap() {
        let mut c = Continuity::skipping(2, Some(line_hash(b"old")));
        assert_eq!(c.event(1, b"x"), Verdict::Skip);
        assert_eq!(
            c.event(2, b"new"),
            Verdict::Deliver(Some(Gap::Rewritten { resume: 2 }))
        );
        assert_eq!(c.event(3, b"y"), OK);
        let mut c = Continuity::skipping(2, Some(line_hash(b"old")));
        assert_eq!(c.event(2, b"old"), Verdict::Skip);
        assert!(c.is_proven());
    }

    #[test]
    fn a_rotation_before_any_event_is_a_possible_loss() {
        let mut c = Continuity::open();
        c.rotated();
        assert!(!c.is_proven());
        assert_eq!(c.event(9, b""), Verdict::Deliver(Some(Gap::Missed)));
        c.rotated();
        assert_eq!(c.event(10, b""), OK);
    }

    #[test]
    fn a_run_that_stops_short_is_reported_at_the_end_only_once() {
        let mut c = Continuity::skipping(10, None);
        assert_eq!(c.at_end(), None, "no run yet: nothing to say");
        assert_eq!(c.event(1, b""), Verdict::Skip);
        assert!(!c.is_proven());
        assert_eq!(c.at_end(), Some(Gap::EndsEarly { resume: 10 }));
        assert_eq!(c.at_end(), None);
        assert_eq!(c.baseline(), Some(1));
        assert_eq!(c.event(2, b""), OK);
    }
}
