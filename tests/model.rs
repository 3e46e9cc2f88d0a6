//! Model-based test of the whole reader (in the style of Vector's
//! file-watcher experiments): random writer actions against real files
//! (appends, half lines, every kind of rotation, writer restarts that
//! number from 1 again), with readers that read, stop and resume in
//! between, following or reading to the end, resuming from a checkpoint or
//! after a seq.
//!
//! Every line written is unique (its key holds its place in the writer's
//! history), so the runs together can be held to the promise: lines come in
//! the order written, none twice; and wherever written lines were not
//! delivered, the first line delivered after them is reported out of sync.
//! A report without a loss is allowed only where the numbering itself
//! broke (a writer restart) or where a rotation came before any event (no
//! `seq` to prove anything with).

use changelog_tail::{ChangelogIterator, Checkpoint, Error, Next, Record, Start};
use proptest::prelude::*;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
enum Op {
    /// Append this many whole lines.
    Write(u8),
    /// Append the first half of the next line (the rest comes with the
    /// next write, unless a rotation or restart comes first).
    WriteHalf,
    /// Delete the file and create a new one (ctlstore's rotation).
    RotateDelete,
    /// Rename the file away and create a new one.
    RotateRename,
    /// Cut the file to zero in place (copy-truncate).
    Truncate,
    /// The writer restarts: numbering begins again at 1, in the same file
    /// or (`true`) in a new one.
    WriterRestart(bool),
    /// The reader stops (its checkpoint kept, as a state file would).
    Stop,
    /// Read whatever is there (starting a reader if none runs).
    Read,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (1u8..6).prop_map(Op::Write),
        2 => Just(Op::WriteHalf),
        2 => Just(Op::RotateDelete),
        1 => Just(Op::RotateRename),
        1 => Just(Op::Truncate),
        1 => any::<bool>().prop_map(Op::WriterRestart),
        2 => Just(Op::Stop),
        4 => Just(Op::Read),
    ]
}

/// How readers resume and read.
#[derive(Debug, Clone, Copy)]
struct Mode {
    /// Resume from a checkpoint (else after the last seq delivered).
    checkpoint: bool,
    /// Keep following (else each read is a run to the end of the file).
    follow: bool,
    /// Take what is ready (`for_each_ready`) before each call of
    /// `next_record`, as the command line does.
    ready: bool,
}

fn line(seq: i64, g: usize) -> String {
    format!(
        r#"{{"seq":{seq},"family":"f","table":"t","key":[{{"name":"g","type":"INT","value":{g}}}]}}"#
    )
}

/// The writer, and every line it wrote (its place is its `g`).
struct Writer {
    path: PathBuf,
    file: File,
    next_seq: i64,
    /// The rest of a half-written line.
    half: Option<String>,
    renamed: usize,
    /// seq of line g.
    written: Vec<i64>,
    /// A killed writer left half a line that the next line will be glued
    /// to (and so spoiled).
    glue: bool,
    /// Lines that never became readable: half lines abandoned, lines glued
    /// to one.
    unreadable: Vec<usize>,
    /// The file (counted from 0; a truncation starts a new one) of line g.
    file_of: Vec<usize>,
    file_no: usize,
    /// The files (numbered as in `file_of`) begun by a truncation.
    truncated: Vec<usize>,
}

fn append(path: &Path) -> File {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap()
}

impl Writer {
    fn new(path: &Path) -> Writer {
        Writer {
            path: path.to_path_buf(),
            file: append(path),
            next_seq: 1,
            half: None,
            renamed: 0,
            written: Vec::new(),
            glue: false,
            unreadable: Vec::new(),
            file_of: Vec::new(),
            file_no: 0,
            truncated: Vec::new(),
        }
    }

    fn write(&mut self, text: &str) {
        self.file.write_all(text.as_bytes()).unwrap();
    }

    fn next_line(&mut self) -> String {
        if std::mem::take(&mut self.glue) {
            self.unreadable.push(self.written.len());
        }
        let text = line(self.next_seq, self.written.len());
        self.written.push(self.next_seq);
        self.file_of.push(self.file_no);
        self.next_seq += 1;
        text
    }

    fn finish_half(&mut self) {
        if let Some(rest) = self.half.take() {
            self.write(&rest);
        }
    }

    /// A line left half written never becomes readable.
    fn abandon_half(&mut self) {
        if self.half.take().is_some() {
            self.unreadable.push(self.written.len() - 1);
        }
    }

    /// A line left half written is lost with its file.
    fn new_file(&mut self) {
        self.abandon_half();
        self.glue = false;
        self.file_no += 1;
        self.file = append(&self.path);
    }

    fn apply(&mut self, op: &Op) {
        match op {
            Op::Write(n) => {
                self.finish_half();
                for _ in 0..*n {
                    let text = self.next_line();
                    self.write(&format!("{text}\n"));
                }
            }
            Op::WriteHalf => {
                self.finish_half();
                let text = self.next_line();
                let (head, rest) = text.split_at(text.len() / 2);
                self.write(head);
                self.half = Some(format!("{rest}\n"));
            }
            Op::RotateDelete => {
                fs::remove_file(&self.path).unwrap();
                self.new_file();
            }
            Op::RotateRename => {
                self.renamed += 1;
                let away = self.path.with_extension(self.renamed.to_string());
                fs::rename(&self.path, away).unwrap();
                self.new_file();
            }
            Op::Truncate => {
                self.abandon_half();
                self.glue = false;
                self.file_no += 1;
                self.truncated.push(self.file_no);
                self.file.set_len(0).unwrap();
            }
            Op::WriterRestart(new_file) => {
                // Killed mid-line, the half line stays in the file (also
                // one left by an earlier restart that nothing followed).
                let glue = !new_file && (self.half.is_some() || self.glue);
                self.abandon_half();
                self.next_seq = 1;
                if *new_file {
                    fs::remove_file(&self.path).unwrap();
                }
                self.new_file();
                self.glue = glue;
            }
            Op::Stop | Op::Read => {}
        }
    }
}

/// One delivered line: its place, its seq, whether it was reported out of
/// sync.
#[derive(Debug)]
struct Delivered {
    g: usize,
    seq: i64,
    gap: bool,
}

/// The readers, one at a time.
struct Readers {
    path: PathBuf,
    mode: Mode,
    running: Option<ChangelogIterator>,
    /// The last checkpoint (as a state file would hold it).
    saved: Option<Checkpoint>,
    /// The last seq delivered (for `--after-seq` resumes).
    last_seq: Option<i64>,
    delivered: Vec<Delivered>,
}

impl Readers {
    /// Readers of `path` in `mode`, none running yet.
    fn new(path: &Path, mode: Mode) -> Self {
        Readers {
            path: path.to_path_buf(),
            mode,
            running: None,
            saved: None,
            last_seq: None,
            delivered: Vec::new(),
        }
    }

    fn start(&self) -> Start {
        match (self.mode.checkpoint, self.saved, self.last_seq) {
            (true, Some(checkpoint), _) => Start::Checkpoint(checkpoint),
            (false, _, Some(seq)) => Start::AfterSeq(seq),
            _ => Start::Beginning,
        }
    }

    fn open(&self) -> ChangelogIterator {
        ChangelogIterator::builder(&self.path)
            .start(self.start())
            .follow(self.mode.follow)
            .checkpoints(true)
            .open()
            .unwrap()
    }

    /// Reads what is there; `until`: blocks until that line arrives.
    fn read(&mut self, until: Option<usize>) {
        let patience = Instant::now() + Duration::from_secs(20);
        let mut events = self.running.take().unwrap_or_else(|| self.open());
        loop {
            if self.mode.ready && self.take_ready(&mut events, until) {
                break;
            }
            let deadline = match until {
                Some(_) => Some(Instant::now() + Duration::from_millis(50)),
                None => Some(Instant::now()),
            };
            let record = match events.next_record(deadline) {
                Ok(Next::Item(record)) => record,
                Ok(Next::TimedOut) if until.is_none() => break,
                Ok(Next::TimedOut) => {
                    assert!(Instant::now() < patience, "{until:?} never arrived");
                    continue;
                }
                Ok(Next::End) if until.is_none() => break,
                Ok(Next::End) => {
                    // Reading to the end: the next run reads on.
                    self.saved = events.checkpoint();
                    assert!(Instant::now() < patience, "{until:?} never arrived");
                    std::thread::sleep(Duration::from_millis(5));
                    events = self.open();
                    continue;
                }
                // Fragments of half lines that were rotated or truncated
                // away, lines read from the middle after a truncation, and
                // harmless news.
                Ok(Next::Notice(_)) | Err(Error::InvalidEntry(_)) => continue,
                Ok(other) => panic!("unexpected {other:?}"),
                Err(e) => panic!("{e}"),
            };
            if self.deliver(&record) == until {
                break;
            }
        }
        self.saved = events.checkpoint();
        if self.mode.follow {
            self.running = Some(events);
        }
    }

    /// Notes a delivered record; says which line it was.
    fn deliver(&mut self, record: &Record<'_>) -> Option<usize> {
        let event = record.event().to_event();
        let g: usize = event.row_update.keys[0].value.json().parse().unwrap();
        self.delivered.push(Delivered {
            g,
            seq: event.seq,
            gap: record.gap().is_some(),
        });
        self.last_seq = Some(event.seq);
        Some(g)
    }

    /// Takes what is ready; says whether line `until` came.
    fn take_ready(&mut self, events: &mut ChangelogIterator, until: Option<usize>) -> bool {
        // An invalid line ends the turn (as `next_record` passes over it).
        matches!(
            events.for_each_ready(|record| {
                match self.deliver(record) == until && until.is_some() {
                    true => ControlFlow::Break(()),
                    false => ControlFlow::Continue(()),
                }
            },),
            Ok(Some(()))
        )
    }

    fn stop(&mut self) {
        if let Some(events) = self.running.take() {
            self.saved = events.checkpoint();
        }
    }
}

/// The writer does `op`; the readers read or stop if it says so.
fn step(writer: &mut Writer, readers: &mut Readers, op: &Op) {
    writer.apply(op);
    match op {
        Op::Read => readers.read(None),
        Op::Stop => readers.stop(),
        _ => {}
    }
}

fn run(mode: Mode, ops: &[Op]) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("change.log");
    let mut writer = Writer::new(&path);
    let mut readers = Readers::new(&path, mode);
    // The first reader starts on the empty file, before anything is written.
    readers.read(None);
    // A copy-truncate before any event was read leaves nothing to compare
    // with: the same file, at offset 0, with no seq (a known limit).
    let mut truncated_unseen = false;
    for op in ops {
        truncated_unseen |= matches!(op, Op::Truncate) && readers.delivered.is_empty();
        if matches!(op, Op::WriterRestart(_)) && !mode.checkpoint {
            // After a seq alone, a restarted writer's new lines 1..N cannot
            // be told from the old ones (no line fingerprint): a known limit
            // of `--after-seq`, not a loss to look for.
            continue;
        }
        step(&mut writer, &mut readers, op);
    }
    // A last line, so that any loss before it shows (two if the first would
    // be glued to a killed writer's half line).
    writer.apply(&Op::Write(if writer.glue { 2 } else { 1 }));
    let last = writer.written.len() - 1;
    readers.read(Some(last));
    let provable_from_start = mode.checkpoint && !truncated_unseen;
    check(provable_from_start, &writer, &readers.delivered);
}

/// Holds the runs together to the promise. Without `provable_from_start`
/// (resuming after a seq, which has none before the first event; a
/// truncation before any event), lines lost before the first delivery may
/// go unreported; so may lines that never became readable before it (no
/// seq to check the first event against).
fn check(provable_from_start: bool, writer: &Writer, delivered: &[Delivered]) {
    let written = &writer.written;
    let mut previous: Option<&Delivered> = None;
    for d in delivered {
        assert_eq!(written[d.g], d.seq, "line {} is not what was written", d.g);
        let expected_g = previous.map_or(0, |p| p.g + 1);
        assert!(
            previous.is_none_or(|p| d.g > p.g),
            "line {} after line {:?}: out of order or repeated",
            d.g,
            previous.map(|p| p.g)
        );
        let lost = d.g > expected_g;
        let only_unreadable = (expected_g..d.g).all(|g| writer.unreadable.contains(&g));
        let first_without_proof = previous.is_none() && (!provable_from_start || only_unreadable);
        // A writer that restarted among the lost lines may have numbered
        // its way back to exactly `previous + 1` in a file of its own that
        // starts there: then the loss cannot show in the seqs, nor in a
        // fingerprint (the line under `previous`'s seq is in a file nobody
        // read). A known limit of the seq proof.
        let restarted_among_lost = previous.is_some_and(|p| {
            written[p.g..=d.g]
                .windows(2)
                .any(|pair| pair[0].checked_add(1) != Some(pair[1]))
        });
        // (Or the lost lines were all unreadable, each one warned about as
        // an invalid entry: a restarted writer's first line glued to the
        // half line it was killed in.)
        // The first line of its file that could be read: the lines before
        // it in its file (if any) were unreadable, so the reader had no seq
        // in that file to check this one against.
        let first_readable_of_file = (0..d.g)
            .rev()
            .take_while(|&g| writer.file_of[g] == writer.file_of[d.g])
            .all(|g| writer.unreadable.contains(&g));
        // A file truncated in place and written again by a restarted
        // writer can hold the very bytes the reader checks (the last ones
        // it read, the part of a line it holds), and go on as what it read
        // would have: nothing to tell the reader, and a seq that fits.
        let rewritten_in_place = previous.is_some_and(|p| {
            (writer.file_of[p.g] + 1..=writer.file_of[d.g]).any(|f| writer.truncated.contains(&f))
        });
        let coincides = restarted_among_lost
            && (first_readable_of_file || only_unreadable || rewritten_in_place)
            && previous.is_some_and(|p| p.seq + 1 == d.seq);
        if lost && !first_without_proof && !coincides {
            assert!(
                d.gap,
                "lines {expected_g} to {} lost without a report (delivered {delivered:?})",
                d.g - 1
            );
        }
        if d.gap && !lost {
            // Reported with nothing lost: only where the numbering broke,
            // or before any event.
            let numbering_broke = previous.is_some_and(|p| p.seq.checked_add(1) != Some(d.seq));
            assert!(
                numbering_broke || previous.is_none() || d.seq == 1,
                "line {} (seq {}) reported out of sync after line {:?}, nothing lost",
                d.g,
                d.seq,
                previous.map(|p| (p.g, p.seq))
            );
        }
        if !d.gap
            && let Some(p) = previous
        {
            assert_eq!(p.seq.checked_add(1), Some(d.seq), "a seq gap not reported");
        }
        previous = Some(d);
    }
    assert_eq!(
        previous.map(|p| p.g),
        Some(written.len() - 1),
        "the last line never arrived"
    );
}

fn mode() -> impl Strategy<Value = Mode> {
    (any::<bool>(), any::<bool>(), any::<bool>()).prop_map(|(checkpoint, follow, ready)| Mode {
        checkpoint,
        follow,
        ready,
    })
}

proptest! {
    // MODEL_CASES=5000 for a longer hunt.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("MODEL_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(96),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn what_is_read_is_what_was_written_or_reported_lost(
        mode in mode(),
        ops in prop::collection::vec(op(), 1..40),
    ) {
        run(mode, &ops);
    }
}

/// A case the property test found (in the model, not the reader): two
/// restarts in place after a half line; the next line is glued to it, and
/// is warned about as invalid, not lost in silence.
#[test]
fn a_line_after_two_restarts_in_place_is_glued_to_the_half_line() {
    let ops = [
        Op::WriteHalf,
        Op::WriterRestart(false),
        Op::WriterRestart(false),
        Op::Write(1),
    ];
    for follow in [true, false] {
        run_both_ways(true, follow, &ops);
    }
}

/// [`run`], reading one record at a time and taking what is ready.
fn run_both_ways(checkpoint: bool, follow: bool, ops: &[Op]) {
    for ready in [false, true] {
        run(
            Mode {
                checkpoint,
                follow,
                ready,
            },
            ops,
        );
    }
}

/// A case the property test found (in the model, not the reader): a
/// rotation while the reader was stopped, then a restart in place after a
/// half line. The new file's first readable line has seq 2, just after the
/// checkpoint's seq 1, and the lines before it in that file were unreadable
/// (warned about): the loss cannot show in the seqs, a known limit.
#[test]
fn a_restart_in_a_new_file_after_a_half_line_can_coincide_with_the_checkpoint() {
    let ops = [
        Op::Write(1),
        Op::Read,
        Op::Write(1),
        Op::RotateDelete,
        Op::WriteHalf,
        Op::WriterRestart(false),
    ];
    run_both_ways(true, false, &ops);
}

/// A case the property test found (in the model, not the reader): a half
/// line held by a follower, the file truncated, and a restarted writer's
/// lines over it. Its second line (seq 2 again) begins with the very bytes
/// held, so the held half and the bytes after it make that line, seq 2
/// after seq 1: a rewrite the reader cannot see, a known limit.
#[test]
fn a_restart_after_a_truncation_can_rewrite_what_the_reader_checks() {
    let ops = [
        Op::Write(1),
        Op::WriteHalf,
        Op::Read,
        Op::Truncate,
        Op::WriterRestart(false),
        Op::Write(2),
        Op::Read,
    ];
    run_both_ways(true, true, &ops);
}

/// The property test above would pass if every event were reported lost:
/// here, with reads between rotations and stops, nothing may be.
#[test]
fn the_model_sees_every_line_when_nothing_is_lost() {
    let ops = [
        Op::Write(3),
        Op::Read,
        Op::RotateDelete,
        Op::Write(2),
        Op::Read,
        Op::Stop,
        Op::Write(2),
        Op::Read,
        Op::RotateRename,
        Op::WriteHalf,
        Op::Read,
        Op::Write(1),
        Op::Read,
    ];
    for (checkpoint, follow, ready) in
        (0..8).map(|bits| (bits & 1 != 0, bits & 2 != 0, bits & 4 != 0))
    {
        let mode = Mode {
            checkpoint,
            follow,
            ready,
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("change.log");
        let mut writer = Writer::new(&path);
        let mut readers = Readers::new(&path, mode);
        for op in &ops {
            step(&mut writer, &mut readers, op);
        }
        assert!(
            readers.delivered.iter().all(|d| !d.gap),
            "{mode:?}: {:?}",
            readers.delivered
        );
        let gs: Vec<usize> = readers.delivered.iter().map(|d| d.g).collect();
        assert_eq!(
            gs,
            (0..writer.written.len()).collect::<Vec<_>>(),
            "{mode:?}"
        );
    }
}

/// A reader resumed in place reads nothing new, the file is rotated to one
/// holding half a line, the reader stops; the writer restarts (numbering
/// from 1, a new file) and writes past the old seq. The restarted writer's
/// lines 1..=5 are never delivered, so the first line delivered (seq 6)
/// must be reported: the stored checkpoint carries seq 5's fingerprint
/// across the rotation. (The random model reaches this case only by
/// chance: it is checked here on its own.)
#[test]
fn a_restart_after_a_resumed_run_saw_only_a_rotation_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("change.log");
    let mut writer = Writer::new(&path);
    let mode = Mode {
        checkpoint: true,
        follow: true,
        ready: false,
    };
    let mut readers = Readers::new(&path, mode);
    let ops = [
        Op::Write(5),
        Op::Read,
        Op::Stop,
        Op::Read, // resumed in place: nothing new
        Op::RotateDelete,
        Op::WriteHalf,
    ];
    for op in &ops {
        step(&mut writer, &mut readers, op);
    }
    // Let the running reader see the new file (half a line, no event).
    for _ in 0..50 {
        readers.read(None);
        std::thread::sleep(Duration::from_millis(10));
    }
    readers.stop();
    assert_eq!(readers.saved.unwrap().seq, Some(5));
    writer.apply(&Op::WriterRestart(true));
    writer.apply(&Op::Write(8));
    let last = writer.written.len() - 1;
    readers.read(Some(last));
    let first_after = readers
        .delivered
        .iter()
        .find(|d| d.g > 4)
        .expect("something delivered after the restart");
    assert!(
        first_after.gap,
        "the restarted writer's first lines were skipped without a report: \
         saved {:?}, delivered {:?}",
        readers.saved, readers.delivered
    );
}
