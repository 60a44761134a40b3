from __future__ import annotations

import random
import uuid

import pytest
from starlette.requests import Request

from hub.sandbox.clock import FakeClock
from hub.sandbox.documents import MemoryStore
from hub.sandbox.inputs import BadInput, bearer_token, read_form, read_object
from hub.sandbox.records import Naming, RecordTable, new_uuid


def _table(seed: int = 1) -> RecordTable:
    rng = random.Random(seed)
    return RecordTable(MemoryStore(FakeClock(), rng), "items", rng, defaults={"state": "new"})


def test_ids_are_uuid4_and_reproducible_from_the_seed() -> None:
    a, b = _table(5).create("ns", {"name": "x"}), _table(5).create("ns", {"name": "x"})
    assert a["id"] == b["id"] and uuid.UUID(a["id"]).version == 4
    assert new_uuid(random.Random(1)) != new_uuid(random.Random(2))


def test_create_get_list_update_delete_under_a_parent() -> None:
    table = _table()
    one = table.create("ns", {"name": "a", "id": "forged", "created_at": "x"}, {"project": "p1"})
    other = table.create("ns", {"name": "b"}, {"project": "p2"})
    assert one["id"] != "forged" and one["state"] == "new" and one["project"] == "p1"
    assert one["created_at"] == one["updated_at"]
    assert [r["name"] for r in table.list("ns", {"project": "p1"})] == ["a"]
    assert table.get("ns", one["id"], {"project": "p2"}) is None
    changed = table.update("ns", one["id"], {"state": "done", "project": "p2"}, {"project": "p1"})
    assert changed is not None and changed["state"] == "done" and changed["project"] == "p1"
    assert table.update("ns", "missing", {"state": "x"}) is None
    with pytest.raises(BadInput):
        table.update("ns", one["id"], {"name.first": "nested in a string"})
    assert table.delete("ns", other["id"], {"project": "p1"}) is False
    assert table.delete("ns", other["id"]) is True and table.get("ns", other["id"]) is None


def test_naming_round_trip_and_hidden_timestamps() -> None:
    naming = Naming(id="id", created=None, updated=None)
    stored = {"_id": "1", "createdAt": "t", "updatedAt": "t", "name": "n"}
    assert naming.present(stored) == {"id": "1", "name": "n"}
    assert Naming().stored({"id": "1", "created_at": "t", "x": 1}) == {
        "_id": "1",
        "createdAt": "t",
        "x": 1,
    }


def _request(body: bytes, headers: dict[str, str]) -> Request:
    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": body, "more_body": False}

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    return Request(scope, receive)


@pytest.mark.anyio
async def test_readers() -> None:
    form = _request(b"a=1&b=", {"Content-Type": "application/x-www-form-urlencoded; charset=x"})
    assert await read_form(form) == {"a": "1", "b": ""}
    with pytest.raises(BadInput, match="x-www-form-urlencoded"):
        await read_form(_request(b"{}", {"Content-Type": "application/json"}))
    assert await read_object(_request(b"", {})) == {}
    with pytest.raises(BadInput, match="not valid JSON"):
        await read_object(_request(b"{nope", {}))
    assert bearer_token(_request(b"", {"Authorization": "bearer abc"})) == "abc"
    assert bearer_token(_request(b"", {"Authorization": "Basic abc"})) is None
