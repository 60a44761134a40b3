"""deploy/compose.tls.yaml: Redis over TLS with ACL users; its rules are redis-users.acl's,
and the configuration it gives Redis loads in a real server built with TLS."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml

from hub.core.redis_server import free_port
from tests.deploy.files import DEPLOY
from tests.support.redis_tls import hub_acl_rules, make_certificates, tls_server_binary

OVERRIDE = DEPLOY / "compose.tls.yaml"


def _override() -> dict[str, Any]:
    data = yaml.safe_load(OVERRIDE.read_text())
    assert isinstance(data, dict)
    return data


def _stdin_config() -> str:
    script = "\n".join(_override()["services"]["redis"]["command"])
    match = re.search(r"<<\s*'?EOF'?\n(.*?)^\s*EOF$", script, re.S | re.M)
    assert match, script
    return "\n".join(line.strip() for line in match.group(1).splitlines()).replace("$$", "$")


def test_the_hub_user_has_the_rules_of_redis_users_acl() -> None:
    (line,) = [x for x in _stdin_config().splitlines() if x.startswith("user hub ")]
    assert line.split(" ", 4)[4] == hub_acl_rules()
    assert "user default off" in _stdin_config()


def test_every_hub_service_gets_the_ca_file() -> None:
    services = _override()["services"]
    for name in ("ingress", "worker", "beat", "flower"):
        mounts = services[name]["volumes"]
        assert "./tls/ca.pem:/etc/hub/tls/ca.pem:ro" in mounts, name
    assert "HUB_REDIS_CA_FILE=/etc/hub/tls/ca.pem" in OVERRIDE.read_text()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")
def test_the_tls_config_loads_and_only_speaks_tls(tmp_path: Path) -> None:
    binary = tls_server_binary()
    if binary is None:
        pytest.skip("no Redis server built with TLS (Debian's redis-server is)")
    certs = make_certificates(tmp_path / "certs")
    stdin = (
        _stdin_config()
        .replace("$REDIS_PASSWORD", "admin-pw")
        .replace("$REDIS_HUB_PASSWORD", "hub-pw")
        .replace("/tls/redis.pem", str(certs.cert))
        .replace("/tls/redis.key", str(certs.key))
        .replace("/tls/ca.pem", str(certs.ca))
    )
    port = free_port()
    stdin = stdin.replace("tls-port 6379", f"tls-port {port}")
    conf = tmp_path / "redis.conf"
    conf.write_text(re.sub(r"(?m)^dir .*$", f"dir {tmp_path}", (DEPLOY / "redis.conf").read_text()))
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [binary, str(conf), "--bind", "127.0.0.1", "-"],
            stdin=subprocess.PIPE,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    assert process.stdin is not None
    process.stdin.write(stdin.encode())
    process.stdin.close()
    url = f"rediss://{{}}@127.0.0.1:{port}/0"
    try:
        admin = redis.Redis.from_url(url.format("admin:admin-pw"), ssl_ca_certs=str(certs.ca))
        for _ in range(100):
            if process.poll() is not None:
                pytest.fail(f"server refused the config:\n{log.read_text()}")
            try:
                admin.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        hub = redis.Redis.from_url(url.format("hub:hub-pw"), ssl_ca_certs=str(certs.ca))
        assert hub.set("hub:probe", "1")
        with pytest.raises(redis.exceptions.NoPermissionError):
            hub.flushall()
        with pytest.raises(redis.exceptions.NoPermissionError):
            hub.get("another-app:key")
        with pytest.raises(redis.AuthenticationError):
            redis.Redis.from_url(url.format("default:"), ssl_ca_certs=str(certs.ca)).ping()
        with pytest.raises(redis.ConnectionError):  # no plain-text port
            redis.Redis(port=port, socket_connect_timeout=1, socket_timeout=1).ping()
    finally:
        process.terminate()
        process.wait(10)
