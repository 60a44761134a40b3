"""A small JSON Schema (draft 2020-12) checker for the keywords the workflow schema uses.

``jsonschema`` is not a dependency of the project; this covers what the tests need:
known keywords only, resolvable local ``$ref``s, and validation of instances.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

ANNOTATIONS = {
    "$schema",
    "$id",
    "$comment",
    "title",
    "description",
    "default",
    "examples",
    "deprecated",
    "readOnly",
    "writeOnly",
    "$defs",
}
APPLICATORS = {
    "$ref",
    "properties",
    "additionalProperties",
    "patternProperties",
    "items",
    "prefixItems",
    "anyOf",
    "oneOf",
    "allOf",
    "not",
    "if",
    "then",
    "else",
    "contains",
    "propertyNames",
    "dependentSchemas",
}
VALIDATORS = {
    "type",
    "enum",
    "const",
    "required",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "pattern",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
    "format",
    "dependentRequired",
    "minContains",
    "maxContains",
}
KEYWORDS = ANNOTATIONS | APPLICATORS | VALIDATORS


def subschemas(schema: Any, path: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema object inside ``schema``, with a JSON pointer."""
    if not isinstance(schema, dict):
        return
    yield path, schema
    for key in ("properties", "$defs", "patternProperties", "dependentSchemas"):
        for name, sub in schema.get(key, {}).items():
            yield from subschemas(sub, f"{path}/{key}/{name}")
    for key in (
        "items",
        "additionalProperties",
        "not",
        "if",
        "then",
        "else",
        "contains",
        "propertyNames",
    ):
        if isinstance(schema.get(key), dict):
            yield from subschemas(schema[key], f"{path}/{key}")
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        for i, sub in enumerate(schema.get(key, [])):
            yield from subschemas(sub, f"{path}/{key}/{i}")


def resolve(root: dict[str, Any], ref: str) -> dict[str, Any]:
    assert ref.startswith("#/"), f"only local refs are used: {ref}"
    node: Any = root
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    assert isinstance(node, dict)
    return node


def _type_ok(value: Any, kind: str) -> bool:
    if kind == "null":
        return value is None
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "string":
        return isinstance(value, str)
    if kind == "array":
        return isinstance(value, list)
    if kind == "object":
        return isinstance(value, dict)
    raise AssertionError(f"unknown type {kind}")


def errors(value: Any, schema: Any, root: dict[str, Any], at: str = "") -> list[str]:
    """Why ``value`` does not match ``schema`` (empty when it does)."""
    if schema is True:
        return []
    if schema is False:
        return [f"{at}: not allowed"]
    found: list[str] = []
    if "$ref" in schema:
        found += errors(value, resolve(root, schema["$ref"]), root, at)
    if "type" in schema:
        kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_type_ok(value, k) for k in kinds):
            return [*found, f"{at}: {value!r} is not of type {kinds}"]
    if "enum" in schema and value not in schema["enum"]:
        found.append(f"{at}: {value!r} not in enum")
    if "const" in schema and value != schema["const"]:
        found.append(f"{at}: {value!r} != const {schema['const']!r}")
    if isinstance(value, str):
        if "pattern" in schema and not re.search(schema["pattern"], value):
            found.append(f"{at}: {value!r} does not match {schema['pattern']}")
        if len(value) < schema.get("minLength", 0):
            found.append(f"{at}: too short")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            found.append(f"{at}: below minimum")
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            found.append(f"{at}: not above exclusiveMinimum")
        if "maximum" in schema and value > schema["maximum"]:
            found.append(f"{at}: above maximum")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            found.append(f"{at}: fewer than minItems")
        prefix = schema.get("prefixItems", [])
        for i, item in enumerate(value):
            sub = prefix[i] if i < len(prefix) else schema.get("items", True)
            found += errors(item, sub, root, f"{at}[{i}]")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                found.append(f"{at}: missing required {name!r}")
        for name, item in value.items():
            if name in props:
                found += errors(item, props[name], root, f"{at}.{name}")
            elif "additionalProperties" in schema:
                found += errors(item, schema["additionalProperties"], root, f"{at}.{name}")
        if len(value) < schema.get("minProperties", 0):
            found.append(f"{at}: fewer than minProperties")
        if len(value) > schema.get("maxProperties", len(value)):
            found.append(f"{at}: more than maxProperties")
    for sub in schema.get("allOf", []):
        found += errors(value, sub, root, at)
    if "anyOf" in schema and all(errors(value, s, root, at) for s in schema["anyOf"]):
        found.append(f"{at}: matches none of anyOf")
    if "oneOf" in schema:
        matching = sum(not errors(value, s, root, at) for s in schema["oneOf"])
        if matching != 1:
            found.append(f"{at}: matches {matching} of oneOf")
    if "not" in schema and not errors(value, schema["not"], root, at):
        found.append(f"{at}: matches 'not'")
    if "if" in schema:
        branch = "then" if not errors(value, schema["if"], root, at) else "else"
        if branch in schema:
            found += errors(value, schema[branch], root, at)
    return found
