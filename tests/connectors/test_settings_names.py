"""Each connector's settings keep the environment names operators and deploy files use."""

from __future__ import annotations

import pytest

from hub.connector.registry import get_connector
from hub.core.env_settings import env_names


@pytest.fixture(scope="module", autouse=True)
def sandbox_mode() -> str:
    """No sandbox in these tests: they run once."""
    return "none"


NAMES = {
    "plutio": {
        "PLUTIO_BASE_URL",
        "PLUTIO_CLIENT_ID",
        "PLUTIO_CLIENT_SECRET",
        "PLUTIO_BUSINESS",
        "PLUTIO_QUOTA_LIMIT",
        "PLUTIO_QUOTA_WINDOW_SECONDS",
        "PLUTIO_QUOTA_RESERVE_PERCENT",
        "PLUTIO_TIMEOUT_SECONDS",
        "HUB_SANDBOX_PORT",
    },
    "plane": {
        "PLANE_BASE_URL",
        "PLANE_API_KEY",
        "PLANE_WORKSPACE_SLUG",
        "PLANE_QUOTA_LIMIT",
        "PLANE_QUOTA_WINDOW_SECONDS",
        "PLANE_TIMEOUT_SECONDS",
        "HUB_PLANE_SANDBOX_PORT",
    },
    "plutora": {
        "PLUTORA_REGION",
        "PLUTORA_AUTH_URL",
        "PLUTORA_BASE_URL",
        "PLUTORA_CLIENT_ID",
        "PLUTORA_CLIENT_SECRET",
        "PLUTORA_USERNAME",
        "PLUTORA_PASSWORD",
        "PLUTORA_QUOTA_LIMIT",
        "PLUTORA_QUOTA_WINDOW_SECONDS",
        "PLUTORA_TIMEOUT_SECONDS",
        "PLUTORA_REFUSED_LOGIN_HOLD_SECONDS",
        "HUB_PLUTORA_SANDBOX_PORT",
    },
    "accounting": {
        "ACCOUNTING_EXPORT_DIR",
        "ACCOUNTING_URL",
        "ACCOUNTING_TOKEN",
        "ACCOUNTING_TIMEOUT_SECONDS",
        "HUB_ACCOUNTING_SANDBOX_PORT",
    },
    "hubspot": {
        "HUBSPOT_BASE_URL",
        "HUBSPOT_ACCESS_TOKEN",
        "HUBSPOT_QUOTA_LIMIT",
        "HUBSPOT_QUOTA_WINDOW_SECONDS",
        "HUBSPOT_QUOTA_RESERVE_PERCENT",
        "HUBSPOT_DAILY_LIMIT",
        "HUBSPOT_TIMEOUT_SECONDS",
        "HUB_HUBSPOT_SANDBOX_PORT",
    },
}


@pytest.mark.parametrize("connector", sorted(NAMES))
def test_every_variable_still_sets_its_setting(
    connector: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings_cls = get_connector(connector).settings
    names = env_names(settings_cls)
    assert NAMES[connector] <= set(names)
    monkeypatch.setenv(next(n for n in NAMES[connector] if n.startswith("HUB_")), "9999")
    assert settings_cls().sandbox_port == 9999
