"""A deliberately low-level RFC 6455 client for conformance testing.

It can build any frame (bad opcodes, RSV bits, unmasked, wrong length forms), send arbitrary
bytes, split writes with small sleeps, and read server frames one by one. Every frame it reads
is checked for the MASK bit: servers must never mask (RFC 6455 §5.1), so `recv_frame` records a
violation in `self.masked_frames` and the test fixtures assert it stays empty.
"""
from __future__ import annotations

import base64
import hashlib
import os
import select
import socket
import ssl
import struct
import time
from dataclasses import dataclass

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONT, OP_TEXT, OP_BINARY = 0x0, 0x1, 0x2
OP_CLOSE, OP_PING, OP_PONG = 0x8, 0x9, 0xA


class Eof(Exception):
    """The server closed (or reset) the TCP connection."""


class HandshakeError(Exception):
    pass


@dataclass
class Frame:
    fin: bool
    rsv: int
    opcode: int
    masked: bool
    payload: bytes
    length_form: int = 7  # 7, 16 or 64: how the server encoded the payload length

    @property
    def close_code(self) -> int | None:
        if self.opcode != OP_CLOSE or len(self.payload) < 2:
            return None
        return struct.unpack("!H", self.payload[:2])[0]

    @property
    def close_reason(self) -> bytes:
        return self.payload[2:] if self.opcode == OP_CLOSE else b""

    def __repr__(self):
        p = self.payload if len(self.payload) <= 40 else self.payload[:40] + b"..."
        extra = f" code={self.close_code}" if self.opcode == OP_CLOSE else ""
        return f"Frame(op={self.opcode:#x} fin={self.fin} rsv={self.rsv} len={len(self.payload)}{extra} {p!r})"


def build_frame(opcode: int, payload: bytes = b"", fin: bool = True, rsv: int = 0,
                mask: bool = True, mask_key: bytes | None = None, length_form: int | None = None,
                declared_length: int | None = None) -> bytes:
    """Encode one client frame.

    length_form: None = minimal; 7, 16 or 64 forces a length encoding.
    declared_length: write this length in the header instead of len(payload) (for truncated or
    lying frames); masking still covers the bytes actually given.
    """
    b0 = (0x80 if fin else 0) | ((rsv & 7) << 4) | (opcode & 0xF)
    n = len(payload) if declared_length is None else declared_length
    mbit = 0x80 if mask else 0
    if length_form is None:
        length_form = 7 if n <= 125 else (16 if n <= 0xFFFF else 64)
    if length_form == 7:
        header = struct.pack("!BB", b0, mbit | n)
    elif length_form == 16:
        header = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        header = struct.pack("!BBQ", b0, mbit | 127, n)
    if not mask:
        return header + payload
    key = mask_key if mask_key is not None else os.urandom(4)
    return header + key + apply_mask(payload, key)


def apply_mask(data: bytes, key: bytes) -> bytes:
    if not data:
        return b""
    n = len(data)
    k = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(k, "big")).to_bytes(n, "big")


def close_payload(code: int | None = None, reason: bytes = b"") -> bytes:
    if code is None:
        return b""
    return struct.pack("!H", code) + reason


class RawWebSocket:
    def __init__(self, host: str, port: int, path: str = "/", timeout: float = 3.0,
                 extra_headers: dict | None = None, do_handshake: bool = True,
                 ssl_context: ssl.SSLContext | None = None):
        self.host, self.port, self.path = host, port, path
        self.timeout = timeout
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if ssl_context is not None:  # wss: the same bytes, inside TLS
            self.sock = ssl_context.wrap_socket(self.sock, server_hostname=host)
        self.buf = b""
        self.masked_frames: list[Frame] = []
        self.received: list[Frame] = []
        self.eof = False
        self.response_head = b""
        if do_handshake:
            self.handshake(extra_headers or {})

    # -- handshake --------------------------------------------------------------------
    def handshake(self, extra_headers: dict):
        key = base64.b64encode(os.urandom(16)).decode()
        hostport = f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"
        lines = [f"GET {self.path} HTTP/1.1", f"Host: {hostport}", "Upgrade: websocket",
                 "Connection: Upgrade", f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
        lines += [f"{k}: {v}" for k, v in extra_headers.items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        deadline = time.monotonic() + self.timeout
        while b"\r\n\r\n" not in self.buf:
            self._fill(deadline)
        idx = self.buf.index(b"\r\n\r\n") + 4
        head, self.buf = self.buf[:idx], self.buf[idx:]
        self.response_head = head
        text = head.decode("latin-1")
        status_line, *hdr_lines = text.split("\r\n")
        if " 101 " not in status_line + " ":
            raise HandshakeError(f"expected 101, got {status_line!r}")
        headers = {}
        for ln in hdr_lines:
            if ":" in ln:
                k, _, v = ln.partition(":")
                headers.setdefault(k.strip().lower(), v.strip())
        expected = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
        if headers.get("sec-websocket-accept") != expected:
            raise HandshakeError(f"bad Sec-WebSocket-Accept {headers.get('sec-websocket-accept')!r}")
        if headers.get("upgrade", "").lower() != "websocket":
            raise HandshakeError(f"bad Upgrade header {headers.get('upgrade')!r}")
        if "upgrade" not in headers.get("connection", "").lower():
            raise HandshakeError(f"bad Connection header {headers.get('connection')!r}")

    # -- sending ----------------------------------------------------------------------
    def send_raw(self, data: bytes):
        self.sock.sendall(data)

    def send_frame(self, opcode: int, payload: bytes = b"", **kw):
        self.send_raw(build_frame(opcode, payload, **kw))

    def send_text(self, text: str | bytes, **kw):
        self.send_frame(OP_TEXT, text.encode() if isinstance(text, str) else text, **kw)

    def send_binary(self, data: bytes, **kw):
        self.send_frame(OP_BINARY, data, **kw)

    def send_close(self, code: int | None = 1000, reason: bytes = b"", **kw):
        self.send_frame(OP_CLOSE, close_payload(code, reason), **kw)

    def send_split(self, data: bytes, chunk: int = 1, delay: float = 0.0,
                   stop_on_readable: bool = False) -> int:
        """Send data in pieces of `chunk` bytes, sleeping `delay` between them.

        With stop_on_readable, stop (and return the number of bytes sent) as soon as the server
        has sent something: used by fail-fast cases, which must see the close before the frame
        is complete. Returns bytes sent.
        """
        sent = 0
        for i in range(0, len(data), chunk):
            if stop_on_readable and self._readable(0):
                return sent
            try:
                self.sock.sendall(data[i:i + chunk])
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                return sent
            sent += len(data[i:i + chunk])
            if delay:
                time.sleep(delay)
        return sent

    # -- receiving --------------------------------------------------------------------
    def _readable(self, timeout: float) -> bool:
        if self.buf:
            return True
        if isinstance(self.sock, ssl.SSLSocket) and self.sock.pending():
            return True  # decrypted bytes already inside the TLS layer
        r, _, _ = select.select([self.sock], [], [], timeout)
        return bool(r)

    def _fill(self, deadline: float):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("timed out waiting for data from server")
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(262144)
        except socket.timeout as e:
            raise TimeoutError("timed out waiting for data from server") from e
        except ConnectionResetError as e:
            self.eof = True
            raise Eof("connection reset by server") from e
        except ssl.SSLError as e:  # wss: the connection ended inside TLS
            self.eof = True
            raise Eof(f"TLS connection ended: {e}") from e
        if not data:
            self.eof = True
            raise Eof("server closed the TCP connection")
        self.buf += data

    def _need(self, n: int, deadline: float) -> bytes:
        while len(self.buf) < n:
            self._fill(deadline)
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv_frame(self, timeout: float | None = None) -> Frame:
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        b0, b1 = self._need(2, deadline)
        fin = bool(b0 & 0x80)
        rsv = (b0 >> 4) & 7
        opcode = b0 & 0xF
        masked = bool(b1 & 0x80)
        n = b1 & 0x7F
        form = 7
        if n == 126:
            n = struct.unpack("!H", self._need(2, deadline))[0]
            form = 16
        elif n == 127:
            n = struct.unpack("!Q", self._need(8, deadline))[0]
            form = 64
        key = self._need(4, deadline) if masked else None
        payload = self._need(n, deadline)
        if key:
            payload = apply_mask(payload, key)
        f = Frame(fin, rsv, opcode, masked, payload, form)
        if masked:
            self.masked_frames.append(f)
        self.received.append(f)
        return f

    def recv_message(self, timeout: float | None = None) -> tuple[int, bytes]:
        """Next data message (skipping nothing: control frames raise AssertionError)."""
        f = self.recv_frame(timeout)
        assert f.opcode in (OP_TEXT, OP_BINARY), f"expected a data frame, got {f!r}"
        op, data = f.opcode, f.payload
        while not f.fin:
            f = self.recv_frame(timeout)
            assert f.opcode == OP_CONT, f"expected continuation, got {f!r}"
            data += f.payload
        return op, data

    def expect_eof(self, timeout: float = 3.0) -> bool:
        """True if the server closes TCP within timeout (all frames before EOF are recorded)."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                self.recv_frame(max(0.0, deadline - time.monotonic()))
        except Eof:
            return True
        except TimeoutError:
            return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
