"""Strict mode: a config field every sandbox has, defaulted by ``strict_sandboxes``."""

from __future__ import annotations

import pytest

from hub.sandbox.app import SandboxConfig, strict_sandboxes
from hub.sandbox.envconfig import config_from_env


def test_strict_is_off_unless_asked_for() -> None:
    assert SandboxConfig().strict is False
    with strict_sandboxes():
        assert SandboxConfig().strict is True
        assert SandboxConfig(strict=False).strict is False  # a config that says so wins
        with strict_sandboxes(False):
            assert SandboxConfig().strict is False
    assert SandboxConfig().strict is False


def test_strict_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACME_SANDBOX_STRICT", "true")
    assert config_from_env(SandboxConfig, "ACME_SANDBOX_").strict is True
