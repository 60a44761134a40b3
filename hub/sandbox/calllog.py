"""The log of every API call a sandbox received, and window counts over it.

Every request that reached the sandbox's API routes is one record, whatever its answer:
quota refusals, injected faults and dropped connections included. Control routes are
never logged. :func:`max_calls_in_window` answers "did any rolling window ever hold more
calls than the limit?" for records or their JSON form; :func:`window_use`, "how full did
the windows stay?".
"""

from __future__ import annotations

import bisect
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["CallLog", "CallRecord", "max_calls_in_window", "window_counts", "window_use"]


@dataclass(frozen=True)
class CallRecord:
    """One received call."""

    seq: int
    #: monotonic seconds at arrival (the time the quota counts)
    t: float
    #: wall time at arrival, ISO 8601 UTC
    wall: str
    method: str
    path: str
    query: str
    client_id: str | None
    #: the status answered; ``None`` when the connection was dropped
    status: int | None
    #: refused by the sandbox's own quota (a real 429, not an injected one)
    quota_refused: bool
    #: the injected fault that shaped the answer: ``script``, ``storm``, ``drop``,
    #: ``error_rate``, or ``None``
    fault: str | None
    duration: float

    def to_json(self) -> dict[str, Any]:
        """The record as a JSON-able dict."""
        return asdict(self)


class CallLog:
    """An append-only, thread-safe log with sequence numbers (oldest dropped past ``maxlen``)."""

    def __init__(self, maxlen: int = 100_000) -> None:
        self._records: deque[CallRecord] = deque()
        self._maxlen = maxlen
        self._seq = 0
        self._lock = threading.Lock()

    def next_seq(self) -> int:
        """Reserve the next sequence number (records are numbered by arrival)."""
        with self._lock:
            self._seq += 1
            return self._seq

    def append(self, record: CallRecord) -> None:
        """Add ``record`` (when answered); the log stays ordered by sequence number."""
        with self._lock:
            if len(self._records) >= self._maxlen:
                self._records.popleft()
            i = len(self._records)
            while i > 0 and self._records[i - 1].seq > record.seq:
                i -= 1
            self._records.insert(i, record)

    def records(self, since: int | None = None) -> list[CallRecord]:
        """Records with ``seq > since`` (all when ``since`` is ``None``), oldest first."""
        with self._lock:
            items = list(self._records)
        if since is None:
            return items
        return [r for r in items if r.seq > since]

    @property
    def last_seq(self) -> int:
        """The highest sequence number handed out so far (0 when none)."""
        with self._lock:
            return self._seq

    def clear(self) -> None:
        """Drop every record and restart numbering."""
        with self._lock:
            self._records.clear()
            self._seq = 0


def _field(call: CallRecord | Mapping[str, Any], name: str) -> Any:
    return call[name] if isinstance(call, Mapping) else getattr(call, name)


def max_calls_in_window(
    calls: Iterable[CallRecord | Mapping[str, Any]],
    window_seconds: float,
    *,
    admitted_only: bool = False,
    client_id: str | None = None,
) -> int:
    """The most calls any rolling window of ``window_seconds`` held.

    A window is the half-open interval ``(t - window_seconds, t]`` on the monotonic
    times ``t``, as the limiter counts it. By default every received call counts,
    quota-refused ones included: that is what the caller sent, and what an API that
    meters refused calls would count. ``admitted_only=True`` leaves out calls the
    sandbox's quota refused. ``client_id`` restricts the count to one API client.
    """
    times = sorted(
        float(_field(c, "t"))
        for c in calls
        if not (admitted_only and _field(c, "quota_refused"))
        and (client_id is None or _field(c, "client_id") == client_id)
    )
    best = 0
    start = 0
    for end, t in enumerate(times):
        while times[start] <= t - window_seconds:
            start += 1
        best = max(best, end - start + 1)
    return best


def window_counts(
    calls: Iterable[CallRecord | Mapping[str, Any]], window_seconds: float
) -> dict[str, dict[str, int]]:
    """Per API client: the fullest window counting every call, and admitted calls only."""
    items = list(calls)
    clients = sorted({c for c in (_field(x, "client_id") for x in items) if c is not None})
    return {
        client: {
            "received": max_calls_in_window(items, window_seconds, client_id=client),
            "admitted": max_calls_in_window(
                items, window_seconds, admitted_only=True, client_id=client
            ),
        }
        for client in clients
    }


def window_use(
    calls: Iterable[CallRecord | Mapping[str, Any]], window_seconds: float, limit: int
) -> float:
    """How full the rolling window stayed: its count (at most ``limit``) over ``limit``,
    averaged over every millisecond from the first full window (one window after the
    first call) to the last call; ``nan`` for calls that span no more than a window."""
    times = sorted(float(_field(c, "t")) for c in calls)
    if len(times) < 2 or times[-1] - times[0] <= window_seconds:
        return float("nan")
    t, fills = times[0] + window_seconds, []
    while t <= times[-1]:
        inside = bisect.bisect_right(times, t) - bisect.bisect_right(times, t - window_seconds)
        fills.append(min(inside, limit) / limit)
        t += 0.001
    return sum(fills) / len(fills)
