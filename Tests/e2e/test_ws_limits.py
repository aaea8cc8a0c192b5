"""Configured WebSocket limits: sizes, idle timeout, connection duration, connect rate."""
from __future__ import annotations

import time

import pytest

from petrel_harness import (HttpReader, recv_close, tcp_connect, ws_config, ws_connect,
                            ws_upgrade_request)

pytestmark = pytest.mark.timeout(30)


def test_message_over_configured_max_message_bytes_closes_1009(petrel_server):
    srv = petrel_server(ws_config(limits="max_message_bytes: 1024, max_frame_bytes: 4096"))
    with ws_connect(srv.url) as ws:
        ws.send(iter(["a" * 600, "b" * 600]))  # each frame under both limits, message over
        code, _ = recv_close(ws)
        assert code == 1009


def test_message_at_configured_max_message_bytes_passes(petrel_server):
    srv = petrel_server(ws_config(limits="max_message_bytes: 1024, max_frame_bytes: 4096"))
    with ws_connect(srv.url) as ws:
        ws.send(iter(["a" * 512, "b" * 512]))
        assert ws.recv(timeout=5) == "a" * 512 + "b" * 512


def test_frame_over_configured_max_frame_bytes_closes_1009(petrel_server):
    srv = petrel_server(ws_config(limits="max_message_bytes: 65536, max_frame_bytes: 1024"))
    with ws_connect(srv.url) as ws:
        ws.send(b"x" * 1025)  # one frame over the frame limit, message under its limit
        code, _ = recv_close(ws)
        assert code == 1009


def test_fragments_under_max_frame_bytes_pass(petrel_server):
    srv = petrel_server(ws_config(limits="max_message_bytes: 65536, max_frame_bytes: 1024"))
    with ws_connect(srv.url) as ws:
        ws.send(iter([b"x" * 1024, b"y" * 1024, b"z" * 1024]))
        assert ws.recv(timeout=5) == b"x" * 1024 + b"y" * 1024 + b"z" * 1024


def test_idle_timeout_closes_1001(petrel_server):
    srv = petrel_server(ws_config(limits="idle_timeout: 1s"))
    with ws_connect(srv.url) as ws:
        t0 = time.monotonic()
        code, reason = recv_close(ws, timeout=6)
        elapsed = time.monotonic() - t0
    assert code == 1001
    assert reason == "Going away"
    assert 0.7 <= elapsed <= 4.0, f"closed after {elapsed:.2f}s with idle_timeout 1s"


def test_ping_resets_idle_timer(petrel_server):
    srv = petrel_server(ws_config(limits="idle_timeout: 1s"))
    with ws_connect(srv.url) as ws:
        deadline = time.monotonic() + 2.6
        while time.monotonic() < deadline:
            assert ws.ping(b"keepalive").wait(2), "no pong"
            time.sleep(0.3)
        # 2.6 s > idle_timeout: only pings kept it alive
        ws.send("still here")
        assert ws.recv(timeout=2) == "still here"


def test_data_resets_idle_timer(petrel_server):
    srv = petrel_server(ws_config(limits="idle_timeout: 1s"))
    with ws_connect(srv.url) as ws:
        deadline = time.monotonic() + 2.6
        while time.monotonic() < deadline:
            ws.send("tick")
            assert ws.recv(timeout=2) == "tick"
            time.sleep(0.3)


def test_max_connection_duration_closes_1001_going_away(petrel_server):
    srv = petrel_server(ws_config(limits="max_connection_duration: 2s, idle_timeout: 10m"))
    with ws_connect(srv.url) as ws:
        t0 = time.monotonic()
        from websockets.exceptions import ConnectionClosed
        code = reason = None
        try:
            while time.monotonic() - t0 < 6:  # stay active so the idle timer cannot be the cause
                ws.send("tick")
                ws.recv(timeout=2)
                time.sleep(0.2)
        except ConnectionClosed as e:
            code, reason = (e.rcvd.code, e.rcvd.reason) if e.rcvd else (None, None)
        elapsed = time.monotonic() - t0
    assert code == 1001, f"close code {code} after {elapsed:.2f}s"
    assert reason == "Going away"
    assert 1.6 <= elapsed <= 4.5, f"closed after {elapsed:.2f}s with max_connection_duration 2s"


def _handshake_status(port: int) -> int:
    with tcp_connect(port) as s:
        s.sendall(ws_upgrade_request(port))
        return HttpReader(s).read_response(timeout=5).status


def test_connect_rate_exceeded_gets_429(petrel_server):
    srv = petrel_server(ws_config(limits="connect_rate: {rate: 1, burst: 2}"))
    statuses = [_handshake_status(srv.public_port) for _ in range(5)]
    assert statuses[:2] == [101, 101], statuses
    assert 429 in statuses[2:], f"no 429 after the burst: {statuses}"


def test_connect_rate_refills(petrel_server):
    srv = petrel_server(ws_config(limits="connect_rate: {rate: 2, burst: 1}"))
    assert _handshake_status(srv.public_port) == 101
    assert _handshake_status(srv.public_port) == 429
    time.sleep(1.0)  # 2 tokens/s: refilled
    assert _handshake_status(srv.public_port) == 101
