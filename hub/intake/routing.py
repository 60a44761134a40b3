"""Which workflows an event starts, and where its type and id are read."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from hub.workflow import Workflow

__all__ = ["json_path", "known_sources", "match_workflows"]


def json_path(body: Any, path: str) -> Any:
    """The value at dotted ``path`` in ``body`` (list indexes allowed), or None."""
    current = body
    for part in path.split("."):
        if isinstance(current, Mapping):
            current = current.get(part)
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return None
    return current


def known_sources(workflows: Iterable[Workflow]) -> set[str]:
    return {wf.webhook.source for wf in workflows if wf.webhook is not None}


def match_workflows(workflows: Iterable[Workflow], source: str, event_type: str) -> list[Workflow]:
    return [wf for wf in workflows if wf.matches(source, event_type)]
