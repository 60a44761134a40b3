"""The MongoDB-style query matcher."""

from __future__ import annotations

from typing import Any

import pytest

from hub.sandbox.mongo import (
    QueryError,
    compile_query,
    equality_hint,
    key_filter_query,
    matches,
    resolve_path,
)

LEO: dict[str, Any] = {
    "_id": "a1",
    "name": {"first": "Leo", "last": "Doe"},
    "role": "client",
    "age": 41,
    "vip": True,
    "tags": ["x", "y"],
    "contactEmails": [
        {"address": "leo@work.test", "type": "work"},
        {"address": "leo@home.test", "type": "home"},
    ],
    "createdAt": "2024-03-01T10:00:00.000Z",
    "note": None,
}


def test_resolve_path_descends_into_arrays() -> None:
    assert resolve_path(LEO, "name.first") == ["Leo"]
    assert resolve_path(LEO, "contactEmails.address") == ["leo@work.test", "leo@home.test"]
    assert resolve_path(LEO, "contactEmails.1.type") == ["home"]
    assert resolve_path(LEO, "name.middle") == []


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"name.first": "Leo"}, True),
        ({"name.first": "leo"}, False),
        ({"name": {"first": "Leo", "last": "Doe"}}, True),
        ({"contactEmails.address": "leo@home.test"}, True),
        ({"tags": "y"}, True),
        ({"tags": ["x", "y"]}, True),
        ({"note": None}, True),
        ({"missing": None}, True),
        ({"vip": 1}, False),  # a boolean is not a number
        ({"$or": [{"name.first": "John"}, {"name.last": "Doe"}]}, True),
        ({"$or": [{"name.first": "John"}, {"name.last": "Roe"}]}, False),
        ({"$and": [{"role": "client"}, {"age": {"$gte": 41}}]}, True),
        ({"$nor": [{"role": "lead"}]}, True),
        ({"role": {"$in": ["lead", "client"]}}, True),
        ({"role": {"$nin": ["lead", "client"]}}, False),
        ({"tags": {"$in": ["z", "x"]}}, True),
        ({"role": {"$ne": "client"}}, False),
        ({"contactEmails.type": {"$ne": "other"}}, True),
        ({"age": {"$gt": 40, "$lt": 42}}, True),
        ({"age": {"$lte": 40}}, False),
        ({"age": {"$gt": "40"}}, False),  # no comparing across types
        ({"createdAt": {"$gte": "2024-03-01T00:00:00.000Z"}}, True),
        ({"createdAt": {"$lt": "2024-02-01"}}, False),
        ({"name.middle": {"$exists": False}}, True),
        ({"note": {"$exists": True}}, True),
        ({"name.first": {"$regex": "^le", "$options": "i"}}, True),
        ({"name.first": {"$regex": "^le"}}, False),
        ({"contactEmails.address": {"$regex": "home"}}, True),
        ({"name.first": {"$not": {"$regex": "^L"}}}, False),
        ({"tags": {"$size": 2}}, True),
        ({"tags": {"$all": ["y", "x"]}}, True),
        ({"tags": {"$all": ["y", "q"]}}, False),
        ({"contactEmails": {"$elemMatch": {"type": "home", "address": {"$regex": "home"}}}}, True),
        ({"contactEmails": {"$elemMatch": {"type": "home", "address": "leo@work.test"}}}, False),
        ({"tags": {"$elemMatch": {"$eq": "y"}}}, True),
        ({"age": {"$eq": 41}}, True),
        ({}, True),
    ],
)
def test_operators(query: dict[str, Any], expected: bool) -> None:
    assert matches(LEO, query) is expected


@pytest.mark.parametrize(
    "query",
    [
        [],
        {"$where": "1"},
        {"age": {"$near": 1}},
        {"$or": []},
        {"$or": {"a": 1}},
        {"role": {"$in": "client"}},
        {"name.first": {"$regex": "("}},
        {"name.first": {"$regex": "a", "$options": "q"}},
        {"name.first": {"$options": "i"}},
        {"age": {"$gt": 1, "plain": 2}},
        {"tags": {"$size": "2"}},
    ],
)
def test_bad_queries_fail_when_compiled(query: Any) -> None:
    with pytest.raises(QueryError):
        compile_query(query)


def test_key_filters_coerce_text() -> None:
    query = key_filter_query(
        [
            ("name.first", "Leo"),
            ("age", "41"),
            ("vip", "true"),
            ("role", "lead"),
            ("role", "client"),
        ]
    )
    assert matches(LEO, query)
    assert matches({"amount": 100.5}, key_filter_query([("amount", "100.5")]))
    assert matches({"code": "007"}, key_filter_query([("code", "007")]))
    assert not matches(LEO, key_filter_query([("age", "42")]))
    with pytest.raises(QueryError):
        key_filter_query([("$where", "x")])


def test_parse_sort_reads_json_and_the_short_form() -> None:
    from hub.sandbox.mongo import parse_sort

    assert parse_sort('{"updatedAt": 1, "_id": -1}') == [("updatedAt", 1), ("_id", -1)]
    assert parse_sort("updatedAt, -_id") == [("updatedAt", 1), ("_id", -1)]
    for bad in ('{"a": 2}', '{"a": true}', "{}", '{"$a": 1}', "[1]", "{oops"):
        with pytest.raises(QueryError):
            parse_sort(bad)


def test_sort_records_orders_by_keys_in_turn_and_ranks_types() -> None:
    from hub.sandbox.mongo import sort_records

    docs = [
        {"_id": "c", "t": "2024-01-02"},
        {"_id": "b", "t": "2024-01-01"},
        {"_id": "a", "t": "2024-01-02"},
        {"_id": "d"},
        {"_id": "e", "t": 5},
    ]
    ids = [d["_id"] for d in sort_records(docs, [("t", 1), ("_id", 1)])]
    assert ids == ["d", "e", "b", "a", "c"]
    ids = [d["_id"] for d in sort_records(docs, [("t", -1), ("_id", 1)])]
    assert ids == ["a", "c", "b", "e", "d"]


def test_an_equality_hint_is_given_only_for_a_single_text_every_match_has() -> None:
    key = key_filter_query([("contactEmails.address", "ada@example.com")])
    assert equality_hint(key) == ("contactEmails.address", "ada@example.com")
    assert equality_hint({"$and": [{"role": {"$gt": 1}}, key]}) == (
        "contactEmails.address",
        "ada@example.com",
    )
    assert equality_hint({"name.first": "Ada"}) == ("name.first", "Ada")
    assert equality_hint({"name.first": {"$eq": "Ada"}}) == ("name.first", "Ada")
    for no_hint in (
        {"n": {"$in": ["1", "2"]}},  # either of two
        key_filter_query([("amount", "100")]),  # a number too
        {"$or": [key]},
        {"a": "x", "b": "y"},
        {"a": {"$regex": "x"}},
        {"a": {"$ne": "x"}},
    ):
        assert equality_hint(no_hint) is None, no_hint
