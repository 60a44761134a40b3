"""A connector's quota settings, as a connector package declares them (prefix ``THING_``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from hub.http.budgets import QuotaSettings

__all__ = ["ThingSettings"]


class ThingSettings(QuotaSettings):
    model_config = SettingsConfigDict(env_prefix="THING_")

    quota_limit: int = Field(default=1000, description="Calls per window.")
    quota_window_seconds: float = Field(default=3600, description="Quota window.")
    quota_reserve_percent: float = Field(default=5.0, ge=0, lt=100, description="Reserve.")
