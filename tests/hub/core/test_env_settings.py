"""Settings classes by environment name: which variable sets which field, and isolation."""

from __future__ import annotations

import pytest
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from hub.core.env_settings import env_name, env_names, isolated
from hub.core.settings import ConnectorSettings, Settings


class Base(ConnectorSettings):
    timeout_seconds: float = 30.0


class Acme(Base):
    model_config = SettingsConfigDict(env_prefix="ACME_")

    base_url: str = "https://acme.example"
    port: int = Field(default=9, validation_alias="HUB_ACME_PORT")


def test_each_field_is_named_by_prefix_or_alias_own_fields_first() -> None:
    assert env_names(Acme) == {
        "ACME_BASE_URL": "base_url",
        "HUB_ACME_PORT": "port",
        "ACME_TIMEOUT_SECONDS": "timeout_seconds",
    }
    assert env_name(Settings, "hub_redis_url") == "HUB_REDIS_URL"


def test_the_environment_reads_those_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACME_BASE_URL", "https://env.example")
    monkeypatch.setenv("HUB_ACME_PORT", "7")
    read = Acme()
    assert (read.base_url, read.port) == ("https://env.example", 7)
    assert Acme(port=8).port == 8  # a field is also given by its name


def test_isolated_reads_the_values_given_and_nothing_else(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ACME_BASE_URL", "https://env.example")
    monkeypatch.setenv("ACME_TIMEOUT_SECONDS", "3")
    given = isolated(Acme, {"hub_acme_port": "5", "OTHER_THING": "x", "ACME_TIMEOUT_SECONDS": 4})
    assert isinstance(given, Acme)
    assert (given.base_url, given.port, given.timeout_seconds) == ("https://acme.example", 5, 4.0)
    assert isolated(Settings, {"HUB_STEP_MAX_ATTEMPTS": 2}).hub_step_max_attempts == 2
