"""A client on several budgets at once: a call takes a slot from every one of them.

Some upstreams limit each API client twice, e.g. a burst (100 calls in 10 seconds) and a
day (250,000 calls). A :class:`BudgetSet` is a :class:`~hub.http.quota.Quota` over one
:class:`~hub.http.quota.RedisQuota` per limit: a call is granted a slot in each, in
order; when one has none, the slots already taken for the call are given back and its
:class:`~hub.core.errors.QuotaWait` (its wait, its ticket) is raised as for one budget.
The answer settles every slot, each budget adopting what the upstream said of it
(:class:`~hub.http.ratelimit.PerBudget`), or the one observation all share.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hub.core import QuotaWait, RedisBatch
from hub.http.quota import Lease, PausedFor, RedisQuota
from hub.http.quota_claim import QuotaClaim, current_claim
from hub.http.ratelimit import Observation

__all__ = ["BudgetSet", "Leases"]


@dataclass(frozen=True)
class Leases(Lease):
    """One granted call in each budget of a :class:`BudgetSet`, in its order."""

    parts: tuple[Lease, ...] = ()


class BudgetSet:
    """Every call takes a slot from each of ``quotas`` (see the module's notes)."""

    def __init__(self, quotas: Sequence[RedisQuota]) -> None:
        if not quotas:
            raise ValueError("a budget set needs at least one budget")
        self.quotas = tuple(quotas)
        self.key = "+".join(q.budget.key for q in self.quotas)

    def acquire(self, claim: QuotaClaim | None = None) -> Lease:
        """A slot in every budget, or :class:`QuotaWait` from the first without one."""
        claim = claim or current_claim()
        taken: list[tuple[RedisQuota, Lease]] = []
        try:
            for quota in self.quotas:
                taken.append((quota, quota.acquire(claim)))
        except QuotaWait:
            for quota, lease in taken:  # not used for a call: free for others at once
                quota.release([lease.id])
            raise
        parts = tuple(lease for _, lease in taken)
        return Leases(self.key, "+".join(lease.id for lease in parts), parts)

    def give_back(self, lease: Lease) -> None:
        """The call never reached the upstream: its slot in every budget is free now."""
        if isinstance(lease, Leases):
            for quota, part in zip(self.quotas, lease.parts, strict=True):
                quota.give_back(part)

    def settle(self, lease: Lease | None, observation: Observation | None = None) -> float | None:
        """Settle every budget's slot with what the answer said of that budget; the
        longest pause any of them now holds (``None``: none)."""
        batch = RedisBatch(self.quotas[0].redis)
        paused = self.settle_in(batch, lease, observation)
        batch.send()
        return paused()

    def settle_in(
        self,
        batch: RedisBatch,
        lease: Lease | None,
        observation: Observation | None = None,
        *,
        later: bool = False,
    ) -> PausedFor:
        """:meth:`settle`, sent with ``batch``: every budget's settle in one round trip."""
        parts: Sequence[Lease | None] = (
            lease.parts if isinstance(lease, Leases) else (None,) * len(self.quotas)
        )
        answers: list[PausedFor] = []
        for quota, part in zip(self.quotas, parts, strict=True):
            seen = observation
            if observation is not None and observation.by_budget is not None:
                seen = observation.by_budget.get(quota.budget.key)
            answers.append(quota.settle_in(batch, part, seen, later=later))

        def longest() -> float | None:
            paused = [held for held in (answer() for answer in answers) if held]
            return max(paused) if paused else None

        return longest
