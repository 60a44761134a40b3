"""Where a value is read in a delivery: headers, body paths, and formats joining both.

- A **path** is dotted keys, with list indexes as numbers: ``type``, ``meta.entity``,
  ``events.0.id`` (see :func:`~hub.intake.routing.json_path`).
- A **format** joins several values into one: ``{meta.entity}.{meta.action}`` reads two
  body paths, ``{header:X-Event-Kind}.{action}`` a header and a body path. It gives a
  value only when every placeholder finds a string or a number.
- A :class:`Locator` tries its headers in order, then its paths, then its formats; the
  first value found is the value.

:meth:`Format.split` is a format read backwards (``person.create`` with
``{meta.entity}.{meta.action}`` is ``meta.entity = person``, ``meta.action = create``),
which ``hub test`` uses to write a case's type where a sender would put it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hub.intake.routing import json_path

__all__ = ["HEADER", "Format", "Locator", "check_path"]

#: The prefix of a placeholder that reads a header: ``{header:X-Event-Kind}``.
HEADER = "header:"
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def check_path(path: str) -> str:
    """``path`` when it is a dotted path (no empty part), else :class:`ValueError`."""
    if not path or any(not part.strip() for part in path.split(".")):
        raise ValueError(f"'{path}' is not a path: write dotted keys such as 'meta.entity'")
    return path


@dataclass(frozen=True, slots=True)
class Format:
    """Literal text with ``{path}`` and ``{header:Name}`` placeholders."""

    text: str
    #: (is a placeholder, the literal text or what the placeholder reads)
    parts: tuple[tuple[bool, str], ...]

    @classmethod
    def parse(cls, text: str) -> Format:
        """The format ``text``; :class:`ValueError` says what is wrong with it."""
        parts: list[tuple[bool, str]] = []
        at = 0
        for match in _PLACEHOLDER.finditer(text):
            if match.start() > at:
                parts.append((False, text[at : match.start()]))
            inner = match.group(1).strip()
            if inner.lower().startswith(HEADER):
                name = inner[len(HEADER) :].strip()
                if not name:
                    raise ValueError(f"'{text}': name the header, as in {{header:X-Event}}")
                parts.append((True, HEADER + name.lower()))
            else:
                parts.append((True, check_path(inner)))
            at = match.end()
        if at < len(text):
            parts.append((False, text[at:]))
        if any("{" in p or "}" in p for is_ph, p in parts if not is_ph):
            raise ValueError(f"'{text}': a brace that opens no placeholder")
        if not any(is_ph for is_ph, _ in parts):
            raise ValueError(f"'{text}' has no placeholder such as {{meta.entity}}")
        return cls(text, tuple(parts))

    def read(self, headers: Mapping[str, str], body: Any) -> str | None:
        """The joined value, or None when a placeholder finds nothing usable."""
        out: list[str] = []
        for is_placeholder, part in self.parts:
            if not is_placeholder:
                out.append(part)
                continue
            if part.startswith(HEADER):
                value: Any = headers.get(part[len(HEADER) :])
            else:
                value = json_path(body, part)
            if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
                return None
            out.append(str(value))
        return "".join(out)

    def split(self, value: str) -> list[tuple[bool, str, str]] | None:
        """``(is a header, its name or path, its part of value)`` for each placeholder,
        shortest parts first; None when ``value`` does not have this format's shape."""
        pattern = "".join(
            "(.+?)" if is_placeholder else re.escape(part) for is_placeholder, part in self.parts
        )
        match = re.fullmatch(pattern, value, flags=re.DOTALL)
        if match is None:
            return None
        names = [part for is_placeholder, part in self.parts if is_placeholder]
        return [
            (name.startswith(HEADER), name.removeprefix(HEADER), part)
            for name, part in zip(names, match.groups(), strict=True)
        ]


@dataclass(frozen=True, slots=True)
class Locator:
    """Headers (any case), paths and formats to read one value from, in that order."""

    headers: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()
    formats: tuple[Format, ...] = ()
    _lower: tuple[str, ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_lower", tuple(name.lower() for name in self.headers))

    def read(self, headers: Mapping[str, str], body: Any) -> Any:
        """The first value found (headers by lower-case name), or None."""
        for name in self._lower:
            value = headers.get(name)
            if value:
                return value
        for path in self.paths:
            found = json_path(body, path)
            if found is not None:
                return found
        for fmt in self.formats:
            joined = fmt.read(headers, body)
            if joined is not None:
                return joined
        return None

    def describe(self) -> str:
        """Where the value is read, for messages: "a X-Event-Type header or a 'type' field"."""
        parts = [f"a {h} header" for h in self.headers]
        parts += [f"a '{p}' field" for p in self.paths]
        parts += [f"'{f.text}'" for f in self.formats]
        return " or ".join(parts) or "nowhere"
