"""A Redis Sentinel deployment as local processes: one primary, one replica, three sentinels.

:class:`SentinelGroup` starts them on loopback (the primary and replica as
:class:`~hub.core.redis_server.RedisServer`, AOF on, ``appendfsync always``; the sentinels
as the same binary with ``--sentinel`` and a config file each), tuned to fail over fast:
a primary unanswered for :data:`DOWN_AFTER_MS` is down, and two sentinels agreeing is
enough. :meth:`SentinelGroup.url` is the ``redis+sentinel://`` HUB_REDIS_URL of the group.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import redis

from hub.core.redis_server import RedisServer, find_server_binary, free_port

__all__ = ["DOWN_AFTER_MS", "SERVICE", "SentinelGroup"]

#: the name the sentinels know the primary by
SERVICE = "hubprimary"
#: how long a primary may not answer before a sentinel thinks it down
DOWN_AFTER_MS = 500
FAILOVER_TIMEOUT_MS = 5000
QUORUM = 2


class SentinelGroup:
    """A primary, a replica of it and three sentinels watching them, under ``folder``."""

    def __init__(self, folder: Path, *, sentinels: int = 3, binary: str | None = None) -> None:
        self.folder = folder
        self.binary = binary or find_server_binary()
        self.primary = RedisServer(folder / "primary", binary=self.binary)
        self.replica = RedisServer(
            folder / "replica",
            binary=self.binary,
            extra_args=("--replicaof", "127.0.0.1", str(self.primary.port)),
        )
        self.sentinel_ports = [free_port() for _ in range(sentinels)]
        self.sentinels: list[subprocess.Popen[bytes]] = []

    def url(self, db: int = 0) -> str:
        hosts = ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)
        return f"redis+sentinel://{hosts}/{SERVICE}/{db}"

    def start(self) -> SentinelGroup:
        self.primary.start()
        self.replica.start()
        self.wait_replicated(self.primary, 20)
        for number, port in enumerate(self.sentinel_ports):
            self.sentinels.append(self._start_sentinel(number, port))
        self.wait_watching(20)
        return self

    def _start_sentinel(self, number: int, port: int) -> subprocess.Popen[bytes]:
        folder = self.folder / f"sentinel{number}"
        folder.mkdir(parents=True, exist_ok=True)
        config = folder / "sentinel.conf"  # a sentinel rewrites its file: one each
        config.write_text(
            f"port {port}\nbind 127.0.0.1\ndaemonize no\ndir {folder}\nloglevel warning\n"
            f"sentinel monitor {SERVICE} 127.0.0.1 {self.primary.port} {QUORUM}\n"
            f"sentinel down-after-milliseconds {SERVICE} {DOWN_AFTER_MS}\n"
            f"sentinel failover-timeout {SERVICE} {FAILOVER_TIMEOUT_MS}\n"
            f"sentinel parallel-syncs {SERVICE} 1\n"
        )
        log = (folder / "sentinel.log").open("ab")
        return subprocess.Popen(
            [self.binary, str(config), "--sentinel"], stdout=log, stderr=subprocess.STDOUT
        )

    def sentinel(self, number: int = 0) -> redis.Redis:
        return redis.Redis(port=self.sentinel_ports[number], socket_timeout=2)

    def primary_port(self) -> int | None:
        """The primary's port as the first sentinel that answers says it."""
        for number in range(len(self.sentinel_ports)):
            try:
                host_port: Any = self.sentinel(number).sentinel_get_master_addr_by_name(SERVICE)
            except redis.RedisError:
                continue
            if host_port:
                return int(host_port[1])
        return None

    def wait_watching(self, timeout: float) -> None:
        """Until every sentinel knows the primary, its replica and the other sentinels."""
        deadline = time.monotonic() + timeout
        others = len(self.sentinel_ports) - 1
        while time.monotonic() < deadline:
            try:
                states: list[Any] = [
                    self.sentinel(n).sentinel_master(SERVICE) for n in range(others + 1)
                ]
                if all(s["num-slaves"] >= 1 and s["num-other-sentinels"] >= others for s in states):
                    return
            except redis.RedisError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"the sentinels did not all see the group in {timeout}s")

    def wait_failed_over(self, old_port: int, timeout: float) -> int:
        """Until the sentinels name a primary other than ``old_port``, that takes writes."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            port = self.primary_port()
            if port is not None and port != old_port:
                try:
                    if redis.Redis(port=port).info("replication")["role"] == "master":
                        return port
                except redis.RedisError:
                    pass
            time.sleep(0.1)
        raise TimeoutError(f"no failover from port {old_port} in {timeout}s")

    @staticmethod
    def wait_replicated(server: RedisServer, timeout: float) -> None:
        """Until ``server`` has a replica in sync with it."""
        client = redis.Redis(port=server.port)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            info = client.info("replication")
            if (
                info.get("connected_slaves", 0) >= 1
                and info.get("slave0", {}).get("state") == "online"
            ):
                return
            time.sleep(0.1)
        raise TimeoutError(f"no replica in sync with port {server.port} in {timeout}s")

    def server_on(self, port: int) -> RedisServer:
        return self.primary if self.primary.port == port else self.replica

    def stop(self) -> None:
        for process in self.sentinels:
            if process.poll() is None:
                process.terminate()
        for process in self.sentinels:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
        self.replica.stop()
        self.primary.stop()
