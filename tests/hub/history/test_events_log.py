"""Transition lines: one JSON line per run and step transition, ids on it, secrets redacted."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from pydantic import SecretStr

from hub.core.logs import JsonFormatter
from hub.history.events_log import TransitionLog
from hub.history.runs import RunStore

SECRET = "sk_live_abc123"


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    """What the ``test.transitions`` logger writes, as JSON lines."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("test.transitions")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield out
    logger.removeHandler(handler)


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def _log() -> TransitionLog:
    return TransitionLog({"API": SecretStr(SECRET)}, logging.getLogger("test.transitions"))


def test_run_and_step_transitions_are_one_line_each_with_their_ids(
    redis_client: redis.Redis, stream: io.StringIO
) -> None:
    now = [10.0]
    store = RunStore(redis_client, clock=lambda: now[0], log=_log())
    store.step_started("run-1", "push", attempt=2, workflow="sync", revision="r7", event_id="evt-1")
    now[0] = 12.5
    store.step_finished("run-1", "push", "failed", error={"message": f"token {SECRET} refused"})
    now[0] = 13.0
    assert store.finish("run-1", "failed") is True
    assert store.finish("run-1", "failed") is False  # already ended: no second line
    lines = _lines(stream)
    assert [(line["msg"].split()[0], line["status"]) for line in lines] == [
        ("run", "running"),
        ("step", "running"),
        ("step", "failed"),
        ("run", "failed"),
    ]
    for line in lines:
        assert (line["run_id"], line["workflow"], line["revision"], line["event_id"]) == (
            "run-1",
            "sync",
            "r7",
            "evt-1",
        )
    assert lines[1]["step"] == "push" and lines[1]["attempt"] == 2
    assert lines[2]["duration_seconds"] == 2.5
    assert lines[2]["error"] == {"message": "token *** refused"}
    assert lines[3]["level"] == "warning" and lines[3]["duration_seconds"] == 3.0
    assert SECRET not in json.dumps(lines)


def test_a_secret_in_any_value_or_the_message_is_redacted(stream: io.StringIO) -> None:
    _log().event("crm", f"evt-{SECRET}", "accepted", note={"header": f"Bearer {SECRET}"})
    (line,) = _lines(stream)
    assert line["event_id"] == "evt-***" and line["note"] == {"header": "Bearer ***"}
    assert line["msg"] == "event crm/evt-*** accepted"
    assert SECRET not in json.dumps(line)
