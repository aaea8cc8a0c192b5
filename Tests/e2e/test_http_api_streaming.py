"""`http_proxy` streams responses (DESIGN §8, issue 7): the head goes out when the backend's
arrives, the body piece by piece with backpressure, so the gateway's memory stays flat whatever
the body's size; a client that leaves stops the backend transfer; a backend that dies mid-body
closes the client's connection; the integration timeout covers only the wait for the head.

Real backend (stream_backend.StreamBackend), raw-socket clients with a small receive buffer (so
a slow reader really pushes back), the gateway's RSS from /proc/PID/status.
"""
from __future__ import annotations

import hashlib
import json
import socket
import time

import pytest

from petrel_harness import http_request
from stream_backend import StreamBackend, expected_sha256

pytestmark = pytest.mark.timeout(90)

MB = 1 << 20


def config(port: int, timeout: str = "") -> str:
    t = f", timeout: {timeout}" if timeout else ""
    return f"""\
http:
  routes:
    "GET /s/{{proxy+}}": {{integration: backend}}
    "GET /mock": {{integration: m}}
integrations:
  backend: {{type: http_proxy, url: "http://127.0.0.1:{port}/{{proxy}}"{t}}}
  m: {{type: mock, status: 200, body: mock}}
"""


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


class StreamClient:
    """One keep-alive connection that reads responses at the pace the test chooses."""

    def __init__(self, port: int, rcvbuf: int = 128 * 1024):
        self.sock = socket.socket()
        # Before connect, so the window stays small: a slow reader pushes back at once.
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(20)
        self.sock.connect(("127.0.0.1", port))
        self.buf = b""

    def close(self):
        self.sock.close()

    def send(self, data: bytes):
        self.sock.sendall(data)

    def get(self, path: str):
        self.send(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())

    def _fill(self, limit: int = 65536) -> bool:
        chunk = self.sock.recv(limit)
        if not chunk:
            return False
        self.buf += chunk
        return True

    def head(self) -> tuple[int, dict]:
        while b"\r\n\r\n" not in self.buf:
            assert self._fill(), "EOF before the response head"
        raw, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = raw.decode().split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return int(lines[0].split()[1]), headers

    def take(self, n: int) -> bytes:
        while len(self.buf) < n:
            if not self._fill(min(65536, max(1, n - len(self.buf)))):
                break
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def line(self) -> bytes:
        while b"\r\n" not in self.buf:
            assert self._fill(), "EOF inside chunk framing"
        out, self.buf = self.buf.split(b"\r\n", 1)
        return out

    def body(self, headers: dict, on_piece=None, piece: int = 64 * 1024) -> bytes | str:
        """The body as its sha256 hex digest; `on_piece` runs after every piece read."""
        h = hashlib.sha256()
        if "content-length" in headers:
            left = int(headers["content-length"])
            while left:
                got = self.take(min(piece, left))
                assert got, f"EOF with {left} bytes of the body missing"
                h.update(got)
                left -= len(got)
                if on_piece:
                    on_piece()
        else:
            assert headers.get("transfer-encoding") == "chunked", headers
            while True:
                size = int(self.line(), 16)
                if size == 0:
                    assert self.line() == b""
                    break
                while size:
                    got = self.take(min(piece, size))
                    assert got, "EOF inside a chunk"
                    h.update(got)
                    size -= len(got)
                    if on_piece:
                        on_piece()
                assert self.take(2) == b"\r\n"
        return h.hexdigest()

    def read_to_eof(self, timeout: float) -> int:
        """Bytes until EOF (or reset); raises if the connection stays open past `timeout`."""
        self.sock.settimeout(timeout)
        total = len(self.buf)
        self.buf = b""
        try:
            while True:
                chunk = self.sock.recv(1 << 20)
                if not chunk:
                    return total
                total += len(chunk)
        except ConnectionResetError:
            return total


def measured_gateway(petrel_server, be: StreamBackend):
    """A one-loop gateway, warmed up, with its RSS (KiB) before the big transfer."""
    srv = petrel_server(config(be.port), threads=1)
    # Allocator arenas, curl handles and a backend connection exist before the baseline.
    for _ in range(3):
        r = http_request(srv.public_port, "GET", "/s/warm?bytes=262144")
        assert r.status == 200
    return srv, srv.proc.pid, rss_kib(srv.proc.pid)


def test_50_mb_response_streamed_with_flat_gateway_memory(petrel_server):
    size = 50 * MB
    with StreamBackend() as be:
        srv, pid, base = measured_gateway(petrel_server, be)
        peak = [base]
        c = StreamClient(srv.public_port)
        c.get(f"/s/big?bytes={size}")
        t0 = time.monotonic()
        status, headers = c.head()
        assert status == 200 and headers["content-length"] == str(size)
        assert headers["x-backend"] == "stream" and headers.get("apigw-requestid")
        count = [0]

        def slowly():
            count[0] += 1
            if count[0] % 4 == 0:
                peak[0] = max(peak[0], rss_kib(pid))
                time.sleep(0.01)   # a reader slower than the backend: the gateway must pause

        digest = c.body(headers, on_piece=slowly)
        took = time.monotonic() - t0
        # The connection is still usable afterwards.
        c.get("/mock")
        assert c.head()[0] == 200
        c.close()
    assert digest == expected_sha256(size)
    growth_mib = (peak[0] - base) / 1024
    print(f"50 MiB in {took:.1f}s; gateway RSS {base} KiB → peak {peak[0]} KiB (+{growth_mib:.1f} MiB)")
    assert growth_mib < 16, f"gateway RSS grew {growth_mib:.1f} MiB while streaming 50 MiB"


def test_chunked_backend_body_is_forwarded_chunked_then_pipelined_requests_follow(petrel_server):
    size = 5 * MB + 123
    with StreamBackend() as be:
        srv = petrel_server(config(be.port))
        c = StreamClient(srv.public_port)
        # Three requests in one write: the streamed one holds the later answers back.
        c.send(b"GET /s/a?bytes=%d&mode=chunked HTTP/1.1\r\nHost: x\r\n\r\n" % size
               + b"GET /mock HTTP/1.1\r\nHost: x\r\n\r\n"
               + b"GET /s/b?bytes=1000&mode=close HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers = c.head()
        assert status == 200 and headers["transfer-encoding"] == "chunked"
        assert "content-length" not in headers
        assert c.body(headers) == expected_sha256(size)
        status, headers = c.head()
        assert status == 200 and c.take(int(headers["content-length"])) == b"mock"
        # A backend body that ends with its connection reaches the client chunked too.
        status, headers = c.head()
        assert status == 200 and c.body(headers) == expected_sha256(1000)
        c.close()


def test_client_that_stops_reading_does_not_make_the_gateway_buffer_the_body(petrel_server):
    size = 50 * MB
    with StreamBackend() as be:
        srv, pid, base = measured_gateway(petrel_server, be)
        c = StreamClient(srv.public_port, rcvbuf=64 * 1024)
        c.get(f"/s/stall?bytes={size}")
        status, headers = c.head()
        assert status == 200
        c.take(256 * 1024)
        # Stop reading; wait until the backend is stuck too.
        last, still_since = -1, time.monotonic()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            sent = be.last().bytes
            if sent != last:
                last, still_since = sent, time.monotonic()
            elif time.monotonic() - still_since > 1.0:
                break
            time.sleep(0.05)
        stalled_at = be.last().bytes
        growth_mib = (rss_kib(pid) - base) / 1024
        print(f"backend stalled after {stalled_at / MB:.1f} MiB; gateway RSS +{growth_mib:.1f} MiB")
        assert stalled_at < 30 * MB, "the backend kept sending to a client that reads nothing"
        assert growth_mib < 16, f"gateway RSS grew {growth_mib:.1f} MiB for a stalled client"
        # Reading again resumes the transfer, intact.
        h = hashlib.sha256(b"")  # the rest is checked by length and backend completion
        left = size - 256 * 1024
        while left:
            got = c.take(min(1 << 20, left))
            assert got
            h.update(got)
            left -= len(got)
        c.close()
        assert be.wait_ended().complete


def test_client_disconnect_mid_stream_aborts_the_backend_transfer(petrel_server):
    with StreamBackend() as be:
        srv = petrel_server(config(be.port))
        c = StreamClient(srv.public_port)
        c.get(f"/s/gone?bytes={200 * MB}")
        assert c.head()[0] == 200
        c.take(MB)
        c.close()
        rec = be.wait_ended(timeout=10)
        assert rec.aborted and not rec.complete
        assert rec.bytes < 100 * MB
        # The gateway is fine.
        assert http_request(srv.public_port, "GET", "/mock").status == 200


@pytest.mark.parametrize("mode", ["length", "chunked"])
def test_backend_dying_mid_body_closes_the_client_connection(petrel_server, mode):
    with StreamBackend() as be:
        srv = petrel_server(config(be.port))
        c = StreamClient(srv.public_port)
        c.get(f"/s/die?bytes={10 * MB}&die={2 * MB}&mode={mode}")
        status, headers = c.head()
        assert status == 200
        got = c.read_to_eof(timeout=10)
        c.close()
        assert got < 10 * MB
        assert srv.wait_log(lambda e: e.get("msg") == "http_proxy response broken off", timeout=5)
        # Without framing from the backend, its EOF is the body's end: a complete response of
        # what arrived, on a connection that stays open.
        c = StreamClient(srv.public_port)
        c.get(f"/s/eof?bytes={10 * MB}&die={2 * MB}&mode=close")
        status, headers = c.head()
        assert status == 200 and c.body(headers) == expected_sha256(2 * MB)
        c.get("/mock")
        assert c.head()[0] == 200
        c.close()


def test_timeout_covers_the_head_only(petrel_server):
    with StreamBackend() as be:
        srv = petrel_server(config(be.port, timeout="1s"))
        t0 = time.monotonic()
        r = http_request(srv.public_port, "GET", "/s/late?bytes=10&head_delay=3", timeout=10)
        took = time.monotonic() - t0
        assert (r.status, json.loads(r.body)) == (503, {"message": "Service Unavailable"})
        assert 0.8 < took < 2.5, took
        # Head at once, body over ~2.5 s: longer than the timeout, and still complete.
        c = StreamClient(srv.public_port)
        c.get(f"/s/slow?bytes={40 * 64 * 1024}&pace=0.06")
        status, headers = c.head()
        assert status == 200
        assert c.body(headers) == expected_sha256(40 * 64 * 1024)
        c.close()


def test_drain_lets_a_streamed_response_finish_then_closes(petrel_server):
    import signal
    size = 40 * 64 * 1024
    with StreamBackend() as be:
        srv = petrel_server(config(be.port))
        c = StreamClient(srv.public_port)
        c.get(f"/s/drain?bytes={size}&pace=0.02")   # about 0.8 s of body
        status, headers = c.head()
        assert status == 200
        t0 = time.monotonic()
        srv.signal(signal.SIGTERM)
        assert c.body(headers) == expected_sha256(size)
        assert c.read_to_eof(timeout=5) == 0, "the connection closes once the body is complete"
        c.close()
        assert srv.wait_exit(10) == 0
        assert time.monotonic() - t0 < 5, "the drain did not wait for its deadline"
