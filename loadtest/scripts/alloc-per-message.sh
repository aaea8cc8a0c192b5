#!/usr/bin/env bash
# Heap allocations per message on petrel-loadtest's own hot path (the client side), with the
# LD_PRELOAD counter of Benchmarks/alloc-count: two echo runs of different lengths against one
# server; start-up, connection set-up and shut-down cancel out in the difference.
#   loadtest/scripts/alloc-per-message.sh [loadtest-args...]   (default: echo -c 100 -k 4 -s 32)
# SCENARIO=http URL_PATH=/health runs the http scenario instead. LOADTEST_BIN / PETREL_BIN override binaries.
set -euo pipefail
cd "$(dirname "$0")/../.."
work=$(mktemp -d)
trap 'kill $srv 2>/dev/null || true; rm -rf "$work"' EXIT
cc -O2 -shared -fPIC -o "$work/malloc_count.so" Benchmarks/alloc-count/malloc_count.c -ldl
bindir=$(swift build -c release --show-bin-path)
tool=${LOADTEST_BIN:-$bindir/petrel-loadtest}
petrel=${PETREL_BIN:-$bindir/petrel}
scenario=${SCENARIO:-echo}
args=("$@"); [ ${#args[@]} -gt 0 ] || args=(-c 100 -k 4 -s 32)
"$petrel" serve --listen 127.0.0.1:0 --admin 127.0.0.1:0 --threads 1 > "$work/log" &
srv=$!
for _ in $(seq 50); do grep -q '"listener":"public"' "$work/log" 2>/dev/null && break; sleep 0.1; done
port=$(grep -o '"listener":"public","address":"[^"]*' "$work/log" | grep -o '[0-9]*$')
if [ "$scenario" = http ]; then url="http://127.0.0.1:$port${URL_PATH:-/health}"; else url="ws://127.0.0.1:$port/"; fi
# The shim writes its count on SIGUSR2; poll until the tool exits and keep the last value, which
# is taken after the measured window (during shut-down, the same in both runs).
run() {
    MALLOC_COUNT_FILE="$work/count" LD_PRELOAD="$work/malloc_count.so" \
        "$tool" "$scenario" "${args[@]}" -d "$1" --quiet --json "$work/r.json" "$url" > /dev/null &
    local pid=$! last=0
    sleep 0.5  # the shim installs its SIGUSR2 handler when the process starts; do not signal earlier
    while kill -USR2 $pid 2>/dev/null; do sleep 0.05; [ -s "$work/count" ] && last=$(cat "$work/count"); done
    wait $pid
    local sent
    sent=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["totals"]["sent"])' "$work/r.json")
    echo "$sent $last"
}
read -r m1 a1 < <(run 2s)
read -r m2 a2 < <(run 6s)
echo "short run: sent=$m1 allocations=$a1"
echo "long run:  sent=$m2 allocations=$a2"
awk -v m1="$m1" -v m2="$m2" -v a1="$a1" -v a2="$a2" \
    'BEGIN { printf "allocations per message: %.4f\n", (a2 - a1) / (m2 - m1) }'
