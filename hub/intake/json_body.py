"""A webhook body read as JSON: RFC 8259 or a 400 that says what is wrong, never a crash.

Refused, each with a message the sender's developer can act on (:class:`BadBody`):

- bytes that are not UTF-8 (RFC 8259 section 8.1; a leading byte order mark is skipped);
- nesting deeper than the source's limit (``HUB_MAX_JSON_DEPTH``, default 64), checked
  before parsing, so a body nested thousands of levels deep never reaches the parser's
  recursion (which would fail the request with a server error);
- ``NaN``, ``Infinity`` and ``-Infinity``, and numbers too large for a float (``1e999``),
  which RFC 8259 JSON has no values for and which could not be written back as JSON;
- an object with the same key twice (RFC 8259 leaves the meaning open: one parser takes
  the first, another the last, so the hub takes neither);
- a string escaping half a surrogate pair (``"\\ud800"`` alone), which no Unicode text
  holds: it could not be written to Redis, a log or an upstream as UTF-8;
- anything else that is not JSON (Python's own message says where).

The checks cost little: the depth is counted only when the body holds more brackets
than the limit, and the parser's hooks run in C but for one call per object.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from itertools import accumulate
from typing import Any

__all__ = ["DEFAULT_MAX_DEPTH", "BadBody", "lone_surrogate", "nesting_depth", "parse_json"]

#: how deep objects and arrays may nest by default (HUB_MAX_JSON_DEPTH)
DEFAULT_MAX_DEPTH = 64
#: a JSON string, escapes included (unrolled: linear on any input)
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}
#: a \uD800-\uDFFF escape after an even number of backslashes (so not itself escaped)
_SURROGATE_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u[dD]([89a-fA-F])[0-9a-fA-F]{2}")
_LOW_ESCAPE = re.compile(r"\\u[dD][c-fC-F][0-9a-fA-F]{2}")


class BadBody(ValueError):
    """The body is not JSON the hub accepts; ``message`` says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def nesting_depth(text: str) -> int:
    """How deep arrays and objects nest in the JSON ``text`` (brackets in strings aside)."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def lone_surrogate(text: str) -> str | None:
    """The first escape in the JSON ``text`` of half a surrogate pair, or None."""
    if "\\ud" not in text and "\\uD" not in text:
        return None
    pos = 0
    while (found := _SURROGATE_ESCAPE.search(text, pos)) is not None:
        escape = text[found.end() - 6 : found.end()]
        if found.group(1) in "cdefCDEF":  # a low half with no high half before it
            return escape
        pair = _LOW_ESCAPE.match(text, found.end())
        if pair is None:
            return escape
        pos = pair.end()
    return None


def _constant(name: str) -> Any:
    raise BadBody(f"the body holds {name}, which JSON (RFC 8259) has no value for")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise BadBody(f"the number {text[:40]} is too large for JSON to carry exactly")
    return value


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        twice = _first_repeated(key for key, _ in pairs)
        raise BadBody(f"the key '{twice[:60]}' appears twice in one object: send it once")
    return obj


def _first_repeated(keys: Iterable[str]) -> str:
    seen: set[str] = set()
    for key in keys:
        if key in seen:
            return key
        seen.add(key)
    return ""


def parse_json(body: bytes, max_depth: int = DEFAULT_MAX_DEPTH) -> tuple[Any, str]:
    """The document in ``body`` and its text; :class:`BadBody` when it is refused."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadBody(
            f"the body is not UTF-8 (byte {exc.start}): send JSON as UTF-8 text (RFC 8259)"
        ) from None
    text = text.removeprefix("\ufeff")
    if text.count("[") + text.count("{") > max_depth and nesting_depth(text) > max_depth:
        raise BadBody(f"the body nests deeper than {max_depth} levels of objects and arrays")
    if (half := lone_surrogate(text)) is not None:
        raise BadBody(f"the body escapes half a surrogate pair ({half}) that no text can hold")
    try:
        document = json.loads(
            text, parse_constant=_constant, parse_float=_finite, object_pairs_hook=_unique
        )
    except BadBody:
        raise
    except RecursionError:
        raise BadBody("the body nests too deep to read") from None
    except ValueError as exc:  # JSONDecodeError, and integers over Python's digit limit
        raise BadBody(f"the body is not valid JSON: {exc}") from None
    return document, text
