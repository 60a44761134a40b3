"""A Plane sandbox on a real loopback server (one per mode), and the connector's calls."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from pydantic import SecretStr

from connectors.plane import CONNECTOR
from connectors.plane.api import PlaneApi
from connectors.plane.sandbox import PlaneSandboxConfig, create_app
from connectors.plane.settings import PlaneSettings
from hub.core.settings import Settings
from hub.sandbox.clock import FakeClock
from tests.support.sandboxes import Served, operate, serve

KEY = "plane_api_sandbox"

#: the hub settings the connector is built with
HUB = Settings()


def settings_for(served: Served, **extra: Any) -> PlaneSettings:
    values: dict[str, Any] = {
        "base_url": served.url,
        "api_key": SecretStr(KEY),
        "workspace_slug": "sandbox",
        **extra,
    }
    return PlaneSettings(**values)


@pytest.fixture(scope="module")
def served(sandbox_mode: str) -> Iterator[Served]:
    app = create_app(PlaneSandboxConfig(quota_limit=1000), clock=FakeClock(), rng=random.Random(3))
    with serve(app) as sandbox:
        yield sandbox


@pytest.fixture
def plane(served: Served, redis_client: redis.Redis) -> Served:
    served.control("POST", "reset")
    return served


def op(api: PlaneApi, uses: str, /, **args: Any) -> Any:
    return operate(CONNECTOR, api, uses, **args)


def project(api: PlaneApi) -> str:
    project_id: str = op(api, "projects.create", name="Ops", identifier="OPS")["id"]
    return project_id
