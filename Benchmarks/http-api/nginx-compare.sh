#!/usr/bin/env bash
# Petrel's HTTP routes side by side with nginx (docs/benchmarks.md, "HTTP API routes"):
#   - a Petrel `mock` route vs nginx `return 200`              (issue 7 target: ratio >= 1.0)
#   - a Petrel `http_proxy` route vs nginx `proxy_pass` with upstream keep-alive, both to the
#     same local backend                                          (issue 7 target: ratio >= 0.8)
#
#   Benchmarks/http-api/nginx-compare.sh [PETREL_BIN]   # default: release build in .build-http
#   DURATION=5s CONNS=100 RUNS=3 Benchmarks/http-api/nginx-compare.sh
#
# Same pinning for both servers: the server under test on CPU 0 (Petrel `--threads 1`, nginx as
# one process of the current user, `master_process off`); wrk (`-t1`) and the backend (a second
# petrel answering a mock route) on CPU 1. Runs alternate Petrel, nginx, Petrel, nginx, ... so a
# busy neighbour hurts both alike; each run's ratio is Petrel's requests/s over the nginx run
# right after it, and the summary is the median of those ratios. Server CPU per request =
# (utime+stime of the server over the run) / requests, from /proc.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${1:-.build-http/release/petrel}
DURATION=${DURATION:-5s}
CONNS=${CONNS:-100}
RUNS=${RUNS:-3}
PATH=$PATH:/usr/sbin
if ! command -v nginx > /dev/null || ! command -v wrk > /dev/null; then
    # Benchmark-only tools (the tests do not need them): installed on demand.
    apt-get install -y nginx wrk > /dev/null || { echo "nginx and wrk are needed: apt-get install -y nginx wrk" >&2; exit 2; }
fi
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"' EXIT
TICK=$(getconf CLK_TCK)

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null && return; sleep 0.1; done; echo "nothing on port $1" >&2; exit 1; }
. Benchmarks/http-api/lib.sh
start_backend
start_gateway
PETREL=$GATEWAY PETREL_PID=$GW_PID

NGINX=$(free_port)
mkdir -p "$WORK/nginx"
cat > "$WORK/nginx/nginx.conf" <<CONF
# One process of the current user, like Petrel --threads 1.
daemon off;
master_process off;
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $WORK/nginx/body;
    proxy_temp_path $WORK/nginx/proxy;
    fastcgi_temp_path $WORK/nginx/fastcgi;
    uwsgi_temp_path $WORK/nginx/uwsgi;
    scgi_temp_path $WORK/nginx/scgi;
    keepalive_requests 1000000;
    upstream backend {
        server 127.0.0.1:$BACKEND;
        keepalive 64;
    }
    server {
        listen 127.0.0.1:$NGINX reuseport;
        location = /mock {
            default_type application/json;
            return 200 '{"ok":true}';
        }
        location /p/ {
            proxy_pass http://backend/;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Forwarded-For \$remote_addr;
        }
    }
}
CONF
taskset -c 0 nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/error.log" &
NGINX_PID=$!
wait_port "$NGINX"

RESULTS=$WORK/results
one() { wrk_run "$@" | tee -a "$RESULTS"; }

pair() {  # label petrel-url nginx-url
    local label=$1 purl=$2 nurl=$3
    taskset -c 1 wrk -t1 -c"$CONNS" -d1s "$purl" > /dev/null   # warm-up both
    taskset -c 1 wrk -t1 -c"$CONNS" -d1s "$nurl" > /dev/null
    for i in $(seq "$RUNS"); do
        one "petrel-$label" "$purl" "$PETREL_PID" "$i"
        one "nginx-$label" "$nurl" "$NGINX_PID" "$i"
    done
}

echo "# wrk -t1 -c$CONNS -d$DURATION; servers on CPU 0 (petrel pid $PETREL_PID, nginx pid $NGINX_PID), wrk and backend on CPU 1"
echo "# $(nginx -v 2>&1); $(wrk -v 2>&1 | head -1); load average $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%FT%TZ)"
for path in /mock /p/x; do
    for url in "http://127.0.0.1:$PETREL$path" "http://127.0.0.1:$NGINX$path"; do
        code=$(curl -s -o /dev/null -w '%{http_code}' "$url")
        [ "$code" = 200 ] || { echo "$url answered $code" >&2; exit 1; }
    done
done
pair mock "http://127.0.0.1:$PETREL/mock" "http://127.0.0.1:$NGINX/mock"
pair proxy "http://127.0.0.1:$PETREL/p/x" "http://127.0.0.1:$NGINX/p/x"
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

# Ratios per run (Petrel over the nginx run right after it), then their median against the target.
awk '
    { split($1, nm, "-"); split($2, r, "="); split($3, q, "=") ; split($7, x, "="); split($8, e, "=")
      key = nm[2] SUBSEP r[2]; rps[nm[1], key] = q[2]
      if (x[2] != 0 || e[2] != "none") bad = bad " " $1 "/" r[2] }
    END {
        want["mock"] = 1.0; want["proxy"] = 0.8
        for (label in want) {
            n = 0
            for (i = 1; (("petrel", label SUBSEP i) in rps); i++) {
                ratio[++n] = rps["petrel", label SUBSEP i] / rps["nginx", label SUBSEP i]
                printf "ratio %s run=%d petrel/nginx=%.2f\n", label, i, ratio[n]
            }
            for (a = 1; a <= n; a++) for (b = a + 1; b <= n; b++) if (ratio[b] < ratio[a]) { t = ratio[a]; ratio[a] = ratio[b]; ratio[b] = t }
            med = (n % 2) ? ratio[(n + 1) / 2] : (ratio[n / 2] + ratio[n / 2 + 1]) / 2
            printf "median %s petrel/nginx=%.2f target>=%.1f %s\n", label, med, want[label], (med >= want[label]) ? "met" : "MISSED"
        }
        if (bad != "") print "non-2xx responses or socket errors in:" bad
        else print "every response 2xx, no socket errors"
    }' "$RESULTS"
