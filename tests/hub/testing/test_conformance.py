"""The conformance suite fails a connector that breaks its rules.

Each test takes Plutio's declaration, which passes (tests/connectors/test_conformance.py),
and breaks one thing a check is about.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
import redis

import connectors.plutio.api as plutio_api
from connectors.plutio.api import PlutioApi
from connectors.plutio.conformance import CONFORMANCE
from hub.connector.declaration import Operation
from hub.core.errors import FatalError, Throttled, UpstreamError
from hub.testing.conformance import SandboxControl, checks_for, run_check, served


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxControl]:
    with served(CONFORMANCE) as control:
        yield control


def test_a_connector_reading_everything_in_one_request_fails_paging(
    sandbox: SandboxControl, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plutio_api, "PAGE_SIZE", 1000)  # one page for everything
    with pytest.raises(AssertionError, match="1 requests for 250 records in pages of 100"):
        run_check("paging", CONFORMANCE, sandbox, redis_client)


def test_a_connector_that_swallows_upstream_errors_fails_retriable_and_fatal(
    sandbox: SandboxControl, redis_client: redis.Redis
) -> None:
    listed = CONFORMANCE.connector.operations["people.list"]

    def quiet(api: Any, args: Any) -> Any:
        try:
            return listed.call(api, args)
        except (UpstreamError, Throttled):
            return []

    operations = {
        **CONFORMANCE.connector.operations,
        "people.list": Operation("people.list", listed.input, quiet),
    }
    connector = dataclasses.replace(CONFORMANCE.connector, operations=operations)
    broken = dataclasses.replace(CONFORMANCE, connector=connector)
    for check in ("retriable 503", "throttled 429", "fatal 404", "credentials"):
        redis_client.flushdb()
        with pytest.raises(AssertionError, match="the call succeeded"):
            run_check(check, broken, sandbox, redis_client)


def test_an_error_that_shows_the_credential_fails(
    sandbox: SandboxControl, redis_client: redis.Redis
) -> None:
    def telling(base_url: str, redis: Any, *, wrong_credential: str | None = None) -> Any:
        api: PlutioApi = CONFORMANCE.api(base_url, redis, wrong_credential=wrong_credential)
        if wrong_credential is not None:

            def refuse(method: str, path: str, **options: Any) -> Any:
                raise FatalError(f"Plutio refused the secret {wrong_credential}", status=401)

            api.client.request = refuse  # type: ignore[method-assign]
        return api

    broken = dataclasses.replace(CONFORMANCE, api=telling)
    with pytest.raises(AssertionError, match="the error shows the credential"):
        run_check("credentials", broken, sandbox, redis_client)


def test_checks_follow_what_the_declaration_gives() -> None:
    bare = dataclasses.replace(CONFORMANCE, token_path=None, paging=None, round_trip=None)
    names = checks_for(bare)
    assert names[0] == "credentials" and "throttled bare 429" in names and "fatal 422" in names
    assert not {"token", "paging", "round trip", "retriable 429"} & set(names)
    assert "retriable 429" in checks_for(dataclasses.replace(CONFORMANCE, budget=False))
    assert set(checks_for(CONFORMANCE)) - set(names) == {"token", "paging", "round trip"}


def test_the_unchanged_declaration_passes_the_checks_broken_above(
    sandbox: SandboxControl, redis_client: redis.Redis
) -> None:
    for check in ("paging", "retriable 503", "throttled 429", "fatal 404", "credentials"):
        redis_client.flushdb()
        run_check(check, CONFORMANCE, sandbox, redis_client)


def test_a_connector_without_the_probe_operation_is_reported(
    sandbox: SandboxControl, redis_client: redis.Redis
) -> None:
    empty = dataclasses.replace(CONFORMANCE.connector, operations={})
    broken = dataclasses.replace(CONFORMANCE, connector=empty)
    with pytest.raises(AssertionError, match=r"plutio has no operation 'people\.list'"):
        run_check("paging", broken, sandbox, redis_client)
