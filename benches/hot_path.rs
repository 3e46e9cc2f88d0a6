//! The per-line hot path: decode (fast path and full JSON), filter, write,
//! one record per call or taking what is ready.
//!
//! `cargo bench --bench hot_path`. Each benchmark runs over the same 10,000
//! generated lines, so the throughputs compare directly; the full-JSON
//! decode is the baseline the fast path is measured against.

use changelog_tail::{ChangelogIterator, Filter, MemorySource, Next};
use serde::Deserialize;
use serde_json::value::RawValue;

/// The baseline: the line read by serde_json into borrowed fields, as a
/// decoder without a fast path would.
#[derive(Deserialize)]
#[allow(dead_code)]
struct Line<'a> {
    seq: i64,
    #[serde(borrow)]
    family: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    table: std::borrow::Cow<'a, str>,
    #[serde(default, borrow)]
    key: Option<Vec<LineKey<'a>>>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct LineKey<'a> {
    #[serde(borrow)]
    name: std::borrow::Cow<'a, str>,
    #[serde(rename = "type", borrow)]
    type_name: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    value: &'a RawValue,
}
use criterion::measurement::WallTime;
use criterion::{
    BatchSize, BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main,
};
use std::hint::black_box;

fn lines() -> Vec<String> {
    (1..=10_000)
        .map(|seq: i64| {
            format!(
                r#"{{"seq":{seq},"family":"fam{}","table":"table{}","key":[{{"name":"account_id","type":"INT","value":{}}},{{"name":"region","type":"VARCHAR","value":"us-west-2"}}]}}"#,
                seq % 10,
                (seq / 10) % 10,
                seq * 7919 % 1_000_000_007
            )
        })
        .collect()
}

/// An iterator over `lines` (built outside the measured part).
fn events(lines: &[String], filter: &Filter) -> ChangelogIterator {
    let source = MemorySource::new(lines.iter().map(String::as_bytes).map(<[u8]>::to_vec));
    ChangelogIterator::builder_memory(source)
        .filter(filter.clone())
        .open()
        .unwrap()
}

/// Reads every line through the iterator (decode, sequence check, filter)
/// and hands each record to `sink`.
fn run(mut events: ChangelogIterator, mut sink: impl FnMut(&changelog_tail::Record<'_>)) {
    while let Next::Item(record) = events.next_record(None).unwrap() {
        sink(&record);
    }
}

/// Times reading every record from the iterators `make` builds (each
/// built outside the measured part).
fn iterate(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    make: impl Fn() -> ChangelogIterator,
) {
    group.bench_function(name, |b| {
        b.iter_batched(
            &make,
            |events| {
                run(events, |r| {
                    black_box(r);
                })
            },
            BatchSize::LargeInput,
        )
    });
}

fn hot_path(c: &mut Criterion) {
    let lines = lines();
    let bytes: usize = lines.iter().map(|l| l.len() + 1).sum();
    let mut group = c.benchmark_group("10k lines");
    group.throughput(Throughput::Bytes(bytes as u64));

    group.bench_function("decode: full JSON (baseline)", |b| {
        b.iter(|| {
            for line in &lines {
                black_box(serde_json::from_slice::<Line<'_>>(black_box(line.as_bytes())).unwrap());
            }
        })
    });
    group.bench_function("decode: fast path", |b| {
        b.iter(|| {
            for line in &lines {
                black_box(changelog_tail::decode(black_box(line.as_bytes())).unwrap());
            }
        })
    });
    let none = Filter::new()
        .family("fam3")
        .table("table7")
        .key("region", "nowhere");
    let batched = BatchSize::LargeInput;
    let table = Filter::new().family("fam3").table("table7");
    iterate(&mut group, "iterate: filter matching 1%", || {
        events(&lines, &table)
    });
    // The same, reading every line whole (`--strict`): what reading other
    // tables' lines only as far as their header saves.
    iterate(
        &mut group,
        "iterate: filter matching 1%, every line whole",
        || {
            let source = MemorySource::new(lines.iter().map(String::as_bytes).map(<[u8]>::to_vec));
            ChangelogIterator::builder_memory(source)
                .filter(table.clone())
                .check_every_line(true)
                .open()
                .unwrap()
        },
    );
    // From a real file: lines of other tables are checked straight from
    // the read buffer (the skim), without an item per line; against the
    // same file read with every line whole.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("change.log");
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&path, text).unwrap();
    for (name, whole) in [
        ("iterate a file: filter matching 1%", false),
        ("iterate a file: filter matching 1%, every line whole", true),
    ] {
        iterate(&mut group, name, || {
            ChangelogIterator::builder(&path)
                .follow(false)
                .filter(table.clone())
                .check_every_line(whole)
                .open()
                .unwrap()
        });
    }
    iterate(&mut group, "iterate: key filter matching none", || {
        events(&lines, &none)
    });
    group.bench_function("iterate + write NDJSON: all", |b| {
        let mut out = Vec::with_capacity(bytes * 2);
        b.iter_batched(
            || events(&lines, &Filter::new()),
            |events| {
                out.clear();
                run(events, |r| {
                    r.event().write_json(&mut out).unwrap();
                    out.push(b'\n');
                });
                black_box(&out);
            },
            batched,
        )
    });
    // The whole file as NDJSON, one record per call, and taking what is
    // ready from the read buffer between calls (as the command line does).
    for (name, ready) in [
        (
            "iterate a file + write NDJSON: all, one record a call",
            false,
        ),
        ("iterate a file + write NDJSON: all, what is ready", true),
    ] {
        group.bench_function(name, |b| {
            let mut out = Vec::with_capacity(bytes * 2);
            b.iter_batched(
                || {
                    ChangelogIterator::builder(&path)
                        .follow(false)
                        .open()
                        .unwrap()
                },
                |mut events| {
                    out.clear();
                    let mut write = |r: &changelog_tail::Record<'_>| {
                        r.event().write_json(&mut out).unwrap();
                        out.push(b'\n');
                    };
                    loop {
                        if ready {
                            events
                                .for_each_ready(|r| {
                                    write(r);
                                    std::ops::ControlFlow::<()>::Continue(())
                                })
                                .unwrap();
                        }
                        match events.next_record(None).unwrap() {
                            Next::Item(r) => write(&r),
                            _ => break,
                        }
                    }
                    black_box(&out);
                },
                batched,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, hot_path);
criterion_main!(benches);
