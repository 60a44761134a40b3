"""A small MongoDB-style query matcher, for sandboxes of APIs that take raw ``q`` queries.

Sorting (:func:`parse_sort`, :func:`sort_records`) follows Mongo's ``sort``: a JSON object of
dotted paths to ``1`` or ``-1`` (or the short ``"updatedAt,-_id"``), keys in order, values of
different types ranked missing/null < numbers < strings < objects < arrays < booleans.

Supported: equality on dotted paths (matching inside arrays as Mongo does), ``$eq``,
``$ne``, ``$gt``, ``$gte``, ``$lt``, ``$lte``, ``$in``, ``$nin``, ``$exists``, ``$regex``
with ``$options``, ``$not``, ``$size``, ``$all``, ``$elemMatch``, and the logical
``$and``, ``$or``, ``$nor``. Order comparisons only hold between numbers or between
strings (ISO dates compare correctly as strings). Anything else raises
:class:`QueryError`, checked when the query is compiled, not when a record is met.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = [
    "QueryError",
    "SortSpec",
    "compile_query",
    "equality_hint",
    "key_filter_query",
    "matches",
    "parse_sort",
    "resolve_path",
    "sort_records",
    "texts_at",
]

Predicate = Callable[[Any], bool]
#: ``[(path, 1 | -1), ...]``: sort keys in order, ascending or descending
SortSpec = list[tuple[str, int]]
#: a test over the values a path resolves to (empty when the path is missing)
ValuesTest = Callable[[list[Any]], bool]

_MISSING = object()
_SORT_PATH = re.compile(r"[A-Za-z_][\w-]*(\.[\w-]+)*")


class QueryError(ValueError):
    """The query is not one this matcher understands."""


def resolve_path(doc: Any, path: str) -> list[Any]:
    """Every value ``path`` reaches in ``doc``, descending into arrays like Mongo."""
    return _resolve(doc, path.split(".")) if path else [doc]


def _resolve(node: Any, parts: list[str]) -> list[Any]:
    if not parts:
        return [node]
    head = parts[0]
    if type(node) is dict or isinstance(node, Mapping):
        return _resolve(node[head], parts[1:]) if head in node else []
    rest = parts[1:]
    if isinstance(node, list):
        found: list[Any] = []
        if head.isdigit() and int(head) < len(node):
            found.extend(_resolve(node[int(head)], rest))
        for item in node:
            if isinstance(item, Mapping):
                found.extend(_resolve(item, parts))
        return found
    return []


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return bool(a == b)


def _equals(values: list[Any], target: Any) -> bool:
    if target is None and not values:
        return True
    for value in values:
        if _same(value, target):
            return True
        if isinstance(value, list) and any(_same(item, target) for item in value):
            return True
    return False


def _flat(values: list[Any]) -> Iterable[Any]:
    for value in values:
        if isinstance(value, list):
            yield from value
        else:
            yield value


def _orderable(a: Any, b: Any) -> bool:
    def number(x: Any) -> bool:
        return isinstance(x, int | float) and not isinstance(x, bool)

    return (number(a) and number(b)) or (isinstance(a, str) and isinstance(b, str))


_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "$gt": lambda a, b: bool(a > b),
    "$gte": lambda a, b: bool(a >= b),
    "$lt": lambda a, b: bool(a < b),
    "$lte": lambda a, b: bool(a <= b),
}
_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}


def _regex(pattern: Any, options: Any) -> re.Pattern[str]:
    if not isinstance(pattern, str):
        raise QueryError("$regex needs a string pattern")
    if not isinstance(options, str) or any(o not in _FLAGS for o in options):
        raise QueryError(f"$options must use only the letters {''.join(_FLAGS)}")
    flags = 0
    for letter in options:
        flags |= _FLAGS[letter]
    try:
        return re.compile(pattern, flags)
    except re.error as exc:
        raise QueryError(f"$regex is not a valid regular expression: {exc}") from None


def _as_list(op: str, value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise QueryError(f"{op} needs an array")
    return value


def _operator(op: str, arg: Any, options: Any) -> ValuesTest:
    if op == "$eq":
        return lambda vs: _equals(vs, arg)
    if op == "$ne":
        return lambda vs: not _equals(vs, arg)
    if op in _ORDER:
        cmp = _ORDER[op]
        return lambda vs: any(_orderable(v, arg) and cmp(v, arg) for v in _flat(vs))
    if op == "$in":
        choices = _as_list(op, arg)
        if len(choices) == 1:  # a key filter's usual form: one test, no generator
            only = choices[0]
            return lambda vs: _equals(vs, only)
        return lambda vs: any(_equals(vs, c) for c in choices)
    if op == "$nin":
        choices = _as_list(op, arg)
        return lambda vs: not any(_equals(vs, c) for c in choices)
    if op == "$exists":
        want = bool(arg)
        return lambda vs: bool(vs) == want
    if op == "$regex":
        rx = _regex(arg, options)
        return lambda vs: any(isinstance(v, str) and rx.search(v) for v in _flat(vs))
    if op == "$not":
        inner = _field_test(arg)
        return lambda vs: not inner(vs)
    if op == "$size":
        if not isinstance(arg, int) or isinstance(arg, bool):
            raise QueryError("$size needs an integer")
        return lambda vs: any(isinstance(v, list) and len(v) == arg for v in vs)
    if op == "$all":
        wanted = _as_list(op, arg)
        return lambda vs: bool(wanted) and all(_equals(vs, w) for w in wanted)
    if op == "$elemMatch":
        return _elem_match(arg)
    raise QueryError(f"unsupported operator {op}")


def _elem_match(arg: Any) -> ValuesTest:
    if not isinstance(arg, Mapping):
        raise QueryError("$elemMatch needs an object")
    if arg and all(k.startswith("$") for k in arg):
        ops = _field_test(arg)

        def by_value(vs: list[Any]) -> bool:
            return any(isinstance(v, list) and any(ops([e]) for e in v) for v in vs)

        return by_value
    doc_test = compile_query(arg)
    return lambda vs: any(
        isinstance(v, list) and any(isinstance(e, Mapping) and doc_test(e) for e in v) for v in vs
    )


def _is_operator_object(cond: Any) -> bool:
    return isinstance(cond, Mapping) and bool(cond) and all(k.startswith("$") for k in cond)


def _field_test(cond: Any) -> ValuesTest:
    if isinstance(cond, re.Pattern):
        return lambda vs: any(isinstance(v, str) and cond.search(v) for v in _flat(vs))
    if not _is_operator_object(cond):
        if isinstance(cond, Mapping) and any(str(k).startswith("$") for k in cond):
            raise QueryError("an object cannot mix operators and plain fields")
        return lambda vs: _equals(vs, cond)
    options = cond.get("$options", "")
    if "$options" in cond and "$regex" not in cond:
        raise QueryError("$options needs $regex")
    tests = [_operator(op, arg, options) for op, arg in cond.items() if op != "$options"]
    return tests[0] if len(tests) == 1 else lambda vs: all(t(vs) for t in tests)


def compile_query(query: Any) -> Predicate:
    """A predicate over documents for the Mongo ``query``; :class:`QueryError` if unusable."""
    if not isinstance(query, Mapping):
        raise QueryError("a query must be a JSON object")
    tests: list[Predicate] = []
    for key, cond in query.items():
        if not isinstance(key, str):
            raise QueryError("query keys must be strings")
        if key in ("$and", "$or", "$nor"):
            parts = [compile_query(c) for c in _as_list(key, cond)]
            if not parts:
                raise QueryError(f"{key} needs a non-empty array")
            tests.append(_logical(key, parts))
        elif key == "$comment":
            continue
        elif key.startswith("$"):
            raise QueryError(f"unsupported top-level operator {key}")
        else:
            tests.append(_path_test(key, _field_test(cond)))
    return tests[0] if len(tests) == 1 else lambda doc: all(t(doc) for t in tests)


def _logical(op: str, parts: list[Predicate]) -> Predicate:
    if op == "$and":
        return parts[0] if len(parts) == 1 else lambda doc: all(p(doc) for p in parts)
    if op == "$or":
        return lambda doc: any(p(doc) for p in parts)
    return lambda doc: not any(p(doc) for p in parts)


def _path_test(path: str, test: ValuesTest) -> Predicate:
    if not path:
        return lambda doc: test([doc])
    parts = path.split(".")  # once, not for every document
    return lambda doc: test(_resolve(doc, parts))


def equality_hint(query: Any) -> tuple[str, str] | None:
    """``(path, text)`` when ``query`` matches only documents with the text ``text`` at
    ``path`` (or in a list there): a key filter's usual form, ``{path: {"$in": [text]}}``,
    alone or within an ``$and``. A store may look such documents up by that value
    instead of testing every one; it still tests the ones it finds."""
    if not isinstance(query, Mapping) or len(query) != 1:
        return None
    ((key, cond),) = query.items()
    if key == "$and" and isinstance(cond, list):
        hints = (equality_hint(part) for part in cond)
        return next((hint for hint in hints if hint is not None), None)
    if not isinstance(key, str) or key.startswith("$"):
        return None
    if isinstance(cond, str):
        return key, cond
    if isinstance(cond, Mapping) and len(cond) == 1:
        ((op, arg),) = cond.items()
        if op == "$eq" and isinstance(arg, str):
            return key, arg
        if op == "$in" and isinstance(arg, list) and len(arg) == 1 and isinstance(arg[0], str):
            return key, arg[0]
    return None


def texts_at(doc: Any, path: str) -> set[str]:
    """The texts an :func:`equality_hint` on ``path`` can match in ``doc``: the strings
    at ``path``, and the strings in lists there."""
    found: set[str] = set()
    for value in resolve_path(doc, path):
        if isinstance(value, str):
            found.add(value)
        elif isinstance(value, list):
            found.update(item for item in value if isinstance(item, str))
    return found


def matches(doc: Any, query: Mapping[str, Any]) -> bool:
    """Whether ``doc`` matches ``query``."""
    return compile_query(query)(doc)


def _coerce(raw: str) -> list[Any]:
    values: list[Any] = [raw]
    if raw in ("true", "false"):
        values.append(raw == "true")
    elif raw == "null":
        values.append(None)
    else:
        number = _number(raw)
        if number is not None:
            values.append(number)
    return values


def _number(raw: str) -> int | float | None:
    try:
        return int(raw)
    except ValueError:
        pass
    try:
        return float(raw)
    except ValueError:
        return None


def key_filter_query(params: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """A Mongo query for key filters such as ``?name.first=leo``.

    Query strings carry only text, so ``100`` also matches the number 100, ``true``
    the boolean, ``null`` a null or missing field. A key given twice matches either value.
    """
    grouped: dict[str, list[Any]] = {}
    for key, raw in params:
        if key.startswith("$"):
            raise QueryError(f"a filter key cannot start with $: {key}")
        grouped.setdefault(key, []).extend(_coerce(raw))
    return {key: {"$in": values} for key, values in grouped.items()}


def parse_sort(raw: str) -> SortSpec:
    """A sort spec from ``{"updatedAt": 1, "_id": -1}`` or ``"updatedAt,-_id"``."""
    text = raw.strip()
    if text.startswith("{"):
        try:
            spec = json.loads(text)
        except json.JSONDecodeError as exc:
            raise QueryError(f"sort is not valid JSON: {exc}") from None
        if not isinstance(spec, dict) or not spec:
            raise QueryError("sort must be a non-empty object of field: 1 or -1")
        pairs = list(spec.items())
    else:
        pairs = [
            (part[1:], -1) if part.startswith("-") else (part.lstrip("+"), 1)
            for part in (p.strip() for p in text.split(","))
        ]
    parsed: SortSpec = []
    for path, direction in pairs:
        if not isinstance(path, str) or not _SORT_PATH.fullmatch(path):
            raise QueryError(f"cannot sort on {path!r}")
        if isinstance(direction, bool) or direction not in (1, -1):
            raise QueryError(f"sort direction of {path} must be 1 or -1")
        parsed.append((path, int(direction)))
    return parsed


def _rank(values: list[Any]) -> tuple[int, Any]:
    value: Any = None
    if len(values) == 1:
        value = values[0]
    elif values:  # a path through an array: the values it reaches, as a list
        value = values
    if value is None:
        return (0, 0)
    if isinstance(value, bool):
        return (5, int(value))
    if isinstance(value, int | float):
        return (1, value)
    if isinstance(value, str):
        return (2, value)
    return (3 if isinstance(value, Mapping) else 4, json.dumps(value, sort_keys=True))


def sort_records(records: list[Any], spec: SortSpec) -> list[Any]:
    """``records`` ordered by ``spec`` (a stable sort, one pass per key from the last)."""
    ordered = list(records)
    for path, direction in reversed(spec):

        def key(doc: Any, path: str = path) -> tuple[int, Any]:
            return _rank(resolve_path(doc, path))

        ordered.sort(key=key, reverse=direction < 0)
    return ordered
