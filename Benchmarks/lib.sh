# Shared by the benchmark runners (Benchmarks/run.sh, Benchmarks/concurrency/run.sh):
# installing the tools, building capsule, and timing one run. Source it after setting ROOT,
# WORK, RESULTS_DIR, TIMEOUT, MEASUREMENTS and PROBLEMS.

log() { echo "== $*" >&2; }

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

# install_tools: lua5.4 and /usr/bin/time (for peak RSS), when missing.
install_tools() {
    if ! command -v lua5.4 >/dev/null; then
        log "installing lua5.4"
        apt_install lua5.4 || echo "warning: could not install lua5.4; its cells will FAIL" >&2
    fi
    if [[ ! -x /usr/bin/time ]]; then
        log "installing time (for peak RSS)"
        apt_install time || echo "warning: could not install time; peak RSS will be missing" >&2
    fi
}

# build_capsule LOG_NAME: sets CAPSULE to $CAPSULE_BIN, or builds a release binary (its log in
# $RESULTS_DIR/LOG_NAME); a failed build leaves a path that does not exist, so every run FAILs.
build_capsule() {
    CAPSULE=${CAPSULE_BIN:-}
    if [[ -z $CAPSULE ]]; then
        log "building capsule (swift build -c release --product capsule)"
        if (cd "$ROOT" && swift build -c release --product capsule) >"$RESULTS_DIR/$1" 2>&1; then
            CAPSULE=$(cd "$ROOT" && swift build -c release --show-bin-path)/capsule
        else
            echo "!! capsule build FAILED (see $RESULTS_DIR/$1); its cells will show FAIL" >&2
            tail -n 20 "$RESULTS_DIR/$1" >&2
            CAPSULE=$WORK/no-capsule-binary
        fi
    fi
    log "capsule binary: $CAPSULE"
}

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
