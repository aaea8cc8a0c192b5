"""Tiny WebSocket servers, correct and deliberately broken, to prove the tool's error accounting.

Modes:
  ok          correct RFC 6455 echo (records each peer's source address)
  bad_accept  answers 101 with a wrong Sec-WebSocket-Accept
  status403   answers the upgrade with HTTP 403
  corrupt     correct handshake, echoes every message with its first byte changed
  drop        correct handshake, then closes TCP after the first message (no close frame)
  close1011   correct handshake, then sends close 1011 after the first message
  silent      accepts TCP and never answers (handshake timeout)
A thread per connection: fine for the few dozen connections these tests open.
"""
from __future__ import annotations

import base64
import json
import os
import hashlib
import socket
import ssl
import struct
import threading

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def accept_value(key: bytes) -> str:
    return base64.b64encode(hashlib.sha1(key + GUID).digest()).decode()


class FakeServer:
    def __init__(self, mode: str, tls_context: ssl.SSLContext | None = None):
        self.mode = mode
        self.tls = tls_context
        self.peers: set[str] = set()
        self.connections = 0
        self._lock = threading.Lock()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(512)
        self.port = self._sock.getsockname()[1]
        self._closed = False
        self._conns: list[socket.socket] = []
        threading.Thread(target=self._accept_loop, daemon=True).start()

    @property
    def url(self) -> str:
        return f"{'wss' if self.tls else 'ws'}://127.0.0.1:{self.port}/"

    def close(self):
        self._closed = True
        try:
            self._sock.close()
        except OSError:
            pass
        with self._lock:
            for c in self._conns:
                try:
                    c.close()
                except OSError:
                    pass

    def _accept_loop(self):
        while not self._closed:
            try:
                conn, addr = self._sock.accept()
            except OSError:
                return
            with self._lock:
                self.peers.add(addr[0])
                self.connections += 1
                self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket):
        try:
            if self.tls:
                conn = self.tls.wrap_socket(conn, server_side=True)
            self._session(conn)
        except (OSError, ValueError, ssl.SSLError):
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def _read_exact(self, conn, n: int, buf: bytearray) -> bytes:
        while len(buf) < n:
            data = conn.recv(65536)
            if not data:
                raise ConnectionError("eof")
            buf += data
        out = bytes(buf[:n])
        del buf[:n]
        return out

    def _session(self, conn):
        buf = bytearray()
        while b"\r\n\r\n" not in buf:
            data = conn.recv(65536)
            if not data:
                return
            buf += data
        head, _, rest = bytes(buf).partition(b"\r\n\r\n")
        buf = bytearray(rest)
        if self.mode == "silent":
            threading.Event().wait(30)
            return
        key = b""
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"sec-websocket-key":
                key = value.strip()
        if self.mode == "status403":
            conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        accept = accept_value(key) if self.mode != "bad_accept" else accept_value(b"not-the-key")
        conn.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      f"Sec-WebSocket-Accept: {accept}\r\n\r\n").encode())
        if self.mode == "bad_accept":
            threading.Event().wait(2)
            return
        while True:
            b0, b1 = self._read_exact(conn, 2, buf)
            opcode = b0 & 0x0F
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._read_exact(conn, 2, buf))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._read_exact(conn, 8, buf))[0]
            mask = self._read_exact(conn, 4, buf) if b1 & 0x80 else b"\0\0\0\0"
            payload = bytearray(self._read_exact(conn, n, buf))
            for i in range(n):
                payload[i] ^= mask[i % 4]
            if opcode == 8:
                conn.sendall(bytes([0x88, min(len(payload), 125)]) + bytes(payload[:125]))
                return
            if opcode in (9, 10):
                continue
            if self.mode == "drop":
                return
            if self.mode == "close1011":
                conn.sendall(bytes([0x88, 2]) + struct.pack("!H", 1011))
                threading.Event().wait(1)
                return
            if self.mode == "corrupt" and payload:
                payload[0] ^= 0x01
            header = bytes([0x80 | opcode])
            if n <= 125:
                header += bytes([n])
            elif n <= 0xFFFF:
                header += bytes([126]) + struct.pack("!H", n)
            else:
                header += bytes([127]) + struct.pack("!Q", n)
            conn.sendall(header + bytes(payload))


def refusing_port() -> int:
    """A port nothing listens on (bound then closed)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class FakeGateway(FakeServer):
    """The two halves of the fanout contract in miniature (DESIGN §3 whoami mock, §6 @connections):
    WebSocket clients learn their id with {"action":"whoami"}; `POST /@connections/{id}` on the
    admin port (bearer token checked when set) sends the body to that client as a text frame."""

    def __init__(self, token: str | None = None):
        self.token = token
        self.clients: dict[str, tuple[socket.socket, threading.Lock]] = {}
        self.posts = 0
        super().__init__("gateway")
        self._admin = socket.socket()
        self._admin.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._admin.bind(("127.0.0.1", 0))
        self._admin.listen(64)
        self.admin_port = self._admin.getsockname()[1]
        threading.Thread(target=self._admin_loop, daemon=True).start()

    def close(self):
        super().close()
        try:
            self._admin.close()
        except OSError:
            pass

    def _session(self, conn):
        buf = bytearray()
        while b"\r\n\r\n" not in buf:
            data = conn.recv(65536)
            if not data:
                return
            buf += data
        head, _, rest = bytes(buf).partition(b"\r\n\r\n")
        buf = bytearray(rest)
        key = next(ln.partition(b":")[2].strip() for ln in head.split(b"\r\n")
                   if ln.lower().startswith(b"sec-websocket-key"))
        conn.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      f"Sec-WebSocket-Accept: {accept_value(key)}\r\n\r\n").encode())
        lock = threading.Lock()
        cid = base64.urlsafe_b64encode(os.urandom(12)).decode()
        with self._lock:
            self.clients[cid] = (conn, lock)
        while True:
            b0, b1 = self._read_exact(conn, 2, buf)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._read_exact(conn, 2, buf))[0]
            mask = self._read_exact(conn, 4, buf)
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(self._read_exact(conn, n, buf)))
            if b0 & 0x0F == 8:
                return
            if b'"whoami"' in payload:
                send_text(conn, lock, json.dumps({"connectionId": cid}).encode())

    def _admin_loop(self):
        while not self._closed:
            try:
                conn, _ = self._admin.accept()
            except OSError:
                return
            threading.Thread(target=self._admin_session, args=(conn,), daemon=True).start()

    def _admin_session(self, conn):
        buf = bytearray()
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                head, _, rest = bytes(buf).partition(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
                length = int(headers.get("content-length", "0"))
                buf = bytearray(rest)
                while len(buf) < length:
                    buf += conn.recv(65536)
                body = bytes(buf[:length])
                del buf[:length]
                if self.token and headers.get("authorization") != f"Bearer {self.token}":
                    status = "403 Forbidden"
                else:
                    cid = path.rsplit("/", 1)[-1]
                    with self._lock:
                        target = self.clients.get(cid)
                        self.posts += 1
                    if method == "POST" and target:
                        send_text(target[0], target[1], body)
                        status = "200 OK"
                    else:
                        status = "410 Gone"
                conn.sendall(f"HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n".encode())
        except OSError:
            pass
        finally:
            conn.close()


def send_text(conn, lock, payload: bytes):
    header = bytes([0x81, len(payload)]) if len(payload) <= 125 else bytes([0x81, 126]) + struct.pack("!H", len(payload))
    with lock:
        conn.sendall(header + payload)
