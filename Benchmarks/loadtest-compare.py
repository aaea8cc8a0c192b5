#!/usr/bin/env python3
"""Peer comparison with petrel-loadtest, checked against wsbench in the same sitting.

    Benchmarks/loadtest-compare.py [--reps 3] [--duration 5s] [--servers petrel,node-ws,hummingbird]
                                   [--scenarios a,b,d,e] [--no-wsbench]

Servers as in Benchmarks/ws-compare.sh (Petrel `--threads 1` with the embedded default config, node
`ws`, Hummingbird-websocket), each started fresh per run pinned to CPU 0; the clients run pinned to
CPU 1. Scenarios (the ws-compare ids):

  a  echo 100 conns x 1 in flight x 32 B text   petrel-loadtest echo -c 100 -k 1 -s 32 -w 1s -d D
  b  echo 1000 conns x 4 in flight x 32 B text  petrel-loadtest echo -c 1000 -k 4 -s 32 -w 1s -d D
  d  handshakes, 200 at once                    petrel-loadtest connect -c 200 -d D
  e  10 000 idle connections, RSS per conn      petrel-loadtest hold -c 10000 -d D

Every run passes --server-pid, so server CPU (and RSS for e) come from /proc. For a, b and d,
wsbench (/work/shared/bench/wsbench.c, built into /tmp, never into the repo) runs the same
scenario against a fresh server right after, so both clients see the same machine state. Runs
alternate: for each repetition, for each scenario, every server in turn. Medians of the
repetitions are reported, with Petrel's ratios to each peer computed per repetition (side by side,
same minute) and then their median. `other_cpu_pct` = machine busy CPU minus server and client
(100 = one core): the noise of a shared machine.

stdout: one JSON line per run, then markdown tables. Raw files in --out (default /tmp).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SCEN = {
    "a": ("echo 100x1 32B text", ["echo", "-c", "100", "-k", "1", "-s", "32", "-w", "1s"],
          ["-m", "echo", "-c", "100", "-k", "1", "-s", "32", "-w", "1s"]),
    "b": ("echo 1000x4 32B text", ["echo", "-c", "1000", "-k", "4", "-s", "32", "-w", "1s"],
          ["-m", "echo", "-c", "1000", "-k", "4", "-s", "32", "-w", "1s"]),
    "d": ("handshakes, 200 at once", ["connect", "-c", "200"], ["-m", "connect", "-n", "20000", "-C", "200"]),
    "e": ("hold 10k idle conns", ["hold", "-c", "10000"], None),
}


def log(msg: str):
    print(f"loadtest-compare: {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def cpu_busy_ticks() -> tuple[int, int]:
    f = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    return f[0] + f[1] + f[2] + f[5] + f[6] + f[7], os.sysconf("SC_CLK_TCK")


def proc_cpu_s(pid: int) -> float:
    try:
        text = open(f"/proc/{pid}/stat").read()
    except OSError:
        return 0.0
    fields = text[text.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Server:
    def __init__(self, name: str, args, out: Path):
        self.name, self.log = name, out / f"{name}.log"
        port = free_port()
        cmd = {
            "petrel": [args.petrel_bin, "serve", "--listen", f"127.0.0.1:{port}", "--admin", "127.0.0.1:0", "--threads", "1"],
            "node-ws": ["node", str(REPO / "Benchmarks/peers/node-ws-echo.js"), str(port)],
            "hummingbird": [args.hb_bin, str(port), "1"],
        }[name]
        self.port = port
        self.proc = subprocess.Popen(["taskset", "-c", "0", *cmd], stdout=open(self.log, "w"), stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{name} exited: {self.log.read_text()[-500:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                time.sleep(0.3)
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"{name} not listening after 30 s")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def run_client(kind: str, server: Server, scen: str, args, out: Path) -> dict:
    url = f"ws://127.0.0.1:{server.port}/"
    pid = server.proc.pid
    busy0, hz = cpu_busy_ticks()
    srv0 = proc_cpu_s(pid)
    t0 = time.time()
    if kind == "loadtest":
        jf = out / f"lt-{server.name}-{scen}-{int(t0 * 1000)}.json"
        argv = ["taskset", "-c", "1", args.loadtest_bin, *SCEN[scen][1], "-d", args.duration, "--server-pid", str(pid),
                "--json", str(jf), "--quiet", url]
        p = subprocess.run(argv, capture_output=True, text=True, timeout=300)
        elapsed = time.time() - t0
        r = json.loads(jf.read_text())
        t = r["totals"]
        rate = r["throughput_per_s"]
        res = {"rate": rate, "p50_us": r["latency_us"]["p50"], "p99_us": r["latency_us"]["p99"],
               "srv_cpu_pct": t.get("server_cpu_pct"), "client_cpu_pct": t["client_cpu_pct"], "errors": t["errors"],
               "bytes_per_conn": t.get("server_bytes_per_connection") if scen == "e" else None, "open_at_end": t["open_at_end"],
               "warnings": t["warnings"], "rc": p.returncode}
    else:
        argv = ["taskset", "-c", "1", args.wsbench, *SCEN[scen][2], "-d", args.duration if scen != "d" else "60s",
                "-P", str(pid), url]
        p = subprocess.run(argv, capture_output=True, text=True, timeout=300)
        elapsed = time.time() - t0
        kv = dict(re.findall(r"(\w+)=(\S+)", p.stdout))
        num = lambda k: float(kv[k]) if k in kv else None  # noqa: E731
        res = {"rate": num("msgs_per_s") or num("handshakes_per_s"), "p50_us": num("p50_us"), "p99_us": num("p99_us"),
               "srv_cpu_pct": num("srv_cpu_pct"), "client_cpu_pct": num("client_cpu_pct"), "errors": num("errors"),
               "rc": p.returncode}
    busy1, _ = cpu_busy_ticks()
    srv_s = proc_cpu_s(pid) - srv0
    machine_pct = (busy1 - busy0) / hz / elapsed * 100
    # other = machine - server - client (both measured over the same wall time, roughly)
    client_pct = res.get("client_cpu_pct") or 0
    res["other_cpu_pct"] = round(max(0.0, machine_pct - srv_s / elapsed * 100 - client_pct))
    if res["rate"] and res["srv_cpu_pct"] is not None:
        res["srv_cpu_us_per_op"] = round(res["srv_cpu_pct"] / 100 * 1e6 / res["rate"], 2)
    return res


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, nd=1):
    if x is None:
        return ""
    if isinstance(x, float) and abs(x) >= 1000:
        return f"{x:.0f}"
    return f"{x:.{nd}f}" if isinstance(x, float) else str(x)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--duration", default="5s")
    ap.add_argument("--servers", default="petrel,node-ws,hummingbird")
    ap.add_argument("--scenarios", default="a,b,d,e")
    ap.add_argument("--no-wsbench", action="store_true")
    ap.add_argument("--out", default=None)
    ap.add_argument("--petrel-bin", default=os.environ.get("PETREL_BIN", str(REPO / ".build/release/petrel")))
    ap.add_argument("--loadtest-bin", default=os.environ.get("LOADTEST_BIN", str(REPO / ".build/release/petrel-loadtest")))
    ap.add_argument("--hb-bin", default=os.environ.get("HB_BIN", str(REPO / "Benchmarks/peers/hummingbird-echo/.build/release/hummingbird-echo")))
    ap.add_argument("--wsbench", default=os.environ.get("WSBENCH", "/tmp/wsb/wsbench"))
    args = ap.parse_args()
    out = Path(args.out or tempfile.mkdtemp(prefix="loadtest-compare-"))
    out.mkdir(parents=True, exist_ok=True)
    servers, scens = args.servers.split(","), args.scenarios.split(",")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # children (servers) inherit it
    if not args.no_wsbench and not os.access(args.wsbench, os.X_OK):
        src = REPO.parent / "shared/bench/wsbench.c"
        src = src if src.exists() else Path("/work/shared/bench/wsbench.c")
        Path(args.wsbench).parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["cc", "-O2", "-o", args.wsbench, str(src), "-lpthread"], check=True)
    log(f"servers {servers}, scenarios {scens}, {args.reps} repetitions of {args.duration}; raw files in {out}")
    rows = []
    started = time.time()
    for rep in range(1, args.reps + 1):
        for scen in scens:
            for name in servers:
                clients = ["loadtest"] + ([] if args.no_wsbench or SCEN[scen][2] is None else ["wsbench"])
                for client in clients:
                    srv = Server(name, args, out)
                    try:
                        res = run_client(client, srv, scen, args, out)
                    finally:
                        srv.stop()
                    row = {"rep": rep, "server": name, "scenario": scen, "client": client, **res}
                    rows.append(row)
                    print(json.dumps(row), flush=True)
    took = time.time() - started

    def cell(server, scen, client, key):
        return med([r.get(key) for r in rows if (r["server"], r["scenario"], r["client"]) == (server, scen, client)])

    print()
    print(f"Medians of {args.reps} alternating repetitions ({took:.0f} s in all; `other` = other processes' CPU, % of one core).")
    print()
    print("| scenario | server | client | ops/s | p50 µs | p99 µs | srv CPU % | srv CPU µs/op | srv B/conn | client CPU % | other % | errors |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for scen in scens:
        for name in servers:
            for client in ("loadtest", "wsbench"):
                if not any((r["server"], r["scenario"], r["client"]) == (name, scen, client) for r in rows):
                    continue
                c = lambda k: cell(name, scen, client, k)  # noqa: E731
                print(f"| {scen}: {SCEN[scen][0]} | {name} | {'petrel-loadtest' if client == 'loadtest' else 'wsbench'} | "
                      f"{fmt(c('rate'), 0)} | {fmt(c('p50_us'))} | {fmt(c('p99_us'))} | {fmt(c('srv_cpu_pct'), 0)} | "
                      f"{fmt(c('srv_cpu_us_per_op'), 2)} | {fmt(c('bytes_per_conn'), 0)} | {fmt(c('client_cpu_pct'), 0)} | "
                      f"{fmt(c('other_cpu_pct'), 0)} | {fmt(c('errors'), 0)} |")

    def ratio_median(scen, client, key, a, b):
        """Median over repetitions of (a's value / b's value) in the same repetition."""
        out = []
        for rep in range(1, args.reps + 1):
            va = [r.get(key) for r in rows if (r["rep"], r["server"], r["scenario"], r["client"]) == (rep, a, scen, client)]
            vb = [r.get(key) for r in rows if (r["rep"], r["server"], r["scenario"], r["client"]) == (rep, b, scen, client)]
            if va and vb and va[0] and vb[0]:
                out.append(va[0] / vb[0])
        return med(out)

    print()
    print("Petrel / peer, per repetition then median (server CPU per op: lower is better for Petrel; "
          "ops/s: higher is better; B/conn: lower is better):")
    print()
    print("| scenario | client | metric | " + " | ".join(f"petrel / {p}" for p in servers if p != "petrel") + " |")
    print("|---|---|---|" + "---:|" * (len(servers) - 1))
    for scen in scens:
        for client in ("loadtest", "wsbench"):
            for key in ("srv_cpu_us_per_op", "rate", "bytes_per_conn"):
                vals = [ratio_median(scen, client, key, "petrel", p) for p in servers if p != "petrel"]
                if all(v is None for v in vals):
                    continue
                print(f"| {scen} | {client} | {key} | " + " | ".join(fmt(v, 2) for v in vals) + " |")
    if not args.no_wsbench:
        print()
        print("Agreement, petrel-loadtest / wsbench (median over repetitions of the same server and scenario):")
        print()
        print("| scenario | server | srv CPU µs/op | ops/s |")
        print("|---|---|---:|---:|")
        for scen in scens:
            if SCEN[scen][2] is None:
                continue
            for name in servers:
                vals = []
                for key in ("srv_cpu_us_per_op", "rate"):
                    per = []
                    for rep in range(1, args.reps + 1):
                        a = [r.get(key) for r in rows if (r["rep"], r["server"], r["scenario"], r["client"]) == (rep, name, scen, "loadtest")]
                        b = [r.get(key) for r in rows if (r["rep"], r["server"], r["scenario"], r["client"]) == (rep, name, scen, "wsbench")]
                        if a and b and a[0] and b[0]:
                            per.append(a[0] / b[0])
                    vals.append(med(per))
                print(f"| {scen} | {name} | {fmt(vals[0], 2)} | {fmt(vals[1], 2)} |")
    print()
    print(f"_{os.cpu_count()} CPUs, kernel {os.uname().release}; servers on CPU 0, clients on CPU 1; "
          f"{args.duration} per run; {took:.0f} s in all._")
    return 0


if __name__ == "__main__":
    sys.exit(main())
