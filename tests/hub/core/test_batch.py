from __future__ import annotations

import pytest
import redis

from hub.core import RedisBatch, flush_trailing, trailing_writes, writes_behind
from tests.support.round_trips import RoundTrips


def test_commands_go_in_one_round_trip_and_each_gets_its_reply(
    redis_client: redis.Redis,
) -> None:
    books = RoundTrips(redis_client)
    batch = RedisBatch(books)
    seen: list[object] = []
    batch.add("SET", "k", "1")
    read = batch.add("GET", "k", then=seen.append)
    ran = batch.script("return ARGV[1] .. redis.call('GET', KEYS[1])", ["k"], ["v"])
    with pytest.raises(RuntimeError):
        _ = read.value  # not sent yet
    batch.send()
    assert books.round_trips == [["SET", "GET", "EVAL"]]
    assert read.value == b"1" and seen == [b"1"] and ran.value == b"v1"


def test_a_failed_command_is_raised_after_the_others_ran(redis_client: redis.Redis) -> None:
    batch = RedisBatch(redis_client)
    batch.add("SET", "k", "text")
    batch.add("INCR", "k")
    batch.add("SET", "after", "1")
    with pytest.raises(redis.ResponseError):
        batch.send()
    assert redis_client.get("after") == b"1"


def test_writes_behind_ride_ahead_of_the_next_batch(redis_client: redis.Redis) -> None:
    books = RoundTrips(redis_client)
    with trailing_writes(books):
        with writes_behind(books) as behind:
            behind.add("SET", "released", "1")
        assert redis_client.get("released") is None and books.round_trips == []
        batch = RedisBatch(books)
        read = batch.add("GET", "released")
        batch.send()
        assert read.value == b"1"  # sent first, as if sent before
        assert books.round_trips == [["SET", "GET"]]
    assert books.round_trips == [["SET", "GET"]]  # nothing left for the end


def test_writes_left_at_the_end_are_sent_whether_or_not_the_block_failed(
    redis_client: redis.Redis,
) -> None:
    books = RoundTrips(redis_client)
    with trailing_writes(books), writes_behind(books) as behind:
        behind.add("SET", "ok", "1")
    with pytest.raises(KeyError), trailing_writes(books):
        with writes_behind(books) as behind:
            behind.add("SET", "failed", "1")
        raise KeyError("the step's own error")
    assert books.round_trips == [["SET"], ["SET"]]
    assert redis_client.get("ok") == b"1" and redis_client.get("failed") == b"1"


def test_writes_that_cannot_be_sent_at_a_failed_end_do_not_hide_its_error(
    redis_client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(KeyError), trailing_writes(redis_client):
        with writes_behind(redis_client) as behind:
            behind.add("SET", "k", "text")
            behind.add("INCR", "k")
        raise KeyError("the step's own error")
    assert "2 write(s) left at a step's end were not sent" in caplog.text


def test_writes_behind_on_another_client_or_outside_a_step_are_sent_at_once(
    redis_client: redis.Redis,
) -> None:
    step, other = RoundTrips(redis_client), RoundTrips(redis_client)
    with writes_behind(step) as behind:
        behind.add("SET", "outside", "1")
    assert step.round_trips == [["SET"]]
    with trailing_writes(step):
        with writes_behind(other) as behind:
            behind.add("SET", "other", "1")
        assert other.round_trips == [["SET"]] and step.round_trips == [["SET"]]


def test_flush_sends_what_waits_and_nothing_when_nothing_does(redis_client: redis.Redis) -> None:
    books = RoundTrips(redis_client)
    with trailing_writes(books):
        flush_trailing(books)
        assert books.round_trips == []
        with writes_behind(books) as behind:
            behind.add("SET", "k", "1")
        flush_trailing(books)
        assert books.round_trips == [["SET"]] and redis_client.get("k") == b"1"
    assert books.round_trips == [["SET"]]
