#!/usr/bin/env bash
# Builds the libFuzzer targets in Fuzz/ and runs each for SECONDS (default 60).
#   scripts/fuzz.sh                     every target, 60 s each
#   scripts/fuzz.sh FuzzFrameDecoder 300
#   FUZZ_RUNS=10000000 scripts/fuzz.sh FuzzConfigLoader 7200   stop after 10 M executions
# Prints "TARGET runs=N result=ok|crash" per target; exits 1 if any target crashed.
# Seeds: Fuzz/corpus/TARGET (committed), copied into Fuzz/corpus-work/TARGET (gitignored), which
# the fuzzer grows. Crashing inputs land in Fuzz/artifacts/; turn each into a named regression test.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

all_targets=(FuzzHTTPParser FuzzHTTPResponseDecoder FuzzFrameDecoder FuzzUTF8 FuzzRouteSelection FuzzProxyProtocol FuzzConfigLoader FuzzTLSRecords)
targets=("${all_targets[@]}")
if [[ $# -ge 1 && "$1" != "all" ]]; then targets=("$1"); fi
seconds="${2:-60}"
runs_limit=()
if [[ -n "${FUZZ_RUNS:-}" ]]; then runs_limit=(-runs="$FUZZ_RUNS"); fi

# The -Xswiftc flag matters: SwiftPM passes -sanitize=fuzzer and -sanitize=address as two
# flags, and swiftc keeps only the last, so without it nothing is coverage-instrumented and
# libFuzzer fuzzes blind ("no interesting inputs were found"). The --sanitize options still make
# SwiftPM link both runtimes.
build=(swift build --package-path Fuzz -c release --sanitize=fuzzer --sanitize=address
       -Xswiftc -sanitize=fuzzer,address --scratch-path Fuzz/.build-fuzz)
# One product at a time: a whole-package build would also compile the root package's
# executables with the fuzzer flags, which they do not build under.
for target in "${targets[@]}"; do "${build[@]}" --product "$target" >&2; done
bin="$("${build[@]}" --show-bin-path)"

mkdir -p Fuzz/artifacts Fuzz/corpus-work
status=0
for target in "${targets[@]}"; do
    dict="Fuzz/dict/$(echo "$target" | tr '[:upper:]' '[:lower:]').dict"
    work="Fuzz/corpus-work/$target"
    mkdir -p "$work"
    cp -n "Fuzz/corpus/$target"/* "$work"/ 2>/dev/null || true
    log="Fuzz/corpus-work/$target.log"
    set +e
    SWIFT_BACKTRACE=enable=no "$bin/$target" "$work" \
        -dict="$dict" -max_total_time="$seconds" "${runs_limit[@]}" -print_final_stats=1 \
        -artifact_prefix=Fuzz/artifacts/ -max_len=4096 -timeout=10 -rss_limit_mb=2048 >"$log" 2>&1
    code=$?
    set -e
    runs="$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' | tail -1)"
    if [[ $code -eq 0 ]]; then result=ok; else result=crash; status=1; fi
    echo "$target runs=${runs:-0} result=$result"
    if [[ $result == crash ]]; then
        grep -E 'ERROR|Fatal error|precondition|Test unit written' "$log" | head -5 >&2 || true
    fi
done
exit $status
