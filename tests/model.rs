//! Model-based test of the follower (in the style of Vector's file-watcher
//! experiments): random sequences of writer actions against real files,
//! with reads in between. What is read must be the model's lines, in order,
//! each exactly once; wherever lines are missing, the first line after the
//! loss must be reported out of sync. Never a silent gap, never a duplicate.

use changelog_tail::{ChangelogIterator, Error, Filter, FollowOptions, Next};
use proptest::prelude::*;
use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
enum Op {
    /// Append this many whole lines.
    Write(u8),
    /// Append the first half of the next line (the rest comes with the
    /// next write, unless a rotation comes first).
    WriteHalf,
    /// Delete the file and create a new one (ctlstore's rotation).
    RotateDelete,
    /// Rename the file away and create a new one.
    RotateRename,
    /// Cut the file to zero in place (copy-truncate).
    Truncate,
    /// Let a moment pass.
    Pause,
    /// Read whatever is there without waiting.
    Read,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (1u8..6).prop_map(Op::Write),
        2 => Just(Op::WriteHalf),
        2 => Just(Op::RotateDelete),
        1 => Just(Op::RotateRename),
        1 => Just(Op::Truncate),
        1 => Just(Op::Pause),
        4 => Just(Op::Read),
    ]
}

fn line(seq: i64) -> String {
    format!(
        r#"{{"seq":{seq},"family":"f{}","table":"t","key":[{{"name":"id","type":"INT","value":{}}}]}}"#,
        seq % 3,
        seq * 31
    )
}

/// The writer and what it wrote.
struct Model {
    path: PathBuf,
    file: File,
    next_seq: i64,
    /// The rest of a half-written line.
    half: Option<String>,
    renamed: usize,
    /// Every complete line written, by seq.
    written: HashMap<i64, String>,
}

impl Model {
    fn new(path: &Path) -> Model {
        Model {
            path: path.to_path_buf(),
            file: append(path),
            next_seq: 1,
            half: None,
            renamed: 0,
            written: HashMap::new(),
        }
    }

    fn write(&mut self, text: &str) {
        self.file.write_all(text.as_bytes()).unwrap();
    }

    fn finish_half(&mut self) {
        if let Some(rest) = self.half.take() {
            self.write(&rest);
        }
    }

    fn apply(&mut self, op: &Op) {
        match op {
            Op::Write(n) => {
                self.finish_half();
                for _ in 0..*n {
                    let text = line(self.next_seq);
                    self.write(&format!("{text}\n"));
                    self.written.insert(self.next_seq, text);
                    self.next_seq += 1;
                }
            }
            Op::WriteHalf => {
                self.finish_half();
                let text = line(self.next_seq);
                let (head, rest) = text.split_at(text.len() / 2);
                self.write(head);
                self.half = Some(format!("{rest}\n"));
                self.written.insert(self.next_seq, text.clone());
                self.next_seq += 1;
            }
            Op::RotateDelete => {
                self.half = None;
                fs::remove_file(&self.path).unwrap();
                self.file = append(&self.path);
            }
            Op::RotateRename => {
                self.half = None;
                self.renamed += 1;
                fs::rename(
                    &self.path,
                    self.path.with_extension(self.renamed.to_string()),
                )
                .unwrap();
                self.file = append(&self.path);
            }
            Op::Truncate => {
                self.half = None;
                self.file.set_len(0).unwrap();
            }
            Op::Pause => std::thread::sleep(Duration::from_millis(2)),
            Op::Read => {}
        }
    }
}

fn append(path: &Path) -> File {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap()
}

/// What the reader saw.
#[derive(Default)]
struct Seen {
    /// (seq, line, reported out of sync)
    events: Vec<(i64, String, bool)>,
}

/// Reads until nothing is there (`until: None`), or until `until` arrives.
fn read(events: &mut ChangelogIterator, seen: &mut Seen, until: Option<i64>) {
    let patience = Instant::now() + Duration::from_secs(20);
    loop {
        let deadline = match until {
            Some(_) => Some(Instant::now() + Duration::from_millis(100)),
            None => Some(Instant::now()),
        };
        match events.next_record(deadline) {
            Ok(Next::Item(record)) => {
                let seq = record.event.seq;
                let text = String::from_utf8(record.line.to_vec()).unwrap();
                seen.events.push((seq, text, record.gap.is_some()));
                if until == Some(seq) {
                    return;
                }
            }
            Ok(Next::TimedOut) if until.is_none() => return,
            Ok(Next::TimedOut) => assert!(Instant::now() < patience, "{until:?} never arrived"),
            Ok(other) => panic!("unexpected {other:?}"),
            // Fragments of half lines that were rotated or truncated away,
            // and lines read from the middle after a truncation.
            Err(Error::InvalidEntry(_) | Error::Notice(_)) => {}
            Err(e) => panic!("{e}"),
        }
    }
}

fn run(ops: &[Op]) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("change.log");
    let mut model = Model::new(&path);
    let mut events =
        ChangelogIterator::with_options(&path, FollowOptions::default(), Filter::new()).unwrap();
    // The first event must be seq 1: nothing may be lost before it either.
    events.skip_through(0, None);
    let mut seen = Seen::default();
    for op in ops {
        model.apply(op);
        if let Op::Read = op {
            read(&mut events, &mut seen, None);
        }
    }
    // A last line, so that any loss before it shows.
    model.apply(&Op::Write(1));
    let last = model.next_seq - 1;
    read(&mut events, &mut seen, Some(last));

    let mut previous = 0;
    for (seq, text, gap) in &seen.events {
        assert!(
            *seq > previous,
            "seq {seq} after {previous}: out of order or repeated"
        );
        assert_eq!(
            Some(text),
            model.written.get(seq),
            "seq {seq} is not what was written"
        );
        if *seq != previous + 1 {
            assert!(
                gap,
                "seqs {} to {} lost without a report",
                previous + 1,
                seq - 1
            );
        } else {
            assert!(
                !gap,
                "seq {seq} reported out of sync but follows {previous}"
            );
        }
        previous = *seq;
    }
    assert_eq!(previous, last);
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn what_is_read_is_what_was_written_or_reported_lost(ops in prop::collection::vec(op(), 1..40)) {
        run(&ops);
    }
}

#[test]
fn the_model_sees_every_line_when_nothing_is_lost() {
    // The property test above would pass if the follower reported every
    // event lost: here, with reads between rotations, nothing may be.
    run(&[
        Op::Write(3),
        Op::Read,
        Op::RotateDelete,
        Op::Write(2),
        Op::Read,
        Op::RotateRename,
        Op::WriteHalf,
        Op::Read,
        Op::Write(1),
        Op::Read,
    ]);
}
