"""Many concurrent clients (asyncio `websockets` client)."""
from __future__ import annotations

import asyncio
import os
import time

import pytest
from websockets.asyncio.client import connect

pytestmark = pytest.mark.timeout(60)


def _connect(url):
    return connect(url, open_timeout=10, close_timeout=5, max_size=None, ping_interval=None,
                   compression=None)


async def _client(url: str, idx: int, n_msgs: int, gate: asyncio.Semaphore, binary_every: int = 0):
    async with gate:  # bounded handshake concurrency (a connect storm is loadtest's job)
        ws = await _connect(url)
    try:
        for j in range(n_msgs):
            if binary_every and j % binary_every == 0:
                msg = idx.to_bytes(4, "big") + j.to_bytes(4, "big") + os.urandom(8)
            else:
                msg = f"client {idx} message {j} " + "x" * (j * 7 % 200)
            await ws.send(msg)
            got = await asyncio.wait_for(ws.recv(), 10)
            if got != msg:
                return f"client {idx} msg {j}: got {got!r:.80} want {msg!r:.80}"
        return None
    finally:
        await ws.close()


async def _run(url: str, clients: int, n_msgs: int, gate_size: int, binary_every: int = 0):
    gate = asyncio.Semaphore(gate_size)
    res = await asyncio.gather(*[_client(url, i, n_msgs, gate, binary_every) for i in range(clients)],
                               return_exceptions=True)
    return [r for r in res if r is not None]


def test_threads_2_with_50_concurrent_clients(petrel_server):
    srv = petrel_server(None, threads=2)
    errors = asyncio.run(asyncio.wait_for(_run(srv.url, 50, 20, 50, binary_every=3), 30))
    assert not errors, errors[:5]


def test_500_clients_20_messages_each_bounded(petrel_server):
    srv = petrel_server(None, threads=2)
    t0 = time.monotonic()
    errors = asyncio.run(asyncio.wait_for(_run(srv.url, 500, 20, 100), 45))
    elapsed = time.monotonic() - t0
    assert not errors, f"{len(errors)} failed clients, e.g. {errors[:3]}"
    assert elapsed < 15, f"500x20 echo took {elapsed:.1f}s"


def test_all_clients_connected_simultaneously(petrel_server):
    """200 connections open at once; each then echoes; ids of work never cross connections."""
    srv = petrel_server(None, threads=2)

    async def main():
        conns = []
        try:
            for i in range(0, 200, 50):
                conns += await asyncio.gather(*[_connect(srv.url) for _ in range(50)])
            await asyncio.gather(*[c.send(f"conn-{i}") for i, c in enumerate(conns)])
            got = await asyncio.gather(*[asyncio.wait_for(c.recv(), 10) for c in conns])
            return [g for i, g in enumerate(got) if g != f"conn-{i}"]
        finally:
            await asyncio.gather(*[c.close() for c in conns], return_exceptions=True)

    bad = asyncio.run(asyncio.wait_for(main(), 40))
    assert not bad, bad[:5]
