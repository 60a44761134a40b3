"""Every kind of Plutio operation, against the sandbox on a loopback server."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import pytest
from pydantic import ValidationError

from connectors.plutio.operations import OPERATIONS
from hub.core.errors import FatalError, NotFound
from tests.connectors.plutio.conftest import Sandbox

Run = Callable[[str, dict[str, Any]], Any]


def _people(n: int) -> list[dict[str, Any]]:
    return [
        {
            "_id": f"p{i:03d}",
            "name": {"first": f"First{i}", "last": "Even" if i % 2 == 0 else "Odd"},
            "contactEmails": [{"address": f"user{i}@example.com", "type": "work"}],
            "role": "client",
        }
        for i in range(n)
    ]


def _api_calls(sandbox: Sandbox, method: str, path: str) -> list[dict[str, Any]]:
    return [c for c in sandbox.calls() if c["method"] == method and c["path"] == path]


def test_list_pages_through_more_than_a_page(sandbox: Sandbox, run: Run) -> None:
    sandbox.seed({"people": _people(250)})
    records = run("people.list", {})
    assert [r["_id"] for r in records] == [f"p{i:03d}" for i in range(250)]
    pages = [parse_qs(c["query"]) for c in _api_calls(sandbox, "GET", "/people")]
    assert [(p["skip"], p["limit"]) for p in pages] == [
        (["0"], ["100"]),
        (["100"], ["100"]),
        (["200"], ["100"]),
    ]


def test_list_limit_takes_the_first_ones_in_one_call(sandbox: Sandbox, run: Run) -> None:
    sandbox.seed({"people": _people(30)})
    records = run("people.list", {"limit": 5})
    assert [r["_id"] for r in records] == ["p000", "p001", "p002", "p003", "p004"]
    pages = [parse_qs(c["query"]) for c in _api_calls(sandbox, "GET", "/people")]
    assert pages == [{"skip": ["0"], "limit": ["5"]}]


def test_list_max_items_guard_fails_instead_of_truncating(sandbox: Sandbox, run: Run) -> None:
    sandbox.seed({"people": _people(150)})
    with pytest.raises(FatalError, match="more than 120 people match; set `limit`"):
        run("people.list", {"max_items": 120})
    assert len(run("people.list", {"max_items": 150})) == 150


def test_get_by_id_and_not_found(sandbox: Sandbox, run: Run) -> None:
    sandbox.seed({"people": _people(3)})
    assert run("people.get", {"_id": "p001"})["name"]["first"] == "First1"
    with pytest.raises(NotFound, match="no person with _id nope") as info:
        run("people.get", {"_id": "nope"})
    assert isinstance(info.value, FatalError) and info.value.status == 404
    assert [parse_qs(c["query"])["_id"] for c in _api_calls(sandbox, "GET", "/people")] == [
        ["p001"],
        ["nope"],
    ]


def test_find_by_key_filters_and_q(sandbox: Sandbox, run: Run) -> None:
    sandbox.seed({"people": _people(10)})
    by_key = run("people.find", {"query": {"name.last": "Odd"}})
    assert [r["_id"] for r in by_key] == ["p001", "p003", "p005", "p007", "p009"]
    by_email = run("people.find", {"query": {"contactEmails.address": "user4@example.com"}})
    assert [r["_id"] for r in by_email] == ["p004"]
    by_q = run(
        "people.find",
        {"q": {"$or": [{"name.first": "First2"}, {"name.first": "First7"}]}},
    )
    assert [r["_id"] for r in by_q] == ["p002", "p007"]
    both = run(
        "people.find", {"query": {"name.last": "Even"}, "q": {"_id": {"$in": ["p002", "p003"]}}}
    )
    assert [r["_id"] for r in both] == ["p002"]
    queries = [parse_qs(c["query"]) for c in _api_calls(sandbox, "GET", "/people")]
    assert queries[0]["name.last"] == ["Odd"]
    assert json.loads(queries[2]["q"][0]) == {
        "$or": [{"name.first": "First2"}, {"name.first": "First7"}]
    }
    assert run("people.find", {"query": {"name.last": "Nobody"}}) == []


def test_find_needs_a_filter() -> None:
    with pytest.raises(ValidationError, match="find needs `query` or `q`"):
        OPERATIONS["people.find"].input.model_validate({})


def test_create_person_is_strict_and_lands(sandbox: Sandbox, run: Run) -> None:
    with pytest.raises(ValidationError, match="nmae"):
        OPERATIONS["people.create"].input.model_validate({"name": {"first": "A"}, "nmae": 1})
    person = run(
        "people.create",
        {"name": {"first": "Grace", "last": "Hopper"}, "contactEmails": [{"address": "g@x.org"}]},
    )
    assert person["_id"]
    stored = sandbox.state("people")
    assert [(p["name"], p["contactEmails"]) for p in stored] == [
        ({"first": "Grace", "last": "Hopper"}, [{"address": "g@x.org", "type": "work"}])
    ]
    post = _api_calls(sandbox, "POST", "/people")
    assert len(post) == 1 and post[0]["status"] == 200


def test_invoice_is_strict_and_other_resources_take_any_field(run: Run) -> None:
    with pytest.raises(ValidationError, match="amout"):
        OPERATIONS["invoices.create"].input.model_validate({"amout": 10})
    invoice = run("invoices.create", {"name": "INV-1", "amount": 120.5, "currency": "EUR"})
    assert (invoice["amount"], invoice["currency"], invoice["status"]) == (120.5, "EUR", "draft")
    company = run("companies.create", {"title": "Acme", "anything": {"goes": True}})
    assert company["title"] == "Acme" and company["anything"] == {"goes": True}


def test_update_through_bulk_put(sandbox: Sandbox, run: Run) -> None:
    sandbox.seed({"people": _people(3)})
    updated = run("people.update", {"_ids": ["p000", "p002"], "data": {"role": "team"}})
    assert sorted(r["_id"] for r in updated) == ["p000", "p002"]
    roles = {p["_id"]: p["role"] for p in sandbox.state("people")}
    assert roles == {"p000": "team", "p001": "client", "p002": "team"}
    puts = _api_calls(sandbox, "PUT", "/people/bulk")
    assert len(puts) == 1 and puts[0]["status"] == 200
    with pytest.raises(NotFound, match=r"no person with _id ghost.*1 of 2 updated"):
        run("people.update", {"_ids": ["p001", "ghost"], "data": {"role": "x"}})


def test_update_arguments_are_checked() -> None:
    model = OPERATIONS["people.update"].input
    with pytest.raises(ValidationError, match="at least one field"):
        model.model_validate({"_ids": ["a"], "data": {}})
    with pytest.raises(ValidationError, match="rol"):
        model.model_validate({"_ids": ["a"], "data": {"rol": "x"}})
    with pytest.raises(ValidationError, match="_ids"):
        model.model_validate({"_ids": [], "data": {"role": "x"}})


def test_delete_through_bulk_delete_is_idempotent(sandbox: Sandbox, run: Run) -> None:
    sandbox.seed({"people": _people(3)})
    removed = run("people.delete", {"_ids": ["p000", "p001"]})
    assert sorted(r["_id"] for r in removed) == ["p000", "p001"]
    assert [p["_id"] for p in sandbox.state("people")] == ["p002"]
    assert run("people.delete", {"_ids": ["p000"]}) == []  # a redelivered delete is harmless
    assert [c["status"] for c in _api_calls(sandbox, "DELETE", "/people/bulk")] == [200, 200]


def test_upsert_finds_before_creating_and_can_update(sandbox: Sandbox, run: Run) -> None:
    args = {
        "match": {"contactEmails.address": "ada@example.com"},
        "data": {"name": {"first": "Ada"}, "contactEmails": [{"address": "ada@example.com"}]},
    }
    first = run("people.upsert", args)
    second = run("people.upsert", args)
    assert first["created"] is True and second["created"] is False
    assert second["record"]["_id"] == first["record"]["_id"]
    changed = run(
        "people.upsert",
        {
            "match": args["match"],
            "data": {"name": {"first": "Ada"}, "role": "lead"},
            "on_match": "update",
        },
    )
    assert changed["created"] is False and changed["record"]["role"] == "lead"
    stored = sandbox.state("people")
    assert len(stored) == 1 and stored[0]["role"] == "lead"
    # fields data did not name are left alone, not reset to their defaults
    assert stored[0]["contactEmails"] == [{"address": "ada@example.com", "type": "work"}]


def test_an_upsert_whose_find_misses_what_it_created_is_reported(
    sandbox: Sandbox, run: Run, redis_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A Plutio that does not honour the filter answers nothing: each upsert would create."""
    args = {
        "match": {"contactEmails.address": "ada@example.com"},
        "data": {"name": {"first": "Ada"}, "contactEmails": [{"address": "ada@example.com"}]},
    }
    first = run("people.upsert", args)
    sandbox.faults(
        scripts=[{"method": "GET", "path": "/people", "answers": [{"status": 200, "body": []}]}]
    )
    with caplog.at_level(logging.WARNING, logger="hub.connector"):
        again = run("people.upsert", args)
    assert again["created"] is True  # the duplicate the report is about
    (line,) = [r.getMessage() for r in caplog.records if "matched nothing" in r.getMessage()]
    assert "plutio people" in line and first["record"]["_id"] in line
    assert redis_client.hget("hub:finds:missed", "plutio:people") == b"1"


def test_an_upsert_stops_when_plutio_answers_a_record_that_does_not_match(
    sandbox: Sandbox, run: Run
) -> None:
    """A Plutio that ignores the filter answers any record: never update or keep it."""
    sandbox.seed({"people": _people(3)})
    other = _people(1)[0]
    sandbox.faults(
        scripts=[
            {"method": "GET", "path": "/people", "answers": [{"status": 200, "body": [other]}]}
        ]
    )
    args = {
        "match": {"contactEmails.address": "ada@example.com"},
        "data": {"name": {"first": "Ada"}},
        "on_match": "update",
    }
    with pytest.raises(FatalError, match=r"p000, which does not match .*not honoured"):
        run("people.upsert", args)
    assert {p["_id"] for p in sandbox.state("people")} == {"p000", "p001", "p002"}


def test_move_and_copy_where_documented(sandbox: Sandbox, run: Run) -> None:
    sandbox.seed({"tasks": [{"_id": "t1", "title": "Write", "taskGroupId": "g1"}]})
    moved = run("tasks.move", {"_id": "t1", "data": {"taskGroupId": "g2"}})
    assert moved["_id"] == "t1" and moved["taskGroupId"] == "g2"
    copy = run("tasks.copy", {"_id": "t1", "data": {"title": "Write again"}})
    assert copy["_id"] != "t1" and copy["title"] == "Write again" and copy["taskGroupId"] == "g2"
    assert sorted(t["title"] for t in sandbox.state("tasks")) == ["Write", "Write again"]
    form = run("forms.create", {"title": "Signup"})
    assert run("forms.copy", {"_id": form["_id"]})["title"] == "Signup"
    assert "forms.move" not in OPERATIONS and "people.move" not in OPERATIONS
    with pytest.raises(FatalError, match="No tasks record with _id ghost") as info:
        run("tasks.move", {"_id": "ghost", "data": {"taskGroupId": "g2"}})
    assert info.value.status == 404


def test_an_upsert_declares_its_find_and_its_create() -> None:
    op = OPERATIONS["people.upsert"]
    args = op.input.model_validate(
        {"match": {"contactEmails.address": "a@x.io"}, "data": {"name": {"first": "A"}}}
    )
    assert op.calls_for(args) == 2
    find = OPERATIONS["people.find"]
    assert find.calls_for(find.input.model_validate({"query": {"a": 1}, "limit": 250})) == 3
