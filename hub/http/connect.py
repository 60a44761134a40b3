"""What every connector's ``build`` shares: required settings, and its client on a budget.

A connector says which settings it needs (:func:`require_settings`) and describes its
upstream as an :class:`Upstream`; :func:`connect` gives the :class:`ApiClient` that takes
its quota slots from the cluster-wide Redis budget, so no connector wires quota, timeouts
or transports by hand.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from hub.errors import ConfigError
from hub.http.client import ApiClient
from hub.http.quota import Budget, Quota, RedisQuota

__all__ = ["Upstream", "connect", "require_settings", "upstream_from_settings"]


def require_settings(service: str, values: Mapping[str, object], hint: str = "") -> None:
    """:class:`ConfigError` naming every setting in ``values`` that is empty."""
    missing = [name for name, value in values.items() if not value]
    if missing:
        extra = f" ({hint})" if hint else ""
        raise ConfigError(f"{service} is not configured: set {', '.join(missing)}{extra}")


@dataclass(frozen=True)
class Upstream:
    """An upstream API as one connector client sees it."""

    service: str
    base_url: str
    budget: Budget
    timeout: float = 30.0
    headers: Mapping[str, str] = field(default_factory=dict)


def upstream_from_settings(
    settings: Any,
    prefix: str,
    *,
    service: str,
    base_url: str,
    budget_key: str,
    headers: Mapping[str, str] | None = None,
) -> Upstream:
    """An :class:`Upstream` from a connector's ``<prefix>_quota_limit``,
    ``<prefix>_quota_window_seconds`` and ``<prefix>_timeout_seconds`` settings."""
    return Upstream(
        service=service,
        base_url=base_url,
        budget=Budget(
            budget_key,
            int(getattr(settings, f"{prefix}_quota_limit")),
            float(getattr(settings, f"{prefix}_quota_window_seconds")),
        ),
        timeout=float(getattr(settings, f"{prefix}_timeout_seconds")),
        headers=dict(headers or {}),
    )


def connect(
    upstream: Upstream,
    redis: Any,
    auth: httpx.Auth | None,
    *,
    transport: httpx.BaseTransport | None = None,
    quota: Quota | None = None,
) -> ApiClient:
    """The client for ``upstream``: ``auth``, and its budget kept in ``redis`` (or ``quota``)."""
    return ApiClient(
        service=upstream.service,
        base_url=upstream.base_url,
        auth=auth,
        headers=upstream.headers,
        quota=quota or RedisQuota(redis, upstream.budget),
        timeout=upstream.timeout,
        transport=transport,
    )
