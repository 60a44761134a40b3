"""deploy/compose.sentinel.yaml: a replica and three sentinels; the configuration it gives
each loads in real processes (compose's host names and ports swapped for loopback ones),
and the hub reaches the primary through the HUB_REDIS_URL the file documents."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest
import redis
import yaml

from hub.core.redis_connect import redis_client, sentinel_address
from hub.core.redis_server import find_server_binary, free_port
from hub.core.settings import Settings
from tests.deploy.files import DEPLOY
from tests.support.processes import wait_for

OVERRIDE = DEPLOY / "compose.sentinel.yaml"
PASSWORD = "sentinel-test-password"
SENTINELS = ("sentinel-1", "sentinel-2", "sentinel-3")


def _override() -> dict[str, Any]:
    data = yaml.safe_load(OVERRIDE.read_text())
    assert isinstance(data, dict)
    return data


def _documented_url() -> str:
    (line,) = re.findall(r"HUB_REDIS_URL=(\S+)", OVERRIDE.read_text())
    return str(line)


def _script(service: str) -> str:
    return str(_override()["services"][service]["command"][2]).replace("$$", "$")


def _heredoc(script: str) -> str:
    match = re.search(r"<<\s*EOF\n(.*?)^\s*EOF$", script, re.S | re.M)
    assert match, script
    return "\n".join(line.strip() for line in match.group(1).splitlines())


def test_the_documented_url_names_the_three_sentinels_and_the_monitored_primary() -> None:
    address = sentinel_address(_documented_url().replace("<REDIS_PASSWORD>", PASSWORD))
    assert address is not None and address.password == PASSWORD
    assert address.sentinels == tuple((name, 26379) for name in SENTINELS)
    monitor = re.search(r"sentinel monitor (\S+) redis 6379 2", _heredoc(_script("sentinel-1")))
    assert monitor and monitor[1] == address.service
    assert "HUB_INGRESS_MIN_REPLICAS_ACKED=1" in OVERRIDE.read_text()


def test_each_sentinel_has_its_own_name_and_state() -> None:
    services = _override()["services"]
    volumes = [services[name]["volumes"][0] for name in SENTINELS]
    assert len(set(volumes)) == 3 and all(v.endswith(":/data") for v in volumes)
    assert [services[name]["environment"]["SENTINEL_NAME"] for name in SENTINELS] == list(SENTINELS)
    for hub_service in ("ingress", "worker", "beat", "flower"):
        assert set(services[hub_service]["depends_on"]) == set(SENTINELS)


class _Local:
    """The compose file's Redis servers and sentinels, as loopback processes."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.binary = find_server_binary()
        self.primary, self.replica = free_port(), free_port()
        self.sentinels = [free_port() for _ in SENTINELS]
        self.processes: list[subprocess.Popen[bytes]] = []

    def _local(self, text: str) -> str:
        text = text.replace("$REDIS_PASSWORD", PASSWORD)
        text = re.sub(r"replica-announce-ip \S+", "replica-announce-ip 127.0.0.1", text)
        text = text.replace("redis 6379", f"127.0.0.1 {self.primary}")
        return text.replace("announce-ip $SENTINEL_NAME", "announce-ip 127.0.0.1")

    def _log(self, name: str) -> IO[bytes]:
        return (self.folder / f"{name}.log").open("wb")

    def start_redis(self, service: str, port: int) -> None:
        folder = self.folder / service
        folder.mkdir()
        conf = folder / "redis.conf"
        base = (DEPLOY / "redis.conf").read_text()
        conf.write_text(re.sub(r"(?m)^dir .*$", f"dir {folder}", base))
        command = [self.binary, str(conf), "--bind", "127.0.0.1", "--port", str(port), "-"]
        stdin = subprocess.PIPE
        process = subprocess.Popen(command, stdin=stdin, stdout=self._log(service), stderr=-2)
        assert process.stdin is not None
        process.stdin.write(self._local(_heredoc(_script(service))).encode())
        process.stdin.close()
        self.processes.append(process)

    def start_sentinel(self, number: int) -> None:
        conf = self.folder / f"sentinel{number}.conf"
        text = self._local(_heredoc(_script(SENTINELS[number])))
        conf.write_text(text.replace("port 26379", f"port {self.sentinels[number]}"))
        log = self._log(f"sentinel{number}")
        command = [self.binary, str(conf), "--sentinel", "--bind", "127.0.0.1"]
        self.processes.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT))

    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{port}" for port in self.sentinels)
        return re.sub(r"@\S+?/", f"@{hosts}/", _documented_url()).replace(
            "<REDIS_PASSWORD>", PASSWORD
        )

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
            process.wait(10)


@pytest.fixture
def local(tmp_path: Path) -> Iterator[_Local]:
    group = _Local(tmp_path)
    try:
        group.start_redis("redis", group.primary)
        group.start_redis("redis-replica", group.replica)
        for number in range(len(SENTINELS)):
            group.start_sentinel(number)
        yield group
    finally:
        group.stop()


def test_the_configs_load_and_the_hub_reaches_the_primary_through_them(local: _Local) -> None:
    def sentinels_agree() -> bool:
        try:
            state: Any = redis.Redis(port=local.sentinels[2]).sentinel_master("hubprimary")
        except redis.RedisError:
            return False
        return bool(state["num-slaves"] == 1 and state["num-other-sentinels"] == 2)

    wait_for(sentinels_agree, 30, "the sentinels to see the replica and each other")
    client = redis_client(Settings(), local.url())
    assert client.set("hub:probe", "1")
    assert client.execute_command("WAIT", 1, 5000) == 1  # the replica took the write
    replica = redis.Redis(port=local.replica, password=PASSWORD)
    assert replica.get("hub:probe") == b"1"
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=local.primary).ping()
