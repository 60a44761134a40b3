"""The shared record operations: names, summaries, argument rules, paging and answers."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field

from hub.connector import crud
from hub.connector.declaration import Operation, operation_table
from hub.core.errors import FatalError, NotFound


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ListArgs(_Strict):
    board_id: str
    limit: int | None = None
    max_items: int = 3
    fields: list[str] = Field(default_factory=list)


class FindArgs(_Strict):
    board_id: str
    title: str | None = None
    status: str | None = None
    limit: int | None = None


class GetArgs(_Strict):
    board_id: str
    id: str
    expand: list[str] = Field(default_factory=list)


class Card(_Strict):
    board_id: str
    title: str
    status: str = "open"
    due: str | None = None
    labels: list[str] = Field(default_factory=list)


class CardChanges(_Strict):
    title: str | None = None
    due: str | None = None


class UpdateArgs(_Strict):
    board_id: str
    ids: list[str]
    data: CardChanges


class DeleteArgs(_Strict):
    board_id: str
    id: str


class FakeRecords:
    """An upstream of cards in memory that logs every call made to it."""

    service = "Cards"

    def __init__(self, cards: list[dict[str, Any]] | None = None) -> None:
        self.cards = cards if cards is not None else []
        self.calls: list[tuple[Any, ...]] = []
        self.updated: Any = None
        self.deleted: Any = None

    def list(self, path: str, query: Mapping[str, Any], *, limit: int | None) -> Iterator[Any]:
        self.calls.append(("list", path, dict(query), limit))
        return iter(self.cards[:limit] if limit is not None else self.cards)

    def find(self, path: str, filters: Mapping[str, Any], *, limit: int | None) -> Iterator[Any]:
        self.calls.append(("find", path, dict(filters), limit))
        return crud.matching(self.cards, filters, limit=limit)

    def get(self, path: str, record_id: str, query: Mapping[str, Any]) -> Any | None:
        self.calls.append(("get", path, record_id, dict(query)))
        return next((c for c in self.cards if c["key"] == record_id), None)

    def create(self, path: str, body: Mapping[str, Any]) -> Any:
        self.calls.append(("create", path, dict(body)))
        return {"key": "new", **body}

    def update(self, path: str, record_ids: Sequence[str], changes: Mapping[str, Any]) -> Any:
        self.calls.append(("update", path, list(record_ids), dict(changes)))
        return self.updated

    def delete(self, path: str, record_ids: Sequence[str]) -> Any:
        self.calls.append(("delete", path, list(record_ids)))
        return self.deleted


class Board:
    """The runtime API object: the generator reaches the records through it."""

    def __init__(self, records: FakeRecords) -> None:
        self.records = records


CRUD: crud.Crud[Board] = crud.Crud("kanban", lambda board: board.records, id_field="key")
CARDS = crud.Resource(
    "cards",
    path="boards/{board_id}/cards",
    one="card",
    actions={
        "list": ListArgs,
        "get": GetArgs,
        "find": FindArgs,
        "create": Card,
        "update": UpdateArgs,
        "delete": DeleteArgs,
    },
    max_items=10,
)


def run(records: FakeRecords, action: str, args: dict[str, Any], resource: Any = CARDS) -> Any:
    ops = {op.name: op for op in CRUD.operations(resource)}
    op = ops[f"cards.{action}"]
    return op.call(Board(records), op.input.model_validate(args))


def cards(n: int) -> list[dict[str, Any]]:
    return [{"key": f"c{i}", "title": f"t{i}", "status": "open"} for i in range(n)]


def test_operations_are_named_summarised_and_flagged_uniformly() -> None:
    ops = CRUD.operations(CARDS)
    assert [op.name for op in ops] == [f"cards.{a}" for a in crud.ACTIONS]
    assert [op.writes for op in ops] == [False, False, False, True, True, True]
    assert ops[0].summary == "List cards, page by page."
    assert ops[1].summary == "Read one card." and ops[1].input is GetArgs
    custom: crud.Crud[Board] = crud.Crud(
        "kanban",
        lambda board: board.records,
        id_field="key",
        summaries={"get": "The {one} with {id} in /{path}."},
    )
    resource = crud.Resource(
        "cards",
        path="cards",
        one="card",
        many="tickets",
        actions={"list": ListArgs, "get": DeleteArgs},
        summaries={"list": "All {many}."},
    )
    listed, got = custom.operations(resource)
    assert (listed.summary, got.summary) == ("All tickets.", "The card with key in /cards.")


def test_own_operations_take_their_place_in_the_connectors_order() -> None:
    order = ("list", "archive", "get", "create")
    ordered: crud.Crud[Board] = crud.Crud("kanban", lambda b: b.records, order=order)
    actions: dict[crud.Action, type[BaseModel]] = {"create": Card, "get": GetArgs}
    resource = crud.Resource("cards", path="boards/{board_id}/cards", one="card", actions=actions)

    def archive(board: Board, args: DeleteArgs) -> Any:
        return {"archived": args.id}

    own = Operation("cards.archive", DeleteArgs, archive, "Archive a card.", writes=True)
    extra = Operation("cards.pin", DeleteArgs, archive, "Pin a card.")
    names = [op.name for op in ordered.operations(resource, extra, own)]
    assert names == ["cards.archive", "cards.get", "cards.create", "cards.pin"]


@pytest.mark.parametrize(
    ("own_name", "problem"), [("boards.archive", "not a new action"), ("cards.get", "not a new")]
)
def test_own_operations_must_be_new_actions_of_the_resource(own_name: str, problem: str) -> None:
    own: Operation[Board, DeleteArgs] = Operation(own_name, DeleteArgs, lambda board, args: None)
    with pytest.raises(ValueError, match=problem):
        CRUD.operations(CARDS, own)


@pytest.mark.parametrize(
    ("path", "action", "model", "problem"),
    [
        ("boards/{board}/cards", "list", ListArgs, r"kanban.cards.list: its path needs .*board"),
        ("cards", "get", ListArgs, r"kanban.cards.get: its arguments need `id`"),
        ("cards", "delete", Card, r"kanban.cards.delete: its arguments need `id`"),
        ("cards", "update", DeleteArgs, r"kanban.cards.update: its arguments need `data`"),
    ],
)
def test_a_model_that_lacks_what_its_action_needs_is_refused_when_declared(
    path: str, action: crud.Action, model: type[BaseModel], problem: str
) -> None:
    resource = crud.Resource("cards", path=path, one="card", actions={action: model})
    with pytest.raises(ValueError, match=problem):
        CRUD.operations(resource)


def test_list_fills_the_path_and_passes_the_rest_as_its_query() -> None:
    records = FakeRecords(cards(2))
    assert run(records, "list", {"board_id": "b1", "fields": ["title"]}) == cards(2)
    # asked for one more than max_items, to tell "exactly max_items" from "more"
    assert records.calls == [("list", "boards/b1/cards", {"fields": ["title"]}, 4)]


def test_list_with_limit_takes_the_first_ones() -> None:
    records = FakeRecords(cards(8))
    assert run(records, "list", {"board_id": "b1", "limit": 5}) == cards(5)
    assert records.calls[0][-1] == 5


def test_a_read_with_a_limit_declares_its_pages_as_its_calls() -> None:
    paged: crud.Crud[Board] = crud.Crud(
        "kanban", lambda board: board.records, id_field="key", page_size=2
    )
    ops = {op.name: op for op in paged.operations(CARDS)}

    def calls(action: str, args: dict[str, Any]) -> int:
        op = ops[f"cards.{action}"]
        return op.calls_for(op.input.model_validate(args))

    assert calls("list", {"board_id": "b1", "limit": 5}) == 3
    assert calls("find", {"board_id": "b1", "limit": 2}) == 1
    # without a limit, the pages max_items allows are rarely all read: one at a time
    assert calls("list", {"board_id": "b1"}) == 1
    assert calls("create", {"board_id": "b1", "title": "t"}) == 1
    # without a page size, every generated operation is one call
    plain = {op.name: op for op in CRUD.operations(CARDS)}["cards.list"]
    assert plain.calls_for(plain.input.model_validate({"board_id": "b1", "limit": 5})) == 1


def test_list_past_max_items_fails_rather_than_truncating() -> None:
    records = FakeRecords(cards(4))
    with pytest.raises(FatalError, match=r"kanban.cards: more than 3 cards match.*`max_items`"):
        run(records, "list", {"board_id": "b1"})
    assert len(run(records, "list", {"board_id": "b1", "max_items": 4})) == 4


def test_find_uses_the_resources_max_items_when_the_arguments_have_none() -> None:
    records = FakeRecords([*cards(11), {"key": "x", "title": "other"}])
    with pytest.raises(FatalError, match=r"more than 10 cards match; set `limit`.*query$"):
        run(records, "find", {"board_id": "b1", "status": "open"})
    assert records.calls[-1] == ("find", "boards/b1/cards", {"status": "open"}, 11)
    found = run(records, "find", {"board_id": "b1", "title": "other"})
    assert found == [{"key": "x", "title": "other"}]


def test_get_answers_the_record_or_not_found() -> None:
    records = FakeRecords(cards(2))
    assert run(records, "get", {"board_id": "b1", "id": "c1", "expand": ["labels"]})["key"] == "c1"
    assert records.calls[-1] == ("get", "boards/b1/cards", "c1", {"expand": ["labels"]})
    with pytest.raises(NotFound, match=r"^Cards has no card with key ghost \(in /boards/b1/"):
        run(records, "get", {"board_id": "b1", "id": "ghost"})


def test_create_sends_the_fields_given_without_the_path() -> None:
    records = FakeRecords()
    made = run(records, "create", {"board_id": "b1", "title": "T", "due": None})
    assert records.calls == [("create", "boards/b1/cards", {"title": "T"})]
    assert made == {"key": "new", "title": "T"}


def test_create_can_send_every_non_null_field() -> None:
    everything: crud.Crud[Board] = crud.Crud("kanban", lambda b: b.records, send="non_null")
    op = everything.operation(CARDS, "create")
    records = FakeRecords()
    op.call(Board(records), Card(board_id="b1", title="T"))
    body = {"title": "T", "status": "open", "labels": []}
    assert records.calls == [("create", "boards/b1/cards", body)]


def test_update_sends_the_changes_given_and_names_ids_the_upstream_left_out() -> None:
    records = FakeRecords()
    records.updated = [{"key": "c1", "title": "T"}]
    args = {"board_id": "b1", "ids": ["c1"], "data": {"title": "T", "due": None}}
    assert run(records, "update", args) == records.updated
    assert records.calls == [("update", "boards/b1/cards", ["c1"], {"title": "T", "due": None})]
    with pytest.raises(NotFound, match=r"no card with key c2 \(in /boards/b1/cards\); 1 of 2"):
        run(records, "update", {**args, "ids": ["c1", "c2"]})


def test_update_of_one_record_answered_with_the_record_is_not_checked_for_ids() -> None:
    records = FakeRecords()
    records.updated = {"key": "elsewhere"}
    args = {"board_id": "b1", "ids": ["c1"], "data": {"title": "T"}}
    assert run(records, "update", args) == {"key": "elsewhere"}


def test_delete_answers_the_upstreams_answer_or_what_it_deleted() -> None:
    records = FakeRecords()
    assert run(records, "delete", {"board_id": "b1", "id": "c1"}) == {"deleted": True, "id": "c1"}
    assert records.calls == [("delete", "boards/b1/cards", ["c1"])]
    records.deleted = [{"key": "c1"}]
    assert run(records, "delete", {"board_id": "b1", "id": "c1"}) == [{"key": "c1"}]


def test_given_and_non_null_fields() -> None:
    card = Card(board_id="b1", title="T", due=None)
    assert crud.given_fields(card, exclude={"board_id"}) == {"title": "T"}
    assert crud.non_null_fields(card, exclude={"board_id"}) == {
        "title": "T",
        "status": "open",
        "labels": [],
    }


def test_matching_keeps_equal_records_up_to_the_limit() -> None:
    rows = [{"a": 1, "b": 2}, {"a": 1, "b": 3}, {"a": 1, "b": 2}, "not a record"]
    assert list(crud.matching(rows, {"a": 1, "b": 2})) == [rows[0], rows[2]]
    assert list(crud.matching(rows, {"a": 1}, limit=1)) == [rows[0]]


def test_per_record_answers_one_answer_or_the_list() -> None:
    assert crud.per_record(["a"], str.upper) == "A"
    assert crud.per_record(["a", "b"], str.upper) == ["A", "B"]


def test_operation_table_refuses_a_name_given_twice() -> None:
    op: Operation[Board, ListArgs] = Operation("cards.list", ListArgs, lambda board, args: None)
    assert list(operation_table(op)) == ["cards.list"]
    with pytest.raises(ValueError, match=r"'cards\.list' is declared twice"):
        operation_table(op, op)
