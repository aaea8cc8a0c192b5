#!/usr/bin/env python3
"""A simulated device for the Petrel IoT example: wss:// with a client certificate (mTLS).

It connects, sends COUNT binary telemetry records (16 bytes, the layout in backend.py:
">BIQhB" = version 1, sequence, timestamp ms, temperature in 0.01 °C, battery %), then stays
connected for LINGER seconds; every command the backend pushes (a text message
{"type":"command","id":…,"command":{…}}) is printed and acknowledged with
{"action":"ack","id":…} (Petrel's `ack` route). SIGINT/SIGTERM closes with 1000.

The device never says who it is: its identity is the certificate it presents.
Output: one JSON line per event on stdout (connected, telemetry, command, closed).

  python3 examples/iot/device.py --device dev-a --count 5
  python3 examples/iot/device.py --cert certs/devices/dev-b.pem --key certs/devices/dev-b.key \\
      --ca certs/ca.pem --url wss://127.0.0.1:8443/ --temperature -3.5 --battery 40

Needs the `websockets` package (pip install websockets).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import signal
import ssl
import struct
import sys
import time
from pathlib import Path

try:
    from websockets.asyncio.client import connect
except ImportError:  # websockets < 13
    from websockets import connect  # type: ignore[no-redef]
from websockets.exceptions import ConnectionClosed

HERE = Path(__file__).resolve().parent
RECORD = struct.Struct(">BIQhB")


def emit(event: str, **fields):
    print(json.dumps({"event": event, **fields}), flush=True)


def record(seq: int, ts_ms: int, temperature_c: float, battery: int) -> bytes:
    return RECORD.pack(1, seq, ts_ms, round(temperature_c * 100), battery)


async def run(args) -> int:
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=args.ca)
    ctx.load_cert_chain(args.cert, args.key)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    async with connect(args.url, ssl=ctx, open_timeout=10, max_size=64 * 1024,
                       ping_interval=args.ping_interval or None) as ws:
        emit("connected", url=args.url)

        async def receive():
            async for message in ws:
                try:
                    msg = json.loads(message)
                except (ValueError, TypeError):
                    emit("message", data=repr(message))
                    continue
                if isinstance(msg, dict) and msg.get("type") == "command":
                    emit("command", id=msg.get("id"), command=msg.get("command"))
                    await ws.send(json.dumps({"action": "ack", "id": msg.get("id")}))
                else:
                    emit("message", data=msg)

        receiver = asyncio.create_task(receive())
        stopped = asyncio.create_task(stop.wait())
        try:
            for seq in range(1, args.count + 1):
                ts_ms = int(time.time() * 1000)
                temperature = args.temperature + args.drift * (seq - 1)
                await ws.send(record(seq, ts_ms, temperature, args.battery))
                emit("telemetry", seq=seq, timestampMs=ts_ms, temperatureC=round(temperature, 2),
                     batteryPct=args.battery)
                if seq < args.count:
                    await asyncio.wait([receiver, stopped], timeout=args.interval,
                                       return_when=asyncio.FIRST_COMPLETED)
                if stop.is_set() or receiver.done():
                    break
            if not stop.is_set() and not receiver.done():
                await asyncio.wait([receiver, stopped], timeout=args.linger,
                                   return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
            if not receiver.done():
                await ws.close(1000, "device going offline")
            try:
                await receiver
            except ConnectionClosed:
                pass
        emit("closed", code=ws.close_code, reason=ws.close_reason)
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="dev-a", help="pick certs/devices/DEVICE.pem/.key (default dev-a)")
    p.add_argument("--certs", default=str(HERE / "certs"), help="the make-certs.sh directory")
    p.add_argument("--cert", help="client certificate (default CERTS/devices/DEVICE.pem)")
    p.add_argument("--key", help="its private key (default CERTS/devices/DEVICE.key)")
    p.add_argument("--ca", help="CA that signed Petrel's certificate (default CERTS/ca.pem)")
    p.add_argument("--url", default="wss://127.0.0.1:8443/")
    p.add_argument("--count", type=int, default=5, help="telemetry records to send")
    p.add_argument("--interval", type=float, default=1.0, help="seconds between records")
    p.add_argument("--linger", type=float, default=30.0, help="seconds to stay connected afterwards")
    p.add_argument("--temperature", type=float, default=21.5, help="°C of the first record")
    p.add_argument("--drift", type=float, default=0.25, help="°C added per record")
    p.add_argument("--battery", type=int, default=87, help="battery % (0-100)")
    p.add_argument("--ping-interval", type=float, default=20.0, help="seconds, 0 = no pings")
    args = p.parse_args()
    args.cert = args.cert or f"{args.certs}/devices/{args.device}.pem"
    args.key = args.key or f"{args.certs}/devices/{args.device}.key"
    args.ca = args.ca or f"{args.certs}/ca.pem"
    try:
        return asyncio.run(run(args))
    except Exception as e:  # TLS refusal, 403, lost connection: one line, no traceback
        emit("error", error=f"{type(e).__name__}: {e}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
