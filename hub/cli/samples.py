"""``hub up --demo``: send the sample events, then show what they made in the sandboxes.

A sample file is ``{"source", "headers", "body"}`` as a sender would POST it, and may say
what it should make upstream as ``"expect": {<connector>: {<resource>: [records]}}``,
each record matched partially (as ``hub test``'s ``expect.upstream`` matches). Once every
expected record is in its sandbox (or the wait is over), each named resource is shown,
one record a line as its connector's sandbox describes it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx

from hub.connector import get_connector
from hub.core import Settings
from hub.intake import signed_delivery
from hub.sandbox import record_line
from hub.testing import mismatch

__all__ = [
    "Expected",
    "answer_line",
    "describe_with_registry",
    "expected",
    "send_samples",
    "tagged",
]

#: connector -> resource -> the records (partial) the samples should make
Expected = dict[str, dict[str, list[dict[str, Any]]]]
#: (connector, resource, record) -> one line
Describe = Callable[[str, str, Mapping[str, Any]], str]


def tagged(sample: dict[str, Any], tag: str) -> dict[str, Any]:
    """``sample`` with its event id (``X-Event-Id`` header, body ``id``) suffixed by ``tag``.

    Samples that share an id (a redelivery) still share it; a second demo run against the
    same Redis starts runs again instead of answering every event as a duplicate.
    """
    out: dict[str, Any] = json.loads(json.dumps(sample))
    headers, body = out.get("headers") or {}, out.get("body")
    if headers.get("X-Event-Id"):
        headers["X-Event-Id"] = f"{headers['X-Event-Id']}.{tag}"
    if isinstance(body, dict) and isinstance(body.get("id"), str):
        body["id"] = f"{body['id']}.{tag}"
    return out


def expected(samples: list[dict[str, Any]]) -> Expected:
    """What ``samples`` say they should make, merged."""
    wanted: Expected = {}
    for sample in samples:
        for connector, resources in (sample.get("expect") or {}).items():
            for resource, records in resources.items():
                wanted.setdefault(connector, {}).setdefault(resource, []).extend(records)
    return wanted


def describe_with_registry(connector: str, resource: str, record: Mapping[str, Any]) -> str:
    """``record`` as its connector's sandbox describes it (JSON when it has no sandbox)."""
    sandbox = get_connector(connector).sandbox
    return (sandbox.describe if sandbox else record_line)(resource, record)


def send_samples(
    folder: Path,
    ingress: str,
    sandboxes: Mapping[str, str],
    settings: Settings | None = None,
    *,
    wait: float = 30.0,
    tag: str | None = None,
    describe: Describe = describe_with_registry,
    echo: Callable[[str], None] = print,
) -> dict[str, dict[str, list[Any]]]:
    """POST every sample event in ``folder`` to ``ingress`` (signed as its source
    requires), then show the records the samples expect in ``sandboxes`` (connector ->
    base URL): connector -> resource -> every record there.

    Event ids carry ``tag`` (default: this run's time), so each demo run is new to the
    dedupe window while redeliveries within it stay duplicates.
    """
    paths = sorted(folder.glob("*.json"))
    samples = [json.loads(path.read_text()) for path in paths]
    tag = tag or time.strftime("demo%Y%m%d%H%M%S")
    echo(f"sending {len(samples)} sample events (event ids tagged .{tag})")
    for path, sample in zip(paths, samples, strict=True):
        event = tagged(sample, tag)
        body, headers = signed_delivery(
            settings or Settings(), event["source"], event["body"], event.get("headers")
        )
        response = httpx.post(
            f"{ingress}/hooks/{event['source']}", content=body, headers=headers, timeout=10
        )
        echo(f"sent {path.name}: {answer_line(response)}")
    wanted = {c: r for c, r in expected(samples).items() if c in sandboxes}
    found = _wait_for(wanted, sandboxes, wait)
    for connector, resources in found.items():
        for resource, records in resources.items():
            echo(f"\n{connector} sandbox now holds {len(records)} {resource}:")
            for record in records:
                echo(f"  {describe(connector, resource, record)}")
    return found


def answer_line(response: httpx.Response) -> str:
    """The ingress's answer in a few words: accepted and how many runs, a duplicate, or
    the status and the error."""
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        return f"{response.status_code} {response.text.strip()}"
    if response.status_code == 202:
        runs = len(answer.get("runs") or [])
        event = answer.get("event_id", "?")
        return f"202 accepted, event {event}, {runs} run{'' if runs == 1 else 's'}"
    if answer.get("duplicate"):
        return f"{response.status_code} a duplicate of event {answer.get('event_id', '?')}"
    return f"{response.status_code} {answer.get('error', response.text.strip())}"


def _wait_for(
    wanted: Expected, sandboxes: Mapping[str, str], wait: float
) -> dict[str, dict[str, list[Any]]]:
    """The state of every resource in ``wanted``, once each wanted record is there (or
    ``wait`` seconds have passed)."""
    deadline = time.monotonic() + wait
    while True:
        found = {
            connector: {
                resource: httpx.get(
                    f"{sandboxes[connector]}/_sandbox/state/{resource}", timeout=5
                ).json()
                for resource in resources
            }
            for connector, resources in wanted.items()
        }
        if _all_there(wanted, found) or time.monotonic() > deadline:
            return found
        time.sleep(0.3)


def _all_there(wanted: Expected, found: Mapping[str, Mapping[str, list[Any]]]) -> bool:
    return all(
        any(mismatch(record, actual, "") is None for actual in found[connector][resource])
        for connector, resources in wanted.items()
        for resource, records in resources.items()
        for record in records
    )
