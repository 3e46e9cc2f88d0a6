//! The async stream (cargo feature `tokio`): the same events, waited for
//! through tokio, across real rotations.

use changelog_tail::{ChangelogIterator, Error};
use futures::StreamExt;
use std::fs;
use std::io::Write;
use std::time::Duration;

fn line(seq: i64) -> String {
    format!("{{\"seq\":{seq},\"family\":\"f\",\"table\":\"t\",\"key\":[]}}\n")
}

fn append(path: &std::path::Path, seqs: std::ops::RangeInclusive<i64>) {
    let mut file = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    for seq in seqs {
        file.write_all(line(seq).as_bytes()).unwrap();
    }
}

/// The next `n` seqs, each within a deadline (a stall fails the test).
async fn seqs(stream: &mut changelog_tail::EventStream, n: usize) -> Vec<i64> {
    let mut seqs = Vec::new();
    for _ in 0..n {
        let next = tokio::time::timeout(Duration::from_secs(30), stream.next());
        let event = next.await.expect("an event in time").expect("not the end");
        seqs.push(event.expect("no error").seq);
    }
    seqs
}

#[tokio::test]
async fn follows_a_rotating_file_without_a_thread_per_stream() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("change.log");
    append(&path, 1..=3);
    let mut stream = ChangelogIterator::open(&path).unwrap().into_stream();
    assert_eq!(seqs(&mut stream, 3).await, [1, 2, 3]);
    // Nothing there: the stream waits (through the reactor), then wakes for
    // an append, a delete-and-create and a rename rotation.
    let quiet = tokio::time::timeout(Duration::from_millis(50), stream.next()).await;
    assert!(quiet.is_err(), "nothing was written: {quiet:?}");
    append(&path, 4..=5);
    assert_eq!(seqs(&mut stream, 2).await, [4, 5]);
    fs::remove_file(&path).unwrap();
    append(&path, 6..=7);
    assert_eq!(seqs(&mut stream, 2).await, [6, 7]);
    fs::rename(&path, dir.path().join("change.log.1")).unwrap();
    append(&path, 8..=8);
    assert_eq!(seqs(&mut stream, 1).await, [8]);
}

#[tokio::test]
async fn a_gap_is_out_of_sync_and_the_end_of_input_ends_the_stream() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("change.log");
    append(&path, 1..=2);
    append(&path, 5..=5);
    let stream = ChangelogIterator::builder(&path)
        .follow(false)
        .open()
        .unwrap()
        .into_stream();
    let items: Vec<_> = stream.collect().await;
    assert_eq!(items.len(), 3);
    assert!(matches!(&items[2], Err(Error::OutOfSync { event, .. }) if event.seq == 5));
}

#[tokio::test]
async fn polling_mode_wakes_on_its_interval() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("change.log");
    append(&path, 1..=1);
    let mut stream = ChangelogIterator::builder(&path)
        .watch(changelog_tail::WatchMode::Poll(Duration::from_millis(20)))
        .open()
        .unwrap()
        .into_stream();
    assert_eq!(seqs(&mut stream, 1).await, [1]);
    // Caught up and waiting on its own timer (several intervals pass)
    // before the append: the timer, not a look at the right moment, must
    // bring the next line.
    let quiet = tokio::time::timeout(Duration::from_millis(100), stream.next()).await;
    assert!(quiet.is_err(), "nothing was written: {quiet:?}");
    append(&path, 2..=2);
    assert_eq!(seqs(&mut stream, 1).await, [2]);
}
