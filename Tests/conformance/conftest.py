"""Fixtures for the RFC 6455 conformance suite.

Target: the embedded default of `petrel serve` (WebSocket at `/`, `$default` echoes), started
once per session; or an external echo server named by CONFORMANCE_TARGET=ws://127.0.0.1:PORT/
(used to validate this client against Node's `ws` before Petrel existed). Cases that test
Petrel's own limits or contract beyond RFC 6455 carry `@pytest.mark.petrel_only` and are skipped
against an external target (set CONFORMANCE_STRICT=1 to run them anyway).

CONFORMANCE_TLS=1 runs every case over wss://: Petrel is started with the embedded default's
routes plus `listeners.public.tls` (a throwaway CA and certificate from the `openssl` CLI), and the
raw client wraps its socket in TLS; the frames are byte-for-byte the same.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
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
    ssl_context: object = None  # ssl.SSLContext when CONFORMANCE_TLS=1


_TLS: dict = {}  # CONFORMANCE_TLS=1: {"dir", "config", "context"}, made once per session

# The embedded default (Sources/PetrelConfig/EmbeddedDefault.swift) plus TLS on the public listener.
_TLS_CONFIG = """\
listeners:
  public: {{address: 127.0.0.1:0, tls: {{certificate: {cert}, private_key: {key}}}}}
websocket:
  path: /
  route_selection: $request.body.action
  routes:
    $default: {{integration: echo, respond: true}}
http:
  routes:
    "GET /health": {{integration: health}}
integrations:
  echo: {{type: mock, mode: echo}}
  health: {{type: mock, status: 200, body: '{{"status":"ok"}}', headers: {{content-type: application/json}}}}
"""


def _tls_setup() -> dict:
    if not _TLS:
        from tls_pki import make_pki  # noqa: E402 (Tests/e2e)
        d = tempfile.mkdtemp(prefix="petrel-conformance-tls-")
        pki = make_pki(Path(d) / "pki")
        config = Path(d) / "petrel-tls.yaml"
        config.write_text(_TLS_CONFIG.format(cert=pki.server_cert, key=pki.server_key))
        _TLS.update(dir=d, config=str(config), context=pki.client_context())
    return _TLS


def _start_petrel() -> PetrelServer:
    binary = petrel_binary()
    if not binary or not os.path.exists(binary):
        pytest.skip(f"petrel binary not found ({binary}); set PETREL_BIN or CONFORMANCE_TARGET")
    if os.environ.get("CONFORMANCE_TLS"):
        tls = _tls_setup()
        return PetrelServer(binary, config_path=tls["config"], threads=2, cwd=tls["dir"]).wait_ready()
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
    if os.environ.get("CONFORMANCE_TLS"):
        t.ssl_context = _TLS["context"]
    yield t
    rc = t.server.stop()
    if _TLS:
        shutil.rmtree(_TLS["dir"], ignore_errors=True)
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
        if target.ssl_context is not None:
            kw.setdefault("ssl_context", target.ssl_context)
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
