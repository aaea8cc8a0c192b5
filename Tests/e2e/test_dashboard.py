"""The admin dashboard (issue 8): `GET /` on the admin listener is a self-contained page that
shows live numbers from `GET /dashboard/events` (a chunked text/event-stream of JSON snapshots,
read with fetch() so the bearer token travels in a header). Checked in headless Chromium: no
console errors, the live connection count follows real WebSocket clients, latency per route
appears; a screenshot is kept. The stream needs the admin auth (403 as the rest of the admin
API), works without it on a loopback admin with no auth, and ends cleanly on drain."""
from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from backend import RecordingBackend, proxy
from browser import CHROMIUM, Chromium
from cluster_harness import cluster, redis  # noqa: F401  (fixtures)
from petrel_harness import HttpReader, http_request, tcp_connect, ws_connect

TOKEN = "dash-token"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"

pytestmark = [pytest.mark.timeout(120),
              pytest.mark.filterwarnings("ignore:connect\\(\\) must be used:DeprecationWarning")]


def config(auth: bool = True, backend_url: str = "http://127.0.0.1:9/none") -> str:
    admin_auth = f"    auth: {{bearer_tokens: [{TOKEN}]}}\n" if auth else ""
    return (
        f"listeners:\n  admin:\n    address: 127.0.0.1:0\n{admin_auth}"
        "websocket:\n  route_selection: $request.body.action\n"
        "  routes:\n"
        "    $default: {integration: echo}\n"
        "    slow: {integration: backend}\n"
        "integrations:\n"
        "  echo: {type: mock, mode: echo}\n"
        f"  backend: {{type: http, url: \"{backend_url}\", timeout: 3s}}\n"
    )


class EventStream:
    """`GET /dashboard/events` on a raw socket: the response head, then one event at a time."""

    def __init__(self, port: int, headers: dict | None = None):
        self.sock = tcp_connect(port)
        hdrs = {"Host": f"127.0.0.1:{port}", **(headers or {})}
        self.sock.sendall(("GET /dashboard/events HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items())
                           + "\r\n").encode())
        self.reader = HttpReader(self.sock)
        head = self.reader._read_until(b"\r\n\r\n", time.monotonic() + 5).decode("latin-1").split("\r\n")
        self.status = int(head[0].split()[1])
        self.headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in head[1:] if line)}
        self.ended = False

    def chunk(self, timeout: float = 5.0) -> bytes:
        deadline = time.monotonic() + timeout
        size = int(self.reader._read_until(b"\r\n", deadline).strip(), 16)
        data = self.reader._read_n(size, deadline)
        assert self.reader._read_n(2, deadline) == b"\r\n"
        if size == 0:
            self.ended = True
        return data

    def event(self, timeout: float = 5.0) -> dict:
        data = self.chunk(timeout)
        assert data.startswith(b"data: ") and data.endswith(b"\n\n"), data
        return json.loads(data[6:-2])

    def wait(self, pred, timeout: float = 10.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            snap = self.event(max(0.1, deadline - time.monotonic()))
            if pred(snap):
                return snap
            assert time.monotonic() < deadline, f"no snapshot matched; last {snap}"

    def close(self):
        self.sock.close()


def test_page_is_self_contained_and_needs_no_auth(petrel_server):
    srv = petrel_server(config())
    r = http_request(srv.admin_port, "GET", "/")
    assert r.status == 200 and r.header("content-type") == "text/html; charset=utf-8", r
    # Works offline: nothing is loaded from anywhere but the admin listener itself.
    assert b"http://" not in r.body and b"https://" not in r.body and b"src=" not in r.body, "external reference in the page"
    assert b'data-auth="required"' in r.body
    assert "connect-src 'self'" in r.header("content-security-policy")
    assert http_request(srv.admin_port, "HEAD", "/").status == 200


@pytest.mark.skipif(not CHROMIUM, reason="chromium not installed")
def test_dashboard_in_chromium_follows_live_connections(petrel_server, tmp_path):
    backend = RecordingBackend(policy=lambda ev: proxy(200, "done", delay=0.02))
    srv = petrel_server(config(backend_url=backend.url))
    browser = Chromium(tmp_path)
    clients = []
    try:
        page = browser.open(f"http://127.0.0.1:{srv.admin_port}/")
        page.wait_js("document.getElementById('status').dataset.state === 'auth'", 10, "page asks for the token")
        page.insert_text("token", TOKEN)
        page.click("connect")
        page.wait_js("document.getElementById('status').dataset.state === 'live'", 10, "stream open")
        page.wait_js("document.getElementById('connections').textContent === '0'", 10, "shows 0 connections")

        clients = [ws_connect(srv.url) for _ in range(3)]
        page.wait_js("document.getElementById('connections').textContent === '3'", 10, "shows 3 connections")
        for ws in clients:
            ws.send(json.dumps({"action": "slow"}))
        backend.wait_for(lambda r: r.event_type == "MESSAGE", count=3)
        page.wait_js("[...document.querySelectorAll('#routes tbody tr')].some(tr => tr.cells[0].textContent === 'slow'"
                     " && tr.cells[1].textContent === '3' && tr.cells[2].textContent !== '–')", 10, "latency of route slow")
        more = [ws_connect(srv.url) for _ in range(2)]
        clients += more
        page.wait_js("document.getElementById('connections').textContent === '5'", 10, "shows 5 connections")
        clients.pop().close()
        page.wait_js("document.getElementById('connections').textContent === '4'", 10, "shows 4 after a close")
        assert page.js("document.querySelector('#nodes tbody tr').cells[1].textContent") == "ready"
        assert page.js("document.getElementById('rate-connects').textContent") != "–"

        path = page.screenshot(ARTIFACTS / "dashboard.png")
        print(f"dashboard screenshot: {path}")
        assert path.stat().st_size > 5000
        assert page.console_errors() == []
    finally:
        for ws in clients:
            ws.close()
        browser.stop()
        backend.close()


def test_stream_and_snapshot_need_the_admin_auth(petrel_server):
    srv = petrel_server(config())
    for path in ("/dashboard/events", "/dashboard/snapshot"):
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic " + TOKEN}):
            r = http_request(srv.admin_port, "GET", path, headers=headers)
            assert r.status == 403 and r.header("x-amzn-ErrorType") == "ForbiddenException", (path, headers, r)
    snap = http_request(srv.admin_port, "GET", "/dashboard/snapshot", headers={"Authorization": f"Bearer {TOKEN}"})
    assert snap.status == 200 and json.loads(snap.body)["connectionsOpen"] == 0, snap
    stream = EventStream(srv.admin_port, {"Authorization": f"Bearer {TOKEN}"})
    try:
        assert stream.status == 200
        assert stream.headers["content-type"] == "text/event-stream"
        assert stream.headers["transfer-encoding"] == "chunked"
        first = stream.event()
        assert first["node"]["ready"] is True and first["connectionsOpen"] == 0, first
        second = stream.event(3)
        assert 500 <= second["time"] - first["time"] <= 2000, (first["time"], second["time"])
    finally:
        stream.close()


def test_stream_without_auth_on_loopback_admin_and_clean_end_on_drain(petrel_server):
    srv = petrel_server(config(auth=False))
    stream = EventStream(srv.admin_port)
    clients = []
    try:
        assert stream.status == 200
        assert stream.event()["connectionsOpen"] == 0
        clients = [ws_connect(srv.url) for _ in range(2)]
        snap = stream.wait(lambda s: s["connectionsOpen"] == 2)
        assert snap["connects"] == 2, snap
        srv.signal(signal.SIGTERM)
        # Events may still come; then the last chunk, then the close.
        deadline = time.monotonic() + 10
        while not stream.ended:
            stream.chunk(max(0.1, deadline - time.monotonic()))
        assert stream.reader.wait_eof(5), "connection not closed after the last chunk"
        assert srv.wait_exit(20) == 0
    finally:
        for ws in clients:
            try:
                ws.close()
            except OSError:
                pass
        stream.close()


def test_snapshot_lists_the_cluster_nodes(cluster, redis):  # noqa: F811
    cfg = config()
    n1 = cluster.node("n1", cfg)
    cluster.node("n2", cfg)
    deadline = time.monotonic() + 15
    while True:
        r = http_request(n1.admin_port, "GET", "/dashboard/snapshot", headers={"Authorization": f"Bearer {TOKEN}"})
        snap = json.loads(r.body)
        nodes = {n["id"]: (n["self"], n["status"]) for n in snap["nodes"]}
        if nodes == {"n1": (True, "ready"), "n2": (False, "alive")} or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert nodes == {"n1": (True, "ready"), "n2": (False, "alive")}, snap
    assert snap["node"] == {"id": "n1", "ready": True, "reasons": [], "registry": "redis"}, snap
    cluster.sigkill("n2")
    deadline = time.monotonic() + 25
    while time.monotonic() < deadline:
        snap = json.loads(http_request(n1.admin_port, "GET", "/dashboard/snapshot",
                                       headers={"Authorization": f"Bearer {TOKEN}"}).body)
        if all(n["id"] != "n2" or n["status"] == "lost" for n in snap["nodes"]):
            break
        time.sleep(0.5)
    # Lost until the reaper removes it from the node set, then gone.
    assert all(n["id"] != "n2" or n["status"] == "lost" for n in snap["nodes"]), snap
