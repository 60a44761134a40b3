"""`hub serve` outside local mode: every source a workflow listens to needs a file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import redis

from hub.core.redis_server import RedisServer
from tests.hub.ingress.conftest import ROOT, write_workflow


def _serve(folder: Path, url: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "PLUTIO_"))}
    environment.update(
        {"HUB_REDIS_URL": url, "HUB_WORKFLOWS": str(folder), "HUB_INGRESS_FSYNC": "everysec"}
    )
    return subprocess.run(
        [sys.executable, "-m", "hub", "serve", "--host", "127.0.0.1", "--port", "9"],
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
    result = _serve(tmp_path, redis_server.url)
    assert result.returncode == 2, result.stderr
    assert "cannot start the ingress" in result.stderr
    assert "source 'shop' has workflows but no file" in result.stderr
    assert str(tmp_path / "sources" / "shop.yaml") in result.stderr
    assert "auth: {scheme: none}" in result.stderr
    assert "Traceback" not in result.stderr
