"""A Plutio sandbox on a real loopback server, and the connector pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import redis
from pydantic import SecretStr

from connectors.plutio.api import PlutioApi, build_api
from connectors.plutio.operations import OPERATIONS
from connectors.plutio.sandbox import create_app
from connectors.plutio.settings import PlutioSettings
from hub.core.settings import Settings
from hub.sandbox.serve import serve_in_thread

#: the hub settings the connector is built with
HUB = Settings()


class Sandbox:
    """Control routes of a running sandbox."""

    def __init__(self, url: str) -> None:
        self.url = url

    def reset(self) -> None:
        httpx.post(f"{self.url}/_sandbox/reset").raise_for_status()

    def seed(self, data: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
        response = httpx.post(f"{self.url}/_sandbox/seed", json=data)
        response.raise_for_status()
        seeded: dict[str, list[dict[str, Any]]] = response.json()
        return seeded

    def state(self, resource: str) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = httpx.get(f"{self.url}/_sandbox/state/{resource}").json()
        return records

    def calls(self) -> list[dict[str, Any]]:
        calls: list[dict[str, Any]] = httpx.get(f"{self.url}/_sandbox/calls").json()["calls"]
        return calls

    def faults(self, **config: Any) -> None:
        httpx.post(f"{self.url}/_sandbox/faults", json=config).raise_for_status()

    def expire_tokens(self) -> int:
        expired: int = httpx.post(f"{self.url}/_sandbox/expire-tokens").json()["expired"]
        return expired


def plutio_settings(url: str, **extra: Any) -> PlutioSettings:
    values: dict[str, Any] = {
        "base_url": url,
        "client_id": "sandbox-client",
        "client_secret": SecretStr("sandbox-secret"),
        "business": "sandbox",
        "timeout_seconds": 10.0,
        **extra,
    }
    return PlutioSettings(**values)


@pytest.fixture(scope="module")
def sandbox_url(sandbox_mode: str) -> Iterator[str]:
    with serve_in_thread(create_app()) as url:
        yield url


@pytest.fixture
def sandbox(sandbox_url: str) -> Sandbox:
    box = Sandbox(sandbox_url)
    box.reset()
    return box


@pytest.fixture
def api(sandbox: Sandbox, redis_client: redis.Redis) -> Iterator[PlutioApi]:
    built = build_api(plutio_settings(sandbox.url), HUB, redis_client)
    yield built
    built.client.close()


@pytest.fixture
def run(api: PlutioApi) -> Callable[[str, dict[str, Any]], Any]:
    """Run ``people.create`` (etc.) as a step would: validate the arguments, then call."""

    def call(name: str, args: dict[str, Any]) -> Any:
        op = OPERATIONS[name]
        return op.call(api, op.input.model_validate(args))

    return call
