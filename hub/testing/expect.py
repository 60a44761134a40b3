"""Checking a case's ``expect`` against what happened; partial matching of data.

Partial matching: a mapping matches when every key it names matches (other keys are
ignored); a list matches a list of the same length item by item; anything else matches
an equal value (``true`` never equals ``1``). Each failed check is one line saying what
was expected and what was found.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hub.history import RunRecord
from hub.sandbox import CallRecord
from hub.testing.spec import Expect

__all__ = ["Outcome", "check", "mismatch"]

_SHOWN = 120


@dataclass
class Outcome:
    """What one case's last event did, and the sandboxes after the case.

    ``status`` is the run's, or ``skipped`` / ``duplicate`` (no run, ``reason`` says
    why), ``refused`` (the ingress would refuse the delivery) or ``answered`` (a
    verification handshake; ``reason`` is the answer). ``started``: the runs all the
    case's events started.
    """

    status: str
    record: RunRecord | None = None
    steps: dict[str, Any] = field(default_factory=dict)
    error: dict[str, Any] | None = None
    delays: dict[str, list[float]] = field(default_factory=dict)
    reason: str | None = None
    state: dict[str, Mapping[str, list[dict[str, Any]]]] = field(default_factory=dict)
    calls: dict[str, Sequence[CallRecord]] = field(default_factory=dict)
    started: int = 0


def _show(value: Any) -> str:
    text = json.dumps(value, default=str, sort_keys=True)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


def _same(expected: Any, actual: Any) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    return bool(expected == actual)


def mismatch(expected: Any, actual: Any, path: str) -> str | None:
    """Why ``actual`` does not match ``expected`` partially, or None when it does."""
    if isinstance(expected, Mapping):
        if not isinstance(actual, Mapping):
            return f"{path}: expected a mapping, got {_show(actual)}"
        for key, value in expected.items():
            if key not in actual:
                keys = ", ".join(sorted(str(k) for k in actual)) or "nothing"
                return f"{path}.{key}: missing (there is: {keys})"
            found = mismatch(value, actual[key], f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return f"{path}: expected {_show(expected)}, got {_show(actual)}"
        for index, (want, got) in enumerate(zip(expected, actual, strict=True)):
            found = mismatch(want, got, f"{path}[{index}]")
            if found:
                return found
        return None
    if not _same(expected, actual):
        return f"{path}: expected {_show(expected)}, got {_show(actual)}"
    return None


def check(expect: Expect, outcome: Outcome) -> list[str]:
    """Every way ``outcome`` falls short of ``expect`` (empty: the case passes)."""
    failures: list[str] = []
    if expect.status is not None and expect.status != outcome.status:
        why = ""
        if outcome.error:
            why = f" (error in step '{outcome.error.get('step')}': {outcome.error.get('message')})"
        elif outcome.reason:
            why = f" ({outcome.reason})"
        failures.append(f"status: expected {expect.status}, got {outcome.status}{why}")
    if expect.runs is not None and expect.runs != outcome.started:
        failures.append(f"runs: expected {expect.runs} started, got {outcome.started}")
    if expect.reason is not None and expect.reason not in (outcome.reason or ""):
        failures.append(
            f"reason: expected it to contain {_show(expect.reason)}, got {_show(outcome.reason)}"
        )
    for step_id, want in expect.steps.items():
        if step_id not in outcome.steps:
            failures.append(f"steps.{step_id}: the step did not run")
            continue
        found = mismatch(want, outcome.steps[step_id], f"steps.{step_id}")
        if found:
            failures.append(found)
    if expect.error is not None:
        failures.extend(_error(expect, outcome))
    steps = outcome.record.steps if outcome.record else {}
    for step_id, attempts in expect.attempts.items():
        got = steps[step_id].attempts if step_id in steps else 0
        if got != attempts:
            failures.append(f"attempts of {step_id}: expected {attempts}, got {got}")
    for step_id, delays in expect.delays.items():
        got_delays = outcome.delays.get(step_id, [])
        if [round(d, 3) for d in got_delays] != [round(d, 3) for d in delays]:
            failures.append(f"delays of {step_id}: expected {delays}, got {got_delays}")
    for connector, resources in expect.upstream.items():
        state = outcome.state.get(connector, {})
        for resource, want_records in resources.items():
            records = list(state.get(resource, []))
            where = f"upstream {connector}.{resource}"
            count = want_records.count
            if count is not None and len(records) != count:
                failures.append(f"{where}: expected {count} record(s), found {len(records)}")
            for wanted in want_records.contains:
                if not any(mismatch(wanted, record, "") is None for record in records):
                    failures.append(f"{where}: no record matches {_show(wanted)}")
    for connector, patterns in expect.calls.items():
        calls = outcome.calls.get(connector, [])
        for pattern, count in patterns.items():
            got_count = sum(fnmatch.fnmatchcase(f"{c.method} {c.path}", pattern) for c in calls)
            if got_count != count:
                failures.append(f"calls {connector} '{pattern}': expected {count}, got {got_count}")
    return failures


def _error(expect: Expect, outcome: Outcome) -> list[str]:
    assert expect.error is not None
    error = outcome.error
    if error is None:
        return [f"error: expected an error, the run had none (status {outcome.status})"]
    failures: list[str] = []
    for name in ("step", "type", "status", "index"):
        want = getattr(expect.error, name)
        if want is not None and not _same(want, error.get(name)):
            failures.append(f"error.{name}: expected {_show(want)}, got {_show(error.get(name))}")
    message = expect.error.message
    if message is not None and message not in str(error.get("message", "")):
        failures.append(
            f"error.message: expected it to contain {_show(message)}, got "
            f"{_show(error.get('message'))}"
        )
    return failures
