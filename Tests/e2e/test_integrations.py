"""`type: http` integrations, black-box: API Gateway proxy events as a real backend receives them
(DESIGN §4–5, reference/api-gateway-facts.md §1.2–1.6), response handling, failures, ordering,
max_pending_messages and `$disconnect` exactly-once with retries.

Every test runs its own recording backend (Tests/e2e/backend.py) on 127.0.0.1 and its own gateway.
"""
from __future__ import annotations

import base64
import calendar
import json
import random
import re
import signal
import socket
import struct
import threading
import time

import pytest

from backend import Close, Garbage, RecordingBackend, Reply, free_port, proxy
from petrel_harness import HttpReader, http_request, recv_close, tcp_connect, ws_connect, ws_upgrade_request
from wsraw import RawWebSocket

pytestmark = [pytest.mark.timeout(60),
              pytest.mark.filterwarnings("ignore:connect\\(\\) must be used:DeprecationWarning")]

ID_RE = re.compile(r"[A-Za-z0-9_-]{16}")
CLF_RE = re.compile(r"(\d{2})/(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)/(\d{4}):(\d{2}):(\d{2}):(\d{2}) \+0000")
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
TOKEN = "t"

# requestContext keys of the real captures (facts §1.6), per event type.
RC_COMMON = {"routeKey", "eventType", "extendedRequestId", "requestTime", "messageDirection", "stage",
             "connectedAt", "requestTimeEpoch", "identity", "requestId", "domainName", "connectionId",
             "apiId"}
RC_KEYS = {
    "CONNECT": RC_COMMON | {"messageId", "disconnectStatusCode", "disconnectReason"},
    "MESSAGE": RC_COMMON | {"messageId"},
    "DISCONNECT": RC_COMMON | {"disconnectStatusCode", "disconnectReason"},
}
RC_OPTIONAL = {"authorizer", "error", "status", "integrationLatency"}
TOP_KEYS = {
    "CONNECT": {"headers", "multiValueHeaders", "queryStringParameters",
                "multiValueQueryStringParameters", "requestContext", "isBase64Encoded"},
    "MESSAGE": {"requestContext", "body", "isBase64Encoded"},
    "DISCONNECT": {"headers", "multiValueHeaders", "requestContext", "isBase64Encoded"},
}


# ------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------

def dispatch(connect=None, message=None, disconnect=None):
    """Policy by event type. Defaults: CONNECT/DISCONNECT 200 empty, MESSAGE proxy echo 're:'+body.
    Each entry may be an action or a callable(event) -> action."""
    def pol(ev):
        if not isinstance(ev, dict):
            return Reply(400, "not json")
        t = ev.get("requestContext", {}).get("eventType")
        f = {"CONNECT": connect, "MESSAGE": message, "DISCONNECT": disconnect}.get(t)
        if f is None:
            return proxy(200, "re:" + str(ev.get("body"))) if t == "MESSAGE" else Reply(200, b"")
        return f(ev) if callable(f) else f
    return pol


def gw_config(be: RecordingBackend | None, *, timeout="3s", limits="", connect=True,
              disconnect=True, connect_url=None, connect_timeout=None, disconnect_url=None,
              extra_routes="", top="") -> str:
    url = be.url if be is not None else "http://127.0.0.1:9/none"
    routes = []
    if connect:
        routes.append("    $connect: {integration: cb}")
    if disconnect:
        routes.append("    $disconnect: {integration: db}")
    routes.append("    $default: {integration: backend, respond: true}")
    routes.append("    oneway: {integration: backend}")
    routes.append("    whoami: {integration: whoami, respond: true}")
    if extra_routes:
        routes.append(extra_routes)
    lim = f"  limits: {{{limits}}}\n" if limits else ""
    return (
        f"stage: prod\napi_id: testapi\n{top}"
        "listeners:\n  admin:\n    address: 127.0.0.1:0\n"
        f"    auth: {{bearer_tokens: [{TOKEN}]}}\n"
        "websocket:\n  route_selection: $request.body.action\n" + lim +
        "  routes:\n" + "\n".join(routes) + "\n"
        "integrations:\n"
        f"  backend: {{type: http, url: \"{url}\", timeout: {timeout}}}\n"
        f"  cb: {{type: http, url: \"{connect_url or url}\", timeout: {connect_timeout or timeout}}}\n"
        f"  db: {{type: http, url: \"{disconnect_url or url}\", timeout: {timeout}}}\n"
        "  whoami: {type: mock, status: 200, body: '{\"connectionId\":\"${context.connectionId}\"}'}\n"
    )


@pytest.fixture
def backend():
    be = RecordingBackend(policy=dispatch())
    yield be
    be.close()


@pytest.fixture
def petrel_server(backend, petrel_server):
    """conftest's factory, set up after (so torn down before) the backend: the gateway drains
    while its backend still answers."""
    return petrel_server


def whoami(ws) -> str:
    ws.send(json.dumps({"action": "whoami"}))
    return json.loads(ws.recv(timeout=5))["connectionId"]


def admin(srv, method, path, body=b"", headers=None):
    h = {"Authorization": f"Bearer {TOKEN}"}
    h.update(headers or {})
    return http_request(srv.admin_port, method, path, headers=h, body=body)


def raw_handshake(port: int, path: str = "/", headers: list[tuple[str, str]] | None = None,
                  host: str | None = None, timeout: float = 5.0):
    """Sends an upgrade request with exactly these extra header lines (repeats allowed).
    Returns (response, socket, reader); the socket is left open."""
    lines = [f"GET {path} HTTP/1.1", f"Host: {host or f'127.0.0.1:{port}'}", "Upgrade: websocket",
             "Connection: Upgrade", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
             "Sec-WebSocket-Version: 13"]
    lines += [f"{k}: {v}" for k, v in (headers or [])]
    s = tcp_connect(port, timeout=timeout)
    s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    r = HttpReader(s)
    return r.read_response(timeout=timeout), s, r


def handshake_status(port: int, path: str = "/", timeout: float = 6.0) -> int:
    resp, s, _ = raw_handshake(port, path, timeout=timeout)
    s.close()
    return resp.status


def reset_close(sock: socket.socket):
    """Close with RST (SO_LINGER 0): TCP loss without a close frame."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def connect_event(be, timeout=5.0):
    return be.wait_event("CONNECT", timeout=timeout)[0]


def only_disconnect(be, cid, timeout=5.0):
    evs = be.wait_event("DISCONNECT", cid=cid, timeout=timeout)
    return evs[0].event


def check_common_formats(ev: dict, event_type: str):
    rc = ev["requestContext"]
    assert rc["eventType"] == event_type
    assert ID_RE.fullmatch(rc["connectionId"]), rc["connectionId"]
    assert ID_RE.fullmatch(rc["requestId"]), rc["requestId"]
    assert rc["extendedRequestId"] == rc["requestId"]
    assert rc["messageDirection"] == "IN"
    assert rc["stage"] == "prod"
    assert rc["apiId"] == "testapi"
    now_ms = time.time() * 1000
    for k in ("connectedAt", "requestTimeEpoch"):
        assert isinstance(rc[k], int) and not isinstance(rc[k], bool), (k, rc[k])
        assert abs(rc[k] - now_ms) < 60_000, f"{k}={rc[k]} is not epoch ms near now ({now_ms:.0f})"
    assert rc["requestTimeEpoch"] >= rc["connectedAt"]
    m = CLF_RE.fullmatch(rc["requestTime"])
    assert m, f"requestTime {rc['requestTime']!r} is not CLF dd/MMM/yyyy:HH:mm:ss +0000"
    d, mon, y, hh, mm, ss = m.groups()
    clf_epoch = calendar.timegm((int(y), MONTHS.index(mon) + 1, int(d), int(hh), int(mm), int(ss)))
    assert abs(clf_epoch - rc["requestTimeEpoch"] // 1000) <= 1, (rc["requestTime"], rc["requestTimeEpoch"])
    assert isinstance(rc["identity"], dict)
    assert rc["identity"]["sourceIp"] == "127.0.0.1"
    assert "userAgent" in rc["identity"]
    keys = set(rc) - RC_OPTIONAL
    assert keys == RC_KEYS[event_type], (
        f"requestContext keys differ from the capture: missing {RC_KEYS[event_type] - keys}, "
        f"extra {keys - RC_KEYS[event_type]}")
    assert set(ev) == TOP_KEYS[event_type], (
        f"top-level keys differ from the capture: missing {TOP_KEYS[event_type] - set(ev)}, "
        f"extra {set(ev) - TOP_KEYS[event_type]}")


# ------------------------------------------------------------------------------------------------
# event JSON, field by field
# ------------------------------------------------------------------------------------------------

def _connect_with_everything(srv):
    resp, s, _ = raw_handshake(
        srv.public_port, "/prod?token=abc&a=1&a=2&empty=",
        headers=[("User-Agent", "petrel-e2e/1.0"), ("X-Multi", "one"), ("X-Multi", "two"),
                 ("X-Single", "v")],
        host=f"gw.example.test:{srv.public_port}")
    assert resp.status == 101, resp
    return s


def test_connect_event_request_context(petrel_server, backend):
    srv = petrel_server(gw_config(backend))
    s = _connect_with_everything(srv)
    try:
        ev = connect_event(backend).event
    finally:
        s.close()
    check_common_formats(ev, "CONNECT")
    rc = ev["requestContext"]
    assert rc["routeKey"] == "$connect"
    assert rc["messageId"] is None
    assert rc["disconnectStatusCode"] is None and rc["disconnectReason"] is None
    assert rc["domainName"] == "gw.example.test", "domainName must be the Host without port"
    assert rc["identity"]["userAgent"] == "petrel-e2e/1.0"
    assert ev["isBase64Encoded"] is False


def test_connect_event_headers_and_multivalue_headers(petrel_server, backend):
    srv = petrel_server(gw_config(backend))
    s = _connect_with_everything(srv)
    try:
        ev = connect_event(backend).event
    finally:
        s.close()
    h, mh = ev["headers"], ev["multiValueHeaders"]
    assert h["Host"] == f"gw.example.test:{srv.public_port}"
    assert h["User-Agent"] == "petrel-e2e/1.0"
    assert h["Sec-WebSocket-Version"] == "13"
    assert h["Sec-WebSocket-Key"] == "dGhlIHNhbXBsZSBub25jZQ=="
    assert h["X-Single"] == "v"
    assert mh["X-Multi"] == ["one", "two"]
    assert mh["X-Single"] == ["v"]
    # API Gateway's single-value map holds the last value of a repeated header.
    assert h["X-Multi"] == "two", h.get("X-Multi")
    assert set(h) == set(mh), "headers and multiValueHeaders must name the same headers"


def test_connect_event_query_strings_with_repeated_keys(petrel_server, backend):
    srv = petrel_server(gw_config(backend))
    s = _connect_with_everything(srv)
    try:
        ev = connect_event(backend).event
    finally:
        s.close()
    assert ev["multiValueQueryStringParameters"] == {"token": ["abc"], "a": ["1", "2"], "empty": [""]}
    assert ev["queryStringParameters"] == {"token": "abc", "a": "2", "empty": ""}


def test_connect_event_without_query_string_has_no_query_maps(petrel_server, backend):
    srv = petrel_server(gw_config(backend))
    with ws_connect(srv.url):
        ev = connect_event(backend).event
    # facts §1.6: the query maps are present "only when present" (null is tolerated).
    assert ev.get("queryStringParameters") is None
    assert ev.get("multiValueQueryStringParameters") is None


def test_event_is_posted_as_json_to_the_url(petrel_server, backend):
    srv = petrel_server(gw_config(backend))
    with ws_connect(srv.url):
        rec = connect_event(backend)
    assert rec.path == "/events"
    assert rec.headers.get("content-type", "").split(";")[0].strip() == "application/json"
    json.loads(rec.raw)


def test_message_event_text(petrel_server, backend):
    srv = petrel_server(gw_config(backend))
    with ws_connect(srv.url + "prod", user_agent_header="ua-text/2") as ws:
        cid = whoami(ws)
        ws.send('{"action":"nothing","x":"é"}')
        assert ws.recv(timeout=5) == 're:{"action":"nothing","x":"é"}'
        ev = backend.wait_event("MESSAGE")[0].event
        conn = backend.events("CONNECT")[0].event
    check_common_formats(ev, "MESSAGE")
    rc = ev["requestContext"]
    assert rc["routeKey"] == "$default"
    assert rc["connectionId"] == cid
    assert ID_RE.fullmatch(rc["messageId"]), rc["messageId"]
    assert rc["connectedAt"] == conn["requestContext"]["connectedAt"]
    assert rc["requestId"] != conn["requestContext"]["requestId"]
    assert rc["domainName"] == "127.0.0.1"
    assert rc["identity"]["userAgent"] == "ua-text/2"
    assert ev["body"] == '{"action":"nothing","x":"é"}'
    assert ev["isBase64Encoded"] is False


def test_message_event_route_key_of_selected_route(petrel_server, backend):
    srv = petrel_server(gw_config(backend))
    with ws_connect(srv.url) as ws:
        ws.send('{"action":"oneway"}')
        ev = backend.wait_event("MESSAGE")[0].event
    assert ev["requestContext"]["routeKey"] == "oneway"


def test_message_event_binary_is_base64(petrel_server, backend):
    srv = petrel_server(gw_config(backend))
    data = bytes(range(256)) + b"\xff\x00"
    with ws_connect(srv.url) as ws:
        ws.send(data)
        ws.recv(timeout=5)
        ev = backend.wait_event("MESSAGE")[0].event
    check_common_formats(ev, "MESSAGE")
    assert ev["isBase64Encoded"] is True
    assert base64.b64decode(ev["body"], validate=True) == data


def test_message_ids_unique_per_message(petrel_server, backend):
    srv = petrel_server(gw_config(backend))
    with ws_connect(srv.url) as ws:
        for i in range(3):
            ws.send(f"m{i}")
            ws.recv(timeout=5)
        evs = backend.wait_event("MESSAGE", count=3)
    assert len({e.rc["messageId"] for e in evs}) == 3
    assert len({e.rc["requestId"] for e in evs}) == 3


def test_disconnect_event_shape(petrel_server, backend):
    srv = petrel_server(gw_config(backend))
    with ws_connect(srv.url + "prod", user_agent_header="ua-d/1") as ws:
        cid = whoami(ws)
    ev = only_disconnect(backend, cid)
    check_common_formats(ev, "DISCONNECT")
    rc = ev["requestContext"]
    assert rc["routeKey"] == "$disconnect"
    assert rc["identity"]["userAgent"] == "ua-d/1"
    assert rc["connectedAt"] == backend.events("CONNECT")[0].rc["connectedAt"]
    assert ev["isBase64Encoded"] is False
    assert "body" not in ev


# -- disconnect status code / reason per cause ---------------------------------------------------

def test_disconnect_client_close_1000(petrel_server, backend):
    srv = petrel_server(gw_config(backend))
    with ws_connect(srv.url) as ws:
        cid = whoami(ws)
        ws.close(code=1000)
    rc = only_disconnect(backend, cid)["requestContext"]
    assert (rc["disconnectStatusCode"], rc["disconnectReason"]) == (1000, "")


def test_disconnect_client_close_4000_with_reason(petrel_server, backend):
    srv = petrel_server(gw_config(backend))
    with ws_connect(srv.url) as ws:
        cid = whoami(ws)
        ws.close(code=4000, reason="bye now")
    rc = only_disconnect(backend, cid)["requestContext"]
    assert (rc["disconnectStatusCode"], rc["disconnectReason"]) == (4000, "bye now")


def test_disconnect_tcp_reset_1006(petrel_server, backend):
    srv = petrel_server(gw_config(backend))
    resp, s, _ = raw_handshake(srv.public_port)
    assert resp.status == 101
    cid = connect_event(backend).connection_id
    reset_close(s)
    rc = only_disconnect(backend, cid)["requestContext"]
    assert (rc["disconnectStatusCode"], rc["disconnectReason"]) == (1006, "")


def test_disconnect_tcp_fin_without_close_frame_1006(petrel_server, backend):
    srv = petrel_server(gw_config(backend))
    resp, s, _ = raw_handshake(srv.public_port)
    assert resp.status == 101
    cid = connect_event(backend).connection_id
    s.close()
    rc = only_disconnect(backend, cid)["requestContext"]
    assert (rc["disconnectStatusCode"], rc["disconnectReason"]) == (1006, "")


def test_disconnect_after_admin_delete(petrel_server, backend):
    srv = petrel_server(gw_config(backend))
    with ws_connect(srv.url) as ws:
        cid = whoami(ws)
        r = admin(srv, "DELETE", f"/prod/@connections/{cid}")
        assert r.status == 204, r
        assert recv_close(ws) == (1000, "Connection Closed Normally")
    rc = only_disconnect(backend, cid)["requestContext"]
    assert (rc["disconnectStatusCode"], rc["disconnectReason"]) == (1000, "Connection Closed Normally")


def test_disconnect_after_idle_timeout(petrel_server, backend):
    srv = petrel_server(gw_config(backend, limits="idle_timeout: 1s"))
    with ws_connect(srv.url) as ws:
        cid = whoami(ws)
        code, reason = recv_close(ws, timeout=5)
    assert (code, reason) == (1001, "Going away")
    rc = only_disconnect(backend, cid)["requestContext"]
    assert (rc["disconnectStatusCode"], rc["disconnectReason"]) == (1001, "Going away")


def test_disconnect_after_max_connection_duration(petrel_server, backend):
    srv = petrel_server(gw_config(backend, limits="max_connection_duration: 1s"))
    with ws_connect(srv.url) as ws:
        cid = whoami(ws)
        code, reason = recv_close(ws, timeout=5)
    assert (code, reason) == (1001, "Going away")
    rc = only_disconnect(backend, cid)["requestContext"]
    assert (rc["disconnectStatusCode"], rc["disconnectReason"]) == (1001, "Going away")


def test_disconnect_after_message_too_big_1009(petrel_server, backend):
    srv = petrel_server(gw_config(backend, limits="max_message_bytes: 1024, max_frame_bytes: 1024"))
    with ws_connect(srv.url) as ws:
        cid = whoami(ws)
        ws.send("x" * 2000)
        code, reason = recv_close(ws, timeout=5)
    assert code == 1009
    rc = only_disconnect(backend, cid)["requestContext"]
    assert rc["disconnectStatusCode"] == 1009
    assert rc["disconnectReason"] == reason, "disconnectReason must be the reason the server sent"
    assert not backend.events("MESSAGE"), "the oversized message must not reach the integration"


def test_disconnect_on_sigterm_drain_1001(petrel_server, backend):
    srv = petrel_server(gw_config(backend))
    with ws_connect(srv.url) as ws:
        cid = whoami(ws)
        srv.signal(signal.SIGTERM)
        code, reason = recv_close(ws, timeout=10)
    assert (code, reason) == (1001, "Going away")
    rc = only_disconnect(backend, cid, timeout=10)["requestContext"]
    assert (rc["disconnectStatusCode"], rc["disconnectReason"]) == (1001, "Going away")
    assert srv.wait_exit(15) == 0


def test_drain_delivers_one_disconnect_per_connection(petrel_server, backend):
    srv = petrel_server(gw_config(backend), threads=2)
    clients = [ws_connect(srv.url) for _ in range(10)]
    ids = [whoami(ws) for ws in clients]
    srv.signal(signal.SIGTERM)
    for ws in clients:
        assert recv_close(ws, timeout=10)[0] == 1001
        ws.close()
    rc = srv.wait_exit(15)
    disc = backend.events("DISCONNECT")
    per = {}
    for r in disc:
        per.setdefault(r.connection_id, []).append(r.rc["disconnectStatusCode"])
    assert per == {cid: [1001] for cid in ids}
    assert rc == 0


def test_drain_waits_for_in_flight_message_then_disconnect(petrel_server, backend):
    backend.policy = dispatch(message=lambda ev: Reply(200, "", delay=1.0))
    srv = petrel_server(gw_config(backend))
    with ws_connect(srv.url) as ws:
        cid = whoami(ws)
        ws.send('{"action":"oneway"}')
        backend.wait_event("MESSAGE")
        srv.signal(signal.SIGTERM)
        recv_close(ws, timeout=10)
    assert srv.wait_exit(15) == 0
    kinds = [r.event_type for r in backend.snapshot() if r.connection_id == cid]
    assert kinds == ["CONNECT", "MESSAGE", "DISCONNECT"], kinds


# ------------------------------------------------------------------------------------------------
# response handling
# ------------------------------------------------------------------------------------------------

def test_proxy_response_body_is_sent_back(petrel_server, backend):
    backend.policy = dispatch(message=proxy(200, '{"hello":"world"}', headers={"x-a": "b"}))
    srv = petrel_server(gw_config(backend))
    with ws_connect(srv.url) as ws:
        ws.send("hi")
        assert ws.recv(timeout=5) == '{"hello":"world"}'


def test_plain_body_is_sent_back(petrel_server, backend):
    backend.policy = dispatch(message=Reply(200, "plain text answer", {"content-type": "text/plain"}))
    srv = petrel_server(gw_config(backend))
    with ws_connect(srv.url) as ws:
        ws.send("hi")
        assert ws.recv(timeout=5) == "plain text answer"


def test_one_way_route_sends_nothing_back(petrel_server, backend):
    backend.policy = dispatch(message=proxy(200, "should not arrive"))
    srv = petrel_server(gw_config(backend))
    with ws_connect(srv.url) as ws:
        ws.send('{"action":"oneway"}')
        backend.wait_event("MESSAGE")
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.7)


def test_proxy_status_500_body_still_delivered(petrel_server, backend):
    """facts §1.5: a proxy Lambda's returned statusCode 500 is not a gateway error; with two-way
    on, its body arrives as an ordinary message."""
    backend.policy = dispatch(message=proxy(500, "app-level error body"))
    srv = petrel_server(gw_config(backend))
    with ws_connect(srv.url) as ws:
        ws.send("hi")
        assert ws.recv(timeout=5) == "app-level error body"


# ------------------------------------------------------------------------------------------------
# ordering and exactly-once
# ------------------------------------------------------------------------------------------------

def _random_delay_backend(be, inflight_max):
    lock = threading.Lock()
    inflight = {}
    rnd = random.Random(1234)

    def on_msg(ev):
        cid = ev["requestContext"]["connectionId"]
        with lock:
            inflight[cid] = inflight.get(cid, 0) + 1
            inflight_max[0] = max(inflight_max[0], inflight[cid])
            d = rnd.uniform(0, 0.02)
        time.sleep(d)
        with lock:
            inflight[cid] -= 1
        return proxy(200, "re:" + ev["body"])
    be.policy = dispatch(message=on_msg)


def test_fifty_messages_reach_backend_in_order(petrel_server, backend):
    _random_delay_backend(backend, [0])
    srv = petrel_server(gw_config(backend))
    with ws_connect(srv.url) as ws:
        for i in range(50):
            ws.send(f"m{i:02d}")
        for _ in range(50):
            ws.recv(timeout=10)
    bodies = [r.event["body"] for r in backend.events("MESSAGE")]
    assert bodies == [f"m{i:02d}" for i in range(50)]


def test_fifty_replies_come_back_in_order(petrel_server, backend):
    _random_delay_backend(backend, [0])
    srv = petrel_server(gw_config(backend))
    with ws_connect(srv.url) as ws:
        for i in range(50):
            ws.send(f"m{i:02d}")
        replies = [ws.recv(timeout=10) for _ in range(50)]
    assert replies == [f"re:m{i:02d}" for i in range(50)]


def test_events_of_one_connection_are_not_concurrent(petrel_server, backend):
    inflight_max = [0]
    _random_delay_backend(backend, inflight_max)
    srv = petrel_server(gw_config(backend))
    with ws_connect(srv.url) as ws:
        for i in range(30):
            ws.send(f"m{i}")
        for _ in range(30):
            ws.recv(timeout=10)
    assert inflight_max[0] == 1, f"{inflight_max[0]} events of one connection were in flight at once"


def test_disconnect_arrives_after_last_message_event(petrel_server, backend):
    backend.policy = dispatch(message=lambda ev: Reply(200, "", delay=0.05))
    srv = petrel_server(gw_config(backend))
    ws = ws_connect(srv.url)
    cid = whoami(ws)
    for i in range(10):
        ws.send(json.dumps({"action": "oneway", "i": i}))
    ws.close()  # right away: 9 messages still queued or in flight
    backend.wait_event("DISCONNECT", cid=cid, timeout=10)
    time.sleep(0.3)
    kinds = [(r.event_type, (json.loads(r.event["body"])["i"] if r.event_type == "MESSAGE" else None))
             for r in backend.snapshot() if r.connection_id == cid]
    assert kinds[0] == ("CONNECT", None)
    assert kinds[-1] == ("DISCONNECT", None), kinds
    assert [i for t, i in kinds if t == "MESSAGE"] == list(range(10)), kinds
    assert sum(1 for t, _ in kinds if t == "DISCONNECT") == 1


def test_connect_integration_finishes_before_101(petrel_server, backend):
    backend.policy = dispatch(connect=Reply(200, "", delay=0.6))
    srv = petrel_server(gw_config(backend))
    t0 = time.monotonic()
    with ws_connect(srv.url) as ws:
        elapsed = time.monotonic() - t0
        whoami(ws)
    assert elapsed >= 0.55, f"101 arrived after {elapsed:.2f}s, before $connect answered (0.6 s)"


def test_exactly_one_disconnect_per_connection_many_clients(petrel_server, backend):
    """100 clients on 2 loops closing in five ways; each gets exactly one DISCONNECT with the
    code of its cause."""
    srv = petrel_server(gw_config(backend), threads=2)
    ways = ["close1000", "close4001", "reset", "fin", "delete"]
    socks = []
    for i in range(100):
        ws = RawWebSocket("127.0.0.1", srv.public_port, path=f"/?n={i}", timeout=5)
        socks.append(ws)
    connects = backend.wait_event("CONNECT", count=100, timeout=10)
    cid_of = {int(r.event["queryStringParameters"]["n"]): r.connection_id for r in connects}
    assert len(cid_of) == 100 and len(set(cid_of.values())) == 100
    expected = {}
    for i, ws in enumerate(socks):
        way = ways[i % len(ways)]
        cid = cid_of[i]
        if way == "close1000":
            ws.send_close(1000)
            expected[cid] = (1000, "")
        elif way == "close4001":
            ws.send_close(4001, f"r{i}".encode())
            expected[cid] = (4001, f"r{i}")
        elif way == "reset":
            reset_close(ws.sock)
            expected[cid] = (1006, "")
        elif way == "fin":
            ws.sock.close()
            expected[cid] = (1006, "")
        else:
            r = admin(srv, "DELETE", f"/@connections/{cid}")
            assert r.status == 204, (cid, r)
            expected[cid] = (1000, "Connection Closed Normally")
    for i, ws in enumerate(socks):  # a well-behaved client closes TCP after the close handshake
        if ways[i % len(ways)] in ("close1000", "close4001", "delete"):
            ws.expect_eof(3)
            ws.close()
    backend.wait_event("DISCONNECT", count=100, timeout=15)
    time.sleep(1.0)  # anything extra would show up now
    for ws in socks:
        ws.close()
    disc = backend.events("DISCONNECT")
    per = {}
    for r in disc:
        per.setdefault(r.connection_id, []).append(
            (r.rc["disconnectStatusCode"], r.rc["disconnectReason"]))
    dup = {c: v for c, v in per.items() if len(v) != 1}
    assert not dup, f"connections with more than one DISCONNECT: {dup}"
    assert set(per) == set(expected)
    wrong = {c: (per[c][0], expected[c]) for c in expected if per[c][0] != expected[c]}
    assert not wrong, f"(observed, expected) disconnect code/reason: {wrong}"


# ------------------------------------------------------------------------------------------------
# max_pending_messages
# ------------------------------------------------------------------------------------------------

def test_max_pending_messages_overflow_gets_too_many_requests(petrel_server, backend):
    backend.policy = dispatch(message=lambda ev: proxy(200, "re:" + ev["body"], delay=0.5))
    srv = petrel_server(gw_config(backend, limits="max_pending_messages: 4"))
    with ws_connect(srv.url) as ws:
        cid = whoami(ws)
        for i in range(10):
            ws.send(f"m{i}")
        frames = []
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            try:
                frames.append(ws.recv(timeout=1.2))
            except TimeoutError:
                break
    tmr = [json.loads(f) for f in frames if f.startswith("{")]
    replies = [f for f in frames if f.startswith("re:")]
    delivered = [r.event["body"] for r in backend.events("MESSAGE")]
    assert len(tmr) + len(replies) == 10, frames
    for t in tmr:
        assert t["message"] == "Too Many Requests", t
        assert t["connectionId"] == cid
        assert ID_RE.fullmatch(t["requestId"]), t
    # 4 waiting (+ at most the one in flight) are delivered, in order; the rest are refused.
    assert len(delivered) in (4, 5), delivered
    assert delivered == [f"m{i}" for i in range(len(delivered))]
    assert replies == ["re:" + b for b in delivered]
    assert len(tmr) == 10 - len(delivered)


def test_connection_usable_after_too_many_requests(petrel_server, backend):
    backend.policy = dispatch(message=lambda ev: proxy(200, "re:" + ev["body"], delay=0.3))
    srv = petrel_server(gw_config(backend, limits="max_pending_messages: 2"))
    with ws_connect(srv.url) as ws:
        for i in range(6):
            ws.send(f"m{i}")
        got = []
        while not any(g == "re:m2" or g == "re:m1" for g in got) or len(got) < 6:
            got.append(ws.recv(timeout=5))
        assert any("Too Many Requests" in g for g in got), got
        ws.send("after")
        assert ws.recv(timeout=5) == "re:after"


# ------------------------------------------------------------------------------------------------
# failures
# ------------------------------------------------------------------------------------------------

def _assert_ise(frame: str, cid: str):
    obj = json.loads(frame)
    assert obj.get("message") == "Internal server error", obj
    assert obj.get("connectionId") == cid, obj
    assert ID_RE.fullmatch(obj.get("requestId", "")), obj


def test_backend_down_internal_server_error(petrel_server):
    be = RecordingBackend(policy=dispatch(), start=False)  # port reserved, nobody listening
    srv = petrel_server(gw_config(be, connect=False, disconnect=False))
    with ws_connect(srv.url) as ws:
        cid = whoami(ws)
        t0 = time.monotonic()
        ws.send("hello")
        _assert_ise(ws.recv(timeout=5), cid)
    assert time.monotonic() - t0 < 3


def test_backend_down_then_back_serves_next_message(petrel_server):
    be = RecordingBackend(policy=dispatch(), start=False)
    srv = petrel_server(gw_config(be, connect=False, disconnect=False))
    try:
        with ws_connect(srv.url) as ws:
            cid = whoami(ws)
            ws.send("first")
            _assert_ise(ws.recv(timeout=5), cid)
            be.start()
            ws.send("second")
            assert ws.recv(timeout=5) == "re:second"
    finally:
        be.close()


def test_slow_backend_beyond_timeout_internal_server_error(petrel_server, backend):
    backend.policy = dispatch(message=lambda ev: proxy(200, "late", delay=2.0))
    srv = petrel_server(gw_config(backend, timeout="500ms"))
    with ws_connect(srv.url) as ws:
        cid = whoami(ws)
        t0 = time.monotonic()
        ws.send("hi")
        frame = ws.recv(timeout=5)
        elapsed = time.monotonic() - t0
        _assert_ise(frame, cid)
        with pytest.raises(TimeoutError):
            ws.recv(timeout=2.0)  # the late answer must not arrive afterwards
    assert 0.4 <= elapsed <= 1.5, f"Internal server error after {elapsed:.2f}s with timeout 500ms"


def test_backend_http_500_internal_server_error(petrel_server, backend):
    backend.policy = dispatch(message=Reply(500, "boom"))
    srv = petrel_server(gw_config(backend))
    with ws_connect(srv.url) as ws:
        cid = whoami(ws)
        ws.send("hi")
        _assert_ise(ws.recv(timeout=5), cid)


def test_backend_closes_without_response_internal_server_error(petrel_server, backend):
    backend.policy = dispatch(message=Close())
    srv = petrel_server(gw_config(backend))
    with ws_connect(srv.url) as ws:
        cid = whoami(ws)
        ws.send("hi")
        _assert_ise(ws.recv(timeout=5), cid)


def test_backend_garbage_response_internal_server_error(petrel_server, backend):
    backend.policy = dispatch(message=Garbage())
    srv = petrel_server(gw_config(backend))
    with ws_connect(srv.url) as ws:
        cid = whoami(ws)
        ws.send("hi")
        _assert_ise(ws.recv(timeout=5), cid)


def test_connection_stays_open_after_integration_error(petrel_server, backend):
    n = [0]

    def on_msg(ev):
        n[0] += 1
        return Reply(500, "boom") if n[0] == 1 else proxy(200, "re:" + ev["body"])
    backend.policy = dispatch(message=on_msg)
    srv = petrel_server(gw_config(backend))
    with ws_connect(srv.url) as ws:
        cid = whoami(ws)
        ws.send("one")
        _assert_ise(ws.recv(timeout=5), cid)
        ws.send("two")
        assert ws.recv(timeout=5) == "re:two"


def test_slow_backend_does_not_block_other_connections(petrel_server, backend):
    backend.policy = dispatch(message=lambda ev: proxy(200, "re:" + ev["body"],
                                                      delay=2.0 if ev["body"] == "slow" else 0))
    srv = petrel_server(gw_config(backend), threads=1)
    with ws_connect(srv.url) as a, ws_connect(srv.url) as b:
        a.send("slow")
        time.sleep(0.1)
        t0 = time.monotonic()
        b.send("fast")
        assert b.recv(timeout=5) == "re:fast"
        assert time.monotonic() - t0 < 1.0
        assert a.recv(timeout=5) == "re:slow"


def test_connect_backend_down_502(petrel_server):
    be = RecordingBackend(start=False)
    srv = petrel_server(gw_config(be))
    assert handshake_status(srv.public_port) == 502


def test_connect_backend_timeout_504(petrel_server, backend):
    backend.policy = dispatch(connect=Reply(200, "", delay=2.0))
    srv = petrel_server(gw_config(backend, connect_timeout="500ms"))
    t0 = time.monotonic()
    status = handshake_status(srv.public_port)
    assert status == 504
    assert time.monotonic() - t0 < 1.8


def test_connect_backend_garbage_502(petrel_server, backend):
    backend.policy = dispatch(connect=Garbage())
    srv = petrel_server(gw_config(backend))
    assert handshake_status(srv.public_port) == 502


def test_connect_proxy_status_403_rejects_with_403(petrel_server, backend):
    backend.policy = dispatch(connect=proxy(403, "nope"))
    srv = petrel_server(gw_config(backend))
    assert handshake_status(srv.public_port) == 403


def test_connect_plain_http_401_rejects_with_401(petrel_server, backend):
    backend.policy = dispatch(connect=Reply(401, "who are you"))
    srv = petrel_server(gw_config(backend))
    assert handshake_status(srv.public_port) == 401


def test_connect_proxy_status_200_accepts(petrel_server, backend):
    backend.policy = dispatch(connect=proxy(200))
    srv = petrel_server(gw_config(backend))
    assert handshake_status(srv.public_port) == 101


def test_rejected_connect_gets_no_disconnect(petrel_server, backend):
    backend.policy = dispatch(connect=proxy(403, "nope"))
    srv = petrel_server(gw_config(backend))
    assert handshake_status(srv.public_port) == 403
    time.sleep(1.0)
    assert backend.events("DISCONNECT") == []


def test_subprotocol_selected_by_connect_response(petrel_server, backend):
    backend.policy = dispatch(connect=proxy(200, headers={"Sec-WebSocket-Protocol": "chat.v2"}))
    srv = petrel_server(gw_config(backend))
    with ws_connect(srv.url, subprotocols=["chat.v1", "chat.v2"]) as ws:
        assert ws.subprotocol == "chat.v2"
        assert ws.response.headers.get("Sec-WebSocket-Protocol") == "chat.v2"


def test_connect_event_carries_offered_subprotocols(petrel_server, backend):
    srv = petrel_server(gw_config(backend))
    resp, s, _ = raw_handshake(srv.public_port, headers=[("Sec-WebSocket-Protocol", "chat.v1, chat.v2")])
    s.close()
    ev = connect_event(backend).event
    assert ev["headers"]["Sec-WebSocket-Protocol"] == "chat.v1, chat.v2"
    # Not selected by $connect: the 101 must not name one.
    assert resp.status == 101 and resp.header("Sec-WebSocket-Protocol") is None


# ------------------------------------------------------------------------------------------------
# $disconnect retries
# ------------------------------------------------------------------------------------------------

def test_disconnect_retried_after_500s_delivered_once(petrel_server, backend):
    attempts = []

    def on_disc(ev):
        attempts.append(time.monotonic())
        return Reply(500, "not yet") if len(attempts) <= 2 else Reply(200, "")
    backend.policy = dispatch(disconnect=on_disc)
    srv = petrel_server(gw_config(backend))
    with ws_connect(srv.url) as ws:
        cid = whoami(ws)
    t0 = time.monotonic()
    backend.wait_event("DISCONNECT", cid=cid, count=3, timeout=11)
    time.sleep(2.5)  # a 4th attempt after a success would be a duplicate
    evs = backend.events("DISCONNECT", cid=cid)
    assert len(evs) == 3, f"{len(evs)} DISCONNECT attempts (2 answered 500, then 200)"
    assert attempts[2] - t0 <= 10.5
    assert {e.rc["disconnectStatusCode"] for e in evs} == {1000}


def test_disconnect_retried_until_backend_reachable(petrel_server):
    be = RecordingBackend(policy=dispatch(), start=False)
    srv = petrel_server(gw_config(None, connect=False, disconnect_url=be.url))
    try:
        with ws_connect(srv.url) as ws:
            cid = whoami(ws)
        t0 = time.monotonic()
        time.sleep(3.0)  # the first attempts find nobody listening
        be.start()
        evs = be.wait_event("DISCONNECT", cid=cid, timeout=10.5 - (time.monotonic() - t0))
        time.sleep(2.0)
        assert len(be.events("DISCONNECT", cid=cid)) == 1
        assert evs[0].rc["disconnectStatusCode"] == 1000
    finally:
        be.close()
