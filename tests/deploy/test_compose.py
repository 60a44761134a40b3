"""deploy/compose.yaml: the five services, healthchecks, Redis with AOF and a password."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.deploy.files import DEPLOY, compose, secret_setting_names

HUB_SERVICES = ("ingress", "worker", "beat", "flower")


@pytest.fixture(scope="module")
def services() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose()["services"]
    return found


def _command_text(service: dict[str, Any]) -> str:
    command = service.get("command", "")
    return command if isinstance(command, str) else "\n".join(map(str, command))


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    return {str(k): str(v) for k, v in env.items()}


def test_the_services_exist(services: dict[str, dict[str, Any]]) -> None:
    assert set(services) == {"redis", *HUB_SERVICES}


@pytest.mark.parametrize("name", ["redis", *HUB_SERVICES])
def test_every_service_has_a_healthcheck(services: dict[str, dict[str, Any]], name: str) -> None:
    check = services[name].get("healthcheck")
    assert check and check.get("test"), f"{name} has no healthcheck"
    assert not check.get("disable"), f"{name} disables its healthcheck"
    assert check["test"][0] in ("CMD", "CMD-SHELL"), check["test"]
    for key in ("interval", "timeout", "retries"):
        assert key in check, f"{name}: healthcheck without {key}"


@pytest.mark.parametrize("name", HUB_SERVICES)
def test_hub_services_wait_for_a_healthy_redis(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    depends = services[name].get("depends_on")
    assert isinstance(depends, dict), f"{name}: use the long depends_on form with a condition"
    assert depends.get("redis", {}).get("condition") == "service_healthy"


@pytest.mark.parametrize("name", HUB_SERVICES)
def test_hub_services_read_settings_from_deploy_env(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    env_file = services[name].get("env_file")
    files = [env_file] if isinstance(env_file, str) else env_file
    assert files == [".env"], f"{name}: env_file should be deploy/.env"
    assert (DEPLOY / ".env.example").is_file(), "ship deploy/.env.example"


def test_redis_is_official_7_with_aof_password_and_a_volume(
    services: dict[str, dict[str, Any]],
) -> None:
    redis = services["redis"]
    assert re.fullmatch(r"redis:7(\.\d+)*(-[\w.]+)?", redis["image"]), redis["image"]
    command = _command_text(redis)
    # AOF from the mounted redis.conf, the password from the environment
    mounts = {v.split(":")[1]: v.split(":")[0] for v in redis["volumes"]}
    conf_mount = "/usr/local/etc/redis/redis.conf"
    assert conf_mount in command and mounts.get(conf_mount) == "./redis.conf"
    conf = (DEPLOY / "redis.conf").read_text()
    assert re.search(r"(?m)^appendonly yes$", conf)
    assert re.search(r"(?m)^appendfsync always$", conf)
    assert re.search(r'requirepass "?\$\$REDIS_PASSWORD"?', command), (
        "requirepass from $REDIS_PASSWORD (escaped as $$ for compose)"
    )
    assert _environment(redis)["REDIS_PASSWORD"].startswith("${REDIS_PASSWORD:?")
    assert mounts.get("/data") in compose().get("volumes", {}), "/data on a named volume"


def test_redis_healthcheck_authenticates(services: dict[str, dict[str, Any]]) -> None:
    test = " ".join(services["redis"]["healthcheck"]["test"])
    assert "redis-cli" in test and "ping" in test
    assert "REDISCLI_AUTH" in test or " -a " in test, "the ping must authenticate"
    assert "PONG" in test


def test_worker_scales_and_beat_stays_single(services: dict[str, dict[str, Any]]) -> None:
    worker, beat = services["worker"], services["beat"]
    # replicas > 1 or `--scale` need no fixed name and no host port
    for name in ("worker", "beat"):
        assert "container_name" not in services[name] and "ports" not in services[name]
    assert worker.get("deploy", {}).get("replicas", 1) >= 1
    assert beat.get("deploy", {}).get("replicas") == 1


def test_worker_ping_targets_the_worker_node_name(services: dict[str, dict[str, Any]]) -> None:
    worker = services["worker"]
    command = worker["command"]
    node = command[command.index("--hostname") + 1]
    prefix = node.split("@")[0]
    check = " ".join(worker["healthcheck"]["test"])
    assert f"{prefix}@$$HOSTNAME" in check, "ping the node name the worker registers"


def test_flower_requires_basic_auth(services: dict[str, dict[str, Any]]) -> None:
    value = _environment(services["flower"]).get("HUB_FLOWER_BASIC_AUTH", "")
    assert value.startswith("${HUB_FLOWER_BASIC_AUTH:?"), (
        "compose must refuse to start Flower without a login"
    )
    for port in services["flower"].get("ports", []):
        assert str(port).startswith("127.0.0.1:"), "publish Flower on loopback only"


def test_no_secret_values_in_the_compose_file(services: dict[str, dict[str, Any]]) -> None:
    secrets = secret_setting_names() | {"REDIS_PASSWORD"}
    for name, service in services.items():
        for key, value in _environment(service).items():
            if key in secrets:
                assert re.fullmatch(r"\$\{\w+(:?[?-][^}]*)?\}", value), (
                    f"{name}: {key} must come from deploy/.env, not a literal value"
                )
