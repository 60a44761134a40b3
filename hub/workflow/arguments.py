"""Checking a step's ``with`` against an operation's pydantic input model, before rendering.

Templates are not rendered at validation time, so a template string is accepted wherever
it stands: only unknown argument names, missing required arguments and literal values of
the wrong type are problems. Unknown names are reported for every nested model unless
it sets ``extra="allow"`` (a model that silently ignores a misspelt argument would lose
the operator's value).
"""

from __future__ import annotations

import difflib
import inspect
import types
from collections.abc import Iterator, Mapping, Sequence
from typing import Annotated, Any, NamedTuple, Union, get_args, get_origin

from pydantic import AliasChoices, AliasPath, BaseModel, ValidationError

from hub.workflow.jinja_env import is_template
from hub.workflow.problems import Loc

__all__ = ["ArgumentProblem", "accepted_keys", "check_arguments"]

_MAX_LISTED = 15


class ArgumentProblem(NamedTuple):
    """A problem at ``loc`` inside ``with``; ``at_key`` points at the key, not the value."""

    loc: Loc
    message: str
    at_key: bool = False


def check_arguments(
    uses: str, model: type[BaseModel], args: Mapping[str, Any]
) -> list[ArgumentProblem]:
    """Problems of ``args`` (a step's ``with``) for the operation ``uses``."""
    problems = list(_unknown(uses, model, args, ()))
    try:
        model.model_validate(dict(args))
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            problem = _from_error(uses, args, error["type"], error["loc"], error)
            if problem is not None:
                problems.append(problem)
    return problems


def accepted_keys(model: type[BaseModel]) -> dict[str, Any]:
    """The keys ``model`` validates, mapped to each field's annotation."""
    by_name = bool(
        model.model_config.get("validate_by_name") or model.model_config.get("populate_by_name")
    )
    keys: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        aliases: list[str] = []
        alias = info.validation_alias
        choices = alias.choices if isinstance(alias, AliasChoices) else [alias]
        for choice in choices:
            if isinstance(choice, str):
                aliases.append(choice)
            elif isinstance(choice, AliasPath) and isinstance(choice.path[0], str):
                aliases.append(choice.path[0])
        if alias is None and info.alias:
            aliases.append(info.alias)
        if by_name or not aliases:
            aliases.append(name)
        for key in aliases:
            keys[key] = info.annotation
    return keys


def _dotted(loc: Sequence[str | int]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _unknown(uses: str, model: type[BaseModel], data: Any, loc: Loc) -> Iterator[ArgumentProblem]:
    if not isinstance(data, Mapping):
        return
    keys = accepted_keys(model)
    allow = model.model_config.get("extra") == "allow"
    for key, value in data.items():
        if key in keys:
            yield from _nested(uses, keys[key], value, (*loc, key))
            continue
        if allow:
            continue
        close = difflib.get_close_matches(str(key), list(keys), n=1)
        where = f"'{_dotted(loc)}'" if loc else uses
        if close:
            hint = f"did you mean '{close[0]}'?"
        else:
            names = sorted(keys)
            more = ", ..." if len(names) > _MAX_LISTED else ""
            hint = f"{where} takes: {', '.join(names[:_MAX_LISTED])}{more}"
        name = _dotted((*loc, str(key)))
        yield ArgumentProblem((*loc, key), f"unknown argument '{name}' for {uses}; {hint}", True)


def _nested(uses: str, annotation: Any, value: Any, loc: Loc) -> Iterator[ArgumentProblem]:
    if isinstance(value, str) or value is None:
        return
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin is Annotated:
        yield from _nested(uses, args[0], value, loc)
    elif origin is Union or origin is types.UnionType:
        members = [a for a in args if a is not type(None)]
        models = [m for m in members if inspect.isclass(m) and issubclass(m, BaseModel)]
        if len(members) == 1:
            yield from _nested(uses, members[0], value, loc)
        elif len(models) == 1 and isinstance(value, Mapping):
            yield from _nested(uses, models[0], value, loc)
    elif inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        yield from _unknown(uses, annotation, value, loc)
    elif origin in (list, set, frozenset, Sequence) and isinstance(value, list):
        for index, item in enumerate(value):
            yield from _nested(uses, args[0] if args else Any, item, (*loc, index))
    elif origin in (dict, Mapping) and isinstance(value, Mapping) and len(args) == 2:
        for key, item in value.items():
            yield from _nested(uses, args[1], item, (*loc, key))


def _from_error(
    uses: str, args: Mapping[str, Any], kind: str, loc: tuple[str | int, ...], error: Any
) -> ArgumentProblem | None:
    if kind == "extra_forbidden":
        return None  # reported by _unknown, with a hint
    present = _present_prefix(args, loc)
    if kind == "missing":
        name = _dotted((*present, loc[-1])) if loc else "?"
        return ArgumentProblem(present, f"missing required argument '{name}' for {uses}")
    value = error.get("input")
    if isinstance(value, str) and is_template(value):
        return None  # a template may render to any type
    message = str(error.get("msg", "is invalid")).removeprefix("Value error, ")
    message = message.replace("Input should be", "should be")
    shown = repr(value)
    got = f" (got {shown if len(shown) <= 40 else shown[:37] + '...'})"
    if isinstance(value, Mapping | list):
        got = ""
    name = _dotted(present)
    if not name:
        return ArgumentProblem(present, f"arguments for {uses}: {message}")
    return ArgumentProblem(present, f"argument '{name}' for {uses}: {message}{got}")


def _present_prefix(args: Mapping[str, Any], loc: tuple[str | int, ...]) -> Loc:
    """The longest start of ``loc`` that exists in ``args`` (skipping union tags)."""
    found: list[str | int] = []
    current: Any = args
    for part in loc:
        in_mapping = isinstance(current, Mapping) and part in current
        in_list = isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current)
        if in_mapping or in_list:
            current = current[part]
            found.append(part)
    return tuple(found)
