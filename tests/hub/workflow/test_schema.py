"""The JSON Schema export: draft 2020-12, operations as an enum, ``with`` per operation.

Checked with the ``jsonschema`` package, as an editor's validator would read it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from hub.workflow.schema import DRAFT, workflow_json_schema
from tests.support.registry import registered

from .fakes import ACME, OPERATION_NAMES, lookup
from .test_loader import GOOD


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return workflow_json_schema(OPERATION_NAMES, lookup=lookup)


#: keywords that only annotate a schema (Draft202012Validator.VALIDATORS has the rest)
ANNOTATIONS = {"$schema", "$id", "$defs", "$comment", "title", "description", "default"}
#: applied by the "if" validator, not listed apart
BRANCHES = {"then", "else"}
#: keywords whose value maps names to subschemas
NAMED = ("properties", "$defs", "patternProperties", "dependentSchemas")


def _problems(schema: dict[str, Any], text: str) -> list[str]:
    errors = Draft202012Validator(schema).iter_errors(yaml.safe_load(text))
    return [f"{error.json_path}: {error.message}" for error in errors]


def _subschemas(schema: Any, pointer: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema object inside ``schema``, with its JSON pointer."""
    if not isinstance(schema, dict):
        return
    yield pointer, schema
    for key, value in schema.items():
        if key in NAMED and isinstance(value, dict):
            for name, sub in value.items():
                yield from _subschemas(sub, f"{pointer}/{key}/{name}")
        elif isinstance(value, dict):
            yield from _subschemas(value, f"{pointer}/{key}")
        elif isinstance(value, list):
            for i, sub in enumerate(value):
                yield from _subschemas(sub, f"{pointer}/{key}/{i}")


def _resolve(schema: dict[str, Any], ref: str) -> dict[str, Any]:
    assert ref.startswith("#/$defs/"), ref
    found: dict[str, Any] = schema["$defs"][ref.removeprefix("#/$defs/")]
    return found


def test_schema_is_draft_2020_12_with_known_keywords_and_resolvable_refs(
    schema: dict[str, Any],
) -> None:
    assert schema["$schema"] == DRAFT == "https://json-schema.org/draft/2020-12/schema"
    assert "definitions" not in schema  # the draft-07 spelling
    json.dumps(schema)  # plain JSON
    Draft202012Validator.check_schema(schema)  # against the draft's meta-schema
    known = set(Draft202012Validator.VALIDATORS) | ANNOTATIONS | BRANCHES
    refs = 0
    for pointer, sub in _subschemas(schema):
        if pointer.endswith(("/enum", "/const", "/default", "/required")) or "/enum/" in pointer:
            continue  # values, not schemas
        unknown = set(sub) - known
        assert not unknown, f"{pointer}: unknown keywords {unknown}"
        if "$ref" in sub:
            _resolve(schema, sub["$ref"])
            refs += 1
    assert refs > 10


def test_loader_only_attributes_are_not_in_the_schema(schema: dict[str, Any]) -> None:
    text = json.dumps(schema)
    for hidden in ("revision", "source_path", "source_text", "positions"):
        assert f'"{hidden}"' not in text
    assert set(schema["properties"]) == {
        "name",
        "description",
        "trigger",
        "if",
        "steps",
        "on_failure",
        "priority",
        "concurrency",
    }


def test_uses_is_an_enum_of_operations(schema: dict[str, Any]) -> None:
    for model in ("Step", "PollTrigger"):
        assert schema["$defs"][model]["properties"]["uses"]["enum"] == OPERATION_NAMES


def _with_refs(schema: dict[str, Any]) -> dict[str, str]:
    """Operation name to the ``$ref`` of its ``with`` schema, from the shared rules."""
    for model in ("Step", "PollTrigger"):
        assert schema["$defs"][model]["allOf"] == [{"$ref": "#/$defs/OperationInputs"}]
    refs: dict[str, str] = {}
    for rule in schema["$defs"]["OperationInputs"]["allOf"]:
        uses = rule["if"]["properties"]["uses"]
        for name in uses.get("enum", [uses.get("const")]):
            assert name not in refs, f"{name} has two rules"
            refs[name] = rule["then"]["properties"]["with"]["$ref"]
    return refs


def test_with_is_tied_to_each_operation_input(schema: dict[str, Any]) -> None:
    refs = _with_refs(schema)
    assert sorted(refs) == OPERATION_NAMES
    create = _resolve(schema, refs["acme.people.create"])
    assert create["additionalProperties"] is False
    assert create["required"] == ["name"]
    assert set(create["properties"]) == {"name", "role", "contactEmails", "tags", "age"}


def test_identical_definitions_are_kept_once() -> None:
    schema = workflow_json_schema()  # every connector's operations
    bodies = [json.dumps(body, sort_keys=True) for body in schema["$defs"].values()]
    assert len(bodies) == len(set(bodies))
    refs = _with_refs(schema)
    assert refs["plutio.people.find"] == refs["plutio.tasks.find"]  # same input model
    assert refs["plutio.people.create"] != refs["plutio.tasks.create"]
    for ref in set(refs.values()):
        _resolve(schema, ref)


def test_the_sample_workflow_validates(schema: dict[str, Any]) -> None:
    assert _problems(schema, GOOD) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("acme.people.find", "acme.people.fnd"), "'acme.people.fnd' is not one of"),
        (("type: work", "type: work, kind: home"), "is not valid under any of the given schemas"),
        (("name: crm-contact-to-person", "name: Not A Slug"), "$.name: 'Not A Slug' does not"),
        (
            ("event: contact.created }", "event: contact.created }\n  schedule: { every: 5m }"),
            "has too many properties",
        ),
        (("    uses: acme.people.create\n", ""), "$.steps[1]: 'uses' is a required property"),
        (('if: "{{ not', 'iff: "{{ not'), "$.steps[1]: Additional properties are not allowed"),
    ],
)
def test_broken_workflows_do_not_validate(
    schema: dict[str, Any], change: tuple[str, str], expected: str
) -> None:
    assert change[0] in GOOD
    found = _problems(schema, GOOD.replace(*change))
    assert any(expected in problem for problem in found), found


def test_templates_are_accepted_for_any_argument_type(schema: dict[str, Any]) -> None:
    text = GOOD.replace("type: work } ]", "type: work } ]\n      age: '{{ event.age }}'")
    assert _problems(schema, text) == []
    assert _problems(schema, text.replace("'{{ event.age }}'", "old"))
    assert _problems(schema, text.replace("'{{ event.age }}'", "36")) == []


def test_schedule_and_poll_triggers_validate(schema: dict[str, Any]) -> None:
    head = GOOD.split("trigger:")[0]
    steps = "steps:" + GOOD.split("steps:")[1]
    for trigger in (
        "trigger: { schedule: { cron: '*/5 * * * *' } }\n",
        "trigger: { schedule: { every: 300 } }\n",
        "trigger: { poll: { uses: acme.people.list, cursor: updatedAt, every: 1m,"
        " with: { limit: '{{ cursor }}' } } }\n",
    ):
        assert _problems(schema, head + trigger + steps) == [], trigger
    bad = head + "trigger: { schedule: { every: soon } }\n" + steps
    assert _problems(schema, bad)


def test_no_operations_means_no_enum_and_unresolvable_ones_get_no_rule() -> None:
    empty = workflow_json_schema([], lookup=lookup)
    assert "enum" not in empty["$defs"]["Step"]["properties"]["uses"]
    assert "allOf" not in empty["$defs"]["Step"]
    partial = workflow_json_schema(["mail.send", "gone.op"], lookup=lookup)
    assert partial["$defs"]["Step"]["properties"]["uses"]["enum"] == ["gone.op", "mail.send"]
    assert len(partial["$defs"]["OperationInputs"]["allOf"]) == 1


@pytest.fixture
def acme_in_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with registered(monkeypatch, {"acme": ACME}):
        yield


@pytest.mark.usefixtures("acme_in_registry")
def test_default_operations_come_from_the_registry() -> None:
    schema = workflow_json_schema()
    assert schema["$defs"]["Step"]["properties"]["uses"]["enum"] == [
        "acme.notes.create",
        "acme.people.create",
        "acme.people.find",
        "acme.people.list",
    ]
