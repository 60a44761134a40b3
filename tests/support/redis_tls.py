"""A Redis like production for tests: TLS with a CA made for the test, and ACL users.

:func:`make_certificates` makes a self-signed CA and a server certificate for
``127.0.0.1`` and ``localhost`` with the ``openssl`` command. :class:`TlsRedis` starts a
server that speaks only TLS, with the default user off and the users of an ACL file:
``admin`` (everything, for the test's own checks) and ``hub``, limited to the rules in
``deploy/redis-users.acl``, the ones the deploy guide gives. :func:`tls_server_binary`
finds a server built with TLS (Debian's redis-server is; the bundled Valkey is not).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import redis

from hub.core.redis_server import bundled_server_binary, free_port
from tests.support.processes import ROOT

__all__ = [
    "ADMIN_PASSWORD",
    "HUB_PASSWORD",
    "Certificates",
    "TlsRedis",
    "hub_acl_rules",
    "make_certificates",
    "tls_server_binary",
]

HUB_PASSWORD = "hub-acl-password-0001"
ADMIN_PASSWORD = "admin-acl-password-0001"
ACL_FILE = ROOT / "deploy" / "redis-users.acl"


def hub_acl_rules() -> str:
    """The ``hub`` user's rules as deploy/redis-users.acl gives them (password aside)."""
    for line in ACL_FILE.read_text().splitlines():
        if line.startswith("user hub "):
            words = line.split()[2:]
            return " ".join(w for w in words if w != "on" and not w.startswith((">", "#")))
    raise AssertionError(f"no 'user hub' line in {ACL_FILE}")


def _supports_tls(binary: str) -> bool:
    try:
        run = subprocess.run(
            [binary, "--port", "0", "--tls-port", str(free_port()), "--save", ""],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "tls-cert-file" in run.stdout + run.stderr  # built with TLS: it wants a cert


def tls_server_binary() -> str | None:
    """The first server binary on PATH (or the bundled Valkey) built with TLS, if any."""
    candidates = [shutil.which("redis-server"), shutil.which("valkey-server")]
    candidates.append(bundled_server_binary())
    for binary in candidates:
        if binary and _supports_tls(binary):
            return binary
    return None


@dataclass(frozen=True)
class Certificates:
    ca: Path
    cert: Path
    key: Path


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def make_certificates(folder: Path) -> Certificates:
    """A CA and a server certificate it signed, for 127.0.0.1 and localhost."""
    folder.mkdir(parents=True, exist_ok=True)
    ca, ca_key = folder / "ca.pem", folder / "ca.key"
    cert, key, csr = folder / "server.pem", folder / "server.key", folder / "server.csr"
    ext = folder / "server.ext"
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-keyout", str(ca_key), "-out", str(ca), "-subj", "/CN=hub test CA",
    )  # fmt: skip
    _openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr),
        "-subj", "/CN=localhost",
    )  # fmt: skip
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _openssl(
        "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
        "-CAcreateserial", "-days", "2", "-out", str(cert), "-extfile", str(ext),
    )  # fmt: skip
    key.chmod(0o600)
    return Certificates(ca, cert, key)


class TlsRedis:
    """A server on 127.0.0.1 that speaks only TLS, its default user off."""

    def __init__(self, binary: str, folder: Path, certificates: Certificates) -> None:
        self.binary = binary
        self.folder = folder
        self.certificates = certificates
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, user: str = "hub", password: str = HUB_PASSWORD) -> str:
        return f"rediss://{user}:{password}@127.0.0.1:{self.port}/0"

    def admin(self) -> redis.Redis:
        return redis.Redis.from_url(
            self.url("admin", ADMIN_PASSWORD), ssl_ca_certs=str(self.certificates.ca)
        )

    def start(self) -> TlsRedis:
        self.folder.mkdir(parents=True, exist_ok=True)
        users = self.folder / "users.acl"
        users.write_text(
            "user default off\n"
            f"user admin on >{ADMIN_PASSWORD} ~* &* +@all\n"
            f"user hub on >{HUB_PASSWORD} {hub_acl_rules()}\n"
        )
        certs = self.certificates
        command = [
            self.binary,
            "--bind", "127.0.0.1", "--port", "0", "--tls-port", str(self.port),
            "--tls-cert-file", str(certs.cert), "--tls-key-file", str(certs.key),
            "--tls-ca-cert-file", str(certs.ca), "--tls-auth-clients", "no",
            "--aclfile", str(users), "--dir", str(self.folder),
            "--appendonly", "yes", "--appendfsync", "always", "--save", "",
            "--daemonize", "no", "--loglevel", "warning",
        ]  # fmt: skip
        log = (self.folder / "redis.log").open("ab")
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        self._wait_ready()
        return self

    def _wait_ready(self, timeout: float = 15.0) -> None:
        client = self.admin()
        deadline = time.monotonic() + timeout
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                log = (self.folder / "redis.log").read_text(errors="replace")
                raise AssertionError(f"TLS Redis exited: {log[-2000:]}")
            try:
                client.ping()
                client.close()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(15)
