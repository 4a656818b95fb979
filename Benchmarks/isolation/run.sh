#!/usr/bin/env bash
# Isolated plugin calls: the round trip of cmath.add(i64, i64) -> i64 in-process and isolated
# (Benchmarks/isolation/roundtrip.cap), the floor under it (pingpong.c: the same handoff with
# nothing else), and the worker's start-up (spawn, lockdown, load, init).
#
#   bash Benchmarks/isolation/run.sh
#
# Environment: RUNS (default 5), BATCHES (default 200), CALLS (per batch, default 2000),
# CAPSULE_BIN (default: build and use .build/release/capsule; capsule-worker must be next to it).
set -euo pipefail
export LC_ALL=C
DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$(dirname "$DIR")")
RUNS=${RUNS:-5}
BATCHES=${BATCHES:-200}
CALLS=${CALLS:-2000}
if [[ -z ${CAPSULE_BIN:-} ]]; then
    (cd "$ROOT" && swift build -c release >&2)
    CAPSULE_BIN=$ROOT/.build/release/capsule
fi
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cc -O2 -o "$WORK/pingpong" "$DIR/pingpong.c"
echo "floor (pingpong.c: two processes, shared memory, spin then yield), ns per round trip:"
echo "  $("$WORK/pingpong")"
echo "round trip, ns per call of add(i64, i64), best and median batch of $CALLS calls, $RUNS runs:"
for mode in in-process isolated; do
    flags=()
    [[ $mode == isolated ]] && flags=(--isolate=cmath)
    results=$(for _ in $(seq "$RUNS"); do "$CAPSULE_BIN" run "${flags[@]}" "$DIR/roundtrip.cap" "$BATCHES" "$CALLS"; done)
    best=$(awk '{ print $2 }' <<<"$results" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
    median=$(awk '{ print $4 }' <<<"$results" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
    printf '  %-10s best batch %6s ns   median batch %6s ns   (each the median over the runs)\n' "$mode" "$best" "$median"
done

# Start-up: a script that only imports cmath, in-process and isolated.
START=$WORK
echo 'import "cmath"' >"$START/start.cap"
startup() {
    local times=() t0 t1
    for _ in $(seq 20); do
        t0=$EPOCHREALTIME
        "$CAPSULE_BIN" run "$@" "$START/start.cap"
        t1=$EPOCHREALTIME
        times+=("$(echo "($t1 - $t0) * 1000000" | bc)")
    done
    printf '%s\n' "${times[@]}" | sort -n | awk '{ a[NR] = $1 } END { print int(a[int((NR + 1) / 2)]) }'
}
plain=$(startup)
isolated=$(startup --isolate=cmath)
echo "start-up (median of 20): in-process ${plain} µs, isolated ${isolated} µs: the worker costs $((isolated - plain)) µs"
