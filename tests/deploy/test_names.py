"""Every setting name and `hub` command the deploy files use exists in the hub itself."""

from __future__ import annotations

import importlib
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path

import pytest
from celery import Celery
from dotenv import dotenv_values

from hub.core.settings import Settings
from tests.deploy.files import (
    DEPLOY,
    ROOT,
    code_in_markdown,
    compose,
    deploy_text_files,
    dockerfile,
    env_names,
    hub_commands,
    hub_commands_in_text,
    k8s_docs,
    pod_spec,
    setting_names,
)

#: HUB_* / PLUTIO_* names in deploy/ that are deliberately not hub settings
NOT_SETTINGS = {
    "HUB_VENV": "deploy/dev: which virtualenv the local helper script uses",
    "HUB_TEST_PROCESSES": "deploy/dev: how many test processes `deploy/dev test` runs",
}
#: commands the deploy files already run that the CLI is about to gain
PENDING_COMMANDS: dict[str, str] = {}


def _names_by_file() -> dict[Path, set[str]]:
    found: dict[Path, set[str]] = {}
    for path in deploy_text_files():
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        if names := env_names(text):
            found[path] = names
    return found


def test_every_setting_name_in_deploy_exists_in_settings() -> None:
    known = setting_names() | set(NOT_SETTINGS)
    unknown = sorted(
        f"{path.relative_to(ROOT)}: {name}"
        for path, names in _names_by_file().items()
        for name in names - known
    )
    assert not unknown, (
        "names that are not settings of the hub or a connector (a typo, or a setting to add "
        "there first):\n  " + "\n  ".join(unknown)
    )


def test_the_name_scan_sees_every_kind_of_deploy_file() -> None:
    by_file = {p.relative_to(DEPLOY).as_posix(): names for p, names in _names_by_file().items()}
    for file in (
        "Dockerfile",
        "compose.yaml",
        ".env.example",
        "GUIDE.md",
        "k8s/configmap.yaml",
        "k8s/secret.example.yaml",
        "k8s/worker.yaml",
    ):
        assert file in by_file, f"no setting names found in deploy/{file}"
    assert "HUB_REDIS_URL" in by_file[".env.example"]
    assert "PLUTIO_CLIENT_SECRET" in by_file["k8s/worker.yaml"]


def test_ignored_names_are_still_used() -> None:
    used = set().union(*_names_by_file().values())
    assert set(NOT_SETTINGS) <= used, "drop exceptions nobody needs any more"
    assert not set(NOT_SETTINGS) & setting_names()


# --- values ------------------------------------------------------------------------------


def _settings_from(values: Mapping[str, str | None], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings read from exactly ``values`` as the environment (no .env file)."""
    for name in list(os.environ):
        if name.upper().startswith(("HUB_", "PLUTIO_")):
            monkeypatch.delenv(name)
    for name, value in values.items():
        if value is not None:
            monkeypatch.setenv(name, value)
    return Settings(_env_file=None)


def test_env_example_values_are_valid_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    values = dotenv_values(DEPLOY / ".env.example", interpolate=False)
    settings = _settings_from(values, monkeypatch)
    assert settings.hub_redis_url and settings.hub_redis_url.startswith("redis://")
    assert settings.hub_flower_basic_auth is not None
    assert set(settings.hub_secrets) == {
        "CRM_SIGNING_KEY",
        "HUBSPOT_CLIENT_SECRET",
        "PIPEDRIVE_WEBHOOK_AUTH",
    }
    assert settings.hub_log_format == "json"
    password = values["REDIS_PASSWORD"]
    assert f":{password}@" in settings.hub_redis_url, "one Redis password in both variables"


def test_k8s_config_and_secret_values_are_valid_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    docs = {(d.kind, d.name): d.body for d in k8s_docs()}
    values = {
        **docs[("ConfigMap", "hub-config")]["data"],
        **docs[("Secret", "hub-secrets")]["stringData"],
    }
    assert all(isinstance(v, str) for v in values.values()), "ConfigMap values are strings"
    settings = _settings_from(values, monkeypatch)
    assert str(settings.hub_workflows) == "/app/workflows"
    assert settings.hub_ingress_host == "0.0.0.0"
    assert settings.hub_log_format == "json"


def test_dockerfile_and_compose_values_are_valid_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    values: dict[str, str | None] = {}
    for ins in dockerfile():
        if ins.keyword == "ENV":
            for word in ins.words():
                name, _, value = word.partition("=")
                values[name] = value
    for service in compose()["services"].values():
        env = service.get("environment") or {}
        values.update({k: str(v) for k, v in env.items() if "${" not in str(v)})
    settings = _settings_from(values, monkeypatch)
    assert str(settings.hub_workflows) == "/app/workflows"


# --- commands ----------------------------------------------------------------------------


def _commands_used() -> dict[str, set[str]]:
    """``hub`` commands per deploy file."""
    used: dict[str, set[str]] = {}

    def add(where: str, command: str) -> None:
        used.setdefault(command, set()).add(where)

    for ins in dockerfile():
        if ins.keyword == "CMD":
            add("Dockerfile CMD", json.loads(ins.args)[0])
    for command in hub_commands_in_text((DEPLOY / "Dockerfile").read_text()):
        add("Dockerfile comments", command)
    for name, service in compose()["services"].items():
        if "build" in service:  # the services that run the hub image
            add(f"compose.yaml {name}", service["command"][0])
    for doc in k8s_docs():
        if doc.kind in ("Deployment", "StatefulSet"):
            for container in pod_spec(doc)["containers"]:
                if container["image"].startswith("registry.example.com/hub:"):
                    add(str(doc), container["args"][0])
    for code in code_in_markdown((DEPLOY / "GUIDE.md").read_text()):
        for command in hub_commands_in_text(code):
            add("GUIDE.md", command)
    return used


def test_every_hub_command_used_in_deploy_exists() -> None:
    used = _commands_used()
    assert {"serve", "worker", "flower", "beat"} <= set(used), "the scan finds the processes"
    unknown = {
        command: sorted(where)
        for command, where in used.items()
        if command not in hub_commands() and command not in PENDING_COMMANDS
    }
    assert not unknown, f"not commands of hub.cli.app.cli: {unknown}"


def test_probe_commands_name_a_real_celery_app() -> None:
    """`celery -A hub.worker.celery_app ...` in the worker checks imports a Celery app."""
    texts = [(DEPLOY / f).read_text() for f in ("compose.yaml", "k8s/worker.yaml", "GUIDE.md")]
    targets = {t for text in texts for t in re.findall(r"celery -A ([\w.]+)", text)}
    assert targets == {"hub.worker.celery_app"}
    for target in targets:
        assert isinstance(importlib.import_module(target).app, Celery)
