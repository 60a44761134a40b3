from __future__ import annotations

import pytest
import redis

from hub.core.errors import ConfigError
from hub.core.settings import Settings
from hub.http.budgets import budget_from_settings
from hub.http.client_spec import ClientSpec
from hub.http.quota import BUDGETS_KEY
from hub.http.upstream import build_client
from tests.support.thing_settings import ThingSettings


def test_a_budget_from_a_connectors_quota_settings() -> None:
    budget = budget_from_settings(ThingSettings(), "thing:client-1")
    assert budget.key == "thing:client-1"
    assert (budget.limit, budget.window_seconds, budget.reserve_percent) == (1000, 3600, 5)
    assert budget.effective_limit == 950
    scaled = ThingSettings(quota_limit=30, quota_window_seconds=5, quota_reserve_percent=0)
    assert budget_from_settings(scaled, "thing:c").effective_limit == 30


def test_quota_settings_are_read_under_the_connectors_prefix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("THING_QUOTA_LIMIT", "12")
    monkeypatch.setenv("THING_TIMEOUT_SECONDS", "4.5")
    settings = ThingSettings()
    assert (settings.quota_limit, settings.timeout_seconds) == (12, 4.5)


def test_bad_budget_settings_say_which_variables_to_fix() -> None:
    with pytest.raises(ConfigError, match="THING_QUOTA_LIMIT, THING_QUOTA_WINDOW_SECONDS"):
        budget_from_settings(ThingSettings(quota_limit=0), "thing:c")


def test_a_quota_registers_its_budget_for_hub_quota(redis_client: redis.Redis) -> None:
    spec = ClientSpec(service="Thing", base_url="https://t.test", budget_key="thing:c")
    assert not redis_client.hexists(BUDGETS_KEY, "thing:c")
    build_client(spec, ThingSettings(), Settings(), redis_client).close()
    assert redis_client.hexists(BUDGETS_KEY, "thing:c")
