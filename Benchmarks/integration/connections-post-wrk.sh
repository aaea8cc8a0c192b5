#!/usr/bin/env bash
# @connections POST under a saturating load, as issue 4 asks: wrk with a Lua POST script and
# bearer auth over keep-alive connections, posting round robin to 100 receivers held open by
# `petrel-loadtest hold` (which reads and discards every message). Server CPU per delivered post
# = the gateway's utime+stime over the wrk run / 200 answers (a 200 means the frame was written
# to the receiver's socket or queued for it; a receiver that fell behind would turn posts into
# 429s, which are reported).
#   Benchmarks/integration/connections-post-wrk.sh [WRK_CONNECTIONS] [DURATION]
#   PETREL_BIN_DIR=.build/release  (default: swift build -c release --show-bin-path)
set -euo pipefail
cd "$(dirname "$0")/../.."
conns=${1:-32}
duration=${2:-5s}
# PIPELINE=N sends N requests back to back on each connection before reading (HTTP/1.1
# pipelining, as petrel-loadtest fanout's -k does); 1 = one request in flight per connection.
pipeline=${PIPELINE:-1}
receivers=100
bin=${PETREL_BIN_DIR:-$(swift build -c release --show-bin-path)}
command -v wrk > /dev/null || apt-get install -y wrk > /dev/null
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
. Benchmarks/integration/gateway.sh
start_gateway
taskset -c 1 "$bin/petrel-loadtest" hold -c "$receivers" -d 60s --quiet "ws://127.0.0.1:$pport/" > /dev/null 2>&1 &
ids=""
for _ in $(seq 100); do
    ids=$(curl -s -H "Authorization: Bearer bench-token" "http://127.0.0.1:$aport/@connections?limit=10000" |
          python3 -c 'import json, sys; d = json.load(sys.stdin); print(" ".join(d["connectionIds"]) if d["count"] >= '"$receivers"' else "")')
    [ -n "$ids" ] && break
    sleep 0.1
done
[ -n "$ids" ] || { echo "receivers did not connect" >&2; exit 1; }
{
    echo "local ids = {"
    for id in $ids; do echo "  \"$id\","; done
    echo "}"
    echo "local PIPELINE = $pipeline"
    cat <<'LUA'
local n = 0
wrk.method = "POST"
wrk.body = '{"type":"bench","text":"hello from wrk"}'
wrk.headers["Authorization"] = "Bearer bench-token"
wrk.headers["Content-Type"] = "application/json"
request = function()
    local batch = ""
    for _ = 1, PIPELINE do
        n = n + 1
        batch = batch .. wrk.format(nil, "/@connections/" .. ids[n % #ids + 1])
    end
    return batch
end
LUA
} > "$work/post.lua"
taskset -c 1 wrk -t1 -c"$conns" -d1s -s "$work/post.lua" "http://127.0.0.1:$aport" > /dev/null   # warm-up
before=$(awk '{print $14 + $15}' /proc/$pid/stat)
out=$(taskset -c 1 wrk -t1 -c"$conns" -d"$duration" --latency -s "$work/post.lua" "http://127.0.0.1:$aport")
after=$(awk '{print $14 + $15}' /proc/$pid/stat)
# wrk counts every response of a pipelined batch.
reqs=$(echo "$out" | awk '/requests in/ {print $1}')
non2xx=$(echo "$out" | awk '/Non-2xx/ {print $5}')
echo "$out" | grep -E "Requests/sec|50%|99%|Non-2xx|Socket errors" || true
awk -v t=$((after - before)) -v k="$(getconf CLK_TCK)" -v q="$reqs" -v x="${non2xx:-0}" -v c="$conns" -v p="$pipeline" \
    'BEGIN { printf "wrk_connections=%d pipeline=%d posts=%d non2xx=%d server_cpu_us_per_post=%.2f\n", c, p, q, x, (t/k)*1e6/(q-x) }'
