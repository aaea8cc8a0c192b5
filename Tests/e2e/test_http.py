"""Plain HTTP on the public and admin listeners."""
from __future__ import annotations

import json

import pytest

from petrel_harness import HttpReader, http_request, tcp_connect

pytestmark = pytest.mark.timeout(30)

HTTP_CONFIG = """\
websocket:
  routes: {$default: {integration: echo}}
http:
  routes:
    "GET /health": {integration: ok}
    "POST /submit": {integration: ok}
integrations:
  echo: {type: mock, mode: echo}
  ok: {type: mock, status: 200, body: '{"ok":true}', headers: {content-type: application/json}}
"""


def test_health_returns_200(default_server):
    r = http_request(default_server.public_port, "GET", "/health")
    assert r.status == 200


def test_unknown_path_returns_404_not_found_json(default_server):
    r = http_request(default_server.public_port, "GET", "/definitely/not/here")
    assert r.status == 404
    assert r.body == b'{"message":"Not Found"}'


def test_keep_alive_two_sequential_requests(default_server):
    port = default_server.public_port
    req = f"GET /health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    with tcp_connect(port) as s:
        reader = HttpReader(s)
        s.sendall(req)
        assert reader.read_response().status == 200
        s.sendall(req)  # same connection
        assert reader.read_response().status == 200


def test_pipelined_requests_answered_in_order(default_server):
    port = default_server.public_port
    reqs = (f"GET /health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"
            f"GET /nope HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"
            f"GET /health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n").encode()
    with tcp_connect(port) as s:
        s.sendall(reqs)  # all in one send
        reader = HttpReader(s)
        statuses = [reader.read_response().status for _ in range(3)]
    assert statuses == [200, 404, 200]


def test_connection_close_honoured(default_server):
    port = default_server.public_port
    with tcp_connect(port) as s:
        s.sendall(f"GET /health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
        reader = HttpReader(s)
        assert reader.read_response().status == 200
        assert reader.wait_eof(3), "server kept the connection open after Connection: close"


def test_chunked_request_body_accepted(petrel_server):
    srv = petrel_server(HTTP_CONFIG)
    port = srv.public_port
    req = (f"POST /submit HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nTransfer-Encoding: chunked\r\n"
           f"Content-Type: text/plain\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n"
           f"GET /health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n").encode()
    with tcp_connect(port) as s:
        s.sendall(req)
        reader = HttpReader(s)
        first = reader.read_response()
        second = reader.read_response()  # proves the chunked body was consumed exactly
    assert first.status == 200, first
    assert json.loads(first.body) == {"ok": True}
    assert second.status == 200


def test_content_length_and_transfer_encoding_rejected_400_and_closed(default_server):
    port = default_server.public_port
    req = (f"POST /health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 5\r\n"
           f"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
           f"GET /smuggled HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n").encode()
    with tcp_connect(port) as s:
        s.sendall(req)
        reader = HttpReader(s)
        r = reader.read_response()
        assert r.status == 400
        assert reader.wait_eof(3), "connection not closed after CL+TE 400"
        assert b"HTTP/1.1" not in reader.buf, f"smuggled request answered: {reader.buf[:200]!r}"


def test_malformed_request_line_400(default_server):
    port = default_server.public_port
    with tcp_connect(port) as s:
        s.sendall(b"THIS IS NOT HTTP\r\n\r\n")
        r = HttpReader(s).read_response()
    assert r.status == 400


def test_admin_healthz_200(default_server):
    assert http_request(default_server.admin_port, "GET", "/healthz").status == 200


def test_admin_readyz_200(default_server):
    assert http_request(default_server.admin_port, "GET", "/readyz").status == 200
