#!/usr/bin/env bash
# Runs the concurrency benchmarks (fibers, channels, select, an echo server) against Lua 5.4,
# Python 3 (asyncio), Node and, when it can be installed, Go. See README.md beside this file.
#
#   bash Benchmarks/concurrency/run.sh                    # everything, 3 runs each
#   RUNS=5 ONLY=pingpong,switch ECHO=0 bash Benchmarks/concurrency/run.sh
#
# Environment:
#   RUNS=N            runs per program and runtime (default 3); tables show the median
#   ONLY=a,b          run only these programs; ONLY=echo_server runs just the echo benchmark
#   ECHO=0            skip the echo server benchmark (default 1: run it)
#   ECHO_CONNS=N      concurrent client connections (default 1000)
#   ECHO_SECONDS=S    measured seconds per echo run (default 5)
#   ECHO_PORT=P       first port tried for the echo servers (default 29400)
#   TIMEOUT=S         seconds before one program run is killed and marked TIMEOUT (default 120)
#   CAPSULE_BIN=P     use this capsule binary instead of building one
#   INSTALL_GO=0      do not try `apt-get install golang-go` when go is missing
set -uo pipefail
export LC_ALL=C  # '.' as the decimal point in $EPOCHREALTIME

DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$(dirname "$DIR")")
RESULTS_DIR=$ROOT/Benchmarks/results
RUNS=${RUNS:-3}
TIMEOUT=${TIMEOUT:-120}
ECHO=${ECHO:-1}
ECHO_CONNS=${ECHO_CONNS:-1000}
ECHO_SECONDS=${ECHO_SECONDS:-5}
ECHO_PORT=${ECHO_PORT:-29400}
INSTALL_GO=${INSTALL_GO:-1}
ALL_PROGRAMS=(spawn_join pingpong pingpong_buffered select_fanin switch switch_raw)
LANGS=(capsule lua5.4 python3 node go)

WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
    # Only the echo server this script started, by its process id.
    if [[ -n $SERVER_PID ]]; then kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; fi
    rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$RESULTS_DIR"
MEASUREMENTS=$WORK/measurements.tsv
ECHO_RESULTS=$WORK/echo.tsv
PROBLEMS=$WORK/problems.txt
NOTES=$WORK/notes.txt
: >"$MEASUREMENTS"
: >"$ECHO_RESULTS"
: >"$PROBLEMS"

source "$ROOT/Benchmarks/lib.sh"
: >"$NOTES"

note() { echo "$*" >>"$NOTES"; log "$*"; }

# ---- programs to run ---------------------------------------------------------------------
PROGRAMS=()
if [[ -n ${ONLY:-} ]]; then
    IFS=, read -r -a requested <<<"$ONLY"
    for p in "${requested[@]}"; do
        if [[ $p == echo_server ]]; then
            ECHO=1  # the echo benchmark alone: ONLY=echo_server
        elif [[ -f $DIR/$p.expected ]]; then
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
if ! command -v go >/dev/null && [[ $INSTALL_GO == 1 ]]; then
    log "installing golang-go (optional)"
    apt_install golang-go || true
fi

# python3 may be a wrapper script (pyenv shims add ~70 ms per run): time the real binary.
PYTHON=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null || true)
NODE=$(command -v node || true)
LUA=$(command -v lua5.4 || true)
GO=$(command -v go || true)
[[ -n $LUA ]] || note "lua5.4 not found: its column is skipped"
[[ -n $PYTHON ]] || note "python3 not found: its column is skipped"
[[ -n $NODE ]] || note "node not found: its column is skipped"

# Go programs are compiled once, outside the timing; GOTOOLCHAIN=local keeps go from
# downloading another toolchain.
GO_BIN=$WORK/go-bin
if [[ -n $GO ]]; then
    mkdir -p "$GO_BIN"
    export GOCACHE=$WORK/go-cache GOPATH=$WORK/go-path GOTOOLCHAIN=local
    for src in "$DIR"/*.go; do
        name=$(basename "$src" .go)
        if ! "$GO" build -o "$GO_BIN/$name" "$src" >"$WORK/go-build.log" 2>&1; then
            echo "!! go build $name.go FAILED" | tee -a "$PROBLEMS" >&2
            head -n 5 "$WORK/go-build.log" | tee -a "$PROBLEMS" >&2
        fi
    done
else
    note "go not found (and not installed): its column is skipped"
fi

# ---- capsule -------------------------------------------------------------------------------
build_capsule concurrency-build.log

# set_command LANG NAME: sets the array CMD to run program NAME in LANG, or empties it when
# that runtime is missing or the program has no version in that language.
set_command() {
    CMD=()
    case $1 in
        capsule) [[ -f $DIR/$2.cap ]] && CMD=("$CAPSULE" run "$DIR/$2.cap") ;;
        lua5.4) [[ -n $LUA && -f $DIR/$2.lua ]] && CMD=("$LUA" "$DIR/$2.lua") ;;
        python3) [[ -n $PYTHON && -f $DIR/$2.py ]] && CMD=("$PYTHON" "$DIR/$2.py") ;;
        node) [[ -n $NODE && -f $DIR/$2.js ]] && CMD=("$NODE" "$DIR/$2.js") ;;
        go) [[ -x $GO_BIN/$2 ]] && CMD=("$GO_BIN/$2") ;;
    esac
    return 0
}

for program in "${PROGRAMS[@]}"; do
    for lang in "${LANGS[@]}"; do
        set_command "$lang" "$program"
        [[ ${#CMD[@]} -gt 0 ]] || continue
        for ((run = 1; run <= RUNS; run++)); do
            # After a failure or a wrong answer, don't repeat the run.
            measure "$program" "$lang" "$DIR/$program.expected" "${CMD[@]}" || break
        done
        log "$program $lang: $(awk -F'\t' -v p="$program" -v l="$lang" \
            '$1 == p && $2 == l { printf "%s %.2fs ", $3, $4 }' "$MEASUREMENTS")"
    done
done

# ---- echo server ---------------------------------------------------------------------------
# Each server gets a port nobody listens on yet. The ports sit below the kernel's ephemeral
# range (32768-60999 by default): inside it, one of the client's own 1,000 connections (or
# one still closing from the previous run) can hold the port, and the next server's bind
# fails with EADDRINUSE.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

EPHEMERAL_LOW=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
next_free_port() {
    while port_open "$ECHO_PORT"; do ECHO_PORT=$((ECHO_PORT + 1)); done
    if ((ECHO_PORT >= EPHEMERAL_LOW)); then
        note "echo port $ECHO_PORT is in the ephemeral range (from $EPHEMERAL_LOW): a server may fail to bind"
    fi
    PORT=$ECHO_PORT
    ECHO_PORT=$((ECHO_PORT + 1))
}

# echo_run LANG: starts that runtime's echo server, runs the client against it once and
# appends "lang status connections messages rate p50 p99 max errors" to $ECHO_RESULTS.
echo_run() {
    local lang=$1 server_cmd=() line status
    next_free_port
    case $lang in
        capsule) server_cmd=("$CAPSULE" run "--allow-net=127.0.0.1:$PORT" "$DIR/echo_server.cap" "$PORT") ;;
        python3) server_cmd=("$PYTHON" "$DIR/echo_server.py" "$PORT") ;;
        node) server_cmd=("$NODE" "$DIR/echo_server.js" "$PORT") ;;
        go) server_cmd=("$GO_BIN/echo_server" "$PORT") ;;
    esac
    "${server_cmd[@]}" >"$WORK/server.out" 2>"$WORK/server.err" &
    SERVER_PID=$!
    # Wait for it to listen, or to die (a Capsule without fibers fails to compile the file).
    local waited=0
    until port_open "$PORT"; do
        if ! kill -0 "$SERVER_PID" 2>/dev/null || ((waited >= 200)); then
            wait "$SERVER_PID" 2>/dev/null
            {
                echo "!! FAIL: $lang echo_server (it never listened on port $PORT)"
                head -n 5 "$WORK/server.err"
            } | tee -a "$PROBLEMS" >&2
            printf '%s\tFAIL\t\t\t\t\t\t\t\n' "$lang" >>"$ECHO_RESULTS"
            kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null
            SERVER_PID=
            return 1
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
    line=$(timeout $((ECHO_SECONDS + 90)) "$WORK/echo_client" "$PORT" "$ECHO_CONNS" "$ECHO_SECONDS" 2>"$WORK/client.err")
    local rc=$?
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        status=FAIL  # the server died during the run
    elif [[ $rc -ne 0 ]]; then
        status=FAIL
    else
        status=OK
    fi
    kill "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
    SERVER_PID=
    if [[ $status != OK ]]; then
        {
            echo "!! FAIL: $lang echo_server (client exit $rc) $line"
            head -n 5 "$WORK/client.err"
            head -n 5 "$WORK/server.err"
        } | tee -a "$PROBLEMS" >&2
        printf '%s\tFAIL\t\t\t\t\t\t\t\n' "$lang" >>"$ECHO_RESULTS"
        return 1
    fi
    log "echo $lang: $line"
    # key=value pairs -> one TSV row.
    echo "$line" | awk -v lang="$lang" '{
        for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
        printf "%s\tOK\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", lang, f["connections"], f["messages"],
            f["rate"], f["p50_us"], f["p99_us"], f["max_us"], f["errors"]
    }' >>"$ECHO_RESULTS"
}

if [[ $ECHO == 1 ]]; then
    # Both the client and the servers need a descriptor per connection.
    ulimit -n $((ECHO_CONNS * 2 + 256)) 2>/dev/null ||
        note "could not raise the open-file limit to $((ECHO_CONNS * 2 + 256)) (it is $(ulimit -n))"
    if ! gcc -O2 -o "$WORK/echo_client" "$DIR/echo_client.c" 2>"$WORK/client-build.log"; then
        note "echo_client.c did not compile (gcc): the echo benchmark is skipped"
        cat "$WORK/client-build.log" >&2
    else
        for lang in capsule python3 node go; do
            case $lang in
                python3) [[ -n $PYTHON ]] || continue ;;
                node) [[ -n $NODE ]] || continue ;;
                go) [[ -x $GO_BIN/echo_server ]] || continue ;;
            esac
            for ((run = 1; run <= RUNS; run++)); do
                echo_run "$lang" || break
            done
        done
    fi
fi

# ---- report --------------------------------------------------------------------------------
versions() {
    local v=()
    [[ -n $LUA ]] && v+=("$("$LUA" -v 2>&1 | cut -d' ' -f1-2)")
    [[ -n $PYTHON ]] && v+=("$("$PYTHON" --version 2>&1)")
    [[ -n $NODE ]] && v+=("Node $("$NODE" --version)")
    [[ -n $GO ]] && v+=("$("$GO" version | cut -d' ' -f3)")
    local IFS=';'
    echo "${v[*]}" | sed 's/;/; /g'
}
{
    echo "# Capsule concurrency benchmarks"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '?')," \
        "$(uname -m), $(nproc) CPUs; $(versions); median of $RUNS runs."
    echo
    python3 "$DIR/report.py" "$MEASUREMENTS" "$ECHO_RESULTS" "$ECHO_CONNS" "$ECHO_SECONDS" "${PROGRAMS[@]}"
    if [[ -s $NOTES ]]; then
        echo
        echo "Notes:"
        sed 's/^/- /' "$NOTES"
    fi
    if [[ -s $PROBLEMS ]]; then
        echo
        echo "Problems:"
        echo '```'
        cat "$PROBLEMS"
        echo '```'
    fi
} | tee "$RESULTS_DIR/concurrency-latest.md"
cp "$MEASUREMENTS" "$RESULTS_DIR/concurrency-latest.tsv"
cp "$ECHO_RESULTS" "$RESULTS_DIR/concurrency-echo-latest.tsv"
