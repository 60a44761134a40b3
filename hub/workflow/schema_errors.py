"""Pydantic validation errors of a workflow document, as positioned problems.

Each error's ``loc`` (by alias, as written in YAML) is looked up in the document's
:class:`~hub.workflow.positions.Positions`: an unknown key points at the key (with a
"did you mean" from the fields of the model at that place), a missing key at the mapping
that lacks it, anything else at the value.
"""

from __future__ import annotations

import difflib
import inspect
import types
from collections.abc import Mapping
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from hub.workflow.model import Workflow
from hub.workflow.positions import Positions
from hub.workflow.problems import Loc, Problem

__all__ = ["schema_problems"]

_NOUNS = {
    "Workflow": "the workflow",
    "Trigger": "the trigger",
    "WebhookTrigger": "the webhook trigger",
    "ScheduleTrigger": "the schedule trigger",
    "PollTrigger": "the poll trigger",
    "Step": "the step",
    "RetryOverride": "retry",
}


def schema_problems(
    exc: ValidationError,
    positions: Positions,
    path: str,
    *,
    root: type[BaseModel] = Workflow,
    nouns: Mapping[str, str] | None = None,
) -> list[Problem]:
    """One :class:`Problem` per error in ``exc``, raised validating ``root`` (a
    :class:`Workflow` by default); ``nouns`` name its models in messages."""
    names = {**_NOUNS, **(nouns or {})}
    problems: list[Problem] = []
    for error in exc.errors(include_url=False):
        loc: Loc = tuple(error["loc"])
        kind = error["type"]
        model = _model_at(root, loc[:-1])
        if kind == "extra_forbidden":
            pos = positions.key(loc)
            message = _unknown_field(str(loc[-1]), model, names)
        elif kind == "missing":
            pos = positions.value(loc[:-1])
            noun = names.get(model.__name__, "this mapping") if model else "this mapping"
            message = f"{noun} is missing the required field '{loc[-1]}'"
        else:
            pos = positions.value(loc)
            message = _value_message(loc, error)
        problems.append(Problem(path, pos.line, pos.column, message))
    return problems


def _unknown_field(key: str, model: type[BaseModel] | None, nouns: Mapping[str, str]) -> str:
    if model is None:
        return f"unknown field '{key}'"
    allowed = [info.alias or name for name, info in model.model_fields.items()]
    close = difflib.get_close_matches(key, allowed, n=1)
    if close:
        return f"unknown field '{key}' (did you mean '{close[0]}'?)"
    noun = nouns.get(model.__name__, "here")
    return f"unknown field '{key}' (allowed in {noun}: {', '.join(allowed)})"


def _value_message(loc: Loc, error: Any) -> str:
    message = str(error["msg"]).removeprefix("Value error, ")
    message = message.replace("Input should be", "should be")
    message = message.replace(
        "List should have at least 1 item after validation, not 0", "needs at least one item"
    )
    where = _dotted(loc)
    value = error.get("input")
    got = ""
    if isinstance(value, str | int | float | bool) or value is None:
        shown = repr(value)
        got = f" (got {shown if len(shown) <= 40 else shown[:37] + '...'})"
    if not where:
        return message
    if message.startswith("should") or message.startswith("needs"):
        return f"'{where}' {message}{got}"
    return f"'{where}': {message}"


def _dotted(loc: Loc) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _model_at(model: type[BaseModel], loc: Loc) -> type[BaseModel] | None:
    """The model class that validates the mapping at ``loc`` under ``model``."""
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(part, int):
            args = get_args(current)
            current = args[0] if args else None
            continue
        if not (inspect.isclass(current) and issubclass(current, BaseModel)):
            return None
        field = next((f for n, f in current.model_fields.items() if part in (n, f.alias)), None)
        if field is None:
            return None
        current = field.annotation
    current = _unwrap(current)
    return current if inspect.isclass(current) and issubclass(current, BaseModel) else None


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin is Union or origin is types.UnionType:
            members = [a for a in get_args(annotation) if a is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation
