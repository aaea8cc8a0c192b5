"""The IoT example (examples/iot/) end to end: devices over wss:// with mTLS, binary telemetry,
commands pushed back to one device (issue 9).

Everything is the example's own code, run as child processes: `make-certs.sh` makes a CA, the
server certificate and device certificates into tmp; Petrel runs `examples/iot/petrel.yaml`
(certificate paths relative to the config file, so the config is written next to the certs; only
the backend URL changes, and the harness's --listen/--admin 127.0.0.1:0); `backend.py` and two
`device.py` processes talk to it. Checked:

- each device's telemetry records reach the backend through `$default` (binary, base64) and are
  decoded to exactly the values the device sent, filed under the identity of its *certificate*
  (`requestContext.identity.clientCert`: CN, serial, issuer) — device A claims to be B in its URL
  and is still A;
- a command posted to the backend for A is pushed through `POST /@connections/{id}` to A only,
  A prints and acknowledges it (`ack` route), B receives nothing;
- a CA-signed device the backend does not know gets 403 on the handshake (`$connect` → 403);
- no client certificate, or one from another CA (with the CN of a real device), fails the TLS
  handshake, and the backend never hears of it;
- `$disconnect` reaches the backend when a device closes (1000) and when it dies (1006).

Loopback only; every process started here is stopped here, by its own pid.
"""
from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from petrel_harness import REPO, free_port, tcp_connect, ws_connect
from tls_pki import openssl_available

pytestmark = [pytest.mark.timeout(120),
              pytest.mark.skipif(not openssl_available(), reason="openssl CLI not installed")]

IOT_DIR = REPO / "examples" / "iot"
CONFIG = IOT_DIR / "petrel.yaml"


def wait_until(pred, timeout: float, what: str, describe=lambda: ""):
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{describe()}")
        time.sleep(0.05)


class Child:
    """A child process whose stdout lines are collected (JSON lines parsed into `events`)."""

    def __init__(self, args: list[str], env: dict | None = None):
        self.args = args
        self.lines: list[str] = []
        self.events: list[dict] = []
        self.proc = subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, start_new_session=True)
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            self.lines.append(line)
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict):
                self.events.append(obj)

    def of(self, kind: str, key: str = "event") -> list[dict]:
        return [e for e in list(self.events) if e.get(key) == kind]

    def tail(self, n: int = 30) -> str:
        return "\n".join(self.lines[-n:])

    def signal(self, sig):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)  # our own child, by pid

    def stop(self, timeout: float = 5) -> int | None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        return self.proc.returncode


class Backend(Child):
    def __init__(self, port: int, admin_url: str, token: str, allowed: str):
        env = dict(os.environ, IOT_LISTEN=f"127.0.0.1:{port}", PETREL_ADMIN_URL=admin_url,
                   PETREL_ADMIN_TOKEN=token, IOT_ALLOWED_DEVICES=allowed, IOT_DEBUG="1")
        super().__init__([sys.executable, str(IOT_DIR / "backend.py")], env)
        self.port = port
        try:
            wait_until(lambda: self.of("iot backend ready", "msg") or self.proc.poll() is not None, 10,
                       "the backend to start", self.tail)
        except AssertionError:
            self.stop()
            raise
        assert self.proc.poll() is None, "iot backend exited:\n" + self.tail()

    def get(self, path: str):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as r:
            return json.loads(r.read())

    def state(self) -> dict:
        return self.get("/devices")

    def device(self, device: str) -> dict:
        return self.state()["devices"].get(device) or {}

    def command(self, device: str, command: dict) -> tuple[int, dict]:
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/devices/{device}/commands",
                                     data=json.dumps(command).encode(), method="POST",
                                     headers={"content-type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")


class Device(Child):
    """examples/iot/device.py with one device's certificate."""

    def __init__(self, url: str, certs: Path, name: str, *opts: str):
        # the pytest interpreter has `websockets`; the device needs nothing else
        super().__init__([sys.executable, str(IOT_DIR / "device.py"), "--url", url, "--certs", str(certs),
                          "--device", name, "--ping-interval", "0", *opts])
        self.name = name


def cert_serial(pem: Path) -> str:
    """The serial as Petrel reports it in clientCert.serialNumber: lowercase hex pairs with colons."""
    out = subprocess.run(["openssl", "x509", "-in", str(pem), "-noout", "-serial"], capture_output=True,
                         text=True, timeout=10, check=True).stdout
    hexdigits = out.strip().split("=", 1)[1].lower()
    hexdigits = hexdigits if len(hexdigits) % 2 == 0 else "0" + hexdigits
    return ":".join(hexdigits[i:i + 2] for i in range(0, len(hexdigits), 2))


def make_certs(directory: Path, *devices: str):
    r = subprocess.run([str(IOT_DIR / "make-certs.sh"), str(directory), *devices], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, f"make-certs.sh failed:\n{r.stdout}{r.stderr}"


def iot_config(backend_port: int) -> tuple[str, str]:
    """examples/iot/petrel.yaml with the backend on its test port (everything else unchanged),
    and the admin bearer token it configures."""
    import yaml
    cfg = yaml.safe_load(CONFIG.read_text())
    assert cfg["listeners"]["public"]["tls"]["client_ca"], "the example must require client certificates"
    cfg["integrations"]["backend"]["url"] = f"http://127.0.0.1:{backend_port}/events"
    token = cfg["listeners"]["admin"]["auth"]["bearer_tokens"][0]
    return yaml.safe_dump(cfg, sort_keys=False), token


def handshake_error(port: int, ctx: ssl.SSLContext) -> str:
    """Open TLS, send a request, read: the error the client sees ("" when the server answered)."""
    ctx.check_hostname = False
    try:
        with ctx.wrap_socket(tcp_connect(port), server_hostname="localhost") as s:
            s.settimeout(5)
            s.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
            data = s.recv(100)
            return "" if data else "EOF"
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError) as e:
        return f"{type(e).__name__}: {e}"


def test_example_config_passes_check_config(petrel_bin, tmp_path):
    """The committed file as is, and a copy next to freshly made certificates."""
    r = subprocess.run([petrel_bin, "check-config", str(CONFIG)], capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, r.stdout + r.stderr
    make_certs(tmp_path / "certs")
    (tmp_path / "petrel.yaml").write_text(CONFIG.read_text())
    r = subprocess.run([petrel_bin, "check-config", str(tmp_path / "petrel.yaml")], capture_output=True,
                       text=True, timeout=20)
    assert r.returncode == 0, r.stdout + r.stderr


def test_make_certs_keeps_keys_private_and_out_of_git(tmp_path):
    make_certs(tmp_path / "certs", "dev-a")
    for key in [tmp_path / "certs" / "ca.key", tmp_path / "certs" / "server.key",
                tmp_path / "certs" / "devices" / "dev-a.key"]:
        assert key.exists() and (key.stat().st_mode & 0o077) == 0, f"{key} is readable by others"
    ignore = (IOT_DIR / ".gitignore").read_text().split()
    assert "certs/" in ignore and "*.key" in ignore, "examples/iot/certs/ and keys must be git-ignored"


def test_iot_example_end_to_end(petrel_server, tmp_path):
    certs = tmp_path / "certs"                    # next to the config the fixture writes
    make_certs(certs, "dev-a", "dev-b", "dev-c")  # dev-c: signed by the CA, unknown to the backend
    rogue = tmp_path / "rogue"
    make_certs(rogue, "dev-a")                    # another CA, a certificate with a real device's CN

    backend_port = free_port()
    config, token = iot_config(backend_port)
    srv = petrel_server(config)
    url = f"wss://127.0.0.1:{srv.public_port}/"
    backend = Backend(backend_port, f"http://127.0.0.1:{srv.admin_port}/prod", token, "dev-a,dev-b")
    devices: list[Device] = []

    def describe() -> str:
        try:
            state = json.dumps(backend.state(), indent=1)[:4000]
        except Exception as e:  # noqa: BLE001 — diagnostics only
            state = repr(e)
        return (f"backend state: {state}\nbackend log:\n{backend.tail(40)}\n" +
                "".join(f"device {d.name} output:\n{d.tail(20)}\n" for d in devices) +
                f"petrel:\n{srv.describe()}")

    try:
        # Device A claims to be dev-b in its URL: the backend must go by the certificate only.
        a = Device(url + "?device=dev-b", certs, "dev-a", "--count", "3", "--interval", "0.05",
                   "--temperature", "21.5", "--drift", "0.25", "--battery", "97", "--linger", "60")
        b = Device(url, certs, "dev-b", "--count", "4", "--interval", "0.05",
                   "--temperature", "-3.25", "--drift", "-0.5", "--battery", "12", "--linger", "60")
        devices += [a, b]
        for d, n in ((a, 3), (b, 4)):
            wait_until(lambda d=d, n=n: any(e["seq"] == n for e in d.of("telemetry")) or d.of("error"),
                       15, f"{d.name} to send {n} records", describe)
        # The $connect events must carry the verified certificate; without it nothing below works.
        rejected = backend.state()["rejected"]
        assert not rejected, ("the backend refused a known device's $connect (403): "
                              f"{[r['reason'] for r in rejected]}\n{describe()}")
        for d in (a, b):
            assert not d.of("error"), f"{d.name} failed: {d.of('error')}\n{describe()}"

        # Telemetry decoded to what each device sent, filed under its certificate's identity.
        wait_until(lambda: backend.device("dev-a").get("frames") == 3 and backend.device("dev-b").get("frames") == 4,
                   10, "both devices' telemetry at the backend", describe)
        state = backend.state()["devices"]
        assert sorted(state) == ["dev-a", "dev-b"], describe()
        for d, name in ((a, "dev-a"), (b, "dev-b")):
            info = state[name]
            sent = d.of("telemetry")[-1]
            assert info["latest"] is not None and {k: info["latest"][k] for k in
                                                   ("seq", "timestampMs", "temperatureC", "batteryPct")} == \
                {k: sent[k] for k in ("seq", "timestampMs", "temperatureC", "batteryPct")}, (name, info, sent)
            assert info["badFrames"] == 0 and info["connected"] is True, info
            assert info["subjectDN"].startswith(f"CN={name},") and "O=Petrel IoT Example" in info["subjectDN"], info
            assert info["serialNumber"] == cert_serial(certs / "devices" / f"{name}.pem"), info
            assert "CN=Petrel IoT Example CA" in info["issuerDN"], info
        assert state["dev-a"]["latest"] == {**state["dev-a"]["latest"], "temperatureC": 22.0, "batteryPct": 97}
        assert state["dev-b"]["latest"] == {**state["dev-b"]["latest"], "temperatureC": -4.75, "batteryPct": 12}
        a_cid, b_cid = state["dev-a"]["connectionId"], state["dev-b"]["connectionId"]
        assert a_cid != b_cid

        # A command for A: pushed through @connections to A only, acknowledged by A.
        status, answer = backend.command("dev-a", {"command": "set_interval", "seconds": 30})
        assert status == 202 and answer["connectionId"] == a_cid, (status, answer, describe())
        got = wait_until(lambda: a.of("command"), 10, "device A to receive its command", describe)
        assert got[0]["id"] == answer["id"] and got[0]["command"] == {"command": "set_interval", "seconds": 30}, got
        wait_until(lambda: any(c["id"] == answer["id"] and c["status"] == "acked"
                               for c in backend.device("dev-a")["commands"]),
                   10, "the backend to get A's ack", describe)
        time.sleep(0.5)  # B had every chance to receive something by now
        assert not b.of("command") and not b.of("message"), f"device B received A's command: {b.tail()}"
        assert not a.of("message"), a.tail()
        assert backend.command("dev-c", {"command": "reboot"})[0] == 404

        # A CA-signed device the backend does not know: $connect answers 403, so does the handshake.
        c = Device(url, certs, "dev-c", "--count", "1", "--linger", "0")
        devices.append(c)
        assert c.proc.wait(timeout=15) == 1, c.tail()
        assert c.of("error") and "403" in c.of("error")[0]["error"], c.tail()
        refused = backend.state()["rejected"]
        assert [(r["reason"], r["subjectDN"].split(",")[0]) for r in refused] == [("unknown device", "CN=dev-c")], refused

        # No client certificate / a certificate from another CA: the TLS handshake fails.
        def client_ctx(cert_dir: Path | None) -> ssl.SSLContext:
            ctx = ssl.create_default_context(cafile=str(certs / "ca.pem"))
            if cert_dir is not None:
                ctx.load_cert_chain(cert_dir / "devices" / "dev-a.pem", cert_dir / "devices" / "dev-a.key")
            return ctx
        err = handshake_error(srv.public_port, client_ctx(None))
        assert "CERTIFICATE_REQUIRED" in err.upper() or "HANDSHAKE_FAILURE" in err.upper(), err
        err = handshake_error(srv.public_port, client_ctx(rogue))
        assert "UNKNOWN_CA" in err.upper(), err
        with pytest.raises(Exception):
            with ws_connect(url, ssl=client_ctx(rogue)) as ws:
                ws.recv(timeout=5)
        rogue_device = Device(url, rogue, "dev-a", "--ca", str(certs / "ca.pem"), "--count", "1", "--linger", "0")
        devices.append(rogue_device)
        assert rogue_device.proc.wait(timeout=15) == 1, rogue_device.tail()
        assert not rogue_device.of("connected"), rogue_device.tail()
        after = backend.state()
        assert len(after["rejected"]) == 1, f"a refused TLS handshake reached $connect: {after['rejected']}"
        assert after["devices"]["dev-a"]["connectionId"] == a_cid and after["devices"]["dev-a"]["connected"], after

        # $disconnect: B goes offline cleanly (1000), A dies without a close frame (1006).
        b.signal(signal.SIGTERM)
        assert b.proc.wait(timeout=10) == 0, b.tail()
        assert b.of("closed") and b.of("closed")[-1]["code"] == 1000, b.tail()
        gone = wait_until(lambda: backend.device("dev-b").get("disconnects"), 10,
                          "B's $disconnect at the backend", describe)
        assert gone[-1]["connectionId"] == b_cid and gone[-1]["code"] == 1000, gone
        assert backend.device("dev-b")["connected"] is False
        a.proc.kill()
        a.proc.wait(timeout=5)
        gone = wait_until(lambda: backend.device("dev-a").get("disconnects"), 10,
                          "A's $disconnect at the backend", describe)
        assert gone[-1]["connectionId"] == a_cid and gone[-1]["code"] == 1006, gone
        assert backend.command("dev-a", {"command": "reboot"})[0] == 404
        assert not [d for d in backend.state()["devices"].values() if d["badFrames"]], describe()
    finally:
        for d in devices:
            d.stop()
        backend.stop()
