"""An idle ``hub worker`` on a Redis of its own asks nothing of its queues but its wait.

Every command the worker sends in a quiet stretch is watched with ``MONITOR``: the only
ones that touch the queues are its wait on their bells and the take after each wait, at
most one of each per :data:`~hub.worker.broker.WAIT_SECONDS`; the rest are heartbeats
(Celery's, to Flower, and the hub's presence: :mod:`hub.core.presence`), the sweep for
dead workers' tasks and the concurrency keys' sweep (:mod:`hub.worker.key_sweeper`, a
look once a second).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from hub.core.key_slots import DUE_KEY
from hub.core.presence import INFO_KEY, INTERVAL_SECONDS, PRESENCE_KEY
from hub.core.redis_server import RedisServer
from hub.http.quota import BELL_KEY as QUOTA_BELL
from hub.http.quota import DUE_KEY as QUOTA_DUE
from hub.worker.broker import WAIT_SECONDS, bell_key
from hub.worker.key_sweeper import SWEEP_INTERVAL_SECONDS
from hub.worker.queues import STEP_QUEUES
from hub.worker.quota_waker import LONGEST_SLEEP_SECONDS
from tests.support.processes import HubProcesses

pytestmark = pytest.mark.e2e

#: how long the worker is watched
WINDOW_SECONDS = 6.0
#: what else an idle worker may send: Celery's heartbeat event, kombu's restore sweep
#: (a mutex around a look at ``unacked_index``), health checks
HEARTBEATS_AND_SWEEPS = {"PUBLISH", "SET", "ZRANGE", "EVALSHA", "PING"}
#: the hub's presence heartbeat: one transaction writing its two keys
PRESENCE_WRITES = {"ZADD", "HSET"}
#: the concurrency keys' sweep (hub.worker.key_sweeper): the server's clock and a look at
#: the keys due a sweep, at most once in its interval while none is: not a heartbeat, but
#: not the queues either
KEY_SWEEP = {"TIME", "ZRANGE"}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    with RedisServer(tmp_path / "redis", appendonly=False) as own:
        yield own


def _watch(url: str, seconds: float) -> list[list[str]]:
    """Every command clients sent (not those scripts ran) for ``seconds``, split in words."""
    seen: list[list[str]] = []
    client = redis.Redis.from_url(url)

    def listen() -> None:
        with client.monitor() as monitor:
            deadline = time.monotonic() + seconds
            for command in monitor.listen():
                if command.get("client_type") != "lua":
                    seen.append(str(command["command"]).split(" "))
                if time.monotonic() > deadline:
                    return

    thread = threading.Thread(target=listen)
    thread.start()
    thread.join(seconds + 30)
    client.close()
    return seen


def _is_take(words: list[str]) -> bool:
    """The take script: it names the bells (and the queues)."""
    return words[0] in ("EVAL", "EVALSHA") and bell_key(STEP_QUEUES[0]) in words


def _is_presence(words: list[str]) -> bool:
    """A command of the presence heartbeat (or the transaction around it)."""
    if words[0] in ("MULTI", "EXEC"):
        return True
    return words[0] in PRESENCE_WRITES and words[1] in (PRESENCE_KEY, INFO_KEY)


def _is_key_sweep(words: list[str]) -> bool:
    return words[0] == "TIME" or (words[0] == "ZRANGE" and words[1] == DUE_KEY)


def _is_quota_look(words: list[str]) -> bool:
    """The quota releaser (hub.worker.quota_waker): the budgets due, the server's clock,
    and its wait on the quota's bell."""
    return (words[0] in ("ZRANGEBYSCORE", "ZRANGE") and words[1] == QUOTA_DUE) or (
        words[0] in ("BLPOP", "LPOP") and words[1] == QUOTA_BELL
    )


def test_an_idle_worker_sends_only_its_wait_and_heartbeats(
    server: RedisServer, tmp_path: Path
) -> None:
    procs = HubProcesses(redis_url=server.url, log_dir=tmp_path)
    try:
        procs.start_worker(concurrency=1)
        time.sleep(1.0)  # past its start (mingle, first sweep)
        seen = _watch(server.url, WINDOW_SECONDS)
    finally:
        procs.stop()
    takes = [w for w in seen if _is_take(w)]
    quota = [w for w in seen if _is_quota_look(w)]
    waits = [w for w in seen if w[0] == "BLPOP" and not _is_quota_look(w)]
    presence = [w for w in seen if _is_presence(w)]
    sweeps = [w for w in seen if _is_key_sweep(w)]
    # a connection opened while it watched (HELLO starts each), once at most: a worker
    # connecting again and again would open one at each heartbeat
    opened = [w for w in seen if w[0] == "HELLO"]
    assert len(opened) <= 1, opened
    rest = [
        w
        for w in seen
        if not (_is_take(w) or _is_presence(w) or _is_key_sweep(w) or _is_quota_look(w))
        and w[0] not in ("BLPOP", "MONITOR", "HELLO")
    ]
    most = math.ceil(WINDOW_SECONDS / WAIT_SECONDS) + 1
    assert 1 <= len(waits) <= most and len(takes) <= most, (takes, waits)
    assert all(w[-1] == str(WAIT_SECONDS) for w in waits)
    assert {w[0] for w in rest} <= HEARTBEATS_AND_SWEEPS, rest
    # one presence heartbeat (MULTI, ZADD, HSET, EXEC) per interval at most
    assert len(presence) <= 4 * (math.ceil(WINDOW_SECONDS / INTERVAL_SECONDS) + 1), presence
    # the concurrency keys' sweep and the quota releaser (the server's clock is asked by
    # both) look once in their longest sleep while nothing waits
    looks = math.ceil(WINDOW_SECONDS / SWEEP_INTERVAL_SECONDS) + 1
    looks += math.ceil(WINDOW_SECONDS / LONGEST_SLEEP_SECONDS) + 1
    assert len(sweeps) <= 2 * looks, sweeps
    assert len(quota) <= 3 * (math.ceil(WINDOW_SECONDS / LONGEST_SLEEP_SECONDS) + 1), quota
    # and none of the rest reads a queue or a bell
    names: set[Any] = {*STEP_QUEUES, *(bell_key(q) for q in STEP_QUEUES)}
    assert not [w for w in rest if names & set(w[1:])], rest
