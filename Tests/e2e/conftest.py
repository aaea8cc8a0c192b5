"""Shared fixtures for Petrel's black-box end-to-end tests.

- `petrel_bin`: the binary (PETREL_BIN, else `$(swift build -c release --show-bin-path)/petrel`).
  Missing binary: every test that needs it is skipped with the path it looked for.
- `petrel_server(config_yaml=None, threads=2, extra_args=[])`: factory that writes the config to
  tmp_path, starts `petrel serve --listen 127.0.0.1:0 --admin 127.0.0.1:0`, waits (≤15 s) for
  both `listener ready` lines and returns a PetrelServer (public_port, admin_port, url, logs,
  lines, config_path, signal(), stop()). Teardown sends SIGTERM and asserts exit code 0.
- raw helpers re-exported from petrel_harness: tcp_connect, HttpReader, http_request,
  ws_upgrade_request; and RawWebSocket / build_frame from the conformance client.
"""
from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "conformance"))

from petrel_harness import (HttpReader, HttpResponse, PetrelServer, http_request,  # noqa: E402,F401
                            petrel_binary, recv_close, tcp_connect, ws_config,
                            ws_connect, ws_upgrade_request)
from wsraw import RawWebSocket, build_frame  # noqa: E402,F401



@pytest.fixture(scope="session")
def petrel_bin() -> str:
    b = petrel_binary()
    if not b or not os.path.exists(b):
        pytest.skip(f"petrel binary not found at {b!r} (set PETREL_BIN or build release)")
    return b


@pytest.fixture
def petrel_server(petrel_bin, tmp_path):
    started: list[PetrelServer] = []
    counter = [0]

    def _start(config_yaml: str | None = None, threads: int | None = 2,
               extra_args: list[str] | None = None) -> PetrelServer:
        cfg = None
        if config_yaml is not None:
            counter[0] += 1
            cfg = tmp_path / f"petrel-{counter[0]}.yaml"
            cfg.write_text(textwrap.dedent(config_yaml))
        srv = PetrelServer(petrel_bin, config_path=str(cfg) if cfg else None, threads=threads,
                           extra_args=extra_args, cwd=str(tmp_path))
        started.append(srv)
        srv.wait_ready()
        return srv

    yield _start

    problems = []
    for srv in started:
        already = srv.proc.poll()
        rc = srv.stop()
        if getattr(srv, "expected_exit", None) is not None:
            continue  # the test itself checked how this process ended
        if already is not None and already != 0:
            problems.append(f"petrel exited on its own with {already}\n{srv.describe()}")
        elif rc != 0:
            problems.append(f"petrel exit code on SIGTERM was {rc} (None = had to be killed)\n"
                            f"{srv.describe()}")
    assert not problems, "\n".join(problems)


@pytest.fixture
def default_server(petrel_server):
    """The embedded default (no --config)."""
    return petrel_server(None)
