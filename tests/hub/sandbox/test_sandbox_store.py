"""In-memory collections, ids, dotted paths and tokens."""

from __future__ import annotations

import random
import re

import pytest

from hub.sandbox.clock import FakeClock
from hub.sandbox.documents import MemoryStore, set_path
from hub.sandbox.mongo import texts_at
from hub.sandbox.tokens import TokenStore


def _store() -> tuple[MemoryStore, FakeClock]:
    clock = FakeClock()
    return MemoryStore(clock, random.Random(0)), clock


def test_insert_stamps_id_and_times_and_hands_out_copies() -> None:
    store, clock = _store()
    name = {"first": "Ada"}
    data = {"_id": "mine", "name": name, "createdAt": "x"}
    record = store.insert("ns", "people", data)
    assert re.fullmatch(r"[0-9a-f]{24}", record["_id"])
    assert record["_id"].startswith(f"{int(clock.now().timestamp()):08x}")
    assert record["createdAt"] == record["updatedAt"] == "2024-01-01T00:00:00.000Z"
    record["name"]["first"] = "changed"
    name["first"] = "changed too"
    assert store.get("ns", "people", record["_id"]) == {**record, "name": {"first": "Ada"}}


def test_keep_id_for_seeding_and_namespaces_are_apart() -> None:
    store, _ = _store()
    seeded = store.insert("a", "people", {"_id": "p1", "createdAt": "2020-01-01"}, keep_id=True)
    assert seeded == {"_id": "p1", "createdAt": "2020-01-01", "updatedAt": "2020-01-01"}
    assert store.find("b", "people") == []
    assert store.dump("a") == {"people": [seeded]}
    assert store.namespaces() == ["a", "b"]


def test_find_pages_in_insertion_order() -> None:
    store, _ = _store()
    for i in range(10):
        store.insert("ns", "tasks", {"n": i})
    page = store.find("ns", "tasks", lambda r: r["n"] % 2 == 0, skip=1, limit=2)
    assert [r["n"] for r in page] == [2, 4]


def test_update_many_sets_paths_and_protects_fields() -> None:
    store, clock = _store()
    a = store.insert("ns", "people", {"name": {"first": "A", "last": "X"}, "emails": [{"a": 1}]})
    b = store.insert("ns", "people", {"name": {"first": "B"}})
    clock.advance(60)
    updated = store.update_many(
        "ns",
        "people",
        [a["_id"], "nope", a["_id"]],
        {"name.first": "Z", "emails.0.a": 2, "_id": "hack", "createdAt": "hack"},
    )
    assert len(updated) == 1
    assert updated[0]["name"] == {"first": "Z", "last": "X"}
    assert updated[0]["emails"] == [{"a": 2}]
    assert updated[0]["_id"] == a["_id"] and updated[0]["createdAt"] == a["createdAt"]
    assert updated[0]["updatedAt"] == "2024-01-01T00:01:00.000Z"
    assert store.get("ns", "people", b["_id"]) == b
    with pytest.raises(ValueError):
        store.update_many("ns", "people", [a["_id"]], {"emails.5.a": 1})
    assert store.get("ns", "people", a["_id"]) == updated[0]  # nothing half-applied


def test_delete_many_returns_removed() -> None:
    store, _ = _store()
    a = store.insert("ns", "people", {})
    store.insert("ns", "people", {})
    assert store.delete_many("ns", "people", [a["_id"], "nope"]) == [a]
    assert len(store.find("ns", "people")) == 1
    store.clear()
    assert store.find("ns", "people") == []


def test_set_path() -> None:
    doc: dict[str, object] = {"a": 1}
    set_path(doc, "b.c", 2)
    set_path(doc, "a", {"x": 1})
    assert doc == {"a": {"x": 1}, "b": {"c": 2}}
    with pytest.raises(ValueError):
        set_path(doc, "b..c", 1)
    with pytest.raises(ValueError):
        set_path({"s": "text"}, "s.0.x", 1)


def test_tokens_expire_on_the_clock_and_on_demand() -> None:
    clock = FakeClock()
    tokens = TokenStore(clock, random.Random(0), ttl_seconds=60)
    token = tokens.issue("client")
    assert tokens.check(token.value).state == "valid"
    assert tokens.check(token.value).client_id == "client"
    assert tokens.check("nope").state == "unknown"
    assert tokens.check(None).state == "missing"
    clock.advance(60)
    assert tokens.check(token.value).state == "expired"
    assert tokens.check(token.value).client_id == "client"
    fresh = tokens.issue("client")
    assert tokens.expire_all() == 1
    assert tokens.check(fresh.value).state == "expired"
    tokens.clear()
    assert tokens.check(fresh.value).state == "unknown"


def test_find_sorts_before_skip_and_limit() -> None:
    store, _ = _store()
    for name, t in [("x", "2024-01-03"), ("y", "2024-01-01"), ("z", "2024-01-02")]:
        store.insert("ns", "things", {"_id": name, "updatedAt": t, "createdAt": t}, keep_id=True)
    page = store.find("ns", "things", skip=1, limit=1, sort=[("updatedAt", 1)])
    assert [r["_id"] for r in page] == ["z"]
    everything = store.find("ns", "things", sort=[("updatedAt", -1)])
    assert [r["_id"] for r in everything] == ["x", "z", "y"]
    assert [r["_id"] for r in store.find("ns", "things")] == ["x", "y", "z"]


def test_a_find_by_an_indexed_text_answers_as_a_full_scan_through_every_write() -> None:
    """The index a key-filter find uses is kept by inserts, updates, re-inserts and
    deletes: every find by it answers what testing each record answers, in order."""
    store, _ = _store()
    rng = random.Random(7)
    emails = [f"p{n}@example.com" for n in range(6)]
    path = "contactEmails.address"
    for step in range(300):
        ids = [r["_id"] for r in store.find("ns", "people")]
        action = rng.random()
        email = rng.choice(emails)
        if action < 0.4 or not ids:
            store.insert("ns", "people", {"contactEmails": [{"address": email}], "n": step})
        elif action < 0.6:
            store.update_many(
                "ns", "people", [rng.choice(ids)], {"contactEmails.0": {"address": email}}
            )
        elif action < 0.7:  # seeding again under an id taken: replaced, moved to the end
            kept = rng.choice(ids)
            store.insert("ns", "people", {"_id": kept, "tags": [email]}, keep_id=True)
        elif action < 0.8:
            store.delete_many("ns", "people", [rng.choice(ids)])
        for wanted, where in ((email, path), (email, "tags")):

            def has(record: dict[str, object], wanted: str = wanted, where: str = where) -> bool:
                return wanted in texts_at(record, where)

            scanned = store.find("ns", "people", has, skip=1, limit=3)
            assert store.find("ns", "people", has, skip=1, limit=3, equal=(where, wanted)) == (
                scanned
            )
    store.clear()
    assert store.find("ns", "people", None, equal=(path, emails[0])) == []
