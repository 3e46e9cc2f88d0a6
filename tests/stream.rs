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

/// Review of issue 16: a writer that splits its lines in two writes with
/// random pauses, rotating by delete and create, is followed by the stream
/// (which asks with a deadline already past and waits through tokio) in
/// every watch mode: every event once, in order.
#[tokio::test(flavor = "current_thread")]
async fn review_the_stream_sees_every_racing_write() {
    for mode in [
        changelog_tail::WatchMode::Notify,
        changelog_tail::WatchMode::Portable,
        changelog_tail::WatchMode::Poll(Duration::from_millis(5)),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("change.log");
        fs::write(&path, b"").unwrap();
        let mut stream = ChangelogIterator::builder(&path)
            .watch(mode)
            .open()
            .unwrap()
            .into_stream();
        let total = 5000i64;
        let p = path.clone();
        let writer = std::thread::spawn(move || {
            let open = |p: &std::path::Path| {
                fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .unwrap()
            };
            let mut file = open(&p);
            let mut x = 0x2545_f491_4f6c_dd1du64;
            for seq in 1..=total {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                if seq % 1500 == 0 {
                    drop(file);
                    fs::remove_file(&p).unwrap();
                    file = open(&p);
                }
                let bytes = line(seq).into_bytes();
                let cut = (x as usize) % bytes.len();
                file.write_all(&bytes[..cut]).unwrap();
                if x.is_multiple_of(16) {
                    std::thread::sleep(Duration::from_micros(x % 500));
                }
                file.write_all(&bytes[cut..]).unwrap();
            }
        });
        let got = seqs(&mut stream, total as usize).await;
        writer.join().unwrap();
        assert_eq!(got, (1..=total).collect::<Vec<_>>(), "{mode:?}");
    }
}
