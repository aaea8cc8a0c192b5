#!/usr/bin/env python3
"""Petrel chat example backend: API Gateway's "simple websockets chat app", Python standard library.

Petrel POSTs every WebSocket event (API Gateway's Lambda proxy event JSON) to `POST /events`:

  $connect     stores the connection (room and name from the query string: ?room=lobby&name=ada)
  sendmessage  {"action":"sendmessage","data":"hi"} is broadcast to every connection of the room
               through the @connections API (POST {admin}/@connections/{id}); a 410 Gone removes
               the stale connection, exactly as the AWS sample does with DynamoDB
  $disconnect  forgets the connection and tells the room
  $default     answers a short help text to the sender

It also serves the browser page (GET /static/...; Petrel proxies GET /chat/{proxy+} here, so the
page and the WebSocket share one origin) and GET /state (connections and recent disconnects, for
tests and curious operators) and GET /healthz.

Environment:
  CHAT_LISTEN          HOST:PORT to listen on                    (default 127.0.0.1:3000)
  PETREL_ADMIN_URL     Petrel's admin listener with the stage    (default http://127.0.0.1:9090/prod)
                       any node of a cluster will do: Petrel forwards a call to the owner node
  PETREL_ADMIN_TOKEN   bearer token for the admin API            (default: none; loopback admin only)
  PETREL_ADMIN_TOKEN_FILE  read the token from this file instead (Docker/Kubernetes secrets)
  CHAT_STATIC_DIR      directory of the page                     (default: ./static next to this file)

State lives in this process's memory: run one backend replica (or replace `Rooms` with Redis or a
database, as the AWS sample uses DynamoDB). Petrel calls are made with urllib; swap in boto3's
`apigatewaymanagementapi` client (endpoint_url=PETREL_ADMIN_URL) if you prefer SigV4.
"""
from __future__ import annotations

import hashlib
import json
import mimetypes
import os
import posixpath
import signal
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
ADMIN_URL = os.environ.get("PETREL_ADMIN_URL", "http://127.0.0.1:9090/prod").rstrip("/")
STATIC_DIR = Path(os.environ.get("CHAT_STATIC_DIR", HERE / "static")).resolve()
MAX_NAME = 32
MAX_TEXT = 2000
GONE_GRACE_S = 30.0


def admin_token() -> str | None:
    path = os.environ.get("PETREL_ADMIN_TOKEN_FILE")
    if path:
        return Path(path).read_text().strip()
    return os.environ.get("PETREL_ADMIN_TOKEN") or None


TOKEN = admin_token()


def log(msg: str, **fields):
    print(json.dumps({"ts": round(time.time(), 3), "msg": msg, **fields}), flush=True)


class Rooms:
    """connectionId → (room, name); thread-safe (the HTTP server runs a thread per request)."""

    def __init__(self):
        self._lock = threading.Lock()
        self.conns: dict[str, dict] = {}
        self.disconnects: list[dict] = []   # the last 1000, newest last

    def add(self, cid: str, room: str, name: str):
        with self._lock:
            self.conns[cid] = {"room": room, "name": name, "connectedAt": time.time()}

    def remove(self, cid: str, reason: str = "") -> dict | None:
        with self._lock:
            info = self.conns.pop(cid, None)
            self.disconnects.append({"connectionId": cid, "reason": reason, "at": time.time(),
                                     **({"room": info["room"], "name": info["name"]} if info else {})})
            del self.disconnects[:-1000]
            return info

    def age(self, cid: str) -> float:
        with self._lock:
            info = self.conns.get(cid)
            return time.time() - info["connectedAt"] if info else 0.0

    def get(self, cid: str) -> dict | None:
        with self._lock:
            return self.conns.get(cid)

    def members(self, room: str) -> list[str]:
        with self._lock:
            return [cid for cid, info in self.conns.items() if info["room"] == room]

    def snapshot(self) -> dict:
        with self._lock:
            return {"connections": dict(self.conns), "disconnects": list(self.disconnects)}


ROOMS = Rooms()


def post_to_connection(cid: str, payload: dict) -> int:
    """POST {admin}/@connections/{id}; returns the HTTP status (0 when Petrel is unreachable)."""
    url = f"{ADMIN_URL}/@connections/{urllib.parse.quote(cid, safe='')}"
    req = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST")
    if TOKEN:
        req.add_header("Authorization", f"Bearer {TOKEN}")
    started = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            status = resp.status
    except urllib.error.HTTPError as e:
        status = e.code
    except OSError as e:
        log("post failed", connectionId=cid, error=str(e))
        status = 0
    took = time.monotonic() - started
    if took > 1 or os.environ.get("CHAT_DEBUG"):
        log("post", connectionId=cid, status=status, seconds=round(took, 3))
    return status


def broadcast(room: str, payload: dict, skip: str | None = None) -> int:
    sent = 0
    for cid in ROOMS.members(room):
        if cid == skip:
            continue
        status = post_to_connection(cid, payload)
        if status == 200:
            sent += 1
        elif status == 410 and ROOMS.age(cid) > GONE_GRACE_S:
            # GoneException for a connection we have known for a while: it is stale (its
            # $disconnect is what normally removes it). A young one may still be finishing its
            # handshake: its $connect answer is on its way to Petrel, the 101 is not sent yet.
            ROOMS.remove(cid, "gone")
        else:
            log("post refused", connectionId=cid, status=status)
    return sent


def clean(text, limit: int, default: str = "") -> str:
    text = str(text or default).strip()
    return text[:limit] if text else default


def handle_event(event: dict) -> dict:
    ctx = event.get("requestContext") or {}
    cid = ctx.get("connectionId", "")
    route = ctx.get("routeKey", "")
    if os.environ.get("CHAT_DEBUG"):
        log("event", route=route, connectionId=cid)
    if route == "$connect":
        qs = event.get("queryStringParameters") or {}
        room = clean(qs.get("room"), MAX_NAME, "lobby")
        name = clean(qs.get("name"), MAX_NAME, "anonymous")
        # Others first: the new connection cannot receive messages before its 101 is sent.
        broadcast(room, {"type": "joined", "room": room, "name": name})
        ROOMS.add(cid, room, name)
        log("connect", connectionId=cid, room=room, name=name)
        return {"statusCode": 200}
    if route == "$disconnect":
        info = ROOMS.remove(cid, f"{ctx.get('disconnectStatusCode')} {ctx.get('disconnectReason') or ''}".strip())
        log("disconnect", connectionId=cid, code=ctx.get("disconnectStatusCode"))
        if info:
            broadcast(info["room"], {"type": "left", "room": info["room"], "name": info["name"]})
        return {"statusCode": 200}
    if route == "sendmessage":
        info = ROOMS.get(cid)
        if info is None:  # e.g. this backend restarted: its memory is gone
            return {"statusCode": 200, "body": json.dumps({"type": "error", "error": "unknown connection; reconnect"})}
        try:
            data = json.loads(event.get("body") or "{}").get("data")
        except ValueError:
            data = None
        text = clean(data, MAX_TEXT)
        if text:
            n = broadcast(info["room"], {"type": "message", "room": info["room"], "name": info["name"],
                                         "data": text, "at": int(time.time() * 1000)})
            log("message", connectionId=cid, room=info["room"], delivered=n)
        return {"statusCode": 200}
    return {"statusCode": 200, "body": json.dumps(
        {"type": "help", "help": 'send {"action":"sendmessage","data":"your text"}'})}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "petrel-chat-backend/1"

    def log_message(self, *args):
        pass

    def _send(self, status: int, body: bytes, ctype: str = "application/json", extra: dict | None = None):
        self.send_response(status)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_POST(self):
        n = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(n) if n else b""
        if urllib.parse.urlsplit(self.path).path != "/events":
            return self._send(404, b'{"message":"not found"}')
        try:
            event = json.loads(raw)
        except ValueError:
            return self._send(400, b'{"message":"expected an API Gateway WebSocket event"}')
        try:
            answer = handle_event(event)
        except Exception as e:  # never leave Petrel without an answer
            log("handler error", error=repr(e))
            answer = {"statusCode": 500}
        self._send(200, json.dumps(answer).encode())

    def do_GET(self):
        path = urllib.parse.urlsplit(self.path).path
        if path == "/healthz":
            return self._send(200, b'{"status":"ok"}')
        if path == "/state":
            return self._send(200, json.dumps(ROOMS.snapshot()).encode())
        if path == "/static" or path.startswith("/static/"):
            return self._static(path[len("/static"):])
        self._send(404, b'{"message":"not found"}')

    do_HEAD = do_GET

    def _static(self, rel: str):
        rel = urllib.parse.unquote(rel)
        # No path traversal: normalise, refuse anything that leaves STATIC_DIR.
        norm = posixpath.normpath("/" + rel).lstrip("/") or "index.html"
        target = (STATIC_DIR / norm).resolve()
        if STATIC_DIR not in target.parents and target != STATIC_DIR or "\x00" in rel:
            return self._send(404, b'{"message":"not found"}')
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file():
            return self._send(404, b'{"message":"not found"}')
        body = target.read_bytes()
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        if self.headers.get("if-none-match") == etag:
            self.send_response(304)
            self.send_header("etag", etag)
            self.send_header("content-length", "0")
            self.end_headers()
            return
        ctype = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if ctype.startswith("text/") or ctype == "application/javascript":
            ctype += "; charset=utf-8"
        self._send(200, body, ctype, {"etag": etag, "cache-control": "no-cache",
                                      "x-content-type-options": "nosniff"})


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


def main() -> int:
    host, _, port = os.environ.get("CHAT_LISTEN", "127.0.0.1:3000").rpartition(":")
    server = Server((host or "127.0.0.1", int(port)), Handler)
    log("chat backend ready", address=f"{server.server_address[0]}:{server.server_address[1]}",
        admin=ADMIN_URL, static=str(STATIC_DIR))
    def stop(signum, frame):  # PID 1 in a container ignores SIGTERM unless handled
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
