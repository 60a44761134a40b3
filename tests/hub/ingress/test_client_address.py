"""The client address: the peer, or the hop a trusted proxy names; never spoofable."""

from __future__ import annotations

from typing import Any

import pytest

from hub.core import Settings
from hub.core.errors import ConfigError
from hub.ingress.client_address import ClientAddress, client_address_from, is_loopback
from hub.ingress.public_url import parse_networks

PROXIES = parse_networks("127.0.0.1, 10.0.0.0/8, ::1")


def _scope(peer: str, *headers: tuple[str, str]) -> dict[str, Any]:
    return {
        "client": (peer, 4711),
        "headers": [(k.lower().encode(), v.encode("latin-1")) for k, v in headers],
    }


def test_without_trusted_proxies_the_peer_is_the_client() -> None:
    scope = _scope("203.0.113.9", ("X-Forwarded-For", "198.51.100.1"))
    assert ClientAddress().of(scope) == "203.0.113.9"


def test_headers_from_an_untrusted_peer_are_ignored() -> None:
    scope = _scope("203.0.113.9", ("X-Forwarded-For", "10.0.0.5"), ("Forwarded", "for=1.2.3.4"))
    assert ClientAddress(PROXIES).of(scope) == "203.0.113.9"


def test_a_trusted_proxy_names_the_client() -> None:
    scope = _scope("127.0.0.1", ("X-Forwarded-For", "198.51.100.7"))
    assert ClientAddress(PROXIES).of(scope) == "198.51.100.7"


def test_what_a_client_wrote_left_of_the_proxy_chain_is_not_read() -> None:
    # the client sent "X-Forwarded-For: 6.6.6.6"; nginx appended its real address
    scope = _scope("127.0.0.1", ("X-Forwarded-For", "6.6.6.6, 198.51.100.7, 10.1.2.3"))
    assert ClientAddress(PROXIES).of(scope) == "198.51.100.7"


def test_several_header_lines_are_one_chain() -> None:
    scope = _scope("127.0.0.1", ("X-Forwarded-For", "6.6.6.6"), ("X-Forwarded-For", "198.51.100.7"))
    assert ClientAddress(PROXIES).of(scope) == "198.51.100.7"


@pytest.mark.parametrize(
    ("header", "client"),
    [
        ("for=192.0.2.60;proto=https;by=203.0.113.43", "192.0.2.60"),
        ('for="[2001:db8:cafe::17]:4711"', "2001:db8:cafe::17"),
        ("for=192.0.2.60:8080", "192.0.2.60"),
        ("for=6.6.6.6, for=192.0.2.61, for=10.0.0.1", "192.0.2.61"),
        ("for=unknown", "unknown"),
    ],
)
def test_forwarded_header(header: str, client: str) -> None:
    scope = _scope("::1", ("Forwarded", header), ("X-Forwarded-For", "6.6.6.6"))
    assert ClientAddress(PROXIES).of(scope) == client


def test_only_proxies_in_the_chain_leaves_the_leftmost() -> None:
    scope = _scope("127.0.0.1", ("X-Forwarded-For", "10.0.0.9, 10.0.0.8"))
    assert ClientAddress(PROXIES).of(scope) == "10.0.0.9"
    assert ClientAddress(PROXIES).of(_scope("127.0.0.1")) == "127.0.0.1"


def test_a_long_hop_is_cut() -> None:
    scope = _scope("127.0.0.1", ("X-Forwarded-For", "x" * 5000))
    assert ClientAddress(PROXIES).of(scope) == "x" * 64


def test_the_proxies_come_from_the_setting_or_it_is_refused_by_name() -> None:
    proxies = client_address_from(Settings(hub_trusted_proxies=" 127.0.0.1 ,, 10.0.0.0/8 "))
    assert proxies.trusts("10.9.8.7") and proxies.trusts("127.0.0.1")
    assert not proxies.trusts("127.0.0.2")
    with pytest.raises(ConfigError, match="HUB_TRUSTED_PROXIES: 'nginx' is not an IP address"):
        client_address_from(Settings(hub_trusted_proxies="127.0.0.1, nginx"))


def test_loopback_hosts() -> None:
    assert all(map(is_loopback, ["127.0.0.1", "::1", "localhost", "127.0.0.2"]))
    assert not any(map(is_loopback, ["0.0.0.0", "10.0.0.1", "::", "example.com"]))
