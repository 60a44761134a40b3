"""What upserts created, and finds that miss it; answers checked against their filter."""

from __future__ import annotations

import json
import logging

import pytest
import redis

from hub.connector.created import MISSES_KEY, CreatedRecords, record_matches
from hub.core import LockBusy, RedisBatch, lock_key, trailing_writes
from hub.history.metrics import exposition
from tests.support.round_trips import RoundTrips


def test_record_matches_dotted_paths_through_lists_as_text() -> None:
    person = {"name": {"first": "Ada"}, "emails": [{"address": "a@x"}, {"address": "b@x"}]}
    assert record_matches(person, {"name.first": "Ada", "emails.address": "b@x"})
    assert not record_matches(person, {"name.first": "Bob"})
    assert not record_matches(person, {"name.last": "Ada"})
    assert record_matches({"amount": 100, "paid": True}, {"amount": "100", "paid": "true"})
    assert record_matches({"tags": ["a", "b"]}, {"tags": "b"})
    assert not record_matches(["not", "a", "record"], {"a": 1})


def test_a_find_that_misses_a_record_created_lately_is_reported(
    redis_client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    clock = [1000.0]
    created = CreatedRecords(redis_client, "crm", ttl_seconds=60, now=lambda: clock[0])
    match = {"email": "ada@example.com"}
    lock = lock_key("crm", "contacts", "ada")
    with created.upsert("contacts", match, lock=lock) as first:
        assert first.missed() is False  # nothing created: a plain miss
        first.created("c1")
    clock[0] += 12
    with (
        caplog.at_level(logging.WARNING, logger="hub.connector"),
        created.upsert("contacts", match, lock=lock) as again,
    ):
        assert again.missed() is True
    (message,) = [r.getMessage() for r in caplog.records]
    assert "crm contacts: a find for" in message and "created c1 for it 12s ago" in message
    assert redis_client.hget(MISSES_KEY, "crm:contacts") == b"1"
    other = {"email": "bob@example.com"}
    with created.upsert("contacts", other, lock=lock_key("bob")) as bob:
        assert bob.missed() is False
    text = exposition(redis_client).decode()
    assert 'hub_find_misses_total{connector="crm",resource="contacts"} 1.0' in text
    assert 0 < redis_client.ttl(created._key("contacts", match)) <= 60


def test_an_upsert_guard_holds_the_lock_and_remembers_what_it_created_on_release(
    redis_client: redis.Redis,
) -> None:
    created = CreatedRecords(redis_client, "crm", ttl_seconds=60)
    match = {"email": "ada@example.com"}
    lock = lock_key("crm", "contacts", "ada")
    with created.upsert("contacts", match, lock=lock) as guard:
        assert redis_client.get(lock) is not None
        with pytest.raises(LockBusy), created.upsert("contacts", match, lock=lock):
            pass  # a second upsert of the key waits for this one
        guard.created("c1")
        assert redis_client.get(created._key("contacts", match)) is None  # not yet
    assert redis_client.get(lock) is None
    assert json.loads(redis_client.get(created._key("contacts", match)) or "{}")["id"] == "c1"


def test_an_upsert_guard_releases_its_lock_when_the_block_fails(
    redis_client: redis.Redis,
) -> None:
    created = CreatedRecords(redis_client, "crm", ttl_seconds=60)
    match = {"email": "bob@example.com"}
    lock = lock_key("crm", "contacts", "bob")
    with pytest.raises(RuntimeError), created.upsert("contacts", match, lock=lock):
        raise RuntimeError("the create failed")
    assert redis_client.get(lock) is None
    assert redis_client.get(created._key("contacts", match)) is None
    redis_client.set(lock, "another holder")
    with pytest.raises(LockBusy), created.upsert("contacts", match, lock=lock):
        pass
    assert redis_client.get(lock) == b"another holder"  # only its holder releases it


def test_in_a_step_the_release_rides_with_the_steps_next_round_trip(
    redis_client: redis.Redis,
) -> None:
    books = RoundTrips(redis_client)
    created = CreatedRecords(books, "crm", ttl_seconds=60)
    match = {"email": "cy@example.com"}
    lock = lock_key("crm", "contacts", "cy")
    with trailing_writes(books):
        with created.upsert("contacts", match, lock=lock) as guard:
            guard.created("c3")
        assert books.round_trips == [["SET", "GET"]]  # the lock taken, what was created read
        assert redis_client.get(lock) is not None  # held until the step's next round trip
        end = RedisBatch(books)
        end.add("PING")
        end.send()
        assert books.round_trips[1] == ["SET", "EVAL", "PING"]  # remembered, released
        assert redis_client.get(lock) is None
    assert json.loads(redis_client.get(created._key("contacts", match)) or "{}")["id"] == "c3"
