"""What every connector's ``build`` shares: required settings, and its client on a budget.

A connector says which settings it needs (:func:`require_fields`) and declares its client
as a :class:`~hub.http.client_spec.ClientSpec`; :func:`build_client` gives the
:class:`ApiClient` that takes its quota slots from the cluster-wide Redis budget, so no
connector wires quota, timeouts, auth or transports by hand. Underneath, an
:class:`Upstream` is what :func:`connect` builds a client for, and an upstream whose calls
carry a token from an OAuth 2 grant gets its auth from :func:`token_auth`: one token in
Redis for the whole cluster, fetched single-flight, refusals explained.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from pydantic_settings import BaseSettings

from hub.core import ConfigError, FatalError, Settings, env_name
from hub.http.auth import CachedTokenAuth, RedisTokenCache
from hub.http.breaker import NO_BREAKER, Breaker, BreakerPolicy, NoBreaker, RedisBreaker
from hub.http.budget_set import BudgetSet
from hub.http.budgets import QuotaSettings, budget_from_settings
from hub.http.client import ApiClient
from hub.http.client_spec import ClientSpec, HeaderKey, OAuthToken
from hub.http.grants import FormGrant, GuardedTokenAuth, RedisRefusalMemo
from hub.http.keyauth import HeaderKeyAuth
from hub.http.pagination import Paginator
from hub.http.quota import Budget, Quota, RedisQuota
from hub.http.ratelimit import RETRY_AFTER_ONLY, RateLimitReader

__all__ = [
    "Upstream",
    "build_client",
    "connect",
    "require_fields",
    "require_settings",
    "token_auth",
    "upstream_for",
]


def require_settings(service: str, values: Mapping[str, object], hint: str = "") -> None:
    """:class:`ConfigError` naming every setting in ``values`` that is empty."""
    missing = [name for name, value in values.items() if not value]
    if missing:
        extra = f" ({hint})" if hint else ""
        raise ConfigError(f"{service} is not configured: set {', '.join(missing)}{extra}")


def require_fields(
    service: str, settings: BaseSettings, fields: Iterable[str], hint: str = ""
) -> None:
    """:class:`ConfigError` naming the environment variable of every field of
    ``settings`` in ``fields`` that is empty."""
    require_settings(
        service,
        {env_name(type(settings), name): getattr(settings, name) for name in fields},
        hint,
    )


@dataclass(frozen=True)
class Upstream:
    """An upstream API as one connector client sees it: ``budget``, and the further
    limits every call also counts against (``more_budgets``)."""

    service: str
    base_url: str
    budget: Budget
    timeout: float = 30.0
    headers: Mapping[str, str] = field(default_factory=dict)
    rate_limit_headers: RateLimitReader = RETRY_AFTER_ONLY
    ticket_grace_seconds: float = 5.0
    more_budgets: tuple[Budget, ...] = ()
    #: when its circuit breaker opens (none by default)
    breaker_policy: BreakerPolicy = NO_BREAKER

    def breaker(self, redis: Any) -> Breaker:
        """The cluster-wide circuit breaker of this upstream's API client (keyed like
        its budget), kept in ``redis``."""
        if not self.breaker_policy.enabled:
            return NoBreaker()
        return RedisBreaker(redis, self.budget.key, self.breaker_policy)

    def quota(self, redis: Any) -> Quota:
        """The cluster-wide quota of this upstream's budget(s), kept in ``redis``."""
        quotas = [
            RedisQuota(
                redis,
                budget,
                lease_seconds=4 * self.timeout + 10,  # a call's lease outlives its timeouts
                ticket_grace_seconds=self.ticket_grace_seconds,
            )
            for budget in (self.budget, *self.more_budgets)
        ]
        return quotas[0] if len(quotas) == 1 else BudgetSet(quotas)


def upstream_for(spec: ClientSpec, settings: QuotaSettings, hub: Settings) -> Upstream:
    """The :class:`Upstream` of ``spec``: its budget and timeout from the connector's
    ``settings``, how long a quota ticket keeps its place and when its circuit breaker
    opens from the hub's."""
    return Upstream(
        service=spec.service,
        base_url=spec.base_url,
        budget=budget_from_settings(settings, spec.budget_key),
        timeout=settings.timeout_seconds,
        headers=dict(spec.headers),
        rate_limit_headers=spec.rate_limit_headers,
        ticket_grace_seconds=hub.hub_quota_ticket_grace_seconds,
        more_budgets=spec.more_budgets,
        breaker_policy=BreakerPolicy.from_settings(hub, call_timeout=settings.timeout_seconds),
    )


def connect(
    upstream: Upstream,
    redis: Any,
    auth: httpx.Auth | None,
    *,
    transport: httpx.BaseTransport | None = None,
    quota: Quota | None = None,
    now: Callable[[], float] = time.time,
    paginator: Paginator | None = None,
    explain: Callable[[FatalError], FatalError] | None = None,
    breaker: Breaker | None = None,
) -> ApiClient:
    """The client for ``upstream``: ``auth``, and its budget and circuit breaker kept in
    ``redis`` (or ``quota``, ``breaker``).

    ``now`` is the wall clock the upstream's rate-limit headers are read on;
    ``paginator`` and ``explain`` are the client's (see :class:`ApiClient`).
    """
    return ApiClient(
        service=upstream.service,
        base_url=upstream.base_url,
        auth=auth,
        headers=upstream.headers,
        quota=quota or upstream.quota(redis),
        timeout=upstream.timeout,
        transport=transport,
        rate_limit_headers=upstream.rate_limit_headers,
        now=now,
        paginator=paginator,
        explain=explain,
        breaker=breaker or upstream.breaker(redis),
        # the books of a quota and breaker given from elsewhere may not be in ``redis``
        books=redis if quota is None and breaker is None else None,
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


def build_client(
    spec: ClientSpec,
    settings: QuotaSettings,
    hub: Settings,
    redis: Any,
    *,
    transport: httpx.BaseTransport | None = None,
    quota: Quota | None = None,
    now: Callable[[], float] = time.time,
) -> ApiClient:
    """The client a connector declared in ``spec``, on its budget in ``redis``.

    ``settings`` are the connector's (quota, timeout), ``hub`` the hub's. ``transport``
    and ``quota`` are for tests; ``now`` is the wall clock token expiry and rate-limit
    headers are read on.
    """
    upstream = upstream_for(spec, settings, hub)
    return connect(
        upstream,
        redis,
        _auth(spec, upstream, redis, now),
        transport=transport,
        quota=quota,
        now=now,
        paginator=spec.paginator,
        explain=spec.explain,
    )


def _auth(
    spec: ClientSpec, upstream: Upstream, redis: Any, now: Callable[[], float]
) -> httpx.Auth | None:
    auth = spec.auth
    if isinstance(auth, HeaderKey):
        return HeaderKeyAuth(auth.header, auth.key)
    if isinstance(auth, OAuthToken):
        grant = FormGrant(
            auth.token_url,
            auth.form,
            service=spec.service,
            default_ttl_seconds=auth.default_ttl_seconds,
            hints=auth.hints,
            now=now,
        )
        refusals = None
        if auth.refusal_hold_seconds > 0:
            key = auth.refusal_key or f"hub:grant-refused:{spec.budget_key}"
            refusals = RedisRefusalMemo(redis, key, auth.refusal_hold_seconds)
        return token_auth(
            upstream, redis, grant, cache_key=auth.cache_key, refusals=refusals, now=now
        )
    return None
