"""Fixtures for the RFC 6455 conformance suite.

Target: the embedded default of `petrel serve` (WebSocket at `/`, `$default` echoes), started
once per session; or an external echo server named by CONFORMANCE_TARGET=ws://127.0.0.1:PORT/
(used to validate this client against Node's `ws` before Petrel existed). Cases that test
Petrel's own limits or contract beyond RFC 6455 carry `@pytest.mark.petrel_only` and are skipped
against an external target (set CONFORMANCE_STRICT=1 to run them anyway).
"""
from __future__ import annotations

import os
import sys
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "e2e"))

from petrel_harness import PetrelServer, petrel_binary  # noqa: E402
from wsraw import RawWebSocket  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line("markers", "petrel_only: expectation specific to Petrel (limits, "
                                       "fail-fast, contract beyond RFC 6455); skipped for "
                                       "CONFORMANCE_TARGET")


@dataclass
class Target:
    host: str
    port: int
    path: str
    external: bool
    server: PetrelServer | None = None


def _start_petrel() -> PetrelServer:
    binary = petrel_binary()
    if not binary or not os.path.exists(binary):
        pytest.skip(f"petrel binary not found ({binary}); set PETREL_BIN or CONFORMANCE_TARGET")
    return PetrelServer(binary, config_path=None, threads=2).wait_ready()


@pytest.fixture(scope="session")
def target():
    env = os.environ.get("CONFORMANCE_TARGET")
    if env:
        u = urllib.parse.urlparse(env)
        assert u.scheme == "ws" and u.hostname in ("127.0.0.1", "::1", "localhost"), \
            "CONFORMANCE_TARGET must be ws:// on loopback"
        yield Target(u.hostname, u.port or 80, u.path or "/", True)
        return
    t = Target("127.0.0.1", 0, "/", False, _start_petrel())
    t.port = t.server.public_port
    yield t
    rc = t.server.stop()
    assert rc == 0, f"petrel exited with {rc} on SIGTERM\n{t.server.describe()}"


@pytest.fixture(autouse=True)
def _petrel_alive(request, target):
    if (target.external and request.node.get_closest_marker("petrel_only")
            and not os.environ.get("CONFORMANCE_STRICT")):
        pytest.skip("Petrel-specific expectation; not applicable to CONFORMANCE_TARGET")
    yield
    srv = target.server
    if srv is not None and srv.proc.poll() is not None:
        rc = srv.proc.returncode
        desc = srv.describe()
        target.server = _start_petrel()  # keep the remaining cases independent
        target.port = target.server.public_port
        pytest.fail(f"petrel died during this case (exit {rc})\n{desc}")


@pytest.fixture
def connect(target):
    """Factory: open a RawWebSocket to the target; teardown asserts no server frame was masked."""
    opened: list[RawWebSocket] = []

    def _connect(timeout: float = 3.0, **kw) -> RawWebSocket:
        ws = RawWebSocket(target.host, target.port, target.path, timeout=timeout, **kw)
        opened.append(ws)
        return ws

    yield _connect
    masked = [f for ws in opened for f in ws.masked_frames]
    for ws in opened:
        ws.close()
    assert not masked, f"server sent masked frames (RFC 6455 §5.1 forbids): {masked[:3]}"


@pytest.fixture
def ws(connect):
    return connect()
