"""Outside `hub up`'s local mode, whatever the address: `hub serve` needs a file for
every source a workflow listens to, and `hub flower` a login."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import redis

from hub.cli.flower_auth import login_problem
from hub.core.redis_server import RedisServer
from hub.core.settings import Settings
from tests.hub.ingress.conftest import ROOT, write_workflow


def _hub(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "PLUTIO_"))}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-m", "hub", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_serve_refuses_to_start_on_loopback_with_a_source_without_a_file(
    redis_server: RedisServer, redis_client: redis.Redis, tmp_path: Path
) -> None:
    write_workflow(tmp_path, "shop-order", "shop", "order.*")
    result = _hub(
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        "9",
        HUB_REDIS_URL=redis_server.url,
        HUB_WORKFLOWS=str(tmp_path),
        HUB_INGRESS_FSYNC="everysec",
    )
    assert result.returncode == 2, result.stderr
    assert "cannot start the ingress" in result.stderr
    assert "source 'shop' has workflows but no file" in result.stderr
    assert str(tmp_path / "sources" / "shop.yaml") in result.stderr
    assert "auth: {scheme: none}" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("address", ["127.0.0.1", "0.0.0.0"])
def test_flower_refuses_to_start_without_a_login(address: str) -> None:
    result = _hub("flower", "--address", address, "--port", "9", HUB_REDIS_URL="redis://x:9/0")
    assert result.returncode == 2, result.stderr
    assert "Flower needs a login: set HUB_FLOWER_BASIC_AUTH=user:password" in result.stderr


@pytest.mark.parametrize(
    ("values", "address", "open_"),
    [
        ({}, "127.0.0.1", False),
        ({"hub_local_mode": True}, "127.0.0.1", True),
        ({"hub_local_mode": True}, "::1", True),
        ({"hub_local_mode": True}, "0.0.0.0", False),
        ({"hub_flower_basic_auth": "ops:pw"}, "0.0.0.0", True),
    ],
)
def test_flower_runs_without_a_login_only_locally_on_loopback(
    values: dict[str, Any], address: str, open_: bool
) -> None:
    problem = login_problem(Settings(**values), address)
    assert (problem is None) == open_, problem


def test_flower_s_unauthenticated_api_is_refused_outside_local_mode(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FLOWER_UNAUTHENTICATED_API", "true")
    problem = login_problem(Settings(hub_flower_basic_auth="ops:pw"), "127.0.0.1")
    assert problem is not None and "FLOWER_UNAUTHENTICATED_API" in problem
