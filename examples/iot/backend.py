#!/usr/bin/env python3
"""Petrel IoT example backend: devices over wss with mTLS, binary telemetry in, commands out.

Python standard library only. Petrel POSTs every WebSocket event (API Gateway's Lambda proxy
event JSON) to `POST /events`:

  $connect     registers the device by its *certificate*: `requestContext.identity.clientCert`
               (subjectDN → device id = its CN, serialNumber, issuerDN), never by anything the
               device says. No certificate, a CN that is not a device id, or a device not in
               IOT_ALLOWED_DEVICES answers 403, and Petrel refuses the handshake with 403.
  $default     a binary telemetry record (base64 with isBase64Encoded: true), decoded with
               RECORD below and stored as the device's latest reading
  ack          {"action":"ack","id":"cmd-…"}: the device confirms a command
  $disconnect  marks the device offline (with the close code Petrel reports)

Telemetry record, 16 bytes, big-endian (struct ">BIQhB"):
  version u8 (= 1) | sequence u32 | timestamp u64 (ms since the epoch) |
  temperature i16 (0.01 °C) | battery u8 (%)

Its own HTTP API, for operators and other services:

  POST /devices/{id}/commands   body: any JSON object, e.g. {"command":"set_interval","seconds":30}
                                → pushed to that one device through Petrel's
                                POST {admin}/@connections/{connectionId} as one text message
                                {"type":"command","id":"cmd-…","command":{…}};
                                answers 202 {"id":…,"connectionId":…}, 404 if the device is not
                                connected, 502 if Petrel refused the call
  GET /devices                  every device: identity, connection, latest reading, commands
  GET /devices/{id}             one device
  GET /healthz

Environment:
  IOT_LISTEN              HOST:PORT to listen on                    (default 127.0.0.1:3001)
  PETREL_ADMIN_URL        Petrel's admin listener with the stage    (default http://127.0.0.1:9091/prod)
  PETREL_ADMIN_TOKEN      bearer token for the admin API            (petrel.yaml: iot-example-token)
  PETREL_ADMIN_TOKEN_FILE read the token from this file instead
  IOT_ALLOWED_DEVICES     comma-separated device ids allowed to connect (default: empty = every
                          device whose certificate Petrel verified against client_ca)

State lives in memory. With boto3 instead of urllib, the push is
`boto3.client("apigatewaymanagementapi", endpoint_url=PETREL_ADMIN_URL).post_to_connection(...)`
(SigV4: configure `admin.auth.sigv4` in petrel.yaml).
"""
from __future__ import annotations

import base64
import binascii
import itertools
import json
import os
import re
import signal
import struct
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ADMIN_URL = os.environ.get("PETREL_ADMIN_URL", "http://127.0.0.1:9091/prod").rstrip("/")
ALLOWED = {d.strip() for d in os.environ.get("IOT_ALLOWED_DEVICES", "").split(",") if d.strip()}
RECORD = struct.Struct(">BIQhB")
RECORD_VERSION = 1
DEVICE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
GONE_GRACE_S = 30.0


def admin_token() -> str | None:
    path = os.environ.get("PETREL_ADMIN_TOKEN_FILE")
    if path:
        return Path(path).read_text().strip()
    return os.environ.get("PETREL_ADMIN_TOKEN") or None


TOKEN = admin_token()


def log(msg: str, **fields):
    print(json.dumps({"ts": round(time.time(), 3), "msg": msg, **fields}), flush=True)


def dn_attributes(dn: str) -> list[tuple[str, str]]:
    """`CN=dev-a,OU=devices,O=Acme` (RFC 2253, as Petrel prints it) → [("CN","dev-a"), ...]."""
    out, attr, cur, i = [], None, "", 0
    while i < len(dn):
        c = dn[i]
        if c == "\\" and i + 1 < len(dn):
            cur += dn[i + 1]
            i += 2
            continue
        if c == "=" and attr is None:
            attr, cur = cur.strip(), ""
        elif c in ",+":
            if attr is not None:
                out.append((attr.upper(), cur.strip()))
            attr, cur = None, ""
        else:
            cur += c
        i += 1
    if attr is not None:
        out.append((attr.upper(), cur.strip()))
    return out


def decode_record(raw: bytes) -> dict:
    if len(raw) != RECORD.size:
        raise ValueError(f"record is {len(raw)} bytes, expected {RECORD.size}")
    version, seq, ts_ms, centi_c, battery = RECORD.unpack(raw)
    if version != RECORD_VERSION:
        raise ValueError(f"record version {version}, expected {RECORD_VERSION}")
    if battery > 100:
        raise ValueError(f"battery {battery} % is out of range")
    return {"seq": seq, "timestampMs": ts_ms, "temperatureC": centi_c / 100, "batteryPct": battery}


class Fleet:
    """device id → identity, connection and readings; thread-safe (a thread per request)."""

    def __init__(self):
        self._lock = threading.Lock()
        self.devices: dict[str, dict] = {}
        self.by_conn: dict[str, str] = {}          # connectionId → device id
        self.rejected: list[dict] = []             # the last 100 refused $connects, newest last
        self._ids = itertools.count(1)

    def connect(self, cid: str, device: str, cert: dict, source_ip: str):
        with self._lock:
            d = self.devices.setdefault(device, {"device": device, "latest": None, "frames": 0,
                                                  "badFrames": 0, "commands": [], "disconnects": []})
            old = d.get("connectionId")
            if old:
                self.by_conn.pop(old, None)  # a reconnect replaces the older connection
            d.update(connectionId=cid, connected=True, connectedAt=time.time(), sourceIp=source_ip,
                     subjectDN=cert.get("subjectDN"), issuerDN=cert.get("issuerDN"),
                     serialNumber=cert.get("serialNumber"),
                     validity=cert.get("validity"))
            self.by_conn[cid] = device
            return old

    def reject(self, cid: str, reason: str, subject: str | None):
        with self._lock:
            self.rejected.append({"connectionId": cid, "reason": reason, "subjectDN": subject, "at": time.time()})
            del self.rejected[:-100]

    def device_of(self, cid: str) -> str | None:
        with self._lock:
            return self.by_conn.get(cid)

    def telemetry(self, cid: str, reading: dict | None) -> str | None:
        with self._lock:
            device = self.by_conn.get(cid)
            if device is None:
                return None
            d = self.devices[device]
            if reading is None:
                d["badFrames"] += 1
            else:
                d["frames"] += 1
                d["latest"] = {**reading, "receivedAt": time.time()}
            return device

    def new_command(self, device: str, command: dict) -> tuple[dict | None, str | None]:
        with self._lock:
            d = self.devices.get(device)
            if d is None or not d.get("connected"):
                return None, None
            entry = {"id": f"cmd-{next(self._ids)}", "command": command, "status": "pending",
                     "sentAt": time.time(), "connectionId": d["connectionId"]}
            d["commands"].append(entry)
            del d["commands"][:-50]
            return entry, d["connectionId"]

    STATUS_ORDER = {"pending": 0, "failed": 1, "sent": 1, "acked": 2}

    def command_status(self, device: str, cmd_id: str, status: str):
        with self._lock:
            for c in self.devices.get(device, {}).get("commands", []):
                if c["id"] == cmd_id:
                    c[f"{status}At"] = time.time()
                    # The device's ack may arrive before Petrel's 200 for the push: keep "acked".
                    if self.STATUS_ORDER[status] > self.STATUS_ORDER[c["status"]]:
                        c["status"] = status
                    return True
            return False

    def disconnect(self, cid: str, code, reason: str) -> str | None:
        with self._lock:
            device = self.by_conn.pop(cid, None)
            if device is None:
                return None
            d = self.devices[device]
            d["disconnects"].append({"connectionId": cid, "code": code, "reason": reason, "at": time.time()})
            del d["disconnects"][:-20]
            if d.get("connectionId") == cid:
                d["connected"] = False
            return device

    def forget_connection(self, device: str, cid: str):
        with self._lock:
            d = self.devices.get(device)
            if d and d.get("connectionId") == cid and time.time() - d["connectedAt"] > GONE_GRACE_S:
                self.by_conn.pop(cid, None)
                d["connected"] = False

    def snapshot(self, device: str | None = None):
        with self._lock:
            if device is not None:
                d = self.devices.get(device)
                return json.loads(json.dumps(d)) if d else None
            return json.loads(json.dumps({"devices": self.devices, "rejected": self.rejected}))


FLEET = Fleet()


def post_to_connection(cid: str, body: bytes) -> int:
    """POST {admin}/@connections/{id}; returns the HTTP status (0 when Petrel is unreachable)."""
    url = f"{ADMIN_URL}/@connections/{urllib.parse.quote(cid, safe='')}"
    req = urllib.request.Request(url, data=body, method="POST")
    if TOKEN:
        req.add_header("Authorization", f"Bearer {TOKEN}")
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError as e:
        log("post failed", connectionId=cid, error=str(e))
        return 0


def on_connect(cid: str, ctx: dict) -> dict:
    identity = ctx.get("identity") or {}
    cert = identity.get("clientCert")
    if not isinstance(cert, dict) or not cert.get("subjectDN"):
        FLEET.reject(cid, "no client certificate in requestContext.identity.clientCert", None)
        log("connect refused", connectionId=cid, reason="no client certificate (is client_ca set on the listener?)")
        return {"statusCode": 403}
    subject = cert["subjectDN"]
    cns = [v for k, v in dn_attributes(subject) if k == "CN"]
    device = cns[0] if len(cns) == 1 else ""
    if not DEVICE_ID.match(device):
        FLEET.reject(cid, "certificate CN is not a device id", subject)
        log("connect refused", connectionId=cid, subjectDN=subject, reason="bad CN")
        return {"statusCode": 403}
    if ALLOWED and device not in ALLOWED:
        FLEET.reject(cid, "unknown device", subject)
        log("connect refused", connectionId=cid, device=device, reason="unknown device")
        return {"statusCode": 403}
    old = FLEET.connect(cid, device, cert, identity.get("sourceIp", ""))
    log("device connected", device=device, connectionId=cid, serialNumber=cert.get("serialNumber"),
        replaced=old)
    return {"statusCode": 200}


def on_telemetry(cid: str, event: dict) -> dict:
    body = event.get("body") or ""
    try:
        if not event.get("isBase64Encoded"):
            raise ValueError("telemetry must be a binary frame")
        reading = decode_record(base64.b64decode(body, validate=True))
    except (ValueError, binascii.Error, struct.error) as e:
        device = FLEET.telemetry(cid, None)
        log("bad telemetry", device=device, connectionId=cid, error=str(e))
        return {"statusCode": 200}
    device = FLEET.telemetry(cid, reading)
    if device is None:  # e.g. this backend restarted and lost its memory: the device reconnects later
        log("telemetry from an unknown connection", connectionId=cid)
    elif os.environ.get("IOT_DEBUG"):
        log("telemetry", device=device, **reading)
    return {"statusCode": 200}


def on_ack(cid: str, event: dict) -> dict:
    device = FLEET.device_of(cid)
    try:
        cmd_id = str(json.loads(event.get("body") or "{}").get("id", ""))
    except (ValueError, AttributeError):
        cmd_id = ""
    known = device is not None and FLEET.command_status(device, cmd_id, "acked")
    log("command acked" if known else "unknown ack", device=device, id=cmd_id)
    return {"statusCode": 200}


def handle_event(event: dict) -> dict:
    ctx = event.get("requestContext") or {}
    cid = ctx.get("connectionId", "")
    route = ctx.get("routeKey", "")
    if route == "$connect":
        return on_connect(cid, ctx)
    if route == "$disconnect":
        code, reason = ctx.get("disconnectStatusCode"), ctx.get("disconnectReason") or ""
        device = FLEET.disconnect(cid, code, reason)
        log("device disconnected", device=device, connectionId=cid, code=code, reason=reason)
        return {"statusCode": 200}
    if route == "ack":
        return on_ack(cid, event)
    return on_telemetry(cid, event)


def send_command(device: str, command: dict) -> tuple[int, dict]:
    entry, cid = FLEET.new_command(device, command)
    if entry is None:
        return 404, {"message": f"device {device} is not connected"}
    status = post_to_connection(cid, json.dumps({"type": "command", "id": entry["id"], "command": command}).encode())
    if status == 200:
        FLEET.command_status(device, entry["id"], "sent")
        log("command sent", device=device, id=entry["id"], connectionId=cid)
        return 202, {"id": entry["id"], "connectionId": cid}
    FLEET.command_status(device, entry["id"], "failed")
    log("command refused", device=device, id=entry["id"], status=status)
    if status == 410:  # GoneException: the connection ended; its $disconnect is on its way
        FLEET.forget_connection(device, cid)
        return 404, {"message": f"device {device} is not connected", "id": entry["id"]}
    return 502, {"message": f"petrel answered {status}", "id": entry["id"]}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "petrel-iot-backend/1"

    def log_message(self, *args):
        pass

    def _send(self, status: int, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        n = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(n) if n else b""
        path = urllib.parse.urlsplit(self.path).path
        try:
            payload = json.loads(raw or b"{}")
        except ValueError:
            return self._send(400, {"message": "expected a JSON body"})
        if path == "/events":
            try:
                answer = handle_event(payload)
            except Exception as e:  # never leave Petrel without an answer
                log("handler error", error=repr(e))
                answer = {"statusCode": 500}
            return self._send(200, answer)
        m = re.fullmatch(r"/devices/([^/]+)/commands", path)
        if m:
            if not isinstance(payload, dict):
                return self._send(400, {"message": "the command must be a JSON object"})
            status, answer = send_command(urllib.parse.unquote(m.group(1)), payload)
            return self._send(status, answer)
        self._send(404, {"message": "not found"})

    def do_GET(self):
        path = urllib.parse.urlsplit(self.path).path
        if path == "/healthz":
            return self._send(200, {"status": "ok"})
        if path == "/devices":
            return self._send(200, FLEET.snapshot())
        m = re.fullmatch(r"/devices/([^/]+)", path)
        if m:
            d = FLEET.snapshot(urllib.parse.unquote(m.group(1)))
            return self._send(200, d) if d else self._send(404, {"message": "unknown device"})
        self._send(404, {"message": "not found"})


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main() -> int:
    host, _, port = os.environ.get("IOT_LISTEN", "127.0.0.1:3001").rpartition(":")
    server = Server((host or "127.0.0.1", int(port)), Handler)
    log("iot backend ready", address=f"{server.server_address[0]}:{server.server_address[1]}",
        admin=ADMIN_URL, allowed=sorted(ALLOWED) or "any")

    def stop(signum, frame):
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
