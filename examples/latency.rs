//! Measures how long an appended line takes to come out of a follower's
//! stdout: the time from the writer's `write` call to the line being read
//! from the follower's pipe.
//!
//! ```text
//! cargo run --release --example latency -- [--events 1000] [--interval-ms 2] -- COMMAND...
//! ```
//!
//! `{}` in COMMAND is replaced by the changelog's path, e.g.
//! `-- target/release/changelog-tail -p {} --format ndjson` or
//! `-- tail -F -n +1 {}`. Prints one JSON object with p50, p90, p99 and max
//! in microseconds.

use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn line(seq: i64) -> String {
    format!(
        r#"{{"seq":{seq},"family":"fam1","table":"table2","key":[{{"name":"account_id","type":"INT","value":{seq}}}]}}"#
    ) + "\n"
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut events, mut interval) = (1000usize, Duration::from_millis(2));
    let mut command = Vec::new();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--events" => events = args.next().unwrap().parse().unwrap(),
            "--interval-ms" => {
                interval =
                    Duration::from_secs_f64(args.next().unwrap().parse::<f64>().unwrap() / 1e3)
            }
            "--" => command.extend(args.by_ref()),
            other => panic!("unknown option {other}"),
        }
    }
    assert!(!command.is_empty(), "give the follower's command after --");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("change.log");
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .unwrap();
    let command: Vec<String> = command
        .iter()
        .map(|a| a.replace("{}", path.to_str().unwrap()))
        .collect();
    let mut child = Command::new(&command[0])
        .args(&command[1..])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the follower");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut got = String::new();
    // Warm up: the follower is up once the first line comes through.
    file.write_all(line(1).as_bytes()).unwrap();
    out.read_line(&mut got).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let mut samples = Vec::with_capacity(events);
    for seq in 2..events as i64 + 2 {
        let text = line(seq);
        got.clear();
        let written = Instant::now();
        file.write_all(text.as_bytes()).unwrap();
        out.read_line(&mut got).unwrap();
        samples.push(written.elapsed());
        assert!(
            got.contains(&format!("\"seq\":{seq},")),
            "out of order: {got}"
        );
        std::thread::sleep(interval);
    }
    let _ = child.kill();
    let _ = child.wait();
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        r#"{{"events":{},"p50_us":{:.1},"p90_us":{:.1},"p99_us":{:.1},"max_us":{:.1}}}"#,
        samples.len(),
        us(at(0.50)),
        us(at(0.90)),
        us(at(0.99)),
        us(*samples.last().unwrap())
    );
}
