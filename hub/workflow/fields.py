"""Field types of the workflow schema: names, ids, durations, cron, conditions.

Each type checks its value with a message an operator can act on and carries the JSON
Schema an editor needs (a pattern, or the alternatives accepted).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, WithJsonSchema

from hub.workflow.timing import DURATION_PATTERN, cron_fields, parse_duration

__all__ = [
    "EMPTY_LIST",
    "Arguments",
    "Condition",
    "Cron",
    "CursorPath",
    "Duration",
    "Slug",
    "SourceName",
    "StepId",
    "Uses",
]

SLUG_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"
STEP_ID_PATTERN = r"^[A-Za-z][A-Za-z0-9_-]*$"
USES_PATTERN = r"^[a-z][a-z0-9_]*(\.[A-Za-z0-9_-]+)+$"
SOURCE_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"
CURSOR_PATTERN = r"^[A-Za-z_$][\w$-]*(\.[\w$-]+)*$"


def _matching(pattern: str, what: str, example: str) -> AfterValidator:
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(f"{value!r} is not a valid {what}; {example}")
        return value

    return AfterValidator(check)


def _duration(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:g}s"
    return value


def _check_duration(value: str) -> str:
    parse_duration(value)
    return value


def _check_cron(value: str) -> str:
    cron_fields(value)
    return value


def _condition(value: Any) -> Any:
    return ("true" if value else "false") if isinstance(value, bool) else value


def _none_as_empty_dict(value: Any) -> Any:
    return {} if value is None else value


def _none_as_empty_list(value: Any) -> Any:
    return [] if value is None else value


#: BeforeValidator for lists where YAML's empty value means ``[]``.
EMPTY_LIST = BeforeValidator(_none_as_empty_list)


#: A workflow name: lowercase letters, digits and single dashes.
Slug = Annotated[
    str,
    _matching(SLUG_PATTERN, "workflow name", "use lowercase letters, digits and dashes"),
    WithJsonSchema({"type": "string", "pattern": SLUG_PATTERN}),
]
#: A step id: a letter, then letters, digits, '_' or '-'.
StepId = Annotated[
    str,
    _matching(
        STEP_ID_PATTERN,
        "step id",
        "start with a letter, then letters, digits, '_' or '-', e.g. 'find_person'",
    ),
    WithJsonSchema({"type": "string", "pattern": STEP_ID_PATTERN}),
]
#: ``connector.operation``, e.g. ``crm.contacts.create``.
Uses = Annotated[
    str,
    _matching(USES_PATTERN, "'uses'", "write connector.operation, e.g. 'crm.contacts.create'"),
    WithJsonSchema({"type": "string", "pattern": USES_PATTERN}),
]
#: A duration such as "30s", "5m", "1h30m"; a number is seconds (kept as "300s").
Duration = Annotated[
    str,
    BeforeValidator(_duration),
    AfterValidator(_check_duration),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": DURATION_PATTERN},
                {"type": "number", "exclusiveMinimum": 0},
            ]
        }
    ),
]
#: A five-field cron expression or a macro such as "@daily".
Cron = Annotated[str, AfterValidator(_check_cron)]
#: A template or bare expression; YAML true/false are accepted as the words.
Condition = Annotated[
    str,
    BeforeValidator(_condition),
    WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "boolean"}]}),
]
#: The webhook sender, as in ``/hooks/{source}``.
SourceName = Annotated[
    str,
    _matching(SOURCE_PATTERN, "webhook source", "use lowercase letters, digits, '_', '-'"),
    WithJsonSchema({"type": "string", "pattern": SOURCE_PATTERN}),
]
#: A dotted field path in each polled record, e.g. ``updatedAt``.
CursorPath = Annotated[
    str,
    _matching(CURSOR_PATTERN, "cursor field", "name a field path such as 'updatedAt'"),
    WithJsonSchema({"type": "string", "pattern": CURSOR_PATTERN}),
]
#: A mapping; YAML's empty value (``with:`` with nothing after it) means ``{}``.
Arguments = Annotated[dict[str, Any], BeforeValidator(_none_as_empty_dict)]
