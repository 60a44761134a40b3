"""A bulk replay on real parts: 500 dead letters replayed with `hub dlq replay --all`
while a live event arrives; the live run finishes before the replay does.

The replays are queued (at ``bulk`` priority, the default for ``--all``) before the
worker starts; the live event is posted to the ingress once the worker has finished
some replays. Ordering is asserted from the run records (finish order), never time.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from hub.core.redis_server import RedisServer
from hub.history.dead_letters import DeadLetterStore
from hub.history.runs import RunStore
from hub.workflow.context import new_context
from hub.workflow.loader import load_workflow
from hub.workflow.revisions import WorkflowStore
from tests.support.processes import HubProcesses, wait_for

pytestmark = pytest.mark.e2e

REPLAYS = 500

BACKFILL = """
name: backfill
trigger: { webhook: { source: crm } }
steps:
  - id: first
    uses: core.echo
    with: { n: "{{ event.n }}" }
  - id: second
    uses: core.echo
    with: { n: "{{ steps.first.n }}" }
"""

LIVE = """
name: live
trigger: { webhook: { source: shop } }
steps:
  - id: only
    uses: core.echo
    with: { order: "{{ event.order }}" }
"""


@pytest.fixture
def procs(redis_server: RedisServer, tmp_path: Path) -> Iterator[HubProcesses]:
    redis.Redis.from_url(redis_server.url).flushdb()
    folder = tmp_path / "workflows"
    folder.mkdir()
    (folder / "backfill.yaml").write_text(BACKFILL)
    (folder / "live.yaml").write_text(LIVE)
    hub = HubProcesses(
        redis_url=redis_server.url,
        log_dir=tmp_path,
        workflows=folder,
        open_sources=("crm", "shop"),
    )
    try:
        yield hub
    finally:
        hub.stop()


def _dead_letters(client: redis.Redis, folder: Path) -> list[str]:
    """``REPLAYS`` dead letters of ``backfill``, failed at its second step."""
    wf = load_workflow(folder / "backfill.yaml")
    WorkflowStore(client).publish([wf])
    letters = DeadLetterStore(client)
    ids = []
    for n in range(REPLAYS):
        run_id = f"dead{n:05d}"
        ctx = new_context(
            event={"n": n}, event_id=f"ev{n}", source="crm", event_type="x", run_id=run_id
        )
        ctx["steps"]["first"] = {"n": n}
        error = {"message": "upstream down", "type": "RetryableError", "step": "second"}
        letters.add(
            run_id=run_id,
            workflow=wf.name,
            revision=wf.revision,
            step="second",
            index=None,
            context=ctx,
            error=error,
            attempts=[{"attempt": 1, **error}],
            secrets={},
        )
        ids.append(run_id)
    return ids


def _replay_all(hub: HubProcesses) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "hub", "dlq", "replay", "--all", "--workflow", "backfill"],
        env={**hub.env(), "PATH": os.environ.get("PATH", "")},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_a_live_event_during_a_500_run_replay_finishes_before_it(
    procs: HubProcesses, redis_server: RedisServer
) -> None:
    client = redis.Redis.from_url(redis_server.url)
    dead = _dead_letters(client, procs.workflows)
    dry = _replay_all_dry(procs)
    assert dry.splitlines() == [
        f"{REPLAYS} dead letter(s) match; nothing replayed (--dry-run)",
        f"{REPLAYS:>9}  backfill",
    ]
    out = _replay_all(procs)
    assert out.endswith(f"{REPLAYS} replayed, 0 not replayed\n")
    assert out.count("at bulk priority") == REPLAYS
    assert client.llen("hub.bulk") == REPLAYS and client.llen("hub") == 0
    letters = DeadLetterStore(client)
    replay_ids = [
        letter.replayed_as
        for letter in (letters.get(i) for i in dead)
        if letter is not None and letter.replayed_as
    ]
    assert len(replay_ids) == REPLAYS
    runs = RunStore(client)

    def replays_done() -> int:
        return sum(status == "succeeded" for status in runs.statuses(replay_ids))

    procs.start_ingress()
    procs.start_worker(concurrency=2)
    wait_for(lambda: replays_done() >= 20, 120, "the replay to be under way")
    answer = httpx.post(
        f"{procs.ingress_url}/hooks/shop",
        json={"order": 1},
        headers={"X-Event-Type": "order.created", "X-Event-Id": "live-1"},
        timeout=30,
    )
    assert answer.status_code == 202, answer.text
    (live,) = [run["run_id"] for run in answer.json()["runs"]]
    done_at_arrival = replays_done()
    assert done_at_arrival < REPLAYS  # it did arrive during the replay
    wait_for(lambda: replays_done() == REPLAYS, 600, "every replay to finish", interval=0.5)
    live_record = runs.get(live)
    assert live_record is not None and live_record.status == "succeeded", procs.logs()
    records = [r for r in runs.get_many(replay_ids) if r is not None]
    assert len(records) == REPLAYS and all(r.replay_of for r in records)
    finished = sorted(r.finished_at or 0.0 for r in records)
    assert live_record.finished_at is not None
    after_live = sum(at > live_record.finished_at for at in finished)
    print(
        f"replays done when the live event arrived: {done_at_arrival}/{REPLAYS}; "
        f"replays finished after the live run: {after_live}"
    )
    # the live run jumped the queue: it did not wait for the replays queued before it
    assert live_record.finished_at < finished[-1]
    assert after_live >= (REPLAYS - done_at_arrival) // 2


def _replay_all_dry(hub: HubProcesses) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "hub", "dlq", "replay", "--all", "--dry-run"],
        env={**hub.env(), "PATH": os.environ.get("PATH", "")},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout
