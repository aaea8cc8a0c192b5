#!/usr/bin/env bash
# Heap allocations per echoed message on Petrel's echo path: two wsbench echo runs of different
# lengths against one server; connection set-up cancels out in the difference.
#   Benchmarks/alloc-count/alloc-per-message.sh [wsbench-args...]   (default: -c 100 -k 4 -s 32)
set -euo pipefail
cd "$(dirname "$0")/../.."
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
cc -O2 -shared -fPIC -o "$work/malloc_count.so" Benchmarks/alloc-count/malloc_count.c -ldl
wsbench=${WSBENCH:-/tmp/wsbench/wsbench}
[ -x "$wsbench" ] || { mkdir -p "$(dirname "$wsbench")"; cc -O2 -o "$wsbench" ../shared/bench/wsbench.c -lpthread; }
bin=$(swift build -c release --show-bin-path)/petrel
args=("$@"); [ ${#args[@]} -gt 0 ] || args=(-c 100 -k 4 -s 32)
MALLOC_COUNT_FILE="$work/count" LD_PRELOAD="$work/malloc_count.so" \
    "$bin" serve --listen 127.0.0.1:0 --admin 127.0.0.1:0 --threads 1 > "$work/log" &
pid=$!
for _ in $(seq 50); do grep -q '"listener":"public"' "$work/log" 2>/dev/null && break; sleep 0.1; done
port=$(grep -o '"listener":"public","address":"[^"]*' "$work/log" | grep -o '[0-9]*$')
sample() { kill -USR2 $pid; sleep 0.2; cat "$work/count"; }
run() { "$wsbench" -m echo "${args[@]}" -w 0s -d "$1" "ws://127.0.0.1:$port/" 2>/dev/null | grep -o 'msgs=[0-9]*' | cut -d= -f2; }
a0=$(sample); m1=$(run 1s); a1=$(sample); m2=$(run 3s); a2=$(sample)
echo "short run: msgs=$m1 allocations=$((a1 - a0))"
echo "long run:  msgs=$m2 allocations=$((a2 - a1))"
awk -v m1="$m1" -v m2="$m2" -v d1=$((a1 - a0)) -v d2=$((a2 - a1)) \
    'BEGIN { printf "allocations per message: %.4f\n", (d2 - d1) / (m2 - m1) }'
