"""The HTTP sink: each row POSTed as JSON to the accounting endpoint, with its
``Idempotency-Key``.

The key is the row's export key, so a retried POST (after a timeout, a 5xx, a worker
killed before it recorded the answer) is recognised by the endpoint as the same entry.
The body is the row without ``exported_at``, so every attempt sends the same body (an
endpoint may refuse a used key with another body).
After a 2xx answer the key, with the row, is recorded in a Redis index (as the file
sink's, without files); a recorded key is skipped without a call. One record is posted
at a time (a cluster-wide lock on the record id), so its export and reversal keep their
order. Posts go through the shared :class:`~hub.http.client.ApiClient`: its quota, its
classification of answers (429/5xx/transport: retriable, with ``Retry-After``; other 4xx:
fatal), and the step's retry policy on top. The answer's body is not read.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx
import redis

from connectors.accounting.columns import Row
from connectors.accounting.files import Outcome
from connectors.accounting.index import LedgerIndex
from connectors.accounting.ledger import Entry, RecordState, parse_key, reversal_row, skip_reason
from hub.core import RetryableError, keyed_lock, lock_key
from hub.http import ApiClient, HeaderKeyAuth, Quota

__all__ = ["SERVICE", "HttpSink"]

log = logging.getLogger("hub.connectors.accounting")
SERVICE = "Accounting endpoint"


class HttpSink:
    """Posts rows to ``base_url`` (with ``token`` as a bearer token, if given).

    ``quota`` defaults to none (the endpoint documents no limit); ``transport`` and
    ``now`` (the wall clock a ``Retry-After`` date is read on) are for tests.
    """

    def __init__(
        self,
        redis: Any,
        base_url: str,
        *,
        token: str | None = None,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        quota: Quota | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._redis = redis
        self.base_url = base_url.rstrip("/") + "/"
        self.client = ApiClient(
            service=SERVICE,
            base_url=self.base_url,
            auth=HeaderKeyAuth("Authorization", f"Bearer {token}") if token else None,
            quota=quota,
            timeout=timeout,
            transport=transport,
            now=now,
        )

    def index(self, path: str) -> LedgerIndex:
        """The index of what was posted to ``path``."""
        endpoint = hashlib.sha256(f"{self.base_url}{path}".encode()).hexdigest()[:16]
        return LedgerIndex(self._redis, f"http:{endpoint}")

    def write(
        self, path: str, key: str, columns: Sequence[str], row: Row, amounts: set[str]
    ) -> Outcome:
        """POST the row with ``key`` unless it was posted (or must not be)."""
        try:
            return self._write(path, key, columns, row, amounts)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise RetryableError(f"Redis unreachable while posting {key}: {exc}") from exc

    def _write(
        self, path: str, key: str, columns: Sequence[str], row: Row, amounts: set[str]
    ) -> Outcome:
        record_id, entry_type, _ = parse_key(key)
        index = self.index(path)
        lock = lock_key("accounting-http", self.base_url, path, record_id)
        with keyed_lock(self._redis, lock, ttl_seconds=120.0):
            state = index.state(record_id)
            reason = skip_reason(state, key, written=index.written(key))
            if reason is not None:
                log.info("accounting http %s: skip: %s", path, reason)
                return Outcome("http", False, reason=reason)
            cells = row
            if entry_type == "reversal":
                cells = reversal_row(state or RecordState(), list(columns), amounts)
            # no exported_at: a retry must send the very body the first attempt sent
            body: Row = {**cells, "entry_type": entry_type, "export_key": key}
            self.client.send("POST", path, json=body, headers={"Idempotency-Key": key})
            index.commit([Entry(key, body)], {})
        log.info("accounting http: posted %s to %s", key, path)
        return Outcome("http", True, location=f"{self.base_url}{path.lstrip('/')}")

    def close(self) -> None:
        self.client.close()
