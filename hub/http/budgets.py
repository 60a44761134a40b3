"""Budgets from settings: one per connector and API client, named ``<connector>:<client id>``.

A connector whose upstream has a quota gives its settings class the fields of
:class:`QuotaSettings` (``<PREFIX>QUOTA_LIMIT``, ``<PREFIX>QUOTA_WINDOW_SECONDS``,
``<PREFIX>QUOTA_RESERVE_PERCENT``, ``<PREFIX>TIMEOUT_SECONDS``), setting its upstream's
defaults; :func:`budget_from_settings` reads them the same way for every connector (its
quota is then built by :func:`hub.http.upstream.build_client`).
"""

from __future__ import annotations

from pydantic import Field

from hub.core import ConfigError, ConnectorSettings, env_name
from hub.http.quota import Budget

__all__ = ["QuotaSettings", "budget_from_settings"]


class QuotaSettings(ConnectorSettings):
    """The settings every connector with a quota has; a subclass gives its own defaults
    (``quota_limit: int = Field(default=60, ...)``) and its ``env_prefix``."""

    quota_limit: int = Field(description="Calls per window per API client.")
    quota_window_seconds: float = Field(description="Quota window.")
    quota_reserve_percent: float = Field(
        default=0.0,
        ge=0,
        lt=100,
        description="Share of the quota the hub leaves for other users of the same API client.",
    )
    timeout_seconds: float = Field(default=30.0, description="Per-request timeout.")


def budget_from_settings(settings: QuotaSettings, key: str) -> Budget:
    """The budget named ``key`` (``<connector>:<client id>``) from ``settings``' quota fields."""
    try:
        return Budget(
            key,
            settings.quota_limit,
            settings.quota_window_seconds,
            settings.quota_reserve_percent,
        )
    except ValueError as exc:
        names = ", ".join(
            env_name(type(settings), name)
            for name in ("quota_limit", "quota_window_seconds", "quota_reserve_percent")
        )
        raise ConfigError(f"{exc}: check {names}") from exc
