"""The one HTTP client every connector uses: auth, quota, timeouts and typed errors.

Each request (the token requests an auth flow makes included) takes a quota slot first
and settles it when its answer arrives or it fails, passing on what the answer's
rate-limit headers say (the connector declares them, :mod:`hub.http.ratelimit`). The
answer is classified once, here: :meth:`ApiClient.send` gives a successful answer,
:meth:`ApiClient.request` its JSON, and otherwise :class:`RetryableError` or
:class:`FatalError` is raised. A request may carry headers of its own (an
``Idempotency-Key``) beside the client's. Backoff is scheduled by the caller from
:class:`~hub.http.failures.RetryPolicy`, never slept here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, TypedDict, Unpack

import httpx

from hub.http.failures import classify_response, classify_transport_error
from hub.http.quota import Lease, Quota, Unlimited
from hub.http.ratelimit import RETRY_AFTER_ONLY, RateLimitHeaders

__all__ = ["ApiClient", "RequestOptions"]

#: where a request carries its quota lease between the request and response hooks
_LEASE = "hub.quota_lease"


class RequestOptions(TypedDict, total=False):
    """What a request may carry beside its method and path (see :meth:`ApiClient.send`)."""

    params: Mapping[str, Any] | None
    json: Any
    headers: Mapping[str, str] | None


class ApiClient:
    """A connector's view of its upstream.

    ``now`` is the upstream's wall clock: epoch rate-limit resets and ``Retry-After``
    dates are read on it.
    """

    def __init__(
        self,
        *,
        service: str,
        base_url: str,
        auth: httpx.Auth | None = None,
        headers: Mapping[str, str] | None = None,
        quota: Quota | None = None,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        rate_limit_headers: RateLimitHeaders = RETRY_AFTER_ONLY,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.service = service
        self.quota: Quota = quota or Unlimited()
        self.rate_limit_headers = rate_limit_headers
        self._now = now
        self._http = httpx.Client(
            base_url=base_url.rstrip("/") + "/",
            auth=auth,
            headers=dict(headers or {}),
            timeout=timeout,
            transport=transport,
            event_hooks={"request": [self._take_slot], "response": [self._settle]},
        )

    def _take_slot(self, request: httpx.Request) -> None:
        lease = self.quota.acquire()
        if lease is not None:
            request.extensions[_LEASE] = lease

    def _settle(self, response: httpx.Response) -> None:
        lease: Lease | None = response.request.extensions.pop(_LEASE, None)
        observation = self.rate_limit_headers.observe(
            response.status_code, response.headers, now=self._now
        )
        self.quota.settle(lease, observation)

    def _settle_failed(self, exc: httpx.TransportError) -> None:
        try:
            request = exc.request
        except RuntimeError:  # raised before a request was built
            return
        lease: Lease | None = request.extensions.pop(_LEASE, None)
        if lease is not None:
            self.quota.settle(lease)

    def send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send one request; its successful answer, or a typed error.

        ``headers`` are this request's own, merged over the client's; the auth flow then
        sets its own header (a token or key), so a call cannot send another. No header
        value is logged or put in an error message.
        """
        try:
            response = self._http.request(
                method, path.lstrip("/"), params=params, json=json, headers=headers
            )
        except httpx.TransportError as exc:
            self._settle_failed(exc)
            raise classify_transport_error(exc, service=self.service) from exc
        error = classify_response(response, service=self.service, now=self._now)
        if error is not None:
            raise error
        return response

    def request(self, method: str, path: str, **options: Unpack[RequestOptions]) -> Any:
        """Send one request (as :meth:`send`); the decoded JSON body, or a typed error."""
        response = self.send(method, path, **options)
        if not response.content:
            return None
        return response.json()

    def close(self) -> None:
        self._http.close()
