"""The shared upstream client: auth flows and tokens, the cluster-wide quota, failure
classification and backoff, paging and rate-limit headers. Connectors declare their
client (:mod:`~hub.http.client_spec`); nothing here knows a particular upstream.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hub.core import lazy_exports

if TYPE_CHECKING:
    from hub.http.breaker import (
        BreakerPolicy,
        BreakerStatus,
        NoBreaker,
        RedisBreaker,
        breaker_status,
    )
    from hub.http.budget_set import BudgetSet
    from hub.http.budgets import QuotaSettings
    from hub.http.client import ApiClient
    from hub.http.client_spec import ClientSpec, HeaderKey, OAuthToken
    from hub.http.failures import RetryPolicy
    from hub.http.grants import client_credentials_form, password_form
    from hub.http.keyauth import HeaderKeyAuth, fingerprint
    from hub.http.pagination import CursorPages, PageNumber, SkipLimit
    from hub.http.quota import Budget, Quota, RedisQuota, Unlimited
    from hub.http.quota_claim import PRIORITIES, QuotaClaim, current_claim, use_claim
    from hub.http.quota_report import BudgetStatus, quota_status
    from hub.http.quota_wake import QuotaWaker
    from hub.http.ratelimit import X_RATELIMIT_HEADERS, Observation, PerBudget, RateLimitHeaders
    from hub.http.upstream import build_client, require_fields

__all__ = [
    "PRIORITIES",
    "X_RATELIMIT_HEADERS",
    "ApiClient",
    "BreakerPolicy",
    "BreakerStatus",
    "Budget",
    "BudgetSet",
    "BudgetStatus",
    "ClientSpec",
    "CursorPages",
    "HeaderKey",
    "HeaderKeyAuth",
    "NoBreaker",
    "OAuthToken",
    "Observation",
    "PageNumber",
    "PerBudget",
    "Quota",
    "QuotaClaim",
    "QuotaSettings",
    "QuotaWaker",
    "RateLimitHeaders",
    "RedisBreaker",
    "RedisQuota",
    "RetryPolicy",
    "SkipLimit",
    "Unlimited",
    "breaker_status",
    "build_client",
    "client_credentials_form",
    "current_claim",
    "fingerprint",
    "password_form",
    "quota_status",
    "require_fields",
    "use_claim",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "breaker": (
            "BreakerPolicy",
            "BreakerStatus",
            "NoBreaker",
            "RedisBreaker",
            "breaker_status",
        ),
        "budget_set": ("BudgetSet",),
        "budgets": ("QuotaSettings",),
        "client": ("ApiClient",),
        "client_spec": (
            "ClientSpec",
            "HeaderKey",
            "OAuthToken",
        ),
        "failures": ("RetryPolicy",),
        "grants": (
            "client_credentials_form",
            "password_form",
        ),
        "keyauth": (
            "HeaderKeyAuth",
            "fingerprint",
        ),
        "pagination": (
            "CursorPages",
            "PageNumber",
            "SkipLimit",
        ),
        "quota": (
            "Budget",
            "Quota",
            "RedisQuota",
            "Unlimited",
        ),
        "quota_wake": ("QuotaWaker",),
        "quota_claim": (
            "PRIORITIES",
            "QuotaClaim",
            "current_claim",
            "use_claim",
        ),
        "quota_report": (
            "BudgetStatus",
            "quota_status",
        ),
        "ratelimit": (
            "X_RATELIMIT_HEADERS",
            "Observation",
            "PerBudget",
            "RateLimitHeaders",
        ),
        "upstream": (
            "build_client",
            "require_fields",
        ),
    },
)
