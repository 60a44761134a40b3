"""Cluster-wide Prometheus metrics, read from Redis at scrape time.

Every figure comes from Redis, not from process memory, so any one ingress (or
``hub metrics``) reports the whole cluster however many workers and hosts run:

- ``hub_events_total{source,outcome}``: events the ingress accepted or found duplicate
  (counters the ingress's accept script keeps in ``hub:ingress:counts``);
- ``hub_runs{workflow,status}``: runs in the retained run records, by status;
- ``hub_step_duration_seconds{workflow,step}``: a summary of finished steps' durations;
- ``hub_step_retries{workflow,step}`` / ``hub_step_quota_waits{workflow,step}``: attempts
  beyond the first, and quota waits, summed over the retained runs;
- ``hub_dead_letters``: see :func:`dead_letter_counts` (no dead-letter store yet);
- ``hub_queue_length{queue}``: messages waiting in each broker step queue;
- ``hub_quota_limit`` / ``_effective_limit`` / ``_used`` / ``_in_flight`` / ``_remaining``
  / ``_drain_seconds`` ``{budget}`` and ``hub_quota_waiting{budget,priority}``;
- ``hub_quota_repeated_calls_total{budget}`` (calls made again after a quota wait, goal 0)
  and ``hub_quota_unused_while_waiting_calls_total{budget}`` (calls' worth of quota left
  free while steps waited for a slot);
- ``hub_poll_empty_polls{workflow}`` (polls in a row that read no record) and
  ``hub_poll_silent_seconds{workflow}`` (how long a silent poll workflow's cursor has
  stood still, 0 when it is not silent; see :mod:`hub.polling.silence`);
- ``hub_find_misses_total{connector,resource}``: upserts whose find missed a record an
  upsert created moments ago (see :mod:`hub.connector.created`);
- ``hub_concurrency_waiting`` / ``hub_concurrency_keys_waited_on``: steps parked on
  concurrency keys, and the keys they wait on (see :mod:`hub.core.key_slots`);
- circuit breakers and pauses: see :mod:`hub.history.control_metrics`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, SummaryMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from hub.connector import MISSES_KEY
from hub.core import KeySlots
from hub.history.control_metrics import control_metrics
from hub.history.runs import RunStore
from hub.http import quota_status
from hub.ingress import COUNTS_KEY
from hub.polling import CursorStore
from hub.worker import STEP_QUEUES

__all__ = ["CONTENT_TYPE", "HubCollector", "dead_letter_counts", "exposition"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: at most this many of the newest run records are read per scrape
MAX_RUNS_READ = 5000


def dead_letter_counts(redis: Any) -> dict[str, int]:
    """Dead letters not yet replayed, by workflow (kept until replayed or purged)."""
    from hub.history.dead_letters import DeadLetterStore

    counts: dict[str, int] = {}
    for letter in DeadLetterStore(redis).find():
        if letter.status == "dead":
            counts[letter.workflow] = counts.get(letter.workflow, 0) + 1
    return counts


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class HubCollector(Collector):
    """Reads the hub's figures from ``redis`` (a sync client) on every collect."""

    def __init__(self, redis: Any, *, max_runs: int = MAX_RUNS_READ) -> None:
        self._redis = redis
        self._max_runs = max_runs

    def collect(self) -> Iterator[Metric]:
        yield from self._events()
        yield from self._runs()
        yield from self._dead_letters()
        yield from self._queues()
        yield from self._quota()
        yield from self._polls()
        yield from self._find_misses()
        yield from control_metrics(self._redis)
        yield from self._concurrency()

    def _events(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "hub_events", "Events received by the ingress", labels=["source", "outcome"]
        )
        for field, value in sorted(self._redis.hgetall(COUNTS_KEY).items()):
            source, _, outcome = _text(field).rpartition(":")
            family.add_metric([source, outcome], int(value))
        yield family

    def _runs(self) -> Iterator[Metric]:
        store = RunStore(self._redis)
        runs: Counter[tuple[str, str]] = Counter()
        durations: dict[tuple[str, str], list[float]] = defaultdict(list)
        retries: Counter[tuple[str, str]] = Counter()
        waits: Counter[tuple[str, str]] = Counter()
        for run_id in store.recent(self._max_runs):
            record = store.get(run_id)
            if record is None:  # expired since it was listed
                continue
            runs[(record.workflow, record.status)] += 1
            for step_id, step in record.steps.items():
                key = (record.workflow, step_id)
                if step.started_at is not None and step.finished_at is not None:
                    durations[key].append(max(0.0, step.finished_at - step.started_at))
                retries[key] += max(0, step.attempts - 1)
                waits[key] += step.quota_waits
        gauge = GaugeMetricFamily(
            "hub_runs", "Runs in the retained run records", labels=["workflow", "status"]
        )
        for (workflow, status), count in sorted(runs.items()):
            gauge.add_metric([workflow, status], count)
        yield gauge
        summary = SummaryMetricFamily(
            "hub_step_duration_seconds",
            "Durations of finished steps in the retained run records",
            labels=["workflow", "step"],
        )
        for key, values in sorted(durations.items()):
            summary.add_metric(list(key), count_value=len(values), sum_value=sum(values))
        yield summary
        for name, doc, counts in (
            ("hub_step_retries", "Step attempts beyond the first (retained runs)", retries),
            ("hub_step_quota_waits", "Times steps waited for quota (retained runs)", waits),
        ):
            family = GaugeMetricFamily(name, doc, labels=["workflow", "step"])
            for key, count in sorted(counts.items()):
                family.add_metric(list(key), count)
            yield family

    def _dead_letters(self) -> Iterator[Metric]:
        family = GaugeMetricFamily("hub_dead_letters", "Dead letters", labels=["workflow"])
        for workflow, count in sorted(dead_letter_counts(self._redis).items()):
            family.add_metric([workflow], count)
        yield family

    def _queues(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "hub_queue_length", "Messages waiting in a broker step queue", labels=["queue"]
        )
        pipe = self._redis.pipeline(transaction=False)
        for queue in STEP_QUEUES:
            pipe.llen(queue)
        for queue, length in zip(STEP_QUEUES, pipe.execute(), strict=True):
            family.add_metric([queue], int(length))
        yield family

    def _quota(self) -> Iterator[Metric]:
        budgets = quota_status(self._redis)
        fields = {
            "limit": "The upstream's limit per window",
            "effective_limit": "What the hub allows itself per window after the reserve",
            "window_seconds": "The budget's window",
            "used": "Calls in the current window",
            "in_flight": "Calls granted and not answered yet",
            "remaining": "Calls still free in the current window",
            "drain_seconds": "Estimated time until every waiting call is granted",
            "paused_seconds": "Time left of a 429 pause",
        }
        for name, doc in fields.items():
            family = GaugeMetricFamily(f"hub_quota_{name}", doc, labels=["budget"])
            for status in budgets:
                family.add_metric([status.key], float(getattr(status, name)))
            yield family
        waiting = GaugeMetricFamily(
            "hub_quota_waiting", "Calls waiting for quota", labels=["budget", "priority"]
        )
        for status in budgets:
            for priority, count in status.waiting.items():
                waiting.add_metric([status.key, priority], count)
        yield waiting
        counters = {
            "repeated_calls": ("Calls made again after a quota wait", "repeated"),
            "unused_while_waiting_calls": (
                "Calls' worth of quota left unused while steps waited for a slot",
                "unused_calls",
            ),
        }
        for name, (doc, field) in counters.items():
            counter = CounterMetricFamily(f"hub_quota_{name}", doc, labels=["budget"])
            for status in budgets:
                counter.add_metric([status.key], float(getattr(status, field)))
            yield counter

    def _polls(self) -> Iterator[Metric]:
        empty = GaugeMetricFamily(
            "hub_poll_empty_polls", "Polls in a row that read no record", labels=["workflow"]
        )
        silent = GaugeMetricFamily(
            "hub_poll_silent_seconds",
            "How long a poll workflow whose polls read nothing has had its cursor still "
            "(0: not silent)",
            labels=["workflow"],
        )
        store = CursorStore(self._redis)
        for workflow in store.workflows():
            cursor = store.get(workflow)
            empty.add_metric([workflow], cursor.empty_polls)
            silent.add_metric([workflow], float(cursor.last.get("silent") or 0))
        yield empty
        yield silent

    def _concurrency(self) -> Iterator[Metric]:
        waiting = KeySlots.waiting_per_key(self._redis)
        yield GaugeMetricFamily(
            "hub_concurrency_waiting",
            "Steps parked until their turn on a concurrency key",
            value=sum(waiting.values()),
        )
        yield GaugeMetricFamily(
            "hub_concurrency_keys_waited_on",
            "Concurrency keys with steps waiting for their turn",
            value=len(waiting),
        )

    def _find_misses(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "hub_find_misses",
            "Finds that missed a record an upsert created moments ago",
            labels=["connector", "resource"],
        )
        for field, value in sorted(self._redis.hgetall(MISSES_KEY).items()):
            connector, _, resource = _text(field).partition(":")
            family.add_metric([connector, resource], int(value))
        yield family


def exposition(redis: Any) -> bytes:
    """The Prometheus text exposition of the hub's figures now."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(HubCollector(redis))
    return generate_latest(registry)
