#!/usr/bin/env bash
# Latency Petrel adds to a message-route round trip through an `http` integration, measured side
# by side: (1) petrel-loadtest http POSTing an API Gateway-sized event straight to the backend,
# (2) petrel-loadtest echo through Petrel, whose `$default` route (respond: true) calls the same
# backend. Both closed loop, 1 connection × 1 in flight, so p50/p99 differences are Petrel's.
#   Benchmarks/integration/latency-added.sh [DURATION]
set -euo pipefail
cd "$(dirname "$0")/../.."
duration=${1:-5s}
bin=$(swift build -c release --show-bin-path)
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT
taskset -c 0 node Benchmarks/integration/node-backend.js 0 > "$work/backend.log" & pids+=($!)
for _ in $(seq 50); do grep -q listening "$work/backend.log" && break; sleep 0.1; done
bport=$(awk '/listening/ {print $2}' "$work/backend.log")
cat > "$work/petrel.yaml" <<YAML
listeners: {public: {address: 127.0.0.1:0}, admin: {address: 127.0.0.1:0}}
websocket: {routes: {\$default: {integration: backend, respond: true}}}
integrations: {backend: {type: http, url: "http://127.0.0.1:$bport/events", timeout: 5s}}
YAML
taskset -c 0 "$bin/petrel" serve --config "$work/petrel.yaml" --threads 1 > "$work/petrel.log" & pids+=($!)
for _ in $(seq 50); do grep -q '"listener":"public"' "$work/petrel.log" && break; sleep 0.1; done
pport=$(grep -o '"listener":"public","address":"[^"]*' "$work/petrel.log" | grep -o '[0-9]*$')
event='{"requestContext":{"routeKey":"$default","messageId":"AAAAAAAAAAAAAAAA","eventType":"MESSAGE","extendedRequestId":"AAAAAAAAAAAAAAAA","requestTime":"26/Nov/2026:21:00:00 +0000","messageDirection":"IN","stage":"$default","connectedAt":1764190800000,"requestTimeEpoch":1764190800000,"identity":{"sourceIp":"127.0.0.1","userAgent":null},"requestId":"AAAAAAAAAAAAAAAA","domainName":"127.0.0.1","connectionId":"AAAAAAAAAAAAAAAA","apiId":"petrel"},"body":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx","isBase64Encoded":false}'
run() { taskset -c 1 "$bin/petrel-loadtest" "$@" --quiet --json "$work/out.json" -w 1s -d "$duration" >/dev/null 2>&1 || true
        python3 Benchmarks/integration/summarize.py "$work/out.json"; }
echo "direct  (backend only):  $(run http -c 1 -k 1 -X POST -H 'content-type: application/json' --body "$event" "http://127.0.0.1:$bport/events")"
echo "gateway (ws->petrel->backend->ws): $(run echo -c 1 -k 1 -s 32 "ws://127.0.0.1:$pport/")"
