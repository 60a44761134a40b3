"""Where the hub ``hub up`` runs listens, for the commands of a second terminal.

While ``hub up`` runs it keeps ``local.json`` in the data folder (``HUB_DATA_DIR``): its
Redis URL, its ingress URL, every part's address, the log folder and its own process id.
A command run without ``HUB_REDIS_URL`` in the same folder takes the Redis URL from there
(:func:`adopt_local_hub`), and ``hub send`` the ingress URL. A file whose process is gone
(``hub up`` killed outright) is not read.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

from hub.core import Settings, get_settings

__all__ = [
    "FILE_NAME",
    "LocalHub",
    "adopt_local_hub",
    "local_hub_file",
    "pid_alive",
    "read_local_hub",
    "remove_local_hub",
    "write_local_hub",
]

FILE_NAME = "local.json"


@dataclass(frozen=True)
class LocalHub:
    """What a running ``hub up`` says about itself."""

    redis_url: str
    ingress_url: str
    pid: int
    #: part -> its address (redis, ingress, flower, each sandbox)
    urls: Mapping[str, str] = field(default_factory=dict)
    #: the folder of every process's log file
    logs: str = ""


def local_hub_file(data_dir: Path) -> Path:
    """The file ``hub up`` keeps in ``data_dir`` while it runs."""
    return data_dir / FILE_NAME


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists (ours or another user's)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_local_hub(path: Path, hub: LocalHub) -> None:
    """Write ``hub`` to ``path`` whole (readable by this user only: a Redis URL may hold
    a password)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        json.dump(asdict(hub), out, indent=2)
    partial.replace(path)


def read_local_hub(path: Path, alive: Callable[[int], bool] = pid_alive) -> LocalHub | None:
    """The hub recorded at ``path``; None when there is none, it cannot be read, or its
    process is gone."""
    try:
        data = json.loads(path.read_text())
        hub = LocalHub(
            redis_url=str(data["redis_url"]),
            ingress_url=str(data["ingress_url"]),
            pid=int(data["pid"]),
            urls={str(k): str(v) for k, v in dict(data.get("urls") or {}).items()},
            logs=str(data.get("logs") or ""),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return hub if alive(hub.pid) else None


def remove_local_hub(path: Path, pid: int) -> None:
    """Remove ``path`` if it is the record of process ``pid``."""
    recorded = read_local_hub(path, alive=lambda _: True)
    if recorded is not None and recorded.pid == pid:
        path.unlink(missing_ok=True)


def adopt_local_hub(settings: Settings | None = None) -> LocalHub | None:
    """Without ``HUB_REDIS_URL``, the local hub's Redis URL stands in for it, for this
    process and what it starts (the variable is set and the settings read again); the
    hub found, or None."""
    settings = settings or get_settings()
    if settings.hub_redis_url:
        return None
    hub = read_local_hub(local_hub_file(settings.hub_data_dir))
    if hub is not None:
        os.environ["HUB_REDIS_URL"] = hub.redis_url
        get_settings.cache_clear()
    return hub
