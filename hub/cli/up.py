"""``hub up``: the whole hub in one terminal, on real parts.

Checks every port first (:mod:`hub.cli.ports`), then starts a Redis server process
(unless ``HUB_REDIS_URL`` is set), the sandbox of each installed connector that has no
real upstream configured (see :class:`~hub.sandbox.declaration.Sandbox`), a Celery
worker, beat, the ingress and Flower. It prints where each listens, keeps that in the
data folder for the other commands (:mod:`hub.cli.local_hub`), then shows a line per
run as it ends (:mod:`hub.cli.run_view`) and the warnings and errors of its processes,
whose whole output goes to log files (:mod:`hub.cli.process_output`); ``verbose`` shows
every line instead. With ``--demo`` it sends the sample events and shows what they made
in the sandboxes (:mod:`hub.cli.samples`); Ctrl-C stops everything.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import httpx

from hub.cli.console import Console
from hub.cli.local_hub import (
    LocalHub,
    local_hub_file,
    read_local_hub,
    remove_local_hub,
    write_local_hub,
)
from hub.cli.ports import PortSetting, claim_ports
from hub.cli.process_output import ProcessOutput
from hub.cli.run_view import RunWatcher
from hub.cli.samples import send_samples
from hub.connector import SettingsFor, connectors, from_environment
from hub.core import ConfigError, RedisServer, Settings, env_name, redis_client
from hub.history import RunStore
from hub.intake import with_demo_secrets
from hub.sandbox import Sandbox

__all__ = ["Embedded", "LocalSandbox", "local_sandboxes"]


#: how long the parts may take to stop, together, before they are killed
STOP_SECONDS = 15.0


@contextmanager
def _stopped_by_signals() -> Iterator[None]:
    """Ctrl-C (SIGINT) and SIGTERM stop the hub while the block runs, even when what
    started it ignores SIGINT (a shell's background job does, and its children inherit
    that); the handlers before are put back after."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = {
        signal.SIGINT: signal.signal(signal.SIGINT, signal.default_int_handler),
        signal.SIGTERM: signal.signal(signal.SIGTERM, interrupt),
    }
    try:
        yield
    finally:
        for number, handler in before.items():
            signal.signal(number, handler)


@dataclass(frozen=True)
class LocalSandbox:
    """A connector's sandbox ``hub up`` runs, the port it serves it on, and the setting
    that port comes from."""

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

    def port_setting(self) -> PortSetting:
        return PortSetting(self.label(), self.sandbox.port_setting_name(self.name), self.port)


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


def _setting(field_name: str) -> str:
    return env_name(Settings, field_name)


@dataclass
class Embedded:
    """Everything ``hub up`` runs. ``connector_settings`` gives each connector's settings
    (default: from the environment), which decide the sandboxes it starts; ``verbose``
    streams every line of every process to ``console``."""

    settings: Settings
    connector_settings: SettingsFor = from_environment
    verbose: bool = False
    console: Console = field(default_factory=Console)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    redis: RedisServer | None = None
    #: part -> the port it serves on, once claimed (settings of 0 replaced by free ports)
    ports: dict[str, int] = field(default_factory=dict)

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env["HUB_REDIS_URL"] = self.redis_url
        env["PYTHONUNBUFFERED"] = "1"
        env["HUB_LOCAL_MODE"] = "true"  # the one place local trust is granted
        env["HUB_SECRETS"] = json.dumps(with_demo_secrets(self.settings))
        for sandbox in self.sandboxes():
            env.update(sandbox.env())
        return env

    def sandboxes(self) -> list[LocalSandbox]:
        """The sandboxes this run starts: those of connectors without a real upstream, on
        their claimed ports once claimed."""
        return [replace(s, port=self.ports.get(s.label(), s.port)) for s in self._sandboxes]

    @cached_property
    def _sandboxes(self) -> list[LocalSandbox]:
        return local_sandboxes(self.connector_settings)

    @cached_property
    def output(self) -> ProcessOutput:
        folder = self.settings.hub_data_dir / "logs"
        return ProcessOutput(folder, self.console, verbose=self.verbose)

    @property
    def redis_url(self) -> str:
        if self.settings.hub_redis_url:
            return self.settings.hub_redis_url
        assert self.redis is not None
        return self.redis.url

    def port_settings(self) -> list[PortSetting]:
        """Every port this run serves on, as its setting gives it."""
        s = self.settings
        wanted = []
        if not s.hub_redis_url:
            port = s.hub_embedded_redis_port
            wanted.append(PortSetting("redis", _setting("hub_embedded_redis_port"), port))
        wanted += [sandbox.port_setting() for sandbox in self._sandboxes]
        ingress = PortSetting(
            "ingress", _setting("hub_ingress_port"), s.hub_ingress_port, s.hub_ingress_host
        )
        flower = PortSetting(
            "flower", _setting("hub_flower_port"), s.hub_flower_port, s.hub_flower_host
        )
        return [*wanted, ingress, flower]

    def _spawn(self, name: str, *args: str) -> None:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hub", *args],
            env=self.environment(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        assert proc.stdout is not None
        self.output.follow(name, proc.stdout)
        self.processes[name] = proc

    def prepare(self) -> None:
        """Check, before anything starts: no other ``hub up`` runs from this data folder,
        and every port is free (those set to 0 are picked); :class:`ConfigError` if not."""
        self._refuse_a_second_hub()
        self.ports = claim_ports(self.port_settings())

    def start(self) -> None:
        """Start every part (once :meth:`prepare` d) and wait until each answers."""
        if not self.ports:
            self.prepare()
        logs = self.output.folder
        self.console.echo(f"hub up: starting; the whole log of every process goes to {logs}/")
        if not self.settings.hub_redis_url:
            self.redis = RedisServer(
                self.settings.hub_data_dir / "redis",
                port=self.ports["redis"],
                log_file=self.output.log_file("redis"),
            ).start()
        for sandbox in self.sandboxes():
            self._spawn(sandbox.name, "sandbox", sandbox.name, "--port", str(sandbox.port))
        self._spawn("worker", "worker")
        self._spawn("beat", "beat")
        self._spawn("ingress", "serve", "--port", str(self.ports["ingress"]))
        self.wait_ready(self._checks(), with_worker=True)
        # Flower once the worker answers: it asks the workers what they are at start
        self._spawn("flower", "flower", "--port", str(self.ports["flower"]))
        self.wait_ready({"flower": f"{self.urls()['flower']}/healthcheck"})

    def _refuse_a_second_hub(self) -> None:
        running = read_local_hub(self._hub_file)
        if running is not None and running.pid != os.getpid():
            raise ConfigError(
                f"a hub is already running from {self.settings.hub_data_dir} (process "
                f"{running.pid}): stop it first, or set HUB_DATA_DIR to another folder"
            )

    @property
    def _hub_file(self) -> Path:
        return local_hub_file(self.settings.hub_data_dir)

    def urls(self) -> dict[str, str]:
        s = self.settings
        ingress = self.ports.get("ingress", s.hub_ingress_port)
        flower = self.ports.get("flower", s.hub_flower_port)
        urls = {
            "redis": self.redis_url,
            "ingress": f"http://{s.hub_ingress_host}:{ingress}",
            "flower": f"http://{s.hub_flower_host}:{flower}",
        }
        for sandbox in self.sandboxes():
            urls[sandbox.label()] = sandbox.url
        return urls

    def _checks(self) -> dict[str, str]:
        checks = {"ingress": f"{self.urls()['ingress']}/healthz"}
        for sandbox in self.sandboxes():
            checks[sandbox.label()] = f"{sandbox.url}/_sandbox/calls"
        return checks

    def wait_ready(
        self, checks: dict[str, str], *, with_worker: bool = False, timeout: float = 60.0
    ) -> None:
        """Wait until each of ``checks`` (part -> URL) answers below 500 (and the worker
        a ping, ``with_worker``); :class:`ConfigError` when a process exits meanwhile or
        ``timeout`` seconds pass."""
        deadline = time.monotonic() + timeout
        pending = dict(checks)
        while pending:
            self._check_alive("while starting")
            for name, url in list(pending.items()):
                try:
                    if httpx.get(url, timeout=1.0).status_code < 500:
                        del pending[name]
                except httpx.HTTPError:
                    pass
            if time.monotonic() > deadline:
                raise ConfigError(f"not ready after {timeout:.0f}s: {', '.join(pending)}")
            time.sleep(0.2)
        if with_worker:
            self._wait_worker(deadline)

    def _check_alive(self, when: str) -> None:
        for name, proc in self.processes.items():
            if proc.poll() is not None:
                log = self.output.log_file(name)
                raise ConfigError(f"{name} exited with {proc.returncode} {when}; see {log}")

    def _wait_worker(self, deadline: float) -> None:
        from hub.worker import create_celery

        celery = create_celery(self.settings.model_copy(update={"hub_redis_url": self.redis_url}))
        while not celery.control.ping(timeout=1.0):
            self._check_alive("while starting")
            if time.monotonic() > deadline:
                raise ConfigError("the worker did not answer a ping")

    def stop(self) -> None:
        for proc in self.processes.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS  # for them all, not each
        for name, proc in self.processes.items():
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.console.echo(f"{name} did not stop in {STOP_SECONDS:.0f}s; killing it")
                proc.kill()
        if self.redis is not None:
            self.redis.stop()
        remove_local_hub(self._hub_file, os.getpid())

    def announce(self) -> None:
        """Say where each part listens, and keep it in the data folder for other
        terminals."""
        urls = self.urls()
        write_local_hub(
            self._hub_file,
            LocalHub(
                redis_url=self.redis_url,
                ingress_url=urls["ingress"],
                pid=os.getpid(),
                urls=urls,
                logs=str(self.output.folder),
            ),
        )
        width = max(len(name) for name in urls)
        self.console.echo("\nThe hub is up:")
        for name, url in urls.items():
            self.console.echo(f"  {name:<{width}}  {url}")
        self.console.echo(
            f"Commands in another terminal here find it ({self._hub_file}): "
            "`hub status`, `hub runs`, `hub send SOURCE FILE`."
        )
        if not self.verbose:
            self.console.echo("Each run shows below as it ends.")
        self.console.echo("Press Ctrl-C to stop.\n")

    def watch_runs(self, stop: threading.Event) -> None:
        """Show each run as it ends (runs started from now), until ``stop`` is set."""
        store = RunStore(redis_client(self.settings, self.redis_url))
        watcher = RunWatcher(store, self.console, since=time.time())
        from hub.workflow import load_folder

        watcher.expect_workflows(wf.name for wf in load_folder(self.settings.hub_workflows))
        watcher.watch(stop)

    def run(self, *, demo: bool = False) -> None:
        self.prepare()
        with _stopped_by_signals():
            self._run(demo=demo)

    def _run(self, *, demo: bool) -> None:
        stop = threading.Event()
        try:
            self.start()
            self.announce()
            if not self.verbose:
                self.watch_runs(stop)
            if demo:
                send_samples(
                    self.settings.hub_workflows / "samples",
                    self.urls()["ingress"],
                    {sandbox.name: sandbox.url for sandbox in self.sandboxes()},
                    self.settings,
                    echo=self.console.echo,
                )
            while all(p.poll() is None for p in self.processes.values()):
                time.sleep(0.5)
            self._check_alive("unexpectedly")
        except KeyboardInterrupt:
            self.console.echo("\nstopping ...")
        finally:
            stop.set()
            self.stop()
            self.console.echo("stopped.")
