//! Conditions where other followers lose data (issue #5): slow consumers,
//! races, notification failures, process faults, hostile input.

use crate::harness::{self, PATIENCE, Tail, binary, no_follow, seq_of};
use crate::writer::{Writer, line};
use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::symlink;
use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};

fn setup() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("change.log");
    (dir, path)
}

#[test]
fn a_slow_consumer_still_gets_every_rotated_file() {
    let (_dir, path) = setup();
    let mut writer = Writer::sized(&path, 128 * 1024);
    writer.event();
    let (mut tail, stdout) = Tail::start_with_raw_stdout(&path, &[]);
    let mut out = BufReader::new(stdout);
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    assert_eq!(seq_of(&first), 1);
    // Nobody reads stdout now: the pipe fills and the follower blocks on
    // its write while the writer rotates 20 times, deleting every file. (The
    // pause paces the writer, as a real one is, so that each file lives long
    // enough to be noticed; files faster than that are the next test's.)
    while writer.rotations < 20 {
        let rotations = writer.rotations;
        writer.event();
        if writer.rotations > rotations {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    writer.event();
    let last = writer.next_seq - 1;
    let mut seqs = Vec::new();
    let mut line = String::new();
    while seqs.len() < (last - 1) as usize {
        line.clear();
        if out.read_line(&mut line).unwrap() == 0 {
            panic!(
                "output ended after {} events: {:?}",
                seqs.len(),
                tail.wait_end()
            );
        }
        seqs.push(seq_of(&line));
    }
    assert_eq!(seqs, (2..=last).collect::<Vec<_>>());
    assert!(
        tail.stderr_so_far().is_empty(),
        "{:?}",
        tail.stderr_so_far()
    );
}

#[test]
fn rotations_faster_than_notifications_never_lose_silently() {
    let (_dir, path) = setup();
    let mut writer = Writer::new(&path);
    writer.event();
    let total = 400;
    let mut tail = Tail::start(&path, &["--count", &total.to_string()]);
    assert_eq!(tail.seqs(1), [1]);
    let writing = std::thread::spawn(move || {
        while writer.next_seq <= total {
            writer.rotate_delete();
            writer.event();
        }
    });
    // Every event arrives, in order; or the loss is reported (exit 3)
    // naming exactly the first seq that did not arrive.
    let mut expected = 2;
    let ended = loop {
        if expected > total {
            break tail.wait_end();
        }
        let Some(line) = tail.try_line() else {
            break tail.wait_end();
        };
        assert_eq!(seq_of(&line), expected, "out of order or repeated");
        expected += 1;
    };
    writing.join().unwrap();
    match ended.code() {
        Some(0) => assert_eq!(expected, total + 1),
        Some(3) => assert!(
            ended
                .stderr_text()
                .contains(&format!("expected seq {expected} but read seq")),
            "{}",
            ended.stderr_text()
        ),
        other => panic!("exit {other:?}: {}", ended.stderr_text()),
    }
}

#[test]
fn starting_while_the_writer_rotates_never_stalls() {
    // coreutils' inotify-race: changes between the first read and the
    // watch. Watches come first here, so whatever happens around the start
    // is seen: the follower keeps delivering, in order, any loss reported.
    for _ in 0..10 {
        let (_dir, path) = setup();
        let mut writer = Writer::sized(&path, 4096);
        writer.events(5);
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopping = std::sync::Arc::clone(&stop);
        let writing = std::thread::spawn(move || {
            while !stopping.load(std::sync::atomic::Ordering::Relaxed) {
                writer.event();
                std::thread::sleep(Duration::from_micros(200));
            }
        });
        let mut tail = Tail::start(&path, &["--on-out-of-sync", "warn"]);
        let mut previous = seq_of(&tail.line());
        for _ in 0..50 {
            let seq = seq_of(&tail.line());
            assert!(seq > previous, "{seq} after {previous}");
            if seq != previous + 1 {
                // A file the writer deleted before it could be opened (on a
                // loaded machine): allowed only when reported.
                tail.stderr_line(&format!("expected seq {} but read seq {seq}", previous + 1));
            }
            previous = seq;
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        writing.join().unwrap();
    }
}

#[test]
fn the_directory_deleted_and_created_again() {
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    fs::create_dir(&spool).unwrap();
    let path = spool.join("change.log");
    let mut writer = Writer::new(&path);
    writer.events(2);
    let mut tail = Tail::start(&path, &[]);
    assert_eq!(tail.seqs(2), [1, 2]);
    and_wait_until_asleep_again(tail.pid(), || fs::remove_dir_all(&spool).unwrap());
    fs::create_dir(&spool).unwrap();
    writer.reopen();
    writer.events(2);
    assert_eq!(tail.seqs(2), [3, 4]);
    writer.events(1);
    assert_eq!(tail.seqs(1), [5]);
}

#[test]
fn the_file_replaced_by_a_directory_then_by_a_file() {
    let (_dir, path) = setup();
    let mut writer = Writer::new(&path);
    writer.events(2);
    let mut tail = Tail::start(&path, &[]);
    assert_eq!(tail.seqs(2), [1, 2]);
    fs::remove_file(&path).unwrap();
    fs::create_dir(&path).unwrap();
    let warning = tail.stderr_line("is now a directory");
    assert!(
        warning.starts_with("changelog-tail: warning: "),
        "{warning}"
    );
    fs::remove_dir(&path).unwrap();
    writer.reopen();
    writer.events(2);
    assert_eq!(tail.seqs(2), [3, 4]);
}

#[test]
fn a_symlink_re_pointed_to_a_file_that_does_not_exist_yet() {
    let (dir, link) = setup();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    fs::create_dir(&a).unwrap();
    fs::create_dir(&b).unwrap();
    let mut first = Writer::new(&a.join("real.log"));
    first.events(2);
    symlink(a.join("real.log"), &link).unwrap();
    let mut tail = Tail::start(&link, &[]);
    assert_eq!(tail.seqs(2), [1, 2]);
    let tmp = dir.path().join("tmp-link");
    symlink(b.join("real.log"), &tmp).unwrap();
    and_wait_until_asleep_again(tail.pid(), || fs::rename(&tmp, &link).unwrap());
    let mut second = Writer::new(&b.join("real.log"));
    second.next_seq = 3;
    second.events(2);
    assert_eq!(tail.seqs(2), [3, 4]);
}

inotify_only! {
    #[test]
    fn an_inotify_queue_overflow_loses_nothing_and_is_said_once() {
        let (dir, path) = setup();
        let (mut writer, mut tail) = harness::waiting_follower(&path, &[], 1);
        // Stopped, the follower reads no events; far more than the kernel's
        // queue holds (fs.inotify.max_queued_events, 16384 by default) pile up.
        tail.signal(libc::SIGSTOP);
        let queue_limit: usize = fs::read_to_string("/proc/sys/fs/inotify/max_queued_events")
            .map(|s| s.trim().parse().unwrap())
            .unwrap_or(16384);
        for i in 0..queue_limit / 2 + 100 {
            let other = dir.path().join(format!("other-{i}"));
            fs::write(&other, b"x").unwrap();
            fs::remove_file(&other).unwrap();
        }
        writer.events(3);
        tail.signal(libc::SIGCONT);
        assert_eq!(tail.seqs(3), [2, 3, 4]);
        tail.stderr_line("inotify queue overflowed");
        writer.events(1);
        assert_eq!(tail.seqs(1), [5]);
        let overflows = tail
            .stderr_so_far()
            .iter()
            .filter(|l| l.contains("overflowed"))
            .count();
        assert_eq!(overflows, 1);
    }
}

#[test]
fn without_inotify_it_polls_and_says_so() {
    // inotify_init fails with EMFILE when the process is out of file
    // descriptors: find a descriptor limit at which that happens but the
    // rest of the program still works (the exact number depends on how
    // many descriptors start-up uses), and check that it then follows by
    // polling.
    let (_dir, path) = setup();
    let mut writer = Writer::new(&path);
    writer.event();
    let found = (5..40).find_map(|limit| {
        let mut command = binary();
        command.arg("-p").arg(&path).args(["--count", "2"]);
        unsafe {
            command.pre_exec(move || {
                let rlimit = libc::rlimit {
                    rlim_cur: limit,
                    rlim_max: limit,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &rlimit) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut tail = Tail::spawn(command);
        let warning = loop {
            match tail.try_stderr_line(Duration::from_secs(2)) {
                Some(line) if line.contains("polling every") => break Some(line),
                Some(line) if line.contains("changelog-tail:") => break None,
                Some(_) => continue,
                None => break None,
            }
        };
        warning.map(|warning| (tail, warning))
    });
    let (mut tail, warning) = found.expect("no descriptor limit led to polling");
    assert!(warning.contains("warning: cannot watch"), "{warning}");
    assert_eq!(tail.seqs(1), [1]);
    writer.event();
    assert_eq!(tail.seqs(1), [2]);
    assert_eq!(tail.wait_end().code(), Some(0));
}

#[test]
fn sigterm_mid_burst_ends_output_on_a_line_boundary() {
    let (_dir, path) = setup();
    let mut writer = Writer::new(&path);
    for seq in 1..=200_000 {
        writer.write_line(&line(seq));
    }
    let (mut tail, mut stdout) = Tail::start_with_raw_stdout(&path, &[]);
    let mut head = vec![0; 100_000];
    stdout.read_exact(&mut head).unwrap();
    tail.signal(libc::SIGTERM);
    let mut rest = Vec::new();
    stdout.read_to_end(&mut rest).unwrap();
    let ended = tail.wait_end();
    assert_eq!(ended.code(), Some(143), "{}", ended.stderr_text());
    head.extend_from_slice(&rest);
    let text = String::from_utf8(head).unwrap();
    assert!(text.ends_with('\n'), "output ends mid-line");
    let seqs: Vec<i64> = text.lines().map(seq_of).collect();
    assert!(
        seqs.len() < 200_000,
        "the signal came too late to test anything"
    );
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>());
}

/// A writer killed after three lines and half of the fourth, restarted
/// (`rotate`: into a new file) writing seqs 1 and 2 again; how the follower
/// ended, with all its messages.
fn writer_killed_mid_line_then_restarted(rotate: bool) -> harness::Ended {
    let (_dir, path) = setup();
    let mut writer = Writer::new(&path);
    writer.events(3);
    writer.raw(br#"{"seq":4,"family":"f"#);
    let mut tail = Tail::start(&path, &[]);
    assert_eq!(tail.seqs(3), [1, 2, 3]);
    let mut restarted = Writer::new(&path);
    if rotate {
        restarted.rotate_delete();
    }
    restarted.events(2);
    tail.wait_end()
}

#[test]
fn a_writer_killed_mid_line_then_restarted_in_the_same_file() {
    // Appending to the same file, its first line is glued to the fragment.
    let ended = writer_killed_mid_line_then_restarted(false);
    assert_eq!(ended.code(), Some(3));
    let text = ended.stderr_text();
    assert!(text.contains("invalid entry at"), "{text}");
    assert!(text.contains("line 4"), "{text}");
    assert!(text.contains("expected seq 4 but read seq 2"), "{text}");
}

#[test]
fn a_writer_killed_mid_line_then_restarted_in_a_new_file() {
    let ended = writer_killed_mid_line_then_restarted(true);
    assert_eq!(ended.code(), Some(3));
    let text = ended.stderr_text();
    assert!(text.contains("incomplete line"), "{text}");
    assert!(text.contains("expected seq 4 but read seq 1"), "{text}");
}

#[test]
fn hostile_lines_are_reported_and_skipped() {
    let (_dir, path) = setup();
    let hostile: Vec<Vec<u8>> = vec![
        (0..=255u8).cycle().skip(11).take(3000).filter(|&b| b != b'\n').collect(),
        b"\0\0\0{\"seq\":1}\0".to_vec(),
        b"{\"seq\":5,\"family\":\"\xff\xfe\",\"table\":\"t\"}".to_vec(),
        br#"{"seq":5,"family":"f","family":"g","table":"t"}"#.to_vec(),
        br#"{"seq":5,"family":"f","table":"t","key":[{"name":"n","type":"T","value":1,"value":2}]}"#.to_vec(),
        br#"{"seq":5,"family":"f","table":"t","key":[{"name":"n","type":"T","value":[[[1]]}]}"#.to_vec(),
    ];
    let mut content = Vec::new();
    for (i, bad) in hostile.iter().enumerate() {
        content.extend_from_slice(format!("{}\n", line(i as i64 + 1)).as_bytes());
        content.extend_from_slice(bad);
        content.push(b'\n');
    }
    // Valid, however deep: a key value may be any JSON value, and reading
    // it must not exhaust the stack.
    let depth = 100_000;
    let seq = hostile.len() as i64 + 1;
    let nested = format!(
        r#"{{"seq":{seq},"family":"f","table":"t","key":[{{"name":"n","type":"T","value":{}1{}}}]}}"#,
        "[".repeat(depth),
        "]".repeat(depth)
    );
    content.extend_from_slice(nested.as_bytes());
    content.push(b'\n');
    fs::write(&path, &content).unwrap();
    let out = no_follow(&path, &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let seqs: Vec<i64> = text.lines().map(seq_of).collect();
    assert_eq!(seqs, (1..=seq).collect::<Vec<_>>());
    assert!(text.lines().last().unwrap().contains(&"[".repeat(depth)));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), hostile.len(), "{stderr}");
    for warning in stderr.lines() {
        assert!(
            warning.starts_with("changelog-tail: warning: invalid entry at "),
            "{warning}"
        );
        assert!(warning.len() < 400, "a warning must stay short: {warning}");
        assert!(
            !warning.contains('\0') && !warning.contains('\u{1b}'),
            "{warning:?}"
        );
    }
}

#[test]
fn a_1_gib_line_without_newline_keeps_memory_bounded() {
    let (_dir, path) = setup();
    let mut writer = Writer::new(&path);
    writer.event();
    let mut tail = Tail::start(&path, &[]);
    assert_eq!(tail.seqs(1), [1]);
    // A sparse gigabyte of NUL bytes: costs no disk, reads at memory speed.
    let file = fs::OpenOptions::new().append(true).open(&path).unwrap();
    file.set_len(file.metadata().unwrap().len() + (1 << 30))
        .unwrap();
    drop(file);
    writer.raw(b"\n");
    writer.next_seq = 2;
    writer.event();
    assert_eq!(tail.seqs(1), [2]);
    tail.stderr_line("longer than 16777216 bytes");
    let status = fs::read_to_string(format!("/proc/{}/status", tail.pid())).unwrap();
    let peak_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").parse().ok())
        .unwrap();
    assert!(peak_kib < 64 * 1024, "peak resident set {peak_kib} KiB");
}

/// Does `action`, then waits (with a deadline) until the process has woken
/// and its main thread sleeps again.
fn and_wait_until_asleep_again(pid: u32, action: impl FnOnce()) {
    let before = harness::wakeups(pid);
    action();
    let deadline = Instant::now() + PATIENCE;
    while !(harness::wakeups(pid) > before && harness::main_thread_sleeps(pid)) {
        assert!(
            Instant::now() < deadline,
            "the follower never went back to sleep"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}
