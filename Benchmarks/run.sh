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

log() { echo "== $*" >&2; }

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
SUDO=
if [[ $(id -u) -ne 0 ]] && command -v sudo >/dev/null; then SUDO=sudo; fi
APT_UPDATED=
apt_install() {  # apt_install PACKAGE
    command -v apt-get >/dev/null || return 1
    if [[ -z $APT_UPDATED ]]; then
        $SUDO apt-get update >&2 && APT_UPDATED=1
    fi
    $SUDO apt-get install -y "$1" >&2
}

if ! command -v lua5.4 >/dev/null; then
    log "installing lua5.4"
    apt_install lua5.4 || echo "warning: could not install lua5.4; its cells will FAIL" >&2
fi
if [[ ! -x /usr/bin/time ]]; then
    log "installing time (for peak RSS)"
    apt_install time || echo "warning: could not install time; peak RSS will be missing" >&2
fi

# python3 may be a wrapper script (pyenv shims add ~70 ms per run): time the real binary.
PYTHON=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null || echo python3)

# ---- capsule -------------------------------------------------------------------------------
CAPSULE=${CAPSULE_BIN:-}
if [[ -z $CAPSULE ]]; then
    log "building capsule (swift build -c release --product capsule)"
    if (cd "$ROOT" && swift build -c release --product capsule) >"$RESULTS_DIR/build.log" 2>&1; then
        CAPSULE=$(cd "$ROOT" && swift build -c release --show-bin-path)/capsule
    else
        echo "!! capsule build FAILED (see $RESULTS_DIR/build.log); its cells will show FAIL" >&2
        tail -n 20 "$RESULTS_DIR/build.log" >&2
        CAPSULE=$WORK/no-capsule-binary  # does not exist, so every run FAILs
    fi
fi
log "capsule binary: $CAPSULE"

# ---- measuring -----------------------------------------------------------------------------
# measure PROGRAM LANG EXPECTED_FILE COMMAND...
# Runs COMMAND once under /usr/bin/time, checks its stdout against EXPECTED_FILE and appends
# "program lang status seconds rss_kb" to $MEASUREMENTS. Returns non-zero unless OK.
measure() {
    local program=$1 lang=$2 expected=$3
    shift 3
    local out=$WORK/stdout err=$WORK/stderr rss_file=$WORK/rss
    local t0 t1 rc status rss=""
    : >"$rss_file"
    t0=$EPOCHREALTIME
    if [[ -x /usr/bin/time ]]; then
        /usr/bin/time -f '%M' -o "$rss_file" timeout "$TIMEOUT" "$@" >"$out" 2>"$err"
    else
        timeout "$TIMEOUT" "$@" >"$out" 2>"$err"
    fi
    rc=$?
    t1=$EPOCHREALTIME
    rss=$(tail -n 1 "$rss_file")
    [[ $rss =~ ^[0-9]+$ ]] || rss=""
    if [[ $rc -eq 124 ]]; then
        status=TIMEOUT
    elif [[ $rc -ne 0 ]]; then
        status=FAIL
    elif ! cmp -s "$out" "$expected"; then
        status=WRONG
    else
        status=OK
    fi
    local secs
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", b - a }')
    printf '%s\t%s\t%s\t%s\t%s\n' "$program" "$lang" "$status" "$secs" "$rss" >>"$MEASUREMENTS"
    case $status in
        OK) return 0 ;;
        WRONG)
            {
                echo "!!!!! WRONG OUTPUT: $lang $program"
                diff "$expected" "$out" | head -n 10
            } | tee -a "$PROBLEMS" >&2
            ;;
        *)
            {
                echo "!! $status: $lang $program (exit $rc)"
                head -n 5 "$err"
            } | tee -a "$PROBLEMS" >&2
            ;;
    esac
    return 1
}

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
