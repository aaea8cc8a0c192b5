"""Process harness and raw-socket helpers shared by the e2e and conformance suites.

Black-box only: the gateway is started as a child process, its JSON log lines are collected
from stdout by a background thread, and every socket goes to 127.0.0.1 only.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 15.0
STOP_TIMEOUT = 20.0  # drain waits for in-flight integrations, bounded at 10 s by the contract

_bin_cache: dict[str, str | None] = {}


def petrel_binary() -> str | None:
    """PETREL_BIN, else `$(swift build -c release --show-bin-path)/petrel` (computed once)."""
    env = os.environ.get("PETREL_BIN")
    if env:
        return env
    if "bin" not in _bin_cache:
        path = None
        try:
            out = subprocess.run(
                ["swift", "build", "-c", "release", "--show-bin-path"],
                cwd=REPO, capture_output=True, text=True, timeout=60,
            )
            if out.returncode == 0 and out.stdout.strip():
                path = os.path.join(out.stdout.strip().splitlines()[-1], "petrel")
        except (OSError, subprocess.TimeoutExpired):
            path = None
        _bin_cache["bin"] = path
    return _bin_cache["bin"]


class PetrelStartError(RuntimeError):
    pass


class PetrelServer:
    """One running `petrel serve`. Ports come from the `listener ready` log lines."""

    def __init__(self, binary: str, config_path: str | None = None, threads: int | None = 2,
                 extra_args: list[str] | None = None, cwd: str | None = None):
        self.binary = binary
        self.config_path = config_path
        args = [binary, "serve"]
        if config_path:
            args += ["--config", str(config_path)]
        args += ["--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"]
        if threads is not None:
            args += ["--threads", str(threads)]
        args += list(extra_args or [])
        self.args = args
        self.lines: list[str] = []        # raw stdout lines
        self.logs: list[dict] = []        # parsed JSON stdout lines
        self.stderr_lines: list[str] = []
        self._cond = threading.Condition()
        self.returncode: int | None = None
        self.ready_at: float | None = None
        self.term_sent = False  # a drain was already requested: stop() then only waits
        self.public_port: int | None = None
        self.admin_port: int | None = None
        self.proc = subprocess.Popen(
            args, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, start_new_session=True,
        )
        self._threads = [
            threading.Thread(target=self._pump, args=(self.proc.stdout, True), daemon=True),
            threading.Thread(target=self._pump, args=(self.proc.stderr, False), daemon=True),
        ]
        for t in self._threads:
            t.start()

    # -- output collection -------------------------------------------------------------
    def _pump(self, stream, is_stdout: bool):
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._cond:
                if is_stdout:
                    self.lines.append(line)
                    try:
                        obj = json.loads(line)
                    except ValueError:
                        obj = None
                    if isinstance(obj, dict):
                        self.logs.append(obj)
                        if obj.get("msg") == "listener ready":
                            port = int(str(obj.get("address", "")).rsplit(":", 1)[-1])
                            if obj.get("listener") == "public":
                                self.public_port = port
                            elif obj.get("listener") == "admin":
                                self.admin_port = port
                else:
                    self.stderr_lines.append(line)
                self._cond.notify_all()
        stream.close()

    def wait_ready(self, timeout: float = READY_TIMEOUT):
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.public_port is None or self.admin_port is None:
                if self.proc.poll() is not None:
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(min(left, 0.1))
            ok = self.public_port is not None and self.admin_port is not None
        if ok:
            self.ready_at = time.monotonic()
        if not ok:
            rc = self.proc.poll()
            self.kill()
            raise PetrelStartError(
                f"petrel not ready within {timeout}s (exit={rc}); args={self.args}\n"
                f"stdout:\n" + "\n".join(self.lines[-30:]) + "\nstderr:\n" + "\n".join(self.stderr_lines[-30:]))
        return self

    def wait_log(self, pred, timeout: float = 5.0, start: int = 0) -> dict | None:
        """Wait for a parsed log line (index >= start) satisfying pred; None on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for obj in self.logs[start:]:
                    if pred(obj):
                        return obj
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(min(left, 0.1))

    # -- control ----------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.public_port}/"

    def settle(self, settle: float = 0.0):
        """Sleep until the process has been ready for `settle` seconds (see stop())."""
        if self.ready_at is not None:
            wait = self.ready_at + settle - time.monotonic()
            if wait > 0:
                time.sleep(wait)

    def signal(self, sig):
        if self.proc.poll() is None:
            if sig in (signal.SIGTERM, signal.SIGINT):
                self.term_sent = True
            self.proc.send_signal(sig)

    def wait_exit(self, timeout: float = STOP_TIMEOUT) -> int | None:
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        for t in self._threads:
            t.join(timeout=2)
        return self.returncode

    def stop(self, timeout: float = STOP_TIMEOUT, settle: float = 0.0) -> int | None:
        """SIGTERM and wait; returns exit code, or None if it had to be killed.

        `settle`: wait until the process has been ready this long before signalling. Petrel
        watches signals before it prints its ready lines, so the default is no wait
        (test_lifecycle.py::test_sigterm_right_after_ready_exits_0 checks exactly that)."""
        if self.proc.poll() is not None:
            return self.wait_exit(1)
        if not self.term_sent:
            self.settle(settle)
            self.signal(signal.SIGTERM)
        rc = self.wait_exit(timeout)
        if rc is None:
            self.kill()
        return rc

    def kill(self):
        if self.proc.poll() is None:
            try:
                self.proc.kill()  # only our own child, by pid
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass

    def describe(self) -> str:
        return ("stdout tail:\n" + "\n".join(self.lines[-20:]) +
                "\nstderr tail:\n" + "\n".join(self.stderr_lines[-20:]))


# ---------------------------------------------------------------------------------------
# Raw HTTP helpers
# ---------------------------------------------------------------------------------------

def tcp_connect(port: int, host: str = "127.0.0.1", timeout: float = 5.0) -> socket.socket:
    s = socket.create_connection((host, port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.settimeout(timeout)
    return s


@dataclass
class HttpResponse:
    status: int
    reason: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None

    def header_all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]


class HttpReader:
    """Incremental HTTP/1.1 response reader over a blocking socket with a timeout."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buf = b""
        self.eof = False

    def _fill(self, deadline: float) -> bool:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("timed out reading HTTP response")
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except socket.timeout as e:
            raise TimeoutError("timed out reading HTTP response") from e
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def _read_until(self, marker: bytes, deadline: float) -> bytes:
        while marker not in self.buf:
            if not self._fill(deadline):
                raise ConnectionError(f"EOF before {marker!r}; have {self.buf[:200]!r}")
        idx = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:idx], self.buf[idx:]
        return out

    def _read_n(self, n: int, deadline: float) -> bytes:
        while len(self.buf) < n:
            if not self._fill(deadline):
                raise ConnectionError("EOF in body")
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_response(self, timeout: float = 5.0, head_request: bool = False) -> HttpResponse:
        deadline = time.monotonic() + timeout
        head = self._read_until(b"\r\n\r\n", deadline).decode("latin-1")
        lines = head.split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
            raise ValueError(f"bad status line {lines[0]!r}")
        status = int(parts[1])
        reason = parts[2] if len(parts) > 2 else ""
        headers = []
        for ln in lines[1:]:
            if not ln:
                continue
            k, _, v = ln.partition(":")
            headers.append((k.strip(), v.strip()))
        resp = HttpResponse(status, reason, headers)
        if head_request or status in (101, 204, 304) or 100 <= status < 200:
            return resp
        te = (resp.header("transfer-encoding") or "").lower()
        cl = resp.header("content-length")
        if "chunked" in te:
            body = b""
            while True:
                size_line = self._read_until(b"\r\n", deadline)
                size = int(size_line.split(b";")[0].strip(), 16)
                if size == 0:
                    # trailers until blank line
                    while self._read_until(b"\r\n", deadline) != b"\r\n":
                        pass
                    break
                body += self._read_n(size, deadline)
                self._read_n(2, deadline)
            resp.body = body
        elif cl is not None:
            resp.body = self._read_n(int(cl), deadline)
        else:
            # read until close
            while self._fill(deadline):
                pass
            resp.body, self.buf = self.buf, b""
        return resp

    def wait_eof(self, timeout: float = 3.0) -> bool:
        """True if the peer closes (EOF or reset) within timeout; extra bytes are kept in buf."""
        deadline = time.monotonic() + timeout
        try:
            while self._fill(deadline):
                pass
            return True
        except TimeoutError:
            return False
        except (ConnectionResetError, BrokenPipeError):
            return True


def http_request(port: int, method: str, path: str, headers: dict | None = None,
                 body: bytes = b"", timeout: float = 5.0) -> HttpResponse:
    """One request on a fresh connection (Connection: close)."""
    hdrs = {"Host": f"127.0.0.1:{port}", "Connection": "close"}
    hdrs.update(headers or {})
    if body and "Content-Length" not in hdrs and "Transfer-Encoding" not in hdrs:
        hdrs["Content-Length"] = str(len(body))
    req = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items()) + "\r\n"
    with tcp_connect(port, timeout=timeout) as s:
        s.sendall(req.encode("latin-1") + body)
        return HttpReader(s).read_response(timeout=timeout, head_request=(method == "HEAD"))


def ws_upgrade_request(port: int, path: str = "/", key: str | None = "dGhlIHNhbXBsZSBub25jZQ==",
                       version: str | None = "13", extra: dict | None = None) -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Upgrade: websocket",
             "Connection: Upgrade"]
    if key is not None:
        lines.append(f"Sec-WebSocket-Key: {key}")
    if version is not None:
        lines.append(f"Sec-WebSocket-Version: {version}")
    for k, v in (extra or {}).items():
        lines.append(f"{k}: {v}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ws_connect(url: str, **kw):
    """websockets' sync client with settings that keep tests deterministic: no keepalive pings,
    no compression offer, no client-side size limit, bounded open/close."""
    from websockets.sync.client import connect
    opts = dict(open_timeout=5, close_timeout=3, max_size=None, ping_interval=None,
                compression=None)
    opts.update(kw)
    return connect(url, **opts)


def recv_close(ws, timeout: float = 5.0):
    """Wait until the server closes; returns (code, reason) of the close frame it sent, or
    (None, None) if the TCP connection ended without one. Data messages in between are ignored."""
    from websockets.exceptions import ConnectionClosed
    import time as _t
    deadline = _t.monotonic() + timeout
    while True:
        left = deadline - _t.monotonic()
        if left <= 0:
            raise TimeoutError("server did not close the connection in time")
        try:
            ws.recv(timeout=left)
        except TimeoutError:
            raise TimeoutError("server did not close the connection in time")
        except ConnectionClosed as e:
            if e.rcvd is None:
                return None, None
            return e.rcvd.code, e.rcvd.reason


def ws_config(limits: str = "", routes: str = "$default: {integration: echo}",
              extra: str = "", integrations: str = "echo: {type: mock, mode: echo}",
              route_selection: str | None = None) -> str:
    """Build a small config. `limits`/`routes`/`integrations` are YAML flow-mapping bodies."""
    rs = f"  route_selection: {route_selection}\n" if route_selection else ""
    lim = f"  limits: {{{limits}}}\n" if limits else ""
    return (f"websocket:\n{rs}{lim}  routes: {{{routes}}}\n"
            f"integrations: {{{integrations}}}\n{extra}")


# Under `make asan` (PETREL_SANITIZER=address) freed blocks wait in ASan's quarantine and every
# allocation has redzones, so a gateway's RSS grows with the bytes it moved even when it holds
# none of them: memory bounds are doubled there. The release-build pass keeps them exact.
RSS_BOUND_FACTOR = 2 if os.environ.get("PETREL_SANITIZER") == "address" else 1


def rss_kib(pid: int) -> int:
    """Resident set size of a process, from /proc (what the memory-bound tests watch)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")
