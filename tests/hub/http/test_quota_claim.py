from __future__ import annotations

import pytest

from hub.http.quota_claim import QuotaClaim, current_claim, priority_rank, use_claim


class Recorder:
    def __init__(self) -> None:
        self.released: list[list[str]] = []

    def release(self, lease_ids: list[str]) -> None:
        self.released.append(lease_ids)


def test_priorities_rank_interactive_first() -> None:
    assert [priority_rank(p) for p in ("interactive", "default", "bulk")] == [0, 1, 2]
    with pytest.raises(ValueError, match="unknown priority 'urgent'"):
        QuotaClaim.from_state("urgent", None)


def test_state_travels_as_json_and_comes_back() -> None:
    claim = QuotaClaim(priority="bulk")
    claim.granted("plutio:c", ["a"], Recorder())
    claim.waiting("plutio:c", "2000:x")
    state = claim.state()
    assert state == {"plutio:c": {"ticket": "2000:x", "demand": 2}}
    again = QuotaClaim.from_state("bulk", state)
    assert again.ticket("plutio:c") == "2000:x"
    assert again.cost("plutio:c", limit=10) == 2  # both calls at once next time
    assert again.cost("plutio:c", limit=1) == 1  # never more than the budget holds


def test_slots_taken_ahead_serve_later_calls_then_are_given_back() -> None:
    recorder = Recorder()
    claim = QuotaClaim.from_state("default", {"k": {"demand": 3}})
    with use_claim(claim):
        assert current_claim() is claim
        assert claim.granted("k", ["a", "a.2", "a.3"], recorder) == "a"
        assert claim.take_reserved("k") == ("a.2", 0.0)
        assert claim.cost("k", limit=10) == 1
    assert recorder.released == [["a.3"]]
    assert claim.take_reserved("k") is None


def test_outside_a_step_the_claim_takes_no_place_in_line() -> None:
    claim = current_claim()
    assert claim.priority == "default" and claim.queues is False
    assert current_claim() is not claim  # nothing carries over between calls


def test_the_declared_calls_are_asked_for_at_once_and_a_token_request_adds_one() -> None:
    claim = QuotaClaim()
    with use_claim(claim):
        claim.expect(2)
        claim.extra_call()  # a token request goes out first
        assert claim.cost("k", limit=10) == 3
        claim.granted("k", ["a", "a.2", "a.3"], Recorder())
        assert claim.take_reserved("k") == ("a.2", 0.0)
        assert claim.take_reserved("k") == ("a.3", 0.0)
        assert claim.cost("k", limit=10) == 1  # past the declared calls: one at a time
        assert claim.calls("k") == 3


def test_outside_a_step_a_token_request_takes_one_slot() -> None:
    claim = current_claim()
    claim.extra_call()  # nothing would give back a slot taken ahead
    assert claim.cost("k", limit=10) == 1
