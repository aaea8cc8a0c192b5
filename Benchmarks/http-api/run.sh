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

port_of() {  # the public port from the `listener ready` line of a log
    for _ in $(seq 100); do
        p=$(grep -o '"listener":"public"[^}]*' "$1" 2>/dev/null | grep -o '127.0.0.1:[0-9]*' | head -1 | cut -d: -f2 || true)
        [ -z "$p" ] && p=$(grep '"public"' "$1" 2>/dev/null | grep -o '127.0.0.1:[0-9]*' | head -1 | cut -d: -f2 || true)
        [ -n "$p" ] && { echo "$p"; return; }
        sleep 0.1
    done
    echo "no port in $1" >&2; exit 1
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

cat > "$WORK/backend.yaml" <<'YAML'
http: {routes: {"$default": {integration: ok}}}
integrations: {ok: {type: mock, status: 200, body: '{"ok":true}', headers: {content-type: application/json}}}
YAML
taskset -c 1 "$BIN" serve --config "$WORK/backend.yaml" --listen 127.0.0.1:0 --admin 127.0.0.1:0 --threads 1 > "$WORK/backend.log" &
BACKEND=$(port_of "$WORK/backend.log")

cat > "$WORK/gateway.yaml" <<YAML
http:
  routes:
    "GET /mock": {integration: ok}
    "ANY /p/{proxy+}": {integration: api}
integrations:
  ok: {type: mock, status: 200, body: '{"ok":true}', headers: {content-type: application/json}}
  api: {type: http_proxy, url: "http://127.0.0.1:$BACKEND/{proxy}"}
YAML
taskset -c 0 "$BIN" serve --config "$WORK/gateway.yaml" --listen 127.0.0.1:0 --admin 127.0.0.1:0 --threads 1 > "$WORK/gateway.log" &
GW_PID=$!
GATEWAY=$(port_of "$WORK/gateway.log")

run() {  # name url pid-to-measure
    local name=$1 url=$2 pid=$3
    taskset -c 1 wrk -t1 -c"$CONNS" -d1s "$url" > /dev/null   # warm-up
    for i in $(seq "$RUNS"); do
        local before after out reqs
        before=$(cpu_ticks "$pid")
        out=$(taskset -c 1 wrk -t1 -c"$CONNS" -d"$DURATION" --latency "$url")
        after=$(cpu_ticks "$pid")
        reqs=$(echo "$out" | awk '/requests in/ {print $1}')
        local rps p50 p99 non2xx errs
        rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
        p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
        p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
        non2xx=$(echo "$out" | awk '/Non-2xx/ {print $5}')
        errs=$(echo "$out" | awk '/Socket errors/ {print $0}')
        awk -v n="$name" -v i="$i" -v r="$rps" -v a="$p50" -v b="$p99" -v t=$((after - before)) -v k="$TICK" -v q="$reqs" \
            -v x="${non2xx:-0}" -v e="${errs:-none}" \
            'BEGIN { printf "%s run=%d req_per_s=%s p50=%s p99=%s server_cpu_s=%.2f server_cpu_us_per_req=%.2f non2xx=%s errors=%s\n", n, i, r, a, b, t/k, (t/k)*1e6/q, x, e }'
    done
}

echo "# wrk -t1 -c$CONNS -d$DURATION, gateway pid $GW_PID on CPU 0, wrk and backend on CPU 1; $(date -u +%FT%TZ)"
run "petrel-mock" "http://127.0.0.1:$GATEWAY/mock" "$GW_PID"
run "backend-direct" "http://127.0.0.1:$BACKEND/x" "$(pgrep -f "$WORK/backend.yaml" | head -1)"
run "petrel-http_proxy" "http://127.0.0.1:$GATEWAY/p/x" "$GW_PID"
