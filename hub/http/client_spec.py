"""A connector's client, declared as data: where its upstream is and how it is spoken to.

A connector's ``build`` describes its upstream with a :class:`ClientSpec` (service name,
base URL, auth, headers, rate-limit headers, paginator, budget key, how refusals are
explained) and :func:`hub.http.upstream.build_client` turns it into the
:class:`~hub.http.client.ApiClient` every connector shares: quota, token cache, timeouts,
retries classification and paging are wired there once. Secrets in a spec never show in
its ``repr``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from hub.core import FatalError
from hub.http.pagination import Paginator
from hub.http.quota import Budget
from hub.http.ratelimit import RETRY_AFTER_ONLY, RateLimitReader

__all__ = ["Auth", "ClientSpec", "HeaderKey", "OAuthToken"]


@dataclass(frozen=True)
class HeaderKey:
    """A fixed key sent in ``header`` with every request (an ``X-API-Key``)."""

    header: str
    key: str = field(repr=False)


@dataclass(frozen=True)
class OAuthToken:
    """A bearer token from a form-encoded OAuth 2 grant, one for the whole cluster.

    ``form`` is the token request's body (:func:`~hub.http.grants.client_credentials_form`,
    :func:`~hub.http.grants.password_form`); an answer without an expiry lives
    ``default_ttl_seconds``; ``hints`` say what to do about the upstream's OAuth error
    codes. The token is cached in Redis under ``cache_key`` (default: ``hub:token:`` and
    the budget key). With ``refusal_hold_seconds``, credentials the upstream refused are
    not sent again for that long (remembered under ``refusal_key``).
    """

    token_url: str
    form: Mapping[str, str] = field(repr=False)
    default_ttl_seconds: float = 3600.0
    hints: Mapping[str, str] = field(default_factory=dict)
    cache_key: str | None = None
    refusal_key: str | None = None
    refusal_hold_seconds: float = 0.0


#: how a client authenticates (``None``: it sends no credentials)
Auth = HeaderKey | OAuthToken | None


def _as_is(error: FatalError) -> FatalError:
    return error


@dataclass(frozen=True)
class ClientSpec:
    """Everything the shared layer needs to build one connector's client.

    ``budget_key`` names the quota (``<connector>:<client id>``); its size and the timeout
    come from the connector's :class:`~hub.http.budgets.QuotaSettings`. An upstream that
    limits a client twice (a burst and a day) names its further limits in
    ``more_budgets``: every call then takes a slot from each
    (:class:`~hub.http.budget_set.BudgetSet`), and ``rate_limit_headers`` may read each
    one's own headers (:class:`~hub.http.ratelimit.PerBudget`). ``paginator`` pages
    :meth:`~hub.http.client.ApiClient.iterate`; ``explain`` turns a refusal into one that
    says what the operator should do.
    """

    service: str
    base_url: str
    budget_key: str
    auth: Auth = None
    headers: Mapping[str, str] = field(default_factory=dict)
    rate_limit_headers: RateLimitReader = RETRY_AFTER_ONLY
    more_budgets: tuple[Budget, ...] = ()
    paginator: Paginator | None = None
    explain: Callable[[FatalError], FatalError] = _as_is
