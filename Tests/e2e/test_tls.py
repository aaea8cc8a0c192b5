"""TLS (wss/https) and mTLS on the public listener, with independent clients: Python's `ssl`
module and `websockets`, certificates made by the `openssl` CLI (tls_pki.py)."""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import ssl
import time

import pytest

from petrel_harness import HttpReader, tcp_connect, ws_connect
from tls_pki import fingerprint_der, fingerprint_pem, make_pki, openssl_available

pytestmark = [pytest.mark.timeout(60),
              pytest.mark.skipif(not openssl_available(), reason="openssl CLI not installed")]

ROUTES = """\
websocket:
  routes:
    $default: {integration: echo}
http:
  routes:
    "GET /health": {integration: ok}
integrations:
  echo: {type: mock, mode: echo}
  ok: {type: mock, status: 200, body: '{"ok":true}', headers: {content-type: application/json}}
"""


@pytest.fixture
def pki(tmp_path):
    return make_pki(tmp_path / "pki")


def tls_config(pki, *, client_ca: bool = False, sni: bool = False, cert=None, key=None,
               limits: str = "") -> str:
    tls = f"certificate: {cert or pki.server_cert}, private_key: {key or pki.server_key}"
    if client_ca:
        tls += f", client_ca: {pki.ca}"
    if sni:
        tls += (f", certificates: [{{server_name: other.test, certificate: {pki.other_cert}, "
                f"private_key: {pki.other_key}}}]")
    lim = f"  limits: {{{limits}}}\n" if limits else ""
    routes = ROUTES.replace("websocket:\n", f"websocket:\n{lim}")
    return f"listeners:\n  public:\n    tls: {{{tls}}}\n{routes}"


def wss_url(srv) -> str:
    return f"wss://127.0.0.1:{srv.public_port}/"


def tls_socket(port: int, ctx: ssl.SSLContext, server_hostname: str = "127.0.0.1") -> ssl.SSLSocket:
    raw = tcp_connect(port)
    return ctx.wrap_socket(raw, server_hostname=server_hostname)


def peer_fingerprint(port: int, pki, server_hostname: str = "127.0.0.1") -> str:
    ctx = pki.client_context(check_hostname=False)
    with tls_socket(port, ctx, server_hostname) as s:
        return fingerprint_der(s.getpeercert(binary_form=True))


# -- wss and https -----------------------------------------------------------------------------

@pytest.mark.parametrize("n", [0, 1, 125, 126, 65535, 65536, 131072])
def test_wss_echo_text_and_binary(petrel_server, pki, n):
    srv = petrel_server(tls_config(pki))
    with ws_connect(wss_url(srv), ssl=pki.client_context()) as ws:
        text = ("petrel-ÿ" * (n // 9 + 1)).encode()[:n].decode(errors="ignore")
        ws.send(text)
        assert ws.recv(timeout=10) == text
        blob = os.urandom(n)
        ws.send(blob)
        assert ws.recv(timeout=10) == blob


def test_wss_many_messages_in_flight(petrel_server, pki):
    """Pipelined small messages: corked plaintext is encrypted per read batch; order holds."""
    srv = petrel_server(tls_config(pki))
    with ws_connect(wss_url(srv), ssl=pki.client_context()) as ws:
        for i in range(500):
            ws.send(f"m{i}")
        for i in range(500):
            assert ws.recv(timeout=10) == f"m{i}"


def test_https_health(petrel_server, pki):
    srv = petrel_server(tls_config(pki))
    with tls_socket(srv.public_port, pki.client_context(alpn=["h2", "http/1.1"])) as s:
        assert s.selected_alpn_protocol() == "http/1.1"
        s.sendall(f"GET /health HTTP/1.1\r\nHost: 127.0.0.1:{srv.public_port}\r\n\r\n".encode())
        resp = HttpReader(s).read_response(timeout=5)
        assert resp.status == 200
        assert resp.body == b'{"ok":true}'
        # keep-alive over TLS: a second request on the same connection
        s.sendall(f"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        reader = HttpReader(s)
        assert reader.read_response(timeout=5).status == 404
        assert reader.wait_eof(3)


def test_plain_ws_on_tls_port_is_closed(petrel_server, pki):
    srv = petrel_server(tls_config(pki))
    with tcp_connect(srv.public_port) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert HttpReader(s).wait_eof(3)


# -- protocol versions and ciphers --------------------------------------------------------------

@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_tls12_and_tls13_accepted(petrel_server, pki, version):
    srv = petrel_server(tls_config(pki))
    ctx = pki.client_context()
    ctx.minimum_version = ctx.maximum_version = version
    with ws_connect(wss_url(srv), ssl=ctx) as ws:
        assert ws.socket.version() == ("TLSv1.3" if version == ssl.TLSVersion.TLSv1_3 else "TLSv1.2")
        ws.send("hi")
        assert ws.recv(timeout=5) == "hi"


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1])
def test_tls10_and_tls11_refused(petrel_server, pki, version):
    srv = petrel_server(tls_config(pki))
    ctx = pki.client_context()
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")  # let the client offer the old version at all
    ctx.minimum_version = ctx.maximum_version = version
    with pytest.raises(ssl.SSLError) as info:
        tls_socket(srv.public_port, ctx).close()
    assert "PROTOCOL_VERSION" in str(info.value).upper(), str(info.value)  # the server's alert


def test_weak_tls12_cipher_refused(petrel_server, pki):
    srv = petrel_server(tls_config(pki))
    ctx = pki.client_context()
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers("AES128-SHA:DES-CBC3-SHA:@SECLEVEL=0")  # no forward secrecy / no AEAD
    with pytest.raises(ssl.SSLError) as info:
        tls_socket(srv.public_port, ctx).close()
    assert "HANDSHAKE_FAILURE" in str(info.value).upper(), str(info.value)


# -- SNI ----------------------------------------------------------------------------------------

def test_sni_selects_certificate_and_unknown_name_gets_default(petrel_server, pki):
    srv = petrel_server(tls_config(pki, sni=True))
    default = fingerprint_pem(pki.server_cert)
    assert peer_fingerprint(srv.public_port, pki, "other.test") == fingerprint_pem(pki.other_cert)
    assert peer_fingerprint(srv.public_port, pki, "wrong.example") == default
    assert peer_fingerprint(srv.public_port, pki, "localhost") == default
    # hostname checking passes for the SNI certificate
    ctx = pki.client_context()
    with tls_socket(srv.public_port, ctx, "other.test") as s:
        assert s.getpeercert()["subject"] == ((("commonName", "other.test"),),)


# -- mTLS ---------------------------------------------------------------------------------------

def test_mtls_refuses_client_without_certificate(petrel_server, pki):
    srv = petrel_server(tls_config(pki, client_ca=True))
    # TLS 1.3: the client's handshake ends before the server checks; the refusal arrives as an
    # alert on the first read.
    # websockets reports it as an invalid (missing) HTTP response.
    with pytest.raises(Exception):
        with ws_connect(wss_url(srv), ssl=pki.client_context(cert=False)) as ws:
            ws.send("x")
            ws.recv(timeout=5)
    # The same at the socket level, for both versions.
    for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        ctx = pki.client_context()
        ctx.maximum_version = version
        with pytest.raises(ssl.SSLError) as err:
            s = tls_socket(srv.public_port, ctx)
            s.settimeout(5)
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            s.recv(100)
        assert "CERTIFICATE_REQUIRED" in str(err.value).upper() or "HANDSHAKE_FAILURE" in str(err.value).upper(), str(err.value)


def test_mtls_refuses_certificate_from_another_ca(petrel_server, pki, tmp_path):
    srv = petrel_server(tls_config(pki, client_ca=True))
    other = make_pki(tmp_path / "other-pki")
    ctx = pki.client_context()
    ctx.load_cert_chain(other.client_cert, other.client_key)
    with pytest.raises(ssl.SSLError) as err:
        s = tls_socket(srv.public_port, ctx)
        s.settimeout(5)
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        s.recv(100)
    assert "UNKNOWN_CA" in str(err.value).upper(), str(err.value)


def test_mtls_accepts_certificate_from_ca(petrel_server, pki):
    srv = petrel_server(tls_config(pki, client_ca=True))
    with ws_connect(wss_url(srv), ssl=pki.client_context(cert=True)) as ws:
        ws.send("device says hi")
        assert ws.recv(timeout=5) == "device says hi"
        big = os.urandom(131072)
        ws.send(big)
        assert ws.recv(timeout=10) == big


# -- reload on SIGHUP -----------------------------------------------------------------------------

def test_sighup_reloads_certificate_for_new_connections_only(petrel_server, pki, tmp_path):
    live_cert, live_key = tmp_path / "live.pem", tmp_path / "live.key"
    shutil.copy(pki.server_cert, live_cert)
    shutil.copy(pki.server_key, live_key)
    srv = petrel_server(tls_config(pki, cert=live_cert, key=live_key))
    old_fp, new_fp = fingerprint_pem(pki.server_cert), fingerprint_pem(pki.server2_cert)
    assert old_fp != new_fp
    with ws_connect(wss_url(srv), ssl=pki.client_context()) as ws:
        assert fingerprint_der(ws.socket.getpeercert(binary_form=True)) == old_fp
        ws.send("before")
        assert ws.recv(timeout=5) == "before"

        shutil.copy(pki.server2_cert, live_cert)
        shutil.copy(pki.server2_key, live_key)
        start = len(srv.logs)
        srv.signal(signal.SIGHUP)
        assert srv.wait_log(lambda o: o.get("msg") == "tls reloaded", timeout=5, start=start), srv.describe()
        assert peer_fingerprint(srv.public_port, pki) == new_fp

        # the connection made before the reload is untouched
        ws.send("after")
        assert ws.recv(timeout=5) == "after"
        assert fingerprint_der(ws.socket.getpeercert(binary_form=True)) == old_fp

        # a broken key: logged, and the running certificate stays
        live_key.write_text("-----BEGIN PRIVATE KEY-----\nbroken\n-----END PRIVATE KEY-----\n")
        start = len(srv.logs)
        srv.signal(signal.SIGHUP)
        line = srv.wait_log(lambda o: o.get("msg") == "tls reload rejected", timeout=5, start=start)
        assert line and "live.key" in line.get("problem", ""), srv.describe()
        assert peer_fingerprint(srv.public_port, pki) == new_fp
        ws.send("still")
        assert ws.recv(timeout=5) == "still"


def test_broken_tls_config_refuses_to_start(petrel_bin, pki, tmp_path):
    from petrel_harness import PetrelServer, PetrelStartError
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(tls_config(pki, key=pki.other_key))  # key does not match the certificate
    srv = PetrelServer(petrel_bin, config_path=str(cfg), cwd=str(tmp_path))
    with pytest.raises(PetrelStartError):
        srv.wait_ready(timeout=5)
    text = "\n".join(srv.lines + srv.stderr_lines)
    assert "listeners.public.tls" in text, text


# -- handshake deadline ---------------------------------------------------------------------------

def test_tls_handshake_never_completed_is_closed_after_handshake_timeout(petrel_server, pki):
    srv = petrel_server(tls_config(pki, limits="handshake_timeout: 1s"))
    silent = tcp_connect(srv.public_port)
    partial = tcp_connect(srv.public_port)
    # the first bytes of a ClientHello record, then nothing
    partial.sendall(bytes([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00]))
    t0 = time.monotonic()
    for s in (silent, partial):
        assert HttpReader(s).wait_eof(timeout=5), "connection still open after the handshake timeout"
    elapsed = time.monotonic() - t0
    assert 0.8 <= elapsed <= 3.0, elapsed
    # TLS done but no HTTP request: the same deadline
    done = tls_socket(srv.public_port, pki.client_context())
    done.settimeout(5)
    t0 = time.monotonic()
    assert done.recv(10) == b""
    assert 0.8 <= time.monotonic() - t0 <= 3.0
    for s in (silent, partial, done):
        s.close()


# -- the verified certificate reaches integrations -------------------------------------------------

@contextlib.contextmanager
def backend_config(pki, route: tuple[str, str], *, client_ca: bool, name: str = "backend"):
    """A recording backend, and the TLS config with `route` (old line, new lines) pointing at it."""
    from backend import RecordingBackend
    be = RecordingBackend()
    try:
        yaml = tls_config(pki, client_ca=client_ca).replace(*route)
        yield be, yaml + f"  {name}: {{type: http, url: 'http://127.0.0.1:{be.port}/{name}'}}\n"
    finally:
        be.close()


def test_mtls_certificate_reaches_the_connect_event(petrel_server, pki):
    """API Gateway's shape: requestContext.identity.clientCert with the PEM, subject and issuer DNs,
    serial and validity, on every event of the connection."""
    route = ("    $default: {integration: echo}\n", "    $connect: {integration: backend}\n    $default: {integration: backend}\n")
    with backend_config(pki, route, client_ca=True) as (be, yaml):
        srv = petrel_server(yaml)
        with ws_connect(wss_url(srv), ssl=pki.client_context(cert=True)) as ws:
            ws.send("telemetry")
            be.wait_for(lambda r: r.event_type == "MESSAGE")
        for kind in ("CONNECT", "MESSAGE"):
            cert = be.events(kind)[0].rc["identity"]["clientCert"]
            assert cert["clientCertPem"].strip() == pki.client_cert.read_text().strip()
            assert cert["subjectDN"] == "CN=device-1,O=Acme Devices,C=DE"
            assert cert["issuerDN"] == "CN=Petrel E2E CA"
            assert cert["serialNumber"].replace(":", "").lower().lstrip("0") == "a1b2c"
            assert set(cert["validity"]) == {"notBefore", "notAfter"}
    # Without client_ca there is no certificate and no field.
    route = ("    $default: {integration: echo}\n", "    $connect: {integration: backend}\n    $default: {integration: echo}\n")
    with backend_config(pki, route, client_ca=False) as (be, yaml):
        srv = petrel_server(yaml)
        with ws_connect(wss_url(srv), ssl=pki.client_context()) as ws:
            ws.send("x")
            assert ws.recv(timeout=5) == "x"
        assert "clientCert" not in be.events("CONNECT")[0].rc["identity"]


def test_mtls_certificate_reaches_http_route_events(petrel_server, pki):
    """HTTP routes (payload 2.0): requestContext.authentication.clientCert, as API Gateway's HTTP
    APIs with mutual TLS pass it."""
    import http.client
    route = ('    "GET /health": {integration: ok}\n', '    "GET /health": {integration: ok}\n    "GET /device": {integration: fn}\n')
    with backend_config(pki, route, client_ca=True, name="fn") as (be, yaml):
        srv = petrel_server(yaml)
        conn = http.client.HTTPSConnection("127.0.0.1", srv.public_port, timeout=5,
                                           context=pki.client_context(cert=True))
        conn.request("GET", "/device")
        assert conn.getresponse().status == 200
        conn.close()
        event = be.wait_for(lambda r: r.rc.get("http", {}).get("path") == "/device")[0]
        cert = event.rc["authentication"]["clientCert"]
        assert cert["subjectDN"] == "CN=device-1,O=Acme Devices,C=DE"
        assert cert["clientCertPem"].strip() == pki.client_cert.read_text().strip()
