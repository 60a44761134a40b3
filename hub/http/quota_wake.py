"""Steps waiting for quota are parked in Redis and woken at their turn, not by a countdown.

A step that finds no slot holds a ticket in its budget's waiting room
(:mod:`hub.http.quota`). Instead of sending itself again after a countdown that guesses
when its turn comes, it parks its message next to its ticket (:meth:`QuotaWaker.park`)
and ends. A releaser (:meth:`QuotaWaker.wake_due`, run by a thread in every worker)
looks at each budget with parked steps exactly when its next slot frees (the release
script says when), or at once when a slot is given back or a step parks (a "bell"
list it blocks on): in one atomic script it takes the slots for the steps at the head
of the room, in its order (priority, then age), records them for each woken step and
hands back their messages for the caller to send; the woken step's ACQUIRE takes up
the slots recorded for it instead of asking again.

It does so a little ahead of the slots' freeing: by how long woken steps have lately
taken to come (at most 100 ms), so that the step is in a worker at its turn and waits
there for the last milliseconds, each call until its own slot frees. A caller ahead
in the room's order that asks before the woken step has come takes its slots instead,
and the woken step waits again at its place (priority stays exact).

Nothing is lost: a parked message stays in Redis until the woken step comes
(:meth:`QuotaWaker.woken`); a woken step whose attempt ends without asking for the slots
taken for it (it was done already, it waits for a concurrency place or another budget's
slot) gives them back at once, for the next step in the room. A step woken that has not
come when its slots' lease runs out (its message was lost with a dying releaser) takes
its place in the room again and is woken again. The slots granted to it count until that
lease runs out, then one window, as any call never settled. Releasers on several workers
may run at once: the script is atomic, so each message is handed to exactly one of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from hub.http.quota import BELL_KEY, BUDGETS_KEY, DUE_KEY
from hub.http.quota_claim import QuotaClaim
from hub.http.quota_scripts import GIVE_BACK_GRANTED, PARK, RELEASE

__all__ = ["QuotaWaker", "budget_keys"]

_NAMES = ("log", "room", "alive", "pause", "stats", "marks", "marked", "owners")


def budget_keys(budget: str) -> list[str]:
    """The Redis keys RELEASE reads of ``budget``: its own, then the shared ones."""
    prefix = f"hub:quota:{budget}:"
    own = [prefix + name for name in (*_NAMES, "strikes", "probe", "parked", "granted")]
    return [*own, DUE_KEY, BUDGETS_KEY, prefix + "woken"]


class QuotaWaker:
    """Parks waiting steps' messages and hands them back at their turn.

    ``lease_seconds``: how long a slot granted to a woken step counts before the step
    comes (the quota's call lease); ``keep_seconds``: how long a parked message keeps its
    place (at least the longest a backlog may take to drain).
    """

    def __init__(self, redis: Any, *, lease_seconds: float = 120.0, keep_seconds: float = 86400):
        self._redis = redis
        self._lease_ms = max(1, round(lease_seconds * 1000))
        self._keep_ms = max(1, round(keep_seconds * 1000))
        self._park = redis.register_script(PARK)
        self._release = redis.register_script(RELEASE)
        self._give_back_granted = redis.register_script(GIVE_BACK_GRANTED)

    def park(self, budget: str, ticket: str, payload: str) -> bool:
        """Keep ``payload`` (a step's message) with ``ticket`` until its turn; False when
        the ticket is no longer waiting (the caller must come back by itself)."""
        keys = budget_keys(budget)
        room, alive, parked = keys[1], keys[2], keys[10]
        args = [ticket, payload, budget, self._keep_ms]
        return bool(self._park(keys=[room, alive, parked, DUE_KEY, BELL_KEY], args=args))

    def arrived(self, quota_state: dict[str, Any]) -> None:
        """A step woken with ``quota_state`` (its claim's tickets, by budget) has come:
        its message is the broker's again, so it is no longer kept to be woken again."""
        tickets = _tickets(quota_state)
        if not tickets:
            return
        pipe = self._redis.pipeline(transaction=False)
        for budget, ticket in tickets:
            keys = budget_keys(budget)
            pipe.hdel(keys[10], ticket)
            pipe.zrem(keys[14], ticket)
        pipe.execute()

    @contextmanager
    def woken(self, quota_state: dict[str, Any] | None, claim: QuotaClaim) -> Iterator[None]:
        """The attempt of a step woken with ``quota_state`` (:meth:`arrived` first); when
        it ends, the slots taken for it in a budget it made no call to in ``claim`` are
        given back, free for the next step at once rather than after their lease."""
        tickets = _tickets(quota_state)
        if not tickets:
            yield
            return
        self.arrived(quota_state or {})
        try:
            yield
        finally:
            unasked = [(b, t) for b, t in tickets if claim.calls(b) == 0]
            if unasked:
                pipe = self._redis.pipeline(transaction=False)
                for budget, ticket in unasked:
                    keys = budget_keys(budget)
                    self._give_back_granted(
                        keys=[keys[11], keys[0], DUE_KEY, BELL_KEY],
                        args=[budget, ticket],
                        client=pipe,
                    )
                pipe.execute()

    def release(self, budget: str) -> tuple[int, list[str]]:
        """Grant the free slots of ``budget`` to its parked steps in order: the ms until
        it is due again (-1: nobody waits), and the messages to send."""
        args = [budget, self._lease_ms, self._keep_ms]
        reply = self._release(keys=budget_keys(budget), args=args)
        return int(reply[0]), [_text(p) for p in reply[1:]]

    def wake_due(self) -> list[str]:
        """Release every budget due now; the messages to send, budget by budget."""
        now_ms = self._now_ms()
        woken: list[str] = []
        for budget in self._redis.zrangebyscore(DUE_KEY, "-inf", now_ms, start=0, num=100):
            woken.extend(self.release(_text(budget))[1])
        return woken

    def wait(self, longest: float) -> None:
        """Sleep until the next budget is due, a bell rings, or ``longest`` seconds."""
        first = self._redis.zrange(DUE_KEY, 0, 0, withscores=True)
        timeout = longest
        if first:
            timeout = min(longest, max(0.0, (float(first[0][1]) - self._now_ms()) / 1000.0))
        if timeout <= 0:
            self._redis.lpop(BELL_KEY)
            return
        # BLPOP's timeout is in seconds, with millisecond precision (Redis >= 6)
        self._redis.blpop([BELL_KEY], timeout=max(0.001, timeout))

    def _now_ms(self) -> int:
        seconds, micros = self._redis.time()
        return int(seconds) * 1000 + int(micros) // 1000


def _tickets(quota_state: dict[str, Any] | None) -> list[tuple[str, str]]:
    """(budget, ticket) of each budget a claim's state waits in."""
    return [(b, s["ticket"]) for b, s in (quota_state or {}).items() if s.get("ticket")]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
