#!/usr/bin/env bash
# HTTP API routes under wrk (docs/benchmarks.md, "HTTP API routes"): a mock route with keep-alive,
# and an http_proxy route to a local backend compared with calling that backend directly.
#
#   Benchmarks/http-api/run.sh [PETREL_BIN]      # default: release build in .build-http
#   DURATION=5s CONNS=100 RUNS=3 Benchmarks/http-api/run.sh
#
# Petrel (the gateway under test) is pinned to CPU 0; wrk (`-t1`) and the backend — a second
# petrel answering a mock route, so the backend costs the same in both proxy runs — to CPU 1.
# Server CPU per request = (utime+stime of the gateway over the run) / requests.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${1:-.build-http/release/petrel}
DURATION=${DURATION:-5s}
CONNS=${CONNS:-100}
RUNS=${RUNS:-3}
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
TICK=$(getconf CLK_TCK)

. Benchmarks/http-api/lib.sh
start_backend
start_gateway

run() {  # name url pid-to-measure
    local name=$1 url=$2 pid=$3
    taskset -c 1 wrk -t1 -c"$CONNS" -d1s "$url" > /dev/null   # warm-up
    for i in $(seq "$RUNS"); do wrk_run "$name" "$url" "$pid" "$i"; done
}

echo "# wrk -t1 -c$CONNS -d$DURATION, gateway pid $GW_PID on CPU 0, wrk and backend on CPU 1; $(date -u +%FT%TZ)"
run "petrel-mock" "http://127.0.0.1:$GATEWAY/mock" "$GW_PID"
run "backend-direct" "http://127.0.0.1:$BACKEND/x" "$BACKEND_PID"
run "petrel-http_proxy" "http://127.0.0.1:$GATEWAY/p/x" "$GW_PID"
