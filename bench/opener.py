#!/usr/bin/env python3
"""Does the opener thread earn its place? The same binary with and without it,
in turns: a ctlstore-like writer (bench/run.py's generator, rotating by delete
and create) at 20,000 events/s beside a CPU hog, rotating every 4 KiB (about
200 files a second, each living about a millisecond) and every 1 MiB
(ctlstore's default), and every 128 KiB with a consumer that stops reading
for 2 s (the reader blocked writing its output meanwhile). For each: runs that delivered every event (exit 0: the
seq check reports any file lost), the reader's CPU (user + sys, wait4) and its
wall time after the writer ended; on every CPU and with the reader pinned to
one (taskset -c 0).

    python3 bench/opener.py WITHOUT_OPENER [RUNS]

WITHOUT_OPENER is a build whose opener thread opens nothing: in
src/follow/notifier/inotify.rs, `open_new_generations`, poll only the stop
pipe (both PollFd on `stop`). The other side is target/release/changelog-tail;
bench/run.py builds it and the generator.
"""

import os
import statistics
import subprocess
import sys
import tempfile
import shutil
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WITH = os.path.join(ROOT, "target", "release", "changelog-tail")
GENERATE = os.path.join(ROOT, "target", "release", "examples", "generate")
EVENTS = 40_000


def consume_slowly(pipe):
    """A consumer that stops reading for 2 s after its first 64 KiB (a cache
    busy elsewhere), then reads on: meanwhile the reader is blocked writing."""
    pipe.read(65536)
    time.sleep(2)
    while pipe.read(65536):
        pass


def one(binary, pin, size, slow=False):
    """One run: (every event delivered, reader CPU s, reader wall s after the writer)."""
    directory = tempfile.mkdtemp()
    path = os.path.join(directory, "change.log")
    command = (["taskset", "-c", "0"] if pin else []) + [
        binary, "-p", path, "--wait", "--after-seq", "0", "--count", str(EVENTS)]
    reader = subprocess.Popen(command, stderr=subprocess.DEVNULL,
                              stdout=subprocess.PIPE if slow else subprocess.DEVNULL)
    consumer = None
    if slow:
        consumer = threading.Thread(target=consume_slowly, args=(reader.stdout,))
        consumer.start()
    # The reader waits for the file (its signal thread is up) before the writer starts.
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            tasks = os.listdir(f"/proc/{reader.pid}/task")
            if any(open(f"/proc/{reader.pid}/task/{t}/comm").read().strip() == "signals"
                   for t in tasks):
                break
        except OSError:
            pass
        time.sleep(0.01)
    subprocess.run([GENERATE, "--events", str(EVENTS), "--out", path, "--rotate-bytes",
                    str(size), "--flush-each", "--rate", "20000"],
                   check=True, stderr=subprocess.DEVNULL)
    written = time.time()
    _, status, usage = os.wait4(reader.pid, 0)
    ended = time.time()
    if consumer:
        consumer.join()
        reader.stdout.close()
    shutil.rmtree(directory)
    return (os.waitstatus_to_exitcode(status) == 0, usage.ru_utime + usage.ru_stime,
            ended - written)


def main():
    binaries = {"with the opener": WITH, "without": sys.argv[1]}
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        cases = [(4096, False, "rotation every 4 KiB"), (1 << 20, False, "rotation every 1 MiB"),
                 (128 << 10, True, "rotation every 128 KiB, the consumer away for 2 s")]
        for size, slow, label in cases:
            for pin in (False, True):
                results = {name: [] for name in binaries}
                for i in range(runs):
                    # In turns, each side first half the time.
                    for name in (list(binaries) if i % 2 == 0 else list(binaries)[::-1]):
                        results[name].append(one(binaries[name], pin, size, slow))
                for name, result in results.items():
                    print(f"{label}, {'one CPU' if pin else 'all CPUs'}, {name}: "
                          f"{sum(r[0] for r in result)}/{runs} complete, "
                          f"CPU {statistics.median(r[1] for r in result):.3f} s, "
                          f"wall after the writer "
                          f"{statistics.median(r[2] for r in result) * 1000:.1f} ms",
                          flush=True)
    finally:
        hog.kill()
        hog.wait()


if __name__ == "__main__":
    main()
