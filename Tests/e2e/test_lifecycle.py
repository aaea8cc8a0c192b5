"""Process lifecycle: drain on SIGTERM, SIGHUP reload, CLI exit codes."""
from __future__ import annotations

import contextlib
import json
import signal
import socket
import subprocess
import time

import pytest

from petrel_harness import PetrelServer, recv_close, ws_config, ws_connect

pytestmark = pytest.mark.timeout(40)

RELOAD_V1 = ws_config(route_selection="$request.body.action")
RELOAD_V2 = ws_config(
    route_selection="$request.body.action",
    routes="$default: {integration: echo}, fresh: {integration: fresh, respond: true}",
    integrations="echo: {type: mock, mode: echo}, "
                 "fresh: {type: mock, status: 200, body: '{\"fresh\":true}'}")


def run(args, timeout=15):
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


# -- drain -----------------------------------------------------------------------------

def test_sigterm_closes_every_client_with_1001(default_server):
    with contextlib.ExitStack() as stack:
        clients = [stack.enter_context(ws_connect(default_server.url)) for _ in range(3)]
        for i, c in enumerate(clients):
            c.send(f"hi {i}")
            assert c.recv(timeout=5) == f"hi {i}"
        default_server.settle()
        default_server.signal(signal.SIGTERM)
        results = [recv_close(c, timeout=10) for c in clients]
    assert [code for code, _ in results] == [1001, 1001, 1001], results
    assert all(reason == "Going away" for _, reason in results), results


def test_sigterm_exits_0_with_open_clients(default_server):
    with contextlib.ExitStack() as stack:
        for _ in range(3):
            stack.enter_context(ws_connect(default_server.url))
        default_server.settle()
        default_server.signal(signal.SIGTERM)
        rc = default_server.wait_exit(15)
    default_server.expected_exit = 0
    assert rc == 0, f"exit code {rc}\n{default_server.describe()}"


def test_sigterm_right_after_ready_exits_0(petrel_bin):
    """A SIGTERM that arrives as soon as both `listener ready` lines are printed must still
    drain and exit 0 (signal handlers must be installed before readiness is announced;
    orchestrators and scripts act on the ready line at once)."""
    results = []
    for _ in range(5):
        srv = PetrelServer(petrel_bin, threads=2).wait_ready()
        srv.signal(signal.SIGTERM)
        results.append(srv.wait_exit(15))
        srv.kill()
    assert results == [0] * 5, f"exit codes {results} (negative = killed by the signal itself)"


def test_sighup_right_after_ready_does_not_kill(petrel_server, tmp_path):
    srv = petrel_server(RELOAD_V1)
    # petrel_server already waited for readiness; SIGHUP at once
    srv.signal(signal.SIGHUP)
    time.sleep(0.5)
    rc = srv.proc.poll()
    if rc is not None:
        srv.expected_exit = rc  # reported here, not again by the fixture
    assert rc is None, f"petrel died on an early SIGHUP (exit {rc}: killed by signal {-rc})"


# -- reload ----------------------------------------------------------------------------

def _try_fresh(url: str) -> str | None:
    with ws_connect(url) as ws:
        ws.send('{"action":"fresh"}')
        return ws.recv(timeout=5)


def test_sighup_reload_adds_route(petrel_server):
    srv = petrel_server(RELOAD_V1)
    assert _try_fresh(srv.url) == '{"action":"fresh"}'  # echoed by $default before reload
    with open(srv.config_path, "w") as f:
        f.write(RELOAD_V2)
    srv.settle()
    srv.signal(signal.SIGHUP)
    deadline = time.monotonic() + 5
    got = None
    while time.monotonic() < deadline:
        got = _try_fresh(srv.url)
        if got != '{"action":"fresh"}':
            break
        time.sleep(0.2)
    assert got is not None and json.loads(got) == {"fresh": True}, f"after reload got {got!r}"


def test_sighup_broken_file_logs_error(petrel_server):
    srv = petrel_server(RELOAD_V1)
    mark = len(srv.logs)
    with open(srv.config_path, "w") as f:
        f.write("websocket: [this is: not valid\n  routes: {{{\n")
    srv.settle()
    srv.signal(signal.SIGHUP)
    line = srv.wait_log(lambda o: o.get("level") == "error", timeout=5, start=mark)
    assert line is not None, f"no error log line after a bad reload\n{srv.describe()}"


def test_sighup_broken_file_keeps_old_config(petrel_server):
    srv = petrel_server(RELOAD_V1)
    with ws_connect(srv.url) as old:
        with open(srv.config_path, "w") as f:
            f.write("websocket:\n  routes: {$default: {integration: missing}}\n  bogus_key: 1\n")
        srv.settle()
        srv.signal(signal.SIGHUP)
        time.sleep(1.0)
        assert srv.proc.poll() is None, "petrel died on a bad reload"
        old.send("old conn")
        assert old.recv(timeout=5) == "old conn"
        with ws_connect(srv.url) as new:
            new.send("new conn")
            assert new.recv(timeout=5) == "new conn"


def test_sighup_reload_keeps_existing_connections(petrel_server):
    srv = petrel_server(RELOAD_V1)
    with ws_connect(srv.url) as ws:
        with open(srv.config_path, "w") as f:
            f.write(RELOAD_V2)
        srv.settle()
        srv.signal(signal.SIGHUP)
        time.sleep(1.0)
        ws.send("still echoing")
        assert ws.recv(timeout=5) == "still echoing"


# -- CLI -------------------------------------------------------------------------------

def test_check_config_valid_exits_0(petrel_bin, tmp_path):
    p = tmp_path / "ok.yaml"
    p.write_text(RELOAD_V2)
    r = run([petrel_bin, "check-config", str(p)])
    assert r.returncode == 0, r.stdout + r.stderr


def test_check_config_unknown_key_exits_1_naming_path(petrel_bin, tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text(ws_config(limits="idle_timeout: 1s, bogus_limit: 3"))
    r = run([petrel_bin, "check-config", str(p)])
    assert r.returncode == 1, r.stdout + r.stderr
    out = r.stdout + r.stderr
    assert "websocket.limits.bogus_limit" in out, out


def test_check_config_reports_every_problem(petrel_bin, tmp_path):
    p = tmp_path / "bad2.yaml"
    p.write_text(ws_config(limits="idle_timeout: notaduration, max_frame_bytes: -5",
                           extra="unknown_top: 1\n"))
    r = run([petrel_bin, "check-config", str(p)])
    assert r.returncode == 1
    lines = [ln for ln in (r.stdout + r.stderr).splitlines() if ln.strip()]
    for key in ("websocket.limits.idle_timeout", "websocket.limits.max_frame_bytes", "unknown_top"):
        assert any(key in ln for ln in lines), f"{key} not reported:\n" + "\n".join(lines)
    assert len(lines) >= 3


def test_check_config_route_to_missing_integration(petrel_bin, tmp_path):
    p = tmp_path / "bad3.yaml"
    p.write_text(ws_config(routes="$default: {integration: nowhere}"))
    r = run([petrel_bin, "check-config", str(p)])
    assert r.returncode == 1
    assert "websocket.routes" in r.stdout + r.stderr, r.stdout + r.stderr


def test_bad_flag_exits_2_with_one_line(petrel_bin):
    r = run([petrel_bin, "serve", "--bogus"])
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    err = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(err) == 1, f"expected one line on stderr, got:\n{r.stderr}"
    assert "bogus" in err[0]
    for marker in ("Traceback", "Fatal error", "Stack dump", "backtrace", "0x0000"):
        assert marker not in r.stderr


def test_serve_with_invalid_config_exits_2_naming_key(petrel_bin, tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text(ws_config(limits="bogus_limit: 3"))
    r = run([petrel_bin, "serve", "--config", str(p), "--listen", "127.0.0.1:0",
             "--admin", "127.0.0.1:0"])
    assert r.returncode == 2, (r.returncode, r.stdout[-500:], r.stderr[-500:])
    assert "bogus_limit" in r.stdout + r.stderr
    assert "Fatal error" not in r.stderr and "Stack dump" not in r.stderr


def test_serve_refuses_port_in_use(petrel_bin):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        port = s.getsockname()[1]
        try:
            r = run([petrel_bin, "serve", "--listen", f"127.0.0.1:{port}", "--admin", "127.0.0.1:0"],
                    timeout=10)
        except subprocess.TimeoutExpired:
            pytest.fail("petrel started (kept running) on a port that already answers")
    assert r.returncode != 0


def test_version_prints_version(petrel_bin):
    r = run([petrel_bin, "version"])
    assert r.returncode == 0
    assert any(ch.isdigit() for ch in r.stdout), r.stdout


def test_check_config_loads_the_tls_files(petrel_bin, tmp_path):
    """check-config loads certificates as serve would: present but broken is an error, absent
    (a config checked away from its host) a warning."""
    from tls_pki import make_pki, openssl_available
    if not openssl_available():
        pytest.skip("openssl CLI not installed")
    pki = make_pki(tmp_path / "pki")

    def check(cert, key) -> subprocess.CompletedProcess:
        p = tmp_path / "tls.yaml"
        p.write_text(f"listeners:\n  public:\n    tls: {{certificate: {cert}, private_key: {key}}}\n")
        return run([petrel_bin, "check-config", str(p)])

    ok = check(pki.server_cert, pki.server_key)
    assert ok.returncode == 0 and "warning" not in ok.stdout, ok.stdout + ok.stderr
    mismatch = check(pki.server_cert, pki.other_key)
    assert mismatch.returncode == 1 and "listeners.public.tls" in mismatch.stdout, mismatch.stdout
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    broken = check(garbage, pki.server_key)
    assert broken.returncode == 1 and "listeners.public.tls" in broken.stdout, broken.stdout
    absent = check(tmp_path / "nowhere.pem", pki.server_key)
    assert absent.returncode == 0, absent.stdout + absent.stderr
    assert "warning: listeners.public.tls.certificate" in absent.stdout and "does not exist" in absent.stdout
