//! Review of issue 16: the push over what is ready (`for_each_ready`) and
//! the pull call (`next_record`) judge every line alike: the same records,
//! the same invalid entries (each once), the same checkpoints after each,
//! and the same status counts, however the two are mixed.

use changelog_tail::{ChangelogIterator, Error, Filter, Next, Start};
use proptest::prelude::*;
use std::ops::ControlFlow;
use std::time::Instant;

/// What a reader saw, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Record {
        seq: i64,
        gap: bool,
        matches: bool,
        line: Vec<u8>,
        offset: u64,
    },
    Invalid(String),
}

fn pieces() -> impl Strategy<Value = Vec<u8>> {
    let event =
        |table: &'static str| (0..3u8, 0..300usize).prop_map(move |(kind, pad)| (table, kind, pad));
    prop_oneof![
        6 => event("t").prop_map(|e| format!("E{}:{}:{}", e.0, e.1, e.2).into_bytes()),
        6 => event("u").prop_map(|e| format!("E{}:{}:{}", e.0, e.1, e.2).into_bytes()),
        1 => Just(b"G".to_vec()),   // a gap
        1 => Just(b"not json".to_vec()),
        1 => Just(Vec::new()),      // blank
        1 => Just(b"  ".to_vec()),
        // In the writer's shape as far as the header, keys garbage.
        1 => Just(b"K".to_vec()),
        // Long (over a small limit).
        1 => (200..6000usize).prop_map(|n| {
            let mut l = b"L".to_vec();
            l.extend(std::iter::repeat_n(b'x', n));
            l
        }),
        // Not UTF-8 in a name.
        1 => Just(b"U".to_vec()),
    ]
}

/// Expands the pieces into lines with seqs.
fn render(pieces: &[Vec<u8>], big: bool) -> Vec<u8> {
    let mut seq = 1i64;
    let mut out = Vec::new();
    for p in pieces {
        let line: Vec<u8> = match p.first() {
            Some(b'E') => {
                let s = String::from_utf8_lossy(p).into_owned();
                let parts: Vec<&str> = s[1..].split(':').collect();
                let table = parts[0];
                let kind: u8 = parts[1].parse().unwrap();
                let mut pad: usize = parts[2].parse().unwrap();
                if big {
                    pad *= 40;
                }
                let value = match kind {
                    0 => format!("{seq}"),
                    1 => format!("\"{}\"", "v".repeat(pad)),
                    _ => format!("\"caf\u{e9}{}\"", "w".repeat(pad)),
                };
                let line = format!(
                    r#"{{"seq":{seq},"family":"f","table":"{table}","key":[{{"name":"id","type":"INT","value":{value}}}]}}"#
                );
                seq += 1;
                line.into_bytes()
            }
            Some(b'G') => {
                seq += 3;
                let line = format!(r#"{{"seq":{seq},"family":"f","table":"u","key":[]}}"#);
                seq += 1;
                line.into_bytes()
            }
            Some(b'K') => {
                let line = format!(r#"{{"seq":{seq},"family":"f","table":"u","key":[garbage]}}"#);
                seq += 1;
                line.into_bytes()
            }
            Some(b'U') => {
                let mut line = format!(r#"{{"seq":{seq},"family":"f","table":"t"#).into_bytes();
                line.push(0xff);
                line.extend_from_slice(br#"","key":[]}"#);
                line
            }
            _ => p.clone(),
        };
        out.extend_from_slice(&line);
        out.push(b'\n');
    }
    out
}

fn open(path: &std::path::Path, max: usize, strict: bool) -> ChangelogIterator {
    ChangelogIterator::builder(path)
        .filter(Filter::new().table("t"))
        .follow(false)
        .max_line_bytes(max)
        .checkpoints(true)
        .check_every_line(strict)
        .start(Start::AfterSeq(0))
        .open()
        .unwrap()
}

fn seen_of(record: &changelog_tail::Record<'_>) -> Seen {
    Seen::Record {
        seq: record.event().seq,
        gap: record.gap().is_some(),
        matches: record.matches(),
        line: record.line().to_vec(),
        offset: record.location().offset,
    }
}

type Trace = Vec<(Seen, Option<Option<changelog_tail::Checkpoint>>)>;

fn pull(events: &mut ChangelogIterator) -> Trace {
    let mut trace = Vec::new();
    loop {
        let seen = match events.next_record(Some(Instant::now())) {
            Ok(Next::Item(record)) => seen_of(&record),
            Ok(Next::End) => return trace,
            Ok(Next::TimedOut | Next::Notice(_)) => continue,
            Err(Error::InvalidEntry(e)) => Seen::Invalid(e.to_string()),
            other => panic!("unexpected {other:?}"),
        };
        trace.push((seen, Some(events.checkpoint())));
    }
}

fn push(events: &mut ChangelogIterator) -> Trace {
    let mut trace = Vec::new();
    loop {
        let mut batch = Vec::new();
        match events.for_each_ready(|record| {
            batch.push(seen_of(record));
            ControlFlow::<()>::Continue(())
        }) {
            Ok(_) => {
                // The checkpoint after a batch stands past lines of other
                // tables too: not comparable with the pull's.
                trace.extend(batch.into_iter().map(|s| (s, None)));
            }
            Err(Error::InvalidEntry(e)) => {
                let n = batch.len();
                for (i, s) in batch.into_iter().enumerate() {
                    trace.push((s, None));
                    let _ = (i, n);
                }
                trace.push((Seen::Invalid(e.to_string()), Some(events.checkpoint())));
                continue;
            }
            Err(e) => panic!("unexpected {e:?}"),
        }
        let seen = match events.next_record(Some(Instant::now())) {
            Ok(Next::Item(record)) => seen_of(&record),
            Ok(Next::End) => return trace,
            Ok(Next::TimedOut | Next::Notice(_)) => continue,
            Err(Error::InvalidEntry(e)) => Seen::Invalid(e.to_string()),
            other => panic!("unexpected {other:?}"),
        };
        trace.push((seen, Some(events.checkpoint())));
    }
}

fn compare(pull: &Trace, push: &Trace) {
    let a: Vec<&Seen> = pull.iter().map(|(s, _)| s).collect();
    let b: Vec<&Seen> = push.iter().map(|(s, _)| s).collect();
    assert_eq!(a, b, "what was seen");
    for (i, ((_, ca), (_, cb))) in pull.iter().zip(push).enumerate() {
        if let (Some(ca), Some(cb)) = (ca, cb) {
            assert_eq!(ca, cb, "checkpoint after item {i}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 150, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn push_and_pull_agree(pieces in prop::collection::vec(pieces(), 0..60), big: bool, small_limit: bool, strict: bool, partial: bool) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("change.log");
        let mut bytes = render(&pieces, big);
        if partial {
            bytes.extend_from_slice(br#"{"seq":99999,"fam"#);
        }
        std::fs::write(&path, &bytes).unwrap();
        let max = if small_limit { 150 } else { 1 << 20 };
        let mut a = open(&path, max, strict);
        let mut b = open(&path, max, strict);
        let ta = pull(&mut a);
        let tb = push(&mut b);
        compare(&ta, &tb);
        let (sa, sb) = (a.status(), b.status());
        prop_assert_eq!((sa.lines, sa.invalid, sa.rotations, sa.last_seq, sa.offset), (sb.lines, sb.invalid, sb.rotations, sb.last_seq, sb.offset));
        prop_assert_eq!(a.checkpoint(), b.checkpoint());
    }
}
