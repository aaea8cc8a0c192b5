# Shared by the HTTP API benchmark scripts (run.sh, nginx-compare.sh): sourced, not run.
# Needs BIN (petrel binary), WORK (temp dir), CONNS, DURATION, TICK; defines BACKEND, GATEWAY
# and GW_PID through start_backend / start_gateway.

port_of() {  # the public port from the `listener ready` line of a petrel log
    for _ in $(seq 100); do
        p=$(grep '"listener":"public"' "$1" 2>/dev/null | grep -o '127.0.0.1:[0-9]*' | head -1 | cut -d: -f2 || true)
        [ -n "$p" ] && { echo "$p"; return; }
        sleep 0.1
    done
    echo "no port in $1" >&2; exit 1
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
user_ticks() { awk '{print $14}' "/proc/$1/stat"; }

# The backend of every proxy run: a second petrel answering a mock route on CPU 1 (with wrk),
# so it costs the same whichever server proxies to it.
start_backend() {
    cat > "$WORK/backend.yaml" <<'YAML'
http: {routes: {"$default": {integration: ok}}}
integrations: {ok: {type: mock, status: 200, body: '{"ok":true}', headers: {content-type: application/json}}}
YAML
    taskset -c 1 "$BIN" serve --config "$WORK/backend.yaml" --listen 127.0.0.1:0 --admin 127.0.0.1:0 --threads 1 > "$WORK/backend.log" &
    BACKEND_PID=$!
    BACKEND=$(port_of "$WORK/backend.log")
}

# The gateway under test on CPU 0: `GET /mock` (mock) and `ANY /p/{proxy+}` (http_proxy to the backend).
start_gateway() {
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
}

# One wrk run (wrk on CPU 1) → one line: requests/s, latency, the server's CPU per request
# ((utime+stime of `pid` over the run) / requests), non-2xx responses, socket errors, then the
# same CPU split into user space and kernel (utime and stime alone).
wrk_run() {  # name url pid run
    local name=$1 url=$2 pid=$3 i=$4 before after ubefore uafter out reqs rps p50 p99 non2xx errs
    before=$(cpu_ticks "$pid"); ubefore=$(user_ticks "$pid")
    out=$(taskset -c 1 wrk -t1 -c"$CONNS" -d"$DURATION" --latency "$url")
    after=$(cpu_ticks "$pid"); uafter=$(user_ticks "$pid")
    reqs=$(echo "$out" | awk '/requests in/ {print $1}')
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
    p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
    non2xx=$(echo "$out" | awk '/Non-2xx/ {print $5}')
    errs=$(echo "$out" | awk '/Socket errors/ {sub(/^ *Socket errors: */, ""); gsub(/ /, ""); print}')
    awk -v n="$name" -v i="$i" -v r="$rps" -v a="$p50" -v b="$p99" -v t=$((after - before)) -v k="$TICK" -v q="$reqs" \
        -v x="${non2xx:-0}" -v e="${errs:-none}" -v u=$((uafter - ubefore)) \
        'BEGIN { printf "%s run=%d req_per_s=%s p50=%s p99=%s server_cpu_us_per_req=%.2f non2xx=%s socket_errors=%s user_us=%.2f sys_us=%.2f\n", n, i, r, a, b, (t/k)*1e6/q, x, e, (u/k)*1e6/q, ((t-u)/k)*1e6/q }'
}
