"""`hub up` checks every port before it starts anything; 0 picks a free one."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from hub.cli.ports import PortInUse, PortSetting, claim_ports, port_free
from hub.core.redis_server import free_port


@pytest.fixture
def listening() -> Iterator[int]:
    """A port some other program listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_a_listening_port_is_not_free(listening: int) -> None:
    assert not port_free("127.0.0.1", listening)
    assert not port_free("0.0.0.0", listening)  # a wildcard bind would clash too
    assert port_free("127.0.0.1", free_port())


def test_set_ports_are_kept_and_zeros_picked_apart() -> None:
    picks = iter([7001, 7002, 7002, 7003])  # 7001 is flower's, then 7002 the ingress's
    chosen = claim_ports(
        [
            PortSetting("ingress", "HUB_INGRESS_PORT", 0),
            PortSetting("flower", "HUB_FLOWER_PORT", 7001),
            PortSetting("plutio sandbox", "HUB_SANDBOX_PORT", 0),
        ],
        free=lambda host, port: True,
        pick=lambda host: next(picks),
    )
    assert chosen == {"ingress": 7002, "flower": 7001, "plutio sandbox": 7003}


def test_a_busy_port_is_refused_in_one_line_naming_its_setting(listening: int) -> None:
    wanted = [
        PortSetting("ingress", "HUB_INGRESS_PORT", listening),
        PortSetting("flower", "HUB_FLOWER_PORT", 0),
    ]
    with pytest.raises(PortInUse) as refused:
        claim_ports(wanted)
    assert str(refused.value) == (
        f"port {listening} (ingress) is in use: stop what listens there, or set "
        "HUB_INGRESS_PORT to another port (0: any free one)"
    )


def test_one_port_set_for_two_parts_is_refused() -> None:
    wanted = [
        PortSetting("ingress", "HUB_INGRESS_PORT", 7000),
        PortSetting("flower", "HUB_FLOWER_PORT", 7000),
    ]
    with pytest.raises(PortInUse, match=r"HUB_INGRESS_PORT.*HUB_FLOWER_PORT"):
        claim_ports(wanted, free=lambda host, port: True)
