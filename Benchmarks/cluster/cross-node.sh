#!/usr/bin/env bash
# Cluster figures, side by side in one sitting (docs/benchmarks.md, "Cluster"):
#  1. cross-node posts: clients on node A, petrel-loadtest fanout POSTs through node B's admin at a
#     fixed rate (open loop), post → receive latency;
#  2. connect rate with the Redis registry vs the in-memory one (petrel-loadtest connect);
#  3. Redis commands per connect / message / post from INFO commandstats.
#   Benchmarks/cluster/cross-node.sh [RATE] [DURATION]
set -euo pipefail
cd "$(dirname "$0")/../.."
rate=${1:-10000}
duration=${2:-5s}
bin=${PETREL_BIN_DIR:-$(swift build -c release --show-bin-path)}
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT
rport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# Redis is server side: on CPU 0 with the nodes, so CPU 1 is the load tool's alone (unpinned,
# it time-shared CPU 1 with four client threads and put 11-12 ms into the p99 of THREADS=4 runs).
taskset -c 0 redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no > "$work/redis.log" & pids+=($!)
for _ in $(seq 50); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.1; done
. Benchmarks/integration/gateway.sh
write_gateway_config
start() { # name, extra args...
    local name=$1; shift
    taskset -c 0 "$bin/petrel" serve --config "$work/petrel.yaml" --threads 1 --node-id "$name" "$@" > "$work/$name.log" & pids+=($!)
    for _ in $(seq 100); do grep -q '"listener":"admin"' "$work/$name.log" 2>/dev/null && break; sleep 0.1; done
}
port() { grep -o "\"listener\":\"$2\",\"address\":\"[^\"]*" "$work/$1.log" | grep -o '[0-9]*$'; }
lt() { taskset -c 1 "$bin/petrel-loadtest" "$@" --quiet --json "$work/out.json" >/dev/null 2>&1 || true; python3 Benchmarks/integration/summarize.py "$work/out.json"; }
stats() { redis-cli -p "$rport" info commandstats | tr -d '\r' | awk -F'[:=,]' '/^cmdstat_/ {n+=$3} END {print n+0}'; }

start node-a --redis "redis://127.0.0.1:$rport/0"
start node-b --redis "redis://127.0.0.1:$rport/0"
echo "cross-node fanout (clients on A, posts via B, rate $rate/s): $(lt fanout -c 100 -t "${THREADS:-1}" --rate "$rate" -w 1s -d "$duration" \
    --admin-url "http://127.0.0.1:$(port node-b admin)" --token bench-token "ws://127.0.0.1:$(port node-a public)/")"
echo "same-node fanout (clients on A, posts via A):               $(lt fanout -c 100 -t "${THREADS:-1}" --rate "$rate" -w 1s -d "$duration" \
    --admin-url "http://127.0.0.1:$(port node-a admin)" --token bench-token "ws://127.0.0.1:$(port node-a public)/")"

redis-cli -p "$rport" config resetstat >/dev/null
c0=$(stats); echo "connect, Redis registry:     $(lt connect -c 200 -d "$duration" "ws://127.0.0.1:$(port node-a public)/")"
c1=$(stats)
start node-m
echo "connect, in-memory registry: $(lt connect -c 200 -d "$duration" "ws://127.0.0.1:$(port node-m public)/")"
connects=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["totals"]["messages"])' "$work/out.json" 2>/dev/null || echo 0)
echo "redis commands during the Redis connect run: $((c1 - c0)) (includes heartbeats of 2 nodes)"
m0=$(stats); lt echo -c 100 -k 4 -w 0s -d 3s "ws://127.0.0.1:$(port node-a public)/" >/dev/null; m1=$(stats)
echo "redis commands during 3 s of echo on node A (100 conns): $((m1 - m0)) (heartbeats only expected: ~6)"
