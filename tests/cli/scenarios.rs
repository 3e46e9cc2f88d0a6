//! The Go package's follower scenarios, against a writer that rotates as
//! ctlstore's SizedLogWriter does: every event arrives once, in order.

use crate::harness::{Tail, seq_of};
use crate::writer::Writer;
use std::time::Duration;

struct Scenario {
    events: i64,
    /// Delete + re-create before every n-th event.
    rotate_every: Option<i64>,
    /// SizedLogWriter's size limit.
    max_size: Option<u64>,
    /// Pause between writes (pacing the writer, not synchronising).
    pause: Duration,
}

fn run(s: Scenario) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("change.log");
    let mut writer = match s.max_size {
        Some(max) => Writer::sized(&path, max),
        None => Writer::new(&path),
    };
    writer.event();
    let mut tail = Tail::start(&path, &["--count", &s.events.to_string()]);
    // The reader has the first file once it prints its first event.
    assert_eq!(tail.event().seq, 1);
    let writing = std::thread::spawn(move || {
        for seq in 2..=s.events {
            if s.rotate_every.is_some_and(|n| (seq - 1) % n == 0) {
                writer.rotate_delete();
            }
            writer.event();
            if !s.pause.is_zero() {
                std::thread::sleep(s.pause);
            }
        }
        writer.rotations
    });
    let mut seqs = Vec::new();
    while seqs.len() < s.events as usize - 1
        && let Some(line) = tail.try_line()
    {
        seqs.push(seq_of(&line));
    }
    let rotations = writing.join().unwrap();
    let ended = tail.wait_end();
    if crate::WATCHER == Some("notify") && ended.code() == Some(3) {
        // The `notify` crate's one event thread may come to a short-lived
        // file too late on a busy machine (the backend's documented
        // limit): the loss must then be reported, and every event before
        // it handed out once, in order.
        assert!(ended.stderr_text().contains("out of sync"), "{ended:?}");
        assert_eq!(seqs, (2..).take(seqs.len()).collect::<Vec<_>>());
        return;
    }
    assert_eq!(seqs, (2..=s.events).collect::<Vec<_>>());
    assert_eq!(ended.code(), Some(0), "{}", ended.stderr_text());
    assert!(ended.stderr.is_empty(), "{:?}", ended.stderr);
    if s.rotate_every.is_some() || s.max_size.is_some() {
        assert!(rotations > 0, "the scenario never rotated");
    }
}

fn no_rotation(events: i64) {
    run(Scenario {
        events,
        rotate_every: None,
        max_size: None,
        pause: Duration::ZERO,
    });
}

#[test]
fn ten_events() {
    no_rotation(10);
}

#[test]
fn five_hundred_events() {
    no_rotation(500);
}

#[test]
fn five_thousand_events() {
    no_rotation(5000);
}

#[test]
fn rotation_every_50_of_100_events_1ms_apart() {
    run(Scenario {
        events: 100,
        rotate_every: Some(50),
        max_size: None,
        pause: Duration::from_millis(1),
    });
}

#[test]
fn rotation_every_50_of_500_events_1ms_apart() {
    run(Scenario {
        events: 500,
        rotate_every: Some(50),
        max_size: None,
        pause: Duration::from_millis(1),
    });
}

#[test]
fn rotation_every_500_of_5000_events_100us_apart() {
    run(Scenario {
        events: 5000,
        rotate_every: Some(500),
        max_size: None,
        pause: Duration::from_micros(100),
    });
}

#[test]
fn size_rotation_at_128k_for_5000_events() {
    run(Scenario {
        events: 5000,
        rotate_every: None,
        max_size: Some(128 * 1024),
        pause: Duration::from_micros(100),
    });
}

#[test]
fn size_rotation_at_128k_for_10000_events() {
    run(Scenario {
        events: 10000,
        rotate_every: None,
        max_size: Some(128 * 1024),
        pause: Duration::from_micros(100),
    });
}
