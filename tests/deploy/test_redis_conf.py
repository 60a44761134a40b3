"""deploy/redis.conf: AOF, no eviction, no password in the file; it loads in a real server."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from hub.core.redis_server import find_server_binary, free_port
from tests.deploy.files import DEPLOY, compose, k8s_docs, pod_spec

CONF = DEPLOY / "redis.conf"
#: a refused login raises at once (redis-py retries connection errors by default)
NO_RETRY = Retry(NoBackoff(), 0)


def _directives() -> dict[str, str]:
    found: dict[str, str] = {}
    for line in CONF.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition(" ")
            found[name.lower()] = value.strip()
    return found


def _heredoc(script: str) -> str:
    """The config lines a container's shell passes to redis-server on stdin."""
    match = re.search(r"<<\s*'?EOF'?\n(.*?)^EOF$", script, re.S | re.M)
    assert match, f"no here-document in {script!r}"
    return match.group(1)


def test_durable_and_never_evicting() -> None:
    conf = _directives()
    assert conf["appendonly"] == "yes"
    assert conf["appendfsync"] == "always"
    assert conf["maxmemory-policy"] == "noeviction"
    assert conf["dir"] == "/data"
    assert "requirepass" not in conf, "the password never goes into a committed file"


def _stdin_configs() -> dict[str, str]:
    """The stdin config of compose (`$$` escaped) and of the StatefulSet, as sh sees it."""
    compose_script = "\n".join(compose()["services"]["redis"]["command"])
    (statefulset,) = [d for d in k8s_docs() if d.kind == "StatefulSet" and d.name == "redis"]
    k8s_script = "\n".join(pod_spec(statefulset)["containers"][0]["command"])
    return {
        "compose": _heredoc(compose_script).replace("$$", "$"),
        "k8s": _heredoc(k8s_script),
    }


@pytest.mark.parametrize("where", ["compose", "k8s"])
def test_the_config_loads_and_requires_the_password(where: str, tmp_path: Path) -> None:
    """Start a Redis-compatible server on loopback exactly as the containers configure it."""
    password = "s3cret-test-password"
    stdin = _stdin_configs()[where].replace("$REDIS_PASSWORD", password)
    # the same file, with its data folder (/data in the containers) moved to tmp_path
    conf = tmp_path / "redis.conf"
    conf.write_text(re.sub(r"(?m)^dir .*$", f"dir {tmp_path}", CONF.read_text()))
    port = free_port()
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [find_server_binary(), str(conf), "--port", str(port), "--bind", "127.0.0.1", "-"],
            stdin=subprocess.PIPE,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    assert process.stdin is not None
    process.stdin.write(stdin.encode())
    process.stdin.close()
    try:
        client = redis.Redis(port=port, password=password, socket_connect_timeout=0.5)
        for _ in range(100):
            if process.poll() is not None:
                pytest.fail(f"server refused the config:\n{log.read_text()}")
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        assert client.config_get("appendfsync") == {"appendfsync": "always"}
        assert client.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
        for wrong in ("wrong", None):
            with pytest.raises(redis.AuthenticationError):
                redis.Redis(port=port, protocol=2, password=wrong, retry=NO_RETRY).ping()
        client.close()
    finally:
        process.terminate()
        process.wait(10)
