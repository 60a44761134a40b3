"""The one HTTP client every connector uses: auth, quota, timeouts and typed errors.

Each request (the token requests an auth flow makes included) is first admitted by the
client's circuit breaker (:mod:`hub.http.breaker`: an open one raises
:class:`~hub.core.errors.BreakerOpen`, a wait), then takes a quota slot, and settles both
when its answer arrives or it fails, passing on what the answer's rate-limit headers say
(the connector declares them, :mod:`hub.http.ratelimit`). A failure that opened the
breaker is raised as :class:`~hub.core.errors.BreakerOpen` (a wait, not an attempt). The
answer is classified once, here: :meth:`ApiClient.send` gives a successful answer,
:meth:`ApiClient.request` its JSON, and otherwise :class:`Throttled` (a 429 that paused
the budget: wait as for quota), :class:`RetryableError` or :class:`FatalError` is raised
(explained by the connector's ``explain``, when it has one). A request may carry headers
of its own (an ``Idempotency-Key``) beside the client's. :meth:`ApiClient.iterate` pages
a list with the connector's paginator. Backoff is scheduled by the caller from
:class:`~hub.http.failures.RetryPolicy`, never slept here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from functools import cache
from typing import Any, TypedDict, Unpack, cast

import httpx

from hub.core import BreakerOpen, FatalError, RedisBatch, writes_behind
from hub.http.auth import TOKEN_REQUEST
from hub.http.breaker import Admission, Breaker, NoBreaker, RecordsInBatch
from hub.http.failures import (
    QUOTA_PAUSE,
    as_throttled,
    classify_response,
    classify_transport_error,
)
from hub.http.pagination import Paginator, iterate_items
from hub.http.quota import Lease, Quota, SettlesInBatch, Unlimited
from hub.http.quota_claim import current_claim
from hub.http.ratelimit import RETRY_AFTER_ONLY, Observation, RateLimitReader

__all__ = ["ApiClient", "RequestOptions"]

#: where a request carries its quota lease between the request and response hooks
_LEASE = "hub.quota_lease"
#: where a request carries its breaker admission
_ADMISSION = "hub.breaker_admission"
#: where an answer carries the seconds its breaker opened for, when it opened it
_OPENED = "hub.breaker_opened"
#: failures before any byte of the request left: no connection was made
_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout)


class RequestOptions(TypedDict, total=False):
    """What a request may carry beside its method and path (see :meth:`ApiClient.send`)."""

    params: Mapping[str, Any] | None
    json: Any
    headers: Mapping[str, str] | None


class ApiClient:
    """A connector's view of its upstream.

    ``now`` is the upstream's wall clock: epoch rate-limit resets and ``Retry-After``
    dates are read on it. ``paginator`` pages :meth:`iterate`; ``explain`` rewrites a
    fatal refusal to say what to do about it; ``breaker`` admits each call (default:
    none). ``books`` is the Redis client the quota and the breaker keep their books in:
    given, an answer's quota settle and breaker verdict go in one round trip.
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
        rate_limit_headers: RateLimitReader = RETRY_AFTER_ONLY,
        now: Callable[[], float] = time.time,
        paginator: Paginator | None = None,
        explain: Callable[[FatalError], FatalError] | None = None,
        breaker: Breaker | None = None,
        books: Any = None,
    ) -> None:
        self.service = service
        self.paginator = paginator
        self._explain = explain
        self._books = books
        self.breaker: Breaker = breaker or NoBreaker()
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
        admission = self.breaker.admit()
        claim = current_claim()
        if request.extensions.get(TOKEN_REQUEST):
            claim.extra_call()
        try:
            lease = self.quota.acquire(claim)
        except BaseException:
            self.breaker.cancel(admission)
            raise
        request.extensions[_ADMISSION] = admission
        if lease is not None:
            request.extensions[_LEASE] = lease

    def _settle(self, response: httpx.Response) -> None:
        # the quota first: its slot counts one window from when it is settled
        lease: Lease | None = response.request.extensions.pop(_LEASE, None)
        observation = self.rate_limit_headers.observe(
            response.status_code, response.headers, now=self._now
        )
        admission: Admission | None = response.request.extensions.pop(_ADMISSION, None)
        # a 429 is a quota signal: no verdict on the upstream
        verdict = admission if response.status_code != 429 else None
        failed = response.status_code >= 500
        # read at each answer, not kept: ``hub test`` sets its own quota on a built client
        quota, breaker = self.quota, self.breaker
        books = _kept_in_batches(quota, breaker) if self._books is not None else None
        if books is not None and _settles_later(response.status_code, observation):
            # nothing waits for its answer: it rides with the step's next round trip
            with writes_behind(self._books) as behind:
                books[0].settle_in(behind, lease, observation, later=True)
                if verdict:
                    books[1].record_in(behind, verdict, failed=False)
            return
        if books is not None:
            batch = RedisBatch(self._books)
            paused_for = books[0].settle_in(batch, lease, observation)
            opened_for = books[1].record_in(batch, verdict, failed=failed) if verdict else None
            batch.send()
            paused, opened = paused_for(), opened_for() if opened_for else None
        else:
            paused = quota.settle(lease, observation)
            opened = breaker.record(verdict, failed=failed) if verdict else None
        if paused:
            response.extensions[QUOTA_PAUSE] = paused
        if admission is not None and verdict is None:
            breaker.cancel(admission)
        if opened is not None:
            response.extensions[_OPENED] = opened

    def _settle_failed(self, exc: httpx.TransportError) -> float | None:
        """Settle a request that got no answer; the seconds its breaker opened for, when
        this failure opened it."""
        try:
            request = exc.request
        except RuntimeError:  # raised before a request was built
            return None
        opened = None
        admission: Admission | None = request.extensions.pop(_ADMISSION, None)
        if admission is not None:
            opened = self.breaker.record(admission, failed=True)
        lease: Lease | None = request.extensions.pop(_LEASE, None)
        if lease is None:
            return opened
        if isinstance(exc, _NEVER_SENT):
            self.quota.give_back(lease)  # the upstream never saw it: the slot is free now
        else:
            self.quota.settle(lease)
        return opened

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
            opened = self._settle_failed(exc)
            failure = classify_transport_error(exc, service=self.service)
            if opened is not None:
                raise BreakerOpen(self._breaker_key(), opened) from failure
            raise failure from exc
        error = classify_response(response, service=self.service, now=self._now)
        opened = response.extensions.get(_OPENED)
        if error is not None and opened is not None:
            raise BreakerOpen(self._breaker_key(), float(opened)) from error
        throttled = as_throttled(response, error)
        if throttled is not None:
            raise throttled from error
        if isinstance(error, FatalError) and self._explain is not None:
            explained = self._explain(error)
            if explained is not error:
                raise explained from error
        if error is not None:
            raise error
        return response

    def _breaker_key(self) -> str:
        return str(getattr(self.breaker, "key", self.service))

    def request(self, method: str, path: str, **options: Unpack[RequestOptions]) -> Any:
        """Send one request (as :meth:`send`); the decoded JSON body, or a typed error."""
        response = self.send(method, path, **options)
        if not response.content:
            return None
        return response.json()

    def iterate(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Mapping[str, Any] | None = None,
        paginator: Paginator | None = None,
        max_items: int | None = None,
    ) -> Iterator[Any]:
        """The items of every page of ``method path``, up to ``max_items``.

        Paged by ``paginator`` (default: the client's own); a page's parameters go in the
        query of a ``GET`` and in the JSON body of any other method.
        """
        pages = paginator or self.paginator
        if pages is None:
            raise TypeError(f"the {self.service} client has no paginator")

        def fetch(page: dict[str, Any]) -> Any:
            if method.upper() == "GET":
                return self.request(method, path, params={**(params or {}), **page}, json=json)
            return self.request(method, path, params=params, json={**(json or {}), **page})

        return iterate_items(fetch, pages, max_items=max_items)

    def close(self) -> None:
        self._http.close()


def _kept_in_batches(
    quota: Quota, breaker: Breaker
) -> tuple[SettlesInBatch, RecordsInBatch] | None:
    """``quota`` and ``breaker`` as books settled in one batch, when both can be."""
    if _batched_types(type(quota), type(breaker)):
        return cast(SettlesInBatch, quota), cast(RecordsInBatch, breaker)
    return None


@cache
def _batched_types(quota: type, breaker: type) -> bool:
    # a protocol check is slow (it walks the members); the answer is the type's
    return issubclass(quota, SettlesInBatch) and issubclass(breaker, RecordsInBatch)


def _settles_later(status: int, observation: Observation | None) -> bool:
    """Whether an answer's settle may wait for the step's next round trip: a success that
    tells the budget neither to pause nor that no call is left (nothing else reads it)."""
    if status >= 400:
        return False
    if observation is None:
        return True
    seen = [observation, *(observation.by_budget or {}).values()]
    return all(o.pause_seconds is None and not o.throttled and o.remaining != 0 for o in seen)
