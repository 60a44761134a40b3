"""Shared fixtures: a real Redis server for the whole session, and the machine to itself
for tests that measure a rate (marked ``alone``).

``deploy/dev test`` runs four test processes side by side on two cores. A test marked
``alone`` (one that measures how fully the hub uses a quota, say) would measure its
neighbours' load as much as the hub, so it runs with no other test beside it: it closes
a gate that keeps new tests from starting, waits for the tests running to end, and
opens the gate when it is done. Tests marked ``alone`` run last, when few are left to
wait for.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from hub.core.redis_server import RedisServer


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.get_closest_marker("alone") is not None)


@pytest.fixture(autouse=True)
def _machine_share(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """Under pytest-xdist: a shared hold on the machine for an ordinary test, the whole
    machine for one marked ``alone`` (locks on files all test processes see)."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        yield
        return
    shared = tmp_path_factory.getbasetemp().parent
    alone = request.node.get_closest_marker("alone") is not None
    with open(shared / "gate.lock", "a+") as gate, open(shared / "room.lock", "a+") as room:
        if alone:
            fcntl.flock(gate, fcntl.LOCK_EX)  # no test starts now
            fcntl.flock(room, fcntl.LOCK_EX)  # the tests running have ended
        else:
            fcntl.flock(gate, fcntl.LOCK_SH)
            fcntl.flock(room, fcntl.LOCK_SH)
            fcntl.flock(gate, fcntl.LOCK_UN)
        try:
            yield
        finally:
            fcntl.flock(room, fcntl.LOCK_UN)
            fcntl.flock(gate, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"), appendonly=False).start()
    yield server
    server.stop()


@pytest.fixture
def redis_client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server.url)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent
