#!/usr/bin/env bash
# Blocking exports on the bounded pool: FIBERS fibers (default 64) each call a blocking export
# that sleeps MS ms (default 100), for each pool size in THREADS (default "1 4 8 16"). Prints
# the total time, the ideal ceil(FIBERS / threads) * MS, and the most calls seen at once.
#
#   bash Benchmarks/blocking/blocking.sh
#
# Environment: FIBERS, MS, THREADS, RUNS (default 3; the median is printed), CAPSULE_BIN
# (default: build and use .build/release/capsule).
set -euo pipefail
export LC_ALL=C
DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$(dirname "$DIR")")
FIBERS=${FIBERS:-64}
MS=${MS:-100}
THREADS=${THREADS:-"1 4 8 16"}
RUNS=${RUNS:-3}
if [[ -z ${CAPSULE_BIN:-} ]]; then
    (cd "$ROOT" && swift build -c release >&2)
    CAPSULE_BIN=$ROOT/.build/release/capsule
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cc -O2 -shared -fPIC -fvisibility=hidden -I "$ROOT/sdk/include" -o "$WORK/libcapsule_blocking.so" \
    "$ROOT/Tests/PluginFixtures/blocking.c"
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$FIBERS fibers, each calling a blocking export that sleeps $MS ms; median of $RUNS runs"
printf '  %-8s %10s %10s %8s\n' threads "total ms" "ideal ms" "at once"
for t in $THREADS; do
    results=$(for _ in $(seq "$RUNS"); do
        "$CAPSULE_BIN" run --allow-clock --plugin-path "$WORK" --blocking-threads "$t" "$DIR/blocking.cap" "$FIBERS" "$MS"
    done)
    median=$(awk '{ print $1 }' <<<"$results" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
    most=$(awk '{ print $2 }' <<<"$results" | sort -n | tail -1)
    ideal=$(( (FIBERS + t - 1) / t * MS ))
    printf '  %-8s %10s %10s %8s\n' "$t" "$median" "$ideal" "$most"
done
