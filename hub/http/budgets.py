"""Budgets from settings: one per connector and API client, named ``<connector>:<client id>``.

A connector whose settings have ``<prefix>_quota_limit``, ``<prefix>_quota_window_seconds``
and (optionally) ``<prefix>_quota_reserve_percent`` gets its :class:`Budget` here (its
quota is then built by :func:`hub.http.connect.connect`), so every connector reads the
same names the same way.
"""

from __future__ import annotations

from hub.core.errors import ConfigError
from hub.core.settings import Settings
from hub.http.quota import Budget

__all__ = ["budget_from_settings"]


def budget_from_settings(settings: Settings, prefix: str, client_id: str) -> Budget:
    """The budget of API client ``client_id`` from ``<prefix>_quota_*`` settings."""
    try:
        limit = int(getattr(settings, f"{prefix}_quota_limit"))
        window = float(getattr(settings, f"{prefix}_quota_window_seconds"))
    except AttributeError as exc:
        raise ConfigError(f"no quota settings for '{prefix}' ({exc})") from exc
    reserve = float(getattr(settings, f"{prefix}_quota_reserve_percent", 0.0))
    try:
        return Budget(f"{prefix}:{client_id}", limit, window, reserve)
    except ValueError as exc:
        upper = prefix.upper()
        raise ConfigError(
            f"{exc}: check {upper}_QUOTA_LIMIT, {upper}_QUOTA_WINDOW_SECONDS and "
            f"{upper}_QUOTA_RESERVE_PERCENT"
        ) from exc
