"""A hub under quota pressure for the end-to-end quota tests: workflows fed by an open
``load`` source, the Plutio sandbox, an ingress and two workers on a tight budget."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.processes import HubProcesses, quota_env

__all__ = ["LOAD_CONTACTS", "load_hub", "people_made", "post_load"]

#: one upsert per contact (a find, then a create when the find misses)
LOAD_CONTACTS = """\
name: load-contacts
priority: bulk
trigger:
  webhook: { source: load, event: contact.created }
steps:
  - id: person
    uses: plutio.people.upsert
    with:
      match: { contactEmails.address: "{{ event.data.email }}" }
      data:
        name: { first: "{{ event.data.first }}", last: "Load" }
        contactEmails: [ { address: "{{ event.data.email }}", type: work } ]
"""


@contextmanager
def load_hub(
    redis_url: str,
    folder: Path,
    workflows: Mapping[str, str],
    *,
    limit: int,
    window: float,
    concurrency: int,
) -> Iterator[HubProcesses]:
    """``workflows`` (file name: text) served from ``folder`` with the Plutio sandbox,
    an ingress and workers ``w1`` and ``w2`` of ``concurrency`` processes each, sharing
    a budget of ``limit`` calls per ``window`` seconds; all stopped on the way out."""
    written = folder / "workflows"
    written.mkdir()
    for name, text in workflows.items():
        (written / name).write_text(text)
    procs = HubProcesses(
        redis_url=redis_url,
        log_dir=folder,
        workflows=written,
        extra_env=quota_env(limit, window),
        open_sources=("load",),
    )
    try:
        procs.start_sandbox()
        procs.start_ingress()
        procs.start_workers(["w1", "w2"], concurrency=concurrency)
        yield procs
    finally:
        procs.stop()


def post_load(hub: HubProcesses, count: int, event_type: str = "contact.created") -> None:
    """``count`` events to the ``load`` source (ids ``e0``..., people ``p0``...), each
    answered 202."""
    with httpx.Client(base_url=hub.ingress_url, timeout=10) as ingress:
        for i in range(count):
            data = {"first": f"p{i}", "email": f"p{i}@example.com"}
            answer = ingress.post(
                "/hooks/load",
                json={"id": f"e{i}", "data": data},
                headers={"X-Event-Type": event_type},
            )
            assert answer.status_code == 202, answer.text


def people_made(hub: HubProcesses) -> int:
    """How many people the Plutio sandbox holds."""
    return len(httpx.get(f"{hub.sandbox_url}/_sandbox/state/people").json())
