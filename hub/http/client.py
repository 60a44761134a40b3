"""The one HTTP client every connector uses: auth, quota, timeouts and typed errors.

Each request (the token requests an auth flow makes included) takes a quota slot first;
the answer is classified once, here: JSON for a success, :class:`RetryableError` or
:class:`FatalError` otherwise. Backoff is scheduled by the caller from
:class:`~hub.http.retry.RetryPolicy`, never slept here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from hub.http.quota import Quota, Unlimited
from hub.http.retry import classify_response, classify_transport_error

__all__ = ["ApiClient"]


class ApiClient:
    """A connector's view of its upstream."""

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
    ) -> None:
        self.service = service
        self.quota: Quota = quota or Unlimited()
        self._http = httpx.Client(
            base_url=base_url.rstrip("/") + "/",
            auth=auth,
            headers=dict(headers or {}),
            timeout=timeout,
            transport=transport,
            event_hooks={"request": [self._take_slot]},
        )

    def _take_slot(self, request: httpx.Request) -> None:
        self.quota.acquire()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> Any:
        """Send one request; the decoded JSON body, or a typed error."""
        try:
            response = self._http.request(method, path.lstrip("/"), params=params, json=json)
        except httpx.TransportError as exc:
            raise classify_transport_error(exc, service=self.service) from exc
        error = classify_response(response, service=self.service)
        if error is not None:
            raise error
        if not response.content:
            return None
        return response.json()

    def close(self) -> None:
        self._http.close()
