"""What the runtime does around an operation call: the calls it declares reach the quota."""

from __future__ import annotations

from typing import Any

import redis
from pydantic import BaseModel

from hub.connector.declaration import AnyOperation, Connector, Operation
from hub.core.settings import ConnectorSettings, Settings
from hub.http.quota_claim import QuotaClaim, current_claim, use_claim
from hub.worker.runtime import Runtime, execute_step
from hub.workflow.context import new_context
from hub.workflow.loader import load_workflow_text


class Pages(BaseModel):
    pages: int


def test_a_step_asks_its_quota_for_the_calls_its_operation_declares(
    redis_client: redis.Redis,
) -> None:
    expected: list[int] = []

    def call(api: Any, args: Pages) -> dict[str, Any]:
        expected.append(current_claim().expected)
        return {}

    op = Operation("read", Pages, call, calls=lambda args: args.pages)
    connector: Connector[Any] = Connector(
        "t", {"read": op}, settings=ConnectorSettings, build=lambda *a, **k: None
    )

    def lookup(uses: str) -> tuple[Connector[Any], AnyOperation]:
        return connector, op

    wf = load_workflow_text(
        "name: w\ntrigger: { webhook: { source: s, event: x } }\n"
        "steps:\n  - id: read\n    uses: t.read\n    with: { pages: 3 }\n",
        "w.yaml",
        lookup=lookup,
    )
    runtime = Runtime(Settings(), redis_client, lookup=lookup, apis={"t": object()})
    ctx = new_context(event={}, event_id="e1", source="s", event_type="x", run_id="r1")
    with use_claim(QuotaClaim()):
        execute_step(wf, "read", ctx, runtime)
    assert expected == [3]
