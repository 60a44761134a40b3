"""``hub up``: the whole hub in one terminal, on real parts.

Starts a Redis server process (unless ``HUB_REDIS_URL`` is set), the sandbox of each
installed connector that has no real upstream configured (see
:class:`~hub.sandbox.declaration.Sandbox`), a Celery worker, beat, the ingress and Flower;
prints where each listens; with ``--demo`` sends the sample events and shows what they
made in the sandboxes (:mod:`hub.cli.samples`); stops everything on Ctrl-C.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import IO, Any

import httpx

from hub.cli.samples import send_samples
from hub.connector import SettingsFor, connectors, from_environment
from hub.core import ConfigError, RedisServer, Settings, free_port
from hub.intake import with_demo_secrets
from hub.sandbox import Sandbox

__all__ = ["Embedded", "LocalSandbox", "local_sandboxes"]


@dataclass(frozen=True)
class LocalSandbox:
    """A connector's sandbox ``hub up`` runs, and the port it serves it on."""

    name: str
    sandbox: Sandbox[Any]
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def label(self) -> str:
        return f"{self.name} sandbox"

    def env(self) -> dict[str, str]:
        """The settings that point the connector at this sandbox, configured as its
        process will be (from ``<PREFIX>SANDBOX_*`` variables)."""
        return dict(self.sandbox.env(self.url, self.sandbox.config_from_env()))


def local_sandboxes(settings_for: SettingsFor = from_environment) -> list[LocalSandbox]:
    """The sandbox of every installed connector that has one and whose settings name no
    real upstream, by connector name."""
    found = []
    for connector in connectors():
        sandbox = connector.sandbox
        if sandbox is None:
            continue
        settings = settings_for(connector)
        if not sandbox.configured(settings):
            found.append(LocalSandbox(connector.name, sandbox, sandbox.port(settings)))
    return found


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex((host, port)) != 0


def _pump(name: str, stream: IO[bytes]) -> None:
    for line in iter(stream.readline, b""):
        sys.stdout.write(f"[{name:>7}] {line.decode(errors='replace')}")
        sys.stdout.flush()


@dataclass
class Embedded:
    """Everything ``hub up`` runs. ``connector_settings`` gives each connector's settings
    (default: from the environment), which decide the sandboxes it starts."""

    settings: Settings
    connector_settings: SettingsFor = from_environment
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    redis: RedisServer | None = None

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env["HUB_REDIS_URL"] = self.redis_url
        env["PYTHONUNBUFFERED"] = "1"
        env["HUB_SECRETS"] = json.dumps(with_demo_secrets(self.settings))
        for sandbox in self.sandboxes():
            env.update(sandbox.env())
        return env

    def sandboxes(self) -> list[LocalSandbox]:
        """The sandboxes this run starts: those of connectors without a real upstream."""
        return self._sandboxes

    @cached_property
    def _sandboxes(self) -> list[LocalSandbox]:
        return local_sandboxes(self.connector_settings)

    @property
    def redis_url(self) -> str:
        if self.settings.hub_redis_url:
            return self.settings.hub_redis_url
        assert self.redis is not None
        return self.redis.url

    def _spawn(self, name: str, *args: str) -> None:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hub", *args],
            env=self.environment(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        assert proc.stdout is not None
        threading.Thread(target=_pump, args=(name, proc.stdout), daemon=True).start()
        self.processes[name] = proc

    def start(self) -> None:
        s = self.settings
        if not s.hub_redis_url:
            port = s.hub_embedded_redis_port
            if port == 0 or not _port_free("127.0.0.1", port):
                port = free_port()
            self.redis = RedisServer(s.hub_data_dir / "redis", port=port).start()
        for sandbox in self.sandboxes():
            self._spawn(sandbox.name, "sandbox", sandbox.name, "--port", str(sandbox.port))
        self._spawn("worker", "worker")
        self._spawn("beat", "beat")
        self._spawn("ingress", "serve")
        self._spawn("flower", "flower")
        self.wait_ready()

    def urls(self) -> dict[str, str]:
        s = self.settings
        urls = {
            "redis": self.redis_url,
            "ingress": f"http://{s.hub_ingress_host}:{s.hub_ingress_port}",
            "flower": f"http://127.0.0.1:{s.hub_flower_port}",
        }
        for sandbox in self.sandboxes():
            urls[sandbox.label()] = sandbox.url
        return urls

    def wait_ready(self, timeout: float = 60.0) -> None:
        checks = {
            "ingress": f"{self.urls()['ingress']}/healthz",
            "flower": f"{self.urls()['flower']}/healthcheck",
        }
        for sandbox in self.sandboxes():
            checks[sandbox.label()] = f"{sandbox.url}/_sandbox/calls"
        deadline = time.monotonic() + timeout
        pending = dict(checks)
        while pending:
            for name, proc in self.processes.items():
                if proc.poll() is not None:
                    raise ConfigError(f"{name} exited with {proc.returncode} while starting")
            for name, url in list(pending.items()):
                try:
                    if httpx.get(url, timeout=1.0).status_code < 500:
                        del pending[name]
                except httpx.HTTPError:
                    pass
            if time.monotonic() > deadline:
                raise ConfigError(f"not ready after {timeout:.0f}s: {', '.join(pending)}")
            time.sleep(0.2)
        self._wait_worker(deadline)

    def _wait_worker(self, deadline: float) -> None:
        from hub.worker import create_celery

        celery = create_celery(self.settings.model_copy(update={"hub_redis_url": self.redis_url}))
        while not celery.control.ping(timeout=1.0):
            if time.monotonic() > deadline:
                raise ConfigError("the worker did not answer a ping")

    def stop(self) -> None:
        for proc in self.processes.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for name, proc in self.processes.items():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                print(f"{name} did not stop in 15s; killing it")
                proc.kill()
        if self.redis is not None:
            self.redis.stop()

    def run(self, *, demo: bool = False) -> None:
        try:
            self.start()
            print("\nThe hub is up:")
            for name, url in self.urls().items():
                print(f"  {name:<15} {url}")
            print("Press Ctrl-C to stop.\n")
            if demo:
                send_samples(
                    self.settings.hub_workflows / "samples",
                    self.urls()["ingress"],
                    {sandbox.name: sandbox.url for sandbox in self.sandboxes()},
                    self.settings,
                )
            while all(p.poll() is None for p in self.processes.values()):
                time.sleep(0.5)
            failed = [n for n, p in self.processes.items() if p.poll() is not None]
            raise ConfigError(f"{', '.join(failed)} stopped unexpectedly")
        except KeyboardInterrupt:
            print("\nstopping ...")
        finally:
            self.stop()
            print("stopped.")
