#!/usr/bin/env python3
"""Room-broadcast backend for `petrel-loadtest chat` (Python standard library only).

Petrel posts each WebSocket event to it (an `http` integration, API Gateway's proxy event JSON):

- route `join`, body `{"action":"join","room":"r3"}`: puts the connection in group `r3`
  (`PUT /@connections/{id}/groups/r3` on the admin API), then answers `{"joined":"r3"}`; the route
  needs `respond: true` so the answer reaches the client.
- any other route whose body names a `room` (`sendmessage` in petrel-loadtest's default): posts
  the body unchanged to every member of the room with one `POST /@groups/{room}` (the sender
  included, as any member); one-way route.
- `$connect`, `$disconnect`: 200. Group membership ends with the connection.

Groups (DESIGN §6) cost the backend one call per message instead of one per member.

    python3 Benchmarks/chat-backend.py --admin-url http://127.0.0.1:9090 --token TOKEN [--port 3000]

prints `listening PORT` once ready (port 0 picks a free one). A config for Petrel:

    listeners: {admin: {address: 127.0.0.1:9090, auth: {bearer_tokens: [TOKEN]}}}
    websocket:
      route_selection: $request.body.action
      routes:
        join: {integration: chat, respond: true}
        sendmessage: {integration: chat}
    integrations:
      chat: {type: http, url: "http://127.0.0.1:3000/"}
"""
from __future__ import annotations

import argparse
import http.client
import json
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Admin:
    """One keep-alive connection to Petrel's admin listener per backend thread."""

    def __init__(self, url: str, token: str | None):
        u = urllib.parse.urlsplit(url)
        self.host, self.port, self.prefix = u.hostname, u.port or 80, u.path.rstrip("/")
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.local = threading.local()
        self.errors = 0

    def call(self, method: str, path: str, body: bytes = b"") -> int:
        for attempt in (0, 1):  # once more on a connection the gateway closed
            conn = getattr(self.local, "conn", None)
            if conn is None:
                conn = self.local.conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
            try:
                conn.request(method, self.prefix + path, body=body, headers=self.headers)
                resp = conn.getresponse()
                resp.read()
                if resp.status >= 300:
                    self.errors += 1
                return resp.status
            except (OSError, http.client.HTTPException):
                conn.close()
                self.local.conn = None
                if attempt:
                    raise
        return 0


def make_handler(admin: Admin):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_POST(self):
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            answer = {"statusCode": 200}
            try:
                event = json.loads(raw)
                context = event.get("requestContext", {})
                body = event.get("body") or ""
                message = json.loads(body) if body.startswith("{") else {}
                room = message.get("room")
                quoted = urllib.parse.quote(str(room), safe="") if room is not None else None
                if context.get("routeKey") == "join" and quoted:
                    connection = urllib.parse.quote(context["connectionId"], safe="")
                    status = admin.call("PUT", f"/@connections/{connection}/groups/{quoted}")
                    answer["body"] = json.dumps({"joined": room} if status < 300 else {"join_failed": status})
                elif quoted:
                    admin.call("POST", f"/@groups/{quoted}", body.encode())
            except (ValueError, KeyError, OSError, http.client.HTTPException) as e:
                answer = {"statusCode": 500, "body": f"backend error: {e}"}
            data = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--admin-url", required=True, help="Petrel's admin listener, http://HOST:PORT[/stage]")
    ap.add_argument("--token", help="bearer token for the admin API")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=3000)
    args = ap.parse_args()
    server = ThreadingHTTPServer((args.host, args.port), make_handler(Admin(args.admin_url, args.token)))
    server.daemon_threads = True
    print(f"listening {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
