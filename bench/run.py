#!/usr/bin/env python3
"""Whole-tool benchmark: issue #4's goals, measured against cat, grep, jq and
GNU tail -F in the same run, printed as a table of ratios.

    python3 bench/run.py            # full run (2,000,000 events, ~5 minutes)
    python3 bench/run.py --quick    # smaller and shorter, for a smoke test
    python3 bench/run.py --compare OLD_BINARY   # also: is the event path
                                    # without --rows as fast as OLD_BINARY's?

Needs: cargo, grep, cat; jq and tail if present (rows are skipped otherwise).
The LDB for the --rows row is made with Python's sqlite3.
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
LATENCY = os.path.join(ROOT, "target", "release", "examples", "latency")
PATTERN = '"family":"fam3","table":"table7"'


def build():
    subprocess.run(
        ["cargo", "build", "--release", "--quiet", "--bin", "changelog-tail",
         "--example", "generate", "--example", "latency"],
        cwd=ROOT, check=True)


def best_of(runs, command, stdout):
    """Wall time of the fastest of `runs` runs, and the last exit code."""
    best, code = None, None
    for _ in range(runs):
        with open(stdout, "wb") as out:
            start = time.perf_counter()
            code = subprocess.run(command, stdout=out, stderr=subprocess.DEVNULL).returncode
            elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
    return best, code


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
def wall_time(command, stdout):
    """Wall time of one run of `command`, its output going to `stdout` (a
    file: GNU grep stops at the first match when writing to /dev/null)."""
    with open(stdout, "wb") as out:
        start = time.perf_counter()
        code = subprocess.run(command, stdout=out, stderr=subprocess.DEVNULL).returncode
        elapsed = time.perf_counter() - start
    assert code == 0, f"{command[0]} exited {code}"
    return elapsed


def paired(runs, a, b, out):
    """Wall times of `a` and `b` run in turns (each first half the time),
    output to a file: (median a, median b, min and max of the pair ratios a/b).
    A machine getting busier or quieter weighs on both alike."""
    times_a, times_b = [], []
    for i in range(runs):
        for command, times in ((a, times_a), (b, times_b))[:: 1 if i % 2 else -1]:
            times.append(wall_time(command, out))
    ratios = sorted(x / y for x, y in zip(times_a, times_b))
    return median(times_a), median(times_b), ratios[0], median(ratios), ratios[-1]


def median(values):
    values = sorted(values)
    return values[len(values) // 2]


def cpu_time(command):
    """CPU time (user + system, from wait4) of one run of `command`, stdout
    and stderr to /dev/null. For A/B comparisons on a shared machine it
    moves less than wall time: time spent waiting for a CPU is not in it."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        pid = os.fork()
        if pid == 0:
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            os.execv(command[0], command)
        _, status, usage = os.wait4(pid, 0)
    finally:
        os.close(devnull)
    code = os.waitstatus_to_exitcode(status)
    assert code == 0, f"{command[0]} exited {code}"
    return usage.ru_utime + usage.ru_stime


def alternating(runs, a, b):
    """Median CPU times of commands `a` and `b`, run in turns (each goes
    first half the time) so that a machine getting busier or quieter
    weighs on both alike."""
    times_a, times_b = [], []
    for i in range(runs):
        for command, times in ((a, times_a), (b, times_b))[:: 1 if i % 2 else -1]:
            times.append(cpu_time(command))
    return sorted(times_a)[runs // 2], sorted(times_b)[runs // 2]


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


def latency(command, events):
    out = subprocess.run([LATENCY, "--events", str(events), "--interval-ms", "2", "--", *command],
                         capture_output=True, text=True, check=True, timeout=600)
    return json.loads(out.stdout.strip().splitlines()[-1])


def rotation_runs(tmp, size, runs, events, rate=400_000):
    """Runs where a writer at `rate` lines/s rotating every `size` bytes
    delivered every event once, in order (--after-seq 0: the first must be 1;
    the seq check sees any gap; --count: all of them); and the shortest
    time a rotated file lived, in ms, as the writer saw it."""
    ok, shortest = 0, None
    for _ in range(runs):
        directory = tempfile.mkdtemp(dir=tmp)
        path = os.path.join(directory, "change.log")
        reader = subprocess.Popen(
            [BIN, "-p", path, "--wait", "--after-seq", "0", "--count", str(events)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # The reader waits for the file before the writer starts.
        deadline = time.time() + 10
        while time.time() < deadline and not any(
                t for t in os.listdir(f"/proc/{reader.pid}/task")
                if open(f"/proc/{reader.pid}/task/{t}/comm").read().strip() == "signals"):
            time.sleep(0.01)
        written = subprocess.run([GENERATE, "--events", str(events), "--out", path,
                                  "--rotate-bytes", str(size), "--flush-each", "--rate",
                                  str(rate)], check=True, stderr=subprocess.PIPE, text=True)
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
            print(f"  rotation {size}: exit {code}: {error[:160]}", file=sys.stderr)
        shutil.rmtree(directory)
    return ok, shortest


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, short idle window")
    parser.add_argument("--compare", metavar="BINARY",
                        help="another changelog-tail (e.g. built from main) to time the "
                             "event path without --rows against, in the same run")
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
    runs = 5 if args.quick else 15

    build()
    rows = []

    def row(goal, measure, ours, baseline, ratio, target, met):
        rows.append((goal, measure, ours, baseline, ratio, target, "yes" if met else "NO"))

    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "change.log")
        subprocess.run([GENERATE, "--events", str(events), "--out", log],
                       check=True, stderr=subprocess.DEVNULL)
        size = os.path.getsize(log)
        out = os.path.join(tmp, "out")
        best_of(1, ["cat", log], os.devnull)  # into the page cache
        # Written back before timing: the kernel's writeback of 329 MB just
        # written would otherwise take a CPU from whichever run it meets.
        os.sync()

        # 1. Catch-up: in turns with the baseline, output to a file.
        filtered = [BIN, "--no-follow", "-p", log, "--family", "fam3", "--table", "table7"]
        ours, grep, low, ratio, high = paired(
            runs, filtered, ["grep", "-c", "-F", PATTERN, log], out)
        row("1 catch-up", f"filtered, {events:,} events ({size / 1e6:.0f} MB), to a file",
            f"{ours:.3f} s", f"grep -c -F {grep:.3f} s",
            f"{ratio:.2f}x ({low:.2f}-{high:.2f})", "<= 1.0x grep", ratio <= 1.0)
        if shutil.which("jq"):
            jq, _ = best_of(1, ["jq", "-c", 'select(.family=="fam3" and .table=="table7")', log], out)
            row("", "filtered, vs jq", f"{ours:.3f} s", f"jq {jq:.2f} s",
                f"{jq / ours:.0f}x faster", "(reference)", True)
        unfiltered, cat, low, ratio, high = paired(
            runs, [BIN, "--no-follow", "-p", log], ["cat", log], out)
        rate = size / unfiltered / 1e6
        row("1 catch-up", "all events as NDJSON, to a file", f"{rate:.0f} MB/s",
            f"cat {size / cat / 1e6:.0f} MB/s", f"{ratio:.1f}x cat time ({low:.1f}-{high:.1f})",
            ">= 1500 MB/s", rate >= 1500)
        # The state file: written at the start, at most ten times a second
        # during a catch-up, and at the end (two fsyncs each).
        # Each run starts without a state (else it would resume at the end
        # and read nothing); both sides go through the same shell.
        state = os.path.join(tmp, "state")
        quoted = " ".join(f"'{a}'" for a in filtered)
        with_state, without, low, ratio, high = paired(
            runs,
            ["sh", "-c", f"rm -f {state} {state}.lock; exec {quoted} --state-file {state}"],
            ["sh", "-c", f"rm -f {state} {state}.lock; exec {quoted}"], out)
        row("1 catch-up", "filtered, with --state-file", f"{with_state:.3f} s",
            f"without {without:.3f} s", f"{ratio:.2f}x ({low:.2f}-{high:.2f})", "<= 1.05x",
            ratio <= 1.05)
        if args.compare:
            # The same catch-ups by the other binary, in turns with ours.
            for what, extra in (("all events as NDJSON", []),
                                ("filtered", ["--family", "fam3", "--table", "table7"])):
                ours, theirs = alternating(runs, [BIN, "--no-follow", "-p", log, *extra],
                                           [args.compare, "--no-follow", "-p", log, *extra])
                row("1 catch-up", f"{what}, without --rows, vs --compare binary (CPU)",
                    f"{ours:.3f} s", f"{theirs:.3f} s", f"{ours / theirs:.2f}x",
                    "<= 1.05x (noise)", ours <= theirs * 1.05)

        # 2. Latency: rounds in turns with tail -F; medians of the rounds.
        if shutil.which("tail"):
            rounds = {"ours": [], "tail": []}
            for i in range(latency_rounds):
                pair = (("ours", [BIN, "-p", "{}", "--format", "ndjson"]),
                        ("tail", ["tail", "-F", "-n", "+1", "{}"]))
                for name, command in pair[:: 1 if i % 2 else -1]:
                    rounds[name].append(latency(command, latency_events))
            for q in ("p50", "p99"):
                mine = median(r[f"{q}_us"] for r in rounds["ours"])
                theirs = median(r[f"{q}_us"] for r in rounds["tail"])
                spread = sorted(r[f"{q}_us"] for r in rounds["ours"])
                row("2 latency", f"{q}, {latency_rounds} rounds of {latency_events} events "
                    "2 ms apart, ndjson into a pipe",
                    f"{mine:.0f} us ({spread[0]:.0f}-{spread[-1]:.0f})", f"tail -F {theirs:.0f} us",
                    f"{mine / theirs:.2f}x tail -F", "<= 1.0x tail -F", mine <= theirs)

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

        # 5. Rotation under load.
        for rotate in (128 * 1024, 1024 * 1024):
            ok, _ = rotation_runs(tmp, rotate, rotation_runs_each, rotation_events)
            row("5 rotation", f"400k lines/s, rotate every {rotate // 1024} KiB, "
                f"{rotation_events:,} events", f"{ok}/{rotation_runs_each} runs complete",
                "-", "-", "all runs", ok == rotation_runs_each)

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
        with_rows, without = alternating(
            runs, [BIN, "--no-follow", "-p", rows_log, "--rows", "--ldb", ldb],
            [BIN, "--no-follow", "-p", rows_log])
        probe = subprocess.run([BIN, "--no-follow", "-p", rows_log, "--rows", "--ldb", ldb,
                                "--count", "1"], capture_output=True, text=True, check=True)
        assert json.loads(probe.stdout)["row"] is not None, probe.stdout
        per_event = (with_rows - without) / rows_events * 1e6
        row("6 rows", f"--rows, {rows_events:,} events, each row found (10 columns), CPU",
            f"{per_event:.1f} us/event", f"without --rows {without / rows_events * 1e6:.2f} us/event",
            f"{with_rows / without:.1f}x time", "<= 20 us", per_event <= 20)

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
