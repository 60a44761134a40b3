from __future__ import annotations

import httpx
import pytest

from hub.http.keyauth import HeaderKeyAuth, fingerprint


def test_key_sent_in_the_named_header_of_every_request() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    auth = HeaderKeyAuth("X-API-Key", "plane_api_123")
    with httpx.Client(transport=httpx.MockTransport(handler), auth=auth) as client:
        client.get("https://plane.test/a")
        client.post("https://plane.test/b", json={})
    assert [r.headers["X-API-Key"] for r in seen] == ["plane_api_123", "plane_api_123"]


def test_repr_hides_the_key_and_empty_keys_are_refused() -> None:
    assert "plane_api_123" not in repr(HeaderKeyAuth("X-API-Key", "plane_api_123"))
    with pytest.raises(ValueError, match="needs a header name and a key"):
        HeaderKeyAuth("X-API-Key", "")


def test_fingerprint_is_short_stable_and_tells_secrets_apart() -> None:
    one = fingerprint("plane_api_123")
    assert one == fingerprint("plane_api_123") and len(one) == 16
    assert int(one, 16) >= 0 and "plane" not in one
    assert fingerprint("plane_api_124") != one
    # parts are separated, so ("ab", "c") and ("a", "bc") differ
    assert fingerprint("ab", "c") != fingerprint("a", "bc")
