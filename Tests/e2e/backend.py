"""A recording HTTP backend for integration tests (loopback only, free port, threaded).

Every POST body is parsed as JSON (API Gateway proxy event) and recorded with its path, headers
and arrival time, then answered according to a programmable policy:

    be = RecordingBackend()                    # listening on 127.0.0.1:<free port>
    be.policy = lambda ev: Reply(200, {"statusCode": 200, "body": "hi"})
    ...
    be.wait_for(lambda ev: ev["requestContext"]["eventType"] == "DISCONNECT")
    be.close()

Policy results (a policy gets the parsed event, or the raw bytes when not JSON):
  - Reply(status, body, headers, delay): body may be bytes, str, or a dict/list (sent as JSON);
    `delay` seconds are slept before answering.
  - Close(delay): close the TCP connection without any response.
  - Garbage(data, delay): write raw bytes that are not HTTP, then close.
  - None: 200 with an empty body.

`RecordingBackend(port=P, start=False)` reserves nothing: call `start()` later to begin
listening on that port (to simulate a backend that is down, then comes up).
"""
from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    status: int = 200
    body: object = b""
    headers: dict = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Close:
    delay: float = 0.0


@dataclass
class Garbage:
    data: bytes = b"\x00\x01garbage, not HTTP\r\n\r\n"
    delay: float = 0.0


@dataclass
class Received:
    path: str
    headers: dict          # lower-cased names → last value
    raw: bytes
    event: object          # parsed JSON, or None
    at: float              # time.monotonic()
    answered: object = None  # the policy result used

    @property
    def rc(self) -> dict:
        return (self.event or {}).get("requestContext", {}) if isinstance(self.event, dict) else {}

    @property
    def event_type(self) -> str | None:
        return self.rc.get("eventType")

    @property
    def connection_id(self) -> str | None:
        return self.rc.get("connectionId")


def proxy(status: int = 200, body: str | None = None, headers: dict | None = None, **kw) -> Reply:
    """A Reply carrying an API Gateway proxy-response object."""
    obj: dict = {"statusCode": status}
    if headers is not None:
        obj["headers"] = headers
    if body is not None:
        obj["body"] = body
    return Reply(200, obj, {"content-type": "application/json"}, **kw)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def handle_error(self, request, client_address):  # peers that reset are expected here
        pass


class RecordingBackend:
    def __init__(self, policy=None, port: int | None = None, start: bool = True):
        self.policy = policy
        self.received: list[Received] = []
        self._cond = threading.Condition()
        self.port = port if port is not None else 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._conns: set = set()
        if start:
            self.start()
        elif self.port == 0:
            self.port = free_port()

    # -- lifecycle --------------------------------------------------------------------------
    def start(self):
        backend = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, like a real backend

            def log_message(self, *a):  # quiet
                pass

            def setup(self):
                super().setup()
                with backend._cond:
                    backend._conns.add(self.connection)

            def finish(self):
                try:
                    super().finish()
                finally:
                    with backend._cond:
                        backend._conns.discard(self.connection)

            def do_POST(self):
                n = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(n) if n else b""
                try:
                    ev = json.loads(raw) if raw else None
                except ValueError:
                    ev = None
                rec = Received(self.path, {k.lower(): v for k, v in self.headers.items()}, raw, ev,
                               time.monotonic())
                pol = backend.policy
                try:
                    action = pol(ev if ev is not None else raw) if pol else None
                except Exception as e:  # a bug in a test policy: answer 599 so it is visible
                    action = Reply(599, f"policy error: {e!r}")
                rec.answered = action
                with backend._cond:
                    backend.received.append(rec)
                    backend._cond.notify_all()
                self._answer(action)

            do_PUT = do_POST
            do_GET = do_POST

            def _answer(self, action):
                if action is None:
                    action = Reply()
                if getattr(action, "delay", 0):
                    time.sleep(action.delay)
                if isinstance(action, Close):
                    self.close_connection = True
                    try:
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    return
                if isinstance(action, Garbage):
                    self.close_connection = True
                    try:
                        self.wfile.write(action.data)
                        self.wfile.flush()
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    return
                body = action.body
                headers = dict(action.headers)
                if isinstance(body, (dict, list)):
                    body = json.dumps(body).encode()
                    headers.setdefault("content-type", "application/json")
                elif isinstance(body, str):
                    body = body.encode()
                try:
                    self.send_response(action.status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("content-length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    self.wfile.flush()
                except OSError:
                    self.close_connection = True

        self._server = _Server(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def close(self):
        """Stop listening and cut every open (keep-alive) connection: the backend is down."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self._cond:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/events"

    # -- queries ------------------------------------------------------------------------------
    def snapshot(self) -> list[Received]:
        with self._cond:
            return list(self.received)

    def events(self, event_type: str | None = None, cid: str | None = None) -> list[Received]:
        return [r for r in self.snapshot()
                if (event_type is None or r.event_type == event_type)
                and (cid is None or r.connection_id == cid)]

    def wait_for(self, pred, timeout: float = 5.0, count: int = 1) -> list[Received]:
        """Wait until at least `count` records satisfy pred; returns them (raises on timeout)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                hits = [r for r in self.received if pred(r)]
                if len(hits) >= count:
                    return hits
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"backend: wanted {count} matching events, have {len(hits)} within {timeout}s; "
                        f"all: {[(r.event_type, r.connection_id) for r in self.received][-20:]}")
                self._cond.wait(min(left, 0.1))

    def wait_event(self, event_type: str, cid: str | None = None, timeout: float = 5.0,
                   count: int = 1) -> list[Received]:
        return self.wait_for(lambda r: r.event_type == event_type
                             and (cid is None or r.connection_id == cid), timeout, count)
