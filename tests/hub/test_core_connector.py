from __future__ import annotations

import logging

import pytest

from hub.registry import get_operation
from hub.settings import Settings
from hub.worker.runtime import Runtime, execute_step, new_context
from hub.workflow.model import Workflow


def _workflow(steps: list[dict[str, object]]) -> Workflow:
    return Workflow.model_validate(
        {"name": "core-demo", "trigger": {"webhook": {"source": "s", "event": "e"}}, "steps": steps}
    )


def test_echo_and_log_need_no_upstream(caplog: pytest.LogCaptureFixture) -> None:
    wf = _workflow(
        [
            {"id": "shape", "uses": "core.echo", "with": {"value": {"n": "{{ event.n }}"}}},
            {"id": "note", "uses": "core.log", "with": {"message": "got {{ steps.shape.n }}"}},
        ]
    )
    runtime = Runtime(Settings(), redis=None)
    ctx = new_context(event={"n": 7}, event_id="e1", source="s", event_type="e", run_id="r1")
    with caplog.at_level(logging.INFO, logger="hub.workflow"):
        ctx = execute_step(wf, "shape", ctx, runtime)
        ctx = execute_step(wf, "note", ctx, runtime)
    assert ctx["steps"]["shape"] == {"n": 7}
    assert ctx["steps"]["note"] == {"message": "got 7"}
    assert "got 7" in caplog.text


def test_core_operations_are_registered() -> None:
    connector, op = get_operation("core.log")
    assert connector.name == "core" and op.name == "log"
