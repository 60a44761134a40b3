from __future__ import annotations

import pytest
import redis

from hub.core.errors import ConfigError
from hub.core.settings import Settings
from hub.http.budgets import budget_from_settings
from hub.http.connect import connect, upstream_from_settings
from hub.http.quota import BUDGETS_KEY


def test_plutio_budget_from_settings() -> None:
    budget = budget_from_settings(Settings(), "plutio", "client-1")
    assert budget.key == "plutio:client-1"
    assert (budget.limit, budget.window_seconds, budget.reserve_percent) == (1000, 3600, 5)
    assert budget.effective_limit == 950
    scaled = Settings(
        plutio_quota_limit=30, plutio_quota_window_seconds=5, plutio_quota_reserve_percent=0
    )
    assert budget_from_settings(scaled, "plutio", "c").effective_limit == 30


def test_bad_budget_settings_say_which_to_fix() -> None:
    with pytest.raises(ConfigError, match="PLUTIO_QUOTA_LIMIT"):
        budget_from_settings(Settings(plutio_quota_limit=0), "plutio", "c")
    with pytest.raises(ConfigError, match="no quota settings for 'nosuch'"):
        budget_from_settings(Settings(), "nosuch", "c")


def test_a_quota_registers_its_budget_for_hub_quota(redis_client: redis.Redis) -> None:
    upstream = upstream_from_settings(
        Settings(), "plutio", service="Plutio", base_url="https://p.test", client_id="c"
    )
    assert not redis_client.hexists(BUDGETS_KEY, "plutio:c")
    connect(upstream, redis_client, None).close()
    assert redis_client.hexists(BUDGETS_KEY, "plutio:c")
