"""wss:// through the client's TLS (OpenSSL over memory BIOs) against a Python TLS echo server
with a self-signed certificate."""
from __future__ import annotations

import shutil
import ssl
import subprocess

import pytest


@pytest.fixture
def tls_context(tmp_path):
    if not shutil.which("openssl"):
        pytest.skip("openssl CLI not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True, timeout=60)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert), str(key))
    return ctx


def test_wss_echo_with_insecure(fake_server, run_loadtest, tls_context):
    srv = fake_server("ok", tls_context=tls_context)
    rc, report, _, err = run_loadtest("echo", "-c", "4", "-k", "4", "--size", "3000", "-d", "1s", "--insecure", srv.url)
    assert rc == 0, err
    assert report["params"]["insecure"] is True
    assert report["totals"]["errors"] == 0, report["totals"]["errors_by_kind"]
    assert report["totals"]["messages"] > 50


def test_wss_self_signed_is_refused_without_insecure(fake_server, run_loadtest, tls_context):
    srv = fake_server("ok", tls_context=tls_context)
    rc, report, _, _ = run_loadtest("connect", "-c", "2", "-d", "1s", srv.url)
    kinds = report["totals"]["errors_by_kind"]
    assert set(kinds) == {"tls_verify_failed"}, kinds
    assert report["totals"]["messages"] == 0
