"""What upserts created, and finds that miss it; answers checked against their filter."""

from __future__ import annotations

import logging

import pytest
import redis

from hub.connector.created import MISSES_KEY, CreatedRecords, record_matches
from hub.history.metrics import exposition


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
    assert created.missed("contacts", match) is False  # nothing created: a plain miss
    created.remember("contacts", match, "c1")
    clock[0] += 12
    with caplog.at_level(logging.WARNING, logger="hub.connector"):
        assert created.missed("contacts", match) is True
    (message,) = [r.getMessage() for r in caplog.records]
    assert "crm contacts: a find for" in message and "created c1 for it 12s ago" in message
    assert redis_client.hget(MISSES_KEY, "crm:contacts") == b"1"
    assert created.missed("contacts", {"email": "bob@example.com"}) is False
    text = exposition(redis_client).decode()
    assert 'hub_find_misses_total{connector="crm",resource="contacts"} 1.0' in text
    assert 0 < redis_client.ttl(created._key("contacts", match)) <= 60
