"""Echo through the embedded default with an independent client (Python `websockets`)."""
from __future__ import annotations

import os

import pytest
from websockets.exceptions import ConnectionClosed

from petrel_harness import recv_close, ws_connect

pytestmark = pytest.mark.timeout(30)

SIZES = [0, 1, 125, 126, 65535, 65536, 131072]


def _text(n: int) -> str:
    base = "petrel-ÿ-"  # includes a 2-byte code point; trimmed to n bytes below
    s = (base * (n // len(base) + 1))
    out = s.encode()[:n]
    while True:
        try:
            return out.decode()
        except UnicodeDecodeError:
            out = out[:-1] + b"x"


def test_handshake_and_echo_hello(default_server):
    with ws_connect(default_server.url) as ws:
        ws.send("hello")
        assert ws.recv(timeout=5) == "hello"


@pytest.mark.parametrize("n", SIZES, ids=[f"text_{n}" for n in SIZES])
def test_echo_text_sizes(default_server, n):
    msg = _text(n)
    assert len(msg.encode()) == n
    with ws_connect(default_server.url) as ws:
        ws.send(msg)
        got = ws.recv(timeout=5)
        assert isinstance(got, str), "text message came back as binary"
        assert got == msg


@pytest.mark.parametrize("n", SIZES, ids=[f"binary_{n}" for n in SIZES])
def test_echo_binary_sizes(default_server, n):
    msg = os.urandom(n)
    with ws_connect(default_server.url) as ws:
        ws.send(msg)
        got = ws.recv(timeout=5)
        assert isinstance(got, bytes), "binary message came back as text"
        assert got == msg


@pytest.mark.parametrize("kind", ["text", "binary"])
def test_message_over_default_limit_closes_1009(default_server, kind):
    msg = "a" * 131073 if kind == "text" else os.urandom(131073)
    with ws_connect(default_server.url) as ws:
        ws.send(msg)
        code, _ = recv_close(ws)
        assert code == 1009


def test_fragmented_message_echoed_whole(default_server):
    parts = ["frag-one|", "frag-two|", "", "frag-three"]
    with ws_connect(default_server.url) as ws:
        ws.send(iter(parts))
        assert ws.recv(timeout=5) == "".join(parts)


def test_fragmented_binary_echoed_whole(default_server):
    parts = [os.urandom(1000), os.urandom(70000), os.urandom(3)]
    with ws_connect(default_server.url) as ws:
        ws.send(iter(parts))
        assert ws.recv(timeout=5) == b"".join(parts)


def test_ping_answered_with_same_payload(default_server):
    with ws_connect(default_server.url) as ws:
        # websockets only resolves the waiter for a pong carrying this exact payload
        waiter = ws.ping(b"\x00payload-\xff")
        assert waiter.wait(5), "no pong with the ping's payload"


def test_echo_order_preserved(default_server):
    msgs = [f"m{i}" for i in range(200)]
    with ws_connect(default_server.url) as ws:
        for m in msgs:
            ws.send(m)
        got = [ws.recv(timeout=5) for _ in msgs]
    assert got == msgs


def _close_and_get_reply(url, code, reason=""):
    with ws_connect(url) as ws:
        ws.close(code, reason)
        return ws.protocol.close_rcvd  # the close frame the server sent back (None if none)


def test_client_close_1000_echoed(default_server):
    rcvd = _close_and_get_reply(default_server.url, 1000)
    assert rcvd is not None, "server sent no close frame"
    assert rcvd.code == 1000


def test_client_close_4000_with_reason_echoed(default_server):
    rcvd = _close_and_get_reply(default_server.url, 4000, "custom reason")
    assert rcvd is not None, "server sent no close frame"
    assert rcvd.code == 4000


def test_send_after_close_fails(default_server):
    with ws_connect(default_server.url) as ws:
        ws.close(1000)
        with pytest.raises(ConnectionClosed):
            ws.send("too late")
