"""Hardening (issue 6): real client addresses behind balancers (PROXY protocol v1/v2, trusted
X-Forwarded-For), IP allow/deny lists, connection caps, the Origin allow-list, hostile HTTP and
bounded memory under a slowloris.

Where each refusal happens (ClientAddressPolicy.swift): a denied peer whose address is known at
accept is closed there with no response; a PROXY header naming a denied client closes the
connection after the header; a trusted proxy's request naming a denied client in
X-Forwarded-For gets 403. Caps answer the handshake with 503.
"""
from __future__ import annotations

import json
import select
import selectors
import socket
import struct
import time

import pytest

from petrel_harness import RSS_BOUND_FACTOR, HttpReader, http_request, rss_kib, tcp_connect, ws_upgrade_request
from wsraw import RawWebSocket

pytestmark = pytest.mark.timeout(60)

V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


def config(listener: str = "", limits: str = "", websocket: str = "") -> str:
    """A public listener with `listener` lines (YAML, 4-space indent), a whoami route."""
    lim = f"  limits: {{{limits}}}\n" if limits else ""
    return (
        "listeners:\n  public:\n    address: 127.0.0.1:0\n" + listener +
        "websocket:\n  route_selection: $request.body.action\n" + lim + websocket +
        "  routes:\n"
        "    $default: {integration: echo}\n"
        "    whoami: {integration: whoami, respond: true}\n"
        "integrations:\n"
        "  echo: {type: mock, mode: echo}\n"
        "  whoami: {type: mock, status: 200, body: '{\"connectionId\":\"${context.connectionId}\"}'}\n"
    )


def proxy_v1(src: str, dst: str = "127.0.0.1", sport: int = 40000, dport: int = 8080) -> bytes:
    family = "TCP6" if ":" in src else "TCP4"
    return f"PROXY {family} {src} {dst} {sport} {dport}\r\n".encode()


def proxy_v2(src: str | None, dst: str = "127.0.0.1", sport: int = 40000, dport: int = 8080,
             local: bool = False, tlvs: bytes = b"") -> bytes:
    if local:
        return V2_SIGNATURE + bytes([0x20, 0x00]) + struct.pack("!H", len(tlvs)) + tlvs
    if ":" in src:
        block = socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst or "::1")
        family = 0x21
    else:
        block = socket.inet_aton(src) + socket.inet_aton(dst)
        family = 0x11
    block += struct.pack("!HH", sport, dport) + tlvs
    return V2_SIGNATURE + bytes([0x21, family]) + struct.pack("!H", len(block)) + block


def raw_ws(port: int, preamble: bytes = b"", headers: dict | None = None) -> RawWebSocket:
    ws = RawWebSocket("127.0.0.1", port, do_handshake=False, timeout=5)
    if preamble:
        ws.send_raw(preamble)
    ws.handshake(headers or {})
    return ws


def whoami(ws: RawWebSocket) -> str:
    ws.send_text('{"action":"whoami"}')
    _, data = ws.recv_message(5)
    return json.loads(data)["connectionId"]


def source_ip(srv, ws: RawWebSocket) -> str:
    """identity.sourceIp as the @connections API reports it."""
    cid = whoami(ws)
    r = http_request(srv.admin_port, "GET", f"/@connections/{cid}")
    assert r.status == 200, (r.status, r.body)
    return json.loads(r.body)["identity"]["sourceIp"]


def closed_without_response(sock: socket.socket, timeout: float = 3.0) -> bool:
    """True when the server ends the connection (FIN or RST) without sending a byte."""
    reader = HttpReader(sock)
    closed = reader.wait_eof(timeout)
    return closed and reader.buf == b""


def upgrade_status(port: int, preamble: bytes = b"", extra: dict | None = None) -> tuple[int, socket.socket]:
    s = tcp_connect(port)
    s.sendall(preamble + ws_upgrade_request(port, extra=extra))
    return HttpReader(s).read_response(timeout=5).status, s


def logged(srv, msg: str, **fields) -> dict | None:
    return srv.wait_log(lambda o: o.get("msg") == msg and all(o.get(k) == v for k, v in fields.items()),
                        timeout=5)


# -- PROXY protocol ------------------------------------------------------------------------------

def test_proxy_v1_source_ip_reaches_identity(petrel_server):
    srv = petrel_server(config("    proxy_protocol: v1\n"))
    ws = raw_ws(srv.public_port, proxy_v1("203.0.113.7"))
    try:
        assert source_ip(srv, ws) == "203.0.113.7"
    finally:
        ws.sock.close()


def test_proxy_v2_tcp6_source_ip_reaches_identity(petrel_server):
    srv = petrel_server(config("    proxy_protocol: v2\n"))
    ws = raw_ws(srv.public_port, proxy_v2("2001:db8::5", "2001:db8::1"))
    try:
        assert source_ip(srv, ws) == "2001:db8::5"
    finally:
        ws.sock.close()


def test_proxy_v2_header_and_request_in_one_write(petrel_server):
    """Trailing data after the header in the same read is the HTTP request."""
    srv = petrel_server(config("    proxy_protocol: v2\n"))
    with tcp_connect(srv.public_port) as s:
        tlvs = bytes([0x04, 0x00, 0x02, 0, 0])  # a NOOP TLV
        req = ws_upgrade_request(srv.public_port, key=None)  # 400: logged with sourceIp
        s.sendall(proxy_v2("198.51.100.20", tlvs=tlvs) + req)
        assert HttpReader(s).read_response(timeout=5).status == 400
    assert logged(srv, "handshake rejected", sourceIp="198.51.100.20")


def test_proxy_v1_header_byte_by_byte(petrel_server):
    srv = petrel_server(config("    proxy_protocol: v1\n"))
    with tcp_connect(srv.public_port) as s:
        for b in proxy_v1("192.0.2.99"):
            s.sendall(bytes([b]))
            time.sleep(0.002)
        s.sendall(ws_upgrade_request(srv.public_port, key=None))
        assert HttpReader(s).read_response(timeout=5).status == 400
    assert logged(srv, "handshake rejected", sourceIp="192.0.2.99")


def test_proxy_v2_local_keeps_the_tcp_peer(petrel_server):
    srv = petrel_server(config("    proxy_protocol: v2\n"))
    ws = raw_ws(srv.public_port, proxy_v2(None, local=True))
    try:
        assert source_ip(srv, ws) == "127.0.0.1"
    finally:
        ws.sock.close()


@pytest.mark.parametrize("first_bytes", [
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",          # no header at all
    b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",           # bare LF
    b"PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n",       # bad address
    b"PROXY UNKNOWN " + b"a" * 120,                # over 107 bytes without CRLF
], ids=["plain-http", "bare-lf", "bad-address", "too-long"])
def test_proxy_v1_listener_closes_on_a_bad_header(petrel_server, first_bytes):
    srv = petrel_server(config("    proxy_protocol: v1\n"))
    with tcp_connect(srv.public_port) as s:
        s.sendall(first_bytes)
        assert closed_without_response(s)
    assert logged(srv, "bad proxy protocol header")


def test_proxy_v1_header_on_a_v2_listener_is_refused(petrel_server):
    srv = petrel_server(config("    proxy_protocol: v2\n"))
    with tcp_connect(srv.public_port) as s:
        s.sendall(proxy_v1("203.0.113.7") + ws_upgrade_request(srv.public_port))
        assert closed_without_response(s)


def test_proxy_header_never_sent_closes_at_the_handshake_timeout(petrel_server):
    srv = petrel_server(config("    proxy_protocol: v2\n", limits="handshake_timeout: 1s"))
    with tcp_connect(srv.public_port) as s:
        s.sendall(V2_SIGNATURE[:5])
        t0 = time.monotonic()
        assert closed_without_response(s, timeout=4)
        assert 0.8 <= time.monotonic() - t0 <= 3.5


def test_proxy_peer_outside_trusted_proxies_is_closed_at_accept(petrel_server):
    srv = petrel_server(config("    proxy_protocol: v1\n    trusted_proxies: [10.0.0.0/8]\n"))
    with tcp_connect(srv.public_port) as s:
        assert closed_without_response(s)
    assert logged(srv, "connection refused", reason="proxy_protocol peer not in trusted_proxies")


def test_proxy_v2_before_tls(petrel_server, tmp_path):
    """The header comes before the ClientHello; the TLS session starts after it."""
    tls_pki = pytest.importorskip("tls_pki")
    if not tls_pki.openssl_available():
        pytest.skip("openssl CLI not installed")
    pki = tls_pki.make_pki(tmp_path / "pki")
    listener = (f"    proxy_protocol: v2\n"
                f"    tls: {{certificate: {pki.server_cert}, private_key: {pki.server_key}}}\n")
    srv = petrel_server(config(listener))
    raw = tcp_connect(srv.public_port)
    raw.sendall(proxy_v2("198.51.100.33"))
    with pki.client_context().wrap_socket(raw, server_hostname="127.0.0.1") as s:
        s.sendall(ws_upgrade_request(srv.public_port, key=None))
        assert HttpReader(s).read_response(timeout=5).status == 400
    assert logged(srv, "handshake rejected", sourceIp="198.51.100.33")


# -- X-Forwarded-For -----------------------------------------------------------------------------

def test_xff_from_a_trusted_proxy_names_the_client(petrel_server):
    srv = petrel_server(config("    trusted_proxies: [127.0.0.1/32]\n"))
    ws = raw_ws(srv.public_port, headers={"X-Forwarded-For": "198.51.100.9"})
    try:
        assert source_ip(srv, ws) == "198.51.100.9"
    finally:
        ws.sock.close()


def test_xff_chain_stops_at_the_first_untrusted_hop(petrel_server):
    """Right to left: trusted hops are skipped, the first untrusted address is the client; what
    the client itself wrote further left is not believed."""
    srv = petrel_server(config("    trusted_proxies: [127.0.0.1/32, 10.0.0.0/8]\n"))
    ws = raw_ws(srv.public_port, headers={"X-Forwarded-For": "1.1.1.1, 203.0.113.9, 10.0.0.5"})
    try:
        assert source_ip(srv, ws) == "203.0.113.9"
    finally:
        ws.sock.close()


def test_xff_from_an_untrusted_peer_is_ignored(petrel_server):
    srv = petrel_server(config("    trusted_proxies: [10.0.0.0/8]\n"))
    ws = raw_ws(srv.public_port, headers={"X-Forwarded-For": "198.51.100.9"})
    try:
        assert source_ip(srv, ws) == "127.0.0.1"
    finally:
        ws.sock.close()


def test_xff_ignored_without_trusted_proxies(petrel_server):
    srv = petrel_server(config())
    ws = raw_ws(srv.public_port, headers={"X-Forwarded-For": "198.51.100.9"})
    try:
        assert source_ip(srv, ws) == "127.0.0.1"
    finally:
        ws.sock.close()


# -- IP allow/deny lists -------------------------------------------------------------------------

@pytest.mark.parametrize("rules", ["    deny_ips: [127.0.0.0/8]\n", "    allow_ips: [10.0.0.0/8, \"::1\"]\n",
                                   "    allow_ips: [127.0.0.0/8]\n    deny_ips: [127.0.0.1]\n"],
                         ids=["denied", "not-allowed", "deny-wins"])
def test_denied_peer_is_closed_at_accept(petrel_server, rules):
    srv = petrel_server(config(rules))
    with tcp_connect(srv.public_port) as s:
        s.sendall(ws_upgrade_request(srv.public_port))
        assert closed_without_response(s)
    assert logged(srv, "connection refused", reason="address denied", sourceIp="127.0.0.1")
    # The admin listener has its own (empty) rules.
    assert http_request(srv.admin_port, "GET", "/healthz").status == 200


def test_allowed_peer_is_served(petrel_server):
    srv = petrel_server(config("    allow_ips: [127.0.0.0/8]\n    deny_ips: [192.0.2.0/24]\n"))
    status, s = upgrade_status(srv.public_port)
    s.close()
    assert status == 101


def test_client_denied_by_its_proxy_header_is_closed(petrel_server):
    srv = petrel_server(config("    proxy_protocol: v1\n    deny_ips: [192.0.2.0/24]\n"))
    with tcp_connect(srv.public_port) as s:
        s.sendall(proxy_v1("192.0.2.66") + ws_upgrade_request(srv.public_port))
        assert closed_without_response(s)
    assert logged(srv, "connection refused", reason="address denied", sourceIp="192.0.2.66")
    # Another client through the same balancer is served.
    status, s = upgrade_status(srv.public_port, proxy_v1("198.51.100.1"))
    s.close()
    assert status == 101


def test_client_denied_by_trusted_xff_gets_403(petrel_server):
    srv = petrel_server(config("    trusted_proxies: [127.0.0.1/32]\n    deny_ips: [192.0.2.0/24]\n"))
    status, s = upgrade_status(srv.public_port, extra={"X-Forwarded-For": "192.0.2.66"})
    s.close()
    assert status == 403
    status, s = upgrade_status(srv.public_port, extra={"X-Forwarded-For": "198.51.100.1"})
    s.close()
    assert status == 101


# -- connection caps -----------------------------------------------------------------------------

def test_per_ip_cap_answers_503_and_frees_on_close(petrel_server):
    srv = petrel_server(config(limits="max_connections_per_ip: 2"))
    held = [upgrade_status(srv.public_port) for _ in range(2)]
    assert [st for st, _ in held] == [101, 101]
    status, s = upgrade_status(srv.public_port)
    s.close()
    assert status == 503
    assert logged(srv, "limit reached", limit="max_connections_per_ip")
    held[0][1].close()
    deadline = time.monotonic() + 5
    while True:
        status, s = upgrade_status(srv.public_port)
        s.close()
        if status == 101 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert status == 101
    for _, sock in held:
        sock.close()


def test_per_ip_cap_counts_the_client_behind_the_balancer(petrel_server):
    srv = petrel_server(config("    proxy_protocol: v1\n    max_connections_per_ip: 1\n"))
    a, sa = upgrade_status(srv.public_port, proxy_v1("198.51.100.1"))
    b, sb = upgrade_status(srv.public_port, proxy_v1("198.51.100.2"))
    c, sc = upgrade_status(srv.public_port, proxy_v1("198.51.100.1"))
    for s in (sa, sb, sc):
        s.close()
    assert (a, b, c) == (101, 101, 503)


def test_node_wide_cap_answers_503_across_loops(petrel_server):
    srv = petrel_server(config(limits="max_connections: 3"), threads=2)
    results = [upgrade_status(srv.public_port) for _ in range(5)]
    statuses = [st for st, _ in results]
    for _, s in results:
        s.close()
    assert statuses == [101, 101, 101, 503, 503]
    assert logged(srv, "limit reached", limit="max_connections")


# -- Origin allow-list ---------------------------------------------------------------------------

@pytest.mark.parametrize("origin,expected", [("https://good.example", 101), ("https://evil.example", 403),
                                             (None, 403)])
def test_origin_allow_list(petrel_server, origin, expected):
    srv = petrel_server(config(websocket="  allowed_origins: [https://good.example]\n"))
    status, s = upgrade_status(srv.public_port, extra={"Origin": origin} if origin else None)
    s.close()
    assert status == expected


# -- hostile HTTP ----------------------------------------------------------------------------------

SMUGGLING = {
    "cl-and-te": b"POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
                 b"0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n",
    "duplicate-cl": b"POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 40\r\n\r\n"
                    b"helloGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n",
    "cl-list": b"POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 40\r\n\r\nhello",
    "obs-fold": b"GET / HTTP/1.1\r\nHost: h\r\nX-Folded: a\r\n Transfer-Encoding: chunked\r\n\r\n",
    "bare-lf": b"GET / HTTP/1.1\nHost: h\n\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n",
    "te-obfuscated": b"POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
}


@pytest.mark.parametrize("name", list(SMUGGLING))
def test_smuggling_shapes_get_400_and_close(petrel_server, name):
    srv = petrel_server(config())
    with tcp_connect(srv.public_port) as s:
        s.sendall(SMUGGLING[name])
        reader = HttpReader(s)
        r = reader.read_response(timeout=5)
        assert r.status == 400, (name, r.status)
        assert (r.header("Connection") or "").lower() == "close"
        assert reader.wait_eof(3)
        assert b"HTTP/1.1" not in reader.buf, "a second (smuggled) request was answered"


def test_oversized_request_line_gets_414(petrel_server):
    srv = petrel_server(config(limits="max_header_bytes: 4096"))
    with tcp_connect(srv.public_port) as s:
        s.sendall(b"GET /" + b"a" * 8000 + b" HTTP/1.1\r\nHost: h\r\n\r\n")
        reader = HttpReader(s)
        assert reader.read_response(timeout=5).status == 414
        assert reader.wait_eof(3)


def test_oversized_headers_get_431(petrel_server):
    srv = petrel_server(config(limits="max_header_bytes: 4096"))
    with tcp_connect(srv.public_port) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: h\r\n" + b"".join(b"X-%d: %s\r\n" % (i, b"v" * 100) for i in range(60)))
        reader = HttpReader(s)
        assert reader.read_response(timeout=5).status == 431
        assert reader.wait_eof(3)


def test_slowloris_trickled_headers_close_at_the_handshake_timeout(petrel_server):
    """Bytes keep arriving, one every 50 ms: the deadline is for the whole request, not per byte."""
    srv = petrel_server(config(limits="handshake_timeout: 1s"))
    with tcp_connect(srv.public_port) as s:
        request = ws_upgrade_request(srv.public_port) + b"X-Pad: " + b"p" * 10_000
        t0 = time.monotonic()
        closed_at = None
        for b in request:
            try:
                s.sendall(bytes([b]))
            except (BrokenPipeError, ConnectionResetError):
                closed_at = time.monotonic()
                break
            r, _, _ = select.select([s], [], [], 0.05)
            if r:
                data = s.recv(4096)
                assert data == b"", f"server answered a trickled request: {data[:80]!r}"
                closed_at = time.monotonic()
                break
            if time.monotonic() - t0 > 5:
                break
        assert closed_at is not None, "still open 5 s into a trickled request"
        assert 0.8 <= closed_at - t0 <= 2.5


def test_handshake_never_completed_closes_at_the_timeout(petrel_server):
    srv = petrel_server(config(limits="handshake_timeout: 1s"))
    with tcp_connect(srv.public_port) as idle, tcp_connect(srv.public_port) as partial:
        partial.sendall(b"GET / HTTP/1.1\r\nHost: h\r\n")
        t0 = time.monotonic()
        assert closed_without_response(idle, timeout=4)
        assert closed_without_response(partial, timeout=4)
        assert 0.8 <= time.monotonic() - t0 <= 3.5


def test_half_open_tcp_during_the_request_is_closed_promptly(petrel_server):
    """The client sends half a request and its FIN: no request can complete, so the server closes
    at once instead of waiting for the handshake timeout (10 s here)."""
    srv = petrel_server(config())
    with tcp_connect(srv.public_port) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: h\r\n")
        s.shutdown(socket.SHUT_WR)
        t0 = time.monotonic()
        assert closed_without_response(s, timeout=3)
        assert time.monotonic() - t0 < 2


def test_half_open_tcp_after_the_upgrade_is_closed_promptly(petrel_server):
    srv = petrel_server(config())
    ws = raw_ws(srv.public_port)
    try:
        ws.sock.shutdown(socket.SHUT_WR)
        assert ws.expect_eof(3)
    finally:
        ws.sock.close()
    # The connection's cap place and directory entry are gone: the server still serves.
    ws2 = raw_ws(srv.public_port)
    ws2.sock.close()


@pytest.mark.parametrize("garbage,code", [
    (b"\x8f\x80\x00\x00\x00\x00garbage", 1002),                  # reserved opcode 0xF
    (b"\x00\xff\x13garbage-not-a-frame" * 4, 1009),                  # declares a 64-bit length
    (b"GET /again HTTP/1.1\r\nHost: h\r\n\r\n", 1002),             # 'G': RSV bits set
], ids=["reserved-opcode", "huge-length", "http"])
def test_pipelined_garbage_after_the_upgrade_is_a_protocol_error(petrel_server, garbage, code):
    """Bytes after the upgrade request are WebSocket frames: garbage (even a valid HTTP request)
    is malformed, so the server closes with 1002 (1009 for a length over the limits) and never
    answers it as HTTP."""
    srv = petrel_server(config())
    with tcp_connect(srv.public_port) as s:
        s.sendall(ws_upgrade_request(srv.public_port) + garbage)
        reader = HttpReader(s)
        assert reader.read_response(timeout=5).status == 101
        assert reader.wait_eof(3)
        data = reader.buf
    assert b"HTTP/1.1" not in data
    assert len(data) >= 4 and data[0] == 0x88, f"expected a close frame, got {data[:16]!r}"
    assert struct.unpack("!H", data[2:4])[0] == code


def test_pipelined_request_behind_a_pending_connect_is_not_answered(petrel_server):
    """While `$connect` is pending nothing further is parsed as HTTP: the request pipelined behind
    the upgrade gets no 404 ahead of the 101, and becomes (bad) WebSocket bytes after it."""
    from backend import RecordingBackend, Reply
    with RecordingBackend(policy=lambda ev: Reply(200, {"statusCode": 200}, delay=0.5)) as be:
        srv = petrel_server(
            "websocket:\n  routes:\n    $connect: {integration: backend}\n    $default: {integration: echo}\n"
            f"integrations:\n  backend: {{type: http, url: \"{be.url}\", timeout: 5s}}\n"
            "  echo: {type: mock, mode: echo}\n")
        with tcp_connect(srv.public_port) as s:
            s.sendall(ws_upgrade_request(srv.public_port) + b"GET /nope HTTP/1.1\r\nHost: h\r\n\r\n")
            reader = HttpReader(s)
            assert reader.read_response(timeout=5).status == 101
            assert reader.wait_eof(3)
            data = reader.buf
        assert b"HTTP/1.1" not in data
        assert data[:1] == b"\x88" and struct.unpack("!H", data[2:4])[0] == 1002


def test_slowloris_1000_connections_memory_stays_bounded(petrel_server):
    """1000 connections each holding a partial request just under max_header_bytes: the server's
    RSS grows by the buffered bytes (≈ 1000 × 4 KiB) plus per-connection state, not more, and
    every connection is closed at the handshake timeout."""
    srv = petrel_server(config(limits="handshake_timeout: 4s, max_header_bytes: 8192"), threads=2)
    pid = srv.proc.pid
    # Warm up allocators with one full handshake.
    status, s = upgrade_status(srv.public_port)
    s.close()
    before = rss_kib(pid)
    socks = []
    partial = b"GET / HTTP/1.1\r\nHost: h\r\nX-Pad: " + b"p" * 4000
    try:
        t0 = time.monotonic()
        for _ in range(1000):
            c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            c.setblocking(True)
            c.settimeout(5)
            c.connect(("127.0.0.1", srv.public_port))
            c.sendall(partial[:200])
            socks.append(c)
        # Trickle the rest in a few rounds, so every connection is mid-request at once.
        for offset in range(200, len(partial), 1300):
            for c in socks:
                try:
                    c.sendall(partial[offset:offset + 1300])
                except OSError:
                    pass
        time.sleep(0.3)
        peak = rss_kib(pid)
        opened_in = time.monotonic() - t0
        grown_mib = (peak - before) / 1024
        assert grown_mib < 48 * RSS_BOUND_FACTOR, f"RSS grew {grown_mib:.1f} MiB for 1000 slowloris connections"
        # All are closed by the deadline sweep (4 s after each accept).
        deadline = time.monotonic() + 4 + opened_in + 4
        open_socks = set(socks)
        # epoll, not select(): 1000 more sockets can take fd numbers past select's 1024.
        with selectors.DefaultSelector() as watch:
            for c in open_socks:
                watch.register(c, selectors.EVENT_READ)
            while open_socks and time.monotonic() < deadline:
                for key, _ in watch.select(0.2):
                    c = key.fileobj
                    try:
                        data = c.recv(4096)
                    except OSError:
                        data = b""
                    assert data == b"", f"server answered a partial request: {data[:60]!r}"
                    watch.unregister(c)
                    open_socks.discard(c)
        assert not open_socks, f"{len(open_socks)} slowloris connections still open"
    finally:
        for c in socks:
            c.close()
    status, s = upgrade_status(srv.public_port)
    s.close()
    assert status == 101
    after = rss_kib(pid)
    print(f"slowloris RSS KiB: before={before} peak={peak} after={after}")


# -- every refusal is counted ----------------------------------------------------------------------

def limit_hits(srv) -> dict[str, float]:
    from prometheus_client.parser import text_string_to_metric_families
    r = http_request(srv.admin_port, "GET", "/metrics")
    assert r.status == 200, r
    return {s.labels["limit"]: s.value
            for family in text_string_to_metric_families(r.body.decode())
            for s in family.samples if s.name == "petrel_limit_hits_total"}


def test_refusals_are_counted_by_limit(petrel_server):
    srv = petrel_server(config("    trusted_proxies: [127.0.0.1/32]\n    deny_ips: [192.0.2.0/24]\n",
                               limits="max_connections_per_ip: 2, max_header_bytes: 4096",
                               websocket="  allowed_origins: [https://good.example]\n"))
    good = {"Origin": "https://good.example"}
    held = [upgrade_status(srv.public_port, extra=good) for _ in range(2)]
    refused = [upgrade_status(srv.public_port, extra=good) for _ in range(3)]        # per-IP cap
    refused += [upgrade_status(srv.public_port, extra={"Origin": "https://evil.example"})]
    refused += [upgrade_status(srv.public_port, extra={**good, "X-Forwarded-For": "192.0.2.9"}) for _ in range(2)]
    statuses = [st for st, _ in held + refused]
    for _, s in held + refused:
        s.close()
    assert statuses == [101, 101, 503, 503, 503, 403, 403, 403]
    for request in (b"GET /" + b"a" * 8000 + b" HTTP/1.1\r\nHost: h\r\n\r\n",
                    b"GET / HTTP/1.1\r\nHost: h\r\n" + b"X-Big: " + b"v" * 5000 + b"\r\n\r\n"):
        with tcp_connect(srv.public_port) as s:
            s.sendall(request)
            assert HttpReader(s).read_response(timeout=5).status in (414, 431)
    hits = limit_hits(srv)
    assert hits.get("max_connections_per_ip") == 3
    assert hits.get("allowed_origins") == 1
    assert hits.get("ip_rules") == 2
    assert hits.get("max_header_bytes") == 2
    assert "max_connections" not in hits or hits["max_connections"] == 0
