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
import subprocess
import threading
import time
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import pytest

from petrel_harness import RSS_BOUND_FACTOR, http_request, rss_kib
from stream_backend import RecordingBackend, StreamBackend, body_bytes, expected_sha256, read_request_head

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


def assert_rss_flat(base_kib: int, peak_kib: int, what: str):
    growth_mib = (peak_kib - base_kib) / 1024
    print(f"{what}: gateway RSS {base_kib} KiB → peak {peak_kib} KiB (+{growth_mib:.1f} MiB)")
    assert growth_mib < 16 * RSS_BOUND_FACTOR, f"gateway RSS grew {growth_mib:.1f} MiB {what}"


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
    assert_rss_flat(base, peak[0], f"streaming a 50 MiB response in {took:.1f}s")


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
        assert growth_mib < 16 * RSS_BOUND_FACTOR, f"gateway RSS grew {growth_mib:.1f} MiB for a stalled client"
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


# ---------------------------------------------------------------------------------------------
# Request bodies stream too: the backend call starts with the head, curl takes the body as it
# arrives, and the client is read only while little of it waits for the backend.


@dataclass
class Received:
    path: str
    framing: str = ""            # "length: N" or "chunked"
    bytes: int = 0
    sha256: str = ""
    complete: bool = False
    aborted: bool = False        # the gateway went away before the body was complete
    ended_at: float | None = None


class UploadBackend(RecordingBackend):
    """Reads request bodies (Content-Length or chunked) at the pace the query asks, hashing them,
    and answers `{"bytes": N, "sha256": hex, "framing": ...}` with `connection: close`.

        ?stall_after=B&stall=S   stop reading for S seconds after B body bytes
        ?early=413               answer 413 at once, without reading the body
    """

    def __init__(self):
        # A small receive buffer, so a backend that stops reading pushes back on the gateway at once.
        super().__init__(rcvbuf=64 * 1024)

    def _serve(self, conn: socket.socket):
        with conn:
            request = read_request_head(conn)
            if request is None:
                return
            target, headers, buf = request
            rec = Received(target)
            self.record(rec)
            q = {k: v[0] for k, v in parse_qs(urlsplit(target).query).items()}
            if "early" in q:
                conn.sendall(b"HTTP/1.1 %s Early\r\ncontent-length: 5\r\nconnection: close\r\n\r\nearly" % q["early"].encode())
                conn.shutdown(socket.SHUT_WR)
                rec.ended_at = time.monotonic()
                # Lingering close (RFC 9112 §9.6), as real servers do: closing with the body still
                # unread would reset the connection, and the reset can destroy the answer before
                # the gateway reads it.
                conn.settimeout(10)
                try:
                    while conn.recv(65536):
                        pass
                except OSError:
                    pass
                return
            stall_after = int(q.get("stall_after", "-1"))
            stall = float(q.get("stall", "0"))
            h = hashlib.sha256()
            pending = [buf]
            stalled = [False]

            def recv_some(limit: int) -> bytes:
                if pending[0]:
                    out, pending[0] = pending[0][:limit], pending[0][limit:]
                    return out
                if stall and not stalled[0] and rec.bytes >= stall_after >= 0:
                    stalled[0] = True
                    time.sleep(stall)
                return conn.recv(min(limit, 65536))

            def take(n: int):
                while n:
                    got = recv_some(n)
                    if not got:
                        raise EOFError
                    h.update(got)
                    rec.bytes += len(got)
                    n -= len(got)

            def line() -> bytes:
                data = b""
                while not data.endswith(b"\r\n"):
                    got = recv_some(1)
                    if not got:
                        raise EOFError
                    data += got
                return data[:-2]

            try:
                if "content-length" in headers:
                    rec.framing = f"length: {headers['content-length']}"
                    take(int(headers["content-length"]))
                elif headers.get("transfer-encoding") == "chunked":
                    rec.framing = "chunked"
                    while True:
                        size = int(line().split(b";")[0], 16)
                        if size == 0:
                            while line():
                                pass
                            break
                        take(size)
                        assert line() == b""
                rec.sha256 = h.hexdigest()
                rec.complete = True
                body = json.dumps({"bytes": rec.bytes, "sha256": rec.sha256, "framing": rec.framing}).encode()
                conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
                             b"connection: close\r\n\r\n%s" % (len(body), body))
            except (EOFError, OSError):
                rec.aborted = True
            finally:
                rec.ended_at = time.monotonic()


def upload_config(port: int, max_body: int | None = 64 * MB) -> str:
    limits = f"websocket:\n  limits: {{max_body_bytes: {max_body}}}\n" if max_body else ""
    return limits + f"""\
http:
  routes:
    "ANY /u/{{proxy+}}": {{integration: up}}
    "GET /mock": {{integration: m}}
integrations:
  up: {{type: http_proxy, url: "http://127.0.0.1:{port}/{{proxy}}"}}
  m: {{type: mock, status: 200, body: mock}}
"""


def upload_body(n: int):
    """The body the tests upload: the stream backend's pattern, so `expected_sha256(n)` holds."""
    return body_bytes(n)


def upload_head(path: str, length: int | None, extra: str = "") -> bytes:
    framing = f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    return f"POST {path} HTTP/1.1\r\nHost: x\r\n{framing}\r\n{extra}\r\n".encode()


def chunked(n: int) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in upload_body(n)) + b"0\r\n\r\n"


def uploading_gateway(petrel_server, be: UploadBackend, max_body: int | None = 64 * MB):
    """A one-loop gateway, warmed up with a few uploads, and its RSS (KiB) before the big one."""
    srv = petrel_server(upload_config(be.port, max_body), threads=1)
    for _ in range(3):
        r = http_request(srv.public_port, "POST", "/u/warm", body=b"w" * (512 * 1024))
        assert r.status == 200, r.body
    return srv, srv.proc.pid, rss_kib(srv.proc.pid)


def response_json(c: StreamClient) -> tuple[int, dict, dict]:
    status, headers = c.head()
    body = c.take(int(headers["content-length"]))
    return status, headers, json.loads(body) if status == 200 else {"raw": body}


def test_50_mb_upload_streamed_with_flat_gateway_memory(petrel_server):
    size = 50 * MB
    with UploadBackend() as be:
        srv, pid, base = uploading_gateway(petrel_server, be)
        peak = base
        c = StreamClient(srv.public_port)
        c.send(upload_head("/u/big", size))
        t0 = time.monotonic()
        for i, piece in enumerate(upload_body(size)):
            c.send(piece)
            if i % 16 == 0:
                peak = max(peak, rss_kib(pid))
        status, headers, answer = response_json(c)
        took = time.monotonic() - t0
        assert status == 200 and answer == {"bytes": size, "sha256": expected_sha256(size), "framing": f"length: {size}"}
        # The connection stays usable: the body was read to its end.
        c.get("/mock")
        assert c.head()[0] == 200
        c.close()
    assert_rss_flat(base, peak, f"streaming a 50 MiB upload in {took:.1f}s")


def test_chunked_upload_is_forwarded_chunked(petrel_server):
    size = 3 * MB + 17
    with UploadBackend() as be:
        srv = petrel_server(upload_config(be.port))
        c = StreamClient(srv.public_port)
        c.send(upload_head("/u/chunked", None) + chunked(size))
        status, _, answer = response_json(c)
        assert status == 200 and answer == {"bytes": size, "sha256": expected_sha256(size), "framing": "chunked"}
        c.close()


def test_slow_backend_makes_the_gateway_stop_reading_the_client(petrel_server):
    size = 40 * MB
    with UploadBackend() as be:
        srv, pid, base = uploading_gateway(petrel_server, be)
        c = StreamClient(srv.public_port)
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 128 * 1024)
        sent = [0]
        failed = []

        def send_all():
            try:
                c.send(upload_head(f"/u/slow?stall_after={MB}&stall=4", size))
                for piece in upload_body(size):
                    c.send(piece)
                    sent[0] += len(piece)
            except OSError as e:
                failed.append(e)

        sender = threading.Thread(target=send_all, daemon=True)
        sender.start()
        # The backend stalls after 1 MiB: the client's sends must stall soon after.
        last, still_since = -1, time.monotonic()
        deadline = time.monotonic() + 3.5
        peak = base
        while time.monotonic() < deadline:
            if sent[0] != last:
                last, still_since = sent[0], time.monotonic()
            elif time.monotonic() - still_since > 1.0:
                break
            peak = max(peak, rss_kib(pid))
            time.sleep(0.05)
        stalled_at = sent[0]
        assert stalled_at < 20 * MB, "the gateway kept reading a body its backend does not take"
        assert_rss_flat(base, peak, f"behind a stalled backend (client stalled after {stalled_at / MB:.1f} MiB)")
        # The backend reads again: the upload completes, intact.
        status, _, answer = response_json(c)
        sender.join(10)
        assert not failed
        assert status == 200 and answer == {"bytes": size, "sha256": expected_sha256(size), "framing": f"length: {size}"}
        c.close()


def test_client_disconnect_mid_upload_aborts_the_backend_call(petrel_server):
    with UploadBackend() as be:
        srv = petrel_server(upload_config(be.port))
        c = StreamClient(srv.public_port)
        c.send(upload_head("/u/gone", 20 * MB))
        sent = 0
        for piece in upload_body(2 * MB):
            c.send(piece)
            sent += len(piece)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and (not be.records or be.last().bytes < MB):
            time.sleep(0.02)
        c.close()
        rec = be.wait_ended(timeout=10)
        assert rec.aborted and not rec.complete and rec.bytes <= 2 * MB
        assert http_request(srv.public_port, "GET", "/mock").status == 200


def test_body_limit_413_at_the_exact_boundary(petrel_server):
    limit = 10 * 1024 * 1024   # the default, API Gateway's payload limit
    with UploadBackend() as be:
        srv = petrel_server(upload_config(be.port, max_body=None))
        for framing in ("length", "chunked"):
            c = StreamClient(srv.public_port)
            body = b"".join(upload_body(limit))
            if framing == "length":
                c.send(upload_head("/u/exact", limit) + body)
            else:
                c.send(upload_head("/u/exact", None) + chunked(limit))
            status, _, answer = response_json(c)
            assert status == 200 and answer["bytes"] == limit and answer["sha256"] == expected_sha256(limit), framing
            c.close()
        calls = len(be.records)
        # Content-Length one past the limit: 413 from the head, the backend never called.
        c = StreamClient(srv.public_port)
        c.send(upload_head("/u/over", limit + 1))
        status, headers = c.head()
        assert status == 413 and headers.get("connection") == "close"
        c.close()
        assert len(be.records) == calls
        # Chunked past the limit: the call streaming it is aborted, the client gets 413.
        c = StreamClient(srv.public_port)
        c.send(upload_head("/u/over-chunked", None)
               + b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in upload_body(limit)) + b"1\r\nX\r\n0\r\n\r\n")
        status, headers = c.head()
        assert status == 413 and headers.get("connection") == "close"
        c.read_to_eof(timeout=5)
        c.close()
        rec = be.wait_ended()
        assert rec.path == "/over-chunked" and rec.aborted and not rec.complete
        assert srv.wait_log(lambda e: e.get("msg") == "bad request" and e.get("status") == 413, timeout=5)


def test_pipelined_requests_after_a_streamed_upload_are_answered_in_order(petrel_server):
    with UploadBackend() as be:
        srv = petrel_server(upload_config(be.port))
        c = StreamClient(srv.public_port)
        c.send(upload_head("/u/one", MB) + b"".join(upload_body(MB))
               + b"GET /mock HTTP/1.1\r\nHost: x\r\n\r\n"
               + upload_head("/u/two", None) + chunked(300 * 1024)
               + b"GET /mock HTTP/1.1\r\nHost: x\r\n\r\n")
        status, _, answer = response_json(c)
        assert status == 200 and answer == {"bytes": MB, "sha256": expected_sha256(MB), "framing": f"length: {MB}"}
        status, headers = c.head()
        assert status == 200 and c.take(int(headers["content-length"])) == b"mock"
        status, _, answer = response_json(c)
        assert status == 200 and answer == {"bytes": 300 * 1024, "sha256": expected_sha256(300 * 1024), "framing": "chunked"}
        status, headers = c.head()
        assert status == 200 and c.take(int(headers["content-length"])) == b"mock"
        c.close()
        assert [r.path for r in be.records] == ["/one", "/two"]


def test_expect_100_continue_upload(petrel_server, tmp_path):
    size = 2 * MB
    with UploadBackend() as be:
        srv = petrel_server(upload_config(be.port))
        c = StreamClient(srv.public_port)
        c.send(upload_head("/u/expect", size, extra="Expect: 100-continue\r\n"))
        c.sock.settimeout(2)
        status, _ = c.head()
        assert status == 100, "the gateway must ask for the body"
        c.sock.settimeout(20)
        for piece in upload_body(size):
            c.send(piece)
        status, _, answer = response_json(c)
        assert status == 200 and answer["sha256"] == expected_sha256(size)
        c.close()
        # curl waits up to 1 s for the 100 before sending anyway: with it, no wait.
        data = tmp_path / "upload.bin"
        data.write_bytes(b"".join(upload_body(size)))
        t0 = time.monotonic()
        out = subprocess.run(["curl", "-sS", "--fail", "-H", "Expect: 100-continue", "--data-binary", f"@{data}",
                              f"http://127.0.0.1:{srv.public_port}/u/curl"], capture_output=True, timeout=20)
        took = time.monotonic() - t0
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["sha256"] == expected_sha256(size)
        assert took < 0.9, f"curl waited {took:.2f}s for 100 Continue"


def test_backend_answering_before_the_body_is_passed_through_and_the_connection_closes(petrel_server):
    size = 8 * MB
    with UploadBackend() as be:
        srv = petrel_server(upload_config(be.port))
        c = StreamClient(srv.public_port)
        failed = []

        def send_all():
            try:
                c.send(upload_head("/u/early?early=413", size))
                for piece in upload_body(size):
                    c.send(piece)
            except OSError as e:
                failed.append(e)   # the gateway may close before taking it all

        sender = threading.Thread(target=send_all, daemon=True)
        sender.start()
        status, headers = c.head()
        assert status == 413 and headers.get("connection") == "close"
        assert c.take(int(headers["content-length"])) == b"early"
        assert c.read_to_eof(timeout=10) == 0, "the rest of the body is never answered as requests"
        sender.join(10)
        c.close()
        assert http_request(srv.public_port, "GET", "/mock").status == 200
