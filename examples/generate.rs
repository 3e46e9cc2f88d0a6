//! Writes a realistic ctlstore changelog, for benchmarks and by hand.
//!
//! ```text
//! cargo run --release --example generate -- --events 2000000 --out /tmp/change.log
//! cargo run --release --example generate -- --events 1000000 --out /tmp/cl/change.log \
//!     --rotate-bytes 131072 --flush-each
//! ```
//!
//! Lines look like the reflector's (`json.Marshal` of a changelog entry):
//! 10 families × 10 tables, two primary-key columns (an INT and a VARCHAR).
//! `--rotate-bytes` rotates as ctlstore's SizedLogWriter does (close,
//! delete, create) before a line would pass the size; `--flush-each` writes
//! each line with its own write call, as the reflector does; `--start-seq`
//! sets the first seq; `--rate N` paces the writer to N lines/s (below
//! 100,000 lines/s line by line, each at least 1/N s after the one before,
//! as a ticker that drops missed ticks: a writer held up by a busy CPU goes
//! on at its rate, it does not write what it owes in a burst, so a rotated
//! file lives as long as its lines take). Prints lines/s to stderr, and
//! with `--rotate-bytes` the shortest time a rotated file lived.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn line(seq: i64, out: &mut Vec<u8>) {
    // A small LCG keeps the output deterministic without a dependency.
    let mix = (seq as u64)
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let family = (mix >> 33) % 10;
    let table = (mix >> 40) % 10;
    let account = (mix >> 20) % 1_000_000_000;
    let regions = ["us-west-2", "us-east-1", "eu-west-1", "ap-south-1"];
    let region = regions[((mix >> 50) % 4) as usize];
    write!(
        out,
        r#"{{"seq":{seq},"family":"fam{family}","table":"table{table}","key":[{{"name":"account_id","type":"INT","value":{account}}},{{"name":"region","type":"VARCHAR","value":"{region}"}}]}}"#
    )
    .unwrap();
    out.push(b'\n');
}

struct Args {
    events: i64,
    out: PathBuf,
    rotate_bytes: Option<u64>,
    flush_each: bool,
    start_seq: i64,
    rate: Option<f64>,
}

fn parse_args() -> Args {
    let mut args = Args {
        events: 1_000_000,
        out: PathBuf::from("change.log"),
        rotate_bytes: None,
        flush_each: false,
        start_seq: 1,
        rate: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--events" => args.events = value().parse().expect("--events N"),
            "--out" => args.out = value().into(),
            "--rotate-bytes" => {
                args.rotate_bytes = Some(value().parse().expect("--rotate-bytes N"))
            }
            "--start-seq" => args.start_seq = value().parse().expect("--start-seq N"),
            "--flush-each" => args.flush_each = true,
            "--rate" => args.rate = Some(value().parse().expect("--rate LINES_PER_SECOND")),
            other => panic!("unknown option {other}"),
        }
    }
    args
}

fn open(path: &PathBuf) -> File {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open")
}

fn main() {
    let args = parse_args();
    let mut file = open(&args.out);
    let mut size = file.metadata().unwrap().len();
    let mut batch = Vec::with_capacity(1 << 20);
    let mut one = Vec::with_capacity(256);
    let started = Instant::now();
    // Paced in steps of 64 lines at high rates (a burst is a few
    // microseconds), line by line at low ones (where a burst of 64 would
    // cross several small files at once).
    let step = match args.rate {
        Some(rate) if rate < 100_000.0 => 1,
        _ => 64,
    };
    // Line by line: when the next line is due (never before now).
    let mut next = started;
    // When the current file was created; the shortest life of a file.
    let (mut born, mut shortest) = (Instant::now(), None::<Duration>);
    for (n, seq) in (args.start_seq..args.start_seq + args.events).enumerate() {
        match args.rate {
            Some(rate) if step == 1 => {
                while Instant::now() < next {
                    std::thread::yield_now();
                }
                next = next.max(Instant::now()) + Duration::from_secs_f64(1.0 / rate);
            }
            Some(rate) if n % step == 0 => {
                // Keep to the schedule in small steps: ahead of it, wait.
                let due = Duration::from_secs_f64(n as f64 / rate);
                while started.elapsed() < due {
                    std::thread::yield_now();
                }
            }
            _ => {}
        }
        one.clear();
        line(seq, &mut one);
        let len = one.len() as u64;
        if let Some(max) = args.rotate_bytes
            && size > 0
            && size + len > max
        {
            file.write_all(&batch).unwrap();
            batch.clear();
            drop(file);
            fs::remove_file(&args.out).unwrap();
            let lived = born.elapsed();
            shortest = Some(shortest.map_or(lived, |s| s.min(lived)));
            file = open(&args.out);
            born = Instant::now();
            size = 0;
        }
        size += len;
        if args.flush_each {
            file.write_all(&one).unwrap();
        } else {
            batch.extend_from_slice(&one);
            if batch.len() >= 1 << 20 {
                file.write_all(&batch).unwrap();
                batch.clear();
            }
        }
    }
    file.write_all(&batch).unwrap();
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "generate: {} events in {secs:.2} s ({:.0} lines/s)",
        args.events,
        args.events as f64 / secs
    );
    if let Some(shortest) = shortest {
        eprintln!(
            "generate: the shortest-lived file lived {:.3} ms",
            shortest.as_secs_f64() * 1e3
        );
    }
}
