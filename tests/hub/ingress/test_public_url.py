"""The URL a sender called: HUB_PUBLIC_URL, a trusted proxy's X-Forwarded-*, or as received."""

from __future__ import annotations

from typing import Any

import pytest

from hub.core.errors import ConfigError
from hub.core.settings import Settings
from hub.ingress.public_url import PublicUrl, parse_networks, public_url_from


def _scope(client: str = "10.0.0.5", **extra: Any) -> dict[str, Any]:
    return {
        "type": "http",
        "scheme": "http",
        "path": "/hooks/hubspot",
        "raw_path": b"/hooks/hubspot",
        "query_string": b"portal=7&next=a%3Ab",
        "server": ("127.0.0.1", 8000),
        "client": (client, 50123),
        **extra,
    }


FORWARDED = {
    "host": "127.0.0.1:8000",
    "x-forwarded-proto": "https",
    "x-forwarded-host": "evil.example, hooks.example.com",
    "x-forwarded-prefix": "/hub",
}


def test_as_received_without_settings_keeping_the_raw_query() -> None:
    url = PublicUrl()(_scope(), {"host": "127.0.0.1:8000"})
    assert url == "http://127.0.0.1:8000/hooks/hubspot?portal=7&next=a%3Ab"
    assert PublicUrl()(_scope(query_string=b""), {}) == "http://127.0.0.1:8000/hooks/hubspot"


def test_forwarded_headers_are_ignored_from_an_untrusted_address() -> None:
    url = PublicUrl(trusted=parse_networks("10.1.0.0/16"))(_scope(), FORWARDED)
    assert url.startswith("http://127.0.0.1:8000/hooks/hubspot")


def test_a_trusted_proxy_gives_scheme_host_and_prefix_its_own_values() -> None:
    url = PublicUrl(trusted=parse_networks("127.0.0.1, 10.0.0.0/8"))(_scope(), FORWARDED)
    assert url == "https://hooks.example.com/hub/hooks/hubspot?portal=7&next=a%3Ab"


def test_the_public_url_setting_wins() -> None:
    public = PublicUrl("https://hooks.example.com/", parse_networks("10.0.0.0/8"))
    assert public(_scope(), FORWARDED) == (
        "https://hooks.example.com/hooks/hubspot?portal=7&next=a%3Ab"
    )


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"hub_public_url": "hooks.example.com"}, "HUB_PUBLIC_URL 'hooks.example.com' is not"),
        ({"hub_public_url": "https://h.example/?a=1"}, "no query"),
        ({"hub_trusted_proxies": "10.0.0.1, proxy.local"}, "'proxy.local' is not an IP"),
    ],
)
def test_settings_that_cannot_work_are_refused_at_start(
    values: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        public_url_from(Settings(**values))  # type: ignore[arg-type]
