//! The last event's line is what a checkpoint and a resume that stopped
//! short are made of, however much is read after it: a source keeps it
//! without copying it per line, so these tests put far more than a read
//! buffer's worth of other lines after it, through every source that can.

use changelog_tail::{ChangelogIterator, Error, MemorySource, Next, Start, line_hash};
use std::io::Write;

fn line(seq: i64) -> String {
    format!(
        r#"{{"seq":{seq},"family":"fam","table":"t","key":[{{"name":"id","type":"INT","value":{seq}}}]}}"#
    )
}

/// Four hundred kilobytes of lines that are not events.
fn junk() -> Vec<String> {
    (0..4000).map(|i| format!("not an event {i:>88}")).collect()
}

/// Reads to the end; the seqs of the events, and the last error that is
/// not an invalid line (if any).
fn read_to_end(events: &mut ChangelogIterator) -> (Vec<i64>, Option<Error>) {
    let mut seqs = Vec::new();
    loop {
        match events.next_until(None) {
            Ok(Next::Item(event)) => seqs.push(event.seq),
            Ok(Next::End) => return (seqs, None),
            Ok(other) => panic!("unexpected {other:?}"),
            Err(Error::InvalidEntry(_)) => {}
            Err(e) => return (seqs, Some(e)),
        }
    }
}

/// A changelog in `dir`: events 1 to 3, then [`junk`].
fn three_events_then_junk(dir: &tempfile::TempDir) -> std::path::PathBuf {
    let path = dir.path().join("change.log");
    write_lines(&path, &(1..=3).map(line).collect::<Vec<_>>());
    write_lines(&path, &junk());
    path
}

fn write_lines(path: &std::path::Path, lines: &[String]) {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    for line in lines {
        writeln!(file, "{line}").unwrap();
    }
}

#[test]
fn a_checkpoint_names_the_last_event_however_much_is_read_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("change.log");
    let events: Vec<String> = (1..=3).map(line).collect();
    write_lines(&path, &events);
    write_lines(&path, &junk());
    let mut first = ChangelogIterator::builder(&path)
        .follow(false)
        .checkpoints(true)
        .open()
        .unwrap();
    assert_eq!(read_to_end(&mut first).0, [1, 2, 3]);
    let checkpoint = first.checkpoint().unwrap();
    assert_eq!(checkpoint.seq, Some(3));
    assert_eq!(checkpoint.line_hash, Some(line_hash(events[2].as_bytes())));
    let end: usize = events.iter().map(|l| l.len() + 1).sum();
    assert_eq!(checkpoint.end, end as u64);
    // And a resume takes it as this file's line: on from seq 4, no gap.
    write_lines(&path, &[line(4)]);
    let mut second = ChangelogIterator::builder(&path)
        .follow(false)
        .start(Start::Checkpoint(checkpoint))
        .open()
        .unwrap();
    let (seqs, error) = read_to_end(&mut second);
    assert!(error.is_none(), "{error:?}");
    assert_eq!(seqs, [4]);
}

/// A resume after seq 10 in a file whose events end at 3: out of sync at
/// the end, told with the last event read (seq 3, its keys intact).
fn assert_stopped_short_at_3(events: &mut ChangelogIterator) {
    let (seqs, error) = read_to_end(events);
    assert!(seqs.is_empty(), "{seqs:?}");
    match error {
        Some(Error::OutOfSync { event, .. }) => {
            assert_eq!(event.seq, 3);
            assert_eq!(event.row_update.keys.len(), 1);
        }
        other => panic!("not out of sync: {other:?}"),
    }
}

#[test]
fn a_resume_that_stops_short_is_told_with_the_last_event_read_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = three_events_then_junk(&dir);
    let mut events = ChangelogIterator::builder(&path)
        .follow(false)
        .start(Start::AfterSeq(10))
        .open()
        .unwrap();
    assert_stopped_short_at_3(&mut events);
}

#[test]
fn a_resume_that_stops_short_is_told_with_the_last_event_read_from_memory() {
    let lines: Vec<String> = (1..=3).map(line).chain(junk()).collect();
    let mut events = ChangelogIterator::builder_memory(MemorySource::new(lines))
        .start(Start::AfterSeq(10))
        .open()
        .unwrap();
    assert_stopped_short_at_3(&mut events);
}

/// Follows until the [`junk`] written since was all read (each line of it
/// told as invalid); the seqs of the events read on the way.
fn follow_through_junk(events: &mut ChangelogIterator) -> Vec<i64> {
    let patience = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let (mut seqs, mut invalid, junk_lines) = (Vec::new(), 0, junk().len());
    while invalid < junk_lines {
        match events.next_until(Some(patience)) {
            Ok(Next::Item(event)) => seqs.push(event.seq),
            Ok(Next::Notice(_)) => {}
            Err(Error::InvalidEntry(_)) => invalid += 1,
            other => panic!("unexpected {other:?} after {invalid} invalid lines"),
        }
    }
    seqs
}

/// After a rotation (by rename) or a copy-truncate, and four hundred more
/// kilobytes of other lines in the file read now, the checkpoint still
/// names the last event's line by its fingerprint.
#[test]
fn the_last_events_line_outlives_a_rotation_or_truncation_and_what_follows() {
    for rename in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let path = three_events_then_junk(&dir);
        let mut events = ChangelogIterator::builder(&path)
            .checkpoints(true)
            .open()
            .unwrap();
        assert_eq!(follow_through_junk(&mut events), [1, 2, 3]);
        if rename {
            std::fs::rename(&path, dir.path().join("change.log.1")).unwrap();
        } else {
            std::fs::File::create(&path).unwrap();
        }
        write_lines(&path, &junk());
        assert!(follow_through_junk(&mut events).is_empty());
        let checkpoint = events.checkpoint().unwrap();
        assert_eq!(checkpoint.seq, Some(3));
        let hash = line_hash(line(3).as_bytes());
        assert_eq!(checkpoint.line_hash, Some(hash), "rename: {rename}");
    }
}
