"""Throwaway PKI for the TLS tests, made with the `openssl` CLI (an independent tool).

make_pki(dir) -> PKI with a CA, a server certificate for localhost/127.0.0.1, a second server
certificate (for reload), a certificate for the SNI name `other.test`, and a client certificate.
"""
from __future__ import annotations

import hashlib
import shutil
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path

EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]


def _run(args: list[str], cwd: Path):
    out = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{out.stderr}")


def openssl_available() -> bool:
    return shutil.which("openssl") is not None


def issue(d: Path, name: str, subject: str, ca: str = "ca", san: str | None = None,
          serial: int = 1, client: bool = False, days: int = 30) -> tuple[Path, Path]:
    """Key + certificate `name.key`/`name.pem` signed by `ca` (files in d)."""
    _run(["openssl", "req", *EC, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subject], d)
    ext = ["basicConstraints=CA:FALSE"]
    if san:
        ext.append(f"subjectAltName={san}")
    ext.append("extendedKeyUsage=" + ("clientAuth" if client else "serverAuth"))
    (d / f"{name}.ext").write_text("\n".join(ext) + "\n")
    _run(["openssl", "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
          "-set_serial", str(serial), "-days", str(days), "-sha256", "-extfile", f"{name}.ext",
          "-out", f"{name}.pem"], d)
    return d / f"{name}.pem", d / f"{name}.key"


@dataclass
class PKI:
    dir: Path
    ca: Path
    server_cert: Path
    server_key: Path
    server2_cert: Path
    server2_key: Path
    other_cert: Path
    other_key: Path
    client_cert: Path
    client_key: Path

    def client_context(self, cert: bool = False, alpn: list[str] | None = None,
                       check_hostname: bool = True) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(self.ca)
        ctx.check_hostname = check_hostname
        if cert:
            ctx.load_cert_chain(self.client_cert, self.client_key)
        if alpn:
            ctx.set_alpn_protocols(alpn)
        return ctx


def make_pki(d: Path) -> PKI:
    d.mkdir(parents=True, exist_ok=True)
    _run(["openssl", "req", "-x509", *EC, "-keyout", "ca.key", "-out", "ca.pem", "-days", "30",
          "-subj", "/CN=Petrel E2E CA", "-addext", "basicConstraints=critical,CA:TRUE",
          "-addext", "keyUsage=critical,keyCertSign,cRLSign"], d)
    san = "DNS:localhost,IP:127.0.0.1"
    s1 = issue(d, "server", "/CN=localhost", san=san, serial=11)
    s2 = issue(d, "server2", "/CN=localhost", san=san, serial=12)
    other = issue(d, "other", "/CN=other.test", san="DNS:other.test", serial=13)
    client = issue(d, "client", "/C=DE/O=Acme Devices/CN=device-1", serial=0x0A1B2C, client=True)
    return PKI(d, d / "ca.pem", *s1, *s2, *other, *client)


def fingerprint_pem(path: Path) -> str:
    der = ssl.PEM_cert_to_DER_cert(Path(path).read_text())
    return hashlib.sha256(der).hexdigest()


def fingerprint_der(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()
