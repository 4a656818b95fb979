#!/usr/bin/env bash
# The script→C call benchmark: ns per call to add(i64, i64), hypot(f64, f64) and a str
# function from Capsule (plugin and raw FFI), Lua 5.4's C API, Python ctypes and cffi, with
# a direct C call and a raw ffi_call as floors. See Benchmarks/README.md.
#
#   bash Benchmarks/ffi/run.sh
#   RUNS=7 N=20000000 bash Benchmarks/ffi/run.sh
#
# Environment:
#   N=COUNT          calls per function per run (default 10000000)
#   RUNS=K           runs of each program (default 5); the table shows the median
#   CAPSULE_BIN=P    use this capsule binary instead of building one
# Needs cc, libffi-dev and liblua5.4-dev (apt-get install -y liblua5.4-dev); cffi for Python.
set -uo pipefail
export LC_ALL=C

FFI_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BENCH_DIR=$(dirname "$FFI_DIR")
ROOT=$(dirname "$BENCH_DIR")
RESULTS_DIR=$BENCH_DIR/results
BUILD=$RESULTS_DIR/ffi-build
N=${N:-10000000}
RUNS=${RUNS:-5}
mkdir -p "$BUILD"
MEASUREMENTS=$RESULTS_DIR/ffi-latest.tsv
: >"$MEASUREMENTS"

log() { echo "== $*" >&2; }
PYTHON=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null || echo python3)

# ---- build -------------------------------------------------------------------------------
CAPSULE=${CAPSULE_BIN:-}
if [[ -z $CAPSULE ]]; then
    log "building capsule (swift build -c release --product capsule)"
    if ! (cd "$ROOT" && swift build -c release --product capsule) >"$RESULTS_DIR/ffi-build.log" 2>&1; then
        tail -n 20 "$RESULTS_DIR/ffi-build.log" >&2
        echo "capsule build failed" >&2
        exit 1
    fi
    CAPSULE=$(cd "$ROOT" && swift build -c release --show-bin-path)/capsule
fi
log "capsule binary: $CAPSULE"

CFLAGS=(-O2 -fPIC -I "$FFI_DIR")
log "building the C side in $BUILD"
cc "${CFLAGS[@]}" -shared -o "$BUILD/libcallee.so" "$FFI_DIR/callee.c" || exit 1
cc "${CFLAGS[@]}" -shared -fvisibility=hidden -I "$ROOT/sdk/include" -o "$BUILD/libcapsule_callbench.so" \
    "$FFI_DIR/capsule_callbench.c" -L "$BUILD" -lcallee -lm -Wl,-rpath,"$BUILD" || exit 1
cc "${CFLAGS[@]}" -o "$BUILD/floor" "$FFI_DIR/floor.c" -L "$BUILD" -lcallee -lffi -lm -Wl,-rpath,"$BUILD" || exit 1
HAVE_LUA=
if pkg-config --exists lua5.4 && command -v lua5.4 >/dev/null; then
    cc "${CFLAGS[@]}" -shared $(pkg-config --cflags lua5.4) -o "$BUILD/callbench.so" \
        "$FFI_DIR/lua_callbench.c" -L "$BUILD" -lcallee -lm -Wl,-rpath,"$BUILD" && HAVE_LUA=1
else
    echo "warning: no lua5.4 headers (apt-get install -y liblua5.4-dev); Lua is skipped" >&2
fi
(cd "$BUILD" && "$PYTHON" "$FFI_DIR/build_cffi.py" "$FFI_DIR" "$BUILD") >"$BUILD/cffi.log" 2>&1 ||
    echo "warning: cffi API-mode extension not built (see $BUILD/cffi.log); only ABI mode runs" >&2

# ---- runs --------------------------------------------------------------------------------
for ((run = 1; run <= RUNS; run++)); do
    log "run $run of $RUNS (N = $N)"
    "$BUILD/floor" "$N" >>"$MEASUREMENTS"
    CAPSULE_PLUGIN_PATH=$BUILD "$CAPSULE" run "$FFI_DIR/bench.cap" "$N" plugin >>"$MEASUREMENTS"
    "$CAPSULE" run --allow-ffi "$FFI_DIR/bench.cap" "$N" ffi "$BUILD/libcallee.so" >>"$MEASUREMENTS"
    if [[ -n $HAVE_LUA ]]; then
        LUA_CPATH="$BUILD/?.so" lua5.4 "$FFI_DIR/bench.lua" "$N" >>"$MEASUREMENTS"
    fi
    "$PYTHON" "$FFI_DIR/bench.py" "$N" "$BUILD" >>"$MEASUREMENTS"
done

# ---- report ------------------------------------------------------------------------------
{
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '?')," \
        "N = $N calls, median of $RUNS runs, ns per call (process CPU time, empty loop subtracted)"
    echo
    "$PYTHON" "$FFI_DIR/report.py" "$MEASUREMENTS"
} | tee "$RESULTS_DIR/ffi-latest.md"
