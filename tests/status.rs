//! The library's status and interruption: what a status says after
//! rotations, truncations and invalid entries, and that an interruption is
//! answered between items while there is still more to read.

use changelog_tail::{ChangelogIterator, Error, MemorySource, Next};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

fn line(seq: i64) -> String {
    format!(r#"{{"seq":{seq},"family":"f","table":"t","key":[]}}"#) + "\n"
}

/// Reads until nothing more comes within a moment; returns the seqs.
fn read_available(events: &mut ChangelogIterator) -> Vec<i64> {
    let mut seqs = Vec::new();
    loop {
        match events.next_record(Some(Instant::now() + Duration::from_millis(200))) {
            Ok(Next::Item(record)) => seqs.push(record.event().seq),
            Ok(Next::TimedOut) => return seqs,
            Ok(Next::Notice(_)) | Err(Error::InvalidEntry(_)) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[test]
fn a_status_counts_lines_invalid_entries_and_rotations_and_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("change.log");
    fs::write(&path, format!("{}not json\n\n{}", line(1), line(2))).unwrap();
    let mut events = ChangelogIterator::builder(&path).open().unwrap();
    assert_eq!(read_available(&mut events), [1, 2]);
    let status = events.status();
    assert_eq!(
        (
            status.lines,
            status.invalid,
            status.rotations,
            status.last_seq
        ),
        (4, 1, 0, Some(2))
    );
    // Rotated by delete and create, then truncated in place.
    fs::remove_file(&path).unwrap();
    fs::write(&path, line(3)).unwrap();
    assert_eq!(read_available(&mut events), [3]);
    fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(0)
        .unwrap();
    assert_eq!(read_available(&mut events), Vec::<i64>::new());
    fs::write(&path, format!("{}{}", line(4), "{\"seq\":5")).unwrap();
    assert_eq!(read_available(&mut events), [4]);
    let status = events.status();
    let meta = fs::metadata(&path).unwrap();
    let file = status.file.expect("a file");
    assert_eq!((file.dev, file.ino), (meta.dev(), meta.ino()));
    // The offset is where the next line starts: before the partial one.
    assert_eq!(status.offset, line(4).len() as u64);
    assert_eq!(status.size, Some(meta.len()));
    assert_eq!(
        (
            status.lines,
            status.invalid,
            status.rotations,
            status.last_seq
        ),
        (6, 1, 2, Some(4))
    );
    assert_eq!(status.held, 0);
    let shown = status.to_string();
    assert!(
        shown.starts_with(&format!(
            "{} (device {}, inode {}): offset {} of {} bytes, last seq 4, 6 lines read, \
             1 invalid, 2 rotations followed, 0 generations held",
            path.display(),
            meta.dev(),
            meta.ino(),
            line(4).len(),
            meta.len()
        )),
        "{shown}"
    );
}

#[test]
fn an_interruption_is_answered_between_items_and_skips_nothing() {
    let lines: Vec<String> = (1..=1000)
        .map(|seq| line(seq).trim_end().to_owned())
        .collect();
    let builder = ChangelogIterator::builder_memory(MemorySource::new(lines));
    let interrupt = builder.interrupt_handle();
    let mut events = builder.open().unwrap();
    let mut seqs = Vec::new();
    let mut interrupted_after = Vec::new();
    loop {
        if seqs.len() == 10 && interrupted_after.is_empty() {
            interrupt.interrupt();
            interrupt.interrupt();
        }
        match events.next_record(None) {
            Ok(Next::Item(record)) => seqs.push(record.event().seq),
            Ok(Next::Interrupted) => interrupted_after.push(seqs.len()),
            Ok(Next::End) => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    // At once, with more to read; twice asked before it was taken: once.
    assert_eq!(interrupted_after, [10]);
    assert_eq!(seqs, (1..=1000).collect::<Vec<_>>());
    assert_eq!(events.status().lines, 1000);
}

#[test]
fn an_interruption_while_waiting_for_the_file_is_said_at_the_first_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("change.log");
    let builder = ChangelogIterator::builder(&path).wait_for_file(None);
    let interrupt = builder.interrupt_handle();
    let writer = std::thread::spawn({
        let path = path.clone();
        move || {
            interrupt.interrupt();
            fs::write(&path, line(1)).unwrap();
        }
    });
    let mut events = builder.open().unwrap();
    writer.join().unwrap();
    // The interruption may have come before the wait began or during it:
    // either way it is said once, before or between the events.
    let mut interrupted = 0;
    let mut seqs = Vec::new();
    while seqs.is_empty() {
        match events.next_record(None) {
            Ok(Next::Item(record)) => seqs.push(record.event().seq),
            Ok(Next::Interrupted) => interrupted += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((interrupted, seqs), (1, vec![1]));
}
