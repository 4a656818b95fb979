#!/usr/bin/env bash
# Builds the libFuzzer harnesses against the project's own sources and runs each for a
# bounded time on one core. See docs/fuzzing.md.
#
#   fuzz/run.sh                 build, then fuzz parser, compiler and run for FUZZ_SECONDS each
#   fuzz/run.sh parser          just one harness (parser | compiler | run | builtins); several may be given
#   fuzz/run.sh build           build only
#   FUZZ_SECONDS=600 fuzz/run.sh compiler
#
# Environment: FUZZ_SECONDS (default 60) per harness; FUZZ_TIMEOUT (default 2) seconds per
# input; FUZZ_FLAGS extra libFuzzer flags. Crashes are written to fuzz/crashes/<harness>/;
# the growing corpus lives in fuzz/corpus-work/<harness>/ (not committed).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
out="$here/.build-fuzz"
seconds=${FUZZ_SECONDS:-60}
timeout=${FUZZ_TIMEOUT:-2}
# CStandardOutput is CapsuleCore's header-only C module (C's stdout), found by its module map.
flags=(-swift-version 6 -package-name Capsule -parse-as-library -O -wmo -g
       -sanitize=fuzzer,address -Xcc -fsanitize=fuzzer-no-link -I "$root/Sources/CStandardOutput" -I "$root/Sources/CConfine" -I "$root/Sources/CEventPoll")

# Links fuzz/$1.swift into $out/$2 (gold's "Cannot export local symbol" noise filtered out).
link() {
    local module=$1 binary=$2
    shift 2
    rm -f "$out/$binary"
    swiftc "${flags[@]}" -module-name "$module" -I "$out" -o "$out/$binary" "fuzz/$module.swift" "$@" 2>&1 |
        { grep -v 'Cannot export local symbol' || true; }
    test -x "$out/$binary"
}

# Two modules, built in dependency order like SwiftPM does, so `package` and `internal`
# access stay as in the package and no names can clash.
build() {
    mkdir -p "$out"
    cd "$root"
    # Up to date when every harness is newer than every source and harness file.
    if [ -x "$out/builtins-fuzz" ] && [ -z "$(find Sources/CapsuleSyntax Sources/CapsuleCore Sources/CStandardOutput Sources/CEventPoll fuzz/*.swift fuzz/run.sh \
            -newer "$out/builtins-fuzz" -name '*.*' -print -quit)" ]; then
        echo "== harnesses are up to date"
        return
    fi
    echo "== building CapsuleSyntax"
    swiftc "${flags[@]}" -module-name CapsuleSyntax -emit-module -emit-module-path "$out/CapsuleSyntax.swiftmodule" \
        -c -o "$out/CapsuleSyntax.o" Sources/CapsuleSyntax/*.swift
    echo "== building CapsuleCore"
    swiftc "${flags[@]}" -module-name CapsuleCore -I "$out" -emit-module -emit-module-path "$out/CapsuleCore.swiftmodule" \
        -c -o "$out/CapsuleCore.o" $(find Sources/CapsuleCore -name '*.swift' | sort)
    echo "== linking harnesses"
    link ParserFuzz parser-fuzz "$out/CapsuleSyntax.o"
    link CompilerFuzz compiler-fuzz "$out/CapsuleCore.o" "$out/CapsuleSyntax.o"
    link RunFuzz run-fuzz "$out/CapsuleCore.o" "$out/CapsuleSyntax.o"
    link BuiltinsFuzz builtins-fuzz "$out/CapsuleCore.o" "$out/CapsuleSyntax.o"
}

# The seed corpus: every golden script and example (copied, so libFuzzer never writes there).
seed() {
    local dir="$here/corpus-work/$1"
    mkdir -p "$dir"
    find "$root/Tests/Scripts" "$root/examples" -name '*.cap' -print0 |
        while IFS= read -r -d '' f; do
            cp "$f" "$dir/seed-$(printf '%s' "${f#$root/}" | tr '/' '_')"
        done
}

fuzz() {
    local name=$1
    # The builtins harness reads its input as choices, not as a script: no script seeds.
    if [ "$name" = builtins ]; then mkdir -p "$here/corpus-work/$name"; else seed "$name"; fi
    mkdir -p "$here/crashes/$name"
    # One process on one core (no -jobs/-workers: those run it as a child logging to ./fuzz-N.log).
    local mode=()
    # The run harness can hang or exhaust memory by design (no instruction budget yet):
    # fork mode restarts the worker and skips those inputs instead of stopping.
    if [ "$name" = run ]; then mode=(-fork=1 -ignore_timeouts=1 -ignore_ooms=1); fi
    echo "== fuzzing $name for ${seconds}s"
    # Leak checking is off: only crashes and memory errors should stop a run.
    ASAN_OPTIONS=detect_leaks=0:${ASAN_OPTIONS:-} "$out/$name-fuzz" ${mode[@]+"${mode[@]}"} \
        -max_total_time="$seconds" -timeout="$timeout" -rss_limit_mb=2048 -max_len=4096 \
        -dict="$here/capsule.dict" -artifact_prefix="$here/crashes/$name/" \
        -print_final_stats=1 ${FUZZ_FLAGS:-} \
        "$here/corpus-work/$name"
}

targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(parser compiler run)
build
for t in "${targets[@]}"; do
    case $t in
    build) ;;
    parser|compiler|run|builtins) fuzz "$t" ;;
    *) echo "usage: fuzz/run.sh [build|parser|compiler|run|builtins]..." >&2; exit 64 ;;
    esac
done
