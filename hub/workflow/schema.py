"""JSON Schema (draft 2020-12) of workflow files, for editors to validate and complete.

``uses`` is an enum of the known operations, and each operation's input model is tied to
``with`` by an ``if``/``then`` on ``uses`` (one set of rules, ``$defs/OperationInputs``,
that steps and poll triggers both refer to). Inside ``with`` every value may also be a
template string (anything containing ``{{`` or ``{%``), as at validation time.
Definitions that come out identical (most resources share their ``find``, ``get`` or
``poll`` input) are kept once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from hub.connector import all_operations, get_operation
from hub.workflow.model import Workflow
from hub.workflow.validate import OperationLookup

__all__ = ["DRAFT", "TEMPLATE_STRING", "workflow_json_schema"]

DRAFT = "https://json-schema.org/draft/2020-12/schema"
#: A string holding template markup; accepted wherever a value is expected in ``with``.
TEMPLATE_STRING: dict[str, Any] = {
    "type": "string",
    "pattern": r"\{\{|\{%",
    "description": "A template, rendered when the step runs.",
}
_SUBSCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_VALUE_POSITIONS = ("items", "additionalProperties")
_HOISTED = ("title", "description", "default")


def workflow_json_schema(
    operations: Iterable[str] | None = None, *, lookup: OperationLookup = get_operation
) -> dict[str, Any]:
    """The schema of a workflow file.

    ``operations`` defaults to every operation in the registry; ``lookup`` resolves each
    name to its input model (an operation that cannot be resolved gets no ``with`` rule).
    """
    names = sorted(set(all_operations() if operations is None else operations))
    schema = Workflow.model_json_schema(by_alias=True, mode="validation")
    defs: dict[str, Any] = schema.setdefault("$defs", {})
    rules: list[dict[str, Any]] = []
    for name in names:
        ref = _add_input(defs, name, lookup)
        if ref is not None:
            rules.append(
                {
                    "if": {"properties": {"uses": {"const": name}}, "required": ["uses"]},
                    "then": {"properties": {"with": {"$ref": ref}}},
                }
            )
    if rules:
        defs["OperationInputs"] = {
            "description": "What `with` takes, by the operation `uses` names.",
            "allOf": rules,
        }
    for model in ("Step", "PollTrigger"):
        target = defs[model]
        if names:
            uses = target["properties"]["uses"]
            target["properties"]["uses"] = {
                "type": "string",
                "enum": names,
                "description": uses.get("description", ""),
            }
        if rules:
            target["allOf"] = [{"$ref": "#/$defs/OperationInputs"}]
    result = {"$schema": DRAFT, "title": "Hub workflow", **schema}
    _share_identical(result)
    if rules:
        defs["OperationInputs"]["allOf"] = _one_rule_per_input(rules)
    return result


def _one_rule_per_input(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ``if``/``then`` rules with operations that take the same input in one rule."""
    names_by_ref: dict[str, list[str]] = {}
    for rule in rules:
        ref = rule["then"]["properties"]["with"]["$ref"]
        names_by_ref.setdefault(ref, []).append(rule["if"]["properties"]["uses"]["const"])
    return [
        {
            "if": {
                "properties": {"uses": {"const": names[0]} if len(names) == 1 else {"enum": names}},
                "required": ["uses"],
            },
            "then": {"properties": {"with": {"$ref": ref}}},
        }
        for ref, names in names_by_ref.items()
    ]


def _share_identical(schema: dict[str, Any]) -> None:
    """Keep one of each set of identical ``$defs`` and point every ``$ref`` at it;
    repeated until no two are alike (merging can make the defs that refer to them alike)."""
    defs: dict[str, Any] = schema["$defs"]
    while True:
        first: dict[str, str] = {}
        moved: dict[str, str] = {}
        for name, body in defs.items():
            key = json.dumps(body, sort_keys=True)
            if key in first:
                moved[f"#/$defs/{name}"] = f"#/$defs/{first[key]}"
            else:
                first[key] = name
        if not moved:
            return
        for ref in moved:
            del defs[ref.removeprefix("#/$defs/")]
        _point_refs(schema, moved)


def _point_refs(schema: Any, moved: dict[str, str]) -> None:
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref in moved:
            schema["$ref"] = moved[ref]
        for value in schema.values():
            _point_refs(value, moved)
    elif isinstance(schema, list):
        for value in schema:
            _point_refs(value, moved)


def _add_input(defs: dict[str, Any], name: str, lookup: OperationLookup) -> str | None:
    """Put the input schema of operation ``name`` into ``defs``; its ``$ref``, or None."""
    try:
        _, operation = lookup(name)
    except Exception:
        return None
    prefix = re.sub(r"[^A-Za-z0-9]", "_", name) + "__"
    raw = operation.input.model_json_schema(
        by_alias=True, mode="validation", ref_template=f"#/$defs/{prefix}{{model}}"
    )
    for def_name, body in raw.pop("$defs", {}).items():
        defs[prefix + def_name] = _templated(body, wrap=False)
    defs[prefix + "input"] = _templated(raw, wrap=False)
    return f"#/$defs/{prefix}input"


def _templated(schema: Any, *, wrap: bool) -> Any:
    """``schema`` where every value position also accepts a template string."""
    if not isinstance(schema, dict):
        return schema
    result = dict(schema)
    if isinstance(result.get("properties"), dict):
        result["properties"] = {
            key: _templated(value, wrap=True) for key, value in result["properties"].items()
        }
    for keyword in _VALUE_POSITIONS:
        if isinstance(result.get(keyword), dict):
            result[keyword] = _templated(result[keyword], wrap=True)
    for keyword in _SUBSCHEMA_LISTS:
        if isinstance(result.get(keyword), list):
            wrap_items = keyword == "prefixItems"
            result[keyword] = [_templated(item, wrap=wrap_items) for item in result[keyword]]
    if not wrap:
        return result
    hoisted = {key: result.pop(key) for key in _HOISTED if key in result}
    return {**hoisted, "anyOf": [TEMPLATE_STRING, result]}
