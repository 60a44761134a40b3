"""What every connector's ``build`` shares: required settings, and its client on a budget.

A connector says which settings it needs (:func:`require_settings`) and describes its
upstream as an :class:`Upstream`; :func:`connect` gives the :class:`ApiClient` that takes
its quota slots from the cluster-wide Redis budget, so no connector wires quota, timeouts
or transports by hand. An upstream whose calls carry a token from an OAuth 2 grant gets
its auth from :func:`token_auth`: one token in Redis for the whole cluster, fetched
single-flight, refusals explained.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from hub.core.errors import ConfigError
from hub.http.auth import CachedTokenAuth, RedisTokenCache
from hub.http.budgets import budget_from_settings
from hub.http.client import ApiClient
from hub.http.grants import FormGrant, GuardedTokenAuth, RedisRefusalMemo
from hub.http.quota import Budget, Quota, RedisQuota
from hub.http.ratelimit import RETRY_AFTER_ONLY, RateLimitHeaders

__all__ = ["Upstream", "connect", "require_settings", "token_auth", "upstream_from_settings"]


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
    rate_limit_headers: RateLimitHeaders = RETRY_AFTER_ONLY
    ticket_grace_seconds: float = 5.0


def upstream_from_settings(
    settings: Any,
    prefix: str,
    *,
    service: str,
    base_url: str,
    client_id: str,
    headers: Mapping[str, str] | None = None,
    rate_limit_headers: RateLimitHeaders = RETRY_AFTER_ONLY,
) -> Upstream:
    """An :class:`Upstream` from a connector's ``<prefix>_quota_*`` settings (the budget of
    API client ``client_id``, see :mod:`hub.http.budgets`) and ``<prefix>_timeout_seconds``."""
    return Upstream(
        service=service,
        base_url=base_url,
        budget=budget_from_settings(settings, prefix, client_id),
        timeout=float(getattr(settings, f"{prefix}_timeout_seconds")),
        headers=dict(headers or {}),
        rate_limit_headers=rate_limit_headers,
        ticket_grace_seconds=float(getattr(settings, "hub_quota_ticket_grace_seconds", 5.0)),
    )


def connect(
    upstream: Upstream,
    redis: Any,
    auth: httpx.Auth | None,
    *,
    transport: httpx.BaseTransport | None = None,
    quota: Quota | None = None,
    now: Callable[[], float] = time.time,
) -> ApiClient:
    """The client for ``upstream``: ``auth``, and its budget kept in ``redis`` (or ``quota``).

    ``now`` is the wall clock the upstream's rate-limit headers are read on.
    """
    return ApiClient(
        service=upstream.service,
        base_url=upstream.base_url,
        auth=auth,
        headers=upstream.headers,
        quota=quota
        or RedisQuota(
            redis,
            upstream.budget,
            lease_seconds=4 * upstream.timeout + 10,  # a call's lease outlives its timeouts
            ticket_grace_seconds=upstream.ticket_grace_seconds,
        ),
        timeout=upstream.timeout,
        transport=transport,
        rate_limit_headers=upstream.rate_limit_headers,
        now=now,
    )


def token_auth(
    upstream: Upstream,
    redis: Any,
    grant: FormGrant,
    *,
    cache_key: str | None = None,
    refusals: RedisRefusalMemo | None = None,
    now: Callable[[], float] = time.time,
) -> httpx.Auth:
    """Bearer auth for ``upstream`` with tokens from ``grant``, shared by every worker.

    The token is cached in ``redis`` under ``cache_key`` (default: ``hub:token:`` and the
    upstream's budget key, one token per API client) and fetched single-flight; a
    process killed while fetching frees the fetch soon after its request would have
    timed out. A refused token request is explained by ``grant``; with ``refusals``, the
    same credentials are not sent again for a while. ``now`` is the wall clock token
    expiry is read on.
    """
    cache = RedisTokenCache(
        redis,
        cache_key or f"hub:token:{upstream.budget.key}",
        now=now,
        lock_ttl_seconds=upstream.timeout + 5.0,
    )
    tokens = CachedTokenAuth(cache, grant, service=upstream.service)
    return GuardedTokenAuth(tokens, grant, refusals=refusals)
