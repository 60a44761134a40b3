"""The resource table: complete, consistently named, and every operation works."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from connectors.plutio.models import Invoice, Person
from connectors.plutio.operations import OPERATIONS
from connectors.plutio.resources import RESOURCES, Resource
from connectors.plutio.sandbox import RESOURCES as SANDBOX_RESOURCES
from hub.workflow.fields import USES_PATTERN
from tests.connectors.plutio.conftest import Sandbox

Run = Callable[[str, dict[str, Any]], Any]

ASKED_FOR = [
    "people",
    "companies",
    "projects",
    "tasks",
    "task_boards",
    "task_groups",
    "time_tracks",
    "invoices",
    "invoice_subscriptions",
    "proposals",
    "contracts",
    "forms",
    "form_responses",
    "comments",
    "custom_fields",
]


def test_every_reference_resource_is_declared_with_its_endpoints() -> None:
    declared = {r.path: r.endpoints for r in RESOURCES.values()}
    documented = {name: spec.ops for name, spec in SANDBOX_RESOURCES.items()}
    assert declared == documented
    assert set(ASKED_FOR) <= set(RESOURCES)


def test_names_use_underscores_and_make_valid_uses() -> None:
    for name, op in OPERATIONS.items():
        assert "-" not in name
        assert re.fullmatch(USES_PATTERN, f"plutio.{name}"), name
        assert op.summary


def test_strict_models_where_fields_are_known() -> None:
    assert RESOURCES["people"].fields is Person
    assert RESOURCES["invoices"].fields is Invoice
    assert OPERATIONS["people.create"].input is Person
    assert OPERATIONS["companies.create"].input.model_config.get("extra") == "allow"


def _sample(r: Resource) -> dict[str, Any]:
    if r.fields is Person:
        return {"name": {"first": "Ada"}}
    if r.fields is Invoice:
        return {"name": "INV-1"}
    return {"title": "First"}


def _change(r: Resource) -> dict[str, Any]:
    if r.fields is Person:
        return {"role": "team"}
    if r.fields is Invoice:
        return {"name": "INV-2"}
    return {"title": "Second"}


@pytest.mark.parametrize("name", sorted(RESOURCES))
def test_every_operation_against_the_sandbox(name: str, sandbox: Sandbox, run: Run) -> None:
    r = RESOURCES[name]
    ops = {op.rpartition(".")[2] for op in OPERATIONS if op.rpartition(".")[0] == name}
    if "create" in ops:
        record = run(f"{name}.create", _sample(r))
    else:
        record = sandbox.seed({r.path: [_sample(r)]})[r.path][0]
    rid = record["_id"]
    if "list" in ops:
        assert [x["_id"] for x in run(f"{name}.list", {})] == [rid]
        assert run(f"{name}.get", {"_id": rid})["_id"] == rid
        assert [x["_id"] for x in run(f"{name}.find", {"query": {"_id": rid}})] == [rid]
        assert [x["_id"] for x in run(f"{name}.poll", {})["records"]] == [rid]
    if "upsert" in ops:
        found = run(f"{name}.upsert", {"match": {"_id": rid}, "data": _sample(r)})
        assert found == {"created": False, "record": record}
    if "update" in ops:
        updated = run(f"{name}.update", {"_ids": [rid], "data": _change(r)})
        assert [x["_id"] for x in updated] == [rid]
        assert all(updated[0][k] == v for k, v in _change(r).items())
    if "copy" in ops:
        assert run(f"{name}.copy", {"_id": rid})["_id"] != rid
    if "move" in ops:
        assert run(f"{name}.move", {"_id": rid, "data": {"parentId": "p2"}})["parentId"] == "p2"
    if "delete" in ops:
        removed = run(f"{name}.delete", {"_ids": [rid]})
        assert [x["_id"] for x in removed] == [rid]
        assert rid not in [x["_id"] for x in sandbox.state(r.path)]
    expected = {
        "list": {"list", "get", "find", "poll"},
        "create": {"create"},
        "update": {"update"},
        "delete": {"delete"},
        "move": {"move"},
        "copy": {"copy"},
    }
    wanted = set().union(*(expected[e] for e in r.endpoints))
    if {"list", "create"} <= r.endpoints:
        wanted.add("upsert")
    assert ops == wanted
    assert all(c["status"] == 200 for c in sandbox.calls()), sandbox.calls()
