#!/usr/bin/env bash
# Runs the Capsule benchmark suite against Lua 5.4 and Python 3. See Benchmarks/README.md.
#
#   bash Benchmarks/run.sh                 # all programs, 3 runs each
#   RUNS=5 ONLY=fib,loop bash Benchmarks/run.sh
#
# Environment:
#   RUNS=N           runs per program and language (default 3); the table shows the median
#   ONLY=a,b         run only these programs
#   STARTUP_RUNS=N   runs of the empty-file start-up measurement (default 10)
#   TIMEOUT=S        seconds before one run is killed and marked TIMEOUT (default 120)
#   CAPSULE_BIN=P    use this capsule binary instead of building one
set -uo pipefail
export LC_ALL=C  # '.' as the decimal point in $EPOCHREALTIME

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH_DIR")
PROGRAM_DIR=$BENCH_DIR/programs
RESULTS_DIR=$BENCH_DIR/results
RUNS=${RUNS:-3}
STARTUP_RUNS=${STARTUP_RUNS:-10}
TIMEOUT=${TIMEOUT:-120}
ALL_PROGRAMS=(fib loop nbody spectral_norm binary_trees fannkuch strings methods closures hashmap json text regex)

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$RESULTS_DIR"
MEASUREMENTS=$WORK/measurements.tsv
PROBLEMS=$WORK/problems.txt
: >"$MEASUREMENTS"
: >"$PROBLEMS"

source "$BENCH_DIR/lib.sh"


# ---- programs to run ---------------------------------------------------------------------
PROGRAMS=()
if [[ -n ${ONLY:-} ]]; then
    IFS=, read -r -a requested <<<"$ONLY"
    for p in "${requested[@]}"; do
        if [[ -f $PROGRAM_DIR/$p.expected ]]; then
            PROGRAMS+=("$p")
        else
            echo "unknown program '$p' (have: ${ALL_PROGRAMS[*]})" >&2
            exit 2
        fi
    done
else
    PROGRAMS=("${ALL_PROGRAMS[@]}")
fi

# ---- tools ---------------------------------------------------------------------------------
install_tools

# python3 may be a wrapper script (pyenv shims add ~70 ms per run): time the real binary.
PYTHON=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null || echo python3)

# ---- capsule -------------------------------------------------------------------------------
build_capsule build.log

set_command() {  # set_command LANG PATH_WITHOUT_EXTENSION: sets the array CMD
    case $1 in
        capsule) CMD=("$CAPSULE" run "$2.cap") ;;
        lua5.4) CMD=(lua5.4 "$2.lua") ;;
        python3) CMD=("$PYTHON" "$2.py") ;;
    esac
}

for program in "${PROGRAMS[@]}"; do
    for lang in capsule lua5.4 python3; do
        set_command "$lang" "$PROGRAM_DIR/$program"
        for ((run = 1; run <= RUNS; run++)); do
            # After a failure or a wrong answer, don't repeat the run.
            measure "$program" "$lang" "$PROGRAM_DIR/$program.expected" "${CMD[@]}" || break
        done
        # Progress: this program's runs so far, e.g. "== fib lua5.4: OK 0.63s OK 0.62s".
        log "$program $lang: $(awk -F'\t' -v p="$program" -v l="$lang" \
            '$1 == p && $2 == l { printf "%s %.2fs ", $3, $4 }' "$MEASUREMENTS")"
    done
done

# Start-up: each language on an empty source file.
: >"$WORK/empty.cap"
: >"$WORK/empty.lua"
: >"$WORK/empty.py"
: >"$WORK/empty.expected"
for lang in capsule lua5.4 python3; do
    set_command "$lang" "$WORK/empty"
    for ((run = 1; run <= STARTUP_RUNS; run++)); do
        measure "(empty)" "$lang" "$WORK/empty.expected" "${CMD[@]}" || break
    done
done

# ---- report --------------------------------------------------------------------------------
{
    echo "# Capsule benchmarks"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '?')," \
        "$(uname -m), $(nproc) CPUs; $(lua5.4 -v 2>/dev/null | cut -d' ' -f1-2 || echo 'no lua5.4'); $("$PYTHON" --version 2>&1);" \
        "median of $RUNS runs (start-up: $STARTUP_RUNS)."
    echo
    python3 "$BENCH_DIR/report.py" "$MEASUREMENTS" "${PROGRAMS[@]}"
    if [[ -s $PROBLEMS ]]; then
        echo
        echo "Problems:"
        echo '```'
        cat "$PROBLEMS"
        echo '```'
    fi
} | tee "$RESULTS_DIR/latest.md"
cp "$MEASUREMENTS" "$RESULTS_DIR/latest.tsv"
