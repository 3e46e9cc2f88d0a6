#!/bin/sh
# Runs the test suite (every test binary, all features) ROUNDS times in a
# row with every CPU kept busy by a hog beside it, and stops at the first
# failing round: the timing-sensitive tests (rotation under load, holes,
# signals, the model) must hold on a busy host, not only on an idle one.
#
#   bench/stress.sh [ROUNDS]     # default 10
#
# Uses stress-ng if it is installed (apt install stress-ng), else one
# `yes > /dev/null` per CPU. Needs cargo-nextest. Prints one line per round.
set -eu
rounds=${1:-10}
cd "$(dirname "$0")/.."
cargo nextest run --all-features --no-run --cargo-quiet
cpus=$(nproc)
if command -v stress-ng >/dev/null 2>&1; then
    stress-ng --cpu "$cpus" --quiet &
    hogs=$!
    hog="stress-ng --cpu $cpus"
else
    hogs=""
    i=0
    while [ "$i" -lt "$cpus" ]; do
        yes >/dev/null &
        hogs="$hogs $!"
        i=$((i + 1))
    done
    hog="$cpus x yes"
fi
trap 'kill $hogs 2>/dev/null' EXIT INT TERM
echo "hog: $hog; $rounds rounds"
round=1
while [ "$round" -le "$rounds" ]; do
    start=$(date +%s)
    if cargo nextest run --all-features --cargo-quiet --no-fail-fast \
        --status-level fail --final-status-level fail >"target/stress-$round.log" 2>&1; then
        echo "round $round: passed ($(($(date +%s) - start)) s)"
    else
        echo "round $round: FAILED (see target/stress-$round.log)"
        grep -E '^\s+(FAIL|TIMEOUT)' "target/stress-$round.log" || true
        exit 1
    fi
    round=$((round + 1))
done
echo "all $rounds rounds passed"
