//! One contract for every source: the same lines, read from a real file or
//! from memory, with the same start, give the same events, gaps and
//! invalid entries, in the same order, and end with the same status. (A
//! resume bug once shipped because one source told the iterator "caught
//! up" and the other did not.)

use changelog_tail::{ChangelogIterator, Checkpoint, Error, MemorySource, Next, Start};
use proptest::prelude::*;
use std::ops::ControlFlow;

/// What an iterator handed out, in order.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    Event {
        seq: i64,
        gap: bool,
    },
    Invalid {
        line: u64,
    },
    /// At the end: last seq, lines read, invalid entries, offset.
    Status(Option<i64>, u64, u64, u64),
}

fn read_all(events: &mut ChangelogIterator) -> Vec<Seen> {
    read_with(events, None)
}

/// [`read_all`], and with `ready`, each call of `next_record` comes after
/// one of `for_each_ready` that takes up to that many records at a time.
fn read_with(events: &mut ChangelogIterator, ready: Option<usize>) -> Vec<Seen> {
    let mut seen = Vec::new();
    loop {
        if let Some(at_most) = ready {
            let mut taken = 0;
            let ready = events.for_each_ready(|record| {
                seen.push(Seen::Event {
                    seq: record.event().seq,
                    gap: record.gap().is_some(),
                });
                taken += 1;
                match taken == at_most {
                    true => ControlFlow::Break(()),
                    false => ControlFlow::Continue(()),
                }
            });
            match ready {
                Ok(_) => {}
                Err(Error::InvalidEntry(entry)) => {
                    seen.push(Seen::Invalid {
                        line: entry.location.line,
                    });
                    continue;
                }
                Err(e) => panic!("{e}"),
            }
        }
        match events.next_record(None) {
            Ok(Next::Item(record)) => seen.push(Seen::Event {
                seq: record.event().seq,
                gap: record.gap().is_some(),
            }),
            Ok(Next::End) => {
                let status = events.status();
                seen.push(Seen::Status(
                    status.last_seq,
                    status.lines,
                    status.invalid,
                    status.offset,
                ));
                return seen;
            }
            Ok(Next::Notice(_)) => {}
            Ok(other) => panic!("unexpected {other:?}"),
            Err(Error::InvalidEntry(entry)) => seen.push(Seen::Invalid {
                line: entry.location.line,
            }),
            Err(e) => panic!("{e}"),
        }
    }
}

fn line(seq: i64) -> String {
    format!(
        r#"{{"seq":{seq},"family":"f","table":"t{}","key":[]}}"#,
        seq % 2
    )
}

fn lines() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(
        prop_oneof![
            8 => (-3i64..12).prop_map(line),
            1 => Just("not json".to_string()),
            1 => Just(String::new()),
            1 => Just(line(i64::MAX)),
        ],
        0..25,
    )
}

fn start() -> impl Strategy<Value = Start> {
    prop_oneof![
        Just(Start::Beginning),
        Just(Start::End),
        (-2i64..14).prop_map(Start::AfterSeq),
        Just(Start::AfterSeq(i64::MAX)),
    ]
}

/// `lines` written to a changelog in a directory of its own.
fn log_of(lines: &[String]) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("change.log");
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

/// A filter on `table`, or none.
fn table_filter(table: Option<&str>) -> changelog_tail::Filter {
    table.map_or_else(changelog_tail::Filter::new, |t| {
        changelog_tail::Filter::new().table(t)
    })
}

fn both(lines: &[String], start: Start, table: Option<&str>) -> (Vec<Seen>, Vec<Seen>) {
    let (_dir, path) = log_of(lines);
    let filter = table_filter(table);
    let file = ChangelogIterator::builder(&path)
        .follow(false)
        .start(start)
        .filter(filter.clone())
        .open()
        .unwrap();
    let memory = ChangelogIterator::builder_memory(MemorySource::new(lines.to_vec()))
        .start(start)
        .filter(filter)
        .open()
        .unwrap();
    let (mut file, mut memory) = (file, memory);
    (read_all(&mut file), read_all(&mut memory))
}

/// A file read with a table filter, once on the fast path (lines of other
/// tables checked as far as their header, straight from the buffer) and
/// once reading every line whole: what was handed out, and the checkpoint
/// at the end. (Lines of other tables are written in the writer's shape,
/// so the two may differ only in how they read them.)
fn fast_and_whole(lines: &[String], start: Start) -> [(Vec<Seen>, Option<Checkpoint>); 2] {
    let (_dir, path) = log_of(lines);
    [false, true].map(|whole| {
        let mut events = ChangelogIterator::builder(&path)
            .follow(false)
            .start(start)
            .filter(changelog_tail::Filter::new().table("t1"))
            .check_every_line(whole)
            .checkpoints(true)
            .open()
            .unwrap();
        let seen = read_all(&mut events);
        (seen, events.checkpoint())
    })
}

/// A file read one record at a time, and read taking what is ready
/// (`for_each_ready`, up to `at_most` records a call) between the calls:
/// what was handed out, and the checkpoint at the end.
fn one_and_ready(
    lines: &[String],
    start: Start,
    table: Option<&str>,
    whole: bool,
    at_most: usize,
) -> [(Vec<Seen>, Option<Checkpoint>); 2] {
    let (_dir, path) = log_of(lines);
    let filter = table_filter(table);
    [None, Some(at_most)].map(|ready| {
        let mut events = ChangelogIterator::builder(&path)
            .follow(false)
            .start(start)
            .filter(filter.clone())
            .check_every_line(whole)
            .checkpoints(true)
            .open()
            .unwrap();
        let seen = read_with(&mut events, ready);
        (seen, events.checkpoint())
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn taking_what_is_ready_reads_as_one_record_at_a_time_does(
        lines in prop::collection::vec(lines(), 1..40).prop_map(|runs| runs.concat()),
        start in start(),
        table in prop_oneof![Just(None), Just(Some("t1"))],
        whole in any::<bool>(),
        at_most in 1usize..6,
    ) {
        let [one, ready] = one_and_ready(&lines, start, table, whole, at_most);
        prop_assert_eq!(one, ready);
    }

    #[test]
    fn the_fast_path_ends_where_reading_every_line_does(
        lines in prop::collection::vec(lines(), 1..40).prop_map(|runs| runs.concat()),
        start in start(),
    ) {
        let [fast, whole] = fast_and_whole(&lines, start);
        prop_assert_eq!(fast, whole);
    }

    #[test]
    fn a_file_and_memory_read_the_same(
        lines in lines(),
        start in start(),
        table in prop_oneof![Just(None), Just(Some("t1"))],
    ) {
        let (file, memory) = both(&lines, start, table);
        prop_assert_eq!(file, memory);
    }
}

#[test]
fn both_report_a_resume_that_stops_short() {
    let lines: Vec<String> = (1..=3).map(line).collect();
    let (file, memory) = both(&lines, Start::AfterSeq(10), None);
    assert_eq!(file[0], Seen::Event { seq: 3, gap: true });
    assert_eq!(
        file[1..],
        [Seen::Status(Some(3), 3, 0, 3 * (line(1).len() as u64 + 1))]
    );
    assert_eq!(memory, file);
}
