"""Fixtures for the end-to-end tests of `petrel-loadtest` (DESIGN §10).

- `loadtest_bin`: LOADTEST_BIN, else `$(swift build -c release --show-bin-path)/petrel-loadtest`.
- `petrel_server(config_yaml=None, threads=1)`: a Petrel started by the test (Tests/e2e harness).
- `run_loadtest(*args, json=True)`: runs the tool with a time limit, returns (exit code, parsed
  JSON report or None, stdout, stderr).
- `fake_server(mode)`: a deliberately broken (or correct) WebSocket server in Python, see
  fake_servers.py.
Every socket is on 127.0.0.1.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "e2e"))
sys.path.insert(0, str(HERE))

from petrel_harness import REPO, PetrelServer, petrel_binary  # noqa: E402
from fake_servers import FakeServer  # noqa: E402

RUN_TIMEOUT = 60


def loadtest_binary() -> str | None:
    env = os.environ.get("LOADTEST_BIN")
    if env:
        return env
    petrel = petrel_binary()
    if petrel:
        return os.path.join(os.path.dirname(petrel), "petrel-loadtest")
    return None


@pytest.fixture(scope="session")
def loadtest_bin() -> str:
    b = loadtest_binary()
    if not b or not os.path.exists(b):
        pytest.fail(f"petrel-loadtest not found at {b!r} (set LOADTEST_BIN or build release)")
    return b


@pytest.fixture(scope="session")
def petrel_bin() -> str:
    b = petrel_binary()
    if not b or not os.path.exists(b):
        pytest.fail(f"petrel binary not found at {b!r} (set PETREL_BIN or build release)")
    return b


@pytest.fixture
def petrel_server(petrel_bin, tmp_path):
    started: list[PetrelServer] = []

    def _start(config_yaml: str | None = None, threads: int = 1) -> PetrelServer:
        cfg = None
        if config_yaml is not None:
            cfg = tmp_path / f"petrel-{len(started)}.yaml"
            cfg.write_text(textwrap.dedent(config_yaml))
        srv = PetrelServer(petrel_bin, config_path=str(cfg) if cfg else None, threads=threads, cwd=str(tmp_path))
        started.append(srv)
        srv.wait_ready()
        return srv

    yield _start
    for srv in started:
        srv.stop()


@pytest.fixture
def run_loadtest(loadtest_bin, tmp_path):
    counter = [0]

    def _run(*args: str, json_report: bool = True, timeout: float = RUN_TIMEOUT, preexec_fn=None):
        counter[0] += 1
        out = tmp_path / f"report-{counter[0]}.json"
        argv = [loadtest_bin, *args, "--progress", "plain"]
        if json_report:
            argv += ["--json", str(out)]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, preexec_fn=preexec_fn)
        report = None
        if json_report and out.exists():
            report = json.loads(out.read_text())
        return proc.returncode, report, proc.stdout, proc.stderr

    return _run


@pytest.fixture
def fake_server():
    servers: list[FakeServer] = []

    def _start(mode: str, **kw) -> FakeServer:
        srv = FakeServer(mode, **kw)
        servers.append(srv)
        return srv

    yield _start
    for s in servers:
        s.close()


TOP_LEVEL = ["scenario", "params", "totals", "latency_us", "throughput_per_s", "series"]


def check_shape(report: dict):
    """DESIGN §10: the top level is fixed, with these nested keys."""
    assert list(report.keys()) == TOP_LEVEL
    for k in ("messages", "errors", "errors_by_kind"):
        assert k in report["totals"], k
    assert set(report["latency_us"].keys()) == {"p50", "p90", "p99", "p999", "max"}
    assert isinstance(report["series"], list) and report["series"]
    assert report["totals"]["errors"] == sum(report["totals"]["errors_by_kind"].values())
