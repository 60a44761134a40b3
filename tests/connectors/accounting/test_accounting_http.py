"""The HTTP sink against the accounting sandbox: Idempotency-Key, retries, reversals."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis

from connectors.accounting.columns import Row
from connectors.accounting.http import HttpSink
from connectors.accounting.ledger import export_key, reversal_key
from connectors.accounting.sandbox import AccountingSandboxConfig, create_app
from hub.core.errors import FatalError, QuotaWait, RetryableError
from hub.http.quota import Budget, RedisQuota
from hub.sandbox.serve import serve_in_thread

T1 = "2024-01-01T00:00:00.000Z"
COLUMNS = ["invoice", "amount"]


@pytest.fixture(scope="module")
def endpoint(sandbox_mode: str) -> Iterator[str]:
    with serve_in_thread(create_app(AccountingSandboxConfig(token="s3cret"))) as url:
        yield url


@pytest.fixture
def sink(endpoint: str, redis_client: redis.Redis) -> Iterator[HttpSink]:
    httpx.post(f"{endpoint}/_sandbox/reset").raise_for_status()
    built = HttpSink(redis_client, endpoint, token="s3cret", timeout=5)
    yield built
    built.close()


def _entries(endpoint: str) -> list[dict[str, Any]]:
    answer: list[dict[str, Any]] = httpx.get(f"{endpoint}/_sandbox/state/entries").json()
    return answer


def _statuses(endpoint: str) -> list[int]:
    calls = httpx.get(f"{endpoint}/_sandbox/calls").json()["calls"]
    return [c["status"] for c in calls if c["method"] == "POST"]


def test_each_key_is_posted_once_with_its_idempotency_key(endpoint: str, sink: HttpSink) -> None:
    key = export_key("inv1", T1)
    first = sink.write("entries", key, COLUMNS, {"invoice": "INV-1", "amount": "3.00"}, {"amount"})
    again = sink.write("entries", key, COLUMNS, {"invoice": "INV-1", "amount": "3.00"}, {"amount"})
    assert first.written and not again.written and "already exported" in str(again.reason)
    assert _statuses(endpoint) == [201]
    (entry,) = _entries(endpoint)
    assert entry["_key"] == key and entry["export_key"] == key and entry["amount"] == "3.00"
    assert entry["_path"] == "entries" and "exported_at" not in entry


def test_a_failed_post_is_retriable_and_its_retry_uses_the_same_key(
    endpoint: str, sink: HttpSink
) -> None:
    httpx.post(
        f"{endpoint}/_sandbox/faults",
        json={"scripts": [{"method": "POST", "path": "/entries", "answers": [503]}]},
    ).raise_for_status()
    key = export_key("inv1", T1)
    with pytest.raises(RetryableError, match="503"):
        sink.write("entries", key, COLUMNS, {"invoice": "INV-1", "amount": "3.00"}, {"amount"})
    assert sink.write(
        "entries", key, COLUMNS, {"invoice": "INV-1", "amount": "3.00"}, set()
    ).written
    assert _statuses(endpoint) == [503, 201]
    assert [e["_key"] for e in _entries(endpoint)] == [key]


def test_a_post_whose_answer_was_lost_is_not_a_second_entry(endpoint: str, sink: HttpSink) -> None:
    key = export_key("inv1", T1)
    row: Row = {"invoice": "INV-1", "amount": "3.00"}
    sink.write("entries", key, COLUMNS, row, {"amount"})
    sink.index("entries").clear()  # as if the worker died before recording the answer
    assert sink.write("entries", key, COLUMNS, row, {"amount"}).written
    # the same key and the same body again: the endpoint answers its first answer
    assert _statuses(endpoint) == [201, 200]
    assert len(_entries(endpoint)) == 1
    assert not sink.write("entries", key, COLUMNS, row, {"amount"}).written


def test_reversal_negates_the_posted_row(endpoint: str, sink: HttpSink) -> None:
    sink.write(
        "entries", export_key("inv1", T1), COLUMNS, {"invoice": "I", "amount": "3.00"}, set()
    )
    sink.write("entries", reversal_key("inv1", T1), COLUMNS, {}, {"amount"})
    assert [(e["entry_type"], e["amount"]) for e in _entries(endpoint)] == [
        ("export", "3.00"),
        ("reversal", "-3.00"),
    ]


def test_a_refusal_is_fatal(endpoint: str, redis_client: redis.Redis) -> None:
    wrong = HttpSink(redis_client, endpoint, token="nope", timeout=5)
    with pytest.raises(FatalError, match="401"):
        wrong.write("entries", export_key("inv1", T1), COLUMNS, {"invoice": "I"}, set())


def test_the_sandbox_shows_and_seeds_the_export_folder(tmp_path: Any) -> None:
    app = create_app(AccountingSandboxConfig(export_dir=tmp_path))
    core = app.state.sandbox
    core.seed_records(
        {
            "rows": [{"_file": "invoices/a.jsonl", "export_key": "i:1", "total": "1.00"}],
            "csv_rows": [{"_file": "invoices/a.csv", "export_key": "i:1", "total": "1.00"}],
        }
    )
    dumped = core.store.dump("accounting")
    assert dumped["rows"] == [{"_file": "invoices/a.jsonl", "export_key": "i:1", "total": "1.00"}]
    assert dumped["csv_rows"] == [{"_file": "invoices/a.csv", "export_key": "i:1", "total": "1.00"}]
    core.reset()
    assert list(tmp_path.iterdir()) == [] and core.store.dump("accounting") == {}


def test_posts_take_their_slots_from_the_shared_quota(
    endpoint: str, sink: HttpSink, redis_client: redis.Redis
) -> None:
    budget = Budget("accounting:test", 1, 60)
    metered = HttpSink(
        redis_client, endpoint, token="s3cret", timeout=5, quota=RedisQuota(redis_client, budget)
    )
    row: Row = {"invoice": "I", "amount": "1.00"}
    assert metered.write("entries", export_key("inv1", T1), COLUMNS, row, set()).written
    second = export_key("inv2", T1)
    with pytest.raises(QuotaWait):  # no slot: nothing is sent, nothing recorded
        metered.write("entries", second, COLUMNS, row, set())
    assert _statuses(endpoint) == [201]
    assert sink.write("entries", second, COLUMNS, row, set()).written  # posted once it may
    assert [e["_key"] for e in _entries(endpoint)] == [export_key("inv1", T1), second]
    metered.close()


def test_an_answer_that_is_not_json_still_means_posted(redis_client: redis.Redis) -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, text="OK")

    plain = HttpSink(redis_client, "https://books.test/api", transport=httpx.MockTransport(handler))
    key = export_key("inv1", T1)
    assert plain.write("entries", key, COLUMNS, {"invoice": "I"}, set()).written
    assert not plain.write("entries", key, COLUMNS, {"invoice": "I"}, set()).written
    assert len(sent) == 1 and sent[0].headers["Idempotency-Key"] == key
    assert "Authorization" not in sent[0].headers  # no token set, none sent


def test_a_body_not_declared_json_is_refused_in_strict_mode(
    endpoint: str, sink: HttpSink, sandbox_mode: str
) -> None:
    answer = httpx.post(
        f"{endpoint}/entries",
        content=b'{"invoice": "INV-9"}',
        headers={"Authorization": "Bearer s3cret", "Idempotency-Key": "k9"},
    )
    assert answer.status_code == (415 if sandbox_mode == "strict" else 201)
