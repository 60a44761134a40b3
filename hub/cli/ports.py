"""The ports ``hub up`` serves on, each checked before anything starts.

Every part's port comes from a setting (``HUB_INGRESS_PORT``, a sandbox's port
setting, ...). :func:`claim_ports` refuses the lot when one is in use, naming the
setting to change, so nothing starts half-way and nothing talks to another program on a
port it took for the hub's; a setting of 0 picks a free port.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from hub.core import ConfigError, free_port

__all__ = ["PortInUse", "PortSetting", "claim_ports", "port_free"]


@dataclass(frozen=True)
class PortSetting:
    """A part's port as its setting gives it (0: any free port), on ``host``."""

    part: str
    setting: str
    port: int
    host: str = "127.0.0.1"


class PortInUse(ConfigError):
    """A port a part would serve on is taken (one line per port)."""


def port_free(host: str, port: int) -> bool:
    """Whether a server could listen on ``host:port`` now (bound as servers bind, with
    ``SO_REUSEADDR``: a port left in TIME_WAIT counts as free)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _refusals(wanted: Sequence[PortSetting], free: Callable[[str, int], bool]) -> list[str]:
    lines: list[str] = []
    seen: dict[int, PortSetting] = {}
    for want in wanted:
        if not want.port:
            continue
        other = seen.setdefault(want.port, want)
        if other is not want:
            lines.append(
                f"port {want.port} is set for both {other.part} ({other.setting}) and "
                f"{want.part} ({want.setting}): give one another port (0: any free one)"
            )
        elif not free(want.host, want.port):
            lines.append(
                f"port {want.port} ({want.part}) is in use: stop what listens there, or set "
                f"{want.setting} to another port (0: any free one)"
            )
    return lines


def claim_ports(
    wanted: Sequence[PortSetting],
    *,
    free: Callable[[str, int], bool] = port_free,
    pick: Callable[[str], int] = free_port,
) -> dict[str, int]:
    """Part -> the port it serves on: its setting's, or a free one for 0.

    Raises :class:`PortInUse` (one line per port) when a port is taken or set twice.
    """
    refusals = _refusals(wanted, free)
    if refusals:
        raise PortInUse("\n".join(refusals))
    taken = {want.port for want in wanted if want.port}
    chosen: dict[str, int] = {}
    for want in wanted:
        port = want.port
        while not port or (port in taken and want.port != port):
            port = pick(want.host)
        taken.add(port)
        chosen[want.part] = port
    return chosen
