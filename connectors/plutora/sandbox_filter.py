"""The ``filter`` parameter of Plutora's ``GET /{entity}``, as its documentation writes it.

Plutora's "Filter And Paginate API Calls" page: field names and values in backticks
(```FieldName` contains `Search Value```), the operators ``Equals`` (``=``),
``NotEquals`` (``!=``), ``Contains`` (``~``), ``NotContains`` (``!~``), ``GreaterThan``
(``>``), ``GreaterOrEqual`` (``>=``), ``LessThan`` (``<``) and ``LessOrEquals``
(``<=``), joined by ``AND`` and ``OR`` (``AND`` first), with parentheses; not case
sensitive. :func:`compile_filter` turns one into a predicate over records, or raises
:class:`~hub.sandbox.inputs.BadInput`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from hub.sandbox import BadInput

__all__ = ["OPERATORS", "compile_filter"]

Record = Mapping[str, Any]
Predicate = Callable[[Record], bool]


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _compare(left: Any, right: Any) -> int:
    a, b = _number(left), _number(right)
    if a is not None and b is not None:
        return (a > b) - (a < b)
    x, y = str(left).lower(), str(right).lower()
    return (x > y) - (x < y)


_TESTS: dict[str, Callable[[Any, Any], bool]] = {
    "equals": lambda v, t: v is not None and _compare(v, t) == 0,
    "notequals": lambda v, t: v is None or _compare(v, t) != 0,
    "contains": lambda v, t: v is not None and str(t).lower() in str(v).lower(),
    "notcontains": lambda v, t: v is None or str(t).lower() not in str(v).lower(),
    "greaterthan": lambda v, t: v is not None and _compare(v, t) > 0,
    "greaterorequal": lambda v, t: v is not None and _compare(v, t) >= 0,
    "lessthan": lambda v, t: v is not None and _compare(v, t) < 0,
    "lessorequals": lambda v, t: v is not None and _compare(v, t) <= 0,
}
_SYMBOLS = {
    "=": "equals",
    "!=": "notequals",
    "~": "contains",
    "!~": "notcontains",
    ">": "greaterthan",
    ">=": "greaterorequal",
    "<": "lessthan",
    "<=": "lessorequals",
}
#: every operator, by its word and by its symbol, lower case
OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    **_TESTS,
    **{symbol: _TESTS[word] for symbol, word in _SYMBOLS.items()},
}
_TOKEN = re.compile(r"\s*(`[^`]*`|\(|\)|!=|!~|>=|<=|[=~<>]|[A-Za-z]+)")


def _tokens(text: str) -> list[str]:
    tokens, at = [], 0
    while at < len(text.rstrip()):
        match = _TOKEN.match(text, at)
        if match is None:
            raise BadInput(f"filter: cannot read '{text[at:].strip()}'")
        tokens.append(match.group(1))
        at = match.end()
    return tokens


def _field(record: Record, name: str) -> Any:
    for key, value in record.items():
        if key.lower() == name.lower():
            return value
    return None


class _Parser:
    """``expr := term (OR term)*``, ``term := factor (AND factor)*``,
    ``factor := ( expr ) | `field` operator `value```."""

    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.at = 0

    def _peek(self) -> str:
        return self.tokens[self.at] if self.at < len(self.tokens) else ""

    def _take(self) -> str:
        token = self._peek()
        if not token:
            raise BadInput("filter: the expression ends too early")
        self.at += 1
        return token

    def expression(self) -> Predicate:
        parts = [self._term()]
        while self._peek().lower() == "or":
            self._take()
            parts.append(self._term())
        return parts[0] if len(parts) == 1 else (lambda r: any(p(r) for p in parts))

    def _term(self) -> Predicate:
        parts = [self._factor()]
        while self._peek().lower() == "and":
            self._take()
            parts.append(self._factor())
        return parts[0] if len(parts) == 1 else (lambda r: all(p(r) for p in parts))

    def _factor(self) -> Predicate:
        token = self._take()
        if token == "(":
            inner = self.expression()
            if self._take() != ")":
                raise BadInput("filter: a '(' is not closed")
            return inner
        operator, value = self._take(), self._take()
        if not (token.startswith("`") and value.startswith("`")):
            raise BadInput("filter: write field names and values in backticks")
        test = OPERATORS.get(operator.lower())
        if test is None:
            raise BadInput(f"filter: unknown operator '{operator}'")
        name, wanted = token.strip("`"), value.strip("`")
        return lambda r: test(_field(r, name), wanted)


def compile_filter(text: str) -> Predicate:
    """A predicate for the ``filter`` expression ``text``."""
    parser = _Parser(_tokens(text))
    predicate = parser.expression()
    if parser.at != len(parser.tokens):
        raise BadInput(f"filter: unexpected '{parser.tokens[parser.at]}'")
    return predicate
