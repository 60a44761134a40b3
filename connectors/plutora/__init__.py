"""Plutora: releases, changes, systems and environments, on the shared HTTP layer."""

from __future__ import annotations

from typing import Any

from connectors.plutora import sandbox
from connectors.plutora.api import build_api
from connectors.plutora.resources import OPERATIONS
from connectors.plutora.sandbox_rules import ENTITIES
from connectors.plutora.settings import PlutoraSettings
from hub.connector import Connector
from hub.sandbox import Sandbox

__all__ = ["CONNECTOR", "SANDBOX"]


def _sandbox_env(url: str, config: Any) -> dict[str, str]:
    """The settings that point the connector at a sandbox at ``url``, as its first user."""
    username, password = next(iter(config.users.items()))
    return {
        "PLUTORA_AUTH_URL": f"{url}{sandbox.TOKEN_PATH}",
        "PLUTORA_BASE_URL": url,
        "PLUTORA_CLIENT_ID": config.client_id,
        "PLUTORA_CLIENT_SECRET": config.client_secret,
        "PLUTORA_USERNAME": username,
        "PLUTORA_PASSWORD": password,
    }


SANDBOX: Sandbox[PlutoraSettings] = Sandbox(
    create_app=sandbox.create_app,
    config=sandbox.PlutoraSandboxConfig,
    env_prefix=sandbox.ENV_PREFIX,
    port=lambda settings: settings.sandbox_port,
    port_setting="HUB_PLUTORA_SANDBOX_PORT",
    configured=lambda settings: settings.has_credentials,
    env=_sandbox_env,
    resources=frozenset(ENTITIES),
    present=sandbox.NAMING.show,
    accept=sandbox.NAMING.take,
)

CONNECTOR = Connector(
    name="plutora",
    operations=OPERATIONS,
    settings=PlutoraSettings,
    build=build_api,
    sandbox=SANDBOX,
)
