//! Review of issue 16: a follower that skips the confirming read after a
//! short read must still see every write that races its reads, in every
//! watch mode, read the CLI's way (push over what is ready, then a pull
//! with a deadline already past, then a real wait).

use changelog_tail::{ChangelogIterator, Error, Next, WatchMode};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::ops::ControlFlow;
use std::path::Path;
use std::time::{Duration, Instant};

fn line(seq: i64) -> Vec<u8> {
    let pad = "p".repeat((seq as usize * 7919) % 200);
    format!(r#"{{"seq":{seq},"family":"f","table":"t","key":[{{"name":"id","type":"TEXT","value":"{pad}"}}]}}"#)
        .into_bytes()
}

/// Writes `total` events, each line in one to three writes with tiny random
/// pauses, rotating (delete and create) every `rotate` bytes.
fn writer(path: &Path, total: i64, rotate: u64, seed: u64, kind: u8) {
    let mut x = seed | 1;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let open = |p: &Path| -> File {
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .unwrap()
    };
    let mut file = open(path);
    let mut size = 0u64;
    for seq in 1..=total {
        let mut bytes = line(seq);
        bytes.push(b'\n');
        if size + bytes.len() as u64 > rotate {
            match kind {
                0 => {
                    drop(file);
                    fs::remove_file(path).unwrap();
                    file = open(path);
                }
                1 => {
                    drop(file);
                    fs::rename(path, path.with_extension("1")).unwrap();
                    file = open(path);
                }
                _ => file.set_len(0).unwrap(),
            }
            size = 0;
        }
        let cut = (rnd() as usize) % bytes.len();
        for part in [&bytes[..cut], &bytes[cut..]] {
            if !part.is_empty() {
                file.write_all(part).unwrap();
            }
            match rnd() % 64 {
                0 => std::thread::sleep(Duration::from_micros(rnd() % 300)),
                1..=8 => std::thread::yield_now(),
                _ => {}
            }
        }
        size += bytes.len() as u64;
    }
}

fn follow_all(mode: WatchMode, total: i64, rotate: u64, seed: u64) {
    follow_kind(mode, total, rotate, seed, 0)
}

fn follow_kind(mode: WatchMode, total: i64, rotate: u64, seed: u64, kind: u8) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("change.log");
    fs::write(&path, b"").unwrap();
    let mut events = ChangelogIterator::builder(&path)
        .watch(mode)
        .open()
        .unwrap();
    let p = path.clone();
    let w = std::thread::spawn(move || writer(&p, total, rotate, seed, kind));
    let mut last = 0i64;
    let mut gaps = 0;
    let mut check = |seq: i64, gap: bool, last: &mut i64| {
        if gap {
            gaps += 1;
            assert!(seq > *last, "gap going back: {seq} after {last}");
        } else {
            assert_eq!(seq, *last + 1, "seq {seq} after {last} with no gap");
        }
        *last = seq;
    };
    let give_up = Instant::now() + Duration::from_secs(60);
    let mut caught_up = false;
    while last < total {
        assert!(Instant::now() < give_up, "stuck at {last} of {total}");
        if !caught_up {
            let mut seen = Vec::new();
            match events.for_each_ready(|r| {
                seen.push((r.event().seq, r.gap().is_some()));
                ControlFlow::<()>::Continue(())
            }) {
                Ok(_) => {}
                Err(Error::InvalidEntry(e)) if kind == 2 => eprintln!("invalid after {last}: {e}"),
                Err(Error::InvalidEntry(e)) => panic!("invalid after {last}: {e}"),
                Err(e) => panic!("{e}"),
            }
            for (seq, gap) in seen {
                check(seq, gap, &mut last);
            }
        }
        let deadline = if caught_up {
            Some(Instant::now() + Duration::from_secs(5))
        } else {
            Some(Instant::now() - Duration::from_millis(1))
        };
        match events.next_record(deadline) {
            Ok(Next::Item(r)) => {
                caught_up = false;
                let (seq, gap) = (r.event().seq, r.gap().is_some());
                check(seq, gap, &mut last);
                if events.is_drained() {
                    caught_up = true;
                }
            }
            Ok(Next::TimedOut) if caught_up => panic!("waited 5 s at {last} of {total}"),
            Ok(Next::TimedOut) => caught_up = true,
            Ok(Next::Notice(_)) => {}
            Err(Error::InvalidEntry(e)) if kind == 2 => eprintln!("invalid after {last}: {e}"),
            Err(Error::InvalidEntry(e)) => panic!("invalid after {last}: {e}"),
            other => panic!("{other:?}"),
        }
    }
    w.join().unwrap();
    // Nothing more, and nothing twice.
    match events.next_record(Some(Instant::now() + Duration::from_millis(300))) {
        Ok(Next::TimedOut) => {}
        other => panic!(
            "after the last: {:?}",
            other.map(|n| match n {
                Next::Item(r) => format!("item {}", r.event().seq),
                _ => "other".to_string(),
            })
        ),
    }
    eprintln!("{mode:?}: {total} events, {gaps} gaps");
}

#[test]
fn every_racing_write_is_seen_with_inotify() {
    for seed in 1..4 {
        follow_all(WatchMode::Notify, 20_000, 256 * 1024, seed);
    }
}

#[test]
fn every_racing_write_is_seen_with_notify_crate() {
    for seed in 1..3 {
        follow_all(WatchMode::Portable, 20_000, 256 * 1024, seed);
    }
}

#[test]
fn every_racing_write_is_seen_when_polling() {
    for seed in 1..3 {
        follow_all(
            WatchMode::Poll(Duration::from_millis(5)),
            10_000,
            256 * 1024,
            seed,
        );
    }
}

#[test]
fn every_racing_write_is_seen_across_renames() {
    for seed in 1..4 {
        follow_kind(WatchMode::Notify, 20_000, 256 * 1024, seed, 1);
    }
}

#[test]
fn racing_copy_truncates_lose_nothing_silently() {
    for seed in 1..4 {
        follow_kind(WatchMode::Notify, 20_000, 256 * 1024, seed, 2);
        follow_kind(
            WatchMode::Poll(Duration::from_millis(5)),
            10_000,
            256 * 1024,
            seed,
            2,
        );
    }
}
