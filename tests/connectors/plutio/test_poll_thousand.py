"""The invoice poll against the strict Plutio sandbox (no ``sort``; unknown parameters are
key filters): 1,000 invoices, many sharing a timestamp, edited, created and removed while
the polls page through them, and every paid revision exported exactly once."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from hub.polling.cursors import CursorStore
from hub.polling.poller import Poller
from hub.sandbox import strict_sandboxes
from tests.connectors.plutio.conftest import Sandbox

Run = Callable[[str, dict[str, Any]], Any]
COUNT = 1000
PAGE = 50


@pytest.fixture(scope="module", autouse=True)
def sandbox_mode() -> Iterator[str]:
    """Against the strict sandbox only."""
    with strict_sandboxes():
        yield "strict"


def _invoices(rng: random.Random) -> list[dict[str, Any]]:
    records = []
    for n in range(COUNT):
        stamp = f"2024-01-01T00:00:{n % 20:02d}.000Z"  # 20 instants, 50 invoices at each
        status = "draft" if n % 10 == 0 else "paid"
        records.append({"_id": f"inv{n:04d}", "status": status, "amount": n, "updatedAt": stamp})
    rng.shuffle(records)  # stored in no time order
    return records


class Exports:
    """The export step, counting each paid revision handed on."""

    def __init__(self) -> None:
        self.revisions: dict[tuple[str, str], int] = {}

    def hand_on(self, record: dict[str, Any], event_id: str, event_type: str) -> bool:
        if record.get("status") != "paid":
            return False
        key = (record["_id"], record["updatedAt"])
        self.revisions[key] = self.revisions.get(key, 0) + 1
        return True


class Meddler:
    """Changes the upstream between pages: edits, new invoices, removed drafts."""

    def __init__(self, run: Run, rng: random.Random) -> None:
        self.run = run
        self.rng = rng
        self.pages = 0
        self.stopped = False
        self.created = 0
        self.removed: list[str] = []

    def after_page(self) -> None:
        self.pages += 1
        if self.stopped or self.pages % 3:
            return
        ids = [f"inv{self.rng.randrange(COUNT):04d}" for _ in range(5)]
        self.run("invoices.update", {"_ids": ids, "data": {"amount": self.pages}})
        drafts = [f"inv{self.rng.randrange(COUNT // 10) * 10:04d}" for _ in range(2)]
        self.run("invoices.update", {"_ids": drafts, "data": {"status": "paid"}})
        if self.pages in (6, 15):  # invoices leave: later ones move up three places
            gone = [f"inv{self.rng.randrange(COUNT // 10) * 10 + 5:04d}" for _ in range(3)]
            self.run("invoices.delete", {"_ids": gone})
            self.removed += gone
        self.created += 1
        self.run("invoices.create", {"status": "paid", "amount": 1, "name": f"new {self.pages}"})


def test_every_paid_invoice_is_exported_once_per_revision(
    sandbox: Sandbox, run: Run, redis_client: redis.Redis
) -> None:
    rng = random.Random(19)
    invoices = _invoices(rng)
    for start in range(0, COUNT, 250):
        sandbox.seed({"invoices": invoices[start : start + 250]})
    exports, meddler = Exports(), Meddler(run, rng)

    def fetch(after: dict[str, Any] | None, page: Any) -> Any:
        answer = run("invoices.poll", {"limit": PAGE, "after": after, "page": page})
        meddler.after_page()
        return answer

    poller = Poller(
        "invoice-export",
        source="plutio",
        fetch=fetch,
        hand_on=exports.hand_on,
        cursors=CursorStore(redis_client),
        overlap_seconds=0,  # no second look at what the cursor passed: the poll alone
    )
    tasks = 0
    while poller.run(max_pages=4).more:  # one poll task reads four pages, the next goes on
        tasks += 1
    assert tasks >= 5  # the first window took several tasks
    meddler.stopped = True
    # the next window reads what changed while the first was read; after it, nothing is new
    assert poller.run(max_pages=100).handed_on > 0
    assert poller.run(max_pages=100).handed_on == 0

    final = {r["_id"]: r for r in sandbox.state("invoices")}
    paid = {(i, r["updatedAt"]) for i, r in final.items() if r["status"] == "paid"}
    assert len(final) == COUNT + meddler.created - len(meddler.removed)
    assert paid <= set(exports.revisions), "a paid invoice's last revision was not exported"
    assert set(exports.revisions.values()) == {1}, "a revision was exported twice"
    edited = {i for i, _ in exports.revisions} - {i for i, _ in paid}
    assert edited <= set(meddler.removed)  # exported ids are all still there, or removed
