"""build_poller: the poll trigger's ``with`` rendered into every page's arguments."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from celery import Celery

from hub.core.errors import ConfigError
from hub.core.settings import Settings
from hub.polling.cursors import CursorStore
from hub.polling.poll_task import build_poller
from hub.workflow.loader import load_workflow_text
from hub.workflow.model import Workflow

WORKFLOW = """
name: paid-invoices
trigger:
  poll:
    uses: plutio.invoices.poll
    with: {with_}
    cursor: updatedAt
steps:
  - id: echo
    uses: core.echo
    with: {{ value: "{{{{ event._id }}}}" }}
"""


class Pages:
    """A Plutio API that answers every page empty and keeps what it was asked."""

    def __init__(self) -> None:
        self.asked: list[dict[str, Any]] = []

    def page(self, path: str, query: Any, q: Any, *, skip: int, limit: int) -> list[Any]:
        self.asked.append({"path": path, "q": q, "skip": skip, "limit": limit})
        return []


def _workflow(with_: str) -> Workflow:
    return load_workflow_text(WORKFLOW.format(with_=with_), "paid-invoices.yaml")


def test_every_page_is_asked_with_the_rendered_with(redis_client: redis.Redis) -> None:
    wf = _workflow("{ q: { status: \"{{ 'paid' if cursor is none else 'any' }}\" }, limit: 7 }")
    api = Pages()
    poller = build_poller(
        wf,
        settings=Settings(),
        celery=Celery(),
        cursors=CursorStore(redis_client),
        api=api,
        lock=None,
    )
    assert poller.run(max_pages=3).pages == 1
    assert api.asked == [{"path": "invoices", "q": {"status": "paid"}, "skip": 0, "limit": 7}]


@pytest.mark.parametrize(
    "with_", ["{ after: { value: 1, id: x } }", "{ field: updatedAt }", "{ page: { skip: 5 } }"]
)
def test_with_may_not_set_the_position(redis_client: redis.Redis, with_: str) -> None:
    with pytest.raises(ConfigError, match="'with' must be a mapping without 'after', 'field'"):
        build_poller(
            _workflow(with_),
            settings=Settings(),
            celery=Celery(),
            cursors=CursorStore(redis_client),
            api=Pages(),
            lock=None,
        )
