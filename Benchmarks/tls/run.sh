#!/usr/bin/env bash
# TLS cost, side by side on one build (docs/benchmarks.md, "TLS"): the same Petrel config served
# over ws:// and over wss:// with an ECDSA P-256 and an RSA-2048 certificate.
#
#   Benchmarks/tls/run.sh [BIN_DIR]     # default: `swift build -c release --show-bin-path`
#   DURATION=5s RUNS=3 HOLD=10000 Benchmarks/tls/run.sh
#
# Rows (each server started fresh, pinned to CPU 0; petrel-loadtest pinned to CPU 1):
#   connect  TLS 1.3 (+ WebSocket upgrade) handshakes/s and server CPU per handshake, 50 at once
#   echo     100 connections x 4 in flight x 32 B: msgs/s and server CPU per message
#   hold     HOLD idle connections for 5 s: server RSS per connection
# Server CPU comes from /proc/PID/stat over the measured window (the tool's --server-pid).
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${1:-$(swift build -c release --show-bin-path)}
DURATION=${DURATION:-5s}
RUNS=${RUNS:-3}
HOLD=${HOLD:-10000}
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
command -v openssl > /dev/null || { echo "needs the openssl CLI" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
    -keyout "$WORK/ecdsa.key" -out "$WORK/ecdsa.crt" 2> /dev/null
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
    -keyout "$WORK/rsa.key" -out "$WORK/rsa.crt" 2> /dev/null

config() {  # kind -> config file
    local tls=""
    [ "$1" != plain ] && tls="    tls: {certificate: $WORK/$1.crt, private_key: $WORK/$1.key}"
    cat > "$WORK/$1.yaml" <<YAML
listeners:
  public:
$tls
websocket:
  limits: {idle_timeout: 600s}
  routes:
    \$default: {integration: echo}
integrations:
  echo: {type: mock, mode: echo}
YAML
    echo "$WORK/$1.yaml"
}

start() {  # kind -> sets PID, URL
    local log="$WORK/$1.log"
    rm -f "$log"   # a previous run's log would name its (dead) port
    taskset -c 0 "$BIN/petrel" serve --config "$(config "$1")" --listen 127.0.0.1:0 --admin 127.0.0.1:0 \
        --threads 1 > "$log" 2>&1 &
    PID=$!
    local port=""
    for _ in $(seq 100); do
        port=$(grep '"public"' "$log" 2>/dev/null | grep -o '127.0.0.1:[0-9]*' | head -1 | cut -d: -f2 || true)
        [ -n "$port" ] && break
        sleep 0.1
    done
    [ -n "$port" ] || { echo "no listener in $log" >&2; cat "$log" >&2; exit 1; }
    if [ "$1" = plain ]; then URL="ws://127.0.0.1:$port/"; else URL="wss://127.0.0.1:$port/"; fi
}

field() {  # json-file python-expression-on-d
    python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"
}

load() {  # scenario kind extra-args... -> prints one result line
    local scenario=$1 kind=$2; shift 2
    start "$kind"
    local out="$WORK/$scenario-$kind.json"
    taskset -c 1 "$BIN/petrel-loadtest" "$scenario" --insecure --quiet --server-pid "$PID" \
        --json "$out" "$@" "$URL" > /dev/null
    kill "$PID"; wait "$PID" 2> /dev/null || true
    local n cpu
    case $scenario in
        connect) n=$(field "$out" "d['totals'].get('handshakes', d['totals']['messages'])") ;;
        *) n=$(field "$out" "d['totals']['messages']") ;;
    esac
    cpu=$(field "$out" "d['totals'].get('server_cpu_pct', 0)")
    case $scenario in
        hold) echo "hold $kind conns=$(field "$out" "d['totals']['open_at_end']") server_bytes_per_conn=$(field "$out" "d['totals']['server_bytes_per_connection']") errors=$(field "$out" "d['totals']['errors']")" ;;
        *) echo "$scenario $kind per_s=$(field "$out" "round(d['throughput_per_s'])") server_cpu_pct=$cpu" \
                "server_us_per_op=$(field "$out" "round(d['totals'].get('server_cpu_pct',0)*1e4/max(d['throughput_per_s'],1),2)")" \
                "client_cpu_pct=$(field "$out" "d['totals']['client_cpu_pct']")" \
                "p50_us=$(field "$out" "d['latency_us']['p50']") p99_us=$(field "$out" "d['latency_us']['p99']")" \
                "errors=$(field "$out" "d['totals']['errors']")" ;;
    esac
}

echo "# $(date -u +%FT%TZ) $(git rev-parse --short HEAD 2>/dev/null || true) duration=$DURATION runs=$RUNS hold=$HOLD"
for run in $(seq "$RUNS"); do
    for kind in plain ecdsa rsa; do load connect "$kind" -c 50 -d "$DURATION"; done
    for kind in plain ecdsa; do load echo "$kind" -c 100 -k 4 -w 1s -d "$DURATION"; done
done
for kind in plain ecdsa rsa; do load hold "$kind" -c "$HOLD" -d 5s; done
