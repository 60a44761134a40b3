"""Config models read from prefixed environment variables."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, Field

from hub.sandbox.envconfig import config_from_env


class _Sub(BaseModel):
    name: str


class _Config(BaseModel):
    limit: int = 10
    rate: float = 0.0
    label: str = "x"
    names: list[str] = Field(default_factory=lambda: ["a"])
    subs: list[_Sub] = Field(default_factory=list)


def test_defaults_without_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("T_SANDBOX_LIMIT", raising=False)
    assert config_from_env(_Config, "T_SANDBOX_") == _Config()


def test_variables_override_and_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("T_SANDBOX_LIMIT", "3")
    monkeypatch.setenv("T_SANDBOX_RATE", "0.25")
    monkeypatch.setenv("T_SANDBOX_LABEL", "123")
    monkeypatch.setenv("T_SANDBOX_NAMES", '["b", "c"]')
    monkeypatch.setenv("T_SANDBOX_SUBS", '[{"name": "s"}]')
    monkeypatch.setenv("T_SANDBOX_UNRELATED", "ignored")
    config = config_from_env(_Config, "T_SANDBOX_")
    assert config == _Config(
        limit=3, rate=0.25, label="123", names=["b", "c"], subs=[_Sub(name="s")]
    )
    assert type(config) is _Config
