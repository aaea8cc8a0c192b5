#!/usr/bin/env bash
# @connections POST throughput and server CPU per delivered post on one node: petrel-loadtest
# fanout (closed loop; clients learn their ids from a whoami mock route, the tool POSTs to
# /@connections/{id} with bearer auth over keep-alive and measures post → receive).
#   Benchmarks/integration/connections-post.sh [CONNECTIONS] [DURATION]
set -euo pipefail
cd "$(dirname "$0")/../.."
conns=${1:-100}
duration=${2:-5s}
bin=${PETREL_BIN_DIR:-$(swift build -c release --show-bin-path)}
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
. Benchmarks/integration/gateway.sh
start_gateway
before=$(awk '{print $14 + $15}' /proc/$pid/stat)
taskset -c 1 "$bin/petrel-loadtest" fanout -c "$conns" -k 4 -w 1s -d "$duration" --quiet --json "$work/out.json" --server-pid "$pid" \
    --admin-url "http://127.0.0.1:$aport" --token bench-token "ws://127.0.0.1:$pport/" >/dev/null 2>&1 || true
after=$(awk '{print $14 + $15}' /proc/$pid/stat)
python3 Benchmarks/integration/summarize.py "$work/out.json"
python3 - "$work/out.json" "$before" "$after" "$(getconf CLK_TCK)" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
totals = report["totals"]
ticks = int(sys.argv[3]) - int(sys.argv[2])
delivered = totals["messages"]
cpu_us = ticks * 1e6 / int(sys.argv[4])
# The measured window alone (the tool samples the server's CPU time at its start and end), and
# the whole run including warm-up posts and the receivers' set-up (an upper bound).
window_us = totals["server_cpu_pct"] / 100 * totals["measured_s"] * 1e6
print("delivered=%d server_cpu_pct=%d server_cpu_us_per_post=%.2f (measured window) whole_run_us_per_post=%.2f"
      % (delivered, totals["server_cpu_pct"], window_us / max(delivered, 1), cpu_us / max(delivered, 1)))
PY
