"""Reloading on real parts: queued runs finish on their revision, new events use the new one."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import pytest
import redis

from hub.core.redis_server import RedisServer
from hub.history.runs import RunStore
from tests.support.processes import HubProcesses, wait_for

pytestmark = pytest.mark.e2e

WORKFLOW = """\
name: tagged-contacts
trigger:
  webhook: {{ source: crm, event: contact.created }}
steps:
  - id: person
    uses: plutio.people.upsert
    with:
      match: {{ contactEmails.address: "{{{{ event.data.email }}}}" }}
      data:
        name: {{ first: "{{{{ event.data.first_name }}}}" }}
        contactEmails: [ {{ address: "{{{{ event.data.email }}}}" }} ]
        tags: [ {tag} ]
"""


def _event(event_id: str, first: str, email: str) -> dict[str, object]:
    return {
        "id": event_id,
        "type": "contact.created",
        "data": {"first_name": first, "email": email},
    }


def test_a_sighup_reload_routes_new_events_to_the_new_revision(
    redis_server: RedisServer, redis_client: redis.Redis, tmp_path: Path
) -> None:
    folder = tmp_path / "workflows"
    folder.mkdir()
    (folder / "tagged.yaml").write_text(WORKFLOW.format(tag="rev-one"))
    hub = HubProcesses(
        redis_url=redis_server.url, log_dir=tmp_path, workflows=folder, open_sources=("crm",)
    )
    runs = RunStore(redis_client)
    try:
        hub.start_sandbox()
        hub.start_ingress()
        # no worker yet: the first run waits in the queue while the file changes
        first = httpx.post(f"{hub.ingress_url}/hooks/crm", json=_event("e1", "Ada", "ada@x.io"))
        assert first.status_code == 202, first.text
        old = first.json()["runs"][0]["revision"]

        (folder / "tagged.yaml").write_text(WORKFLOW.format(tag="rev-two"))
        hub.procs["ingress"].send_signal(signal.SIGHUP)

        def reloaded() -> bool:
            views = httpx.get(f"{hub.ingress_url}/workflows", headers=hub.admin_headers)
            listed = views.json()["workflows"]
            return bool(listed[0]["revision"] != old)

        wait_for(reloaded, 20, "the ingress to reload")
        second = httpx.post(
            f"{hub.ingress_url}/hooks/crm", json=_event("e2", "Grace", "grace@x.io")
        )
        new = second.json()["runs"][0]["revision"]
        assert new != old

        hub.start_worker(concurrency=1)
        ids = [first.json()["runs"][0]["run_id"], second.json()["runs"][0]["run_id"]]

        def finished() -> bool:
            records = [runs.get(i) for i in ids]
            return all(r is not None and r.status != "running" for r in records)

        wait_for(finished, 45, "both runs to finish")
        people = httpx.get(f"{hub.sandbox_url}/_sandbox/state/people").json()
    except (TimeoutError, AssertionError):
        print(hub.logs())
        raise
    finally:
        hub.stop()
    records = [runs.get(i) for i in ids]
    assert [(r.status, r.revision) for r in records if r] == [
        ("succeeded", old),
        ("succeeded", new),
    ]
    tags = {p["contactEmails"][0]["address"]: p["tags"] for p in people}
    # the queued run ran after the file changed, on the revision it started with
    assert tags == {"ada@x.io": ["rev-one"], "grace@x.io": ["rev-two"]}
