"""Real hub processes for end-to-end tests: sandbox, workers, ingress."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from hub.core.redis_server import free_port
from tests.support.signing import SAMPLE_SECRETS

__all__ = [
    "ADMIN_TOKEN",
    "SAMPLE_OPEN_SOURCES",
    "HubProcesses",
    "quota_env",
    "wait_for",
    "write_open_sources",
]

ROOT = Path(__file__).resolve().parents[2]
#: the HUB_INGRESS_ADMIN_TOKEN of a test hub (its views answer 401 without it)
ADMIN_TOKEN = "test-admin-token-0001"
#: the sample workflows' sources that have no file in workflows/sources
SAMPLE_OPEN_SOURCES = ("plutio", "plane", "plutora")


def write_open_sources(folder: Path, names: Iterable[str]) -> None:
    """An ``auth: {scheme: none}`` file in the sources ``folder`` for each of ``names``
    that has none: a hub served without local mode takes deliveries for them from anyone
    because a file says so, as a deploy must say it."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        path = folder / f"{name}.yaml"
        if not path.exists():
            path.write_text("# test hub: anyone may post\nauth: { scheme: none }\n")


def wait_for(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def _http_ok(url: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return httpx.get(url, timeout=1.0).status_code < 500
        except httpx.HTTPError:
            return False

    return check


def quota_env(limit: int, window: float) -> dict[str, str]:
    """The hub's Plutio budget and the sandbox's quota, set alike, no reserve."""
    return {
        "PLUTIO_QUOTA_LIMIT": str(limit),
        "PLUTIO_QUOTA_WINDOW_SECONDS": str(window),
        "PLUTIO_QUOTA_RESERVE_PERCENT": "0",
        "PLUTIO_SANDBOX_QUOTA_LIMIT": str(limit),
        "PLUTIO_SANDBOX_QUOTA_WINDOW_SECONDS": str(window),
    }


@dataclass
class HubProcesses:
    """Starts hub parts as separate OS processes against one Redis."""

    redis_url: str
    log_dir: Path
    workflows: Path = ROOT / "workflows"
    extra_env: Mapping[str, str] = field(default_factory=dict)
    #: sources the ingress takes from anyone: each gets an ``auth: {scheme: none}`` file
    #: beside the workflow folder's own source files (HUB_SOURCES); the ingress runs as
    #: `hub serve` does in production, with no local mode
    open_sources: tuple[str, ...] = SAMPLE_OPEN_SOURCES
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    sandbox_port: int = 0
    ingress_port: int = 0
    flower_port: int = 0

    @property
    def sources(self) -> Path:
        """The sources folder of this hub: the workflow folder's files and the open ones."""
        folder = self.log_dir / "sources"
        if not folder.is_dir():
            folder.mkdir(parents=True)
            own = self.workflows / "sources"
            for file in sorted(own.glob("*.yaml")) if own.is_dir() else []:
                (folder / file.name).write_bytes(file.read_bytes())
            write_open_sources(folder, self.open_sources)
        return folder

    @property
    def admin_headers(self) -> dict[str, str]:
        """Headers that let a request read the ingress's views."""
        return {"Authorization": f"Bearer {ADMIN_TOKEN}"}

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "HUB_LOCAL_MODE"}
        env.update(
            {
                "HUB_REDIS_URL": self.redis_url,
                "HUB_WORKFLOWS": str(self.workflows),
                "HUB_SOURCES": str(self.sources),
                "HUB_INGRESS_ADMIN_TOKEN": ADMIN_TOKEN,
                "PLUTIO_BASE_URL": f"http://127.0.0.1:{self.sandbox_port}",
                "PLUTIO_CLIENT_ID": "sandbox-client",
                "PLUTIO_CLIENT_SECRET": "sandbox-secret",
                "PLUTIO_BUSINESS": "sandbox",
                "PYTHONUNBUFFERED": "1",
                "HUB_SECRETS": json.dumps(SAMPLE_SECRETS),
                # the session Redis runs without AOF, so there is no fsync to wait for
                "HUB_INGRESS_FSYNC": "everysec",
            }
        )
        env.update(self.extra_env)
        return env

    def _spawn(self, name: str, *args: str, nice: int = 0) -> subprocess.Popen[bytes]:
        # appended, so a part started again under its name keeps the earlier lines
        log: IO[bytes] = (self.log_dir / f"{name}.log").open("ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "hub", *args],
            env=self.env(),
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: kill() takes its children too
            preexec_fn=(lambda: os.nice(nice)) if nice else None,
        )
        self.procs[name] = proc
        return proc

    @property
    def sandbox_url(self) -> str:
        return f"http://127.0.0.1:{self.sandbox_port}"

    @property
    def ingress_url(self) -> str:
        return f"http://127.0.0.1:{self.ingress_port}"

    def start_sandbox(self) -> None:
        self.sandbox_port = self.sandbox_port or free_port()
        self._spawn("sandbox", "sandbox", "plutio", "--port", str(self.sandbox_port))
        wait_for(_http_ok(f"{self.sandbox_url}/_sandbox/calls"), 20, "the sandbox")

    def start_named_sandbox(self, name: str, port: int) -> str:
        """``hub sandbox NAME`` on ``port`` (its settings go in ``extra_env`` first); its URL."""
        self._spawn(f"sandbox-{name}", "sandbox", name, "--port", str(port))
        url = f"http://127.0.0.1:{port}"
        wait_for(_http_ok(f"{url}/_sandbox/calls"), 20, f"the {name} sandbox")
        return url

    def start_ingress(self) -> None:
        self.ingress_port = self.ingress_port or free_port()
        self._spawn("ingress", "serve", "--port", str(self.ingress_port))
        wait_for(_http_ok(f"{self.ingress_url}/healthz"), 30, "the ingress")

    def start_worker(
        self, name: str = "worker", concurrency: int = 2, *, wait: bool = True
    ) -> None:
        if wait:
            self.start_workers([name], concurrency)
        else:
            self.spawn_workers([name], concurrency)

    def spawn_workers(self, names: list[str], concurrency: int = 2, nice: int = 0) -> None:
        """Start ``hub worker`` processes (node names ``<name>@<host>``) without waiting.

        ``nice`` lowers their CPU priority, so that on a small machine they do not
        starve the sandbox that stands in for an upstream on another host.
        """
        for name in names:
            self._spawn(
                name,
                "worker",
                "--concurrency",
                str(concurrency),
                "--hostname",
                f"{name}@%h",
                nice=nice,
            )

    def start_workers(self, names: list[str], concurrency: int = 2) -> None:
        """Start ``hub worker`` processes side by side, then wait until each is ready."""
        logs = {name: self.log_dir / f"{name}.log" for name in names}
        starts = {name: log.stat().st_size if log.exists() else 0 for name, log in logs.items()}
        self.spawn_workers(names, concurrency)
        for name, log in logs.items():
            start = starts[name]
            ready = lambda log=log, start=start: b"ready." in log.read_bytes()[start:]  # noqa: E731
            wait_for(ready, 60, f"{name} to be ready")

    def start_beat(self) -> None:
        """``hub beat``, once it has published the workflows and sent its first ticks."""
        self._spawn("beat", "beat")
        log = self.log_dir / "beat.log"
        wait_for(lambda: b"beat: Starting" in log.read_bytes(), 60, "beat to start")

    def kill(self, name: str) -> None:
        """SIGKILL part ``name`` and every process it started (a worker's pool), at once."""
        proc = self.procs[name]
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def children(self, name: str) -> list[int]:
        """Process ids of the processes part ``name`` started (a worker's pool)."""
        pid = self.procs[name].pid
        try:
            text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
        except OSError:
            return []
        return [int(p) for p in text.split()]

    @property
    def flower_url(self) -> str:
        return f"http://127.0.0.1:{self.flower_port}"

    def start_flower(self) -> None:
        self.flower_port = self.flower_port or free_port()
        self._spawn("flower", "flower", "--port", str(self.flower_port))
        wait_for(_http_ok(f"{self.flower_url}/healthcheck"), 30, "Flower")

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name} ---\n{p.read_text(errors='replace')[-4000:]}"
            for p in sorted(self.log_dir.glob("*.log"))
        )

    @contextmanager
    def running(self, *, workers: int = 2) -> Iterator[HubProcesses]:
        """The spine: the sandbox, the ingress and a worker of ``workers`` processes,
        all stopped on leaving."""
        try:
            self.start_sandbox()
            self.start_ingress()
            self.start_worker(concurrency=workers)
            yield self
        finally:
            self.stop()

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
