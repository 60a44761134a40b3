"""Who is asking for quota: a step's priority, its waiting tickets and what it learned.

The step task opens a :class:`QuotaClaim` around one attempt of a step
(:func:`use_claim`); every quota the step's connector calls touch reads it through
:func:`current_claim`. Per budget a claim keeps:

- the **ticket** that holds the step's place in the budget's waiting room, carried in
  the task's kwargs so the re-scheduled task comes back to the same place;
- the **demand**: how many calls the step needed by the time it last found no quota.
  The next attempt takes that many slots at once, so a step of several calls is not
  sent back after its first call again and again while slots free one at a time;
- the calls the running operation **declares** (:meth:`QuotaClaim.expect`: an upsert's
  find and create), so its first call takes the slots of all of them at once: granted
  together or not at all, no call is made and then made again after a wait. A call
  beyond the declared ones (a token request) asks for one slot more
  (:meth:`QuotaClaim.extra_call`);
- slots taken ahead (``reserved``) and not used yet; they are given back when the claim
  closes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

__all__ = [
    "PRIORITIES",
    "Priority",
    "QuotaClaim",
    "Releaser",
    "current_claim",
    "priority_rank",
    "use_claim",
]

Priority = Literal["interactive", "default", "bulk"]
#: highest first: a waiting caller of an earlier class is served before any later one
PRIORITIES: tuple[Priority, ...] = ("interactive", "default", "bulk")


def priority_rank(priority: str) -> int:
    """0 for ``interactive``, 1 for ``default``, 2 for ``bulk``; ``ValueError`` otherwise."""
    try:
        return PRIORITIES.index(priority)
    except ValueError:
        raise ValueError(
            f"unknown priority '{priority}' (known: {', '.join(PRIORITIES)})"
        ) from None


class Releaser(Protocol):
    """Gives back slots taken ahead and never used."""

    def release(self, lease_ids: list[str]) -> None: ...


@dataclass
class _BudgetClaim:
    ticket: str | None = None
    demand: int = 1
    calls: int = 0
    reserved: list[str] = field(default_factory=list)
    #: for each slot in ``reserved``, the monotonic time before which its call must not go
    not_before: list[float] = field(default_factory=list)
    releaser: Releaser | None = None


@dataclass
class QuotaClaim:
    """One step attempt's standing with every budget it touches."""

    priority: Priority = "default"
    #: whether a caller that finds no slot takes a ticket in the waiting room (a caller
    #: that will not come back with it, outside any step, must not: it would hold a place)
    queues: bool = True
    #: the step task's id, the same on every delivery of its message: delivered again
    #: after its worker died before it kept its tickets, it takes back their places
    owner: str = ""
    budgets: dict[str, _BudgetClaim] = field(default_factory=dict)
    #: the upstream calls the running operation declares, and those it made beyond them
    expected: int = 1

    def __post_init__(self) -> None:
        priority_rank(self.priority)

    @classmethod
    def from_state(cls, priority: str, state: dict[str, Any] | None, owner: str = "") -> QuotaClaim:
        """A claim resumed from :meth:`state` (as carried in task kwargs)."""
        priority_rank(priority)
        claim = cls(priority=priority, owner=owner)  # type: ignore[arg-type]
        for key, saved in (state or {}).items():
            claim.budgets[key] = _BudgetClaim(
                ticket=saved.get("ticket") or None, demand=max(1, int(saved.get("demand", 1)))
            )
        return claim

    def state(self) -> dict[str, Any]:
        """Tickets and demand per budget, JSON-able, for the re-scheduled task."""
        return {
            key: {"ticket": b.ticket, "demand": b.demand}
            for key, b in self.budgets.items()
            if b.ticket is not None or b.demand > 1
        }

    def budget(self, key: str) -> _BudgetClaim:
        """This claim's standing with budget ``key``."""
        return self.budgets.setdefault(key, _BudgetClaim())

    def ticket(self, key: str) -> str | None:
        return self.budget(key).ticket

    def expect(self, calls: int) -> None:
        """The operation about to run declares ``calls`` upstream calls (at least one)."""
        self.expected = max(1, calls)

    def extra_call(self) -> None:
        """A call beyond those declared is about to go out (a token request): it takes a
        slot of its own, not one of theirs. Outside :func:`use_claim` nothing would give
        back slots taken ahead, so each call takes one slot there."""
        if _current.get() is self:
            self.expected += 1

    def calls(self, key: str) -> int:
        """Slots taken from budget ``key`` in this attempt so far."""
        return self.budget(key).calls

    def cost(self, key: str, limit: int) -> int:
        """Slots to ask for now: every call still to come (as declared, or as the last
        attempt learned), then one at a time past them."""
        b = self.budget(key)
        return min(limit, max(1, max(b.demand, self.expected) - b.calls))

    def granted(
        self,
        key: str,
        lease_ids: list[str],
        releaser: Releaser,
        not_before: list[float] | None = None,
    ) -> str:
        """Record slots granted; the first is used now, the rest kept for later calls
        (``not_before``: for each slot, the monotonic time its call must wait for)."""
        b = self.budget(key)
        b.calls += 1
        times = list(not_before or [])
        times += [0.0] * (len(lease_ids) - len(times))
        b.reserved.extend(lease_ids[1:])
        b.not_before.extend(times[1 : len(lease_ids)])
        b.releaser = releaser
        return lease_ids[0]

    def take_reserved(self, key: str) -> tuple[str, float] | None:
        """A slot taken ahead for budget ``key`` and the monotonic time its call must
        not go before, or ``None``."""
        b = self.budget(key)
        if not b.reserved:
            return None
        b.calls += 1
        return b.reserved.pop(0), b.not_before.pop(0)

    def put_back(self, key: str, lease_id: str, not_before: float) -> None:
        """Keep again a slot :meth:`take_reserved` handed out whose call was never made
        (its wait was interrupted), so that :meth:`close` gives it back."""
        b = self.budget(key)
        b.calls -= 1
        b.reserved.insert(0, lease_id)
        b.not_before.insert(0, not_before)

    def waiting(self, key: str, ticket: str) -> None:
        """No slot now: keep the ticket, and ask for every call made so far next time."""
        b = self.budget(key)
        b.ticket = ticket
        b.demand = max(b.demand, b.calls + 1)

    def close(self) -> None:
        """Give back every slot taken ahead and not used."""
        for b in self.budgets.values():
            if b.reserved and b.releaser is not None:
                ids, b.reserved, b.not_before = b.reserved, [], []
                b.releaser.release(ids)
            b.calls = 0


_current: ContextVar[QuotaClaim | None] = ContextVar("hub_quota_claim", default=None)


def current_claim() -> QuotaClaim:
    """The claim of the step running now; outside any step, a fresh ``default`` one that
    takes no place in waiting rooms."""
    claim = _current.get()
    return claim if claim is not None else QuotaClaim(queues=False)


@contextmanager
def use_claim(claim: QuotaClaim) -> Iterator[QuotaClaim]:
    """Make ``claim`` current for the block; give back unused slots when it ends."""
    token = _current.set(claim)
    try:
        yield claim
    finally:
        _current.reset(token)
        claim.close()
