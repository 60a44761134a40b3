"""YAML to plain data, keeping the line and column of every key and value.

Composition uses PyYAML's safe loader only. While walking the node tree this module
reports what PyYAML would silently accept: duplicate keys in a mapping (PyYAML keeps the
last one), unsupported tags, recursive aliases and runaway alias expansion.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from hub.workflow.problems import Loc, Problem

__all__ = ["Position", "Positions", "compose"]

_MERGE_TAG = "tag:yaml.org,2002:merge"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_MAX_NODES = 100_000
_PLAIN_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}"
    for name in ("null", "bool", "int", "float", "str", "timestamp", "seq", "map", "merge")
)
_SYNTAX_HINTS = {
    "found character '\\t'": "YAML does not allow tabs for indentation: use spaces",
    "mapping values are not allowed": "check the indentation, or quote a value containing ': '",
    "found another document": "a workflow file holds one YAML document: remove the '---' "
    "or split the file",
}


@dataclass(frozen=True)
class Position:
    """A 1-based line and column in a file."""

    line: int
    column: int


def _position(node: Node) -> Position:
    return Position(node.start_mark.line + 1, node.start_mark.column + 1)


class Positions:
    """Where each key and value of a composed document stands, by :data:`Loc`."""

    def __init__(self) -> None:
        self._keys: dict[Loc, Position] = {}
        self._values: dict[Loc, Position] = {}

    def add(self, loc: Loc, value: Position, key: Position | None = None) -> None:
        """Record the value position of ``loc`` and, for a mapping entry, its key."""
        self._values.setdefault(loc, value)
        if key is not None:
            self._keys.setdefault(loc, key)

    def __contains__(self, loc: object) -> bool:
        return loc in self._values

    def value(self, loc: Loc) -> Position:
        """The value at ``loc``, else the nearest enclosing node that exists."""
        for end in range(len(loc), -1, -1):
            found = self._values.get(loc[:end])
            if found is not None:
                return found
        return Position(1, 1)

    def key(self, loc: Loc) -> Position:
        """The key of the mapping entry at ``loc``, else as :meth:`value`."""
        return self._keys.get(loc) or self.value(loc)


class _Composer:
    """Builds plain data from a node tree, recording positions and problems."""

    def __init__(self, loader: yaml.SafeLoader, path: str) -> None:
        self.loader = loader
        self.path = path
        self.positions = Positions()
        self.problems: list[Problem] = []
        self._active: set[int] = set()
        self._count = 0

    def problem(self, node: Node, message: str) -> None:
        pos = _position(node)
        self.problems.append(Problem(self.path, pos.line, pos.column, message))

    def build(self, node: Node, loc: Loc, key: Position | None = None) -> Any:
        self.positions.add(loc, _position(node), key)
        self._count += 1
        if self._count > _MAX_NODES:
            raise _TooLarge(node)
        if id(node) in self._active:
            self.problem(node, "recursive YAML alias: an anchor may not contain itself")
            return None
        if node.tag not in _PLAIN_TAGS:
            tag = node.tag.replace("tag:yaml.org,2002:", "!!")
            self.problem(node, f"unsupported YAML tag '{tag}': only plain YAML values are allowed")
            return None
        if isinstance(node, ScalarNode):
            return self._scalar(node)
        self._active.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                return [self.build(item, (*loc, i)) for i, item in enumerate(node.value)]
            if isinstance(node, MappingNode):
                return self._mapping(node, loc)
        finally:
            self._active.discard(id(node))
        self.problem(node, "unsupported YAML node")  # pragma: no cover - PyYAML has 3 kinds
        return None

    def _scalar(self, node: ScalarNode) -> Any:
        if node.tag == _TIMESTAMP_TAG:
            return node.value  # dates stay the text written, as upstream APIs expect
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as exc:
            self.problem(node, f"unsupported YAML value: {exc.problem}")
            return None

    def _mapping(self, node: MappingNode, loc: Loc) -> dict[str, Any]:
        result: dict[str, Any] = {}
        seen: dict[str, Position] = {}
        merged: list[tuple[str, Node, Node]] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merged.extend(self._merge_entries(value_node))
                continue
            if not isinstance(key_node, ScalarNode):
                self.problem(key_node, "mapping keys must be plain strings")
                continue
            key = str(key_node.value)
            if key in seen:
                first = seen[key]
                self.problem(
                    key_node,
                    f"duplicate key '{key}' (first at line {first.line}, column "
                    f"{first.column}); YAML would keep only the last one: remove one",
                )
                continue
            seen[key] = _position(key_node)
            result[key] = self.build(value_node, (*loc, key), seen[key])
        for key, key_node, value_node in merged:
            if key not in result:
                result[key] = self.build(value_node, (*loc, key), _position(key_node))
        return result

    def _merge_entries(self, node: Node) -> list[tuple[str, Node, Node]]:
        sources = node.value if isinstance(node, SequenceNode) else [node]
        entries: list[tuple[str, Node, Node]] = []
        for source in sources:
            if not isinstance(source, MappingNode):
                self.problem(source, "a merge key '<<' needs a mapping or a list of mappings")
                continue
            for key_node, value_node in source.value:
                if isinstance(key_node, ScalarNode) and key_node.tag != _MERGE_TAG:
                    entries.append((str(key_node.value), key_node, value_node))
        return entries


class _TooLarge(Exception):
    def __init__(self, node: Node) -> None:
        self.node = node


def compose(text: str, path: str) -> tuple[Any, Positions, list[Problem]]:
    """Parse one YAML document: ``(data, positions, problems)``.

    ``data`` is None when the text is not valid YAML (the problems say where) or empty.
    Parsing uses libyaml when PyYAML was built with it (several times faster); a syntax
    error is then parsed again by the pure-Python parser, whose messages are clearer.
    """
    fast = getattr(yaml, "CSafeLoader", None)
    if fast is not None:
        try:
            return _compose(fast(text), path)
        except yaml.YAMLError:
            pass
    try:
        return _compose(yaml.SafeLoader(text), path)
    except yaml.MarkedYAMLError as exc:
        return None, Positions(), [_syntax_problem(exc, path)]
    except yaml.YAMLError as exc:
        return None, Positions(), [Problem(path, 1, 1, f"invalid YAML: {exc}")]


def _compose(loader: Any, path: str) -> tuple[Any, Positions, list[Problem]]:
    """Compose with ``loader`` (a safe loader); YAML syntax errors propagate."""
    try:
        node = loader.get_single_node()
        if node is None:
            return None, Positions(), []
        composer = _Composer(loader, path)
        try:
            data = composer.build(node, ())
        except _TooLarge as exc:
            composer.problem(exc.node, "document too large: aliases expand past 100000 nodes")
            data = None
        return data, composer.positions, composer.problems
    finally:
        loader.dispose()


def _syntax_problem(exc: yaml.MarkedYAMLError, path: str) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    what = exc.problem or "invalid YAML"
    if exc.context and what.startswith("but "):
        what = f"{exc.context}, {what}"
    elif exc.context and exc.context_mark and mark is not exc.context_mark:
        ctx = exc.context_mark
        what = f"{what} ({exc.context} at line {ctx.line + 1}, column {ctx.column + 1})"
    elif exc.context:
        what = f"{what} ({exc.context})"
    hint = next((h for key, h in _SYNTAX_HINTS.items() if key in what), None)
    if hint is not None:
        what = f"{what}; {hint}"
    return Problem(path, line, column, f"YAML syntax error: {what}")
