"""A backend that sends large bodies piece by piece and records how far it got (loopback, free port).

Every request is answered from its query string, so one backend serves a whole test:

    GET /any?bytes=N            N body bytes with Content-Length
        &mode=chunked           Transfer-Encoding: chunked instead
        &mode=close             neither: the body ends when the connection does
        &die=M                  stop after M body bytes and close (mid-chunk when chunked)
        &head_delay=S           sleep S seconds before the status line
        &pace=S                 sleep S seconds between pieces

The body is BLOCK repeated (and cut at N), so a client can hash what it got against
`expected_sha256(N)`. Per request it records bytes sent and whether the peer went away
(`Sent.aborted`: a send failed before the body was complete). The send buffer is kept small,
so `Sent.bytes` tracks what the gateway actually took.
"""
from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

BLOCK = os.urandom(1 << 20)
PIECE = 64 * 1024


def body_bytes(n: int):
    """BLOCK repeated, cut at n, as pieces."""
    sent = 0
    while sent < n:
        offset = sent % len(BLOCK)
        take = min(PIECE, n - sent, len(BLOCK) - offset)
        yield BLOCK[offset:offset + take]
        sent += take


def expected_sha256(n: int) -> str:
    h = hashlib.sha256()
    for piece in body_bytes(n):
        h.update(piece)
    return h.hexdigest()


@dataclass
class Sent:
    path: str
    bytes: int = 0
    complete: bool = False
    aborted: bool = False
    ended_at: float | None = None


def read_request_head(conn: socket.socket) -> tuple[str, dict, bytes] | None:
    """The request target, headers (names lowercased) and the bytes read past the head; None on EOF."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    raw, rest = data.split(b"\r\n\r\n", 1)
    lines = raw.decode().split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return lines[0].split(" ")[1], headers, rest


class RecordingBackend:
    """A loopback server (free port) that serves each connection on a thread (`_serve`) and
    keeps one record per request in `records`, the last of which tests wait on."""

    def __init__(self, rcvbuf: int | None = None, sndbuf: int | None = None):
        self.records: list = []
        self._lock = threading.Lock()
        self._sndbuf = sndbuf
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if rcvbuf:
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.port = self._sock.getsockname()[1]
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        self._closed = True
        try:
            self._sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def record(self, rec):
        with self._lock:
            self.records.append(rec)

    def last(self):
        with self._lock:
            return self.records[-1]

    def wait_ended(self, timeout: float = 10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self.records and self.records[-1].ended_at is not None:
                    return self.records[-1]
            time.sleep(0.02)
        raise TimeoutError(f"backend transfer did not end within {timeout}s: {self.records[-1:]}")

    def _accept(self):
        while not self._closed:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            if self._sndbuf:
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self._sndbuf)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket):
        raise NotImplementedError


class StreamBackend(RecordingBackend):
    def __init__(self):
        super().__init__(sndbuf=128 * 1024)

    def _serve(self, conn: socket.socket):
        with conn:
            request = read_request_head(conn)
            if request is None:
                return
            target = request[0]
            rec = Sent(target)
            self.record(rec)
            q = {k: v[0] for k, v in parse_qs(urlsplit(target).query).items()}
            n = int(q.get("bytes", "0"))
            mode = q.get("mode", "length")
            die = int(q["die"]) if "die" in q else None
            pace = float(q.get("pace", "0"))
            time.sleep(float(q.get("head_delay", "0")))
            head = "HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\nx-backend: stream\r\n"
            if mode == "length":
                head += f"content-length: {n}\r\n"
            elif mode == "chunked":
                head += "transfer-encoding: chunked\r\n"
            head += "connection: close\r\n\r\n"
            try:
                conn.sendall(head.encode())
                for piece in body_bytes(n):
                    if die is not None and rec.bytes + len(piece) > die:
                        piece = piece[:die - rec.bytes]
                        if mode == "chunked":
                            conn.sendall(f"{PIECE:x}\r\n".encode() + piece)
                        else:
                            conn.sendall(piece)
                        rec.bytes += len(piece)
                        break
                    if mode == "chunked":
                        conn.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                    else:
                        conn.sendall(piece)
                    rec.bytes += len(piece)
                    if pace:
                        time.sleep(pace)
                else:
                    if mode == "chunked":
                        conn.sendall(b"0\r\n\r\n")
                    rec.complete = True
            except OSError:
                rec.aborted = True
            finally:
                rec.ended_at = time.monotonic()
