"""Rendering ``{{ ... }}`` templates in workflow values, sandboxed.

- A string that is exactly one ``{{ expr }}`` gives the expression's native value
  (a number stays a number, a list a list, null stays None).
- Any other string with markup renders to text; inside text, null prints as "",
  booleans as true/false and lists or mappings as compact JSON.
- Strings without markup are returned unchanged.
- ``secrets`` in the context (a mapping of names to :class:`pydantic.SecretStr` or str)
  is exposed to templates as :class:`Secret` strings; :func:`redact` removes their
  plain text from anything about to be logged or shown.

Every failure is a :class:`hub.core.errors.TemplateError` whose message starts with the
``where`` the caller gave, e.g. ``workflow 'w' step 'person' field 'with.name.first'``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

from jinja2 import Undefined
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.exceptions import TemplateError as JinjaTemplateError
from pydantic import SecretStr

from hub.core import TemplateError
from hub.workflow.jinja_env import (
    ENV,
    Compiled,
    InvalidTemplate,
    compile_template,
    is_template,
    parse_template,
)

__all__ = [
    "Secret",
    "check_syntax",
    "evaluate",
    "is_template",
    "redact",
    "redactor",
    "referenced_names",
    "render",
    "secrets_context",
    "truthy",
]

_FALSE_WORDS = frozenset({"", "false", "no", "off", "0", "none", "null"})
_UNSAFE_ATTRIBUTE = re.compile(r"attribute '(?P<name>[^']*)'")
_MISSING = re.compile(r"has no attribute '(?P<a>[^']*)'|^'(?P<n>[^']*)' is undefined")
_FIELD_AT_END = re.compile(r"field '(?P<field>[^']*)'$")
_MAX_LISTED = 12


class Secret(str):
    """A secret's plain text: renders as itself, but its ``repr`` never shows it."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "Secret('***')"


def secrets_context(secrets: Mapping[str, SecretStr | str]) -> dict[str, Secret]:
    """The ``secrets`` mapping as templates see it: names to :class:`Secret` values."""
    return {
        name: Secret(v.get_secret_value() if isinstance(v, SecretStr) else v)
        for name, v in secrets.items()
    }


def redact(value: Any, secrets: Mapping[str, SecretStr | str]) -> Any:
    """``value`` with every secret's plain text (and every :class:`Secret`) as ``***``.

    Walks dicts (keys too), lists and tuples; other values are returned unchanged.
    """
    return redactor(secrets)(value)


def redactor(secrets: Mapping[str, SecretStr | str]) -> Callable[[Any], Any]:
    """:func:`redact` with ``secrets`` prepared once, for a caller that redacts often."""
    plain = {v.get_secret_value() if isinstance(v, SecretStr) else str(v) for v in secrets.values()}
    ordered = sorted(plain - {""}, key=len, reverse=True)
    return lambda value: _redact(value, ordered)


#: values redaction returns as they are, told by their exact type (checked first: most are)
_UNREDACTED_TYPES = frozenset({int, float, bool, type(None)})


def _redact(value: Any, plain: list[str]) -> Any:
    kind = type(value)
    if kind is str:
        return _redact_text(value, plain)
    if kind in _UNREDACTED_TYPES:
        return value
    if kind is dict:
        return {_redact(k, plain): _redact(v, plain) for k, v in value.items()}
    if isinstance(value, Secret):
        return "***"
    if isinstance(value, str):
        return _redact_text(value, plain)
    if isinstance(value, Mapping):
        return {_redact(k, plain): _redact(v, plain) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v, plain) for v in value]
    if isinstance(value, tuple):
        return tuple(_redact(v, plain) for v in value)
    return value


def _redact_text(text: str, plain: list[str]) -> str:
    for secret in plain:
        if secret in text:
            text = text.replace(secret, "***")
    return text


def render(value: Any, context: Mapping[str, Any], *, where: str) -> Any:
    """Render every string in ``value`` (walking dicts and lists) against ``context``."""
    return _render(value, _prepare(context), where, "")


def evaluate(expr_or_template: str, context: Mapping[str, Any], *, where: str) -> Any:
    """The value of a template (``"{{ x > 1 }}"``) or a bare expression (``x > 1``)."""
    compiled = _compile(expr_or_template, True, where)
    return _run(compiled, _prepare(context), where)


def truthy(expr_or_template: str, context: Mapping[str, Any], *, where: str) -> bool:
    """Whether an ``if:`` holds; text results "", false, no, off, 0, none, null are false."""
    result = evaluate(expr_or_template, context, where=where)
    if isinstance(result, str):
        return result.strip().lower() not in _FALSE_WORDS
    return bool(result)


def check_syntax(template: str, *, condition: bool = False) -> str | None:
    """Why ``template`` does not compile, or None when it does.

    With ``condition``, a text without markup is checked as a bare expression.
    """
    if not condition and not is_template(template):
        return None
    try:
        parse_template(template, condition)
    except InvalidTemplate as exc:
        return exc.message
    return None


def referenced_names(template: str, *, condition: bool = False) -> set[tuple[str, ...]]:
    """The dotted names a template reads, e.g. ``{("steps", "existing"), ("event", "id")}``.

    Names the template defines itself (loop variables, ``set``) are not included. A path
    stops before a computed or numeric index. Raises :class:`TemplateError` if it does
    not compile.
    """
    if not condition and not is_template(template):
        return set()
    try:
        return set(parse_template(template, condition).paths)
    except InvalidTemplate as exc:
        raise TemplateError(f"template: {exc.message}") from None


def _compile(source: str, condition: bool, where: str) -> Compiled:
    try:
        return compile_template(source, condition)
    except InvalidTemplate as exc:
        raise TemplateError(f"{where}: {exc.message}") from None


def _prepare(context: Mapping[str, Any]) -> dict[str, Any]:
    prepared = dict(context)
    secrets = prepared.get("secrets")
    if isinstance(secrets, Mapping):
        prepared["secrets"] = secrets_context(secrets)
    return prepared


def _render(value: Any, context: dict[str, Any], where: str, sub: str) -> Any:
    if isinstance(value, str):
        if not is_template(value):
            return value
        field = _where(where, sub)
        return _run(_compile(value, False, field), context, field)
    if isinstance(value, Mapping):
        return {
            key: _render(item, context, where, f"{sub}.{key}" if sub else str(key))
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [_render(item, context, where, f"{sub}[{i}]") for i, item in enumerate(value)]
    return value


def _where(where: str, sub: str) -> str:
    if not sub:
        return where
    match = _FIELD_AT_END.search(where)
    if match is None:
        return f"{where} field '{sub}'"
    joined = f"{match.group('field')}{'' if sub.startswith('[') else '.'}{sub}"
    return f"{where[: match.start()]}field '{joined}'"


def _run(compiled: Compiled, context: dict[str, Any], where: str) -> Any:
    try:
        if compiled.native:
            return _as_data(compiled.run(context))
        return compiled.run(context)
    except SecurityError as exc:
        message = str(exc)
        match = _UNSAFE_ATTRIBUTE.search(message)
        if match and "unsafe" in message:
            message = f"access to '{match.group('name')}' is not allowed in templates"
        raise TemplateError(f"{where}: {message}") from None
    except UndefinedError as exc:
        raise TemplateError(f"{where}: {_undefined(exc, compiled, context)}") from None
    except JinjaTemplateError as exc:
        raise TemplateError(f"{where}: {exc.message or type(exc).__name__}") from None
    except TemplateError as exc:
        raise TemplateError(f"{where}: {exc}") from None
    except Exception as exc:
        raise TemplateError(f"{where}: {type(exc).__name__}: {exc}") from None


def _as_data(value: Any) -> Any:
    """A native result as plain data; fails on undefined parts and on non-data objects."""
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, Mapping):
        return {key: _as_data(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_as_data(item) for item in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    hint = "; call it with ()" if callable(value) else ""
    raise TemplateError(
        f"the expression gives a {type(value).__name__}, not data (text, number, "
        f"true/false, null, list or mapping){hint}"
    )


def _undefined(exc: UndefinedError, compiled: Compiled, context: dict[str, Any]) -> str:
    """Name the dotted path that is missing, and what is there instead."""
    match = _MISSING.search(exc.message or "")
    hint = (match.group("a") or match.group("n")) if match else None
    broken: list[tuple[tuple[str, ...], int]] = []
    for path in compiled.paths:
        index = _first_missing(path, context)
        if index is not None:
            broken.append((path, index))
    if not broken:
        return exc.message or "undefined value"
    path, index = next(((p, i) for p, i in broken if p[i] == hint), broken[0])
    message = f"'{'.'.join(path[: index + 1])}' is undefined"
    parent: Any = context if index == 0 else _resolve(path[:index], context)
    if isinstance(parent, Mapping):
        names = sorted(str(key) for key in parent)
        more = ", ..." if len(names) > _MAX_LISTED else ""
        owner = "names available" if index == 0 else f"{'.'.join(path[:index])} has"
        listed = ", ".join(names[:_MAX_LISTED]) or "nothing"
        message += f" ({owner}: {listed}{more})"
    return message


def _first_missing(path: tuple[str, ...], context: Mapping[str, Any]) -> int | None:
    current: Any = context
    for index, part in enumerate(path):
        if isinstance(current, Mapping):
            if part not in current:
                return index
            current = current[part]
        else:
            current = ENV.getattr(current, part)
            if isinstance(current, Undefined):
                return index
    return None


def _resolve(path: tuple[str, ...], context: Mapping[str, Any]) -> Any:
    current: Any = context
    for part in path:
        current = current[part] if isinstance(current, Mapping) else ENV.getattr(current, part)
    return current
