"""``hub pause``, ``hub resume`` and ``hub paused``: operator pauses, cluster-wide.

``KIND`` is ``workflow`` (its events are accepted and its runs held; resuming starts them
in arrival order), ``source`` (its senders are answered 503 with ``Retry-After``) or
``connector`` (steps that would call it wait, holding no worker and spending no
attempt). Who paused is ``--by``, else the OS user running the command. Pausing and
resuming a workflow emit the hub events ``workflow.paused`` and ``workflow.resumed``
(:mod:`hub.history.control_alerts`).
"""

from __future__ import annotations

import getpass
import json
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from hub.cli.support import connect_redis, fail

__all__ = ["format_pauses", "pause", "paused", "resume"]

Kind = Annotated[str, typer.Argument(help="workflow, source or connector.", metavar="KIND")]
Name = Annotated[
    str, typer.Argument(help="The workflow's, source's or connector's name.", metavar="NAME")
]
By = Annotated[
    str | None, typer.Option("--by", help="Who does it (default: the OS user running this).")
]


def _kind(kind: str) -> Any:
    from hub.core import PAUSE_KINDS

    if kind not in PAUSE_KINDS:
        fail(f"KIND '{kind}': use {', '.join(PAUSE_KINDS)} (e.g. hub pause workflow NAME)")
    return kind


def _check_connector(kind: str, name: str) -> None:
    from hub.connector import connectors

    names = sorted(c.name for c in connectors())
    if kind == "connector" and name not in names:
        fail(f"no connector '{name}' (installed: {', '.join(names) or 'none'})")


def _who(by: str | None) -> str:
    if by:
        return by
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def pause(
    kind: Kind,
    name: Name,
    reason: Annotated[str, typer.Option("--reason", help="Why, shown by `hub paused`.")] = "",
    by: By = None,
) -> None:
    """Pause a workflow, source or connector for the whole cluster (`hub resume` ends it)."""
    from hub.core import PauseStore
    from hub.history import ControlAlerts

    checked = _kind(kind)
    _check_connector(kind, name)
    store = PauseStore(connect_redis(), events=ControlAlerts())
    if not store.pause(checked, name, by=_who(by), reason=reason):
        current = store.get(checked, name)
        who = f" by {current.by}" if current else ""
        typer.echo(f"{kind} {name} was paused already{who}")
        return
    typer.echo(f"{kind} {name} paused: {_effect(kind)}")


def _effect(kind: str) -> str:
    return {
        "workflow": "its events are accepted and its runs held until `hub resume`",
        "source": "its senders are answered 503 with Retry-After until `hub resume`",
        "connector": "steps that call it wait (no worker held, no attempt spent)",
    }[kind]


def resume(kind: Kind, name: Name, by: By = None) -> None:
    """End a pause; a workflow's held runs start in arrival order."""
    from hub.core import PauseStore
    from hub.history import ControlAlerts
    from hub.worker import ring_for

    checked = _kind(kind)
    store = PauseStore(connect_redis(), events=ControlAlerts(), ring=ring_for)
    released = store.resume(checked, name, by=_who(by))
    if released is None:
        fail(f"{kind} {name} is not paused (`hub paused` lists what is)", 1)
    extra = f"; {released} held run(s) released in arrival order" if kind == "workflow" else ""
    typer.echo(f"{kind} {name} resumed{extra}")


def paused(
    json_: Annotated[bool, typer.Option("--json", help="As JSON.")] = False,
) -> None:
    """What is paused: kind, name, who, why, since when, and what it holds."""
    from dataclasses import asdict

    from hub.core import PauseStore

    pauses = PauseStore(connect_redis()).paused()
    if json_:
        typer.echo(json.dumps([asdict(p) for p in pauses], indent=2))
    elif not pauses:
        typer.echo("nothing is paused")
    else:
        typer.echo(format_pauses(pauses))


def format_pauses(pauses: list[Any]) -> str:
    """One row per pause; ``held``: a workflow's held runs, a connector's waiting steps."""
    head = ["kind", "name", "by", "since (UTC)", "held", "reason"]
    rows = [head]
    for p in pauses:
        since = datetime.fromtimestamp(p.since, UTC).strftime("%Y-%m-%d %H:%M:%S")
        held = "-" if p.kind == "source" else str(p.held)
        rows.append([p.kind, p.name, p.by, since, held, p.reason])
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )
