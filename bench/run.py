#!/usr/bin/env python3
"""Whole-tool benchmark: every goal measured against cat, grep, jq, GNU
tail -F and the floor follower in the same run, in turns, printed as a table
of ratios on wall time and on CPU time (user + system, from wait4).

    python3 bench/run.py            # full run (2,000,000 events, ~20 minutes)
    python3 bench/run.py --quick    # smaller and shorter, for a smoke test
    python3 bench/run.py --compare OLD_BINARY   # also: the catch-ups and the
                                    # hardest rotation against OLD_BINARY's
    python3 bench/run.py --only snapshot        # one section alone (with
                                    # --quick: smaller)

Each catch-up is timed on every CPU and again pinned to one (taskset -c 0,
for both sides): a helper thread that wins on two CPUs and loses on one is
no speed-up. Needs: cargo, cc, grep, cat; jq and tail if present (their
rows are skipped otherwise). bench/harness/ holds the write-to-read latency
harness (latency.c) and the floor follower (floor.c): the least an inotify
follower can do. The LDBs for the --rows and --snapshot rows are made with
Python's sqlite3; the snapshot is timed against the sqlite3 command line
(Debian's sqlite3 package) if present (its comparison is skipped otherwise).
"""

import argparse
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "changelog-tail")
GENERATE = os.path.join(ROOT, "target", "release", "examples", "generate")
HARNESS = os.path.join(ROOT, "bench", "harness")
PATTERN = '"family":"fam3","table":"table7"'


def build(tmp):
    """The release binary and the generator; the C harness into `tmp`.
    Returns the paths of the latency harness and the floor follower."""
    subprocess.run(
        ["cargo", "build", "--release", "--quiet", "--bin", "changelog-tail",
         "--example", "generate"],
        cwd=ROOT, check=True)
    built = []
    for name in ("latency", "floor"):
        out = os.path.join(tmp, name)
        subprocess.run(["cc", "-O2", "-o", out, os.path.join(HARNESS, f"{name}.c")], check=True)
        built.append(out)
    return built


def peak_rss_after_catch_up(path):
    """Peak resident set (VmHWM, KiB) of a follower that has read all of
    `path` and is waiting for more. (Read from /proc while it runs: the
    rusage of a forked child would count the forking Python's pages.)"""
    size = os.path.getsize(path)
    follower = subprocess.Popen([BIN, "-p", path], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    try:
        while time.time() < deadline:
            if caught_up(follower.pid, path, size):
                with open(f"/proc/{follower.pid}/status") as status:
                    return next(int(l.split()[1]) for l in status if l.startswith("VmHWM:"))
            time.sleep(0.05)
        raise RuntimeError("the follower never caught up")
    finally:
        follower.kill()
        follower.wait()


def caught_up(pid, path, size):
    """Whether `pid` has `path` open, has read at least `size` bytes (its
    `rchar`: reads are positional, so the file's position says nothing)
    and its main thread sleeps."""
    real = os.path.realpath(path)
    try:
        if not any(os.readlink(f"/proc/{pid}/fd/{fd}") == real
                   for fd in os.listdir(f"/proc/{pid}/fd")):
            return False
        with open(f"/proc/{pid}/io") as io:
            read = int(next(l for l in io if l.startswith("rchar:")).split()[1])
        with open(f"/proc/{pid}/stat") as stat:
            sleeping = stat.read().rsplit(")", 1)[1].split()[0] == "S"
    except (OSError, StopIteration):
        return False
    return read >= size and sleeping


def wakeups_and_cpu(pid):
    """Voluntary context switches of all threads, and CPU ticks used."""
    switches = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/status") as status:
            for line in status:
                if line.startswith("voluntary_ctxt_switches:"):
                    switches += int(line.split()[1])
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return switches, int(fields[11]) + int(fields[12])


def busy_sibling(directory, log, seconds):
    """Wake-ups and CPU ticks of changelog-tail and of tail -F following
    `log` while another file in its directory is appended to for `seconds`
    (as ctlstore writes its database and WAL beside the changelog), both
    measured over the same appends. tail -F's figures are None without it."""
    with open(log) as f:
        lines = sum(1 for _ in f)
    ours = subprocess.Popen([BIN, "-p", log], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    for _ in range(lines):
        ours.stdout.readline()
    theirs = None
    if shutil.which("tail"):
        theirs = subprocess.Popen(["tail", "-F", "-n", "0", log], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
    followers = [p for p in (ours, theirs) if p]
    try:
        time.sleep(0.5)  # both settle into their waits
        before = [wakeups_and_cpu(p.pid) for p in followers]
        sibling = os.path.join(directory, "ldb.db-wal")
        with open(sibling, "ab", buffering=0) as wal:
            end = time.time() + seconds
            while time.time() < end:
                wal.write(b"\0" * 4096)
                time.sleep(0.001)
        after = [wakeups_and_cpu(p.pid) for p in followers]
        os.remove(sibling)
    finally:
        for p in followers:
            p.kill()
            p.wait()
    deltas = [(a[0] - b[0], a[1] - b[1]) for a, b in zip(after, before)]
    return deltas[0], (deltas[1] if theirs else None)
def timed(command, stdout, cpus=None):
    """Wall and CPU time (user + system of the process and its children,
    from wait4) of one run of `command`, its output going to `stdout` (a
    file: GNU grep stops at the first match when writing to /dev/null),
    on the CPUs `cpus` (all if None)."""
    with open(stdout, "wb") as out:
        start = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            try:
                os.dup2(out.fileno(), 1)
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, 2)
                if cpus is not None:
                    os.sched_setaffinity(0, cpus)
                os.execvp(command[0], command)
            finally:
                os._exit(127)
        _, status, usage = os.wait4(pid, 0)
        wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    assert code == 0, f"{command[0]} exited {code}"
    return wall, usage.ru_utime + usage.ru_stime


class Pair:
    """Commands `a` and `b` run in turns (each first half the time): a
    machine getting busier or quieter weighs on both alike. Medians of each
    side's wall and CPU time, and the median and spread of the pair ratios
    a/b of each."""

    def __init__(self, runs, a, b, out, cpus=None):
        times = {"a": [], "b": []}
        for i in range(runs):
            for name, command in (("a", a), ("b", b))[:: 1 if i % 2 else -1]:
                times[name].append(timed(command, out, cpus))
        self.wall_a, self.wall_b = (median(t[0] for t in times[k]) for k in "ab")
        self.cpu_a, self.cpu_b = (median(t[1] for t in times[k]) for k in "ab")
        self.wall = spread([x[0] / y[0] for x, y in zip(times["a"], times["b"])])
        self.cpu = spread([x[1] / y[1] for x, y in zip(times["a"], times["b"])])


def spread(ratios):
    """(median, min, max) of `ratios`."""
    ratios = sorted(ratios)
    return ratios[len(ratios) // 2], ratios[0], ratios[-1]


def shown(ratio):
    """A ratio with its spread: 0.91x (0.88-0.95)."""
    return f"{ratio[0]:.2f}x ({ratio[1]:.2f}-{ratio[2]:.2f})"


def median(values):
    values = sorted(values)
    return values[len(values) // 2]


def thread_ticks(pid):
    """CPU ticks of each of `pid`'s threads, by name."""
    ticks = {}
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/comm") as comm:
                name = comm.read().strip()
            with open(f"/proc/{pid}/task/{task}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks[name] = ticks.get(name, 0) + int(fields[11]) + int(fields[12])
    return ticks


def helper_threads_cpu(log_dir, rate, seconds, cpus=None):
    """CPU ticks of changelog-tail's threads (main, signals, opener)
    following a writer at `rate` events/s that rotates every 4 KiB (about
    `rate / 25` files a second), for `seconds`, on the CPUs `cpus`: what the
    helper threads cost beside the reading loop."""
    directory = tempfile.mkdtemp(dir=log_dir)
    path = os.path.join(directory, "change.log")
    pin = (lambda: os.sched_setaffinity(0, cpus)) if cpus else None
    # (A file lost to so fast a writer is warned of, not the end of the run.)
    follower = subprocess.Popen([BIN, "-p", path, "--wait", "--on-out-of-sync", "warn"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                preexec_fn=pin)
    try:
        time.sleep(0.3)
        before = thread_ticks(follower.pid)
        subprocess.run([GENERATE, "--events", str(rate * seconds), "--out", path,
                        "--rotate-bytes", "4096", "--flush-each", "--rate", str(rate)],
                       check=True, stderr=subprocess.DEVNULL)
        time.sleep(0.2)
        after = thread_ticks(follower.pid)
    finally:
        follower.kill()
        follower.wait()
        shutil.rmtree(directory)
    return {name: after[name] - before.get(name, 0) for name in after}


def following_cpu(bin_floor, log_dir, rate, seconds, cpus=None):
    """CPU ticks of changelog-tail, tail -F -n +1 and the floor follower,
    each following a file that a writer appends `rate` events/s to for
    `seconds`, one after another (the same writer each time), each follower
    on the CPUs `cpus` (all if None). tail -F's figure is None without
    it."""
    followers = [("ours", lambda p: [BIN, "-p", p]),
                 ("tail", lambda p: ["tail", "-F", "-n", "+1", p]),
                 ("floor", lambda p: [bin_floor, p])]
    ticks = {}
    for name, command in followers:
        if name == "tail" and not shutil.which("tail"):
            ticks[name] = None
            continue
        directory = tempfile.mkdtemp(dir=log_dir)
        path = os.path.join(directory, "change.log")
        open(path, "w").close()
        pin = (lambda: os.sched_setaffinity(0, cpus)) if cpus else None
        follower = subprocess.Popen(command(path), stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, preexec_fn=pin)
        try:
            time.sleep(0.3)  # settled into its wait
            before = wakeups_and_cpu(follower.pid)[1]
            subprocess.run([GENERATE, "--events", str(rate * seconds), "--out", path,
                            "--flush-each", "--rate", str(rate)], check=True,
                           stderr=subprocess.DEVNULL)
            time.sleep(0.2)  # the last lines read
            ticks[name] = wakeups_and_cpu(follower.pid)[1] - before
        finally:
            follower.kill()
            follower.wait()
            shutil.rmtree(directory)
    return ticks


# The LDB tables of the generated changelog: its two key columns and eight
# more, about what a ctlstore table holds.
LDB_COLUMNS = ("account_id INTEGER, region VARCHAR(191), name VARCHAR(191), "
               "email VARCHAR(191), balance REAL, status VARCHAR(32), created_at INTEGER, "
               "updated_at INTEGER, flags INTEGER, note TEXT, PRIMARY KEY (account_id, region)")


def make_ldb(log, path):
    """An LDB (WAL mode, as ctlstore's) with a row for every event of
    `log`, so that every lookup finds its row (the costly case)."""
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    for family in range(10):
        for table in range(10):
            db.execute(f"CREATE TABLE fam{family}___table{table} ({LDB_COLUMNS})")
    with open(log) as lines:
        for line in lines:
            event = json.loads(line)
            keys = {k["name"]: k["value"] for k in event["key"]}
            account = keys["account_id"]
            db.execute(
                f"INSERT OR IGNORE INTO {event['family']}___{event['table']} "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (account, keys["region"], f"Account {account}", f"a{account}@example.com",
                 account / 100, "active", 1700000000, 1700000000 + account % 86400, 3, None))
    db.commit()
    db.close()


# The table a snapshot is timed on (--snapshot): one ctlstore table.
SNAPSHOT_TABLE = "bench___accounts"


def make_snapshot_ldb(path, rows):
    """An LDB (WAL mode, as ctlstore's) holding one table of `rows` rows
    with the ten columns of LDB_COLUMNS, written in one transaction.
    Returns a connection kept open, as ctlstore's writer keeps one (so the
    -wal and -shm files exist and the snapshot can take its instant's
    lock, as on a host)."""
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"CREATE TABLE {SNAPSHOT_TABLE} ({LDB_COLUMNS})")
    regions = ("us-east-1", "eu-west-1", "ap-south-1")
    with db:
        db.executemany(
            f"INSERT INTO {SNAPSHOT_TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ((i // 3, regions[i % 3], f"Account {i}", f"a{i}@example.com", i / 100,
              "active", 1700000000, 1700000000 + i % 86400, i % 8,
              None if i % 2 else f"note {i}") for i in range(rows)))
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.execute(f"SELECT count(*) FROM {SNAPSHOT_TABLE}").fetchone()
    return db


def peak_rss_of_snapshot(ldb, log, out):
    """Peak resident set (VmHWM, KiB) of a follower that has printed a
    whole snapshot of `ldb` (to the file `out`) and waits for changes.
    (Read from /proc while it runs, as in peak_rss_after_catch_up.)"""
    with open(out, "wb") as sink:
        follower = subprocess.Popen([BIN, "--snapshot", "-p", log, "--ldb", ldb],
                                    stdout=sink, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    try:
        while time.time() < deadline:
            if snapshot_ended(out) and sleeping(follower.pid):
                with open(f"/proc/{follower.pid}/status") as status:
                    return next(int(l.split()[1]) for l in status if l.startswith("VmHWM:"))
            time.sleep(0.05)
        raise RuntimeError("the snapshot never ended")
    finally:
        follower.kill()
        follower.wait()


def snapshot_ended(out):
    """Whether the file `out` ends with a snapshot's end line."""
    with open(out, "rb") as f:
        f.seek(max(os.path.getsize(out) - 64, 0))
        return b'{"snapshot":"end"' in f.read()


def sleeping(pid):
    """Whether `pid`'s main thread sleeps."""
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] == "S"


def snapshot_section(tmp, rows_count, runs, row):
    """7. --snapshot: every row of a `rows_count`-row, ten-column table
    (to a file, from an empty changelog, with --no-follow), in turns with
    `sqlite3 -json ldb.db 'SELECT * FROM table'` on every CPU and on one;
    and the snapshot's peak memory."""
    ldb = os.path.join(tmp, "snapshot.db")
    log = os.path.join(tmp, "snapshot.log")
    out = os.path.join(tmp, "snapshot.out")
    open(log, "w").close()
    started = time.time()
    writer = make_snapshot_ldb(ldb, rows_count)
    print(f"  snapshot LDB: {rows_count:,} rows in {time.time() - started:.1f} s, "
          f"{os.path.getsize(ldb) / 1e6:.0f} MB", file=sys.stderr)
    try:
        ours = [BIN, "--snapshot", "--no-follow", "-p", log, "--ldb", ldb]
        probe = subprocess.run(ours + ["--table", "accounts"], capture_output=True,
                               check=True)
        assert probe.stderr == b"", probe.stderr  # the lock was had: no fallback
        assert probe.stdout.endswith(f'{{"snapshot":"end","rows":{rows_count}}}\n'.encode()), \
            probe.stdout[-200:]
        sqlite3_cli = shutil.which("sqlite3")
        if sqlite3_cli:
            theirs = [sqlite3_cli, "-json", ldb, f"SELECT * FROM {SNAPSHOT_TABLE}"]
            timed(theirs, out)
            theirs_mb = os.path.getsize(out) / 1e6
            timed(ours, out)
            ours_mb = os.path.getsize(out) / 1e6
            for cpus, where in ((None, "all CPUs"), ({0}, "one CPU")):
                p = Pair(runs, ours, theirs, out, cpus)
                row("7 snapshot", f"--snapshot --no-follow, {rows_count:,} rows x 10 columns "
                    f"({ours_mb:.0f} MB NDJSON), {where}, wall",
                    f"{p.wall_a:.3f} s", f"sqlite3 -json {p.wall_b:.3f} s ({theirs_mb:.0f} MB)",
                    shown(p.wall), "<= 1.0x sqlite3", p.wall[0] <= 1.0)
                row("7 snapshot", f"--snapshot --no-follow, {where}, CPU (user + sys)",
                    f"{p.cpu_a:.3f} s", f"sqlite3 -json {p.cpu_b:.3f} s", shown(p.cpu),
                    "(reference)", True)
        else:
            row("7 snapshot", f"--snapshot --no-follow, {rows_count:,} rows x 10 columns",
                "-", "sqlite3 not installed (apt-get install sqlite3): skipped", "-",
                "<= 1.0x sqlite3", True)
        rss = peak_rss_of_snapshot(ldb, log, out)
        row("7 snapshot", f"peak RSS after a snapshot of {rows_count:,} rows",
            f"{rss / 1024:.1f} MiB", "-", "-", "< 16 MiB", rss < 16 * 1024)
    finally:
        writer.close()
        for path in (ldb, out):
            if os.path.exists(path):
                os.remove(path)


def latency(bin_latency, command, events):
    """p50 and p99 write-to-read latency (us) of `command` ({} is the
    path) over `events` events 2 ms apart, by the shared harness."""
    out = subprocess.run([bin_latency, str(events), "2000", *command],
                         capture_output=True, text=True, check=True, timeout=600)
    fields = out.stdout.split()
    return {"p50_us": float(fields[1]), "p99_us": float(fields[3])}


def rotation_runs(tmp, size, runs, events, rate=400_000, binary=None):
    """Runs where a writer at `rate` lines/s (None: at full speed) rotating every `size` bytes
    delivered every event once, in order (--after-seq 0: the first must be 1;
    the seq check sees any gap; --count: all of them), to `binary` (BIN if
    None); and the shortest time a rotated file lived, in ms, as the writer
    saw it."""
    ok, shortest = 0, None
    for _ in range(runs):
        directory = tempfile.mkdtemp(dir=tmp)
        path = os.path.join(directory, "change.log")
        reader = subprocess.Popen(
            [binary or BIN, "-p", path, "--wait", "--after-seq", "0", "--count", str(events)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # The reader waits for the file before the writer starts.
        deadline = time.time() + 10
        while time.time() < deadline and not any(
                t for t in os.listdir(f"/proc/{reader.pid}/task")
                if open(f"/proc/{reader.pid}/task/{t}/comm").read().strip() == "signals"):
            time.sleep(0.01)
        pace = ["--rate", str(rate)] if rate else []
        written = subprocess.run([GENERATE, "--events", str(events), "--out", path,
                                  "--rotate-bytes", str(size), "--flush-each", *pace],
                                 check=True, stderr=subprocess.PIPE, text=True)
        lived = re.search(r"file lived ([0-9.]+) ms", written.stderr)
        if lived:
            shortest = min(float(lived.group(1)), shortest or float("inf"))
        try:
            code = reader.wait(timeout=60)
        except subprocess.TimeoutExpired:
            reader.kill()
            code = None
        error = reader.stderr.read().decode(errors="replace").strip()
        if code == 0:
            ok += 1
        elif error:
            who = f" ({os.path.basename(binary)})" if binary else ""
            print(f"  rotation {size}{who}: exit {code}: {error[:160]}", file=sys.stderr)
        shutil.rmtree(directory)
    return ok, shortest


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, short idle window")
    parser.add_argument("--compare", metavar="BINARY",
                        help="another changelog-tail (e.g. built from main) to time the "
                             "catch-ups and the hardest rotation against, in the same run")
    parser.add_argument("--only", choices=["snapshot"],
                        help="run this section alone (7: --snapshot against sqlite3 -json)")
    args = parser.parse_args()
    events = 200_000 if args.quick else 2_000_000
    idle_seconds = 5 if args.quick else 60
    sibling_seconds = 3 if args.quick else 10
    rotation_events = 100_000 if args.quick else 1_000_000
    rotation_runs_each = 2 if args.quick else 20
    latency_events = 200 if args.quick else 1000
    latency_rounds = 2 if args.quick else 10
    standin_runs = 2 if args.quick else 10
    rows_events = 20_000 if args.quick else 200_000
    follow_seconds = 2 if args.quick else 5
    snapshot_rows = 200_000 if args.quick else 1_000_000
    runs = 5 if args.quick else 15

    rows = []

    def row(goal, measure, ours, baseline, ratio, target, met):
        rows.append((goal, measure, ours, baseline, ratio, target, "yes" if met else "NO"))

    with tempfile.TemporaryDirectory() as tmp:
        bin_latency, bin_floor = build(tmp)
        if args.only == "snapshot":
            snapshot_section(tmp, snapshot_rows, runs, row)
            return report(rows)
        log = os.path.join(tmp, "change.log")
        subprocess.run([GENERATE, "--events", str(events), "--out", log],
                       check=True, stderr=subprocess.DEVNULL)
        size = os.path.getsize(log)
        out = os.path.join(tmp, "out")
        timed(["cat", log], out)  # into the page cache
        # Written back before timing: the kernel's writeback of 329 MB just
        # written would otherwise take a CPU from whichever run it meets.
        os.sync()

        # 1. Catch-up: in turns with the baseline, output to a file, on
        # every CPU and on one.
        filtered = [BIN, "--no-follow", "-p", log, "--family", "fam3", "--table", "table7"]
        for cpus, where in ((None, "all CPUs"), ({0}, "one CPU")):
            p = Pair(runs, filtered, ["grep", "-c", "-F", PATTERN, log], out, cpus)
            row("1 catch-up", f"filtered, {events:,} events ({size / 1e6:.0f} MB), {where}, wall",
                f"{p.wall_a:.3f} s", f"grep -c -F {p.wall_b:.3f} s", shown(p.wall),
                "<= 1.0x grep", p.wall[0] <= 1.0)
            row("1 catch-up", f"filtered, {where}, CPU (user + sys)",
                f"{p.cpu_a:.3f} s", f"grep -c -F {p.cpu_b:.3f} s", shown(p.cpu),
                "<= 1.0x grep", p.cpu[0] <= 1.0)
        if shutil.which("jq"):
            ours = timed(filtered, out)[0]
            jq = timed(["jq", "-c", 'select(.family=="fam3" and .table=="table7")', log], out)[0]
            row("", "filtered, vs jq", f"{ours:.3f} s", f"jq {jq:.2f} s",
                f"{jq / ours:.0f}x faster", "(reference)", True)
        for cpus, where in ((None, "all CPUs"), ({0}, "one CPU")):
            p = Pair(runs, [BIN, "--no-follow", "-p", log], ["cat", log], out, cpus)
            rate = size / p.wall_a / 1e6
            row("1 catch-up", f"all events as NDJSON, {where}, wall",
                f"{p.wall_a:.3f} s ({rate:.0f} MB/s)", f"cat {p.wall_b:.3f} s",
                shown(p.wall) + " cat", "<= 2.0x cat", p.wall[0] <= 2.0)
            row("1 catch-up", f"all events as NDJSON, {where}, CPU (user + sys)",
                f"{p.cpu_a:.3f} s", f"cat {p.cpu_b:.3f} s", shown(p.cpu) + " cat",
                "(reference)", True)
        # The state file: written at the start, at most ten times a second
        # during a catch-up, and at the end (two fsyncs each).
        # Each run starts without a state (else it would resume at the end
        # and read nothing); both sides go through the same shell.
        state = os.path.join(tmp, "state")
        quoted = " ".join(f"'{a}'" for a in filtered)
        p = Pair(runs,
                 ["sh", "-c", f"rm -f {state} {state}.lock; exec {quoted} --state-file {state}"],
                 ["sh", "-c", f"rm -f {state} {state}.lock; exec {quoted}"], out)
        row("1 catch-up", "filtered, with --state-file, wall", f"{p.wall_a:.3f} s",
            f"without {p.wall_b:.3f} s", shown(p.wall), "<= 1.05x", p.wall[0] <= 1.05)
        if args.compare:
            # The same catch-ups by the other binary, in turns with ours.
            for what, extra in (("all events as NDJSON", []),
                                ("filtered", ["--family", "fam3", "--table", "table7"])):
                p = Pair(runs, [BIN, "--no-follow", "-p", log, *extra],
                         [args.compare, "--no-follow", "-p", log, *extra], out)
                row("1 catch-up", f"{what}, vs --compare binary, wall / CPU",
                    f"{p.wall_a:.3f} / {p.cpu_a:.3f} s", f"{p.wall_b:.3f} / {p.cpu_b:.3f} s",
                    f"{shown(p.wall)} / {shown(p.cpu)}", "<= 1.05x (noise)",
                    p.wall[0] <= 1.05 and p.cpu[0] <= 1.05)

        # 2. Latency: rounds in turns with tail -F; medians of the rounds
        # (the floor follower for reference); each follower on every CPU,
        # then pinned to one (taskset -c 0).
        if shutil.which("tail"):
            for pin, where in (([], "all CPUs"), (["taskset", "-c", "0"], "one CPU")):
                if pin and not shutil.which("taskset"):
                    continue
                rounds = {"ours": [], "tail": [], "floor": []}
                for i in range(latency_rounds):
                    trio = (("ours", [*pin, BIN, "-p", "{}", "--format", "ndjson"]),
                            ("tail", [*pin, "tail", "-F", "-n", "+1", "{}"]),
                            ("floor", [*pin, bin_floor, "{}"]))
                    for name, command in trio[:: 1 if i % 2 else -1]:
                        rounds[name].append(latency(bin_latency, command, latency_events))
                for q in ("p50", "p99"):
                    mine = median(r[f"{q}_us"] for r in rounds["ours"])
                    theirs = median(r[f"{q}_us"] for r in rounds["tail"])
                    floor = median(r[f"{q}_us"] for r in rounds["floor"])
                    spread_ = sorted(r[f"{q}_us"] for r in rounds["ours"])
                    row("2 latency", f"{q}, {where}, {latency_rounds} rounds of "
                        f"{latency_events} events 2 ms apart, ndjson into a pipe",
                        f"{mine:.0f} us ({spread_[0]:.0f}-{spread_[-1]:.0f})",
                        f"tail -F {theirs:.0f} us; floor {floor:.0f} us",
                        f"{mine / theirs:.2f}x tail -F", "<= 1.0x tail -F", mine <= theirs)

        # 2b. CPU while following a steady writer, on every CPU and on one.
        rate = 20_000
        for cpus, where in ((None, "all CPUs"), ({0}, "one CPU")):
            ticks = following_cpu(bin_floor, tmp, rate, follow_seconds, cpus)
            if ticks["tail"]:
                row("2 following", f"CPU following {rate:,} events/s for {follow_seconds} s, "
                    f"{where}", f"{ticks['ours']} ticks",
                    f"tail -F {ticks['tail']} ticks; floor {ticks['floor']} ticks",
                    f"{ticks['ours'] / ticks['tail']:.2f}x tail -F", "<= 1.0x tail -F",
                    ticks["ours"] <= ticks["tail"])

        # 2c. What each helper thread costs beside the reading loop.
        for cpus, where in ((None, "all CPUs"), ({0}, "one CPU")):
            ticks = helper_threads_cpu(tmp, rate, follow_seconds, cpus)
            opener = ticks.get("changelog-opene", 0)  # comm keeps 15 characters
            total = sum(ticks.values())
            row("2 threads", f"CPU of each thread, {rate:,} events/s rotated every 4 KiB "
                f"for {follow_seconds} s, {where}",
                f"opener {opener}, signals {ticks.get('signals', 0)} of {total} ticks",
                "-", f"{opener / max(total, 1):.0%} opener", "(reference)", True)

        # 3. Idle.
        small = os.path.join(tmp, "small.log")
        subprocess.run([GENERATE, "--events", "1000", "--out", small], check=True,
                       stderr=subprocess.DEVNULL)
        follower = subprocess.Popen([BIN, "-p", small], stdout=subprocess.PIPE,
                                    stderr=subprocess.DEVNULL)
        for _ in range(1000):
            follower.stdout.readline()
        time.sleep(0.5)
        before = wakeups_and_cpu(follower.pid)
        time.sleep(idle_seconds)
        after = wakeups_and_cpu(follower.pid)
        follower.kill()
        follower.wait()
        woke, ticks = after[0] - before[0], after[1] - before[1]
        row("3 idle", f"{idle_seconds} s with no writes", f"{woke} wake-ups, {ticks} ticks CPU",
            "-", "-", "0 and 0", woke == 0 and ticks == 0)

        # 3b. Idle while the directory is busy with other files.
        (woke, ticks), tail_f = busy_sibling(tmp, small, sibling_seconds)
        row("3 idle", f"{sibling_seconds} s of 4 KiB appends every ms to a sibling file",
            f"{woke} wake-ups, {ticks} ticks CPU",
            f"tail -F {tail_f[0]} wake-ups, {tail_f[1]} ticks" if tail_f else "-",
            "-", "<= 5 and 0", woke <= 5 and ticks == 0)

        # 4. Memory.
        big_rss = peak_rss_after_catch_up(log)
        small_rss = peak_rss_after_catch_up(small)
        row("4 memory", f"peak RSS after {events:,} events", f"{big_rss / 1024:.1f} MiB",
            f"after 1,000: {small_rss / 1024:.1f} MiB", f"{big_rss / small_rss:.2f}x",
            "<= 4 MiB, flat", big_rss <= 4096 and big_rss <= small_rss * 1.1)

        # 5. Rotation under load: at 400k lines/s and as fast as the writer
        # can go.
        for rate, speed in ((400_000, "400k lines/s"), (None, "full speed")):
            for rotate in (128 * 1024, 1024 * 1024):
                ok, _ = rotation_runs(tmp, rotate, rotation_runs_each, rotation_events, rate)
                row("5 rotation", f"{speed}, rotate every {rotate // 1024} KiB, "
                    f"{rotation_events:,} events", f"{ok}/{rotation_runs_each} runs complete",
                    "-", "-", "all runs", ok == rotation_runs_each)
        if args.compare:
            # The hardest rotation by both binaries, one run each in turns:
            # the figure moves with the machine's other load, so only runs
            # made in the same minutes compare.
            ours = theirs = 0
            for i in range(rotation_runs_each):
                for mine in ((True, False) if i % 2 else (False, True)):
                    ok, _ = rotation_runs(tmp, 128 * 1024, 1, rotation_events, None,
                                          None if mine else args.compare)
                    ours, theirs = (ours + ok, theirs) if mine else (ours, theirs + ok)
            # A reference, not a pass or fail: about one run in five fails
            # at this rate on a 2-CPU host, so two equal binaries differ by
            # a few runs in 20.
            row("5 rotation", "full speed, rotate every 128 KiB, vs --compare binary, in turns",
                f"{ours}/{rotation_runs_each} runs complete",
                f"--compare {theirs}/{rotation_runs_each}", "-", "(reference)", True)

        # 5b. ctlstore's writer (a stand-in with its rotation: delete and
        # create before a line would pass 4 KiB), 20,000 events/s, so a file
        # lives ~1.25 ms (the writer goes on at its rate after a delay, it
        # does not burst: the shortest life is printed), with one CPU-bound
        # process beside it (a real host is busy).
        hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        try:
            ok, shortest = rotation_runs(tmp, 4096, standin_runs, 40_000, rate=20_000)
        finally:
            hog.kill()
            hog.wait()
        row("5 rotation", "ctlstore-like writer, 4 KiB rotation, 20,000 events/s, "
            "40,000 events, a CPU hog beside", f"{ok}/{standin_runs} runs complete",
            f"shortest file lived {shortest or 0:.2f} ms", "-", "all runs", ok == standin_runs)

        # 6. --rows: what a printed event's row costs. The same events
        # printed with and without --rows, in turns; the difference per
        # event is the lookup and the longer line.
        rows_log = os.path.join(tmp, "rows.log")
        subprocess.run([GENERATE, "--events", str(rows_events), "--out", rows_log],
                       check=True, stderr=subprocess.DEVNULL)
        ldb = os.path.join(tmp, "ldb.db")
        make_ldb(rows_log, ldb)
        p = Pair(runs, [BIN, "--no-follow", "-p", rows_log, "--rows", "--ldb", ldb],
                 [BIN, "--no-follow", "-p", rows_log], out)
        with_rows, without = p.cpu_a, p.cpu_b
        probe = subprocess.run([BIN, "--no-follow", "-p", rows_log, "--rows", "--ldb", ldb,
                                "--count", "1"], capture_output=True, text=True, check=True)
        assert json.loads(probe.stdout)["row"] is not None, probe.stdout
        per_event = (with_rows - without) / rows_events * 1e6
        row("6 rows", f"--rows, {rows_events:,} events, each row found (10 columns), CPU",
            f"{per_event:.1f} us/event", f"without --rows {without / rows_events * 1e6:.2f} us/event",
            f"{with_rows / without:.1f}x time", "<= 20 us", per_event <= 20)

        # 7. --snapshot.
        snapshot_section(tmp, snapshot_rows, runs, row)

    return report(rows)


def report(rows):
    """Prints the table of `rows`; 0 if every target was met, else 1."""
    with open("/proc/cpuinfo") as cpuinfo:
        model = next((l.split(":", 1)[1].strip() for l in cpuinfo if l.startswith("model name")), "?")
    print(f"\nchangelog-tail benchmark, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, {model}\n")
    headers = ("goal", "measure", "changelog-tail", "baseline (same run)", "ratio", "target", "met")
    print("| " + " | ".join(headers) + " |")
    print("|" + "---|" * len(headers))
    for r in rows:
        print("| " + " | ".join(r) + " |")
    return 0 if all(r[-1] == "yes" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
