"""Opening handshake over raw sockets: accept, errors (400/426/431) and the handshake timeout."""
from __future__ import annotations

import base64
import hashlib
import time

import pytest

from petrel_harness import HttpReader, tcp_connect, ws_config, ws_upgrade_request

pytestmark = pytest.mark.timeout(30)

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def _upgrade(port: int, **kw):
    with tcp_connect(port) as s:
        s.sendall(ws_upgrade_request(port, **kw))
        return HttpReader(s).read_response(timeout=5)


def test_handshake_101_with_correct_accept(default_server):
    key = base64.b64encode(b"0123456789abcdef").decode()
    r = _upgrade(default_server.public_port, key=key)
    assert r.status == 101
    expected = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
    assert r.header("Sec-WebSocket-Accept") == expected
    assert (r.header("Upgrade") or "").lower() == "websocket"
    assert "upgrade" in (r.header("Connection") or "").lower()


def test_handshake_version_8_gets_426_with_version_13_header(default_server):
    r = _upgrade(default_server.public_port, version="8")
    assert r.status == 426
    versions = ",".join(r.header_all("Sec-WebSocket-Version"))
    assert "13" in [v.strip() for v in versions.split(",")], r.headers


def test_handshake_missing_key_gets_400(default_server):
    r = _upgrade(default_server.public_port, key=None)
    assert r.status == 400


def test_handshake_key_not_16_bytes_gets_400(default_server):
    r = _upgrade(default_server.public_port, key=base64.b64encode(b"short").decode())
    assert r.status == 400


def test_handshake_missing_version_gets_error(default_server):
    r = _upgrade(default_server.public_port, version=None)
    assert r.status in (400, 426)


def test_handshake_post_method_is_not_upgraded(default_server):
    port = default_server.public_port
    req = ws_upgrade_request(port).replace(b"GET ", b"POST ", 1)
    with tcp_connect(port) as s:
        s.sendall(req)
        r = HttpReader(s).read_response(timeout=5)
    assert r.status != 101 and r.status >= 400


def test_handshake_headers_over_8k_get_431(default_server):
    r = _upgrade(default_server.public_port, extra={"X-Padding": "a" * 9000})
    assert r.status == 431


def test_http_headers_over_8k_get_431(default_server):
    port = default_server.public_port
    req = (f"GET /health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n" +
           "".join(f"X-H{i}: {'b' * 200}\r\n" for i in range(50)) + "\r\n").encode()
    with tcp_connect(port) as s:
        s.sendall(req)
        r = HttpReader(s).read_response(timeout=5)
    assert r.status == 431


def test_headers_just_under_8k_accepted(default_server):
    r = _upgrade(default_server.public_port, extra={"X-Padding": "a" * 7000})
    assert r.status == 101


def _time_to_eof(port: int, payload: bytes, limit: float = 6.0) -> float | None:
    with tcp_connect(port, timeout=limit) as s:
        t0 = time.monotonic()
        if payload:
            s.sendall(payload)
        reader = HttpReader(s)
        if reader.wait_eof(limit):
            return time.monotonic() - t0
        return None


def test_handshake_timeout_with_no_bytes(petrel_server):
    srv = petrel_server(ws_config(limits="handshake_timeout: 1s"))
    elapsed = _time_to_eof(srv.public_port, b"")
    assert elapsed is not None, "server kept an idle TCP connection open past the handshake timeout"
    assert 0.7 <= elapsed <= 4.0, f"closed after {elapsed:.2f}s with handshake_timeout 1s"


def test_handshake_timeout_with_partial_request(petrel_server):
    srv = petrel_server(ws_config(limits="handshake_timeout: 1s"))
    partial = f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{srv.public_port}\r\nUpgrade: websocket\r\n".encode()
    elapsed = _time_to_eof(srv.public_port, partial)
    assert elapsed is not None, "server kept a half-sent handshake open past the handshake timeout"
    assert 0.7 <= elapsed <= 4.0, f"closed after {elapsed:.2f}s with handshake_timeout 1s"


def test_handshake_timeout_slowloris_trickle(petrel_server):
    """A client trickling header bytes does not extend the handshake deadline."""
    srv = petrel_server(ws_config(limits="handshake_timeout: 1s"))
    req = ws_upgrade_request(srv.public_port, extra={"X-Slow": "s" * 200})
    with tcp_connect(srv.public_port) as s:
        t0 = time.monotonic()
        closed_at = None
        for i in range(len(req) - 4):  # never finish the request
            try:
                s.sendall(req[i:i + 1])
            except (BrokenPipeError, ConnectionResetError):
                closed_at = time.monotonic() - t0
                break
            s.settimeout(0.05)
            try:
                if s.recv(4096) == b"":
                    closed_at = time.monotonic() - t0
                    break
            except TimeoutError:
                pass
            except ConnectionResetError:
                closed_at = time.monotonic() - t0
                break
            if time.monotonic() - t0 > 5:
                break
    assert closed_at is not None, "trickled handshake kept open for 5 s with handshake_timeout 1s"
    assert closed_at <= 4.0
