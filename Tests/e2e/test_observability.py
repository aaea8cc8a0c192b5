"""Observability (DESIGN §6, §9; issue 8): /metrics parsed by prometheus_client after a scripted
workload with exact counts, /metrics auth, access-log lines, and W3C traceparent propagation."""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from backend import RecordingBackend, proxy
from petrel_harness import http_request, ws_connect

TOKEN = "obs-token"
TRACE_RE = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


def scrape(srv, token: str | None = TOKEN):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return http_request(srv.admin_port, "GET", "/metrics", headers=headers)


def samples(srv) -> dict:
    """{(sample name, frozenset(labels)): value} of one scrape."""
    r = scrape(srv)
    assert r.status == 200, r
    assert r.header("content-type").startswith("text/plain; version=0.0.4")
    out = {}
    for family in text_string_to_metric_families(r.body.decode()):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(snap: dict, name: str, **labels) -> float:
    return snap.get((name, frozenset(labels.items())), 0.0)


def wait_metric(srv, name: str, want: float, timeout: float = 5.0, **labels) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        snap = samples(srv)
        if value(snap, name, **labels) == want or time.monotonic() > deadline:
            return snap
        time.sleep(0.05)


BASE = f"""
listeners:
  admin:
    address: 127.0.0.1:0
    auth: {{bearer_tokens: [{TOKEN}]{{public}}}}
websocket:
  route_selection: $request.body.action
  limits: {{connect_rate: {{rate: 0.01, burst: 4}}}}
  routes:
    $default: {{integration: echo}}
    ping: {{integration: pong, respond: true}}
integrations:
  echo: {{type: mock, mode: echo}}
  pong: {{type: mock, status: 200, body: pong}}
  ok: {{type: mock, status: 200, body: ok}}
http:
  routes:
    GET /health: {{integration: ok}}
"""


def config(public_metrics: bool | None = None, extra: str = "") -> str:
    public = f", public_metrics: {str(public_metrics).lower()}" if public_metrics is not None else ""
    return BASE.replace("{public}", public) + extra


def abort_tcp(ws):
    """Ends the TCP connection without a closing handshake (RST): the server sees 1006."""
    sock = ws.socket
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    sock.close()


def test_metrics_exact_counts_after_workload(petrel_server):
    srv = petrel_server(config(), threads=2)
    a = ws_connect(srv.url)
    b = ws_connect(srv.url)
    c = ws_connect(srv.url)
    for text in ("one", "two", "three"):
        a.send(text)
        assert a.recv(timeout=5) == text
    a.send(json.dumps({"action": "ping"}))
    assert a.recv(timeout=5) == "pong"
    b.send(json.dumps({"action": "ping"}))
    assert b.recv(timeout=5) == "pong"
    a.close()
    b.close()
    abort_tcp(c)
    # The fourth handshake is past the connect_rate burst (4 tokens, 0.01/s): 429.
    d = ws_connect(srv.url)
    with pytest.raises(Exception):
        ws_connect(srv.url)
    d.close(code=4000)
    assert http_request(srv.public_port, "GET", "/health").status == 200
    assert http_request(srv.public_port, "GET", "/health").status == 200
    assert http_request(srv.public_port, "GET", "/nothing-here").status == 404

    snap = wait_metric(srv, "petrel_disconnects_total", 1, reason="application")
    assert value(snap, "petrel_connects_total") == 4
    assert value(snap, "petrel_disconnects_total", reason="normal") == 2
    assert value(snap, "petrel_disconnects_total", reason="abnormal") == 1
    assert value(snap, "petrel_disconnects_total", reason="application") == 1
    assert value(snap, "petrel_messages_total", direction="in", route="$default") == 3
    assert value(snap, "petrel_messages_total", direction="out", route="$default") == 3
    assert value(snap, "petrel_messages_total", direction="in", route="ping") == 2
    assert value(snap, "petrel_messages_total", direction="out", route="ping") == 2
    assert value(snap, "petrel_message_bytes_total", direction="in", route="$default") == len("onetwothree")
    assert value(snap, "petrel_message_bytes_total", direction="out", route="ping") == 2 * len("pong")
    assert value(snap, "petrel_http_requests_total", route="GET /health", status="200") == 2
    assert value(snap, "petrel_http_requests_total", route="(none)", status="404") == 1
    assert value(snap, "petrel_handshakes_total", status="101") == 4
    assert value(snap, "petrel_handshakes_total", status="429") == 1
    assert value(snap, "petrel_limit_hits_total", limit="connect_rate") == 1
    # Gauges: one sample per loop, all closed now.
    assert value(snap, "petrel_connections_open", loop="0") + value(snap, "petrel_connections_open", loop="1") == 0
    assert value(snap, "petrel_process_resident_memory_bytes") > 1 << 20
    assert value(snap, "petrel_process_open_fds") > 3
    assert value(snap, "petrel_event_loop_lag_seconds_count", loop="1") >= 0


def test_connections_open_gauge_per_loop(petrel_server):
    srv = petrel_server(config(), threads=2)
    conns = [ws_connect(srv.url) for _ in range(4)]
    snap = samples(srv)
    per_loop = [value(snap, "petrel_connections_open", loop=str(i)) for i in (0, 1)]
    assert sum(per_loop) == 4
    for ws in conns:
        ws.close()


def test_integration_histogram_and_failures(petrel_server):
    be = RecordingBackend(policy=lambda ev: proxy(200, "hi"))
    try:
        srv = petrel_server(f"""
listeners:
  admin: {{address: 127.0.0.1:0, auth: {{bearer_tokens: [{TOKEN}]}}}}
websocket:
  route_selection: $request.body.action
  routes:
    $default: {{integration: backend, respond: true}}
    broken: {{integration: dead, respond: true}}
integrations:
  backend: {{type: http, url: "{be.url}", timeout: 3s}}
  dead: {{type: http, url: "http://127.0.0.1:9/none", timeout: 1s}}
""", threads=1)
        with ws_connect(srv.url) as ws:
            for i in range(3):
                ws.send(f"m{i}")
                assert ws.recv(timeout=5) == "hi"
            ws.send(json.dumps({"action": "broken"}))
            assert json.loads(ws.recv(timeout=5))["message"] == "Internal server error"
        snap = samples(srv)
        assert value(snap, "petrel_integration_duration_seconds_count", route="$default") == 3
        assert value(snap, "petrel_integration_duration_seconds_bucket", route="$default", le="+Inf") == 3
        assert value(snap, "petrel_integration_duration_seconds_sum", route="$default") > 0
        assert value(snap, "petrel_integration_duration_seconds_count", route="broken") == 1
        assert value(snap, "petrel_messages_total", direction="out", route="$default") == 3
        # The error frame counts as a message out of the route that failed.
        assert value(snap, "petrel_messages_total", direction="out", route="broken") == 1
        assert value(snap, "petrel_integration_failures_total", route="broken", kind="unreachable") == 1
    finally:
        be.close()


def test_metrics_needs_admin_auth(petrel_server):
    srv = petrel_server(config(), threads=2)
    assert scrape(srv, token=None).status == 403
    assert scrape(srv, token="wrong").status == 403
    assert scrape(srv).status == 200
    # Health endpoints never need auth.
    assert http_request(srv.admin_port, "GET", "/healthz").status == 200
    ready = http_request(srv.admin_port, "GET", "/readyz")
    body = json.loads(ready.body)
    assert ready.status == 200 and body["ready"] is True and body["reasons"] == []
    assert body["checks"] == {"listeners": "up", "registry": "in-memory", "draining": False}
    snap = samples(srv)
    assert value(snap, "petrel_management_requests_total", operation="metrics", status="403") == 2


def test_public_metrics_skips_auth_only_for_metrics(petrel_server):
    srv = petrel_server(config(public_metrics=True), threads=2)
    r = scrape(srv, token=None)
    assert r.status == 200
    assert b"petrel_connects_total 0" in r.body
    assert http_request(srv.admin_port, "GET", "/@connections").status == 403


def read_lines(path, pred=lambda o: True, want: int = 1, timeout: float = 5.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        lines = []
        if os.path.exists(path):
            with open(path) as f:
                lines = [json.loads(line) for line in f if line.strip()]
        hits = [o for o in lines if pred(o)]
        if len(hits) >= want or time.monotonic() > deadline:
            return hits
        time.sleep(0.1)


def test_access_log_lines(petrel_server, tmp_path):
    log = tmp_path / "access.log"
    srv = petrel_server(config(extra=f"access_log: {{path: {log}, sample_rate: 1}}\n"), threads=2)
    assert http_request(srv.public_port, "GET", "/health", headers={"User-Agent": "obs-test"}).status == 200
    ids = []
    for _ in range(2):
        with ws_connect(srv.url, user_agent_header="obs-ws") as ws:
            ws.send("hello")
            assert ws.recv(timeout=5) == "hello"
            ws.send(json.dumps({"action": "ping"}))
            assert ws.recv(timeout=5) == "pong"
    lines = read_lines(log, lambda o: o.get("eventType") == "DISCONNECT", want=2)
    assert len(lines) == 2
    every = read_lines(log, lambda o: True, want=1)
    for line in every:
        assert set(line) >= {"requestId", "eventType", "status"} or line["eventType"] == "DISCONNECT"
    http = [o for o in every if o["eventType"] == "HTTP"]
    assert len(http) == 1
    assert http[0]["status"] == 200 and http[0]["routeKey"] == "GET /health" and http[0]["httpMethod"] == "GET"
    assert http[0]["path"] == "/health" and http[0]["userAgent"] == "obs-test" and http[0]["sourceIp"] == "127.0.0.1"
    assert isinstance(http[0]["responseLatency"], int)
    connects = [o for o in every if o["eventType"] == "CONNECT"]
    disconnects = [o for o in every if o["eventType"] == "DISCONNECT"]
    messages = [o for o in every if o["eventType"] == "MESSAGE"]
    assert len(connects) == 2 and all(o["status"] == 101 and o["userAgent"] == "obs-ws" for o in connects)
    assert {o["connectionId"] for o in connects} == {o["connectionId"] for o in disconnects}
    assert all(o["disconnectStatusCode"] == 1000 for o in disconnects)
    assert len(messages) == 4
    assert sorted(o["routeKey"] for o in messages) == ["$default", "$default", "ping", "ping"]
    assert all(o["status"] == 200 and o["messageId"] and o["requestId"] for o in messages)
    assert len({o["messageId"] for o in messages}) == 4
    for o in connects + messages + disconnects:
        assert TRACE_RE.match(o["traceparent"]), o
    snap = samples(srv)
    assert value(snap, "petrel_access_log_dropped_lines_total") == 0


def test_access_log_fields_selection_and_no_messages_by_default(petrel_server, tmp_path):
    log = tmp_path / "access.log"
    srv = petrel_server(config(extra=f"access_log: {{path: {log}, fields: [eventType, status, connectionId]}}\n"),
                        threads=1)
    with ws_connect(srv.url) as ws:
        ws.send("x")
        ws.recv(timeout=5)
    lines = read_lines(log, lambda o: o.get("eventType") == "DISCONNECT")
    assert lines and set(lines[0]) == {"eventType", "connectionId"}
    every = read_lines(log)
    assert [o["eventType"] for o in every] == ["CONNECT", "DISCONNECT"]  # sample_rate 0: no MESSAGE
    assert list(every[0]) == ["eventType", "status", "connectionId"]


def test_access_log_reopened_on_sighup(petrel_server, tmp_path):
    log = tmp_path / "access.log"
    srv = petrel_server(config(extra=f"access_log: {{path: {log}}}\n"), threads=1)
    http_request(srv.public_port, "GET", "/health")
    assert read_lines(log, lambda o: o.get("eventType") == "HTTP")
    os.rename(log, tmp_path / "access.log.1")
    start = len(srv.logs)
    srv.signal(signal.SIGHUP)
    assert srv.wait_log(lambda o: o.get("msg") == "config reloaded", start=start)
    http_request(srv.public_port, "GET", "/nothing")
    lines = read_lines(log, lambda o: o.get("status") == 404)
    assert len(lines) == 1
    assert len(read_lines(tmp_path / "access.log.1", lambda o: True)) == 1


def test_traceparent_passed_to_integrations_and_created_when_absent(petrel_server, tmp_path):
    be = RecordingBackend(policy=lambda ev: proxy(200, "ok"))
    log = tmp_path / "access.log"
    try:
        srv = petrel_server(f"""
websocket:
  routes:
    $connect: {{integration: backend}}
    $default: {{integration: backend, respond: true}}
integrations:
  backend: {{type: http, url: "{be.url}", timeout: 3s}}
access_log: {{path: {log}, sample_rate: 1}}
""", threads=1)
        trace = "4bf92f3577b34da6a3ce929d0e0e4736"
        given = f"00-{trace}-00f067aa0ba902b7-01"
        with ws_connect(srv.url, additional_headers={"traceparent": given, "tracestate": "vendor=1"}) as ws:
            ws.send("m")
            assert ws.recv(timeout=5) == "ok"
        got = be.wait_for(lambda r: r.event_type in ("CONNECT", "MESSAGE"), count=2)
        parents = set()
        for r in got:
            m = TRACE_RE.match(r.headers["traceparent"])
            assert m, r.headers
            assert m.group(1) == trace and m.group(3) == "01"
            assert m.group(2) != "00f067aa0ba902b7"  # each call is its own span under the client's
            parents.add(m.group(2))
            assert r.headers["tracestate"] == "vendor=1"
        assert len(parents) == 2
        connect = read_lines(log, lambda o: o.get("eventType") == "CONNECT")[0]
        assert connect["traceparent"] == given

        # Without a traceparent the gateway makes one; both calls of the connection share it.
        be.received.clear()
        with ws_connect(srv.url) as ws:
            ws.send("m")
            assert ws.recv(timeout=5) == "ok"
        got = be.wait_for(lambda r: r.event_type in ("CONNECT", "MESSAGE"), count=2)
        made = {TRACE_RE.match(r.headers["traceparent"]).group(1) for r in got}
        assert len(made) == 1 and made != {trace} and made != {"0" * 32}
        assert "tracestate" not in got[0].headers
        lines = read_lines(log, lambda o: o.get("eventType") == "CONNECT", want=2)
        assert TRACE_RE.match(lines[1]["traceparent"]).group(1) in made
    finally:
        be.close()
