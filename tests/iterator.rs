//! The Go package's iterator tests, through the public API, against lines
//! in memory: order, filtering, gaps, invalid lines, deadlines,
//! cancellation; and the lazy reading of other tables' lines.

use changelog_tail::{ChangelogIterator, Error, Filter, Gap, MemorySource, Next};
use std::time::Duration;

fn line(seq: i64, table: &str) -> String {
    format!(
        r#"{{"seq":{seq},"family":"fam","table":"{table}","key":[{{"name":"id","type":"INT","value":{seq}}}]}}"#
    )
}

fn iterator(lines: Vec<String>, filter: Filter) -> ChangelogIterator {
    ChangelogIterator::builder_memory(MemorySource::new(lines))
        .filter(filter)
        .open()
        .unwrap()
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
    let filter = Filter::new().family("fam").table("even");
    let seqs: Vec<i64> = iterator(lines, filter).map(|r| r.unwrap().seq).collect();
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
        Err(Error::OutOfSync { gap, event, .. }) => {
            assert_eq!(gap, Gap::Skipped { previous: 0 });
            assert_eq!(gap.expected(), Some(1));
            assert_eq!(event.seq, 3);
        }
        other => panic!("expected out of sync, got {other:?}"),
    }
    assert_eq!(it.next().unwrap().unwrap().seq, 4);
    assert!(it.next().is_none());
}

#[test]
fn the_filtered_iterator_reports_gaps_in_rows_it_does_not_match() {
    let lines = vec![line(0, "t"), line(3, "t"), line(4, "t")];
    let mut it = iterator(lines, Filter::new().table("other"));
    match it.next().unwrap() {
        Err(Error::OutOfSync {
            event,
            matches_filter,
            ..
        }) => assert_eq!((event.seq, matches_filter), (3, false)),
        other => panic!("expected out of sync, got {other:?}"),
    }
    assert!(it.next().is_none());
}

#[test]
fn invalid_lines_are_recoverable_errors_with_their_place() {
    let lines = vec![line(1, "t"), "garbage".into(), "".into(), line(2, "t")];
    let mut it = iterator(lines, Filter::new());
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
    let mut it = ChangelogIterator::builder_memory(MemorySource::new(vec![line(1, "t")]))
        .follow(true)
        .open()
        .unwrap();
    assert!(matches!(
        it.next_timeout(Duration::from_millis(5)).unwrap(),
        Next::Item(_)
    ));
    assert!(matches!(
        it.next_timeout(Duration::from_millis(5)).unwrap(),
        Next::TimedOut
    ));
    // A timeout too long to represent waits without limit, never panics.
    let cancel = {
        let builder =
            ChangelogIterator::builder_memory(MemorySource::new(Vec::<String>::new())).follow(true);
        let cancel = builder.cancel_handle();
        let mut it = builder.open().unwrap();
        let c = cancel.clone();
        std::thread::spawn(move || c.cancel());
        assert!(matches!(
            it.next_timeout(Duration::MAX).unwrap(),
            Next::Cancelled
        ));
        cancel
    };
    assert!(cancel.is_cancelled());
}

#[test]
fn cancel_from_another_thread_ends_a_blocked_call_and_every_later_one() {
    let builder =
        ChangelogIterator::builder_memory(MemorySource::new(Vec::<String>::new())).follow(true);
    let cancel = builder.cancel_handle();
    let mut it = builder.open().unwrap();
    let t = std::thread::spawn(move || cancel.cancel());
    assert!(matches!(it.next_until(None).unwrap(), Next::Cancelled));
    t.join().unwrap();
    assert!(it.next().is_none());
}

/// A line of table `t` whose keys are broken after an intact header.
fn broken_keys(seq: i64) -> String {
    format!(r#"{{"seq":{seq},"family":"fam","table":"t","key":[{{"name":"id" oops}}"#)
}

#[test]
fn lines_of_other_tables_count_by_their_header_and_strict_reads_them_whole() {
    let lines = vec![line(1, "u"), broken_keys(2), line(3, "u")];
    let lazy: Vec<_> = iterator(lines.clone(), Filter::new().table("u")).collect();
    assert_eq!(
        lazy.iter()
            .map(|r| r.as_ref().unwrap().seq)
            .collect::<Vec<_>>(),
        [1, 3]
    );
    let strict: Vec<_> = ChangelogIterator::builder_memory(MemorySource::new(lines))
        .filter(Filter::new().table("u"))
        .check_every_line(true)
        .open()
        .unwrap()
        .collect();
    assert!(
        matches!(strict[1], Err(Error::InvalidEntry(_))),
        "{strict:?}"
    );
}

#[test]
fn a_gap_revealed_by_another_tables_unreadable_line_is_still_told() {
    let lines = vec![line(1, "u"), broken_keys(5)];
    let mut it = iterator(lines, Filter::new().table("u"));
    assert_eq!(it.next().unwrap().unwrap().seq, 1);
    match it.next().unwrap() {
        Err(Error::OutOfSync { event, .. }) => {
            assert_eq!(event.seq, 5);
            assert!(
                event.row_update.keys.is_empty(),
                "shown without the keys it lacks"
            );
        }
        other => panic!("expected out of sync, got {other:?}"),
    }
}

/// An iterator on a changelog file of `lines` (kept in `dir`), positions
/// kept for checkpoints.
fn from_file(dir: &tempfile::TempDir, lines: &[Vec<u8>], filter: Filter) -> ChangelogIterator {
    let path = dir.path().join("change.log");
    let text: Vec<u8> = lines
        .iter()
        .flat_map(|l| [&l[..], b"\n"].concat())
        .collect();
    std::fs::write(&path, text).unwrap();
    ChangelogIterator::builder(&path)
        .follow(false)
        .filter(filter)
        .checkpoints(true)
        .open()
        .unwrap()
}

/// Takes what is ready: (seq, revealed a gap) of each record, up to
/// `at_most`.
fn take_ready(events: &mut ChangelogIterator, at_most: usize) -> Vec<(i64, bool)> {
    let mut taken = Vec::new();
    events
        .for_each_ready(|record| {
            taken.push((record.event().seq, record.gap().is_some()));
            match taken.len() == at_most {
                true => std::ops::ControlFlow::Break(()),
                false => std::ops::ControlFlow::Continue(()),
            }
        })
        .unwrap();
    taken
}

#[test]
fn a_gap_met_while_taking_what_is_ready_is_told_there_before_the_position_passes_it() {
    let dir = tempfile::tempdir().unwrap();
    let lines: Vec<Vec<u8>> = [1, 2, 3, 10].map(|seq| line(seq, "u").into_bytes()).into();
    let mut events = from_file(&dir, &lines, Filter::new());
    assert!(matches!(events.next_record(None), Ok(Next::Item(r)) if r.event().seq == 1));
    // A break stops at the record it broke on: the position stands there.
    assert_eq!(take_ready(&mut events, 2), [(2, false), (3, false)]);
    assert_eq!(events.last_seq(), Some(3));
    assert_eq!(events.checkpoint().and_then(|c| c.seq), Some(3));
    // The gap is told by the call that moves the position past it.
    assert_eq!(take_ready(&mut events, 10), [(10, true)]);
    assert_eq!(events.last_seq(), Some(10));
}

#[test]
fn a_gap_revealed_by_a_line_whose_keys_are_not_utf8_is_told_either_way() {
    let broken = b"{\"seq\":5,\"family\":\"fam\",\"table\":\"t\",\"key\":[{\"name\":\"id\",\"type\":\"TEXT\",\"value\":\"\xff\"}]}";
    let lines = vec![line(1, "u").into_bytes(), broken.to_vec()];
    for ready in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let mut events = from_file(&dir, &lines, Filter::new().table("u"));
        assert!(matches!(events.next_record(None), Ok(Next::Item(r)) if r.event().seq == 1));
        let told = match ready {
            true => take_ready(&mut events, 10),
            false => match events.next_record(None) {
                Ok(Next::Item(r)) => vec![(r.event().seq, r.gap().is_some())],
                other => panic!("expected the gap, got {other:?}"),
            },
        };
        assert_eq!(told, [(5, true)], "taking what is ready: {ready}");
    }
}

/// What a follower hands out after a rotation (delete and create again),
/// with and without `rotation_notices`: the new file's event, preceded by
/// [`Notice::Replaced`] only when asked for.
fn after_a_rotation(say: bool) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("change.log");
    std::fs::write(&path, format!("{}\n", line(1, "t"))).unwrap();
    let mut it = ChangelogIterator::builder(&path)
        .rotation_notices(say)
        .open()
        .unwrap();
    let mut seen = Vec::new();
    let next = |it: &mut ChangelogIterator| loop {
        match it.next_timeout(Duration::from_secs(30)).unwrap() {
            Next::Item(event) => return format!("seq {}", event.seq),
            Next::Notice(notice) => return notice.to_string(),
            Next::TimedOut => panic!("nothing within 30 s"),
            _ => {}
        }
    };
    seen.push(next(&mut it));
    std::fs::remove_file(&path).unwrap();
    std::fs::write(&path, format!("{}\n", line(2, "t"))).unwrap();
    seen.push(next(&mut it));
    if say {
        seen.push(next(&mut it));
    }
    seen
}

#[test]
fn a_rotation_is_a_notice_only_when_asked_for() {
    assert_eq!(after_a_rotation(false), ["seq 1", "seq 2"]);
    let said = after_a_rotation(true);
    assert_eq!(said.len(), 3);
    assert!(
        said[1].ends_with("change.log has been replaced; following the new file"),
        "{said:?}"
    );
    assert_eq!(said[2], "seq 2");
}

/// `Start::LastMatching`: the last N events the filter matches, checked
/// from the event before them; files only.
#[test]
fn the_last_matching_events_of_a_file() {
    use changelog_tail::Start;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("change.log");
    let text: String = (1..=9)
        .map(|seq| format!("{}\n", line(seq, if seq % 2 == 0 { "even" } else { "odd" })))
        .collect();
    std::fs::write(&path, text).unwrap();
    let seqs = |n: u64| -> Vec<i64> {
        ChangelogIterator::builder(&path)
            .filter(Filter::new().table("even"))
            .start(Start::LastMatching(n))
            .follow(false)
            .open()
            .unwrap()
            .map(|event| event.unwrap().seq)
            .collect()
    };
    assert_eq!(seqs(2), [6, 8]);
    assert_eq!(seqs(0), Vec::<i64>::new());
    assert_eq!(seqs(100), [2, 4, 6, 8]);
    let memory = ChangelogIterator::builder_memory(MemorySource::new(vec![line(1, "t")]))
        .start(Start::LastMatching(1))
        .open();
    assert!(
        matches!(memory, Err(Error::Unsupported { .. })),
        "{memory:?}"
    );
}
