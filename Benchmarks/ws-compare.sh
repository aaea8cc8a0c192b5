#!/usr/bin/env bash
# Side-by-side WebSocket comparison: Petrel vs peer servers, measured with wsbench
# (/work/shared/bench, an independent C load generator; built into /tmp, never into the repo).
#
#   Benchmarks/ws-compare.sh [FILTER ...]
#
# FILTER words pick servers and/or scenarios (default: all of each):
#   servers:   petrel node-ws hummingbird extra
#   scenarios: a|echo-32  b|echo-1000x4  c|echo-16k  d|connect  e|idle
# The same can be given as SERVERS="petrel node-ws" SCENARIOS="a d" in the environment.
#
# Each (server, scenario) gets a fresh server process pinned to CPU 0 (taskset -c 0); wsbench runs
# pinned to CPU 1 (taskset -c 1) with -P <server pid>, so srv_cpu_* is the server's own CPU time.
# Scenarios (the project's comparison set):
#   a  echo  100 conns x 1 in flight x 32 B text
#   b  echo 1000 conns x 4 in flight x 32 B text
#   c  echo  100 conns x 1 in flight x 16 KiB binary
#   d  20 000 handshakes at concurrency 200          (-m connect -n 20000 -C 200)
#   e  10 000 idle connections held 5 s: server RSS bytes per connection (-m idle -c 10000 -T 5s)
#
# Environment:
#   WARMUP=1s DURATION=5s   echo warm-up / measured window
#   NOISE_MAX=15 RETRIES=2  rerun a scenario when other_cpu_pct > NOISE_MAX (keep the quietest run)
#   QUIET_WAIT=15           before each run, wait up to this many seconds for the machine to be quiet
#                           (busy CPU, in % of one core, <= NOISE_MAX over a 1 s sample)
#   NOISE_BUDGET=100        seconds the whole comparison may spend on such waits and reruns; once
#                           spent, every scenario runs once (keeps a noisy sitting near 5 minutes)
#   PETREL_BIN=...          default: $(swift build -c release --show-bin-path)/petrel
#   HB_BIN=...              default: hummingbird-echo from Benchmarks/peers/build.sh
#   EXTRA_SERVER_CMD='cmd --port {PORT}'  any other server; {PORT} is replaced by a free port
#   EXTRA_SERVER_NAME=extra EXTRA_READY_REGEX=''  (empty: ready when the port accepts TCP)
#   WSBENCH=/tmp/wsbench/wsbench  OUT_DIR=/tmp/ws-compare-<time>  (server logs, raw results)
#
# stdout: one line per (server, scenario) = "server=NAME scenario=X " + wsbench's key=value line,
# then a markdown table. Everything else goes to stderr.
set -uo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bench_src="${BENCH_SRC:-$repo/../shared/bench/wsbench.c}"
[ -f "$bench_src" ] || bench_src=/work/shared/bench/wsbench.c
WSBENCH="${WSBENCH:-/tmp/wsbench/wsbench}"
WARMUP="${WARMUP:-1s}"
DURATION="${DURATION:-5s}"
NOISE_MAX="${NOISE_MAX:-15}"
RETRIES="${RETRIES:-2}"
QUIET_WAIT="${QUIET_WAIT:-15}"
NOISE_BUDGET="${NOISE_BUDGET:-100}"
noise_spent=0
OUT_DIR="${OUT_DIR:-/tmp/ws-compare-$(date +%Y%m%d-%H%M%S)}"
EXTRA_SERVER_NAME="${EXTRA_SERVER_NAME:-extra}"
EXTRA_READY_REGEX="${EXTRA_READY_REGEX:-}"

all_servers=(petrel node-ws hummingbird)
[ -n "${EXTRA_SERVER_CMD:-}" ] && all_servers+=("$EXTRA_SERVER_NAME")
all_scenarios=(a b c d e)

log() { echo "ws-compare: $*" >&2; }

scenario_id() {
    case "$1" in
        a|echo-32) echo a ;;
        b|echo-1000x4) echo b ;;
        c|echo-16k) echo c ;;
        d|connect) echo d ;;
        e|idle) echo e ;;
        *) return 1 ;;
    esac
}
scenario_name() {
    case "$1" in
        a) echo "echo 100x1 32B text" ;;
        b) echo "echo 1000x4 32B text" ;;
        c) echo "echo 100x1 16KiB bin" ;;
        d) echo "20k handshakes C=200" ;;
        e) echo "idle 10k conns" ;;
    esac
}
scenario_args() {
    case "$1" in
        a) echo "-m echo -c 100 -k 1 -s 32 -w $WARMUP -d $DURATION" ;;
        b) echo "-m echo -c 1000 -k 4 -s 32 -w $WARMUP -d $DURATION" ;;
        c) echo "-m echo -c 100 -k 1 -s 16k -b -w $WARMUP -d $DURATION" ;;
        d) echo "-m connect -n 20000 -C 200 -d 60s" ;;
        e) echo "-m idle -c 10000 -C 200 -T 5s" ;;
    esac
}

# ---- filters (args and env) ----
want_servers=(); want_scen=()
for w in ${SERVERS:-} "$@"; do
    w="${w//,/ }"
    for x in $w; do
        if id="$(scenario_id "$x")"; then want_scen+=("$id")
        elif [[ " ${all_servers[*]} extra " == *" $x "* ]]; then want_servers+=("$x")
        else log "unknown server or scenario '$x' (servers: ${all_servers[*]}; scenarios: a-e)"; exit 2
        fi
    done
done
for x in ${SCENARIOS:-}; do
    x="${x//,/ }"
    for y in $x; do
        id="$(scenario_id "$y")" || { log "unknown scenario '$y'"; exit 2; }
        want_scen+=("$id")
    done
done
[ ${#want_servers[@]} -eq 0 ] && want_servers=("${all_servers[@]}")
[ ${#want_scen[@]} -eq 0 ] && want_scen=("${all_scenarios[@]}")

# ---- prerequisites ----
if [ "$(nproc --all)" -lt 2 ]; then log "need at least 2 CPUs (server on 0, client on 1)"; exit 2; fi
command -v taskset >/dev/null || { log "taskset missing (util-linux)"; exit 2; }

# 10 000 idle connections: the server needs > 10 000 descriptors (wsbench raises its own limit).
hard="$(ulimit -Hn)"
if [ "$hard" = unlimited ] || [ "$hard" -ge 10240 ]; then
    ulimit -Sn "$hard" 2>/dev/null || ulimit -Sn 20000 2>/dev/null || true
fi
if [ "$(ulimit -Sn)" != unlimited ] && [ "$(ulimit -Sn)" -lt 10240 ]; then
    log "warning: ulimit -n is $(ulimit -Sn) (hard $hard): the idle scenario (10 000 conns) will fail"
fi

if [ ! -x "$WSBENCH" ]; then
    mkdir -p "$(dirname "$WSBENCH")"
    log "building wsbench into $WSBENCH"
    cc -O2 -o "$WSBENCH" "$bench_src" -lpthread || { log "cannot build wsbench from $bench_src"; exit 2; }
fi
mkdir -p "$OUT_DIR"
log "logs and raw results in $OUT_DIR; nofile soft limit $(ulimit -Sn)"

# ---- servers ----
server_pid=""
bench_pid=""
cleanup() {
    if [ -n "$bench_pid" ]; then kill "$bench_pid" 2>/dev/null; wait "$bench_pid" 2>/dev/null; bench_pid=""; fi
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$server_pid" 2>/dev/null
        wait "$server_pid" 2>/dev/null
    fi
    server_pid=""
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

petrel_bin() {
    if [ -n "${PETREL_BIN:-}" ]; then echo "$PETREL_BIN"; return; fi
    # (timeout: swift build waits for the .build lock while another build of the repo runs)
    local p; p="$(cd "$repo" && timeout 60 swift build -c release --show-bin-path 2>/dev/null)" || p="$repo/.build/release"
    echo "$p/petrel"
}
hb_bin() {
    if [ -n "${HB_BIN:-}" ]; then echo "$HB_BIN"; return; fi
    local p; p="$(timeout 60 swift build -c release --package-path "$repo/Benchmarks/peers/hummingbird-echo" --show-bin-path 2>/dev/null)" \
        || p="$repo/Benchmarks/peers/hummingbird-echo/.build/release"
    echo "$p/hummingbird-echo"
}

# server_available NAME -> 0 if it can run, else prints a note on stderr
declare -A note
server_available() {
    case "$1" in
        petrel) PETREL="$(petrel_bin)"; [ -x "$PETREL" ] || { note[$1]="binary $PETREL missing (swift build -c release)"; return 1; } ;;
        node-ws)
            command -v node >/dev/null || { note[$1]="node missing"; return 1; }
            [ -e /usr/share/nodejs/ws ] || { note[$1]="/usr/share/nodejs/ws missing (apt-get install node-ws)"; return 1; } ;;
        hummingbird) HB="$(hb_bin)"; [ -x "$HB" ] || { note[$1]="binary $HB missing (Benchmarks/peers/build.sh)"; return 1; } ;;
        *) [ -n "${EXTRA_SERVER_CMD:-}" ] || { note[$1]="EXTRA_SERVER_CMD not set"; return 1; } ;;
    esac
}

# start_server NAME -> sets server_pid, server_port
start_server() {
    local name="$1" port logf="$OUT_DIR/$1-$2.log" regex
    port="$(free_port)"
    : >"$logf"
    case "$name" in
        petrel)
            taskset -c 0 "$PETREL" serve --listen "127.0.0.1:$port" --admin 127.0.0.1:0 --threads 1 >"$logf" 2>&1 &
            regex='"msg":"listener ready".*"listener":"public"|"listener":"public".*"msg":"listener ready"' ;;
        node-ws)
            taskset -c 0 node "$repo/Benchmarks/peers/node-ws-echo.js" "$port" >"$logf" 2>&1 &
            regex='^listening [0-9]+' ;;
        hummingbird)
            taskset -c 0 "$HB" "$port" 1 >"$logf" 2>&1 &
            regex='^listening [0-9]+' ;;
        *)
            local cmd="${EXTRA_SERVER_CMD//\{PORT\}/$port}"
            taskset -c 0 bash -c "exec $cmd" >"$logf" 2>&1 &
            regex="$EXTRA_READY_REGEX" ;;
    esac
    server_pid=$!
    server_port="$port"
    local i
    for i in $(seq 600); do
        if ! kill -0 "$server_pid" 2>/dev/null; then
            log "$name exited during start-up; log $logf:"; tail -5 "$logf" >&2; server_pid=""; return 1
        fi
        if [ -n "$regex" ]; then
            if grep -Eq "$regex" "$logf"; then
                if [ "$name" = petrel ]; then
                    local addr
                    addr="$(grep -E "$regex" "$logf" | head -1 | sed -nE 's/.*"address":"([^"]*)".*/\1/p')"
                    [ -n "$addr" ] && server_port="${addr##*:}"
                elif [ "$name" = node-ws ] || [ "$name" = hummingbird ]; then
                    server_port="$(grep -Eo '^listening [0-9]+' "$logf" | head -1 | awk '{print $2}')"
                fi
                return 0
            fi
        elif (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    log "$name not ready after 60 s; log $logf"; cleanup; return 1
}

# busy CPU of the whole machine over 1 s, in % of one core (user nice system irq softirq steal)
machine_busy_pct() {
    local a b
    a=($(head -1 /proc/stat)); sleep 1; b=($(head -1 /proc/stat))
    local hz; hz="$(getconf CLK_TCK)"
    echo $(( ( (b[1]+b[2]+b[3]+b[6]+b[7]+b[8]) - (a[1]+a[2]+a[3]+a[6]+a[7]+a[8]) ) * 100 / hz ))
}
wait_quiet() {
    local start=$SECONDS busy
    while :; do
        busy="$(machine_busy_pct)"
        [ "$busy" -le "$NOISE_MAX" ] && break
        if [ $((SECONDS - start)) -ge "$QUIET_WAIT" ] || [ $((noise_spent + SECONDS - start)) -ge "$NOISE_BUDGET" ]; then
            log "machine busy (${busy}% of a core); measuring anyway"; break
        fi
    done
    # the first 1 s sample is part of every run, not of the noise budget
    [ $((SECONDS - start)) -gt 1 ] && noise_spent=$((noise_spent + SECONDS - start - 1))
    return 0
}

field() { sed -nE "s/.*(^| )$1=([^ ]*).*/\2/p" <<<"$2"; }

results=()
run_one() {
    local name="$1" sc="$2" args line best="" best_noise=999999 try out noise
    # shellcheck disable=SC2207
    args=($(scenario_args "$sc"))
    local t_run
    for try in $(seq 0 "$RETRIES"); do
        [ "$try" -gt 0 ] && [ "$noise_spent" -ge "$NOISE_BUDGET" ] && break
        wait_quiet
        t_run=$SECONDS
        start_server "$name" "$sc" || { results+=("server=$name scenario=$sc failed=start"); echo "server=$name scenario=$sc failed=start"; return; }
        sleep 0.3
        # in the background + wait, so that INT/TERM stop the run at once (traps wait for a foreground job)
        taskset -c 1 "$WSBENCH" "${args[@]}" -P "$server_pid" "ws://127.0.0.1:$server_port/" \
            >"$OUT_DIR/.out" 2>>"$OUT_DIR/wsbench-$name-$sc.err" &
        bench_pid=$!
        wait "$bench_pid"
        bench_pid=""
        out="$(cat "$OUT_DIR/.out")"
        cleanup
        [ "$try" -gt 0 ] && noise_spent=$((noise_spent + SECONDS - t_run))
        line="server=$name scenario=$sc $out"
        noise="$(field other_cpu_pct "$out")"
        if [ -z "$noise" ]; then best="$line"; break; fi
        if [ "$noise" -lt "$best_noise" ]; then best="$line"; best_noise="$noise"; fi
        [ "$noise" -le "$NOISE_MAX" ] && break
        [ "$try" -lt "$RETRIES" ] && [ "$noise_spent" -lt "$NOISE_BUDGET" ] && log "$name/$sc: other_cpu_pct=$noise > $NOISE_MAX, running again"
    done
    echo "$best" | tee -a "$OUT_DIR/results.txt"
    results+=("$best")
}

t0=$(date +%s)
log "servers: ${want_servers[*]}; scenarios: ${want_scen[*]}; echo -w $WARMUP -d $DURATION"
for s in "${want_servers[@]}"; do
    if ! server_available "$s"; then
        log "skipping $s: ${note[$s]}"
        continue
    fi
    for sc in "${want_scen[@]}"; do
        run_one "$s" "$sc"
    done
done
t1=$(date +%s)

# ---- markdown table ----
echo
echo "| server | scenario | msgs/s or hs/s | p50 µs | p99 µs | srv_cpu_pct | srv_cpu_us_per_msg | srv_cpu_us_per_hs | srv_bytes_per_conn | client_cpu_pct | other_cpu_pct | errors |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for r in "${results[@]}"; do
    n="$(field server "$r")"; sc="$(field scenario "$r")"
    rate="$(field msgs_per_s "$r")"; [ -z "$rate" ] && rate="$(field handshakes_per_s "$r")"
    [ -z "$rate" ] && [ "$sc" = e ] && rate="$(field open_at_end "$r")/$(field conns "$r") open"
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' \
        "$n" "$sc: $(scenario_name "$sc")" "${rate:--}" "$(field p50_us "$r")" "$(field p99_us "$r")" \
        "$(field srv_cpu_pct "$r")" "$(field srv_cpu_us_per_msg "$r")" "$(field srv_cpu_us_per_hs "$r")" \
        "$(field srv_bytes_per_conn "$r")" "$(field client_cpu_pct "$r")" "$(field other_cpu_pct "$r")" \
        "$(field errors "$r")"
done
for s in "${want_servers[@]}"; do
    [ -n "${note[$s]:-}" ] && echo && echo "- $s skipped: ${note[$s]}"
done
echo
echo "_$(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), kernel $(uname -r)); server on CPU 0, wsbench on CPU 1; echo -w $WARMUP -d $DURATION; took $((t1 - t0)) s, of which ${noise_spent} s waiting for quiet or rerunning noisy runs._"
