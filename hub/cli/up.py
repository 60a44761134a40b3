"""``hub up``: the whole hub in one terminal, on real parts.

Starts a Redis server process (unless ``HUB_REDIS_URL`` is set), each connector's sandbox
(:data:`SANDBOXES`: Plutio, Plane, Plutora, accounting, for those not configured), a
Celery worker, beat, the ingress and Flower; prints
where each listens; with ``--demo`` sends the sample events and shows what arrived in the
sandbox; stops everything on Ctrl-C.
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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

from hub.core.errors import ConfigError
from hub.core.redis_server import RedisServer, free_port
from hub.core.settings import Settings
from hub.intake.demo import signed_delivery, with_demo_secrets

__all__ = ["SANDBOXES", "SANDBOX_CREDENTIALS", "Embedded", "LocalSandbox", "send_samples", "tagged"]

SANDBOX_CREDENTIALS = {
    "PLUTIO_CLIENT_ID": "sandbox-client",
    "PLUTIO_CLIENT_SECRET": "sandbox-secret",
    "PLUTIO_BUSINESS": "sandbox",
}


@dataclass(frozen=True)
class LocalSandbox:
    """A connector sandbox ``hub up`` runs when the connector has no real credentials."""

    name: str
    port: Callable[[Settings], int]
    configured: Callable[[Settings], bool]
    #: the settings that point the connector at the sandbox, given its base URL
    env: Callable[[str], Mapping[str, str]]

    def label(self) -> str:
        return f"{self.name} sandbox"


SANDBOXES = (
    LocalSandbox(
        "plutio",
        lambda s: s.hub_sandbox_port,
        lambda s: s.plutio_has_credentials,
        lambda url: {**SANDBOX_CREDENTIALS, "PLUTIO_BASE_URL": url},
    ),
    LocalSandbox(
        "plane",
        lambda s: s.hub_plane_sandbox_port,
        lambda s: s.plane_has_credentials,
        lambda url: {
            "PLANE_BASE_URL": url,
            "PLANE_API_KEY": "plane_api_sandbox",
            "PLANE_WORKSPACE_SLUG": "sandbox",
        },
    ),
    LocalSandbox(
        "plutora",
        lambda s: s.hub_plutora_sandbox_port,
        lambda s: s.plutora_has_credentials,
        lambda url: {
            "PLUTORA_AUTH_URL": f"{url}/oauth/token",
            "PLUTORA_BASE_URL": url,
            "PLUTORA_CLIENT_ID": "sandbox-client",
            "PLUTORA_CLIENT_SECRET": "sandbox-secret",
            "PLUTORA_USERNAME": "sandbox@example.com",
            "PLUTORA_PASSWORD": "sandbox-password",
        },
    ),
    LocalSandbox(
        "accounting",
        lambda s: s.hub_accounting_sandbox_port,
        lambda s: bool(s.accounting_url),
        lambda url: {"ACCOUNTING_URL": url},
    ),
)


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex((host, port)) != 0


def _pump(name: str, stream: IO[bytes]) -> None:
    for line in iter(stream.readline, b""):
        sys.stdout.write(f"[{name:>7}] {line.decode(errors='replace')}")
        sys.stdout.flush()


@dataclass
class Embedded:
    settings: Settings
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    redis: RedisServer | None = None

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env["HUB_REDIS_URL"] = self.redis_url
        env["PYTHONUNBUFFERED"] = "1"
        env["HUB_LOCAL_MODE"] = "true"  # the one place local trust is granted
        env["HUB_SECRETS"] = json.dumps(with_demo_secrets(self.settings))
        for sandbox in self.sandboxes():
            env.update(sandbox.env(self._sandbox_url(sandbox)))
        return env

    def sandboxes(self) -> list[LocalSandbox]:
        """The sandboxes this run starts: those of connectors without credentials."""
        return [sb for sb in SANDBOXES if not sb.configured(self.settings)]

    def _sandbox_url(self, sandbox: LocalSandbox) -> str:
        return f"http://127.0.0.1:{sandbox.port(self.settings)}"

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
            self._spawn(sandbox.name, "sandbox", sandbox.name, "--port", str(sandbox.port(s)))
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
            urls[sandbox.label()] = self._sandbox_url(sandbox)
        return urls

    def wait_ready(self, timeout: float = 60.0) -> None:
        checks = {
            "ingress": f"{self.urls()['ingress']}/healthz",
            "flower": f"{self.urls()['flower']}/healthcheck",
        }
        for sandbox in self.sandboxes():
            checks[sandbox.label()] = f"{self._sandbox_url(sandbox)}/_sandbox/calls"
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
        from hub.worker.celery_app import create_celery

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
                send_samples(self.settings.hub_workflows / "samples", self.urls(), self.settings)
            while all(p.poll() is None for p in self.processes.values()):
                time.sleep(0.5)
            failed = [n for n, p in self.processes.items() if p.poll() is not None]
            raise ConfigError(f"{', '.join(failed)} stopped unexpectedly")
        except KeyboardInterrupt:
            print("\nstopping ...")
        finally:
            self.stop()
            print("stopped.")


def tagged(sample: dict[str, Any], tag: str) -> dict[str, Any]:
    """``sample`` with its event id (``X-Event-Id`` header, body ``id``) suffixed by ``tag``.

    Samples that share an id (a redelivery) still share it; a second demo run against the
    same Redis starts runs again instead of answering every event as a duplicate.
    """
    out: dict[str, Any] = json.loads(json.dumps(sample))
    headers, body = out.get("headers") or {}, out.get("body")
    if headers.get("X-Event-Id"):
        headers["X-Event-Id"] = f"{headers['X-Event-Id']}.{tag}"
    if isinstance(body, dict) and isinstance(body.get("id"), str):
        body["id"] = f"{body['id']}.{tag}"
    return out


def send_samples(
    folder: Path,
    urls: dict[str, str],
    settings: Settings | None = None,
    *,
    wait: float = 30.0,
    tag: str | None = None,
) -> list[Any]:
    """POST every sample event in ``folder`` (signed as its source requires), then show
    the sandbox's people. Event ids carry ``tag`` (default: this run's time), so each
    demo run is new to the dedupe window while redeliveries within it stay duplicates."""
    samples = sorted(folder.glob("*.json"))
    tag = tag or time.strftime("demo%Y%m%d%H%M%S")
    print(f"sending {len(samples)} sample events (event ids tagged .{tag})")
    for path in samples:
        sample = tagged(json.loads(path.read_text()), tag)
        body, headers = signed_delivery(
            settings or Settings(), sample["source"], sample["body"], sample.get("headers")
        )
        response = httpx.post(
            f"{urls['ingress']}/hooks/{sample['source']}",
            content=body,
            headers=headers,
            timeout=10,
        )
        print(f"sent {path.name}: {response.status_code} {response.text}")
    sandbox = urls.get("plutio sandbox")
    if not sandbox:
        return []
    expected = {
        s["expect_email"]
        for s in (json.loads(p.read_text()) for p in samples)
        if "expect_email" in s
    }
    deadline = time.monotonic() + wait
    people: list[Any] = []
    while time.monotonic() < deadline:
        people = httpx.get(f"{sandbox}/_sandbox/state/people", timeout=5).json()
        emails = {e["address"] for p in people for e in p.get("contactEmails", [])}
        if expected <= emails:
            break
        time.sleep(0.3)
    print(f"\nPlutio sandbox now holds {len(people)} person(s):")
    for person in people:
        addresses = ", ".join(e["address"] for e in person.get("contactEmails", []))
        name = person.get("name", {})
        print(f"  {person['_id']}  {name.get('first')} {name.get('last')}  <{addresses}>")
    return people
